"""PDE problems: exact solutions against their constraints (finite differences), seeded
sampling, the box sampler."""

import jax
import numpy as np
import pytest

from ntk_pinn import problems


def _fd_derivative(u, orders, d, h):
    deriv = u
    for axis, k in enumerate(orders):
        for _ in range(k):
            deriv = (lambda f, axis: lambda z: (f(z + h * np.eye(d)[axis])
                                                 - f(z - h * np.eye(d)[axis])) / (2 * h))(
                deriv, axis)
    return deriv


def _fd_apply(op, problem, x, h=1e-4):
    """Apply an operator to the problem's exact solution (every field of a system) by
    central finite differences (2nd order): term by term if linear, else through its sympy
    expression."""
    d = x.shape[1]

    def field(f):
        return lambda z: problem.exact_fields(z)[:, f]

    if not op.is_linear:
        derivs = [_fd_derivative(field(f), o, d, h)(x) for f, o in op.derivatives]
        out = np.asarray(op.evaluate(x, derivs))
        return out, max(float(np.max(np.abs(v))) for v in derivs)
    out, size = np.zeros(len(x)), 0.0
    for coef, (f, orders) in zip(op.coefficients(jax.numpy.asarray(x)), op.derivatives):
        value = np.asarray(coef) * _fd_derivative(field(f), orders, d, h)(x)
        out, size = out + value, max(size, float(np.max(np.abs(value))))
    return out, size


@pytest.mark.parametrize("name", sorted(problems.PROBLEMS))
def test_exact_solutions_satisfy_every_constraint(name):
    # Central differences with h = 1e-4: truncation ~h^2 |D^4 u| / 12 (<= 2e-4 for the
    # wave's 8π mode) plus round-off ~1e-16 / h^2; relative to the operator's largest
    # term (~316 for the wave) that is ~1e-6. Bound 1e-5.
    problem = problems.get(name)
    for cname, (op, x, target) in problem.data(40, 12, seed=1).items():
        got, size = _fd_apply(op, problem, x)
        scale = max(np.max(np.abs(target)), size, 1.0)
        assert np.max(np.abs(got - target)) / scale < 1e-5, (name, cname)
        lo = np.array([a for a, _ in problem.domain])
        hi = np.array([b for _, b in problem.domain])
        assert np.all((x >= lo) & (x <= hi))


def test_problem_sampling_is_seeded_and_checked():
    p = problems.poisson_2d()
    a, b = p.data(10, 8, seed=3), p.data(10, 8, seed=3)
    assert all(np.array_equal(a[k][1], b[k][1]) for k in a)
    with pytest.raises(ValueError, match="n_residual must be a positive integer"):
        p.blocks(0, 4)
    with pytest.raises(ValueError, match="unknown problem 'poison'"):
        problems.get("poison")


def test_box_points():
    x, xb = problems.box_points(1, 4)
    np.testing.assert_allclose(x[:, 0], [0.2, 0.4, 0.6, 0.8])
    np.testing.assert_array_equal(xb, [[0.0], [1.0]])
    x, xb = problems.box_points(3, 40, low=-1.0, high=2.0, seed=5)
    assert x.shape == (40, 3) and xb.shape == (10, 3)
    assert np.all((x >= -1) & (x <= 2)) and np.all((xb >= -1) & (xb <= 2))
    on_face = np.isclose(xb, -1.0) | np.isclose(xb, 2.0)
    assert np.all(on_face.any(axis=1))        # every boundary point lies on a face
    again = problems.box_points(3, 40, low=-1.0, high=2.0, seed=5)
    np.testing.assert_array_equal(again[1], xb)
    with pytest.raises(ValueError, match="low < high"):
        problems.box_points(2, 8, low=1.0, high=1.0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        problems.box_points(2, 0)


def test_convection_at_large_beta_and_linspace_collocation():
    # beta = 30: the residual's terms reach 30; central differences as above.
    problem = problems.convection_1d(30.0)
    for cname, (op, x, target) in problem.data(40, 12, seed=2).items():
        got, size = _fd_apply(op, problem, x)
        assert np.max(np.abs(got - target)) / max(size, 1.0) < 1e-5, cname
    x = problems.poisson_1d(4.0, collocation="linspace").data(100, 100)["r"][1]
    assert np.array_equal(x[:, 0], np.linspace(0.0, 1.0, 100))
    with pytest.raises(ValueError, match="collocation must be one of"):
        problems.poisson_1d(collocation="grid")
