"""The one derivative routine of ntk-pinn: partial derivatives by nested forward-mode JVPs.

:func:`partial` differentiates a function of an array ``x: (..., d)`` with a tangent that is
a unit coordinate on every row. For a scalar function ``f: (d,) -> ()`` that is the
ordinary partial derivative; for a batched kernel ``k(x1: (n1, d), x2) -> (n1, n2)`` whose
entry ``(i, j)`` depends only on ``x1[i]`` it is the partial derivative of every entry at
once. The operator's action on functions (empirical side), on kernels (limit side) and the
fast empirical NTK's Taylor jets all use it, so they cannot disagree.

:func:`directional` is the same routine with the directions given as data (arrays, not
constants): one compiled graph then serves every multi-index of the same order, e.g.
``D_xx``, ``D_xy`` and ``D_zz`` (the limiting kernel compiles one graph per pair of
orders, not one per pair of operators).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = []  # ntk_pinn.internal re-exports directional and unit_directions


def _unit_tangent(x: jnp.ndarray, i: int) -> jnp.ndarray:
    return jnp.zeros_like(x).at[..., i].set(1.0)


def _along(g: Callable, tangent: Callable) -> Callable:
    def dg(x):
        return jax.jvp(g, (x,), (tangent(x),))[1]

    return dg


def unit_directions(orders: Sequence[int]) -> np.ndarray:
    """``(sum(orders), d)``: the unit vectors whose directional derivatives make
    ``D^orders`` (``orders[i]`` copies of ``e_i``)."""
    eye = np.eye(len(orders))
    return eye[[i for i, k in enumerate(orders) for _ in range(k)]].reshape(-1, len(orders))


def directional(fn: Callable, x: jnp.ndarray, directions: jnp.ndarray) -> jnp.ndarray:
    """``D_v1 ... D_vm fn`` at ``x: (..., d)`` for ``directions: (m, d)`` (rows ``v_k``,
    each the same on every row of ``x``; see the module docstring). ``m`` may be 0."""
    g = fn
    for k in range(directions.shape[0]):
        g = _along(g, lambda x, v=directions[k]: jnp.broadcast_to(v, x.shape).astype(x.dtype))
    return g(x)


def partial(fn: Callable, x: jnp.ndarray, orders: Sequence[int]) -> jnp.ndarray:
    """``D^orders fn`` at ``x: (..., d)``; ``orders[i]`` is the order in coordinate ``i``.

    When entry ``i`` (or row ``i``) of ``fn(x)`` depends only on ``x[i]`` this is the
    partial derivative of every entry at once (see the module docstring).
    """
    g = fn
    for axis, count in enumerate(orders):
        for _ in range(count):
            g = _along(g, lambda x, axis=axis: _unit_tangent(x, axis))
    return g(x)
