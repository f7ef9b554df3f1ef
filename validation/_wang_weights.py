"""Wang, Yu & Perdikaris §7.2 (Figs. 4–5): fixed loss weights from the NTK's traces
fix the 1-D Poisson problem that plain weights fail.

Setting (§7.2, ``../shared/reference.md``): ``u_xx = f`` on [0, 1], ``u = sin(4πx)``;
``N_b = 100`` boundary samples (50 per end), ``N_r = 100`` equispaced collocation points;
loss ``λ_b/(2N_b) Σ|u − g|² + λ_r/(2N_r) Σ|u_xx − f|²``, ``λ_r = 1``; one hidden layer of
width 100, tanh; full-batch GD, lr 1e-5, 40 000 steps. Paper: ``λ_b = 1`` → relative L2
2.40e-01, ``λ_b = 100`` → 1.63e-03; ``λ_b = tr(K_rr(0))/tr(K_uu(0)) ≈ 100``; Fig. 5: the
error against fixed ``λ_b ∈ [1, 500]``, 10 trials each, falls fast to a minimum near 100,
then oscillates with a growing spread.

Two networks (they differ, and only one can produce the paper's numbers):

- ``text``: §7's NTK parameterization (``W h/√d_h + b``, all ``N(0, 1)``), raw inputs.
- ``notebook``: their PINNsNTK notebook's network: standard parameterization (``W ~ N(0,
  1/fan_in)``, ``b ~ N(0, 1)``), inputs standardized by the collocation points.

All runs of one network (seeds × weights) train at once: full-batch GD vmapped over the
runs (:func:`gd_runs`, tested equal to ``ntk_pinn.train``'s GD), float64.

Agreement rules (fixed before any number was seen): an error agrees when the median over
the seeds is within ``min(3, √(untrained/paper))`` of the paper's (``error_rule``: an
untrained network fails); ``λ_b`` from the traces agrees within a factor 2 of 100;
Fig. 5's shape agrees when the mean error is smallest at a ``λ_b`` in [50, 200], is at
least 10× larger at ``λ_b = 1``, and the spread (standard deviation) at ``λ_b ≥ 300`` is
above the spread at the minimum.
"""

from __future__ import annotations

import numpy as np

import ntk_pinn
from ntk_pinn import empirical_kernel, residual_vector_fn

from ._results import Claim, Outcome, error_rule, fmt, kept_run, outside_legend
from ._wang import _poisson_setting

__all__ = []  # internal: reached through validation.reproduce

SOURCE = ("Wang, Yu & Perdikaris, *When and why PINNs fail to train: a neural tangent "
          "kernel perspective* (J. Comput. Phys. 2022; arXiv 2007.14527), §7.2, Figs. 4–5.")

LR = 1e-5
SCALE = {"paper": {"steps": 40000, "seeds": 10,
                   "lambdas": (1, 5, 10, 20, 50, 75, 100, 150, 200, 300, 400, 500)},
         "quick": {"steps": 8000, "seeds": 4, "lambdas": (1, 10, 100, 500)},
         "tiny": {"steps": 50, "seeds": 2, "lambdas": (1, 100)}}
NETWORKS = ("text", "notebook")


def weights_net(which: str, data: dict):
    """The width-100 network of ``which`` (:data:`NETWORKS`)."""
    if which == "text":
        return ntk_pinn.mlp(100, 1, "tanh")
    return ntk_pinn.mlp(100, 1, "tanh", parameterization="standard").standardized(
        data["r"][1])


