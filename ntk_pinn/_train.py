"""PINN training: fixed or NTK-adaptive loss weights, full batch or fresh mini-batches,
optax optimizers and schedules or Levenberg–Marquardt, float32 or float64, checkpoints
that resume exactly.

Loss: ``Σ_b w_b λ_g(b) mean_j (B_b[u](x_bj) - g_bj)²`` over the problem's constraint
blocks (residual included): ``w_b`` fixed multipliers (``weights``), ``λ_g`` one weight
per group of blocks, 1 unless ``adaptive``. With :class:`Adaptive` they are Wang, Yu &
Perdikaris' ``λ_g = tr(K) / tr(K_g)`` from the empirical PINN NTK of the current network
(only its diagonal blocks' traces are formed: :func:`ntk_pinn.empirical_traces`),
recomputed every ``Adaptive.every`` steps (their Algorithm 1).

The loop advances from one event to the next: a weight update, a record, a checkpoint or
the end, whichever comes first; the optimizer's steps between two events run in one
compiled loop. The option groups are :class:`Points`, :class:`Adaptive`, :class:`Record`
and :class:`Checkpoint` (``ntk_pinn._train_options``); the checkpoint format is
``ntk_pinn._checkpoint``, Levenberg–Marquardt ``ntk_pinn._gauss_newton``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, NamedTuple

import numpy as np

from . import _checkpoint
from ._blocks import check_groups, trace_weights
from ._empirical import empirical_traces, residual_fn
from ._gauss_newton import check_damping, levenberg_marquardt
from ._network import Network
from ._train_options import (Adaptive, Checkpoint, Points, Record, as_option,
                             per_block, positive_int)

__all__ = ["TrainResult", "TrainState", "train"]

OPTIMIZERS = ("adam", "gd", "lbfgs", "lm")
DTYPES = ("float32", "float64")


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


class TrainState(NamedTuple):
    """One point of a training run: ``params`` after ``step`` steps, the optimizer's state
    (optax state; for LM the current relative damping) and the loss ``weights`` in force on
    each block."""

    step: int
    params: object
    optimizer_state: object
    weights: dict


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


def _casting(dtype: str) -> Callable:
    import jax
    import jax.numpy as jnp

    target = jnp.float32 if dtype == "float32" else jnp.float64
    return lambda tree: jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, target) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)
        else a, tree)


def _mean_squares_fn(net: Network, ops: list):
    """Jit-able ``(params, xs, gs) -> (n_blocks,)``: the unweighted mean-square term
    ``mean (B_b[u](x) - g)²`` of each block (training loss and records alike)."""
    import jax
    import jax.numpy as jnp

    fns = [jax.vmap(residual_fn(net, op), (None, 0)) for op in ops]

    def mean_squares(params, xs, gs):
        return jnp.stack([jnp.mean((fn(params, x) - g) ** 2)
                          for fn, x, g in zip(fns, xs, gs)])

    return mean_squares


def _batches(problem, sizes: dict, point_seed: int, start: int, n: int, names: list):
    """Fresh batches of steps ``start .. start + n - 1`` (``problem.draw(sizes, (point_seed,
    step))``): per block ``(n, m_b, d)`` points and ``(n, m_b)`` targets."""
    draws = [problem.draw(sizes, (point_seed, step)) for step in range(start, start + n)]
    xs = tuple(np.stack([d[k][1] for d in draws]) for k in names)
    gs = tuple(np.stack([d[k][2] for d in draws]) for k in names)
    return xs, gs


@functools.lru_cache(maxsize=32)
def _first_order(net: Network, ops: tuple, optimizer: str, lr):
    """``(init, run_fixed, run_batches)`` for optax ``adam``/``sgd``/``lbfgs``:
    ``run_fixed(params, state, lam, xs, gs, n)`` takes ``n`` steps on fixed points,
    ``run_batches(params, state, lam, xs, gs)`` one step per leading entry of ``xs``.
    Cached per spec, so that runs of the same shapes reuse the compiled loops (points are
    arguments, not constants)."""
    import jax
    import optax

    mean_squares = _mean_squares_fn(net, ops)

    def loss(params, lam, xs, gs):
        t = mean_squares(params, xs, gs)
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


def _check(*, steps, optimizer, lr, damping, dtype, points: Points, adaptive,
           record: Record, weights, names: list) -> tuple:
    """Validate the options against each other and the problem's blocks; return the batch
    sizes and the kernel-point sizes (``{block: n}`` or None each), the steps between
    records, the weight groups and the fixed weights."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}.")
    positive_int("steps", steps)
    _check_lr(lr)
    check_damping(damping)
    if points.batch_size is not None and optimizer in ("lbfgs", "lm"):
        raise ValueError(f"batch_size (fresh points every step) works with 'adam' and 'gd'; "
                         f"{optimizer!r} needs one fixed objective: leave batch_size=None.")
    batch = per_block("batch_size", points.batch_size, names)
    kernel = None if adaptive is None else per_block("kernel_size", adaptive.kernel_size,
                                                       names)
    groups = check_groups(None if adaptive is None else adaptive.groups, names)
    return batch, kernel, record.interval(steps), groups, _initial_weights(weights, names)


