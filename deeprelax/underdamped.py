r"""Underdamped (momentum) Langevin dynamics, its Gibbs marginal and its overdamped limit.

.. math:: dx = p\,dt,\qquad dp = -\big(\nabla f(x) + c\,p\big)\,dt + \sigma\,dW .

The noise that gives the invariant density :math:`\propto e^{-\beta(f(x) + |p|^2/2)}`, i.e. the
marginal :math:`e^{-\beta f}` of SGD/Langevin at inverse temperature ``beta``, is

.. math:: \sigma = \sqrt{2c/\beta}.

*Derivation.*  The Fokker-Planck operator applied to :math:`\rho = e^{-\beta(f + |p|^2/2)}` gives
:math:`-p\cdot\nabla_x\rho + \nabla_p\cdot((\nabla f + cp)\rho) + \tfrac{\sigma^2}{2}\Delta_p\rho
= \big[\beta p\cdot\nabla f + (c d - \beta\,p\cdot\nabla f - \beta c|p|^2)
+ \tfrac{\sigma^2}{2}(\beta^2|p|^2 - \beta d)\big]\rho`, which vanishes for all ``x, p`` iff
:math:`\sigma^2\beta/2 = c`.  The review's ``sigma = sqrt(c/beta)`` (seed 000) samples
:math:`e^{-2\beta(f + |p|^2/2)}`: the marginal :math:`e^{-2\beta f}`, at half the temperature.

*Overdamped limit.*  With time rescaled by the friction, :math:`X_c(s) = x(c s)` tends to the
overdamped Langevin process :math:`dX = -\nabla f\,ds + \sqrt{2/\beta}\,dW` as ``c -> inf``.  For
``f = a x^2/2`` the slow rate in the rescaled time is :math:`c(c - \sqrt{c^2 - 4a})/2 = a + a^2/c^2 +
O(c^{-4})`, so the laws agree to :math:`O(c^{-2})` when ``p`` starts in equilibrium
(:func:`linear_moments` gives the exact law of the linear case; the validation suite fits the order).

Integrator: BAOAB (Leimkuhler-Matthews): half kick, half drift, the exact Ornstein-Uhlenbeck step
:math:`p \leftarrow e^{-ch}p + \sqrt{(1 - e^{-2ch})/\beta}\,\xi` (stable for any ``c h``), half drift,
half kick; its configurational law is exact for quadratic ``f`` and second order otherwise.
Random numbers are the counter-based normals of :mod:`deeprelax.dynamics` (chain ``c``, counter =
step), so results do not depend on the thread count.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import linalg

from solvers.jit import njit, pnjit, prange, use_parallel
from solvers.errors import NonFiniteError, check_count, check_positive
from solvers.result import register_result

from . import _rng as K
from ._kernel_loss import loss_grad_rows
from ._nbloss import loss_scratch_len
from ._dyn_common import Trajectory, _loss, _master_key, _seed, _slots, _x0

__all__ = ["underdamped_langevin", "underdamped_sigma", "linear_moments", "UnderdampedTrajectory"]


def underdamped_sigma(friction, beta):
    """Noise amplitude ``sigma = sqrt(2 c / beta)`` whose invariant marginal is ``exp(-beta f)``."""
    c = check_positive("friction", friction)
    b = check_positive("beta", beta)
    return math.sqrt(2.0 * c / b)


@register_result
@dataclass(frozen=True, repr=False)
class UnderdampedTrajectory(Trajectory):
    """:class:`~deeprelax.dynamics.Trajectory` plus the momenta.

    Attributes
    ----------
    ps : ndarray, shape (n_saved, n_chains, d)
        Momenta at the saved steps.
    p : ndarray, shape (n_chains, d)
        Final momenta.
    """

    ps: Optional[np.ndarray] = None
    p: Optional[np.ndarray] = None


@njit
def _baoab_block(b0, bw, kind, params, X0, P0, n_steps, h, c, sigp, master, slot, xs, ps, xf, pf, status):
    """Chains ``b0 .. b0 + bw - 1``: BAOAB steps with one gradient dispatch per half kick (module docstring)."""
    nc, d = X0.shape
    B = min(nc, b0 + bw) - b0
    X = np.empty((B, d))
    Pm = np.empty((B, d))
    G = np.empty((B, d))
    S = np.empty(loss_scratch_len(kind, params))
    keys = np.empty(B, np.uint64)
    alive = np.ones(B, np.bool_)
    for i in range(B):
        keys[i] = K.chain_key(master, b0 + i, K.STREAM_NOISE)
        for k in range(d):
            X[i, k] = X0[b0 + i, k]
            Pm[i, k] = P0[b0 + i, k]
    e = math.exp(-c * h)
    hh = 0.5 * h
    sl = slot[0]
    if sl >= 0:
        for i in range(B):
            for k in range(d):
                xs[sl, b0 + i, k] = X[i, k]
                ps[sl, b0 + i, k] = Pm[i, k]
    loss_grad_rows(kind, params, X, G, 0, B, S)
    for step in range(n_steps):
        for i in range(B):
            if alive[i]:
                for k in range(d):
                    Pm[i, k] -= hh * G[i, k]
                    X[i, k] += hh * Pm[i, k]
                    Pm[i, k] = e * Pm[i, k] + sigp * K.znormal(keys[i], step * d + k)
                    X[i, k] += hh * Pm[i, k]
        loss_grad_rows(kind, params, X, G, 0, B, S)
        for i in range(B):
            if alive[i]:
                ok = True
                for k in range(d):
                    Pm[i, k] -= hh * G[i, k]
                    if not (abs(X[i, k]) < 1e300 and abs(Pm[i, k]) < 1e300):
                        ok = False
                if not ok:
                    alive[i] = False
                    status[b0 + i] = step
        sl = slot[step + 1]
        if sl >= 0:
            for i in range(B):
                for k in range(d):
                    xs[sl, b0 + i, k] = X[i, k]
                    ps[sl, b0 + i, k] = Pm[i, k]
    for i in range(B):
        for k in range(d):
            xf[b0 + i, k] = X[i, k]
            pf[b0 + i, k] = Pm[i, k]


@njit
def _baoab_ser(kind, params, X0, P0, n_steps, h, c, sigp, master, slot, xs, ps, xf, pf, status, bw):
    for b in range(0, X0.shape[0], bw):
        _baoab_block(b, bw, kind, params, X0, P0, n_steps, h, c, sigp, master, slot, xs, ps, xf, pf, status)


@pnjit
def _baoab_par(kind, params, X0, P0, n_steps, h, c, sigp, master, slot, xs, ps, xf, pf, status, bw):
    nb = (X0.shape[0] + bw - 1) // bw
    for ib in prange(nb):
        _baoab_block(ib * bw, bw, kind, params, X0, P0, n_steps, h, c, sigp, master, slot, xs, ps, xf, pf, status)


def underdamped_langevin(loss, x0, *, friction, beta, lr, n_steps, p0="gibbs", rng=None, save_every=None,
                         n_chains=None, parallel=None) -> UnderdampedTrajectory:
    r"""Underdamped Langevin ``dx = p dt, dp = -(grad f + c p) dt + sqrt(2c/beta) dW`` by BAOAB.

    Parameters
    ----------
    loss : any deeprelax loss (built-in, compiled or vectorised user loss: :mod:`deeprelax._kernel_loss`)
    x0 : array, shape (d,) or (n_chains, d)
    friction : float > 0
        ``c``.
    beta : float > 0
        Inverse temperature of the invariant law ``exp(-beta (f + |p|^2/2))``.
    lr : float > 0
        Time step ``h`` (in the unscaled time ``t``; the overdamped limit needs ``t = c s``).
    n_steps : int
    p0 : "gibbs", "zero" or array (n_chains, d)
        Initial momenta: drawn from ``N(0, I/beta)`` (equilibrium), zero, or given.
    rng : numpy.random.Generator or int
    save_every : int, optional
    n_chains : int, optional
    parallel : bool, optional

    Returns
    -------
    UnderdampedTrajectory (``xs``, ``ps`` at the saved steps, ``ts = step h``, ``x``, ``p``)
    """
    loss, kl = _loss(loss, x0)
    X0 = _x0(loss, x0, n_chains)
    nc, d = X0.shape
    c = check_positive("friction", friction)
    b = check_positive("beta", beta)
    h = check_positive("lr", lr)
    n_steps = check_count("n_steps", n_steps, minimum=1)
    key = _master_key(rng)
    gen = np.random.default_rng(key)
    if isinstance(p0, str):
        if p0 == "gibbs":
            P0 = gen.standard_normal((nc, d)) / math.sqrt(b)
        elif p0 == "zero":
            P0 = np.zeros((nc, d))
        else:
            raise ValueError(f"`p0` must be 'gibbs', 'zero' or an array of shape ({nc}, {d}); got {p0!r}.")
    else:
        P0 = np.asarray(p0, dtype=np.float64)
        if P0.shape != (nc, d) or not np.all(np.isfinite(P0)):
            raise ValueError(f"`p0` must be a finite array of shape ({nc}, {d}); got shape {P0.shape}.")
    P0 = np.ascontiguousarray(P0)
    slot, saved = _slots(n_steps, save_every)
    ns = saved.size
    xs, ps = np.zeros((ns, nc, d)), np.zeros((ns, nc, d))
    xf, pf = np.zeros((nc, d)), np.zeros((nc, d))
    status = np.full(nc, -1, np.int64)
    sigp = math.sqrt((1.0 - math.exp(-2.0 * c * h)) / b)
    par = (nc > 64 and use_parallel(nc * n_steps)) if parallel is None else bool(parallel)
    par = par and not kl.vectorised                  # Python losses: one grad call per half kick on all chains
    KK = kl.kernels(globals())
    fn = KK._baoab_par if par else KK._baoab_ser
    t0 = time.perf_counter()
    with kl.active():
        fn(kl.kind, kl.params, X0, P0, n_steps, h, c, sigp, np.uint64(key), slot, xs, ps, xf, pf, status,
           kl.block(nc, 64))
    wall = time.perf_counter() - t0
    if np.any(status >= 0):
        i = int(np.argmax(status >= 0))
        raise NonFiniteError(f"underdamped_langevin: chain {i} became non-finite at step {int(status[i])}; "
                             f"reduce `lr` (got {h}).")
    prm = {"friction": c, "beta": b, "sigma": underdamped_sigma(c, b), "lr": h, "n_steps": n_steps,
           "n_chains": nc, "save_every": save_every, "parallel": par, "loss": repr(loss), "loss_path": kl.path, "integrator": "BAOAB"}
    return UnderdampedTrajectory(xs=xs, steps=saved, ts=saved * h, x=xf, algorithm="underdamped_langevin",
                                 params=prm, seed=_seed(key), wall_time=wall, ps=ps, p=pf)


def linear_moments(a, friction, beta, x0, t, p_var0=None):
    r"""Exact mean and variance of ``x(t)`` for ``f = a x^2/2`` in 1-D (the linear SDE).

    ``z = (x, p)``: ``dz = M z dt + (0, sigma) dW`` with ``M = [[0, 1], [-a, -c]]``; the mean is
    ``e^{Mt} z0`` and the covariance ``S_inf + e^{Mt} (S0 - S_inf) e^{M't}`` with ``S_inf`` the solution
    of ``M S + S M' + Q = 0`` (``diag(1/(beta a), 1/beta)``), ``Q = diag(0, sigma^2)``,
    ``S0 = diag(0, p_var0)`` (``p_var0`` default ``1/beta``, the equilibrium momentum).
    Returns ``(mean_x, var_x)``.
    """
    c = float(friction)
    M = np.array([[0.0, 1.0], [-float(a), -c]])
    Q = np.diag([0.0, 2.0 * c / float(beta)])
    S0 = np.diag([0.0, 1.0 / float(beta) if p_var0 is None else float(p_var0)])
    Sinf = linalg.solve_continuous_lyapunov(M, -Q)
    E = linalg.expm(M * t)
    cov = Sinf + E @ (S0 - Sinf) @ E.T
    mean = E @ np.array([float(x0), 0.0])
    return float(mean[0]), float(cov[0, 0])
