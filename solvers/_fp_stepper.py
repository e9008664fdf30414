r"""Fokker-Planck steppers: the CPU twin of the device stepper, with the time loop compiled.

:func:`solvers.fokker_planck.solve_fokker_planck` plans its steps (equal steps between saved
times), then hands a *stepper* to the one time-loop driver (:mod:`solvers._driver`).  Every
stepper walks the same plan with the same arithmetic; they differ only in where the state lives:

:class:`CpuStepper`
    diagonal ``D`` with the per-line solvers (the default path).  The state is a flat float64
    buffer; a call of :meth:`~FPStepper.advance` runs :func:`march`, one Numba function that takes
    every step up to the next save point (or checkpoint / progress update): the axis sweeps of
    :mod:`solvers._fp_kernels` (threaded above :data:`solvers._jit.PARALLEL_THRESHOLD` cells), the
    per-step non-finite check and the periodic mass fix, with no Python between steps.
    Time-dependent coefficients are re-evaluated in Python before every step (a user callable),
    and the compiled step then runs one step at a time.
:class:`DirectStepper`
    a full ``D`` or ``linear_solver="direct"``: ``scipy.sparse`` products and a cached ``splu``
    factorisation, one Python iteration per step.
:class:`solvers._cuda_fp.CudaStepper`
    the same plan with numba.cuda kernels, the state on the device.

Each step is the one of the module docstring of :mod:`solvers.fokker_planck` (forward Euler;
Lie-split backward Euler; Strang-split Crank-Nicolson with ``rannacher`` start steps, each
replaced by two backward-Euler half steps).  The arithmetic is that of the former per-step Python
loop, operation for operation: results are bit-identical to it (``tests/solvers/test_fp_march.py``
compares against a NumPy twin of one step; the commit that introduced this module compared 68
solves against the previous implementation).

Mass fix (periodic axes and the direct path)
--------------------------------------------
With a diagonal ``D`` the exact step is an M-matrix inverse (non-negative, mass-preserving);
LU / Sherman-Morrison round-off is removed by :func:`mass_fix`: negatives down to
``-1e-13 max|rho|`` are set to 0 (their mass is reported as ``params["clipped_mass"]``), then rho
is rescaled to the mass of the step's input (the largest ``|factor - 1|`` is
``params["mass_correction"]``).  Sums are :func:`pairwise_sum`, NumPy's pairwise summation
reproduced exactly, so the compiled fix equals ``rho *= rho_in.sum() / rho.sum()`` bit for bit.
"""
from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _fp_kernels as K
from ._jit import njit, pnjit, prange, use_parallel

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


def warmup() -> float:
    """Compile (or load from the cache) the face-rate kernels and :func:`march`; seconds spent, 0 if done."""
    spent = K.warmup_weights()
    if march.signatures and mass_fix.signatures:
        return spent
    t0 = time.perf_counter()
    march(*_march_args_demo())
    mass_fix(np.ones(4), 4.0, True, 1.0, np.zeros(2))
    return spent + time.perf_counter() - t0


