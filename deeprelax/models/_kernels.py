r"""Compiled per-sample losses, gradients and Hessian-vector products of the learning models.

One set of per-sample functions per architecture, selected by ``ip[0]`` (the model code); the
minibatch kernels below are generic over the model.  Every function works on one parameter vector
``x`` (shape ``(d,)``) and one sample ``k`` of the data ``X`` (shape ``(P, n_in)``) with integer class
labels ``Y`` (shape ``(P,)``; binary models read class 1 as ``+1`` and class 0 as ``-1``).

Model codes and their integer / float parameter vectors ``ip`` / ``fp``
-----------------------------------------------------------------------
* ``PERCEPTRON = 0``: ``ip = [0, N, loss, sphere]``, ``fp = [kappa]``.  Margin
  ``m = s w.xi / sqrt(N)`` (ridge) or ``m = s w.xi / |w|`` (``sphere = 1``: the loss of ``sqrt(N) w/|w|``,
  invariant under ``w -> c w``), ``s = +-1`` the label.
* ``COMMITTEE = 1``: ``ip = [1, N, K, tree, loss]``, ``fp = [kappa]``.  Hidden fields
  ``lambda_u = w_u . xi_u / sqrt(n)`` (tree: ``n = N/K`` disjoint input blocks, ``d = N``; fully connected:
  ``n = N``, ``d = K N``); surrogate output ``o = sum_u tanh(lambda_u) / sqrt(K)``, margin ``m = s o``;
  prediction ``sign(sum_u sign(lambda_u))``.
* ``MLP = 2``: ``ip = [2, L, act, n_0, ..., n_L]`` (``L`` weight layers, ``act`` 0 = tanh, 1 = ReLU);
  layer ``l`` stores ``W_l`` (``n_l x n_{l-1}``, row-major) then ``b_l``; softmax cross-entropy on the
  logits ``z_L``.

Surrogate losses of the margin (``loss`` code): 0 = cross-entropy ``log(1 + exp(kappa - m))``,
1 = squared ``(1 - m)^2 / 2``, 2 = hinge ``max(0, kappa - m)``.

Hessian-vector products are exact (Pearlmutter's R-operator for the MLP, closed forms for the others;
ReLU and hinge use their almost-everywhere second derivative 0).

Minibatch kernels split each chain's batch into fixed chunks (:data:`CHUNK` samples, at most
:data:`MAX_CHUNKS` chunks), sum each chunk into its own row and add the rows in a fixed order, so the
result does not depend on the number of threads.
"""
from __future__ import annotations

import math

import numpy as np

from solvers.jit import njit, pnjit, prange

PERCEPTRON, COMMITTEE, MLP = 0, 1, 2
LOSS_CODES = {"cross-entropy": 0, "squared": 1, "hinge": 2}
ACTIVATIONS = {"tanh": 0, "relu": 1}
#: Samples per chunk of a minibatch sum, and the most chunks per chain.
CHUNK = 8
MAX_CHUNKS = 64


# ----------------------------------------------------------------------------- scalar pieces
@njit
def _margin_loss(code, m, kappa):
    """``(l, dl/dm, d2l/dm2)`` of the surrogate loss ``code`` at margin ``m``."""
    if code == 0:
        z = kappa - m
        if z >= 0:
            e = math.exp(-z)
            sp = z + math.log1p(e)
            sig = 1.0 / (1.0 + e)
        else:
            e = math.exp(z)
            sp = math.log1p(e)
            sig = e / (1.0 + e)
        return sp, -sig, sig * (1.0 - sig)
    if code == 1:
        r = 1.0 - m
        return 0.5 * r * r, -r, 1.0
    if m < kappa:
        return kappa - m, -1.0, 0.0
    return 0.0, 0.0, 0.0


@njit
def _act(code, z):
    """``(a, a', a'')`` of the activation ``code`` (0 tanh, 1 ReLU) at ``z``."""
    if code == 0:
        a = math.tanh(z)
        d1 = 1.0 - a * a
        return a, d1, -2.0 * a * d1
    if z > 0:
        return z, 1.0, 0.0
    return 0.0, 0.0, 0.0


@njit
def _sign_label(Y, k):
    return 1.0 if Y[k] == 1 else -1.0


