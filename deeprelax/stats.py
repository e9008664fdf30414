r"""Error bars for Monte-Carlo averages of correlated chains (numerics.md §D).

* :func:`autocorrelation` -- normalised autocorrelation function by FFT, averaged over chains.
* :func:`integrated_time` -- integrated autocorrelation time
  :math:`\tau = 1 + 2\sum_{k=1}^{M}\rho_k` with Sokal's automatic window: the smallest
  ``M >= c tau(M)`` (``c = 5``).  Trustworthy when the chain is longer than about ``50 tau``.
* :func:`mean_stderr` -- mean and standard error ``sqrt(s^2 tau / (n m))`` of ``m`` chains of
  length ``n`` (``tau`` from the pooled autocorrelation).
* :func:`multichain_mean` -- mean, standard error and effective sample size of ``m`` chains with the
  multi-chain autocorrelation of Vehtari et al. (2021, Stan): within-chain autocovariances combined
  with the between-chain variance, summed with Geyer's initial monotone sequence.  Unlike
  :func:`mean_stderr` it counts the spread between chain means (chains that disagree give a large
  error bar) and has no ``O(M/n)`` downward bias from centring each short chain at its own mean.
* :func:`batch_means` -- the batch-means standard error (``>= 20`` batches of length ``>> tau``),
  an independent cross-check of :func:`mean_stderr`.
* :func:`loglog_slope` -- least-squares slope of ``log y`` against ``log x`` (observed orders,
  ``N^{-1/2}`` checks) with its standard error.

For an AR(1) process ``x_{n+1} = phi x_n + e_n`` the exact value is
``tau = (1 + phi)/(1 - phi) = 1 + 2 phi/(1 - phi)`` (tested in ``tests/deeprelax/test_stats.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.errors import check_positive

__all__ = ["autocorrelation", "integrated_time", "mean_stderr", "multichain_mean", "batch_means", "loglog_slope",
           "MeanEstimate"]


def _chains(x, name="x"):
    """``(n,)`` or ``(m, n)`` -> float ``(m, n)``; checks length and finiteness."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"`{name}` must have shape (n,) or (n_chains, n); got shape {a.shape}.")
    if a.shape[1] < 2:
        raise ValueError(f"`{name}` must have at least 2 samples per chain (n >= 2); got n = {a.shape[1]}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` must be finite; got {int(np.count_nonzero(~np.isfinite(a)))} non-finite entries.")
    return a


def autocorrelation(x) -> np.ndarray:
    r"""Normalised autocorrelation ``rho_k`` (``rho_0 = 1``) of one or several chains.

    Parameters
    ----------
    x : array, shape (n,) or (n_chains, n)
        Each row is one chain; the autocovariances (biased estimator, FFT with zero padding)
        are averaged over chains before normalising.

    Returns
    -------
    ndarray, shape (n,)
    """
    a = _chains(x)
    n = a.shape[1]
    a = a - a.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    F = np.fft.rfft(a, n=nfft, axis=1)
    acov = np.fft.irfft(F * np.conj(F), n=nfft, axis=1)[:, :n].mean(axis=0) / n
    if acov[0] <= 0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    return acov / acov[0]


def integrated_time(x, c: float = 5.0) -> float:
    r"""Integrated autocorrelation time with Sokal's window.

    .. math:: \tau(M) = 1 + 2\sum_{k=1}^{M}\rho_k, \qquad M = \min\{M : M \ge c\,\tau(M)\}.

    Parameters
    ----------
    x : array, shape (n,) or (n_chains, n)
    c : float > 0
        Window constant (5 as in Sokal and emcee).

    Returns
    -------
    float, ``tau >= 1 / (1 + 2 (n-1))``; a constant chain gives 1.  If no window satisfies the
    criterion (chain too short) the value at ``M = n - 1`` is returned.
    """
    check_positive("c", c)
    rho = autocorrelation(x)
    taus = 2.0 * np.cumsum(rho) - 1.0          # taus[M] = 1 + 2 sum_{k=1}^M rho_k
    m = np.arange(rho.size)
    ok = m >= c * taus
    M = int(np.argmax(ok)) if ok.any() else rho.size - 1
    return float(max(taus[M], 1e-12))


@dataclass(frozen=True)
class MeanEstimate:
    """Mean of correlated samples with its standard error.

    Attributes
    ----------
    mean, stderr, tau : float
        Sample mean, standard error ``sqrt(var tau / n_samples)``, integrated time (in samples).
    n_samples : int
        Total number of samples (all chains).
    """

    mean: float
    stderr: float
    tau: float
    n_samples: int


