"""Training checkpoints: arrays and a plain description, nothing that runs code.

A checkpoint is one ``.npz`` file (numpy's zip of ``.npy`` arrays) read with
``allow_pickle=False``: the parameters' and the optimizer state's leaves (``p0, p1, ...``,
``o0, o1, ...``), the records' arrays, and ``meta``, a JSON text: the format, the run's
identity (``config``), the step, the loss weights in force, the records (arrays named in
place) and the training seconds. The pytree structures are not stored: they are rebuilt
from the run itself (the network's ``init`` and the optimizer's ``init``), and a file
whose leaves do not fit them is refused. So opening a checkpoint somebody sent you reads
numbers and text, never code.

Writing is atomic and durable: the file is written beside its target, flushed and
``fsync``-ed, renamed over it (``os.replace``) and the directory entry ``fsync``-ed, so an
interrupt or a crash leaves the previous checkpoint whole.

A run is identified by what determines it (``config``, plain JSON: the network, the
problem, the optimizer and every option). A learning-rate schedule is a function, so it is
identified by its values: ``schedule_digest(lr, n)`` hashes ``lr(0), ..., lr(n - 1)``, the
steps a checkpoint at step ``n`` has taken (a resumed run must have taken them with the
same learning rates; what it does after ``n`` is its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = []  # internal: the training loop's file format

#: Format tag in every checkpoint's description; version 1 was a pickle (refused).
FORMAT = "ntk-pinn checkpoint 2"


def plain(value):
    """``value`` as JSON would give it back (tuples as lists, numpy scalars as numbers), so
    that a description compares equal to its stored copy."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def network_description(net) -> dict:
    """The network's settings as plain values (a callable activation by its name). A
    one-output network has no ``outputs`` key, as before systems existed; a system's has
    it, so runs with other output counts never mix."""
    out = {f.name: getattr(net, f.name) for f in dataclasses.fields(net)}
    out["activation"] = net.activation_name
    if net.outputs == 1:
        del out["outputs"]
    return out


def digest(tree) -> str:
    """A digest of a pytree's values (a warm start's identity)."""
    import jax

    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf, np.float64)).tobytes())
    return h.hexdigest()


def schedule_digest(schedule, n: int) -> str:
    """A digest of an optax schedule's values at steps ``0 .. n - 1``."""
    import jax
    import jax.numpy as jnp

    values = np.asarray(jax.vmap(schedule)(jnp.arange(max(n, 1))), np.float64)[:n]
    return hashlib.sha1(np.ascontiguousarray(values).tobytes()).hexdigest()


def _encode(value, arrays: dict, prefix: str):
    """JSON-able ``value`` with every array stored in ``arrays`` and named in place."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError(f"checkpointed dicts need string keys, got {list(value)!r:.80}.")
        return {k: _encode(v, arrays, f"{prefix}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, f"{prefix}.{i}") for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.ndim(value) == 0:
        return float(value)
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything that is no array is refused below
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"cannot checkpoint {type(value).__name__} at {prefix!r}: a checkpoint holds "
            "numbers, strings, arrays and dicts/lists/tuples of them (make monitor return "
            "those, or leave the checkpoint out).")
    name = f"a{len(arrays)}"
    arrays[name] = array
    return {"__array__": name}


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        return {k: _decode(v, arrays) for k, v in value.items()}
    return value


def _write_durably(path: Path, write) -> None:
    """``write(file)`` into ``path`` atomically: a sibling temporary file, flushed and
    fsync-ed, renamed over ``path``, then the directory fsync-ed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(path, *, config: dict, step: int, params, optimizer_state, weights: dict,
         records: list, seconds: float, extra: dict | None = None) -> None:
    """Write a checkpoint (see the module docstring); ``extra``: more plain values kept in
    the description (e.g. a schedule's digest)."""
    import jax

    arrays = {}
    for tag, tree in (("p", params), ("o", optimizer_state)):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(jax.device_get(tree))):
            arrays[f"{tag}{i}"] = np.asarray(leaf)
    meta = {"format": FORMAT, "config": config, "step": int(step),
            "weights": {k: float(v) for k, v in weights.items()},
            "records": _encode(records, arrays, "records"), "seconds": float(seconds),
            "extra": plain(extra or {})}
    arrays["meta"] = np.asarray(json.dumps(meta))
    _write_durably(Path(path), lambda f: np.savez(f, **arrays))


