"""Memory estimates checked before large allocations.

Every solver entry point adds up the bytes its request needs (grid values,
padding, saved snapshots, work arrays) and calls :func:`check_memory` *before*
allocating.  If the estimate exceeds the budget, a
:class:`~solvers.errors.MemoryBudgetError` (a ``MemoryError``) names the
argument to change and the estimated size, instead of the process being killed
by the operating system.

Budget
------
By default the budget is ``MEMORY_FRACTION`` (80 %) of the memory available
now: ``MemAvailable`` of ``/proc/meminfo``, or the room left under a cgroup
(container) limit if that is smaller.  Override it with

* the environment variable ``DEEPRELAX_MEMORY_BUDGET``: bytes (``"2000000000"``)
  or with a unit (``"500MB"``, ``"2GiB"``, ``"1.5G"``); ``"off"`` disables the check;
* :func:`set_memory_budget` in code (same values; ``None`` restores the default).

The estimates are upper bounds of the arrays a solver holds at once (within a
factor ~1.5); they do not count the Python interpreter or compiled kernels.
"""
from __future__ import annotations

import math
import os
import re

from .errors import MemoryBudgetError

__all__ = ["memory_budget", "set_memory_budget", "check_memory", "format_bytes", "available_memory",
           "MEMORY_FRACTION", "ENV_VAR"]

#: Environment variable that overrides the budget.
ENV_VAR = "DEEPRELAX_MEMORY_BUDGET"
#: Requests below this many bytes are not checked against the system's available memory (only
#: against a budget set explicitly): 80 % of the available memory is less than 16 MB only on a
#: machine that is already out of memory.
SMALL_REQUEST = 16e6
#: Fraction of the available memory used as the default budget.
MEMORY_FRACTION = 0.8

_override = None          # set by set_memory_budget: bytes (float, may be inf) or None
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_bytes(value) -> float:
    """``"500MB"`` -> 5e8, ``"2GiB"`` -> 2**31, ``3e9`` -> 3e9, ``"off"`` / ``"inf"`` -> inf."""
    if isinstance(value, bool):
        raise TypeError(f"a memory budget must be a number of bytes or a string like '2GB'; got {value!r}.")
    if isinstance(value, (int, float)):
        v = float(value)
    else:
        s = str(value).strip().lower()
        if s in ("off", "none", "inf", "unlimited"):
            return math.inf
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", s)
        if m is None or m.group(2) not in _UNITS:
            raise ValueError(f"a memory budget must be bytes or a number with a unit (B, KB, MB, GB, TB, "
                             f"KiB, MiB, GiB, TiB) or 'off'; got {value!r}.")
        v = float(m.group(1)) * _UNITS[m.group(2)]
    if math.isnan(v) or v <= 0:
        raise ValueError(f"a memory budget must be positive; got {value!r}.")
    return v


def set_memory_budget(value) -> None:
    """Set the memory budget of this process (bytes, a string like ``"2GB"``, ``"off"``, or ``None`` = default)."""
    global _override
    _override = None if value is None else parse_bytes(value)


def _read_int(path: str):
    try:
        with open(path) as fh:
            s = fh.read().strip()
        return None if s == "max" else int(s)
    except (OSError, ValueError):
        return None


def available_memory():
    """Bytes available to this process now (``None`` if unknown)."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    limit = _read_int("/sys/fs/cgroup/memory.max")
    used = _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        room = max(limit - used, 0)
        avail = room if avail is None else min(avail, room)
    return avail


def memory_budget():
    """``(bytes, where it comes from)``; bytes is ``inf`` when the check is off or memory is unknown."""
    if _override is not None:
        return _override, "set by solvers.set_memory_budget"
    env = os.environ.get(ENV_VAR)
    if env:
        return parse_bytes(env), f"{ENV_VAR}={env}"
    avail = available_memory()
    if avail is None:
        return math.inf, "available memory unknown"
    return MEMORY_FRACTION * avail, f"{MEMORY_FRACTION:.0%} of the {format_bytes(avail)} available now"


def format_bytes(n: float) -> str:
    """``1.5e9`` -> ``"1.5 GB"`` (decimal units)."""
    if not math.isfinite(n):
        return "unlimited"
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(where: str, parts) -> float:
    """Raise :class:`~solvers.errors.MemoryBudgetError` if the parts together exceed the budget.

    Parameters
    ----------
    where : str
        The call, e.g. ``"solve_hj"``.
    parts : sequence of ``(argument, bytes, advice)``
        ``argument`` is what to change (e.g. ``"save_at"``, ``"grid.shape"``),
        ``advice`` a short fix; parts of 0 bytes are ignored.

    Returns
    -------
    float
        The estimated total (bytes).
    """
    parts = [(a, float(b), adv) for a, b, adv in parts if b > 0]
    total = float(sum(b for _, b, _ in parts))
    if total < SMALL_REQUEST and _override is None and not os.environ.get(ENV_VAR):
        return total            # reading /proc and the cgroup files costs ~20-40 us, more than a small solve
    budget, source = memory_budget()
    if total > budget:
        parts.sort(key=lambda p: -p[1])
        arg, nbytes, advice = parts[0]
        detail = ", ".join(f"{a}: {format_bytes(b) if math.isfinite(b) else 'unbounded'}" for a, b, _ in parts)
        need = f"an estimated {format_bytes(total)}" if math.isfinite(total) else "an unbounded amount"
        raise MemoryBudgetError(
            f"{where} would need {need} of memory ({detail}), more than the "
            f"budget of {format_bytes(budget)} ({source}). Change `{arg}`: {advice}. (The budget can be set "
            f"with the environment variable {ENV_VAR} or solvers.set_memory_budget().)")
    return total


def check_grid_memory(where: str, grid, work_grid=None, *, per_node: float,
                      pad_hint: str = "use a shorter t or pass grid values (an array)") -> float:
    """:func:`check_memory` for a solver holding ``per_node`` bytes per node of ``work_grid``
    (the grid padded by the solver; default ``grid``): parts ``grid.shape`` and ``pad``."""
    n_user = float(grid.size)
    n_work = float(work_grid.size) if work_grid is not None else n_user
    shape = tuple(work_grid.shape) if work_grid is not None else tuple(grid.shape)
    return check_memory(where, [
        ("grid.shape", per_node * n_user, f"use a coarser grid than {tuple(grid.shape)}"),
        ("pad", per_node * (n_work - n_user), f"the padded domain has shape {shape}; {pad_hint}"),
    ])
