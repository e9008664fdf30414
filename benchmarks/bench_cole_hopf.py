"""Benchmark of solvers.cole_hopf (log-domain separable Cole-Hopf with exact per-source windows).

Cases: 1-D N = 4096 and 2-D 512^2 at a few (t, beta), against numpy references:
  * 1-D: the O(N^2) log-sum-exp brute force (trapezoid rule over all nodes, in row
    chunks) and, where our method is "linear-exact", the O(N^2) numpy exact-cell
    integrals (scipy log_ndtr);
  * 2-D: the separable numpy log-sum-exp over full lines (O(N n), no window; a full
    O(N^2) double sum would need 7e10 terms).
Reports median wall times (compile separately), the speed-up and the max |u| difference
(round-off when the same method is compared; the O(h^2) method difference otherwise).

Run: ``python benchmarks/bench_cole_hopf.py [--quick]``; writes
``benchmarks/results/cole_hopf.md`` and ``.json``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import log_ndtr, logsumexp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _common  # noqa: E402
from benchmarks._common import timed, write_tables  # noqa: E402

from solvers.cole_hopf import cole_hopf  # noqa: E402
from solvers.grid import Grid  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"




def lse_line_numpy(L, c, chunk=None):
    """Trapezoid log-domain convolution along the last axis, all sources (no window)."""
    n = L.shape[-1]
    chunk = chunk or max(1, int(8e6 // L.size))
    j = np.arange(n, dtype=float)
    out = np.empty(L.shape)
    for s in range(0, n, chunk):
        x = j[s:s + chunk, None]
        T = L[..., None, :] - c * (x - j[None, :]) ** 2
        out[..., s:s + chunk] = logsumexp(T, axis=-1)
    return out + 0.5 * math.log(c / math.pi)


def linear_line_numpy(L, c, chunk=256):
    """Exact cell integrals of the piecewise-linear log-integrand, 1-D, all cells."""
    n = L.shape[-1]
    j = np.arange(n - 1, dtype=float)
    s = L[1:] - L[:-1]
    out = np.empty(n)
    for a in range(0, n, chunk):
        x = np.arange(a, min(n, a + chunk), dtype=float)[:, None]
        mu = x + s[None, :] / (2 * c)
        lo = np.sqrt(2 * c) * (j - mu)
        hi = np.sqrt(2 * c) * (j + 1 - mu)
        up = lo > 0
        la = np.where(up, log_ndtr(-lo), log_ndtr(hi))
        lb = np.where(up, log_ndtr(-hi), log_ndtr(lo))
        lz = la + np.log1p(-np.exp(lb - la))
        T = L[None, :-1] + s[None, :] * (x - j) + s[None, :] ** 2 / (4 * c) + lz
        out[a:a + chunk] = logsumexp(T, axis=-1)
    return out


def numpy_reference(vals, grid, t, beta, linear):
    L = -beta * vals
    for k in range(grid.dim):
        c = beta * grid.spacing[k] ** 2 / (2 * t)
        Lk = np.moveaxis(L, k, -1)
        Lk = linear_line_numpy(Lk, c) if linear else lse_line_numpy(Lk, c)
        L = np.moveaxis(Lk, -1, k)
    return -L / beta


def _measure(quick: bool = False) -> dict:
    import numba

    res = {"quick": quick, "cpu_count": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
           "cases": []}
    n1 = 1024 if quick else 4096
    n2 = 128 if quick else 512
    g1 = Grid.uniform([(-2, 2)], n1)
    x = g1.axes[0]
    f1 = np.sin(3 * x) + 0.5 * x ** 2
    g2 = Grid.uniform([(-2, 2), (-2, 2)], n2)
    x2 = g2.axes[0]
    f2 = np.sin(3 * x2)[:, None] * np.cos(2 * x2)[None, :] + 0.5 * (x2[:, None] ** 2 + x2[None, :] ** 2)
    first = True
    for t, beta in ((0.5, 1e2), (0.5, 1e4), (0.1, 1e8)):
        for name, f, g in (("1-D", f1, g1), ("2-D", f2, g2)):
            r = cole_hopf(f, g, t, beta)
            comp = r.compile_time
            reps = 3 if (quick or g.dim == 2) else 7
            ours = timed(lambda: cole_hopf(f, g, t, beta), reps).median
            linear = r.method == "linear-exact"
            use_linear_ref = linear and g.dim == 1
            t0 = time.perf_counter()
            uref = numpy_reference(f, g, t, beta, use_linear_ref)
            tref = time.perf_counter() - t0
            res["cases"].append({
                "case": name, "shape": list(g.shape), "t": t, "beta": beta, "method": r.method,
                "cells_per_sd": r.params["cells_per_sd"][0], "ours_median_s": ours,
                "compile_or_cache_load_s": comp if first else None,
                "numpy_ref": ("O(N^2) exact-cell" if use_linear_ref else
                              ("O(N^2) LSE" if g.dim == 1 else "separable LSE, full lines")),
                "numpy_ref_s": tref, "speedup": tref / ours,
                "max_abs_diff": float(np.abs(r.u - uref).max()),
                "same_method": bool(use_linear_ref or not linear)})
            first = False
    return res


def to_markdown(res: dict) -> str:
    lines = ["# Cole-Hopf benchmark (`solvers.cole_hopf`)", "",
             f"Machine: {res['cpu_count']} CPUs, numba threads {res['numba_threads']}; shared with other jobs, "
             f"so the numbers are indicative.  Quick mode: {res['quick']}.", "",
             "| case | shape | t | beta | method | cells per sd | ours (median s) | numpy reference | numpy s | "
             "speed-up | max abs diff |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        diff = f"{c['max_abs_diff']:.1e}" + ("" if c["same_method"] else " (method diff)")
        lines.append(f"| {c['case']} | {'x'.join(map(str, c['shape']))} | {c['t']:g} | {c['beta']:g} | {c['method']} | "
                     f"{c['cells_per_sd']:.2f} | {c['ours_median_s']:.4f} | {c['numpy_ref']} | {c['numpy_ref_s']:.3f} | "
                     f"{c['speedup']:.0f}x | {diff} |")
    comp = [c["compile_or_cache_load_s"] for c in res["cases"] if c["compile_or_cache_load_s"] is not None]
    lines += ["", f"First-call compile / cache-load time in this process: {comp[0]:.3f} s." if comp else "", ""]
    return "\n".join(lines)


def run(quick: bool = False, write: bool = True) -> dict:
    """Measure (see the module docstring); write ``results/cole_hopf.md|json`` unless ``write=False``."""
    res = _measure(quick=quick)
    if write:
        write_tables(RESULTS, "cole_hopf", res, to_markdown(res))
    return res


def main(argv=None):
    return _common.main(run, to_markdown, argv)


if __name__ == "__main__":
    main()
