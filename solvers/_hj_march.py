r"""The compiled time march of :func:`solvers.hj.solve_hj` on the CPU.

:func:`march` advances the ghost-padded state with the stage, slope and ghost kernels of one
(dimension, derivative family, threading) choice (the ``march_*`` wrappers of
:mod:`solvers._hj_stages` bind them) until one of: the next save time is reached, a step budget is
used up (the driver returns to Python to checkpoint or update a progress bar), the final time, a
non-finite state, a step below ``1e-9`` of the remaining time, or ``max_steps`` / ``stop_at``.
Everything a step does runs inside Numba: the CFL rule on the lagged slopes, the first-stage check
and its redo, the explicit Runge-Kutta stages, the Strang splitting with the exact heat semigroup
(:func:`solvers.heat.heat_apply`), the non-finite check and the step statistics.

The arithmetic is that of the Python loop it replaces, operation for operation (the same ``dt``
sequence and the same kernels), so explicit runs are bit-identical to it; split runs differ only by
the heat substep's round-off (Numba's ``exp`` and pocketfft through rocket-fft instead of NumPy's).

Interface (all arrays updated in place):

* ``bufs``: three padded float64 arrays; ``order[0]`` indexes the one holding the state, ``order[1:]``
  the scratch ones (the march rotates ``order``); ``views``: their interiors, in the same order;
* ``cb``: the stage slope buffer; ``p``: a :class:`MarchParams`; ``heat``: :func:`solvers.heat.heat_tables`;
* ``clock``: float64 ``[t_now, dt_min, dt_max, dt_min_all, dt_max_all]``; ``counts``: int64
  ``[step, n_explicit, n_split, n_retries]``; ``alpha``: the lagged CFL slopes, shape ``(d,)``.

Returns one of the ``REACHED_TARGET .. STOPPED`` codes below.
"""
from __future__ import annotations

import math
from collections import namedtuple

from ._jit import njit
from .heat import heat_apply

#: Return codes of :func:`march`.
REACHED_TARGET, BUDGET_USED, FINISHED, NONFINITE, STEP_TOO_SMALL, STOPPED = range(6)

#: Diffusion treatment codes (``MarchParams.mode``).
AUTO, EXPLICIT, SPLIT = range(3)

MarchParams = namedtuple("MarchParams", [
    "g",          # ghost width
    "ih",         # d-tuple of 1 / h_k
    "q",          # d-tuple of 1 / h_k^2
    "periodic",   # d-tuple of bools
    "nu",         # viscosity 1 / (2 beta) (0 for beta = inf)
    "ham",        # numerical Hamiltonian code
    "rk3",        # TVD-RK3 (else forward Euler)
    "cfl",        # Courant number
    "dif_rate",   # explicit diffusion rate sum_k 2 nu kappa / h_k^2
    "mode",       # AUTO, EXPLICIT or SPLIT
    "max_dt",     # upper bound on dt (inf: none)
    "t_final",    # t
    "target",     # the next save time (<= t_final)
    "max_steps",  # stop once step >= max_steps (-1: none)
    "stop_at",    # stop once t_now >= stop_at (inf: none)
    "budget",     # return after this many steps (BUDGET_USED)
])


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


