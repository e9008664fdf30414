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
_C1_12 = 1.0 / 12.0


@njit(inline="always")
def _minabs(a, b):
    return a if abs(a) <= abs(b) else b


@njit(inline="always")
def _ham2(ham, pm, pp):
    """Twice the per-axis numerical Hamiltonian; all candidates are computed and one is selected.

    The factor 1/2 is applied once per cell to the sum over axes (a power of 2: the
    result is bit for bit that of halving each term).

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
    god = max(a2, b2)
    eo = a2 + b2
    alpha = max(abs(pm), abs(pp))
    s = 0.5 * (pm + pp)
    lf = s * s - alpha * (pp - pm)
    return god if ham <= 1 else (lf if ham == 2 else eo)


@njit(inline="always")
def _god2(pm, pp):
    """Twice the Godunov flux alone (the ``ham <= 1`` branch of :func:`_ham2`, bit for bit)."""
    a = max(pm, 0.0)
    b = min(pp, 0.0)
    return max(a * a, b * b)


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


_C3_13 = 3.0 / 13.0
_EPS_A = 1e-6 * (12.0 / 13.0)
_EPS_B = 1e-99 * (12.0 / 13.0)


@njit(inline="always")
def _weno_pair(d0, d1, d2, d3, d4, d5, ih):
    """Both WENO5 derivatives ``(p^-, p^+)`` from the six undivided differences ``u_{k} - u_{k-1}``,
    ``k = i-2..i+3``, and ``ih = 1/h``.

    The same Jiang-Peng formulas as the NumPy twin :func:`solvers.schemes._weno` (``p^-``
    from ``d0..d4``, ``p^+`` from ``d5..d1``), rearranged for fewer multiplications and 2
    divisions instead of 8 (the loop is bound by the multiply pipes; constant divisions are
    written as products, since LLVM keeps ``x / 3.0`` a division without fast-math):

    * smoothness indicators from the second differences ``a_k = d_{k+1} - d_k``
      (Jiang-Peng's form): ``S_1 = 13/12 (a_0 - a_1)^2 + 1/4 (a_0 - 3 a_1)^2`` etc., all
      scaled by ``12/13`` together with ``eps`` (the weights depend on ``S_k + eps`` only
      through ratios); ``(a_1 - a_2)^2`` and ``(a_2 - a_3)^2`` serve both sides;
    * ``max v^2 = (max |v|)^2`` (exact: rounding is monotone);
    * ``alpha_k = gamma_k / e_k^2`` (``e_k = S_k + eps``) is replaced by the proportional
      ``gamma'_k prod_{l != k} f_l^2`` with ``f_l = e_l / eps`` and ``gamma' = (1, 6, 3)``;
      since ``S_l <= 33.4 max v^2`` and ``eps >= 1e-6 max v^2 + 1e-99``,
      ``1 <= f_l <= 3.4e7``, so nothing under- or overflows (flat data included).
      ``1/eps^-`` and ``1/eps^+`` come from one division ``1 / (eps^- eps^+)``;
    * the two weight sums share one division ``1 / (D^- D^+)`` in the same way;
    * two of the three candidate stencils of ``p^+`` are those of ``p^-``;
    * undivided differences: the reconstruction is homogeneous of degree 1 in ``v`` once
      ``eps`` is scaled with it (``1e-6 max D^2 + 1e-99 h^2`` for ``D = h v``), so ``1/h``
      is applied once, in the last division (``1e-99 h^2`` is floored at ``1e-150``, which
      matters only for ``h < 1e-25``).

    Results equal the twin's up to a few ulps (not bit for bit).
    """
    vm = max(max(abs(d1), abs(d2)), max(abs(d3), abs(d4)))
    vl = max(vm, abs(d0))
    vr = max(vm, abs(d5))
    # loop-invariant (hoisted).  The floor keeps (eps^- eps^+) above the normal range for flat data
    # on grids with h < 1e-25 (the eps floor is then 1e-150 / h^2 instead of 1e-99: negligible)
    tiny = max(_EPS_B / (ih * ih), 1e-150)
    em = _EPS_A * (vl * vl) + tiny
    ep = _EPS_A * (vr * vr) + tiny
    # smoothness indicators (times 12/13)
    a0 = d1 - d0
    a1 = d2 - d1
    a2 = d3 - d2
    a3 = d4 - d3
    a4 = d5 - d4
    t = a0 - a1
    u = a0 - 3.0 * a1
    sm1 = t * t + _C3_13 * (u * u)
    t = a1 - a2
    t12 = t * t
    u = a1 + a2
    sm2 = t12 + _C3_13 * (u * u)
    t = a2 - a3
    t23 = t * t
    a2x3 = 3.0 * a2
    u = a2x3 - a3
    sm3 = t23 + _C3_13 * (u * u)
    t = a3 - a4
    u = 3.0 * a3 - a4
    sp1 = t * t + _C3_13 * (u * u)
    u = a2 + a3
    sp2 = t23 + _C3_13 * (u * u)
    u = a2x3 - a1
    sp3 = t12 + _C3_13 * (u * u)
    # candidate stencils; php2 = -d4/6 + 5 d3/6 + d2/3 = phm3 and php3 = d3/3 + 5 d2/6 - d1/6 = phm2
    phm1 = _C1_3 * d0 - _C7_6 * d1 + _C11_6 * d2
    phm2 = -_C1_6 * d1 + _C5_6 * d2 + _C1_3 * d3
    phm3 = _C1_3 * d2 + _C5_6 * d3 - _C1_6 * d4
    php1 = _C1_3 * d5 - _C7_6 * d4 + _C11_6 * d3
    # weights, scaled by eps
    r = 1.0 / (em * ep)
    iem = ep * r
    iep = em * r
    f1 = (sm1 + em) * iem
    f2 = (sm2 + em) * iem
    f3 = (sm3 + em) * iem
    f1 = f1 * f1
    f2 = f2 * f2
    f3 = f3 * f3
    w1 = f2 * f3
    w2 = 6.0 * (f1 * f3)
    w3 = 3.0 * (f1 * f2)
    nm = w1 * phm1 + w2 * phm2 + w3 * phm3
    dm = w1 + w2 + w3
    f1 = (sp1 + ep) * iep
    f2 = (sp2 + ep) * iep
    f3 = (sp3 + ep) * iep
    f1 = f1 * f1
    f2 = f2 * f2
    f3 = f3 * f3
    w1 = f2 * f3
    w2 = 6.0 * (f1 * f3)
    w3 = 3.0 * (f1 * f2)
    np_ = w1 * php1 + w2 * phm3 + w3 * phm2
    dp = w1 + w2 + w3
    r = ih / (dm * dp)
    return nm * (dp * r), np_ * (dm * r)


@njit(inline="always")
def _pw(um3, um2, um1, c, up1, up2, up3, ih):
    """WENO5 one-sided derivatives (p^-, p^+) from the differences u_k - u_{k-1}, k = i-2..i+3."""
    return _weno_pair(um2 - um3, um1 - um2, c - um1, up1 - c, up2 - up1, up3 - up2, ih)


@njit(inline="always")
def _l2(um1, c, up1, q):
    return (um1 - 2.0 * c + up1) * q


@njit(inline="always")
def _l4(um2, um1, c, up1, up2, q):
    return (-um2 + 16.0 * um1 - 30.0 * c + 16.0 * up1 - up2) * (q * _C1_12)


# ----------------------------------------------------------------------------- stage kernels
# One kernel per (dimension, derivative family), serial and threaded, written out from one template.
# Memory access: before the innermost loop every line the stencil touches is taken as a 1-D row view
# (``V[i - 3]`` .. ``V[i + 3]`` in 2-D; ``V[i +- k, j]`` and ``V[i, j +- k]`` in 3-D; a slice in 1-D),
# and the innermost index runs from 0 with non-negative literal offsets (``r[j + 3]``).  Numba then
# emits no negative-index wrap-around selects and LLVM sees unit-stride loads: the loop vectorises with
# contiguous (AVX-512) loads.  Indexing the N-d array directly (``V[i, j + 3]``) compiled to gathers
# and a scatter per cell and was 1.9x slower for WENO5 (6.5x on a plain 7-point stencil).  Each stage
# also records the CFL slopes max |D^+- V| of its *input* (per block of rows, per column of the
# innermost axis; see the slope-reduction section).  For ENO2/WENO5 the slope update is a separate
# innermost loop over the same (cached) line: fused into the stencil loop it stopped the ENO2 loop
# from vectorising (1.5x slower).
_ROWS_PER_BLOCK = 32


@njit(inline="always")
def _updr(c0, j, um1, c, up1, ih):
    """NaN-sticky running max of the first-order slopes at entry ``j`` of the slope row ``c0``.

    ``max(|c - um1|, |up1 - c|) / h`` (scaling after the max: the same value).  The max drops a
    NaN in one of the two differences, but a non-finite value ``c`` makes both non-finite at its
    own cell, and ghost values only copy or extrapolate interior ones, so a non-finite state
    always leaves a NaN or inf in the buffer; the running max itself keeps NaN.
    """
    dm = abs(c - um1)
    dp = abs(up1 - c)
    d = (dm if dm > dp else dp) * ih
    cur = c0[j]
    c0[j] = d if (d > cur or d != d) else cur


@njit(inline="always")
def _rows_1d_first(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt, want):
    n = hi - lo
    v = V[lo - 1:hi + 1]
    w = W[lo:hi]
    o = O[lo:hi]
    c0 = cb[0, 0, lo - 1:hi - 1]
    if ham <= 1:
        for j in range(n):
            c = v[j + 1]
            _updr(c0, j, v[j + 0], c, v[j + 2], ih0)
            pm, pp = _pf(v[j + 0], c, v[j + 2], ih0)
            hs = _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(v[j + 0], c, v[j + 2], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val
    else:
        for j in range(n):
            c = v[j + 1]
            _updr(c0, j, v[j + 0], c, v[j + 2], ih0)
            pm, pp = _pf(v[j + 0], c, v[j + 2], ih0)
            hs = _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(v[j + 0], c, v[j + 2], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val


@njit
def stage_1d_first(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    _rows_1d_first(V, W, O, cb, 1, V.shape[0] - 1, ih0, q0, nu, ham, a, b, dt, want)


@pnjit
def stage_1d_first_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 2
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 1 + ch * _CHUNK
        _rows_1d_first(V, W, O, cb, lo, min(lo + _CHUNK, 1 + n0), ih0, q0, nu, ham, a, b, dt, want)


@njit(inline="always")
def _rows_1d_eno2(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt, want):
    n = hi - lo
    v = V[lo - 2:hi + 2]
    w = W[lo:hi]
    o = O[lo:hi]
    c0 = cb[0, 0, lo - 2:hi - 2]
    if want:
        for j in range(n):
            c = v[j + 2]
            _updr(c0, j, v[j + 1], c, v[j + 3], ih0)
    if ham <= 1:
        for j in range(n):
            c = v[j + 2]
            pm, pp = _pe(v[j + 0], v[j + 1], c, v[j + 3], v[j + 4], ih0)
            hs = _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(v[j + 1], c, v[j + 3], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val
    else:
        for j in range(n):
            c = v[j + 2]
            pm, pp = _pe(v[j + 0], v[j + 1], c, v[j + 3], v[j + 4], ih0)
            hs = _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(v[j + 1], c, v[j + 3], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val


@njit
def stage_1d_eno2(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    _rows_1d_eno2(V, W, O, cb, 2, V.shape[0] - 2, ih0, q0, nu, ham, a, b, dt, want)


@pnjit
def stage_1d_eno2_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 4
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 2 + ch * _CHUNK
        _rows_1d_eno2(V, W, O, cb, lo, min(lo + _CHUNK, 2 + n0), ih0, q0, nu, ham, a, b, dt, want)


@njit(inline="always")
def _rows_1d_weno5(V, W, O, cb, lo, hi, ih0, q0, nu, ham, a, b, dt, want):
    n = hi - lo
    v = V[lo - 3:hi + 3]
    w = W[lo:hi]
    o = O[lo:hi]
    c0 = cb[0, 0, lo - 3:hi - 3]
    if want:
        for j in range(n):
            c = v[j + 3]
            _updr(c0, j, v[j + 2], c, v[j + 4], ih0)
    if ham <= 1:
        for j in range(n):
            c = v[j + 3]
            pm, pp = _pw(v[j + 0], v[j + 1], v[j + 2], c, v[j + 4], v[j + 5], v[j + 6], ih0)
            hs = _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l4(v[j + 1], v[j + 2], c, v[j + 4], v[j + 5], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val
    else:
        for j in range(n):
            c = v[j + 3]
            pm, pp = _pw(v[j + 0], v[j + 1], v[j + 2], c, v[j + 4], v[j + 5], v[j + 6], ih0)
            hs = _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l4(v[j + 1], v[j + 2], c, v[j + 4], v[j + 5], q0))
            val = c + dt * r_
            if a != 0.0:
                o[j] = a * w[j] + b * val
            else:
                o[j] = b * val


@njit
def stage_1d_weno5(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    _rows_1d_weno5(V, W, O, cb, 3, V.shape[0] - 3, ih0, q0, nu, ham, a, b, dt, want)


@pnjit
def stage_1d_weno5_par(V, W, O, cb, ih0, q0, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 6
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = 3 + ch * _CHUNK
        _rows_1d_weno5(V, W, O, cb, lo, min(lo + _CHUNK, 3 + n0), ih0, q0, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n = V.shape[1] - 2
    rm1 = V[i - 1]
    r = V[i]
    rp1 = V[i + 1]
    w = W[i]
    o = O[i]
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    if ham <= 1:
        for j in range(n):
            c = r[j + 1]
            _updr(c0, j, rm1[j + 1], c, rp1[j + 1], ih0)
            _updr(c1, j, r[j + 0], c, r[j + 2], ih1)
            pm, pp = _pf(rm1[j + 1], c, rp1[j + 1], ih0)
            hs = _god2(pm, pp)
            pm, pp = _pf(r[j + 0], c, r[j + 2], ih1)
            hs += _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(rm1[j + 1], c, rp1[j + 1], q0) + _l2(r[j + 0], c, r[j + 2], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 1] = a * w[j + 1] + b * val
            else:
                o[j + 1] = b * val
    else:
        for j in range(n):
            c = r[j + 1]
            _updr(c0, j, rm1[j + 1], c, rp1[j + 1], ih0)
            _updr(c1, j, r[j + 0], c, r[j + 2], ih1)
            pm, pp = _pf(rm1[j + 1], c, rp1[j + 1], ih0)
            hs = _ham2(ham, pm, pp)
            pm, pp = _pf(r[j + 0], c, r[j + 2], ih1)
            hs += _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(rm1[j + 1], c, rp1[j + 1], q0) + _l2(r[j + 0], c, r[j + 2], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 1] = a * w[j + 1] + b * val
            else:
                o[j + 1] = b * val


@njit
def stage_2d_first(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 2
    for blk in range(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@pnjit
def stage_2d_first_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 2
    for blk in prange(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_2d_first(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n = V.shape[1] - 4
    rm2 = V[i - 2]
    rm1 = V[i - 1]
    r = V[i]
    rp1 = V[i + 1]
    rp2 = V[i + 2]
    w = W[i]
    o = O[i]
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    if want:
        for j in range(n):
            c = r[j + 2]
            _updr(c0, j, rm1[j + 2], c, rp1[j + 2], ih0)
            _updr(c1, j, r[j + 1], c, r[j + 3], ih1)
    if ham <= 1:
        for j in range(n):
            c = r[j + 2]
            pm, pp = _pe(rm2[j + 2], rm1[j + 2], c, rp1[j + 2], rp2[j + 2], ih0)
            hs = _god2(pm, pp)
            pm, pp = _pe(r[j + 0], r[j + 1], c, r[j + 3], r[j + 4], ih1)
            hs += _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(rm1[j + 2], c, rp1[j + 2], q0) + _l2(r[j + 1], c, r[j + 3], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 2] = a * w[j + 2] + b * val
            else:
                o[j + 2] = b * val
    else:
        for j in range(n):
            c = r[j + 2]
            pm, pp = _pe(rm2[j + 2], rm1[j + 2], c, rp1[j + 2], rp2[j + 2], ih0)
            hs = _ham2(ham, pm, pp)
            pm, pp = _pe(r[j + 0], r[j + 1], c, r[j + 3], r[j + 4], ih1)
            hs += _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l2(rm1[j + 2], c, rp1[j + 2], q0) + _l2(r[j + 1], c, r[j + 3], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 2] = a * w[j + 2] + b * val
            else:
                o[j + 2] = b * val


@njit
def stage_2d_eno2(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 4
    for blk in range(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@pnjit
def stage_2d_eno2_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 4
    for blk in prange(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_2d_eno2(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n = V.shape[1] - 6
    rm3 = V[i - 3]
    rm2 = V[i - 2]
    rm1 = V[i - 1]
    r = V[i]
    rp1 = V[i + 1]
    rp2 = V[i + 2]
    rp3 = V[i + 3]
    w = W[i]
    o = O[i]
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    if want:
        for j in range(n):
            c = r[j + 3]
            _updr(c0, j, rm1[j + 3], c, rp1[j + 3], ih0)
            _updr(c1, j, r[j + 2], c, r[j + 4], ih1)
    if ham <= 1:
        for j in range(n):
            c = r[j + 3]
            pm, pp = _pw(rm3[j + 3], rm2[j + 3], rm1[j + 3], c, rp1[j + 3], rp2[j + 3], rp3[j + 3], ih0)
            hs = _god2(pm, pp)
            pm, pp = _pw(r[j + 0], r[j + 1], r[j + 2], c, r[j + 4], r[j + 5], r[j + 6], ih1)
            hs += _god2(pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l4(rm2[j + 3], rm1[j + 3], c, rp1[j + 3], rp2[j + 3], q0) + _l4(r[j + 1], r[j + 2], c, r[j + 4], r[j + 5], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 3] = a * w[j + 3] + b * val
            else:
                o[j + 3] = b * val
    else:
        for j in range(n):
            c = r[j + 3]
            pm, pp = _pw(rm3[j + 3], rm2[j + 3], rm1[j + 3], c, rp1[j + 3], rp2[j + 3], rp3[j + 3], ih0)
            hs = _ham2(ham, pm, pp)
            pm, pp = _pw(r[j + 0], r[j + 1], r[j + 2], c, r[j + 4], r[j + 5], r[j + 6], ih1)
            hs += _ham2(ham, pm, pp)
            r_ = -0.5 * hs
            if nu != 0.0:
                r_ += nu * (_l4(rm2[j + 3], rm1[j + 3], c, rp1[j + 3], rp2[j + 3], q0) + _l4(r[j + 1], r[j + 2], c, r[j + 4], r[j + 5], q1))
            val = c + dt * r_
            if a != 0.0:
                o[j + 3] = a * w[j + 3] + b * val
            else:
                o[j + 3] = b * val


@njit
def stage_2d_weno5(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 6
    for blk in range(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@pnjit
def stage_2d_weno5_par(V, W, O, cb, ih0, ih1, q0, q1, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 6
    for blk in prange(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_2d_weno5(V, W, O, cb, blk, i, ih0, ih1, q0, q1, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n = V.shape[2] - 2
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    c2 = cb[blk, 2]
    for j in range(1, V.shape[1] - 1):
        rm1 = V[i - 1, j]
        rp1 = V[i + 1, j]
        qm1 = V[i, j - 1]
        qp1 = V[i, j + 1]
        r = V[i, j]
        w = W[i, j]
        o = O[i, j]
        if ham <= 1:
            for l in range(n):
                c = r[l + 1]
                _updr(c0, l, rm1[l + 1], c, rp1[l + 1], ih0)
                _updr(c1, l, qm1[l + 1], c, qp1[l + 1], ih1)
                _updr(c2, l, r[l + 0], c, r[l + 2], ih2)
                pm, pp = _pf(rm1[l + 1], c, rp1[l + 1], ih0)
                hs = _god2(pm, pp)
                pm, pp = _pf(qm1[l + 1], c, qp1[l + 1], ih1)
                hs += _god2(pm, pp)
                pm, pp = _pf(r[l + 0], c, r[l + 2], ih2)
                hs += _god2(pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l2(rm1[l + 1], c, rp1[l + 1], q0) + _l2(qm1[l + 1], c, qp1[l + 1], q1) + _l2(r[l + 0], c, r[l + 2], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 1] = a * w[l + 1] + b * val
                else:
                    o[l + 1] = b * val
        else:
            for l in range(n):
                c = r[l + 1]
                _updr(c0, l, rm1[l + 1], c, rp1[l + 1], ih0)
                _updr(c1, l, qm1[l + 1], c, qp1[l + 1], ih1)
                _updr(c2, l, r[l + 0], c, r[l + 2], ih2)
                pm, pp = _pf(rm1[l + 1], c, rp1[l + 1], ih0)
                hs = _ham2(ham, pm, pp)
                pm, pp = _pf(qm1[l + 1], c, qp1[l + 1], ih1)
                hs += _ham2(ham, pm, pp)
                pm, pp = _pf(r[l + 0], c, r[l + 2], ih2)
                hs += _ham2(ham, pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l2(rm1[l + 1], c, rp1[l + 1], q0) + _l2(qm1[l + 1], c, qp1[l + 1], q1) + _l2(r[l + 0], c, r[l + 2], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 1] = a * w[l + 1] + b * val
                else:
                    o[l + 1] = b * val


@njit
def stage_3d_first(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 2
    for blk in range(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)


@pnjit
def stage_3d_first_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 2
    for blk in prange(cb.shape[0]):
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            _slab_3d_first(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n = V.shape[2] - 4
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    c2 = cb[blk, 2]
    for j in range(2, V.shape[1] - 2):
        rm2 = V[i - 2, j]
        rm1 = V[i - 1, j]
        rp1 = V[i + 1, j]
        rp2 = V[i + 2, j]
        qm2 = V[i, j - 2]
        qm1 = V[i, j - 1]
        qp1 = V[i, j + 1]
        qp2 = V[i, j + 2]
        r = V[i, j]
        w = W[i, j]
        o = O[i, j]
        if want:
            for l in range(n):
                c = r[l + 2]
                _updr(c0, l, rm1[l + 2], c, rp1[l + 2], ih0)
                _updr(c1, l, qm1[l + 2], c, qp1[l + 2], ih1)
                _updr(c2, l, r[l + 1], c, r[l + 3], ih2)
        if ham <= 1:
            for l in range(n):
                c = r[l + 2]
                pm, pp = _pe(rm2[l + 2], rm1[l + 2], c, rp1[l + 2], rp2[l + 2], ih0)
                hs = _god2(pm, pp)
                pm, pp = _pe(qm2[l + 2], qm1[l + 2], c, qp1[l + 2], qp2[l + 2], ih1)
                hs += _god2(pm, pp)
                pm, pp = _pe(r[l + 0], r[l + 1], c, r[l + 3], r[l + 4], ih2)
                hs += _god2(pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l2(rm1[l + 2], c, rp1[l + 2], q0) + _l2(qm1[l + 2], c, qp1[l + 2], q1) + _l2(r[l + 1], c, r[l + 3], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 2] = a * w[l + 2] + b * val
                else:
                    o[l + 2] = b * val
        else:
            for l in range(n):
                c = r[l + 2]
                pm, pp = _pe(rm2[l + 2], rm1[l + 2], c, rp1[l + 2], rp2[l + 2], ih0)
                hs = _ham2(ham, pm, pp)
                pm, pp = _pe(qm2[l + 2], qm1[l + 2], c, qp1[l + 2], qp2[l + 2], ih1)
                hs += _ham2(ham, pm, pp)
                pm, pp = _pe(r[l + 0], r[l + 1], c, r[l + 3], r[l + 4], ih2)
                hs += _ham2(ham, pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l2(rm1[l + 2], c, rp1[l + 2], q0) + _l2(qm1[l + 2], c, qp1[l + 2], q1) + _l2(r[l + 1], c, r[l + 3], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 2] = a * w[l + 2] + b * val
                else:
                    o[l + 2] = b * val


@njit
def stage_3d_eno2(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 4
    for blk in range(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)


@pnjit
def stage_3d_eno2_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 4
    for blk in prange(cb.shape[0]):
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            _slab_3d_eno2(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)


@njit(inline="always")
def _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n = V.shape[2] - 6
    c0 = cb[blk, 0]
    c1 = cb[blk, 1]
    c2 = cb[blk, 2]
    for j in range(3, V.shape[1] - 3):
        rm3 = V[i - 3, j]
        rm2 = V[i - 2, j]
        rm1 = V[i - 1, j]
        rp1 = V[i + 1, j]
        rp2 = V[i + 2, j]
        rp3 = V[i + 3, j]
        qm3 = V[i, j - 3]
        qm2 = V[i, j - 2]
        qm1 = V[i, j - 1]
        qp1 = V[i, j + 1]
        qp2 = V[i, j + 2]
        qp3 = V[i, j + 3]
        r = V[i, j]
        w = W[i, j]
        o = O[i, j]
        if want:
            for l in range(n):
                c = r[l + 3]
                _updr(c0, l, rm1[l + 3], c, rp1[l + 3], ih0)
                _updr(c1, l, qm1[l + 3], c, qp1[l + 3], ih1)
                _updr(c2, l, r[l + 2], c, r[l + 4], ih2)
        if ham <= 1:
            for l in range(n):
                c = r[l + 3]
                pm, pp = _pw(rm3[l + 3], rm2[l + 3], rm1[l + 3], c, rp1[l + 3], rp2[l + 3], rp3[l + 3], ih0)
                hs = _god2(pm, pp)
                pm, pp = _pw(qm3[l + 3], qm2[l + 3], qm1[l + 3], c, qp1[l + 3], qp2[l + 3], qp3[l + 3], ih1)
                hs += _god2(pm, pp)
                pm, pp = _pw(r[l + 0], r[l + 1], r[l + 2], c, r[l + 4], r[l + 5], r[l + 6], ih2)
                hs += _god2(pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l4(rm2[l + 3], rm1[l + 3], c, rp1[l + 3], rp2[l + 3], q0) + _l4(qm2[l + 3], qm1[l + 3], c, qp1[l + 3], qp2[l + 3], q1) + _l4(r[l + 1], r[l + 2], c, r[l + 4], r[l + 5], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 3] = a * w[l + 3] + b * val
                else:
                    o[l + 3] = b * val
        else:
            for l in range(n):
                c = r[l + 3]
                pm, pp = _pw(rm3[l + 3], rm2[l + 3], rm1[l + 3], c, rp1[l + 3], rp2[l + 3], rp3[l + 3], ih0)
                hs = _ham2(ham, pm, pp)
                pm, pp = _pw(qm3[l + 3], qm2[l + 3], qm1[l + 3], c, qp1[l + 3], qp2[l + 3], qp3[l + 3], ih1)
                hs += _ham2(ham, pm, pp)
                pm, pp = _pw(r[l + 0], r[l + 1], r[l + 2], c, r[l + 4], r[l + 5], r[l + 6], ih2)
                hs += _ham2(ham, pm, pp)
                r_ = -0.5 * hs
                if nu != 0.0:
                    r_ += nu * (_l4(rm2[l + 3], rm1[l + 3], c, rp1[l + 3], rp2[l + 3], q0) + _l4(qm2[l + 3], qm1[l + 3], c, qp1[l + 3], qp2[l + 3], q1) + _l4(r[l + 1], r[l + 2], c, r[l + 4], r[l + 5], q2))
                val = c + dt * r_
                if a != 0.0:
                    o[l + 3] = a * w[l + 3] + b * val
                else:
                    o[l + 3] = b * val


@njit
def stage_3d_weno5(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 6
    for blk in range(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)


@pnjit
def stage_3d_weno5_par(V, W, O, cb, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
    n0 = V.shape[0] - 6
    for blk in prange(cb.shape[0]):
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            _slab_3d_weno5(V, W, O, cb, blk, i, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want)




# ----------------------------------------------------------------------------- slope reduction
# The CFL step needs max |D^+- u| per axis.  A scalar running max is a loop-carried chain that does not
# vectorise without fast-math, so each block of rows keeps a running max *per column* of the innermost
# axis (element-wise, vectorisable); NumPy reduces the small buffer afterwards.  The update is NaN-sticky,
# so a non-finite value anywhere ends up in the buffer (a NaN value c gives NaN one-sided differences).
@njit
def slopes_1d_g1(V, ih0):
    """Per-axis max |D^+- u| buffer for a 1-D padded line (reduce with ``.max(axis=-1)``)."""
    n = V.shape[0] - 2
    buf = np.zeros((1, 1, n))
    c0 = buf[0, 0]
    v = V[0:V.shape[0] - 0]
    for j in range(n):
        _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@pnjit
def slopes_1d_g1_par(V, ih0):
    n0 = V.shape[0] - 2
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = ch * _CHUNK
        hi = min(lo + _CHUNK, n0)
        c0 = buf[0, 0, lo:hi]
        v = V[lo + 0:hi + 2]
        for j in range(hi - lo):
            _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@njit
def slopes_2d_g1(V, ih0, ih1):
    n0 = V.shape[0] - 2
    n = V.shape[1] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 1]
                _updr(c0, j, rm1[j + 1], c, rp1[j + 1], ih0)
                _updr(c1, j, r[j + 0], c, r[j + 2], ih1)
    return buf


@pnjit
def slopes_2d_g1_par(V, ih0, ih1):
    n0 = V.shape[0] - 2
    n = V.shape[1] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 1]
                _updr(c0, j, rm1[j + 1], c, rp1[j + 1], ih0)
                _updr(c1, j, r[j + 0], c, r[j + 2], ih1)
    return buf


@njit
def slopes_3d_g1(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 2
    n = V.shape[2] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 1]
                    _updr(c0, l, rm1[l + 1], c, rp1[l + 1], ih0)
                    _updr(c1, l, qm1[l + 1], c, qp1[l + 1], ih1)
                    _updr(c2, l, r[l + 0], c, r[l + 2], ih2)
    return buf


@pnjit
def slopes_3d_g1_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 2
    n = V.shape[2] - 2
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(1 + blk * _ROWS_PER_BLOCK, min(1 + (blk + 1) * _ROWS_PER_BLOCK, 1 + n0)):
            for j in range(1, V.shape[1] - 1):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 1]
                    _updr(c0, l, rm1[l + 1], c, rp1[l + 1], ih0)
                    _updr(c1, l, qm1[l + 1], c, qp1[l + 1], ih1)
                    _updr(c2, l, r[l + 0], c, r[l + 2], ih2)
    return buf


@njit
def slopes_1d_g2(V, ih0):
    n = V.shape[0] - 4
    buf = np.zeros((1, 1, n))
    c0 = buf[0, 0]
    v = V[1:V.shape[0] - 1]
    for j in range(n):
        _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@pnjit
def slopes_1d_g2_par(V, ih0):
    n0 = V.shape[0] - 4
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = ch * _CHUNK
        hi = min(lo + _CHUNK, n0)
        c0 = buf[0, 0, lo:hi]
        v = V[lo + 1:hi + 3]
        for j in range(hi - lo):
            _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@njit
def slopes_2d_g2(V, ih0, ih1):
    n0 = V.shape[0] - 4
    n = V.shape[1] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 2]
                _updr(c0, j, rm1[j + 2], c, rp1[j + 2], ih0)
                _updr(c1, j, r[j + 1], c, r[j + 3], ih1)
    return buf


@pnjit
def slopes_2d_g2_par(V, ih0, ih1):
    n0 = V.shape[0] - 4
    n = V.shape[1] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 2]
                _updr(c0, j, rm1[j + 2], c, rp1[j + 2], ih0)
                _updr(c1, j, r[j + 1], c, r[j + 3], ih1)
    return buf


@njit
def slopes_3d_g2(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 4
    n = V.shape[2] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 2]
                    _updr(c0, l, rm1[l + 2], c, rp1[l + 2], ih0)
                    _updr(c1, l, qm1[l + 2], c, qp1[l + 2], ih1)
                    _updr(c2, l, r[l + 1], c, r[l + 3], ih2)
    return buf


@pnjit
def slopes_3d_g2_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 4
    n = V.shape[2] - 4
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(2 + blk * _ROWS_PER_BLOCK, min(2 + (blk + 1) * _ROWS_PER_BLOCK, 2 + n0)):
            for j in range(2, V.shape[1] - 2):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 2]
                    _updr(c0, l, rm1[l + 2], c, rp1[l + 2], ih0)
                    _updr(c1, l, qm1[l + 2], c, qp1[l + 2], ih1)
                    _updr(c2, l, r[l + 1], c, r[l + 3], ih2)
    return buf


@njit
def slopes_1d_g3(V, ih0):
    n = V.shape[0] - 6
    buf = np.zeros((1, 1, n))
    c0 = buf[0, 0]
    v = V[2:V.shape[0] - 2]
    for j in range(n):
        _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@pnjit
def slopes_1d_g3_par(V, ih0):
    n0 = V.shape[0] - 6
    buf = np.zeros((1, 1, n0))
    nch = (n0 + _CHUNK - 1) // _CHUNK
    for ch in prange(nch):
        lo = ch * _CHUNK
        hi = min(lo + _CHUNK, n0)
        c0 = buf[0, 0, lo:hi]
        v = V[lo + 2:hi + 4]
        for j in range(hi - lo):
            _updr(c0, j, v[j], v[j + 1], v[j + 2], ih0)
    return buf


@njit
def slopes_2d_g3(V, ih0, ih1):
    n0 = V.shape[0] - 6
    n = V.shape[1] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 3]
                _updr(c0, j, rm1[j + 3], c, rp1[j + 3], ih0)
                _updr(c1, j, r[j + 2], c, r[j + 4], ih1)
    return buf


@pnjit
def slopes_2d_g3_par(V, ih0, ih1):
    n0 = V.shape[0] - 6
    n = V.shape[1] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 2, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            rm1 = V[i - 1]
            r = V[i]
            rp1 = V[i + 1]
            for j in range(n):
                c = r[j + 3]
                _updr(c0, j, rm1[j + 3], c, rp1[j + 3], ih0)
                _updr(c1, j, r[j + 2], c, r[j + 4], ih1)
    return buf


@njit
def slopes_3d_g3(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 6
    n = V.shape[2] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in range(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 3]
                    _updr(c0, l, rm1[l + 3], c, rp1[l + 3], ih0)
                    _updr(c1, l, qm1[l + 3], c, qp1[l + 3], ih1)
                    _updr(c2, l, r[l + 2], c, r[l + 4], ih2)
    return buf


@pnjit
def slopes_3d_g3_par(V, ih0, ih1, ih2):
    n0 = V.shape[0] - 6
    n = V.shape[2] - 6
    nb = (n0 + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    buf = np.zeros((nb, 3, n))
    for blk in prange(nb):
        c0 = buf[blk, 0]
        c1 = buf[blk, 1]
        c2 = buf[blk, 2]
        for i in range(3 + blk * _ROWS_PER_BLOCK, min(3 + (blk + 1) * _ROWS_PER_BLOCK, 3 + n0)):
            for j in range(3, V.shape[1] - 3):
                rm1 = V[i - 1, j]
                rp1 = V[i + 1, j]
                qm1 = V[i, j - 1]
                qp1 = V[i, j + 1]
                r = V[i, j]
                for l in range(n):
                    c = r[l + 3]
                    _updr(c0, l, rm1[l + 3], c, rp1[l + 3], ih0)
                    _updr(c1, l, qm1[l + 3], c, qp1[l + 3], ih1)
                    _updr(c2, l, r[l + 2], c, r[l + 4], ih2)
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


def stage(V, W, O, g, spacing, nu, deriv, ham, lap, a, b, dt, parallel=None, cbuf=None, slopes=True):
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
    slopes : bool, default True
        Record the CFL slopes of ``V``.  ``False`` skips that loop in the ENO2/WENO5
        kernels (first-order kernels fuse it into the stencil loop and always run it)
        and returns ``(None, True)``: for callers that take the slopes elsewhere.

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
    _STAGES[(d, deriv, bool(parallel))](V, W, O, cbuf, *ih, *q, nu, ham, a, b, dt, bool(slopes))
    if not slopes:
        return None, True
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
