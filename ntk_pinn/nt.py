"""neural-tangents, adapted to the jax at hand: the one module of ntk-pinn that imports it.

neural-tangents 0.6.5 (its last release, unmaintained) imports a few names that newer jax
releases removed; the same objects still exist in jax under other names. Before the
import, each *missing* name is provided from where jax keeps it now (a name jax still has
is never touched; :data:`ADAPTED` lists what this module provided). Its TensorFlow bridge,
``neural_tangents.experimental`` (the only part that imports TensorFlow, ~3 s and a page
of log lines), is kept from loading: a placeholder module stands in for it, and using it
raises an error that says how to get it back (set ``NTK_PINN_NT_EXPERIMENTAL=1`` before
importing ntk_pinn, with TensorFlow installed).

Use ``from ntk_pinn.nt import stax`` or ``from ntk_pinn import nt; nt.neural_tangents``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types

import jax

__all__ = ["ADAPTED", "CANDIDATES", "neural_tangents", "stax"]

# (module, attribute, where the object lives now, the jax release that removed the name).
# An attribute of None means the whole module: it is created when missing.
CANDIDATES = (
    ("jax.core", "Jaxpr", "jax.extend.core", "0.6.0"),
    ("jax.core", "JaxprEqn", "jax.extend.core", "0.6.0"),
    ("jax.core", "Literal", "jax.extend.core", "0.6.0"),
    ("jax.core", "Var", "jax.extend.core", "0.6.0"),
    ("jax.core", "Primitive", "jax.extend.core", "0.6.0"),
    # Still in jax.core as of 0.10.2: listed so that they are provided if a later release
    # drops them (nothing is done while jax has them).
    ("jax.core", "ShapedArray", "jax._src.core", None),
    ("jax.core", "Value", "jax._src.core", None),
    ("jax.core", "AbstractValue", "jax._src.core", None),
    ("jax.core", "eval_context", "jax._src.core", None),
    # jax.util.safe_map/safe_zip were removed in 0.7.0 and the module jax.util in 0.8.0.
    ("jax.util", None, None, "0.8.0"),
    ("jax.util", "safe_map", "jax._src.util", "0.7.0"),
    ("jax.util", "safe_zip", "jax._src.util", "0.7.0"),
    # Deprecated in 0.7.1, removed in 0.9.0.
    ("jax.interpreters.ad", "zeros_like_p", "jax._src.ad_util", "0.9.0"),
)

_EXPERIMENTAL = "neural_tangents.experimental"


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _has(module, attribute: str) -> bool:
    # hasattr runs jax's deprecation __getattr__: a removed name raises AttributeError.
    try:
        getattr(module, attribute)
    except AttributeError:
        return False
    return True


def _adapt_jax() -> tuple[str, ...]:
    """Provide the missing names of :data:`CANDIDATES`; return those provided."""
    provided = []
    for module_name, attribute, source, _ in CANDIDATES:
        module = _module(module_name)
        if attribute is None:
            if module is None:
                module = types.ModuleType(module_name, f"ntk_pinn.nt: stand-in for the "
                                                       f"{module_name} that jax removed.")
                sys.modules[module_name] = module
                parent, _, child = module_name.rpartition(".")
                setattr(sys.modules[parent], child, module)
                provided.append(module_name)
            continue
        if module is None or _has(module, attribute):
            continue
        setattr(module, attribute, getattr(importlib.import_module(source), attribute))
        provided.append(f"{module_name}.{attribute}")
    return tuple(provided)


class _Disabled(types.ModuleType):
    """Stands in for ``neural_tangents.experimental`` (its TensorFlow bridge)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{_EXPERIMENTAL}.{name} is not loaded: ntk-pinn keeps neural-tangents' "
            "TensorFlow bridge from importing TensorFlow. Set NTK_PINN_NT_EXPERIMENTAL=1 "
            "before importing ntk_pinn (with TensorFlow installed) to use it.")


def _keep_experimental_out() -> None:
    if os.environ.get("NTK_PINN_NT_EXPERIMENTAL", "0") == "1" or _EXPERIMENTAL in sys.modules:
        return
    sys.modules[_EXPERIMENTAL] = _Disabled(_EXPERIMENTAL)


ADAPTED = _adapt_jax()
_keep_experimental_out()

import neural_tangents  # noqa: E402
from neural_tangents import stax  # noqa: E402

del jax
