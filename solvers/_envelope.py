"""Numba kernels of the exact Hopf-Lax and Cole-Hopf solvers: the 1-D lower envelope and its
sub-cell refinement (used by the Hopf-Lax passes of :mod:`solvers._hl_kernels`), and the
log-domain Cole-Hopf passes.

All kernels work in *index units*: along the axis being processed a node has
position ``j`` (an integer), the quadratic kernel ``|x - y|^2 / (2 t)`` becomes
``a (i - j)^2`` with ``a = h^2 / (2 t)`` and the Gibbs exponent
``beta |x - y|^2 / (2 t)`` becomes ``c (i - j)^2`` with ``c = beta h^2 / (2 t)``.
A d-dimensional array is viewed, for the pass along axis ``k``, as a 3-D array
``(A, n, C)`` with ``A = prod(shape[:k])``, ``n = shape[k]``,
``C = prod(shape[k+1:])``; one "line" is ``arr[ia, :, ic]``.  Positions (prox or
mean) are kept in a companion array of shape ``(A, n, C, d)`` (index units of
each axis, unwrapped on periodic axes) and are updated in place, pass by pass.

Periodic axes are handled by extending each line with ``e`` periodic images of
its nodes on both sides (source index ``q`` holds node ``(q - e) mod n`` at
position ``q - e``), so any reach, also one longer than the period, is exact.

Every kernel has a numpy twin in ``tests/`` that the tests compare against.
"""
from __future__ import annotations

import math
import types

import numpy as np

from .jit import njit, pnjit, prange

#: Width (columns) of the blocks of lines that a strided Cole-Hopf pass gathers at once.
BLOCK = 16

#: Cast of an index known to be >= 0: Numba skips the wraparound test of negative indices for unsigned ones.
_U = np.uint64

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# 5-point Gauss-Legendre rule on [-1/2, 1/2]
_GL_S = np.array([-0.4530899229693320, -0.2692346550528416, 0.0, 0.2692346550528416, 0.4530899229693320])
_GL_W = np.array([0.1184634425280945, 0.2393143352496832, 0.2844444444444444, 0.2393143352496832,
                  0.1184634425280945])


# ----------------------------------------------------------------------------- 1-D lower envelope
@njit
def fh_build(g, m, a, v, z, G):
    """Lower envelope of the parabolas ``g[q] + a (x - q)^2``, q = 0..m-1 (Felzenszwalb-Huttenlocher).

    Fills ``v[0..K-1]`` (indices of the parabolas on the envelope, left to right) and
    ``z[0..K]`` (their boundaries, ``z[0] = -inf``, ``z[K] = +inf``); returns K.  ``G``: float64
    scratch of length >= m (receives the scaled values ``G_q`` below).
    """
    # scaled form: with G_q = g_q / (2a) + q^2 / 2 the intersection of parabolas p < q is
    # s = (G_q - G_p) / (q - p); the pop test s <= z[k] is done without the division.  The top of
    # the stack (p, G_p, z[k]) stays in registers (2x faster on smooth data than reloading it).
    # The G_q are computed first, in a loop that vectorises: a pop then reloads G_p with one read
    # instead of recomputing it from g[v[k]] (a chain of two dependent reads and three operations),
    # 6.0 -> 4.4 us per 4096 nodes of rough data (noise, random walk), 4.45 -> 4.36 on smooth data;
    # the same values.  Indices are cast to unsigned (_U) where they index: Numba then drops its
    # negative-index wraparound test (all are >= 0 here), ~15% of the scan.
    ia2 = 1.0 / (2.0 * a)
    for q in range(m):
        G[q] = g[q] * ia2 + 0.5 * q * q
    k = 0
    v[0] = 0
    z[0] = -np.inf
    z[1] = np.inf
    p = 0
    gp = G[0]
    zk = -np.inf
    for q in range(1, m):
        gq = G[_U(q)]
        while True:
            num = gq - gp
            den = q - p
            if num <= zk * den:
                k -= 1
                p = v[_U(k)]
                gp = G[_U(p)]
                zk = z[_U(k)]
            else:
                break
        k += 1
        v[_U(k)] = q
        zk = num / den
        z[_U(k)] = zk
        p = q
        gp = gq
    z[_U(k + 1)] = np.inf
    return k + 1


