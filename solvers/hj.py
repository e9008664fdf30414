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
  advective CFL alone, whatever ``beta``.  Split steps are second order in time,
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
* **Backends.** The time loop (CFL rule, retries, splitting, snapshots, checkpoints)
  is written once and drives a *stepper*: ``_CpuStepper`` (Numba kernels on
  ghost-padded NumPy arrays) or :class:`solvers._cuda_hj.CudaStepper` (numba.cuda
  kernels, state kept on the device, only the ``d`` CFL slopes copied back per step).
  Both take the same time steps, so ``backend="cuda"`` agrees with ``"cpu"`` to
  round-off (bit for bit in the CUDA simulator); split-diffusion heat substeps and
  checkpoints move the state through the host.
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
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _cuda
from . import _hj_kernels as K
from ._domain import padded_values
from ._jit import njit, use_parallel
from .boundary import fill_ghosts, interior, pad_array
from ._files import check_writable
from ._memory import check_memory
from .checkpoint import config_mismatch, read_checkpoint, write_checkpoint
from .errors import (CheckpointWarning, GridError, NonFiniteError, StabilityError, check_finite_array,
                     check_nonnegative, check_positive, check_real)
from .grid import Grid
from .result import Result, register_result
from .schemes import SCHEMES, Scheme, get_scheme, upwind_gradient

__all__ = ["solve_hj", "HJResult", "SCHEMES", "Scheme", "UnresolvedViscosityWarning", "STATUS_MESSAGES"]

