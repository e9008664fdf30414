"""HDF5 input/output for every result dataclass.

``save(result, path)`` writes each field: arrays as datasets, scalars and
strings as attributes, a :class:`~solvers.grid.Grid` as a group, dicts as
groups (recursively), lists of arrays as groups of numbered datasets.  The file
also records the result class, the package version and the creation time.
``load(path)`` rebuilds the same class with every field equal to what was
saved.  Writes are atomic: data goes to ``path + ".tmp"`` first and is renamed.
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

from solvers.grid import Grid
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
    elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
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
        group.attrs[name] = json.dumps(_jsonable(value))


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return {"__float__": repr(f)} if not np.isfinite(f) else f
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (list, tuple)):
        return {"__seq__": type(v).__name__, "items": [_jsonable(x) for x in v]}
    if isinstance(v, dict):
        return {"__dict__": {str(k): _jsonable(x) for k, x in v.items()}}
    return v


def _unjson(v: Any) -> Any:
    if isinstance(v, dict):
        if "__float__" in v:
            return float(v["__float__"])
        if "__seq__" in v:
            items = [_unjson(x) for x in v["items"]]
            return tuple(items) if v["__seq__"] == "tuple" else items
        if "__dict__" in v:
            return {k: _unjson(x) for k, x in v["__dict__"].items()}
    return v


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
        out.update({k: _unjson(json.loads(v)) for k, v in obj.attrs.items() if k != "__kind__"})
        return out
    return _unjson(json.loads(group.attrs[name]))


def _write_result(g: h5py.Group, result: Any) -> None:
    g.attrs["__class__"] = type(result).__name__
    for f in dataclasses.fields(result):
        _write(g, f.name, getattr(result, f.name))


def _read_result(g: h5py.Group) -> Any:
    name = g.attrs["__class__"]
    if name not in RESULT_TYPES:
        _import_result_modules()
    if name not in RESULT_TYPES:
        raise ValueError(f"Unknown result class {name!r} in HDF5 file; known: {sorted(RESULT_TYPES)}.")
    cls = RESULT_TYPES[name]
    kwargs = {f.name: _read(g, f.name) for f in dataclasses.fields(cls)
              if f.name in g or f.name in g.attrs}
    return cls(**kwargs)


def _import_result_modules() -> None:
    """Import every module that defines result classes, so they are registered."""
    import importlib
    import pkgutil

    import solvers
    import deeprelax

    for pkg in (solvers, deeprelax):
        for mod in pkgutil.iter_modules(pkg.__path__):
            if mod.name in ("cli", "__main__"):
                continue
            try:
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
            except ImportError:
                pass


def save(result: Any, path: str | os.PathLike, *, attrs: dict | None = None) -> Path:
    """Write ``result`` (any registered result dataclass) to the HDF5 file ``path``.

    ``attrs`` adds user metadata (JSON-serialisable values).  The write is atomic.
    Returns the path written.
    """
    if not (dataclasses.is_dataclass(result) and not isinstance(result, type)):
        raise TypeError(f"`result` must be a result dataclass; got {type(result).__name__}.")
    from deeprelax import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as h:
        h.attrs["deeprelax_version"] = __version__
        h.attrs["format_version"] = FORMAT_VERSION
        h.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
        h.attrs["user_attrs"] = json.dumps(_jsonable(attrs or {}))
        g = h.create_group("result")
        _write_result(g, result)
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike) -> Any:
    """Read a result written by :func:`save`; returns an instance of the same class."""
    with h5py.File(path, "r") as h:
        if "result" not in h:
            raise ValueError(f"{path} is not a deeprelax result file (no 'result' group).")
        return _read_result(h["result"])


def metadata(path: str | os.PathLike) -> dict:
    """File-level attributes: version, format, creation time and user attrs."""
    with h5py.File(path, "r") as h:
        return {"deeprelax_version": h.attrs["deeprelax_version"],
                "format_version": int(h.attrs["format_version"]),
                "created": h.attrs["created"],
                "attrs": _unjson(json.loads(h.attrs["user_attrs"]))}
