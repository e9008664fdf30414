r"""The five optimisers of the ``optimisers`` and ``width`` experiments, their settings and the tuning search.

Every method gets the same budget of per-sample gradient evaluations (``epochs`` passes over the training
set in minibatches of :data:`BATCH`; Entropy-SGD's ``L`` inner steps and every replica of Elastic-SGD and
Parle count) and the same tuning budget: :data:`SEARCH` holds eight configurations per method (a grid over
the step size and the coupling), each tried on a validation split with the same seeds
(:mod:`.optimisers`).  Learning rates drop by 10x after 75% of the budget (the authors' step regimes,
compressed), Parle's by ``PARLE_DECAY`` per Parle epoch (its code's per-epoch decay).

``sgd``
    Minibatch SGD with Nesterov momentum 0.9 (the authors' baseline), :func:`._common.sgd_momentum`.
``entropy_sgd``
    Entropy-SGD, ESGD Algorithm 1 (paper-spec §3.1) through :func:`deeprelax.dynamics.entropy_sgd`:
    ``L`` SGLD steps without momentum, noise ``sqrt(2 eta'/beta)`` with ``beta = 2/eps^2``
    (``eps = 1e-3``, the v5 thermal noise), ``mu`` averaged with ``alpha = 0.75`` (``ema = 0.25`` on the
    old value), outer step ``x <- x - eta gamma_k (x - mu)`` with ``eta = 1/gamma_0`` (``x <- mu`` at the
    start, the proximal step of paper-spec §2.1), scoping ``gamma_k = gamma_0 (1 + gamma_1)^k``.
``entropy_sgd_code``
    Entropy-SGD with the authors' code flags (:data:`deeprelax.dynamics.ESGD_CODE`: Nesterov 0.9 in the
    inner loop, EMA 0.75, noise ``eps sqrt(2 eta')`` with ``eps = 1e-4``, outer ``x <- x - eta (x - mu)``
    with ``eta = 1``) and the Lua code's scoping per outer step.
``elastic_sgd``
    Elastic-SGD (EASGD form, :func:`deeprelax.dynamics.elastic_sgd` with ``centre="easgd"``),
    :data:`N_REP` replicas, no momentum.
``parle``
    Parle, the code form (:func:`deeprelax.dynamics.parle` with :data:`deeprelax.dynamics.PARLE_CODE`:
    momentum 0.9, EMA 0.75, ``rho`` normalised by ``L n``, the ``(1 + 0.5/nb)^k`` schedule with caps),
    :data:`N_REP` replicas, ``L = 5``.

Scoping: the scope grows by :data:`SCOPE_GROWTH` over the run (``gamma_1`` set from the number of outer
steps; the authors' MNIST run grows it 10x: ``1e-4 -> 1.04e-3``, paper-spec §3.2).
"""
from __future__ import annotations

import numpy as np

from ._common import sgd_momentum

METHODS = ("sgd", "entropy_sgd", "entropy_sgd_code", "elastic_sgd", "parle")
LABELS = {"sgd": "SGD (Nesterov)", "entropy_sgd": "Entropy-SGD (Alg. 1)", "entropy_sgd_code": "Entropy-SGD (code)",
          "elastic_sgd": "Elastic-SGD", "parle": "Parle"}
COLOURS = {"sgd": "k", "entropy_sgd": "tab:red", "entropy_sgd_code": "tab:orange", "elastic_sgd": "tab:green",
           "parle": "tab:blue"}
BATCH = 32
N_REP = 3
L_INNER = 5
SCOPE_GROWTH = 10.0
PARLE_EPOCHS = 4
PARLE_DECAY = 0.5
DROP_AT = 0.75
DROP = 0.1
ALG1_BETA = 2.0 / 1e-3 ** 2

#: Eight configurations per method (the same tuning budget for all): four step sizes a factor ~3 apart
#: times two couplings (SGD: eight learning rates).
SEARCH = {
    "sgd": [{"lr": a} for a in (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)],
    "entropy_sgd": [{"inner_lr": a, "gamma": g} for g in (0.03, 0.3) for a in (0.03, 0.1, 0.3, 1.0)],
    "entropy_sgd_code": [{"inner_lr": a, "gamma": g} for g in (0.03, 0.3) for a in (0.01, 0.03, 0.1, 0.3)],
    "elastic_sgd": [{"lr": a, "coupling": c} for c in (0.03, 0.1) for a in (0.1, 0.3, 1.0, 3.0)],
    "parle": [{"lr": a, "gamma": g} for g in (0.01, 0.1) for a in (0.01, 0.03, 0.1, 0.3)],
}


