"""Studies that hold the infinite-width theory against finite networks, and the reports
the command line writes (each command is one call here).

Names are imported on first use (PEP 562), so that importing ``validation`` (and the
``ntk-pinn`` command line, e.g. ``--help``) does not load jax until a study needs it."""

import importlib

_EXPORTS = {
    "._nonlinear": ("NonlinearStudy", "nonlinear_study", "plateau_status"),
    "._reports": ("KernelReport", "PosteriorReport", "SpectrumReport", "TrainReport",
                  "kernel_report", "posterior_report", "spectrum_report", "train_report"),
    "._reproduce": ("EXPERIMENTS", "Experiment", "SCALES", "reproduce"),
    "._results": ("Claim", "Outcome", "Reproduction", "machine"),
    "._write": ("save",),
    "._study": ("bound_status", "fit_slope", "run_grid", "slope_status", "slope_verdict"),
    "._training": ("TrainingStudy", "gradient_descent_run", "training_study"),
    "._width": ("WidthStudy", "width_study"),
}
_MODULES = ("plots",)
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(list(_WHERE) + list(_MODULES))


def __getattr__(name):
    if name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    else:
        raise AttributeError(f"module 'validation' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
