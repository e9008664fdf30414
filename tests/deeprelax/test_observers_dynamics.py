"""Observers of entropy_sgd / hj_prox / elastic_sgd / parle (`callback=`): the kernels run in pieces between the
observed steps with every per-chain state (outer iterate; replicas and centre; Parle's x, y, z, momenta and
sync counter) carried across, so a run with observers that never stop is bit-identical to one call, for
the serial and the threaded kernel at any thread count; a True return stops where an n_steps=k run ends."""
import numba
import numpy as np
import pytest

import deeprelax as dr
from deeprelax.finite_sum import finite_sum

DW = dr.losses.get("double-well")
Q2 = dr.losses.get("quadratic", A=[[2.0, 0.3], [0.3, 0.5]])
X1 = np.linspace(-1.5, 1.5, 70)[:, None]                 # 70 chains: two blocks of the blocked ESGD kernel
X2 = np.random.default_rng(0).normal(size=(12, 2))
THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


def _same(a, b, schedules=None):
    for name in ("xs", "x", "mus", "replicas"):
        u, v = getattr(a, name), getattr(b, name)
        assert (u is None and v is None) or np.array_equal(u, v, equal_nan=True), name
    for k in b.schedule if schedules is None else schedules:
        assert np.array_equal(a.schedule[k], b.schedule[k]), k
    assert a.steps.tolist() == b.steps.tolist() and np.array_equal(a.ts, b.ts)
    assert (a.status, a.message) == (b.status, b.message)


def _runs(fn, kw):
    """``fn(**kw)`` once in one call (serial kernel), then with observers at the saved steps and every 3 steps,
    serial and threaded at each thread count: all bit-identical; the observers see ``(ts[i], xs[i])``."""
    plain = fn(parallel=False, **kw)
    old = numba.get_num_threads()
    try:
        for par in (False, True):
            for nt in THREADS if par else THREADS[:1]:
                numba.set_num_threads(nt)
                seen = []
                obs = fn(parallel=par, callback=lambda t, x: seen.append((t, x.copy())), **kw)
                _same(obs, plain)
                assert [t for t, _ in seen] == plain.ts.tolist()
                assert all(np.array_equal(x, row) for (_, x), row in zip(seen, plain.xs))
                _same(fn(parallel=par, callback=[lambda t, x: None, lambda t, x: False], callback_every=3, **kw), plain)
    finally:
        numba.set_num_threads(old)
    return plain


def test_entropy_sgd_and_hj_prox_in_pieces_are_bit_identical():
    _runs(dr.dynamics.entropy_sgd, dict(loss=DW, x0=X1, t=0.3, beta=2.0, lr=0.05, inner_lr=0.01, L=7, n_steps=13,
                                        rng=1, save_every=4, scoping=0.05, nesterov=True, ema=None, burn_in=2))
    _runs(dr.dynamics.entropy_sgd, dict(loss=Q2, x0=X2, t=0.5, lr=0.05, inner_lr=0.01, L=5, n_steps=11, rng=2,
                                        save_every=5, rho=0.2, **{k: v for k, v in dr.dynamics.ESGD_CODE.items()
                                                                  if k != "inner_lr"}))
    data = finite_sum("least-squares", n_samples=40, dim=2, seed=0)
    _runs(dr.dynamics.hj_prox, dict(loss=data, x0=np.zeros((5, 2)), t=0.3, lr=0.05, inner_lr=0.01, L=4, n_steps=10,
                                    rng=4, batch=3, replace=False, outer="prox-grad", save_every=4, ema=0.5))


def test_elastic_sgd_and_parle_in_pieces_are_bit_identical():
    for centre in ("flow", "average"):
        r = _runs(dr.dynamics.elastic_sgd, dict(loss=DW, x0=X1[:9], n_replicas=3, t=0.5, lr=0.02, n_steps=14,
                                                beta=3.0, centre=centre, centre_rate=0.5, rng=5, save_every=4))
        assert r.replicas.shape == (9, 3, 1)
    data = finite_sum("least-squares", n_samples=40, dim=2, seed=0)
    _runs(dr.dynamics.elastic_sgd, dict(loss=data, x0=np.zeros((4, 2)), n_replicas=1, coupling=2.0, lr=0.02,
                                        n_steps=10, rng=6, batch=4, save_every=4))
    # pieces of 3 syncs cut epochs of nb = 2 in the middle; the gamma/rho growth and the lr decay carry over
    r = _runs(dr.dynamics.parle, dict(loss=DW, x0=X1[:6], n_replicas=3, nb=2, n_epochs=4, L=3, rng=7, beta=50.0,
                                      lr=0.05, lr_decay=0.5, save_every=2))
    assert np.all(np.diff(r.schedule["gamma"]) > 0)
    _runs(dr.dynamics.parle, dict(loss=data, x0=np.zeros((3, 2)), n_replicas=1, nb=3, n_epochs=2, L=2, lr=0.05,
                                  rng=8, batch=4, gamma_cap=0.0105, save_every=4))


