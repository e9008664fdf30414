r"""Local entropy (the relaxed loss) ``u(x, t)`` and its gradient at arbitrary points, four ways.

DR convention (paper-spec §1.1, §2.1): for a loss ``f`` on ``R^d``,

.. math::

    u(x,t) = -\frac1\beta\log\big(G_{t/\beta} * e^{-\beta f}\big)(x),\qquad
    \nabla u(x,t) = \frac{x - \langle y\rangle}{t},\qquad
    \langle y\rangle = \mathbb E_{\rho}\,y,\quad \rho(y) \propto e^{-\beta[f(y) + |x-y|^2/(2t)]},

the viscous HJ solution ``u_t = -|grad u|^2/2 + Lap u/(2 beta)``, ``u(., 0) = f``; ``beta = inf`` is
the Hopf-Lax solution (Moreau envelope) ``u = min_y f(y) + |x - y|^2/(2t)``, ``grad u = (x - prox)/t``.

Methods (:func:`local_entropy`, :func:`local_entropy_grad`, :func:`estimate`)
---------------------------------------------------------------------------------
``"quadrature"`` (called ``"exact"`` before; that name still works with a FutureWarning)
    :func:`solvers.cole_hopf.cole_hopf` (log-domain quadrature of the Cole-Hopf integral; Hopf-Lax for
    ``beta = inf``) on a grid covering every point's domain of dependence (the ball of radius
    ``sqrt(2 t (f(x) - min f + 40/beta))``, chosen from the loss, t and beta, not from the spread of the
    points, so one point or clustered points work too), then cubic-spline interpolation (d = 1, 2) or cubic
    ``RegularGridInterpolator`` (d = 3).  The grid spacing resolves both the kernel width ``sqrt(t/beta)``
    and the Gibbs width ``1/sqrt(beta C)`` (``C`` a curvature bound of ``f``).  d <= 3.  Not exact:
    its error is that of the quadrature and the interpolation, measured against the closed forms at 20
    random points (t = 0.1 and 1): round-off for quadratics, 4e-11 to 2e-6 in ``u`` and 3e-9 to 9e-6 in
    ``grad u`` for soft-mins of quadratics (1-D, 2-D, ``wide-sharp`` at beta = 10), 1e-4 to 7e-4 for
    ``|x|`` (a kink).
``"pde"``
    :func:`solvers.hj.solve_hj` (finite differences, WENO5 + TVD-RK3 by default) on the same kind of
    grid, as given where the loss grows outward on every face of the box (characteristics leave it),
    otherwise padded by ``solve_hj`` (the loss is passed as a callable) so that errors of the artificial
    boundary, which travel inward along characteristics, do not reach the points; ``u`` interpolated as
    above, ``grad u`` from 4th-order central differences of the grid ``u``.  Where the padding or the
    time steps cannot work (large ``t`` with steeply growing losses, tiny ``beta``) it raises and names
    ``method="quadrature"``.
``"sgld"``
    The Entropy-SGD estimator of ``<y>`` (paper-spec §2.6, §7.6), trustworthy by default on multimodal
    local measures (issue 16).  ``sampler="replica-exchange"`` (default, :mod:`deeprelax.replica_exchange`):
    the Entropy-SGD Langevin step on
    ``U_x(y) = f(y) + |y - x|^2/(2t)``, ``y <- y - eta' grad U_x(y) + sqrt(2 eta'/beta) xi``, made exact by
    a Metropolis-Hastings accept/reject, on a ladder that tempers ``f`` from an exactly sampled Gaussian
    reference ``N(x, t/beta)`` to the target; dispersed starts, tuned ladder and steps, run length
    doubled until ESS, split R-hat and round-trip criteria hold; error bars from the integrated
    autocorrelation time; ``converged`` per point, a ``message``, and a :class:`RuntimeWarning` when the
    budget runs out.  It also estimates ``u`` (``local_entropy(..., method="sgld")``).
    ``sampler="plain"``: Algorithm 1's inner loop, ``n_chains`` unadjusted SGLD chains per point,
    ``burn_in`` discarded steps, then the running mean of ``n_samples`` steps per chain; Sokal error
    bars of block means and Gelman-Rubin ``rhat``.  Euler-Maruyama has an ``O(eta')`` bias in ``<y>``
    (Richardson: ``2 A(eta'/2) - A(eta')``), and chains that do not cross between wells give a
    confidently wrong answer: kept to show what Entropy-SGD itself does.
``"prox"``
    ``beta = inf`` only: :func:`solvers.hopf_lax.hopf_lax` on a grid + interpolation (``solver="grid"``,
    the global minimiser; default for d <= 2) or the meshfree :func:`deeprelax.prox.prox` (local
    minimiser from ``x``; ``solver="meshfree"``, any d).

The closed forms (``loss.exact_u/exact_grad``) are the test oracle, never a method here.

Entropy-SGD scope convention (paper-spec §1.2-1.3)
--------------------------------------------------
ESGD's scope ``gamma_E`` is an inverse variance: ``t = 1/gamma_E`` (:func:`scope_to_time`,
:func:`time_to_scope`; with the code's inner Nesterov momentum ``m``, ``t = 1/((1-m) gamma_E)`` and
``beta = 1/((1-m) epsilon^2)``, :func:`noise_to_beta`, see :mod:`deeprelax.scope`), and at ``beta = 1``
its free energy
``F(x, gamma_E) = log int exp(-f(y) - gamma_E |x - y|^2/2) dy`` satisfies
``-F(x, gamma_E) = u(x, 1/gamma_E) - (d/2) log(2 pi / gamma_E)`` (:func:`esgd_free_energy`),
``grad(-F) = grad u(x, 1/gamma_E) = gamma_E (x - <y>)``.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from solvers._domain import LOG_CUTOFF
from solvers.errors import GridError, StabilityError
from solvers.grid import Grid

from ._le_base import LocalEntropyResult, _loss, _points, _tb, curvature_bound  # noqa: F401  (public here)
# the plain Algorithm-1 SGLD sampler (kernels, NumPy twin, driver) and the replica-exchange sampler
from ._sgld_plain import (_gelman_rubin, _sgld_group, _sgld_par, _sgld_plain, _sgld_ser,  # noqa: F401
                          sgld_blocks_numpy)
from .replica_exchange import DEFAULTS, sample_local_measure
from .scope import noise_to_beta, scope_to_time, time_to_scope  # noqa: F401  (public here too)

__all__ = ["local_entropy", "local_entropy_grad", "estimate", "LocalEntropyResult", "scope_to_time",
           "time_to_scope", "noise_to_beta", "esgd_free_energy", "sgld_mean", "METHODS", "SAMPLERS",
           "curvature_bound", "ResolutionWarning"]

METHODS = ("quadrature", "pde", "sgld", "prox")
#: Old method names -> current ones (accepted with a FutureWarning).
METHOD_ALIASES = {"exact": "quadrature"}
_MAX_CELLS = {1: 8001, 2: 401, 3: 97}
#: Warn when the cell cap leaves the grid this many times coarser than the spacing the loss, t and beta need.
_COARSE_WARN = 4.0
#: ... and the answer on a grid of 0.7x the cells differs by more than this (relative to max(1, |u|)).
_COARSE_TOL = 1e-3


class ResolutionWarning(RuntimeWarning):
    """A grid method ran at its cell cap, coarser than the scales of the loss, ``t`` and ``beta`` need:
    its answer may be off by more than its usual error (``cells=``, closer points or ``method="sgld"``)."""


# ----------------------------------------------------------------------------- converters
def esgd_free_energy(loss, x, gamma_e, *, method="quadrature", **kw):
    r"""ESGD's minimised objective ``-F(x, gamma_E)`` at ``beta = 1`` (paper-spec §1.3).

    .. math:: -F(x,\gamma_E) = -\log\int e^{-f(y)-\frac{\gamma_E}{2}|x-y|^2}dy
              = u(x, 1/\gamma_E) - \frac d2\log\frac{2\pi}{\gamma_E}.

    ``x`` shape (..., d) -> shape (...).  ``method`` and ``kw`` as :func:`local_entropy` (``beta = 1``).
    """
    t = scope_to_time(gamma_e)
    loss = _loss(loss, x)
    u = local_entropy(loss, x, t, 1.0, method=method, **kw)
    return u - 0.5 * loss.dim * math.log(2.0 * math.pi * t)


_MAX_CELLS_PDE = {1: 1601, 2: 161, 3: 49}


def _reach_box(loss, pts, t, beta, fmin):
    """Box holding, for every point x, the ball where the Gibbs weight of y is not negligible.

    ``exp(-beta [f(y) + |x-y|^2/(2t)]) >= exp(-LOG_CUTOFF) exp(-beta f(x))`` needs
    ``|x - y| <= R(x) = sqrt(2 t (f(x) - min f + LOG_CUTOFF / beta))`` (``solvers._domain``), so
    the union of these balls is the whole quadrature domain, whatever the spread of the points.
    """
    extra = 0.0 if not math.isfinite(beta) else LOG_CUTOFF / beta
    fx = np.asarray(loss.value(pts), dtype=np.float64).reshape(-1)
    R = np.sqrt(2.0 * t * (np.maximum(fx - fmin, 0.0) + extra))
    return (pts - R[:, None]).min(0), (pts + R[:, None]).max(0), fx


def _auto_shape(loss, X, t, beta, cells, cap=None):
    """Grid and loss values for the grid methods: the domain comes from the loss, ``t`` and ``beta``.

    The box is the union over the points of the balls of radius
    ``R(x) = sqrt(2 t (f(x) - min f + 40/beta))`` (:func:`_reach_box`) plus 4 cells, so the
    values at the points are whole-space exact for any set of points (a single point, clustered
    points, large t, small or large beta; issue 13).  The spacing resolves ``sqrt(t/beta)``,
    ``1/sqrt(beta C)`` and ``1/sqrt(C)`` (``C`` a curvature bound of f), within the cell cap; the
    minimum of f over the box is refined from the sampled values until the box is stable.

    Returns
    -------
    grid : Grid
    values : ndarray, ``grid.shape`` (f on the grid; the solvers use the box as given)
    coarse : float
        How many times coarser than the wanted spacing the cell cap left the grid (1 if not capped
        or if ``cells`` was given).
    """
    d = loss.dim
    pts = X.reshape(-1, d)
    cap = (cap or _MAX_CELLS)[d]
    C = None if cells is not None else curvature_bound(loss)
    coarse = 1.0
    fmin = float(np.min(loss.value(pts)))
    for _ in range(8):
        lo, hi, fx = _reach_box(loss, pts, t, beta, fmin)
        width = hi - lo
        if cells is not None:
            n = np.broadcast_to(np.asarray(cells, dtype=int), (d,))
            if np.any(n < 12):
                raise ValueError(f"`cells` must be >= 12 per axis; got {cells!r}.")
            h = width / (n - 9)
        else:
            scales = [math.sqrt(t / beta) if math.isfinite(beta) else math.inf,
                      1.0 / math.sqrt(beta * C) if math.isfinite(beta) else math.inf,
                      1.0 / math.sqrt(C) if C > 0 else math.inf, 0.1 * max(float(np.max(width)), 1.0)]
            r = 8.0 if d == 1 else 4.0
            h0 = min(scales[0] / r, scales[1] / 4.0, scales[2] / r, scales[3] / 4.0)
            if not math.isfinite(beta):
                h0 = min(h0, float(np.max(width)) / (2000.0 if d == 1 else 300.0 if d == 2 else 60.0))
            width = np.maximum(width, h0)
            n = np.minimum(np.ceil(width / h0).astype(int) + 9, cap)
            h = width / (n - 9)
            coarse = float(np.max(h)) / h0
        b = [(float(lo[k] - 4 * h[k]), float(lo[k] - 4 * h[k] + (n[k] - 1) * h[k])) for k in range(d)]
        grid = Grid.uniform(b, tuple(int(v) for v in n))
        vals = grid.sample(loss.value, name="loss")
        vmin = float(vals.min())
        if vmin >= fmin - 1e-12 * max(1.0, abs(fmin)):
            break
        fmin = vmin  # a lower minimum inside the box: the reach grows, resample
    return grid, vals, coarse


def _grows_outward(vals: np.ndarray, depth: int = 5) -> bool:
    """Whether f is non-decreasing outward over the ``depth`` outermost nodes of every face of the box."""
    for k in range(vals.ndim):
        v = np.moveaxis(vals, k, 0)
        if v.shape[0] < 2 * depth:
            return False
        if np.any(np.diff(v[:depth], axis=0) > 0) or np.any(np.diff(v[-depth:], axis=0) < 0):
            return False
    return True


def _interp(grid: Grid, values: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Cubic interpolation of grid values at points ``(P, d)`` -> ``(P,)``."""
    from scipy import interpolate as si

    d = grid.dim
    if d == 1:
        s = si.make_interp_spline(grid.axes[0], values, k=3)
        return s(pts[:, 0])
    if d == 2:
        s = si.RectBivariateSpline(grid.axes[0], grid.axes[1], values, kx=3, ky=3, s=0)
        return s.ev(pts[:, 0], pts[:, 1])
    r = si.RegularGridInterpolator(grid.axes, values, method="cubic")
    return r(pts)


