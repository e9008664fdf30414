"""Benchmark of deeprelax.dynamics: particle-steps per second of the compiled ensembles.

Cases (2-D double-well, ``n_chains`` = 1e5 chains, ``dx = -grad f dt + sqrt(2/beta) dW``):
  * EM Langevin (beta = 2), threaded and single-thread kernels;
  * noiseless gradient descent (beta = inf);
  * Leimkuhler-Matthews (beta = 2);
  * Entropy-SGD (L = 20 inner SGLD steps; a particle-step = one gradient evaluation);
  * EM Langevin on the same loss written by a user (``deeprelax.losses.from_functions``): compiled
    (``numba.njit`` per-point value/grad, inlined into the kernels) and vectorised (NumPy ``grad`` called
    once per step on all chains, serial kernel),
each against a vectorised-numpy version of the same loop (numpy's own ziggurat normals,
``Generator.standard_normal``) in the same run.  A particle-step is one chain advanced
by one step (one gradient evaluation and its noise).  Medians over repeats; the
compile time is measured separately in a fresh process with an empty Numba cache.
The final ensemble mean/variance of both versions is reported as a sanity check
(same dynamics, different random numbers: they agree to Monte-Carlo error).  A second table gives the
per-step cost of the vectorised (Python-loss) path in the regime of learning problems (a few chains,
``d`` = 1e3-1e5): the wall time per step of ``dynamics.sgd`` against the time of the gradient call alone.

Run: ``python benchmarks/bench_dynamics.py [--quick]``; writes
``benchmarks/results/dynamics.md`` and ``.json``.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _common  # noqa: E402
from benchmarks._common import timed, write_tables  # noqa: E402
from deeprelax import dynamics as D  # noqa: E402
from deeprelax.losses import get  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _dw_grad(X):
    G = X.copy()
    G[:, 0] = X[:, 0] * (X[:, 0] * X[:, 0] - 1.0)
    return G


def numpy_langevin(X0, h, n_steps, beta, scheme, seed):
    """Vectorised numpy twin of ``dynamics.sgd`` on the 2-D double well."""
    rng = np.random.default_rng(seed)
    X = X0.copy()
    if math.isinf(beta):
        for _ in range(n_steps):
            X -= h * _dw_grad(X)
        return X
    if scheme == "em":
        s = math.sqrt(2 * h / beta)
        for _ in range(n_steps):
            X = X - h * _dw_grad(X) + s * rng.standard_normal(X.shape)
        return X
    s = math.sqrt(h / (2 * beta))
    xi = rng.standard_normal(X.shape)
    for _ in range(n_steps):
        xi2 = rng.standard_normal(X.shape)
        X = X - h * _dw_grad(X) + s * (xi + xi2)
        xi = xi2
    return X


def numpy_esgd(X0, t, beta, lr, ilr, L, n_outer, seed, ema=0.75):
    rng = np.random.default_rng(seed)
    X = X0.copy()
    s = math.sqrt(2 * ilr / beta)
    for _ in range(n_outer):
        Y = X.copy()
        MU = X.copy()
        for _ in range(L):
            Y = Y - ilr * (_dw_grad(Y) + (Y - X) / t) + s * rng.standard_normal(X.shape)
            MU = ema * MU + (1 - ema) * Y
        X = X - lr * (X - MU) / t
    return X


_COMPILE_SNIPPET = r"""
import json, time, numpy as np
t0 = time.perf_counter()
from deeprelax import dynamics as D
from deeprelax.losses import get
imp = time.perf_counter() - t0
f = get("double-well", dim=2)
r1 = D.sgd(f, np.zeros(2), lr=0.01, n_steps=2, beta=2.0, rng=0, n_chains=2, parallel=False)
r2 = D.sgd(f, np.zeros(2), lr=0.01, n_steps=2, beta=2.0, rng=0, n_chains=2, parallel=True)
r3 = D.entropy_sgd(f, np.zeros(2), t=0.5, beta=2.0, lr=0.1, inner_lr=0.01, L=2, n_steps=2, rng=0, n_chains=2,
                   parallel=True)
print(json.dumps({"import_s": imp, "sgd_serial_s": r1.compile_time, "sgd_threaded_s": r2.compile_time,
                  "esgd_threaded_s": r3.compile_time}))
