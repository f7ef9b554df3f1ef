"""Benchmark: one training step of Wang et al.'s wave network, ``ntk_pinn.train`` against a
plain hand-written jitted JAX PINN step, in the same run.

Network: 3 x 500 tanh, Glorot-normal weights, zero biases, inputs standardized (their
``PINNsNTK_Wave`` code); problem ``wave_1d`` (``u_tt - 4 u_xx = 0``; ``u``, ``u_t`` at t = 0,
``u`` at x = 0, 1); Adam, learning rate 1e-3 x 0.9 per 1 000 steps; a fresh batch of
``--batch`` points per constraint every step, fixed weights.

- plain: ``u(params, t, x)`` written out with ``jnp``, the residual from nested
  ``jax.grad`` + ``vmap``, ``optax.adam``; one jitted step per Python iteration, batches
  drawn in numpy each step (what a hand-written training loop does);
- ours: ``ntk_pinn.train(..., points=Points(batch_size=batch))``; its time per step is
  ``(t(2S) - t(S)) / S`` (two runs, so compilation and the records cancel).

It prints seconds per step, steps/s and the ratio ours / plain, in float32 and float64.
Target: ratio <= 1.2.

    python benchmarks/bench_train.py [--steps 40] [--batch 300] [--width 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain_seconds_per_step(problem, net, params, batch: int, steps: int, dtype) -> float:
    """The hand-written baseline (independent of ntk_pinn's operators and training)."""
    import jax
    import jax.numpy as jnp
    import optax

    mean = jnp.asarray(net.input_mean, dtype)
    std = jnp.asarray(net.input_std, dtype)

    def u(p, t, x):
        h = (jnp.stack([t, x]) - mean) / std
        dense = [q for q in p if len(q)]
        for W, b in dense[:-1]:
            h = jnp.tanh(h @ W + b.reshape(-1))
        W, b = dense[-1]
        return (h @ W + b.reshape(-1))[0]

    u_t = jax.grad(u, 1)
    u_tt = jax.grad(u_t, 1)
    u_xx = jax.grad(jax.grad(u, 2), 2)
    res = lambda p, t, x: u_tt(p, t, x) - 4.0 * u_xx(p, t, x)  # noqa: E731

    def mse(fn, p, z, g):
        return jnp.mean((jax.vmap(fn, (None, 0, 0))(p, z[:, 0], z[:, 1]) - g) ** 2)

    def loss(p, b):
        return (mse(u, p, *b["ic"]) + mse(u_t, p, *b["ic_t"]) + mse(u, p, *b["bc"])
                + mse(res, p, *b["r"]))

    opt = optax.adam(optax.exponential_decay(1e-3, 1000, 0.9))

    @jax.jit
    def step(p, s, b):
        updates, s = opt.update(jax.grad(loss)(p, b), s, p)
        return optax.apply_updates(p, updates), s

    rng = np.random.default_rng(0)

    def draw():
        out = {}
        for c in problem.all_constraints:
            z = c.sampler(rng, batch)
            out[c.name] = (jnp.asarray(z, dtype), jnp.asarray(c.target(z), dtype))
        return out

    state = opt.init(params)
    params, state = step(params, state, draw())            # compile
    jax.block_until_ready(params)
    t0 = time.perf_counter()
    for _ in range(steps):
        params, state = step(params, state, draw())
    jax.block_until_ready(params)
    return (time.perf_counter() - t0) / steps


def ours_seconds_per_step(problem, net, batch: int, steps: int, dtype: str) -> float:
    import ntk_pinn

    def run(n):
        import optax

        result = ntk_pinn.train(net, problem, steps=n, lr=optax.exponential_decay(
                                    1e-3, 1000, 0.9), dtype=dtype,
                                points=ntk_pinn.Points(n_residual=16, n_boundary=4,
                                                       batch_size=batch),
                                record=ntk_pinn.Record(every=n, grid=16))
        return result.seconds

    run(steps)                                              # compile the step graph
    return (run(2 * steps) - run(steps)) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--width", type=int, default=500)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    import ntk_pinn
    from ntk_pinn import problems

    problem = problems.wave_1d()
    net = ntk_pinn.mlp(args.width, 3, "tanh", parameterization="standard",
                       initialization="glorot_normal").standardized(problem.grid(101))
    print(f"wave_1d, 3 x {args.width} tanh (Glorot normal), Adam, {args.batch} fresh points per "
          f"constraint per step; {jax.device_count()} {jax.devices()[0].platform} device(s)")
    print(f"{'dtype':<8} {'plain s/step':>12} {'ours s/step':>12} {'plain steps/s':>13} "
          f"{'ours steps/s':>12} {'ours/plain':>10}")
    for dtype in ("float32", "float64"):
        jdtype = jnp.float32 if dtype == "float32" else jnp.float64
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jdtype),
                                        net.init(jax.random.PRNGKey(0), 2))
        plain = plain_seconds_per_step(problem, net, params, args.batch, args.steps, jdtype)
        ours = ours_seconds_per_step(problem, net, args.batch, args.steps, dtype)
        print(f"{dtype:<8} {plain:12.4f} {ours:12.4f} {1 / plain:13.2f} {1 / ours:12.2f} "
              f"{ours / plain:10.2f}")


if __name__ == "__main__":
    main()
