"""Matplotlib helpers.  They take results and arrays, never solve and never write files
unless given a path.  Colours come from the Okabe-Ito colour-blind-safe palette."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from solvers.views import CYCLE, OKABE_ITO  # noqa: F401  (one palette for every figure)
from solvers.views import pyplot as _plt


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


# ============================================================================= reproduction figures
#: Colours of the DR Fig. 1 reproduction (the paper's indianred / royalblue / grey mapped to Okabe-Ito).
FIG1_COLOURS = {"f": OKABE_ITO["black"], "r0": "#c8c8c8", "sgd": "#555555",
                "viscous": OKABE_ITO["vermillion"], "nonviscous": OKABE_ITO["blue"]}


def plot_fig1(result, *, path: str | Path | None = None, method: str = "exact"):
    """Deep Relaxation Fig. 1 from a :class:`deeprelax.fig1.Fig1Result`.

    Panel (a) is the paper figure (paper-spec §4.1 styles, Okabe-Ito colours):
    f in black, r0 as a light-grey fill on f, the SGD terminal density /4 in dark
    grey, viscous u(x, 0.2) (beta = 1) in vermillion with its terminal density,
    non-viscous u(x, 0.1) in blue with its terminal density /3.  Densities are
    drawn as fills on the baseline ``min f - 1``.  Panel (b): |u_FD - u_exact| at
    the final HJ time for every FD scheme; panel (c): the terminal densities of
    every HJ method on top of each other.
    """
    plt = _plt()
    x, f = np.asarray(result.x), np.asarray(result.f)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1.6, 1, 1]})
    ax = axes[0]
    c = FIG1_COLOURS
    base = f.min() - 1.0
    peaks = [np.max(result.rho["sgd"]) / 4, np.max(result.rho[f"{method}_viscous"]),
             np.max(result.rho[f"{method}_nonviscous"]) / 3]
    k = min(1.0, 6.0 / max(peaks))       # common display factor so the tallest density spans 6 units
    ax.fill_between(x, f, f + np.asarray(result.r0), color=c["r0"], lw=0, label="r0 (initial density, on f)")
    ax.plot(x, f, color=c["f"], lw=1.3, label="f (loss)")
    ax.fill_between(x, base, base + k * np.asarray(result.rho["sgd"]) / 4, color=c["sgd"], alpha=0.8, lw=0,
                    label=f"SGD terminal density / 4 (u = f, nu = 0.2) x {k:.2g}")
    T = {k: float(v[-1]) for k, v in result.taus.items()}
    for flow, scale, lab in (("viscous", 1.0, f"viscous u(x, t={T['viscous']:g}), beta=1"),
                             ("nonviscous", 1 / 3, f"non-viscous u(x, t={T['nonviscous']:g})")):
        key = f"{method}_{flow}"
        ax.plot(x, result.u[key][-1], color=c[flow], lw=2, label=lab)
        ax.fill_between(x, base, base + k * scale * np.asarray(result.rho[key]), color=c[flow], alpha=0.45,
                        lw=0, label=f"its terminal density{' / 3' if scale != 1 else ''} (nu = 0.1) x {k:.2g}")
    ax.axhline(base, color="k", lw=0.5)
    ax.set_xlabel("x")
    ax.set_ylabel("loss value; densities filled on baseline")
    ax.set_ylim(base - 0.3, 12)
    ax.set_title(f"(a) DR Fig. 1 recomputed [{method}]: SGD stays near x = 2.5; both relaxed flows\n"
                 "leave it for the low region around the global minimum (FP time 10 under u(., T - s))\n"
                 "DR convention: t = HJ time, beta = inverse temperature", fontsize=8.5)
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    ax.grid(alpha=0.3)

    ax = axes[1]
    styles = {"rouy_tourin": "-", "weno5": "--", "paper_script": ":"}
    for key in sorted(result.diffs):
        m, flow = key.rsplit("_", 1)
        ref = result.u[f"exact_{flow}"][-1]
        d = np.abs(np.asarray(result.u[key][-1]) - ref)
        ax.semilogy(x, np.maximum(d, 1e-16), color=c[flow], ls=styles.get(m, ":"), lw=1.4,
                    label=f"{m}, {flow} (max {d.max():.1e})")
    ax.set_xlabel("x")
    ax.set_ylabel("|u_FD - u_exact| at final HJ time")
    ax.set_title("(b) FD schemes vs exact (Cole-Hopf / Hopf-Lax), native grid dx = 6/499", fontsize=8.5)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")

    ax = axes[2]
    ls = {"exact": "-", "rouy_tourin": "--", "weno5": ":", "paper_script": "-."}
    for key, r in result.rho.items():
        if key == "sgd":
            ax.plot(x, r, color=c["sgd"], lw=1.5, label="SGD (u = f)")
            continue
        m, flow = key.rsplit("_", 1)
        ax.plot(x, r, color=c[flow], ls=ls.get(m, "-"), lw=1.6, label=f"{flow}, {m}")
    ax.set_xlabel("x")
    ax.set_ylabel("terminal density rho(x, s = 10)")
    ax.set_title("(c) terminal FP densities for each HJ solver", fontsize=8.5)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _register_figure_data():
    from dataclasses import dataclass, field

    from solvers.result import Result, register_result

    @register_result
    @dataclass(frozen=True, repr=False)
    class FigureData(Result):
        """Generic cached data of one figure script: named arrays (possibly nested dicts) and settings."""

        data: dict
        params: dict = field(default_factory=dict)
        wall_time: float = 0.0

    return FigureData


#: Container the ``figures/`` scripts cache their computed data in (``deeprelax.io.save`` / ``load``).
FigureData = _register_figure_data()
