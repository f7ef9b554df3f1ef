"""Plots of block kernels and their spectra (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_kernel_heatmap", "plot_spectra"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_kernel_heatmap(kernel, path, title: str = "K*") -> None:
    """``log10 |K|`` with block boundaries: blocks differ by many orders of magnitude."""
    plt = _pyplot()
    mat = np.abs(np.asarray(kernel.matrix))
    floor = max(mat.max() * 1e-16, np.finfo(float).tiny)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(np.log10(np.maximum(mat, floor)), cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log10 |K(x_i, x_j)|")
    for edges, line in ((np.cumsum(kernel.row_sizes)[:-1], ax.axhline),
                        (np.cumsum(kernel.col_sizes)[:-1], ax.axvline)):
        for e in edges:
            line(e - 0.5, color="white", lw=1)
    rows = np.cumsum((0,) + kernel.row_sizes)
    cols = np.cumsum((0,) + kernel.col_sizes)
    ax.set_yticks((rows[:-1] + rows[1:]) / 2 - 0.5, [f"K_{n}" for n in kernel.row_names])
    ax.set_xticks((cols[:-1] + cols[1:]) / 2 - 0.5, [f"K_{n}" for n in kernel.col_names])
    ax.set_title(f"{title} ({kernel.kind}), {mat.shape[0]}x{mat.shape[1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_spectra(spectra: dict, path, title: str = "Eigenvalues") -> None:
    """Descending eigenvalues of each named matrix on a log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, eig in spectra.items():
        eig = np.sort(np.asarray(eig))[::-1]
        # Eigenvalues below n * eps * lambda_max are round-off (K_rr spans ~16 decades):
        # they are counted in the legend, not drawn.
        floor = eig.size * np.finfo(float).eps * max(eig[0], np.finfo(float).tiny)
        shown = eig[eig > floor]
        hidden = eig.size - shown.size
        note = f", {hidden} below round-off" if hidden else ""
        ax.semilogy(np.arange(1, shown.size + 1), shown, marker="o" if eig.size < 30 else None,
                    ms=3, label=f"{name} (n={eig.size}{note})")
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue")
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
