"""Exact kernels for activations that are scale mixtures of ``erf``.

``tanh`` is a scale mixture of error functions,

    tanh(x) = E_K[ erf(x / (K sqrt 2)) ],

with ``K`` Kolmogorov-distributed (the law of the sup of a Brownian bridge; its
characteristic function gives ``E[exp(-s^2 / (2 K^2) ...)]`` = ``s / sinh(s)``, which is
the Laplace-side form of this identity). For a mixture ``f(x) = c0 + sum_m c_m erf(b_m x)``
over a Gauss rule ``(b_m, c_m)`` in the scale ``b = 1 / (K sqrt 2)``, every expectation a
layer needs is a finite sum of neural-tangents' closed-form Erf kernels:

    E[f(u) f(v)]   = c0^2 + sum_mm' c_m c_m' (2/pi) arcsin(q12 a_m(q11) a_m'(q22)),
    E[f'(u) f'(v)] =        sum_mm' c_m c_m' (2/pi) a_m a_m' / sqrt(1 - (q12 a_m a_m')^2),

with ``a_m(q) = sqrt(2) b_m / sqrt(1 + 2 b_m^2 q)``. The arguments of ``arcsin`` stay
strictly inside (-1, 1) and no square root of a Schur complement appears, so autodiff gives
input derivatives of every order correctly (the same reason neural-tangents' ``Erf`` is
right). ``sigmoid(x) = (1 + tanh(x / 2)) / 2`` follows, and ``softplus`` is the integral
of ``sigmoid``: for ``F(x) = c0 + l x + sum c_m P(b_m, x)``, ``P(b, x) = int_0^x erf(b t)
dt``, Price's theorem integrated in ``q12`` gives the closed form

    E[F(u) F(v)] = E[F(u)] E[F(v)] + l^2 q12
                   + sum_mm' c_m c_m' (2/pi) q12 (arcsin t - t / (1 + sqrt(1 - t^2))),
    E[F(u)] = c0 + sum_m c_m 2 b_m q11 / (sqrt(pi) (1 + sqrt(1 + 2 b_m^2 q11))),

with ``t = q12 a_m a_m'``. The number of nodes is chosen from an error estimate
(:func:`choose_nodes`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = []  # internal: the tanh/sigmoid/softplus kernels of _smooth

NODE_COUNTS = (4, 6, 8, 10, 12, 14, 16, 20, 24, 32)
_REFERENCE_NODES = 48


def _kolmogorov_density(k: np.ndarray) -> np.ndarray:
    """Density of the Kolmogorov distribution on ``k > 0``: the alternating series for
    ``k >= 1`` and its Jacobi-theta transform (fast for small ``k``) below."""
    j = np.arange(1, 40)[:, None]
    large = 8 * k * np.sum((-1.0) ** (j - 1) * j ** 2 * np.exp(-2 * j ** 2 * k ** 2), axis=0)
    ks = np.minimum(k, 1.0)
    c = (2 * j - 1) ** 2 * np.pi ** 2 / 8
    e = np.exp(-c / ks ** 2)
    small = np.sqrt(2 * np.pi) * (np.sum(2 * c * e, axis=0) / ks ** 4 - np.sum(e, axis=0) / ks ** 2)
    return np.where(k >= 1.0, large, small)


@functools.lru_cache(maxsize=None)
def _recurrence(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``nodes`` three-term recurrence coefficients ``(alpha_k, beta_k)`` of the
    orthogonal polynomials of the law of ``b = 1 / (K sqrt 2)``, by the Stieltjes
    procedure on a fine trapezoid discretization of the density (smooth and vanishing to
    all orders at both ends of the grid, so the discretization is spectrally accurate).
    The first ``n`` coefficients do not depend on how many more are computed, so every
    rule up to ``_REFERENCE_NODES`` nodes is read from one run."""
    if nodes < _REFERENCE_NODES:
        alphas, betas = _recurrence(_REFERENCE_NODES)
        return alphas[:nodes], betas[:nodes]
    k = np.linspace(2e-3, 7.0, 200_001)
    w = _kolmogorov_density(k)
    w = w / w.sum()
    b = 1.0 / (k * math.sqrt(2.0))
    alphas, betas = [], []
    p_prev, p = np.zeros_like(b), np.ones_like(b)
    norm_prev, norm = None, float(np.sum(w))
    for _ in range(nodes):
        a = float(np.sum(w * b * p * p)) / norm
        alphas.append(a)
        p_next = (b - a) * p - (norm / norm_prev if norm_prev else 0.0) * p_prev
        norm_prev, norm = norm, float(np.sum(w * p_next * p_next))
        betas.append(norm / norm_prev)
        p_prev, p = p, p_next
    return np.array(alphas), np.array(betas)


