"""Differential operators: parsed once with sympy, acting on functions and on kernels.

An :class:`Operator` is ``L[u] = sum_alpha c_alpha(x) * D^alpha u`` (or, for the empirical
side only, any sympy expression of ``u`` and its partial derivatives). Both of its actions
reduce to one routine, :func:`_partial`, that differentiates a function of an array
``x: (..., d)`` with nested forward-mode JVPs whose tangent is a unit coordinate on every
row. For a scalar function ``f: (d,) -> ()`` that is the ordinary partial derivative; for a
batched kernel ``k(x1: (n1, d), x2) -> (n1, n2)`` whose entry ``(i, j)`` depends only on
``x1[i]`` it is the partial derivative of every entry at once. The empirical and the
limiting kernels therefore come from the same definition and cannot disagree.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import (
    convert_xor,
    parse_expr,
    standard_transformations,
)

__all__ = ["Operator", "Term"]

_FUNCTION_NAME = "u"
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])u(?:_([A-Za-z0-9]+))?(?![A-Za-z0-9_(])")


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


def _parse_variables(variables) -> tuple[str, ...]:
    if variables is None:
        raise ValueError(
            "Operator needs `variables`, the column order of point arrays, "
            "e.g. variables='x y' or variables=('t', 'x')."
        )
    if isinstance(variables, str):
        names = tuple(variables.replace(",", " ").split())
    else:
        names = tuple(str(getattr(v, "name", v)) for v in variables)
    if not names:
        raise ValueError("Operator needs at least one variable, e.g. variables='x'.")
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"variable name {name!r} is not an identifier.")
        if name == _FUNCTION_NAME or name.startswith(_FUNCTION_NAME + "_"):
            raise ValueError(
                f"variable name {name!r} clashes with the unknown function 'u'; rename it."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"variables {names} contain a repeated name.")
    return names


def _derivative_name(orders: Sequence[int], names: Sequence[str]) -> str:
    sub = "".join(name for name, k in zip(names, orders) for _ in range(k))
    return _FUNCTION_NAME + ("_" + sub if sub else "")


def _split_subscript(sub: str, names: Sequence[str], token: str) -> tuple[int, ...]:
    """'xxy' -> derivative orders per variable, matching the longest names first."""
    orders = [0] * len(names)
    by_length = sorted(range(len(names)), key=lambda i: -len(names[i]))
    pos = 0
    while pos < len(sub):
        for i in by_length:
            if sub.startswith(names[i], pos):
                orders[i] += 1
                pos += len(names[i])
                break
        else:
            raise ValueError(
                f"unknown variable {sub[pos:]!r} in derivative {token!r}; "
                f"the operator's variables are {tuple(names)}."
            )
    return tuple(orders)


class _Symbols:
    """The sympy symbols of one operator: variables and one symbol per derivative."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.variables = tuple(sp.Symbol(n, real=True) for n in names)
        self.derivatives: dict[tuple[int, ...], sp.Symbol] = {}

    def derivative(self, orders: tuple[int, ...]) -> sp.Symbol:
        if orders not in self.derivatives:
            self.derivatives[orders] = sp.Symbol(_derivative_name(orders, self.names))
        return self.derivatives[orders]

    def orders_of(self, symbol: sp.Symbol) -> tuple[int, ...]:
        for orders, s in self.derivatives.items():
            if s == symbol:
                return orders
        raise KeyError(symbol)


def _parse_string(source: str, syms: _Symbols) -> sp.Expr:
    placeholders: dict[str, sp.Symbol] = {}

    def replace(match: re.Match) -> str:
        token = match.group(0)
        sub = match.group(1) or ""
        orders = _split_subscript(sub, syms.names, token)
        key = f"__ntkpinn_d{len(placeholders)}"
        placeholders[key] = syms.derivative(orders)
        return key

    text = _TOKEN.sub(replace, source)
    local = dict(zip(syms.names, syms.variables))
    local.update(placeholders)
    try:
        expr = parse_expr(
            text, local_dict=local,
            transformations=standard_transformations + (convert_xor,),
        )
    except Exception as err:  # sympy raises SyntaxError, TokenError, TypeError, ...
        raise ValueError(f"could not parse operator {source!r}: {err}") from None
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"operator {source!r} is not an expression (parsed as {expr!r}).")
    return expr