def _read(path: Path):
    """``(meta, arrays)`` of a checkpoint file, or a ValueError saying what it is not."""
    restart = ("Delete it (or use another checkpoint path) to start the run afresh.")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(
                f"{str(path)!r} is not an ntk-pinn checkpoint in the current format: it is a "
                "pickle (checkpoints written before format 2 were pickles, which are not "
                f"loaded because loading a pickle can run code). {restart}") from None
        raise ValueError(f"{str(path)!r} is not an ntk-pinn checkpoint ({err}). "
                         f"{restart}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{str(path)!r} is not a readable ntk-pinn checkpoint "
                         f"({type(err).__name__}: {err}). {restart}") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
        ok = isinstance(meta, dict) and meta.get("format") == FORMAT
    except (KeyError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{str(path)!r} is an .npz file but not an ntk-pinn checkpoint of "
                         f"format {FORMAT!r}. {restart}")
    return meta, arrays


def _leaves(arrays: dict, tag: str, template, path: Path, what: str):
    import jax
    import jax.numpy as jnp

    leaves, treedef = jax.tree_util.tree_flatten(template)
    stored = [arrays.get(f"{tag}{i}") for i in range(len(leaves))]
    extra = f"{tag}{len(leaves)}" in arrays
    bad = extra or any(s is None or np.shape(s) != np.shape(t)
                       for s, t in zip(stored, leaves))
    if bad:
        raise ValueError(f"checkpoint {str(path)!r}: its {what} does not fit this run's "
                         "(other shapes or another count of arrays). Use another "
                         "checkpoint path, or delete it to restart.")
    # A Python number stays one (e.g. Levenberg-Marquardt's damping), arrays keep the
    # template's dtype.
    return jax.tree_util.tree_unflatten(treedef, [
        type(t)(s) if isinstance(t, (int, float)) else jnp.asarray(s, jnp.asarray(t).dtype)
        for s, t in zip(stored, leaves)])


def load(path, *, config: dict, steps: int, params_template, optimizer_template,
         check_extra=None):
    """``(step, params, optimizer_state, weights, records, seconds)`` from the checkpoint
    of the same run (its ``config`` equal to ``config``), else a ValueError that names what
    differs and how to restart. ``check_extra(meta["extra"], step)``: a further check of
    the run's identity (returns ``None`` or the difference in words)."""
    path = Path(path)
    meta, arrays = _read(path)
    saved = meta["config"]
    differ = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
    detail = [f"{k}: checkpoint {saved.get(k)!r}, now {config.get(k)!r}" for k in differ]
    if check_extra is not None:
        more = check_extra(meta["extra"], meta["step"])
        detail += [more] if more else []
    if detail:
        raise ValueError(f"checkpoint {str(path)!r} belongs to another run "
                         f"({'; '.join(detail)}). Use another checkpoint path, or delete "
                         "it to restart.")
    if meta["step"] > steps:
        raise ValueError(f"checkpoint {str(path)!r} is at step {meta['step']}, beyond "
                         f"steps={steps}; ask for at least {meta['step']} steps.")
    params = _leaves(arrays, "p", params_template, path, "parameters")
    opt_state = _leaves(arrays, "o", optimizer_template, path, "optimizer state")
    records = _decode(meta["records"], arrays)
    return meta["step"], params, opt_state, meta["weights"], records, meta["seconds"]