def _stepper(net: Network, problem, data: dict, *, optimizer: str, lr, damping: float,
             cast, batch: dict | None, point_seed: int):
    """``(init, advance)``: the optimizer's ``init(params)`` and ``advance(state, n)``, which
    takes ``n`` steps (on the fixed points, or on fresh batches by step)."""
    import jax.numpy as jnp

    names = list(data)
    if optimizer == "lm":
        advance_lm = levenberg_marquardt(net, data)

        def advance(state: TrainState, n: int) -> TrainState:
            params, mu = advance_lm(state.params, state.optimizer_state, state.weights, n)
            return state._replace(step=state.step + n, params=params, optimizer_state=mu)

        return (lambda params: float(damping)), advance
    ops = tuple(op for op, _, _ in data.values())
    init, run_fixed, run_batches = _first_order(net, ops, optimizer, lr)
    fixed_xs = cast(tuple(jnp.asarray(x) for _, x, _ in data.values()))
    fixed_gs = cast(tuple(jnp.asarray(g) for _, _, g in data.values()))

    def advance(state: TrainState, n: int) -> TrainState:
        lam = cast(jnp.asarray([state.weights[k] for k in names]))
        if batch is None:
            params, opt_state = run_fixed(state.params, state.optimizer_state, lam, fixed_xs,
                                          fixed_gs, n)
        else:
            xs, gs = _batches(problem, batch, point_seed, state.step, n, names)
            params, opt_state = run_batches(state.params, state.optimizer_state, lam,
                                            cast(xs), cast(gs))
        return state._replace(step=state.step + n, params=params, optimizer_state=opt_state)

    return init, advance


def _adapter(net: Network, problem, data: dict, *, adaptive: Adaptive, groups: dict,
             fixed: dict, sizes: dict | None, point_seed: int, restart):
    """``adapt(state)``: Wang et al.'s weights from the current network's NTK traces on the
    kernel points: the fixed training points when no size is set (a full-batch run), else
    a draw of ``sizes``: once (seed ``(point_seed, 0, 2)``), or afresh at every update
    (seed ``(point_seed, step, 1)``). ``restart(params)``: the optimizer state after the
    weights change (L-BFGS restarts its memory), or None to keep it."""
    names = list(data)
    group_of = {n: g for g, members in groups.items() for n in members}

    def adapt(state: TrainState) -> TrainState:
        seed = (point_seed, state.step, 1) if adaptive.resample else (point_seed, 0, 2)
        at = data if sizes is None else problem.draw(sizes, seed)
        traces = empirical_traces(net, state.params, {k: (data[k][0], at[k][1]) for k in names})
        lam = trace_weights(traces, groups)
        return state._replace(
            weights={k: fixed[k] * lam[group_of[k]] for k in names},
            optimizer_state=state.optimizer_state if restart is None else restart(state.params))

    return adapt


