"""Target 3: local entropy S(d) around found solutions vs around the teacher: dense vs isolated.

Usage: ``python figures/discrete_local_entropy.py [--out figures/out] [--recompute] [--size tiny|demo|full]``.

One teacher-student instance per panel (alpha = 0.5).  (a) N = 25, exact counts (depth-first
enumeration of every configuration), drawn cumulatively (solutions within distance d, the reference
included: at this N the shells oscillate with the parity of d); besides the teacher and the methods'
solutions, the densest solution of the instance (the most solutions within distance 2, from the full
enumeration).  (b) N = 201: exact counts for d <= 2, annealed importance sampling (64 chains) for
larger d, with standard errors.  The grey curve is the ceiling log C(N, d) / N (every configuration
of the shell a solution).  ``S = -inf`` (no solution at that distance) is drawn at the bottom.
Caches ``OUT/discrete_local_entropy[_size].h5``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._discrete import STYLE, parse, run
except ImportError:  # run as a script
    from _discrete import STYLE, parse, run

CONFIG = {  # (small N, d), (large N, d), alpha, budget
    "tiny": ((15, np.arange(1, 8)), (41, np.array([1, 2, 4, 8])), 0.5, 300),
    "demo": ((21, np.arange(1, 11)), (101, np.array([1, 2, 3, 5, 8, 12, 16, 20])), 0.5, 1000),
    "full": ((25, np.arange(1, 13)), (201, np.array([1, 2, 3, 4, 6, 8, 10, 14, 20, 26, 32, 40])), 0.5, 2000),
}


def compute(size):
    from deeprelax.discrete import enumeration, local_entropy, targets
    from deeprelax.plot import FigureData

    t0 = time.perf_counter()
    (ns, ds), (nl, dl), alpha, budget = CONFIG[size]
    small = targets.local_entropy_profiles(ns, alpha, ds, budget=budget, method="exact", progress=True)
    # the densest solution of the small instance (most solutions within distance 2)
    pr = targets.instances(ns, alpha, 1, teacher=True)[0]
    en = enumeration.enumerate_solutions(pr)
    cnt = targets._neighbour_counts(en.codes, ns, 2)
    dense = enumeration.decode(en.codes[int(np.argmax(cnt))], ns)
    le = local_entropy.local_entropy_count(pr, dense, ds, method="exact")
    large = targets.local_entropy_profiles(nl, alpha, dl, budget=budget, method="auto", progress=True)
    return FigureData(data={"small": {"labels": small.labels + ["densest solution (enumeration)"], "d": small.d,
                                      "S": np.vstack([small.S, le.S[None]]),
                                      "S_se": np.vstack([small.S_se, le.S_stderr[None]]), "n_solutions": en.n_solutions},
                            "large": {"labels": large.labels, "d": large.d, "S": large.S, "S_se": large.S_se,
                                      "exact": large.exact.astype(np.int8)}},
                      params={"n_small": ns, "n_large": nl, "alpha": alpha, "budget": budget,
                              "seed_small": small.seed, "seed_large": large.seed, "methods": list(targets.METHODS)},
                      wall_time=time.perf_counter() - t0)


def _key(label):
    from deeprelax.discrete import targets

    for k, m in targets.METHODS.items():
        if m.label == label:
            return k
    return "teacher" if label == "teacher" else "dense"


def plot(res, path):
    from deeprelax.discrete import theory
    from deeprelax.plot import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    for ax, panel, n in zip(axes, ("small", "large"), (res.params["n_small"], res.params["n_large"])):
        d = res.data[panel]
        dd = np.asarray(d["d"])
        x = dd / n
        small = panel == "small"
        floor = -0.02
        if small:  # exact shells -> cumulative counts (the shells oscillate with the parity of d at small N)
            ceil = np.log(np.cumsum(np.exp(theory.shell_log_count(n, np.arange(dd.max() + 1))))[dd]) / n
        else:
            ceil = theory.shell_log_count(n, dd) / n
        ax.plot(x, ceil, color="#999999", lw=1.2, ls="--",
                label="ceiling: every configuration a solution" if small else "ceiling log C(N, d) / N")
        for k, lab in enumerate(d["labels"]):
            S = np.asarray(d["S"][k], float)
            if np.all(np.isnan(S)):
                continue
            col, mk = STYLE[_key(lab)]
            se = np.nan_to_num(np.asarray(d["S_se"][k], float))
            if small:
                counts = np.where(np.isneginf(S), 0.0, np.round(np.exp(S * n)))
                y = np.log(1.0 + np.cumsum(counts)) / n  # + the reference itself
                se = np.zeros_like(y)
            else:
                y = np.where(np.isneginf(S), floor, S)
                se = np.where(np.isneginf(S), 0, se)
            ax.errorbar(x, y, yerr=se, color=col, marker=mk, ms=5, lw=2.0 if lab == "teacher" else 1.2, capsize=2,
                        label=lab)
        ax.set_xlabel("normalised Hamming distance d / N" + (" (log scale)" if not small else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("log #{solutions within distance d} / N")
    axes[1].set_ylabel("local entropy S(d) = log N(W, d) / N")
    axes[1].set_xscale("log")
    axes[1].axhline(-0.02, color="#cccccc", lw=0.6)
    axes[1].text(axes[1].get_xlim()[0], -0.02, "  no solution at d", fontsize=7, va="bottom", color="#777777")
    axes[0].set_title(f"(a) N = {res.params['n_small']}, exact, cumulative ({res.data['small']['n_solutions']} "
                      "solutions in all)", fontsize=9)
    axes[1].set_title(f"(b) N = {res.params['n_large']}, exact for d <= 2, annealed importance sampling beyond",
                      fontsize=9)
    fig.suptitle(f"Local entropy around solutions, teacher-student alpha = {res.params['alpha']:g}: "
                 "found solutions sit in denser regions than the teacher (a typical, isolated solution)", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary(res) -> list[str]:
    lines = []
    for panel in ("small", "large"):
        d = res.data[panel]
        n = res.params[f"n_{panel}"]
        lines += [f"N = {n}: S(d) at d = " + ", ".join(str(int(v)) for v in d["d"]), ""]
        for k, lab in enumerate(d["labels"]):
            S = np.asarray(d["S"][k], float)
            if np.all(np.isnan(S)):
                lines.append(f"- {lab}: not solved")
                continue
            se = np.asarray(d["S_se"][k], float)
            lines.append(f"- {lab}: " + ", ".join("-inf" if np.isneginf(s) else f"{s:.4f}" + (
                f"+-{e:.4f}" if e > 0 else "") for s, e in zip(S, se)))
        lines.append("")
    return lines


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    return run("discrete_local_entropy", compute, plot, summary, out, recompute, size)


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
