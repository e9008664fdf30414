"""Ghost cells for the finite-difference solvers.

A state of interior shape ``n`` is stored in an array padded by ``g`` ghost cells
on both sides of every axis.  :func:`fill_ghosts` overwrites the ghosts in place:

* periodic axis: ``u[-m] = u[n - m]`` and ``u[n - 1 + m] = u[m - 1]`` (wrap-around);
* other axes: linear extrapolation from the two outermost interior values,
  ``u[-m] = u[0] + m (u[0] - u[1])`` and ``u[n - 1 + m] = u[n - 1] + m (u[n - 1] - u[n - 2])``,
  for ``m = 1 .. g``.  It is exact for affine data, makes the central second
  difference vanish at the boundary node, and lets characteristics leave the
  domain (an outflow condition).

Axes are filled in order, so edge and corner ghosts are filled too (the axis-aligned
stencils never read them).
"""
from __future__ import annotations

import numpy as np


def pad_array(u: np.ndarray, g: int) -> np.ndarray:
    """A C-contiguous float64 copy of ``u`` with ``g`` (unfilled, zero) ghost cells per side."""
    out = np.zeros(tuple(n + 2 * g for n in u.shape))
    out[tuple(slice(g, g + n) for n in u.shape)] = u
    return out


def interior(U: np.ndarray, g: int) -> np.ndarray:
    """View of the interior of a padded array."""
    return U[tuple(slice(g, n - g) for n in U.shape)]


def _sl(ndim: int, axis: int, s) -> tuple:
    idx = [slice(None)] * ndim
    idx[axis] = s
    return tuple(idx)


def fill_ghosts(U: np.ndarray, g: int, periodic) -> np.ndarray:
    """Fill the ghost cells of the padded array ``U`` in place and return it.

    Parameters
    ----------
    U : ndarray, shape ``n_k + 2 g`` per axis
    g : int, ghost width (>= 1)
    periodic : sequence of bool, one per axis
    """
    d = U.ndim
    for k in range(d):
        m = U.shape[k]
        n = m - 2 * g
        # axes < k are complete (ghosts included); on axes > k only the interior is set yet, so
        # the pass along k reads and writes that range only (never unset ghost memory)
        idx = [slice(None)] * k + [None] + [slice(g, U.shape[i] - g) for i in range(k + 1, d)]

        def at(s):
            idx[k] = s
            return tuple(idx)

        if periodic[k]:
            U[at(slice(0, g))] = U[at(slice(n, n + g))]
            U[at(slice(n + g, m))] = U[at(slice(g, 2 * g))]
        else:
            first = U[at(g)]
            slope_lo = first - U[at(g + 1)]
            last = U[at(g + n - 1)]
            slope_hi = last - U[at(g + n - 2)]
            for j in range(1, g + 1):
                U[at(g - j)] = first + j * slope_lo
                U[at(g + n - 1 + j)] = last + j * slope_hi
    return U
