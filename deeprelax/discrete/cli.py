"""``deeprelax discrete ...``: the binary-perceptron tools from the command line.

Subcommands
-----------
solve          run one method on random instances and print the outcome (JSON with ``--json``)
enumerate      all solutions of one small instance: count, clusters, largest cluster
local-entropy  S(d) around the teacher (teacher-student) or a found solution
figures        the five target figures (``figures/discrete_*.py``) at a size
check          the validation rows of the discrete group (exit 1 on a failure)
"""
from __future__ import annotations

import argparse
import json
import sys
import time

FIGURES = ("discrete_enumeration", "discrete_threshold", "discrete_robustness", "discrete_local_entropy",
           "discrete_generalisation")


def _parser():
    from .targets import METHODS

    p = argparse.ArgumentParser(prog="deeprelax discrete", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("solve", help="run one method on random instances")
    s.add_argument("--method", required=True, choices=sorted(METHODS))
    s.add_argument("--n", type=int, required=True, help="number of weights N (odd)")
    s.add_argument("--alpha", type=float, required=True, help="load P/N")
    s.add_argument("--teacher", action="store_true", help="teacher-student labels (default: random labels)")
    s.add_argument("--instances", type=int, default=1)
    s.add_argument("--budget", type=int, default=2000, help="sweeps, counting all replicas")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    e = sub.add_parser("enumerate", help="all solutions of one small instance (N <= 27)")
    e.add_argument("--n", type=int, required=True)
    e.add_argument("--alpha", type=float, required=True)
    e.add_argument("--teacher", action="store_true")
    e.add_argument("--seed", type=int, default=0)
    le = sub.add_parser("local-entropy", help="S(d) around the teacher or a found solution")
    le.add_argument("--n", type=int, required=True)
    le.add_argument("--alpha", type=float, required=True)
    le.add_argument("--d", type=int, nargs="+", required=True, help="Hamming distances")
    le.add_argument("--reference", default="teacher", help="'teacher' or a method name (its solution)")
    le.add_argument("--method", default="auto", choices=["auto", "exact", "ais"])
    le.add_argument("--seed", type=int, default=0)
    f = sub.add_parser("figures", help="the five target figures")
    f.add_argument("--size", default="demo", choices=["tiny", "demo", "full"])
    f.add_argument("--out", default="figures/out")
    f.add_argument("--only", nargs="*", default=None, help=f"subset of {FIGURES}")
    f.add_argument("--recompute", action="store_true")
    c = sub.add_parser("check", help="validation rows of the discrete group")
    c.add_argument("--size", default="test", choices=["test", "demo", "full"])
    c.add_argument("--seed", type=int, default=0)
    return p


def run_figures(out, size="demo", only=None, recompute=False) -> list[str]:
    """Run ``figures/discrete_*.py``'s ``main`` (from a source checkout); returns summary lines."""
    import importlib.util
    from pathlib import Path

    fig_dir = Path(__file__).resolve().parents[2] / "figures"
    if not fig_dir.is_dir():
        return [f"SKIPPED: no figures/ directory next to the package ({fig_dir})"]
    if str(fig_dir) not in sys.path:
        sys.path.insert(0, str(fig_dir))
    lines = []
    for name in FIGURES:
        if only and name not in only and name.removeprefix("discrete_") not in only:
            continue
        spec = importlib.util.spec_from_file_location(f"_deeprelax_fig_{name}", fig_dir / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        t0 = time.perf_counter()
        png = mod.main(out, recompute=recompute, size=size)
        lines.append(f"- {name}: {png} ({time.perf_counter() - t0:.1f} s)")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, TypeError, MemoryError) as exc:
        print(f"deeprelax discrete {args.cmd}: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    import numpy as np

    from . import enumeration, local_entropy, targets
    from .problem import BinaryPerceptron

    if args.cmd == "solve":
        probs = [BinaryPerceptron.random(args.n, args.alpha, seed=args.seed + i, teacher=args.teacher)
                 for i in range(max(1, args.instances))]
        t0 = time.perf_counter()
        res = targets.run_method(args.method, probs, args.budget, seed=args.seed)
        wall = time.perf_counter() - t0
        rows = [{"seed": pr.seed, "solved": bool(r.solved), "errors": int(r.energy), "sweeps": float(r.sweeps),
                 **({"test_error_large_N": float(pr.generalisation_error(r.W))} if args.teacher else {})}
                for pr, r in zip(probs, res)]
        if args.json:
            print(json.dumps({"method": args.method, "n": args.n, "alpha": args.alpha, "budget": args.budget,
                              "energy": targets.METHODS[args.method].energy, "wall_s": wall, "runs": rows}))
        else:
            print(f"{targets.METHODS[args.method].label} (anneals: {targets.METHODS[args.method].energy}), "
                  f"N={args.n}, alpha={args.alpha}, budget {args.budget} sweeps: "
                  f"{sum(r['solved'] for r in rows)}/{len(rows)} solved in {wall:.2f} s")
            for r in rows:
                print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
        return 0
    if args.cmd == "enumerate":
        pr = BinaryPerceptron.random(args.n, args.alpha, seed=args.seed, teacher=args.teacher)
        r = enumeration.enumerate_solutions(pr)
        print(f"{pr}: {r.n_solutions} solutions (annealed mean 2^(N-P) = {2.0 ** (pr.n - pr.p):.4g}), "
              f"{r.n_clusters} clusters, largest {r.largest_cluster}; {r.wall_time:.2f} s")
        return 0
    if args.cmd == "local-entropy":
        pr = BinaryPerceptron.random(args.n, args.alpha, seed=args.seed, teacher=args.reference == "teacher")
        if args.reference == "teacher":
            W = pr.teacher
        else:
            r = targets.run_method(args.reference, [pr], 2000, seed=args.seed)[0]
            if not r.solved:
                print(f"{args.reference} did not solve the instance ({r.energy} errors); S(d) around it anyway")
            W = r.W
        le = local_entropy.local_entropy_count(pr, W, args.d, method=args.method, seed=args.seed)
        print(f"{pr}, reference {args.reference}:")
        for d, s, e, ex in zip(le.d, le.S, le.S_stderr, le.exact):
            print(f"  d={d:4d} (d/N={d / pr.n:.3f}): S = {s:.5f}" + ("" if ex else f" +- {e:.5f} (ais)"))
        return 0
    if args.cmd == "figures":
        run_figures(args.out, args.size, args.only, args.recompute)
        return 0
    if args.cmd == "check":
        from .checks import run_discrete_checks

        rows = run_discrete_checks(args.size, args.seed)
        for r in rows:
            print(f"{'PASS' if r.passed else 'FAIL'} {r.id}: {r.quantity}: expected {r.reference}, "
                  f"measured {r.measured} ({r.criterion}; {r.wall_time:.1f} s)")
        return 0 if all(r.passed for r in rows) else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
