r"""Convexity kept by the smoothing, curvature bounds and the harmonic-mean identity (paper-spec §2.3).

For ``f`` with :math:`mI \preceq \nabla^2 f \preceq MI` (``m >= 0``), both relaxations satisfy

.. math:: \frac{m}{1 + tm} I \;\preceq\; \nabla^2 u(x, t) \;\preceq\; \frac{M}{1 + tM} I .

*Viscous* (any ``beta``): :math:`\nabla^2 u = I/t - (\beta/t^2)\,\mathrm{Cov}_\rho(y)` with
:math:`\rho \propto e^{-\beta(f + |x-y|^2/2t)}`, whose potential has Hessian between
:math:`\beta(m + 1/t)` and :math:`\beta(M + 1/t)`; Brascamp-Lieb gives
:math:`\mathrm{Cov} \preceq I/(\beta(m + 1/t))` (the lower bound, so ``u`` stays convex) and the
Cramer-Rao bound :math:`\mathrm{Cov} \succeq I/(\beta(M + 1/t))` the upper one.  *Hopf-Lax*
(``beta = inf``): at the prox :math:`y^*`, :math:`\nabla^2 u(x) = (\nabla^2 f(y^*)^{-1} + tI)^{-1}`,
the matrix harmonic mean of :math:`\nabla^2 f` and ``I/t`` (halved).  Taking traces of inverses,

.. math:: \frac{1}{\mathrm{HM}(\mu)} = \frac{1}{\mathrm{HM}(\lambda(y^*))} + t,
          \qquad \min\mu \le \mathrm{HM}(\mu) \le n\,\min\mu,

with ``mu`` the eigenvalues of :math:`\nabla^2 u(x)`, ``lambda`` those of :math:`\nabla^2 f(y^*)` and
``HM`` the harmonic mean :math:`n/\sum_i 1/\mu_i` (the second pair of inequalities holds for any
positive numbers: the smoothed Hessian stays positive definite).  Both bounds are attained for
quadratic ``f``.

:func:`convex_test_function` is a smooth, strongly convex, non-quadratic 2-D loss with known ``m``;
:func:`prox_newton` its exact prox.
"""
from __future__ import annotations

import numpy as np

__all__ = ["convex_test_function", "prox_newton", "harmonic_mean", "hopf_lax_hessian"]

_W = np.array([0.5, 1.0])


def convex_test_function(m0: float = 0.2):
    """``f(x) = log cosh(x_1) + log cosh(x_1/2 + x_2) + m0 |x|^2 / 2`` on ``(..., 2)``.

    Returns ``(f, grad, hess, m, M)`` with ``m = m0`` (approached far away) and
    ``M = m0 + 1 + |w|^2 = m0 + 2.25`` (an upper bound; the largest eigenvalue is 1.64 + m0 at 0)."""

    def f(x):
        x = np.asarray(x, dtype=np.float64)
        return (np.log(np.cosh(x[..., 0])) + np.log(np.cosh(x @ _W)) + 0.5 * m0 * np.sum(x * x, axis=-1))

    def grad(x):
        x = np.asarray(x, dtype=np.float64)
        g = np.zeros(x.shape)
        g[..., 0] = np.tanh(x[..., 0])
        g += np.tanh(x @ _W)[..., None] * _W
        return g + m0 * x

    def hess(x):
        x = np.asarray(x, dtype=np.float64)
        s1 = 1.0 / np.cosh(x[..., 0]) ** 2
        s2 = 1.0 / np.cosh(x @ _W) ** 2
        H = s2[..., None, None] * np.outer(_W, _W) + m0 * np.eye(2)
        H[..., 0, 0] += s1
        return H

    return f, grad, hess, m0, m0 + 1.0 + float(_W @ _W)


def prox_newton(grad, hess, x, t: float, tol: float = 1e-14, max_iter: int = 100) -> np.ndarray:
    """``argmin_y f(y) + |x - y|^2/(2t)`` for convex ``f`` by Newton from ``y = x`` (points ``(n, d)``)."""
    x = np.asarray(x, dtype=np.float64)
    y = x.copy()
    I = np.eye(x.shape[-1])
    for _ in range(max_iter):
        r = grad(y) + (y - x) / t
        step = np.linalg.solve(hess(y) + I / t, r[..., None])[..., 0]
        y = y - step
        if np.max(np.abs(step)) < tol:
            break
    return y


def harmonic_mean(mu) -> np.ndarray:
    """``n / sum(1/mu)`` over the last axis."""
    mu = np.asarray(mu, dtype=np.float64)
    return mu.shape[-1] / np.sum(1.0 / mu, axis=-1)


def hopf_lax_hessian(grad, hess, x, t: float, h: float = 1e-4) -> np.ndarray:
    """``grad^2 u(x, t)`` (beta = inf) by central differences of ``grad u = (x - prox(x))/t``: ``(n, d, d)``."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    H = np.empty((n, d, d))
    for k in range(d):
        e = np.zeros(d)
        e[k] = h
        gp = (x + e - prox_newton(grad, hess, x + e, t)) / t
        gm = (x - e - prox_newton(grad, hess, x - e, t)) / t
        H[:, :, k] = (gp - gm) / (2 * h)
    return 0.5 * (H + np.swapaxes(H, 1, 2))
