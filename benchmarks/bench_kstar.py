"""Benchmark: K*_rr of the 2-D Laplacian, against two baselines measured in the same run.

For each N: wall time and peak RSS of ``theory.limiting_kernel`` (steady state: the tile
shape is compiled once on a warm-up), the ratio to the plain ``kernel_fn(x, x)`` (in row
blocks of 2048 so that large N fit) and the speed-up over a per-pair ``vmap(hessian)``
baseline (the Laplacian of the Laplacian of the scalar kernel, pair by pair). Above
``--full-baseline-max`` points the per-pair time is extrapolated from its first
``--baseline-rows`` rows (its cost is linear in the number of pairs), and marked so.

A second table compares tanh (exact erf-mixture kernel, ``ntk_pinn._mixture``) with erf
at ``--tanh-n`` points (target: within 5x of erf), one row per mixture node count in
``--tanh-nodes`` (0: the count ``mlp`` chooses from its error estimate), with the accuracy
reached beside it: the mixture's own error estimate (chosen counts) and the measured
difference from a 32-node rule on 256 of the points.

A third table times ``K*`` of a system, 2-D Stokes (``ntk_pinn.problems.stokes_2d``, all
blocks: three residuals at ``--stokes-n`` points each, velocity on ``--stokes-n / 4``
boundary points per component, the pinned pressure), against (a) one scalar Laplacian
block ``K*_rr`` on the same collocation points and (b) the sum of its per-field blocks:
every ``L_a^f L_b^f' Θ`` computed on its own as a scalar kernel (``Operator.part``), which
is the least a system's kernel can cost when ``Θ`` is evaluated once per field pair that
has terms (target: Stokes / sum of per-field blocks <= 1). All timings are steady state
(each computation run once to compile, then timed).

Each measurement runs in its own subprocess so that peak RSS belongs to it alone.

    python benchmarks/bench_kstar.py [--sizes 512 2048 8192 16384] [--activation erf]
                                     [--tanh-n 2048] [--tanh-nodes 0 8 6 4]
                                     [--stokes-n 1024]
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


def _points(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 1.0, (n, 2))


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB -> GiB


def _task_kstar(net, x, n, depth, activation, rows, nodes) -> dict:
    import ntk_pinn
    import theory

    lap = ntk_pinn.Operator("u_xx + u_yy", "x y")
    theory.limiting_kernel(net, [(lap, _points(512))], progress=False)  # compile tile
    t0 = time.perf_counter()
    K = theory.limiting_kernel(net, [(lap, x)], progress=False)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rss_gb": _peak_rss_gb(),
            "diag_min": float(np.diag(K.matrix).min()), "info": K.info}


def _task_accuracy(net, x, n, depth, activation, rows, nodes) -> dict:
    import ntk_pinn
    import theory

    lap = ntk_pinn.Operator("u_xx + u_yy", "x y")
    x = x[:256]
    K = theory.limiting_kernel(net, [(lap, x)], progress=False)
    fine = theory.limiting_kernel(ntk_pinn.mlp(512, depth, activation, quadrature_degree=32),
                                  [(lap, x)], progress=False)
    err = np.max(np.abs(K.matrix - fine.matrix)) / np.max(np.abs(fine.matrix))
    return {"measured_error": float(err), "info": K.info}


def _system_jobs(task: str, blocks: dict, depth, activation, nodes):
    """``compute()`` of the Stokes kernel, of its per-field blocks one by one as scalar
    kernels, or of one scalar Laplacian block on the same points."""
    import ntk_pinn
    import theory

    net = ntk_pinn.mlp(512, depth, activation, quadrature_degree=nodes, outputs=3)
    scalar = ntk_pinn.mlp(512, depth, activation, quadrature_degree=nodes)
    if task == "stokes":
        return lambda: theory.limiting_kernel(net, blocks, progress=False)
    if task == "laplacian":
        lap = ntk_pinn.Operator("u_xx + u_yy", "x y")
        return lambda: theory.limiting_kernel(scalar, [(lap, blocks["mx"][1])], progress=False)
    names, jobs = list(blocks), []
    for i, a in enumerate(names):
        for b in names[i:]:
            (op_a, xa), (op_b, xb) = blocks[a], blocks[b]
            for f in theory.shared_fields(op_a, op_b):
                pa, pb = op_a.part(f), op_b.part(f)
                jobs.append(({"a": (pa, xa)}, None if a == b and pa == pb
                             else {"b": (pb, xb)}))
    return lambda: [theory.limiting_kernel(scalar, r, c, progress=False) for r, c in jobs]


def _task_system(task):
    def run_task(net, x, n, depth, activation, rows, nodes) -> dict:
        import ntk_pinn

        blocks = ntk_pinn.problems.stokes_2d().blocks(n, max(1, n // 4))
        compute = _system_jobs(task, blocks, depth, activation, nodes)
        compute()  # compile
        t0 = time.perf_counter()
        compute()
        return {"seconds": time.perf_counter() - t0, "rss_gb": _peak_rss_gb(),
                "entries": sum(b[1].shape[0] for b in blocks.values()) ** 2}

    return run_task


def _task_plain(net, x, n, depth, activation, rows, nodes) -> dict:
    import jax

    fn = jax.jit(lambda a, b: net.kernel_fn(a, b, "ntk"))
    block = min(n, 2048)
    fn(x[:block], x).block_until_ready()
    t0 = time.perf_counter()
    for i in range(0, n, block):
        np.asarray(fn(x[i:i + block], x))
    return {"seconds": time.perf_counter() - t0, "rss_gb": _peak_rss_gb()}


def _task_perpair(net, x, n, depth, activation, rows, nodes) -> dict:
    import jax
    import jax.numpy as jnp

    def k(a, b):
        return net.kernel_fn(a[None], b[None], "ntk")[0, 0]

    def lap_lap(a, b):
        inner = lambda a_: jnp.trace(jax.hessian(lambda b_: k(a_, b_))(b))  # noqa: E731
        return jnp.trace(jax.hessian(inner)(a))

    fn = jax.jit(jax.vmap(jax.vmap(lap_lap, (None, 0)), (0, None)))
    block = 64
    fn(x[:block], x).block_until_ready()
    todo = min(n, rows)
    t0 = time.perf_counter()
    for i in range(0, todo, block):
        np.asarray(fn(x[i:i + block], x))
    seconds = (time.perf_counter() - t0) * n / todo
    return {"seconds": seconds, "extrapolated_from_rows": todo if todo < n else None,
            "rss_gb": _peak_rss_gb()}


TASKS = {"kstar": _task_kstar, "accuracy": _task_accuracy, "stokes": _task_system("stokes"),
         "stokes_parts": _task_system("stokes_parts"),
         "laplacian": _task_system("laplacian"), "plain": _task_plain,
         "perpair": _task_perpair}


def worker(task: str, n: int, depth: int, activation: str, rows: int,
           nodes: int | None = None) -> dict:
    import ntk_pinn

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks: {sorted(TASKS)}")
    net = ntk_pinn.mlp(512, depth, activation, quadrature_degree=nodes)
    return TASKS[task](net, _points(n), n, depth, activation, rows, nodes)


def run(task: str, n: int, args, activation: str | None = None,
        nodes: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", task, "--n", str(n), "--depth",
           str(args.depth), "--activation", activation or args.activation,
           "--baseline-rows", str(args.baseline_rows if n > args.full_baseline_max else n)]
    if nodes:
        cmd += ["--nodes", str(nodes)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _erf_table(args, rows: list) -> None:
    """K* against the plain kernel and per-pair autodiff, per N."""
    import jax
    print(f"# K*_rr of u_xx + u_yy, depth-{args.depth} {args.activation} MLP, float64, "
          f"{jax.devices()[0].platform} x{jax.local_device_count()}, {os.cpu_count()} cpus")
    header = (f"{'N':>6} {'K* s':>8} {'peak RSS GB':>11} {'plain s':>8} {'K*/plain':>8} "
              f"{'per-pair s':>10} {'speed-up':>8}")
    print(header)
    for n in args.sizes:
        kstar = run("kstar", n, args)
        plain = run("plain", n, args)
        pair = run("perpair", n, args)
        row = {"n": n, "kstar_s": kstar["seconds"], "kstar_rss_gb": kstar["rss_gb"],
               "plain_s": plain["seconds"], "ratio_plain": kstar["seconds"] / plain["seconds"],
               "perpair_s": pair["seconds"], "speedup_perpair": pair["seconds"] / kstar["seconds"],
               "perpair_extrapolated_from_rows": pair["extrapolated_from_rows"],
               "diag_min": kstar["diag_min"]}
        rows.append(row)
        mark = "*" if pair["extrapolated_from_rows"] else " "
        print(f"{n:>6} {row['kstar_s']:>8.2f} {row['kstar_rss_gb']:>11.2f} "
              f"{row['plain_s']:>8.3f} {row['ratio_plain']:>8.2f} "
              f"{row['perpair_s']:>9.1f}{mark} {row['speedup_perpair']:>8.1f}", flush=True)
    print("* per-pair time extrapolated linearly from its first "
          f"{args.baseline_rows} rows.")
    print("targets: K*/plain <= 8 and speed-up >= 20 at N = 2048; peak RSS < 8 GB at N = 16384")


def _tanh_table(args, rows: list) -> None:
    """tanh (erf mixture) against erf at one N, per node count."""
    n = args.tanh_n
    erf = run("kstar", n, args, "erf")
    print(f"\n# tanh (erf mixture) vs erf, K*_rr of u_xx + u_yy, N = {n}: erf "
          f"{erf['seconds']:.2f} s")
    print(f"{'nodes':>9} {'tanh s':>8} {'tanh/erf':>8} {'RSS GB':>7} "
          f"{'est. err':>9} {'meas. err':>9} {'diag min':>9}")
    for nodes in args.tanh_nodes:
        tanh = run("kstar", n, args, "tanh", nodes)
        acc = run("accuracy", n, args, "tanh", nodes)
        info = tanh["info"]
        row = {"n": n, "erf_s": erf["seconds"], "tanh_s": tanh["seconds"],
               "ratio": tanh["seconds"] / erf["seconds"], "tanh_rss_gb": tanh["rss_gb"],
               "nodes": info.get("quadrature_degree"), "nodes_chosen": not nodes,
               "estimated_error": info.get("estimated_error"),
               "measured_error": acc["measured_error"], "tanh_diag_min": tanh["diag_min"]}
        rows.append({"tanh": row})
        label = f"{row['nodes']}{' auto' if not nodes else ''}"
        est = "-" if row["estimated_error"] is None else f"{row['estimated_error']:.1e}"
        print(f"{label:>9} {row['tanh_s']:>8.2f} {row['ratio']:>8.1f} "
              f"{row['tanh_rss_gb']:>7.2f} {est:>9} "
              f"{row['measured_error']:>9.1e} {row['tanh_diag_min']:>9.3g}", flush=True)
    print("target: tanh/erf <= 5 at N = 2048 (errors: relative to the block's largest "
          "entry; measured against a 32-node rule on 256 of the points; 'auto' = the "
          "node count mlp chooses for a 1e-10 error estimate)")


def _stokes_table(args, rows: list) -> None:
    """The Stokes K* against its per-field blocks and one Laplacian block."""
    n = args.stokes_n
    stokes, parts, lap = (run(task, n, args) for task in ("stokes", "stokes_parts",
                                                          "laplacian"))
    row = {"n": n, "stokes_s": stokes["seconds"], "stokes_rss_gb": stokes["rss_gb"],
           "per_field_blocks_s": parts["seconds"], "laplacian_s": lap["seconds"],
           "ratio_per_field": stokes["seconds"] / parts["seconds"],
           "ratio_laplacian": stokes["seconds"] / lap["seconds"]}
    rows.append({"stokes": row})
    print(f"\n# Stokes K* (all blocks: 3 x {n} residual + 2 x {max(1, n // 4)} boundary + "
          f"1 pressure point), depth-{args.depth} {args.activation}")
    print(f"{'Stokes s':>9} {'RSS GB':>7} {'per-field s':>11} {'Stokes/per-field':>16} "
          f"{'K*_rr s':>8} {'Stokes/K*_rr':>12}")
    print(f"{row['stokes_s']:>9.2f} {row['stokes_rss_gb']:>7.2f} "
          f"{row['per_field_blocks_s']:>11.2f} {row['ratio_per_field']:>16.2f} "
          f"{row['laplacian_s']:>8.2f} {row['ratio_laplacian']:>12.2f}", flush=True)
    print("target: Stokes / sum of its per-field blocks <= 1 (K*_rr: one scalar "
          f"Laplacian block on the same {n} collocation points)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192, 16384])
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--activation", default="erf")
    p.add_argument("--baseline-rows", type=int, default=256)
    p.add_argument("--full-baseline-max", type=int, default=2048)
    p.add_argument("--tanh-n", type=int, default=2048, help="0 skips the tanh table")
    p.add_argument("--tanh-nodes", type=int, nargs="+", default=[0, 8, 6, 4],
                   help="mixture node counts for the tanh table (0: chosen from the error "
                        "estimate, the default of mlp)")
    p.add_argument("--stokes-n", type=int, default=1024,
                   help="collocation points per Stokes residual (0 skips the system table)")
    p.add_argument("--nodes", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--worker")
    p.add_argument("--n", type=int)
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.depth, args.activation,
                                args.baseline_rows, args.nodes or None)))
        return

    rows = []
    _erf_table(args, rows)
    if args.tanh_n:
        _tanh_table(args, rows)
    if args.stokes_n:
        _stokes_table(args, rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
