"""The engine's public seams: solvers.jit, solvers.backend, one exception base, one JSON encoding."""
import json
import math

import numpy as np
import pytest

import solvers
from solvers import backend, errors, jit
from solvers.jsonable import decode, encode


def test_jit_and_backend_are_public_and_the_old_private_names_are_gone():
    import importlib

    for old in ("solvers._jit", "solvers._cuda"):
        with pytest.raises(ImportError):
            importlib.import_module(old)
    assert solvers.jit is jit and solvers.backend is backend
    assert jit.njit.keywords["cache"] is True and jit.pnjit.keywords["parallel"] is True
    assert backend.resolve_backend("cpu", 10) == "cpu"


def test_every_engine_exception_derives_from_solver_error():
    assert errors.DeepRelaxError is errors.SolverError
    for name in ("GridError", "SchemeError", "StabilityError", "NonFiniteError", "ConvergenceError",
                 "MemoryBudgetError", "CheckpointError", "CudaUnavailableError"):
        assert issubclass(getattr(solvers, name), solvers.SolverError), name
    assert backend.CudaUnavailableError is errors.CudaUnavailableError
    assert issubclass(errors.CudaUnavailableError, RuntimeError)  # what it was before


@pytest.mark.parametrize("value", [
    1.0, 0.1, -2.5e-308, math.inf, -math.inf, 7, True, None, "s",
    (1, 2.0), [np.float64(0.1), (math.inf,)], {"a": (1.0, [2]), 3: {"__float__": "x"}},
])
def test_json_encoding_round_trips_floats_bit_for_bit_and_keeps_tuples(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert json.dumps(encode(back)) == json.dumps(encode(value))
    assert type(back) is (float if isinstance(value, np.floating) else type(value))


def test_json_decoding_reads_nan_and_the_version_2_checkpoint_form():
    assert math.isnan(decode(json.loads(json.dumps(encode(math.nan)))))
    v2 = {"dt": {"__float__": "0.1"}, "shape": [3, 4], "nested": {"b": {"__float__": "inf"}}}
    assert decode(v2) == {"dt": 0.1, "shape": [3, 4], "nested": {"b": math.inf}}


def test_json_encoding_takes_arrays_and_plain_is_the_one_way_report_form():
    from solvers.jsonable import plain

    a = np.array([[0.1, math.inf], [2.0, -0.0]])
    assert decode(json.loads(json.dumps(encode({"A": a})))) == {"A": a.tolist()}
    assert plain({"x": (np.float64(0.5), a[0]), "n": np.int64(3), "ok": np.bool_(True), "u": -math.inf}) == \
        {"x": [0.5, [0.1, "inf"]], "n": 3, "ok": True, "u": "-inf"}
