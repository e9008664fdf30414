r"""Convergence studies: ``dr.convergence_study(problem, schemes, sizes, reference=...)``.

Each scheme solves ``u_t = -1/2 |grad u|^2 + 1/(2 beta) Lap u``, ``u(., 0) = f`` on every grid of
``sizes`` (nodes per axis on the loss's box), the error against a reference is measured in a norm,
and the observed order is the least-squares slope of ``log error`` against ``log h``
(:func:`solvers.convergence.fit_order`; local orders between consecutive grids too).

References
----------
``"exact"``
    The loss's closed form ``loss.exact_u(x, t, beta)`` at the nodes of each grid (quadratics,
    ``abs``, soft-min of quadratics, ``cosine`` Hopf-Lax, Gaussian mixtures at ``beta = 1``, ...).
``"cole_hopf"`` / ``"hopf_lax"``
    The package's exact semigroups (:func:`solvers.cole_hopf`, :func:`solvers.hopf_lax`) on a grid
    ``ref_factor`` times finer than the finest (nested, so its nodes include every coarse node),
    sampled at the coarse nodes.  Their own discretisation error (second order or better, spectral
    for Cole-Hopf where ``sqrt(t/beta)`` is resolved; about third order for Hopf-Lax with its sub-cell
    refinement) is ``ref_factor^p`` times below that of the finest grid.
``"fine"``
    Each scheme on the fine nested grid (a self-convergence study: the observed order is that of the
    scheme if it converges at all; it cannot tell a wrong limit).
a callable ``reference(x, t, beta)``
    Your exact ``u`` at points ``x`` of shape ``(..., d)``.
``"auto"`` (default)
    ``"exact"`` when the loss has a closed form at ``(t, beta)``, else ``"cole_hopf"`` (finite beta)
    or ``"hopf_lax"``.

Schemes are the :func:`solvers.solve_hj` schemes (``"godunov"``, ``"rouy_tourin"``,
``"lax_friedrichs"``, ``"engquist_osher"``, ``"eno2"``, ``"weno5"``) and the exact solvers'
discretisations ``"hopf_lax"`` / ``"cole_hopf"``.  A dict ``{label: kwargs}`` passes settings
(``{"weno5, dt~h^5/3": {"scheme": "weno5", "max_dt": lambda h: 0.5 * h ** (5 / 3)}}``); a callable
value is called with the grid spacing.  WENO5 shows its fifth order only with ``dt ~ h^(5/3)``
(TVD-RK3 time error otherwise: about third order).
"""
from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np

from solvers.cole_hopf import cole_hopf
from solvers.errors import check_count, check_positive
from solvers.convergence import ConvergenceResult, fit_order, local_orders, refinement_ratio, restrict
from solvers.grid import Grid
from solvers.hj import SCHEMES, solve_hj
from solvers.hopf_lax import hopf_lax

from . import losses as _losses

__all__ = ["convergence_study", "ConvergenceResult"]

NORMS = ("max", "l1", "l2")
REFERENCES = ("auto", "exact", "cole_hopf", "hopf_lax", "fine")
EXACT_SOLVERS = ("hopf_lax", "cole_hopf")


def _norm(e: np.ndarray, norm: str) -> float:
    e = np.abs(e)
    if norm == "max":
        return float(e.max())
    if norm == "l1":
        return float(e.mean())
    return float(np.sqrt((e ** 2).mean()))


def _problem(problem, bounds, periodic):
    if isinstance(problem, str):
        loss = _losses.get(problem)
    elif callable(problem) and not hasattr(problem, "dim"):
        if bounds is None:
            raise TypeError("`problem` is a plain callable f(x): pass `bounds=[(lo, hi), ...]` (its box).")
        loss = _losses.from_functions(problem, dim=len(bounds), bounds=bounds,
                                      name=getattr(problem, "__name__", None))
    else:
        loss = _losses.as_loss(problem, where="convergence_study")
    b = [tuple(map(float, p)) for p in (bounds if bounds is not None else loss.bounds)]
    per = bool(getattr(loss, "periodic", False)) if periodic is None else periodic
    name = getattr(loss, "name", None) or type(loss).__name__
    return loss, b, per, name


def _schemes(schemes) -> dict:
    if isinstance(schemes, str):
        schemes = [schemes]
    if isinstance(schemes, Mapping):
        out = {str(k): dict(v or {}) for k, v in schemes.items()}
    else:
        out = {str(s): {} for s in schemes}
    if not out:
        raise ValueError("`schemes` is empty; give at least one scheme name.")
    for label, kw in out.items():
        name = str(kw.setdefault("scheme", label)).replace("-", "_")
        kw["scheme"] = name
        if name not in SCHEMES and name not in EXACT_SOLVERS:
            raise ValueError(f"`schemes`: unknown scheme {name!r} (label {label!r}); valid: "
                             f"{sorted(SCHEMES) + list(EXACT_SOLVERS)}.")
    return out


