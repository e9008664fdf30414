"""Numba passes of the d-dimensional Hopf-Lax solver (:func:`solvers.hopf_lax.hopf_lax`).

Pass ``k`` computes ``min_j g_j + a (i - j)^2`` along axis ``k`` of the current array (index
units, ``a = h_k^2 / (2 t)``), one Felzenszwalb-Huttenlocher envelope per line
(:func:`solvers._envelope.fh_build`).  Every envelope runs on a contiguous work line:

* the last axis (``C = 1``): lines are rows of the array viewed as ``(A, n)``; a row is copied
  into the work line (with its ``e`` periodic images per side on periodic axes) and the results
  are written straight back;
* any other axis (array viewed as ``(A, n, C)``): a *tile* of ``tile`` neighbouring lines is
  gathered at once, each source row ``src[ia, j, c0:c0 + tile]`` being one contiguous read, into
  ``tile`` contiguous work lines (the transpose of the tile); the results go to a ``(n, tile)``
  tile and are scattered back the same way, so no pass reads or writes a strided column.

The passes work in place (``src`` may be ``dst``: a line or a tile is copied into the work lines
before any of its results is written), so the solver needs no array besides its outputs; the
temporaries are one tile of work lines per thread (``tile * (n + 2 e)`` values plus the
envelope's scratch), allocated once per chunk of lines.  Tiles, chunks and threads change only
the order in which lines are done, never the arithmetic of a line: results are the same bit
for bit for any ``tile`` and any thread count (tested).

Outputs.  With ``track = False`` the passes compute the values only (``outputs=("u",)``).  With
``track`` they also carry the prox (the composed argmin, see :mod:`solvers.hopf_lax`) in ``P``
(``(..., d)``, index units of each axis, updated in place: axis ``k`` written, the earlier axes
interpolated at the argmin); the last pass (always a contiguous one) writes ``P`` as coordinates
``lo + h * index`` and, with ``want_grad``, ``grad = (x - P) / t``.  In 2-D the first pass keeps the
axis-0 positions of row ``i0`` as one contiguous plane in the first half of that row's ``P`` footprint
(``P.reshape(n0, 2 n1)[i0, :n1]``) instead of every other value of it: half the bytes written and read
back between the passes (the last pass copies a row's plane into its work line before writing the row).

These kernels inline functions of :mod:`solvers._envelope`; an edit of that file alone still
recompiles them, because the on-disk cache of every package kernel is stamped with a hash of the
package's sources (:mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

import numpy as np

from ._envelope import cell_tables, fh_build, interp_position, refine_cells, serial_and_threaded
from .jit import njit, prange

_U = np.uint64                 # an index known to be >= 0 (Numba then skips its negative-index wraparound)

#: Stand-in for an output a kernel is told not to write (2-D, like the outputs of :func:`hl_line_direct`).
DUMMY2 = np.empty((1, 1))

#: Lines per tile of a pass along a non-last axis (16 doubles = two cache lines per source row).
TILE = 16


# ----------------------------------------------------------------------------- one line
@njit
def _line_u(g, m, e, n, a, refine, v, z, G, T, out, o0, os):
    """Values ``out[o0 + i os] = min_q g[q] + a (i + e - q)^2`` (refined when asked), i < n.
    ``v``, ``z``, ``G``: the envelope's scratch (:func:`solvers._envelope.fh_build`); ``T`` (5, m - 1) is scratch
    for the refinement's cell tables (:func:`solvers._envelope.cell_tables`)."""
    fh_build(g, m, a, v, z, G)
    if refine:
        cell_tables(g, m, a, T)
        kk = 0
        for i in range(n):
            xq = i + e
            while z[_U(kk + 1)] < xq:
                kk += 1
            val, pos = refine_cells(g, m, v[_U(kk)], float(xq), a, T)
            out[o0 + i * os] = val
        return
    # piece by piece: the targets x = i + e <= z[kk + 1] take parabola v[kk]
    kk = 0
    i = 0
    while i < n:
        zr = z[_U(kk + 1)]
        j = v[_U(kk)]
        gj = g[_U(j)]
        while i < n and i + e <= zr:
            dxq = i + e - j
            out[o0 + i * os] = gj + a * dxq * dxq
            i += 1
        kk += 1


