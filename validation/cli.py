"""The ``ntk-pinn`` command line: it parses, calls one function of ``validation`` (each
command is one call from Python too) and writes that result's files with
``validation.save`` (:func:`_finish`, the last call of every command).

The parser is a description (:data:`COMMANDS`: per command its help, the option groups it
takes and its own options) read by :func:`build_parser`. Heavy imports (jax,
neural-tangents) happen inside the commands, so that ``ntk-pinn --help`` starts at once.

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

# Each problem's own settings (``Problem.defaults``), written out so that ``--help`` does
# not import jax; tests/test_posterior.py checks that they match.
PROBLEM_DEFAULTS = {
    "poisson_1d": {"n_residual": 32, "n_boundary": 2, "depth": 2, "W_std": 1.0},
    "poisson_2d": {"n_residual": 64, "n_boundary": 32, "depth": 2, "W_std": 1.0},
    "heat_1d": {"n_residual": 96, "n_boundary": 24, "depth": 2, "W_std": 1.0},
    "wave_1d": {"n_residual": 3000, "n_boundary": 300, "depth": 3, "W_std": 2.5},
    "convection_1d": {"n_residual": 256, "n_boundary": 64, "depth": 2, "W_std": 1.0},
    "stokes_2d": {"n_residual": 96, "n_boundary": 48, "depth": 2, "W_std": 1.0},
    "elasticity_2d": {"n_residual": 96, "n_boundary": 48, "depth": 2, "W_std": 1.0},
}
#: The problems each kind of command accepts: the limiting kernel (posteriors, spectra,
#: width and training studies) needs a linear operator; training takes any problem.
LINEAR_PROBLEMS = tuple(PROBLEM_DEFAULTS)
ALL_PROBLEMS = LINEAR_PROBLEMS + ("nonlinear_poisson_1d", "burgers_1d")
NONLINEAR_PROBLEMS = ("nonlinear_poisson_1d", "burgers_1d")
ACTIVATIONS = ("erf", "sin", "gelu", "tanh", "sigmoid", "softplus", "swish")
# validation._reproduce.EXPERIMENTS (tested)
EXPERIMENT_NAMES = ("wang-poisson", "wang-constancy", "wang-weights", "wang-spectrum",
                    "wang-wave", "wang-wave-text", "bonfanti-kernel", "bonfanti-optimizers",
                    "bonfanti-convection")


# ---------------------------------------------------------------------- the description

def _network(*, width: int | None, depth=2, W_std=1.0, activation="erf"):
    own = "the problem's (see above)"
    opts = [("--activation", dict(default=activation, choices=ACTIVATIONS,
                                  help=f"activation (default {activation})")),
            ("--depth", dict(type=int, default=depth,
                             help=f"hidden layers (default {depth or own})")),
            ("--W-std", dict(dest="W_std", type=float, default=W_std,
                             help=f"weight standard deviation (default {W_std or own})")),
            ("--b-std", dict(dest="b_std", type=float, default=1.0,
                             help="bias standard deviation (default 1)"))]
    if width is not None:
        opts.append(("--width", dict(type=int, default=width,
                                     help=f"width of the finite networks (default {width}; "
                                          "K* does not depend on it)")))
    return opts


def _problem(choices, *, n_residual, n_boundary=2, default="poisson_1d"):
    own = "the problem's"
    return [
        ("--problem", dict(default=default, choices=choices,
                           help=f"the problem (default {default})")),
        ("--problem-param", dict(action="append", metavar="KEY=VALUE",
                                 help="problem parameter, e.g. a=2 for poisson_1d "
                                      "(repeatable)")),
        ("--n-residual", dict(type=int, default=n_residual,
                              help=f"collocation points (default {n_residual or own})")),
        ("--n-boundary", dict(type=int, default=n_boundary,
                              help="points per boundary/initial constraint (default "
                                   f"{n_boundary or own})")),
        ("--point-seed", dict(type=int, default=0, help="seed of the points (default 0)")),
    ]


def _study(widths, seeds=(0, 1, 2)):
    return [("--widths", dict(type=int, nargs="+", default=list(widths),
                              help=f"network widths (default {' '.join(map(str, widths))})")),
            ("--seeds", dict(type=int, nargs="+", default=list(seeds),
                             help=f"seeds per width (default {' '.join(map(str, seeds))})"))]


_OUT = [("--out", dict(required=True, help="output directory"))]
_RESUMABLE = ("Resumable: each finished (width, seed) is saved under OUT/runs/ at once; "
              "rerunning the same command skips them.")


def _defaults_text() -> str:
    return "; ".join(f"{name}: {d['n_residual']} + {d['n_boundary']} points, depth "
                     f"{d['depth']}, W_std {d['W_std']:g}" for name, d in PROBLEM_DEFAULTS.items())


COMMANDS = {
    "kernel": dict(
        help="the limiting PINN kernel K* of a linear operator",
        description="Compute K* = [[K_uu, K_ur], [K_ru, K_rr]] for a boundary operator and "
                    "a PDE operator on the box [low, high]^d; write the blocks (.npz), a "
                    "heatmap and the spectra (PNG).",
        options=[
            ("--operator", dict(required=True, help='PDE operator, e.g. "u_xx + u_yy"')),
            ("--variables", dict(required=True, help='variable order, e.g. "x y"')),
            ("--boundary-operator", dict(default="u", help='boundary operator (default "u")')),
            ("--fields", dict(default=None, help='unknown fields of a system, in output '
                              'order, e.g. "u v p" (default "u"; one output per field)')),
            *_network(width=512),
            ("--kind", dict(choices=["ntk", "nngp"], default="ntk", help="default ntk")),
            ("--n", dict(type=int, default=256, help="collocation points (default 256)")),
            ("--n-boundary", dict(type=int, default=None, help="boundary points (default: "
                                  "the 2 end points in 1-D, n//4 otherwise)")),
            ("--low", dict(type=float, default=0.0, help="lower end of the box (default 0)")),
            ("--high", dict(type=float, default=1.0, help="upper end of the box (default 1)")),
            ("--seed", dict(type=int, default=0, help="seed of the points (default 0)")),
            *_OUT]),
    "posterior": dict(
        help="GP posterior (NNGP or NTK ensemble) of a linear problem",
        description="Condition the infinite-width prior on the problem's constraints; plot "
                    "mean ± 3σ against the exact solution and |u - mean| against the band. "
                    "Points and network default to the problem's own settings, which solve "
                    f"it: {_defaults_text()}.",
        options=[
            *_problem(LINEAR_PROBLEMS, n_residual=None, n_boundary=None),
            *_network(width=None, depth=None, W_std=None),
            ("--kind", dict(choices=["nngp", "ntk"], default="nngp", help="default nngp")),
            ("--t", dict(type=float, default=None,
                         help="training time of the NTK ensemble (default: converged)")),
            ("--noise", dict(type=float, default=0.0,
                             help="observation-noise variance (default 0)")),
            ("--calibrate", dict(nargs="?", const="mle", default="auto",
                                 choices=["auto", "none", "mle", "rkhs"],
                                 help="prior amplitude (default auto: rkhs for nngp, mle for "
                                      "ntk): rkhs, the squared RKHS norm of the mean, makes "
                                      "the band the worst-case error bound (nngp only); mle, "
                                      "maximum likelihood (the value when the flag is given "
                                      "alone); none")),
            ("--grid", dict(type=int, default=201, help="test points per axis (default 201)")),
            *_OUT]),
    "spectrum": dict(
        help="eigenvalues, trace ratios, adaptive weights of K*",
        description="The spectrum of a linear problem's K* and Wang et al.'s weights.",
        options=[*_problem(LINEAR_PROBLEMS, n_residual=64), *_network(width=None), *_OUT]),
    "train": dict(
        help="train a PINN with fixed or NTK-adaptive loss weights",
        description="Train a PINN (optax Adam/GD/L-BFGS or Levenberg-Marquardt); plots "
                    "losses, weights and the error against the exact solution. The defaults "
                    "solve the default problem (poisson_1d, sin 4πx): LM, 200 steps, "
                    "relative L2 error 3e-4 in 4 s on 2 cores (seed 0).",
        options=[
            *_problem(ALL_PROBLEMS, n_residual=64),
            *_network(width=64, activation="tanh"),
            ("--optimizer", dict(choices=["adam", "gd", "lbfgs", "lm"], default="lm",
                                 help="lm (default): Levenberg-Marquardt through the "
                                      "empirical NTK; lbfgs: optax L-BFGS with line search "
                                      "(lr unused by both); adam; gd")),
            ("--damping", dict(type=float, default=1e-3,
                               help="initial relative LM damping (default 1e-3)")),
            ("--lr", dict(type=float, default=1e-3,
                          help="learning rate of adam and gd (default 1e-3)")),
            ("--steps", dict(type=int, default=200, help="optimizer steps (default 200)")),
            ("--record-every", dict(type=int, default=None,
                                    help="steps between records (default: about ten "
                                         "records)")),
            ("--update-every", dict(type=int, default=100,
                                    help="steps between adaptive weight updates (default "
                                         "100)")),
            ("--adaptive", dict(action="store_true", help="NTK-adaptive weights")),
            ("--compare", dict(action="store_true", help="run fixed and adaptive weights")),
            ("--seed", dict(type=int, default=0,
                            help="seed of the initial parameters (default 0)")),
            ("--lr-decay", dict(type=float, default=None,
                                help="multiply lr by this every --decay-every steps "
                                     "(smoothly)")),
            ("--decay-every", dict(type=int, default=1000,
                                   help="steps of one --lr-decay factor (default 1000)")),
            ("--batch-size", dict(type=int, default=None,
                                  help="a fresh batch of this many points per constraint "
                                       "every step (default: full batch on the fixed "
                                       "points)")),
            ("--dtype", dict(choices=["float64", "float32"], default="float64",
                             help="training precision (kernels are float64)")),
            ("--checkpoint", dict(default=None,
                                  help="checkpoint file (.npz): saved at every record; "
                                       "rerunning the same command resumes from it")),
            *_OUT]),
    "reproduce": dict(
        help="a source paper's experiment, the paper's numbers beside ours",
        description="Writes OUT/NAME.md (table: the paper's number, ours, the wall time), "
                    "OUT/NAME.json (raw numbers) and figures. --scale quick shows every claim "
                    "at reduced width/steps; paper uses the paper's settings. Training runs "
                    "checkpoint under OUT/checkpoints/; rerunning resumes them.",
        options=[
            ("name", dict(choices=EXPERIMENT_NAMES, help="the experiment")),
            ("--scale", dict(choices=["quick", "paper", "tiny"], default="quick",
                             help="quick (default): reduced width/steps; paper: the paper's "
                                  "settings; tiny: a smoke test in seconds (no verdict)")),
            *_OUT]),
    "study width": dict(
        help="empirical NTK at initialization vs K* over widths and seeds",
        description=_RESUMABLE,
        options=[*_problem(LINEAR_PROBLEMS, n_residual=32), *_network(width=None),
                 *_study([64, 128, 256, 512, 1024]), *_OUT]),
    "study training": dict(
        help="NTK drift during gradient descent and loss vs exp(-K* t)",
        description=_RESUMABLE,
        options=[*_problem(LINEAR_PROBLEMS, n_residual=16), *_network(width=None),
                 *_study([64, 256, 1024]),
                 ("--lr", dict(type=float, default=None,
                               help="learning rate (default 1 / lambda_max(K*))")),
                 ("--steps", dict(type=int, default=400, help="GD steps (default 400)")),
                 ("--record-every", dict(type=int, default=40,
                                         help="steps between kernels (default 40)")),
                 *_OUT]),
    "study nonlinear": dict(
        help="linear vs nonlinear operator: K(0) spread, NTK drift, Hessians",
        description=_RESUMABLE,
        options=[*_problem(NONLINEAR_PROBLEMS, n_residual=16,
                           default="nonlinear_poisson_1d"),
                 *_network(width=None), *_study([64, 128, 256, 512, 1024], (0, 1, 2, 3)),
                 ("--linear-problem", dict(default=None, choices=LINEAR_PROBLEMS,
                                           help="linear counterpart (default: the "
                                                "problem's own, same points)")),
                 ("--linear-param", dict(action="append", metavar="KEY=VALUE", default=None,
                                         help="parameter of --linear-problem (repeatable)")),
                 ("--steps", dict(type=int, default=200, help="GD steps (default 200)")),
                 ("--record-every", dict(type=int, default=50,
                                         help="steps between kernels (default 50)")),
                 ("--lr-factor", dict(type=float, default=0.5,
                                      help="step = lr_factor / ||Hessian of the loss at "
                                           "init|| (default 0.5)")),
                 ("--n-probe", dict(type=int, default=4,
                                    help="residual points whose Hessian norm is taken "
                                         "(default 4)")),
                 *_OUT]),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of :data:`COMMANDS` (``"study width"``: subcommand ``width`` of
    ``study``)."""
    parser = argparse.ArgumentParser(
        prog="ntk-pinn", description="Infinite-width NTKs of physics-informed neural networks.",
        epilog="Compiled kernels are cached across runs in $NTK_PINN_CACHE_DIR, else "
               "$XDG_CACHE_HOME/ntk-pinn/jax (default ~/.cache/ntk-pinn/jax); --no-cache or "
               "NTK_PINN_NO_CACHE=1 turns the cache off.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache")
    sub = parser.add_subparsers(dest="command", required=True)
    groups = {}
    for name, spec in COMMANDS.items():
        *group, command = name.split()
        where = sub
        if group:
            if group[0] not in groups:
                g = sub.add_parser(group[0], help="studies of finite networks against the "
                                                  "theory")
                groups[group[0]] = g.add_subparsers(dest=group[0], required=True)
            where = groups[group[0]]
        p = where.add_parser(command, parents=[common], help=spec["help"],
                             description=spec["description"])
        for flag, kwargs in spec["options"]:
            p.add_argument(flag, **kwargs)
        p.set_defaults(func=_RUN[name])
    return parser


