"""SGD steady state on a 2-D logistic finite sum with state-dependent, non-isotropic D(x) (issue 6 item 2).

Usage: ``python figures/sgd_noise_steady_state.py [--out figures/out] [--size tiny|full]``.
Panels: (a) Ito-FP rho_ss with the minibatch-SGD histogram (contours); (b) Phi = -beta^{-1} log rho_ss
against the best fit f/c + k (Phi != f); (c) the non-equilibrium force j over rho_ss.
Convention: dx = -grad f dt + sqrt(2 beta^{-1} D(x)) dW, beta^{-1} = eta/(2b), eta = 0.4, b = 1.
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
    from deeprelax.sgd_noise import (diffusion_matrix, logistic_2d, lyapunov_covariance, sgd_histogram,
                                     sgd_steady_state, temperature)
    from solvers.grid import Grid

    plt = _plt()
    loss, xm = logistic_2d()
    lr, b = 0.4, 1
    H = np.asarray(loss.hess(xm)).reshape(2, 2)
    S = lyapunov_covariance(H, diffusion_matrix(loss, xm).D, temperature(lr, b))
    sd = np.sqrt(np.diag(S))
    n = 160 if a.size == "full" else 80
    g = Grid.uniform([(xm[k] - 7 * sd[k], xm[k] + 7 * sd[k]) for k in range(2)], (n, n))
    st = sgd_steady_state(loss, g, lr=lr, batch=b)
    hist = sgd_histogram(loss, g, 8, lr=lr, batch=b, x0=xm, n_chains=2000 if a.size == "full" else 400,
                         n_burn=500, n_steps=8000 if a.size == "full" else 2000, every=40, rho=st.rho)
    X1, X2 = np.meshgrid(*g.axes, indexing="ij")
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    im = ax[0].pcolormesh(X1, X2, st.rho, cmap="viridis", shading="auto")
    fig.colorbar(im, ax=ax[0], label=r"$\rho_{ss}$ (Itô FP)")
    e = hist["edges"]
    c1, c2 = 0.5 * (e[0][1:] + e[0][:-1]), 0.5 * (e[1][1:] + e[1][:-1])
    area = np.outer(np.diff(e[0]), np.diff(e[1]))
    lev = np.array([0.1, 0.3, 0.6, 0.9]) * (hist["probs"] / area).max()
    ax[0].contour(c1, c2, (hist["emp"] / area).T, levels=lev, colors=OKABE_ITO["orange"], linewidths=1.5)
    ax[0].contour(c1, c2, (hist["probs"] / area).T, levels=lev, colors="w", linestyles="--", linewidths=1)
    ax[0].set_title(f"(a) rho_ss (colour; white dashed: bin avg.)\nvs SGD histogram (orange), "
                    f"L1={hist['l1']:.3f} (noise {hist['l1_noise']:.3f})", fontsize=9)
    m = st.rho > 1e-3 * st.rho.max()
    c = st.phi_fit["c"]
    fit = st.f / c
    fit = fit - np.min(fit[m]) + np.min(st.Phi[m])
    kk = np.polyfit(st.f[m], st.Phi[m], 1)
    fitted = np.polyval(kk, st.f)
    lv = np.linspace(0, np.percentile(st.Phi[m], 95), 8)[1:]
    cs = ax[1].contour(X1, X2, np.where(m, st.Phi, np.nan), levels=lv, colors=OKABE_ITO["blue"])
    ax[1].contour(X1, X2, np.where(m, fitted, np.nan), levels=lv, colors=OKABE_ITO["vermillion"], linestyles="--")
    ax[1].clabel(cs, fontsize=7)
    ax[1].set_title(r"(b) $\Phi=-\beta^{-1}\log\rho_{ss}$ (blue) vs best fit $f/c+k$ (red dashed)" + "\n"
                    f"max dev / range = {st.phi_fit['max_dev'] / st.phi_fit['phi_range']:.2f}", fontsize=9)
    ax[2].pcolormesh(X1, X2, st.rho, cmap="viridis", shading="auto", alpha=0.6)
    s = slice(None, None, max(1, n // 20))
    J = np.where(m[..., None], st.j, np.nan)
    ax[2].quiver(X1[s, s], X2[s, s], J[s, s, 0], J[s, s, 1], color=OKABE_ITO["black"])
    ax[2].set_title(r"(c) $j=-\nabla f+D\nabla\Phi-\beta^{-1}\nabla\cdot D$ on $\rho_{ss}$" + "\n"
                    f"discrete div(j rho) / scale = {st.residual:.1e}", fontsize=9)
    for x in ax:
        x.set_xlabel("$x_1$")
        x.set_ylabel("$x_2$")
        x.plot(*xm, "+", color=OKABE_ITO["vermillion"], ms=10)
        x.set_xlim(xm[0] - 4.5 * sd[0], xm[0] + 4.5 * sd[0])
        x.set_ylim(xm[1] - 4.5 * sd[1], xm[1] + 4.5 * sd[1])
    fig.suptitle(f"SGD on a 2-D logistic finite sum (N=32), eta={lr}, b={b}, beta^-1=eta/(2b): "
                 "non-isotropic D(x), Phi != f, circulating current j")
    fig.tight_layout()
    p = out / "sgd_noise_steady_state.png"
    save_figure(fig, p, dpi=110)
    print(p)


if __name__ == "__main__":
    main()
