"""The ``ntk-pinn`` command line: it parses, calls one function of ``validation`` (each
command is one call from Python too) and writes that result's files.

Heavy imports (jax, neural-tangents) happen inside the commands, once, so that
``ntk-pinn --help`` starts at once.

Compiled kernels persist across runs in jax's compilation cache, under
``$NTK_PINN_CACHE_DIR`` or else ``$XDG_CACHE_HOME/ntk-pinn/jax`` (default
``~/.cache/ntk-pinn/jax``), so a repeated command does not recompile. ``--no-cache`` or
``NTK_PINN_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _net(args, width=None, depth=None, W_std=None, problem=None):
    """The network of the command's options, one output per field of ``problem``."""
    import ntk_pinn

    return ntk_pinn.mlp(width or getattr(args, "width", 1), depth or args.depth,
                        args.activation, W_std or args.W_std, args.b_std,
                        outputs=len(problem.fields) if problem is not None else 1)


def _problem_params(items) -> dict:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--problem-param expects key=value, got {item!r}.")
        params[key] = float(value)
    return params


def _problem(args, name_attr="problem", params_attr="problem_param"):
    from ntk_pinn import problems

    name = getattr(args, name_attr)
    return problems.get(name, **_problem_params(getattr(args, params_attr))) if name else None


def _points(args) -> dict:
    return {"n_residual": args.n_residual, "n_boundary": args.n_boundary,
            "point_seed": args.point_seed}


def _wrote(paths) -> None:
    for path in paths:
        print(f"  wrote {path}")


def _cmd_kernel(args) -> int:
    import ntk_pinn
    from validation import kernel_report

    op = ntk_pinn.Operator(args.operator, variables=args.variables, fields=args.fields)
    bop = ntk_pinn.Operator(args.boundary_operator, variables=args.variables,
                            fields=args.fields)
    net = ntk_pinn.mlp(getattr(args, "width", 1), args.depth, args.activation, args.W_std, args.b_std,
                       outputs=op.n_fields)
    result = kernel_report(net, op, bop, n=args.n, n_boundary=args.n_boundary,
                           low=args.low, high=args.high, seed=args.seed, kind=args.kind)
    paths = result.save(args.out)
    print(result.summary())
    _wrote(paths)
    return 0


def _finish_study(study, out) -> int:
    from validation import report

    report.save(study, out)
    print(f"report: {Path(out) / 'report.md'}")
    print(f"verdict: {study.verdict()}")
    return 0


def _cmd_study_width(args) -> int:
    from validation import width_study

    problem = _problem(args)
    blocks = problem.blocks(args.n_residual, args.n_boundary, seed=args.point_seed)
    study = width_study(_net(args, args.widths[0], problem=problem), blocks, args.widths,
                        args.seeds,
                        run_dir=args.out, source={"problem": problem.name, **_points(args)})
    return _finish_study(study, args.out)


def _cmd_study_training(args) -> int:
    from validation import training_study

    problem = _problem(args)
    study = training_study(_net(args, args.widths[0], problem=problem), problem, args.widths,
                           args.seeds,
                           lr=args.lr, steps=args.steps, record_every=args.record_every,
                           **_points(args), run_dir=args.out)
    return _finish_study(study, args.out)


def _cmd_study_nonlinear(args) -> int:
    from validation import nonlinear_study

    study = nonlinear_study(_net(args, args.widths[0]), _problem(args), args.widths,
                            args.seeds, linear_problem=_problem(args, "linear_problem",
                                                                "linear_param"),
                            steps=args.steps, record_every=args.record_every,
                            lr_factor=args.lr_factor, n_probe=args.n_probe, **_points(args),
                            run_dir=args.out)
    return _finish_study(study, args.out)


def _cmd_posterior(args) -> int:
    from validation import posterior_report

    problem = _problem(args)
    d = problem.defaults
    net = _net(args, depth=d["depth"] if args.depth is None else args.depth,
               W_std=d["W_std"] if args.W_std is None else args.W_std, problem=problem)
    result = posterior_report(net, problem, kind=args.kind, t=args.t, noise=args.noise,
                              calibrate=args.calibrate, grid=args.grid,
                              n_residual=args.n_residual, n_boundary=args.n_boundary,
                              point_seed=args.point_seed)
    paths = result.save(args.out)
    print(result.summary())
    _wrote(paths)
    return 0


