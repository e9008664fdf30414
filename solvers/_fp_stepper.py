r"""Fokker-Planck steppers: the CPU twin of the device stepper, behind the one time-loop driver.

:func:`solvers.fokker_planck.solve_fokker_planck` plans its steps (equal steps between saved
times), then hands a *stepper* to the driver (:mod:`solvers._driver`), which saves, shows
progress and reports the status for every backend.  Every stepper walks the same plan
(:class:`FPStepper`) with the same arithmetic; they differ only in where the state lives:

:class:`CpuStepper`
    diagonal ``D`` with the per-line solvers (the default path).  The state is a flat float64
    buffer; a call of :meth:`~FPStepper.advance` runs :func:`solvers._fp_march.march`, one Numba
    function that takes every step up to the next save point (or checkpoint / progress update),
    with no Python between steps.  Time-dependent coefficients are re-evaluated in Python before
    every step (a user callable), and the compiled march then runs one step at a time.
:class:`DirectStepper`
    a full ``D`` or ``linear_solver="direct"``: ``scipy.sparse`` products and a cached ``splu``
    factorisation, one Python iteration per step (the compiled mass fix and finiteness check).
:class:`solvers._cuda_fp.CudaStepper`
    the same plan with numba.cuda kernels, the state on the device.

Each step is the one of the module docstring of :mod:`solvers.fokker_planck`; results are
bit-identical to the former per-step Python loop (``tests/solvers/test_fp_march.py``; the commit
that introduced the march compared 68 CPU and CUDA-simulator solves with the previous code).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _fp_kernels as K
from ._fp_march import (CRANK_NICOLSON, EXPLICIT, IMPLICIT, METHOD_CODES, all_finite, march, mass_fix, pairwise_sum,
                        warmup)
from .jit import use_parallel

__all__ = ["FPStepper", "CpuStepper", "DirectStepper"]


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

    def checkpoint_state(self):
        """Scalars and arrays beyond ``t``, ``n_steps`` and the snapshots that a resumed run needs."""
        return ({"segment": self._seg, "index": self._i, "hmax": self.hmax, "clipped": self.clipped,
                 "mass_correction": self.mass_correction}, {"rho": self.state()})

    def restore(self, scalars, arrays):
        """The inverse of :meth:`checkpoint_state` (``scalars`` also holds ``t_now`` and ``step``)."""
        self.t, self.n_steps = float(scalars["t_now"]), int(scalars["step"])
        self._seg, self._i = int(scalars["segment"]), int(scalars["index"])
        self.hmax = float(scalars["hmax"])
        self.clipped, self.mass_correction = float(scalars["clipped"]), float(scalars["mass_correction"])
        self._set_state(np.asarray(arrays["rho"], dtype=np.float64))

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

    def _set_state(self, rho):
        self.cur = 0
        self.bufs[0] = rho.reshape(-1)
        self.acc[:] = (self.clipped, self.mass_correction)

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

    def _set_state(self, rho):
        self.rho = rho.reshape(self.pb.grid.shape).copy()
        self.acc[:] = (self.clipped, self.mass_correction)

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
