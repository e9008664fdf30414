"""Benchmark of solvers.fokker_planck (issue 3).

Problems
--------
* 2-D OU, 400 x 400 nodes on [-5, 5]^2, f = |x|^2 / 2, beta = D = 1, rho0 = N((1, -0.5), 0.25 I),
  integrated to t = 0.5.  Exact answer: N(m0 e^-t, s0 e^-2t + 1 - e^-2t) (numerics.md C.3).
  Rows: implicit (Lie-split backward Euler, per-line Numba tridiagonal solves), crank_nicolson
  (Strang split), and the same-run references: backward Euler with one scipy ``splu`` of the
  whole 5-point operator (``linear_solver="direct"``) and forward Euler at 0.9x its positivity limit.
* 1-D transient, N = 4096 on [-8, 8], same OU, t = 0.5.
* Per-step scaling over N (1-D and 2-D, implicit).
* Peer: fplanck (``fokker_planck``/``FokkerPlanck(...).propagate``) on the same 400^2 grid when
  ``import fplanck`` works: assembly, propagate and their sum ``total_s``, error against the exact Gaussian.

Timings are medians over repeated runs after compilation; the compile (or cache-load) time of the
Numba kernels is reported separately.  Run ``python benchmarks/bench_fokker_planck.py [--quick] [--peers-only]``
(``--peers-only``: only the fplanck section, merged into the existing results);
writes ``benchmarks/results/fokker_planck.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

from solvers import _fp_march as S
from scipy.linalg import solve_banded

from solvers.fokker_planck import explicit_dt_limit, fokker_planck_operator, solve_fokker_planck
from solvers.grid import Grid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import timed, write_tables  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _gauss(X, m, s):
    d = X.shape[-1]
    return np.exp(-((X - m) ** 2).sum(-1) / (2 * s)) / (2 * math.pi * s) ** (d / 2)


def _ou_problem(n, d, lo=-5.0, hi=5.0, T=0.5):
    g = Grid.uniform([(lo, hi)] * d, n)
    X = g.mesh()
    m0 = np.array([1.0, -0.5, 0.3][:d])
    s0 = 0.25
    m = m0 * math.exp(-T)
    s = s0 * math.exp(-2 * T) + (1 - math.exp(-2 * T))
    return g, 0.5 * (X ** 2).sum(-1), _gauss(X, m0, s0), _gauss(X, m, s), T


def _row(name, fn, exact, repeats):
    t = timed(fn, repeats)
    med, best, r = t.median, t.best, t.out
    err = float(np.abs(r.rho - exact).max())
    return {"case": name, "median_s": med, "min_s": best, "n_steps": int(r.n_steps), "dt": float(r.dt),
            "max_abs_err": err, "max_rel_err": err / float(exact.max()),
            "mass_drift": float(np.abs(r.mass - r.mass[0]).max()), "min_rho": float(r.min_rho.min()),
            "solver": r.params["linear_solver"]}


def bench_2d(quick):
    g, f, rho0, exact, T = _ou_problem(400, 2)
    rep = 3 if quick else 7
    def one_thread(fn):
        def wrapped():
            nt = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                return fn()
            finally:
                numba.set_num_threads(nt)
        return wrapped

    rows = [
        _row(f"implicit (split BE), dt=t/100, {numba.get_num_threads()} threads",
             lambda: solve_fokker_planck(rho0, g, T, potential=f), exact, rep),
        _row("implicit (split BE), dt=t/100, 1 thread",
             one_thread(lambda: solve_fokker_planck(rho0, g, T, potential=f)), exact, rep),
        _row("crank_nicolson (Strang split), dt=t/100",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, method="crank_nicolson"), exact, rep),
        _row("crank_nicolson (Strang split), dt=t/50",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, method="crank_nicolson", dt=T / 50), exact, rep),
        _row("reference: BE, scipy splu of whole operator, dt=t/100",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, linear_solver="direct"), exact,
             1 if quick else 3),
    ]
    if not quick:
        rows.append(_row("reference: explicit (forward Euler, 0.9 x limit)",
                         lambda: solve_fokker_planck(rho0, g, T, potential=f, method="explicit"), exact, 1))
    return {"grid": "400x400 on [-5,5]^2", "t": T, "rows": rows,
            "explicit_dt_limit": explicit_dt_limit(g, potential=f)}


def bench_1d(quick):
    g, f, rho0, exact, T = _ou_problem(4096, 1, -8.0, 8.0)
    rep = 5 if quick else 15
    rows = [
        _row("implicit (Thomas), dt=t/100", lambda: solve_fokker_planck(rho0, g, T, potential=f), exact, rep),
        _row("crank_nicolson, dt=t/100",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, method="crank_nicolson"), exact, rep),
    ]
    # same-run reference: backward Euler with scipy.linalg.solve_banded on the assembled operator
    A = fokker_planck_operator(g, potential=f).todia()
    nsteps, dt = 100, T / 100
    ab = np.zeros((3, g.size))
    for off, row in zip(A.offsets, A.data):
        ab[1 - off] = -dt * row
    ab[1] += 1.0

    class _R:
        pass

    def banded():
        r = rho0.copy()
        for _ in range(nsteps):
            r = solve_banded((1, 1), ab, r)
        out = _R()
        out.rho, out.n_steps, out.dt, out.mass = r, nsteps, dt, np.array([rho0.sum(), r.sum()]) * g.cell_volume
        out.min_rho, out.params = np.array([r.min()]), {"linear_solver": "scipy solve_banded"}
        return out
    rows.append(_row("reference: BE, scipy.linalg.solve_banded, dt=t/100", banded, exact, rep))
    if not quick:
        rows.append(_row("explicit (0.9 x limit)",
                         lambda: solve_fokker_planck(rho0, g, T, potential=f, method="explicit"), exact, 3))
    return {"grid": "N=4096 on [-8,8]", "t": T, "rows": rows}


def bench_compile():
    """Cold compile (empty NUMBA_CACHE_DIR) and warm cache load of the kernels a solve uses (face rates and the
    compiled march), each in a fresh process."""
    import subprocess
    import tempfile
    code = "from solvers import _fp_march as S; print(S.warmup())"     # what a solve compiles
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        for key in ("cold_compile_s", "warm_cache_load_s"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out[key] = float(res.stdout.strip().splitlines()[-1])
    return out


def bench_scaling(quick):
    out = []
    sizes1 = [1024, 8192, 65536, 524288] if quick else [1024, 4096, 16384, 65536, 262144, 1048576]
    sizes2 = [100, 200, 400] if quick else [100, 200, 400, 800, 1200]
    sizes3 = [32, 64] if quick else [32, 64, 128]
    for d, sizes in ((1, sizes1), (2, sizes2), (3, sizes3)):
        for n in sizes:
            g, f, rho0, exact, T = _ou_problem(n, d, -8.0 if d == 1 else -5.0, 8.0 if d == 1 else 5.0)
            nsteps = 20 if d < 3 else 10

            def run():
                return solve_fokker_planck(rho0, g, T, potential=f, dt=T / nsteps)
            nt = numba.get_num_threads()
            med = timed(run, 3).median
            numba.set_num_threads(1)
            try:
                med1 = timed(run, 3).median
            finally:
                numba.set_num_threads(nt)
            out.append({"d": d, "N": g.size, "shape": list(g.shape), "steps": nsteps, "median_s": med,
                        "per_step_ms": 1e3 * med / nsteps, "ns_per_cell_step": 1e9 * med / nsteps / g.size,
                        "median_s_1thread": med1, "per_step_ms_1thread": 1e3 * med1 / nsteps,
                        "ns_per_cell_step_1thread": 1e9 * med1 / nsteps / g.size})
    return out


def _fplanck_api():
    """``(fplanck module, solver class, reflecting boundary, version)`` across fplanck releases.

    0.2.x (PyPI) names the class ``fokker_planck`` and the boundary enum ``boundary.reflecting``;
    the 1.x sources name them ``FokkerPlanck`` and ``Boundary.REFLECTING`` (``boundary`` kept as an
    alias in some versions).  0.2.x's matrix assembly calls ``np.product``, removed in NumPy 2.0:
    :func:`_numpy_product_shim` supplies it for the duration of the call only.
    """
    import fplanck
    from importlib.metadata import PackageNotFoundError, version

    cls = getattr(fplanck, "FokkerPlanck", None) or getattr(fplanck, "fokker_planck")
    bnd = getattr(fplanck, "Boundary", None)
    reflecting = bnd.REFLECTING if bnd is not None and hasattr(bnd, "REFLECTING") else fplanck.boundary.reflecting
    try:
        ver = version("fplanck")
    except PackageNotFoundError:
        ver = getattr(fplanck, "__version__", "unknown")
    return fplanck, cls, reflecting, ver


class _numpy_product_shim:
    """Context manager: ``numpy.product = numpy.prod`` while fplanck assembles (NumPy >= 2 removed it)."""

    def __enter__(self):
        self.added = not hasattr(np, "product")
        if self.added:
            np.product = np.prod
        return self

    def __exit__(self, *exc):
        if self.added:
            del np.product
        return False


def bench_fplanck(quick):
    """fplanck on the same 400^2 OU problem: assembly (its Python loop) + ``propagate`` (expm_multiply).

    ``temperature = 1/k_B`` and ``drag = 1`` make its ``beta = 1`` and ``D = 1``; the harmonic potential
    with spring constant 1 is our ``f = |x|^2/2``.  Its grid is ``arange(N) * resolution`` centred on 0;
    with ``resolution = h`` (our node spacing) and ``N = 400`` it is our node grid on [-5, 5]^2.  Its
    ``propagate`` normalises the initial ``pdf`` values to unit sum, so ``p / h^2`` is compared with the
    exact Gaussian density at its own nodes.  Medians over ``repeats`` (1 in quick mode).
    """
    try:
        fplanck, cls, reflecting, ver = _fplanck_api()
    except Exception as exc:  # ImportError, or the PEP 695 syntax error of the 1.x sources under Python 3.11
        return {"skipped": True,
                "note": f"fplanck not importable here ({type(exc).__name__}: {exc}); peer not run. "
                        "peers.md 2.5 measured fplanck on this problem at 400^2 on this machine class: "
                        "3.68 s assembly + 16.5 s propagate(t=0.5)."}
    g, f, rho0, exact, T = _ou_problem(400, 2)
    n, h = g.shape[0], g.spacing[0]
    m0, s0 = np.array([1.0, -0.5]), 0.25

    def pdf(*xs):
        return _gauss(np.stack(xs, -1), m0, s0)

    k_B = 1.380649e-23
    repeats = 1 if quick else 3
    builds, props, load0 = [], [], list(os.getloadavg())
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            with _numpy_product_shim():
                sim = cls(temperature=1 / k_B, drag=1.0, extent=[(n - 0.5) * h] * 2, resolution=h,
                          boundary=reflecting, potential=fplanck.harmonic_potential((0, 0), 1.0))
            builds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            p = sim.propagate(pdf, T)
            props.append(time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - report the failure instead of the numbers
        return {"skipped": True, "version": ver,
                "note": f"fplanck {ver} imported but failed ({type(exc).__name__}: {exc}); peer not run."}
    X = np.stack(np.asarray(sim.grid), -1)
    ex = _gauss(X, m0 * math.exp(-T), s0 * math.exp(-2 * T) + 1 - math.exp(-2 * T))
    rho = p / (h * h)
    err = float(np.abs(rho - ex).max())
    a_s, p_s = statistics.median(builds), statistics.median(props)
    out = {"skipped": False, "version": ver, "shape": list(p.shape), "grid_matches_ours":
           bool(p.shape == exact.shape and np.allclose(sim.axes[0], g.axes[0], atol=1e-12)),
           "assembly_s": a_s, "propagate_s": p_s, "total_s": a_s + p_s, "assembly_runs_s": builds,
           "propagate_runs_s": props, "max_abs_err": err, "max_rel_err": err / float(ex.max()),
           "mass": float(p.sum()), "min_p": float(p.min()), "load_start": load0, "load_end": list(os.getloadavg()),
           "note": (f"fplanck {ver}: FokkerPlanck(temperature=1/k_B, drag=1, resolution=h, reflecting, "
                    f"harmonic_potential k=1) + propagate(pdf, 0.5) (scipy expm_multiply); median of {repeats}; "
                    "numpy.product shimmed for its assembly under NumPy 2")}
    return out


def _ours_for_fplanck(quick):
    """Our rows measured next to fplanck (same run): implicit at dt = t/100, Crank-Nicolson at t/100 and t/400,
    and (not quick) forward Euler at 0.9x its positivity limit, the one that reaches fplanck's error here."""
    g, f, rho0, exact, T = _ou_problem(400, 2)
    rep = 3 if quick else 7
    extra = [] if quick else [_row("explicit (forward Euler, 0.9 x limit), 1 run",
                                   lambda: solve_fokker_planck(rho0, g, T, potential=f, method="explicit"), exact, 1)]
    return [
        _row("implicit (split BE), dt=t/100", lambda: solve_fokker_planck(rho0, g, T, potential=f), exact, rep),
        _row("crank_nicolson (Strang split), dt=t/100",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, method="crank_nicolson"), exact, rep),
        _row("crank_nicolson (Strang split), dt=t/400",
             lambda: solve_fokker_planck(rho0, g, T, potential=f, method="crank_nicolson", dt=T / 400), exact, rep),
    ] + extra


