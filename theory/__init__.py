"""The infinite-width side of ntk-pinn: the limiting PINN kernel ``K*`` and its checks."""

from ._limiting import KINDS, limiting_kernel, operator_kernel_fn
from . import symbolic

__all__ = ["KINDS", "limiting_kernel", "operator_kernel_fn", "symbolic"]
