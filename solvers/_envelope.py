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

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# 5-point Gauss-Legendre rule on [-1/2, 1/2]
_GL_S = np.array([-0.4530899229693320, -0.2692346550528416, 0.0, 0.2692346550528416, 0.4530899229693320])
_GL_W = np.array([0.1184634425280945, 0.2393143352496832, 0.2844444444444444, 0.2393143352496832,
                  0.1184634425280945])


# ----------------------------------------------------------------------------- 1-D lower envelope
@njit
def fh_build(g, m, a, v, z):
    """Lower envelope of the parabolas ``g[q] + a (x - q)^2``, q = 0..m-1 (Felzenszwalb-Huttenlocher).

    Fills ``v[0..K-1]`` (indices of the parabolas on the envelope, left to right) and
    ``z[0..K]`` (their boundaries, ``z[0] = -inf``, ``z[K] = +inf``); returns K.
    """
    # scaled form: with G_q = g_q / (2a) + q^2 / 2 the intersection of parabolas p < q is
    # s = (G_q - G_p) / (q - p); the pop test s <= z[k] is done without the division.  The top of
    # the stack (p, G_p, z[k]) stays in registers (2x faster on smooth data than reloading it).
    ia2 = 1.0 / (2.0 * a)
    k = 0
    v[0] = 0
    z[0] = -np.inf
    z[1] = np.inf
    p = 0
    gp = g[p] * ia2 + 0.5 * p * p
    zk = -np.inf
    for q in range(1, m):
        gq = g[q] * ia2 + 0.5 * q * q
        while True:
            num = gq - gp
            den = q - p
            if num <= zk * den:
                k -= 1
                p = v[k]
                gp = g[p] * ia2 + 0.5 * p * p
                zk = z[k]
            else:
                break
        k += 1
        v[k] = q
        zk = num / den
        z[k] = zk
        p = q
        gp = gq
    z[k + 1] = np.inf
    return k + 1


@njit
def fh_line(g, m, e, n, a, v, z, outv, outj):
    """Felzenszwalb-Huttenlocher lower envelope of ``g[q] + a (x - q)^2``, queried at ``x = i + e``.

    ``g`` has ``m`` source values (source ``q`` sits at position ``q``), targets are
    ``x = e, ..., e + n - 1``.  Writes ``outv[i] = min_q g[q] + a (i + e - q)^2`` and
    the argmin ``outj[i]`` (source index).  ``v`` (int, m) and ``z`` (float, m + 1)
    are scratch.  O(m + n).
    """
    fh_build(g, m, a, v, z)
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


@njit
def eno_second_differences(g, m, d2c):
    """:func:`eno_d2` of every cell ``c < m - 1`` into ``d2c``."""
    for c in range(m - 1):
        d2c[c] = eno_d2(g, m, c)


@njit(inline='always')
def cell_consts(g, c, d2, a):
    """Constants of the refinement on cell ``[c, c+1]`` with ENO second difference ``d2``:
    ``(lin, d2 / 2, inv)`` with ``lin = g[c+1] - g[c] - d2/2`` and ``inv = 1 / (2 (d2/2 + a))``,
    NaN when ``d2/2 + a <= 0`` (not strictly convex, or d2 NaN) so that the cell never counts."""
    qa = 0.5 * d2 + a
    inv = 1.0 / (2.0 * qa) if qa > 0.0 else np.nan
    return (g[c + 1] - g[c]) - 0.5 * d2, 0.5 * d2, inv


@njit(error_model="numpy")
def cell_tables(g, m, a, lin, hd2, inv):
    """:func:`cell_consts` of every cell ``c < m - 1`` (ENO second differences of ``g``).

    The interior cells ``1 <= c <= m - 3`` (both stencils fit) are done by a branch-free copy of the
    same arithmetic, which vectorises: ``error_model="numpy"`` drops the per-division zero test of
    Python's error model (the division ``1 / (2 qa)`` is then also done where ``qa <= 0`` and its
    result discarded by the select, so nothing can raise).  Same values bit for bit (tested); at
    m = 4096 1.1 us instead of 7.
    """
    if m < 4:
        for c in range(m - 1):
            lin[c], hd2[c], inv[c] = cell_consts(g, c, eno_d2(g, m, c), a)
        return
    for c0 in range(m - 3):                       # cell c = c0 + 1
        gl = g[c0]
        gc = g[c0 + 1]
        gr = g[c0 + 2]
        gr2 = g[c0 + 3]
        d2l = gl - 2.0 * gc + gr
        d2r = gc - 2.0 * gr + gr2
        d2 = d2r if abs(d2r) < abs(d2l) else d2l
        qa = 0.5 * d2 + a
        iv = 1.0 / (2.0 * qa)
        lin[c0 + 1] = (gr - gc) - 0.5 * d2
        hd2[c0 + 1] = 0.5 * d2
        inv[c0 + 1] = iv if qa > 0.0 else np.nan
    lin[0], hd2[0], inv[0] = cell_consts(g, 0, eno_d2(g, m, 0), a)
    lin[m - 2], hd2[m - 2], inv[m - 2] = cell_consts(g, m - 2, eno_d2(g, m, m - 2), a)


