"""PINN training with fixed and NTK-adaptive weights (Wang, Yu & Perdikaris' Algorithm 1)."""

import numpy as np
import pytest

from ntk_pinn import Adaptive, Checkpoint, Points, Record, mlp, problems, train


def test_adaptive_weights_beat_fixed_weights_on_the_wave_problem():
    # Seeded, 2000 Adam steps (lr 1e-3), depth-3 width-64 tanh, 128 collocation points.
    # Measured at 3000 steps / 256 points: relative L2 0.757 (fixed) vs 0.517 (adaptive),
    # and the adaptive weights put ~1e3 on the boundary/initial terms (tr K_rr >> tr K_uu).
    # Require adaptive < 0.9 x fixed.
    kwargs = dict(steps=2000, lr=1e-3, points=Points(n_residual=128, n_boundary=64),
                  record=Record(every=500))
    fixed = train(mlp(64, 3, "tanh"), problems.wave_1d(), **kwargs)
    adaptive = train(mlp(64, 3, "tanh"), problems.wave_1d(), adaptive=Adaptive(every=500),
                     **kwargs)
    assert adaptive.error < 0.9 * fixed.error, (adaptive.errors, fixed.errors)
    assert adaptive.weights["bc"][-1] > 10 * adaptive.weights["r"][-1]
    assert np.all(fixed.weights["r"] == 1.0)


def test_training_decreases_the_loss_and_bad_inputs():
    result = train(mlp(32, 2, "tanh"), problems.poisson_1d(1.0), steps=200,
                   record=Record(every=100), points=Points(n_residual=16, n_boundary=2),
                   optimizer="gd", lr=1e-3)
    total = sum(v for v in result.losses.values())
    assert total[-1] < total[0] and result.steps.tolist() == [0, 100, 200]
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train(mlp(8, 1), problems.poisson_1d(), optimizer="bfgs")
    with pytest.raises(ValueError, match="multiple of record_every"):
        train(mlp(8, 1), problems.poisson_1d(), steps=150, record=Record(every=100))
    with pytest.raises(ValueError, match="unknown blocks"):
        train(mlp(8, 1), problems.poisson_1d(), weights={"boundary": 2.0})


def test_cli_train_writes_curves(tmp_path):
    import json

    from validation.cli import main

    argv = ["train", "--optimizer", "adam", "--problem-param", "a=1", "--width", "16", "--depth", "1", "--steps", "40",
            "--record-every", "20", "--update-every", "20", "--n-residual", "8", "--compare",
            "--out", str(tmp_path), "--dtype", "float32", "--lr-decay", "0.9",
            "--batch-size", "6", "--checkpoint", str(tmp_path / "ck.npz")]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "training.json").read_text())
    assert set(summary["runs"]) == {"fixed", "adaptive"}
    # One checkpoint per run; the same command again resumes both at their last step.
    assert (tmp_path / "ck_fixed.npz").exists() and (tmp_path / "ck_adaptive.npz").exists()
    assert main(argv) == 0
    again = json.loads((tmp_path / "training.json").read_text())
    assert again["runs"]["adaptive"]["errors"] == summary["runs"]["adaptive"]["errors"]
    assert (tmp_path / "training_adaptive.png").exists()


def _wave_setup():
    prob = problems.wave_1d()
    net = mlp(32, 2, "tanh", parameterization="standard",
              initialization="glorot_normal").standardized(prob.grid(21))
    import optax

    kwargs = dict(lr=optax.exponential_decay(1e-3, 50, 0.9),
                  adaptive=Adaptive(every=20, groups={"u": ("ic", "bc"), "ut": "ic_t",
                                                      "r": "r"},
                                    kernel_size={"ic": 8, "bc": 16, "ic_t": 24, "r": 24}),
                  record=Record(every=20, grid=16), weights={"bc": 2.0},
                  points=Points(n_residual=32, n_boundary=8,
                                batch_size={"ic": 8, "bc": 16, "ic_t": 8, "r": 24}),
                  dtype="float32")
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
    path = tmp_path / "run.npz"
    first = train(net, prob, steps=20, checkpoint=Checkpoint(path, every=20), **kwargs)
    assert first.resumed_from == 0 and path.exists()
    resumed = train(net, prob, steps=40, checkpoint=Checkpoint(path, every=20), **kwargs)
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
        train(net, prob, steps=20, checkpoint=Checkpoint(path, every=20), **kwargs)


