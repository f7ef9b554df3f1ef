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
        "kernel_info": {k: v for k, v in K.info.items()},
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


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("ntk-pinn", "jax", "jaxlib", "neural-tangents", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _problem_params(items) -> dict:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--problem-param expects key=value, got {item!r}.")
        params[key] = float(value)
    return params


def _problem_and_out(args):
    """The problem named by ``--problem``/``--problem-param`` and the created ``--out``."""
    from ntk_pinn import problems

    problem = problems.get(args.problem, **_problem_params(args.problem_param))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return problem, out


def _study_setup(args, extra: dict):
    """(problem, net, out dir, config): refuses a directory holding another study's
    configuration, since its finished runs would be mixed into this one."""
    import ntk_pinn

    problem, out = _problem_and_out(args)
    net = ntk_pinn.mlp(args.widths[0], args.depth, args.activation, args.W_std, args.b_std)
    config = {"study": args.study, "problem": problem.name, "depth": args.depth,
              "activation": args.activation, "W_std": args.W_std, "b_std": args.b_std,
              "n_residual": args.n_residual, "n_boundary": args.n_boundary,
              "point_seed": args.point_seed, "widths": args.widths, "seeds": args.seeds, **extra}
    path = out / "config.json"
    if path.exists() and json.loads(path.read_text()) != config:
        raise ValueError(f"{out} holds a study with another configuration ({path}); use a "
                         "new --out directory.")
    path.write_text(json.dumps(config, indent=2))
    return problem, net, out, config


def _write_csv(path, header, rows) -> None:
    path.write_text("\n".join([header] + [",".join(str(v) for v in r) for r in rows]) + "\n")


def _slope_table(slopes) -> dict:
    return {"/".join(p): dict(zip(("slope", "low", "high"), s)) for p, s in slopes.items()}


def _slope_table_md(widths, values: dict, slopes: dict) -> list:
    """Markdown rows: per block pair the per-width means of ``values[pair]`` (``(n_widths,
    n_seeds)``) and the fitted slope with its CI."""
    rows = ["| block | " + " | ".join(f"w={w}" for w in widths) + " | slope [95% CI] |",
            "|---|" + "---|" * (len(widths) + 1)]
    for pair, v in values.items():
        s, lo, hi = slopes[pair]
        rows.append(f"| {'/'.join(pair)} | " + " | ".join(f"{m:.3g}" for m in v.mean(axis=1))
                    + f" | {s:.2f} [{lo:.2f}, {hi:.2f}] |")
    return rows


def _finish(out, payload, report, verdict) -> int:
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"report: {out / 'report.md'}")
    print(f"verdict: {verdict}")
    return 0


def _cmd_study_width(args) -> int:
    from validation import width_study
    from validation.plots import plot_width_study

    problem, net, out, config = _study_setup(args, {})
    blocks = problem.blocks(args.n_residual, args.n_boundary, seed=args.point_seed)
    study = width_study(net, blocks, args.widths, args.seeds, run_dir=out)
    raw = {"/".join(p): e.tolist() for p, e in study.errors.items()}
    _write_csv(out / "results.csv", "block,width,seed,relative_error",
               [(pair, w, s, f"{e[i][j]:.10g}") for pair, e in raw.items()
                for i, w in enumerate(study.widths) for j, s in enumerate(study.seeds)])
    plot_width_study(study, out / "width_errors.png",
                     title=f"{problem.name}: depth-{args.depth} {args.activation}")
    verdict = study.verdict()
    report = [f"# Width study: {problem.name}", "", f"**Verdict:** {verdict}", "",
              f"Network: depth {args.depth}, {args.activation}, W_std {args.W_std}, "
              f"b_std {args.b_std}. Points: {args.n_residual} residual, {args.n_boundary} "
              f"per constraint (seed {args.point_seed}). Seeds: {list(study.seeds)}.", ""]
    report += _slope_table_md(study.widths, study.errors, study.slopes)
    report += ["", "Entries: mean over seeds of ||K_emp - K*||_F / ||K*||_F at initialization.",
               "", "![errors vs width](width_errors.png)"]
    payload = {"config": config, "versions": _versions(), "widths": list(study.widths),
               "seeds": list(study.seeds), "errors": raw, "slopes": _slope_table(study.slopes),
               "holds": study.holds(), "verdict": verdict}
    return _finish(out, payload, report, verdict)