# ------------------------------------------------------------------------------ commands

def _params(items, flag: str) -> dict:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}.")
        try:
            params[key] = float(value)
        except ValueError:
            raise ValueError(f"{flag} {item}: {value!r} is not a number; give e.g. "
                             f"{key}=2.") from None
    return params


def _problem_of(args, name_attr="problem", flag="--problem-param"):
    from ntk_pinn import problems

    name = getattr(args, name_attr)
    items = getattr(args, {"--problem-param": "problem_param",
                           "--linear-param": "linear_param"}[flag])
    if name is None:
        return None
    params = _params(items, flag)
    try:
        return problems.get(name, **params)
    except ValueError as err:
        raise ValueError(f"{flag} {' '.join(items or [])}: {err}") from None


def _net(args, *, problem=None, width=None, depth=None, W_std=None):
    """The network of the command's options, one output per field of ``problem``."""
    import ntk_pinn

    return ntk_pinn.mlp(width or getattr(args, "width", 1), depth or args.depth,
                        args.activation, W_std=W_std or args.W_std, b_std=args.b_std,
                        outputs=len(problem.fields) if problem is not None else 1)


def _finish(result, out) -> int:
    """Write ``result``'s files into ``out`` and say what was written."""
    from validation import save

    paths = save(result, out)
    print(result.summary() if hasattr(result, "summary") else f"verdict: {result.verdict()}")
    for path in paths:
        print(f"  wrote {path}")
    return 0


