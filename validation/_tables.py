"""What the studies' reports share: the slope table, geometric means over seeds, the
trend rule, block-pair names and the versions a result records. Writing files is
``validation._write``'s."""

from __future__ import annotations

import numpy as np

__all__ = []  # internal: shared by the studies' reports


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
