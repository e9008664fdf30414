r"""SGD out of equilibrium (paper-spec §4.3, §6, §7 items 16-17): anisotropic diffusion, Phi != f, limit cycles.

Conventions (SGD-VI, paper-spec §6)
-----------------------------------
* Diffusion matrix of a finite-sum loss :math:`f = \frac1N\sum_k f_k` at ``x``
  (with replacement): :math:`D(x) = \frac1N\sum_k \nabla f_k\nabla f_k^\top - \nabla f\nabla f^\top`,
  so that the minibatch gradient of batch ``b`` has covariance ``D/b``.  Without replacement the
  paper uses :math:`D' = \frac{N}{N-1} D` and multiplies the temperature by ``1 - b/N``; the product
  ``beta'^{-1} D'`` equals ``(eta/2b) (N-b)/(N-1) D``, the exact minibatch covariance times ``eta/2``.
* Temperature: :math:`\beta^{-1} = \eta/(2b)` (times ``1 - b/N`` without replacement), :func:`temperature`.
* Continuous-time SGD :math:`dx = -\nabla f\,dt + \sqrt{2\beta^{-1}D(x)}\,dW`, Fokker-Planck in Itô form

  .. math:: \rho_t = \nabla\cdot\big(\nabla f\,\rho + \beta^{-1}\nabla\cdot(D\rho)\big),

  (divergence of a matrix taken column-wise).  Potential :math:`\Phi = -\beta^{-1}\log\rho^{ss}`,
  non-equilibrium force :math:`j = -\nabla f + D\nabla\Phi - \beta^{-1}\nabla\cdot D`, with
  :math:`j\rho^{ss} = J^{ss}` (the stationary probability current), hence :math:`\nabla\cdot(j\rho^{ss}) = 0`.

Itô-form finite volumes
-----------------------
The operator of ``rho_t = div(g rho + beta^{-1} div(D(x) rho))`` (Scharfetter-Gummel in ``w = D_kk rho``
plus central mixed terms, no-flux walls) and its steady state live in :mod:`solvers.ito_fokker_planck`;
:func:`ito_operator`, :func:`ito_current` and :func:`ito_steady_state` are re-exported here.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import scipy.linalg as sla

from solvers.errors import NonFiniteError, check_positive, check_real
from solvers.grid import Grid
from solvers.ito_fokker_planck import diffusion_values as _D_values
from solvers.ito_fokker_planck import ito_current, ito_operator, ito_steady_state
from solvers.result import Result, register_result

from . import _sgd_noise_kernels as K

__all__ = [
    "temperature", "diffusion_matrix", "diffusion_from_gradients", "diffusion_field", "spectrum_stats",
    "DiffusionMatrix", "ito_operator", "ito_current", "ito_steady_state", "SGDSteadyState", "sgd_steady_state",
    "nonequilibrium_force", "example19_phi", "example19_force", "example19_j", "example19_critical_points",
    "example19_ode", "example19_em_histogram", "example19_bin_probs", "lsq_exact_covariance",
    "lyapunov_covariance", "sgd_covariance", "symmetric_lsq", "sgd_histogram", "logistic_2d", "TwoWellFiniteSum", "sgd_endpoint_width", "run_sgd_noise_checks", "main",
]


# ============================================================================= temperature / D
def _posint(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1:
        raise ValueError(f"`{name}` must be a positive integer ({name} >= 1); got {v!r}.")
    return int(v)


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
    b = _posint("batch", batch)
    t = lr / (2.0 * b)
    if replace:
        return t
    if N is None:
        raise ValueError("`N` is required for sampling without replacement (replace=False); got None.")
    N = _posint("N", N)
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
    b = _posint("batch", batch)
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


def _residual(A, rho):
    """``max|A rho| / max(|A| |rho|)``: the discrete divergence of the steady current relative to its terms."""
    r = A @ rho.ravel()
    s = abs(A) @ np.abs(rho.ravel())
    return float(np.max(np.abs(r)) / np.max(s))


# ============================================================================= SGD steady state
def nonequilibrium_force(grid: Grid, Phi, g, D, beta: float):
    r"""``j = -g + D grad Phi - beta^{-1} div D`` at the nodes (second-order differences, ``np.gradient``).

    Parameters
    ----------
    Phi : (grid.shape)   g : (grid.shape + (d,))   D : (grid.shape + (d, d))

    Returns
    -------
    j : ndarray grid.shape + (d,)
    """
    d = grid.dim
    gp = np.stack(np.gradient(Phi, *grid.spacing, edge_order=2), axis=-1)
    divD = np.zeros(grid.shape + (d,))
    for k in range(d):                    # (div D)_k = sum_l d_l D_lk  (column-wise)
        for l in range(d):
            divD[..., k] += np.gradient(D[..., l, k], grid.spacing[l], axis=l, edge_order=2)
    return -g + np.einsum("...kl,...l->...k", D, gp) - divD / beta


def _div(v, grid):
    return sum(np.gradient(v[..., k], grid.spacing[k], axis=k, edge_order=2) for k in range(grid.dim))


@register_result
@dataclass(frozen=True, repr=False)
class SGDSteadyState(Result):
    """Stationary density of continuous-time SGD and the derived fields.

    Attributes
    ----------
    rho : grid.shape       steady state of the Itô FP operator (normalised)
    Phi : grid.shape       ``-beta^{-1} log rho`` shifted to min 0 (NaN where rho <= 0)
    f : grid.shape         loss, shifted to min 0
    j : grid.shape + (d,)  non-equilibrium force ``-grad f + D grad Phi - beta^{-1} div D``
    D : grid.shape + (d, d)
    grid : Grid
    beta : float           ``1 / temperature(lr, batch, N, replace)``
    residual : float       ``max|A rho| / max(|A||rho|)`` (discrete ``div(j rho) = 0``)
    div_jrho : float       ``max|div(j rho)| / max(sum_k |d_k(j_k rho)|)`` from nodal differences, O(h^2)
    phi_fit : dict         best fit ``Phi ~ f/c + const`` on the bulk (``rho > 1e-3 max``): ``c``, ``max_dev``
                           (max |Phi - fit| there), ``phi_range`` (range of Phi there)
    params : dict
    """

    rho: np.ndarray
    Phi: np.ndarray
    f: np.ndarray
    j: np.ndarray
    D: np.ndarray
    grid: Grid
    beta: float
    residual: float
    div_jrho: float
    phi_fit: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)


def _phi_fit(Phi, f, mask):
    X = np.stack([f[mask], np.ones(mask.sum())], axis=1)
    coef, *_ = np.linalg.lstsq(X, Phi[mask], rcond=None)
    dev = Phi[mask] - X @ coef
    return {"c": float(1.0 / coef[0]) if coef[0] != 0 else float("inf"), "max_dev": float(np.abs(dev).max()),
            "phi_range": float(np.ptp(Phi[mask]))}


def sgd_steady_state(loss, grid: Grid, *, lr: float, batch: int = 1, replace: bool = True,
                     D: Any = None) -> SGDSteadyState:
    r"""Fokker-Planck steady state of continuous-time SGD on a finite-sum loss.

    ``rho_t = div(grad f rho + beta^{-1} div(D(x) rho))`` with ``D(x)`` from :func:`diffusion_field`
    (or the given ``D``: constant or callable) and ``beta^{-1} = temperature(lr, batch, N, replace)``.
    """
    N = int(loss.n_samples)
    binv = temperature(lr, batch, N, replace)
    beta = 1.0 / binv
    Dfun = (lambda p: diffusion_field(loss, p, replace)) if D is None else D
    rho, A = ito_steady_state(grid, force=loss.grad, D=Dfun, beta=beta, return_operator=True)
    mesh = grid.mesh()
    Dn = np.ascontiguousarray(_D_values(Dfun, mesh, grid.dim))
    fv = loss.value(mesh)
    fv = fv - fv.min()
    with np.errstate(divide="ignore", invalid="ignore"):
        Phi = np.where(rho > 0, -np.log(np.where(rho > 0, rho, 1.0)) / beta, np.nan)
    Phi = Phi - np.nanmin(Phi)
    g = loss.grad(mesh)
    mask = rho > 1e-3 * rho.max()
    Phis = np.where(np.isfinite(Phi), Phi, 0.0)
    j = nonequilibrium_force(grid, Phis, g, Dn, beta)
    jr = j * rho[..., None]
    dv = _div(jr, grid)
    scale = sum(np.abs(np.gradient(jr[..., k], grid.spacing[k], axis=k, edge_order=2)) for k in range(grid.dim))
    div_rel = float(np.max(np.abs(dv[mask])) / np.max(scale[mask]))
    return SGDSteadyState(rho=rho, Phi=Phi, f=fv, j=j, D=Dn, grid=grid, beta=beta, residual=_residual(A, rho),
                          div_jrho=div_rel, phi_fit=_phi_fit(Phi, fv, mask),
                          params={"lr": lr, "batch": batch, "replace": replace, "n_samples": N})


# ============================================================================= Example 19
def example19_phi(x):
    """``Phi(x) = (x1^2 - 1)^2/4 + x2^2/2``; ``x`` (..., 2) -> (...)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.25 * (x[..., 0] ** 2 - 1.0) ** 2 + 0.5 * x[..., 1] ** 2


