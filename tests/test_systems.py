"""Systems of linear PDEs: operators over several fields, multi-output networks, their exact
K*, empirical kernels, width convergence of the cross-field blocks, posteriors of Stokes and
elasticity against exact solutions, training and the CLI.

Tolerances: K* against per-pair brute-force autodiff is round-off (measured <= 1e-15
relative to the block's largest entry; bound 1e-10 as for one field); fast vs per-point
Jacobian empirical kernels are round-off (3e-16; bound 1e-10).
"""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import ntk_pinn
import theory
import validation
from conftest import brute_force_block, rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, problems

STOKES = "u v p"


def _stokes_ops():
    return {"mx": Operator("-u_xx - u_yy + p_x", "x y", fields=STOKES),
            "div": Operator("u_x + v_y", "x y", fields=STOKES),
            "pin": Operator("p", "x y", fields=STOKES),
            "vort": Operator("v_x - u_y", "x y", fields=STOKES),
            "var": Operator("(1 + x**2)*v_xy - y*u + sin(x)*p_yy", "x y", fields=STOKES)}


# ------------------------------------------------------------------------- operators

def test_operator_fields_terms_and_equality():
    op = Operator("u_x + v_y", "x y", fields="u v")
    assert op.fields == ("u", "v") and op.n_fields == 2
    assert [(t.field, t.orders) for t in op.terms] == [("u", (1, 0)), ("v", (0, 1))]
    assert op.derivatives == ((0, (1, 0)), (1, (0, 1)))
    x, y = sp.symbols("x y")
    u, v = sp.Function("u")(x, y), sp.Function("v")(x, y)
    same = Operator(sp.diff(u, x) + sp.diff(v, y), fields="u v")
    assert same == op and hash(same) == hash(op)
    # the same expression over other fields (or another order) is another operator
    assert Operator("u_x + v_y", "x y", fields="v u") != op
    assert Operator("u_x", "x y") != Operator("u_x", "x y", fields="u v")
    assert "fields='u v'" in repr(op)
    # default fields: every one-field call is unchanged
    assert Operator("u_xx", "x").fields == ("u",)
    assert op.part("v") == Operator("u_y", "x y") and Operator("p", "x y", fields=STOKES).part(
        "u") is None
    assert Operator("u*v_x", "x y", fields="u v").is_linear is False


def test_function_action_over_fields_matches_hand_derivatives():
    op = Operator("(1 + x**2)*u_xx + v_y - y*p + u*p_x", "x y", fields=STOKES)

    def f(z):
        x, y = z
        return jnp.stack([jnp.sin(2 * x) * y, jnp.exp(x * y), x ** 3 + y])

    z = jnp.array([0.3, -0.7])
    x, y = z
    want = ((1 + x ** 2) * (-4 * jnp.sin(2 * x) * y) + x * jnp.exp(x * y) - y * (x ** 3 + y)
            + jnp.sin(2 * x) * y * 3 * x ** 2)
    assert abs(float(op(f)(z) - want)) < 1e-12


@pytest.mark.parametrize("source,fields,match", [
    ("u_x + w_y", "u v", r"unknown field 'w' in 'w_y'.*fields='u v w'"),
    ("u_x + v_y + x", "u v", "term without any of the fields u, v"),
    ("sin(x)*y", "u v", "does not involve any of the fields"),
    ("u_x", "u u", "repeated"),
    ("u_x", "u_1 v", "without '_'"),
    ("u_x + v", "u x", "clashes"),
])
def test_bad_system_operators(source, fields, match):
    with pytest.raises(ValueError, match=match):
        Operator(source, "x y", fields=fields)


def test_sympy_system_needs_fields():
    x, y = sp.symbols("x y")
    u, v = sp.Function("u")(x, y), sp.Function("v")(x, y)
    with pytest.raises(ValueError, match="pass the fields"):
        Operator(sp.diff(u, x) + sp.diff(v, y))
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['v'\]"):
        Operator(sp.diff(u, x) + sp.diff(v, y), fields="u p")


