"""Steppers of :func:`solvers.hj.solve_hj`: the state of a run and the steps between save points.

* :class:`CpuStepper` (CPU backend, serial kernels): three ghost-padded NumPy buffers and the
  compiled march of :mod:`solvers._hj_march`; one call of :meth:`CpuStepper.advance` runs every step
  up to the next save time (or a step budget) inside Numba.
* :func:`advance_python`: the same step rule written in Python over the calls of an *ops* object;
  it drives :class:`solvers._cuda_hj.CudaStepper` (whose steps are kernel launches) and
  :class:`CpuOps` with the threaded kernels (grids above :data:`solvers.jit.PARALLEL_THRESHOLD`
  cells, where one step's work dwarfs the ~50 us of Python per step and a compiled march would only
  add compile time), and it is the twin the compiled march is tested against bit for bit.

Both keep their run state in the arrays of :mod:`solvers._hj_march` (``order``, ``clock``,
``counts``, ``alpha``).  :class:`HJStepper` holds those arrays and either of them behind the stepper
interface of :mod:`solvers._driver`, which runs the time loop of :func:`solvers.hj.solve_hj` (saved
times, checkpoints, progress, stops) as it does for :func:`solvers.fokker_planck.solve_fokker_planck`.
"""
from __future__ import annotations

import math
import time

import numpy as np

from . import _hj_kernels as K
from . import _hj_march as M
from .boundary import fill_ghosts, interior, pad_array
from .heat import (heat_apply, heat_apply_into, heat_spectral, heat_tables, heat_work, no_spectral_tables,
                   spectral_tables)


def _spectral_tables(shape, spacing, periodic, scheme):
    """:func:`solvers.heat.spectral_tables` where split steps merge their heat half-steps (periodic grids)."""
    if all(periodic):
        return spectral_tables(shape, spacing, scheme.laplacian_order)
    return no_spectral_tables(shape, periodic)


#: Marches this process has compiled or loaded (:meth:`CpuStepper.warmup`).
_WARM = set()


def _views3(views):
    return tuple(v[(...,) + (None,) * (3 - v.ndim)] for v in views)


