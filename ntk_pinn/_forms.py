"""The two forms an :class:`~ntk_pinn.Operator` can take, each a small object it delegates
to: :class:`LinearForm` ``sum_a c_a(x) D^a u`` (acts on functions and on kernels) and
:class:`NonlinearForm`, any expression of ``u`` and its derivatives (acts on functions;
its linearization feeds the empirical kernel). :func:`make_form` decides which, from a
:class:`~ntk_pinn._parse.Parsed` operator."""

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
    """One term ``coefficient(x) * D^orders u`` of a linear operator.

    ``orders[i]`` is the derivative order in ``variables[i]``; ``coefficient`` is a sympy
    expression in the variables' symbols.
    """

    coefficient: sp.Expr
    orders: tuple[int, ...]

    @property
    def order(self) -> int:
        return sum(self.orders)


def _columns(x):
    return [x[..., i] for i in range(x.shape[-1])]


def _coefficient_fn(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable:
    """Lambdify ``expr`` to ``x: (..., d) -> (...)`` (constants broadcast)."""
    if not expr.free_symbols:
        value = float(expr)
        return lambda x: jnp.full(x.shape[:-1], value, dtype=x.dtype)
    fn = sp.lambdify(variables, expr, modules="jax")
    return lambda x: jnp.broadcast_to(fn(*_columns(x)), x.shape[:-1])


@dataclasses.dataclass(frozen=True, eq=False)
class LinearForm:
    """``L[u] = sum_t coefficient_t(x) D^(orders_t) u`` with canonical, nonzero terms."""

    terms: tuple[Term, ...]
    coefficient_fns: tuple[Callable, ...]
    canonical: sp.Expr

    @property
    def derivative_orders(self) -> tuple[tuple[int, ...], ...]:
        return tuple(t.orders for t in self.terms)

    def coefficients(self, x) -> list:
        """``[c_t(x)]``, each of shape ``x.shape[:-1]``."""
        return [c(x) for c in self.coefficient_fns]

    def evaluate(self, x, derivatives) -> jnp.ndarray:
        return sum(c * d for c, d in zip(self.coefficients(x), derivatives))

    def linearized_coefficients(self, x, derivatives) -> list:
        return self.coefficients(x)

    def apply(self, f: Callable) -> Callable:
        def lf(x):
            return self.evaluate(x, [partial(f, x, t.orders) for t in self.terms])

        return lf

    def on_kernel(self, k: Callable, argnum: int) -> Callable:
        def lk(x1, x2):
            x = x1 if argnum == 0 else x2
            fn = (lambda a: k(a, x2)) if argnum == 0 else (lambda a: k(x1, a))
            out = 0.0
            for coef, t in zip(self.coefficients(x), self.terms):
                coef = coef[:, None] if argnum == 0 else coef[None, :]
                out = out + coef * partial(fn, x, t.orders)
            return out

        return lk


@dataclasses.dataclass(frozen=True, eq=False)
class NonlinearForm:
    """Any expression of ``u`` and its derivatives ``derivative_orders``; ``terms`` are the
    ones that make it nonlinear; ``residual(*columns of x, *derivatives)``."""

    terms: tuple[sp.Expr, ...]
    derivative_orders: tuple[tuple[int, ...], ...]
    residual: Callable
    canonical: sp.Expr

    def evaluate(self, x, derivatives) -> jnp.ndarray:
        return self.residual(*_columns(x), *derivatives)

    def linearized_coefficients(self, x, derivatives) -> list:
        args = _columns(x)
        return list(jax.grad(lambda d: self.residual(*args, *d))(tuple(derivatives)))

    def apply(self, f: Callable) -> Callable:
        def lf(x):
            return self.evaluate(x, [partial(f, x, o) for o in self.derivative_orders])

        return lf


def make_form(parsed: Parsed) -> LinearForm | NonlinearForm:
    """The linear decomposition of ``parsed``, or its nonlinear form (offending terms
    recorded). Raises ValueError for a term without ``u`` or an operator that is zero."""
    expr, syms, source = parsed.expr, parsed.symbols, parsed.source
    dsyms = list(syms.derivatives.values())
    free = expr.xreplace({d: 0 for d in dsyms})
    if sp.simplify(free) != 0:
        raise ValueError(
            f"operator {source!r} has a term without u ({free}); an operator must be "
            "homogeneous in u: move source terms to the right-hand side f."
        )
    nonlinear = tuple(
        term for term in sp.Add.make_args(sp.expand(expr))
        if any(sp.diff(term, d).has(*dsyms) for d in dsyms)
        or not all(term.is_polynomial(d) for d in dsyms))
    if nonlinear:
        orders = tuple(sorted(o for o, s in syms.derivatives.items() if expr.has(s)))
        canonical = sp.simplify(expr)
        residual = sp.lambdify(list(syms.variables) + [syms.derivatives[o] for o in orders],
                               canonical, modules="jax")
        return NonlinearForm(nonlinear, orders, residual, canonical)
    terms = []
    for orders in sorted(syms.derivatives, key=lambda o: (-sum(o), tuple(-k for k in o))):
        coefficient = sp.simplify(sp.diff(expr, syms.derivatives[orders]))
        if coefficient != 0:
            terms.append(Term(coefficient, orders))
    if not terms:
        raise ValueError(f"operator {source!r} is identically zero.")
    canonical = sp.Add(*(t.coefficient * syms.derivative(t.orders) for t in terms))
    return LinearForm(tuple(terms),
                      tuple(_coefficient_fn(t.coefficient, syms.variables) for t in terms),
                      canonical)
