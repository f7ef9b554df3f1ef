"""The nonlinear regime (Bonfanti, Bruno & Cipriani): a linear PDE problem and its
nonlinear counterpart on the same points and the same networks, over widths and seeds.

Per ``(width, seed)`` and problem it measures, with the empirical PINN NTK ``K``:

1. ``K(0)`` itself; across seeds its *spread* ``‖K_s(0) - mean_s K(0)‖_F / ‖mean_s K(0)‖_F``
   per block pair. Linear operators: ``K(0) → K*`` so the spread vanishes like
   ``width^(-1/2)``. Nonlinear ones: ``∂θ N[u]`` carries ``u`` itself (``∂θ u³ = 3u² ∂θu``)
   and ``u`` at initialization is a Gaussian process even at infinite width, so the
   spread plateaus.
2. the drift ``‖K(t) - K(0)‖_F / ‖K(0)‖_F`` after full-batch gradient descent on
   ``½ Σ (B[u] - g)²`` with step ``lr_factor / ‖∇²L(θ0)‖`` of each run (the loss
   Hessian, not the NTK: in the nonlinear regime its curvature part dominates and a
   ``1/λ_max(K)`` step diverges).
3. at initialization, ``‖∇²_θ N[u](x)‖₂`` (max over probe residual points) and the norms
   of the loss Hessian ``∇²L = JᵀJ + Σ r_i ∇²r_i`` and its curvature part ``Σ r_i ∇²r_i``,
   by power iteration on Hessian-vector products; and the residual's curvature along its
   own gradient, ``|ĝᵀ ∇²_θ N[u](x) ĝ|`` (mean over the probe points;
   ``ntk_pinn.residual_tangent_curvature``), which separates the regimes by slope: it
   vanishes with width for a linear operator and tends to ``6|c u(x)| (∇θu·ĝ)²`` for
   ``c u³``.

Each slope is fitted on log-log (95% CI), with one intercept per seed (``fit_slope(...,
paired=True)``): every width uses the same seeds, and a seed shifts some quantities at
all widths alike (the loss curvature at initialization varies 30x between seeds).
Linear spread and drift are expected at -1/2 (the width study's ``slope_status``: a CLT
fluctuation). Linear drift and Hessian norms are
only claimed to vanish (CI below 0): ``O(width^(-1/2))`` is their asymptotic rate, but at
practical widths the drift falls faster (training leaves the lazy regime at small widths;
measured slope about -0.9) and a spectral norm, a max over neurons, is
``O(polylog(width) / sqrt(width))`` whose log factors flatten the slope (about -0.2 for
``u_xx``).
Nonlinear quantities are claimed *not* to vanish like ``width^(-1/2)``
(:func:`plateau_status`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ntk_pinn import (Network, empirical_kernel, loss_hessian_norms, residual_hessian_norms,
                      residual_tangent_curvature)

from . import _tables as tables
from ._study import (block_pairs, check_grid, check_steps, fit_slope, network_config,
                     overall, run_grid, slope_status)
from ._training import gradient_descent_run
from ._width import setup_lines

__all__ = ["NonlinearStudy", "nonlinear_study", "plateau_status"]

LABELS = ("linear", "nonlinear")
HESSIAN_METRICS = ("residual_hessian", "tangent_curvature", "loss_hessian",
                   "loss_gauss_newton", "loss_curvature")


def plateau_status(slope: float, low: float, high: float, *, rate: float = -0.5) -> str:
    """Status of the claim "does not vanish like ``width^rate``": ``"holds"`` when the CI
    lies above ``rate``, ``"inconclusive"`` when it contains both ``rate`` and 0, else
    ``"fails"`` (the data are consistent with the linear decay).

    Args:
      slope: the fitted slope.
      low: its interval's lower end.
      high: its interval's upper end.
      rate: the rate of the linear decay.
    """
    if low > rate:
        return "holds"
    return "inconclusive" if high >= 0 else "fails"


@dataclasses.dataclass(frozen=True)
class NonlinearStudy:
    """Arrays are ``(n_widths, n_seeds)`` unless said otherwise; keys ``(label, pair)`` with
    ``label`` in ``("linear", "nonlinear")`` and ``pair = (a, b)`` block names.

    ``spread``: ``(n_widths, n_seeds // 2)`` relative difference of ``K(0)`` blocks of
    disjoint seed pairs (independent samples; see :func:`_pair_spread`), its slope ``nan``
    (status "n/a") with fewer than ``MIN_SPREAD_SEEDS`` seeds;
    ``drift``: ``(n_widths, n_seeds, n_records)`` drift at ``steps``; ``drift_absolute``:
    the same, ``‖K(t) - K(0)‖_F`` of the block (Bonfanti et al.'s ``ΔK(t)``); ``hessian[(label,
    metric)]`` for ``metric`` in ``HESSIAN_METRICS``; ``slopes[(quantity, label, key)] =
    (slope, low, high)``; ``nonlinear_blocks``: the blocks whose operator is nonlinear;
    ``lr[label]``: ``(n_widths, n_seeds)`` step sizes used; ``config``: what was run.
    """

    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    problems: dict
    nonlinear_blocks: tuple[str, ...]
    steps: np.ndarray
    spread: dict
    drift: dict
    drift_absolute: dict
    hessian: dict
    lr: dict
    slopes: dict
    config: dict = dataclasses.field(default_factory=dict)

    def _claimed(self, label, key) -> bool:
        """Whether the nonlinear claim applies (else the linear -1/2 claim does)."""
        if label == "linear":
            return False
        if isinstance(key, tuple):      # a block pair
            return any(b in self.nonlinear_blocks for b in key)
        return key in ("residual_hessian", "tangent_curvature", "loss_curvature")

    def status(self) -> dict:
        """``{(quantity, label, key): (claim, status)}`` for every fitted slope; the
        Gauss–Newton and full loss norms are reported, not judged (their ``JᵀJ`` part is
        the NTK, which does not vanish in either regime)."""
        out = {}
        for (quantity, label, key), (s, lo, hi) in self.slopes.items():
            if key in ("loss_hessian", "loss_gauss_newton"):
                continue
            claim = ("does not vanish like width^(-1/2)" if self._claimed(label, key)
                     else "vanishes" if quantity in ("hessian", "drift")
                     else "vanishes like width^(-1/2)")
            if np.isnan(s):
                out[(quantity, label, key)] = (claim, f"n/a (needs >= {MIN_SPREAD_SEEDS} "
                                                      "seeds)")
            elif self._claimed(label, key):
                out[(quantity, label, key)] = ("does not vanish like width^(-1/2)",
                                               plateau_status(s, lo, hi))
            elif quantity in ("hessian", "drift"):
                out[(quantity, label, key)] = (
                    "vanishes", "holds" if hi < 0 else "fails" if lo > 0 else "inconclusive")
            else:
                out[(quantity, label, key)] = (
                    "vanishes like width^(-1/2)", slope_status({0: (s, lo, hi)})[0])
        return out

    def holds(self) -> bool:
        return all(st == "holds" for _, st in self.status().values())

    def verdict(self) -> str:
        status = self.status()
        parts = []
        for (quantity, label, key), (claim, st) in status.items():
            s, lo, hi = self.slopes[(quantity, label, key)]
            name = tables.key_name(key)
            parts.append(f"{label} {quantity} {name}: slope {s:.2f} [{lo:.2f}, {hi:.2f}] {st}")
        return ("linear K(0) spread vanishes like width^(-1/2) and linear drift and "
                "Hessians vanish; nonlinear ones do not vanish like width^(-1/2): "
                f"{overall(st for _, st in status.values()).upper()}: " + "; ".join(parts))

    @property
    def title(self) -> str:
        return f"{self.problems['nonlinear']} vs {self.problems['linear']}"

    def to_json(self) -> dict:
        return {"config": self.config, "versions": tables.versions(),
                "widths": list(self.widths), "seeds": list(self.seeds),
                "problems": self.problems, "steps": self.steps.tolist(),
                "spread": {f"{lab}:{'/'.join(p)}": v.tolist()
                           for (lab, p), v in self.spread.items()},
                "drift": {f"{lab}:{'/'.join(p)}": v.tolist()
                          for (lab, p), v in self.drift.items()},
                "drift_absolute": {f"{lab}:{'/'.join(p)}": v.tolist()
                                   for (lab, p), v in self.drift_absolute.items()},
                "hessian": {f"{lab}:{m}": v.tolist() for (lab, m), v in self.hessian.items()},
                "lr": {lab: v.tolist() for lab, v in self.lr.items()},
                "slopes": tables.slopes_json(
                    self.slopes, lambda k: f"{k[0]}:{k[1]}:{tables.key_name(k[2])}"),
                "holds": self.holds(),
                "verdict": self.verdict()}

    def csv_rows(self) -> list:
        """CSV rows; a spread row's ``seed`` names its pair of seeds (``"0&1"``)."""
        out = []
        pairs = [f"{a}&{b}" for a, b in zip(self.seeds[0::2], self.seeds[1::2])]
        for (label, pair), spread in self.spread.items():
            for i, w in enumerate(self.widths):
                for quantity, seeds, values in (
                        ("spread", pairs, spread[i]),
                        ("drift", self.seeds, self.drift[(label, pair)][i, :, -1])):
                    for s, value in zip(seeds, values):
                        out.append({"problem": label, "quantity": quantity,
                                    "block": "/".join(pair), "width": w, "seed": s,
                                    "value": float(value)})
        for (label, metric), values in self.hessian.items():
            for i, w in enumerate(self.widths):
                for j, s in enumerate(self.seeds):
                    out.append({"problem": label, "quantity": metric, "block": "", "width": w,
                                "seed": s, "value": float(values[i, j])})
        return out

    def _table(self, quantity: str, values: dict) -> list:
        status = self.status()
        rows = []
        for (label, key), v in values.items():
            claim, st = status.get((quantity, label, key), ("(reported)", ""))
            rows.append(((label, tables.key_name(key)), v,
                         self.slopes[(quantity, label, key)], (claim, st)))
        return tables.slope_table(self.widths, rows, columns=("problem", "quantity"),
                                  extra=("claim", "status"))

    def markdown(self) -> str:
        c = self.config
        lines = [f"# Nonlinear-regime study: {self.title}", "", f"**Verdict:** {self.verdict()}",
                 ""]
        lines += [setup_lines(c)[0] + f" Nonlinear blocks: {list(self.nonlinear_blocks)}.",
                  "", "## Spread of K(0) across seeds (||K_s - mean_s K||_F / ||mean_s K||_F)",
                  ""]
        lines += self._table("spread", self.spread)
        lines += ["", f"## Drift after {c.get('steps')} gradient-descent steps "
                  f"(lr = {c.get('lr_factor')} / ||Hessian of the loss at init||)", ""]
        lines += self._table("drift", {k: v[:, :, -1] for k, v in self.drift.items()})
        lines += ["", "## Hessian spectral norms at initialization (power iteration on HVPs)",
                  "", f"residual_hessian: max over {c.get('n_probe')} residual points of "
                  "||d²r/dθ²||; loss_*: L = ½ Σ r², Hessian = Gauss–Newton JᵀJ + curvature "
                  "Σ r_i ∇²r_i.", ""]
        lines += self._table("hessian", self.hessian)
        lines += ["", "![nonlinear regime](nonlinear.png)"]
        return "\n".join(lines) + "\n"

    def figures(self) -> dict:
        from .plots import nonlinear_study_figure

        return {"nonlinear": lambda: nonlinear_study_figure(self, title=self.title)}


