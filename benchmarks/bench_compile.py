"""First-call (compile + run) and steady-state time of ``limiting_kernel`` per
(activation, operator), each in a fresh process with the persistent compilation cache
off (issue 14's target, on the newest supported jax: first call <= 10 s for tanh and
<= 3 s for erf, for operators of total order <= 4 in <= 3 variables, on 2 cores).

"first K*" is the first call in a fresh process after the imports: it pays jax's backend
start-up, the choice of the quadrature (tanh) and every compilation. Baseline in the same
process, afterwards: the first (compiling) call of the jitted plain ``kernel_fn`` (no
operator) on new points, so the ratio is the price of the derivatives.

A second table times the two evaluation paths of ``limiting_kernel`` against each other
in one process, steady state (second call): the per-order graphs (used for block pairs of
at most ``_PER_ORDER_MAX_TILES`` tiles) and the per-operator graph (larger ones), forced
on the same 3 tiles (2-D Laplacian, 128 points, batch_size 64) -- the ratio behind the
threshold.

    python benchmarks/bench_compile.py [--n 8] [--activations erf tanh] [--no-paths]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

OPERATORS = [
    ("u_xx", "x"),
    ("u_xx + u_yy", "x y"),
    ("u_t - 0.1*u_xx", "t x"),
    ("u_xy + 2*u_zz - x*u_z + sin(y)*u", "x y z"),
]

WORKER = """
import json, sys, time
import numpy as np
import jax
import ntk_pinn, theory
activation, operator, variables, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
op = ntk_pinn.Operator(operator, variables)
net = ntk_pinn.mlp(8, 2, activation)
rng = np.random.default_rng(0)
x, x2 = rng.uniform(-1, 1, (n, op.dim)), rng.uniform(-1, 1, (n, op.dim))
t0 = time.perf_counter()
K = theory.limiting_kernel(net, {"r": (op, x)})
first = time.perf_counter() - t0
net = ntk_pinn.mlp(8, 2, activation, quadrature_degree=K.info.get("quadrature_degree"))
t0 = time.perf_counter()
np.asarray(jax.jit(lambda a, b: net.kernel_fn(a, b, "ntk"))(x2, x2))
plain = time.perf_counter() - t0
t0 = time.perf_counter()
theory.limiting_kernel(net, {"r": (op, x2)})
second = time.perf_counter() - t0
print(json.dumps({"plain": plain, "first": first, "second": second}))
"""

PATHS_WORKER = """
import json, sys, time
import numpy as np
import ntk_pinn, theory
from theory import _limiting
activation = sys.argv[1]
op = ntk_pinn.Operator("u_xx + u_yy", "x y")
net = ntk_pinn.mlp(8, 2, activation, quadrature_degree=14 if activation == "tanh" else None)
x = np.random.default_rng(0).uniform(-1, 1, (128, 2))
out = {}
for path, max_tiles in (("per_order", 10 ** 9), ("per_operator", 0)):
    _limiting._PER_ORDER_MAX_TILES = max_tiles
    theory.limiting_kernel(net, {"r": (op, x)}, batch_size=64)        # compile
    t0 = time.perf_counter()
    K = theory.limiting_kernel(net, {"r": (op, x + 0.01)}, batch_size=64)
    out[path] = time.perf_counter() - t0
    out[path + "_K"] = K.matrix
d = np.max(np.abs(out["per_order_K"] - out["per_operator_K"])) / np.max(np.abs(out["per_operator_K"]))
print(json.dumps({"per_order": out["per_order"], "per_operator": out["per_operator"],
                  "max_rel_diff": float(d)}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--activations", nargs="+", default=["erf", "tanh"])
    p.add_argument("--no-paths", action="store_true", help="skip the evaluation-path table")
    args = p.parse_args()
    env = dict(os.environ, PYTHONPATH=ROOT, NTK_PINN_NO_CACHE="1")
    target = {"erf": 3.0, "tanh": 10.0}
    print(f"{'activation':<10} {'operator':<34} {'first K*':>9} {'again':>7} "
          f"{'plain jit':>9} {'ratio':>6}  target")
    for activation in args.activations:
        for operator, variables in OPERATORS:
            out = subprocess.run([sys.executable, "-c", WORKER, activation, operator,
                                  variables, str(args.n)], env=env, capture_output=True,
                                 text=True)
            if out.returncode != 0:
                print(f"{activation:<10} {operator:<34} failed: {out.stderr[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            goal = target.get(activation)
            mark = "" if goal is None else f"<= {goal:g} s: " + (
                "met" if r["first"] <= goal else "NOT met")
            print(f"{activation:<10} {operator:<34} {r['first']:9.2f} {r['second']:7.3f} "
                  f"{r['plain']:9.2f} {r['first'] / r['plain']:6.1f}  {mark}")
    if args.no_paths:
        return
    print("\n# steady state, 3 tiles of 64 x 64, 2-D Laplacian: per-order vs per-operator graphs")
    print(f"{'activation':<10} {'per-order s':>11} {'per-operator s':>14} {'ratio':>6} "
          f"{'max rel diff':>12}")
    for activation in args.activations:
        out = subprocess.run([sys.executable, "-c", PATHS_WORKER, activation], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{activation:<10} failed: {out.stderr[-300:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{activation:<10} {r['per_order']:11.3f} {r['per_operator']:14.3f} "
              f"{r['per_order'] / r['per_operator']:6.2f} {r['max_rel_diff']:12.1e}")


if __name__ == "__main__":
    main()