def _cmd_study_training(args) -> int:
    from validation import training_study
    from validation._width import slope_verdict
    from validation.plots import plot_training_study

    problem, net, out, config = _study_setup(
        args, {"lr": args.lr, "steps": args.steps, "record_every": args.record_every})
    study = training_study(net, problem, args.widths, args.seeds, lr=args.lr, steps=args.steps,
                           record_every=args.record_every, n_residual=args.n_residual,
                           n_boundary=args.n_boundary, point_seed=args.point_seed, run_dir=out)
    drift = {"/".join(p): d.tolist() for p, d in study.drift.items()}
    rows = []
    for pair, d in drift.items():
        for i, w in enumerate(study.widths):
            for j, s in enumerate(study.seeds):
                for k, step in enumerate(study.steps):
                    rows.append((pair, w, s, int(step), f"{d[i][j][k]:.10g}",
                                 f"{study.loss[i, j, k]:.10g}",
                                 f"{study.predicted_loss[i, j, k]:.10g}"))
    _write_csv(out / "results.csv", "block,width,seed,step,drift,loss,predicted_loss", rows)
    plot_training_study(study, out / "drift.png", out / "loss.png", title=problem.name)
    gap = study.loss_gap()
    verdict = (slope_verdict("NTK drift ~ width^(-1/2)", study.drift_slopes)
               + f"; loss vs exp(-K* t): max |log ratio| {gap[0]:.2g} at width "
               f"{study.widths[0]}, {gap[-1]:.2g} at width {study.widths[-1]}")
    report = [f"# Training study: {problem.name}", "", f"**Verdict:** {verdict}", "",
              f"Full-batch gradient descent, lr {study.lr:.4g} (t = lr * step), "
              f"{args.steps} steps, recorded every {args.record_every}. Network: depth "
              f"{args.depth}, {args.activation}. Seeds: {list(study.seeds)}.", ""]
    report += _slope_table_md(study.widths, {p: d[:, :, -1] for p, d in study.drift.items()},
                              study.drift_slopes)
    report += ["", "Entries: final ||K(t) - K(0)||_F / ||K(0)||_F, mean over seeds.",
               "Loss gap per width (mean over seeds of max_t |log(loss / prediction)|): "
               + ", ".join(f"{w}: {g:.3g}" for w, g in zip(study.widths, gap)), "",
               "![drift](drift.png)", "", "![loss](loss.png)"]
    payload = {"config": config, "versions": _versions(), "widths": list(study.widths),
               "seeds": list(study.seeds), "lr": study.lr, "steps": study.steps.tolist(),
               "drift": drift, "drift_slopes": _slope_table(study.drift_slopes),
               "loss": study.loss.tolist(), "predicted_loss": study.predicted_loss.tolist(),
               "loss_gap": gap.tolist(), "verdict": verdict}
    return _finish(out, payload, report, verdict)


