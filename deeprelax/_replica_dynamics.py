"""Elastic-SGD and Parle: replicas coupled to a centre (the public names are ``deeprelax.dynamics.elastic_sgd``
and ``deeprelax.dynamics.parle``; paper-spec §2.8, §3.4).  The shared conventions, helpers and the
:class:`~deeprelax.dynamics.Trajectory` result are those of :mod:`deeprelax.dynamics`.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.errors import check_count, check_positive

from solvers._driver import Observers
from solvers.jit import use_parallel

from ._dyn_common import (Trajectory, _backend, _batch, _beta, _check_memory, _check_status, _finish, _in_pieces,
                          _kernels, _loss, _master_key, _run, _sched, _seed, _slots, _stopped, _x0)

# ----------------------------------------------------------------------------- Elastic-SGD
_CENTRE = {"flow": 0, "easgd": 1, "average": 2}


def elastic_sgd(loss, x0, *, n_replicas, lr, n_steps, t=None, coupling=None, beta=np.inf, centre="flow",
                centre_rate=1.0, rng=None, save_every=None, batch=None, replace=True, n_chains=None,
                parallel=None, backend="cpu", raise_on_failure=True, callback=None, callback_every=None) -> Trajectory:
    r"""Elastic-SGD: ``n_replicas`` replicas coupled to a centre (paper-spec §2.8, §3.4).

    With coupling ``c = 1/t`` (give ``t`` or ``coupling``), step ``h = lr`` and old replica mean ``ybar``:

    .. math::

        y^a \leftarrow y^a - h\,[g(y^a) + c\,(y^a - \bar x)] + \sqrt{2h/\beta}\,\xi^a,

    and the centre ``centre="flow"``: :math:`\bar x \leftarrow \bar x + r h c (\bar y - \bar x)` (EM of the
    §2.8 SDE with the centre slowed by ``r = centre_rate``); ``"easgd"``: ``x_bar += r h c sum_a (y^a - x_bar)``;
    ``"average"``: ``x_bar = mean of the new y^a`` (``r`` unused).

    The centre follows the gradient flow of ``u(., t)`` in the flow time ``ts = r sum h`` when the replicas
    are fast compared with it (``r -> 0``, time-scale separation) and the ensemble mean of the replicas
    is close to the Gibbs mean ``<y>`` (``n_replicas`` large).  With ``r = 1`` there is no separation:
    for ``f = a x^2/2`` the centre then decays at rate ``(a + 2c - sqrt(a^2 + 4c^2))/2`` instead of
    ``a c/(a + c)`` (about half of it for ``c >> a``).
    All replicas start at the centre ``x0``.  ``xs`` holds the centre, ``replicas`` the final ``y^a``.
    ``n_chains`` independent systems run at once.  CPU only: ``backend="cuda"`` raises a ValueError,
    ``"auto"`` runs on the CPU.

    ``callback(t, x_bar)`` (``t`` the flow time ``ts``, ``x_bar`` the centres ``(n_chains, d)``) and
    ``callback_every`` as :func:`~deeprelax.dynamics.sgd`: the replicas and centres carry from piece to
    piece, so the run is bit-identical to one call; a stop after step ``k`` returns the centres and
    ``replicas`` of an ``n_steps=k`` run (``xs`` up to the last saved step), status ``"stopped_by_callback"``.

    Returns
    -------
    Trajectory (``replicas`` shape (n_chains, n_replicas, d); ``schedule = {"h"}``)
    """
    loss, kl = _loss(loss, x0)
    kind, params = kl.kind, kl.params
    n_steps = check_count("n_steps", n_steps, minimum=1)
    n_rep = check_count("n_replicas", n_replicas, minimum=1)
    if (t is None) == (coupling is None):
        raise ValueError("give exactly one of `t` (DR time) and `coupling` (= 1/t).")
    coup = 1.0 / check_positive("t", t) if t is not None else check_positive("coupling", coupling)
    X0 = _x0(loss, x0, n_chains)
    nc, d = X0.shape
    _check_memory("elastic_sgd", n_steps, save_every, nc, d, n_rep=n_rep)
    be = _backend(backend, nc, kl, "elastic_sgd", supported=False)
    h = _sched("lr", lr, n_steps)
    beta = _beta(beta)
    sigs = np.zeros(n_steps) if math.isinf(beta) else np.sqrt(2.0 * h / beta)
    if centre not in _CENTRE:
        raise ValueError(f"`centre` must be one of {sorted(_CENTRE)}; got {centre!r}.")
    crate = check_positive("centre_rate", centre_rate)
    b, rep = _batch(kl, loss, batch, replace)
    key = _master_key(rng) if (not math.isinf(beta) or b > 0 or rng is not None) else 0
    slot, saved = _slots(n_steps, save_every)
    ns = saved.size
    master = np.uint64(key)
    cm = _CENTRE[centre]

    tsum = np.concatenate([[0.0], np.cumsum(h * (1.0 if cm == 2 else crate))])
    # the state, carried in place from piece to piece: centres, replicas (all start at x0), failures
    xs, xf, status = np.zeros((ns, nc, d)), X0.copy(), np.full(nc, -1, np.int64)
    reps = np.repeat(X0[:, None, :], n_rep, axis=1)        # a new writable array (also for n_rep = 1)
    KK = _kernels(kl)
    par0 = parallel if parallel is not None else (nc > 1 and use_parallel(nc * n_steps * n_rep))

    def piece(n0, n1):
        def make(n):
            return (kind, params, n_rep, h, coup, crate, sigs, cm, master, b, rep, slot, xs[:, :n], reps[:n],
                    xf[:n], status[:n], n0, n1)
        return _run(KK._elastic_ser, KK._elastic_par, make, nc, nc * (n1 - n0) * n_rep, par0, kl)[1:]

    wall, comp, par, n_done = _in_pieces(Observers(callback, callback_every), n_steps, saved, tsum, piece,
                                         lambda: xf.copy())
    outcome = _stopped("elastic_sgd", _check_status(status, "elastic_sgd"), n_done, n_steps, tsum[n_done])
    if n_done < n_steps:
        keep = int((saved <= n_done).sum())
        saved, xs = saved[:keep], xs[:keep]
    ts = tsum[saved]
    prm = {"n_replicas": n_rep, "centre_rate": crate, "coupling": coup, "t": 1.0 / coup,
           "lr": float(h[0]) if np.ptp(h) == 0 else h,
           "n_steps": n_steps, "beta": beta, "centre": centre, "batch": batch, "replace": rep, "n_chains": nc,
           "save_every": save_every, "parallel": par, "loss": repr(loss), "loss_path": kl.path, "backend": be}
    return _finish(Trajectory(xs=xs, steps=saved, ts=ts, x=xf, algorithm="elastic_sgd",
                              replicas=reps, schedule={"h": h}, params=prm, seed=_seed(key), wall_time=wall,
                              compile_time=comp), outcome, raise_on_failure)


# ----------------------------------------------------------------------------- Parle
def parle(loss, x0, *, n_replicas, nb, n_epochs, L=25, lr=0.1, gamma=0.01, rho=0.01, momentum=0.9, ema=0.75,
          normalize_rho=True, schedule=True, gamma_cap=1.0, rho_cap=10.0, lr_decay=0.1, beta=np.inf, rng=None,
          save_every=None, batch=None, replace=True, n_chains=None, parallel=None, backend="cpu",
          raise_on_failure=True, callback=None, callback_every=None) -> Trajectory:
    r"""Parle, code form of the reference implementation (paper-spec §3.5), for ``n_replicas`` replicas.

    ``gamma`` and ``rho`` are coupling *strengths* (ESGD-like).  With ``normalize_rho`` the code's
    ``rho <- rho L n``.  Minibatch counter ``t`` (one per inner step), ``k = t // L``:
    ``g_k = min(gamma (1 + 0.5/nb)^k, gamma_cap)``, ``r_k = min(rho (1 + 0.5/nb)^k, rho_cap)``
    (``schedule=False``: constant, uncapped).  Each of the ``nb`` syncs per epoch follows ``L`` inner steps

    * inner: ``d = g(y^a) + g_k (y^a - x^a)``; ``m_y = mom m_y + d; d = d + m_y`` (the code's
      "d + buffer" momentum; ``momentum=0`` turns it off); ``y^a -= lr d`` (plus ``sqrt(2 lr/beta) xi``
      if ``beta < inf``, not in the code); ``z^a = ema z^a + (1 - ema) y^a``;
    * sync: ``x_bar = mean z^a``; ``d = (x^a - z^a) + r_k (x^a - x_bar)``; momentum ``m_x``;
      ``y^a -= lr d``; ``x^a = y^a`` (applied to the current ``y``, as the code does); ``x_bar = mean x^a``.

    ``lr`` is multiplied by ``lr_decay`` after every epoch (code: 0.1; ``lr_decay=1`` keeps it).
    :data:`PARLE_CODE` holds the code defaults.  CPU only: ``backend="cuda"`` raises a ValueError, ``"auto"``
    runs on the CPU.

    Parameters
    ----------
    nb : int
        Syncs per epoch (the code's minibatches per epoch; an epoch is ``nb L`` minibatches).
    n_epochs : int
    callback, callback_every : as :func:`~deeprelax.dynamics.sgd`, counted in syncs: ``callback(t, x_bar)``
        with ``t`` the sync count and ``x_bar`` the centres ``(n_chains, d)``.  Every replica's ``x^a``,
        ``y^a``, ``z^a`` and momenta, and the sync counter that drives the ``gamma``/``rho``/``lr``
        schedules, carry from piece to piece: the run is bit-identical to one call.  A stop after sync
        ``k`` returns the centres and replicas there (``schedule["gamma"]``/``["rho"]`` of the ``k`` syncs
        taken), status ``"stopped_by_callback"``.
    Others as above and as :func:`sgd`.

    Returns
    -------
    Trajectory: ``xs`` = ``x_bar`` after each sync (``steps`` = sync index), ``replicas`` = final ``x^a``,
    ``schedule = {"gamma", "rho"`` (per sync) ``, "lr"`` (per epoch) ``}``.
    """
    loss, kl = _loss(loss, x0)
    kind, params = kl.kind, kl.params
    n_rep = check_count("n_replicas", n_replicas, minimum=1)
    nb = check_count("nb", nb, minimum=1)
    n_epochs = check_count("n_epochs", n_epochs, minimum=1)
    L = check_count("L", L, minimum=1)
    X0 = _x0(loss, x0, n_chains)
    nc, d = X0.shape
    _check_memory("parle", n_epochs * nb, save_every, nc, d, n_rep=5 * n_rep, steps_arg="n_epochs")
    be = _backend(backend, nc, kl, "parle", supported=False)
    lr0 = check_positive("lr", lr)
    lr_decay = check_positive("lr_decay", lr_decay)
    lrs = lr0 * lr_decay ** np.arange(n_epochs, dtype=np.float64)
    g0 = float(gamma)
    r0 = float(rho)
    for nm, v in (("gamma", g0), ("rho", r0)):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"`{nm}` must be finite and non-negative ({nm} >= 0); got {v!r}.")
    if normalize_rho:
        r0 = r0 * L * n_rep
    if schedule:
        growth = 1.0 + 0.5 / nb
        gcap = check_positive("gamma_cap", gamma_cap, allow_inf=True)
        rcap = check_positive("rho_cap", rho_cap, allow_inf=True)
    else:
        growth, gcap, rcap = 1.0, np.inf, np.inf
    mom = float(momentum)
    if not (0.0 <= mom < 1.0):
        raise ValueError(f"`momentum` must be in [0, 1); got {momentum!r}.")
    ema = float(ema)
    if not (0.0 <= ema < 1.0):
        raise ValueError(f"`ema` must be in [0, 1); got {ema!r}.")
    beta = _beta(beta)
    sfac = 0.0 if math.isinf(beta) else math.sqrt(2.0 / beta)
    b, rep = _batch(kl, loss, batch, replace)
    key = _master_key(rng) if (sfac > 0 or b > 0 or rng is not None) else 0
    n_sync = n_epochs * nb
    slot, saved = _slots(n_sync, save_every)
    ns = saved.size
    master = np.uint64(key)
    gam = np.zeros(n_sync)
    rhs = np.zeros(n_sync)

    # the state, carried in place from piece to piece: x^a, y^a, z^a (all start at x0), the momenta m_y, m_x,
    # the centres and the failures
    XR, YR, ZR = (np.repeat(X0[:, None, :], n_rep, axis=1) for _ in range(3))
    MYR, MXR = np.zeros((nc, n_rep, d)), np.zeros((nc, n_rep, d))
    xs, xf, status = np.zeros((ns, nc, d)), X0.copy(), np.full(nc, -1, np.int64)
    KK = _kernels(kl)
    par0 = parallel if parallel is not None else (nc > 1 and use_parallel(nc * n_sync * L * n_rep))

    def piece(s0, s1):
        def make(n):
            return (kind, params, n_rep, L, nb, lrs, g0, r0, growth, gcap, rcap, mom, ema, sfac, master, b, rep,
                    slot, xs[:, :n], XR[:n], YR[:n], ZR[:n], MYR[:n], MXR[:n], gam, rhs, xf[:n], status[:n], s0, s1)
        return _run(KK._parle_ser, KK._parle_par, make, nc, nc * (s1 - s0) * L * n_rep, par0, kl)[1:]

    tsum = np.arange(n_sync + 1, dtype=np.float64)
    wall, comp, par, n_done = _in_pieces(Observers(callback, callback_every), n_sync, saved, tsum, piece,
                                         lambda: xf.copy())
    outcome = _stopped("parle", _check_status(status, "parle", "sync"), n_done, n_sync, tsum[n_done], "sync")
    if n_done < n_sync:
        keep = int((saved <= n_done).sum())
        saved, xs, gam, rhs = saved[:keep], xs[:keep], gam[:n_done], rhs[:n_done]
    prm = {"n_replicas": n_rep, "nb": nb, "n_epochs": n_epochs, "L": L, "lr": lr0, "gamma": g0, "rho": float(rho),
           "rho_normalized": r0, "momentum": mom, "ema": ema, "normalize_rho": bool(normalize_rho),
           "schedule": bool(schedule), "gamma_cap": float(gcap), "rho_cap": float(rcap), "lr_decay": lr_decay,
           "beta": beta, "batch": batch, "replace": rep, "n_chains": nc, "save_every": save_every,
           "parallel": par, "loss": repr(loss), "loss_path": kl.path, "backend": be}
    return _finish(Trajectory(xs=xs, steps=saved, ts=saved.astype(np.float64), x=xf, algorithm="parle",
                              replicas=XR, schedule={"gamma": gam, "rho": rhs, "lr": lrs}, params=prm,
                              seed=_seed(key), wall_time=wall, compile_time=comp), outcome, raise_on_failure)
