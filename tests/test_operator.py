"""Operator parsing, its function action against sympy, and its errors."""

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

from ntk_pinn import Operator

from conftest import rel_err

# (string, variables, the same operator written as a sympy expression in u(vars))
x, y, t = sp.symbols("x y t")
_u2 = sp.Function("u")(x, y)
_ut = sp.Function("u")(t, x)
_u1 = sp.Function("u")(x)
CASES = [
    ("u_xx + u_yy", "x y", _u2.diff(x, 2) + _u2.diff(y, 2)),
    ("u_t - 0.01*u_xx", "t x", _ut.diff(t) - sp.Rational(1, 100) * _ut.diff(x, 2)),
    ("u_tt - 4*u_xx", "t x", _ut.diff(t, 2) - 4 * _ut.diff(x, 2)),
    ("u", "x", _u1),
    ("-(1 + x**2)*u_xx - 2*x*u_x + sin(y)*u", "x y",
     -(1 + x**2) * _u2.diff(x, 2) - 2 * x * _u2.diff(x) + sp.sin(y) * _u2),
    ("u_xy + exp(x)*u_y", "x y", _u2.diff(x, y) + sp.exp(x) * _u2.diff(y)),
]


@pytest.mark.parametrize("source,variables,sym", CASES, ids=[c[0] for c in CASES])
def test_string_and_sympy_forms_agree(source, variables, sym):
    a = Operator(source, variables=variables)
    b = Operator(sym)
    assert a == b and hash(a) == hash(b)
    assert a.variables == tuple(variables.split())
    assert a.is_linear


def test_canonical_terms():
    op = Operator("-(1 + x**2)*u_xx - 2*x*u_x + sin(y)*u", variables="x y")
    terms = {t.orders: t.coefficient for t in op.terms}
    X, Y = op.variable_symbols
    assert set(terms) == {(2, 0), (1, 0), (0, 0)}
    assert sp.simplify(terms[(2, 0)] + 1 + X**2) == 0
    assert sp.simplify(terms[(1, 0)] + 2 * X) == 0
    assert sp.simplify(terms[(0, 0)] - sp.sin(Y)) == 0
    assert op.order == 2
    assert Operator("u_tt - 4*u_xx", "t x").terms[0].orders == (2, 0)


def test_multichar_variables():
    op = Operator("u_x1x1 + u_x2x2 + u_x1", variables="x1 x2")
    assert {t.orders for t in op.terms} == {(2, 0), (0, 2), (1, 0)}


# A test function and its derivatives by sympy: the reference for the function action.
def _check_function_action(op: Operator, f_sym, points):
    syms = op.variable_symbols
    u = sp.Function("u")(*syms)
    expr = op.sympy_expr
    # Replace u, u_x, ... symbols by derivatives of f_sym.
    subs = {}
    for s in expr.free_symbols:
        name = s.name
        if name == "u" or name.startswith("u_"):
            orders = Operator(name, variables=op.variables).derivative_orders[0]
            d = f_sym
            for v, k in zip(syms, orders):
                if k:
                    d = sp.diff(d, v, k)
            subs[s] = d
    ref = sp.lambdify(syms, expr.xreplace(subs), "numpy")
    f_jax = sp.lambdify(syms, f_sym, "jax")
    lf = op(lambda z: f_jax(*z))
    got = np.array([float(lf(jnp.asarray(p))) for p in points])
    want = np.array([float(ref(*p)) for p in points])
    del u
    return got, want


@pytest.mark.parametrize("source,variables,sym", CASES, ids=[c[0] for c in CASES])
def test_function_action_matches_sympy(source, variables, sym, rng):
    op = Operator(source, variables=variables)
    s = op.variable_symbols
    f = sp.sin(2 * s[0] + 0.3) * sp.exp(0.5 * s[-1]) + s[0] ** 3 * s[-1]
    pts = rng.uniform(-1, 1, (6, op.dim))
    got, want = _check_function_action(op, f, pts)
    assert rel_err(got, want) < 1e-12