def _cmd_spectrum(args) -> int:
    from validation import spectrum_report

    problem = _problem(args)
    result = spectrum_report(_net(args, problem=problem), problem, **_points(args))
    paths = result.save(args.out)
    print(result.summary())
    _wrote(paths)
    return 0


def _cmd_train(args) -> int:
    from validation import train_report

    import optax
    from ntk_pinn import Adaptive, Points, Record

    problem = _problem(args)
    adaptive = Adaptive(every=args.update_every)
    lr = args.lr if args.lr_decay is None else optax.exponential_decay(
        args.lr, args.decay_every, args.lr_decay)
    result = train_report(_net(args, problem=problem), problem,
                          adaptive=(False, adaptive) if args.compare else
                          (args.adaptive and adaptive,),
                          steps=args.steps, optimizer=args.optimizer, lr=lr,
                          record=Record(every=args.record_every), damping=args.damping,
                          seed=args.seed, dtype=args.dtype, checkpoint=args.checkpoint,
                          points=Points(n_residual=args.n_residual,
                                        n_boundary=args.n_boundary, seed=args.point_seed,
                                        batch_size=args.batch_size))
    paths = result.save(args.out)
    print(result.summary())
    _wrote(paths)
    return 0


def _cmd_reproduce(args) -> int:
    from validation import reproduce

    result = reproduce(args.name, scale=args.scale,
                       work_dir=Path(args.out) / "checkpoints")
    paths = result.save(args.out)
    print(result.summary())
    _wrote(paths)
    return 0


def _add_network_args(p: argparse.ArgumentParser, width: bool = True) -> None:
    p.add_argument("--activation", default="erf",
                   help="erf, sin, gelu, tanh, sigmoid, softplus, swish (default erf)")
    p.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    if width:
        p.add_argument("--width", type=int, default=512,
                       help="width of the finite networks of the spec (K* does not depend on it)")
    p.add_argument("--W-std", dest="W_std", type=float, default=1.0,
                   help="weight standard deviation (default 1)")
    p.add_argument("--b-std", dest="b_std", type=float, default=1.0,
                   help="bias standard deviation (default 1)")


# Each problem's own settings (``Problem.defaults``), written out so that ``--help`` does
# not import jax; tests/test_problems.py checks that they match.
PROBLEM_DEFAULTS = {
    "poisson_1d": {"n_residual": 32, "n_boundary": 2, "depth": 2, "W_std": 1.0},
    "poisson_2d": {"n_residual": 64, "n_boundary": 32, "depth": 2, "W_std": 1.0},
    "heat_1d": {"n_residual": 96, "n_boundary": 24, "depth": 2, "W_std": 1.0},
    "wave_1d": {"n_residual": 3000, "n_boundary": 300, "depth": 3, "W_std": 2.5},
    "convection_1d": {"n_residual": 256, "n_boundary": 64, "depth": 2, "W_std": 1.0},
    "stokes_2d": {"n_residual": 96, "n_boundary": 48, "depth": 2, "W_std": 1.0},
    "elasticity_2d": {"n_residual": 96, "n_boundary": 48, "depth": 2, "W_std": 1.0},
}


