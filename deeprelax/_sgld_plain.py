"""The plain Algorithm-1 SGLD sampler of ``local_entropy(method="sgld", sampler="plain")``: the compiled
kernels (one per group of points, serial and parallel) and the driver with
its Gelman-Rubin diagnostic.  The default sampler is replica exchange (:mod:`deeprelax.replica_exchange`).
"""
from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np

from solvers.jit import njit, pnjit, prange, use_parallel
from solvers.errors import NonFiniteError, check_count, check_positive

from . import _dyn_kernels as K
from . import stats
from ._kernel_loss import kernel_loss, loss_grad_rows
from ._nbloss import loss_scratch_len
from ._le_base import LocalEntropyResult, _sgld_inputs, curvature_bound

# ----------------------------------------------------------------------------- SGLD kernel
@njit
def _sgld_group(gi, bw, kind, params, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master, blocks, status):
    """SGLD jobs ``gi*bw .. gi*bw + bw - 1`` (job ``j`` = point ``j // n_chains``, chain ``j % n_chains``).

    Each job runs ``y <- y - h (grad f(y) + (y - x)/t) + sig xi`` (normals of chain key ``j``, counter =
    step), discards ``burn`` steps, then stores the means of consecutive blocks of ``blk`` steps in
    ``blocks[p, c, :]``; a job that turns non-finite stops and sets ``status[j]`` to the step.  The
    group shares one ``loss_grad_rows`` call per step (the loss providers of
    :mod:`deeprelax._kernel_loss`; a per-job gradient call costs more than the rest of the step, see
    :mod:`deeprelax._dyn_kernels`); a job's numbers do not depend on ``bw``.  Its NumPy twin (same random
    numbers) is in ``tests/deeprelax/test_local_entropy.py``."""
    nj = y0.shape[0]
    d = X.shape[1]
    j0 = gi * bw
    B = min(nj, j0 + bw) - j0
    Y = np.empty((B, d))
    G = np.empty((B, d))
    Z = np.empty((B, d))
    ACC = np.zeros((B, d))
    S = np.empty(loss_scratch_len(kind, params))
    keys = np.empty(B, np.uint64)
    pidx = np.empty(B, np.int64)
    alive = np.ones(B, np.bool_)
    for i in range(B):
        j = j0 + i
        keys[i] = K.chain_key(master, j, K.STREAM_NOISE)
        pidx[i] = j // n_chains
        for k in range(d):
            Y[i, k] = y0[j, k]
    total = burn + n_blocks * blk
    for step in range(total):
        loss_grad_rows(kind, params, Y, G, 0, B, S)
        base = step * d                              # fill_normals(key, step, d, .)
        for i in range(B):
            if alive[i]:
                for k in range(d):
                    Z[i, k] = K.znormal(keys[i], base + k)
        for i in range(B):
            if alive[i]:
                p = pidx[i]
                ok = True
                for k in range(d):
                    Y[i, k] = Y[i, k] - h * (G[i, k] + (Y[i, k] - X[p, k]) / t) + sig * Z[i, k]
                    if not (abs(Y[i, k]) < 1e300):
                        ok = False
                if not ok:
                    status[j0 + i] = step
                    alive[i] = False
        if step >= burn:
            s = step - burn + 1
            flush = s % blk == 0
            b = s // blk - 1
            for i in range(B):
                if alive[i]:
                    p = pidx[i]
                    c = j0 + i - p * n_chains
                    for k in range(d):
                        ACC[i, k] += Y[i, k]
                        if flush:
                            blocks[p, c, b, k] = ACC[i, k] / blk
                            ACC[i, k] = 0.0