@njit
def fh_line(g, m, e, n, a, v, z, outv, outj):
    """Felzenszwalb-Huttenlocher lower envelope of ``g[q] + a (x - q)^2``, queried at ``x = i + e``.

    ``g`` has ``m`` source values (source ``q`` sits at position ``q``), targets are
    ``x = e, ..., e + n - 1``.  Writes ``outv[i] = min_q g[q] + a (i + e - q)^2`` and
    the argmin ``outj[i]`` (source index).  ``v`` (int, m) and ``z`` (float, m + 1)
    are scratch.  O(m + n).
    """
    fh_build(g, m, a, v, z, np.empty(m))
    k = 0
    for i in range(n):
        xq = i + e
        while z[k + 1] < xq:
            k += 1
        j = v[k]
        dx = xq - j
        outv[i] = g[j] + a * dx * dx
        outj[i] = j


@njit(inline='always')
def eno_d2(g, m, c):
    """ENO second difference of cell ``[c, c+1]``: of the stencils ``{c-1, c, c+1}`` and
    ``{c, c+1, c+2}`` the one with the smaller magnitude (NaN when neither fits, m < 3)."""
    if m < 3:
        return np.nan
    # at the ends both candidates are the one stencil that fits
    d2l = g[c - 1] - 2.0 * g[c] + g[c + 1] if c >= 1 else g[c] - 2.0 * g[c + 1] + g[c + 2]
    d2r = g[c] - 2.0 * g[c + 1] + g[c + 2] if c + 2 <= m - 1 else g[c - 1] - 2.0 * g[c] + g[c + 1]
    return d2r if abs(d2r) < abs(d2l) else d2l


@njit(inline='always')
def cell_coeffs(g, c, d2, a):
    """Coefficients of the refinement on cell ``[c, c+1]`` with ENO second difference ``d2``.

    On the cell the data are the quadratic ``q(c + s) = g_c + lin s + (d2/2) s^2`` (``lin = g_{c+1} - g_c - d2/2``,
    so that q takes the data at both nodes), and ``q(y) + a (xq - y)^2`` with ``r = xq - c`` has its vertex at
    ``s* = B0 + B1 r`` with the value ``A0 + (A1 + A2 r) r``, where (``qa = d2/2 + a``, ``iv = 1 / (2 qa)``)::

        A0 = g_c - lin^2 iv / 2,  A1 = 2 a lin iv,  A2 = a (d2/2) / qa,  B0 = -lin iv,  B1 = 2 a iv.

    Returns ``(A0, A1, A2, B0, B1)``, all NaN when ``qa <= 0`` (not strictly convex, or d2 NaN) so that
    the cell never counts.  Per target this is 2 multiply-adds for s* and 2 for the value.
    """
    hd = 0.5 * d2
    qa = hd + a
    i2 = 1.0 / qa if qa > 0.0 else np.nan
    iv = 0.5 * i2
    lin = (g[c + 1] - g[c]) - hd
    return g[c] - 0.5 * lin * lin * iv, 2.0 * a * lin * iv, a * hd * i2, -lin * iv, 2.0 * a * iv


