"""Smooth activations (tanh, sigmoid, softplus, swish, callables) under input derivatives.

References are independent of the erf-mixture machinery: scipy's adaptive 2-D quadrature
of the actual activation (``dblquad``, abs/rel tolerance 1e-13), neural-tangents' closed
form ``Erf``, per-pair reverse-mode autodiff, and wide finite networks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as ss
from ntk_pinn.nt import stax
from scipy import integrate

import theory
from conftest import brute_force_block, rel_err
from ntk_pinn import Operator, empirical_kernel, mlp
from ntk_pinn import _mixture, _smooth

FUNCTIONS = {
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2, jnp.tanh),
    "sigmoid": (ss.expit, lambda z: ss.expit(z) * (1 - ss.expit(z)), jax.nn.sigmoid),
    "softplus": (lambda z: np.logaddexp(0, z), ss.expit, jax.nn.softplus),
}


def gaussian_expectation(f, g, q12, q11, q22):
    """E[f(u) g(v)], (u, v) ~ N(0, [[q11, q12], [q12, q22]]), by adaptive 2-D quadrature."""
    s1 = np.sqrt(q11)
    slope = q12 / s1
    schur = np.sqrt(max(q22 - slope * slope, 0.0))

    def integrand(z2, z1):
        return f(s1 * z1) * g(slope * z1 + schur * z2) * np.exp(-(z1 * z1 + z2 * z2) / 2)

    value = integrate.dblquad(integrand, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-13)[0]
    return value / (2 * np.pi)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_mixture_reproduces_the_activation(name):
    # The rule of 24 nodes represents the function itself to ~1e-12 (measured 2.4e-12
    # for tanh, ~1e-15 for sigmoid/softplus); bound 1e-10.
    x = np.linspace(-8, 8, 321)
    mix = _mixture.mixture(name, 24)
    assert np.max(np.abs(np.asarray(mix(x)) - FUNCTIONS[name][0](x))) < 1e-10


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("q", [(1.0, 1.0, 1.0), (1.8, 2.0, 2.0), (0.3, 0.5, 1.5),
                               (-0.7, 1.0, 0.6)])
def test_layer_expectations_match_2d_quadrature(name, q):
    # With the nodes chosen for tol 1e-10 the layer maps E[f f] and E[f' f'] agree with
    # adaptive quadrature of the real function to ~1e-11 (measured); bound 1e-9.
    f, df, _ = FUNCTIONS[name]
    nodes, _ = _mixture.choose_nodes(name, max(q[1], q[2]), order=4)
    mix = _mixture.mixture(name, nodes)
    args = [jnp.asarray(v) for v in q]
    assert abs(float(mix.nngp_fn(*args)) - gaussian_expectation(f, f, *q)) < 1e-9
    assert abs(float(mix.d_nngp_fn(*args)) - gaussian_expectation(df, df, *q)) < 1e-9


def _ops():
    return {
        "u": (Operator("u", "x y"), Operator("u", "x y")),
        "ux": (Operator("u_x", "x y"), Operator("u_y + x*u", "x y")),
        "lap": (Operator("u_xx + u_yy", "x y"), Operator("u_xx + u_yy", "x y")),
        "mixed": (Operator("u_xx + u_yy", "x y"), Operator("u_x - 2*u_yy", "x y")),
    }


@pytest.mark.parametrize("pair", ["u", "ux", "lap", "mixed"])
@pytest.mark.parametrize("kind", ["ntk", "nngp"])
def test_erf_through_the_mixture_layer_reproduces_stax_erf(pair, kind, rng):
    # The mixture layer with erf as its single atom, through stax.Elementwise and autodiff,
    # against neural-tangents' hand-written Erf kernel: up to 2 derivatives per side.
    # Agreement is round-off (measured ~1e-14); bound 1e-8 as the issue asks.
    x1, x2 = rng.uniform(-1, 1, (7, 2)), rng.uniform(-1, 1, (5, 2))
    op1, op2 = _ops()[pair]
    ours = mlp(16, 2, _smooth.SmoothActivation("erf", jax.scipy.special.erf, exact=True),
               quadrature_degree=1)
    reference = mlp(16, 2, "erf")
    got = theory.limiting_kernel(ours, [(op1, x1)], [(op2, x2)], kind=kind).matrix
    want = theory.limiting_kernel(reference, [(op1, x1)], [(op2, x2)], kind=kind).matrix
    assert rel_err(got, want) < 1e-8


def _reference_tanh_kernel(x, W_std, b_std, depth):
    """NNGP and NTK of a tanh MLP on the points ``x: (n, d)`` by the layer recursion with
    every Gaussian expectation done by ``dblquad`` (no mixture, no autodiff)."""
    f, df, _ = FUNCTIONS["tanh"]
    n = x.shape[0]
    nngp = W_std ** 2 * x @ x.T / x.shape[1] + b_std ** 2
    ntk = nngp.copy()
    for _ in range(depth):
        t00, t11 = np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            for j in range(i, n):
                q = (nngp[i, j], nngp[i, i], nngp[j, j])
                t00[i, j] = t00[j, i] = gaussian_expectation(f, f, *q)
                t11[i, j] = t11[j, i] = gaussian_expectation(df, df, *q)
        nngp_next = W_std ** 2 * t00 + b_std ** 2
        ntk = nngp_next + W_std ** 2 * t11 * ntk
        nngp = nngp_next
    return nngp, ntk


def test_tanh_kuu_matches_high_precision_quadrature():
    # Depth 2, two layers of dblquad expectations (tol 1e-13). The mixture's error estimate
    # is 1e-10; measured agreement ~1e-12. Bound 1e-8 (the issue's).
    x = np.array([[0.1, -0.4], [0.7, 0.2], [-0.9, 0.8]])
    net = mlp(32, 2, "tanh", W_std=1.3, b_std=0.4)
    nngp, ntk = _reference_tanh_kernel(x, 1.3, 0.4, 2)
    u = Operator("u", "x y")
    assert rel_err(theory.limiting_kernel(net, [(u, x)], kind="nngp").matrix, nngp) < 1e-8
    assert rel_err(theory.limiting_kernel(net, [(u, x)], kind="ntk").matrix, ntk) < 1e-8


_SLOW = pytest.mark.slow  # 20-60 s each (per-pair reference compiles slowly)


@pytest.mark.parametrize("activation,op,d", [
    ("tanh", "u_xx", 1), ("sigmoid", "u_xx", 1), ("softplus", "u_xx", 1),
    ("tanh", "u_xx + u_yy", 2),
    pytest.param("tanh", "u_t - 0.1*u_xx", 2, marks=_SLOW),
    pytest.param("sigmoid", "u_xx + u_yy", 2, marks=_SLOW),
    pytest.param("softplus", "u_xx + u_yy", 2, marks=_SLOW),
    pytest.param("softplus", "u_t - 0.1*u_xx", 2, marks=_SLOW),
])
def test_batched_kstar_equals_per_pair_autodiff(activation, op, d, rng):
    # Same kernel_fn, two derivative schemes (batched forward JVPs vs per-pair nested
    # reverse grads): round-off only; bound 1e-10 of the block's scale.
    variables = {1: "x", 2: "t x" if "u_t" in op else "x y"}[d]
    net = mlp(16, 2, activation)
    L = Operator(op, variables)
    x1, x2 = rng.uniform(-1, 1, (6, d)), rng.uniform(-1, 1, (5, d))
    net = net.choose_quadrature(np.concatenate([x1, x2]), 2 * L.order)
    K = theory.limiting_kernel(net, [(L, x1)], [(L, x2)]).matrix
    assert rel_err(K, brute_force_block(net, L, L, x1, x2)) < 1e-10


@pytest.mark.parametrize("op,variables", [("u_xx", "x"), ("u_xx + u_yy", "x y")])
def test_tanh_krr_symmetric_psd_positive_diagonal(op, variables, rng):
    d = len(variables.split())
    x = rng.uniform(-1, 1, (40, d))
    for kind in ("ntk", "nngp"):
        K = theory.limiting_kernel(mlp(16, 2, "tanh"), [(Operator(op, variables), x)],
                                   kind=kind).matrix
        assert np.array_equal(K, K.T)
        ev = np.linalg.eigvalsh(K)
        assert ev.min() > -1e-12 * ev.max(), (kind, ev.min(), ev.max())
        assert np.diag(K).min() > 0


def test_neural_tangents_numerical_tanh_is_wrong_where_ours_is_not():
    # Documents the failure this module exists for: ElementwiseNumerical differentiates
    # through sqrt(q22 - q12^2/q11), so its u_xx diagonal is far off (negative or not
    # finite); ours stays positive. Same architecture as mlp(32, 2, "tanh").
    x = np.linspace(-1, 1, 9)[:, None]
    L = Operator("u_xx", "x")
    _, _, kernel_fn = stax.serial(
        stax.Dense(32, 1.0, 1.0), stax.ElementwiseNumerical(jnp.tanh, 25),
        stax.Dense(32, 1.0, 1.0), stax.ElementwiseNumerical(jnp.tanh, 25),
        stax.Dense(1, 1.0, 1.0))
    theirs = np.asarray(jax.jit(L.on_kernel(L.on_kernel(
        lambda a, b: kernel_fn(a, b, "ntk"), 0), 1))(x, x))
    ours = theory.limiting_kernel(mlp(32, 2, "tanh"), [(L, x)]).matrix
    assert np.diag(ours).min() > 0
    theirs_ok = np.isfinite(np.diag(theirs)) & (np.diag(theirs) > 0)
    off = np.abs(np.diag(theirs) - np.diag(ours)) / np.diag(ours)
    assert not theirs_ok.all() or off.max() > 0.5, np.diag(theirs)


def test_tanh_empirical_kernel_as_close_as_erf():
    # Width 2048, 4 seeds, same points: the tanh residual block's mean Frobenius error
    # must be within the issue-2 bound (15%) and not much worse than erf's at the same
    # width and seeds (measured: see the closing note; bound 2x erf's).
    x = np.linspace(0, 1, 12)[:, None]
    blocks = {"u": (Operator("u", "x"), np.array([[0.0], [1.0]])),
              "r": (Operator("u_xx", "x"), x)}
    errors = {}
    for activation in ("erf", "tanh"):
        net = mlp(2048, 2, activation)
        K = theory.limiting_kernel(net, blocks)
        errs = []
        for seed in range(4):
            E = empirical_kernel(net, net.init(jax.random.PRNGKey(seed), 1), blocks)
            errs.append(np.linalg.norm(E.block("r") - K.block("r"))
                        / np.linalg.norm(K.block("r")))
        errors[activation] = float(np.mean(errs))
    assert errors["tanh"] < 0.15 and errors["tanh"] < 2 * errors["erf"], errors


def test_apply_fn_uses_the_same_function(rng):
    x = rng.uniform(-1, 1, (5, 1))
    for name in ("tanh", "sigmoid", "softplus", "swish"):
        net = mlp(8, 1, name)
        params = net.init(jax.random.PRNGKey(0), 1)
        (w1, b1), _, (w2, b2) = params
        fn = _smooth.smooth_activation(name).fn
        want = (fn(x @ w1 + b1) @ w2 / np.sqrt(8)) + b2  # NTK parameterization, W_std=1
        got = net.apply_fn(params, x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_non_smooth_callable_is_refused_by_name(rng):
    x = rng.uniform(-1, 1, (4, 1))
    net = mlp(8, 1, jax.nn.relu)
    with pytest.raises(ValueError, match="'relu' is not smooth enough.*u_xx"):
        theory.limiting_kernel(net, [(Operator("u_xx", "x"), x)])


def test_unknown_activation_name():
    with pytest.raises(ValueError, match="unknown activation 'tanhh'"):
        mlp(8, 1, "tanhh")


def _erf_callable(z):  # a plain callable: takes the general Gauss-Hermite + Price route
    return jax.scipy.special.erf(z)


@pytest.mark.parametrize("op", ["u", "u_x", pytest.param("u_xx", marks=pytest.mark.slow)])
def test_general_callable_route_reproduces_stax_erf(op):
    # Gauss-Hermite + Price converges slowly (error estimate tol 1e-6 per expectation);
    # measured vs neural-tangents' Erf: 3.8e-7 (u), 2.8e-6 (u_x), 8.4e-6 (u_xx). Bound 1e-4.
    x = np.linspace(-1, 1, 8)[:, None]
    L = Operator(op, "x")
    K = theory.limiting_kernel(mlp(16, 1, _erf_callable), [(L, x)])
    assert K.info["method"] == "Gauss-Hermite + Price"
    want = theory.limiting_kernel(mlp(16, 1, "erf"), [(L, x)]).matrix
    assert rel_err(K.matrix, want) < 1e-4


def test_general_callable_route_refuses_when_inaccurate():
    # tanh as an opaque callable: Gauss-Hermite cannot reach 1e-6 even for u_x (measured
    # estimate 1e-4 at degree 128; poles of tanh near the real axis); it must refuse,
    # name the activation and point to the exact "tanh".
    x = np.linspace(-1, 1, 4)[:, None]
    with pytest.raises(ValueError, match="'my_tanh': no Gauss-Hermite degree.*tanh"):
        theory.limiting_kernel(mlp(16, 1, _named(jnp.tanh, "my_tanh")),
                               [(Operator("u_x", "x"), x)])


def _named(fn, name):
    def wrapped(z):
        return fn(z)
    wrapped.__name__ = name
    return wrapped
