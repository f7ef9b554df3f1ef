"""Studies that hold the infinite-width theory against finite networks."""

from ._nonlinear import NonlinearStudy, nonlinear_study  # noqa: F401
from ._training import TrainingStudy, training_study  # noqa: F401
from ._width import WidthStudy, fit_slope, width_study  # noqa: F401

__all__ = ["NonlinearStudy", "TrainingStudy", "WidthStudy", "fit_slope", "nonlinear_study",
           "training_study", "width_study"]
