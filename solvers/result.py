"""Frozen result dataclasses shared by every solver.

Every solver returns a frozen dataclass derived from :class:`Result`.  Arrays
keep their natural shapes (documented per class); ``grid`` is the
:class:`~solvers.grid.Grid` the arrays live on.  Classes register themselves
with :func:`register_result` so that :mod:`deeprelax.io` can write any result
to HDF5 and rebuild the same class on load.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .grid import Grid

#: name -> class, filled by :func:`register_result`; used by ``deeprelax.io.load``.
RESULT_TYPES: dict = {}


def register_result(cls):
    """Class decorator: make a result class known to the HDF5 reader."""
    RESULT_TYPES[cls.__name__] = cls
    return cls


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        if v.size == 0:
            return f"array{v.shape}"
        fin = v[np.isfinite(v)] if v.dtype.kind == "f" else v
        rng = f", range [{fin.min():.4g}, {fin.max():.4g}]" if fin.size and v.dtype.kind in "fiu" else ""
        return f"array{v.shape}{rng}"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_short(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"{type(v).__name__}(len={len(v)})"
    return repr(v)


_new = object.__new__


def fast_result(cls, **fields):
    """``cls(**fields)`` for a result class, without the frozen dataclass's ``__init__``.

    That ``__init__`` sets each field through ``object.__setattr__``: 1.0 us for the nine fields of
    :class:`HopfLaxResult`, 4% of a 4096-node 1-D Hopf-Lax solve; filling the instance dict directly
    takes 0.3 us and makes the same object.  ``fields`` must name every field, defaults included
    (there is no ``__post_init__`` to skip); the test suite checks the objects agree.
    """
    obj = _new(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True, repr=False)
class Result:
    """Base class: a readable multi-line repr and a dict view."""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for f in dataclasses.fields(self):
            lines.append(f"  {f.name}={_short(getattr(self, f.name))},")
        lines.append(")")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Field name -> value (shallow)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes):
        """A copy with some fields replaced (results are frozen)."""
        return dataclasses.replace(self, **changes)

    def plot(self, ax=None, **kw):
        """The natural picture of this result on a matplotlib ``ax`` (new figure if None); returns ``ax``.

        One implementation per result class in :mod:`solvers.views` (keywords documented there).
        """
        from .views import plot

        return plot(self, ax=ax, **kw)

    def to_xarray(self):
        """An ``xarray.Dataset`` with coordinates (x, t, ...) and attributes (t, beta, scheme, ...).

        Needs the optional extra ``pip install "deeprelax[xarray]"`` (:mod:`solvers.views`); then
        ``.to_netcdf(path)`` and ``.to_dataframe()`` come for free.
        """
        from .views import to_xarray

        return to_xarray(self)


@register_result
@dataclass(frozen=True, repr=False)
class HopfLaxResult(Result):
    """Exact non-viscous (Hopf-Lax / Moreau envelope) solution.

    ``u(x, t) = min_y f(y) + |x - y|^2 / (2 t)``, ``prox = argmin``, ``grad = (x - prox) / t``.

    Attributes
    ----------
    u : ndarray, shape ``grid.shape``
    prox : ndarray, shape ``grid.shape + (d,)``
    grad : ndarray, shape ``grid.shape + (d,)``
    grid : Grid
    t : float
    method : str
    wall_time, compile_time : float, seconds
    params : dict of extra settings (refinement, padding, ...)
    """

    u: np.ndarray
    prox: np.ndarray
    grad: np.ndarray
    grid: Grid
    t: float
    method: str = "lower-envelope"
    wall_time: float = 0.0
    compile_time: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def beta(self) -> float:
        return float("inf")


@register_result
@dataclass(frozen=True, repr=False)
class ColeHopfResult(Result):
    """Exact viscous solution by Cole-Hopf.

    ``u = -(1/beta) log(G_{t/beta} * exp(-beta f))``; ``mean = <y>`` under
    ``rho(y|x) ~ exp(-beta [f(y) + |x-y|^2/(2t)])``; ``grad = (x - mean) / t``.

    Attributes
    ----------
    u : ndarray, shape ``grid.shape``
    grad, mean : ndarray, shape ``grid.shape + (d,)``
    grid : Grid
    t, beta : float
    method : str ("quadrature" when sqrt(t/beta) is resolved, "linear-exact" otherwise)
    wall_time, compile_time : float, seconds
    params : dict
    """

    u: np.ndarray
    grad: np.ndarray
    mean: np.ndarray
    grid: Grid
    t: float
    beta: float
    method: str = "quadrature"
    wall_time: float = 0.0
    compile_time: float = 0.0
    params: dict = field(default_factory=dict)
