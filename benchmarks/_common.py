"""What the benchmarks share: one timer, the writing of their tables, their command line.

Timings are medians over repeats (the first call, which may compile, is reported apart where it
matters); they are reported, never asserted.  Each benchmark keeps its own module-level ``RESULTS``
folder, which ``deeprelax bench`` points elsewhere for ``--quick`` runs.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from solvers._files import atomic_path


@dataclass
class Timing:
    """Seconds per call of ``repeats`` timed calls.

    ``median``/``best``: wall time; ``cpu_median``: process CPU time (all threads); ``first``: the
    untimed warm-up call (compile time included) when ``warmup=True``, else NaN; ``out``: the last output.
    """
    median: float
    best: float
    cpu_median: float
    first: float
    out: Any


def timed(fn: Callable[[], Any], repeats: int, *, sync: Optional[Callable[[], Any]] = None, inner: int = 1,
          warmup: bool = False) -> Timing:
    """Time ``repeats`` calls of ``fn`` (``inner`` back-to-back calls each, between ``sync()`` calls for devices)."""
    sync = sync or (lambda: None)
    first = float("nan")
    if warmup:
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        first = time.perf_counter() - t0
    ts, cs, out = [], [], None
    for _ in range(max(1, int(repeats))):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(inner):
            out = fn()
        sync()
        cs.append((time.process_time() - c0) / inner)
        ts.append((time.perf_counter() - t0) / inner)
    return Timing(statistics.median(ts), min(ts), statistics.median(cs), first, out)


def write_text(path: Path, text: str) -> None:
    """Replace the file ``path`` by ``text`` atomically (a temporary file in the same folder, then a rename):
    an interrupted benchmark leaves the committed table whole, never half written."""
    with atomic_path(path, argument="path", overwrite=True) as tmp:
        tmp.write_text(text)


def write_tables(results: Path, stem: str, res: dict, markdown: str, *, indent: int = 2) -> None:
    """Write ``res`` as ``<stem>.json`` and ``markdown`` as ``<stem>.md`` into the folder ``results``
    (each atomically; ``indent`` and ``default=str`` for the JSON)."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    write_text(results / f"{stem}.json", json.dumps(res, indent=indent, default=str))
    write_text(results / f"{stem}.md", markdown)


def main(run: Callable[..., dict], to_markdown: Callable[[dict], str], argv=None) -> dict:
    """The command line of a benchmark module: ``[--quick]``; runs ``run(quick=...)``, prints its table."""
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    res = run(quick=quick)
    print(to_markdown(res))
    return res