@njit
def _line_pos(g, pl, k, m, e, n, a, refine, v, z, G, T, outv, outp, o0, os):
    """:func:`_line_u` plus positions (passes before the last one, so ``k <= 1``):
    ``outp[2 (o0 + i os) + mm]`` = the axis-0 position ``pl[0]`` at the argmin (mm = 0 < k) and this
    axis' argmin (mm = k), index units."""
    fh_build(g, m, a, v, z, G)
    if refine:
        cell_tables(g, m, a, T)
        kk = 0
        for i in range(n):
            xq = i + e
            while z[_U(kk + 1)] < xq:
                kk += 1
            val, pos = refine_cells(g, m, v[_U(kk)], float(xq), a, T)
            o = o0 + i * os
            outv[o] = val
            if k == 1:
                outp[2 * o] = interp_position(pl[0], m, pos)
            outp[2 * o + k] = pos - e
        return
    kk = 0
    i = 0
    while i < n:
        zr = z[_U(kk + 1)]
        j = v[_U(kk)]
        gj = g[_U(j)]
        pk = float(j) - e
        p0 = pl[0, j] if k == 1 else 0.0
        while i < n and i + e <= zr:
            dxq = i + e - j
            o = o0 + i * os
            outv[o] = gj + a * dxq * dxq
            if k == 1:
                outp[2 * o] = p0
            outp[2 * o + k] = pk
            i += 1
        kk += 1


@njit
def _line_final(g, pl, k, m, e, n, a, refine, v, z, G, T, urow, Prow, grow, want_grad, lo, hh, it, xo):
    """Last pass of one row: ``urow[i]`` values, ``Prow[i, :]`` prox coordinates (earlier axes from the
    positions ``pl`` at the argmin, index units, interpolated when refined) and ``grow[i, :] = (x - P) * it``
    (``want_grad``); ``xo[:k]`` are the row's coordinates on the earlier axes.  (The small loops over the
    axes are written out for k <= 2: Numba does not unroll loops of run-time length.)"""
    fh_build(g, m, a, v, z, G)
    if refine:
        cell_tables(g, m, a, T)
        kk = 0
        for i in range(n):
            xq = i + e
            while z[_U(kk + 1)] < xq:
                kk += 1
            val, pos = refine_cells(g, m, v[_U(kk)], float(xq), a, T)
            urow[i] = val
            if k >= 1:
                y0 = lo[0] + hh[0] * interp_position(pl[0], m, pos)
                Prow[i, 0] = y0
                if want_grad:
                    grow[i, 0] = (xo[0] - y0) * it
            if k >= 2:
                y1 = lo[1] + hh[1] * interp_position(pl[1], m, pos)
                Prow[i, 1] = y1
                if want_grad:
                    grow[i, 1] = (xo[1] - y1) * it
            yk = lo[k] + hh[k] * (pos - e)
            Prow[i, k] = yk
            if want_grad:
                grow[i, k] = (lo[k] + hh[k] * i - yk) * it
        return
    # piece by piece: the prox (and the gradient on the earlier axes) is constant on a piece
    lok = lo[k]
    hk = hh[k]
    y0 = g0 = y1 = g1 = 0.0
    kk = 0
    i = 0
    while i < n:
        zr = z[_U(kk + 1)]
        j = v[_U(kk)]
        gj = g[_U(j)]
        if k >= 1:
            y0 = lo[0] + hh[0] * pl[0, j]
            g0 = (xo[0] - y0) * it
        if k >= 2:
            y1 = lo[1] + hh[1] * pl[1, j]
            g1 = (xo[1] - y1) * it
        yk = lok + hk * (float(j) - e)
        while i < n and i + e <= zr:
            dxq = i + e - j
            urow[i] = gj + a * dxq * dxq
            if k >= 1:
                Prow[i, 0] = y0
            if k >= 2:
                Prow[i, 1] = y1
            Prow[i, k] = yk
            if want_grad:
                if k >= 1:
                    grow[i, 0] = g0
                if k >= 2:
                    grow[i, 1] = g1
                grow[i, k] = (lok + hk * i - yk) * it
            i += 1
        kk += 1


