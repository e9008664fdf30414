r"""Particle ensembles of the stochastic optimisers: SGD/Langevin, SGLD, Entropy-SGD, HJ-prox, Elastic-SGD, Parle.

Every function runs ``n_chains`` independent chains (systems) at once in a
Numba kernel (threaded over chains) and returns a :class:`Trajectory`.

Losses
------
``loss`` is any loss of :mod:`deeprelax.losses` (built-in, :func:`~deeprelax.losses.from_functions`, a
``Loss`` subclass), any object with ``dim`` and a vectorised ``grad``, or a plain function ``f(x)`` on
points ``(..., d)`` (its dimension taken from ``x0``, its gradient by central differences).  How the
kernels reach it (:mod:`deeprelax._kernel_loss`; ``Trajectory.params["loss_path"]``): ``"builtin"``
losses dispatch inside the compiled kernels; ``"compiled"`` user losses (``numba.njit`` functions of
one point) are inlined into copies of the kernels; any other (``"vectorised"``) loss runs the serial
kernel with ``grad`` called once per step on all chains ``(n_chains, d)``.  The arithmetic around the
gradient is the same on every path, so equal gradients give equal trajectories, bit for bit.

Conventions (paper-spec §1, DR convention unless a flag says otherwise)
------------------------------------------------------------------------
* Langevin: ``dx = -grad f dt + sqrt(2/beta) dW``, invariant density ``exp(-beta f)``.
* Local entropy at DR time ``t`` (scope ``gamma_E = 1/t``): ``grad u(x, t) = (x - <y>)/t`` with
  ``<y>`` the mean of ``rho(y) ~ exp(-beta [f(y) + |y - x|^2/(2t)])`` (paper-spec §2.1, §2.6).

Reproducibility
---------------
``rng`` (a ``numpy.random.Generator``; an int seed is also accepted) is asked for
one 64-bit master key; every random number is a counter-based function of
``(key, chain, stream, counter)`` (:mod:`deeprelax._dyn_kernels`).  The same seed
gives bit-identical results for any thread count, serial or threaded kernel, and
chain ``c`` does not depend on how many chains run.  The key is stored in
``Trajectory.seed``.

Minibatches
-----------
For a finite-sum loss (``n_samples`` and ``grad_batch(x, idx)``: :mod:`deeprelax.finite_sum`,
:mod:`deeprelax.models`, or any object following that protocol), ``batch=b`` draws ``b`` indices per
gradient call and chain (counter-based, stream 1), with (``replace=True``) or without replacement, and
computes the minibatch gradients of all the chains in one ``grad_batch(X, IDX)`` call (``X``
``(n, d)``, ``IDX`` ``(n, b)``; compiled for the built-in least squares / logistic);
``batch=None`` uses the full gradient.  Other losses reject ``batch``.

Status
------
The conventions of every time-stepping solver (:mod:`solvers._driver`): ``Trajectory.status`` is
``"success"`` or ``"nonfinite"`` (a chain's state became NaN/inf; ``message`` names the chain, the
step and the fix), ``success`` says which; ``raise_on_failure=True`` (default) raises
:class:`~solvers.errors.NonFiniteError` instead of returning a failed run; ``wall_time`` excludes the
compile time, which is ``compile_time``.  Saved rows: ``save_every=k`` keeps steps ``0, k, 2k, ...``
and always the last (the default keeps ``[0, n_steps]``), the ``save_at`` convention counted in steps.
Every function takes observers (``callback(t, x)`` with the chains' state ``x`` of shape ``(n_chains, d)``,
the quantity ``xs`` saves, at the saved steps, or every ``callback_every`` steps; returning ``True``
stops the run with status ``"stopped_by_callback"``): the kernel then runs in pieces between those
steps, with the same random numbers and every per-chain state carried from piece to piece (Entropy-SGD
and HJ-prox: the outer iterate, from which each inner loop restarts; Elastic-SGD: replicas and centre;
Parle: ``x^a, y^a, z^a``, both momenta and the sync counter of its schedules), so the trajectory is
bit-identical to a run without observers.  CPU backend only.

Backends
--------
``backend="cuda"`` runs :func:`sgd`, :func:`sgld`, :func:`entropy_sgd` and :func:`hj_prox` on a GPU
(:mod:`deeprelax._cuda_dyn`; numba's CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1``), one thread per
chain, with the same counter-based random numbers and the same arithmetic: trajectories equal the CPU
backend's to round-off.  Only built-in analytic losses (``nb_kind`` 0-7) run there; user losses,
finite-sum losses, :func:`elastic_sgd` and :func:`parle` raise a ValueError with ``backend="cuda"``.  ``backend="auto"``
uses CUDA on a real GPU for at least ``solvers.backend.AUTO_MIN_WORK`` chains when supported, else the CPU.
"""
from __future__ import annotations

