"""Learning rate over batch size: width of the minimum SGD reaches on a sharp/wide two-well finite sum.

Usage: ``python figures/sgd_noise_widths.py [--out figures/out] [--size tiny|full]``.
Minibatch SGD (with replacement) for continuous time T = 20 (T/eta steps) from U[-3,3]^2, then full-gradient
polishing; the width of the minimum reached is the trace of the Hessian there (mean +- 2 SE over chains),
plotted against eta/b for several (eta, b).  Runs with equal eta/b should agree; smaller eta/b stays in the
sharp well more often.
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
    from deeprelax.plot import CYCLE, OKABE_ITO, _plt
    from deeprelax.sgd_noise import TwoWellFiniteSum, sgd_endpoint_width

    plt = _plt()
    nc = 1000 if a.size == "full" else 200
    tw = TwoWellFiniteSum(seed=0)
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.8))
    sizes = {0.025: OKABE_ITO["blue"], 0.05: OKABE_ITO["vermillion"], 0.1: OKABE_ITO["green"]}
    for lr, col in sizes.items():
        bs = [1, 2, 4, 8, 16]
        res = [sgd_endpoint_width(tw, lr=lr, batch=b, n_chains=nc, seed=b) for b in bs]
        r = np.array([lr / b for b in bs])
        for key, A in (("trace", ax[0]), ("top", ax[1])):
            A.errorbar(r * (1 + 0.03 * (lr / 0.05 - 1)), [x[key + "_mean"] for x in res],
                       yerr=[2 * x[key + "_se"] for x in res], fmt="o-", color=col, capsize=3, label=f"eta={lr}")
    xm = np.array([[-1.0, 0.0], [1.0, 0.0]])
    for _ in range(4000):                     # the two minima of f (the sharp one sits near (-0.72, 0.03))
        xm = xm - 0.05 * tw.grad(xm)
    ev = np.linalg.eigvalsh(tw.hess(xm))
    for A, vals, name in ((ax[0], ev.sum(-1), "trace"), (ax[1], ev[:, -1], "top eigenvalue")):
        A.axhline(vals[0], ls=":", color=OKABE_ITO["grey"])
        A.axhline(vals[1], ls="--", color=OKABE_ITO["grey"])
        A.set_xscale("log")
        A.set_xlabel("eta / b")
        A.set_ylabel(f"{name} of Hessian at the minimum reached")
        A.set_title(f"{name}: dotted = sharp minimum, dashed = wide minimum\nmean +- 2 SE over {nc} chains, T = 20",
                    fontsize=9)
        A.legend(fontsize=8)
    fig.suptitle("Equal eta/b -> statistically equal width of the minimum reached (two-well finite sum, N=64)")
    fig.tight_layout()
    p = out / "sgd_noise_widths.png"
    save_figure(fig, p, dpi=110)
    print(p)


if __name__ == "__main__":
    main()
