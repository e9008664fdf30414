r"""Flatness of a solution: training errors after flipping a random fraction of its weights.

For each fraction :math:`f`, ``n_samples`` random sets of :math:`k = \mathrm{round}(f N)` distinct
sites are flipped and the errors counted, :math:`O(k P)` per sample from the reference fields.  The
same random sets are used for every row of ``W`` (common random numbers), so rows compare pairwise.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from solvers.errors import check_count
from solvers.jit import pnjit, prange
from solvers.result import Result, register_result

from .. import _rng
from . import _energy
from .problem import BinaryPerceptron, check_weights

__all__ = ["robustness", "RobustnessResult"]


@pnjit
def _robust(xsT, W, ks, state):
    m, n = W.shape
    p = xsT.shape[1]
    S = state.shape[0]
    F = ks.shape[0]
    H0 = np.empty((m, p), np.int32)
    for r in range(m):
        _energy.fields_into(xsT, W[r], H0[r])
    err = np.zeros((S, m, F), np.int64)
    for s in prange(S):
        ss = np.int64(s)
        perm = np.arange(n)
        h = np.empty(p, np.int32)
        for f in range(F):
            k = ks[f]
            for t in range(k):  # partial Fisher-Yates: perm[:k] is a uniform k-subset
                u = t + _rng.randint(state, ss, n - t)
                tmp = perm[t]
                perm[t] = perm[u]
                perm[u] = tmp
            for r in range(m):
                for mu in range(p):
                    h[mu] = H0[r, mu]
                for t in range(k):
                    j = perm[t]
                    _energy.apply_flip(xsT, h, j, W[r, j])
                ne = 0
                for mu in range(p):
                    if h[mu] < 0:
                        ne += 1
                err[ss, r, f] = ne
    return err


@register_result
@dataclass(frozen=True, repr=False)
class RobustnessResult(Result):
    """Training errors after random flips.

    Attributes
    ----------
    fractions : ndarray, shape (F,)
        Requested fractions of flipped weights.
    flips : ndarray, shape (F,), int64
        Number of flipped weights ``round(f N)``.
    mean, stderr : ndarray, shape (m, F)
        Mean number of training errors and its standard error over the samples (``m`` = rows of ``W``).
    frac_solution : ndarray, shape (m, F)
        Fraction of samples that are still solutions.
    n_samples : int
    """

    fractions: np.ndarray
    flips: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    frac_solution: np.ndarray
    n_samples: int
    seed: int = 0
    wall_time: float = 0.0
    params: dict = field(default_factory=dict)


def robustness(problem: BinaryPerceptron, W, fractions, *, n_samples: int = 200, seed: int = 0) -> RobustnessResult:
    """Mean training energy (errors) after flipping a fraction of random weights, with standard errors.

    Parameters
    ----------
    problem : BinaryPerceptron
    W : array_like, shape (N,) or (m, N)
        Configurations (+-1), usually solutions.
    fractions : array_like, shape (F,)
        Fractions of weights to flip, in [0, 1].
    n_samples : int
        Random flip sets per fraction (shared by all rows).
    seed : int

    Returns
    -------
    RobustnessResult
        ``mean``/``stderr``/``frac_solution`` of shape (m, F) (m = 1 for a single ``W``).
    """
    if not isinstance(problem, BinaryPerceptron):
        raise TypeError(f"`problem` must be a BinaryPerceptron; got {type(problem).__name__}.")
    w = check_weights(W, problem.n, "W")
    w2 = np.ascontiguousarray(w.reshape(-1, problem.n))
    fr = np.atleast_1d(np.asarray(fractions, dtype=float))
    if fr.ndim != 1 or fr.size == 0 or not np.all(np.isfinite(fr)) or fr.min() < 0 or fr.max() > 1:
        raise ValueError(f"`fractions` must be a 1-D array of numbers in [0, 1]; got {fractions!r}.")
    n_samples = check_count("n_samples", n_samples, minimum=2)
    t0 = time.perf_counter()
    ks = np.rint(fr * problem.n).astype(np.int64)
    err = _robust(problem._xsT, w2, ks, _rng.chain_seeds(seed, int(n_samples), stream=21))
    mean = err.mean(0)
    sd = err.std(0, ddof=1)
    return RobustnessResult(fractions=fr, flips=ks, mean=mean, stderr=sd / math.sqrt(n_samples),
                            frac_solution=(err == 0).mean(0), n_samples=int(n_samples), seed=int(seed),
                            wall_time=time.perf_counter() - t0)
