r"""Structure-preserving Fokker-Planck integrators on uniform grids (1-3 D).

Equations
---------
Gradient drift (``potential`` f)::

    rho_t = div( D (grad f) rho ) + beta^{-1} div( D grad rho )

General drift (``drift`` b, need not be a gradient)::

    rho_t = -div( b rho ) + beta^{-1} div( D grad rho )

``D`` is a constant symmetric positive-definite matrix (None = identity, a
scalar, a per-axis diagonal of shape ``(d,)`` or a full ``(d, d)`` matrix).
With neither ``potential`` nor ``drift`` the equation is the heat equation
``rho_t = beta^{-1} div(D grad rho)``.  The SDE is
``dX = -D grad f dt + sqrt(2 D / beta) dW`` (or ``b dt`` for a general drift).
Discretisation
--------------
Cell-centred finite volumes with Scharfetter-Gummel (= Chang-Cooper) exponentially fitted fluxes:
the discrete Gibbs density is an exact steady state, mass is conserved to round-off, backward Euler
is positive for every ``dt``, and the spatial order is 2; a full ``D`` adds oriented or central
mixed fluxes (``mixed``).  The face rates, the mixed stencils and the positivity conditions are
described in :mod:`solvers.fp_operator`; steady states, Gibbs densities and currents are in
:mod:`solvers.fp_steady` (all re-exported here).

Time stepping
-------------
``explicit``
    Forward Euler; raises :class:`~solvers.errors.StabilityError` when ``dt``
    exceeds the positivity limit :func:`explicit_dt_limit` (with time-dependent
    coefficients every step is checked against the limit at its start time).
``implicit``
    Backward Euler.  1-D: Thomas tridiagonal solve.  2-D/3-D with diagonal
    ``D``: Lie splitting ``(I - dt A_{d-1})^{-1} ... (I - dt A_0)^{-1}``, one
    tridiagonal solve per grid line (O(N) per step, Numba, threaded); each
    factor is an exact-Gibbs, positive, mass-preserving M-matrix inverse, so the
    split step keeps all three properties.  It is first order in time like
    backward Euler itself.  Full ``D`` (or ``linear_solver="direct"``): the
    whole ``I - dt A`` is factorised once with ``scipy.sparse.linalg.splu`` and
    the factors are reused for every step of the same length.
``crank_nicolson``
    Second order.  1-D: tridiagonal CN.  2-D/3-D with diagonal ``D``: Strang
    splitting ``S_0(dt/2) ... S_{d-1}(dt) ... S_0(dt/2)`` with CN sub-steps
    (order 2, exact Gibbs, mass to round-off); full ``D``: factorised CN.  The
    first ``rannacher`` steps (default 2) are each replaced by two backward-Euler
    half-steps.  CN is positive only when ``dt <= 2 / max outflow``
    (``params["cn_positive_dt"]``); beyond that ``min_rho`` may dip below 0.

Potentials and drifts
---------------------
``potential``: an array of shape ``grid.shape``; a callable ``f(x)`` of points
``x`` of shape ``(..., d)`` returning values ``(...)`` (a ``deeprelax`` Loss
qualifies); or a time-dependent callable ``f(x, t)``.  ``drift``: an array of
shape ``grid.shape + (d,)`` or a callable ``b(x)`` / ``b(x, t)`` returning
``(..., d)``.  A callable counts as time-dependent when ``time_dependent=True``,
or, with ``time_dependent=None`` (default), when its signature has at least two
positional parameters and the second is required or named ``t``.  Callable
drifts are evaluated at face midpoints, array drifts are averaged onto faces.
Time-dependent coefficients are evaluated at ``t_n`` (explicit), ``t_{n+1}``
(implicit) or ``t_{n+1/2}`` (Crank-Nicolson).

Backends
--------
``backend="cuda"`` (:mod:`solvers._cuda_fp`) runs the same three methods on a
GPU for a diagonal ``D``: the explicit stencil one thread per cell, the
per-line (split) tridiagonal solves one thread per line, with the CPU's
operation order, so float64 results equal the CPU's to round-off; ``rho`` stays
on the device between saved times.  ``dtype=np.float32`` runs the device march
in single precision.  ``backend="auto"`` uses CUDA only on a real GPU for large
grids (:func:`solvers._cuda.resolve_backend`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _cuda
from . import _fp_kernels as K
from ._memory import check_memory
from .errors import NonFiniteError, SchemeError, StabilityError, check_count, check_positive, check_real
from .fp_operator import MIXED_STENCILS, _check_D, _grid_array, _Problem, explicit_dt_limit, fokker_planck_operator
from .fp_steady import (_log_gibbs, _steady, diagnostics, fokker_planck_steady_state, gibbs,
                        probability_current)
from .grid import Grid
from .result import Result, register_result

__all__ = ["FPResult", "solve_fokker_planck", "gibbs", "fokker_planck_steady_state", "fokker_planck_operator",
           "probability_current", "explicit_dt_limit", "METHODS", "MIXED_STENCILS"]

METHODS = ("explicit", "implicit", "crank_nicolson")
LINEAR_SOLVERS = ("auto", "split", "direct")
#: Default number of steps for the implicit methods when ``dt`` is not given.
DEFAULT_STEPS = 100
#: Safety factor of the default explicit step (fraction of the positivity limit).
EXPLICIT_SAFETY = 0.9
#: Above this many nodes the KL reference of a non-gradient drift is not computed by default.
KL_AUTO_MAX_NODES = 250_000


# ============================================================================= result
@register_result
@dataclass(frozen=True, repr=False)
class FPResult(Result):
    """Solution of a Fokker-Planck problem.

    Attributes
    ----------
    rho : ndarray, shape ``grid.shape``
        Density at the final time ``t``.
    ts : ndarray, shape ``(m,)``
        Saved times.
    rhos : ndarray, shape ``(m,) + grid.shape``
        Densities at ``ts``.
    mass : ndarray, shape ``(m,)``
        ``sum(rho) * cell_volume`` at ``ts``.
    min_rho : ndarray, shape ``(m,)``
        ``min(rho)`` at ``ts``.
    free_energy : ndarray, shape ``(m,)``
        ``sum(cell_volume * (f rho + beta^{-1} rho log rho))`` (gradient drift;
        NaN for a general drift).  Equals ``beta^{-1} KL(rho || gibbs) - beta^{-1} log Z``.
    kl : ndarray, shape ``(m,)``
        ``KL(rho / mass || rho_ss)`` against the steady state (the Gibbs density
        of ``f(., t)`` for a potential; the discrete steady state for a drift;
        NaN when not computed).
    grid : Grid
    t, beta : float
    method : str
    n_steps : int
    dt : float
        Largest step used.
    wall_time, compile_time : float, seconds (compile time excluded from wall time)
    status : str, ``"ok"``
    params : dict, settings (D, linear solver, dt limits, ...)
    """

    rho: np.ndarray
    ts: np.ndarray
    rhos: np.ndarray
    mass: np.ndarray
    min_rho: np.ndarray
    free_energy: np.ndarray
    kl: np.ndarray
    grid: Grid
    t: float
    beta: float
    method: str = "implicit"
    n_steps: int = 0
    dt: float = 0.0
    wall_time: float = 0.0
    compile_time: float = 0.0
    status: str = "ok"
    params: dict = field(default_factory=dict)


# ============================================================================= solver
def solve_fokker_planck(rho0, grid: Grid, t: float, *, potential=None, drift=None, beta: float = 1.0, D=None,
                        method: str = "implicit", save_at=None, progress: bool = False,
                        dt: Optional[float] = None, time_dependent: Optional[bool] = None,
                        linear_solver: str = "auto", rannacher: int = 2, normalize: bool = False,
                        kl_reference=None, mixed: str = "oriented", backend: str = "cpu",
                        dtype=np.float64) -> FPResult:
    r"""Integrate a Fokker-Planck equation from ``rho0`` to time ``t``.

    ``rho_t = div(D (grad f) rho) + beta^{-1} div(D grad rho)`` for a ``potential`` f, or
    ``rho_t = -div(b rho) + beta^{-1} div(D grad rho)`` for a ``drift`` b (see the module
    docstring for the discretisation, the methods and their properties).

    Parameters
    ----------
    rho0 : ndarray, shape ``grid.shape``, or callable of points ``(..., d)``
        Initial density, finite and >= 0 with positive mass (not normalised unless
        ``normalize=True``).
    grid : Grid
        1-3 D; periodic axes get periodic boundaries, the others no-flux walls.
    t : float >= 0
        Final time.
    potential : ndarray ``grid.shape`` | callable ``f(x)`` | callable ``f(x, t)`` | None
    drift : ndarray ``grid.shape + (d,)`` | callable ``b(x)`` | callable ``b(x, t)`` | None
        At most one of ``potential`` and ``drift``; neither gives the heat equation.
    beta : float > 0
        Inverse temperature.
    D : None | float | array ``(d,)`` | SPD array ``(d, d)``
        Constant diffusion matrix (None = identity).
    method : {"implicit", "crank_nicolson", "explicit"}
    save_at : None | int | array of times in ``[0, t]``
        None saves ``[0, t]``; an int ``m`` saves ``m + 1`` equally spaced times.
    progress : bool
        Show a tqdm bar (if tqdm is installed).
    dt : float > 0, optional
        Time step.  Default: ``t / 100`` for the implicit methods and
        ``0.9 *`` :func:`explicit_dt_limit` for ``explicit``.  Each interval
        between saved times is cut into equal steps no longer than ``dt``.
    time_dependent : bool, optional
        Whether a callable potential/drift takes ``(x, t)``; None inspects its signature.
    linear_solver : {"auto", "split", "direct"}
        2-D/3-D implicit solves: ``split`` = per-line tridiagonal splitting (diagonal D
        only), ``direct`` = ``splu`` of the whole operator; ``auto`` = split for diagonal
        D, direct otherwise.
    rannacher : int
        Number of initial Crank-Nicolson steps replaced by two backward-Euler half-steps.
    normalize : bool
        Divide ``rho0`` by its mass first.
    mixed : {"oriented", "central"}
        Stencil of the mixed fluxes for a full ``D`` (module docstring).
    kl_reference : None | False | ndarray ``grid.shape``
        Steady state for ``kl``.  None: Gibbs for a potential; for a time-independent drift
        the discrete steady state when ``grid.size <= 250000``.  False: skip (NaN).
    backend : {"cpu", "cuda", "auto"}
        ``"cuda"`` runs the march on a GPU (:mod:`solvers._cuda_fp`; numba's CUDA simulator when
        ``NUMBA_ENABLE_CUDASIM=1``): all three methods for a diagonal ``D``, rho kept on the device,
        copied back only at ``save_at`` times; same results as the CPU to round-off in float64.
        A full ``D`` or ``linear_solver="direct"`` raises a ValueError on ``"cuda"``.  ``"auto"``
        picks CUDA on a real GPU for grids of at least ``solvers._cuda.AUTO_MIN_WORK`` cells and
        supported settings, else the CPU.
    dtype : numpy.float64 (default) or numpy.float32
        Precision of the device march (``backend="cuda"``).  The CPU backend computes in float64
        only: float32 with ``backend="cpu"`` is an error, with ``"auto"`` falling back to the CPU it
        runs in float64 (``params["dtype"]`` says which).  Results are returned as float64 arrays.

    Returns
    -------
    FPResult

    Raises
    ------
    ValueError, TypeError
        Bad arguments (each message names the argument, the constraint and the value);
        complex input is a ``TypeError``.
    MemoryBudgetError
        The estimated memory (grid, ``save_at`` snapshots, work arrays, a whole-operator
        LU) exceeds the budget (:mod:`solvers._memory`); raised before allocating.
    StabilityError
        ``method="explicit"`` with ``dt`` above the positivity limit.
    NonFiniteError
        The solution became NaN/inf.
    """
    t_wall0 = time.perf_counter()
    compile_time = K.warmup()
    if method not in METHODS:
        raise SchemeError(f"`method` must be one of {METHODS}; got {method!r}.")
    if linear_solver not in LINEAR_SOLVERS:
        raise SchemeError(f"`linear_solver` must be one of {LINEAR_SOLVERS}; got {linear_solver!r}.")
    check_real("t", t)
    try:
        T = float(t)
    except (TypeError, ValueError):
        raise TypeError(f"`t` must be a real number; got {t!r}.") from None
    if not math.isfinite(T) or T < 0:
        raise ValueError(f"`t` must be finite and non-negative (t >= 0); got {t!r}.")
    rannacher = check_count("rannacher", rannacher, minimum=0)
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.Grid; got {type(grid).__name__}.")
    n_saved = _n_saved(save_at)
    _check_fp_memory(grid, n_saved, _check_D(D, grid.dim), linear_solver, kl_reference is not False and drift is not None)
    pb = _Problem(grid, potential, drift, beta, D, time_dependent, mixed)
    dtype_ = _cuda.check_dtype(dtype)
    be = _cuda.resolve_backend(backend, grid.size)
    beta = pb.beta
    vol = grid.cell_volume
    d = grid.dim

    # ---- initial density
    if callable(rho0):
        rho = np.asarray(check_real("rho0", rho0(grid.mesh())), dtype=np.float64)
        if rho.shape == grid.shape + (1,):
            rho = rho[..., 0]
    else:
        rho = np.asarray(check_real("rho0", rho0), dtype=np.float64)
    if rho.shape != grid.shape:
        raise ValueError(f"`rho0` has shape {rho.shape}, but the grid needs shape {grid.shape}.")
    if not np.all(np.isfinite(rho)):
        raise ValueError(f"`rho0` must be finite everywhere; it has {int(np.count_nonzero(~np.isfinite(rho)))} "
                         f"non-finite values.")
    if rho.min() < 0:
        i = np.unravel_index(int(np.argmin(rho)), rho.shape)
        raise ValueError(f"`rho0` must be non-negative (rho0 >= 0); got {rho.min():.6g} at index "
                         f"{tuple(int(v) for v in i)}.")
    m0 = float(rho.sum() * vol)
    if m0 <= 0:
        raise ValueError("`rho0` must have positive mass (sum(rho0) * cell_volume > 0); got 0.")
    rho = np.ascontiguousarray(rho / m0 if normalize else rho.copy())

    # ---- save times
    if save_at is None:
        ts = np.array([0.0, T])
    elif isinstance(save_at, (int, np.integer)):
        ts = np.linspace(0.0, T, int(save_at) + 1)
    else:
        ts = np.unique(np.asarray(save_at, dtype=np.float64).ravel())
        if ts.size == 0 or not np.all(np.isfinite(ts)) or ts[0] < 0 or ts[-1] > T * (1 + 1e-12):
            raise ValueError(f"`save_at` times must be finite and in [0, t] = [0, {T}]; got {ts.tolist()}.")
        ts = np.minimum(ts, T)
    if T == 0.0:
        ts = np.array([0.0])

    # ---- path and steps
    use_direct = d > 1 and (not pb.diagonal or linear_solver == "direct")
    if be == "cuda" and use_direct:
        if backend == "auto":
            be = "cpu"
        else:
            why = "a full (non-diagonal) `D`" if not pb.diagonal else "`linear_solver='direct'`"
            raise ValueError(f"`backend='cuda'` supports a diagonal `D` with the per-line solvers only; got {why} "
                             f"(method={method!r}); use backend='cpu' (or 'auto').")
    if be == "cpu" and dtype_ != np.float64:
        if backend == "cpu":
            raise ValueError(f"`dtype` = {dtype_.name} needs backend='cuda'; the CPU backend computes in float64.")
        dtype_ = np.dtype(np.float64)
    if linear_solver == "split" and not pb.diagonal:
        raise SchemeError("`linear_solver='split'` needs a diagonal `D`; use 'direct' or 'auto' for a full D.")
    explicit_limit = 1.0 / float(pb.outflow(0.0).max())
    if dt is not None:
        dt = check_positive("dt", dt)
        if method == "explicit" and dt > explicit_limit * (1 + 1e-12):
            raise StabilityError(
                f"`dt` = {dt:.6g} exceeds the forward-Euler positivity limit {explicit_limit:.6g} "
                f"(1 / max outflow rate, beta = {beta:g}, h = {grid.spacing}); use dt <= {explicit_limit:.6g} "
                f"or method='implicit'.")
    else:
        dt = EXPLICIT_SAFETY * explicit_limit if method == "explicit" else (T / DEFAULT_STEPS if T > 0 else 1.0)

    checkpoints = np.unique(np.concatenate([[0.0], ts, [T]]))
    plan = []  # list of (t_start, step length, count)
    for a, b in zip(checkpoints[:-1], checkpoints[1:]):
        n = max(1, int(math.ceil((b - a) / dt - 1e-9)))
        plan.append((a, (b - a) / n, n))
    n_total = sum(p[2] for p in plan)

    # ---- reference density of the KL diagnostic
    log_ref_static = None
    if kl_reference is False:
        kl_mode = "none"
    elif kl_reference is not None:
        ref = _grid_array("kl_reference", kl_reference, grid.shape)
        if ref.min() < 0 or ref.sum() <= 0:
            raise ValueError("`kl_reference` must be a non-negative density with positive mass.")
        with np.errstate(divide="ignore"):
            log_ref_static = np.log(ref / (ref.sum() * vol))
        kl_mode = "array"
    elif pb.kind != "drift":
        kl_mode = "gibbs"                 # Gibbs of f(., t) at each saved time
    elif not pb.time_dependent and grid.size <= KL_AUTO_MAX_NODES:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ref_static = np.log(_steady(pb))
        kl_mode = "steady_state"
    else:
        kl_mode = "none"

    def diag(r, tt):
        f = pb.potential_values(tt) if pb.kind != "drift" else None
        if kl_mode == "gibbs":
            lr = _log_gibbs(f, beta, vol)
        elif log_ref_static is not None:
            lr = log_ref_static
        else:
            lr = None
        return diagnostics(r, f, beta, vol, lr)

    # ---- steppers
    bufs = [np.empty_like(rho) for _ in range(3)]

    def spare(*busy):
        """A work buffer that is none of ``busy`` (steps never write into their input)."""
        for b_ in bufs:
            if all(b_ is not x for x in busy):
                return b_
        raise AssertionError("no spare buffer")  # pragma: no cover

    lu_cache: dict = {}
    clipped = [0.0]
    periodic = grid.periodic

    def lu(c, tt):
        key = (c, tt if pb.time_dependent else None)
        if key not in lu_cache:
            if pb.time_dependent:
                lu_cache.clear()
            A = pb.operator(tt)
            lu_cache[key] = (spla.splu((sp.identity(grid.size, format="csc") - c * A).tocsc()), A)
        return lu_cache[key]

    mass_fix = [0.0]

    def fix(r, target):
        """Remove LU / Sherman-Morrison round-off (periodic and direct paths only).

        With diagonal D the exact step is an M-matrix inverse: non-negative and
        mass-preserving.  Negatives down to -1e-13 max|rho| are round-off and set to
        0; then rho is rescaled to the incoming mass (factor 1 + O(eps cond)).
        The largest |factor - 1| is reported as ``params["mass_correction"]``.
        """
        if pb.diagonal:
            mn = r.min()
            if mn < 0:
                thr = 1e-13 * max(float(np.abs(r).max()), 1e-300)
                if mn >= -thr:
                    neg = r < 0
                    clipped[0] += float(-r[neg].sum() * vol)
                    r[neg] = 0.0
        m = float(r.sum())
        if m > 0 and target > 0:
            fac = target / m
            mass_fix[0] = max(mass_fix[0], abs(fac - 1.0))
            r *= fac
        return r

    def step_explicit(r, t0, h):
        if pb.time_dependent:
            lim = 1.0 / float(pb.outflow(t0).max())
            if h > lim * (1 + 1e-12):
                raise StabilityError(f"`dt` = {h:.6g} exceeds the forward-Euler positivity limit {lim:.6g} at "
                                     f"t = {t0:.6g}; use a smaller dt or method='implicit'.")
        if use_direct:
            A = pb.operator(t0)
            return r + h * (A @ r.reshape(-1)).reshape(grid.shape)
        out = spare(r)
        out[...] = r
        for k, (ap, am) in enumerate(pb.weights(t0)):
            K.apply_axis(r, ap, am, k, h, out)
        return out

    def theta_direct(r, tt, ci, ce):
        fac, A = lu(ci, tt)
        rhs = r.reshape(-1)
        if ce:
            rhs = rhs + ce * (A @ rhs)
        return fix(fac.solve(rhs).reshape(grid.shape), float(r.sum()))

    def step_be(r, t0, h):
        tt = t0 + h
        if use_direct:
            return theta_direct(r, tt, h, 0.0)
        src = r
        for k, (ap, am) in enumerate(pb.weights(tt)):
            dst = spare(r, src)
            K.axis_step(src, ap, am, k, h, 0.0, dst, periodic[k])
            src = dst
        return fix(src, float(r.sum())) if any(periodic) else src

    def step_cn(r, t0, h):
        tt = t0 + 0.5 * h
        if use_direct:
            return theta_direct(r, tt, 0.5 * h, 0.5 * h)
        w = pb.weights(tt)
        if d == 1:
            seq = [(0, h)]
        else:
            seq = [(k, 0.5 * h) for k in range(d - 1)] + [(d - 1, h)] + \
                  [(k, 0.5 * h) for k in range(d - 2, -1, -1)]
        src = r
        for k, tau in seq:
            dst = spare(r, src)
            K.axis_step(src, w[k][0], w[k][1], k, 0.5 * tau, 0.5 * tau, dst, periodic[k])
            src = dst
        return fix(src, float(r.sum())) if any(periodic) else src

    # ---- march
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=n_total, desc=f"fokker-planck {method}", unit="step")
        except ImportError:  # pragma: no cover
            bar = None

    def finish(rho, saved, diags, steps_done, hmax, compile_time):
        mass, mn, F, kl = (np.array(v) for v in zip(*diags))
        wall = time.perf_counter() - t_wall0 - compile_time
        params = {
            "D": pb.D.tolist(), "mixed": mixed if not pb.diagonal else None, "kind": pb.kind,
            "time_dependent": bool(pb.time_dependent),
            "linear_solver": ("direct" if use_direct else ("tridiagonal" if d == 1 else "split")),
            "explicit_dt_limit": explicit_limit, "cn_positive_dt": 2.0 * explicit_limit,
            "rannacher": int(rannacher) if method == "crank_nicolson" else 0,
            "periodic": list(grid.periodic), "clipped_mass": clipped[0], "mass_correction": mass_fix[0],
            "kl_reference": kl_mode, "backend": be, "dtype": dtype_.name,
        }
        return FPResult(rho=rho, ts=np.asarray(ts, dtype=np.float64), rhos=np.stack(saved), mass=mass, min_rho=mn,
                        free_energy=F, kl=kl, grid=grid, t=T, beta=beta, method=method, n_steps=int(steps_done),
                        dt=float(hmax), wall_time=float(wall), compile_time=float(compile_time), status="ok",
                        params=params)

    if be == "cuda":
        from . import _cuda_fp
        try:
            out = _cuda_fp.march(pb, rho, plan, ts, T, method, rannacher, dtype_, diag, _raise_nonfinite,
                                 clipped, mass_fix, bar)
        finally:
            if bar is not None:
                bar.close()
        rho_f, saved_f, diags_f, steps_f, hmax_f, ctime = out
        return finish(rho_f, saved_f, diags_f, steps_f, hmax_f, compile_time + ctime)

    saved = []
    diags = []
    tcur = 0.0
    if ts[0] == 0.0:
        saved.append(rho.copy())
        diags.append(diag(rho, 0.0))
    steps_done = 0
    hmax = 0.0
    for (a, h, n) in plan:
        for i in range(n):
            t0 = a + i * h
            if method == "explicit":
                rho = step_explicit(rho, t0, h)
            elif method == "implicit":
                rho = step_be(rho, t0, h)
            else:
                if steps_done < rannacher:
                    rho = step_be(rho, t0, 0.5 * h)
                    rho = step_be(rho, t0 + 0.5 * h, 0.5 * h)
                else:
                    rho = step_cn(rho, t0, h)
            steps_done += 1
            hmax = max(hmax, h)
            if not math.isfinite(float(rho.sum())):      # a NaN/inf anywhere makes the sum non-finite
                _raise_nonfinite(t0 + h, steps_done, method, h)
            if bar is not None:
                bar.update(1)
        tcur = a + n * h
        if np.any(np.isclose(ts, tcur, rtol=1e-12, atol=1e-14 * max(T, 1.0))) and tcur > 0:
            if not np.isfinite(rho).all():
                _raise_nonfinite(tcur, steps_done, method, h)
            saved.append(rho.copy())
            diags.append(diag(rho, tcur))
    if bar is not None:
        bar.close()
    if not np.isfinite(rho).all():
        _raise_nonfinite(T, steps_done, method, hmax)
    rho = rho.copy()
    return finish(rho, saved, diags, steps_done, hmax, compile_time)


def _n_saved(save_at) -> int:
    """Number of saved densities ``save_at`` asks for (validated before anything is allocated)."""
    if save_at is None:
        return 2
    if isinstance(save_at, (bool, np.bool_)):
        raise TypeError(f"`save_at` must be None, an int >= 1 or a sequence of times in [0, t]; got {save_at!r}.")
    if isinstance(save_at, (int, np.integer)):
        if save_at < 1:
            raise ValueError(f"`save_at` as an int must be >= 1; got {save_at}.")
        return int(save_at) + 1
    check_real("save_at", save_at)
    return int(np.size(save_at))


def _check_fp_memory(grid: Grid, n_saved: int, D: np.ndarray, linear_solver: str, steady: bool) -> float:
    """Estimated bytes of a Fokker-Planck solve; raises MemoryBudgetError over the budget.

    Counted: grid points and coefficients (potential or drift, per-axis face weights),
    the density and its work buffers, diagnostics temporaries, ``n_saved`` snapshots
    (kept, then stacked), and for a whole-operator LU (``linear_solver="direct"``, full
    ``D``, or the discrete steady state of a drift) the sparse matrix and an LU fill-in
    of about 20 times its non-zeros.
    """
    d, n = grid.dim, float(grid.size)
    core = 8.0 * n * (2 * d + 1 + 2 * d + 5 + 3)
    diagonal = bool(np.all(D == np.diag(np.diag(D))))
    direct = d > 1 and (not diagonal or linear_solver == "direct")
    lu = 12.0 * 20.0 * n * 3 ** d if (direct or (steady and n <= KL_AUTO_MAX_NODES)) else 0.0
    return check_memory("solve_fokker_planck", [
        ("grid.shape", core, f"use a coarser grid than {tuple(grid.shape)}"),
        ("save_at", 8.0 * 2 * n_saved * n, f"save fewer densities than {n_saved} (each {tuple(grid.shape)})"),
        ("linear_solver", lu, "a sparse LU of the whole operator is needed for a full `D`, "
                              "linear_solver='direct' or a drift's steady state; use a diagonal `D` with "
                              "linear_solver='split', kl_reference=False, or a coarser grid"),
    ])


def _raise_nonfinite(tt, step, method, h):
    if method == "implicit":
        fix = ("backward Euler is unconditionally stable, so the coefficients themselves overflow: check that "
               "the potential/drift is finite and of moderate size (beta * h * |b| / D_kk must stay far below 1e300)")
    else:
        fix = ("use method='implicit' (unconditionally stable and positive), reduce `dt`, or check that the "
               "potential/drift is finite and resolved by the grid")
    raise NonFiniteError(
        f"The Fokker-Planck solution became non-finite at t = {tt:.6g} (step {step}, method={method!r}, "
        f"dt = {h:.6g}); stopped. Fix: {fix}.")