@njit(error_model="numpy")
def cell_tables(g, m, a, T):
    """:func:`cell_coeffs` of every cell ``c < m - 1`` (ENO second differences of ``g``) into
    ``T[0..4, c]`` (``T`` of shape ``(5, >= m - 1)``, rows A0, A1, A2, B0, B1).

    The interior cells ``1 <= c <= m - 3`` (both stencils fit) are done by a branch-free copy of the
    same arithmetic, which vectorises: ``error_model="numpy"`` drops the per-division zero test of
    Python's error model (the division ``1 / qa`` is then also done where ``qa <= 0`` and its
    result discarded by the select, so nothing can raise).  Same values bit for bit (tested).
    """
    if m < 4:
        for c in range(m - 1):
            T[0, c], T[1, c], T[2, c], T[3, c], T[4, c] = cell_coeffs(g, c, eno_d2(g, m, c), a)
        return
    for c0 in range(m - 3):                       # cell c = c0 + 1
        gl = g[c0]
        gc = g[c0 + 1]
        gr = g[c0 + 2]
        gr2 = g[c0 + 3]
        d2l = gl - 2.0 * gc + gr
        d2r = gc - 2.0 * gr + gr2
        d2 = d2r if abs(d2r) < abs(d2l) else d2l
        hd = 0.5 * d2
        qa = hd + a
        i2 = 1.0 / qa
        i2 = i2 if qa > 0.0 else np.nan
        iv = 0.5 * i2
        lin = (gr - gc) - hd
        T[0, c0 + 1] = gc - 0.5 * lin * lin * iv
        T[1, c0 + 1] = 2.0 * a * lin * iv
        T[2, c0 + 1] = a * hd * i2
        T[3, c0 + 1] = -lin * iv
        T[4, c0 + 1] = 2.0 * a * iv
    T[0, 0], T[1, 0], T[2, 0], T[3, 0], T[4, 0] = cell_coeffs(g, 0, eno_d2(g, m, 0), a)
    c = m - 2
    T[0, c], T[1, c], T[2, c], T[3, c], T[4, c] = cell_coeffs(g, c, eno_d2(g, m, c), a)


@njit(inline='always')
def refine_cells(g, m, j, xq, a, T):
    """Sub-cell refinement of ``min_y g(y) + a (xq - y)^2`` around the discrete argmin ``j``.

    On each of the two cells next to ``j`` the data are replaced by the ENO quadratic (of the
    stencils ``{c-1, c, c+1}`` and ``{c, c+1, c+2}`` the one with the smaller second difference; at
    a kink lying on a node this picks the straight side, so kinks on nodes stay exact) and the model
    plus the kernel is minimised on the cell (``T`` from :func:`cell_tables`).  A cell counts only
    when that function is strictly convex and its vertex lies inside the open cell; the smallest
    value wins (the left cell on a tie), so the result is never above the discrete value.  Returns
    ``(value, position)``; ``m >= 2``.

    Cost: the vertex ``s*`` of both cells is computed first (2 table reads and 2 operations each); the
    value ``A0 + (A1 + A2 r) r`` only of the cell whose vertex is inside, picked by a select (which side
    wins is data dependent and unpredictable).  Both vertices inside is rare (2 of 4096 targets on the
    benchmark's ``sin 5x + x^2``; also every refined target next to an end node, where both "cells" are
    the one end cell) and takes a branch that evaluates both.  The same values bit for bit as evaluating
    both cells always (tested against that form), 1.3 us less per 4096 targets.
    """
    fj = float(j)
    dx = xq - fj
    best = g[_U(j)] + a * dx * dx
    # cells j - 1 and j, at r = dx + 1 and dx from the target; an end node's one cell serves both sides
    cl = j - 1
    cr = j
    pl = fj - 1.0
    pr = fj
    if j < 1 or j > m - 2:
        cl = 0 if j < 1 else m - 2
        cr = cl
        pl = float(cl)
        pr = pl
    ul = _U(cl)
    ur = _U(cr)
    rl = xq - pl
    sl = T[3, ul] + T[4, ul] * rl
    rr = xq - pr
    sr = T[3, ur] + T[4, ur] * rr
    okl = (sl > 0.0) & (sl < 1.0)                  # False for NaN (a cell that is not strictly convex)
    okr = (sr > 0.0) & (sr < 1.0)
    if okl & okr:
        vl = T[0, ul] + (T[1, ul] + T[2, ul] * rl) * rl
        vr = T[0, ur] + (T[1, ur] + T[2, ur] * rr) * rr
        take_l = vl < best
        best = vl if take_l else best
        pos = pl + sl if take_l else fj
        take_r = vr < best
        best = vr if take_r else best
        pos = pr + sr if take_r else pos
        return best, pos
    uc = ul if okl else ur
    r = rl if okl else rr
    s = sl if okl else sr
    p = pl if okl else pr
    val = T[0, uc] + (T[1, uc] + T[2, uc] * r) * r
    take = (okl | okr) & (val < best)
    return (val if take else best), (p + s if take else fj)