def test_fields_must_match_outputs_and_each_other(rng):
    x = rng.uniform(size=(4, 2))
    ops = _stokes_ops()
    with pytest.raises(ValueError, match=r"3 field\(s\) \(u v p\) but the network has 1 "
                                         r"output.*mlp\(\.\.\., outputs=3\)"):
        theory.limiting_kernel(mlp(8, 2), {"mx": (ops["mx"], x)})
    with pytest.raises(ValueError, match=r"1 field\(s\) \(u\) but the network has 3"):
        empirical_kernel(mlp(8, 2, outputs=3), mlp(8, 2, outputs=3).init(
            jax.random.PRNGKey(0), 2), {"r": (Operator("u_xx", "x y"), x)})
    with pytest.raises(ValueError, match="declare different fields"):
        theory.limiting_kernel(mlp(8, 2, outputs=3),
                               {"mx": (ops["mx"], x), "u": (Operator("u", "x y"), x)})
    with pytest.raises(ValueError, match="pass field="):
        ops["mx"].on_kernel(lambda a, b: a @ b.T)
    with pytest.raises(ValueError, match="nonlinear in its fields"):
        theory.limiting_kernel(mlp(8, 2, outputs=2),
                               {"r": (Operator("u*v_x", "x y", fields="u v"), x)})
    with pytest.raises(ValueError, match="outputs must be an integer >= 1"):
        mlp(8, 2, outputs=0)


# ------------------------------------------------------------------------- networks, K*

def test_multi_output_network_and_its_per_output_kernel(rng):
    net = mlp(16, 2, "tanh", outputs=3)
    params = net.init(jax.random.PRNGKey(0), 2)
    x = jnp.asarray(rng.uniform(size=(5, 2)))
    out = net.apply_fn(params, x)
    assert out.shape == (5, 3)
    assert np.allclose(net.forward(params, x)[0], out, atol=1e-14)
    # neural-tangents' kernel of a Dense(3) head is the kernel of each output (outputs are
    # independent and identically distributed); Θ_fg = 0 for f != g is shown by the width
    # study of the cross-field blocks below.
    one = mlp(16, 2, "erf")
    three = mlp(16, 2, "erf", outputs=3)
    for kind in ("ntk", "nngp"):
        assert np.array_equal(np.asarray(three.kernel_fn(x, x, kind)),
                              np.asarray(one.kernel_fn(x, x, kind)))


# erf: every block (fourth-order, variable-coefficient, zero cross-field blocks); the blocks
# below the diagonal are the transposes of those above (checked), so the brute force runs on
# the pairs a <= b only (it compiles one nested reverse-mode graph per pair: ~3 s each).
# tanh (exact mixture; the same code path with another kernel): slow.
@pytest.mark.parametrize("activation,names", [
    ("erf", ("mx", "div", "pin", "var")),
    pytest.param("tanh", ("mx", "pin"), marks=pytest.mark.slow)])
def test_every_system_block_equals_brute_force(activation, names, rng):
    ops = {k: op for k, op in _stokes_ops().items() if k in names}
    blocks = {k: (op, rng.uniform(size=(3, 2))) for k, op in ops.items()}
    # a fixed mixture size, so that the brute force differentiates the same kernel
    net = mlp(16, 2, activation, outputs=3,
              quadrature_degree=6 if activation == "tanh" else None)
    K = theory.limiting_kernel(net, blocks)
    assert np.array_equal(K.matrix, K.matrix.T)
    for i, a in enumerate(ops):
        for b in list(ops)[i:]:
            ref = brute_force_block(net, ops[a], ops[b], blocks[a][1], blocks[b][1])
            got = K.block(a, b)
            if not theory.shared_fields(ops[a], ops[b]):
                assert np.all(got == 0.0) and np.all(ref == 0.0), (a, b)
            else:
                assert rel_err(got, ref) < 1e-10, (a, b, rel_err(got, ref))


def test_system_kernel_equals_the_sympy_closed_form(rng):
    """An independent check without autodiff: the one-hidden-layer erf closed form,
    differentiated by sympy, summed over the fields (measured 8e-16)."""
    ops = {k: op for k, op in _stokes_ops().items() if k in ("mx", "div", "pin", "vort")}
    blocks = {k: (op, rng.uniform(size=(4, 2))) for k, op in ops.items()}
    net = mlp(8, 1, "erf", outputs=3)
    assert rel_err(theory.symbolic.limiting_kernel(net, blocks).matrix,
                   theory.limiting_kernel(net, blocks).matrix) < 1e-12
    with pytest.raises(ValueError, match="outputs=3"):
        theory.symbolic.limiting_kernel(mlp(8, 1, "erf"), blocks)


