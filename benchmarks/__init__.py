"""The speed and convergence benchmarks of the repository (a package of the checkout, not installed).

Run one with ``python -m benchmarks.bench_hj [--quick]`` from the repository root, or all of them
with ``make bench`` (``deeprelax bench``).  Each ``bench_*`` module has ``run(quick=False) -> dict``
and writes ``<name>.md|json`` into its ``RESULTS`` folder (``benchmarks/results``); :mod:`benchmarks._common`
holds the shared timer.
"""
