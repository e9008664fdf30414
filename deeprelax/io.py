"""HDF5 input/output for every result dataclass.

``save(result, path)`` writes each field: arrays as datasets, scalars and
strings as attributes, a :class:`~solvers.grid.Grid` as a group, dicts as
groups (recursively), lists of arrays as groups of numbered datasets.  The file
also records the result class, the package version and the creation time.
``load(path)`` rebuilds the same class with every field equal to what was
saved, after checking that the arrays have the shapes their grid implies.

Writes are atomic and safe under concurrency: data goes to a unique temporary
file in the target directory, which is renamed over ``path`` (and removed if
anything fails); see :mod:`solvers._files`.  An existing file that is not an HDF5
file written by deeprelax is never replaced unless ``overwrite=True``.

Loading imports only the module that defines the stored result class (recorded
in the file; a table covers files written before that), never CUDA code.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from solvers._files import atomic_path
from solvers.grid import Grid
from solvers.jsonable import decode, encode
from solvers.result import RESULT_TYPES

FORMAT_VERSION = 1


def _write(group: h5py.Group, name: str, value: Any) -> None:
    if isinstance(value, Grid):
        g = group.create_group(name)
        g.attrs["__kind__"] = "grid"
        g.attrs["json"] = json.dumps(value.to_dict())
    elif isinstance(value, np.ndarray):
        group.create_dataset(name, data=value)
    elif isinstance(value, dict):
        g = group.create_group(name)
        g.attrs["__kind__"] = "dict"
        for k, v in value.items():
            _write(g, str(k), v)
    elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) or _is_result(v) for v in value):
        g = group.create_group(name)
        g.attrs["__kind__"] = "list" if isinstance(value, list) else "tuple"
        g.attrs["n"] = len(value)
        for i, v in enumerate(value):
            _write(g, str(i), v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        g = group.create_group(name)
        g.attrs["__kind__"] = "result"
        _write_result(g, value)
    else:
        # scalars, strings, None, small lists: JSON keeps type and inf/nan
        group.attrs[name] = json.dumps(encode(value))


def _is_result(v: Any) -> bool:
    return dataclasses.is_dataclass(v) and not isinstance(v, type)


def _read(group: h5py.Group, name: str) -> Any:
    if name in group:
        obj = group[name]
        if isinstance(obj, h5py.Dataset):
            arr = obj[()]
            return arr if isinstance(arr, np.ndarray) else np.asarray(arr)
        kind = obj.attrs.get("__kind__", "dict")
        if kind == "grid":
            return Grid.from_dict(json.loads(obj.attrs["json"]))
        if kind == "result":
            return _read_result(obj)
        if kind in ("list", "tuple"):
            items = [_read(obj, str(i)) for i in range(int(obj.attrs["n"]))]
            return items if kind == "list" else tuple(items)
        out = {k: _read(obj, k) for k in obj.keys()}
        out.update({k: decode(json.loads(v)) for k, v in obj.attrs.items() if k != "__kind__"})
        return out
    return decode(json.loads(group.attrs[name]))


def _write_result(g: h5py.Group, result: Any) -> None:
    g.attrs["__class__"] = type(result).__name__
    g.attrs["__module__"] = type(result).__module__
    for f in dataclasses.fields(result):
        _write(g, f.name, getattr(result, f.name))


#: Result class -> defining module, for files written before the module was recorded in the file.
KNOWN_MODULES = {
    "HopfLaxResult": "solvers.result", "ColeHopfResult": "solvers.result", "HJResult": "solvers.hj",
    "FPResult": "solvers.fokker_planck", "ProxResult": "deeprelax.prox", "Trajectory": "deeprelax.dynamics",
    "LocalEntropyResult": "deeprelax.local_entropy", "DiffusionMatrix": "deeprelax.sgd_noise",
    "SGDSteadyState": "deeprelax.sgd_noise", "Fig1Result": "deeprelax.fig1", "FigureData": "deeprelax.plot",
}
_PACKAGES = ("solvers", "deeprelax")


def _result_class(g: h5py.Group):
    """The registered class of a stored result, importing only its defining module (never CUDA code)."""
    import importlib

    name = g.attrs["__class__"]
    if name not in RESULT_TYPES:
        candidates = [g.attrs.get("__module__"), KNOWN_MODULES.get(name)]
        for mod in candidates:
            if not isinstance(mod, str) or mod.split(".")[0] not in _PACKAGES or "_cuda" in mod:
                continue
            try:
                importlib.import_module(mod)
            except ImportError:
                continue
            if name in RESULT_TYPES:
                break
    if name not in RESULT_TYPES:
        raise ValueError(f"Unknown result class {name!r} in HDF5 file; known: {sorted(RESULT_TYPES)}. "
                         f"Import the module that defines it (and registers it with "
                         f"solvers.result.register_result) before loading.")
    return RESULT_TYPES[name]


def _read_result(g: h5py.Group) -> Any:
    cls = _result_class(g)
    kwargs = {f.name: _read(g, f.name) for f in dataclasses.fields(cls)
              if f.name in g or f.name in g.attrs}
    return cls(**kwargs)


def _check_shapes(result: Any, where: str) -> None:
    """Arrays of a loaded result must have the shapes its grid implies (hand-edited or damaged files)."""
    grid = getattr(result, "grid", None)
    if not isinstance(grid, Grid):
        return
    shape, d = tuple(grid.shape), grid.dim
    want = {"u": shape, "rho": shape, "grad": shape + (d,), "prox": shape + (d,), "mean": shape + (d,)}
    ts = getattr(result, "ts", None)
    m = len(ts) if isinstance(ts, np.ndarray) and ts.ndim == 1 else None
    if m is not None:
        want.update({"us": (m,) + shape, "rhos": (m,) + shape})
    for name, sh in want.items():
        v = getattr(result, name, None)
        if isinstance(v, np.ndarray) and v.shape != sh and not (name in ("us", "rhos") and v.shape[0] == 0):
            raise ValueError(f"{where}: field `{name}` of the stored {type(result).__name__} has shape {v.shape}, "
                             f"but its grid {shape} needs {sh}; the file was edited or damaged.")


def save(result: Any, path: str | os.PathLike, *, attrs: dict | None = None, overwrite: bool = False) -> Path:
    """Write ``result`` (any registered result dataclass) to the HDF5 file ``path``.

    ``attrs`` adds user metadata (JSON-serialisable values).  The write is atomic (unique
    temporary file + rename; concurrent writers of the same path never collide and a reader
    sees a complete file).  Returns the path written.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not an HDF5 file written by deeprelax (nor empty), unless
        ``overwrite=True``; deeprelax result and checkpoint files are replaced.
    IsADirectoryError, NotADirectoryError, PermissionError, OSError
        ``path`` cannot be written (message names ``path``); no temporary file is left.
    """
    if not (dataclasses.is_dataclass(result) and not isinstance(result, type)):
        raise TypeError(f"`result` must be a result dataclass; got {type(result).__name__}.")
    from deeprelax import __version__

    path = Path(path)
    with atomic_path(path, argument="path", overwrite=overwrite,
                     fix="Choose another path, delete the file, or pass overwrite=True") as tmp:
        with h5py.File(tmp, "w") as h:
            h.attrs["deeprelax_version"] = __version__
            h.attrs["format_version"] = FORMAT_VERSION
            h.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
            h.attrs["user_attrs"] = json.dumps(encode(attrs or {}))
            g = h.create_group("result")
            _write_result(g, result)
    return path


def _open(path):
    """``h5py.File(path, "r")`` with errors that name the file instead of raw h5py ones."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"`path` {str(p)!r} does not exist.")
    if p.is_dir():
        raise IsADirectoryError(f"`path` {str(p)!r} is a directory, not a result file.")
    try:
        return h5py.File(p, "r")
    except OSError as e:
        raise ValueError(f"`path` {str(p)!r} ({p.stat().st_size} bytes) is not a readable HDF5 file (empty, "
                         f"truncated or not HDF5): {e}") from None


def load(path: str | os.PathLike) -> Any:
    """Read a result written by :func:`save`; returns an instance of the same class.

    Raises ``FileNotFoundError``, or ``ValueError`` naming the file when it is not a readable
    deeprelax result (not HDF5, truncated, no ``result`` group, unknown class, arrays whose
    shapes do not match their grid).
    """
    with _open(path) as h:
        if "result" not in h:
            raise ValueError(f"`path` {str(path)!r} is not a deeprelax result file (no 'result' group).")
        try:
            result = _read_result(h["result"])
        except (KeyError, TypeError, OSError, json.JSONDecodeError) as e:
            raise ValueError(f"`path` {str(path)!r}: the stored result is incomplete or damaged "
                             f"({type(e).__name__}: {e}).") from None
    _check_shapes(result, f"`path` {str(path)!r}")
    return result


def metadata(path: str | os.PathLike) -> dict:
    """File-level attributes: version, format, creation time and user attrs."""
    with _open(path) as h:
        return {"deeprelax_version": h.attrs["deeprelax_version"],
                "format_version": int(h.attrs["format_version"]),
                "created": h.attrs["created"],
                "attrs": decode(json.loads(h.attrs["user_attrs"]))}