class CpuStepper:
    """CPU state (three ghost-padded float64 arrays) and the compiled march over it.

    Parameters
    ----------
    vals : ndarray, interior shape ``(n_0, ..., n_{d-1})``, the initial values
    g : int, ghost width; spacing : tuple of d floats; periodic : tuple of d bools
    scheme : solvers.schemes.Scheme
    parallel : bool, ignored: the march runs the serial kernels (threaded runs use :class:`CpuOps`)
    """

    def __init__(self, vals, g, spacing, periodic, scheme, parallel=False):
        self.g, self.h, self.per, self.sch, self.parallel = g, tuple(spacing), tuple(periodic), scheme, False
        U = pad_array(vals, g)
        self.bufs = (U, np.zeros_like(U), np.zeros_like(U))
        self.order = np.array([0, 1, 2], dtype=np.int64)
        self.views = tuple(interior(b, g) for b in self.bufs)
        self.views3 = _views3(self.views)
        self.cb = K.slope_buffer(U, g)
        self.heat = None  # (tables, spec): built by the first advance that may take split steps (see _heat_for)
        self._heat_split = False
        self.kernel = K.march_kernel(vals.ndim, scheme.deriv_code)  # serial kernels (see module doc)

    @property
    def state_buffer(self):
        return self.bufs[self.order[0]]

    def warmup(self) -> float:
        """Compile (or load) the march on a tiny problem; seconds spent (0.0 once this process has run it for
        this dimension, ghost width, periodicity and derivative family: the tiny run cost 27 us per call)."""
        key = (len(self.h), self.g, self.per, self.sch.deriv_code)
        if key in _WARM:
            return 0.0
        t0 = time.perf_counter()
        d, g = len(self.h), self.g
        tiny = CpuStepper(np.zeros((2 * g + 4,) * d), g, (1.0,) * d, self.per, self.sch, self.parallel)
        p = M.MarchParams(g=g, ih=(1.0,) * d, q=(1.0,) * d, periodic=self.per, h3=(1.0,) * 3, p3=(False,) * 3,
                          nu=0.0, ham=0, rk3=False, cfl=0.5, dif_rate=0.0, mode=M.AUTO, max_dt=math.inf,
                          t_final=1.0, split_rtol=M.SPLIT_RTOL, x_target=0.1, err_floor=0.0)
        tiny.advance(p, M.new_clock(), np.zeros(5, np.int64), np.zeros(d), 1.0, 1, -1, math.inf)
        _WARM.add(key)
        return time.perf_counter() - t0

    def advance(self, p, clock, counts, alpha, t_target, budget, max_steps, t_stop) -> int:
        """Steps until ``t_target`` / ``budget`` steps / ``max_steps`` / ``t_stop``; a return code of
        :mod:`solvers._hj_march`."""
        if not self._heat_split and (self.heat is None or (p.nu > 0.0 and p.mode != M.EXPLICIT)):
            self.heat = self._heat_for(p)
        return int(self.kernel(self.bufs, self.order, self.views, self.views3, self.cb, p, self.heat, clock,
                               counts, alpha, float(t_target), int(budget), int(max_steps), float(t_stop)))

    def _heat_for(self, p):
        """The march's heat tables and work space, where ``p`` may take split steps; else placeholders of the
        same types (no heat substep runs: explicit or inviscid runs skip building them)."""
        shape = self.views[0].shape
        self._heat_split = p.nu > 0.0 and p.mode != M.EXPLICIT
        none = tuple(np.zeros(1) for _ in shape)
        if self._heat_split:  # (periodic grids: heat_spectral alone)
            tables = none if all(self.per) else heat_tables(shape, self.h, self.per, self.sch.laplacian_order)
            return tables, _spectral_tables(shape, self.h, self.per, self.sch)
        return none, no_spectral_tables()

    def slopes(self, V):
        """Fill the ghosts of ``V``; its CFL slopes ``(alpha, finite)``."""
        fill_ghosts(V, self.g, self.per)
        return K.max_slopes(V, self.g, self.h, self.parallel)

    def set_interior(self, V, vals):
        interior(V, self.g)[...] = vals

    def get_interior(self, V):
        return interior(V, self.g)