def _central_grad(u, spacing):
    """4th-order central differences (2nd order one-sided at the two edge rows): ``grid.shape + (d,)``."""
    out = np.empty(u.shape + (u.ndim,))
    for k in range(u.ndim):
        g = np.gradient(u, spacing[k], axis=k, edge_order=2)
        sl = [slice(None)] * u.ndim
        n = u.shape[k]
        if n >= 5:
            def s(a, b):
                q = list(sl)
                q[k] = slice(a, n + b if b <= 0 else b)
                return tuple(q)
            inner = (u[s(0, -4)] - 8 * u[s(1, -3)] + 8 * u[s(3, -1)] - u[s(4, 0)]) / (12 * spacing[k])
            q = list(sl)
            q[k] = slice(2, n - 2)
            g[tuple(q)] = inner
        out[..., k] = g
    return out


def _check_method(method):
    """The method's current name (an old name warns); ValueError for an unknown one."""
    if method in METHOD_ALIASES:
        import warnings

        new = METHOD_ALIASES[method]
        warnings.warn(f"local entropy method {method!r} is now {new!r} (a grid quadrature, not an exact answer; "
                      f"see deeprelax.local_entropy for its error).", FutureWarning, stacklevel=4)
        return new
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    return method


# ----------------------------------------------------------------------------- deterministic methods
def _grid_method(loss, X, t, beta, method, cells=None, scheme="weno5", solver=None, prox_method="auto"):
    from solvers.cole_hopf import cole_hopf
    from solvers.hj import solve_hj
    from solvers.hopf_lax import hopf_lax

    d = loss.dim
    pts = X.reshape(-1, d)
    if method == "prox" and (solver or ("grid" if d <= 2 else "meshfree")) == "meshfree":
        from .prox import prox as _prox

        pm = prox_method
        if pm == "auto":
            pm = "newton" if loss.has_hess else "gd"
        r = _prox(loss, pts, t, method=pm)
        P = r.prox
        return r.value, (pts - P) / t, P, {"solver": "meshfree", "prox_method": r.method}
    if d > 3:
        raise ValueError(f"method {method!r} needs a grid: loss.dim must be <= 3; got {d}. Use 'sgld' "
                         f"(or 'prox' with solver='meshfree' at beta = inf).")
    grid, vals, coarse = _auto_shape(loss, X, t, beta, cells, _MAX_CELLS_PDE if method == "pde" else None)
    # the box already holds every point's domain of dependence: the solvers use it as given
    if method == "quadrature":
        res = cole_hopf(vals, grid, t, beta)
        info = {"solver": "cole_hopf", "cole_hopf_method": res.method}
        U, G = res.u, res.grad
    elif method == "prox":
        res = hopf_lax(vals, grid, t)
        U, G = res.u, res.grad
        info = {"solver": "hopf_lax"}
    else:
        # The box covers the points' exact domain of dependence, but a PDE on it is exact only if its
        # extrapolated boundary values do not travel inward.  Where f grows outward on every face the
        # characteristics leave the box and it is used as given; elsewhere (an oscillating loss) the
        # boundary error travels inward at speed |grad u| (rastrigin, t=0.3, beta=1e4: grad 42.7 instead
        # of 1.65), so solve_hj gets the loss as a callable and pads the box by its own reach.
        try:
            res = solve_hj(vals if _grows_outward(vals) else loss.value, grid, t, beta=beta, scheme=scheme)
        except (GridError, StabilityError) as e:
            why = ("the padding its boundary needs exceeds 64x the grid" if isinstance(e, GridError) else
                   "the explicit time steps would be below 1e-9 of t")
            raise type(e)(f"method='pde' cannot solve this case (t={t:g}, beta={beta:g}, loss "
                          f"{getattr(loss, 'name', type(loss).__name__)!r}): the loss grows too steeply over "
                          f"the domain these t and beta reach, so {why}. Use method='quadrature' (Cole-Hopf "
                          f"quadrature), which works for any t and beta.") from e
        U = res.u
        G = _central_grad(U, grid.spacing)
        info = {"solver": "solve_hj", "scheme": res.scheme, "padded": bool(res.params.get("padded"))}
    u = _interp(grid, U, pts)
    g = np.stack([_interp(grid, G[..., k], pts) for k in range(d)], axis=-1)
    info.update({"grid_shape": list(grid.shape), "grid_bounds": [list(b) for b in zip(grid.lo, grid.hi)]})
    if coarse > _COARSE_WARN:
        # At the cell cap the spacing is coarser than the loss, t and beta ask for: estimate the error by
        # solving again on a grid of ~0.7x the cells and say so when the two disagree.
        n2 = tuple(max(12, int(round(0.7 * (n - 9))) + 9) for n in grid.shape)
        u2 = _grid_method(loss, X, t, beta, method, cells=n2, scheme=scheme, solver=solver,
                          prox_method=prox_method)[0]
        diff = float(np.max(np.abs(u - u2)))
        info["coarse_factor"], info["coarse_check"] = coarse, {"cells": list(n2), "max_abs_diff": diff}
        if diff > _COARSE_TOL * max(1.0, float(np.max(np.abs(u)))):
            name = getattr(loss, "name", type(loss).__name__)
            warnings.warn(
                f"local entropy ({method!r}) of loss {name!r} at t={t:g}, beta={beta:g}: the grid is at its cell "
                f"cap {tuple(grid.shape)}, {coarse:.0f}x coarser than these scales ask for, and a grid of {n2} "
                f"cells differs by up to {diff:.2g} in u: the answer may be off by about that much. Evaluate "
                f"fewer or closer points (one grid spans all of them), pass cells= finer, or use "
                f"method='sgld'.", ResolutionWarning, stacklevel=_user_stacklevel())
    return u, g, pts - t * g, info


