"""Smooth elementwise activations whose kernels are right under input derivatives.

Two routes, neither of which differentiates through the square root of a Schur
complement (neural-tangents' ``ElementwiseNumerical`` does, and its ``K_rr`` for tanh has
negative diagonal entries):

* ``tanh``, ``sigmoid``, ``softplus``: exact scale mixtures of ``erf`` (``_mixture``), a
  finite sum of closed-form Erf kernels; relative accuracy ~1e-11 with 10-14 nodes.
* ``swish`` and any smooth callable: Gauss-Hermite quadrature with Price's theorem,
  below. It converges only sub-exponentially for functions with complex poles (tanh-like
  ones), so its accuracy is estimated and reported, and refused when too poor.

Quadrature route. For ``(u, v) ~ N(0, [[q11, q12], [q12, q22]])`` let ``T_ij = E[f^(i)(u) f^(j)(v)]``. The
layer's NNGP map is ``T_00`` and its NTK factor ``T_11``. Each ``T_ij`` is a 2-D
Gauss-Hermite quadrature wrapped in a ``jax.custom_jvp`` whose derivative is given by
Price's theorem,

    dT_ij = T_(i+1)(j+1) dq12 + 1/2 T_(i+2)j dq11 + 1/2 T_i(j+2) dq22,

so every derivative is again a smooth expectation evaluated by quadrature. Autodiff never
passes through the quadrature's ``sqrt(q22 - q12**2 / q11)``, which vanishes like
``|x - x'|`` on the diagonal; neural-tangents' ``ElementwiseNumerical`` differentiates
through it and gets ``K_rr`` wrong there (negative diagonal entries for tanh).

The quadrature degree is chosen from an error estimate (:func:`choose_degree`): the
smallest degree whose expectations agree with a degree twice as large to ``tol`` over the
derivative orders and variances in use.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jax.custom_derivatives import SymbolicZero
from .nt import stax

from . import _mixture

__all__ = []  # internal: Network builds its smooth activations through it

_z = sp.Symbol("z", real=True)
# name -> (jax function, sympy expression for the derivatives)
SMOOTH_ACTIVATIONS: dict[str, tuple[Callable, sp.Expr]] = {
    "tanh": (jnp.tanh, sp.tanh(_z)),
    "sigmoid": (jax.nn.sigmoid, 1 / (1 + sp.exp(-_z))),
    "softplus": (jax.nn.softplus, sp.log(1 + sp.exp(_z))),
    "swish": (jax.nn.silu, _z / (1 + sp.exp(-_z))),
}
DEGREES = (8, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128)


@dataclasses.dataclass(frozen=True, eq=False)
class SmoothActivation:
    """A smooth scalar activation ``fn`` with its derivatives ``derivative(k)``."""

    name: str
    fn: Callable
    expr: sp.Expr | None = None  # sympy form, when known: exact derivatives
    exact: bool = False  # kernel as an erf scale mixture (``_mixture.MIXTURES``)

    @functools.lru_cache(maxsize=None)
    def derivative(self, k: int) -> Callable:
        """The ``k``-th derivative, elementwise on arrays."""
        if k == 0:
            return self.fn
        if self.expr is not None:
            return sp.lambdify(_z, sp.diff(self.expr, _z, k), modules="jax")
        g = self.fn
        for _ in range(k):
            g = jax.grad(g)
        return jax.jit(jnp.vectorize(g))  # compiled once: eager nested grads are slow

    def __call__(self, x):
        return self.fn(x)

    def __hash__(self):
        return hash((self.name, self.fn))

    def __eq__(self, other):
        return isinstance(other, SmoothActivation) and (self.name, self.fn) == (
            other.name, other.fn)


def smooth_activation(activation) -> SmoothActivation:
    """A :class:`SmoothActivation` from a name in ``SMOOTH_ACTIVATIONS`` or a callable."""
    if isinstance(activation, SmoothActivation):
        return activation
    if isinstance(activation, str):
        if activation not in SMOOTH_ACTIVATIONS:
            raise ValueError(f"unknown smooth activation {activation!r}; choose one of "
                             f"{sorted(SMOOTH_ACTIVATIONS)} or pass a callable.")
        fn, expr = SMOOTH_ACTIVATIONS[activation]
        return SmoothActivation(activation, fn, expr, exact=activation in _mixture.MIXTURES)
    if callable(activation):
        return SmoothActivation(getattr(activation, "__name__", "custom"), activation)
    raise ValueError(f"activation must be a name or a callable, got {activation!r}.")


@functools.lru_cache(maxsize=None)
def _nodes(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights for E over N(0, 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(degree)
    return z, w / w.sum()


def _quadrature(act: SmoothActivation, i: int, j: int, degree: int, q12, q11, q22):
    """``E[f^(i)(u) f^(j)(v)]`` by a degree x degree product rule (not differentiated).

    ``u = sqrt(q11) z_a``, ``v = (q12 / sqrt(q11)) z_a + sqrt(q22 - q12**2 / q11) z_b``;
    the sum over ``z_b`` runs inside a scan so memory stays ``O(degree)`` per entry.
    """
    z, w = (jnp.asarray(a) for a in _nodes(degree))
    tiny = jnp.finfo(jnp.result_type(q11)).tiny
    s1 = jnp.sqrt(jnp.maximum(q11, tiny))
    slope = q12 / s1
    schur = jnp.sqrt(jnp.maximum(q22 - slope * slope, 0.0))
    fi = act.derivative(i)(s1[..., None] * z)            # (..., a)
    fj = act.derivative(j)

    def body(acc, node):
        zb, wb = node
        v = slope[..., None] * z + schur[..., None] * zb  # (..., a)
        return acc + wb * jnp.sum(w * fi * fj(v), axis=-1), None

    acc0 = jnp.zeros(jnp.shape(q12), dtype=jnp.result_type(q12))
    return jax.lax.scan(body, acc0, (z, w))[0]


@functools.lru_cache(maxsize=None)
def expectation(act: SmoothActivation, i: int, j: int, degree: int) -> Callable:
    """``T_ij(q12, q11, q22)``, differentiable to any order through Price's theorem."""

    @jax.custom_jvp
    def t(q12, q11, q22):
        return _quadrature(act, i, j, degree, q12, q11, q22)

    def jvp(primals, tangents):
        q12, q11, q22 = primals
        d12, d11, d22 = tangents
        out = t(q12, q11, q22)
        tangent = jnp.zeros_like(out)
        for d, (di, dj), scale in ((d12, (1, 1), 1.0), (d11, (2, 0), 0.5),
                                   (d22, (0, 2), 0.5)):
            if not isinstance(d, SymbolicZero):
                tangent = tangent + scale * d * expectation(act, i + di, j + dj, degree)(
                    q12, q11, q22)
        return out, tangent

    t.defjvp(jvp, symbolic_zeros=True)
    return t