def test_system_per_order_and_fused_graphs_agree(rng, monkeypatch):
    from theory import _limiting

    ops = {k: op for k, op in _stokes_ops().items() if k in ("mx", "div", "pin")}
    blocks = {k: (op, rng.uniform(size=(6, 2))) for k, op in ops.items()}
    net = mlp(16, 2, "erf", outputs=3)
    small = theory.limiting_kernel(net, blocks)
    monkeypatch.setattr(_limiting, "_PER_ORDER_MAX_TILES", -1)
    fused = theory.limiting_kernel(net, blocks)
    assert rel_err(fused.matrix, small.matrix) < 1e-12
    for name, (op, x) in blocks.items():
        diag = theory.limiting_kernel_diagonal(net, op, x)
        assert rel_err(diag, np.diag(small.block(name))) < 1e-12


# ------------------------------------------------------------------------- empirical

def _jacobian_reference(net, params, x):
    """Per point, ∂θ of mx = -u_xx - u_yy + p_x and of div = u_x + v_y from jax.hessian /
    jax.jacfwd of the network's outputs, then jacrev over the parameters: independent of
    Operator and of the fast path."""
    def outputs(p, z):
        return net.apply_fn(p, z[None])[0]

    def mx(p, z):
        h = jax.hessian(lambda w: outputs(p, w))(z)           # (3, 2, 2)
        g = jax.jacfwd(lambda w: outputs(p, w))(z)            # (3, 2)
        return -h[0, 0, 0] - h[0, 1, 1] + g[2, 0]

    def div(p, z):
        g = jax.jacfwd(lambda w: outputs(p, w))(z)
        return g[0, 0] + g[1, 1]

    rows = []
    for fn in (mx, div):
        jac = jax.vmap(jax.grad(fn), (None, 0))(params, jnp.asarray(x))
        rows.append(np.concatenate([np.asarray(a).reshape(len(x), -1)
                                    for a in jax.tree_util.tree_leaves(jac)], axis=1))
    J = np.concatenate(rows)
    return J @ J.T


def test_empirical_system_kernel_against_per_point_jacobians(rng):
    ops = _stokes_ops()
    x = rng.uniform(size=(4, 2))
    blocks = {"mx": (ops["mx"], x), "div": (ops["div"], x)}
    net = mlp(12, 2, "tanh", outputs=3)
    params = net.init(jax.random.PRNGKey(3), 2)
    ref = _jacobian_reference(net, params, x)
    for method in ("fast", "generic"):
        K = empirical_kernel(net, params, blocks, method=method)
        assert rel_err(K.matrix, ref) < 1e-10, method
    # nonlinear residuals over fields: fast path == generic path
    nl = {"nl": (Operator("u*v_x + sin(x)*p_yy", "x y", fields=STOKES), x), **blocks}
    fast = empirical_kernel(net, params, nl).matrix
    generic = empirical_kernel(net, params, nl, method="generic").matrix
    assert rel_err(fast, generic) < 1e-10
    traces = ntk_pinn.empirical_traces(net, params, nl)
    assert abs(traces["nl"] - np.trace(fast[:4, :4])) < 1e-10 * abs(traces["nl"])


def test_cross_field_blocks_vanish_like_inverse_sqrt_width(rng):
    """The finite network's kernel between different outputs (shared trunk) is not zero;
    it falls like width^(-1/2) (Θ_fg -> δ_fg Θ). Measured slopes (95% CI) over widths
    128 .. 8192, 5 seeds: u/v -0.43 [-0.72, -0.14], u/p -0.38 [-0.62, -0.14], v/p -0.67
    [-0.84, -0.49], v_x/p_y -0.48 [-0.64, -0.32]; at width 8192 the cross blocks are
    2.5e-3 .. 6e-3 of sqrt(‖K*_aa‖ ‖K*_bb‖)."""
    x = rng.uniform(size=(4, 2))
    blocks = {"u": (Operator("u", "x y", fields=STOKES), x),
              "v": (Operator("v", "x y", fields=STOKES), x),
              "p": (Operator("p", "x y", fields=STOKES), x),
              "v_x": (Operator("v_x", "x y", fields=STOKES), x),
              "p_y": (Operator("p_y", "x y", fields=STOKES), x)}
    study = validation.width_study(mlp(8, 2, "erf", outputs=3), blocks,
                                   [128, 512, 2048, 8192], [0, 1, 2, 3, 4], progress=False)
    vanishing = {tuple(p.split("/")) for p in study.config["vanishing_blocks"]}
    assert {("u", "v"), ("u", "p"), ("v_x", "p_y"), ("v", "p")} <= vanishing
    assert ("v", "v_x") not in vanishing
    status = study.status()
    for pair in vanishing:
        assert status[pair] == "holds", (pair, study.slopes[pair])
    assert "vanish in the limit" in study.markdown()


