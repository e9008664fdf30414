r"""Observed orders of convergence and nested grids (pure numerics for convergence studies).

A method of order ``p`` has error ``e(h) ~ C h^p`` for small spacings ``h``.  On a sequence of
refinements ``h_1 > h_2 > ...`` the *fitted order* is the least-squares slope of ``log e`` against
``log h``, and the *local orders* are the slopes between consecutive refinements,

.. math:: p_k = \frac{\log(e_{k+1}/e_k)}{\log(h_{k+1}/h_k)} .

Errors at round-off (``e <= floor``) carry no order information and are left out of the fit
(their local orders are NaN).

Nested grids: a grid with ``n`` nodes per axis sits inside a grid with ``n'`` nodes (same bounds,
same periodicity) when ``n' = r n`` (periodic axis: the right endpoint is excluded) or
``n' - 1 = r (n - 1)`` (non-periodic axis) for an integer ``r``; then every coarse node is fine
node ``r i`` and :func:`restrict` samples a fine-grid solution at the coarse nodes exactly (no
interpolation error enters the measured error).  :func:`nested_sizes` builds such a sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .grid import Grid
from .result import Result, register_result

__all__ = ["ConvergenceResult", "fit_order", "local_orders", "refinement_ratio", "restrict", "nested_sizes"]


def _errors_h(h, errors):
    h = np.asarray(h, dtype=float)
    e = np.asarray(errors, dtype=float)
    if h.ndim != 1 or e.shape != h.shape:
        raise ValueError(f"`h` and `errors` must be 1-D of the same length; got shapes {h.shape} and {e.shape}.")
    if np.any(~np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"`h` must be finite and > 0; got {h}.")
    return h, e


def fit_order(h, errors, floor: float = 0.0) -> tuple:
    """Least-squares fit ``log e = log C + p log h``; returns ``(p, C)``.

    Parameters
    ----------
    h : array, shape (n,)
        Grid spacings.
    errors : array, shape (n,)
        Errors (a norm of the difference to the reference), one per spacing.
    floor : float
        Errors ``<= floor`` (and non-finite ones) are left out.

    Returns
    -------
    (p, C) : floats; ``(nan, nan)`` when fewer than two errors are usable.
    """
    h, e = _errors_h(h, errors)
    ok = np.isfinite(e) & (e > max(floor, 0.0))
    if ok.sum() < 2:
        return float("nan"), float("nan")
    p, logc = np.polyfit(np.log(h[ok]), np.log(e[ok]), 1)
    return float(p), float(np.exp(logc))


def local_orders(h, errors, floor: float = 0.0) -> np.ndarray:
    """Orders between consecutive refinements, shape ``(n - 1,)``; NaN where an error is ``<= floor``."""
    h, e = _errors_h(h, errors)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.log(e[1:] / e[:-1]) / np.log(h[1:] / h[:-1])
    bad = ~(np.isfinite(e[1:]) & np.isfinite(e[:-1]) & (e[1:] > floor) & (e[:-1] > floor))
    p[bad | ~np.isfinite(p)] = np.nan
    return p


def refinement_ratio(coarse: Grid, fine: Grid) -> tuple:
    """Per-axis integer ratio ``r`` such that coarse node ``i`` is fine node ``r i``.

    Raises ``ValueError`` naming the axis when the grids are not nested (different bounds,
    periodicity, or a non-integer ratio).
    """
    if coarse.dim != fine.dim:
        raise ValueError(f"grids of different dimensions ({coarse.dim} and {fine.dim}) are not nested.")
    ratios = []
    for k in range(coarse.dim):
        if (coarse.lo[k], coarse.hi[k], coarse.periodic[k]) != (fine.lo[k], fine.hi[k], fine.periodic[k]):
            raise ValueError(f"axis {k}: grids with bounds/periodicity {(coarse.lo[k], coarse.hi[k], coarse.periodic[k])}"
                             f" and {(fine.lo[k], fine.hi[k], fine.periodic[k])} are not nested.")
        nc, nf = coarse.shape[k], fine.shape[k]
        if not coarse.periodic[k]:
            nc, nf = nc - 1, nf - 1
        if nf % nc:
            need = "n' = r n" if coarse.periodic[k] else "n' - 1 = r (n - 1)"
            raise ValueError(f"axis {k}: {fine.shape[k]} nodes do not nest {coarse.shape[k]} nodes "
                             f"(nested grids need {need} for an integer r).")
        ratios.append(nf // nc)
    return tuple(ratios)


def restrict(values: np.ndarray, fine: Grid, coarse: Grid) -> np.ndarray:
    """The fine-grid array ``values`` (shape ``fine.shape + trailing``) at the coarse nodes (exact sampling)."""
    r = refinement_ratio(coarse, fine)
    values = np.asarray(values)
    if values.shape[:fine.dim] != fine.shape:
        raise ValueError(f"`values` has shape {values.shape}; expected {fine.shape} (+ trailing axes).")
    return values[tuple(slice(None, None, rk) for rk in r)]


def nested_sizes(n0: int, levels: int, periodic: bool = False, ratio: int = 2) -> list:
    """``levels`` nested node counts starting at ``n0``: ``n0 r^k`` (periodic) or ``(n0 - 1) r^k + 1``."""
    n0, levels, ratio = int(n0), int(levels), int(ratio)
    if n0 < 2 or levels < 1 or ratio < 2:
        raise ValueError(f"need n0 >= 2, levels >= 1, ratio >= 2; got n0={n0}, levels={levels}, ratio={ratio}.")
    if periodic:
        return [n0 * ratio ** k for k in range(levels)]
    return [(n0 - 1) * ratio ** k + 1 for k in range(levels)]


# ----------------------------------------------------------------------------- result of a study


@register_result
@dataclass(frozen=True, repr=False)
class ConvergenceResult(Result):
    """Errors of several schemes on a sequence of refined grids, and their observed orders.

    Attributes
    ----------
    schemes : list of str, length S
        Labels of the schemes (rows).
    sizes : int ndarray, shape (K,)
        Nodes per axis of each grid (columns).
    h : ndarray, shape (K,)
        Spacing of each grid (first axis).
    errors : ndarray, shape (S, K)
        ``norm(u_scheme - u_reference)`` on each grid.
    orders : ndarray, shape (S,)
        Fitted order: least-squares slope of ``log error`` against ``log h`` (:func:`fit_order`).
    constants : ndarray, shape (S,)
        ``C`` of the fit ``error ~ C h^order``.
    local_orders : ndarray, shape (S, K - 1)
        Orders between consecutive grids (:func:`local_orders`).
    declared : ndarray, shape (S,)
        The scheme's formal order where it declares one (NaN otherwise).
    wall_times : ndarray, shape (S, K)
        Seconds per solve (compile time excluded where the solver reports it).
    problem, reference, norm : str
        What was solved, what it was compared with, and the error norm (``"max"``, ``"l1"``, ``"l2"``).
    t, beta : float
    params : dict
    """

    schemes: list
    sizes: np.ndarray
    h: np.ndarray
    errors: np.ndarray
    orders: np.ndarray
    constants: np.ndarray
    local_orders: np.ndarray
    declared: np.ndarray
    wall_times: np.ndarray
    problem: str
    reference: str
    norm: str
    t: float
    beta: float
    params: dict = field(default_factory=dict)
    wall_time: float = 0.0

    def order_of(self, scheme: str) -> float:
        """Fitted order of ``scheme`` (a label of :attr:`schemes`)."""
        if scheme not in self.schemes:
            raise KeyError(f"unknown scheme {scheme!r}; this study has {list(self.schemes)}.")
        return float(self.orders[list(self.schemes).index(scheme)])

    def to_table(self) -> str:
        """A Markdown table: errors per grid, local orders, fitted and declared order per scheme."""
        head = [f"{'scheme':<16}"] + [f"N={n}" for n in self.sizes] + ["local orders", "fitted", "declared"]
        lines = [f"Convergence of {self.problem} at t={self.t:g}, beta={self.beta:g}: {self.norm}-norm error "
                 f"against {self.reference}", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, s in enumerate(self.schemes):
            loc = " ".join("-" if not np.isfinite(p) else f"{p:.2f}" for p in self.local_orders[i])
            dec = "-" if not np.isfinite(self.declared[i]) else f"{self.declared[i]:g}"
            fit = "-" if not np.isfinite(self.orders[i]) else f"{self.orders[i]:.2f}"
            lines.append("| " + " | ".join([f"{s:<16}"] + [f"{e:.2e}" for e in self.errors[i]]
                                           + [loc, fit, dec]) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_table()
