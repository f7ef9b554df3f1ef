"""The exact infinite-width PINN kernel ``K*`` from neural-tangents' analytic kernels.

Block ``(a, b)`` is ``L_a,x L_b,x' Θ(x, x')``, obtained by applying each block's operator
to one argument of the *batched* ``kernel_fn`` (see ``Operator.on_kernel``): a forward-mode
JVP whose tangent is a unit coordinate on every row differentiates all pairs at once.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ntk_pinn import Network, Operator
from ntk_pinn._blocks import BlockKernel, as_blocks, assemble, check_same_variables

__all__ = ["limiting_kernel", "operator_kernel_fn", "KINDS"]

KINDS = ("ntk", "nngp")
# Tiles of about this many entries bound the memory of the derivative intermediates
# (a depth-2, fourth-order JVP keeps a few hundred arrays of the tile's size alive).
_TILE_ENTRIES = 2 ** 18
_MIN_TILE_ENTRIES = 2 ** 12
_PROGRESS_ENTRIES = 2 ** 24


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")


def operator_kernel_fn(net: Network, op1: Operator, op2: Operator | None = None,
                       kind: str = "ntk") -> Callable:
    """``(x1: (n1, d), x2: (n2, d)) -> (n1, n2)``: ``L1_x L2_x' k(x, x')``, jit-compatible.

    ``k`` is ``net.kernel_fn(., ., kind)``; ``op2`` defaults to ``op1``.
    """
    op2 = op1 if op2 is None else op2
    _check_kind(kind)
    for op in (op1, op2):
        op.require_linear("the limiting kernel")
        net.check_differentiable(op, op1.order + op2.order)

    def k(x1, x2):
        return net.kernel_fn(x1, x2, kind)

    return op2.on_kernel(op1.on_kernel(k, 0), 1)


@functools.lru_cache(maxsize=256)
def _compiled(net: Network, op1: Operator, op2: Operator, kind: str, n_devices: int):
    fn = operator_kernel_fn(net, op1, op2, kind)
    if n_devices > 1:
        return jax.pmap(fn)
    return jax.jit(fn)


def _pad_rows(x: np.ndarray, multiple: int) -> np.ndarray:
    """Pad with copies of the first row (valid points) so one compiled shape serves all."""
    extra = -x.shape[0] % multiple
    return np.concatenate([x, np.repeat(x[:1], extra, axis=0)]) if extra else x


def _tile_sizes(n1: int, n2: int, diagonal: bool, batch_size: int | None,
                entries: int = _TILE_ENTRIES) -> tuple[int, int]:
    if diagonal:  # square tiles, so tile (i, j) is the transpose of tile (j, i)
        edge = batch_size or int(math.isqrt(entries))
        edge = min(edge, n1)
        return edge, edge
    b1 = min(n1, batch_size or int(math.isqrt(entries)))
    b2 = min(n2, max(b1, entries // b1))
    return b1, b2


def _tiles(n1: int, n2: int, b1: int, b2: int, diagonal: bool) -> list[tuple[int, int]]:
    return [(i, j) for i in range(0, n1, b1) for j in range(0, n2, b2)
            if not (diagonal and j < i)]


def _fill_block(fn, x1: np.ndarray, x2: np.ndarray, out: np.ndarray, b1: int, b2: int,
                diagonal: bool, n_devices: int, bar) -> None:
    """Tiled evaluation of ``fn`` into ``out``.

    For a ``diagonal`` block (same operator and points on both sides) only tiles on and
    above the diagonal are computed; the others are their transposes. Tiles are grouped
    ``n_devices`` at a time (``pmap``); group ``k + 1`` is dispatched before group ``k``
    is copied back (JAX dispatch is asynchronous).
    """
    n1, n2 = x1.shape[0], x2.shape[0]
    x1p, x2p = _pad_rows(x1, b1), _pad_rows(x2, b2)
    tiles = _tiles(n1, n2, b1, b2, diagonal)
    groups = [tiles[k:k + n_devices] for k in range(0, len(tiles), n_devices)]

    def dispatch(group):
        group = group + [group[-1]] * (n_devices - len(group))
        a = np.stack([x1p[i:i + b1] for i, _ in group])
        b = np.stack([x2p[j:j + b2] for _, j in group])
        if n_devices == 1:
            return fn(a[0], b[0])[None]
        return fn(a, b)

    def store(group, values):
        values = np.asarray(values)
        for (i, j), tile in zip(group, values):
            ni, nj = min(b1, n1 - i), min(b2, n2 - j)
            tile = tile[:ni, :nj]
            if diagonal and j == i:  # entries (a, b), (b, a) differ by round-off
                tile = (tile + tile.T) / 2
            out[i:i + ni, j:j + nj] = tile
            if diagonal and j > i:
                out[j:j + nj, i:i + ni] = tile.T
        bar.update(len(group))

    pending = None
    for group in groups:
        current = (group, dispatch(group))
        if pending is not None:
            store(*pending)
        pending = current
    if pending is not None:
        store(*pending)


def limiting_kernel(net: Network, blocks, blocks2=None, kind: str = "ntk", *,
                    batch_size: int | None = None, progress: bool | None = None
                    ) -> BlockKernel:
    """The infinite-width PINN kernel ``K*`` (``kind="ntk"``) or NNGP (``"nngp"``).

    Args:
      net: the network spec (``ntk_pinn.mlp``); its ``kernel_fn`` is differentiated.
      blocks: a sequence of ``(operator, points)`` pairs or a mapping
        ``name -> (operator, points)``; points are ``(n_i, d)`` in the operators'
        variable order. Operators must be linear.
      blocks2: column blocks for a cross kernel (e.g. test vs train); default ``blocks``.
      kind: ``"ntk"`` or ``"nngp"``.
      batch_size: points per side of a compiled tile (default 512, about 2**18 entries
        per tile), which bounds memory; tiles are spread over all local devices, and a
        diagonal block computes only the tiles on and above its diagonal.
      progress: show a progress bar (default: for kernels over 2**24 entries).

    Returns:
      A :class:`ntk_pinn.BlockKernel` whose block ``(a, b)`` has entries
      ``L_a,x L_b,x' Θ(x_i, x'_j)``; ``.matrix`` is ``(sum n_i, sum m_j)``.
    """
    _check_kind(kind)
    rows = as_blocks(blocks, "blocks")
    cols = rows if blocks2 is None else as_blocks(blocks2, "blocks2")
    check_same_variables(rows, cols)
    for r in rows:
        for c in cols:
            operator_kernel_fn(net, r.operator, c.operator, kind)  # validates, cheap
    symmetric = blocks2 is None
    info = {}
    if net.uses_quadrature and net.quadrature_degree is None:
        # Degree from an error estimate at the variances these points reach.
        points = np.concatenate([b.points for b in rows + cols])
        order = max(r.operator.order for r in rows) + max(c.operator.order for c in cols)
        net, info["estimated_error"] = net.choose_quadrature(points, order, with_estimate=True)
    if net.uses_quadrature:
        info["quadrature_degree"] = net.quadrature_degree
        info["method"] = "erf mixture" if net.smooth.exact else "Gauss-Hermite + Price"
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    n_devices = jax.local_device_count()

    # An erf-mixture activation keeps (tile, nodes, nodes) intermediates: smaller tiles.
    tile_entries = max(_MIN_TILE_ENTRIES, _TILE_ENTRIES // net.pair_cost)

    def plan(r, c):
        diagonal = symmetric and r is c
        b1, b2 = _tile_sizes(r.size, c.size, diagonal, batch_size, tile_entries)
        return diagonal, b1, b2

    todo = [(r, c) for i, r in enumerate(rows) for j, c in enumerate(cols)
            if not (symmetric and j < i)]
    n_tiles = 0
    for r, c in todo:
        diagonal, b1, b2 = plan(r, c)
        n_tiles += len(_tiles(r.size, c.size, b1, b2, diagonal))
    entries = sum(r.size * c.size for r, c in todo)
    show = entries * net.pair_cost >= _PROGRESS_ENTRIES if progress is None else bool(progress)
    with tqdm(total=n_tiles, disable=not show, desc=f"K* ({kind})", unit="tile") as bar:
        def compute(r, c, out):
            fn = _compiled(net, r.operator, c.operator, kind, n_devices)
            diagonal, b1, b2 = plan(r, c)
            _fill_block(fn, r.points, c.points, out, b1, b2, diagonal, n_devices, bar)

        return assemble(rows, cols, compute, kind, symmetric, info)