def _pair_spread(K: np.ndarray, row: slice, col: slice) -> np.ndarray:
    """``(n_seeds // 2,)``: for the disjoint seed pairs (0, 1), (2, 3), ...,
    ``‖K_a - K_b‖_F / ‖(K_a + K_b) / 2‖_F / sqrt(2)`` of the block. Each pair uses its own
    two seeds only, so the values are independent across pairs (a deviation from the
    shared seed mean is not: every seed enters the mean); the ``sqrt(2)`` makes it
    estimate one seed's relative deviation from the expected kernel."""
    blocks = K[:, row, col]
    a, b = blocks[0:len(blocks) - 1:2], blocks[1::2]
    return (np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm((a + b) / 2, axis=(1, 2))
            / np.sqrt(2))


#: Seeds needed for a confidence interval of the spread's slope (one independent pair per
#: width, and a leftover: with fewer the study reports "n/a", not a verdict).
MIN_SPREAD_SEEDS = 3


def _check_pair(linear, nonlinear, n_residual, n_boundary, point_seed):
    if not linear.is_linear:
        raise ValueError(f"the linear problem {linear.name!r} has nonlinear terms.")
    if nonlinear.is_linear:
        raise ValueError(f"the nonlinear problem {nonlinear.name!r} is linear; give one with a "
                         "nonlinear residual, e.g. problems.get('nonlinear_poisson_1d').")
    data = {label: p.data(n_residual, n_boundary, seed=point_seed)
            for label, p in zip(LABELS, (linear, nonlinear))}
    if list(data["linear"]) != list(data["nonlinear"]) or not all(
            np.array_equal(data["linear"][k][1], data["nonlinear"][k][1])
            for k in data["linear"]):
        raise ValueError(f"{linear.name!r} and {nonlinear.name!r} must have the same blocks "
                         "and sample the same points; use problem.linear() for the linear "
                         "counterpart.")
    return data


