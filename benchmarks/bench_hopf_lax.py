"""Benchmark of solvers.hopf_lax (separable Felzenszwalb-Huttenlocher lower envelope, Numba).

Targets from issue 2 (reported, never asserted):
  * 2048 x 2048 in <= 0.15 s after compilation (median of >= 5 runs);
  * >= 1000x faster than the O(N^2) numpy brute force at N = 4096 in 1-D;
  * time(N = 2^22) / time(N = 2^18) <= 24 in 1-D (ideal: 16).
Targets from issue 19, each a ratio against a baseline measured in the same run:
  * 2-D periodic 512^2 and 2048^2: ``outputs=("u",)`` >= 1.5x faster than a naive Numba two-pass
    lower envelope computing only u (:mod:`benchmarks.naive_envelope`); with prox and grad no slower
    than that naive kernel.  Both at the thread count of the run; the cases are interleaved
    (one call of each per repeat) and medians taken, compile / cache-load time apart; each case
    reports its wall time and its process CPU time (all threads), and the ratio of both: the
    CPU-time ratio is the cost of the work, which the load of a shared host does not change;
  * 1-D N = 4096 with the default refinement >= 1000x the numpy brute force (both serial; wall and
    CPU-time ratios).
Also a case that is no target: with prox and grad, passing an earlier result's arrays as ``out=``.
Also: compile time (fresh cache directory, separate process) and cold-process first-call
time with the on-disk cache (second of two fresh processes), to show ``cache=True`` works.

Run: ``python benchmarks/bench_hopf_lax.py [--quick]``; writes
``benchmarks/results/hopf_lax.md`` and ``.json``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _common  # noqa: E402
from benchmarks._common import timed, write_tables  # noqa: E402
from benchmarks.naive_envelope import naive_hopf_lax_u  # noqa: E402
from solvers.grid import Grid  # noqa: E402
from solvers.hopf_lax import hopf_lax  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

#: The case of a caller that passes its earlier result's arrays as ``out=`` (not a target row).
OUT_CASE = "ours u+prox+grad (refine none), out= reused"

_CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
from solvers.grid import Grid
from solvers.hopf_lax import hopf_lax
t1 = time.perf_counter()
g = Grid.uniform([(-1, 1), (-1, 1)], 256)
x = g.axes[0]
vals = np.sin(3 * x)[:, None] * np.cos(2 * x)[None, :]
t2 = time.perf_counter()
r = hopf_lax(vals, g, 0.1)
t3 = time.perf_counter()
r2 = hopf_lax(vals, g, 0.1)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "compile_time_field_s": r.compile_time,
                  "second_call_s": t4 - t3}))
"""


