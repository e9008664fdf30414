"""Numba kernels of the finite-difference Hamilton-Jacobi solver (1-D, 2-D and 3-D).

Every kernel works on a ghost-padded array (``g`` cells per side, filled
beforehand by :mod:`solvers.boundary`); kernels never branch on the domain edge.
There is one kernel per (dimension, derivative family) with plain N-d indexing:
a generic per-axis stride version was 5-10x slower (no vectorisation, branches
in the inner loop).  The bodies are written out from one template (the loop
body differs only in which neighbours are read), so the cell update is the same
in all of them.  The Hamiltonian code ``ham`` stays a run-time argument.

* ``stage_{1,2,3}d_{first,eno2,weno5}[_par]`` write one Runge-Kutta stage on the interior,
  ``O = a W + b (V + dt L(V))`` with ``L(u) = -H_hat(p^-, p^+) + nu Lap u``
  (``a = 0`` drops the ``W`` term: forward Euler / first RK3 stage), and record the
  CFL slopes of ``V`` in a small buffer (fused, no extra pass over memory).
* ``slopes_{1,2,3}d_g{1,2,3}[_par]`` return running maxima of ``|D^+- u|`` per axis
  (first-order differences; NaN-sticky), reduced by :func:`max_slopes` for the CFL step.

The ``_par`` variants thread over the outermost interior axis with ``prange``
(chunks of the line in 1-D); :func:`stage` and :func:`max_slopes` pick one with
:func:`solvers._jit.use_parallel`.  The NumPy twins are
:func:`solvers.schemes.stage_numpy` and :func:`solvers.schemes.max_slopes_numpy`.
Integer codes: ``deriv`` 0 first / 1 ENO2 / 2 WENO5; ``ham`` 0 Godunov /
1 Rouy-Tourin / 2 local Lax-Friedrichs / 3 Engquist-Osher.  The Laplacian is the
3-point one for first-order and ENO2 kernels and the 5-point one for WENO5.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _jit
from ._jit import prange, use_parallel

# IEEE semantics for float division (x / 0 -> inf or NaN instead of ZeroDivisionError): non-finite data
# must flow through to the NaN-sticky CFL slopes and stop the solve with a status, and the zero-divisor
# check of Python's error model is a branch in every WENO weight (it blocks vectorisation).
njit = functools.partial(_jit.njit, error_model="numpy")
pnjit = functools.partial(_jit.pnjit, error_model="numpy")

_CHUNK = 4096


# ----------------------------------------------------------------------------- per-cell pieces
_C1_3 = 1.0 / 3.0
_C7_6 = 7.0 / 6.0
_C11_6 = 11.0 / 6.0
_C1_6 = 1.0 / 6.0
_C5_6 = 5.0 / 6.0
_C13_12 = 13.0 / 12.0
_C1_12 = 1.0 / 12.0


@njit(inline="always")
def _weno(v1, v2, v3, v4, v5):
    # constant divisions are written as products (LLVM keeps x / 3.0 as a division without fast-math:
    # 2x slower); 4 divisions remain per call
    phi1 = _C1_3 * v1 - _C7_6 * v2 + _C11_6 * v3
    phi2 = -_C1_6 * v2 + _C5_6 * v3 + _C1_3 * v4
    phi3 = _C1_3 * v3 + _C5_6 * v4 - _C1_6 * v5
    t1 = v1 - 2.0 * v2 + v3
    t2 = v1 - 4.0 * v2 + 3.0 * v3
    s1 = _C13_12 * (t1 * t1) + 0.25 * (t2 * t2)
    t1 = v2 - 2.0 * v3 + v4
    t2 = v2 - v4
    s2 = _C13_12 * (t1 * t1) + 0.25 * (t2 * t2)
    t1 = v3 - 2.0 * v4 + v5
    t2 = 3.0 * v3 - 4.0 * v4 + v5
    s3 = _C13_12 * (t1 * t1) + 0.25 * (t2 * t2)
    vmax = max(max(max(v1 * v1, v2 * v2), max(v3 * v3, v4 * v4)), v5 * v5)
    eps = 1e-6 * vmax + 1e-99
    e1 = s1 + eps
    e2 = s2 + eps
    e3 = s3 + eps
    a1 = 0.1 / (e1 * e1)
    a2 = 0.6 / (e2 * e2)
    a3 = 0.3 / (e3 * e3)
    return (a1 * phi1 + a2 * phi2 + a3 * phi3) / (a1 + a2 + a3)


@njit(inline="always")
def _minabs(a, b):
    return a if abs(a) <= abs(b) else b


@njit(inline="always")
def _ham(ham, pm, pp):
    """Per-axis numerical Hamiltonian; all candidates are computed and one is selected.

    Selecting instead of branching keeps the loop branch-free (3x cheaper in CPU time
    here).  Codes 0 (Godunov) and 1 (Rouy-Tourin) share the value: for H = p^2/2,
    ``min(0, min(-p^-, p^+))^2 = max(max(p^-, 0), -min(p^+, 0))^2 = max(A^2, B^2)``
    exactly in floating point (squaring is monotone on [0, inf)); the literal
    Rouy-Tourin form is kept in the NumPy twin and a test checks the equality.
    """
    a = max(pm, 0.0)
    b = min(pp, 0.0)
    a2 = a * a
    b2 = b * b
    god = 0.5 * max(a2, b2)
    eo = 0.5 * (a2 + b2)
    alpha = max(abs(pm), abs(pp))
    s = 0.5 * (pm + pp)
    lf = 0.5 * s * s - 0.5 * alpha * (pp - pm)
    return god if ham <= 1 else (lf if ham == 2 else eo)


@njit(inline="always")
def _pf(um1, c, up1, ih):
    """First-order one-sided differences (p^-, p^+)."""
    return (c - um1) * ih, (up1 - c) * ih


@njit(inline="always")
def _pe(um2, um1, c, up1, up2, ih):
    """ENO2 one-sided derivatives (p^-, p^+)."""
    a = um2 - 2.0 * um1 + c
    b = um1 - 2.0 * c + up1
    cc = c - 2.0 * up1 + up2
    return ((c - um1) + 0.5 * _minabs(a, b)) * ih, ((up1 - c) - 0.5 * _minabs(b, cc)) * ih


@njit(inline="always")
def _pw(um3, um2, um1, c, up1, up2, up3, ih):
    """WENO5 one-sided derivatives (p^-, p^+) from the divided differences D^- u_{i-2..i+3}."""
    d0 = (um2 - um3) * ih
    d1 = (um1 - um2) * ih
    d2 = (c - um1) * ih
    d3 = (up1 - c) * ih
    d4 = (up2 - up1) * ih
    d5 = (up3 - up2) * ih
    return _weno(d0, d1, d2, d3, d4), _weno(d5, d4, d3, d2, d1)


@njit(inline="always")
def _l2(um1, c, up1, q):
    return (um1 - 2.0 * c + up1) * q


@njit(inline="always")
def _l4(um2, um1, c, up1, up2, q):
    return (-um2 + 16.0 * um1 - 30.0 * c + 16.0 * up1 - up2) * (q * _C1_12)


# ----------------------------------------------------------------------------- stage kernels
# One kernel per (dimension, derivative family), serial and threaded, written out from one template.
# The ghost width is a literal (1 first order, 2 ENO2, 3 WENO5): with a run-time offset Numba cannot
# prove ``i - 1 >= 0``, keeps its negative-index wrap-around on every read and the loop does not
# vectorise (3x slower here).  Each stage also records the CFL slopes max |D^+- V| of its *input*
# (per block of rows, per column of the innermost axis; see the slope-reduction section), so the
# driver needs no separate reduction pass over the state.  For ENO2/WENO5 the slope update is a
# separate innermost loop over the same (cached) line: fused into the stencil loop it stopped the
# ENO2 loop from vectorising (1.5x slower).
_ROWS_PER_BLOCK = 32


@njit(inline="always")
def _updb(cb, blk, k, j, um1, c, up1, ih):
    """NaN-sticky running max of the first-order slopes at column ``j`` of block ``blk``, axis ``k``."""
    dm = abs(c - um1) * ih
    dp = abs(up1 - c) * ih
    d = dm if dm > dp else dp
    if dm != dm or dp != dp:
        d = dm + dp
    cur = cb[blk, k, j]
    cb[blk, k, j] = d if (d > cur or d != d) else cur


@njit(inline="always")
def _rows_1d_first(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt):
    blk = 0
    for i in range(lo, hi):
        c = V[i]
        _updb(cb, blk, 0, i - 1, V[i - 1], c, V[i + 1], ih0)
        pm, pp = _pf(V[i - 1], c, V[i + 1], ih0)
        hs = _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l2(V[i - 1], c, V[i + 1], q0))
        val = c + dt * r
        if a != 0.0:
            O[i] = a * W[i] + b * val
        else:
            O[i] = b * val


@njit
def stage_1d_first(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    _rows_1d_first(V, W, O, cb, 1, V.shape[0] - 1, ih0, q0, nu, ham, a, b, dt)


@pnjit
def stage_1d_first_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    n0 = V.shape[0] - 2
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 1 + ch * _CHUNK
        _rows_1d_first(V, W, O, cb, lo, min(lo + _CHUNK, 1 + n0), ih0, q0, nu, ham, a, b, dt)


@njit(inline="always")
def _rows_1d_eno2(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt):
    blk = 0
    for i in range(lo, hi):
        c = V[i]
        _updb(cb, blk, 0, i - 2, V[i - 1], c, V[i + 1], ih0)
    for i in range(lo, hi):
        c = V[i]
        pm, pp = _pe(V[i - 2], V[i - 1], c, V[i + 1], V[i + 2], ih0)
        hs = _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l2(V[i - 1], c, V[i + 1], q0))
        val = c + dt * r
        if a != 0.0:
            O[i] = a * W[i] + b * val
        else:
            O[i] = b * val


@njit
def stage_1d_eno2(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    _rows_1d_eno2(V, W, O, cb, 2, V.shape[0] - 2, ih0, q0, nu, ham, a, b, dt)


@pnjit
def stage_1d_eno2_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    n0 = V.shape[0] - 4
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 2 + ch * _CHUNK
        _rows_1d_eno2(V, W, O, cb, lo, min(lo + _CHUNK, 2 + n0), ih0, q0, nu, ham, a, b, dt)


@njit(inline="always")
def _rows_1d_weno5(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt):
    blk = 0
    for i in range(lo, hi):
        c = V[i]
        _updb(cb, blk, 0, i - 3, V[i - 1], c, V[i + 1], ih0)
    for i in range(lo, hi):
        c = V[i]
        pm, pp = _pw(V[i - 3], V[i - 2], V[i - 1], c, V[i + 1], V[i + 2], V[i + 3], ih0)
        hs = _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l4(V[i - 2], V[i - 1], c, V[i + 1], V[i + 2], q0))
        val = c + dt * r
        if a != 0.0:
            O[i] = a * W[i] + b * val
        else:
            O[i] = b * val


@njit
def stage_1d_weno5(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    _rows_1d_weno5(V, W, O, cb, 3, V.shape[0] - 3, ih0, q0, nu, ham, a, b, dt)


@pnjit
def stage_1d_weno5_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt):
    n0 = V.shape[0] - 6
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 3 + ch * _CHUNK
        _rows_1d_weno5(V, W, O, cb, lo, min(lo + _CHUNK, 3 + n0), ih0, q0, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    for j in range(1, V.shape[1] - 1):
        c = V[i, j]
        _updb(cb, blk, 0, j - 1, V[i - 1, j], c, V[i + 1, j], ih0)
        _updb(cb, blk, 1, j - 1, V[i, j - 1], c, V[i, j + 1], ih1)
        pm, pp = _pf(V[i - 1, j], c, V[i + 1, j], ih0)
        hs = _ham(ham, pm, pp)
        pm, pp = _pf(V[i, j - 1], c, V[i, j + 1], ih1)
        hs += _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l2(V[i - 1, j], c, V[i + 1, j], q0) + _l2(V[i, j - 1], c, V[i, j + 1], q1))
        val = c + dt * r
        if a != 0.0:
            O[i, j] = a * W[i, j] + b * val
        else:
            O[i, j] = b * val


@njit
def stage_2d_first(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 2
    for blk in range(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@pnjit
def stage_2d_first_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 2
    for blk in prange(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    for j in range(2, V.shape[1] - 2):
        c = V[i, j]
        _updb(cb, blk, 0, j - 2, V[i - 1, j], c, V[i + 1, j], ih0)
        _updb(cb, blk, 1, j - 2, V[i, j - 1], c, V[i, j + 1], ih1)
    for j in range(2, V.shape[1] - 2):
        c = V[i, j]
        pm, pp = _pe(V[i - 2, j], V[i - 1, j], c, V[i + 1, j], V[i + 2, j], ih0)
        hs = _ham(ham, pm, pp)
        pm, pp = _pe(V[i, j - 2], V[i, j - 1], c, V[i, j + 1], V[i, j + 2], ih1)
        hs += _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l2(V[i - 1, j], c, V[i + 1, j], q0) + _l2(V[i, j - 1], c, V[i, j + 1], q1))
        val = c + dt * r
        if a != 0.0:
            O[i, j] = a * W[i, j] + b * val
        else:
            O[i, j] = b * val


@njit
def stage_2d_eno2(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 4
    for blk in range(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@pnjit
def stage_2d_eno2_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 4
    for blk in prange(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    for j in range(3, V.shape[1] - 3):
        c = V[i, j]
        _updb(cb, blk, 0, j - 3, V[i - 1, j], c, V[i + 1, j], ih0)
        _updb(cb, blk, 1, j - 3, V[i, j - 1], c, V[i, j + 1], ih1)
    for j in range(3, V.shape[1] - 3):
        c = V[i, j]
        pm, pp = _pw(V[i - 3, j], V[i - 2, j], V[i - 1, j], c, V[i + 1, j], V[i + 2, j], V[i + 3, j], ih0)
        hs = _ham(ham, pm, pp)
        pm, pp = _pw(V[i, j - 3], V[i, j - 2], V[i, j - 1], c, V[i, j + 1], V[i, j + 2], V[i, j + 3], ih1)
        hs += _ham(ham, pm, pp)
        r = -hs
        if nu != 0.0:
            r += nu * (_l4(V[i - 2, j], V[i - 1, j], c, V[i + 1, j], V[i + 2, j], q0) + _l4(V[i, j - 2], V[i, j - 1], c, V[i, j + 1], V[i, j + 2], q1))
        val = c + dt * r
        if a != 0.0:
            O[i, j] = a * W[i, j] + b * val
        else:
            O[i, j] = b * val


@njit
def stage_2d_weno5(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 6
    for blk in range(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@pnjit
def stage_2d_weno5_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt):
    n0 = V.shape[0] - 6
    for blk in prange(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    for j in range(1, V.shape[1] - 1):
        for l in range(1, V.shape[2] - 1):
            c = V[i, j, l]
            _updb(cb, blk, 0, l - 1, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
            _updb(cb, blk, 1, l - 1, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
            _updb(cb, blk, 2, l - 1, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
            pm, pp = _pf(V[i - 1, j, l], c, V[i + 1, j, l], ih0)
            hs = _ham(ham, pm, pp)
            pm, pp = _pf(V[i, j - 1, l], c, V[i, j + 1, l], ih1)
            hs += _ham(ham, pm, pp)
            pm, pp = _pf(V[i, j, l - 1], c, V[i, j, l + 1], ih2)
            hs += _ham(ham, pm, pp)
            r = -hs
            if nu != 0.0:
                r += nu * (_l2(V[i - 1, j, l], c, V[i + 1, j, l], q0) + _l2(V[i, j - 1, l], c, V[i, j + 1, l], q1) + _l2(V[i, j, l - 1], c, V[i, j, l + 1], q2))
            val = c + dt * r
            if a != 0.0:
                O[i, j, l] = a * W[i, j, l] + b * val
            else:
                O[i, j, l] = b * val


@njit
def stage_3d_first(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 2
    for blk in range(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)


@pnjit
def stage_3d_first_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 2
    for blk in prange(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    for j in range(2, V.shape[1] - 2):
        for l in range(2, V.shape[2] - 2):
            c = V[i, j, l]
            _updb(cb, blk, 0, l - 2, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
            _updb(cb, blk, 1, l - 2, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
            _updb(cb, blk, 2, l - 2, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
        for l in range(2, V.shape[2] - 2):
            c = V[i, j, l]
            pm, pp = _pe(V[i - 2, j, l], V[i - 1, j, l], c, V[i + 1, j, l], V[i + 2, j, l], ih0)
            hs = _ham(ham, pm, pp)
            pm, pp = _pe(V[i, j - 2, l], V[i, j - 1, l], c, V[i, j + 1, l], V[i, j + 2, l], ih1)
            hs += _ham(ham, pm, pp)
            pm, pp = _pe(V[i, j, l - 2], V[i, j, l - 1], c, V[i, j, l + 1], V[i, j, l + 2], ih2)
            hs += _ham(ham, pm, pp)
            r = -hs
            if nu != 0.0:
                r += nu * (_l2(V[i - 1, j, l], c, V[i + 1, j, l], q0) + _l2(V[i, j - 1, l], c, V[i, j + 1, l], q1) + _l2(V[i, j, l - 1], c, V[i, j, l + 1], q2))
            val = c + dt * r
            if a != 0.0:
                O[i, j, l] = a * W[i, j, l] + b * val
            else:
                O[i, j, l] = b * val


@njit
def stage_3d_eno2(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 4
    for blk in range(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)


@pnjit
def stage_3d_eno2_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 4
    for blk in prange(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)


@njit(inline="always")
def _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    for j in range(3, V.shape[1] - 3):
        for l in range(3, V.shape[2] - 3):
            c = V[i, j, l]
            _updb(cb, blk, 0, l - 3, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
            _updb(cb, blk, 1, l - 3, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
            _updb(cb, blk, 2, l - 3, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
        for l in range(3, V.shape[2] - 3):
            c = V[i, j, l]
            pm, pp = _pw(V[i - 3, j, l], V[i - 2, j, l], V[i - 1, j, l], c, V[i + 1, j, l], V[i + 2, j, l], V[i + 3, j, l], ih0)
            hs = _ham(ham, pm, pp)
            pm, pp = _pw(V[i, j - 3, l], V[i, j - 2, l], V[i, j - 1, l], c, V[i, j + 1, l], V[i, j + 2, l], V[i, j + 3, l], ih1)
            hs += _ham(ham, pm, pp)
            pm, pp = _pw(V[i, j, l - 3], V[i, j, l - 2], V[i, j, l - 1], c, V[i, j, l + 1], V[i, j, l + 2], V[i, j, l + 3], ih2)
            hs += _ham(ham, pm, pp)
            r = -hs
            if nu != 0.0:
                r += nu * (_l4(V[i - 2, j, l], V[i - 1, j, l], c, V[i + 1, j, l], V[i + 2, j, l], q0) + _l4(V[i, j - 2, l], V[i, j - 1, l], c, V[i, j + 1, l], V[i, j + 2, l], q1) + _l4(V[i, j, l - 2], V[i, j, l - 1], c, V[i, j, l + 1], V[i, j, l + 2], q2))
            val = c + dt * r
            if a != 0.0:
                O[i, j, l] = a * W[i, j, l] + b * val
            else:
                O[i, j, l] = b * val


@njit
def stage_3d_weno5(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 6
    for blk in range(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)


@pnjit
def stage_3d_weno5_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
    n0 = V.shape[0] - 6
    for blk in prange(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)



# ----------------------------------------------------------------------------- slope reduction
# The CFL step needs max |D^+- u| per axis.  A scalar running max is a loop-carried chain that does not
# vectorise without fast-math, so each block of rows keeps a running max *per column* of the innermost
# axis (element-wise, vectorisable); NumPy reduces the small buffer afterwards.  The update is NaN-sticky,
# so a non-finite value anywhere ends up in the buffer (a NaN value c gives NaN one-sided differences).
@njit(inline="always")
def _upd(buf, k, j, um1, c, up1, ih):
    dm = abs(c - um1) * ih
    dp = abs(up1 - c) * ih
    d = dm if dm > dp else dp
    if dm != dm or dp != dp:
        d = dm + dp
    cur = buf[k, j]
    buf[k, j] = d if (d > cur or d != d) else cur


@njit
def slopes_1d_g1(V, ih0):
    """Per-axis max |D^+- u| buffer for a 1-D padded line (reduce with ``.max(axis=-1)``)."""
    buf = np.zeros((1, 1, V.shape[0] - 2))
    for i in range(1, V.shape[0] - 1):
        _upd(buf[0], 0, i - 1, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@pnjit
def slopes_1d_g1_par(V, ih0):
    n0 = V.shape[0] - 2
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        for i in range(1 + ch * _CHUNK, min(1 + (ch + 1) * _CHUNK, 1 + n0)):
            _upd(buf[0], 0, i - 1, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@njit
def slopes_2d_g1(V, ih0, ih1):
    n0 = V.shape[0] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 2))
    for blk in range(nb):
        b = buf[blk]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                c = V[i, j]
                _upd(b, 0, j - 1, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 1, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@pnjit
def slopes_2d_g1_par(V, ih0, ih1):
    n0 = V.shape[0] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 2))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                c = V[i, j]
                _upd(b, 0, j - 1, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 1, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@njit
def slopes_3d_g1(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 2))
    for blk in range(nb):
        b = buf[blk]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                for l in range(1, V.shape[2] - 1):
                    c = V[i, j, l]
                    _upd(b, 0, l - 1, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 1, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 1, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf


@pnjit
def slopes_3d_g1_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 2))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                for l in range(1, V.shape[2] - 1):
                    c = V[i, j, l]
                    _upd(b, 0, l - 1, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 1, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 1, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf


@njit
def slopes_1d_g2(V, ih0):
    """Per-axis max |D^+- u| buffer for a 1-D padded line (reduce with ``.max(axis=-1)``)."""
    buf = np.zeros((1, 1, V.shape[0] - 4))
    for i in range(2, V.shape[0] - 2):
        _upd(buf[0], 0, i - 2, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@pnjit
def slopes_1d_g2_par(V, ih0):
    n0 = V.shape[0] - 4
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        for i in range(2 + ch * _CHUNK, min(2 + (ch + 1) * _CHUNK, 2 + n0)):
            _upd(buf[0], 0, i - 2, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@njit
def slopes_2d_g2(V, ih0, ih1):
    n0 = V.shape[0] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 4))
    for blk in range(nb):
        b = buf[blk]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                c = V[i, j]
                _upd(b, 0, j - 2, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 2, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@pnjit
def slopes_2d_g2_par(V, ih0, ih1):
    n0 = V.shape[0] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 4))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                c = V[i, j]
                _upd(b, 0, j - 2, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 2, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@njit
def slopes_3d_g2(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 4))
    for blk in range(nb):
        b = buf[blk]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                for l in range(2, V.shape[2] - 2):
                    c = V[i, j, l]
                    _upd(b, 0, l - 2, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 2, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 2, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf


@pnjit
def slopes_3d_g2_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 4))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                for l in range(2, V.shape[2] - 2):
                    c = V[i, j, l]
                    _upd(b, 0, l - 2, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 2, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 2, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf


@njit
def slopes_1d_g3(V, ih0):
    """Per-axis max |D^+- u| buffer for a 1-D padded line (reduce with ``.max(axis=-1)``)."""
    buf = np.zeros((1, 1, V.shape[0] - 6))
    for i in range(3, V.shape[0] - 3):
        _upd(buf[0], 0, i - 3, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@pnjit
def slopes_1d_g3_par(V, ih0):
    n0 = V.shape[0] - 6
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        for i in range(3 + ch * _CHUNK, min(3 + (ch + 1) * _CHUNK, 3 + n0)):
            _upd(buf[0], 0, i - 3, V[i - 1], V[i], V[i + 1], ih0)
    return buf


@njit
def slopes_2d_g3(V, ih0, ih1):
    n0 = V.shape[0] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 6))
    for blk in range(nb):
        b = buf[blk]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                c = V[i, j]
                _upd(b, 0, j - 3, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 3, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@pnjit
def slopes_2d_g3_par(V, ih0, ih1):
    n0 = V.shape[0] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, V.shape[1] - 6))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                c = V[i, j]
                _upd(b, 0, j - 3, V[i - 1, j], c, V[i + 1, j], ih0)
                _upd(b, 1, j - 3, V[i, j - 1], c, V[i, j + 1], ih1)
    return buf


@njit
def slopes_3d_g3(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 6))
    for blk in range(nb):
        b = buf[blk]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                for l in range(3, V.shape[2] - 3):
                    c = V[i, j, l]
                    _upd(b, 0, l - 3, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 3, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 3, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf


@pnjit
def slopes_3d_g3_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, V.shape[2] - 6))
    for blk in prange(nb):
        b = buf[blk]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                for l in range(3, V.shape[2] - 3):
                    c = V[i, j, l]
                    _upd(b, 0, l - 3, V[i - 1, j, l], c, V[i + 1, j, l], ih0)
                    _upd(b, 1, l - 3, V[i, j - 1, l], c, V[i, j + 1, l], ih1)
                    _upd(b, 2, l - 3, V[i, j, l - 1], c, V[i, j, l + 1], ih2)
    return buf



# ----------------------------------------------------------------------------- dispatch
_DERIV_NAMES = ("first", "eno2", "weno5")
_GHOST = {0: 1, 1: 2, 2: 3}
_STAGES = {(d, dc, par): globals()[f"stage_{d}d_{_DERIV_NAMES[dc]}{'_par' if par else ''}"]
           for d in (1, 2, 3) for dc in range(3) for par in (False, True)}
_SLOPES = {(d, g, par): globals()[f"slopes_{d}d_g{g}{'_par' if par else ''}"]
           for d in (1, 2, 3) for g in (1, 2, 3) for par in (False, True)}


def _interior_shape(V, g):
    return tuple(n - 2 * g for n in V.shape)


def slope_buffer(V, g):
    """Zeroed per-block, per-column slope buffer for a stage on padded ``V`` (shape ``(nb, d, n_last)``)."""
    d = V.ndim
    n = _interior_shape(V, g)
    nb = 1 if d == 1 else (n[0] + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    return np.zeros((nb, d, n[-1]))


def stage(V, W, O, g, spacing, nu, deriv, ham, lap, a, b, dt, parallel=None, cbuf=None):
    """Fill the interior of ``O`` with ``a W + b (V + dt L(V))``; return the CFL slopes of ``V``.

    Parameters
    ----------
    V, W, O : ndarray, same padded shape ``interior + 2 g`` per axis, float64, 1 to 3 axes
    g : int, ghost width (1 for deriv 0, 2 for ENO2, 3 for WENO5)
    spacing : tuple of d floats
    nu : float, viscosity of the explicit Laplacian term (0 skips it)
    deriv, ham : int codes (see module doc)
    lap : int, Laplacian order; it is tied to ``deriv`` (2 for first/ENO2, 4 for WENO5)
    a, b, dt : float
    parallel : bool or None (None: :func:`use_parallel` on the interior size)
    cbuf : ndarray from :func:`slope_buffer`, optional (reused; zeroed here)

    Returns
    -------
    alpha : ndarray, shape (d,), per-axis ``max |D^+- V|`` (first-order differences)
    finite : bool, whether every value of ``V`` read was finite
    """
    d = V.ndim
    if parallel is None:
        parallel = use_parallel(int(np.prod(_interior_shape(V, g))))
    if lap != (4 if deriv == 2 else 2):
        raise ValueError(f"`lap` must be {4 if deriv == 2 else 2} for deriv code {deriv}; got {lap}.")
    if g != _GHOST[deriv]:
        raise ValueError(f"ghost width `g` must be {_GHOST[deriv]} for deriv code {deriv}; got {g}.")
    if cbuf is None:
        cbuf = slope_buffer(V, g)
    else:
        cbuf[...] = 0.0
    ih = tuple(1.0 / h for h in spacing)
    q = tuple(1.0 / (h * h) for h in spacing)
    _STAGES[(d, deriv, bool(parallel))](V, W, O, cbuf, *ih, *q, nu, ham, a, b, dt)
    alpha = cbuf.max(axis=(0, 2))  # NaN propagates
    return alpha, bool(np.isfinite(alpha).all())


def max_slopes(V, g, spacing, parallel=None):
    """Per-axis ``max |D^+- u|`` on the interior of padded ``V`` and whether all values are finite.

    Returns
    -------
    alpha : ndarray, shape (d,)
    finite : bool
    """
    d = V.ndim
    if parallel is None:
        parallel = use_parallel(int(np.prod(_interior_shape(V, g))))
    ih = tuple(1.0 / h for h in spacing)
    if g not in (1, 2, 3):
        raise ValueError(f"ghost width `g` must be 1, 2 or 3; got {g}.")
    buf = _SLOPES[(d, g, bool(parallel))](V, *ih)
    alpha = buf.max(axis=(0, 2))  # NaN propagates
    finite = bool(np.isfinite(alpha).all())
    return alpha, finite
