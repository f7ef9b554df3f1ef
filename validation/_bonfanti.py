"""Bonfanti, Bruno & Cipriani (2024), *The challenges of the nonlinear regime for PINNs*:
the kernel at initialization and during training vs width (linear vs nonlinear PDE), and
second-order optimizers (Levenberg–Marquardt) against Adam and L-BFGS.

No public code was found: the settings follow the paper's description
(``../shared/reference.md``); it gives claims and figures, not tables, so the "paper"
column states the claim.
"""

from __future__ import annotations

import numpy as np

import ntk_pinn
from ntk_pinn import Points, Record, empirical_kernel, problems, train

from ._results import Claim, Outcome, fmt, outside_legend

__all__ = []  # internal: reached through validation.reproduce

SOURCE = ("Bonfanti, Bruno & Cipriani, *The challenges of the nonlinear regime for "
          "physics-informed neural networks* (2024).")


def bonfanti_kernel(scale: str, work, progress: bool) -> Outcome:
    import jax

    from ._nonlinear import nonlinear_study

    widths, seeds, activation, steps = {
        "paper": ((64, 128, 256, 512, 1024, 2048), tuple(range(10)), "tanh", 200),
        "quick": ((64, 128, 256, 512, 1024), (0, 1, 2, 3), "erf", 200),
        "tiny": ((32, 64), (0, 1), "erf", 20)}[scale]
    problem = problems.nonlinear_poisson_1d(1.0, -1.0)
    net = ntk_pinn.mlp(widths[0], 2, activation)
    study = nonlinear_study(net, problem, widths, seeds, n_residual=16, n_boundary=2,
                            steps=steps, record_every=steps // 4,
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
    status = study.status()

    def row(quantity, label, key, claim_text, paper):
        s, lo, hi = study.slopes[(quantity, label, key)]
        _, st = status[(quantity, label, key)]
        return Claim(claim_text, paper, f"slope {s:.2f} [{lo:.2f}, {hi:.2f}]: {st}",
                     None if st.startswith("n/a") or st == "inconclusive" else st == "holds",
                     "log-log slope vs width, 95 % CI, one intercept per seed")

    rr = ("r", "r")
    claims = (
        Claim("spread of ‖K(0)‖₂ across runs vs width (relative sd)",
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
        row("drift", "linear", rr, "linear: ΔK_rr during training vanishes",
            "constant kernel"),
        row("drift", "nonlinear", rr, "nonlinear: ΔK_rr does not vanish like width^(-1/2)",
            "kernel drifts"),
        row("hessian", "linear", "residual_hessian", "linear: ‖∇²θ r‖ vanishes", "vanishes"),
        row("hessian", "nonlinear", "residual_hessian",
            "nonlinear: ‖∇²θ r‖ does not vanish like width^(-1/2)", "does not vanish"),
    )
    settings = {"problems": f"{problem.name} vs {problem.linear().name} (same 16 + 2 points)",
                "network": f"depth 2 {activation}, NTK parameterization", "widths": list(widths),
                "seeds": list(seeds), "training": f"{steps} GD steps, lr 0.5/‖∇²L(θ0)‖"}

    def fig_norms():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for label, v in norms.items():
            ax[0].errorbar(widths, v.mean(axis=1), v.std(axis=1), capsize=3, label=label,
                           marker="o")
            ax[1].loglog(widths, rel_sd[label], marker="o", label=label)
        ax[1].loglog(widths, rel_sd["linear"][0] * (np.array(widths) / widths[0]) ** -0.5,
                     "k:", label="width^(-1/2)")
        ax[0].set(xscale="log", yscale="log", xlabel="width", ylabel="‖K(0)‖₂ (mean ± sd)")
        ax[1].set(xlabel="width", ylabel="relative sd of ‖K(0)‖₂")
        for a in ax:
            outside_legend(a)
        return fig

    raw = {"spectral_norms": norms, "relative_sd": rel_sd, "study": study.to_json()}
    return Outcome(settings, claims, raw, {"kernel_spread": fig_norms})


def _optimizer_runs(net, problem, seeds, settings: dict) -> dict:
    """``{optimizer: {"error": [...], "seconds": [...]}}`` over ``seeds``."""
    out = {}
    for name, kwargs in settings.items():
        runs = [train(net, problem, seed=s, points=Points(n_residual=64, n_boundary=2),
                      record=Record(every=kwargs["steps"], grid=512), **kwargs)
                for s in seeds]
        out[name] = {"error": [r.error for r in runs], "seconds": [r.seconds for r in runs]}
    return out


def _convection_net(problem):
    return ntk_pinn.mlp(50, 3, "tanh").standardized(problem.residual.sampler(
        np.random.default_rng(0), 10000))


def _convection(betas, lm_steps: int, adam_steps: int, n_residual: int) -> dict:
    """Per ``β`` in ``betas`` (ascending), seed 0: LM from scratch, Adam from scratch, and
    LM by curriculum (one chain over ``betas``, each stage warm-started from the previous
    one's parameters: its error at ``β`` is the chain's stage at ``β``)."""
    common = dict(points=Points(n_residual=n_residual, n_boundary=n_residual // 4), seed=0)
    record = lambda steps: Record(every=steps, grid=10000)  # noqa: E731
    out, params, chain_seconds = {}, None, 0.0
    for i, beta in enumerate(betas):
        target = problems.convection_1d(beta)
        net = _convection_net(target)
        stage = train(net, target, optimizer="lm", steps=lm_steps, record=record(lm_steps),
                      params=params, **common)
        # The first stage starts from the initialization: it is LM from scratch too.
        lm = stage if i == 0 else train(net, target, optimizer="lm", steps=lm_steps,
                                        record=record(lm_steps), **common)
        adam = train(net, target, optimizer="adam", lr=1e-3, steps=adam_steps,
                     record=record(adam_steps), **common)
        params, chain_seconds = stage.params, chain_seconds + stage.seconds
        out[beta] = {"lm": lm.error, "lm_seconds": lm.seconds, "curriculum": stage.error,
                     "curriculum_seconds": chain_seconds, "adam": adam.error,
                     "adam_seconds": adam.seconds}
    return out


def bonfanti_optimizers(scale: str, work, progress: bool) -> Outcome:
    seeds = tuple(range({"paper": 10, "quick": 3, "tiny": 1}[scale]))
    adam_steps, lm_steps, lbfgs_steps = {"paper": (10000, 300, 2000),
                                         "quick": (4000, 150, 1000), "tiny": (100, 5, 10)}[scale]
    settings_opt = {"adam": dict(optimizer="adam", lr=1e-3, steps=adam_steps),
                    "lbfgs": dict(optimizer="lbfgs", steps=lbfgs_steps),
                    "lm": dict(optimizer="lm", steps=lm_steps)}
    net = ntk_pinn.mlp(32, 2, "tanh")
    nonlinear = problems.nonlinear_poisson_1d(2.0, -1.0)
    results = {}
    for label, prob in (("poisson", nonlinear.linear()), ("nonlinear", nonlinear)):
        results[label] = _optimizer_runs(net, prob, seeds, settings_opt)
    betas = {"paper": (1.0, 10.0, 30.0, 50.0, 100.0), "quick": (1.0, 10.0, 30.0),
             "tiny": (1.0, 10.0)}[scale]
    conv_lm, conv_adam, n_conv = {"paper": (500, 10000, 2048), "quick": (300, 4000, 512),
                                  "tiny": (5, 50, 32)}[scale]
    convection = _convection(betas, conv_lm, conv_adam, n_conv)

    def ms(v):
        v = np.asarray(v)
        return f"{fmt(np.mean(v), 2)} ± {fmt(np.std(v), 2)}"

    claims = []
    for label in results:
        r = results[label]
        better = np.mean(np.log(r["lm"]["error"])) < min(
            np.mean(np.log(r[o]["error"])) for o in ("adam", "lbfgs"))
        claims.append(Claim(
            f"{label} Poisson (a = 2): LM reaches lower error than Adam and L-BFGS",
            "LM best (figure, 10 runs)",
            "; ".join(f"{o}: {ms(r[o]['error'])} in {np.mean(r[o]['seconds']):.1f} s"
                      for o in r), bool(better),
            f"{len(seeds)} seeds; geometric mean compared"))
    top = betas[-1]
    c = convection[top]
    claims.append(Claim(
        f"convection β = {top:g}: LM with curriculum solves it",
        "LM reaches the β = 100 solution; curriculum helps",
        ", ".join(f"β={b:g}: LM {fmt(v['lm'], 2)}, curriculum {fmt(v['curriculum'], 2)}, "
                  f"Adam {fmt(v['adam'], 2)}" for b, v in convection.items()),
        bool(c["curriculum"] < 0.1), "agrees = curriculum error < 10 %; Dirichlet "
        "boundary values (exact) instead of periodic ones"))
    claims.append(Claim(
        f"convection β = {top:g}: curriculum beats training from scratch",
        "curriculum helps at large β", f"{fmt(c['curriculum'], 2)} vs {fmt(c['lm'], 2)}",
        bool(c["curriculum"] < c["lm"]), ""))
    settings = {"poisson": f"{nonlinear.linear().name} and {nonlinear.name}, 64 + 2 points, "
                           "depth 2 width 32 tanh",
                "optimizers": settings_opt,
                "seeds": list(seeds),
                "convection": f"β in {list(betas)}, {n_conv} residual + 2 x {n_conv // 4} "
                              f"points, depth 3 width 50 tanh, LM {conv_lm} steps per β, "
                              f"Adam {conv_adam} steps"}

    def fig():
        import matplotlib.pyplot as plt

        f, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, label in enumerate(results):
            for j, o in enumerate(results[label]):
                r = results[label][o]
                ax[0].scatter(r["seconds"], r["error"], marker="os"[i], color=f"C{j}",
                              label=f"{label} {o}")
        ax[0].set(xscale="log", yscale="log", xlabel="wall time (s)", ylabel="relative L2")
        for key, name in (("lm", "LM"), ("curriculum", "LM + curriculum"), ("adam", "Adam")):
            ax[1].semilogy(list(convection), [v[key] for v in convection.values()], "o-",
                           label=name)
        ax[1].set(xlabel="β", ylabel="relative L2 (convection)")
        for a in ax:
            outside_legend(a)
        return f

    return Outcome(settings, tuple(claims), {"poisson": results, "convection": convection},
                   {"optimizers": fig})
