"""Your own loss everywhere (issue 15 §1, §3).

The 2-D double well written three ways -- vectorised NumPy functions, numba.njit functions of one point,
a Loss subclass with public methods -- gives the built-in's trajectories bit for bit (the arithmetic is
the same; the kernels' noise and updates are shared); SGLD on a user loss agrees with the exact local
entropy within its error bars; finite-sum objects that follow the protocol run with minibatches drawn by
the dynamics; entry points take plain callables; the errors say what is wrong.
"""
import warnings

import numba
import numpy as np
import pytest

import deeprelax as dr
import deeprelax.local_entropy as le
from deeprelax import dynamics as D
from deeprelax.finite_sum import finite_sum, fs_grad_idx
from deeprelax.losses import Loss, from_functions

DW = dr.losses.get("double-well", dim=2)


@numba.njit
def dw_value(x):
    r = x[0] * x[0] - 1.0
    s = 0.25 * r * r
    for i in range(1, x.shape[0]):
        s += 0.5 * x[i] * x[i]
    return s


@numba.njit
def dw_grad(x, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0)
    for i in range(1, x.shape[0]):
        out[i] = x[i]


def np_value(x):
    return 0.25 * (x[..., 0] ** 2 - 1.0) ** 2 + 0.5 * (x[..., 1:] ** 2).sum(-1)


def np_grad(x):
    g = np.array(x, dtype=float)
    g[..., 0] = x[..., 0] * (x[..., 0] * x[..., 0] - 1.0)
    return g


class DoubleWellSub(Loss):
    """The subclass contract: public value/grad only."""

    def __init__(self, dim=2):
        super().__init__(dim, bounds=[(-2.0, 2.0)] * dim)

    def value(self, x):
        return np_value(self._x(x))

    def grad(self, x):
        return np_grad(self._x(x))


WAYS = {"numpy": lambda: from_functions(np_value, np_grad, dim=2),
        "njit": lambda: from_functions(dw_value, dw_grad, dim=2),
        "subclass": DoubleWellSub}
PATH = {"numpy": "vectorised", "njit": "compiled", "subclass": "vectorised"}
X0 = np.random.default_rng(0).normal(scale=0.8, size=(70, 2))          # one full block of 64 and a partial one


def _same(a, b, mus=False):
    assert np.array_equal(a.xs, b.xs) and np.array_equal(a.x, b.x)
    if mus:
        assert np.array_equal(a.mus, b.mus, equal_nan=True)


@pytest.mark.slow
@pytest.mark.parametrize("way", list(WAYS))
def test_three_ways_give_the_builtin_trajectories_bit_for_bit(way):
    f = WAYS[way]()
    for scheme in ("em", "lm"):
        kw = dict(lr=0.02, n_steps=30, beta=3.0, scheme=scheme, rng=7, save_every=6)
        a, b = D.sgd(DW, X0, **kw), D.sgd(f, X0, **kw)
        _same(a, b)
        assert b.params["loss_path"] == PATH[way] and a.params["loss_path"] == "builtin"
    for extra in ({"ema": 0.75}, {"ema": None, "burn_in": 1, "outer": "prox-grad", "nesterov": True}):
        kw = dict(t=0.4, beta=5.0, lr=0.1, inner_lr=0.02, L=4, n_steps=5, rng=3, save_every=2, **extra)
        _same(D.entropy_sgd(DW, X0, **kw), D.entropy_sgd(f, X0, **kw), mus=True)
    if way != "njit":                                   # the replica kernels: vectorised path (cached kernels)
        kw = dict(n_replicas=3, lr=0.02, n_steps=12, t=1.0, beta=4.0, rng=2)
        _same(D.elastic_sgd(DW, X0[:4], **kw), D.elastic_sgd(f, X0[:4], **kw))
        kw = dict(n_replicas=2, nb=2, n_epochs=2, L=3, beta=8.0, rng=5)
        _same(D.parle(DW, X0[:3], **kw), D.parle(f, X0[:3], **kw))


def test_plain_callable_runs_with_a_central_difference_gradient():
    kw = dict(lr=0.02, n_steps=20, beta=3.0, rng=7)
    with pytest.warns(UserWarning, match="central differences"):
        b = D.sgd(np_value, X0[:8], **kw)
    a = D.sgd(DW, X0[:8], **kw)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-8)