@njit
def refine_quadratic(g, m, j, xq, a):
    """:func:`refine_cells` with its own tables (one target; the tests' entry to the arithmetic)."""
    T = np.empty((5, max(m - 1, 1)))
    cell_tables(g, m, a, T)
    return refine_cells(g, m, j, xq, a, T)


@njit(inline='always')
def interp_position(p, m, pos):
    """Value at fractional source index ``pos`` of the position line ``p`` (length m).

    Linear interpolation between the bracketing nodes, unless they differ by more
    than two cells (a jump of the prox across a kink of u); then the nearest node.
    """
    # with selects, not branches (whether the refinement moved the argmin, w > 0, is data dependent):
    # the same values as ``p[m-1] if jj >= m-1 else p[0] if jj < 0 else p[jj] if w == 0 else ...``;
    # m >= 2
    jj = min(max(int(math.floor(pos)), 0), m - 2)
    w = pos - jj
    p0 = p[_U(jj)]
    p1 = p[_U(jj + 1)]
    dp = p1 - p0
    r = p0 + w * dp if abs(dp) <= 2.0 else (p0 if w < 0.5 else p1)
    r = p0 if w <= 0.0 else r
    return p1 if w >= 1.0 else r


def serial_and_threaded(f):
    """``(serial, threaded)`` compilations of one kernel body ``f``: ``prange`` runs as ``range`` where
    ``parallel`` is off.  The threaded one compiles a copy of ``f`` with a qualified name of its own:
    Numba names the on-disk cache files of a function after its qualified name, so two compilations of
    one function with other options would share (and overwrite) one cache entry."""
    twin = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    twin.__qualname__ = f.__qualname__ + "_threaded"
    twin.__doc__ = f.__doc__
    return njit(f), pnjit(twin)


def _finalize(P, lo, h, t, grad):
    """In place ``P -> lo + h P`` (index units to coordinates) and ``grad = (x - P) / t``.

    ``P`` and ``grad`` have shape ``(n0, n1, n2, d)`` (trailing unit axes for d < 3).  Compiled as
    :func:`finalize_serial` and :func:`finalize_parallel` (:func:`serial_and_threaded`).
    """
    n0, n1, n2, d = P.shape
    it = 1.0 / t
    for i0 in prange(n0):
        x0 = lo[0] + h[0] * i0
        for i1 in range(n1):
            x1 = lo[1] + h[1] * i1 if d > 1 else 0.0
            for i2 in range(n2):
                x2 = lo[2] + h[2] * i2 if d > 2 else 0.0
                for mm in range(d):
                    y = lo[mm] + h[mm] * P[i0, i1, i2, mm]
                    P[i0, i1, i2, mm] = y
                    xm = x0 if mm == 0 else (x1 if mm == 1 else x2)
                    grad[i0, i1, i2, mm] = (xm - y) * it


finalize_serial, finalize_parallel = serial_and_threaded(_finalize)


# ----------------------------------------------------------------------------- normal CDF helpers
@njit
def erfcx_large(x):
    """``exp(x^2) erfc(x)`` for ``x >= 20`` by its asymptotic series (relative error < 1e-15)."""
    x2 = 2.0 * x * x
    term = 1.0
    s = 1.0
    for kk in range(1, 9):
        term *= -(2.0 * kk - 1.0) / x2
        s += term
    return s / (x * math.sqrt(math.pi))


