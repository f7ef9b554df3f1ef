"""PINN training with fixed and NTK-adaptive weights (Wang, Yu & Perdikaris' Algorithm 1)."""

import numpy as np
import pytest

from ntk_pinn import mlp, problems, train


def test_adaptive_weights_beat_fixed_weights_on_the_wave_problem():
    # Seeded, 2000 Adam steps (lr 1e-3), depth-3 width-64 tanh, 128 collocation points.
    # Measured at 3000 steps / 256 points: relative L2 0.757 (fixed) vs 0.517 (adaptive),
    # and the adaptive weights put ~1e3 on the boundary/initial terms (tr K_rr >> tr K_uu).
    # Require adaptive < 0.9 x fixed.
    kwargs = dict(steps=2000, lr=1e-3, update_every=500, n_residual=128, n_boundary=64,
                  record_every=500)
    fixed = train(mlp(64, 3, "tanh"), problems.wave_1d(), **kwargs)
    adaptive = train(mlp(64, 3, "tanh"), problems.wave_1d(), adaptive=True, **kwargs)
    assert adaptive.error < 0.9 * fixed.error, (adaptive.errors, fixed.errors)
    assert adaptive.weights["bc"][-1] > 10 * adaptive.weights["r"][-1]
    assert np.all(fixed.weights["r"] == 1.0)


def test_training_decreases_the_loss_and_bad_inputs():
    result = train(mlp(32, 2, "tanh"), problems.poisson_1d(1.0), steps=200, record_every=100,
                   n_residual=16, n_boundary=2, optimizer="gd", lr=1e-3)
    total = sum(v for v in result.losses.values())
    assert total[-1] < total[0] and result.steps.tolist() == [0, 100, 200]
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train(mlp(8, 1), problems.poisson_1d(), optimizer="bfgs")
    with pytest.raises(ValueError, match="multiple of record_every"):
        train(mlp(8, 1), problems.poisson_1d(), steps=150, record_every=100)
    with pytest.raises(ValueError, match="unknown blocks"):
        train(mlp(8, 1), problems.poisson_1d(), weights={"boundary": 2.0})


def test_cli_train_writes_curves(tmp_path):
    import json

    from validation.cli import main

    argv = ["train", "--problem-param", "a=1", "--width", "16", "--depth", "1", "--steps", "40",
            "--record-every", "20", "--update-every", "20", "--n-residual", "8", "--compare",
            "--out", str(tmp_path), "--dtype", "float32", "--lr-decay", "0.9",
            "--batch-size", "6", "--checkpoint", str(tmp_path / "ck.pkl")]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "training.json").read_text())
    assert set(summary["runs"]) == {"fixed", "adaptive"}
    # One checkpoint per run; the same command again resumes both at their last step.
    assert (tmp_path / "ck_fixed.pkl").exists() and (tmp_path / "ck_adaptive.pkl").exists()
    assert main(argv) == 0
    again = json.loads((tmp_path / "training.json").read_text())
    assert again["runs"]["adaptive"]["errors"] == summary["runs"]["adaptive"]["errors"]
    assert (tmp_path / "training_adaptive.png").exists()


def _wave_setup():
    prob = problems.wave_1d()
    net = mlp(32, 2, "tanh", parameterization="standard",
              initialization="glorot_normal").standardized(prob.grid(21))
    kwargs = dict(lr=1e-3, lr_decay=0.9, decay_every=50, adaptive=True, update_every=20,
                  record_every=20, groups={"u": ("ic", "bc"), "ut": "ic_t", "r": "r"},
                  weights={"bc": 2.0}, batch_size={"ic": 8, "bc": 16, "ic_t": 8, "r": 24},
                  kernel_size={"ic": 8, "bc": 16, "ic_t": 24, "r": 24}, n_residual=32,
                  n_boundary=8, grid=16, dtype="float32")
    return prob, net, kwargs