@pytest.mark.filterwarnings("ignore:local_entropy sgld \\(plain\\)")   # short plain chains: ESS < 400 by design
def test_sgld_estimator_on_a_user_loss_agrees_with_exact():
    """Plain Algorithm-1 chains (``sampler="plain"``; the default replica-exchange sampler on user losses is
    tested in tests/deeprelax/test_replica_exchange.py).  Vectorised and compiled user losses give the same
    SGLD block means bit for bit; the estimate agrees with the exact grad u (Cole-Hopf quadrature) within
    the error bars (|z| < 4 over 10 components; seeds 11-18 give max |z| 1.2-3.2)."""
    f = from_functions(np_value, np_grad, dim=2)
    x = np.array([[-1.3, 0.4], [-0.5, -0.3], [0.2, 0.1], [0.9, -0.6], [1.4, 0.2]])
    t, beta = 0.3, 4.0
    kw = dict(sampler="plain", inner_lr=2e-3, n_samples=20000, burn_in=1500, n_chains=4, rng=11)
    r = dr.local_entropy_grad(f, x, t, beta, method="sgld", **kw)
    assert r.params["loss_path"] == "vectorised"
    ex = dr.local_entropy_grad(f, x, t, beta, method="quadrature")
    np.testing.assert_allclose(ex, dr.local_entropy_grad(DW, x, t, beta, method="quadrature"), atol=1e-5)
    z = (r.grad - ex) / r.stderr
    assert np.all(r.rhat < 1.1) and np.max(np.abs(z)) < 4.0, z
    rc = dr.local_entropy_grad(from_functions(dw_value, dw_grad, dim=2), x, t, beta, method="sgld", **kw)
    assert rc.params["loss_path"] == "compiled" and np.array_equal(rc.grad, r.grad)


# ----------------------------------------------------------------------------- finite-sum protocol
class ProtocolLSQ:
    """A finite sum that follows the protocol without subclassing anything (the built-in least-squares data;
    grad_batch with the compiled per-row arithmetic of the built-in, so trajectories compare bit for bit)."""

    def __init__(self, fs, numpy_batch=False):
        self.fs, self.dim, self.n_samples, self.numpy_batch = fs, fs.dim, fs.n_samples, numpy_batch

    def value(self, x):
        return self.fs.value(x)

    def grad(self, x):
        return self.fs.grad(x)

    def grad_samples(self, x, idx=None):
        return self.fs.grad_samples(x, idx)

    def grad_batch(self, x, idx):
        if self.numpy_batch:
            return self.fs.grad_batch(x, idx)
        out = np.empty(np.shape(x))
        for r in range(out.shape[0]):
            fs_grad_idx(self.fs.nb_kind, self.fs.nb_params, x[r], idx[r], idx.shape[-1], out[r])
        return out


@pytest.mark.parametrize("replace", [True, False])
def test_finite_sum_protocol_object_runs_with_minibatches(replace):
    fs = finite_sum("least-squares", n_samples=40, dim=3, seed=1, lam=0.1)
    P = ProtocolLSQ(fs)
    x0 = np.random.default_rng(3).normal(size=(5, 3))
    kw = dict(lr=0.05, n_steps=25, beta=50.0, rng=4, batch=6, replace=replace, save_every=5)
    a, b = D.sgd(fs, x0, **kw), D.sgd(P, x0, **kw)
    assert b.params["loss_path"] == "vectorised"
    _same(a, b)
    kw = dict(t=0.5, beta=20.0, lr=0.1, inner_lr=0.02, L=3, n_steps=4, rng=2, batch=4, replace=replace,
              outer="prox-grad")
    _same(D.entropy_sgd(fs, x0, **kw), D.entropy_sgd(P, x0, **kw), mus=True)
    kw = dict(n_replicas=2, lr=0.05, n_steps=6, t=1.0, beta=20.0, rng=1, batch=5, replace=replace)
    _same(D.elastic_sgd(fs, x0[:2], **kw), D.elastic_sgd(P, x0[:2], **kw))
    # numpy arithmetic in grad_batch: the same path to round-off
    c = D.sgd(ProtocolLSQ(fs, numpy_batch=True), x0, lr=0.05, n_steps=25, beta=50.0, rng=4, batch=6,
              replace=replace)
    np.testing.assert_allclose(c.x, a.x, rtol=0, atol=1e-12)
    m = dr.sgd_noise.diffusion_matrix(P, x0[0], batch=6)          # the protocol is all diffusion_matrix needs
    np.testing.assert_allclose(m.D, dr.sgd_noise.diffusion_matrix(fs, x0[0], batch=6).D)


