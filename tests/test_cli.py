"""The command line agrees with itself: each command offers exactly the problems it
accepts, every option has help, bad values name their flag."""

import argparse

import pytest

from ntk_pinn import problems
from validation import EXPERIMENTS
from validation.cli import COMMANDS, build_parser, main


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {n}".strip(), p) for n, p in _subparsers(sub))
                yield name, sub


def test_every_option_has_help_and_every_command_is_described():
    seen = dict(_subparsers(build_parser()))
    assert set(COMMANDS) <= set(seen)
    for name in COMMANDS:
        for action in seen[name]._actions:
            assert action.help, (name, action.dest)


@pytest.mark.parametrize("command", ["posterior", "spectrum", "study width",
                                     "study training", "train", "study nonlinear"])
def test_problem_choices_are_the_problems_the_command_accepts(command):
    parser = dict(_subparsers(build_parser()))[command]
    choices = set(next(a for a in parser._actions if a.dest == "problem").choices)
    linear = {n for n in problems.PROBLEMS if problems.get(n).is_linear}
    want = {"train": set(problems.PROBLEMS),
            "study nonlinear": set(problems.PROBLEMS) - linear}.get(command, linear)
    assert choices == want
    # the systems are offered where they work, the nonlinear problem only where it does
    if command == "posterior":
        assert {"stokes_2d", "elasticity_2d"} <= choices
        assert "nonlinear_poisson_1d" not in choices


def test_the_experiments_offered_are_the_registry():
    parser = dict(_subparsers(build_parser()))["reproduce"]
    names = next(a for a in parser._actions if a.dest == "name").choices
    assert list(names) == list(EXPERIMENTS)


def test_a_bad_problem_parameter_names_the_flag(tmp_path, capsys):
    assert main(["posterior", "--problem-param", "a=two", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--problem-param a=two" in err and "not a number" in err
    assert main(["posterior", "--problem-param", "b=2", "--out", str(tmp_path)]) == 2
    assert "--problem-param b=2" in capsys.readouterr().err
    assert main(["posterior", "--problem", "nonlinear_poisson_1d", "--out",
                 str(tmp_path)]) == 2
    assert "invalid choice: 'nonlinear_poisson_1d'" in capsys.readouterr().err
