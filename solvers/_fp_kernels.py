"""Numba kernels of the Fokker-Planck integrators (:mod:`solvers.fokker_planck`).

Layout
------
Every kernel that works along one axis ``k`` of a d-dimensional C-ordered array
sees it as a 3-D view ``(pre, n, post)`` with ``pre = prod(shape[:k])``,
``n = shape[k]`` and ``post = prod(shape[k+1:])`` (a free reshape).  Lines along
the axis are ``a[p, :, q]``.  Kernels run the ``q`` loop innermost, so lines of
the first axes are processed many at a time with contiguous memory access.

Face weights
------------
For the face ``i + 1/2`` between nodes ``i`` and ``i + 1`` of a line, ``ap[i]``
and ``am[i]`` (shape of the grid, index ``i`` means face ``i + 1/2``) are the
Scharfetter-Gummel rates

    J_{i+1/2} / h = ap[i] * rho[i] - am[i] * rho[i+1],
    ap = s B(z),  am = s B(-z),  s = D_kk / (beta h_k^2),

with ``B(z) = z / (e^z - 1)`` (:func:`bernoulli`).  The face ``n - 1`` is the
wrap-around face of a periodic axis; on a no-flux axis it is zero.  The axis
operator is then

    (A_k rho)_i = ap[i-1] rho[i-1] - (ap[i] + am[i-1]) rho[i] + am[i] rho[i+1]

with indices taken modulo ``n`` (the zero last face switches the wrap off).
Off-diagonal entries are >= 0 and columns sum to 0: ``I - c A_k`` is an
M-matrix whose inverse is non-negative and preserves the sum.

Each compiled loop comes as a serial and a threaded driver (``*_s`` / ``*_p``)
around one serial ``@njit`` task body, because one Python function compiled
twice would share a cache entry.  :func:`pick` chooses with
:func:`solvers.jit.use_parallel`.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .jit import njit, pnjit, prange, use_parallel

#: |z| below which B(z) uses its Taylor series (the next term, z^6/30240, is < 1e-28).
SERIES_CUTOFF = 1e-4
#: Above this, e^z - 1 == e^z in float64 and expm1 would overflow near 709.
BIG_Z = 700.0
#: Number of lines of a non-last axis solved together by one task (contiguous in q);
#: BLOCK_WIDE when the lines are far apart in memory (post >= WIDE_POST), to touch fewer pages.
BLOCK = 64
BLOCK_WIDE = 256
WIDE_POST = 4096
#: Lines of the last axis (stride n apart) interleaved by one task.
LAST_AXIS_BLOCK = 8


# ----------------------------------------------------------------------------- Bernoulli
@njit
def bernoulli(z):
    """Stable ``B(z) = z / (e^z - 1)``, ``B(0) = 1``.

    Series ``1 - z/2 + z^2/12 - z^4/720`` for ``|z| < 1e-4``; ``z e^{-z}`` for
    ``z > 700`` (underflows cleanly to 0, never inf/NaN for finite z); ``expm1`` otherwise.
    For very negative ``z``, ``B(z) -> -z``.  Identity: ``B(-z) = B(z) + z``.
    """
    az = abs(z)
    if az < SERIES_CUTOFF:
        z2 = z * z
        return 1.0 - 0.5 * z + z2 / 12.0 - z2 * z2 / 720.0
    if z > BIG_Z:
        return z * math.exp(-z)
    return z / math.expm1(z)


@njit
def _sg_task(i, z, s, ap, am):
    zi = z[i]
    ap[i] = s * bernoulli(zi)
    am[i] = s * bernoulli(-zi)


@njit
def _sg_weights_s(z, s, ap, am):
    for i in range(z.size):
        _sg_task(i, z, s, ap, am)


@pnjit
def _sg_weights_p(z, s, ap, am):
    for i in prange(z.size):
        _sg_task(i, z, s, ap, am)


def sg_weights(z, s):
    """Face rates ``ap = s B(z)``, ``am = s B(-z)`` for an array of Peclet numbers ``z``.

    Parameters
    ----------
    z : ndarray, any shape, float64
    s : float, the diffusive rate ``D_kk / (beta h_k^2)``

    Returns
    -------
    ap, am : ndarray, shape ``z.shape``
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    ap = np.empty_like(z)
    am = np.empty_like(z)
    fn = _sg_weights_p if use_parallel(z.size) else _sg_weights_s
    fn(z.reshape(-1), float(s), ap.reshape(-1), am.reshape(-1))
    return ap, am


@njit
def _bern_arr_s(z, out):
    for i in range(z.size):
        out[i] = bernoulli(z[i])


