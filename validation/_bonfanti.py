"""Bonfanti, Bruno & Cipriani (2024), *The challenges of the nonlinear regime for PINNs*:
the kernel at initialization and during training vs width (linear vs nonlinear PDE), their
Fig. 1, and a Hessian statistic that separates the regimes. The optimizer figures are in
``_bonfanti_training``.

No public code was found: the settings follow the paper's description
(``../shared/reference.md``); it gives claims and figures, not tables, so the "paper"
column states the claim.
"""

from __future__ import annotations

import numpy as np

import ntk_pinn
from ntk_pinn import empirical_kernel, problems

from ._nonlinear import nonlinear_study, plateau_status
from ._results import Claim, Outcome, fmt, outside_legend
from ._study import fit_slope

__all__ = []  # internal: reached through validation.reproduce

SOURCE = ("Bonfanti, Bruno & Cipriani, *The challenges of the nonlinear regime for "
          "physics-informed neural networks* (2024).")


def bonfanti_kernel(scale: str, work, progress: bool) -> Outcome:
    import jax

    # tanh at 0.5 and at 0.2 / ‖∇²L(θ0)‖ diverged (seed 5 at widths 64 and 1024): the
    # nonlinear loss's curvature grows during training, so the paper scale steps at
    # 0.1 / ‖∇²L(θ0)‖.
    widths, seeds, activation, steps, lr_factor = {
        "paper": ((64, 128, 256, 512, 1024, 2048), tuple(range(10)), "tanh", 200, 0.1),
        "quick": ((64, 128, 256, 512, 1024), (0, 1, 2, 3), "erf", 200, 0.5),
        "tiny": ((32, 64), (0, 1), "erf", 20, 0.5)}[scale]
    problem = problems.nonlinear_poisson_1d(1.0, -1.0)
    net = ntk_pinn.mlp(widths[0], 2, activation)
    study = nonlinear_study(net, problem, widths, seeds, n_residual=16, n_boundary=2,
                            steps=steps, record_every=steps // 4, lr_factor=lr_factor,
                            hessian_iters=200 if scale != "tiny" else 20,
                            run_dir=None if work is None else work / "study",
                            progress=progress)
    # The paper's statistic: the spectral norm of K(0) over the runs, per width.
    norms = {}
    for label, prob in (("linear", problem.linear()), ("nonlinear", problem)):
        blocks = prob.blocks(16, 2)
        norms[label] = np.array([[np.linalg.norm(empirical_kernel(
            net.with_width(w), net.with_width(w).init(jax.random.PRNGKey(s), 1),
            blocks).matrix, 2) for s in seeds] for w in widths])
    rel_sd = {k: v.std(axis=1, ddof=1) / v.mean(axis=1) for k, v in norms.items()}
    absolute = {label: study.drift_absolute[(label, ("r", "r"))][:, :, -1]
                for label in ("linear", "nonlinear")}
    claims = _kernel_claims(study, norms, absolute, widths, seeds)
    settings = {"problems": f"{problem.name} vs {problem.linear().name} (same 16 + 2 points)",
                "network": f"depth 2 {activation}, NTK parameterization", "widths": list(widths),
                "seeds": list(seeds), "training": f"{steps} GD steps, lr {lr_factor}/‖∇²L(θ0)‖"}

    raw = {"spectral_norms": norms, "relative_sd": rel_sd, "absolute_drift_rr": absolute,
           "study": study.to_json()}
    return Outcome(settings, claims, raw, {"kernel_spread": lambda: _kernel_figure(
        study, norms, rel_sd, absolute, widths, steps)})


