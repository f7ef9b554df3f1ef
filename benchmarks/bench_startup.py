"""Start-up times of the command line and the packages, and the persistent compilation
cache (issue 13).

Each row is a fresh subprocess (median of ``--repeat`` runs), printed beside a baseline
measured in the same run: ``--help`` beside a bare ``python -c pass``; importing
``ntk_pinn, theory, validation`` beside ``import jax``; the first ``ntk-pinn kernel``
(compile + run) with a cold cache (an empty cache directory), with the cache turned off,
and with the warm cache (the same command again).

    python benchmarks/bench_startup.py [--repeat 3] [--activation erf] [--operator ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(argv, env, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if out.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--activation", default="erf")
    p.add_argument("--operator", default="u_xx + u_yy")
    p.add_argument("--variables", default="x y")
    p.add_argument("--n", type=int, default=64)
    args = p.parse_args()
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NTK_PINN_NO_CACHE", None)
    rows = []
    bare = timed([py, "-c", "pass"], env, args.repeat)
    helps = timed([py, "-m", "validation.cli", "--help"], env, args.repeat)
    rows.append(("ntk-pinn --help", helps, "python -c pass", bare))
    jax_import = timed([py, "-c", "import jax"], env, args.repeat)
    ours = timed([py, "-c", "import ntk_pinn, theory, validation"], env, args.repeat)
    rows.append(("import ntk_pinn, theory, validation", ours, "import jax", jax_import))
    with tempfile.TemporaryDirectory() as tmp:
        kernel = [py, "-m", "validation.cli", "kernel", "--operator", args.operator,
                  "--variables", args.variables, "--activation", args.activation,
                  "--n", str(args.n), "--out", os.path.join(tmp, "out")]
        off = timed(kernel + ["--no-cache"], env, args.repeat)
        colds = []
        for k in range(args.repeat):
            cache_env = dict(env, NTK_PINN_CACHE_DIR=os.path.join(tmp, f"cache{k}"))
            colds.append(timed(kernel, cache_env, 1))
        warm = timed(kernel, cache_env, args.repeat)   # the last cache, now filled
        label = f"first kernel ({args.activation}, {args.operator!r}, n={args.n})"
        rows.append((label + ", cold cache", statistics.median(colds), "cache off", off))
        rows.append((label + ", warm cache", warm, "cold cache", statistics.median(colds)))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  {'baseline':<12} {'seconds':>8}  ratio")
    for what, t, base, tb in rows:
        print(f"{what:<{width}}  {t:8.3f}  {base:<12} {tb:8.3f}  {t / tb:5.2f}x")


if __name__ == "__main__":
    main()
