"""GP posteriors of infinite-width PINNs from linear observations.

``kind="nngp"``: the Bayesian posterior of the NNGP prior conditioned on the observations
``L_i[u](X_i) = y_i`` (plus optional Gaussian noise).

``kind="ntk"``: the infinite ensemble of PINNs trained by gradient flow on the weighted loss
``½ Σ_i λ_i |L_i[u](X_i) - y_i|²``. Stacking the observed functionals into ``r``, the
trained output at a test functional is ``f_t(x) = f_0(x) + A (y - f_0(X))`` with
``A = Θ_xX Λ^½ V diag((1 - e^(-e t)) / e) V^T Λ^½`` where ``Λ^½ Θ Λ^½ = V diag(e) V^T``
(``Θ`` the PINN NTK ``K*``, ``Θ_xX`` the cross NTK). ``f_0`` is the NNGP prior, so the
ensemble is Gaussian with mean ``A y`` and covariance
``K_xx - A K_Xx - K_xX A^T + A K_XX A^T`` (``K`` NNGP blocks): neural-tangents'
``gradient_descent_mse_ensemble`` with operators applied. ``t=None``: converged,
``A = Θ_xX Θ^-1``.

Calibration of the band (``calibrate``). The architecture fixes the prior's shape, not
its amplitude, so the raw band can be far too narrow for a given solution:

* ``"mle"`` (or ``True``): the maximum-likelihood amplitude ``y^T K^-1 y / n``.
* ``"rkhs"`` (NNGP only): the amplitude ``y^T K^-1 y``, the squared RKHS norm of the
  posterior mean. This turns the band into the worst-case error bound of kernel
  interpolation from linear functionals: for every ``u`` in the prior's RKHS with data
  ``y = L[u](X)``, ``|u(x) - m(x)| <= ||u||_H sigma(x)`` (``sigma`` the unit-amplitude
  posterior std with the jitter/noise as regularizer; Cauchy-Schwarz on
  ``u(x) - m(x) = <u, k_x - sum_i a_i phi_i>_H``). ``||m||_H`` is a lower bound of ``||u||_H``
  that converges to it as the data resolve ``u``, so the truth lies inside the band
  ``k sigma_rkhs`` as soon as ``||u||_H <= k ||m||_H``.

Round-off. Near an observed functional the variance is a difference of ``O(k(x, x))``
terms, so the std is known only to a resolution: ``Posterior.resolution`` (absolute, in
``u``'s units) is the square root of the larger of the round-off level
``sqrt(n) eps (sum of the terms' magnitudes)`` of the variance (times the amplitude) and
the magnitude of any variance that came out negative. :meth:`Posterior.covers` counts a
point as covered when ``|u - m| <= k std + resolution``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg as sla

from ntk_pinn import Network, Operator

from ._limiting import _check_kind, limiting_kernel

__all__ = ["Posterior", "gp_posterior", "stable_cholesky"]

_JITTERS = (0.0,) + tuple(10.0 ** k for k in range(-15, -3))


@dataclasses.dataclass(frozen=True)
class Posterior:
    mean: np.ndarray       # (n_test,)
    cov: np.ndarray        # (n_test, n_test)
    jitter: float          # relative jitter added to the (Jacobi-scaled) train kernel
    kind: str
    t: float | None
    scale: float = 1.0     # prior amplitude the covariance was multiplied by (calibrate)
    resolution: float = 0.0  # absolute round-off resolution of std (see module docstring)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def covers(self, values, k: float = 3.0) -> np.ndarray:
        """``|values - mean| <= k std + resolution``, per test point (bool array)."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != self.mean.shape:
            raise ValueError(f"values has shape {values.shape}, the posterior "
                             f"{self.mean.shape}.")
        return np.abs(values - self.mean) <= k * self.std + self.resolution


def stable_cholesky(K: np.ndarray, what: str = "kernel"):
    """``(cholesky factor of D^-½ K D^-½ + jitter I, d = sqrt(diag K), jitter)``.

    Jacobi scaling first (block scales of ``K*`` differ by many decades), then the
    smallest jitter in ``0, 1e-15, ..., 1e-4`` that factorizes. Raises ValueError if
    none does."""
    d = np.sqrt(np.diag(K))
    if not np.all(np.isfinite(K)) or np.any(d <= 0):
        raise ValueError(f"the {what} has non-finite entries or a non-positive diagonal.")
    S = K / np.outer(d, d)
    for jitter in _JITTERS:
        try:
            return sla.cholesky(S + jitter * np.eye(len(S)), lower=True), d, jitter
        except np.linalg.LinAlgError:
            continue
    raise ValueError(f"the {what} stays singular after a relative jitter of "
                     f"{_JITTERS[-1]:g}: remove duplicate points or add noise.")


def _solve(L, d, b):
    """``K^-1 b`` from :func:`stable_cholesky`'s ``(L, d)``; ``b: (n,)`` or ``(n, m)``."""
    dd = d.reshape((-1,) + (1,) * (np.ndim(b) - 1))
    return sla.cho_solve((L, True), b / dd) / dd


def _observations(observations):
    blocks, values = [], []
    if not observations:
        raise ValueError("observations is empty: give (operator, points, values) triples.")
    for i, obs in enumerate(observations):
        if not (isinstance(obs, (tuple, list)) and len(obs) == 3):
            raise ValueError(f"observations[{i}] must be an (operator, points, values) triple.")
        op, x, y = obs
        if not isinstance(op, Operator):
            raise ValueError(f"observations[{i}][0] must be an ntk_pinn.Operator.")
        x = op.check_points(x, f"observations[{i}] points")
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"observations[{i}] has {x.shape[0]} points but {y.shape[0]} "
                             "values.")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"observations[{i}] values contain NaN or inf.")
        blocks.append((f"obs{i}", (op, x)))
        values.append(y)
    return dict(blocks), np.concatenate(values)


