"""``deeprelax bench`` / ``make bench``: run the convergence table and the speed benchmarks.

The benchmark scripts live in the repository's ``benchmarks/`` folder (they are
not installed as a package).  Each module exposes ``run(quick=False) -> dict`` and
writes its own ``benchmarks/results/<name>.md|json``.  The convergence table
(``benchmarks/convergence.py``) decides the exit status: any scheme whose observed
order falls below its declared order makes the command exit non-zero.  Timings are
reported, never asserted.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

#: Speed benchmarks in the order they run.
SPEED = ("bench_hopf_lax", "bench_cole_hopf", "bench_hj", "bench_fokker_planck", "bench_dynamics", "bench_gpu",
         "bench_models", "bench_discrete")


def benchmarks_dir() -> Path:
    here = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (here / "convergence.py").exists():
        raise FileNotFoundError(
            f"benchmarks/ not found next to the package ({here}); `deeprelax bench` runs from a source checkout "
            f"(pip install -e .).")
    return here


def _load(name: str):
    path = benchmarks_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deeprelax_benchmarks.{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_bench(quick: bool = False, only: list | None = None, skip_speed: bool = False) -> int:
    """Run the convergence table (always) and the speed benchmarks; return the exit code."""
    bdir = benchmarks_dir()
    t0 = time.perf_counter()
    conv = _load("convergence")
    out = conv.run()
    print(conv.to_markdown(out))
    status = 0 if out["all_pass"] else 1
    if not skip_speed:
        for name in SPEED:
            if only and not any(o in name for o in only):
                continue
            if not (bdir / f"{name}.py").exists():
                print(f"[skip] {name}: not present")
                continue
            print(f"\n=== {name} ({'quick' if quick else 'full'}) ===", flush=True)
            mod = _load(name)
            ts = time.perf_counter()
            mod.run(quick=quick)
            md = bdir / "results" / f"{name.removeprefix('bench_')}.md"
            if md.exists():
                print(md.read_text())
            print(f"[{name}: {time.perf_counter() - ts:.1f} s]")
    if (bdir / "speed_summary.py").exists():
        summ = _load("speed_summary")
        summ.run(quick=quick)
        print("\n" + (bdir / "results" / "speed.md").read_text())
    try:
        done = _load("update_readme").update()
        print(f"README tables updated: {', '.join(done) or 'none'}")
    except Exception as e:  # README missing in an installed copy: not an error of the benchmarks
        print(f"[note] README not updated: {e}")
    print(f"\nconvergence: {'all orders as declared' if status == 0 else 'REGRESSION (see FAIL rows)'}; "
          f"total {time.perf_counter() - t0:.1f} s; tables in {bdir / 'results'}")
    return status
