"""Entropy-SGD and HJ-prox (paper-spec §2.6, §3.2): an outer step along the local-entropy gradient
``(x - mu)/t``, ``mu`` the mean of an inner SGLD loop on the local measure; public as
:func:`deeprelax.dynamics.entropy_sgd` / :func:`deeprelax.dynamics.hj_prox` (conventions there)."""
from __future__ import annotations

import math

import numpy as np

from solvers._driver import Observers
from solvers.jit import use_parallel
from solvers.errors import check_count, check_positive

from . import _dyn_kernels as K
from ._dyn_common import (Trajectory, _backend, _batch, _beta, _check_memory, _check_observers, _check_status,
                          _finish, _in_pieces, _kernels, _loss, _master_key, _run, _sched, _seed, _slots, _stopped,
                          _x0)


# ----------------------------------------------------------------------------- Entropy-SGD
_OUTER = {"dr": 0, "code": 1, "prox-grad": 2}


def entropy_sgd(loss, x0, *, t, lr=None, inner_lr=None, L=None, n_steps=None, beta=None, scoping=0.0, ema=0.75, burn_in=0,
                nesterov=False, momentum=0.9, noise="dr", epsilon=1e-4, outer="dr", rho=0.0, rng=None,
                save_every=None, batch=None, replace=True, n_chains=None, parallel=None,
                backend="cpu", raise_on_failure=True, callback=None, callback_every=None) -> Trajectory:
    r"""Entropy-SGD (ESGD Algorithm 1; paper-spec §3.1-3.2), in the DR convention by default.

    For outer step ``k`` (``t_k = t (1 + scoping)^{-k}``, i.e. scope ``gamma_E = (1/t)(1+scoping)^k``):

    1. ``y <- x; mu <- x``; ``L`` inner SGLD steps on ``f(y) + |y - x|^2/(2 t_k)``:
       :math:`y \leftarrow y - \eta'\,(g(y) + (y - x)/t_k) + \sigma\xi`, with
       ``sigma = sqrt(2 eta'/beta)`` (``noise="dr"``, samples ``rho_t`` of paper-spec §2.6 and
       validates against the viscous PDE) or ``sigma = epsilon sqrt(2 eta')`` (``noise="code"``,
       the reference code).  ``nesterov=True`` applies the code's inner momentum to ``g`` only:
       ``m <- momentum m + g; g <- g + momentum m``.  Its fixed point is the prox of
       ``f/(1 - momentum)``, not of ``f``: with momentum the inner loop samples the DR measure at
       ``t_eff = t_k/(1 - momentum)`` and ``beta_eff = beta/(1 - momentum)`` (``noise="code"``:
       ``beta_eff = 1/((1 - momentum) epsilon^2)``, 10x the plain ``1/epsilon^2`` for the code's 0.9);
       see :mod:`deeprelax.scope` (:func:`~deeprelax.scope.scope_to_time`,
       :func:`~deeprelax.scope.noise_to_beta` with ``momentum=``).  ``params["beta_eff"]`` and
       ``params["t_eff"]`` record the effective values (of the first outer step).
    2. ``mu``: EMA ``mu <- ema mu + (1 - ema) y``: ``ema`` is the weight of the OLD value (0.75 in the
       code, 0 = last iterate), whereas Algorithm 1's ``alpha`` in ``mu <- (1 - alpha) mu + alpha y``
       weights the NEW sample (``ema = 1 - alpha``); or ``ema=None``: the plain running mean of the
       inner iterates after ``burn_in`` discarded steps (unbiased ``<y>`` estimate up to the O(eta')
       step bias).
    3. Outer step: ``outer="dr"``: :math:`x \leftarrow x - \eta\,(x - \mu)/t_k` (gradient descent on
       ``u(., t_k)``, since ``grad u = (x - <y>)/t``); ``outer="code"``: ``x <- x - eta (x - mu)``
       (the Lua code and ESGD v5); ``outer="prox-grad"``: ``x <- x - eta grad f(mu)``.
       ``rho > 0`` adds ``eta rho g(x)`` (ESGD v1 data term; not with ``"prox-grad"``).

    :data:`ESGD_CODE` holds the flags that reproduce the reference code (EMA 0.75, Nesterov 0.9,
    epsilon noise, ``outer="code"``, ``inner_lr=0.1``); ``scoping`` per outer step is the Lua
    behaviour, ``scoping=0`` the PyTorch port (which never increments its counter).  With these
    flags the scope ``gamma_E = 1/t`` maps to the DR time ``10 t`` and ``epsilon`` to
    ``beta = 10/epsilon^2`` (momentum factor, step 1).

    Parameters
    ----------
    loss : a loss, an object with ``dim`` and ``grad``, or a function ``f(x)`` (module docstring)
    x0 : array, shape (d,) or (n_chains, d)
    t : float > 0
        DR time ``t_0`` (``= 1/gamma_0``).
    lr : float, callable or array (n_steps,), default ``t/2``
        Outer ``eta`` per outer step.
    inner_lr : float, callable or array (n_steps,), default ``0.1 / (max f'' + 1/t)``
        ``eta'`` per outer step.
    L : int >= 1, default ``ceil(tau / inner_lr)``
        Inner steps per outer step (``tau``: relaxation time of the local measure).
    n_steps : int, default 40
        Outer steps.
        The defaults are :func:`deeprelax.tuning.suggest_params` (``dr.dynamics.suggest_params``).
    beta : float in (0, inf], required for ``noise="dr"``; must be None for ``noise="code"``.
    scoping : float >= 0
        ``gamma_1``.
    ema, burn_in, nesterov, momentum, noise, epsilon, outer, rho : see above.
    rng, save_every, batch, replace, n_chains, parallel, backend : as :func:`sgd` (``backend="cuda"``:
        one thread per chain runs the inner SGLD loop, the EMA and the outer step; analytic losses only).
    callback, callback_every : as :func:`sgd`, counted in outer steps: ``callback(t, x)`` with ``t`` the
        flow time ``ts`` and ``x`` the outer iterates ``(n_chains, d)``.  An outer step carries only ``x``
        to the next (the inner loop restarts from it), so the run in pieces is bit-identical to one call;
        a stop after outer step ``k`` returns ``x``, ``xs`` and ``mus`` as far as an ``n_steps=k`` run
        (whose last ``mus`` row, where no step was taken, is NaN).  CPU backend only.

    Returns
    -------
    Trajectory with ``mus`` and ``schedule = {"t": t_k, "lr", "inner_lr", "sigma"}`` (shape (n_steps,)).

    Tuning
    ------
    ``print(dr.dynamics.suggest_params(loss, t, beta))`` gives the defaults and why.  What fails when
    they are ignored: an ``inner_lr`` above ``2 / (max f'' + 1/t)`` makes the inner loop unstable (it
    may still "escape" a narrow well by blowing up); ``L * inner_lr`` far below the relaxation time of
    ``rho(.|x)`` leaves ``mu ~ x`` and ``grad u ~ 0``, so nothing moves (``wide-sharp`` from its narrow
    well, ``t = beta = 1``: ``lr=0.2``, 200 steps, ``inner_lr=1e-3``, ``L=20`` moves 0 of 256 chains; the
    defaults move 97-99 %); ``lr`` above ``2t`` overshoots (``u'' <= 1/t``).  When the local measure is
    multimodal at large ``beta``, the needed ``L`` grows like ``exp(beta Delta)`` (barrier ``Delta``):
    compare ``local_entropy_grad(..., method="sgld")`` with ``method="quadrature"`` at a few points first.
    The homogenization check of ``deeprelax validate`` shows Entropy-SGD following the flow of
    ``u(., t)`` once ``L`` covers that relaxation.
    """
    from .tuning import fill_defaults

    observers = Observers(callback, callback_every)
    lr, inner_lr, L, n_steps = fill_defaults(loss, x0, t, beta, noise, epsilon, lr, inner_lr, L, n_steps)
    return _esgd("entropy_sgd", loss, x0, t, lr, inner_lr, L, n_steps, beta, scoping, ema, burn_in, nesterov,
                 momentum, noise, epsilon, outer, rho, rng, save_every, batch, replace, n_chains, parallel, backend,
                 raise_on_failure, observers)


