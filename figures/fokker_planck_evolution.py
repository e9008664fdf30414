"""Fokker-Planck density evolution towards the Gibbs density, with the KL divergence and free energy over time.

Usage: ``python figures/fokker_planck_evolution.py [--out figures/out] [--recompute] [--size tiny|full]``.

Problem: ``rho_t = (rho f')' + beta^{-1} rho''`` with the double well ``f = (x^2 - 1)^2 / 4``
(barrier 1/4 at 0) on [-2.5, 2.5], beta = 8 (barrier / temperature = 2), from
``rho0 = N(1.4, 0.1^2)`` (all mass in the right well) to t = 40, Crank-Nicolson, 401 nodes.
The left well fills by barrier crossing; KL(rho_t || Gibbs) and the free energy
``F = int f rho + beta^{-1} rho log rho`` decrease monotonically (paper-spec §7 items 12, 18).
Caches ``OUT/fokker_planck_evolution.h5``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers.views import save_figure

try:
    from figures._common import cached, outdir, parse
except ImportError:  # run as a script
    from _common import cached, outdir, parse

BETA, T_END = 8.0, 40.0


def compute(size="full"):
    from deeprelax import losses
    from solvers.fokker_planck import solve_fokker_planck
    from solvers.grid import Grid

    n = 401 if size == "full" else 81
    loss = losses.get("double-well", dim=1)
    g = Grid.uniform([(-2.5, 2.5)], (n,))
    x = g.axes[0]
    rho0 = np.exp(-0.5 * ((x - 1.4) / 0.1) ** 2)
    ts = np.concatenate([[0.0], np.geomspace(0.05, T_END, 14 if size == "full" else 5)])
    return solve_fokker_planck(rho0, g, T_END, potential=loss, beta=BETA, method="crank_nicolson",
                               save_at=ts, dt=0.01 if size == "full" else 0.1, normalize=True)


def plot(res, path):
    from deeprelax import losses
    from deeprelax.plot import OKABE_ITO, _plt
    from solvers.fokker_planck import gibbs

    plt = _plt()
    g = res.grid
    x = g.axes[0]
    loss = losses.get("double-well", dim=1)
    rho_g = gibbs(loss, g, res.beta)
    ts, rhos = np.asarray(res.ts), np.asarray(res.rhos)
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.4), constrained_layout=True,
                                     gridspec_kw={"width_ratios": [1.8, 1, 1]})
    cmap = plt.get_cmap("viridis")
    for i, (t, r) in enumerate(zip(ts, rhos)):
        a1.plot(x, r, color=cmap(i / max(len(ts) - 1, 1)), lw=1.3)
    a1.plot(x, rho_g, color=OKABE_ITO["vermillion"], ls="--", lw=2.2, label="Gibbs exp(-beta f)/Z")
    ax_f = a1.twinx()
    ax_f.plot(x, g.sample(loss), color=OKABE_ITO["grey"], lw=1, ls=":")
    ax_f.set_ylabel("f(x) (dotted grey)", color=OKABE_ITO["grey"])
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, len(ts) - 1))
    cb = fig.colorbar(sm, ax=a1, pad=0.12)
    idx = np.linspace(0, len(ts) - 1, 6).round().astype(int)
    cb.set_ticks(idx)
    cb.set_ticklabels([f"{ts[i]:.2g}" for i in idx])
    cb.set_label("time t")
    a1.set_xlabel("x")
    a1.set_ylabel("density rho(x, t)")
    a1.set_ylim(0, 1.05 * max(rhos[1:].max(), rho_g.max()) if len(rhos) > 1 else None)
    a1.legend(fontsize=8, loc="upper left")
    a1.set_title(f"(a) rho_t = (rho f')' + rho''/beta, double well, beta={res.beta:g}: "
                 "snapshots (viridis, early = dark)", fontsize=8.5)
    kl = np.asarray(res.kl)
    a2.semilogy(ts[1:], np.maximum(kl[1:], 1e-16), "o-", color=OKABE_ITO["blue"], ms=4)
    a2.set_xlabel("time t")
    a2.set_ylabel("KL(rho_t || Gibbs)")
    a2.set_title("(b) relative entropy to the Gibbs density", fontsize=8.5)
    a2.grid(alpha=0.3, which="both")
    fe = np.asarray(res.free_energy)
    f_inf = -np.log(np.sum(np.exp(-res.beta * g.sample(loss))) * g.cell_volume) / res.beta
    a3.semilogy(ts[1:], np.maximum(fe[1:] - f_inf, 1e-16), "s-", color=OKABE_ITO["green"], ms=4,
                label="F(rho_t) - F(Gibbs)")
    a3.semilogy(ts[1:], np.maximum(kl[1:] / res.beta, 1e-16), ":", color=OKABE_ITO["black"],
                label="KL / beta (identical)")
    a3.set_xlabel("time t")
    a3.set_ylabel("free energy gap")
    a3.set_title("(c) free energy gap F(rho_t) - F(Gibbs)", fontsize=8.5)
    a3.legend(fontsize=8)
    a3.grid(alpha=0.3, which="both")
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    out = outdir(out)
    h5 = out / ("fokker_planck_evolution.h5" if size == "full" else "fokker_planck_evolution_tiny.h5")
    res = cached(h5, lambda: compute(size), recompute)
    png = out / "fokker_planck_evolution.png"
    plot(res, png)
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
