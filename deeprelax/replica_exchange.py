r"""Replica-exchange sampler of the local Gibbs measure: the default ``method="sgld"`` estimator.

The local measure of Deep Relaxation (paper-spec §2.1, §2.6) at a point ``x``,

.. math:: \rho(y\,|\,x) \propto \exp\big(-\beta\,[f(y) + c(y)]\big),\qquad c(y) = \frac{|x-y|^2}{2t},

is multimodal whenever ``f`` has several wells within reach of the coupling, and Langevin chains
started at ``x`` stay in the first well they find: the plain Entropy-SGD estimator then returns a
confident wrong answer (issue 16: ``0.082 +- 0.026`` against the exact ``0.237``, R-hat 1.01).

The sampler
-----------
*Ladder.*  Rung ``k`` samples ``exp(-E_k)`` with ``E_k = b_k [lambda_k f + c]`` along a two-leg path
indexed by ``s``:

* ``0 <= s <= 1``: ``lambda = s`` at the hot inverse temperature ``b = b_0``: the loss is switched on
  from ``s = 0``, where rung 0 is the Gaussian ``N(x, (t/b_0) I)``, drawn *exactly and independently*
  at every step;
* ``1 <= s <= 2``: ``lambda = 1``, ``b = b_0 (beta/b_0)^{s-1}`` cools geometrically to the target
  ``b = beta`` (the last rung).

``b_0 <= beta`` is chosen per point so that ``f`` varies by about ``1/b_0`` over the hot reference
(``b_0 sd(f) <= 1`` under ``N(x, t/b_0)``, or where that product stops falling): at that temperature
the barriers between wells are low and the loss can be switched on without a mode appearing abruptly;
then cooling moves the weights of the wells smoothly (when ``b_0 = beta`` only the first leg is used).
Rung 0 mixes perfectly and every state of the target rung is connected to it through the swaps: a
replica that makes a round trip 0 -> target -> 0 carries a fresh independent draw into the target,
whichever well it lands in.  The round trips are counted and required.

*Moves.*  Rungs ``k >= 1`` move by the Entropy-SGD Langevin step
``y' = y - h_k grad E_k(y) + sqrt(2 h_k) xi`` (at the target: ``y - h grad U_x + sqrt(2h/beta) xi`` with
``h = beta h_k``) followed by a Metropolis-Hastings accept/reject (MALA), so each rung's invariant law is
exact: no ``O(eta')`` step bias, and the error bars are purely statistical.  Step sizes adapt towards
acceptance 0.574 during warm-up only and are frozen while sampling.

*Swaps.*  Adjacent rungs exchange states with the Metropolis probability of the pair, even pairs on
even steps and odd pairs on odd steps (deterministic even-odd scheme, non-reversible).

*Ladder tuning.*  During warm-up the swap rejection rates ``r_k`` of the current ladder give the
cumulative communication barrier ``Lambda(s) ~ sum -log(1 - r_k)``; the rungs are re-placed at equal
increments of ``Lambda`` with ``R = ceil(Lambda / rejection) + 1`` rungs (Syed et al. 2021,
non-reversible parallel tempering), per point, after every warm-up stage but the last (and up to two
extra stages while a pair still rejects more than 70 % of its swaps).

*Run length.*  After warm-up (discarded) the chains sample in rounds that double the length, until for
every coordinate the effective number of independent block means ``ESS_b`` (a lower bound of the
effective sample size) reaches ``ess_min``, the split R-hat over the ``n_chains`` independent chains
(started dispersed over the hot reference) is at most ``rhat_max`` and the replicas made at least
``min_round_trips`` round trips; points that meet the criteria stop, the others go on until
``max_steps``.  Points that run out of budget are returned with ``converged = False`` (the caller
warns).

*Error bars.*  ``tau`` is the integrated autocorrelation time of the target rung, from the block means
of all chains with the multi-chain estimator of Vehtari et al. 2021 (:func:`deeprelax.stats.multichain_mean`:
between-chain spread included, Geyer's initial monotone sequence); ``stderr = sqrt(var+ / ESS_b)``.
The reported ``ess`` is in samples (per-step variance over the squared standard error) and
``tau = N / ess`` in steps.  Their coverage over seeds is a validation row (``sgld_coverage``).

*Local entropy itself.*  ``log Z_target = log Z_0 + sum_k log Z_{k+1}/Z_k`` with ``Z_0 = (2 pi t/b_0)^{d/2}``
and the bridge estimates ``log Z_{k+1}/Z_k = log E_k[e^{-dE_k/2}] - log E_{k+1}[e^{dE_k/2}]``
(``dE_k = E_{k+1} - E_k``), so ``u(x, t) = -(1/beta) [log Z_target - (d/2) log(2 pi t/beta)]`` comes with
the same run; its standard error is the delta-method error of the linearised series, with its own
autocorrelation time.

The loss enters the compiled kernels (:mod:`deeprelax._rx_kernel`) through one call,
:func:`~deeprelax._rx_kernel.vg_rows` (values and gradients of a block of rows), the provider
``loss_vg_rows`` of :mod:`deeprelax._kernel_loss`: built-in losses, compiled user losses (``numba.njit``
``value`` and ``grad``, inlined) and vectorised Python losses (``value`` and ``grad`` called once per step on all the
proposals) run the same sampler.  The Metropolis test needs the loss *value* as well as its gradient.
"""
from __future__ import annotations

