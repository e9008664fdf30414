r"""Steady states, Gibbs densities, probability currents and the free-energy / KL diagnostics.

* :func:`gibbs` -- the normalised discrete Gibbs density ``exp(-beta f) / Z``, an exact null
  vector of the Scharfetter-Gummel operator of :mod:`solvers.fp_operator` for a potential.
* :func:`fokker_planck_steady_state` -- the null vector of that operator for any time-independent
  drift (non-gradient ones too), by a pinned sparse solve (:func:`null_vector`).
* :func:`null_vector` -- the one pinned-node null-vector solver, shared with the Ito operator
  (:mod:`solvers.ito_fokker_planck`).
* :func:`probability_current` -- the discrete face fluxes of a density.
* :func:`diagnostics` -- mass, minimum, free energy and KL of a saved density (``FPResult`` rows).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import scipy.sparse.linalg as spla

from .errors import NonFiniteError, check_positive
from .fp_operator import _axis_roll_next, _grid_array, _Problem, check_problem_memory
from .grid import Grid

__all__ = ["gibbs", "fokker_planck_steady_state", "probability_current", "null_vector", "diagnostics"]


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
    check_problem_memory("gibbs", grid)
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
    chain = isinstance(grid, Grid) and grid.dim == 1 and not grid.periodic[0]   # 1-D no-flux: no operator
    check_problem_memory("fokker_planck_steady_state", grid, D, operator=not chain, lu=not chain)
    pb = _Problem(grid, potential, drift, beta, D, False, mixed)
    return _steady(pb)


def null_vector(A, shape: tuple, cell_volume: float, j0: int, *, clip_negative: bool = False) -> np.ndarray:
    """Normalised null vector of a generator ``A`` (columns summing to zero) by a pinned sparse solve.

    Solves ``A rho = 0`` with ``rho[j] = 1`` at node ``j`` (row and column ``j`` removed,
    ``scipy.sparse.linalg.spsolve``), starting at ``j = j0``; if some ``|rho_i|`` exceeds 1 the
    solve is repeated pinned at that node (at most three solves), so the pinned node is the
    largest one and the solve divides by nothing small.

    Parameters
    ----------
    A : scipy sparse matrix, shape ``(N, N)``
    shape : tuple, with ``prod(shape) == N`` (C order)
    cell_volume : float
        The result is normalised to ``sum(rho) * cell_volume == 1``.
    j0 : int
        First pinned node (flat index).
    clip_negative : bool
        Set negative entries to 0 before normalising (for an M-matrix, where any negative is LU
        round-off).

    Returns
    -------
    ndarray, shape ``shape``.

    Raises
    ------
    NonFiniteError
        If the pinned solve is singular or overflows (a reducible chain).
    """
    A = A.tocsc()
    N = A.shape[0]
    j = int(j0)
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
        jn = int(np.argmax(np.abs(rho)))
        if abs(rho[jn]) <= 1.0 + 1e-12:
            break
        j = jn
    if clip_negative:
        rho = np.maximum(rho, 0.0)
    rho = rho.reshape(shape)
    return rho / (rho.sum() * cell_volume)


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
    if pb.kind == "potential":
        j = int(np.argmin(pb.potential_values(0.0)))
    else:
        j = int(np.ravel_multi_index(tuple(n // 2 for n in grid.shape), grid.shape))
    # diagonal D: an M-matrix, so any negative is LU round-off
    return null_vector(pb.operator(0.0), grid.shape, grid.cell_volume, j, clip_negative=pb.diagonal)


def probability_current(rho, grid: Grid, *, potential=None, drift=None, beta: float = 1.0, D=None,
                        t: float = 0.0, time_dependent: Optional[bool] = None, mixed: str = "oriented") -> tuple:
    """Discrete probability current through the faces, one array per axis.

    ``J[k][i]`` (shape ``grid.shape``) is the flux through the face between node
    ``i`` and node ``i + e_k`` (the wrap face for the last node of a periodic
    axis, 0 for the last node of a no-flux axis).  The scheme is
    ``d rho_i / dt = -sum_k (J[k][i] - J[k][i - e_k]) / h_k``; at a steady state
    this discrete divergence vanishes.
    """
    check_problem_memory("probability_current", grid, D)
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


def diagnostics(rho, f, beta, vol, log_ref):
    """``(mass, min, free energy, KL)`` of a density ``rho`` (``FPResult`` rows).

    ``f``: potential on the nodes (None: free energy NaN); ``log_ref``: log of the normalised
    reference density (None: KL NaN).
    """
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
        r = rho[pos]
        p = r / mass
        lr = log_ref[pos]
        # log p = log rho - log mass: p itself may underflow to 0 where rho is subnormal
        kl = float("inf") if np.any(np.isneginf(lr)) else float((p * (np.log(r) - np.log(mass) - lr)).sum() * vol)
    return mass, mn, F, kl


