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
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._common import timed  # noqa: E402
from solvers import _hj_kernels as K  # noqa: E402
from solvers.jit import njit, pnjit, prange  # noqa: E402
from solvers.boundary import fill_ghosts, pad_array  # noqa: E402
from solvers.grid import Grid  # noqa: E402
from solvers.hj import SCHEMES, solve_hj  # noqa: E402

RESULTS = HERE / "results"
#: hj_reachability numbers quoted by issue 8 (measured earlier on this machine, not in this run).
HJR_QUOTED = {"grid": 512, "wall_s": 12.0, "max_err": 6.4e-3, "scheme": "WENO5 + global LF + TVD-RK3"}


# --------------------------------------------------------------------------- helpers
def _median_time(fn, repeat):
    """(median wall, median CPU) seconds of ``repeat`` calls after one warm-up call (the shared timer)."""
    tm = timed(fn, repeat, warmup=True)
    return tm.median, tm.cpu_median


def _timed_solve(u0, g, t, repeat, quiet=False, **kw):
    """``solve_hj(u0, g, t, **kw)`` timed ``repeat`` times after a short warm-up solve (compile or
    cache load outside the timing); returns (median wall excluding compile time, last result)."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        solve_hj(u0, g, 1e-3, **kw)
        walls = []
        for _ in range(repeat):
            r = solve_hj(u0, g, t, **kw)
            walls.append(r.wall_time)
    return float(np.median(walls)), r


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


def hopf_lax_cos(x, t):
    """Exact Hopf-Lax solution of ``-cos(pi y)`` at ``x`` (brute force over y, Newton polish)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    s = np.linspace(-t * np.pi - 1e-3, t * np.pi + 1e-3, 4001)
    for lo in range(0, x.size, 256):
        xc = x[lo:lo + 256]
        y = xc[:, None] - s[None, :]
        phi = -np.cos(np.pi * y) + (xc[:, None] - y) ** 2 / (2 * t)
        yb = y[np.arange(xc.size), np.argmin(phi, axis=1)]
        for _ in range(30):
            g1 = np.pi * np.sin(np.pi * yb) - (xc - yb) / t
            g2 = np.pi ** 2 * np.cos(np.pi * yb) + 1.0 / t
            yb = yb - g1 / np.where(g2 > 0, g2, np.inf)
        out[lo:lo + 256] = np.minimum(-np.cos(np.pi * yb) + (xc - yb) ** 2 / (2 * t), phi.min(axis=1))
    return out


def cole_hopf_cos(x, t, beta):
    """Viscous solution for ``u0 = -cos(pi x)``: log-domain trapezoid over y (numerics.md §A.1)."""
    from scipy.special import logsumexp

    if math.isinf(beta):
        return hopf_lax_cos(x, t)
    w = t * np.pi + math.sqrt((t * np.pi) ** 2 + 80.0 * t / beta)
    width = 1.0 / math.sqrt(beta * (1.0 / t + np.pi ** 2))
    m = int(2 * w / min(0.01, width / 12.0)) | 1
    s = np.linspace(-w, w, m)
    out = np.empty_like(x)
    for lo in range(0, x.size, 128):
        xc = x[lo:lo + 128]
        y = xc[:, None] - s[None, :]
        phi = -np.cos(np.pi * y) + s[None, :] ** 2 / (2 * t)
        out[lo:lo + 128] = -(logsumexp(-beta * phi, axis=1) + math.log(s[1] - s[0])
                             + 0.5 * math.log(beta / (2 * math.pi * t))) / beta
    return out


# --------------------------------------------------------------------------- 1. Godunov step
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


# --------------------------------------------------------------------------- 5. compiled march
def _pypde_stepper(n, beta):
    """py-pde's prebuilt adaptive Runge-Kutta stepper (``RungeKuttaSolver(adaptive=True)``, Fehlberg 4(5),
    tolerance 1e-4, numba backend) for the section-3 problem: ``(step, points, compile_s)`` with
    ``step()`` -> the state at ``t = 1`` from a fresh ``-cos(pi x)`` field, or None if py-pde is missing."""
    try:
        import pde
    except Exception:  # noqa: BLE001
        return None
    pgrid = pde.CartesianGrid([[-1.0, 1.0]], [n], periodic=True)
    px = pgrid.axes_coords[0]
    nu = 1.0 / (2.0 * beta)
    eq = pde.PDE({"u": f"-0.5 * gradient_squared(u) + {nu!r} * laplace(u)"})
    field0 = pde.ScalarField(pgrid, -np.cos(np.pi * px))
    solver = pde.solvers.RungeKuttaSolver(eq, adaptive=True)
    c0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stepper = solver.make_stepper(field0.copy())  # numba compilation of py-pde's operators and stepper
    compile_s = time.process_time() - c0

    def step(t=1.0):
        f = field0.copy()
        stepper(f, 0.0, t)
        return f.data

    return step, px, compile_s


