"""Network specs: fully connected PINNs as neural-tangents ``stax`` networks."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from .nt import stax

from . import _smooth

__all__ = ["ACTIVATIONS", "DenseLayer", "INITIALIZATIONS", "Network", "PARAMETERIZATIONS",
           "mlp"]


@dataclasses.dataclass(frozen=True)
class _ClosedForm:
    layer: Callable[[], tuple]
    # Highest input-derivative order per kernel argument for which the analytic kernel's
    # derivatives are right (inf: analytic). 0: the kernel is not differentiable (ReLU's
    # K_rr silently gets a 0 diagonal from neural-tangents).
    smoothness: float


_SMOOTH = "erf, sin, gelu, tanh, sigmoid, softplus, swish"
_CLOSED_FORM: dict[str, _ClosedForm] = {
    "erf": _ClosedForm(stax.Erf, math.inf),
    "sin": _ClosedForm(stax.Sin, math.inf),
    "gelu": _ClosedForm(stax.Gelu, math.inf),
    "relu": _ClosedForm(stax.Relu, 0),
    "abs": _ClosedForm(stax.Abs, 0),
    "leaky_relu": _ClosedForm(lambda: stax.LeakyRelu(0.01), 0),
}
#: Every activation name ``mlp`` accepts (a smooth callable is accepted too): closed-form
#: kernels (erf, sin, gelu; relu, abs, leaky_relu without input derivatives), exact erf
#: mixtures (tanh, sigmoid, softplus) and Gauss-Hermite quadrature (swish).
ACTIVATIONS: tuple[str, ...] = tuple(_CLOSED_FORM) + tuple(_smooth.SMOOTH_ACTIVATIONS)


PARAMETERIZATIONS = ("ntk", "standard")
#: ``"gaussian"``: neural-tangents' draws (``W ~ N(0, 1)`` used as ``W_std W / sqrt(fan_in)``
#: in the NTK parameterization, ``W ~ N(0, W_std² / fan_in)`` in the standard one; biases
#: ``N(0, b_std²)``). ``"glorot_normal"``: Wang et al.'s wave code, ``W ~ N(0, 2 / (fan_in +
#: fan_out))`` used as is, zero biases (standard parameterization only; no infinite-width
#: limit, see :attr:`Network.kernel_fn`).
INITIALIZATIONS = ("gaussian", "glorot_normal")


@dataclasses.dataclass(frozen=True)
class DenseLayer:
    """One dense layer of a :class:`Network`, as neural-tangents' ``stax.Dense``.

    ``"ntk"`` parameterization: ``z = W_std / sqrt(fan_in) * h @ W + b_std * b`` with
    ``W ~ N(0, 1)``, ``b ~ N(0, 1)``; ``"standard"``: ``z = h @ W + b`` with
    ``W ~ N(0, W_std^2 / fan_in)``, ``b ~ N(0, b_std^2)`` (same function at
    initialization, different gradients: its NTK grows with the widths). Shapes
    ``(fan_in, width)``, ``(width,)``; then the activation (``None`` for the output layer).
    ``activation`` is a neural-tangents layer constructor; its ``apply_fn`` is the
    elementwise function (:meth:`activation_fn`), so the stax spec and the fast empirical
    NTK read one definition."""

    width: int
    W_std: float
    b_std: float
    activation: Callable[[], tuple] | None
    parameterization: str = "ntk"

    def weight_scale(self, fan_in: int) -> float:
        """The factor in front of ``h @ W``."""
        if self.parameterization == "standard":
            return 1.0
        return self.W_std / math.sqrt(fan_in)

    @property
    def bias_scale(self) -> float:
        """The factor in front of ``b``."""
        return 1.0 if self.parameterization == "standard" else self.b_std

    def __call__(self, W, b, h):
        """Pre-activation ``z: (..., width)`` from the previous layer's ``h: (..., fan_in)``."""
        return self.weight_scale(W.shape[0]) * (h @ W) + self.bias_scale * b.reshape(-1)

    def activation_fn(self) -> Callable:
        """The elementwise activation (the stax layer's own ``apply_fn``)."""
        apply = self.activation()[1]
        return lambda z: apply((), z)

    def stax_layers(self) -> list:
        dense = stax.Dense(self.width, self.W_std, self.b_std,
                           parameterization=self.parameterization)
        return [dense] + ([self.activation()] if self.activation is not None else [])