def _recorder(net: Network, problem, data: dict, record: Record):
    """``record_at(state) -> (step, error, mean squares (n_blocks,), weights, monitored)``,
    the losses on the fixed points in float64."""
    import jax
    import jax.numpy as jnp

    xs = tuple(jnp.asarray(x) for _, x, _ in data.values())
    gs = tuple(jnp.asarray(g) for _, _, g in data.values())
    mean_squares_at = _mean_squares_fn(net, [op for op, _, _ in data.values()])
    mean_squares = jax.jit(lambda p: mean_squares_at(p, xs, gs))
    error = _error_fn(net, problem, record.grid)

    def record_at(state: TrainState) -> tuple:
        return (state.step, error(state.params),
                np.asarray(mean_squares(state.params), np.float64), dict(state.weights),
                None if record.monitor is None else record.monitor(state.params))

    return record_at


def _identity(net: Network, problem, *, optimizer, lr, adaptive, kernel_sizes, fixed, groups,
              points: Points, batch, seed, record_every, record: Record, damping, dtype,
              params) -> dict:
    """What determines a run (a checkpoint of another run is refused), as plain JSON."""
    return _checkpoint.plain(dict(
        network=_checkpoint.network_description(net), problem=problem.name,
        optimizer=optimizer, lr=lr if not callable(lr) else
        "optax schedule (identified by its values)", adaptive=adaptive is not None,
        **({} if adaptive is None else dict(
            update_every=adaptive.every, kernel_size=kernel_sizes,
            kernel_resample=adaptive.resample)),
        weights=fixed, groups=groups, n_residual=points.n_residual,
        n_boundary=points.n_boundary, batch_size=batch, point_seed=points.seed, seed=seed,
        record_every=record_every, grid=record.grid, damping=damping, dtype=dtype,
        params=None if params is None else _checkpoint.digest(params),
        monitor=None if record.monitor is None else getattr(
            record.monitor, "__qualname__", type(record.monitor).__name__)))


def _schedule_extra(lr, step: int) -> dict:
    """A schedule's identity at a checkpoint of ``step`` steps: its values so far."""
    return {"schedule": _checkpoint.schedule_digest(lr, step)} if callable(lr) else {}


def _begin(checkpoint, *, config: dict, steps: int, start, init, lr, fixed: dict,
           record_at) -> tuple:
    """``(state, records, seconds)``: from the checkpoint of this run when there is one
    (another run's is refused), else the first record at step 0."""
    if checkpoint is not None and checkpoint.path.exists():
        *state, records, seconds = _checkpoint.load(
            checkpoint.path, config=config, steps=steps, params_template=start,
            optimizer_template=init(start), check_extra=lambda extra, step: None if
            extra == _schedule_extra(lr, step) else "lr: the optax schedule's values over "
            f"the checkpoint's {step} steps differ from this run's")
        return TrainState(*state), records, seconds
    state = TrainState(0, start, init(start), fixed)
    return state, [record_at(state)], 0.0


def _result(records: list, names: list, state: TrainState, seconds: float,
            resumed_from: int, monitor) -> TrainResult:
    steps_, errors, losses, weights_, monitored = zip(*records)
    return TrainResult(np.array(steps_),
                       {n: np.array([t[i] for t in losses]) for i, n in enumerate(names)},
                       {n: np.array([w[n] for w in weights_]) for n in names},
                       np.array(errors), state.params, seconds, resumed_from,
                       monitored if monitor is not None else ())


