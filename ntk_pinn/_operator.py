"""Differential operators: parsed once with sympy, acting on functions and on kernels.

An :class:`Operator` is ``L[u] = sum_alpha c_alpha(x) * D^alpha u`` (or, for the empirical
side only, any sympy expression of ``u`` and its partial derivatives). Over several fields
(a system: ``fields="u v p"``) it is ``sum_t c_t(x) D^(alpha_t) u_(f_t)``; its kernel
action is per field (:meth:`Operator.on_kernel` with ``field=``), since the
infinite-width kernel of independent output heads is ``Θ_fg = δ_fg Θ``
(``theory.operator_kernel_fn``, docs/systems.md). Parsing lives in
``_parse``, the linear and nonlinear forms the operator delegates to in ``_forms``, and
both actions reduce to one derivative routine, ``_derivatives.partial``: nested
forward-mode JVPs whose tangent is a unit coordinate on every row. For a scalar function
``f: (d,) -> ()`` that is the ordinary partial derivative; for a batched kernel
``k(x1: (n1, d), x2) -> (n1, n2)`` whose entry ``(i, j)`` depends only on ``x1[i]`` it is
the partial derivative of every entry at once. The empirical and the limiting kernels
therefore come from the same definition and cannot disagree.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ._forms import LinearForm, Term, make_form
from ._parse import parse

__all__ = ["Operator"]


@dataclasses.dataclass(frozen=True, eq=False)
class Operator:
    """A differential operator in ``u``, e.g. ``Operator("u_t - 0.01*u_xx", "t x")``.

    Args:
      expression: a string in ``u``, ``u_x``, ``u_xy``, ... (subscripts name the
        variables, longest name first) and the variables, e.g.
        ``"-(1 + x**2)*u_xx - 2*x*u_x + sin(y)*u"``; or a sympy expression in an
        applied function ``u(x, y)`` and its ``Derivative``s.
      variables: the variable names, in the column order of point arrays: ``"x y"`` or
        ``("t", "x")``. Inferred from ``u(...)``'s arguments for sympy input.

    Linear operators (``is_linear``) act on kernels; any operator, linear or not, acts on
    functions (the empirical side differentiates nonlinear residuals as they are).
    Two operators are equal when their canonical expressions are (``0.01*u_xx`` and
    ``u_xx/100`` are one operator); equality and hashing compare the same key.
    """

    expression: object
    variables: object = None
    fields: object = None

    def __post_init__(self):
        parsed = parse(self.expression, self.variables, self.fields)
        form = make_form(parsed)
        set_ = functools.partial(object.__setattr__, self)
        set_("variables", parsed.symbols.names)
        set_("fields", parsed.symbols.fields)
        set_("_symbols", parsed.symbols.variables)
        set_("_form", form)
        set_("_key", (parsed.symbols.names, parsed.symbols.fields, sp.srepr(form.canonical)))

    # ----------------------------------------------------------------- description
    @property
    def dim(self) -> int:
        """Input dimension ``d`` (the number of variables)."""
        return len(self.variables)

    @property
    def is_linear(self) -> bool:
        return isinstance(self._form, LinearForm)

    @property
    def terms(self) -> tuple[Term, ...]:
        """The canonical ``coefficient * D^orders`` terms of a linear operator."""
        return self._linear("terms").terms

    @property
    def nonlinear_terms(self) -> tuple[sp.Expr, ...]:
        return () if self.is_linear else self._form.terms

    @property
    def derivatives(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """``(field index, multi-index)`` of every derivative of a field the operator
        involves (for a linear operator, one per term, in :attr:`terms` order); the index
        is into :attr:`fields`."""
        return self._form.derivatives

    @property
    def derivative_orders(self) -> tuple[tuple[int, ...], ...]:
        """The multi-indices of :attr:`derivatives` (for one field: the derivatives of
        ``u`` the operator involves)."""
        return tuple(orders for _, orders in self.derivatives)

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    @property
    def fields_used(self) -> tuple[int, ...]:
        """Indices of the fields that appear in the operator, ascending."""
        return tuple(sorted({f for f, _ in self.derivatives}))

    @property
    def order(self) -> int:
        """Highest total derivative order of a field in the operator."""
        return max(sum(o) for o in self.derivative_orders)

    @property
    def sympy_expr(self) -> sp.Expr:
        """The canonical expression, in symbols ``u``, ``u_x``, ... and the variables."""
        return self._form.canonical

    @property
    def variable_symbols(self) -> tuple[sp.Symbol, ...]:
        return self._symbols

    def __repr__(self) -> str:
        fields = "" if self.fields == ("u",) else f", fields={' '.join(self.fields)!r}"
        return (f"Operator({str(self.sympy_expr)!r}, variables={' '.join(self.variables)!r}"
                f"{fields})")

    def __str__(self) -> str:
        return str(self.sympy_expr)

    def __eq__(self, other) -> bool:
        return isinstance(other, Operator) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def _linear(self, use: str) -> LinearForm:
        self.require_linear(use)
        return self._form

    def require_linear(self, use: str = "this use") -> None:
        if not self.is_linear:
            bad = ", ".join(repr(str(t)) for t in self._form.terms)
            what = "u" if self.fields == ("u",) else "its fields"
            raise ValueError(
                f"operator {str(self)!r} is nonlinear in {what} (term {bad}); {use} "
                "needs a linear operator. Nonlinear residuals are supported by the "
                "empirical kernel only."
            )

    def check_points(self, points, name: str = "points") -> np.ndarray:
        """Validate ``points: (n, d)``; float64 copy. For a one-variable operator a 1-D
        array ``(n,)`` means ``n`` points (it becomes ``(n, 1)``); for ``d > 1`` it is
        refused, since it could be one point or ``n`` of them."""
        arr = np.asarray(points, dtype=np.float64) if not isinstance(points, jax.Array) \
            else np.asarray(points).astype(np.float64)
        if arr.ndim == 1 and self.dim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(
                f"{name} have shape {arr.shape}, but operator {str(self)!r} has "
                f"{self.dim} variable(s) {self.variables}: pass an array of shape "
                f"(n, {self.dim}) whose columns are {self.variables}."
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} are empty (shape {arr.shape}).")
        bad = ~np.isfinite(arr).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(
                f"{name} contain NaN or inf in {int(bad.sum())} row(s), e.g. rows {rows}."
            )
        return arr

    # ----------------------------------------------------------------- actions
    def __call__(self, f: Callable) -> Callable:
        """Action on a function: ``f: (d,) -> ()`` gives ``L[f]: (d,) -> ()``; over
        several fields ``f: (d,) -> (F,)`` returns every field at once, in :attr:`fields`
        order.

        Works for nonlinear operators too (the residual as written).
        """
        return self._form.apply(f)

    def coefficients(self, x: jnp.ndarray) -> list:
        """``[c_t(x)]`` for the :attr:`terms` of a linear operator, at ``x: (..., d)``
        (each of shape ``x.shape[:-1]``)."""
        return self._linear("coefficients").coefficients(x)

    def evaluate(self, x: jnp.ndarray, derivatives) -> jnp.ndarray:
        """The operator's expression at ``x: (..., d)`` given the values ``derivatives``
        of ``D^a u_f(x)`` for ``(f, a)`` in :attr:`derivatives` (each ``x.shape[:-1]``)."""
        return self._form.evaluate(x, list(derivatives))

    def linearized_coefficients(self, x: jnp.ndarray, derivatives) -> list:
        """``[dL/d(D^a u_f)]`` for ``(f, a)`` in :attr:`derivatives`, at ``x: (d,)`` with
        the values ``derivatives`` of ``D^a u_f(x)``: the coefficients of the operator's
        linearization (for a linear operator, its own coefficients ``c_a(x)``).
        ``∂θ L[u] = sum_(f,a) coefficient_(f,a) ∂θ D^a u_f``."""
        return self._form.linearized_coefficients(x, derivatives)

    def field_index(self, field) -> int:
        """The index of ``field`` (a name or an index) in :attr:`fields`."""
        if isinstance(field, (int, np.integer)) and not isinstance(field, bool):
            if 0 <= field < self.n_fields:
                return int(field)
        elif field in self.fields:
            return self.fields.index(field)
        raise ValueError(f"unknown field {field!r} for operator {str(self)!r}; its fields "
                         f"are {self.fields}.")

    def part(self, field) -> "Operator | None":
        """``L^f``: the terms of a linear operator on ``field`` (name or index), as a
        one-field operator in ``u`` (``None`` when no term is on it). Its kernel action is
        this operator's ``on_kernel(k, field=f)``."""
        form = self._linear("part")
        index = self.field_index(field)
        u = sp.Function("u")(*self._symbols)
        expr = sum((t.coefficient * (sp.diff(u, *[(v, k) for v, k in zip(self._symbols, t.orders)
                                                  if k]) if any(t.orders) else u)
                    for t, (f, _) in zip(form.terms, form.derivatives) if f == index), sp.S(0))
        return None if expr == 0 else Operator(expr, variables=self.variables)

    def on_kernel(self, k: Callable, argnum: int = 0, *, field=None) -> Callable:
        """Action on a kernel: ``L`` applied to argument ``argnum`` of ``k``.

        ``k(x1: (n1, d), x2: (n2, d)) -> (n1, n2)`` must have entry ``(i, j)`` depend only
        on ``x1[i]`` and ``x2[j]`` (true of neural-tangents' ``kernel_fn`` for MLPs).
        ``L_x L'_x' k`` is ``op2.on_kernel(op1.on_kernel(k, 0), 1)``.

        Over several fields, ``field`` (name or index; required) picks the part ``L^f`` of
        the operator on that field (zero if it has no term there): the kernel of a system
        is ``sum_f L1^f_x L2^f_x' k`` (``theory.operator_kernel_fn``).
        """
        form = self._linear("the kernel action")
        if argnum not in (0, 1):
            raise ValueError(f"argnum must be 0 or 1, got {argnum}.")
        if field is None:
            if self.n_fields > 1:
                raise ValueError(
                    f"operator {str(self)!r} has fields {self.fields}: its kernel action is "
                    "per field; pass field=... (the system's kernel sums the fields' parts, "
                    "theory.operator_kernel_fn).")
            field = 0
        return form.on_kernel(k, argnum, self.field_index(field))
