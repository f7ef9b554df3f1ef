"""Plumbing that ``theory`` and ``validation`` need from ``ntk_pinn`` and a user rarely
does (as equinox's ``internal``): normalized kernel blocks, the memory check, the
derivative routine. Stable within this repository, not part of the user API."""

from ._blocks import Block, as_blocks, check_groups, kernel_blocks
from ._derivatives import directional, unit_directions
from ._memory import check_memory

__all__ = ["Block", "as_blocks", "check_groups", "check_memory", "directional",
           "kernel_blocks", "unit_directions"]
