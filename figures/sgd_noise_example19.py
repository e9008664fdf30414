"""SGD-VI Example 19 (paper-spec §4.3): double well with rotational drift, lambda in {0, 0.5, 1.5}.

Usage: ``python figures/sgd_noise_example19.py [--out figures/out] [--size tiny|full]``.
Row 1: streamlines of the drift -grad f = -grad Phi + j over e^{-Phi}, critical points of f (red) and of
Phi (white), one noise-free trajectory (orange).  Row 2: x1-marginal of the Euler-Maruyama histogram
(dx = -grad f dt + sqrt(2) dW, h = 5e-3) and of the Itô-FP steady state against exact e^{-Phi}/Z.
"""
from __future__ import annotations

import numpy as np

from solvers.views import save_figure

try:
    from figures._common import outdir, parse
except ImportError:  # run as a script
    from _common import outdir, parse


def main(argv=None):
    a = parse(__doc__.split("\n")[0], argv)
    out = outdir(a.out)
    from deeprelax.plot import OKABE_ITO, _plt
    from deeprelax.sgd_noise import (example19_critical_points, example19_em_histogram, example19_force,
                                     example19_ode, example19_phi, ito_steady_state)
    from solvers.grid import Grid

    plt = _plt()
    full = a.size == "full"
    fig, ax = plt.subplots(2, 3, figsize=(15, 9))
    g = Grid.uniform([(-2.5, 2.5), (-2.5, 2.5)], (161, 161) if full else (81, 81))
    X1, X2 = np.meshgrid(*g.axes, indexing="ij")
    for i, lam in enumerate((0.0, 0.5, 1.5)):
        m = g.mesh()
        V = -example19_force(m, lam)
        A = ax[0, i]
        A.pcolormesh(X1, X2, np.exp(-example19_phi(m)), cmap="viridis", shading="auto")
        A.streamplot(g.axes[0], g.axes[1], V[..., 0].T, V[..., 1].T, color="w", density=1.1, linewidth=0.6,
                     arrowsize=0.7)
        cp = example19_critical_points(lam)
        A.plot(cp[:, 0], cp[:, 1], "o", color=OKABE_ITO["vermillion"], ms=8, label="critical pts of f")
        A.plot([-1, 0, 1], [0, 0, 0], "x", color="w", ms=9, mew=2, label="critical pts of Phi")
        o = example19_ode([0.5, 0.5], lam, 60.0, 1e-2)
        A.plot(o["x"][:, 0], o["x"][:, 1], color=OKABE_ITO["orange"], lw=1.5,
               label=f"x' = -grad f from (0.5,0.5): {o['winding'][-1]:+.1f} turns")
        A.set_xlim(-2.5, 2.5)
        A.set_ylim(-2.5, 2.5)
        A.set_xlabel("$x_1$")
        A.set_ylabel("$x_2$")
        pts = ", ".join(f"({p[0]:+.3f},{p[1]:+.3f})" for p in cp)
        A.set_title(f"lambda={lam}: -grad f over e^-Phi\ncrit. pts of f: {pts}", fontsize=9)
        A.legend(fontsize=7, loc="lower left")
        h = example19_em_histogram(lam, h=5e-3, n_chains=64 if full else 16, n_steps=400_000 if full else 50_000,
                                   nbins=40, box=2.5, seed=i)
        e = h["edges"]
        c = 0.5 * (e[1:] + e[:-1])
        w = np.diff(e)
        B = ax[1, i]
        B.step(c, h["counts"].sum(1) / h["n"] / w, where="mid", color=OKABE_ITO["blue"],
               label=f"Euler-Maruyama (n={h['n']}), 2-D L1={h['l1']:.3f}, noise {h['l1_noise']:.3f}")
        B.plot(c, h["probs"].sum(1) / w, "--", color=OKABE_ITO["black"], label="exact e^-Phi/Z (bin avg.)")
        rho = ito_steady_state(g, force=lambda p, lam=lam: example19_force(p, lam), beta=1.0)
        B.plot(g.axes[0], rho.sum(1) * g.spacing[1], color=OKABE_ITO["vermillion"], lw=1,
               label="Itô-FP steady state (grid)")
        B.set_xlabel("$x_1$")
        B.set_ylabel("marginal density of $x_1$")
        B.set_title(f"lambda={lam}: stationary x1-marginal", fontsize=9)
        B.legend(fontsize=7)
    fig.suptitle("Example 19: dx = -grad f dt + sqrt(2) dW, -grad f = -grad Phi + j, j = lambda e^Phi J^ss; "
                 "rho_ss = e^-Phi/Z for every lambda")
    fig.tight_layout()
    p = out / "sgd_noise_example19.png"
    save_figure(fig, p, dpi=100)
    print(p)


if __name__ == "__main__":
    main()
