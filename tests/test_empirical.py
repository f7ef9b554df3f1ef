"""Fast empirical PINN NTK, PDE problems, and the width study.

References: the generic per-point-Jacobian path (``method="generic"``), neural-tangents'
``empirical_ntk_fn`` (implementation 2), finite differences of the exact solutions.
"""

import json

import jax
import neural_tangents as nt
import numpy as np
import pytest

import validation
from conftest import rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, problems, residual_fn
from validation import _width

OPERATORS = {
    1: ["u", "u_x", "u_xx", "u_xx + u**3", "u*u_x - 0.1*u_xx", "(1 + x**2)*u_xx - 2*x*u_x"],
    2: ["u", "u_xx + u_yy", "u_x - 2*x*u_yy + sin(y)*u", "u_xy", "u_xx + u_yy + u**3"],
}


@pytest.mark.parametrize("activation", ["erf", "tanh", "sin", "gelu"])
@pytest.mark.parametrize("d", [1, 2])
def test_fast_path_equals_generic_path(activation, d, rng):
    # Two exact computations of the same Gram matrix: round-off only (measured ~1e-15);
    # bound 1e-10 relative to the largest entry. Includes nonlinear operators.
    variables = "x" if d == 1 else "x y"
    net = mlp(48, 2, activation, W_std=1.3, b_std=0.6)
    params = net.init(jax.random.PRNGKey(3), d)
    blocks = {op: (Operator(op, variables), rng.uniform(-1, 1, (5, d))) for op in OPERATORS[d]}
    fast = empirical_kernel(net, params, blocks)
    generic = empirical_kernel(net, params, blocks, method="generic")
    assert rel_err(fast.matrix, generic.matrix) < 1e-10


def test_fast_path_equals_neural_tangents_empirical_ntk(rng):
    # Independent implementation: nt.empirical_ntk_fn (implementation 2) on the residual.
    net = mlp(64, 3, "erf")
    op = Operator("u_xx - x*u_x", "x")
    x = rng.uniform(-1, 1, (9, 1))
    params = net.init(jax.random.PRNGKey(0), 1)
    r = residual_fn(net, op)
    fn = nt.empirical_ntk_fn(lambda p, xs: jax.vmap(r, (None, 0))(p, xs)[:, None],
                             trace_axes=(), vmap_axes=0, implementation=2)
    want = np.asarray(fn(x, None, params)).reshape(9, 9)
    assert rel_err(empirical_kernel(net, params, [(op, x)]).matrix, want) < 1e-10


def test_cross_kernel_and_bad_method(rng):
    net = mlp(16, 1)
    params = net.init(jax.random.PRNGKey(0), 1)
    op = Operator("u_xx", "x")
    x1, x2 = rng.uniform(size=(4, 1)), rng.uniform(size=(3, 1))
    full = empirical_kernel(net, params, [(op, np.concatenate([x1, x2]))]).matrix
    cross = empirical_kernel(net, params, [(op, x1)], [(op, x2)]).matrix
    assert rel_err(cross, full[:4, 4:]) < 1e-12
    with pytest.raises(ValueError, match="method must be one of"):
        empirical_kernel(net, params, [(op, x1)], method="fastest")


# ------------------------------------------------------------------------- problems
def _fd_derivative(u, orders, d, h):
    deriv = u
    for axis, k in enumerate(orders):
        for _ in range(k):
            deriv = (lambda f, axis: lambda z: (f(z + h * np.eye(d)[axis])
                                                 - f(z - h * np.eye(d)[axis])) / (2 * h))(
                deriv, axis)
    return deriv


def _fd_apply(op, u, x, h=1e-4):
    """Apply an operator to the numpy function ``u`` by central finite differences
    (2nd order): term by term if linear, else through its sympy expression."""
    d = x.shape[1]
    if not op.is_linear:
        derivs = [_fd_derivative(u, o, d, h)(x) for o in op.derivative_orders]
        out = np.asarray(op.evaluate(x, derivs))
        return out, max(float(np.max(np.abs(v))) for v in derivs)
    out, size = np.zeros(len(x)), 0.0
    for coef, term in zip(op.coefficients(jax.numpy.asarray(x)), op.terms):
        value = np.asarray(coef) * _fd_derivative(u, term.orders, d, h)(x)
        out, size = out + value, max(size, float(np.max(np.abs(value))))
    return out, size


