"""Target 1: success probability vs alpha, replicated algorithms vs simulated annealing (binary perceptron).

Usage: ``python figures/discrete_threshold.py [--out figures/out] [--recompute] [--size tiny|demo|full]``.

Random-label instances (storage problem), ``n_instances`` per (N, alpha), every method at the same
total budget of ``BUDGET`` sweeps counting all replicas (a Monte Carlo sweep = N flip attempts, a
gradient sweep = P per-pattern gradients, both O(N P)); focusing BP has its own budget of 300
iterations (O(N P) each) and runs on fewer loads/instances at the largest N (it is ~20x slower per
sweep).  The algorithmic threshold of each method is the load where its success fraction falls
through 1/2 (isotonic fit, bootstrap error; ``targets.algorithmic_threshold``).  Each N is cached
in ``OUT/discrete_threshold_N<N>[_size].h5``; the full run took the times printed on the figure.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._common import cached, outdir
    from figures._discrete import STYLE, check_size, parse, tag
except ImportError:  # run as a script
    from _common import cached, outdir
    from _discrete import STYLE, check_size, parse, tag

BUDGET = {"tiny": 300, "demo": 1000, "full": 2000}
CONFIG = {  # N -> (alphas, instances, methods); fBP separately (alphas, instances)
    "tiny": {51: (np.array([0.4, 0.6, 0.8]), 3, None, (np.array([0.6]), 2))},
    "demo": {101: (np.round(np.arange(0.45, 0.851, 0.05), 2), 10,
                   ["anneal_errors", "anneal_hinge", "replicated_anneal", "replicated_sgd"], None)},
    "full": {201: (np.round(np.arange(0.45, 0.851, 0.05), 2), 20, None, (np.round(np.arange(0.6, 0.851, 0.05), 2), 20)),
             401: (np.round(np.arange(0.45, 0.851, 0.05), 2), 20, None, (np.array([0.7, 0.75, 0.8, 0.85]), 10)),
             801: (np.round(np.arange(0.45, 0.801, 0.05), 2), 20,
                   ["anneal_errors", "anneal_hinge", "replicated_anneal", "replicated_sgd"],
                   (np.array([0.75, 0.8]), 10))},
}
MC = ["anneal_errors", "anneal_hinge", "replicated_anneal", "replicated_sgd", "entropy_sgd"]
#: lower loads for the annealing baselines (their thresholds lie below the main grid at large N)
LOW = {"tiny": None, "demo": None, "full": (np.array([0.25, 0.3, 0.35, 0.4]), ["anneal_errors", "anneal_hinge"])}


def compute(n, size, part):
    from deeprelax.discrete import targets

    alphas, inst, methods, fbp = CONFIG[size][n]
    if part == "fbp":
        alphas, inst = fbp
        methods = ["focusing_bp"]
    elif part == "low":
        alphas, methods = LOW[size]
    else:
        methods = methods or MC
    print(f"discrete_threshold: N={n} {part} alphas={[float(a) for a in alphas]} x {inst} instances, budget {BUDGET[size]} sweeps",
          flush=True)
    return targets.success_curves(n, alphas, n_instances=inst, budget=BUDGET[size], methods=methods, progress=True)


def load_all(out, size, recompute=False):
    res = []
    for n, cfg in CONFIG[size].items():
        res.append(cached(out / tag(f"discrete_threshold_N{n}", size), lambda: compute(n, size, "mc"), recompute))
        if cfg[3] is not None:
            res.append(cached(out / tag(f"discrete_threshold_N{n}_fbp", size), lambda: compute(n, size, "fbp"),
                              recompute))
        if LOW[size] is not None:
            res.append(cached(out / tag(f"discrete_threshold_N{n}_low", size), lambda: compute(n, size, "low"),
                              recompute))
    return merge(res)


def merge(results):
    """One SuccessCurves per (N, method group) with the alpha grids of the parts joined (same instances)."""
    from deeprelax.discrete.targets import SuccessCurves

    by = {}
    for r in results:
        for m, name in enumerate(r.methods):
            by.setdefault((r.n, name), []).append((r.alphas, r.solved[m], r.sweeps[m], r.energy[m], r.wall[m], r.budget))
    out = []
    for (n, name), parts in by.items():
        if len({p[1].shape[1] for p in parts}) > 1:  # different instance counts: keep the parts apart
            out += [SuccessCurves(n=n, alphas=p[0], methods=[name], solved=p[1][None], sweeps=p[2][None],
                                  energy=p[3][None], wall=p[4][None], budget=p[5]) for p in parts]
            continue
        a = np.concatenate([p[0] for p in parts])
        o = np.argsort(a, kind="stable")
        cat = [np.concatenate([p[k] for p in parts])[o] for k in (1, 2, 3, 4)]
        out.append(SuccessCurves(n=n, alphas=a[o], methods=[name], solved=cat[0][None], sweeps=cat[1][None],
                                 energy=cat[2][None], wall=cat[3][None], budget=parts[0][5]))
    return out


def thresholds(results):
    """Rows (method, N, alpha_c, se, bound, instances, wall seconds)."""
    from deeprelax.discrete import targets

    rows = []
    for r in results:
        for m, name in enumerate(r.methods):
            c, se, bound = targets.algorithmic_threshold(r.alphas, r.solved[m])
            rows.append((name, r.n, c, se, bound, r.solved.shape[2], float(r.wall[m].sum())))
    return rows


def plot(results, path):
    from deeprelax.discrete import targets
    from deeprelax.plot import _plt

    plt = _plt()
    ns = sorted({r.n for r in results})
    fig, axes = plt.subplots(1, len(ns) + 1, figsize=(4.6 * (len(ns) + 1), 4.3), constrained_layout=True)
    axes = np.atleast_1d(axes)
    rows = thresholds(results)
    for ax, n in zip(axes, ns):
        for r in (r for r in results if r.n == n):
            I = r.solved.shape[2]
            for m, name in enumerate(r.methods):
                col, mk = STYLE[name]
                p = r.solved[m].mean(1)
                se = np.sqrt(np.maximum(p * (1 - p), 1 / I) / I)
                ax.errorbar(r.alphas, p, yerr=se, color=col, marker=mk, ms=5, lw=1.4, capsize=2,
                            label=f"{targets.METHODS[name].label} ({I} inst.)")
        ax.axhline(0.5, color="#999999", lw=0.8, ls=":")
        ax.set_xlabel("load alpha = P / N")
        ax.set_ylabel("fraction of instances solved")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"N = {n}, budget {results[0].budget} sweeps (all replicas)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    ax = axes[-1]
    for name in targets.METHODS:
        pts = [(n, c, se, b) for (m, n, c, se, b, _, _) in rows if m == name]
        if not pts:
            continue
        col, mk = STYLE[name]
        x = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts])
        e = np.array([0 if np.isnan(p[2]) else p[2] for p in pts])
        ax.errorbar(x, y, yerr=e, color=col, marker=mk, ms=6, lw=1.4, capsize=3, label=targets.METHODS[name].label)
        for xi, yi, b in zip(x, y, [p[3] for p in pts]):
            if b:
                ax.annotate(b, (xi, yi), textcoords="offset points", xytext=(4, -3 if b == "<" else 3), fontsize=8,
                            color=col)
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("N")
    ax.set_ylabel("algorithmic threshold (success 1/2)")
    ax.set_title("thresholds ('<'/'>': outside the alpha grid)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle("Binary perceptron, random labels: replicated algorithms solve where simulated annealing fails "
                 "(capacity alpha_c = 0.833)", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary(results) -> list[str]:
    lines = ["| method | N | threshold | se | instances | wall s |", "|---|---|---|---|---|---|"]
    for name, n, c, se, b, inst, wall in thresholds(results):
        lines.append(f"| {name} | {n} | {b}{c:.3f} | {'-' if np.isnan(se) else f'{se:.3f}'} | {inst} | {wall:.1f} |")
    return lines


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    size = check_size(size)
    out = outdir(out)
    t0 = time.perf_counter()
    res = load_all(out, size, recompute)
    png = out / ("discrete_threshold.png" if size == "full" else f"discrete_threshold_{size}.png")
    plot(res, png)
    print("\n".join(summary(res)) + f"\n({time.perf_counter() - t0:.1f} s)")
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
