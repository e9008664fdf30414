r"""CUDA backend of the particle ensembles (:mod:`deeprelax.dynamics`, ``backend="cuda"``).

One GPU thread runs one chain, with the same arithmetic, in the same order, as the
CPU chain routines of :mod:`deeprelax._dyn_kernels`:

* :func:`sgd` / :func:`sgld` (``_sgd_chain``): Euler-Maruyama and Leimkuhler-Matthews steps
  ``x <- x - h_n g(x) + sig_n xi_n`` (LM: ``sig_n (xi_n + xi_{n+1})``), isotropic noise;
* :func:`entropy_sgd` / :func:`hj_prox` (``_esgd_chain``): ``L`` inner SGLD steps on
  ``f(y) + |y - x|^2 / (2 t_k)`` with optional Nesterov-style momentum, the EMA (or running
  mean after burn-in) ``mu``, scoping ``t_k = t (1 + scoping)^-k`` and the outer step
  (``"dr"``, ``"code"``, ``"prox-grad"``, optional ``rho`` data term).

Random numbers: the device twins of the counter-based generator (:mod:`deeprelax._rng`:
SplitMix64 finaliser keys, 256-layer ziggurat; the tables are passed as device arrays), so chain
``c`` of a run sees the very numbers the CPU backend draws for it, whatever the thread layout.
Losses: the one per-point body of each analytic kind 0-7 (:mod:`deeprelax._nbloss`), compiled as a
device function from the same Python source (:func:`loss_funcs`), specialised at compile time on the
loss kind, the dimension and the scratch length (positions and the per-well scratch live in
registers/local memory).

Positions stay on the device for the whole run; thinned snapshots (``save_every``) are written
into a device array ``(n_saved, n_chains, d)`` and copied back once at the end, with the final
positions and the per-chain status.

Not on the device (``backend="cuda"`` raises a ValueError naming the argument; ``"auto"`` uses
the CPU): user losses, finite-sum losses (minibatch or full gradients), :func:`elastic_sgd`, :func:`parle`.
Precision is float64 only.

Agreement: bit-identical in numba's CUDA simulator; on a GPU, libdevice ``exp``/``log``/``sin``
and fused multiply-adds may differ from the CPU's libm in the last ulp, so trajectories agree to
round-off (a ziggurat accept/reject decision that flips on a 1-ulp difference, probability
~1e-16 per normal, would change that chain's path).
"""
from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
import warnings

import numpy as np

from solvers.backend import get_cuda, simulator_enabled

from . import _nbloss as NB
from . import _rng as RNG

#: ``numba.cuda``, bound on first use; must be a module global (the simulator swaps it while a kernel runs).
cuda = None

#: Analytic loss kinds with a device twin.
DEVICE_KINDS = (NB.KIND_QUADRATIC, NB.KIND_ABS, NB.KIND_DOUBLE_WELL, NB.KIND_SOFTMIN, NB.KIND_DRFIG1,
                NB.KIND_RASTRIGIN, NB.KIND_COSINE, NB.KIND_GAUSSMIX)
#: Threads per block of the chain kernels.
TPB = 128

STREAM_NOISE = RNG.STREAM_NOISE


