r"""The local entropy ``u(x, t)`` of a network at a point, from the Entropy-SGD estimator.

Entropy-SGD's inner loop is a Langevin chain on ``y -> f(y) + |y - x|^2/(2s)``, whose invariant law is
the local Gibbs measure (DR convention, paper-spec §2.1, §2.6)

.. math::

    \rho_s(y; x) \propto \exp\Big(-\beta f(y) - \beta\frac{|y - x|^2}{2s}\Big),\qquad
    u(x, s) = -\beta^{-1}\log\int (2\pi s/\beta)^{-n/2} e^{-\beta f(y) - \beta|x-y|^2/(2s)}\,dy .

The chain estimates ``<y>`` (hence ``grad u``); ``u`` itself needs the normalising constant, which
thermodynamic integration over the time ``s`` supplies.  Differentiating the integral and integrating
by parts (Stein's identity ``E[(y - x) . grad log rho_s] = -n``) gives

.. math::

    \partial_s u(x, s) = \frac{n}{2\beta s} - \frac{E_{\rho_s}|y - x|^2}{2 s^2}
                       = \frac{E_{\rho_s}[(y - x)\cdot\nabla f(y)]}{2s},\qquad
    \partial_s u(x, 0) = \frac{\operatorname{Tr}\nabla^2 f(x)}{2\beta} - \frac{|\nabla f(x)|^2}{2},

the second form without the ``n/(2 beta s)`` cancellation (its variance does not grow with ``n``), the
last the PDE ``u_t = -|grad u|^2/2 + Delta u/(2 beta)`` at ``t = 0``.  So
``u(x, t) - f(x) = int_0^t E_{rho_s}[(y - x) . grad f(y)]/(2s) ds``: the integrand is averaged along
Entropy-SGD inner chains at a log-spaced grid of ``s`` (all chains of all ``s`` in one ``grad`` call per
step, full-data gradients) and integrated exactly after linear interpolation in ``log s``, with the
exact ``s = 0`` value on ``[0, s_min]``.  The chains use the Leimkuhler-Matthews step
``y <- y - h grad U(y) + sqrt(2h/beta) (xi_n + xi_{n+1})/2``, exact in the stationary variance on a
quadratic (Euler-Maruyama's is ``1/(1 - h kappa/2)`` too large: 10 % at ``h kappa = 0.2``), with
``h = c/(lam_max + 1/s)``.

For a quadratic ``f = x^T A x/2`` at its minimum the result is ``(1/2 beta) sum_i log(1 + t lam_i)``
(paper-spec §2.3), which the tests check.  The measure is local when ``1/t > -lam_min`` (the Gibbs
measure is then confined near ``x``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["local_entropy_ti", "laplace_excess"]


def _grid(ts, s_min, per_decade):
    t_max = max(ts)
    n = max(2, int(math.ceil(per_decade * math.log10(t_max / s_min))) + 1)
    s = np.unique(np.concatenate([np.geomspace(s_min, t_max, n), np.asarray(ts, float)]))
    return s


def local_entropy_ti(loss, x, ts, beta, *, lam_max, trace=None, s_min=None, per_decade=3, n_chains=3,
                     n_steps=300, burn_in=100, c=0.2, seed=0) -> dict:
    r"""``u(x, t) - f(x)`` at the DR times ``ts`` by thermodynamic integration of Entropy-SGD chains.

    Parameters
    ----------
    loss : object with ``dim`` and ``grad(Y)`` for ``Y`` of shape (m, d) (a model: full-data gradients)
    x : array (d,)
    ts : sequence of float > 0
    beta : float > 0
        Inverse temperature of the Gibbs measure.
    lam_max : float > 0
        Upper bound of the Hessian's eigenvalues near ``x`` (sets the chains' steps ``c/(lam_max + 1/s)``).
    trace : float, optional
        ``Tr Hess f(x)`` for the exact integrand at ``s = 0``; without it the integrand at ``s_min`` is
        used on ``[0, s_min]``.
    s_min : float, optional
        Smallest time of the grid (default ``min(ts)/100``); ``per_decade`` grid points per decade up to
        ``max(ts)``, plus the ``ts``.
    n_chains : int >= 2
        Independent chains per grid time (the standard errors come from their spread).
    n_steps, burn_in : int
        Steps per chain and discarded initial steps (chains start at ``x``).
    c : float in (0, 1)
        Step size times the largest curvature ``lam_max + 1/s``.
    seed : int

    Returns
    -------
    dict: ``ts``, ``u_excess`` (len(ts),) and its standard error ``u_se``; the grid ``s``, the integrand
    ``g`` (its mean over chains) and ``g_se``; ``g0`` (exact at ``s = 0`` or NaN); ``grad_evals``.
    """
    ts = np.asarray(ts, dtype=np.float64)
    if ts.ndim != 1 or ts.size == 0 or not np.all(np.isfinite(ts) & (ts > 0)):
        raise ValueError(f"`ts` must be a non-empty sequence of finite times > 0; got {ts!r}.")
    for nm, v in (("beta", beta), ("lam_max", lam_max)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"`{nm}` must be finite and > 0; got {v!r}.")
    if not (0 < c < 1):
        raise ValueError(f"`c` must be in (0, 1); got {c!r}.")
    if n_chains < 2 or burn_in < 0 or n_steps <= burn_in:
        raise ValueError(f"need n_chains >= 2 and 0 <= burn_in < n_steps; got n_chains={n_chains}, "
                         f"burn_in={burn_in}, n_steps={n_steps}.")
    x = np.asarray(x, dtype=np.float64)
    d = x.size
    s_min = float(ts.min() / 100 if s_min is None else s_min)
    s = _grid(ts, s_min, per_decade)
    S = np.repeat(s, n_chains)[:, None]
    h = c / (lam_max + 1.0 / S)
    sig = np.sqrt(2.0 * h / beta)
    rng = np.random.default_rng(seed)
    Y = np.repeat(x[None], S.shape[0], axis=0)
    xi = rng.standard_normal(Y.shape)
    acc = np.zeros(S.shape[0])
    for k in range(n_steps):
        G = loss.grad(Y)
        D = Y - x
        if k >= burn_in:
            acc += np.einsum("cd,cd->c", D, G)
        xn = rng.standard_normal(Y.shape)
        Y = Y - h * (G + D / S) + sig * (0.5 * (xi + xn))
        xi = xn
        if not np.all(np.isfinite(Y)):
            raise FloatingPointError(f"local_entropy_ti: a chain became non-finite at step {k}; lam_max = {lam_max} "
                                     "must bound the Hessian's eigenvalues (reduce c).")
    gc = (acc / (n_steps - burn_in)).reshape(s.size, n_chains) / (2.0 * s[:, None])
    g = gc.mean(1)
    g_se = gc.std(1, ddof=1) / math.sqrt(n_chains)
    if trace is not None:
        g1 = loss.grad(x[None])[0]
        g0 = float(trace) / (2.0 * beta) - 0.5 * float(g1 @ g1)
    else:
        g0 = float("nan")
    # the integrand interpolated linearly in log s between grid times and integrated exactly: on [a, b]
    # int g ds = w_a g(a) + w_b g(b), w_a = (b - a)/ln(b/a) - a, w_b = b - (b - a)/ln(b/a) (3 points per
    # decade: 0.2 % on the quadratic, where the trapezoid rule in log s is 3 % high); on [0, s_min] the
    # trapezoid with the exact s = 0 integrand (or g(s_min) alone)
    a, b = s[:-1], s[1:]
    ln = np.log(b / a)
    wa, wb = (b - a) / ln - a, b - (b - a) / ln
    W = np.zeros((s.size, s.size))           # W[i, j]: weight of g_j in the integral up to s_i
    W[:, 0] = 0.5 * s[0] * (1.0 if np.isfinite(g0) else 2.0)
    for i in range(1, s.size):
        W[i] = W[i - 1]
        W[i, i - 1] += wa[i - 1]
        W[i, i] += wb[i - 1]
    base = 0.5 * s[0] * g0 if np.isfinite(g0) else 0.0
    cum = base + W @ g
    cum_se = np.sqrt((W ** 2) @ (g_se ** 2))   # independent chains per grid time
    idx = [int(np.argmin(np.abs(s - t))) for t in ts]
    out, out_se = cum[idx], cum_se[idx]
    return {"ts": ts, "u_excess": np.array(out), "u_se": np.array(out_se), "s": s, "g": g, "g_se": g_se,
            "g0": g0, "grad_evals": int(n_steps * S.shape[0]), "dim": d}


def laplace_excess(eigenvalues, ts, beta, grad_coords=None) -> np.ndarray:
    r"""``u(x, t) - f(x)`` of the quadratic (second-order Taylor) model of ``f`` at ``x``, at each ``t``:

    .. math::

        \sum_i \Big[\frac{1}{2\beta}\log(1 + t\lambda_i) - \frac{t\,g_i^2}{2(1 + t\lambda_i)}\Big],

    with ``lambda_i`` the Hessian's eigenvalues and ``g_i`` the gradient's coordinates in its eigenvectors
    (``grad_coords``; omitted: zero gradient).  Exact for a quadratic ``f`` (paper-spec §2.3); eigenvalues
    below ``-1/(2t)`` are clipped there (the quadratic model has no local Gibbs measure beyond ``-1/t``).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    g2 = np.zeros_like(lam) if grad_coords is None else np.asarray(grad_coords, dtype=np.float64) ** 2
    out = []
    for t in ts:
        q = 1.0 + t * np.maximum(lam, -0.5 / t)
        out.append(float(np.sum(0.5 / beta * np.log(q) - 0.5 * t * g2 / q)))
    return np.array(out)
