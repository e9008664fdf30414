r"""The compiled Fokker-Planck march: every step between two save points in one Numba call.

:func:`march` takes ``n`` steps of one method (forward Euler; Lie-split backward Euler;
Strang-split Crank-Nicolson, whose first ``rannacher`` steps are two backward-Euler half steps)
on flat float64 buffers: the axis sweeps run the task bodies of :mod:`solvers._fp_kernels`
(threaded above :data:`solvers.jit.PARALLEL_THRESHOLD` cells, as the Python-level kernels
decide), every step ends with a check of every cell for NaN/inf, and on periodic axes with the
mass fix.  The steppers of :mod:`solvers._fp_stepper` call it; its arithmetic is that of the
former per-step Python loop, operation for operation (bit-identical: ``tests/solvers/test_fp_march.py``
runs a Python twin of that loop, serial and threaded).

Mass fix (periodic axes and the sparse-LU path)
-----------------------------------------------
With a diagonal ``D`` the exact step is an M-matrix inverse (non-negative, mass-preserving);
LU / Sherman-Morrison round-off is removed by :func:`mass_fix`: negatives down to
``-1e-13 max|rho|`` are set to 0 (their mass is reported as ``params["clipped_mass"]``), then rho
is rescaled to the mass of the step's input (the largest ``|factor - 1|`` is
``params["mass_correction"]``).  Sums are :func:`pairwise_sum`, NumPy's pairwise summation
reproduced exactly, so the compiled fix equals ``rho *= rho_in.sum() / rho.sum()`` bit for bit.

Two Numba constraints shape this module (both crash when a cached function is loaded from the
cache): a cached function must not call a threaded (``parallel=True``) one, so the threaded sweeps
are ``prange`` loops in :func:`march` itself; and it must not call a recursive one, so
:func:`pairwise_sum` keeps an explicit stack.

:func:`march` inlines ``_apply_task`` and ``_step_task`` of :mod:`solvers._fp_kernels`; an edit
of that file alone still recompiles it (the on-disk cache is stamped with a hash of the package's
sources: :mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

import time

import numpy as np

from . import _fp_kernels as K
from .jit import njit, pnjit, prange

#: Method codes of :func:`march`.
EXPLICIT, IMPLICIT, CRANK_NICOLSON = 0, 1, 2
METHOD_CODES = {"explicit": EXPLICIT, "implicit": IMPLICIT, "crank_nicolson": CRANK_NICOLSON}
#: Threading of :func:`march`: its ``prange`` loops only (no automatic parallelisation of array
#: expressions; it has none, and skipping those passes shortens the compile).
_PRANGE_ONLY = {"prange": True, "comprehension": False, "numpy": False, "reduction": False, "setitem": False,
                "stencil": False, "fusion": False, "inplace_binop": False}
#: Negatives above ``-CLIP_RTOL * max|rho|`` after a periodic / direct solve are round-off (set to 0).
CLIP_RTOL = 1e-13


# ----------------------------------------------------------------------------- compiled pieces
@njit
def _block_sum(a, lo, n):
    """NumPy's sum of ``a[lo:lo + n]`` for ``n <= 128``: 8 interleaved accumulators, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    m = n - n % 8
    i = 8
    while i < m:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit
