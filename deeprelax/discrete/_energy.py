r"""Compiled building blocks: fields, energies and O(P) single-flip updates.

The pattern matrix is stored as ``xsT[j, mu] = sigma^mu xi^mu_j`` (shape ``(N, P)``, int8), so the
fields are :math:`h^\mu = \sum_j xsT[j,\mu] W_j` and flipping ``W_j`` changes every field by
:math:`-2 W_j\, xsT[j, \mu]`: one contiguous row, O(P) work, instead of the O(NP) recomputation.

Energy codes (see :data:`deeprelax.discrete.problem.ENERGIES`): 0 = number of errors
(:math:`h < 0`), 1 = hinge :math:`(1 - h)/2` for :math:`h < 0`.

The kernels of the other discrete modules compile these functions into themselves; an edit of
this file alone still recompiles them (the on-disk cache is stamped with a hash of the package's
sources: :mod:`solvers._cache_stamp`).
"""
from __future__ import annotations

from solvers.jit import njit


@njit
def fields_into(xsT, W, h):
    """``h[mu] = sum_j xsT[j, mu] W[j]`` (int32 fields of one configuration)."""
    n, p = xsT.shape
    for mu in range(p):
        h[mu] = 0
    for j in range(n):
        w = W[j]
        for mu in range(p):
            h[mu] += w * xsT[j, mu]


@njit(inline="always")
def flip_count(xsT, h, j, wj):
    """Flip ``W_j`` (value ``wj`` before the flip) in the fields ``h``; return the change of the number of
    negative fields (errors).  The inner step of the enumeration's Gray-code walk and of the counting DFS."""
    two_w = 2 * wj
    dn = 0
    for mu in range(h.shape[0]):
        ho = h[mu]
        hn = ho - two_w * xsT[j, mu]
        h[mu] = hn
        dn += (1 if hn < 0 else 0) - (1 if ho < 0 else 0)
    return dn


@njit
def cost(h, kind):
    """Per-pattern energy of field ``h``: errors (kind 0) or hinge (kind 1)."""
    if h >= 0:
        return 0
    return 1 if kind == 0 else (1 - h) >> 1


@njit
def energies_of_fields(h, kind):
    """(annealed energy of ``kind``, number of errors) of a field vector."""
    e = 0
    ne = 0
    for mu in range(h.shape[0]):
        if h[mu] < 0:
            ne += 1
            e += 1 if kind == 0 else (1 - h[mu]) >> 1
    return e, ne


@njit
def flip_delta(xsT, h, j, wj, kind):
    """Change of (energy of ``kind``, errors) if ``W_j`` (currently ``wj``) flips; fields untouched."""
    p = h.shape[0]
    de = 0
    dn = 0
    two_w = 2 * wj
    for mu in range(p):
        ho = h[mu]
        hn = ho - two_w * xsT[j, mu]
        no = 1 if ho < 0 else 0
        nn = 1 if hn < 0 else 0
        dn += nn - no
        if kind == 0:
            de += nn - no
        else:
            de += nn * ((1 - hn) >> 1) - no * ((1 - ho) >> 1)
    return de, dn


@njit
def apply_flip(xsT, h, j, wj):
    """Update the fields for a flip of ``W_j`` whose value before the flip is ``wj``."""
    two_w = 2 * wj
    for mu in range(h.shape[0]):
        h[mu] -= two_w * xsT[j, mu]


@njit
def pair_delta(xsT, h, i, wi, j, wj, kind):
    """Change of (energy, errors) if ``W_i`` and ``W_j`` (values ``wi``, ``wj``) both flip."""
    de = 0
    dn = 0
    for mu in range(h.shape[0]):
        ho = h[mu]
        hn = ho - 2 * wi * xsT[i, mu] - 2 * wj * xsT[j, mu]
        no = 1 if ho < 0 else 0
        nn = 1 if hn < 0 else 0
        dn += nn - no
        if kind == 0:
            de += nn - no
        else:
            de += nn * ((1 - hn) >> 1) - no * ((1 - ho) >> 1)
    return de, dn


@njit
def errors_of(xsT, W, h):
    """Number of errors of ``W`` (fields recomputed into the scratch ``h``)."""
    fields_into(xsT, W, h)
    ne = 0
    for mu in range(h.shape[0]):
        if h[mu] < 0:
            ne += 1
    return ne
