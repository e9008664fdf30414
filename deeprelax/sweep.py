"""Parameter sweeps on any :class:`concurrent.futures.Executor`.

:func:`sweep` maps a function over a grid of keyword arguments and returns the results in input
order, each with its parameters.  The executor is pluggable:

* default: a local :class:`~concurrent.futures.ProcessPoolExecutor` with
  ``min(number of tasks, usable CPU cores)`` workers (``executor="serial"`` runs in-process);
* any ``concurrent.futures.Executor`` (``ThreadPoolExecutor`` for Numba kernels that release the GIL,
  ``ProcessPoolExecutor`` for pure-Python work);
* a ``dask.distributed`` cluster, unchanged::

      from dask.distributed import Client
      client = Client("scheduler-address:8786")        # or Client(LocalCluster(...))
      results = dr.sweep(run_case, {"beta": [1, 10, 100], "seed": range(8)},
                         executor=client.get_executor())

  ``Client.get_executor()`` returns a ``concurrent.futures.Executor`` whose futures run on the
  cluster's workers, so sweeps scale past one machine without code changes.

With a process-based or remote executor ``fn`` must be picklable (a module-level function, or a
``functools.partial`` of one); lambdas work only with threads or ``"serial"``.
"""
from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["sweep", "SweepResult", "expand_grid", "default_workers"]


@dataclass
class SweepResult:
    """One task of a sweep.

    Attributes
    ----------
    params : dict
        The keyword arguments the task ran with.
    value : Any
        ``fn(**params)`` (None if it raised and ``raise_errors=False``).
    error : str or None
        ``"ExceptionType: message"`` when the task raised (``raise_errors=False``).
    wall_time : float
        Seconds from submission to completion as seen by the caller (includes queueing).
    index : int
        Position in the input order.
    """

    params: dict
    value: Any = None
    error: str | None = None
    wall_time: float = 0.0
    index: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def expand_grid(grid_of_params) -> list:
    """A dict of lists -> list of dicts (cartesian product, last key fastest); a list of dicts -> a copy.

    A dict value that is a string or not iterable is treated as a single value.
    """
    if isinstance(grid_of_params, Mapping):
        keys = list(grid_of_params)
        vals = []
        for k in keys:
            v = grid_of_params[k]
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                v = [v]
            vals.append(list(v))
        return [dict(zip(keys, combo)) for combo in itertools.product(*vals)]
    if isinstance(grid_of_params, Sequence) or hasattr(grid_of_params, "__iter__"):
        out = []
        for i, p in enumerate(grid_of_params):
            if not isinstance(p, Mapping):
                raise TypeError(f"`grid_of_params` as a list must hold dicts of keyword arguments; "
                                f"item {i} is {type(p).__name__}.")
            out.append(dict(p))
        return out
    raise TypeError(f"`grid_of_params` must be a dict of lists or a list of dicts; got {type(grid_of_params).__name__}.")


def default_workers(n_tasks: int) -> int:
    """``min(n_tasks, usable cores)`` (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return max(1, min(int(n_tasks), cores))


def _call(fn, params):
    return fn(**params)


def sweep(fn: Callable, grid_of_params, executor: Executor | str | None = None, *, raise_errors: bool = True,
          progress: bool = False) -> list:
    """Run ``fn(**params)`` for every parameter set, on ``executor``; results in input order.

    Parameters
    ----------
    fn : callable
        Called with keyword arguments; must be picklable for process/remote executors.
    grid_of_params : dict of lists, or list of dicts
        A dict gives the cartesian product of its values (see :func:`expand_grid`).
    executor : concurrent.futures.Executor, "serial" or None
        None: a local ``ProcessPoolExecutor(default_workers(n))`` created and shut down here;
        ``"serial"``: run in this process; otherwise any Executor (it is not shut down), e.g. a
        ``ThreadPoolExecutor`` or ``dask.distributed.Client(...).get_executor()``.
    raise_errors : bool
        Re-raise the first failing task's exception (in input order) after all tasks finished;
        with False the failures are recorded in ``SweepResult.error``.
    progress : bool
        Show a tqdm bar over completed tasks.

    Returns
    -------
    list of SweepResult, in the order of the expanded grid.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}.")
    tasks = expand_grid(grid_of_params)
    results = [SweepResult(params=p, index=i) for i, p in enumerate(tasks)]
    if not tasks:
        return results
    errors = {}
    if executor == "serial":
        for r in results:
            t0 = time.perf_counter()
            try:
                r.value = fn(**r.params)
            except Exception as e:  # noqa: BLE001 - recorded and optionally re-raised
                errors[r.index] = e
                r.error = f"{type(e).__name__}: {e}"
            r.wall_time = time.perf_counter() - t0
    else:
        own = executor is None
        if executor is not None and not isinstance(executor, Executor) and not hasattr(executor, "submit"):
            raise TypeError(f"`executor` must be a concurrent.futures.Executor, 'serial' or None; got {executor!r}.")
        ex = ProcessPoolExecutor(max_workers=default_workers(len(tasks))) if own else executor
        try:
            t0 = time.perf_counter()
            futs = [ex.submit(_call, fn, r.params) for r in results]
            it = futs
            if progress:
                try:
                    from concurrent.futures import as_completed

                    from tqdm.auto import tqdm
                    for _ in tqdm(as_completed(futs), total=len(futs)):
                        pass
                except ImportError:  # pragma: no cover
                    pass
            for r, f in zip(results, it):
                try:
                    r.value = f.result()
                except Exception as e:  # noqa: BLE001
                    errors[r.index] = e
                    r.error = f"{type(e).__name__}: {e}"
                r.wall_time = time.perf_counter() - t0
        finally:
            if own:
                ex.shutdown(wait=True)
    if errors and raise_errors:
        i = min(errors)
        raise errors[i]
    return results
