"""Every code block of the README and of the documentation site runs: the Python blocks
of a page are executed in order in one namespace (as a reader would paste them), in a
scratch directory; every ``ntk-pinn`` line of a bash block is parsed by the command
line's parser (running them all would take hours)."""

import re
import shlex
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def _blocks(path: Path, lang: str) -> list[str]:
    """The ``lang`` code blocks of ``path``, dedented (a block may sit in a list item)."""
    pattern = rf"^([ \t]*)```{lang}\n(.*?)^\1```"
    return [textwrap.dedent(code)
            for _, code in re.findall(pattern, path.read_text(), flags=re.S | re.M)]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p, "python")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for i, code in enumerate(_blocks(page, "python")):
        exec(compile(code, f"{page.name} python block {i}", "exec"), namespace)


def test_readme_blocks_print_what_they_compute(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for code in _blocks(ROOT / "README.md", "python"):
        exec(compile(code, "README.md", "exec"), {})
        assert capsys.readouterr().out.strip(), code[:60]


def test_readme_printed_numbers_are_what_the_code_prints(tmp_path, monkeypatch, capsys):
    # The posterior task: the numbers in its comment are those it prints.
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks(ROOT / "README.md", "python") if "gp_posterior" in b)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    error = float(re.search(r"relative L2 error (\S+)", out).group(1))
    assert abs(error / 2.3e-6 - 1) < 0.1 and "within 3 sigma: 100%" in out


def test_commands_in_the_pages_parse():
    from validation.cli import build_parser

    parser = build_parser()
    commands = []
    for page in PAGES:
        for block in _blocks(page, "bash"):
            # join continuation lines, drop comments
            text = re.sub(r"\\\n\s*", " ", block)
            commands += [ln.split("#")[0].strip() for ln in text.splitlines()
                         if ln.strip().startswith("ntk-pinn ")]
    assert len(commands) >= 10
    for line in commands:
        parser.parse_args(shlex.split(line)[1:])