def _cmd_study_nonlinear(args) -> int:
    from ntk_pinn import problems
    from validation import nonlinear_study
    from validation.plots import plot_nonlinear_study

    linear = (problems.get(args.linear_problem, **_problem_params(args.linear_param))
              if args.linear_problem else None)
    problem, net, out, config = _study_setup(args, {
        "linear_problem": linear.name if linear else None, "steps": args.steps,
        "record_every": args.record_every, "lr_factor": args.lr_factor,
        "n_probe": args.n_probe})
    study = nonlinear_study(net, problem, args.widths, args.seeds, linear_problem=linear,
                            steps=args.steps, record_every=args.record_every,
                            lr_factor=args.lr_factor, n_residual=args.n_residual,
                            n_boundary=args.n_boundary, point_seed=args.point_seed,
                            n_probe=args.n_probe, run_dir=out)
    rows = []
    for (label, pair), spread in study.spread.items():
        for i, w in enumerate(study.widths):
            for j, s in enumerate(study.seeds):
                rows.append((label, "spread", "/".join(pair), w, s, f"{spread[i, j]:.10g}"))
                rows.append((label, "drift", "/".join(pair), w, s,
                             f"{study.drift[(label, pair)][i, j, -1]:.10g}"))
    for (label, metric), values in study.hessian.items():
        for i, w in enumerate(study.widths):
            for j, s in enumerate(study.seeds):
                rows.append((label, metric, "", w, s, f"{values[i, j]:.10g}"))
    _write_csv(out / "results.csv", "problem,quantity,block,width,seed,value", rows)
    plot_nonlinear_study(study, out / "nonlinear.png",
                         title=f"{study.problems['nonlinear']} vs {study.problems['linear']}")
    verdict = study.verdict()
    status = study.status()

    def table(quantity, values: dict) -> list:
        lines = ["| problem | quantity | " + " | ".join(f"w={w}" for w in study.widths)
                 + " | slope [95% CI] | claim | status |",
                 "|---|---|" + "---|" * (len(study.widths) + 3)]
        for (label, key), v in values.items():
            s, lo, hi = study.slopes[(quantity, label, key)]
            claim, st = status.get((quantity, label, key), ("(reported)", ""))
            name = "/".join(key) if isinstance(key, tuple) else key
            lines.append(f"| {label} | {name} | " + " | ".join(f"{m:.3g}" for m in v.mean(1))
                         + f" | {s:.2f} [{lo:.2f}, {hi:.2f}] | {claim} | {st} |")
        return lines

    report = [f"# Nonlinear-regime study: {study.problems['nonlinear']} vs "
              f"{study.problems['linear']}", "", f"**Verdict:** {verdict}", "",
              f"Network: depth {args.depth}, {args.activation}, W_std {args.W_std}, b_std "
              f"{args.b_std}. Points: {args.n_residual} residual, {args.n_boundary} per "
              f"constraint (seed {args.point_seed}). Seeds: {list(study.seeds)}. Nonlinear "
              f"blocks: {list(study.nonlinear_blocks)}.", "",
              "## Spread of K(0) across seeds (||K_s - mean_s K||_F / ||mean_s K||_F)", ""]
    report += table("spread", study.spread)
    report += ["", f"## Drift after {args.steps} gradient-descent steps "
               f"(lr = {args.lr_factor} / ||Hessian of the loss at init||)", ""]
    report += table("drift", {k: v[:, :, -1] for k, v in study.drift.items()})
    report += ["", "## Hessian spectral norms at initialization (power iteration on HVPs)", "",
               f"residual_hessian: max over {args.n_probe} residual points of ||d²r/dθ²||; "
               "loss_*: L = ½ Σ r², Hessian = Gauss–Newton JᵀJ + curvature Σ r_i ∇²r_i.", ""]
    report += table("hessian", study.hessian)
    report += ["", "![nonlinear regime](nonlinear.png)"]
    payload = {"config": config, "versions": _versions(), "widths": list(study.widths),
               "seeds": list(study.seeds), "problems": study.problems,
               "steps": study.steps.tolist(),
               "spread": {f"{lab}:{'/'.join(p)}": v.tolist()
                          for (lab, p), v in study.spread.items()},
               "drift": {f"{lab}:{'/'.join(p)}": v.tolist()
                         for (lab, p), v in study.drift.items()},
               "hessian": {f"{lab}:{m}": v.tolist() for (lab, m), v in study.hessian.items()},
               "lr": {lab: v.tolist() for lab, v in study.lr.items()},
               "slopes": {f"{q}:{lab}:{'/'.join(k) if isinstance(k, tuple) else k}":
                          dict(zip(("slope", "low", "high"), v))
                          for (q, lab, k), v in study.slopes.items()},
               "holds": study.holds(), "verdict": verdict}
    return _finish(out, payload, report, verdict)