def _from_sympy(expr: sp.Expr, variables) -> tuple[sp.Expr, _Symbols]:
    """Replace ``u(x, y)`` and its ``Derivative``s in a sympy expression by symbols."""
    funcs = {f for f in expr.atoms(AppliedUndef)}
    names = {f.func.__name__ for f in funcs}
    if len(names) != 1:
        raise ValueError(
            "a sympy operator must contain exactly one unknown function, like u(x, y); "
            f"found {sorted(names) or 'none'}."
        )
    (func,) = {f.func for f in funcs}
    args_set = {f.args for f in funcs}
    if len(args_set) != 1:
        raise ValueError(f"the unknown function is applied to different arguments: {args_set}.")
    (args,) = args_set
    if not all(isinstance(a, sp.Symbol) for a in args):
        raise ValueError(f"the unknown function's arguments must be plain symbols, got {args}.")
    arg_names = tuple(a.name for a in args)
    names = _parse_variables(variables if variables is not None else arg_names)
    if set(names) != set(arg_names):
        raise ValueError(
            f"variables {names} differ from the arguments {arg_names} of {func.__name__}."
        )
    syms = _Symbols(names)
    by_name = dict(zip(names, syms.variables))
    call = func(*args)
    replacements = {}
    for d in expr.atoms(sp.Derivative):
        if d.expr != call:
            raise ValueError(f"unsupported derivative {d}: differentiate {call} itself.")
        orders = [0] * len(names)
        for var, count in d.variable_count:
            orders[names.index(var.name)] += int(count)
        replacements[d] = syms.derivative(tuple(orders))
    expr = expr.xreplace(replacements).xreplace({call: syms.derivative((0,) * len(names))})
    expr = expr.xreplace({a: by_name[a.name] for a in args})
    # Symbols equal by name but with other assumptions (plain Symbol('x')) map too.
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols
                          if isinstance(s, sp.Symbol) and s.name in by_name})
    return expr, syms


def _check_symbols(expr: sp.Expr, syms: _Symbols, source: str) -> None:
    unknown_funcs = sorted({str(f.func) for f in expr.atoms(AppliedUndef)})
    if unknown_funcs:
        raise ValueError(
            f"unknown function(s) {unknown_funcs} in operator {source!r}; "
            "use sympy functions (sin, exp, ...) of the variables only."
        )
    allowed = set(syms.variables) | set(syms.derivatives.values())
    unknown = sorted(str(s) for s in expr.free_symbols - allowed)
    if unknown:
        raise ValueError(
            f"unknown symbol(s) {unknown} in operator {source!r}; the variables are "
            f"{syms.names} and the unknown function is written u, u_x, u_xy, ... "
            "(put numeric values in for parameters)."
        )
    if not syms.derivatives:
        raise ValueError(f"operator {source!r} does not involve u.")


def _split_linear(expr: sp.Expr, syms: _Symbols, source: str):
    """(terms, nonlinear_terms): the linear decomposition, or the offending terms."""
    dsyms = list(syms.derivatives.values())
    free = expr.xreplace({d: 0 for d in dsyms})
    if sp.simplify(free) != 0:
        raise ValueError(
            f"operator {source!r} has a term without u ({free}); an operator must be "
            "homogeneous in u: move source terms to the right-hand side f."
        )
    nonlinear = []
    for term in sp.Add.make_args(sp.expand(expr)):
        if any(sp.diff(term, d).has(*dsyms) for d in dsyms) or not all(
            term.is_polynomial(d) for d in dsyms
        ):
            nonlinear.append(term)
    if nonlinear:
        return None, tuple(nonlinear)
    terms = []
    for orders in sorted(syms.derivatives, key=lambda o: (-sum(o), tuple(-k for k in o))):
        coefficient = sp.simplify(sp.diff(expr, syms.derivatives[orders]))
        if coefficient != 0:
            terms.append(Term(coefficient, orders))
    if not terms:
        raise ValueError(f"operator {source!r} is identically zero.")
    return tuple(terms), ()


