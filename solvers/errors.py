"""Exceptions and argument validators shared by every solver.

Each validator names the argument, states the constraint and shows the value it
received, e.g. ``"`beta` must be positive (beta > 0); got -1.0."``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class SolverError(Exception):
    """Base class of the engine's own exceptions (every exception raised on purpose by :mod:`solvers`)."""


#: Former name of :class:`SolverError`, kept so that ``except DeepRelaxError`` still catches everything.
DeepRelaxError = SolverError


class GridError(SolverError, ValueError):
    """A grid is malformed or too coarse for the requested problem."""


class SchemeError(SolverError, ValueError):
    """An unknown scheme or method name."""


class StabilityError(SolverError, ValueError):
    """A time step violates a stability or positivity limit."""


class NonFiniteError(SolverError, FloatingPointError):
    """A solver produced NaN or inf; the message says which step and how to fix it."""


class ConvergenceError(SolverError, RuntimeError):
    """An iteration did not converge."""


class MemoryBudgetError(SolverError, MemoryError):
    """A request would need more memory than the budget (see :mod:`solvers._memory`).

    Raised *before* the large allocations; the message names the argument to
    change (grid shape, ``save_at``, padding, ...) and the estimated size.
    """


class CheckpointError(SolverError, ValueError):
    """A checkpoint file cannot be resumed from: unreadable, truncated, corrupted, or of another problem."""


class CudaUnavailableError(SolverError, RuntimeError):
    """``backend="cuda"`` was requested but neither a GPU nor the CUDA simulator is usable."""


class CheckpointWarning(RuntimeWarning):
    """Writing a checkpoint failed during a run; the run continued without it."""


def check_positive(name: str, value: Any, *, allow_inf: bool = False, hint: str = "") -> float:
    """Return ``float(value)`` if it is > 0 (and finite unless ``allow_inf``); ``hint`` joins the constraint."""
    check_real(name, value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        extra = ("" if allow_inf else " and finite") + (f"; {hint}" if hint else "")
        raise ValueError(f"`{name}` must be positive ({name} > 0{extra}); got {value!r}.")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is finite and >= 0."""
    check_real(name, value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"`{name}` must be finite and non-negative ({name} >= 0); got {value!r}.")
    return v


def check_real(name: str, value: Any) -> Any:
    """Raise ``TypeError`` if ``value`` (a number, an array or a nested sequence) is complex.

    NumPy would otherwise drop the imaginary part with only a ``ComplexWarning``.
    Returns ``value`` unchanged.
    """
    if isinstance(value, (complex, np.complexfloating)) or (
            not callable(value) and not isinstance(value, (str, bytes)) and np.iscomplexobj(value)):
        kind = "array" if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"`{name}` must be real; got a complex {kind}. Pass np.real(...) explicitly "
                        f"if the imaginary part should be dropped.")
    return value


def check_finite_array(name: str, arr: Any, *, shape: tuple | None = None) -> np.ndarray:
    """Return ``arr`` as a C-contiguous float64 array, checking realness, shape and finiteness."""
    check_real(name, arr)
    a = np.ascontiguousarray(arr, dtype=np.float64)
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"`{name}` has shape {a.shape}, but the grid needs shape {tuple(shape)}.")
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(
            f"`{name}` must be finite everywhere; got {float(a[tuple(bad)])!r} at index {tuple(int(i) for i in bad)} "
            f"({int(np.count_nonzero(~np.isfinite(a)))} non-finite values in all)."
        )
    return a


def check_count(name: str, value: Any, *, minimum: int = 0, hint: str = "") -> int:
    """Return ``int(value)`` if it is an integer (not a bool, not a float) >= ``minimum``; ``hint`` (what
    the count is) joins the constraint in parentheses."""
    what = f" ({hint})" if hint else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer >= {minimum}{what}; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}{what}; got {value!r}.")
    return int(value)