def choose_degree(act: SmoothActivation, max_variance: float, order: int,
                  tol: float | None = None) -> tuple[int, float]:
    """Nodes of the erf-mixture rule (exact route, :func:`_mixture.choose_nodes`, default
    ``tol`` 1e-10) or the Gauss-Hermite degree (quadrature route,
    :func:`choose_gh_degree`, default ``tol`` 1e-6: it converges slowly) reaching ``tol``."""
    if act.exact:
        return _mixture.choose_nodes(act.name, max_variance, order, tol or 1e-10)
    return choose_gh_degree(act, max_variance, order, tol or 1e-6)


def _gh_expectations(act: SmoothActivation, pairs, degree: int, q12, q11, q22) -> dict:
    """``{(i, j): T_ij}`` on arrays of covariances by the product rule, vectorized (numpy
    out; each derivative of ``f`` evaluated once on all nodes)."""
    z, w = _nodes(degree)
    s1 = np.sqrt(q11)[:, None]
    slope = (q12 / np.sqrt(q11))[:, None, None]
    schur = np.sqrt(np.maximum(q22 - (q12 * q12 / q11), 0.0))[:, None, None]
    u = s1 * z                                                    # (n, a)
    v = slope * z[:, None] + schur * z[None, :]                  # (n, a, b)
    f = {k: np.asarray(act.derivative(k)(jnp.asarray(u))) for k in {i for i, _ in pairs}}
    g = {k: np.asarray(act.derivative(k)(jnp.asarray(v))) @ w for k in {j for _, j in pairs}}
    return {(i, j): (f[i] * g[j]) @ w for i, j in pairs}