@functools.lru_cache(maxsize=None)
def tanh_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule ``(b_m, w_m)`` with ``tanh(x) ~= sum_m w_m erf(b_m x)``: Golub-Welsch
    on the recurrence of :func:`_recurrence`."""
    alphas, betas = _recurrence(nodes)
    off = np.sqrt(betas[:-1])
    jacobi = np.diag(alphas) + np.diag(off, 1) + np.diag(off, -1)
    scales, vectors = np.linalg.eigh(jacobi)
    return scales, vectors[0] ** 2


@dataclasses.dataclass(frozen=True)
class ErfMixture:
    """``f(x) = constant + sum_m weights[m] * erf(scales[m] * x)`` or, with
    ``integrated``, ``f(x) = constant + linear * x + sum_m weights[m] * P(scales[m], x)``
    where ``P(b, x) = int_0^x erf(b t) dt``. Kernels in closed form (module docstring).
    """

    constant: float
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    linear: float = 0.0
    integrated: bool = False

    def __call__(self, x):
        b = jnp.asarray(self.scales)
        c = jnp.asarray(self.weights)
        x = jnp.asarray(x)[..., None]
        if not self.integrated:
            return self.constant + jnp.sum(c * jax.scipy.special.erf(b * x), axis=-1)
        bx = b * x
        p = x * jax.scipy.special.erf(bx) + jnp.expm1(-bx * bx) / (b * math.sqrt(math.pi))
        return self.constant + self.linear * x[..., 0] + jnp.sum(c * p, axis=-1)

    def _a(self, q):
        b = jnp.asarray(self.scales)
        return math.sqrt(2.0) * b / jnp.sqrt(1.0 + 2.0 * b * b * q[..., None])

    def _pairs(self, q12, q11, q22):
        """``(c_m c_m', t_mm' = q12 a_m a_m', a_m a_m')`` broadcast to ``(..., M, M)``."""
        a1, a2 = self._a(q11), self._a(q22)
        aa = a1[..., :, None] * a2[..., None, :]
        c = jnp.asarray(self.weights)
        return c[:, None] * c[None, :], q12[..., None, None] * aa, aa

    def derivative_mixture(self) -> "ErfMixture":
        """``f'`` when ``integrated`` (itself a plain mixture)."""
        if not self.integrated:
            raise ValueError("the derivative of a plain erf mixture is not an erf mixture.")
        return ErfMixture(self.linear, self.scales, self.weights)

    def nngp_fn(self, q12, q11, q22):
        """``E[f(u) f(v)]`` for ``(u, v) ~ N(0, [[q11, q12], [q12, q22]])``."""
        cc, t, _ = self._pairs(q12, q11, q22)
        if not self.integrated:
            return self.constant ** 2 + (2 / jnp.pi) * jnp.sum(cc * jnp.arcsin(t), axis=(-2, -1))
        # Price's theorem integrated over q12 from 0 (independence) to q12.
        rest = q12[..., None, None] * (jnp.arcsin(t) - t / (1.0 + jnp.sqrt(1.0 - t * t)))
        return (self.mean(q11) * self.mean(q22) + self.linear ** 2 * q12
                + (2 / jnp.pi) * jnp.sum(cc * rest, axis=(-2, -1)))

    def d_nngp_fn(self, q12, q11, q22):
        """``E[f'(u) f'(v)]``."""
        if self.integrated:
            return self.derivative_mixture().nngp_fn(q12, q11, q22)
        cc, t, aa = self._pairs(q12, q11, q22)
        return (2 / jnp.pi) * jnp.sum(cc * aa / jnp.sqrt(1.0 - t * t), axis=(-2, -1))

    def mean(self, q):
        """``E[f(u)]`` for ``u ~ N(0, q)``."""
        if not self.integrated:
            return jnp.full(jnp.shape(q), self.constant, dtype=jnp.result_type(q, float))
        b = jnp.asarray(self.scales)
        c = jnp.asarray(self.weights)
        q = q[..., None]
        # E[P(b, u)] = (sqrt(1 + 2 b^2 q) - 1) / (b sqrt(pi)), written without cancellation.
        ep = 2 * b * q / (math.sqrt(math.pi) * (1.0 + jnp.sqrt(1.0 + 2 * b * b * q)))
        return self.constant + jnp.sum(c * ep, axis=-1)


