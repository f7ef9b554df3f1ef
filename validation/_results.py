"""What a reproduction produces: :class:`Claim` (one row of its table), :class:`Outcome`
(what an experiment returns) and :class:`Reproduction` (the outcome with its name, scale,
source, wall time and machine, made whole by ``validation.reproduce``).

The experiment modules (``_wang``, ``_bonfanti``) import from here and nothing imports
them but the registry in ``_reproduce``: no import cycle.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from pathlib import Path

import numpy as np

__all__ = ["Claim", "Outcome", "Reproduction", "machine"]

#: ``"paper"``: the paper's settings; ``"quick"``: every claim at reduced width/steps
#: (minutes on 2 cores); ``"tiny"``: a smoke test of every code path in seconds (its
#: numbers mean nothing, so its tables give no verdict).
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
class Outcome:
    """What an experiment returns: ``settings`` (what ran), ``claims`` (the table),
    ``raw`` (the numbers, JSON-able) and ``figures`` (``{stem: () -> Figure}``)."""

    settings: dict
    claims: tuple
    raw: dict
    figures: dict


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """A finished experiment: its :class:`Outcome`'s ``settings``, ``claims``, ``raw`` and
    ``figures``, with ``seconds`` (wall time of this invocation; training time of resumed
    runs is summed in ``raw``) and ``machine`` (:func:`machine`). Written by
    ``validation.save`` as ``NAME.json``, ``NAME.md`` and ``NAME_<figure>.png``."""

    name: str
    scale: str
    source: str
    settings: dict
    claims: tuple
    raw: dict
    figure_makers: dict
    seconds: float
    machine: dict

    @property
    def json_name(self) -> str:
        return f"{self.name}.json"

    @property
    def markdown_name(self) -> str:
        return f"{self.name}.md"

    def verdict(self, claim: Claim) -> str:
        if self.scale == "tiny":
            return "smoke run: no verdict"
        return {True: "yes", False: "**no**", None: "-"}[claim.holds]

    def table(self) -> str:
        """The Markdown table: claim, paper, ours, verdict, note."""
        lines = ["| claim | paper | ours | agrees | note |", "|---|---|---|---|---|"]
        lines += [f"| {c.claim} | {c.paper} | {c.ours} | {self.verdict(c)} | {c.note} |"
                  for c in self.claims]
        return "\n".join(lines)

    def markdown(self) -> str:
        settings = "\n".join(f"- {k}: {v}" for k, v in self.settings.items())
        figures = "\n".join(f"![{stem}]({self.name}_{stem}.png)" for stem in self.figure_makers)
        trained = _train_seconds(self.raw)
        resumed = (f" (this invocation; training time over all its resumed pieces "
                   f"{trained:.0f} s)" if trained > self.seconds else "")
        return (f"# `{self.name}` ({self.scale} scale)\n\n{self.source}\n\n{self.table()}\n\n"
                f"Wall time {self.seconds:.0f} s{resumed} on {self.machine['summary']}.\n\n"
                f"## Settings\n{settings}\n\n{figures}\n")

    def summary(self) -> str:
        if self.scale == "tiny":
            head = f"{self.name} (tiny): smoke run, no verdict"
        else:
            agree = sum(c.holds is True for c in self.claims)
            judged = sum(c.holds is not None for c in self.claims)
            head = (f"{self.name} ({self.scale}): {agree}/{judged} judged claims agree with "
                    "the paper")
        return f"{head}; {self.seconds:.0f} s\n{self.table()}"

    def to_json(self) -> dict:
        return {"name": self.name, "scale": self.scale, "settings": self.settings,
                "claims": [dataclasses.asdict(c) for c in self.claims], "raw": self.raw,
                "seconds": self.seconds, "machine": self.machine}

    def figures(self) -> dict:
        return {f"{self.name}_{stem}": make for stem, make in self.figure_makers.items()}


def _train_seconds(raw) -> float:
    """The sum of every ``train_seconds`` in ``raw`` (training time of its runs, summed
    over the pieces of resumed runs)."""
    if isinstance(raw, dict):
        return sum(float(v) if k == "train_seconds" else _train_seconds(v)
                   for k, v in raw.items())
    if isinstance(raw, (list, tuple)):
        return sum(_train_seconds(v) for v in raw)
    return 0.0


def machine() -> dict:
    """What ran it: CPU count (and the cores this process may use), platform, jax backend
    and version."""
    import jax

    devices = jax.devices()
    info = {"cpus": os.cpu_count(), "platform": platform.platform(terse=True),
            "jax": jax.__version__, "backend": devices[0].platform,
            "device": getattr(devices[0], "device_kind", str(devices[0]))}
    # the cores this process may run on (a run pinned with taskset uses fewer)
    info["cores_used"] = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else info["cpus"])
    where = (f"{info['device']}" if info["backend"] != "cpu" else
             f"{info['cpus']} CPU cores" if info["cores_used"] == info["cpus"] else
             f"{info['cores_used']} of {info['cpus']} CPU cores (pinned)")
    info["summary"] = f"{where} (jax {info['jax']}, {info['platform']})"
    return info


def outside_legend(ax) -> None:
    """The legend of ``ax`` to the right of it, outside the data (the writer's tight
    bounding box keeps it in the figure)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, borderaxespad=0.0)


def fmt(x: float, digits: int = 3) -> str:
    """A number as the tables print it (``4.21e-02``)."""
    return f"{x:.{digits - 1}e}"


def error_rule(ours: float, paper: float, untrained: float) -> tuple[bool, str]:
    """The reproductions' rule for an error against the paper's, fixed before any number
    was seen: ``ours`` agrees when it is within a factor ``F = min(3, √(untrained /
    paper))`` of ``paper``, ``untrained`` being the error of the run's network before
    training. The limit is at most the geometric midpoint between the untrained error and
    the paper's, so an untrained network never agrees. Returns ``(holds, note)``."""
    factor = min(3.0, float(np.sqrt(untrained / paper))) if untrained > paper else 1.0
    holds = bool(paper / factor <= ours <= paper * factor)
    return holds, (f"agrees = within a factor {factor:.2g} of the paper's (min(3, "
                   f"√(untrained {untrained:.3g} / paper))); an untrained net fails")


def kept_run(work, name: str, settings: dict, run) -> dict:
    """``run()`` (a JSON-able dict: a finished training run's curves), kept in
    ``work/name.done.json`` with ``settings`` so that the experiment's table can be
    rebuilt once the (large, uncommitted) checkpoints are gone; a kept run of other
    settings is refused. ``work=None``: no keeping.

    Args:
      work: the experiment's work directory, or None.
      name: the run's name (its file stem).
      settings: what determines the run (JSON-able), compared on reuse.
      run: ``() -> dict``.
    """
    import json

    from ._write import jsonable, write_json

    if work is None:
        return run()
    path = Path(work) / f"{name}.done.json"
    if path.exists():
        kept = json.loads(path.read_text())
        if kept["settings"] != jsonable(settings):
            raise ValueError(
                f"{path} holds a finished run of other settings ({kept['settings']}, this "
                f"run: {jsonable(settings)}); delete it (and its checkpoint) to run again.")
        return kept["run"]
    result = run()
    write_json(path, {"settings": settings, "run": result})
    return jsonable(result)