@pytest.mark.parametrize("name", sorted(problems.PROBLEMS))
def test_exact_solutions_satisfy_every_constraint(name):
    # Central differences with h = 1e-4: truncation ~h^2 |D^4 u| / 12 (<= 2e-4 for the
    # wave's 8π mode) plus round-off ~1e-16 / h^2; relative to the operator's largest
    # term (~316 for the wave) that is ~1e-6. Bound 1e-5.
    problem = problems.get(name)
    for cname, (op, x, target) in problem.data(40, 12, seed=1).items():
        got, size = _fd_apply(op, problem.exact, x)
        scale = max(np.max(np.abs(target)), size, 1.0)
        assert np.max(np.abs(got - target)) / scale < 1e-5, (name, cname)
        lo = np.array([a for a, _ in problem.domain])
        hi = np.array([b for _, b in problem.domain])
        assert np.all((x >= lo) & (x <= hi))


def test_problem_sampling_is_seeded_and_checked():
    p = problems.poisson_2d()
    a, b = p.data(10, 8, seed=3), p.data(10, 8, seed=3)
    assert all(np.array_equal(a[k][1], b[k][1]) for k in a)
    with pytest.raises(ValueError, match="n_residual must be a positive integer"):
        p.blocks(0, 4)
    with pytest.raises(ValueError, match="unknown problem 'poison'"):
        problems.get("poison")


# --------------------------------------------------------------------- width study
def _small_blocks():
    x = np.linspace(0.05, 0.95, 8)[:, None]
    return {"u": (Operator("u", "x"), np.array([[0.0], [1.0]])), "r": (Operator("u_xx", "x"), x)}


def test_width_study_error_decreases_with_width():
    # Widths 16 -> 4096 (x256): errors should shrink ~16x; require the mean over 3 seeds to
    # fall by > 4x for every block and every fitted slope to be negative.
    study = validation.width_study(mlp(16, 2), _small_blocks(), (16, 256, 4096), (0, 1, 2),
                                   progress=False)
    for pair, errors in study.errors.items():
        mean = errors.mean(axis=1)
        assert mean[-1] < mean[0] / 4, (pair, mean)
        assert study.slopes[pair][0] < 0


def test_width_study_resumes_after_interrupt(tmp_path, monkeypatch):
    net, blocks, widths, seeds = mlp(8, 1), _small_blocks(), (8, 32, 128), (0, 1)
    reference = validation.width_study(net, blocks, widths, seeds, progress=False)
    calls = {"n": 0}
    real = _width.empirical_kernel

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_width, "empirical_kernel", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validation.width_study(net, blocks, widths, seeds, run_dir=tmp_path, progress=False)
    done = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert done == ["w32_s0.json", "w8_s0.json", "w8_s1.json"]  # nothing partial left
    monkeypatch.setattr(_width, "empirical_kernel", real)
    calls["n"] = 0
    resumed = validation.width_study(net, blocks, widths, seeds, run_dir=tmp_path,
                                     progress=False)
    for pair in reference.errors:
        np.testing.assert_array_equal(resumed.errors[pair], reference.errors[pair])
    assert resumed.slopes == reference.slopes


def test_width_study_bad_inputs():
    net, blocks = mlp(8, 1), _small_blocks()
    with pytest.raises(ValueError, match="widths is empty"):
        validation.width_study(net, blocks, (), (0,))
    with pytest.raises(ValueError, match="every width must be an integer >= 1, got 0"):
        validation.width_study(net, blocks, (0, 8), (0,))
    with pytest.raises(ValueError, match="seeds is empty"):
        validation.width_study(net, blocks, (8,), ())
    mismatched = dict(blocks, r=(Operator("u_tt", "t"), np.zeros((3, 1))))
    with pytest.raises(ValueError, match="different variables"):
        validation.width_study(net, mismatched, (8,), (0,))