class CpuOps:
    """The CPU kernels behind the *ops* calls of :func:`advance_python` (the former per-call CPU path;
    the twin of the compiled march in the tests).  Same buffers as a :class:`CpuStepper`."""

    def __init__(self, vals, g, spacing, periodic, scheme, parallel):
        self.g, self.h, self.per, self.sch, self.parallel = g, tuple(spacing), tuple(periodic), scheme, parallel
        U = pad_array(vals, g)
        self.bufs = [U, np.zeros_like(U), np.zeros_like(U)]
        self.cbuf = K.slope_buffer(U, g)

    def warmup(self) -> float:
        """Compile (or load from the cache) this scheme's kernels; seconds spent."""
        t0 = time.perf_counter()
        d, g, s = len(self.h), self.g, self.sch
        V = np.zeros((2 * g + 4,) * d)
        K.stage(V, V, np.zeros_like(V), g, (1.0,) * d, 0.0, s.deriv_code, s.ham_code, s.laplacian_order,
                0.0, 1.0, 0.0, parallel=self.parallel)
        K.max_slopes(V, g, (1.0,) * d, parallel=self.parallel)
        M.grad_energy(V, (1.0,) * d, self.per)  # the split-step accuracy control
        M.split_error(1.0, 0.5, 1.0)
        if all(self.per):
            u = V[(...,) + (None,) * (3 - d)]
            heat_spectral(u, u, spectral_tables(V.shape, (1.0,) * d), 0.0, 0.0)
        return time.perf_counter() - t0

    def set_interior(self, V, vals):
        interior(V, self.g)[...] = vals

    def _stage(self, V, W, O, nu, a, b, dt, slopes=True):
        s = self.sch
        return K.stage(V, W, O, self.g, self.h, nu, s.deriv_code, s.ham_code, s.laplacian_order, a, b, dt,
                       self.parallel, self.cbuf, slopes=slopes)

    def slopes(self, V):
        fill_ghosts(V, self.g, self.per)
        return K.max_slopes(V, self.g, self.h, self.parallel)

    def first_stage(self, src, s1, nu, dt):
        fill_ghosts(src, self.g, self.per)
        return self._stage(src, src, s1, nu, 0.0, 1.0, dt)

    def stage_filled(self, src, s1, nu, dt):
        self._stage(src, src, s1, nu, 0.0, 1.0, dt, slopes=False)

    def other_stages(self, src, s1, s2, nu, dt):
        if self.sch.integrator == "euler":
            return s1
        fill_ghosts(s1, self.g, self.per)
        self._stage(s1, src, s2, nu, 0.75, 0.25, dt, slopes=False)
        fill_ghosts(s2, self.g, self.per)
        self._stage(s2, src, s1, nu, 1.0 / 3.0, 2.0 / 3.0, dt, slopes=False)
        return s1

    def heat(self, V_from, V_to, tau):
        if getattr(self, "_heat", None) is None:  # tables and work space, kept (the march's kernel: same bits)
            shape = interior(V_from, self.g).shape
            self._heat = (heat_tables(shape, self.h, self.per, self.sch.laplacian_order),) + heat_work(shape, self.per)
        tables, rwork, cwork = self._heat
        heat_apply_into(interior(V_from, self.g), interior(V_to, self.g), tables, self.per, tau, rwork, cwork)

    def get_interior(self, V):
        return interior(V, self.g)


