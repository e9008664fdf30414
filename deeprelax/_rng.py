r"""The random numbers of the package: counter-based for the particle dynamics (CPU kernels and their
CUDA twins), sequential chain states for the discrete Monte Carlo kernels, one SplitMix64 mixer.

Counter-based: a number of the dynamics is a pure function of ``(K, chain, stream, counter)``, so
results do not depend on the number of threads, the loop order or the backend
---------------------------------------------------------------------------------------------------
A run draws one 64-bit master key ``K`` from the user's ``numpy.random.Generator``.

* chain key  ``k_c,s = mix(K xor mix(G (c + 1) + G2 s))``  (``s = 0`` noise, ``s = 1`` minibatch indices),
* 64 random bits ``b(k, n) = mix(k xor mix(G (n + 1)))``,

where ``mix`` is the SplitMix64 finaliser (a bijection of 64-bit words with full avalanche) and
``G`` = :data:`GOLDEN`, ``G2`` = :data:`STREAM_MUL` are odd constants.  Uniforms are
``(b >> 11 + 1) 2^-53`` in ``(0, 1]``; standard normal number ``n`` comes from a 256-layer
Marsaglia-Tsang ziggurat fed by ``b(k, n)`` (layer from the low 8 bits, signed uniform from the
top 53; rejections, about 1 %, and the tail re-hash the word with :data:`RETRY`).  The normals of
one step of one chain form a block ``B`` of ``m`` numbers (counters ``B m .. B m + m - 1``), so
any loop order, any thread split, and the numpy twins (through :func:`normals_block`) see exactly
the same numbers.  A chain's numbers depend only on its index, not on how many chains run, so
adding chains never changes the existing ones.

Minibatches of finite-sum losses use stream 1, block = the index of the gradient call within the
chain: ``b`` uniform indices with replacement, or a uniform ``b``-subset (Floyd's algorithm,
``b`` uniforms) without replacement.

The constants are public so that the CUDA twins (:func:`device_funcs`, used by
:mod:`deeprelax._cuda_dyn`) compute the same numbers; the simulator tests check it bit for bit.
Statistical tests of the generator: ``tests/deeprelax/test_rng_statistics.py``.

The discrete kernels (:mod:`deeprelax.discrete`) use the same mixer on a per-chain state advanced
sequentially (SplitMix64: ``s += G``, return ``mix(s)``; :func:`next_u64`, :func:`uniform`,
:func:`randint`, :func:`normal`, seeded by :func:`chain_seeds` / :func:`instance_seeds`): a chain's
numbers depend only on its own seed, so results do not depend on the number of threads either.

The particle kernels inline these functions; an edit of this file alone still recompiles them (the
on-disk cache is stamped with a hash of the package's sources: :mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from solvers.jit import njit

#: Small helpers are inlined at the Numba-IR level (a call costs as much as a 2-D Langevin step).
_inline = njit(inline="always")

#: Odd multiplier of the counter and the chain index (2^64 / golden ratio).
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Odd multiplier of the stream index in the chain key.
STREAM_MUL = np.uint64(0xD1B54A32D192ED03)
#: SplitMix64 finaliser: multipliers and shifts.
MIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_M2 = np.uint64(0x94D049BB133111EB)
MIX_S1 = np.uint64(30)
MIX_S2 = np.uint64(27)
MIX_S3 = np.uint64(31)
#: Shift that keeps the top 53 bits of a word (a double's mantissa).
SHIFT53 = np.uint64(11)
ONE = np.uint64(1)
#: 2^-53.
TWO_M53 = 1.0 / 9007199254740992.0
#: Increment of the re-hash ``b <- mix(b + RETRY)`` after a ziggurat rejection.
RETRY = np.uint64(0xA0761D6478BD642F)
#: Mask of the ziggurat layer (low 8 bits).
LAYER_MASK = np.uint64(255)

STREAM_NOISE = 0
STREAM_BATCH = 1


def _zig_tables():
    """Marsaglia-Tsang 256-layer ziggurat for the standard normal: edges ``x`` (257,) and ``exp(-x^2/2)``."""
    r = 3.6541528853610088
    v = 0.00492867323399
    x = np.zeros(257)
    x[0] = v / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, 255):
        x[i + 1] = math.sqrt(-2.0 * math.log(v / x[i] + math.exp(-0.5 * x[i] * x[i])))
    x[256] = 0.0
    return x, np.exp(-0.5 * x * x), r


#: Ziggurat layer edges ``x_i`` (257,), ``f(x_i) = exp(-x_i^2/2)`` and the tail start ``r``.
ZIG_X, ZIG_F, ZIG_R = _zig_tables()
ZIG_X.setflags(write=False)
ZIG_F.setflags(write=False)


# ----------------------------------------------------------------------------- CPU (Numba)
@_inline
def mix64(z):
    """SplitMix64 finaliser of a uint64."""
    z = (z ^ (z >> MIX_S1)) * MIX_M1
    z = (z ^ (z >> MIX_S2)) * MIX_M2
    return z ^ (z >> MIX_S3)


@_inline
def chain_key(master, chain, stream):
    """Key of ``(chain, stream)`` under the master key (all uint64 arithmetic)."""
    return mix64(master ^ mix64(GOLDEN * (np.uint64(chain) + ONE) + STREAM_MUL * np.uint64(stream)))


@_inline
def bits(key, n):
    """64 random bits for counter ``n``."""
    return mix64(key ^ mix64(GOLDEN * (np.uint64(n) + ONE)))


@_inline
def uniform_pos(key, n):
    """Uniform in (0, 1] for counter ``n``."""
    return (float(bits(key, n) >> SHIFT53) + 1.0) * TWO_M53


@_inline
def _u53(b):
    """Uniform in [0, 1) from the top 53 bits."""
    return float(b >> SHIFT53) * TWO_M53


@_inline
def znormal(key, n):
    """Standard normal number ``n`` of stream ``key`` (ziggurat; exact up to 53-bit resolution).

    One 64-bit word ``b = bits(key, n)`` gives the layer (low 8 bits) and a signed uniform
    (top 53 bits); the rare rejections and the tail draw further words ``b <- mix(b + RETRY)``,
    so the result is still a pure function of ``(key, n)``."""
    b = bits(key, n)
    while True:
        i = int(b & LAYER_MASK)
        z = (2.0 * _u53(b) - 1.0) * ZIG_X[i]
        if abs(z) < ZIG_X[i + 1]:
            return z
        b = mix64(b + RETRY)
        if i == 0:
            # tail |z| > r (Marsaglia 1964)
            while True:
                a = -math.log(1.0 - _u53(b)) / ZIG_R
                b = mix64(b + RETRY)
                c = -math.log(1.0 - _u53(b))
                b = mix64(b + RETRY)
                if 2.0 * c > a * a:
                    return ZIG_R + a if z > 0 else -(ZIG_R + a)
        if ZIG_F[i] + _u53(b) * (ZIG_F[i + 1] - ZIG_F[i]) < math.exp(-0.5 * z * z):
            return z
        b = mix64(b + RETRY)


@_inline
def normals_rows(keys, nk, base, d, Z):
    """``Z[i, j] = znormal(keys[i], base + j)`` for ``i < nk``, ``j < d``: the same numbers, faster.

    The ziggurat's first try (accepted for about 98.8 % of the draws) runs as a branch-free loop over
    the keys, which LLVM vectorises (SIMD 64-bit multiplies, table gathers); the counter's half of the
    hash, ``mix(G (n + 1))``, is computed once per counter for all keys.  Rejected first tries are
    marked NaN and redone by :func:`znormal` (which repeats the same first try, then continues), so
    every number equals :func:`znormal`'s bit for bit.  About 1.8-2 ns per normal against 3 ns here."""
    for j in range(d):
        hj = mix64(GOLDEN * (np.uint64(base + j) + ONE))
        for i in range(nk):
            b = mix64(keys[i] ^ hj)
            li = np.int64(b & LAYER_MASK)
            z = (2.0 * (float(np.int64(b >> SHIFT53)) * TWO_M53) - 1.0) * ZIG_X[li]
            Z[i, j] = z if abs(z) < ZIG_X[li + 1] else np.nan
    for i in range(nk):
        for j in range(d):
            if Z[i, j] != Z[i, j]:
                Z[i, j] = znormal(keys[i], base + j)


