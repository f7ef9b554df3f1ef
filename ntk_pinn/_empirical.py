"""Empirical PINN NTKs of finite networks: ``<∂θ L_a[u](x), ∂θ L_b[u](x')>``."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _layer_features
from ._blocks import BlockKernel, kernel_blocks
from ._memory import check_memory
from ._network import Network
from ._operator import Operator
from ._periodic import Periodic

__all__ = ["empirical_kernel", "empirical_traces", "residual_fn", "residual_vector_fn"]


def residual_fn(net: Network, op: Operator):
    """``r(params, x: (d,)) -> ()``: the operator applied to the network ``u(.; params)``
    (over several fields, to its outputs ``(u_0, ..., u_(F-1))``).

    Args:
      net: the network (``F = net.outputs`` fields).
      op: the operator over the network's fields (linear or not).
    """
    net.check_fields(op)
    pick = (lambda out: out[0]) if net.outputs == 1 else (lambda out: out)

    def r(params, x):
        return op(lambda y: pick(net.apply_fn(params, y[None])[0]))(x)

    return r


def residual_vector_fn(net: Network, data: dict):
    """``(params, scales: (n_blocks,) | None) -> (n,)``: ``scale_b (B_b[u](x) - g)`` over
    the points of every block, stacked in ``data`` order (scales default to 1).

    ``data``: ``{name: (operator, points (n_b, d), targets (n_b,))}`` (``Problem.data``).

    Args:
      net: the network.
      data: ``{name: (operator, points (n_b, d), targets (n_b,))}`` (``Problem.data``).
    """
    fns = [jax.vmap(residual_fn(net, op), (None, 0)) for op, _, _ in data.values()]
    targets = [(jnp.asarray(x), jnp.asarray(g)) for _, x, g in data.values()]

    def residuals(params, scales=None):
        parts = [fn(params, x) - g for fn, (x, g) in zip(fns, targets)]
        if scales is not None:
            parts = [scales[i] * part for i, part in enumerate(parts)]
        return jnp.concatenate(parts)

    return residuals


@functools.lru_cache(maxsize=256)
def _jacobian_fn(net: Network, op: Operator):
    """``(params, x: (n, d)) -> pytree of (n, *leaf.shape)``: ``∂θ L[u](x_i)`` per point."""
    return jax.jit(jax.vmap(jax.grad(residual_fn(net, op)), in_axes=(None, 0)))


def _gram(ja, jb) -> jnp.ndarray:
    leaves_a = jax.tree_util.tree_leaves(ja)
    leaves_b = jax.tree_util.tree_leaves(jb)
    return sum(a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T
               for a, b in zip(leaves_a, leaves_b))


METHODS = ("fast", "generic")


def _memory_parts(net: Network, params, rows, cols, method: str) -> dict:
    """The dense arrays ``empirical_kernel`` allocates (shapes, bytes per entry)."""
    n1, n2 = sum(b.size for b in rows), sum(b.size for b in cols)
    parts = {"kernel (float64)": ((n1, n2), 8)}
    blocks = {id(b): b for b in rows + cols}.values()
    if method == "generic":
        n_params = sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))
        parts["per-point parameter gradients"] = ((sum(b.size for b in blocks), n_params), 8)
        return parts

    def components(op):  # Leibniz terms of the fast path's factors A_k ⊗ B_k
        if isinstance(op, Periodic):  # features at x and at x + shift
            return 2 * components(op.operator)
        return sum(math.prod(k + 1 for k in a) for a in op.derivative_orders)

    width = sum(2 * layer.width for layer in net.layers)
    parts["per-layer factors of every block"] = (
        (sum(b.size * components(b.operator) for b in blocks), width), 8)
    parts["largest Gram intermediate (2 x P x Q x K x K')"] = (
        (2, max(r.size * components(r.operator) for r in rows),
         max(c.size * components(c.operator) for c in cols)), 8)
    return parts


def empirical_kernel(net: Network, params, blocks, blocks2=None, *,
                     method: str = "fast", memory_limit: int | None = None) -> BlockKernel:
    """The empirical PINN NTK of the finite network ``net`` at ``params``.

    Same ``blocks`` convention and result as :func:`theory.limiting_kernel`; entry
    ``(x, x')`` of block ``(a, b)`` is ``<∂θ L_a[u](x), ∂θ L_b[u](x')>``. Nonlinear
    operators are allowed (the residual is differentiated as it is written), and
    :class:`ntk_pinn.Periodic` constraints (``∂θ L[u](x) - ∂θ L[u](x + s)``: each block is
    the signed sum of the operator's blocks at ``x`` and ``x + s``).

    ``method="fast"`` (default) never forms a Jacobian: per dense layer the kernel is a sum
    of Hadamard products of small Gram matrices of Taylor-mode activations and
    sensitivities (``_layer_features``). ``method="generic"`` forms per-point parameter
    gradients with ``vmap(grad)`` (memory ``n * n_params``): the reference.

    The memory it needs is estimated first and a kernel that would exceed
    ``ntk_pinn.memory_limit(memory_limit)`` is refused (ValueError) before any work.

    Args:
      net: the network (``ntk_pinn.mlp``).
      params: its parameters (``net.init``), a pytree.
      blocks: ``{name: (operator, points (n_i, d))}`` or a sequence of pairs: the rows.
      blocks2: the columns (default: ``blocks``, a square kernel).
      method: ``"fast"`` or ``"generic"``.
      memory_limit: bytes the kernel may plan to use (default :func:`memory_limit`).

    Returns:
      :class:`BlockKernel` of shape ``(Σ n_i, Σ m_j)``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    rows, cols = kernel_blocks(blocks, blocks2)
    for b in rows + (() if cols is rows else cols):
        net.check_differentiable(b.operator)
    check_memory(_memory_parts(net, params, rows, cols, method),
                 f"empirical_kernel ({method}) over {sum(b.size for b in rows)} x "
                 f"{sum(b.size for b in cols)} points at width {net.width}",
                 "Use fewer points" + (", method='fast'" if method == "generic" else "")
                 + ", or compute the blocks separately.", limit=memory_limit)
    cache = {}

    if method == "fast":
        def features(op, x):
            key = (id(op), id(x))
            if key not in cache:
                cache[key] = _layer_features.block_features(net, params, op, x)
            return cache[key]

        def gram(a, b):
            return _layer_features.feature_gram(net, features(*a), features(*b))
    else:
        def jac(op, x):
            key = (id(op), id(x))
            if key not in cache:
                cache[key] = _jacobian_fn(net, op)(params, jnp.asarray(x))
            return cache[key]

        def gram(a, b):
            return _gram(jac(*a), jac(*b))

    parts = {id(b): _signed_parts(b) for b in rows + (() if cols is rows else cols)}

    def compute(r, c, out):
        out[...] = np.asarray(sum(sa * sb * gram(a, b) for sa, a in parts[id(r)]
                                  for sb, b in parts[id(c)]))

    return BlockKernel.assemble(rows, cols, compute, "ntk")


def _signed_parts(block) -> list:
    """``[(sign, (operator, points))]`` whose signed sum is the block's parameter
    gradient: the block itself, or a :class:`Periodic` one's operator at ``x`` (+) and
    at ``x + shift`` (-)."""
    op, x = block.operator, block.points
    if isinstance(op, Periodic):
        return [(1.0, (op.operator, x)), (-1.0, (op.operator, op.shifted(x)))]
    return [(1.0, (op, x))]


def empirical_traces(net: Network, params, blocks) -> dict:
    """``{block: tr(K_bb)}``, the traces of the empirical PINN NTK's diagonal blocks, in
    ``O(n)`` (no off-diagonal entry is formed: per point ``‖∂θ L_b[u](x)‖²`` from the fast
    path's per-layer factors). What NTK-adaptive loss weights need
    (:func:`ntk_pinn.trace_weights`); equals ``empirical_kernel(...).block(b, b)``'s trace.

    ``blocks``: as for :func:`empirical_kernel` (one set). Parameters are used in float64.

    Args:
      net: the network.
      params: its parameters (a pytree).
      blocks: ``{name: (operator, points (n_b, d))}``.

    Returns:
      ``{name: float}``.
    """
    rows, _ = kernel_blocks(blocks)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
    out = {}
    for b in rows:
        net.check_differentiable(b.operator)
        if isinstance(b.operator, Periodic):  # the diagonal of a signed sum of Grams
            out[b.name] = float(np.trace(empirical_kernel(net, params, [(b.operator,
                                                                          b.points)]).matrix))
            continue
        feats = _layer_features.block_features(net, params, b.operator, b.points)
        out[b.name] = float(jnp.sum(_layer_features.feature_diagonal(net, feats)))
    return out
