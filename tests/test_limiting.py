"""theory.limiting_kernel against independent references.

Tolerance 1e-10 (relative to the block's largest entry): the references are exact up to
float64 round-off; the 4th-order derivatives of a depth-2 kernel carry ~1e-13 noise.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import theory
from ntk_pinn import Operator, empirical_kernel, mlp
from theory import symbolic

from conftest import brute_force_block, rel_err

OPERATORS = {
    "poisson1d": ("u_xx", "x"),
    "identity1d": ("u", "x"),
    "laplace2d": ("u_xx + u_yy", "x y"),
    "heat": ("u_t - 0.01*u_xx", "t x"),
    "wave": ("u_tt - 4*u_xx", "t x"),
    "varcoef2d": ("-(1 + x**2)*u_xx - 2*x*u_x + sin(y)*u", "x y"),
    "mixed3d": ("u_xy + u_zz - z*u_x", "x y z"),
}


def _blocks(name, rng, n_res=5, n_bnd=3):
    source, variables = OPERATORS[name]
    op = Operator(source, variables=variables)
    d = op.dim
    bnd = Operator("u", variables=variables)
    return {"u": (bnd, rng.uniform(-1, 1, (n_bnd, d))),
            "r": (op, rng.uniform(-1, 1, (n_res, d)))}


# Every operator with erf; sin and gelu on a 1-D, a 2-D and a variable-coefficient one
# (the brute-force reference compiles 4th-order nested reverse-mode graphs: seconds each).
# The slowest (40-120 s of compilation each) run with `-m slow`.
_SLOW = {("mixed3d", "erf"), ("laplace2d", "gelu"), ("varcoef2d", "gelu")}
BRUTE_FORCE_CASES = [
    pytest.param(name, act, marks=[pytest.mark.slow] if (name, act) in _SLOW else [])
    for name, act in [(name, "erf") for name in OPERATORS] + [
        (name, act) for act in ("sin", "gelu")
        for name in ("poisson1d", "laplace2d", "varcoef2d")]]


@pytest.mark.parametrize("name,activation", BRUTE_FORCE_CASES)
def test_blocks_equal_brute_force(name, activation, rng):
    net = mlp(64, 2, activation, W_std=1.3, b_std=0.7)
    blocks = _blocks(name, rng)
    K = theory.limiting_kernel(net, blocks)
    names = list(blocks)
    for i, a in enumerate(names):
        for b in names[i:]:  # the lower blocks are transposes by construction
            (opa, xa), (opb, xb) = blocks[a], blocks[b]
            ref = brute_force_block(net, opa, opb, xa, xb)
            assert rel_err(K.block(a, b), ref) < 1e-10, (a, b)
            assert rel_err(K.block(b, a), ref.T) < 1e-10, (b, a)


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("name", ["poisson1d", "laplace2d", "heat", "wave", "varcoef2d"])
def test_autodiff_equals_sympy_closed_form(name, kind, rng):
    net = mlp(16, 1, "erf", W_std=1.5, b_std=0.5)
    blocks = _blocks(name, rng, n_res=6, n_bnd=4)
    K = theory.limiting_kernel(net, blocks, kind=kind)
    S = symbolic.limiting_kernel(net, blocks, kind=kind)
    for a in blocks:
        for b in blocks:
            assert rel_err(K.block(a, b), S.block(a, b)) < 1e-10, (a, b)


def test_sympy_kernel_equals_neural_tangents(rng):
    # The closed form itself (no operator) against neural-tangents' kernel_fn.
    net = mlp(8, 1, "erf", W_std=0.9, b_std=1.2)
    x1, x2 = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    identity = Operator("u", "x y z")
    for kind in ("ntk", "nngp"):
        want = np.asarray(net.kernel_fn(x1, x2, kind))
        got = symbolic.operator_kernel(net, identity, kind=kind)(x1, x2)
        assert rel_err(got, want) < 1e-12


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("name", ["poisson1d", "laplace2d", "wave"])
def test_symmetric_psd(name, kind, rng):
    net = mlp(32, 2, "erf")
    K = theory.limiting_kernel(net, _blocks(name, rng, n_res=40, n_bnd=10), kind=kind).matrix
    scale = np.abs(K).max()
    # Only the diagonal blocks are computed twice (i, j) and (j, i): round-off asymmetry.
    assert np.max(np.abs(K - K.T)) < 1e-12 * scale
    eig = np.linalg.eigvalsh((K + K.T) / 2)
    # PSD to round-off: eigenvalues >= -(n * eps) * lambda_max.
    assert eig.min() > -K.shape[0] * 1e-15 * eig.max()


def test_cross_kernel_and_block_access(rng):
    net = mlp(32, 2, "gelu")
    blocks = _blocks("laplace2d", rng, n_res=7, n_bnd=4)
    K = theory.limiting_kernel(net, blocks)
    # blocks given as a sequence: names are indices
    seq = theory.limiting_kernel(net, list(blocks.values()))
    np.testing.assert_array_equal(seq.block(1, 0), K.block("r", "u"))
    assert seq.names == ("0", "1") and K.names == ("u", "r")
    # cross kernel: test points against training blocks
    test = {"t": (Operator("u", "x y"), rng.uniform(-1, 1, (6, 2)))}
    C = theory.limiting_kernel(net, test, blocks)
    assert C.matrix.shape == (6, 11) and not C.is_square
    joint = theory.limiting_kernel(net, {**test, **blocks})
    assert rel_err(C.matrix, joint.matrix[:6, 6:]) < 1e-14
    np.testing.assert_allclose(C.block("t", "r"), joint.block("t", "r"), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="no row block named 'zz'"):
        K.block("zz")
    with pytest.raises(ValueError, match="out of range"):
        K.block(5)


def test_chunking_does_not_change_values(rng):
    net = mlp(32, 2, "erf")
    blocks = _blocks("wave", rng, n_res=37, n_bnd=5)
    whole = theory.limiting_kernel(net, blocks).matrix
    for batch in (1, 4, 10):
        chunked = theory.limiting_kernel(net, blocks, batch_size=batch).matrix
        assert rel_err(chunked, whole) < 1e-13


def test_per_order_graphs_equal_the_per_operator_graph(rng):
    # Small block pairs use one compiled graph per pair of derivative orders, directions
    # as data and coefficients outside (swapped arguments for |alpha| < |beta|); larger
    # ones one graph per pair of operators. Same kernel, variable coefficients, 3 blocks.
    net = mlp(32, 2, "erf")
    blocks = _blocks("varcoef2d", rng, n_res=9, n_bnd=4)
    blocks["n"] = (Operator("u_x - 2*y*u_y", "x y"), rng.uniform(-1, 1, (6, 2)))
    per_order = theory.limiting_kernel(net, blocks).matrix             # 1 tile per pair
    per_operator = theory.limiting_kernel(net, blocks, batch_size=2).matrix  # >= 6 tiles
    assert rel_err(per_order, per_operator) < 1e-13


def test_a_new_operator_with_the_same_orders_compiles_nothing(rng):
    # One graph per pair of orders serves every operator of those orders: after the
    # Helmholtz K* with k^2 = 4, the one with k^2 = -9 needs no compilation at all.
    import jax.monitoring

    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, *a, **k: compiles.append(name) if "backend_compile" in name else None)
    net, x = mlp(16, 2, "erf"), rng.uniform(-1, 1, (8, 2))
    for k2 in (4, -9):
        compiles.clear()
        K = theory.limiting_kernel(net, {"r": (Operator(f"u_xx + u_yy + {k2}*u", "x y"), x),
                                         "b": (Operator("u", "x y"), x[:3])})
        if k2 == 4:
            assert len(compiles) >= 3    # orders (2, 2), (2, 0), (0, 0) at least
    assert compiles == []
    ref = brute_force_block(net, Operator("u_xx + u_yy - 9*u", "x y"),
                            Operator("u", "x y"), x, x[:3])
    assert rel_err(K.block("r", "b"), ref) < 1e-10


def test_two_host_devices_give_the_same_kernel(tmp_path, rng):
    # Sharding over local devices: a subprocess with two forced CPU devices.
    x = rng.uniform(-1, 1, (21, 2))
    np.save(tmp_path / "x.npy", x)
    script = f"""
