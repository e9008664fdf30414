r"""Finite-difference solver for the viscous and non-viscous Hamilton-Jacobi equation.

.. math::

    u_t = -\tfrac12 |\nabla u|^2 + \tfrac{1}{2\beta}\,\Delta u, \qquad u(x, 0) = u_0(x),

on a uniform 1-, 2- or 3-D :class:`~solvers.grid.Grid` (``beta = inf``: the
non-viscous equation whose viscosity solution is the Hopf-Lax formula).

Design
------
* **Space.** ``u_t + H_hat(p^-, p^+) = nu Lap_h u`` with a numerical Hamiltonian and
  one-sided derivatives from :mod:`solvers.schemes` (first order, ENO2, WENO5) and
  a central Laplacian of the scheme's order (3-point, or 5-point for WENO5).
  Ghost cells: periodic wrap or linear extrapolation (:mod:`solvers.boundary`).
* **Time step, recomputed every step** so that
  ``dt * sum_k alpha_k / h_k <= cfl`` with ``alpha_k = max |D^+-_k u|`` of the state the
  step starts from, plus, when the Laplacian is explicit, the diffusion limit:
  ``dt * (sum_k alpha_k/h_k + sum_k 2 nu kappa / h_k^2) <= cfl`` (``kappa = 1``, or
  ``4/3`` for the 5-point Laplacian).  With ``cfl <= 1`` this is the monotonicity
  bound of the forward Euler step, which SSP-RK3 inherits.  The stage kernels return
  the slopes of their input as a by-product, so ``dt`` is proposed from the slopes of
  the previous step's state and checked against the current ones after the first
  stage; if the bound fails, the first stage is redone with the exact ``dt`` (counted
  in ``params["n_cfl_retries"]``).  No separate pass over memory is needed.  (Explicit
  RK3 steps compute the slopes of the current state first, with one vectorised pass
  that costs a few percent of a stage, and cut ``dt`` before the first stage instead
  of redoing it: the same ``dt``, and no doubled first stage when the slopes steepen.
  RK3 stages then skip the fused slopes.  Forward-Euler schemes keep the fused
  slopes and the redo: there one memory-bound stage costs about as much as the pass.)
* **Diffusion (IMEX by splitting).** When the explicit diffusion limit would at
  most halve the advective step (``sum 2 nu kappa/h^2 <= sum alpha/h``), the
  Laplacian is part of the explicit right-hand side and the scheme keeps its full
  order.  Otherwise (stiff diffusion: small ``beta`` or fine grids) the step is a
  Strang splitting ``D(dt/2) E(dt) D(dt/2)``: ``E`` is the explicit Hamiltonian
  step and ``D`` is the *exact* semigroup ``exp(tau nu Lap_h)`` of the
  semi-discrete Laplacian, by FFT on periodic axes (the scheme's Laplacian symbol)
  and by a type-I sine transform after removing the affine interpolant of the two
  end values on non-periodic axes (3-point Laplacian; boundary nodes are fixed by
  the linear-extrapolation condition).  The step count is then set by the
  advective CFL alone, whatever ``beta``.  On periodic grids (1-3 D) the heat half-steps
  of consecutive split steps are merged, ``D(dt1/2) E(dt1) D((dt1+dt2)/2) E(dt2) ..``:
  one real-FFT pair per step, the same result up to round-off (the state saved or seen
  at a save time has the pending half-step applied; see :mod:`solvers._hj_march`).
  Split steps are second order in time,
  so viscous runs in that regime are at most second order; with the 3-point
  symbol ``D`` is positivity preserving, so first-order schemes stay monotone.
  ``diffusion="explicit"`` / ``"split"`` force one treatment.
* **Split-step accuracy.** Within a split step the Hamiltonian sees the state
  diffused by ``dt/2`` only: the step integrates ``1/2 mean|grad u|^2`` along the heat
  flow by the midpoint rule.  When diffusion removes most of ``grad u`` within one
  CFL step (very small ``beta``), that rule misses the Hamiltonian's contribution
  (issue 13: 3 steps, 97 % error).  Each split step therefore measures the decay
  ``x = log(G(0)/G(dt/2))`` of the gradient energy ``G = mean|D u|^2`` over its first
  heat substep and, if the midpoint error ``1 - x/sinh(x)`` exceeds :data:`SPLIT_RTOL`
  and the step's contribution is not negligible against the integral so far, shortens
  the step (``params["n_split_accuracy_cuts"]``); once what is left of the decaying
  energy is negligible the CFL step returns.  Steps where diffusion is slow against
  the step (the usual case) are unchanged.
* **Backends and the compiled march.** The step rule (CFL from the lagged slopes, the
  first-stage check and redo, explicit RK stages, Strang splitting with the accuracy control
  above, non-finite checks, step statistics) runs in a *stepper*
  (:class:`solvers._hj_steppers.HJStepper`), and the time loop around it (saved times,
  checkpoints, progress bar, ``max_steps`` / ``stop_at``, status, ``wall_time`` /
  ``compile_time``) is the one driver of every solver, :class:`solvers._driver.March`.  On
  the CPU (:class:`solvers._hj_steppers.CpuStepper`) the steps are compiled: one call of the
  march in :mod:`solvers._hj_march` takes every step up to the next save time inside Numba,
  heat substeps included, and the driver returns to Python only to save a snapshot, write a
  checkpoint (the steps per call are derived from the measured time per step, so a
  ``checkpoint_every`` in seconds still holds), update the progress bar, or stop.  The
  CUDA stepper (:class:`solvers._cuda_hj.CudaStepper`, state on the device) is driven by
  the same rule written in Python (:func:`solvers._hj_steppers.advance_python`), so both
  backends take the same time steps (bit for bit in the CUDA simulator); the compiled
  march equals that Python loop bit for bit on the CPU kernels (tested).
* **Callable ``u0``** (a loss ``(..., d) -> (...)``) is sampled on a grid padded by
  :func:`solvers._domain.padded_values` plus a numerical margin, so interior
  values approximate the whole-space solution; only the user grid is returned.

Limits
------
* In the split regime the time error is second order, so ENO2/WENO5 converge at
  order 2 there (measured 1.9-2.0); explicit viscous runs keep RK3's order.
  ``auto`` picks per step, so an error-vs-h series can jump where it switches.
* Array input on a box: linear extrapolation makes the second difference vanish at
  boundary nodes, an O(nu t) error in a boundary layer of width ~ sqrt(t/beta) plus
  a few cells (zero for beta = inf, where the boundary is outflow-only for convex
  data).  Pass a callable (automatic padding) or a larger box for whole-space answers.
* For padded callables the CFL step is set by the steepest slope on the padded box,
  which can be several times that on the user grid.
* If ``sqrt(t/beta)`` is below the grid spacing an :class:`UnresolvedViscosityWarning`
  is issued (the viscous correction is below the discretisation error).
* The WENO5 kernels are compute-bound: they vectorise (8 doubles per AVX-512
  instruction here) and are limited by the multiply pipes, about 8 ns per cell and
  RK stage per core in 2-D (serial 512^2 to t=1: about 12.5 s, 1940 steps).  The
  first-order and ENO2 kernels run near memory speed.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import backend as _backend
from . import _driver
from . import _hj_march as M
from ._domain import padded_values
from ._hj_steppers import CpuOps, CpuStepper, HJStepper
from .jit import use_parallel
from .boundary import fill_ghosts, pad_array
from ._files import check_writable
from ._memory import check_memory
from .errors import GridError, check_finite_array, check_nonnegative, check_positive
from .grid import Grid
from .heat import heat_semigroup
from .result import Result, register_result
from . import _hj_grad
from ._hj_grad import upwind_gradient
from .schemes import SCHEMES, Scheme, get_scheme

__all__ = ["solve_hj", "HJResult", "SCHEMES", "Scheme", "UnresolvedViscosityWarning", "STATUS_MESSAGES"]

#: Status code -> message telling what happened and the fix.
STATUS_MESSAGES = {
    "success": "Reached the final time.",
    "stopped": ("Stopped early at the requested `max_steps` / `stop_at`; call solve_hj again with "
                "`resume=<checkpoint path>` to continue."),
    "stopped_by_callback": ("Stopped early: a `callback` returned True; with a `checkpoint`, call solve_hj "
                            "again with `resume=<checkpoint path>` to continue."),
    "nonfinite": ("Non-finite values appeared. The time step is CFL-limited by construction, so this "
                  "is overflow: |u0| or |grad u0| is too large for float64 (|p|^2 overflows). Rescale "
                  "u0 (and t), or use a smaller grid spacing range; a first-order scheme "
                  "(scheme='godunov') and a smaller `cfl` are the most robust settings."),
    "step_too_small": ("The CFL time step fell below 1e-9 of the remaining time: max|grad u| is huge. "
                       "Rescale u0, shorten `t`, or coarsen the grid."),
}

#: Margin (cells) added to the automatic padding of callable initial data, per unit of ghost width.
PAD_MARGIN_PER_GHOST = 4


class UnresolvedViscosityWarning(RuntimeWarning):
    """The viscous length sqrt(t/beta) is below the grid spacing."""


@register_result
@dataclass(frozen=True, repr=False)
class HJResult(Result):
    """Result of :func:`solve_hj`.

    Attributes
    ----------
    u : ndarray, shape ``grid.shape``
        Solution at time ``t``.
    grad : ndarray, shape ``grid.shape + (d,)``
        Gradient of the final ``u`` from the scheme's one-sided derivatives, upwind
        (Godunov) selected per axis: ``max(p^-, 0)`` or ``min(p^+, 0)``, whichever
        has the larger square; 0 at expansion points.
    ts : ndarray, shape (m,)
        Saved times (``save_at``; ``[0, t]`` by default: the convention of :mod:`solvers._driver`).
    us : ndarray, shape ``(m,) + grid.shape``
        Snapshots at ``ts``.
    n_steps : int
        Time steps taken.
    dt_min, dt_max : float
        Smallest and largest stability-limited time step (steps shortened only to
        land on a save time are not counted unless every step was).
    wall_time, compile_time : float, seconds
        Wall time of the solve with compile time excluded, and the time spent compiling or
        loading kernels (as every solver: :mod:`solvers._driver`).
    status : str
        ``"success"``, ``"stopped"``, ``"stopped_by_callback"``, ``"nonfinite"`` or
        ``"step_too_small"``.
    message : str
        What happened and the fix (see :data:`STATUS_MESSAGES`).
    grid : Grid
    t, beta, cfl : float
    scheme : str
    order : int
        Declared formal order of the scheme.
    params : dict
        Settings and diagnostics: diffusion mode counts, computational grid,
        ghost width, padding, ``max_dt``, time reached, ...
    """

    u: np.ndarray
    grad: np.ndarray
    ts: np.ndarray
    us: np.ndarray
    n_steps: int
    dt_min: float
    dt_max: float
    wall_time: float
    compile_time: float
    status: str
    message: str
    grid: Grid
    t: float
    beta: float
    scheme: str
    order: int
    cfl: float
    params: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == "success"


# --------------------------------------------------------------------------- helpers
def _validate_cfl(cfl) -> float:
    try:
        c = float(cfl)
    except (TypeError, ValueError):
        raise TypeError(f"`cfl` must be a real number; got {cfl!r}.") from None
    if not (0.0 < c <= 1.0):
        raise ValueError(f"`cfl` must lie in (0, 1] (the monotone forward-Euler bound); got {cfl!r}.")
    return c


def _check_hj_memory(grid: Grid, comp: Grid, ghost: int, n_save: int) -> float:
    """Estimated bytes of a solve (see :mod:`solvers._memory`); raises MemoryBudgetError if over budget.

    Counted: three ghost-padded state buffers, the initial values and the points they
    are sampled on, heat-semigroup (FFT) temporaries, the gradient of the result (user
    grid), and ``n_save`` snapshots on the user grid (kept, then stacked once).
    """
    d = grid.dim
    n_user, n_comp = float(grid.size), float(comp.size)
    n_ghost = float(math.prod(n + 2 * ghost for n in comp.shape))

    def core(n, ng):
        return 8.0 * (3.0 * ng + n * (d + 1) + 4.0 * n)

    user = core(n_user, n_user * n_ghost / n_comp) + 8.0 * 2 * d * n_user
    return check_memory("solve_hj", [
        ("grid.shape", user, f"use a coarser grid than {tuple(grid.shape)}"),
        ("pad", core(n_comp, n_ghost) - core(n_user, n_user * n_ghost / n_comp),
         f"the domain padded for a callable u0 has shape {tuple(comp.shape)}; pass pad=False, "
         f"a shorter t, or grid values"),
        ("save_at", 8.0 * 2 * n_save * n_user, f"keep fewer snapshots than {n_save} (each {tuple(grid.shape)})"),
    ])


#: Split steps: relative error allowed in the time integral of the Hamiltonian over one step (see
#: :func:`solvers._hj_march.split_error`); steps whose estimated error exceeds it (and matters) are shortened.
SPLIT_RTOL = M.SPLIT_RTOL

def _sha1(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


# --------------------------------------------------------------------------- the solver
# A state that overflows is expected here: the solver checks every step and stops with its own status or
# NonFiniteError, so NumPy's overflow/invalid warnings (or errors, under np.seterr(all="raise")) would
# only repeat it less clearly.
@np.errstate(over="ignore", invalid="ignore")
def solve_hj(u0, grid: Grid, t: float, *, beta: float = np.inf, scheme="weno5", cfl: float = 0.5,
             save_at=None, progress: bool = False, checkpoint=None, checkpoint_every=60.0, resume=None,
             diffusion: str = "auto", max_dt: float | None = None, max_steps: int | None = None,
             stop_at: float | None = None, callback=None, callback_every: int | None = None,
             pad: bool = True, parallel: bool | None = None,
             raise_on_failure: bool = True, backend: str = "cpu", dtype=np.float64) -> HJResult:
    r"""Solve ``u_t = -1/2 |grad u|^2 + 1/(2 beta) Lap u``, ``u(., 0) = u0``, by finite differences.

    Parameters
    ----------
    u0 : ndarray, shape ``grid.shape``, or callable
        Initial values on the grid, or a loss mapping points ``(..., d)`` to values
        ``(...)``.  A callable is sampled on a padded grid (see ``pad``).
    grid : Grid
        1-, 2- or 3-D grid; periodic axes wrap, the others use linear extrapolation.
    t : float >= 0
        Final time (``t = 0`` returns ``u0``).
    beta : float > 0, default inf
        Inverse temperature; the viscosity is ``nu = 1/(2 beta)``; ``inf`` is non-viscous.
    scheme : str or Scheme, default "weno5"
        One of :data:`SCHEMES`: ``"lax_friedrichs"``, ``"godunov"``, ``"rouy_tourin"``,
        ``"engquist_osher"`` (order 1, forward Euler), ``"eno2"`` (order 2, TVD-RK3),
        ``"weno5"`` (order 5, TVD-RK3).
    cfl : float in (0, 1], default 0.5
        Courant number: ``dt (sum_k max|p_k| / h_k + explicit diffusion rate) <= cfl``.
    save_at : None, int or sequence of float
        Times in ``[0, t]`` at which to keep snapshots: ``None`` (default) keeps ``[0, t]``,
        an int ``m >= 1`` the ``m + 1`` times ``linspace(0, t, m + 1)``, a sequence those
        times (the convention of every solver, :mod:`solvers._driver`).  Steps are shortened
        to land on them.
    progress : bool
        Show a tqdm progress bar (simulated time).
    checkpoint : path, optional
        HDF5 checkpoint written atomically every ``checkpoint_every``, when stopped
        early, and at the end.
    checkpoint_every : int or float, default 60.0
        An ``int`` counts steps, a ``float`` counts wall-clock seconds.
    resume : path, optional
        Continue from a checkpoint of the same problem (same ``u0``, grid, t, beta,
        scheme, cfl, ...); the result is bit-identical to an uninterrupted run.
    diffusion : {"auto", "explicit", "split"}
        Treatment of the Laplacian (see the module docstring); ignored when beta = inf.
    max_dt : float, optional
        Upper bound on the time step (e.g. ``dt ~ h^(5/3)`` for WENO5 order studies).
    max_steps : int, optional
        Stop (status ``"stopped"``) once this many steps have been taken in total.
    stop_at : float, optional
        Stop (status ``"stopped"``) after the first step that reaches time >= stop_at
        (steps are not shortened for it, so a resumed run stays bit-identical).
    callback : callable or sequence of callables, optional
        Observers ``callback(t, state)`` (``state``: ``u`` on ``grid``; a read-only copy), called at every saved time,
        or every ``callback_every`` steps: record diagnostics, draw live plots, or stop early by
        returning ``True`` (status ``"stopped_by_callback"``; with ``checkpoint`` a checkpoint is
        written and ``resume`` continues).  See :class:`solvers._driver.Observers`.
    callback_every : int, optional
        Call the observers every this many steps (steps ``0, k, 2k, ...`` and the final state)
        instead of at the saved times; the march returns to Python that often.
    pad : bool, default True
        Pad the domain for a callable ``u0`` so the interior approximates the
        whole-space solution.  Ignored for array input.
    parallel : bool, optional
        Use the threaded kernels; default :func:`solvers.jit.use_parallel` of the
        grid size.  On a machine shared with other busy processes the threaded
        kernels can wait a scheduler time slice per call; ``False`` avoids that.
        The result does not depend on it (bit for bit).
    raise_on_failure : bool, default True
        Raise :class:`~solvers.errors.NonFiniteError` / :class:`~solvers.errors.StabilityError`
        on failure; otherwise return the result with its ``status``.
    backend : {"cpu", "cuda", "auto"}, default "cpu"
        ``"cuda"`` runs the same schemes with numba.cuda kernels (:mod:`solvers._cuda_hj`),
        the state kept on the device; the time steps follow the same rule, so results
        agree with ``"cpu"`` to round-off.  ``"auto"`` picks CUDA when a real GPU is
        present and the computational grid has at least
        :data:`solvers.backend.AUTO_MIN_WORK` cells.  Split diffusion on ``"cuda"`` does
        its heat substeps on the host (transfer-bound).  ``params`` records ``backend``,
        ``device`` and ``dtype``.  A checkpoint resumes only on the backend and dtype that
        wrote it (bit-identical there).
    dtype : numpy dtype, default float64
        ``np.float32`` (CUDA backend only) stores and computes the state in single
        precision (errors ~1e-6 relative, not round-off agreement).  With
        ``backend="auto"`` resolving to the CPU it falls back to float64 with a warning.

    Returns
    -------
    HJResult

    Raises
    ------
    ValueError, TypeError, GridError, SchemeError
        For bad inputs (message names the argument, the constraint and the value);
        complex ``u0`` is a ``TypeError``.
    MemoryBudgetError
        The estimated memory (grid, padding, ``save_at`` snapshots, work arrays) exceeds
        the budget (:mod:`solvers._memory`); raised before allocating.
    FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError
        ``checkpoint`` cannot be written (checked before the first step), or is an
        existing file that is not a deeprelax HDF5 file.
    CheckpointError
        ``resume`` is unreadable, truncated, corrupted (checksum) or of another problem.

    Warns
    -----
    UnresolvedViscosityWarning
        If ``sqrt(t / beta)`` (the viscous length) is smaller than the largest grid
        spacing: the viscous correction is then below the discretisation error and the
        result converges only at the rate of the non-viscous scheme.
    CheckpointWarning
        A checkpoint write failed during the run; the solve continues and returns its
        result (``params["checkpoint_failures"]`` lists the failures).

    Examples
    --------
    >>> import numpy as np
    >>> from solvers.grid import Grid
    >>> g = Grid.uniform([(-1, 1)], 128, periodic=True)
    >>> res = solve_hj(-np.cos(np.pi * g.axes[0]), g, 0.05, scheme="weno5")
    >>> res.u.shape, res.status
    ((128,), 'success')
    """
    clock = _driver.Clock()
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.grid.Grid; got {type(grid).__name__}.")
    t = check_nonnegative("t", t)
    beta = check_positive("beta", beta, allow_inf=True)
    cfl = _validate_cfl(cfl)
    sch = get_scheme(scheme)
    if diffusion not in ("auto", "explicit", "split"):
        raise ValueError(f"`diffusion` must be one of 'auto', 'explicit', 'split'; got {diffusion!r}.")
    if max_dt is not None:
        max_dt = check_positive("max_dt", max_dt)
    max_steps, stop_at = _driver.check_stops(max_steps, stop_at)
    observers = _driver.Observers(callback, callback_every)
    backend_requested = backend
    if not isinstance(backend, str) or backend not in _backend.BACKENDS:
        raise ValueError(f"`backend` must be one of {_backend.BACKENDS}; got {backend!r}.")
    try:
        dtype = _backend.check_dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must be float64 or float32; got {dtype!r}.") from None
    checkpoint_every = _driver.check_checkpoint_every(checkpoint_every)
    n_save = _driver.n_save_times(save_at)
    g = sch.ghost
    d = grid.dim
    _check_hj_memory(grid, grid, g, n_save)          # before sampling u0 or allocating snapshots
    save_times = _driver.save_times(save_at, t)
    if checkpoint is not None:                       # fail now, not after the first steps
        check_writable(checkpoint, argument="checkpoint")

    # ---- initial values on the computational grid
    if callable(u0) and not isinstance(u0, np.ndarray):
        if pad and t > 0:
            comp, vals, inner = padded_values(u0, grid, t, beta, extra_cells=PAD_MARGIN_PER_GHOST * g + 2,
                                              name="u0", hint="pass pad=False")
        else:
            comp, vals, inner = grid, grid.sample(u0, name="u0"), tuple(slice(None) for _ in range(d))
        vals = check_finite_array("u0", vals)
        if comp is not grid:
            _check_hj_memory(grid, comp, g, n_save)
    else:
        vals = check_finite_array("u0", u0, shape=grid.shape)
        comp, inner = grid, tuple(slice(None) for _ in range(d))
    for k, (n, p) in enumerate(zip(comp.shape, comp.periodic)):
        need = 2 * g if p else 3
        if n < need:
            raise GridError(f"`grid.shape[{k}]` must be >= {need} for scheme {sch.name!r} "
                            f"({'periodic' if p else 'non-periodic'} axis, {g} ghost cells); got {n}.")
    h = tuple(float(x) for x in comp.spacing)
    per = tuple(bool(p) for p in comp.periodic)
    nu = 0.0 if math.isinf(beta) else 0.5 / beta
    if nu > 0 and t > 0 and math.sqrt(t / beta) < max(h):
        warnings.warn(
            f"The viscous length sqrt(t/beta) = {math.sqrt(t / beta):.3g} is below the grid spacing "
            f"h = {max(h):.3g} (t={t:g}, beta={beta:g}): the viscous correction is unresolved, so the "
            f"result is accurate only to the non-viscous scheme's O(h) near kinks. "
            f"Refine the grid to h << sqrt(t/beta) if the viscous profile matters.",
            UnresolvedViscosityWarning, stacklevel=2)

    backend = _backend.resolve_backend(backend, int(np.prod(comp.shape)))
    if backend == "cpu" and dtype != np.float64:
        if backend_requested == "cpu":
            raise ValueError(f"`dtype` must be float64 for backend='cpu' (float32 needs backend='cuda'); "
                             f"got {dtype}.")
        warnings.warn("`dtype=float32` needs the CUDA backend; backend='auto' chose the CPU, so the solve "
                      "runs in float64.", RuntimeWarning, stacklevel=2)
        dtype = np.dtype(np.float64)
    params = {"backend": backend, "device": _backend.device_name() if backend == "cuda" else "cpu",
              "dtype": dtype.name, "diffusion": diffusion, "comp_shape": list(comp.shape), "ghost": g,
              "padded": comp.shape != grid.shape, "max_dt": max_dt if max_dt is not None else math.inf,
              "scheme_spec": {"deriv": sch.deriv, "hamiltonian": sch.hamiltonian,
                              "integrator": sch.integrator, "laplacian_order": sch.laplacian_order}}

    def make_result(u_comp, ts, us, n_steps, dt_min, dt_max, status, message, extra, grad_comp=None):
        if status == "nonfinite":
            grad = np.full(grid.shape + (d,), np.nan)
        elif grad_comp is not None:  # computed by the backend (CUDA: on the device)
            grad = grad_comp[inner]
        else:
            Up = pad_array(u_comp, g)
            fill_ghosts(Up, g, per)
            grad = upwind_gradient(Up, g, h, sch)[inner]        # compiled; = schemes.upwind_gradient
        us_arr = np.stack(us) if us else np.zeros((0,) + grid.shape)
        return HJResult(u=np.ascontiguousarray(u_comp[inner]), grad=np.ascontiguousarray(grad),
                        ts=np.asarray(ts, dtype=np.float64), us=us_arr, n_steps=int(n_steps),
                        dt_min=float(dt_min), dt_max=float(dt_max),
                        wall_time=clock.wall_time, compile_time=clock.compile_time,
                        status=status, message=message, grid=grid, t=float(t), beta=float(beta),
                        scheme=sch.name, order=int(sch.order), cfl=float(cfl), params={**params, **extra})

    if t == 0.0:
        if observers:
            observers(0.0, vals[inner])
        return make_result(vals, list(save_times), [vals[inner].copy() for _ in save_times], 0, 0.0, 0.0,
                           "success", STATUS_MESSAGES["success"], {"t_reached": 0.0})

    config = None
    if checkpoint is not None or resume is not None:  # (hashing u0 costs ~1 s per GB: only when needed)
        config = {"grid": grid.to_dict(), "comp_grid": comp.to_dict(), "t": t, "beta": beta, "scheme": sch.name,
                  "scheme_spec": params["scheme_spec"], "order": sch.order, "cfl": cfl, "diffusion": diffusion,
                  "max_dt": params["max_dt"], "save_times": [float(s) for s in save_times],
                  "u0_sha1": _sha1(vals)}
        if backend == "cuda":  # CPU configs stay as they were (old CPU checkpoints still resume)
            config.update(backend="cuda", dtype=dtype.name)

    # ---- the stepper: serial kernels run the compiled march; threaded kernels (large grids) and CUDA
    # the same rule in Python
    if backend == "cuda":
        from ._cuda_hj import CudaStepper
        parallel = False
        ops = CudaStepper(vals, g, h, per, sch, dtype)
    else:
        parallel = use_parallel(int(np.prod(comp.shape))) if parallel is None else bool(parallel)
        ops = (CpuOps if parallel else CpuStepper)(vals, g, h, per, sch, parallel)
    P = M.MarchParams(
        g=g, ih=tuple(1.0 / hk for hk in h), q=tuple(1.0 / (hk * hk) for hk in h), periodic=per,
        h3=h + (1.0,) * (3 - d), p3=per + (False,) * (3 - d), nu=float(nu), ham=int(sch.ham_code),
        rk3=sch.integrator == "rk3", cfl=float(cfl),
        dif_rate=float(sum(2.0 * nu * sch.diffusion_factor / (hk * hk) for hk in h)),
        mode={"auto": M.AUTO, "explicit": M.EXPLICIT, "split": M.SPLIT}[diffusion],
        max_dt=float(max_dt) if max_dt is not None else math.inf, t_final=float(t),
        split_rtol=M.SPLIT_RTOL, x_target=0.9 * math.sqrt(6.0 * M.SPLIT_RTOL),  # 1 - x/sinh(x) ~ x^2/6
        err_floor=1e-13 * float(np.max(np.abs(vals))))  # Hamiltonian integrals below this are round-off
    stepper = HJStepper(ops, P, inner, split_kernels=nu > 0 and diffusion != "explicit" and backend == "cuda")
    clock.compiled(stepper.warmup() + (_hj_grad.warm_up() if backend != "cuda" else 0.0))
    out = _driver.March(t, save_times, progress=progress, desc=f"solve_hj[{sch.name}]", checkpoint=checkpoint,
                        checkpoint_every=checkpoint_every, config=config, max_steps=max_steps, stop_at=stop_at,
                        clock=clock, callback=observers).run(stepper, resume=resume)

    status, t_now, step = out.status, out.t, out.n_steps
    message = STATUS_MESSAGES[status]
    if status == "nonfinite":
        message = f"Step {step} (t = {t_now:.6g}): " + message
    elif status == "step_too_small":
        message = (f"Step {step} (t = {t_now:.6g}), max|grad u| per axis = "
                   f"{[float(a) for a in stepper.alpha]}: " + message)
    elif status in ("stopped", "stopped_by_callback"):
        message = f"Step {step} (t = {t_now:.6g} of {t:g}): " + message
    diag = stepper.diagnostics()
    extra = {"t_reached": t_now, **{k: v for k, v in diag.items() if k not in ("dt_min", "dt_max")},
             "parallel": parallel, "checkpoint": str(checkpoint) if checkpoint is not None else "",
             "checkpoint_failures": out.checkpoint_failures}
    grad_comp = ops.gradient(stepper.buffer) if backend == "cuda" and status != "nonfinite" else None
    result = make_result(stepper.full_state(), out.ts, out.states, step, diag["dt_min"], diag["dt_max"],
                         status, message, extra, grad_comp)
    _driver.check_outcome(status, message, raise_on_failure)
    return result
