"""The infinite-width side of ntk-pinn: the limiting PINN kernel ``K*``, its symbolic
check, GP posteriors for linear PDEs, spectra and adaptive weights."""

from ._limiting import (KINDS, KernelPlan, PairPlan, limiting_kernel, limiting_kernel_diagonal,
                        operator_kernel_fn, plan_kernel, shared_fields)
from ._posterior import Posterior, gp_posterior, gp_posteriors, stable_cholesky
from ._spectrum import Spectrum, spectrum
from . import symbolic

__all__ = ["KINDS", "KernelPlan", "PairPlan", "Posterior", "Spectrum",
           "gp_posterior", "gp_posteriors", "limiting_kernel", "limiting_kernel_diagonal",
           "operator_kernel_fn", "plan_kernel", "shared_fields", "spectrum", "stable_cholesky",
           "symbolic"]