# ----------------------------------------------------------------------------- perceptron
@njit
def _perc_loss(ip, fp, X, Y, x, k):
    N = ip[1]
    h = 0.0
    for j in range(N):
        h += x[j] * X[k, j]
    r = _perc_norm(ip, x)
    m = _sign_label(Y, k) * h / r
    return _margin_loss(ip[2], m, fp[0])[0]


@njit
def _perc_norm(ip, x):
    N = ip[1]
    if ip[3] == 1:
        r = 0.0
        for j in range(N):
            r += x[j] * x[j]
        return math.sqrt(r)
    return math.sqrt(N)


@njit
def _perc_grad(ip, fp, X, Y, x, k, out, w):
    N = ip[1]
    s = _sign_label(Y, k)
    h = 0.0
    for j in range(N):
        h += x[j] * X[k, j]
    r = _perc_norm(ip, x)
    m = s * h / r
    l1 = _margin_loss(ip[2], m, fp[0])[1]
    c = w * l1 / r
    if ip[3] == 1:                      # grad m = (s xi - m w / r) / r
        cm = c * m / r
        for j in range(N):
            out[j] += c * s * X[k, j] - cm * x[j]
    else:                               # grad m = s xi / sqrt(N)
        for j in range(N):
            out[j] += c * s * X[k, j]


@njit
def _perc_hvp(ip, fp, X, Y, x, v, k, out, w):
    N = ip[1]
    s = _sign_label(Y, k)
    h = 0.0
    xv = 0.0
    wv = 0.0
    for j in range(N):
        h += x[j] * X[k, j]
        xv += X[k, j] * v[j]
        wv += x[j] * v[j]
    r = _perc_norm(ip, x)
    m = s * h / r
    _, l1, l2 = _margin_loss(ip[2], m, fp[0])
    if ip[3] == 1:
        gmv = (s * xv - m * wv / r) / r                 # grad m . v
        r3 = r * r * r
        a = w * l2 * gmv / r                           # l2 (grad m . v) grad m
        for j in range(N):
            gm_j = a * (s * X[k, j] - m * x[j] / r)
            # l1 * Hess(m) v = l1 [-s (xi (w.v) + w (xi.v)) / r^3 - m v / r^2 + 3 m (w.v) w / r^4]
            hm_j = (-s * (X[k, j] * wv + x[j] * xv) / r3 - m * v[j] / (r * r) + 3.0 * m * wv * x[j] / (r3 * r))
            out[j] += gm_j + w * l1 * hm_j
    else:
        c = w * l2 * xv / N
        for j in range(N):
            out[j] += c * X[k, j]


@njit
def _perc_predict(ip, X, x, k):
    h = 0.0
    for j in range(ip[1]):
        h += x[j] * X[k, j]
    return 1 if h > 0 else 0


# ----------------------------------------------------------------------------- committee machine
@njit
def _comm_fields(ip, X, x, k, sc):
    """Hidden fields ``lambda_u`` into ``sc[0:K]``; returns the fan-in ``n``."""
    N, K, tree = ip[1], ip[2], ip[3]
    n = N // K if tree == 1 else N
    rs = 1.0 / math.sqrt(n)
    for u in range(K):
        xo = u * n if tree == 1 else 0
        wo = u * n
        h = 0.0
        for j in range(n):
            h += x[wo + j] * X[k, xo + j]
        sc[u] = h * rs
    return n


@njit
def _comm_loss(ip, fp, X, Y, x, k, sc):
    K = ip[2]
    _comm_fields(ip, X, x, k, sc)
    o = 0.0
    for u in range(K):
        o += math.tanh(sc[u])
    m = _sign_label(Y, k) * o / math.sqrt(K)
    return _margin_loss(ip[4], m, fp[0])[0]


@njit
def _comm_grad(ip, fp, X, Y, x, k, out, w, sc):
    K, tree = ip[2], ip[3]
    n = _comm_fields(ip, X, x, k, sc)
    s = _sign_label(Y, k)
    rk = 1.0 / math.sqrt(K)
    o = 0.0
    for u in range(K):
        t = math.tanh(sc[u])
        sc[u] = t
        o += t
    l1 = _margin_loss(ip[4], s * o * rk, fp[0])[1]
    rn = 1.0 / math.sqrt(n)
    for u in range(K):
        c = w * l1 * s * rk * (1.0 - sc[u] * sc[u]) * rn
        xo = u * n if tree == 1 else 0
        wo = u * n
        for j in range(n):
            out[wo + j] += c * X[k, xo + j]


