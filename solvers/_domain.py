"""Automatic domain padding for callable initial data.

For ``u(x, t) = min_y f(y) + |x-y|^2/(2t)`` (and its viscous, Gibbs-weighted
version) a point x of the grid only "sees" points y with

    f(y) + |x - y|^2 / (2t) <= f(x) + c / beta ,

where ``c / beta`` is the log-weight below which Gibbs terms are dropped
(``c = 40`` keeps everything above ``e^-40`` relative; ``c / beta = 0`` when beta
is infinite).  Since ``f(y) >= min f`` this gives the reach

    |x - y| <= R = sqrt(2 t (max_x f(x) - min_y f(y) + c / beta)).

:func:`padded_values` pads the grid by R (rounded up to whole cells), samples f
there, recomputes R with the minimum over the padded box, and repeats until the
padding no longer grows.  Inside the returned interior the solution then equals
the whole-space solution (up to ``e^-c`` for finite beta).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._memory import check_memory
from .errors import GridError
from .grid import Grid

#: Log-weight cut-off of the Gibbs kernel: terms below exp(-LOG_CUTOFF) are dropped.
LOG_CUTOFF = 40.0
#: The padded grid may hold at most this many times the nodes of the user grid.
MAX_PAD_FACTOR = 64


def views3(shape, k):
    """Axis ``k`` of a C-contiguous array of ``shape`` as ``(before, n_k, after)``: the kernels' 3-D view."""
    return (math.prod(shape[:k]), int(shape[k]), math.prod(shape[k + 1:]))


def shape3(shape):
    """``shape`` padded with trailing ones to three axes (the kernels take d <= 3 arrays as 3-D)."""
    return tuple(shape) + (1,) * (3 - len(shape))


def reach(t: float, osc: float, beta: float = math.inf, log_cutoff: float = LOG_CUTOFF) -> float:
    """Distance beyond which y cannot matter: ``sqrt(2 t (osc + log_cutoff / beta))``."""
    extra = 0.0 if math.isinf(beta) else log_cutoff / beta
    return math.sqrt(2.0 * t * (max(osc, 0.0) + extra))


def _check_sampling_memory(grid: Grid, padded: Grid, name: str, hint: str) -> None:
    """Points ``(N, d)`` plus values and a copy, for sampling ``f`` on ``padded`` (before doing it)."""
    d = grid.dim
    per_node = 8.0 * (d + 3)
    check_memory(f"sampling `{name}`", [
        ("grid.shape", per_node * grid.size, f"use a coarser grid than {tuple(grid.shape)}"),
        ("pad", per_node * (padded.size - grid.size),
         f"the domain padded for the callable `{name}` has shape {tuple(padded.shape)}; {hint}"),
    ])


def padded_values(f: Callable[[np.ndarray], np.ndarray], grid: Grid, t: float,
                  beta: float = math.inf, extra_cells: int = 2, *, name: str = "f",
                  hint: str = "use a shorter t, a larger domain, or pass grid values (an array) to solve "
                              "on the domain as given"):
    """Sample callable ``f`` on ``grid`` padded so that the interior is whole-space exact.

    ``name`` is the caller's argument name and ``hint`` its advice, used in error messages
    (too much padding, non-finite or complex values, memory).

    Returns
    -------
    padded : Grid
    values : ndarray, shape ``padded.shape``
    interior : tuple of slices selecting the user grid inside ``padded``
    """
    _check_sampling_memory(grid, grid, name, hint)
    vals = grid.sample(f, name=name)
    fmax = float(vals.max())
    fmin = float(vals.min())
    h = grid.spacing
    cells = tuple(0 for _ in h)
    for _ in range(20):
        r = reach(t, fmax - fmin, beta)
        new = tuple(0 if p else int(math.ceil(r / hk)) + extra_cells for hk, p in zip(h, grid.periodic))
        if all(n <= c for n, c in zip(new, cells)):
            break
        cells = tuple(max(n, c) for n, c in zip(new, cells))
        padded = grid.pad(cells)
        if padded.size > MAX_PAD_FACTOR * grid.size:
            raise GridError(
                f"Padding the domain for t={t:g}, beta={beta:g} needs {cells} extra cells per side "
                f"(reach {r:.3g} from an oscillation of `{name}` of {fmax - fmin:.3g}), more than "
                f"{MAX_PAD_FACTOR}x the grid; {hint}.")
        _check_sampling_memory(grid, padded, name, hint)
        pvals = padded.sample(f, name=name)
        fmin = min(fmin, float(pvals.min()))
    padded = grid.pad(cells)
    pvals = padded.sample(f, name=name)
    return padded, pvals, grid.interior(padded)