@njit
def _sgld_ser(kind, params, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master, blocks, status, bw):
    for gi in range((y0.shape[0] + bw - 1) // bw):
        _sgld_group(gi, bw, kind, params, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master, blocks, status)


@pnjit
def _sgld_par(kind, params, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master, blocks, status, bw):
    for gi in prange((y0.shape[0] + bw - 1) // bw):
        _sgld_group(gi, bw, kind, params, X, y0, n_chains, t, h, sig, burn, n_blocks, blk, master, blocks, status)


def _gelman_rubin(chains):
    """R-hat of ``(m, n)`` chains (split into halves first); NaN for fewer than 2 chains."""
    m, n = chains.shape
    if n < 4:
        return np.nan
    half = n // 2
    c = np.concatenate([chains[:, :half], chains[:, n - half:]], axis=0)
    m2 = c.shape[0]
    means = c.mean(1)
    W = c.var(1, ddof=1).mean()
    B = half * means.var(ddof=1)
    if W <= 0:
        return 1.0 if B <= 0 else np.inf
    var = (half - 1) / half * W + B / half
    return float(np.sqrt(var / W)) if m2 >= 2 else np.nan


def _sgld_plain(loss, x, t, beta, *, inner_lr=None, n_samples=None, burn_in=None, n_chains=4, block=None,
                init="dispersed", init_scale=None, rng=0, parallel=None, ess_min=400.0, rhat_max=1.01):
    r"""The plain Entropy-SGD estimator (Algorithm 1's inner loop): ``sgld_mean(..., sampler="plain")``.

    Independent unadjusted SGLD chains at one temperature: fast and faithful to Entropy-SGD, but on a
    multimodal local measure the chains stay in the wells they start in, so the estimate can be
    confidently wrong while R-hat looks fine.  ``converged`` reports only what these chains can see
    (ESS ``>= ess_min`` and R-hat ``<= rhat_max`` per point, at the fixed run length).

    Parameters
    ----------
    loss : Loss, or a callable f(x) on points (..., d)
        Built-in and compiled (``numba.njit``) losses run inside the SGLD kernel; other losses are
        called once per step with all the chains (:mod:`deeprelax._kernel_loss`).
    x : array (..., d)
    t : float > 0
        DR time (``= 1/gamma_E``).
    beta : float > 0, finite
    inner_lr : float > 0, optional
        SGLD step ``eta'``; default ``0.02 / (C + 1/t)`` with ``C`` = :func:`curvature_bound` (positive part).
    n_samples : int, optional
        Steps kept per chain after burn-in (rounded down to a multiple of ``block``).  Default
        ``max(20000, 200 t / eta')``: at least 200 relaxation times ``t`` of the coupling, so that the
        autocorrelation time, hence the standard error, is estimated reliably even when a stiff loss
        forces a tiny ``eta'`` (with a fixed 20000 steps, dr-fig1's ``eta' ~ 1e-5`` covered about one
        relaxation time and the error bars were too small by a factor of ~3).
    burn_in : int, optional
        Discarded steps per chain; default ``20 / (eta' (1/t))`` (20 relaxation times of the coupling),
        at least 200.
    n_chains : int >= 1
        Independent chains per point (pooled; 2 or more give ``rhat``).
    block : int, optional
        Block length of the stored block means (default: ``n_samples / 4096`` rounded up).  The standard
        error is computed from the block-mean series with Sokal's integrated time (exact pooling).
    init : {"dispersed", "x"}
        ``"x"``: every chain starts at ``y = x`` (Entropy-SGD); ``"dispersed"``: chain ``c`` starts at
        ``x + s z_c`` with ``s = init_scale`` (default ``sqrt(t)``); overdispersed starts make ``rhat``
        meaningful (make ``s`` cover the wells of f to detect chains stuck in one mode).
    init_scale : float > 0, optional
    rng : int or numpy.random.Generator
    parallel : bool, optional

    Returns
    -------
    LocalEntropyResult (``method="sgld"``; ``u`` is NaN)
    """
    t0 = time.perf_counter()
    loss, X, t, beta = _sgld_inputs(loss, x, t, beta)
    kl = kernel_loss(loss)
    n_chains = check_count("n_chains", n_chains, minimum=1)
    C = curvature_bound(loss, positive=True)
    h = check_positive("inner_lr", inner_lr) if inner_lr is not None else 0.02 / (C + 1.0 / t)
    if h * (1.0 / t - 0.0) >= 2.0:
        raise ValueError(f"`inner_lr` must satisfy inner_lr < 2 t (stability of the coupling); got {h} with t = {t}.")
    n_samples = max(20000, int(math.ceil(200.0 * t / h))) if n_samples is None else int(n_samples)
    if n_samples < 4:
        raise ValueError(f"`n_samples` must be >= 4; got {n_samples}.")
    blk = int(block) if block is not None else max(1, -(-n_samples // 4096))
    if blk < 1 or blk > n_samples // 4:
        raise ValueError(f"`block` must be in [1, n_samples/4 = {n_samples // 4}]; got {block!r}.")
    n_blocks = n_samples // blk
    burn = int(burn_in) if burn_in is not None else max(200, int(math.ceil(20.0 * t / h)))
    if burn < 0:
        raise ValueError(f"`burn_in` must be >= 0; got {burn_in!r}.")
    if init not in ("dispersed", "x"):
        raise ValueError(f"`init` must be 'dispersed' or 'x'; got {init!r}.")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    master = int(gen.integers(0, 2 ** 63 - 1))
    shape = X.shape[:-1]
    pts = np.ascontiguousarray(X.reshape(-1, loss.dim))
    P, d = pts.shape
    y0 = np.repeat(pts, n_chains, axis=0)
    if init == "dispersed" and n_chains > 1:
        sc = math.sqrt(t) if init_scale is None else check_positive("init_scale", init_scale)
        y0 = y0 + sc * gen.standard_normal(y0.shape)
    y0 = np.ascontiguousarray(y0)
    sig = math.sqrt(2.0 * h / beta)
    blocks = np.zeros((P, n_chains, n_blocks, d))
    status = np.full(P * n_chains, -1, np.int64)
    par = use_parallel(P * n_chains * (burn + n_samples) // 64) if parallel is None else bool(parallel)
    nj = P * n_chains
    if kl.vectorised:                                # one Python gradient call per step for all the jobs
        par, bw = False, nj
    else:
        # jobs per group: up to 64 share one gradient dispatch per step; keep >= 4 groups per thread
        bw = max(1, min(64, nj // (4 * numba.get_num_threads()))) if par else min(64, nj)
    KK = kl.kernels(globals())
    fn = KK._sgld_par if par else KK._sgld_ser
    with kl.active():
        fn(kl.kind, kl.params, pts, y0, n_chains, t, h, sig, burn, n_blocks, blk, np.uint64(master),
           blocks, status, bw)
    if np.any(status >= 0):
        j = int(np.argmax(status >= 0))
        raise NonFiniteError(f"SGLD chain {j} (point {j // n_chains}) went non-finite at step {int(status[j])}; "
                             f"reduce `inner_lr` (got {h}).")
    mean = blocks.mean(axis=(1, 2))
    se = np.empty((P, d))
    tau = np.empty((P, d))
    rhat = np.full(P, np.nan)
    for p in range(P):
        rh = []
        for k in range(d):
            est = stats.mean_stderr(blocks[p, :, :, k])
            se[p, k] = est.stderr
            tau[p, k] = est.tau * blk
            if n_chains > 1:
                rh.append(_gelman_rubin(blocks[p, :, :, k]))
        if rh:
            rhat[p] = max(rh)
    grad = (pts - mean) / t
    ess = n_blocks * n_chains * blk / np.maximum(tau, 1e-300)
    conv = np.all(ess >= ess_min, axis=-1) & (rhat <= rhat_max if n_chains > 1 else np.ones(P, bool))
    nbad = int(P - conv.sum())
    caveat = ("plain SGLD (Algorithm 1) cannot see a mode that none of its chains visited: converged=True is "
              "not a guarantee on a multimodal local measure (use the default sampler='replica-exchange')")
    if nbad:
        msg = (f"{nbad} of {P} points below the criteria (ESS >= {ess_min:g}, R-hat <= {rhat_max:g}) at "
               f"n_samples = {n_blocks * blk} per chain; their error bars are not trustworthy. {caveat}.")
        warnings.warn(f"local_entropy sgld (plain): {msg}", RuntimeWarning, stacklevel=5)
    else:
        msg = f"all {P} points: ESS >= {ess_min:g}, R-hat <= {rhat_max:g}. {caveat}."
    return LocalEntropyResult(
        x=X, u=np.full(shape, np.nan), grad=grad.reshape(X.shape), mean=mean.reshape(X.shape),
        stderr=(se / t).reshape(X.shape), tau=tau.reshape(X.shape), rhat=rhat.reshape(shape),
        n_samples=int(n_blocks * blk * n_chains), t=t, beta=beta, method="sgld",
        params={"sampler": "plain", "inner_lr": h, "burn_in": burn, "n_chains": n_chains, "block": blk,
                "n_blocks": n_blocks, "init": init, "init_scale": init_scale, "seed": master, "parallel": par,
                "loss": repr(loss), "loss_path": kl.path, "ess": ess.reshape(X.shape)},
        wall_time=time.perf_counter() - t0, converged=conv.reshape(shape), message=msg,
        u_stderr=np.full(shape, np.nan))