# ----------------------------------------------------------------------------- the contract
def test_subclass_contract_and_call_dispatch():
    f = DoubleWellSub()
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    assert np.array_equal(f(x), DW.value(x)) and np.array_equal(f.grad(x), DW.grad(x))
    assert not f.has_hess and f.bounds == [(-2.0, 2.0)] * 2

    class Scaled(DoubleWellSub):                         # overriding value changes f(x) as well
        def value(self, x):
            return 2.0 * super().value(x)

    assert np.array_equal(Scaled()(x), 2.0 * DW.value(x))

    class NoGrad(Loss):
        def __init__(self):
            super().__init__(1)

        def value(self, x):
            return np.sin(self._x(x)[..., 0])

    g = NoGrad()
    with pytest.warns(UserWarning, match="central differences") as rec:
        g1 = g.grad(np.array([[0.3], [1.2]]))
        g.grad(np.array([[0.1]]))
    assert len(rec) == 1                                 # warned once
    np.testing.assert_allclose(g1[:, 0], np.cos([0.3, 1.2]), rtol=0, atol=1e-10)
    with pytest.raises(NotImplementedError, match="must implement value"):
        type("Empty", (Loss,), {})(2).value(np.zeros(2))


def test_from_functions_forms_and_errors():
    fj = from_functions(dw_value, dw_grad, dim=2)
    x = np.random.default_rng(1).normal(size=(4, 3, 2))
    assert np.array_equal(fj(x), DW(x)) and np.array_equal(fj.grad(x), DW.grad(x)) and fj.compiled

    @numba.njit
    def ret_grad(x):
        g = x.copy()
        g[0] = x[0] * (x[0] * x[0] - 1.0)
        return g

    assert np.array_equal(from_functions(dw_value, ret_grad, dim=2).grad(x), DW.grad(x))
    with pytest.warns(UserWarning, match="compiled central differences"):
        fd = from_functions(dw_value, dim=2)
    np.testing.assert_allclose(fd.grad(x), DW.grad(x), rtol=0, atol=1e-9)
    from deeprelax._kernel_loss import kernel_loss
    assert kernel_loss(fd).path == "compiled" and kernel_loss(fj).path == "compiled"

    @numba.njit
    def bad_grad(x, out, extra):
        out[0] = extra

    with pytest.raises(TypeError, match="grad\\(x, out\\)"):
        from_functions(dw_value, bad_grad, dim=2)
    with pytest.raises(ValueError, match=r"values of shape \(\.\.\.\).*x\[\.\.\., k\]"):
        from_functions(lambda x: x[0] ** 2 + x[1] ** 2, dim=2).value(np.zeros((5, 2)))
    bad = from_functions(np_value, lambda x: x[..., :1], dim=2)
    with pytest.raises(ValueError, match=r"`grad` of loss .* same shape; got shape \(3, 1\)"):
        D.sgd(bad, X0[:3], lr=0.01, n_steps=2, beta=1.0, rng=0)
    with pytest.raises(TypeError, match="`value` must be callable"):
        from_functions(3.0, dim=2)
    with pytest.raises(ValueError, match="`batch` needs a finite-sum loss"):
        D.sgd(fj, X0[:3], lr=0.01, n_steps=2, batch=2, rng=0)
    with pytest.raises(TypeError, match="plain callable"):
        dr.losses.as_loss(np_value)


def test_register_factories():
    dr.losses.register("test-user-dw", lambda dim=2: from_functions(np_value, np_grad, dim=dim))
    try:
        f = dr.losses.get("test-user-dw", dim=3)
        assert f.name == "test-user-dw" and f.dim == 3 and "test-user-dw" in dr.losses.names()
        with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['scale'\]"):
            dr.losses.get("test-user-dw", scale=2)
        with pytest.raises(ValueError, match="already registered"):
            dr.losses.register("test-user-dw", DoubleWellSub)
    finally:
        dr.losses._REGISTRY.pop("test-user-dw")
    with pytest.raises(TypeError, match="`factory` must be callable"):
        dr.losses.register("test-not-callable", 3)


