"""Baseline of the Hopf-Lax benchmark: a naive Numba two-pass lower envelope computing only ``u``.

``u = min_y f(y) + |x - y|^2 / (2t)`` on a periodic 2-D grid, one Felzenszwalb-Huttenlocher
envelope per line: first along the rows (contiguous), then along the columns, each column
read and written in place with its stride; ``prange`` over lines, one work line per thread.
Periodic axes are extended by ``e`` images per side, as in :func:`solvers.hopf_lax.hopf_lax`,
so the result equals ``hopf_lax(..., refine="none").u`` (the benchmark checks it).
"""
from __future__ import annotations

import numpy as np

from solvers.jit import njit, pnjit, prange


@njit
def _line(g, m, e, n, a, v, z, out, o0, ostride):
    k = 0
    v[0] = 0
    z[0] = -np.inf
    z[1] = np.inf
    for q in range(1, m):
        while True:
            p = v[k]
            s = ((g[q] + a * q * q) - (g[p] + a * p * p)) / (2.0 * a * (q - p))
            if s <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = s
        z[k + 1] = np.inf
    k = 0
    for i in range(n):
        x = i + e
        while z[k + 1] < x:
            k += 1
        out[o0 + i * ostride] = g[v[k]] + a * (x - v[k]) ** 2


@pnjit
def _pass(src, dst, along_rows, a, e):
    n0, n1 = src.shape
    lines, n = (n0, n1) if along_rows else (n1, n0)
    m = n + 2 * e
    flat = dst.reshape(n0 * n1)
    for L in prange(lines):
        g = np.empty(m)
        v = np.empty(m, np.int64)
        z = np.empty(m + 1)
        for q in range(m):
            j = (q - e) % n
            g[q] = src[L, j] if along_rows else src[j, L]
        if along_rows:
            _line(g, m, e, n, a, v, z, flat, L * n1, 1)
        else:
            _line(g, m, e, n, a, v, z, flat, L, n1)


def naive_hopf_lax_u(vals, h, t, e):
    """u of the periodic 2-D Hopf-Lax problem: ``vals`` (n0, n1), spacings ``h``, time ``t``,
    ``e = (e0, e1)`` periodic images per side and axis.  Returns u (n0, n1)."""
    tmp = np.empty_like(vals)
    u = np.empty_like(vals)
    _pass(vals, tmp, True, h[1] ** 2 / (2 * t), int(e[1]))
    _pass(tmp, u, False, h[0] ** 2 / (2 * t), int(e[0]))
    return u