@_inline
def fill_normals(key, block, m, out):
    """Standard normals of block ``block`` (``m`` numbers, counters ``block m .. block m + m - 1``) into ``out``."""
    base = block * m
    for k in range(m):
        out[k] = znormal(key, base + k)


@_inline
def fill_batch(key, block, N, b, replace, idx):
    """Minibatch indices of block ``block`` into ``idx[:b]`` (with or without replacement)."""
    base = block * b
    if replace:
        for i in range(b):
            r = int(uniform_pos(key, base + i) * N)
            idx[i] = r if r < N else N - 1
    else:
        cnt = 0
        for j in range(N - b, N):
            r = int(uniform_pos(key, base + cnt) * (j + 1))
            if r > j:
                r = j
            found = False
            for q in range(cnt):
                if idx[q] == r:
                    found = True
                    break
            idx[cnt] = j if found else r
            cnt += 1


@njit
def normals_block(master, chains, blocks, m):
    """Test hook: the normals the kernels use, shape ``(len(blocks), len(chains), m)``."""
    out = np.empty((blocks.size, chains.size, m))
    buf = np.empty(m + 1)
    for ic in range(chains.size):
        key = chain_key(master, chains[ic], STREAM_NOISE)
        for ib in range(blocks.size):
            fill_normals(key, blocks[ib], m, buf)
            for j in range(m):
                out[ib, ic, j] = buf[j]
    return out