# Inputs are assumed to satisfy |x|^2 / d <= this when a quadrature degree is chosen
# without seeing the points (``Network.kernel_fn``); ``theory.limiting_kernel`` chooses
# it from the actual points instead.
_DEFAULT_INPUT_SCALE = 1.0


def _check_traceable(fn) -> None:
    """Refuse a callable activation that jax cannot trace (e.g. ``np.tanh``) or that is not
    elementwise, before anything is built from it."""
    name = getattr(fn, "__name__", repr(fn))
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((3,), jnp.float32))
    except Exception as err:  # TracerArrayConversionError, TypeError, ...
        raise ValueError(
            f"activation {name!r} is not traceable by jax ({type(err).__name__}); write it "
            "with jax.numpy (e.g. jnp.tanh instead of np.tanh).") from None
    if getattr(out, "shape", None) != (3,):
        raise ValueError(f"activation {name!r} must act elementwise (R -> R on each entry); "
                         f"it maps shape (3,) to {getattr(out, 'shape', out)!r}.")


def _probe_smoothness(act: _smooth.SmoothActivation, order: int) -> int | None:
    """First derivative order <= ``order`` at which autodiff of a user callable disagrees
    with a finite difference of the order below (a kink or jump), else None."""
    x = jnp.linspace(-4.0, 4.0, 801)  # contains 0, where relu-like kinks sit
    h = 1e-4
    for k in range(1, order + 1):
        lower = act.derivative(k - 1)
        fd = (lower(x + h) - lower(x - h)) / (2 * h)
        ad = act.derivative(k)(x)
        scale = 1.0 + float(jnp.max(jnp.abs(ad)))
        if not bool(jnp.all(jnp.isfinite(ad))) or float(jnp.max(jnp.abs(fd - ad))) > 1e-3 * scale:
            return k
    return None


