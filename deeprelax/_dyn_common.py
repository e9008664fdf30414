"""What every particle-ensemble algorithm of :mod:`deeprelax.dynamics` shares: the :class:`Trajectory`
result, input checks (initial states, schedules, minibatches, memory), the seed record, the kernel
runner (serial/threaded choice, compile time apart), the piece runner of the observers, and status.
Conventions: the :mod:`deeprelax.dynamics` docstring."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from solvers.backend import resolve_backend
from solvers._driver import check_outcome
from solvers.jit import use_parallel
from solvers._memory import check_memory
from solvers.errors import check_count, check_positive, check_real
from solvers.result import Result, register_result

from . import _dyn_kernels as K
from ._kernel_loss import KernelLoss, kernel_loss

#: Name of the random-number generator recorded in ``Trajectory.seed``.
RNG_NAME = "splitmix64-counter/ziggurat256"


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