@njit(inline='always')
def _copy_wrapped(row, n, q0, m, g):
    """``g[q] = row[(q0 + q) mod n]``, q < m, as contiguous copies."""
    q = 0
    jj = q0
    while q < m:
        L = min(n - jj, m - q)
        for r in range(L):
            g[q + r] = row[jj + r]
        q += L
        jj = 0


# ----------------------------------------------------------------------------- non-last axes (tiles)
@njit
def _strided_chunk(src, dst, P, k, e, periodic, a, refine, track, tile, t0, t1):
    """Tiles ``t0 .. t1 - 1`` of a pass along the middle axis of ``src`` (A, n, C) into ``dst``
    (never the last pass, so ``k <= 1``)."""
    A, n, C = src.shape
    m = n + 2 * e
    nblk = (C + tile - 1) // tile
    buf = np.empty((tile, m))
    pbuf = np.empty((tile, 1, m)) if track and k == 1 else np.empty((tile, 1, 1))
    v = np.empty(m, np.int32)                     # m < 2^31; halves the scratch traffic of long lines
    z = np.empty(m + 1)
    G = np.empty(m)
    T = np.empty((5, max(m - 1, 1) if refine else 1))
    oval = np.empty(n * tile)
    opos = np.empty(2 * n * tile) if track else np.empty(1)
    q0 = (-e) % n if periodic else 0              # source node of work index 0
    planes = track and P.shape[3] == 2            # d = 2 (then k = 0): see the module docstring
    Pf = P.reshape(P.size)
    for t in range(t0, t1):
        ia = t // nblk
        c0 = (t % nblk) * tile
        nb = min(tile, C - c0)
        # gather: one contiguous read of nb values per source row, transposed into the work lines
        jj = q0
        for q in range(m):
            for b in range(nb):
                buf[b, q] = src[ia, jj, c0 + b]
            if track and k == 1:
                for b in range(nb):
                    pbuf[b, 0, q] = P[ia, jj, c0 + b, 0]
            jj += 1
            if jj == n:
                jj = 0
        for b in range(nb):
            if track:
                _line_pos(buf[b], pbuf[b], k, m, e, n, a, refine, v, z, G, T, oval, opos, b, tile)
            else:
                _line_u(buf[b], m, e, n, a, refine, v, z, G, T, oval, b, tile)
        # scatter: one contiguous write of nb values per destination row
        for i in range(n):
            for b in range(nb):
                dst[ia, i, c0 + b] = oval[i * tile + b]
            if planes:
                base = (ia * n + i) * C * 2 + c0
                for b in range(nb):
                    Pf[base + b] = opos[2 * (i * tile + b)]
            elif track:
                for b in range(nb):
                    o = 2 * (i * tile + b)
                    if k == 1:
                        P[ia, i, c0 + b, 0] = opos[o]
                    P[ia, i, c0 + b, k] = opos[o + k]


