"""ntk-pinn core: network specs, differential operators, block kernels.

Importing ``ntk_pinn`` turns on float64 in JAX (``jax_enable_x64``): fourth input
derivatives of kernels lose digits in float32 and ``K_rr`` spans ~16 decades of
eigenvalues. Set ``NTK_PINN_X64=0`` before import to keep JAX's default.
"""

import os as _os

import jax as _jax

if _os.environ.get("NTK_PINN_X64", "1") != "0":
    _jax.config.update("jax_enable_x64", True)

from ._blocks import BlockKernel, trace_weights  # noqa: E402
from ._empirical import (empirical_kernel, empirical_traces, residual_fn,  # noqa: E402
                         residual_vector_fn)
from ._forms import Term  # noqa: E402
from ._memory import available_memory, memory_limit  # noqa: E402
from ._hessian import (LossHessianNorms, hvp, loss_hessian_norms,  # noqa: E402
                       power_iteration, residual_hessian_norms,
                       residual_tangent_curvature)
from ._network import (ACTIVATIONS, INITIALIZATIONS, PARAMETERIZATIONS,  # noqa: E402
                       DenseLayer, Network, mlp)
from ._operator import Operator  # noqa: E402
from ._periodic import Periodic  # noqa: E402
from ._gauss_newton import gauss_newton_step  # noqa: E402
from ._train import TrainResult, TrainState, train  # noqa: E402
from ._train_options import Adaptive, Checkpoint, Points, Record  # noqa: E402
from . import internal, nt, problems  # noqa: E402,F401

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Adaptive",
    "BlockKernel",
    "Checkpoint",
    "DenseLayer",
    "INITIALIZATIONS",
    "LossHessianNorms",
    "Network",
    "Operator",
    "Periodic",
    "PARAMETERIZATIONS",
    "Points",
    "Record",
    "Term",
    "TrainResult",
    "TrainState",
    "available_memory",
    "empirical_kernel",
    "empirical_traces",
    "gauss_newton_step",
    "hvp",
    "internal",
    "loss_hessian_norms",
    "memory_limit",
    "mlp",
    "nt",
    "power_iteration",
    "problems",
    "residual_fn",
    "residual_hessian_norms",
    "residual_tangent_curvature",
    "residual_vector_fn",
    "trace_weights",
    "train",
]