"""


def compile_times():
    """Compile times in a fresh process with an empty Numba cache (a true compile, not a cache load)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, capture_output=True, text=True,
                             cwd=str(ROOT), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def user_losses():
    """The 2-D double well as a user writes it: compiled per point (numba.njit) and vectorised NumPy."""
    import numba

    from deeprelax.losses import from_functions

    @numba.njit
    def dw_value(x):
        r = x[0] * x[0] - 1.0
        return 0.25 * r * r + 0.5 * x[1] * x[1]

    @numba.njit
    def dw_grad(x, out):
        out[0] = x[0] * (x[0] * x[0] - 1.0)
        out[1] = x[1]

    def np_value(X):
        return 0.25 * (X[..., 0] ** 2 - 1.0) ** 2 + 0.5 * X[..., 1] ** 2

    return (from_functions(dw_value, dw_grad, dim=2, name="double-well (njit)"),
            from_functions(np_value, _dw_grad, dim=2, name="double-well (numpy)"))


def _repeat(fn, n):
    for _ in range(n):
        fn()


def _overhead_row(label, run, grad_call, n_chains, d, n_steps) -> dict:
    """Wall and CPU time per step of ``run`` (a dynamics call of ``n_steps``) against ``grad_call`` alone."""
    run()
    grad_call()
    tr, tg = timed(run, 5), timed(lambda: _repeat(grad_call, n_steps), 5)
    t_run, r, c_run = tr.median, tr.out, tr.cpu_median
    t_g, c_g = tg.median, tg.cpu_median
    return {"loss": label, "n_chains": n_chains, "d": d, "n_steps": n_steps, "path": r.params["loss_path"],
            "us_per_step": 1e6 * t_run / n_steps, "grad_us_per_call": 1e6 * t_g / n_steps,
            "overhead_us_per_step": 1e6 * (t_run - t_g) / n_steps,
            "overhead_cpu_us_per_step": 1e6 * (c_run - c_g) / n_steps,
            "overhead_cpu_ns_per_coordinate": 1e9 * (c_run - c_g) / n_steps / (n_chains * d),
            "particle_steps_per_s": n_chains * n_steps / t_run, "load_avg_1min": os.getloadavg()[0]}


def vectorised_overhead(quick: bool = False) -> list:
    """Per-step cost of the vectorised path for a few chains in high dimension: ``dynamics.sgd`` (gradient
    descent, so no normals: the rest of the step is the callback, the update and the finiteness check) with
    a NumPy gradient ``g(X) = a X`` and with an MLP's minibatch gradient, against the gradient call alone;
    medians over repeats of the wall time and of the process CPU time (all threads)."""
    from deeprelax.losses import from_functions

    rows = []
    n_steps = 50 if quick else 200
    for nc, d in ((1, 1000), (4, 1000), (4, 10000), (4, 100000), (8, 100000)):
        if quick and d > 10000:
            continue
        a = np.linspace(0.5, 2.0, d)
        f = from_functions(lambda X: 0.5 * (a * X * X).sum(-1), lambda X: a * X, dim=d, name="diagonal quadratic")
        X0 = np.random.default_rng(0).normal(size=(nc, d))
        rows.append(_overhead_row("a X (NumPy)", lambda: D.sgd(f, X0, lr=0.01, n_steps=n_steps, rng=1),
                                  lambda: a * X0, nc, d, n_steps))
    # a learning problem: an MLP (deeprelax.models) on Gaussian-mixture data, SGD with minibatches of 32
    from deeprelax import models

    data = models.gaussian_mixture(10, 64, n_samples=2000, n_test=10, seed=0)
    net = models.MLP(data, hidden=(128,))
    for nc in (1, 4):
        X0 = np.stack([net.init(s) for s in range(nc)])
        idx = np.random.default_rng(0).integers(0, net.n_samples, size=(nc, 32))
        rows.append(_overhead_row("MLP 64-128-10 (deeprelax.models), batch 32",
                                  lambda: D.sgd(net, X0, lr=0.05, n_steps=n_steps, rng=1, batch=32),
                                  lambda: net.grad_batch(X0, idx), nc, net.dim, n_steps))
    return rows