def _problem_defaults_text() -> str:
    return "; ".join(f"{name}: {d['n_residual']} + {d['n_boundary']} points, depth "
                     f"{d['depth']}, W_std {d['W_std']:g}" for name, d in PROBLEM_DEFAULTS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ntk-pinn", description="Infinite-width NTKs of physics-informed neural networks.",
        epilog="Compiled kernels are cached across runs in $NTK_PINN_CACHE_DIR, else "
               "$XDG_CACHE_HOME/ntk-pinn/jax (default ~/.cache/ntk-pinn/jax); --no-cache or "
               "NTK_PINN_NO_CACHE=1 turns the cache off.")
    cache_opt = argparse.ArgumentParser(add_help=False)
    cache_opt.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache")
    sub = parser.add_subparsers(dest="command", required=True)

    k = sub.add_parser("kernel", parents=[cache_opt],
                       help="the limiting PINN kernel K* of a linear operator",
                       description="Compute K* = [[K_uu, K_ur], [K_ru, K_rr]] for a boundary "
                                   "operator and a PDE operator on the box [low, high]^d; write "
                                   "the blocks (.npz), a heatmap and the spectra (PNG).")
    k.add_argument("--operator", required=True, help='PDE operator, e.g. "u_xx + u_yy"')
    k.add_argument("--variables", required=True, help='variable order, e.g. "x y"')
    k.add_argument("--boundary-operator", default="u", help='boundary operator (default "u")')
    k.add_argument("--fields", default=None,
                   help='unknown fields of a system, in output order, e.g. "u v p" '
                        '(default "u"; the network gets one output per field)')
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

    def problem_args(p, n_residual, n_boundary=2):
        own = "the problem's"
        p.add_argument("--problem", default="poisson_1d",
                       help="poisson_1d, poisson_2d, heat_1d, wave_1d, convection_1d, "
                            "nonlinear_poisson_1d (default poisson_1d)")
        p.add_argument("--problem-param", action="append", metavar="KEY=VALUE",
                       help="problem parameter, e.g. a=2 for poisson_1d (repeatable)")
        _add_network_args(p, width=False)
        p.add_argument("--n-residual", type=int, default=n_residual,
                       help=f"collocation points (default {n_residual or own})")
        p.add_argument("--n-boundary", type=int, default=n_boundary,
                       help="points per boundary/initial constraint (default "
                            f"{n_boundary or own})")
        p.add_argument("--point-seed", type=int, default=0, help="default 0")
        p.add_argument("--out", required=True, help="output directory")

    post = sub.add_parser(
        "posterior", parents=[cache_opt],
        help="GP posterior (NNGP or NTK ensemble) of a problem",
        description="Condition the infinite-width prior on the problem's constraints; plot "
                    "mean ± 3σ against the exact solution and |u - mean| against the band. "
                    "Points and network default to the problem's own settings, which solve "
                    "it: " + _problem_defaults_text() + ".")
    problem_args(post, None, n_boundary=None)
    post.set_defaults(depth=None, W_std=None)
    for action in post._actions:
        if action.dest in ("depth", "W_std"):
            action.help = "default: the problem's (see above)"
    post.add_argument("--kind", choices=["nngp", "ntk"], default="nngp",
                      help="default nngp")
    post.add_argument("--t", type=float, default=None,
                      help="training time of the NTK ensemble (default: converged)")
    post.add_argument("--noise", type=float, default=0.0,
                      help="observation-noise variance (default 0)")
    post.add_argument("--calibrate", nargs="?", const="mle", default="auto",
                      choices=["auto", "none", "mle", "rkhs"],
                      help="prior amplitude (default auto: rkhs for nngp, mle for ntk): "
                           "rkhs, the squared RKHS norm of the mean, makes the band the "
                           "worst-case error bound (nngp only); mle, maximum likelihood "
                           "(the value when the flag is given alone); none")
    post.add_argument("--grid", type=int, default=201,
                      help="test points per axis (default 201)")
    post.set_defaults(func=_cmd_posterior)
    spec = sub.add_parser("spectrum", parents=[cache_opt],
                          help="eigenvalues, trace ratios, adaptive weights of K*")
    problem_args(spec, 64)
    spec.set_defaults(func=_cmd_spectrum)

    tr = sub.add_parser("train", parents=[cache_opt],
                        help="train a PINN with fixed or NTK-adaptive loss weights",
                        description="Full-batch training (optax); plots losses, weights and "
                                    "the error against the exact solution.")
    problem_args(tr, 128)
    tr.add_argument("--width", type=int, default=64)
    tr.add_argument("--optimizer", choices=["adam", "gd", "lbfgs", "lm"], default="adam",
                    help="lm: Levenberg-Marquardt through the empirical NTK; lbfgs: optax "
                         "L-BFGS with line search (lr unused by both)")
    tr.add_argument("--damping", type=float, default=1e-3,
                    help="initial relative LM damping (default 1e-3)")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--steps", type=int, default=2000)
    tr.add_argument("--record-every", type=int, default=100)
    tr.add_argument("--update-every", type=int, default=100,
                    help="steps between adaptive weight updates (default 100)")
    tr.add_argument("--adaptive", action="store_true", help="NTK-adaptive weights")
    tr.add_argument("--compare", action="store_true", help="run fixed and adaptive weights")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--lr-decay", type=float, default=None,
                    help="multiply lr by this every --decay-every steps (smoothly)")
    tr.add_argument("--decay-every", type=int, default=1000)
    tr.add_argument("--batch-size", type=int, default=None,
                    help="a fresh batch of this many points per constraint every step "
                         "(default: full batch on the fixed points)")
    tr.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                    help="training precision (kernels are float64)")
    tr.add_argument("--checkpoint", default=None,
                    help="checkpoint file: saved every --record-every steps; rerunning the "
                         "same command resumes from it")
    tr.set_defaults(func=_cmd_train)

    rep = sub.add_parser(
        "reproduce", parents=[cache_opt],
        help="a source paper's experiment, the paper's numbers beside ours",
        description="Writes OUT/NAME.md (table: the paper's number, ours, the wall time), "
                    "OUT/NAME.json (raw numbers) and figures. --scale quick shows every "
                    "claim at reduced width/steps; paper uses the paper's settings. Training "
                    "runs checkpoint under OUT/checkpoints/; rerunning resumes them.")
    rep.add_argument("name", choices=["wang-poisson", "wang-spectrum", "wang-wave",
                                      "bonfanti-kernel", "bonfanti-optimizers"])
    rep.add_argument("--scale", choices=["quick", "paper", "tiny"], default="quick",
                     help="quick (default): reduced width/steps; paper: the paper's settings; "
                          "tiny: a smoke test in seconds (numbers meaningless)")
    rep.add_argument("--out", required=True, help="output directory")
    rep.set_defaults(func=_cmd_reproduce)

    study = sub.add_parser("study", help="studies of finite networks against the theory")
    studies = study.add_subparsers(dest="study", required=True)
    def common(p, widths, n_residual):
        problem_args(p, n_residual)
        p.add_argument("--widths", type=int, nargs="+", default=widths)
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])

    resumable = ("Resumable: each finished (width, seed) is saved under OUT/runs/ at once; "
                 "rerunning the same command skips them.")
    w = studies.add_parser(
        "width", parents=[cache_opt],
        help="empirical NTK at initialization vs K* over widths and seeds",
        description=resumable)
    common(w, [64, 128, 256, 512, 1024], 32)
    w.set_defaults(func=_cmd_study_width)
    t = studies.add_parser(
        "training", parents=[cache_opt],
        help="NTK drift during gradient descent and loss vs exp(-K* t)",
        description=resumable)
    common(t, [64, 256, 1024], 16)
    t.add_argument("--lr", type=float, default=None, help="default 1 / lambda_max(K*)")
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--record-every", type=int, default=40)
    t.set_defaults(func=_cmd_study_training)
    n = studies.add_parser(
        "nonlinear", parents=[cache_opt],
        help="linear vs nonlinear operator: K(0) spread, NTK drift, Hessians",
        description=resumable)
    common(n, [64, 128, 256, 512, 1024], 16)
    n.set_defaults(problem="nonlinear_poisson_1d", seeds=[0, 1, 2, 3],
                   func=_cmd_study_nonlinear)
    n.add_argument("--linear-problem", default=None,
                   help="linear counterpart (default: the problem's own, same points)")
    n.add_argument("--linear-param", action="append", metavar="KEY=VALUE", default=None)
    n.add_argument("--steps", type=int, default=200)
    n.add_argument("--record-every", type=int, default=50)
    n.add_argument("--lr-factor", type=float, default=0.5,
                   help="step = lr_factor / ||Hessian of the loss at init|| (default 0.5)")
    n.add_argument("--n-probe", type=int, default=4,
                   help="residual points whose Hessian norm is taken (default 4)")
    return parser


