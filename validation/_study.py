"""Machinery shared by the studies: checked width/seed grids run resumably (atomic
per-run files, a recorded configuration), block pairs, relative block errors, log-log
slope fits and their verdicts."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from ._write import write_text

__all__ = ["bound_status", "fit_slope", "run_grid", "slope_status", "slope_verdict"]


def check_grid(widths, seeds) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validated ``(widths, seeds)`` as tuples of ints: at least two distinct widths (a
    slope is fitted against width) and distinct seeds."""
    widths, seeds = tuple(widths), tuple(seeds)
    if not widths:
        raise ValueError("widths is empty: give at least two widths, e.g. (64, 256, 1024).")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. (0, 1, 2).")
    for w in widths:
        if not isinstance(w, (int, np.integer)) or isinstance(w, bool) or w < 1:
            raise ValueError(f"every width must be an integer >= 1, got {w!r}.")
    for s in seeds:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise ValueError(f"every seed must be an integer, got {s!r}.")
    if len(set(widths)) != len(widths):
        raise ValueError(f"widths {list(widths)} repeat a width; give distinct widths, e.g. "
                         "(64, 256, 1024).")
    if len(widths) < 2:
        raise ValueError(f"a study fits a slope against width and needs at least two "
                         f"distinct widths, got {list(widths)}; e.g. (64, 256, 1024).")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {list(seeds)} repeat a seed; give distinct seeds.")
    return tuple(int(w) for w in widths), tuple(int(s) for s in seeds)


def check_steps(steps: int, record_every: int) -> None:
    for label, value in (("steps", steps), ("record_every", record_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    if steps % record_every:
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every}).")


def network_config(net) -> dict:
    """The JSON-able description of a network spec (its width is the study's variable)."""
    config = {"depth": net.depth, "activation": net.activation_name, "W_std": net.W_std,
              "b_std": net.b_std}
    if net.is_standardized:
        config.update(input_mean=net.input_mean, input_std=net.input_std)
    if net.parameterization != "ntk":
        config["parameterization"] = net.parameterization
    if net.initialization != "gaussian":
        config["initialization"] = net.initialization
    if net.outputs != 1:
        config["outputs"] = net.outputs
    return config


def blocks_config(blocks) -> dict:
    """Per block: its operator, its number of points and a digest of the points, so that a
    run directory can tell whether its runs were computed on the same blocks."""
    return {b.name: {"operator": str(b.operator), "n": b.size,
                     "sha1": hashlib.sha1(np.ascontiguousarray(b.points).tobytes()).hexdigest()}
            | ({"fields": list(b.operator.fields)} if b.operator.n_fields > 1 else {})
            for b in blocks}


def _claim_run_dir(run_dir: Path, config: dict) -> None:
    """Record ``config`` in ``run_dir/config.json``; refuse a directory holding another
    configuration, since its finished runs would be mixed into this one."""
    path = run_dir / "config.json"
    config = json.loads(json.dumps(config))  # as it reads back (tuples become lists)
    if path.exists() and json.loads(path.read_text()) != config:
        raise ValueError(f"{run_dir} holds a study with another configuration ({path}); use "
                         "a new run directory (--out).")
    write_text(path, json.dumps(config, indent=2))


def run_grid(compute, widths, seeds, run_dir, desc: str, progress: bool,
             config: dict | None = None) -> dict:
    """``{(w, s): compute(w, s)}`` (JSON-able dicts) with a progress bar. With ``run_dir``
    each result is written atomically to ``run_dir/runs/w{w}_s{s}.json`` as it finishes and
    read back instead of recomputed on a rerun, so an interrupt loses nothing; ``config``
    (JSON-able) is recorded in ``run_dir/config.json`` and a directory holding another
    configuration is refused.

    Args:
      compute: ``(width, seed) -> dict`` (JSON-able).
      widths: the widths.
      seeds: the seeds.
      run_dir: where runs are kept, or ``None``.
      desc: the progress bar's label.
      progress: show the progress bar.
      config: the study's configuration (JSON-able).
    """
    runs = None
    if run_dir is not None:
        runs = Path(run_dir) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        if config is not None:
            _claim_run_dir(Path(run_dir), config)
    results = {}
    todo = [(w, s) for w in widths for s in seeds]
    with tqdm(total=len(todo), disable=not progress, desc=desc, unit="run") as bar:
        for w, s in todo:
            path = runs / f"w{w}_s{s}.json" if runs is not None else None
            if path is not None and path.exists():
                results[(w, s)] = json.loads(path.read_text())
            else:
                results[(w, s)] = {"width": w, "seed": s, **compute(w, s)}
                if path is not None:
                    write_text(path, json.dumps(results[(w, s)]))
                bar.set_postfix(width=w, seed=s)
            bar.update(1)
    return results


def block_pairs(names) -> list:
    """The block pairs ``(a, b)`` with ``a`` at or before ``b``: one per distinct block of
    a square kernel (``BlockKernel.computed_pairs``)."""
    from ntk_pinn import BlockKernel

    names = list(names)
    return [(names[i], names[j]) for i, j in BlockKernel.computed_pairs(names, names)]


# A block of the reference below this fraction of its diagonal blocks' geometric scale is
# zero in the limit (a cross-field block of a system whose operators share no field: it is
# exactly 0.0 in K*; the largest nonzero block ratio in the built-in problems is ~1e-3).
_VANISHING = 1e-12


