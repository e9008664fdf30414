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
grids (:func:`solvers.backend.resolve_backend`).

Time loop
---------
The steps are planned (equal steps between saved times) and walked by a stepper
(:mod:`solvers._fp_stepper`, :class:`solvers._cuda_fp.CudaStepper`) under the one driver of every
solver (:mod:`solvers._driver`): saved times, progress, checkpoints (``checkpoint``,
``checkpoint_every``, ``resume``; a resumed run is bit-identical), ``max_steps`` / ``stop_at``,
``status`` and ``raise_on_failure``.  A checkpoint stores the density, the plan position, the
largest step and the clipping/mass-fix statistics; its settings include SHA-1 hashes of ``rho0``
and of the coefficients at ``t = 0``, so a resume of another problem is refused.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _driver, backend as _backend
from . import _fp_kernels as K
from ._fp_stepper import CpuStepper, DirectStepper
from ._memory import check_memory
from .errors import SchemeError, StabilityError, check_count, check_positive, check_real
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
#: A march of more steps than this is refused (explicit steps at a tiny positivity limit, or a tiny `dt`).
MAX_STEPS = 10 ** 7
#: Safety factor of the default explicit step (fraction of the positivity limit).
EXPLICIT_SAFETY = 0.9
#: Above this many nodes the KL reference of a non-gradient drift is not computed by default.
KL_AUTO_MAX_NODES = 250_000

#: Status code -> message (the failure messages name the step, the time and the fix; see :mod:`solvers._driver`).
STATUS_MESSAGES = {
    "success": "Reached the final time.",
    "stopped": ("Stopped early at the requested `max_steps` / `stop_at`; call solve_fokker_planck again with "
                "`resume=<checkpoint path>` to continue."),
    "stopped_by_callback": ("Stopped early: a `callback` returned True; with a `checkpoint`, call "
                            "solve_fokker_planck again with `resume=<checkpoint path>` to continue."),
    "nonfinite": ("The Fokker-Planck solution became non-finite; stopped. Fix: use method='implicit', reduce `dt`, "
                  "or check that the potential/drift is finite and resolved by the grid."),
    "unstable": ("`dt` exceeds the forward-Euler positivity limit of time-dependent coefficients; use a smaller "
                 "`dt` or method='implicit'."),
}


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
    wall_time, compile_time : float, seconds
        Wall time of the solve (compile time excluded) and time spent compiling or loading kernels.
    status : str
        ``"success"``, ``"stopped"`` (``max_steps`` / ``stop_at``), ``"stopped_by_callback"``,
        ``"nonfinite"`` or ``"unstable"``
        (an explicit step above the positivity limit of time-dependent coefficients); see
        :mod:`solvers._driver`.
    message : str
        What happened and the fix (:data:`STATUS_MESSAGES`, with the step and time of a failure).
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
    status: str = "success"
    message: str = ""
    params: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == "success"


