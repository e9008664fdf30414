r"""The one time-loop driver of the time-stepping solvers, and the conventions they share.

:func:`solvers.fokker_planck.solve_fokker_planck`, :func:`solvers.hj.solve_hj` and the
dynamics of :mod:`deeprelax.dynamics` report their runs the same way; this module holds that
way once.  (``solve_hj`` and ``solve_fokker_planck`` run on :class:`March`; the dynamics, one
compiled kernel per run, use :func:`check_outcome` and count saved rows in steps.)

Conventions
-----------
============================  ===================================================================
``save_at=None``              save ``[0, t]`` (the initial and the final state)
``save_at=m`` (int >= 1)      ``m`` equal intervals: ``m + 1`` times ``linspace(0, t, m + 1)``
``save_at=[t_1, ...]``        those times (sorted, duplicates dropped), each in ``[0, t]``
``t = 0``                     one saved time, ``[0]``
``status``                    ``"success"``, ``"stopped"`` (``max_steps`` / ``stop_at``),
                              ``"nonfinite"``, ``"step_too_small"``, ``"unstable"``
``message``                   what happened and the fix (each solver's ``STATUS_MESSAGES``)
``success``                   ``status == "success"``
``raise_on_failure=True``     raise on ``"nonfinite"`` (:class:`~solvers.errors.NonFiniteError`),
                              ``"step_too_small"`` / ``"unstable"``
                              (:class:`~solvers.errors.StabilityError`); ``False`` returns the
                              result with its status
``wall_time``                 seconds of the solve, compile time excluded
``compile_time``              seconds compiling (or loading from the cache) the kernels
``checkpoint``, ``resume``    atomic, checksummed HDF5 checkpoints (:mod:`solvers.checkpoint`); a
                              resumed run is bit-identical to an uninterrupted one; a checkpoint
                              of other settings is refused (:class:`~solvers.errors.CheckpointError`)
``checkpoint_every``          a float: wall-clock seconds; an int: steps
``max_steps``, ``stop_at``    stop (``"stopped"``, a checkpoint written) after that many steps in
                              all / after the first step that reaches ``stop_at``
``callback``                  observers ``callback(t, state) -> bool | None`` called at every saved
                              time (``callback_every=None``) or every ``k`` steps
                              (``callback_every=k``, and at the final time); returning ``True`` (or
                              raising ``StopIteration``) stops the run with status
                              ``"stopped_by_callback"`` (a checkpoint written; ``resume`` continues)
============================  ===================================================================

Bad arguments are not a status: they raise at once (``ValueError`` / ``TypeError`` naming the
argument, the constraint and the value), whatever ``raise_on_failure`` says.

The driver (:class:`March`)
---------------------------
``March(t_final, save_times, ...).run(stepper)`` owns everything between the steps: save-time
targets, snapshots, the progress bar, checkpoints (cadence, atomic writes, resume), ``max_steps``
/ ``stop_at`` and the outcome status.  The *stepper* owns the state and the steps.  The driver
calls the stepper as little as the user's settings allow: without a progress bar or checkpoints it
asks for every step up to the next saved time in one call, so a compiled stepper marches between
save points without returning to Python.  With a progress bar (about every
:data:`PROGRESS_SECONDS`) or a checkpoint every ``checkpoint_every`` seconds, the number of steps
per call is derived from the measured time per step of the previous calls (the first call takes
one step), so the wall-clock cadence holds without a clock read per step.

Stepper interface
-----------------
A stepper is any object with

``t`` : float
    Time reached.  On reaching a target it must equal the target exactly.
``n_steps`` : int
    Steps taken so far.
``warmup() -> float``
    Compile (or load) its kernels; return the seconds spent (``compile_time``).
``advance(t_target, max_steps, t_stop) -> str``
    Take steps until ``t == t_target`` (the last step shortened or planned to land on it), or
    ``max_steps`` steps have been taken, or right after the first step that ends at
    ``t >= t_stop`` (not shortened for it), stopping at the first failure.  Return ``"success"`` or
    a failure status (``"nonfinite"``, ``"step_too_small"``, ``"unstable"``).  A compiled stepper
    runs the whole call in one compiled function (a *march*): the steps, their non-finite checks and
    any per-step repairs, with no Python between steps.
``state() -> ndarray``
    A host (NumPy) copy of the state to save, on the user's grid.

and, to be checkpointed,

``checkpoint_state() -> (scalars: dict, arrays: dict)``
    Everything beyond ``t``, ``n_steps`` and the saved snapshots that a resumed run needs to
    continue bit for bit (JSON-able scalars; arrays).
``restore(scalars, arrays)``
    The inverse (``scalars`` also holds ``t_now`` and ``step``).

Solvers build their result from :class:`Outcome` (status, saved times and states, time reached,
steps) and the stepper's own diagnostics.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ._files import check_writable
from .checkpoint import config_mismatch, read_checkpoint, write_checkpoint
from .errors import (CheckpointError, CheckpointWarning, NonFiniteError, StabilityError, check_nonnegative,
                     check_real)

__all__ = ["save_times", "n_save_times", "check_checkpoint_every", "check_stops", "STATUSES", "EXCEPTIONS", "Clock",
           "Progress", "Observers", "March", "Outcome", "check_outcome"]

#: Every status a solver may report (``"success"`` first).
STATUSES = ("success", "stopped", "stopped_by_callback", "nonfinite", "step_too_small", "unstable")
#: Exception raised for a failed status when ``raise_on_failure`` is True.
EXCEPTIONS = {"nonfinite": NonFiniteError, "step_too_small": StabilityError, "unstable": StabilityError}
#: Target wall time between progress-bar updates (steps per call derived from the measured step time).
PROGRESS_SECONDS = 0.25
#: Steps per call when nothing needs Python between save points.
UNBOUNDED = 1 << 62


def n_save_times(save_at) -> int:
    """How many states ``save_at`` asks to save (at most; before ``t`` is known and before anything is allocated).

    Raises the argument errors of :func:`save_times` that do not depend on ``t``.
    """
    if save_at is None:
        return 2
    if isinstance(save_at, (bool, np.bool_)):
        raise TypeError(f"`save_at` must be None, an int >= 1 or a sequence of times in [0, t]; got {save_at!r}.")
    if isinstance(save_at, (int, np.integer)):
        if save_at < 1:
            raise ValueError(f"`save_at` as an int must be >= 1 (number of equal intervals of [0, t]); "
                             f"got {save_at}.")
        return int(save_at) + 1
    check_real("save_at", save_at)
    return int(np.size(save_at))


def save_times(save_at, t: float) -> np.ndarray:
    """The saved times of a run to ``t`` (the convention of the module docstring).

    Parameters
    ----------
    save_at : None | int >= 1 | float | sequence of floats in ``[0, t]``
    t : float >= 0 (already validated)

    Returns
    -------
    ndarray of float64, sorted, unique; ``[0]`` when ``t == 0``.

    Raises
    ------
    TypeError, ValueError
        A bool, a complex value, an int < 1, or times that are not finite or lie outside
        ``[0, t]`` (times up to ``t (1 + 1e-12)`` count as ``t``).
    """
    n_save_times(save_at)
    if save_at is None:
        ts = np.array([0.0, t])
    elif isinstance(save_at, (int, np.integer)):
        ts = np.linspace(0.0, t, int(save_at) + 1)
    else:
        try:
            ts = np.unique(np.asarray(save_at, dtype=np.float64).ravel())
        except (TypeError, ValueError):
            raise TypeError(f"`save_at` must be None, an int >= 1 or a sequence of times in [0, t]; "
                            f"got {save_at!r}.") from None
        if ts.size == 0 or not np.all(np.isfinite(ts)) or ts[0] < 0 or ts[-1] > t * (1 + 1e-12):
            raise ValueError(f"`save_at` times must be finite and in [0, t] = [0, {t:g}]; got {ts.tolist()}.")
        ts = np.minimum(ts, t)
    if t == 0.0:
        ts = np.array([0.0])
    return ts


def check_checkpoint_every(checkpoint_every):
    """Return ``checkpoint_every`` if it is a positive int (steps) or a positive float (seconds)."""
    if isinstance(checkpoint_every, (bool, np.bool_)) or \
            not isinstance(checkpoint_every, (int, float, np.integer, np.floating)) or not checkpoint_every > 0:
        raise ValueError(f"`checkpoint_every` must be a positive int (steps) or float (seconds); "
                         f"got {checkpoint_every!r}.")
    return checkpoint_every


def check_stops(max_steps, stop_at):
    """Validated ``(max_steps, stop_at)``: None, or a non-negative int / a non-negative time."""
    if max_steps is not None and (isinstance(max_steps, (bool, np.bool_))
                                  or not isinstance(max_steps, (int, np.integer)) or max_steps < 0):
        raise ValueError(f"`max_steps` must be a non-negative int; got {max_steps!r}.")
    if stop_at is not None:
        stop_at = check_nonnegative("stop_at", stop_at)
    return (None if max_steps is None else int(max_steps)), stop_at


def check_outcome(status: str, message: str, raise_on_failure: bool) -> None:
    """Raise the exception of a failed ``status`` (with ``message``) when ``raise_on_failure``."""
    if raise_on_failure and status in EXCEPTIONS:
        raise EXCEPTIONS[status](message)


class Clock:
    """``wall_time`` and ``compile_time`` the same way for every solver.

    Start it on entry; add the seconds spent compiling (:meth:`compiled`); ``wall_time`` is the time
    since the start minus the compile time.
    """

    def __init__(self):
        self.start = time.perf_counter()
        self.compile_time = 0.0

    def compiled(self, seconds: float) -> float:
        self.compile_time += float(seconds)
        return float(seconds)

    @property
    def wall_time(self) -> float:
        return time.perf_counter() - self.start - self.compile_time


class Observers:
    """The ``callback`` argument of the solvers: one callable or a sequence of callables, each called
    as ``callback(t, state)``; ``state`` is a read-only host copy of the state at time ``t`` (the array
    a solver also saves, on the user's grid).

    ``every=None``: called at every saved time; ``every=k`` (int >= 1): after steps ``0, k, 2k, ...``
    and at the final time (not where a run stops early or fails).  A call returning ``True`` (exactly
    a bool: a list returned by a plotting call does not stop the run) or raising ``StopIteration``
    asks the run to stop; the other observers of that time are still called.  Any other exception
    propagates.
    """

    def __init__(self, callback=None, every=None):
        if callback is None:
            self.fns = []
        elif callable(callback):
            self.fns = [callback]
        else:
            try:
                self.fns = list(callback)
            except TypeError:
                raise TypeError(f"`callback` must be a callable, a sequence of callables or None; "
                                f"got {type(callback).__name__}.") from None
            bad = [type(f).__name__ for f in self.fns if not callable(f)]
            if bad:
                raise TypeError(f"`callback` must be a callable, a sequence of callables or None; got a sequence "
                                f"holding {', '.join(bad)}.")
        if every is not None and (isinstance(every, (bool, np.bool_)) or not isinstance(every, (int, np.integer))
                                  or every < 1):
            raise ValueError(f"`callback_every` must be None (every saved time) or an int >= 1 (steps); "
                             f"got {every!r}.")
        self.every = None if every is None else int(every)
        self.calls = 0

    def __bool__(self) -> bool:
        return bool(self.fns)

    def __call__(self, t: float, state: np.ndarray) -> bool:
        """Call every observer with ``(t, state)``; True if one of them asks to stop."""
        view = state.view()
        view.flags.writeable = False
        stop = False
        for fn in self.fns:
            try:
                r = fn(float(t), view)
            except StopIteration:
                r = True
            stop = stop or (isinstance(r, (bool, np.bool_)) and bool(r))
        self.calls += 1
        return stop


class Progress:
    """A tqdm bar over simulated time (no-op when disabled or tqdm is missing)."""

    def __init__(self, enabled: bool, total: float, desc: str, initial: float = 0.0):
        self.bar = None
        self.n = float(initial)
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover
                return
            self.bar = tqdm(total=total, initial=initial, unit="time", desc=desc,
                            bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} [{elapsed}<{remaining}]")

    @property
    def enabled(self) -> bool:
        return self.bar is not None

    def update_to(self, t: float) -> None:
        if self.bar is not None and t > self.n:
            self.bar.update(t - self.n)
            self.n = t

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class Outcome:
    """What :meth:`March.run` returns: the run's status and saved states.

    ``ts``/``states``: saved times and host copies of the state; ``t``, ``n_steps``: reached;
    ``checkpoint_failures``: messages of checkpoint writes that failed (the run went on).
    """

    status: str
    ts: list
    states: list
    t: float
    n_steps: int
    checkpoint_failures: list = field(default_factory=list)


class March:
    """The time loop: save-time targets, progress, checkpoints, stops (see the module docstring).

    Parameters
    ----------
    t_final : float
    save_times : ndarray
        From :func:`save_times`.
    progress : bool
        Show a progress bar over simulated time.
    desc : str
        Its label.
    checkpoint : path or None
        Checkpoint file, written atomically every ``checkpoint_every``, when the run stops early
        and at the end (:mod:`solvers.checkpoint`).  A failed write warns
        (``CheckpointWarning``) and the run goes on.
    checkpoint_every : float (seconds) or int (steps)
    config : dict
        The run's settings, stored in the checkpoint; a resume with other settings is refused.
    max_steps : int, optional
        Stop (``"stopped"``) once this many steps have been taken in total.
    stop_at : float, optional
        Stop (``"stopped"``) after the first step that reaches ``t >= stop_at``.
    clock : Clock, optional
        For the checkpointed ``prev_wall`` (wall time of earlier runs).
    callback, callback_every :
        Observers (:class:`Observers`): called at every saved time, or every ``callback_every``
        steps; one returning ``True`` stops the run (``"stopped_by_callback"``).
    """

    def __init__(self, t_final: float, save_times: np.ndarray, *, progress: bool = False, desc: str = "",
                 checkpoint=None, checkpoint_every=60.0, config: Optional[dict] = None,
                 max_steps: Optional[int] = None, stop_at: Optional[float] = None, clock: Optional[Clock] = None,
                 callback=None, callback_every: Optional[int] = None):
        self.t_final = float(t_final)
        self.save_times = np.asarray(save_times, dtype=np.float64)
        self.progress = bool(progress)
        self.desc = desc
        self.checkpoint = checkpoint
        if checkpoint is not None:              # fail now, not after the first steps
            check_writable(checkpoint, argument="checkpoint")
        self.checkpoint_every = checkpoint_every
        self.config = config or {}
        self.max_steps = max_steps
        self.stop_at = stop_at
        self.clock = clock or Clock()
        self.observers = callback if isinstance(callback, Observers) else Observers(callback, callback_every)
        self.prev_wall = 0.0
        self._step_time = None       # measured seconds per step (None: not yet)
        self._last_n = 0

    # ---- chunking
    def _chunk(self, stepper, last_ck_wall, last_ck_step, last_cb_step) -> int:
        """Steps to ask for in the next :meth:`advance` call."""
        n = UNBOUNDED
        if self.max_steps is not None:
            n = min(n, self.max_steps - stepper.n_steps)
        if self.observers and self.observers.every is not None:
            n = min(n, max(1, self.observers.every - (stepper.n_steps - last_cb_step)))
        budget = math.inf
        if self.checkpoint is not None:
            if isinstance(self.checkpoint_every, (int, np.integer)):
                n = min(n, max(1, int(self.checkpoint_every) - (stepper.n_steps - last_ck_step)))
            else:
                budget = min(budget, float(self.checkpoint_every) - (time.perf_counter() - last_ck_wall))
        if self._bar.enabled:
            budget = min(budget, PROGRESS_SECONDS)
        if budget < math.inf:
            if self._step_time is None:
                n = min(n, 1)
            else:
                est = int(budget / self._step_time) if self._step_time > 0 else UNBOUNDED
                n = min(n, max(1, est), max(1, 4 * self._last_n))   # grow at most 4x per call
        return max(1, n)

    # ---- checkpoints
    def _write(self, stepper, ts, states, ti, failures):
        scalars, arrays = stepper.checkpoint_state()
        grid_shape = states[0].shape if states else stepper.state().shape
        try:
            write_checkpoint(self.checkpoint, config=self.config,
                             scalars={"t_now": stepper.t, "step": stepper.n_steps, "ti": ti, **scalars,
                                      "prev_wall": self.prev_wall + self.clock.wall_time},
                             arrays={**arrays, "ts": np.asarray(ts, dtype=np.float64),
                                     "us": np.stack(states) if states else np.zeros((0,) + tuple(grid_shape))})
        except OSError as e:   # a full disk or a vanished directory must not throw the computation away
            failures.append(f"step {stepper.n_steps}: {e}")
            warnings.warn(f"Writing the checkpoint {str(self.checkpoint)!r} failed at step {stepper.n_steps} "
                          f"(t = {stepper.t:.6g}): {e}. The run continues; the result is returned but that "
                          f"checkpoint is missing.", CheckpointWarning, stacklevel=4)

    def resume(self, stepper, path):
        """Restore the driver's and the stepper's state from the checkpoint ``path``; returns (ts, states, ti)."""
        cfg, sc, arrs = read_checkpoint(path)
        diffs = config_mismatch(cfg, self.config)
        if diffs:
            raise CheckpointError(f"`resume` checkpoint {str(path)!r} belongs to a different problem or settings: "
                                  + "; ".join(diffs))
        stepper.restore(sc, arrs)
        self.prev_wall = float(sc.get("prev_wall", 0.0))
        return [float(x) for x in arrs["ts"]], [a.copy() for a in arrs["us"]], int(sc["ti"])

    # ---- the loop
    def run(self, stepper, resume=None) -> Outcome:
        """March ``stepper`` to ``t_final``; see the module docstring."""
        ts, states, ti = [], [], 0
        obs = self.observers
        at_saves = bool(obs) and obs.every is None
        stop_cb = False
        if resume is not None:
            ts, states, ti = self.resume(stepper, resume)
        else:
            while ti < len(self.save_times) and self.save_times[ti] <= stepper.t:
                ts.append(float(self.save_times[ti]))
                states.append(stepper.state())
                if at_saves:
                    stop_cb = obs(ts[-1], states[-1]) or stop_cb
                ti += 1
            if obs and obs.every is not None:
                stop_cb = obs(stepper.t, stepper.state()) or stop_cb
        last_cb_step = stepper.n_steps
        failures: list = []
        self._bar = Progress(self.progress, self.t_final, self.desc, initial=stepper.t)
        last_ck_wall, last_ck_step = time.perf_counter(), stepper.n_steps
        status = "success"
        t_stop = math.inf if self.stop_at is None else float(self.stop_at)
        try:
            while stepper.t < self.t_final:
                if stop_cb:
                    status = "stopped_by_callback"
                    break
                if (self.max_steps is not None and stepper.n_steps >= self.max_steps) or stepper.t >= t_stop:
                    status = "stopped"
                    break
                target = float(self.save_times[ti]) if ti < len(self.save_times) else self.t_final
                n = self._chunk(stepper, last_ck_wall, last_ck_step, last_cb_step)
                n0, tt0, c0 = stepper.n_steps, stepper.t, time.perf_counter()
                status = stepper.advance(target, n, t_stop)
                taken = stepper.n_steps - n0
                if taken > 0:
                    self._step_time = (time.perf_counter() - c0) / taken
                    self._last_n = taken
                elif status == "success" and stepper.t == tt0:   # a stepper bug, not a user error
                    raise RuntimeError(f"{type(stepper).__name__}.advance({target!r}, {n}) took no step at "
                                       f"t = {tt0!r} and reported success")
                while ti < len(self.save_times) and self.save_times[ti] <= stepper.t:
                    ts.append(float(self.save_times[ti]))
                    states.append(stepper.state())
                    if at_saves and status == "success":
                        stop_cb = obs(ts[-1], states[-1]) or stop_cb
                    ti += 1
                if obs and obs.every is not None and status == "success" and taken > 0 and \
                        (stepper.n_steps - last_cb_step >= obs.every or stepper.t >= self.t_final):
                    stop_cb = obs(stepper.t, stepper.state()) or stop_cb
                    last_cb_step = stepper.n_steps
                self._bar.update_to(stepper.t)
                if status != "success":
                    break
                if self.checkpoint is not None:
                    if isinstance(self.checkpoint_every, (int, np.integer)):
                        due = stepper.n_steps - last_ck_step >= self.checkpoint_every
                    else:
                        due = time.perf_counter() - last_ck_wall >= float(self.checkpoint_every)
                    if due and stepper.t < self.t_final:
                        self._write(stepper, ts, states, ti, failures)
                        last_ck_wall, last_ck_step = time.perf_counter(), stepper.n_steps
        finally:
            self._bar.close()
        if self.checkpoint is not None and status in ("success", "stopped", "stopped_by_callback"):
            self._write(stepper, ts, states, ti, failures)
        return Outcome(status=status, ts=ts, states=states, t=float(stepper.t), n_steps=int(stepper.n_steps),
                       checkpoint_failures=failures)
