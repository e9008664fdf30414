r"""The Entropy-SGD estimator of ``grad u`` against Cole-Hopf (paper-spec §7 item 6; issue 16 §1, §3).

* ``sgld_{family}_{d}d_beta{b}``: the default estimator (replica exchange, default settings) at every
  point of a set, against the closed form (soft-min) or the Cole-Hopf grid (dr-fig1): all points
  converged and no ``|z|`` beyond the Bonferroni bound of the seed.  Soft-min (a wide and a sharp
  well, t = 0.5) and dr-fig1 (t = 0.2) make the local measure multimodal; beta in {1, 10, 100}.
* ``sgld_new_user``: the case of issue 16 with default settings.
* ``sgld_u_bridge``: ``u`` itself (bridge estimator) against the closed form.
* ``sgld_coverage``: all z-scores of the rows above pooled over points and seeds: their spread is
  that of a standard normal (chi-square test), i.e. the error bars hold.
* ``plain_*``: the plain Algorithm-1 sampler (``sampler="plain"``, unadjusted SGLD from ``x``): its
  ``N^-1/2`` rate, its ``O(eta')`` step bias, and its confident wrong answer at a bimodal point,
  where chains started at ``x`` return the mean of the well they start in.
"""
from __future__ import annotations

import importlib
import math
import warnings

import numpy as np

from .. import losses, stats
from .core import Check, Trial, bonferroni, chi2_sd_pvalue, fmt, seeded, slope_pvalue, z_pvalue
from .exact import softmin

le = importlib.import_module("deeprelax.local_entropy")

__all__ = ["run", "NEW_USER"]

#: The loss of the issue-16 report (narrow minimum at [1.2, 0.5]).
NEW_USER = dict(w=[0.6, 0.4], m=[[-1.0, 0.0], [1.2, 0.5]], s=[0.6, 0.1])
_NPTS = {"test": 6, "demo": 12, "full": 32}


def _points(family, d, n):
    if family == "drfig1":
        return np.linspace(-2.0, 2.5, n)[:, None]
    if d == 1:
        return np.linspace(-2.5, 3.0, n)[:, None]
    return np.random.default_rng(1234).uniform([-2.5, -1.5], [3.0, 2.0], (n, 2))


