"""``ntk-pinn reproduce``: every experiment at the tiny scale (a smoke test of each code
path: the numbers mean nothing), its files, its table with the paper's numbers, and
resuming from checkpoints."""

import json

import numpy as np
import pytest

import validation
from validation import EXPERIMENTS, reproduce

PAPER_NUMBERS = {"wang-poisson": ["4.21e-02", "4.88e-03"],
                 "wang-constancy": ["Fig. 2", "Fig. 3", "tends to 0"],
                 "wang-weights": ["2.40e-01", "1.63e-03", "≈ 100"],
                 "wang-spectrum": ["K(0) → K*", "[text]", "[notebook]"],
                 "wang-wave": ["4.518e-01", "1.728e-03"],
                 "wang-wave-text": ["4.518e-01", "1.728e-03", "Fig. 7", "Fig. 8b"],
                 "bonfanti-kernel": ["random at any width", "Fig. 1b"],
                 "bonfanti-optimizers": ["LM best", "Fig. 4a"],
                 "bonfanti-convection": ["about 5 000 iterations", "curriculum helps"]}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_at_tiny_scale_writes_its_table(name, tmp_path):
    result = reproduce(name, scale="tiny", work_dir=tmp_path / "work", progress=False)
    paths = validation.save(result, tmp_path / "out")
    assert {p.suffix for p in paths} == {".json", ".md", ".png"}
    table = (tmp_path / "out" / f"{name}.md").read_text()
    for number in PAPER_NUMBERS[name]:
        assert number in table
    assert "Wall time" in table and result.machine["cpus"] >= 1
    payload = json.loads((tmp_path / "out" / f"{name}.json").read_text())
    assert payload["scale"] == "tiny" and len(payload["claims"]) == len(result.claims) >= 3
    for claim in result.claims:
        assert claim.ours and claim.paper and claim.holds in (True, False, None)


def test_rerun_resumes_the_training_runs_from_checkpoints(tmp_path):
    first = reproduce("wang-wave", scale="tiny", work_dir=tmp_path, progress=False)
    work = tmp_path / "wang-wave-tiny"
    runs = ["adaptive_seed0", "adaptive_seed1", "fixed_seed0"]
    assert sorted(p.name for p in work.glob("*.npz")) == [f"{r}.npz" for r in runs]
    # A finished run is kept (its curves, as JSON) and reused as it is ...
    kept = reproduce("wang-wave", scale="tiny", work_dir=tmp_path, progress=False)
    # ... and without its record, the checkpoint resumes it at its last step.
    for r in runs:
        (work / f"{r}.done.json").unlink()
    again = reproduce("wang-wave", scale="tiny", work_dir=tmp_path, progress=False)
    for label in runs:
        a, b = first.raw["runs"][label], again.raw["runs"][label]
        assert np.array_equal(a["error"], b["error"])
        assert kept.raw["runs"][label] == a
        # Resumed at the last step: no training time added.
        assert b["train_seconds"] - a["train_seconds"] < 0.5


def test_curriculum_stage_resumes_from_the_kept_parameters(tmp_path):
    """A curriculum stage trained again from the previous stage's kept parameters (read
    back from JSON) ends where the unbroken chain did."""
    first = reproduce("bonfanti-convection", scale="tiny", work_dir=tmp_path, progress=False)
    work = tmp_path / "bonfanti-convection-tiny"
    for suffix in (".done.json", ".npz"):
        (work / f"curriculum_seed0_beta100{suffix}").unlink()
    again = reproduce("bonfanti-convection", scale="tiny", work_dir=tmp_path, progress=False)
    a, b = first.raw["runs"]["curriculum"][0], again.raw["runs"]["curriculum"][0]
    assert a["stages"][-1]["error"] == b["stages"][-1]["error"]
    assert first.raw["final"] == again.raw["final"]


def test_a_kept_run_of_other_settings_is_refused(tmp_path):
    from validation._results import kept_run

    calls = []
    run = lambda: calls.append(1) or {"error": np.array([1.0, 0.5])}  # noqa: E731
    assert kept_run(tmp_path, "a", {"steps": 10}, run) == {"error": [1.0, 0.5]}
    assert kept_run(tmp_path, "a", {"steps": 10}, run) == {"error": [1.0, 0.5]}
    assert len(calls) == 1
    with pytest.raises(ValueError, match=r"a.done.json holds a finished run of other "
                                         r"settings.*delete it"):
        kept_run(tmp_path, "a", {"steps": 20}, run)


def test_cli_reproduce_and_bad_names(tmp_path, capsys):
    from validation.cli import main

    assert main(["reproduce", "wang-spectrum", "--scale", "tiny", "--out",
                 str(tmp_path)]) == 0
    assert (tmp_path / "wang-spectrum_spectrum.png").exists()
    # A tiny run is a smoke test: its table gives no verdict (was "agree"/"differ").
    out = capsys.readouterr().out
    assert "smoke run, no verdict" in out and "| smoke run: no verdict |" in out
    assert "| yes |" not in out and "**no**" not in out
    with pytest.raises(ValueError, match="unknown experiment 'wang-heat'"):
        reproduce("wang-heat")
    with pytest.raises(ValueError, match="scale must be one of"):
        reproduce("wang-wave", scale="huge")