def test_nonlinear_function_action(rng):
    op = Operator("u_xx + u**3 + u*u_x", variables="x")
    assert not op.is_linear
    f = lambda z: jnp.sin(3 * z[0])  # noqa: E731
    for p in rng.uniform(-1, 1, 5):
        s = np.sin(3 * p)
        want = -9 * s + s**3 + s * 3 * np.cos(3 * p)
        assert abs(float(op(f)(jnp.array([p]))) - want) < 1e-12


@pytest.mark.parametrize("source,term", [("u*u_x", "u*u_x"), ("u_xx + u**2", "u**2"),
                                         ("u_xx - sin(u)", "sin(u)")])
def test_nonlinear_refused_for_linear_use(source, term):
    op = Operator(source, variables="x")
    with pytest.raises(ValueError, match="nonlinear") as err:
        op.on_kernel(lambda a, b: a @ b.T)
    assert term in str(err.value)
    with pytest.raises(ValueError, match="nonlinear"):
        op.terms


@pytest.mark.parametrize("source,variables,match", [
    ("u_zz", "x y", r"unknown variable 'zz' in derivative 'u_zz'"),
    ("a*u_xx", "x", r"unknown symbol\(s\) \['a'\]"),
    ("u_xx +", "x", "could not parse"),
    ("u_xx + foo(x)*u", "x", r"unknown function\(s\) \['foo'\]"),
    ("u_xx - 1", "x", "term without u"),
    ("sin(x)", "x", "does not involve u"),
    ("u_xx", None, "needs `variables`"),
    ("u_xx", "x x", "repeated"),
    ("u_xx", "u", "clashes"),
    ("u_xx - u_xx", "x", "identically zero"),
])
def test_bad_operators(source, variables, match):
    with pytest.raises(ValueError, match=match):
        Operator(source, variables=variables)


def test_not_a_string():
    with pytest.raises(ValueError, match="string or a sympy expression"):
        Operator(3.0, variables="x")


def test_check_points():
    op = Operator("u_xx + u_yy", variables="x y")
    assert op.check_points(np.zeros((3, 2))).dtype == np.float64
    with pytest.raises(ValueError, match=r"shape \(3, 3\).*\(n, 2\)"):
        op.check_points(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN or inf in 1 row"):
        op.check_points(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        op.check_points(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="empty"):
        op.check_points(np.zeros((0, 2)))
    # (n,) is accepted for one variable only
    assert Operator("u_xx", "x").check_points(np.zeros(4)).shape == (4, 1)
    with pytest.raises(ValueError, match="shape"):
        op.check_points(np.zeros(4))


def test_equality_compares_the_hash_key_without_simplifying(monkeypatch):
    # lru_cache hits compare operators: that must be a key comparison, not sympy.simplify.
    a, b = Operator("0.01*u_xx + u", "x"), Operator("u + u_xx/100", "x")
    c, c2 = Operator("u_xx + u**3", "x"), Operator("u**3 + u_xx", "x")
    others = [Operator("u_xx + u", "x"), Operator("0.01*u_xx + u", "x y")]

    def refuse(*args, **kwargs):
        raise AssertionError("sympy.simplify called by == or hash")

    monkeypatch.setattr(sp, "simplify", refuse)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert all(a != o for o in others)
    assert c == c2 and c != a and a != "0.01*u_xx + u"


def test_public_evaluation_helpers():
    x = jnp.array([[0.5], [2.0]])
    lin = Operator("(1 + x**2)*u_xx - 3*u", "x")
    coefs = lin.coefficients(x)          # in terms order: u_xx then u
    np.testing.assert_allclose(np.asarray(coefs[0]), [1.25, 5.0])
    np.testing.assert_allclose(np.asarray(coefs[1]), [-3.0, -3.0])
    np.testing.assert_allclose(np.asarray(lin.evaluate(x, [jnp.ones(2), jnp.ones(2)])),
                               [-1.75, 2.0])
    non = Operator("u_xx + u**3", "x")
    assert non.derivative_orders == ((0,), (2,))
    np.testing.assert_allclose(np.asarray(non.evaluate(x, [jnp.array([2.0, 1.0]),
                                                           jnp.array([1.0, 0.0])])), [9.0, 1.0])
    with pytest.raises(ValueError, match="nonlinear"):
        non.coefficients(x)