def _kernel(args):
    import ntk_pinn
    from validation import kernel_report

    op = ntk_pinn.Operator(args.operator, variables=args.variables, fields=args.fields)
    bop = ntk_pinn.Operator(args.boundary_operator, variables=args.variables,
                            fields=args.fields)
    net = ntk_pinn.mlp(args.width, args.depth, args.activation, W_std=args.W_std,
                       b_std=args.b_std, outputs=op.n_fields)
    return kernel_report(net, op, bop, n=args.n, n_boundary=args.n_boundary, low=args.low,
                         high=args.high, seed=args.seed, kind=args.kind)


def _posterior(args):
    from validation import posterior_report

    problem = _problem_of(args)
    d = problem.defaults
    net = _net(args, problem=problem, depth=args.depth or d["depth"],
               W_std=args.W_std or d["W_std"])
    return posterior_report(net, problem, kind=args.kind, t=args.t, noise=args.noise,
                            calibrate=args.calibrate, grid=args.grid,
                            n_residual=args.n_residual, n_boundary=args.n_boundary,
                            point_seed=args.point_seed)


def _spectrum(args):
    from validation import spectrum_report

    problem = _problem_of(args)
    return spectrum_report(_net(args, problem=problem), problem, n_residual=args.n_residual,
                           n_boundary=args.n_boundary, point_seed=args.point_seed)