def advance_python(ops, order, p, clock, counts, alpha, t_target, budget, max_steps, t_stop) -> int:
    """:func:`solvers._hj_march.march` written over the calls of ``ops`` (see the module docstring):
    the same decisions in the same order, so the same time steps on every backend."""
    bufs = ops.bufs
    ih, cfl, nu, dif_rate = p.ih, p.cfl, p.nu, p.dif_rate

    def adv_rate(al):
        return float(sum(float(a) * w for a, w in zip(al, ih)))

    def energy(V):
        return M.grad_energy(np.asarray(ops.get_interior(V)), p.h3[:len(ih)], p.periodic)

    merge = M.merges_heat(p)
    if merge:  # the heat half-steps of consecutive split steps merged, as in the compiled march
        spec = getattr(ops, "_spectral", None)
        if spec is None:
            shape = np.asarray(ops.get_interior(bufs[order[0]])).shape
            spec = ops._spectral = spectral_tables(shape, p.h3[:len(ih)], ops.sch.laplacian_order)
    up3 = (...,) + (None,) * (3 - len(ih))

    def heat_merged(V_from, V_to, tau_a, tau_b):
        if isinstance(V_from, np.ndarray):  # CPU buffers: straight from and into their interiors
            return heat_spectral(ops.get_interior(V_from)[up3], ops.get_interior(V_to)[up3], spec, tau_a, tau_b)
        u = np.array(ops.get_interior(V_from), dtype=np.float64)
        out = np.empty_like(u)
        energies = heat_spectral(u[up3], out[up3], spec, tau_a, tau_b)
        ops.set_interior(V_to, out)
        return energies

    def leave(code):
        if merge and clock[M.TAU_PENDING] != 0.0:  # the state, pending half-step applied, in order[1]
            heat_merged(bufs[order[0]], bufs[order[1]], float(clock[M.TAU_PENDING]), 0.0)
        clock[M.T_NOW] = t_now
        return code

    t_now = float(clock[M.T_NOW])
    taken = 0
    while True:
        if not np.all(np.isfinite(alpha)):
            return leave(M.NONFINITE)
        if t_now >= p.t_final:
            return leave(M.FINISHED)
        if (max_steps >= 0 and counts[M.STEP] >= max_steps) or t_now >= t_stop:
            return leave(M.STOPPED)
        adv = adv_rate(alpha)
        explicit = nu == 0.0 or p.mode == M.EXPLICIT or (p.mode == M.AUTO and dif_rate <= adv)
        rate = adv + dif_rate if explicit else adv
        dt_cfl = cfl / rate if rate > 0 else math.inf
        dt_cfl = min(dt_cfl, p.max_dt)
        remaining = t_target - t_now
        if dt_cfl < 1e-9 * (p.t_final - t_now):
            return leave(M.STEP_TOO_SMALL)
        if explicit and merge and clock[M.TAU_PENDING] != 0.0:
            V = bufs[order[0]]
            heat_merged(V, V, float(clock[M.TAU_PENDING]), 0.0)
            clock[M.TAU_PENDING] = 0.0
        dt = min(dt_cfl, remaining)
        iu, i1, i2 = (int(x) for x in order)
        src, s1, s2 = bufs[iu], bufs[i1], bufs[i2]
        if explicit and not p.rk3:
            a_in, finite = ops.first_stage(src, s1, nu, dt)
            if finite and dt * (adv_rate(a_in) + dif_rate) > cfl * (1.0 + 1e-12):
                dt = cfl / (adv_rate(a_in) + dif_rate)
                counts[M.N_RETRIES] += 1
                ops.first_stage(src, s1, nu, dt)
            ires = i1
        elif explicit:
            a_in, finite = ops.slopes(src)
            if finite and dt * (adv_rate(a_in) + dif_rate) > cfl * (1.0 + 1e-12):
                dt = cfl / (adv_rate(a_in) + dif_rate)
                counts[M.N_RETRIES] += 1
            if finite:
                ops.stage_filled(src, s1, nu, dt)
            ires = i1
        else:
            src, s1, s2 = bufs[i1], bufs[i2], bufs[iu]
            dt = min(dt, float(clock[M.DT_ACC]))
            g0 = 0.0 if merge else energy(bufs[iu])
            tries = cuts = 0
            while True:
                if merge:
                    g0, g1 = heat_merged(bufs[iu], src, float(clock[M.TAU_PENDING]), 0.5 * nu * dt)
                else:
                    ops.heat(bufs[iu], src, 0.5 * nu * dt)
                    g1 = energy(src)
                x, rel, contrib = M.split_error(g0, g1, dt)
                if rel > p.split_rtol and rel * contrib > p.split_rtol * max(float(clock[M.HAM_INT]), p.err_floor) \
                        and cuts < 16:
                    dt *= M.cut_factor(p.x_target, x)
                    cuts += 1
                    continue
                a_in, finite = ops.first_stage(src, s1, 0.0, dt)
                tries += 1
                if not finite or not dt * adv_rate(a_in) > 1.0 or tries == 8:
                    break
                dt = cfl / adv_rate(a_in)
                counts[M.N_RETRIES] += 1
            counts[M.N_SPLIT] += 1
            counts[M.N_SPLIT_CUTS] += cuts
            clock[M.HAM_INT] += contrib
            clock[M.DT_ACC] = M.accuracy_limit(p, clock, cuts, x, rel, g0, dt, dt_cfl)
            ires = i2
        if not finite:
            alpha[:] = a_in
            return leave(M.NONFINITE)
        res = ops.other_stages(src, s1, s2, nu if explicit else 0.0, dt)
        assert res is bufs[ires]
        if explicit:
            counts[M.N_EXPLICIT] += 1
            order[:] = (ires, iu, i2)
        elif merge:
            clock[M.TAU_PENDING] = 0.5 * nu * dt
            order[:] = (ires, iu, i1)
        else:
            ops.heat(res, res, 0.5 * nu * dt)
            order[:] = (ires, iu, i1)
        alpha[:] = a_in
        counts[M.STEP] += 1
        taken += 1
        if dt < remaining:
            t_now = t_now + dt
            clock[M.DT_MIN] = min(clock[M.DT_MIN], dt)
            clock[M.DT_MAX] = max(clock[M.DT_MAX], dt)
        else:
            t_now = float(t_target)
        clock[M.DT_MIN_ALL] = min(clock[M.DT_MIN_ALL], dt)
        clock[M.DT_MAX_ALL] = max(clock[M.DT_MAX_ALL], dt)
        if t_now >= t_target:
            return leave(M.REACHED_TARGET)
        if taken >= budget:
            return leave(M.BUDGET_USED)