def test_entry_points_take_plain_callables_and_losses():
    from solvers.cole_hopf import cole_hopf
    from solvers.fokker_planck import solve_fokker_planck
    from solvers.grid import Grid
    from solvers.hj import solve_hj
    from solvers.hopf_lax import hopf_lax

    D1 = dr.losses.get("double-well", dim=1)
    f1 = from_functions(np_value, np_grad, dim=1, bounds=[(-2.0, 2.0)])
    g = Grid.uniform([(-2.0, 2.0)], 81)
    for solve in (lambda f: hopf_lax(f, g, 0.2).u, lambda f: cole_hopf(f, g, 0.2, 5.0).u,
                  lambda f: solve_hj(f, g, 0.1, beta=5.0).u):
        assert np.array_equal(solve(D1), solve(f1))
    rho0 = np.exp(-g.mesh()[..., 0] ** 2 * 8)
    rho0 /= rho0.sum() * g.cell_volume
    a = solve_fokker_planck(rho0, g, 0.05, potential=D1, beta=2.0)
    b = solve_fokker_planck(rho0, g, 0.05, potential=f1, beta=2.0)
    assert np.array_equal(a.rho, b.rho)
    x = np.linspace(-1.5, 1.5, 7)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # the exact method needs no gradient: no warning
        u_plain = dr.local_entropy(np_value, x, 0.2, 5.0)
    np.testing.assert_allclose(u_plain, dr.local_entropy(D1, x, 0.2, 5.0), atol=1e-6)
    with pytest.warns(UserWarning, match="central differences"):
        p_plain = dr.prox(lambda y: np_value(y), x, 0.2, method="gd").prox
    np.testing.assert_allclose(p_plain, dr.prox(D1, x, 0.2, method="gd").prox, atol=1e-6)


@pytest.mark.skipif(not __import__("solvers.backend", fromlist=["x"]).cuda_available(), reason="no CUDA / simulator")
def test_cuda_backend_rejects_user_losses():
    with pytest.raises(ValueError, match="built-in analytic loss"):
        D.sgd(from_functions(np_value, np_grad, dim=2), X0[:2], lr=0.01, n_steps=2, beta=1.0, rng=0, backend="cuda")


def test_cli_loss_from_a_file_and_a_module(tmp_path, monkeypatch, capsys):
    from deeprelax import cli

    (tmp_path / "mylosses.py").write_text(
        "import numpy as np\n"
        "def well(x):\n"
        "    return 0.25 * (x[..., 0] ** 2 - 1.0) ** 2 + 0.5 * (x[..., 1:] ** 2).sum(-1)\n"
        "def make(dim=1):\n"
        "    from deeprelax.losses import get\n"
        "    return get('double-well', dim=dim)\n")
    out = tmp_path / "out"
    common = ["--t", "0.2", "--beta", "2", "--shape", "81", "--out", str(out)]
    assert cli.main(["smooth", "--loss", f"{tmp_path}/mylosses.py:well", "--param", "dim=1",
                     "--param", "bounds=[[-2,2]]", *common]) == 0
    ref, _ = cli.smooth("double-well", 0.2, 2.0, 81, out, plot=False, quiet=True)
    user, _ = cli.smooth(f"{tmp_path}/mylosses.py:well", 0.2, 2.0, 81, out, params={"dim": 1, "bounds": [[-2, 2]]},
                         plot=False, quiet=True)
    assert np.array_equal(user.u, ref.u)                # same values on the same grid: the same solution
    monkeypatch.syspath_prepend(str(tmp_path))
    fac, _ = cli.smooth("mylosses:make", 0.2, 2.0, 81, out, params={"dim": 1}, plot=False, quiet=True)
    assert np.array_equal(fac.u, ref.u)
    capsys.readouterr()
    assert cli.main(["smooth", "--loss", "mylosses:nope", *common]) == 2
    assert "has no attribute 'nope'" in capsys.readouterr().err
    assert cli.main(["smooth", "--loss", "mylosses:well", *common]) == 2
    assert "--param dim=D" in capsys.readouterr().err
    assert cli.main(["smooth", "--loss", "no-such-loss", *common]) == 2
    assert "MODULE:ATTR" in capsys.readouterr().err


@pytest.mark.slow
def test_readme_your_own_loss_section_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sec = text.split("## Your own loss", 1)[1]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    try:
        exec(compile(code, "README.md", "exec"), ns)
        z = (ns["est"].grad - ns["exact"]) / ns["est"].stderr
        assert np.all(np.abs(z) < 4), z
        assert ns["run"].params["loss_path"] == "vectorised" and ns["lang_c"].params["loss_path"] == "compiled"
        assert np.abs(ns["lang_c"].x - ns["lang"].x).max() < 1e-8
        assert dr.losses.get("tilted-well").value([0.0, 0.0]) == 0.25
    finally:
        dr.losses._REGISTRY.pop("tilted-well", None)
