"""hopf_lax(outputs=...), the tiled passes and the benchmark's naive baseline.

The passes' tile width, chunking and thread count change only the order in which lines are done,
so every combination must give the same numbers bit for bit; asking for fewer outputs must not
change ``u`` (nor the prox/grad that are asked for).
"""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from solvers.grid import Grid
from solvers.errors import NonFiniteError
from solvers.hopf_lax import hopf_lax

HL = sys.modules["solvers.hopf_lax"]          # the module (``solvers.hopf_lax`` the name is the function)

CASES = [((37,), True, 0.05), ((23, 19), (True, False), 0.08), ((20, 33), True, 0.5),
         ((9, 11, 13), (False, True, True), 0.1), ((8, 7, 10), False, 0.3)]


def _data(shape, periodic, rng):
    g = Grid.uniform([(-1, 1), (0, 2), (-0.5, 0.7)][: len(shape)], shape, periodic=periodic)
    X = g.mesh()
    vals = np.cos(3 * X).sum(-1) + 0.2 * rng.standard_normal(shape)
    return g, vals


@pytest.mark.parametrize("shape,periodic,t", CASES)
@pytest.mark.parametrize("refine", ["none", "quadratic"])
def test_outputs_subsets_are_the_same_numbers(shape, periodic, t, refine, rng):
    g, vals = _data(shape, periodic, rng)
    keep = vals.copy()
    full = hopf_lax(vals, g, t, refine=refine)
    assert np.array_equal(vals, keep)                      # the passes never write into f
    u = hopf_lax(vals, g, t, refine=refine, outputs=("u",))
    assert u.prox is None and u.grad is None and u.params["outputs"] == ["u"]
    assert np.array_equal(u.u, full.u)
    up = hopf_lax(vals, g, t, refine=refine, outputs=("prox", "u"))
    assert up.grad is None and np.array_equal(up.prox, full.prox) and np.array_equal(up.u, full.u)
    ug = hopf_lax(vals, g, t, refine=refine, outputs=["u", "grad"])
    assert ug.prox is None and np.array_equal(ug.grad, full.grad) and np.array_equal(ug.u, full.u)
    assert full.params["outputs"] == ["u", "prox", "grad"]


@pytest.mark.parametrize("shape,periodic,t", CASES[1:])
@pytest.mark.parametrize("refine", [False, True])
def test_tiled_untiled_serial_threaded_bit_identical(shape, periodic, t, refine, rng):
    g, vals = _data(shape, periodic, rng)
    for track in (False, True):
        ref = HL._solve(vals, g, t, refine, track, track, False, 1)          # one line at a time, serial
        for tile, par in ((16, False), (5, False), (3, True), (16, True)):  # 5, 3: partial tiles at the edge
            got = HL._solve(vals, g, t, refine, track, track, par, tile)
            assert got[3] == ref[3]
            for a, b in zip(got[:3], ref[:3]):
                assert (a is None and b is None) or np.array_equal(a, b)


def test_one_d_outputs_and_direct_path(rng):
    n = 201
    vals = np.cumsum(rng.standard_normal(n)) * 0.05
    g = Grid.uniform([(-1, 1)], n)
    full = hopf_lax(vals, g, 0.05)
    u = hopf_lax(vals, g, 0.05, outputs=("u",))
    assert u.prox is None and np.array_equal(u.u, full.u)
    # callables (padded domain) too
    f = lambda x: np.abs(x).sum(-1) + np.sin(3 * x[..., 0])
    g2 = Grid.uniform([(-1.5, 1.5), (-1, 1)], (31, 21))
    a, b = hopf_lax(f, g2, 0.3), hopf_lax(f, g2, 0.3, outputs=("u",))
    assert np.array_equal(a.u, b.u) and b.params["pad_cells"] == a.params["pad_cells"]


def test_outputs_errors():
    g = Grid.uniform([(-1, 1)], 11)
    for bad in (("prox",), ("u", "hessian"), ()):
        with pytest.raises(ValueError, match="`outputs` must contain 'u'"):
            hopf_lax(np.zeros(11), g, 0.1, outputs=bad)
    with pytest.raises(TypeError, match="`outputs`"):
        hopf_lax(np.zeros(11), g, 0.1, outputs=3)
    assert hopf_lax(np.zeros(11), g, 0.1, outputs="u").prox is None


