r"""The discrete Fokker-Planck operator: validated coefficients, Scharfetter-Gummel face rates, sparse assembly.

This module holds the *space* discretisation used by :func:`solvers.fokker_planck.solve_fokker_planck`
(equations and time stepping are described there), by the steady-state tools of
:mod:`solvers.fp_steady` and by the steppers (:mod:`solvers._fp_stepper`, :mod:`solvers._cuda_fp`).

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


Contents
--------
:class:`_Problem` (internal) validates ``potential`` / ``drift`` / ``D`` once and serves the face
rates ``(ap, am)`` per axis (:meth:`_Problem.weights`, the input of every stepper), the sparse
generator (:meth:`_Problem.operator`) and the node outflow rates; :func:`fokker_planck_operator`
and :func:`explicit_dt_limit` are its public faces.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

from . import _fp_kernels as K
from ._memory import check_memory
from .errors import SchemeError, check_positive, check_real
from .grid import Grid

__all__ = ["fokker_planck_operator", "explicit_dt_limit", "MIXED_STENCILS"]

#: Discretisations of the mixed (off-diagonal D) fluxes.
MIXED_STENCILS = ("oriented", "central")
#: Exponents of the mixed-term weights are clipped here to avoid overflow.
_EXP_CLIP = 700.0


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


def check_problem_memory(where: str, grid, D=None, *, operator: bool = False, lu: bool = False) -> float:
    """Estimated bytes of building one problem's coefficients (and its sparse operator, and a sparse LU
    of it); raises :class:`~solvers.errors.MemoryBudgetError` over the budget, before allocating.

    Counted: the sampled points and coefficients (about ``4 d + 3`` float64 per node); the operator in
    COO and CSR form (about 40 bytes per non-zero: ``2 d + 1`` per node, plus ``2 d (d - 1)`` for the
    mixed stencil of a full ``D``); an LU with about 20 times the operator's fill (as
    :func:`solvers.solve_fokker_planck` counts it).  Returns the estimate (0 if ``grid`` is not a Grid:
    the caller's validation says so).
    """
    if not isinstance(grid, Grid):
        return 0.0
    d, n = grid.dim, float(grid.size)
    Dm = _check_D(D, d)
    diagonal = bool(np.all(Dm == np.diag(np.diag(Dm))))
    nnz = n * (2 * d + 1 + (0 if diagonal else 2 * d * (d - 1)))
    need = 8.0 * n * (4 * d + 3) + (40.0 * nnz if operator else 0.0) + (12.0 * 20.0 * n * 3 ** d if lu else 0.0)
    return check_memory(where, [("grid.shape", need, f"use a coarser grid than {tuple(grid.shape)}"
                                 + ("; the steady state needs a sparse LU of the whole operator" if lu else ""))])


def fokker_planck_operator(grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                           t: float = 0.0, time_dependent: Optional[bool] = None,
                           mixed: str = "oriented") -> sp.csr_matrix:
    """The discrete generator ``A`` (``d rho / dt = A rho``, rho flattened in C order).

    Sparse CSR, shape ``(N, N)`` with ``N = grid.size``.  Columns sum to zero;
    ``A @ gibbs(f).ravel() == 0`` to round-off for a potential.  Same arguments
    as :func:`solve_fokker_planck`; ``t`` is the time for time-dependent coefficients.
    """
    check_problem_memory("fokker_planck_operator", grid, D, operator=True)
    return _Problem(grid, potential, drift, beta, D, time_dependent, mixed).operator(float(t))


def explicit_dt_limit(grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                      t: float = 0.0, time_dependent: Optional[bool] = None, mixed: str = "oriented") -> float:
    """Forward-Euler positivity limit ``1 / max_i (outflow rate of node i)``.

    Per axis the outflow of node i is ``D_kk/(beta h_k^2) [B(z_{i+1/2}) + B(-z_{i-1/2})]``
    (``numerics.md`` C.1); with full ``D`` the diagonal of the assembled operator is used
    (positivity then also needs diagonal dominance).
    """
    check_problem_memory("explicit_dt_limit", grid, D, operator=True)
    pb = _Problem(grid, potential, drift, beta, D, time_dependent, mixed)
    return 1.0 / float(pb.outflow(float(t)).max())


