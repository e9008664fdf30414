"""Temperature of SGD and its diffusion matrix D(x): per-sample gradients, spectrum, fields on a grid.

Part of :mod:`deeprelax.sgd_noise` (conventions in its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from solvers.errors import check_count, check_positive, check_real
from solvers.result import register_result, Result


def temperature(lr: float, batch: int, N: Optional[int] = None, replace: bool = True) -> float:
    r"""SGD temperature :math:`\beta^{-1} = \eta/(2b)`, times :math:`(1 - b/N)` without replacement.

    Parameters
    ----------
    lr : float > 0
        Learning rate ``eta``.
    batch : int >= 1
        Batch size ``b``.
    N : int, optional
        Number of samples (required when ``replace=False``).
    replace : bool
        Sampling with (default) or without replacement.
    """
    lr = check_positive("lr", lr)
    b = check_count("batch", batch, minimum=1)
    t = lr / (2.0 * b)
    if replace:
        return t
    if N is None:
        raise ValueError("`N` is required for sampling without replacement (replace=False); got None.")
    N = check_count("N", N, minimum=1)
    if b > N:
        raise ValueError(f"`batch` must be <= N = {N} without replacement (batch <= N); got {b}.")
    return t * (1.0 - b / N)


def spectrum_stats(D, eps: float = np.finfo(float).eps) -> dict:
    r"""Spectrum statistics of a symmetric PSD matrix with the paper's threshold ``lambda_max * d * eps``.

    Returns
    -------
    dict with ``eigenvalues`` (ascending, shape (d,)), ``threshold``, ``rank``, ``rank_fraction``,
    ``mean``, ``std`` (over all eigenvalues, as in the paper's table), ``spread``
    (``lambda_max / lambda_min`` over the eigenvalues above the threshold) and ``trace``.
    """
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"`D` must be a square matrix of shape (d, d); got shape {D.shape}.")
    if not np.all(np.isfinite(D)):
        raise ValueError("`D` must be finite.")
    lam = np.linalg.eigvalsh(0.5 * (D + D.T))
    d = D.shape[0]
    thr = max(float(lam[-1]), 0.0) * d * eps
    pos = lam[lam > thr]
    return {"eigenvalues": lam, "threshold": thr, "rank": int(pos.size), "rank_fraction": pos.size / d,
            "mean": float(lam.mean()), "std": float(lam.std()),
            "spread": float(pos[-1] / pos[0]) if pos.size else float("nan"), "trace": float(lam.sum())}


@register_result
@dataclass(frozen=True, repr=False)
class DiffusionMatrix(Result):
    """SGD diffusion matrix at a point.

    Attributes
    ----------
    D : ndarray (d, d)
        ``(1/N) sum g_k g_k^T - g g^T`` (``replace=True``) or ``N/(N-1)`` times it (``replace=False``).
    minibatch_cov : ndarray (d, d)
        Exact covariance of the minibatch gradient: ``D/b`` (with), ``(N-b)/(N-1) Sigma/b`` (without).
    grad : ndarray (d,)
        Full gradient of the data term at ``x``.
    eigenvalues : ndarray (d,)
    rank, n_samples, batch : int
    rank_fraction, eig_mean, eig_std, spread, threshold : float
    replace : bool
    beta_inv : float
        ``temperature(lr, b, N, replace)`` when ``lr`` is given, else NaN.  Then
        ``lr * minibatch_cov == 2 * beta_inv * D`` (the SDE's noise covariance per unit time, times lr^2).
    """

    D: np.ndarray
    minibatch_cov: np.ndarray
    grad: np.ndarray
    eigenvalues: np.ndarray
    rank: int
    rank_fraction: float
    eig_mean: float
    eig_std: float
    spread: float
    threshold: float
    n_samples: int
    batch: int
    replace: bool
    beta_inv: float = float("nan")
    params: dict = field(default_factory=dict)


def diffusion_from_gradients(G, *, batch: int = 1, replace: bool = True, lr: Optional[float] = None
                             ) -> DiffusionMatrix:
    """:class:`DiffusionMatrix` from per-sample gradients ``G`` of shape (N, d) (see :func:`diffusion_matrix`)."""
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 2:
        raise ValueError(f"`G` must have shape (N, d) with N >= 2 per-sample gradients; got shape {G.shape}.")
    if not np.all(np.isfinite(G)):
        raise ValueError("`G` (per-sample gradients) must be finite.")
    N, d = G.shape
    b = check_count("batch", batch, minimum=1)
    if not replace and b > N:
        raise ValueError(f"`batch` must be <= n_samples = {N} without replacement (batch <= N); got {b}.")
    g = G.mean(0)
    Sigma = G.T @ G / N - np.outer(g, g)
    Sigma = 0.5 * (Sigma + Sigma.T)
    if replace:
        D, cov = Sigma, Sigma / b
    else:
        D, cov = Sigma * N / (N - 1), Sigma / b * (N - b) / (N - 1)
    st = spectrum_stats(D)
    bi = float("nan") if lr is None else temperature(lr, b, N, replace)
    return DiffusionMatrix(D=D, minibatch_cov=cov, grad=g, eigenvalues=st["eigenvalues"], rank=st["rank"],
                           rank_fraction=st["rank_fraction"], eig_mean=st["mean"], eig_std=st["std"],
                           spread=st["spread"], threshold=st["threshold"], n_samples=N, batch=b,
                           replace=bool(replace), beta_inv=bi, params={"lr": lr})


def diffusion_matrix(loss, x, *, batch: int = 1, replace: bool = True, lr: Optional[float] = None
                     ) -> DiffusionMatrix:
    r"""Diffusion matrix of SGD on a finite-sum loss at ``x`` (paper-spec §6).

    .. math:: D(x) = \frac1N\sum_{k=1}^N\nabla f_k\nabla f_k^\top - \nabla f\nabla f^\top
              \quad(\text{with replacement}),\qquad D' = \tfrac{N}{N-1}D\quad(\text{without}).

    Parameters
    ----------
    loss : object with ``grad_samples(x) -> (N, d)`` (e.g. :class:`deeprelax.finite_sum.FiniteSumLoss`)
    x : array (d,)
    batch : int
    replace : bool
    lr : float, optional
        Learning rate; fills ``beta_inv``.

    Returns
    -------
    DiffusionMatrix
    """
    if not hasattr(loss, "grad_samples"):
        raise TypeError(f"`loss` must be a finite-sum loss with grad_samples(x) -> (N, d); got {type(loss).__name__}.")
    x = np.asarray(check_real("x", x), dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"`x` must have shape (d,); got {x.shape}.")
    return diffusion_from_gradients(loss.grad_samples(x), batch=batch, replace=replace, lr=lr)


def diffusion_field(loss, pts, replace: bool = True) -> np.ndarray:
    """``D(x)`` of a :class:`~deeprelax.finite_sum.FiniteSumLoss` at many points; ``pts`` (..., d) -> (..., d, d).

    Vectorised: ``g_k = c_k(x) a_k`` (+ the ridge term, which cancels in the covariance).
    """
    if not (hasattr(loss, "_coef") and hasattr(loss, "A")):
        raise TypeError(f"`loss` must be a deeprelax.finite_sum.FiniteSumLoss; got {type(loss).__name__}.")
    pts = np.asarray(pts, dtype=np.float64)
    A = loss.A
    N = A.shape[0]
    c = loss._coef(pts @ A.T)                                   # (..., N)
    M = np.einsum("...k,ki,kj->...ij", c * c, A, A) / N
    g = c @ A / N
    D = M - g[..., :, None] * g[..., None, :]
    return D * (N / (N - 1)) if not replace else D
