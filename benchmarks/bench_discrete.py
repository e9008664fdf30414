"""Speed of the discrete (binary perceptron) kernels: incremental O(P) flips against recomputation.

Rows (medians over repeats, after a warm-up call; the first call's extra time = compile or cache
load, reported apart):
  * Metropolis single flips (``dr.discrete.anneal`` at constant beta, random labels at alpha = 0.9 so
    the chain never stops early), flips/s, N = 201 and 801; baselines measured in the same run:
    the same Metropolis loop recomputing every field per proposal (compiled, O(N P) per flip) and
    the numpy one-liner ``(xi @ W * sigma < 0).sum()`` per proposal;
  * replicated annealing (y = 3) flip attempts/s;
  * two instances in one batch (one chain per thread) against one: the parallel speed-up;
  * exhaustive enumeration (Gray code) configurations/s at N = 25;
  * replicated SGD per-pattern gradients/s and focusing-BP iterations/s at N = 801.
Timings are reported, never asserted (shared 2-core machine: indicative).

Run: ``python benchmarks/bench_discrete.py [--quick]``; writes ``benchmarks/results/discrete.md|json``.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import timed, write_tables  # noqa: E402

import numba  # noqa: E402

from deeprelax import discrete as dd  # noqa: E402
from deeprelax import _rng  # noqa: E402
from deeprelax.discrete import _energy  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


@numba.njit(cache=False)  # no disk cache: this module is loaded by path (deeprelax bench) or as __main__
def _naive_metropolis(xsT, W, beta, n_flips, state):
    """Baseline: the same Metropolis chain, every proposal's energy recomputed from scratch (O(N P))."""
    n, p = xsT.shape
    h = np.empty(p, np.int32)
    e = _energy.errors_of(xsT, W, h)
    for it in range(n_flips):
        j = _rng.randint(state, 0, n)
        W[j] = -W[j]
        en = _energy.errors_of(xsT, W, h)
        de = en - e
        if de <= 0 or _rng.uniform(state, 0) < math.exp(-beta * de):
            e = en
        else:
            W[j] = -W[j]
    return e