# ============================================================================= solver
# A state that overflows is expected here: the solver checks every step and stops with its own status or
# NonFiniteError, so NumPy's overflow/invalid warnings (or errors, under np.seterr(all="raise")) would
# only repeat it less clearly.
@np.errstate(over="ignore", invalid="ignore")
def solve_fokker_planck(rho0, grid: Grid, t: float, *, potential=None, drift=None, beta: float = 1.0, D=None,
                        method: str = "implicit", save_at=None, progress: bool = False,
                        dt: Optional[float] = None, time_dependent: Optional[bool] = None,
                        linear_solver: str = "auto", rannacher: int = 2, normalize: bool = False,
                        kl_reference=None, mixed: str = "oriented", backend: str = "cpu",
                        dtype=np.float64, raise_on_failure: bool = True, checkpoint=None, checkpoint_every=60.0,
                        resume=None, max_steps: Optional[int] = None, stop_at: Optional[float] = None,
                        callback=None, callback_every: Optional[int] = None) -> FPResult:
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
        None saves ``[0, t]``; an int ``m`` saves ``m + 1`` equally spaced times (``m`` intervals);
        an array saves those times (the convention of every solver: :mod:`solvers._driver`).
    progress : bool
        Show a tqdm bar over simulated time (if tqdm is installed).
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
        picks CUDA on a real GPU for grids of at least ``solvers.backend.AUTO_MIN_WORK`` cells and
        supported settings, else the CPU.
    dtype : numpy.float64 (default) or numpy.float32
        Precision of the device march (``backend="cuda"``).  The CPU backend computes in float64
        only: float32 with ``backend="cpu"`` is an error, with ``"auto"`` falling back to the CPU it
        runs in float64 (``params["dtype"]`` says which).  Results are returned as float64 arrays.
    raise_on_failure : bool, default True
        Raise :class:`~solvers.errors.NonFiniteError` / :class:`~solvers.errors.StabilityError` when
        the march fails; otherwise return the result with its ``status`` and ``message`` (``rho`` is
        the state where it stopped, ``rhos`` the densities saved before).
    checkpoint : path, optional
        HDF5 checkpoint written atomically every ``checkpoint_every``, when the run stops early
        (``max_steps`` / ``stop_at``) and at the end (:mod:`solvers._driver`).
    checkpoint_every : float (wall-clock seconds) or int (steps), default 60.0
        Between checkpoints the march stays compiled: the steps per call are derived from the
        measured time per step.
    resume : path, optional
        Continue from a checkpoint of the same problem (same ``rho0``, grid, coefficients, ``t``,
        method, ``dt`` and save times; a callable potential/drift is compared by its values at
        ``t = 0``); the result is bit-identical to an uninterrupted run.  Resume on the backend that
        wrote the checkpoint.
    max_steps : int, optional
        Stop (status ``"stopped"``) once this many steps have been taken in total.
    stop_at : float, optional
        Stop (status ``"stopped"``) after the first step that reaches ``t >= stop_at``.
    callback : callable or sequence of callables, optional
        Observers ``callback(t, state)`` (``state``: ``rho`` on ``grid``; a read-only copy), called at every saved time,
        or every ``callback_every`` steps: record diagnostics, draw live plots, or stop early by
        returning ``True`` (status ``"stopped_by_callback"``; with ``checkpoint`` a checkpoint is
        written and ``resume`` continues).  See :class:`solvers._driver.Observers`.
    callback_every : int, optional
        Call the observers every this many steps (steps ``0, k, 2k, ...`` and the final state)
        instead of at the saved times; the march returns to Python that often.

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
    CheckpointError
        ``resume`` is unreadable, corrupted, or a checkpoint of another problem or settings.
    StabilityError
        ``method="explicit"`` with ``dt`` above the positivity limit (always, a bad argument), or
        above the limit of time-dependent coefficients at a later time (``raise_on_failure``).
    NonFiniteError
        The solution became NaN/inf (``raise_on_failure``).
    """
    clock = _driver.Clock()
    clock.compiled(K.warmup_weights())
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
    checkpoint_every = _driver.check_checkpoint_every(checkpoint_every)
    max_steps, stop_at = _driver.check_stops(max_steps, stop_at)
    observers = _driver.Observers(callback, callback_every)
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.Grid; got {type(grid).__name__}.")
    n_saved = _driver.n_save_times(save_at)
    _check_fp_memory(grid, n_saved, _check_D(D, grid.dim), linear_solver,
                     kl_reference is not False and drift is not None)
    pb = _Problem(grid, potential, drift, beta, D, time_dependent, mixed)
    dtype_ = _backend.check_dtype(dtype)
    be = _backend.resolve_backend(backend, grid.size)
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

    # ---- save times (the convention of solvers._driver)
    ts = _driver.save_times(save_at, T)

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
    user_dt = dt
    if dt is not None:
        dt = check_positive("dt", dt)
        if method == "explicit" and dt > explicit_limit * (1 + 1e-12):
            raise StabilityError(_explicit_limit_message(dt, explicit_limit, beta, grid.spacing))
    else:
        dt = EXPLICIT_SAFETY * explicit_limit if method == "explicit" else (T / DEFAULT_STEPS if T > 0 else 1.0)
    _check_step_count(ts, T, dt, f"the forward-Euler positivity limit is dt <= {explicit_limit:.3g} (beta = "
                      f"{beta:g}, h = {min(grid.spacing):.3g}, steep drift)"
                      if method == "explicit" and user_dt is None else f"`dt` = {dt:.3g}")
    plan = _plan(ts, T, dt)

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

    # ---- march: one driver, one stepper per backend
    if be == "cuda":
        from ._cuda_fp import CudaStepper
        stepper = CudaStepper(pb, rho, plan, method, rannacher, dtype_)
    elif use_direct:
        stepper = DirectStepper(pb, rho, plan, method, rannacher)
    else:
        stepper = CpuStepper(pb, rho, plan, method, rannacher)
    clock.compiled(stepper.warmup())
    config = None
    if checkpoint is not None or resume is not None:
        coef = pb.values(0.0)
        config = {"solver": "solve_fokker_planck", "grid": grid.to_dict(), "t": T, "beta": beta,
                  "method": method, "dt": float(dt), "D": pb.D.tolist(), "mixed": mixed, "kind": pb.kind,
                  "time_dependent": bool(pb.time_dependent), "direct": bool(use_direct),
                  "rannacher": int(rannacher), "save_times": [float(x) for x in ts],
                  "rho0_sha1": _sha1(rho), "coef_sha1": "none" if coef is None else _sha1(coef),
                  "backend": be, "dtype": dtype_.name}
    march = _driver.March(T, ts, progress=progress, desc=f"fokker-planck {method}", clock=clock,
                          checkpoint=checkpoint, checkpoint_every=checkpoint_every, config=config,
                          max_steps=max_steps, stop_at=stop_at, callback=observers)
    out = march.run(stepper, resume=resume)

    # diagnostics at each saved time (coefficients at the time the plan reached: a + n h)
    t_eval = {b: a + n * h for (a, b, h, n) in plan}
    diags = [diag(r, t_eval.get(tt, tt)) for tt, r in zip(out.ts, out.states)]
    status = out.status
    message = STATUS_MESSAGES[status] if stepper.failure is None else \
        _failure_message(stepper.failure, method, beta, grid.spacing)
    if status in ("stopped", "stopped_by_callback"):
        message = f"Step {out.n_steps} (t = {out.t:.6g} of {T:g}): " + message
    mass, mn, F, kl = (np.array(v, dtype=np.float64).reshape(-1) for v in zip(*diags)) if diags else \
        (np.zeros(0),) * 4
    params = {
        "D": pb.D.tolist(), "mixed": mixed if not pb.diagonal else None, "kind": pb.kind,
        "time_dependent": bool(pb.time_dependent),
        "linear_solver": ("direct" if use_direct else ("tridiagonal" if d == 1 else "split")),
        "explicit_dt_limit": explicit_limit, "cn_positive_dt": 2.0 * explicit_limit,
        "rannacher": int(rannacher) if method == "crank_nicolson" else 0,
        "periodic": list(grid.periodic), "clipped_mass": stepper.clipped,
        "mass_correction": stepper.mass_correction, "kl_reference": kl_mode, "backend": be, "dtype": dtype_.name,
        "t_reached": out.t, "checkpoint": "" if checkpoint is None else str(checkpoint),
        "checkpoint_failures": out.checkpoint_failures,
    }
    rho_end = stepper.state()
    rhos = np.stack(out.states) if out.states else np.zeros((0,) + grid.shape)
    result = FPResult(rho=rho_end, ts=np.asarray(out.ts, dtype=np.float64), rhos=rhos, mass=mass, min_rho=mn,
                      free_energy=F, kl=kl, grid=grid, t=T, beta=beta, method=method, n_steps=int(out.n_steps),
                      dt=float(stepper.hmax), wall_time=float(clock.wall_time), compile_time=clock.compile_time,
                      status=status, message=message, params=params)
    _driver.check_outcome(status, message, raise_on_failure)
    return result


def _sha1(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


def _check_step_count(ts: np.ndarray, T: float, dt: float, why: str) -> None:
    """Refuse (StabilityError) a march of more than :data:`MAX_STEPS` steps before planning it."""
    checkpoints = np.unique(np.concatenate([[0.0], ts, [T]]))
    with np.errstate(over="ignore", divide="ignore"):
        steps = sum(max(1.0, math.ceil((b - a) / dt - 1e-9)) if dt > 0 else math.inf
                    for a, b in zip(checkpoints[:-1], checkpoints[1:])) if T > 0 else 1.0
    if not steps <= MAX_STEPS:
        raise StabilityError(f"solve_fokker_planck would take {steps:.3g} steps to reach t = {T:g}: {why}; more "
                             f"than MAX_STEPS = {MAX_STEPS:.0e}. Use method='implicit' (unconditionally stable) "
                             f"with a larger `dt`, or a shorter `t`.")


def _plan(ts: np.ndarray, T: float, dt: float) -> list:
    """Segments ``(a, b, h, n)``: ``n`` equal steps ``h <= dt`` between consecutive saved times (and ``t``)."""
    checkpoints = np.unique(np.concatenate([[0.0], ts, [T]]))
    plan = []
    for a, b in zip(checkpoints[:-1], checkpoints[1:]):
        n = max(1, int(math.ceil((b - a) / dt - 1e-9)))
        plan.append((a, b, (b - a) / n, n))
    return plan


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


def _explicit_limit_message(dt, limit, beta, spacing, t=None) -> str:
    """The one text of a forward-Euler step above its positivity limit (at entry, or at time ``t``)."""
    at = "" if t is None else f" at t = {t:.6g}"
    return (f"`dt` = {dt:.6g} exceeds the forward-Euler positivity limit {limit:.6g}{at} (1 / max outflow rate, "
            f"beta = {beta:g}, h = {spacing}); use dt <= {limit:.6g} or method='implicit'.")


def _failure_message(failure: dict, method: str, beta, spacing) -> str:
    """Message of a failed march (``failure`` from the stepper: status, t, step, h[, limit])."""
    if failure["status"] == "unstable":
        return _explicit_limit_message(failure["h"], failure["limit"], beta, spacing, failure["t"])
    if method == "implicit":
        fix = ("backward Euler is unconditionally stable, so the coefficients themselves overflow: check that "
               "the potential/drift is finite and of moderate size (beta * h * |b| / D_kk must stay far below 1e300)")
    else:
        fix = ("use method='implicit' (unconditionally stable and positive), reduce `dt`, or check that the "
               "potential/drift is finite and resolved by the grid")
    return (f"The Fokker-Planck solution became non-finite at t = {failure['t']:.6g} (step {failure['step']}, "
            f"method={method!r}, dt = {failure['h']:.6g}); stopped. Fix: {fix}.")