def hj_prox(loss, x0, *, t, lr, inner_lr, L, n_steps, scoping=0.0, ema=0.0, outer="dr", rng=None,
            save_every=None, batch=None, replace=True, n_chains=None, parallel=None, backend="cpu",
            raise_on_failure=True, callback=None, callback_every=None) -> Trajectory:
    r"""The non-viscous (beta = inf) HJ / proximal algorithm of DR (paper-spec §3.3).

    ``L`` gradient steps on the prox problem ``y <- y - eta' (g(y) + (y - x)/t_k)`` from ``y = x``, then
    ``x <- x - eta (x - mu)/t_k`` (``outer="dr"``, ``grad u = (x - prox)/t``) or ``x <- x - eta grad f(mu)``
    (``outer="prox-grad"``); ``mu`` is the last inner iterate (``ema=0``) or an EMA of them.  It is
    :func:`entropy_sgd` without noise.  ``rng`` is needed only for minibatches.  ``backend`` as :func:`sgd`;
    ``callback``, ``callback_every`` as :func:`entropy_sgd`.
    """
    return _esgd("hj_prox", loss, x0, t, lr, inner_lr, L, n_steps, np.inf, scoping, ema, 0, False, 0.0, "dr",
                 0.0, outer, 0.0, rng, save_every, batch, replace, n_chains, parallel, backend, raise_on_failure,
                 Observers(callback, callback_every))