def _cmd_posterior(args) -> int:
    import ntk_pinn
    import theory
    from validation.plots import plot_posterior

    problem, out = _problem_and_out(args)
    net = ntk_pinn.mlp(1, args.depth, args.activation, args.W_std, args.b_std)
    obs = list(problem.data(args.n_residual, args.n_boundary, seed=args.point_seed).values())
    x_test = problem.grid(args.grid)
    t0 = time.perf_counter()
    post = theory.gp_posterior(net, obs, x_test, kind=args.kind, t=args.t,
                               noise=args.noise, calibrate=args.calibrate)
    seconds = time.perf_counter() - t0
    exact = problem.exact(x_test)
    err = float(np.linalg.norm(post.mean - exact) / np.linalg.norm(exact))
    cover = float(np.mean(post.covers(exact, k=3)))
    cover1 = float(np.mean(post.covers(exact, k=1)))
    plot_posterior(problem, x_test, post, out / "posterior.png",
                   title=f"{problem.name}, {args.kind}: rel. L2 {err:.2g}")
    summary = {"problem": problem.name, "kind": args.kind, "t": args.t, "depth": args.depth,
               "activation": args.activation, "n_residual": args.n_residual,
               "n_boundary": args.n_boundary, "relative_l2_error": err,
               "calibrate": args.calibrate, "fraction_within_3_sigma": cover,
               "fraction_within_1_sigma": cover1, "std_resolution": post.resolution,
               "jitter": post.jitter, "amplitude_scale": post.scale, "seconds": round(seconds, 3),
               "versions": _versions()}
    (out / "posterior.json").write_text(json.dumps(summary, indent=2))
    np.savez(out / "posterior.npz", x=x_test, mean=post.mean, std=post.std, exact=exact)
    print(f"{problem.name} ({args.kind}): relative L2 error {err:.3g}, {100 * cover:.0f}% of "
          f"the grid within 3 sigma, jitter {post.jitter:g}")
    print(f"  wrote {out / 'posterior.png'}, {out / 'posterior.json'}")
    return 0


def _cmd_spectrum(args) -> int:
    import ntk_pinn
    import theory
    from validation.plots import plot_spectra

    problem, out = _problem_and_out(args)
    net = ntk_pinn.mlp(1, args.depth, args.activation, args.W_std, args.b_std)
    K = theory.limiting_kernel(net, problem.blocks(args.n_residual, args.n_boundary,
                                                   seed=args.point_seed))
    spec = theory.spectrum(K)
    plot_spectra({f"K*_{n}": spec.eigenvalues[n] for n in K.names} | {"K*": spec.eigenvalues["K"]},
                 out / "spectrum.png", title=f"Eigenvalues of K*, {problem.name}")
    weights = theory.adaptive_weights(K)
    summary = {"problem": problem.name, "traces": spec.traces, "mean_rates": spec.mean_rates,
               "rate_discrepancy": spec.rate_discrepancy, "adaptive_weights": weights}
    (out / "spectrum.json").write_text(json.dumps(summary, indent=2))
    print(f"{problem.name}: traces {spec.traces}; rate discrepancy "
          f"{spec.rate_discrepancy:.3g}; adaptive weights {weights}")
    print(f"  wrote {out / 'spectrum.png'}, {out / 'spectrum.json'}")
    return 0


def _cmd_train(args) -> int:
    import ntk_pinn
    from validation.plots import plot_training

    problem, out = _problem_and_out(args)
    net = ntk_pinn.mlp(args.width, args.depth, args.activation, args.W_std, args.b_std)
    summary = {"problem": problem.name, "width": args.width, "depth": args.depth,
               "activation": args.activation, "optimizer": args.optimizer, "lr": args.lr,
               "damping": args.damping,
               "steps": args.steps, "seed": args.seed, "versions": _versions(), "runs": {}}
    for adaptive in ([False, True] if args.compare else [args.adaptive]):
        label = "adaptive" if adaptive else "fixed"
        result = ntk_pinn.train(net, problem, steps=args.steps, optimizer=args.optimizer,
                                lr=args.lr, adaptive=adaptive, update_every=args.update_every,
                                n_residual=args.n_residual, n_boundary=args.n_boundary,
                                point_seed=args.point_seed, seed=args.seed,
                                record_every=args.record_every, damping=args.damping)
        plot_training(result, out / f"training_{label}.png", title=f"{problem.name}, {label}")
        summary["runs"][label] = {
            "relative_l2_error": result.error, "seconds": round(result.seconds, 2),
            "steps": result.steps.tolist(), "errors": result.errors.tolist(),
            "losses": {k: v.tolist() for k, v in result.losses.items()},
            "weights": {k: v.tolist() for k, v in result.weights.items()}}
        print(f"{problem.name} ({label} weights): relative L2 error {result.error:.3g} after "
              f"{args.steps} steps ({result.seconds:.1f} s)")
    (out / "training.json").write_text(json.dumps(summary, indent=2))
    print(f"  wrote {out}/training_*.png, {out / 'training.json'}")
    return 0