# ------------------------------------------------------------------------- problems

def _check_problem(problem, solution, x):
    """Every constraint's targets equal its operator applied symbolically to
    ``solution`` (sympy expressions of the fields, written independently here)."""
    xs, ys = sp.symbols("x y", real=True)
    exact = problem.exact_fields(x)
    for i, expr in enumerate(solution):
        fn = sp.lambdify((xs, ys), expr, "numpy")
        assert np.allclose(np.broadcast_to(fn(x[:, 0], x[:, 1]), len(x)), exact[:, i],
                           atol=1e-13)
    for c in problem.all_constraints:
        def derivative(expr, orders):
            pairs = [(v, k) for v, k in zip((xs, ys), orders) if k]
            return sp.diff(expr, *pairs) if pairs else expr

        applied = sum(t.coefficient.subs(dict(zip(c.operator.variable_symbols, (xs, ys))))
                      * derivative(solution[problem.fields.index(t.field)], t.orders)
                      for t in c.operator.terms)
        fn = sp.lambdify((xs, ys), applied, "numpy")
        pts = np.asarray(c.sampler(np.random.default_rng(0), 7))
        want = np.broadcast_to(fn(pts[:, 0], pts[:, 1]), len(pts))
        assert np.allclose(c.target(pts), want, atol=1e-10 * (1 + np.abs(want).max())), c.name


def test_stokes_exact_solution_satisfies_its_equations():
    x, y = sp.symbols("x y", real=True)
    pi = sp.pi
    problem = problems.stokes_2d()
    assert problem.fields == ("u", "v", "p") and problem.is_system
    _check_problem(problem, (sp.sin(pi * x) * sp.cos(pi * y), -sp.cos(pi * x) * sp.sin(pi * y),
                             sp.cos(pi * x) * sp.cos(pi * y)),
                   np.random.default_rng(1).uniform(size=(9, 2)))
    data = problem.data(10, 6)
    assert data["p_pin"][1].shape == (1, 2) and data["mx"][1].shape == (10, 2)
    assert np.all(np.isin(data["u_bc"][1], [0.0, 1.0]).any(axis=1))


@pytest.mark.parametrize("lam,mu", [(1.0, 0.5), (0.577, 0.385)])
def test_elasticity_exact_solution_satisfies_its_equations(lam, mu):
    x, y = sp.symbols("x y", real=True)
    pi = sp.pi
    problem = problems.elasticity_2d(lam, mu)
    _check_problem(problem, (sp.cos(pi * x) * sp.sin(pi * y), sp.sin(pi * x) * sp.cos(pi * y)),
                   np.random.default_rng(2).uniform(size=(9, 2)))
    with pytest.raises(ValueError, match="mu > 0"):
        problems.elasticity_2d(1.0, -1.0)


# ------------------------------------------------------------------------- posteriors

def test_stokes_posterior_against_the_exact_solution():
    """NNGP posterior (depth-2 erf) with the problem's default points. Measured on the
    21 x 21 grid: rel. L2 8.0e-6 (u), 4.4e-6 (v), 8.4e-4 (p), 1.9e-5 (vorticity
    v_x - u_y = 2π sin(πx) sin(πy)); all within 3 sigma."""
    problem = problems.stokes_2d()
    d = problem.defaults
    net = mlp(1, d["depth"], "erf", outputs=3)
    obs = list(problem.data(d["n_residual"], d["n_boundary"]).values())
    x = problem.grid(21)
    tests = {f: Operator(f, "x y", fields=STOKES) for f in problem.fields}
    tests["vorticity"] = Operator("v_x - u_y", "x y", fields=STOKES)
    posts = theory.gp_posteriors(net, obs, x, tests, calibrate="rkhs")
    exact = problem.exact_fields(x)
    exact_vorticity = 2 * np.pi * np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])
    bounds = {"u": 5e-5, "v": 5e-5, "p": 3e-3, "vorticity": 5e-4}
    for name, want in [("u", exact[:, 0]), ("v", exact[:, 1]), ("p", exact[:, 2]),
                       ("vorticity", exact_vorticity)]:
        err = np.linalg.norm(posts[name].mean - want) / np.linalg.norm(want)
        assert err < bounds[name], (name, err)
        assert posts[name].covers(want).all(), name
    # gp_posterior of one field == the same entry of gp_posteriors
    one = theory.gp_posterior(net, obs, x, test_operator=tests["p"], calibrate="rkhs")
    assert np.array_equal(one.mean, posts["p"].mean)
    with pytest.raises(ValueError, match="name what to predict"):
        theory.gp_posterior(net, obs, x)
    with pytest.raises(ValueError, match="fields"):
        theory.gp_posteriors(net, obs, x, {"u": Operator("u", "x y")})


