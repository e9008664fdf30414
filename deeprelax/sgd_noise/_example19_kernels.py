"""Numba kernels of :mod:`deeprelax.sgd_noise.example19`: Euler-Maruyama chains of Example 19 (paper-spec §4.3).

Each kernel has a NumPy twin in :mod:`deeprelax.sgd_noise.example19` that
``tests/deeprelax/test_sgd_noise.py`` compares against.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit


@njit
def ex19_force(x1, x2, lam):
    """``grad f = grad Phi - j`` of Example 19 at one point; returns ``(g1, g2)``.

    ``Phi = (x1^2 - 1)^2/4 + x2^2/2``, ``j = lam exp(Phi - r^4/4) (-x2, x1)``.
    """
    phi = 0.25 * (x1 * x1 - 1.0) ** 2 + 0.5 * x2 * x2
    r2 = x1 * x1 + x2 * x2
    e = lam * math.exp(phi - 0.25 * r2 * r2)
    g1 = x1 * (x1 * x1 - 1.0) - e * (-x2)
    g2 = x2 - e * x1
    return g1, g2


@njit
def ex19_em_hist(x0, lam, h, n_burn, n_steps, every, seed, lo, hi, nbins, counts):
    """Euler-Maruyama chains of ``dx = -grad f dt + sqrt(2) dW`` with a running 2-D histogram.

    Parameters
    ----------
    x0 : (n_chains, 2) float64
        Initial states (overwritten with the final states).
    lam, h : float
        Rotation strength and step.
    n_burn, n_steps, every : int
        Burn-in steps (not histogrammed), then ``n_steps`` steps with a histogram entry every ``every`` steps.
    seed : int
        ``np.random.seed(seed)`` inside the kernel (chains are advanced one after the other).
    lo, hi : (2,) float64; nbins : int
        Square histogram on ``[lo0, hi0] x [lo1, hi1]`` with ``nbins`` bins per axis.
    counts : (nbins, nbins) int64
        Incremented in place.

    Returns
    -------
    int : number of histogram entries that fell outside the box.
    """
    np.random.seed(seed)
    s = math.sqrt(2.0 * h)
    out = 0
    w0 = (hi[0] - lo[0]) / nbins
    w1 = (hi[1] - lo[1]) / nbins
    for c in range(x0.shape[0]):
        a = x0[c, 0]
        b = x0[c, 1]
        for n in range(n_burn + n_steps):
            g1, g2 = ex19_force(a, b, lam)
            a = a - h * g1 + s * np.random.standard_normal()
            b = b - h * g2 + s * np.random.standard_normal()
            if n >= n_burn and (n - n_burn) % every == 0:
                i = int(math.floor((a - lo[0]) / w0))
                j = int(math.floor((b - lo[1]) / w1))
                if 0 <= i < nbins and 0 <= j < nbins:
                    counts[i, j] += 1
                else:
                    out += 1
        x0[c, 0] = a
        x0[c, 1] = b
    return out
