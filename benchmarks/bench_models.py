"""Benchmark of deeprelax.models: minibatch gradients and SGD steps of an MLP on the 8x8 digits.

Model: ``MLP(digits, hidden)`` (tanh, softmax cross-entropy; 1347 training images, 64 inputs,
10 classes), ``hidden = (32,)`` (d = 2410) and ``(128,)`` (d = 9610).  For ``n_chains`` parameter
vectors and one minibatch of ``b`` samples per chain:

* **gradient evaluations/s**: per-sample gradients per second (``n_chains * b`` per minibatch gradient)
  of the compiled kernel (``model.grad_batch``, threaded over (chain, chunk of 8 samples)) and of a
  plain NumPy implementation of the same minibatch gradient (batched ``matmul`` forward/backward, the
  way one writes it by hand); both from the same inputs, checked equal to 1e-12;
* **particle-steps/s**: SGD steps ``x <- x - lr g_B(x)`` per chain and second, minibatch indices drawn
  with ``Generator.integers`` each step (what the vectorised dynamics path does per step);
* the exact Hessian-vector product on the full training set (R-operator) against two full gradients.

Medians over repeats; the compile time is measured separately in a fresh process with an empty Numba
cache.  Timings on a shared 2-core machine: indicative, ratios from the same run.

Run: ``python benchmarks/bench_models.py [--quick]``; writes ``benchmarks/results/models.md`` and ``.json``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import timed, write_tables  # noqa: E402
from deeprelax import models as M  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def numpy_grad_batch(model, X, idx):
    """Plain NumPy minibatch gradient of a tanh MLP: ``X`` (C, d), ``idx`` (C, b) -> (C, d)."""
    C, b = idx.shape
    layers = [model.unflatten(x) for x in X]
    Ws = [np.stack([ly[l][0] for ly in layers]) for l in range(len(model.sizes) - 1)]   # (C, n_out, n_in)
    bs = [np.stack([ly[l][1] for ly in layers]) for l in range(len(model.sizes) - 1)]   # (C, n_out)
    acts = [model.data.X[idx]]                                                          # (C, b, n_0)
    for l in range(len(Ws)):
        z = acts[-1] @ Ws[l].transpose(0, 2, 1) + bs[l][:, None, :]
        acts.append(np.tanh(z) if l < len(Ws) - 1 else z)
    z = acts[-1]
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    p[np.arange(C)[:, None], np.arange(b)[None, :], model.data.y[idx]] -= 1.0
    delta = p / b
    grads = []
    for l in range(len(Ws) - 1, -1, -1):
        gW = delta.transpose(0, 2, 1) @ acts[l]
        grads.append((gW.reshape(C, -1), delta.sum(1)))
        if l > 0:
            delta = (delta @ Ws[l]) * (1.0 - acts[l] ** 2)
    flat = np.concatenate([np.concatenate([gW, gb], axis=1) for gW, gb in reversed(grads)], axis=1)
    return flat + model.lam * X


def _sgd(grad, X0, n_steps, b, N, lr, seed):
    rng = np.random.default_rng(seed)
    X = X0.copy()
    for _ in range(n_steps):
        X -= lr * grad(X, rng.integers(0, N, size=(X.shape[0], b)))
    return X


def _compile_time(hidden):
    code = ("import time; t0 = time.perf_counter(); import numpy as np; from deeprelax import models as M; "
            f"m = M.MLP(M.digits(seed=0), {hidden!r}); x = m.init(0); t1 = time.perf_counter(); "
            "m.grad_batch(x, np.arange(8)); m.grad_batch(m.init(0, 2), np.zeros((2, 40), np.int64)); "
            "m.hvp(x, x); t2 = time.perf_counter(); print(t1 - t0, t2 - t1)")
    with tempfile.TemporaryDirectory() as td:
        env = dict(os.environ, NUMBA_CACHE_DIR=td)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout.split()
    return float(out[0]), float(out[1])


def run(quick: bool = False) -> dict:
    reps = 3 if quick else 7
    data = M.digits(seed=0)
    rows = []
    cases = [((32,), 1, 32), ((32,), 1, 128), ((32,), 8, 32), ((128,), 1, 32), ((128,), 8, 128)]
    if quick:
        cases = cases[:3]
    comp = {}
    for hidden in sorted({c[0] for c in cases}):
        comp[str(hidden)] = _compile_time(hidden)
    for hidden, C, b in cases:
        model = M.MLP(data, hidden, lam=1e-4)
        rng = np.random.default_rng(0)
        X = model.init(rng, C)
        idx = rng.integers(0, model.n_samples, size=(C, b))
        err = float(np.abs(model.grad_batch(X, idx) - numpy_grad_batch(model, X, idx)).max())
        n_calls = max(20, int(2e6 / (C * b * model.dim)) * 10)
        if quick:
            n_calls = max(10, n_calls // 4)
        t_ours = timed(lambda: [model.grad_batch(X, idx) for _ in range(n_calls)], reps).median
        t_np = timed(lambda: [numpy_grad_batch(model, X, idx) for _ in range(n_calls)], reps).median
        n_steps = n_calls
        s_ours = timed(lambda: _sgd(model.grad_batch, X, n_steps, b, model.n_samples, 0.05, 1), reps).median
        s_np = timed(lambda: _sgd(lambda Z, I: numpy_grad_batch(model, Z, I), X, n_steps, b,
                                  model.n_samples, 0.05, 1), reps).median
        rows.append({"hidden": list(hidden), "dim": model.dim, "n_chains": C, "batch": b,
                     "grad_evals_per_s": C * b * n_calls / t_ours, "grad_evals_per_s_numpy": C * b * n_calls / t_np,
                     "particle_steps_per_s": C * n_steps / s_ours, "particle_steps_per_s_numpy": C * n_steps / s_np,
                     "speedup_grad": t_np / t_ours, "speedup_steps": s_np / s_ours, "max_abs_diff": err})
        print(f"MLP{hidden} d={model.dim} chains={C} b={b}: grad evals/s ours {rows[-1]['grad_evals_per_s']:.3g} "
              f"numpy {rows[-1]['grad_evals_per_s_numpy']:.3g} ({rows[-1]['speedup_grad']:.2f}x); "
              f"SGD steps/s ours {rows[-1]['particle_steps_per_s']:.3g} numpy "
              f"{rows[-1]['particle_steps_per_s_numpy']:.3g} ({rows[-1]['speedup_steps']:.2f}x); |diff| {err:.1e}",
              flush=True)
    model = M.MLP(data, (32,))
    x = model.init(0)
    v = np.random.default_rng(1).standard_normal(model.dim)
    t_hvp = timed(lambda: model.hvp(x, v), reps).median
    t_grad = timed(lambda: model.grad(x), reps).median
    res = {"rows": rows, "compile_s": comp, "hvp_full_s": t_hvp, "grad_full_s": t_grad, "quick": quick,
           "n_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)), "reps": reps}
    _write(res)
    return res


def _write(res):
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = ["# deeprelax.models: MLP on the 8x8 digits (1347 training images)", "",
             f"Medians of {res['reps']} repeats, {res['n_threads']} threads, shared machine (indicative). "
             "Gradient evaluations = per-sample gradients (chains x batch per minibatch gradient); "
             "particle-steps = SGD steps per chain (minibatch drawn each step). NumPy = batched matmul "
             "forward/backward of the same minibatch gradient, same run.", "",
             "| hidden | d | chains | batch | grad evals/s (ours) | grad evals/s (NumPy) | ratio | "
             "SGD particle-steps/s (ours) | (NumPy) | ratio | max abs diff |", "|" + "---|" * 11]
    for r in res["rows"]:
        lines.append(f"| {tuple(r['hidden'])} | {r['dim']} | {r['n_chains']} | {r['batch']} | "
                     f"{r['grad_evals_per_s']:.3g} | {r['grad_evals_per_s_numpy']:.3g} | {r['speedup_grad']:.2f}x | "
                     f"{r['particle_steps_per_s']:.3g} | {r['particle_steps_per_s_numpy']:.3g} | "
                     f"{r['speedup_steps']:.2f}x | {r['max_abs_diff']:.1e} |")
    lines += ["", "Compile time (fresh process, empty Numba cache): " + ", ".join(
        f"MLP{h}: import+data {a:.1f} s, kernels {c:.1f} s" for h, (a, c) in res["compile_s"].items()),
        "", f"Full-data (1347 samples) MLP(32,): gradient {res['grad_full_s'] * 1e3:.2f} ms, exact "
        f"Hessian-vector product {res['hvp_full_s'] * 1e3:.2f} ms ({res['hvp_full_s'] / res['grad_full_s']:.2f}x)."]
    write_tables(RESULTS, "models", res, "\n".join(lines) + "\n", indent=1)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