#: March return code -> driver status (the driver itself decides "stopped" from ``max_steps`` / ``stop_at``).
_STATUS = {M.REACHED_TARGET: "success", M.BUDGET_USED: "success", M.FINISHED: "success", M.STOPPED: "success",
           M.NONFINITE: "nonfinite", M.STEP_TOO_SMALL: "step_too_small"}

#: Checkpoint scalars kept in the ``clock`` / ``counts`` arrays (names as in earlier checkpoints).
CKPT_FIELDS = {"dt_min": ("clock", M.DT_MIN), "dt_max": ("clock", M.DT_MAX), "dt_min_all": ("clock", M.DT_MIN_ALL),
               "dt_max_all": ("clock", M.DT_MAX_ALL), "ham_int": ("clock", M.HAM_INT),
               "dt_acc": ("clock", M.DT_ACC), "n_explicit": ("counts", M.N_EXPLICIT),
               "n_split": ("counts", M.N_SPLIT), "n_retries": ("counts", M.N_RETRIES),
               "n_split_cuts": ("counts", M.N_SPLIT_CUTS), "tau_pending": ("clock", M.TAU_PENDING)}


class HJStepper:
    """One ``solve_hj`` run behind the stepper interface of :mod:`solvers._driver`.

    Parameters
    ----------
    ops : CpuStepper, CpuOps or solvers._cuda_hj.CudaStepper
        The state buffers and kernels; a :class:`CpuStepper` runs the compiled march, the others
        :func:`advance_python` (the same step rule).
    params : solvers._hj_march.MarchParams
    inner : tuple of slices
        The user grid inside the computational grid (padded callables); saved states are cropped to it.
    split_kernels : bool
        Also compile the host-side split-accuracy kernels (CUDA runs with split diffusion).

    ``alpha`` (the lagged CFL slopes, shape ``(d,)``) starts as the slopes of the initial state (taken
    by the first :meth:`advance`, after :meth:`warmup`) or comes from a checkpoint.  When a
    call of :meth:`advance` reaches ``params.t_final`` the final state, which no stage kernel has read,
    is checked for non-finite values once (status ``"nonfinite"``).
    """

    def __init__(self, ops, params, inner, split_kernels=False):
        self.ops, self.p, self.inner, self.split_kernels = ops, params, inner, bool(split_kernels)
        self.compiled = isinstance(ops, CpuStepper)
        self.order = np.array([0, 1, 2], dtype=np.int64)
        self.clock = M.new_clock()
        self.counts = np.zeros(5, dtype=np.int64)
        self.alpha = None

    @property
    def t(self) -> float:
        return float(self.clock[M.T_NOW])

    @property
    def n_steps(self) -> int:
        return int(self.counts[M.STEP])

    @property
    def buffer(self):
        """The (padded, backend) buffer holding the state at :attr:`t` (:func:`solvers._hj_march.visible`)."""
        return self.ops.bufs[M.visible(self.order, self.clock)]

    def warmup(self) -> float:
        seconds = self.ops.warmup()
        if self.split_kernels:  # the split-accuracy kernels run on the host for CUDA states
            t0 = time.perf_counter()
            d = len(self.p.ih)
            tiny = np.zeros((4,) * d)
            M.grad_energy(tiny, (1.0,) * d, self.p.periodic)
            M.grad_energy(tiny[(slice(1, 3),) * d], (1.0,) * d, self.p.periodic)
            M.split_error(1.0, 0.5, 1.0)
            if M.merges_heat(self.p):
                u = tiny[(...,) + (None,) * (3 - d)]
                heat_spectral(u, u, spectral_tables(tiny.shape, (1.0,) * d), 0.0, 0.0)
            seconds += time.perf_counter() - t0
        return seconds

    def advance(self, t_target, max_steps, t_stop=math.inf) -> str:
        if self.alpha is None:  # slopes of the initial state; later ones come out of the stage kernels
            self.alpha = np.array(self.ops.slopes(self.ops.bufs[0])[0], dtype=np.float64)
        args = (self.p, self.clock, self.counts, self.alpha, float(t_target), int(max_steps), -1, float(t_stop))
        if self.compiled:
            self.ops.order[:] = self.order
            code = self.ops.advance(*args)
            self.order[:] = self.ops.order
        else:
            code = advance_python(self.ops, self.order, *args)
        status = _STATUS[code]
        if status == "success" and self.t >= self.p.t_final:  # the final state: checked once
            a_end, finite = self.ops.slopes(self.buffer)
            if not finite:
                self.alpha[:] = a_end
                status = "nonfinite"
        return status

    def state(self) -> np.ndarray:
        """A host copy of the state on the user grid."""
        return np.array(self.ops.get_interior(self.buffer))[self.inner].copy()

    def full_state(self) -> np.ndarray:
        """A host copy of the state on the computational grid."""
        return np.array(self.ops.get_interior(self.buffer))

    def checkpoint_state(self):
        if self.alpha is None:
            self.alpha = np.array(self.ops.slopes(self.ops.bufs[0])[0], dtype=np.float64)
        scalars = {"alpha_lag": [float(a) for a in self.alpha]}
        for key, (arr, i) in CKPT_FIELDS.items():
            scalars[key] = float(self.clock[i]) if arr == "clock" else int(self.counts[i])
        arrays = {"u": self.full_state()}
        if self.clock[M.TAU_PENDING] != 0.0:  # merged split steps: the march continues from this state
            arrays["u_pending"] = np.array(self.ops.get_interior(self.ops.bufs[self.order[0]]))
        return scalars, arrays

    def restore(self, scalars, arrays):
        self.ops.set_interior(self.ops.bufs[0], arrays.get("u_pending", arrays["u"]))
        self.ops.set_interior(self.ops.bufs[1], arrays["u"])  # the visible state while a half-step is pending
        self.order[:] = (0, 1, 2)
        self.alpha = np.array(scalars["alpha_lag"], dtype=np.float64)
        self.clock[M.T_NOW], self.counts[M.STEP] = float(scalars["t_now"]), int(scalars["step"])
        for key, (arr, i) in CKPT_FIELDS.items():  # (keys added later are absent from older checkpoints)
            if key in scalars:
                (self.clock if arr == "clock" else self.counts)[i] = scalars[key]

    def diagnostics(self) -> dict:
        """dt statistics and step counts for the result."""
        c, n = self.clock, self.counts
        if c[M.DT_MAX] == 0.0:  # every step was shortened to a save time
            dt_min, dt_max = c[M.DT_MIN_ALL], c[M.DT_MAX_ALL]
        else:
            dt_min, dt_max = c[M.DT_MIN], c[M.DT_MAX]
        if n[M.STEP] == 0:
            dt_min = dt_max = 0.0
        return {"dt_min": float(dt_min), "dt_max": float(dt_max), "n_explicit_steps": int(n[M.N_EXPLICIT]),
                "n_split_steps": int(n[M.N_SPLIT]), "n_cfl_retries": int(n[M.N_RETRIES]),
                "n_split_accuracy_cuts": int(n[M.N_SPLIT_CUTS])}


__all__ = ["CpuStepper", "CpuOps", "HJStepper", "advance_python", "heat_apply"]
