r"""Reproduction checks of the discrete track (rows of ``deeprelax validate``, group ``discrete``).

Every row can fail; stochastic rows use fixed seeds and thresholds from their standard errors or
exact tests.  Sizes: ``"test"`` (seconds), ``"demo"``, ``"full"`` (more instances, larger N).

* ``discrete_enum_bruteforce``: enumeration (Gray code, parallel) = brute force over all 2^N.
* ``discrete_annealed_count``: mean number of solutions over instances = 2^(N-P) (exact for random
  labels and N odd), within 4 standard errors.
* ``discrete_incremental_energy``: the O(P) incremental energies of a Metropolis run equal the
  recomputed ones (every recorded trajectory point and the final configuration).
* ``discrete_local_entropy_ais``: annealed importance sampling vs exact counts at N = 21: every
  ``|z| < 3.5`` and the z's spread like a standard normal (rms in [0.6, 1.5]).
* ``discrete_rsgd_gradient``: the replicated-SGD gradient of H = finite differences (rel. 1e-6).
* ``discrete_replicated_vs_sa``: at a load where simulated annealing mostly fails, replicated SA
  and replicated SGD solve more instances at the same total sweep budget (one-sided Fisher exact
  test, p < 0.01 for each).
* ``discrete_centre``: the centre of replicated annealing (y = 7, strong coupling) has fewer errors
  than the replicas' mean, averaged over the run (with y = 3 or weak coupling it does not: notes).
* ``discrete_robustness``: replicated-SGD solutions keep fewer errors than the teacher after 2%
  random flips (teacher-student; paired over instances, difference > 3 standard errors).
* ``discrete_generalisation``: focusing-BP solutions have a test error below the replica-symmetric
  Gibbs error of a typical solution (mean + 3 standard errors below the theory).
"""
from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["run_discrete_checks", "SIZES"]

SIZES = {
    "test": dict(ann_inst=30, ais_inst=2, rv_n=201, rv_alpha=0.68, rv_inst=24, rv_budget=2000, rob_n=201, rob_inst=10,
                 gen_n=101, gen_inst=6, centre_inst=6),
    "demo": dict(ann_inst=80, ais_inst=4, rv_n=201, rv_alpha=0.68, rv_inst=40, rv_budget=2000, rob_n=201, rob_inst=16,
                 gen_n=201, gen_inst=8, centre_inst=10),
    "full": dict(ann_inst=300, ais_inst=8, rv_n=401, rv_alpha=0.66, rv_inst=40, rv_budget=2000, rob_n=401, rob_inst=20,
                 gen_n=401, gen_inst=12, centre_inst=16),
}


def _row(id, quantity, expected, measured, tolerance, passed, seed=0, notes="", wall=0.0):
    """One seed's verdict as the validation suite's record (:class:`deeprelax.validation.core.Check`):
    ``expected`` is the reference, ``tolerance`` the criterion."""
    from ..validation.core import Check

    return Check(id=id, quantity=quantity, measured=str(measured), reference=str(expected), criterion=str(tolerance),
                 passed=bool(passed), group="discrete", notes=notes, wall_time=float(wall),
                 data={"seed": int(seed)})


def _timed(fn, *a, **k):
    t0 = time.perf_counter()
    row = fn(*a, **k)
    row.wall_time = time.perf_counter() - t0
    return row


def _enum_bruteforce(cfg, seed):
    from .enumeration import decode, enumerate_solutions
    from .problem import BinaryPerceptron

    ok, total = True, 0
    for s in range(3):
        pr = BinaryPerceptron.random(13, 0.3 + 0.2 * s, seed=seed + s)
        res = enumerate_solutions(pr)
        brute = np.flatnonzero(pr.energy(decode(np.arange(2 ** 13), 13)) == 0)
        ok &= np.array_equal(res.codes, brute)
        total += brute.size
    return _row("discrete_enum_bruteforce", "solutions by Gray-code enumeration vs brute force, N=13, 3 instances",
                "identical sets", f"{'identical' if ok else 'DIFFERENT'} ({total} solutions)", "exact", ok, seed)


def _annealed_count(cfg, seed):
    from .enumeration import enumerate_solutions
    from .problem import BinaryPerceptron

    n, p, I = 17, 7, cfg["ann_inst"]
    c = np.array([enumerate_solutions(BinaryPerceptron.random(n, p / n, seed=seed * 1000 + s)).n_solutions
                  for s in range(I)])
    se = c.std(ddof=1) / math.sqrt(I)
    z = (c.mean() - 2.0 ** (n - p)) / se
    return _row("discrete_annealed_count", f"mean number of solutions, N={n}, P={p}, {I} random-label instances",
                f"2^(N-P) = {2 ** (n - p)}", f"{c.mean():.1f} +- {se:.1f} (z = {z:+.2f})", "|z| < 4", abs(z) < 4, seed)


