"""Parsing operators: a string in ``u, u_x, u_xy, ...`` or a sympy expression in an applied
function ``u(x, y)`` becomes one sympy expression in the variables' symbols and one symbol
per derivative of ``u`` (:class:`Symbols`), with float literals made exact rationals."""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import (
    convert_xor,
    parse_expr,
    standard_transformations,
)

__all__ = []  # internal: Operator parses through it

FUNCTION_NAME = "u"
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])u(?:_([A-Za-z0-9]+))?(?![A-Za-z0-9_(])")


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
        if name == FUNCTION_NAME or name.startswith(FUNCTION_NAME + "_"):
            raise ValueError(
                f"variable name {name!r} clashes with the unknown function 'u'; rename it."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"variables {names} contain a repeated name.")
    return names


def _derivative_name(orders: Sequence[int], names: Sequence[str]) -> str:
    sub = "".join(name for name, k in zip(names, orders) for _ in range(k))
    return FUNCTION_NAME + ("_" + sub if sub else "")


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


class Symbols:
    """The sympy symbols of one operator: variables and one symbol per derivative."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.variables = tuple(sp.Symbol(n, real=True) for n in names)
        self.derivatives: dict[tuple[int, ...], sp.Symbol] = {}

    def derivative(self, orders: tuple[int, ...]) -> sp.Symbol:
        if orders not in self.derivatives:
            self.derivatives[orders] = sp.Symbol(_derivative_name(orders, self.names))
        return self.derivatives[orders]


def _parse_string(source: str, syms: Symbols) -> sp.Expr:
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


def _from_sympy(expr: sp.Expr, variables) -> tuple[sp.Expr, Symbols]:
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
    syms = Symbols(names)
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


def _check_symbols(expr: sp.Expr, syms: Symbols, source: str) -> None:
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


@dataclasses.dataclass(frozen=True)
class Parsed:
    """``expr``: the operator in ``symbols``' variables and derivative symbols (exact
    rationals for float literals); ``source``: the input as text, for error messages."""

    expr: sp.Expr
    symbols: Symbols
    source: str


def parse(expression, variables) -> Parsed:
    """Parse a string (with ``variables``) or a sympy expression in ``u(...)``."""
    if isinstance(expression, str):
        syms = Symbols(_parse_variables(variables))
        expr = _parse_string(expression, syms)
        source = expression
    elif isinstance(expression, sp.Basic):
        expr, syms = _from_sympy(expression, variables)
        source = str(expression)
    else:
        raise ValueError(
            f"Operator expects a string or a sympy expression, got "
            f"{type(expression).__name__}."
        )
    _check_symbols(expr, syms, source)
    # Exact rationals for float literals: 0.01*u_xx and u_xx/100 are one operator.
    return Parsed(sp.nsimplify(expr, rational=True), syms, source)
