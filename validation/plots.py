"""Figures of kernels, spectra, studies, posteriors and training runs (matplotlib, Agg
backend). Every function returns a Figure (not saved, not closed); results list them in
``figures()`` and ``validation.save`` writes them (``_write.write_figure``: atomically)."""

from __future__ import annotations

import numpy as np

from ._tables import geometric_mean

__all__ = ["kernel_heatmap_figure", "nonlinear_study_figure", "posterior_figure",
           "spectra_figure", "system_posterior_figure", "training_drift_figure",
           "training_figure", "training_loss_figure", "width_study_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def kernel_heatmap_figure(kernel, title: str = "K*"):
    """``log10 |K|`` with block boundaries (blocks differ by many orders of magnitude).
    The bottom and left ticks are the indices of the block boundaries (a tick closer than
    6 % of the axis to the previous one is left out); the top and right ticks name the
    blocks at their centres; a block at least 12 % of both axes is labelled ``K[a, b]``
    inside, so no label sits on a tick label."""
    plt = _pyplot()
    mat = np.abs(np.asarray(kernel.matrix))
    floor = max(mat.max() * 1e-16, np.finfo(float).tiny)
    fig, ax = plt.subplots(figsize=(6.8, 5.8))
    im = ax.imshow(np.log10(np.maximum(mat, floor)), cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="log10 |K(x_i, x_j)|", pad=0.12)
    for edges, line in ((np.cumsum(kernel.row_sizes)[:-1], ax.axhline),
                        (np.cumsum(kernel.col_sizes)[:-1], ax.axvline)):
        for e in edges:
            line(e - 0.5, color="white", lw=1)
    rows = np.cumsum((0,) + kernel.row_sizes)
    cols = np.cumsum((0,) + kernel.col_sizes)
    row_mid, col_mid = (rows[:-1] + rows[1:]) / 2 - 0.5, (cols[:-1] + cols[1:]) / 2 - 0.5

    def spaced(edges):
        kept = [edges[0]]
        for e in edges[1:]:
            if e - kept[-1] >= 0.06 * edges[-1] or e == edges[-1]:
                kept = kept if e - kept[-1] >= 0.06 * edges[-1] else kept[:-1]
                kept.append(e)
        return np.array(kept)

    for set_ticks, edges in ((ax.set_yticks, spaced(rows)), (ax.set_xticks, spaced(cols))):
        set_ticks(edges - 0.5, [str(e) for e in edges])
    ax.set(xlabel="column index", ylabel="row index")
    top = ax.secondary_xaxis("top")
    top.set_xticks(col_mid, list(kernel.col_names))
    right = ax.secondary_yaxis("right")
    right.set_yticks(row_mid, list(kernel.row_names))
    box = dict(boxstyle="round,pad=0.2", facecolor="black", alpha=0.55, linewidth=0)
    big = lambda sizes, i: sizes[i] >= 0.12 * sum(sizes)  # noqa: E731
    for i, (a, y) in enumerate(zip(kernel.row_names, row_mid)):
        for j, (b, x) in enumerate(zip(kernel.col_names, col_mid)):
            if big(kernel.row_sizes, i) and big(kernel.col_sizes, j):
                ax.text(x, y, f"K[{a}, {b}]", ha="center", va="center", color="white",
                        fontsize=8, bbox=box)
    sizes = ", ".join(f"{n}: {k}" for n, k in zip(kernel.row_names, kernel.row_sizes))
    ax.set_title(f"{title} ({kernel.kind}), {mat.shape[0]}x{mat.shape[1]}; blocks {sizes}",
                 fontsize=10, pad=22)
    fig.tight_layout()
    return fig


def spectra_figure(spectra: dict, title: str = "Eigenvalues"):
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
    return fig


def _null_locator():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _loglog_panel(ax, widths, series: dict, ylabel: str, title: str = "") -> None:
    """Per label ``values: (n_widths, n_seeds)`` and ``(slope, low, high)``: every run,
    the geometric mean over seeds (what the line is fitted on), the fitted line and a
    ``width^(-1/2)`` guide. The guide is drawn first, thin and grey, below everything
    else, and twice as high as the highest series' centre: through a series' centre, a
    fitted slope of -1/2 would lie on it and hide it."""
    widths = np.asarray(widths, dtype=float)
    ref = 2 * max(np.exp(np.mean(np.log(values))) for values, _ in series.values())
    ax.plot(widths, ref * (widths / np.exp(np.mean(np.log(widths)))) ** -0.5, ":",
            color="0.45", lw=1.4, zorder=1, label="width$^{-1/2}$ guide (slope only)")
    for i, (label, (values, (slope, lo, hi))) in enumerate(series.items()):
        color = f"C{i}"
        for j in range(values.shape[1]):
            ax.scatter(widths, values[:, j], s=10, color=color, alpha=0.4, zorder=2)
        fit = "n/a" if np.isnan(slope) else f"{slope:.2f} [{lo:.2f}, {hi:.2f}]"
        ax.plot(widths, geometric_mean(values), "o", color=color, zorder=4,
                label=f"{label}: slope {fit}")
        # fitted line through the geometric mean of all runs
        c = np.mean(np.log(values)) - slope * np.mean(np.log(widths))
        ax.plot(widths, np.exp(c) * widths ** slope, "-", color=color, lw=1.8, zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel=ylabel, title=title)
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.xaxis.set_minor_locator(_null_locator())
    ax.legend(fontsize=7)


def width_study_figure(study, title: str = "Empirical NTK vs K*"):
    """Log-log ``‖K_emp - K*‖_F / ‖K*‖_F`` against width per block pair: every run, the
    mean over seeds, the fitted slope and a ``width^(-1/2)`` guide."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    _loglog_panel(ax, study.widths, {"/".join(p): (e, study.slopes[p])
                                     for p, e in study.errors.items()},
                  r"$\|K_{emp} - K^*\|_F / \|K^*\|_F$", title)
    fig.tight_layout()
    return fig


def nonlinear_study_figure(study, title: str = ""):
    """Three log-log panels, linear vs nonlinear problem: the spread of ``K(0)`` across
    seeds, the drift after training, and the residual Hessian norm, against width."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    pairs = [key for (label, key) in study.spread if label == "linear"]
    for ax, quantity, data, ylabel in (
            (axes[0], "spread", study.spread, "spread of $K(0)$ across seeds"),
            (axes[1], "drift", {k: v[:, :, -1] for k, v in study.drift.items()},
             r"$\|K(t) - K(0)\|_F / \|K(0)\|_F$ after training")):
        _loglog_panel(ax, study.widths, {
            f"{label} {'/'.join(p)}": (data[(label, p)], study.slopes[(quantity, label, p)])
            for label in ("linear", "nonlinear") for p in pairs}, ylabel, quantity)
    _loglog_panel(axes[2], study.widths, {
        f"{label} {metric}": (study.hessian[(label, metric)],
                              study.slopes[("hessian", label, metric)])
        for label in ("linear", "nonlinear") for metric in ("residual_hessian", "loss_curvature")},
        "spectral norm at initialization", "Hessians")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_drift_figure(study, title: str = ""):
    """NTK drift ``‖K(t) - K(0)‖/‖K(0)‖`` over steps (mean over seeds, one curve per width
    and block pair) with the final drift against width (log-log, fitted slope and a
    ``width^(-1/2)`` guide)."""
    plt = _pyplot()
    widths = np.asarray(study.widths, dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (pair, drift) in enumerate(study.drift.items()):
        for j, w in enumerate(study.widths):
            a1.plot(study.steps, drift[j].mean(axis=0), color=f"C{i}",
                    alpha=0.3 + 0.7 * (j + 1) / len(widths),
                    label=f"{'/'.join(pair)}" if j == len(widths) - 1 else None)
        final = drift[:, :, -1]
        slope, lo, hi = study.drift_slopes[pair]
        a2.plot(widths, final.mean(axis=1), "o-", color=f"C{i}",
                label=f"{'/'.join(pair)}: slope {slope:.2f} [{lo:.2f}, {hi:.2f}]")
    first = next(iter(study.drift.values()))[:, :, -1].mean(axis=1)
    a2.plot(widths, first[0] * (widths / widths[0]) ** -0.5, "k--", label="width$^{-1/2}$")
    a1.set(xlabel="step", ylabel=r"$\|K(t) - K(0)\|_F / \|K(0)\|_F$",
           title=f"NTK drift (darker = wider) {title}")
    a1.legend(fontsize=7)
    a2.set(xscale="log", yscale="log", xlabel="width", ylabel="final drift")
    a2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def training_loss_figure(study, title: str = ""):
    """The training loss of every width (seed 0) against the linearized infinite-width
    prediction (dashed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for j, w in enumerate(study.widths):
        ax.plot(study.steps, study.loss[j, 0], color=f"C{j}", label=f"width {w}")
        ax.plot(study.steps, study.predicted_loss[j, 0], "--", color=f"C{j}")
    ax.set(yscale="log", xlabel="step", ylabel="loss",
           title=f"loss (solid) vs exp(-K* t) prediction (dashed) {title}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def posterior_figure(problem, x_test, post, title: str = "", k: float = 3.0):
    """1-D: posterior mean ± kσ against the exact solution, and beside it ``|u - mean|``
    with ``kσ`` (+ the std's resolution) on a log scale, where a narrow band is visible.
    2-D: mean, ``|mean - exact|`` and ``kσ`` maps, the last two on one log colour scale."""
    plt = _pyplot()
    exact = problem.exact(x_test)
    err = np.abs(post.mean - exact)
    band = k * post.std + post.resolution
    tiny = np.finfo(float).tiny
    if x_test.shape[1] == 1:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.5, 4.2))
        x = x_test[:, 0]
        ax.fill_between(x, post.mean - k * post.std, post.mean + k * post.std, alpha=0.3,
                        label=f"mean ± {k:g}σ")
        ax.plot(x, post.mean, label="posterior mean")
        ax.plot(x, exact, "k--", label="exact")
        ax.set(xlabel=problem.variables[0], ylabel="u", title=title)
        ax.legend()
        ax2.semilogy(x, np.maximum(err, tiny), label="|u - mean|")
        ax2.semilogy(x, np.maximum(band, tiny), label=f"{k:g}σ + resolution")
        ax2.axhline(max(post.resolution, tiny), color="0.5", ls=":", lw=1,
                    label="σ resolution")
        covered = 100 * np.mean(err <= band)
        ax2.set(xlabel=problem.variables[0], ylabel="absolute value",
                title=f"error vs band: {covered:.0f}% covered")
        ax2.legend(fontsize=8)
    else:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        _field_maps(fig, axes, problem, x_test, post, exact, k, f"mean {title}")
    fig.tight_layout()
    return fig


def _grid(problem, x_test):
    """``values (n*n,) -> (n, n)`` image of a :meth:`Problem.grid` (rows: second variable)
    and the image extent."""
    n = int(round(np.sqrt(len(x_test))))
    return (lambda v: np.asarray(v).reshape(n, n).T), [*problem.domain[0], *problem.domain[1]]


def _field_maps(fig, axes, problem, x_test, post, exact, k: float, mean_title: str) -> None:
    """Three maps on a 2-D grid: the posterior mean, ``|mean - exact|`` and ``kσ`` (+ the
    std's resolution), the last two on one log colour scale."""
    from matplotlib.colors import LogNorm

    tiny = np.finfo(float).tiny
    err = np.abs(post.mean - exact)
    band = k * post.std + post.resolution
    grid, ext = _grid(problem, x_test)
    positive = np.concatenate([err[err > 0], band[band > 0]])
    norm = LogNorm(vmin=max(positive.min(), 1e-300), vmax=positive.max()) \
        if positive.size else None
    covered = 100 * np.mean(err <= band)
    for ax, values, name, nm in zip(
            axes, (post.mean, np.maximum(err, tiny), np.maximum(band, tiny)),
            (mean_title, "|mean - exact|", f"{k:g}σ + resolution ({covered:.0f}% covered)"),
            (None, norm, norm)):
        im = ax.imshow(grid(values), origin="lower", extent=ext, aspect="auto", norm=nm)
        fig.colorbar(im, ax=ax)
        ax.set(title=name, xlabel=problem.variables[0], ylabel=problem.variables[1])


def system_posterior_figure(problem, x_test, posteriors: dict, title: str = "",
                            k: float = 3.0):
    """First row: the first two fields' posterior means as a vector field (streamlines
    coloured by speed; e.g. the velocity) over the third field's mean (e.g. the pressure)
    when there is one, and the exact field beside it. Then one row per field: mean,
    ``|mean - exact|`` and ``kσ`` maps."""
    plt = _pyplot()
    if x_test.shape[1] != 2:
        raise ValueError(f"system posterior plots are drawn on 2-D grids; the problem has "
                         f"{x_test.shape[1]} variable(s).")
    fields = list(posteriors)
    exact = problem.exact_fields(x_test)
    fig, axes = plt.subplots(1 + len(fields), 3, figsize=(13, 3.6 * (1 + len(fields))))
    grid, ext = _grid(problem, x_test)
    n = int(round(np.sqrt(len(x_test))))
    lo, hi = np.array(problem.domain).T
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    for ax, values, name in ((axes[0, 0], [posteriors[f].mean for f in fields], "posterior mean"),
                             (axes[0, 1], list(exact.T), "exact")):
        if len(values) > 2:
            im = ax.imshow(grid(values[2]), origin="lower", extent=ext, aspect="auto",
                           cmap="coolwarm")
            fig.colorbar(im, ax=ax, label=fields[2])
        if len(values) >= 2:
            speed = np.hypot(values[0], values[1])
            ax.streamplot(xs, ys, grid(values[0]), grid(values[1]), color=grid(speed),
                          cmap="viridis", density=1.1, linewidth=0.9)
        ax.set(title=f"{name}: ({fields[0]}, {fields[1]})"
                     + (f" over {fields[2]}" if len(values) > 2 else ""),
               xlabel=problem.variables[0], ylabel=problem.variables[1], xlim=ext[:2],
               ylim=ext[2:])
    errors = {f: float(np.linalg.norm(posteriors[f].mean - exact[:, i])
                       / np.linalg.norm(exact[:, i])) for i, f in enumerate(fields)}
    axes[0, 2].bar(fields, [errors[f] for f in fields])
    axes[0, 2].set(yscale="log", ylabel="relative L2 error", title=f"errors {title}")
    for row, (i, f) in enumerate(enumerate(fields), start=1):
        _field_maps(fig, axes[row], problem, x_test, posteriors[f], exact[:, i], k,
                    f"{f}: mean (rel. L2 {errors[f]:.1e})")
    fig.tight_layout()
    return fig


def training_figure(result, title: str = ""):
    """Per-term losses, loss weights and the relative L2 error over training steps."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, values in result.losses.items():
        axes[0].semilogy(result.steps, values, label=name)
    for name, values in result.weights.items():
        axes[1].semilogy(result.steps, values, label=name)
    axes[2].semilogy(result.steps, result.errors)
    axes[0].set(xlabel="step", ylabel="mean-square term", title=f"losses {title}")
    axes[1].set(xlabel="step", ylabel="weight", title="loss weights")
    axes[2].set(xlabel="step", ylabel="relative L2 error", title="error vs exact solution")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
