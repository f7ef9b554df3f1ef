"""Parameter Hessians of PINN residuals and losses, matrix-free.

Everything here is built on Hessian-vector products (forward-over-reverse:
``jvp(grad(f))``) and power iteration; no dense Hessian is ever formed, so it scales to
networks with millions of parameters. For the loss ``½ Σ_i r_i(θ)²`` the Hessian splits as

    ∇²L = JᵀJ + Σ_i r_i ∇²r_i     (Gauss–Newton part + curvature part),

and the nonzero spectrum of ``JᵀJ`` is that of the empirical NTK ``J Jᵀ``. For linear
operators ``‖∇²r_i‖`` vanishes like ``width^(-1/2)`` (so the curvature part does too and
Gauss–Newton is exact in the limit); for nonlinear ones it does not (Bonfanti et al.).

A spectral norm is a maximum over directions, and its log factors flatten a width slope
(measured about -0.2 for ``u_xx``), so ``‖∇²r‖`` alone separates the regimes by level
only. :func:`residual_tangent_curvature` measures the curvature along the one direction
training moves ``r`` in, its own gradient ``ĝ = ∇θ r / ‖∇θ r‖``:

    κ(x) = ĝᵀ ∇²θ r(x) ĝ.

For ``r = L[u]`` with ``L`` linear, ``∇²θ r = L[∇²θ u]`` and ``κ → 0`` with width (a sum of
``m`` zero-mean neuron terms of size ``m^(-3/2)``). For ``r = L[u] + c u³``,
``∇²θ r = L[∇²θ u] + 3c u² ∇²θ u + 6c u ∇θu ∇θuᵀ``: the last term is rank one, of norm
``6|c u| Θ(x, x) = O(1)``, and ``κ → 6 c u(x) (∇θu · ĝ)²``, a nonzero random value.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._empirical import residual_fn
from ._network import Network
from ._operator import Operator

__all__ = ["hvp", "power_iteration", "residual_hessian_norms", "residual_tangent_curvature",
           "LossHessianNorms", "loss_hessian_norms"]


def hvp(f, params, v):
    """``∇²f(params) · v`` for scalar ``f``; ``params`` and ``v`` are pytrees alike.

    Args:
      f: a scalar function of ``params``.
      params: the point, a pytree.
      v: the direction, a pytree like ``params``.
    """
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def power_iteration(matvec, v0: jnp.ndarray, *, iters: int = 100, rtol: float = 1e-6):
    """``(‖A‖₂ estimate, iterations used)`` for a symmetric ``A`` given by ``matvec`` on
    flat vectors ``(n,) -> (n,)``, starting from ``v0: (n,)``.

    Iterates ``v <- A v / ‖A v‖``; ``‖A v‖`` increases to ``max |λ(A)|`` (indefinite ``A``
    allowed). Stops when two successive estimates agree to ``rtol`` or after ``iters``.
    jit/vmap-friendly (``lax.while_loop``).

    Args:
      matvec: ``(n,) -> (n,)``, a symmetric linear map.
      v0: ``(n,)`` the start vector (nonzero).
      iters: at most this many iterations.
      rtol: relative agreement of two successive estimates that stops it.
    """
    def body(state):
        v, est, _, k = state
        w = matvec(v)
        norm = jnp.linalg.norm(w)
        return w / jnp.where(norm > 0, norm, 1.0), norm, est, k + 1

    def cond(state):
        _, est, prev, k = state
        return (k < iters) & ((k < 2) | (jnp.abs(est - prev) > rtol * jnp.abs(est)))

    v0 = v0 / jnp.linalg.norm(v0)
    init = (v0, jnp.zeros((), v0.dtype), jnp.full((), jnp.inf, v0.dtype), jnp.zeros((), int))
    _, est, _, k = jax.lax.while_loop(cond, body, init)
    return est, k


@functools.lru_cache(maxsize=64)
def _residual_norms_fn(net: Network, op: Operator, iters: int, rtol: float):
    """Jitted ``(params, x: (P, d), v0: (P, n_params)) -> (P,)``; one compile per spec."""
    r = residual_fn(net, op)

    @jax.jit
    def norms(params, x, v0):
        flat, unravel = ravel_pytree(params)

        def one(xp, v):
            f = lambda th: r(unravel(th), xp)  # noqa: E731
            return power_iteration(lambda w: hvp(f, flat, w), v, iters=iters, rtol=rtol)[0]
        # lax.map, not vmap: one point at a time bounds memory at O(n_params) vectors
        return jax.lax.map(lambda args: one(*args), (x, v0))

    return norms


def residual_hessian_norms(net: Network, params, operator: Operator, points, *,
                           key: jax.Array | None = None, iters: int = 200,
                           rtol: float = 1e-6) -> np.ndarray:
    """``(P,)``: ``‖∇²_θ L[u](x_p)‖₂`` at each of ``points: (P, d)``, by power iteration on
    Hessian-vector products (see :func:`power_iteration` for ``iters``/``rtol``).

    Args:
      net: the network.
      params: its parameters (a pytree).
      operator: the residual operator ``L``.
      points: ``(P, d)``.
      key: the random start vectors (default ``PRNGKey(0)``).
      iters: at most this many power iterations per point.
      rtol: their stopping tolerance.
    """
    x = operator.check_points(points, "points")
    net.check_differentiable(operator)
    flat = ravel_pytree(params)[0]
    key = jax.random.PRNGKey(0) if key is None else key
    v0 = jax.random.normal(key, (x.shape[0], flat.size), flat.dtype)
    return np.asarray(_residual_norms_fn(net, operator, iters, rtol)(
        params, jnp.asarray(x), v0))


@functools.lru_cache(maxsize=64)
def _tangent_curvature_fn(net: Network, op: Operator):
    """Jitted ``(params, x: (P, d)) -> (P,)``: ``κ(x_p)``, one point at a time."""
    r = residual_fn(net, op)

    @jax.jit
    def curvature(params, x):
        flat, unravel = ravel_pytree(params)

        def one(xp):
            f = lambda th: r(unravel(th), xp)  # noqa: E731
            g = jax.grad(f)(flat)
            g = g / jnp.linalg.norm(g)
            return jnp.dot(g, hvp(f, flat, g))
        return jax.lax.map(one, x)

    return curvature


def residual_tangent_curvature(net: Network, params, operator: Operator,
                               points) -> np.ndarray:
    """``(P,)``: ``κ(x_p) = ĝᵀ ∇²_θ r(x_p) ĝ`` with ``r = L[u]`` and ``ĝ = ∇θ r / ‖∇θ r‖``
    at each of ``points: (P, d)``: the curvature of the residual along its own gradient
    (module docstring). It vanishes with width for a linear ``L`` and tends to a nonzero
    random value for a nonlinear one. One gradient and one Hessian-vector product per
    point.

    Args:
      net: the network.
      params: its parameters (a pytree).
      operator: the residual operator ``L`` (linear or not).
      points: ``(P, d)``.
    """
    x = operator.check_points(points, "points")
    net.check_differentiable(operator)
    return np.asarray(_tangent_curvature_fn(net, operator)(params, jnp.asarray(x)))


@dataclasses.dataclass(frozen=True)
class LossHessianNorms:
    """Spectral norms for ``L = ½ Σ_i r_i²``: ``full`` ``‖∇²L‖``, ``gauss_newton``
    ``‖JᵀJ‖ = λ_max(K)`` (``K`` the empirical NTK), ``curvature`` ``‖Σ_i r_i ∇²r_i‖``."""

    full: float
    gauss_newton: float
    curvature: float


def loss_hessian_norms(net: Network, params, data, *, key: jax.Array | None = None,
                       iters: int = 200, rtol: float = 1e-6) -> LossHessianNorms:
    """Norms of the Hessian of ``L(θ) = ½ Σ_blocks Σ_i (B[u](x_i) - g_i)²`` and of its two
    parts (see :class:`LossHessianNorms`), by power iteration on matrix-free products.

    ``data``: ``{name: (operator, points (n, d), targets (n,))}`` (``Problem.data``).

    Args:
      net: the network.
      params: its parameters (a pytree).
      data: ``{name: (operator, points (n, d), targets (n,))}`` (``Problem.data``).
      key: the random start of the power iterations (default ``PRNGKey(0)``).
      iters: at most this many iterations each.
      rtol: stop when two successive estimates agree to this.
    """
    ops, xs, gs = [], [], []
    for name, (op, x, g) in data.items():
        net.check_differentiable(op)
        x = op.check_points(x, f"data[{name!r}] points")
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        if g.shape[0] != x.shape[0]:
            raise ValueError(f"data[{name!r}] has {x.shape[0]} points but {g.shape[0]} targets.")
        ops.append(op)
        xs.append(jnp.asarray(x))
        gs.append(jnp.asarray(g))
    flat = ravel_pytree(params)[0]
    key = jax.random.PRNGKey(0) if key is None else key
    v0 = jax.random.normal(key, flat.shape, flat.dtype)
    full, gn, curv = _loss_norms_fn(net, tuple(ops), iters, rtol)(params, xs, gs, v0)
    return LossHessianNorms(float(full), float(gn), float(curv))


@functools.lru_cache(maxsize=64)
def _loss_norms_fn(net: Network, ops: tuple, iters: int, rtol: float):
    """Jitted ``(params, xs, gs, v0) -> (full, gauss_newton, curvature)``."""
    fns = [jax.vmap(residual_fn(net, op), (None, 0)) for op in ops]

    @jax.jit
    def norms(params, xs, gs, v0):
        th0, unravel = ravel_pytree(params)

        def residuals(th):
            p = unravel(th)
            return jnp.concatenate([fn(p, x) - g for fn, x, g in zip(fns, xs, gs)])

        def loss(th):
            return 0.5 * jnp.sum(residuals(th) ** 2)

        def curvature_part(th):  # its Hessian at th0 is Σ r_i(θ0) ∇²r_i(θ0)
            return jnp.dot(jax.lax.stop_gradient(residuals(th0)), residuals(th))

        def gauss_newton(v):
            jv = jax.jvp(residuals, (th0,), (v,))[1]
            return jax.vjp(residuals, th0)[1](jv)[0]

        def run(matvec):
            return power_iteration(matvec, v0, iters=iters, rtol=rtol)[0]

        return (run(lambda v: hvp(loss, th0, v)), run(gauss_newton),
                run(lambda v: hvp(curvature_part, th0, v)))

    return norms
