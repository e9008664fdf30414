"""Target 2: flatness of solutions: training errors after flipping a random fraction of the weights.

Usage: ``python figures/discrete_robustness.py [--out figures/out] [--recompute] [--size tiny|demo|full]``.

Teacher-student instances (N = 401, alpha = 0.5, 20 instances in the full run); every method of
``deeprelax.discrete.targets.METHODS`` solves each instance (budget 2000 sweeps, all replicas); the
teacher is a typical, isolated solution (Nishimori).  For each solution and flip fraction f, 200
random sets of round(f N) flipped weights (the same sets for every solution of an instance) give
the mean number of training errors; the curves average over instances (error bars: standard error
over instances).  Caches ``OUT/discrete_robustness[_size].h5``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._discrete import STYLE, parse, run
except ImportError:  # run as a script
    from _discrete import STYLE, parse, run

CONFIG = {"tiny": (51, 0.5, 3, 300), "demo": (101, 0.5, 8, 1000), "full": (401, 0.5, 20, 2000)}


def compute(size):
    from deeprelax.discrete import targets

    n, alpha, inst, budget = CONFIG[size]
    return targets.teacher_student_solutions(n, alpha, n_instances=inst, budget=budget, progress=True,
                                             fractions=(0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1))


def curves(res):
    """label -> (mean over instances of the errors per pattern, its standard error, instances used), shape (F,)."""
    from deeprelax.discrete import targets

    out = {}
    p = round(res.alpha * res.n)
    for m, name in enumerate(list(res.methods) + ["teacher"]):
        x = res.robust_mean[m] / p  # (I, F), NaN rows for unsolved instances
        ok = ~np.isnan(x[:, 0])
        if ok.sum() == 0:
            continue
        se = x[ok].std(0, ddof=1) / np.sqrt(ok.sum()) if ok.sum() > 1 else np.zeros(x.shape[1])
        label = "teacher (typical, isolated)" if name == "teacher" else targets.METHODS[name].label
        out[name] = (label, x[ok].mean(0), se, int(ok.sum()))
    return out


def plot(res, path):
    from deeprelax.plot import _plt

    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    cv = curves(res)
    f = res.fractions
    teacher = cv["teacher"][1]
    for name, (label, mean, se, k) in cv.items():
        col, mk = STYLE[name]
        axes[0].errorbar(f, mean, yerr=se, color=col, marker=mk, ms=5, lw=1.6 if name == "teacher" else 1.2,
                         capsize=2, label=f"{label} ({k}/{res.solved.shape[1]} solved)")
        with np.errstate(invalid="ignore", divide="ignore"):
            axes[1].plot(f[1:], mean[1:] / teacher[1:], color=col, marker=mk, ms=5, lw=1.2)
    from deeprelax.discrete import targets

    for m, name in enumerate(res.methods):
        if name not in cv:  # solved no instance: say so in the legend
            col, mk = STYLE[name]
            axes[0].plot([], [], color=col, marker=mk, ls="none",
                         label=f"{targets.METHODS[name].label} (0/{res.solved.shape[1]} solved)")
    axes[0].set_ylabel("training errors per pattern after the flips")
    axes[1].set_ylabel("errors after the flips / the teacher's")
    axes[1].set_ylim(bottom=0)
    for ax, t in zip(axes, ("(a) mean over instances (+- standard error)", "(b) relative to the teacher")):
        ax.set_xlabel("fraction f of weights flipped at random")
        ax.set_title(t, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Teacher-student binary perceptron N={res.n}, alpha={res.alpha:g}: solutions of the replicated "
                 f"algorithms and fBP stay solutions longer than the teacher and SA solutions", fontsize=9.5)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary(res) -> list[str]:
    cv = curves(res)
    f = res.fractions
    cols = [k for k in range(len(f)) if f[k] in (0.01, 0.03, 0.1)] or list(range(1, len(f)))
    lines = ["| solution | solved | " + " | ".join(f"errors/P at f={f[k]:g}" for k in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for name, (label, mean, se, k) in cv.items():
        lines.append(f"| {label} | {k}/{res.solved.shape[1]} | " + " | ".join(f"{mean[c]:.4f} +- {se[c]:.4f}" for c in cols)
                     + " |")
    return lines


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    return run("discrete_robustness", compute, plot, summary, out, recompute, size)


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
