"""The two forms an :class:`~ntk_pinn.Operator` can take, each a small object it delegates
to: :class:`LinearForm` ``sum_t c_t(x) D^(a_t) u_(f_t)`` (acts on functions and on kernels)
and :class:`NonlinearForm`, any expression of the fields and their derivatives (acts on
functions; its linearization feeds the empirical kernel). :func:`make_form` decides which,
from a :class:`~ntk_pinn._parse.Parsed` operator.

A derivative is keyed ``(field index, orders)``. A function acted on maps ``x: (d,)`` to
``()`` (one field) or to ``(F,)``, one value per field in the operator's ``fields`` order.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import sympy as sp

from ._derivatives import partial
from ._parse import Parsed

__all__ = ["Term"]  # the forms themselves are internal to Operator


@dataclasses.dataclass(frozen=True)
class Term:
    """One term ``coefficient(x) * D^orders field`` of a linear operator.

    ``orders[i]`` is the derivative order in ``variables[i]``; ``coefficient`` is a sympy
    expression in the variables' symbols; ``field`` names the unknown it differentiates.
    """

    coefficient: sp.Expr
    orders: tuple[int, ...]
    field: str = "u"

    @property
    def order(self) -> int:
        return sum(self.orders)


def _columns(x):
    return [x[..., i] for i in range(x.shape[-1])]


def _derivative_values(f: Callable, x, keys) -> list:
    """``[D^orders f_field(x)]`` for ``keys = [(field, orders)]``: one nested JVP per
    distinct ``orders`` (all fields at once), then the field picked from ``f``'s output
    (a scalar for one field, ``(F,)`` for several)."""
    cache = {}
    out = []
    for field, orders in keys:
        if orders not in cache:
            cache[orders] = partial(f, x, orders)
        value = cache[orders]
        out.append(value[..., field] if jnp.ndim(value) > jnp.ndim(x) - 1 else value)
    return out


def _coefficient_fn(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable:
    """Lambdify ``expr`` to ``x: (..., d) -> (...)`` (constants broadcast)."""
    if not expr.free_symbols:
        value = float(expr)
        return lambda x: jnp.full(x.shape[:-1], value, dtype=x.dtype)
    fn = sp.lambdify(variables, expr, modules="jax")
    return lambda x: jnp.broadcast_to(fn(*_columns(x)), x.shape[:-1])


@dataclasses.dataclass(frozen=True, eq=False)
class LinearForm:
    """``L[u] = sum_t coefficient_t(x) D^(orders_t) u_(field_t)`` with canonical, nonzero
    terms; ``derivatives[t] = (field index, orders)`` of term ``t``."""

    terms: tuple[Term, ...]
    coefficient_fns: tuple[Callable, ...]
    canonical: sp.Expr
    derivatives: tuple[tuple[int, tuple[int, ...]], ...]

    def coefficients(self, x) -> list:
        """``[c_t(x)]``, each of shape ``x.shape[:-1]``."""
        return [c(x) for c in self.coefficient_fns]

    def evaluate(self, x, derivatives) -> jnp.ndarray:
        return sum(c * d for c, d in zip(self.coefficients(x), derivatives))

    def linearized_coefficients(self, x, derivatives) -> list:
        return self.coefficients(x)

    def apply(self, f: Callable) -> Callable:
        def lf(x):
            return self.evaluate(x, _derivative_values(f, x, self.derivatives))

        return lf

    def on_kernel(self, k: Callable, argnum: int, field: int = 0) -> Callable:
        """``L^field`` (the terms on ``field``) applied to argument ``argnum`` of a scalar
        kernel ``k``; zero when no term is on ``field``."""
        chosen = [i for i, (f, _) in enumerate(self.derivatives) if f == field]

        def lk(x1, x2):
            if not chosen:
                return jnp.zeros((x1.shape[0], x2.shape[0]), x1.dtype)
            x = x1 if argnum == 0 else x2
            fn = (lambda a: k(a, x2)) if argnum == 0 else (lambda a: k(x1, a))
            coefs = self.coefficients(x)
            out = 0.0
            for i in chosen:
                coef = coefs[i][:, None] if argnum == 0 else coefs[i][None, :]
                out = out + coef * partial(fn, x, self.terms[i].orders)
            return out

        return lk


@dataclasses.dataclass(frozen=True, eq=False)
class NonlinearForm:
    """Any expression of the fields and their ``derivatives`` (``(field index, orders)``);
    ``terms`` are the ones that make it nonlinear; ``residual(*columns of x,
    *derivatives)``."""

    terms: tuple[sp.Expr, ...]
    derivatives: tuple[tuple[int, tuple[int, ...]], ...]
    residual: Callable
    canonical: sp.Expr

    def evaluate(self, x, derivatives) -> jnp.ndarray:
        return self.residual(*_columns(x), *derivatives)

    def linearized_coefficients(self, x, derivatives) -> list:
        args = _columns(x)
        return list(jax.grad(lambda d: self.residual(*args, *d))(tuple(derivatives)))

    def apply(self, f: Callable) -> Callable:
        def lf(x):
            return self.evaluate(x, _derivative_values(f, x, self.derivatives))

        return lf


def make_form(parsed: Parsed) -> LinearForm | NonlinearForm:
    """The linear decomposition of ``parsed``, or its nonlinear form (offending terms
    recorded). Raises ValueError for a term without a field or an operator that is zero."""
    expr, syms, source = parsed.expr, parsed.symbols, parsed.source
    dsyms = list(syms.derivatives.values())
    free = expr.xreplace({d: 0 for d in dsyms})
    if sp.simplify(free) != 0:
        fields = syms.fields[0] if len(syms.fields) == 1 else \
            f"any of the fields {', '.join(syms.fields)}"
        raise ValueError(
            f"operator {source!r} has a term without {fields} ({free}); an operator must "
            f"be homogeneous in {'u' if fields == 'u' else 'its fields'}: move source "
            "terms to the right-hand side f."
        )
    nonlinear = tuple(
        term for term in sp.Add.make_args(sp.expand(expr))
        if any(sp.diff(term, d).has(*dsyms) for d in dsyms)
        or not all(term.is_polynomial(d) for d in dsyms))
    if nonlinear:
        keys = tuple(sorted(k for k, s in syms.derivatives.items() if expr.has(s)))
        canonical = sp.simplify(expr)
        residual = sp.lambdify(list(syms.variables) + [syms.derivatives[k] for k in keys],
                               canonical, modules="jax")
        return NonlinearForm(nonlinear, keys, residual, canonical)
    terms, keys = [], []
    for key in sorted(syms.derivatives,
                      key=lambda k: (k[0], -sum(k[1]), tuple(-o for o in k[1]))):
        coefficient = sp.simplify(sp.diff(expr, syms.derivatives[key]))
        if coefficient != 0:
            terms.append(Term(coefficient, key[1], syms.fields[key[0]]))
            keys.append(key)
    if not terms:
        raise ValueError(f"operator {source!r} is identically zero.")
    canonical = sp.Add(*(t.coefficient * syms.derivative(*k) for t, k in zip(terms, keys)))
    return LinearForm(tuple(terms),
                      tuple(_coefficient_fn(t.coefficient, syms.variables) for t in terms),
                      canonical, tuple(keys))
