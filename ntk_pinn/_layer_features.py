"""Per-layer features of the empirical PINN NTK of ``mlp`` networks (the default
``method="fast"`` of :func:`ntk_pinn.empirical_kernel`), without forming any Jacobian.

For a dense layer ``z = (W_std / sqrt(n_in)) h W + b_std b`` (NTK parameterization;
``h W + b`` in the standard one: ``DenseLayer.weight_scale`` and ``bias_scale``) the
parameter gradient of the output is ``dF/dW = (W_std / sqrt(n_in)) h ⊗ g`` with
``g = dF/dz`` the back-propagated
sensitivity. An input derivative ``D^a`` of it is, by Leibniz,

    D^a (h ⊗ g) = sum_{b <= a} C(a, b) D^(a-b) h ⊗ D^b g,

and the (linearized) residual ``∂θ L[u](x) = sum_a c_a(x) ∂θ D^a u(x)`` is therefore a short
sum of outer products ``A_k ⊗ B_k``. Its kernel contribution is
``<sum_k A_k ⊗ B_k, sum_k' A'_k' ⊗ B'_k'> = sum_kk' (A_k·A'_k') (B_k·B'_k')``: Hadamard
products of small Gram matrices. The Taylor coefficients ``D^b h``, ``D^b g`` come from
nested forward-mode JVPs of one forward+backward pass per point (``_derivatives.partial``).
Cost: ``O(n_points * n_params * n_jets)`` for the jets and ``O(P Q K^2 width)`` for the
Grams; memory ``O(P K width)`` besides the parameters.

Several outputs (a system of PDEs, one output per field): a term on field ``f`` uses the
sensitivity ``g_f = d u_f / dz`` of its own output (one backward pass per output); the
activations ``h`` are shared. The output layer's ``g_f`` is the unit vector ``e_f``.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._derivatives import partial
from ._network import Network
from ._operator import Operator

__all__ = []  # internal: empirical_kernel(method="fast")


def _jets(net: Network, params):
    """``y: (d,) -> [h^0..h^L, g_0^1..g_0^(L+1), ..., g_(F-1)^1..g_(F-1)^(L+1), u (F,)]``
    (one flat vector; ``g_f`` the sensitivities of output ``f``), all smooth in y."""
    sizes = [layer.width for layer in net.layers]

    def feats(y):
        zeros = [jnp.zeros(n, y.dtype) for n in sizes]

        def outputs(ds):
            u, hs = net.forward(params, y, ds)
            return jnp.atleast_1d(u), hs

        u, pullback, hs = jax.vjp(outputs, zeros, has_aux=True)
        eye = jnp.eye(net.outputs, dtype=y.dtype)
        gs = [pullback(eye[f])[0] for f in range(net.outputs)]   # one pass per output
        return jnp.concatenate(hs + [g for per_output in gs for g in per_output] + [u])

    return feats


def _below(orders: tuple[int, ...]):
    return list(itertools.product(*(range(k + 1) for k in orders)))


def _binomial(a, b) -> int:
    return math.prod(math.comb(i, j) for i, j in zip(a, b))


@functools.lru_cache(maxsize=256)
def _features_fn(net: Network, op: Operator):
    """Jitted ``(params, points: (P, d)) -> per layer (A: (P, K, n_out), B: (P, K, n_in),
    bias: (P, n_out))`` with ``∂W L[u] = (W_std/sqrt(n_in)) sum_k B_k ⊗ A_k``."""
    keys = op.derivatives                      # (field, orders) per derivative
    orders = [a for _, a in keys]
    jets_needed = sorted({b for a in orders for b in _below(a)} | set(orders))
    # component k: (term index, b) -> A = c_a C(a, b) D^b g_f,  B = D^(a-b) h
    components = [(t, b) for t, a in enumerate(orders) for b in _below(a)]
    n_out = net.outputs

    def one(params, x):
        feats = _jets(net, params)
        jets = {b: partial(feats, x, b) for b in jets_needed}
        widths = [x.shape[0]] + [layer.width for layer in net.layers]   # n_0 .. n_(L+1)
        offsets = np.cumsum([0] + widths[:-1] + widths[1:] * n_out + [n_out])
        n_h = len(widths) - 1
        h_slice = [slice(offsets[i], offsets[i + 1]) for i in range(n_h)]
        g_slice = [[slice(offsets[n_h * (1 + f) + i], offsets[n_h * (1 + f) + i + 1])
                    for i in range(n_h)] for f in range(n_out)]
        u0 = offsets[-2]
        coefs = op.linearized_coefficients(x, [jets[a][u0 + f] for f, a in keys])
        out = []
        for layer in range(n_h):
            A = jnp.stack([coefs[t] * _binomial(orders[t], b)
                           * jets[b][g_slice[keys[t][0]][layer]] for t, b in components])
            B = jnp.stack([jets[tuple(i - j for i, j in zip(orders[t], b))][h_slice[layer]]
                           for t, b in components])
            bias = sum(coefs[t] * jets[a][g_slice[f][layer]] for t, (f, a) in enumerate(keys))
            out.append((A, B, bias))
        return out

    return jax.jit(jax.vmap(one, in_axes=(None, 0)))


def block_features(net: Network, params, op: Operator, points) -> list:
    """Per-layer factors of ``∂θ L[u]`` at ``points: (P, d)`` (see module docstring)."""
    return _features_fn(net, op)(params, jnp.asarray(points))


@jax.jit
def _layer_gram(fa, fb, scale_w, scale_b):
    A, B, bias = fa
    A2, B2, bias2 = fb
    ga = jnp.einsum("pkn,qjn->pqkj", A, A2)
    gb = jnp.einsum("pkn,qjn->pqkj", B, B2)
    return scale_w * jnp.sum(ga * gb, axis=(2, 3)) + scale_b * bias @ bias2.T


def feature_gram(net: Network, feats_a, feats_b) -> jnp.ndarray:
    """``(P, Q)`` block of the empirical NTK from two :func:`block_features` results."""
    total = 0.0
    for layer, fa, fb in zip(net.layers, feats_a, feats_b):
        n_in = fa[1].shape[-1]
        total = total + _layer_gram(fa, fb, layer.weight_scale(n_in) ** 2, layer.bias_scale ** 2)
    return total


@jax.jit
def _layer_diagonal(f, scale_w, scale_b):
    A, B, bias = f
    ga = jnp.einsum("pkn,pjn->pkj", A, A)
    gb = jnp.einsum("pkn,pjn->pkj", B, B)
    return scale_w * jnp.sum(ga * gb, axis=(1, 2)) + scale_b * jnp.sum(bias * bias, axis=1)


def feature_diagonal(net: Network, feats) -> jnp.ndarray:
    """``(P,)`` diagonal of a block's empirical NTK, ``‖∂θ L[u](x_p)‖²`` (``O(P)`` Grams)."""
    total = 0.0
    for layer, f in zip(net.layers, feats):
        total = total + _layer_diagonal(f, layer.weight_scale(f[1].shape[-1]) ** 2,
                                        layer.bias_scale ** 2)
    return total