def _measure(quick: bool = False) -> dict:
    import numba

    n_chains = 10_000 if quick else 100_000
    n_steps = 50 if quick else 200
    reps_nb, reps_np = (3, 1) if quick else (5, 3)
    f = get("double-well", dim=2)
    X0 = np.random.default_rng(0).normal(scale=0.5, size=(n_chains, 2))
    h = 0.01
    res = {"quick": quick, "cpu_count": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
           "n_chains": n_chains, "n_steps": n_steps, "loss": "double-well dim 2", "h": h, "cases": []}

    def add(name, nb_fn, np_fn, psteps, threads):
        nb_fn()                                                       # warm (compile or cache load)
        tnb, tnp = timed(nb_fn, reps_nb), timed(np_fn, reps_np)
        t_nb, r, c_nb = tnb.median, tnb.out, tnb.cpu_median
        t_np, Xn, c_np = tnp.median, tnp.out, tnp.cpu_median
        res["cases"].append({
            "case": name, "threads": threads, "particle_steps": psteps, "numba_s": t_nb, "numpy_s": t_np,
            "numba_psteps_per_s": psteps / t_nb, "numpy_psteps_per_s": psteps / t_np, "speedup": t_np / t_nb,
            "numba_cpu_ns_per_pstep": c_nb / psteps * 1e9, "numpy_cpu_ns_per_pstep": c_np / psteps * 1e9,
            "load_avg_1min": os.getloadavg()[0],
            "mean_x1_numba": float(r.x[:, 0].mean()), "mean_x1_numpy": float(Xn[:, 0].mean()),
            "var_x2_numba": float(r.x[:, 1].var()), "var_x2_numpy": float(Xn[:, 1].var())})

    ps = n_chains * n_steps
    nthr = numba.config.NUMBA_NUM_THREADS
    for name, beta, scheme in (("EM Langevin, beta=2", 2.0, "em"), ("gradient descent, beta=inf", np.inf, "em"),
                               ("Leimkuhler-Matthews, beta=2", 2.0, "lm")):
        add(name, lambda b=beta, s=scheme: D.sgd(f, X0, lr=h, n_steps=n_steps, beta=b, scheme=s, rng=1,
                                                 parallel=True),
            lambda b=beta, s=scheme: numpy_langevin(X0, h, n_steps, b, s, 1), ps, nthr)
    # single thread (same kernel, threads pinned to 1)
    n0 = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        add("EM Langevin, beta=2 (1 thread)",
            lambda: D.sgd(f, X0, lr=h, n_steps=n_steps, beta=2.0, rng=1, parallel=True),
            lambda: numpy_langevin(X0, h, n_steps, 2.0, "em", 1), ps, 1)
    finally:
        numba.set_num_threads(n0)
    fj, fv = user_losses()
    add("EM Langevin, beta=2, compiled user loss (numba.njit)",
        lambda: D.sgd(fj, X0, lr=h, n_steps=n_steps, beta=2.0, rng=1, parallel=True),
        lambda: numpy_langevin(X0, h, n_steps, 2.0, "em", 1), ps, nthr)
    add("EM Langevin, beta=2, vectorised user loss (NumPy grad, serial kernel)",
        lambda: D.sgd(fv, X0, lr=h, n_steps=n_steps, beta=2.0, rng=1),
        lambda: numpy_langevin(X0, h, n_steps, 2.0, "em", 1), ps, 1)
    fresh = user_losses()[0]                           # new njit functions: the kernel copies compile again
    res["compile_user_s"] = D.sgd(fresh, X0[:2], lr=h, n_steps=2, beta=2.0, rng=1, parallel=True).compile_time
    res["overhead"] = vectorised_overhead(quick)
    L = 20
    n_outer = max(1, n_steps // L)
    add(f"Entropy-SGD, L={L}, beta=2",
        lambda: D.entropy_sgd(f, X0, t=0.5, beta=2.0, lr=0.1, inner_lr=h, L=L, n_steps=n_outer, rng=1,
                              parallel=True),
        lambda: numpy_esgd(X0, 0.5, 2.0, 0.1, h, L, n_outer, 1), n_chains * n_outer * L, nthr)
    res["compile"] = compile_times()
    return res


def to_markdown(res: dict) -> str:
    lines = ["# Particle dynamics benchmark (`deeprelax.dynamics`)", "",
             f"Machine: {res['cpu_count']} CPUs, numba threads {res['numba_threads']}; shared with other jobs, "
             f"so the numbers are indicative.  Quick mode: {res['quick']}.  {res['n_chains']} chains x "
             f"{res['n_steps']} steps on the {res['loss']} loss, h = {res['h']}.", "",
             "A particle-step is one chain advanced by one step (one gradient evaluation plus its Gaussian noise). "
             "The numpy reference is the same loop vectorised over chains with `Generator.standard_normal`.", "",
             "| case | threads | particle-steps | numba (median s) | numba particle-steps/s | numpy s | "
             "numpy particle-steps/s | speed-up | CPU ns/particle-step numba / numpy | load avg | "
             "mean x1 numba / numpy | var x2 numba / numpy |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        cpu = (f"{c['numba_cpu_ns_per_pstep']:.1f} / {c['numpy_cpu_ns_per_pstep']:.1f}"
               if "numba_cpu_ns_per_pstep" in c else "-")
        lines.append(
            f"| {c['case']} | {c['threads']} | {c['particle_steps']:.2e} | {c['numba_s']:.4f} | "
            f"{c['numba_psteps_per_s']:.3g} | {c['numpy_s']:.3f} | {c['numpy_psteps_per_s']:.3g} | "
            f"{c['speedup']:.1f}x | {cpu} | {c.get('load_avg_1min', float('nan')):.1f} | "
            f"{c['mean_x1_numba']:.4f} / {c['mean_x1_numpy']:.4f} | "
            f"{c['var_x2_numba']:.4f} / {c['var_x2_numpy']:.4f} |")
    lines += ["", "CPU ns/particle-step: process CPU time (all threads) per particle-step, median over the repeats: "
              "the cost of the work itself, which the host's load does not change (wall-clock rates on this shared "
              "2-core host do: compare the load average column with the 2 cores)."]
    cp = res["compile"]
    lines += ["", f"Compile time in a fresh process with an empty Numba cache: sgd serial kernel "
                  f"{cp['sgd_serial_s']:.2f} s, sgd threaded kernel {cp['sgd_threaded_s']:.2f} s, Entropy-SGD "
                  f"threaded kernel {cp['esgd_threaded_s']:.2f} s (import {cp['import_s']:.2f} s).  Later processes "
                  "load the kernels from the on-disk cache.", ""]
    if "compile_user_s" in res:
        lines += [f"A compiled user loss (new numba.njit functions, so new kernel copies) compiles its sgd kernels "
                  f"in {res['compile_user_s']:.1f} s per process (not cached on disk).", ""]
    if res.get("overhead"):
        lines += ["Vectorised (Python-loss) path with a few chains in high dimension: gradient descent on "
                  "`g(X) = a X` (NumPy), and minibatch SGD on an MLP of `deeprelax.models` (`grad_batch` once per "
                  "step for all chains); wall time per step against the gradient call alone.", "",
                  "| loss | chains | d | us per step | gradient call us | overhead us per step (wall) | "
                  "overhead CPU us per step | CPU ns per coordinate | particle-steps/s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for o in res["overhead"]:
            lines.append(f"| {o['loss']} | {o['n_chains']} | {o['d']} | {o['us_per_step']:.1f} | "
                         f"{o['grad_us_per_call']:.1f} | {o['overhead_us_per_step']:.1f} | "
                         f"{o['overhead_cpu_us_per_step']:.1f} | {o['overhead_cpu_ns_per_coordinate']:.2f} | "
                         f"{o['particle_steps_per_s']:.3g} |")
        lines.append("")
    one = [c for c in res["cases"] if c["threads"] == 1]
    if one:
        c1 = one[0]
        lines += [
            "Notes.  The kernels run blocks of 64 chains: one loss-gradient dispatch per block and step, "
            "then passes for the normals (counter-based ziggurat, the first try vectorised over the block's "
            "chains, about 2 ns each: `deeprelax._rng.normals_rows`) and the update "
            "(a per-chain dispatch cost 40-60 ns in Numba's reference counting, more than the step itself).  "
            + (f"In CPU time, {c1['numba_cpu_ns_per_pstep']:.1f} ns per 2-D Langevin particle-step on one core "
               f"({1e9 / c1['numba_cpu_ns_per_pstep']:.3g}/s per core; numpy {c1['numpy_cpu_ns_per_pstep']:.1f} ns), "
               f"so two free cores give about {2e9 / c1['numba_cpu_ns_per_pstep']:.3g}/s; "
               if "numba_cpu_ns_per_pstep" in c1 else
               f"About {1e9 / c1['numba_psteps_per_s']:.0f} ns per 2-D Langevin particle-step on one core "
               f"({c1['numba_psteps_per_s']:.3g}/s), so two free cores give about "
               f"{2 * c1['numba_psteps_per_s']:.3g}/s; ")
            + "wall-clock rates follow the host's load (load average column).  The numpy loop is vectorised over "
            "chains (SIMD arithmetic, numpy's own ziggurat).", ""]
    return "\n".join(lines)


def run(quick: bool = False, write: bool = True) -> dict:
    """Measure (see the module docstring); write ``results/dynamics.md|json`` unless ``write=False``."""
    res = _measure(quick=quick)
    if write:
        write_tables(RESULTS, "dynamics", res, to_markdown(res))
    return res


def main(argv=None):
    return _common.main(run, to_markdown, argv)


if __name__ == "__main__":
    main()
