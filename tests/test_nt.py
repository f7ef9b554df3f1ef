"""ntk_pinn.nt: neural-tangents adapted to the jax at hand, without TensorFlow; start-up
and the CLI's persistent compilation cache."""

import json
import os
import subprocess
import sys

import pytest

from ntk_pinn import nt

# Run in a fresh interpreter: what jax has before ntk_pinn is imported, and after.
PROBE = """
import importlib, json, sys
CANDIDATES = json.loads(sys.argv[1])
def get(module, attribute):
    try:
        m = importlib.import_module(module)
    except ImportError:
        return None
    if attribute is None:
        return id(m)
    try:
        return id(getattr(m, attribute))
    except AttributeError:
        return None
import jax
before = {f"{m}.{a}": get(m, a) for m, a, _, _ in CANDIDATES}
import ntk_pinn
after = {f"{m}.{a}": get(m, a) for m, a, _, _ in CANDIDATES}
print(json.dumps({"before": before, "after": after, "adapted": list(ntk_pinn.nt.ADAPTED)}))
"""


@pytest.fixture(scope="module")
def probe():
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(nt.CANDIDATES)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module,attribute,source,removed_in", nt.CANDIDATES,
                         ids=[f"{m}.{a}" for m, a, _, _ in nt.CANDIDATES])
def test_adapter_provides_only_what_jax_lacks(probe, module, attribute, source, removed_in):
    key = f"{module}.{attribute}"
    name = module if attribute is None else key
    if probe["before"][key] is not None:
        # jax still has it: the adapter must leave the very same object in place.
        assert probe["after"][key] == probe["before"][key], f"{key} was overwritten"
        assert name not in probe["adapted"]
    else:
        assert probe["after"][key] is not None, f"{key} is still missing"
        assert name in probe["adapted"] and removed_in is not None
    if attribute is not None and source is not None:
        import importlib

        got = getattr(importlib.import_module(module), attribute)
        assert got is getattr(importlib.import_module(source), attribute)


def test_importing_the_packages_imports_no_tensorflow():
    code = ("import sys, ntk_pinn, theory, validation\n"
            "import validation.cli, validation._write, validation.plots\n"
            "from ntk_pinn.nt import neural_tangents, stax\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tf2jax'))\n"
            "assert not bad, bad\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_experimental_bridge_is_a_placeholder_that_says_how_to_get_it():
    experimental = sys.modules["neural_tangents.experimental"]
    if not isinstance(experimental, type(nt)) or not hasattr(type(experimental),
                                                             "__getattr__"):
        pytest.skip("neural_tangents.experimental was loaded before ntk_pinn")
    with pytest.raises(AttributeError, match="NTK_PINN_NT_EXPERIMENTAL=1"):
        experimental.empirical_ntk_fn_tf
    assert nt.neural_tangents.stax is nt.stax


def test_cli_help_imports_nothing_heavy():
    code = ("import sys\nfrom validation.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'jax', 'neural_tangents', 'tensorflow', 'ntk_pinn', 'theory', 'scipy'})\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_cli_compilation_cache_is_reused_and_can_be_turned_off(tmp_path):
    # A repeated command finds every kernel in the cache: it writes no new entry.
    cache = tmp_path / "cache"
    env = dict(os.environ, NTK_PINN_CACHE_DIR=str(cache), NTK_PINN_NO_CACHE="0")
    argv = [sys.executable, "-m", "validation.cli", "kernel", "--operator", "u_xx",
            "--variables", "x", "--depth", "1", "--n", "8"]
    first = subprocess.run(argv + ["--out", str(tmp_path / "a")], env=env,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert entries, "nothing was written to the compilation cache"
    again = subprocess.run(argv + ["--out", str(tmp_path / "b")], env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == entries
    for run in (first, again):  # no TensorFlow / absl log lines on any command
        assert "absl" not in run.stderr and "tensorflow" not in run.stderr.lower()
    off = tmp_path / "off"
    env_off = dict(env, NTK_PINN_CACHE_DIR=str(off))
    assert subprocess.run(argv + ["--no-cache", "--out", str(tmp_path / "c")],
                          env=env_off, capture_output=True).returncode == 0
    assert not off.exists()
