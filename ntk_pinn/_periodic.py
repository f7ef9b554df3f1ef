"""Periodic constraints: ``B[u](x) = L[u](x) - L[u](x + s)`` for a shift ``s``.

A periodic boundary condition ``u(t, 0) = u(t, 2π)`` compares the solution at two points,
so it is not a pointwise differential operator: :class:`Periodic` wraps one
(``Operator("u", "t x")``) with the shift (``(0, 2π)``). It acts on functions like an
operator (``Periodic(op, s)(f)(x) = op(f)(x) - op(f)(x + s)``), so training and the
empirical NTK take it; the kernel rows are linear in ``∂θ B[u](x) = ∂θ L[u](x) -
∂θ L[u](x + s)``, so every empirical kernel block involving it is the signed sum of the
operator's blocks at ``x`` and ``x + s`` (``ntk_pinn.empirical_kernel``). The limiting
kernel refuses it (not implemented: its tiles are planned per pointwise operator).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from ._operator import Operator

__all__ = ["Periodic"]


@dataclasses.dataclass(frozen=True, eq=False)
class Periodic:
    """``B[u](x) = operator[u](x) - operator[u](x + shift)``.

    Args:
      operator: a pointwise :class:`Operator` (e.g. ``Operator("u", "t x")``).
      shift: ``(d,)`` the period vector in the operator's variable order, e.g.
        ``(0, 2π)`` for periodicity in ``x`` over ``[0, 2π]``.
    """

    operator: Operator
    shift: tuple

    def __post_init__(self):
        if not isinstance(self.operator, Operator):
            raise ValueError(f"Periodic wraps an ntk_pinn.Operator, got "
                             f"{type(self.operator).__name__}.")
        shift = np.asarray(self.shift, dtype=np.float64).reshape(-1)
        if shift.shape != (self.operator.dim,) or not np.all(np.isfinite(shift)) \
                or not np.any(shift):
            raise ValueError(
                f"Periodic shift must be {self.operator.dim} finite numbers, not all 0 (one "
                f"per variable {self.operator.variables}), got {self.shift!r}; e.g. "
                f"Periodic(Operator('u', 't x'), (0.0, 2*np.pi)).")
        object.__setattr__(self, "shift", tuple(float(v) for v in shift))

    # the operator's description, delegated
    variables = property(lambda self: self.operator.variables)
    fields = property(lambda self: self.operator.fields)
    n_fields = property(lambda self: self.operator.n_fields)
    dim = property(lambda self: self.operator.dim)
    order = property(lambda self: self.operator.order)
    is_linear = property(lambda self: self.operator.is_linear)

    def check_points(self, points, name: str = "points") -> np.ndarray:
        return self.operator.check_points(points, name)

    def shifted(self, points) -> np.ndarray:
        """``points + shift``: ``(n, d)``."""
        return np.asarray(points, dtype=np.float64) + np.asarray(self.shift)

    def __call__(self, f):
        """``B[f]: (d,) -> ()``, as :meth:`Operator.__call__`."""
        g = self.operator(f)
        shift = jnp.asarray(self.shift)
        return lambda x: g(x) - g(x + shift.astype(jnp.asarray(x).dtype))

    def __str__(self) -> str:
        return f"({self.operator})(x) - ({self.operator})(x + {list(self.shift)})"

    def __repr__(self) -> str:
        return f"Periodic({self.operator!r}, shift={self.shift})"