def _same(a, b) -> bool:
    import jax

    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in
               zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_checkpoint_resume_is_identical(tmp_path):
    # Wang's wave setting in small: fresh batches, grouped adaptive weights, decaying lr,
    # float32. 40 steps straight == 20 steps, then resumed to 40, bit for bit.
    prob, net, kwargs = _wave_setup()
    straight = train(net, prob, steps=40, **kwargs)
    path = tmp_path / "run.pkl"
    first = train(net, prob, steps=20, checkpoint=path, checkpoint_every=20, **kwargs)
    assert first.resumed_from == 0 and path.exists()
    resumed = train(net, prob, steps=40, checkpoint=path, checkpoint_every=20, **kwargs)
    assert resumed.resumed_from == 20
    assert _same(straight.params, resumed.params)
    assert np.array_equal(straight.errors, resumed.errors)
    for name in straight.losses:
        assert np.array_equal(straight.losses[name], resumed.losses[name])
        assert np.array_equal(straight.weights[name], resumed.weights[name])
    # Groups: one weight for ic and bc (times the fixed 2 on bc), NTK weights in force.
    assert np.allclose(resumed.weights["bc"], 2 * resumed.weights["ic"])
    assert resumed.weights["ic"][-1] > 1.0 and straight.params[0][0].dtype == np.float32
    # Another run's checkpoint is refused, naming what differs.
    with pytest.raises(ValueError, match="belongs to another run.*seed"):
        train(net, prob, steps=40, checkpoint=path, seed=1, **kwargs)
    with pytest.raises(ValueError, match="beyond steps=20"):
        train(net, prob, steps=20, checkpoint=path, checkpoint_every=20, **kwargs)


def test_resume_after_the_process_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    path = tmp_path / "run.pkl"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        from test_train import _wave_setup
        from ntk_pinn import train
        prob, net, kwargs = _wave_setup()
        train(net, prob, steps=1000, checkpoint={str(path)!r}, checkpoint_every=20, **kwargs)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 300
        while not path.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    prob, net, kwargs = _wave_setup()
    resumed = train(net, prob, steps=1000, checkpoint=path, checkpoint_every=20, **kwargs)
    assert 0 < resumed.resumed_from < 1000
    straight = train(net, prob, steps=1000, **kwargs)
    assert _same(straight.params, resumed.params)
    assert np.array_equal(straight.errors, resumed.errors)


def test_fresh_batches_come_from_the_samplers_by_step():
    from ntk_pinn._train import _batches

    prob = problems.wave_1d()
    names = [c.name for c in prob.terms]
    sizes = {n: 5 for n in names}
    xs, gs = _batches(prob, sizes, 7, 10, 3, names)
    assert xs[names.index("r")].shape == (3, 5, 2)
    later = _batches(prob, sizes, 7, 11, 1, names)
    assert np.array_equal(xs[0][1], later[0][0][0])        # step 11 alike from any start
    assert not np.array_equal(xs[0][0], xs[0][1])          # every step fresh points
    ic = xs[names.index("ic")]
    assert np.all(ic[..., 0] == 0.0)                       # initial points at t = 0
    assert np.allclose(gs[names.index("ic")], prob.exact(ic.reshape(-1, 2)).reshape(3, 5))


def test_learning_rate_decay_against_hand_written_gradient_descent():
    # GD with lr 0.01 * 0.5^(k/1): p_{k+1} = p_k - lr_k grad L(p_k), the loss written out
    # by hand (mean squares of u at the boundary and u_xx - f inside).
    import jax
    import jax.numpy as jnp

    prob = problems.poisson_1d(1.0)
    net = mlp(8, 1, "tanh")
    result = train(net, prob, optimizer="gd", lr=0.01, lr_decay=0.5, decay_every=1, steps=3,
                   record_every=3, n_residual=6, n_boundary=2)
    data = prob.data(6, 2)
    (_, xb, gb), (_, xr, gr) = data["u"], data["r"]
    u = lambda p, x: net.apply_fn(p, jnp.reshape(x, (1, 1)))[0, 0]  # noqa: E731
    u_xx = jax.grad(jax.grad(u, 1), 1)

    def loss(p):
        ub = jax.vmap(u, (None, 0))(p, xb[:, 0])
        r = jax.vmap(u_xx, (None, 0))(p, xr[:, 0])
        return jnp.mean((ub - gb) ** 2) + jnp.mean((r - gr) ** 2)

    p = net.init(jax.random.PRNGKey(0), 1)
    for k in range(3):
        p = jax.tree_util.tree_map(lambda a, g: a - 0.01 * 0.5 ** k * g, p, jax.grad(loss)(p))
    # Measured max difference 1.6e-9 (summation order; the gradients reach ~1e2); a constant
    # lr or a decay shifted by one step differ by 0.05 and 0.035.
    for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(result.params)):
        assert np.max(np.abs(a - b)) < 1e-7