def pairwise_sum(a, lo, n):
    """``a[lo:lo + n].sum()`` with NumPy's pairwise summation (same order, same result bit for bit).

    Blocks of up to 128 values are summed with 8 interleaved accumulators (:func:`_block_sum`);
    longer ranges are halved at a multiple of 8 and the halves added
    (numpy/_core/src/umath/loops_utils.h.src, ``pairwise_sum``).  Written with an explicit stack:
    a cached Numba function that calls a recursive one crashes when loaded from the cache.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    # post-order walk of the halving tree; node = (lo, n, children done?)
    s_lo = np.empty(256, np.int64)
    s_n = np.empty(256, np.int64)
    s_done = np.empty(256, np.bool_)
    vals = np.empty(256)
    sp = 0
    vp = 0
    s_lo[0] = lo
    s_n[0] = n
    s_done[0] = False
    sp = 1
    while sp > 0:
        sp -= 1
        l0 = s_lo[sp]
        nn = s_n[sp]
        if nn <= 128:
            vals[vp] = _block_sum(a, l0, nn)
            vp += 1
            continue
        if s_done[sp]:
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
            continue
        n2 = nn // 2
        n2 -= n2 % 8
        s_done[sp] = True          # revisit to add the two halves
        sp += 1
        s_lo[sp] = l0 + n2         # right half (popped second)
        s_n[sp] = nn - n2
        s_done[sp] = False
        sp += 1
        s_lo[sp] = l0              # left half (popped first)
        s_n[sp] = n2
        s_done[sp] = False
        sp += 1
    return vals[0]


@njit
def all_finite(a):
    """Whether every entry of the 1-D array ``a`` is finite (one vectorised pass)."""
    bad = 0
    for i in range(a.size):
        v = a[i]
        bad |= np.int64((v - v) != 0.0)        # inf - inf and NaN - NaN are NaN
    return bad == 0


@njit
def mass_fix(r, target, clip, vol, acc):
    """Round-off repair of a step that conserves mass and positivity in exact arithmetic.

    ``r``: flat density (modified in place); ``target``: mass (``sum``) of the step's input;
    ``clip``: set negatives above ``-1e-13 max|r|`` to 0 first (diagonal ``D``); ``acc``:
    ``[clipped mass (times vol), largest |factor - 1|]``, updated.
    """
    n = r.size
    if clip:
        mn = np.inf
        mx = 0.0
        nneg = 0
        for i in range(n):
            v = r[i]
            if v < mn:
                mn = v
            av = abs(v)
            if av > mx:
                mx = av
            if v < 0.0:
                nneg += 1
        if mn < 0.0:
            thr = CLIP_RTOL * max(mx, 1e-300)
            if mn >= -thr:
                neg = np.empty(nneg)
                j = 0
                for i in range(n):
                    if r[i] < 0.0:
                        neg[j] = r[i]
                        j += 1
                        r[i] = 0.0
                acc[0] += -pairwise_sum(neg, 0, nneg) * vol
    m = pairwise_sum(r, 0, n)
    if m > 0.0 and target > 0.0:
        fac = target / m
        acc[1] = max(acc[1], abs(fac - 1.0))
        for i in range(n):
            r[i] *= fac


@njit
def _axis_dims(shape, k):
    """``(pre, n, post)`` of axis ``k`` of a C-ordered array of shape ``shape``."""
    pre = 1
    for j in range(k):
        pre *= shape[j]
    post = 1
    for j in range(k + 1, shape.size):
        post *= shape[j]
    return pre, shape[k], post


@njit
def _sweep(j, d, cn, h):
    """Sweep ``j`` of a split theta-step of length ``h``: ``(axis, ci, ce)``.

    Backward Euler (Lie): axes ``0 .. d-1`` with ``(h, 0)``.  Crank-Nicolson (Strang): axes
    ``0 .. d-2`` with half steps, axis ``d-1`` with the whole step, then ``d-2 .. 0`` again;
    a sub-step of length ``tau`` solves with ``ci = ce = tau / 2``.
    """
    if not cn:
        return j, h, 0.0
    if d == 1:
        return 0, 0.5 * h, 0.5 * h
    if j < d - 1:
        return j, 0.5 * (0.5 * h), 0.5 * (0.5 * h)
    if j == d - 1:
        return d - 1, 0.5 * h, 0.5 * h
    return 2 * d - 2 - j, 0.5 * (0.5 * h), 0.5 * (0.5 * h)


@njit
def _spare(a, b):
    """A buffer index in {0, 1, 2} that is neither ``a`` nor ``b``."""
    for i in range(3):
        if i != a and i != b:
            return i
    return -1


@pnjit(parallel=_PRANGE_ONLY)
def march(bufs, cur, ap, am, shape, method, h, n, step0, rannacher, periodic, any_per, bw, par_step,
          par_apply, vol, acc):
    """Take ``n`` equal steps of length ``h`` (no Python in between).

    One function, with the threaded sweeps as ``prange`` loops in its own body (a cached function
    that calls another threaded function crashes when it is loaded from Numba's cache).  Each
    sweep runs the task bodies of :mod:`solvers._fp_kernels` (``_apply_task``, ``_step_task``)
    over the same tasks as :func:`~solvers._fp_kernels.apply_axis` /
    :func:`~solvers._fp_kernels.axis_step`, threaded or not as they would decide.

    Parameters
    ----------
    bufs : float64 (3, N)
        Three flat state buffers; ``bufs[cur]`` holds the density (C order of ``shape``).
    ap, am : float64 (d, N)
        Face rates per axis (:meth:`solvers.fp_operator._Problem.weights`, flattened).
    shape : int64 (d,)
    method : {EXPLICIT, IMPLICIT, CRANK_NICOLSON}
    step0 : int
        Steps taken before this call (the first ``rannacher`` Crank-Nicolson steps are two
        backward-Euler half steps).
    periodic, par_step : bool (d,); bw : int64 (d,)
        Per axis: periodic, threaded line solves, lines per task.
    any_per : bool
        Any periodic axis: apply :func:`mass_fix` after each implicit (sub)step.
    par_apply : bool
        Threaded explicit sweeps.
    vol : float
        Cell volume (for the clipped-mass diagnostic).
    acc : float64 (2,)
        ``[clipped mass, largest mass correction]``, updated.

    Returns
    -------
    (cur, done, ok) : the buffer holding the state, steps taken, and False if the state of the
    last step taken is not finite (the march stops there).
    """
    d = shape.size
    for s in range(n):
        if method == 0:
            # forward Euler: out = r + h sum_k A_k r, axis by axis
            out = _spare(cur, cur)
            for i in range(bufs.shape[1]):
                bufs[out, i] = bufs[cur, i]
            for k in range(d):
                pre, nk, post = _axis_dims(shape, k)
                r3 = bufs[cur].reshape((pre, nk, post))
                o3 = bufs[out].reshape((pre, nk, post))
                p3 = ap[k].reshape((pre, nk, post))
                m3 = am[k].reshape((pre, nk, post))
                if par_apply:
                    for task in prange(pre * nk):
                        K._apply_task(task, r3, p3, m3, h, o3)
                else:
                    for task in range(pre * nk):
                        K._apply_task(task, r3, p3, m3, h, o3)
            cur = out
        else:
            rann = method == 2 and (step0 + s) < rannacher
            subs = 2 if rann else 1
            hh = 0.5 * h if rann else h
            cn = method == 2 and not rann
            nsw = 2 * d - 1 if cn else d
            for _ in range(subs):
                rin = cur
                target = pairwise_sum(bufs[rin], 0, bufs.shape[1]) if any_per else 0.0
                src = rin
                for j in range(nsw):
                    k, ci, ce = _sweep(j, d, cn, hh)
                    dst = _spare(rin, src)
                    pre, nk, post = _axis_dims(shape, k)
                    r3 = bufs[src].reshape((pre, nk, post))
                    o3 = bufs[dst].reshape((pre, nk, post))
                    p3 = ap[k].reshape((pre, nk, post))
                    m3 = am[k].reshape((pre, nk, post))
                    b = bw[k]
                    per = periodic[k]
                    ntask = (pre * post + b - 1) // b
                    if par_step[k]:
                        for task in prange(ntask):
                            K._step_task(task, r3, p3, m3, ci, ce, o3, per, b)
                    else:
                        for task in range(ntask):
                            K._step_task(task, r3, p3, m3, ci, ce, o3, per, b)
                    src = dst
                if any_per:
                    mass_fix(bufs[src], target, True, vol, acc)
                cur = src
        if not all_finite(bufs[cur]):
            return cur, s + 1, False
    return cur, n, True


def _march_args_demo():
    """A tiny problem with every argument type of :func:`march` (for :func:`warmup`)."""
    shape = np.array([3, 2], np.int64)
    N = 6
    bufs = np.ones((3, N))
    w = np.full((2, N), 0.5)
    per = np.array([True, False])
    return (bufs, 0, w, w, shape, 2, 0.1, 2, 0, 1, per, True, np.array([8, 8], np.int64), np.array([False, False]),
            False, 1.0, np.zeros(2))


_WARM = []         # non-empty once this process has compiled or loaded march and mass_fix


def warmup() -> float:
    """Compile (or load from the cache) the face-rate kernels and :func:`march`; seconds spent, 0 if done."""
    spent = K.warmup_weights()
    if _WARM:                                     # (a flag: reading the dispatchers' signatures costs ~4 us)
        return spent
    if march.signatures and mass_fix.signatures:
        _WARM.append(True)
        return spent
    t0 = time.perf_counter()
    march(*_march_args_demo())
    mass_fix(np.ones(4), 4.0, True, 1.0, np.zeros(2))
    _WARM.append(True)
    return spent + time.perf_counter() - t0
