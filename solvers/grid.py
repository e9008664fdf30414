"""Uniform Cartesian grids in 1, 2 or 3 dimensions.

A :class:`Grid` owns the geometry: bounds, number of points, spacing, and
whether each axis is periodic.  Non-periodic axes hold ``n`` nodes from ``lo``
to ``hi`` inclusive (spacing ``(hi - lo) / (n - 1)``).  Periodic axes exclude
the right endpoint, which is the image of ``lo`` (spacing ``(hi - lo) / n``).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import GridError

MAX_DIM = 3
#: Most nodes along one axis (the kernels index lines with 32-bit integers).
MAX_NODES_PER_AXIS = 2 ** 31 - 1


def _node_count(name: str, v) -> int:
    """An integer number of nodes: ints, or floats with an integral value (10.0); never 10.5 or "10"."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)):
        raise GridError(f"`{name}` must be an integer number of nodes; got {v!r} ({type(v).__name__}).")
    if isinstance(v, (float, np.floating)) and not (np.isfinite(v) and float(v).is_integer()):
        raise GridError(f"`{name}` must be an integer number of nodes; got {v!r}.")
    return int(v)


@dataclass(frozen=True)
class Grid:
    """A uniform Cartesian grid.

    Attributes
    ----------
    lo, hi : tuple of float, length d
        Lower and upper bounds of each axis.
    shape : tuple of int, length d
        Number of nodes along each axis.
    periodic : tuple of bool, length d
        Whether each axis is periodic (right endpoint excluded).

    Examples
    --------
    >>> g = Grid.uniform([(-3, 3)], 601)
    >>> g.spacing
    (0.01,)
    >>> u = g.sample(lambda x: (x ** 2).sum(-1))   # x has shape grid.shape + (d,)
    """

    lo: tuple
    hi: tuple
    shape: tuple
    periodic: tuple

    def __post_init__(self):
        d = len(self.shape)
        if not 1 <= d <= MAX_DIM:
            raise GridError(f"`shape` must have 1 to {MAX_DIM} axes; got {d} ({self.shape}).")
        if not (len(self.lo) == len(self.hi) == len(self.periodic) == d):
            raise GridError("`lo`, `hi`, `shape` and `periodic` must all have one entry per axis.")
        for k in range(d):
            lo, hi, n = self.lo[k], self.hi[k], self.shape[k]
            if not (np.isfinite(lo) and np.isfinite(hi)) or not hi > lo:
                raise GridError(f"`bounds[{k}]` must be finite with lo < hi; got ({lo}, {hi}).")
            if not np.isfinite(hi - lo):
                raise GridError(f"`bounds[{k}]` = ({lo}, {hi}): the width hi - lo overflows float64; "
                                f"use bounds with |hi - lo| < 1.7e308 (rescale the problem).")
            nmin = 2 if self.periodic[k] else 3
            if int(n) != n or n < nmin:
                raise GridError(f"`shape[{k}]` must be an integer >= {nmin}; got {n}.")
            if n > MAX_NODES_PER_AXIS:
                raise GridError(f"`shape[{k}]` = {n} exceeds {MAX_NODES_PER_AXIS} nodes per axis.")
            h = (hi - lo) / (n if self.periodic[k] else n - 1)
            if not h >= 1e3 * np.finfo(float).eps * max(abs(lo), abs(hi), np.finfo(float).tiny) \
                    or h < np.finfo(float).tiny:
                raise GridError(f"axis {k}: spacing {h:.3g} on ({lo}, {hi}) with {n} nodes is below float64 "
                                f"resolution (nodes would coincide); use fewer nodes or rescale the bounds.")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def uniform(cls, bounds: Sequence[Sequence[float]], shape: int | Sequence[int],
                periodic: bool | Sequence[bool] = False) -> "Grid":
        """Build a grid from ``bounds = [(lo, hi), ...]`` and ``shape`` (int or tuple).

        An int ``shape`` is used for every axis.  ``periodic`` is one bool for all
        axes or one per axis.
        """
        try:
            b = [tuple(float(v) for v in pair) for pair in bounds]
        except TypeError:
            raise GridError(f"`bounds` must be a list of (lo, hi) pairs; got {bounds!r}.") from None
        if any(len(p) != 2 for p in b):
            raise GridError(f"`bounds` must be a list of (lo, hi) pairs; got {bounds!r}.")
        d = len(b)
        if np.isscalar(shape):
            shp = (_node_count("shape", shape),) * d
        else:
            shp = tuple(_node_count(f"shape[{k}]", s) for k, s in enumerate(shape))
            if len(shp) != d:
                raise GridError(f"`shape` has {len(shp)} entries but `bounds` has {d} axes.")
        if isinstance(periodic, (bool, np.bool_)):
            per = (bool(periodic),) * d
        else:
            per = tuple(bool(p) for p in periodic)
            if len(per) != d:
                raise GridError(f"`periodic` has {len(per)} entries but `bounds` has {d} axes.")
        return cls(tuple(p[0] for p in b), tuple(p[1] for p in b), shp, per)

    @classmethod
    def with_spacing(cls, bounds: Sequence[Sequence[float]], spacing: float | Sequence[float],
                     periodic: bool | Sequence[bool] = False) -> "Grid":
        """A non-periodic or periodic grid covering at least ``bounds`` with the given spacing.

        The upper bound is moved outwards (never inwards) to fit a whole number of cells.
        """
        d = len(bounds)
        try:
            hs = (float(spacing),) * d if np.isscalar(spacing) else tuple(float(h) for h in spacing)
        except (TypeError, ValueError):
            raise GridError(f"`spacing` must be a positive number or one per axis; got {spacing!r}.") from None
        per = (bool(periodic),) * d if isinstance(periodic, (bool, np.bool_)) else tuple(periodic)
        if len(hs) != d or len(per) != d:
            raise GridError(f"`spacing` and `periodic` need one entry per axis ({d}); got {spacing!r}, {periodic!r}.")
        los, his, shp = [], [], []
        for k, ((lo, hi), h, p) in enumerate(zip(bounds, hs, per)):
            lo, hi = float(lo), float(hi)
            if not (np.isfinite(h) and h > 0):
                raise GridError(f"`spacing` must be positive and finite (h > 0); got {h!r} on axis {k}.")
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo and np.isfinite(hi - lo)):
                raise GridError(f"`bounds[{k}]` must be finite with lo < hi; got ({lo}, {hi}).")
            cells = (hi - lo) / h
            if not cells < MAX_NODES_PER_AXIS:
                raise GridError(f"`spacing` {h:g} on ({lo:g}, {hi:g}) gives {cells:.3g} cells on axis {k}, more "
                                f"than {MAX_NODES_PER_AXIS}; use a larger spacing.")
            ncell = max(int(np.ceil(cells - 1e-9)), 1)
            los.append(float(lo))
            his.append(float(lo) + ncell * h)
            shp.append(ncell if p else ncell + 1)
        return cls(tuple(los), tuple(his), tuple(shp), tuple(per))

    # ------------------------------------------------------------------ geometry
    @property
    def dim(self) -> int:
        """Number of axes d."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Total number of nodes."""
        return int(math.prod(self.shape))       # (np.prod of a tuple costs ~2 us: a 1-D solve's memory guard)

    @property
    def bounds(self) -> list:
        """``[(lo, hi), ...]``."""
        return list(zip(self.lo, self.hi))

    @functools.cached_property
    def spacing(self) -> tuple:
        """Node spacing h_k along each axis (computed once per grid: grids are frozen, and solvers read it
        on every call)."""
        return tuple((hi - lo) / (n if p else n - 1)
                     for lo, hi, n, p in zip(self.lo, self.hi, self.shape, self.periodic))

    @property
    def cell_volume(self) -> float:
        """Product of the spacings (quadrature weight of one node)."""
        return float(np.prod(self.spacing))

    @property
    def axes(self) -> tuple:
        """One 1-D coordinate array per axis."""
        return tuple(lo + h * np.arange(n) for lo, h, n in zip(self.lo, self.spacing, self.shape))

    def mesh(self) -> np.ndarray:
        """Node coordinates, shape ``grid.shape + (d,)``."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1)

    def sample(self, fn: Callable[[np.ndarray], np.ndarray], *, name: str = "fn") -> np.ndarray:
        """Evaluate ``fn`` on the nodes.

        ``fn`` takes points of shape ``(..., d)`` and returns values of shape ``(...)``
        (a :class:`deeprelax.losses.Loss` qualifies).  Returns an array of shape
        ``grid.shape``; raises ``ValueError`` if ``fn`` gives non-finite values and
        ``TypeError`` for complex values (``name`` is the argument named in messages).
        """
        vals = fn(self.mesh())
        if np.iscomplexobj(vals):
            raise TypeError(f"`{name}` must return real values; it returned complex values on the grid "
                            f"(take np.real(...) explicitly if the imaginary part should be dropped).")
        vals = np.asarray(vals, dtype=np.float64)
        if vals.shape != self.shape:
            if vals.shape == self.shape + (1,):
                vals = vals[..., 0]
            else:
                raise GridError(f"`{name}` returned shape {vals.shape}; expected {self.shape} "
                                f"(points of shape (..., d) in, values of shape (...) out).")
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"`{name}` returned {int(np.count_nonzero(~np.isfinite(vals)))} non-finite "
                             f"values on the grid; the loss must be finite on {self.bounds}.")
        return vals

    def pad(self, cells: int | Sequence[int]) -> "Grid":
        """A grid extended by ``cells[k]`` nodes on both sides of each non-periodic axis.

        The spacing is unchanged, so the original nodes are nodes of the padded grid;
        :meth:`interior` gives the slices that select them.
        """
        c = (int(cells),) * self.dim if np.isscalar(cells) else tuple(int(v) for v in cells)
        c = tuple(0 if p else ck for ck, p in zip(c, self.periodic))
        h = self.spacing
        return Grid(tuple(lo - ck * hk for lo, ck, hk in zip(self.lo, c, h)),
                    tuple(hi + ck * hk for hi, ck, hk in zip(self.hi, c, h)),
                    tuple(n + 2 * ck for n, ck in zip(self.shape, c)), self.periodic)

    def interior(self, padded: "Grid") -> tuple:
        """Slices of ``padded`` (made by :meth:`pad`) that give back this grid's nodes."""
        sl = []
        for n, m in zip(self.shape, padded.shape):
            c = (m - n) // 2
            sl.append(slice(c, c + n))
        return tuple(sl)

    def refine(self, factor: int) -> "Grid":
        """Same bounds with ``factor`` times as many cells per axis (nodes are kept)."""
        f = int(factor)
        return Grid(self.lo, self.hi,
                    tuple(n * f if p else (n - 1) * f + 1 for n, p in zip(self.shape, self.periodic)),
                    self.periodic)

    def to_dict(self) -> dict:
        return {"lo": list(self.lo), "hi": list(self.hi), "shape": list(self.shape),
                "periodic": list(self.periodic)}

    @classmethod
    def from_dict(cls, d: dict) -> "Grid":
        return cls(tuple(float(v) for v in d["lo"]), tuple(float(v) for v in d["hi"]),
                   tuple(int(v) for v in d["shape"]), tuple(bool(v) for v in d["periodic"]))

    def __repr__(self) -> str:
        ax = ", ".join(f"[{lo:g}, {hi:g}{')' if p else ']'} x {n}"
                       for lo, hi, n, p in zip(self.lo, self.hi, self.shape, self.periodic))
        return f"Grid({ax}; h={tuple(float(f'{h:.4g}') for h in self.spacing)})"
