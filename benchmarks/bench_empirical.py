"""Benchmark: the fast empirical PINN NTK against neural-tangents' ``empirical_ntk_fn``.

In one run, each in its own subprocess (so peak RSS is its own):
1. width 1024, depth 2 erf MLP, 128 points, ``u_xx``: ``ntk_pinn.empirical_kernel``
   (fast path) vs ``nt.empirical_ntk_fn(..., implementation=2)`` on the residual function
   (steady state: both compiled on a warm-up); their max relative difference.
2. width 8192, 256 points: wall time and peak RSS of the fast path.

    python benchmarks/bench_empirical.py [--width 1024] [--n 128] [--big-width 8192]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def worker(task: str, width: int, n: int) -> dict:
    import jax

    import ntk_pinn
    from ntk_pinn.nt import neural_tangents as nt

    net = ntk_pinn.mlp(width, 2, "erf")
    op = ntk_pinn.Operator("u_xx", "x")
    x = np.linspace(0.0, 1.0, n)[:, None]
    params = net.init(jax.random.PRNGKey(0), 1)
    if task == "fast":
        ntk_pinn.empirical_kernel(net, params, [(op, x)])  # compile
        t0 = time.perf_counter()
        K = ntk_pinn.empirical_kernel(net, params, [(op, x)]).matrix
        seconds = time.perf_counter() - t0
        np.save(os.environ["BENCH_OUT"], K)
        return {"seconds": seconds, "rss_gb": _peak_rss_gb()}
    if task == "nt":
        r = ntk_pinn.residual_fn(net, op)

        def f(p, xs):
            return jax.vmap(r, in_axes=(None, 0))(p, xs)[:, None]

        fn = jax.jit(nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0, implementation=2))
        fn(x, None, params).block_until_ready()
        t0 = time.perf_counter()
        K = np.asarray(fn(x, None, params)).reshape(n, n)
        seconds = time.perf_counter() - t0
        np.save(os.environ["BENCH_OUT"], K)
        return {"seconds": seconds, "rss_gb": _peak_rss_gb()}
    raise ValueError(task)


def run(task: str, width: int, n: int, out: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", task, "--width", str(width), "--n", str(n)]
    env = dict(os.environ, PYTHONPATH=ROOT, BENCH_OUT=out)
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--big-width", type=int, default=8192)
    p.add_argument("--big-n", type=int, default=256)
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.width, args.n)))
        return
    import tempfile

    tmp = tempfile.mkdtemp()
    fast = run("fast", args.width, args.n, f"{tmp}/fast.npy")
    ref = run("nt", args.width, args.n, f"{tmp}/nt.npy")
    a, b = np.load(f"{tmp}/fast.npy"), np.load(f"{tmp}/nt.npy")
    diff = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    print(f"# empirical residual NTK of u_xx, depth-2 erf MLP, float64, {os.cpu_count()} cpus")
    print(f"width {args.width}, {args.n} points: fast {fast['seconds']:.3f} s, "
          f"nt implementation 2 {ref['seconds']:.2f} s, speed-up "
          f"{ref['seconds'] / fast['seconds']:.1f}x (target >= 20), max rel diff {diff:.1e}")
    big = run("fast", args.big_width, args.big_n, f"{tmp}/big.npy")
    print(f"width {args.big_width}, {args.big_n} points: fast {big['seconds']:.2f} s, "
          f"peak RSS {big['rss_gb']:.2f} GB (target < 8 GB)")


if __name__ == "__main__":
    main()
