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
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from solvers.backend import resolve_backend
from solvers._driver import Observers, check_outcome
from solvers.jit import use_parallel
from solvers._memory import check_memory
from solvers.errors import check_count, check_positive, check_real
from solvers.result import Result, register_result

from . import _dyn_kernels as K
from ._kernel_loss import KernelLoss, kernel_loss
from .tuning import suggest_params

__all__ = ["Trajectory", "sgd", "sgld", "entropy_sgd", "hj_prox", "elastic_sgd", "parle", "suggest_params",
           "ESGD_CODE", "PARLE_CODE", "RNG_NAME"]

RNG_NAME = "splitmix64-counter/ziggurat256"

#: Keyword arguments of :func:`entropy_sgd` that reproduce the authors' Lua code (paper-spec §3.2, §7.19).
#: Add ``t`` (= 1/gamma0), ``scoping`` (gamma1), ``L``, ``n_steps`` and the outer ``lr`` regime.
ESGD_CODE = {"ema": 0.75, "nesterov": True, "noise": "code", "epsilon": 1e-4, "outer": "code", "inner_lr": 0.1}

#: Keyword arguments of :func:`parle` that reproduce ``parle_mpi.py`` (paper-spec §3.5).
PARLE_CODE = {"L": 25, "lr": 0.1, "gamma": 0.01, "rho": 0.01, "momentum": 0.9, "ema": 0.75,
              "normalize_rho": True, "schedule": True, "gamma_cap": 1.0, "rho_cap": 10.0, "lr_decay": 0.1}


# ----------------------------------------------------------------------------- result
@register_result
@dataclass(frozen=True, repr=False)
class Trajectory(Result):
    """Trajectories of an ensemble of chains.

    Attributes
    ----------
    xs : ndarray, shape (n_saved, n_chains, d)
        Positions at the saved iterations (Entropy-SGD/HJ-prox: the outer iterate ``x``;
        Elastic-SGD/Parle: the centre ``x_bar``).
    steps : int ndarray, shape (n_saved,)
        Iteration index of each saved row (0 = initial state; the last row is always the final state).
    ts : ndarray, shape (n_saved,)
        Flow time of each row: ``sum of h`` (SGD/SGLD/Elastic-SGD), ``sum of lr`` for the outer
        steps ``x -= lr grad u`` (Entropy-SGD ``outer="dr"``/HJ-prox), ``sum of lr t_k`` for
        ``outer="code"``, ``centre_rate sum h`` for the Elastic-SGD centre, the sync count for Parle.
    x : ndarray, shape (n_chains, d)
        Final positions.
    algorithm : str
    mus : ndarray, shape (n_saved, n_chains, d), or None
        Entropy-SGD/HJ-prox: the inner-loop mean ``mu`` computed at ``xs[i]`` (used for the step from
        ``xs[i]``); the final row (no step taken) is NaN.
    replicas : ndarray, shape (n_chains, n_replicas, d), or None
        Final replicas (Elastic-SGD ``y^a``; Parle ``x^a``).
    schedule : dict
        Per-step schedules (``h``, ``t_k``, ``lr``, Parle ``gamma``/``rho``, ...).
    params : dict
        The settings of the run.
    seed : dict
        ``{"key": master key (int), "rng": generator name}``.
    wall_time, compile_time : float, seconds (compile time not included in wall time)
    status : str
        ``"success"``, ``"nonfinite"`` or (observers, ``callback``) ``"stopped_by_callback"``
        (module docstring, "Status").
    message : str
        What happened and the fix.
    """

    xs: np.ndarray
    steps: np.ndarray
    ts: np.ndarray
    x: np.ndarray
    algorithm: str
    mus: Optional[np.ndarray] = None
    replicas: Optional[np.ndarray] = None
    schedule: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seed: dict = field(default_factory=dict)
    wall_time: float = 0.0
    compile_time: float = 0.0
    status: str = "success"
    message: str = "Completed every step."

    @property
    def success(self) -> bool:
        return self.status == "success"

    @property
    def n_chains(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])


# ----------------------------------------------------------------------------- helpers
def _master_key(rng) -> int:
    if rng is None:
        raise TypeError("`rng` is required: pass a seeded numpy.random.Generator (or an int seed).")
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator or an int seed; got {type(rng).__name__}.")
    return int(rng.integers(0, 2 ** 64, dtype=np.uint64))


def _loss(loss, x0) -> tuple:
    """``(loss, KernelLoss)``: a plain callable becomes a loss of the dimension of ``x0``."""
    from .losses import as_loss

    loss = as_loss(loss, dim=_x0_dim(x0), where="dynamics")
    return loss, kernel_loss(loss)


