r"""Dynamics against the PDE flows (paper-spec §7 items 13, 14; issue 16 §3).

* ``homogenization``: Entropy-SGD (running mean of ``L`` inner SGLD steps) against the Euler map of the
  exact ``grad u`` with the same outer step: at large ``L`` the expected path equals it within the
  Monte-Carlo error; at small ``L`` it visibly does not (the test has power).
* ``elastic_replicas``: Elastic-SGD's centre averages the replicas' noise: its variance over
  independent systems falls like ``1/n`` (fitted slope against -1).
* ``fp_vs_langevin``: Langevin histograms against Fokker-Planck bin masses: ``L1`` equals the
  multinomial noise level predicted for each ``N`` (hence the ``N^-1/2`` rate).
* ``wide_sharp``: Entropy-SGD against Langevin at the same temperature and the same number of gradient
  evaluations, from the sharp well: the fraction of Langevin chains in the wide basin equals the
  Fokker-Planck mass at the same time, and Entropy-SGD puts more chains there.
"""
from __future__ import annotations

import importlib
import math

import numpy as np

from .. import losses, stats
from .core import Trial, bonferroni, fmt, seeded, slope_pvalue, z_pvalue
from .exact import softmin

le = importlib.import_module("deeprelax.local_entropy")

__all__ = ["run"]

_CFG = {"test": dict(hom_chains=128, fp_ns=(1000, 4000, 16000), ws_chains=256, el_systems=128),
        "demo": dict(hom_chains=256, fp_ns=(1000, 4000, 16000), ws_chains=256, el_systems=256),
        "full": dict(hom_chains=512, fp_ns=(1000, 4000, 16000, 64000, 256000), ws_chains=512, el_systems=512)}


def _euler_path(loss, x0, t, beta, lr, n):
    """Outer Euler map ``x <- x - lr grad u(x, t)`` of the exact gradient, ``n`` steps from ``x0``."""
    xs = [float(x0)]
    x = float(x0)
    for _ in range(n):
        x -= lr * float(loss.exact_grad(np.array([[x]]), t, beta)[0, 0])
        xs.append(x)
    return np.array(xs)