def _strided_pass(src, dst, P, k, e, periodic, a, refine, track, tile, nchunk):
    """Pass along the middle axis of ``src`` (A, n, C), C > 1, in ``nchunk`` chunks of tiles (threaded in
    :func:`hl_strided_parallel`, serial in :func:`hl_strided_serial`).

    ``P`` (A, n, C, d): positions in index units, read for axes < k and written for axes <= k
    (``track``; else unused).  ``e``: periodic images per side (0 on non-periodic axes)."""
    A, n, C = src.shape
    ntiles = A * ((C + tile - 1) // tile)
    for c in prange(nchunk):
        _strided_chunk(src, dst, P, k, e, periodic, a, refine, track, tile,
                       c * ntiles // nchunk, (c + 1) * ntiles // nchunk)


hl_strided_serial, hl_strided_parallel = serial_and_threaded(_strided_pass)


# ----------------------------------------------------------------------------- last axis (rows)
@njit
def _contig_chunk(src, dst, P, grad, k, e, periodic, a, refine, track, want_grad, lo, hh, it, n_mid, l0, l1):
    """Rows ``l0 .. l1 - 1`` of the last pass (along the last axis of ``src`` (A, n)) into ``dst``.

    With ``track``: ``P`` (A, n, d) holds the earlier axes' positions (index units) on entry and the
    prox coordinates on exit; ``grad`` (A, n, d) gets ``(x - P) * it`` when ``want_grad``.  Row ``ia``
    is the grid line ``(i0, i1)`` with ``ia = i0 n_mid + i1`` (d = 3) or ``ia = i0`` (d = 2)."""
    A, n = src.shape
    m = n + 2 * e
    g = np.empty(m)
    pl = np.empty((max(k, 1), m)) if track else np.empty((1, 1))
    v = np.empty(m, np.int32)
    z = np.empty(m + 1)
    G = np.empty(m)
    T = np.empty((5, max(m - 1, 1) if refine else 1))
    xo = np.empty(k + 1)
    q0 = (-e) % n if periodic else 0
    planes = track and P.shape[2] == 2            # d = 2 (then k = 1): see the module docstring
    Pf = P.reshape(P.size)
    for ia in range(l0, l1):
        _copy_wrapped(src[ia], n, q0, m, g)
        if not track:
            _line_u(g, m, e, n, a, refine, v, z, G, T, dst[ia], 0, 1)
            continue
        if planes:
            _copy_wrapped(Pf[ia * n * 2:ia * n * 2 + n], n, q0, m, pl[0])
        elif k >= 1:
            jj = q0
            for q in range(m):
                pl[0, q] = P[ia, jj, 0]
                if k >= 2:
                    pl[1, q] = P[ia, jj, 1]
                jj += 1
                if jj == n:
                    jj = 0
        # coordinates of the earlier axes of this row (x_mm, mm < k)
        if k == 1:
            xo[0] = lo[0] + hh[0] * ia
        elif k == 2:
            xo[0] = lo[0] + hh[0] * (ia // n_mid)
            xo[1] = lo[1] + hh[1] * (ia % n_mid)
        _line_final(g, pl, k, m, e, n, a, refine, v, z, G, T, dst[ia], P[ia],
                    grad[ia] if want_grad else grad[0], want_grad, lo, hh, it, xo)


def _contig_pass(src, dst, P, grad, k, e, periodic, a, refine, track, want_grad, lo, hh, it, n_mid, nchunk):
    """Last pass, along the last axis of ``src`` (A, n), in ``nchunk`` chunks of rows (threaded in
    :func:`hl_contig_parallel`, serial in :func:`hl_contig_serial`; see :func:`_contig_chunk`)."""
    A = src.shape[0]
    for c in prange(nchunk):
        _contig_chunk(src, dst, P, grad, k, e, periodic, a, refine, track, want_grad, lo, hh, it, n_mid,
                      c * A // nchunk, (c + 1) * A // nchunk)


hl_contig_serial, hl_contig_parallel = serial_and_threaded(_contig_pass)


# ----------------------------------------------------------------------------- 1-D, non-periodic
def direct_scratch_size(n: int, refine: bool) -> int:
    """Length of the float64 scratch ``W`` of :func:`hl_line_direct` for ``n`` nodes."""
    return n + 1 + (n + 1) // 2 + max(n, 5 * (n - 1) if refine else 0)


@njit
def hl_line_direct(g, h, lo, t, refine, track, want_grad, u, P, grad, W):
    """Non-periodic 1-D Hopf-Lax straight from the data (no line copy): ``g`` (n) -> ``u`` (n) and,
    with ``track``, ``P`` (n, 1) coordinates and (``want_grad``) ``grad`` (n, 1) (the result's shapes;
    else any 2-D array, e.g. :data:`DUMMY2`, untouched); spacing ``h``, first node ``lo``, time ``t``.

    ``W``: float64 scratch of :func:`direct_scratch_size` values, carved into the envelope's ``z``
    (n + 1), ``v`` (n int32) and ``G`` (n), and with ``refine`` the cell tables ``T`` (5, n - 1) of
    :func:`cell_tables` in the same place as ``G`` (which the envelope no longer needs when the
    tables are made).  One block from the caller: allocated in here the same 4096-node solve took
    23.5 us instead of 19.9 (reasons not pinned down), and three blocks cost 0.5 us more than one.
    The values equal :func:`_line_u` / :func:`_line_final` bit for bit.

    Returns :func:`finite_absmax` of ``u`` (NaN when a value is not finite): the solver's output check
    without a second kernel call (0.2 us of a 4096-node solve)."""
    n = g.shape[0]
    a = h * h / (2.0 * t)
    it = 1.0 / t
    z = W[:n + 1]
    o = n + 1 + (n + 1) // 2
    v = W[n + 1:o].view(np.int32)
    G = W[o:o + n]
    T = W[o:o + 5 * (n - 1)].reshape(5, n - 1) if refine else W[:1].reshape(1, 1)
    fh_build(g, n, a, v, z, G)
    if refine:
        cell_tables(g, n, a, T)
    kk = 0
    for i in range(n):
        xq = float(i)
        while z[_U(kk + 1)] < xq:
            kk += 1
        j = v[_U(kk)]
        if refine:
            val, pos = refine_cells(g, n, j, xq, a, T)
        else:
            dxq = xq - j
            val = g[_U(j)] + a * dxq * dxq
            pos = float(j)
        u[i] = val
        if track:
            P[i, 0] = pos
    if track:                                     # index units -> coordinates (a loop that vectorises)
        for i in range(n):
            y = lo + h * P[i, 0]
            P[i, 0] = y
            if want_grad:
                grad[i, 0] = (lo + h * i - y) * it
    return finite_absmax(u)


# ----------------------------------------------------------------------------- input / output checks
_ABS_BITS = np.uint64(0x7FFFFFFFFFFFFFFF)
_INF_BITS = np.uint64(0x7FF0000000000000)


@njit
def finite_absmax(a):
    """``max |a|`` of a C-contiguous 1-D float64 array (0 when empty), NaN when some value is not finite:
    the finiteness and the scale checks of :func:`solvers.hopf_lax.hopf_lax` in one read of the data
    (NumPy needs temporaries and two reductions).  On the bit patterns with the sign cleared, the order of
    unsigned integers is the order of ``|a|``, and inf / NaN are the patterns ``>= 0x7FF0...``: one integer
    max reduction, which vectorises (a float max with NaN checks does not)."""
    b = a.view(np.uint64)
    m = np.uint64(0)
    for i in range(b.shape[0]):
        x = b[i] & _ABS_BITS
        m = x if x > m else m
    if m >= _INF_BITS:
        return np.nan
    return np.array([m]).view(np.float64)[0]


# ----------------------------------------------------------------------------- compile management
_WARM = set()


def warm_up(parallel: bool) -> float:
    """Compile (or load from the on-disk cache) the pass kernels; seconds spent in this call, else 0.0."""
    import time

    if parallel in _WARM:
        return 0.0
    sp = hl_strided_parallel if parallel else hl_strided_serial
    cp = hl_contig_parallel if parallel else hl_contig_serial
    if sp.signatures and cp.signatures and hl_line_direct.signatures:
        _WARM.add(parallel)
        return 0.0
    t0 = time.perf_counter()
    hl_line_direct(np.zeros(3), 1.0, 0.0, 1.0, True, True, True, np.zeros(3), np.zeros((3, 1)), np.zeros((3, 1)),
                   np.zeros(direct_scratch_size(3, True)))
    u = np.zeros((1, 3, 2))
    P = np.zeros((1, 3, 2, 2))
    sp(u, u, P, 0, 1, True, 1.0, True, True, 2, 1)
    one = np.ones(2)
    cp(u.reshape(3, 2), u.reshape(3, 2), P.reshape(3, 2, 2), P.reshape(3, 2, 2), 1, 1, True, 1.0, True, True, True,
       one, one, 1.0, 1, 1)
    _WARM.add(parallel)
    return time.perf_counter() - t0


def warm_up_checks() -> float:
    """Compile (or load) :func:`finite_absmax`; seconds spent in this call, else 0.0."""
    import time

    if "checks" in _WARM:
        return 0.0
    spent = 0.0
    if not finite_absmax.signatures:
        t0 = time.perf_counter()
        finite_absmax(np.zeros(3))
        spent = time.perf_counter() - t0
    _WARM.add("checks")
    return spent


def chunks(work: int, parallel: bool) -> int:
    """Number of chunks a pass over ``work`` tiles or rows is split into (several per thread)."""
    if not parallel:
        return 1
    import numba

    return max(1, min(work, 4 * numba.get_num_threads()))


