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

from ntk_pinn import Network, Operator, memory_limit as _memory_limit
from ntk_pinn.internal import check_memory

from ._limiting import _check_kind, limiting_kernel, limiting_kernel_diagonal

__all__ = ["Posterior", "gp_posterior", "gp_posteriors", "stable_cholesky"]

# Relative jitters tried, in units of the round-off floor n * eps (see stable_cholesky).
_JITTER_STEPS = tuple(10.0 ** k for k in range(0, 13))
_MAX_JITTER = 1e-4
_REFINEMENTS = 2


@dataclasses.dataclass(frozen=True)
class Posterior:
    mean: np.ndarray       # (n_test,)
    std: np.ndarray        # (n_test,) posterior standard deviation (times the amplitude)
    jitter: float          # relative jitter added to the (Jacobi-scaled) train kernel
    kind: str
    t: float | None
    scale: float = 1.0     # prior amplitude the covariance was multiplied by (calibrate)
    resolution: float = 0.0  # absolute round-off resolution of std (see module docstring)
    cov: np.ndarray | None = None  # (n_test, n_test), only with gp_posterior(full_cov=True)

    def covers(self, values, k: float = 3.0) -> np.ndarray:
        """``|values - mean| <= k std + resolution``, per test point (bool array)."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != self.mean.shape:
            raise ValueError(f"values has shape {values.shape}, the posterior "
                             f"{self.mean.shape}.")
        return np.abs(values - self.mean) <= k * self.std + self.resolution


def _jitters(n: int) -> tuple[float, ...]:
    """The relative jitters tried for an ``n x n`` Jacobi-scaled kernel: ``n eps 10^k``
    up to 1e-4."""
    floor = n * np.finfo(np.float64).eps
    return tuple(j for j in (floor * s for s in _JITTER_STEPS) if j <= _MAX_JITTER) or (floor,)


def stable_cholesky(K: np.ndarray, what: str = "kernel"):
    """``(cholesky factor of D^-½ K D^-½ + jitter I, d = sqrt(diag K), jitter)``.

    Jacobi scaling first (block scales of ``K*`` differ by many decades), then the
    smallest relative jitter in ``n eps, 10 n eps, ...`` (up to 1e-4) that factorizes.

    The jitter starts at the round-off floor ``n eps`` of the scaled kernel (unit
    diagonal), not at 0: a PINN kernel's smallest eigenvalues are round-off (measured
    -1e-14 on a 288-row elasticity kernel), so whether 0 or 1e-15 factorizes, and what the
    solve then returns, was decided by the summation order of the BLAS (the elasticity
    posterior's error was 2.65e-6 single-threaded, 1.20e-5 on 2 threads). Above the floor
    the regularized solve (the data's weights refined) no longer depends on round-off:
    the same posterior gives 2.44e-6 on 1 and on 2 threads (jitter 6.4e-14).

    Raises ValueError if no jitter factorizes.

    Args:
      K: ``(n, n)`` symmetric positive semi-definite.
      what: its name in error messages.
    """
    d = np.sqrt(np.diag(K))
    if not np.all(np.isfinite(K)) or np.any(d <= 0):
        raise ValueError(f"the {what} has non-finite entries or a non-positive diagonal.")
    S = K / np.outer(d, d)
    jitters = _jitters(len(S))
    for jitter in jitters:
        try:
            return sla.cholesky(S + jitter * np.eye(len(S)), lower=True), d, jitter
        except np.linalg.LinAlgError:
            continue
    raise ValueError(f"the {what} stays singular after a relative jitter of "
                     f"{jitters[-1]:g}: remove duplicate points or add noise.")


@dataclasses.dataclass(frozen=True)
class _Factor:
    """``K + noise I`` factorized by :func:`stable_cholesky`, with its solve."""

    K: np.ndarray
    noise: float
    L: np.ndarray
    d: np.ndarray
    jitter: float

    @classmethod
    def of(cls, K: np.ndarray, what: str, noise: float = 0.0) -> "_Factor":
        L, d, jitter = stable_cholesky(K + noise * np.eye(len(K)) if noise else K, what)
        return cls(K, noise, L, d, jitter)

    def solve(self, b: np.ndarray, *, refine: bool = False) -> np.ndarray:
        """``(K + noise I + jitter D)^-1 b`` for ``b: (n,)`` or ``(n, m)``. ``refine``:
        ``_REFINEMENTS`` steps of iterative refinement against the jittered matrix (the
        residual formed from ``K`` itself), for the data's weights ``K^-1 y`` that the
        mean is made of. Not for the test blocks of the variance: a matrix product's
        summation order depends on the number of columns, so refined row blocks would
        differ from the full covariance by more than the std's resolution."""
        dd = self.d.reshape((-1,) + (1,) * (np.ndim(b) - 1))
        rhs = b / dd
        x = sla.cho_solve((self.L, True), rhs)
        for _ in range(_REFINEMENTS if refine else 0):
            y = x / dd
            r = rhs - (self.K @ y + self.noise * y) / dd - self.jitter * x
            x = x + sla.cho_solve((self.L, True), r)
        return x / dd


def _observations(observations):
    """``({name: (operator, points)}, values)`` from a sequence of ``(operator, points,
    values)`` triples or a mapping ``name -> triple`` (``Problem.data``'s)."""
    blocks, values = [], []
    if not observations:
        raise ValueError("observations is empty: give (operator, points, values) triples.")
    if isinstance(observations, dict):
        names, observations = list(observations), list(observations.values())
    else:
        names = [f"obs{i}" for i in range(len(observations))]
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
        blocks.append((names[i], (op, x)))
        values.append(y)
    return dict(blocks), np.concatenate(values)


def _check_duplicates(train: dict, y: np.ndarray) -> None:
    """Refuse the same functional observed at the same point with different values."""
    start = 0
    groups = {}
    for name, (op, x) in train.items():
        for i, row in enumerate(x):
            groups.setdefault((op, row.tobytes()), []).append((start + i, name, i))
        start += len(x)
    scale = max(float(np.max(np.abs(y))), 1.0)
    for (op, _), rows in groups.items():
        values = y[[r for r, _, _ in rows]]
        if len(rows) > 1 and np.ptp(values) > 1e-12 * scale:
            where = ", ".join(f"{name}[{i}] = {y[r]:.6g}" for r, name, i in rows[:4])
            raise ValueError(
                f"observations disagree: {op} is observed at the same point with different "
                f"values ({where}); with noise = 0 the posterior would interpolate both. "
                "Fix the data, or give an observation-noise variance (noise=...).")


# With noise = 0 the posterior mean must reproduce the data. Misfit per row, in units of
# that functional's prior std sqrt(K_ii), measured: at most 5.8e-4 on the built-in problems
# (poisson_1d, wave_1d at 3000 + 3x300 points: the jittered solve of an ill-conditioned
# kernel), 0.42-0.48 for one functional observed at the same point (or 1e-9 apart) with
# values 0 and 1. Bound 0.05.
_FIT_TOL = 0.05


def _check_fit(K: np.ndarray, alpha: np.ndarray, y: np.ndarray, train: dict) -> None:
    misfit = np.abs(K @ alpha - y) / np.sqrt(np.diag(K))
    bad = np.flatnonzero(misfit > _FIT_TOL)
    if bad.size:
        names = [(name, i) for name, (_, x) in train.items() for i in range(len(x))]
        where = ", ".join(f"{names[r][0]}[{names[r][1]}] (misfit {misfit[r]:.2g} prior std)"
                          for r in bad[:4])
        raise ValueError(
            f"the kernel cannot fit {bad.size} observation(s) at noise = 0: {where}. "
            "Near-duplicate points with different values, or data no function of the prior "
            "explains; fix the data or give an observation-noise variance (noise=...).")


def _ntk_map(net, train, t, weights, memory_limit, progress):
    """``M`` with ``A = Θ_xX M`` (the trained ensemble's map from data), and the jitter."""
    T = limiting_kernel(net, train, kind="ntk", memory_limit=memory_limit,
                        progress=progress).matrix
    if t is None:
        factor = _Factor.of(T, "NTK train kernel")
        return (lambda T_sX: factor.solve(T_sX.T).T), factor.jitter
    lam = np.ones(len(T)) if weights is None else np.concatenate(
        [np.full(len(b[1]), float(w)) for b, w in zip(train.values(), weights)])
    s = np.sqrt(lam)
    e, V = np.linalg.eigh(s[:, None] * T * s[None, :])
    e = np.clip(e, 0.0, None)
    # (1 - exp(-e t)) / e, equal to t in the limit e -> 0
    g = np.where(e * t > 1e-12, -np.expm1(-e * t) / np.where(e > 0, e, 1.0), t)
    M = (s[:, None] * V * g) @ V.T * s
    return (lambda T_sX: T_sX @ M), 0.0


def gp_posterior(net: Network, observations, x_test, *, kind: str = "nngp",
                 t: float | None = None, test_operator: Operator | None = None,
                 noise: float = 0.0, weights=None, calibrate: bool | str = False,
                 full_cov: bool = False, batch_size: int | None = None,
                 memory_limit: int | None = None, progress: bool | None = None) -> Posterior:
    """Posterior of ``test_operator[u]`` (default ``u``) at ``x_test`` given ``observations``.

    Args:
      net: the network spec whose NNGP / NTK are the prior and the dynamics.
      observations: ``(operator, points (n_i, d), values (n_i,))`` triples, or a mapping
        ``name -> triple`` (what ``Problem.data`` returns, taken as it is). The same
        operator at the same point with different values is refused (a ValueError naming
        the rows), and at ``noise = 0`` so are data the kernel cannot fit.
      x_test: ``(n, d)``; for a one-variable operator ``(n,)`` is read as ``n`` points.
      kind: ``"nngp"`` (Bayesian posterior) or ``"ntk"`` (infinite ensemble trained by
        gradient flow); see the module docstring.
      t: training time of the NTK ensemble (``None``: converged). Refused with
        ``kind="nngp"``, which has no training time.
      test_operator: the functional predicted (default ``u``), e.g. ``u_x``. For a system
        (operators over several fields) it is required and may be any linear operator
        over its fields: a field (``Operator("p", "x y", fields="u v p")``), the vorticity
        ``v_x - u_y``, ...; :func:`gp_posteriors` predicts several from one factorization.
      noise: observation-noise variance added to the NNGP train kernel.
      weights: one positive loss weight per observation, for ``kind="ntk"`` (the weighted
        gradient flow; with ``t=None`` positive weights do not move the converged
        ensemble). Refused with ``kind="nngp"``.
      calibrate: ``False``/``"none"``, ``True``/``"mle"`` (maximum-likelihood prior
        amplitude ``y^T K^-1 y / n``) or ``"rkhs"`` (``y^T K^-1 y``: the worst-case error
        bound of kernel interpolation, NNGP only); see the module docstring.
      full_cov: also form the ``(n, n)`` test covariance (``.cov``); by default only its
        diagonal (``.std``) is computed, in row blocks, with memory linear in ``n``.
      batch_size: test points per row block (default: about 2**22 entries per block).
      memory_limit: bytes the computation may plan to use (default ``NTK_PINN_MEMORY_LIMIT``
        or 80% of the memory available); larger problems are refused before any work.
      progress: progress bars of the kernels (default: for large kernels only, as
        :func:`theory.limiting_kernel`).
    """
    if test_operator is None:
        first = next(iter(_observations(observations)[0].values()))[0]
        if first.n_fields > 1:
            raise ValueError(
                f"the observations are over the fields {first.fields}: name what to predict, "
                f"e.g. test_operator=Operator('{first.fields[0]}', "
                f"'{' '.join(first.variables)}', fields='{' '.join(first.fields)}') (or "
                "theory.gp_posteriors for several at once).")
        test_operator = Operator("u", first.variables)
    return gp_posteriors(net, observations, x_test, {"test": test_operator}, kind=kind, t=t,
                         noise=noise, weights=weights, calibrate=calibrate,
                         full_cov=full_cov, batch_size=batch_size,
                         memory_limit=memory_limit, progress=progress)["test"]


def gp_posteriors(net: Network, observations, x_test, test_operators, *, kind: str = "nngp",
                  t: float | None = None, noise: float = 0.0, weights=None,
                  calibrate: bool | str = False, full_cov: bool = False,
                  batch_size: int | None = None, memory_limit: int | None = None,
                  progress: bool | None = None) -> dict:
    """``{name: Posterior}`` of each ``test_operators[name][u]`` at ``x_test``: what
    :func:`gp_posterior` gives for each, from one train kernel and one factorization (e.g.
    every field of a system, and its vorticity). ``test_operators``: a mapping
    ``name -> Operator``; the other arguments as for :func:`gp_posterior`.

    Args:
      net: the network spec (prior and dynamics).
      observations: ``(operator, points (n_i, d), values (n_i,))`` triples, or a mapping
        ``name -> triple`` (``Problem.data``).
      x_test: ``(m, d)`` test points.
      test_operators: ``{name: Operator}``, each over the observations' variables and
        fields.
      kind: ``"nngp"`` or ``"ntk"`` (as for :func:`gp_posterior`).
      t: training time of the NTK ensemble (``None``: converged).
      noise: observation-noise variance.
      weights: loss weights per observation (NTK ensemble).
      calibrate: ``False``/``"none"``, ``True``/``"mle"`` or ``"rkhs"``.
      full_cov: also form each ``(m, m)`` test covariance.
      batch_size: test points per row block.
      memory_limit: bytes the computation may plan to use.
      progress: progress bars of the kernels.

    Returns:
      ``{name: Posterior}`` with ``(m,)`` means and stds.
    """
    mode = _check_options(kind=kind, t=t, noise=noise, weights=weights, calibrate=calibrate)
    train, y = _observations(observations)
    if weights is not None and (len(weights) != len(train) or not all(
            np.isfinite(w) and w > 0 for w in weights)):
        raise ValueError(f"weights must be {len(train)} positive numbers (one per "
                         f"observation), got {weights!r}.")
    _check_duplicates(train, y)
    _check_test_operators(test_operators, next(iter(train.values()))[0])
    x_test = next(iter(test_operators.values())).check_points(x_test, "x_test")
    n, m = len(y), len(x_test)
    b = min(m, batch_size or max(1, 2 ** 22 // n))
    parts = {"train kernels (K, its factor, Θ)": ((3 + (kind == "ntk"), n, n), 8),
             "test row block (kernels and products)": ((6, b, n), 8)}
    if full_cov:
        parts["test covariance and cross kernels (full_cov=True)"] = ((2, m, m + n), 8)
    check_memory(parts, f"gp_posterior with {n} observations and {m} test points",
                 "Use fewer test points or observations, a smaller batch_size"
                 + (", or full_cov=False (std only)." if full_cov else "."),
                 limit=memory_limit)
    limit = _memory_limit(memory_limit)
    K = limiting_kernel(net, train, kind="nngp", memory_limit=limit,
                        progress=progress).matrix
    factor = _Factor.of(K, "NNGP train kernel", noise)
    jitter = factor.jitter
    alpha = factor.solve(y, refine=True)                         # (K + noise)^-1 y
    if noise == 0:
        _check_fit(K, alpha, y, train)
    norm2 = float(y @ alpha)                                     # ||m||_H^2
    scale = {"none": 1.0, "mle": norm2 / n, "rkhs": norm2}[mode]
    A_of = None
    if kind == "ntk":
        A_of, jitter = _ntk_map(net, train, t, weights, limit, progress)
    return {name: _predict(net, op, x_test, train, y, K, factor, alpha, A_of, b, kind, t,
                           scale, jitter, full_cov, limit, progress)
            for name, op in test_operators.items()}


def _check_options(*, kind, t, noise, weights, calibrate) -> str:
    """Refuse options that do not apply or are out of range; return the calibration mode
    (``"none"``, ``"mle"`` or ``"rkhs"``)."""
    _check_kind(kind)
    mode = {False: "none", True: "mle"}[calibrate] if isinstance(calibrate, bool) else calibrate
    if mode not in ("none", "mle", "rkhs"):
        raise ValueError(f"calibrate must be False, True, 'none', 'mle' or 'rkhs', got "
                         f"{calibrate!r}.")
    if mode == "rkhs" and kind != "nngp":
        raise ValueError("calibrate='rkhs' is the error bound of the NNGP posterior (kernel "
                         "interpolation); the NTK ensemble's covariance is not a power "
                         "function. Use kind='nngp' or calibrate='mle'.")
    if kind == "nngp" and (t is not None or weights is not None):
        raise ValueError(f"t and weights belong to the NTK ensemble (gradient flow); the "
                         f"NNGP posterior has neither (got t={t!r}, weights={weights!r}). "
                         "Drop them, or use kind='ntk'.")
    if t is not None and not (np.isfinite(t) and t >= 0):
        raise ValueError(f"t must be >= 0 or None, got {t!r}.")
    if noise < 0 or not np.isfinite(noise):
        raise ValueError(f"noise must be a finite variance >= 0, got {noise!r}.")
    return mode


def _check_test_operators(test_operators, first: Operator) -> None:
    """Each test operator over the observations' (``first``'s) variables and fields."""
    if not isinstance(test_operators, dict) or not test_operators:
        raise ValueError("test_operators must be a non-empty mapping name -> Operator, e.g. "
                         "{'p': Operator('p', 'x y', fields='u v p')}.")
    for name, op in test_operators.items():
        if not isinstance(op, Operator):
            raise ValueError(f"test_operators[{name!r}] must be an ntk_pinn.Operator, got "
                             f"{type(op).__name__}.")
        if op.fields != first.fields or op.variables != first.variables:
            raise ValueError(
                f"test operator {name!r} ({op!r}) must use the observations' variables "
                f"{first.variables} and fields {first.fields}.")


def _predict(net, test_operator, x_test, train, y, K, factor, alpha, A_of, b, kind, t, scale,
             jitter, full_cov, limit, progress) -> Posterior:
    """The posterior of one test functional from the factorized train kernel."""
    n, m = len(y), len(x_test)
    test_of = lambda rows: {"test": (test_operator, x_test[rows])}  # noqa: E731
    k_ss = limiting_kernel_diagonal(net, test_operator, x_test, kind="nngp")
    mean, var, size, A_rows = np.empty(m), np.empty(m), np.abs(k_ss), []
    for start in range(0, m, b):
        rows = slice(start, min(start + b, m))
        K_sX = limiting_kernel(net, test_of(rows), train, kind="nngp",
                               memory_limit=limit, progress=progress).matrix
        if kind == "nngp":
            A = factor.solve(K_sX.T).T                           # K_sX K^-1
            mean[rows] = K_sX @ alpha
            terms = [-np.sum(A * K_sX, axis=1)]
        else:
            A = A_of(limiting_kernel(net, test_of(rows), train, kind="ntk",
                                     memory_limit=limit, progress=progress).matrix)
            mean[rows] = A @ y
            AK = np.sum(A * K_sX, axis=1)
            terms = [-AK, -AK, np.sum((A @ K) * A, axis=1)]
        var[rows] = k_ss[rows] + sum(terms)
        size[rows] += sum(np.abs(term) for term in terms)
        if full_cov:
            A_rows.append((A, K_sX))
    var *= scale
    cov = None
    if full_cov:
        cov = scale * _full_cov(net, test_operator, x_test, K,
                                np.concatenate([k for _, k in A_rows]),
                                np.concatenate([a for a, _ in A_rows]), kind, limit, progress)
    res = max(np.sqrt(n) * np.finfo(np.float64).eps * scale * float(np.max(size)),
              float(-min(np.min(var), 0.0)))
    return Posterior(mean, np.sqrt(np.clip(var, 0.0, None)), jitter, kind, t, scale,
                     float(np.sqrt(res)), cov)


def _full_cov(net, op, x, K, K_sX, A, kind, limit, progress) -> np.ndarray:
    """The unit-amplitude test covariance: ``K_ss - A K_Xs`` (NNGP, ``A = K_sX K^-1``) or
    ``K_ss - A K_Xs - K_sX A^T + A K A^T`` (NTK ensemble), symmetrized."""
    K_ss = limiting_kernel(net, {"test": (op, x)}, kind="nngp", memory_limit=limit,
                           progress=progress).matrix
    AK = A @ K_sX.T
    cov = K_ss - AK if kind == "nngp" else K_ss - AK - AK.T + A @ K @ A.T
    return (cov + cov.T) / 2
