"""Training study: is the PINN NTK constant during small-step gradient descent, and does
the loss follow the linearized infinite-width dynamics ``exp(-K* t)``?

Loss (all terms of the problem, unweighted): ``L(θ) = ½ Σ_blocks Σ_i (B[u](x_i) - g_i)²``.
Under gradient flow the residual vector ``r`` obeys ``dr/dt = -K(t) r``; if ``K`` stays at
``K*`` then ``r(t) = exp(-K* t) r(0)``, so with ``t = lr · step`` the predicted loss is
``½ ‖exp(-K* t) r(0)‖²`` from the finite network's own ``r(0)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import theory
from ntk_pinn import Network, empirical_kernel, residual_vector_fn

from . import _tables as tables
from ._study import (block_errors, block_pairs, bound_status, check_grid, check_steps,
                     fit_slope, network_config, run_grid, slope_verdict)

__all__ = ["TrainingStudy", "gradient_descent_run", "training_study"]


def gradient_descent_run(net: Network, data: dict, seed: int, lr, steps: int,
                         record_every: int, K0=None) -> dict:
    """Full-batch GD on ``½ Σ (B[u](x) - g)²`` from ``net.init(PRNGKey(seed))``.

    ``data``: ``{name: (operator, points, targets)}``; ``lr``: the step size.
    Returns JSON-able ``{"drift": {"a|b": [...]}, "loss": [...], "r0": [...],
    "residuals": [[...], ...], "K0": [[...], ...], "lr": lr}`` recorded at steps ``0,
    record_every, ..., steps``; drift is ``‖K(t) - K(0)‖_F / ‖K(0)‖_F`` per block pair of
    the empirical NTK, ``residuals`` the residual vector at each record, ``K0`` the
    initial empirical NTK (the argument ``K0``, when given, is used instead of computing
    it).

    Args:
      net: the network (its width as given).
      data: ``{name: (operator, points (n_b, d), targets (n_b,))}``.
      seed: the initialization seed.
      lr: the step size.
      steps: GD steps (a multiple of ``record_every``).
      record_every: steps between records.
      K0: the initial empirical NTK, when already computed.
    """
    import jax
    import jax.numpy as jnp

    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    pairs = block_pairs(list(data))
    residual_vector = residual_vector_fn(net, data)

    def loss(params):
        return 0.5 * jnp.sum(residual_vector(params) ** 2)

    d = next(iter(blocks.values()))[1].shape[1]
    params = net.init(jax.random.PRNGKey(seed), d)
    if K0 is None:
        K0 = empirical_kernel(net, params, blocks)
    lr = float(lr)

    @jax.jit
    def advance(params):
        def step(_, p):
            g = jax.grad(loss)(p)
            return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g)
        return jax.lax.fori_loop(0, record_every, step, params)

    r0 = np.asarray(residual_vector(params))
    drift = {f"{a}|{b}": [0.0] for a, b in pairs}
    losses = [float(0.5 * np.sum(r0 ** 2))]
    residuals = [r0.tolist()]
    for _ in range(steps // record_every):
        params = advance(params)
        r = np.asarray(residual_vector(params))
        residuals.append(r.tolist())
        losses.append(float(0.5 * np.sum(r ** 2)))
        if not np.isfinite(losses[-1]):
            step = (len(losses) - 1) * record_every
            raise ValueError(f"gradient descent diverged by step {step} (width {net.width}, "
                             f"seed {seed}, lr {lr:.3g}): use a smaller learning rate.")
        Kt = empirical_kernel(net, params, blocks)
        for key, value in block_errors(Kt, K0, pairs).items():
            drift[key].append(value)
    return {"drift": drift, "loss": losses, "r0": r0.tolist(), "residuals": residuals,
            "K0": np.asarray(K0.matrix).tolist(), "lr": lr}


#: Eigen-bands of K* for the loss-gap split, by eigenvalue relative to the largest.
BANDS = {"fast": (1e-1, np.inf), "middle": (1e-3, 1e-1), "slow": (0.0, 1e-3)}


def _gap(actual: np.ndarray, predicted: np.ndarray, floor=0.0) -> np.ndarray:
    """``max_t |log((actual + floor) / (predicted + floor))|`` over the last axis; the
    floor (for a band: 1e-6 of the run's initial loss: modes decayed below it count as
    converged, their relative error is not a gap) keeps the ratio meaningful."""
    f = np.asarray(floor)[..., None]
    return np.abs(np.log((actual + f) / (predicted + f))).max(axis=-1)


@dataclasses.dataclass(frozen=True)
class TrainingStudy:
    """``steps``: recorded steps ``(n_records,)``; ``drift[(a, b)]``: ``(n_widths, n_seeds,
    n_records)`` of ``‖K(t) - K(0)‖_F / ‖K(0)‖_F``; ``drift_slopes[(a, b)]``: slope of the
    final drift against width (log-log, 95% CI); ``loss`` and ``predicted_loss``:
    ``(n_widths, n_seeds, n_records)``; ``lr`` the learning rate used; ``config``: what was
    run (network, problem and points, widths, seeds, steps)."""

    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: np.ndarray
    lr: float
    drift: dict
    drift_slopes: dict
    loss: np.ndarray
    predicted_loss: np.ndarray
    config: dict = dataclasses.field(default_factory=dict)

    predicted_loss_k0: np.ndarray | None = None
    band_loss: dict = dataclasses.field(default_factory=dict)
    band_predicted: dict = dataclasses.field(default_factory=dict)
    band_sizes: dict = dataclasses.field(default_factory=dict)

    def loss_gap(self) -> np.ndarray:
        """``(n_widths,)``: mean over seeds of ``max_t |log(loss / predicted)|``."""
        return _gap(self.loss, self.predicted_loss).mean(axis=1)

    def loss_gap_k0(self) -> np.ndarray:
        """``(n_widths,)``: the same gap against the finite network's own linearized
        prediction ``½‖exp(-K(0) t) r(0)‖²``: what is left is the kernel's drift."""
        return _gap(self.loss, self.predicted_loss_k0).mean(axis=1)

    def band_gaps(self) -> dict:
        """``{band: (n_widths,)}``: per eigen-band of ``K*`` (``BANDS``), mean over seeds
        of ``max_t |log(band loss / K* prediction of it)|``; the band loss is
        ``½‖P_band r(t)‖²`` (the bands' losses add up to the loss)."""
        floor = 1e-6 * self.loss[:, :, 0]
        return {b: _gap(self.band_loss[b], self.band_predicted[b], floor).mean(axis=1)
                for b in self.band_loss}

    def verdict(self) -> str:
        gap = self.loss_gap()
        return (slope_verdict("NTK drift vanishes at least like width^(-1/2)",
                              self.drift_slopes, status_fn=bound_status)
                + f"; loss vs exp(-K* t): max |log ratio| {gap[0]:.2g} at width "
                f"{self.widths[0]}, {gap[-1]:.2g} at width {self.widths[-1]}")

    @property
    def title(self) -> str:
        return self.config.get("source", {}).get("problem", "training study")

    def to_json(self) -> dict:
        return {"config": self.config, "versions": tables.versions(),
                "widths": list(self.widths), "seeds": list(self.seeds), "lr": self.lr,
                "steps": self.steps.tolist(),
                "drift": {"/".join(p): d.tolist() for p, d in self.drift.items()},
                "drift_slopes": tables.slopes_json(self.drift_slopes),
                "loss": self.loss.tolist(), "predicted_loss": self.predicted_loss.tolist(),
                "loss_gap": self.loss_gap().tolist(),
                **({} if self.predicted_loss_k0 is None else {
                    "predicted_loss_k0": self.predicted_loss_k0.tolist(),
                    "loss_gap_k0": self.loss_gap_k0().tolist()}),
                "band_gaps": {b: g.tolist() for b, g in self.band_gaps().items()},
                "verdict": self.verdict()}

    def csv_rows(self) -> list:
        return [{"block": "/".join(p), "width": w, "seed": s, "step": int(step),
                 "drift": float(d[i, j, k]), "loss": float(self.loss[i, j, k]),
                 "predicted_loss": float(self.predicted_loss[i, j, k])}
                for p, d in self.drift.items() for i, w in enumerate(self.widths)
                for j, s in enumerate(self.seeds) for k, step in enumerate(self.steps)]

    def markdown(self) -> str:
        steps = int(self.steps[-1])
        every = int(self.steps[1]) if len(self.steps) > 1 else steps
        net = self.config.get("network", {})
        lines = [f"# Training study: {self.title}", "", f"**Verdict:** {self.verdict()}", "",
                 f"Full-batch gradient descent, lr {self.lr:.4g} (t = lr * step), {steps} "
                 f"steps, recorded every {every}. Network: depth {net.get('depth')}, "
                 f"{net.get('activation')}. Seeds: {list(self.seeds)}.", ""]
        lines += tables.slope_table(self.widths, [(("/".join(p),), d[:, :, -1],
                                                   self.drift_slopes[p], ())
                                                  for p, d in self.drift.items()])
        lines += ["", "Entries: final ||K(t) - K(0)||_F / ||K(0)||_F, geometric mean over "
                  "seeds (what the slope is fitted on).", ""]
        lines += self._gap_table() + ["", "![drift](drift.png)", "", "![loss](loss.png)"]
        return "\n".join(lines) + "\n"

    def _gap_table(self) -> list:
        """The loss gap split: against K*, against the network's own K(0), and per
        eigen-band of K*, each with its :func:`tables.trend` in width."""
        rows = [("loss vs K* prediction", self.loss_gap())]
        if self.predicted_loss_k0 is not None:
            rows.append(("loss vs own K(0) prediction (finite-width linearized)",
                         self.loss_gap_k0()))
        rows += [(f"{b} band of K* ({self.band_sizes.get(b, '?')} modes, eigenvalue/max in "
                  f"[{BANDS[b][0]:g}, {BANDS[b][1]:g}))", g) for b, g in self.band_gaps().items()]
        lines = ["Loss gap, mean over seeds of max_t |log(loss / prediction)|:", "",
                 "| gap | " + " | ".join(f"w={w}" for w in self.widths) + " | with width |",
                 "|---|" + "---|" * (len(self.widths) + 1)]
        for label, g in rows:
            lines.append(f"| {label} | " + " | ".join(f"{v:.3g}" for v in g)
                         + f" | {tables.trend(self.widths, g)} |")
        return lines

    def figures(self) -> dict:
        from .plots import training_drift_figure, training_loss_figure

        return {"drift": lambda: training_drift_figure(self, title=self.title),
                "loss": lambda: training_loss_figure(self, title=self.title)}


