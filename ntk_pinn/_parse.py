"""Parsing operators: a string in ``u, u_x, u_xy, ...`` (or, for a system, in several fields
``u, v_x, p_y, ...``) or a sympy expression in applied functions ``u(x, y)`` becomes one
sympy expression in the variables' symbols and one symbol per derivative of a field
(:class:`Symbols`), with float literals made exact rationals."""

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

DEFAULT_FIELDS = ("u",)


def _token(fields: tuple[str, ...]) -> re.Pattern:
    """``field`` or ``field_subscript`` for any of ``fields`` (longest names first), not
    inside another name or a call."""
    names = "|".join(re.escape(f) for f in sorted(fields, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_.])({names})(?:_([A-Za-z0-9]+))?(?![A-Za-z0-9_(])")


def _names(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    try:
        return tuple(str(getattr(v, "name", v)) for v in value)
    except TypeError:
        raise ValueError(f"{what} must be a string of names like 'x y' or a sequence of "
                         f"names, got {value!r}.") from None


def parse_fields(fields) -> tuple[str, ...]:
    """The unknown fields' names, in the order of the network's outputs: ``"u v p"`` or
    ``("u", "v", "p")``; default ``("u",)``."""
    if fields is None:
        return DEFAULT_FIELDS
    names = _names(fields, "fields")
    if not names:
        raise ValueError("Operator needs at least one field, e.g. fields='u' or "
                         "fields='u v p'.")
    for name in names:
        if not name.isidentifier() or "_" in name:
            raise ValueError(
                f"field name {name!r} must be an identifier without '_' (a subscript after "
                f"'_' names derivatives: {name.split('_')[0] or 'u'}_xx), e.g. 'u', 'v', 'p', "
                "'u1'.")
    if len(set(names)) != len(names):
        raise ValueError(f"fields {names} contain a repeated name.")
    return names


def _parse_variables(variables, fields: tuple[str, ...] = DEFAULT_FIELDS) -> tuple[str, ...]:
    if variables is None:
        raise ValueError(
            "Operator needs `variables`, the column order of point arrays, "
            "e.g. variables='x y' or variables=('t', 'x')."
        )
    names = _names(variables, "variables")
    if not names:
        raise ValueError("Operator needs at least one variable, e.g. variables='x'.")
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"variable name {name!r} is not an identifier.")
        for field in fields:
            if name == field or name.startswith(field + "_"):
                raise ValueError(
                    f"variable name {name!r} clashes with the unknown field {field!r}; "
                    "rename it.")
    if len(set(names)) != len(names):
        raise ValueError(f"variables {names} contain a repeated name.")
    return names


def _derivative_name(field: str, orders: Sequence[int], names: Sequence[str]) -> str:
    sub = "".join(name for name, k in zip(names, orders) for _ in range(k))
    return field + ("_" + sub if sub else "")


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
    """The sympy symbols of one operator: variables and one symbol per derivative of a
    field, keyed ``(field index, orders)``."""

    def __init__(self, names: tuple[str, ...], fields: tuple[str, ...] = DEFAULT_FIELDS):
        self.names = names
        self.fields = fields
        self.variables = tuple(sp.Symbol(n, real=True) for n in names)
        self.derivatives: dict[tuple[int, tuple[int, ...]], sp.Symbol] = {}

    def derivative(self, field: int, orders: tuple[int, ...]) -> sp.Symbol:
        key = (field, tuple(orders))
        if key not in self.derivatives:
            self.derivatives[key] = sp.Symbol(
                _derivative_name(self.fields[field], orders, self.names))
        return self.derivatives[key]


def _parse_string(source: str, syms: Symbols) -> sp.Expr:
    placeholders: dict[str, sp.Symbol] = {}

    def replace(match: re.Match) -> str:
        token = match.group(0)
        sub = match.group(2) or ""
        orders = _split_subscript(sub, syms.names, token)
        key = f"__ntkpinn_d{len(placeholders)}"
        placeholders[key] = syms.derivative(syms.fields.index(match.group(1)), orders)
        return key

    text = _token(syms.fields).sub(replace, source)
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


def _from_sympy(expr: sp.Expr, variables, fields) -> tuple[sp.Expr, Symbols]:
    """Replace the fields ``u(x, y)``, ``v(x, y)``, ... and their ``Derivative``s in a sympy
    expression by symbols. Without ``fields`` the expression must hold exactly one
    unknown function, which becomes the field (any name)."""
    funcs = {f for f in expr.atoms(AppliedUndef)}
    names = sorted({f.func.__name__ for f in funcs})
    if fields is None:
        if len(names) != 1:
            raise ValueError(
                "a sympy operator without `fields` must contain exactly one unknown "
                f"function, like u(x, y); found {names or 'none'}. For a system pass the "
                "fields in the network's output order, e.g. fields='u v p'.")
        fields = tuple(names)
    fields = parse_fields(fields)
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} in operator {expr}; the fields are "
                         f"{fields} (add it to fields=...).")
    if not funcs:
        raise ValueError(f"operator {expr} involves none of the fields {fields}.")
    args_set = {f.args for f in funcs}
    if len(args_set) != 1:
        raise ValueError(f"the fields are applied to different arguments: {args_set}.")
    (args,) = args_set
    if not all(isinstance(a, sp.Symbol) for a in args):
        raise ValueError(f"the fields' arguments must be plain symbols, got {args}.")
    arg_names = tuple(a.name for a in args)
    names = _parse_variables(variables if variables is not None else arg_names, fields)
    if set(names) != set(arg_names):
        raise ValueError(
            f"variables {names} differ from the arguments {arg_names} of the fields.")
    syms = Symbols(names, fields)
    by_name = dict(zip(names, syms.variables))
    calls = {f.func.__name__: f for f in funcs}
    replacements = {}
    for d in expr.atoms(sp.Derivative):
        if d.expr not in funcs:
            raise ValueError(f"unsupported derivative {d}: differentiate a field such as "
                             f"{next(iter(funcs))} itself.")
        orders = [0] * len(names)
        for var, count in d.variable_count:
            orders[names.index(var.name)] += int(count)
        replacements[d] = syms.derivative(fields.index(d.expr.func.__name__), tuple(orders))
    expr = expr.xreplace(replacements).xreplace(
        {call: syms.derivative(fields.index(n), (0,) * len(names)) for n, call in calls.items()})
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
    for name in unknown:  # w_y with w not a field: name the field, not a symbol
        head, _, sub = name.partition("_")
        if sub and head not in syms.names:
            try:
                _split_subscript(sub, syms.names, name)
            except ValueError:
                continue
            raise ValueError(
                f"unknown field {head!r} in {name!r} of operator {source!r}; the fields are "
                f"{syms.fields} (declare it: fields='{' '.join(syms.fields + (head,))}').")
    if unknown:
        written = ", ".join(f"{f}, {f}_x" for f in syms.fields[:2])
        raise ValueError(
            f"unknown symbol(s) {unknown} in operator {source!r}; the variables are "
            f"{syms.names} and the unknown field(s) {syms.fields} are written {written}, "
            "... (put numeric values in for parameters)."
        )
    if not syms.derivatives:
        what = syms.fields[0] if len(syms.fields) == 1 else f"any of the fields {syms.fields}"
        raise ValueError(f"operator {source!r} does not involve {what}.")


@dataclasses.dataclass(frozen=True)
class Parsed:
    """``expr``: the operator in ``symbols``' variables and derivative symbols (exact
    rationals for float literals); ``source``: the input as text, for error messages."""

    expr: sp.Expr
    symbols: Symbols
    source: str


def parse(expression, variables, fields=None) -> Parsed:
    """Parse a string (with ``variables`` and ``fields``, default ``"u"``) or a sympy
    expression in ``u(...)`` (several fields: ``fields`` names them, in output order)."""
    if isinstance(expression, str):
        fields = parse_fields(fields)
        syms = Symbols(_parse_variables(variables, fields), fields)
        expr = _parse_string(expression, syms)
        source = expression
    elif isinstance(expression, sp.Basic):
        expr, syms = _from_sympy(expression, variables, fields)
        source = str(expression)
    else:
        raise ValueError(
            f"Operator expects a string or a sympy expression, got "
            f"{type(expression).__name__}."
        )
    _check_symbols(expr, syms, source)
    # Exact rationals for float literals: 0.01*u_xx and u_xx/100 are one operator.
    return Parsed(sp.nsimplify(expr, rational=True), syms, source)