def _solve(loss, grid: Grid, t: float, beta: float, kw: dict):
    """One solve; returns (u on the grid, seconds, declared order)."""
    h = min(grid.spacing)
    kw = {k: (v(h) if callable(v) and k != "scheme" else v) for k, v in kw.items()}
    name = kw.pop("scheme")
    t0 = time.perf_counter()
    if name == "hopf_lax":
        if np.isfinite(beta):
            raise ValueError(f"scheme 'hopf_lax' solves beta = inf only; got beta = {beta}.")
        r = hopf_lax(loss, grid, t, **kw)
        return r.u, time.perf_counter() - t0 - r.compile_time, (3.0 if kw.get("refine", "quadratic") != "none" else 2.0)
    if name == "cole_hopf":
        if not np.isfinite(beta):
            raise ValueError("scheme 'cole_hopf' needs a finite beta; use 'hopf_lax' for beta = inf.")
        r = cole_hopf(loss, grid, t, beta, **kw)
        return r.u, time.perf_counter() - t0 - r.compile_time, np.nan
    r = solve_hj(loss, grid, t, beta=beta, scheme=name, **kw)
    return r.u, r.wall_time - r.compile_time, float(r.order)


def _has_exact(loss, t, beta, d) -> bool:
    try:
        loss.exact_u(np.zeros((1, d)), t, beta)
    except NotImplementedError:
        return False
    return True