# ----------------------------------------------------------------------------- steppers
class FPStepper:
    """Plan walking shared by every Fokker-Planck stepper (the interface of :mod:`solvers._driver`).

    ``plan``: list of segments ``(a, b, h, n)``, ``n`` steps of length ``h`` from ``a`` to ``b``;
    segment ends are the saved times and ``t``.  Step ``i`` of a segment starts at ``a + i h``.
    A subclass implements ``_run(a, h, i0, m) -> (steps taken, status)`` (steps ``i0 .. i0+m-1`` of
    one segment), ``state()`` and ``warmup()``.

    After a failure (``status`` not ``"success"``) :attr:`failure` holds ``{"t", "step", "h"}`` (and
    ``"limit"`` for ``"unstable"``): the end time, the 1-based number and the length of the step.
    """

    def __init__(self, pb, plan, method: str, rannacher: int):
        self.pb = pb
        self.plan = list(plan)
        self.method = method
        self.code = METHOD_CODES[method]
        self.rannacher = int(rannacher) if method == "crank_nicolson" else 0
        self.t = 0.0
        self.n_steps = 0
        self.hmax = 0.0
        self.clipped = 0.0
        self.mass_correction = 0.0
        self.failure = None
        self._seg = 0
        self._i = 0

    def advance(self, t_target: float, max_steps: int, t_stop: float = math.inf) -> str:
        """Steps of the plan until ``t == t_target`` (a segment end), ``max_steps`` steps, or the first
        step that ends at ``>= t_stop``; ``"success"`` or the failure status."""
        done = 0
        while done < max_steps and self._seg < len(self.plan) and self.t < t_target and self.t < t_stop:
            a, b, h, n = self.plan[self._seg]
            m = min(n - self._i, max_steps - done)
            if t_stop < math.inf:
                m = min(m, self._steps_to(a, h, self._i, t_stop))
            k, status = self._run(a, h, self._i, m)
            self.n_steps += k
            done += k
            self._i += k
            if k:
                self.hmax = max(self.hmax, h)
            if self._i == n:
                self.t = b
                self._seg += 1
                self._i = 0
            else:
                self.t = a + self._i * h
            if status != "success":
                return status
        return "success"

    @staticmethod
    def _steps_to(a, h, i0, t_stop) -> int:
        """Fewest steps from step ``i0`` whose last one ends at ``a + (i0 + k) h >= t_stop`` (>= 1)."""
        k = max(1, int(math.ceil((t_stop - a) / h)) - i0)
        while k > 1 and a + (i0 + k - 1) * h >= t_stop:
            k -= 1
        while a + (i0 + k) * h < t_stop:
            k += 1
        return k

    def _fail(self, status, t, step, h, **extra):
        """Record a failure of step number ``step`` (1-based) of length ``h``, at time ``t``; return ``status``."""
        self.failure = {"status": status, "t": t, "step": step, "h": h, **extra}
        return status

    def _explicit_limit(self, t0, h):
        """The forward-Euler limit at ``t0`` if ``h`` exceeds it (time-dependent coefficients), else None."""
        lim = 1.0 / float(self.pb.outflow(t0).max())
        return lim if h > lim * (1 + 1e-12) else None