@njit
def _comm_hvp(ip, fp, X, Y, x, v, k, out, w, sc):
    K, tree = ip[2], ip[3]
    n = _comm_fields(ip, X, x, k, sc)
    s = _sign_label(Y, k)
    rk = 1.0 / math.sqrt(K)
    rn = 1.0 / math.sqrt(n)
    o = 0.0
    gov = 0.0                                   # grad o . v
    for u in range(K):
        t = math.tanh(sc[u])
        xo = u * n if tree == 1 else 0
        wo = u * n
        xv = 0.0
        for j in range(n):
            xv += X[k, xo + j] * v[wo + j]
        sc[u] = t
        sc[K + u] = xv
        o += t
        gov += (1.0 - t * t) * rk * rn * xv
    _, l1, l2 = _margin_loss(ip[4], s * o * rk, fp[0])
    for u in range(K):
        t = sc[u]
        d1 = 1.0 - t * t
        # l2 (grad o.v) grad o  +  l1 s d2o/dlambda_u^2 (xi_u.v_u)/n xi_u,   d2 tanh = -2 t (1 - t^2)
        c = w * (l2 * gov * d1 * rk * rn + l1 * s * (-2.0 * t * d1) * rk * sc[K + u] / n)
        xo = u * n if tree == 1 else 0
        wo = u * n
        for j in range(n):
            out[wo + j] += c * X[k, xo + j]


@njit
def _comm_predict(ip, X, x, k, sc):
    K = ip[2]
    _comm_fields(ip, X, x, k, sc)
    vote = 0
    for u in range(K):
        vote += 1 if sc[u] > 0 else -1
    return 1 if vote > 0 else 0


# ----------------------------------------------------------------------------- multilayer perceptron
# scratch layout (H = total units of layers 1..L): z, a, delta, Rz, Ra, Rdelta, each of length H
@njit
def _mlp_forward(ip, X, x, k, sc):
    """Fill ``z`` and ``a`` (hidden activations, output softmax); return the log-sum-exp of the logits."""
    L, act = ip[1], ip[2]
    H = 0
    for l in range(1, L + 1):
        H += ip[3 + l]
    po = 0
    uo = 0
    puo = 0
    for l in range(1, L + 1):
        nin = ip[2 + l]
        nout = ip[3 + l]
        bo = po + nin * nout
        for i in range(nout):
            s = x[bo + i]
            base = po + i * nin
            if l == 1:
                for j in range(nin):
                    s += x[base + j] * X[k, j]
            else:
                for j in range(nin):
                    s += x[base + j] * sc[H + puo + j]
            sc[uo + i] = s
            if l < L:
                sc[H + uo + i] = _act(act, s)[0]
        puo = uo
        uo += nout
        po = bo + nout
    # softmax of the logits (layer L, units puo .. puo + C)
    C = ip[3 + L]
    mx = sc[puo]
    for i in range(1, C):
        mx = max(mx, sc[puo + i])
    tot = 0.0
    for i in range(C):
        e = math.exp(sc[puo + i] - mx)
        sc[H + puo + i] = e
        tot += e
    for i in range(C):
        sc[H + puo + i] /= tot
    return mx + math.log(tot)


@njit
def _mlp_loss(ip, X, Y, x, k, sc):
    lse = _mlp_forward(ip, X, x, k, sc)
    L = ip[1]
    H = 0
    for l in range(1, L + 1):
        H += ip[3 + l]
    return lse - sc[H - ip[3 + L] + Y[k]]


