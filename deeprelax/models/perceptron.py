r"""The perceptron with continuous weights: ``d = N`` parameters, label ``sign(w . xi)``.

Per-sample loss of the margin ``m = s w.xi / sqrt(N)`` (``constraint="ridge"``, with weight decay
``lam``) or ``m = s w.xi / |w|`` (``constraint="sphere"``: the loss of the weights projected on the
sphere ``|w|^2 = N``; invariant under ``w -> c w``, so the gradient is tangent to the sphere):
cross-entropy ``log(1 + exp(kappa - m))`` (the smooth surrogate, default), squared ``(1 - m)^2/2`` or
hinge ``max(0, kappa - m)``.  The metric is the number (fraction) of errors ``s w.xi <= 0``.
"""
from __future__ import annotations

import math

from . import _kernels as K
from .base import Model
from .data import Dataset

__all__ = ["Perceptron"]


def _choice(name, v, options):
    if v not in options:
        raise ValueError(f"`{name}` must be one of {sorted(options)}; got {v!r}.")
    return options[v]


def _binary(data: Dataset, what: str):
    if data.n_classes != 2:
        raise ValueError(f"the {what} is a binary classifier: `data` must have n_classes = 2; got {data.n_classes}.")


class Perceptron(Model):
    """Perceptron on ``data`` (binary labels; class 1 = ``+1``).

    Parameters
    ----------
    data : Dataset
    loss : {"cross-entropy", "squared", "hinge"}
    constraint : {"ridge", "sphere"}
    lam : float >= 0
        Weight decay (ridge).
    kappa : float
        Margin of the cross-entropy and hinge losses.
    """

    name = "perceptron"

    def __init__(self, data: Dataset, *, loss: str = "cross-entropy", constraint: str = "ridge",
                 lam: float = 0.0, kappa: float = 0.0):
        _binary(data, "perceptron")
        code = _choice("loss", loss, K.LOSS_CODES)
        sphere = _choice("constraint", constraint, {"ridge": 0, "sphere": 1})
        kappa = float(kappa)
        if not math.isfinite(kappa):
            raise ValueError(f"`kappa` must be finite; got {kappa!r}.")
        N = data.n_inputs
        super().__init__(data, [K.PERCEPTRON, N, code, sphere], [kappa], N, 1, lam,
                         {"loss": loss, "constraint": constraint, "kappa": kappa})

    def _init(self, rng, shape):
        return rng.standard_normal(shape)
