"""GPU benchmarks (issue 7): runs ``bench_gpu_hj`` and ``bench_gpu_fp_dyn`` and writes
``benchmarks/results/gpu.md|json`` with the device named.

Without a real GPU (``solvers.backend.gpu_present()`` false) every row says "skipped: no GPU" and the
files record that, so ``deeprelax bench`` can run everywhere.  On a GPU machine (numba-cuda installed)::

    NUMBA_ENABLE_CUDASIM=0 python benchmarks/bench_gpu.py [--quick]
"""
from __future__ import annotations

import importlib
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._common import write_tables  # noqa: E402
from solvers import backend  # noqa: E402

PARTS = ("bench_gpu_hj", "bench_gpu_fp_dyn")


def _load(name):
    return importlib.import_module(f"benchmarks.{name}")


def _cell(v):
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else (f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 or v == 0 else f"{v:.3e}")
    return str(v).replace("|", "/")


def to_markdown(res: dict) -> str:
    out = ["# GPU benchmarks (issue 7)", "",
           f"Device: **{res['device']}**; GPU present: {res['gpu_present']}; run {res['date']}; "
           f"quick: {res['quick']}.", ""]
    if not res["gpu_present"]:
        out += ["No GPU was available to this run, so nothing was timed. The CUDA kernels are covered by the "
                "test suite in numba's CUDA simulator (`tests/cuda/test_cuda_*.py`, results equal to the CPU backend "
                "to round-off); run `NUMBA_ENABLE_CUDASIM=0 python benchmarks/bench_gpu.py` on a machine with a "
                "GPU and numba-cuda to fill this table.", ""]
    for part, rows in res["parts"].items():
        out += [f"## {part}", ""]
        if isinstance(rows, str):
            out += [rows, ""]
            continue
        keys = []
        for r in rows:
            for k in r:
                if k not in keys:
                    keys.append(k)
        out += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for r in rows:
            out.append("| " + " | ".join(_cell(r.get(k, "")) for k in keys) + " |")
        out.append("")
    return "\n".join(out)


#: Where run() writes gpu.md|json (``deeprelax bench --quick`` points it elsewhere).
RESULTS = HERE / "results"


def run(quick: bool = False) -> dict:
    res = {"device": backend.device_name(), "gpu_present": backend.gpu_present(), "quick": quick,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "parts": {}}
    res["skipped"] = not res["gpu_present"]
    for name in PARTS:
        if not (HERE / f"{name}.py").exists():
            res["parts"][name] = f"{name}.py not present"
            continue
        try:
            res["parts"][name] = _load(name).run(quick=quick)
        except Exception as exc:  # report, do not hide
            res["parts"][name] = f"FAILED: {type(exc).__name__}: {exc}"
    rdir = RESULTS
    rdir.mkdir(parents=True, exist_ok=True)
    write_tables(rdir, "gpu", res, to_markdown(res), indent=1)
    return res


if __name__ == "__main__":
    print(to_markdown(run(quick="--quick" in sys.argv[1:])))