def test_lbfgs_float32_and_option_errors():
    prob = problems.poisson_1d(1.0)
    common = dict(steps=20, record_every=20, n_residual=16, n_boundary=2)
    gd = train(mlp(16, 2, "tanh"), prob, optimizer="gd", lr=1e-2, **common)
    lbfgs = train(mlp(16, 2, "tanh"), prob, optimizer="lbfgs", **common)
    # Measured after 20 steps: total loss 0.23 (L-BFGS) vs 31.4 (GD, lr 1e-2).
    total = lambda r: sum(v[-1] for v in r.losses.values())  # noqa: E731
    assert total(lbfgs) < 0.05 * total(gd)
    f32 = train(mlp(16, 2, "tanh"), prob, optimizer="adam", dtype="float32", **common)
    f64 = train(mlp(16, 2, "tanh"), prob, optimizer="adam", **common)
    assert f32.params[0][0].dtype == np.float32 and f64.params[0][0].dtype == np.float64
    assert abs(f32.error - f64.error) < 1e-4 * f64.error   # measured ~1e-6 relative
    with pytest.raises(ValueError, match="'lbfgs' needs one fixed objective"):
        train(mlp(8, 1), prob, optimizer="lbfgs", batch_size=8)
    with pytest.raises(ValueError, match="dtype must be one of"):
        train(mlp(8, 1), prob, dtype="float16")
    with pytest.raises(ValueError, match=r"batch_size must be .* one for each block"):
        train(mlp(8, 1), prob, batch_size={"r": 4})
    with pytest.raises(ValueError, match=r"exactly one non-empty group.*in no group: \['r'\]"):
        train(mlp(8, 1), prob, adaptive=True, groups={"b": ["u"]})
    with pytest.raises(ValueError, match="kernel_size sets the NTK points"):
        train(mlp(8, 1), prob, kernel_size=4)


def test_adaptive_weights_on_a_fixed_or_a_resampled_kernel_point_set():
    # With a learning rate of 1e-14 the network does not move: weights from one fixed set
    # of kernel points repeat (measured relative change 1e-13), from fresh points they
    # differ (1.3e-2 .. 4.9e-2 with 6 points per block).
    prob = problems.wave_1d()
    common = dict(steps=40, record_every=20, update_every=20, adaptive=True, lr=1e-14,
                  optimizer="gd", batch_size=6, kernel_size=6, n_residual=8, n_boundary=4,
                  grid=9)
    fixed = train(mlp(16, 1, "tanh"), prob, **common)
    fresh = train(mlp(16, 1, "tanh"), prob, kernel_resample=True, **common)
    for name in ("ic", "bc", "ic_t"):
        assert np.allclose(fixed.weights[name][1], fixed.weights[name][2], rtol=1e-9)
        assert abs(fresh.weights[name][2] / fresh.weights[name][1] - 1) > 1e-4


def test_checkpoints_of_one_output_networks_are_as_before_systems():
    """Checkpoints written before networks had ``outputs`` (e.g. the paper-scale wave run
    resumed across sessions) must still match: a one-output network's description has no
    ``outputs`` key; a system's has it, so runs with other output counts never mix."""
    from ntk_pinn._train import _network_description
    from ntk_pinn import mlp

    assert "outputs" not in _network_description(mlp(8, 2, "tanh"))
    assert _network_description(mlp(8, 2, "tanh", outputs=3))["outputs"] == 3
