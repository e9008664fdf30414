"""Exact closed-form solutions used as test anchors.

Everything here is plain vectorised NumPy/SciPy.  Points ``x`` have shape
``(..., d)``; values come back with shape ``(...)`` and gradients / proximal
points with shape ``(..., d)``.  Conventions (see the package docstring):

* viscous Hamilton-Jacobi ``u_t = -1/2 |grad u|^2 + 1/(2 beta) Lap u``, whose
  Cole-Hopf solution is
  ``u(x, t) = -(1/beta) log (G_{t/beta} * exp(-beta f))(x)``;
* ``beta = inf`` is the Hopf-Lax (Moreau envelope) solution
  ``u(x, t) = min_y f(y) + |x - y|^2 / (2 t)`` with minimiser ``prox_{t f}(x)``.

Families
--------
quadratic      ``f = 1/2 x^T A x``
huber / abs    ``f = ||x||_1`` (Hopf-Lax: Huber; viscous: erfc closed form)
softmin        ``f = -(1/beta_f) log sum_i exp(-beta_f [a_i/2 |x - m_i|^2 + c_i])``
gaussmix       ``f = -log sum_i w_i N(x; m_i, s_i^2 I)``
ou             Gaussian moments of ``dX = -F X dt + sqrt(2 D / beta) dW``
cosine         Hopf-Lax of ``f(y) = -cos(pi y)`` (periodic), the Jiang-Peng benchmark
"""
from __future__ import annotations

import math

import numpy as np
from scipy import linalg as sla
from scipy.special import log_ndtr, logsumexp

from .errors import check_nonnegative, check_positive