def _add_network_args(p: argparse.ArgumentParser, width: bool = True) -> None:
    p.add_argument("--activation", default="erf",
                   help="erf, sin, gelu, tanh, sigmoid, softplus, swish (default erf)")
    p.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    if width:
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

    def problem_args(p, n_residual):
        p.add_argument("--problem", default="poisson_1d",
                       help="poisson_1d, poisson_2d, heat_1d, wave_1d (default poisson_1d)")
        p.add_argument("--problem-param", action="append", metavar="KEY=VALUE",
                       help="problem parameter, e.g. a=2 for poisson_1d (repeatable)")
        _add_network_args(p, width=False)
        p.add_argument("--n-residual", type=int, default=n_residual)
        p.add_argument("--n-boundary", type=int, default=2)
        p.add_argument("--point-seed", type=int, default=0)
        p.add_argument("--out", required=True, help="output directory")

    post = sub.add_parser("posterior", help="GP posterior (NNGP or NTK ensemble) of a problem",
                          description="Condition the infinite-width prior on the problem's "
                                      "constraints; plot mean ± 2σ against the exact solution.")
    problem_args(post, 32)
    post.add_argument("--kind", choices=["nngp", "ntk"], default="nngp")
    post.add_argument("--t", type=float, default=None, help="training time (NTK; default: converged)")
    post.add_argument("--noise", type=float, default=0.0)
    post.add_argument("--calibrate", nargs="?", const="mle", default="none",
                      choices=["none", "mle", "rkhs"],
                      help="prior amplitude: maximum likelihood (mle, the default when the "
                           "flag has no value) or the squared RKHS norm of the mean (rkhs: "
                           "the band becomes the worst-case error bound; nngp only)")
    post.add_argument("--grid", type=int, default=201, help="test points per axis")
    post.set_defaults(func=_cmd_posterior)
    spec = sub.add_parser("spectrum", help="eigenvalues, trace ratios, adaptive weights of K*")
    problem_args(spec, 64)
    spec.set_defaults(func=_cmd_spectrum)

    tr = sub.add_parser("train", help="train a PINN with fixed or NTK-adaptive loss weights",
                        description="Full-batch training (optax); plots losses, weights and "
                                    "the error against the exact solution.")
    problem_args(tr, 128)
    tr.add_argument("--width", type=int, default=64)
    tr.add_argument("--optimizer", choices=["adam", "gd", "lm"], default="adam",
                    help="lm: Levenberg-Marquardt through the empirical NTK (lr unused)")
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
    tr.set_defaults(func=_cmd_train)

    study = sub.add_parser("study", help="studies of finite networks against the theory")
    studies = study.add_subparsers(dest="study", required=True)
    def common(p, widths, n_residual):
        problem_args(p, n_residual)
        p.add_argument("--widths", type=int, nargs="+", default=widths)
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])

    resumable = ("Resumable: each finished (width, seed) is saved under OUT/runs/ at once; "
                 "rerunning the same command skips them.")
    w = studies.add_parser(
        "width", help="empirical NTK at initialization vs K* over widths and seeds",
        description=resumable)
    common(w, [64, 128, 256, 512, 1024], 32)
    w.set_defaults(func=_cmd_study_width)
    t = studies.add_parser(
        "training", help="NTK drift during gradient descent and loss vs exp(-K* t)",
        description=resumable)
    common(t, [64, 256, 1024], 16)
    t.add_argument("--lr", type=float, default=None, help="default 1 / lambda_max(K*)")
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--record-every", type=int, default=40)
    t.set_defaults(func=_cmd_study_training)
    n = studies.add_parser(
        "nonlinear", help="linear vs nonlinear operator: K(0) spread, NTK drift, Hessians",
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"ntk-pinn: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