def example19_j(x, lam: float):
    """``j = lam exp(Phi - r^4/4) (-x2, x1)``; ``x`` (..., 2) -> (..., 2)."""
    x = np.asarray(x, dtype=np.float64)
    r2 = x[..., 0] ** 2 + x[..., 1] ** 2
    e = lam * np.exp(example19_phi(x) - 0.25 * r2 * r2)
    return np.stack([-e * x[..., 1], e * x[..., 0]], axis=-1)


def example19_force(x, lam: float):
    """``grad f = grad Phi - j`` (so ``-grad f = -grad Phi + j``); ``x`` (..., 2) -> (..., 2)."""
    x = np.asarray(x, dtype=np.float64)
    gphi = np.stack([x[..., 0] * (x[..., 0] ** 2 - 1.0), x[..., 1]], axis=-1)
    return gphi - example19_j(x, lam)


def example19_critical_points(lam: float, starts=None, tol: float = 1e-12) -> np.ndarray:
    """Zeros of ``grad f`` (critical points of the drift) found by Newton (``scipy.optimize.root``, hybr).

    ``starts`` default: a 9x9 lattice on ``[-2, 2]^2``.  Returns the distinct roots, shape (m, 2), sorted by x1.
    """
    from scipy.optimize import root

    if starts is None:
        a = np.linspace(-2, 2, 9)
        starts = np.stack(np.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)
    roots = []
    for s in np.asarray(starts, dtype=np.float64):
        sol = root(lambda z: example19_force(z, lam), s, tol=tol)
        if sol.success and np.max(np.abs(example19_force(sol.x, lam))) < 1e-9 and np.all(np.abs(sol.x) < 10):
            if not any(np.linalg.norm(sol.x - r) < 1e-6 for r in roots):
                roots.append(sol.x)
    roots = np.array(roots).reshape(-1, 2)
    return roots[np.lexsort((roots[:, 1], roots[:, 0]))]


