"""Writing results: JSON, CSV, Markdown reports and the one slope-table builder.

Every result of ``validation`` (studies and the single-computation reports) has
``to_json()``; studies also have ``rows()`` (CSV rows, one dict per row),
``report_md()`` and ``plot(out)``. :func:`save` writes whichever of them a result has
into a directory, so the command line and a Python session write the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["geometric_mean", "key_name", "save", "slope_table", "slopes_json", "trend", "versions",
           "write_csv"]


def versions() -> dict:
    """Installed versions of the packages a result depends on."""
    from importlib import metadata

    out = {}
    for dist in ("ntk-pinn", "jax", "jaxlib", "neural-tangents", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def key_name(key) -> str:
    """A block pair ``(a, b)`` as ``"a/b"``; any other key as its string."""
    return "/".join(key) if isinstance(key, tuple) else str(key)


def slopes_json(slopes: dict, name=key_name) -> dict:
    """``{name(key): {"slope", "low", "high"}}`` from ``{key: (slope, low, high)}``."""
    return {name(k): dict(zip(("slope", "low", "high"), v)) for k, v in slopes.items()}


def slope_table(widths, rows, *, columns=("block",), extra=()) -> list[str]:
    """Markdown table lines: per row its label cells, the per-width geometric means over
    seeds of its values (the line fitted on the per-seed logs passes through them, so the
    table and the slope agree), the fitted slope with its 95% CI ("n/a" when there is
    none), then ``extra`` cells.

    ``rows``: iterable of ``(cells, values (n_widths, n_seeds), (slope, low, high),
    extra_cells)`` with ``len(cells) == len(columns)``, ``len(extra_cells) == len(extra)``.
    """
    head = list(columns) + [f"w={w}" for w in widths] + ["slope [95% CI]"] + list(extra)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cells, values, (s, lo, hi), more in rows:
        means = [f"{m:.3g}" for m in geometric_mean(values)]
        fit = "n/a" if np.isnan(s) else f"{s:.2f} [{lo:.2f}, {hi:.2f}]"
        lines.append("| " + " | ".join(list(cells) + means + [fit] + list(more)) + " |")
    return lines


def geometric_mean(values) -> np.ndarray:
    """``(n_widths,)`` geometric means over seeds of ``values: (n_widths, n_seeds)``."""
    return np.exp(np.mean(np.log(np.maximum(np.asarray(values, dtype=float), 1e-300)), axis=1))


def trend(widths, values) -> str:
    """``"shrinks"`` when ``values`` (one per width, increasing widths) fall from the
    narrowest to the widest network by at least half the decay, in logs, of
    ``width^(-1/2)``: ``values[-1] < (w_min / w_max)^(1/4) values[0]`` (0.5 for widths 64
    to 1024, 0.71 for 1024 to 4096); else ``"does not shrink"``."""
    threshold = (widths[0] / widths[-1]) ** 0.25
    return "shrinks" if values[-1] < threshold * values[0] else "does not shrink"


def _cell(value) -> str:
    return f"{value:.10g}" if isinstance(value, (float, np.floating)) else str(value)


def write_csv(path, rows: list) -> None:
    """``rows``: dicts with the same keys (the header); floats written with 10 digits."""
    if not rows:
        raise ValueError(f"no rows to write to {path}.")
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(_cell(r[k]) for k in header) for r in rows]
    Path(path).write_text("\n".join(lines) + "\n")


def save(result, out, *, json_name: str = "results.json") -> list[Path]:
    """Write ``result`` into the directory ``out`` (created): ``results.json``
    (``to_json()``), and where the result has them ``results.csv`` (``rows()``),
    ``report.md`` (``report_md()``) and its figures (``plot(out)``, which returns their
    paths). Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / json_name]
    written[0].write_text(json.dumps(result.to_json(), indent=2))
    if hasattr(result, "rows"):
        write_csv(out / "results.csv", result.rows())
        written.append(out / "results.csv")
    if hasattr(result, "report_md"):
        (out / "report.md").write_text(result.report_md())
        written.append(out / "report.md")
    if hasattr(result, "plot"):
        written += list(result.plot(out))
    return written