def _estimate(loss, x, t, beta, seed, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # converged=False is part of the verdict
        return le.local_entropy_grad(loss, x, t, beta, method="sgld", rng=seed, **kw)


def _z_trial(loss, x, t, beta, exact, seed, pool, key):
    r = _estimate(loss, x, t, beta, seed)
    z = ((r.grad - exact) / r.stderr).ravel()
    pool.setdefault(key, []).append(z)
    p = bonferroni(z_pvalue(z)) if r.converged.all() else 0.0
    zb = -_ndtri(1e-3 / (2 * z.size))
    text = (f"max|z| {fmt(np.abs(z).max())} (bound {fmt(zb)}), {int(r.converged.sum())}/{r.converged.size} conv, "
            f"{fmt(r.wall_time, 2)} s")
    return Trial(pvalue=p, value=float(np.abs(z).max()), text=text,
                 data={"z": z, "rungs": np.asarray(r.params["n_rungs"]).tolist(),
                       "steps": np.asarray(r.params["n_steps"]).tolist()})


def _ndtri(p):
    from scipy import special

    return float(special.ndtri(p))


def _z_row(family, d, beta, n, seeds, pool):
    if family == "softmin":
        loss, t = softmin(beta, d), 0.5
        x = _points("softmin", d, n)
        exact = loss.exact_grad(x, t, beta)
        ref = "closed-form soft-min <y> (paper-spec §4.4a)"
    else:
        loss, t = losses.get("dr-fig1"), 0.2
        x = _points("drfig1", 1, n)
        exact = le.local_entropy_grad(loss, x, t, beta)
        ref = "Cole-Hopf grid (method='quadrature', error < 1e-6)"
    return seeded(f"sgld_{family}_{d}d_beta{beta:g}",
                  f"default sgld estimate of grad u at {n} points ({d}-D {family}, t={t}, beta={beta:g}; "
                  f"multimodal local measure)",
                  lambda s: _z_trial(loss, x, t, beta, exact, s, pool, "grad"), seeds, reference=ref,
                  criterion="every point converged; Bonferroni z-test over the points (two-sided)")


def _new_user(seeds, pool):
    g = losses.get("gaussian-mixture", **NEW_USER)
    x = np.array([[1.2, 0.5], [-1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [2.0, -1.0], [0.6, 0.25]])
    exact = g.exact_grad(x, 1.0, 1.0)

    def trial(s):
        tr = _z_trial(g, x, 1.0, 1.0, exact, s, pool, "grad")
        z = tr.data["z"]
        ok4 = bool(np.abs(z).max() <= 4.0)
        tr.pvalue = tr.pvalue if ok4 else 0.0
        tr.text = f"grad[0] z {fmt(z[:2], 2)}; " + tr.text
        return tr

    return seeded("sgld_new_user", "issue-16 case: gaussian-mixture w=(.6,.4), s=(.6,.1), narrow minimum "
                  "[1.2, 0.5] and 5 more points, t=1, beta=1, default settings",
                  trial, seeds, reference="closed form u = -log sum_i w_i N(x; m_i, s_i^2 + t) (grad 0.237 at the "
                  "narrow minimum)", criterion="converged, |z| <= 4 at every point, and the Bonferroni z-test")


def _u_bridge(seeds, pool):
    loss = softmin(10.0, 2)
    x = _points("softmin", 2, 6)
    exact = loss.exact_u(x, 0.5, 10.0)

    def trial(s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = le.local_entropy(loss, x, 0.5, 10.0, method="sgld", rng=s)
        z = (r.u - exact) / r.u_stderr
        pool.setdefault("u", []).append(z)
        p = bonferroni(z_pvalue(z)) if r.converged.all() else 0.0
        return Trial(pvalue=p, value=float(np.abs(z).max()), text=f"max|z| {fmt(np.abs(z).max())}", data={"z": z})

    return seeded("sgld_u_bridge", "u(x, t) by bridge sampling over the replica-exchange ladder (2-D soft-min, "
                  "t=0.5, beta=10, 6 points)", trial, seeds, reference="closed-form soft-min u",
                  criterion="converged; Bonferroni z-test over the points")


def _coverage(pool, seeds):
    zg = np.concatenate(pool.get("grad", [np.zeros(0)]))
    zu = np.concatenate(pool.get("u", [np.zeros(0)]))
    z = np.concatenate([zg, zu])
    p = chi2_sd_pvalue(z)
    inside = float(np.mean(np.abs(z) <= 1.96))
    c = Check("sgld_coverage", "spread of all z-scores of the sgld rows (grad and u), pooled over points and seeds",
              f"n = {z.size}: sd(z) {fmt(z.std())} (grad {fmt(zg.std())}, u {fmt(zu.std()) if zu.size else '-'}); "
              f"{100 * inside:.1f} % within 1.96; max|z| {fmt(np.abs(z).max())}",
              "standard normal (sd 1, 95 % within 1.96)", "chi-square test of sum z^2 (two-sided)", p >= 1e-3,
              seeds=tuple(seeds), n_pass=int(p >= 1e-3) * len(seeds), pvalues=(p,), value=float(z.std()),
              expected=1.0, notes="pooled over the seeds (one test); points and seeds are independent runs",
              data={"z": z.tolist()})
    return c


def _plain_rate(cfg, seeds):
    L = softmin(1.0, 1)
    x = _points("softmin", 1, 12)
    ex = L.exact_grad(x, 0.5, 1.0)
    ns = (1000, 4000, 16000) if cfg["size"] == "test" else (1000, 4000, 16000, 64000)

    def trial(s):
        rms = []
        for n in ns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = le.local_entropy_grad(L, x, 0.5, 1.0, method="sgld", sampler="plain", n_samples=n, inner_lr=2e-3,
                                          n_chains=4, rng=s + 7)
            rms.append(float(np.sqrt(np.mean((r.grad - ex) ** 2))))
        sl, se = stats.loglog_slope(ns, rms)
        # each rms over 12 points has relative sd ~ 1/sqrt(2*12): a floor on the slope's standard error
        se = max(se, math.sqrt(2.0 / 12.0) / math.sqrt(np.sum((np.log(ns) - np.log(ns).mean()) ** 2)))
        return Trial(pvalue=slope_pvalue(sl, se, -0.5, len(ns) - 2), value=sl, text=f"slope {fmt(sl)} +- {fmt(se)}",
                     data={"rms": rms})

    return seeded("plain_rate", f"plain sampler (Algorithm 1): rms error of grad u vs samples per chain {list(ns)} "
                  "(1-D soft-min, beta=1, eta'=2e-3, 12 points)", trial, seeds,
                  reference="Monte-Carlo rate N^-1/2 (step bias << SE at these sizes)",
                  criterion="t-test of the fitted slope against -1/2", expected=-0.5)


def _plain_step_bias(cfg, seeds):
    L = softmin(1.0, 1)
    xb = np.array([[-0.5], [0.5], [1.0], [2.0]])
    exb = L.exact_grad(xb, 0.5, 1.0)[:, 0]
    hs = np.array([0.04, 0.02, 0.01])
    n0 = 40000 if cfg["size"] == "test" else 100000

    def trial(s):
        A, S = [], []
        for hh in hs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = le.local_entropy_grad(L, xb, 0.5, 1.0, method="sgld", sampler="plain",
                                          n_samples=int(n0 * 0.04 / hh), inner_lr=hh, n_chains=4, rng=s + 11)
            A.append(r.grad[:, 0] - exb)
            S.append(r.stderr[:, 0])
        A, S = np.array(A), np.array(S)                              # (3 h, 4 points)
        # per point, weighted least squares A(h) = c h: the residual chi^2 tests "bias linear in h, zero at 0"
        w = 1.0 / S ** 2
        c = (w * hs[:, None] * A).sum(0) / (w * hs[:, None] ** 2).sum(0)
        sc = 1.0 / np.sqrt((w * hs[:, None] ** 2).sum(0))
        chi2 = float((w * (A - c * hs[:, None]) ** 2).sum())
        from scipy import stats as sps

        p_lin = float(sps.chi2.sf(chi2, A.size - c.size))
        detect = float(np.sum((c / sc) ** 2))
        p_det = float(sps.chi2.sf(detect, c.size))
        rich = 2 * A[1] - A[0]
        p = p_lin if p_det < 1e-6 else 0.0
        return Trial(pvalue=p, value=float(np.sqrt(np.mean(c ** 2))),
                     text=f"c = dA/dh {fmt(c, 2)} (SE {fmt(sc, 1)}); chi2 {fmt(chi2)} on {A.size - c.size} dof; "
                          f"Richardson rms {fmt(np.sqrt(np.mean(rich ** 2)), 2)}",
                     data={"A": A.tolist(), "S": S.tolist()})

    return seeded("plain_step_bias", "plain sampler: bias of grad u at eta' = 0.04, 0.02, 0.01 (unadjusted SGLD; "
                  "1-D soft-min, beta=1, 4 points)", trial, seeds,
                  reference="Euler-Maruyama: bias = c eta' + O(eta'^2), c != 0 (the replica-exchange default is "
                  "Metropolis-adjusted: no step bias)",
                  criterion="bias detected (chi^2 of c/SE, p < 1e-6) and A(h) = c h fits (chi^2 p-value)")


def _plain_stuck(seeds):
    L = softmin(100.0, 1)
    x = np.array([[0.5]])
    t = 0.5
    ex = float(L.exact_grad(x, t, 100.0)[0, 0])
    # exp(-beta f) of the soft-min is a sum over the wells, so the local measure is exactly a Gaussian mixture;
    # chains started at x = 0.5 descend into the wide well (a=1, m=-1): its component has mean (x + t a m)/(1 + t a)
    mu1 = (0.5 + t * 1.0 * (-1.0)) / (1.0 + t * 1.0)
    stuck = (0.5 - mu1) / t

    def trial(s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = le.local_entropy_grad(L, x, t, 100.0, method="sgld", sampler="plain", init="x", rng=s)
        est, se = float(r.grad[0, 0]), float(r.stderr[0, 0])
        z_exact, z_stuck = (est - ex) / se, (est - stuck) / se
        p = float(z_pvalue(z_stuck)) if abs(z_exact) > 4 else 0.0
        return Trial(pvalue=p, value=est, text=f"{fmt(est, 4)} +- {fmt(se, 2)}: z vs exact {fmt(z_exact)}, vs one well "
                     f"{fmt(z_stuck, 2)}; R-hat {fmt(r.rhat[0], 3)}", data={"est": est, "se": se})

    return seeded("plain_stuck", "plain sampler (Algorithm 1: SGLD chains from y = x) at a bimodal point: 1-D soft-min, "
                  "x = 0.5, t = 0.5, beta = 100 (wells at y = 0 and 1.33 with weights 0.27, 0.73)", trial, seeds,
                  reference=f"exact grad {fmt(ex)}; the well the chains start in: grad (x - {fmt(mu1)})/t = "
                  f"{fmt(stuck)} (exact Gaussian component of the local measure)",
                  criterion="exact value rejected (|z| > 4) and the one-well prediction accepted (z-test): the "
                  "confident wrong answer the default sampler removes", expected=stuck)


def run(cfg, seeds, figs):
    n = _NPTS[cfg["size"]]
    pool: dict = {}
    rows = []
    for beta in (1.0, 10.0, 100.0):
        for d in (1, 2):
            rows.append(_z_row("softmin", d, beta, n, seeds, pool))
    for beta in (1.0, 10.0, 100.0):
        rows.append(_z_row("drfig1", 1, beta, n, seeds, pool))
    rows.append(_new_user(seeds, pool))
    rows.append(_u_bridge(seeds, pool))
    rows.append(_coverage(pool, seeds))
    figs["z"] = [(c.id.replace("sgld_", ""), np.asarray(c.data["trials"][0]["z"])) for c in rows
                 if c.id.startswith("sgld_") and c.data.get("trials") and "z" in c.data["trials"][0]]
    rows += [_plain_rate(cfg, seeds), _plain_step_bias(cfg, seeds), _plain_stuck(seeds)]
    return rows