def _tanh(nodes):
    b, w = tanh_rule(nodes)
    return ErfMixture(0.0, tuple(b), tuple(w))


def _sigmoid(nodes):  # (1 + tanh(x / 2)) / 2
    b, w = tanh_rule(nodes)
    return ErfMixture(0.5, tuple(b / 2), tuple(w / 2))


def _softplus(nodes):  # log 2 + x / 2 + int_0^x (tanh(t / 2) / 2) dt
    b, w = tanh_rule(nodes)
    return ErfMixture(math.log(2.0), tuple(b / 2), tuple(w / 2), linear=0.5, integrated=True)


def _erf(nodes):  # one atom: the check that this machinery reproduces stax.Erf
    return ErfMixture(0.0, (1.0,), (1.0,))


# name -> builder(nodes) -> ErfMixture
MIXTURES = {"tanh": _tanh, "sigmoid": _sigmoid, "softplus": _softplus, "erf": _erf}


def mixture(name: str, nodes: int) -> ErfMixture:
    return MIXTURES[name](nodes)


def _q_grid(max_variance: float):
    qs = np.array([max_variance, max_variance / 4, max_variance / 16])
    rhos = np.array([-1.0, -0.5, 0.0, 0.5, 0.9, 0.99, 1.0])
    q11 = np.repeat(qs, rhos.size)
    return q11 * np.tile(rhos, qs.size), q11


@functools.lru_cache(maxsize=None)
def _arcsin_derivative(k: int):
    """``d^k/dt^k arcsin(t)`` as a numpy function (sympy, exact)."""
    import sympy as sp

    t = sp.Symbol("t")
    return sp.lambdify(t, sp.diff(sp.asin(t), t, k), modules="numpy")


def _q12_derivatives(mix: ErfMixture, q12: np.ndarray, q11: np.ndarray, order: int):
    """``d^k/dq12^k E[g(u) g(v)]`` for ``k = 0..order``, ``g = mix`` (plain mixture),
    in numpy: ``sum cc' (2/pi) (a a')^k arcsin^(k)(q12 a a')`` (plus ``c0^2`` at k=0)."""
    b, c = np.asarray(mix.scales), np.asarray(mix.weights)
    a = np.sqrt(2.0) * b / np.sqrt(1.0 + 2.0 * b * b * q11[:, None])     # (n, M)
    aa = a[:, :, None] * a[:, None, :]
    cc = c[:, None] * c[None, :]
    t = q12[:, None, None] * aa
    out = []
    for k in range(order + 1):
        term = (2 / np.pi) * np.sum(cc * aa ** k * _arcsin_derivative(k)(t), axis=(1, 2))
        out.append(term + (mix.constant ** 2 if k == 0 else 0.0))
    return out


def choose_nodes(name: str, max_variance: float, order: int,
                 tol: float = 1e-10) -> tuple[int, float]:
    """Fewest nodes in ``NODE_COUNTS`` whose layer expectations (``E[f f]``, ``E[f' f']``)
    and their first ``order`` derivatives in the covariance agree with a
    ``_REFERENCE_NODES``-node rule to ``tol``, relative to each quantity's largest
    magnitude, over variances up to ``max_variance`` and correlations in ``[-1, 1]``.
    (Derivatives along ``q12``; the ``q11``/``q22`` directions move the same ``a_m``
    factors and converge alike.)
    Returns ``(nodes, estimated relative error)``.
    """
    if name == "erf":
        return 1, 0.0
    q12, q11 = _q_grid(max_variance)

    def plain(nodes):  # E[f' f'] is the q12-derivative of E[f f]: one series covers both
        mix = mixture(name, nodes)
        return mix.derivative_mixture() if mix.integrated else mix

    reference = _q12_derivatives(plain(_REFERENCE_NODES), q12, q11, order + 1)
    estimate = math.inf
    for nodes in NODE_COUNTS:
        values = _q12_derivatives(plain(nodes), q12, q11, order + 1)
        estimate = max(float(np.max(np.abs(r - v)) / max(np.max(np.abs(r)), 1e-300))
                       for r, v in zip(reference, values))
        if estimate <= tol:
            return nodes, float(estimate)
    raise ValueError(
        f"activation {name!r}: no erf-mixture rule up to {NODE_COUNTS[-1]} nodes reaches "
        f"relative error {tol:g} for pre-activation variances up to {max_variance:.3g} "
        f"(estimate {estimate:.2g}); rescale the inputs or lower W_std/b_std.")
