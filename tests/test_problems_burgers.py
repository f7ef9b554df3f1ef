"""Burgers' exact solution (Cole–Hopf by Gauss–Hermite) against an independent
trapezoid rule, its PDE residual by finite differences, the initial and boundary values."""

import numpy as np
import pytest

from ntk_pinn import problems

NU = 0.01 / np.pi


def _trapezoid(t, x, m=20001):
    """The Cole–Hopf integral on a uniform grid wide enough that the Gaussian times
    ``f`` has fallen by e^-40 at its ends."""
    L = np.sqrt(4 * NU * t * (1 / (np.pi * NU) + 40))
    eta = np.linspace(-L, L, m)
    y = x - eta
    e = -eta ** 2 / (4 * NU * t) - np.cos(np.pi * y) / (2 * np.pi * NU)
    e = np.exp(e - e.max())
    return -np.sum(np.sin(np.pi * y) * e) / np.sum(e)


POINTS = [(0.75, 0.01), (1.0, 0.005), (1.0, 0.03), (0.4, 1e-4), (0.5, 0.3), (0.01, -0.5)]


@pytest.mark.parametrize("t,x", POINTS)
def test_burgers_exact_matches_a_trapezoid_rule(t, x):
    got = problems.burgers_1d().exact(np.array([[t, x]]))[0]
    assert abs(got - _trapezoid(t, x)) < 1e-12


@pytest.mark.parametrize("t,x", [(0.2, 0.5), (0.5, -0.6), (0.9, 0.3), (0.3, 0.05)])
def test_burgers_exact_solves_the_pde(t, x):
    u = lambda t, x: problems.burgers_1d().exact(np.array([[t, x]]))[0]  # noqa: E731
    h = 1e-4
    ut = (u(t + h, x) - u(t - h, x)) / (2 * h)
    ux = (u(t, x + h) - u(t, x - h)) / (2 * h)
    uxx = (u(t, x + h) - 2 * u(t, x) + u(t, x - h)) / h ** 2
    residual = ut + u(t, x) * ux - NU * uxx
    assert abs(residual) < 1e-5 * (abs(ut) + abs(u(t, x) * ux))


def test_burgers_initial_boundary_values_and_refusals():
    p = problems.burgers_1d()
    x = np.linspace(-1, 1, 7)
    assert np.allclose(p.exact(np.stack([0 * x, x], 1)), -np.sin(np.pi * x), atol=1e-15)
    t = np.linspace(0.1, 1, 5)
    for side in (-1.0, 1.0):
        assert np.max(np.abs(p.exact(np.stack([t, side + 0 * t], 1)))) < 1e-12
    assert not p.is_linear and p.linear().is_linear
    with pytest.raises(ValueError, match="no exact solution"):
        p.linear().exact(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="nu must be a positive number"):
        problems.burgers_1d(0.0)