@njit(inline='always')
def refine_quadratic(g, d2c, m, j, xq, a):
    """Sub-cell refinement of ``min_y g(y) + a (xq - y)^2`` around the discrete argmin ``j``.

    On each of the two cells next to ``j`` the data are replaced by the ENO quadratic
    (``d2c`` from :func:`eno_second_differences`: of the stencils ``{c-1, c, c+1}`` and
    ``{c, c+1, c+2}`` the one with the smaller second difference; at a kink lying on
    a node this picks the straight side, so kinks on nodes stay exact) and the model
    plus the kernel is minimised on the cell.  A cell counts only when that function
    is strictly convex and its vertex lies inside the open cell; the smallest value
    wins, so the result is never above the discrete value.  Returns ``(value, position)``.
    (The passes use the same arithmetic through :func:`cell_tables` and :func:`refine_two_cells`.)
    """
    cl = j - 1 if j >= 1 else 0
    cr = j if j <= m - 2 else m - 2
    ll, hl, il = cell_consts(g, cl, d2c[cl], a)
    lr, hr, ir = cell_consts(g, cr, d2c[cr], a)
    return refine_two_cells(g, j, xq, a, cl, ll, hl, il, cr, lr, hr, ir)


@njit(inline='always')
def _cell_min(gc, lin, hd2, inv, r, a):
    # vertex offset s in (0, 1) and value of q_c(y) + a (xq - y)^2 on the cell (r = xq - c);
    # value +inf when unusable (inv NaN: not convex; vertex outside the open cell).  With
    # Q(s) = (d2/2 + a) s^2 - (2 a r - lin) s + g_c + a r^2, the vertex value is
    # Q(s*) = g_c + a r^2 - (2 a r - lin) s* / 2 (fewer operations than evaluating Q at s*)
    t1 = 2.0 * a * r - lin
    sv = t1 * inv
    val = gc + a * r * r - 0.5 * t1 * sv
    ok = (sv > 0.0) & (sv < 1.0)
    return (val if ok else np.inf), sv


@njit(inline='always')
def refine_two_cells(g, j, xq, a, cl, linl, hd2l, invl, cr, linr, hd2r, invr):
    """Best of the discrete value at ``j`` and the cell minima on cells ``cl`` and ``cr``
    (constants from :func:`cell_consts`; written with selects: the winning side is data
    dependent and unpredictable)."""
    dx = xq - j
    best = g[j] + a * dx * dx
    pos = float(j)
    vl, sl = _cell_min(g[cl], linl, hd2l, invl, xq - cl, a)
    vr, sr = _cell_min(g[cr], linr, hd2r, invr, xq - cr, a)
    take_l = vl < best
    best = vl if take_l else best
    pos = cl + sl if take_l else pos
    take_r = vr < best
    best = vr if take_r else best
    pos = cr + sr if take_r else pos
    return best, pos


@njit(inline='always')
def interp_position(p, m, pos):
    """Value at fractional source index ``pos`` of the position line ``p`` (length m).

    Linear interpolation between the bracketing nodes, unless they differ by more
    than two cells (a jump of the prox across a kink of u); then the nearest node.
    """
    jj = int(math.floor(pos))
    w = pos - jj
    if jj >= m - 1:
        return p[m - 1]
    if jj < 0:
        return p[0]
    if w == 0.0:
        return p[jj]
    p0 = p[jj]
    p1 = p[jj + 1]
    if abs(p1 - p0) <= 2.0:
        return p0 + w * (p1 - p0)
    return p0 if w < 0.5 else p1


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
