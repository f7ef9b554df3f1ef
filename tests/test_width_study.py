"""Width study: the empirical NTK at initialization against K*; resumable runs."""

import json

import numpy as np
import pytest

import ntk_pinn
import validation
from ntk_pinn import Operator, mlp


def _small_blocks():
    x = np.linspace(0.05, 0.95, 8)[:, None]
    return {"u": (Operator("u", "x"), np.array([[0.0], [1.0]])), "r": (Operator("u_xx", "x"), x)}


def test_width_study_error_decreases_with_width():
    # Widths 16 -> 4096 (x256): errors should shrink ~16x; require the mean over 3 seeds to
    # fall by > 4x for every block and every fitted slope to be negative.
    study = validation.width_study(mlp(16, 2), _small_blocks(), (16, 256, 4096), (0, 1, 2),
                                   progress=False)
    for pair, errors in study.errors.items():
        mean = errors.mean(axis=1)
        assert mean[-1] < mean[0] / 4, (pair, mean)
        assert study.slopes[pair][0] < 0


def _interrupt_at_call(monkeypatch, n: int) -> None:
    """Make the width study's n-th empirical kernel raise KeyboardInterrupt (Ctrl-C)."""
    calls = {"n": 0}
    real = ntk_pinn.empirical_kernel

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("validation._width.empirical_kernel", interrupted)


def test_width_study_resumes_after_interrupt(tmp_path, monkeypatch):
    net, blocks, widths, seeds = mlp(8, 1), _small_blocks(), (8, 32, 128), (0, 1)
    reference = validation.width_study(net, blocks, widths, seeds, progress=False)
    _interrupt_at_call(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        validation.width_study(net, blocks, widths, seeds, run_dir=tmp_path, progress=False)
    done = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert done == ["w32_s0.json", "w8_s0.json", "w8_s1.json"]  # nothing partial left
    monkeypatch.setattr("validation._width.empirical_kernel", ntk_pinn.empirical_kernel)
    resumed = validation.width_study(net, blocks, widths, seeds, run_dir=tmp_path,
                                     progress=False)
    for pair in reference.errors:
        np.testing.assert_array_equal(resumed.errors[pair], reference.errors[pair])
    assert resumed.slopes == reference.slopes


def test_width_study_bad_inputs():
    net, blocks = mlp(8, 1), _small_blocks()
    with pytest.raises(ValueError, match="widths is empty"):
        validation.width_study(net, blocks, (), (0,))
    with pytest.raises(ValueError, match="every width must be an integer >= 1, got 0"):
        validation.width_study(net, blocks, (0, 8), (0,))
    with pytest.raises(ValueError, match="seeds is empty"):
        validation.width_study(net, blocks, (8, 16), ())
    mismatched = dict(blocks, r=(Operator("u_tt", "t"), np.zeros((3, 1))))
    with pytest.raises(ValueError, match="different variables"):
        validation.width_study(net, mismatched, (8, 16), (0,))


def test_fit_slope_recovers_a_power_law():
    widths = np.array([16, 64, 256, 1024])
    errors = (3.0 * widths ** -0.5)[:, None] * np.exp(
        np.random.default_rng(0).normal(0, 0.01, (4, 5)))
    slope, lo, hi = validation.fit_slope(widths, errors)
    assert abs(slope + 0.5) < 0.02 and lo < -0.5 < hi


def test_cli_width_study_writes_outputs_and_resumes(tmp_path):
    from validation.cli import main

    out = tmp_path / "study"
    argv = ["study", "width", "--widths", "8", "32", "--seeds", "0", "1", "--depth", "1",
            "--n-residual", "6", "--out", str(out)]
    assert main(argv) == 0
    for name in ("results.json", "results.csv", "width_errors.png", "report.md", "config.json"):
        assert (out / name).exists(), name
    first = json.loads((out / "results.json").read_text())
    assert first["widths"] == [8, 32] and set(first["errors"]) == {"u/u", "u/r", "r/r"}
    assert main(argv) == 0  # every run is on disk: the rerun only reloads
    assert json.loads((out / "results.json").read_text())["errors"] == first["errors"]
    changed = argv[:2] + ["--widths", "8", "64"] + argv[4:]
    assert main(changed) == 2  # another configuration in the same directory is refused


def test_width_study_writes_itself_from_python(tmp_path):
    # The files the CLI writes come from the study itself: one call from Python.
    blocks = _small_blocks()
    study = validation.width_study(mlp(8, 1), blocks, (8, 32), (0, 1), progress=False,
                                   source={"problem": "hand-made"})
    rows = study.csv_rows()
    assert len(rows) == 3 * 2 * 2 and set(rows[0]) == {"block", "width", "seed",
                                                       "relative_error"}
    assert rows[0]["relative_error"] == study.errors[("u", "u")][0, 0]
    payload = study.to_json()
    assert payload["errors"]["r/r"] == study.errors[("r", "r")].tolist()
    assert payload["config"]["blocks"]["r"]["n"] == 8
    assert payload["slopes"]["u/r"]["slope"] == study.slopes[("u", "r")][0]
    md = study.markdown()
    assert md.startswith("# Width study: hand-made") and "| block | w=8 | w=32 |" in md
    written = validation.save(study, tmp_path)
    assert {p.name for p in written} == {"results.json", "results.csv", "report.md",
                                         "width_errors.png"}
    csv = (tmp_path / "results.csv").read_text().splitlines()
    assert csv[0] == "block,width,seed,relative_error" and len(csv) == 13
    assert json.loads((tmp_path / "results.json").read_text())["verdict"] == study.verdict()


def test_run_dir_with_another_configuration_is_refused(tmp_path):
    net, blocks = mlp(8, 1), _small_blocks()
    validation.width_study(net, blocks, (8, 16), (0,), run_dir=tmp_path,
                           progress=False)
    moved = dict(blocks, r=(blocks["r"][0], blocks["r"][1] + 0.01))
    with pytest.raises(ValueError, match="another configuration"):
        validation.width_study(net, moved, (8, 16), (0,), run_dir=tmp_path,
                               progress=False)


@pytest.mark.parametrize("widths,seeds,match", [
    ((64,), (0, 1), "at least two distinct widths"),
    ((64, 64), (0, 1), "repeat a width"),
    ((16, 64), (1, 1), "repeat a seed"),
])
def test_a_slope_needs_two_distinct_widths(widths, seeds, match):
    with pytest.raises(ValueError, match=match):
        validation.width_study(mlp(8, 1), _small_blocks(), widths, seeds)


def test_cli_refuses_bad_output_and_box_before_any_work(tmp_path, capsys):
    from validation.cli import main

    afile = tmp_path / "a_file"
    afile.write_text("")
    base = ["kernel", "--operator", "u_xx", "--variables", "x", "--n", "4"]
    assert main(base + ["--out", str(afile / "sub")]) == 2
    assert "cannot write to --out" in capsys.readouterr().err
    assert main(base + ["--low", "1", "--high", "0", "--out", str(tmp_path / "k")]) == 2
    assert "low < high" in capsys.readouterr().err
    assert main(["study", "width", "--widths", "8", "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two distinct widths" in err


def test_cli_ctrl_c_in_a_study_says_how_to_resume(tmp_path, monkeypatch, capsys):
    from validation.cli import main

    _interrupt_at_call(monkeypatch, 3)
    out = tmp_path / "study"
    argv = ["study", "width", "--widths", "8", "16", "--seeds", "0", "1", "--depth", "1",
            "--n-residual", "4", "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err                # (the progress bar writes there too)
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"interrupted: 2 of 4 runs saved in {out}; rerun the same command to resume")
