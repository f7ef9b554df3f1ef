"""The exact infinite-width PINN kernel ``K*`` from neural-tangents' analytic kernels.

Block ``(a, b)`` is ``L_a,x L_b,x' Θ(x, x')``, obtained by applying each block's operator
to one argument of the *batched* ``kernel_fn`` (see ``Operator.on_kernel``): a forward-mode
JVP whose tangent is a unit coordinate on every row differentiates all pairs at once.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ntk_pinn import Network, Operator
from ntk_pinn._blocks import BlockKernel, as_blocks, assemble, check_same_variables

__all__ = ["limiting_kernel", "operator_kernel_fn", "KINDS"]

KINDS = ("ntk", "nngp")
# Entries per row chunk: bounds the memory of the derivative intermediates
# (each ~8 MB at this size; a depth-2 fourth-order JVP keeps a few hundred alive).
_CHUNK_ENTRIES = 2 ** 18
_PROGRESS_ENTRIES = 2 ** 24


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")


def operator_kernel_fn(net: Network, op1: Operator, op2: Operator | None = None,
                       kind: str = "ntk") -> Callable:
    """``(x1: (n1, d), x2: (n2, d)) -> (n1, n2)``: ``L1_x L2_x' k(x, x')``, jit-compatible.

    ``k`` is ``net.kernel_fn(., ., kind)``; ``op2`` defaults to ``op1``.
    """
    op2 = op1 if op2 is None else op2
    _check_kind(kind)
    for op in (op1, op2):
        op.require_linear("the limiting kernel")
        net.check_differentiable(op, op1.order + op2.order)

    def k(x1, x2):
        return net.kernel_fn(x1, x2, kind)

    return op2.on_kernel(op1.on_kernel(k, 0), 1)


@functools.lru_cache(maxsize=256)
def _compiled(net: Network, op1: Operator, op2: Operator, kind: str, n_devices: int):
    fn = operator_kernel_fn(net, op1, op2, kind)
    if n_devices > 1:
        return jax.pmap(fn, in_axes=(0, None))
    return jax.jit(fn)


def _fill_block(fn, x1: np.ndarray, x2: np.ndarray, out: np.ndarray, batch: int,
                n_devices: int, bar) -> None:
    """Row-chunked evaluation of ``fn`` into ``out``; the last chunk is padded so that
    one compiled shape serves every chunk. Chunk ``k + 1`` is dispatched before chunk
    ``k`` is copied back (JAX dispatch is asynchronous)."""
    n1, d = x1.shape
    step = batch * n_devices
    n_pad = -(-n1 // step) * step
    if n_pad > n1:
        x1 = np.concatenate([x1, np.repeat(x1[:1], n_pad - n1, axis=0)])
    x2 = jnp.asarray(x2)
    pending = None
    for start in range(0, n_pad + step, step):
        current = None
        if start < n_pad:
            chunk = x1[start:start + step]
            if n_devices > 1:
                current = (start, fn(chunk.reshape(n_devices, batch, d), x2))
            else:
                current = (start, fn(chunk, x2))
        if pending is not None:
            s, value = pending
            value = np.asarray(value).reshape(step, -1)
            stop = min(s + step, n1)
            out[s:stop] = value[:stop - s]
            bar.update(1)
        pending = current


def limiting_kernel(net: Network, blocks, blocks2=None, kind: str = "ntk", *,
                    batch_size: int | None = None, progress: bool | None = None
                    ) -> BlockKernel:
    """The infinite-width PINN kernel ``K*`` (``kind="ntk"``) or NNGP (``"nngp"``).

    Args:
      net: the network spec (``ntk_pinn.mlp``); its ``kernel_fn`` is differentiated.
      blocks: a sequence of ``(operator, points)`` pairs or a mapping
        ``name -> (operator, points)``; points are ``(n_i, d)`` in the operators'
        variable order. Operators must be linear.
      blocks2: column blocks for a cross kernel (e.g. test vs train); default ``blocks``.
      kind: ``"ntk"`` or ``"nngp"``.
      batch_size: rows per compiled chunk (default: about 2**18 entries per chunk), which
        bounds memory; chunks are spread over all local devices.
      progress: show a progress bar (default: for kernels over 2**24 entries).

    Returns:
      A :class:`ntk_pinn.BlockKernel` whose block ``(a, b)`` has entries
      ``L_a,x L_b,x' Θ(x_i, x'_j)``; ``.matrix`` is ``(sum n_i, sum m_j)``.
    """
    _check_kind(kind)
    rows = as_blocks(blocks, "blocks")
    cols = rows if blocks2 is None else as_blocks(blocks2, "blocks2")
    check_same_variables(rows, cols)
    for r in rows:
        for c in cols:
            operator_kernel_fn(net, r.operator, c.operator, kind)  # validates, cheap
    symmetric = blocks2 is None
    n_devices = jax.local_device_count()

    def batch_for(n1: int, n2: int) -> int:
        if batch_size is not None:
            if not isinstance(batch_size, int) or batch_size < 1:
                raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
            return min(batch_size, max(1, -(-n1 // n_devices)))
        per_device = -(-n1 // n_devices)
        return max(1, min(per_device, _CHUNK_ENTRIES // max(n2, 1)))

    todo = [(r, c) for i, r in enumerate(rows) for j, c in enumerate(cols)
            if not (symmetric and j < i)]
    n_chunks = sum(-(-r.size // (batch_for(r.size, c.size) * n_devices)) for r, c in todo)
    entries = sum(r.size * c.size for r, c in todo)
    show = entries >= _PROGRESS_ENTRIES if progress is None else bool(progress)
    with tqdm(total=n_chunks, disable=not show, desc=f"K* ({kind})", unit="chunk") as bar:
        def compute(r, c, out):
            fn = _compiled(net, r.operator, c.operator, kind, n_devices)
            _fill_block(fn, r.points, c.points, out, batch_for(r.size, c.size),
                        n_devices, bar)

        return assemble(rows, cols, compute, kind, symmetric)

