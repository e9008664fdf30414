"""Target 5: exhaustive enumeration statistics vs alpha: solutions, clusters, largest cluster.

Usage: ``python figures/discrete_enumeration.py [--out figures/out] [--recompute] [--size tiny|demo|full]``.

Random-label instances at N = 21 (40 per P, P = 1..20) and N = 25 (10 per P, even P); all 2^N
configurations enumerated (``dr.discrete.enumerate_solutions``), clusters = connected components
under single flips.  (a) mean number of solutions against the exact annealed mean 2^(N-P);
(b) mean number of clusters (with the number of solutions for scale); (c) the share of solutions in
the largest cluster, the share of isolated solutions (clusters of one), and the fraction of
instances whose solutions form a single cluster.  Caches
``OUT/discrete_enumeration[_size].h5``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._discrete import parse, run
except ImportError:  # run as a script
    from _discrete import parse, run

CONFIG = {"tiny": [(11, np.arange(1, 11), 5)], "demo": [(17, np.arange(1, 17), 12)],
          "full": [(21, np.arange(1, 21), 40), (25, np.arange(2, 23, 2), 10)]}
COLOURS = ["#0072B2", "#D55E00", "#009E73"]


def compute(size):
    from deeprelax.discrete import targets
    from deeprelax.plot import FigureData

    t0 = time.perf_counter()
    data = {}
    for n, ps, inst in CONFIG[size]:
        r = targets.enumeration_statistics(n, ps, n_instances=inst)
        data[f"N{n}"] = {"alphas": r.alphas, "n_solutions": r.n_solutions, "n_clusters": r.n_clusters,
                         "largest": r.largest, "n_isolated": r.n_isolated, "wall": r.wall}
        print(f"  enumeration N={n}: {r.wall:.1f} s", flush=True)
    return FigureData(data=data, params={"config": [(n, list(map(int, ps)), inst) for n, ps, inst in CONFIG[size]]},
                      wall_time=time.perf_counter() - t0)


def stats(d):
    ns = np.asarray(d["n_solutions"], float)
    nc = np.asarray(d["n_clusters"], float)
    lg = np.asarray(d["largest"], float)
    I = ns.shape[1]
    iso = np.asarray(d["n_isolated"], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(ns > 0, lg / np.maximum(ns, 1), np.nan)
        fiso = np.where(ns > 0, iso / np.maximum(ns, 1), np.nan)
        cps = np.where(ns > 0, nc / np.maximum(ns, 1), np.nan)
        return {"alpha": np.asarray(d["alphas"]), "mean_sol": ns.mean(1), "se_sol": ns.std(1, ddof=1) / np.sqrt(I),
                "mean_clu": nc.mean(1), "se_clu": nc.std(1, ddof=1) / np.sqrt(I),
                "frac_largest": np.nanmean(frac, 1), "frac_isolated": np.nanmean(fiso, 1),
                "clusters_per_solution": np.nanmean(cps, 1), "single": ((nc == 1) & (ns > 0)).mean(1),
                "none": (ns == 0).mean(1), "I": I}


def plot(res, path):
    from deeprelax.plot import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), constrained_layout=True)
    for c, (key, d) in enumerate(res.data.items()):
        n = int(key[1:])
        s = stats(d)
        col = COLOURS[c % 3]
        a = s["alpha"]
        axes[0].errorbar(a, s["mean_sol"], yerr=s["se_sol"], color=col, marker="o", ms=4, capsize=2,
                         label=f"N={n} ({s['I']} instances per P)")
        axes[0].plot(a, 2.0 ** (n - a * n), color=col, ls="--", lw=1, label=f"2^(N-P) exact annealed mean, N={n}")
        axes[1].errorbar(a, s["mean_clu"], yerr=s["se_clu"], color=col, marker="o", ms=4, capsize=2,
                         label=f"N={n}: clusters")
        axes[1].plot(a, s["mean_sol"], color=col, ls=":", lw=1, label=f"N={n}: solutions (as in a)")
        axes[2].plot(a, s["frac_largest"], color=col, marker="o", ms=4, label=f"N={n}: share in the largest cluster")
        axes[2].plot(a, s["frac_isolated"], color=col, marker="^", ms=4, ls="--",
                     label=f"N={n}: share of isolated solutions")
        axes[2].plot(a, s["single"], color=col, marker="s", ms=3, ls=":", lw=1,
                     label=f"N={n}: P(all solutions in one cluster)")
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[0].set_ylabel("mean number of solutions")
    axes[1].set_ylabel("mean number of clusters (single-flip connectivity)")
    axes[2].set_ylabel("fraction (mean over instances with solutions)")
    for ax, t in zip(axes, ("(a) solutions", "(b) clusters", "(c) fragmentation")):
        ax.set_xlabel("load alpha = P / N")
        ax.axvline(0.833, color="#999999", lw=0.8, ls=":")
        ax.set_title(t + "  (dotted: alpha_c = 0.833, N = inf)", fontsize=9)
        ax.grid(alpha=0.3)
        if ax is axes[2]:
            ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        else:
            ax.legend(fontsize=7)
    fig.suptitle("Exhaustive enumeration, binary perceptron with random labels: one cluster at low load, "
                 "fragmentation into many small clusters near capacity", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary(res) -> list[str]:
    lines = ["| N | alpha | P | mean solutions | 2^(N-P) | mean clusters | largest share | isolated share | "
             "P(one cluster) | P(none) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, d in res.data.items():
        n = int(key[1:])
        s = stats(d)
        for k, a in enumerate(s["alpha"]):
            p = int(round(a * n))
            lines.append(f"| {n} | {a:.3f} | {p} | {s['mean_sol'][k]:.4g} +- {s['se_sol'][k]:.2g} | {2.0 ** (n - p):.4g} | "
                         f"{s['mean_clu'][k]:.3g} | {s['frac_largest'][k]:.3f} | {s['frac_isolated'][k]:.3f} | "
                         f"{s['single'][k]:.2f} | {s['none'][k]:.2f} |")
    return lines


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    return run("discrete_enumeration", compute, plot, summary, out, recompute, size)


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