def test_naive_benchmark_baseline_is_the_same_problem(rng):
    # imported under its own name (benchmarks.naive_envelope), as the benchmark does: Numba's on-disk
    # cache records the module name, and an entry written under another name cannot be loaded there
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    mod = importlib.import_module("benchmarks.naive_envelope")
    g = Grid.uniform([(-1, 1), (-1, 1)], (40, 50), periodic=True)
    vals = rng.standard_normal(g.shape)
    for t in (0.01, 0.3, 5.0):                             # reach from a few cells to several periods
        r = hopf_lax(vals, g, t, refine="none", outputs=("u",))
        un = mod.naive_hopf_lax_u(vals, g.spacing, t, r.params["periodic_images"])
        assert np.abs(un - r.u).max() < 1e-12


@pytest.mark.parametrize("shape,periodic,t", CASES[:4] + [((41,), False, 0.05)])
@pytest.mark.parametrize("outputs", [("u", "prox", "grad"), ("u",), ("u", "grad")])
def test_out_arrays_are_filled_with_the_same_numbers(shape, periodic, t, outputs, rng):
    g, vals = _data(shape, periodic, rng)
    want = hopf_lax(vals, g, t, outputs=outputs)
    stale = hopf_lax(vals + 1.0, g, 2 * t)                 # arrays holding other numbers
    r = hopf_lax(vals, g, t, outputs=outputs, out=stale.to_dict())
    for name in ("u", "prox", "grad"):
        got, ref = getattr(r, name), getattr(want, name)
        if name in outputs:
            assert got is getattr(stale, name) and np.array_equal(got, ref)
        else:
            assert got is None and ref is None
    assert r.params == want.params


def test_out_with_a_callable_copies_the_interior():
    f = lambda x: np.abs(x).sum(-1) + np.sin(3 * x[..., 0])
    g = Grid.uniform([(-1.5, 1.5), (-1, 1)], (31, 21))
    want = hopf_lax(f, g, 0.3)
    out = {"u": np.empty(g.shape), "prox": np.empty(g.shape + (2,)), "grad": np.empty(g.shape + (2,))}
    r = hopf_lax(f, g, 0.3, out=out)
    assert r.params["pad_cells"] == want.params["pad_cells"] and max(want.params["pad_cells"]) > 0
    for name in ("u", "prox", "grad"):
        assert getattr(r, name) is out[name] and np.array_equal(out[name], getattr(want, name))


def test_out_errors_name_the_argument():
    g = Grid.uniform([(-1, 1), (0, 1)], (9, 8))
    vals = np.random.default_rng(1).standard_normal(g.shape)
    ok = {"u": np.empty((9, 8)), "prox": np.empty((9, 8, 2)), "grad": np.empty((9, 8, 2))}
    bad_cases = [
        ({**ok, "u": np.empty((8, 9))}, r"`out\['u'\]` must be a writeable C-contiguous float64 array of shape \(9, 8\)"),
        ({**ok, "prox": np.empty((9, 8, 2), np.float32)}, r"`out\['prox'\]`.*float64.*dtype float32"),
        ({**ok, "grad": np.empty((9, 8, 4))[..., ::2]}, r"`out\['grad'\]`.*C-contiguous False"),
        ({**ok, "u": np.empty((9, 8)).copy(order="F")}, r"`out\['u'\]`.*C-contiguous False"),
        ({**ok, "u": [[0.0] * 8] * 9}, r"`out\['u'\]`.*got list"),
        ({**ok, "grad": ok["prox"]}, r"`out\['grad'\]` overlaps `out\['prox'\]`"),
        ({**ok, "u": vals}, r"`out\['u'\]` overlaps `f`"),
    ]
    ro = np.empty((9, 8))
    ro.flags.writeable = False
    bad_cases.append(({**ok, "u": ro}, r"`out\['u'\]`.*writeable False"))
    for out, msg in bad_cases:
        with pytest.raises(ValueError, match=msg):
            hopf_lax(vals, g, 0.1, out=out)
    for out in ({"u": ok["u"]}, (ok["u"], ok["prox"], ok["grad"]), 3):
        with pytest.raises(TypeError, match="`out` must be a mapping with the keys"):
            hopf_lax(vals, g, 0.1, out=out)
    # keys not asked for are ignored (an earlier result's .to_dict() has grid, t, ...)
    assert hopf_lax(vals, g, 0.1, outputs=("u",), out={"u": ok["u"], "prox": None}).u is ok["u"]


