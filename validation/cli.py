"""The ``ntk-pinn`` command line.

Heavy imports (jax, neural-tangents and the TensorFlow it pulls in) happen inside the
commands, once, so that ``ntk-pinn --help`` starts quickly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _points(variables, n, n_boundary, low, high, seed):
    """Collocation and boundary points in the box ``[low, high]^d``.

    1-D: ``n`` equispaced interior points and the two end points (``n_boundary`` defaults
    to 2). d >= 2: ``n`` uniform random interior points and ``n_boundary`` uniform
    random points on the faces (default ``n // 4``).
    """
    d = len(variables)
    rng = np.random.default_rng(seed)
    if d == 1:
        x = np.linspace(low, high, n + 2)[1:-1, None]
        nb = 2 if n_boundary is None else n_boundary
        xb = np.array([[low], [high]]) if nb == 2 else rng.choice([low, high], (nb, 1))
        return x, xb
    x = rng.uniform(low, high, (n, d))
    nb = max(1, n // 4) if n_boundary is None else n_boundary
    xb = rng.uniform(low, high, (nb, d))
    face = rng.integers(0, d, nb)
    xb[np.arange(nb), face] = rng.choice([low, high], nb)
    return x, xb


def _cmd_kernel(args) -> int:
    import ntk_pinn
    import theory
    from validation.plots import plot_kernel_heatmap, plot_spectra

    if args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}.")
    variables = args.variables
    op = ntk_pinn.Operator(args.operator, variables=variables)
    bop = ntk_pinn.Operator(args.boundary_operator, variables=variables)
    net = ntk_pinn.mlp(args.width, args.depth, args.activation, args.W_std, args.b_std)
    x, xb = _points(op.variables, args.n, args.n_boundary, args.low, args.high, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    K = theory.limiting_kernel(net, {"uu": (bop, xb), "rr": (op, x)}, kind=args.kind)
    seconds = time.perf_counter() - t0
    Kuu, Krr = K.block("uu"), K.block("rr")
    spectra = {name: np.linalg.eigvalsh(m) for name, m in
               (("K*", K.matrix), ("K*_uu", Kuu), ("K*_rr", Krr))}
    np.savez(out / "kernel.npz", matrix=K.matrix, K_uu=Kuu, K_ur=K.block("uu", "rr"),
             K_rr=Krr, x_boundary=xb, x_residual=x,
             eig_K=spectra["K*"], eig_uu=spectra["K*_uu"], eig_rr=spectra["K*_rr"])
    plot_kernel_heatmap(K, out / "kernel_heatmap.png", title=f"K* for {op}")
    plot_spectra({k: v for k, v in spectra.items() if k != "K*"}, out / "spectrum.png",
                 title=f"Eigenvalues of K* blocks, {op}")
    summary = {
        "operator": str(op), "boundary_operator": str(bop), "variables": list(op.variables),
        "network": {"depth": net.depth, "activation": net.activation,
                    "W_std": net.W_std, "b_std": net.b_std},
        "kind": args.kind, "n_residual": int(x.shape[0]), "n_boundary": int(xb.shape[0]),
        "seconds": round(seconds, 3),
        "trace_uu": float(np.trace(Kuu)), "trace_rr": float(np.trace(Krr)),
        "trace_ratio_rr_over_uu": float(np.trace(Krr) / np.trace(Kuu)),
        "eig_rr_max": float(spectra["K*_rr"].max()), "eig_rr_min": float(spectra["K*_rr"].min()),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"K* ({args.kind}) for {op} on {x.shape[0]} collocation + {xb.shape[0]} boundary "
          f"points in {seconds:.2f} s; tr(K_rr)/tr(K_uu) = "
          f"{summary['trace_ratio_rr_over_uu']:.3g}")
    for name in ("kernel.npz", "kernel_heatmap.png", "spectrum.png", "summary.json"):
        print(f"  wrote {out / name}")
    return 0


def _add_network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--activation", default="erf", help="erf, sin, gelu, ... (default erf)")
    p.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    p.add_argument("--width", type=int, default=512,
                   help="width of the finite networks of the spec (K* does not depend on it)")
    p.add_argument("--W-std", dest="W_std", type=float, default=1.0)
    p.add_argument("--b-std", dest="b_std", type=float, default=1.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ntk-pinn", description="Infinite-width NTKs of physics-informed neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)

    k = sub.add_parser("kernel", help="the limiting PINN kernel K* of a linear operator",
                       description="Compute K* = [[K_uu, K_ur], [K_ru, K_rr]] for a boundary "
                                   "operator and a PDE operator on the box [low, high]^d; write "
                                   "the blocks (.npz), a heatmap and the spectra (PNG).")
    k.add_argument("--operator", required=True, help='PDE operator, e.g. "u_xx + u_yy"')
    k.add_argument("--variables", required=True, help='variable order, e.g. "x y"')
    k.add_argument("--boundary-operator", default="u", help='boundary operator (default "u")')
    _add_network_args(k)
    k.add_argument("--kind", choices=["ntk", "nngp"], default="ntk")
    k.add_argument("--n", type=int, default=256, help="collocation points (default 256)")
    k.add_argument("--n-boundary", type=int, default=None,
                   help="boundary points (default: 2 end points in 1-D, n//4 otherwise)")
    k.add_argument("--low", type=float, default=0.0)
    k.add_argument("--high", type=float, default=1.0)
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--out", required=True, help="output directory")
    k.set_defaults(func=_cmd_kernel)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"ntk-pinn: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
