r"""Multilayer perceptron with 1-2 (or more) hidden layers, tanh or ReLU, softmax cross-entropy.

Layers ``z_l = W_l a_{l-1} + b_l``, ``a_l = phi(z_l)`` (``a_0`` the input), logits ``z_L`` and the per-sample
loss ``log sum_c exp(z_L,c) - z_L,y``.  Minibatch gradients and Hessian-vector products go through one
BLAS matrix product per layer (:mod:`._mlp_blas`); per-sample gradients, values and errors through the
per-sample kernels (:mod:`._kernels`), which the tests use as the independent check.  The parameters form one flat vector ``x``: for each layer in turn
``W_l`` (``n_l x n_{l-1}``, row-major) then ``b_l`` (:meth:`MLP.unflatten` returns the pieces).
"""
from __future__ import annotations

import math

import numpy as np

from . import _kernels as K
from .base import Model
from .data import Dataset
from .perceptron import _choice

__all__ = ["MLP"]


class MLP(Model):
    """Fully connected network on ``data``.

    Parameters
    ----------
    data : Dataset
    hidden : int or sequence of int
        Widths of the hidden layers (e.g. ``(32,)`` or ``(32, 16)``).
    activation : {"tanh", "relu"}
    lam : float >= 0
        Weight decay on all parameters.

    Initialisation (:meth:`init`): ``W_l ~ N(0, g / n_{l-1})`` with ``g = 1`` (tanh) or 2 (ReLU), ``b_l = 0``.
    """

    name = "mlp"

    def __init__(self, data: Dataset, hidden=(32,), *, activation: str = "tanh", lam: float = 0.0):
        hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
        if not hidden or any(isinstance(h, bool) or int(h) != h or int(h) < 1 for h in hidden):
            raise ValueError(f"`hidden` must be one or more positive layer widths; got {hidden!r}.")
        act = _choice("activation", activation, K.ACTIVATIONS)
        sizes = (data.n_inputs,) + tuple(int(h) for h in hidden) + (data.n_classes,)
        self.sizes = sizes
        d = sum(sizes[l] * sizes[l - 1] + sizes[l] for l in range(1, len(sizes)))
        H = sum(sizes[1:])
        super().__init__(data, [K.MLP, len(sizes) - 1, act, *sizes], [0.0], d, 6 * H, lam,
                         {"hidden": hidden, "activation": activation})
        self._blas = (np.asarray(sizes, dtype=np.int64), act)

    def unflatten(self, x):
        """``[(W_1, b_1), ..., (W_L, b_L)]`` views of the flat parameters ``x`` (d,)."""
        x = np.asarray(x)
        out, o = [], 0
        for l in range(1, len(self.sizes)):
            n_in, n_out = self.sizes[l - 1], self.sizes[l]
            W = x[o:o + n_in * n_out].reshape(n_out, n_in)
            o += n_in * n_out
            out.append((W, x[o:o + n_out]))
            o += n_out
        return out

    def _init(self, rng, shape):
        x = np.zeros(shape)
        gain = 2.0 if self.params["activation"] == "relu" else 1.0
        o = 0
        for l in range(1, len(self.sizes)):
            n_in, n_out = self.sizes[l - 1], self.sizes[l]
            x[..., o:o + n_in * n_out] = rng.standard_normal(shape[:-1] + (n_in * n_out,)) * math.sqrt(gain / n_in)
            o += n_in * n_out + n_out
        return x
