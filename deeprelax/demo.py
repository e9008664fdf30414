"""The default reproduction run behind ``make demo`` / ``deeprelax demo``.

1. Deep Relaxation Fig. 1 recomputed exactly as paper-spec §4.1 describes
   (:func:`deeprelax.fig1.run_fig1`): exact solvers (Cole-Hopf / Hopf-Lax) and
   the FD solver (``rouy_tourin`` as in the paper, ``weno5``) side by side, the
   time-reversed Fokker-Planck densities and the SGD baseline; ``fig1.h5`` and
   ``fig1_smoothing.png``.
2. Every script in ``figures/`` (when run from a checkout that has them): ``smoothing_2d``,
   ``convergence``, ``fokker_planck_evolution``, ``trajectories``, ``vanishing_viscosity``; each
   caches its data as ``out/<name>.h5`` and writes ``out/<name>.png``.
2b. Discrete learning (binary perceptron, :mod:`deeprelax.discrete`): the five ``figures/discrete_*.py``
   targets at demo size (about a minute): enumeration statistics, success vs load at N = 101,
   robustness, local entropy S(d), generalisation.
3. The Entropy-SGD validation suite at demo size
   (``deeprelax.validation.run_validation(out / "validation", size="demo")``)
   when that module exists; otherwise a clearly labelled skip.
4. A summary table on the terminal and in ``out/summary.md``.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path


def _fmt_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines


def fig1_summary(res) -> list[str]:
    """Markdown lines summarising a :class:`~deeprelax.fig1.Fig1Result`."""
    from deeprelax.fig1 import GLOBAL_BASIN, TRAPPED_BASIN

    lines = ["## DR Fig. 1 (paper-spec §4.1): terminal Fokker-Planck densities after FP time "
             f"{res.params['t_fp']:g}", "",
             f"trapped basin {list(TRAPPED_BASIN)} (start), global basin {list(GLOBAL_BASIN)} "
             f"(argmin f = {res.x[res.f.argmin()]:.3f})", ""]
    rows = []
    for key in sorted(res.masses, key=lambda k: (k != "sgd", k.split("_")[-1], k)):
        tr, gl, mean = res.masses[key]
        hj = res.timings.get(f"hj_{key}")
        fp = res.timings.get(f"fp_{key}")
        rows.append([key, f"{tr:.3f}", f"{gl:.3f}", f"{mean:+.3f}", "-" if hj is None else f"{hj:.2f}",
                     "-" if fp is None else f"{fp:.2f}"])
    lines += _fmt_table(["run", "mass trapped", "mass global", "mean x", "HJ s", "FP s"], rows)
    lines += ["", "FD vs exact HJ solution at the final HJ time (native grid, dx = 6/499):", ""]
    rows = [[k, f"{d[0]:.2e}", f"{d[1]:.2e}", f"{d[2]:.2e}"] for k, d in sorted(res.diffs.items())]
    lines += _fmt_table(["run", "max abs(u - u_exact)", "same, abs(x) <= 2.5", "max abs(rho - rho_exact)"], rows)
    return lines


FIGURE_SCRIPTS = ("smoothing_2d", "convergence", "fokker_planck_evolution", "trajectories", "vanishing_viscosity",
                  "experiment_sgd_noise", "experiment_hessian_spectrum", "experiment_eta_over_s", "experiment_optimisers",
                  "experiment_width")


def run_figure_scripts(out: Path, names=FIGURE_SCRIPTS, recompute: bool = True) -> list[str]:
    """Run ``figures/<name>.py``'s ``main(out)`` for each name; returns summary lines.

    The scripts live in the repository (``<repo>/figures``), not in the installed package; from an
    installation without them this reports a skip.
    """
    import sys

    fig_dir = Path(__file__).resolve().parents[1] / "figures"
    if not fig_dir.is_dir():
        return [f"SKIPPED: no figures/ directory next to the package ({fig_dir})"]
    if str(fig_dir) not in sys.path:
        sys.path.insert(0, str(fig_dir))
    lines = []
    for name in names:
        path = fig_dir / f"{name}.py"
        if not path.exists():
            lines.append(f"- {name}: SKIPPED (no {path})")
            continue
        spec = importlib.util.spec_from_file_location(f"_deeprelax_fig_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tf = time.perf_counter()
        png = mod.main(out, recompute=recompute)
        lines.append(f"- {name}: {png} ({time.perf_counter() - tf:.1f} s)")
        print(lines[-1], flush=True)
    return lines


def run_demo(out: str | Path = "figures/out", *, validation_size: str = "demo", figures: bool = True,
             validation: bool = True, discrete: bool = True) -> int:
    """Run the reproduction (module docstring); returns the exit code (non-zero if validation failed).

    ``figures=False`` / ``validation=False`` skip stages 2 and 2b / 3 (for quick tests); ``discrete=False``
    skips stage 2b only.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deeprelax.fig1 import run_fig1
    from deeprelax.plot import plot_fig1

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    print("DR Fig. 1: HJ (exact, rouy_tourin, weno5) + time-reversed Fokker-Planck ...", flush=True)
    res = run_fig1(out, progress=True)
    png = out / "fig1_smoothing.png"
    plot_fig1(res, path=png)
    plt.close("all")
    lines = ["# deeprelax demo summary", ""] + fig1_summary(res) + ["", f"figure: {png}", f"data: {out / 'fig1.h5'}"]
    t_fig1 = time.perf_counter() - t_start

    lines += ["", "## Figures", ""] + (run_figure_scripts(out) if figures else ["SKIPPED (figures=False)"])

    lines += ["", "## Discrete learning (binary perceptron, demo size)", ""]
    if figures and discrete:
        from deeprelax.discrete.cli import run_figures as run_discrete_figures

        td = time.perf_counter()
        print("Discrete learning: the five figures/discrete_*.py targets at demo size ...", flush=True)
        lines += run_discrete_figures(out, size="demo") + [f"stage time: {time.perf_counter() - td:.1f} s"]
    else:
        lines += ["SKIPPED (figures=False or discrete=False)"]

    lines += ["", "## Entropy-SGD validation (demo size)", ""]
    rc = 0
    if not validation:
        lines += ["SKIPPED (validation=False)"]
    else:
        from deeprelax.validation import run_validation
        tv = time.perf_counter()
        try:
            vres = run_validation(out / "validation", size=validation_size)
        except Exception as exc:  # report, keep the rest of the demo, exit non-zero
            lines += [f"FAILED: run_validation raised {type(exc).__name__}: {exc}"]
            rc = 1
        else:
            lines += [f"{vres.summary()} (validation stage {time.perf_counter() - tv:.1f} s); report "
                      f"{out / 'validation' / 'validation.md'}"]
            for c in vres.failed:
                lines += [f"  FAILED {c.id}: {c.quantity}: measured {c.measured}; reference {c.reference}; "
                          f"criterion {c.criterion}"]
            if not vres.passed:
                rc = 1
    lines += ["", f"DR Fig. 1 time: {t_fig1:.1f} s; total demo time: {time.perf_counter() - t_start:.1f} s"]
    text = "\n".join(lines)
    print(text)
    (out / "summary.md").write_text(text + "\n")
    return rc
