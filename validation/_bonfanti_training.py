"""Bonfanti, Bruno & Cipriani (2024), training figures: Adam, L-BFGS and
Levenberg–Marquardt (LM) on Poisson (their Fig. 3a), Burgers (Fig. 4a) and the wave
equation (Figs. 5–6; Wang et al.'s ``u_tt = 4 u_xx``), and the
convection equation ``u_t + β u_x = 0`` at ``β = 100`` with periodic boundaries, LM from
scratch against LM by curriculum in ``β`` (Fig. 3b).

The paper's full text was not found (``../shared/reference.md``); the settings below are
ours and stated in each table. Budgets are equal in the sense each row states: every
optimizer gets a step budget, and the table sets the errors at **equal wall time** (each
optimizer's error at the wall time LM took, from its run lengthened to that time) beside
the errors at the end of the budgets. Wall times are measured after a warm-up run of the
same shapes, so the first-order optimizers' compiling is not in them; LM's step function
closes over the points and compiles in each run (0.1–0.3 s, counted against LM).

Rules, fixed before the paper-scale runs:

- Figs. 3a / 4a / 5–6, "LM reaches a lower error": LM's median error is below the median of
  every other optimizer at the end of its budget **and** at LM's wall time, and at least
  100x below the untrained network's (so an untrained run fails).
- Fig. 3b, "LM alone reaches the β = 100 solution": the median relative L2 error of LM
  from scratch is below 5e-2 (the untrained network's is ~1).
- Fig. 3b, curriculum: reported as the ratio of medians, curriculum / scratch, with all
  runs listed (the paper's claim: curriculum helps at large β).
"""

from __future__ import annotations

import time

import numpy as np

import ntk_pinn
from ntk_pinn import Points, Record, problems, train

from ._results import Claim, Outcome, fmt, kept_run, outside_legend
from ._wang import _ckpt

__all__ = []  # internal: reached through validation.reproduce

SOURCE = ("Bonfanti, Bruno & Cipriani, *The challenges of the nonlinear regime for "
          "physics-informed neural networks* (2024).")

OPTIMIZERS = ("adam", "lbfgs", "lm")


def _clock(params):  # a Record monitor: the wall clock at each record
    return time.perf_counter()


def _timed(net, problem, *, optimizer: str, steps: int, every: int, seed: int,
           points: Points, grid: int, lr=None, params=None, checkpoint=None,
           progress: bool = False) -> dict:
    """One run's curves: ``steps``, ``error``, ``loss`` (the sum over blocks of the mean
    squares on the training points), ``seconds`` (wall clock since step 0 at each record;
    without a checkpoint) and ``train_seconds`` (training only, summed over resumed
    pieces)."""
    kwargs = {} if lr is None else {"lr": lr}
    r = train(net, problem, optimizer=optimizer, steps=steps, seed=seed, points=points,
              params=params, checkpoint=checkpoint, progress=progress,
              record=Record(every=every, grid=grid,
                            monitor=None if checkpoint is not None else _clock), **kwargs)
    out = {"steps": [int(s) for s in r.steps], "error": [float(e) for e in r.errors],
           "loss": [float(v) for v in np.sum([np.asarray(m) for m in r.losses.values()],
                                             axis=0)],
           "train_seconds": float(r.seconds)}
    if r.monitored:
        out["seconds"] = [float(t - r.monitored[0]) for t in r.monitored]
    return out, r.params


def _warm_up(net, problem, settings: dict, points: Points, grid: int) -> None:
    """Compile every optimizer's loop on these shapes (two records' worth of steps: L-BFGS
    compiles its loop again once its state has taken a step). LM's step function closes
    over the points and compiles per run (~0.1 s, left in its wall time)."""
    for name, s in settings.items():
        _timed(net, problem, optimizer=name, steps=2 * s["every"], every=s["every"], seed=0,
               points=points, grid=grid, lr=s.get("lr"))


def _error_at(run: dict, seconds: float) -> float:
    """The run's error at the last record no later than ``seconds`` of wall time."""
    t = np.asarray(run["seconds"])
    return float(np.asarray(run["error"])[max(0, int(np.searchsorted(t, seconds, "right")) - 1)])


