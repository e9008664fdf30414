"""What every local-entropy estimator shares: the result type, the input checks and the curvature bound.

:mod:`deeprelax.local_entropy` (the methods and their dispatch), :mod:`deeprelax._sgld_plain` (the
plain SGLD sampler) and :mod:`deeprelax.replica_exchange` build on it; the public names are re-exported
by :mod:`deeprelax.local_entropy`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from solvers.errors import check_positive, check_real
from solvers.grid import Grid
from solvers.result import Result, register_result

from .losses import as_loss

__all__ = ["LocalEntropyResult", "curvature_bound"]


# ----------------------------------------------------------------------------- result
@register_result
@dataclass(frozen=True, repr=False)
class LocalEntropyResult(Result):
    """Local entropy at a set of points.

    Attributes
    ----------
    x : ndarray, shape (..., d)
    u : ndarray, shape (...)
        ``u(x, t)`` (NaN for ``"sgld"``).
    grad : ndarray, shape (..., d)
        ``grad u(x, t) = (x - mean)/t``.
    mean : ndarray, shape (..., d)
        Gibbs mean ``<y>`` (prox for ``beta = inf``).
    stderr : ndarray, shape (..., d)
        Standard error of ``grad`` (``"sgld"``; zeros for the deterministic methods).
    tau : ndarray, shape (..., d)
        Integrated autocorrelation time per coordinate, in SGLD steps (``"sgld"``; zeros otherwise).
    rhat : ndarray, shape (...)
        Largest Gelman-Rubin statistic over the coordinates (``"sgld"`` with >= 2 chains; NaN otherwise).
    n_samples : int
        Samples per point after burn-in (all chains; ``"sgld"``), 0 otherwise.
    t, beta : float
    method : str
    params : dict
        Settings and, for ``"sgld"``, the sampler's diagnostics (``ess``, ``round_trips``, ``n_rungs``,
        ``swap_accept``, ``n_steps`` per point, ...).
    wall_time : float, seconds
    converged : ndarray of bool, shape (...)
        Per point: the estimator's criteria hold (``"sgld"``: ESS, R-hat and, for the replica-exchange
        sampler, round trips; see :mod:`deeprelax.replica_exchange`).  Always True for the
        deterministic methods.  Points with ``converged = False`` have untrustworthy error bars.
    message : str
        What was run and whether the criteria hold (names the failing points).
    u_stderr : ndarray, shape (...)
        Standard error of ``u`` (``"sgld"`` replica exchange with ``u`` requested; NaN otherwise, 0 for
        the deterministic methods).
    """

    x: np.ndarray
    u: np.ndarray
    grad: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    tau: np.ndarray
    rhat: np.ndarray
    n_samples: int
    t: float
    beta: float
    method: str
    params: dict = field(default_factory=dict)
    wall_time: float = 0.0
    converged: np.ndarray = None
    message: str = ""
    u_stderr: np.ndarray = None

    @property
    def value(self):
        """Alias of ``grad`` (the estimated quantity of the ``"sgld"`` method)."""
        return self.grad


# ----------------------------------------------------------------------------- helpers
def _loss(loss, x):
    """The loss behind ``loss`` (a plain callable gets the dimension of the points ``x``)."""
    a = np.asarray(x)
    return as_loss(loss, dim=int(a.shape[-1]) if a.ndim >= 1 else None, where="local_entropy", wrap=True)


def _points(loss, x):
    X = np.asarray(check_real("x", x), dtype=np.float64)
    if X.ndim == 0 or X.shape[-1] != loss.dim:
        raise ValueError(f"`x` must have shape (..., {loss.dim}) (trailing axis = loss.dim = {loss.dim}); "
                         f"got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"`x` must be finite; got {int(np.count_nonzero(~np.isfinite(X)))} non-finite entries.")
    if X.size == 0:
        raise ValueError(f"`x` must hold at least one point; got shape {X.shape}.")
    return X


def _tb(t, beta):
    t = check_positive("t", t)
    beta = check_positive("beta", beta, allow_inf=True)
    return t, beta


def _sgld_inputs(loss, x, t, beta):
    """``(loss, X, t, beta)`` checked for an SGLD estimate (which needs a finite ``beta``)."""
    loss = _loss(loss, x)
    X = _points(loss, x)
    t, beta = _tb(t, beta)
    if not math.isfinite(beta):
        raise ValueError("`beta` must be finite for method 'sgld' (beta < inf); use method='prox' for beta = inf.")
    return loss, X, t, beta


def curvature_bound(loss, n: int = 64, positive: bool = False) -> float:
    """An estimate of ``max |f''|`` along the axes over ``loss.bounds`` (``loss.lipschitz_grad`` when finite).

    ``positive=True`` bounds only the positive part ``max f''`` (what limits the SGLD step).

    Second differences of ``f`` on an ``n``-point-per-axis grid (at most 4096 points), refined once
    near the largest value.  Used only to choose grid spacings and default SGLD steps.
    """
    lip = loss.lipschitz_grad
    if lip is not None and math.isfinite(lip) and lip > 0:
        return float(lip)
    d = loss.dim
    n = max(8, min(n, int(4096 ** (1.0 / d))))
    g = Grid.uniform(loss.bounds, (n,) * d)
    P = g.mesh()
    best = 0.0
    for h in (min(g.spacing) / 4.0, min(g.spacing) / 64.0):
        for k in range(d):
            e = np.zeros(d)
            e[k] = h
            d2 = (loss.value(P + e) - 2.0 * loss.value(P) + loss.value(P - e)) / h ** 2
            best = max(best, float(np.max(d2 if positive else np.abs(d2))))
    return max(best, 1e-12)
