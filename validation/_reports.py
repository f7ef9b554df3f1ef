"""Single computations the command line runs, each one call from Python with a result
that writes itself: ``K*`` of an operator on a box (:func:`kernel_report`), a GP
posterior of a problem (:func:`posterior_report`), the spectrum of a problem's ``K*``
(:func:`spectrum_report`) and PINN training runs (:func:`train_report`).

Every result has ``to_json()`` (what its JSON file holds), ``arrays()`` and ``figures()``
(``validation.save`` writes them: ``validation._write``) and ``summary()`` (one line)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

import theory
from ntk_pinn import BlockKernel, Network, Operator, problems, trace_weights, train

from . import _tables as tables
from ._study import network_config

__all__ = ["KernelReport", "PosteriorReport", "SpectrumReport", "TrainReport",
           "kernel_report", "posterior_report", "spectrum_report", "train_report"]


@dataclasses.dataclass(frozen=True)
class KernelReport:
    """``K*`` over a boundary block ``"u"`` and a residual block ``"r"``, its spectrum
    and the time it took."""

    kernel: BlockKernel
    spectrum: theory.Spectrum
    operator: Operator
    boundary_operator: Operator
    net: Network
    points: dict        # {"u": (n_b, d), "r": (n, d)}
    seconds: float

    def to_json(self) -> dict:
        eig_rr = self.spectrum.eigenvalues["r"]
        return {"operator": str(self.operator), "boundary_operator": str(self.boundary_operator),
                "variables": list(self.operator.variables), "network": network_config(self.net),
                "kernel_info": dict(self.kernel.info), "kind": self.kernel.kind,
                "n_residual": int(self.points["r"].shape[0]),
                "n_boundary": int(self.points["u"].shape[0]),
                "seconds": round(self.seconds, 3),
                "trace_uu": self.spectrum.traces["u"], "trace_rr": self.spectrum.traces["r"],
                "trace_ratio_rr_over_uu": self.spectrum.trace_ratio("r", "u"),
                "eig_rr_max": float(eig_rr.max()), "eig_rr_min": float(eig_rr.min())}

    json_name = "summary.json"

    def arrays(self) -> dict:
        eig = self.spectrum.eigenvalues   # descending; the file keeps eigvalsh's ascending
        return {"kernel": dict(
            matrix=self.kernel.matrix, K_uu=self.kernel.block("u"),
            K_ur=self.kernel.block("u", "r"), K_rr=self.kernel.block("r"),
            x_boundary=self.points["u"], x_residual=self.points["r"], eig_K=eig["K"][::-1],
            eig_uu=eig["u"][::-1], eig_rr=eig["r"][::-1])}

    def figures(self) -> dict:
        from .plots import kernel_heatmap_figure, spectra_figure

        eig = self.spectrum.eigenvalues
        return {"kernel_heatmap": lambda: kernel_heatmap_figure(
                    self.kernel, title=f"K* for {self.operator}"),
                "spectrum": lambda: spectra_figure(
                    {"K*_uu": eig["u"], "K*_rr": eig["r"]},
                    title=f"Eigenvalues of K* blocks, {self.operator}")}

    def summary(self) -> str:
        return (f"K* ({self.kernel.kind}) for {self.operator} on {self.points['r'].shape[0]} "
                f"collocation + {self.points['u'].shape[0]} boundary points in "
                f"{self.seconds:.2f} s; tr(K_rr)/tr(K_uu) = "
                f"{self.spectrum.trace_ratio('r', 'u'):.3g}")


def kernel_report(net: Network, operator: Operator, boundary_operator: Operator | None = None,
                  *, n: int = 256, n_boundary: int | None = None, low: float = 0.0,
                  high: float = 1.0, seed: int = 0, kind: str = "ntk") -> KernelReport:
    """``K* = [[K_uu, K_ur], [K_ru, K_rr]]`` of ``operator`` (residual) and
    ``boundary_operator`` (default ``u``) on :func:`ntk_pinn.problems.box_points` of the
    box ``[low, high]^d``, with its spectrum.

    Args:
      net: the network spec.
      operator: the residual operator ``L``.
      boundary_operator: the boundary operator (default ``u``).
      n: collocation points.
      n_boundary: boundary points (default: the end points in 1-D, ``n // 4`` otherwise).
      low: the lower end of the box.
      high: the upper end of the box.
      seed: the seed of the points.
      kind: ``"ntk"`` or ``"nngp"``.
    """
    if boundary_operator is None:
        boundary_operator = Operator("u", variables=operator.variables)
    x, xb = problems.box_points(operator.dim, n, n_boundary, low, high, seed)
    t0 = time.perf_counter()
    K = theory.limiting_kernel(net, {"u": (boundary_operator, xb), "r": (operator, x)},
                               kind=kind)
    seconds = time.perf_counter() - t0
    return KernelReport(K, theory.spectrum(K), operator, boundary_operator, net,
                        {"u": xb, "r": x}, seconds)


@dataclasses.dataclass(frozen=True)
class PosteriorReport:
    """GP posteriors of ``problem``'s fields (``{field: Posterior}``; one, ``"u"``, for a
    scalar PDE) on its grid ``x_test`` against the exact solution ``exact: (n, F)``."""

    problem: problems.Problem
    posteriors: dict
    x_test: np.ndarray
    exact: np.ndarray
    settings: dict
    seconds: float

    @property
    def posterior(self) -> theory.Posterior:
        """The posterior of the first field (the only one of a scalar PDE)."""
        return next(iter(self.posteriors.values()))

    def _exact(self, field: str) -> np.ndarray:
        return self.exact[:, list(self.posteriors).index(field)]

    @property
    def errors(self) -> dict:
        """``{field: relative L2 error of its posterior mean}``."""
        return {f: float(np.linalg.norm(p.mean - self._exact(f)) / np.linalg.norm(self._exact(f)))
                for f, p in self.posteriors.items()}

    @property
    def error(self) -> float:
        """Relative L2 error of the posterior mean (the largest over a system's fields)."""
        return max(self.errors.values())

    def coverage(self, k: float, field: str | None = None) -> float:
        """Fraction of the grid within ``k`` σ (+ resolution) of the mean (of ``field``;
        by default over all fields)."""
        fields = list(self.posteriors) if field is None else [field]
        return float(np.mean(np.concatenate(
            [self.posteriors[f].covers(self._exact(f), k=k) for f in fields])))

    def to_json(self) -> dict:
        post = self.posterior
        out = {"problem": self.problem.name, **self.settings, "relative_l2_error": self.error,
               "fraction_within_3_sigma": self.coverage(3),
               "fraction_within_1_sigma": self.coverage(1), "std_resolution": post.resolution,
               "jitter": post.jitter, "amplitude_scale": post.scale,
               "seconds": round(self.seconds, 3), "versions": tables.versions()}
        if len(self.posteriors) > 1:
            errors = self.errors
            out["fields"] = {f: {"relative_l2_error": errors[f],
                                 "fraction_within_3_sigma": self.coverage(3, f),
                                 "std_resolution": p.resolution}
                             for f, p in self.posteriors.items()}
        return out

    json_name = "posterior.json"

    def arrays(self) -> dict:
        fields = list(self.posteriors)
        # (n,) arrays for one field (as before systems existed), (n, F) for a system
        pick = (lambda a: a[:, 0]) if len(fields) == 1 else (lambda a: a)  # noqa: E731
        return {"posterior": dict(
            x=self.x_test, fields=np.array(fields),
            mean=pick(np.stack([p.mean for p in self.posteriors.values()], axis=1)),
            std=pick(np.stack([p.std for p in self.posteriors.values()], axis=1)),
            exact=pick(self.exact))}

    def figures(self) -> dict:
        from .plots import posterior_figure, system_posterior_figure

        title = f"{self.problem.name}, {self.posterior.kind}"
        if len(self.posteriors) == 1:
            return {"posterior": lambda: posterior_figure(
                self.problem, self.x_test, self.posterior,
                title=f"{title}: rel. L2 {self.error:.2g}")}
        return {"posterior": lambda: system_posterior_figure(
            self.problem, self.x_test, self.posteriors, title=title)}

    def summary(self) -> str:
        errors = ", ".join(f"{f} {e:.3g}" for f, e in self.errors.items()) \
            if len(self.posteriors) > 1 else f"{self.error:.3g}"
        return (f"{self.problem.name} ({self.posterior.kind}): relative L2 error "
                f"{errors}, {100 * self.coverage(3):.0f}% of the grid within 3 sigma, "
                f"jitter {self.posterior.jitter:g}")


def posterior_report(net: Network | None, problem: problems.Problem, *, kind: str = "nngp",
                     t: float | None = None, noise: float = 0.0, calibrate="auto",
                     n_residual: int | None = None, n_boundary: int | None = None,
                     point_seed: int = 0, grid: int = 201,
                     memory_limit: int | None = None) -> PosteriorReport:
    """:func:`theory.gp_posteriors` of ``net`` conditioned on ``problem``'s constraints
    (``problem.data(n_residual, n_boundary, seed=point_seed)``), on ``problem.grid(grid)``,
    for every field of the problem.

    Unset settings come from the problem (``problem.defaults``: the points and the network
    that solve it; ``net=None`` builds ``mlp(1, depth, "erf", W_std, outputs=#fields)``
    from them), and ``calibrate="auto"`` is the calibrated band valid for ``kind``:
    ``"rkhs"`` (the error bound) for the NNGP, ``"mle"`` for the NTK ensemble.

    Args:
      net: the network spec, or ``None`` for the problem's own.
      problem: a linear problem (``ntk_pinn.problems``).
      kind: ``"nngp"`` or ``"ntk"``.
      t: training time of the NTK ensemble (``None``: converged).
      noise: observation-noise variance.
      calibrate: ``"auto"``, ``"none"``, ``"mle"`` or ``"rkhs"``.
      n_residual: collocation points per residual (default: the problem's).
      n_boundary: points per boundary constraint (default: the problem's).
      point_seed: the seed of the points.
      grid: test points per axis.
      memory_limit: bytes the posterior may plan to use.
    """
    d = problem.defaults
    n_residual = d["n_residual"] if n_residual is None else n_residual
    n_boundary = d["n_boundary"] if n_boundary is None else n_boundary
    if net is None:
        from ntk_pinn import mlp

        net = mlp(1, d["depth"], "erf", W_std=d["W_std"], outputs=len(problem.fields))
    if calibrate == "auto":
        calibrate = "rkhs" if kind == "nngp" else "mle"
    obs = list(problem.data(n_residual, n_boundary, seed=point_seed).values())
    x_test = problem.grid(grid)
    fields = " ".join(problem.fields)
    tests = {f: Operator(f, problem.variables, fields=fields) for f in problem.fields}
    t0 = time.perf_counter()
    posts = theory.gp_posteriors(net, obs, x_test, tests, kind=kind, t=t, noise=noise,
                                 calibrate=calibrate, memory_limit=memory_limit)
    settings = {"kind": kind, "t": t, "depth": net.depth, "activation": net.activation_name,
                "W_std": net.W_std, "b_std": net.b_std, "n_residual": n_residual,
                "n_boundary": n_boundary, "grid": grid, "calibrate": calibrate}
    return PosteriorReport(problem, posts, x_test, problem.exact_fields(x_test), settings,
                           time.perf_counter() - t0)


@dataclasses.dataclass(frozen=True)
class SpectrumReport:
    """Spectrum and adaptive weights of ``problem``'s ``K*``."""

    problem: problems.Problem
    kernel: BlockKernel
    spectrum: theory.Spectrum
    weights: dict

    def to_json(self) -> dict:
        return {"problem": self.problem.name, "traces": self.spectrum.traces,
                "mean_rates": self.spectrum.mean_rates,
                "rate_discrepancy": self.spectrum.rate_discrepancy,
                "adaptive_weights": self.weights}

    json_name = "spectrum.json"

    def figures(self) -> dict:
        from .plots import spectra_figure

        eig = self.spectrum.eigenvalues
        return {"spectrum": lambda: spectra_figure(
            {f"K*_{n}": eig[n] for n in self.kernel.names} | {"K*": eig["K"]},
            title=f"Eigenvalues of K*, {self.problem.name}")}

    def summary(self) -> str:
        return (f"{self.problem.name}: traces {self.spectrum.traces}; rate discrepancy "
                f"{self.spectrum.rate_discrepancy:.3g}; adaptive weights {self.weights}")


def spectrum_report(net: Network, problem: problems.Problem, *, n_residual: int = 64,
                    n_boundary: int = 2, point_seed: int = 0) -> SpectrumReport:
    """Eigenvalues, traces and Wang et al.'s adaptive weights of ``problem``'s ``K*``.

    Args:
      net: the network spec.
      problem: a linear problem.
      n_residual: collocation points.
      n_boundary: points per boundary constraint.
      point_seed: the seed of the points.
    """
    K = theory.limiting_kernel(net, problem.blocks(n_residual, n_boundary, seed=point_seed))
    return SpectrumReport(problem, K, theory.spectrum(K), trace_weights(K))


@dataclasses.dataclass(frozen=True)
class TrainReport:
    """``runs[label]``: the :class:`ntk_pinn.TrainResult` of each weighting (``"fixed"``,
    ``"adaptive"``)."""

    problem: problems.Problem
    runs: dict
    settings: dict

    def to_json(self) -> dict:
        return {"problem": self.problem.name, **self.settings, "versions": tables.versions(),
                "runs": {label: {"relative_l2_error": r.error, "seconds": round(r.seconds, 2),
                                 "steps": r.steps.tolist(), "errors": r.errors.tolist(),
                                 "losses": {k: v.tolist() for k, v in r.losses.items()},
                                 "weights": {k: v.tolist() for k, v in r.weights.items()}}
                         for label, r in self.runs.items()}}

    json_name = "training.json"

    def figures(self) -> dict:
        from .plots import training_figure

        return {f"training_{label}": (lambda r=result, label=label: training_figure(
                    r, title=f"{self.problem.name}, {label}"))
                for label, result in self.runs.items()}

    def summary(self) -> str:
        lines = [f"{self.problem.name} ({label} weights): relative L2 error {r.error:.3g} "
                 f"after {r.steps[-1]} steps ({r.seconds:.1f} s)"
                 for label, r in self.runs.items()]
        if min(r.error for r in self.runs.values()) > 1e-2:
            lines.append("  not solved (error > 1e-2): try more steps, optimizer 'lm' "
                         "(--optimizer lm), NTK-adaptive weights (--adaptive) or more points")
        return "\n".join(lines)


def train_report(net: Network, problem: problems.Problem, *, adaptive=(False,),
                 checkpoint=None, **train_kwargs) -> TrainReport:
    """:func:`ntk_pinn.train` of ``net`` on ``problem`` once per entry of ``adaptive``
    (each ``False``, ``True`` or an :class:`ntk_pinn.Adaptive`; e.g. ``(False, True)``
    compares fixed and NTK-adaptive weights); ``checkpoint``: a file path, one file per
    run when there are several (``NAME_fixed.npz``, ``NAME_adaptive.npz``);
    ``train_kwargs`` go to ``train``.

    Args:
      net: the network.
      problem: the problem.
      adaptive: one run per entry.
      checkpoint: a file path, or ``None``.
      **train_kwargs: options of :func:`ntk_pinn.train`.
    """
    runs = {}
    for a in adaptive:
        label = "adaptive" if a else "fixed"
        # One checkpoint file per run (a file belongs to one run's settings).
        path = None if checkpoint is None else (
            checkpoint if len(adaptive) == 1 else
            Path(checkpoint).with_name(f"{Path(checkpoint).stem}_{label}"
                                       f"{Path(checkpoint).suffix}"))
        runs[label] = train(net, problem, adaptive=a, checkpoint=path, **train_kwargs)
    lr = train_kwargs.get("lr")
    settings = {"width": net.width, "depth": net.depth, "activation": net.activation_name,
                **{k: train_kwargs[k] for k in ("optimizer", "damping", "steps", "seed")
                   if k in train_kwargs},
                **({} if lr is None else {"lr": "optax schedule" if callable(lr) else lr})}
    return TrainReport(problem, runs, settings)
