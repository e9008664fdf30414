"""Figures of the validation report (Okabe-Ito colours), written next to ``validation.md``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers.views import save_figure

__all__ = ["write_figures"]


def _save(fig, out_dir, name, plt):
    p = Path(out_dir) / name
    fig.tight_layout()
    save_figure(fig, p, dpi=110)
    plt.close(fig)
    return p.name


def write_figures(out_dir, figs) -> list:
    """PNG files for the data the groups left in ``figs``; returns their names."""
    from ..plot import CYCLE, OKABE_ITO, _plt

    plt = _plt()
    paths = []
    if figs.get("z"):
        fig, ax = plt.subplots(figsize=(8, 4))
        for i, (lab, z) in enumerate(figs["z"]):
            ax.plot(np.full(z.size, i) + np.linspace(-0.3, 0.3, z.size), z, "o", ms=3, color=CYCLE[i % len(CYCLE)])
        for v in (-1.96, 1.96):
            ax.axhline(v, color=OKABE_ITO["grey"], ls="--", lw=1)
        ax.set_xticks(range(len(figs["z"])))
        ax.set_xticklabels([lab for lab, _ in figs["z"]], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("z = (estimate - exact) / SE")
        ax.set_title("Default sgld estimator (replica exchange) vs Cole-Hopf, first seed (dashed: +-1.96)",
                     fontsize=10)
        paths.append(_save(fig, out_dir, "sgld_zscores.png", plt))
    if "hom" in figs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (Lin, (ts, xm, ode)) in enumerate(figs["hom"].items()):
            ax.plot(ts, xm, color=CYCLE[i % len(CYCLE)], label=f"Entropy-SGD, L={Lin}")
        ax.plot(ts, ode, "k--", label="outer map x - lr grad u(x, t), exact grad u")
        ax.set_xlabel("flow time s")
        ax.set_ylabel("mean X_s")
        ax.set_title("Homogenization: Entropy-SGD vs gradient flow of u", fontsize=10)
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir, "homogenization.png", plt))
    if "fp" in figs:
        x, rhos, times, tr, edges = figs["fp"]
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, tk in enumerate(times):
            c = CYCLE[k % len(CYCLE)]
            ax.plot(x, rhos[k], color=c, label=f"Fokker-Planck s={tk:g}")
            i = int(np.argmin(np.abs(tr.ts - tk)))
            ax.hist(tr.xs[i, :, 0], bins=edges, density=True, histtype="step", color=c, ls=":")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.set_title("Langevin histograms (dotted) vs Fokker-Planck, double well, beta=2", fontsize=10)
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir, "fp_vs_langevin.png", plt))
    if "elastic" in figs:
        reps, var, pred = figs["elastic"]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.loglog(reps, var, "o-", color=CYCLE[0], label="Var of the centre over systems")
        ax.loglog(reps, pred, "k--", label="predicted sigma^2 / n")
        ax.set_xlabel("replicas n")
        ax.set_ylabel("variance")
        ax.set_title("Elastic-SGD: the replicas average the noise", fontsize=10)
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir, "elastic_replicas.png", plt))
    return paths