import math

import numpy as np

from solvers._driver import Observers
from solvers.jit import use_parallel
from solvers.errors import check_count, check_positive

from . import _dyn_kernels as K
from ._dyn_common import (RNG_NAME, Trajectory, _backend, _batch, _beta, _check_memory, _check_observers,
                          _check_status, _finish, _in_pieces, _kernels, _loss, _master_key, _run, _sched, _seed,
                          _slots, _stopped, _x0)
from .tuning import suggest_params

__all__ = ["Trajectory", "sgd", "sgld", "entropy_sgd", "hj_prox", "elastic_sgd", "parle", "suggest_params",
           "ESGD_CODE", "PARLE_CODE", "RNG_NAME"]

#: Keyword arguments of :func:`entropy_sgd` that reproduce the authors' Lua code (paper-spec §3.2, §7.19).
#: Add ``t`` (= 1/gamma0), ``scoping`` (gamma1), ``L``, ``n_steps`` and the outer ``lr`` regime.
ESGD_CODE = {"ema": 0.75, "nesterov": True, "noise": "code", "epsilon": 1e-4, "outer": "code", "inner_lr": 0.1}

#: Keyword arguments of :func:`parle` that reproduce ``parle_mpi.py`` (paper-spec §3.5).
PARLE_CODE = {"L": 25, "lr": 0.1, "gamma": 0.01, "rho": 0.01, "momentum": 0.9, "ema": 0.75,
              "normalize_rho": True, "schedule": True, "gamma_cap": 1.0, "rho_cap": 10.0, "lr_decay": 0.1}


# ----------------------------------------------------------------------------- SGD / Langevin
def sgd(loss, x0, *, lr, n_steps, beta=np.inf, scheme="em", rng=None, save_every=None, batch=None,
        replace=True, n_chains=None, parallel=None, backend="cpu", raise_on_failure=True, callback=None,
        callback_every=None) -> Trajectory:
    r"""Gradient descent with optional isotropic noise: Euler-Maruyama / Leimkuhler-Matthews Langevin.

    ``scheme="em"``: :math:`x_{n+1} = x_n - h_n g(x_n) + \sqrt{2 h_n/\beta}\,\xi_n`,
    the EM scheme of :math:`dx = -\nabla f\,dt + \sqrt{2/\beta}\,dW` (``h_n = lr``); invariant-measure
    bias O(h) (OU: variance ``1/(beta k (1 - h k/2))``).

    ``scheme="lm"``: :math:`x_{n+1} = x_n - h_n g(x_n) + \sqrt{h_n/(2\beta)}\,(\xi_n + \xi_{n+1})`,
    invariant-measure bias O(h^2) (OU: exactly ``1/(beta k)``).

    ``g`` is ``grad f``, or a minibatch gradient for a finite-sum loss with ``batch=b``.
    ``beta = inf`` is plain (minibatch) gradient descent (no random numbers are drawn).

    Parameters
    ----------
    loss : a loss, an object with ``dim`` and ``grad``, or a function ``f(x)`` (module docstring, "Losses")
    x0 : array, shape (d,) or (n_chains, d)
    lr : float, callable ``n -> h_n`` or array (n_steps,)
        Step ``h`` (plays ``dt``).
    n_steps : int
    beta : float in (0, inf]
    scheme : {"em", "lm"}
    rng : numpy.random.Generator or int (needed when ``beta < inf`` or ``batch`` is set)
    save_every : int, optional
        Keep every ``save_every``-th state (default: only the initial and final states).
    batch : int, optional; replace : bool
    n_chains : int, optional
        Replicate a single ``x0`` over this many chains.
    parallel : bool, optional
        Force the threaded (True) or serial (False) kernel; default by problem size (CPU backend).
    backend : {"cpu", "cuda", "auto"}
        ``"cuda"``: one GPU thread per chain, same random numbers and arithmetic as the CPU (module
        docstring); analytic losses only (a finite-sum loss is a ValueError there).  ``"auto"``: CUDA on a
        real GPU for many chains, else the CPU.  Float64 on both.
    raise_on_failure : bool
        Raise :class:`~solvers.errors.NonFiniteError` when a chain becomes non-finite (default); False
        returns the trajectory with ``status="nonfinite"`` and the ``message`` (every function of this
        module takes it).
    callback : callable or sequence of callables, optional
        Observers ``callback(t, x)`` (``t`` the time ``sum h`` reached, ``x`` a read-only copy of the
        chains, shape ``(n_chains, d)``) called at the saved steps, or every ``callback_every`` steps
        (and at the last one); returning ``True`` (or raising ``StopIteration``) stops the run with
        status ``"stopped_by_callback"`` (``x`` the state there, ``xs`` the rows saved up to it).  The
        trajectory is bit-identical to a run without observers.  CPU backend only.
    callback_every : int, optional

    Returns
    -------
    Trajectory (``schedule = {"h": (n_steps,)}``; ``params["backend"]`` says which backend ran)
    """
    return _langevin("sgd", loss, x0, lr, n_steps, beta, scheme, rng, save_every, batch, replace, n_chains,
                     parallel, {}, backend, raise_on_failure, Observers(callback, callback_every))


