"""Figures that compare one quantity across panels use one colour scale (issue 20 item 5)."""
import matplotlib
import numpy as np

import deeprelax as dr
from deeprelax.plot import MIN_MARKER, plot_density_evolution, plot_smoothing_2d, shared_levels
from solvers.fokker_planck import gibbs

matplotlib.use("Agg")


def _contour_levels(ax):
    return [np.asarray(c.levels) for c in ax.collections if hasattr(c, "levels")]


def test_smoothing_2d_panels_share_levels_and_ring_the_minimiser():
    ws = dr.losses.get("wide-sharp", dim=2)
    g = dr.Grid.uniform(ws.bounds, 31)
    fig = plot_smoothing_2d(g, g.sample(ws), [dr.cole_hopf(ws, g, 0.3, 1.0), dr.hopf_lax(ws, g, 1.0)])
    axes = fig.axes[:3]
    levels = [_contour_levels(ax)[0] for ax in axes]
    assert all(np.array_equal(levels[0], lv) for lv in levels[1:])
    assert len(fig.axes) == 4                                         # three panels + one shared colour bar
    ring = axes[0].get_lines()[0]
    assert ring.get_marker() == MIN_MARKER["marker"] and ring.get_markerfacecolor() == "none"
    lv = shared_levels([np.arange(100.0)], 10, clip=0.5)
    assert lv[0] == 0 and abs(lv[-1] - 49.5) < 1e-12 and len(lv) == 11


def test_density_evolution_2d_has_gibbs_and_kl_panels_on_one_scale():
    dw = dr.losses.get("double-well", dim=2)
    g = dr.Grid.uniform(dw.bounds, 31)
    X = g.mesh()
    rho0 = np.exp(-((X - [1.0, 0.0]) ** 2).sum(-1) / 0.08)
    rho0 /= rho0.sum() * g.cell_volume
    fp = dr.solve_fokker_planck(rho0, g, 1.0, potential=dw, beta=4.0, save_at=3)
    fig = plot_density_evolution(fp, gibbs_density=gibbs(dw, g, 4.0), n_panels=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert "Gibbs exp(-beta f)/Z" in titles
    kl_ax = [ax for ax in fig.axes if ax.get_ylabel().startswith("KL")]
    assert len(kl_ax) == 1 and kl_ax[0].get_yscale() == "log"
    panel_levels = [_contour_levels(ax)[0] for ax in fig.axes if _contour_levels(ax) and ax.get_title()]
    assert len(panel_levels) == 4 and all(np.array_equal(panel_levels[0], lv) for lv in panel_levels)
