"""Studies that hold the infinite-width theory against finite networks, and the reports
the command line writes (each command is one call here)."""

from ._nonlinear import NonlinearStudy, nonlinear_study, plateau_status
from ._reports import (KernelReport, PosteriorReport, SpectrumReport, TrainReport,
                       kernel_report, posterior_report, spectrum_report, train_report)
from ._study import fit_slope, run_grid, slope_status, slope_verdict
from ._training import TrainingStudy, gradient_descent_run, training_study
from ._width import WidthStudy, width_study
from . import plots, report

__all__ = ["KernelReport", "NonlinearStudy", "PosteriorReport", "SpectrumReport",
           "TrainReport", "TrainingStudy", "WidthStudy", "fit_slope", "gradient_descent_run",
           "kernel_report", "nonlinear_study", "plateau_status", "plots", "posterior_report",
           "report", "run_grid", "slope_status", "slope_verdict", "spectrum_report",
           "train_report", "training_study", "width_study"]
