"""Resumable grid points: each finished point is one HDF5 file, written atomically by the worker.

:func:`run_points` takes the grid points of an experiment (dicts of JSON-able parameters), skips
those whose file in ``out/points/`` already exists with the same parameters, runs the rest through
:func:`deeprelax.sweep` (serial, a process pool, threads or a Dask executor, unchanged) and returns every
point's result dict in grid order.  A point's file name is a hash of the experiment name and its
parameters, so a changed grid never reuses a stale result.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from pathlib import Path

import h5py
import numpy as np

from solvers._files import atomic_path

__all__ = ["run_points", "point_path", "save_dict", "load_dict"]


def _key(name: str, params: dict) -> str:
    blob = json.dumps({"experiment": name, **params}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def point_path(out, name: str, params: dict) -> Path:
    """File of one grid point: ``out/points/<name>-<hash>.h5``."""
    return Path(out) / "points" / f"{name}-{_key(name, params)}.h5"


def save_dict(path, values: dict, attrs: dict | None = None) -> Path:
    """Write a flat dict of arrays / numbers / strings to HDF5 atomically (:func:`solvers._files.atomic_path`)."""
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        for k, v in values.items():
            if isinstance(v, str):
                f.attrs[k] = v
            else:
                f.create_dataset(k, data=np.asarray(v))
        for k, v in (attrs or {}).items():
            f.attrs[k] = json.dumps(v, default=str)
    return path


def load_dict(path) -> tuple:
    """``(values, attrs)`` of a file written by :func:`save_dict`."""
    vals, attrs = {}, {}
    with h5py.File(path, "r") as f:
        for k in f:
            a = f[k][()]
            vals[k] = a.item() if isinstance(a, np.ndarray) and a.ndim == 0 else a
        for k, v in f.attrs.items():
            if k in ("params", "meta"):
                attrs[k] = json.loads(v)
            else:
                vals[k] = v
    return vals, attrs


def _run_and_save(fn, name, out, /, **params):
    t0 = time.perf_counter()
    res = fn(**params)
    res["wall_s"] = time.perf_counter() - t0
    save_dict(point_path(out, name, params), res, {"params": params})
    return res


def run_points(name: str, fn, points: list, out, executor="serial", progress: bool = True) -> list:
    """Results of ``fn(**p)`` for every grid point ``p``, computing only the points not yet on disk.

    Parameters
    ----------
    name : str
        Experiment name (part of the file names).
    fn : callable
        Module-level (picklable) function of the point's keyword arguments returning a dict of arrays
        and numbers; it runs in the executor's workers, which also write the point's file.
    points : list of dict
    out : path
    executor : "serial", None (a local process pool) or a ``concurrent.futures.Executor``
        (``ThreadPoolExecutor``, ``ProcessPoolExecutor``, ``dask.distributed.Client.get_executor()``).
    progress : bool
        A progress bar over the points computed now.

    Returns
    -------
    list of dict (the point's results, plus ``wall_s``, and ``cached`` True for points read from disk)
    """
    from ..sweep import sweep

    out = Path(out)
    todo = [p for p in points if not point_path(out, name, p).exists()]
    if todo:
        job = functools.partial(_run_and_save, fn, name, str(out))
        if executor == "serial" and progress:
            from tqdm.auto import tqdm

            for p in tqdm(todo, desc=name, leave=False):
                job(**p)
        else:
            sweep(job, todo, executor=executor, progress=progress)
    done = {id(p) for p in todo}
    results = []
    for p in points:
        vals, attrs = load_dict(point_path(out, name, p))
        vals["cached"] = id(p) not in done
        results.append(vals)
    return results