class CpuStepper(FPStepper):
    """Diagonal ``D``, per-line solves: the compiled :func:`march` on flat float64 buffers."""

    def __init__(self, pb, rho, plan, method, rannacher):
        super().__init__(pb, plan, method, rannacher)
        g = pb.grid
        N, d = int(g.size), g.dim
        self.shape = np.array(g.shape, np.int64)
        self.bufs = np.empty((3, N))
        self.bufs[0] = rho.reshape(-1)
        self.cur = 0
        self.ap = np.empty((d, N))
        self.am = np.empty((d, N))
        self.periodic = np.array([bool(p) for p in g.periodic])
        self.any_per = bool(self.periodic.any())
        bw, par = [], []
        for k in range(d):
            lines = N // g.shape[k]
            post = int(np.prod(g.shape[k + 1:], dtype=np.int64))
            b = K.LAST_AXIS_BLOCK if post == 1 else (K.BLOCK_WIDE if post >= K.WIDE_POST else K.BLOCK)
            bw.append(b)
            # threads only pay off with several independent blocks of lines (as axis_step decides)
            par.append(use_parallel(N) and -(-lines // b) >= 4)
        self.bw = np.array(bw, np.int64)
        self.par_step = np.array(par)
        self.par_apply = bool(use_parallel(N))
        self.vol = float(g.cell_volume)
        self.acc = np.zeros(2)
        self._w = None

    def warmup(self) -> float:
        return warmup()

    def state(self) -> np.ndarray:
        return self.bufs[self.cur].reshape(self.pb.grid.shape).copy()

    def _upload(self, w):
        """Copy the face rates ``w`` (list over axes of ``(ap, am)``) into the flat arrays, unless they are there."""
        if w is self._w:
            return
        for k, (a_p, a_m) in enumerate(w):
            self.ap[k] = a_p.reshape(-1)
            self.am[k] = a_m.reshape(-1)
        self._w = w

    def _march(self, code, h, m, step0):
        cur, k, ok = march(self.bufs, self.cur, self.ap, self.am, self.shape, code, h, m, step0,
                           self.rannacher, self.periodic, self.any_per, self.bw, self.par_step, self.par_apply,
                           self.vol, self.acc)
        self.cur = cur
        self.clipped, self.mass_correction = float(self.acc[0]), float(self.acc[1])
        return k, ok

    def _run(self, a, h, i0, m):
        pb = self.pb
        if not pb.time_dependent:
            self._upload(pb.weights(0.0))
            k, ok = self._march(self.code, h, m, self.n_steps)
            if not ok:
                return k, self._fail("nonfinite", a + (i0 + k - 1) * h + h, self.n_steps + k, h)
            return k, "success"
        # time-dependent coefficients: evaluate them (a user callable) before each step
        for j in range(m):
            t0 = a + (i0 + j) * h
            step = self.n_steps + j           # steps taken before this one
            if self.code == EXPLICIT:
                lim = self._explicit_limit(t0, h)
                if lim is not None:
                    return j, self._fail("unstable", t0, step + 1, h, limit=lim)
                self._upload(pb.weights(t0))
                _, ok = self._march(EXPLICIT, h, 1, step)
            elif self.code == IMPLICIT:
                self._upload(pb.weights(t0 + h))
                _, ok = self._march(IMPLICIT, h, 1, step)
            elif step < self.rannacher:
                self._upload(pb.weights(t0 + 0.5 * h))
                _, ok = self._march(IMPLICIT, 0.5 * h, 1, step)
                self._upload(pb.weights(t0 + 0.5 * h + 0.5 * h))
                _, ok2 = self._march(IMPLICIT, 0.5 * h, 1, step)
                ok = ok and ok2
            else:
                self._upload(pb.weights(t0 + 0.5 * h))
                _, ok = self._march(CRANK_NICOLSON, h, 1, step)
            if not ok:
                return j + 1, self._fail("nonfinite", t0 + h, step + 1, h)
        return m, "success"


class DirectStepper(FPStepper):
    """Full ``D`` or ``linear_solver="direct"``: sparse products and cached ``splu`` factors (CPU, Python loop)."""

    def __init__(self, pb, rho, plan, method, rannacher):
        super().__init__(pb, plan, method, rannacher)
        self.rho = rho.copy()
        self.acc = np.zeros(2)
        self._lu: dict = {}

    def warmup(self) -> float:
        return warmup()

    def state(self) -> np.ndarray:
        return self.rho.copy()

    def _factor(self, c, tt):
        pb = self.pb
        key = (c, tt if pb.time_dependent else None)
        if key not in self._lu:
            if pb.time_dependent:
                self._lu.clear()
            A = pb.operator(tt)
            self._lu[key] = (spla.splu((sp.identity(pb.grid.size, format="csc") - c * A).tocsc()), A)
        return self._lu[key]

    def _theta(self, r, tt, ci, ce):
        fac, A = self._factor(ci, tt)
        rhs = r.reshape(-1)
        if ce:
            rhs = rhs + ce * (A @ rhs)
        out = fac.solve(rhs)
        mass_fix(out, pairwise_sum(r.reshape(-1), 0, r.size), self.pb.diagonal, float(self.pb.grid.cell_volume),
                 self.acc)
        self.clipped, self.mass_correction = float(self.acc[0]), float(self.acc[1])
        return out.reshape(r.shape)

    def _run(self, a, h, i0, m):
        pb = self.pb
        r = self.rho
        for j in range(m):
            t0 = a + (i0 + j) * h
            step = self.n_steps + j
            if self.code == EXPLICIT:
                if pb.time_dependent:
                    lim = self._explicit_limit(t0, h)
                    if lim is not None:
                        self.rho = r
                        return j, self._fail("unstable", t0, step + 1, h, limit=lim)
                r = r + h * (pb.operator(t0) @ r.reshape(-1)).reshape(r.shape)
            elif self.code == IMPLICIT:
                r = self._theta(r, t0 + h, h, 0.0)
            elif step < self.rannacher:
                r = self._theta(r, t0 + 0.5 * h, 0.5 * h, 0.0)
                r = self._theta(r, t0 + 0.5 * h + 0.5 * h, 0.5 * h, 0.0)
            else:
                r = self._theta(r, t0 + 0.5 * h, 0.5 * h, 0.5 * h)
            if not all_finite(r.reshape(-1)):
                self.rho = r
                return j + 1, self._fail("nonfinite", t0 + h, step + 1, h)
        self.rho = r
        return m, "success"