def _compute_fn(net: Network, data: dict, *, names: list, probe_block: str, n_probe: int,
                hessian_iters: int, lr_factor: float, steps: int, record_every: int):
    """``(width, seed) -> {label: run}``: per problem (linear, nonlinear) the empirical
    ``K(0)``, the Hessian norms and a GD run's drift at ``net.with_width(width)``."""
    def compute(w, s):
        import jax

        wide = net.with_width(w)
        out = {}
        for label in LABELS:
            d = data[label]
            blocks = {k: (op, x) for k, (op, x, _) in d.items()}
            params = wide.init(jax.random.PRNGKey(s), d[names[0]][1].shape[1])
            K0 = empirical_kernel(wide, params, blocks)
            op, x, _ = d[probe_block]
            res_h = residual_hessian_norms(wide, params, op, x[:n_probe], iters=hessian_iters)
            tangent = residual_tangent_curvature(wide, params, op, x[:n_probe])
            loss_h = loss_hessian_norms(wide, params, d, iters=hessian_iters)
            run = gradient_descent_run(wide, d, s, lr_factor / loss_h.full, steps,
                                       record_every, K0=K0)
            norms0 = {f"{a}|{b}": float(np.linalg.norm(K0.block(a, b)))
                      for a, b in block_pairs(list(d))}
            out[label] = {"K0": K0.matrix.tolist(), "sizes": list(K0.row_sizes),
                          "residual_hessian": res_h.tolist(),
                          "tangent_curvature": float(np.mean(np.abs(tangent))),
                          "drift_absolute": {k: [v * norms0[k] for v in run["drift"][k]]
                                             for k in run["drift"]},
                          "loss_hessian": loss_h.full,
                          "loss_gauss_newton": loss_h.gauss_newton,
                          "loss_curvature": loss_h.curvature, "drift": run["drift"],
                          "loss": run["loss"], "lr": run["lr"]}
        return out

    return compute


