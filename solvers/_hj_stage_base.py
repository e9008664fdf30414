"""What every generated CPU HJ kernel module shares: the compile options, the block sizes, the per-cell
functions bound for inlining, and two small inline helpers.

The modules :mod:`solvers._hj_stages_1d`, ``_2d`` and ``_3d`` are written by :mod:`solvers._hj_template`
and import everything below.  Their headers hold the hash of this file, so editing it fails
``tests/solvers/test_hj_generated.py`` until they are regenerated (which also invalidates numba's
on-disk cache of the kernels that inline these helpers).
"""

from __future__ import annotations

import functools

import numba

from . import jit as _jit
from ._hj_cell import make_cell
from .jit import prange

# IEEE semantics for float division (x / 0 -> inf or NaN instead of ZeroDivisionError): non-finite data
# must flow through to the NaN-sticky CFL slopes and stop the solve with a status, and the zero-divisor
# check of Python's error model is a branch in every WENO weight (it blocks vectorisation).
njit = functools.partial(_jit.njit, error_model="numpy")
pnjit = functools.partial(_jit.pnjit, error_model="numpy")

#: Cells per chunk of a 1-D line (the unit of work of the threaded 1-D kernels).
_CHUNK = 4096
#: Rows (2-D) or planes (3-D) per block of the 2-D/3-D kernels; each block has its own slope rows.
_ROWS_PER_BLOCK = 32

_cell = make_cell(functools.partial(numba.njit, inline="always"))
ham2, first, eno2, weno5 = _cell["ham2"], _cell["first"], _cell["eno2"], _cell["weno5"]
lap2, lap4, slope = _cell["lap2"], _cell["lap4"], _cell["slope"]


@njit(inline="always")
def _updr(c0, j, um1, c, up1, ih):
    """NaN-sticky running max of the CFL slope of a cell into entry ``j`` of the slope row ``c0``.

    The max inside ``slope`` drops a NaN in one of the two differences, but a non-finite value ``c``
    makes both non-finite at its own cell, and ghost values only copy or extrapolate interior ones,
    so a non-finite state always leaves a NaN or inf in the buffer; the running max keeps NaN.
    """
    d = slope(um1, c, up1, ih)
    cur = c0[j]
    c0[j] = d if (d > cur or d != d) else cur


@njit(inline="always")
def _fill_line(r, g, periodic):
    """Ghost cells at both ends of one padded line: periodic wrap or linear extrapolation."""
    m = r.shape[0]
    n = m - 2 * g
    if periodic:
        for s in range(g):
            r[s] = r[n + s]
            r[n + g + s] = r[g + s]
    else:
        first_ = r[g]
        slope_lo = first_ - r[g + 1]
        last = r[g + n - 1]
        slope_hi = last - r[g + n - 2]
        for s in range(1, g + 1):
            r[g - s] = first_ + s * slope_lo
            r[g + n - 1 + s] = last + s * slope_hi
