"""Wang, Yu & Perdikaris (arXiv 2007.14527) at their settings: the 1-D Poisson notebook,
the NTK spectrum against the frequency, and the wave equation with NTK-adaptive weights.

Their settings (``../shared/reference.md``, from the paper and their PINNsNTK notebooks):
Poisson: ``u = sin(4πx)``, 100 boundary samples (50 at each end), 100 equispaced
collocation points, inputs standardized by the collocation points, one hidden layer of 512
tanh, standard parameterization (``W ~ N(0, 1/fan_in)``, ``b ~ N(0, 1)``), plain GD, lr
1e-5, 40 001 steps, float32 (TensorFlow 1). Wave: ``u_tt = 4 u_xx``, 3 x 500 tanh,
Glorot-normal weights, zero biases, standardized inputs, Adam lr 1e-3 x 0.9 per 1 000
steps, 80 001 steps, every step 100 fresh initial points, 200 boundary points (two means),
300 residual points; weights ``λ = tr(K)/tr(K_g)`` every 100 steps for the groups
``u`` (initial + boundary values), ``u_t`` and ``r`` on 300 points each.
"""

from __future__ import annotations

import numpy as np

import ntk_pinn
from ntk_pinn import (Checkpoint, Points, Record, empirical_kernel, problems,
                      train)

from ._results import Claim, Outcome, error_rule, fmt, outside_legend

__all__ = []  # internal: reached through validation.reproduce

SOURCE = ("Wang, Yu & Perdikaris, *When and why PINNs fail to train: a neural tangent "
          "kernel perspective* (arXiv 2007.14527; notebooks PredictiveIntelligenceLab/"
          "PINNsNTK).")


def _poisson_setting(a: float = 4.0):
    prob = problems.poisson_1d(a, collocation="linspace")
    data = prob.data(100, 100)
    return prob, data


def _poisson_net(width: int, data: dict):
    return ntk_pinn.mlp(width, 1, "tanh", parameterization="standard").standardized(
        data["r"][1])


def _ckpt(work, name, every: int):
    return None if work is None else Checkpoint(work / f"{name}.npz", every=every)


def _cast(tree, dtype):
    """A parameter pytree in ``dtype`` (training runs in float32, kernels in float64)."""
    import jax

    return jax.tree_util.tree_map(lambda a: np.asarray(a, dtype), tree)


def _ratio(eigenvalues, k: int) -> str:
    """``λ_k/λ_1`` of descending ``eigenvalues`` as the tables print it; a ratio below
    the float64 resolution of the matrix (``n eps``) is round-off and is said so, not
    printed as a measurement."""
    ev = np.asarray(eigenvalues)
    floor = len(ev) * np.finfo(np.float64).eps
    r = ev[k - 1] / ev[0]
    return fmt(r) if abs(r) > floor else f"below float64 resolution (< {fmt(floor, 2)})"


def _resolved(eigenvalues) -> np.ndarray:
    """Descending eigenvalues down to float64 resolution (``1e-15 λ_max``): those below are
    round-off, not spectrum, and are left off plots."""
    ev = np.asarray(eigenvalues)
    return ev[ev > 1e-15 * ev[0]]


def _kernel_monitor(net, blocks: dict, K0: np.ndarray):
    """``params -> {change, eig_uu, eig_rr}``: ``‖K - K(0)‖_F / ‖K(0)‖_F`` and the blocks'
    eigenvalues (descending), the empirical NTK in float64 on the training points."""
    def monitor(params):
        K = empirical_kernel(net, _cast(params, np.float64), blocks)
        return {"change": float(np.linalg.norm(K.matrix - K0) / np.linalg.norm(K0)),
                "eig_uu": np.linalg.eigvalsh(K.block("u", "u"))[::-1],
                "eig_rr": np.linalg.eigvalsh(K.block("r", "r"))[::-1]}

    return monitor


def _relative_residual_error(net, params, prob, n: int = 1000) -> float:
    import jax
    import jax.numpy as jnp

    x = prob.grid(n)
    r = jax.vmap(ntk_pinn.residual_fn(net, prob.residual.operator), (None, 0))
    pred = np.asarray(r(_cast(params, np.float64), jnp.asarray(x)))
    f = prob.residual.target(x)
    return float(np.linalg.norm(pred - f) / np.linalg.norm(f))


