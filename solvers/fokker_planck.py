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
Cell-centred finite volumes: every grid node is the centre of a control volume
of size ``grid.cell_volume``; mass is ``sum(rho) * cell_volume``.  On a
non-periodic axis the no-flux walls lie half a cell outside the first and last
node.  The flux through the face between nodes ``i`` and ``i+1`` of axis ``k``
is the Scharfetter-Gummel (= Chang-Cooper) exponentially fitted flux

    J_{i+1/2} = (D_kk / (beta h_k)) [ B(z) rho_i - B(-z) rho_{i+1} ],  B(z) = z / (e^z - 1),

with ``z = beta (f_{i+1} - f_i)`` for a potential and
``z = -beta h_k b_k(x_{i+1/2}) / D_kk`` for a drift.  Since
``B(-z) = e^z B(z)``, every face flux vanishes at ``rho ~ exp(-beta f)``: the
discrete Gibbs density is an exact steady state, of the full operator and of
every directional operator ``A_k`` separately.  Off-diagonal entries of the
operator are >= 0 and its columns sum to zero, so mass is conserved to
round-off, backward Euler is positive for every ``dt`` and forward Euler is
positive for ``dt <= 1 / max_i (outflow rate of node i)``.  Spatial order 2.

Full (non-diagonal) ``D``: the mixed fluxes ``-beta^{-1} D_kl M d_l(rho / M)``
(``M = exp(-beta f)`` for a potential, ``M = 1`` for a drift) use the ratios
``M_face / M_node = exp(beta (f_node - f_face))`` (exponent clipped at 700), so
the Gibbs state stays exact for a potential; mass is conserved and the scheme
is second order (tested) with either stencil for ``d_l`` at a face of axis k:

``mixed="oriented"`` (default)
    the average of the forward difference at one face node and the backward
    difference at the other, oriented by the sign of ``D_kl``.  With constant
    coefficients this is the 7-point stencil (diagonal neighbours
    ``(+1, +s)`` and ``(-1, -s)`` only, ``s = sign D_kl``), an M-matrix -- hence
    positive for backward Euler at any dt and forward Euler under its limit --
    when ``D`` is diagonally dominant, ``|D_kl| <= min(D_kk h_l / h_k, D_ll h_k / h_l)``,
    and the cell Peclet number is small; a larger Peclet number eats into that
    margin (the SG weights ``B(-z)`` against the ``exp(+-beta df/2)`` mixed weights).
    On a no-flux wall the missing half is dropped and the other half counts fully.
``mixed="central"``
    the average of the two central differences (one-sided at a wall):
    symmetric, but it puts negative weights on two diagonal neighbours for any
    ``D_kl != 0``, so it is never an M-matrix.

Neither stencil guarantees positivity without diagonal dominance; ``min_rho``
reports it.  Measured on a 61^2 grid to t = 0.2 with box-shaped data: for
D = [[1, .3], [.3, .7]] oriented stays >= 0 (operator is an M-matrix) while
central dips to -7e-7 (implicit) .. -4e-4 (explicit) of max rho0; for
D = [[1, .8], [.8, 1]] oriented reaches -4e-23, central -8e-3.

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

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _cuda
from . import _fp_kernels as K
from ._memory import check_memory
from .errors import NonFiniteError, SchemeError, StabilityError, check_count, check_positive, check_real
from .grid import Grid
from .result import Result, register_result

__all__ = ["FPResult", "solve_fokker_planck", "gibbs", "fokker_planck_steady_state", "fokker_planck_operator",
           "probability_current", "explicit_dt_limit", "METHODS"]

METHODS = ("explicit", "implicit", "crank_nicolson")
LINEAR_SOLVERS = ("auto", "split", "direct")
#: Discretisations of the mixed (off-diagonal D) fluxes.
MIXED_STENCILS = ("oriented", "central")
#: Default number of steps for the implicit methods when ``dt`` is not given.
DEFAULT_STEPS = 100
#: Safety factor of the default explicit step (fraction of the positivity limit).
EXPLICIT_SAFETY = 0.9
#: Above this many nodes the KL reference of a non-gradient drift is not computed by default.
KL_AUTO_MAX_NODES = 250_000
#: Exponents of the mixed-term weights are clipped here to avoid overflow.
_EXP_CLIP = 700.0


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