@contextlib.contextmanager
def quiet():
    """Silence numpy scalar overflow warnings of simulated kernels (uint64 products wrap by design)."""
    if not simulator_enabled():
        yield
        return
    # Python adds ``__warningregistry__`` to the globals of the module a warning comes from, even for
    # ignored ones; inside a simulated kernel other threads iterate those globals (the simulator swaps
    # ``cuda`` in them), so create the registries before the launch, not mid-kernel.
    for mod in (sys.modules[__name__], RNG):
        vars(mod).setdefault("__warningregistry__", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _bind():
    global cuda
    if cuda is None:
        cuda = get_cuda()
    return cuda


# ----------------------------------------------------------------------------- RNG device twins
def rng_funcs():
    """Device twins of the counter RNG (:func:`deeprelax._rng.device_funcs`)."""
    _bind()
    return RNG.device_funcs()


# ----------------------------------------------------------------------------- loss device functions
@functools.lru_cache(maxsize=None)
def _device_bodies():
    """Every body and helper of :mod:`deeprelax._nbloss`, compiled as CUDA device functions from the same source."""
    _bind()
    return NB.retarget(lambda f: cuda.jit(device=True, inline=True)(f))


@functools.lru_cache(maxsize=None)
def loss_funcs(kind: int, d: int):
    """Device functions ``grad(params, x, out, S)`` and ``value(params, x, S)`` of loss ``kind``: its one
    per-point body of :mod:`deeprelax._nbloss`, compiled for the device (the kind is fixed at compile time;
    ``d`` is accepted for the kernels' cache keys).  ``S``: a local array of :func:`scratch_len` floats."""
    KIND = int(kind)
    if KIND not in DEVICE_KINDS:
        raise ValueError(f"loss kind {KIND} has no CUDA twin; device kinds are {DEVICE_KINDS}.")
    k = NB.KINDS[KIND]
    dev = _device_bodies()
    return dev[k.grad.py_func.__name__], dev[k.value.py_func.__name__]


def scratch_len(kind: int, params) -> int:
    """Local scratch floats the device loss functions need (compile-time constant of a kernel)."""
    return max(1, NB.scratch_len(kind, params))


# ----------------------------------------------------------------------------- chain kernels
@functools.lru_cache(maxsize=None)
def sgd_kernel(kind: int, d: int, lm: bool, ks: int = 1):
    """Kernel twin of ``_sgd_chain`` for one (loss kind, dimension, scheme, loss scratch length)."""
    _bind()
    R = rng_funcs()
    grad, _ = loss_funcs(kind, d)
    chain_key, fill_normals = R.chain_key, R.fill_normals
    D = int(d)
    DP = D + 1
    LM = bool(lm)
    KS = int(ks)

    @cuda.jit
    def kern(params, X0, hs, sig, noisy, master, slot, xs, xf, status, ZX, ZF):
        c = cuda.grid(1)
        if c >= X0.shape[0]:
            return
        x = cuda.local.array(D, np.float64)
        g = cuda.local.array(D, np.float64)
        xi = cuda.local.array(DP, np.float64)
        xi2 = cuda.local.array(DP, np.float64)
        S = cuda.local.array(KS, np.float64)
        for j in range(D):
            x[j] = X0[c, j]
        nkey = chain_key(master, c, STREAM_NOISE)
        n_steps = hs.size
        if LM and noisy:
            fill_normals(nkey, 0, D, xi, ZX, ZF)
        if slot[0] >= 0:
            for j in range(D):
                xs[slot[0], c, j] = x[j]
        for n in range(n_steps):
            grad(params, x, g, S)
            h = hs[n]
            s = sig[n]
            if LM:
                if noisy:
                    fill_normals(nkey, n + 1, D, xi2, ZX, ZF)
                    for j in range(D):
                        x[j] = x[j] - h * g[j] + s * (xi[j] + xi2[j])
                        xi[j] = xi2[j]
                else:
                    for j in range(D):
                        x[j] = x[j] - h * g[j]
            elif s != 0.0:
                fill_normals(nkey, n, D, xi, ZX, ZF)
                for j in range(D):
                    x[j] = x[j] - h * g[j] + s * xi[j]
            else:
                for j in range(D):
                    x[j] = x[j] - h * g[j]
            ok = True
            for j in range(D):
                if not math.isfinite(x[j]):
                    ok = False
            if not ok:
                status[c] = n
                break
            k = slot[n + 1]
            if k >= 0:
                for j in range(D):
                    xs[k, c, j] = x[j]
        for j in range(D):
            xf[c, j] = x[j]

    return kern


@functools.lru_cache(maxsize=None)
def esgd_kernel(kind: int, d: int, ks: int = 1):
    """Kernel twin of ``_esgd_chain`` (analytic losses) for one (loss kind, dimension, loss scratch length)."""
    _bind()
    R = rng_funcs()
    grad, _ = loss_funcs(kind, d)
    chain_key, fill_normals = R.chain_key, R.fill_normals
    D = int(d)
    DP = D + 1
    KS = int(ks)

    @cuda.jit
    def kern(params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho, master, slot, xs, mus, xf,
             status, ZX, ZF):
        c = cuda.grid(1)
        if c >= X0.shape[0]:
            return
        x = cuda.local.array(D, np.float64)
        y = cuda.local.array(D, np.float64)
        mu = cuda.local.array(D, np.float64)
        m = cuda.local.array(D, np.float64)
        g = cuda.local.array(D, np.float64)
        xi = cuda.local.array(DP, np.float64)
        S = cuda.local.array(KS, np.float64)
        for j in range(D):
            x[j] = X0[c, j]
        nkey = chain_key(master, c, STREAM_NOISE)
        n_outer = tks.size
        failed = False
        for k in range(n_outer):
            t = tks[k]
            eta_in = ilrs[k]
            s = sigs[k]
            for j in range(D):
                y[j] = x[j]
                mu[j] = x[j]
                m[j] = 0.0
            cnt = 0
            for ell in range(L):
                grad(params, y, g, S)
                if mom != 0.0:
                    for j in range(D):
                        m[j] = mom * m[j] + g[j]
                        g[j] = g[j] + mom * m[j]
                if s != 0.0:
                    fill_normals(nkey, k * L + ell, D, xi, ZX, ZF)
                    for j in range(D):
                        y[j] = y[j] - eta_in * (g[j] + (y[j] - x[j]) / t) + s * xi[j]
                else:
                    for j in range(D):
                        y[j] = y[j] - eta_in * (g[j] + (y[j] - x[j]) / t)
                if ema >= 0.0:
                    for j in range(D):
                        mu[j] = ema * mu[j] + (1.0 - ema) * y[j]
                elif ell >= burn:
                    cnt += 1
                    for j in range(D):
                        mu[j] += (y[j] - mu[j]) / cnt
            sl = slot[k]
            if sl >= 0:
                for j in range(D):
                    xs[sl, c, j] = x[j]
                    mus[sl, c, j] = mu[j]
            if outer_mode == 2:
                grad(params, mu, g, S)
                for j in range(D):
                    x[j] -= lrs[k] * g[j]
            else:
                inv = 1.0 / t if outer_mode == 0 else 1.0
                if rho != 0.0:
                    grad(params, x, g, S)
                    for j in range(D):
                        x[j] -= lrs[k] * ((x[j] - mu[j]) * inv + rho * g[j])
                else:
                    for j in range(D):
                        x[j] -= lrs[k] * (x[j] - mu[j]) * inv
            ok = True
            for j in range(D):
                if not (math.isfinite(x[j]) and math.isfinite(mu[j])):
                    ok = False
            if not ok:
                status[c] = k
                failed = True
                break
        sl = slot[n_outer]
        if sl >= 0 and not failed:
            for j in range(D):
                xs[sl, c, j] = x[j]
        for j in range(D):
            xf[c, j] = x[j]

    return kern


@functools.lru_cache(maxsize=None)
def _fill_kernel():
    _bind()

    @cuda.jit
    def fill(a, v):
        i = cuda.grid(1)
        while i < a.size:
            a[i] = v
            i += cuda.gridsize(1)

    return fill


def _tables():
    return RNG.device_tables()


def _filled(shape, value):
    a = cuda.device_array(shape, np.float64)
    n = int(np.prod(shape))
    if n:
        blocks, tpb = (1, 8) if simulator_enabled() else (max(1, min(4096, -(-n // 256))), 256)
        _fill_kernel()[blocks, tpb](a.reshape(n), float(value))
    return a


def _launch(kern, n, args):
    with quiet():
        kern[-(-n // TPB), TPB](*args)


def check_device_kind(kind: int) -> None:
    """ValueError unless ``kind`` is an analytic loss with a device twin."""
    if int(kind) not in DEVICE_KINDS:
        raise ValueError(f"`loss` must be an analytic loss (nb_kind in {DEVICE_KINDS}) for backend='cuda'; got "
                         f"nb_kind={int(kind)} (finite-sum losses run on backend='cpu').")


# ----------------------------------------------------------------------------- drivers
def run_sgd(kind, params, X0, hs, sig, lm, master, slot, ns):
    """Run ``_sgd_chain`` for every chain on the device.

    Returns ``(xs (ns, n, d), xf (n, d), status (n,), wall, compile_time)``, host arrays; ``wall`` covers
    uploads, the kernel and the copies back (end to end), ``compile_time`` the first launch of a new
    kernel (a 1-chain run, not in ``wall``; 0 in the simulator).
    """
    _bind()
    nc, d = X0.shape
    ks = scratch_len(kind, params)
    kern = sgd_kernel(int(kind), int(d), bool(lm), ks)
    ZX, ZF = _tables()
    noisy = bool(np.any(sig != 0.0))

    def go(n):
        t0 = time.perf_counter()
        dX0 = cuda.to_device(np.ascontiguousarray(X0[:n]))
        dxs = _filled((ns, n, d), 0.0)
        dxf = cuda.device_array((n, d), np.float64)
        dst = cuda.to_device(np.full(n, -1, np.int64))
        _launch(kern, n, (cuda.to_device(params), dX0, cuda.to_device(hs), cuda.to_device(sig), noisy,
                          np.uint64(master), cuda.to_device(slot), dxs, dxf, dst, ZX, ZF))
        out = (dxs.copy_to_host(), dxf.copy_to_host(), dst.copy_to_host())
        return out, time.perf_counter() - t0

    comp = _compile_once(("sgd", int(kind), int(d), bool(lm), ks), lambda: go(1))
    out, wall = go(nc)
    return out + (wall, comp)


def run_esgd(kind, params, X0, L, tks, lrs, ilrs, sigs, outer_mode, ema, burn, mom, rho, master, slot, ns):
    """Run ``_esgd_chain`` for every chain on the device.

    Returns ``(xs, mus, xf, status, wall, compile_time)`` (``mus`` NaN where not written), as :func:`run_sgd`.
    """
    _bind()
    nc, d = X0.shape
    ks = scratch_len(kind, params)
    kern = esgd_kernel(int(kind), int(d), ks)
    ZX, ZF = _tables()

    def go(n):
        t0 = time.perf_counter()
        dX0 = cuda.to_device(np.ascontiguousarray(X0[:n]))
        dxs = _filled((ns, n, d), 0.0)
        dmus = _filled((ns, n, d), np.nan)
        dxf = cuda.device_array((n, d), np.float64)
        dst = cuda.to_device(np.full(n, -1, np.int64))
        _launch(kern, n, (cuda.to_device(params), dX0, int(L), cuda.to_device(tks), cuda.to_device(lrs),
                          cuda.to_device(ilrs), cuda.to_device(sigs), int(outer_mode), float(ema), int(burn),
                          float(mom), float(rho), np.uint64(master), cuda.to_device(slot), dxs, dmus, dxf, dst,
                          ZX, ZF))
        out = (dxs.copy_to_host(), dmus.copy_to_host(), dxf.copy_to_host(), dst.copy_to_host())
        return out, time.perf_counter() - t0

    comp = _compile_once(("esgd", int(kind), int(d), ks), lambda: go(1))
    out, wall = go(nc)
    return out + (wall, comp)


_COMPILED: set = set()


def _compile_once(key, fn) -> float:
    """First use of a kernel on a real GPU: run it once on one chain (compiles) and time it."""
    if simulator_enabled() or key in _COMPILED:
        return 0.0
    t0 = time.perf_counter()
    fn()
    cuda.synchronize()
    _COMPILED.add(key)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- test hooks
@functools.lru_cache(maxsize=None)
def _hook_kernels():
    _bind()
    R = rng_funcs()
    chain_key, fill_normals, uniform_pos = R.chain_key, R.fill_normals, R.uniform_pos

    @cuda.jit
    def normals(master, chains, blocks, m, out, buf, ZX, ZF):
        ic = cuda.grid(1)
        if ic >= chains.size:
            return
        key = chain_key(master, chains[ic], STREAM_NOISE)
        for ib in range(blocks.size):
            fill_normals(key, blocks[ib], m, buf[ic], ZX, ZF)
            for j in range(m):
                out[ib, ic, j] = buf[ic, j]

    @cuda.jit
    def uniforms(master, chain, stream, counters, out):
        i = cuda.grid(1)
        if i < counters.size:
            out[i] = uniform_pos(chain_key(master, chain, stream), counters[i])

    return normals, uniforms


def normals_block(master, chains, blocks, m):
    """Device twin of :func:`deeprelax._dyn_kernels.normals_block` (test hook)."""
    normals, _ = _hook_kernels()
    chains = np.ascontiguousarray(chains, dtype=np.int64)
    blocks = np.ascontiguousarray(blocks, dtype=np.int64)
    out = cuda.device_array((blocks.size, chains.size, m), np.float64)
    buf = cuda.device_array((chains.size, m + 1), np.float64)
    ZX, ZF = _tables()
    with quiet():
        normals[-(-chains.size // 32), 32](np.uint64(master), cuda.to_device(chains), cuda.to_device(blocks), int(m),
                                           out, buf, ZX, ZF)
    return out.copy_to_host()


def uniform_block(master, chain, stream, counters):
    """Device twin of :func:`deeprelax._dyn_kernels.uniform_block` (test hook)."""
    _, uniforms = _hook_kernels()
    counters = np.ascontiguousarray(counters, dtype=np.int64)
    out = cuda.device_array(counters.size, np.float64)
    with quiet():
        uniforms[-(-counters.size // 32), 32](np.uint64(master), int(chain), int(stream), cuda.to_device(counters),
                                              out)
    return out.copy_to_host()


@functools.lru_cache(maxsize=None)
def _loss_hook_kernel(kind, d, ks):
    _bind()
    grad, value = loss_funcs(kind, d)
    KS = int(ks)

    @cuda.jit
    def ev(params, X, V, G):
        i = cuda.grid(1)
        if i < X.shape[0]:
            S = cuda.local.array(KS, np.float64)
            V[i] = value(params, X[i], S)
            grad(params, X[i], G[i], S)

    return ev


def loss_eval(loss, X):
    """Device values (n,) and gradients (n, d) of ``loss`` at points ``X`` (n, d) (test hook)."""
    _bind()
    kind = int(loss.nb_kind)
    check_device_kind(kind)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    ev = _loss_hook_kernel(kind, d, scratch_len(kind, loss.nb_params))
    V = cuda.device_array(n, np.float64)
    G = cuda.device_array((n, d), np.float64)
    with quiet():
        ev[-(-n // 32), 32](cuda.to_device(np.ascontiguousarray(loss.nb_params)), cuda.to_device(X), V, G)
    return V.copy_to_host(), G.copy_to_host()