__all__ = [
    "quadratic_u", "quadratic_grad", "quadratic_prox",
    "huber_u", "huber_grad", "soft_threshold",
    "abs_viscous_u", "abs_viscous_grad",
    "softmin_value", "softmin_grad", "softmin_viscous_u", "softmin_viscous_mean", "softmin_viscous_grad",
    "softmin_hopf_lax_u", "softmin_hopf_lax_prox", "softmin_hopf_lax_grad",
    "gaussmix_value", "gaussmix_grad", "gaussmix_u",
    "ou_gaussian", "ou_moments",
    "cosine_hopf_lax_u", "cosine_hopf_lax_prox", "cosine_hopf_lax_grad",
]

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- helpers
def _points(x, d=None, name="x"):
    """``x`` as a float64 array of shape ``(..., d)`` (d checked if given)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        raise ValueError(f"`{name}` must have shape (..., d); got a scalar.")
    if d is not None and a.shape[-1] != d:
        raise ValueError(f"`{name}` must have trailing dimension d = {d}; got shape {a.shape}.")
    return a


def _time(t, *, allow_zero=True):
    return check_nonnegative("t", t) if allow_zero else check_positive("t", t)


def _beta(beta):
    return check_positive("beta", beta, allow_inf=True)


# ----------------------------------------------------------------------------- quadratic
def _quad_matrix(A, t):
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"`A` must be a square matrix; got shape {A.shape}.")
    if not np.allclose(A, A.T, rtol=1e-12, atol=1e-14):
        raise ValueError("`A` must be symmetric.")
    A = 0.5 * (A + A.T)
    M = np.eye(A.shape[0]) + t * A
    lam = np.linalg.eigvalsh(M)
    if lam.min() <= 0:
        raise ValueError(
            f"I + t A must be positive definite for the quadratic closed form; its smallest eigenvalue is "
            f"{lam.min():.6g} at t = {t:.6g} (need t < 1/|lambda_min(A)| = {1.0 / abs(np.linalg.eigvalsh(A).min()):.6g})."
        )
    return A, M


def quadratic_u(x, t, A, beta=np.inf):
    r"""Exact solution for ``f(x) = 1/2 x^T A x``.

    .. math:: u(x,t) = \tfrac12 x^\top A(I+tA)^{-1}x + \tfrac{1}{2\beta}\log\det(I+tA)

    The log-det term is absent for ``beta = inf`` (Hopf-Lax).  Requires ``I + t A``
    positive definite (raises ``ValueError`` otherwise).

    Parameters
    ----------
    x : array, shape (..., d)
    t : float >= 0
    A : array, shape (d, d), symmetric
    beta : float in (0, inf]

    Returns
    -------
    u : array, shape (...)
    """
    t, beta = _time(t), _beta(beta)
    A, M = _quad_matrix(A, t)
    x = _points(x, A.shape[0])
    y = np.linalg.solve(M, x.reshape(-1, A.shape[0]).T).T.reshape(x.shape)  # (I+tA)^{-1} x
    u = 0.5 * np.einsum("...i,ij,...j->...", x, A, y)
    if np.isfinite(beta):
        u = u + np.linalg.slogdet(M)[1] / (2.0 * beta)
    return u


def quadratic_prox(x, t, A):
    """``prox_{t f}(x) = (I + t A)^{-1} x`` for ``f = 1/2 x^T A x``; shape (..., d)."""
    t = _time(t)
    A, M = _quad_matrix(A, t)
    x = _points(x, A.shape[0])
    return np.linalg.solve(M, x.reshape(-1, A.shape[0]).T).T.reshape(x.shape)


def quadratic_grad(x, t, A, beta=np.inf):
    """``grad u = A (I + t A)^{-1} x`` (the same for every beta); shape (..., d)."""
    _beta(beta)
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    return quadratic_prox(x, t, A) @ (0.5 * (A + A.T)).T


# ----------------------------------------------------------------------------- |x|_1
def huber_u(x, t):
    r"""Hopf-Lax of ``||x||_1``: ``sum_k H_t(x_k)``, ``H_t(s) = s^2/(2t)`` if ``|s| <= t`` else ``|s| - t/2``."""
    t = _time(t, allow_zero=False)
    x = _points(x)
    ax = np.abs(x)
    return np.where(ax <= t, x * x / (2.0 * t), ax - 0.5 * t).sum(-1)


def huber_grad(x, t):
    """Gradient of :func:`huber_u`: ``clip(x / t, -1, 1)``; shape (..., d)."""
    t = _time(t, allow_zero=False)
    return np.clip(_points(x) / t, -1.0, 1.0)


def soft_threshold(x, t):
    """``prox_{t ||.||_1}(x) = sign(x) max(|x| - t, 0)``; shape (..., d)."""
    t = _time(t)
    x = _points(x)
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def _abs_viscous_parts(x, t, beta):
    t, beta = _time(t, allow_zero=False), _beta(beta)
    if not np.isfinite(beta):
        raise ValueError("`beta` must be finite for the viscous closed form; use huber_u for beta = inf.")
    x = _points(x)
    s = math.sqrt(t / beta)
    z1 = (x - t) / s            # mass on y > 0: Gaussian centred at x - t
    z2 = -(x + t) / s           # mass on y < 0: Gaussian centred at x + t
    l1 = log_ndtr(z1)
    l2 = log_ndtr(z2)
    A1 = -beta * x + l1
    A2 = beta * x + l2
    return x, t, beta, s, z1, z2, l1, l2, A1, A2


def abs_viscous_u(x, t, beta):
    r"""Viscous (Cole-Hopf) solution for ``f = ||x||_1``, summed over coordinates.

    With ``s = sqrt(t / beta)`` and ``log Phi = scipy.special.log_ndtr``, per coordinate

    .. math:: u = -\frac t2 - \frac1\beta\,\mathrm{logaddexp}\Big(-\beta x + \log\Phi\big(\tfrac{x-t}{s}\big),
              \ \beta x + \log\Phi\big(-\tfrac{x+t}{s}\big)\Big).

    Stable for large ``beta`` (everything stays in the log domain).  Tends to
    :func:`huber_u` as ``beta -> inf``.
    """
    x, t, beta, s, z1, z2, l1, l2, A1, A2 = _abs_viscous_parts(x, t, beta)
    return (-0.5 * t - np.logaddexp(A1, A2) / beta).sum(-1)


def abs_viscous_grad(x, t, beta):
    r"""Gradient of :func:`abs_viscous_u`; shape (..., d).

    ``grad u = (x - <y>)/t``.  The Gibbs measure is a two-piece truncated
    Gaussian: weight ``w_1 = softmax(A_1, A_2)_1`` on ``y > 0`` with mean
    ``x - t + s r(z_1)``, and ``w_2`` on ``y < 0`` with mean ``x + t - s r(z_2)``,
    where ``r(z) = phi(z)/Phi(z)`` is the inverse Mills ratio.  Hence

    .. math:: \partial_x u = w_1\big(1 - r(z_1)/\sqrt{t\beta}\big) - w_2\big(1 - r(z_2)/\sqrt{t\beta}\big).
    """
    x, t, beta, s, z1, z2, l1, l2, A1, A2 = _abs_viscous_parts(x, t, beta)
    L = np.logaddexp(A1, A2)
    w1 = np.exp(A1 - L)
    w2 = np.exp(A2 - L)
    r1 = np.exp(-0.5 * z1 * z1 - 0.5 * _LOG_2PI - l1)
    r2 = np.exp(-0.5 * z2 * z2 - 0.5 * _LOG_2PI - l2)
    k = 1.0 / math.sqrt(t * beta)
    return w1 * (1.0 - k * r1) - w2 * (1.0 - k * r2)


# ----------------------------------------------------------------------------- soft-min of quadratics
def _softmin_params(a, m, c):
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    m = np.asarray(m, dtype=np.float64)
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    if m.ndim == 1:
        m = m[:, None]
    k = a.shape[0]
    if a.ndim != 1 or m.ndim != 2 or m.shape[0] != k or c.shape != (k,):
        raise ValueError(f"soft-min parameters need a (k,), m (k, d), c (k,); got a {a.shape}, m {m.shape}, c {c.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(m)) and np.all(np.isfinite(c))):
        raise ValueError("soft-min parameters a, m, c must be finite.")
    if np.any(a <= 0):
        raise ValueError(f"soft-min curvatures `a` must be positive (a > 0); got {a!r}.")
    return a, m, c


def _softmin_q(x, a, m, c):
    """``q_i(x) = a_i/2 |x - m_i|^2 + c_i``, shape (..., k), and ``x - m_i``, shape (..., k, d)."""
    diff = x[..., None, :] - m
    return 0.5 * a * np.einsum("...kd,...kd->...k", diff, diff) + c, diff


def softmin_value(x, a, m, c, beta_f=np.inf):
    r"""``f(x) = -(1/beta_f) log sum_i exp(-beta_f q_i(x))``, ``q_i = a_i/2 |x - m_i|^2 + c_i``.

    ``beta_f = inf`` is the hard minimum ``min_i q_i``.  Shape (...).
    """
    a, m, c = _softmin_params(a, m, c)
    bf = _beta(beta_f)
    q, _ = _softmin_q(_points(x, m.shape[1]), a, m, c)
    if np.isinf(bf):
        return q.min(-1)
    return -logsumexp(-bf * q, axis=-1) / bf


def _softmax_weights(z):
    z = z - z.max(-1, keepdims=True)
    w = np.exp(z)
    return w / w.sum(-1, keepdims=True)


def _hard_weights(q):
    """One-hot weights of the active (first minimal) branch."""
    idx = np.argmin(q, axis=-1)
    w = np.zeros_like(q)
    np.put_along_axis(w, idx[..., None], 1.0, axis=-1)
    return w


def softmin_grad(x, a, m, c, beta_f=np.inf):
    """``grad f = sum_i pi_i a_i (x - m_i)`` with ``pi = softmax(-beta_f q)`` (one-hot if inf)."""
    a, m, c = _softmin_params(a, m, c)
    bf = _beta(beta_f)
    q, diff = _softmin_q(_points(x, m.shape[1]), a, m, c)
    w = _hard_weights(q) if np.isinf(bf) else _softmax_weights(-bf * q)
    return np.einsum("...k,...kd->...d", w * a, diff)


def _check_same_beta(beta, beta_f):
    beta = _beta(beta)
    bf = beta if beta_f is None else _beta(beta_f)
    if not np.isfinite(beta):
        raise ValueError("`beta` must be finite for the viscous soft-min closed form; "
                         "use softmin_hopf_lax_u for beta = inf.")
    if bf != beta:
        raise ValueError(f"the soft-min viscous closed form is exact only when the PDE beta equals the softness "
                         f"beta_f; got beta = {beta!r}, beta_f = {bf!r}.")
    return beta


def _softmin_viscous_logits(x, t, beta, a, m, c):
    d = m.shape[1]
    diff = x[..., None, :] - m
    r = 1.0 + t * a
    sq = np.einsum("...kd,...kd->...k", diff, diff)
    return -beta * c - 0.5 * d * np.log(r) - beta * a * sq / (2.0 * r), r


def softmin_viscous_u(x, t, beta, a, m, c, beta_f=None):
    r"""Exact viscous solution for the soft-min of quadratics when ``beta == beta_f``.

    .. math:: u(x,t) = -\frac1\beta\log\sum_i e^{-\beta c_i}(1+ta_i)^{-d/2}
              \exp\Big(-\frac{\beta a_i|x-m_i|^2}{2(1+ta_i)}\Big)

    ``beta_f=None`` means ``beta_f = beta``; any other value raises ``ValueError``.
    """
    beta = _check_same_beta(beta, beta_f)
    t = _time(t)
    a, m, c = _softmin_params(a, m, c)
    L, _ = _softmin_viscous_logits(_points(x, m.shape[1]), t, beta, a, m, c)
    return -logsumexp(L, axis=-1) / beta


def softmin_viscous_mean(x, t, beta, a, m, c, beta_f=None):
    r"""Gibbs mean ``<y> = sum_i pi_i (x + t a_i m_i)/(1 + t a_i)``, ``pi = softmax`` of the summands."""
    beta = _check_same_beta(beta, beta_f)
    t = _time(t)
    a, m, c = _softmin_params(a, m, c)
    x = _points(x, m.shape[1])
    L, r = _softmin_viscous_logits(x, t, beta, a, m, c)
    w = _softmax_weights(L)
    yi = (x[..., None, :] + (t * a)[:, None] * m) / r[:, None]
    return np.einsum("...k,...kd->...d", w, yi)


def softmin_viscous_grad(x, t, beta, a, m, c, beta_f=None):
    r"""``grad u = sum_i pi_i a_i (x - m_i) / (1 + t a_i)`` (= ``(x - <y>)/t``, but also valid at t = 0)."""
    beta = _check_same_beta(beta, beta_f)
    t = _time(t)
    a, m, c = _softmin_params(a, m, c)
    x = _points(x, m.shape[1])
    L, r = _softmin_viscous_logits(x, t, beta, a, m, c)
    w = _softmax_weights(L)
    return np.einsum("...k,...kd->...d", w * a / r, x[..., None, :] - m)


def _softmin_hl(x, t, a, m, c):
    t = _time(t)
    a, m, c = _softmin_params(a, m, c)
    x = _points(x, m.shape[1])
    r = 1.0 + t * a
    diff = x[..., None, :] - m
    v = a * np.einsum("...kd,...kd->...k", diff, diff) / (2.0 * r) + c
    i = np.argmin(v, axis=-1)
    return x, t, a, m, r, v, i


def softmin_hopf_lax_u(x, t, a, m, c):
    r"""Hopf-Lax of the hard min: ``u = min_i [a_i |x - m_i|^2 / (2 (1 + t a_i)) + c_i]``; shape (...)."""
    return _softmin_hl(x, t, a, m, c)[5].min(-1)


def softmin_hopf_lax_prox(x, t, a, m, c):
    """``prox = (x + t a_i m_i) / (1 + t a_i)`` for the active branch ``i``; shape (..., d)."""
    x, t, a, m, r, v, i = _softmin_hl(x, t, a, m, c)
    return (x + (t * a[i])[..., None] * m[i]) / r[i][..., None]


def softmin_hopf_lax_grad(x, t, a, m, c):
    """``grad u = a_i (x - m_i) / (1 + t a_i)`` for the active branch; shape (..., d)."""
    x, t, a, m, r, v, i = _softmin_hl(x, t, a, m, c)
    return (a[i] / r[i])[..., None] * (x - m[i])


# ----------------------------------------------------------------------------- Gaussian mixture (beta = 1)
def _gaussmix_params(w, m, s):
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    m = np.asarray(m, dtype=np.float64)
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    if m.ndim == 1:
        m = m[:, None]
    k = w.shape[0]
    if w.ndim != 1 or m.shape[0] != k or s.shape != (k,):
        raise ValueError(f"mixture parameters need w (k,), m (k, d), s (k,); got w {w.shape}, m {m.shape}, s {s.shape}.")
    if np.any(w <= 0) or np.any(s <= 0):
        raise ValueError(f"mixture weights `w` and widths `s` must be positive; got w={w!r}, s={s!r}.")
    return w, m, s


def _gaussmix_logits(x, w, m, var):
    d = m.shape[1]
    diff = x[..., None, :] - m
    sq = np.einsum("...kd,...kd->...k", diff, diff)
    return np.log(w) - 0.5 * d * (_LOG_2PI + np.log(var)) - sq / (2.0 * var), diff


def gaussmix_value(x, w, m, s):
    r"""``f(x) = -log sum_i w_i N(x; m_i, s_i^2 I)``; x shape (..., d), m (k, d); shape (...)."""
    w, m, s = _gaussmix_params(w, m, s)
    L, _ = _gaussmix_logits(_points(x, m.shape[1]), w, m, s * s)
    return -logsumexp(L, axis=-1)


def gaussmix_grad(x, w, m, s):
    """``grad f = sum_i pi_i (x - m_i) / s_i^2`` (posterior weights ``pi``); shape (..., d)."""
    w, m, s = _gaussmix_params(w, m, s)
    L, diff = _gaussmix_logits(_points(x, m.shape[1]), w, m, s * s)
    return np.einsum("...k,...kd->...d", _softmax_weights(L) / (s * s), diff)


def gaussmix_u(x, t, w, m, s):
    r"""Viscous solution at ``beta = 1``: ``u = -log sum_i w_i N(x; m_i, (s_i^2 + t) I)``; shape (...)."""
    t = _time(t)
    w, m, s = _gaussmix_params(w, m, s)
    L, _ = _gaussmix_logits(_points(x, m.shape[1]), w, m, s * s + t)
    return -logsumexp(L, axis=-1)


# ----------------------------------------------------------------------------- Ornstein-Uhlenbeck
def ou_gaussian(x, mean, cov):
    """Gaussian density ``N(x; mean, cov)``; x (..., d), mean (d,), cov (d, d); shape (...)."""
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    d = mean.shape[0]
    x = _points(x, d)
    cf = sla.cho_factor(cov, lower=True)
    diff = (x - mean).reshape(-1, d)
    sol = sla.cho_solve(cf, diff.T).T
    quad = np.einsum("nd,nd->n", diff, sol).reshape(x.shape[:-1])
    logdet = 2.0 * np.log(np.diag(cf[0])).sum()
    return np.exp(-0.5 * quad - 0.5 * (d * _LOG_2PI + logdet))


def ou_moments(m0, S0, F, D, beta, t):
    r"""Mean and covariance at time ``t`` of ``dX = -F X dt + sqrt(2 D / beta) dW``.

    .. math:: m(t) = e^{-Ft} m_0,\qquad \Sigma(t) = e^{-Ft}(\Sigma_0-\Sigma_\infty)e^{-F^\top t} + \Sigma_\infty,

    with ``F Sigma_inf + Sigma_inf F^T = 2 D / beta``
    (``scipy.linalg.solve_continuous_lyapunov``).  Requires the eigenvalues of
    ``F`` to have positive real part.  Returns ``(mean (d,), cov (d, d))``.
    """
    m0 = np.atleast_1d(np.asarray(m0, dtype=np.float64))
    d = m0.shape[0]
    S0 = np.asarray(S0, dtype=np.float64).reshape(d, d)
    F = np.asarray(F, dtype=np.float64).reshape(d, d)
    D = np.asarray(D, dtype=np.float64).reshape(d, d)
    beta = _beta(beta)
    t = _time(t)
    if np.any(np.linalg.eigvals(F).real <= 0):
        raise ValueError("`F` must have eigenvalues with positive real part for a stationary OU process.")
    S_inf = sla.solve_continuous_lyapunov(F, 2.0 * D / beta)
    S_inf = 0.5 * (S_inf + S_inf.T)
    E = sla.expm(-F * t)
    S = E @ (S0 - S_inf) @ E.T + S_inf
    return E @ m0, 0.5 * (S + S.T)


# ----------------------------------------------------------------------------- -cos(pi y), Jiang-Peng
_PI = math.pi


def _cos_newton(x, t, lo, hi, iters=100):
    """Safeguarded Newton for ``g(y) = y + t pi sin(pi y) - x = 0`` on brackets ``[lo, hi]`` with g(lo) < 0 < g(hi)."""
    y = 0.5 * (lo + hi)
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iters):
        g = y + t * _PI * np.sin(_PI * y) - x
        lo = np.where(g < 0, y, lo)
        hi = np.where(g > 0, y, hi)
        dg = 1.0 + t * _PI * _PI * np.cos(_PI * y)
        with np.errstate(divide="ignore", invalid="ignore"):
            yn = y - g / dg
        bad = ~((yn > lo) & (yn < hi)) | (dg <= 0)
        yn = np.where(bad, 0.5 * (lo + hi), yn)
        done = np.abs(yn - y) <= 1e-16 * np.maximum(1.0, np.abs(y))
        y = yn
        if np.all(done | (g == 0)):
            break
    return y


def _cos_phi(x, y, t):
    return -np.cos(_PI * y) + (x - y) ** 2 / (2.0 * t)


def _cosine_hl_1d(x, t, n_scan=2049, chunk=512):
    """Value and prox for flat arrays ``x`` (1-D Hopf-Lax of ``-cos(pi y)``)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if t == 0:
        return -np.cos(_PI * x), x.copy()
    w = t * _PI  # |x - prox| <= t * Lip(f) = t * pi
    if t * _PI * _PI < 1.0:
        # strictly convex phi: unique critical point, characteristics x = y + t pi sin(pi y)
        y = _cos_newton(x, t, x - w - 1e-12, x + w + 1e-12)
        return _cos_phi(x, y, t), y
    # after the kink: find every local minimum of phi in the window, refine each, keep the smallest
    u = np.full(x.shape, np.inf)
    p = np.empty_like(x)
    s = np.linspace(-w - 1e-9, w + 1e-9, n_scan)
    for i0 in range(0, x.size, chunk):
        xs = x[i0:i0 + chunk]
        Y = xs[:, None] + s[None, :]
        dphi = _PI * np.sin(_PI * Y) + (Y - xs[:, None]) / t
        rows, cols = np.nonzero((dphi[:, :-1] < 0) & (dphi[:, 1:] >= 0))
        yr = _cos_newton(xs[rows], t, Y[rows, cols], Y[rows, cols + 1])
        val = _cos_phi(xs[rows], yr, t)
        order = np.lexsort((val, rows))          # per row, the smallest value first
        rows_o, first = np.unique(rows[order], return_index=True)
        u[i0 + rows_o] = val[order][first]
        p[i0 + rows_o] = yr[order][first]
    if not np.all(np.isfinite(u)):  # pragma: no cover - the window always brackets a minimum
        raise RuntimeError("cosine Hopf-Lax: no minimiser found in the search window.")
    return u, p