def _compare(problem, net, settings: dict, seeds, points: Points, grid: int, work,
             tag: str, progress: bool) -> tuple[dict, dict]:
    """``(budget, equal)``: ``{optimizer: [run per seed]}`` at the step budgets, and for
    every optimizer faster than LM the same runs with their steps multiplied by
    ``k = ceil(t_LM / t)`` (``t``: median wall times), so that they get at least LM's wall
    time. All kept runs, after one warm-up."""
    warmed = []

    def kept(name: str, s: dict, seed: int, label: str) -> dict:
        ident = {"problem": problem.name, "network": repr(net), "optimizer": name,
                 "seed": seed, "points": [points.n_residual, points.n_boundary],
                 "grid": grid, **s}

        def run():
            if not warmed:
                _warm_up(net, problem, settings, points, grid)
                warmed.append(True)
            return _timed(net, problem, optimizer=name, steps=s["steps"], every=s["every"],
                          seed=seed, points=points, grid=grid, lr=s.get("lr"),
                          progress=progress)[0]

        return kept_run(work, f"{tag}_{label}_seed{seed}", ident, run)

    budget = {name: [kept(name, s, seed, name) for seed in seeds]
              for name, s in settings.items()}
    t_lm = _med([r["seconds"][-1] for r in budget["lm"]])
    equal = {}
    for name, s in settings.items():
        if name == "lm":
            continue
        k = int(np.ceil(t_lm / _med([r["seconds"][-1] for r in budget[name]])))
        equal[name] = budget[name] if k <= 1 else [
            kept(name, dict(s, steps=s["steps"] * k, every=s["every"] * k), seed,
                 f"{name}_eqtime") for seed in seeds]
    return budget, equal


def _med(values) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def _optimizer_claim(label: str, runs: dict, equal: dict, paper: str,
                     judged: bool) -> tuple[Claim, dict]:
    """The LM-is-best claim of one problem, and its summary numbers; ``equal``: the
    first-order runs given LM's wall time (:func:`_compare`)."""
    final = {o: [r["error"][-1] for r in runs[o]] for o in runs}
    walls = {o: [r["seconds"][-1] for r in runs[o]] for o in runs}
    t_lm = _med(walls["lm"])
    at_lm = {o: [_error_at(r, t_lm) for r in (runs[o] if o == "lm" else equal[o])]
             for o in runs}
    steps_at = {o: (runs if o == "lm" else equal)[o][0]["steps"][-1] for o in runs}
    untrained = _med([r["error"][0] for rs in runs.values() for r in rs])
    best_end = all(_med(final["lm"]) < _med(final[o]) for o in runs if o != "lm")
    best_time = all(_med(final["lm"]) < _med(at_lm[o]) for o in runs if o != "lm")
    ok = bool(best_end and best_time and _med(final["lm"]) < untrained / 100)

    def cell(o):
        v = np.asarray(final[o])
        return (f"{o}: {fmt(np.median(v), 2)} ± {fmt(np.std(v, ddof=1) if len(v) > 1 else 0, 1)}"
                f" in {runs[o][0]['steps'][-1]} steps, {_med(walls[o]):.1f} s; at {t_lm:.1f} s "
                f"(of {steps_at[o]} steps): {fmt(_med(at_lm[o]), 2)}")

    claim = Claim(f"{label}: LM reaches a lower error than Adam and L-BFGS", paper,
                  "; ".join(cell(o) for o in runs), ok if judged else None,
                  f"median ± sd over {len(runs['lm'])} runs; untrained {fmt(untrained, 2)}; "
                  "agrees = LM's median below the others' at the end of their budgets and at "
                  "LM's wall time (their runs lengthened to it), and 100x below the untrained "
                  "error")
    return claim, {"final": final, "wall_seconds": walls, "at_lm_seconds": at_lm,
                   "lm_seconds": t_lm, "untrained": untrained}


