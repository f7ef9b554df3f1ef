"""Print the project's requirements (setup.cfg's install_requires and the `test` extra)
for `make venv`: everything but neural-tangents, plus neural-tangents' own requirements
but TensorFlow and tf2jax. The Makefile installs these, then neural-tangents itself with
--no-deps, so the project's .venv holds no TensorFlow (ntk_pinn never imports it); a
plain `pip install ntk-pinn` still installs neural-tangents with all it declares."""

import configparser
import pathlib

# neural-tangents 0.6.5 declares: frozendict, jax, tensorflow, tf2jax. Only its TF bridge
# (neural_tangents.experimental, kept from loading by ntk_pinn/nt.py) needs the last two.
NT_RUNTIME = ["frozendict"]

cfg = configparser.ConfigParser()
cfg.read(pathlib.Path(__file__).resolve().parent.parent / "setup.cfg")


def lines(text):
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


reqs = lines(cfg["options"]["install_requires"]) + lines(cfg["options.extras_require"]["test"])
print("\n".join([r for r in reqs if not r.startswith("neural-tangents")] + NT_RUNTIME))
