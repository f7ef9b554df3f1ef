"""Every code block of the README runs: Python blocks are executed (in a scratch
directory, in order, each in a fresh namespace), and every ``ntk-pinn`` line of a bash
block is parsed by the command line's parser (running them all would take hours)."""

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_block_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "a README block prints what it computes"


def test_readme_printed_numbers_are_what_the_code_prints(tmp_path, monkeypatch, capsys):
    # The posterior task: the numbers in its comment are those it prints.
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks("python") if "gp_posterior" in b)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    error = float(re.search(r"relative L2 error (\S+)", out).group(1))
    assert abs(error / 6.4e-9 - 1) < 0.1 and "within 3 sigma: 100%" in out


def test_readme_commands_parse():
    from validation.cli import build_parser

    parser = build_parser()
    lines = [ln.split("#")[0].strip() for block in _blocks("bash") for ln in block.splitlines()]
    commands = [ln for ln in lines if ln.startswith("ntk-pinn ")]
    assert len(commands) >= 8
    for line in commands:
        parser.parse_args(shlex.split(line)[1:])
