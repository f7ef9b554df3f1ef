"""The reproductions' machinery checked against independent computations: the batched
GD of ``wang-weights`` against ``ntk_pinn.train``'s GD, the error rule against an
untrained network, the width slope against a known power law."""

import numpy as np
import pytest

from validation._results import error_rule


def test_batched_gd_equals_train_gd_run_by_run():
    import jax

    import ntk_pinn
    from ntk_pinn import Points, Record, problems, train
    from validation._wang_weights import gd_runs

    prob = problems.poisson_1d(4.0, collocation="linspace")
    data = prob.data(20, 10)
    net = ntk_pinn.mlp(16, 1, "tanh", parameterization="standard").standardized(
        data["r"][1])
    inits = [net.init(jax.random.PRNGKey(s), 1) for s in (0, 1)]
    weights = np.array([[0.5, 0.5], [50.0, 0.5]])
    stack = jax.tree_util.tree_map(lambda *a: np.stack(a), *inits)
    final, ms = gd_runs(net, data, stack, weights, lr=1e-4, steps=60, record_every=20)
    assert ms.shape == (4, 2, 2)
    for i in range(2):
        ref = train(net, prob, optimizer="gd", lr=1e-4, steps=60, params=inits[i],
                    weights=dict(zip(data, weights[i])),
                    points=Points(n_residual=20, n_boundary=10), record=Record(every=20))
        for a, b in zip(jax.tree_util.tree_leaves(ref.params),
                        jax.tree_util.tree_leaves(jax.tree_util.tree_map(
                            lambda x: x[i], final))):
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ms[:, i, 0], ref.losses["u"], rtol=1e-9)
        np.testing.assert_allclose(ms[:, i, 1], ref.losses["r"], rtol=1e-9)
    with pytest.raises(ValueError, match=r"steps \(50\) must be a multiple of record_every"):
        gd_runs(net, data, stack, weights, lr=1e-4, steps=50, record_every=20)


def test_error_rule_fails_an_untrained_network_and_passes_the_papers_number():
    for paper, untrained in ((0.4518, 1.02), (1.728e-3, 1.02), (0.24, 1.38)):
        assert error_rule(paper, paper, untrained)[0]
        assert not error_rule(untrained, paper, untrained)[0]
        # the limit is the geometric midpoint at most
        mid = np.sqrt(paper * untrained)
        assert not error_rule(mid * 1.01, paper, untrained)[0]
    ok, note = error_rule(4.0e-3, 1.728e-3, 1.02)
    assert ok and "factor 3" in note
    assert not error_rule(0.29, 0.4518, 1.02)[0]       # factor √(1.02/0.4518) = 1.50


def test_constancy_fit_recovers_a_power_law_with_its_interval():
    from validation._wang_constancy import _fit

    rng = np.random.default_rng(0)
    w = np.repeat([100.0, 500.0, 2000.0, 8000.0], 3)
    v = 3.0 * w ** -0.5 * np.exp(0.05 * rng.standard_normal(len(w)))
    runs = [{"width": a, "v": b} for a, b in zip(w, v)]
    s, lo, hi = _fit(runs, lambda r: r["v"])
    assert lo < -0.5 < hi and hi < 0 and abs(s + 0.5) < 0.05
    # no trend (the same three values at every width): the interval holds 0
    runs = [{"width": a, "v": b} for a, b in zip(w, np.tile([1.05, 0.95, 1.0], 4))]
    s, lo, hi = _fit(runs, lambda r: r["v"])
    assert lo < 0 < hi and abs(s) < 1e-12
    # one width: no slope
    assert np.isnan(_fit(runs[:3], lambda r: r["v"])[0])


def test_constancy_run_matches_a_plain_gd_loop_and_the_generic_kernel():
    import jax
    import jax.numpy as jnp

    import ntk_pinn
    from ntk_pinn import empirical_kernel, residual_vector_fn
    from validation._wang import _poisson_setting
    from validation._wang_constancy import _run

    _, data = _poisson_setting(1.0)
    Kstar = np.eye(200)
    got = _run(1, 16, 3, 200, Kstar, None, False)
    # independent: the sum loss ½ Σ r² by hand, plain GD, per-point autodiff Jacobians
    net = ntk_pinn.mlp(16, 1, "tanh")
    p0 = p = net.init(jax.random.PRNGKey(3), 1)
    res = residual_vector_fn(net, data)
    grad = jax.jit(jax.grad(lambda q: 0.5 * jnp.sum(res(q) ** 2)))
    for _ in range(200):
        p = jax.tree_util.tree_map(lambda a, g: a - 1e-5 * g, p, grad(p))
    blocks = {k: (op, x) for k, (op, x, _) in data.items()}
    K0 = empirical_kernel(net, p0, blocks, method="generic").matrix
    KT = empirical_kernel(net, p, blocks, method="generic").matrix
    np.testing.assert_allclose(got["kernel_change"],
                               np.linalg.norm(KT - K0) / np.linalg.norm(K0), rtol=1e-8)
    flat = lambda q: np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(q)])  # noqa
    np.testing.assert_allclose(got["param_change"], np.linalg.norm(flat(p) - flat(p0))
                               / np.linalg.norm(flat(p0)), rtol=1e-8)
    np.testing.assert_allclose(got["loss"][0], 0.5 * np.sum(np.asarray(res(p0)) ** 2),
                               rtol=1e-10)
    assert got["kernel_change"] > 0 and got["loss"][1] < got["loss"][0]
