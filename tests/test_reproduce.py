"""``ntk-pinn reproduce``: every experiment at the tiny scale (a smoke test of each code
path: the numbers mean nothing), its files, its table with the paper's numbers, and
resuming from checkpoints."""

import json

import numpy as np
import pytest

import validation
from validation import EXPERIMENTS, reproduce

PAPER_NUMBERS = {"wang-poisson": ["4.21e-02", "4.88e-03"],
                 "wang-spectrum": ["K(0) → K*"],
                 "wang-wave": ["4.518e-01", "1.728e-03"],
                 "bonfanti-kernel": ["random at any width"],
                 "bonfanti-optimizers": ["LM best"]}


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
    ckpts = sorted(p.name for p in (tmp_path / "wang-wave-tiny").iterdir())
    assert ckpts == ["adaptive.npz", "fixed.npz"]
    again = reproduce("wang-wave", scale="tiny", work_dir=tmp_path, progress=False)
    for label in ("fixed", "adaptive"):
        a, b = first.raw["runs"][label], again.raw["runs"][label]
        assert np.array_equal(a["error"], b["error"])
        # Resumed at the last step: no training time added.
        assert b["train_seconds"] - a["train_seconds"] < 0.5


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