def _child(env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def brute_1d(vals, x, t, chunk=512):
    """O(N^2) numpy reference: min_j f_j + (x_i - x_j)^2/(2t), in row chunks."""
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        D = vals[None, :] + (x[s:s + chunk, None] - x[None, :]) ** 2 / (2 * t)
        out[s:s + chunk] = D.min(1)
    return out


def periodic_case(n: int):
    """The periodic 2-D problem of the naive-envelope rows: grid, values, t."""
    g = Grid.uniform([(-1, 1), (-1, 1)], n, periodic=True)
    x = g.axes[0]
    vals = np.sin(np.pi * x)[:, None] * np.cos(2 * np.pi * x)[None, :] + 0.3 * np.cos(3 * np.pi * x)[None, :]
    return g, np.ascontiguousarray(vals), 0.05


def vs_naive(n: int, reps: int) -> dict:
    """Ours (u only / u, prox, grad; refine none / quadratic) against the naive two-pass u-only kernel."""
    g, vals, t = periodic_case(n)
    t0 = time.perf_counter()
    first = hopf_lax(vals, g, t, refine="none", outputs=("u",))
    ours_first = time.perf_counter() - t0
    e = first.params["periodic_images"]
    t0 = time.perf_counter()
    un = naive_hopf_lax_u(vals, g.spacing, t, e)
    naive_first = time.perf_counter() - t0
    cases = {"naive u (refine none)": lambda: naive_hopf_lax_u(vals, g.spacing, t, e)}
    for refine in ("none", "quadratic"):
        for outs in (("u",), ("u", "prox", "grad")):
            hopf_lax(vals, g, t, refine=refine, outputs=outs)
            cases[f"ours {'+'.join(outs)} (refine {refine})"] = \
                (lambda refine=refine, outs=outs: hopf_lax(vals, g, t, refine=refine, outputs=outs))
    # a caller that reuses its output arrays (out=): no allocation, no first-touch page faults
    reuse = hopf_lax(vals, g, t, refine="none").to_dict()
    cases[OUT_CASE] = lambda: hopf_lax(vals, g, t, refine="none", out=reuse)
    runs = {k: [] for k in cases}
    cpus = {k: [] for k in cases}
    faults = {k: [] for k in cases}
    for _ in range(reps):
        for k, fn in cases.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            tm = timed(fn, 1)
            faults[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            runs[k].append(tm.median)
            cpus[k].append(tm.cpu_median)
    med = {k: float(np.median(v)) for k, v in runs.items()}
    cpu = {k: float(np.median(v)) for k, v in cpus.items()}
    base, cbase = med["naive u (refine none)"], cpu["naive u (refine none)"]
    rows = [{"case": k, "median_s": med[k], "min_s": float(min(runs[k])), "naive_over_this": base / med[k],
             "cpu_median_s": cpu[k], "naive_over_this_cpu": cbase / cpu[k],
             "page_faults_median": float(np.median(faults[k]))} for k in cases]
    diff = float(np.abs(hopf_lax(vals, g, t, refine="none", outputs=("u",)).u - un).max())
    return {"n": n, "t": t, "periodic_images": e, "reps": reps, "rows": rows, "max_abs_diff_none_vs_naive": diff,
            "load_avg_1min": os.getloadavg()[0],
            "first_call_s": {"naive (compile or cache load)": naive_first, "ours (cache load)": ours_first},
            "f": "sin(pi x) cos(2 pi y) + 0.3 cos(3 pi y) on [-1, 1)^2 periodic"}


def _measure(quick: bool = False) -> dict:
    res = {"quick": quick, "cpu_count": os.cpu_count()}
    import numba

    res["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    # --- compile (fresh cache dir) and cold-process (warm on-disk cache) timings
    with tempfile.TemporaryDirectory() as tmp:
        fresh = _child({"NUMBA_CACHE_DIR": tmp})
    _child()                       # make sure the default cache is populated
    cold = _child()                # second fresh process: loads machine code from the cache
    res["compile"] = {"fresh_cache_first_call_s": fresh["first_call_s"],
                      "fresh_cache_compile_field_s": fresh["compile_time_field_s"],
                      "cached_process_first_call_s": cold["first_call_s"],
                      "cached_process_compile_field_s": cold["compile_time_field_s"],
                      "cached_process_import_s": cold["import_s"],
                      "warm_call_256sq_s": cold["second_call_s"]}
    # --- 2-D 2048^2
    n = 512 if quick else 2048
    reps = 5 if quick else 7
    g = Grid.uniform([(-1, 1), (-1, 1)], n)
    x = g.axes[0]
    vals = np.sin(3 * x)[:, None] * np.cos(2 * x)[None, :] + 0.5 * (x[:, None] ** 2 + x[None, :] ** 2)
    rows2d = []
    for refine in ("quadratic", "none"):
        hopf_lax(vals, g, 0.1, refine=refine)
        ts = [timed(lambda: hopf_lax(vals, g, 0.1, refine=refine), 1) for _ in range(reps)]
        med = float(np.median([r.median for r in ts]))
        rows2d.append({"n": n, "refine": refine, "median_s": med, "min_s": min(r.median for r in ts),
                       "runs_s": [r.median for r in ts], "ns_per_cell": med / g.size * 1e9,
                       "cpu_median_s": float(np.median([r.cpu_median for r in ts]))})
    res["2d"] = rows2d
    # --- 2-D periodic vs the naive two-pass envelope (issue 19)
    res["vs_naive"] = [vs_naive(nn, rr) for nn, rr in (((128, 15), (512, 11)) if quick else ((512, 21), (2048, 15)))]
    # --- 1-D vs numpy brute force at N = 4096
    N = 4096
    g1 = Grid.uniform([(-1, 1)], N)
    x1 = g1.axes[0]
    v1 = np.sin(5 * x1) + x1 ** 2
    r = hopf_lax(v1, g1, 0.05, refine="none")
    hopf_lax(v1, g1, 0.05)
    # interleaved rounds: ours (refine none, default), then the brute force; per round a median of 9
    # timings of 25 back-to-back calls of ours (the CPU clock is a system call of ~1 us) and one brute-force
    # call; medians over the rounds
    rounds = {"none": [], "quadratic": [], "brute": []}
    for _ in range(3 if quick else 15):
        rounds["none"].append(timed(lambda: hopf_lax(v1, g1, 0.05, refine="none"), 9, inner=25))
        rounds["quadratic"].append(timed(lambda: hopf_lax(v1, g1, 0.05), 9, inner=25))
        rounds["brute"].append(timed(lambda: brute_1d(v1, x1, 0.05), 1))
    (t_ours, c_ours), (t_oursq, c_oursq), (t_brute, c_brute) = (
        (float(np.median([x.median for x in rounds[k]])), float(np.median([x.cpu_median for x in rounds[k]])))
        for k in ("none", "quadratic", "brute"))
    err = float(np.abs(r.u - brute_1d(v1, x1, 0.05)).max())
    res["1d_vs_brute"] = {"N": N, "ours_none_s": t_ours, "ours_quadratic_s": t_oursq, "numpy_brute_s": t_brute,
                          "speedup_none": t_brute / t_ours, "speedup_quadratic": t_brute / t_oursq,
                          "ours_none_cpu_s": c_ours, "ours_quadratic_cpu_s": c_oursq, "numpy_brute_cpu_s": c_brute,
                          "speedup_none_cpu": c_brute / c_ours, "speedup_quadratic_cpu": c_brute / c_oursq,
                          "max_abs_diff_none": err}
    # --- 1-D scaling
    sizes = [2 ** 16, 2 ** 18, 2 ** 20] if quick else [2 ** 18, 2 ** 20, 2 ** 22]
    scal = []
    for Ns in sizes:
        gs = Grid.uniform([(-1, 1)], Ns)
        xs = gs.axes[0]
        vs = np.sin(5 * xs) + xs ** 2
        hopf_lax(vs, gs, 0.05)
        tm = timed(lambda: hopf_lax(vs, gs, 0.05), 5)
        scal.append({"N": Ns, "median_s": tm.median, "ns_per_cell": tm.median / Ns * 1e9,
                     "cpu_median_s": tm.cpu_median})
    res["1d_scaling"] = scal
    res["1d_ratio_largest_over_smallest"] = scal[-1]["median_s"] / scal[0]["median_s"]
    res["1d_ratio_largest_over_smallest_cpu"] = scal[-1]["cpu_median_s"] / scal[0]["cpu_median_s"]
    res["load_avg_1min"] = os.getloadavg()[0]
    return res


def to_markdown(res: dict) -> str:
    c = res["compile"]
    lines = ["# Hopf-Lax benchmark (`solvers.hopf_lax`)", "",
             f"Machine: {res['cpu_count']} CPUs, numba threads {res['numba_threads']}; shared with other jobs, "
             "so the numbers are indicative.  Quick mode: " + str(res["quick"]) + ".", "",
             "## Compilation and cache", "",
             "| quantity | seconds |", "|---|---|",
             f"| first call, fresh cache dir (compile) | {c['fresh_cache_first_call_s']:.3f} |",
             f"| first call in a new process with the on-disk cache (2nd process) | "
             f"{c['cached_process_first_call_s']:.3f} |",
             f"| of which `compile_time` (cache load) | {c['cached_process_compile_field_s']:.3f} |",
             f"| later call, 256^2 | {c['warm_call_256sq_s']:.4f} |", "",
             "## 2-D (target: 2048^2 in <= 0.15 s after compilation)", "",
             "| n x n | refine | median s | min s | ns/cell (median) | CPU s (median, all threads) | runs |",
             "|---|---|---|---|---|---|---|"]
    for r in res["2d"]:
        cpu = f"{r['cpu_median_s']:.3f}" if "cpu_median_s" in r else "-"
        lines.append(f"| {r['n']}^2 | {r['refine']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['ns_per_cell']:.1f} | "
                     f"{cpu} | " + ", ".join(f"{v:.3f}" for v in r["runs_s"]) + " |")
    b = res["1d_vs_brute"]
    lines += ["", "## 2-D periodic vs a naive two-pass envelope (issue 19 targets: u only >= 1.5x, with prox "
              "and grad >= 1x)", "",
              "Baseline: `benchmarks/naive_envelope.py` (u only, discrete envelope, columns read in place). "
              f"Same run, {res['numba_threads']} threads, cases interleaved, median of the repeats; first calls "
              "(compile / cache load) apart.  CPU: process CPU time of all threads, the cost of the work, "
              "which the host's load does not change (wall times on this shared host do).  Both return fresh "
              "output arrays each call (naive: u and one temporary; ours: u, and prox and grad when asked), "
              f"except the row `{OUT_CASE}`, which passes an earlier result's arrays as `out=` (a caller that "
              "calls repeatedly; not a target row).  Page faults: minor faults of the process during the call "
              "(fresh output memory touched for the first time).", ""]
    for v in res.get("vs_naive", []):
        fc = v["first_call_s"]
        lines += [f"### {v['n']}^2, t = {v['t']}, periodic images per side {v['periodic_images']}, {v['reps']} repeats",
                  "", "| case | median s | min s | naive / this (wall) | CPU s (median) | naive / this (CPU) | "
                  "page faults per call (median) |", "|---|---|---|---|---|---|---|"]
        for r in v["rows"]:
            cpu = (f"{r['cpu_median_s']:.4f} | {r['naive_over_this_cpu']:.2f}x" if "cpu_median_s" in r else "- | -")
            pf = f"{r['page_faults_median']:.0f}" if "page_faults_median" in r else "-"
            lines.append(f"| {r['case']} | {r['median_s']:.4f} | {r['min_s']:.4f} | {r['naive_over_this']:.2f}x | "
                         f"{cpu} | {pf} |")
        lines += ["", f"max |u_ours - u_naive| (refine none): {v['max_abs_diff_none_vs_naive']:.1e}; first call: "
                  + ", ".join(f"{k} {t:.3f} s" for k, t in fc.items())
                  + (f"; load average {v['load_avg_1min']:.1f} on {res['cpu_count']} CPUs" if "load_avg_1min" in v
                     else ""), ""]
    lines += ["", "## 1-D vs numpy O(N^2) brute force (target >= 1000x at N = 4096)", "",
              "| N | time | ours none s | ours quadratic (default) s | numpy brute s | speedup none | "
              "speedup quadratic | max diff |", "|---|---|---|---|---|---|---|---|",
              f"| {b['N']} | wall | {b['ours_none_s']:.2e} | {b['ours_quadratic_s']:.2e} | {b['numpy_brute_s']:.3f} | "
              f"{b['speedup_none']:.0f}x | {b['speedup_quadratic']:.0f}x | {b['max_abs_diff_none']:.1e} |"]
    if "ours_none_cpu_s" in b:
        lines.append(f"| {b['N']} | CPU | {b['ours_none_cpu_s']:.2e} | {b['ours_quadratic_cpu_s']:.2e} | "
                     f"{b['numpy_brute_cpu_s']:.3f} | {b['speedup_none_cpu']:.0f}x | "
                     f"{b['speedup_quadratic_cpu']:.0f}x | {b['max_abs_diff_none']:.1e} |")
    lines += ["", "Interleaved rounds (15; 3 in quick mode), each: ours refine none and default as the median of 9 "
              "timings of 25 back-to-back calls, then one brute-force call; medians over the rounds; both serial "
              "(a 1-D line is not threaded).",
              "", "## 1-D scaling (target time(2^22)/time(2^18) <= 24)", "",
              "| N | median s | ns/cell | CPU s (median) |", "|---|---|---|---|"]
    for r in res["1d_scaling"]:
        cpu = f"{r['cpu_median_s']:.4f}" if "cpu_median_s" in r else "-"
        lines.append(f"| {r['N']} | {r['median_s']:.4f} | {r['ns_per_cell']:.1f} | {cpu} |")
    cr = res.get("1d_ratio_largest_over_smallest_cpu")
    lines += ["", f"Ratio largest/smallest: {res['1d_ratio_largest_over_smallest']:.1f} wall"
              + (f", {cr:.1f} CPU" if cr is not None else "")
              + f" (size ratio {res['1d_scaling'][-1]['N'] // res['1d_scaling'][0]['N']})"
              + (f"; load average {res['load_avg_1min']:.1f} at the end of the run" if "load_avg_1min" in res
                 else ""), ""]
    return "\n".join(lines)


def run(quick: bool = False, write: bool = True) -> dict:
    """Measure (see the module docstring); write ``results/hopf_lax.md|json`` unless ``write=False``."""
    res = _measure(quick=quick)
    if write:
        write_tables(RESULTS, "hopf_lax", res, to_markdown(res))
    return res


def main(argv=None):
    return _common.main(run, to_markdown, argv)


if __name__ == "__main__":
    main()
