r"""CUDA backend of :func:`solvers.fokker_planck.solve_fokker_planck` (``backend="cuda"``).

What runs on the device
-----------------------
The same Scharfetter-Gummel finite-volume scheme as the CPU backend, for a
diagonal ``D`` (None, scalar or per-axis), 1-3 D, no-flux and periodic axes,
potentials and general drifts (time-dependent ones too):

``explicit``
    one thread per cell applies every axis operator ``A_k`` in the CPU order,
    ``out_i = rho_i + sum_k h (A_k rho)_i`` with
    ``(A_k rho)_i = ap[i-1] rho[i-1] - (ap[i] + am[i-1]) rho[i] + am[i] rho[i+1]``.
``implicit`` / ``crank_nicolson``
    the CPU's per-line splitting (Lie for backward Euler, Strang for CN, the
    Rannacher start), one thread per grid line running the same subtraction-free
    Thomas recursion (Sherman-Morrison on periodic lines) as
    :func:`solvers._fp_kernels.axis_step`; its ``c'`` (and Sherman-Morrison)
    scratch lies in global memory laid out ``(n, n_lines)`` so that neighbouring
    threads touch neighbouring words.  The periodic mass fix (clip of round-off
    negatives, rescale to the incoming mass) uses deterministic two-level
    block reductions.

The face rates ``ap, am`` are computed on the host by the CPU code
(:meth:`_Problem.weights`, bit-identical numbers) and uploaded once, or once per
step for time-dependent coefficients.  ``rho`` stays on the device across steps;
it is copied back only for ``save_at`` snapshots (diagnostics run on the host,
in float64, as on the CPU) and for the final result.

:class:`CudaStepper` is the device twin of :class:`solvers._fp_stepper.CpuStepper`:
both walk the same step plan (the shared :class:`~solvers._fp_stepper.FPStepper`)
behind the interface of the one time-loop driver (:mod:`solvers._driver`), which
does the saving, the progress bar and the status for both backends.

Not on the device: a full (non-diagonal) ``D`` and ``linear_solver="direct"``
(sparse LU / sparse mat-vec); :func:`solve_fokker_planck` raises a ValueError
for them with ``backend="cuda"`` and uses the CPU with ``backend="auto"``.

Agreement with the CPU backend
------------------------------
float64: every cell sees the same floating-point operations in the same order,
so results agree to round-off (bit-identical in numba's CUDA simulator; on a GPU
the compiler may fuse multiply-adds, a relative difference of a few ulp per
step).  float32 (``dtype=np.float32``): weights are rounded once to float32 and
the march runs in float32 (reductions accumulate in float64); the error against
float64 is reported by the tests.

Non-finite values: every kernel that finishes a step records the first step at
which a cell became NaN/inf in a device flag (atomic min).  The flag is read every
:data:`CHECK_EVERY` steps and at the end of every :meth:`CudaStepper.advance`
(every saved time), and reports status ``"nonfinite"`` for that step with the
CPU's message (the CPU checks every cell after every step).
"""
from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings

import numpy as np

from .backend import get_cuda, simulator_enabled
from ._fp_march import CLIP_RTOL, EXPLICIT, IMPLICIT
from ._fp_stepper import FPStepper

#: Read the device non-finite flag every this many steps (also at every save and at the end).
CHECK_EVERY = 64
#: "No non-finite step yet" value of the flag.
NOFLAG = 1 << 62

#: ``numba.cuda``, bound by :func:`kernels` on first use.  It must be a module global: the CUDA
#: simulator swaps module globals that hold ``numba.cuda`` for its fake module while a kernel runs.
cuda = None