@njit
def _mlp_backprop(ip, X, Y, x, v, k, out, w, sc, hvp):
    """``out += w grad l_k`` (``hvp=False``) or ``out += w Hess(l_k) v`` (``hvp=True``, R-operator)."""
    L, act = ip[1], ip[2]
    H = 0
    for l in range(1, L + 1):
        H += ip[3 + l]
    _mlp_forward(ip, X, x, k, sc)
    Z, A, DL, RZ, RA, RD = 0, H, 2 * H, 3 * H, 4 * H, 5 * H
    C = ip[3 + L]
    uoL = H - C
    if hvp:
        # R-forward: Rz_l = V_l a_{l-1} + W_l Ra_{l-1} + Vb_l ;  Ra_l = a'(z_l) Rz_l
        po = 0
        uo = 0
        puo = 0
        for l in range(1, L + 1):
            nin = ip[2 + l]
            nout = ip[3 + l]
            bo = po + nin * nout
            for i in range(nout):
                s = v[bo + i]
                base = po + i * nin
                if l == 1:
                    for j in range(nin):
                        s += v[base + j] * X[k, j]
                else:
                    for j in range(nin):
                        s += v[base + j] * sc[A + puo + j] + x[base + j] * sc[RA + puo + j]
                sc[RZ + uo + i] = s
                if l < L:
                    sc[RA + uo + i] = _act(act, sc[Z + uo + i])[1] * s
            puo = uo
            uo += nout
            po = bo + nout
        pr = 0.0
        for i in range(C):
            pr += sc[A + uoL + i] * sc[RZ + uoL + i]
        for i in range(C):
            sc[RD + uoL + i] = sc[A + uoL + i] * (sc[RZ + uoL + i] - pr)
    for i in range(C):
        sc[DL + uoL + i] = sc[A + uoL + i] - (1.0 if Y[k] == i else 0.0)
    # backward through the layers, last first
    po = 0
    for l in range(1, L + 1):
        po += ip[2 + l] * ip[3 + l] + ip[3 + l]
    uo = H
    for l in range(L, 0, -1):
        nin = ip[2 + l]
        nout = ip[3 + l]
        uo -= nout
        puo = uo - nin                  # unit offset of layer l-1 (l > 1)
        po -= nin * nout + nout
        bo = po + nin * nout
        for i in range(nout):
            dli = sc[DL + uo + i]
            base = po + i * nin
            if hvp:
                rdi = sc[RD + uo + i]
                out[bo + i] += w * rdi
                if l == 1:
                    for j in range(nin):
                        out[base + j] += w * rdi * X[k, j]
                else:
                    for j in range(nin):
                        out[base + j] += w * (rdi * sc[A + puo + j] + dli * sc[RA + puo + j])
            else:
                out[bo + i] += w * dli
                if l == 1:
                    for j in range(nin):
                        out[base + j] += w * dli * X[k, j]
                else:
                    for j in range(nin):
                        out[base + j] += w * dli * sc[A + puo + j]
        if l > 1:
            for j in range(nin):
                s = 0.0
                rs = 0.0
                for i in range(nout):
                    s += x[po + i * nin + j] * sc[DL + uo + i]
                    if hvp:
                        rs += v[po + i * nin + j] * sc[DL + uo + i] + x[po + i * nin + j] * sc[RD + uo + i]
                _, a1, a2 = _act(act, sc[Z + puo + j])
                sc[DL + puo + j] = s * a1
                if hvp:
                    sc[RD + puo + j] = rs * a1 + s * a2 * sc[RZ + puo + j]


@njit
def _mlp_predict(ip, X, x, k, sc):
    _mlp_forward(ip, X, x, k, sc)
    L = ip[1]
    H = 0
    for l in range(1, L + 1):
        H += ip[3 + l]
    C = ip[3 + L]
    o = H + H - C
    best = 0
    for i in range(1, C):
        if sc[o + i] > sc[o + best]:
            best = i
    return best


# ----------------------------------------------------------------------------- dispatch
@njit
def sample_loss(ip, fp, X, Y, x, k, sc):
    """``l_k(x)`` (no regulariser)."""
    if ip[0] == PERCEPTRON:
        return _perc_loss(ip, fp, X, Y, x, k)
    if ip[0] == COMMITTEE:
        return _comm_loss(ip, fp, X, Y, x, k, sc)
    return _mlp_loss(ip, X, Y, x, k, sc)


