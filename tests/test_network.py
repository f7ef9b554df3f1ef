"""Network specs."""

import jax
import numpy as np
import pytest

import ntk_pinn
from ntk_pinn import Network, mlp


def test_mlp_spec_and_shapes():
    net = mlp(16, 3, "sin", W_std=1.5, b_std=0.1)
    assert isinstance(net, Network) and net.width == 16 and net.depth == 3
    params = net.init(jax.random.PRNGKey(0), 2)
    # depth hidden (Dense, activation) pairs and one output Dense
    assert len(params) == 2 * 3 + 1
    assert params[0][0].shape == (2, 16) and params[-1][0].shape == (16, 1)
    x = np.zeros((5, 2))
    assert net.apply_fn(params, x).shape == (5, 1)
    assert net.kernel_fn(x, x, "ntk").shape == (5, 5)
    wide = net.with_width(64)
    assert wide.width == 64 and wide.activation == "sin" and wide.W_std == 1.5
    assert net == mlp(16, 3, "sin", W_std=1.5, b_std=0.1) and hash(net) == hash(wide.with_width(16))
    with pytest.raises(Exception):
        net.width = 3  # frozen


def test_kernel_fn_is_the_limit_of_apply_fn():
    # The NNGP is the output covariance over random inits: Monte Carlo check of the
    # spec's consistency. 2000 draws: standard error ~ 2.5% of the variance; bound 10%.
    net = mlp(256, 1, "erf")
    x = np.array([[-0.5], [0.3]])
    keys = jax.random.split(jax.random.PRNGKey(0), 2000)
    outs = jax.vmap(lambda k: net.apply_fn(net.init(k, 1), x)[:, 0])(keys)
    cov = np.cov(np.asarray(outs).T)
    nngp = np.asarray(net.kernel_fn(x, x, "nngp"))
    assert np.max(np.abs(cov - nngp)) < 0.1 * np.max(np.abs(nngp))


@pytest.mark.parametrize("kwargs,match", [
    (dict(width=0, depth=1), "width must be an integer >= 1"),
    (dict(width=8, depth=0), "depth must be an integer >= 1"),
    (dict(width=8.5, depth=1), "width must be an integer"),
    (dict(width=8, depth=1, activation="swishy"), "unknown activation 'swishy'"),
    (dict(width=8, depth=1, W_std=0.0), "W_std must be > 0"),
    (dict(width=8, depth=1, b_std=float("nan")), "b_std must be a finite number"),
])
def test_bad_specs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)


def _cubic_tanh(z):  # a smooth user callable (Gauss-Hermite route)
    return jax.numpy.tanh(z) + 0.1 * z ** 3


@pytest.mark.parametrize("activation", ntk_pinn.ACTIVATIONS + (_cubic_tanh,))
@pytest.mark.parametrize("depth,W_std,b_std", [(1, 1.0, 1.0), (3, 1.7, 0.0), (2, 0.6, 2.3)])
def test_forward_equals_apply_fn(activation, depth, W_std, b_std):
    # The fast empirical NTK differentiates `forward`, the stax spec is `apply_fn`: both
    # are built from `Network.layers`, so they agree to round-off (~1e-16) for every
    # activation and option; bound 1e-13 relative to the largest output.
    net = mlp(24, depth, activation, W_std=W_std, b_std=b_std)
    params = net.init(jax.random.PRNGKey(7), 3)
    x = np.random.default_rng(0).uniform(-2, 2, (6, 3))
    want = np.asarray(net.apply_fn(params, x))[:, 0]
    got, hidden = net.forward(params, jax.numpy.asarray(x))
    assert np.max(np.abs(np.asarray(got) - want)) <= 1e-13 * np.max(np.abs(want))
    assert len(hidden) == depth + 1 and hidden[-1].shape == (6, 24)
    single, _ = net.forward(params, jax.numpy.asarray(x[2]))
    assert abs(float(single) - want[2]) <= 1e-13 * np.max(np.abs(want))


def test_layers_and_activation_names():
    net = mlp(8, 2, "tanh", W_std=1.5, b_std=0.3)
    assert [layer.width for layer in net.layers] == [8, 8, 1]
    assert all((layer.W_std, layer.b_std) == (1.5, 0.3) for layer in net.layers)
    assert net.layers[-1].activation is None
    assert set(ntk_pinn.ACTIVATIONS) >= {"erf", "sin", "gelu", "tanh", "sigmoid", "softplus",
                                         "swish", "relu"}
    assert all(isinstance(name, str) for name in ntk_pinn.ACTIVATIONS)
    with pytest.raises(ValueError, match="expected the parameters of this network"):
        net.forward(mlp(8, 1).init(jax.random.PRNGKey(0), 1), np.zeros(1))


def test_a_callable_activation_jax_cannot_trace_is_refused_at_once():
    with pytest.raises(ValueError, match=r"'tanh' is not traceable by jax.*jnp.tanh"):
        mlp(8, 1, np.tanh)
    with pytest.raises(ValueError, match="must act elementwise"):
        mlp(8, 1, lambda z: z.sum())
    assert mlp(8, 1, jax.numpy.tanh).activation is jax.numpy.tanh


@pytest.mark.parametrize("activation", ntk_pinn.ACTIVATIONS)   # swish: the quadrature route
def test_kernel_fn_is_jittable_on_a_fresh_network(activation):
    # A fresh tanh network chose its quadrature degree with numpy on first use; under
    # jax.jit that raised TracerArrayConversionError. Jitted and eager agree to round-off;
    # the ReLU family's arccos near rho = 1 amplifies the fused round-off (measured 5e-10
    # relative for leaky_relu, <= 1e-15 for the smooth ones): bound 1e-8.
    x = np.linspace(-1, 1, 4)[:, None]
    jitted = jax.jit(lambda a: mlp(8, 2, activation).kernel_fn(a, a, "ntk"))(x)
    eager = mlp(8, 2, activation).kernel_fn(x, x, "ntk")
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-8, atol=0)
