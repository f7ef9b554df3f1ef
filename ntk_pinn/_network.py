"""Network specs: fully connected PINNs as neural-tangents ``stax`` networks."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
from neural_tangents import stax

__all__ = ["Network", "mlp", "ACTIVATIONS"]


@dataclasses.dataclass(frozen=True)
class _Activation:
    layer: Callable[[], tuple]
    # Highest input-derivative order per kernel argument for which the analytic kernel's
    # derivatives are right (inf: analytic). 0: the kernel is not differentiable (ReLU's
    # K_rr silently gets a 0 diagonal from neural-tangents).
    smoothness: float


_SMOOTH = "erf, sin, gelu"
ACTIVATIONS: dict[str, _Activation] = {
    "erf": _Activation(stax.Erf, math.inf),
    "sin": _Activation(stax.Sin, math.inf),
    "gelu": _Activation(stax.Gelu, math.inf),
    "relu": _Activation(stax.Relu, 0),
    "abs": _Activation(stax.Abs, 0),
    "leaky_relu": _Activation(lambda: stax.LeakyRelu(0.01), 0),
}


@dataclasses.dataclass(frozen=True)
class Network:
    """A fully connected network in NTK parameterization, as one neural-tangents spec.

    ``depth`` hidden ``Dense(width, W_std, b_std)`` + activation layers, then
    ``Dense(1, W_std, b_std)``. ``init_fn``, ``apply_fn`` and ``kernel_fn`` are those of the
    ``stax.serial`` network; ``kernel_fn`` is the infinite-width limit of exactly the
    finite networks that ``init_fn``/``apply_fn`` build, at any ``width``.
    """

    width: int
    depth: int
    activation: str = "erf"
    W_std: float = 1.0
    b_std: float = 1.0

    def __post_init__(self):
        for field in ("width", "depth"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{field} must be an integer >= 1, got {value!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of "
                f"{sorted(ACTIVATIONS)}."
            )
        for field in ("W_std", "b_std"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{field} must be a finite number >= 0, got {value!r}.")
        if self.W_std == 0:
            raise ValueError("W_std must be > 0: with W_std = 0 the network is constant.")

    @functools.cached_property
    def _stax(self) -> tuple:
        act = ACTIVATIONS[self.activation].layer
        layers = []
        for _ in range(self.depth):
            layers += [stax.Dense(self.width, self.W_std, self.b_std, parameterization="ntk"),
                       act()]
        layers.append(stax.Dense(1, self.W_std, self.b_std, parameterization="ntk"))
        return stax.serial(*layers)

    @property
    def init_fn(self) -> Callable:
        """``init_fn(key, input_shape=(-1, d)) -> (output_shape, params)``."""
        return self._stax[0]

    @property
    def apply_fn(self) -> Callable:
        """``apply_fn(params, x: (n, d)) -> (n, 1)``."""
        return self._stax[1]

    @property
    def kernel_fn(self) -> Callable:
        """``kernel_fn(x1: (n1, d), x2: (n2, d), "ntk" | "nngp") -> (n1, n2)``."""
        return self._stax[2]

    @property
    def smoothness(self) -> float:
        return ACTIVATIONS[self.activation].smoothness

    def init(self, key: jax.Array, input_dim: int):
        """Parameters of a fresh network for inputs of dimension ``input_dim``."""
        return self.init_fn(key, (-1, input_dim))[1]

    def with_width(self, width: int) -> "Network":
        """The same architecture at another width."""
        return dataclasses.replace(self, width=width)

    def check_differentiable(self, operator, total_order: int | None = None) -> None:
        """Refuse (ValueError) derivatives the activation's kernel cannot take."""
        order = operator.order
        if order <= self.smoothness:
            return
        total = f" ({total_order} in total across both kernel arguments)" if total_order else ""
        raise ValueError(
            f"activation {self.activation!r} is not smooth enough for operator "
            f"{str(operator)!r}: it takes input derivatives of order {order}{total}, but "
            f"{self.activation!r} kernels are differentiable to order "
            f"{int(self.smoothness)} only (neural-tangents would silently return wrong "
            f"values, e.g. a zero diagonal of K_rr for relu). Use a smooth activation: "
            f"{_SMOOTH}."
        )


def mlp(width: int, depth: int, activation: str = "erf", W_std: float = 1.0,
        b_std: float = 1.0) -> Network:
    """A ``depth``-hidden-layer MLP of the given ``width`` (see :class:`Network`)."""
    return Network(width=width, depth=depth, activation=activation, W_std=W_std, b_std=b_std)
