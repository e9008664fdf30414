"""``deeprelax bench`` / ``make bench``: run the convergence table and the speed benchmarks.

The benchmarks are the package ``benchmarks`` of the source checkout (imported from it, not
installed).  Each module exposes ``run(quick=False) -> dict`` and
writes its own ``<name>.md|json`` into its module-level ``RESULTS`` folder.

Only a complete full-size run (``make bench`` = ``deeprelax bench``) writes the
committed ``benchmarks/results/`` tables *and* refreshes the README; a partial
full-size run (``--only``, ``--convergence-only``) writes the tables it measured but
leaves the README alone.  ``--quick`` (smaller sizes) writes everything to
``benchmarks/results-quick/`` (git-ignored; or ``out``) and never touches the README
or ``benchmarks/results/``; its speed table labels each row with the size that ran
and does not judge targets named for other sizes.  The convergence table
(``benchmarks/convergence.py``) decides the exit status: any scheme whose observed
order falls below its declared order makes the command exit non-zero.  Timings are
reported, never asserted.
"""
from __future__ import annotations

import importlib
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


#: Default output folder of quick runs (git-ignored).
QUICK_DIR = "results-quick"


def _load(name: str, results: Path | None = None):
    """``benchmarks.<name>`` of the checkout that holds this package (the benchmarks are its package)."""
    root = str(benchmarks_dir().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    full = f"benchmarks.{name}"
    # a fresh module state (its RESULTS folder) for every run, as a script would have
    mod = importlib.reload(sys.modules[full]) if full in sys.modules else importlib.import_module(full)
    if results is not None and hasattr(mod, "RESULTS"):
        mod.RESULTS = results  # every writer and reader of the module uses this folder
    return mod


def run_bench(quick: bool = False, only: list | None = None, skip_speed: bool = False,
              out: str | Path | None = None) -> int:
    """Run the convergence table (always) and the speed benchmarks; return the exit code.

    ``out``: folder for the tables (default ``benchmarks/results``, or ``benchmarks/results-quick``
    when ``quick``).  The README is refreshed only by a complete full-size run writing to the
    committed folder.
    """
    bdir = benchmarks_dir()
    committed = bdir / "results"
    results = Path(out) if out is not None else (bdir / QUICK_DIR if quick else committed)
    if quick and results.resolve() == committed.resolve():
        raise ValueError("`deeprelax bench --quick` must not write the committed benchmarks/results/; "
                         "choose another `out` folder.")
    results.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    conv = _load("convergence", results)
    res = conv.run()
    print(conv.to_markdown(res))
    status = 0 if res["all_pass"] else 1
    if not skip_speed:
        for name in SPEED:
            if only and not any(o in name for o in only):
                continue
            if not (bdir / f"{name}.py").exists():
                print(f"[skip] {name}: not present")
                continue
            print(f"\n=== {name} ({'quick' if quick else 'full'}) ===", flush=True)
            mod = _load(name, results)
            ts = time.perf_counter()
            mod.run(quick=quick)
            md = results / f"{name.removeprefix('bench_')}.md"
            if md.exists():
                print(md.read_text())
            print(f"[{name}: {time.perf_counter() - ts:.1f} s]")
    if (bdir / "speed_summary.py").exists():
        summ = _load("speed_summary", results)
        summ.run(quick=quick)
        print("\n" + (results / "speed.md").read_text())
    complete = not quick and not only and not skip_speed and results.resolve() == committed.resolve()
    if complete:
        try:
            done = _load("update_readme").update()
            print(f"README tables updated: {', '.join(done) or 'none'}")
        except Exception as e:  # README missing in an installed copy: not an error of the benchmarks
            print(f"[note] README not updated: {e}")
    else:
        print("[note] README not updated: only a complete full-size run (`make bench`) refreshes it.")
    print(f"\nconvergence: {'all orders as declared' if status == 0 else 'REGRESSION (see FAIL rows)'}; "
          f"total {time.perf_counter() - t0:.1f} s; tables in {results}")
    return status
