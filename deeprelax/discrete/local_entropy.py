r"""Local entropy: the number of solutions at Hamming distance ``d`` from a reference.

.. math:: \mathcal N(\tilde W, d) = \#\{W : E(W) = 0,\ \tfrac12 \sum_j |W_j - \tilde W_j| = d\},
          \qquad S(d) = \tfrac1N \log \mathcal N(\tilde W, d).

Two methods (``method=`` in :func:`local_entropy_count`):

``"exact"``
    Depth-first enumeration of every set of at most ``max(d)`` flips of :math:`\tilde W` in
    increasing index order, one O(P) field update per node (parallel over the first flipped site).
    Cost :math:`\sum_{k \le d_{max}} \binom Nk` nodes: every ``d`` for ``N <= 27``, small ``d`` at any N.

``"ais"`` (large N): annealed importance sampling (Neal 2001), the non-equilibrium (Jarzynski)
    form of thermodynamic integration in the inverse temperature.  With
    :math:`Z_D(\beta) = \sum_{W: |W - \tilde W| = D} e^{-\beta E(W)}` (E = number of errors),
    :math:`Z_D(0) = \binom ND` and :math:`\mathcal N(\tilde W, D) = Z_D(\infty)`.  Each of ``n_chains``
    independent chains starts from an exact uniform sample of the distance-D shell and anneals
    :math:`\beta_0 = 0 < \beta_1 < \dots < \beta_K = \beta_{max}` (Metropolis moves that keep the
    distance fixed: un-flip one flipped site and flip one unflipped site), collecting the weight
    :math:`w = \prod_k e^{-(\beta_k - \beta_{k-1}) E(W_{k-1})}`; the last factor to
    :math:`\beta = \infty` is the fraction of ``n_final`` further sweeps at :math:`\beta_{max}` spent
    at zero errors.  Then :math:`\mathbb E[w] = \mathcal N / \binom ND` exactly, whether or not the
    chains equilibrate (each move leaves its own :math:`\beta`'s Boltzmann measure invariant), so

    .. math:: \hat{\mathcal N} = \binom ND\, \overline{w}, \qquad
              \mathrm{se}(\log\hat{\mathcal N}) = \mathrm{sd}(w) / (\sqrt{n_{chains}}\, \overline w).

    Poor mixing shows as a few dominant weights: a small effective sample size
    ``(sum w)^2 / sum w^2`` (reported in ``ess``) and a large standard error.  The variance of
    :math:`\log w` grows like :math:`\sum_k (\Delta\beta_k)^2 \mathrm{Var}_{\beta_k} E`, so the
    default number of steps grows with P.  Checked against the exact counts at N <= 25
    (``tests/deeprelax/test_discrete_local_entropy.py``).  If no chain reaches a solution the count is
    reported as 0 (``log_count = -inf``) with ``found_chains = 0``: "none found", not a proof of none.

``"auto"`` (default): exact where its cost is below ``max_nodes``, "ais" elsewhere.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from solvers.errors import check_count, check_positive
from solvers.jit import njit, pnjit, prange
from solvers.result import Result, register_result

from .. import _rng
from . import _energy
from .problem import BinaryPerceptron, check_weights

__all__ = ["local_entropy_count", "LocalEntropyCount", "dfs_nodes"]


# ----------------------------------------------------------------------------- exact (DFS)
@njit
def _dfs_from(xsT, W0, h0, i0, dmax, counts):
    """Count solutions among ``W0`` with site ``i0`` and any <= dmax-1 sites above ``i0`` flipped."""
    n, p = xsT.shape
    W = W0.copy()
    h = h0.copy()
    nneg = 0
    _energy.apply_flip(xsT, h, i0, W[i0])
    W[i0] = -W[i0]
    for mu in range(p):
        if h[mu] < 0:
            nneg += 1
    if nneg == 0:
        counts[1] += 1
    pos = np.empty(max(dmax, 1), np.int64)
    d = 1          # number of flipped sites
    s = i0 + 1     # next site to try
    while True:
        if d < dmax and s < n:
            wj = W[s]
            nneg += _energy.flip_count(xsT, h, s, wj)
            W[s] = -wj
            pos[d] = s
            d += 1
            if nneg == 0:
                counts[d] += 1
            s += 1
        else:
            if d == 1:
                break
            d -= 1
            s0 = pos[d]
            wj = W[s0]
            nneg += _energy.flip_count(xsT, h, s0, wj)
            W[s0] = -wj
            s = s0 + 1


@pnjit
def _dfs_all(xsT, W0, dmax):
    n, p = xsT.shape
    h0 = np.empty(p, np.int32)
    _energy.fields_into(xsT, W0, h0)
    per = np.zeros((n, dmax + 1), np.int64)
    order = np.empty(n, np.int64)  # interleave big (low i0) and small subtrees for balance
    lo, hi = 0, n - 1
    for k in range(n):
        if k % 2 == 0:
            order[k] = lo
            lo += 1
        else:
            order[k] = hi
            hi -= 1
    if dmax >= 1:
        for k in prange(n):
            i0 = order[np.int64(k)]
            _dfs_from(xsT, W0, h0, i0, dmax, per[i0])
    counts = per.sum(axis=0)
    ok = 1
    for mu in range(p):
        if h0[mu] < 0:
            ok = 0
    counts[0] = ok
    return counts


def _log_binom(n, k):
    return float(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))


def dfs_nodes(n: int, dmax: int) -> float:
    """Nodes visited by the exact method up to distance ``dmax``: ``sum_{k<=dmax} C(n, k)``."""
    return float(sum(math.comb(n, k) for k in range(0, dmax + 1)))


# ----------------------------------------------------------------------------- annealed importance sampling
@njit
def _ais_chain(xsT, W0, D, betas, sweeps, n_final, state, r, logw, zfrac):
    n, p = xsT.shape
    W = W0.copy()
    perm = np.arange(n)  # perm[:D] flipped sites, perm[D:] the others (partial Fisher-Yates)
    for k in range(D):
        m = k + _rng.randint(state, r, n - k)
        t = perm[k]
        perm[k] = perm[m]
        perm[m] = t
    for k in range(D):
        W[perm[k]] = -W[perm[k]]
    h = np.empty(p, np.int32)
    _energy.fields_into(xsT, W, h)
    e = 0
    for mu in range(p):
        if h[mu] < 0:
            e += 1
    nu = n - D
    lw = 0.0
    nzero = 0
    n_steps = betas.shape[0]
    for b in range(1, n_steps + n_final):
        bb = b if b < n_steps else n_steps - 1
        if b < n_steps:
            lw -= (betas[b] - betas[b - 1]) * e  # importance weight of the step beta_{b-1} -> beta_b
        beta = betas[bb]
        for it in range(sweeps * n):
            ia = _rng.randint(state, r, D)
            ib = D + _rng.randint(state, r, nu)
            a = perm[ia]
            c = perm[ib]
            de, dn = _energy.pair_delta(xsT, h, a, W[a], c, W[c], 0)
            if de <= 0 or _rng.uniform(state, r) < math.exp(-beta * de):
                _energy.apply_flip(xsT, h, a, W[a])
                W[a] = -W[a]
                _energy.apply_flip(xsT, h, c, W[c])
                W[c] = -W[c]
                perm[ia] = c
                perm[ib] = a
                e += de
            if b >= n_steps and e == 0:
                nzero += 1
    logw[r] = lw
    zfrac[r] = nzero / (max(n_final, 1) * sweeps * n) if n_final > 0 else (1.0 if e == 0 else 0.0)


@pnjit
def _ais_all(xsT, W0, D, betas, sweeps, n_final, state):
    R = state.shape[0]
    logw = np.zeros(R)
    zfrac = np.zeros(R)
    for r in prange(R):
        _ais_chain(xsT, W0, D, betas, sweeps, n_final, state, np.int64(r), logw, zfrac)
    return logw, zfrac


def _beta_grid(beta_max, n_steps):
    """Steps denser at small beta, where <E> and its variance are largest: beta_k = beta_max (k/K)^2."""
    return beta_max * (np.arange(n_steps + 1) / n_steps) ** 2


# ----------------------------------------------------------------------------- result + entry point
@register_result
@dataclass(frozen=True, repr=False)
class LocalEntropyCount(Result):
    r"""Local entropy around one reference configuration.

    Attributes
    ----------
    d : ndarray, shape (K,), int64
        Hamming distances.
    n : int
    log_count, log_count_stderr : ndarray, shape (K,)
        :math:`\log\mathcal N(\tilde W, d)` (``-inf`` where there is none / none was found) and its
        standard error (0 where exact).
    exact : ndarray, shape (K,), bool
        True where the value comes from exact enumeration.
    found_chains : ndarray, shape (K,), int64
        "ais" rows: chains that reached a solution at ``beta_max`` (of ``params['n_chains']``).
    ess : ndarray, shape (K,)
        "ais" rows: effective sample size of the importance weights (``nan`` for exact rows).
    """

    d: np.ndarray
    n: int
    log_count: np.ndarray
    log_count_stderr: np.ndarray
    exact: np.ndarray
    found_chains: np.ndarray
    ess: np.ndarray
    wall_time: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def count(self) -> np.ndarray:
        r""":math:`\mathcal N` (float; exact integers where ``exact``)."""
        return np.exp(self.log_count)

    @property
    def S(self) -> np.ndarray:
        r""":math:`S(d) = \log\mathcal N / N`."""
        return self.log_count / self.n

    @property
    def S_stderr(self) -> np.ndarray:
        return self.log_count_stderr / self.n

    @property
    def d_frac(self) -> np.ndarray:
        """Normalised distances ``d / N``."""
        return self.d / self.n


def _check_d(d, n):
    arr = np.atleast_1d(np.asarray(d))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
        raise ValueError(f"`d` must be an integer Hamming distance or a 1-D array of them; got {d!r}.")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        msg = (f"`d` must hold integer Hamming distances 0..n (n={n}); got {arr[arr != np.round(arr)][:3]} "
               "(for normalised distances pass np.rint(frac * n)).")
        raise ValueError(msg)
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() > n:
        raise ValueError(f"`d` must lie in 0..n (n={n}); got values in [{arr.min()}, {arr.max()}].")
    return arr


def local_entropy_count(problem: BinaryPerceptron, W, d, *, method: str = "auto", max_nodes: float = 4e7,
                        n_chains: int = 64, n_steps: int | None = None, beta_max: float = 6.0,
                        sweeps_per_step: int = 1, n_final: int = 8, seed: int = 0) -> LocalEntropyCount:
    r"""Number of solutions at Hamming distance ``d`` from ``W``; :math:`S(d) = \log\mathcal N / N`.

    Parameters
    ----------
    problem : BinaryPerceptron
    W : array_like, shape (N,)
        Reference configuration :math:`\tilde W` (+-1; need not be a solution).
    d : int or array_like of int, shape (K,)
        Hamming distances in ``0..N``.
    method : {"auto", "exact", "ais"}
        See the module docstring. "exact" refuses when its node count exceeds ``max_nodes``.
    n_chains, n_steps, beta_max, sweeps_per_step, n_final, seed
        Annealed importance sampling: independent chains; annealing steps (default
        ``max(200, 4 P)``) on the grid ``beta_k = beta_max (k/K)^2``; sweeps (N moves) per step;
        sweeps at ``beta_max`` that average the zero-error indicator; seed.

    Returns
    -------
    LocalEntropyCount
    """
    if not isinstance(problem, BinaryPerceptron):
        raise TypeError(f"`problem` must be a BinaryPerceptron; got {type(problem).__name__}.")
    n = problem.n
    w0 = check_weights(W, n, "W")
    if w0.ndim != 1:
        raise ValueError(f"`W` must be one configuration of shape ({n},); got shape {w0.shape}.")
    dd = _check_d(d, n)
    if method not in ("auto", "exact", "ais"):
        raise ValueError(f"`method` must be 'auto', 'exact' or 'ais'; got {method!r}.")
    n_chains = check_count("n_chains", n_chains, minimum=1)
    sweeps_per_step = check_count("sweeps_per_step", sweeps_per_step, minimum=1)
    beta_max = check_positive("beta_max", beta_max)
    K = max(200, 4 * problem.p) if n_steps is None else int(n_steps)
    t0 = time.perf_counter()
    nd = dd.size
    logc = np.full(nd, -np.inf)
    err = np.zeros(nd)
    exact = np.zeros(nd, bool)
    found = np.zeros(nd, np.int64)
    ess = np.full(nd, np.nan)
    if method == "exact":
        dmax_exact = int(dd.max())
        if dfs_nodes(n, dmax_exact) > max_nodes:
            msg = (f"exact counting up to d={dmax_exact} at n={n} visits {dfs_nodes(n, dmax_exact):.3g} "
                   f"configurations > max_nodes={max_nodes:.3g}; use method='ais' (or 'auto').")
            raise ValueError(msg)
    elif method == "auto":
        dmax_exact = max((k for k in range(int(dd.max()) + 1) if dfs_nodes(n, k) <= max_nodes), default=-1)
    else:
        dmax_exact = -1
    sel = dd <= dmax_exact
    if sel.any():
        counts = _dfs_all(problem._xsT, w0, int(dd[sel].max()))
        with np.errstate(divide="ignore"):
            logc[sel] = np.log(counts[dd[sel]].astype(float))
        exact[sel] = True
    betas = _beta_grid(float(beta_max), K)
    for k in np.flatnonzero(~sel):
        D = int(dd[k])
        if D in (0, n):  # a single configuration
            wr = w0 if D == 0 else (-w0).astype(np.int8)
            logc[k] = 0.0 if problem.energy(wr) == 0 else -np.inf
            exact[k] = True
            continue
        state = _rng.chain_seeds(seed, int(n_chains), stream=1000 + D)
        logw, zf = _ais_all(problem._xsT, w0, D, betas, int(sweeps_per_step), int(n_final), state)
        found[k] = int(np.sum(zf > 0))
        if found[k] == 0:
            logc[k], err[k], ess[k] = -np.inf, np.nan, 0.0
            continue
        with np.errstate(divide="ignore"):
            lw = logw + np.log(zf)
        top = lw.max()
        w = np.exp(lw - top)
        m = w.mean()
        logc[k] = _log_binom(n, D) + top + math.log(m)
        err[k] = w.std(ddof=1) / math.sqrt(n_chains) / m if n_chains > 1 else np.inf
        ess[k] = w.sum() ** 2 / (w ** 2).sum()
    return LocalEntropyCount(d=dd, n=n, log_count=logc, log_count_stderr=err, exact=exact, found_chains=found,
                             ess=ess, wall_time=time.perf_counter() - t0,
                             params={"method": method, "max_nodes": float(max_nodes), "n_chains": int(n_chains),
                                     "n_steps": int(K), "beta_max": float(beta_max),
                                     "sweeps_per_step": int(sweeps_per_step), "n_final": int(n_final),
                                     "seed": int(seed)})
