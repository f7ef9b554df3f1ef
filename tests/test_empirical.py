"""Fast empirical PINN NTK.

References: the generic per-point-Jacobian path (``method="generic"``) and
neural-tangents' ``empirical_ntk_fn`` (implementation 2).
"""

import jax
from ntk_pinn.nt import neural_tangents as nt
import numpy as np
import pytest

from conftest import rel_err
from ntk_pinn import Operator, empirical_kernel, mlp, residual_fn

OPERATORS = {
    1: ["u", "u_x", "u_xx", "u_xx + u**3", "u*u_x - 0.1*u_xx", "(1 + x**2)*u_xx - 2*x*u_x"],
    2: ["u", "u_xx + u_yy", "u_x - 2*x*u_yy + sin(y)*u", "u_xy", "u_xx + u_yy + u**3"],
}


@pytest.mark.parametrize("activation", ["erf", "tanh", "sin", "gelu"])
@pytest.mark.parametrize("d", [1, 2])
def test_fast_path_equals_generic_path(activation, d, rng):
    # Two exact computations of the same Gram matrix: round-off only (measured ~1e-15);
    # bound 1e-10 relative to the largest entry. Includes nonlinear operators.
    variables = "x" if d == 1 else "x y"
    net = mlp(48, 2, activation, W_std=1.3, b_std=0.6)
    params = net.init(jax.random.PRNGKey(3), d)
    blocks = {op: (Operator(op, variables), rng.uniform(-1, 1, (5, d))) for op in OPERATORS[d]}
    fast = empirical_kernel(net, params, blocks)
    generic = empirical_kernel(net, params, blocks, method="generic")
    assert rel_err(fast.matrix, generic.matrix) < 1e-10


def test_fast_path_equals_neural_tangents_empirical_ntk(rng):
    # Independent implementation: nt.empirical_ntk_fn (implementation 2) on the residual.
    net = mlp(64, 3, "erf")
    op = Operator("u_xx - x*u_x", "x")
    x = rng.uniform(-1, 1, (9, 1))
    params = net.init(jax.random.PRNGKey(0), 1)
    r = residual_fn(net, op)
    fn = nt.empirical_ntk_fn(lambda p, xs: jax.vmap(r, (None, 0))(p, xs)[:, None],
                             trace_axes=(), vmap_axes=0, implementation=2)
    want = np.asarray(fn(x, None, params)).reshape(9, 9)
    assert rel_err(empirical_kernel(net, params, [(op, x)]).matrix, want) < 1e-10


def test_cross_kernel_and_bad_method(rng):
    net = mlp(16, 1)
    params = net.init(jax.random.PRNGKey(0), 1)
    op = Operator("u_xx", "x")
    x1, x2 = rng.uniform(size=(4, 1)), rng.uniform(size=(3, 1))
    full = empirical_kernel(net, params, [(op, np.concatenate([x1, x2]))]).matrix
    cross = empirical_kernel(net, params, [(op, x1)], [(op, x2)]).matrix
    assert rel_err(cross, full[:4, 4:]) < 1e-12
    with pytest.raises(ValueError, match="method must be one of"):
        empirical_kernel(net, params, [(op, x1)], method="fastest")
