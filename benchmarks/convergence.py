"""Convergence table: observed order of every scheme against an exact solution.

Each problem refines the grid 4-5 times, fits the slope of log(error) against
log(h), and compares it with the scheme's declared order (pass when
``observed >= declared - tol``).  ``run()`` returns the rows; the script (and
``deeprelax bench``) writes ``benchmarks/results/convergence.md|json`` and exits
non-zero when a row fails, so a regression in any scheme shows up.

Exact answers: ``solvers.reference`` closed forms (Hopf-Lax of a quadratic and of
the hard soft-min, Cole-Hopf of the soft-min with matching softness, Hopf-Lax of
-cos(pi x) by characteristics) and the OU Gaussian for Fokker-Planck.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from solvers import reference as ref
from solvers.cole_hopf import cole_hopf
from solvers.fokker_planck import solve_fokker_planck
from solvers.grid import Grid
from solvers.hj import solve_hj
from solvers.hopf_lax import hopf_lax

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the package ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks._common import write_tables  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
T_JP = 0.5 / np.pi ** 2          # Jiang-Peng smooth time (before the kink at 1/pi^2)
A, M, C = np.array([1.0, 4.0]), np.array([[-1.0], [1.0]]), np.array([0.0, 0.1])


def slope(h, err):
    return float(np.polyfit(np.log(np.asarray(h, float)), np.log(np.asarray(err, float)), 1)[0])


def _row(problem, scheme, declared, tol, hs, errs, norm="Linf", note=""):
    p = slope(hs, errs)
    return {"problem": problem, "scheme": scheme, "declared": declared, "observed": round(p, 3),
            "tol": tol, "pass": bool(p >= declared - tol), "norm": norm,
            "h": [float(h) for h in hs], "errors": [float(e) for e in errs], "note": note}


def hopf_lax_rows():
    rows = []
    for refine, declared, tol in (("none", 2, 0.25), ("quadratic", 3, 0.3)):
        hs, errs = [], []
        for n in (33, 65, 129, 257, 513):
            g = Grid.uniform([(-2.0, 2.0)], n)
            r = hopf_lax(lambda x: x[..., 0] ** 2 + 0.3 * np.sin(3 * x[..., 0]), g, 0.2, refine=refine)
            # exact: dense brute force with Newton polish on the smooth strictly convex prox problem
            x = g.axes[0]
            y = x / 1.4
            for _ in range(50):
                gphi = 2.0 * y + 0.9 * np.cos(3 * y) + (y - x) / 0.2
                hphi = 2.0 - 2.7 * np.sin(3 * y) + 1 / 0.2
                y = y - gphi / hphi
            ex = y ** 2 + 0.3 * np.sin(3 * y) + (x - y) ** 2 / 0.4
            hs.append(g.spacing[0])
            errs.append(np.abs(r.u - ex).max())
        rows.append(_row("hopf_lax, 1-D x^2+0.3 sin(3x), t=0.2", f"hopf_lax refine={refine}", declared, tol, hs, errs))
    return rows


def cole_hopf_rows():
    rows = []
    # exact-linear method at large beta: second order uniformly in beta
    for beta in (1e4, 1e8):
        hs, errs = [], []
        for n in (41, 81, 161, 321):
            g = Grid.uniform([(-3.0, 3.0)], n)
            f = lambda x, b=beta: ref.softmin_value(x, A, M, C, b)
            r = cole_hopf(f, g, 0.5, beta, method="linear-exact")
            hs.append(g.spacing[0])
            errs.append(np.abs(r.u - ref.softmin_viscous_u(g.mesh(), 0.5, beta, A, M, C)).max())
        rows.append(_row(f"cole_hopf soft-min, t=0.5, beta={beta:g}", "cole_hopf linear-exact", 2, 0.25, hs, errs))
    # quadrature when resolved: spectral -> report the order between the first refinements
    hs, errs = [], []
    for n in (9, 13, 17, 21):
        g = Grid.uniform([(-3.0, 3.0)], n)
        r = cole_hopf(lambda x: ref.softmin_value(x, A, M, C, 1.0), g, 1.0, 1.0, method="quadrature")
        hs.append(g.spacing[0])
        errs.append(max(np.abs(r.u - ref.softmin_viscous_u(g.mesh(), 1.0, 1.0, A, M, C)).max(), 1e-16))
    rows.append(_row("cole_hopf soft-min, t=1, beta=1 (resolved)", "cole_hopf quadrature", 6, 0.0, hs, errs,
                     note="spectral: declared 6 is a floor"))
    return rows


def hj_rows():
    rows = []
    cases = [("godunov", 1, 0.25), ("rouy_tourin", 1, 0.25), ("lax_friedrichs", 1, 0.25), ("eno2", 2, 0.25)]
    for name, declared, tol in cases:
        hs, errs = [], []
        for n in (40, 80, 160, 320, 640):
            g = Grid.uniform([(-1.0, 1.0)], n, periodic=True)
            r = solve_hj(-np.cos(np.pi * g.axes[0]), g, T_JP, scheme=name)
            hs.append(g.spacing[0])
            errs.append(np.abs(r.u - ref.cosine_hopf_lax_u(g.mesh(), T_JP)).mean())
        rows.append(_row("HJ Jiang-Peng -cos(pi x), t=0.5/pi^2", name, declared, tol, hs, errs, norm="L1"))
    hs, errs = [], []
    for n in (20, 40, 80, 160, 320):
        g = Grid.uniform([(-1.0, 1.0)], n, periodic=True)
        h = g.spacing[0]
        r = solve_hj(-np.cos(np.pi * g.axes[0]), g, T_JP, scheme="weno5", max_dt=0.5 * h ** (5 / 3))
        hs.append(h)
        errs.append(np.abs(r.u - ref.cosine_hopf_lax_u(g.mesh(), T_JP)).mean())
    rows.append(_row("HJ Jiang-Peng -cos(pi x), t=0.5/pi^2, dt~h^(5/3)", "weno5", 5, 0.5, hs, errs, norm="L1"))
    # viscous, non-periodic, padded callable: soft-min with softness = beta, against Cole-Hopf closed form
    for name, declared in (("godunov", 1), ("eno2", 2), ("weno5", 2)):
        hs, errs = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n in (21, 41, 81, 161):
                g = Grid.uniform([(-2.0, 2.0)], n)
                r = solve_hj(lambda x: ref.softmin_value(x, A, M, C, 1.0), g, 0.5, beta=1.0, scheme=name,
                             diffusion="split")
                hs.append(g.spacing[0])
                errs.append(np.abs(r.u - ref.softmin_viscous_u(g.mesh(), 0.5, 1.0, A, M, C)).max())
        rows.append(_row("HJ viscous soft-min, beta=1, t=0.5", f"{name} + heat split", declared, 0.4, hs, errs))
    return rows


def fp_rows():
    rows = []
    k, beta, t = 1.0, 1.0, 1.0
    m0, s0 = 2.0, 0.09
    for method in ("implicit", "crank_nicolson"):
        hs, errs = [], []
        for n in (51, 101, 201, 401):
            g = Grid.uniform([(-8.0, 8.0)], n)
            x = g.axes[0]
            rho0 = np.exp(-(x - m0) ** 2 / (2 * s0)) / np.sqrt(2 * np.pi * s0)
            dt = 0.05 * g.spacing[0] ** 2 if method == "implicit" else 0.25 * g.spacing[0]
            r = solve_fokker_planck(rho0, g, t, potential=0.5 * k * x ** 2, beta=beta, method=method, dt=dt)
            m = m0 * np.exp(-k * t)
            s = s0 * np.exp(-2 * k * t) + (1 - np.exp(-2 * k * t)) / (beta * k)
            ex = np.exp(-(x - m) ** 2 / (2 * s)) / np.sqrt(2 * np.pi * s)
            hs.append(g.spacing[0])
            errs.append(np.abs(r.rho - ex).max())
        rows.append(_row("Fokker-Planck OU N(2,0.09) -> t=1, beta=k=1", f"Scharfetter-Gummel {method}", 2, 0.25,
                         hs, errs))
    return rows


SECTIONS = {"hopf_lax": hopf_lax_rows, "cole_hopf": cole_hopf_rows, "hj": hj_rows, "fokker_planck": fp_rows}


def run(quick: bool = False, write: bool = True) -> dict:
    rows = []
    t0 = time.perf_counter()
    for name, fn in SECTIONS.items():
        rows += fn()
    out = {"rows": rows, "all_pass": all(r["pass"] for r in rows), "wall_s": time.perf_counter() - t0}
    if write:
        RESULTS.mkdir(exist_ok=True)
        write_tables(RESULTS, "convergence", out, to_markdown(out), indent=1)
    return out


def to_markdown(out: dict) -> str:
    lines = ["# Convergence table (observed order = slope of log error vs log h)", "",
             "| problem | scheme | norm | declared | observed | pass | finest error |",
             "|---|---|---|---|---|---|---|"]
    for r in out["rows"]:
        lines.append(f"| {r['problem']} | {r['scheme']} | {r['norm']} | {r['declared']} (tol {r['tol']}) | "
                     f"{r['observed']:.2f} | {'PASS' if r['pass'] else 'FAIL'} | {r['errors'][-1]:.2e} |")
    lines += ["", f"All pass: {out['all_pass']}  (wall {out['wall_s']:.1f} s)", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    out = run()
    print(to_markdown(out))
    return 0 if out["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
