"""Benchmarks of the finite-difference Hamilton-Jacobi solver :func:`solvers.hj.solve_hj` (issue 8).

Sections (every timing is a median over repeats, compile time reported separately):

1. **Godunov explicit step** on a periodic 2048^2 grid: cell-updates per second of
   (a) one step (ghost fill + stage kernel, which also returns the CFL slopes) and
   (b) ``solve_hj`` end to end, each against a same-run Numba 5-point stencil sweep
   (the bandwidth-bound reference; target >= 50 %), serial and threaded.
2. **2-D non-viscous problem** ``u0 = -cos(pi x) - cos(pi y)`` on periodic
   ``[-1, 1)^2`` to ``t = 1`` (kinks form at ``t = 1/pi^2``): wall time and max / mean
   error against the exact Hopf-Lax solution (separable; 1-D brute force + Newton)
   for every scheme and grid, as an error-vs-wall-time table and plot.  WENO5 at
   256^2 and 512^2 is the row to compare with hj_reachability; section 2b repeats
   WENO5 at 512^2 serial and threaded (``--weno512`` re-runs only that part).
3. **Viscous 1-D** ``u0 = -cos(pi x)``, N = 1024, ``t = 1``, beta in {0.01, 10, 100, inf}:
   time, steps and max error against Cole-Hopf (log-domain quadrature written here).
4. **Peers**, each only if importable (else its JSON entry is ``skipped`` with a note):
   hj_reachability (its default ``SolverSettings()``: WENO5 + global Lax-Friedrichs + TVD-RK3,
   float32) on the section-2 problem at 128^2, 256^2, 512^2 (plus 512^2 in float64 in a
   separate process), and py-pde's adaptive Runge-Kutta on the section-3 problem at
   beta = 10, 100, inf.  Section 2c (every scheme at 16^2-128^2) gives the time-to-accuracy
   candidates; ``peer_comparison`` holds the same-run ratios.
5. **Compiled march** (issue 19): per-step overhead of an empty-physics step, and the 1-D viscous
   problem of section 3 at beta = 10, 100 against py-pde's prebuilt adaptive stepper, interleaved,
   process CPU time beside wall (``--march`` re-runs only this section and merges it into the results).

Usage: ``python benchmarks/bench_hj.py [--quick] [--serial] [--weno512 | --peers-only]``, or
``run(quick=False)`` / ``run_peers()`` from Python.  ``--peers-only`` runs section 4 with the
same-run WENO5 512^2 rows (2b) and the sweep (2c) and merges them into the existing results.
Writes ``benchmarks/results/hj.md``, ``hj.json`` and ``hj.png``.  The numbers are
indicative when the machine is shared.

Modules: this one holds sections 1-3 (with 2c, the time-to-accuracy sweep), :func:`run`,
:func:`run_peers` and the command line; :mod:`benchmarks._hj_common` the timers and exact references,
:mod:`benchmarks._hj_peers` section 4, :mod:`benchmarks._hj_march` section 5 and
:mod:`benchmarks._hj_report` the markdown, the plot and the writing of the results.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._hj_common import (_load, _median_time, _timed_solve, cole_hopf_cos,  # noqa: E402,F401
                                   hopf_lax_cos)
from benchmarks._hj_march import _pypde_stepper, bench_march  # noqa: E402,F401
from benchmarks._hj_peers import (HJR_QUOTED, _exact_2d, _finish_peers, _hjr_rows,  # noqa: E402,F401
                                  _hjr_x64_subprocess, _pkg_version, bench_hj_reachability, bench_peers,
                                  bench_pypde, peer_comparisons, time_to_accuracy)
from benchmarks._common import write_tables  # noqa: E402
from benchmarks._hj_report import _fmt_load, _md, _md_march, _md_peers, _plot, write_results  # noqa: E402,F401
from solvers import _hj_kernels as K  # noqa: E402
from solvers.jit import njit, pnjit, prange  # noqa: E402
from solvers.boundary import fill_ghosts, pad_array  # noqa: E402
from solvers.grid import Grid  # noqa: E402
from solvers.hj import SCHEMES, solve_hj  # noqa: E402

RESULTS = HERE / "results"


# --------------------------------------------------------------------------- 1. Godunov step
@pnjit
def stencil5(u, out, c):
    """Reference sweep: ``out = u + c * (5-point Laplacian)`` on the interior (16 B/cell ideal).

    Written on row views with non-negative offsets, like the solver's kernels: indexing
    ``u[i, j + 1]`` directly inside ``prange`` compiled to gathers and a scatter.
    """
    n0, n1 = u.shape
    for i in prange(1, n0 - 1):
        um, r, up, o = u[i - 1], u[i], u[i + 1], out[i]
        for j in range(n1 - 2):
            o[j + 1] = r[j + 1] + c * (um[j + 1] + up[j + 1] + r[j] + r[j + 2] - 4.0 * r[j + 1])


@njit
def stencil5_serial(u, out, c):
    """Serial twin of :func:`stencil5`."""
    n0, n1 = u.shape
    for i in range(1, n0 - 1):
        um, r, up, o = u[i - 1], u[i], u[i + 1], out[i]
        for j in range(n1 - 2):
            o[j + 1] = r[j + 1] + c * (um[j + 1] + up[j + 1] + r[j] + r[j + 2] - 4.0 * r[j + 1])


def bench_godunov_step(n=2048, repeat=7):
    """Godunov forward-Euler step vs a 5-point stencil sweep, serial and threaded, same run."""
    x = np.linspace(-1, 1, n, endpoint=False)
    u = -np.cos(np.pi * x)[:, None] - np.cos(np.pi * x)[None, :]
    U = pad_array(u, 1)
    O = np.zeros_like(U)
    h = (2.0 / n, 2.0 / n)
    per = (True, True)
    sch = SCHEMES["godunov"]
    t0 = time.perf_counter()
    for par in (False, True):
        (stencil5 if par else stencil5_serial)(U, O, 0.1)
        K.stage(U, U, O, 1, h, 0.0, sch.deriv_code, sch.ham_code, 2, 0.0, 1.0, 1e-4, par)
        K.max_slopes(U, 1, h, par)
    compile_s = time.perf_counter() - t0
    g = Grid.uniform([(-1, 1), (-1, 1)], n, periodic=True)
    out = {"n": n, "compile_s": compile_s, "modes": {}}
    for par in (False, True):
        def ref():
            (stencil5 if par else stencil5_serial)(U, O, 0.1)

        cb = K.slope_buffer(U, 1)

        def stage_reused_buffer():
            fill_ghosts(U, 1, per)
            K.stage(U, U, O, 1, h, 0.0, sch.deriv_code, sch.ham_code, 2, 0.0, 1.0, 1e-4, par, cb)

        rows = {}
        for name, fn in (("numba 5-point stencil (reference)", ref),
                         ("godunov step: ghosts + stage with fused CFL slopes", stage_reused_buffer)):
            w, c = _median_time(fn, repeat)
            rows[name] = {"wall_s": w, "cpu_s": c, "gcells_per_s": n * n / w / 1e9}
        # end to end: difference of two solves (k2 - k1 steps) removes the one-off costs (padding,
        # hashing, final gradient)
        k1, k2 = 5, 25
        solve_hj(u, g, 1.0, scheme="godunov", max_steps=1, parallel=par)
        # (fastest k2-step solve - fastest k1-step solve): a median of per-pair differences went negative
        # when other jobs loaded the machine
        wa, wb = [], []
        for _ in range(max(3, repeat // 3)):
            ra = solve_hj(u, g, 1.0, scheme="godunov", max_steps=k1, parallel=par)
            rb = solve_hj(u, g, 1.0, scheme="godunov", max_steps=k2, parallel=par)
            wa.append(ra.wall_time)
            wb.append(rb.wall_time)
        w = (min(wb) - min(wa)) / (k2 - k1)
        rows["solve_hj per step (end to end)"] = {"wall_s": w, "cpu_s": float("nan"),
                                                  "gcells_per_s": n * n / w / 1e9}
        ref_w = rows["numba 5-point stencil (reference)"]["wall_s"]
        ref_c = rows["numba 5-point stencil (reference)"]["cpu_s"]
        for v in rows.values():
            v["ratio_wall"] = ref_w / v["wall_s"]
            v["ratio_cpu"] = ref_c / v["cpu_s"] if np.isfinite(v["cpu_s"]) else float("nan")
        out["modes"]["threaded" if par else "serial"] = rows
    return out


# --------------------------------------------------------------------------- 2. 2-D non-viscous
def bench_2d(schemes, ns, t=1.0, repeat=1, parallel=None):
    out = []
    for n in ns:
        g = Grid.uniform([(-1, 1), (-1, 1)], n, periodic=True)
        x = g.axes[0]
        u1 = hopf_lax_cos(x, t)
        exact = u1[:, None] + u1[None, :]
        u0 = -np.cos(np.pi * x)[:, None] - np.cos(np.pi * x)[None, :]
        for name in schemes:
            wall, r = _timed_solve(u0, g, t, repeat, scheme=name, parallel=parallel)
            err = np.abs(r.u - exact)
            out.append({"scheme": name, "n": n, "wall_s": wall, "n_steps": r.n_steps,
                        "max_err": float(err.max()), "mean_err": float(err.mean()),
                        "cell_updates_per_s": n * n * r.n_steps * SCHEMES[name].n_stages / wall})
            print(f"  2-D {name:15s} {n:5d}^2  {out[-1]['wall_s']:8.3f} s  steps {r.n_steps:6d}  "
                  f"max err {out[-1]['max_err']:.2e}  mean err {out[-1]['mean_err']:.2e}", flush=True)
    return out


def bench_weno512(n=512, t=1.0, repeat=3, cfls=(0.5, 1.0)):
    """WENO5 at 512^2 to t = 1 (the hj_reachability comparison), serial and threaded, median of ``repeat``.

    The default ``cfl = 0.5`` is run in both modes; other ``cfls`` (accuracy / time trade-off)
    threaded only, once.
    """
    g = Grid.uniform([(-1, 1), (-1, 1)], n, periodic=True)
    x = g.axes[0]
    u1 = hopf_lax_cos(x, t)
    exact = u1[:, None] + u1[None, :]
    u0 = -np.cos(np.pi * x)[:, None] - np.cos(np.pi * x)[None, :]
    rows = []
    for cfl in cfls:
        for par in ((False, True) if cfl == 0.5 else (True,)):
            solve_hj(u0, g, 1e-3, scheme="weno5", parallel=par)
            walls, cpus = [], []
            for _ in range(repeat if cfl == 0.5 else 1):
                c0 = time.process_time()
                r = solve_hj(u0, g, t, scheme="weno5", cfl=cfl, parallel=par)
                cpus.append(time.process_time() - c0)
                walls.append(r.wall_time)
            w = float(np.median(walls))
            err = np.abs(r.u - exact)
            rows.append({"mode": "threaded" if par else "serial", "cfl": cfl, "n": n, "wall_s": w,
                         "walls": walls, "cpu_s": float(np.median(cpus)), "n_steps": r.n_steps,
                         "max_err": float(err.max()), "mean_err": float(err.mean()),
                         "cell_updates_per_s": n * n * r.n_steps * 3 / w})
            print(f"  WENO5 {n}^2 {rows[-1]['mode']:8s} cfl {cfl}: {w:.2f} s (runs {[round(v, 2) for v in walls]}), "
                  f"steps {r.n_steps}, max err {err.max():.2e}, {rows[-1]['cell_updates_per_s']:.3g} cell-stage/s",
                  flush=True)
    return rows


# --------------------------------------------------------------------------- 3. viscous 1-D
def bench_viscous(betas, schemes, n=1024, t=1.0, repeat=3, parallel=None):
    g = Grid.uniform([(-1, 1)], n, periodic=True)
    x = g.axes[0]
    u0 = -np.cos(np.pi * x)
    out = []
    cross = {}
    for beta in betas:
        ref = cole_hopf_cos(x, t, beta)
        try:  # cross-check the reference with the package's exact solver when it exists
            if math.isinf(beta):
                from solvers.hopf_lax import hopf_lax
                other = hopf_lax(u0, g, t).u
            else:
                from solvers.cole_hopf import cole_hopf
                other = cole_hopf(u0, g, t, beta).u
            cross[str(beta)] = float(np.abs(other - ref).max())
        except Exception as exc:  # noqa: BLE001 - optional cross-check only
            cross[str(beta)] = f"unavailable ({type(exc).__name__})"
        for name in schemes:
            wall, r = _timed_solve(u0, g, t, repeat, quiet=True, beta=beta, scheme=name, parallel=parallel)
            out.append({"beta": beta, "scheme": name, "n": n, "wall_s": wall,
                        "n_steps": r.n_steps, "n_split_steps": r.params["n_split_steps"],
                        "max_err": float(np.abs(r.u - ref).max()), "compile_s": r.compile_time})
            print(f"  viscous beta={beta:<6g} {name:8s} {out[-1]['wall_s']:.3f} s  steps {r.n_steps} "
                  f"(split {r.params['n_split_steps']})  max err {out[-1]['max_err']:.2e}", flush=True)
    return out, cross



def tta_sweep(ns=(16, 32, 64, 128), repeat=5, parallel=None):
    """Small-grid rows of every scheme (same run as the peer) for the time-to-accuracy comparison."""
    return bench_2d(["lax_friedrichs", "godunov", "eno2", "weno5"], list(ns), repeat=repeat, parallel=parallel)



def run_peers(quick=False, parallel=None):
    """Only the peer parts, merged into the existing ``hj.json`` / ``hj.md`` / ``hj.png``.

    Re-runs, in the same process and run, what the peer ratios need from our side: WENO5 at 512^2
    (section 2b, cfl 0.5, serial and threaded) and the small-grid time-to-accuracy sweep.  Sections
    1-3 keep their earlier numbers (their own run date is kept in the file).
    """
    path = RESULTS / ("hj_quick.json" if quick and (RESULTS / "hj_quick.json").exists() else "hj.json")
    if not path.exists():
        raise FileNotFoundError(f"--peers-only merges into {path}, which does not exist: run the full benchmark first")
    res = json.loads(path.read_text())
    date = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print("4. peers", flush=True)
    res["peers"] = bench_peers(quick=quick)
    res["peers_date"] = date
    print("2b. WENO5 512^2 (same run as the peers)", flush=True)
    res["weno512"] = bench_weno512(n=128 if quick else 512, repeat=1 if quick else 3, cfls=(0.5,))
    res["weno512_date"] = date
    print("time-to-accuracy sweep", flush=True)
    _finish_peers(res, tta_sweep(ns=(16, 32) if quick else (16, 32, 64, 128), repeat=3 if quick else 5,
                                 parallel=parallel), with_two_d=False)
    res["peers_load_end"] = _load()
    _write(res, quick)
    return res



def _write(res, quick):
    """Write ``hj[_quick].json|png|md`` into this module's ``RESULTS`` folder (``deeprelax bench`` moves it)."""
    write_results(res, quick, RESULTS)


