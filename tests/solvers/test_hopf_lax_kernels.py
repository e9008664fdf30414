"""Pieces of the Hopf-Lax kernels that were rewritten for speed, against the plain forms they replace:
the vectorised cell tables of the refinement, the one-pass finiteness / scale check, and the serial and
threaded compilations of one pass body."""
import numpy as np
import pytest

from solvers import _envelope as env
from solvers import _hl_kernels as hk


def _cell_tables_scalar(g, m, a):
    """The refinement coefficients cell by cell (cell_coeffs of eno_d2, the scalar form with branches)."""
    out = np.empty((5, max(m - 1, 1)))
    for c in range(m - 1):
        out[:, c] = env.cell_coeffs(g, c, env.eno_d2(g, m, c), a)
    return out[:, :m - 1]


def _cell_coeffs_from_model(g, c, d2, a):
    """Independent form of the coefficients: fit the quadratic q(y) = A0 + (A1 + A2 r) r of the vertex value
    and the line s(r) = B0 + B1 r of the vertex offset through three targets r, each vertex found from the
    model's own parameters (lin, d2/2) by the textbook formula."""
    hd = 0.5 * d2
    lin = g[c + 1] - g[c] - hd
    qa = hd + a
    rs = np.array([-1.0, 0.5, 2.0])
    s = (2 * a * rs - lin) / (2 * qa)
    val = g[c] + lin * s + hd * s ** 2 + a * (rs - s) ** 2
    A2, A1, A0 = np.polyfit(rs, val, 2)
    B1, B0 = np.polyfit(rs, s, 1)
    return np.array([A0, A1, A2, B0, B1])


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6, 9, 64, 257])
def test_cell_tables_equal_the_cell_by_cell_constants_bit_for_bit(m):
    rng = np.random.default_rng(m)
    x = np.linspace(-1.0, 1.0, m)
    for g in (rng.standard_normal(m), np.abs(x - 0.1), -x ** 2, np.where(x > 0.2, 1.0, 0.0), 1e6 * np.sin(7 * x)):
        for a in (1e-9, 0.3, 50.0):
            T = np.empty((5, max(m - 1, 1)))
            env.cell_tables(g, m, a, T)
            ref = _cell_tables_scalar(g, m, a)
            for got, want in zip(T, ref):                     # NaN (non-convex cell) compares equal to NaN
                np.testing.assert_array_equal(got[:m - 1].view(np.uint64), want.view(np.uint64))


def test_cell_coefficients_are_the_vertex_of_the_model():
    rng = np.random.default_rng(5)
    g = rng.standard_normal(12)
    for a in (0.05, 0.7, 3.0):
        for c in range(11):
            d2 = env.eno_d2(g, 12, c)
            got = np.array(env.cell_coeffs(g, c, d2, a))
            if 0.5 * d2 + a <= 0:
                assert np.all(np.isnan(got))
                continue
            want = _cell_coeffs_from_model(g, c, d2, a)
            assert np.allclose(got, want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max()))


