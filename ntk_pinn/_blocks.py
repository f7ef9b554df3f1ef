"""Block specs ``(operator, points)`` and the block kernel they produce.

Both the limiting kernel (``theory``) and the empirical kernel (``ntk_pinn``) take the same
``blocks`` and return the same :class:`BlockKernel`.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence, Union

import numpy as np

from ._operator import Operator
from ._periodic import Periodic

__all__ = ["BlockKernel", "trace_weights"]  # the rest: ntk_pinn.internal


@dataclasses.dataclass(frozen=True, eq=False)
class Block:
    """One constraint block: ``operator`` applied at ``points: (n, d)``."""

    name: str
    operator: "Operator | Periodic"
    points: np.ndarray

    @property
    def size(self) -> int:
        return self.points.shape[0]


BlocksLike = Union[Sequence, Mapping]


def as_blocks(blocks: BlocksLike, what: str = "blocks") -> tuple[Block, ...]:
    """Normalize a sequence of ``(operator, points)`` or a mapping ``name -> (op, pts)``;
    the ``(operator, points, values)`` triples of ``Problem.data`` are taken as they are."""
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
        # (operator, points), or Problem.data's (operator, points, values): values unused
        if not (isinstance(entry, (tuple, list)) and len(entry) in (2, 3)):
            raise ValueError(
                f"{what}[{name!r}] must be an (operator, points) pair (or an (operator, "
                f"points, values) triple), got {entry!r:.80}."
            )
        op, points = entry[:2]
        if not isinstance(op, (Operator, Periodic)):
            raise ValueError(
                f"{what}[{name!r}]: the operator must be an ntk_pinn.Operator (or a Periodic "
                f"one), got "
                f"{type(op).__name__} (wrap strings: Operator('u_xx', variables='x'))."
            )
        out.append(Block(name, op, op.check_points(points, f"{what}[{name!r}] points")))
    variables = {b.operator.variables for b in out}
    if len(variables) > 1:
        raise ValueError(
            f"the operators in {what} use different variables {sorted(variables)}; all "
            "blocks must share one variable order (the columns of the points)."
        )
    _check_same_fields(out, what)
    return tuple(out)


def _check_same_fields(blocks, what: str) -> None:
    fields = {b.operator.fields for b in blocks}
    if len(fields) > 1:
        listing = ", ".join(f"{b.name!r}: {' '.join(b.operator.fields)}" for b in blocks)
        raise ValueError(
            f"the operators in {what} declare different fields ({listing}); every operator "
            "of a system lists all its fields in the network's output order, e.g. "
            "Operator('p', 'x y', fields='u v p') for a pressure constraint.")


def kernel_blocks(blocks: BlocksLike, blocks2: BlocksLike | None = None
                  ) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
    """``(rows, cols)`` of a kernel over ``blocks`` x ``blocks2``, both normalized by
    :func:`as_blocks` and checked to share one variable order. Without ``blocks2`` the
    kernel is square and ``cols is rows`` (the same tuple): that identity is what makes
    :meth:`BlockKernel.assemble` compute only the blocks on and above the diagonal."""
    rows = as_blocks(blocks, "blocks")
    if blocks2 is None:
        return rows, rows
    cols = as_blocks(blocks2, "blocks2")
    if rows[0].operator.variables != cols[0].operator.variables:
        raise ValueError(
            f"blocks use variables {rows[0].operator.variables} but blocks2 use "
            f"{cols[0].operator.variables}: both must have the same columns."
        )
    _check_same_fields(rows[:1] + cols, "blocks and blocks2")
    return rows, cols


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

    @staticmethod
    def computed_pairs(rows: Sequence, cols: Sequence) -> list[tuple[int, int]]:
        """Index pairs ``(i, j)`` of the blocks a kernel computes: every pair of a cross
        kernel; of a square one (``cols is rows``) those with ``i <= j``, the others being
        their transposes."""
        return [(i, j) for i in range(len(rows)) for j in range(len(cols))
                if cols is not rows or i <= j]

    @classmethod
    def assemble(cls, rows: Sequence[Block], cols: Sequence[Block], compute, kind: str,
                 info: dict | None = None) -> "BlockKernel":
        """Fill a kernel from ``compute(row_block, col_block, out)`` (``out``: the ``(n, m)``
        view to write) over :meth:`computed_pairs`; a square kernel's blocks below the
        diagonal are the transposes of those above."""
        rs = [b.size for b in rows]
        cs = [b.size for b in cols]
        matrix = np.empty((sum(rs), sum(cs)), dtype=np.float64)
        r0 = np.cumsum([0] + rs)
        c0 = np.cumsum([0] + cs)
        for i, j in cls.computed_pairs(rows, cols):
            compute(rows[i], cols[j], matrix[r0[i]:r0[i + 1], c0[j]:c0[j + 1]])
            if cols is rows and j > i:
                matrix[r0[j]:r0[j + 1], c0[i]:c0[i + 1]] = \
                    matrix[r0[i]:r0[i + 1], c0[j]:c0[j + 1]].T
        return cls(matrix, tuple(b.name for b in rows), tuple(rs),
                   tuple(b.name for b in cols), tuple(cs), kind, dict(info or {}))


def trace_weights(kernel, groups: dict | None = None) -> dict:
    """Wang, Yu & Perdikaris' NTK-adaptive loss weights ``{group: tr(K) / tr(K_g)}``,
    ``tr(K_g)`` the sum of the diagonal blocks' traces over the group, ``tr(K)`` over all.

    Args:
      kernel: a square :class:`BlockKernel` (limiting or empirical), or the diagonal
        blocks' traces ``{block: tr(K_ii)}`` (e.g. :func:`ntk_pinn.empirical_traces`).
      groups: ``{group: block names}`` covering every block once (their wave code weighs
        the initial and boundary values as one group); default one group per block.
    """
    if isinstance(kernel, BlockKernel):
        if not kernel.is_square:
            raise ValueError("expected the square BlockKernel of one set of blocks (not a "
                             "cross kernel).")
        traces = {n: float(np.trace(kernel.block(n, n))) for n in kernel.names}
    else:
        traces = dict(kernel)
    groups = check_groups(groups, list(traces))
    if any(not t > 0 for t in traces.values()):
        raise ValueError(f"every diagonal block needs a positive trace, got {traces}.")
    total = sum(traces.values())
    return {g: total / sum(traces[n] for n in names) for g, names in groups.items()}


def check_groups(groups: dict | None, names: list) -> dict:
    """``groups`` as ``{group: tuple of block names}`` after checking that they cover
    ``names`` once each (default: one group per block, named as the block)."""
    if groups is None:
        return {n: (n,) for n in names}
    groups = {g: (members,) if isinstance(members, str) else tuple(members)
              for g, members in groups.items()}
    listed = [n for members in groups.values() for n in members]
    unknown = sorted(set(listed) - set(names))
    twice = sorted({n for n in listed if listed.count(n) > 1})
    missing = [n for n in names if n not in listed]
    if unknown or twice or missing or any(not m for m in groups.values()):
        raise ValueError(
            f"groups {groups} must put each block in exactly one non-empty group; blocks: "
            f"{names}" + (f"; unknown: {unknown}" if unknown else "")
            + (f"; listed twice: {twice}" if twice else "")
            + (f"; in no group: {missing}" if missing else "") + ".")
    return groups