def test_a_diverging_chain_in_pieces():
    q = dr.losses.get("quadratic", A=[[1.0]])
    x0 = np.array([[0.5], [1e306], [-0.2]])                  # chain 1 overflows, the others go on
    runs = [(dr.dynamics.entropy_sgd, dict(t=0.5, beta=2.0, lr=4.0, inner_lr=3.0, L=3, n_steps=9, save_every=2)),
            (dr.dynamics.elastic_sgd, dict(n_replicas=2, t=0.5, lr=5.0, n_steps=12, beta=2.0, save_every=3)),
            (dr.dynamics.parle, dict(n_replicas=2, nb=2, n_epochs=3, L=2, lr=3.0, lr_decay=1.0, beta=2.0))]
    for fn, kw in runs:
        kw.update(rng=1, raise_on_failure=False)
        a = fn(q, x0, callback=lambda t, x: None, callback_every=1, **kw)
        _same(a, fn(q, x0, **kw))
        assert a.status == "nonfinite" and "chain 1" in a.message


def _stop_after(k):
    calls = []

    def cb(t, x):
        calls.append(t)
        return len(calls) > k
    return cb


@pytest.mark.parametrize("algorithm", ["entropy_sgd", "hj_prox", "elastic_sgd", "parle"])
def test_stop_returns_the_state_of_the_shorter_run(algorithm):
    fn = getattr(dr.dynamics, algorithm)
    if algorithm == "parle":                 # steps are syncs: 6 syncs = 3 epochs of nb = 2
        kw = dict(n_replicas=2, nb=2, L=3, beta=20.0, lr=0.05, lr_decay=0.7, save_every=2, rng=3)
        full, short = fn(DW, X1[:5], n_epochs=5, **kw), fn(DW, X1[:5], n_epochs=3, **kw)
        stopped = fn(DW, X1[:5], n_epochs=5, callback=_stop_after(3), **kw)        # after syncs 0, 2, 4, 6
    else:
        kw = {"entropy_sgd": dict(t=0.3, beta=2.0, lr=0.05, inner_lr=0.01, L=5, nesterov=True),
              "hj_prox": dict(t=0.3, lr=0.05, inner_lr=0.01, L=5, scoping=0.1, ema=0.5),
              "elastic_sgd": dict(n_replicas=3, t=0.5, lr=0.02, beta=3.0)}[algorithm]
        kw.update(save_every=2, rng=3)
        full, short = fn(DW, X1[:5], n_steps=10, **kw), fn(DW, X1[:5], n_steps=6, **kw)
        stopped = fn(DW, X1[:5], n_steps=10, callback=_stop_after(3), **kw)
    assert stopped.status == "stopped_by_callback" and not stopped.success
    assert stopped.message.startswith(f"{algorithm}: stopped early at ") and " 6 of 10 " in stopped.message
    assert stopped.steps.tolist() == [0, 2, 4, 6] == short.steps.tolist()
    # x, xs, mus, replicas; Parle's gamma/rho of the syncs taken (the given schedules keep their full length)
    _same(stopped.replace(status="success", message=short.message), short,
          ("gamma", "rho") if algorithm == "parle" else ())
    assert np.array_equal(stopped.xs, full.xs[:4]) and not np.array_equal(stopped.x, full.x)


def test_observer_arguments_are_checked():
    kw = dict(t=0.3, beta=2.0, lr=0.05, inner_lr=0.01, L=2, n_steps=3, rng=1)
    for bad in (0, -2, 1.5, True, "3"):
        with pytest.raises(ValueError, match=r"`callback_every` must be None .* got " + repr(bad).replace(".", r"\.")):
            dr.dynamics.entropy_sgd(DW, X1[:2], callback=print, callback_every=bad, **kw)
    with pytest.raises(ValueError, match="`callback_every`"):
        dr.dynamics.parle(DW, X1[:2], n_replicas=2, nb=1, n_epochs=1, callback=print, callback_every=0)
    with pytest.raises(ValueError, match="`callback_every`"):
        dr.dynamics.elastic_sgd(DW, X1[:2], n_replicas=2, t=1.0, lr=0.1, n_steps=2, callback_every=0)
    with pytest.raises(TypeError, match="`callback` must be a callable"):
        dr.dynamics.hj_prox(DW, X1[:2], t=0.3, lr=0.05, inner_lr=0.01, L=2, n_steps=3, callback=[print, 3])
    with pytest.raises(ValueError, match="`callback` needs backend='cpu'"):
        dr.dynamics.entropy_sgd(DW, X1[:2], callback=print, backend="cuda", **kw)
    seen = []
    dr.dynamics.elastic_sgd(DW, X1[:2], n_replicas=2, t=1.0, lr=0.1, n_steps=2, callback=lambda t, x: seen.append(x))
    assert [x.shape for x in seen] == [(2, 1)] * 2 and not seen[0].flags.writeable
