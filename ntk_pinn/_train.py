"""Full-batch PINN training with fixed or NTK-adaptive loss weights (optax).

Loss: ``Σ_i λ_i mean_j (B_i[u](x_ij) - g_ij)²`` over the problem's constraint blocks
(residual included). With ``adaptive=True`` the weights are Wang, Yu & Perdikaris'
``λ_i = tr(K) / tr(K_ii)`` from the empirical PINN NTK of the current network, recomputed
every ``update_every`` steps (their Algorithm 1).
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import numpy as np

from ._empirical import empirical_kernel, residual_fn, residual_vector_fn
from ._network import Network

__all__ = ["TrainResult", "TrainState", "train", "gauss_newton_step"]

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


class TrainState(NamedTuple):
    """One point of a training run: ``params`` after ``step`` steps, the optimizer's state
    (optax state; for LM the current relative damping) and the loss ``weights`` in force."""

    step: int
    params: object
    optimizer_state: object
    weights: dict


def _check_train_args(steps, record_every, update_every, adaptive, optimizer, lr,
                      damping) -> int:
    """Validate; return the chunk of steps between two recording/weight-update points."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    for label, value in (("steps", steps), ("record_every", record_every),
                         ("update_every", update_every)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    if steps % record_every or (adaptive and steps % update_every):
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})"
                         + (f" and update_every ({update_every})" if adaptive else "") + ".")
    if not (lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    _check_damping(damping)
    return int(np.gcd(record_every, update_every) if adaptive else record_every)


def _initial_weights(weights: dict | None, names: list) -> dict:
    w = {n: 1.0 for n in names}
    if weights is not None:
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights for unknown blocks {sorted(unknown)}; blocks: {names}.")
        w.update({k: float(v) for k, v in weights.items()})
    return w


def _loss_terms_fn(net: Network, data: dict):
    """Jit-able ``params -> (n_blocks,)``: the unweighted mean-square term of each block."""
    import jax
    import jax.numpy as jnp

    residuals = [jax.vmap(residual_fn(net, op), (None, 0)) for op, _, _ in data.values()]
    targets = [(jnp.asarray(x), jnp.asarray(v)) for _, x, v in data.values()]

    def terms(params):
        return jnp.stack([jnp.mean((fn(params, x) - v) ** 2)
                          for fn, (x, v) in zip(residuals, targets)])

    return terms


def _first_order(net: Network, data: dict, optimizer: str, lr: float):
    """``(init, advance)``: optax ``adam``/``sgd`` on ``Σ λ_b terms_b``; ``advance(state,
    n) -> state`` after ``n`` steps (one jitted loop)."""
    import jax
    import jax.numpy as jnp
    import optax

    terms = _loss_terms_fn(net, data)
    opt = optax.adam(lr) if optimizer == "adam" else optax.sgd(lr)

    @jax.jit
    def run(params, opt_state, lam, n):
        def step(_, carry):
            p, s = carry
            g = jax.grad(lambda q: jnp.sum(lam * terms(q)))(p)
            updates, s = opt.update(g, s, p)
            return optax.apply_updates(p, updates), s
        return jax.lax.fori_loop(0, n, step, (params, opt_state))

    def advance(state: TrainState, n: int) -> TrainState:
        lam = jnp.asarray(list(state.weights.values()))
        params, opt_state = run(state.params, state.optimizer_state, lam, n)
        return state._replace(step=state.step + n, params=params, optimizer_state=opt_state)

    return opt.init, advance


def _levenberg_marquardt(net: Network, data: dict, damping: float):
    """``(init, advance)`` for LM: each step is one trial ``params - δ``, accepted (damping
    ÷ 3) when it lowers the weighted loss, else rejected (damping × 4)."""
    import jax

    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    direction, half_loss = _gn_direction(net, data)

    def trial(params, mu, sw, rows):
        step, loss0 = _lm_step(net, params, blocks, direction, sw, rows, mu)
        candidate = jax.tree_util.tree_map(lambda a, b: a - b, params, step)
        if float(half_loss(candidate, sw)) < float(loss0):
            return candidate, max(mu / 3.0, 1e-12)
        return params, min(mu * 4.0, 1e8)

    def advance(state: TrainState, n: int) -> TrainState:
        sw, rows = _row_scales(data, state.weights)
        params, mu = state.params, state.optimizer_state
        for _ in range(n):
            params, mu = trial(params, mu, sw, rows)
        return state._replace(step=state.step + n, params=params, optimizer_state=mu)

    return (lambda params: float(damping)), advance


def _error_fn(net: Network, problem, grid: int):
    """``params -> relative L2 error`` against the exact solution on a grid."""
    import jax
    import jax.numpy as jnp

    x_eval = problem.grid(grid if len(problem.variables) == 1 else int(np.sqrt(grid)) + 1)
    exact = problem.exact(x_eval)
    apply = jax.jit(net.apply_fn)

    def error(params):
        pred = np.asarray(apply(params, jnp.asarray(x_eval)))[:, 0]
        return float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))

    return error


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

    chunk = _check_train_args(steps, record_every, update_every, adaptive, optimizer, lr,
                              damping)
    data = problem.data(n_residual, n_boundary, seed=point_seed)
    names = list(data)
    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    init, advance = (_levenberg_marquardt(net, data, damping) if optimizer == "lm"
                     else _first_order(net, data, optimizer, lr))
    terms, error = jax.jit(_loss_terms_fn(net, data)), _error_fn(net, problem, grid)

    def record(state: TrainState) -> tuple:
        return state.step, error(state.params), np.asarray(terms(state.params)), state.weights

    params = net.init(jax.random.PRNGKey(seed), len(problem.variables))
    state = TrainState(0, params, init(params), _initial_weights(weights, names))
    t0 = time.perf_counter()
    records = [record(state)]
    while state.step < steps:
        if adaptive and state.step % update_every == 0:
            state = state._replace(
                weights=empirical_kernel(net, state.params, blocks).trace_weights())
        state = advance(state, chunk)
        if state.step % record_every == 0:
            records.append(record(state))
    steps_, errors, losses, weights_ = zip(*records)
    return TrainResult(np.array(steps_),
                       {n: np.array([t[i] for t in losses]) for i, n in enumerate(names)},
                       {n: np.array([w[n] for w in weights_]) for n in names},
                       np.array(errors), state.params, time.perf_counter() - t0)
