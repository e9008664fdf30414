r"""Experiment ``width``: how wide are the minima each optimiser ends in?

Claim (ESGD, DR, Parle): the local-entropy methods (Entropy-SGD, Parle, Elastic-SGD) land in wider minima
than SGD: smaller top Hessian eigenvalues and trace, more eigenvalues near zero, a smaller local-entropy
penalty.

At the endpoints of the ``optimisers`` experiment (the same grid points and files: running one reuses
the other's results in the same ``--out``), the dense Hessian from exact Hessian-vector products gives
``lambda_max``, ``Tr H`` and the fraction ``|lambda| <= 1e-2 lambda_max``; Lanczos (``eigsh``) on the
products is checked against it.  The local-entropy penalty ``u(x, t) - f(x)`` at several ``t`` (DR
convention, beta = 1) is the Laplace (quadratic) value ``(1/2) sum_i log(1 + t lambda_i)``, exact for a
quadratic ``f`` (paper-spec §2.3), with eigenvalues below ``-1/(2t)`` clipped.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..models import hessian_eigs
from . import optimisers as O
from ._common import check_size, mean_se, pm, problem, save_results, write_summary
from ._store import load_dict, point_path, run_points

NAME = "width"
CLAIM = ("local-entropy methods end in wider minima than SGD (smaller λ_max and Tr H, more eigenvalues "
         "near zero, smaller local-entropy penalty)")
TS = (0.1, 1.0, 10.0)


def grid(size):
    check_size(size)
    return O.grid(size)


def point(problem_name, optimiser, seed, hidden, epochs, out):
    p = {"problem": problem_name, "optimiser": optimiser, "seed": seed, "hidden": hidden, "epochs": epochs}
    path = point_path(out, O.NAME, p)
    if not path.exists():
        run_points(O.NAME, O._point, [p], out, "serial", progress=False)
    x = load_dict(path)[0]["x"]
    model, _ = problem(problem_name, hidden=(hidden,), lam=1e-4, seed=0)
    lam = np.linalg.eigvalsh(model.hessian(x))
    top = hessian_eigs(model, x, k=3, tol=1e-9)
    u = [0.5 * float(np.sum(np.log1p(t * np.maximum(lam, -0.5 / t)))) for t in TS]
    return {"eigenvalues": lam, "lambda_max": float(lam[-1]), "trace": float(lam.sum()),
            "frac_near0": float(np.mean(np.abs(lam) <= 1e-2 * lam[-1])), "lanczos_err": float(
                np.max(np.abs(top - lam[-3:])) / lam[-1]), "u_excess": np.array(u),
            "test_error": float(model.test_error(x)), "loss": float(model.value(x))}


def _point(problem, optimiser, seed, hidden, epochs, out):
    return point(problem, optimiser, seed, hidden, epochs, out)


def run(out, size="quick", executor="serial", progress=True):
    """Run (or resume) the experiment; writes ``width.h5|png|md`` in ``out``; returns the summary dict."""
    ok, why = O.dynamics_accepts_models()
    pts = [p for p in grid(size) if ok or p["optimiser"] == "sgd"]
    res = run_points(NAME, functools.partial(_point, out=str(Path(out).resolve())), pts, out, executor, progress)
    rows = []
    for pr in ("digits", "teacher"):
        for o in O.OPTIMISERS:
            rr = [r for p, r in zip(pts, res) if p["problem"] == pr and p["optimiser"] == o]
            if not rr:
                continue
            row = {"label": f"{pr}\n{o}", "problem": pr, "optimiser": o, "ts": TS}
            for k in ("lambda_max", "trace", "frac_near0", "test_error", "lanczos_err"):
                row[k] = mean_se([r[k] for r in rr])
            row["u_excess"] = mean_se(np.array([r["u_excess"] for r in rr]))
            rows.append(row)
    lines = [f"# Experiment {NAME} ({size})", "", f"Claim: {CLAIM}.", "",
             "Endpoints of the `optimisers` experiment (same settings); dense Hessian spectrum; mean ± s.e. over "
             f"{len({p['seed'] for p in pts})} seeds.  u - f is the Laplace local-entropy penalty (β = 1).", "",
             "| problem | optimiser | λ_max | Tr H | frac abs(λ) ≤ 1e-2 λ_max | " + " | ".join(
                 f"u - f, t={t:g}" for t in TS) + " | test error | Lanczos rel. err |",
             "|" + "---|" * (7 + len(TS))]
    for r in rows:
        lines.append(f"| {r['problem']} | {r['optimiser']} | {pm(*r['lambda_max'])} | {pm(*r['trace'])} | "
                     f"{pm(*r['frac_near0'])} | " + " | ".join(pm(r["u_excess"][0][k], r["u_excess"][1][k])
                                                          for k in range(len(TS))) +
                     f" | {pm(*r['test_error'])} | {r['lanczos_err'][0]:.1e} |")
    lines += ["", "Verdict:"]
    if not ok:
        lines.append(f"- only SGD endpoints were measured: {why}.  The comparison with the local-entropy methods "
                     "is pending the finite-sum path of deeprelax.dynamics (issue 15 §1).")
    else:
        for pr in ("digits", "teacher"):
            base = next(r for r in rows if r["problem"] == pr and r["optimiser"] == "sgd")
            for r in (r for r in rows if r["problem"] == pr and r["optimiser"] != "sgd"):
                d = r["lambda_max"][0] - base["lambda_max"][0]
                se = float(np.hypot(r["lambda_max"][1], base["lambda_max"][1]))
                lines.append(f"- {pr}, {r['optimiser']}: λ_max {d:+.3g} ± {se:.2g} vs SGD — "
                             f"{'wider (agrees)' if d < -2 * se else 'sharper (disagrees)' if d > 2 * se else 'no significant difference'}.")
    from ._plots import plot_width

    png = plot_width(rows, f"{out}/{NAME}.png")
    save_results(out, NAME, pts, res, {"size": size, "claim": CLAIM, "ts": TS})
    lines += ["", f"Figure: {png.name}; data: {NAME}.h5."]
    md = write_summary(out, NAME, lines)
    return {"name": NAME, "summary": md, "png": png, "lines": lines, "rows": rows}