def _poisson_run(w: int, prob, data: dict, *, steps: int, record: int, work,
                 progress: bool) -> dict:
    """One GD run of the Poisson notebook's network at width ``w``, its NTK recorded."""
    import jax

    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    net = _poisson_net(w, data)
    # K(0) of the float32 initial parameters the run starts from.
    p0 = _cast(net.init(jax.random.PRNGKey(0), 1), np.float32)
    K0 = empirical_kernel(net, _cast(p0, np.float64), blocks).matrix
    result = train(net, prob, optimizer="gd", lr=1e-5, steps=steps, dtype="float32",
                   points=Points(n_residual=100, n_boundary=100),
                   record=Record(every=record, grid=1000,
                                 monitor=_kernel_monitor(net, blocks, K0)),
                   checkpoint=_ckpt(work, f"width{w}", 20 * record), progress=progress)
    return {"steps": result.steps, "error": result.errors,
            "loss_u": result.losses["u"], "loss_r": result.losses["r"],
            "change": np.array([m["change"] for m in result.monitored]),
            "eig_uu": [result.monitored[0]["eig_uu"], result.monitored[-1]["eig_uu"]],
            "eig_rr": [result.monitored[0]["eig_rr"], result.monitored[-1]["eig_rr"]],
            "residual_error": _relative_residual_error(net, result.params, prob),
            "residual_error0": _relative_residual_error(net, p0, prob),
            "train_seconds": result.seconds}


def _poisson_figures(runs: dict, widths) -> dict:
    main = runs[512]

    def fig_change():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for w in widths:
            ax[0].plot(runs[w]["steps"], runs[w]["change"], label=f"width {w}")
            ax[1].semilogy(runs[w]["steps"], runs[w]["error"], label=f"width {w}")
        ax[0].set(xlabel="step", ylabel="‖K(t) − K(0)‖ / ‖K(0)‖", yscale="log")
        ax[1].set(xlabel="step", ylabel="relative L2 error of u")
        for a in ax:
            outside_legend(a)
        return fig

    def fig_eigs():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, block in enumerate(("eig_uu", "eig_rr")):
            for j, label in enumerate(("start", "end")):
                ev = _resolved(main[block][j])
                ax[i].loglog(np.arange(1, len(ev) + 1), ev, label=label)
            ax[i].set(xlabel="index", ylabel="eigenvalue",
                      title=f"{'K_uu' if i == 0 else 'K_rr'} (width 512)")
            outside_legend(ax[i])
        return fig

    return {"ntk_change": fig_change, "eigenvalues": fig_eigs}


def wang_poisson(scale: str, work, progress: bool) -> Outcome:
    steps, record = {"paper": (40000, 100), "quick": (8000, 200), "tiny": (200, 100)}[scale]
    widths = (10, 100, 512)
    prob, data = _poisson_setting()
    runs = {w: _poisson_run(w, prob, data, steps=steps, record=record, work=work,
                            progress=progress) for w in widths}
    main = runs[512]
    changes = [runs[w]["change"][-1] for w in widths]
    ratio0 = float(np.sum(main["eig_rr"][0]) / np.sum(main["eig_uu"][0]))
    rr0 = main["eig_rr"][0]
    top_move = float(abs(main["eig_rr"][1][0] / rr0[0] - 1))
    quick = scale != "paper"
    note_quick = f"{scale}: {steps} of 40 001 steps" if quick else ""

    judged = scale == "paper"
    ok_u, rule_u = error_rule(main["error"][-1], 4.21e-2, main["error"][0])
    ok_r, rule_r = error_rule(main["residual_error"], 4.88e-3, main["residual_error0"])
    claims = (
        Claim("relative L2 error of u, width 512 (notebook)", "4.21e-02", fmt(main["error"][-1]),
              ok_u if judged else None, note_quick or rule_u + " (their run: one unseeded "
              "TF init)"),
        Claim("relative L2 error of the residual u_xx - f", "4.88e-03",
              fmt(main["residual_error"]), ok_r if judged else None, note_quick or rule_r),
        Claim("NTK change ‖K(T) - K(0)‖/‖K(0)‖ shrinks with width (widths 10, 100, 512)",
              "smaller for wider nets (figure)",
              ", ".join(f"{w}: {fmt(c)}" for w, c in zip(widths, changes)),
              bool(np.all(np.diff(changes) < 0)), f"T = {steps}"),
        Claim("tr(K_rr) ≫ tr(K_uu) at initialization (width 512)", "≫ 1 (figure)",
              f"{ratio0:.3g}", bool(ratio0 > 10), "agrees = above 10; 100 + 100 points"),
        Claim("K_rr eigenvalues decay fast", "fast decay (figure)",
              f"λ_10/λ_1 = {_ratio(rr0, 10)}, λ_50/λ_1 = {_ratio(rr0, 50)}",
              bool(rr0[9] / rr0[0] < 1e-2), ""),
        Claim("K stays nearly constant for the wide net (top K_rr eigenvalue, start → end)",
              "nearly unchanged (figure)", f"relative move {fmt(top_move)}",
              bool(top_move < 0.1), "agrees = moves < 10 %"),
    )
    settings = {"problem": prob.name, "points": "100 boundary (50 per end) + 100 linspace",
                "network": "1 x width tanh, standard parameterization, W ~ N(0, 1/fan_in), "
                           "b ~ N(0, 1), inputs standardized",
                "widths": list(widths), "optimizer": "GD, lr 1e-5, float32",
                "steps": steps, "kernel every": record, "seed": 0}
    return Outcome(settings, claims, {"runs": {str(w): r for w, r in runs.items()}},
                   _poisson_figures(runs, widths))


