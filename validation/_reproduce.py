"""``ntk-pinn reproduce NAME``: the source papers' experiments at their settings, each claim
with the paper's number beside ours.

An experiment is a function ``(scale, work_dir, progress) -> Reproduction``; ``scale`` is
``"paper"`` (the paper's settings), ``"quick"`` (every claim at reduced width/steps,
minutes on 2 cores; each experiment states what it reduced) or ``"tiny"`` (tests). Training runs checkpoint
into ``work_dir`` so that rerunning the same command resumes an interrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ._study import write_atomic

__all__ = ["Claim", "Reproduction", "EXPERIMENTS", "SCALES", "reproduce", "machine"]

#: ``"paper"``: the paper's settings; ``"quick"``: every claim at reduced width/steps
#: (minutes on 2 cores); ``"tiny"``: a smoke test of every code path in seconds (its
#: numbers mean nothing).
SCALES = ("quick", "paper", "tiny")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One row of a reproduction table: what the paper says (``paper``: its number, or its
    qualitative claim where it gives none), what we measured (``ours``), whether ours
    supports it (``holds``: True / False / None when there is nothing to judge), and a
    note (where we differ, why)."""

    claim: str
    paper: str
    ours: str
    holds: bool | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A finished experiment: ``claims`` (the table), ``settings`` (what ran), ``raw`` (the
    numbers, JSON-able), ``figures`` (``{file stem: () -> matplotlib Figure}``),
    ``seconds`` (wall time of this invocation; training time of resumed runs is summed in
    ``raw``) and ``machine``."""

    name: str
    scale: str
    source: str
    settings: dict
    claims: tuple[Claim, ...]
    raw: dict
    figures: dict
    seconds: float
    machine: dict

    def table(self) -> str:
        """The Markdown table: claim, paper, ours, verdict, note."""
        mark = {True: "yes", False: "**no**", None: "-"}
        lines = ["| claim | paper | ours | agrees | note |", "|---|---|---|---|---|"]
        lines += [f"| {c.claim} | {c.paper} | {c.ours} | {mark[c.holds]} | {c.note} |"
                  for c in self.claims]
        return "\n".join(lines)

    def markdown(self) -> str:
        settings = "\n".join(f"- {k}: {v}" for k, v in self.settings.items())
        figures = "\n".join(f"![{stem}]({self.name}_{stem}.png)" for stem in self.figures)
        trained = _train_seconds(self.raw)
        resumed = (f" (this invocation; training time over all its resumed pieces "
                   f"{trained:.0f} s)" if trained > self.seconds else "")
        return (f"# `{self.name}` ({self.scale} scale)\n\n{self.source}\n\n{self.table()}\n\n"
                f"Wall time {self.seconds:.0f} s{resumed} on {self.machine['summary']}.\n\n"
                f"## Settings\n{settings}\n\n{figures}\n")

    def summary(self) -> str:
        agree = sum(c.holds is True for c in self.claims)
        judged = sum(c.holds is not None for c in self.claims)
        return (f"{self.name} ({self.scale}): {agree}/{judged} judged claims agree with the "
                f"paper; {self.seconds:.0f} s\n{self.table()}")

    def save(self, out) -> list[Path]:
        """Writes ``NAME.md``, ``NAME.json`` and ``NAME_<figure>.png`` into ``out``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        payload = {"name": self.name, "scale": self.scale, "settings": self.settings,
                   "claims": [dataclasses.asdict(c) for c in self.claims], "raw": self.raw,
                   "seconds": self.seconds, "machine": self.machine}
        paths = [out / f"{self.name}.json", out / f"{self.name}.md"]
        write_atomic(paths[0], json.dumps(_jsonable(payload), indent=1))
        write_atomic(paths[1], self.markdown())
        for stem, make in self.figures.items():
            fig = make()
            path = out / f"{self.name}_{stem}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(fig)
            paths.append(path)
        return paths


def _train_seconds(raw) -> float:
    """The sum of every ``train_seconds`` in ``raw`` (training time of its runs, summed
    over the pieces of resumed runs)."""
    if isinstance(raw, dict):
        return sum(float(v) if k == "train_seconds" else _train_seconds(v)
                   for k, v in raw.items())
    if isinstance(raw, (list, tuple)):
        return sum(_train_seconds(v) for v in raw)
    return 0.0


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else str(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def machine() -> dict:
    """What ran it: CPU count, platform, jax backend and version."""
    import jax

    devices = jax.devices()
    info = {"cpus": os.cpu_count(), "platform": platform.platform(terse=True),
            "jax": jax.__version__, "backend": devices[0].platform,
            "device": getattr(devices[0], "device_kind", str(devices[0]))}
    where = (f"{info['device']}" if info["backend"] != "cpu"
             else f"{info['cpus']} CPU cores")
    info["summary"] = f"{where} (jax {info['jax']}, {info['platform']})"
    return info


def _experiments() -> dict[str, Callable]:
    from . import _bonfanti, _wang

    return {"wang-poisson": _wang.wang_poisson, "wang-spectrum": _wang.wang_spectrum,
            "wang-wave": _wang.wang_wave, "bonfanti-kernel": _bonfanti.bonfanti_kernel,
            "bonfanti-optimizers": _bonfanti.bonfanti_optimizers}


EXPERIMENTS = ("wang-poisson", "wang-spectrum", "wang-wave", "bonfanti-kernel",
               "bonfanti-optimizers")


def reproduce(name: str, *, scale: str = "quick", work_dir=None,
              progress: bool = True) -> Reproduction:
    """Run experiment ``name`` (one of :data:`EXPERIMENTS`) at ``scale`` (:data:`SCALES`). ``work_dir``: where training runs keep checkpoints (rerunning resumes
    them); default none kept."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}.")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    work = None if work_dir is None else Path(work_dir) / f"{name}-{scale}"
    t0 = time.perf_counter()
    result = _experiments()[name](scale, work, progress)
    return dataclasses.replace(result, seconds=time.perf_counter() - t0, machine=machine())


def fmt(x: float, digits: int = 3) -> str:
    """A number as the tables print it (``4.21e-02``)."""
    return f"{x:.{digits - 1}e}"
