"""The one set of writers of ``validation``: JSON, CSV, Markdown, ``.npz`` arrays and
figures, each written atomically (a sibling temporary file, renamed over the target), so
that an interrupted run leaves either the old file or the new one, never half a file.

Every result (studies, reports, reproductions) describes its files the same way and
:func:`save` writes them; every ``ntk-pinn`` command ends in that call:

- ``to_json()`` -> ``{json_name}`` (default ``results.json``),
- ``csv_rows()`` (optional) -> ``results.csv``,
- ``markdown()`` (optional) -> ``{markdown_name}`` (default ``report.md``),
- ``arrays()`` (optional) -> ``{name: {array name: array}}``, one ``name.npz`` each,
- ``figures()`` (optional) -> ``{file name: () -> matplotlib Figure}``, one PNG each.

A result may set the class attributes ``json_name`` and ``markdown_name``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["save"]


def _atomic(path, write) -> Path:
    """``write(tmp_path)``, then rename ``tmp_path`` over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text(path, text: str) -> Path:
    """``text`` into ``path`` (UTF-8), atomically."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def jsonable(value):
    """``value`` with numpy arrays and scalars as lists and numbers, tuples as lists,
    non-finite floats as strings (``"nan"``, ``"inf"``), keys as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else str(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(path, payload, *, indent: int = 2) -> Path:
    """``payload`` (made :func:`jsonable`) as JSON, atomically."""
    return write_text(path, json.dumps(jsonable(payload), indent=indent))


def _cell(value) -> str:
    return f"{value:.10g}" if isinstance(value, (float, np.floating)) else str(value)


def write_csv(path, rows: list) -> Path:
    """``rows``: dicts with the same keys (the header); floats written with 10 digits."""
    if not rows:
        raise ValueError(f"no rows to write to {path}.")
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(_cell(r[k]) for k in header) for r in rows]
    return write_text(path, "\n".join(lines) + "\n")


def write_npz(path, arrays: dict) -> Path:
    """``{name: array}`` as one ``.npz`` (no pickles), atomically."""
    return _atomic(path, lambda tmp: np.savez(tmp, **arrays))


def write_figure(path, figure, *, dpi: int = 120) -> Path:
    """A matplotlib figure as PNG, atomically; the figure is closed. Its layout is
    tightened first (no axis label over a neighbour's tick labels)."""
    import warnings

    from .plots import _pyplot

    plt = _pyplot()
    with warnings.catch_warnings():   # a layout it cannot tighten is left as it is
        warnings.simplefilter("ignore")
        figure.tight_layout()
    try:
        return _atomic(path, lambda tmp: figure.savefig(tmp, dpi=dpi, bbox_inches="tight",
                                                        format="png"))
    finally:
        plt.close(figure)


def save(result, out) -> list[Path]:
    """Write ``result``'s files into the directory ``out`` (created); see the module
    docstring. Returns the paths written.

    Args:
      result: a study, report or reproduction (``to_json()`` and optionally
        ``csv_rows()``, ``markdown()``, ``arrays()``, ``figures()``).
      out: the directory.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json(out / getattr(result, "json_name", "results.json"),
                          result.to_json())]
    if hasattr(result, "csv_rows"):
        written.append(write_csv(out / "results.csv", result.csv_rows()))
    if hasattr(result, "markdown"):
        written.append(write_text(out / getattr(result, "markdown_name", "report.md"),
                                  result.markdown()))
    if hasattr(result, "arrays"):
        written += [write_npz(out / f"{name}.npz", arrays)
                    for name, arrays in result.arrays().items()]
    if hasattr(result, "figures"):
        written += [write_figure(out / f"{name}.png", make())
                    for name, make in result.figures().items()]
    return written