def _predicted_loss(K: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Loss after ``steps`` of the linearized GD flow ``r ← (I - η K) r`` (``η = 1/λ_max``,
    from ``r = y``; zero initial output), relative to the start."""
    lam, V = np.linalg.eigh(K)
    c = V.T @ y
    decay = np.clip(1 - lam / lam.max(), 0.0, 1.0) ** (2 * steps)
    return float(np.sum(decay * c ** 2) / np.sum(c ** 2))


def _spectrum_figure(nets: dict, freqs, horizon: int):
    """``() -> Figure``: per network, the K* and empirical spectra and the loss left by
    frequency."""
    def fig_spectrum():
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(nets), 3, figsize=(14, 3.8 * len(nets)), squeeze=False)
        for ax, (which, r) in zip(axes, nets.items()):
            limit, emp = r["limit"], r["empirical"]
            for i, block in enumerate(("eig_uu", "eig_rr")):
                ev = _resolved(limit[block])
                ax[i].loglog(np.arange(1, len(ev) + 1), ev, "k-", label="K*")
                for j, e in enumerate(emp):
                    ee = _resolved(e[block])
                    ax[i].loglog(np.arange(1, len(ee) + 1), ee, "C0", alpha=0.4,
                                 label="empirical" if j == 0 else None)
                ax[i].set(xlabel="index", ylabel="eigenvalue (above 1e-15 λ_max)",
                          title=f"{'K_uu' if block == 'eig_uu' else 'K_rr'}, {which} network")
                outside_legend(ax[i])
            ax[2].semilogy(freqs, limit["loss"], "k-o", label="K*")
            ax[2].semilogy(freqs, np.mean([e["loss"] for e in emp], 0), "C0-s",
                           label="empirical (mean)")
            ax[2].set(xlabel="frequency a", ylabel=f"loss left after {horizon} steps",
                      title=f"{which} network")
            outside_legend(ax[2])
        return fig

    return fig_spectrum


def _spectrum_stats(K: np.ndarray, data: dict, freqs, horizon: int) -> dict:
    n_u = len(data["u"][1])
    uu, rr = K[:n_u, :n_u], K[n_u:, n_u:]
    losses = []
    for a in freqs:
        p = problems.poisson_1d(a, collocation="linspace")
        y = np.concatenate([p.exact(data["u"][1]), p.residual.target(data["r"][1])])
        losses.append(_predicted_loss(K, y, horizon))
    return {"eig_uu": np.linalg.eigvalsh(uu)[::-1], "eig_rr": np.linalg.eigvalsh(rr)[::-1],
            "trace_ratio": float(np.trace(rr) / np.trace(uu)), "loss": np.array(losses)}


def _spectrum_network(which: str, data: dict, seeds, freqs, horizon: int) -> dict:
    """K* and the empirical NTK (one per seed) of the width-100 ``which`` network, and the
    gap ``‖K(0) − K*‖/‖K*‖`` at widths 100 / 400 / 1600 (2 seeds each; the standard
    parameterization's limit depends on the width: each width against its own)."""
    import jax

    from theory import limiting_kernel

    from ._wang_weights import weights_net

    net = weights_net(which, data)
    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    Kstar = limiting_kernel(net, blocks).matrix
    emp = [_spectrum_stats(empirical_kernel(net, net.init(jax.random.PRNGKey(s), 1),
                                            blocks).matrix, data, freqs, horizon)
           for s in seeds]
    gap_widths, gaps = (100, 400, 1600), []
    for w in gap_widths:
        wide = net.with_width(w)
        K_w = Kstar if w == 100 or which == "text" else limiting_kernel(wide, blocks).matrix
        gaps.append(float(np.mean([np.linalg.norm(
            empirical_kernel(wide, wide.init(jax.random.PRNGKey(s), 1), blocks).matrix - K_w)
            / np.linalg.norm(K_w) for s in seeds[:2]])))
    return {"limit": _spectrum_stats(Kstar, data, freqs, horizon), "empirical": emp,
            "gap_widths": list(gap_widths), "gaps": gaps}


def _spectrum_claims(which: str, r: dict, freqs, horizon: int) -> tuple:
    limit, emp, gaps = r["limit"], r["empirical"], r["gaps"]
    emp_ratio = np.array([e["trace_ratio"] for e in emp])
    emp_loss = np.array([e["loss"] for e in emp])
    decay_star = limit["eig_rr"][9] / limit["eig_rr"][0]
    decay_emp = np.mean([e["eig_rr"][9] / e["eig_rr"][0] for e in emp])
    loss_txt = lambda v: ", ".join(f"a={a:g}: {fmt(x, 2)}" for a, x in zip(freqs, v))  # noqa
    tag = f"[{which}]"
    return (
        Claim(f"{tag} K_rr eigenvalues decay fast (λ_10/λ_1)", "fast decay (Fig. 1)",
              f"K*: {fmt(decay_star)}; empirical: {fmt(decay_emp)}",
              bool(decay_star < 1e-2 and decay_emp < 1e-2), "agrees = below 1e-2"),
        Claim(f"{tag} tr(K_rr)/tr(K_uu) ≫ 1", "K_rr far above K_uu; the spectra similar for "
              "a = 1, 2, 4 (Fig. 1)",
              f"K*: {limit['trace_ratio']:.3g}; empirical: {emp_ratio.mean():.3g} ± "
              f"{emp_ratio.std():.2g}", bool(limit["trace_ratio"] > 10),
              "agrees = above 10. At initialization K depends on the operator and the points "
              "only, not on a: the spectra are the same for every a"),
        Claim(f"{tag} higher frequency trains slower: loss left after {horizon} GD steps "
              "(lr 1/λ_max) of the linearized dynamics",
              "slower convergence for larger a (spectral bias)",
              f"K*: {loss_txt(limit['loss'])}; empirical: {loss_txt(emp_loss.mean(0))}",
              bool(np.all(np.diff(limit["loss"]) > 0) and np.all(np.diff(emp_loss.mean(0)) > 0)),
              "target [g; f] projected on K's eigenvectors"),
        Claim(f"{tag} the empirical NTK approaches K* as the width grows",
              "K(0) → K* as width → ∞",
              "‖K(0) - K*‖/‖K*‖: " + ", ".join(f"width {w}: {fmt(g)}"
                                               for w, g in zip(r["gap_widths"], gaps)),
              bool(gaps[-1] < gaps[0] / 2),
              "agrees = halves from width 100 to 1600 (width^(-1/2) predicts a quarter)"),
    )


def wang_spectrum(scale: str, work, progress: bool) -> Outcome:
    """Fig. 1 with the text's network (width 100, NTK parameterization) and the notebook's
    (width 100, standard parameterization, standardized inputs), side by side."""
    freqs = (1.0, 2.0) if scale == "tiny" else (1.0, 2.0, 4.0)
    seeds = tuple(range({"paper": 10, "quick": 3, "tiny": 2}[scale]))
    horizon = 1000
    _, data = _poisson_setting()
    nets = {which: _spectrum_network(which, data, seeds, freqs, horizon)
            for which in ("text", "notebook")}
    claims = sum((_spectrum_claims(w, r, freqs, horizon) for w, r in nets.items()), ())
    settings = {"problem": "poisson_1d(a, linspace) for a in " + str(list(freqs)),
                "points": "100 boundary + 100 linspace",
                "networks": {"text": "1 x 100 tanh, NTK parameterization (W, b ~ N(0, 1)), "
                                     "raw inputs (§7)",
                             "notebook": "1 x 100 tanh, standard parameterization, b ~ "
                                         "N(0, 1), inputs standardized (PINNsNTK)"},
                "seeds": list(seeds), "horizon": horizon}
    raw = {"frequencies": list(freqs), "networks": nets}
    return Outcome(settings, claims, raw, {"spectrum": _spectrum_figure(nets, freqs, horizon)})