import numpy as np, jax, theory
from ntk_pinn import Operator, mlp
assert jax.local_device_count() == 2, jax.devices()
x = np.load({str(tmp_path / "x.npy")!r})
blocks = [(Operator("u_xx + u_yy", "x y"), x), (Operator("u_x", "x y"), x[:4])]
for batch in (4, 12):   # per-operator graphs (many tiles), per-order graphs (few tiles)
    K = theory.limiting_kernel(mlp(32, 2), blocks, batch_size=batch)
    np.save({str(tmp_path)!r} + f"/k{{batch}}.npy", K.matrix)
"""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    blocks = [(Operator("u_xx + u_yy", "x y"), x), (Operator("u_x", "x y"), x[:4])]
    local = theory.limiting_kernel(mlp(32, 2), blocks).matrix
    for batch in (4, 12):
        assert rel_err(np.load(tmp_path / f"k{batch}.npy"), local) < 1e-13


def test_empirical_wide_network_is_close(rng):
    # Width 2048: finite-width fluctuations are O(width^-1/2); the residual block's
    # Frobenius error, averaged over 4 seeds, measured ~8% here; bound 15%.
    import jax

    net = mlp(2048, 2, "erf")
    x = np.linspace(0, 1, 12)[:, None]
    blocks = {"u": (Operator("u", "x"), np.array([[0.0], [1.0]])),
              "r": (Operator("u_xx", "x"), x)}
    K = theory.limiting_kernel(net, blocks)
    errs = []
    for seed in range(4):
        E = empirical_kernel(net, net.init(jax.random.PRNGKey(seed), 1), blocks)
        errs.append([np.linalg.norm(E.block(a) - K.block(a)) / np.linalg.norm(K.block(a))
                     for a in ("u", "r")])
    mean = np.mean(errs, axis=0)
    assert mean[1] < 0.15 and mean[0] < 0.15, mean


def test_bad_inputs(rng):
    net = mlp(32, 2)
    op = Operator("u_xx", "x")
    x = rng.uniform(size=(4, 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        theory.limiting_kernel(net, [(op, x)], kind="ntkk")
    with pytest.raises(ValueError, match="empty"):
        theory.limiting_kernel(net, [])
    with pytest.raises(ValueError, match="different variables"):
        theory.limiting_kernel(net, [(op, x), (Operator("u_tt", "t"), x)])
    with pytest.raises(ValueError, match=r"blocks\['0'\] points have shape \(4, 2\)"):
        theory.limiting_kernel(net, [(op, np.zeros((4, 2)))])
    with pytest.raises(ValueError, match="nonlinear in u.*'u\\*\\*3'"):
        theory.limiting_kernel(net, [(Operator("u_xx + u**3", "x"), x)])
    with pytest.raises(ValueError, match="must be an ntk_pinn.Operator"):
        theory.limiting_kernel(net, [("u_xx", x)])
    with pytest.raises(ValueError, match=r"\(operator, points\) pair"):
        theory.limiting_kernel(net, [(op,)])
    with pytest.raises(ValueError, match="batch_size"):
        theory.limiting_kernel(net, [(op, x)], batch_size=0)
    with pytest.raises(ValueError, match="one-hidden-layer erf"):
        symbolic.limiting_kernel(net, [(op, x)])


@pytest.mark.parametrize("activation", ["relu", "abs", "leaky_relu"])
def test_nonsmooth_activation_refused_for_derivatives(activation, rng):
    net = mlp(32, 2, activation)
    x = rng.uniform(size=(4, 1))
    with pytest.raises(ValueError, match=rf"activation '{activation}' is not smooth enough"
                                         r".*order 2 \(4 in total"):
        theory.limiting_kernel(net, [(Operator("u_xx", "x"), x)])
    with pytest.raises(ValueError, match="order 1"):
        empirical_kernel(net, None, [(Operator("u_x", "x"), x)])
    # No derivative: the plain kernel is fine. Tolerance ~sqrt(eps): the arc-cosine
    # kernels amplify round-off near x = x' (jit and eager differ by ~3e-10 here).
    K = theory.limiting_kernel(net, [(Operator("u", "x"), x)])
    assert rel_err(K.matrix, np.asarray(net.kernel_fn(x, x, "ntk"))) < 1e-7


def test_cli_kernel_writes_blocks_spectra_and_summary(tmp_path):
    # The command is one call (validation.kernel_report) plus its writer; the summary's
    # trace ratio and eigenvalue range are checked against the saved blocks themselves.
    import json

    from validation.cli import main

    out = tmp_path / "k"
    assert main(["kernel", "--operator", "u_xx + u_yy", "--variables", "x y", "--depth", "1",
                 "--n", "24", "--out", str(out)]) == 0
    for name in ("kernel.npz", "kernel_heatmap.png", "spectrum.png", "summary.json"):
        assert (out / name).exists(), name
    data = np.load(out / "kernel.npz")
    summary = json.loads((out / "summary.json").read_text())
    assert data["K_rr"].shape == (24, 24) and data["x_boundary"].shape == (6, 2)
    ratio = np.trace(data["K_rr"]) / np.trace(data["K_uu"])
    assert abs(summary["trace_ratio_rr_over_uu"] - ratio) < 1e-12 * ratio
    eig = np.linalg.eigvalsh(data["K_rr"])
    assert rel_err(summary["eig_rr_max"], eig.max()) < 1e-10
    np.testing.assert_allclose(data["eig_rr"], eig, rtol=0, atol=1e-10 * eig.max())
    assert main(["kernel", "--operator", "u_xx", "--variables", "x", "--n", "4", "--low", "1",
                 "--high", "1", "--out", str(tmp_path / "bad")]) == 2


def test_plan_decides_pairs_tiles_and_quadrature_once():
    net = mlp(8, 2, "tanh")
    x = np.linspace(0, 1, 40)[:, None]
    blocks = {"u": (Operator("u", "x"), x[:3]), "r": (Operator("u_xx", "x"), x)}
    plan = theory.plan_kernel(net, blocks, batch_size=16)
    assert plan.rows is plan.cols                      # square: upper blocks only
    assert [(p.row.name, p.col.name) for p in plan.pairs] == [("u", "u"), ("u", "r"),
                                                              ("r", "r")]
    rr = plan.pairs[-1]
    assert rr.diagonal and (rr.b1, rr.b2) == (16, 16)
    assert rr.tiles == ((0, 0), (0, 16), (0, 32), (16, 16), (16, 32), (32, 32))
    assert plan.pairs[1].tiles == ((0, 0),)           # 3 x 40 fits one off-diagonal tile
    assert plan.n_tiles == 1 + 1 + 6 and plan.entries == 9 + 120 + 1600
    assert plan.net.quadrature_degree is not None and net.quadrature_degree is None
    assert plan.info["quadrature_degree"] == plan.net.quadrature_degree
    cross = theory.plan_kernel(net, blocks, {"t": (Operator("u", "x"), x[:5])})
    assert [p.diagonal for p in cross.pairs] == [False, False]
    with pytest.raises(ValueError, match="nonlinear"):
        theory.plan_kernel(net, {"r": (Operator("u_xx + u**3", "x"), x)})
    K = theory.limiting_kernel(net, blocks, batch_size=16)
    assert K.info == plan.info
