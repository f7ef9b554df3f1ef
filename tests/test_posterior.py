"""GP posteriors (NNGP, NTK ensemble), spectra and adaptive weights.

References: dense numpy solves of the textbook formulas, an ODE integration of the
gradient-flow dynamics (scipy solve_ivp), exact PDE solutions.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import theory
from conftest import rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, problems, trace_weights


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
    # sigma itself: the variance is a difference of O(1) terms, so sigma is only resolved
    # to ~3e-8 (post.resolution, which covers() adds).
    u, obs = _poisson_obs(32)
    xt = np.linspace(0, 1, 201)[:, None]
    for kind in ("nngp", "ntk"):
        post = theory.gp_posterior(mlp(64, 2), obs, xt, kind=kind)
        err = np.linalg.norm(post.mean - u(xt)) / np.linalg.norm(u(xt))
        assert err < 1e-6, (kind, err)
        assert post.covers(u(xt)).all(), kind
        assert post.resolution < 2e-7, kind  # measured 6e-8 (nngp), 9e-8 (ntk)
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
    post = theory.gp_posterior(net, obs, xt, test_operator=Operator("u_x", "x"), noise=1e-3,
                               full_cov=True)
    assert rel_err(post.mean, Ks @ np.linalg.solve(K, y)) < 1e-9
    assert rel_err(post.cov, Kss - Ks @ np.linalg.solve(K, Ks.T)) < 1e-8
    assert rel_err(post.std, np.sqrt(np.diag(post.cov))) < 1e-8


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


def _assert_band_covers(post, exact, min_resolved):
    # Covered within 1σ + resolution everywhere; where σ exceeds its round-off resolution
    # (a fraction >= min_resolved of the grid), within 1σ alone.
    assert post.covers(exact, k=1).all()
    resolved = post.std > post.resolution
    assert resolved.mean() >= min_resolved
    assert np.all(np.abs(post.mean - exact)[resolved] <= post.std[resolved])


@pytest.mark.parametrize("name,n_residual,n_boundary,bound,width,min_resolved", [
    # measured: rel. L2 1.05e-4, 3σ band 2.1e-3 of max|u|, σ resolved at 85% of the grid,
    # max |u - m| / σ there 0.38
    ("poisson_2d", 64, 32, 1e-3, 1e-2, 0.7),
    # measured: rel. L2 1.6e-6, 3σ band 3.1e-5 of max|u|; σ is mostly below its round-off
    # resolution (9e-6 absolute, errors <= 3.2e-6): resolved at 15%, ratio there 0.14
    ("heat_1d", 96, 24, 1e-4, 1e-3, 0.1),
])
def test_other_problems_are_solved_and_covered(name, n_residual, n_boundary, bound, width,
                                               min_resolved):
    # calibrate="rkhs" (the worst-case bound |u - m| <= ||u||_H σ with ||u||_H estimated
    # by ||m||_H): the truth lies within 1σ at every grid point, and wherever σ is above
    # its round-off resolution the band alone covers it (no help from the resolution);
    # the band stays useful (mean 3σ under `width` × max|u|).
    # The MLE amplitude is a likelihood fit, not a bound: measured 98.6% / 99.3% within
    # 3σ; require 90%. Without calibration the band is ~10x too narrow (21% coverage).
    problem = problems.get(name)
    obs = list(problem.data(n_residual, n_boundary, seed=0).values())
    xt = problem.grid(12)
    exact = problem.exact(xt)
    post = theory.gp_posterior(mlp(8, 2), obs, xt, calibrate="rkhs")
    assert np.linalg.norm(post.mean - exact) / np.linalg.norm(exact) < bound
    _assert_band_covers(post, exact, min_resolved)
    assert np.mean(3 * post.std) < width * np.max(np.abs(exact))
    mle = theory.gp_posterior(mlp(8, 2), obs, xt, calibrate="mle")
    assert np.allclose(mle.mean, post.mean)
    assert np.mean(mle.covers(exact, k=3)) > 0.9
    assert post.scale == pytest.approx(mle.scale * sum(len(o[2]) for o in obs))


def test_rkhs_band_bounds_the_error_of_any_function_of_known_norm(rng):
    # Independent check of the worst-case bound behind calibrate="rkhs": for
    # u = sum_i c_i k(., z_i) (k the NNGP kernel), ||u||_H^2 = c^T K_zz c exactly, and
    # |u(x) - m(x)| <= ||u||_H σ(x) (unit amplitude) must hold at every test point, for
    # observations of u and u_xx; and ||m||_H^2 = post.scale (rkhs) <= ||u||_H^2.
    net = mlp(8, 2)
    x, z = Operator("u", "x"), rng.uniform(-0.5, 1.5, (12, 1))
    c = rng.normal(size=12)
    Kzz = theory.limiting_kernel(net, [(x, z)], kind="nngp").matrix
    norm_u = float(np.sqrt(c @ Kzz @ c))

    def apply(op, pts):  # op[u](pts) through the cross kernel
        return theory.limiting_kernel(net, [(op, pts)], [(x, z)], kind="nngp").matrix @ c

    lap = Operator("u_xx", "x")
    xb, xr = np.array([[0.0], [1.0]]), np.linspace(0, 1, 10)[:, None]
    obs = [(x, xb, apply(x, xb)), (lap, xr, apply(lap, xr))]
    xt = np.linspace(-0.2, 1.2, 141)[:, None]
    post = theory.gp_posterior(net, obs, xt)
    err = np.abs(post.mean - apply(x, xt))
    assert np.all(err <= norm_u * post.std + post.resolution)
    assert np.max(err / (norm_u * post.std + post.resolution)) > 1e-3  # not vacuous
    assert theory.gp_posterior(net, obs, xt, calibrate="rkhs").scale <= norm_u ** 2 * (1 + 1e-8)


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
    from theory import stable_cholesky
    with pytest.raises(ValueError, match="stays singular"):
        stable_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))  # indefinite
    with pytest.raises(ValueError, match="non-positive diagonal"):
        stable_cholesky(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="calibrate must be"):
        theory.gp_posterior(net, [(op, x, np.zeros(3))], x, calibrate="bayes")
    with pytest.raises(ValueError, match="NTK ensemble"):
        theory.gp_posterior(net, [(op, x, np.zeros(3))], x, kind="ntk", calibrate="rkhs")
    with pytest.raises(ValueError, match=r"values has shape \(2,\)"):
        theory.gp_posterior(net, [(op, x, np.zeros(3))], x).covers(np.zeros(2))
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
    w = trace_weights(K)
    assert w["u"] == pytest.approx((tr_u + tr_r) / tr_u) and w["r"] == pytest.approx((tr_u + tr_r) / tr_r)
    E = empirical_kernel(net, net.init(jax.random.PRNGKey(0), 1), blocks)
    assert set(trace_weights(E)) == {"u", "r"}
    with pytest.raises(ValueError, match="square BlockKernel"):
        theory.spectrum(theory.limiting_kernel(net, [blocks["u"]], [blocks["r"]]))


def test_cli_posterior_and_spectrum(tmp_path):
    import json

    from validation.cli import main

    assert main(["posterior", "--problem-param", "a=2", "--depth", "1", "--n-residual", "12",
                 "--grid", "21", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads((tmp_path / "p" / "posterior.json").read_text())
    assert summary["relative_l2_error"] < 1e-2 and (tmp_path / "p" / "posterior.png").exists()
    assert main(["posterior", "--problem-param", "a=2", "--depth", "1", "--n-residual", "12",
                 "--grid", "21", "--calibrate", "rkhs", "--out", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "posterior.json").read_text())
    assert summary["calibrate"] == "rkhs" and summary["fraction_within_1_sigma"] == 1.0
    assert main(["posterior", "--kind", "ntk", "--calibrate", "rkhs", "--n-residual", "8",
                 "--out", str(tmp_path / "n")]) == 2
    assert main(["spectrum", "--n-residual", "8", "--out", str(tmp_path / "s")]) == 0
    spec = json.loads((tmp_path / "s" / "spectrum.json").read_text())
    assert spec["traces"]["r"] > spec["traces"]["u"]  # tr(K_rr) >> tr(K_uu) (Wang et al.)
    assert main(["posterior", "--problem", "nope", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_wave_is_solved_with_a_shorter_length_scale_prior():
    # Wang et al.'s wave (8π-in-time mode). Measured: depth 3, W_std 2.5, 3000 + 3×300
    # points: rel. L2 1.6e-3 (W_std 1: 0.50, 2: 4.3e-3, 3: 7.2e-2). Bound 5e-3. The MLE
    # band covers only 57% within 3σ (the prior is misspecified); the rkhs band covers
    # every grid point within 1σ (σ resolved at 81% of the grid, max |u - m| / σ there
    # 0.38) with a mean 3σ band of 2.6% of max|u|; require under 5%.
    problem = problems.get("wave_1d")
    obs = list(problem.data(3000, 300, seed=0).values())
    xt = problem.grid(41)
    post = theory.gp_posterior(mlp(8, 3, W_std=2.5), obs, xt, calibrate="rkhs")
    exact = problem.exact(xt)
    assert np.linalg.norm(post.mean - exact) / np.linalg.norm(exact) < 5e-3
    _assert_band_covers(post, exact, 0.7)
    assert np.mean(3 * post.std) < 0.05 * np.max(np.abs(exact))


def test_observations_the_kernel_cannot_fit_are_refused():
    # u(0) = 0 and u(0) = 1 at noise = 0 returned mean 0.395 with sigma 3e-8 there.
    net, op = mlp(8, 2), Operator("u", "x")
    x = np.array([[0.0], [0.0], [0.5]])
    xt = np.linspace(0, 1, 5)[:, None]
    with pytest.raises(ValueError, match=r"observations disagree.*obs0\[0\] = 0.*obs0\[1\] = 1"
                                         r".*noise="):
        theory.gp_posterior(net, [(op, x, np.array([0.0, 1.0, 0.3]))], xt)
    near = np.array([[0.0], [1e-9], [0.5]])     # not the same point: caught by the misfit
    with pytest.raises(ValueError, match=r"cannot fit 2 observation\(s\).*obs0\[0\]"):
        theory.gp_posterior(net, [(op, near, np.array([0.0, 1.0, 0.3]))], xt)
    split = [(op, x[:1], np.array([0.0])), (op, x[1:2], np.array([1.0]))]
    with pytest.raises(ValueError, match="observations disagree"):
        theory.gp_posterior(net, split, xt)      # across observations too
    post = theory.gp_posterior(net, [(op, near, np.array([0.0, 1.0, 0.3]))], xt, noise=0.1)
    assert 0.2 < post.mean[0] < 0.8              # with noise: a compromise, as asked


def test_arguments_that_do_not_apply_are_refused():
    net, op = mlp(8, 2), Operator("u", "x")
    obs = [(op, np.array([[0.0], [1.0]]), np.zeros(2))]
    xt = np.linspace(0, 1, 3)[:, None]
    with pytest.raises(ValueError, match="NNGP posterior has neither"):
        theory.gp_posterior(net, obs, xt, kind="nngp", t=1.0)
    with pytest.raises(ValueError, match="NNGP posterior has neither"):
        theory.gp_posterior(net, obs, xt, weights=(2.0,))
    with pytest.raises(ValueError, match="positive numbers"):
        theory.gp_posterior(net, obs, xt, kind="ntk", weights=(-1.0,))   # t=None too
    # (n,) points for a one-variable operator are n points (documented), as (n, 1):
    a = theory.gp_posterior(net, obs, np.linspace(0, 1, 3))
    np.testing.assert_array_equal(a.mean, theory.gp_posterior(net, obs, xt).mean)


@pytest.mark.parametrize("name", ["poisson_1d", "poisson_2d", "heat_1d",
                                  pytest.param("wave_1d", marks=pytest.mark.slow)])
def test_cli_defaults_solve_every_linear_problem(name, tmp_path):
    # `ntk-pinn posterior --problem NAME` and nothing else: the problem's own points and
    # network, the rkhs band. Measured on the 201-point (per axis) grid: rel. L2 1.5e-5,
    # 6.2e-5, 2.3e-6, 1.8e-3 and the band covering 100% of the grid (wave: 80 s, 1.2 GB).
    # Was 13-21% error with 2% covered (2 boundary points, uncalibrated band).
    import json

    from validation.cli import main

    assert main(["posterior", "--problem", name, "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "posterior.json").read_text())
    assert summary["relative_l2_error"] <= 1e-2 and summary["fraction_within_3_sigma"] >= 0.95
    assert summary["calibrate"] == "rkhs" and summary["grid"] == 201


def test_cli_help_states_each_problems_defaults():
    from validation.cli import PROBLEM_DEFAULTS

    for name in problems.PROBLEMS:
        problem = problems.get(name)
        if problem.is_linear:
            assert PROBLEM_DEFAULTS[name] == problem.defaults, name


_THREADS_SCRIPT = """
import json, sys
import numpy as np
import theory
from ntk_pinn import Operator, mlp, problems
prob = problems.elasticity_2d()
x = prob.grid(41)
tests = {f: Operator(f, "x y", fields="u v") for f in ("u", "v")}
order = np.random.default_rng(int(sys.argv[1])).permutation if sys.argv[1] != "-1" else None
obs = []
for op, pts, vals in prob.data(96, 48, seed=0).values():
    p = np.arange(len(pts)) if order is None else order(len(pts))
    obs.append((op, pts[p], vals[p]))
