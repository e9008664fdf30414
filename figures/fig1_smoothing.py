"""DR Fig. 1 (paper-spec §4.1): viscous vs non-viscous HJ smoothing and the FP densities they drive.

Usage: ``python figures/fig1_smoothing.py [--out figures/out] [--recompute]``.
Reads ``OUT/fig1.h5`` when present, otherwise computes it with :func:`deeprelax.fig1.run_fig1`.
"""
from __future__ import annotations

from pathlib import Path

try:
    from figures._common import cached, outdir, parse
except ImportError:  # run as a script
    from _common import cached, outdir, parse


def main(out="figures/out", *, recompute=False, size="full") -> Path:
    from deeprelax.fig1 import run_fig1
    from deeprelax.plot import plot_fig1

    out = outdir(out)
    kw = {} if size == "full" else {"n": 200, "t_fp": 2.0, "fp_dt": 0.05}
    res = cached(out / "fig1.h5", lambda: run_fig1(None, **kw), recompute)
    png = out / "fig1_smoothing.png"
    plot_fig1(res, path=png)
    import matplotlib.pyplot as plt
    plt.close("all")
    return png


if __name__ == "__main__":
    a = parse(__doc__.splitlines()[0])
    print(main(a.out, recompute=a.recompute, size=a.size))