def _attach_ours(fp, ours_rows):
    """Same-run comparison: our implicit row, and our fastest row at least as accurate as fplanck."""
    if fp.get("skipped"):
        return fp
    fp["ours_rows"] = ours_rows
    imp = ours_rows[0]
    fp["ours_same_run_row"] = imp
    fp["ours_same_run_s"] = imp["median_s"]
    ok = [r for r in ours_rows if r["max_rel_err"] <= fp["max_rel_err"]]
    if ok:
        b = min(ok, key=lambda r: r["median_s"])
        fp["accuracy_matched"] = {"case": b["case"], "median_s": b["median_s"], "max_rel_err": b["max_rel_err"],
                                  "ratio_total": fp["total_s"] / b["median_s"]}
    else:
        fp["accuracy_matched"] = None
    return fp


def run_fplanck_only(quick: bool = False) -> dict:
    """Only the fplanck peer (plus our implicit 400^2 row, same run), merged into the existing results."""
    path = RESULTS / "fokker_planck.json"
    if not path.exists():
        raise FileNotFoundError(f"--peers-only merges into {path}, which does not exist: run the full benchmark first")
    res = json.loads(path.read_text())
    S.warmup()
    ours = _ours_for_fplanck(quick)
    res["fplanck"] = _attach_ours(bench_fplanck(quick), ours)
    res["fplanck"]["date"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    write_tables(path.parent, "fokker_planck", res, to_markdown(res))
    return res


def _threading_layer():
    try:
        return numba.threading_layer()
    except ValueError:   # no parallel kernel has run yet
        return None


def run(quick: bool = False, write: bool = True) -> dict:
    """Run all sections; return the results dict (and write the md/json files)."""
    compile_s = S.warmup()
    res = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": os.cpu_count(), "numba_threads": numba.get_num_threads(),
                    "threading_layer": _threading_layer(), "loadavg_start": list(os.getloadavg()),
                    "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                    "note": "shared 2-core box while other jobs ran: timings indicative"},
        "quick": quick,
        "compile_or_cache_load_s": compile_s,
        "compile": bench_compile(),
        "ou_2d": bench_2d(quick),
        "ou_1d": bench_1d(quick),
        "scaling": bench_scaling(quick),
    }
    res["fplanck"] = bench_fplanck(quick)
    if not res["fplanck"]["skipped"]:
        _attach_ours(res["fplanck"], _ours_for_fplanck(quick))
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    if write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_tables(RESULTS, "fokker_planck", res, to_markdown(res))
    return res


