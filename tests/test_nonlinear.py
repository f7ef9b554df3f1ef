"""The nonlinear regime: Hessian-vector products and their norms, the Levenberg–Marquardt
step and optimizer, the K(0) spread of linear vs nonlinear operators, the study and CLI."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ntk_pinn
from conftest import rel_err
from ntk_pinn import (Operator, empirical_kernel, gauss_newton_step, hvp, loss_hessian_norms,
                      mlp, power_iteration, problems, residual_fn, residual_hessian_norms,
                      residual_tangent_curvature)
import validation
from validation import nonlinear_study, plateau_status

# power iteration to convergence on tiny problems: estimates agree with eigvalsh to ~1e-9
TIGHT = dict(iters=5000, rtol=1e-13)


def _tiny(activation="erf", depth=1, width=3, seed=0):
    net = mlp(width, depth, activation)
    return net, net.init(jax.random.PRNGKey(seed), 1)


@pytest.mark.parametrize("activation,depth", [("erf", 1), ("tanh", 2)])
@pytest.mark.parametrize("op", ["u_xx", "u_xx + u**3", "u*u_x - 0.1*u_xx"])
def test_residual_hvp_and_norm_match_the_dense_hessian(activation, depth, op):
    net, params = _tiny(activation, depth)
    op = Operator(op, "x")
    x = np.array([[0.3], [0.8]])
    flat, unravel = ravel_pytree(params)
    r = residual_fn(net, op)
    v = jax.random.normal(jax.random.PRNGKey(1), flat.shape)
    norms = residual_hessian_norms(net, params, op, x, **TIGHT)
    for p, xp in enumerate(x):
        f = lambda th: r(unravel(th), jnp.asarray(xp))  # noqa: E731
        H = jax.hessian(f)(flat)
        assert rel_err(hvp(f, flat, v), H @ v) < 1e-12       # both exact autodiff
        assert abs(norms[p] - np.abs(np.linalg.eigvalsh(H)).max()) < 1e-8 * norms[p]


@pytest.mark.parametrize("op", ["u_xx", "u_xx - u**3"])
def test_tangent_curvature_matches_the_dense_hessian(op):
    net, params = _tiny("tanh", 2, width=4)
    op = Operator(op, "x")
    x = np.array([[0.2], [0.7]])
    flat, unravel = ravel_pytree(params)
    r = residual_fn(net, op)
    got = residual_tangent_curvature(net, params, op, x)
    for p, xp in enumerate(x):
        f = lambda th: r(unravel(th), jnp.asarray(xp))  # noqa: E731
        g = jax.jacrev(f)(flat)
        H = jax.hessian(f)(flat)
        assert abs(got[p] - g @ H @ g / (g @ g)) < 1e-10 * max(1.0, abs(got[p]))


def test_tangent_curvature_separates_linear_from_nonlinear():
    """Independent of the HVP route: at width 2048 the nonlinear κ is the rank-one part
    ``6 c u (∇u·ĝ)²`` up to the vanishing linear parts, and the linear κ is far below it."""
    net = mlp(2048, 1, "tanh")
    params = net.init(jax.random.PRNGKey(0), 1)
    x = np.array([[0.3], [0.6]])
    nonlinear, linear = Operator("u_xx - u**3", "x"), Operator("u_xx", "x")
    k_nl = residual_tangent_curvature(net, params, nonlinear, x)
    k_lin = residual_tangent_curvature(net, params, linear, x)
    flat, unravel = ravel_pytree(params)
    for p, xp in enumerate(x):
        u = lambda th: net.apply_fn(unravel(th), jnp.asarray(xp)[None])[0, 0]  # noqa: E731
        r = lambda th: residual_fn(net, nonlinear)(unravel(th), jnp.asarray(xp))  # noqa: E731
        g = jax.grad(r)(flat)
        g = g / jnp.linalg.norm(g)
        rank_one = -6.0 * u(flat) * jnp.dot(jax.grad(u)(flat), g) ** 2
        assert abs(k_nl[p] - rank_one) < 0.1 * abs(rank_one)
        assert abs(k_lin[p]) < 0.1 * abs(k_nl[p])


def test_power_iteration_on_an_indefinite_matrix():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    eig = np.concatenate([[-5.0, 3.0], rng.uniform(-2, 2, 18)])
    A = jnp.asarray(Q @ np.diag(eig) @ Q.T)
    est, k = power_iteration(lambda v: A @ v, jnp.ones(20), iters=2000, rtol=1e-14)
    assert abs(est - 5.0) < 1e-10 and k < 2000


def test_loss_hessian_parts_match_dense_and_the_ntk():
    net, params = _tiny("tanh", 1, width=4)
    data = problems.get("nonlinear_poisson_1d").data(5, 2, seed=0)
    flat, unravel = ravel_pytree(params)
    fns = [(jax.vmap(residual_fn(net, op), (None, 0)), jnp.asarray(x), jnp.asarray(g))
           for op, x, g in data.values()]

    def residuals(th):
        return jnp.concatenate([fn(unravel(th), x) - g for fn, x, g in fns])

    H = jax.hessian(lambda th: 0.5 * jnp.sum(residuals(th) ** 2))(flat)
    J = jax.jacfwd(residuals)(flat)
    got = loss_hessian_norms(net, params, data, **TIGHT)
    spec = lambda M: np.abs(np.linalg.eigvalsh(M)).max()  # noqa: E731
    assert rel_err(got.full, spec(H)) < 1e-8
    assert rel_err(got.curvature, spec(H - J.T @ J)) < 1e-8
    # independent: the Gauss–Newton norm is λ_max of the empirical PINN NTK J Jᵀ
    K = empirical_kernel(net, params, {k: (o, x) for k, (o, x, _) in data.items()}).matrix
    assert rel_err(got.gauss_newton, np.linalg.eigvalsh(K).max()) < 1e-8


@pytest.mark.parametrize("name", ["nonlinear_poisson_1d", "heat_1d"])
def test_lm_step_is_the_damped_least_squares_solution(name):
    problem = problems.get(name)
    d = len(problem.variables)
    net = mlp(5, 1, "tanh")
    params = net.init(jax.random.PRNGKey(1), d)
    data = problem.data(6, 2, seed=0)
    weights = {k: w for k, w in zip(data, (3.0, 0.5, 2.0))}
    damping = 1e-2
    step = gauss_newton_step(net, params, data, damping=damping, weights=weights)
    flat, unravel = ravel_pytree(params)

    def residuals(th):  # r_ij = sqrt(λ_i / n_i) (B_i[u](x_ij) - g_ij)
        return jnp.concatenate([
            np.sqrt(weights[k] / len(x))
            * (jax.vmap(residual_fn(net, op), (None, 0))(unravel(th), jnp.asarray(x)) - g)
            for k, (op, x, g) in data.items()])

    J, r = np.asarray(jax.jacfwd(residuals)(flat)), np.asarray(residuals(flat))
    mu = damping * np.trace(J @ J.T) / len(r)
    # direct: argmin ‖J δ - r‖² + μ‖δ‖² as an augmented least-squares problem
    A = np.vstack([J, np.sqrt(mu) * np.eye(J.shape[1])])
    want = np.linalg.lstsq(A, np.concatenate([r, np.zeros(J.shape[1])]), rcond=None)[0]
    assert rel_err(ravel_pytree(step)[0], want) < 1e-10


def test_lm_training_beats_adam_on_the_nonlinear_problem():
    # Measured (width 16, depth 1, tanh, 24 points, seed 0): LM 40 steps 4.6e-5 vs Adam
    # (lr 1e-2) 400 steps 0.82. Require LM 10x better; LM's loss never increases.
    problem = problems.get("nonlinear_poisson_1d", a=1.0)  # c = -1: unique solution
    net = mlp(16, 1, "tanh")
    common = dict(points=ntk_pinn.Points(n_residual=24, n_boundary=2), seed=0,
                  record=ntk_pinn.Record(every=10))
    lm = ntk_pinn.train(net, problem, optimizer="lm", steps=40, **common)
    adam = ntk_pinn.train(net, problem, optimizer="adam", lr=1e-2, steps=400, **common)
    total = sum(lm.losses.values())
    assert np.all(np.diff(total) <= 1e-12 * total[:-1])
    assert lm.error * 10 < adam.error, (lm.error, adam.error)
    with pytest.raises(ValueError, match="damping"):
        ntk_pinn.train(net, problem, optimizer="lm", steps=10, damping=0.0, **common)


def test_k0_spread_is_much_larger_for_the_nonlinear_operator():
    # Width 1024, depth-2 erf, 4 seeds, the same 12 + 2 points. Measured spread of the r/r
    # block: linear 0.14, nonlinear 0.96 (the u³ term keeps the random u(x) in K).
    # Require nonlinear > 3x linear, and nonlinear > 0.3 in absolute terms.
    nonlinear = problems.get("nonlinear_poisson_1d")
    spreads = {}
    for label, problem in (("linear", nonlinear.linear()), ("nonlinear", nonlinear)):
        blocks = problem.blocks(12, 2, seed=0)
        net = mlp(1024, 2)
        Ks = np.array([empirical_kernel(net, net.init(jax.random.PRNGKey(s), 1),
                                        blocks).block("r", "r") for s in range(4)])
        mean = Ks.mean(axis=0)
        spreads[label] = np.mean(np.linalg.norm(Ks - mean, axis=(1, 2))) / np.linalg.norm(mean)
    assert spreads["nonlinear"] > 3 * spreads["linear"], spreads
    assert spreads["nonlinear"] > 0.3, spreads


def test_plateau_status():
    assert plateau_status(-0.05, -0.2, 0.1) == "holds"
    assert plateau_status(-0.3, -0.7, 0.1) == "inconclusive"
    assert plateau_status(-0.5, -0.7, -0.3) == "fails"


def test_nonlinear_study_runs_resumes_and_checks(tmp_path, monkeypatch):
    problem = problems.get("nonlinear_poisson_1d")
    kw = dict(steps=4, record_every=2, n_residual=4, n_probe=2, hessian_iters=50,
              progress=False)
    study = nonlinear_study(mlp(8, 1), problem, (16, 64), (0, 1), run_dir=tmp_path, **kw)
    assert study.nonlinear_blocks == ("r",)
    assert study.spread[("nonlinear", ("r", "r"))].shape == (2, 1)   # one pair of 2 seeds
    assert study.drift[("linear", ("u", "r"))].shape == (2, 2, 3)
    assert np.all(study.hessian[("nonlinear", "residual_hessian")] > 0)
    claims = study.status()
    assert claims[("spread", "nonlinear", ("r", "r"))][0] == "does not vanish like width^(-1/2)"
    assert claims[("spread", "nonlinear", ("u", "u"))][0] == "vanishes like width^(-1/2)"
    # two seeds: no interval for the spread's slope, and no verdict from it
    assert claims[("spread", "linear", ("r", "r"))][1] == "n/a (needs >= 3 seeds)"
    assert "INCONCLUSIVE" in study.verdict() and "n/a" in study.markdown()
    assert ("hessian", "linear", "loss_gauss_newton") not in claims
    assert "linear" in study.verdict()
    # rerun: every (width, seed) is on disk, nothing is recomputed
    monkeypatch.setattr("validation._nonlinear.empirical_kernel",
                        lambda *a, **k: pytest.fail("recomputed a finished run"))
    again = nonlinear_study(mlp(8, 1), problem, (16, 64), (0, 1), run_dir=tmp_path, **kw)
    assert np.array_equal(again.spread[("nonlinear", ("r", "r"))],
                          study.spread[("nonlinear", ("r", "r"))])


def test_nonlinear_study_bad_inputs():
    nonlinear = problems.get("nonlinear_poisson_1d")
    net = mlp(8, 1)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        nonlinear_study(net, nonlinear, (8, 16), (0,))
    with pytest.raises(ValueError, match="is linear"):
        nonlinear_study(net, nonlinear.linear(), (8, 16), (0, 1))
    with pytest.raises(ValueError, match="same blocks"):
        nonlinear_study(net, nonlinear, (8, 16), (0, 1), linear_problem=problems.get("heat_1d"))
    with pytest.raises(ValueError, match="no linear counterpart"):
        problems.Problem("p", ("x",), nonlinear.residual, nonlinear.constraints,
                         nonlinear.exact, nonlinear.domain).linear()


def test_cli_nonlinear_study(tmp_path):
    from validation.cli import main

    out = tmp_path / "nl"
    argv = ["study", "nonlinear", "--widths", "8", "32", "--seeds", "0", "1", "--depth", "1",
            "--n-residual", "4", "--steps", "4", "--record-every", "2", "--n-probe", "1",
            "--out", str(out)]
    assert main(argv) == 0
    for name in ("results.json", "results.csv", "nonlinear.png", "report.md", "config.json"):
        assert (out / name).exists(), name
    payload = json.loads((out / "results.json").read_text())
    assert payload["problems"]["linear"].endswith("c=0)")
    assert "nonlinear:r/r" in payload["spread"] and "linear:residual_hessian" in payload["hessian"]
    assert main(argv[:-2] + ["--lr-factor", "0.25", "--out", str(out)]) == 2  # config changed


def test_spread_slope_interval_covers_the_true_slope_in_simulation():
    # Synthetic K(0) samples with a known law: K_s = M + c w^(-1/2) Z_s (Z iid Gaussian
    # matrices), 4 seeds, widths 64-1024, as the study draws them. The 95% interval of the
    # fitted spread slope must contain -1/2 in >= 90% of 400 simulations (measured 92.5%;
    # the old spread against the shared seed mean, 2 seeds: 73%).
    from validation import _nonlinear

    rng = np.random.default_rng(0)
    widths = np.array([64, 128, 256, 512, 1024])
    M = rng.normal(size=(6, 6))
    M = M @ M.T + 6 * np.eye(6)
    hits = 0
    for _ in range(400):
        values = np.array([_nonlinear._pair_spread(
            M + 3.0 * w ** -0.5 * rng.normal(size=(4, 6, 6)), slice(None), slice(None))
            for w in widths])
        slope, lo, hi = validation.fit_slope(widths, values, paired=True)
        hits += lo <= -0.5 <= hi
    assert hits / 400 >= 0.90, hits / 400


def test_paired_slope_interval_covers_with_seed_effects_and_is_narrower():
    # A seed that shifts the quantity at every width alike (as the loss curvature at
    # initialization does: 30x between seeds, little change with width): log y =
    # a_s + slope log w + noise, a_s ~ N(0, 1.5), noise ~ N(0, 0.2). The paired interval
    # (one intercept per seed) must cover the true slope in >= 90% of 400 simulations and
    # be much narrower than the pooled one, which reads the seeds' spread as noise.
    rng = np.random.default_rng(1)
    widths = np.array([64, 128, 256, 512, 1024])
    hits, paired_width, pooled_width = 0, [], []
    for _ in range(400):
        a = rng.normal(0, 1.5, size=4)
        values = np.exp(a[None, :] - 0.2 * np.log(widths)[:, None]
                        + rng.normal(0, 0.2, size=(5, 4)))
        slope, lo, hi = validation.fit_slope(widths, values, paired=True)
        hits += lo <= -0.2 <= hi
        paired_width.append(hi - lo)
        _, lo2, hi2 = validation.fit_slope(widths, values)
        pooled_width.append(hi2 - lo2)
    assert hits / 400 >= 0.90, hits / 400
    assert np.median(paired_width) < 0.25 * np.median(pooled_width)
