"""SGD covariance vs the Lyapunov equation, beta^{-1} = eta/(2b) (x (1-b/N) without replacement), and E[f - f*].

Usage: ``python figures/sgd_noise_lyapunov.py [--out figures/out] [--size tiny|full]``.
Left: relative deviation ||S - S_Lyap|| / ||S_Lyap|| of the SGD stationary covariance on a 2-D least-squares
finite sum (N=16, b=4) against eta: exact discrete-time covariance (lines) and minibatch SGD (points, +-2 SE);
slope 1 = first order in eta.  The dashed line omits the (1-b/N) factor.  Right: E[f - f*] / (eta Tr H/(4b))
on a finite sum with D = H at the minimum, against eta, for b = 1, 2.
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
    from deeprelax.sgd_noise.covariance import _aniso_lsq
    from deeprelax.sgd_noise import (diffusion_matrix, lsq_exact_covariance, lyapunov_covariance,
                                     sgd_covariance, symmetric_lsq, temperature)

    plt = _plt()
    full = a.size == "full"
    nch = 2000 if full else 400
    loss = _aniso_lsq()
    xs = loss.minimizer()
    H = np.asarray(loss.hess(xs)).reshape(2, 2)
    N, b = loss.n_samples, 4
    lrs = np.array([0.2, 0.1, 0.05, 0.025])
    fig, ax = plt.subplots(1, 2, figsize=(13, 5))
    for rep, col in ((True, OKABE_ITO["blue"]), (False, OKABE_ITO["vermillion"])):
        D = diffusion_matrix(loss, xs, batch=b, replace=rep).D
        SL = [lyapunov_covariance(H, D, temperature(l, b, N, rep)) for l in lrs]
        ex = [np.linalg.norm(lsq_exact_covariance(loss, l, b, rep) - s) / np.linalg.norm(s) for l, s in zip(lrs, SL)]
        ax[0].loglog(lrs, ex, "-", color=col, label=f"exact discrete SGD, {'with' if rep else 'without'} replacement")
        for l, s in zip(lrs[:3], SL[:3]):
            c = sgd_covariance(loss, lr=l, batch=b, replace=rep, n_chains=nch, n_burn=int(40 / l),
                               n_steps=int(300 / l), every=int(2 / l), seed=1)
            dev = np.linalg.norm(c["S"] - s) / np.linalg.norm(s)
            se = np.linalg.norm(c["se"]) / np.linalg.norm(s)
            ax[0].errorbar([l], [dev], yerr=[2 * se], fmt="o", color=col, capsize=3)
        if not rep:
            SW = [lyapunov_covariance(H, D * (N - 1) / N, temperature(l, b)) for l in lrs]
            exw = [np.linalg.norm(lsq_exact_covariance(loss, l, b, rep) - s) / np.linalg.norm(s)
                   for l, s in zip(lrs, SW)]
            ax[0].loglog(lrs, exw, "--", color=col, label="without replacement, Lyapunov omitting (1-b/N)")
    ax[0].loglog(lrs, 0.5 * lrs, ":", color=OKABE_ITO["grey"], label="slope 1")
    ax[0].set_xlabel("learning rate eta")
    ax[0].set_ylabel("||S - S_Lyap|| / ||S_Lyap||")
    ax[0].set_title(f"H S + S H = 2 beta^-1 D, beta^-1 = eta/(2b) [x(1-b/N)]; least squares N={N}, b={b}\n"
                    "points: minibatch SGD, +-2 SE over chains", fontsize=9)
    ax[0].legend(fontsize=8)
    rng = np.random.default_rng(5)
    sl = symmetric_lsq(rng.standard_normal((16, 2)) * np.array([1.0, 0.3]), 1.0)
    x0 = np.zeros(2)
    Hs = np.asarray(sl.hess(x0)).reshape(2, 2)
    for bb, col in ((1, OKABE_ITO["green"]), (2, OKABE_ITO["purple"])):
        ex = [0.5 * np.trace(Hs @ lsq_exact_covariance(sl, l, bb)) / (l / (4 * bb) * np.trace(Hs)) for l in lrs]
        ax[1].semilogx(lrs, ex, "-", color=col, label=f"exact discrete, b={bb}")
        for l in lrs[:3]:
            c = sgd_covariance(sl, lr=l, batch=bb, n_chains=nch, n_burn=int(40 / l), n_steps=int(300 / l),
                               every=int(2 / l), seed=2)
            L = (sl.value(x0 + c["dx"]) - sl.value(x0)).mean(0)
            f = l / (4 * bb) * np.trace(Hs)
            ax[1].errorbar([l], [L.mean() / f], yerr=[2 * L.std(ddof=1) / np.sqrt(L.size) / f], fmt="o",
                           color=col, capsize=3)
    ax[1].axhline(1.0, color=OKABE_ITO["black"], lw=0.8)
    ax[1].set_xlabel("learning rate eta")
    ax[1].set_ylabel("E[f - f*] / (eta Tr H / (4b))")
    ax[1].set_title("E[f - f*] = eta/(4b) Tr H to first order (data with D(x*) = H exactly)\n"
                    "points: minibatch SGD, +-2 SE", fontsize=9)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    p = out / "sgd_noise_lyapunov.png"
    save_figure(fig, p, dpi=110)
    print(p)


if __name__ == "__main__":
    main()
