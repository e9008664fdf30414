r"""Exhaustive enumeration of the solutions of a small instance, and their clusters.

All :math:`2^N` configurations are visited in Gray-code order (one flip, O(P) work, per
configuration) in :math:`2^{N-k}` independent chunks run in parallel; solutions are marked in a
bitmap.  Configuration ``W`` has the code :math:`c = \sum_j [W_j = +1]\, 2^j`.  Clusters are the
connected components of the solutions under single-flip adjacency (Hamming distance 1), found by
union-find; the bitmap with per-word prefix counts (rank) maps a neighbour's code to its index
in O(1), so clustering costs O(S N) for S solutions and the memory is
:math:`2^N/8 + 2^N/16` bytes plus 12 bytes per solution.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from solvers.jit import njit, pnjit, prange
from solvers.result import Result, register_result

from . import _energy
from .problem import BinaryPerceptron

__all__ = ["enumerate_solutions", "EnumerationResult", "MAX_ENUMERATION_N", "decode", "encode"]

#: Largest N accepted by :func:`enumerate_solutions` (2^27 configurations: seconds; memory < 100 MB
#: besides the solutions themselves).
MAX_ENUMERATION_N = 27

_MEM_BUDGET = 1_500_000_000  # bytes; the solution list is checked against this before it is allocated


def encode(W) -> np.ndarray:
    """Codes ``sum_j [W_j = +1] 2^j`` of +-1 rows (int64); ``W`` shape ``(N,)`` or ``(m, N)``."""
    w = np.asarray(W)
    bits = (w > 0).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(w.shape[-1], dtype=np.int64))


def decode(codes, n: int) -> np.ndarray:
    """+-1 rows (int8, shape ``codes.shape + (n,)``) of configuration codes."""
    c = np.asarray(codes, dtype=np.int64)
    bits = (c[..., None] >> np.arange(n, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int8)


@njit
def _popcount64(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit
def _ctz(g):
    k = 0
    while (g & 1) == 0:
        g >>= 1
        k += 1
    return k


@njit
def _enum_chunk(xsT, c, k, bitmap):
    """Mark the solutions with codes in ``[c 2^k, (c+1) 2^k)`` (Gray-code walk over the low k bits)."""
    n, p = xsT.shape
    W = np.empty(n, np.int8)
    base = c << k
    for j in range(n):
        W[j] = 1 if (base >> j) & 1 else -1
    h = np.empty(p, np.int32)
    _energy.fields_into(xsT, W, h)
    nneg = 0
    for mu in range(p):
        if h[mu] < 0:
            nneg += 1
    code = base
    found = 0
    if nneg == 0:
        bitmap[code >> 6] |= np.uint64(1) << np.uint64(code & 63)
        found += 1
    for g in range(1, 1 << k):
        j = _ctz(g)
        wj = W[j]
        nneg += _energy.flip_count(xsT, h, j, wj)
        W[j] = -wj
        code ^= 1 << j
        if nneg == 0:
            bitmap[code >> 6] |= np.uint64(1) << np.uint64(code & 63)
            found += 1
    return found


@pnjit
def _enum_all(xsT, k, bitmap):
    n = xsT.shape[0]
    n_chunks = 1 << (n - k)
    found = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        found[c] = _enum_chunk(xsT, np.int64(c), np.int64(k), bitmap)
    return found.sum()


@njit
def _codes_and_rank(bitmap, n_sol):
    """Sorted solution codes and the prefix counts (rank) of every bitmap word."""
    codes = np.empty(n_sol, np.int64)
    prefix = np.empty(bitmap.shape[0], np.int64)
    s = 0
    for wi in range(bitmap.shape[0]):
        prefix[wi] = s
        word = bitmap[wi]
        b = 0
        while word != 0:
            if word & np.uint64(1):
                codes[s] = (wi << 6) + b
                s += 1
            word >>= np.uint64(1)
            b += 1
    return codes, prefix


@njit
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit
def _clusters(codes, bitmap, prefix, n):
    """Connected components under single flips; returns the root index of every solution."""
    s = codes.shape[0]
    parent = np.arange(s)
    for i in range(s):
        c = codes[i]
        for j in range(n):
            cn = c ^ (1 << j)
            if cn < c:
                continue  # each edge once (from its lower end)
            word = bitmap[cn >> 6]
            bit = cn & 63
            if (word >> np.uint64(bit)) & np.uint64(1):
                below = word & ((np.uint64(1) << np.uint64(bit)) - np.uint64(1))
                jdx = prefix[cn >> 6] + _popcount64(below)
                ri = _find(parent, i)
                rj = _find(parent, jdx)
                if ri != rj:
                    if ri < rj:
                        parent[rj] = ri
                    else:
                        parent[ri] = rj
    for i in range(s):
        parent[i] = _find(parent, i)
    return parent


@register_result
@dataclass(frozen=True, repr=False)
class EnumerationResult(Result):
    r"""All solutions of one instance and their single-flip clusters.

    Attributes
    ----------
    n, p : int
        Instance size.
    codes : ndarray, shape (S,), int64
        Sorted solution codes :math:`\sum_j [W_j=+1] 2^j` (:func:`decode` gives the +-1 rows).
    labels : ndarray, shape (S,), int32
        Cluster of each solution: 0 = the largest cluster, 1 = the next, ... (ties by lowest code).
    cluster_sizes : ndarray, shape (K,), int64
        Sizes of the K clusters, largest first.
    wall_time : float
        Seconds (enumeration + clustering; compile time excluded when cached).
    """

    n: int
    p: int
    codes: np.ndarray
    labels: np.ndarray
    cluster_sizes: np.ndarray
    wall_time: float = 0.0
    params: dict = field(default_factory=dict)

    @property
    def n_solutions(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_clusters(self) -> int:
        return int(self.cluster_sizes.shape[0])

    @property
    def largest_cluster(self) -> int:
        return int(self.cluster_sizes[0]) if self.cluster_sizes.size else 0

    @property
    def solutions(self) -> np.ndarray:
        """The solutions as +-1 rows, shape ``(S, N)`` int8 (refused above 500 MB)."""
        need = self.n_solutions * self.n
        if need > 500_000_000:
            msg = (f"decoding {self.n_solutions} solutions of n={self.n} needs {need / 1e6:.0f} MB; use "
                   "decode(codes[idx], n) on a subset.")
            raise MemoryError(msg)
        return decode(self.codes, self.n)


def enumerate_solutions(problem: BinaryPerceptron, *, max_bytes: int = _MEM_BUDGET) -> EnumerationResult:
    r"""Every solution of a small instance (``N <= 27``), with its single-flip clusters.

    Parameters
    ----------
    problem : BinaryPerceptron
        The instance (any labels).
    max_bytes : int
        Memory allowed for the bitmap and the solution list (checked before allocating).

    Returns
    -------
    EnumerationResult
        ``codes`` (S,), ``labels`` (S,), ``cluster_sizes`` (K,), and the properties ``n_solutions``,
        ``n_clusters``, ``largest_cluster``, ``solutions`` (S, N).
    """
    if not isinstance(problem, BinaryPerceptron):
        raise TypeError(f"`problem` must be a BinaryPerceptron; got {type(problem).__name__}.")
    n = problem.n
    if n > MAX_ENUMERATION_N:
        msg = (f"`problem.n` must be <= {MAX_ENUMERATION_N} for exhaustive enumeration (2^n configurations); "
               f"got n={n}. Use local_entropy_count(..., method='ti') at large N.")
        raise ValueError(msg)
    bitmap_bytes = ((1 << n) + 63) // 64 * 8
    if 3 * bitmap_bytes // 2 > max_bytes:
        raise MemoryError(f"enumeration at n={n} needs {1.5 * bitmap_bytes / 1e6:.0f} MB > max_bytes={max_bytes}.")
    t0 = time.perf_counter()
    bitmap = np.zeros(((1 << n) + 63) // 64, np.uint64)
    k = n if n <= 12 else max(12, n - 8)  # chunks of 2^k codes, whole bitmap words each (k >= 6)
    n_sol = int(_enum_all(problem._xsT, k, bitmap))
    need = 3 * bitmap_bytes // 2 + n_sol * 24
    if need > max_bytes:
        msg = (f"{n_sol} solutions at n={n}: the solution list and clustering need {need / 1e6:.0f} MB > "
               f"max_bytes={max_bytes}.")
        raise MemoryError(msg)
    codes, prefix = _codes_and_rank(bitmap, n_sol)
    roots = _clusters(codes, bitmap, prefix, n)
    uniq, inv, counts = np.unique(roots, return_inverse=True, return_counts=True)
    order = np.lexsort((uniq, -counts))  # largest first, ties by lowest root (lowest code)
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(order.size)
    labels = rank_of[inv].astype(np.int32)
    return EnumerationResult(n=n, p=problem.p, codes=codes, labels=labels,
                             cluster_sizes=counts[order].astype(np.int64),
                             wall_time=time.perf_counter() - t0, params={"chunk_bits": k})