@njit
def sample_grad_acc(ip, fp, X, Y, x, k, out, w, sc):
    """``out += w grad l_k(x)``."""
    if ip[0] == PERCEPTRON:
        _perc_grad(ip, fp, X, Y, x, k, out, w)
    elif ip[0] == COMMITTEE:
        _comm_grad(ip, fp, X, Y, x, k, out, w, sc)
    else:
        _mlp_backprop(ip, X, Y, x, x, k, out, w, sc, False)


@njit
def sample_hvp_acc(ip, fp, X, Y, x, v, k, out, w, sc):
    """``out += w Hess(l_k)(x) v``."""
    if ip[0] == PERCEPTRON:
        _perc_hvp(ip, fp, X, Y, x, v, k, out, w)
    elif ip[0] == COMMITTEE:
        _comm_hvp(ip, fp, X, Y, x, v, k, out, w, sc)
    else:
        _mlp_backprop(ip, X, Y, x, v, k, out, w, sc, True)


@njit
def sample_predict(ip, X, x, k, sc):
    """Predicted class of sample ``k``."""
    if ip[0] == PERCEPTRON:
        return _perc_predict(ip, X, x, k)
    if ip[0] == COMMITTEE:
        return _comm_predict(ip, X, x, k, sc)
    return _mlp_predict(ip, X, x, k, sc)


# ----------------------------------------------------------------------------- batched kernels
@njit
def _chunk_range(b, nch, ch):
    size = (b + nch - 1) // nch
    lo = ch * size
    return lo, min(b, lo + size)


@njit
def _task(op, t, ip, fp, X, Y, xs, vs, idx, nch, part, sc):
    """One (chain, chunk) task: ``part[t] = sum over the chunk of w * (grad | hvp | loss | wrong)``."""
    c = t // nch
    ch = t - c * nch
    ic = c if idx.shape[0] > 1 else 0
    b = idx.shape[1]
    lo, hi = _chunk_range(b, nch, ch)
    p = part[t]
    for j in range(p.shape[0]):
        p[j] = 0.0
    w = 1.0 / b
    xc = xs[c]
    for i in range(lo, hi):
        k = idx[ic, i]
        if op == 0:
            sample_grad_acc(ip, fp, X, Y, xc, k, p, w, sc[t])
        elif op == 1:
            sample_hvp_acc(ip, fp, X, Y, xc, vs[c], k, p, w, sc[t])
        elif op == 2:
            p[0] += w * sample_loss(ip, fp, X, Y, xc, k, sc[t])
        else:
            p[0] += w * (1.0 if sample_predict(ip, X, xc, k, sc[t]) != Y[k] else 0.0)


@njit
def _reduce(part, nch, out):
    C, m = out.shape
    for c in range(C):
        for j in range(m):
            s = 0.0
            for ch in range(nch):
                s += part[c * nch + ch, j]
            out[c, j] = s


@njit
def batch_ser(op, ip, fp, X, Y, xs, vs, idx, nch, part, sc, out):
    """Mean over each chain's minibatch (serial): op 0 gradient, 1 HVP (direction ``vs``), 2 loss, 3 0-1 error.

    ``xs`` (C, d); ``idx`` (C, b) or (1, b) shared; ``part`` (C*nch, m); ``sc`` (C*nch, s); ``out`` (C, m).
    """
    for t in range(part.shape[0]):
        _task(op, t, ip, fp, X, Y, xs, vs, idx, nch, part, sc)
    _reduce(part, nch, out)


@pnjit
def batch_par(op, ip, fp, X, Y, xs, vs, idx, nch, part, sc, out):
    """Threaded twin of :func:`batch_ser` (same chunks, same sums: bit-identical)."""
    for t in prange(part.shape[0]):
        _task(op, t, ip, fp, X, Y, xs, vs, idx, nch, part, sc)
    _reduce(part, nch, out)


@pnjit
def samples_par(ip, fp, X, Y, x, idx, sc, out):
    """Per-sample gradients ``out[i] = grad l_{idx[i]}(x)`` (threaded over samples)."""
    for i in prange(idx.shape[0]):
        r = out[i]
        for j in range(r.shape[0]):
            r[j] = 0.0
        sample_grad_acc(ip, fp, X, Y, x, idx[i], r, 1.0, sc[i])
