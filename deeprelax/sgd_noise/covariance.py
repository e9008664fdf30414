"""Near a minimum: the Ornstein-Uhlenbeck (Lyapunov) covariance of SGD against exact discrete and sampled ones.

Part of :mod:`deeprelax.sgd_noise` (conventions in its docstring).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from solvers.errors import check_count, NonFiniteError
from solvers.grid import Grid


def symmetric_lsq(A, scale_r: float = 1.0):
    r"""Least-squares finite sum with ``D(0) = scale_r^2 H`` exactly: samples ``(a_k, y = +-scale_r)`` in pairs.

    ``f_k = (a_k . x - y_k)^2/2`` with every ``a`` twice (``y = +s`` and ``y = -s``): the minimiser is 0,
    the residuals there are ``-+s``, so ``D(0) = s^2 (1/N) sum a a^T = s^2 H``.
    """
    from ..finite_sum import FiniteSumLoss

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
    b = check_count("batch", batch, minimum=1)
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
    from ..dynamics import sgd

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
    from ..dynamics import sgd

    m = check_count("cells_per_bin", cells_per_bin, minimum=1)
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

    from ..finite_sum import FiniteSumLoss

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, 2)) * np.array([1.5, 0.5])
    A[:, 1] += 0.3 * A[:, 0]
    xt = np.array([1.0, -1.0])
    y = np.where(rng.random(N) < 1 / (1 + np.exp(-(A @ xt))), 1.0, -1.0)
    loss = FiniteSumLoss("logistic", A, y, x_true=xt, seed=seed)
    r = minimize(lambda z: loss.value(z), np.zeros(2), jac=lambda z: loss.grad(z), method="BFGS", tol=1e-14)
    return loss, r.x


def _aniso_lsq(N=16, seed=3, noise=0.3):
    """2-D least squares with anisotropic features (scales 1 and 0.4): strongly non-isotropic D(x)."""
    from ..finite_sum import FiniteSumLoss

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((N, 2)) * np.array([1.0, 0.4])
    A[:, 1] += 0.5 * A[:, 0]
    xt = np.array([0.5, -0.5])
    y = A @ xt + noise * rng.standard_normal(N)
    return FiniteSumLoss("least-squares", A, y, x_true=xt, seed=seed, noise=noise)
