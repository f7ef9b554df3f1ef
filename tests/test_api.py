"""The public surface: what each package re-exports, and who imports what."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import ntk_pinn  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ntk_pinn", "theory", "validation")
ENTRY_POINTS = {"validation.cli"}   # public modules that are programs, not API


@pytest.mark.parametrize("package", PACKAGES)
def test_private_modules_export_what_the_package_reexports(package):
    pkg = importlib.import_module(package)
    exported, found = set(pkg.__all__), set()
    assert len(exported) == len(pkg.__all__), "duplicate names in __all__"
    for info in pkgutil.iter_modules(pkg.__path__):
        name = f"{package}.{info.name}"
        module = importlib.import_module(name)
        if info.name.startswith("_"):
            names = set(module.__all__)
            assert names <= exported, (name, names - exported)
            for n in names:
                assert getattr(pkg, n) is getattr(module, n), (name, n)
            found |= names
        elif name not in ENTRY_POINTS:
            assert info.name in exported, f"public module {name} is not re-exported"
            found.add(info.name)
    assert exported == found, exported ^ found


def test_no_package_imports_another_packages_private_modules():
    # Dependencies flow validation -> theory -> ntk_pinn through public names only.
    pattern = re.compile(r"^\s*(from|import)\s+(ntk_pinn|theory|validation)\._", re.M)
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            for match in pattern.finditer(path.read_text()):
                assert match.group(2) == package, f"{path.name} imports {match.group(0)}"
    back = re.compile(r"^\s*(from|import)\s+(theory|validation)\b", re.M)
    for path in (ROOT / "ntk_pinn").glob("*.py"):
        assert not back.search(path.read_text()), f"ntk_pinn/{path.name} imports upward"
    for path in (ROOT / "theory").glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+validation\b", path.read_text(), re.M), path


def test_neural_tangents_is_imported_in_one_module_only():
    # ntk_pinn/nt.py adapts it to the jax at hand; everything else goes through it.
    pattern = re.compile(r"^\s*(from\s+neural_tangents\b|import\s+neural_tangents\b)", re.M)
    offenders = [str(path.relative_to(ROOT))
                 for folder in PACKAGES + ("tests", "benchmarks")
                 for path in (ROOT / folder).glob("*.py")
                 if pattern.search(path.read_text()) and path != ROOT / "ntk_pinn" / "nt.py"]
    assert offenders == []


def test_every_public_function_documents_its_arguments():
    # The API reference (mkdocstrings) is generated from these docstrings.
    import inspect

    from ntk_pinn import problems

    missing = []
    for pkg in [importlib.import_module(p) for p in PACKAGES] + [problems]:
        for name in pkg.__all__:
            obj = getattr(pkg, name)
            if inspect.isfunction(obj) and inspect.signature(obj).parameters:
                if "Args:" not in (inspect.getdoc(obj) or ""):
                    missing.append(f"{pkg.__name__}.{name}")
    assert missing == []


def test_no_function_is_longer_than_80_lines():
    import ast

    long = []
    for folder in PACKAGES + ("benchmarks",):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if node.end_lineno - node.lineno + 1 > 80:
                        long.append(f"{folder}/{path.name}:{node.name}")
    assert long == []


def test_problem_data_is_taken_as_it_is_by_every_kernel_function():
    # problem.data()'s (operator, points, values) triples, where blocks are expected.
    import jax
    import numpy as np

    import theory
    from ntk_pinn import empirical_kernel, empirical_traces, mlp, problems

    problem = problems.poisson_1d(1.0)
    data, blocks = problem.data(6, 2), problem.blocks(6, 2)
    net = mlp(8, 1)
    params = net.init(jax.random.PRNGKey(0), 1)
    assert np.array_equal(theory.limiting_kernel(net, data).matrix,
                          theory.limiting_kernel(net, blocks).matrix)
    assert np.array_equal(empirical_kernel(net, params, data).matrix,
                          empirical_kernel(net, params, blocks).matrix)
    assert empirical_traces(net, params, data) == empirical_traces(net, params, blocks)
