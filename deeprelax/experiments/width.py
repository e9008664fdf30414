r"""Experiment ``width``: how wide are the minima each optimiser ends in?

Claim (ESGD, DR, Parle): the local-entropy methods (Entropy-SGD, Parle, Elastic-SGD) land in wider minima
than SGD: smaller top Hessian eigenvalues and trace, more eigenvalues near zero, a smaller local entropy.

At every evaluation endpoint of the ``optimisers`` experiment (same settings, same files: running one
reuses the other's results in the same ``--out``):

* the top :data:`K_TOP` Hessian eigenvalues by Lanczos (``scipy.sparse.linalg.eigsh`` on exact
  Hessian-vector products, :func:`deeprelax.models.hessian_eigs`), checked against the full
  eigendecomposition of the dense Hessian (every net here has ``d <= 1210``; larger ones are refused), which also gives the trace
  and the fraction of eigenvalues with ``|lambda| <= 1e-2 lambda_max``;
* the local entropy ``u(x, t) - f(x)`` at the DR times :data:`TS` with ``beta = P`` (the number of
  training samples: ``beta f`` is the summed training loss, so ``rho_t`` is the Bayesian posterior of
  the data with a Gaussian prior of variance ``t/P`` centred at ``x``), estimated from Entropy-SGD's
  inner chains by thermodynamic integration over ``t`` (:mod:`._entropy`), next to its value for the
  quadratic Taylor model at ``x`` (:func:`._entropy.laplace_excess`, from the dense spectrum and the
  gradient).  A smaller ``u - f`` is a wider minimum.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..models import hessian_eigs
from . import _methods as MT
from . import optimisers as O
from ._common import mean_se, one_blas_thread, pm, save_results, write_summary
from ._entropy import laplace_excess, local_entropy_ti
from ._store import load_dict, point_path, run_points

NAME = "width"
CLAIM = ("local-entropy methods end in wider minima than SGD (smaller λ_max and Tr H, more eigenvalues "
         "near zero, smaller local entropy u(x, t) - f(x))")
TS = (0.1, 1.0, 10.0)
K_TOP = 5
NEAR0 = 1e-2
DENSE_MAX = 2500
T_VERDICT = 1          # index in TS of the time of the verdicts (t = 1)


def entropy_settings(size):
    """Chains of the local-entropy estimator per size."""
    if size == "quick":
        return {"s_min": 0.1, "per_decade": 2, "n_chains": 3, "n_steps": 120, "burn_in": 40}
    return {"s_min": 0.1, "per_decade": 2, "n_chains": 3, "n_steps": 160, "burn_in": 50}


#: Evaluation seeds of ``optimisers`` whose endpoints are measured (full: the first 5 of 8; an endpoint
#: costs 2-9 s of CPU, mostly the estimator's full-data gradients).
N_SEEDS = {"quick": 3, "full": 5}


def endpoint(model, x, le):
    """Width measures at ``x``: Lanczos top eigenvalues, dense spectrum, trace, near-zero fraction, local entropy."""
    if model.dim > DENSE_MAX:
        raise ValueError(f"width needs the dense Hessian: model.dim must be <= {DENSE_MAX}; got {model.dim}.")
    with one_blas_thread():
        top = hessian_eigs(model, x, k=K_TOP, tol=1e-8)
        lam, V = np.linalg.eigh(model.hessian(x))
        gq = V.T @ model.grad(x)
    beta = float(model.n_samples)
    trace = float(lam.sum())
    r = local_entropy_ti(model, x, TS, beta, lam_max=1.05 * float(top[-1]), trace=trace, seed=0, **le)
    return {"top": top, "eigenvalues": lam, "lambda_max": float(top[-1]), "trace": trace,
            "lambda_min": float(lam[0]), "frac_near0": float(np.mean(np.abs(lam) <= NEAR0 * lam[-1])),
            "lanczos_err": float(np.max(np.abs(top - lam[-K_TOP:])) / lam[-1]),
            "u_excess": r["u_excess"], "u_se": r["u_se"], "u_laplace": laplace_excess(lam, TS, beta, gq),
            "s": r["s"], "g": r["g"], "g_se": r["g_se"], "g0": r["g0"], "le_grad_evals": r["grad_evals"],
            "test_error": float(model.test_error(x)), "train_error": float(model.train_error(x)),
            "loss": float(model.value(x))}


def _point(problem, method, cfg, seed, hidden, epochs, n_saves, version, le, out):
    p = {"problem": problem, "method": method, "cfg": cfg, "seed": seed, "hidden": hidden, "epochs": epochs,
         "n_saves": n_saves, "version": version}
    path = point_path(out, O.NAME, p)
    if not path.exists():
        run_points(O.NAME, O._point, [p], out, "serial", progress=False)
    x = load_dict(path)[0]["x"]
    model, _ = O.problem_model(problem, hidden)
    return endpoint(model, x, le)


def rows_of(pts, res):
    rows = []
    for pr in O.PROBLEMS:
        for m in MT.METHODS:
            rr = [r for p, r in zip(pts, res) if p["problem"] == pr and p["method"] == m]
            row = {"problem": pr, "optimiser": m, "label": MT.LABELS[m], "ts": TS, "n_seeds": len(rr)}
            for k in ("lambda_max", "trace", "frac_near0", "test_error", "lambda_min"):
                row[k] = mean_se([r[k] for r in rr])
            row["lanczos_err"] = float(np.max([r["lanczos_err"] for r in rr]))
            for k in ("u_excess", "u_laplace"):
                row[k] = mean_se(np.array([r[k] for r in rr]))
            row["u_chain_se"] = float(np.max(np.array([r["u_se"] for r in rr]) / np.array([r["u_excess"] for r in rr])))
            row["local"] = np.array([np.mean([1.0 / t > -r["lambda_min"] for r in rr]) for t in TS])
            rows.append(row)
    return rows


def _cmp(r, base, key, k=None):
    a, sa = (r[key][0][k], r[key][1][k]) if k is not None else r[key]
    b, sb = (base[key][0][k], base[key][1][k]) if k is not None else base[key]
    d, se = a - b, float(np.hypot(sa, sb))
    return d, se, ("wider (agrees)" if d < -2 * se else "sharper (disagrees)" if d > 2 * se else "no significant difference")


def summary_lines(size, rows):
    le = entropy_settings(size)
    t = " | ".join(f"u - f, t={t:g}" for t in TS)
    lines = [f"# Experiment {NAME} ({size})", "", f"Claim: {CLAIM}.", "",
             "Endpoints of the `optimisers` experiment (same settings); mean ± s.e. over its first "
             f"{rows[0]['n_seeds']} evaluation seeds.  λ_max by Lanczos (top {K_TOP}; largest relative difference from the "
             "dense spectrum in the last column), Tr H and the near-zero fraction (|λ| ≤ 1e-2 λ_max) from the "
             "dense spectrum.  u - f: local entropy at β = P (number of training samples) estimated by "
             "thermodynamic integration of Entropy-SGD inner chains (LM steps, full-data gradients, "
             f"{le['n_chains']} chains x {le['n_steps']} steps ({le['burn_in']} discarded) per grid time, "
             f"{le['per_decade']} grid times per decade from {le['s_min']:g}, the exact s = 0 integrand below), in "
             "brackets its value for the quadratic Taylor model at x, Σ_i [log(1 + tλ_i)/(2β) - t g_i²/(2(1 + tλ_i))] "
             "(λ_i, g_i: Hessian eigenvalues and gradient coordinates).", "",
             f"| problem | method | λ_max | Tr H | frac near 0 | {t} | test error | Lanczos rel. err |",
             "|" + "---|" * (7 + len(TS))]
    F = "{:.3g}"
    for r in rows:
        us = " | ".join(f"{pm(r['u_excess'][0][k], r['u_excess'][1][k], F)} [{r['u_laplace'][0][k]:.3g}]"
                        for k in range(len(TS)))
        lines.append(f"| {r['problem']} | {r['label']} | {pm(*r['lambda_max'], F)} | {pm(*r['trace'], F)} | "
                     f"{pm(*r['frac_near0'], F)} | {us} | {pm(*r['test_error'], '{:.4f}')} | {r['lanczos_err']:.1e} |")
    lines += ["", "Verdict: each method against SGD ('wider' = smaller by more than 2 s.e.)."]
    for pr in O.PROBLEMS:
        base = next(r for r in rows if r["problem"] == pr and r["optimiser"] == "sgd")
        for r in (r for r in rows if r["problem"] == pr and r["optimiser"] != "sgd"):
            parts = []
            for key, nm, k in (("lambda_max", "λ_max", None), ("trace", "Tr H", None),
                               ("u_excess", f"u - f (t={TS[T_VERDICT]:g})", T_VERDICT)):
                d, se, v = _cmp(r, base, key, k)
                parts.append(f"{nm} {d:+.3g} ± {se:.2g} ({v})")
            lines.append(f"- {pr}, {r['label']}: " + "; ".join(parts) + ".")
    loc = np.min([r["local"] for r in rows], axis=0)
    t_ok = max([t for t, f in zip(TS, loc) if f == 1.0], default=float("nan"))
    where = (f"at every endpoint for every t (t ≤ {t_ok:g})" if loc[-1] == 1.0 else
             f"at every endpoint for t ≤ {t_ok:g}; at t = {TS[-1]:g} for {100 * loc[-1]:.0f}% or more of the "
             "endpoints of each method (for the others u - f also measures the landscape beyond the minimum)")
    lines.append(f"- The local Gibbs measure is confined near x (1/t > -λ_min) {where}.  Largest relative "
                 f"standard error of one endpoint's u - f: {max(r['u_chain_se'] for r in rows):.2g}.")
    return lines


def run(out, size="quick", executor="serial", progress=True):
    """Run (or resume) the experiment; writes ``width.h5|png|md`` in ``out``; returns the summary dict."""
    opts, _, _, _ = O.evaluate(out, size, executor, progress)
    le = entropy_settings(size)
    seeds = O.settings(size)["seeds"][:N_SEEDS[size]]
    pts = [{**p, "le": le} for p in opts if p["seed"] in seeds]
    res = run_points(NAME, functools.partial(_point, out=str(Path(out).resolve())), pts, out, executor, progress)
    rows = rows_of(pts, res)
    lines = summary_lines(size, rows)
    from ._plots import plot_width

    png = plot_width(rows, f"{out}/{NAME}.png")
    save_results(out, NAME, pts, res, {"size": size, "claim": CLAIM, "ts": TS, "entropy": le})
    lines += ["", f"Figure: {png.name}; data: {NAME}.h5."]
    md = write_summary(out, NAME, lines)
    return {"name": NAME, "summary": md, "png": png, "lines": lines, "rows": rows}