def _cosine_hl(x, t):
    t = _time(t)
    x = _points(x)
    u, p = _cosine_hl_1d(x, t)
    return u.reshape(x.shape).sum(-1), p.reshape(x.shape)


def cosine_hopf_lax_u(x, t):
    r"""Exact Hopf-Lax solution of ``f(y) = -sum_k cos(pi y_k)`` (period 2 in every axis).

    ``u(x,t) = sum_k min_y [-cos(pi y) + (x_k - y)^2 / (2 t)]``.  Before the kink
    (``t < 1/pi^2``) the minimiser solves the characteristic equation
    ``x = y + t pi sin(pi y)``, found by bracketed Newton to machine precision.
    For ``t >= 1/pi^2`` every local minimiser inside ``|x - y| <= t pi`` is
    bracketed on a 2049-point scan, refined by Newton, and the smallest kept.
    Accurate to about 1e-15.  Shape (...).
    """
    return _cosine_hl(x, t)[0]


def cosine_hopf_lax_prox(x, t):
    """Minimiser ``prox_{t f}(x)`` for :func:`cosine_hopf_lax_u`; shape (..., d) (the smaller-value one at a kink)."""
    return _cosine_hl(x, t)[1]


def cosine_hopf_lax_grad(x, t):
    """``grad u = (x - prox) / t``; shape (..., d)."""
    t = _time(t, allow_zero=False)
    x = _points(x)
    return (x - _cosine_hl(x, t)[1]) / t