def sgld(loss, x0, *, lr, n_steps, beta=1.0, decay=None, convention="dr", scheme="em", rng=None,
         save_every=None, batch=None, replace=True, n_chains=None, parallel=None, backend="cpu",
         raise_on_failure=True, callback=None, callback_every=None) -> Trajectory:
    r"""Stochastic-gradient Langevin dynamics with an optional polynomial step-size schedule.

    Step sizes :math:`\epsilon_n = lr\,(1 + n/b)^{-\gamma}` for ``decay=(b, gamma)`` (Welling-Teh's
    ``a (b + n)^{-gamma}`` normalised so that ``epsilon_0 = lr``), constant ``lr`` for ``decay=None``;
    ``lr`` may also be a callable or an array of per-step values.

    * ``convention="dr"``: :math:`x \leftarrow x - \epsilon_n g(x) + \sqrt{2\epsilon_n/\beta}\,\xi`
      (the Entropy-SGD inner loop; EM with ``h = epsilon``).
    * ``convention="welling-teh"``: :math:`x \leftarrow x - \tfrac{\epsilon_n}2\beta g(x) + \sqrt{\epsilon_n}\,\xi`
      (SGLD for the potential ``U = beta f``; EM with ``h = beta epsilon / 2``).

    Both target ``exp(-beta f)`` as ``epsilon -> 0``.  ``g`` is a minibatch gradient when ``batch`` is set.
    ``ts`` is the Langevin time ``sum h``.  Other parameters (``backend``, ``callback`` too) as :func:`sgd`.
    """
    observers = Observers(callback, callback_every)
    n_steps = check_count("n_steps", n_steps, minimum=1)
    beta = _beta(beta)
    if math.isinf(beta):
        raise ValueError("`beta` must be finite for sgld (beta < inf); use sgd for noiseless descent.")
    _check_memory("sgld", n_steps, None, 0, 0)
    eps = _sched("lr", lr, n_steps)
    if decay is not None:
        try:
            b, gam = (float(v) for v in decay)
        except (TypeError, ValueError):
            raise ValueError(f"`decay` must be a pair (b, gamma); got {decay!r}.") from None
        check_positive("decay b", b)
        if not (0.0 <= gam <= 1.0):
            raise ValueError(f"`decay` gamma must be in [0, 1]; got {gam!r}.")
        eps = eps * (1.0 + np.arange(n_steps) / b) ** (-gam)
    if convention == "dr":
        h = eps
    elif convention == "welling-teh":
        h = 0.5 * beta * eps
    else:
        raise ValueError(f"`convention` must be 'dr' or 'welling-teh'; got {convention!r}.")
    return _langevin("sgld", loss, x0, np.ascontiguousarray(h), n_steps, beta, scheme, rng, save_every, batch,
                     replace, n_chains, parallel, {"convention": convention, "decay": decay,
                                                   "epsilon": eps}, backend, raise_on_failure, observers)


