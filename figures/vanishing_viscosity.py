"""Vanishing viscosity: the viscous HJ solution u^beta approaches the Hopf-Lax solution u^inf as beta -> inf.

Usage: ``python figures/vanishing_viscosity.py [--out figures/out] [--recompute] [--size tiny|full]``.

Loss: the hard minimum of two quadratics (paper-spec §4.4(a) with beta_f = inf), wide well
a = 1 at m = -1 (c = 0), sharp well a = 25 at m = 1 (c = -0.3), t = 0.5, on [-3, 3].
u^beta by ``cole_hopf`` (exact quadrature of the callable loss), u^inf by the closed form
``min_i a_i (x - m_i)^2 / (2 (1 + t a_i)) + c_i`` (checked against ``hopf_lax``).  The sup-gap is
``O(log(beta) / beta)`` in general (paper-spec §7 item 7); for this piecewise-quadratic loss
the wide-valley terms ``log(1 + t a_i) / (2 beta)`` make it ``O(1 / beta)``, both references drawn.
Caches ``OUT/vanishing_viscosity.h5``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._common import cached, outdir, parse
except ImportError:  # run as a script
    from _common import cached, outdir, parse

A, M, C, T = np.array([1.0, 25.0]), np.array([[-1.0], [1.0]]), np.array([0.0, -0.3]), 0.5


def compute(size="full"):
    from deeprelax.plot import FigureData
    from solvers import reference as ref
    from solvers.cole_hopf import cole_hopf
    from solvers.grid import Grid
    from solvers.hopf_lax import hopf_lax

    t0 = time.perf_counter()
    n = 3001 if size == "full" else 301
    betas = np.geomspace(1.0, 3e3 if size == "full" else 1e2, 12 if size == "full" else 4)
    g = Grid.uniform([(-3.0, 3.0)], (n,))

    def f(p):
        return ref.softmin_value(p, A, M, C)

    u_inf = ref.softmin_hopf_lax_u(g.mesh(), T, A, M, C)
    hl_err = float(np.abs(hopf_lax(f, g, T).u - u_inf).max())
    us = np.array([np.asarray(cole_hopf(f, g, T, b).u) for b in betas])
    gap = np.abs(us - u_inf).max(axis=1)
    return FigureData(data={"x": g.axes[0], "f": g.sample(f), "u_inf": u_inf, "betas": betas, "u": us,
                            "gap": gap}, params={"t": T, "n": n, "hopf_lax_vs_closed_form": hl_err},
                      wall_time=time.perf_counter() - t0)


def plot(res, path):
    from deeprelax.plot import OKABE_ITO, _plt

    plt = _plt()
    d = res.data
    x, betas, gap = d["x"], np.asarray(d["betas"]), np.asarray(d["gap"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.6), constrained_layout=True,
                                 gridspec_kw={"width_ratios": [1.4, 1]})
    a1.plot(x, d["f"], color=OKABE_ITO["grey"], lw=1.2, label="f (hard min of two quadratics)")
    cmap = plt.get_cmap("viridis")
    sel = np.unique(np.linspace(0, len(betas) - 1, min(5, len(betas))).round().astype(int))
    for j, i in enumerate(sel):
        a1.plot(x, d["u"][i], color=cmap(j / max(len(sel) - 1, 1) * 0.9), lw=1.6,
                label=f"viscous u^beta, beta={betas[i]:.3g}")
    a1.plot(x, d["u_inf"], color=OKABE_ITO["vermillion"], ls="--", lw=2, label="Hopf-Lax u^inf")
    a1.set_ylim(min(d["u"].min(), d["u_inf"].min()) - 0.2, 2.5)
    a1.set_xlabel("x")
    a1.set_ylabel("u(x, t)")
    a1.set_title(f"(a) u^beta(x, t={res.params['t']:g}) for increasing beta (inverse temperature) "
                 "-> Hopf-Lax u^inf", fontsize=9)
    a1.legend(fontsize=7.5)
    a1.grid(alpha=0.3)
    slope = np.polyfit(np.log(betas), np.log(gap), 1)[0]
    a2.loglog(betas, gap, "o-", color=OKABE_ITO["blue"], label=f"sup_x |u^beta - u^inf| (fitted slope {slope:.2f})")
    c1 = gap[-1] * betas[-1]
    a2.loglog(betas, c1 / betas, "--", color=OKABE_ITO["grey"], label="C / beta")
    c2 = gap[0] * betas[0] / (1.0 + np.log(betas[0]))
    a2.loglog(betas, c2 * (1.0 + np.log(betas)) / betas, ":", color=OKABE_ITO["black"],
              label="C (1 + log beta) / beta (general bound)")
    a2.set_xlabel("beta (inverse temperature)")
    a2.set_ylabel("sup-norm gap")
    a2.set_title("(b) vanishing-viscosity gap (paper-spec §7 item 7)", fontsize=9)
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3, which="both")
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    out = outdir(out)
    h5 = out / ("vanishing_viscosity.h5" if size == "full" else "vanishing_viscosity_tiny.h5")
    res = cached(h5, lambda: compute(size), recompute)
    png = out / "vanishing_viscosity.png"
    plot(res, png)
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