def _collect(runs: dict, widths, seeds, names: list) -> tuple:
    """``(spread, drift, drift_absolute, hessian, lr, slopes)`` of the study from its
    runs."""
    offsets = np.cumsum([0] + runs[(widths[0], seeds[0])]["linear"]["sizes"])
    where = {n: slice(offsets[i], offsets[i + 1]) for i, n in enumerate(names)}
    spread, drift, drift_abs, hessian, lr, slopes = {}, {}, {}, {}, {}, {}
    pairs = block_pairs(names)
    for label in LABELS:
        K = {w: np.array([runs[(w, s)][label]["K0"] for s in seeds]) for w in widths}
        for a, b in pairs:
            spread[(label, (a, b))] = np.array([_pair_spread(K[w], where[a], where[b])
                                                for w in widths])
            drift[(label, (a, b))] = np.array([[runs[(w, s)][label]["drift"][f"{a}|{b}"]
                                                for s in seeds] for w in widths])
            drift_abs[(label, (a, b))] = np.array(
                [[runs[(w, s)][label]["drift_absolute"][f"{a}|{b}"] for s in seeds]
                 for w in widths])
        for metric in HESSIAN_METRICS:
            values = [[runs[(w, s)][label][metric] for s in seeds] for w in widths]
            hessian[(label, metric)] = np.array(
                values if metric != "residual_hessian" else
                [[max(v) for v in row] for row in values])
        lr[label] = np.array([[runs[(w, s)][label]["lr"] for s in seeds] for w in widths])
        for pair in pairs:
            slopes[("spread", label, pair)] = (
                fit_slope(widths, spread[(label, pair)], paired=True)
                if len(seeds) >= MIN_SPREAD_SEEDS else (float("nan"),) * 3)
            slopes[("drift", label, pair)] = fit_slope(
                widths, np.maximum(drift[(label, pair)][:, :, -1], 1e-300), paired=True)
        for metric in HESSIAN_METRICS:
            slopes[("hessian", label, metric)] = fit_slope(
                widths, hessian[(label, metric)], paired=True)
    return spread, drift, drift_abs, hessian, lr, slopes


