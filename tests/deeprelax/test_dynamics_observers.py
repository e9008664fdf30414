"""Observers of sgd / sgld (`callback=`): the kernel runs in pieces between the observed steps with the same
random numbers, so the trajectory is bit-identical to one call; a True return stops the run."""
import numpy as np
import pytest

import deeprelax as dr

DW = dr.losses.get("double-well")
X0 = np.linspace(-1.5, 1.5, 37)[:, None]


def _same(a, b):
    assert np.array_equal(a.xs, b.xs, equal_nan=True) and np.array_equal(a.x, b.x, equal_nan=True)
    assert a.steps.tolist() == b.steps.tolist() and np.array_equal(a.ts, b.ts) and a.status == b.status


@pytest.mark.parametrize("scheme", ["em", "lm"])
def test_pieces_are_bit_identical_and_observers_see_the_state(scheme):
    kw = dict(lr=0.01, n_steps=50, beta=3.0, scheme=scheme, rng=5, save_every=10)
    plain = dr.dynamics.sgd(DW, X0, **kw)
    seen = []
    obs = dr.dynamics.sgd(DW, X0, callback=lambda t, x: seen.append((t, x.copy())), **kw)
    _same(obs, plain)
    assert [t for t, _ in seen] == plain.ts.tolist()
    assert all(np.array_equal(x, row) for (_, x), row in zip(seen, plain.xs))
    seen.clear()
    every = dr.dynamics.sgld(DW, X0, lr=0.01, n_steps=50, beta=3.0, scheme=scheme, rng=5, save_every=10,
                             callback=lambda t, x: seen.append(t), callback_every=7)
    _same(every, dr.dynamics.sgld(DW, X0, lr=0.01, n_steps=50, beta=3.0, scheme=scheme, rng=5, save_every=10))
    assert len(seen) == 9 and seen[-1] == every.ts[-1]          # steps 0, 7, ..., 49 and 50


def test_minibatches_and_a_diverging_chain_in_pieces():
    from deeprelax.finite_sum import finite_sum
    data = finite_sum("least-squares", n_samples=40, dim=2, seed=0)
    for replace in (True, False):
        kw = dict(lr=0.02, n_steps=30, beta=10.0, rng=2, batch=5, replace=replace, save_every=6)
        x0 = np.zeros((8, 2))
        _same(dr.dynamics.sgd(data, x0, callback=lambda t, x: None, callback_every=4, **kw),
              dr.dynamics.sgd(data, x0, **kw))
    q = dr.losses.get("quadratic", A=[[1.0]])
    x0 = np.array([[0.5], [1e306], [-0.2]])             # x <- -4 x: chain 1 overflows at step 3
    kw = dict(lr=5.0, n_steps=12, beta=2.0, rng=1, save_every=3, raise_on_failure=False)
    a = dr.dynamics.sgd(q, x0, callback=lambda t, x: None, callback_every=2, **kw)
    b = dr.dynamics.sgd(q, x0, **kw)
    _same(a, b)
    assert a.status == "nonfinite" and "chain 1" in a.message


def test_stop_on_request():
    def far(t, x):
        return bool(np.abs(x).max() < 1.3)              # every chain within 1.3 of the origin
    r = dr.dynamics.sgd(DW, X0, lr=0.01, n_steps=400, save_every=20, callback=far)
    full = dr.dynamics.sgd(DW, X0, lr=0.01, n_steps=400, save_every=20)
    k = int(np.argmax([far(0, x) for x in full.xs]))
    assert r.status == "stopped_by_callback" and not r.success and "step" in r.message
    assert 0 < k < full.steps.size - 1 and r.steps.tolist() == full.steps[:k + 1].tolist()
    assert np.array_equal(r.xs, full.xs[:k + 1]) and np.array_equal(r.x, full.xs[k])
    with pytest.raises(ValueError, match="`callback` needs backend='cpu'"):
        dr.dynamics.sgd(DW, X0, lr=0.01, n_steps=4, callback=far, backend="cuda")
    with pytest.raises(TypeError, match="`callback` must be a callable"):
        dr.dynamics.sgld(DW, X0, lr=0.01, n_steps=4, callback="far")