def _coefficient_fn(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable:
    """Lambdify ``expr`` to ``x: (..., d) -> (...)`` (constants broadcast)."""
    if not expr.free_symbols:
        value = float(expr)
        return lambda x: jnp.full(x.shape[:-1], value, dtype=x.dtype)
    fn = sp.lambdify(variables, expr, modules="jax")
    return lambda x: jnp.broadcast_to(
        fn(*(x[..., i] for i in range(x.shape[-1]))), x.shape[:-1]
    )


def _unit_tangent(x: jnp.ndarray, i: int) -> jnp.ndarray:
    return jnp.zeros_like(x).at[..., i].set(1.0)


def _partial(fn: Callable, x: jnp.ndarray, orders: Sequence[int]) -> jnp.ndarray:
    """``D^orders fn`` at ``x: (..., d)``, by nested forward-mode JVPs.

    The tangent is the unit coordinate on every row of ``x``, so when entry ``i`` (or row
    ``i``) of ``fn(x)`` depends only on ``x[i]`` this is the partial derivative of every
    entry at once: the batched kernel and the single-point function use the same code.
    """
    g = fn
    for axis, count in enumerate(orders):
        for _ in range(count):
            g = _directional(g, axis)
    return g(x)


def _directional(g: Callable, axis: int) -> Callable:
    def dg(x):
        return jax.jvp(g, (x,), (_unit_tangent(x, axis),))[1]

    return dg


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
    """

    expression: object
    variables: object = None

    def __post_init__(self):
        if isinstance(self.expression, str):
            syms = _Symbols(_parse_variables(self.variables))
            expr = _parse_string(self.expression, syms)
            source = self.expression
        elif isinstance(self.expression, sp.Basic):
            expr, syms = _from_sympy(self.expression, self.variables)
            source = str(self.expression)
        else:
            raise ValueError(
                f"Operator expects a string or a sympy expression, got "
                f"{type(self.expression).__name__}."
            )
        _check_symbols(expr, syms, source)
        # Exact rationals for float literals: 0.01*u_xx and u_xx/100 are one operator.
        expr = sp.nsimplify(expr, rational=True)
        terms, nonlinear = _split_linear(expr, syms, source)
        derivative_orders = tuple(sorted(o for o in syms.derivatives if expr.has(syms.derivatives[o])))
        if terms is not None:
            canonical = sp.Add(*(t.coefficient * syms.derivative(t.orders) for t in terms))
        else:
            canonical = sp.simplify(expr)
        set_ = functools.partial(object.__setattr__, self)
        set_("variables", syms.names)
        set_("_syms", syms)
        set_("_expr", canonical)
        set_("_terms", terms)
        set_("_nonlinear", nonlinear)
        set_("_orders", derivative_orders)
        if terms is not None:
            set_("_coefficients", tuple(_coefficient_fn(t.coefficient, syms.variables)
                                        for t in terms))
        else:
            symbols = list(syms.variables) + [syms.derivatives[o] for o in derivative_orders]
            set_("_residual", sp.lambdify(symbols, canonical, modules="jax"))

    # ----------------------------------------------------------------- description
    @property
    def dim(self) -> int:
        """Input dimension ``d`` (the number of variables)."""
        return len(self.variables)

    @property
    def is_linear(self) -> bool:
        return self._terms is not None

    @property
    def terms(self) -> tuple[Term, ...]:
        """The canonical ``coefficient * D^orders`` terms of a linear operator."""
        self.require_linear("terms")
        return self._terms

    @property
    def nonlinear_terms(self) -> tuple[sp.Expr, ...]:
        return self._nonlinear

    @property
    def order(self) -> int:
        """Highest total derivative order of u in the operator."""
        return max(sum(o) for o in self._orders)

    @property
    def sympy_expr(self) -> sp.Expr:
        """The canonical expression, in symbols ``u``, ``u_x``, ... and the variables."""
        return self._expr

    @property
    def variable_symbols(self) -> tuple[sp.Symbol, ...]:
        return self._syms.variables

    def __repr__(self) -> str:
        return f"Operator({str(self._expr)!r}, variables={' '.join(self.variables)!r})"

    def __str__(self) -> str:
        return str(self._expr)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Operator) and self.variables == other.variables
                and sp.simplify(self._expr - other._expr) == 0)

    def __hash__(self) -> int:
        return hash((self.variables, sp.srepr(self._expr)))

    def require_linear(self, use: str = "this use") -> None:
        if not self.is_linear:
            bad = ", ".join(repr(str(t)) for t in self._nonlinear)
            raise ValueError(
                f"operator {str(self._expr)!r} is nonlinear in u (term {bad}); {use} "
                "needs a linear operator. Nonlinear residuals are supported by the "
                "empirical kernel only."
            )

    def check_points(self, points, name: str = "points") -> np.ndarray:
        """Validate ``points: (n, d)`` (or ``(n,)`` when ``d == 1``); float64 copy."""
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
        """Action on a function: ``f: (d,) -> ()`` gives ``L[f]: (d,) -> ()``.

        Works for nonlinear operators too (the residual as written).
        """
        if self.is_linear:
            def lf(x):
                return sum(c(x) * _partial(f, x, t.orders)
                           for c, t in zip(self._coefficients, self._terms))
        else:
            def lf(x):
                derivs = [_partial(f, x, o) for o in self._orders]
                return self._residual(*(x[..., i] for i in range(x.shape[-1])), *derivs)
        return lf

    @property
    def derivative_orders(self) -> tuple[tuple[int, ...], ...]:
        """The multi-indices of the derivatives of ``u`` the operator involves."""
        if self.is_linear:
            return tuple(t.orders for t in self._terms)
        return self._orders

    def linearized_coefficients(self, x: jnp.ndarray, derivatives) -> list:
        """``[dL/d(D^a u)]`` for ``a`` in :attr:`derivative_orders`, at ``x: (d,)`` with
        the values ``derivatives`` of ``D^a u(x)``: the coefficients of the operator's
        linearization (for a linear operator, its own coefficients ``c_a(x)``).
        ``∂θ L[u] = sum_a coefficient_a ∂θ D^a u``."""
        if self.is_linear:
            return [c(x) for c in self._coefficients]
        args = [x[..., i] for i in range(x.shape[-1])]
        derivatives = tuple(derivatives)
        return list(jax.grad(lambda d: self._residual(*args, *d))(derivatives))

    def on_kernel(self, k: Callable, argnum: int = 0) -> Callable:
        """Action on a kernel: ``L`` applied to argument ``argnum`` of ``k``.

        ``k(x1: (n1, d), x2: (n2, d)) -> (n1, n2)`` must have entry ``(i, j)`` depend only
        on ``x1[i]`` and ``x2[j]`` (true of neural-tangents' ``kernel_fn`` for MLPs).
        ``L_x L'_x' k`` is ``op2.on_kernel(op1.on_kernel(k, 0), 1)``.
        """
        self.require_linear("the kernel action")
        if argnum not in (0, 1):
            raise ValueError(f"argnum must be 0 or 1, got {argnum}.")

        def lk(x1, x2):
            x = x1 if argnum == 0 else x2
            fn = (lambda a: k(a, x2)) if argnum == 0 else (lambda a: k(x1, a))
            out = 0.0
            for c, t in zip(self._coefficients, self._terms):
                coef = c(x)
                coef = coef[:, None] if argnum == 0 else coef[None, :]
                out = out + coef * _partial(fn, x, t.orders)
            return out

        return lk

