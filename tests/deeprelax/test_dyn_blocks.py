"""The blocked particle kernels (one gradient dispatch per block of chains and step) against the
per-chain kernels and the per-point loss twins, bit for bit."""
import numpy as np
import pytest

import deeprelax as dr
from deeprelax import _dyn_kernels as K
from deeprelax import dynamics as D
from deeprelax._nbloss import nb_grad, nb_grad_rows, scratch_len


def _losses():
    yield dr.losses.get("quadratic", A=np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]]))
    yield dr.losses.get("abs", dim=2)
    yield dr.losses.get("double-well", dim=3)
    yield dr.losses.get("wide-sharp", dim=2)
    yield dr.losses.get("softmin-quadratics", a=[1.0, 4.0, 2.0], m=[[0.0, 0.0], [1.0, -1.0], [-1.0, 2.0]],
                        c=[0.0, -0.2, 0.1], beta=3.0)
    yield dr.losses.get("softmin-quadratics", a=[1.0, 4.0], m=[[0.0, 0.0], [1.0, -1.0]], c=[0.0, -0.2],
                        beta=np.inf)
    yield dr.losses.get("dr-fig1")
    yield dr.losses.get("rastrigin", dim=2)
    yield dr.losses.get("cosine", dim=2)
    yield dr.losses.get("gaussian-mixture", w=[0.3, 0.7], m=[[0.0, 0.0], [1.0, 1.5]], s=[0.2, 0.6])


LOSSES = list(_losses())


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: repr(f)[:40])
def test_grad_rows_equals_pointwise_twin(loss):
    X = np.random.default_rng(1).normal(scale=2.0, size=(37, loss.dim))
    X[3] = 0.0                                       # kinks (abs), exact zeros
    G = np.full_like(X, 7.0)
    nb_grad_rows(loss.nb_kind, loss.nb_params, X, G, 2, 30, np.empty(scratch_len(loss.nb_kind, loss.nb_params)))
    ref = np.empty_like(X)
    for r in range(X.shape[0]):
        nb_grad(loss.nb_kind, loss.nb_params, X[r], ref[r])
    assert np.array_equal(G[2:30], ref[2:30])        # bitwise
    assert np.all(G[:2] == 7.0) and np.all(G[30:] == 7.0)   # rows outside [r0, r1) untouched


def test_grad_rows_unknown_kind_is_nan():
    X = np.ones((3, 2))
    G = np.zeros_like(X)
    nb_grad_rows(42, np.array([2.0]), X, G, 0, 3, np.empty(1))
    assert np.isnan(G).all()


def _sgd_args(loss, n, n_steps, lm, beta, save_every):
    X0 = np.random.default_rng(0).normal(size=(n, loss.dim))
    h = np.full(n_steps, 0.01)
    sig = np.zeros(n_steps) if np.isinf(beta) else (np.sqrt(h / (2 * beta)) if lm else np.sqrt(2 * h / beta))
    slot, saved = D._slots(n_steps, save_every)
    d = loss.dim
    return (loss.nb_kind, loss.nb_params, X0, h, sig, lm, np.uint64(12345), 0, True, slot,
            np.full((saved.size, n, d), np.nan), np.zeros((n, d)), np.full(n, -1, np.int64))


def _blocked(args, bw=K.BLOCK):
    return tuple(args) + (bw,)


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES[2:5] + LOSSES[6:7], ids=lambda f: repr(f)[:40])
@pytest.mark.parametrize("lm,beta", [(False, 2.0), (True, 2.0), (False, np.inf)])
def test_sgd_blocks_equal_per_chain_kernel(loss, lm, beta):
    n = K.BLOCK + 13                                 # one full block and a partial one
    a_blk = _sgd_args(loss, n, 23, lm, beta, 4)
    K._sgd_ser(*_blocked(a_blk))
    a_one = _sgd_args(loss, n, 23, lm, beta, 4)
    for c in range(n):
        K._sgd_chain(c, *a_one)
    for u, v in zip(a_blk[-3:], a_one[-3:]):
        assert np.array_equal(u, v, equal_nan=True)
    a_par = _sgd_args(loss, n, 23, lm, beta, 4)
    K._sgd_par(*_blocked(a_par))
    for u, v in zip(a_par[-3:], a_one[-3:]):
        assert np.array_equal(u, v, equal_nan=True)


@pytest.mark.parametrize("lm", [False, True])
def test_sgd_block_freezes_a_diverging_chain_like_the_per_chain_kernel(lm):
    # the block updates all chains in one flat loop while all are alive, chain by chain after a death
    f = dr.losses.get("double-well", dim=2)
    args = list(_sgd_args(f, 10, 40, lm, 2.0, 1))
    args[2] = args[2].copy()
    args[2][4] = [40.0, 0.0]                         # x^3 blows up with h = 0.01... after a few steps
    args[3] = np.full(40, 0.05)
    K._sgd_ser(*_blocked(args))
    one = list(_sgd_args(f, 10, 40, lm, 2.0, 1))
    one[2], one[3] = args[2], args[3]
    for c in range(10):
        K._sgd_chain(c, *one)
    assert args[-1][4] >= 0 and (args[-1] >= 0).sum() == 1
    for u, v in zip(args[-3:], one[-3:]):
        assert np.array_equal(u, v, equal_nan=True)


def _esgd_args(loss, n, outer_mode, ema, burn, mom, rho, beta):
    X0 = np.random.default_rng(2).normal(size=(n, loss.dim))
    n_outer, L = 6, 5
    tks = 0.5 * 1.01 ** -np.arange(n_outer)
    ilrs = np.full(n_outer, 0.01)
    sigs = np.zeros(n_outer) if np.isinf(beta) else np.sqrt(2 * ilrs / beta)
    slot, saved = D._slots(n_outer, 2)
    d = loss.dim
    return (loss.nb_kind, loss.nb_params, X0, L, tks, np.full(n_outer, 0.1), ilrs, sigs, outer_mode, ema, burn,
            mom, rho, np.uint64(99), 0, True, slot, np.full((saved.size, n, d), np.nan),
            np.full((saved.size, n, d), np.nan), np.zeros((n, d)), np.full(n, -1, np.int64))


@pytest.mark.parametrize("loss", [LOSSES[2], LOSSES[3], LOSSES[6]], ids=lambda f: repr(f)[:40])
@pytest.mark.parametrize("outer_mode,ema,burn,mom,rho,beta", [
    (0, 0.75, 0, 0.0, 0.0, 2.0), (1, 0.75, 0, 0.9, 0.0, 5.0), (2, -1.0, 2, 0.0, 0.0, 5.0),
    (0, -1.0, 0, 0.0, 0.3, np.inf)])
@pytest.mark.slow
def test_esgd_blocks_equal_per_chain_kernel(loss, outer_mode, ema, burn, mom, rho, beta):
    n = K.BLOCK + 5
    a_blk = _esgd_args(loss, n, outer_mode, ema, burn, mom, rho, beta)
    K._esgd_par(*_blocked(a_blk))
    a_one = _esgd_args(loss, n, outer_mode, ema, burn, mom, rho, beta)
    for c in range(n):
        K._esgd_chain(c, *a_one)
    for u, v in zip(a_blk[-4:], a_one[-4:]):
        assert np.array_equal(u, v, equal_nan=True)
