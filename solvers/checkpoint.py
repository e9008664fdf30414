"""Atomic, checksummed HDF5 checkpoints for time-stepping solvers.

A checkpoint is one HDF5 file with

* ``/arrays/<name>``: datasets (the state, saved snapshots, ...);
* attribute ``config``: a JSON string describing the run (used to refuse a resume
  with different settings);
* attribute ``scalars``: a JSON string of scalars (time, step count, dt history, ...);
  floats are stored with ``repr`` so that they round-trip bit for bit;
* attribute ``sha256``: a checksum of the config, the scalars and every array
  (dtype, shape and bytes), verified by :func:`read_checkpoint`.

:func:`write_checkpoint` writes to a unique temporary file in the same directory
and renames it over the target (:func:`solvers._files.atomic_path`), so a crash
never leaves a half-written checkpoint behind and concurrent writers never collide.
It refuses to replace a file that is not a deeprelax HDF5 file.  h5py is imported lazily.
"""
from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path

import numpy as np

from ._files import atomic_path
from .errors import CheckpointError, CheckpointWarning
from .jsonable import decode, encode

FORMAT = "deeprelax-checkpoint"
#: 3: metadata in the encoding of :mod:`solvers.jsonable` (tuples kept); 2 (every float tagged) still reads.
VERSION = 3


def checksum(config_json: str, scalars_json: str, arrays: dict) -> str:
    """SHA-256 of the JSON config and scalars and of every array (name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    h.update(config_json.encode())
    h.update(b"\0")
    h.update(scalars_json.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}|{a.dtype.str}|{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_checkpoint(path, *, config: dict, scalars: dict, arrays: dict) -> Path:
    """Write a checksummed checkpoint atomically (unique temporary file + :func:`os.replace`).

    Parameters
    ----------
    path : str or PathLike
    config : dict of JSON-able values (floats are kept exactly)
    scalars : dict of JSON-able values
    arrays : dict name -> ndarray

    Returns
    -------
    Path of the checkpoint.

    Raises
    ------
    OSError
        The file cannot be written (the temporary file is removed); ``FileExistsError``
        if ``path`` is a file that is not a deeprelax HDF5 file.
    """
    import h5py

    cfg, sc = json.dumps(encode(config)), json.dumps(encode(scalars))
    arrs = {k: np.asarray(v) for k, v in arrays.items()}
    with atomic_path(path, argument="checkpoint") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["config"] = cfg
            f.attrs["scalars"] = sc
            f.attrs["sha256"] = checksum(cfg, sc, arrs)
            grp = f.create_group("arrays")
            for name, arr in arrs.items():
                grp.create_dataset(name, data=arr)
            f.flush()
    return Path(path)


def read_checkpoint(path):
    """Read and verify a checkpoint written by :func:`write_checkpoint`.

    Returns
    -------
    config : dict
    scalars : dict
    arrays : dict name -> ndarray

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError (a ValueError)
        If the file is not a readable deeprelax checkpoint (empty, truncated, random
        bytes, another format) or its checksum does not match its contents.  The
        message names ``resume`` and the file.

    Warns
    -----
    CheckpointWarning
        A version-1 checkpoint (written before checksums existed) is read unverified.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"`resume` checkpoint {str(path)!r} does not exist.")
    if path.is_dir():
        raise CheckpointError(f"`resume` {str(path)!r} is a directory, not a checkpoint file.")
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if fmt != FORMAT:
                raise CheckpointError(f"`resume` file {str(path)!r} is not a {FORMAT} file "
                                      f"(format attribute {fmt!r}).")
            cfg, sc = f.attrs["config"], f.attrs["scalars"]
            cfg = cfg.decode() if isinstance(cfg, bytes) else str(cfg)
            sc = sc.decode() if isinstance(sc, bytes) else str(sc)
            arrays = {k: f["arrays"][k][()] for k in f["arrays"].keys()}
            stored = f.attrs.get("sha256")
            version = int(f.attrs.get("version", 1))
    except CheckpointError:
        raise
    except Exception as e:  # h5py raises OSError / KeyError / ValueError for broken files
        size = path.stat().st_size
        raise CheckpointError(f"`resume` file {str(path)!r} ({size} bytes) is not a readable deeprelax "
                              f"checkpoint (empty, truncated or corrupted): {type(e).__name__}: {e}") from None
    if stored is None:
        if version >= 2:
            raise CheckpointError(f"`resume` file {str(path)!r} has no checksum (sha256 attribute); it is "
                                  f"damaged or was not written by deeprelax.")
        warnings.warn(f"`resume` file {str(path)!r} is a version-{version} checkpoint without a checksum; "
                      f"its integrity cannot be verified.", CheckpointWarning, stacklevel=3)
    else:
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if checksum(cfg, sc, arrays) != stored:
            raise CheckpointError(f"`resume` file {str(path)!r} is corrupted: its contents do not match the "
                                  f"stored checksum (sha256). Resume from an intact checkpoint or start over.")
    try:
        return decode(json.loads(cfg)), decode(json.loads(sc)), arrays
    except ValueError as e:
        raise CheckpointError(f"`resume` file {str(path)!r} has unreadable metadata: {e}") from None


def _canonical(v):
    """JSON text of ``v`` with tuples as lists (a version-2 checkpoint read its tuples back as lists)."""
    def lists(x):
        if isinstance(x, (list, tuple)):
            return [lists(y) for y in x]
        if isinstance(x, dict):
            return {str(k): lists(y) for k, y in x.items()}
        return x
    return json.dumps(encode(lists(v)), sort_keys=True)


def config_mismatch(saved: dict, current: dict) -> list:
    """Keys whose values differ between two configs (floats compared exactly, NaN == NaN)."""
    diffs = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k, "<missing>"), current.get(k, "<missing>")
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if _canonical(a) != _canonical(b):
            diffs.append(f"{k}: checkpoint {a!r} vs now {b!r}")
    return diffs