def example19_ode(x0, lam: float, T: float, dt: float = 1e-2, save_every: int = 1) -> dict:
    """RK4 for the noise-free flow ``x' = -grad f(x)``; returns ``{"t", "x" (n, 2), "winding"}``.

    ``winding`` is the unwrapped polar angle about the origin divided by ``2 pi`` (array (n,)).
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    n = int(round(T / dt))
    F = lambda z: -example19_force(z, lam)
    xs = [x.copy()]
    for i in range(n):
        k1 = F(x)
        k2 = F(x + 0.5 * dt * k1)
        k3 = F(x + 0.5 * dt * k2)
        k4 = F(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        if (i + 1) % save_every == 0:
            xs.append(x.copy())
    xs = np.array(xs)
    th = np.unwrap(np.arctan2(xs[:, 1], xs[:, 0]))
    return {"t": np.arange(len(xs)) * dt * save_every, "x": xs, "winding": (th - th[0]) / (2 * np.pi)}


def example19_bin_probs(edges0, edges1) -> np.ndarray:
    """Exact bin probabilities of ``exp(-Phi)/Z`` (separable; 1-D integrals by Gauss-Legendre, Z over R^2)."""
    from scipy.integrate import quad
    from scipy.special import erf

    Z1 = quad(lambda s: math.exp(-0.25 * (s * s - 1) ** 2), -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    p0 = np.array([quad(lambda s: math.exp(-0.25 * (s * s - 1) ** 2), a, b, epsabs=1e-15)[0]
                   for a, b in zip(edges0[:-1], edges0[1:])]) / Z1
    c = 0.5 * (1 + erf(np.asarray(edges1) / math.sqrt(2)))
    p1 = np.diff(c)
    return np.outer(p0, p1)


def example19_em_histogram(lam: float, *, h: float = 5e-3, n_chains: int = 64, n_burn: int = 2000,
                           n_steps: int = 200_000, every: int = 20, seed: int = 0, box: float = 3.0,
                           nbins: int = 24) -> dict:
    """Euler-Maruyama histogram of Example 19 (Numba kernel) against the exact bin probabilities of ``e^-Phi``.

    Returns dict with ``counts`` (nbins, nbins), ``probs`` (exact), ``edges``, ``n`` (entries incl. outside),
    ``outside``, ``l1`` (sum |counts/n - probs|) and ``l1_noise``: half the L1 distance between the
    histograms of two independent replicates (each ``n_chains/2`` chains), the sampling-noise level of ``l1``.
    """
    lo = np.array([-box, -box])
    hi = np.array([box, box])
    reps, outs = [], 0
    for r in range(2):                                   # two independent replicates -> noise level
        rng = np.random.default_rng([seed, r])
        x0 = np.ascontiguousarray(rng.standard_normal((n_chains // 2, 2)))
        c = np.zeros((nbins, nbins), np.int64)
        outs += K.ex19_em_hist(x0, float(lam), float(h), int(n_burn), int(n_steps), int(every),
                               int(seed) * 2 + r, lo, hi, int(nbins), c)
        reps.append(c)
    counts = reps[0] + reps[1]
    edges = np.linspace(-box, box, nbins + 1)
    probs = example19_bin_probs(edges, edges)
    n = int(counts.sum()) + int(outs)
    emp = counts / n
    l1 = float(np.abs(emp - probs).sum())
    e1, e2 = reps[0] / max(reps[0].sum(), 1), reps[1] / max(reps[1].sum(), 1)
    l1_noise = 0.5 * float(np.abs(e1 - e2).sum())
    return {"counts": counts, "probs": probs, "edges": edges, "n": n, "outside": int(outs), "l1": l1,
            "l1_noise": l1_noise, "h": h, "lam": lam}


def _ex19_em_path(lam, h, n, every, seed):
    """One EM path (numpy, for the autocorrelation estimate and the kernel's twin test); (n//every, 2)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(2)
    s = math.sqrt(2 * h)
    out = []
    xi = rng.standard_normal((n, 2))
    for i in range(n):
        x = x - h * example19_force(x, lam) + s * xi[i]
        if i % every == 0:
            out.append(x.copy())
    return np.array(out)


# ============================================================================= OU / Lyapunov
def symmetric_lsq(A, scale_r: float = 1.0):
    r"""Least-squares finite sum with ``D(0) = scale_r^2 H`` exactly: samples ``(a_k, y = +-scale_r)`` in pairs.

    ``f_k = (a_k . x - y_k)^2/2`` with every ``a`` twice (``y = +s`` and ``y = -s``): the minimiser is 0,
    the residuals there are ``-+s``, so ``D(0) = s^2 (1/N) sum a a^T = s^2 H``.
    """
    from .finite_sum import FiniteSumLoss

    A = np.asarray(A, dtype=np.float64)
    AA = np.concatenate([A, A])
    y = np.concatenate([np.full(len(A), scale_r), np.full(len(A), -scale_r)])
    return FiniteSumLoss("least-squares", AA, y, x_true=np.zeros(A.shape[1]))


def lyapunov_covariance(H, D, beta_inv: float) -> np.ndarray:
    r"""Solution ``S`` of ``H S + S H^T = 2 beta^{-1} D`` (``scipy.linalg.solve_continuous_lyapunov``)."""
    H = np.asarray(H, dtype=np.float64)
    return sla.solve_continuous_lyapunov(H, 2.0 * beta_inv * np.asarray(D, dtype=np.float64))


def lsq_exact_covariance(loss, lr: float, batch: int, replace: bool = True, tol: float = 1e-14,
                         max_iter: int = 100_000) -> np.ndarray:
    r"""Exact stationary covariance of discrete minibatch SGD on a least-squares finite sum.

    With ``delta = x - x*``, ``delta' = (I - eta H) delta - eta xi``, ``Cov xi = Sigma(x)/b`` (times
    ``(N-b)/(N-1)`` without replacement) and ``Sigma(x) = (1/N) sum (r_k* + a_k.delta)^2 a_k a_k^T - H delta delta^T H``
    (quadratic in ``delta``), so ``E Sigma = (1/N) sum (r_k*^2 + a_k^T S a_k) a_k a_k^T - H S H`` and
    ``S = (I - eta H) S (I - eta H)^T + eta^2 c E Sigma(S)`` -- a linear fixed point, solved by iteration.
    To first order in ``eta`` this is the Lyapunov solution with ``beta^{-1} = eta/(2b)`` (and ``1 - b/N``).
    """
    if loss.kind != "least-squares":
        raise ValueError(f"`loss` must be a least-squares finite sum; got kind={loss.kind!r}.")
    A = loss.A
    N, d = A.shape
    xs = loss.minimizer()
    r = A @ xs - loss.y
    H = A.T @ A / N + loss.lam * np.eye(d)
    b = _posint("batch", batch)
    c = 1.0 / b if replace else (N - b) / ((N - 1) * b)
    M = np.eye(d) - lr * H
    base = np.einsum("k,ki,kj->ij", r * r, A, A) / N
    S = np.zeros((d, d))
    for _ in range(max_iter):
        q = np.einsum("ki,ij,kj->k", A, S, A)
        ES = base + np.einsum("k,ki,kj->ij", q, A, A) / N - H @ S @ H
        Sn = M @ S @ M.T + lr * lr * c * ES
        if np.max(np.abs(Sn - S)) <= tol * max(np.max(np.abs(Sn)), 1e-300):
            return Sn
        S = Sn
    raise NonFiniteError("lsq_exact_covariance did not converge (is lr below the mean-square stability limit?).")


def sgd_covariance(loss, *, lr: float, batch: int, replace: bool = True, n_chains: int = 2000,
                   n_burn: int = 2000, n_steps: int = 2000, every: int = 20, seed: int = 0) -> dict:
    """Empirical stationary covariance of minibatch SGD (``deeprelax.dynamics.sgd`` with real minibatches).

    ``n_chains`` independent chains from the minimiser, ``n_burn`` steps discarded, then every ``every``-th of
    ``n_steps`` states kept.  Standard errors of the covariance entries from chain means
    (each chain's time-average of ``delta_i delta_j`` is one independent sample).

    Returns ``{"S" (d, d), "se" (d, d), "n_chains", "samples"}``.
    """
    from .dynamics import sgd

    rng = np.random.default_rng(seed)
    xs = loss.minimizer() if loss.kind == "least-squares" else np.zeros(loss.dim)
    tr = sgd(loss, xs, lr=lr, n_steps=n_burn, batch=batch, replace=replace, n_chains=n_chains, rng=rng)
    tr = sgd(loss, tr.x, lr=lr, n_steps=n_steps, batch=batch, replace=replace, rng=rng, save_every=every)
    dx = tr.xs[1:] - xs                                     # (m, chains, d)
    P = np.einsum("mci,mcj->cij", dx, dx) / dx.shape[0]     # per-chain time averages
    return {"S": P.mean(0), "se": P.std(0, ddof=1) / math.sqrt(n_chains), "n_chains": n_chains,
            "samples": int(dx.shape[0] * n_chains), "dx": dx}


def sgd_histogram(loss, grid: Grid, cells_per_bin: int, *, lr: float, batch: int = 1, replace: bool = True,
                  x0=None, n_chains: int = 1000, n_burn: int = 1000, n_steps: int = 4000, every: int = 40,
                  seed: int = 0, rho=None) -> dict:
    """Histogram of minibatch SGD (``deeprelax.dynamics.sgd``) on bins made of whole FP cells, vs ``rho``.

    Bins are ``cells_per_bin`` x ``cells_per_bin`` blocks of FP cells (each axis length must be divisible).
    ``n_chains`` chains (two independent halves for the noise level) from ``x0`` (default: the grid centre).

    Returns dict ``emp``, ``probs`` (bin integrals of ``rho``; None when ``rho`` is None), ``edges``,
    ``n``, ``outside``, ``l1``, ``l1_noise`` (half the L1 distance between the two halves' histograms).
    """
    from .dynamics import sgd

    m = _posint("cells_per_bin", cells_per_bin)
    if any(n % m for n in grid.shape):
        raise ValueError(f"`cells_per_bin` = {m} must divide the grid shape {grid.shape}.")
    nb = [n // m for n in grid.shape]
    edges = [grid.lo[k] - 0.5 * grid.spacing[k] + np.arange(nb[k] + 1) * m * grid.spacing[k] for k in range(2)]
    x0 = 0.5 * (np.asarray(grid.lo) + np.asarray(grid.hi)) if x0 is None else np.asarray(x0, dtype=np.float64)
    hs, outs = [], 0
    for r in range(2):
        rng = np.random.default_rng([seed, r])
        tr = sgd(loss, x0, lr=lr, n_steps=n_burn, batch=batch, replace=replace, n_chains=n_chains // 2, rng=rng)
        tr = sgd(loss, tr.x, lr=lr, n_steps=n_steps, batch=batch, replace=replace, rng=rng, save_every=every)
        X = tr.xs[1:].reshape(-1, 2)
        H_, _, _ = np.histogram2d(X[:, 0], X[:, 1], bins=edges)
        outs += len(X) - int(H_.sum())
        hs.append(H_ / len(X))
    emp = 0.5 * (hs[0] + hs[1])
    out = {"emp": emp, "edges": edges, "n": int(2 * len(X)), "outside": outs,
           "l1_noise": 0.5 * float(np.abs(hs[0] - hs[1]).sum())}
    if rho is not None:
        P = np.asarray(rho).reshape(nb[0], m, nb[1], m).sum((1, 3)) * grid.cell_volume
        out["probs"] = P
        out["l1"] = float(np.abs(emp - P).sum())
    return out


def logistic_2d(N: int = 32, seed: int = 3):
    """2-D logistic finite sum with anisotropic, correlated features; returns ``(loss, x_min)``."""
    from scipy.optimize import minimize

    from .finite_sum import FiniteSumLoss

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, 2)) * np.array([1.5, 0.5])
    A[:, 1] += 0.3 * A[:, 0]
    xt = np.array([1.0, -1.0])
    y = np.where(rng.random(N) < 1 / (1 + np.exp(-(A @ xt))), 1.0, -1.0)
    loss = FiniteSumLoss("logistic", A, y, x_true=xt, seed=seed)
    r = minimize(lambda z: loss.value(z), np.zeros(2), jac=lambda z: loss.grad(z), method="BFGS", tol=1e-14)
    return loss, r.x


# ============================================================================= widths vs eta / b
class TwoWellFiniteSum:
    r"""2-D finite sum with a sharp and a wide minimum (issue 6 item 5).

    .. math:: f_k(x) = -\log\sum_{i=1}^2 \exp\big(-\tfrac12 (x - m_i - u_k)^\top A_i (x - m_i - u_k)\big),
              \qquad f = \frac1N\sum_k f_k,

    with ``m = (-1, 0), (1, 0)``, ``A_1 = diag(12, 4)`` (sharp), ``A_2 = diag(1, 0.5)`` (wide) and per-sample
    shifts ``u_k ~ spread * N(0, I)`` (centred).  The shifts make the minibatch gradient noisy; the noise is
    larger in the sharp well (``~ A_1 u``).  With the defaults (``seed=0``, ``spread=0.4``) the minima of ``f``
    are at about ``(-0.716, 0.025)`` (sharp: Hessian trace 4.04) and ``(1, 0)`` (wide: trace 1.50).
    """

    def __init__(self, N: int = 64, seed: int = 0, spread: float = 0.4):
        rng = np.random.default_rng(seed)
        self.m = np.array([[-1.0, 0.0], [1.0, 0.0]])
        self.Adiag = np.array([[12.0, 4.0], [1.0, 0.5]])
        self.U = float(spread) * rng.standard_normal((_posint("N", N), 2))
        self.U -= self.U.mean(0)
        self.n_samples = N
        self.dim = 2

    def grad_at(self, x, U):
        """``grad f_k`` for shifts ``U`` broadcast against ``x`` (..., 2) -> (..., 2)."""
        r = x[..., None, :] - self.m - U[..., None, :]
        e = -0.5 * np.sum(self.Adiag * r * r, -1)
        p = np.exp(e - e.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return np.sum(p[..., None] * self.Adiag * r, -2)

    def grad_samples(self, x):
        """Per-sample gradients at one point ``x`` (2,) -> (N, 2)."""
        return self.grad_at(np.broadcast_to(np.asarray(x, dtype=np.float64), self.U.shape), self.U)

    def grad(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.grad_at(x[..., None, :], self.U).mean(-2)

    def hess(self, x, e: float = 1e-5):
        """Hessian of ``f`` by central differences of the exact gradient; (..., 2) -> (..., 2, 2)."""
        x = np.asarray(x, dtype=np.float64)
        H = np.zeros(x.shape + (2,))
        for l in range(2):
            d = np.zeros(2)
            d[l] = e
            H[..., l] = (self.grad(x + d) - self.grad(x - d)) / (2 * e)
        return 0.5 * (H + np.swapaxes(H, -1, -2))


def sgd_endpoint_width(loss, *, lr: float, batch: int, T: float = 20.0, n_chains: int = 300, seed: int = 0,
                       box: float = 3.0, polish: int = 400) -> dict:
    """Minibatch SGD (with replacement) for time ``T`` (``T/lr`` steps) from ``U[-box, box]^2``, then ``polish``
    full-gradient steps to the minimum reached; the width there: ``trace`` and ``top`` eigenvalue of the
    Hessian (arrays over chains) with means and standard errors.
    """
    lr = check_positive("lr", lr)
    b = _posint("batch", batch)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-box, box, (_posint("n_chains", n_chains), 2))
    for _ in range(int(round(T / lr))):
        idx = rng.integers(0, loss.n_samples, (x.shape[0], b))
        x = x - lr * loss.grad_at(x[:, None, :], loss.U[idx]).mean(1)
        if not np.all(np.isfinite(x)):
            raise NonFiniteError(f"SGD diverged (lr={lr}, batch={b}); reduce lr.")
    for _ in range(polish):
        x = x - 0.05 * loss.grad(x)
    H = loss.hess(x)
    ev = np.linalg.eigvalsh(H)
    tr, top = ev.sum(-1), ev[:, -1]
    n = len(tr)
    return {"x": x, "trace": tr, "top": top, "trace_mean": float(tr.mean()),
            "trace_se": float(tr.std(ddof=1) / math.sqrt(n)), "top_mean": float(top.mean()),
            "top_se": float(top.std(ddof=1) / math.sqrt(n)), "frac_sharp": float(np.mean(x[:, 0] < 0)),
            "lr": lr, "batch": b}


# ============================================================================= checks
def loglog_slope(x, y) -> tuple:
    """Least-squares slope of ``log y`` against ``log x`` and its standard error (observed orders)."""
    lx, ly = np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))
    if lx.size < 2 or lx.shape != ly.shape or not (np.all(np.isfinite(lx)) and np.all(np.isfinite(ly))):
        raise ValueError("`x` and `y` must be positive, of equal length >= 2.")
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    se = 0.0
    if lx.size > 2:
        r = ly - A @ coef
        se = float(np.sqrt(float(r @ r) / (lx.size - 2) / np.sum((lx - lx.mean()) ** 2)))
    return float(coef[0]), se