import math
import time

import numpy as np

from solvers.jit import use_parallel
from solvers.errors import NonFiniteError

from . import _rx_kernel, stats
from ._kernel_loss import kernel_loss
from ._le_base import curvature_bound
from ._rx_kernel import vg_rows  # (also re-exported)

__all__ = ["sample_local_measure", "hot_beta", "vg_rows", "DEFAULTS"]

#: Default criteria and budget of :func:`sample_local_measure`.
DEFAULTS = dict(n_chains=4, ess_min=400.0, rhat_max=1.01, min_round_trips=10, max_steps=2 ** 17,
                n_samples=2048, rejection=0.3, max_rungs=64, init_scale=1.0, warmup=(400, 800, 1600),
                beta_hot=None)

_MAX_BLOCKS = 1024          # block means kept per chain (pairs are merged beyond)


def hot_beta(loss, x, t, beta, rng, n=256):
    """Hot inverse temperature ``b_0 <= beta`` of the reference at point ``x (d,)`` (module docstring).

    Starting at ``b = beta``, ``b`` is divided by 4 (at most 12 times) until either ``f`` varies little
    over the reference, ``b sd(f) <= 1`` under ``N(x, t/b)``, or the reference covers the region where
    the local measure can put its mass: ``3 sqrt(t/b) >= 2 r*`` with
    ``r* = sqrt(2 t (f(x) - f_lo)) + 3 sqrt(t/beta)`` (``f_lo`` the lowest ``f`` seen so far; outside
    ``|y - x| > sqrt(2t (f(x) - min f))`` the energy ``f + |y-x|^2/(2t)`` exceeds its value at ``x``)."""
    b = float(beta)
    d = x.shape[0]
    z = rng.standard_normal((n, d))
    fx = float(np.asarray(loss.value(x[None, :]))[0])
    f_lo = fx
    for _ in range(12):
        fv = np.asarray(loss.value(x[None, :] + math.sqrt(t / b) * z), dtype=np.float64)
        fv = fv[np.isfinite(fv)]
        if fv.size:
            f_lo = min(f_lo, float(fv.min()))
        r_star = math.sqrt(2.0 * t * max(fx - f_lo, 0.0)) + 3.0 * math.sqrt(t / beta)
        v = b * float(np.std(fv)) if fv.size > 2 else math.inf
        if v <= 1.0 or 3.0 * math.sqrt(t / b) >= 2.0 * r_star:
            return b
        b /= 4.0
    return b


def _path(s, b0, beta):
    """``(A, B)`` of the rungs at path parameters ``s``: ``E = A f + B c``."""
    s = np.asarray(s, dtype=np.float64)
    lam = np.minimum(s, 1.0)
    b = b0 * (beta / b0) ** np.clip(s - 1.0, 0.0, 1.0) if b0 < beta else np.full_like(s, beta)
    return b * lam, b