@njit
def normals_rows_block(master, chains, blocks, m):
    """Test hook: :func:`normals_block` computed by :func:`normals_rows` (all chains of a block at once)."""
    keys = np.empty(chains.size, np.uint64)
    for ic in range(chains.size):
        keys[ic] = chain_key(master, chains[ic], STREAM_NOISE)
    out = np.empty((blocks.size, chains.size, m))
    Z = np.empty((chains.size, m))
    for ib in range(blocks.size):
        normals_rows(keys, chains.size, blocks[ib] * m, m, Z)
        for ic in range(chains.size):
            for j in range(m):
                out[ib, ic, j] = Z[ic, j]
    return out


@njit
def batch_block(master, chains, blocks, N, b, replace):
    """Test hook: the minibatch indices the kernels use, shape ``(len(blocks), len(chains), b)``."""
    out = np.empty((blocks.size, chains.size, b), np.int64)
    buf = np.empty(max(b, 1), np.int64)
    for ic in range(chains.size):
        key = chain_key(master, chains[ic], STREAM_BATCH)
        for ib in range(blocks.size):
            fill_batch(key, blocks[ib], N, b, replace, buf)
            for j in range(b):
                out[ib, ic, j] = buf[j]
    return out


@njit
def uniform_block(master, chain, stream, counters):
    """Test hook: ``uniform_pos`` for a list of counters."""
    key = chain_key(master, chain, stream)
    out = np.empty(counters.size)
    for i in range(counters.size):
        out[i] = uniform_pos(key, counters[i])
    return out


# ----------------------------------------------------------------------------- sequential chain states
# The discrete kernels: each chain (an instance, or an independent run) owns one uint64 state and
# draws SplitMix64 (Steele, Lea & Flood 2014): the Weyl sequence ``s += GOLDEN`` through :func:`mix64`.
def chain_seeds(seed: int, n: int, stream: int = 0) -> np.ndarray:
    """``n`` independent 64-bit chain states derived from ``(seed, stream)``; shape ``(n,)`` uint64."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(stream)])
    return ss.generate_state(max(int(n), 1), dtype=np.uint64)[:n].copy()


def instance_seeds(seed: int, problems, stream: int) -> np.ndarray:
    """One chain state per instance from ``(seed, stream, instance seed)``: an instance gets the same
    random numbers whether it runs alone or in a batch (instances without a seed use their position)."""
    out = np.empty(len(problems), np.uint64)
    for i, pr in enumerate(problems):
        key = i if getattr(pr, "seed", None) is None else int(pr.seed)
        out[i] = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(stream), key & 0xFFFFFFFF]).generate_state(
            1, dtype=np.uint64)[0]
    return out


def instance_rng(seed: int, problem, index: int, stream: int) -> np.random.Generator:
    """numpy Generator for an instance's initial state (same keying as :func:`instance_seeds`)."""
    key = index if getattr(problem, "seed", None) is None else int(problem.seed)
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(stream), key & 0xFFFFFFFF])


