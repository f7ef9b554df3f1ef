"""Benchmark: Levenberg–Marquardt vs Adam on a nonlinear and a linear PINN (seeded).

Problems: ``nonlinear_poisson_1d(a, c=-1)`` (``u_xx - u³ = f``) and its linear counterpart
(``u_xx = f``, the same points), a tanh MLP. For each seed and problem it runs Adam for
``--adam-steps`` and LM for ``--lm-steps`` and prints the relative L2 error and wall time of
each, the error ratio Adam/LM and the time ratio LM/Adam, measured in the same run.

    python benchmarks/bench_optimizers.py [--width 32] [--depth 2] [--a 2] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--a", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--adam-steps", type=int, default=10000)
    parser.add_argument("--adam-lr", type=float, default=1e-3)
    parser.add_argument("--lm-steps", type=int, default=300)
    parser.add_argument("--n-residual", type=int, default=64)
    args = parser.parse_args()

    import ntk_pinn
    from ntk_pinn import problems

    nonlinear = problems.get("nonlinear_poisson_1d", a=args.a)
    net = ntk_pinn.mlp(args.width, args.depth, "tanh")
    print(f"tanh MLP width {args.width} depth {args.depth}; {args.n_residual} residual points; "
          f"Adam {args.adam_steps} steps (lr {args.adam_lr}) vs LM {args.lm_steps} steps")
    print(f"{'problem':<36} {'seed':>4} {'Adam err':>9} {'Adam s':>7} {'LM err':>9} {'LM s':>6} "
          f"{'err Adam/LM':>11} {'time LM/Adam':>12}")
    for problem in (nonlinear, nonlinear.linear()):
        ratios = []
        for seed in args.seeds:
            common = dict(points=ntk_pinn.Points(n_residual=args.n_residual, n_boundary=2),
                          seed=seed)
            adam = ntk_pinn.train(net, problem, optimizer="adam", lr=args.adam_lr,
                                  steps=args.adam_steps,
                                  record=ntk_pinn.Record(every=args.adam_steps), **common)
            lm = ntk_pinn.train(net, problem, optimizer="lm", steps=args.lm_steps,
                                record=ntk_pinn.Record(every=args.lm_steps), **common)
            ratios.append(adam.error / lm.error)
            print(f"{problem.name:<36} {seed:>4} {adam.error:9.2e} {adam.seconds:7.1f} "
                  f"{lm.error:9.2e} {lm.seconds:6.1f} {adam.error / lm.error:11.1f} "
                  f"{lm.seconds / adam.seconds:12.2f}")
        print(f"  geometric-mean error ratio Adam/LM: {np.exp(np.mean(np.log(ratios))):.1f}")


if __name__ == "__main__":
    main()