# ============================================================================= problem setup
def _is_time_dependent(fn: Callable, flag: Optional[bool]) -> bool:
    if flag is not None:
        return bool(flag)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    pos = [p for p in sig.parameters.values()
           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(pos) < 2:
        return False
    return pos[1].default is inspect.Parameter.empty or pos[1].name == "t"


def _check_D(D: Any, d: int) -> np.ndarray:
    """Return D as a (d, d) SPD matrix, with clear errors."""
    if D is None:
        return np.eye(d)
    check_real("D", D)
    arr = np.asarray(D, dtype=np.float64)
    if arr.ndim == 0:
        return np.eye(d) * check_positive("D", float(arr))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`D` must be finite; got {D!r}.")
    if arr.shape == (d,):
        if np.any(arr <= 0):
            raise ValueError(f"`D` (per-axis diagonal) must have positive entries (D_kk > 0); got {arr.tolist()}.")
        return np.diag(arr)
    if arr.shape == (d, d):
        if not np.allclose(arr, arr.T, rtol=1e-12, atol=1e-14 * np.abs(arr).max()):
            raise ValueError(f"`D` must be symmetric (D == D.T); got {arr.tolist()}.")
        arr = 0.5 * (arr + arr.T)
        lam = np.linalg.eigvalsh(arr)
        if lam.min() <= 0:
            raise ValueError(f"`D` must be positive definite (all eigenvalues > 0); its smallest eigenvalue "
                             f"is {lam.min():.6g} for D = {arr.tolist()}.")
        return arr
    raise ValueError(f"`D` must be None, a scalar, shape ({d},) or shape ({d}, {d}) for a {d}-D grid; "
                     f"got shape {arr.shape}.")


def _axis_roll_next(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` at node ``i + 1`` along ``axis`` (wrapping)."""
    return np.roll(a, -1, axis=axis)


def _last_face(shape: tuple, axis: int) -> tuple:
    sl = [slice(None)] * len(shape)
    sl[axis] = -1
    return tuple(sl)


class _Problem:
    """Validated coefficients of one Fokker-Planck problem (internal)."""

    def __init__(self, grid: Grid, potential, drift, beta, D, time_dependent, mixed: str = "oriented"):
        if not isinstance(grid, Grid):
            raise TypeError(f"`grid` must be a solvers.Grid; got {type(grid).__name__}.")
        self.grid = grid
        self.beta = check_positive("beta", beta)
        self.D = _check_D(D, grid.dim)
        self.diagonal = bool(np.all(self.D == np.diag(np.diag(self.D))))
        if mixed not in MIXED_STENCILS:
            raise SchemeError(f"`mixed` must be one of {MIXED_STENCILS}; got {mixed!r}.")
        self.mixed = mixed
        d = grid.dim
        if potential is not None and drift is not None:
            raise ValueError("Give either `potential` (gradient drift -D grad f) or `drift` (general b), not both; "
                             "for b = -D grad f + extra, pass the whole field as `drift`.")
        self.kind = "potential" if potential is not None else ("drift" if drift is not None else "none")
        self.time_dependent = False
        self.drift_on_faces = False
        self.static = None
        self.fn = None
        if self.kind == "potential":
            if callable(potential):
                self.fn = potential
                self.time_dependent = _is_time_dependent(potential, time_dependent)
            elif hasattr(potential, "value") and not isinstance(potential, np.ndarray):
                self.fn = potential.value
                self.time_dependent = _is_time_dependent(self.fn, time_dependent)
            else:
                self.static = _grid_array("potential", potential, grid.shape)
        elif self.kind == "drift":
            if callable(drift):
                self.fn = drift
                self.drift_on_faces = True
                self.time_dependent = _is_time_dependent(drift, time_dependent)
            else:
                self.static = _grid_array("drift", drift, grid.shape + (d,))
        if self.static is None and self.fn is not None and not self.time_dependent:
            self.static = self._evaluate(0.0)
            self.fn = None
        self._cache_t = None
        self._cache = None
        self._op_t = None
        self._op = None

    # ---- evaluation
    def _evaluate(self, t: float) -> np.ndarray:
        g = self.grid
        if self.kind == "potential":
            x = g.mesh()
            v = check_real("potential", self.fn(x, t) if self.time_dependent else self.fn(x))
            v = np.asarray(v, dtype=np.float64)
            if v.shape == g.shape + (1,):
                v = v[..., 0]
            if v.shape != g.shape:
                raise ValueError(f"`potential` returned shape {v.shape}; expected {g.shape} "
                                 f"(points of shape (..., d) in, values (...) out).")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"`potential` returned {int(np.count_nonzero(~np.isfinite(v)))} non-finite values "
                                 f"on the grid (t = {t}); it must be finite on {g.bounds}.")
            return v
        # drift: evaluate each component k at the faces x + h_k e_k / 2
        d = g.dim
        out = np.empty(g.shape + (d,))
        x = g.mesh()
        for k in range(d):
            xf = x.copy()
            xf[..., k] += 0.5 * g.spacing[k]
            v = np.asarray(check_real("drift", self.fn(xf, t) if self.time_dependent else self.fn(xf)),
                           dtype=np.float64)
            if v.shape != g.shape + (d,):
                raise ValueError(f"`drift` returned shape {v.shape}; expected {g.shape + (d,)} "
                                 f"(points of shape (..., d) in, vectors (..., d) out).")
            if not np.all(np.isfinite(v[..., k])):
                raise ValueError(f"`drift` returned non-finite values on the grid (t = {t}).")
            out[..., k] = v[..., k]
        return out

    def values(self, t: float) -> Optional[np.ndarray]:
        """Potential on nodes, or drift (on faces for callables, on nodes for arrays) at time t."""
        if self.kind == "none":
            return None
        if self.static is not None:
            return self.static
        return self._evaluate(t)

    def potential_values(self, t: float) -> np.ndarray:
        """f on the nodes (zeros for the heat equation); only for kind != 'drift'."""
        if self.kind == "none":
            return np.zeros(self.grid.shape)
        return self.values(t)

    def face_drift(self, k: int, t: float) -> np.ndarray:
        v = self.values(t)
        if self.drift_on_faces:          # callable: already sampled at the face midpoints
            return v[..., k]
        # array given on nodes: average onto faces (wraps on periodic axes; last face unused otherwise)
        return 0.5 * (v[..., k] + _axis_roll_next(v[..., k], k))

    # ---- SG face weights
    def peclet(self, k: int, t: float) -> np.ndarray:
        """Cell Peclet numbers ``z`` of the faces ``i + 1/2`` along axis k, shape ``grid.shape``.

        ``beta (f_{i+1} - f_i)`` for a potential, ``-beta h_k b_k / D_kk`` for a drift.
        """
        if self.kind == "drift":
            return -self.beta * self.grid.spacing[k] * self.face_drift(k, t) / self.D[k, k]
        f = self.potential_values(t)
        return self.beta * (_axis_roll_next(f, k) - f)

    def weights(self, t: float):
        """List over axes of ``(ap, am)``, shape ``grid.shape`` each (cached per t)."""
        if self._cache is not None and (not self.time_dependent or self._cache_t == t):
            return self._cache
        g, beta = self.grid, self.beta
        out = []
        for k in range(g.dim):
            h = g.spacing[k]
            Dkk = self.D[k, k]
            ap, am = K.sg_weights(self.peclet(k, t), Dkk / (beta * h * h))
            if not g.periodic[k]:
                ap[_last_face(g.shape, k)] = 0.0
                am[_last_face(g.shape, k)] = 0.0
            out.append((ap, am))
        self._cache, self._cache_t = out, t
        return out

    # ---- sparse operator
    def operator(self, t: float) -> sp.csr_matrix:
        """The full generator A (N x N, CSR) with d rho/dt = A rho (flattened C order); cached per t."""
        if self._op is not None and (not self.time_dependent or self._op_t == t):
            return self._op
        self._op, self._op_t = self._assemble(t), t
        return self._op

    def _assemble(self, t: float) -> sp.csr_matrix:
        g = self.grid
        N = g.size
        idx = np.arange(N).reshape(g.shape)
        rows, cols, vals = [], [], []
        for k, (ap, am) in enumerate(self.weights(t)):
            a = idx
            b = _axis_roll_next(idx, k)
            mask = np.ones(g.shape, bool)
            if not g.periodic[k]:
                mask[_last_face(g.shape, k)] = False
            a, b, p, m = a[mask], b[mask], ap[mask], am[mask]
            # face rate F = p rho_a - m rho_b leaves a and enters b
            rows += [a, a, b, b]
            cols += [a, b, a, b]
            vals += [-p, m, p, -m]
        if not self.diagonal:
            for (r, c, v) in self._cross_entries(t):
                rows.append(r)
                cols.append(c)
                vals.append(v)
        A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(N, N))
        return A.tocsr()

    def _difference_terms(self, a, b, l, sign):
        """One-sided / central differences along axis l that make up d_l g at the faces (a -> b).

        Returns a list of ``(plus, minus, coef)``: d_l g at the face is
        ``sum coef * (g[plus] - g[minus])`` (``coef`` includes 1 / h_l and the averaging weights).
        ``central``: average of the central differences at a and b (one-sided at a wall).
        ``oriented`` (sign s of D_kl): average of the forward difference at b and the
        backward one at a for s > 0 (mirrored for s < 0), so the mixed stencil only couples
        the diagonal neighbours (i+1, j+s) and (i-1, j-s) positively: the 7-point stencil that
        is an M-matrix under diagonal dominance.  A half that would leave a no-flux
        grid is dropped and the other half counts fully.
        """
        g = self.grid
        hl = g.spacing[l]
        shape = g.shape
        lidx = np.broadcast_to(np.arange(shape[l]).reshape([-1 if i == l else 1 for i in range(g.dim)]), shape)
        nl = shape[l]
        per = g.periodic[l]
        up = lambda n: np.roll(n, -1, axis=l)    # noqa: E731  node + e_l (wraps)
        dn = lambda n: np.roll(n, 1, axis=l)     # noqa: E731  node - e_l (wraps)
        terms = []
        if self.mixed == "central":
            for node in (a, b):
                plus, minus = up(node), dn(node)
                width = np.full(shape, 2.0 * hl)
                if not per:
                    top, bot = lidx == nl - 1, lidx == 0
                    plus = np.where(top, node, plus)
                    minus = np.where(bot, node, minus)
                    width = np.where(top | bot, hl, width)
                terms.append((plus, minus, 0.5 / width))
            return terms
        s = 1.0 if sign > 0 else -1.0
        if s > 0:
            b_pm, a_pm = (up(b), b), (a, dn(a))            # forward at b, backward at a
            b_ok, a_ok = lidx < nl - 1, lidx > 0
        else:
            b_pm, a_pm = (b, dn(b)), (up(a), a)            # backward at b, forward at a
            b_ok, a_ok = lidx > 0, lidx < nl - 1
        if per:
            b_ok = a_ok = np.ones(shape, bool)
        wb = np.where(b_ok, np.where(a_ok, 0.5, 1.0), 0.0) / hl
        wa = np.where(a_ok, np.where(b_ok, 0.5, 1.0), 0.0) / hl
        terms.append((b_pm[0], b_pm[1], wb))
        terms.append((a_pm[0], a_pm[1], wa))
        return terms

    def _cross_terms(self, t: float):
        """Yield ``(k, a, b, m, coef)``: face (a -> b along k) rate ``sum coef * rho[m]`` (flat indices).

        Mixed flux ``J_k / h_k = -(D_kl / (beta h_k)) M_face d_l(rho / M)`` with
        ``M_face / M_m = exp(beta (f_m - f_face))``, ``f_face = (f_a + f_b) / 2``.
        """
        g, beta = self.grid, self.beta
        idx = np.arange(g.size).reshape(g.shape)
        f = None if self.kind == "drift" else self.potential_values(t)
        for k in range(g.dim):
            for l in range(g.dim):
                if l == k or self.D[k, l] == 0.0:
                    continue
                a = idx
                b = _axis_roll_next(idx, k)
                mask = np.ones(g.shape, bool)
                if not g.periodic[k]:
                    mask[_last_face(g.shape, k)] = False
                ff = None if f is None else 0.5 * (f + _axis_roll_next(f, k))
                base = -self.D[k, l] / (beta * g.spacing[k])
                for plus, minus, c in self._difference_terms(a, b, l, self.D[k, l]):
                    for nb, sign in ((plus, 1.0), (minus, -1.0)):
                        if f is None:
                            w = 1.0
                        else:
                            w = np.exp(np.clip(beta * (f.reshape(-1)[nb] - ff), -_EXP_CLIP, _EXP_CLIP))
                        coef = np.broadcast_to(sign * base * c * w, g.shape)
                        keep = mask & (coef != 0.0)
                        yield k, a[keep], b[keep], nb[keep], coef[keep]

    def _cross_entries(self, t: float):
        for k, a, b, m, coef in self._cross_terms(t):
            yield a, m, -coef
            yield b, m, coef

    def outflow(self, t: float) -> np.ndarray:
        """Total outflow rate of each node (the negated diagonal of A), shape grid.shape."""
        g = self.grid
        out = np.zeros(g.shape)
        for k, (ap, am) in enumerate(self.weights(t)):
            out += ap + np.roll(am, 1, axis=k)
        if not self.diagonal:
            out = -self.operator(t).diagonal().reshape(g.shape)
        return out


def _grid_array(name: str, v: Any, shape: tuple) -> np.ndarray:
    a = np.asarray(check_real(name, v), dtype=np.float64)
    if a.shape != tuple(shape):
        raise ValueError(f"`{name}` has shape {a.shape}, but the grid needs shape {tuple(shape)}.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"`{name}` must be finite everywhere; it has {int(np.count_nonzero(~np.isfinite(a)))} "
                         f"non-finite values.")
    return np.ascontiguousarray(a)


# ============================================================================= public helpers
def gibbs(potential, grid: Grid, beta: float = 1.0) -> np.ndarray:
    """Normalised discrete Gibbs density ``exp(-beta f) / Z``.

    Parameters
    ----------
    potential : ndarray of shape ``grid.shape`` or callable ``f(x)`` of points ``(..., d)``
    grid : Grid
    beta : float > 0

    Returns
    -------
    ndarray, shape ``grid.shape``, with ``sum(rho) * grid.cell_volume == 1``.
    Computed as ``exp(-beta (f - min f))`` so it never overflows.
    """
    beta = check_positive("beta", beta)
    if callable(potential):
        f = grid.sample(potential)
    elif hasattr(potential, "value") and not isinstance(potential, np.ndarray):
        f = grid.sample(potential.value)
    else:
        f = _grid_array("potential", potential, grid.shape)
    w = np.exp(-beta * (f - f.min()))
    return w / (w.sum() * grid.cell_volume)


def _log_gibbs(f: np.ndarray, beta: float, vol: float) -> np.ndarray:
    s = -beta * (f - f.min())
    return s - math.log(np.exp(s).sum() * vol)


def fokker_planck_operator(grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                           t: float = 0.0, time_dependent: Optional[bool] = None,
                           mixed: str = "oriented") -> sp.csr_matrix:
    """The discrete generator ``A`` (``d rho / dt = A rho``, rho flattened in C order).

    Sparse CSR, shape ``(N, N)`` with ``N = grid.size``.  Columns sum to zero;
    ``A @ gibbs(f).ravel() == 0`` to round-off for a potential.  Same arguments
    as :func:`solve_fokker_planck`; ``t`` is the time for time-dependent coefficients.
    """
    return _Problem(grid, potential, drift, beta, D, time_dependent, mixed).operator(float(t))


def explicit_dt_limit(grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                      t: float = 0.0, time_dependent: Optional[bool] = None, mixed: str = "oriented") -> float:
    """Forward-Euler positivity limit ``1 / max_i (outflow rate of node i)``.

    Per axis the outflow of node i is ``D_kk/(beta h_k^2) [B(z_{i+1/2}) + B(-z_{i-1/2})]``
    (``numerics.md`` C.1); with full ``D`` the diagonal of the assembled operator is used
    (positivity then also needs diagonal dominance).
    """
    pb = _Problem(grid, potential, drift, beta, D, time_dependent, mixed)
    return 1.0 / float(pb.outflow(float(t)).max())


def fokker_planck_steady_state(grid: Grid, *, potential=None, drift=None, beta: float = 1.0,
                               D=None, mixed: str = "oriented") -> np.ndarray:
    """Stationary density of the discrete operator, by a direct sparse solve.

    Solves ``A rho = 0`` with ``rho[j] = 1`` at one node ``j`` (row and column
    ``j`` removed, ``scipy.sparse.linalg.spsolve``), then normalises
    ``sum(rho) * cell_volume = 1``.  ``j`` is the minimum of f for a potential;
    for a drift it is the grid centre, and the solve is repeated at the
    argmax of the first answer.  Covers non-gradient drifts, whose steady state
    is not Gibbs.  Time-dependent coefficients are not allowed.

    On a 1-D no-flux grid the chain is birth-death and the null vector is the
    exact product ``rho_{i+1} / rho_i = exp(-z_i)`` (zero flux through every face).

    Limits: in 2-D/3-D the pinned sparse solve inherits the condition number of
    the chain.  For metastable problems (two wells separated by
    ``beta * barrier >~ 35``) float64 cannot resolve the relative well
    populations and the answer can be wrong by O(1) between the wells; use
    :func:`gibbs` for a gradient drift there.

    Returns
    -------
    ndarray, shape ``grid.shape``, non-negative, normalised.
    """
    pb = _Problem(grid, potential, drift, beta, D, False, mixed)
    return _steady(pb)


def _steady(pb: "_Problem") -> np.ndarray:
    """Null vector of the (time-independent) operator of ``pb``, normalised."""
    grid = pb.grid
    if grid.dim == 1 and not grid.periodic[0]:
        # a 1-D no-flux chain is birth-death: zero flux on every face gives
        # rho_{i+1} / rho_i = B(z_i) / B(-z_i) = exp(-z_i) exactly, a subtraction-free product.
        z = pb.peclet(0, 0.0)[:-1]
        logr = np.concatenate([[0.0], -np.cumsum(z)])
        j = int(np.argmax(logr))          # re-accumulate outwards from the peak: small sums, small round-off
        logr[j:] = np.concatenate([[0.0], -np.cumsum(z[j:])])
        logr[:j] = np.cumsum(z[:j][::-1])[::-1]
        rho = np.exp(logr - logr.max())
        return rho / (rho.sum() * grid.cell_volume)
    A = pb.operator(0.0).tocsc()
    N = grid.size
    if pb.kind == "potential":
        j = int(np.argmin(pb.potential_values(0.0)))
    else:
        j = int(np.ravel_multi_index(tuple(n // 2 for n in grid.shape), grid.shape))
    rho = None
    for _ in range(3):
        keep = np.ones(N, bool)
        keep[j] = False
        Ar = A[keep][:, keep]
        rhs = -np.asarray(A[keep][:, [j]].todense()).ravel()
        sol = spla.spsolve(Ar.tocsc(), rhs)
        rho = np.empty(N)
        rho[keep] = sol
        rho[j] = 1.0
        if not np.isfinite(rho).all():
            raise NonFiniteError("The steady-state solve produced non-finite values; the chain may be reducible "
                                 "(zero rates). Refine the grid or reduce beta.")
        jn = int(np.argmax(rho))
        if rho[jn] <= 1.0 + 1e-12:
            break
        j = jn
    if pb.diagonal:
        rho = np.maximum(rho, 0.0)    # M-matrix: any negative is LU round-off
    rho = rho.reshape(grid.shape)
    return rho / (rho.sum() * grid.cell_volume)


def probability_current(rho, grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                        t: float = 0.0, time_dependent: Optional[bool] = None, mixed: str = "oriented") -> tuple:
    """Discrete probability current through the faces, one array per axis.

    ``J[k][i]`` (shape ``grid.shape``) is the flux through the face between node
    ``i`` and node ``i + e_k`` (the wrap face for the last node of a periodic
    axis, 0 for the last node of a no-flux axis).  The scheme is
    ``d rho_i / dt = -sum_k (J[k][i] - J[k][i - e_k]) / h_k``; at a steady state
    this discrete divergence vanishes.
    """
    pb = _Problem(grid, potential, drift, beta, D, time_dependent, mixed)
    rho = _grid_array("rho", rho, grid.shape)
    J = []
    for k, (ap, am) in enumerate(pb.weights(float(t))):
        J.append(grid.spacing[k] * (ap * rho - am * _axis_roll_next(rho, k)))
    if not pb.diagonal:
        flat = rho.reshape(-1)
        Jf = [j.reshape(-1) for j in J]
        for k, a, b, m, coef in pb._cross_terms(float(t)):
            np.add.at(Jf[k], a, grid.spacing[k] * coef * flat[m])
    return tuple(J)


# ============================================================================= diagnostics
def _diagnostics(rho, f, beta, vol, log_ref):
    mass = float(rho.sum() * vol)
    mn = float(rho.min())
    pos = rho > 0
    if f is not None:
        r = rho[pos]
        F = float((f * rho).sum() * vol + (r * np.log(r)).sum() * vol / beta)
    else:
        F = float("nan")
    if log_ref is None or mass <= 0:
        kl = float("nan")
    else:
        p = rho[pos] / mass
        lr = log_ref[pos]
        kl = float("inf") if np.any(np.isneginf(lr)) else float((p * (np.log(p) - lr)).sum() * vol)
    return mass, mn, F, kl


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
        return _diagnostics(r, f, beta, vol, lr)

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
