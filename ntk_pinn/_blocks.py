"""Block specs ``(operator, points)`` and the block kernel they produce.

Both the limiting kernel (``theory``) and the empirical kernel (``ntk_pinn``) take the same
``blocks`` and return the same :class:`BlockKernel`.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence, Union

import numpy as np

from ._operator import Operator

__all__ = ["Block", "BlockKernel", "as_blocks"]


@dataclasses.dataclass(frozen=True, eq=False)
class Block:
    """One constraint block: ``operator`` applied at ``points: (n, d)``."""

    name: str
    operator: Operator
    points: np.ndarray

    @property
    def size(self) -> int:
        return self.points.shape[0]


BlocksLike = Union[Sequence, Mapping]


def as_blocks(blocks: BlocksLike, what: str = "blocks") -> tuple[Block, ...]:
    """Normalize a sequence of ``(operator, points)`` or a mapping ``name -> (op, pts)``."""
    if isinstance(blocks, Mapping):
        items = [(str(k), v) for k, v in blocks.items()]
    elif isinstance(blocks, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(blocks)]
    else:
        raise ValueError(
            f"{what} must be a sequence of (operator, points) pairs or a mapping "
            f"name -> (operator, points), got {type(blocks).__name__}."
        )
    if not items:
        raise ValueError(f"{what} is empty: give at least one (operator, points) pair.")
    out = []
    for name, entry in items:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ValueError(
                f"{what}[{name!r}] must be an (operator, points) pair, got {entry!r:.80}."
            )
        op, points = entry
        if not isinstance(op, Operator):
            raise ValueError(
                f"{what}[{name!r}]: the operator must be an ntk_pinn.Operator, got "
                f"{type(op).__name__} (wrap strings: Operator('u_xx', variables='x'))."
            )
        out.append(Block(name, op, op.check_points(points, f"{what}[{name!r}] points")))
    variables = {b.operator.variables for b in out}
    if len(variables) > 1:
        raise ValueError(
            f"the operators in {what} use different variables {sorted(variables)}; all "
            "blocks must share one variable order (the columns of the points)."
        )
    return tuple(out)


def check_same_variables(rows: Sequence[Block], cols: Sequence[Block]) -> None:
    if rows[0].operator.variables != cols[0].operator.variables:
        raise ValueError(
            f"blocks use variables {rows[0].operator.variables} but blocks2 use "
            f"{cols[0].operator.variables}: both must have the same columns."
        )


@dataclasses.dataclass(frozen=True, eq=False)
class BlockKernel:
    """A PINN kernel ``[[K_00, K_01, ...], ...]`` over constraint blocks.

    ``matrix: (sum n_i, sum m_j)`` holds the blocks in order; ``block(a, b)`` returns block
    ``(a, b)`` by index or name. Rows come from ``blocks``, columns from ``blocks2`` (or
    ``blocks`` again for a square kernel).
    """

    matrix: np.ndarray
    row_names: tuple[str, ...]
    row_sizes: tuple[int, ...]
    col_names: tuple[str, ...]
    col_sizes: tuple[int, ...]
    kind: str
    info: dict = dataclasses.field(default_factory=dict)  # e.g. the quadrature degree used

    @property
    def names(self) -> tuple[str, ...]:
        return self.row_names

    @property
    def is_square(self) -> bool:
        return self.row_names == self.col_names and self.row_sizes == self.col_sizes

    def _slice(self, key, names, sizes, axis: str) -> slice:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            index = int(key)
            if not -len(names) <= index < len(names):
                raise ValueError(f"{axis} block index {index} out of range for {len(names)} blocks.")
            index %= len(names)
        elif key in names:
            index = names.index(key)
        else:
            raise ValueError(f"no {axis} block named {key!r}; blocks are {list(names)}.")
        start = int(sum(sizes[:index]))
        return slice(start, start + sizes[index])

    def block(self, a, b=None) -> np.ndarray:
        """Block ``(a, b)`` (``b`` defaults to ``a``), each an index or a name."""
        b = a if b is None else b
        rows = self._slice(a, self.row_names, self.row_sizes, "row")
        cols = self._slice(b, self.col_names, self.col_sizes, "column")
        return self.matrix[rows, cols]

    def pairs(self):
        """All ``(row_name, col_name)`` block pairs, in order."""
        return [(a, b) for a in self.row_names for b in self.col_names]


def assemble(row_blocks: Sequence[Block], col_blocks: Sequence[Block], compute, kind: str,
             symmetric: bool, info: dict | None = None) -> BlockKernel:
    """Fill a :class:`BlockKernel` from ``compute(row_block, col_block) -> (n, m)``.

    With ``symmetric`` only blocks ``a <= b`` are computed; ``(b, a)`` is the transpose.
    """
    rs = [b.size for b in row_blocks]
    cs = [b.size for b in col_blocks]
    matrix = np.empty((sum(rs), sum(cs)), dtype=np.float64)
    r0 = np.cumsum([0] + rs)
    c0 = np.cumsum([0] + cs)
    for i, rb in enumerate(row_blocks):
        for j, cb in enumerate(col_blocks):
            if symmetric and j < i:
                matrix[r0[i]:r0[i + 1], c0[j]:c0[j + 1]] = \
                    matrix[c0[j]:c0[j + 1], r0[i]:r0[i + 1]].T
                continue
            compute(rb, cb, matrix[r0[i]:r0[i + 1], c0[j]:c0[j + 1]])
    return BlockKernel(matrix, tuple(b.name for b in row_blocks), tuple(rs),
                       tuple(b.name for b in col_blocks), tuple(cs), kind, dict(info or {}))


def trace_weights(kernel: BlockKernel) -> dict:
    """``{block: tr(K) / tr(K_ii)}`` (Wang, Yu & Perdikaris' NTK-adaptive loss weights) for
    a square :class:`BlockKernel`; ``tr(K)`` is the sum of the diagonal blocks' traces."""
    if not isinstance(kernel, BlockKernel) or not kernel.is_square:
        raise ValueError("expected the square BlockKernel of one set of blocks (not a cross "
                         "kernel).")
    traces = {n: float(np.trace(kernel.block(n, n))) for n in kernel.names}
    if any(t <= 0 for t in traces.values()):
        raise ValueError(f"every diagonal block needs a positive trace, got {traces}.")
    total = sum(traces.values())
    return {n: total / t for n, t in traces.items()}
