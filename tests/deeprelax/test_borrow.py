"""Borrowed arrays (deeprelax._borrow): the same data, shape and strides as the array or row they alias,
writes go through, C and strided layouts."""
import numba
import numpy as np

from deeprelax._borrow import borrow, row


@numba.njit
def _rows_twice(X):
    """Each row of X through row() and through X[r]: copies of the values and a write through the view."""
    out = np.empty((X.shape[0], 2, X.shape[1]))
    for r in range(X.shape[0]):
        v = row(X, r)
        w = X[r]
        for i in range(v.shape[0]):
            out[r, 0, i] = v[i]
            out[r, 1, i] = w[i]
        v[v.shape[0] - 1] = -r
    return out, v.strides[0], w.strides[0]


@numba.njit
def _borrow_sum_and_write(a):
    b = borrow(a)
    s = 0.0
    for i in range(b.shape[0]):
        s += b[i]
    b[0] = 42.0
    return s, b.shape[0], b.strides[0]


def test_row_is_the_row_view():
    for X in (np.arange(12.0).reshape(3, 4), np.arange(24.0).reshape(3, 8)[:, ::2]):
        Xc = X.copy()
        out, s1, s2 = _rows_twice(X)
        np.testing.assert_array_equal(out[:, 0], Xc)
        np.testing.assert_array_equal(out[:, 1], Xc)
        assert s1 == s2 == X.strides[1]
        np.testing.assert_array_equal(X[:, -1], -np.arange(3.0))     # written through the borrowed rows
        np.testing.assert_array_equal(X[:, :-1], Xc[:, :-1])


def test_borrow_aliases_the_array():
    for a in (np.arange(5.0), np.arange(10.0)[::2]):
        ref = a.copy()
        s, n, st = _borrow_sum_and_write(a)
        assert s == ref.sum() and n == a.shape[0] and st == a.strides[0]
        assert a[0] == 42.0 and np.array_equal(a[1:], ref[1:])
