"""The exact infinite-width PINN kernel ``K*`` from neural-tangents' analytic kernels.

Block ``(a, b)`` is ``L_a,x L_b,x' Θ(x, x')``. For a system (operators over fields
``u_0 .. u_(F-1)``, one network output each) it is ``sum_(f,g) L_a^f L_b^g' Θ_fg`` with
``Θ_fg = δ_fg Θ`` at infinite width (independent output heads; docs/systems.md), so
``sum_f L_a^f L_b^f' Θ``: only pairs of terms on the same field are evaluated, each from the
one scalar ``Θ`` (no kernel per pair of fields). For linear operators
``L_a = sum_i c_i(x) D^(alpha_i)`` and ``L_b = sum_j e_j(x') D^(beta_j)`` it is

    sum_ij c_i(x) e_j(x') D^(alpha_i)_x D^(beta_j)_x' Θ(x, x'),

and every ``D^alpha_x D^beta_x' Θ`` is a nested forward-mode JVP of the *batched*
``kernel_fn`` whose tangent is the same direction on every row (it differentiates all
pairs at once). Two ways to evaluate it, chosen per block pair (``_PER_ORDER_MAX_TILES``):

* small kernels (a few tiles; their time is almost all compilation): the directions are
  passed as data, so one compiled graph per pair of orders ``(|alpha|, |beta|)`` serves
  every multi-index, operator and block of those orders (``D_xx D_x'x'``, ``D_xy D_z'z'``,
  ...), and the coefficients are combined outside the graphs. A first ``K*`` compiles a
  few small graphs instead of one large graph per pair of operators
  (``benchmarks/bench_compile.py``);
* larger kernels: one graph per pair of operators (:func:`operator_kernel_fn`,
  ``Operator.on_kernel``), whose compilation the tiles amortize and which runs faster
  (XLA shares work among the terms).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ntk_pinn import BlockKernel, Network, Operator
from ntk_pinn.internal import (Block, check_memory, directional, kernel_blocks,
                               unit_directions)

__all__ = ["KINDS", "KernelPlan", "PairPlan", "limiting_kernel", "limiting_kernel_diagonal",
           "operator_kernel_fn", "plan_kernel", "shared_fields"]

KINDS = ("ntk", "nngp")
# Tiles of about this many entries bound the memory of the derivative intermediates
# (a depth-2, fourth-order JVP keeps a few hundred arrays of the tile's size alive).
_TILE_ENTRIES = 2 ** 18
_MIN_TILE_ENTRIES = 2 ** 12
_PROGRESS_ENTRIES = 2 ** 24
# Arrays of a tile's size that the nested-JVP graph keeps alive at once (an estimate for
# the memory check; measured peaks of depth-2 fourth-order tiles are below this).
_TILE_ARRAYS = 64


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")


def _check_pair(net: Network, op1: Operator, op2: Operator) -> None:
    """Refuse (ValueError) a pair of operators the kernel of ``net`` cannot take."""
    for op in (op1, op2):
        if not isinstance(op, Operator):
            raise ValueError(
                f"the limiting kernel takes pointwise operators; {op} is a "
                f"{type(op).__name__} constraint, which only the empirical kernel and "
                "training take (its limiting kernel is not implemented).")
        op.require_linear("the limiting kernel")
        net.check_differentiable(op, op1.order + op2.order)


def shared_fields(op1: Operator, op2: Operator) -> tuple[int, ...]:
    """The fields both operators have terms on: the only ones a block of ``K*`` sums over
    (``Θ_fg = 0`` for ``f != g``).

    Args:
      op1: an operator over the fields of a system.
      op2: another over the same fields.

    Returns:
      The indices of the shared fields, ascending.
    """
    return tuple(f for f in op1.fields_used if f in op2.fields_used)


def operator_kernel_fn(net: Network, op1: Operator, op2: Operator | None = None, *,
                       kind: str = "ntk") -> Callable:
    """``(x1: (n1, d), x2: (n2, d)) -> (n1, n2)``: ``L1_x L2_x' k(x, x')``, jit-compatible;
    over several fields ``sum_f L1^f_x L2^f_x' k(x, x')`` (zero when the operators share no
    field).

    ``k`` is ``net.kernel_fn(., ., kind)``; ``op2`` defaults to ``op1``.

    Args:
      net: the network spec.
      op1: the operator on the first argument.
      op2: the operator on the second (default ``op1``).
      kind: ``"ntk"`` or ``"nngp"``.
    """
    op2 = op1 if op2 is None else op2
    _check_kind(kind)
    _check_pair(net, op1, op2)

    def k(x1, x2):
        return net.kernel_fn(x1, x2, kind)

    parts = [op2.on_kernel(op1.on_kernel(k, 0, field=f), 1, field=f)
             for f in shared_fields(op1, op2)]

    def kernel(x1, x2):
        out = jnp.zeros((x1.shape[0], x2.shape[0]), jnp.result_type(x1, x2))
        for part in parts:
            out = out + part(x1, x2)
        return out

    return kernel


@functools.lru_cache(maxsize=64)
def _kernel(net: Network, kind: str) -> Callable:
    """``net.kernel_fn(., ., kind)`` under ``jit``: traced once, and its JVP graphs are
    reused by every derivative graph that nests it."""
    return jax.jit(lambda x1, x2: net.kernel_fn(x1, x2, kind))


def _order_fn(net: Network, kind: str):
    """``(x1: (n1, d), x2: (n2, d), v1: (m1, d), v2: (m2, d)) -> (n1, n2)``:
    ``D_v1[0] ... D_v1[m1-1] (x) D_v2[0] ... (x') k(x, x')``."""
    k = _kernel(net, kind)

    def fn(x1, x2, v1, v2):
        return directional(lambda b: directional(lambda a: k(a, b), x1, v1), x2, v2)

    return fn


# Two ways to evaluate a block pair (see the module docstring). A block pair of at most
# this many tiles -- a small kernel, whose time is almost all compilation -- uses the
# graphs per pair of orders, compiled for compile speed (XLA backend optimization level
# 0: about half the compile time for tanh, ~1.7x the run time, milliseconds here). A
# larger one uses one graph per pair of operators, whose compilation the tiles amortize:
# with constant unit directions XLA shares the activation's transcendental work among
# the terms, and it is compiled at full optimization: a tanh tile runs ~4x faster than the
# per-order graphs (benchmarks/bench_compile.py: 0.76 s vs 3.0 s per 64 x 64 tile of the
# 2-D Laplacian; break-even with the extra ~6.6 s of compilation at about 3 tiles).
_PER_ORDER_MAX_TILES = 4


@functools.lru_cache(maxsize=256)
def _compiled(net: Network, op1: Operator, op2: Operator, kind: str, n_devices: int):
    """One graph for the pair of operators (:func:`operator_kernel_fn`)."""
    fn = operator_kernel_fn(net, op1, op2, kind=kind)
    return jax.pmap(fn) if n_devices > 1 else jax.jit(fn)


@functools.lru_cache(maxsize=256)
def _compiled_orders(net: Network, kind: str, m1: int, m2: int, n_devices: int):
    """The compiled :func:`_order_fn` for direction counts ``(m1, m2)`` (the shapes of
    ``v1``, ``v2`` fix them; the cache key keeps one entry per pair of orders), compiled
    for compile speed on one device (see ``_PER_ORDER_MAX_TILES``)."""
    fn = _order_fn(net, kind)
    options = {"xla_backend_optimization_level": 0}
    if n_devices > 1:
        return jax.pmap(fn, in_axes=(0, 0, None, None))
    return jax.jit(fn, compiler_options=options)


@functools.lru_cache(maxsize=256)
def _combine(pairs: tuple[tuple[int, int, bool], ...], n_devices: int):
    """``(c1: (T1, b1), c2: (T2, b2), *t) -> sum_p c1[i_p] c2[j_p]^T * t_p`` for
    ``pairs = ((i_p, j_p, swapped_p), ...)``; a swapped ``t_p`` is ``(b2, b1)`` (computed
    with the arguments exchanged) and enters transposed."""
    def fn(c1, c2, *t):
        out = 0.0
        for (i, j, swapped), tp in zip(pairs, t):
            out = out + c1[i][:, None] * c2[j][None, :] * (tp.T if swapped else tp)
        return out

    return jax.pmap(fn) if n_devices > 1 else jax.jit(fn)


def _terms(op: Operator, points: np.ndarray):
    """``(coefficients: (T, n) float64, directions: [(m_t, d)])`` of ``op``'s terms at
    ``points: (n, d)``."""
    coefficients = np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), points.shape[:1])
                             for c in op.coefficients(jnp.asarray(points))])
    return coefficients, [jnp.asarray(unit_directions(o)) for o in op.derivative_orders]


def _pad_rows(x: np.ndarray, multiple: int) -> np.ndarray:
    """Pad with copies of the first row (valid points) so one compiled shape serves all."""
    extra = -x.shape[0] % multiple
    return np.concatenate([x, np.repeat(x[:1], extra, axis=0)]) if extra else x


def _tile_sizes(n1: int, n2: int, diagonal: bool, batch_size: int | None,
                entries: int) -> tuple[int, int]:
    if diagonal:  # square tiles, so tile (i, j) is the transpose of tile (j, i)
        edge = min(batch_size or int(math.isqrt(entries)), n1)
        return edge, edge
    b1 = min(n1, batch_size or int(math.isqrt(entries)))
    b2 = min(n2, max(b1, entries // b1))
    return b1, b2


@dataclasses.dataclass(frozen=True)
class PairPlan:
    """Block ``(row, col)`` of ``K*``, evaluated in tiles of ``b1 x b2`` points whose
    corners are ``tiles``. ``diagonal``: a diagonal block of a square kernel, computed
    only on and above its diagonal (the rest are transposes)."""

    row: Block
    col: Block
    diagonal: bool
    b1: int
    b2: int
    tiles: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True)
class KernelPlan:
    """Everything ``limiting_kernel`` decides before computing: the network it
    differentiates (``net``, with the quadrature degree fixed, chosen from the points when
    it was unset), the blocks (``cols is rows`` for a square kernel), the block pairs to
    compute with their tiles, and ``info`` (method, degree, estimated error) for the
    result. ``n_tiles`` is the progress total; ``entries`` the kernel entries computed."""

    net: Network
    kind: str
    rows: tuple[Block, ...]
    cols: tuple[Block, ...]
    pairs: tuple[PairPlan, ...]
    info: dict

    @property
    def n_tiles(self) -> int:
        return sum(len(p.tiles) for p in self.pairs)

    @property
    def entries(self) -> int:
        return sum(p.row.size * p.col.size for p in self.pairs)


def _with_quadrature(net: Network, points: np.ndarray, order: int) -> tuple[Network, dict]:
    """``(net with its quadrature degree fixed, info)``: a degree left unset is chosen from
    an error estimate at the variances ``points`` reach, for ``order`` derivatives."""
    info = {}
    if net.uses_quadrature and net.quadrature_degree is None:
        net, info["estimated_error"] = net.choose_quadrature(points, order, with_estimate=True)
    if net.uses_quadrature:
        info["quadrature_degree"] = net.quadrature_degree
        info["method"] = "erf mixture" if net.smooth.exact else "Gauss-Hermite + Price"
    return net, info


def plan_kernel(net: Network, blocks, blocks2=None, *, kind: str = "ntk",
                batch_size: int | None = None, memory_limit: int | None = None
                ) -> KernelPlan:
    """Validate the inputs of :func:`limiting_kernel` and plan its computation (see
    :class:`KernelPlan`); nothing is compiled or evaluated. Refuses (ValueError) a kernel
    whose memory (the dense result and one tile's intermediates) would exceed
    ``ntk_pinn.memory_limit(memory_limit)``.

    Args:
      net: the network spec.
      blocks: the rows, ``{name: (operator, points (n_i, d))}`` or a sequence of pairs.
      blocks2: the columns (default: ``blocks``).
      kind: ``"ntk"`` or ``"nngp"``.
      batch_size: rows per tile (default: chosen from the memory per entry).
      memory_limit: bytes the kernel may plan to use.
    """
    _check_kind(kind)
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    rows, cols = kernel_blocks(blocks, blocks2)
    for r in rows:
        for c in cols:
            _check_pair(net, r.operator, c.operator)
    net, info = _with_quadrature(
        net, np.concatenate([b.points for b in rows + cols]),
        max(r.operator.order for r in rows) + max(c.operator.order for c in cols))
    n1, n2 = sum(b.size for b in rows), sum(b.size for b in cols)
    # An erf-mixture activation keeps (tile, nodes, nodes) intermediates: smaller tiles.
    tile_entries = max(_MIN_TILE_ENTRIES, _TILE_ENTRIES // net.pair_cost)
    tile = batch_size ** 2 if batch_size else tile_entries
    check_memory({"K* (float64)": ((n1, n2), 8),
                  "one tile's derivative intermediates (estimate)":
                      ((min(tile, n1 * n2), _TILE_ARRAYS * net.pair_cost), 8)},
                 f"limiting_kernel over {n1} x {n2} points",
                 "Use fewer points, a smaller batch_size, or only the diagonal "
                 "(theory.limiting_kernel_diagonal).", limit=memory_limit)
    pairs = []
    for i, j in BlockKernel.computed_pairs(rows, cols):
        r, c = rows[i], cols[j]
        diagonal = cols is rows and i == j
        b1, b2 = _tile_sizes(r.size, c.size, diagonal, batch_size, tile_entries)
        tiles = tuple((a, b) for a in range(0, r.size, b1) for b in range(0, c.size, b2)
                      if not (diagonal and b < a))
        pairs.append(PairPlan(r, c, diagonal, b1, b2, tiles))
    return KernelPlan(net, kind, rows, cols, tuple(pairs), info)


def _tile_fn(plan: KernelPlan, pair: PairPlan, x1p: np.ndarray, x2p: np.ndarray,
             n_devices: int) -> Callable:
    """``(rows, cols, a, b) -> K* tile(s)`` for ``pair``, where ``a, b`` are the tiles'
    points (stacked over devices when ``n_devices > 1``) starting at rows ``rows`` of
    ``x1p`` and columns ``cols`` of ``x2p``.

    At most ``_PER_ORDER_MAX_TILES`` tiles: one call of the compiled graph of orders
    ``(|alpha_i|, |beta_j|)`` per pair of terms, the coefficients combined on the device.
    Only graphs with ``|alpha| >= |beta|`` are compiled: ``Θ`` is symmetric, so
    ``D^alpha_x D^beta_x' Θ(x1, x2)`` is ``D^beta_x D^alpha_x' Θ(x2, x1)`` transposed.
    More tiles: the one graph of the pair of operators.
    """
    op1, op2 = pair.row.operator, pair.col.operator
    if len(pair.tiles) > _PER_ORDER_MAX_TILES:
        fused = _compiled(plan.net, op1, op2, plan.kind, n_devices)
        return lambda rows, cols, a, b: fused(a, b)
    b1, b2 = pair.b1, pair.b2
    c1, v1 = _terms(op1, x1p)
    c2, v2 = _terms(op2, x2p)
    f1, f2 = [f for f, _ in op1.derivatives], [f for f, _ in op2.derivatives]
    term_pairs = tuple((i, j, v1[i].shape[0] < v2[j].shape[0])
                       for i in range(len(v1)) for j in range(len(v2)) if f1[i] == f2[j])
    if not term_pairs:  # no shared field: the block is zero
        return lambda rows, cols, a, b: np.zeros(a.shape[:-1] + b.shape[-2:-1])
    fns = [_compiled_orders(plan.net, plan.kind, *sorted((v1[i].shape[0], v2[j].shape[0]),
                                                         reverse=True), n_devices)
           for i, j, _ in term_pairs]
    combine = _combine(term_pairs, n_devices)

    def tile(rows, cols, a, b):
        ca = np.stack([c1[:, i:i + b1] for i in rows])
        cb = np.stack([c2[:, j:j + b2] for j in cols])
        if n_devices == 1:
            ca, cb = ca[0], cb[0]
        t = [fn(b, a, v2[j], v1[i]) if swapped else fn(a, b, v1[i], v2[j])
             for fn, (i, j, swapped) in zip(fns, term_pairs)]
        return combine(ca, cb, *t)

    return tile


def _fill_block(plan: KernelPlan, pair: PairPlan, out: np.ndarray, n_devices: int,
                bar) -> None:
    """Evaluate ``pair``'s block of ``K*`` on its tiles into ``out`` (``_tile_fn``).

    Tiles are grouped ``n_devices`` at a time (``pmap``); group ``k + 1`` is dispatched
    before group ``k`` is copied back (JAX dispatch is asynchronous). A diagonal block's
    tiles above the diagonal are also stored transposed below it.
    """
    b1, b2, diagonal = pair.b1, pair.b2, pair.diagonal
    n1, n2 = pair.row.size, pair.col.size
    x1p, x2p = _pad_rows(pair.row.points, b1), _pad_rows(pair.col.points, b2)
    fn = _tile_fn(plan, pair, x1p, x2p, n_devices)
    tiles = list(pair.tiles)
    groups = [tiles[k:k + n_devices] for k in range(0, len(tiles), n_devices)]

    def dispatch(group):
        group = group + [group[-1]] * (n_devices - len(group))
        a = np.stack([x1p[i:i + b1] for i, _ in group])
        b = np.stack([x2p[j:j + b2] for _, j in group])
        rows, cols = [i for i, _ in group], [j for _, j in group]
        if n_devices == 1:
            return fn(rows, cols, a[0], b[0])[None]
        return fn(rows, cols, a, b)

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


@functools.lru_cache(maxsize=256)
def _compiled_diagonal(net: Network, op: Operator, kind: str):
    fn = operator_kernel_fn(net, op, op, kind=kind)
    return jax.jit(jax.vmap(lambda x: fn(x[None], x[None])[0, 0]))


def limiting_kernel_diagonal(net: Network, operator: Operator, points, *, kind: str = "ntk",
                             batch_size: int = 2048) -> np.ndarray:
    """The diagonal ``L_x L_x' Θ(x_i, x_i)`` of one block of ``K*`` at ``points: (n, d)``,
    without the block: ``(n,)``, memory ``O(n)``. Evaluated ``batch_size`` points at a
    time (one compiled shape).

    Args:
      net: the network spec.
      operator: a linear operator.
      points: ``(n, d)``.
      kind: ``"ntk"`` or ``"nngp"``.
      batch_size: points per evaluation.
    """
    _check_kind(kind)
    if not isinstance(operator, Operator):
        raise ValueError(f"operator must be an ntk_pinn.Operator, got "
                         f"{type(operator).__name__}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    x = operator.check_points(points)
    _check_pair(net, operator, operator)
    net, _ = _with_quadrature(net, x, 2 * operator.order)
    fn = _compiled_diagonal(net, operator, kind)
    b = min(batch_size, x.shape[0])
    xp = _pad_rows(x, b)
    return np.concatenate([np.asarray(fn(xp[i:i + b])) for i in range(0, len(xp), b)])[:len(x)]


def limiting_kernel(net: Network, blocks, blocks2=None, *, kind: str = "ntk",
                    batch_size: int | None = None, progress: bool | None = None,
                    memory_limit: int | None = None) -> BlockKernel:
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
      memory_limit: bytes the computation may plan to use (default: ``NTK_PINN_MEMORY_LIMIT``
        or 80% of the memory available); a larger kernel is refused before any work.

    Returns:
      A :class:`ntk_pinn.BlockKernel` whose block ``(a, b)`` has entries
      ``L_a,x L_b,x' Θ(x_i, x'_j)``; ``.matrix`` is ``(sum n_i, sum m_j)``.

    Everything decided before computing (validation, the quadrature degree, which blocks
    and tiles are computed) is one :func:`plan_kernel`, which also sets the progress total.
    """
    plan = plan_kernel(net, blocks, blocks2, kind=kind, batch_size=batch_size,
                       memory_limit=memory_limit)
    n_devices = jax.local_device_count()
    by_pair = {(p.row.name, p.col.name): p for p in plan.pairs}
    show = (plan.entries * plan.net.pair_cost >= _PROGRESS_ENTRIES if progress is None
            else bool(progress))
    with tqdm(total=plan.n_tiles, disable=not show, desc=f"K* ({kind})", unit="tile") as bar:
        def compute(r, c, out):
            _fill_block(plan, by_pair[(r.name, c.name)], out, n_devices, bar)

        return BlockKernel.assemble(plan.rows, plan.cols, compute, kind, plan.info)