def bench_march(n=1024, t=1.0, betas=(10.0, 100.0), repeat=7):
    """The compiled time march (issue 19): per-step overhead and the 1-D viscous targets against py-pde.

    * Per-step overhead: the time of an *empty-physics* step, i.e. a step on a 1-D periodic grid of
      8 nodes (Godunov, beta = inf, ``max_dt`` small so the run takes 20000 steps): everything a step
      costs apart from the cell work.  Compiled march (``solve_hj``) vs the former per-step Python loop
      (``advance_python`` over the same kernels, which is what ``solve_hj`` ran before), same run;
      each the difference of two solves (k2 - k1 steps, fastest of ``repeat``), in CPU and wall time.
    * 1-D targets: ``-cos(pi x)``, periodic, N = ``n``, ``t``, each beta: py-pde's prebuilt adaptive
      stepper (:func:`_pypde_stepper`; compiled once, reported apart) and ours, the default
      (``solve_hj(u0, g, t, beta=beta)``: WENO5, cfl 0.5) and every scheme at cfl 0.5 and 1, run
      *interleaved* (one py-pde solve, then one of each of ours, ``repeat`` rounds), medians of process
      CPU time and wall time; errors against Cole-Hopf at each one's own points.  Ratios are py-pde's
      time over ours (>= 1: the target), for our default and for the fastest of ours within py-pde's error.
    """
    from solvers import _hj_march as M
    from solvers._hj_steppers import CpuOps, advance_python

    out = {"n": n, "t": t, "repeat": repeat, "load_start": _load()}
    g8 = Grid.uniform([(-1, 1)], 8, periodic=True)
    u8 = -np.cos(np.pi * g8.axes[0])
    k1, k2 = 2000, 20000
    sch = SCHEMES["godunov"]

    def march_time(k):
        c0, w0 = time.process_time(), time.perf_counter()
        solve_hj(u8, g8, 1.0, scheme="godunov", max_dt=1.0 / k2, max_steps=k, raise_on_failure=False)
        return time.process_time() - c0, time.perf_counter() - w0

    def python_time(k):
        ops = CpuOps(u8, 1, tuple(g8.spacing), (True,), sch, False)
        p = M.MarchParams(g=1, ih=(1.0 / g8.spacing[0],), q=(1.0 / g8.spacing[0] ** 2,), periodic=(True,),
                          h3=(g8.spacing[0], 1.0, 1.0), p3=(True, False, False), nu=0.0, ham=0, rk3=False, cfl=0.5,
                          dif_rate=0.0, mode=M.AUTO, max_dt=1.0 / k2, t_final=1.0, split_rtol=M.SPLIT_RTOL,
                          x_target=0.1, err_floor=0.0)
        alpha = np.array(ops.slopes(ops.bufs[0])[0])
        c0, w0 = time.process_time(), time.perf_counter()
        advance_python(ops, np.array([0, 1, 2]), p, M.new_clock(), np.zeros(5, np.int64), alpha, 1.0, k, k, math.inf)
        return time.process_time() - c0, time.perf_counter() - w0

    march_time(10)
    python_time(10)
    rows = {}
    for name, fn in (("compiled march (solve_hj)", march_time), ("former Python loop, same kernels", python_time)):
        a = [fn(k1) for _ in range(3)]
        b = [fn(k2) for _ in range(3)]
        rows[name] = {"us_per_step_cpu": 1e6 * (min(x[0] for x in b) - min(x[0] for x in a)) / (k2 - k1),
                      "us_per_step": 1e6 * (min(x[1] for x in b) - min(x[1] for x in a)) / (k2 - k1)}
        print(f"  empty-physics step, {name}: {rows[name]['us_per_step_cpu']:.2f} us CPU "
              f"({rows[name]['us_per_step']:.2f} us wall)", flush=True)
    out["overhead"] = rows
    g = Grid.uniform([(-1, 1)], n, periodic=True)
    x = g.axes[0]
    u0 = -np.cos(np.pi * x)
    configs = [("default (weno5, cfl 0.5)", {})] + [(f"{s} cfl {c}", {"scheme": s, "cfl": c})
                                                     for s in ("weno5", "eno2", "godunov") for c in (0.5, 1.0)]
    configs = [cfg for cfg in configs if cfg[0] != "weno5 cfl 0.5"]  # = the default
    cases = []
    for beta in betas:
        ref = cole_hopf_cos(x, t, beta)
        peer = _pypde_stepper(n, beta)
        case = {"beta": beta}
        runs = {name: {"cpu": [], "wall": []} for name, _ in configs}
        if peer is not None:
            step, px, case["pypde_compile_s"] = peer
            ref_p = cole_hopf_cos(px, t, beta)
            runs["py-pde"] = {"cpu": [], "wall": [], "err": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, kw in configs:  # compile / cache load outside the timing
                solve_hj(u0, g, 1e-3, beta=beta, **kw)
            for _ in range(repeat):  # interleaved rounds
                if peer is not None:
                    c0, w0 = time.process_time(), time.perf_counter()
                    data = step(t)
                    runs["py-pde"]["cpu"].append(time.process_time() - c0)
                    runs["py-pde"]["wall"].append(time.perf_counter() - w0)
                    runs["py-pde"]["err"].append(float(np.abs(data - ref_p).max()))
                for name, kw in configs:
                    c0, w0 = time.process_time(), time.perf_counter()
                    r = solve_hj(u0, g, t, beta=beta, **kw)
                    runs[name]["cpu"].append(time.process_time() - c0)
                    runs[name]["wall"].append(time.perf_counter() - w0)
                    runs[name].update(n_steps=r.n_steps, max_err=float(np.abs(r.u - ref).max()),
                                      n_split=r.params["n_split_steps"])
        ours = []
        for name, _ in configs:
            v = runs[name]
            cpu, wall = float(np.median(v["cpu"])), float(np.median(v["wall"]))
            ours.append({"config": name, "cpu_s": cpu, "wall_s": wall, "n_steps": v["n_steps"],
                         "n_split_steps": v["n_split"], "max_err": v["max_err"],
                         "us_per_step_cpu": 1e6 * cpu / max(v["n_steps"], 1)})
        case["ours"] = ours
        if peer is not None:
            pp = runs["py-pde"]
            case["pypde"] = {"cpu_s": float(np.median(pp["cpu"])), "wall_s": float(np.median(pp["wall"])),
                             "max_err": float(np.median(pp["err"])), "max_err_runs": pp["err"]}
            e_p = case["pypde"]["max_err"]
            d = ours[0]
            case["default"] = {**d, "meets_error": d["max_err"] <= e_p,
                               "ratio_cpu": case["pypde"]["cpu_s"] / d["cpu_s"],
                               "ratio_wall": case["pypde"]["wall_s"] / d["wall_s"]}
            ok = [o for o in ours if o["max_err"] <= e_p]
            if ok:
                b = min(ok, key=lambda o: o["cpu_s"])
                case["best"] = {**b, "ratio_cpu": case["pypde"]["cpu_s"] / b["cpu_s"],
                                "ratio_wall": case["pypde"]["wall_s"] / b["wall_s"]}
            print(f"  beta={beta:g}: py-pde {case['pypde']['cpu_s']:.4f} s CPU ({case['pypde']['wall_s']:.4f} wall) "
                  f"err {e_p:.2e}; ours default {d['cpu_s']:.4f} s CPU ({d['wall_s']:.4f} wall) err {d['max_err']:.2e}: "
                  f"{case['default']['ratio_cpu']:.2f}x CPU, {case['default']['ratio_wall']:.2f}x wall", flush=True)
        else:
            case["pypde"] = {"skipped": True, "note": "SKIPPED: py-pde not importable (pip install py-pde)"}
            print(f"  beta={beta:g}: py-pde not importable; ours default {ours[0]['cpu_s']:.4f} s CPU", flush=True)
        cases.append(case)
    out["cases"] = cases
    out["load_end"] = _load()
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return out


def _md_march(res):
    m = res.get("march")
    if not m or "overhead" not in m:
        return []
    L = [f"## 5. Compiled time march (issue 19; run {m.get('date', res['date'])}, load {_fmt_load(m.get('load_start'))} "
         f"-> {_fmt_load(m.get('load_end'))})", "",
         "Per-step overhead = time of an empty-physics step (1-D periodic, 8 nodes, Godunov, beta = inf, "
         "20000 steps; difference of two solves), same run:", "", "| loop | us / step (CPU) | us / step (wall) |",
         "|---|---|---|"]
    for k, v in m["overhead"].items():
        L.append(f"| {k} | {v.get('us_per_step_cpu', float('nan')):.2f} | {v['us_per_step']:.2f} |")
    L += ["", f"1-D viscous targets, -cos(pi x), periodic, N = {m['n']}, t = {m['t']:g}: reach py-pde's error in at "
          f"most py-pde's time (ratio = py-pde / ours >= 1). py-pde: its prebuilt adaptive Runge-Kutta stepper "
          f"(compiled once, apart); ours: `solve_hj` with the serial kernels, end to end; interleaved, medians of "
          f"{m.get('repeat', '?')} rounds of process CPU time (wall beside it: the host is shared).", "",
          "| beta | py-pde CPU (s) | wall (s) | max error | ours | CPU (s) | wall (s) | max error | steps | "
          "us / step (CPU) | ratio CPU | ratio wall |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in m["cases"]:
        pp = c.get("pypde", {})
        if pp.get("skipped"):
            L.append(f"| {c['beta']:g} | skipped | | | | | | | | | | |")
            continue
        for key, label in (("default", ""), ("best", "fastest within py-pde's error: ")):
            b = c.get(key)
            if b:
                L.append(f"| {c['beta']:g} | {pp['cpu_s']:.4f} | {pp['wall_s']:.4f} | {pp['max_err']:.2e} | "
                         f"{label}{b['config']} | {b['cpu_s']:.4f} | {b['wall_s']:.4f} | {b['max_err']:.2e} | "
                         f"{b['n_steps']} | {b['us_per_step_cpu']:.1f} | {b['ratio_cpu']:.2f} | {b['ratio_wall']:.2f} |")
    L += ["", "All our configurations (medians):", "",
          "| beta | config | CPU (s) | wall (s) | steps | split steps | max error |", "|---|---|---|---|---|---|---|"]
    for c in m["cases"]:
        for o in c["ours"]:
            L.append(f"| {c['beta']:g} | {o['config']} | {o['cpu_s']:.4f} | {o['wall_s']:.4f} | {o['n_steps']} | "
                     f"{o['n_split_steps']} | {o['max_err']:.2e} |")
    return L + [""]


# --------------------------------------------------------------------------- 4. peers
def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - platform without getloadavg
        return None


def _pkg_version(name):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _exact_2d(n, t=1.0):
    """Nodes ``x_i = -1 + 2 i / n`` (float64), u0 and the exact Hopf-Lax solution of section 2."""
    x = -1.0 + 2.0 * np.arange(n) / n
    u1 = hopf_lax_cos(x, t)
    return x, -np.cos(np.pi * x)[:, None] - np.cos(np.pi * x)[None, :], u1[:, None] + u1[None, :]


def _hjr_rows(ns, t=1.0, repeat=3, sign_check=True):
    """hj_reachability on the section-2 problem: one row per grid (median of ``repeat`` after a compile run).

    The Hamiltonian ``H(p) = |p|^2 / 2`` is given to hj_reachability through a ``Dynamics``
    subclass that overrides ``hamiltonian`` and ``partial_max_magnitudes`` (``|dH/dp_i| = |p_i|``,
    maximised over the gradient box that its dissipation scheme passes in).  Its ``euler_step``
    integrates ``v_t = -H(grad v)`` plus the Lax-Friedrichs dissipation when the target time is
    after the start (``time_direction = +1``), so ``times = [0, t]`` with ``+H`` is our
    ``u_t = -1/2 |grad u|^2``.  Its reachability convention (``times = [0, -t]``, backward) solves
    ``v_s = +H`` in ``s = -time``; with ``-H`` that is the same problem, which ``sign_check`` verifies
    on the smallest grid.  Solver settings: ``SolverSettings()`` defaults, i.e. ``upwind_first.WENO5``,
    ``artificial_dissipation.global_lax_friedrichs``, TVD-RK3, ``CFL_number = 0.75``, identity
    post-processors; JAX's default precision (float32 unless ``JAX_ENABLE_X64`` is set).
    """
    import jax
    import jax.numpy as jnp
    import hj_reachability as hj

    class HalfSquare(hj.Dynamics):
        """``H(p) = sign * |p|^2 / 2`` for hj_reachability (no controls, no disturbances)."""

        def __init__(self, sign=1.0):
            self.sign = float(sign)
            super().__init__("min", "max", None, None)

        def __call__(self, state, control, disturbance, time):  # pragma: no cover - not used by solve
            raise NotImplementedError

        def optimal_control_and_disturbance(self, state, time, grad_value):  # pragma: no cover
            raise NotImplementedError

        def hamiltonian(self, state, time, value, grad_value):
            return self.sign * 0.5 * jnp.sum(grad_value ** 2)

        def partial_max_magnitudes(self, state, time, value, grad_value_box):
            return jnp.maximum(jnp.abs(grad_value_box.lo), jnp.abs(grad_value_box.hi))

    settings = hj.SolverSettings()
    rows, check = [], None
    for n in ns:
        x, u0, exact = _exact_2d(n, t)
        grid = hj.Grid.from_lattice_parameters_and_boundary_conditions(
            hj.sets.Box(np.array([-1.0, -1.0]), np.array([1.0, 1.0])), (n, n), periodic_dims=(0, 1))
        v0 = jnp.asarray(u0)
        dyn = HalfSquare(1.0)
        times = jnp.asarray([0.0, t], dtype=v0.dtype)

        def solve():
            return np.asarray(hj.solve(settings, dyn, grid, times, v0, progress_bar=False)[-1].block_until_ready())

        t0 = time.perf_counter()
        hj.solve.lower(settings, dyn, grid, times, v0, progress_bar=False).compile()  # trace + lower + XLA compile
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        v = solve()  # first call through jit (may compile again: the AOT and jit caches need not be shared)
        first = time.perf_counter() - t0
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            v = solve()
            walls.append(time.perf_counter() - t0)
        w = float(np.median(walls))
        err = np.abs(v.astype(np.float64) - exact)
        rows.append({"n": n, "wall_s": w, "walls": walls, "first_call_s": first, "compile_s": compile_s,
                     "max_err": float(err.max()), "mean_err": float(err.mean()), "dtype": str(v.dtype),
                     "load": _load()})
        print(f"  hj_reachability {n:4d}^2 {v.dtype}: {w:.3f} s (runs {[round(a, 2) for a in walls]}), first call "
              f"{first:.2f} s, max err {err.max():.2e}, mean err {err.mean():.2e}", flush=True)
        if sign_check and check is None:
            back = np.asarray(hj.solve(settings, HalfSquare(-1.0), grid, -times, v0, progress_bar=False)[-1])
            check = {"n": n, "max_abs_diff_forward_vs_backward": float(np.abs(back - v).max()),
                     "backward_max_err": float(np.abs(back.astype(np.float64) - exact).max())}
            print(f"  hj_reachability sign check {n}^2: backward form (-H, times [0, -t]) vs forward max |diff| "
                  f"{check['max_abs_diff_forward_vs_backward']:.2e}", flush=True)
    return rows, check, jax.__version__


def _hjr_x64_subprocess(n, repeat, timeout=1800):
    """The same hj_reachability run with ``JAX_ENABLE_X64=1`` in a fresh process (x64 is a start-up flag)."""
    import subprocess
    env = dict(os.environ, JAX_ENABLE_X64="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--hjr-worker", str(n), str(repeat)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:  # noqa: BLE001 - optional extra row
        return {"n": n, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def bench_hj_reachability(ns=(128, 256, 512), t=1.0, repeat=3, x64=True):
    """hj_reachability (WENO5 + global LF + TVD-RK3, its defaults) on the section-2 problem, or a skip note."""
    try:
        import hj_reachability  # noqa: F401
        import jax  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken JAX install
        return {"skipped": True,
                "note": (f"SKIPPED: hj_reachability not importable ({type(exc).__name__}: {exc}); install the bench "
                         f"extra (hj_reachability, jax). Issue 8 quotes it at 512^2 to t=1: "
                         f"{HJR_QUOTED['wall_s']:g} s, max error {HJR_QUOTED['max_err']} (context only).")}
    load0 = _load()
    rows, check, jax_version = _hjr_rows(ns, t, repeat)
    big = max(rows, key=lambda r: r["n"])
    out = {"skipped": False, "version": _pkg_version("hj_reachability"), "jax_version": jax_version,
           "settings": "SolverSettings() defaults: upwind_first.WENO5, global_lax_friedrichs, TVD-RK3, CFL 0.75",
           "precision": big["dtype"] + " (JAX default)", "n": big["n"], "wall_s": big["wall_s"],
           "max_err": big["max_err"], "mean_err": big["mean_err"], "compile_s": big["compile_s"],
           "first_call_s": big["first_call_s"], "rows": rows, "sign_check": check, "load_start": load0}
    if x64:
        r = _hjr_x64_subprocess(big["n"], max(1, repeat - 2))
        out["x64"] = r
        if "error" not in r:
            print(f"  hj_reachability {r['n']}^2 float64 (JAX_ENABLE_X64=1): {r['wall_s']:.3f} s, "
                  f"max err {r['max_err']:.2e}", flush=True)
    out["load_end"] = _load()
    out["note"] = (f"same problem and nodes as section 2 (times [0, t] with +H: forward in time; the backward "
                   f"reachability form gives the same values, see sign_check); wall = median of {repeat} solves "
                   f"after a first (compiling) call, np.asarray of the final slice included; compile_s = "
                   f"hj.solve.lower(...).compile() timed on its own.")
    return out


def bench_pypde(n=1024, t=1.0, betas=(10.0, 100.0, math.inf), repeat=3, parallel=None):
    """py-pde's adaptive Runge-Kutta on the viscous 1-D problem of section 3, against ``solve_hj``.

    PDE: ``pde.PDE({"u": "-0.5 * gradient_squared(u) + nu * laplace(u)"})`` with ``nu = 1 / (2 beta)``
    (the Laplacian dropped for ``beta = inf``) on ``CartesianGrid([[-1, 1]], [n], periodic=True)``
    (cell centres), solved with ``solver="runge-kutta", adaptive=True`` (Runge-Kutta-Fehlberg 4(5),
    default tolerance 1e-4, dt floor 1e-10), no trackers, numba backend.  py-pde rebuilds and
    re-JITs its stepper in every ``solve`` call, so each row gives the end-to-end wall time and
    its own profiler's split into compilation and stepping (``wall_s`` = stepping only).
    """
    import warnings

    try:
        import pde
    except Exception as exc:  # noqa: BLE001
        return {"skipped": True, "note": f"SKIPPED: py-pde not importable ({type(exc).__name__}: {exc}); "
                                         "pip install py-pde."}
    pgrid = pde.CartesianGrid([[-1.0, 1.0]], [n], periodic=True)
    px = pgrid.axes_coords[0]
    g = Grid.uniform([(-1, 1)], n, periodic=True)
    x = g.axes[0]
    u0 = -np.cos(np.pi * x)
    cases, load0 = [], _load()
    for beta in betas:
        nu = 0.0 if math.isinf(beta) else 1.0 / (2.0 * beta)
        expr = "-0.5 * gradient_squared(u)" + ("" if nu == 0.0 else f" + {nu!r} * laplace(u)")
        eq = pde.PDE({"u": expr})
        ref_p = cole_hopf_cos(px, t, beta)
        case = {"beta": beta, "expression": expr, "runs": []}
        for k in range(repeat + 1):  # first run: numba compile of py-pde's operators (not cached on disk)
            field = pde.ScalarField(pgrid, -np.cos(np.pi * px))
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res, info = eq.solve(field, t_range=t, solver="runge-kutta", adaptive=True, tracker=None,
                                         ret_info=True)
            except Exception as exc:  # noqa: BLE001 - the failure is the result
                case["runs"].append({"wall_s": time.perf_counter() - t0, "error": f"{type(exc).__name__}: {exc}"})
                break
            w = time.perf_counter() - t0
            prof = info.get("controller", {}).get("profiler", {})
            st = info.get("solver", {})
            dts = st.get("dt_statistics") or {}
            dts = dts.to_dict() if hasattr(dts, "to_dict") else dts
            case["runs"].append({"wall_s": w, "stepping_s": float(prof.get("solver", float("nan"))),
                                 "compilation_s": float(prof.get("compilation", float("nan"))),
                                 "steps": int(st.get("steps", -1)), "dt_min": float(dts.get("min", float("nan"))),
                                 "dt_mean": float(dts.get("mean", float("nan"))),
                                 "max_err": float(np.abs(res.data - ref_p).max()),
                                 "finite": bool(np.isfinite(res.data).all())})
        err_runs = [r for r in case["runs"] if "error" in r]
        if err_runs:
            case["error"] = err_runs[0]["error"]
            case["wall_to_failure_s"] = err_runs[0]["wall_s"]
            # where did it stop?  The controller keeps the solver info (accepted steps, their dt statistics)
            # and the state, which the stepper updates in place at every accepted step.
            d = getattr(eq, "diagnostics", {}) or {}
            dts = (d.get("solver") or {}).get("dt_statistics") or {}
            if hasattr(dts, "to_dict"):  # an OnlineStatistics object when the run stopped with an error
                dts = dts.to_dict()
            if dts.get("count"):
                case["failure_accepted_steps"] = int(dts["count"])
                case["failure_t_reached"] = float(dts["count"] * dts["mean"])
                case["failure_dt_min"] = float(dts["min"])
            last = d.get("last_state")
            if last is not None:
                case["failure_state_finite"] = bool(np.isfinite(last.data).all())
                case["failure_state_max_abs"] = float(np.nanmax(np.abs(last.data)))
            # the same solve with a tracker every 0.01 (it splits the adaptive stepping into segments)
            field = pde.ScalarField(pgrid, -np.cos(np.pi * px))
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res, info = eq.solve(field, t_range=t, solver="runge-kutta", adaptive=True, ret_info=True,
                                         tracker=pde.CallbackTracker(lambda state: None, interrupts=0.01))
                dts = info.get("solver", {}).get("dt_statistics") or {}
                dts = dts.to_dict() if hasattr(dts, "to_dict") else dts
                case["with_tracker"] = {"completed": True, "wall_s": time.perf_counter() - t0,
                                        "max_err": float(np.abs(res.data - ref_p).max()),
                                        "finite": bool(np.isfinite(res.data).all()),
                                        "steps": int(info.get("solver", {}).get("steps", -1)),
                                        "dt_min": float(dts.get("min", float("nan")))}
            except Exception as exc:  # noqa: BLE001
                d = getattr(eq, "diagnostics", {}) or {}
                case["with_tracker"] = {"completed": False, "error": f"{type(exc).__name__}: {exc}",
                                        "t_reached_lower_bound": float(d.get("last_tracker_time", float("nan")))}
        timed = [r for r in case["runs"][1:] if "error" not in r]
        if timed:
            case.update({"wall_e2e_s": float(np.median([r["wall_s"] for r in timed])),
                         "stepping_s": float(np.median([r["stepping_s"] for r in timed])),
                         "compilation_per_solve_s": float(np.median([r["compilation_s"] for r in timed])),
                         "steps": timed[-1]["steps"], "dt_min": timed[-1]["dt_min"], "dt_mean": timed[-1]["dt_mean"],
                         "max_err": timed[-1]["max_err"], "finite": timed[-1]["finite"]})
        # ours, same problem, same N
        ref = cole_hopf_cos(x, t, beta)
        ours = {}
        for name in ("godunov", "eno2", "weno5"):
            wall, r = _timed_solve(u0, g, t, repeat, quiet=True, beta=beta, scheme=name, parallel=parallel)
            ours[name] = {"wall_s": wall, "n_steps": r.n_steps,
                          "max_err": float(np.abs(r.u - ref).max())}
        case["ours"] = ours
        pw = case.get("stepping_s")
        msg = (f"stepping {pw:.3f} s (end to end {case['wall_e2e_s']:.2f} s), steps {case['steps']}, max err "
               f"{case['max_err']:.2e}" if pw is not None else f"FAILED: {case.get('error')}")
        print(f"  py-pde beta={beta:<5g} {msg}; ours weno5 {ours['weno5']['wall_s']:.3f} s err "
              f"{ours['weno5']['max_err']:.2e}", flush=True)
        cases.append(case)
    main = next((c for c in cases if c["beta"] == 10.0 and "stepping_s" in c), None)
    out = {"skipped": False, "version": _pkg_version("py-pde"), "n": n, "t": t,
           "solver": "runge-kutta, adaptive=True (Runge-Kutta-Fehlberg 4(5), tolerance 1e-4, dt_min 1e-10)",
           "operator": "gradient_squared (central, py-pde default) + laplace, numba backend",
           "cases": cases, "load_start": load0, "load_end": _load(),
           "note": ("beta=10 case; wall_s = py-pde's own stepping time (profiler 'solver'), excluding the numba "
                    "compilation it repeats in every solve call (wall_e2e_s includes it); ours = solve_hj weno5, "
                    f"wall excluding compile, median of {repeat}.")}
    if main is None:
        out.update({"wall_s": None, "note": "py-pde failed at beta=10: " + str(cases[0].get("error")) if cases else
                    "no cases run"})
        return out
    ow = main["ours"]["weno5"]
    out.update({"beta": 10.0, "wall_s": main["stepping_s"], "wall_e2e_s": main["wall_e2e_s"],
                "compilation_per_solve_s": main["compilation_per_solve_s"], "max_err": main["max_err"],
                "steps": main["steps"], "ours_scheme": "weno5", "ours_wall_s": ow["wall_s"],
                "ours_max_err": ow["max_err"]})
    return out


def bench_peers(quick=False):
    """Both peers (each a dict; ``skipped`` with a note when the package is not importable)."""
    print("  hj_reachability ...", flush=True)
    hjr = bench_hj_reachability(ns=(64, 128) if quick else (128, 256, 512), repeat=1 if quick else 3,
                                x64=not quick)
    if hjr.get("skipped"):
        print("  " + hjr["note"], flush=True)
    print("  py-pde ...", flush=True)
    pp = bench_pypde(n=256 if quick else 1024, repeat=1 if quick else 3)
    if pp.get("skipped"):
        print("  " + pp["note"], flush=True)
    return {"hj_reachability": hjr, "py_pde": pp}


def time_to_accuracy(rows, target_err):
    """Fastest row (any scheme, any grid) with ``max_err <= target_err``, or None."""
    ok = [r for r in rows if r["max_err"] <= target_err]
    return dict(min(ok, key=lambda r: r["wall_s"]), target_err=target_err) if ok else None


def peer_comparisons(res):
    """Same-run ratios of section 2b / the time-to-accuracy sweep against hj_reachability."""
    peer = res.get("peers", {}).get("hj_reachability", {})
    if not isinstance(peer, dict) or peer.get("skipped", True):
        return None
    w = [r for r in res.get("weno512", []) if r.get("cfl") == 0.5 and r.get("n") == peer["n"]]
    out = {"peer_n": peer["n"], "peer_wall_s": peer["wall_s"], "peer_max_err": peer["max_err"]}
    if w:
        best = min(w, key=lambda r: r["wall_s"])
        out.update({"ours_weno5_mode": best["mode"], "ours_weno5_wall_s": best["wall_s"],
                    "ours_weno5_max_err": best["max_err"], "speedup": peer["wall_s"] / best["wall_s"],
                    "speed_target_met": peer["wall_s"] / best["wall_s"] >= 2.0,
                    "accuracy_target_met": best["max_err"] <= peer["max_err"]})
    tta = res.get("time_to_accuracy")
    if tta:
        out.update({"tta_scheme": tta["scheme"], "tta_n": tta["n"], "tta_wall_s": tta["wall_s"],
                    "tta_max_err": tta["max_err"], "tta_speedup": peer["wall_s"] / tta["wall_s"],
                    "tta_target_met": peer["wall_s"] / tta["wall_s"] >= 10.0})
    return out


def tta_sweep(ns=(16, 32, 64, 128), repeat=5, parallel=None):
    """Small-grid rows of every scheme (same run as the peer) for the time-to-accuracy comparison."""
    return bench_2d(["lax_friedrichs", "godunov", "eno2", "weno5"], list(ns), repeat=repeat, parallel=parallel)


def _finish_peers(res, sweep_rows, with_two_d):
    """Set ``time_to_accuracy`` (against the measured peer error when there is one) and ``peer_comparison``.

    Candidates: the small-grid sweep, plus the section-2 rows when they were measured in the same run
    (``with_two_d``).
    """
    peer = res["peers"].get("hj_reachability", {})
    measured = isinstance(peer, dict) and not peer.get("skipped", True)
    target = peer["max_err"] if measured else HJR_QUOTED["max_err"]
    res["tta_sweep"] = sweep_rows
    res["time_to_accuracy"] = time_to_accuracy(sweep_rows + (res.get("two_d", []) if with_two_d else []), target)
    res["time_to_accuracy_reference"] = (f"hj_reachability max error at {peer['n']}^2, measured in this run"
                                         if measured else "issue 8's quoted 6.4e-3 (hj_reachability not run)")
    res["peer_comparison"] = peer_comparisons(res)


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


# --------------------------------------------------------------------------- report
def _md(res):
    L = ["# solve_hj benchmarks (issue 8)", "",
         f"Machine: {res['machine']}. {res['note']} Kernels in sections 2-3: parallel={res['parallel']}. "
         f"Sections 1-3 run {res['date']}"
         + (f"; section 2b, the time-to-accuracy sweep and the peers (section 4) run {res['peers_date']}"
            if res.get("peers_date") and res.get("peers_date") != res["date"] else "") + ".", ""]
    gs = res["godunov_step"]
    L += [f"## 1. Godunov explicit step, periodic {gs['n']}^2 (compile/cache load {gs['compile_s']:.2f} s, excluded)",
          "", "| mode | kernel | wall / step (ms) | Gcell/s | vs stencil (wall) | vs stencil (CPU time) |",
          "|---|---|---|---|---|---|"]
    for mode, rows in gs["modes"].items():
        for name, v in rows.items():
            rc = "" if not np.isfinite(v["ratio_cpu"]) else f"{100 * v['ratio_cpu']:.0f} %"
            L.append(f"| {mode} | {name} | {1e3 * v['wall_s']:.2f} | {v['gcells_per_s']:.3f} | "
                     f"{100 * v['ratio_wall']:.0f} % | {rc} |")
    L += ["", "Target: Godunov step >= 50 % of the same-run 5-point stencil sweep. The step kernel also returns "
          "the CFL slopes max|D u| of its input (fused, no extra pass over memory). Threaded rows wait for a "
          "scheduler time slice when other jobs load the machine; compare serial rows there.", ""]
    L += ["## 2. 2-D non-viscous, u0 = -cos(pi x) - cos(pi y), periodic [-1,1)^2, t = 1 (kinked)", "",
          "Error against the exact Hopf-Lax solution (separable 1-D brute force + Newton).", "",
          "| scheme | grid | wall (s) | steps | max error | mean error | cell-stage updates/s |",
          "|---|---|---|---|---|---|---|"]
    for r in res["two_d"]:
        L.append(f"| {r['scheme']} | {r['n']}^2 | {r['wall_s']:.3f} | {r['n_steps']} | {r['max_err']:.2e} | "
                 f"{r['mean_err']:.2e} | {r['cell_updates_per_s']:.3g} |")
    if res.get("weno512"):
        L += ["", f"### 2b. WENO5 at 512^2 to t = 1, serial and threaded (median of the runs listed; "
              f"run {res.get('weno512_date', res['date'])})", "",
              "| mode | cfl | wall (s) | runs (s) | CPU (s) | steps | max error | cell-stage updates/s |",
              "|---|---|---|---|---|---|---|---|"]
        for r in res["weno512"]:
            L.append(f"| {r['mode']} | {r['cfl']} | {r['wall_s']:.2f} | {', '.join(f'{v:.2f}' for v in r['walls'])} | "
                     f"{r['cpu_s']:.2f} | {r['n_steps']} | {r['max_err']:.2e} | {r['cell_updates_per_s']:.3g} |")
        L += ["", "The threaded rows use both cores; on a machine shared with other jobs they wait for time slices "
              "(compare CPU time)."]
    if res.get("tta_sweep"):
        L += ["", f"### 2c. Small grids for time to accuracy (same run as section 4; median of the runs)", "",
              "| scheme | grid | wall (s) | steps | max error |", "|---|---|---|---|---|"]
        for r in res["tta_sweep"]:
            L.append(f"| {r['scheme']} | {r['n']}^2 | {r['wall_s']:.4f} | {r['n_steps']} | {r['max_err']:.2e} |")
    L += ["", "Here the kinks are concave (where characteristics meet) and upwind (Godunov) schemes only read "
          "smooth data on each side of them, which is why the high-order errors stay spectral-like; a global "
          "Lax-Friedrichs flux (hj_reachability's default) smears them instead.", "",
          "![error vs wall time](hj.png)", ""]
    L += ["## 3. Viscous 1-D, u0 = -cos(pi x), periodic, N = 1024, t = 1", "",
          "Error against Cole-Hopf (log-domain quadrature; Hopf-Lax for beta = inf). `split` counts the "
          "steps that used the exact heat-semigroup splitting.", "",
          "| beta | scheme | wall (s) | steps | split | max error |", "|---|---|---|---|---|---|"]
    for r in res["viscous"]:
        L.append(f"| {r['beta']:g} | {r['scheme']} | {r['wall_s']:.3f} | {r['n_steps']} | {r['n_split_steps']} | "
                 f"{r['max_err']:.2e} |")
    L += ["", f"Reference cross-check against the package's exact solvers (max |diff|): {res['reference_cross_check']}", ""]
    L += _md_peers(res)
    L += _md_march(res)
    return "\n".join(L)


def _fmt_load(v):
    return "n/a" if not v else " / ".join(f"{a:.2f}" for a in v)


def _md_peers(res):
    peers = res.get("peers", {})
    L = ["## 4. Peers (same run)", ""]
    if res.get("peers_date"):
        L += [f"Run {res['peers_date']}. The machine (2 cores) was shared with other sessions: load averages "
              "(1/5/15 min) are listed per peer; timings are medians and indicative only.", ""]
    hjr = peers.get("hj_reachability")
    L += ["### hj_reachability, 2-D non-viscous problem of section 2", ""]
    if not isinstance(hjr, dict):
        L += [f"- {hjr}", ""]
    elif hjr.get("skipped"):
        L += [f"- {hjr['note']}", ""]
    else:
        L += [f"hj_reachability {hjr['version']} (JAX {hjr['jax_version']}, CPU), {hjr['settings']}; precision "
              f"{hjr['precision']}. {hjr['note']} Load at start / end: {_fmt_load(hjr.get('load_start'))} ; "
              f"{_fmt_load(hjr.get('load_end'))}.", "",
              "| grid | precision | wall (s) | runs (s) | first call (s) | compile (s) | max error | mean error |",
              "|---|---|---|---|---|---|---|---|"]
        for r in hjr["rows"]:
            L.append(f"| {r['n']}^2 | {r['dtype']} | {r['wall_s']:.3f} | {', '.join(f'{v:.2f}' for v in r['walls'])} | "
                     f"{r['first_call_s']:.2f} | {r['compile_s']:.2f} | {r['max_err']:.2e} | {r['mean_err']:.2e} |")
        x = hjr.get("x64")
        if x and "error" not in x:
            L.append(f"| {x['n']}^2 | {x['dtype']} (JAX_ENABLE_X64=1, separate process) | {x['wall_s']:.3f} | "
                     f"{', '.join(f'{v:.2f}' for v in x['walls'])} | {x['first_call_s']:.2f} | {x['compile_s']:.2f} | "
                     f"{x['max_err']:.2e} | {x['mean_err']:.2e} |")
        elif x:
            L.append(f"\nfloat64 run failed: {x['error']}")
        sc = hjr.get("sign_check")
        if sc:
            L += ["", f"Sign/time convention: the reachability form (H -> -H, times [0, -1], solved backward) gives "
                  f"max |diff| {sc['max_abs_diff_forward_vs_backward']:.1e} from the forward form at {sc['n']}^2; "
                  f"both have max error {sc['backward_max_err']:.2e} against Hopf-Lax, so it is the same problem."]
        pc = res.get("peer_comparison") or {}
        L += ["", "**Same-run comparisons** (targets from issue 8):", ""]
        if "speedup" in pc:
            L.append(f"- WENO5 at {pc['peer_n']}^2, equal grid: ours ({pc['ours_weno5_mode']}, cfl 0.5) "
                     f"{pc['ours_weno5_wall_s']:.2f} s, max error {pc['ours_weno5_max_err']:.2e}; hj_reachability "
                     f"{pc['peer_wall_s']:.2f} s, max error {pc['peer_max_err']:.2e}: {pc['speedup']:.2f}x "
                     f"(target >= 2x: {'met' if pc['speed_target_met'] else 'NOT met'}; at least as accurate: "
                     f"{'yes' if pc['accuracy_target_met'] else 'NO'}).")
        if "tta_speedup" in pc:
            L.append(f"- Time to hj_reachability's {pc['peer_n']}^2 max error ({pc['peer_max_err']:.2e}): fastest of "
                     f"ours is {pc['tta_scheme']} at {pc['tta_n']}^2, {pc['tta_wall_s']:.4f} s (max error "
                     f"{pc['tta_max_err']:.2e}): {pc['tta_speedup']:.0f}x less wall time (target >= 10x: "
                     f"{'met' if pc['tta_target_met'] else 'NOT met'}).")
        if "tta_speedup" in pc:
            L.append("- Each grid's max error is over its own nodes; the kinks (x = +-1, y = +-1, where the "
                     "characteristics meet) are nodes of every grid here, so coarse grids do sample them.")
        L.append(f"- Issue 8 quoted {HJR_QUOTED['wall_s']:g} s and {HJR_QUOTED['max_err']} for this comparison "
                 "(problem unspecified there); the numbers above are this run's.")
        x = hjr.get("x64")
        L.append("- Our rows are float64. The reference above is hj_reachability's default precision "
                 f"({hjr['precision'].split()[0]})"
                 + (f"; with JAX_ENABLE_X64=1 (float64, like ours) it took {x['wall_s']:.2f} s at {x['n']}^2 with "
                    f"max error {x['max_err']:.2e} (last table row; ratio against ours "
                    f"{x['wall_s'] / pc['ours_weno5_wall_s']:.2f}x)." if x and "error" not in x and "speedup" in pc
                    else "."))
        L.append("")
    pp = peers.get("py_pde", peers.get("py-pde"))
    L += [f"### py-pde, viscous 1-D problem of section 3 (N = {pp.get('n', 1024) if isinstance(pp, dict) else 1024}, "
          "t = 1)", ""]
    if not isinstance(pp, dict):
        L += [f"- {pp}", ""]
    elif pp.get("skipped"):
        L += [f"- {pp['note']}", ""]
    else:
        L += [f"py-pde {pp['version']}, solver {pp['solver']}; operator {pp['operator']}; grid: cell centres "
              f"of [-1, 1), periodic. Error against Cole-Hopf at py-pde's own points (Hopf-Lax for beta = inf). "
              f"py-pde re-JITs its stepper in every `solve` call; the table splits its end-to-end time into that "
              f"compilation and the stepping (its own profiler). Ours: `solve_hj`, wall without compilation "
              f"(kernels come from the on-disk cache). Load at start / end: {_fmt_load(pp.get('load_start'))} ; "
              f"{_fmt_load(pp.get('load_end'))}.", "",
              "| beta | py-pde end to end (s) | py-pde compile / solve (s) | py-pde stepping (s) | accepted steps | "
              "min dt | py-pde max error | ours weno5 (s) | ours weno5 max error | ours eno2 (s) / error | "
              "ours godunov (s) / error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        notes = []
        for c in pp["cases"]:
            o = c["ours"]
            tail = (f"{o['weno5']['wall_s']:.3f} | {o['weno5']['max_err']:.2e} | {o['eno2']['wall_s']:.3f} / "
                    f"{o['eno2']['max_err']:.2e} | {o['godunov']['wall_s']:.3f} / {o['godunov']['max_err']:.2e} |")
            if "stepping_s" in c:
                L.append(f"| {c['beta']:g} | {c['wall_e2e_s']:.2f} | {c['compilation_per_solve_s']:.2f} | "
                         f"{c['stepping_s']:.3f} | {c['steps']} | {c['dt_min']:.2e} | {c['max_err']:.2e} | " + tail)
            else:
                where = (f" after {c['failure_accepted_steps']} accepted steps, at t = {c['failure_t_reached']:.3f} "
                         f"(smallest accepted dt {c['failure_dt_min']:.1e})" if "failure_t_reached" in c else "")
                state = (f"; state there finite: {c['failure_state_finite']}, max abs "
                         f"{c['failure_state_max_abs']:.3g}" if "failure_state_finite" in c else "")
                L.append(f"| {c['beta']:g} | failed after {c['wall_to_failure_s']:.2f} s | - | - | - | - | "
                         f"`{c['error']}`{where}{state} | " + tail)
                wt = c.get("with_tracker")
                if wt:
                    notes.append(f"beta = {c['beta']:g}: the same solve with a tracker every 0.01 time units "
                                 + (f"completed (t = 1, {wt['steps']} accepted steps, smallest dt {wt['dt_min']:.1e}, "
                                    f"{wt['wall_s']:.2f} s end to end, all finite: {wt['finite']}) with max error "
                                    f"{wt['max_err']:.2e}: the tracker splits the adaptive stepping into segments, "
                                    "and whether py-pde fails depends on it."
                                    if wt["completed"] else
                                    f"also failed (`{wt['error']}`, t >= {wt['t_reached_lower_bound']:.2f})."))
        if pp.get("wall_s"):
            r = pp["wall_s"] / pp["ours_wall_s"]
            L += ["", f"beta = 10 (issue 8 target: py-pde's error or smaller in less wall time): ours weno5 "
                  f"{pp['ours_wall_s']:.3f} s, max error {pp['ours_max_err']:.2e}; py-pde stepping {pp['wall_s']:.3f} s "
                  f"(end to end {pp['wall_e2e_s']:.2f} s), max error {pp['max_err']:.2e}: {r:.1f}x against its "
                  f"stepping alone, {pp['wall_e2e_s'] / pp['ours_wall_s']:.0f}x end to end; error "
                  f"{'smaller' if pp['ours_max_err'] <= pp['max_err'] else 'LARGER'} by "
                  f"{pp['max_err'] / pp['ours_max_err']:.0f}x."]
        L += [""] + [f"- {v}" for v in notes]
        L.append("")
    return L


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one point per (scheme, grid): the 2c sweep (same run as the peers) replaces a section-2 row of the same grid
    rows = list({(r["scheme"], r["n"]): r for r in res["two_d"] + res.get("tta_sweep", [])}.values())
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name in dict.fromkeys(r["scheme"] for r in rows):
        rr = sorted((r for r in rows if r["scheme"] == name), key=lambda r: (r["n"], r["wall_s"]))
        line, = ax.loglog([r["wall_s"] for r in rr], [r["max_err"] for r in rr], "o-", label=name, ms=4)
        for r in rr:
            ax.annotate(str(r["n"]), (r["wall_s"], r["max_err"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points", color=line.get_color())
    hjr = res.get("peers", {}).get("hj_reachability")
    if isinstance(hjr, dict) and not hjr.get("skipped", True):
        pr = hjr["rows"]
        ax.loglog([r["wall_s"] for r in pr], [r["max_err"] for r in pr], "k*-", ms=9,
                  label=f"hj_reachability WENO5+GLF ({hjr['precision'].split()[0]})")
        for r in pr:
            ax.annotate(str(r["n"]), (r["wall_s"], r["max_err"]), fontsize=7, xytext=(4, -9),
                        textcoords="offset points")
        x = hjr.get("x64")
        if x and "error" not in x:
            ax.loglog([x["wall_s"]], [x["max_err"]], "kx", ms=8, label="hj_reachability float64")
        ax.axhline(hjr["max_err"], color="k", lw=0.6, ls=":")
    else:
        ax.plot([HJR_QUOTED["wall_s"]], [HJR_QUOTED["max_err"]], "k*", ms=10,
                label="hj_reachability 512^2 (issue's quote, not run)")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("max error vs Hopf-Lax")
    ax.set_title("2-D -cos problem to t = 1 (labels: grid n)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write(res, quick):
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "hj_quick" if quick else "hj"
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1, default=str))
    _plot(res, RESULTS / f"{stem}.png")
    md = _md(res)
    if quick:
        md = md.replace("(hj.png)", "(hj_quick.png)")
    (RESULTS / f"{stem}.md").write_text(md)
    print(f"wrote {RESULTS / stem}.md/.json/.png")


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
            (RESULTS / "hj.json").write_text(json.dumps(old, indent=1, default=str))
            (RESULTS / "hj.md").write_text(_md(old))
            print(f"updated {RESULTS / 'hj'}.md/.json (section 5)")
        sys.exit(0)
    if args.peers_only:
        run_peers(quick=args.quick, parallel=False if args.serial else None)
    elif args.weno512:
        old = json.loads((RESULTS / "hj.json").read_text())
        old["weno512"] = bench_weno512()
        old["weno512_date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        old["peer_comparison"] = peer_comparisons(old)
        (RESULTS / "hj.json").write_text(json.dumps(old, indent=1, default=str))
        (RESULTS / "hj.md").write_text(_md(old))
        print(f"updated {RESULTS / 'hj'}.md/.json")
    else:
        run(quick=args.quick, parallel=False if args.serial else None)
