"""GP posteriors (NNGP, NTK ensemble), spectra and adaptive weights.

References: dense numpy solves of the textbook formulas, an ODE integration of the
gradient-flow dynamics (scipy solve_ivp), exact PDE solutions.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import theory
from conftest import rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, problems


def _poisson_obs(n, k=2.0):
    u = lambda x: np.sin(k * np.pi * x[:, 0])  # noqa: E731
    x = np.linspace(0, 1, n)[:, None]
    xb = np.array([[0.0], [1.0]])
    return u, [(Operator("u", "x"), xb, u(xb)),
               (Operator("u_xx", "x"), x, -(k * np.pi) ** 2 * u(x))]


def _train_blocks(obs):
    return {f"obs{i}": (op, x) for i, (op, x, _) in enumerate(obs)}


def test_poisson_1d_nngp_and_ntk_reach_1e_6_and_cover_the_truth():
    # Depth-2 erf prior, 32 collocation points: measured rel. L2 7.9e-8 (NNGP) and 3.0e-8
    # (NTK, converged); target 1e-6. The truth lies within 3 sigma, up to the round-off of
    # sigma itself: the variance is a difference of O(1) terms, known to ~1e-15 absolute,
    # so sigma is only resolved to ~3e-8; floor 1e-7.
    u, obs = _poisson_obs(32)
    xt = np.linspace(0, 1, 201)[:, None]
    for kind in ("nngp", "ntk"):
        post = theory.gp_posterior(mlp(64, 2), obs, xt, kind=kind)
        err = np.linalg.norm(post.mean - u(xt)) / np.linalg.norm(u(xt))
        assert err < 1e-6, (kind, err)
        assert np.all(np.abs(post.mean - u(xt)) <= 3 * post.std + 1e-7), kind
        assert post.jitter <= 1e-12


def test_nngp_posterior_equals_dense_computation(rng):
    net = mlp(8, 2, "erf")
    _, obs = _poisson_obs(6)
    xt = rng.uniform(0, 1, (5, 1))
    y = np.concatenate([o[2] for o in obs])
    blocks = _train_blocks(obs)
    K = theory.limiting_kernel(net, blocks, kind="nngp").matrix + 1e-3 * np.eye(8)
    Ks = theory.limiting_kernel(net, [(Operator("u_x", "x"), xt)], blocks, kind="nngp").matrix
    Kss = theory.limiting_kernel(net, [(Operator("u_x", "x"), xt)], kind="nngp").matrix
    post = theory.gp_posterior(net, obs, xt, test_operator=Operator("u_x", "x"), noise=1e-3)
    assert rel_err(post.mean, Ks @ np.linalg.solve(K, y)) < 1e-9
    assert rel_err(post.cov, Kss - Ks @ np.linalg.solve(K, Ks.T)) < 1e-8


def _ntk_dense(net, obs, xt):
    blocks = _train_blocks(obs)
    T = theory.limiting_kernel(net, blocks).matrix
    Ts = theory.limiting_kernel(net, [(Operator("u", "x"), xt)], blocks).matrix
    return T, Ts, np.concatenate([o[2] for o in obs])


def test_ntk_converged_mean_is_kernel_regression_and_large_t_agrees():
    # Few, well-separated points so Θ is well conditioned (cond ~1e6) and t = 1e9 is
    # converged in every eigen-direction.
    net = mlp(8, 1, "erf")
    _, obs = _poisson_obs(4, k=1.0)
    xt = np.linspace(0, 1, 7)[:, None]
    T, Ts, y = _ntk_dense(net, obs, xt)
    want = Ts @ np.linalg.solve(T, y)
    assert rel_err(theory.gp_posterior(net, obs, xt, kind="ntk").mean, want) < 1e-8
    assert rel_err(theory.gp_posterior(net, obs, xt, kind="ntk", t=1e9).mean, want) < 1e-6


@pytest.mark.parametrize("t", [1e-3, 1e-2, 0.3])
def test_ntk_mean_at_finite_t_solves_the_gradient_flow_ode(t):
    # Gradient flow on ½Σλ_i r_i²: df_X/dt = -Θ Λ (f_X - y), df_x/dt = -Θ_xX Λ (f_X - y),
    # mean from f = 0. Integrated by an implicit solver (stiff: Θ spans many decades).
    net = mlp(8, 1, "erf")
    _, obs = _poisson_obs(5)
    xt = np.linspace(0, 1, 4)[:, None]
    T, Ts, y = _ntk_dense(net, obs, xt)
    weights = (3.0, 0.5)
    lam = np.concatenate([np.full(len(o[1]), w) for o, w in zip(obs, weights)])

    def rhs(_, z):
        fX = z[:len(y)]
        g = lam * (fX - y)
        return np.concatenate([-T @ g, -Ts @ g])

    sol = solve_ivp(rhs, (0, t), np.zeros(len(y) + len(xt)), method="Radau",
                    rtol=1e-10, atol=1e-12)
    want = sol.y[len(y):, -1]
    got = theory.gp_posterior(net, obs, xt, kind="ntk", t=t, weights=weights).mean
    assert rel_err(got, want) < 1e-6


@pytest.mark.parametrize("name,n_residual,n_boundary,bound", [
    ("poisson_2d", 64, 32, 1e-3),   # measured 1.05e-4 (NNGP)
    ("heat_1d", 96, 24, 1e-4),      # measured 1.6e-6
])
def test_other_problems_are_solved(name, n_residual, n_boundary, bound):
    # With the amplitude calibrated (MLE), the band covers the truth at most grid points:
    # measured 98.6% (2-D Poisson) and 83% (heat) within 3 sigma; require 75%. Without
    # calibration the unit-amplitude prior gives a band ~10x too narrow (21% coverage).
    problem = problems.get(name)
    obs = list(problem.data(n_residual, n_boundary, seed=0).values())
    xt = problem.grid(12)
    post = theory.gp_posterior(mlp(8, 2), obs, xt, calibrate=True)
    exact = problem.exact(xt)
    assert np.linalg.norm(post.mean - exact) / np.linalg.norm(exact) < bound
    assert np.mean(np.abs(post.mean - exact) <= 3 * post.std + 1e-7) > 0.75
    assert post.scale > 1


def test_bad_observations():
    net = mlp(8, 1)
    x = np.linspace(0, 1, 3)[:, None]
    op = Operator("u", "x")
    with pytest.raises(ValueError, match="observations is empty"):
        theory.gp_posterior(net, [], x)
    with pytest.raises(ValueError, match="values contain NaN"):
        theory.gp_posterior(net, [(op, x, np.array([0.0, np.nan, 1.0]))], x)
    with pytest.raises(ValueError, match="has 3 points but 2 values"):
        theory.gp_posterior(net, [(op, x, np.zeros(2))], x)
    with pytest.raises(ValueError, match="triple"):
        theory.gp_posterior(net, [(op, x)], x)
    dup = np.zeros((3, 1))  # a singular kernel: the escalating jitter copes and is reported
    assert theory.gp_posterior(net, [(op, dup, np.array([1.0, 1.0, 1.0]))], x).jitter > 0
    from theory._posterior import stable_cholesky
    with pytest.raises(ValueError, match="stays singular"):
        stable_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))  # indefinite
    with pytest.raises(ValueError, match="non-positive diagonal"):
        stable_cholesky(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="weights must be 1 positive"):
        theory.gp_posterior(net, [(op, x, np.zeros(3))], x, kind="ntk", t=1.0, weights=(1, 2))


def test_spectrum_and_adaptive_weights(rng):
    import jax

    net = mlp(64, 2)
    _, obs = _poisson_obs(10, k=4.0)
    blocks = {"u": obs[0][:2], "r": obs[1][:2]}
    K = theory.limiting_kernel(net, blocks)
    spec = theory.spectrum(K)
    tr_u, tr_r = np.trace(K.block("u")), np.trace(K.block("r"))
    assert spec.trace_ratio("r", "u") == pytest.approx(tr_r / tr_u, rel=1e-12)
    assert spec.eigenvalues["r"] == pytest.approx(np.sort(np.linalg.eigvalsh(K.block("r")))[::-1])
    assert spec.rate_discrepancy == pytest.approx(max(tr_u / 2, tr_r / 10) / min(tr_u / 2, tr_r / 10))
    w = theory.adaptive_weights(K)
    assert w["u"] == pytest.approx((tr_u + tr_r) / tr_u) and w["r"] == pytest.approx((tr_u + tr_r) / tr_r)
    E = empirical_kernel(net, net.init(jax.random.PRNGKey(0), 1), blocks)
    assert set(theory.adaptive_weights(E)) == {"u", "r"}
    with pytest.raises(ValueError, match="square BlockKernel"):
        theory.spectrum(theory.limiting_kernel(net, [blocks["u"]], [blocks["r"]]))


def test_cli_posterior_and_spectrum(tmp_path):
    import json

    from validation.cli import main

    assert main(["posterior", "--problem-param", "a=2", "--depth", "1", "--n-residual", "12",
                 "--grid", "21", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads((tmp_path / "p" / "posterior.json").read_text())
    assert summary["relative_l2_error"] < 1e-2 and (tmp_path / "p" / "posterior.png").exists()
    assert main(["spectrum", "--n-residual", "8", "--out", str(tmp_path / "s")]) == 0
    spec = json.loads((tmp_path / "s" / "spectrum.json").read_text())
    assert spec["traces"]["r"] > spec["traces"]["u"]  # tr(K_rr) >> tr(K_uu) (Wang et al.)
    assert main(["posterior", "--problem", "nope", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_wave_is_solved_with_a_shorter_length_scale_prior():
    # Wang et al.'s wave (8π-in-time mode). Measured: depth 3, W_std 2.5, 3000 + 3×300
    # points: rel. L2 1.6e-3 (W_std 1: 0.50, 2: 4.3e-3, 3: 7.2e-2). Bound 5e-3. The band
    # does not cover this truth (52% within 3σ, calibrated): the prior is misspecified, so
    # no coverage is asserted here.
    problem = problems.get("wave_1d")
    obs = list(problem.data(3000, 300, seed=0).values())
    xt = problem.grid(41)
    post = theory.gp_posterior(mlp(8, 3, W_std=2.5), obs, xt, calibrate=True)
    exact = problem.exact(xt)
    assert np.linalg.norm(post.mean - exact) / np.linalg.norm(exact) < 5e-3
