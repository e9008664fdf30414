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

from ._le_base import LocalEntropyResult, _loss, _points, _sgld_inputs, _tb, curvature_bound  # noqa: F401
from ._le_grid import ResolutionWarning, _grid_method  # noqa: F401  (public here)
# the plain Algorithm-1 SGLD sampler (kernels, driver) and the replica-exchange sampler
from ._sgld_plain import _gelman_rubin, _sgld_group, _sgld_par, _sgld_plain, _sgld_ser  # noqa: F401
from .replica_exchange import DEFAULTS, sample_local_measure
from .scope import noise_to_beta, scope_to_time, time_to_scope  # noqa: F401  (public here too)

__all__ = ["local_entropy", "local_entropy_grad", "estimate", "LocalEntropyResult", "scope_to_time",
           "time_to_scope", "noise_to_beta", "esgd_free_energy", "sgld_mean", "METHODS", "SAMPLERS",
           "curvature_bound", "ResolutionWarning"]

METHODS = ("quadrature", "pde", "sgld", "prox")
#: Old method names -> current ones (accepted with a FutureWarning).
METHOD_ALIASES = {"exact": "quadrature"}


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
    loss, X, t, beta = _sgld_inputs(loss, x, t, beta)
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