def _train(args):
    import optax

    from ntk_pinn import Adaptive, Points, Record
    from validation import train_report

    problem = _problem_of(args)
    adaptive = Adaptive(every=args.update_every)
    lr = args.lr if args.lr_decay is None else optax.exponential_decay(
        args.lr, args.decay_every, args.lr_decay)
    return train_report(
        _net(args, problem=problem), problem,
        adaptive=(False, adaptive) if args.compare else (args.adaptive and adaptive,),
        steps=args.steps, optimizer=args.optimizer, lr=lr, damping=args.damping,
        record=Record(every=args.record_every), seed=args.seed, dtype=args.dtype,
        checkpoint=args.checkpoint,
        points=Points(n_residual=args.n_residual, n_boundary=args.n_boundary,
                      seed=args.point_seed, batch_size=args.batch_size))


def _reproduce(args):
    from validation import reproduce

    return reproduce(args.name, scale=args.scale, work_dir=Path(args.out) / "checkpoints")


def _study_width(args):
    from validation import width_study

    problem = _problem_of(args)
    blocks = problem.blocks(args.n_residual, args.n_boundary, seed=args.point_seed)
    return width_study(_net(args, problem=problem, width=args.widths[0]), blocks,
                       args.widths, args.seeds, run_dir=args.out,
                       source={"problem": problem.name, "n_residual": args.n_residual,
                               "n_boundary": args.n_boundary, "point_seed": args.point_seed})


