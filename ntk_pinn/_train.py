"""PINN training: fixed or NTK-adaptive loss weights, full batch or fresh mini-batches,
optax optimizers and schedules, float32 or float64, checkpoints that resume exactly.

Loss: ``Σ_b w_b λ_g(b) mean_j (B_b[u](x_bj) - g_bj)²`` over the problem's constraint
blocks (residual included): ``w_b`` fixed multipliers (``weights``), ``λ_g`` one weight
per group of blocks (``groups``; default one per block), 1 unless ``adaptive``. With
``adaptive=True`` they are Wang, Yu & Perdikaris' ``λ_g = tr(K) / tr(K_g)`` from the
empirical PINN NTK of the current network (only its diagonal blocks' traces are formed:
:func:`ntk_pinn.empirical_traces`), recomputed every ``update_every`` steps (their
Algorithm 1).

Points: full batch on fixed points (``problem.data(n_residual, n_boundary, point_seed)``),
or with ``batch_size`` a fresh batch from the problem's samplers every step (drawn by
``numpy.random.default_rng((point_seed, step))``, so a run is the same however it is cut
into pieces). Losses and errors are recorded on the fixed points.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ._blocks import check_groups, trace_weights
from ._empirical import empirical_kernel, empirical_traces, residual_fn, residual_vector_fn
from ._network import Network

__all__ = ["TrainResult", "TrainState", "train", "gauss_newton_step"]

OPTIMIZERS = ("adam", "gd", "lbfgs", "lm")
DTYPES = ("float32", "float64")
_CHECKPOINT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """``steps``: recorded steps; ``losses[name]``: the unweighted mean-square term of each
    block on the fixed points at those steps; ``weights[name]``: the weight in force on
    each block (``w_b λ_g``); ``errors``: relative L2 error against the exact solution on a
    grid; ``params``: the final parameters; ``seconds``: training wall time (summed over
    resumed pieces); ``resumed_from``: the step a checkpoint resumed from (0: none);
    ``monitored``: ``monitor(params)`` at each recorded step (when a monitor was given)."""

    steps: np.ndarray
    losses: dict
    weights: dict
    errors: np.ndarray
    params: object
    seconds: float
    resumed_from: int = 0
    monitored: tuple = ()

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
    return direction(params, jnp.asarray(sw, K_w.dtype), mu, jnp.asarray(K_w))


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
    (optax state; for LM the current relative damping) and the loss ``weights`` in force on
    each block."""

    step: int
    params: object
    optimizer_state: object
    weights: dict


def _positive_int(label, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}.")


def _sizes(label: str, value, names: list) -> dict | None:
    """``None``, or ``{block: positive int}`` from an int (every block) or a mapping that
    names every block."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = {n: value for n in names}
    if not isinstance(value, dict) or set(value) != set(names):
        raise ValueError(f"{label} must be a positive integer or a mapping with one for each "
                         f"block {names}, got {value!r}.")
    for n, v in value.items():
        _positive_int(f"{label}[{n!r}]", v)
    return {n: int(value[n]) for n in names}


def _check_lr(lr) -> None:
    if callable(lr):
        return
    if not (isinstance(lr, (int, float)) and lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr must be a positive number or an optax schedule, got {lr!r}.")


def _initial_weights(weights: dict | None, names: list) -> dict:
    w = {n: 1.0 for n in names}
    if weights is not None:
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights for unknown blocks {sorted(unknown)}; blocks: {names}.")
        w.update({k: float(v) for k, v in weights.items()})
    return w


def _schedule(lr, lr_decay, decay_every: int):
    """A float, or an optax schedule: ``lr`` itself when callable, else ``lr ·
    lr_decay^(step / decay_every)`` (TensorFlow's ``exponential_decay``, not staircase, as
    in Wang et al.'s wave code) when ``lr_decay`` is set."""
    import optax

    if callable(lr) or lr_decay is None:
        return lr
    return optax.exponential_decay(lr, decay_every, lr_decay, staircase=False)


def _casting(dtype: str) -> Callable:
    import jax
    import jax.numpy as jnp

    target = jnp.float32 if dtype == "float32" else jnp.float64
    return lambda tree: jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, target) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)
        else a, tree)


