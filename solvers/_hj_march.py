r"""The compiled time march of :func:`solvers.hj.solve_hj` on the CPU.

:func:`march` advances the ghost-padded state with the stage, slope and ghost kernels of one
(dimension, derivative family, threading) choice (the ``march_*`` wrappers of
:mod:`solvers._hj_stages_1d`, ``_2d``, ``_3d`` bind them) until one of: the next save time is reached, a step budget is
used up (the driver returns to Python to checkpoint or update a progress bar), the final time, a
non-finite state, a step below ``1e-9`` of the remaining time, or ``max_steps`` / ``stop_at``.
Everything a step does runs inside Numba: the CFL rule on the lagged slopes, the first-stage check
and its redo, the explicit Runge-Kutta stages, the Strang splitting with the exact heat semigroup
(:func:`solvers.heat.heat_apply_into`), the non-finite check and the step statistics.

On a periodic grid (every axis periodic, 1-3 D) the heat half-steps of consecutive split steps are merged:
``D(dt1/2) E(dt1) D(dt1/2) D(dt2/2) E(dt2) D(dt2/2) ..`` runs as ``D(dt1/2) E(dt1) D((dt1+dt2)/2) E(dt2) ..``,
one real-FFT pair per step (:func:`solvers.heat.heat_spectral`, which also gives the gradient energies
of the accuracy control by Parseval, without a pass over the grid: ``G0`` of the state at the step's
start, pending half-step applied, and ``G1`` after this step's first half-step, the two numbers the
unmerged rule takes from the grid, so the controller decides the same steps up to round-off).  The trailing half-step of the
last split step is pending in ``clock[TAU_PENDING]``: it is applied to the state before an explicit
step, and on return the march writes the state with it applied into the scratch buffer
``bufs[order[1]]`` (:func:`visible`), which is what is saved or handed to a callback, while the march
continues from the pending state.  So returning to Python (save times, checkpoints, callbacks,
progress updates) changes nothing: a run is the same bit for bit however it is chunked, and equal to
the unmerged rule up to round-off.

The arithmetic is that of the Python loop it replaces, operation for operation (the same ``dt``
sequence and the same kernels), so explicit runs are bit-identical to it; split runs differ only by
the heat substep's round-off (Numba's ``exp`` and pocketfft through rocket-fft instead of NumPy's; and
the merged half-steps above, which :func:`solvers._hj_steppers.advance_python` also takes).

Interface (all arrays updated in place):

* ``bufs``: three padded float64 arrays; ``order[0]`` indexes the one holding the state, ``order[1:]``
  the scratch ones (the march rotates ``order``); ``views`` / ``views3``: their interiors, in the same
  order (``views3`` with trailing length-1 axes up to 3-D, for :func:`grad_energy_kernel`);
* ``cb``: the stage slope buffer; ``p``: a :class:`MarchParams`; ``heat``: ``(tables, spec)``, the
  :func:`solvers.heat.heat_tables` and (periodic grids) :func:`solvers.heat.spectral_tables`, else
  :func:`solvers.heat.no_spectral_tables` (with the work space of the heat substeps);
* ``clock``: float64 (:data:`T_NOW`, dt statistics, the split controller's Hamiltonian integral and
  accuracy-limited step, the pending heat time of merged split steps), ``counts``: int64 (:data:`STEP`, explicit / split steps, CFL redos, accuracy
  cuts), ``alpha``: the lagged CFL slopes, shape ``(d,)``;
* ``t_target``: the time to land on (the next save time); ``budget``: steps before returning;
  ``max_steps``: stop once the step count reaches it (-1: none); ``t_stop``: stop once ``t_now`` reaches it.

Returns one of the ``REACHED_TARGET .. STOPPED`` codes below.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .jit import njit
from .heat import heat_apply_into, heat_spectral_1d, heat_spectral_nd

#: Return codes of :func:`march`.
REACHED_TARGET, BUDGET_USED, FINISHED, NONFINITE, STEP_TOO_SMALL, STOPPED = range(6)

#: Diffusion treatment codes (``MarchParams.mode``).
AUTO, EXPLICIT, SPLIT = range(3)

MarchParams = namedtuple("MarchParams", [
    "g",          # ghost width
    "ih",         # d-tuple of 1 / h_k
    "q",          # d-tuple of 1 / h_k^2
    "periodic",   # d-tuple of bools
    "h3",         # 3-tuple of h_k (padded with 1.0) for the gradient energy
    "p3",         # 3-tuple of periodic flags (padded with False)
    "nu",         # viscosity 1 / (2 beta) (0 for beta = inf)
    "ham",        # numerical Hamiltonian code
    "rk3",        # TVD-RK3 (else forward Euler)
    "cfl",        # Courant number
    "dif_rate",   # explicit diffusion rate sum_k 2 nu kappa / h_k^2
    "mode",       # AUTO, EXPLICIT or SPLIT
    "max_dt",     # upper bound on dt (inf: none)
    "t_final",    # t
    "split_rtol",  # SPLIT_RTOL: allowed midpoint error of a split step's Hamiltonian integral
    "x_target",   # decay exponent aimed at when a split step is cut
    "err_floor",  # Hamiltonian integrals below this are round-off
])

#: Split steps: relative error allowed in the time integral of the Hamiltonian over one step (see
#: :func:`split_error`); steps whose estimated error exceeds it (and matters) are shortened.
SPLIT_RTOL = 1e-3

#: Entries of the ``clock`` (float64) and ``counts`` (int64) arrays.
T_NOW, DT_MIN, DT_MAX, DT_MIN_ALL, DT_MAX_ALL, HAM_INT, DT_ACC, TAU_PENDING = range(8)
STEP, N_EXPLICIT, N_SPLIT, N_RETRIES, N_SPLIT_CUTS = range(5)


def new_clock():
    """A fresh ``clock`` array (see :data:`T_NOW` ..)."""
    return np.array([0.0, math.inf, 0.0, math.inf, 0.0, 0.0, math.inf, 0.0])


@njit
def grad_energy_kernel(u, h0, h1, h2, p0, p1, p2):
    """Sum over axes of the mean squared forward difference / h^2 of a 3-D array (one pass)."""
    n0, n1, n2 = u.shape
    s0 = s1 = s2 = 0.0
    if n1 == 1 and n2 == 1:  # 1-D: the same sums in the same order, without the per-cell branches
        for i in range(n0 - 1):
            e = u[i + 1, 0, 0] - u[i, 0, 0]
            s0 += e * e
        if p0 and n0 > 1:
            e = u[0, 0, 0] - u[n0 - 1, 0, 0]
            s0 += e * e
        return s0 / ((n0 if p0 else n0 - 1) * h0 * h0) if n0 > 1 else 0.0
    for i in range(n0):
        i1 = i + 1 if i + 1 < n0 else (0 if p0 else -1)
        for j in range(n1):
            j1 = j + 1 if j + 1 < n1 else (0 if p1 else -1)
            for k in range(n2):
                k1 = k + 1 if k + 1 < n2 else (0 if p2 else -1)
                c = u[i, j, k]
                if i1 >= 0:
                    e = u[i1, j, k] - c
                    s0 += e * e
                if j1 >= 0:
                    e = u[i, j1, k] - c
                    s1 += e * e
                if k1 >= 0:
                    e = u[i, j, k1] - c
                    s2 += e * e
    out = 0.0
    if n0 > 1:
        out += s0 / ((n0 if p0 else n0 - 1) * n1 * n2 * h0 * h0)
    if n1 > 1:
        out += s1 / (n0 * (n1 if p1 else n1 - 1) * n2 * h1 * h1)
    if n2 > 1:
        out += s2 / (n0 * n1 * (n2 if p2 else n2 - 1) * h2 * h2)
    return out


def grad_energy(u: np.ndarray, spacing, periodic) -> float:
    """Mean of ``|D u|^2`` over the grid (forward differences per axis; periodic axes wrap)."""
    d = u.ndim
    u3 = u[(...,) + (None,) * (3 - d)]          # a view: (n0, n1, n2) with trailing 1s
    h = tuple(float(x) for x in spacing) + (1.0,) * (3 - d)
    p = tuple(bool(x) for x in periodic) + (False,) * (3 - d)
    return float(grad_energy_kernel(u3, *h, *p))


@njit
def split_error(g0, g1, dt):
    """Splitting error of one Strang step, from the gradient energy before (``g0``) and after (``g1``)
    the first half heat substep.

    Within a step the Hamiltonian sees the state diffused by ``dt/2`` only, so the split step
    integrates ``G(s) = mean |grad u(s)|^2`` along the heat flow by the midpoint rule.  With
    ``G(s) ~ G0 exp(-2 x s / dt)`` (``x = log(G0/G1)``, exact for one Fourier mode) the exact
    integral is ``G0 dt (1 - e^{-2x}) / (2x)`` and the midpoint value ``G0 dt e^{-x}``; their
    relative difference is ``1 - x / sinh(x)`` (``x^2/6`` for small x, 1 when the diffusion
    removes the gradient within the step).  Returns ``(x, relative error, contribution)``,
    the contribution being the estimated exact integral ``1/2 int G``.
    """
    if not (g0 > 0 and math.isfinite(g0) and math.isfinite(g1)):
        return 0.0, 0.0, 0.0
    x = math.log(g0 / g1) if g1 > 0 else math.inf
    if x <= 1e-8:
        return max(x, 0.0), 0.0, 0.5 * g0 * dt
    if x > 700.0:
        return x, 1.0, 0.5 * g0 * dt / (2.0 * x)
    rel = 1.0 - x / math.sinh(x)
    return x, rel, 0.5 * g0 * dt * (-math.expm1(-2.0 * x)) / (2.0 * x)


@njit(inline="always")
def cut_factor(x_target, x):
    """Factor by which a split step whose decay exponent is ``x`` is cut: ``min(0.5, x_target / x)``
    (0.5 when ``x`` is infinite: the heat substep removed the whole gradient)."""
    f = x_target / x
    return f if 0.0 < f < 0.5 else 0.5


@njit(inline="always")
def accuracy_limit(p, clock, cuts, x, rel, g0, dt, dt_cfl):
    """The split-step controller while the accuracy limit binds: the next ``dt_acc`` (inf: none)."""
    if cuts or clock[DT_ACC] < math.inf:
        grow = max(min(2.0, p.x_target / x), 1.0) if (rel <= p.split_rtol and x > 0) else 2.0
        # what is left of the decaying gradient energy, 1/2 int_0^inf G0 e^{-2xs/dt} ds, is negligible:
        # any step length is accurate enough
        tail = 0.25 * g0 * dt / x if x > 0 else math.inf
        done = tail <= p.split_rtol * max(clock[HAM_INT], p.err_floor) or dt * grow >= dt_cfl
        return math.inf if done else dt * grow
    return clock[DT_ACC]


def merges_heat(p) -> bool:
    """Whether split steps merge their heat half-steps (periodic grids; see the module docstring)."""
    return p.nu > 0.0 and all(bool(x) for x in p.periodic)


@njit(inline="always")
def _merges(p):
    every = True
    for x in p.periodic:
        every = every and x
    return p.nu > 0.0 and every


def visible(order, clock) -> int:
    """Index of the buffer holding the state at ``clock[T_NOW]`` after a return of :func:`march`:
    ``order[1]`` while a merged heat half-step is pending (the march wrote the state with it applied
    there), else ``order[0]``."""
    return int(order[1]) if clock[TAU_PENDING] != 0.0 else int(order[0])


@njit(inline="always")
def _spectral(one_d, src3, dst3, spec, tau_a, tau_b):
    """:func:`solvers.heat.heat_spectral`, its 1-D or its n-D form picked where the march is compiled
    (``one_d = len(p.ih) == 1``, a constant there)."""
    if one_d:
        return heat_spectral_1d(src3, dst3, spec, tau_a, tau_b)
    return heat_spectral_nd(src3, dst3, spec, tau_a, tau_b)


@njit(inline="always")
def _flush(one_d, views3, order, spec, clock):
    """Apply the pending heat half-step (merged split steps) to the state."""
    tau = clock[TAU_PENDING]
    if tau != 0.0:
        v = views3[order[0]]
        _spectral(one_d, v, v, spec, tau, 0.0)
        clock[TAU_PENDING] = 0.0


@njit(inline="always")
def _show(one_d, views3, order, spec, clock):
    """The state with the pending half-step applied, into the scratch buffer ``order[1]`` (see :func:`visible`)."""
    tau = clock[TAU_PENDING]
    if tau != 0.0:
        _spectral(one_d, views3[order[0]], views3[order[1]], spec, tau, 0.0)


@njit(inline="always")
def _adv_rate(al, ih):
    s = 0.0
    for k in range(len(ih)):
        s += al[k] * ih[k]
    return s


@njit(inline="always")
def _reduce(cb, out):
    """``out[k] = max cb[:, k, :]`` (NaN propagates); whether every entry is finite."""
    finite = True
    for k in range(cb.shape[1]):
        m = 0.0
        for blk in range(cb.shape[0]):
            row = cb[blk, k]
            for j in range(row.shape[0]):
                v = row[j]
                if not v <= m:  # larger, or NaN
                    m = v
                    if v != v:
                        break
            if m != m:
                break
        out[k] = m
        finite = finite and (m - m == 0.0)
    return finite


@njit(inline="always")  # inlined into each bound wrapper: the kernels are then plain global calls
def march(stage, slopes, fill, bufs, order, views, views3, cb, p, heat, clock, counts, alpha,
          t_target, budget, max_steps, t_stop):
    """Steps until ``t_now == t_target``, ``budget`` steps, ``counts[STEP] >= max_steps`` (-1: none)
    or ``t_now >= t_stop``; returns a code (module docstring)."""
    ih, q, per, nu, ham, g, cfl = p.ih, p.q, p.periodic, p.nu, p.ham, p.g, p.cfl
    h0, h1, h2 = p.h3
    p0, p1, p2 = p.p3
    dif_rate = p.dif_rate
    tables, spec = heat
    merge = _merges(p)
    one_d = len(ih) == 1
    a_in = alpha.copy()
    t_now = clock[T_NOW]
    taken = 0
    code = FINISHED
    while True:
        # the checks at the top of every step, in the order of the former Python loop
        bad = False
        for k in range(alpha.shape[0]):
            if not math.isfinite(alpha[k]):
                bad = True
        if bad:
            code = NONFINITE
            break
        if t_now >= p.t_final:
            code = FINISHED
            break
        if (max_steps >= 0 and counts[STEP] >= max_steps) or t_now >= t_stop:
            code = STOPPED
            break
        # dt from the slopes of the previous step's input, cut to the exact CFL step of the current
        # state if its slopes are larger (explicit steps), or the first stage redone (split steps)
        adv = _adv_rate(alpha, ih)
        explicit = nu == 0.0 or p.mode == EXPLICIT or (p.mode == AUTO and dif_rate <= adv)
        rate = adv + dif_rate if explicit else adv
        dt_cfl = cfl / rate if rate > 0 else math.inf
        dt_cfl = min(dt_cfl, p.max_dt)
        remaining = t_target - t_now
        if dt_cfl < 1e-9 * (p.t_final - t_now):
            code = STEP_TOO_SMALL
            break
        if explicit:
            _flush(one_d, views3, order, spec, clock)
        dt = min(dt_cfl, remaining)
        iu, i1, i2 = order[0], order[1], order[2]
        src, s1, s2 = bufs[iu], bufs[i1], bufs[i2]
        finite = True
        if explicit and not p.rk3:
            # one memory-bound stage: its fused slopes plus an occasional redo cost less than a
            # separate pass over the state
            fill(src, g, per)
            cb[...] = 0.0
            stage(src, src, s1, cb, ih, q, nu, ham, 0.0, 1.0, dt, True)
            finite = _reduce(cb, a_in)
            if finite and dt * (_adv_rate(a_in, ih) + dif_rate) > cfl * (1.0 + 1e-12):
                dt = cfl / (_adv_rate(a_in, ih) + dif_rate)
                counts[N_RETRIES] += 1
                cb[...] = 0.0
                stage(src, src, s1, cb, ih, q, nu, ham, 0.0, 1.0, dt, True)
            ires = i1
        elif explicit:
            # RK3: slopes of the current state first (one vectorised pass, a few % of a stage); when
            # they exceed the lagged ones dt is cut before the first stage instead of running it twice
            fill(src, g, per)
            slopes(src, ih, cb)
            finite = _reduce(cb, a_in)
            if finite and dt * (_adv_rate(a_in, ih) + dif_rate) > cfl * (1.0 + 1e-12):
                dt = cfl / (_adv_rate(a_in, ih) + dif_rate)
                counts[N_RETRIES] += 1
            if finite:
                stage(src, src, s1, cb, ih, q, nu, ham, 0.0, 1.0, dt, False)
            ires = i1
        else:
            # Strang: D(dt/2) E(dt) D(dt/2).  E must satisfy the hard CFL bound 1 on the diffused
            # state; if not, dt is cut and the step redone from U (bufs[iu] is read until then).
            # Accuracy: the Hamiltonian sees the state diffused by dt/2 only; if diffusion removes
            # most of grad u within the step, the step is shortened (see split_error).
            src, s1, s2 = bufs[i1], bufs[i2], bufs[iu]
            dt = min(dt, clock[DT_ACC])
            g0 = 0.0 if merge else grad_energy_kernel(views3[iu], h0, h1, h2, p0, p1, p2)
            tries = 0
            cuts = 0
            x = rel = contrib = 0.0
            while True:
                if merge:  # the pending half-step of the previous step and this one's, in one FFT pair
                    g0, g1 = _spectral(one_d, views3[iu], views3[i1], spec, clock[TAU_PENDING], 0.5 * nu * dt)
                else:
                    heat_apply_into(views[iu], views[i1], tables, per, 0.5 * nu * dt, spec[7], spec[4])
                    g1 = grad_energy_kernel(views3[i1], h0, h1, h2, p0, p1, p2)
                x, rel, contrib = split_error(g0, g1, dt)
                if rel > p.split_rtol and rel * contrib > p.split_rtol * max(clock[HAM_INT], p.err_floor) \
                        and cuts < 16:
                    dt *= cut_factor(p.x_target, x)
                    cuts += 1
                    continue
                fill(src, g, per)
                cb[...] = 0.0
                stage(src, src, s1, cb, ih, q, 0.0, ham, 0.0, 1.0, dt, True)
                finite = _reduce(cb, a_in)
                tries += 1
                if not finite or not dt * _adv_rate(a_in, ih) > 1.0 or tries == 8:
                    break
                dt = cfl / _adv_rate(a_in, ih)
                counts[N_RETRIES] += 1
            counts[N_SPLIT] += 1
            counts[N_SPLIT_CUTS] += cuts
            clock[HAM_INT] += contrib
            clock[DT_ACC] = accuracy_limit(p, clock, cuts, x, rel, g0, dt, dt_cfl)
            ires = i2
        if not finite:
            for k in range(alpha.shape[0]):
                alpha[k] = a_in[k]
            code = NONFINITE
            break
        nu_e = nu if explicit else 0.0
        if p.rk3:
            fill(s1, g, per)
            stage(s1, src, s2, cb, ih, q, nu_e, ham, 0.75, 0.25, dt, False)
            fill(s2, g, per)
            stage(s2, src, s1, cb, ih, q, nu_e, ham, 1.0 / 3.0, 2.0 / 3.0, dt, False)
        if explicit:
            counts[N_EXPLICIT] += 1
            order[0], order[1], order[2] = ires, iu, i2
        else:
            if merge:  # pending until the next split step (or a flush)
                clock[TAU_PENDING] = 0.5 * nu * dt
            else:
                heat_apply_into(views[ires], views[ires], tables, per, 0.5 * nu * dt, spec[7], spec[4])
            order[0], order[1], order[2] = ires, iu, i1
        for k in range(alpha.shape[0]):
            alpha[k] = a_in[k]
        counts[STEP] += 1
        taken += 1
        if dt < remaining:
            t_now = t_now + dt
            clock[DT_MIN] = min(clock[DT_MIN], dt)
            clock[DT_MAX] = max(clock[DT_MAX], dt)
        else:
            t_now = t_target
        clock[DT_MIN_ALL] = min(clock[DT_MIN_ALL], dt)
        clock[DT_MAX_ALL] = max(clock[DT_MAX_ALL], dt)
        if t_now >= t_target:
            code = REACHED_TARGET
            break
        if taken >= budget:
            code = BUDGET_USED
            break
    _show(one_d, views3, order, spec, clock)
    clock[T_NOW] = t_now
    return code
