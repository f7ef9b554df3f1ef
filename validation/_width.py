"""Width-convergence study: the empirical PINN NTK at initialization against ``K*``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

import theory
from ntk_pinn import Network, as_blocks, empirical_kernel

__all__ = ["WidthStudy", "width_study", "fit_slope"]


@dataclasses.dataclass(frozen=True)
class WidthStudy:
    """``errors[(a, b)]``: ``(n_widths, n_seeds)`` array of ``‖K_emp - K*‖_F / ‖K*‖_F`` for
    block pair ``(a, b)``; ``slopes[(a, b)] = (slope, low, high)``: least-squares slope of
    log error against log width over all runs, with its 95% confidence interval."""

    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    errors: dict
    slopes: dict

    def status(self, expected: float = -0.5) -> dict:
        return slope_status(self.slopes, expected)

    def holds(self, expected: float = -0.5) -> bool:
        return all(s == "holds" for s in self.status(expected).values())

    def verdict(self, expected: float = -0.5) -> str:
        return slope_verdict(f"width^({expected:g}) convergence", self.slopes, expected)


def slope_status(slopes: dict, expected: float = -0.5) -> dict:
    """Per block pair: ``"holds"`` (the CI contains ``expected`` and excludes 0),
    ``"inconclusive"`` (the CI contains both: too few widths/seeds) or ``"fails"``."""
    out = {}
    for pair, (slope, lo, hi) in slopes.items():
        fits = lo <= expected <= hi
        out[pair] = "holds" if fits and hi < 0 else "inconclusive" if fits else "fails"
    return out


def slope_verdict(claim: str, slopes: dict, expected: float = -0.5) -> str:
    """One line: the overall status of ``claim`` and each pair's slope, CI and status."""
    status = slope_status(slopes, expected)
    values = set(status.values())
    overall = "holds" if values == {"holds"} else "fails" if "fails" in values else "inconclusive"
    parts = [f"{'/'.join(p)}: slope {s:.2f} [{lo:.2f}, {hi:.2f}] {status[p]}"
             for p, (s, lo, hi) in slopes.items()]
    return f"{claim} {overall.upper()}: " + "; ".join(parts)


def fit_slope(widths, errors: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Slope of ``log(errors)`` (``(n_widths, n_seeds)``) on ``log(widths)`` with a
    ``level`` confidence interval (Student t on the regression's standard error)."""
    w = np.repeat(np.asarray(widths, dtype=float), errors.shape[1])
    e = errors.reshape(-1)
    fit = stats.linregress(np.log(w), np.log(e))
    if w.size <= 2:
        return float(fit.slope), -math.inf, math.inf
    t = stats.t.ppf(0.5 + level / 2, w.size - 2)
    return float(fit.slope), float(fit.slope - t * fit.stderr), float(fit.slope + t * fit.stderr)


def _check(widths, seeds):
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
    return tuple(int(w) for w in widths), tuple(int(s) for s in seeds)


def _write_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)  # atomic: an interrupt leaves either nothing or the whole file


def run_grid(compute, widths, seeds, run_dir, desc: str, progress: bool) -> dict:
    """``{(w, s): compute(w, s)}`` (JSON-able dicts) with a progress bar. With ``run_dir``
    each result is written atomically to ``run_dir/runs/w{w}_s{s}.json`` as it finishes and
    read back instead of recomputed on a rerun, so an interrupt loses nothing."""
    runs = None
    if run_dir is not None:
        runs = Path(run_dir) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
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
                    _write_atomic(path, results[(w, s)])
                bar.set_postfix(width=w, seed=s)
            bar.update(1)
    return results


def block_pairs(names) -> list:
    """The block pairs ``(a, b)`` with ``a`` at or before ``b``: one per distinct block."""
    return [(a, b) for i, a in enumerate(names) for b in names[i:]]


def block_errors(K_emp, K_star, pairs) -> dict:
    return {f"{a}|{b}": float(np.linalg.norm(K_emp.block(a, b) - K_star.block(a, b))
                              / np.linalg.norm(K_star.block(a, b))) for a, b in pairs}


def width_study(net: Network, blocks, widths, seeds, *, run_dir=None,
                progress: bool = True) -> WidthStudy:
    """Empirical NTK of ``net.with_width(w)`` at initialization (seed ``s``) against the
    limiting ``K*``, for every ``w`` in ``widths`` and ``s`` in ``seeds``.

    ``blocks``: as for :func:`theory.limiting_kernel`. With ``run_dir`` each finished
    ``(width, seed)`` is written atomically to ``run_dir/runs/w{width}_s{seed}.json`` as it
    completes and a rerun skips the finished ones, so an interrupt loses nothing.
    """
    import jax

    widths, seeds = _check(widths, seeds)
    parsed = as_blocks(blocks, "blocks")
    pairs = block_pairs([b.name for b in parsed])
    K_star = theory.limiting_kernel(net, blocks)
    d = parsed[0].points.shape[1]

    def compute(w, s):
        wide = net.with_width(w)
        K_emp = empirical_kernel(wide, wide.init(jax.random.PRNGKey(s), d), blocks)
        return {"errors": block_errors(K_emp, K_star, pairs)}

    runs = run_grid(compute, widths, seeds, run_dir, "width study", progress)
    results = {key: run["errors"] for key, run in runs.items()}
    errors = {(a, b): np.array([[results[(w, s)][f"{a}|{b}"] for s in seeds] for w in widths])
              for a, b in pairs}
    slopes = {pair: fit_slope(widths, e) for pair, e in errors.items()}
    return WidthStudy(widths, seeds, errors, slopes)
