"""The default reproduction run behind ``make demo`` / ``deeprelax demo``.

Stage 1 (Foundation): smooth the Deep Relaxation Fig. 1 landscape ``dr-fig1``
with the exact solvers -- viscous (Cole-Hopf) at t = 0.2, beta = 1 and
non-viscous (Hopf-Lax) at t = 0.1, the paper's settings -- write the ``.h5``
results, a figure of f against both smoothed losses, and a summary table.
"""
from __future__ import annotations

import time
from pathlib import Path


def run_demo(out: str | Path = "figures/out") -> int:
    import numpy as np

    from deeprelax.cli import smooth
    from deeprelax.plot import plot_smoothing_1d
    from deeprelax import losses

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows = []
    visc, s1 = smooth("dr-fig1", 0.2, 1.0, None, out, quiet=False)
    nonv, s2 = smooth("dr-fig1", 0.1, float("inf"), None, out, quiet=False)
    rows += [s1, s2]
    loss = losses.get("dr-fig1")
    x = visc.grid.axes[0]
    f = visc.grid.sample(loss)
    png = out / "demo_dr_fig1_smoothing.png"
    plot_smoothing_1d(x, f, [visc, nonv],
                      labels=[f"viscous u(x, t=0.2), beta=1 (Cole-Hopf, {visc.method})",
                              "non-viscous u(x, t=0.1) (Hopf-Lax)"],
                      title="Deep Relaxation Fig. 1 landscape: f and its viscous / non-viscous HJ smoothing",
                      path=png)
    lines = ["", "Summary (demo)", "-" * 96,
             f"{'run':34s} {'solver':14s} {'argmin f':>10s} {'argmin u':>10s} {'min u':>9s} {'time s':>8s}"]
    for s in rows:
        run = f"{s['loss']} t={s['t']:g} beta={'inf' if s['beta'] == float('inf') else format(s['beta'], 'g')}"
        lines.append(f"{run:34s} {s['solver']:14s} {s['argmin_f'][0]:10.3f} {s['argmin_u'][0]:10.3f} "
                     f"{s['min_u']:9.4f} {s['wall_s']:8.2f}")
    lines.append("-" * 96)
    lines.append(f"figure: {png}")
    lines.append(f"total demo time: {time.perf_counter() - t_start:.1f} s")
    text = "\n".join(lines)
    print(text)
    (out / "demo_summary.txt").write_text(text + "\n")
    return 0