def _esgd(name, loss, x0, t, lr, inner_lr, L, n_steps, beta, scoping, ema, burn_in, nesterov, momentum, noise,
          epsilon, outer, rho, rng, save_every, batch, replace, n_chains, parallel, backend="cpu",
          raise_on_failure=True, observers=None):
    loss, kl = _loss(loss, x0)
    kind, params = kl.kind, kl.params
    n_steps = check_count("n_steps", n_steps, minimum=1)
    L = check_count("L", L, minimum=1)
    X0 = _x0(loss, x0, n_chains)
    nc, d = X0.shape
    _check_memory(name, n_steps, save_every, nc, d, saved_arrays=2)
    be = _backend(backend, nc, kl, name)
    t0 = check_positive("t", t)
    scoping = float(scoping)
    if not math.isfinite(scoping) or scoping < 0:
        raise ValueError(f"`scoping` must be finite and non-negative (scoping >= 0); got {scoping!r}.")
    tks = t0 * (1.0 + scoping) ** (-np.arange(n_steps, dtype=np.float64))
    lrs = _sched("lr", lr, n_steps)
    ilrs = _sched("inner_lr", inner_lr, n_steps)
    if noise == "dr":
        if beta is None:
            raise ValueError("`beta` is required with noise='dr' (beta in (0, inf]).")
        beta = _beta(beta)
        sigs = np.zeros(n_steps) if math.isinf(beta) else np.sqrt(2.0 * ilrs / beta)
    elif noise == "code":
        if beta is not None:
            raise ValueError(f"`beta` must be None with noise='code' (the code samples at beta = "
                             f"1/((1 - momentum) epsilon^2)); "
                             f"got beta={beta!r}.")
        epsilon = check_positive("epsilon", epsilon) if epsilon != 0 else 0.0
        sigs = epsilon * np.sqrt(2.0 * ilrs)
        beta = 1.0 / epsilon ** 2 if epsilon > 0 else np.inf     # plain value; beta_eff carries the momentum
    else:
        raise ValueError(f"`noise` must be 'dr' or 'code'; got {noise!r}.")
    if outer not in _OUTER:
        raise ValueError(f"`outer` must be one of {sorted(_OUTER)}; got {outer!r}.")
    burn = check_count("burn_in", burn_in, minimum=0)  # validated even where ema makes it unused
    if ema is None:
        ema_v = -1.0
        if burn >= L:
            raise ValueError(f"`burn_in` must be < L = {L} with ema=None; got {burn}.")
    else:
        ema_v = float(ema)
        if not (0.0 <= ema_v < 1.0):
            raise ValueError(f"`ema` must be in [0, 1) (weight of the old value) or None; got {ema!r}.")
        burn = 0
    mom = float(momentum) if nesterov else 0.0
    if nesterov and not (0.0 < mom < 1.0):
        raise ValueError(f"`momentum` must be in (0, 1); got {momentum!r}.")
    rho = float(rho)
    if not math.isfinite(rho) or rho < 0:
        raise ValueError(f"`rho` must be finite and non-negative (rho >= 0); got {rho!r}.")
    if rho > 0 and outer == "prox-grad":
        raise ValueError("`rho` > 0 is not used with outer='prox-grad'; set rho=0.")
    b, rep = _batch(kl, loss, batch, replace)
    noisy = bool(np.any(sigs > 0))
    key = _master_key(rng) if (noisy or b > 0 or rng is not None) else 0
    slot, saved = _slots(n_steps, save_every)
    ns = saved.size
    master = np.uint64(key)
    om = _OUTER[outer]
    bw = kl.block(nc, K.BLOCK)

    flow = lrs if om != 1 else lrs * tks
    tsum = np.concatenate([[0.0], np.cumsum(flow)])
    observers = observers or Observers()
    _check_observers(observers, be, backend)
    n_done = n_steps
    if be == "cuda":
        from . import _cuda_dyn
        xs, mus, xf, status, wall, comp = _cuda_dyn.run_esgd(kind, params, X0, L, tks, lrs, ilrs, sigs, om, ema_v,
                                                             burn, mom, rho, master, slot, ns)
        par = None
    else:
        KK = _kernels(kl)
        xs, mus = np.zeros((ns, nc, d)), np.full((ns, nc, d), np.nan)
        X, xf, status = X0, np.zeros((nc, d)), np.full(nc, -1, np.int64)
        par0 = parallel if parallel is not None else (nc > 1 and use_parallel(nc * n_steps * (L + 1)))

        def piece(k0, k1):      # outer steps k0 .. k1 - 1 from X (the outer iterates; status carries the failures)
            nonlocal X, xf

            def make(n):
                return (kind, params, X[:n], L, tks, lrs, ilrs, sigs, om, ema_v, burn, mom, rho, master, b, rep,
                        slot, xs[:, :n], mus[:, :n], xf[:n], status[:n], bw, k0, k1)
            xf = np.zeros((nc, d))
            _, w, c, p = _run(KK._esgd_ser, KK._esgd_par, make, nc, nc * (k1 - k0) * (L + 1), par0, kl)
            X = xf
            return w, c, p

        wall, comp, par, n_done = _in_pieces(observers, n_steps, saved, tsum, piece, lambda: X)
    outcome = _stopped(name, _check_status(status, name, "outer step"), n_done, n_steps, tsum[n_done],
                       "outer step")
    if n_done < n_steps:
        keep = int((saved <= n_done).sum())
        saved, xs, mus = saved[:keep], xs[:keep], mus[:keep]
    ts = tsum[saved]
    prm = {"t": t0, "beta": beta, "beta_eff": beta / (1.0 - mom), "t_eff": t0 / (1.0 - mom), "L": L,
           "n_steps": n_steps, "scoping": scoping, "ema": ema, "burn_in": burn,
           "nesterov": bool(nesterov), "momentum": mom, "noise": noise, "epsilon": float(epsilon),
           "outer": outer, "rho": rho, "batch": batch, "replace": rep, "n_chains": nc,
           "save_every": save_every, "parallel": par, "loss": repr(loss), "loss_path": kl.path, "backend": be}
    sched = {"t": tks, "lr": lrs, "inner_lr": ilrs, "sigma": sigs}
    return _finish(Trajectory(xs=xs, steps=saved, ts=ts, x=xf, algorithm=name, mus=mus, schedule=sched, params=prm,
                              seed=_seed(key), wall_time=wall, compile_time=comp), outcome, raise_on_failure)
