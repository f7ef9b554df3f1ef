"""Full-batch PINN training with fixed or NTK-adaptive loss weights (optax).

Loss: ``Σ_i λ_i mean_j (B_i[u](x_ij) - g_ij)²`` over the problem's constraint blocks
(residual included). With ``adaptive=True`` the weights are Wang, Yu & Perdikaris'
``λ_i = tr(K) / tr(K_ii)`` from the empirical PINN NTK of the current network, recomputed
every ``update_every`` steps (their Algorithm 1).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ._blocks import trace_weights
from ._empirical import empirical_kernel, residual_fn, residual_vector_fn
from ._network import Network

__all__ = ["TrainResult", "train", "gauss_newton_step"]

OPTIMIZERS = ("adam", "gd", "lm")


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """``steps``: recorded steps; ``losses[name]``: the unweighted mean-square term of each
    block at those steps; ``weights[name]``: the weights in force; ``errors``: relative L2
    error against the exact solution on a grid; ``params``: the final parameters."""

    steps: np.ndarray
    losses: dict
    weights: dict
    errors: np.ndarray
    params: object
    seconds: float

    @property
    def error(self) -> float:
        return float(self.errors[-1])


def _gn_direction(net: Network, data: dict):
    """Jitted ``(params, sw, mu, K_w) -> (step pytree, ½‖r‖²)`` with ``step = Jᵀ (K_w +
    mu I)^-1 r``; ``K_w = diag(s) K diag(s)`` the weighted empirical NTK."""
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
    """Per block ``sqrt(λ_b / n_b)`` and the same repeated per row."""
    sw = np.array([np.sqrt(weights[k] / len(x)) for k, (_, x, _) in data.items()])
    rows = np.concatenate([np.full(len(x), s) for s, (_, x, _) in zip(sw, data.values())])
    return sw, rows


def _check_damping(damping) -> None:
    if not (damping > 0 and np.isfinite(damping)):
        raise ValueError(f"damping must be a positive number, got {damping!r}.")


def _lm_step(net: Network, params, blocks: dict, direction, sw, rows, damping: float):
    """``(step, ½‖r‖² at params)`` for relative ``damping``: ``K_w = diag(rows) K
    diag(rows)`` from the empirical NTK, ``μ = damping · tr(K_w)/n``."""
    import jax.numpy as jnp

    K = empirical_kernel(net, params, blocks).matrix
    K_w = rows[:, None] * K * rows[None, :]
    mu = damping * np.trace(K_w) / len(K_w)
    return direction(params, jnp.asarray(sw), mu, jnp.asarray(K_w))


def gauss_newton_step(net: Network, params, data: dict, damping: float,
                      weights: dict | None = None):
    """The Levenberg–Marquardt step ``δ`` (a pytree like ``params``; the update is
    ``params - δ``) for the loss ``Σ_b λ_b mean_i (B_b[u](x_i) - g_i)²`` at ``params``:
    ``δ = Jᵀ (J Jᵀ + μ I)^-1 r`` with ``μ = damping · tr(J Jᵀ)/n`` (see module docstring).

    ``data``: ``{name: (operator, points, targets)}`` (``Problem.data``).
    """
    _check_damping(damping)
    weights = {k: 1.0 for k in data} | dict(weights or {})
    sw, rows = _row_scales(data, weights)
    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    return _lm_step(net, params, blocks, _gn_direction(net, data)[0], sw, rows, damping)[0]


def train(net: Network, problem, *, steps: int = 1000, optimizer: str = "adam",
          lr: float = 1e-3, adaptive: bool = False, update_every: int = 100,
          weights: dict | None = None, n_residual: int = 64, n_boundary: int = 32,
          point_seed: int = 0, seed: int = 0, record_every: int = 100,
          grid: int = 64, damping: float = 1e-3) -> TrainResult:
    """Train ``net`` on ``problem`` (``ntk_pinn.problems``) by full-batch ``optimizer``:
    ``"adam"`` or ``"gd"`` (learning rate ``lr``) or ``"lm"`` (Levenberg–Marquardt, initial
    relative ``damping``; ``lr`` unused; one step = one accepted or rejected trial).

    ``weights``: fixed weights per block name (default 1), or the starting weights when
    ``adaptive``. ``steps`` must be a multiple of ``record_every`` and, when adaptive, of
    ``update_every``.
    """
    import jax
    import jax.numpy as jnp
    import optax

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    for label, value in (("steps", steps), ("record_every", record_every),
                         ("update_every", update_every)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    chunk = np.gcd(record_every, update_every) if adaptive else record_every
    if steps % record_every or (adaptive and steps % update_every):
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})"
                         + (f" and update_every ({update_every})" if adaptive else "") + ".")
    if not (lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    _check_damping(damping)
    data = problem.data(n_residual, n_boundary, seed=point_seed)
    names = list(data)
    w = {n: 1.0 for n in names}
    if weights is not None:
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights for unknown blocks {sorted(unknown)}; blocks: {names}.")
        w.update({k: float(v) for k, v in weights.items()})
    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    residuals = [jax.vmap(residual_fn(net, op), (None, 0)) for op, _, _ in data.values()]
    targets = [(jnp.asarray(x), jnp.asarray(v)) for _, x, v in data.values()]

    def terms(params):
        return jnp.stack([jnp.mean((fn(params, x) - v) ** 2)
                          for fn, (x, v) in zip(residuals, targets)])

    opt = optax.adam(lr) if optimizer == "adam" else optax.sgd(lr)

    @jax.jit
    def advance_first_order(params, state, lam, n):
        def step(_, carry):
            p, s = carry
            g = jax.grad(lambda q: jnp.sum(lam * terms(q)))(p)
            updates, s = opt.update(g, s, p)
            return optax.apply_updates(p, updates), s
        return jax.lax.fori_loop(0, n, step, (params, state))

    x_eval = problem.grid(grid if len(problem.variables) == 1 else int(np.sqrt(grid)) + 1)
    exact = problem.exact(x_eval)
    apply = jax.jit(net.apply_fn)

    def error(params):
        pred = np.asarray(apply(params, jnp.asarray(x_eval)))[:, 0]
        return float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))

    params = net.init(jax.random.PRNGKey(seed), len(problem.variables))
    state = opt.init(params)
    record = {"steps": [], "errors": [], **{f"loss_{n}": [] for n in names},
              **{f"weight_{n}": [] for n in names}}

    def log(step):
        t = np.asarray(terms(params))
        record["steps"].append(step)
        record["errors"].append(error(params))
        for i, n in enumerate(names):
            record[f"loss_{n}"].append(float(t[i]))
            record[f"weight_{n}"].append(w[n])

    if optimizer == "lm":
        direction, half_loss = _gn_direction(net, data)
        state = {"damping": float(damping)}

        def advance(params, state, lam, n):
            sw, rows = _row_scales(data, dict(zip(names, np.asarray(lam))))
            for _ in range(n):
                step, loss0 = _lm_step(net, params, blocks, direction, sw, rows,
                                       state["damping"])
                trial = jax.tree_util.tree_map(lambda a, b: a - b, params, step)
                if float(half_loss(trial, sw)) < float(loss0):
                    params = trial
                    state["damping"] = max(state["damping"] / 3.0, 1e-12)
                else:
                    state["damping"] = min(state["damping"] * 4.0, 1e8)
            return params, state
    else:
        advance = advance_first_order

    t0 = time.perf_counter()
    done = 0
    log(0)
    while done < steps:
        if adaptive and done % update_every == 0:
            w = trace_weights(empirical_kernel(net, params, blocks))
        lam = jnp.asarray([w[n] for n in names])
        params, state = advance(params, state, lam, int(chunk))
        done += int(chunk)
        if done % record_every == 0:
            log(done)
    return TrainResult(np.array(record["steps"]),
                       {n: np.array(record[f"loss_{n}"]) for n in names},
                       {n: np.array(record[f"weight_{n}"]) for n in names},
                       np.array(record["errors"]), params, time.perf_counter() - t0)
