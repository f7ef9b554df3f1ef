"""Periodic constraints: the function action, the empirical NTK (fast and generic) against
per-point autodiff, refusals, and a periodic convection problem trained by LM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ntk_pinn
from ntk_pinn import Operator, Periodic, empirical_kernel, empirical_traces, problems
import theory


def _brute(net, params, blocks):
    """The NTK from per-point parameter gradients of ``B[u](x)`` written out by hand."""
    flat, unravel = ravel_pytree(params)

    def u(th, x):
        return net.apply_fn(unravel(th), x[None])[0, 0]

    rows = []
    for op, x in blocks:
        for xp in jnp.asarray(x):
            if isinstance(op, Periodic):
                g = (jax.grad(u)(flat, xp)
                     - jax.grad(u)(flat, xp + jnp.asarray(op.shift)))
            else:
                g = jax.grad(lambda th: op(lambda y: u(th, y))(xp))(flat)
            rows.append(g)
    J = jnp.stack(rows)
    return np.asarray(J @ J.T)


@pytest.mark.parametrize("method", ["fast", "generic"])
def test_periodic_kernel_matches_per_point_gradients(method):
    net = ntk_pinn.mlp(8, 2, "tanh")
    params = net.init(jax.random.PRNGKey(0), 2)
    data = problems.convection_1d(5.0, boundary="periodic").data(6, 4, seed=1)
    blocks = [(op, x) for op, x, _ in data.values()]
    got = empirical_kernel(net, params, blocks, method=method).matrix
    want = _brute(net, params, blocks)
    assert np.max(np.abs(got - want)) < 1e-10 * np.max(np.abs(want))
    traces = empirical_traces(net, params, dict(zip(data, blocks)))
    assert abs(traces["bc"] - np.trace(got[4:8, 4:8])) < 1e-10 * traces["bc"]


def test_periodic_function_action_and_refusals():
    op = Periodic(Operator("u", "t x"), (0.0, 2 * np.pi))
    f = lambda z: jnp.sin(z[1]) + z[0] ** 2 + jnp.cos(3 * z[1])  # noqa: E731
    assert abs(op(f)(jnp.array([0.4, 0.0]))) < 1e-12           # 2π-periodic in x
    g = lambda z: z[1] + z[0]                                   # noqa: E731
    assert abs(op(g)(jnp.array([0.4, 1.0])) + 2 * np.pi) < 1e-12
    with pytest.raises(ValueError, match="shift must be 2 finite numbers"):
        Periodic(Operator("u", "t x"), (1.0,))
    with pytest.raises(ValueError, match="not all 0"):
        Periodic(Operator("u", "t x"), (0.0, 0.0))
    net = ntk_pinn.mlp(8, 1, "erf")
    with pytest.raises(ValueError, match="limiting kernel takes pointwise operators"):
        theory.limiting_kernel(net, [(op, np.zeros((2, 2)))])
    with pytest.raises(ValueError, match="boundary must be"):
        problems.convection_1d(1.0, boundary="neumann")


def test_lm_solves_periodic_convection():
    """LM on the periodic problem (no boundary values given) reaches the exact solution,
    and its boundary rows hold periodicity: an independent check of the whole path."""
    problem = problems.convection_1d(1.0, boundary="periodic")
    net = ntk_pinn.mlp(16, 2, "tanh")
    run = ntk_pinn.train(net, problem, optimizer="lm", steps=150, seed=0,
                         points=ntk_pinn.Points(n_residual=200, n_boundary=40),
                         record=ntk_pinn.Record(every=150, grid=41), progress=False)
    assert run.error < 2e-2
    t = np.linspace(0, 1, 11)
    left = net.apply_fn(run.params, np.stack([t, 0 * t], 1))[:, 0]
    right = net.apply_fn(run.params, np.stack([t, 0 * t + 2 * np.pi], 1))[:, 0]
    assert np.max(np.abs(left - right)) < 2e-2