def _check(quantity, expected, measured, tol, seed, passed=None, **extra):
    if passed is None:
        passed = bool(abs(measured - expected) <= tol)
    d = {"quantity": quantity, "expected": float(expected), "measured": float(measured), "tolerance": float(tol),
         "pass": bool(passed), "seed": seed}
    d.update(extra)
    return d


def _aniso_lsq(N=16, seed=3, noise=0.3):
    """2-D least squares with anisotropic features (scales 1 and 0.4): strongly non-isotropic D(x)."""
    from .finite_sum import FiniteSumLoss

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, 2)) * np.array([1.0, 0.4])
    A[:, 1] += 0.5 * A[:, 0]
    xt = np.array([0.5, -0.5])
    y = A @ xt + noise * rng.standard_normal(N)
    return FiniteSumLoss("least-squares", A, y, x_true=xt, seed=seed, noise=noise)


def run_sgd_noise_checks(out_dir=None, size: str = "test", seed: int = 0) -> list:
    """All SGD-noise checks; returns a list of dicts ``quantity, expected, measured, tolerance, pass, seed``.

    ``size="test"`` takes well under a minute on 2 cores; ``"full"`` uses larger grids and samples.
    Writes ``sgd_noise_checks.json`` to ``out_dir`` when given.
    """
    if size not in ("test", "full"):
        raise ValueError(f"`size` must be 'test' or 'full'; got {size!r}.")
    full = size == "full"
    checks = []
    # -- 1. diffusion matrix: lr * minibatch_cov == 2 beta^{-1} D, both sampling modes
    loss = _aniso_lsq(seed=3)                 # datasets are fixed; `seed` drives the Monte Carlo only
    x = loss.minimizer() + 0.3
    for rep in (True, False):
        dm = diffusion_matrix(loss, x, batch=4, replace=rep, lr=0.1)
        err = np.max(np.abs(0.1 * dm.minibatch_cov - 2 * dm.beta_inv * dm.D)) / np.max(np.abs(dm.D))
        checks.append(_check(f"eta*Cov(g_B) - 2 beta^-1 D (rel), replace={rep}", 0.0, err, 1e-13, seed))
    # -- 2. OU operator: constant anisotropic D, non-symmetric F, Gaussian with Lyapunov covariance
    F = np.array([[1.0, 0.8], [-0.4, 0.6]])
    Dc = np.array([[1.0, 0.3], [0.3, 0.5]])
    errs, hs = [], []
    for n in ((41, 61, 81, 121) if full else (31, 45, 61)):
        g = Grid.uniform([(-5, 5), (-5, 5)], (n, n))
        rho = ito_steady_state(g, force=lambda p: p @ F.T, D=Dc, beta=1.0)
        S = lyapunov_covariance(F, Dc, 1.0)
        m = g.mesh()
        ex = np.exp(-0.5 * np.einsum("...i,ij,...j->...", m, np.linalg.inv(S), m))
        ex /= ex.sum() * g.cell_volume
        errs.append(np.abs(rho - ex).sum() * g.cell_volume)
        hs.append(g.spacing[0])
    slope, _ = loglog_slope(hs, errs)
    checks.append(_check("OU Ito-FV steady state vs Lyapunov Gaussian: L1 order", 2.0, slope, 0.3, seed,
                         errors=errs, h=hs))
    # -- 3. state-dependent full D(x) with detailed balance: rho = exp(-beta Phi) exactly in the continuum
    def Dx(p):
        a = 1.0 + 0.5 * np.sin(p[..., 0])
        c = 0.8 + 0.3 * p[..., 1] ** 2 / (1 + p[..., 1] ** 2)
        o = 0.25 * np.cos(p[..., 0] + p[..., 1])
        return np.stack([np.stack([a, o], -1), np.stack([o, c], -1)], -2)

    def divDx(p, e=1e-5):
        out = np.zeros(p.shape)
        for k in range(2):
            for l in range(2):
                dp = np.zeros(2)
                dp[l] = e
                out[..., k] += (Dx(p + dp)[..., l, k] - Dx(p - dp)[..., l, k]) / (2 * e)
        return out

    phi = lambda p: 0.25 * p[..., 0] ** 4 + 0.5 * p[..., 1] ** 2 - 0.3 * p[..., 0]
    gphi = lambda p: np.stack([p[..., 0] ** 3 - 0.3, p[..., 1]], -1)
    bt = 2.0
    force = lambda p: np.einsum("...kl,...l->...k", Dx(p), gphi(p)) - divDx(p) / bt
    errs, hs = [], []
    for n in ((41, 61, 81, 121) if full else (31, 45, 61)):
        g = Grid.uniform([(-3, 3), (-4, 4)], (n, n))
        rho = ito_steady_state(g, force=force, D=Dx, beta=bt)
        ex = np.exp(-bt * phi(g.mesh()))
        ex /= ex.sum() * g.cell_volume
        errs.append(np.abs(rho - ex).sum() * g.cell_volume)
        hs.append(g.spacing[0])
    slope, _ = loglog_slope(hs, errs)
    checks.append(_check("state-dependent full D(x), detailed balance: L1 order", 2.0, slope, 0.3, seed,
                         errors=errs, h=hs))
    # -- 4. Lemma 6 with D = c I (potential form): Phi = f / c exactly (discrete Gibbs)
    g = Grid.uniform([(-2, 3), (-3, 2)], (61, 61))
    c = 0.37
    ss = ito_steady_state(g, potential=loss.value(g.mesh()), D=c, beta=5.0)
    Phi = -np.log(ss) / 5.0
    fv = loss.value(g.mesh())
    dev = np.max(np.abs((Phi - Phi.min()) - (fv - fv.min()) / c))
    checks.append(_check("Lemma 6, D = cI: max|Phi - f/c| (shifted)", 0.0, dev, 1e-9, seed))
    # -- 5. SGD steady state on a 2-D logistic finite sum with D(x) from the data
    lloss, xm = logistic_2d(seed=3)
    Hm = np.asarray(lloss.hess(xm)).reshape(2, 2)
    Dm = diffusion_matrix(lloss, xm).D
    lr, b = 0.4, 1
    S = lyapunov_covariance(Hm, Dm, temperature(lr, b))
    sd = np.sqrt(np.diag(S))
    box = [(xm[k] - 7 * sd[k], xm[k] + 7 * sd[k]) for k in range(2)]
    divs, hs = [], []
    for n in ((61, 121, 241) if full else (41, 81, 161)):
        st = sgd_steady_state(lloss, Grid.uniform(box, (n, n)), lr=lr, batch=b)
        divs.append(st.div_jrho)
        hs.append(st.grid.spacing[0])
    checks.append(_check("SGD steady state: discrete div(J_ss) / scale (round-off)", 0.0, st.residual, 1e-11, seed))
    slope, _ = loglog_slope(hs, divs)
    checks.append(_check("SGD steady state: nodal div(j rho_ss) -> 0, observed order", 2.0, slope, 0.3, seed,
                         values=divs, h=hs))
    rel = st.phi_fit["max_dev"] / st.phi_fit["phi_range"]
    checks.append(_check("Phi != f (non-isotropic D): max|Phi - (f/c + k)| / range(Phi)", 0.0, rel, 0.05, seed,
                         passed=bool(rel > 0.05), note="pass = deviation far above the discretisation error"))
    jmax = float(np.max(np.linalg.norm(st.j[st.rho > 1e-2 * st.rho.max()], axis=-1)))
    gmax = float(np.max(np.linalg.norm(lloss.grad(st.grid.mesh())[st.rho > 1e-2 * st.rho.max()], axis=-1)))
    checks.append(_check("non-equilibrium force max|j| / max|grad f| on the bulk", 0.0, jmax / gmax, 0.05, seed,
                         passed=bool(jmax / gmax > 0.05), note="pass = j clearly non-zero (D, H do not commute)"))
    # SGD histogram vs rho_ss at temperatures T and T/2 (b = 1): the gap shrinks as T -> 0
    l1s = []
    for lr_ in (0.4, 0.2):
        S_ = lyapunov_covariance(Hm, Dm, temperature(lr_, 1))
        sd_ = np.sqrt(np.diag(S_))
        g_ = Grid.uniform([(xm[k] - 7 * sd_[k], xm[k] + 7 * sd_[k]) for k in range(2)], (160, 160))
        st_ = sgd_steady_state(lloss, g_, lr=lr_, batch=1)
        hist = sgd_histogram(lloss, g_, 8, lr=lr_, batch=1, x0=xm, n_chains=2000 if full else 600,
                             n_burn=int(200 / lr_), n_steps=int((3200 if full else 1600) / lr_),
                             every=int(16 / lr_), seed=seed, rho=st_.rho)
        l1s.append(hist["l1"])
        # the Gaussian with the Lyapunov covariance at x* (constant D, quadratic f) on the same bins
        mg = g_.mesh() - xm
        gau = np.exp(-0.5 * np.einsum("...i,ij,...j->...", mg, np.linalg.inv(S_), mg))
        gau /= gau.sum() * g_.cell_volume
        Pg = gau.reshape(20, 8, 20, 8).sum((1, 3)) * g_.cell_volume
        l1g = float(np.abs(hist["emp"] - Pg).sum())
        checks.append(_check(f"SGD histogram, lr={lr_}, b=1: L1 to Ito-FP rho_ss (D(x)) < L1 to Lyapunov Gaussian",
                             l1g, hist["l1"], 0.0, seed, passed=bool(hist["l1"] + 2 * hist["l1_noise"] < l1g),
                             l1_noise=hist["l1_noise"], l1_gaussian=l1g, n=hist["n"]))
    checks.append(_check("L1(SGD, rho_ss): ratio T/2 : T (-> 0 as T -> 0)", 0.5, l1s[1] / l1s[0], 0.3, seed))
    # -- 6. Example 19: FP steady state = e^-Phi for every lambda (O(h^2)), critical points, circulation, EM
    for lam in (0.0, 0.5, 1.5):
        errs, hs = [], []
        for n in ((41, 81, 161, 241) if full else (41, 61, 81)):
            g = Grid.uniform([(-3, 3), (-3, 3)], (n, n))
            rho = ito_steady_state(g, force=lambda p, lam=lam: example19_force(p, lam), beta=1.0)
            ex = np.exp(-example19_phi(g.mesh()))
            ex /= ex.sum() * g.cell_volume
            errs.append(float(np.abs(rho - ex).sum() * g.cell_volume))
            hs.append(g.spacing[0])
        slope, _ = loglog_slope(hs, errs)
        checks.append(_check(f"Example 19 lambda={lam}: FP rho_ss -> e^-Phi/Z, L1 order", 2.0, slope, 0.3, seed,
                             errors=errs, h=hs))
        cp = example19_critical_points(lam)
        shift = float(min(np.linalg.norm(cp - np.array([1.0, 0.0]), axis=1).min(),
                          np.linalg.norm(cp - np.array([-1.0, 0.0]), axis=1).min()))
        if lam == 0:
            checks.append(_check("Example 19 lambda=0: critical points of f at (+-1,0): distance", 0.0, shift,
                                 1e-9, seed, points=cp.tolist()))
        else:
            checks.append(_check(f"Example 19 lambda={lam}: critical points of f move away from (+-1,0)", 0.0,
                                 shift, 1e-3, seed, passed=bool(shift > 1e-3), points=cp.tolist()))
        hist = example19_em_histogram(lam, h=5e-3, n_chains=64 if full else 16,
                                      n_steps=400_000 if full else 100_000, seed=seed)
        checks.append(_check(f"Example 19 lambda={lam}: EM histogram vs e^-Phi/Z, L1 <= 3 x noise", 0.0,
                             hist["l1"], 3 * hist["l1_noise"], seed, l1_noise=hist["l1_noise"], n=hist["n"]))
    o = example19_ode([0.5, 0.5], 1.5, 200.0, 1e-2, save_every=10)
    r = np.linalg.norm(o["x"], axis=1)
    late = r[len(r) // 2:]
    wind_rate = float((o["winding"][-1] - o["winding"][len(r) // 2]) / (0.5 * 200.0))
    checks.append(_check("Example 19 lambda=1.5: noise-free flow circulates (turns per unit time, late half)",
                         0.0, abs(wind_rate), 0.05, seed, passed=bool(abs(wind_rate) > 0.05 and late.min() > 0.02),
                         r_min=float(late.min()), r_max=float(late.max())))
    # -- 7. OU / Lyapunov on a least-squares finite sum, with and without replacement
    N = loss.n_samples
    xs = loss.minimizer()
    H = np.asarray(loss.hess(xs)).reshape(2, 2)
    lrs = (0.2, 0.1, 0.05, 0.025)
    for rep in (True, False):
        bb = 4
        dm = diffusion_matrix(loss, xs, batch=bb, replace=rep)
        devs = [np.linalg.norm(lsq_exact_covariance(loss, l_, bb, rep)
                               - lyapunov_covariance(H, dm.D, temperature(l_, bb, N, rep)))
                / np.linalg.norm(lyapunov_covariance(H, dm.D, temperature(l_, bb, N, rep))) for l_ in lrs]
        slope, _ = loglog_slope(lrs, devs)
        checks.append(_check(f"exact SGD covariance -> Lyapunov (beta^-1 = eta/2b{'' if rep else ' (1-b/N)'}): "
                             "order in eta", 1.0, slope, 0.15, seed, values=devs, lr=list(lrs)))
        lr = 0.1
        c = sgd_covariance(loss, lr=lr, batch=bb, replace=rep, n_chains=2000 if full else 1000,
                           n_burn=int(40 / lr), n_steps=int((400 if full else 200) / lr), every=int(2 / lr),
                           seed=seed)
        SE = lsq_exact_covariance(loss, lr, bb, rep)
        z = float(np.max(np.abs(c["S"] - SE) / c["se"]))
        checks.append(_check(f"SGD covariance vs exact discrete, replace={rep}: max |z|", 0.0, z, 4.0, seed))
        SL = lyapunov_covariance(H, dm.D, temperature(lr, bb, N, rep))
        dev = float(np.linalg.norm(c["S"] - SL) / np.linalg.norm(SL))
        se = float(np.linalg.norm(c["se"]) / np.linalg.norm(SL))
        checks.append(_check(f"SGD covariance vs Lyapunov, eta={lr}, replace={rep}: rel. dev. (O(eta))",
                             devs[1], dev, 3 * se, seed))
        if not rep:
            SW = lyapunov_covariance(H, dm.D * (N - 1) / N, temperature(lr, bb))   # no (1 - b/N) factor
            devw = float(np.linalg.norm(c["S"] - SW) / np.linalg.norm(SW))
            checks.append(_check("without replacement, omitting (1-b/N): rel. dev. exceeds the correct one by "
                                 "> 10 SE", dev, devw, 10 * se, seed, passed=bool(devw - dev > 10 * se)))
    # -- 8. E[L] = eta/(4b) Tr(H) near a quadratic minimum with D = H (symmetric least squares)
    rng = np.random.default_rng(5)
    sl = symmetric_lsq(rng.standard_normal((16, 2)) * np.array([1.0, 0.3]), 1.0)
    x0 = np.zeros(2)
    H = np.asarray(sl.hess(x0)).reshape(2, 2)
    fstar = float(sl.value(x0))
    for lr, bb in ((0.1, 1), (0.05, 1), (0.1, 2)):
        c = sgd_covariance(sl, lr=lr, batch=bb, n_chains=2000 if full else 1000, n_burn=int(40 / lr),
                           n_steps=int((400 if full else 200) / lr), every=int(2 / lr), seed=seed)
        L = (sl.value(x0 + c["dx"]) - fstar).mean(0)
        m, se = float(L.mean()), float(L.std(ddof=1) / math.sqrt(L.size))
        formula = lr / (4 * bb) * float(np.trace(H))
        exact = 0.5 * float(np.trace(H @ lsq_exact_covariance(sl, lr, bb)))
        checks.append(_check(f"E[f - f*] vs exact discrete, eta={lr}, b={bb}", exact, m, 3 * se, seed, stderr=se))
        # first-order correction (see docs): relative  (eta/2) [(1-c) Tr H^2 + c m4] / Tr H, c = 1/b, m4 = mean |a|^4;
        # tolerance = twice that bound + 3 SE
        cb = 1.0 / bb
        m4 = float(np.mean(np.sum(sl.A ** 2, axis=1) ** 2))
        corr = 0.5 * lr * ((1 - cb) * float(np.trace(H @ H)) + cb * m4) / float(np.trace(H))
        checks.append(_check(f"E[f - f*] vs eta/(4b) Tr H (D = H), eta={lr}, b={bb}: first order", formula, m,
                             2 * corr * formula + 3 * se, seed, stderr=se, first_order_rel=corr))
    # -- 9. equal eta/b -> statistically equal width of the minimum reached; a smaller eta/b -> sharper
    tw = TwoWellFiniteSum(seed=0)
    nc = 1000 if full else 300
    runs = [sgd_endpoint_width(tw, lr=lr_, batch=b_, n_chains=nc, seed=seed + i)
            for i, (lr_, b_) in enumerate(((0.05, 2), (0.1, 4), (0.05, 8)))]
    for key in ("trace", "top"):
        r0, r1, r2 = runs
        se01 = math.hypot(r0[key + "_se"], r1[key + "_se"])
        checks.append(_check(f"width ({key} of Hessian at endpoint): eta/b=0.025, (0.05,2) vs (0.1,4)",
                             r0[key + "_mean"], r1[key + "_mean"], 3 * se01, seed, stderr=se01))
        se02 = math.hypot(r0[key + "_se"], r2[key + "_se"])
        checks.append(_check(f"width ({key}): eta/b=0.025 vs 0.00625 differ (smaller eta/b -> sharper)",
                             r0[key + "_mean"], r2[key + "_mean"], 3 * se02, seed,
                             passed=bool(r2[key + "_mean"] - r0[key + "_mean"] > 3 * se02), stderr=se02))
    if out_dir is not None:
        import json
        from pathlib import Path

        p = Path(out_dir)
        p.mkdir(parents=True, exist_ok=True)
        clean = [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in c.items()} for c in checks]
        (p / "sgd_noise_checks.json").write_text(json.dumps(clean, indent=1, default=float))
    return checks


def main(argv=None) -> int:
    """``deeprelax sgd-noise --out DIR [--size test|full] [--seed S]``: run the checks, write JSON, print a table."""
    import argparse
    import json
    from pathlib import Path

    p = argparse.ArgumentParser(prog="deeprelax sgd-noise")
    p.add_argument("--out", default="out")
    p.add_argument("--size", choices=["test", "full"], default="test")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    checks = run_sgd_noise_checks(out, a.size, a.seed)
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  {c['quantity']}: expected {c['expected']:.4g}, "
              f"measured {c['measured']:.4g}, tol {c['tolerance']:.3g}")
    print(f"{sum(c['pass'] for c in checks)}/{len(checks)} passed in {time.perf_counter() - t0:.1f} s")
    return 0 if all(c["pass"] for c in checks) else 1