def _table(rows, cols):
    head = "| " + " | ".join(c for c, _ in cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "".join("| " + " | ".join(fmt(r) for _, fmt in cols) + " |\n" for r in rows)


def to_markdown(res: dict) -> str:
    cols = [("case", lambda r: r["case"]), ("median s", lambda r: f"{r['median_s']:.3f}"),
            ("min s", lambda r: f"{r['min_s']:.3f}"), ("steps", lambda r: str(r["n_steps"])),
            ("max abs err", lambda r: f"{r['max_abs_err']:.2e}"), ("max rel err", lambda r: f"{r['max_rel_err']:.2e}"),
            ("mass drift", lambda r: f"{r['mass_drift']:.1e}"), ("min rho", lambda r: f"{r['min_rho']:.1e}")]
    s = ["# Fokker-Planck benchmark (issue 3)\n",
         f"Machine: {res['machine']['platform']}, {res['machine']['cpus']} CPUs, Python {res['machine']['python']}. "
         f"**{res['machine']['note']}.** Quick mode: {res['quick']}.\n",
         f"Load average at start / end: {res['machine']['loadavg_start'][0]:.2f} / "
         f"{res['machine']['loadavg_end'][0]:.2f}; Numba threads {res['machine']['numba_threads']} "
         f"({res['machine']['threading_layer']}), OMP_WAIT_POLICY={res['machine']['OMP_WAIT_POLICY']}.\n",
         f"Numba kernels, separate from all timings: cold compile {res['compile']['cold_compile_s']:.2f} s, "
         f"load from the on-disk cache {res['compile']['warm_cache_load_s']:.2f} s (fresh processes).\n",
         "Errors are max |rho - exact Gaussian| over the grid (relative = / max exact).\n",
         f"\n## 2-D OU, {res['ou_2d']['grid']}, t = {res['ou_2d']['t']} (target: implicit <= 1 s)\n\n",
         _table(res["ou_2d"]["rows"], cols),
         f"\nForward-Euler positivity limit dt <= {res['ou_2d']['explicit_dt_limit']:.3g}.\n",
         f"\n## 1-D OU, {res['ou_1d']['grid']}, t = {res['ou_1d']['t']} (target: <= 0.2 s)\n\n",
         _table(res["ou_1d"]["rows"], cols),
         "\n## Scaling of the implicit step (20 steps, 10 in 3-D; median of 3)\n\n",
         _table(res["scaling"], [("d", lambda r: str(r["d"])), ("N", lambda r: str(r["N"])),
                                 ("per step ms, 1 thread", lambda r: f"{r['per_step_ms_1thread']:.3f}"),
                                 ("ns / cell / step, 1 thread", lambda r: f"{r['ns_per_cell_step_1thread']:.1f}"),
                                 (f"per step ms, {res['machine']['numba_threads']} threads",
                                  lambda r: f"{r['per_step_ms']:.3f}"),
                                 ("ns / cell / step", lambda r: f"{r['ns_per_cell_step']:.1f}")]),
         "\n## Notes\n\n",
         "* `implicit` in 2-D/3-D is Lie-split backward Euler (one tridiagonal solve per grid line and axis); "
         "its error here is dominated by the O(dt) time error of backward Euler (compare the whole-operator "
         "splu row: same order of error, unsplit). `crank_nicolson` (Strang split) is second order; at dt = t/100 its error is "
         "mostly the O(h^2) spatial error.\n",
         "* Threaded kernels synchronise once per sweep. On an oversubscribed machine the OpenMP threads "
         "spin-wait at that barrier and steal the CPU from the working thread (measured here: one 400^2 "
         "sweep 8 ms threaded vs 1.3 ms serial); with `OMP_WAIT_POLICY=passive` the threaded sweep is back "
         "to 1.3 ms. Without it, under load the 1-thread row can beat the threaded one by 3-5x (whole 400^2 "
         "implicit run: 1.6-1.7 s threaded vs 0.3-0.5 s serial in some runs here, 0.16-0.19 s threaded in "
         "quieter moments).\n",
         "* Mass drift and min rho are over all saved times; min rho > 0 everywhere (no clipping on "
         "no-flux grids).  Compare the `solve_banded` row: a general banded LU (pivots by subtraction) loses "
         "the far tails (min rho) and conserves mass less tightly than the subtraction-free Thomas sweep.\n",
         "\n## Peer: fplanck\n\n"]
    fp = res["fplanck"]
    if fp["skipped"]:
        s.append(fp["note"] + "\n")
    else:
        s.append(f"{fp['note']}. Run {fp.get('date', 'with the tables above')}; load average at start / end "
                 f"{fp['load_start'][0]:.2f} / {fp['load_end'][0]:.2f}. Grid {fp['shape'][0]}x{fp['shape'][1]}, "
                 f"same nodes as ours: {fp['grid_matches_ours']}.\n\n"
                 "| | assembly (s) | propagate t=0.5 (s) | total (s) | max abs err | max rel err | mass | min |\n"
                 "|---|---|---|---|---|---|---|---|\n"
                 f"| fplanck | {fp['assembly_s']:.2f} | {fp['propagate_s']:.2f} | {fp['total_s']:.2f} | "
                 f"{fp['max_abs_err']:.2e} | {fp['max_rel_err']:.2e} | {fp['mass']:.12f} | {fp['min_p']:.1e} |\n")
        for r in fp.get("ours_rows", []):
            s.append(f"| ours: {r['case']} (same run) | - | - | {r['median_s']:.3f} | {r['max_abs_err']:.2e} | "
                     f"{r['max_rel_err']:.2e} | - | {r['min_rho']:.1e} |\n")
        ours = fp.get("ours_same_run_row")
        if ours:
            s.append(f"\nfplanck total / ours implicit dt=t/100 (same run): {fp['total_s'] / ours['median_s']:.0f}x, "
                     f"but its error is {fp['max_rel_err']:.1e} against our {ours['max_rel_err']:.1e} (fplanck is "
                     "exact in time, expm_multiply; our backward Euler error is O(dt)). ")
            am = fp.get("accuracy_matched")
            s.append(f"At equal or better accuracy: ours {am['case']} {am['median_s']:.3f} s, max rel err "
                     f"{am['max_rel_err']:.1e}; fplanck total / this = {am['ratio_total']:.2f}x.\n"
                     if am else "None of our rows above reaches fplanck's error.\n")
    return "".join(s)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    ap.add_argument("--peers-only", action="store_true",
                    help="only the fplanck peer (and our implicit 400^2 row, same run), merged into the existing "
                         "fokker_planck.json/.md")
    args = ap.parse_args(argv)
    res = run_fplanck_only(quick=args.quick) if args.peers_only else run(quick=args.quick)
    print(to_markdown(res))


if __name__ == "__main__":
    main()