def test_elasticity_posterior_against_the_exact_solution():
    """Measured on the 21 x 21 grid (default points): rel. L2 2.4e-6 (u), 2.6e-6 (v) for
    the NNGP posterior (all within 3 sigma), 2.3e-6, 1.5e-6 for the converged NTK
    ensemble."""
    problem = problems.elasticity_2d(lam=1.0, mu=0.5)
    d = problem.defaults
    net = mlp(1, d["depth"], "erf", outputs=2)
    obs = list(problem.data(d["n_residual"], d["n_boundary"]).values())
    x = problem.grid(21)
    tests = {f: Operator(f, "x y", fields="u v") for f in problem.fields}
    exact = problem.exact_fields(x)
    for kind, calibrate, bound in (("nngp", "rkhs", 2e-5), ("ntk", "mle", 2e-5)):
        posts = theory.gp_posteriors(net, obs, x, tests, kind=kind, calibrate=calibrate)
        for i, f in enumerate(problem.fields):
            err = np.linalg.norm(posts[f].mean - exact[:, i]) / np.linalg.norm(exact[:, i])
            assert err < bound, (kind, f, err)
        if kind == "nngp":
            assert all(posts[f].covers(exact[:, i]).all() for i, f in enumerate(problem.fields))


# ------------------------------------------------------------------------- training, CLI

def test_train_a_system_with_adaptive_weights_per_constraint():
    problem = problems.stokes_2d()
    net = mlp(32, 2, "tanh", outputs=3)
    points = ntk_pinn.Points(n_residual=24, n_boundary=12)
    result = ntk_pinn.train(net, problem, steps=60, adaptive=ntk_pinn.Adaptive(every=30),
                            record=ntk_pinn.Record(every=30), points=points, progress=False)
    assert set(result.weights) == {"u_bc", "v_bc", "p_pin", "mx", "my", "div"}
    assert len({round(float(w[-1]), 6) for w in result.weights.values()}) == 6
    assert result.errors[-1] < result.errors[0]
    batched = ntk_pinn.train(net, problem, steps=20, record=ntk_pinn.Record(every=20),
                             points=ntk_pinn.Points(n_residual=24, n_boundary=12,
                                                    batch_size=8), progress=False)
    assert np.isfinite(batched.errors).all()


def test_cli_posterior_and_kernel_of_a_system(tmp_path):
    env_cmd = [sys.executable, "-m", "validation.cli"]
    out = tmp_path / "post"
    subprocess.run(env_cmd + ["posterior", "--problem", "stokes_2d", "--grid", "11",
                              "--n-residual", "24", "--n-boundary", "12", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    summary = json.loads((out / "posterior.json").read_text())
    assert set(summary["fields"]) == {"u", "v", "p"}
    assert (out / "posterior.png").stat().st_size > 0
    assert np.load(out / "posterior.npz")["mean"].shape == (121, 3)
    kout = tmp_path / "kernel"
    run = subprocess.run(env_cmd + ["kernel", "--operator", "u_x + v_y", "--variables", "x y",
                                    "--fields", "u v", "--boundary-operator", "v", "--n", "16",
                                    "--n-boundary", "8", "--out", str(kout)],
                         check=True, capture_output=True, text=True)
    assert "u_x + v_y" in run.stdout
    saved = np.load(kout / "kernel.npz")
    op = Operator("u_x + v_y", "x y", fields="u v")
    want = theory.limiting_kernel(mlp(1, 2, outputs=2), {"r": (op, saved["x_residual"])})
    assert rel_err(saved["K_rr"], want.matrix) < 1e-12