def _study_training(args):
    from validation import training_study

    problem = _problem_of(args)
    return training_study(_net(args, problem=problem, width=args.widths[0]), problem,
                          args.widths, args.seeds, lr=args.lr, steps=args.steps,
                          record_every=args.record_every, n_residual=args.n_residual,
                          n_boundary=args.n_boundary, point_seed=args.point_seed,
                          run_dir=args.out)


def _study_nonlinear(args):
    from validation import nonlinear_study

    return nonlinear_study(
        _net(args, width=args.widths[0]), _problem_of(args), args.widths, args.seeds,
        linear_problem=_problem_of(args, "linear_problem", "--linear-param"),
        steps=args.steps, record_every=args.record_every, lr_factor=args.lr_factor,
        n_probe=args.n_probe, n_residual=args.n_residual, n_boundary=args.n_boundary,
        point_seed=args.point_seed, run_dir=args.out)


_RUN = {"kernel": _kernel, "posterior": _posterior, "spectrum": _spectrum, "train": _train,
        "reproduce": _reproduce, "study width": _study_width,
        "study training": _study_training, "study nonlinear": _study_nonlinear}


# --------------------------------------------------------------------------------- main

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
    """Run one command; returns its exit status (argparse's own for bad arguments and
    ``--help``)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        _check_out(args.out)
        path = None if args.no_cache else cache_dir()
        if path is not None:
            _use_compilation_cache(path)
        return _finish(args.func(args), args.out)
    except ValueError as err:
        print(f"ntk-pinn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