def choose_gh_degree(act: SmoothActivation, max_variance: float, order: int,
                     tol: float = 1e-6) -> tuple[int, float]:
    """Smallest degree in ``DEGREES`` whose ``T_ij`` match degree ``2 * degree`` to
    ``tol`` (relative to each ``max |T_ij|``), for variances up to ``max_variance``,
    correlations in [-1, 1] and all ``(i, j)`` that ``order`` input derivatives (both
    kernel arguments together) reach through Price's recursion. Returns
    ``(degree, estimated error)``; refuses (ValueError) when no degree reaches ``tol``.
    """
    pairs = sorted({(i, j) for i in range(2 * order + 2) for j in range(2 * order + 2)
                    if i + j <= 2 * order + 2})
    qs = np.array([max_variance, max_variance / 4, max_variance / 16])
    rhos = np.array([-1.0, -0.5, 0.0, 0.5, 0.9, 0.99, 1.0])
    q11 = np.repeat(qs, rhos.size)
    q12 = q11 * np.tile(rhos, qs.size)
    estimate = np.inf
    cache = {}

    def rule(degree):
        if degree not in cache:
            cache[degree] = _gh_expectations(act, pairs, degree, q12, q11, q11)
        return cache[degree]

    for degree in DEGREES:
        lo, hi = rule(degree), rule(2 * degree)
        # Relative to each T_ij's size, floored (some T_ij vanish by parity).
        floor = 1e-6 * max(float(np.max(np.abs(hi[p]))) for p in pairs)
        estimate = max(float(np.max(np.abs(lo[p] - hi[p])) / max(np.max(np.abs(hi[p])), floor))
                       for p in pairs)
        if estimate <= tol:
            return degree, estimate
    raise ValueError(
        f"activation {act.name!r}: no Gauss-Hermite degree up to {DEGREES[-1]} reaches "
        f"relative error {tol:g} for pre-activation variances up to {max_variance:.3g} and "
        f"{order} input derivatives (estimate {estimate:.2g}); rescale the inputs, lower "
        f"W_std/b_std, pass quadrature_degree= to accept the error, or use an activation "
        f"with an exact kernel ({', '.join(sorted(_mixture.MIXTURES))})."
    )


def stax_layer(act: SmoothActivation, degree: Callable[[], int]):
    """A neural-tangents ``stax.Elementwise`` layer for ``act``. ``degree()`` gives the
    number of mixture nodes (exact route) or the Gauss-Hermite degree; it is called only
    when the kernel is evaluated, so building the network for ``apply_fn`` is free."""
    if act.exact:
        def nngp_fn(q12, q11, q22):
            return _mixture.mixture(act.name, degree()).nngp_fn(q12, q11, q22)

        def d_nngp_fn(q12, q11, q22):
            return _mixture.mixture(act.name, degree()).d_nngp_fn(q12, q11, q22)
    else:
        def nngp_fn(q12, q11, q22):
            return expectation(act, 0, 0, degree())(q12, q11, q22)

        def d_nngp_fn(q12, q11, q22):
            return expectation(act, 1, 1, degree())(q12, q11, q22)
    nngp_fn.__name__ = d_nngp_fn.__name__ = act.name
    return stax.Elementwise(fn=act.fn, nngp_fn=nngp_fn, d_nngp_fn=d_nngp_fn)


def second_moment(act: SmoothActivation, q: np.ndarray, degree: int = 200) -> np.ndarray:
    """``E[f(sqrt(q) z)**2]`` (numpy, high degree): propagates layer variances (for
    choosing the quadrature, so a relative accuracy of ~1e-8 is plenty; one evaluation
    of ``f``, no compiled kernel)."""
    z, w = _nodes(degree)
    values = np.asarray(act.fn(jnp.asarray(np.sqrt(np.asarray(q))[..., None] * z)))
    return (values ** 2) @ w