def gp_posterior(net: Network, observations, x_test, kind: str = "nngp", t: float | None = None,
                 test_operator: Operator | None = None, noise: float = 0.0,
                 weights=None, calibrate: bool | str = False) -> Posterior:
    """Posterior of ``test_operator[u]`` (default ``u``) at ``x_test: (n, d)`` given
    ``observations``: ``(operator, points (n_i, d), values (n_i,))`` triples. See module
    docstring for ``kind`` and ``t``; ``weights`` (one per observation, default 1) are the
    loss weights of the NTK dynamics; ``noise`` is an observation-noise variance (NNGP).
    ``calibrate``: ``False``/``"none"``, ``True``/``"mle"`` (maximum-likelihood prior
    amplitude ``y^T K^-1 y / n``) or ``"rkhs"`` (``y^T K^-1 y``: the worst-case error bound
    of kernel interpolation, NNGP only); see the module docstring.
    """
    _check_kind(kind)
    mode = {False: "none", True: "mle"}[calibrate] if isinstance(calibrate, bool) else calibrate
    if mode not in ("none", "mle", "rkhs"):
        raise ValueError(f"calibrate must be False, True, 'none', 'mle' or 'rkhs', got "
                         f"{calibrate!r}.")
    if mode == "rkhs" and kind != "nngp":
        raise ValueError("calibrate='rkhs' is the error bound of the NNGP posterior (kernel "
                         "interpolation); the NTK ensemble's covariance is not a power "
                         "function. Use kind='nngp' or calibrate='mle'.")
    train, y = _observations(observations)
    first = next(iter(train.values()))[0]
    test_operator = test_operator or Operator("u", first.variables)
    x_test = test_operator.check_points(x_test, "x_test")
    test = {"test": (test_operator, x_test)}
    if noise < 0 or not np.isfinite(noise):
        raise ValueError(f"noise must be a finite variance >= 0, got {noise!r}.")
    K = limiting_kernel(net, train, kind="nngp").matrix
    K_sX = limiting_kernel(net, test, train, kind="nngp").matrix
    K_ss = limiting_kernel(net, test, kind="nngp").matrix
    L, d, jitter = stable_cholesky(K + noise * np.eye(len(K)), "NNGP train kernel")
    alpha = _solve(L, d, y)                                      # (K + noise)^-1 y
    norm2 = float(y @ alpha)                                     # ||m||_H^2
    scale = {"none": 1.0, "mle": norm2 / len(y), "rkhs": norm2}[mode]
    if kind == "nngp":
        B = _solve(L, d, K_sX.T).T                               # K_sX K^-1
        BK = B @ K_sX.T
        cov = scale * (K_ss - BK)
        return Posterior(K_sX @ alpha, cov, jitter, kind, t, scale,
                         _resolution(cov, [K_ss, BK], scale, len(y)))
    T = limiting_kernel(net, train, kind="ntk").matrix
    T_sX = limiting_kernel(net, test, train, kind="ntk").matrix
    if t is None:
        L, d, jitter = stable_cholesky(T, "NTK train kernel")
        A = _solve(L, d, T_sX.T).T                                # Θ_xX Θ^-1
    else:
        if t < 0:
            raise ValueError(f"t must be >= 0 or None, got {t!r}.")
        if weights is not None and (len(weights) != len(train) or not all(
                np.isfinite(w) and w > 0 for w in weights)):
            raise ValueError(f"weights must be {len(train)} positive numbers (one per "
                             f"observation), got {weights!r}.")
        lam = np.ones(len(T)) if weights is None else np.concatenate(
            [np.full(len(b[1]), float(w)) for b, w in zip(train.values(), weights)])
        s = np.sqrt(lam)
        e, V = np.linalg.eigh(s[:, None] * T * s[None, :])
        e = np.clip(e, 0.0, None)
        # (1 - exp(-e t)) / e, equal to t in the limit e -> 0
        g = np.where(e * t > 1e-12, -np.expm1(-e * t) / np.where(e > 0, e, 1.0), t)
        A = (T_sX * s) @ (V * g) @ V.T * s
        jitter = 0.0
    mean = A @ y
    AK = A @ K_sX.T
    AKA = A @ K @ A.T
    cov = scale * (K_ss - AK - AK.T + AKA)
    cov = (cov + cov.T) / 2
    return Posterior(mean, cov, jitter, kind, t, scale,
                     _resolution(cov, [K_ss, AK, AK, AKA], scale, len(y)))


def _resolution(cov, terms, scale, n) -> float:
    """Absolute resolution of the std. The variance is a sum of ``terms`` (matrices whose
    diagonals nearly cancel), each a length-``n`` dot product: its round-off level is
    ``sqrt(n) eps sum |diag(term)|`` (random-walk rounding; times the amplitude), or the
    largest variance that came out negative, whichever is larger; the square root of that."""
    size = sum(np.abs(np.diag(term)) for term in terms)
    var_res = max(np.sqrt(n) * np.finfo(np.float64).eps * scale * float(np.max(size)),
                  float(-min(np.min(np.diag(cov)), 0.0)))
    return float(np.sqrt(var_res))
