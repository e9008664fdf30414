"""The one CUDA policy of the package: import shim, availability and backend choice.

Every CUDA kernel in :mod:`solvers` and :mod:`deeprelax` imports ``cuda`` from
here, never ``numba.cuda`` directly, so that

* the numpy compatibility shim runs first: numba-cuda on images whose numpy
  no longer has ``numpy.row_stack`` fails to import unless it is aliased to
  ``numpy.vstack`` (a no-op where numpy still has it);
* the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before the first numba
  import) counts as "available", so every kernel is exercised in CI without a
  GPU (slowly: the simulator runs each thread in Python, use small grids);
* ``backend="auto"`` has one rule: CUDA when a real GPU is present and the
  work is at least :data:`AUTO_MIN_WORK` cell- or particle-updates per step.

Nothing here imports numba.cuda at module import time; call :func:`get_cuda`.
"""
from __future__ import annotations

import functools
import os

import numpy as np

from .errors import CudaUnavailableError

#: ``backend="auto"`` uses CUDA only at or above this many cells (or chains) per step: below
#: it launch and transfer latency dominate.
AUTO_MIN_WORK = 1 << 18

BACKENDS = ("cpu", "cuda", "auto")


def _numpy_compat() -> None:
    if not hasattr(np, "row_stack"):  # removed from numpy; numba-cuda still refers to it
        np.row_stack = np.vstack


def simulator_enabled() -> bool:
    """Whether numba's CUDA simulator was requested (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


@functools.lru_cache(maxsize=None)
def _import_cuda():
    _numpy_compat()
    try:
        from numba import cuda  # numba-cuda when installed, else numba's bundled target
    except Exception as exc:  # pragma: no cover - depends on the machine
        return None, f"importing numba.cuda failed: {exc!r}"
    try:
        ok = bool(cuda.is_available())
    except Exception as exc:  # pragma: no cover
        return None, f"numba.cuda.is_available() raised {exc!r}"
    if not ok:
        return None, "no CUDA GPU or driver found (set NUMBA_ENABLE_CUDASIM=1 to use the simulator)"
    return cuda, ""


def cuda_available() -> bool:
    """True when CUDA kernels can run here (a real GPU, or the simulator when enabled)."""
    return _import_cuda()[0] is not None


def gpu_present() -> bool:
    """True only for a real GPU (the simulator does not count)."""
    return cuda_available() and not simulator_enabled()


def get_cuda():
    """The ``numba.cuda`` module, after the compatibility shim; raises if unusable."""
    cuda, why = _import_cuda()
    if cuda is None:
        raise CudaUnavailableError(f"`backend='cuda'` needs a CUDA GPU: {why}.")
    return cuda


def resolve_backend(backend: str, work: int) -> str:
    """Map ``backend`` ("cpu", "cuda" or "auto") to "cpu" or "cuda" for ``work`` updates per step.

    Raises ValueError for an unknown name and :class:`CudaUnavailableError` for
    ``"cuda"`` without a usable device.
    """
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}; got {backend!r}.")
    if backend == "cpu":
        return "cpu"
    if backend == "cuda":
        get_cuda()
        return "cuda"
    return "cuda" if gpu_present() and work >= AUTO_MIN_WORK else "cpu"


def device_name() -> str:
    """Name of the current CUDA device, ``"CUDA simulator"``, or ``"none"``."""
    if not cuda_available():
        return "none"
    if simulator_enabled():
        return "CUDA simulator"
    cuda = get_cuda()
    try:  # pragma: no cover - real GPU only
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # pragma: no cover
        return "unknown CUDA device"


def check_dtype(dtype) -> np.dtype:
    """Accept float64 (default) or float32 for device arrays; anything else is a clear error."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"`dtype` must be float64 or float32; got {dt}.")
    return dt