def test_resume_after_the_process_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    path = tmp_path / "run.npz"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        from test_train import _wave_setup
        from ntk_pinn import Checkpoint, train
        prob, net, kwargs = _wave_setup()
        train(net, prob, steps=1000, checkpoint=Checkpoint({str(path)!r}, every=20), **kwargs)
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
    resumed = train(net, prob, steps=1000, checkpoint=Checkpoint(path, every=20), **kwargs)
    assert 0 < resumed.resumed_from < 1000
    straight = train(net, prob, steps=1000, **kwargs)
    assert _same(straight.params, resumed.params)
    assert np.array_equal(straight.errors, resumed.errors)


def test_fresh_batches_come_from_the_samplers_by_step():
    from ntk_pinn._train import _batches

    prob = problems.wave_1d()
    names = [c.name for c in prob.all_constraints]
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
    import optax

    result = train(net, prob, optimizer="gd", lr=optax.exponential_decay(0.01, 1, 0.5),
                   steps=3, record=Record(every=3), points=Points(n_residual=6, n_boundary=2))
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
    common = dict(steps=20, record=Record(every=20), points=Points(n_residual=16, n_boundary=2))
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
        train(mlp(8, 1), prob, optimizer="lbfgs", points=Points(batch_size=8))
    with pytest.raises(ValueError, match="dtype must be one of"):
        train(mlp(8, 1), prob, dtype="float16")
    with pytest.raises(ValueError, match=r"batch_size must be .* one for each block"):
        train(mlp(8, 1), prob, points=Points(batch_size={"r": 4}))
    with pytest.raises(ValueError, match=r"exactly one non-empty group.*in no group: \['r'\]"):
        train(mlp(8, 1), prob, adaptive=Adaptive(groups={"b": ["u"]}))
    # kernel_size without adaptive weights: it is an option of Adaptive, so it cannot be
    # given without them.
    with pytest.raises(TypeError, match="kernel_size"):
        train(mlp(8, 1), prob, kernel_size=4)


def test_adaptive_weights_on_a_fixed_or_a_resampled_kernel_point_set():
    # With a learning rate of 1e-14 the network does not move: weights from one fixed set
    # of kernel points repeat (measured relative change 1e-13), from fresh points they
    # differ (1.3e-2 .. 4.9e-2 with 6 points per block).
    prob = problems.wave_1d()
    common = dict(steps=40, record=Record(every=20, grid=9), lr=1e-14, optimizer="gd",
                  points=Points(batch_size=6, n_residual=8, n_boundary=4))
    fixed = train(mlp(16, 1, "tanh"), prob, adaptive=Adaptive(every=20, kernel_size=6),
                  **common)
    fresh = train(mlp(16, 1, "tanh"), prob,
                  adaptive=Adaptive(every=20, kernel_size=6, resample=True), **common)
    for name in ("ic", "bc", "ic_t"):
        assert np.allclose(fixed.weights[name][1], fixed.weights[name][2], rtol=1e-9)
        assert abs(fresh.weights[name][2] / fresh.weights[name][1] - 1) > 1e-4


def test_checkpoints_of_one_output_networks_are_as_before_systems():
    """Checkpoints written before networks had ``outputs`` (e.g. the paper-scale wave run
    resumed across sessions) must still match: a one-output network's description has no
    ``outputs`` key; a system's has it, so runs with other output counts never mix."""
    from ntk_pinn._checkpoint import network_description as _network_description
    from ntk_pinn import mlp

    assert "outputs" not in _network_description(mlp(8, 2, "tanh"))
    assert _network_description(mlp(8, 2, "tanh", outputs=3))["outputs"] == 3


