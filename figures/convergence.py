"""Convergence of every solver: max-norm error against dx on log-log axes, with reference slopes.

Usage: ``python figures/convergence.py [--out figures/out] [--recompute] [--size tiny|full]``.

Panels (all 1-D, exact answers from ``solvers.reference`` or written out here):
(a) ``hopf_lax`` refine none / quadratic on -cos(pi x), periodic [-1, 1), t = 1.5/pi^2 (after the
    kink; exact: ``reference.cosine_hopf_lax_u``) and ``cole_hopf`` (beta = 1) on the soft-min of two
    quadratics (a = (1, 4), m = (-1, 1), c = (0, 0.1)) at t = 0.5 (Gaussian quadrature of a Gaussian
    integrand: exact to round-off on every grid, shown at its floor);
(b) ``solve_hj`` every scheme on Jiang-Peng, u0 = -cos(pi x), periodic [-1, 1), t = 0.5/pi^2 (smooth);
    WENO5 with dt <= 0.5 h^(5/3) so the time error does not mask the spatial order;
(c) ``solve_hj`` every scheme, viscous soft-min (beta = 1, t = 0.5, [-2, 2], callable + padding);
(d) ``solve_fokker_planck`` (Crank-Nicolson, implicit) on the OU process: potential x^2/2, beta = 2,
    rho0 = N(1, 0.3^2), t = 1, against the exact Gaussian.
Caches ``OUT/convergence.h5``.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._common import cached, outdir, parse
except ImportError:  # run as a script
    from _common import cached, outdir, parse

A, M, C = np.array([1.0, 4.0]), np.array([[-1.0], [1.0]]), np.array([0.0, 0.1])
T_JP = 0.5 / np.pi ** 2


def _jp_exact(x, t):
    """Hopf-Lax of -cos(pi y) before the kink: characteristics x = y + t pi sin(pi y), Newton for y."""
    y = np.array(x, dtype=float, copy=True)
    for _ in range(60):
        y -= (y + t * np.pi * np.sin(np.pi * y) - x) / (1.0 + t * np.pi ** 2 * np.cos(np.pi * y))
    return -np.cos(np.pi * y) + 0.5 * t * (np.pi * np.sin(np.pi * y)) ** 2


def compute(size="full"):
    from deeprelax.plot import FigureData
    from solvers import reference as ref
    from solvers.cole_hopf import cole_hopf
    from solvers.fokker_planck import solve_fokker_planck
    from solvers.grid import Grid
    from solvers.hj import SCHEMES, solve_hj
    from solvers.hopf_lax import hopf_lax

    t0 = time.perf_counter()
    tiny = size != "full"
    ns = [21, 41, 81] if tiny else [21, 41, 81, 161, 321, 641]
    data = {}

    def hard(p):
        return ref.softmin_value(p, A, M, C)

    def soft(p):
        return ref.softmin_value(p, A, M, C, beta_f=1.0)

    ex = {"hopf_lax_none": [], "hopf_lax_quadratic": [], "cole_hopf": []}
    for n in ns:
        gp = Grid.uniform([(-1.0, 1.0)], n - 1, periodic=True)
        u_hl = ref.cosine_hopf_lax_u(gp.mesh(), 1.5 / np.pi ** 2)
        for refine in ("none", "quadratic"):
            r = hopf_lax(-np.cos(np.pi * gp.axes[0]), gp, 1.5 / np.pi ** 2, refine=refine)
            ex[f"hopf_lax_{refine}"].append(np.abs(r.u - u_hl).max())
        g = Grid.uniform([(-2.0, 2.0)], n)
        xs = g.mesh()
        ex["cole_hopf"].append(np.abs(cole_hopf(soft, g, 0.5, 1.0).u - ref.softmin_viscous_u(xs, 0.5, 1.0, A, M, C)).max())
    data["exact"] = {"h": 2.0 / (np.array(ns) - 1.0), **{k: np.array(v) for k, v in ex.items()}}

    schemes = [s for s in SCHEMES]
    njp = [20, 40, 80] if tiny else [20, 40, 80, 160, 320, 640]
    jp = {s: [] for s in schemes}
    for n in njp:
        g = Grid.uniform([(-1.0, 1.0)], n, periodic=True)
        x = g.axes[0]
        exact = _jp_exact(x, T_JP)
        for s in schemes:
            kw = {"max_dt": 0.5 * (2.0 / n) ** (5.0 / 3.0)} if s == "weno5" else {}
            r = solve_hj(-np.cos(np.pi * x), g, T_JP, scheme=s, parallel=False, **kw)
            jp[s].append(np.abs(r.u - exact).max())
    data["jiang_peng"] = {"h": 2.0 / np.array(njp, float), **{s: np.array(v) for s, v in jp.items()}}

    vis = {s: [] for s in schemes}
    for n in ns:
        g = Grid.uniform([(-2.0, 2.0)], n)
        exact = ref.softmin_viscous_u(g.mesh(), 0.5, 1.0, A, M, C)
        for s in schemes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = solve_hj(soft, g, 0.5, beta=1.0, scheme=s, diffusion="split", parallel=False)
            vis[s].append(np.abs(r.u - exact).max())
    data["viscous_softmin"] = {"h": 4.0 / (np.array(ns) - 1.0), **{s: np.array(v) for s, v in vis.items()}}

    nfp = [25, 50, 100] if tiny else [25, 50, 100, 200, 400]
    fp = {"crank_nicolson": [], "implicit": []}
    beta, T = 2.0, 1.0
    mean, cov = ref.ou_moments([1.0], [[0.09]], [[1.0]], [[1.0]], beta, T)
    for n in nfp:
        g = Grid.uniform([(-4.0, 4.0)], n)
        rho0 = ref.ou_gaussian(g.mesh(), [1.0], [[0.09]])
        exact = ref.ou_gaussian(g.mesh(), mean, cov)
        h = g.spacing[0]
        for meth in fp:
            dt = 0.25 * h if meth == "crank_nicolson" else 0.5 * h * h   # time error below the O(h^2) space error
            r = solve_fokker_planck(rho0, g, T, potential=lambda p: 0.5 * p[..., 0] ** 2, beta=beta,
                                    method=meth, dt=dt, kl_reference=False)
            fp[meth].append(np.abs(r.rho - exact).max())
    data["fokker_planck_ou"] = {"h": 8.0 / (np.array(nfp) - 1.0), **{k: np.array(v) for k, v in fp.items()}}
    return FigureData(data=data, params={"size": size}, wall_time=time.perf_counter() - t0)


def _slope(h, e):
    h, e = np.asarray(h), np.asarray(e)
    ok = e > 1e-13
    return np.polyfit(np.log(h[ok]), np.log(e[ok]), 1)[0] if ok.sum() >= 2 else np.nan


def plot(res, path):
    from deeprelax.plot import CYCLE, OKABE_ITO, _plt

    plt = _plt()
    titles = {"exact": "(a) hopf_lax: -cos(pi x), t=1.5/pi^2 (after kink); cole_hopf: soft-min, t=0.5, beta=1\n"
                       "(errors at 1e-16 = exact to round-off)",
              "jiang_peng": "(b) solve_hj, Jiang-Peng -cos(pi x), t=0.5/pi^2, beta=inf",
              "viscous_softmin": "(c) solve_hj, viscous soft-min, t=0.5, beta=1",
              "fokker_planck_ou": "(d) Fokker-Planck, OU (f=x^2/2, beta=2), t=1"}
    refs = {"exact": (2, 3), "jiang_peng": (1, 2, 5), "viscous_softmin": (1, 2), "fokker_planck_ou": (2,)}
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6), constrained_layout=True)
    markers = "osD^vP<>"
    for ax, (key, d) in zip(axes, res.data.items()):
        h = np.asarray(d["h"])
        names = [k for k in d if k != "h"]
        allerr = []
        for i, k in enumerate(names):
            e = np.maximum(np.asarray(d[k]), 1e-16)
            allerr.append(e)
            lab = f"{k} (slope {_slope(h, d[k]):.2f})" if np.max(d[k]) > 1e-12 else f"{k} (round-off, max {np.max(d[k]):.0e})"
            ax.loglog(h, e, marker=markers[i % len(markers)], color=CYCLE[i % len(CYCLE)], lw=1.5, ms=5,
                      label=lab)
        e0 = np.median([a[0] for a in allerr])
        for p, ls in zip(refs[key], ("--", ":", "-.")):
            ax.loglog(h, e0 * (h / h[0]) ** p, color=OKABE_ITO["grey"], ls=ls, lw=1, label=f"O(dx^{p})")
        ax.set_xlabel("dx (grid spacing)")
        ax.set_ylabel("max-norm error")
        ax.set_title(titles.get(key, key), fontsize=8.5)
        ax.legend(fontsize=6.5)
        ax.grid(alpha=0.3, which="both")
        ax.set_ylim(min(a.min() for a in allerr) / 3, None)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    fig.suptitle("Observed convergence (DR convention: t = time, beta = inverse temperature; fitted slopes in legends)",
                 fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    out = outdir(out)
    h5 = out / ("convergence.h5" if size == "full" else "convergence_tiny.h5")
    res = cached(h5, lambda: compute(size), recompute)
    png = out / "convergence.png"
    plot(res, png)
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
