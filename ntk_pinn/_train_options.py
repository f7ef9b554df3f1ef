"""The option groups of :func:`ntk_pinn.train`, each a small frozen object checked when it
is made (as diffrax's ``SaveAt``): which points (:class:`Points`), NTK-adaptive weights
(:class:`Adaptive`), what is recorded (:class:`Record`) and where the run checkpoints
(:class:`Checkpoint`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

__all__ = ["Adaptive", "Checkpoint", "Points", "Record"]


def positive_int(label: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    return int(value)


def _sizes_or_none(label: str, value):
    """``None``, a positive int, or a mapping of positive ints (checked against the
    problem's blocks by :func:`per_block`)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            positive_int(f"{label}[{k!r}]", v)
        return dict(value)
    return positive_int(label, value)


def per_block(label: str, value, names: list) -> dict | None:
    """``None``, or ``{block: positive int}`` from an int (every block) or a mapping that
    names every block."""
    if value is None:
        return None
    if not isinstance(value, dict):
        value = {n: value for n in names}
    if set(value) != set(names):
        raise ValueError(f"{label} must be a positive integer or a mapping with one for each "
                         f"block {names}, got {value!r}.")
    return {n: int(value[n]) for n in names}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Points:
    """The points a run trains on.

    Args:
      n_residual: collocation points per residual of the fixed points
        ``problem.data(n_residual, n_boundary, seed)``: the training points of a
        full-batch run, and where the losses are recorded.
      n_boundary: points per boundary/initial constraint of the fixed points.
      seed: the seed of the fixed points, and of fresh batches.
      batch_size: ``None`` (full batch), or an int / ``{block: n}``: a fresh batch from the
        problem's samplers every step, drawn by ``numpy.random.default_rng((seed, step))``
        so that a run is the same however it is cut into pieces (Adam and GD only).
    """

    n_residual: int = 64
    n_boundary: int = 32
    seed: int = 0
    batch_size: int | Mapping | None = None

    def __post_init__(self):
        positive_int("Points.n_residual", self.n_residual)
        positive_int("Points.n_boundary", self.n_boundary)
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool):
            raise ValueError(f"Points.seed must be an integer, got {self.seed!r}.")
        object.__setattr__(self, "batch_size", _sizes_or_none("batch_size", self.batch_size))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Adaptive:
    """NTK-adaptive loss weights (Wang, Yu & Perdikaris' Algorithm 1): every ``every``
    steps (from step 0) ``λ_g = tr(K) / tr(K_g)`` from the diagonal blocks' traces of the
    current network's empirical NTK.

    Args:
      every: steps between two updates.
      groups: ``{group: block names}``, one weight per group (default one per block; their
        wave code weighs initial and boundary values as one group).
      kernel_size: points per block of the kernel (int or ``{block: n}``), drawn once from
        the samplers; default: the fixed training points of a full-batch run, else
        ``batch_size`` points.
      resample: draw the kernel points afresh at every update (Wang et al.'s code: the
        current batch) instead of once.
    """

    every: int = 100
    groups: Mapping | None = None
    kernel_size: int | Mapping | None = None
    resample: bool = False

    def __post_init__(self):
        positive_int("Adaptive.every", self.every)
        object.__setattr__(self, "kernel_size",
                           _sizes_or_none("kernel_size", self.kernel_size))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """What a run records, at step 0, every ``every`` steps and at the last step.

    Args:
      every: steps between two records; default ``None``: about ten records
        (``ceil(steps / 10)``). A given value must divide ``steps``.
      grid: points per axis of the grid of the relative L2 error (per axis for 1-D
        problems; ``sqrt(grid) + 1`` per axis otherwise).
      monitor: ``params -> anything`` (e.g. an empirical NTK) evaluated at every record,
        kept in ``TrainResult.monitored`` and in checkpoints (which hold numbers, strings,
        arrays and dicts/lists/tuples of them).
    """

    every: int | None = None
    grid: int = 64
    monitor: Callable | None = None

    def __post_init__(self):
        if self.every is not None:
            positive_int("Record.every", self.every)
        positive_int("Record.grid", self.grid)
        if self.monitor is not None and not callable(self.monitor):
            raise ValueError(f"Record.monitor must be a function params -> value, got "
                             f"{self.monitor!r:.60}.")

    def interval(self, steps: int) -> int:
        """The steps between two records of a run of ``steps`` steps."""
        if self.every is None:
            return max(1, -(-steps // 10))
        if steps % self.every:
            raise ValueError(f"steps ({steps}) must be a multiple of record_every "
                             f"(Record.every={self.every}); or leave it out: about ten "
                             "records.")
        return self.every


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Save the run's state to ``path`` every ``every`` steps (default: at every record)
    and at the end; a run started with the same settings resumes from it with identical
    results (only ``steps`` may differ, e.g. to extend a run). The file holds arrays and
    plain JSON (``ntk_pinn._checkpoint``), never code."""

    path: str | Path
    every: int | None = None

    def __post_init__(self):
        if not isinstance(self.path, (str, Path)):
            raise ValueError(f"Checkpoint.path must be a file path, got {self.path!r:.60}.")
        object.__setattr__(self, "path", Path(self.path))
        if self.every is not None:
            positive_int("checkpoint_every (Checkpoint.every)", self.every)


def as_option(value, cls, label: str):
    """``value`` as a ``cls``: ``None``/``False`` -> None, ``True`` -> ``cls()``, a path
    -> ``Checkpoint(path)``, an instance as it is."""
    if value is None or value is False:
        return None
    if value is True and cls is not Checkpoint:
        return cls()
    if isinstance(value, cls):
        return value
    if cls is Checkpoint and isinstance(value, (str, Path)):
        return Checkpoint(value)
    kinds = {Checkpoint: "a file path or ntk_pinn.Checkpoint(path, every=...)",
             Adaptive: "True, False or ntk_pinn.Adaptive(every=..., groups=...)"}[cls]
    raise ValueError(f"{label} must be {kinds}, got {value!r:.80}.")