def gd_runs(net, data: dict, params, weights, *, lr: float, steps: int,
            record_every: int, progress: bool = False):
    """Full-batch GD of many runs at once: run ``i`` starts at ``params[i]`` (a pytree of
    stacked leaves) and minimizes ``Σ_b weights[i, b] · mean_b (B_b[u] − g)²``.

    Args:
      net: the network.
      data: ``Problem.data``: ``{name: (operator, points (n_b, d), targets (n_b,))}``.
      params: a pytree whose leaves have a leading axis of runs ``(R, ...)``.
      weights: ``(R, n_blocks)``, in ``data`` order.
      lr: the step.
      steps: GD steps (a multiple of ``record_every``).
      record_every: steps between records.
      progress: a progress bar over the steps.

    Returns:
      ``(final params (R, ...), mean squares (n_records, R, n_blocks))`` on ``data``'s
      points, recorded at steps ``0, record_every, ..., steps``.
    """
    import jax
    import jax.numpy as jnp
    from tqdm.auto import tqdm

    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every "
                         f"({record_every}).")
    res = residual_vector_fn(net, data)
    sizes = [len(x) for _, x, _ in data.values()]
    edges = np.cumsum([0] + sizes)

    def mean_squares(p):
        r = res(p)
        return jnp.stack([jnp.mean(r[a:b] ** 2) for a, b in zip(edges[:-1], edges[1:])])

    def loss(p, w):
        return jnp.dot(w, mean_squares(p))

    def chunk(p, w):
        def step(p, _):
            g = jax.grad(loss)(p, w)
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), None

        p, _ = jax.lax.scan(step, p, None, length=record_every)
        return p, mean_squares(p)

    run = jax.jit(jax.vmap(chunk))
    w = jnp.asarray(weights, jnp.float64)
    records = [np.asarray(jax.jit(jax.vmap(mean_squares))(params))]
    for _ in tqdm(range(steps // record_every), disable=not progress, desc="GD runs",
                  unit=f"x{record_every} steps"):
        params, ms = run(params, w)
        records.append(np.asarray(ms))
    return params, np.stack(records)


def _errors(net, params, prob) -> np.ndarray:
    """Relative L2 error of each run's ``u`` on 1 000 points of [0, 1]."""
    import jax

    x = prob.grid(1000)
    u = np.asarray(jax.vmap(lambda p: net.apply_fn(p, x)[:, 0])(params))
    exact = prob.exact(x)
    return np.linalg.norm(u - exact, axis=1) / np.linalg.norm(exact)


def _network_runs(which: str, c: dict, progress: bool) -> dict:
    """Every run of one network: seeds × ``λ_b``; the trace ratios at initialization."""
    import jax

    prob, data = _poisson_setting()
    net = weights_net(which, data)
    seeds, lams = np.arange(c["seeds"]), np.asarray(c["lambdas"], float)
    inits = [net.init(jax.random.PRNGKey(int(s)), 1) for s in seeds]
    ratios = []
    for p in inits:
        K = empirical_kernel(net, p, data)
        ratios.append(float(np.trace(K.block("r", "r")) / np.trace(K.block("u", "u"))))
    grid_s, grid_l = np.meshgrid(seeds, lams, indexing="ij")      # (seeds, lambdas)
    stack = jax.tree_util.tree_map(lambda *a: np.stack(a), *[inits[s] for s in grid_s.ravel()])
    # the paper's loss λ_b/(2 N_b) Σ + λ_r/(2 N_r) Σ: weights λ/2 on our mean squares
    w = np.stack([grid_l.ravel() / 2, np.full(grid_l.size, 0.5)], axis=1)
    record = max(c["steps"] // 20, 1)
    final, ms = gd_runs(net, data, stack, w, lr=LR, steps=c["steps"], record_every=record,
                        progress=progress)
    err0 = _errors(net, stack, prob).reshape(grid_s.shape)
    err = _errors(net, final, prob).reshape(grid_s.shape)
    return {"lambdas": lams, "seeds": seeds, "error": err, "error0": err0,
            "trace_ratio": np.array(ratios), "record_steps": np.arange(len(ms)) * record,
            "mean_squares": ms.reshape(len(ms), *grid_s.shape, 2)}


def _claims(which: str, r: dict, judged: bool) -> tuple:
    lams = np.asarray(r["lambdas"], float)
    err = np.asarray(r["error"], float)
    e0 = float(np.median(r["error0"]))
    tag = f"[{which}]"
    claims = []
    for lam, paper in ((1.0, 0.240), (100.0, 1.63e-3)):
        if lam not in lams:
            continue
        e = err[:, list(lams).index(lam)]
        med = float(np.nanmedian(e))
        ok, rule = error_rule(med, paper, e0)
        claims.append(Claim(f"{tag} Fig. 4: λ_b = {lam:g}, λ_r = 1: relative L2 error",
                            fmt(paper), f"median {fmt(med)} (range {fmt(np.nanmin(e))}–"
                            f"{fmt(np.nanmax(e))}, {np.sum(~np.isfinite(e))} diverged)",
                            ok if judged else None, rule + "; median over seeds"))
    tr = np.asarray(r["trace_ratio"])
    claims.append(Claim(f"{tag} λ_b = tr(K_rr(0))/tr(K_uu(0))", "≈ 100",
                        f"{np.mean(tr):.3g} ± {np.std(tr):.2g}",
                        bool(50 <= np.mean(tr) <= 200) if judged else None,
                        "agrees = within a factor 2 of 100; mean ± std over seeds"))
    if len(lams) > 3:
        mean, std = np.nanmean(err, axis=0), np.nanstd(err, axis=0)
        best = int(np.nanargmin(mean))
        big = lams >= 300
        shape = bool(50 <= lams[best] <= 200 and mean[0] >= 10 * mean[best]
                     and big.any() and np.nanmean(std[big]) > std[best])
        claims.append(Claim(
            f"{tag} Fig. 5: error against λ_b falls to a minimum near 100, spread grows",
            "fast fall, minimum near λ_b ≈ 100, then oscillation with a growing spread",
            f"minimum {fmt(mean[best])} at λ_b = {lams[best]:g}; λ_b = 1: {fmt(mean[0])}; "
            f"std at the minimum {fmt(std[best])}, at λ_b ≥ 300 {fmt(np.nanmean(std[big]))}"
            if big.any() else f"minimum at {lams[best]:g}",
            shape if judged else None,
            "agrees = minimum in [50, 200], ≥ 10x at λ_b = 1, larger spread at λ_b ≥ 300"))
    return tuple(claims)


def _figure(results: dict):
    def fig():
        import matplotlib.pyplot as plt

        f, ax = plt.subplots(1, 2, figsize=(11, 3.8))
        for which, r in results.items():
            lams, err = np.asarray(r["lambdas"]), np.asarray(r["error"], float)
            mean, std = np.nanmean(err, 0), np.nanstd(err, 0)
            ax[0].errorbar(lams, mean, yerr=std, marker="o", capsize=3, label=f"{which} network")
            i = list(lams).index(1.0) if 1.0 in lams else 0
            j = list(lams).index(100.0) if 100.0 in lams else -1
            ms = np.asarray(r["mean_squares"], float)
            for k, lab in ((i, "λ_b = 1"), (j, "λ_b = 100")):
                total = ms[:, 0, k, 0] + ms[:, 0, k, 1]
                ax[1].semilogy(r["record_steps"], total, label=f"{which}, {lab} (seed 0)")
        ax[0].axhline(0.240, color="gray", ls=":", label="paper, λ_b = 1")
        ax[0].axhline(1.63e-3, color="gray", ls="--", label="paper, λ_b = 100")
        ax[0].set(xscale="log", yscale="log", xlabel="λ_b (λ_r = 1)",
                  ylabel="relative L2 error (mean ± std)")
        ax[1].set(xlabel="GD step", ylabel="mean square (u) + mean square (r)")
        for a in ax:
            outside_legend(a)
        return f

    return fig


def wang_weights(scale: str, work, progress: bool) -> Outcome:
    c = SCALE[scale]
    results = {}
    for which in NETWORKS:
        ident = {"network": which, **{k: list(v) if isinstance(v, tuple) else v
                                       for k, v in c.items()}, "lr": LR}
        results[which] = kept_run(work, which, ident, lambda w=which: _network_runs(w, c, progress))
    judged = scale == "paper"
    claims = sum((_claims(w, results[w], judged) for w in NETWORKS), ())
    settings = {"problem": "u_xx = f on [0, 1], u = sin(4πx); 100 boundary (50 per end) + "
                "100 linspace", "loss": "λ_b/(2N_b) Σ|u − g|² + λ_r/(2N_r) Σ|u_xx − f|², "
                "λ_r = 1", "networks": {"text": "1 x 100 tanh, NTK parameterization, "
                                        "W, b ~ N(0, 1), raw inputs",
                                        "notebook": "1 x 100 tanh, standard "
                                        "parameterization, b ~ N(0, 1), inputs "
                                        "standardized"},
                "optimizer": f"full-batch GD, lr {LR:g}, float64", "steps": c["steps"],
                "seeds": c["seeds"], "λ_b": list(c["lambdas"])}
    return Outcome(settings, claims, results, {"errors": _figure(results)})
