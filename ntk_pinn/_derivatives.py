"""The one derivative routine of ntk-pinn: partial derivatives by nested forward-mode JVPs.

:func:`partial` differentiates a function of an array ``x: (..., d)`` with a tangent that is
a unit coordinate on every row. For a scalar function ``f: (d,) -> ()`` that is the
ordinary partial derivative; for a batched kernel ``k(x1: (n1, d), x2) -> (n1, n2)`` whose
entry ``(i, j)`` depends only on ``x1[i]`` it is the partial derivative of every entry at
once. The operator's action on functions (empirical side), on kernels (limit side) and the
fast empirical NTK's Taylor jets all use it, so they cannot disagree.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

__all__ = []  # internal: the operator, its forms and the fast empirical NTK use it


def _unit_tangent(x: jnp.ndarray, i: int) -> jnp.ndarray:
    return jnp.zeros_like(x).at[..., i].set(1.0)


def _directional(g: Callable, axis: int) -> Callable:
    def dg(x):
        return jax.jvp(g, (x,), (_unit_tangent(x, axis),))[1]

    return dg


def partial(fn: Callable, x: jnp.ndarray, orders: Sequence[int]) -> jnp.ndarray:
    """``D^orders fn`` at ``x: (..., d)``; ``orders[i]`` is the order in coordinate ``i``.

    When entry ``i`` (or row ``i``) of ``fn(x)`` depends only on ``x[i]`` this is the
    partial derivative of every entry at once (see the module docstring).
    """
    g = fn
    for axis, count in enumerate(orders):
        for _ in range(count):
            g = _directional(g, axis)
    return g(x)