@njit
def next_u64(state, c):
    """Advance chain ``c`` of ``state`` (uint64 array) and return 64 random bits."""
    s = state[c] + GOLDEN
    state[c] = s
    return mix64(s)


@njit
def uniform(state, c):
    """Uniform in [0, 1) with 53 random bits."""
    return _u53(next_u64(state, c))


@njit
def randint(state, c, n):
    """Uniform integer in ``0 .. n-1`` (scaled 53-bit uniform; relative bias at most n * 2^-53)."""
    return int(uniform(state, c) * n)


@njit
def normal(state, c):
    """Standard normal by Box-Muller (one of the pair; simple and exact in distribution)."""
    u1 = 1.0 - uniform(state, c)  # (0, 1]
    u2 = uniform(state, c)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# ----------------------------------------------------------------------------- CUDA twins
@functools.lru_cache(maxsize=None)
def device_funcs():
    """Device twins of ``mix64``, ``chain_key``, ``bits``, ``uniform_pos``, ``znormal`` and ``fill_normals``.

    Same constants, same operations in the same order.  ``znormal(key, n, ZX, ZF)`` and
    ``fill_normals(key, block, m, out, ZX, ZF)`` take the ziggurat tables as device arrays
    (:func:`device_tables`).  Returns a namespace with these attributes."""
    from solvers.backend import get_cuda

    cuda = get_cuda()
    zr = float(ZIG_R)

    @cuda.jit(device=True, inline=True)
    def d_mix64(z):
        z = (z ^ (z >> MIX_S1)) * MIX_M1
        z = (z ^ (z >> MIX_S2)) * MIX_M2
        return z ^ (z >> MIX_S3)

    @cuda.jit(device=True, inline=True)
    def d_chain_key(master, chain, stream):
        return d_mix64(master ^ d_mix64(GOLDEN * (np.uint64(chain) + ONE) + STREAM_MUL * np.uint64(stream)))

    @cuda.jit(device=True, inline=True)
    def d_bits(key, n):
        return d_mix64(key ^ d_mix64(GOLDEN * (np.uint64(n) + ONE)))

    @cuda.jit(device=True, inline=True)
    def d_uniform_pos(key, n):
        return (float(d_bits(key, n) >> SHIFT53) + 1.0) * TWO_M53

    @cuda.jit(device=True, inline=True)
    def d_u53(b):
        return float(b >> SHIFT53) * TWO_M53

    @cuda.jit(device=True)
    def d_znormal(key, n, ZX, ZF):
        b = d_bits(key, n)
        while True:
            i = int(b & LAYER_MASK)
            z = (2.0 * d_u53(b) - 1.0) * ZX[i]
            if abs(z) < ZX[i + 1]:
                return z
            b = d_mix64(b + RETRY)
            if i == 0:
                while True:
                    a = -math.log(1.0 - d_u53(b)) / zr
                    b = d_mix64(b + RETRY)
                    c = -math.log(1.0 - d_u53(b))
                    b = d_mix64(b + RETRY)
                    if 2.0 * c > a * a:
                        return zr + a if z > 0 else -(zr + a)
            if ZF[i] + d_u53(b) * (ZF[i + 1] - ZF[i]) < math.exp(-0.5 * z * z):
                return z
            b = d_mix64(b + RETRY)

    @cuda.jit(device=True, inline=True)
    def d_fill_normals(key, block, m, out, ZX, ZF):
        base = block * m
        for k in range(m):
            out[k] = d_znormal(key, base + k, ZX, ZF)

    class NS:
        pass

    ns = NS()
    ns.mix64, ns.chain_key, ns.bits, ns.uniform_pos = d_mix64, d_chain_key, d_bits, d_uniform_pos
    ns.znormal, ns.fill_normals = d_znormal, d_fill_normals
    return ns


@functools.lru_cache(maxsize=None)
def device_tables():
    """The ziggurat tables ``(ZX, ZF)`` as device arrays (uploaded once)."""
    from solvers.backend import get_cuda

    cuda = get_cuda()
    return cuda.to_device(np.array(ZIG_X)), cuda.to_device(np.array(ZIG_F))
