"""Width-convergence study: the empirical PINN NTK at initialization against ``K*``."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

import theory
from ntk_pinn import Network, empirical_kernel
from ntk_pinn.internal import as_blocks

from . import _tables as tables
from ._study import (block_errors, block_pairs, blocks_config, check_grid, fit_slope,
                     network_config, run_grid, slope_status, slope_verdict)

__all__ = ["WidthStudy", "width_study"]


def setup_lines(config: dict) -> list[str]:
    """The report's description of the network, points and seeds of a study ``config``."""
    net = config["network"]
    line = (f"Network: depth {net['depth']}, {net['activation']}, W_std {net['W_std']}, "
            f"b_std {net['b_std']}.")
    source = config.get("source", {})
    if {"n_residual", "n_boundary", "point_seed"} <= set(source):
        line += (f" Points: {source['n_residual']} residual, {source['n_boundary']} per "
                 f"constraint (seed {source['point_seed']}).")
    else:
        line += " Points: " + ", ".join(f"{n}: {b['n']}" for n, b in config["blocks"].items()) + "."
    return [line + f" Seeds: {list(config['seeds'])}."]


@dataclasses.dataclass(frozen=True)
class WidthStudy:
    """``errors[(a, b)]``: ``(n_widths, n_seeds)`` array of ``‖K_emp - K*‖_F / ‖K*‖_F`` for
    block pair ``(a, b)``; ``slopes[(a, b)] = (slope, low, high)``: least-squares slope of
    log error against log width over all runs, with its 95% confidence interval;
    ``config``: what was run (network, blocks, widths, seeds, ``source``)."""

    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    errors: dict
    slopes: dict
    config: dict = dataclasses.field(default_factory=dict)

    def status(self, expected: float = -0.5) -> dict:
        return slope_status(self.slopes, expected)

    def holds(self, expected: float = -0.5) -> bool:
        return all(s == "holds" for s in self.status(expected).values())

    def verdict(self, expected: float = -0.5) -> str:
        return slope_verdict(f"width^({expected:g}) convergence", self.slopes,
                             expected=expected)

    @property
    def title(self) -> str:
        return self.config.get("source", {}).get("problem", "blocks")

    def to_json(self) -> dict:
        return {"config": self.config, "versions": tables.versions(),
                "widths": list(self.widths), "seeds": list(self.seeds),
                "errors": {"/".join(p): e.tolist() for p, e in self.errors.items()},
                "slopes": tables.slopes_json(self.slopes), "holds": self.holds(),
                "verdict": self.verdict()}

    def csv_rows(self) -> list:
        return [{"block": "/".join(p), "width": w, "seed": s, "relative_error": float(e[i, j])}
                for p, e in self.errors.items() for i, w in enumerate(self.widths)
                for j, s in enumerate(self.seeds)]

    def markdown(self) -> str:
        lines = [f"# Width study: {self.title}", "", f"**Verdict:** {self.verdict()}", ""]
        lines += setup_lines(self.config) + [""]
        lines += tables.slope_table(self.widths, [(("/".join(p),), e, self.slopes[p], ())
                                                  for p, e in self.errors.items()])
        lines += ["", "Entries: geometric mean over seeds of ||K_emp - K*||_F / ||K*||_F at "
                  "initialization."]
        vanishing = self.config.get("vanishing_blocks", [])
        if vanishing:
            lines += ["", "Blocks that vanish in the limit (operators on different fields of a "
                      "system, Θ_fg = 0 for f ≠ g): " + ", ".join(vanishing) + "; their entry "
                      "is ||K_emp_ab||_F / sqrt(||K*_aa||_F ||K*_bb||_F), which must fall like "
                      "width^(-1/2)."]
        lines += ["", "![errors vs width](width_errors.png)"]
        return "\n".join(lines) + "\n"

    def figures(self) -> dict:
        from .plots import width_study_figure

        net = self.config.get("network", {})
        return {"width_errors": lambda: width_study_figure(
            self, title=f"{self.title}: depth-{net.get('depth')} {net.get('activation')}")}


def width_study(net: Network, blocks, widths, seeds, *, run_dir=None,
                progress: bool = True, source: dict | None = None) -> WidthStudy:
    """Empirical NTK of ``net.with_width(w)`` at initialization (seed ``s``) against the
    limiting ``K*``, for every ``w`` in ``widths`` and ``s`` in ``seeds`` (in the standard
    parameterization, against the kernel of width ``w``: it depends on the width).

    Args:
      net: the network spec; its width is replaced by each of ``widths``.
      blocks: as for :func:`theory.limiting_kernel`.
      widths: the widths of the finite networks (at least two distinct).
      seeds: the initialization seeds run at every width.
      run_dir: with it, each finished ``(width, seed)`` is written atomically to
        ``run_dir/runs/w{width}_s{seed}.json`` as it completes and a rerun skips the
        finished ones, so an interrupt loses nothing; a directory holding a study with
        another configuration (``run_dir/config.json``) is refused.
      progress: show a progress bar.
      source: JSON-able description of where the blocks came from (e.g. ``{"problem":
        ..., "n_residual": ..., "n_boundary": ..., "point_seed": ...}``), recorded in the
        configuration and the report.
    """
    import jax

    widths, seeds = check_grid(widths, seeds)
    parsed = as_blocks(blocks, "blocks")
    pairs = block_pairs([b.name for b in parsed])
    config = {"study": "width", "network": network_config(net),
              "blocks": blocks_config(parsed), "widths": list(widths), "seeds": list(seeds),
              "source": dict(source or {})}
    theory.plan_kernel(net, blocks)  # refuses bad blocks before anything is computed
    d = parsed[0].points.shape[1]

    @functools.cache
    def k_star(width):  # not needed when every run is on disk already
        return theory.limiting_kernel(net.with_width(width), blocks)

    # Blocks zero in the limit (a system's blocks on different fields) are known from the
    # operators alone: no field in common. (Recorded only when there are some, so that the
    # configuration of a scalar study is what it always was.)
    op_of = {b.name: b.operator for b in parsed}
    vanishing = ["/".join(p) for p in pairs if not theory.shared_fields(*map(op_of.get, p))]
    if vanishing:
        config["vanishing_blocks"] = vanishing

    def compute(w, s):
        wide = net.with_width(w)
        K_emp = empirical_kernel(wide, wide.init(jax.random.PRNGKey(s), d), blocks)
        # NTK parameterization: one width-free K*; standard: the kernel of each width.
        reference = k_star(w if net.kernel_depends_on_width else net.width)
        return {"errors": block_errors(K_emp, reference, pairs)}

    runs = run_grid(compute, widths, seeds, run_dir, "width study", progress, config)
    results = {key: run["errors"] for key, run in runs.items()}
    errors = {(a, b): np.array([[results[(w, s)][f"{a}|{b}"] for s in seeds] for w in widths])
              for a, b in pairs}
    slopes = {pair: fit_slope(widths, e) for pair, e in errors.items()}
    return WidthStudy(widths, seeds, errors, slopes, config)