#: Status code -> message telling what happened and the fix.
STATUS_MESSAGES = {
    "success": "Reached the final time.",
    "stopped": ("Stopped early at the requested `max_steps` / `stop_at`; call solve_hj again with "
                "`resume=<checkpoint path>` to continue."),
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
        Saved times (``save_at``; ``[t]`` by default).
    us : ndarray, shape ``(m,) + grid.shape``
        Snapshots at ``ts``.
    n_steps : int
        Time steps taken.
    dt_min, dt_max : float
        Smallest and largest stability-limited time step (steps shortened only to
        land on a save time are not counted unless every step was).
    wall_time, compile_time : float, seconds
        Total wall time (including compile) and time spent compiling or loading kernels.
    status : str
        ``"success"``, ``"stopped"``, ``"nonfinite"`` or ``"step_too_small"``.
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


# --------------------------------------------------------------------------- heat semigroup
def heat_semigroup(u: np.ndarray, spacing, periodic, tau: float, laplacian_order: int = 2) -> np.ndarray:
    """Exact ``exp(tau Lap_h) u`` for the semi-discrete Laplacian (``tau = nu * dt``).

    Periodic axes: FFT with the symbol of the 3-point (``laplacian_order=2``) or
    5-point (4) central Laplacian.  Non-periodic axes: the end values are held
    (linear-extrapolation boundary, zero second difference there); the affine
    interpolant of the ends is removed and the rest is evolved exactly with the
    type-I discrete sine transform that diagonalises the 3-point Dirichlet
    Laplacian.  The axis factors commute, so the product is exact.  With the
    3-point symbol every factor has a non-negative kernel (maximum principle).

    Parameters
    ----------
    u : ndarray, shape (n_0, ..., n_{d-1})
    spacing : sequence of d floats
    periodic : sequence of d bools
    tau : float >= 0
    laplacian_order : {2, 4}

    Returns
    -------
    ndarray, same shape (a new array)
    """
    import scipy.fft as sfft

    u = np.array(u, dtype=np.float64, copy=True)
    if tau == 0.0:
        return u
    d = u.ndim
    for k in range(d):
        n, h = u.shape[k], float(spacing[k])
        shape = [1] * d
        if periodic[k]:
            theta = 2.0 * np.pi * np.arange(n // 2 + 1) / n
            if laplacian_order == 2:
                lam = -(4.0 / (h * h)) * np.sin(0.5 * theta) ** 2
            else:
                c = np.cos(theta)
                lam = 4.0 * (c - 1.0) * (7.0 - c) / (12.0 * h * h)  # = (-2cos2t + 32cos t - 30)/(12h^2)
            shape[k] = lam.size
            u = sfft.irfft(sfft.rfft(u, axis=k) * np.exp(tau * lam).reshape(shape), n=n, axis=k)
        else:
            if n < 3:
                continue
            idx = [slice(None)] * d
            idx[k] = slice(0, 1)
            first = u[tuple(idx)]
            idx[k] = slice(n - 1, n)
            last = u[tuple(idx)]
            shape[k] = n
            s = (np.arange(n) / (n - 1)).reshape(shape)
            lin = first + s * (last - first)
            idx[k] = slice(1, n - 1)
            w = (u - lin)[tuple(idx)]
            j = np.arange(1, n - 1)
            lam = -(4.0 / (h * h)) * np.sin(np.pi * j / (2.0 * (n - 1))) ** 2
            shape[k] = n - 2
            w = sfft.idst(sfft.dst(w, type=1, axis=k) * np.exp(tau * lam).reshape(shape), type=1, axis=k)
            lin[tuple(idx)] += w
            u = lin
    return np.ascontiguousarray(u)


# --------------------------------------------------------------------------- helpers
def _validate_cfl(cfl) -> float:
    try:
        c = float(cfl)
    except (TypeError, ValueError):
        raise TypeError(f"`cfl` must be a real number; got {cfl!r}.") from None
    if not (0.0 < c <= 1.0):
        raise ValueError(f"`cfl` must lie in (0, 1] (the monotone forward-Euler bound); got {cfl!r}.")
    return c


def _n_saves(save_at) -> int:
    """Number of snapshots ``save_at`` asks for (checked before anything is allocated)."""
    if save_at is None:
        return 1
    if isinstance(save_at, (bool, np.bool_)):
        raise TypeError(f"`save_at` must be None, an int >= 1 or a sequence of times; got {save_at!r}.")
    if isinstance(save_at, (int, np.integer)):
        if save_at < 1:
            raise ValueError(f"`save_at` as an int must be >= 1 (number of equally spaced times in "
                             f"[0, t]); got {save_at}.")
        return int(save_at)
    if isinstance(save_at, (float, np.floating)):
        return 1
    return int(np.size(save_at))


def _save_times(save_at, t: float) -> np.ndarray:
    if save_at is None:
        return np.array([t])
    if isinstance(save_at, (int, np.integer)):
        return np.linspace(0.0, t, int(save_at)) if save_at > 1 else np.array([t])
    check_real("save_at", save_at)
    ts = np.asarray(save_at, dtype=np.float64).ravel()
    if ts.size == 0 or not np.all(np.isfinite(ts)) or ts.min() < 0 or ts.max() > t:
        raise ValueError(f"`save_at` must be times in [0, t] = [0, {t:g}]; got {save_at!r}.")
    return np.unique(ts)


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
#: :func:`_split_error`); steps whose estimated error exceeds it (and matters) are shortened.
SPLIT_RTOL = 1e-3


@njit
def _grad_energy_kernel(u, h0, h1, h2, p0, p1, p2):
    """Sum over axes of the mean squared forward difference / h^2 of a 3-D array (one pass)."""
    n0, n1, n2 = u.shape
    s0 = s1 = s2 = 0.0
    for i in range(n0):
        i1 = i + 1 if i + 1 < n0 else (0 if p0 else -1)
        for j in range(n1):
            j1 = j + 1 if j + 1 < n1 else (0 if p1 else -1)
            for k in range(n2):
                k1 = k + 1 if k + 1 < n2 else (0 if p2 else -1)
                c = u[i, j, k]
                if i1 >= 0:
                    e = u[i1, j, k] - c
                    s0 += e * e
                if j1 >= 0:
                    e = u[i, j1, k] - c
                    s1 += e * e
                if k1 >= 0:
                    e = u[i, j, k1] - c
                    s2 += e * e
    out = 0.0
    if n0 > 1:
        out += s0 / ((n0 if p0 else n0 - 1) * n1 * n2 * h0 * h0)
    if n1 > 1:
        out += s1 / (n0 * (n1 if p1 else n1 - 1) * n2 * h1 * h1)
    if n2 > 1:
        out += s2 / (n0 * n1 * (n2 if p2 else n2 - 1) * h2 * h2)
    return out


def _grad_energy(u: np.ndarray, spacing, periodic) -> float:
    """Mean of ``|D u|^2`` over the grid (forward differences per axis; periodic axes wrap)."""
    d = u.ndim
    u3 = u[(...,) + (None,) * (3 - d)]          # a view: (n0, n1, n2) with trailing 1s
    h = tuple(float(x) for x in spacing) + (1.0,) * (3 - d)
    p = tuple(bool(x) for x in periodic) + (False,) * (3 - d)
    return float(_grad_energy_kernel(u3, *h, *p))


def _split_error(g0: float, g1: float, dt: float):
    """Splitting error of one Strang step, from the gradient energy before (``g0``) and after (``g1``)
    the first half heat substep.

    Within a step the Hamiltonian sees the state diffused by ``dt/2`` only, so the split step
    integrates ``G(s) = mean |grad u(s)|^2`` along the heat flow by the midpoint rule.  With
    ``G(s) ~ G0 exp(-2 x s / dt)`` (``x = log(G0/G1)``, exact for one Fourier mode) the exact
    integral is ``G0 dt (1 - e^{-2x}) / (2x)`` and the midpoint value ``G0 dt e^{-x}``; their
    relative difference is ``1 - x / sinh(x)`` (``x^2/6`` for small x, 1 when the diffusion
    removes the gradient within the step).  Returns ``(x, relative error, contribution)``,
    the contribution being the estimated exact integral ``1/2 int G``.
    """
    if not (g0 > 0 and math.isfinite(g0) and math.isfinite(g1)):
        return 0.0, 0.0, 0.0
    x = math.log(g0 / g1) if g1 > 0 else math.inf
    if x <= 1e-8:
        return max(x, 0.0), 0.0, 0.5 * g0 * dt
    if x > 700.0:
        return x, 1.0, 0.5 * g0 * dt / (2.0 * x)
    rel = 1.0 - x / math.sinh(x)
    return x, rel, 0.5 * g0 * dt * (-math.expm1(-2.0 * x)) / (2.0 * x)


def _sha1(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


def _warmup(d: int, sch: Scheme, parallel: bool) -> float:
    """Compile (or load from cache) the scheme's kernels for ``d`` dimensions; return the seconds spent."""
    t0 = time.perf_counter()
    g = sch.ghost
    V = np.zeros((2 * g + 4,) * d)
    W = np.zeros_like(V)
    O = np.zeros_like(V)
    K.stage(V, W, O, g, (1.0,) * d, 0.0, sch.deriv_code, sch.ham_code, sch.laplacian_order, 0.0, 1.0, 0.0,
            parallel=parallel)
    K.max_slopes(V, g, (1.0,) * d, parallel=parallel)
    return time.perf_counter() - t0


def _first_stage(src, s1, g, spacing, periodic, nu, sch, dt, parallel, cbuf):
    """First stage (the whole step for forward Euler) into ``s1``; returns the CFL slopes of ``src``."""
    fill_ghosts(src, g, periodic)
    return K.stage(src, src, s1, g, spacing, nu, sch.deriv_code, sch.ham_code, sch.laplacian_order,
                   0.0, 1.0, dt, parallel, cbuf)


def _other_stages(src, s1, s2, g, spacing, periodic, nu, sch, dt, parallel, cbuf):
    """Remaining TVD-RK3 stages after :func:`_first_stage`; returns the buffer holding the new state."""
    if sch.integrator == "euler":
        return s1
    dc, hc, lc = sch.deriv_code, sch.ham_code, sch.laplacian_order
    fill_ghosts(s1, g, periodic)
    K.stage(s1, src, s2, g, spacing, nu, dc, hc, lc, 0.75, 0.25, dt, parallel, cbuf, slopes=False)
    fill_ghosts(s2, g, periodic)
    K.stage(s2, src, s1, g, spacing, nu, dc, hc, lc, 1.0 / 3.0, 2.0 / 3.0, dt, parallel, cbuf, slopes=False)
    return s1


class _CpuStepper:
    """CPU state (three ghost-padded float64 arrays) and the Numba kernels, behind the interface
    :func:`solve_hj` drives; :class:`solvers._cuda_hj.CudaStepper` is the device twin.

    ``bufs`` are the three state buffers (``bufs[0]`` holds the initial values).  Methods:
    ``slopes(V)`` fills the ghosts of ``V`` and returns its CFL slopes ``(alpha, finite)``;
    ``first_stage(src, s1, nu, dt)`` fills the ghosts of ``src``, writes ``src + dt L(src)`` to
    ``s1`` and returns the slopes of ``src``; ``stage_filled`` is the same without the ghost fill
    and the slopes; ``other_stages`` the remaining RK3 stages; ``heat(V_from, V_to, tau)`` the
    exact heat substep; ``get_interior`` / ``set_interior`` move interior values in and out.
    """

    def __init__(self, vals, g, spacing, periodic, sch, parallel):
        self.g, self.h, self.per, self.sch, self.parallel = g, spacing, periodic, sch, parallel
        U = pad_array(vals, g)
        self.bufs = [U, np.empty_like(U), np.empty_like(U)]
        self.cbuf = K.slope_buffer(U, g)

    def warmup(self) -> float:
        return _warmup(len(self.h), self.sch, self.parallel)

    def set_interior(self, V, vals):
        interior(V, self.g)[...] = vals

    def get_interior(self, V):
        return interior(V, self.g)

    def slopes(self, V):
        fill_ghosts(V, self.g, self.per)
        return K.max_slopes(V, self.g, self.h, self.parallel)

    def first_stage(self, src, s1, nu, dt):
        return _first_stage(src, s1, self.g, self.h, self.per, nu, self.sch, dt, self.parallel, self.cbuf)

    def stage_filled(self, src, s1, nu, dt):
        sch = self.sch
        K.stage(src, src, s1, self.g, self.h, nu, sch.deriv_code, sch.ham_code, sch.laplacian_order,
                0.0, 1.0, dt, self.parallel, self.cbuf, slopes=False)

    def other_stages(self, src, s1, s2, nu, dt):
        return _other_stages(src, s1, s2, self.g, self.h, self.per, nu, self.sch, dt, self.parallel, self.cbuf)

    def heat(self, V_from, V_to, tau):
        interior(V_to, self.g)[...] = heat_semigroup(interior(V_from, self.g), self.h, self.per, tau,
                                                     self.sch.laplacian_order)


# --------------------------------------------------------------------------- the solver
def solve_hj(u0, grid: Grid, t: float, *, beta: float = np.inf, scheme="weno5", cfl: float = 0.5,
             save_at=None, progress: bool = False, checkpoint=None, checkpoint_every=60.0, resume=None,
             diffusion: str = "auto", max_dt: float | None = None, max_steps: int | None = None,
             stop_at: float | None = None, pad: bool = True, parallel: bool | None = None,
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
        Times in ``[0, t]`` at which to keep snapshots (an int ``m`` gives ``m`` equally
        spaced times from 0 to t); default ``[t]``.  Steps are shortened to land on them.
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
    pad : bool, default True
        Pad the domain for a callable ``u0`` so the interior approximates the
        whole-space solution.  Ignored for array input.
    parallel : bool, optional
        Use the threaded kernels; default :func:`solvers._jit.use_parallel` of the
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
        :data:`solvers._cuda.AUTO_MIN_WORK` cells.  Split diffusion on ``"cuda"`` does
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
    wall0 = time.perf_counter()
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
    if max_steps is not None and (not isinstance(max_steps, (int, np.integer)) or max_steps < 0):
        raise ValueError(f"`max_steps` must be a non-negative int; got {max_steps!r}.")
    if stop_at is not None:
        stop_at = check_nonnegative("stop_at", stop_at)
    backend_requested = backend
    if not isinstance(backend, str) or backend not in _cuda.BACKENDS:
        raise ValueError(f"`backend` must be one of {_cuda.BACKENDS}; got {backend!r}.")
    try:
        dtype = _cuda.check_dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must be float64 or float32; got {dtype!r}.") from None
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, float, np.integer, np.floating)) \
            or not checkpoint_every > 0:
        raise ValueError(f"`checkpoint_every` must be a positive int (steps) or float (seconds); "
                         f"got {checkpoint_every!r}.")
    n_save = _n_saves(save_at)
    g = sch.ghost
    d = grid.dim
    _check_hj_memory(grid, grid, g, n_save)          # before sampling u0 or allocating snapshots
    save_times = _save_times(save_at, t)
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

    backend = _cuda.resolve_backend(backend, int(np.prod(comp.shape)))
    if backend == "cpu" and dtype != np.float64:
        if backend_requested == "cpu":
            raise ValueError(f"`dtype` must be float64 for backend='cpu' (float32 needs backend='cuda'); "
                             f"got {dtype}.")
        warnings.warn("`dtype=float32` needs the CUDA backend; backend='auto' chose the CPU, so the solve "
                      "runs in float64.", RuntimeWarning, stacklevel=2)
        dtype = np.dtype(np.float64)
    params = {"backend": backend, "device": _cuda.device_name() if backend == "cuda" else "cpu",
              "dtype": dtype.name, "diffusion": diffusion, "comp_shape": list(comp.shape), "ghost": g,
              "padded": comp.shape != grid.shape, "max_dt": max_dt if max_dt is not None else math.inf,
              "scheme_spec": {"deriv": sch.deriv, "hamiltonian": sch.hamiltonian,
                              "integrator": sch.integrator, "laplacian_order": sch.laplacian_order}}

    def make_result(Ucomp_interior, ts, us, n_steps, dt_min, dt_max, compile_time, status, message, extra,
                    grad_comp=None):
        if status == "nonfinite":
            grad = np.full(grid.shape + (d,), np.nan)
        elif grad_comp is not None:  # computed by the backend (CUDA: on the device)
            grad = grad_comp[inner]
        else:
            Up = pad_array(Ucomp_interior, g)
            fill_ghosts(Up, g, per)
            with np.errstate(over="ignore", invalid="ignore"):
                grad = upwind_gradient(Up, g, h, sch)[inner]
        us_arr = np.stack(us) if us else np.zeros((0,) + grid.shape)
        return HJResult(u=np.ascontiguousarray(Ucomp_interior[inner]), grad=np.ascontiguousarray(grad),
                        ts=np.asarray(ts, dtype=np.float64), us=us_arr, n_steps=int(n_steps),
                        dt_min=float(dt_min), dt_max=float(dt_max),
                        wall_time=time.perf_counter() - wall0, compile_time=float(compile_time),
                        status=status, message=message, grid=grid, t=float(t), beta=float(beta),
                        scheme=sch.name, order=int(sch.order), cfl=float(cfl), params={**params, **extra})

    if t == 0.0:
        return make_result(vals, list(save_times), [vals[inner].copy() for _ in save_times], 0,
                           0.0, 0.0, 0.0, "success", STATUS_MESSAGES["success"], {"t_reached": 0.0})

    config = None
    if checkpoint is not None or resume is not None:  # (hashing u0 costs ~1 s per GB: only when needed)
        config = {"grid": grid.to_dict(), "comp_grid": comp.to_dict(), "t": t, "beta": beta, "scheme": sch.name,
                  "scheme_spec": params["scheme_spec"], "order": sch.order, "cfl": cfl, "diffusion": diffusion,
                  "max_dt": params["max_dt"], "save_times": [float(s) for s in save_times],
                  "u0_sha1": _sha1(vals)}
        if backend == "cuda":  # CPU configs stay as they were (old CPU checkpoints still resume)
            config.update(backend="cuda", dtype=dtype.name)

    # ---- state
    if backend == "cuda":
        from ._cuda_hj import CudaStepper
        parallel = False
        ops = CudaStepper(vals, g, h, per, sch, dtype)
    else:
        parallel = use_parallel(int(np.prod(comp.shape))) if parallel is None else bool(parallel)
        ops = _CpuStepper(vals, g, h, per, sch, parallel)
    bufs = list(ops.bufs)
    U = bufs[0]
    t_now = 0.0
    step = 0
    ti = 0  # index of the next save time still to reach
    ts_saved, us_saved = [], []
    st = {"dt_min": math.inf, "dt_max": 0.0, "dt_min_all": math.inf, "dt_max_all": 0.0,
          "n_explicit": 0, "n_split": 0, "n_retries": 0, "prev_wall": 0.0,
          "ham_int": 0.0, "dt_acc": math.inf, "n_split_cuts": 0}
    while ti < len(save_times) and save_times[ti] <= 0.0:
        ts_saved.append(0.0)
        us_saved.append(vals[inner].copy())
        ti += 1
    alpha_lag = None
    if resume is not None:
        cfg, sc, arrs = read_checkpoint(resume)
        diffs = config_mismatch(cfg, config)
        if diffs:
            raise ValueError(f"`resume` checkpoint {str(resume)!r} belongs to a different problem or "
                             f"settings: " + "; ".join(diffs))
        ops.set_interior(U, arrs["u"])
        t_now, step, ti = float(sc["t_now"]), int(sc["step"]), int(sc["ti"])
        alpha_lag = np.asarray(sc["alpha_lag"], dtype=np.float64)
        for key in st:
            st[key] = sc.get(key, st[key])  # (keys added later are absent from older checkpoints)
        ts_saved = [float(x) for x in arrs["ts"]]
        us_saved = [a.copy() for a in arrs["us"]]

    compile_time = ops.warmup()
    if nu > 0 and diffusion != "explicit":  # the split-accuracy kernel (_grad_energy), compiled or loaded once
        t_c = time.perf_counter()
        tiny = np.zeros((4,) * d)
        _grad_energy(tiny, (1.0,) * d, per)
        _grad_energy(tiny[(slice(1, 3),) * d], (1.0,) * d, per)
        compile_time += time.perf_counter() - t_c

    adv_w = [1.0 / hk for hk in h]
    x_target = 0.9 * math.sqrt(6.0 * SPLIT_RTOL)     # 1 - x/sinh(x) ~ x^2/6 <= SPLIT_RTOL
    err_floor = 1e-13 * float(np.max(np.abs(vals)))  # Hamiltonian integrals below this are round-off
    dif_rate = sum(2.0 * nu * sch.diffusion_factor / (hk * hk) for hk in h)

    ck_failures = []

    def save_ckpt(Ucur, al):
        try:
            write_checkpoint(checkpoint, config=config,
                             scalars={"t_now": t_now, "step": step, "ti": ti, "alpha_lag": [float(a) for a in al],
                                      **{**st, "prev_wall": st["prev_wall"] + time.perf_counter() - wall0}},
                             arrays={"u": np.array(ops.get_interior(Ucur)),
                                     "ts": np.asarray(ts_saved, dtype=np.float64),
                                     "us": np.stack(us_saved) if us_saved else np.zeros((0,) + grid.shape)})
        except OSError as e:  # a full disk or a vanished directory must not throw the computation away
            ck_failures.append(f"step {step}: {e}")
            warnings.warn(f"Writing the checkpoint {str(checkpoint)!r} failed at step {step} (t = {t_now:.6g}): "
                          f"{e}. The solve continues; the result is returned but that checkpoint is missing.",
                          CheckpointWarning, stacklevel=3)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=t, initial=t_now, unit="time", desc=f"solve_hj[{sch.name}]",
                   bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} [{elapsed}<{remaining}]")
    last_ck_wall, last_ck_step = time.perf_counter(), step
    status = "success"
    if alpha_lag is None:  # slopes of the initial state; later ones come out of the stage kernels
        alpha_lag, _ = ops.slopes(U)
    alpha = np.asarray(alpha_lag, dtype=np.float64)

    def adv_rate(al):
        return float(sum(float(a) * w for a, w in zip(al, adv_w)))

    try:
        while True:
            if not np.all(np.isfinite(alpha)):
                status = "nonfinite"
                break
            if t_now >= t:
                break
            if (max_steps is not None and step >= max_steps) or (stop_at is not None and t_now >= stop_at):
                status = "stopped"
                break
            # dt from the slopes of the previous step's input, cut to the exact CFL step of the current
            # state if its slopes are larger (explicit steps), or the first stage redone (split steps)
            adv = adv_rate(alpha)
            explicit = nu == 0.0 or diffusion == "explicit" or (diffusion == "auto" and dif_rate <= adv)
            rate = adv + dif_rate if explicit else adv
            dt_cfl = cfl / rate if rate > 0 else math.inf
            if max_dt is not None:
                dt_cfl = min(dt_cfl, max_dt)
            target = save_times[ti] if ti < len(save_times) else t
            remaining = target - t_now
            if dt_cfl < 1e-9 * (t - t_now):
                status = "step_too_small"
                break
            dt = min(dt_cfl, remaining)
            src = U
            s1, s2 = bufs[1], bufs[2]
            if explicit and sch.integrator == "euler":
                # one memory-bound stage: its fused slopes plus an occasional redo cost less than a
                # separate pass over the state
                a_in, finite = ops.first_stage(src, s1, nu, dt)
                if finite and dt * (adv_rate(a_in) + dif_rate) > cfl * (1.0 + 1e-12):
                    dt = cfl / (adv_rate(a_in) + dif_rate)
                    st["n_retries"] += 1
                    ops.first_stage(src, s1, nu, dt)
            elif explicit:
                # RK3: slopes of the current state first (one vectorised pass, a few % of a WENO5
                # stage); when they exceed the lagged ones dt is cut before the first stage instead of
                # running it twice (that happened in about half of the steps while slopes steepen).
                # The step size is the same as with the redo, so results are unchanged.
                a_in, finite = ops.slopes(src)
                if finite and dt * (adv_rate(a_in) + dif_rate) > cfl * (1.0 + 1e-12):
                    dt = cfl / (adv_rate(a_in) + dif_rate)
                    st["n_retries"] += 1
                if finite:
                    ops.stage_filled(src, s1, nu, dt)
            if explicit:
                st["n_explicit"] += 1
            else:
                # Strang: D(dt/2) E(dt) D(dt/2).  E must satisfy the hard CFL bound 1 on the diffused
                # state; if not, dt is cut and the step redone from U.
                # Accuracy: the Hamiltonian sees the state diffused by dt/2 only; if diffusion removes
                # most of grad u within the step, the step is shortened (see _split_error).
                src, s1, s2 = bufs[1], bufs[2], bufs[0]  # U (bufs[0]) is read until the loop ends
                dt = min(dt, st["dt_acc"])
                g0 = _grad_energy(ops.get_interior(U), h, per)
                tries = cuts = 0
                while True:
                    ops.heat(U, src, 0.5 * nu * dt)
                    x, rel, contrib = _split_error(g0, _grad_energy(ops.get_interior(src), h, per), dt)
                    if rel > SPLIT_RTOL and rel * contrib > SPLIT_RTOL * max(st["ham_int"], err_floor) \
                            and cuts < 16:
                        dt *= min(0.5, x_target / x)
                        cuts += 1
                        continue
                    a_in, finite = ops.first_stage(src, s1, 0.0, dt)
                    tries += 1
                    if not finite or not dt * adv_rate(a_in) > 1.0 or tries == 8:
                        break
                    dt = cfl / adv_rate(a_in)
                    st["n_retries"] += 1
                st["n_split"] += 1
                st["n_split_cuts"] += cuts
                st["ham_int"] += contrib
                if cuts or st["dt_acc"] < math.inf:  # step-size controller while the accuracy limit binds
                    grow = max(min(2.0, x_target / x), 1.0) if (rel <= SPLIT_RTOL and x > 0) else 2.0
                    # what is left of the decaying gradient energy, 1/2 int_0^inf G0 e^{-2xs/dt} ds, is
                    # negligible: any step length is accurate enough
                    tail = 0.25 * g0 * dt / x if x > 0 else math.inf
                    done = tail <= SPLIT_RTOL * max(st["ham_int"], err_floor) or dt * grow >= dt_cfl
                    st["dt_acc"] = math.inf if done else dt * grow
            if not finite:
                alpha = a_in
                status = "nonfinite"
                break
            res = ops.other_stages(src, s1, s2, 0.0 if not explicit else nu, dt)
            if not explicit:
                ops.heat(res, res, 0.5 * nu * dt)
            alpha = a_in
            bufs = [res] + [b for b in bufs if b is not res]
            U = res
            step += 1
            if dt < remaining:
                t_now = t_now + dt
                st["dt_min"] = min(st["dt_min"], dt)
                st["dt_max"] = max(st["dt_max"], dt)
            else:
                t_now = float(target)
            st["dt_min_all"] = min(st["dt_min_all"], dt)
            st["dt_max_all"] = max(st["dt_max_all"], dt)
            while ti < len(save_times) and save_times[ti] <= t_now:
                ts_saved.append(float(save_times[ti]))
                us_saved.append(ops.get_interior(U)[inner].copy())
                ti += 1
            if bar is not None:
                bar.update(dt)
            if checkpoint is not None:
                now = time.perf_counter()
                if isinstance(checkpoint_every, (int, np.integer)):
                    due = step - last_ck_step >= checkpoint_every
                else:
                    due = now - last_ck_wall >= checkpoint_every
                if due:
                    save_ckpt(U, alpha)
                    last_ck_wall, last_ck_step = time.perf_counter(), step
    finally:
        if bar is not None:
            bar.close()
    if status == "success":  # the final state has not been through a stage kernel: check it once
        a_end, finite = ops.slopes(U)
        if not finite:
            status, alpha = "nonfinite", a_end

    if checkpoint is not None and status in ("success", "stopped"):
        save_ckpt(U, alpha)
    if st["dt_max"] == 0.0:  # every step was shortened to a save time
        dt_min, dt_max = st["dt_min_all"], st["dt_max_all"]
    else:
        dt_min, dt_max = st["dt_min"], st["dt_max"]
    if step == 0:
        dt_min = dt_max = 0.0
    message = STATUS_MESSAGES[status]
    if status == "nonfinite":
        message = f"Step {step} (t = {t_now:.6g}): " + message
    elif status == "step_too_small":
        message = (f"Step {step} (t = {t_now:.6g}), max|grad u| per axis = "
                   f"{[float(a) for a in alpha]}: " + message)
    elif status == "stopped":
        message = f"Step {step} (t = {t_now:.6g} of {t:g}): " + message
    extra = {"t_reached": t_now, "n_explicit_steps": st["n_explicit"], "n_split_steps": st["n_split"],
             "n_cfl_retries": st["n_retries"], "n_split_accuracy_cuts": st["n_split_cuts"], "parallel": parallel,
             "checkpoint": str(checkpoint) if checkpoint is not None else "",
             "checkpoint_failures": ck_failures}
    grad_comp = ops.gradient(U) if backend == "cuda" and status != "nonfinite" else None
    result = make_result(np.array(ops.get_interior(U)), ts_saved, us_saved, step, dt_min, dt_max,
                         compile_time, status, message, extra, grad_comp)
    if raise_on_failure and status == "nonfinite":
        raise NonFiniteError(message)
    if raise_on_failure and status == "step_too_small":
        raise StabilityError(message)
    return result