def _terms_fn(net: Network, ops: list):
    """Jit-able ``(params, xs, gs) -> (n_blocks,)``: the unweighted mean-square term
    ``mean (B_b[u](x) - g)²`` of each block (training loss and records alike)."""
    import jax
    import jax.numpy as jnp

    fns = [jax.vmap(residual_fn(net, op), (None, 0)) for op in ops]

    def terms(params, xs, gs):
        return jnp.stack([jnp.mean((fn(params, x) - g) ** 2)
                          for fn, x, g in zip(fns, xs, gs)])

    return terms


def _sample(problem, sizes: dict, seed: tuple) -> dict:
    """``{block: (points, targets)}`` drawn from the samplers by ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in problem.terms:  # a constraint of fixed size (a pinned point) keeps its size
        x = np.asarray(c.sampler(rng, c.size or sizes[c.name]), dtype=np.float64)
        out[c.name] = (x, np.asarray(c.target(x), dtype=np.float64))
    return out


def _batches(problem, sizes: dict, point_seed: int, start: int, n: int, names: list):
    """Fresh batches of steps ``start .. start + n - 1``: per block ``(n, m_b, d)`` points
    and ``(n, m_b)`` targets."""
    draws = [_sample(problem, sizes, (point_seed, step)) for step in range(start, start + n)]
    xs = tuple(np.stack([d[k][0] for d in draws]) for k in names)
    gs = tuple(np.stack([d[k][1] for d in draws]) for k in names)
    return xs, gs


def _first_order(net: Network, ops: list, optimizer: str, lr):
    """``(init, run_fixed, run_batches)`` for optax ``adam``/``sgd``/``lbfgs``:
    ``run_fixed(params, state, lam, xs, gs, n)`` takes ``n`` steps on fixed points,
    ``run_batches(params, state, lam, xs, gs)`` one step per leading entry of ``xs``."""
    import jax
    import optax

    terms = _terms_fn(net, ops)

    def loss(params, lam, xs, gs):
        t = terms(params, xs, gs)
        return sum(lam[i] * t[i] for i in range(len(ops)))

    if optimizer == "lbfgs":
        opt = optax.lbfgs()
    else:
        opt = optax.adam(lr) if optimizer == "adam" else optax.sgd(lr)

    def step(params, opt_state, lam, xs, gs):
        f = lambda q: loss(q, lam, xs, gs)  # noqa: E731
        if optimizer == "lbfgs":
            value, g = optax.value_and_grad_from_state(f)(params, state=opt_state)
            updates, opt_state = opt.update(g, opt_state, params, value=value, grad=g,
                                            value_fn=f)
        else:
            updates, opt_state = opt.update(jax.grad(f)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    @jax.jit
    def run_fixed(params, opt_state, lam, xs, gs, n):
        return jax.lax.fori_loop(0, n, lambda _, c: step(*c, lam, xs, gs), (params, opt_state))

    @jax.jit
    def run_batches(params, opt_state, lam, xs, gs):
        def body(carry, batch):
            return step(*carry, lam, *batch), None
        return jax.lax.scan(body, (params, opt_state), (xs, gs))[0]

    return opt.init, run_fixed, run_batches


def _levenberg_marquardt(net: Network, data: dict):
    """``advance(state, n)`` for LM: each step is one trial ``params - δ``, accepted
    (damping ÷ 3) when it lowers the weighted loss, else rejected (damping × 4)."""
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

    return advance


def _error_fn(net: Network, problem, grid: int):
    """``params -> relative L2 error`` against the exact solution on a grid (over all the
    fields of a system: ``‖U - U*‖_F / ‖U*‖_F`` with ``U: (n, F)``)."""
    import jax
    import jax.numpy as jnp

    x_eval = problem.grid(grid if len(problem.variables) == 1 else int(np.sqrt(grid)) + 1)
    exact = problem.exact_fields(x_eval)
    apply = jax.jit(net.apply_fn)

    def error(params):
        pred = np.asarray(apply(params, jnp.asarray(x_eval)))
        return float(np.linalg.norm(pred - exact) / np.linalg.norm(exact))

    return error


# ----------------------------------------------------------------------------- checkpoints

def _network_description(net: Network) -> dict:
    out = {f.name: getattr(net, f.name) for f in dataclasses.fields(net)}
    out["activation"] = net.activation_name
    if net.outputs == 1:  # as before systems existed: older checkpoints still resume
        del out["outputs"]
    return out


def _digest(tree) -> str:
    """A digest of a parameter pytree's values (a warm start's identity in checkpoints)."""
    import hashlib

    import jax

    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf, np.float64)).tobytes())
    return h.hexdigest()


def _save_checkpoint(path: Path, config: dict, state: TrainState, records: list,
                     seconds: float) -> None:
    import jax

    payload = {"version": _CHECKPOINT_VERSION, "config": config, "step": state.step,
               "params": jax.device_get(state.params),
               "optimizer_state": jax.device_get(state.optimizer_state),
               "weights": dict(state.weights), "records": records, "seconds": seconds}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(payload, f)
    os.replace(tmp, path)  # atomic: an interrupt leaves the previous checkpoint whole


def _load_checkpoint(path: Path, config: dict, steps: int):
    """``(state, records, seconds)`` from a checkpoint of the same run, else ValueError."""
    with open(path, "rb") as f:
        payload = pickle.load(f)
    if payload.get("version") != _CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {str(path)!r} has format {payload.get('version')!r}, "
                         f"this version writes {_CHECKPOINT_VERSION}; delete it to restart.")
    saved = payload["config"]
    differ = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
    if differ:
        detail = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {config.get(k)!r}"
                           for k in differ)
        raise ValueError(f"checkpoint {str(path)!r} belongs to another run ({detail}). "
                         "Use another checkpoint path, or delete it to restart.")
    if payload["step"] > steps:
        raise ValueError(f"checkpoint {str(path)!r} is at step {payload['step']}, beyond "
                         f"steps={steps}; ask for at least {payload['step']} steps.")
    import jax.numpy as jnp
    import jax

    as_jax = lambda tree: jax.tree_util.tree_map(jnp.asarray, tree)  # noqa: E731
    state = TrainState(payload["step"], as_jax(payload["params"]),
                       as_jax(payload["optimizer_state"]), payload["weights"])
    return state, payload["records"], payload["seconds"]


# ----------------------------------------------------------------------------------- train

def _check_options(*, steps, optimizer, lr, damping, record_every, update_every, adaptive,
                   checkpoint, checkpoint_every, dtype, batch_size, lr_decay,
                   decay_every) -> int:
    """Validate; return the chunk of steps between two recording / weight-update /
    checkpoint points."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}.")
    for label, value in (("steps", steps), ("record_every", record_every),
                         ("update_every", update_every), ("decay_every", decay_every)):
        _positive_int(label, value)
    if steps % record_every or (adaptive and steps % update_every):
        raise ValueError(f"steps ({steps}) must be a multiple of record_every ({record_every})"
                         + (f" and update_every ({update_every})" if adaptive else "") + ".")
    _check_lr(lr)
    if lr_decay is not None and not (0 < lr_decay and np.isfinite(lr_decay)):
        raise ValueError(f"lr_decay must be a positive number, got {lr_decay!r}.")
    if lr_decay is not None and callable(lr):
        raise ValueError("lr_decay applies to a number lr; with an optax schedule as lr, "
                         "put the decay in the schedule.")
    _check_damping(damping)
    if batch_size is not None and optimizer in ("lbfgs", "lm"):
        raise ValueError(f"batch_size (fresh points every step) works with 'adam' and 'gd'; "
                         f"{optimizer!r} needs one fixed objective: leave batch_size=None.")
    chunk = math.gcd(record_every, update_every) if adaptive else record_every
    if checkpoint is not None:
        every = record_every if checkpoint_every is None else checkpoint_every
        _positive_int("checkpoint_every", every)
        chunk = math.gcd(chunk, every)
    return chunk