def _spectra(net: Network, blocks: dict, widths, lr) -> dict:
    """Per width ``(eigenvalues, eigenvectors, lr, band masks)`` of the ``K*`` it is
    compared with: one for all widths in the NTK parameterization; each width's own kernel
    (and, unless ``lr`` is given, its own ``1/λ_max``) in the standard one."""
    from scipy.linalg import eigh

    def spectrum(w):
        K = theory.limiting_kernel(net.with_width(w), blocks)
        e, V = eigh(K.matrix)
        e = np.clip(e, 0.0, None)
        relative = e / e.max()
        masks = {b: (relative >= lo) & (relative < hi) for b, (lo, hi) in BANDS.items()}
        return e, V, (1.0 / float(e.max()) if lr is None else lr), masks

    if net.kernel_depends_on_width:
        return {w: spectrum(w) for w in widths}
    one = spectrum(widths[0])
    return {w: one for w in widths}


def _compute_fn(net: Network, data: dict, spectra: dict, *, steps: int, record_every: int):
    """``(width, seed) -> run``: a GD run's drift and loss, the loss ``K*`` predicts, the
    one its own ``K(0)`` predicts, and both per eigen-band of ``K*``."""
    from scipy.linalg import eigh

    record_steps = np.arange(0, steps + 1, record_every)

    def compute(w, s):
        evals, evecs, step, bands = spectra[w]

        def linearized(e, V, r0):
            """``(n_records, n)``: the eigen-coefficients of ``exp(-K t) r(0)``."""
            return np.exp(-np.outer(step * record_steps, e)) * (V.T @ r0)

        run = gradient_descent_run(net.with_width(w), data, s, step, steps, record_every)
        r0 = np.asarray(run["r0"])
        star = linearized(evals, evecs, r0)
        e0, V0 = eigh(np.asarray(run["K0"]))
        own = linearized(np.clip(e0, 0.0, None), V0, r0)
        actual = np.asarray(run["residuals"]) @ evecs        # (n_records, n) coefficients
        return {"drift": run["drift"], "loss": run["loss"],
                "predicted_loss": (0.5 * np.sum(star ** 2, axis=1)).tolist(),
                "predicted_loss_k0": (0.5 * np.sum(own ** 2, axis=1)).tolist(),
                "band_loss": {b: (0.5 * np.sum(actual[:, m] ** 2, axis=1)).tolist()
                              for b, m in bands.items() if m.any()},
                "band_predicted": {b: (0.5 * np.sum(star[:, m] ** 2, axis=1)).tolist()
                                   for b, m in bands.items() if m.any()}}

    return compute


