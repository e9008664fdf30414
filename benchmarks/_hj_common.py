"""What the sections of :mod:`benchmarks.bench_hj` share: the timers of ``solve_hj``, the exact
references of the ``-cos(pi x)`` problems (Hopf-Lax by brute force + Newton, Cole-Hopf by log-domain
quadrature) and the load average printed beside the timings.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from benchmarks._common import timed
from solvers.hj import solve_hj


def _median_time(fn, repeat):
    """(median wall, median CPU) seconds of ``repeat`` calls after one warm-up call (the shared timer)."""
    tm = timed(fn, repeat, warmup=True)
    return tm.median, tm.cpu_median


def _timed_solve(u0, g, t, repeat, quiet=False, **kw):
    """``solve_hj(u0, g, t, **kw)`` timed ``repeat`` times after a short warm-up solve (compile or
    cache load outside the timing); returns (median wall excluding compile time, last result)."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        solve_hj(u0, g, 1e-3, **kw)
        walls = []
        for _ in range(repeat):
            r = solve_hj(u0, g, t, **kw)
            walls.append(r.wall_time)
    return float(np.median(walls)), r


def hopf_lax_cos(x, t):
    """Exact Hopf-Lax solution of ``-cos(pi y)`` at ``x`` (brute force over y, Newton polish)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    s = np.linspace(-t * np.pi - 1e-3, t * np.pi + 1e-3, 4001)
    for lo in range(0, x.size, 256):
        xc = x[lo:lo + 256]
        y = xc[:, None] - s[None, :]
        phi = -np.cos(np.pi * y) + (xc[:, None] - y) ** 2 / (2 * t)
        yb = y[np.arange(xc.size), np.argmin(phi, axis=1)]
        for _ in range(30):
            g1 = np.pi * np.sin(np.pi * yb) - (xc - yb) / t
            g2 = np.pi ** 2 * np.cos(np.pi * yb) + 1.0 / t
            yb = yb - g1 / np.where(g2 > 0, g2, np.inf)
        out[lo:lo + 256] = np.minimum(-np.cos(np.pi * yb) + (xc - yb) ** 2 / (2 * t), phi.min(axis=1))
    return out


def cole_hopf_cos(x, t, beta):
    """Viscous solution for ``u0 = -cos(pi x)``: log-domain trapezoid over y (numerics.md §A.1)."""
    from scipy.special import logsumexp

    if math.isinf(beta):
        return hopf_lax_cos(x, t)
    w = t * np.pi + math.sqrt((t * np.pi) ** 2 + 80.0 * t / beta)
    width = 1.0 / math.sqrt(beta * (1.0 / t + np.pi ** 2))
    m = int(2 * w / min(0.01, width / 12.0)) | 1
    s = np.linspace(-w, w, m)
    out = np.empty_like(x)
    for lo in range(0, x.size, 128):
        xc = x[lo:lo + 128]
        y = xc[:, None] - s[None, :]
        phi = -np.cos(np.pi * y) + s[None, :] ** 2 / (2 * t)
        out[lo:lo + 128] = -(logsumexp(-beta * phi, axis=1) + math.log(s[1] - s[0])
                             + 0.5 * math.log(beta / (2 * math.pi * t))) / beta
    return out


def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - platform without getloadavg
        return None
