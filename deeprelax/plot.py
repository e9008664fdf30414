"""Matplotlib helpers.  They take results and arrays, never solve and never write files
unless given a path.  Colours come from the Okabe-Ito colour-blind-safe palette."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from solvers.views import CYCLE, OKABE_ITO  # noqa: F401  (one palette for every figure)
from solvers.views import pyplot as _plt
from solvers.views import save_figure


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
        save_figure(fig, path, dpi=130)
    return ax


def shared_levels(arrays, levels: int = 30, clip: float = 0.85) -> np.ndarray:
    """Contour levels shared by panels that show the same quantity.

    From the smallest value of all ``arrays`` to their ``clip`` quantile (values above it share the top
    colour, ``extend="max"``), so the low regions, where the minima are, get the colour resolution.
    """
    allv = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    allv = allv[np.isfinite(allv)]
    lo, hi = float(allv.min()), float(np.quantile(allv, clip))
    if not hi > lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, levels + 1)


#: Marker of a minimiser: an open ring, so the (possibly narrow) well stays visible inside it.
MIN_MARKER = dict(marker="o", ms=13, mfc="none", mec="white", mew=1.6, ls="none")


def plot_smoothing_2d(grid, f: np.ndarray, results: Sequence, *, titles: Sequence[str] | None = None,
                      path: str | Path | None = None, levels: int = 30, clip: float = 0.85):
    """Contour panels of f and each 2-D u on ONE colour scale (:func:`shared_levels`); minimisers ringed."""
    plt = _plt()
    n = 1 + len(results)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n + 0.8, 3.5), constrained_layout=True, squeeze=False)
    X, Y = np.meshgrid(*grid.axes, indexing="ij")
    panels = [("f (loss)", np.asarray(f))] + [((titles[i] if titles else label_for(r)), np.asarray(r.u))
                                             for i, r in enumerate(results)]
    lv = shared_levels([z for _, z in panels], levels, clip)
    for ax, (ttl, z) in zip(axes[0], panels):
        cs = ax.contourf(X, Y, z, levels=lv, cmap="viridis", extend="max")
        k = np.unravel_index(np.argmin(z), z.shape)
        ax.plot(X[k], Y[k], **MIN_MARKER)
        ax.set_title(ttl, fontsize=8)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal")
    fig.colorbar(cs, ax=list(axes[0]), shrink=0.85, format="%.2g", label="value (one scale for all panels)")
    if path is not None:
        save_figure(fig, path, dpi=120)
    return fig


def plot_density_evolution(result, *, gibbs_density=None, title=None, path=None, n_panels: int = 4):
    """Density snapshots of a Fokker-Planck result over time, the Gibbs density and KL(rho_t || steady).

    1-D: one curve per saved time (viridis, early = dark) plus the Gibbs density (dashed) and a KL panel.
    2-D (3-D: the middle x3-slice): ``n_panels`` snapshots and the Gibbs density on one linear colour
    scale (set by the later snapshots and the Gibbs density: a sharper initial peak saturates), and the
    KL panel.
    """
    plt = _plt()
    grid = result.grid
    ts = np.asarray(result.ts)
    rhos = np.asarray(result.rhos)
    kl = np.asarray(result.kl)
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
    else:
        idx = np.unique(np.linspace(0, len(ts) - 1, n_panels).round().astype(int))
        sl = (slice(None), slice(None)) + ((grid.shape[2] // 2,) if grid.dim == 3 else ())
        panels = [(f"t={ts[i]:.3g}", rhos[i][sl]) for i in idx]
        if gibbs_density is not None:
            panels.append(("Gibbs exp(-beta f)/Z", np.asarray(gibbs_density)[sl]))
        npan = len(panels) + 1
        fig, axes = plt.subplots(1, npan, figsize=(2.7 * npan + 0.6, 3.0), constrained_layout=True,
                                 squeeze=False, gridspec_kw={"width_ratios": [1] * (npan - 1) + [1.2]})
        X, Y = np.meshgrid(grid.axes[0], grid.axes[1], indexing="ij")
        # one linear scale set by the later snapshots and the Gibbs density; a sharper initial peak saturates
        later = panels[1:] if len(panels) > 2 else panels
        vmax = max(float(np.max(z)) for _, z in later)
        lv = np.linspace(0.0, vmax, 31)
        for ax, (ttl, z) in zip(axes[0], panels):
            cs = ax.contourf(X, Y, np.clip(z, 0.0, None), levels=lv, cmap="viridis", extend="max")
            ax.set_title(ttl, fontsize=9)
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
            ax.set_aspect("equal")
        fig.colorbar(cs, ax=list(axes[0][:-1]), shrink=0.85, format="%.2g",
                     label="rho (one scale for all panels)")
        ax2 = axes[0][-1]
    ax2.semilogy(ts, np.maximum(kl, 1e-300), "o-", color=OKABE_ITO["blue"])
    ax2.set_xlabel("t")
    ax2.set_ylabel("KL(rho_t || steady state)")
    ax2.grid(alpha=0.3)
    fig.suptitle(title or "Fokker-Planck density evolution", fontsize=9)
    if path is not None:
        save_figure(fig, path, dpi=120)
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
    drawn as fills on the baseline ``min f - 1``; each flow and its density share
    one legend entry (four in all), the scale factors are in the title.  Panel (b): |u_FD - u_exact| at
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
    T = {key: float(v[-1]) for key, v in result.taus.items()}
    r0 = ax.fill_between(x, f, f + np.asarray(result.r0), color=c["r0"], lw=0)
    lf, = ax.plot(x, f, color=c["f"], lw=1.3)
    sgd = ax.fill_between(x, base, base + k * np.asarray(result.rho["sgd"]) / 4, color=c["sgd"], alpha=0.8, lw=0)
    handles = [(lf, r0), sgd]
    labels = ["f, and r0 (start, grey on f)", "SGD on f: where it ends"]
    for flow, scale, lab in (("viscous", 1.0, f"viscous u(x, {T['viscous']:g}), beta = 1"),
                             ("nonviscous", 1 / 3, f"non-viscous u(x, {T['nonviscous']:g})")):
        key = f"{method}_{flow}"
        ln, = ax.plot(x, result.u[key][-1], color=c[flow], lw=2)
        fill = ax.fill_between(x, base, base + k * scale * np.asarray(result.rho[key]), color=c[flow], alpha=0.45,
                               lw=0)
        handles.append((ln, fill))
        labels.append(f"{lab}: the flow, where it ends")
    ax.axhline(base, color="k", lw=0.5)
    ax.set_xlabel("x")
    ax.set_ylabel("loss value; terminal densities filled on the baseline")
    ax.set_ylim(base - 0.3, 12)
    ax.set_title(f"(a) DR Fig. 1 [{method}]: SGD stays near x = 2.5; both relaxed flows reach the low region\n"
                 f"densities at FP time 10, scaled as in the paper (SGD /4, non-viscous /3) and by {k:.2g} to fit",
                 fontsize=8.5)
    ax.legend(handles, labels, fontsize=8, loc="upper center", framealpha=0.9)
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
        save_figure(fig, path, dpi=120)
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
