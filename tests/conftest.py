"""Shared fixtures and independent references for the tests.

Tolerances: brute-force and symbolic references are exact up to float64 round-off;
fourth derivatives through a depth-2 kernel lose ~3-4 digits, so "exact" checks use
1e-10 relative to the largest entry of the block.
"""

import os

# CLI calls in tests must not write jax's persistent compilation cache into the user's
# home; test_nt.py turns it on explicitly in a subprocess.
os.environ["NTK_PINN_NO_CACHE"] = "1"

import jax  # noqa: E402
import numpy as np
import pytest  # noqa: E402
import sympy as sp  # noqa: E402

import ntk_pinn  # noqa: E402,F401  (turns on float64)


def rel_err(a, b) -> float:
    """max |a - b| / max |b|: relative to the block's scale, robust to zero entries."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def brute_force_block(net, op1, op2, x1, x2, kind="ntk"):
    """Per-pair L1_x L2_x' k(x, x') with nested `jax.grad` of the scalar kernel; for a
    system sum_f L1^f_x L2^f_x' k (each field's terms of both operators, all fields).

    Independent of Operator.on_kernel: reverse-mode, one pair at a time (vmapped),
    coefficients lambdified afresh from the operator's terms.
    """

    def k(a, b):
        return net.kernel_fn(a[None], b[None], kind)[0, 0]

    def deriv(f, orders):
        for i, count in enumerate(orders):
            for _ in range(count):
                f = (lambda g, i: lambda z: jax.grad(g)(z)[i])(f, i)
        return f

    def apply(op, f, field):
        terms = [t for t in op.terms if t.field == field]
        coefs = [sp.lambdify(op.variable_symbols, t.coefficient, "jax") for t in terms]
        return lambda z: sum((c(*z) * deriv(f, t.orders)(z) for c, t in zip(coefs, terms)),
                             0.0)

    def pair(a, b):
        return sum(apply(op1, lambda a_: apply(op2, lambda b_: k(a_, b_), f)(b), f)(a)
                   for f in op1.fields)

    fn = jax.jit(jax.vmap(jax.vmap(pair, (None, 0)), (0, None)))
    return np.asarray(fn(np.asarray(x1), np.asarray(x2)))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