@njit
def log_upper_tail(zv):
    """``log Q(z) = log P(Z > z)`` for ``z >= 0`` (``math.erfc``; erfcx series beyond z = 20 sqrt 2)."""
    x = zv / _SQRT2
    if x < 20.0:
        return math.log(0.5 * math.erfc(x))
    return math.log(0.5 * erfcx_large(x)) - x * x


@njit
def log_diff_ndtr(lo, hi):
    """``log(Phi(hi) - Phi(lo))`` for ``lo < hi``, stable for all arguments.

    Narrow intervals (``(hi - lo) (|mid| + 1) < 0.2``) use 5-point Gauss-Legendre on
    ``phi``; intervals inside one tail use ``log Q(a) + log1p(-Q(b)/Q(a))`` with the
    erfcx asymptotics; intervals straddling 0 use ``erf(hi) + erf(-lo)``.
    """
    w = hi - lo
    mid = 0.5 * (lo + hi)
    if w * (abs(mid) + 1.0) < 0.2:
        s = 0.0
        for q in range(5):
            u = _GL_S[q] * w
            s += _GL_W[q] * math.exp(-mid * u - 0.5 * u * u)
        return math.log(w) - 0.5 * mid * mid - _LOG_SQRT_2PI + math.log(s)
    if lo >= 0.0:
        la = log_upper_tail(lo)
        lb = log_upper_tail(hi)
        return la + math.log1p(-math.exp(lb - la))
    if hi <= 0.0:
        la = log_upper_tail(-hi)
        lb = log_upper_tail(-lo)
        return la + math.log1p(-math.exp(lb - la))
    return math.log(0.5 * (math.erf(hi / _SQRT2) + math.erf(-lo / _SQRT2)))


@njit
def mills_ratio(x):
    """``Q(x) / phi(x)`` for ``x >= 0`` (``math.erfc``; erfcx series beyond x = 20 sqrt 2)."""
    y = x / _SQRT2
    if y < 20.0:
        return 0.5 * math.erfc(y) * math.exp(0.5 * x * x + _LOG_SQRT_2PI)
    return erfcx_large(y) * math.sqrt(0.5 * math.pi)


@njit
def _upper_tail_mean(lo, hi):
    # E[Z | lo < Z < hi] for 0 <= lo < hi:  (1 - rho) / (R(lo) - rho R(hi)),
    # rho = phi(hi)/phi(lo) = exp(-(hi - lo)(hi + lo)/2), R the Mills ratio (no cancellation
    # of huge exponents, unlike phi(lo)/Z computed with exp/log)
    rho = math.exp(-0.5 * (hi - lo) * (hi + lo))
    rb = mills_ratio(hi) if rho > 0.0 else 0.0
    return (1.0 - rho) / (mills_ratio(lo) - rho * rb)


@njit
def truncnorm_mean(lo, hi, logz):
    """``E[Z | lo < Z < hi]`` for standard normal Z; ``logz = log(Phi(hi) - Phi(lo))``.

    Narrow intervals: Gauss-Legendre (as in :func:`log_diff_ndtr`); intervals inside
    one tail: Mills-ratio form (accurate to ~1e-13 absolute even at |lo| ~ 1e4, where
    ``exp(-lo^2/2 - logz)`` would lose 1e-5); intervals straddling 0: ``(phi(lo) -
    phi(hi)) / Z`` directly.  The result is clipped to [lo, hi].
    """
    w = hi - lo
    mid = 0.5 * (lo + hi)
    if w * (abs(mid) + 1.0) < 0.2:
        s0 = 0.0
        s1 = 0.0
        for q in range(5):
            u = _GL_S[q] * w
            wt = _GL_W[q] * math.exp(-mid * u - 0.5 * u * u)
            s0 += wt
            s1 += wt * u
        zm = mid + s1 / s0
    elif lo >= 0.0:
        zm = _upper_tail_mean(lo, hi)
    elif hi <= 0.0:
        zm = -_upper_tail_mean(-hi, -lo)
    else:
        zm = math.exp(-0.5 * lo * lo - _LOG_SQRT_2PI - logz) - math.exp(-0.5 * hi * hi - _LOG_SQRT_2PI - logz)
    if zm < lo:
        zm = lo
    if zm > hi:
        zm = hi
    return zm