def bernoulli_array(z):
    """``B(z)`` elementwise for an array of any shape (serial; for assembly, tests and small inputs)."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    out = np.empty_like(z)
    _bern_arr_s(z.reshape(-1), out.reshape(-1))
    return out


# ----------------------------------------------------------------------------- apply A_k
@njit
def _apply_task(task, rho, ap, am, c, out):
    pre, n, post = rho.shape
    p = task // n
    i = task % n
    im = i - 1 if i > 0 else n - 1
    ip = i + 1 if i < n - 1 else 0
    for q in range(post):
        out[p, i, q] += c * (ap[p, im, q] * rho[p, im, q]
                             - (ap[p, i, q] + am[p, im, q]) * rho[p, i, q]
                             + am[p, i, q] * rho[p, ip, q])


@njit
def _apply_s(rho, ap, am, c, out):
    pre, n, post = rho.shape
    for task in range(pre * n):
        _apply_task(task, rho, ap, am, c, out)


@pnjit
def _apply_p(rho, ap, am, c, out):
    pre, n, post = rho.shape
    for task in prange(pre * n):
        _apply_task(task, rho, ap, am, c, out)


def axis_view(a, axis):
    """The ``(pre, n, post)`` view of a C-contiguous array for lines along ``axis``."""
    shp = a.shape
    return a.reshape(math.prod(shp[:axis]), shp[axis], math.prod(shp[axis + 1:]))


def apply_axis(rho, ap, am, axis, c, out):
    """``out += c * A_axis rho`` in place (all arrays C-contiguous, shape ``grid.shape``).

    ``out`` must not be ``rho``.
    """
    r3, p3, m3, o3 = (axis_view(x, axis) for x in (rho, ap, am, out))
    fn = _apply_p if use_parallel(rho.size) else _apply_s
    fn(r3, p3, m3, float(c), o3)
    return out


# ----------------------------------------------------------------------------- line solves
@njit
def _step_task(task, rho, ap, am, ci, ce, out, periodic, bw):
    """Solve ``(I - ci A) x = (I + ce A) rho`` on one block of ``bw`` lines (cyclic if periodic).

    Lines are numbered ``L = p * post + q``; a block holds consecutive L, so its
    lines are contiguous in q (inner axes) or in p (last axis, ``post == 1``).
    The inner loop runs over the lines of the block, the outer loop along them:
    the recursions of different lines interleave instead of waiting on each other.
    """
    pre, n, post = rho.shape
    nlines = pre * post
    l0 = task * bw
    m = min(bw, nlines - l0)
    pj = np.empty(m, np.int64)
    qj = np.empty(m, np.int64)
    for j in range(m):
        pj[j] = (l0 + j) // post
        qj[j] = (l0 + j) % post
    cp = np.empty((n, m))               # c'_i of the Thomas algorithm
    rr = np.empty(m)                    # den_i - ci ap_i (subtraction-free pivots)
    inv = np.empty(m)                   # 1 / den_{i-1}
    if periodic:
        zp = np.empty((n, m))           # second right-hand side of Sherman-Morrison
        gam = np.empty(m)
    else:
        zp = np.empty((1, 1))
        gam = np.empty(1)
    # ---- row 0
    for j in range(m):
        p = pj[j]
        q = qj[j]
        b0 = 1.0 + ci * (ap[p, 0, q] + am[p, n - 1, q])
        rhs = rho[p, 0, q] + ce * (ap[p, n - 1, q] * rho[p, n - 1, q]
                                   - (ap[p, 0, q] + am[p, n - 1, q]) * rho[p, 0, q]
                                   + am[p, 0, q] * rho[p, 1, q])
        if periodic:
            gam[j] = -b0
            iv = 1.0 / (2.0 * b0)
            zp[0, j] = -b0 * iv
        else:
            iv = 1.0 / b0
        inv[j] = iv
        rr[j] = 1.0
        cp[0, j] = -ci * am[p, 0, q] * iv
        out[p, 0, q] = rhs * iv
    # ---- forward sweep
    for i in range(1, n):
        ip = i + 1 if i < n - 1 else 0
        for j in range(m):
            p = pj[j]
            q = qj[j]
            api = ap[p, i, q]
            apm = ap[p, i - 1, q]
            amm = am[p, i - 1, q]
            lo = -ci * apm
            rhs = rho[p, i, q] + ce * (apm * rho[p, i - 1, q] - (api + amm) * rho[p, i, q]
                                       + am[p, i, q] * rho[p, ip, q])
            up = -ci * am[p, i, q] if i < n - 1 else 0.0
            if periodic:
                b = 1.0 + ci * (api + amm)
                if i == n - 1:
                    b -= (ci * ap[p, n - 1, q]) * (ci * am[p, n - 1, q]) / gam[j]
                den = b - lo * cp[i - 1, j]
            else:
                # den_i = b_i - lo_i cp_{i-1} = rr_i + ci ap_i with rr_i = 1 + ci am_{i-1} rr_{i-1} / den_{i-1}:
                # sums of non-negative terms only (GTH-style), so pivots and solution keep full
                # relative accuracy and the mass is conserved to round-off even for huge dt.
                r_ = 1.0 + ci * amm * rr[j] * inv[j]
                rr[j] = r_
                den = r_ + ci * api
            iv = 1.0 / den
            cp[i, j] = up * iv
            out[p, i, q] = (rhs - lo * out[p, i - 1, q]) * iv
            if periodic:
                u = -ci * am[p, n - 1, q] if i == n - 1 else 0.0
                zp[i, j] = (u - lo * zp[i - 1, j]) * iv
            inv[j] = iv
    # ---- back substitution
    for i in range(n - 2, -1, -1):
        for j in range(m):
            p = pj[j]
            q = qj[j]
            out[p, i, q] = out[p, i, q] - cp[i, j] * out[p, i + 1, q]
            if periodic:
                zp[i, j] = zp[i, j] - cp[i, j] * zp[i + 1, j]
    if periodic:
        for j in range(m):
            p = pj[j]
            q = qj[j]
            a0g = (-ci * ap[p, n - 1, q]) / gam[j]
            vy = out[p, 0, q] + a0g * out[p, n - 1, q]
            vz = zp[0, j] + a0g * zp[n - 1, j]
            fac = vy / (1.0 + vz)
            for i in range(n):
                out[p, i, q] = out[p, i, q] - fac * zp[i, j]


@njit
def _step_s(rho, ap, am, ci, ce, out, periodic, bw):
    pre, n, post = rho.shape
    ntask = (pre * post + bw - 1) // bw
    for task in range(ntask):
        _step_task(task, rho, ap, am, ci, ce, out, periodic, bw)


@pnjit
def _step_p(rho, ap, am, ci, ce, out, periodic, bw):
    pre, n, post = rho.shape
    ntask = (pre * post + bw - 1) // bw
    for task in prange(ntask):
        _step_task(task, rho, ap, am, ci, ce, out, periodic, bw)


def axis_step(rho, ap, am, axis, ci, ce, out, periodic):
    """One directional theta-step: solve ``(I - ci A_axis) out = (I + ce A_axis) rho`` per line.

    ``ci = dt, ce = 0`` is backward Euler, ``ci = ce = dt/2`` Crank-Nicolson.
    Non-periodic lines use the Thomas algorithm, which keeps ``out >= 0``
    exactly in floating point when ``rho >= 0`` and ``ce = 0`` (all its terms
    are sums of non-negative numbers).  Periodic lines use Sherman-Morrison on
    top of it (non-negative up to round-off).

    Parameters
    ----------
    rho, ap, am, out : ndarray, shape ``grid.shape``, float64, C-contiguous; ``out is not rho``
    axis : int
    ci, ce : float
    periodic : bool
    """
    r3, p3, m3, o3 = (axis_view(x, axis) for x in (rho, ap, am, out))
    post = r3.shape[2]
    bw = LAST_AXIS_BLOCK if post == 1 else (BLOCK_WIDE if post >= WIDE_POST else BLOCK)
    ntask = -(-(r3.shape[0] * r3.shape[2]) // bw)
    # threads only pay off with several independent blocks of lines (a 1-D line is one serial recursion)
    fn = _step_p if (use_parallel(rho.size) and ntask >= 4) else _step_s
    fn(r3, p3, m3, float(ci), float(ce), o3, bool(periodic), bw)
    return out


# ----------------------------------------------------------------------------- compile
def _dispatchers():
    return (_sg_weights_s, _sg_weights_p, _bern_arr_s, _apply_s, _apply_p, _step_s, _step_p)


_WARM = set()      # what this process has compiled or loaded ("weights", "all"): a set lookup instead of
                   # reading the dispatchers' signatures (2.7 us per check, several checks per solve)


def warmup_weights() -> float:
    """Compile (or load from cache) the face-rate kernels only; return the seconds spent, 0 if already done."""
    if "weights" in _WARM:
        return 0.0
    if all(len(f.signatures) > 0 for f in (_sg_weights_s, _sg_weights_p, _bern_arr_s)):
        _WARM.add("weights")
        return 0.0
    t0 = time.perf_counter()
    z = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    for fn in (_sg_weights_s, _sg_weights_p):
        a = np.empty(6)
        fn(z.reshape(-1), 1.0, a, a.copy())
    _bern_arr_s(z.reshape(-1), np.empty(6))
    _WARM.add("weights")
    return time.perf_counter() - t0


def warmup() -> float:
    """Compile (or load from cache) every kernel; return the seconds spent, 0 if already done."""
    if "all" in _WARM:
        return 0.0
    if all(len(f.signatures) > 0 for f in _dispatchers()):
        _WARM.add("all")
        return 0.0
    t0 = time.perf_counter()
    warmup_weights()
    r = np.ones((1, 3, 2))
    w = np.full((1, 3, 2), 0.5)
    for fn in (_apply_s, _apply_p):
        fn(r, w, w, 0.1, np.zeros_like(r))
    for fn in (_step_s, _step_p):
        fn(r, w, w, 0.1, 0.0, np.empty_like(r), False, 1)
    _WARM.add("all")
    return time.perf_counter() - t0