def block_scale(K_star, a, b) -> float:
    """The denominator of :func:`block_errors` for block ``(a, b)``: ``‖K*_ab‖_F``, or for
    a block that vanishes in the limit ``sqrt(‖K*_aa‖_F ‖K*_bb‖_F)`` (the scale the
    finite network's block is measured against: its correlation-like size)."""
    own = float(np.linalg.norm(K_star.block(a, b)))
    scale = float(np.sqrt(np.linalg.norm(K_star.block(a, a)) * np.linalg.norm(K_star.block(b, b))))
    return own if own > _VANISHING * scale else scale


def block_errors(K_emp, K_star, pairs) -> dict:
    """``{"a|b": ‖K_emp_ab - K*_ab‖_F / block_scale}``: relative to ``‖K*_ab‖_F``, or for a
    block that vanishes in the limit (a system's blocks on different fields) to
    ``sqrt(‖K*_aa‖_F ‖K*_bb‖_F)`` (:func:`block_scale`)."""
    return {f"{a}|{b}": float(np.linalg.norm(K_emp.block(a, b) - K_star.block(a, b))
                              / block_scale(K_star, a, b)) for a, b in pairs}


def fit_slope(widths, errors: np.ndarray, *, level: float = 0.95,
              paired: bool = False) -> tuple[float, float, float]:
    """Slope of ``log(errors)`` (``(n_widths, n_seeds)``) on ``log(widths)`` with a
    ``level`` confidence interval (Student t on the regression's standard error).

    ``paired``: column ``s`` holds the same seed (or seed pair) at every width, so each
    column gets its own intercept (a fixed effect) and the slope comes from the changes
    within columns (``n_widths * n_seeds - n_seeds - 1`` degrees of freedom). Use it when a
    seed shifts a quantity at every width alike -- e.g. the loss curvature at
    initialization, set by that seed's random residual, varies 30x between seeds and
    little with width: the pooled fit then reads the seeds' spread as noise in the slope.

    Args:
      widths: ``(n_widths,)`` widths (at least two distinct).
      errors: ``(n_widths, n_seeds)`` positive values.
      level: the confidence level of the interval.
      paired: one intercept per seed (column).

    Returns:
      ``(slope, low, high)``; the interval is NaN when there are no degrees of freedom.
    """
    errors = np.asarray(errors, dtype=float)
    if paired and errors.shape[1] > 1:
        y = np.log(errors)
        x = np.broadcast_to(np.log(np.asarray(widths, dtype=float))[:, None], y.shape)
        y, x = y - y.mean(axis=0), x - x.mean(axis=0)
        sxx = float(np.sum(x * x))
        slope = float(np.sum(x * y) / sxx)
        df = y.size - y.shape[1] - 1
        if df < 1:
            return slope, -math.inf, math.inf
        stderr = math.sqrt(float(np.sum((y - slope * x) ** 2)) / df / sxx)
        t = stats.t.ppf(0.5 + level / 2, df)
        return slope, slope - t * stderr, slope + t * stderr
    w = np.repeat(np.asarray(widths, dtype=float), errors.shape[1])
    e = errors.reshape(-1)
    fit = stats.linregress(np.log(w), np.log(e))
    if w.size <= 2:
        return float(fit.slope), -math.inf, math.inf
    t = stats.t.ppf(0.5 + level / 2, w.size - 2)
    return float(fit.slope), float(fit.slope - t * fit.stderr), float(fit.slope + t * fit.stderr)


def slope_status(slopes: dict, expected: float = -0.5) -> dict:
    """Per key: ``"holds"`` (the CI contains ``expected`` and excludes 0),
    ``"inconclusive"`` (the CI contains both: too few widths/seeds) or ``"fails"``.

    Args:
      slopes: ``{key: (slope, low, high)}``.
      expected: the rate the claim predicts.
    """
    out = {}
    for pair, (slope, lo, hi) in slopes.items():
        fits = lo <= expected <= hi
        out[pair] = "holds" if fits and hi < 0 else "inconclusive" if fits else "fails"
    return out


def bound_status(slopes: dict, rate: float = -0.5) -> dict:
    """Per key, the status of a claimed *bound* ``O(width^rate)``: ``"holds"`` when the
    CI excludes 0 and reaches ``rate`` or below (a faster decay is within the bound),
    ``"fails"`` when the CI lies above ``rate`` (a slower decay, or growth), else
    ``"inconclusive"`` (the CI contains both ``rate`` and 0).

    Args:
      slopes: ``{key: (slope, low, high)}``.
      rate: the claimed rate of the bound.
    """
    return {key: "fails" if lo > rate else "holds" if hi < 0 else "inconclusive"
            for key, (slope, lo, hi) in slopes.items()}


def overall(statuses) -> str:
    """``"holds"`` if every status holds, ``"fails"`` if any fails, else inconclusive (an
    ``"n/a"`` claim makes the whole inconclusive, never a verdict)."""
    values = set(statuses)
    return "holds" if values == {"holds"} else "fails" if "fails" in values else "inconclusive"


def slope_verdict(claim: str, slopes: dict, *, expected: float = -0.5,
                  status_fn=slope_status) -> str:
    """One line: the overall status of ``claim`` and each pair's slope, CI and status
    (``status_fn(slopes, expected)``: :func:`slope_status` for a rate, :func:`bound_status`
    for a bound).

    Args:
      claim: the claim, in words.
      slopes: ``{key: (slope, low, high)}``.
      expected: the rate.
      status_fn: :func:`slope_status` or :func:`bound_status`.
    """
    status = status_fn(slopes, expected)
    parts = [f"{'/'.join(p)}: slope {s:.2f} [{lo:.2f}, {hi:.2f}] {status[p]}"
             for p, (s, lo, hi) in slopes.items()]
    return f"{claim} {overall(status.values()).upper()}: " + "; ".join(parts)
