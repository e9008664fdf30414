"""The stationary density of SGD on a grid: potential Phi != f, non-equilibrium force j, current.

Part of :mod:`deeprelax.sgd_noise` (conventions in its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.grid import Grid
from solvers.ito_fokker_planck import diffusion_values as _D_values, ito_steady_state
from solvers.result import register_result, Result

from .diffusion import diffusion_field, temperature


def _residual(A, rho):
    """``max|A rho| / max(|A| |rho|)``: the discrete divergence of the steady current relative to its terms."""
    r = A @ rho.ravel()
    s = abs(A) @ np.abs(rho.ravel())
    return float(np.max(np.abs(r)) / np.max(s))


def nonequilibrium_force(grid: Grid, Phi, g, D, beta: float):
    r"""``j = -g + D grad Phi - beta^{-1} div D`` at the nodes (second-order differences, ``np.gradient``).

    Parameters
    ----------
    Phi : (grid.shape)   g : (grid.shape + (d,))   D : (grid.shape + (d, d))

    Returns
    -------
    j : ndarray grid.shape + (d,)
    """
    d = grid.dim
    gp = np.stack(np.gradient(Phi, *grid.spacing, edge_order=2), axis=-1)
    divD = np.zeros(grid.shape + (d,))
    for k in range(d):                    # (div D)_k = sum_l d_l D_lk  (column-wise)
        for l in range(d):
            divD[..., k] += np.gradient(D[..., l, k], grid.spacing[l], axis=l, edge_order=2)
    return -g + np.einsum("...kl,...l->...k", D, gp) - divD / beta


def _div(v, grid):
    return sum(np.gradient(v[..., k], grid.spacing[k], axis=k, edge_order=2) for k in range(grid.dim))


@register_result
@dataclass(frozen=True, repr=False)
class SGDSteadyState(Result):
    """Stationary density of continuous-time SGD and the derived fields.

    Attributes
    ----------
    rho : grid.shape       steady state of the Itô FP operator (normalised)
    Phi : grid.shape       ``-beta^{-1} log rho`` shifted to min 0 (NaN where rho <= 0)
    f : grid.shape         loss, shifted to min 0
    j : grid.shape + (d,)  non-equilibrium force ``-grad f + D grad Phi - beta^{-1} div D``
    D : grid.shape + (d, d)
    grid : Grid
    beta : float           ``1 / temperature(lr, batch, N, replace)``
    residual : float       ``max|A rho| / max(|A||rho|)`` (discrete ``div(j rho) = 0``)
    div_jrho : float       ``max|div(j rho)| / max(sum_k |d_k(j_k rho)|)`` from nodal differences, O(h^2)
    phi_fit : dict         best fit ``Phi ~ f/c + const`` on the bulk (``rho > 1e-3 max``): ``c``, ``max_dev``
                           (max |Phi - fit| there), ``phi_range`` (range of Phi there)
    params : dict
    """

    rho: np.ndarray
    Phi: np.ndarray
    f: np.ndarray
    j: np.ndarray
    D: np.ndarray
    grid: Grid
    beta: float
    residual: float
    div_jrho: float
    phi_fit: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)


def _phi_fit(Phi, f, mask):
    X = np.stack([f[mask], np.ones(mask.sum())], axis=1)
    coef, *_ = np.linalg.lstsq(X, Phi[mask], rcond=None)
    dev = Phi[mask] - X @ coef
    return {"c": float(1.0 / coef[0]) if coef[0] != 0 else float("inf"), "max_dev": float(np.abs(dev).max()),
            "phi_range": float(np.ptp(Phi[mask]))}


def sgd_steady_state(loss, grid: Grid, *, lr: float, batch: int = 1, replace: bool = True,
                     D: Any = None) -> SGDSteadyState:
    r"""Fokker-Planck steady state of continuous-time SGD on a finite-sum loss.

    ``rho_t = div(grad f rho + beta^{-1} div(D(x) rho))`` with ``D(x)`` from :func:`diffusion_field`
    (or the given ``D``: constant or callable) and ``beta^{-1} = temperature(lr, batch, N, replace)``.
    """
    N = int(loss.n_samples)
    binv = temperature(lr, batch, N, replace)
    beta = 1.0 / binv
    Dfun = (lambda p: diffusion_field(loss, p, replace)) if D is None else D
    rho, A = ito_steady_state(grid, force=loss.grad, D=Dfun, beta=beta, return_operator=True)
    mesh = grid.mesh()
    Dn = np.ascontiguousarray(_D_values(Dfun, mesh, grid.dim))
    fv = loss.value(mesh)
    fv = fv - fv.min()
    with np.errstate(divide="ignore", invalid="ignore"):
        Phi = np.where(rho > 0, -np.log(np.where(rho > 0, rho, 1.0)) / beta, np.nan)
    Phi = Phi - np.nanmin(Phi)
    g = loss.grad(mesh)
    mask = rho > 1e-3 * rho.max()
    Phis = np.where(np.isfinite(Phi), Phi, 0.0)
    j = nonequilibrium_force(grid, Phis, g, Dn, beta)
    jr = j * rho[..., None]
    dv = _div(jr, grid)
    scale = sum(np.abs(np.gradient(jr[..., k], grid.spacing[k], axis=k, edge_order=2)) for k in range(grid.dim))
    div_rel = float(np.max(np.abs(dv[mask])) / np.max(scale[mask]))
    return SGDSteadyState(rho=rho, Phi=Phi, f=fv, j=j, D=Dn, grid=grid, beta=beta, residual=_residual(A, rho),
                          div_jrho=div_rel, phi_fit=_phi_fit(Phi, fv, mask),
                          params={"lr": lr, "batch": batch, "replace": replace, "n_samples": N})
