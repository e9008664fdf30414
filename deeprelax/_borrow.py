"""Borrowed arrays: aliases of an array that compiled code does not reference-count.

Numba counts references to every array held in a variable: an inlined helper's array parameters, a
row view ``X[r]`` handed to an inlined loss body, a kernel argument bound to a variable used in a loop
each cost an atomic increment and a decrement (through the array's *meminfo*) wherever its reference
pruning cannot pair them up, which is anywhere a loop sits between the two.  In a step loop of small
rows that is most of the time: the replica-exchange kernel of the soft-min (1-D, 2 rungs) spent 4x the
arithmetic on it, and a mixture's value-and-gradient body on row views ~45 ns a row against ~10 ns
for the same body on the same numbers read in place.

:func:`borrow` and :func:`row` give the same array (or one row of it) with no meminfo, so its copies are
not counted (Numba's increment skips a null meminfo, and the compiler folds the test away).  Nothing
else changes: the same data, shape, strides and type, hence the same machine arithmetic and the same
numbers bit for bit.

Rules (the price of not counting): a borrowed array is valid only while the array it comes from is
alive, which the arguments of a compiled function are for the whole call; never return it, store it in
another array or object, or pass it to object mode (boxing it would hand Python an array without an
owner).  Borrow arguments at the top of a kernel, not arrays the kernel itself allocates (the original
of those dies at its last use).
"""
from __future__ import annotations

from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

__all__ = ["borrow", "row"]


@intrinsic
def borrow(typingctx, a):
    """``a`` (any array) without its meminfo: same data, shape, strides and type, not reference-counted."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = make_array(a)(context, builder, args[0])
        out = make_array(a)(context, builder)
        populate_array(out, data=src.data, shape=src.shape, strides=src.strides, itemsize=src.itemsize,
                       meminfo=None)
        return out._getvalue()

    return a(a), codegen


@intrinsic
def row(typingctx, X, r):
    """Row ``r`` (``0 <= r < X.shape[0]``, not checked) of a 2-D array ``X`` as a borrowed 1-D view:
    what ``X[r]`` gives, not reference-counted."""
    if not (isinstance(X, types.Array) and X.ndim == 2 and isinstance(r, types.Integer)):
        return None
    rett = X.copy(ndim=1, layout="C" if X.layout == "C" else "A")

    def codegen(context, builder, sig, args):
        xa = make_array(X)(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, xa.shape, 2)
        strides = cgutils.unpack_tuple(builder, xa.strides, 2)
        ri = context.cast(builder, args[1], r, types.intp)
        ptr = cgutils.get_item_pointer2(context, builder, xa.data, shape, strides, X.layout,
                                        [ri, context.get_constant(types.intp, 0)])
        out = make_array(rett)(context, builder)
        populate_array(out, data=ptr, shape=[shape[1]], strides=[strides[1]], itemsize=xa.itemsize, meminfo=None)
        return out._getvalue()

    return rett(X, r), codegen
