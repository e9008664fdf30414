"""Example 19 (paper-spec §4.3): a limit cycle of SGD-like dynamics with a known Phi and force.

Part of :mod:`deeprelax.sgd_noise` (conventions in its docstring).
"""
from __future__ import annotations

import math

import numpy as np

from . import _example19_kernels as K


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
