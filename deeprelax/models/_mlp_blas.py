r"""Compiled minibatch gradient and exact Hessian-vector product of the MLP, one matrix product per layer.

For one chain the minibatch of ``b`` samples goes through the network as a ``(b, n_l)`` matrix per layer
(``numpy.dot`` inside Numba calls BLAS), forward, backward and, for ``hvp=True``, Pearlmutter's
R-operator forward and backward:

.. math::

    R z_l = R a_{l-1} W_l^T + a_{l-1} V_l^T + V_{b,l},\qquad R a_l = \phi'(z_l)\,R z_l,\qquad
    R\delta_L = p\odot(R z_L - \langle p, R z_L\rangle)/b,

    R\delta_{l-1} = (R\delta_l W_l + \delta_l V_l)\odot\phi'(z_{l-1}) + (\delta_l W_l)\odot\phi''(z_{l-1})\,R z_{l-1}.

The per-sample kernels of :mod:`._kernels` compute the same quantities sample by sample (used for
per-sample gradients, values and errors, and as the independent check in the tests); this path is
5x faster for minibatches on one core (``benchmarks/bench_models.py``).  Chains run in parallel
threads (``prange``); each chain's arithmetic does not depend on the thread count.

Numba's ``numpy.dot`` calls the BLAS bundled with SciPy.  Its own threads spin on these small products
and, inside the chain threads, oversubscribe the cores (a 256-direction Hessian block took 59 s instead
of 2 s on 2 busy cores), so :func:`single_thread_blas` sets that library (SciPy's, not NumPy's) to one
thread the first time an MLP uses this path; the threads come from the chains instead.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

from ._kernels import _act

_BLAS_LIMITED = False


def single_thread_blas() -> bool:
    """Set SciPy's BLAS (the one Numba's ``numpy.dot`` calls) to one thread, once; True if it was found."""
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return True
    _BLAS_LIMITED = True
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return False
    found = False
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and str(lib.filepath).replace("\\", "/").split("/site-packages/")[-1].startswith("scipy"):
            lib.set_num_threads(1)
            found = True
    return found


@njit
def _offsets(sizes):
    L = sizes.shape[0] - 1
    po = np.zeros(L + 1, np.int64)
    for l in range(1, L + 1):
        po[l] = po[l - 1] + sizes[l] * sizes[l - 1] + sizes[l]
    return po


@njit
def mlp_batch(sizes, act, X, Y, x, v, idx, out, hvp):
    """``out = (1/b) sum_{k in idx} grad l_k(x)`` or, with ``hvp``, ``(1/b) sum Hess(l_k)(x) v`` (no regulariser)."""
    L = sizes.shape[0] - 1
    b = idx.shape[0]
    po = _offsets(sizes)
    a0 = np.empty((b, sizes[0]))
    for s in range(b):
        a0[s, :] = X[idx[s]]
    A = [a0]
    D1 = [a0]           # phi'(z_l) per hidden layer (index l; entry 0 unused)
    D2 = [a0]           # phi''(z_l)
    RZ = [a0]           # R z_l (hvp)
    RA = [np.zeros((b, sizes[0]))]
    for l in range(1, L + 1):
        nin, nout = sizes[l - 1], sizes[l]
        o = po[l - 1]
        W = x[o:o + nin * nout].reshape(nout, nin)
        Z = np.dot(A[l - 1], W.T)
        d1 = np.empty((b, nout))
        d2 = np.empty((b, nout))
        if hvp:
            V = v[o:o + nin * nout].reshape(nout, nin)
            rz = np.dot(A[l - 1], V.T)
            if l > 1:
                rz += np.dot(RA[l - 1], W.T)
        else:
            rz = d1
        for s in range(b):
            for i in range(nout):
                z = Z[s, i] + x[o + nin * nout + i]
                if hvp:
                    rz[s, i] += v[o + nin * nout + i]
                if l < L:
                    a, g1, g2 = _act(act, z)
                    Z[s, i] = a
                    d1[s, i] = g1
                    d2[s, i] = g2
                else:
                    Z[s, i] = z
        A.append(Z)
        D1.append(d1)
        D2.append(d2)
        RZ.append(rz)
        if hvp and l < L:
            RA.append(d1 * rz)
        else:
            RA.append(d1)
    # softmax cross-entropy: delta_L = (p - e_y)/b ; R delta_L = p (Rz - <p, Rz>)/b
    C = sizes[L]
    P = A[L]
    delta = np.empty((b, C))
    rdelta = np.empty((b, C))
    for s in range(b):
        mx = P[s, 0]
        for i in range(1, C):
            mx = max(mx, P[s, i])
        tot = 0.0
        for i in range(C):
            e = math.exp(P[s, i] - mx)
            delta[s, i] = e
            tot += e
        pr = 0.0
        for i in range(C):
            delta[s, i] /= tot
            if hvp:
                pr += delta[s, i] * RZ[L][s, i]
        for i in range(C):
            if hvp:
                rdelta[s, i] = delta[s, i] * (RZ[L][s, i] - pr) / b
            delta[s, i] /= b
        delta[s, Y[idx[s]]] -= 1.0 / b
    for l in range(L, 0, -1):
        nin, nout = sizes[l - 1], sizes[l]
        o = po[l - 1]
        W = x[o:o + nin * nout].reshape(nout, nin)
        if hvp:
            gW = np.dot(rdelta.T, A[l - 1])
            if l > 1:
                gW += np.dot(delta.T, RA[l - 1])
            src = rdelta
        else:
            gW = np.dot(delta.T, A[l - 1])
            src = delta
        out[o:o + nin * nout] = gW.ravel()
        for i in range(nout):
            acc = 0.0
            for s in range(b):
                acc += src[s, i]
            out[o + nin * nout + i] = acc
        if l > 1:
            g = np.dot(delta, W)
            d1, d2 = D1[l - 1], D2[l - 1]
            if hvp:
                V = v[o:o + nin * nout].reshape(nout, nin)
                rg = np.dot(rdelta, W) + np.dot(delta, V)
                rz = RZ[l - 1]
                for s in range(b):
                    for j in range(nin):
                        rg[s, j] = rg[s, j] * d1[s, j] + g[s, j] * d2[s, j] * rz[s, j]
                rdelta = rg
            for s in range(b):
                for j in range(nin):
                    g[s, j] *= d1[s, j]
            delta = g


@njit
def _row(ii, c):
    return ii[c] if ii.shape[0] > 1 else ii[0]


@njit
def mlp_chains_ser(sizes, act, X, Y, xs, vs, idx, out, hvp):
    """:func:`mlp_batch` for every chain ``c`` (``xs[c]``, ``vs[c]``, ``idx[c]`` or the shared ``idx[0]``)."""
    for c in range(xs.shape[0]):
        mlp_batch(sizes, act, X, Y, xs[c], vs[c], _row(idx, c), out[c], hvp)


@pnjit
def mlp_chains_par(sizes, act, X, Y, xs, vs, idx, out, hvp):
    """Threaded twin of :func:`mlp_chains_ser` (one chain per task; bit-identical)."""
    for c in prange(xs.shape[0]):
        mlp_batch(sizes, act, X, Y, xs[c], vs[c], _row(idx, c), out[c], hvp)