def run(quick: bool = False) -> dict:
    rep = 3 if quick else 5
    rows = []
    out = {"threads": numba.config.NUMBA_NUM_THREADS, "repeats": rep, "rows": rows}
    for n in (201, 801):
        pr = dd.BinaryPerceptron.random(n, 0.9, seed=0)
        sweeps = (20 if quick else 50) * (801 // n)
        _t = timed(lambda: dd.anneal(pr, max_sweeps=sweeps, beta0=3.0, beta1=3.0, energy="errors"), rep, warmup=True)
        med, first = _t.median, _t.first
        flips = sweeps * n
        inc = flips / med
        # naive compiled: fewer flips (O(N P) each)
        nf = max(2000, flips // (n // 10))
        W = np.ones(n, np.int8)
        st = _rng.chain_seeds(0, 1)
        _t = timed(lambda: _naive_metropolis(pr._xsT, W, 3.0, nf, st), rep, warmup=True)
        med_nv, first_nv = _t.median, _t.first
        naive = nf / med_nv
        # numpy one-liner per proposal
        xi, sg = pr.xi.astype(np.int32), pr.sigma.astype(np.int32)
        Wn = np.ones(n, np.int32)
        rng = np.random.default_rng(0)
        k = 2000 if quick else 5000

        def numpy_loop():
            e = int(((xi @ Wn) * sg < 0).sum())
            for _ in range(k):
                j = rng.integers(n)
                Wn[j] = -Wn[j]
                en = int(((xi @ Wn) * sg < 0).sum())
                if en <= e or rng.random() < math.exp(-3.0 * (en - e)):
                    e = en
                else:
                    Wn[j] = -Wn[j]
        med_np = timed(numpy_loop, max(1, rep - 2), warmup=True).median
        rows.append({"case": f"Metropolis flips, N={n}, P={pr.p}", "ours_per_s": inc,
                     "naive_compiled_per_s": naive, "numpy_per_s": k / med_np,
                     "speedup_vs_naive": inc / naive, "speedup_vs_numpy": inc / (k / med_np),
                     "first_call_extra_s": first - med, "work": f"{flips} flips x {rep}"})
    # replicated annealing
    pr = dd.BinaryPerceptron.random(801, 0.9, seed=0)
    T = 30 if quick else 90
    _t = timed(lambda: dd.replicated_anneal(pr, y=3, max_sweeps=T, beta0=3.0, beta1=3.0, gamma0=1.0, gamma1=1.0,
                                            energy="errors"), rep, warmup=True)
    med, first = _t.median, _t.first
    rows.append({"case": "replicated annealing (y=3) flips, N=801, P=721", "ours_per_s": T * 801 / med,
                 "first_call_extra_s": first - med, "work": f"{T} sweeps (all replicas)"})
    # parallel over instances
    probs = [dd.BinaryPerceptron.random(801, 0.9, seed=s) for s in range(2)]
    S = 20 if quick else 60
    m1 = timed(lambda: dd.anneal(probs[:1], max_sweeps=S, beta0=3.0, beta1=3.0), rep, warmup=True).median
    m2 = timed(lambda: dd.anneal(probs, max_sweeps=S, beta0=3.0, beta1=3.0), rep, warmup=True).median
    rows.append({"case": "2 instances in one batch vs 1 (N=801, hinge)", "ours_per_s": 2 * S * 801 / m2,
                 "one_instance_per_s": S * 801 / m1, "parallel_speedup": 2 * m1 / m2,
                 "work": f"{S} sweeps per instance"})
    # enumeration
    ne = 21 if quick else 25
    pe = dd.BinaryPerceptron.random(ne, 0.6, seed=0)
    _t = timed(lambda: dd.enumerate_solutions(pe), rep, warmup=True)
    med, first = _t.median, _t.first
    rows.append({"case": f"enumeration N={ne}, P={pe.p} (Gray code + clusters)", "ours_per_s": 2 ** ne / med,
                 "first_call_extra_s": first - med, "work": f"2^{ne} configurations"})
    # gradient methods / BP at N=801
    pr = dd.BinaryPerceptron.random(801, 0.9, seed=0)
    E = 6 if quick else 15
    _t = timed(lambda: dd.replicated_sgd(pr, y=3, max_sweeps=E, batch_size=80), rep, warmup=True)
    med, first = _t.median, _t.first
    rows.append({"case": "replicated SGD (y=3, b=80) pattern gradients, N=801", "ours_per_s": E * pr.p / med,
                 "first_call_extra_s": first - med, "work": f"{E} sweeps"})
    It = 5 if quick else 15
    _t = timed(lambda: dd.focusing_bp(pr, max_iters=It), rep, warmup=True)
    med, first = _t.median, _t.first
    rows.append({"case": "focusing BP iterations, N=801, P=721", "ours_per_s": It / med,
                 "first_call_extra_s": first - med, "work": f"{It} iterations (N P messages each)"})
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_tables(RESULTS, "discrete", out, to_markdown(out), indent=1)
    return out


def _g(v):
    return "-" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


def to_markdown(out) -> str:
    lines = [f"# discrete kernels (numba threads: {out['threads']}; median of {out['repeats']} after a warm-up)", "",
             "| case | ours /s | naive compiled /s | numpy /s | x naive | x numpy | first-call extra s | work |",
             "|---|---|---|---|---|---|---|---|"]
    for r in out["rows"]:
        lines.append(f"| {r['case']} | {_g(r['ours_per_s'])} | {_g(r.get('naive_compiled_per_s'))} | "
                     f"{_g(r.get('numpy_per_s'))} | {_g(r.get('speedup_vs_naive'))} | {_g(r.get('speedup_vs_numpy'))} | "
                     f"{_g(r.get('first_call_extra_s'))} | {r['work']} |")
        if "parallel_speedup" in r:
            lines[-1] = lines[-1].replace(f"| {r['work']} |", f"| {r['work']}; 1 instance {r['one_instance_per_s']:.3g}/s, "
                                          f"parallel speed-up {r['parallel_speedup']:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(to_markdown(run(quick="--quick" in sys.argv)))