def _incremental(cfg, seed):
    from .annealing import anneal
    from .problem import BinaryPerceptron

    pr = BinaryPerceptron.random(301, 0.9, seed=seed)
    ok = True
    worst = 0
    for energy in ("errors", "hinge"):
        r = anneal(pr, max_sweeps=40, beta0=1.0, beta1=3.0, energy=energy, record_every=1, seed=seed)
        ok &= r.energy == pr.energy(r.W)
        # replay: the recorded energy at the end of the run equals the recomputed one
        worst = max(worst, abs(int(r.trajectory["energy"][-1]) - pr.energy(r.W, energy)),
                    abs(int(r.trajectory["errors"][-1]) - pr.energy(r.W)))
    ok &= worst == 0
    return _row("discrete_incremental_energy", "incremental (O(P) per flip) vs recomputed energy after 40 sweeps, "
                "N=301, errors and hinge", "0", str(worst), "exact", ok, seed)


def _ais(cfg, seed):
    from .enumeration import enumerate_solutions
    from .local_entropy import local_entropy_count
    from .problem import BinaryPerceptron

    zs = []
    for s in range(cfg["ais_inst"]):
        for alpha in (0.3, 0.55):
            pr = BinaryPerceptron.random(21, alpha, seed=seed * 100 + s, teacher=s % 2 == 0)
            sol = enumerate_solutions(pr).solutions
            ref = sol[np.random.default_rng(s).integers(len(sol))]
            ex = np.bincount((sol != ref).sum(1), minlength=22)
            ds = np.flatnonzero(ex[:10] > 0)
            ds = ds[ds > 0]
            if ds.size:
                r = local_entropy_count(pr, ref, ds, method="ais", seed=s)
                diff = r.log_count - np.log(ex[ds])
                # a shell made only of solutions gives identical weights: exact, stderr 0
                zs += list(np.where(np.abs(diff) < 1e-9, 0.0, diff / np.maximum(r.log_count_stderr, 1e-300)))
    zs = np.array(zs)
    rms = float(np.sqrt(np.mean(zs ** 2)))
    ok = zs.size > 10 and np.max(np.abs(zs)) < 3.5 and 0.6 < rms < 1.5
    return _row("discrete_local_entropy_ais", f"AIS log N(W, d) vs exact counts, N=21, {zs.size} (instance, d) pairs",
                "z ~ N(0, 1)", f"max |z| = {np.max(np.abs(zs)):.2f}, rms z = {rms:.2f}", "max |z| < 3.5, rms in [0.6, 1.5]",
                ok, seed)


def _gradient(cfg, seed):
    from . import relaxation as rx
    from .problem import BinaryPerceptron

    pr = BinaryPerceptron.random(15, 0.6, seed=seed)
    wr = np.random.default_rng(seed).uniform(-0.9, 0.9, (3, 15))
    g = rx.replicated_energy_grad(pr, wr, 0.9, 1.5, 0.5)
    fd = np.zeros_like(wr)
    for idx in np.ndindex(wr.shape):
        a, b = wr.copy(), wr.copy()
        a[idx] += 1e-6
        b[idx] -= 1e-6
        fd[idx] = (rx.replicated_energy(pr, a, 0.9, 1.5, 0.5) - rx.replicated_energy(pr, b, 0.9, 1.5, 0.5)) / 2e-6
    err = float(np.max(np.abs(g - fd)) / max(1.0, np.max(np.abs(g))))
    return _row("discrete_rsgd_gradient", "dH/dw = dE/dw - (gamma/beta)(tanh(gamma sum_b w^b) - w^a) vs finite "
                "differences", "equal", f"max rel. diff {err:.1e}", "< 1e-6", err < 1e-6, seed,
                "H with a minus sign before the log term; eta' = eta gamma / beta")


def _replicated_vs_sa(cfg, seed, cache):
    from scipy import stats as _st                # here, not at import: scipy.stats costs 0.4 s to import

    from .targets import instances, run_method

    n, a, I, B = cfg["rv_n"], cfg["rv_alpha"], cfg["rv_inst"], cfg["rv_budget"]
    probs = instances(n, a, I, seed0=seed)
    got = {m: sum(r.solved for r in run_method(m, probs, B, seed=seed))
           for m in ("anneal_hinge", "replicated_anneal", "replicated_sgd")}
    ps = {m: _st.fisher_exact([[got[m], I - got[m]], [got["anneal_hinge"], I - got["anneal_hinge"]]],
                              alternative="greater")[1] for m in ("replicated_anneal", "replicated_sgd")}
    ok = all(p < 0.01 for p in ps.values())
    return _row("discrete_replicated_vs_sa", f"instances solved at N={n}, alpha={a}, {B} sweeps (all replicas), "
                f"{I} random-label instances", "replicated > SA (hinge)",
                f"SA {got['anneal_hinge']}, RSA {got['replicated_anneal']} (p={ps['replicated_anneal']:.1e}), "
                f"rSGD {got['replicated_sgd']} (p={ps['replicated_sgd']:.1e})", "Fisher one-sided p < 0.01 each", ok,
                seed)


