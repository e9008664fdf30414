"""Exceptions and argument validators shared by every solver.

Each validator names the argument, states the constraint and shows the value it
received, e.g. ``"`beta` must be positive (beta > 0); got -1.0."``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class DeepRelaxError(Exception):
    """Base class of the package's own exceptions."""


class GridError(DeepRelaxError, ValueError):
    """A grid is malformed or too coarse for the requested problem."""


class SchemeError(DeepRelaxError, ValueError):
    """An unknown scheme or method name."""


class StabilityError(DeepRelaxError, ValueError):
    """A time step violates a stability or positivity limit."""


class NonFiniteError(DeepRelaxError, FloatingPointError):
    """A solver produced NaN or inf; the message says which step and how to fix it."""


class ConvergenceError(DeepRelaxError, RuntimeError):
    """An iteration did not converge."""


def check_positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """Return ``float(value)`` if it is > 0 (and finite unless ``allow_inf``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    if math.isnan(v) or v <= 0 or (math.isinf(v) and not allow_inf):
        extra = "" if allow_inf else " and finite"
        raise ValueError(f"`{name}` must be positive ({name} > 0{extra}); got {value!r}.")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is finite and >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"`{name}` must be finite and non-negative ({name} >= 0); got {value!r}.")
    return v


def check_finite_array(name: str, arr: Any, *, shape: tuple | None = None) -> np.ndarray:
    """Return ``arr`` as a C-contiguous float64 array, checking shape and finiteness."""
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
