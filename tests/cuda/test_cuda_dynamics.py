"""CUDA backend of the particle ensembles (deeprelax._cuda_dyn) against the CPU backend.

Runs in numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1): 8-16 chains,
20-50 steps.  In the simulator the device twins are bit-identical; the tolerances below also allow
the last-ulp differences of a real GPU (libdevice exp/log/sin, fused multiply-adds).
"""
import numpy as np
import pytest

from deeprelax import _dyn_kernels as K
from deeprelax import _nbloss as NB
from deeprelax import dynamics as D
from deeprelax.finite_sum import finite_sum
from deeprelax.losses import SoftminQuadratics, get
from solvers import backend
from solvers.errors import NonFiniteError

pytestmark = pytest.mark.skipif(not backend.cuda_available(), reason="no CUDA GPU and no simulator")

RTOL, ATOL = 1e-10, 1e-12
DW2 = get("double-well", dim=2)


def _cdyn():
    from deeprelax import _cuda_dyn
    return _cuda_dyn


SIM = backend.simulator_enabled()


def _same(a, b, *, with_mus=False, chaotic=False):
    """Equal to ``RTOL`` (bit for bit in the simulator).

    ``chaotic``: trajectories whose round-off grows fast (rough landscapes such as dr-fig1 and
    rastrigin at large steps).  On a real GPU, where fused multiply-adds change the last bits of
    every step, the H200 run of 2026-12-04 saw 1e-9 relative after 10 steps and O(1) after 40;
    there only the first saved step after the start is compared (to 1e-6); the simulator still
    checks every step bit for bit.
    """
    assert b.params["backend"] == "cuda" and a.params["backend"] == "cpu"
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_allclose(a.ts, b.ts, rtol=0, atol=0)
    if chaotic and not SIM:
        np.testing.assert_allclose(b.xs[:2], a.xs[:2], rtol=1e-6, atol=1e-9)
        return
    np.testing.assert_allclose(b.xs, a.xs, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(b.x, a.x, rtol=RTOL, atol=ATOL)
    assert a.seed == b.seed
    if with_mus:
        assert np.array_equal(np.isnan(a.mus), np.isnan(b.mus))
        np.testing.assert_allclose(b.mus, a.mus, rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------- device twins
def test_device_rng_is_the_cpu_rng():
    C = _cdyn()
    master = np.uint64(0xDEADBEEF12345678)
    chains = np.array([0, 1, 5, 1000, 2 ** 40])
    blocks = np.array([0, 3, 77, 123456])
    ref = K.normals_block(master, chains, blocks, 3)
    got = C.normals_block(master, chains, blocks, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0)
    # many draws hit the ziggurat's rejection branches and the tail (|z| > 3.65)
    many_ref = K.normals_block(master, np.arange(4), np.arange(64), 16)
    many = C.normals_block(master, np.arange(4), np.arange(64), 16)
    np.testing.assert_allclose(many, many_ref, rtol=1e-14, atol=0)
    cnt = np.arange(0, 2000, 7)
    np.testing.assert_array_equal(C.uniform_block(master, 3, 1, cnt), K.uniform_block(master, 3, 1, cnt))


@pytest.mark.parametrize("loss", [
    get("quadratic", A=[[2.0, 0.3], [0.3, 0.5]]), get("abs", dim=2), DW2, get("wide-sharp"),
    SoftminQuadratics(a=(1.0, 4.0), m=((-1.0,), (1.0,)), c=(0.0, 0.1), softness=np.inf),
    SoftminQuadratics(a=(1.0, 4.0), m=((-1.0,), (1.0,)), c=(0.0, 0.1), softness=3.0),
    get("dr-fig1"), get("rastrigin", dim=2), get("cosine", dim=2), get("gaussian-mixture"),
], ids=lambda l: type(l).__name__)
@pytest.mark.slow
def test_device_loss_twins_match_nbloss(loss, rng):
    C = _cdyn()
    lo, hi = np.asarray(loss.bounds, dtype=float).T
    X = lo + (hi - lo) * rng.random((12, loss.dim))
    X[0] = 0.0                                   # sign / kink of abs, wells' centre
    V, G = C.loss_eval(loss, X)
    np.testing.assert_allclose(V, NB.nb_value_batch(loss.nb_kind, loss.nb_params, X), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(G, NB.nb_grad_batch(loss.nb_kind, loss.nb_params, X), rtol=1e-13, atol=1e-14)


# ----------------------------------------------------------------------------- SGD / SGLD
@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["em", "lm"])
@pytest.mark.parametrize("loss", [DW2, get("wide-sharp")], ids=["double-well", "wide-sharp"])
def test_sgd_langevin_matches_cpu(scheme, loss, rng):
    x0 = rng.normal(size=(16, loss.dim))
    kw = dict(lr=0.02, n_steps=40, beta=3.0, scheme=scheme, rng=11, save_every=7)
    a = D.sgd(loss, x0, **kw)
    b = D.sgd(loss, x0, backend="cuda", **kw)
    _same(a, b)
    assert b.xs.shape == (7, 16, loss.dim) and b.params["parallel"] is None     # steps 0, 7, ..., 35, 40


def test_noiseless_gd_and_sgld_schedules_match_cpu():
    a = D.sgd(DW2, np.full(2, 1.7), lr=lambda n: 0.05 / (1 + n), n_steps=30, n_chains=8)
    b = D.sgd(DW2, np.full(2, 1.7), lr=lambda n: 0.05 / (1 + n), n_steps=30, n_chains=8, backend="cuda")
    _same(a, b)
    for conv, scheme in (("dr", "em"), ("welling-teh", "lm")):
        kw = dict(lr=0.03, n_steps=30, beta=2.0, decay=(10.0, 0.55), convention=conv, scheme=scheme, rng=3,
                  save_every=10, n_chains=12)
        a = D.sgld(get("dr-fig1"), np.array([0.5]), **kw)
        b = D.sgld(get("dr-fig1"), np.array([0.5]), backend="cuda", **kw)
        _same(a, b, chaotic=True)
        assert b.params["convention"] == conv


def test_chains_do_not_depend_on_how_many_run():
    kw = dict(lr=0.02, n_steps=25, beta=1.0, rng=99, backend="cuda")
    x0 = np.linspace(-1, 1, 16).reshape(8, 2)
    full = D.sgd(DW2, x0, **kw)
    head = D.sgd(DW2, x0[:3], **kw)
    np.testing.assert_array_equal(full.x[:3], head.x)


# ----------------------------------------------------------------------------- Entropy-SGD / HJ-prox
@pytest.mark.parametrize("case", [
    dict(beta=3.0, scoping=0.05, nesterov=True, ema=0.75),                       # DR noise, Lua-style EMA
    dict(beta=None, scoping=1e-3, **D.ESGD_CODE),                                  # reference-code flags
    dict(beta=5.0, ema=None, burn_in=3, outer="prox-grad"),                       # running mean, prox-grad
    dict(beta=np.inf, rho=0.3, ema=0.0),                                           # noiseless, data term
], ids=["dr-nesterov", "code", "mean-proxgrad", "noiseless-rho"])
@pytest.mark.slow
def test_entropy_sgd_matches_cpu(case, rng):
    loss = get("wide-sharp")
    x0 = rng.normal(size=(12, loss.dim))
    kw = dict(t=0.4, lr=0.3, inner_lr=0.05, L=8, n_steps=5, rng=21, save_every=2)
    kw.update(case)
    a = D.entropy_sgd(loss, x0, **kw)
    b = D.entropy_sgd(loss, x0, backend="cuda", **kw)
    _same(a, b, with_mus=True)
    np.testing.assert_array_equal(a.schedule["t"], b.schedule["t"])
    assert np.isnan(b.mus[-1]).all() and not np.isnan(b.mus[:-1]).any()


def test_hj_prox_matches_cpu():
    kw = dict(t=0.3, lr=0.5, inner_lr=0.1, L=10, n_steps=4, scoping=0.1, save_every=1, n_chains=8)
    a = D.hj_prox(get("rastrigin", dim=2), np.array([1.3, -0.7]), **kw)
    b = D.hj_prox(get("rastrigin", dim=2), np.array([1.3, -0.7]), backend="cuda", **kw)
    _same(a, b, with_mus=True, chaotic=True)


# ----------------------------------------------------------------------------- errors, auto, non-finite
def test_backend_errors_are_clear():
    with pytest.raises(ValueError, match="backend"):
        D.sgd(DW2, np.zeros(2), lr=0.1, n_steps=2, backend="gpu")
    fs = finite_sum("least-squares", n_samples=16, dim=2, seed=0)
    with pytest.raises(ValueError, match=r"backend='cuda'.*analytic loss.*nb_kind"):
        D.sgd(fs, np.zeros(2), lr=0.1, n_steps=2, batch=4, rng=0, backend="cuda")
    with pytest.raises(ValueError, match=r"backend='cuda'.*analytic loss"):
        D.entropy_sgd(fs, np.zeros(2), t=1.0, lr=0.1, inner_lr=0.1, L=2, n_steps=2, beta=1.0, rng=0,
                      backend="cuda")
    with pytest.raises(ValueError, match=r"backend='cuda'.*elastic_sgd has no CUDA kernel"):
        D.elastic_sgd(DW2, np.zeros(2), n_replicas=2, lr=0.1, n_steps=2, t=1.0, backend="cuda")
    with pytest.raises(ValueError, match=r"backend='cuda'.*parle has no CUDA kernel"):
        D.parle(DW2, np.zeros(2), n_replicas=2, nb=1, n_epochs=1, L=2, backend="cuda")


@pytest.mark.slow
def test_auto_uses_cpu_without_a_gpu_or_without_a_device_kernel():
    fs = finite_sum("least-squares", n_samples=16, dim=2, seed=0)
    r = D.sgd(fs, np.zeros(2), lr=0.05, n_steps=3, batch=4, rng=0, backend="auto")
    assert r.params["backend"] == "cpu"
    r = D.parle(DW2, np.zeros(2), n_replicas=2, nb=1, n_epochs=1, L=2, backend="auto")
    assert r.params["backend"] == "cpu"
    r = D.sgd(DW2, np.zeros(2), lr=0.05, n_steps=3, backend="auto")
    if not backend.gpu_present():
        assert r.params["backend"] == "cpu"


def test_nonfinite_is_reported_like_the_cpu():
    loss = get("quadratic", A=1.0, dim=1)
    x0 = np.array([[0.5], [1.0], [0.0], [2.0]])          # chain 2 sits at the minimum and never diverges
    msgs = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(NonFiniteError, match=r"chain 0 became non-finite at step \d+ \(3 chain") as e:
            D.sgd(loss, x0, lr=3.0, n_steps=1200, backend=backend)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
    msgs = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(NonFiniteError, match="entropy_sgd: chain 0 became non-finite at outer step") as e:
            D.entropy_sgd(loss, x0, t=1.0, lr=3.0, rho=1.0, inner_lr=0.01, L=1, n_steps=1200, beta=np.inf,
                          ema=0.0, backend=backend)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
