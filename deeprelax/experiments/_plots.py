"""Figures of the experiments (matplotlib, Agg); each function writes one PNG and returns its path."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers.views import save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = Path(path)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    _plt().close(fig)
    return path


def plot_hessian_spectrum(pts, res, Cs, path):
    plt = _plt()
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    cols = plt.cm.viridis(np.linspace(0, 0.9, len(Cs)))
    for C, col in zip(Cs, cols):
        rr = [r for p, r in zip(pts, res) if p["n_classes"] == C]
        lam = rr[0]["eigenvalues"]
        ax[0].hist(lam / lam[-1], bins=120, range=(-0.05, 1.0), histtype="step", color=col, log=True,
                   label=f"C={C} (d={lam.size})")
        for j, r in enumerate(rr):
            top = np.sort(r["eigenvalues"])[::-1][:3 * C + 5]
            ax[1].semilogy(np.arange(1, top.size + 1), np.maximum(top, 1e-8), ".-", color=col, alpha=0.7,
                           label=f"C={C}" if j == 0 else None)
    ax[0].set(xlabel="λ / λ_max", ylabel="count (log)", title="Hessian spectrum at the end of training")
    ax[0].legend(fontsize=8)
    ax[1].set(xlabel="rank k", ylabel="λ_k", title="top eigenvalues (one line per seed)")
    ax[1].legend(fontsize=8)
    m = [np.mean([r["n_outliers"] for p, r in zip(pts, res) if p["n_classes"] == C]) for C in Cs]
    s = [np.std([r["n_outliers"] for p, r in zip(pts, res) if p["n_classes"] == C]) for C in Cs]
    ax[2].errorbar(Cs, m, yerr=s, fmt="o-", capsize=3, label="outliers (largest gap)")
    ax[2].plot(Cs, Cs, "k--", lw=0.8, label="= C")
    ax[2].plot(Cs, np.array(Cs) - 1, "k:", lw=0.8, label="= C - 1")
    ax[2].set(xlabel="number of classes C", ylabel="outliers", title="outliers vs classes (mean ± sd over seeds)")
    ax[2].legend(fontsize=8)
    return _save(fig, path)


def plot_sgd_noise(res, path):
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for key, col, lab in (("init", "tab:blue", "initialisation"), ("end", "tab:red", "end of training")):
        for j, r in enumerate(res):
            lam = np.sort(r[f"eig_{key}"])[::-1]
            lam = lam / lam[0]
            ax[0].loglog(np.arange(1, lam.size + 1), np.maximum(lam, 1e-18), color=col, alpha=0.6,
                         label=lab if j == 0 else None)
            thr = r[f"threshold_{key}"] / r[f"eig_{key}"].max()
            if j == 0:
                ax[0].axhline(thr, color=col, ls=":", lw=0.8)
        ax[1].hist(np.concatenate([r[f"eig_{key}"] / r[f"eig_{key}"].max() for r in res]), bins=100,
                   histtype="step", color=col, log=True, label=lab)
    ax[0].set(xlabel="rank k", ylabel="λ_k(D) / λ_max", title="diffusion matrix D(x) spectrum (dotted: rank threshold)")
    ax[0].legend(fontsize=8)
    ax[1].set(xlabel="λ(D) / λ_max", ylabel="count (log)", title="eigenvalue histogram (all seeds)")
    ax[1].legend(fontsize=8)
    return _save(fig, path)


def plot_eta_over_s(grid_rows, sched, stat, path):
    plt = _plt()
    fig, ax = plt.subplots(1, 4, figsize=(18, 4))
    batches = sorted({r["batch"] for r in grid_rows})
    marks = dict(zip(batches, "osD^v<>"))
    for key, a, lab in (("lambda_max", ax[0], "λ_max(H) at the end"), ("test_error", ax[1], "test error")):
        for b in batches:
            rr = sorted([r for r in grid_rows if r["batch"] == b], key=lambda r: r["ratio"])
            a.errorbar([r["ratio"] for r in rr], [r[key][0] for r in rr], yerr=[r[key][1] for r in rr],
                       marker=marks[b], capsize=3, label=f"S={b}")
        a.set_xscale("log")
        a.set(xlabel="η / S", ylabel=lab, title=f"{lab} vs η/S")
        a.legend(fontsize=8)
    for name, col in (("decay", "tab:blue"), ("batch", "tab:red")):
        if name in sched:
            e, m, s = sched[name]["epochs"], sched[name]["test_mean"], sched[name]["test_se"]
            ax[2].plot(e, m, color=col, label={"decay": "η ÷ 4 at half time", "batch": "S × 4 at half time"}[name])
            ax[2].fill_between(e, m - s, m + s, color=col, alpha=0.2)
    ax[2].set(xlabel="epochs", ylabel="test error", title="lr decay vs equivalent batch increase", yscale="log")
    ax[2].legend(fontsize=8)
    if stat:
        x = np.arange(len(stat))
        ax[3].errorbar(x, [s["measured"] for s in stat], yerr=[2 * s["measured_se"] for s in stat], fmt="ko",
                       capsize=3, label="measured E[L] - L* (±2 s.e.)")
        ax[3].plot(x, [s["pred_trH"] for s in stat], "bs", mfc="none", label="η/(4S) Tr H")
        ax[3].plot(x, [s["pred_trC"] for s in stat], "g^", mfc="none", label="η/(4S) Tr C")
        ax[3].plot(x, [s["pred_exact"] for s in stat], "r+", ms=10, label="exact discrete quadratic, same window")
        ax[3].set_xticks(x, [f"η={s['lr']:g}\nS={s['batch']}" for s in stat], fontsize=8)
        ax[3].set_yscale("log")
        ax[3].set(ylabel="stationary loss excess", title="near a minimum")
        # below the panel, outside it: inside, any corner hides a point of some run
        ax[3].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return _save(fig, path)


def plot_optimisers(curves, path):
    from ._methods import COLOURS

    plt = _plt()
    probs = list(dict.fromkeys(c["problem"] for c in curves))
    fig, ax = plt.subplots(len(probs), 3, figsize=(16, 4 * len(probs)), squeeze=False)
    for i, pr in enumerate(probs):
        for c in (c for c in curves if c["problem"] == pr):
            col = COLOURS.get(c["optimiser"])
            for j, (key, xk) in enumerate((("train", "epochs"), ("test", "epochs"), ("test", "wall"))):
                x, m, s = c[xk], c[f"{key}_mean"], c[f"{key}_se"]
                ax[i, j].plot(x, m, color=col, label=c.get("label", c["optimiser"]), marker=".", ms=3)
                ax[i, j].fill_between(x, np.maximum(m - s, 0.0), m + s, color=col, alpha=0.15)
        n = curves[0].get("n_seeds", "")
        cc = [c for c in curves if c["problem"] == pr]
        # test error: the range where the methods differ (the first point, near chance, lies above it)
        lo = 0.8 * min(float(np.min(c["test_mean"] - c["test_se"])) for c in cc)
        hi = 2.5 * max(float(c["test_mean"][-1]) for c in cc)
        for j, (key, xl) in enumerate((("train error", "gradient evaluations (effective epochs)"),
                                       ("test error", "gradient evaluations (effective epochs)"),
                                       ("test error", "wall time (s, median over seeds)"))):
            ax[i, j].set(xlabel=xl, ylabel=key, title=f"{pr}: {key} (mean ± s.e., {n} seeds)")
            if j == 0:   # train errors reach 0: linear below 1e-3, log above
                ax[i, j].set_yscale("symlog", linthresh=1e-3, linscale=0.5)
                ax[i, j].set_ylim(0, 1)
            else:
                ax[i, j].set_yscale("log")
                ax[i, j].set_ylim(lo, hi)
            ax[i, j].grid(alpha=0.3, which="both")
        ax[i, 0].legend(fontsize=8)
    return _save(fig, path)


def plot_width(rows, path):
    from ._methods import COLOURS

    plt = _plt()
    probs = list(dict.fromkeys(r["problem"] for r in rows))
    fig, ax = plt.subplots(len(probs), 4, figsize=(19, 4.2 * len(probs)), squeeze=False)
    for i, pr in enumerate(probs):
        rr = [r for r in rows if r["problem"] == pr]
        x = np.arange(len(rr))
        cols = [COLOURS.get(r["optimiser"]) for r in rr]
        for a, key, lab in ((ax[i, 0], "lambda_max", "λ_max(H), Lanczos"), (ax[i, 1], "trace", "Tr H"),
                            (ax[i, 2], "frac_near0", "fraction |λ| ≤ 1e-2 λ_max")):
            for k, r in enumerate(rr):
                a.errorbar(k, r[key][0], yerr=r[key][1], fmt="o", color=cols[k], capsize=4, ms=7)
            a.set_xticks(x, [r["label"].replace(" (", "\n(") for r in rr], fontsize=8)
            a.set(ylabel=lab, title=f"{pr}: {lab}")
            a.grid(alpha=0.3, axis="y")
        a = ax[i, 3]
        ts = np.asarray(rr[0]["ts"])
        for k, r in enumerate(rr):
            off = ts * (1 + 0.04 * (k - 2))
            a.errorbar(off, r["u_excess"][0] / ts, yerr=r["u_excess"][1] / ts, fmt="o-", color=cols[k], capsize=3,
                       label=r["label"])
            a.plot(ts, r["u_laplace"][0] / ts, ls=":", color=cols[k], lw=1.2)
        a.set_xscale("log")
        a.set(xlabel="t (DR time)", ylabel="(u(x, t) - f(x)) / t",
              title=f"{pr}: local entropy at β = P\n(dotted: quadratic Taylor model)")
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=7)
    fig.suptitle(f"Width of the endpoints (mean ± s.e. over {rows[0]['n_seeds']} seeds)", fontsize=11)
    return _save(fig, path)