def _langevin(name, loss, x0, lr, n_steps, beta, scheme, rng, save_every, batch, replace, n_chains, parallel,
              extra, backend="cpu", raise_on_failure=True, observers=None):
    loss, kl = _loss(loss, x0)
    kind, params = kl.kind, kl.params
    n_steps = check_count("n_steps", n_steps, minimum=1)
    X0 = _x0(loss, x0, n_chains)
    nc, d = X0.shape
    _check_memory(name, n_steps, save_every, nc, d)
    be = _backend(backend, nc, kl, name)
    h = _sched("lr", lr, n_steps)
    beta = _beta(beta)
    if scheme not in ("em", "lm"):
        raise ValueError(f"`scheme` must be 'em' or 'lm'; got {scheme!r}.")
    lm = scheme == "lm"
    if math.isinf(beta):
        sig = np.zeros(n_steps)
    else:
        sig = np.sqrt(h / (2.0 * beta)) if lm else np.sqrt(2.0 * h / beta)
    b, rep = _batch(kl, loss, batch, replace)
    key = _master_key(rng) if (not math.isinf(beta) or b > 0 or rng is not None) else 0
    slot, saved = _slots(n_steps, save_every)
    ns = saved.size
    master = np.uint64(key)
    bw = kl.block(nc, K.BLOCK)

    tsum = np.concatenate([[0.0], np.cumsum(h)])
    observers = observers or Observers()
    _check_observers(observers, be, backend)
    n_done = n_steps
    if be == "cuda":
        from . import _cuda_dyn
        xs, xf, status, wall, comp = _cuda_dyn.run_sgd(kind, params, X0, h, sig, lm, master, slot, ns)
        par = None
    else:
        KK = _kernels(kl)
        xs = np.zeros((ns, nc, d))
        X, status, dead_x = X0, np.full(nc, -1, np.int64), np.zeros((nc, d))
        par0 = parallel if parallel is not None else (nc > 1 and use_parallel(nc * n_steps))  # once per run

        def piece(n0, n1):      # steps n0 .. n1 - 1 from X; a chain keeps its first failing step and state
            nonlocal X
            sl = slot[n0:n1 + 1].copy()
            if n0 > 0:
                sl[0] = -1                          # that row was written by the previous piece

            def make(n):
                return (kind, params, X[:n], h[n0:n1], sig[n0:n1], lm, master, b, rep, sl, xs[:, :n],
                        np.zeros((n, d)), np.full(n, -1, np.int64), bw, n0)
            args, w, c, p = _run(KK._sgd_ser, KK._sgd_par, make, nc, nc * (n1 - n0), par0, kl)
            X, st = args[-4], args[-3]
            new = (st >= 0) & (status < 0)
            status[new], dead_x[new] = st[new], X[new]
            return w, c, p

        wall, comp, par, n_done = _in_pieces(observers, n_steps, saved, tsum, piece, lambda: X)
        xf = np.where((status >= 0)[:, None], dead_x, X)
    outcome = _stopped(name, _check_status(status, name), n_done, n_steps, tsum[n_done])
    if n_done < n_steps:
        keep = int((saved <= n_done).sum())
        saved, xs = saved[:keep], xs[:keep]
    ts = tsum[saved]
    prm = {"lr": h if np.ptp(h) > 0 else float(h[0]), "n_steps": n_steps, "beta": beta, "scheme": scheme,
           "batch": batch, "replace": rep, "n_chains": nc, "save_every": save_every, "parallel": par,
           "loss": repr(loss), "loss_path": kl.path, "backend": be}
    prm.update({k: v for k, v in extra.items() if k != "epsilon"})
    sched = {"h": h}
    if "epsilon" in extra:
        sched["epsilon"] = extra["epsilon"]
    return _finish(Trajectory(xs=xs, steps=saved, ts=ts, x=xf, algorithm=name, schedule=sched, params=prm,
                              seed=_seed(key), wall_time=wall, compile_time=comp), outcome, raise_on_failure)


# Entropy-SGD / HJ-prox (deeprelax._entropy_dynamics) and Elastic-SGD / Parle (deeprelax._replica_dynamics,
# replicas coupled to a centre) live in their own modules; public here.
from ._entropy_dynamics import entropy_sgd, hj_prox  # noqa: E402,F401
from ._replica_dynamics import elastic_sgd, parle  # noqa: E402,F401