def train(net: Network, problem, *, steps: int = 1000, optimizer: str = "adam",
          lr=1e-3, damping: float = 1e-3, dtype: str = "float64", seed: int = 0,
          params=None, weights: dict | None = None, adaptive: bool | Adaptive = False,
          points: Points = Points(), record: Record = Record(),
          checkpoint=None, progress: bool = False) -> TrainResult:
    """Train ``net`` on ``problem`` (``ntk_pinn.problems``); see the module docstring.

    Args:
      net: the network (``ntk_pinn.mlp``), one output per field of the problem.
      problem: a :class:`ntk_pinn.problems.Problem`.
      steps: optimizer steps.
      optimizer: ``"adam"``, ``"gd"``, ``"lbfgs"`` (optax, with its zoom line search) or
        ``"lm"`` (Levenberg–Marquardt; a step is one accepted or rejected trial).
      lr: a number or an optax schedule (``optax.exponential_decay(1e-3, 1000, 0.9)``).
      damping: Levenberg–Marquardt's initial relative damping.
      dtype: ``"float64"`` or ``"float32"`` (the papers trained in float32) for the
        parameters, points and optimizer; kernels for the weights are float64.
      seed: the parameters' initialization (``net.init``).
      params: start from these instead (a warm start, e.g. curriculum training).
      weights: fixed multipliers per block (default 1; adaptive weights multiply them).
      adaptive: ``True`` or :class:`Adaptive` (``every``, ``groups``, ``kernel_size``,
        ``resample``): NTK-adaptive weights. L-BFGS restarts its memory when the weights
        change (a new objective).
      points: :class:`Points`: the fixed points and fresh batches.
      record: :class:`Record`: how often (about ten records), the error grid, a monitor.
      checkpoint: a file path or :class:`Checkpoint`: saved, and resumed from.
      progress: a progress bar over the steps.

    Returns:
      :class:`TrainResult`.
    """
    import jax
    from tqdm.auto import tqdm

    adaptive = as_option(adaptive, Adaptive, "adaptive")
    checkpoint = as_option(checkpoint, Checkpoint, "checkpoint")
    data = problem.data(points.n_residual, points.n_boundary, seed=points.seed)
    names = list(data)
    batch, kernel_sizes, record_every, groups, fixed = _check(
        steps=steps, optimizer=optimizer, lr=lr, damping=damping, dtype=dtype, points=points,
        adaptive=adaptive, record=record, weights=weights, names=names)
    cast = _casting(dtype)
    init, advance = _stepper(net, problem, data, optimizer=optimizer, lr=lr, damping=damping,
                             cast=cast, batch=batch, point_seed=points.seed)
    adapt = None if adaptive is None else _adapter(
        net, problem, data, adaptive=adaptive, groups=groups, fixed=fixed,
        sizes=kernel_sizes or batch, point_seed=points.seed,
        restart=init if optimizer == "lbfgs" else None)
    record_at = _recorder(net, problem, data, record)
    config = _identity(net, problem, optimizer=optimizer, lr=lr, adaptive=adaptive,
                       kernel_sizes=kernel_sizes, fixed=fixed, groups=groups, points=points,
                       batch=batch, seed=seed, record_every=record_every, record=record,
                       damping=damping, dtype=dtype, params=params)
    start = cast(net.init(jax.random.PRNGKey(seed), len(problem.variables))
                 if params is None else params)
    state, records, seconds = _begin(checkpoint, config=config, steps=steps, start=start,
                                     init=init, lr=lr, fixed=fixed, record_at=record_at)
    resumed_from = state.step
    save_every = None if checkpoint is None else (checkpoint.every or record_every)
    intervals = [k for k in (record_every, adaptive and adaptive.every, save_every) if k]
    t0 = time.perf_counter()
    with tqdm(total=steps, initial=state.step, disable=not progress, desc="train",
              unit="step") as bar:
        while state.step < steps:
            if adapt is not None and state.step % adaptive.every == 0:
                state = adapt(state)
            # to the next event: a weight update, a record, a checkpoint, or the end
            n = min([steps] + [k * (state.step // k + 1) for k in intervals]) - state.step
            state = advance(state, n)
            jax.block_until_ready(state.params)    # the bar counts finished steps
            bar.update(n)
            if state.step % record_every == 0 or state.step == steps:
                records.append(record_at(state))
            if save_every and (state.step % save_every == 0 or state.step == steps):
                _checkpoint.save(checkpoint.path, config=config, step=state.step,
                                 params=state.params, optimizer_state=state.optimizer_state,
                                 weights=state.weights, records=records, extra=_schedule_extra(
                                     lr, state.step), seconds=seconds + time.perf_counter() - t0)
    return _result(records, names, state, seconds + time.perf_counter() - t0, resumed_from,
                   record.monitor)
