r"""Experiment ``optimisers``: SGD (Nesterov), Entropy-SGD (Algorithm 1 and code flags), Elastic-SGD and Parle on MLPs.

Claims (ESGD Table 1, DR §5, Parle): Entropy-SGD reaches comparable test error with fewer effective
epochs (gradient evaluations, L inner steps counted); Parle matches or beats SGD and is 2-4x faster in
wall time with its replicas in parallel.

Protocol (:mod:`._methods` has the methods, their settings and the search):

1. **Tuning.**  Every method tries the same number of configurations (:data:`._methods.SEARCH`, eight each)
   with the same gradient budget, on a validation split of the training set (a seeded fifth held out;
   the test set is not touched), over the tuning seeds; the configuration with the lowest mean
   validation error is kept.
2. **Evaluation.**  The kept configuration trains on the full training set from the evaluation seeds
   (initialisation and minibatches; disjoint from the tuning seeds); train and test error are recorded
   against gradient evaluations (in epochs) and against wall time; the final test error is reported as
   mean ± s.e. over the seeds at equal gradient budgets.
3. **Wall time.**  On the digits: Parle with its replicas' gradients in one thread and in all threads
   (one ``grad_batch`` call per inner step, threaded over the replicas), SGD, and data-parallel SGD (each
   minibatch split over the threads), each over the same budget: medians of :data:`N_WALL` runs.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import _methods as MT
from ._common import check_size, mean_se, pm, problem, save_results, sgd_momentum, write_summary
from ._store import run_points

NAME = "optimisers"
PROBLEMS = ("digits", "teacher")
OPTIMISERS = MT.METHODS
CLAIM = ("Entropy-SGD: comparable test error with fewer effective epochs (ESGD Table 1: mnistfc 1.37% in 120 "
         "effective epochs vs SGD 1.39% in 100); Parle: lower error than SGD/Entropy-SGD/Elastic-SGD "
         "(LeNet 0.44% vs 0.50%) and '2-4x faster than data-parallel SGD'")
N_WALL = 3
#: Part of every grid point's key: bump when a problem or a method changes, so that old points are not reused.
VERSION = 2
F3, F4 = "{:.3f}", "{:.4f}"


def settings(size):
    """Sizes of the experiment: hidden width, budget (epochs), evaluation and tuning seeds, saved points."""
    check_size(size)
    if size == "quick":
        return {"hidden": 8, "epochs": 15, "seeds": (0, 1, 2), "tune_seeds": (100, 101), "n_saves": 10}
    return {"hidden": 16, "epochs": 60, "seeds": tuple(range(8)), "tune_seeds": tuple(range(100, 106)),
            "n_saves": 15}


def tune_grid(size):
    s = settings(size)
    return [{"problem": pr, "method": m, "cfg": cfg, "seed": sd, "hidden": s["hidden"], "epochs": s["epochs"],
             "version": VERSION} for pr in PROBLEMS for m in MT.METHODS for cfg in MT.SEARCH[m] for sd in s["tune_seeds"]]


def grid(size, chosen):
    """Evaluation points for the kept configurations ``chosen[(problem, method)]``."""
    s = settings(size)
    return [{"problem": pr, "method": m, "cfg": chosen[(pr, m)], "seed": sd, "hidden": s["hidden"],
             "epochs": s["epochs"], "n_saves": s["n_saves"], "version": VERSION}
            for pr in PROBLEMS for m in MT.METHODS for sd in s["seeds"]]


def _tune_point(problem, method, cfg, seed, hidden, epochs, version):
    model, _ = problem_model(problem, hidden, "val")
    xs, ep, wall = MT.train(model, method, cfg, model.init(seed), epochs, seed, n_saves=1)
    return {"val_error": float(model.test_error(xs[-1])), "train_error": float(model.train_error(xs[-1])),
            "loss": float(model.value(xs[-1])), "epochs": float(ep[-1])}


def problem_model(name, hidden, split="test"):
    return problem(name, hidden=(hidden,), lam=1e-4, seed=0, split=split)


def _point(problem, method, cfg, seed, hidden, epochs, n_saves, version):
    model, _ = problem_model(problem, hidden)
    xs, ep, wall = MT.train(model, method, cfg, model.init(seed), epochs, seed, n_saves=n_saves)
    return {"epochs": ep, "wall": wall, "train": np.asarray(model.error(xs, "train")),
            "test": np.asarray(model.error(xs, "test")), "x": xs[-1], "loss": float(model.value(xs[-1]))}


def tune(out, size="quick", executor="serial", progress=True):
    """Run (or reuse) the search; returns ``(chosen, table)``: the kept configuration per (problem, method)
    and rows ``(problem, method, cfg, mean validation error, s.e., mean train error, kept)``."""
    pts = tune_grid(size)
    res = run_points(NAME + "-tune", _tune_point, pts, out, executor, progress)
    chosen, table = {}, []
    for pr in PROBLEMS:
        for m in MT.METHODS:
            rows = []
            for cfg in MT.SEARCH[m]:
                rr = [r for p, r in zip(pts, res) if p["problem"] == pr and p["method"] == m and p["cfg"] == cfg]
                v = np.array([r["val_error"] for r in rr])
                vm, vs = mean_se(v)
                rows.append([pr, m, cfg, float(vm), float(vs), float(np.mean([r["train_error"] for r in rr])),
                             float(np.mean([r["loss"] for r in rr]))])
            best = min(range(len(rows)), key=lambda i: (rows[i][3], rows[i][6]))   # ties: lower training loss
            chosen[(pr, m)] = rows[best][2]
            table += [r[:6] + [i == best] for i, r in enumerate(rows)]
    return chosen, table


def evaluate(out, size="quick", executor="serial", progress=True):
    """Tuning then evaluation; returns ``(points, results, chosen, tune_table)`` (also used by ``width``)."""
    chosen, table = tune(out, size, executor, progress)
    pts = grid(size, chosen)
    res = run_points(NAME, _point, pts, out, executor, progress)
    return pts, res, chosen, table


# ----------------------------------------------------------------------------- wall time
def _set_threads(n):
    import numba

    numba.set_num_threads(n)


def wall_clock(hidden, epochs, sgd_cfg, parle_cfg, reps=N_WALL):
    """Wall time of the whole budget on the digits: SGD, data-parallel SGD (all threads), Parle with 1 and all
    threads; medians over ``reps`` runs (seeds 0..reps-1) and the final test errors."""
    import numba

    model, _ = problem_model("digits", hidden)
    nmax = numba.get_num_threads()
    n_mb = MT.minibatches(model, epochs)
    lrs = sgd_cfg["lr"] * MT._drop(n_mb)
    runs = {"sgd": (1, None), "sgd_data_parallel": (nmax, nmax), "parle_1": (1, None), "parle_all": (nmax, None)}
    out = {"threads": nmax, "n_replicas": MT.N_REP}
    MT.train(model, "parle", parle_cfg, model.init(0), 0.2, 0)                      # warm the kernels
    sgd_momentum(model, model.init(0), lr=0.01, n_steps=3, batch=MT.BATCH, workers=nmax)
    try:
        for name, (nt, workers) in runs.items():
            walls, errs = [], []
            for r in range(reps):
                _set_threads(nt)
                x0 = model.init(r)
                t0 = time.perf_counter()
                if name.startswith("sgd"):
                    x = sgd_momentum(model, x0, lr=lambda k: lrs[k], n_steps=n_mb, batch=MT.BATCH, seed=r,
                                     workers=workers or 1)["x"]
                else:
                    x = MT.train(model, "parle", parle_cfg, x0, epochs, r, n_saves=1)[0][-1]
                walls.append(time.perf_counter() - t0)
                errs.append(float(model.test_error(x)))
            out[f"wall_{name}"] = float(np.median(walls))
            out[f"test_{name}"] = float(np.mean(errs))
    finally:
        _set_threads(nmax)
    try:
        out["load"] = float(os.getloadavg()[0])
    except OSError:  # pragma: no cover
        out["load"] = float("nan")
    return out


def _wall_point(hidden, epochs, sgd_cfg, parle_cfg, version):
    return wall_clock(hidden, epochs, sgd_cfg, parle_cfg)


# ----------------------------------------------------------------------------- summary
def curves_of(pts, res):
    """Mean ± s.e. curves per (problem, method)."""
    curves = []
    for pr in PROBLEMS:
        for m in MT.METHODS:
            rr = [r for p, r in zip(pts, res) if p["problem"] == pr and p["method"] == m]
            n = min(r["test"].size for r in rr)
            c = {"problem": pr, "optimiser": m, "label": MT.LABELS[m], "epochs": rr[0]["epochs"][:n],
                 "wall": np.median([r["wall"][:n] for r in rr], 0), "n_seeds": len(rr),
                 "cfg": next(p["cfg"] for p in pts if p["problem"] == pr and p["method"] == m),
                 "final_test": np.array([r["test"][n - 1] for r in rr])}
            for key in ("train", "test"):
                c[f"{key}_mean"], c[f"{key}_se"] = mean_se(np.array([r[key][:n] for r in rr]))
            curves.append(c)
    return curves


def first_reaching(x, y, target):
    """First ``x`` where the curve ``y`` is at or below ``target`` (linear interpolation); NaN if never."""
    y = np.asarray(y)
    hit = np.nonzero(y <= target)[0]
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    f = (y[i - 1] - target) / (y[i - 1] - y[i])
    return float(x[i - 1] + f * (x[i] - x[i - 1]))


def verdict_lines(curves):
    """Each method against SGD: final test error difference ± s.e.; effective epochs to reach SGD's final test
    error band (its mean + 2 s.e.) on the mean curve, for the method and for SGD itself."""
    lines = []
    for pr in PROBLEMS:
        sgd = next(c for c in curves if c["problem"] == pr and c["optimiser"] == "sgd")
        band = sgd["test_mean"][-1] + 2 * sgd["test_se"][-1]
        e_sgd = first_reaching(sgd["epochs"], sgd["test_mean"], band)
        for c in (c for c in curves if c["problem"] == pr and c["optimiser"] != "sgd"):
            d = c["test_mean"][-1] - sgd["test_mean"][-1]
            se = float(np.hypot(c["test_se"][-1], sgd["test_se"][-1]))
            v = "comparable (within 2 s.e.)" if abs(d) <= 2 * se else ("better" if d < 0 else "worse")
            e_hit = first_reaching(c["epochs"], c["test_mean"], band)
            reach = (f"reaches SGD's final test error (+2 s.e.) after {e_hit:.1f} effective epochs (SGD: {e_sgd:.1f})"
                     if np.isfinite(e_hit) else "does not reach SGD's final test error (+2 s.e.) on its mean curve")
            lines.append(f"- {pr}, {c['label']} vs SGD at equal gradient budget: test error {d:+.4f} ± {se:.4f}: "
                         f"{v}; {reach}.")
    return lines


def wall_lines(w):
    nt = int(w["threads"])
    sp = w["wall_parle_1"] / w["wall_parle_all"]
    return [f"- Wall time of the whole budget on the digits (medians of {N_WALL} runs, machine load {w['load']:.1f} "
            f"on {nt} cores): SGD {w['wall_sgd']:.2f} s; data-parallel SGD on {nt} threads "
            f"{w['wall_sgd_data_parallel']:.2f} s; Parle ({MT.N_REP} replicas) with 1 thread {w['wall_parle_1']:.2f} s, "
            f"with {nt} threads {w['wall_parle_all']:.2f} s: replicas in parallel threads give {sp:.2f}x (at most "
            f"{nt}x on {nt} cores); Parle on {nt} threads vs data-parallel SGD on {nt} threads at equal gradient "
            f"budget: {w['wall_sgd_data_parallel'] / w['wall_parle_all']:.2f}x.  Final test errors of these runs: "
            f"SGD {w['test_sgd']:.3f}, Parle {w['test_parle_all']:.3f}.  The papers' 2-4x came from 3-8 GPUs."]


def summary_lines(size, curves, table, wall, desc):
    s = settings(size)
    lines = [f"# Experiment {NAME} ({size})", "", f"Claim: {CLAIM}.", "", f"Problems: {desc}.", "",
             f"Budget: {s['epochs']} epochs of per-sample gradients for every method (batch {MT.BATCH}; "
             f"Entropy-SGD L = {MT.L_INNER} inner steps counted, Elastic-SGD and Parle {MT.N_REP} replicas all "
             f"counted).  Mean ± s.e. over {len(s['seeds'])} evaluation seeds.", "",
             f"Tuning: {len(MT.SEARCH['sgd'])} configurations per method, the same budget, on a validation split "
             f"(a fifth of the training set held out), seeds {list(s['tune_seeds'])} (disjoint from the evaluation "
             "seeds); kept = lowest mean validation error (* below).", "",
             "| problem | method | configuration | validation error | train error |", "|---|---|---|---|---|"]
    for pr, m, cfg, vm, vs, tr, kept in table:
        lines.append(f"| {pr} | {MT.LABELS[m]} | {MT.describe(m, cfg)}{' *' if kept else ''} | {pm(vm, vs, F3)} | "
                     f"{tr:.3f} |")
    lines += ["", "Evaluation at the kept configurations:", "",
              "| problem | method | configuration | final train error | final test error | effective epochs | "
              "wall (s) |", "|---|---|---|---|---|---|---|"]
    for c in curves:
        lines.append(f"| {c['problem']} | {c['label']} | {MT.describe(c['optimiser'], c['cfg'])} | "
                     f"{pm(c['train_mean'][-1], c['train_se'][-1], F4)} | {pm(c['test_mean'][-1], c['test_se'][-1], F4)} | "
                     f"{c['epochs'][-1]:.1f} | {c['wall'][-1]:.2f} |")
    lines += ["", "Verdict:"] + verdict_lines(curves) + wall_lines(wall)
    return lines


def run(out, size="quick", executor="serial", progress=True):
    """Run (or resume) the experiment; writes ``optimisers.h5|png|md`` in ``out``; returns the summary dict."""
    s = settings(size)
    pts, res, chosen, table = evaluate(out, size, executor, progress)
    curves = curves_of(pts, res)
    wp = {"hidden": s["hidden"], "epochs": s["epochs"], "sgd_cfg": chosen[("digits", "sgd")],
          "parle_cfg": chosen[("digits", "parle")], "version": VERSION}
    wall = run_points(NAME + "-wall", _wall_point, [wp], out, "serial", False)[0]
    _, desc_d = problem_model("digits", s["hidden"])
    _, desc_t = problem_model("teacher", s["hidden"])
    lines = summary_lines(size, curves, table, wall, f"{desc_d}; {desc_t}")
    from ._plots import plot_optimisers

    png = plot_optimisers(curves, f"{out}/{NAME}.png")
    save_results(out, NAME, pts, res, {"size": size, "claim": CLAIM, "settings": s, "wall": wall,
                                       "chosen": {f"{k[0]}/{k[1]}": v for k, v in chosen.items()},
                                       "tuning": table})
    lines += ["", f"Figure: {png.name}; data: {NAME}.h5."]
    md = write_summary(out, NAME, lines)
    return {"name": NAME, "summary": md, "png": png, "lines": lines, "curves": curves, "chosen": chosen,
            "tuning": table, "wall": wall}
