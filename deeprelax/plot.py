"""Matplotlib helpers.  They take results and arrays, never solve and never write files
unless given a path.  Colours come from the Okabe-Ito colour-blind-safe palette."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

#: Okabe-Ito palette (colour-blind safe).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "skyblue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#999999",
}
CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "skyblue", "yellow")]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template") \
            and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def label_for(result) -> str:
    """Legend label: 'viscous u, t=0.2, beta=1 (quadrature)' etc."""
    beta = getattr(result, "beta", np.inf)
    kind = "non-viscous u (Hopf-Lax)" if not np.isfinite(beta) else f"viscous u, beta={beta:g}"
    method = getattr(result, "scheme", None) or getattr(result, "method", "")
    return f"{kind}, t={result.t:g} [{method}]"


def plot_smoothing_1d(x: np.ndarray, f: np.ndarray, results: Sequence, *, ax=None, title=None,
                      labels: Sequence[str] | None = None, path: str | Path | None = None):
    """Plot f(x) and one or more 1-D smoothed u(x, t) from solver results.

    Parameters
    ----------
    x, f : ndarray, shape (n,)
    results : results with ``.u`` of shape (n,) and ``.t`` (and ``.beta``)
    """
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    ax.plot(x, f, color=OKABE_ITO["black"], lw=1.2, label="f (loss)")
    styles = ["-", "--", "-.", ":"]
    for i, r in enumerate(results):
        lab = labels[i] if labels else label_for(r)
        ax.plot(x, np.asarray(r.u), color=CYCLE[i % len(CYCLE)], lw=2, ls=styles[i % 4], label=lab)
    ax.set_xlabel("x")
    ax.set_ylabel("loss value")
    ax.set_title(title or "Smoothing of f by the Hamilton-Jacobi semigroup (DR convention: t is a time, beta inverse temperature)",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=130)
    return ax


def plot_smoothing_2d(grid, f: np.ndarray, results: Sequence, *, titles: Sequence[str] | None = None,
                      path: str | Path | None = None, levels: int = 30):
    """Contour panels of f and each 2-D u; the minimiser of each panel is marked."""
    plt = _plt()
    n = 1 + len(results)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), constrained_layout=True, squeeze=False)
    X, Y = np.meshgrid(*grid.axes, indexing="ij")
    panels = [("f (loss)", f)] + [((titles[i] if titles else label_for(r)), np.asarray(r.u))
                                  for i, r in enumerate(results)]
    for ax, (ttl, z) in zip(axes[0], panels):
        cs = ax.contourf(X, Y, z, levels=levels, cmap="viridis")
        k = np.unravel_index(np.argmin(z), z.shape)
        ax.plot(X[k], Y[k], marker="*", color=OKABE_ITO["orange"], ms=12, mec="k")
        ax.set_title(ttl, fontsize=8)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal")
        fig.colorbar(cs, ax=ax, shrink=0.8)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_density_evolution(result, *, gibbs_density=None, title=None, path=None, n_panels: int = 4):
    """Density snapshots of a Fokker-Planck result over time.

    1-D: one curve per saved time (viridis, early = dark) plus the Gibbs density
    (dashed) and a KL(rho_t || steady) panel.  2-D: ``n_panels`` image panels.
    """
    plt = _plt()
    grid = result.grid
    ts = np.asarray(result.ts)
    rhos = np.asarray(result.rhos)
    if grid.dim == 1:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True,
                                      gridspec_kw={"width_ratios": [2.2, 1]})
        cmap = plt.get_cmap("viridis")
        x = grid.axes[0]
        for i, (t, r) in enumerate(zip(ts, rhos)):
            ax.plot(x, r, color=cmap(i / max(len(ts) - 1, 1)), lw=1.5, label=f"t={t:.3g}")
        if gibbs_density is not None:
            ax.plot(x, gibbs_density, color=OKABE_ITO["vermillion"], ls="--", lw=2, label="Gibbs exp(-beta f)/Z")
        ax.set_xlabel("x")
        ax.set_ylabel("density rho(x, t)")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        kl = np.asarray(result.kl)
        ax2.semilogy(ts, np.maximum(kl, 1e-300), "o-", color=OKABE_ITO["blue"])
        ax2.set_xlabel("t")
        ax2.set_ylabel("KL(rho_t || steady state)")
        ax2.grid(alpha=0.3)
        fig.suptitle(title or "Fokker-Planck density evolution", fontsize=9)
    else:
        idx = np.unique(np.linspace(0, len(ts) - 1, n_panels).round().astype(int))
        fig, axes = plt.subplots(1, len(idx), figsize=(3.4 * len(idx), 3.3), constrained_layout=True,
                                 squeeze=False)
        X, Y = np.meshgrid(grid.axes[0], grid.axes[1], indexing="ij")
        sl = (slice(None), slice(None)) + ((grid.shape[2] // 2,) if grid.dim == 3 else ())
        for ax, i in zip(axes[0], idx):
            cs = ax.contourf(X, Y, rhos[i][sl], levels=30, cmap="viridis")
            ax.set_title(f"t={ts[i]:.3g}", fontsize=9)
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
            ax.set_aspect("equal")
            fig.colorbar(cs, ax=ax, shrink=0.8)
        fig.suptitle(title or "Fokker-Planck density evolution", fontsize=9)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
