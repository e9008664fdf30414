"""Atomic HDF5 checkpoints for time-stepping solvers.

A checkpoint is one HDF5 file with

* ``/arrays/<name>``: datasets (the state, saved snapshots, ...);
* attribute ``config``: a JSON string describing the run (used to refuse a resume
  with different settings);
* attribute ``scalars``: a JSON string of scalars (time, step count, dt history, ...);
  floats are stored with ``repr`` so that they round-trip bit for bit.

:func:`write_checkpoint` writes to a temporary file in the same directory and
renames it over the target with :func:`os.replace`, so a crash never leaves a
half-written checkpoint behind.  h5py is imported lazily.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

FORMAT = "deeprelax-checkpoint"
VERSION = 1


def _enc(v):
    if isinstance(v, (float, np.floating)):
        return {"__float__": repr(float(v))}
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _enc(x) for k, x in v.items()}
    return v


def _dec(v):
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: _dec(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


def write_checkpoint(path, *, config: dict, scalars: dict, arrays: dict) -> Path:
    """Write a checkpoint atomically (temporary file + :func:`os.replace`).

    Parameters
    ----------
    path : str or PathLike
    config : dict of JSON-able values (floats are kept exactly)
    scalars : dict of JSON-able values
    arrays : dict name -> ndarray

    Returns
    -------
    Path of the checkpoint.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["config"] = json.dumps(_enc(config))
            f.attrs["scalars"] = json.dumps(_enc(scalars))
            grp = f.create_group("arrays")
            for name, arr in arrays.items():
                grp.create_dataset(name, data=np.asarray(arr))
            f.flush()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path):
    """Read a checkpoint written by :func:`write_checkpoint`.

    Returns
    -------
    config : dict
    scalars : dict
    arrays : dict name -> ndarray

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a deeprelax checkpoint.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"`resume` checkpoint {str(path)!r} does not exist.")
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"`resume` file {str(path)!r} is not a {FORMAT} file "
                             f"(format attribute {f.attrs.get('format')!r}).")
        config = _dec(json.loads(f.attrs["config"]))
        scalars = _dec(json.loads(f.attrs["scalars"]))
        arrays = {k: f["arrays"][k][()] for k in f["arrays"].keys()}
    return config, scalars, arrays


def config_mismatch(saved: dict, current: dict) -> list:
    """Keys whose values differ between two configs (floats compared exactly, NaN == NaN)."""
    diffs = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k, "<missing>"), current.get(k, "<missing>")
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if _dec(_enc(a)) != _dec(_enc(b)):
            diffs.append(f"{k}: checkpoint {a!r} vs now {b!r}")
    return diffs