def check_method(method):
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    return method


def minibatches(model, epochs) -> int:
    """Minibatch gradients (of :data:`BATCH` samples) in a budget of ``epochs`` passes over the data."""
    return max(1, int(round(epochs * model.n_samples / BATCH)))


def _drop(n):
    """Step-size factors per step: 1, then :data:`DROP` after :data:`DROP_AT` of the ``n`` steps."""
    return np.where(np.arange(n) < DROP_AT * n, 1.0, DROP)


def train(model, method, cfg, x0, epochs, seed, n_saves=12):
    """Run ``method`` with settings ``cfg`` (one of :data:`SEARCH`) for a budget of ``epochs``.

    Returns
    -------
    xs : ndarray (n_rec, d)
        Iterates (the centre for Elastic-SGD and Parle, ``x`` for Entropy-SGD) at about ``n_saves``
        points and the end.
    epochs : ndarray (n_rec,)
        Per-sample gradient evaluations so far / ``n_samples`` (all inner steps and replicas counted).
    wall : ndarray (n_rec,)
        Wall time so far (s; the run's wall time spread evenly over its steps, compile time excluded).
    """
    from .. import dynamics as D

    check_method(method)
    n_mb = minibatches(model, epochs)
    if method == "sgd":
        lrs = cfg["lr"] * _drop(n_mb)
        tr = sgd_momentum(model, x0, lr=lambda k: lrs[k], n_steps=n_mb, batch=BATCH, momentum=0.9, seed=seed,
                          record_every=max(1, n_mb // n_saves))
        return tr["xs"], tr["epochs"], tr["wall"] * tr["steps"] / max(tr["steps"][-1], 1)
    if method in ("entropy_sgd", "entropy_sgd_code"):
        n = max(1, n_mb // L_INNER)
        g0 = float(cfg["gamma"])
        g1 = SCOPE_GROWTH ** (1.0 / max(n - 1, 1)) - 1.0
        if method == "entropy_sgd":
            kw = dict(lr=_drop(n) / g0, ema=0.25, noise="dr", beta=ALG1_BETA, outer="dr")
        else:
            kw = dict(D.ESGD_CODE, lr=_drop(n))
        kw["inner_lr"] = float(cfg["inner_lr"])
        traj = D.entropy_sgd(model, x0, t=1.0 / g0, scoping=g1, L=L_INNER, n_steps=n, batch=BATCH, rng=seed,
                             save_every=max(1, n // n_saves), **kw)
        per = L_INNER
    elif method == "elastic_sgd":
        n = max(1, n_mb // N_REP)
        traj = D.elastic_sgd(model, x0, n_replicas=N_REP, lr=cfg["lr"] * _drop(n), coupling=cfg["coupling"],
                             centre="easgd", n_steps=n, batch=BATCH, rng=seed, save_every=max(1, n // n_saves))
        per = N_REP
    else:
        nb = max(1, n_mb // (N_REP * L_INNER * PARLE_EPOCHS))
        kw = dict(D.PARLE_CODE, L=L_INNER, lr=cfg["lr"], gamma=cfg["gamma"], lr_decay=PARLE_DECAY)
        traj = D.parle(model, x0, n_replicas=N_REP, nb=nb, n_epochs=PARLE_EPOCHS, batch=BATCH, rng=seed,
                       save_every=max(1, nb * PARLE_EPOCHS // n_saves), **kw)
        per = N_REP * L_INNER
    steps = np.asarray(traj.steps, dtype=float)
    ep = steps * per * BATCH / model.n_samples
    wall = traj.wall_time * steps / max(steps[-1], 1.0)
    return traj.xs[:, 0, :], ep, wall


def describe(method, cfg) -> str:
    """Short text of a configuration."""
    return ", ".join(f"{k} {v:g}" for k, v in cfg.items())