posts = theory.gp_posteriors(mlp(1, 2, "erf", outputs=2), obs, x, tests)
exact = prob.exact_fields(x)
print(json.dumps([float(np.linalg.norm(posts[f].mean - exact[:, i]) / np.linalg.norm(exact[:, i]))
                  for i, f in enumerate(("u", "v"))]))
"""


def test_posterior_errors_do_not_depend_on_blas_threads_or_summation_order():
    # The elasticity posterior (2 x 96 + 2 x 48 observations, 41 x 41 grid) gave rel. L2
    # 2.65e-6 on 1 BLAS thread and 1.20e-5 on 2 with a jitter of 1e-15, picked by whether
    # a round-off-sized jitter factorizes. Now (jitter from n eps, refined solve) measured
    # 2.44e-6 / 2.41e-6 on 1 and 2 threads; require the same to 10 % under 1 and 2 threads
    # and with the observations in another order (another summation order).
    import json
    import os
    import subprocess
    import sys

    def errors(threads: int, order: int) -> np.ndarray:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, str(order)], env=env,
                             capture_output=True, text=True, check=True)
        return np.array(json.loads(out.stdout.strip().splitlines()[-1]))

    base = errors(1, -1)
    assert np.all(base < 1e-5), base
    for threads, order in ((2, -1), (1, 7)):
        other = errors(threads, order)
        assert np.all(np.abs(other / base - 1) < 0.1), (threads, order, base, other)


def test_problem_data_is_taken_as_it_is_and_options_are_keywords():
    # gp_posterior refused problem.data()'s dict; now the dict and its values() give the
    # same posterior. Options are keyword-only (kind was the 4th positional parameter).
    problem = problems.poisson_1d(2.0)
    data = problem.data(16, 2)
    x = problem.grid(21)
    a = theory.gp_posterior(mlp(1, 2), data, x, progress=False)
    b = theory.gp_posterior(mlp(1, 2), list(data.values()), x)
    np.testing.assert_array_equal(a.mean, b.mean)
    with pytest.raises(TypeError):
        theory.gp_posterior(mlp(1, 2), data, x, "ntk")