@njit
def march(stage, slopes, fill, bufs, order, views, cb, p, heat, clock, counts, alpha):
    ih, q, per, nu, ham, g, cfl = p.ih, p.q, p.periodic, p.nu, p.ham, p.g, p.cfl
    dif_rate = p.dif_rate
    a_in = alpha.copy()
    t_now = clock[0]
    taken = 0
    while True:
        # the checks at the top of every step, in the order of the former Python loop
        for k in range(alpha.shape[0]):
            if not math.isfinite(alpha[k]):
                clock[0] = t_now
                return NONFINITE
        if t_now >= p.t_final:
            clock[0] = t_now
            return FINISHED
        if (p.max_steps >= 0 and counts[0] >= p.max_steps) or t_now >= p.stop_at:
            clock[0] = t_now
            return STOPPED
        # dt from the slopes of the previous step's input, cut to the exact CFL step of the current
        # state if its slopes are larger (explicit steps), or the first stage redone (split steps)
        adv = _adv_rate(alpha, ih)
        explicit = nu == 0.0 or p.mode == EXPLICIT or (p.mode == AUTO and dif_rate <= adv)
        rate = adv + dif_rate if explicit else adv
        dt_cfl = cfl / rate if rate > 0 else math.inf
        dt_cfl = min(dt_cfl, p.max_dt)
        target = p.target
        remaining = target - t_now
        if dt_cfl < 1e-9 * (p.t_final - t_now):
            clock[0] = t_now
            return STEP_TOO_SMALL
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
                counts[3] += 1
                cb[...] = 0.0
                stage(src, src, s1, cb, ih, q, nu, ham, 0.0, 1.0, dt, True)
            ires, iscr = i1, i2
        elif explicit:
            # RK3: slopes of the current state first (one vectorised pass, a few % of a stage); when
            # they exceed the lagged ones dt is cut before the first stage instead of running it twice
            fill(src, g, per)
            slopes(src, ih, cb)
            finite = _reduce(cb, a_in)
            if finite and dt * (_adv_rate(a_in, ih) + dif_rate) > cfl * (1.0 + 1e-12):
                dt = cfl / (_adv_rate(a_in, ih) + dif_rate)
                counts[3] += 1
            if finite:
                stage(src, src, s1, cb, ih, q, nu, ham, 0.0, 1.0, dt, False)
            ires, iscr = i1, i2
        else:
            # Strang: D(dt/2) E(dt) D(dt/2).  E must satisfy the hard CFL bound 1 on the diffused
            # state; if not, dt is cut and the step redone from U (bufs[iu] is read until then)
            src, s1, s2 = bufs[i1], bufs[i2], bufs[iu]
            for _ in range(8):
                heat_apply(views[iu], views[i1], heat, per, 0.5 * nu * dt)
                fill(src, g, per)
                cb[...] = 0.0
                stage(src, src, s1, cb, ih, q, 0.0, ham, 0.0, 1.0, dt, True)
                finite = _reduce(cb, a_in)
                if not finite or not dt * _adv_rate(a_in, ih) > 1.0:
                    break
                dt = cfl / _adv_rate(a_in, ih)
                counts[3] += 1
            ires, iscr = i2, iu
        if not finite:
            for k in range(alpha.shape[0]):
                alpha[k] = a_in[k]
            clock[0] = t_now
            return NONFINITE
        nu_e = nu if explicit else 0.0
        if p.rk3:
            fill(s1, g, per)
            stage(s1, src, s2, cb, ih, q, nu_e, ham, 0.75, 0.25, dt, False)
            fill(s2, g, per)
            stage(s2, src, s1, cb, ih, q, nu_e, ham, 1.0 / 3.0, 2.0 / 3.0, dt, False)
        if explicit:
            counts[1] += 1
            order[0], order[1], order[2] = ires, iu, iscr
        else:
            counts[2] += 1
            heat_apply(views[ires], views[ires], heat, per, 0.5 * nu * dt)
            order[0], order[1], order[2] = ires, iu, i1
        for k in range(alpha.shape[0]):
            alpha[k] = a_in[k]
        counts[0] += 1
        taken += 1
        if dt < remaining:
            t_now = t_now + dt
            clock[1] = min(clock[1], dt)
            clock[2] = max(clock[2], dt)
        else:
            t_now = target
        clock[3] = min(clock[3], dt)
        clock[4] = max(clock[4], dt)
        if t_now >= target:
            clock[0] = t_now
            return REACHED_TARGET
        if taken >= p.budget:
            clock[0] = t_now
            return BUDGET_USED