def _reladder(s_old, sw_p, rejection, max_rungs):
    """New ladder (path parameters) from the swap counts ``sw_p (R-1, 2)`` of the pairs of ``s_old (R,)``."""
    att = np.maximum(sw_p[:, 0], 1)
    rej = 1.0 - sw_p[:, 1] / att
    barrier = -np.log(np.clip(1.0 - rej, math.exp(-5.0), 1.0))       # ~ r for small r, capped at 5 per pair
    cum = np.concatenate([[0.0], np.cumsum(barrier)])
    total = float(cum[-1])
    Rn = int(min(max_rungs, max(2, math.ceil(total / rejection) + 1)))
    if total <= 0:
        return np.linspace(s_old[0], s_old[-1], Rn), total, float(rej.max(initial=0.0))
    new = np.interp(np.linspace(0.0, total, Rn), cum, s_old)
    new[0], new[-1] = s_old[0], s_old[-1]
    return np.maximum.accumulate(new), total, float(rej.max(initial=0.0))


def _split_rhat(b):
    """Split R-hat of chains ``b (m, n)`` (halves as separate chains); 1.0 for constant chains."""
    m, n = b.shape
    half = n // 2
    if half < 2:
        return math.inf
    c = np.concatenate([b[:, :half], b[:, n - half:]], axis=0)
    W = c.var(axis=1, ddof=1).mean()
    B = half * c.mean(axis=1).var(ddof=1)
    if W <= 0:
        return 1.0 if B <= 0 else math.inf
    return float(math.sqrt(((half - 1) / half * W + B / half) / W))


def _options(kw):
    o = dict(DEFAULTS)
    o.update({k: v for k, v in kw.items() if v is not None})
    C = o["n_chains"]
    if isinstance(C, bool) or int(C) != C or C < 2:
        raise ValueError(f"`n_chains` must be an integer >= 2 (R-hat needs two chains); got {C!r}.")
    o["n_chains"] = C = int(C)
    if not (0 < o["ess_min"] <= 256 * C):
        raise ValueError(f"`ess_min` must be in (0, 256 n_chains = {256 * C}] (at most {_MAX_BLOCKS} block means "
                         f"per chain are kept); got {o['ess_min']!r}.")
    if not (o["rhat_max"] > 1):
        raise ValueError(f"`rhat_max` must be > 1; got {o['rhat_max']!r}.")
    if int(o["min_round_trips"]) < 0:
        raise ValueError(f"`min_round_trips` must be >= 0; got {o['min_round_trips']!r}.")
    if not (0 < o["rejection"] < 1):
        raise ValueError(f"`rejection` must be in (0, 1); got {o['rejection']!r}.")
    if int(o["max_rungs"]) < 2:
        raise ValueError(f"`max_rungs` must be >= 2; got {o['max_rungs']!r}.")
    n1 = int(o["n_samples"])
    if n1 < 64:
        raise ValueError(f"`n_samples` must be >= 64 (first sampling round); got {n1}.")
    o["n_samples"] = n1 = 1 << int(math.ceil(math.log2(n1)))         # rounds and blocks stay aligned
    if int(o["max_steps"]) < n1:
        raise ValueError(f"`max_steps` must be >= n_samples = {n1}; got {o['max_steps']!r}.")
    if not (o["init_scale"] > 0):
        raise ValueError(f"`init_scale` must be > 0; got {o['init_scale']!r}.")
    warm = [int(w) for w in o["warmup"]]
    if not warm or min(warm) < 16:
        raise ValueError(f"`warmup` must be a non-empty sequence of stage lengths >= 16; got {o['warmup']!r}.")
    o["warmup"] = tuple(warm)
    return o


