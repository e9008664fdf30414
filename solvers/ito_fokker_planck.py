r"""Itô-form Fokker-Planck operator with a state-dependent diffusion matrix (finite volumes, no-flux walls).

.. math:: \rho_t = \nabla\cdot\big(g\,\rho + \beta^{-1}\nabla\cdot(D(x)\,\rho)\big)

for a force field ``g`` (``grad f``, or any vector field: ``dx = -g dt + sqrt(2 D / beta) dW``) and a
symmetric ``D(x)`` with positive diagonal (divergence of a matrix taken column-wise).  Flux
``J_k = -g_k rho - beta^{-1} sum_l d_l (D_kl rho)`` on the faces of a cell-centred grid.
This is the operator of continuous-time SGD (:mod:`deeprelax.sgd_noise`); the constant-``D``
divergence-form equation is :mod:`solvers.fokker_planck`.

* Diagonal part (numerics.md §C.2): with ``w = D_kk rho``,
  ``J_k = -(g_k / D_kk) w - beta^{-1} d_k w``; Scharfetter-Gummel in ``w``:
  ``J_{i+1/2} = (1/(beta h)) [B(z) w_i - B(-z) w_{i+1}]``, ``z = beta h (g_k / D_kk)_{i+1/2}``,
  ``B(z) = z / (e^z - 1)`` (:func:`solvers._fp_kernels.bernoulli_array`).  With ``potential=f`` the
  face value of ``g_k`` is ``(f_{i+1} - f_i)/h``; for constant ``D = c I`` the discrete Gibbs density
  ``exp(-beta f / c)`` is then an exact null vector.
* Mixed part ``-beta^{-1} d_l (D_kl rho)``, ``l != k``: central differences of ``q = D_kl rho`` along
  ``l`` at the two face nodes (one-sided at a wall), averaged.  Second order; not an M-matrix in
  general (numerics.md §C.2), so tiny negative values can appear where rho is ~0.

The operator is ``A = sum_k Div_k C_k`` with the face-flux matrices ``C_k`` (:func:`ito_current`)
and the face divergence ``Div_k``; mass is conserved exactly (columns sum to zero).

Steady state: null vector of ``A`` (one node pinned, sparse LU; :func:`solvers.fp_steady.null_vector`),
normalised to ``sum rho * vol = 1``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._fp_kernels import bernoulli_array
from ._memory import check_memory
from .errors import GridError, NonFiniteError, check_positive, check_real
from .fp_steady import null_vector
from .grid import Grid

__all__ = ["ito_operator", "ito_current", "ito_steady_state", "diffusion_values"]


def _check_grid(grid):
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a solvers.grid.Grid; got {type(grid).__name__}.")
    if any(grid.periodic):
        raise GridError("`grid` must be non-periodic for the Itô operator (no-flux walls); got periodic axes "
                        f"{grid.periodic}.")
    if min(grid.shape) < 3:
        raise GridError(f"`grid` needs at least 3 nodes per axis; got shape {grid.shape}.")


def diffusion_values(D, pts, d: int) -> np.ndarray:
    """``D`` at points ``pts`` of shape ``(..., d)``, as an array of shape ``(..., d, d)``.

    ``D``: None (identity), a scalar, a per-axis diagonal ``(d,)``, a matrix ``(d, d)`` or a
    callable ``D(x)`` mapping ``(..., d)`` to ``(..., d, d)``.
    """
    shp = pts.shape[:-1]
    if D is None:
        return np.broadcast_to(np.eye(d), shp + (d, d))
    if callable(D):
        v = np.asarray(check_real("D(x)", D(pts)), dtype=np.float64)
        if v.shape != shp + (d, d):
            raise ValueError(f"`D(x)` must return shape {shp + (d, d)}; got {v.shape}.")
        return v
    a = np.asarray(D, dtype=np.float64)
    if a.ndim == 0:
        M = float(a) * np.eye(d)
    elif a.shape == (d,):
        M = np.diag(a)
    elif a.shape == (d, d):
        M = a
    else:
        raise ValueError(f"`D` must be None, a scalar, shape ({d},), ({d}, {d}) or a callable; got shape {a.shape}.")
    return np.broadcast_to(M, shp + (d, d))


def _face_pts(grid, k):
    mesh = grid.mesh()
    sl = [slice(None)] * grid.dim
    sl[k] = slice(0, grid.shape[k] - 1)
    p = mesh[tuple(sl)].copy()
    p[..., k] += 0.5 * grid.spacing[k]
    return p


def _assemble(grid, force, potential, D, beta):
    _check_grid(grid)
    beta = check_positive("beta", beta)
    if (force is None) == (potential is None):
        raise ValueError("Give exactly one of `force` (vector field g, dx = -g dt + ...) and `potential` (f).")
    d = grid.dim
    shape = grid.shape
    Nn = int(np.prod(shape))
    # nodes, D at nodes and faces, the force, index arrays; ~ (2 d + 1) + 4 d (d - 1) non-zeros per row of
    # each face-flux matrix, in COO and CSR (about 40 bytes each), and the product A
    nnz = Nn * d * (2 + 4 * (d - 1))
    check_memory("ito_operator", [("grid.shape", 8.0 * Nn * (3 * d * d + 4 * d + 4) + 3 * 40.0 * nnz,
                                   f"use a coarser grid than {tuple(shape)}")])
    for name, v in (("force", force), ("potential", potential), ("D", D)):
        check_real(name, v)
    idx = np.arange(Nn).reshape(shape)
    mesh = grid.mesh()
    Dn = np.ascontiguousarray(diffusion_values(D, mesh, d))
    if not np.all(np.isfinite(Dn)):
        raise NonFiniteError("`D` is not finite on the grid.")
    if np.any(np.einsum("...kk->...k", Dn) <= 0):
        raise ValueError("`D` must have a positive diagonal (D_kk > 0) at every node.")
    if potential is not None:
        fv = np.asarray(check_real("potential(x)", potential(mesh)) if callable(potential) else potential,
                        dtype=np.float64)
        if fv.shape != shape:
            raise ValueError(f"`potential` must have shape {shape}; got {fv.shape}.")
    elif not callable(force):
        gv = np.asarray(force, dtype=np.float64)
        if gv.shape != shape + (d,):
            raise ValueError(f"`force` array must have shape {shape + (d,)}; got {gv.shape}.")
    Cs, Divs = [], []
    for k in range(d):
        h = grid.spacing[k]
        sl_l = [slice(None)] * d
        sl_r = [slice(None)] * d
        sl_l[k] = slice(0, shape[k] - 1)
        sl_r[k] = slice(1, shape[k])
        L = idx[tuple(sl_l)].ravel()
        R = idx[tuple(sl_r)].ravel()
        nf = L.size
        fp = _face_pts(grid, k)
        if callable(D):
            Dkk_f = diffusion_values(D, fp, d)[..., k, k].ravel()
        else:
            Dkk_f = 0.5 * (Dn[tuple(sl_l)][..., k, k] + Dn[tuple(sl_r)][..., k, k]).ravel()
        if potential is not None:
            gk = ((fv[tuple(sl_r)] - fv[tuple(sl_l)]) / h).ravel()
        elif callable(force):
            gk = np.asarray(check_real("force(x)", force(fp)), dtype=np.float64)[..., k].ravel()
        else:
            gk = 0.5 * (gv[tuple(sl_l)][..., k] + gv[tuple(sl_r)][..., k]).ravel()
        if not (np.all(np.isfinite(gk)) and np.all(np.isfinite(Dkk_f))):
            raise NonFiniteError(f"non-finite force or D on the faces of axis {k}.")
        z = beta * h * gk / Dkk_f
        Dkk_n = Dn[..., k, k].ravel()
        rows = [np.arange(nf), np.arange(nf)]
        cols = [L, R]
        vals = [bernoulli_array(z) * Dkk_n[L] / (beta * h), -bernoulli_array(-z) * Dkk_n[R] / (beta * h)]
        # mixed terms -beta^{-1} d_l (D_kl rho) averaged over the two face nodes
        for l in range(d):
            if l == k:
                continue
            Dkl = Dn[..., k, l].ravel()
            if not np.any(Dkl):
                continue
            hl = grid.spacing[l]
            il = np.unravel_index(np.arange(Nn), shape)[l]
            for nodes in (L, R):
                pos = il[nodes]
                up = nodes + np.where(pos < shape[l] - 1, idx.strides[l] // idx.itemsize, 0)
                dn = nodes - np.where(pos > 0, idx.strides[l] // idx.itemsize, 0)
                span = np.where((pos > 0) & (pos < shape[l] - 1), 2.0, 1.0) * hl
                w = -0.5 / (beta * span)
                rows += [np.arange(nf), np.arange(nf)]
                cols += [up, dn]
                vals += [w * Dkl[up], -w * Dkl[dn]]
        C = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nf, Nn))
        Div = sp.csr_matrix((np.concatenate([-np.ones(nf) / h, np.ones(nf) / h]),
                             (np.concatenate([L, R]), np.concatenate([np.arange(nf), np.arange(nf)]))),
                            shape=(Nn, nf))
        Cs.append(C)
        Divs.append(Div)
    return Cs, Divs


def ito_operator(grid: Grid, *, force=None, potential=None, D=None, beta: float = 1.0) -> sp.csr_matrix:
    r"""Finite-volume generator ``A`` of ``rho_t = div(g rho + beta^{-1} div(D(x) rho))`` (``d rho/dt = A rho``).

    Parameters
    ----------
    grid : Grid (non-periodic, >= 3 nodes per axis)
    force : callable ``g(x)`` ((..., d) -> (..., d)) or array ``grid.shape + (d,)``
        The force field (``grad f`` for SGD; any vector field).  Evaluated at face midpoints.
    potential : callable ``f(x)`` or array ``grid.shape``
        Alternative to ``force`` for ``g = grad f``: face values ``(f_{i+1} - f_i)/h`` (exact discrete
        Gibbs for constant ``D = c I``).
    D : None (identity), scalar, (d,), (d, d), or callable ``D(x)`` ((..., d) -> (..., d, d))
        Symmetric diffusion matrix with positive diagonal.
    beta : float > 0

    Returns
    -------
    scipy.sparse.csr_matrix, shape (N, N) with ``N = grid.size`` (C order), columns summing to 0.
    """
    Cs, Divs = _assemble(grid, force, potential, D, beta)
    A = Divs[0] @ Cs[0]
    for C, Dv in zip(Cs[1:], Divs[1:]):
        A = A + Dv @ C
    return A.tocsr()


def ito_current(rho, grid: Grid, *, force=None, potential=None, D=None, beta: float = 1.0) -> tuple:
    """Face fluxes ``J_k`` of the Itô operator; ``J[k]`` has ``grid.shape`` with axis ``k`` shortened by one.

    ``d rho/dt = -sum_k D_k J_k`` (face divergence); at the steady state it vanishes to round-off.
    """
    Cs, _ = _assemble(grid, force, potential, D, beta)
    rho = np.asarray(check_real("rho", rho), dtype=np.float64)
    if rho.shape != grid.shape:
        raise ValueError(f"`rho` must have shape {grid.shape}; got {rho.shape}.")
    out = []
    for k, C in enumerate(Cs):
        shp = list(grid.shape)
        shp[k] -= 1
        out.append((C @ rho.ravel()).reshape(shp))
    return tuple(out)


def ito_steady_state(grid: Grid, *, force=None, potential=None, D=None, beta: float = 1.0,
                     return_operator: bool = False):
    """Normalised null vector of :func:`ito_operator` (``sum(rho) * cell_volume = 1``); shape ``grid.shape``.

    With ``return_operator=True`` returns ``(rho, A)``.
    """
    A = ito_operator(grid, force=force, potential=potential, D=D, beta=beta)
    rho = null_vector(A, grid.shape, grid.cell_volume, A.shape[0] // 2)
    return (rho, A) if return_operator else rho