def test_default_records_fit_any_number_of_steps():
    # `train(steps=20)` failed: record_every defaulted to 100. Now about ten records, the
    # last step always among them.
    prob = problems.poisson_1d(1.0)
    points = Points(n_residual=8, n_boundary=2)
    result = train(mlp(8, 1, "tanh"), prob, steps=20, points=points)
    assert result.steps.tolist() == list(range(0, 21, 2))
    odd = train(mlp(8, 1, "tanh"), prob, steps=23, points=points, adaptive=True)
    assert odd.steps.tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 23]


def test_a_schedule_identifies_its_run_by_its_values(tmp_path):
    # The schedule's repr holds its memory address: the same schedule made again (another
    # process, or here another object) must resume; a different one must be refused.
    import optax

    prob = problems.poisson_1d(1.0)
    kwargs = dict(points=Points(n_residual=8, n_boundary=2), record=Record(every=5))
    path = tmp_path / "run.npz"
    train(mlp(8, 1, "tanh"), prob, steps=10, lr=optax.exponential_decay(1e-2, 5, 0.5),
          checkpoint=path, **kwargs)
    again = train(mlp(8, 1, "tanh"), prob, steps=15, checkpoint=path,
                  lr=optax.exponential_decay(1e-2, 5, 0.5), **kwargs)
    assert again.resumed_from == 10
    with pytest.raises(ValueError, match="another run.*schedule's values"):
        train(mlp(8, 1, "tanh"), prob, steps=20, checkpoint=path,
              lr=optax.exponential_decay(1e-2, 5, 0.6), **kwargs)
    with pytest.raises(ValueError, match="another run.*lr"):
        train(mlp(8, 1, "tanh"), prob, steps=20, checkpoint=path, lr=1e-2, **kwargs)


def test_a_checkpoint_is_read_without_running_code(tmp_path):
    # A pickle that would create a file when unpickled is refused unread; so is a file of
    # random bytes and an .npz that is not a checkpoint.
    import pickle

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    prob = problems.poisson_1d(1.0)
    kwargs = dict(points=Points(n_residual=8, n_boundary=2), steps=4)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="it is a pickle.*Delete it"):
        train(mlp(8, 1, "tanh"), prob, checkpoint=evil, **kwargs)
    assert not (tmp_path / "pwned").exists()
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ValueError, match="not .*ntk-pinn checkpoint"):
        train(mlp(8, 1, "tanh"), prob, checkpoint=noise, **kwargs)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match="not an ntk-pinn checkpoint of format"):
        train(mlp(8, 1, "tanh"), prob, checkpoint=other, **kwargs)


def test_checkpoints_are_written_durably(tmp_path, monkeypatch):
    # Written beside the target, fsync-ed, renamed over it; nothing else left behind.
    import os

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    path = tmp_path / "run.npz"
    result = train(mlp(8, 1, "tanh"), problems.poisson_1d(1.0), steps=4,
                   points=Points(n_residual=8, n_boundary=2), checkpoint=Checkpoint(path, every=2),
                   record=Record(every=2))
    assert len(synced) >= 4          # file and directory, at steps 2 and 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    with np.load(path, allow_pickle=False) as z:   # a plain .npz of arrays and JSON
        assert "meta" in z.files and all(z[k].dtype != object for k in z.files)
    assert result.resumed_from == 0


def test_default_cli_train_solves_its_problem(tmp_path):
    # `ntk-pinn train` with no options ended at relative error 3.4 (Adam, 2000 steps, erf);
    # now LM, tanh, 200 steps on poisson_1d (sin 4πx): measured 3.0e-4 in 4 s.
    import json

    from validation.cli import main

    assert main(["train", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["runs"]["fixed"]["relative_l2_error"] < 1e-2