def _user_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first frame outside deeprelax and solvers."""
    import os
    import sys

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pkgs = (os.path.join(here, "deeprelax") + os.sep, os.path.join(here, "solvers") + os.sep)
    f, level = sys._getframe(1), 1
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkgs):
        f, level = f.f_back, level + 1
    return level


SAMPLERS = ("replica-exchange", "plain")


def _sample_chunked(sample, loss, pts, t, beta, want_u, rng, parallel, kw):
    """``sample`` over chunks of points when ``u`` is requested (its bridge block means take
    ``2 x 1024 x max_rungs`` floats per chain: chunks keep them under ~200 MB); results concatenated."""
    C = int(kw.get("n_chains") or DEFAULTS["n_chains"])
    Rm = int(kw.get("max_rungs") or DEFAULTS["max_rungs"])
    per = max(1, int(2e8 // (C * 1024 * Rm * 16))) if want_u else pts.shape[0]
    if pts.shape[0] <= per:
        return sample(loss, pts, t, beta, want_u=want_u, rng=rng, parallel=parallel, **kw)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    parts = [sample(loss, pts[i:i + per], t, beta, want_u=want_u, rng=gen, parallel=parallel, **kw)
             for i in range(0, pts.shape[0], per)]
    out = {}
    for k, v in parts[0].items():
        if isinstance(v, np.ndarray):
            out[k] = np.concatenate([p[k] for p in parts])
        elif k == "ladders":
            out[k] = [ld for p in parts for ld in p[k]]
        elif k in ("evaluations", "wall_time"):
            out[k] = sum(p[k] for p in parts)
        elif k == "message":
            bad = int(sum((~p["converged"]).sum() for p in parts))
            out[k] = (v if not bad else f"{bad} of {pts.shape[0]} points did not meet the criteria (in "
                      f"{len(parts)} chunks): " + "; ".join(p["message"] for p in parts if not p["converged"].all()))
        else:
            out[k] = v
    return out


def sgld_mean(loss, x, t, beta, *, sampler="replica-exchange", want_u=False, rng=0, parallel=None, **kw):
    r"""The Entropy-SGD estimator of the Gibbs mean ``<y>`` and of ``grad u(x, t) = (x - <y>)/t``.

    Parameters
    ----------
    loss : Loss, or a callable f(x) on points (..., d)
        Built-in and compiled (``numba.njit``) losses run inside the compiled samplers; other losses are
        called once per step with all the chains (:mod:`deeprelax._kernel_loss`).  The replica-exchange
        sampler needs the loss value as well as its gradient (Metropolis test).
    x : array (..., d)
    t : float > 0
        DR time (``= 1/gamma_E``).
    beta : float > 0, finite
    sampler : {"replica-exchange", "plain"}
        ``"replica-exchange"`` (default): Metropolis-adjusted Langevin moves (the Entropy-SGD step plus
        an accept/reject) on a ladder tempering ``f`` from an exactly sampled Gaussian reference to the
        target, dispersed starts, ladder and step sizes tuned in warm-up, run length doubled until
        ESS, split R-hat and round-trip criteria hold (:mod:`deeprelax.replica_exchange`; keywords
        ``n_chains, ess_min, rhat_max, min_round_trips, max_steps, n_samples, rejection, max_rungs,
        init_scale, warmup``).  Exact invariant law: no step bias.  Also estimates ``u`` with
        ``want_u=True``.  ``"plain"``: Algorithm 1's inner loop, unadjusted SGLD chains at one
        temperature (keywords ``inner_lr, n_samples, burn_in, n_chains, block, init, init_scale,
        ess_min, rhat_max``; :func:`_sgld_plain`), kept to show its bias on multimodal measures.
    want_u : bool
        Estimate ``u(x, t)`` too (replica exchange only).
    rng : int or numpy.random.Generator
    parallel : bool, optional

    Returns
    -------
    LocalEntropyResult (``method="sgld"``) with ``converged`` per point and ``message``.  Points that
    miss the criteria within the budget have ``converged = False`` and a :class:`RuntimeWarning` is
    issued.
    """
    if sampler == "plain":
        if want_u:
            raise ValueError("sampler='plain' estimates grad u only (u needs the partition function); "
                             "use the default sampler='replica-exchange'.")
        return _sgld_plain(loss, x, t, beta, rng=rng, parallel=parallel, **kw)
    if sampler != "replica-exchange":
        raise ValueError(f"`sampler` must be one of {SAMPLERS}; got {sampler!r}.")
    bad = set(kw) - set(DEFAULTS)
    if bad:
        raise TypeError(f"unexpected keyword(s) {sorted(bad)} for sampler 'replica-exchange'; allowed: "
                        f"{sorted(DEFAULTS)} (the plain sampler's inner_lr/burn_in/... need sampler='plain').")
    t0 = time.perf_counter()
    loss = _loss(loss, x)
    X = _points(loss, x)
    t, beta = _tb(t, beta)
    if not math.isfinite(beta):
        raise ValueError("`beta` must be finite for method 'sgld' (beta < inf); use method='prox' for beta = inf.")
    shape = X.shape[:-1]
    pts = np.ascontiguousarray(X.reshape(-1, loss.dim))
    r = _sample_chunked(sample_local_measure, loss, pts, t, beta, want_u, rng, parallel, kw)
    conv = r["converged"]
    if not conv.all():
        warnings.warn(f"local_entropy sgld (replica exchange): {r['message']}", RuntimeWarning, stacklevel=4)
    C = r["settings"]["n_chains"]
    diag = {k: (v.reshape(shape) if isinstance(v, np.ndarray) and v.shape == (pts.shape[0],) else v)
            for k, v in r.items() if k in ("round_trips", "n_steps", "n_rungs", "swap_accept", "mh_accept",
                                           "beta_hot", "ess_u")}
    diag["ess"] = r["ess"].reshape(X.shape)
    diag["ladders"] = r["ladders"]
    prm = {"sampler": "replica-exchange", **r["settings"], "seed": r["seed"], "loss": repr(loss),
           "loss_path": r["loss_path"],
           "warmup_steps": r["warmup_steps"], "evaluations": r["evaluations"], **diag}
    return LocalEntropyResult(
        x=X, u=r["u"].reshape(shape), grad=((pts - r["mean"]) / t).reshape(X.shape), mean=r["mean"].reshape(X.shape),
        stderr=(r["stderr"] / t).reshape(X.shape), tau=r["tau"].reshape(X.shape), rhat=r["rhat"].reshape(shape),
        n_samples=int(r["n_steps"].max()) * C, t=t, beta=beta, method="sgld", params=prm,
        wall_time=time.perf_counter() - t0, converged=conv.reshape(shape), message=r["message"],
        u_stderr=r["u_stderr"].reshape(shape))


# ----------------------------------------------------------------------------- public API
def estimate(loss, x, t, beta, method="quadrature", **kw) -> LocalEntropyResult:
    """Local entropy ``u``, ``grad u`` and the Gibbs mean at points ``x`` (..., d) as a :class:`LocalEntropyResult`.

    ``method`` in :data:`METHODS`; keywords: ``cells`` (grid cells per axis, int or (d,), for the grid
    methods), ``scheme`` (``"pde"``), ``solver`` (``"grid"``/``"meshfree"``) and ``prox_method``
    (``"prox"``), and those of :func:`sgld_mean` for ``"sgld"``.
    """
    method = _check_method(method)
    loss = _loss(loss, x)
    if method == "sgld":
        return sgld_mean(loss, x, t, beta, **kw)
    t0 = time.perf_counter()
    X = _points(loss, x)
    t, beta = _tb(t, beta)
    if method == "prox" and math.isfinite(beta):
        raise ValueError(f"method 'prox' is the beta = inf (Hopf-Lax) solution; got beta = {beta}. "
                         f"Use 'quadrature', 'pde' or 'sgld' for finite beta.")
    allowed = {"quadrature": {"cells"}, "pde": {"cells", "scheme"}, "prox": {"cells", "solver", "prox_method"}}[method]
    bad = set(kw) - allowed
    if bad:
        raise TypeError(f"unexpected keyword(s) {sorted(bad)} for method {method!r}; allowed: {sorted(allowed)}.")
    u, g, m, info = _grid_method(loss, X, t, beta, method, **kw)
    shape = X.shape[:-1]
    z = np.zeros(X.shape)
    return LocalEntropyResult(x=X, u=np.asarray(u).reshape(shape), grad=g.reshape(X.shape), mean=m.reshape(X.shape),
                              stderr=z, tau=z.copy(), rhat=np.full(shape, np.nan), n_samples=0, t=t, beta=beta,
                              method=method, params=info, wall_time=time.perf_counter() - t0,
                              converged=np.ones(shape, bool), message=f"deterministic method {method!r}",
                              u_stderr=np.zeros(shape))


def local_entropy(loss, x, t, beta, method="quadrature", **kw):
    r"""Relaxed loss ``u(x, t) = -(1/beta) log(G_{t/beta} * exp(-beta f))(x)`` (DR convention).

    Parameters
    ----------
    loss : deeprelax.losses.Loss, or a callable f(x) on points (..., d) (any object with ``dim`` and ``value``)
    x : array, shape (..., d)
    t : float > 0
        DR time (a variance; ``t = 1/gamma_E``).
    beta : float in (0, inf]
        ``inf`` gives the Hopf-Lax solution (``method="quadrature"`` or ``"prox"``).
    method : {"quadrature", "pde", "prox", "sgld"} (``"exact"``: old name of ``"quadrature"``)
        ``"sgld"``: the replica-exchange sampler's bridge estimate of ``u`` (returns the
        :class:`LocalEntropyResult`, with ``.u``, ``.u_stderr``, ``.converged``; the plain sampler
        cannot estimate ``u``).
    **kw : see :func:`estimate`.

    Returns
    -------
    ndarray, shape (...) (a float for a single point of shape (d,)); a :class:`LocalEntropyResult`
    for ``"sgld"``.

    Warns
    -----
    ResolutionWarning
        A grid method ran at its cell cap (one grid spans all points; 401^2 in 2-D), coarser than
        ``sqrt(t/beta)`` and the curvature of f ask for, and the answer on a grid of 0.7x the cells
        differs by more than 1e-3 (relative to ``max(1, |u|)``); the message gives that difference.
    """
    if method == "sgld":
        if kw.get("sampler", "replica-exchange") == "plain":
            raise ValueError("method 'sgld' with sampler='plain' estimates grad u only (u needs the partition "
                             "function); use the default sampler='replica-exchange' or method='quadrature'/'pde'/'prox'.")
        return estimate(loss, x, t, beta, method="sgld", want_u=True, **kw)
    u = estimate(loss, x, t, beta, method=method, **kw).u
    return float(u) if u.ndim == 0 else u


def local_entropy_grad(loss, x, t, beta, method="quadrature", **kw):
    r"""``grad u(x, t) = (x - <y>)/t`` (DR convention).

    Returns an ndarray of shape ``(..., d)`` for ``"quadrature"``, ``"pde"``, ``"prox"``; for ``"sgld"`` a
    :class:`LocalEntropyResult` (``.grad`` / ``.value``, ``.stderr``, ``.tau``, ``.n_samples``, ``.rhat``).
    Parameters as :func:`local_entropy` (and :func:`sgld_mean` for ``"sgld"``).
    """
    r = estimate(loss, x, t, beta, method=method, **kw)
    return r if method == "sgld" else r.grad