@dataclasses.dataclass(frozen=True)
class Network:
    """A fully connected network in NTK parameterization, as one neural-tangents spec.

    ``depth`` hidden ``Dense(width, W_std, b_std)`` + activation layers, then
    ``Dense(outputs, W_std, b_std)``. ``init_fn``, ``apply_fn`` and ``kernel_fn`` are those of
    the ``stax.serial`` network; ``kernel_fn`` is the infinite-width limit of exactly the
    finite networks that ``init_fn``/``apply_fn`` build, at any ``width``.

    ``outputs``: one output per field of a system of PDEs (a shared trunk, one output
    column each; operators list the fields in the same order). ``kernel_fn`` is then the
    kernel of each output, ``Θ_ff``; between different outputs the infinite-width kernel
    vanishes, ``Θ_fg = δ_fg Θ`` (docs/systems.md derives it; the finite network's
    cross-output kernel is ``O(width^(-1/2))``).

    ``activation`` is a name with a closed-form kernel (``erf``, ``sin``, ``gelu``;
    ``relu``, ``abs``, ``leaky_relu`` without input derivatives), a name with an exact
    erf-mixture kernel (``tanh``, ``sigmoid``, ``softplus``), or ``swish`` / any smooth
    callable ``R -> R`` (Gauss-Hermite quadrature with Price's theorem).
    ``quadrature_degree`` fixes the number of mixture nodes / the quadrature degree;
    ``None`` chooses it from an error estimate.

    ``parameterization``: ``"ntk"`` (default) or ``"standard"`` (:class:`DenseLayer`), as
    in neural-tangents. In the standard parameterization the NTK depends on the widths
    (each layer adds ``fan_in * nngp`` where the NTK one adds ``nngp``): ``kernel_fn`` --
    and so ``theory.limiting_kernel`` -- is then the width-``width`` kernel that a finite
    network of this width approaches as all its widths grow in proportion (relative
    fluctuations ``O(width^(-1/2))``), not a width-free limit.

    ``input_mean``, ``input_std`` (numbers, or one per input coordinate): the network sees
    ``(x - input_mean) / input_std`` (Wang et al. standardize the inputs by the
    collocation points' statistics; :meth:`standardized`). ``init_fn``/``apply_fn``,
    ``kernel_fn`` and :meth:`forward` all take the original ``x``, so operators stay in the
    original variables and every derivative includes the chain rule exactly.

    ``initialization``: ``"gaussian"`` (neural-tangents' draws) or ``"glorot_normal"``
    (Wang et al.'s wave network: ``W ~ N(0, 2/(fan_in + fan_out))``, zero biases; with
    ``parameterization="standard"``). Glorot-normal has no infinite-width counterpart
    (the first layer's variance ``2/(d + width)`` vanishes), so :attr:`kernel_fn` -- and
    ``K*``, posteriors, width studies -- refuse it; its empirical NTK and training work.
    """

    width: int
    depth: int
    activation: object = "erf"
    W_std: float = 1.0
    b_std: float = 1.0
    quadrature_degree: int | None = None
    input_mean: float | tuple[float, ...] = 0.0
    input_std: float | tuple[float, ...] = 1.0
    parameterization: str = "ntk"
    initialization: str = "gaussian"
    outputs: int = 1

    def __post_init__(self):
        for field in ("width", "depth", "outputs"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{field} must be an integer >= 1, got {value!r}.")
        if not (callable(self.activation) or self.activation in ACTIVATIONS):
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of "
                f"{sorted(ACTIVATIONS)} or pass a smooth callable."
            )
        if callable(self.activation):
            _check_traceable(self.activation)
        for field in ("W_std", "b_std"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{field} must be a finite number >= 0, got {value!r}.")
        if self.W_std == 0:
            raise ValueError("W_std must be > 0: with W_std = 0 the network is constant.")
        if self.quadrature_degree is not None and (
                not isinstance(self.quadrature_degree, int) or self.quadrature_degree < 1):
            raise ValueError(f"quadrature_degree must be an integer >= 1, got "
                             f"{self.quadrature_degree!r}.")
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, got "
                             f"{self.parameterization!r}.")
        if self.initialization not in INITIALIZATIONS:
            raise ValueError(f"initialization must be one of {INITIALIZATIONS}, got "
                             f"{self.initialization!r}.")
        if self.initialization == "glorot_normal" and self.parameterization != "standard":
            raise ValueError(
                "initialization='glorot_normal' draws weights that are used as they are "
                "(W ~ N(0, 2/(fan_in + fan_out)), z = h @ W + b); pass "
                "parameterization='standard' with it.")
        for field, positive in (("input_mean", False), ("input_std", True)):
            value = getattr(self, field)
            values = np.atleast_1d(np.asarray(value, dtype=float)) if np.ndim(value) <= 1 \
                else None
            if values is None or values.size == 0 or not np.all(np.isfinite(values)) or (
                    positive and not np.all(values > 0)):
                raise ValueError(
                    f"{field} must be a finite number{' > 0' if positive else ''} or one per "
                    f"input coordinate, got {value!r}.")
            # Stored hashable: a float, or a tuple of floats (one per coordinate).
            object.__setattr__(self, field, float(values[0]) if np.ndim(value) == 0
                               else tuple(float(v) for v in values))

    def standardized(self, points) -> "Network":
        """This network with ``input_mean``/``input_std`` the per-coordinate mean and
        standard deviation of ``points: (n, d)`` (Wang et al.'s input scaling)."""
        x = np.asarray(points, dtype=float)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"points must be (n, d) with n >= 2 to standardize by, got "
                             f"shape {x.shape}.")
        std = x.std(axis=0)
        if not np.all(std > 0):
            raise ValueError(f"a coordinate of the points is constant (std {std.tolist()}); "
                             "it cannot be standardized.")
        return dataclasses.replace(self, input_mean=tuple(x.mean(axis=0)),
                                   input_std=tuple(std))

    @property
    def kernel_depends_on_width(self) -> bool:
        """Whether ``kernel_fn`` changes with ``width`` (the standard parameterization):
        a study must then compare each width with its own kernel."""
        return self.parameterization == "standard"

    @property
    def is_standardized(self) -> bool:
        """Whether the inputs are rescaled (``input_mean``/``input_std`` not 0/1)."""
        return not (self.input_mean == 0.0 and self.input_std == 1.0)

    def standardize(self, x):
        """``(x - input_mean) / input_std`` for ``x: (..., d)`` (jax or numpy)."""
        for field in ("input_mean", "input_std"):
            value = getattr(self, field)
            if isinstance(value, tuple) and len(value) != x.shape[-1]:
                raise ValueError(
                    f"{field} has {len(value)} entries but the points have {x.shape[-1]} "
                    f"coordinates (shape {tuple(x.shape)}); give one per coordinate.")
        if not self.is_standardized:
            return x
        # In the points' own float dtype, so that float32 training stays float32.
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else np.float64
        mean = np.asarray(self.input_mean, dtype=dtype)
        std = np.asarray(self.input_std, dtype=dtype)
        return (x - mean) / std

    @property
    def uses_quadrature(self) -> bool:
        return self.activation not in _CLOSED_FORM

    @functools.cached_property
    def smooth(self) -> _smooth.SmoothActivation:
        if not self.uses_quadrature:
            raise ValueError(f"activation {self.activation!r} has a closed-form kernel.")
        return _smooth.smooth_activation(self.activation)

    @property
    def activation_name(self) -> str:
        return self.activation if isinstance(self.activation, str) else self.smooth.name

    def layer_variances(self, points) -> np.ndarray:
        """Largest pre-activation variance ``q(x, x)`` of each hidden layer over
        ``points: (n, d)`` (numpy, for choosing the quadrature degree)."""
        x = self.standardize(np.asarray(points, dtype=np.float64))
        q = self.W_std ** 2 * np.sum(x * x, axis=1) / x.shape[1] + self.b_std ** 2
        out = []
        for _ in range(self.depth):
            out.append(float(q.max()))
            q = self.W_std ** 2 * _smooth.second_moment(self.smooth, q) + self.b_std ** 2
        return np.array(out)

    def choose_quadrature(self, points, order: int, *, tol: float | None = None,
                          with_estimate: bool = False):
        """This network with the number of mixture nodes / quadrature degree that reaches
        relative error ``tol`` (estimated) in the layer maps and their first ``order``
        derivatives, for the variances ``points: (n, d)`` reach (a no-op for closed-form
        activations). With ``with_estimate``: ``(network, estimated error)``."""
        net, estimate = self, 0.0
        if self.uses_quadrature:
            degree, estimate = _smooth.choose_degree(
                self.smooth, float(self.layer_variances(points).max()), order, tol)
            net = dataclasses.replace(self, quadrature_degree=degree)
        return (net, estimate) if with_estimate else net

    @functools.cached_property
    def degree(self) -> int:
        """The nodes / quadrature degree in use (chosen once for |x|^2/d <= 1 and 4
        derivatives if unset; the layer maps and ``pair_cost`` read it repeatedly)."""
        if self.quadrature_degree is not None:
            return self.quadrature_degree
        point = np.full((1, 1), _DEFAULT_INPUT_SCALE)
        # Evaluated eagerly even when first read while jax traces a kernel (e.g. under
        # jax.jit(net.kernel_fn)): the choice is a constant of the network, not of inputs.
        with jax.ensure_compile_time_eval():
            variance = float(self.layer_variances(point).max())
            return _smooth.choose_degree(self.smooth, variance, 4)[0]

    @functools.cached_property
    def layers(self) -> tuple[DenseLayer, ...]:
        """The dense layers, input to output: ``depth`` hidden ones with the activation,
        then the ``outputs`` output units. Both :attr:`init_fn`/:attr:`apply_fn`/:attr:`kernel_fn`
        (the stax spec) and :meth:`forward` (the fast empirical NTK) are built from them."""
        if self.uses_quadrature:
            act = lambda: _smooth.stax_layer(self.smooth, lambda: self.degree)  # noqa: E731
        else:
            act = _CLOSED_FORM[self.activation].layer
        hidden = DenseLayer(self.width, self.W_std, self.b_std, act, self.parameterization)
        return (hidden,) * self.depth + (
            DenseLayer(self.outputs, self.W_std, self.b_std, None, self.parameterization),)

    @functools.cached_property
    def _stax(self) -> tuple:
        return stax.serial(*(s for layer in self.layers for s in layer.stax_layers()))

    def forward(self, params, x, shifts=None):
        """``(u, [h^0, h^1, ..., h^depth])`` at ``x: (..., d)`` (``u: (...)`` for one
        output, ``(..., outputs)`` for several), from :attr:`layers` directly, ``h^0`` the
        standardized input; ``shifts[l]`` (optional) is added to pre-activation ``l``.
        Equals ``apply_fn(params, x)[..., 0]`` (one output) or ``apply_fn(params, x)``."""
        dense = [p for p in params if len(p)]
        if len(dense) != len(self.layers) or any(len(p) != 2 for p in dense):
            raise ValueError(f"expected the parameters of this network from Network.init "
                             f"({len(self.layers)} dense (W, b) pairs), got "
                             f"{len(dense)} non-empty entries.")
        h = self.standardize(x)
        hs = [h]
        for i, (layer, (W, b)) in enumerate(zip(self.layers, dense)):
            z = layer(W, b, h) + (0.0 if shifts is None else shifts[i])
            if layer.activation is None:
                return (z[..., 0] if self.outputs == 1 else z), hs
            h = layer.activation_fn()(z)
            hs.append(h)

    @property
    def init_fn(self) -> Callable:
        """``init_fn(key, input_shape=(-1, d)) -> (output_shape, params)``."""
        return self._stax[0]

    @property
    def apply_fn(self) -> Callable:
        """``apply_fn(params, x: (n, d)) -> (n, 1)`` (``x`` in the original variables)."""
        apply = self._stax[1]
        if not self.is_standardized:
            return apply
        return lambda params, x, **kwargs: apply(params, self.standardize(x), **kwargs)

    @property
    def has_limit(self) -> bool:
        """Whether this network's initialization has an infinite-width counterpart (every
        one but Glorot-normal)."""
        return self.initialization != "glorot_normal"

    def check_has_limit(self, what: str = "the infinite-width kernel") -> None:
        """Refuse (ValueError) a limit-side computation for an initialization without one."""
        if self.has_limit:
            return
        raise ValueError(
            f"{what} does not exist for initialization='glorot_normal': its first-layer "
            f"weights have variance 2/(d + width) -> 0 as the width grows (and the biases "
            f"are zero), so every pre-activation and the NNGP/NTK of the growing network "
            f"tend to 0; no limit matches the finite network. Use the empirical kernel "
            f"(ntk_pinn.empirical_kernel) of this network, or initialization='gaussian' "
            f"(W ~ N(0, W_std^2/fan_in), the neural-tangents draw) for a K*.")

    @property
    def kernel_fn(self) -> Callable:
        """``kernel_fn(x1: (n1, d), x2: (n2, d), "ntk" | "nngp") -> (n1, n2)`` (original
        variables: the kernel of the standardized inputs). Refused (ValueError) for an
        initialization without an infinite-width counterpart (:attr:`has_limit`)."""
        self.check_has_limit()
        kernel = self._stax[2]
        if not self.is_standardized:
            return kernel

        def kernel_fn(x1, x2=None, get=None, **kwargs):
            return kernel(self.standardize(x1), None if x2 is None else self.standardize(x2),
                          get, **kwargs)

        return kernel_fn

    @property
    def pair_cost(self) -> int:
        """Relative memory per kernel entry of one activation layer's map (1: closed
        form; an erf mixture holds a nodes x nodes array per entry, Gauss-Hermite a
        degree-long one)."""
        if not self.uses_quadrature:
            return 1
        return self.degree ** 2 if self.smooth.exact else self.degree

    @property
    def smoothness(self) -> float:
        if not self.uses_quadrature:
            return _CLOSED_FORM[self.activation].smoothness
        return math.inf

    def init(self, key: jax.Array, input_dim: int):
        """Parameters of a fresh network for inputs of dimension ``input_dim``, drawn as
        :attr:`initialization` says (``init_fn``'s draws for ``"gaussian"``)."""
        params = self.init_fn(key, (-1, input_dim))[1]
        if self.initialization == "gaussian":
            return params
        keys = iter(jax.random.split(jax.random.fold_in(key, 1), len(self.layers)))
        out = []
        for p in params:
            if not len(p):
                out.append(p)
                continue
            W, b = p
            fan_in, fan_out = W.shape
            std = math.sqrt(2.0 / (fan_in + fan_out))
            out.append((std * jax.random.normal(next(keys), W.shape, W.dtype),
                        jnp.zeros_like(b)))
        return out

    def with_width(self, width: int) -> "Network":
        """The same architecture at another width."""
        return dataclasses.replace(self, width=width)

    def check_fields(self, operator) -> None:
        """Refuse (ValueError) an operator whose fields are not one per network output."""
        if operator.n_fields == self.outputs:
            return
        fields = " ".join(operator.fields)
        raise ValueError(
            f"operator {str(operator)!r} has {operator.n_fields} field(s) ({fields}) but the "
            f"network has {self.outputs} output(s): a system needs one output per field, in "
            f"the fields' order. Build the network with mlp(..., outputs="
            f"{operator.n_fields})" + (
                "" if operator.n_fields > 1 else
                f", or declare the fields in every operator: Operator(..., fields='u v ...' "
                f"with {self.outputs} names)") + ".")

    def check_differentiable(self, operator, total_order: int | None = None) -> None:
        """Refuse (ValueError) an operator whose fields disagree with the outputs
        (:meth:`check_fields`) or derivatives the activation's kernel cannot take."""
        self.check_fields(operator)
        order = operator.order
        total = f" ({total_order} in total across both kernel arguments)" if total_order else ""
        if (self.uses_quadrature and not isinstance(self.activation, str)
                and not self.smooth.exact and order > 0):
            # Kernel derivatives of order m need f^(2m+1): probe the callable up to there.
            needed = 2 * (total_order or order) + 1
            bad = _probe_smoothness(self.smooth, needed)
            if bad is not None:
                raise ValueError(
                    f"activation {self.activation_name!r} is not smooth enough for operator "
                    f"{str(operator)!r}: its derivative of order {bad} has a kink or jump "
                    f"(the kernel needs {needed} smooth derivatives for input derivatives "
                    f"of order {order}{total}). Use a smooth activation: {_SMOOTH}."
                )
        if order <= self.smoothness:
            return
        raise ValueError(
            f"activation {self.activation!r} is not smooth enough for operator "
            f"{str(operator)!r}: it takes input derivatives of order {order}{total}, but "
            f"{self.activation!r} kernels are differentiable to order "
            f"{int(self.smoothness)} only (neural-tangents would silently return wrong "
            f"values, e.g. a zero diagonal of K_rr for relu). Use a smooth activation: "
            f"{_SMOOTH}."
        )


