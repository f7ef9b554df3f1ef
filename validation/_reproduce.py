"""``ntk-pinn reproduce NAME``: the source papers' experiments at their settings, each claim
with the paper's number beside ours.

:data:`EXPERIMENTS` is the one registry of experiments (the command line takes its
choices from it). An experiment is a function ``(scale, work_dir, progress) ->
Outcome``; ``scale`` is ``"paper"`` (the paper's settings), ``"quick"`` (every claim at
reduced width/steps, minutes on 2 cores; each experiment states what it reduced) or
``"tiny"`` (a smoke test: no verdicts). Training runs checkpoint into ``work_dir`` so that
rerunning the same command resumes an interrupted run.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from pathlib import Path

from ._results import SCALES, Reproduction, machine

__all__ = ["EXPERIMENTS", "Experiment", "SCALES", "reproduce"]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``module:function`` runs it (imported on first use, so
    that the registry loads without jax); ``help`` is its one line in ``--help``."""

    name: str
    target: str
    help: str

    def run(self, scale: str, work, progress: bool):
        module, function = self.target.split(":")
        mod = importlib.import_module(module, __package__)
        return getattr(mod, function)(scale, work, progress), mod.SOURCE


#: The experiments, by name.
EXPERIMENTS = {e.name: e for e in (
    Experiment("wang-poisson", "._wang:wang_poisson",
               "Wang et al.'s 1-D Poisson notebook (width 512, standard parameterization): "
               "error, NTK change with width"),
    Experiment("wang-constancy", "._wang_constancy:wang_constancy",
               "Wang et al. Figs. 2-3, text setting: the NTK barely moves, tends to K*"),
    Experiment("wang-weights", "._wang_weights:wang_weights",
               "Wang et al. Figs. 4-5: fixed weights from the NTK traces, text and "
               "notebook networks"),
    Experiment("wang-spectrum", "._wang:wang_spectrum",
               "Wang et al.: K(0) vs K* spectra against the frequency"),
    Experiment("wang-wave", "._wang_wave:wang_wave",
               "Wang et al. Fig. 6, notebook setting: fixed vs NTK-adaptive weights"),
    Experiment("wang-wave-text", "._wang_wave:wang_wave_text",
               "Wang et al. Figs. 6-8, text setting (5 x 500, default Adam): weights, "
               "NTK spectra during training"),
    Experiment("bonfanti-kernel", "._bonfanti:bonfanti_kernel",
               "Bonfanti et al.: the NTK of a nonlinear PDE stays random with width"),
    Experiment("bonfanti-optimizers", "._bonfanti_training:bonfanti_optimizers",
               "Bonfanti et al. Figs. 3a, 4a: Adam vs L-BFGS vs Levenberg-Marquardt on "
               "Poisson and Burgers, at equal steps and wall time"),
    Experiment("bonfanti-convection", "._bonfanti_training:bonfanti_convection",
               "Bonfanti et al. Fig. 3b: periodic convection at beta = 100, LM from "
               "scratch vs by curriculum"),
)}


def reproduce(name: str, *, scale: str = "quick", work_dir=None,
              progress: bool = True) -> Reproduction:
    """Run experiment ``name`` (one of :data:`EXPERIMENTS`) at ``scale`` (:data:`SCALES`).

    Args:
      name: the experiment, e.g. ``"wang-wave"``.
      scale: ``"quick"``, ``"paper"`` or ``"tiny"``.
      work_dir: where training runs keep checkpoints (rerunning resumes them); default
        none kept.
      progress: progress bars.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}.")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    work = None if work_dir is None else Path(work_dir) / f"{name}-{scale}"
    t0 = time.perf_counter()
    outcome, source = EXPERIMENTS[name].run(scale, work, progress)
    return Reproduction(name, scale, source, outcome.settings, tuple(outcome.claims),
                        outcome.raw, outcome.figures, time.perf_counter() - t0, machine())