def _curves_figure(panels: dict, equal: dict):
    """One panel per problem: relative L2 against wall time, a line per run (first-order
    optimizers: their runs lengthened to LM's wall time)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, -(-len(panels) // 2), figsize=(11, 7.6), squeeze=False)
    for ax, (title, runs) in zip(axes.T.ravel(), panels.items()):
        for i, o in enumerate(runs):
            rs = runs[o] if o == "lm" else equal[title][o]
            for j, r in enumerate(rs):
                ax.plot(np.maximum(r["seconds"], 1e-2), r["error"], color=f"C{i}", lw=1,
                        alpha=0.7, label=o if j == 0 else None)
        ax.set(xscale="log", yscale="log", xlabel="wall time (s)",
               ylabel="relative L2 error", title=title)
        outside_legend(ax)
    fig.tight_layout()
    return fig


def bonfanti_optimizers(scale: str, work, progress: bool) -> Outcome:
    """Fig. 3a (Poisson, linear and nonlinear), Fig. 4a (Burgers), Figs. 5–6 (wave)."""
    c = {"paper": dict(seeds=tuple(range(10)), poisson=(10000, 2000, 300),
                       burgers_seeds=(0, 1, 2), burgers=(20000, 5000, 500),
                       wave=(20000, 5000, 1000)),
         "quick": dict(seeds=(0, 1, 2), poisson=(4000, 1000, 160), burgers_seeds=(0,),
                       burgers=(4000, 1000, 100), wave=(4000, 1000, 100)),
         "tiny": dict(seeds=(0,), poisson=(100, 20, 10), burgers_seeds=(0,),
                      burgers=(40, 20, 4), wave=(40, 20, 4))}[scale]
    judged = scale == "paper"

    def settings(steps):
        adam, lbfgs, lm = steps
        return {"adam": dict(steps=adam, every=adam // 20, lr=1e-3),
                "lbfgs": dict(steps=lbfgs, every=lbfgs // 20),
                "lm": dict(steps=lm, every=max(1, lm // 20))}

    poisson_net = ntk_pinn.mlp(32, 2, "tanh")
    nonlinear = problems.nonlinear_poisson_1d(2.0, -1.0)
    runs, equal, claims, summary = {}, {}, [], {}
    for label, prob in (("Poisson u_xx = f", nonlinear.linear()),
                        ("nonlinear Poisson u_xx - u³ = f", nonlinear)):
        runs[label], equal[label] = _compare(
            prob, poisson_net, settings(c["poisson"]), c["seeds"],
            Points(n_residual=64, n_boundary=2), 512, work,
            "poisson" if prob.is_linear else "nonlinear", progress)
        claim, summary[label] = _optimizer_claim(label, runs[label], equal[label], "LM best "
                                                 "(Fig. 3a, 10 runs, median ± sd)", judged)
        claims.append(claim)
    burgers_net = ntk_pinn.mlp(20, 4, "tanh")
    burgers = problems.burgers_1d()
    label = "Burgers (ν = 0.01/π)"
    runs[label], equal[label] = _compare(
        burgers, burgers_net, settings(c["burgers"]), c["burgers_seeds"],
        Points(n_residual=500, n_boundary=50), 128, work, "burgers", progress)
    claim, summary[label] = _optimizer_claim(label, runs[label], equal[label], "LM lower "
                                             "error for the wall time (Fig. 4a)", judged)
    claims.append(claim)
    wave = problems.wave_1d()
    wave_net = ntk_pinn.mlp(32, 3, "tanh").standardized(wave.residual.sampler(
        np.random.default_rng(0), 10000))
    label = "wave u_tt = 4 u_xx"
    runs[label], equal[label] = _compare(
        wave, wave_net, settings(c["wave"]), c["burgers_seeds"],
        Points(n_residual=300, n_boundary=100), 128, work, "wave", progress)
    claim, summary[label] = _optimizer_claim(label, runs[label], equal[label], "LM best "
                                             "(Figs. 5–6)", judged)
    claims.append(claim)
    settings_out = {
        "Poisson": f"{nonlinear.linear().name} and {nonlinear.name}; 64 residual + 2 "
                   "boundary points; tanh, depth 2, width 32; float64",
        "Burgers": f"{burgers.name}; 500 residual + 50 initial + 50 boundary points; "
                   "tanh, depth 4, width 20; error on a 128 x 128 grid (Cole–Hopf)",
        "wave": f"{wave.name} (Wang et al.'s); 300 residual + 3 x 100 initial/boundary "
                "points; tanh, depth 3, width 32, standardized inputs",
        "budgets (steps: adam / lbfgs / lm)": {"Poisson": c["poisson"],
                                               "Burgers": c["burgers"], "wave": c["wave"]},
        "optimizers": "Adam lr 1e-3 (optax defaults otherwise); L-BFGS (optax, line "
                      "search); LM: damped Gauss–Newton through the NTK, one trial per step",
        "seeds": {"Poisson": list(c["seeds"]), "Burgers and wave": list(c["burgers_seeds"])},
        "wall time": "after a warm-up run of the same shapes (Adam and L-BFGS compile "
                     "nothing; LM compiles its step, 0.1-0.3 s per run, counted against it); "
                     "1 CPU core per run when pinned"}
    return Outcome(settings_out, tuple(claims), {"runs": runs, "equal_time_runs": equal,
                                                 "summary": summary},
                   {"optimizers": lambda: _curves_figure(runs, equal)})


# --------------------------------------------------------------------- Fig. 3b

CURRICULUM = (1.0, 10.0, 30.0, 50.0, 100.0)


def _convection_net(problem):
    """tanh, depth 3, width 32, inputs standardized by 10 000 residual samples (t spans
    [0, 1] and x [0, 2π])."""
    return ntk_pinn.mlp(32, 3, "tanh").standardized(problem.residual.sampler(
        np.random.default_rng(0), 10000))


def bonfanti_convection(scale: str, work, progress: bool) -> Outcome:
    """Fig. 3b: periodic convection at β = 100, LM from scratch vs LM by curriculum (the
    same total number of steps, split evenly over the β stages), and Adam from scratch."""
    c = {"paper": dict(seeds=(0, 1, 2, 3, 4), lm=5000, adam=20000, n=512, every=250),
         "quick": dict(seeds=(0,), lm=600, adam=4000, n=256, every=60),
         "tiny": dict(seeds=(0,), lm=10, adam=40, n=32, every=5)}[scale]
    judged = scale == "paper"
    points = Points(n_residual=c["n"], n_boundary=c["n"] // 4)
    top = problems.convection_1d(CURRICULUM[-1], boundary="periodic")
    net = _convection_net(top)
    stage_steps = c["lm"] // len(CURRICULUM)
    grid = 256 if scale != "tiny" else 32
    runs = {"lm": [], "curriculum": [], "adam": []}
    for seed in c["seeds"]:
        common = {"network": repr(net), "seed": seed, "points": [points.n_residual,
                                                                  points.n_boundary],
                  "grid": grid}
        for method, steps, lr in (("adam", c["adam"], 1e-3), ("lm", c["lm"], None)):
            ident = {"method": method, "problem": top.name, "steps": steps, **common}
            every = c["every"] if method == "lm" else steps // 20

            def run(method=method, steps=steps, lr=lr, seed=seed, every=every):
                return _timed(net, top, optimizer=method, steps=steps,
                              every=every, seed=seed, points=points, grid=grid, lr=lr,
                              checkpoint=_ckpt(work, f"{method}_seed{seed}", every),
                              progress=progress)[0]

            runs[method].append(kept_run(work, f"{method}_seed{seed}", ident, run))
        runs["curriculum"].append(_curriculum(net, seed, stage_steps, points, grid, common,
                                              work, progress))
    reduced = "" if judged else f"{scale}: {c['lm']} LM steps; no verdict"
    claims, final, untrained = _convection_claims(runs, c, stage_steps, judged, reduced)
    settings = {"problem": f"{top.name}: u(t, 0) = u(t, 2π), u(0, x) = sin x",
                "network": "tanh, depth 3, width 32, standardized inputs, float64",
                "points": f"{points.n_residual} residual + {points.n_boundary} initial + "
                          f"{points.n_boundary} periodic-boundary pairs, fixed",
                "LM": f"{c['lm']} steps from scratch; curriculum {len(CURRICULUM)} stages x "
                      f"{stage_steps} steps, each warm-started from the last",
                "Adam": f"lr 1e-3, {c['adam']} steps", "seeds": list(c["seeds"])}
    return Outcome(settings, claims, {"runs": runs, "final": final, "untrained": untrained},
                   {"convection": lambda: _convection_figure(runs)})


def _curriculum(net, seed: int, stage_steps: int, points: Points, grid: int, common: dict,
                work, progress: bool) -> dict:
    """LM through the β stages of :data:`CURRICULUM`, each warm-started from the previous
    stage's parameters (kept with its curves, so that a stage resumes from them)."""
    params, chain = None, []
    for beta in CURRICULUM:
        stage = problems.convection_1d(beta, boundary="periodic")
        name = f"curriculum_seed{seed}_beta{beta:g}"
        ident = {"method": "curriculum", "stages": list(CURRICULUM), "beta": beta,
                 "steps": stage_steps, **common}

        def run(stage=stage, params=params, name=name):
            every = max(1, stage_steps // 4)
            rec, p = _timed(net, stage, optimizer="lm", steps=stage_steps, every=every,
                            seed=seed, points=points, grid=grid, params=params,
                            checkpoint=_ckpt(work, name, every), progress=progress)
            return rec | {"params": [np.asarray(a).tolist() for a in _leaves(p)]}

        rec = kept_run(work, name, ident, run)
        params = _unleaves(net, rec["params"])
        chain.append({k: v for k, v in rec.items() if k != "params"})
    return {"stages": chain, "error": [chain[-1]["error"][-1]],
            "train_seconds": sum(s["train_seconds"] for s in chain)}


def _convection_claims(runs: dict, c: dict, stage_steps: int, judged: bool, reduced: str):
    """``(claims, final errors by method, the untrained error)`` of Fig. 3b."""
    final = {m: [r["error"][-1] for r in rs] for m, rs in runs.items()}
    untrained = _med([r["error"][0] for r in runs["lm"]])
    med = {m: _med(v) for m, v in final.items()}
    secs = {m: _med([r["train_seconds"] for r in rs]) for m, rs in runs.items()}

    def listed(m):
        return ", ".join(fmt(v, 2) for v in final[m])

    fitted = [r["loss"][-1] for r in runs["lm"] if "loss" in r]
    claims = (
        Claim("β = 100: LM alone, from scratch, reaches the solution",
              "yes, in about 5 000 iterations", f"median {fmt(med['lm'], 2)} ({listed('lm')}) "
              f"after {c['lm']} steps, {secs['lm']:.0f} s per run",
              bool(med["lm"] < 5e-2) if judged else None,
              reduced or f"agrees = median relative L2 < 5e-2; untrained {fmt(untrained, 2)}"),
        Claim("β = 100: LM by curriculum (β = " + ", ".join(f"{b:g}" for b in CURRICULUM)
              + f", {stage_steps} steps each)", "curriculum helps (5-run comparison)",
              f"median {fmt(med['curriculum'], 2)} ({listed('curriculum')}); curriculum / "
              f"scratch = {med['curriculum'] / med['lm']:.3g}", None,
              reduced or "reported, not judged: the paper's numbers are not available"),
        Claim("β = 100: LM from scratch fits its training points (loss: sum of the blocks' "
              "mean squares)", "—",
              f"median {fmt(_med(fitted), 2)} ({', '.join(fmt(v, 2) for v in fitted)}); at "
              f"step 0 {fmt(_med([r['loss'][0] for r in runs['lm'] if 'loss' in r]), 2)}"
              if fitted else "not recorded", None,
              reduced or "reported: a fitted loss with a large error means too few points "
              "for the solution, not a failed optimizer"),
        Claim("β = 100: Adam from scratch", "fails (the known convection failure)",
              f"median {fmt(med['adam'], 2)} ({listed('adam')}) after {c['adam']} steps",
              bool(med["adam"] > 0.1 * untrained) if judged else None,
              reduced or "agrees = Adam's median error above 1/10 of the untrained one"),
    )
    return claims, final, untrained


def _convection_figure(runs: dict):
    """Relative L2 against the step: LM from scratch, Adam, and the curriculum chain
    (each stage's error at its own β)."""
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(6.2, 4.0))
    for i, (m, label) in enumerate((("lm", "LM from scratch"), ("adam", "Adam"))):
        for j, r in enumerate(runs[m]):
            ax.plot(r["steps"], r["error"], color=f"C{i}", lw=1,
                    label=label if j == 0 else None)
    for j, r in enumerate(runs["curriculum"]):
        offset, xs, ys = 0, [], []
        for s in r["stages"]:
            xs += [offset + k for k in s["steps"]]
            ys += s["error"]
            offset += s["steps"][-1]
        ax.plot(xs, ys, color="C2", lw=1, label="LM curriculum (error at its β)"
                if j == 0 else None)
    ax.set(yscale="log", xlabel="step (Adam: its own steps)", ylabel="relative L2 error",
           title="convection, periodic, β = 100")
    outside_legend(ax)
    return f


def _leaves(params) -> list:
    import jax

    return jax.tree_util.tree_leaves(params)


def _unleaves(net, leaves: list):
    """Parameters of ``net`` (its tree structure) from kept leaf lists."""
    import jax

    template = net.init(jax.random.PRNGKey(0), 2)
    treedef = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(treedef, [np.asarray(v, dtype=np.asarray(t).dtype)
                                                  for v, t in zip(leaves, _leaves(template))])