def convergence_study(problem, schemes, sizes: Sequence[int], *, t: float, beta: float = np.inf,
                      reference="auto", norm: str = "max", ref_factor: int = 4, bounds=None,
                      periodic: bool | None = None, region=None) -> ConvergenceResult:
    r"""Observed orders of convergence of HJ schemes on nested grids (module docstring).

    Parameters
    ----------
    problem : Loss, registered loss name, or callable f(x) on points (..., d) (then ``bounds`` is required)
        The initial condition ``u(., 0) = f``.
    schemes : str, list of str, or dict {label: solver kwargs}
        :data:`solvers.hj.SCHEMES` names, or ``"hopf_lax"`` / ``"cole_hopf"``; kwargs values that are
        callables are called with the grid spacing ``h`` (e.g. ``max_dt=lambda h: 0.5 * h ** (5/3)``).
    sizes : sequence of int, increasing
        Nodes per axis of each grid.  Nested sizes (``n, 2n, 4n`` periodic; ``n, 2n - 1, 4n - 3``
        otherwise; :func:`solvers.convergence.nested_sizes`) are required for the grid references.
    t : float > 0
    beta : float in (0, inf], default inf
    reference : {"auto", "exact", "cole_hopf", "hopf_lax", "fine"} or callable(x, t, beta) -> u
    norm : {"max", "l1", "l2"}
        Over the nodes (in ``region``): max, mean of ``|e|``, root mean square.
    ref_factor : int >= 2
        Refinement of the reference grid over the finest grid (grid references).
    bounds, periodic : override the loss's box and periodicity.
    region : list of (lo, hi) per axis, optional
        Measure the error only on nodes inside this box (e.g. away from a non-periodic boundary).

    Returns
    -------
    ConvergenceResult
        ``.orders`` (fitted), ``.local_orders``, ``.errors`` (schemes x sizes), ``print(study)`` for the
        table, ``study.plot()`` for the log-log figure, ``dr.io.save(study, path)``.
    """
    t0_all = time.perf_counter()
    loss, b, per, pname = _problem(problem, bounds, periodic)
    d = len(b)
    t = check_positive("t", t)
    beta = check_positive("beta", beta, allow_inf=True, hint="inf for the non-viscous problem")
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}; got {norm!r}.")
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or any(b2 <= a for a, b2 in zip(sizes, sizes[1:])):
        raise ValueError(f"`sizes` must hold at least two increasing node counts; got {sizes}.")
    ref_factor = check_count("ref_factor", ref_factor, minimum=2)
    kws = _schemes(schemes)
    grids = [Grid.uniform(b, n, periodic=per) for n in sizes]
    nf = sizes[-1] * ref_factor if per else (sizes[-1] - 1) * ref_factor + 1
    fine = Grid.uniform(b, nf, periodic=per)

    user_ref = callable(reference) and not isinstance(reference, str)
    if user_ref:
        ref_name = "user"
    else:
        ref_name = str(reference).replace("-", "_")
        if ref_name not in REFERENCES:
            raise ValueError(f"`reference` must be one of {REFERENCES} or a callable(x, t, beta); got {reference!r}.")
        if ref_name == "auto":
            ref_name = "exact" if _has_exact(loss, t, beta, d) else ("cole_hopf" if np.isfinite(beta) else "hopf_lax")
        if ref_name == "exact" and not _has_exact(loss, t, beta, d):
            raise ValueError(f"`reference='exact'`: loss {pname!r} has no closed-form u at t={t:g}, beta={beta:g}; "
                             f"use reference='cole_hopf'/'hopf_lax' (exact semigroup on a fine grid) or 'fine'.")
        if ref_name == "cole_hopf" and not np.isfinite(beta):
            raise ValueError("`reference='cole_hopf'` needs a finite beta; use 'hopf_lax' for beta = inf.")
        if ref_name == "hopf_lax" and np.isfinite(beta):
            raise ValueError(f"`reference='hopf_lax'` is the beta = inf solution; got beta = {beta}. Use 'cole_hopf'.")
    if ref_name in ("cole_hopf", "hopf_lax", "fine"):
        for g in grids:
            refinement_ratio(g, fine)            # raises with the nesting rule when sizes are not nested

    masks = []
    for g in grids:
        if region is None:
            masks.append(np.ones(g.shape, dtype=bool))
            continue
        X = g.mesh()
        m = np.ones(g.shape, dtype=bool)
        for k, (lo, hi) in enumerate(region):
            m &= (X[..., k] >= lo - 1e-12) & (X[..., k] <= hi + 1e-12)
        if not m.any():
            raise ValueError(f"`region` {region} holds no node of the {g.shape} grid.")
        masks.append(m)

    def exact_on(g):
        if user_ref:
            return np.asarray(reference(g.mesh(), t, beta), dtype=float)
        return np.asarray(loss.exact_u(g.mesh(), t, beta))

    shared = None
    if ref_name == "cole_hopf":
        shared = cole_hopf(loss, fine, t, beta).u
        ref_desc = f"cole_hopf on {nf} nodes per axis"
    elif ref_name == "hopf_lax":
        shared = hopf_lax(loss, fine, t).u
        ref_desc = f"hopf_lax on {nf} nodes per axis"
    elif ref_name == "exact":
        ref_desc = f"exact ({type(loss).__name__}.exact_u)"
    elif ref_name == "fine":
        ref_desc = f"each scheme on {nf} nodes per axis"
    else:
        ref_desc = f"exact ({getattr(reference, '__name__', 'user reference')})"
    refs = None if ref_name == "fine" else [
        (restrict(shared, fine, g) if shared is not None else exact_on(g)) for g in grids]

    S, K = len(kws), len(grids)
    errors = np.empty((S, K))
    secs = np.empty((S, K))
    declared = np.full(S, np.nan)
    for i, (label, kw) in enumerate(kws.items()):
        if ref_name == "fine":
            uf, _, _ = _solve(loss, fine, t, beta, kw)
            rr = [restrict(uf, fine, g) for g in grids]
        else:
            rr = refs
        for k, g in enumerate(grids):
            u, secs[i, k], declared[i] = _solve(loss, g, t, beta, kw)
            if u.shape != g.shape or rr[k].shape != g.shape:
                raise ValueError(f"reference has shape {rr[k].shape} on a {g.shape} grid; expected {g.shape}.")
            errors[i, k] = _norm((u - rr[k])[masks[k]], norm)
    h = np.array([g.spacing[0] for g in grids])
    scale = max(1.0, float(np.max(np.abs(refs[-1])))) if refs is not None else 1.0
    floor = 1e3 * np.finfo(float).eps * scale               # below this an error is round-off
    fits = [fit_order(h, e, floor) for e in errors]
    return ConvergenceResult(
        schemes=list(kws), sizes=np.array(sizes), h=h, errors=errors,
        orders=np.array([p for p, _ in fits]), constants=np.array([c for _, c in fits]),
        local_orders=np.array([local_orders(h, e, floor) for e in errors]).reshape(S, K - 1),
        declared=declared, wall_times=secs, problem=f"{pname} (d={d})", reference=ref_desc, norm=norm,
        t=t, beta=beta, params={"bounds": [list(p) for p in b], "periodic": per, "ref_factor": ref_factor,
                                "region": None if region is None else [list(map(float, p)) for p in region],
                                "round_off_floor": floor},
        wall_time=time.perf_counter() - t0_all)
