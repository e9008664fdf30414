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

import dataclasses
import itertools
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from solvers.result import Result, register_result

__all__ = ["sweep", "SweepResult", "SweepResults", "expand_grid", "default_workers"]


@register_result
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
        Seconds ``fn`` ran (measured where it ran: compute, not queueing or transfer).
    index : int
        Position in the input order.
    extra : dict
        ``"turnaround"``: seconds from submission to the result as seen by the caller (queueing included).
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


@register_result
@dataclass(frozen=True, repr=False)
class SweepResults(Result):
    """The tasks of a sweep, in input order: a sequence of :class:`SweepResult` (index, iterate, ``len``).

    ``to_dataframe()`` gives one row per task (the parameters, the value or its scalar fields, ``error``,
    ``wall_time``); ``to_xarray()`` the same indexed by the parameters (a grid sweep becomes an
    N-dimensional array); ``plot(x, y="value", hue=None)`` draws ``y`` against the parameter ``x``, one
    line per ``hue`` value.  ``dr.io.save(results, path)`` writes every task (values that are results,
    arrays, dicts or scalars).  pandas/xarray: the optional extra ``deeprelax[xarray]``.
    """

    tasks: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i):
        return self.tasks[i]

    def __iter__(self):
        return iter(self.tasks)

    def to_dataframe(self):
        """pandas DataFrame, one row per task (see the class docstring)."""
        from solvers.views import require

        pd = require("pandas", "SweepResults.to_dataframe()")
        return pd.DataFrame(_rows(self.tasks)).set_index("index")

    def to_xarray(self):
        """xarray Dataset indexed by the swept parameters."""
        from solvers.views import require

        require("xarray", "SweepResults.to_xarray()")
        df = self.to_dataframe()
        keys = list(dict.fromkeys(k for r in self.tasks for k in r.params))
        return df.reset_index().set_index(keys).to_xarray()


def _rows(tasks) -> list:
    """One dict per task: parameters, value (dicts of scalars expanded), error, wall time."""
    import numbers

    rows = []
    for r in tasks:
        row = {"index": r.index, **r.params}
        v = r.value
        if isinstance(v, dict) and all(isinstance(x, (numbers.Number, str)) for x in v.values()):
            row.update({(k if k not in r.params else f"value.{k}"): x for k, x in v.items()})
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            row["value"] = v
            for k in ("t", "beta", "status", "wall_time"):
                if isinstance(getattr(v, k, None), (numbers.Number, str)) and k not in r.params:
                    row[f"value.{k}"] = getattr(v, k)
        else:
            row["value"] = v
        row["error"] = r.error
        row["wall_time"] = r.wall_time
        rows.append(row)
    return rows


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
    """Run one task where the executor puts it; returns (value, seconds of compute)."""
    t0 = time.perf_counter()
    value = fn(**params)
    return value, time.perf_counter() - t0


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
        Show a tqdm bar over completed tasks (also for ``executor="serial"``).

    Returns
    -------
    SweepResults
        A sequence of :class:`SweepResult` in the order of the expanded grid (``res[i].value``,
        ``res[i].wall_time`` = compute seconds of task i), with ``to_dataframe()``, ``to_xarray()``,
        ``plot(x, y)`` and ``dr.io.save`` support.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}.")
    tasks = expand_grid(grid_of_params)
    results = [SweepResult(params=p, index=i) for i, p in enumerate(tasks)]
    if not tasks:
        return SweepResults(results)
    errors = {}
    if executor == "serial":
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
                bar = tqdm(total=len(results), desc="sweep")
            except ImportError:  # pragma: no cover
                pass
        try:
            for r in results:
                t0 = time.perf_counter()
                try:
                    r.value = fn(**r.params)
                except Exception as e:  # noqa: BLE001 - recorded and optionally re-raised
                    errors[r.index] = e
                    r.error = f"{type(e).__name__}: {e}"
                r.wall_time = time.perf_counter() - t0
                r.extra["turnaround"] = r.wall_time
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
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
                    r.value, r.wall_time = f.result()
                except Exception as e:  # noqa: BLE001
                    errors[r.index] = e
                    r.error = f"{type(e).__name__}: {e}"
                r.extra["turnaround"] = time.perf_counter() - t0
        finally:
            if own:
                ex.shutdown(wait=True)
    if errors and raise_errors:
        i = min(errors)
        raise errors[i]
    return SweepResults(results)