def mlp(width: int, depth: int, activation="erf", *, W_std: float = 1.0,
        b_std: float = 1.0, quadrature_degree: int | None = None,
        input_mean=0.0, input_std=1.0, parameterization: str = "ntk",
        initialization: str = "gaussian", outputs: int = 1) -> Network:
    """A ``depth``-hidden-layer MLP of the given ``width`` with ``outputs`` outputs (one per
    field of a system; see :class:`Network`).

    Args:
      width: hidden units per layer (the limiting kernels do not depend on it in the NTK
        parameterization).
      depth: hidden layers.
      activation: a name (``ntk_pinn.ACTIVATIONS``) or a smooth callable ``R -> R``.
      W_std: weight standard deviation.
      b_std: bias standard deviation.
      quadrature_degree: mixture nodes / quadrature degree of ``tanh``-like and callable
        activations (default: chosen from an error estimate).
      input_mean: subtracted from the inputs (a number or one per coordinate).
      input_std: the inputs are divided by it (a number or one per coordinate).
      parameterization: ``"ntk"`` or ``"standard"``.
      initialization: ``"gaussian"`` or ``"glorot_normal"`` (no infinite-width limit).
      outputs: network outputs, one per field of a system.

    Returns:
      :class:`Network`.
    """
    return Network(width=width, depth=depth, activation=activation, W_std=W_std, b_std=b_std,
                   quadrature_degree=quadrature_degree, input_mean=input_mean,
                   input_std=input_std, parameterization=parameterization,
                   initialization=initialization, outputs=outputs)
