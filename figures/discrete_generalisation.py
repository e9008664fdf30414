"""Target 4: teacher-student generalisation: dense solutions vs typical (teacher-like, isolated) ones.

Usage: ``python figures/discrete_generalisation.py [--out figures/out] [--recompute] [--size tiny|demo|full]``.

(a) Large N (401 in the full run, 10 instances per alpha, budget 2000 sweeps): test error on 10^4
fresh patterns of every method's solution (zero training error) against the test error of a
*typical* solution, the replica-symmetric Gibbs-learning prediction
``arccos(q)/pi`` (``deeprelax.discrete.theory.gibbs_generalisation``; the teacher itself is a
typical solution by the Nishimori symmetry, so "teacher-like" solutions have this error).
(b) Small N (21, exact enumeration, 20 instances per alpha): mean test error over *all* solutions
(= a uniformly drawn, typical solution), the densest solution(s) (most solutions within Hamming
distance 2), and each method's solution.  Caches ``OUT/discrete_generalisation[_size].h5``.
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

CONFIG = {  # (N, alphas, instances, budget), (small N, alphas, instances)
    "tiny": ((51, (0.3, 0.6), 3, 300), (13, (0.4, 0.8), 3)),
    "demo": ((101, (0.3, 0.5, 0.7), 6, 1000), (17, (0.3, 0.6, 0.9), 8)),
    "full": ((401, (0.2, 0.35, 0.5, 0.65, 0.8), 10, 2000), (21, (0.2, 0.4, 0.6, 0.8, 1.0), 20)),
}


def compute(size):
    from deeprelax.discrete import targets, theory
    from deeprelax.plot import FigureData

    t0 = time.perf_counter()
    (n, alphas, inst, budget), (ns, alphas_s, inst_s) = CONFIG[size]
    large = {}
    for a in alphas:
        r = targets.teacher_student_solutions(n, a, n_instances=inst, budget=budget, fractions=(0.0,), n_samples=2,
                                              progress=True)
        large[f"{a:g}"] = {"test_error": r.test_error, "solved": r.solved.astype(np.int8), "overlap": r.overlap}
    small = {}
    for a in alphas_s:
        small[f"{a:g}"] = targets.small_n_generalisation(ns, a, n_instances=inst_s, budget=budget)
        print(f"  small N={ns} alpha={a}: done", flush=True)
    grid = np.linspace(0.02, 1.05, 40)
    gibbs = np.array([theory.gibbs_generalisation(a)[1] for a in grid])
    return FigureData(data={"large": large, "small": small, "gibbs_alpha": grid, "gibbs_error": gibbs},
                      params={"n": n, "alphas": list(alphas), "instances": inst, "budget": budget, "n_small": ns,
                              "alphas_small": list(alphas_s), "instances_small": inst_s,
                              "methods": list(targets.METHODS)}, wall_time=time.perf_counter() - t0)


def table(res):
    """rows: (panel, alpha, label, mean test error, se, count)."""
    from deeprelax.discrete import targets

    rows = []
    methods = res.params["methods"]
    for a, d in res.data["large"].items():
        te = np.asarray(d["test_error"])
        for m, name in enumerate(methods + ["teacher"]):
            x = te[m][~np.isnan(te[m])]
            if x.size >= 3:  # a method that solved fewer than 3 instances at this load is left out
                lab = "teacher" if name == "teacher" else targets.METHODS[name].label
                rows.append(("large", float(a), name, lab, x.mean(), x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else 0,
                             x.size))
    for a, d in res.data["small"].items():
        for key in ["typical", "dense"] + [f"method:{m}" for m in methods]:
            x = np.asarray(d[key], float)
            x = x[~np.isnan(x)]
            if x.size >= 3:
                name = key.split(":")[-1]
                lab = {"typical": "typical (all solutions)", "dense": "densest solution"}.get(key, None) \
                    or targets.METHODS[name].label
                rows.append(("small", float(a), name, lab, x.mean(), x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else 0,
                             x.size))
    return rows


def plot(res, path):
    from deeprelax.plot import _plt

    plt = _plt()
    rows = table(res)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    for ax, panel in zip(axes, ("large", "small")):
        names = []
        for r in rows:
            if r[0] == panel and r[2] not in names:
                names.append(r[2])
        k = len(names)
        for i, name in enumerate(names):
            pts = [r for r in rows if r[0] == panel and r[2] == name]
            if name == "teacher":
                continue
            col, mk = STYLE[name]
            x = np.array([p[1] for p in pts]) + (i - k / 2) * 0.006
            ax.errorbar(x, [p[4] for p in pts], yerr=[p[5] for p in pts], color=col, marker=mk, ms=6, lw=1.0,
                        capsize=2, label=pts[0][3])
        if panel == "large":
            ax.plot(res.data["gibbs_alpha"], res.data["gibbs_error"], color=STYLE["teacher"][0], lw=2.2,
                    label="typical solution (RS Gibbs theory, N=inf)")
        ax.set_xlabel("load alpha = P / N")
        ax.set_ylabel("test error (fresh patterns)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title(f"(a) N = {res.params['n']}: found solutions vs a typical one", fontsize=9)
    axes[1].set_title(f"(b) N = {res.params['n_small']}, exact enumeration: typical vs densest vs found",
                      fontsize=9)
    fig.suptitle("Teacher-student binary perceptron at zero training error: dense solutions generalise better "
                 "than typical (teacher-like, isolated) ones", fontsize=10)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary(res) -> list[str]:
    lines = ["| panel | alpha | solution | test error | se | n |", "|---|---|---|---|---|---|"]
    for panel, a, name, lab, m, se, k in table(res):
        lines.append(f"| {panel} | {a:g} | {lab} | {m:.4f} | {se:.4f} | {k} |")
    from deeprelax.discrete import theory

    for a in res.params["alphas"]:
        lines.append(f"| theory | {a:g} | typical (RS Gibbs) | {theory.gibbs_generalisation(a)[1]:.4f} | - | - |")
    return lines


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    return run("discrete_generalisation", compute, plot, summary, out, recompute, size)


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
