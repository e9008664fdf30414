"""2-D smoothing panels: f, viscous u(x, t) for several (t, beta), non-viscous u, on wide-sharp and Rastrigin.

Usage: ``python figures/smoothing_2d.py [--out figures/out] [--recompute] [--size tiny|full]``.
Exact solvers (Cole-Hopf quadrature, Hopf-Lax minimisation, whole-space via domain padding) on a
121^2 grid (2-D Cole-Hopf costs ~N^2 x kernel cells: 161^2 took 33 s here); caches ``OUT/smoothing_2d.h5``.
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

#: loss name -> (kwargs, list of (t, beta)); beta = inf is Hopf-Lax.
CASES = {
    "wide-sharp": ({"dim": 2}, [(0.1, 1.0), (1.0, 1.0), (1.0, 10.0), (1.0, np.inf)]),
    "rastrigin": ({"dim": 2}, [(0.05, 1.0), (0.5, 1.0), (0.5, 10.0), (0.5, np.inf)]),
}


def compute(n: int = 161):
    from deeprelax import losses
    from deeprelax.plot import FigureData
    from solvers.cole_hopf import cole_hopf
    from solvers.grid import Grid
    from solvers.hopf_lax import hopf_lax

    t0 = time.perf_counter()
    data = {}
    for name, (kw, runs) in CASES.items():
        loss = losses.get(name, **kw)
        grid = Grid.uniform(loss.bounds, (n, n))
        d = {"x1": grid.axes[0], "x2": grid.axes[1], "f": grid.sample(loss)}
        for i, (t, beta) in enumerate(runs):
            r = cole_hopf(loss, grid, t, beta) if np.isfinite(beta) else hopf_lax(loss, grid, t)
            d[f"u{i}"] = np.asarray(r.u)
            d[f"tb{i}"] = np.array([t, beta])
        data[name.replace("-", "_")] = d
    return FigureData(data=data, params={"n": n}, wall_time=time.perf_counter() - t0)


def plot(res, path):
    from deeprelax.plot import MIN_MARKER, _plt, shared_levels

    plt = _plt()
    names = list(res.data)
    ncol = 1 + max(len([k for k in res.data[nm] if k.startswith("u")]) for nm in names)
    fig, axes = plt.subplots(len(names), ncol, figsize=(3.1 * ncol + 0.9, 3.1 * len(names)), constrained_layout=True,
                             squeeze=False)
    for row, nm in zip(axes, names):
        d = res.data[nm]
        X, Y = np.meshgrid(d["x1"], d["x2"], indexing="ij")
        panels = [(f"{nm.replace('_', '-')}: f", d["f"])]
        k = 0
        while f"u{k}" in d:
            t, beta = d[f"tb{k}"]
            ttl = (f"viscous u, t={t:g}, beta={beta:g}" if np.isfinite(beta) else f"Hopf-Lax u, t={t:g}")
            panels.append((ttl, d[f"u{k}"]))
            k += 1
        lv = shared_levels([z for _, z in panels])          # one colour scale per row: f and its smoothings
        for ax, (ttl, z) in zip(row, panels):
            cs = ax.contourf(X, Y, z, levels=lv, cmap="viridis", extend="max")
            i = np.unravel_index(np.argmin(z), z.shape)
            ax.plot(X[i], Y[i], **MIN_MARKER)
            ax.set_title(ttl, fontsize=9)
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
            ax.set_aspect("equal")
        fig.colorbar(cs, ax=list(row), shrink=0.85, format="%.2g", label="value (one scale per row)")
        for ax in row[len(panels):]:
            ax.axis("off")
    fig.suptitle("HJ smoothing in 2-D, exact solvers (t = time, beta = inverse temperature); "
                 "ring = minimiser", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    out = outdir(out)
    n = 121 if size == "full" else 41
    h5 = out / ("smoothing_2d.h5" if size == "full" else "smoothing_2d_tiny.h5")
    res = cached(h5, lambda: compute(n), recompute)
    png = out / "smoothing_2d.png"
    plot(res, png)
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
