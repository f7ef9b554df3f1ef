"""Memory checks before dense allocations, and the posterior's std without the test
covariance."""

import jax
import numpy as np
import pytest

import ntk_pinn
import theory
from conftest import rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, problems


def test_limit_follows_available_memory_and_overrides(monkeypatch):
    monkeypatch.delenv("NTK_PINN_MEMORY_LIMIT", raising=False)
    available = ntk_pinn.available_memory()
    assert 0 < ntk_pinn.memory_limit() <= available
    assert ntk_pinn.memory_limit(12345) == 12345
    monkeypatch.setenv("NTK_PINN_MEMORY_LIMIT", "1.5G")
    assert ntk_pinn.memory_limit() == int(1.5 * 2 ** 30)
    monkeypatch.setenv("NTK_PINN_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="is not a size"):
        ntk_pinn.memory_limit()
    with pytest.raises(ValueError, match="positive number of bytes"):
        ntk_pinn.memory_limit(-1)


def test_ten_million_points_are_refused_at_once_with_the_numbers():
    # Was: ~20 s building 2e8 tiles, then a MemoryError with an empty message.
    net = mlp(8, 2)
    x = np.zeros((10 ** 7, 1))
    with pytest.raises(ValueError) as err:   # refused in plan_kernel, before any tile
        theory.plan_kernel(net, {"r": (Operator("u_xx", "x"), x)})
    message = str(err.value)
    assert "(10000000, 10000000)" in message and "728 TiB" in message
    assert "available" in message and "fewer points" in message
    assert "limiting_kernel_diagonal" in message and "NTK_PINN_MEMORY_LIMIT" in message


def test_the_tile_estimate_follows_the_tile_actually_used():
    # Was: a 14-node tanh K* of 512 points was refused (24.5 GiB "needed") because the
    # estimate assumed a 512 x 512 tile, while mixture kernels use 2**18 / nodes**2
    # entries per tile (at least 2**12); the plan now estimates the tile it computes.
    net = mlp(8, 2, "tanh", quadrature_degree=14)
    x = np.zeros((512, 1))
    plan = theory.plan_kernel(net, {"r": (Operator("u_xx", "x"), x)},
                              memory_limit=2 * 2 ** 30)
    tile = plan.pairs[0].b1 * plan.pairs[0].b2
    assert tile <= max(2 ** 12, 2 ** 18 // 14 ** 2) < 512 ** 2
    # An explicit batch_size is what the estimate then uses.
    with pytest.raises(ValueError, match=r"\(262144, 12544\)"):
        theory.plan_kernel(net, {"r": (Operator("u_xx", "x"), x)}, batch_size=512,
                           memory_limit=2 * 2 ** 30)


def test_empirical_kernel_and_posterior_are_checked_too():
    net = mlp(64, 2)
    x = np.linspace(0, 1, 50)[:, None]
    params = net.init(jax.random.PRNGKey(0), 1)
    blocks = {"r": (Operator("u_xx", "x"), x)}
    with pytest.raises(ValueError, match=r"empirical_kernel \(fast\).*\(50, 50\)"):
        empirical_kernel(net, params, blocks, memory_limit=10_000)
    with pytest.raises(ValueError, match="per-point parameter gradients"):
        empirical_kernel(net, params, blocks, method="generic", memory_limit=50_000)
    obs = list(problems.poisson_1d(1.0).data(8, 2).values())
    xt = np.linspace(0, 1, 2000)[:, None]
    with pytest.raises(ValueError, match=r"full_cov=False \(std only\)"):
        theory.gp_posterior(net, obs, xt, full_cov=True, memory_limit=20 * 2 ** 20)
    # Without the full covariance the same call fits in that limit.
    post = theory.gp_posterior(net, obs, xt, memory_limit=20 * 2 ** 20)
    assert post.cov is None and post.std.shape == (2000,)


def test_std_by_row_blocks_equals_the_full_covariance(rng):
    # Two computations of one diagonal: row blocks of 5 test points (diag K** minus row
    # sums) vs the dense covariance of all 37. Tile shapes differ, so the cross kernels
    # differ by round-off, amplified in the mean by |K^-1 y| of this ill-conditioned heat
    # kernel: measured 6e-8 (nngp), 4e-15 (ntk); bound 1e-6. The std agrees within the
    # posterior's own stated resolution (measured 2.7e-9 absolute vs 6.6e-8).
    problem = problems.heat_1d()
    obs = list(problem.data(24, 8, seed=1).values())
    xt = rng.uniform(0, 1, (37, 2))
    net = mlp(8, 2)
    for kind, t in (("nngp", None), ("ntk", None), ("ntk", 0.3)):
        blocked = theory.gp_posterior(net, obs, xt, kind=kind, t=t, batch_size=5)
        dense = theory.gp_posterior(net, obs, xt, kind=kind, t=t, full_cov=True)
        assert rel_err(blocked.mean, dense.mean) < 1e-6
        diag = np.sqrt(np.clip(np.diag(dense.cov), 0, None))
        assert np.max(np.abs(blocked.std - diag)) <= blocked.resolution
        assert np.array_equal(dense.std, theory.gp_posterior(net, obs, xt, kind=kind,
                                                             t=t).std)


def test_limiting_kernel_diagonal_equals_the_block_diagonal(rng):
    x = rng.uniform(-1, 1, (23, 2))
    for activation in ("erf", "tanh"):
        net = mlp(8, 2, activation)
        op = Operator("u_xx + x*u_yy - u", "x y")
        diag = theory.limiting_kernel_diagonal(net, op, x, batch_size=7)
        full = theory.limiting_kernel(net, {"a": (op, x)}).matrix
        assert rel_err(diag, np.diag(full)) < 1e-12
