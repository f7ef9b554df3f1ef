"""The infinite-width side of ntk-pinn: the limiting PINN kernel ``K*``, its symbolic
check, GP posteriors for linear PDEs, spectra and adaptive weights."""

from ._limiting import KINDS, limiting_kernel, operator_kernel_fn
from ._posterior import Posterior, gp_posterior
from ._spectrum import Spectrum, adaptive_weights, spectrum
from . import symbolic

__all__ = ["KINDS", "Posterior", "Spectrum", "adaptive_weights", "gp_posterior",
           "limiting_kernel", "operator_kernel_fn", "spectrum", "symbolic"]
