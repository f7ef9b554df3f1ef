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


def _chain_rule_case():
    rng = np.random.default_rng(3)
    x, xb = rng.uniform(0, 3, (7, 2)), rng.uniform(0, 3, (3, 2))
    mean, std = np.array([1.5, 0.7]), np.array([0.8, 2.0])
    # In z = (x - mean) / std, d/dx_i = d/dz_i / std_i: the Laplacian in x is
    # u_zz / std_0^2 + u_ww / std_1^2, an independent route to the same kernel.
    op = ntk_pinn.Operator("u_xx + u_yy - x*u_y", "x y")
    op_z = ntk_pinn.Operator(f"{1 / std[0] ** 2}*u_xx + {1 / std[1] ** 2}*u_yy "
                             f"- ({std[0]}*x + {mean[0]})*{1 / std[1]}*u_y", "x y")
    u = ntk_pinn.Operator("u", "x y")
    z, zb = (x - mean) / std, (xb - mean) / std
    return (mlp(32, 2, "tanh", input_mean=tuple(mean), input_std=tuple(std)),
            mlp(32, 2, "tanh"), {"r": (op, x), "b": (u, xb)}, {"r": (op_z, z), "b": (u, zb)})


def test_standardized_inputs_kernel_is_the_chain_rule_of_the_plain_one():
    import theory

    std_net, plain, blocks, blocks_z = _chain_rule_case()
    K = theory.limiting_kernel(std_net, blocks)
    K_z = theory.limiting_kernel(plain.with_width(32), blocks_z)
    assert np.max(np.abs(K.matrix - K_z.matrix)) < 1e-12 * np.max(np.abs(K_z.matrix))
    params = std_net.init(jax.random.PRNGKey(0), 2)
    fast = ntk_pinn.empirical_kernel(std_net, params, blocks).matrix
    generic = ntk_pinn.empirical_kernel(std_net, params, blocks, method="generic").matrix
    ref = ntk_pinn.empirical_kernel(plain, params, blocks_z).matrix
    scale = np.max(np.abs(ref))
    assert np.max(np.abs(fast - ref)) < 1e-12 * scale
    assert np.max(np.abs(generic - ref)) < 1e-12 * scale
    x = blocks["r"][1]
    z = blocks_z["r"][1]
    out = np.asarray(std_net.apply_fn(params, x))
    assert np.allclose(out, np.asarray(plain.apply_fn(params, z)), rtol=0, atol=1e-14)
    assert np.allclose(np.asarray(std_net.forward(params, x)[0]), out[:, 0], atol=1e-14)


def test_standardized_takes_the_points_statistics_and_bad_scalings_are_refused():
    x = np.random.default_rng(0).uniform(0, 4, (50, 2))
    net = mlp(16, 2).standardized(x)
    assert np.allclose(net.input_mean, x.mean(axis=0))
    assert np.allclose(net.input_std, x.std(axis=0))
    assert net.is_standardized and not mlp(16, 2).is_standardized
    hash(net)  # hashable: compiled kernels are cached per network
    for kwargs, match in [({"input_std": 0.0}, "input_std must be a finite number > 0"),
                          ({"input_std": (1.0, -2.0)}, "input_std"),
                          ({"input_mean": float("nan")}, "input_mean must be a finite")]:
        with pytest.raises(ValueError, match=match):
            mlp(16, 2, **kwargs)
    with pytest.raises(ValueError, match="input_mean has 3 entries but the points have 2"):
        mlp(16, 2, input_mean=(0.0, 1.0, 2.0)).kernel_fn(x, x, "ntk")
    with pytest.raises(ValueError, match="constant"):
        mlp(16, 2).standardized(np.c_[x[:, 0], np.ones(50)])


def test_standard_parameterization_matches_neural_tangents_and_its_own_gradients():
    # Standard parameterization (W ~ N(0, W_std^2/fan_in), z = h W + b) as in
    # neural-tangents: forward == apply_fn, the fast empirical NTK (Gram scales from
    # DenseLayer.weight_scale/bias_scale) == per-point Jacobians, and K* == per-pair
    # reverse-mode autodiff of neural-tangents' own standard kernel_fn.
    import theory
    from conftest import brute_force_block

    rng = np.random.default_rng(5)
    net = mlp(48, 2, "erf", W_std=1.3, b_std=0.5, parameterization="standard")
    op, u = ntk_pinn.Operator("u_xx + 3*u_x", "x"), ntk_pinn.Operator("u", "x")
    blocks = {"b": (u, np.array([[-1.0], [1.0]])), "r": (op, rng.uniform(-1, 1, (5, 1)))}
    params = net.init(jax.random.PRNGKey(2), 1)
    x = blocks["r"][1]
    assert np.allclose(np.asarray(net.forward(params, x)[0]),
                       np.asarray(net.apply_fn(params, x))[:, 0], rtol=0, atol=1e-14)
    fast = ntk_pinn.empirical_kernel(net, params, blocks).matrix
    generic = ntk_pinn.empirical_kernel(net, params, blocks, method="generic").matrix
    assert np.max(np.abs(fast - generic)) < 1e-12 * np.max(np.abs(generic))
    K = theory.limiting_kernel(net, blocks)
    ref = brute_force_block(net, op, op, x, x)
    assert np.max(np.abs(K.block("r", "r") - ref)) < 1e-10 * np.max(np.abs(ref))
    # Its NTK depends on the width (each layer adds fan_in * nngp): not the NTK one.
    K_ntk = theory.limiting_kernel(mlp(48, 2, "erf", W_std=1.3, b_std=0.5), blocks)
    assert np.min(np.diag(K.matrix) / np.diag(K_ntk.matrix)) > 5
    with pytest.raises(ValueError, match="parameterization must be one of"):
        mlp(8, 2, parameterization="mean-field")