def nonlinear_study(net: Network, problem, widths, seeds, *, linear_problem=None,
                    steps: int = 200, record_every: int = 50, lr_factor: float = 0.5,
                    n_residual: int = 16, n_boundary: int = 2, point_seed: int = 0,
                    n_probe: int = 4, hessian_iters: int = 200, run_dir=None,
                    progress: bool = True) -> NonlinearStudy:
    """Run the nonlinear-regime study (module docstring) for ``problem`` (nonlinear, e.g.
    ``problems.get("nonlinear_poisson_1d")``) against ``linear_problem``, with
    ``net.with_width(w)`` for every ``w`` in ``widths`` and seed in ``seeds``.

    Args:
      net: the network spec; its width is replaced by each of ``widths``.
      problem: the nonlinear problem.
      widths: network widths (at least two distinct).
      seeds: initialization seeds (at least 2, for the spread).
      linear_problem: its linear counterpart on the same points (default
        ``problem.linear()``).
      steps: GD steps of the drift runs.
      record_every: steps between kernels.
      lr_factor: the step is ``lr_factor / ‖Hessian of the loss at init‖``.
      n_residual: collocation points.
      n_boundary: points per boundary constraint.
      point_seed: the seed of the points.
      n_probe: residual points whose Hessian norm is taken (the first ones).
      hessian_iters: power iterations of the Hessian norms.
      run_dir: each finished ``(width, seed)`` is saved there atomically and skipped on
        a rerun.
      progress: a progress bar.
    """
    widths, seeds = check_grid(widths, seeds)
    if len(seeds) < 2:
        raise ValueError("the spread of K(0) across seeds needs at least 2 seeds, got "
                         f"{list(seeds)}.")
    check_steps(steps, record_every)
    if not (lr_factor > 0 and np.isfinite(lr_factor)):
        raise ValueError(f"lr_factor must be a positive number, got {lr_factor!r}.")
    if not isinstance(n_probe, int) or n_probe < 1:
        raise ValueError(f"n_probe must be a positive integer, got {n_probe!r}.")
    linear_problem = problem.linear() if linear_problem is None else linear_problem
    data = _check_pair(linear_problem, problem, n_residual, n_boundary, point_seed)
    config = {"study": "nonlinear", "network": network_config(net), "widths": list(widths),
              "seeds": list(seeds), "steps": steps, "record_every": record_every,
              "lr_factor": lr_factor, "n_probe": n_probe, "hessian_iters": hessian_iters,
              "source": {"problem": problem.name, "linear_problem": linear_problem.name,
                         "n_residual": n_residual, "n_boundary": n_boundary,
                         "point_seed": point_seed}}
    names = list(data["linear"])
    nonlinear_blocks = tuple(k for k, (op, _, _) in data["nonlinear"].items()
                             if not op.is_linear)
    compute = _compute_fn(net, data, names=names, probe_block=nonlinear_blocks[0],
                          n_probe=n_probe, hessian_iters=hessian_iters, lr_factor=lr_factor,
                          steps=steps, record_every=record_every)
    runs = run_grid(compute, widths, seeds, run_dir, "nonlinear study", progress, config)
    spread, drift, drift_abs, hessian, lr, slopes = _collect(runs, widths, seeds, names)
    return NonlinearStudy(widths, seeds, {"linear": linear_problem.name,
                                          "nonlinear": problem.name},
                          nonlinear_blocks, np.arange(0, steps + 1, record_every), spread,
                          drift, drift_abs, hessian, lr, slopes, config)