def _homogenization(cfg, seeds, figs):
    from .. import dynamics as dyn

    L, t, beta, lr, n_out, h = softmin(10.0, 1), 0.5, 10.0, 0.05, 40, 0.01
    Ls = (20, 80, 320, 1280)
    nc = cfg["hom_chains"]
    ref = _euler_path(L, 0.2, t, beta, lr, n_out)

    def trial(s):
        zs, gaps, paths = [], [], {}
        for Lin in Ls:
            tr = dyn.entropy_sgd(L, np.full((nc, 1), 0.2), t=t, lr=lr, inner_lr=h, L=Lin, n_steps=n_out, beta=beta,
                                 ema=None, burn_in=Lin // 5, rng=s, save_every=1)
            X = tr.xs[:, :, 0]
            m, se = X.mean(1), X.std(1, ddof=1) / math.sqrt(nc)
            zs.append(np.abs((m - ref)[1:] / se[1:]))
            gaps.append(float(np.abs(m - ref).max()))
            paths[Lin] = (tr.ts, m, ref)
        figs.setdefault("hom", paths)
        p = bonferroni(z_pvalue(zs[-1])) if zs[0].max() > 5 else 0.0
        return Trial(pvalue=p, value=gaps[-1], text=f"gaps {fmt(gaps, 2)}; max|z| at L={Ls[0]}: {fmt(zs[0].max())}, "
                     f"at L={Ls[-1]}: {fmt(zs[-1].max())}", data={"gaps": gaps})

    return seeded("homogenization", f"max_k |E[X_k] - x_k| over 40 outer steps, Entropy-SGD (running mean after L/5 "
                  f"burn-in, eta'={h}) with L = {list(Ls)}, {nc} chains from x0=0.2; 1-D soft-min, t=0.5, beta=10",
                  trial, seeds, reference="x_k: the same outer map x <- x - 0.05 grad u(x, t) with the exact "
                  "(closed-form) grad u", criterion=f"L={Ls[0]} visibly off (max|z| > 5: metastable inner loop) and "
                  f"L={Ls[-1]} equal within MC error (Bonferroni z-test over the steps)", expected=0.0)


def _elastic(cfg, seeds, figs):
    from .. import dynamics as dyn

    L, t, beta, h, r = softmin(10.0, 1), 0.5, 10.0, 2e-3, 1.0
    reps = np.array([1, 4, 16, 64])
    n_steps = int(round(0.3 / (h * r)))
    ns = cfg["el_systems"]

    def trial(s):
        v, m = [], []
        for nr in reps:
            tr = dyn.elastic_sgd(L, np.full((ns, 1), 0.2), n_replicas=int(nr), lr=h, n_steps=n_steps, t=t, beta=beta,
                                 centre="flow", centre_rate=r, rng=s, save_every=n_steps)
            xe = tr.xs[-1, :, 0]
            v.append(float(xe.var(ddof=1)))
            m.append(float(xe.mean()))
        sl, _ = stats.loglog_slope(reps, v)
        lx = np.log(reps)
        se = math.sqrt(2.0 / (ns - 1)) / math.sqrt(float(np.sum((lx - lx.mean()) ** 2)))   # sd of log(sample var)
        figs.setdefault("elastic", (reps, v, v[0] / reps))
        return Trial(pvalue=slope_pvalue(sl, se, -1.0, 10 ** 6), value=sl,
                     text=f"Var {fmt(v, 2)}; slope {fmt(sl)} +- {fmt(se, 2)}; mean {fmt(m, 3)}",
                     data={"var": v, "mean": m})

    return seeded("elastic_replicas", f"variance over {ns} independent systems of the Elastic-SGD centre at flow time 0.3, "
                  f"n = {reps.tolist()} replicas (centre_rate 1, h=2e-3; 1-D soft-min, t=0.5, beta=10)", trial, seeds,
                  reference="the centre sees the mean of n independent replica noises: Var ~ sigma^2 / n (slope -1)",
                  criterion="t-test of the fitted log-log slope against -1 (SE from the chi^2 spread of the variances)",
                  expected=-1.0)


def _fp_vs_langevin(cfg, seeds, figs):
    from solvers.fokker_planck import solve_fokker_planck
    from solvers.grid import Grid

    from .. import dynamics as dyn

    Dw = losses.get("double-well")
    bfp, T1, hfp = 2.0, 1.0, 5e-4
    g = Grid.uniform([(-2.5, 2.5)], 501)
    rho0 = np.exp(-((g.mesh()[..., 0] - 0.5) ** 2) / (2 * 0.1 ** 2))
    times = np.array([0.0, 0.25, 0.5, 1.0])
    fp = solve_fokker_planck(rho0, g, T1, potential=Dw.value, beta=bfp, save_at=times, normalize=True, dt=1e-3)
    edges = np.linspace(-2.5, 2.5, 51)
    fine = np.linspace(-2.5, 2.5, 5001)
    pbs = []
    for k in range(1, len(times)):
        dens = np.interp(fine, g.axes[0], fp.rhos[k])
        cum = np.concatenate([[0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(fine))])
        pbs.append(np.diff(np.interp(edges, fine, cum)))
    Ns = cfg["fp_ns"]
    c2 = 1.0 - 2.0 / math.pi

    def trial(s):
        zs, l1s, exps = [], [], []
        for N in Ns:
            x0 = 0.5 + 0.1 * np.random.default_rng(s).standard_normal((N, 1))
            tr = dyn.sgd(Dw, x0, lr=hfp, n_steps=int(T1 / hfp), beta=bfp, scheme="em", rng=s,
                         save_every=int(0.25 / hfp))
            for k, tk in enumerate(times[1:]):
                i = int(np.argmin(np.abs(tr.ts - tk)))
                hist = np.histogram(tr.xs[i, :, 0], bins=edges)[0] / N
                pb = pbs[k]
                var = pb * (1 - pb) / N
                l1 = float(np.abs(hist - pb).sum())
                e = float(np.sum(np.sqrt(2 * var / math.pi)))
                sd = float(math.sqrt(np.sum(c2 * var)))
                zs.append((l1 - e) / sd)
                l1s.append(l1)
                exps.append(e)
            figs.setdefault("fp", (g.axes[0], fp.rhos, times, tr, edges))
        l1m = np.array(l1s).reshape(len(Ns), -1).max(1)
        sl = stats.loglog_slope(Ns, l1m)[0]
        return Trial(pvalue=bonferroni(z_pvalue(zs)), value=sl,
                     text=f"L1 {fmt(l1m, 2)} (predicted {fmt(np.array(exps).reshape(len(Ns), -1).max(1), 2)}); slope "
                          f"{fmt(sl)}; max|z| {fmt(np.abs(zs).max())}", data={"z": zs})

    return seeded("fp_vs_langevin", f"L1(histogram, FP bin masses) at s = 0.25, 0.5, 1, N = {list(Ns)} Langevin particles "
                  f"(double well, beta=2, EM h=5e-4, 50 bins)", trial, seeds,
                  reference="implicit FP (501 nodes, dt=1e-3); multinomial noise: E L1 = sum sqrt(2 p(1-p)/(pi N)), "
                  "sd^2 = sum (1 - 2/pi) p(1-p)/N (hence slope -1/2)",
                  criterion="z = (L1 - E L1)/sd at every N and time: Bonferroni z-test")


def _wide_sharp(cfg, seeds, figs):
    from solvers.fokker_planck import solve_fokker_planck
    from solvers.grid import Grid

    from .. import dynamics as dyn

    W = losses.get("wide-sharp")
    n = cfg["ws_chains"]
    beta, t, L, n_out, h = 1.0, 1.0, 400, 60, 5e-3
    n_grad = n_out * (L + 1)                       # Entropy-SGD: L inner gradients + none outer (ema=None, rho=0)
    T_lang = n_grad * h
    split = 0.25                                   # wide side of the switch of u(., 1)
    # Langevin at the same temperature and step: Fokker-Planck mass of the wide basin at the same time
    g = Grid.uniform([(-5.0, 5.0)], 2001)
    xg = g.mesh()[..., 0]
    rho0 = np.exp(-((xg - 1.5) ** 2) / (2 * 0.05 ** 2))
    fp = solve_fokker_planck(rho0, g, T_lang, potential=W.value, beta=beta, save_at=[T_lang], normalize=True,
                             dt=T_lang / 2000)
    rho = fp.rhos[-1]
    q_fp = float(rho[xg < split].sum() / rho.sum())
    # the viscous flow of u(., 1) from the sharp well (deterministic): where Entropy-SGD is headed
    xs = np.linspace(-4, 4.5, 1701)[:, None]
    gg = le.local_entropy_grad(W, xs, t, beta)[:, 0]
    xf = 1.5
    for _ in range(3000):
        xf -= 0.01 * float(np.interp(xf, xs[:, 0], gg))

    def trial(s):
        x0 = 1.5 + 0.05 * np.random.default_rng(s).standard_normal((n, 1))
        es = dyn.entropy_sgd(W, x0, t=t, lr=0.5, inner_lr=h, L=L, n_steps=n_out, beta=beta, ema=None, burn_in=100,
                             rng=s)
        lg = dyn.sgd(W, x0, lr=h, n_steps=n_grad, beta=beta, scheme="em", rng=s + 1000)
        fe = float(np.mean(es.x[:, 0] < split))
        fl = float(np.mean(lg.x[:, 0] < split))
        z_l = (fl - q_fp) / math.sqrt(q_fp * (1 - q_fp) / n)
        se_d = math.sqrt(max(fe * (1 - fe) + fl * (1 - fl), 1e-12) / n)
        margin = (fe - fl) / se_d
        p = float(z_pvalue(z_l)) if margin > 3 else 0.0
        return Trial(pvalue=p, value=fe - fl, text=f"wide: Entropy-SGD {fe:.3f}, Langevin {fl:.3f} (z vs FP "
                     f"{fmt(z_l, 2)}); difference {fmt(margin, 2)} SE", data={"fe": fe, "fl": fl})

    return seeded("wide_sharp", f"fraction of {n} chains from the sharp well (x0 ~ 1.5) ending in the wide basin "
                  f"(x < {split}): Entropy-SGD (t=1, L={L}, eta'={h}, {n_out} outer steps) vs Langevin (EM, h={h}) at "
                  f"the same beta=1 and the same {n_grad} gradient evaluations", trial, seeds,
                  reference=f"Langevin: Fokker-Planck wide mass at s = {T_lang:g}: {q_fp:.3f}; Entropy-SGD: the viscous "
                  f"flow of u(., 1) ends at x = {xf:.2f} (wide basin)",
                  criterion="Langevin fraction = FP mass (binomial z-test) and Entropy-SGD fraction above Langevin's "
                  "by > 3 SE", expected=q_fp)


def run(cfg, seeds, figs):
    c = _CFG[cfg["size"]]
    return [_homogenization(c, seeds, figs), _elastic(c, seeds, figs), _fp_vs_langevin(c, seeds, figs),
            _wide_sharp(c, seeds, figs)]