def test_standard_parameterization_empirical_kernel_approaches_its_width_kernel():
    # Measured (3 seeds, 1-D u_xx and boundary): relative Frobenius error 0.74 at width
    # 64, 0.07 at 4096 (the kernel of each width as reference). Require > 3x smaller.
    import validation

    blocks = ntk_pinn.problems.poisson_1d(1.0).blocks(6, 2)
    net = mlp(64, 2, "erf", W_std=1.3, b_std=0.5, parameterization="standard")
    study = validation.width_study(net, blocks, (64, 4096), (0, 1, 2), progress=False)
    total = sum(e.mean(axis=1) for e in study.errors.values())
    assert total[1] < total[0] / 3, total
    assert study.config["network"]["parameterization"] == "standard"


def test_standard_parameterization_training_study_uses_each_widths_kernel():
    # Each width trains with 1/λ_max of its own K* (which grows with the width) and is
    # compared with it: the drift shrinks from width 64 to 1024 as in the NTK
    # parameterization. Measured (2 seeds, 100 steps): drift of the r|r block, mean of
    # the seeds, 2.7 -> 0.20 (13x); the lr falls 15x. Require the drift > 3x smaller.
    import validation

    net = mlp(64, 2, "erf", parameterization="standard")
    study = validation.training_study(net, ntk_pinn.problems.poisson_1d(1.0), (64, 1024),
                                      (0, 1), steps=100, record_every=50, progress=False)
    lrs = study.config["lr_per_width"]
    assert lrs["1024"] < lrs["64"] / 5, lrs
    drift = study.drift[("r", "r")][:, :, -1].mean(axis=1)
    assert drift[1] < drift[0] / 3, drift
    # Predicted losses are finite and start at the actual loss.
    assert np.allclose(study.predicted_loss[:, :, 0], study.loss[:, :, 0], rtol=1e-10)


def test_glorot_normal_initialization_draws_and_has_no_limit():
    import jax

    import ntk_pinn
    from theory import limiting_kernel

    net = ntk_pinn.mlp(400, 2, "tanh", parameterization="standard",
                       initialization="glorot_normal")
    dense = [p for p in net.init(jax.random.PRNGKey(3), 2) if len(p)]
    for W, b in dense:
        fan_in, fan_out = W.shape
        # Sample std within 5 % of sqrt(2 / (fan_in + fan_out)) (>= 400 draws per layer).
        assert abs(float(W.std()) / np.sqrt(2.0 / (fan_in + fan_out)) - 1) < 0.05
        assert float(np.abs(b).max()) == 0.0
    # forward == apply_fn on these parameters (the weights are used as they are).
    params = net.init(jax.random.PRNGKey(3), 2)
    x = np.random.default_rng(0).uniform(size=(5, 2))
    assert np.allclose(net.forward(params, x)[0], net.apply_fn(params, x)[:, 0], atol=1e-13)
    blocks = {"u": (ntk_pinn.Operator("u", "x y"), x)}
    assert ntk_pinn.empirical_kernel(net, params, blocks).matrix.shape == (5, 5)
    with pytest.raises(ValueError, match="does not exist for initialization='glorot_normal'"):
        limiting_kernel(net, blocks)
    with pytest.raises(ValueError, match="pass parameterization='standard'"):
        ntk_pinn.mlp(8, 1, initialization="glorot_normal")
    with pytest.raises(ValueError, match="initialization must be one of"):
        ntk_pinn.mlp(8, 1, initialization="xavier")


def test_empirical_traces_equal_the_kernel_diagonal_blocks():
    import jax

    import ntk_pinn
    from ntk_pinn import problems

    prob = problems.wave_1d()
    net = ntk_pinn.mlp(48, 2, "tanh", parameterization="standard").standardized(prob.grid(9))
    params = net.init(jax.random.PRNGKey(0), 2)
    blocks = prob.blocks(20, 6)
    K = ntk_pinn.empirical_kernel(net, params, blocks, method="generic")
    traces = ntk_pinn.empirical_traces(net, params, blocks)
    for name in blocks:
        assert np.isclose(traces[name], np.trace(K.block(name, name)), rtol=1e-12)
    groups = {"u": ("ic", "bc"), "ut": ("ic_t",), "r": ("r",)}
    total = sum(traces.values())
    weights = ntk_pinn.trace_weights(traces, groups)
    assert np.isclose(weights["u"], total / (traces["ic"] + traces["bc"]), rtol=1e-14)
    assert ntk_pinn.trace_weights(K, groups).keys() == weights.keys()
