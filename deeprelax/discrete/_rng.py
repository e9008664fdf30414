"""Per-chain random numbers for the discrete kernels (compiled).

Each Monte Carlo chain (an instance, or an independent run) owns one 64-bit state in a
``uint64`` array and draws from it sequentially with SplitMix64 (Steele, Lea & Flood 2014: a
Weyl sequence passed through a 64-bit finaliser).  A chain's numbers depend only on its own seed,
so results are the same whatever the number of threads.  Seeds come from
``numpy.random.SeedSequence(seed).generate_state`` in :func:`chain_seeds`.

(``deeprelax._dyn_kernels`` has a counter-based generator for the continuous dynamics; the two
could share one module once it is public.)
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2^-53


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
    s = state[c] + _GOLDEN
    state[c] = s
    z = (s ^ (s >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit
def uniform(state, c):
    """Uniform in [0, 1) with 53 random bits."""
    return float(next_u64(state, c) >> _S11) * _INV53


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