def run(quick: bool = False, write: bool = True, parallel=None, peers: bool = True) -> dict:
    """Run every section; return the results dict (and write hj.md / hj.json / hj.png).

    ``parallel`` is passed to ``solve_hj`` in sections 2-3 (None: automatic threshold;
    False gives steadier numbers on a machine shared with other jobs).  ``peers`` runs section 4
    (each peer only when importable; otherwise its entry is a skip note).
    """
    import numba

    res = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, numba {numba.__version__} "
                      f"({numba.config.NUMBA_NUM_THREADS} threads), {platform.python_version()}",
           "note": "Timings are medians; the CPU was shared with other jobs, so numbers are indicative.",
           "quick": quick, "parallel": "auto" if parallel is None else bool(parallel),
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_start": _load()}
    print("1. Godunov step", flush=True)
    res["godunov_step"] = bench_godunov_step(n=1024 if quick else 2048, repeat=5 if quick else 9)
    for mode, rows in res["godunov_step"]["modes"].items():
        for k, v in rows.items():
            print(f"  {mode:9s} {k:45s} {v['gcells_per_s']:.3f} Gcell/s  ({100 * v['ratio_wall']:.0f} % of stencil)")
    print("2. 2-D non-viscous", flush=True)
    ns = [64, 128] if quick else [64, 128, 256, 512]
    res["two_d"] = bench_2d(["lax_friedrichs", "godunov", "eno2", "weno5"], ns, parallel=parallel)
    print("2b. WENO5 512^2 serial / threaded", flush=True)
    res["weno512"] = bench_weno512(n=128 if quick else 512, repeat=1 if quick else 3)
    res["weno512_date"] = res["date"]
    print("3. viscous 1-D", flush=True)
    res["viscous"], res["reference_cross_check"] = bench_viscous(
        [1e-2, 10.0, 100.0, math.inf], ["godunov", "eno2", "weno5"], n=256 if quick else 1024,
        repeat=1 if quick else 3, parallel=parallel)
    print("4. peers", flush=True)
    if peers:
        res["peers"] = bench_peers(quick=quick)
    else:
        res["peers"] = {k: {"skipped": True, "note": "SKIPPED: run(peers=False)"} for k in ("hj_reachability", "py_pde")}
    res["peers_date"] = res["date"]
    print("5. compiled march", flush=True)
    res["march"] = bench_march(n=256 if quick else 1024, repeat=1 if quick else 7)
    print("2c. time-to-accuracy sweep", flush=True)
    _finish_peers(res, tta_sweep(ns=(16, 32) if quick else (16, 32, 64, 128), repeat=3 if quick else 5,
                                 parallel=parallel), with_two_d=True)
    res["load_end"] = _load()
    if write:
        _write(res, quick)
    return res


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--hjr-worker":  # internal: the float64 hj_reachability row
        rows, _, _ = _hjr_rows([int(sys.argv[2])], repeat=int(sys.argv[3]), sign_check=False)
        print(json.dumps(rows[0]))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids, fewer repeats")
    ap.add_argument("--serial", action="store_true", help="serial kernels in sections 2-3 (shared machines)")
    ap.add_argument("--weno512", action="store_true",
                    help="only re-run the WENO5 512^2 serial/threaded section and update hj.json/hj.md")
    ap.add_argument("--peers-only", action="store_true",
                    help="only the peers (hj_reachability, py-pde) plus the same-run WENO5 512^2 and "
                         "time-to-accuracy rows they are compared with; merged into the existing hj.json/hj.md/hj.png")
    ap.add_argument("--march", action="store_true",
                    help="only section 5 (compiled march vs py-pde), merged into the existing hj.json/hj.md "
                         "(with --quick: printed, nothing written)")
    args = ap.parse_args()
    if args.march:
        march = bench_march(n=256 if args.quick else 1024, repeat=1 if args.quick else 7)
        if args.quick:
            print(json.dumps(march, indent=1, default=str))
        else:
            old = json.loads((RESULTS / "hj.json").read_text())
            old["march"] = march
            write_tables(RESULTS, "hj", old, _md(old), indent=1)
            print(f"updated {RESULTS / 'hj'}.md/.json (section 5)")
        sys.exit(0)
    if args.peers_only:
        run_peers(quick=args.quick, parallel=False if args.serial else None)
    elif args.weno512:
        old = json.loads((RESULTS / "hj.json").read_text())
        old["weno512"] = bench_weno512()
        old["weno512_date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        old["peer_comparison"] = peer_comparisons(old)
        write_tables(RESULTS, "hj", old, _md(old), indent=1)
        print(f"updated {RESULTS / 'hj'}.md/.json")
    else:
        run(quick=args.quick, parallel=False if args.serial else None)
