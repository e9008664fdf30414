"""The one JSON encoding of the package: floats bit for bit (``inf`` and ``nan`` too), tuples kept.

Used for the metadata of checkpoints (:mod:`solvers.checkpoint`) and of result files
(:mod:`deeprelax.io`).  :func:`encode` maps a value built of numbers, strings, ``None``,
lists, tuples and dicts (NumPy scalars included) to plain JSON types:

* a finite float stays a JSON number (``json`` writes ``repr``, which reads back bit for bit);
  ``inf``, ``-inf`` and ``nan`` become ``{"__float__": "inf"}`` etc.;
* a list or a tuple becomes ``{"__seq__": "list" | "tuple", "items": [...]}``; a NumPy array is
  encoded as its ``tolist()`` (it reads back as nested lists);
* a dict becomes ``{"__dict__": {str(key): ...}}`` (so user keys never clash with the tags).

:func:`decode` inverts it, and also reads the older checkpoint form (every float as
``{"__float__": repr}``, bare lists and dicts), so version-2 checkpoints still resume.

:func:`plain` is the one-way form of reports meant for people and other tools (``validation.json``):
plain numbers, lists and strings, nothing to decode.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["encode", "decode", "plain"]


def encode(v: Any) -> Any:
    """``v`` as plain JSON types (see the module docstring); other objects are returned unchanged."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return encode(v.tolist())
    if isinstance(v, (list, tuple)):
        return {"__seq__": type(v).__name__, "items": [encode(x) for x in v]}
    if isinstance(v, dict):
        return {"__dict__": {str(k): encode(x) for k, x in v.items()}}
    return v


def decode(v: Any) -> Any:
    """Invert :func:`encode` (and the version-2 checkpoint encoding)."""
    if isinstance(v, dict):
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        if set(v) == {"__seq__", "items"}:
            items = [decode(x) for x in v["items"]]
            return tuple(items) if v["__seq__"] == "tuple" else items
        if set(v) == {"__dict__"}:
            return {k: decode(x) for k, x in v["__dict__"].items()}
        return {k: decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode(x) for x in v]
    return v


def plain(v: Any) -> Any:
    """``v`` as plain JSON for reports (one way, not read back): NumPy scalars and arrays become numbers
    and lists, tuples lists, and non-finite floats the strings ``"inf"``, ``"-inf"``, ``"nan"``."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