# ----------------------------------------------------------------------------- Cole-Hopf pass
@njit
def _ch_line(L, pl, m, e, n, k, c, theta, linear, v, z, negg, M, ystar, jst,
             wsum, ysum, msum, outL, outP):
    """Log-domain Gaussian convolution of one extended line ``L`` (length m).

    quadrature: ``outL[i] = 0.5 log(c/pi) + LSE_j [L_j - c (x - j)^2]``;
    linear:     ``outL[i] = log sum_cells sqrt(c/pi) int_cell exp(L_lin(y) - c (x - y)^2) dy``,
    with ``x = i + e``.  Sources with log-weight below ``max - theta`` are skipped
    using the unimodality of ``max - term`` in x (see module notes in cole_hopf.py).
    ``outP[mm, i]``: weighted mean of the positions ``pl[mm]`` (mm < k, earlier axes)
    and, in ``outP[k, i]``, of this axis' own position (target index units).
    """
    # reference maximum M(x) = max_j [L_j - c (x - j)^2] and its argmax (discrete)
    for q in range(m):
        negg[q] = -L[q]
    fh_line(negg, m, e, n, c, v, z, M, jst)
    for i in range(n):
        M[i] = -M[i]
        ystar[i] = float(jst[i])
    if linear:
        # maxima inside cells: L_j + s (x - j) + s^2/(4c) on x in [j - s/2c, j + 1 - s/2c]
        lim = float(m + n + 4)
        for j in range(m - 1):
            sl = L[j + 1] - L[j]
            dl = sl / (2.0 * c)
            xa = j - dl - e
            xb = j + 1.0 - dl - e
            if xb < 0.0 or xa > n - 1.0 or abs(dl) > lim:
                continue
            ia = int(math.ceil(max(xa, 0.0)))
            ib = int(math.floor(min(xb, n - 1.0)))
            for i in range(ia, ib + 1):
                xq = float(i + e)
                val = L[j] + sl * (xq - j) + sl * dl * 0.5
                if val > M[i]:
                    M[i] = val
                    ystar[i] = xq + dl
    for i in range(n):
        wsum[i] = 0.0
        ysum[i] = 0.0
        for mm in range(k):
            msum[mm, i] = 0.0
    nsrc = m - 1 if linear else m
    sq2c = math.sqrt(2.0 * c)
    x0 = 0
    for j in range(nsrc):
        while x0 < n and ystar[x0] < j:
            x0 += 1
        sl = 0.0
        dl = 0.0
        if linear:
            sl = L[j + 1] - L[j]
            dl = sl / (2.0 * c)
        for direction in range(2):
            if direction == 0:
                i = x0
                step = 1
            else:
                i = x0 - 1
                step = -1
            while 0 <= i < n:
                xq = float(i + e)
                if linear:
                    yv = xq + dl
                    if yv < j:
                        yv = float(j)
                    elif yv > j + 1.0:
                        yv = j + 1.0
                    cm = L[j] + sl * (yv - j) - c * (xq - yv) * (xq - yv)
                    if M[i] - cm > theta:
                        break
                    mu = xq + dl
                    alo = sq2c * (j - mu)
                    ahi = sq2c * (j + 1.0 - mu)
                    lz = log_diff_ndtr(alo, ahi)
                    term = L[j] + sl * (xq - j) + sl * dl * 0.5 + lz
                    zm = truncnorm_mean(alo, ahi, lz)
                    fr = (zm - alo) / sq2c
                    if fr < 0.0:
                        fr = 0.0
                    elif fr > 1.0:
                        fr = 1.0
                    wgt = math.exp(term - M[i])
                    wsum[i] += wgt
                    ysum[i] += wgt * (j + fr - e)
                    for mm in range(k):
                        msum[mm, i] += wgt * (pl[mm, j] + fr * (pl[mm, j + 1] - pl[mm, j]))
                else:
                    dxq = xq - j
                    term = L[j] - c * dxq * dxq
                    if M[i] - term > theta:
                        break
                    wgt = math.exp(term - M[i])
                    wsum[i] += wgt
                    ysum[i] += wgt * (j - e)
                    for mm in range(k):
                        msum[mm, i] += wgt * pl[mm, j]
                i += step
    norm = 0.0 if linear else 0.5 * math.log(c / math.pi)
    for i in range(n):
        outL[i] = M[i] + math.log(wsum[i]) + norm
        outP[k, i] = ysum[i] / wsum[i]
        for mm in range(k):
            outP[mm, i] = msum[mm, i] / wsum[i]