def _pow2ceil(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


@contextlib.contextmanager
def quiet():
    """Silence numpy scalar RuntimeWarnings of simulated kernels (the simulator runs kernels on numpy
    scalars; a GPU wraps integers and overflows floats silently).  No-op on a real GPU."""
    if not simulator_enabled():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ----------------------------------------------------------------------------- kernels
@functools.lru_cache(maxsize=None)
def kernels(dtype_str: str):
    """Compile-once kernels for one dtype ("float64" or "float32"); returns a namespace object."""
    global cuda
    cuda = get_cuda()
    ft = np.dtype(dtype_str).type
    ZERO = ft(0.0)
    ONE = ft(1.0)
    TWO = ft(2.0)
    RT = 8 if simulator_enabled() else 256      # threads of a reduction block (compile-time constant)

    @cuda.jit
    def explicit_step(r, ap, am, c, out, ndim, flag, step):
        """``out = r + c sum_k A_k r``; r, out: (n0, n1, n2) (leading axes of length 1 pad 1-D/2-D);
        ap, am: (ndim, n0, n1, n2); the grid axes are the last ``ndim`` padded axes."""
        i2, i1, i0 = cuda.grid(3)
        n0, n1, n2 = r.shape
        if i0 >= n0 or i1 >= n1 or i2 >= n2:
            return
        ri = r[i0, i1, i2]
        v = ri
        for k in range(ndim):
            a = 3 - ndim + k
            if a == 2:
                im = i2 - 1 if i2 > 0 else n2 - 1
                ip = i2 + 1 if i2 < n2 - 1 else 0
                apm = ap[k, i0, i1, im]
                amm = am[k, i0, i1, im]
                rm = r[i0, i1, im]
                rp = r[i0, i1, ip]
            elif a == 1:
                im = i1 - 1 if i1 > 0 else n1 - 1
                ip = i1 + 1 if i1 < n1 - 1 else 0
                apm = ap[k, i0, im, i2]
                amm = am[k, i0, im, i2]
                rm = r[i0, im, i2]
                rp = r[i0, ip, i2]
            else:
                im = i0 - 1 if i0 > 0 else n0 - 1
                ip = i0 + 1 if i0 < n0 - 1 else 0
                apm = ap[k, im, i1, i2]
                amm = am[k, im, i1, i2]
                rm = r[im, i1, i2]
                rp = r[ip, i1, i2]
            v += c * (apm * rm - (ap[k, i0, i1, i2] + amm) * ri + am[k, i0, i1, i2] * rp)
        out[i0, i1, i2] = v
        if not math.isfinite(v):
            cuda.atomic.min(flag, 0, step)

    @cuda.jit
    def line_step(rho, ap, am, ci, ce, out, periodic, cp, zp, flag, step):
        """Solve ``(I - ci A) out = (I + ce A) rho`` on line ``L = p post + q`` of the (pre, n, post) view.

        Same recursion and operation order as ``solvers._fp_kernels._step_task`` for one line;
        ``cp``, ``zp``: scratch (n, pre * post).  ``step >= 0``: flag non-finite output as that step."""
        L = cuda.grid(1)
        pre, n, post = rho.shape
        if L >= pre * post:
            return
        p = L // post
        q = L % post
        i1 = 1 if n > 1 else 0
        # ---- row 0
        b0 = ONE + ci * (ap[p, 0, q] + am[p, n - 1, q])
        rhs = rho[p, 0, q] + ce * (ap[p, n - 1, q] * rho[p, n - 1, q]
                                   - (ap[p, 0, q] + am[p, n - 1, q]) * rho[p, 0, q]
                                   + am[p, 0, q] * rho[p, i1, q])
        gam = ONE
        if periodic:
            gam = -b0
            iv = ONE / (TWO * b0)
            zp[0, L] = -b0 * iv
        else:
            iv = ONE / b0
        inv = iv
        rr = ONE
        cp[0, L] = -ci * am[p, 0, q] * iv
        out[p, 0, q] = rhs * iv
        # ---- forward sweep
        for i in range(1, n):
            ip = i + 1 if i < n - 1 else 0
            api = ap[p, i, q]
            apm = ap[p, i - 1, q]
            amm = am[p, i - 1, q]
            lo = -ci * apm
            rhs = rho[p, i, q] + ce * (apm * rho[p, i - 1, q] - (api + amm) * rho[p, i, q]
                                       + am[p, i, q] * rho[p, ip, q])
            up = -ci * am[p, i, q] if i < n - 1 else ZERO
            if periodic:
                b = ONE + ci * (api + amm)
                if i == n - 1:
                    b -= (ci * ap[p, n - 1, q]) * (ci * am[p, n - 1, q]) / gam
                den = b - lo * cp[i - 1, L]
            else:
                r_ = ONE + ci * amm * rr * inv
                rr = r_
                den = r_ + ci * api
            iv = ONE / den
            cp[i, L] = up * iv
            out[p, i, q] = (rhs - lo * out[p, i - 1, q]) * iv
            if periodic:
                u = -ci * am[p, n - 1, q] if i == n - 1 else ZERO
                zp[i, L] = (u - lo * zp[i - 1, L]) * iv
            inv = iv
        # ---- back substitution
        for i in range(n - 2, -1, -1):
            out[p, i, q] = out[p, i, q] - cp[i, L] * out[p, i + 1, q]
            if periodic:
                zp[i, L] = zp[i, L] - cp[i, L] * zp[i + 1, L]
        if periodic:
            a0g = (-ci * ap[p, n - 1, q]) / gam
            vy = out[p, 0, q] + a0g * out[p, n - 1, q]
            vz = zp[0, L] + a0g * zp[n - 1, L]
            fac = vy / (ONE + vz)
            for i in range(n):
                out[p, i, q] = out[p, i, q] - fac * zp[i, L]
        if step >= 0:
            for i in range(n):
                if not math.isfinite(out[p, i, q]):
                    cuda.atomic.min(flag, 0, step)
                    break

    @cuda.jit
    def stats(r, part):
        """Per block: (sum, min, max |r|, sum of negatives) of the flat array r, accumulated in float64."""
        s_sum = cuda.shared.array(RT, np.float64)
        s_min = cuda.shared.array(RT, np.float64)
        s_max = cuda.shared.array(RT, np.float64)
        s_neg = cuda.shared.array(RT, np.float64)
        tid = cuda.threadIdx.x
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        acc = 0.0
        mn = math.inf
        mx = 0.0
        ng = 0.0
        while i < r.size:
            v = np.float64(r[i])
            acc += v
            if v < mn:
                mn = v
            av = abs(v)
            if av > mx:
                mx = av
            if v < 0.0:
                ng += v
            i += stride
        s_sum[tid] = acc
        s_min[tid] = mn
        s_max[tid] = mx
        s_neg[tid] = ng
        cuda.syncthreads()
        w = RT // 2
        while w > 0:
            if tid < w:
                s_sum[tid] += s_sum[tid + w]
                if s_min[tid + w] < s_min[tid]:
                    s_min[tid] = s_min[tid + w]
                if s_max[tid + w] > s_max[tid]:
                    s_max[tid] = s_max[tid + w]
                s_neg[tid] += s_neg[tid + w]
            cuda.syncthreads()
            w //= 2
        if tid == 0:
            b = cuda.blockIdx.x
            part[b, 0] = s_sum[0]
            part[b, 1] = s_min[0]
            part[b, 2] = s_max[0]
            part[b, 3] = s_neg[0]

    @cuda.jit
    def clip_negative(r):
        """``r[r < 0] = 0`` (grid-stride loop over the flat array)."""
        i = cuda.grid(1)
        while i < r.size:
            if r[i] < ZERO:
                r[i] = ZERO
            i += cuda.gridsize(1)

    @cuda.jit
    def scale(r, fac):
        """``r *= fac`` (grid-stride loop over the flat array)."""
        i = cuda.grid(1)
        while i < r.size:
            r[i] *= fac
            i += cuda.gridsize(1)

    class NS:
        pass

    ns = NS()
    ns.explicit_step, ns.line_step, ns.stats = explicit_step, line_step, stats
    ns.clip_negative, ns.scale, ns.rt, ns.ft = clip_negative, scale, RT, ft
    return ns


def launch3(shape3):
    """(grid, block) of a 3-D launch over an array of shape (n0, n1, n2); x runs over the last axis."""
    n0, n1, n2 = shape3
    bx = min(256, _pow2ceil(n2))
    by = min(_pow2ceil(n1), max(1, 256 // bx))
    bz = min(_pow2ceil(n0), max(1, 256 // (bx * by)))
    return (-(-n2 // bx), -(-n1 // by), -(-n0 // bz)), (bx, by, bz)


def launch1(n, tpb=256):
    """(blocks, threads) of one thread per item."""
    tpb = min(tpb, _pow2ceil(max(n, 1)))
    return -(-n // tpb), tpb


def launch_stride(n):
    """(blocks, threads) of a grid-stride loop over ``n`` items (few threads in the simulator)."""
    if simulator_enabled():
        return 1, 8
    return max(1, min(2048, -(-n // 256))), 256


# ----------------------------------------------------------------------------- march
class DeviceMarch:
    """Device state of one solve: buffers, weights, scratch, the non-finite flag."""

    def __init__(self, pb, rho, dtype):
        cuda = get_cuda()
        self.cuda = cuda
        self.pb = pb
        g = pb.grid
        self.d = g.dim
        self.dtype = np.dtype(dtype)
        self.K = kernels(self.dtype.name)
        self.ft = self.K.ft
        self.shape3 = (1,) * (3 - self.d) + tuple(g.shape)
        self.N = int(g.size)
        self.periodic = tuple(bool(p) for p in g.periodic)
        self.bufs = [cuda.device_array(self.shape3, self.dtype) for _ in range(3)]
        self.bufs[0].copy_to_device(np.ascontiguousarray(rho.reshape(self.shape3), dtype=self.dtype))
        self.ap = cuda.device_array((self.d,) + self.shape3, self.dtype)
        self.am = cuda.device_array((self.d,) + self.shape3, self.dtype)
        self.flag = cuda.to_device(np.array([NOFLAG], np.int64))
        self._w = None
        self._cp = None
        self._zp = None
        self._views = {}
        self.g3, self.b3 = launch3(self.shape3)

    # ---- helpers
    def upload(self, w):
        """Upload the face rates ``w`` (list over axes of (ap, am)) unless they are already there."""
        if w is self._w:
            return
        AP = np.stack([a for a, _ in w]).reshape((self.d,) + self.shape3).astype(self.dtype)
        AM = np.stack([b for _, b in w]).reshape((self.d,) + self.shape3).astype(self.dtype)
        self.ap.copy_to_device(np.ascontiguousarray(AP))
        self.am.copy_to_device(np.ascontiguousarray(AM))
        self._w = w

    def spare(self, *busy):
        for b in self.bufs:
            if all(b is not x for x in busy):
                return b
        raise AssertionError("no spare buffer")  # pragma: no cover

    def axis_views(self, arr, key, k):
        """The (pre, n, post) view of a (n0, n1, n2)-shaped device array for grid axis k (cached)."""
        kk = (key, k)
        v = self._views.get(kk)
        if v is None:
            a = 3 - self.d + k
            s = self.shape3
            v = arr.reshape(math.prod(s[:a]), s[a], math.prod(s[a + 1:]))
            self._views[kk] = v
        return v

    def host(self, arr) -> np.ndarray:
        """float64 host copy of a device density, shape ``grid.shape``."""
        return arr.copy_to_host().reshape(self.pb.grid.shape).astype(np.float64)

    def stats(self, arr):
        """(sum, min, max |r|, sum of negatives) of a device array, deterministic, float64."""
        K = self.K
        flat = arr.reshape(self.N)
        nb = 1 if simulator_enabled() else max(1, min(256, -(-self.N // K.rt)))
        part = self.cuda.device_array((nb, 4), np.float64)
        with quiet():
            K.stats[nb, K.rt](flat, part)
        P = part.copy_to_host()
        return float(P[:, 0].sum()), float(P[:, 1].min()), float(P[:, 2].max()), float(P[:, 3].sum())

    def flagged(self) -> int:
        return int(self.flag.copy_to_host()[0])

    # ---- steps
    def explicit(self, r, h, step):
        out = self.spare(r)
        with quiet():
            self.K.explicit_step[self.g3, self.b3](r, self.ap, self.am, self.ft(h), out, self.d, self.flag, step)
        return out

    def line(self, src, k, ci, ce, dst, step):
        n = self.shape3[3 - self.d + k]
        nl = self.N // n
        if self._cp is None:
            self._cp = self.cuda.device_array(self.N, self.dtype)
            self._zp = self.cuda.device_array(self.N, self.dtype) if any(self.periodic) else None
            self._zp0 = self.cuda.device_array((1, 1), self.dtype)
        per = self.periodic[k]
        cp = self._cp.reshape(n, nl)
        zp = self._zp.reshape(n, nl) if per else self._zp0
        r3 = self.axis_views(src, id(src), k)
        o3 = self.axis_views(dst, id(dst), k)
        p3 = self.axis_views(self.ap[k], ("ap", k), k)
        m3 = self.axis_views(self.am[k], ("am", k), k)
        nb, tpb = launch1(nl, 128)
        with quiet():
            self.K.line_step[nb, tpb](r3, p3, m3, self.ft(ci), self.ft(ce), o3, per, cp, zp, self.flag, step)
        return dst


def warmup(dtype, dim, periodic_any) -> float:
    """Compile the kernels a solve will use on a tiny problem; seconds spent (0 in the simulator)."""
    if simulator_enabled():
        return 0.0
    key = (np.dtype(dtype).name, dim, periodic_any)
    if key in _WARM:
        return 0.0
    t0 = time.perf_counter()
    cuda = get_cuda()
    K = kernels(np.dtype(dtype).name)
    ft = K.ft
    s3 = (1,) * (3 - dim) + (3,) * dim
    r = cuda.to_device(np.ones(s3, dtype))
    out = cuda.device_array(s3, dtype)
    w = cuda.to_device(np.full((dim,) + s3, 0.1, dtype))
    flag = cuda.to_device(np.array([NOFLAG], np.int64))
    K.explicit_step[(1, 1, 1), (4, 4, 4)](r, w, w, ft(0.1), out, dim, flag, 1)
    N = 3 ** dim
    r3 = r.reshape(N // 3, 3, 1)
    w3 = w[0].reshape(N // 3, 3, 1)
    o3 = out.reshape(N // 3, 3, 1)
    sc = cuda.device_array(N, dtype)
    for per in (False, True) if periodic_any else (False,):
        K.line_step[1, 32](r3, w3, w3, ft(0.1), ft(0.0), o3, per, sc.reshape(3, N // 3), sc.reshape(3, N // 3),
                           flag, 1)
    part = cuda.device_array((1, 4), np.float64)
    K.stats[1, K.rt](r.reshape(N), part)
    K.clip_negative[1, 32](r.reshape(N))
    K.scale[1, 32](r.reshape(N), ft(1.0))
    cuda.synchronize()
    _WARM.add(key)
    return time.perf_counter() - t0


_WARM: set = set()


class CudaStepper(FPStepper):
    """The device twin of :class:`solvers._fp_stepper.CpuStepper`: the same plan walk (the shared
    :class:`~solvers._fp_stepper.FPStepper`), each step a few kernel launches on :class:`DeviceMarch`.

    The non-finite flag is read every :data:`CHECK_EVERY` steps and at the end of every
    :meth:`advance` call (every saved time); a failure reports the first flagged step.
    """

    def __init__(self, pb, rho, plan, method, rannacher, dtype):
        super().__init__(pb, plan, method, rannacher)
        self.dtype = np.dtype(dtype)
        self.dm = DeviceMarch(pb, rho, self.dtype)
        self.rho_d = self.dm.bufs[0]
        self.vol = float(pb.grid.cell_volume)
        self.anyper = any(pb.grid.periodic)

    def warmup(self) -> float:
        return warmup(self.dtype, self.pb.grid.dim, self.anyper)

    def state(self) -> np.ndarray:
        return self.dm.host(self.rho_d)

    def _set_state(self, rho):
        self.rho_d = self.dm.bufs[0]
        self.rho_d.copy_to_device(np.ascontiguousarray(rho.reshape(self.dm.shape3), dtype=self.dtype))

    # ---- one step each
    def _fix(self, r, target):
        """Device twin of :func:`solvers._fp_stepper.mass_fix`; False if the sum is not finite."""
        dm = self.dm
        s, mn, mx, neg = dm.stats(r)
        if not math.isfinite(s):      # the CPU check finds the non-finite cells of this step
            return False
        if mn < 0:
            thr = CLIP_RTOL * max(mx, 1e-300)
            if mn >= -thr:
                self.clipped += float(-neg * self.vol)
                nb, tpb = launch_stride(dm.N)
                with quiet():
                    dm.K.clip_negative[nb, tpb](r.reshape(dm.N))
                s = dm.stats(r)[0]
        if s > 0 and target > 0:
            fac = target / s
            self.mass_correction = max(self.mass_correction, abs(fac - 1.0))
            nb, tpb = launch_stride(dm.N)
            with quiet():
                dm.K.scale[nb, tpb](r.reshape(dm.N), dm.ft(fac))
        return True

    def _theta(self, tt, h, cn, stepno):
        """Backward Euler (Lie) or Crank-Nicolson (Strang) split step; False if the mass fix saw a non-finite sum."""
        dm, d = self.dm, self.pb.grid.dim
        r = self.rho_d
        dm.upload(self.pb.weights(tt))
        target = dm.stats(r)[0] if self.anyper else 0.0
        if not cn:
            seq = [(k, h, 0.0) for k in range(d)]
        elif d == 1:
            seq = [(0, 0.5 * h, 0.5 * h)]
        else:
            seq = [(k, 0.5 * (0.5 * h), 0.5 * (0.5 * h)) for k in range(d - 1)] + [(d - 1, 0.5 * h, 0.5 * h)] + \
                  [(k, 0.5 * (0.5 * h), 0.5 * (0.5 * h)) for k in range(d - 2, -1, -1)]
        src = r
        for j, (k, ci, ce) in enumerate(seq):
            dst = dm.spare(r, src)
            dm.line(src, k, ci, ce, dst, stepno if (j == len(seq) - 1 and not self.anyper) else -1)
            src = dst
        self.rho_d = src
        return self._fix(src, target) if self.anyper else True

    def _flag_failure(self, a, h, i0, taken):
        """``(steps, status)`` of this call if the device flag names a failed step, else None."""
        f = self.dm.flagged()
        if f >= NOFLAG:
            return None
        i = i0 + (f - self.n_steps - 1)          # segment index of the flagged step
        return taken, self._fail("nonfinite", a + i * h + h, f, h)

    def _run(self, a, h, i0, m):
        pb, dm = self.pb, self.dm
        for j in range(m):
            t0 = a + (i0 + j) * h
            stepno = self.n_steps + j + 1
            ok = True
            if self.code == EXPLICIT:
                if pb.time_dependent:
                    lim = self._explicit_limit(t0, h)
                    if lim is not None:
                        return j, self._fail("unstable", t0, stepno, h, limit=lim)
                dm.upload(pb.weights(t0))
                self.rho_d = dm.explicit(self.rho_d, h, stepno)
            elif self.code == IMPLICIT:
                ok = self._theta(t0 + h, h, False, stepno)
            elif stepno - 1 < self.rannacher:
                ok = self._theta(t0 + 0.5 * h, 0.5 * h, False, stepno) and \
                    self._theta(t0 + 0.5 * h + 0.5 * h, 0.5 * h, False, stepno)
            else:
                ok = self._theta(t0 + 0.5 * h, h, True, stepno)
            if not ok:
                return j + 1, self._fail("nonfinite", t0 + h, stepno, h)
            if stepno % CHECK_EVERY == 0:
                failed = self._flag_failure(a, h, i0, j + 1)
                if failed is not None:
                    return failed
        failed = self._flag_failure(a, h, i0, m)
        return failed if failed is not None else (m, "success")