def _centre(cfg, seed):
    from .annealing import replicated_anneal
    from .targets import instances

    probs = instances(201, 0.7, cfg["centre_inst"], seed0=seed)
    diffs = []
    for r in replicated_anneal(probs, y=7, max_sweeps=3000, record_every=5, beta0=0.5, beta1=4.0, gamma0=0.5,
                               gamma1=2.0, seed=seed):
        tr = r.trajectory
        k = max(1, len(tr["sweeps"]) // 10)
        diffs.append(np.mean(tr["centre_errors"][k:] - tr["replica_errors_mean"][k:]))
    d = np.array(diffs)
    m, se = d.mean(), d.std(ddof=1) / math.sqrt(d.size)
    return _row("discrete_centre", f"E(centre) - <E(replicas)> averaged over a replicated-SA run (y=7, gamma 0.5->2), "
                f"N=201, alpha=0.7, {d.size} instances", "< 0 (centre better)", f"{m:+.2f} +- {se:.2f} errors",
                "mean + 2 se < 0", m + 2 * se < 0, seed,
                "holds with many replicas in one dense region; with y=3 (target-1 setting) the centre is worse by ~+1.6 "
                "errors, with weak coupling (gamma0=0.1) by +5..+7")


def _robustness(cfg, seed):
    from .targets import teacher_student_solutions

    r = teacher_student_solutions(cfg["rob_n"], 0.5, n_instances=cfg["rob_inst"], budget=2000,
                                  methods=["replicated_sgd"], fractions=(0.02,), n_samples=200, n_test=100, seed0=seed)
    ok_i = r.solved[0]
    diff = (r.robust_mean[1, ok_i, 0] - r.robust_mean[0, ok_i, 0])  # teacher - rSGD, paired
    m, se = diff.mean(), diff.std(ddof=1) / math.sqrt(diff.size) if diff.size > 1 else np.inf
    ok = diff.size >= 3 and m > 3 * se
    return _row("discrete_robustness", f"training errors after flipping 2% of the weights, teacher minus rSGD "
                f"solution, N={cfg['rob_n']}, alpha=0.5, {diff.size} instances", "> 0 (solutions flatter than teacher)",
                f"{m:.2f} +- {se:.2f} (teacher {np.mean(r.robust_mean[1, ok_i, 0]):.2f}, "
                f"rSGD {np.mean(r.robust_mean[0, ok_i, 0]):.2f})", "> 3 se", ok, seed)


def _generalisation(cfg, seed):
    from .targets import teacher_student_solutions
    from .theory import gibbs_generalisation

    r = teacher_student_solutions(cfg["gen_n"], 0.5, n_instances=cfg["gen_inst"], budget=2000,
                                  methods=["focusing_bp"], fractions=(0.0,), n_samples=2, n_test=10000, seed0=seed + 1)
    te = r.test_error[0][r.solved[0]]
    eps = gibbs_generalisation(0.5)[1]
    m, se = te.mean(), te.std(ddof=1) / math.sqrt(te.size)
    ok = te.size >= 3 and m + 3 * se < eps
    return _row("discrete_generalisation", f"test error of focusing-BP solutions, teacher-student N={cfg['gen_n']}, "
                f"alpha=0.5, {te.size} instances", f"< typical (RS Gibbs) {eps:.4f}", f"{m:.4f} +- {se:.4f}",
                "mean + 3 se < theory", ok, seed)


def run_discrete_checks(size: str = "test", seed: int = 0) -> list:
    """All rows (module docstring) at ``size`` for one seed, as :class:`deeprelax.validation.core.Check`
    records (the validation group ``discrete`` runs them over its seeds)."""
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {sorted(SIZES)}; got {size!r}.")
    cfg = SIZES[size]
    cache = {}
    rows = []
    for fn in (_enum_bruteforce, _annealed_count, _incremental, _ais, _gradient):
        rows.append(_timed(fn, cfg, seed))
    rows.append(_timed(_replicated_vs_sa, cfg, seed, cache))
    for fn in (_centre, _robustness, _generalisation):
        rows.append(_timed(fn, cfg, seed))
    return rows
