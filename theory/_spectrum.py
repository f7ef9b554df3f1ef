"""Spectra of PINN kernels (the adaptive weights from their traces are
:func:`ntk_pinn.trace_weights`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ntk_pinn import BlockKernel

__all__ = ["Spectrum", "spectrum"]


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """``eigenvalues``: ``"K"`` and each block name -> eigenvalues in descending order;
    ``traces``: block name -> ``tr(K_ii)``; ``mean_rates``: block name -> ``tr(K_ii) / n_i``
    (the average rate at which that loss term decays under gradient flow);
    ``rate_discrepancy``: largest over smallest mean rate."""

    eigenvalues: dict
    traces: dict
    mean_rates: dict
    rate_discrepancy: float

    def trace_ratio(self, a: str, b: str) -> float:
        return self.traces[a] / self.traces[b]


def _square(kernel: BlockKernel) -> None:
    if not isinstance(kernel, BlockKernel) or not kernel.is_square:
        raise ValueError("expected the square BlockKernel of one set of blocks (not a cross "
                         "kernel).")


def spectrum(kernel: BlockKernel) -> Spectrum:
    """Eigenvalues of the full kernel and of each diagonal block, and trace statistics.

    Args:
      kernel: a square :class:`ntk_pinn.BlockKernel` (limiting or empirical).

    Returns:
      :class:`Spectrum`: descending eigenvalues of ``K`` and of each diagonal block, their
      traces and mean rates.
    """
    _square(kernel)
    eig = {"K": np.linalg.eigvalsh(kernel.matrix)[::-1]}
    traces, rates = {}, {}
    for name, size in zip(kernel.names, kernel.row_sizes):
        block = kernel.block(name, name)
        eig[name] = np.linalg.eigvalsh(block)[::-1]
        traces[name] = float(np.trace(block))
        rates[name] = traces[name] / size
    return Spectrum(eig, traces, rates, max(rates.values()) / min(rates.values()))