def cache_dir() -> Path | None:
    """The persistent compilation cache directory of CLI runs (None: turned off)."""
    if os.environ.get("NTK_PINN_NO_CACHE", "0") not in ("", "0"):
        return None
    if os.environ.get("NTK_PINN_CACHE_DIR"):
        return Path(os.environ["NTK_PINN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ntk-pinn" / "jax"


def _use_compilation_cache(path: Path) -> None:
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    # Cache every compiled kernel: the derivative graphs of K* take seconds each.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _check_out(out: str) -> None:
    """Create ``--out`` and make sure files can be written there, before any work."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".ntk-pinn-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"cannot write to --out {out!r}: {reason} "
                         f"({err.filename or out}); choose a writable directory.") from None


def _interrupted(args) -> str:
    if getattr(args, "study", None) and getattr(args, "out", None):
        runs = Path(args.out) / "runs"
        done = len(list(runs.glob("w*_s*.json"))) if runs.is_dir() else 0
        total = len(args.widths) * len(args.seeds)
        return (f"interrupted: {done} of {total} runs saved in {args.out}; rerun the same "
                "command to resume")
    return "interrupted"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_out(args.out)
        path = None if args.no_cache else cache_dir()
        if path is not None:
            _use_compilation_cache(path)
        return args.func(args)
    except ValueError as err:
        print(f"ntk-pinn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
