"""Sympy closed forms of the one-hidden-layer erf kernels, with operators applied symbolically.

An independent check of ``limiting_kernel``: no neural-tangents code and no automatic
differentiation. For ``f(x) = (W/sqrt(n)) v . erf((W/sqrt(d)) A x + b_std a) + b_std c``
(NTK parameterization, all parameters standard normal) as width ``n -> inf``:

    q(x, x')  = W**2 x.x' / d + b**2
    Σ(x, x')  = (2/pi) asin(2 q12 / sqrt((1 + 2 q11)(1 + 2 q22)))
    Σ'(x, x') = (4/pi) / sqrt((1 + 2 q11)(1 + 2 q22) - 4 q12**2)
    NNGP      = W**2 Σ + b**2
    NTK       = W**2 Σ + b**2 + W**2 q12 Σ'
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ntk_pinn import BlockKernel, Network, Operator
from ntk_pinn.internal import kernel_blocks

__all__ = ["erf_kernel", "operator_kernel", "limiting_kernel"]


def _exact(value: float) -> sp.Expr:
    return sp.nsimplify(value, rational=True)


def erf_kernel(dim: int, kind: str = "ntk", W_std: float = 1.0, b_std: float = 1.0):
    """``(expr, xs, xps)``: the kernel of a one-hidden-layer erf network in symbols
    ``xs = (x_1, ..., x_d)`` and ``xps = (xp_1, ..., xp_d)``."""
    if kind not in ("ntk", "nngp"):
        raise ValueError(f"kind must be 'ntk' or 'nngp', got {kind!r}.")
    xs = sp.symbols(f"x_1:{dim + 1}", real=True)
    xps = sp.symbols(f"xp_1:{dim + 1}", real=True)
    W2, b2 = _exact(W_std) ** 2, _exact(b_std) ** 2

    def q(a, b):
        return W2 * sum(ai * bi for ai, bi in zip(a, b)) / dim + b2

    q11, q12, q22 = q(xs, xs), q(xs, xps), q(xps, xps)
    prod = (1 + 2 * q11) * (1 + 2 * q22)
    sigma = 2 / sp.pi * sp.asin(2 * q12 / sp.sqrt(prod))
    nngp = W2 * sigma + b2
    if kind == "nngp":
        return nngp, xs, xps
    sigma_dot = 4 / sp.pi / sp.sqrt(prod - 4 * q12 ** 2)
    return nngp + W2 * q12 * sigma_dot, xs, xps


def _check_net(net: Network) -> None:
    if net.activation != "erf" or net.depth != 1:
        raise ValueError(
            "the sympy closed form covers one-hidden-layer erf networks only "
            f"(depth=1, activation='erf'); got depth={net.depth}, "
            f"activation={net.activation!r}."
        )


@functools.lru_cache(maxsize=64)
def operator_kernel(net: Network, op1: Operator, op2: Operator | None = None,
                    kind: str = "ntk"):
    """A numpy function ``(x1: (n1, d), x2: (n2, d)) -> (n1, n2)`` of the closed form of
    ``L1_x L2_x' k(x, x')``, differentiated by sympy and lambdified. Over several fields
    ``sum_f L1^f_x L2^f_x' k`` (independent outputs: ``Θ_fg = δ_fg Θ``, docs/systems.md)."""
    _check_net(net)
    op2 = op1 if op2 is None else op2
    for op in (op1, op2):
        op.require_linear("the symbolic kernel")
        net.check_fields(op)
    if op1.variables != op2.variables:
        raise ValueError(f"operators use different variables {op1.variables}, {op2.variables}.")
    if op1.fields != op2.fields:
        raise ValueError(f"operators list different fields {op1.fields}, {op2.fields}.")
    d = op1.dim
    k, xs, xps = erf_kernel(d, kind, net.W_std, net.b_std)

    def apply(op: Operator, expr: sp.Expr, syms, field: str) -> sp.Expr:
        to_syms = dict(zip(op.variable_symbols, syms))
        out = 0
        for term in (t for t in op.terms if t.field == field):
            derivative = expr
            for s, count in zip(syms, term.orders):
                if count:
                    derivative = sp.diff(derivative, s, count)
            out += term.coefficient.xreplace(to_syms) * derivative
        return out

    expr = sum((apply(op2, apply(op1, k, xs, f), xps, f) for f in op1.fields), sp.S(0))
    fn = sp.lambdify(list(xs) + list(xps), expr, modules="numpy", cse=True)

    def kernel(x1, x2):
        x1 = np.asarray(x1, dtype=np.float64)
        x2 = np.asarray(x2, dtype=np.float64)
        args = [x1[:, None, i] for i in range(d)] + [x2[None, :, i] for i in range(d)]
        return np.broadcast_to(fn(*args), (x1.shape[0], x2.shape[0])).astype(np.float64)

    return kernel


def limiting_kernel(net: Network, blocks, blocks2=None, *, kind: str = "ntk"):
    """Same contract as :func:`theory.limiting_kernel`, from the sympy closed form."""
    rows, cols = kernel_blocks(blocks, blocks2)

    def compute(r, c, out):
        out[...] = operator_kernel(net, r.operator, c.operator, kind)(r.points, c.points)

    return BlockKernel.assemble(rows, cols, compute, kind)