def test_fit_slope_recovers_a_power_law():
    widths = np.array([16, 64, 256, 1024])
    errors = (3.0 * widths ** -0.5)[:, None] * np.exp(
        np.random.default_rng(0).normal(0, 0.01, (4, 5)))
    slope, lo, hi = validation.fit_slope(widths, errors)
    assert abs(slope + 0.5) < 0.02 and lo < -0.5 < hi


def test_cli_width_study_writes_outputs_and_resumes(tmp_path):
    from validation.cli import main

    out = tmp_path / "study"
    argv = ["study", "width", "--widths", "8", "32", "--seeds", "0", "1", "--depth", "1",
            "--n-residual", "6", "--out", str(out)]
    assert main(argv) == 0
    for name in ("results.json", "results.csv", "width_errors.png", "report.md", "config.json"):
        assert (out / name).exists(), name
    first = json.loads((out / "results.json").read_text())
    assert first["widths"] == [8, 32] and set(first["errors"]) == {"u/u", "u/r", "r/r"}
    assert main(argv) == 0  # every run is on disk: the rerun only reloads
    assert json.loads((out / "results.json").read_text())["errors"] == first["errors"]
    changed = argv[:2] + ["--widths", "8", "64"] + argv[4:]
    assert main(changed) == 2  # another configuration in the same directory is refused


# ------------------------------------------------------------------ training study
def test_training_study_drift_shrinks_and_prediction_is_the_linear_ode(tmp_path):
    # Poisson a=1, lr = 1/lambda_max(K*), 120 steps. Measured (400 steps): r/r drift 2.9
    # at width 64 vs 0.43 at 1024. Require the mean drift to fall by > 2x for the
    # residual block, and the wide network's loss to track exp(-K* t) far better.
    from scipy.linalg import expm

    import theory

    problem = problems.poisson_1d(1.0)
    net = mlp(8, 2)
    kwargs = dict(steps=120, record_every=40, n_residual=8, progress=False)
    study = validation.training_study(net, problem, (64, 1024), (0, 1), run_dir=tmp_path,
                                      **kwargs)
    rr = study.drift[("r", "r")][:, :, -1].mean(axis=1)
    assert rr[1] < rr[0] / 2, rr
    gap = study.loss_gap()
    assert gap[1] < gap[0], gap
    # The prediction is 1/2 |expm(-K* t) r(0)|^2 with r(0) of the finite network (seed 1):
    data = problem.data(8, 2, seed=0)
    K = theory.limiting_kernel(net, {k: (op, x) for k, (op, x, _) in data.items()}).matrix
    wide = net.with_width(1024)
    params = wide.init(jax.random.PRNGKey(1), 1)
    r0 = np.concatenate([np.asarray(jax.vmap(residual_fn(wide, op), (None, 0))(params, x)) - v
                         for op, x, v in data.values()])
    for k, step in enumerate(study.steps):
        want = 0.5 * np.sum((expm(-K * study.lr * step) @ r0) ** 2)
        assert abs(study.predicted_loss[1, 1, k] - want) / want < 1e-8
    assert abs(study.loss[1, 1, 0] - study.predicted_loss[1, 1, 0]) / study.loss[1, 1, 0] < 1e-12
    again = validation.training_study(net, problem, (64, 1024), (0, 1), run_dir=tmp_path,
                                      **kwargs)  # all runs on disk: reloaded, identical
    np.testing.assert_array_equal(again.loss, study.loss)


def test_training_study_bad_inputs():
    net, problem = mlp(8, 1), problems.poisson_1d()
    with pytest.raises(ValueError, match="multiple of record_every"):
        validation.training_study(net, problem, (8,), (0,), steps=10, record_every=3)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        validation.training_study(net, problem, (8,), (0,), lr=-1.0, steps=2, record_every=1)
    with pytest.raises(ValueError, match="every width must be an integer >= 1"):
        validation.training_study(net, problem, (0,), (0,))
