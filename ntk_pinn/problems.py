"""Linear PDE problems with exact solutions: operators, sources, constraints, samplers.

A :class:`Problem` is a residual constraint ``L[u] = f`` on the interior (several for a
system of PDEs) plus constraints on the boundary (boundary values, initial conditions),
each an ``Operator`` with its target values and a point sampler. ``problem.blocks(...)``
gives the ``{name: (operator, points)}`` mapping that ``theory.limiting_kernel`` /
``ntk_pinn.empirical_kernel`` take, and ``problem.data(...)`` adds the target values.

Problems (Wang, Yu & Perdikaris' settings where they have one):
``poisson_1d(a)``: ``u_xx = f`` on [0, 1], ``u = sin(a π x)``, Dirichlet at 0 and 1;
``poisson_2d()``: ``u_xx + u_yy = f`` on the unit square, ``u = sin(πx) sin(πy)``;
``heat_1d(nu)``: ``u_t - nu u_xx = 0``, ``u = exp(-nu π² t) sin(πx)``;
``wave_1d()``: ``u_tt - 4 u_xx = 0``, ``u = sin(πx) cos(2πt) + ½ sin(4πx) cos(8πt)``;
``convection_1d(beta, boundary)``: ``u_t + β u_x = 0``, ``u = sin(x - βt)`` (Bonfanti et
al.), exact Dirichlet values at x = 0, 2π or ``u(t, 0) = u(t, 2π)``;
``nonlinear_poisson_1d(a, c=-1)``: ``u_xx + c u³ = f`` on [0, 1], ``u = sin(aπx)`` (a
manufactured solution); ``c = 0`` is its linear counterpart on the same points
(``problem.linear()``), which the nonlinear study compares it with;
``burgers_1d(nu)``: ``u_t + u u_x - ν u_xx = 0``, ``u(0, x) = -sin(πx)``, exact by
Cole–Hopf quadrature (nonlinear).

Systems (several fields, one network output each: ``mlp(..., outputs=len(fields))``):
``stokes_2d()``: ``-Δu + p_x = f₁``, ``-Δv + p_y = f₂``, ``u_x + v_y = 0`` on the unit
square, velocity on the boundary, pressure fixed at one point;
``elasticity_2d(lam, mu)``: plane-strain linear elasticity (Navier–Cauchy) for the
displacement ``(u, v)`` with Lamé parameters ``lam``, ``mu``, displacement on the boundary.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ._operator import Operator
from ._periodic import Periodic

__all__ = ["Constraint", "Problem", "poisson_1d", "poisson_2d", "heat_1d", "wave_1d",
           "nonlinear_poisson_1d", "burgers_1d", "convection_1d", "stokes_2d", "elasticity_2d",
           "PROBLEMS", "box_points", "get"]


@dataclasses.dataclass(frozen=True)
class Constraint:
    """``operator[u](x) = target(x)`` for ``x`` drawn by ``sampler(rng, n) -> (n, d)``;
    ``size``: a fixed number of points (e.g. 1 for a pressure fixed at one point) instead
    of the ``n_boundary`` / ``n_residual`` a problem is asked for."""

    name: str
    operator: "Operator | Periodic"
    target: Callable[[np.ndarray], np.ndarray]
    sampler: Callable[[np.random.Generator, int], np.ndarray]
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    """``residual``: the interior constraint ``L[u] = f``, or a tuple of them for a system
    (:attr:`residuals`); ``exact``: ``(n, d) -> (n,)``, or ``(n, F)`` for the ``F``
    :attr:`fields` of a system (in the network's output order)."""

    name: str
    variables: tuple[str, ...]
    residual: Constraint | tuple[Constraint, ...]
    constraints: tuple[Constraint, ...]
    exact: Callable[[np.ndarray], np.ndarray]
    domain: tuple[tuple[float, float], ...]
    # () -> the same problem with its nonlinear terms dropped (same samplers, so the same
    # points for the same seed); None when the problem is linear or has no counterpart.
    linear_counterpart: Callable[[], "Problem"] | None = None
    # Settings that solve this problem with the infinite-width posterior (measured; see
    # each constructor): n_residual, n_boundary (per constraint), depth, W_std.
    defaults: dict = dataclasses.field(default_factory=lambda: dict(_DEFAULTS))

    @property
    def residuals(self) -> tuple[Constraint, ...]:
        """The interior constraints (one for a scalar PDE)."""
        return self.residual if isinstance(self.residual, tuple) else (self.residual,)

    @property
    def fields(self) -> tuple[str, ...]:
        """The unknown fields (``("u",)`` for a scalar PDE): one network output each."""
        return self.residuals[0].operator.fields

    @property
    def is_system(self) -> bool:
        return len(self.fields) > 1

    @property
    def is_linear(self) -> bool:
        return all(c.operator.is_linear for c in self.all_constraints)

    def linear(self) -> "Problem":
        """The linear counterpart (itself when already linear)."""
        if self.is_linear:
            return self
        if self.linear_counterpart is None:
            raise ValueError(f"problem {self.name!r} is nonlinear and has no linear "
                             "counterpart; pass the linear problem explicitly.")
        return self.linear_counterpart()

    @property
    def all_constraints(self) -> tuple[Constraint, ...]:
        """All constraints, boundary/initial ones first, residual(s) last (the blocks of
        :meth:`data`, in order)."""
        return self.constraints + self.residuals

    def _sizes(self, n_residual: int, n_boundary: int) -> dict:
        for label, n in (("n_residual", n_residual), ("n_boundary", n_boundary)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{label} must be a positive integer, got {n!r}.")
        sizes = {c.name: n_boundary for c in self.constraints} | {
            c.name: n_residual for c in self.residuals}
        return sizes | {c.name: c.size for c in self.all_constraints if c.size is not None}

    def exact_fields(self, x) -> np.ndarray:
        """``(n, F)``: the exact solution's fields at ``x: (n, d)`` (``F = 1`` for a
        scalar PDE)."""
        values = np.asarray(self.exact(np.asarray(x, dtype=np.float64)), dtype=np.float64)
        return values.reshape(len(values), -1)

    def blocks(self, n_residual: int, n_boundary: int, seed: int = 0) -> dict:
        """``{name: (operator, points)}``; the same ``seed`` gives the same points."""
        return {k: (op, x) for k, (op, x, _) in self.data(n_residual, n_boundary, seed).items()}

    def data(self, n_residual: int, n_boundary: int, seed: int = 0) -> dict:
        """``{name: (operator, points (n, d), target values (n,))}``: ``n_boundary`` points
        per boundary/initial constraint, ``n_residual`` per residual (a constraint of fixed
        :attr:`Constraint.size` keeps its size); :meth:`draw` with those sizes."""
        return self.draw(self._sizes(n_residual, n_boundary), seed)

    def draw(self, sizes: dict, seed=0) -> dict:
        """``{name: (operator, points (n, d), target values (n,))}`` with ``sizes[name]``
        points per constraint (a constraint of fixed ``size`` keeps it), drawn from the
        samplers in :attr:`all_constraints` order by ``numpy.random.default_rng(seed)``; ``seed``:
        anything ``default_rng`` takes, e.g. ``(point_seed, step)`` for a training
        step's fresh batch."""
        rng = np.random.default_rng(seed)
        out = {}
        for c in self.all_constraints:
            x = np.asarray(c.sampler(rng, c.size or sizes[c.name]), dtype=np.float64)
            out[c.name] = (c.operator, x, np.asarray(c.target(x), dtype=np.float64))
        return out

    def grid(self, n: int) -> np.ndarray:
        """A tensor grid of ``n`` points per axis over the domain: ``(n**d, d)``."""
        axes = [np.linspace(lo, hi, n) for lo, hi in self.domain]
        return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)


def box_points(d: int, n: int, n_boundary: int | None = None, low: float = 0.0,
               high: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Collocation points ``(n, d)`` and boundary points ``(n_boundary, d)`` in the box
    ``[low, high]^d``.

    1-D: ``n`` equispaced interior points and the two end points (``n_boundary`` defaults
    to 2; another count draws end points at random). d >= 2: ``n`` uniform random interior
    points and ``n_boundary`` (default ``max(1, n // 4)``) uniform random points on the
    faces. The same ``seed`` gives the same points.

    Args:
      d: the dimension.
      n: interior points.
      n_boundary: boundary points.
      low: the lower end of the box.
      high: the upper end of the box.
      seed: the seed.
    """
    for label, value in (("d", d), ("n", n)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    if not low < high:
        raise ValueError(f"the box needs low < high, got low={low!r}, high={high!r}.")
    rng = np.random.default_rng(seed)
    if d == 1:
        x = np.linspace(low, high, n + 2)[1:-1, None]
        nb = 2 if n_boundary is None else n_boundary
        xb = np.array([[low], [high]]) if nb == 2 else rng.choice([low, high], (nb, 1))
        return x, xb
    x = rng.uniform(low, high, (n, d))
    nb = max(1, n // 4) if n_boundary is None else n_boundary
    xb = rng.uniform(low, high, (nb, d))
    face = rng.integers(0, d, nb)
    xb[np.arange(nb), face] = rng.choice([low, high], nb)
    return x, xb


# 1-D Poisson with sin(4πx): 32 + 2 points solve it to 2e-5 (depth-2 erf, rkhs band
# covering every grid point); the other problems set their own.
_DEFAULTS = {"n_residual": 32, "n_boundary": 2, "depth": 2, "W_std": 1.0}


def _uniform(domain):
    lo = np.array([a for a, _ in domain])
    hi = np.array([b for _, b in domain])
    return lambda rng, n: lo + (hi - lo) * rng.uniform(size=(n, len(domain)))


def _line(fixed_axis: int, values, domain):
    """Points with coordinate ``fixed_axis`` cycling through ``values``, others uniform."""
    free = _uniform(domain)

    def sample(rng, n):
        x = free(rng, n)
        x[:, fixed_axis] = np.resize(np.asarray(values, dtype=float), n)
        return x

    return sample


def _square_boundary(rng, n):
    """``n`` points on the boundary of the unit square, the sides in turn."""
    t = rng.uniform(size=n)
    side = np.arange(n) % 4
    x = np.where(side == 0, 0.0, np.where(side == 1, 1.0, t))
    y = np.where(side == 2, 0.0, np.where(side == 3, 1.0, t))
    return np.stack([x, y], axis=1)


COLLOCATIONS = ("uniform", "linspace")


def poisson_1d(a: float = 4.0, collocation: str = "uniform") -> Problem:
    """``u_xx = -(aπ)² sin(aπx)`` on [0, 1], ``u(0) = u(1) = 0``; ``a = 4`` as in Wang et al.

    ``collocation``: residual points drawn uniformly at random, or ``"linspace"``: ``n``
    equispaced points on [0, 1], ends included (Wang et al.'s Poisson notebook).

    Args:
      a: the frequency of the solution.
      collocation: ``"uniform"`` or ``"linspace"``.
    """
    if collocation not in COLLOCATIONS:
        raise ValueError(f"collocation must be one of {COLLOCATIONS}, got {collocation!r}.")
    k = a * np.pi
    exact = lambda x: np.sin(k * x[:, 0])  # noqa: E731
    dom = ((0.0, 1.0),)
    sampler = _uniform(dom) if collocation == "uniform" else (
        lambda rng, n: np.linspace(0.0, 1.0, n)[:, None])
    return Problem(
        name=f"poisson_1d(a={a:g})" + ("" if collocation == "uniform" else ", linspace"),
        variables=("x",),
        residual=Constraint("r", Operator("u_xx", "x"), lambda x: -k * k * exact(x),
                            sampler),
        constraints=(Constraint("u", Operator("u", "x"), exact,
                                lambda rng, n: np.resize([0.0, 1.0], n)[:, None]),),
        exact=exact, domain=dom)


def poisson_2d() -> Problem:
    """``u_xx + u_yy = -2π² u`` on the unit square, ``u = sin(πx) sin(πy)``, zero on the
    boundary."""
    exact = lambda x: np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])  # noqa: E731
    dom = ((0.0, 1.0), (0.0, 1.0))

    return Problem(
        name="poisson_2d", variables=("x", "y"),
        residual=Constraint("r", Operator("u_xx + u_yy", "x y"),
                            lambda x: -2 * np.pi ** 2 * exact(x), _uniform(dom)),
        constraints=(Constraint("u", Operator("u", "x y"), exact, _square_boundary),),
        exact=exact, domain=dom,
        # 64 + 32 points: rel. L2 6.2e-5 on a 201 x 201 grid, band covers all of it.
        defaults=dict(_DEFAULTS, n_residual=64, n_boundary=32))


def heat_1d(nu: float = 0.1) -> Problem:
    """``u_t - nu u_xx = 0`` on (t, x) in [0, 1]², ``u = exp(-nu π² t) sin(πx)``: initial
    condition at t = 0 and zero boundary values at x = 0, 1.

    Args:
      nu: the diffusivity.
    """
    exact = lambda z: np.exp(-nu * np.pi ** 2 * z[:, 0]) * np.sin(np.pi * z[:, 1])  # noqa
    dom = ((0.0, 1.0), (0.0, 1.0))
    return Problem(
        name=f"heat_1d(nu={nu:g})", variables=("t", "x"),
        residual=Constraint("r", Operator(f"u_t - {nu!r}*u_xx", "t x"),
                            lambda z: np.zeros(len(z)), _uniform(dom)),
        constraints=(Constraint("ic", Operator("u", "t x"), exact, _line(0, [0.0], dom)),
                     Constraint("bc", Operator("u", "t x"), exact, _line(1, [0.0, 1.0], dom))),
        exact=exact, domain=dom,
        # 96 + 2 x 24 points: rel. L2 2.3e-6 on a 201 x 201 grid, band covers all of it.
        defaults=dict(_DEFAULTS, n_residual=96, n_boundary=24))


def wave_1d() -> Problem:
    """Wang et al.'s wave example: ``u_tt - 4 u_xx = 0`` on (t, x) in [0, 1]²,
    ``u = sin(πx) cos(2πt) + ½ sin(4πx) cos(8πt)``; ``u`` and ``u_t`` at t = 0, zero
    boundary values."""
    def exact(z):
        t, x = z[:, 0], z[:, 1]
        return np.sin(np.pi * x) * np.cos(2 * np.pi * t) + 0.5 * np.sin(4 * np.pi * x) * np.cos(
            8 * np.pi * t)

    dom = ((0.0, 1.0), (0.0, 1.0))
    at_t0 = _line(0, [0.0], dom)
    return Problem(
        name="wave_1d", variables=("t", "x"),
        residual=Constraint("r", Operator("u_tt - 4*u_xx", "t x"),
                            lambda z: np.zeros(len(z)), _uniform(dom)),
        constraints=(Constraint("ic", Operator("u", "t x"), exact, at_t0),
                     Constraint("ic_t", Operator("u_t", "t x"), lambda z: np.zeros(len(z)), at_t0),
                     Constraint("bc", Operator("u", "t x"), exact, _line(1, [0.0, 1.0], dom))),
        exact=exact, domain=dom,
        # The 8π-in-time mode needs a shorter length scale than the unit-variance prior:
        # depth 3, W_std 2.5, 3000 + 3 x 300 points (rel. L2 1.8e-3; W_std 1: 0.50).
        defaults=dict(_DEFAULTS, n_residual=3000, n_boundary=300, depth=3, W_std=2.5))


def nonlinear_poisson_1d(a: float = 1.0, c: float = -1.0) -> Problem:
    """``u_xx + c u³ = f`` on [0, 1] with ``u = sin(aπx)``, ``f = -(aπ)² u + c u³``, Dirichlet
    at 0 and 1. ``c = 0`` gives the linear ``u_xx = f`` on the same points.

    The default ``c = -1`` makes ``-u_xx + u³`` monotone, so the solution is unique; with
    ``c > 0`` the boundary-value problem has other solutions (LM and Adam do find one with
    ``c = 1``, relative error ~4.9 against ``sin(πx)``).

    Args:
      a: the frequency of the solution.
      c: the coefficient of the cubic term.
    """
    k = a * np.pi
    exact = lambda x: np.sin(k * x[:, 0])  # noqa: E731
    dom = ((0.0, 1.0),)
    op = Operator("u_xx" if c == 0 else f"u_xx + {float(c)!r}*u**3", "x")
    return Problem(
        name=f"nonlinear_poisson_1d(a={a:g}, c={c:g})", variables=("x",),
        residual=Constraint("r", op, lambda x: -k * k * exact(x) + c * exact(x) ** 3,
                            _uniform(dom)),
        constraints=(Constraint("u", Operator("u", "x"), exact,
                                lambda rng, n: np.resize([0.0, 1.0], n)[:, None]),),
        exact=exact, domain=dom,
        linear_counterpart=None if c == 0 else (lambda: nonlinear_poisson_1d(a, 0.0)))


def convection_1d(beta: float = 1.0, boundary: str = "dirichlet") -> Problem:
    """``u_t + β u_x = 0`` on (t, x) in [0, 1] x [0, 2π], ``u = sin(x - βt)`` with the
    initial value ``sin x`` at t = 0 (Krishnapriyan et al.'s convection problem, used by
    Bonfanti et al.). Large ``β`` is where PINNs fail.

    Args:
      beta: the transport speed β.
      boundary: ``"dirichlet"``: the exact values at x = 0 and 2π (pointwise, so the
        limiting kernel takes it); ``"periodic"``: ``u(t, 0) = u(t, 2π)``, the benchmark's
        own condition (a :class:`ntk_pinn.Periodic` constraint: training and the
        empirical NTK take it, the limiting kernel does not).
    """
    if not (isinstance(beta, (int, float)) and np.isfinite(beta)):
        raise ValueError(f"beta must be a finite number, got {beta!r}.")
    if boundary not in ("dirichlet", "periodic"):
        raise ValueError(f"boundary must be 'dirichlet' or 'periodic', got {boundary!r}.")
    exact = lambda z: np.sin(z[:, 1] - beta * z[:, 0])  # noqa: E731
    dom = ((0.0, 1.0), (0.0, 2 * np.pi))
    u = Operator("u", "t x")
    bc = (Constraint("bc", u, exact, _line(1, [0.0, 2 * np.pi], dom))
          if boundary == "dirichlet" else
          Constraint("bc", Periodic(u, (0.0, 2 * np.pi)), lambda z: np.zeros(len(z)),
                     _line(1, [0.0], dom)))
    suffix = "" if boundary == "dirichlet" else ", periodic"
    return Problem(
        name=f"convection_1d(beta={beta:g}{suffix})", variables=("t", "x"),
        residual=Constraint("r", Operator(f"u_t + {float(beta)!r}*u_x", "t x"),
                            lambda z: np.zeros(len(z)), _uniform(dom)),
        constraints=(Constraint("ic", u, exact, _line(0, [0.0], dom)), bc),
        exact=exact, domain=dom,
        # beta = 1, 256 + 2 x 64 points, depth-2 erf: NNGP posterior rel. L2 7.3e-6 on a
        # 201 x 201 grid, 100 % of it within 3 sigma (rkhs band).
        defaults=dict(_DEFAULTS, n_residual=256, n_boundary=64))


def _burgers_exact(nu: float, nodes: int = 100):
    """``(n, 2) -> (n,)``: the Cole–Hopf solution of ``u_t + u u_x = ν u_xx``,
    ``u(0, x) = -sin(πx)``, ``u(t, ±1) = 0`` (Basdevant et al. 1986):

        u = -∫ sin(π(x-η)) f(x-η) e^(-η²/4νt) dη / ∫ f(x-η) e^(-η²/4νt) dη,
        f(y) = exp(-cos(πy) / (2πν)),

    by Gauss–Hermite quadrature in ``η = 2 sqrt(νt) z``, the exponents shifted by their
    maximum (``f`` spans e^(±1/(2πν)), e^(±50) at ν = 0.01/π). 100 nodes agree with 150
    and 180 and with a wide trapezoid rule to ~1e-15 (tests/test_problems_burgers.py)."""
    z, w = np.polynomial.hermite.hermgauss(nodes)
    log_w = np.log(w)

    def exact(points):
        t, x = points[:, 0:1], points[:, 1:2]
        y = x - 2.0 * np.sqrt(nu * np.maximum(t, 0.0)) * z[None, :]
        e = log_w[None, :] - np.cos(np.pi * y) / (2 * np.pi * nu)
        e = np.exp(e - e.max(axis=1, keepdims=True))
        u = -np.sum(np.sin(np.pi * y) * e, axis=1) / np.sum(e, axis=1)
        return np.where(t[:, 0] > 0, u, -np.sin(np.pi * x[:, 0]))

    return exact


def burgers_1d(nu: float = 0.01 / np.pi) -> Problem:
    """Burgers' equation ``u_t + u u_x - ν u_xx = 0`` on (t, x) in [0, 1] x [-1, 1],
    ``u(0, x) = -sin(πx)``, ``u(t, ±1) = 0`` (Raissi et al.'s benchmark, used by Bonfanti
    et al.); the exact solution by Cole–Hopf quadrature. Nonlinear: training and the
    empirical NTK take it; its linear counterpart is the heat equation ``u_t - ν u_xx``
    on the same points.

    Args:
      nu: the viscosity ν (default 0.01/π: a steep front at x = 0 forms by t ≈ 0.4).
    """
    if not (isinstance(nu, (int, float)) and nu > 0 and np.isfinite(nu)):
        raise ValueError(f"nu must be a positive number, got {nu!r}.")
    exact = _burgers_exact(float(nu))
    dom = ((0.0, 1.0), (-1.0, 1.0))

    def make(nonlinear: bool) -> Problem:
        text = (f"u_t + u*u_x - {float(nu)!r}*u_xx" if nonlinear
                else f"u_t - {float(nu)!r}*u_xx")
        return Problem(
            name=f"burgers_1d(nu={nu:.4g})" if nonlinear else f"heat_1d(nu={nu:.4g}) "
                 "(Burgers' linear part)", variables=("t", "x"),
            residual=Constraint("r", Operator(text, "t x"), lambda z: np.zeros(len(z)),
                                _uniform(dom)),
            constraints=(Constraint("ic", Operator("u", "t x"), exact, _line(0, [0.0], dom)),
                         Constraint("bc", Operator("u", "t x"), lambda z: np.zeros(len(z)),
                                    _line(1, [-1.0, 1.0], dom))),
            exact=exact if nonlinear else _no_exact("the heat part of Burgers' equation"),
            domain=dom, linear_counterpart=(lambda: make(False)) if nonlinear else None)

    return make(True)


def _no_exact(what: str):
    def exact(points):
        raise ValueError(f"{what} has no exact solution here; it is the linear counterpart "
                         "for kernel studies (same points), not a problem to solve.")
    return exact


def _field(exact, i: int):
    return lambda x: exact(x)[:, i]


def stokes_2d() -> Problem:
    """Stokes flow on the unit square, fields ``(u, v, p)``:
    ``-Δu + p_x = f₁``, ``-Δv + p_y = f₂``, ``u_x + v_y = 0``, with the exact solution
    ``u = sin(πx) cos(πy)``, ``v = -cos(πx) sin(πy)`` (divergence-free), ``p = cos(πx)
    cos(πy)``: ``f₁ = (2π² - π) sin(πx) cos(πy)``, ``f₂ = -(2π² + π) cos(πx) sin(πy)``.
    Velocity on the boundary (``"u_bc"``, ``"v_bc"``); the pressure, fixed by the equations
    only up to a constant, is fixed at the corner (0, 0) (``"p_pin"``, one point)."""
    pi = np.pi

    def exact(z):
        x, y = z[:, 0], z[:, 1]
        return np.stack([np.sin(pi * x) * np.cos(pi * y), -np.cos(pi * x) * np.sin(pi * y),
                         np.cos(pi * x) * np.cos(pi * y)], axis=1)

    dom = ((0.0, 1.0), (0.0, 1.0))
    fields = "u v p"

    def op(text):
        return Operator(text, "x y", fields=fields)

    zero = lambda z: np.zeros(len(z))  # noqa: E731
    return Problem(
        name="stokes_2d", variables=("x", "y"),
        residual=(
            Constraint("mx", op("-u_xx - u_yy + p_x"), lambda z: (2 * pi ** 2 - pi) * np.sin(
                pi * z[:, 0]) * np.cos(pi * z[:, 1]), _uniform(dom)),
            Constraint("my", op("-v_xx - v_yy + p_y"), lambda z: -(2 * pi ** 2 + pi) * np.cos(
                pi * z[:, 0]) * np.sin(pi * z[:, 1]), _uniform(dom)),
            Constraint("div", op("u_x + v_y"), zero, _uniform(dom))),
        constraints=(
            Constraint("u_bc", op("u"), _field(exact, 0), _square_boundary),
            Constraint("v_bc", op("v"), _field(exact, 1), _square_boundary),
            Constraint("p_pin", op("p"), _field(exact, 2), lambda rng, n: np.zeros((n, 2)),
                       size=1)),
        exact=exact, domain=dom,
        # 3 x 96 + 2 x 48 + 1 points, depth-2 erf NNGP posterior on a 41 x 41 grid: rel. L2
        # 7.7e-6 (u), 4.3e-6 (v), 8.3e-4 (p), all within 3 sigma (rkhs band); half the
        # points: 6.1e-5, 1.0e-4, 2.1e-2.
        defaults=dict(_DEFAULTS, n_residual=96, n_boundary=48))


def elasticity_2d(lam: float = 1.0, mu: float = 0.5) -> Problem:
    """Plane-strain linear elasticity on the unit square, displacement ``(u, v)``, Lamé
    parameters ``lam`` (λ), ``mu`` (μ): ``-μ Δ(u, v) - (λ + μ) ∇(u_x + v_y) = f``, i.e.

        -(λ + 2μ) u_xx - μ u_yy - (λ + μ) v_xy = f₁,
        -μ v_xx - (λ + 2μ) v_yy - (λ + μ) u_xy = f₂,

    with the exact solution ``u = cos(πx) sin(πy)``, ``v = sin(πx) cos(πy)`` (divergence
    ``-2π sin(πx) sin(πy)``, so λ matters): ``f = 2π² (λ + 2μ) (u, v)``. Displacement on
    the boundary (``"u_bc"``, ``"v_bc"``).

    Args:
      lam: the Lamé parameter λ.
      mu: the shear modulus μ (positive; ``lam + mu > 0``).
    """
    for label, value in (("lam", lam), ("mu", mu)):
        if not (isinstance(value, (int, float)) and np.isfinite(value)):
            raise ValueError(f"{label} must be a finite number, got {value!r}.")
    if not (mu > 0 and lam + mu > 0):
        raise ValueError(f"the Lamé parameters need mu > 0 and lam + mu > 0 (an elliptic "
                         f"system), got lam={lam!r}, mu={mu!r}.")
    pi = np.pi
    lam, mu = float(lam), float(mu)

    def exact(z):
        x, y = z[:, 0], z[:, 1]
        return np.stack([np.cos(pi * x) * np.sin(pi * y), np.sin(pi * x) * np.cos(pi * y)],
                        axis=1)

    dom = ((0.0, 1.0), (0.0, 1.0))
    fields = "u v"
    scale = 2 * pi ** 2 * (lam + 2 * mu)

    def op(text):
        return Operator(text, "x y", fields=fields)

    return Problem(
        name=f"elasticity_2d(lam={lam:g}, mu={mu:g})", variables=("x", "y"),
        residual=(
            Constraint("fx", op(f"-{lam + 2 * mu!r}*u_xx - {mu!r}*u_yy - {lam + mu!r}*v_xy"),
                       lambda z: scale * exact(z)[:, 0], _uniform(dom)),
            Constraint("fy", op(f"-{mu!r}*v_xx - {lam + 2 * mu!r}*v_yy - {lam + mu!r}*u_xy"),
                       lambda z: scale * exact(z)[:, 1], _uniform(dom))),
        constraints=(
            Constraint("u_bc", op("u"), _field(exact, 0), _square_boundary),
            Constraint("v_bc", op("v"), _field(exact, 1), _square_boundary)),
        exact=exact, domain=dom,
        # 2 x 96 + 2 x 48 points (lam 1, mu 0.5), depth-2 erf NNGP posterior on a 41 x 41
        # grid: rel. L2 2.4e-6 (u), 2.4e-6 (v), all within 3 sigma (rkhs band).
        defaults=dict(_DEFAULTS, n_residual=96, n_boundary=48))


PROBLEMS = {"poisson_1d": poisson_1d, "poisson_2d": poisson_2d, "heat_1d": heat_1d,
            "wave_1d": wave_1d, "convection_1d": convection_1d,
            "nonlinear_poisson_1d": nonlinear_poisson_1d, "burgers_1d": burgers_1d,
            "stokes_2d": stokes_2d,
            "elasticity_2d": elasticity_2d}


def get(name: str, **params) -> Problem:
    """A problem by name, e.g. ``get("poisson_1d", a=1.0)``; defaults for omitted params.

    Args:
      name: one of ``PROBLEMS``.
      **params: the constructor's parameters.
    """
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose one of {sorted(PROBLEMS)}.")
    try:
        return PROBLEMS[name](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters {params} for problem {name!r}: {err}.") from None