def mean_stderr(x, c: float = 5.0) -> MeanEstimate:
    """Mean and its standard error ``sqrt(s^2 tau / N)`` for chains ``x`` of shape (n,) or (n_chains, n)."""
    a = _chains(x)
    tau = integrated_time(a, c)
    N = a.size
    var = a.var(ddof=1) if N > 1 else 0.0
    return MeanEstimate(float(a.mean()), float(np.sqrt(var * tau / N)), tau, int(N))


def multichain_mean(x) -> MeanEstimate:
    r"""Mean of ``m >= 2`` chains with the multi-chain integrated time of Vehtari et al. (2021).

    With ``n`` samples per chain, within-chain variance ``W``, between-chain variance ``B`` and
    ``var+ = (n-1)/n W + B/n``, the combined autocorrelation is
    ``rho_k = 1 - (W - mean_m gamma_{k,m}) / var+`` (``gamma_{k,m}`` the autocovariance of chain ``m``);
    ``tau = -1 + 2 sum_{k=0}^{2K+1} rho_k`` over Geyer's initial positive and monotone sequence of pair
    sums, ``ESS = m n / tau`` and ``stderr = sqrt(var+ / ESS)``.

    Parameters
    ----------
    x : array, shape (n_chains, n) with ``n_chains >= 2`` and ``n >= 4``

    Returns
    -------
    MeanEstimate (``tau`` in samples; ``n_samples = m n``)
    """
    a = _chains(x)
    m, n = a.shape
    if m < 2 or n < 4:
        raise ValueError(f"`x` must have shape (n_chains >= 2, n >= 4); got {a.shape}.")
    mu = a.mean(axis=1)
    c = a - mu[:, None]
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    F = np.fft.rfft(c, n=nfft, axis=1)
    acov = np.fft.irfft(F * np.conj(F), n=nfft, axis=1)[:, :n] / n          # biased, per chain
    W = float(np.mean(acov[:, 0]) * n / (n - 1))
    B = float(n * mu.var(ddof=1))
    var_plus = (n - 1) / n * W + B / n
    if var_plus <= 0:
        return MeanEstimate(float(a.mean()), 0.0, 1.0, int(a.size))
    rho = 1.0 - (W - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer: pair sums P_k = rho_2k + rho_2k+1, positive and made non-increasing
    npair = n // 2
    P = rho[0:2 * npair:2] + rho[1:2 * npair:2]
    K = npair
    for k in range(1, npair):
        if P[k] <= 0:
            K = k
            break
    P = np.minimum.accumulate(P[:K])
    tau = max(-1.0 + 2.0 * float(P.sum()), 1.0 / np.log10(max(m * n, 10)))
    ess = m * n / tau
    return MeanEstimate(float(a.mean()), float(np.sqrt(var_plus / ess)), float(tau), int(a.size))


def batch_means(x, n_batches: int = 32) -> tuple:
    """Batch-means estimate: ``(mean, stderr)`` from ``n_batches`` consecutive batches per chain.

    Each chain of shape (n,) (rows of an ``(n_chains, n)`` array) is cut into ``n_batches``
    equal batches (a remainder at the start is dropped); the standard error is the standard
    deviation of all batch means over ``sqrt(number of batches)``.  Valid when the batch length
    is much longer than the autocorrelation time.
    """
    a = _chains(x)
    nb = int(n_batches)
    if nb < 2 or nb > a.shape[1]:
        raise ValueError(f"`n_batches` must be in [2, n = {a.shape[1]}]; got {n_batches!r}.")
    bl = a.shape[1] // nb
    b = a[:, a.shape[1] - nb * bl:].reshape(a.shape[0], nb, bl).mean(axis=2).ravel()
    return float(b.mean()), float(b.std(ddof=1) / np.sqrt(b.size))


def loglog_slope(x, y) -> tuple:
    """Least-squares slope of ``log y`` against ``log x``: ``(slope, stderr of slope)``.

    ``x`` and ``y`` must be positive with at least 3 points (2 points give stderr 0).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"`x` and `y` must have the same length >= 2; got {x.size} and {y.size}.")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("`x` and `y` must be positive for a log-log fit (x > 0, y > 0).")
    lx, ly = np.log(x), np.log(y)
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, res, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if x.size > 2:
        r = ly - A @ coef
        s2 = float(r @ r) / (x.size - 2)
        se = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    else:
        se = 0.0
    return float(coef[0]), se