def _kernel_claims(study, norms: dict, absolute: dict, widths, seeds) -> tuple:
    """The Fig. 1 claims, the study's slopes and the Hessian separation (module
    docstring); ``norms[label]``: ``(n_widths, n_seeds)`` ``‖K(0)‖₂``; ``absolute[label]``:
    ``(n_widths, n_seeds)`` ``‖K_rr(T) - K_rr(0)‖_F``."""
    rel_sd = {k: v.std(axis=1, ddof=1) / v.mean(axis=1) for k, v in norms.items()}
    status = study.status()

    def row(quantity, label, key, claim_text, paper):
        s, lo, hi = study.slopes[(quantity, label, key)]
        _, st = status[(quantity, label, key)]
        return Claim(claim_text, paper, f"slope {s:.2f} [{lo:.2f}, {hi:.2f}]: {st}",
                     None if st.startswith("n/a") or st == "inconclusive" else st == "holds",
                     "log-log slope vs width, 95 % CI, one intercept per seed")

    rr = ("r", "r")
    abs_slopes = {label: fit_slope(widths, np.maximum(v, 1e-300), paired=True)
                  for label, v in absolute.items()}
    tangent = {label: study.slopes[("hessian", label, "tangent_curvature")]
               for label in ("linear", "nonlinear")}
    # Fixed before the paper-scale run: the regimes separate when the linear slope's CI
    # lies below -1/4 and the nonlinear one's above it (-1/4: halfway between the
    # linear rate -1/2 and a plateau).
    separates = bool(tangent["linear"][2] < -0.25 < tangent["nonlinear"][1])

    def per_width(v):
        return ", ".join(f"{w}: {fmt(np.mean(x), 2)} ± {fmt(np.std(x, ddof=1), 1)}"
                         for w, x in zip(widths, v))

    def ci(t):
        return f"{t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}]"

    return (
        Claim("Fig. 1a: spread of ‖K(0)‖₂ across runs vs width (relative sd)",
              "vanishes (linear); stays (nonlinear)",
              "linear " + ", ".join(f"{w}: {fmt(v, 2)}" for w, v in zip(widths, rel_sd["linear"]))
              + "; nonlinear " + ", ".join(f"{w}: {fmt(v, 2)}"
                                          for w, v in zip(widths, rel_sd["nonlinear"])),
              bool(rel_sd["linear"][-1] < 0.5 * rel_sd["linear"][0]
                   and rel_sd["nonlinear"][-1] > 0.5 * rel_sd["nonlinear"][0]),
              f"{len(seeds)} runs per width; agrees = linear halves, nonlinear does not"),
        row("spread", "linear", rr, "linear: K_rr(0) spread ~ width^(-1/2)", "→ deterministic K*"),
        row("spread", "nonlinear", rr, "nonlinear: K_rr(0) spread does not vanish",
            "random at any width"),
        Claim("Fig. 1b (the paper's statistic): ΔK_rr = ‖K_rr(t) − K_rr(0)‖_F, mean ± sd",
              "falls with width (linear); does not (nonlinear)",
              f"linear {per_width(absolute['linear'])} (slope {ci(abs_slopes['linear'])}); "
              f"nonlinear {per_width(absolute['nonlinear'])} "
              f"(slope {ci(abs_slopes['nonlinear'])})",
              bool(abs_slopes["linear"][2] < 0
                   and plateau_status(*abs_slopes["nonlinear"]) == "holds"),
              "agrees = the linear slope's CI below 0 and the nonlinear one's above -1/2"),
        row("drift", "linear", rr, "linear: ΔK_rr / ‖K_rr(0)‖ during training vanishes",
            "constant kernel"),
        row("drift", "nonlinear", rr,
            "nonlinear: ΔK_rr / ‖K_rr(0)‖ does not vanish like width^(-1/2)", "kernel drifts"),
        row("hessian", "linear", "residual_hessian", "linear: ‖∇²θ r‖₂ vanishes", "vanishes"),
        row("hessian", "nonlinear", "residual_hessian",
            "nonlinear: ‖∇²θ r‖₂ does not vanish like width^(-1/2)", "does not vanish"),
        Claim("the Hessian separates the regimes: curvature along the gradient "
              "abs(ĝᵀ∇²θ r ĝ) vs width", "vanishes (linear); does not (nonlinear)",
              f"linear slope {ci(tangent['linear'])}, nonlinear {ci(tangent['nonlinear'])}",
              separates, "agrees = linear CI below -1/4 and nonlinear CI above it (fixed "
              "before the run)"),
    )


def _kernel_figure(study, norms: dict, rel_sd: dict, absolute: dict, widths, steps: int):
    """Fig. 1a (``‖K(0)‖₂`` over runs and its relative spread), Fig. 1b (``ΔK_rr``) and
    the curvature along the gradient, linear against nonlinear, against width."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(11, 7.6))
    ax = ax.ravel()
    curv = {label: study.hessian[(label, "tangent_curvature")] for label in norms}

    def quartiles(panel, data, i, label):  # log axes: median and quartiles, not mean ± sd
        q1, med, q3 = np.percentile(data, [25, 50, 75], axis=1)
        panel.errorbar(widths, med, [med - q1, q3 - med], capsize=3, marker="o",
                       color=f"C{i}", label=label)

    for i, (label, v) in enumerate(norms.items()):
        ax[1].loglog(widths, rel_sd[label], marker="o", label=label)
        for panel, data in ((ax[0], v), (ax[2], absolute[label]), (ax[3], curv[label])):
            quartiles(panel, data, i, label)
    ax[1].loglog(widths, rel_sd["linear"][0] * (np.array(widths) / widths[0]) ** -0.5,
                 "k:", label="width^(-1/2)")
    ax[0].set(xscale="log", yscale="log", xlabel="width", ylabel="‖K(0)‖₂ (median, quartiles)",
              title="Fig. 1a: K(0) over runs")
    ax[1].set(xlabel="width", ylabel="relative sd of ‖K(0)‖₂",
              title="spread of K(0) across runs")
    ax[2].set(xscale="log", yscale="log", xlabel="width",
              ylabel="‖K_rr(t) − K_rr(0)‖_F (median, quartiles)",
              title=f"Fig. 1b: ΔK_rr after {steps} GD steps")
    ax[3].set(xscale="log", yscale="log", xlabel="width",
              ylabel="|ĝᵀ ∇²θ r ĝ| at init (median, quartiles)",
              title="curvature of r along its gradient")
    for x in ax:
        outside_legend(x)
    fig.tight_layout()
    return fig