class _Run:
    """State of one sampling run over ``P`` points and ``C`` chains each (``J = P C`` jobs)."""

    def __init__(self, loss, X, t, beta, o, gen, parallel):
        self.loss, self.X, self.t, self.beta, self.o, self.parallel = loss, X, t, beta, o, parallel
        P, d = X.shape
        C, Rm = o["n_chains"], int(o["max_rungs"])
        self.P, self.d, self.C, self.Rm = P, d, C, Rm
        self.master = np.uint64(int(gen.integers(0, 2 ** 63 - 1)))
        self.kl = kl = kernel_loss(loss)
        if (kl.path == "compiled" and kl.key[0] is None) or (kl.vectorised and "value_rows" not in kl.callbacks):
            raise ValueError(f"the replica-exchange sampler needs the loss value f(x) (Metropolis test), not only "
                             f"its gradient; {loss!r} has none (give `value`, or use sampler='plain').")
        self.KK = kl.kernels(vars(_rx_kernel))
        self.nscr = max(1, kl.scratch())
        bh = o["beta_hot"]
        self.b0 = np.array([min(beta, float(bh)) if bh is not None else hot_beta(loss, X[p], t, beta, gen)
                            for p in range(P)])
        self.smax = np.where(self.b0 < beta * (1 - 1e-12), 2.0, 1.0)
        R0 = min(8, Rm)
        self.nr = np.full(P, R0, np.int64)
        self.sl = np.ones((P, Rm)) * self.smax[:, None]
        self.sl[:, :R0] = np.linspace(0.0, 1.0, R0)[None, :] * self.smax[:, None]
        self.A = np.zeros((P, Rm))
        self.B = np.zeros((P, Rm))
        for p in range(P):
            self._set_path(p)
        J = P * C
        self.Y = np.repeat(X, C, axis=0)[:, None, :] + o["init_scale"] * np.sqrt(t / np.repeat(self.b0, C))[:, None, None] \
            * gen.standard_normal((J, Rm, d))
        self.FY = np.empty((J, Rm))
        self.GY = np.empty((J, Rm, d))
        vg = vg_rows if kl.provider is None else kl.provider["loss_vg_rows"]     # compiled user loss: its own
        with kl.active():
            vg(kl.kind, kl.params, self.Y.reshape(J * Rm, d), self.FY.reshape(J * Rm), self.GY.reshape(J * Rm, d),
               0, J * Rm, np.empty(self.nscr))
        self.H = np.ones((J, Rm))
        self._init_steps()
        self.lab = np.tile(np.arange(Rm, dtype=np.int64), (J, 1))
        self.last = np.full((J, Rm), -1, np.int64)
        self.rt = np.zeros(J, np.int64)
        self.mh = np.zeros((J, Rm, 2), np.int64)
        self.sw = np.zeros((J, Rm, 2), np.int64)
        self.status = np.full(J, -1, np.int64)
        self.shift = np.zeros((P, Rm))
        self.evals = 0

    def _set_path(self, p):
        R = int(self.nr[p])
        A, B = _path(self.sl[p, :R], self.b0[p], self.beta)
        self.A[p] = 0.0
        self.B[p] = self.beta
        self.A[p, :R], self.B[p, :R] = A, B

    def _init_steps(self):
        Cpos = curvature_bound(self.loss, positive=True)
        for p in range(self.P):
            h = 0.5 / (self.A[p] * Cpos + self.B[p] / self.t)
            self.H[p * self.C:(p + 1) * self.C] = h[None, :]

    def run(self, jobs, s0, n, gain, blk, want_u):
        nj, d = jobs.size, self.d
        Rw = int(self.nr[jobs // self.C].max()) - 1 if want_u else 0
        nb = n // blk if blk > 0 else 1
        oy = np.zeros((nj, max(nb, 1), d))
        oy2 = np.zeros((nj, d))
        oa = np.zeros((nj, max(nb, 1), Rw))
        ob = np.zeros_like(oa)
        work = int(n * self.nr[jobs // self.C].sum())
        self.evals += work
        kl = self.kl
        par = use_parallel(work // 64) if self.parallel is None else bool(self.parallel)
        fn = self.KK.run_par if (par and nj > 1 and not kl.vectorised) else self.KK.run_ser
        with kl.active():                            # vectorised path: one block, one grad/value call per step
            fn(jobs, self.C, kl.kind, kl.params, self.X, self.t, self.A, self.B, self.nr, self.Y, self.FY, self.GY,
               self.H, self.lab, self.last, self.rt, self.mh, self.sw, s0, n, gain, blk, self.shift, oy, oy2, oa, ob,
               self.master, self.nscr, self.status, kl.block(nj, 1))
        if np.any(self.status >= 0):
            jb = int(np.argmax(self.status >= 0))
            raise NonFiniteError(f"replica exchange: job {jb} (point {jb // self.C}) met a non-finite loss value at "
                                 f"step {int(self.status[jb])}; the loss must be finite where the local measure "
                                 f"lives (t = {self.t}, beta = {self.beta}).")
        return oy, oy2, oa, ob

    def reladder(self, p):
        """Re-place the rungs of point ``p`` from its swap counts; returns the largest pair rejection."""
        C, R = self.C, int(self.nr[p])
        sw_p = self.sw[p * C:(p + 1) * C, :R - 1].sum(axis=0)
        new, _, worst = _reladder(self.sl[p, :R], sw_p, self.o["rejection"], self.Rm)
        old = self.sl[p, :R].copy()
        src = np.abs(old[None, :] - new[:, None]).argmin(axis=1)
        Rn = new.size
        for j in range(p * C, (p + 1) * C):
            h_new = np.exp(np.interp(new, old, np.log(self.H[j, :R])))
            self.Y[j, :Rn] = self.Y[j, src].copy()
            self.FY[j, :Rn] = self.FY[j, src].copy()
            self.GY[j, :Rn] = self.GY[j, src].copy()
            self.H[j, :Rn] = h_new
            self.lab[j] = np.arange(self.Rm)
            self.last[j] = -1
        self.sl[p] = self.smax[p]
        self.sl[p, :Rn] = new
        self.nr[p] = Rn
        self._set_path(p)
        return worst

    def worst_rejection(self, p):
        C, R = self.C, int(self.nr[p])
        sw_p = self.sw[p * C:(p + 1) * C, :R - 1].sum(axis=0)
        return float((1.0 - sw_p[:, 1] / np.maximum(sw_p[:, 0], 1)).max(initial=0.0))


def sample_local_measure(loss, pts, t, beta, *, want_u=False, rng=0, parallel=None, **kw) -> dict:
    r"""Sample ``rho(y | x)`` at points ``pts (P, d)`` until the criteria hold (module docstring).

    Parameters
    ----------
    loss : Loss (built-in, or a user loss with ``value`` and ``grad``: :mod:`deeprelax._kernel_loss`)
    pts : ndarray, shape (P, d)
    t, beta : float > 0 (``beta`` finite)
    want_u : bool
        Also estimate ``u(x, t)`` (bridge estimator over the ladder).
    rng : int or numpy.random.Generator
    parallel : bool, optional
    **kw : the keys of :data:`DEFAULTS`
        ``n_chains`` (int >= 2, independent replica-exchange systems per point, default 4),
        ``ess_min`` (required effective number of independent block means per coordinate and for
        ``u``, default 400, at most ``256 n_chains``), ``rhat_max`` (split R-hat, default 1.01),
        ``min_round_trips`` (summed over the chains, default 10), ``max_steps`` (sampling steps per
        chain, default 2**17), ``n_samples`` (first sampling round, default 2048; rounds double the
        total), ``rejection`` (target swap rejection per pair, default 0.3), ``max_rungs`` (default
        64), ``init_scale`` (initial states ``x + init_scale sqrt(t/b_0) z``, default 1),
        ``warmup`` (stage lengths, default (400, 800, 1600)), ``beta_hot`` (force ``b_0``;
        default: :func:`hot_beta` per point).

    Returns
    -------
    dict with ``mean (P, d)``, ``stderr (P, d)`` (of the mean), ``tau (P, d)`` (steps), ``ess (P, d)``
    (samples), ``ess_blocks (P, d)``, ``rhat (P,)``, ``round_trips (P,)``, ``converged (P,)``,
    ``n_steps (P,)`` (sampling steps per chain), ``n_rungs (P,)``, ``beta_hot (P,)``, ``ladders``
    (list of ``(lambda, b)`` arrays), ``swap_accept (P,)`` (mean over pairs), ``mh_accept (P,)``,
    ``u (P,)``, ``u_stderr (P,)``, ``ess_u (P,)`` (NaN without ``want_u``), ``seed``, ``settings``,
    ``evaluations`` (loss evaluations, warm-up included), ``loss_path`` (:mod:`deeprelax._kernel_loss`),
    ``message`` and ``wall_time``.
    """
    o = _options(kw)
    t0 = time.perf_counter()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    X = np.ascontiguousarray(pts, dtype=np.float64)
    st = _Run(loss, X, t, beta, o, gen, parallel)
    P, d, C = st.P, st.d, st.C
    jobs_all = np.arange(P * C, dtype=np.int64)
    # ---- warm-up: adapt step sizes; re-place the rungs after each stage but the last (+2 if still poor)
    s0 = 0
    stages = list(o["warmup"])
    extra = 0
    i = 0
    while i < len(stages):
        st.mh[:] = 0
        st.sw[:] = 0
        st.run(jobs_all, s0, stages[i], 0.05, 0, False)
        s0 += stages[i]
        last_stage = i == len(stages) - 1
        if not last_stage:
            for p in range(P):
                st.reladder(p)
        elif extra < 2 and any(st.worst_rejection(p) > 0.7 and st.nr[p] < st.Rm for p in range(P)):
            for p in range(P):
                if st.worst_rejection(p) > 0.7:
                    st.reladder(p)
            stages.append(stages[-1])
            extra += 1
        i += 1
    warm_steps = s0
    st.mh[:] = 0
    st.sw[:] = 0
    st.rt[:] = 0
    st.last[:] = -1
    # bridge shifts: mean energy difference of each pair (numerical range only)
    for p in range(P):
        R = int(st.nr[p])
        js = slice(p * C, (p + 1) * C)
        c = 0.5 * ((st.Y[js, :R] - X[p]) ** 2).sum(axis=-1) / t
        dE = np.diff(st.A[p, :R]) * st.FY[js, :R - 1] + np.diff(st.B[p, :R]) * c[:, :R - 1]
        dE1 = np.diff(st.A[p, :R]) * st.FY[js, 1:R] + np.diff(st.B[p, :R]) * c[:, 1:R]
        st.shift[p, :R - 1] = 0.5 * (dE.mean(axis=0) + dE1.mean(axis=0))
    # ---- sampling rounds, doubling the length
    n1 = o["n_samples"]
    blk = max(1, n1 // 64)
    by = [[] for _ in range(P)]
    ba = [[] for _ in range(P)]
    bb = [[] for _ in range(P)]
    y2 = np.zeros((P, d))
    blk_pt = np.full(P, blk, np.int64)
    n_done = np.zeros(P, np.int64)
    active = np.ones(P, bool)
    conv = np.zeros(P, bool)
    mean = np.full((P, d), np.nan)
    se = np.full((P, d), np.nan)
    tau = np.full((P, d), np.nan)
    ess = np.zeros((P, d))
    ess_b = np.zeros((P, d))
    rhat = np.full(P, np.inf)
    u = np.full(P, np.nan)
    use = np.full(P, np.nan)
    ess_u = np.full(P, np.nan)
    n_round, total = n1, 0
    while True:
        pa = np.flatnonzero(active)
        jobs = (pa[:, None] * C + np.arange(C)[None, :]).ravel().astype(np.int64)
        oy, oy2, oa, ob = st.run(jobs, s0, n_round, 0.0, blk, want_u)
        s0 += n_round
        total += n_round
        for ip, p in enumerate(pa):
            sl = slice(ip * C, (ip + 1) * C)
            R = int(st.nr[p])
            by[p].append(oy[sl])
            y2[p] += oy2[sl].sum(axis=0)
            if want_u:
                ba[p].append(oa[sl, :, :R - 1])
                bb[p].append(ob[sl, :, :R - 1])
            n_done[p] = total
            Yb = np.concatenate(by[p], axis=1)                 # (C, nb, d)
            if Yb.shape[1] > _MAX_BLOCKS:                      # merge pairs of blocks
                Yb = 0.5 * (Yb[:, 0::2] + Yb[:, 1::2])
                if want_u:
                    Ab, Bb = np.concatenate(ba[p], axis=1), np.concatenate(bb[p], axis=1)
                    ba[p], bb[p] = [0.5 * (Ab[:, 0::2] + Ab[:, 1::2])], [0.5 * (Bb[:, 0::2] + Bb[:, 1::2])]
                blk_pt[p] *= 2
            by[p] = [Yb]
            n_tot = C * total
            rh = []
            for k in range(d):
                e = stats.multichain_mean(Yb[:, :, k])
                mean[p, k], se[p, k] = e.mean, e.stderr
                ess_b[p, k] = Yb[:, :, k].size / e.tau
                var_step = max(y2[p, k] / n_tot - e.mean ** 2, 0.0)
                ess[p, k] = var_step / e.stderr ** 2 if e.stderr > 0 else np.inf
                tau[p, k] = n_tot / ess[p, k] if ess[p, k] > 0 else np.nan
                rh.append(_split_rhat(Yb[:, :, k]))
            rhat[p] = max(rh)
            ok = bool(np.all(ess_b[p] >= o["ess_min"]) and rhat[p] <= o["rhat_max"]
                      and int(st.rt[p * C:(p + 1) * C].sum()) >= int(o["min_round_trips"]))
            if want_u:
                u[p], use[p], ess_u[p] = _bridge(np.concatenate(ba[p], axis=1), np.concatenate(bb[p], axis=1),
                                                 st.shift[p, :R - 1], st.b0[p], beta, t, d)
                ok = ok and ess_u[p] >= o["ess_min"]
            if ok:
                conv[p] = True
                active[p] = False
        if not active.any() or 2 * total > int(o["max_steps"]):
            break
        n_round = total
        blk = int(blk_pt[active].max())
    rts = st.rt.reshape(P, C).sum(axis=1)
    sw = st.sw.reshape(P, C, st.Rm, 2).sum(axis=1)
    mhc = st.mh.reshape(P, C, st.Rm, 2).sum(axis=1)
    nr = st.nr
    swap_acc = np.array([float(np.mean(sw[p, :nr[p] - 1, 1] / np.maximum(sw[p, :nr[p] - 1, 0], 1)))
                         for p in range(P)])
    mh_acc = np.array([float(np.mean(mhc[p, 1:nr[p], 1] / np.maximum(mhc[p, 1:nr[p], 0], 1)))
                       if nr[p] > 1 else 1.0 for p in range(P)])
    n_bad = int(P - conv.sum())
    if n_bad:
        why = []
        for p in np.flatnonzero(~conv)[:3]:
            why.append(f"point {p}: block ESS {ess_b[p].min():.0f} (need {o['ess_min']:g}), R-hat {rhat[p]:.3f} "
                       f"(need <= {o['rhat_max']:g}), round trips {int(rts[p])} (need {int(o['min_round_trips'])})")
        msg = (f"{n_bad} of {P} points did not meet the criteria within max_steps = {int(o['max_steps'])} sampling "
               f"steps per chain: {'; '.join(why)}{' ...' if n_bad > 3 else ''}.  Their error bars are not "
               f"trustworthy; raise max_steps.")
    else:
        msg = (f"all {P} points converged: block ESS >= {o['ess_min']:g}, split R-hat <= {o['rhat_max']:g}, "
               f">= {int(o['min_round_trips'])} round trips; {int(n_done.max())} sampling steps per chain at most")
    ladders = []
    for p in range(P):
        A, B = _path(st.sl[p, :nr[p]], st.b0[p], beta)
        ladders.append(np.stack([A / B, B]))
    return dict(mean=mean, stderr=se, tau=tau, ess=ess, ess_blocks=ess_b, rhat=rhat, round_trips=rts, converged=conv,
                n_steps=n_done, n_rungs=nr.copy(), beta_hot=st.b0.copy(), ladders=ladders, swap_accept=swap_acc,
                mh_accept=mh_acc, u=u, u_stderr=use, ess_u=ess_u, seed=int(st.master), message=msg,
                warmup_steps=int(warm_steps), evaluations=int(st.evals), settings=dict(o), loss_path=st.kl.path,
                wall_time=time.perf_counter() - t0)


def _bridge(A, B, shift, b0, beta, t, d):
    """``u`` and its delta-method standard error from the bridge block means ``A, B (C, nb, R-1)``.

    Pair ``k``: ``log Z_{k+1}/Z_k = -shift_k + log mean(A_k) - log mean(B_k)``;
    ``log Z_0 = (d/2) log(2 pi t/b_0)``; ``u = -(1/beta) [log Z_target - (d/2) log(2 pi t/beta)]``."""
    Am = A.mean(axis=(0, 1))
    Bm = B.mean(axis=(0, 1))
    logZ = 0.5 * d * math.log(2 * math.pi * t / b0) + float(np.sum(-shift + np.log(Am) - np.log(Bm)))
    q = (A / Am - B / Bm).sum(axis=2)                            # linearised series (C, nb)
    e = stats.multichain_mean(q)
    u = -(logZ - 0.5 * d * math.log(2 * math.pi * t / beta)) / beta
    return u, e.stderr / beta, q.size / e.tau