def _x0_dim(x0):
    a = np.asarray(x0)
    return int(a.shape[-1]) if a.ndim >= 1 else None


def _kernels(kl: KernelLoss):
    """The kernel family of :mod:`deeprelax._dyn_kernels` for this loss (see :mod:`deeprelax._kernel_loss`)."""
    return kl.kernels(vars(K))


def _x0(loss, x0, n_chains):
    a = np.asarray(check_real("x0", x0), dtype=np.float64)
    d = int(loss.dim)
    if a.ndim == 1:
        if a.shape[0] != d:
            raise ValueError(f"`x0` must have shape ({d},) or (n_chains, {d}); got {a.shape}.")
        nc = 1 if n_chains is None else check_count("n_chains", n_chains, minimum=1)
        check_memory("the chains of x0", [("n_chains", 8.0 * 4 * nc * d,
                                          f"run fewer chains than {nc} (each of dimension {d})")])
        a = np.broadcast_to(a, (nc, d))
    elif a.ndim == 2:
        if a.shape[1] != d:
            raise ValueError(f"`x0` must have shape ({d},) or (n_chains, {d}); got {a.shape}.")
        if n_chains is not None and check_count("n_chains", n_chains, minimum=1) != a.shape[0]:
            raise ValueError(f"`n_chains` = {n_chains} does not match `x0` of shape {a.shape}.")
    else:
        raise ValueError(f"`x0` must have shape ({d},) or (n_chains, {d}); got {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ValueError("`x0` must be finite.")
    return np.ascontiguousarray(a)




def _sched(name, v, n, *, allow_zero=False):
    """Scalar, callable ``k -> value`` or length-``n`` array -> float64 array of length ``n``."""
    if callable(v):
        arr = np.array([float(v(k)) for k in range(n)], dtype=np.float64)
    else:
        arr = np.asarray(v, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        elif arr.shape != (n,):
            raise ValueError(f"`{name}` must be a scalar, a callable or an array of shape ({n},); got {arr.shape}.")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        i = int(np.argmax(bad))
        rel = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {rel} ({name} {rel}); got {arr[i]!r} at step {i}.")
    return np.ascontiguousarray(arr)


def _check_memory(where, n_steps, save_every, n_chains, d, *, n_rep=1, saved_arrays=1, schedules=6,
                  steps_arg="n_steps"):
    """Estimated bytes of a run (per-step schedules, saved states, replicas and work arrays), checked
    against the memory budget (:mod:`solvers._memory`) before anything of that size is allocated."""
    every = n_steps if save_every is None else check_count("save_every", save_every, minimum=1)
    ns = n_steps // every + 2
    check_memory(where, [
        (steps_arg, 8.0 * (schedules + 1) * n_steps,
         f"take fewer steps than {n_steps} (each step keeps {schedules + 1} schedule values)"),
        ("save_every", 8.0 * saved_arrays * ns * n_chains * d,
         f"keep fewer states: a larger save_every than {save_every} ({ns} states of {n_chains} x {d})"),
        ("x0", 8.0 * (n_rep + 3) * n_chains * d, f"run fewer chains than {n_chains} (each of dimension {d})"),
    ])


def _slots(n_steps, save_every):
    if save_every is None:
        save_every = n_steps
    save_every = check_count("save_every", save_every, minimum=1)
    saved = list(range(0, n_steps + 1, save_every))
    if saved[-1] != n_steps:
        saved.append(n_steps)
    slot = np.full(n_steps + 1, -1, np.int64)
    slot[saved] = np.arange(len(saved))
    return slot, np.asarray(saved, dtype=np.int64)


def _batch(kl: KernelLoss, loss, batch, replace):
    if batch is None:
        return 0, bool(replace)
    if kl.n_samples <= 0:
        raise ValueError(f"`batch` needs a finite-sum loss (n_samples and grad_batch; deeprelax.finite_sum, "
                         f"deeprelax.models); got {loss!r} with batch={batch!r}.")
    N = kl.n_samples
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"`batch` must be a positive integer (batch >= 1) or None; got {batch!r}.")
    if not replace and batch > N:
        raise ValueError(f"`batch` must be <= n_samples = {N} without replacement; got {batch}.")
    return int(batch), bool(replace)


def _beta(beta):
    return check_positive("beta", beta, allow_inf=True)


def _run(ser, par, make_args, n_chains, work, parallel, kl: KernelLoss):
    """Compile on empty inputs (timed) if needed, then run; returns (outputs, wall, compile, parallel).

    Python (vectorised) losses run the serial kernel: their gradient is one Python call per step."""
    if kl.vectorised:
        parallel = False
    elif parallel is None:
        parallel = n_chains > 1 and use_parallel(work)
    kern = par if parallel else ser
    compile_time = 0.0
    with kl.active():
        if not kern.signatures:
            t0 = time.perf_counter()
            kern(*make_args(0))
            compile_time = time.perf_counter() - t0
        args = make_args(n_chains)
        t0 = time.perf_counter()
        kern(*args)
        wall = time.perf_counter() - t0
    return args, wall, compile_time, bool(parallel)


def _check_status(status, algorithm, what="step"):
    """``(status, message)`` of a run from the kernels' per-chain first non-finite step (-1: none)."""
    bad = np.nonzero(status >= 0)[0]
    if not bad.size:
        return "success", "Completed every step."
    c = int(bad[0])
    return "nonfinite", (f"{algorithm}: chain {c} became non-finite at {what} {int(status[c])} ({bad.size} chain(s) "
                         "in all); reduce the step size / learning rate or start closer to a minimum.")


def _finish(traj, outcome, raise_on_failure):
    """``traj`` with the run's status and message; raises a failed one when ``raise_on_failure``."""
    status, message = outcome
    check_outcome(status, message, raise_on_failure)
    return traj if status == "success" else traj.replace(status=status, message=message)


def _seed(key):
    return {"key": int(key), "rng": RNG_NAME}


def _backend(backend, n_chains, kl: KernelLoss, algorithm, supported=True):
    """``backend`` resolved for ``n_chains`` chains: "cuda" only where a device kernel exists.

    ``backend="cuda"`` where it does not (user or finite-sum loss, Elastic-SGD, Parle) is a ValueError;
    ``"auto"`` then falls back to the CPU.
    """
    be = resolve_backend(backend, n_chains)
    if be != "cuda":
        return be
    if not supported:
        why = f"{algorithm} has no CUDA kernel"
    elif kl.path != "builtin" or not (0 <= kl.kind <= 7):
        why = (f"`loss` must be a built-in analytic loss (nb_kind 0-7) on the device; got a {kl.path} loss with "
               f"kind {kl.kind} (user losses, finite-sum losses and their minibatches run on the CPU)")
    else:
        return be
    if backend == "auto":
        return "cpu"
    raise ValueError(f"`backend='cuda'` is not available for this run: {why}; use backend='cpu'.")


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


def _in_pieces(observers, n_steps, saved, tsum, piece, state):
    """Steps ``0 .. n_steps`` in one ``piece(0, n_steps)`` call, or, with observers, in pieces between the
    observed steps (the saved steps, or every ``observers.every`` steps and the last), calling
    ``observers(tsum[n], state())`` at step 0 and after each piece.  ``piece(n0, n1)`` runs steps
    ``n0 .. n1 - 1`` on state it keeps itself and returns ``(wall, compile, parallel)``.  Returns
    ``(wall, compile, parallel, steps taken)``."""
    if not observers:
        return (*piece(0, n_steps), n_steps)
    every = observers.every
    points = saved if every is None else np.unique(np.r_[np.arange(0, n_steps, every), n_steps])
    wall = comp = 0.0
    par = None
    n_done = 0
    stop = observers(0.0, state())
    for n1 in points[1:]:
        if stop:
            break
        w, c, par = piece(n_done, int(n1))
        wall, comp, n_done = wall + w, comp + c, int(n1)
        stop = observers(float(tsum[n_done]), state())
    return wall, comp, par, n_done


def _stopped(name, outcome, n_done, n_steps, t, what="step"):
    """The outcome of a run whose observer stopped it after ``n_done`` of ``n_steps`` (a failure wins)."""
    if outcome[0] != "success" or n_done >= n_steps:
        return outcome
    return ("stopped_by_callback", f"{name}: stopped early at {what} {n_done} of {n_steps} (t = {t:.6g}): "
                                   "a `callback` returned True.")


def _check_observers(observers, be, backend):
    if observers and be == "cuda":
        raise ValueError("`callback` needs backend='cpu' (the device kernel runs every step in one launch); "
                         f"got backend={backend!r}.")


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


# Elastic-SGD and Parle live in deeprelax._replica_dynamics (replicas coupled to a centre); public here.
from ._replica_dynamics import elastic_sgd, parle  # noqa: E402,F401