@pytest.mark.parametrize("vals", [[1.0, -3.0, 2.0], [], [0.0, -0.0], [5e-324, -1e308], [-2.5]])
def test_finite_absmax_is_the_largest_magnitude(vals):
    a = np.asarray(vals, dtype=np.float64)
    assert hk.finite_absmax(a) == (np.abs(a).max() if a.size else 0.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_finite_absmax_flags_non_finite_values(bad):
    a = np.random.default_rng(0).standard_normal(1001)
    a[517] = bad
    assert np.isnan(hk.finite_absmax(a))


def test_serial_and_threaded_passes_are_compiled_apart():
    # one body each, but two functions with their own qualified names: their on-disk cache entries differ
    for ser, par in ((hk.hl_strided_serial, hk.hl_strided_parallel), (hk.hl_contig_serial, hk.hl_contig_parallel),
                     (env.ch_pass_serial, env.ch_pass_parallel), (env.finalize_serial, env.finalize_parallel)):
        assert ser.py_func.__code__ is par.py_func.__code__
        assert ser.py_func.__qualname__ != par.py_func.__qualname__
        assert not ser.targetoptions.get("parallel") and par.targetoptions.get("parallel")


def _interp_position_branches(p, m, pos):
    """interp_position as first written, with branches (the kernel's select form must agree bit for bit)."""
    jj = int(np.floor(pos))
    w = pos - jj
    if jj >= m - 1:
        return p[m - 1]
    if jj < 0:
        return p[0]
    if w == 0.0:
        return p[jj]
    p0, p1 = p[jj], p[jj + 1]
    if abs(p1 - p0) <= 2.0:
        return p0 + w * (p1 - p0)
    return p0 if w < 0.5 else p1


def test_interp_position_selects_equal_the_branches():
    from solvers.jit import njit

    f = njit(lambda p, m, pos: env.interp_position(p, m, pos))
    rng = np.random.default_rng(3)
    for m in (2, 3, 7, 40):
        p = np.cumsum(rng.choice([0.3, 1.0, 2.5, -0.7], m)) + 0.1      # steps below and above two cells
        poss = np.concatenate([np.arange(m, dtype=float), rng.uniform(0, m - 1, 50), [m - 1.0, 0.5, m - 1.5]])
        for pos in poss:
            got, want = f(p, m, pos), _interp_position_branches(p, m, pos)
            assert got == want, (m, pos, got, want)


def _refine_both_cells(g, m, j, xq, a, T):
    """refine_cells as first written: the vertex and the value of both cells always, then the smaller
    (the kernel computes one value, picked by the vertices, and both only when both vertices are inside)."""
    fj = float(j)
    best = g[j] + a * (xq - fj) * (xq - fj)
    if j < 1 or j > m - 2:
        cl = cr = 0 if j < 1 else m - 2
        pl = pr = float(cl)
    else:
        cl, cr, pl, pr = j - 1, j, fj - 1.0, fj
    out = []
    for c, p in ((cl, pl), (cr, pr)):
        r = xq - p
        s = T[3, c] + T[4, c] * r
        v = T[0, c] + (T[1, c] + T[2, c] * r) * r
        out.append((v if 0.0 < s < 1.0 else np.inf, p + s))
    (vl, ql), (vr, qr) = out
    pos = fj
    if vl < best:
        best, pos = vl, ql
    if vr < best:
        best, pos = vr, qr
    return best, pos


@pytest.mark.parametrize("m", [2, 3, 4, 9, 64])
def test_refine_cells_equals_the_both_cells_form_bit_for_bit(m):
    rng = np.random.default_rng(10 + m)
    x = np.linspace(-1.0, 1.0, m)
    nboth = 0
    for g in (rng.standard_normal(m), np.abs(x - 0.1), -x ** 2, np.sin(5 * x) + x ** 2, np.where(x > 0.2, 1.0, 0.0)):
        for a in (1e-3, 0.3, 50.0):
            T = np.empty((5, max(m - 1, 1)))
            env.cell_tables(g, m, a, T)
            for j in range(m):
                # targets around and between the nodes next to j, also exactly on nodes and cell midpoints
                for xq in np.concatenate([j + np.array([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0]), rng.uniform(j - 1, j + 1, 6)]):
                    got = env.refine_quadratic(g, m, j, xq, a)
                    want = _refine_both_cells(g, m, j, xq, a, T)
                    assert np.float64(got[0]).view(np.uint64) == np.float64(want[0]).view(np.uint64), (g, a, j, xq)
                    assert np.float64(got[1]).view(np.uint64) == np.float64(want[1]).view(np.uint64), (g, a, j, xq)
                    if 0 < j < m - 1:
                        sl = T[3, j - 1] + T[4, j - 1] * (xq - j + 1.0)
                        sr = T[3, j] + T[4, j] * (xq - j)
                        nboth += (0 < sl < 1) and (0 < sr < 1)
    if m >= 9:
        assert nboth > 0                 # the branch that evaluates both cells was taken too


def _fh_scan_python(g, a):
    """The Felzenszwalb-Huttenlocher scan in plain Python, recomputing G_p = g_p / (2a) + p^2 / 2 on every pop
    (the kernel reads them from a table computed first)."""
    ia2 = 1.0 / (2.0 * a)
    G = lambda q: g[q] * ia2 + 0.5 * q * q                      # noqa: E731
    v, z = [0], [-np.inf]
    for q in range(1, len(g)):
        while True:
            p = v[-1]
            num, den = G(q) - G(p), q - p
            if num <= z[-1] * den:
                v.pop()
                z.pop()
            else:
                break
        v.append(q)
        z.append(num / den)
    return np.array(v), np.array(z + [np.inf])


@pytest.mark.parametrize("kind", ["noise", "walk", "smooth", "concave"])
def test_fh_build_equals_the_plain_scan_bit_for_bit(kind):
    rng = np.random.default_rng(7)
    m = 500
    x = np.linspace(-1, 1, m)
    g = {"noise": rng.standard_normal(m), "walk": np.cumsum(rng.standard_normal(m)) * 0.01,
         "smooth": np.sin(5 * x) + x ** 2, "concave": -x ** 2}[kind]
    for a in (1e-6, 1e-3, 0.5):
        v, z, G = np.empty(m, np.int32), np.empty(m + 1), np.empty(m)
        K = env.fh_build(g, m, a, v, z, G)
        vw, zw = _fh_scan_python(g, a)
        assert K == len(vw) and np.array_equal(v[:K], vw)
        np.testing.assert_array_equal(z[:K + 1].view(np.uint64), zw.view(np.uint64))
