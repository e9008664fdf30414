r"""The committee machine: ``K`` hidden sign units and a majority vote, with a smooth surrogate for training.

Hidden fields ``lambda_u = w_u . xi_u / sqrt(n)``: a **tree** committee splits the ``N`` inputs into ``K``
disjoint blocks of ``n = N/K`` (``d = N`` parameters); a **fully connected** one gives every unit all
inputs (``n = N``, ``d = K N``).  The machine outputs ``sign(sum_u sign(lambda_u))`` (``K`` odd, so
there is no tie); gradient methods minimise the surrogate loss of the margin ``m = s o`` with
``o = sum_u tanh(lambda_u) / sqrt(K)`` (cross-entropy by default; see :mod:`.perceptron`).
"""
from __future__ import annotations

import math

from . import _kernels as K_
from .base import Model
from .data import Dataset
from .perceptron import _binary, _choice

__all__ = ["CommitteeMachine"]


class CommitteeMachine(Model):
    """Committee machine on ``data`` (binary labels).

    Parameters
    ----------
    data : Dataset
    K : int, odd
        Hidden units.
    tree : bool
        Tree (disjoint input blocks, ``N`` divisible by ``K``) or fully connected.
    loss : {"cross-entropy", "squared", "hinge"}
    lam : float >= 0
    kappa : float
    """

    name = "committee"

    def __init__(self, data: Dataset, K: int = 3, *, tree: bool = True, loss: str = "cross-entropy",
                 lam: float = 0.0, kappa: float = 0.0):
        _binary(data, "committee machine")
        if isinstance(K, bool) or not isinstance(K, int) or K < 1 or K % 2 == 0:
            raise ValueError(f"`K` must be an odd positive integer (majority vote without ties); got {K!r}.")
        N = data.n_inputs
        if tree and N % K:
            raise ValueError(f"a tree committee needs n_inputs divisible by K; got n_inputs = {N}, K = {K}.")
        code = _choice("loss", loss, K_.LOSS_CODES)
        kappa = float(kappa)
        if not math.isfinite(kappa):
            raise ValueError(f"`kappa` must be finite; got {kappa!r}.")
        d = N if tree else K * N
        self.K, self.tree = K, bool(tree)
        super().__init__(data, [K_.COMMITTEE, N, K, int(bool(tree)), code], [kappa], d, 2 * K, lam,
                         {"K": K, "tree": bool(tree), "loss": loss, "kappa": kappa})

    def _init(self, rng, shape):
        return rng.standard_normal(shape)
