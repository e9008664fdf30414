r"""Mesh-free proximal map in any dimension.

.. math::

    \mathrm{prox}_{tf}(x) = \arg\min_y \varphi(y),\qquad \varphi(y) = f(y) + \frac{|x-y|^2}{2t},

    u(x,t) = \varphi(\mathrm{prox}), \qquad \nabla u(x,t) = \frac{x - \mathrm{prox}}{t} = \nabla f(\mathrm{prox}).

``u`` is the Hopf-Lax (Moreau envelope) solution of ``u_t + |grad u|^2/2 = 0``.
Methods (numerics.md §B.4):

``"exact"``        the loss's closed-form ``exact_prox`` (quadratic, abs, hard soft-min, cosine).
``"fixed-point"``  ``p <- grad f(x - t p)``, a contraction with rate ``t Lip(grad f)`` when that is < 1.
``"newton"``       damped Newton on ``y + t grad f(y) = x`` (Hessian with absolute eigenvalues, so it
                   always descends), Armijo backtracking on ``phi``.
``"gd"``           gradient descent on ``phi`` with adaptive Armijo step (for losses without a Hessian).
``"auto"``         ``exact`` if the loss has a closed form, else ``fixed-point`` if ``t Lip < 1``, else
                   ``newton`` if the loss has a Hessian, else ``gd``.

For non-convex ``phi`` (``t >= 1 / max(-lambda_min(hess f))``) the iterative
methods started at ``y = x`` find a *local* minimiser of ``phi``, which need not
be the global prox; grid methods (``solvers.hopf_lax``) give the global one.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np


from solvers.errors import SchemeError, check_count, check_positive
from solvers.result import Result, register_result

__all__ = ["prox", "ProxResult", "METHODS"]

METHODS = ("auto", "exact", "fixed-point", "newton", "gd")


@register_result
@dataclass(frozen=True, repr=False)
class ProxResult(Result):
    """Proximal points of a loss.

    Attributes
    ----------
    prox : ndarray, shape (..., d)
        ``argmin_y f(y) + |x - y|^2 / (2 t)`` (a local minimiser for non-convex problems).
    grad : ndarray, shape (..., d)
        ``(x - prox) / t`` = ``grad u(x, t)`` of the Hopf-Lax solution.
    value : ndarray, shape (...)
        ``f(prox) + |x - prox|^2 / (2 t)`` = ``u(x, t)``.
    converged : bool ndarray, shape (...)
    n_iter : int ndarray, shape (...)
        Iterations used per point (0 for ``"exact"``).
    t : float
    method : str
        The method actually used (``"auto"`` resolved).
    """

    prox: np.ndarray
    grad: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    t: float
    method: str


def _has_exact_prox(loss, x, t):
    try:
        loss.exact_prox(x[:1], t)
    except NotImplementedError:
        return False
    return True


def _resolve(loss, method, x, t):
    lip = loss.lipschitz_grad
    if method == "auto":
        if _has_exact_prox(loss, x, t):
            return "exact"
        if lip is not None and t * lip < 1.0:
            return "fixed-point"
        return "newton" if loss.has_hess else "gd"
    if method == "fixed-point" and lip is not None and not t * lip < 1.0:
        raise ValueError(
            f"method='fixed-point' contracts only when t * Lip(grad f) < 1; got t = {t:.6g}, "
            f"Lip = {lip:.6g}, t * Lip = {t * lip:.6g}. Use method='newton' or 'gd'"
            + (f", or t < {1.0 / lip:.6g}." if math.isfinite(lip) and lip > 0 else
               " (grad f is not globally Lipschitz, so no t makes the fixed-point iteration safe).")
        )
    if method == "newton" and not loss.has_hess:
        raise ValueError(f"method='newton' needs a Hessian, and loss {loss.name!r} has none; use method='gd'.")
    return method


def _scale(X):
    return np.maximum(1.0, np.abs(X).max(-1))


def _fixed_point(loss, X, t, tol, max_iter):
    n = X.shape[0]
    P = loss._grad(X)
    Y = X - t * P
    conv = np.zeros(n, bool)
    diverged = np.zeros(n, bool)
    it = np.zeros(n, np.int64)
    act = np.arange(n)
    # a posteriori bound |y_k - y*| <= q/(1-q) |y_k - y_{k-1}| with q = t Lip (when Lip is known)
    lip = loss.lipschitz_grad
    q = t * lip if lip is not None else 0.5
    factor = max(1.0, q / (1.0 - q)) if q < 1.0 else 1.0
    for _ in range(max_iter):
        if act.size == 0:
            break
        with np.errstate(all="ignore"):
            Pn = loss._grad(Y[act])
            Yn = X[act] - t * Pn
            step = np.abs(Yn - Y[act]).max(-1)
        it[act] += 1
        bad = ~np.all(np.isfinite(Yn), -1) | (step > 1e12 * _scale(X[act]))
        good = ~bad
        Y[act[good]] = Yn[good]
        diverged[act[bad]] = True
        ok = good & (factor * step <= tol * _scale(Yn))
        conv[act[ok]] = True
        act = act[good & ~ok]
    if diverged.any():
        warnings.warn(
            f"prox: the fixed-point iteration diverged at {int(diverged.sum())} of {n} points "
            f"(t = {t:.6g}; Lip(grad f) is {'unknown' if loss.lipschitz_grad is None else loss.lipschitz_grad}); "
            "use method='newton' or 'gd', or a smaller t.",
            RuntimeWarning, stacklevel=3)
        Y[diverged] = np.nan
    return Y, conv, it


def _phi(loss, X, Y, t):
    D = X - Y
    return loss._value(Y) + np.einsum("nd,nd->n", D, D) / (2.0 * t)


def _armijo(loss, X, Y, D, phi0, slope, t, alpha0, c=1e-4, max_halvings=60):
    """Vectorised backtracking: largest ``alpha = alpha0 2^-j`` with sufficient decrease; returns (Ynew, phinew, alpha, ok)."""
    n = X.shape[0]
    alpha = np.array(alpha0, dtype=np.float64) * np.ones(n)
    Ynew = Y.copy()
    phinew = phi0.copy()
    ok = np.zeros(n, bool)
    todo = np.arange(n)
    slack = 4e-16 * (np.abs(phi0) + 1.0)
    for _ in range(max_halvings):
        if todo.size == 0:
            break
        Yt = Y[todo] + alpha[todo, None] * D[todo]
        with np.errstate(all="ignore"):
            pt = _phi(loss, X[todo], Yt, t)
        acc = np.isfinite(pt) & (pt <= phi0[todo] + c * alpha[todo] * slope[todo] + slack[todo])
        idx = todo[acc]
        Ynew[idx], phinew[idx], ok[idx] = Yt[acc], pt[acc], True
        todo = todo[~acc]
        alpha[todo] *= 0.5
    return Ynew, phinew, alpha, ok


def _newton(loss, X, t, tol, max_iter):
    n, d = X.shape
    Y = X.copy()
    conv = np.zeros(n, bool)
    it = np.zeros(n, np.int64)
    act = np.arange(n)
    phi = _phi(loss, X, Y, t)
    for _ in range(max_iter + 1):
        if act.size == 0:
            break
        Xa, Ya = X[act], Y[act]
        F = Ya - Xa + t * loss._grad(Ya)                      # = t grad phi
        done = np.abs(F).max(-1) <= tol * _scale(Xa)
        conv[act[done]] = True
        act, Xa, Ya, F = act[~done], Xa[~done], Ya[~done], F[~done]
        if act.size == 0 or it[act].max(initial=0) >= max_iter:
            break
        J = np.eye(d) + t * loss._hess(Ya)
        J = 0.5 * (J + np.swapaxes(J, -1, -2))
        lam, V = np.linalg.eigh(J)
        lam = np.maximum(np.abs(lam), 1e-8 * np.maximum(1.0, np.abs(lam).max(-1, keepdims=True)))
        D = -np.einsum("nij,nj->ni", V, np.einsum("nji,nj->ni", V, F) / lam)
        slope = np.einsum("nd,nd->n", F, D) / t
        Yn, pn, _, ok = _armijo(loss, Xa, Ya, D, phi[act], slope, t, 1.0)
        Y[act], phi[act] = Yn, pn
        it[act] += 1
        # a point whose line search failed cannot make progress: stop it (reported as not converged)
        act = act[ok]
    return Y, conv, it


def _gd(loss, X, t, tol, max_iter, c=0.5, max_halvings=60):
    """Gradient descent on phi.  Armijo with c = 1/2 (steps within a factor 2 of the Cauchy step for
    quadratics); the trial step starts at twice the last accepted one.  Near convergence, where phi
    differences drown in rounding, the change of phi is estimated from the gradients instead."""
    n = X.shape[0]
    Y = X.copy()
    conv = np.zeros(n, bool)
    it = np.zeros(n, np.int64)
    lip = loss.lipschitz_grad
    a0 = 1.0 / (lip + 1.0 / t) if lip is not None and math.isfinite(lip) else t
    alpha = np.full(n, a0)
    phi = _phi(loss, X, Y, t)
    G = loss._grad(Y) + (Y - X) / t                          # grad phi
    act = np.arange(n)
    for _ in range(max_iter + 1):
        if act.size == 0:
            break
        done = t * np.abs(G[act]).max(-1) <= tol * _scale(X[act])
        conv[act[done]] = True
        act = act[~done]
        if act.size == 0 or it[act].max(initial=0) >= max_iter:
            break
        it[act] += 1
        todo = act.copy()
        a = 2.0 * alpha[todo]
        for _ in range(max_halvings):
            if todo.size == 0:
                break
            Xa, Ya, Ga, p0 = X[todo], Y[todo], G[todo], phi[todo]
            g2 = np.einsum("nd,nd->n", Ga, Ga)
            Yt = Ya - a[:, None] * Ga
            with np.errstate(all="ignore"):
                pt = _phi(loss, Xa, Yt, t)
                Gt = loss._grad(Yt) + (Yt - Xa) / t
            slack = 4e-16 * (np.abs(p0) + 1.0)
            # where the predicted decrease is below rounding, phi cannot tell: estimate the change of phi by
            # the trapezoid rule on the directional derivative, -a/2 (|G|^2 + Gt.G) (exact for quadratics);
            # with c = 1/2 the Armijo test on that estimate reads Gt.G >= 0 (not past the line minimum)
            noisy = c * a * g2 <= 8.0 * slack
            arm = pt <= p0 - c * a * g2
            grad_ok = np.einsum("nd,nd->n", Gt, Ga) >= (2.0 * c - 1.0) * g2
            acc = np.isfinite(pt) & np.where(noisy, grad_ok, arm)
            idx = todo[acc]
            Y[idx], phi[idx], G[idx], alpha[idx] = Yt[acc], pt[acc], Gt[acc], a[acc]
            todo, a = todo[~acc], 0.5 * a[~acc]
        # points whose line search failed cannot make progress: stop them (reported as not converged)
        act = np.setdiff1d(act, todo, assume_unique=True)
    return Y, conv, it


def prox(loss, x, t, *, method="auto", tol=1e-12, max_iter=500) -> ProxResult:
    r"""Proximal map ``prox_{t f}(x)`` of a :class:`deeprelax.losses.Loss`, vectorised over points.

    Parameters
    ----------
    loss : Loss, or a callable f(x) on points (..., d) (any object with ``dim`` and ``value``/``grad``)
        A plain callable gets the dimension of ``x`` and a central-difference gradient.
    x : array, shape (d,) or (..., d)
        Finite points; the trailing axis must equal ``loss.dim``.
    t : float > 0
        Proximal time (Hopf-Lax time).
    method : {"auto", "exact", "fixed-point", "newton", "gd"}
        See the module docstring.
    tol : float > 0
        Stop when the step / residual in ``y`` is below ``tol * max(1, |x|_inf)``.
    max_iter : int >= 1

    Returns
    -------
    ProxResult
        ``prox`` and ``grad`` of shape ``x.shape``, ``value``, ``converged`` and
        ``n_iter`` of shape ``x.shape[:-1]``.

    Raises
    ------
    ValueError
        ``t <= 0``, bad ``x``, unknown method, ``"fixed-point"`` with ``t * Lip >= 1``,
        ``"newton"`` without a Hessian.

    Warns
    -----
    RuntimeWarning
        When some points did not converge (how many, and what to change).  Points
        where a forced ``"fixed-point"`` iteration diverged (possible only when
        ``loss.lipschitz_grad`` is unknown) get ``prox = grad = value = nan``.
    """
    t = check_positive("t", t)
    tol = check_positive("tol", tol)
    max_iter = check_count("max_iter", max_iter, minimum=1)
    if method not in METHODS:
        raise SchemeError(f"unknown prox method {method!r}; valid methods are {', '.join(METHODS)}.")
    from .losses import as_loss

    xa = np.asarray(x)
    loss = as_loss(loss, dim=int(xa.shape[-1]) if xa.ndim >= 1 else None, where="prox", wrap=True)
    x = loss._x(x)
    X = np.ascontiguousarray(x.reshape(-1, loss.dim))
    used = _resolve(loss, method, X, t)
    if used == "exact":
        Y = np.asarray(loss.exact_prox(X, t), dtype=np.float64).reshape(X.shape)
        conv = np.ones(X.shape[0], bool)
        it = np.zeros(X.shape[0], np.int64)
    elif used == "fixed-point":
        Y, conv, it = _fixed_point(loss, X, t, tol, max_iter)
    elif used == "newton":
        Y, conv, it = _newton(loss, X, t, tol, max_iter)
    else:
        Y, conv, it = _gd(loss, X, t, tol, max_iter)
    n_bad = int((~conv).sum())
    if n_bad and not (used == "fixed-point" and np.isnan(Y).any()):
        warnings.warn(
            f"prox: {n_bad} of {X.shape[0]} points did not converge within max_iter={max_iter} "
            f"(method={used!r}, tol={tol:.3g}, t={t:.6g}); increase `max_iter`, loosen `tol`, use a smaller `t`, "
            "or choose another method.",
            RuntimeWarning, stacklevel=2)
    with np.errstate(invalid="ignore"):
        G = (X - Y) / t
        finite = np.all(np.isfinite(Y), -1)
        val = np.full(X.shape[0], np.nan)
        if finite.any():
            val[finite] = _phi(loss, X[finite], Y[finite], t)
    shp = x.shape[:-1]
    return ProxResult(prox=Y.reshape(x.shape), grad=G.reshape(x.shape), value=val.reshape(shp),
                      converged=conv.reshape(shp), n_iter=it.reshape(shp), t=t, method=used)