def train(net: Network, problem, *, steps: int = 1000, optimizer: str = "adam",
          lr=1e-3, lr_decay: float | None = None, decay_every: int = 1000,
          adaptive: bool = False, update_every: int = 100, weights: dict | None = None,
          groups: dict | None = None, n_residual: int = 64, n_boundary: int = 32,
          batch_size=None, kernel_size=None, kernel_resample: bool = False,
          point_seed: int = 0, seed: int = 0,
          record_every: int = 100, grid: int = 64, damping: float = 1e-3,
          dtype: str = "float64", checkpoint=None, checkpoint_every: int | None = None,
          params=None, monitor: Callable | None = None,
          progress: bool = False) -> TrainResult:
    """Train ``net`` on ``problem`` (``ntk_pinn.problems``); see the module docstring.

    Args:
      steps: optimizer steps (a multiple of ``record_every`` and, when adaptive, of
        ``update_every``).
      optimizer: ``"adam"``, ``"gd"`` (learning rate ``lr``), ``"lbfgs"`` (optax L-BFGS
        with its zoom line search; ``lr`` unused) or ``"lm"`` (Levenberg–Marquardt,
        initial relative ``damping``; one step = one accepted or rejected trial).
      lr: a number or an optax schedule; ``lr_decay``: multiply it by ``lr_decay`` every
        ``decay_every`` steps (smoothly, as TensorFlow's ``exponential_decay``).
      adaptive: NTK-adaptive weights every ``update_every`` steps, one per group of
        ``groups`` (``{group: block names}``; default one per block), from the traces of
        the empirical NTK on one fixed set of ``kernel_size`` points per block drawn from
        the samplers (int or ``{block: n}``; default: the fixed training points of a
        full-batch run, else ``batch_size`` points); ``kernel_resample=True`` draws them
        afresh at every update (Wang et al.'s code: the current batch).
        L-BFGS restarts its memory when the weights change (a new objective).
      weights: fixed multipliers per block (default 1; adaptive weights multiply them).
      n_residual, n_boundary, point_seed: the fixed points (``problem.data``): the
        training points of a full-batch run, and where losses are recorded.
      batch_size: ``None`` (full batch), or an int / ``{block: n}``: a fresh batch from the
        samplers every step (Adam and GD only).
      seed: the parameters' initialization (``net.init``); ``params``: start from these
        instead (a warm start, e.g. curriculum training).
      dtype: ``"float64"`` or ``"float32"`` (the papers trained in float32) for the
        parameters, points and optimizer; kernels for the weights are float64.
      checkpoint: a file; the state is saved there every ``checkpoint_every`` steps
        (default ``record_every``) and a run started with the same settings resumes from
        it, with identical results (only ``steps`` may differ, e.g. to extend a run).
      monitor: ``params -> anything`` (e.g. an empirical NTK) evaluated at every recorded
        step, kept in ``TrainResult.monitored`` (and in checkpoints).
      progress: a progress bar over the steps.
    """
    import jax
    import jax.numpy as jnp

    chunk = _check_options(steps=steps, optimizer=optimizer, lr=lr, damping=damping,
                           record_every=record_every, update_every=update_every,
                           adaptive=adaptive, checkpoint=checkpoint,
                           checkpoint_every=checkpoint_every, dtype=dtype,
                           batch_size=batch_size, lr_decay=lr_decay, decay_every=decay_every)
    data = problem.data(n_residual, n_boundary, seed=point_seed)
    names = list(data)
    batch = _sizes("batch_size", batch_size, names)
    kernel_sizes = _sizes("kernel_size", kernel_size, names)
    if kernel_size is not None and not adaptive:
        raise ValueError("kernel_size sets the NTK points of adaptive weights; pass "
                         "adaptive=True or leave it out.")
    groups = check_groups(groups, names)
    fixed = _initial_weights(weights, names)
    cast = _casting(dtype)
    ops = [op for op, _, _ in data.values()]
    record_xs = tuple(jnp.asarray(x) for _, x, _ in data.values())
    record_gs = tuple(jnp.asarray(g) for _, _, g in data.values())
    fixed_xs, fixed_gs = cast(record_xs), cast(record_gs)
    if optimizer == "lm":
        init, advance_lm = (lambda params: float(damping)), _levenberg_marquardt(net, data)
    else:
        init, run_fixed, run_batches = _first_order(
            net, ops, optimizer, _schedule(lr, lr_decay, decay_every))
    terms_at = _terms_fn(net, ops)
    terms = jax.jit(lambda p: terms_at(p, record_xs, record_gs))
    error = _error_fn(net, problem, grid)

    def advance(state: TrainState, n: int) -> TrainState:
        if optimizer == "lm":
            return advance_lm(state, n)
        lam = cast(jnp.asarray([state.weights[k] for k in names]))
        if batch is None:
            params, opt_state = run_fixed(state.params, state.optimizer_state, lam, fixed_xs,
                                          fixed_gs, n)
        else:
            xs, gs = _batches(problem, batch, point_seed, state.step, n, names)
            params, opt_state = run_batches(state.params, state.optimizer_state, lam,
                                            cast(xs), cast(gs))
        return state._replace(step=state.step + n, params=params, optimizer_state=opt_state)

    sizes = kernel_sizes or batch
    # Seeds: (point_seed, step) draws a step's batch; (point_seed, step, 1) the kernel
    # points of an update when resampled; (point_seed, 0, 2) the one fixed kernel set.
    kernel_points = (None if not adaptive or (kernel_resample and sizes is not None) else
                     {k: x for k, (_, x, _) in data.items()} if sizes is None else
                     {k: x for k, (x, _) in _sample(problem, sizes, (point_seed, 0, 2)).items()})

    def adapt(state: TrainState) -> TrainState:
        points = kernel_points or {
            k: x for k, (x, _) in _sample(problem, sizes, (point_seed, state.step, 1)).items()}
        traces = empirical_traces(net, state.params,
                                  {k: (data[k][0], points[k]) for k in names})
        lam = trace_weights(traces, groups)
        group_of = {n: g for g, members in groups.items() for n in members}
        new = {k: fixed[k] * lam[group_of[k]] for k in names}
        opt_state = init(state.params) if optimizer == "lbfgs" else state.optimizer_state
        return state._replace(weights=new, optimizer_state=opt_state)

    def record(state: TrainState) -> tuple:
        return (state.step, error(state.params), np.asarray(terms(state.params), np.float64),
                dict(state.weights), None if monitor is None else monitor(state.params))

    config = dict(network=_network_description(net), problem=problem.name,
                  optimizer=optimizer, lr=lr if not callable(lr) else f"schedule {lr!r}",
                  lr_decay=lr_decay, decay_every=decay_every, adaptive=adaptive,
                  update_every=update_every, weights=fixed, groups=groups,
                  n_residual=n_residual, n_boundary=n_boundary, batch_size=batch,
                  kernel_size=kernel_sizes, point_seed=point_seed, seed=seed,
                  **({"kernel_resample": kernel_resample} if adaptive else {}),
                  record_every=record_every, grid=grid, damping=damping, dtype=dtype,
                  params=None if params is None else _digest(params),
                  monitor=None if monitor is None else getattr(monitor, "__qualname__",
                                                               repr(monitor)))
    path = None if checkpoint is None else Path(checkpoint)
    every = record_every if checkpoint_every is None else checkpoint_every
    if path is not None and path.exists():
        state, records, seconds = _load_checkpoint(path, config, steps)
    else:
        start = net.init(jax.random.PRNGKey(seed), len(problem.variables)) if params is None \
            else params
        start = cast(start)
        state = TrainState(0, start, init(start), fixed)
        records, seconds = [record(state)], 0.0
    resumed_from = state.step

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    with tqdm(total=steps, initial=state.step, disable=not progress, desc="train",
              unit="step") as bar:
        while state.step < steps:
            if adaptive and state.step % update_every == 0:
                state = adapt(state)
            state = advance(state, chunk)
            # jax dispatches asynchronously: wait, so the bar counts finished steps (it ran
            # one chunk ahead, and an interrupted run looked further than its checkpoint)
            jax.block_until_ready(state.params)
            bar.update(chunk)
            if state.step % record_every == 0:
                records.append(record(state))
            if path is not None and (state.step % every == 0 or state.step == steps):
                _save_checkpoint(path, config, state, records,
                                 seconds + time.perf_counter() - t0)
    seconds += time.perf_counter() - t0
    steps_, errors, losses, weights_, monitored = zip(*records)
    return TrainResult(np.array(steps_),
                       {n: np.array([t[i] for t in losses]) for i, n in enumerate(names)},
                       {n: np.array([w[n] for w in weights_]) for n in names},
                       np.array(errors), state.params, seconds, resumed_from,
                       monitored if monitor is not None else ())