def training_study(net: Network, problem, widths, seeds, *, lr: float | None = None,
                   steps: int = 200, record_every: int = 20, n_residual: int = 16,
                   n_boundary: int = 2, point_seed: int = 0, run_dir=None,
                   progress: bool = True) -> TrainingStudy:
    """Full-batch gradient descent on ``problem``'s PINN loss for ``net.with_width(w)``,
    every ``w`` in ``widths`` and seed in ``seeds``, recording the empirical NTK drift and
    the loss every ``record_every`` steps against the ``K*`` prediction.

    In the standard parameterization the kernel depends on the width: each width is
    compared with its own ``K*`` and, by default, trained with its own ``1/λ_max``
    (``config["lr_per_width"]``; the study's ``lr`` is the first width's).

    Args:
      net: the network spec; its width is replaced by each of ``widths``.
      problem: a linear problem.
      widths: network widths (at least two distinct).
      seeds: initialization seeds.
      lr: the step size (default ``1 / λ_max(K*)``: stable, and small enough for the
        linearized picture).
      steps: GD steps.
      record_every: steps between kernels.
      n_residual: collocation points.
      n_boundary: points per boundary constraint.
      point_seed: the seed of the points.
      run_dir: each finished run is saved there atomically and skipped on a rerun.
      progress: a progress bar.
    """
    widths, seeds = check_grid(widths, seeds)
    check_steps(steps, record_every)
    if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    config = {"study": "training", "network": network_config(net), "widths": list(widths),
              "seeds": list(seeds), "lr": lr, "steps": steps, "record_every": record_every,
              "source": {"problem": problem.name, "n_residual": n_residual,
                         "n_boundary": n_boundary, "point_seed": point_seed}}
    data = problem.data(n_residual, n_boundary, seed=point_seed)
    spectra = _spectra(net, {k: (op, x) for k, (op, x, _) in data.items()}, widths, lr)
    lrs = {w: spectra[w][2] for w in widths}
    config["lr_per_width"] = {str(w): v for w, v in lrs.items()}
    compute = _compute_fn(net, data, spectra, steps=steps, record_every=record_every)
    results = run_grid(compute, widths, seeds, run_dir, "training study", progress, config)

    def stack(key, sub=None):
        return np.array([[results[(w, s)][key] if sub is None else results[(w, s)][key][sub]
                          for s in seeds] for w in widths])

    drift = {(a, b): stack("drift", f"{a}|{b}") for a, b in block_pairs(list(data))}
    slopes = {pair: fit_slope(widths, np.maximum(values[:, :, -1], 1e-300))
              for pair, values in drift.items()}
    # Bands present at every width (their sizes from the widest one's kernel).
    bands = spectra[widths[-1]][3]
    present = [b for b in BANDS if all(spectra[w][3][b].any() for w in widths)]
    return TrainingStudy(widths, seeds, np.arange(0, steps + 1, record_every),
                         float(lrs[widths[0]]), drift, slopes, stack("loss"),
                         stack("predicted_loss"), config, stack("predicted_loss_k0"),
                         {b: stack("band_loss", b) for b in present},
                         {b: stack("band_predicted", b) for b in present},
                         {b: int(bands[b].sum()) for b in present})