@njit
def _ch_block(src, dst, P, ia, c0, nb, k, e, periodic, c, theta, linear):
    A, n, C = src.shape
    m = n + 2 * e
    buf = np.empty((nb, m))
    pbuf = np.empty((nb, k, m))
    v = np.empty(m, np.int64)
    z = np.empty(m + 1)
    negg = np.empty(m)
    M = np.empty(n)
    ystar = np.empty(n)
    jst = np.empty(n, np.int64)
    wsum = np.empty(n)
    ysum = np.empty(n)
    msum = np.empty((k, n))
    outL = np.empty(n)
    outP = np.empty((k + 1, n))
    for q in range(m):
        jj = q - e
        if periodic:
            jj = jj % n
        for b in range(nb):
            buf[b, q] = src[ia, jj, c0 + b]
            for mm in range(k):
                pbuf[b, mm, q] = P[ia, jj, c0 + b, mm]
    for b in range(nb):
        _ch_line(buf[b], pbuf[b], m, e, n, k, c, theta, linear, v, z, negg, M, ystar, jst,
                 wsum, ysum, msum, outL, outP)
        for i in range(n):
            dst[ia, i, c0 + b] = outL[i]
            for mm in range(k + 1):
                P[ia, i, c0 + b, mm] = outP[mm, i]


def _ch_pass(src, dst, P, k, e, periodic, c, theta, linear):
    """One log-domain Cole-Hopf pass along the middle axis of ``src`` (A, n, C), blocks of lines in
    parallel in :func:`ch_pass_parallel`, serial in :func:`ch_pass_serial`."""
    A, n, C = src.shape
    bw = 1 if C == 1 else BLOCK
    nblk = (C + bw - 1) // bw
    for t in prange(A * nblk):
        ia = t // nblk
        c0 = (t % nblk) * bw
        _ch_block(src, dst, P, ia, c0, min(bw, C - c0), k, e, periodic, c, theta, linear)


ch_pass_serial, ch_pass_parallel = serial_and_threaded(_ch_pass)


# ----------------------------------------------------------------------------- compile management
_WARM = set()


def warm_up(which: str, parallel: bool) -> float:
    """Compile (or load from the on-disk cache) the Cole-Hopf kernels (``which = "ch"``; the Hopf-Lax
    passes live in :mod:`solvers._hl_kernels`).

    Returns the seconds spent if anything had to be compiled/loaded in this call, else 0.0.
    """
    import time

    key = (which, parallel)
    if key in _WARM:
        return 0.0
    pas = ch_pass_parallel if parallel else ch_pass_serial
    fin = finalize_parallel if parallel else finalize_serial
    if pas.signatures and fin.signatures:
        _WARM.add(key)
        return 0.0
    t0 = time.perf_counter()
    src = np.zeros((1, 3, 1))
    dst = np.zeros((1, 3, 1))
    P = np.zeros((1, 3, 1, 1))
    pas(src, dst, P, 0, 0, False, 1.0, 40.0, True)
    fin(P.reshape(1, 3, 1, 1), np.zeros(1), np.ones(1), 1.0, np.zeros((1, 3, 1, 1)))
    _WARM.add(key)
    return time.perf_counter() - t0