def test_prox_and_grad_share_one_block_and_u_its_own():
    # the allocation layout documented in hopf_lax's Notes (fewer page faults from call to call)
    g = Grid.uniform([(-1, 1), (0, 1)], (9, 8), periodic=True)
    r = hopf_lax(np.random.default_rng(2).standard_normal(g.shape), g, 0.1)
    assert r.prox.base is not None and r.prox.base is r.grad.base
    assert not np.may_share_memory(r.u, r.prox) and not np.may_share_memory(r.prox, r.grad)


def test_memory_budget_from_the_environment_is_read_at_each_call(monkeypatch):
    # hopf_lax reads the budget variable through os.environ's storage (cheaper than os.environ.get)
    from solvers.errors import MemoryBudgetError

    g = Grid.uniform([(-1, 1)], 4001)
    vals = np.zeros(g.shape)
    hopf_lax(vals, g, 0.1)
    monkeypatch.setenv("DEEPRELAX_MEMORY_BUDGET", "10kB")
    with pytest.raises(MemoryBudgetError, match="Change `grid.shape`"):
        hopf_lax(vals, g, 0.1)
    monkeypatch.delenv("DEEPRELAX_MEMORY_BUDGET")
    assert hopf_lax(vals, g, 0.1).u.shape == g.shape


def test_grid_spacing_is_computed_once_and_stays_out_of_equality():
    g = Grid.uniform([(-1, 1)], 11)
    assert g.spacing is g.spacing                              # cached on the (frozen) grid
    g2 = Grid.uniform([(-1, 1)], 11)
    assert g2 == g and hash(g2) == hash(g) and g2.spacing == g.spacing
    assert Grid.uniform([(0, 3)], 11).spacing == (0.3,)
    r = hopf_lax(np.zeros(11), g, 0.1)
    assert r.prox[:, 0].tolist() == g.axes[0].tolist()


@pytest.mark.parametrize("shape", [(6,), (6, 5)])
def test_non_finite_output_is_reported(shape):
    # finite data within the scale check whose refinement overflows (lin^2 of 1e288): u = -inf.  In 1-D the
    # line kernel returns max |u| for the check, in 2-D the check reads u afterwards; both must raise
    vals = np.broadcast_to(np.array([1e288, -1e288, 3e288, 1e288, -1e288, 3e288]).reshape(6, *([1] * (len(shape) - 1))),
                           shape).copy()
    g = Grid.uniform([(-1, 1)] * len(shape), shape)
    with pytest.raises(NonFiniteError, match="non-finite"):
        hopf_lax(vals, g, 1.0)
    assert np.isfinite(hopf_lax(vals, g, 1.0, refine="none").u).all()


def test_results_built_without_init_equal_the_dataclass():
    # hopf_lax fills its result's dict directly (result.fast_result); the object must be the one __init__ makes
    import dataclasses

    from solvers.result import HopfLaxResult

    for shape in ((41,), (9, 8)):
        g = Grid.uniform([(-1, 1)] * len(shape), shape)
        r = hopf_lax(np.cos(3 * g.mesh()).sum(-1), g, 0.1, outputs=("u", "grad"))
        names = [f.name for f in dataclasses.fields(HopfLaxResult)]
        ref = HopfLaxResult(**{k: getattr(r, k) for k in names})
        assert type(r) is HopfLaxResult and list(vars(r)) == list(vars(ref)) == names
        assert all(getattr(r, k) is getattr(ref, k) for k in names) and r.prox is None
        assert repr(r) == repr(ref) and r.beta == np.inf
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.t = 2.0
        assert np.array_equal(r.replace(t=2.0).u, r.u) and r.replace(t=2.0).t == 2.0
