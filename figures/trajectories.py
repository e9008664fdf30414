"""SGD vs Entropy-SGD vs Elastic-SGD on the 2-D wide-sharp landscape, over f and over its smoothing u(., t).

Usage: ``python figures/trajectories.py [--out figures/out] [--recompute] [--size tiny|full]``.

Loss ``wide-sharp`` (dim 2): a sharp deeper well (a = 100 at (1.5, 0), c = -0.1) next to a
wide shallow one (a = 1 at (-1, 0), c = 0).  Three chains start inside the sharp well's
basin.  Plain gradient descent (SGD, beta = inf, lr = 0.005) stays in the sharp well;
Entropy-SGD (DR form: t = 1, beta = 1, L = 50 inner SGLD steps of 0.005, outer
``x <- x - 0.1 (x - mu)/t``) and Elastic-SGD (16 replicas, coupling 1/t = 1, beta = 1,
lr = 0.005, centre flow with centre_rate 0.2) follow the gradient flow of the local entropy
``u(., t=1)`` at beta = 1, whose minimum lies in the wide well (``losses.WideSharp``
docstring).  Background of panel (b): ``cole_hopf(f, t=1, beta=1)``.  Caches ``OUT/trajectories.h5``.
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

X0 = np.array([[1.6, 0.15], [1.4, -0.12], [1.5, 0.2]])
T_SMOOTH, BETA = 1.0, 1.0


def compute(size="full"):
    from deeprelax import dynamics, losses
    from deeprelax.plot import FigureData
    from solvers.cole_hopf import cole_hopf
    from solvers.grid import Grid

    t0 = time.perf_counter()
    tiny = size != "full"
    loss = losses.get("wide-sharp", dim=2)
    n = 41 if tiny else 121
    g = Grid.uniform(loss.bounds, (n, n))
    u = np.asarray(cole_hopf(loss, g, T_SMOOTH, BETA).u)
    k = 10 if tiny else 1
    sgd = dynamics.sgd(loss, X0, lr=0.005, n_steps=4000 // k, save_every=10)
    esgd = dynamics.entropy_sgd(loss, X0, t=T_SMOOTH, lr=0.1, inner_lr=0.005, L=50, n_steps=400 // k,
                                beta=BETA, ema=None, burn_in=10, rng=1, save_every=2)
    el = dynamics.elastic_sgd(loss, X0, n_replicas=16, lr=0.005, n_steps=20000 // k, t=T_SMOOTH, beta=BETA,
                              centre="flow", centre_rate=0.2, rng=2, save_every=50)
    data = {"x1": g.axes[0], "x2": g.axes[1], "f": g.sample(loss), "u": u}
    for name, tr in (("sgd", sgd), ("entropy_sgd", esgd), ("elastic_sgd", el)):
        data[name] = {"xs": np.asarray(tr.xs), "ts": np.asarray(tr.ts)}
    return FigureData(data=data, params={"t": T_SMOOTH, "beta": BETA, "x0": X0}, wall_time=time.perf_counter() - t0)


def plot(res, path):
    from deeprelax.plot import OKABE_ITO, _plt

    plt = _plt()
    d = res.data
    X, Y = np.meshgrid(d["x1"], d["x2"], indexing="ij")
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1, 1.1]})
    cols = {"sgd": OKABE_ITO["black"], "entropy_sgd": OKABE_ITO["vermillion"], "elastic_sgd": OKABE_ITO["skyblue"]}
    labels = {"sgd": "SGD (beta=inf)", "entropy_sgd": "Entropy-SGD (t=1, beta=1)",
              "elastic_sgd": "Elastic-SGD centre (16 replicas)"}
    for ax, key, ttl in ((axes[0], "f", "(a) trajectories over f"),
                         (axes[1], "u", f"(b) over u(x, t={res.params['t']:g}), beta={res.params['beta']:g} "
                                        "(local entropy, Cole-Hopf)")):
        z = d[key]
        cs = ax.contourf(X, Y, np.minimum(z, np.quantile(z, 0.9)), levels=30, cmap="viridis")
        fig.colorbar(cs, ax=ax, shrink=0.8, label=f"{key} (clipped at 90th pct)")
        i = np.unravel_index(np.argmin(z), z.shape)
        ax.plot(X[i], Y[i], marker="*", color=OKABE_ITO["orange"], ms=15, mec="k", zorder=5, label=f"argmin {key}")
        for name in ("sgd", "entropy_sgd", "elastic_sgd"):
            xs = np.asarray(d[name]["xs"])
            for c in range(xs.shape[1]):
                ax.plot(xs[:, c, 0], xs[:, c, 1], color=cols[name], lw=1.6, label=labels[name] if c == 0 else None)
                ax.plot(xs[-1, c, 0], xs[-1, c, 1], "o", color=cols[name], mec="k", ms=6)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_aspect("equal")
        ax.set_title(ttl, fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    ax = axes[2]
    for name in ("sgd", "entropy_sgd", "elastic_sgd"):
        xs, ts = np.asarray(d[name]["xs"]), np.asarray(d[name]["ts"])
        for c in range(xs.shape[1]):
            ax.plot(ts, xs[:, c, 0], color=cols[name], lw=1.4, label=labels[name] if c == 0 else None)
    ax.axhline(1.5, color=OKABE_ITO["grey"], ls="--", lw=1)
    ax.axhline(-1.0, color=OKABE_ITO["grey"], ls=":", lw=1)
    ax.text(0, 1.55, "sharp well x1 = 1.5", fontsize=7)
    ax.text(0, -0.95, "wide well x1 = -1", fontsize=7)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0)
    ax.set_xlabel("flow time (sum of step sizes; symlog)")
    ax.set_ylabel("x1 coordinate")
    ax.set_title("(c) x1 against flow time", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle("wide-sharp 2-D: SGD keeps the sharp minimum, the relaxed methods move to the wide one "
                 "(DR convention: t = time, beta = inverse temperature)", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    out = outdir(out)
    h5 = out / ("trajectories.h5" if size == "full" else "trajectories_tiny.h5")
    res = cached(h5, lambda: compute(size), recompute)
    png = out / "trajectories.png"
    plot(res, png)
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
