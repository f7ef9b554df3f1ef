"""Levenberg–Marquardt through the empirical PINN NTK.

For the weighted loss ``Σ_b λ_b mean_i (B_b[u](x_i) - g_i)²`` stack the scaled residuals
``r = (sqrt(λ_b / n_b) (B_b[u](x_i) - g_i))`` with Jacobian ``J``; then ``J Jᵀ = K_w =
diag(s) K diag(s)`` is the weighted empirical NTK (``s`` the row scales) and the damped
Gauss–Newton step is

    δ = Jᵀ (K_w + μ I)⁻¹ r,   μ = damping · tr(K_w) / n,

computed in the ``n``-dimensional data space (one Cholesky of ``K_w + μ I`` and one
vector–Jacobian product), never in parameter space. The update is ``params - δ``. In a
training run each step is one trial, accepted when it lowers the loss (damping ÷ 3,
floor 1e-12) and rejected otherwise (damping × 4, cap 1e8).
"""

from __future__ import annotations

import numpy as np

from ._empirical import empirical_kernel, residual_vector_fn
from ._network import Network

__all__ = ["gauss_newton_step"]


def check_damping(damping) -> None:
    if not (damping > 0 and np.isfinite(damping)):
        raise ValueError(f"damping must be a positive number, got {damping!r}.")


def _direction(net: Network, data: dict):
    """Jitted ``(params, sw, mu, K_w) -> (δ, ½‖r‖²)``, and ``(params, sw) -> ½‖r‖²``."""
    import jax
    import jax.numpy as jnp

    residuals = residual_vector_fn(net, data)

    @jax.jit
    def direction(params, sw, mu, K_w):
        r, pullback = jax.vjp(lambda p: residuals(p, sw), params)
        chol = jax.scipy.linalg.cho_factor(K_w + mu * jnp.eye(K_w.shape[0]), lower=True)
        alpha = jax.scipy.linalg.cho_solve(chol, r)
        return pullback(alpha)[0], 0.5 * jnp.sum(r ** 2)

    return direction, jax.jit(lambda p, sw: 0.5 * jnp.sum(residuals(p, sw) ** 2))


def _row_scales(data: dict, weights: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per block ``sqrt(λ_b / n_b)``, and the same repeated per row."""
    sw = np.array([np.sqrt(weights[k] / len(x)) for k, (_, x, _) in data.items()])
    row_scale = np.concatenate([np.full(len(x), s) for s, (_, x, _) in zip(sw, data.values())])
    return sw, row_scale


def _step(net: Network, params, blocks: dict, direction, sw, row_scale, damping: float):
    """``(δ, ½‖r‖² at params)`` for the relative ``damping``."""
    import jax.numpy as jnp

    K = empirical_kernel(net, params, blocks).matrix
    K_w = row_scale[:, None] * K * row_scale[None, :]
    mu = damping * np.trace(K_w) / len(K_w)
    return direction(params, jnp.asarray(sw, K_w.dtype), mu, jnp.asarray(K_w))


def _blocks(data: dict) -> dict:
    return {k: (op, x) for k, (op, x, _) in data.items()}


def gauss_newton_step(net: Network, params, data: dict, *, damping: float,
                      weights: dict | None = None):
    """The Levenberg–Marquardt step ``δ`` (a pytree like ``params``; the update is
    ``params - δ``) of the weighted loss at ``params`` (module docstring).

    Args:
      net: the network of ``params``.
      params: the parameters the step is taken at.
      data: ``{name: (operator, points (n_b, d), targets (n_b,))}`` (``Problem.data``).
      damping: the relative damping (``μ = damping · tr(K_w)/n``), positive.
      weights: ``{name: λ_b}`` (default 1 for every block).
    """
    check_damping(damping)
    weights = {k: 1.0 for k in data} | dict(weights or {})
    sw, row_scale = _row_scales(data, weights)
    return _step(net, params, _blocks(data), _direction(net, data)[0], sw, row_scale,
                 damping)[0]


def levenberg_marquardt(net: Network, data: dict):
    """``advance(params, damping, weights, n) -> (params, damping)``: ``n`` trials."""
    import jax

    blocks = _blocks(data)
    direction, half_loss = _direction(net, data)

    def trial(params, mu, sw, row_scale):
        step, loss0 = _step(net, params, blocks, direction, sw, row_scale, mu)
        candidate = jax.tree_util.tree_map(lambda a, b: a - b, params, step)
        if float(half_loss(candidate, sw)) < float(loss0):
            return candidate, max(mu / 3.0, 1e-12)
        return params, min(mu * 4.0, 1e8)

    def advance(params, mu: float, weights: dict, n: int):
        sw, row_scale = _row_scales(data, weights)
        for _ in range(n):
            params, mu = trial(params, mu, sw, row_scale)
        return params, mu

    return advance
