"""Kernel copies for compiled user losses (``deeprelax._kernel_loss.specialise``) are named apart from
the module's own kernels.

Numba names a compiled function's symbol after its qualified name and a per-process counter.  The
module's kernels are loaded from the on-disk cache, with the symbol names of the process that compiled
them; a copy with the original's qualified name could get the same name in this process, and the loaded
kernel then linked to the copy (a vectorised loss ran the compiled user loss' gradient instead of its
own callback: garbage gradients, "non-finite at step 0", depending on the order of compilation).
"""
import numba

from deeprelax import _dyn_kernels as K
from deeprelax._kernel_loss import family, specialise, user_providers


def test_specialised_copies_have_names_of_their_own():
    @numba.njit
    def grad(x, out):
        for j in range(x.shape[0]):
            out[j] = x[j]

    names = family(vars(K))
    assert "_sgd_ser" in names and "_sgd_block" in names
    ns = specialise(vars(K), names, user_providers(None, grad), ("test_kernel_specialise", grad))
    for name in names:
        copy, orig = getattr(ns, name).py_func, getattr(K, name).py_func
        assert copy.__code__ is orig.__code__                   # the same kernel ...
        assert copy.__qualname__ != orig.__qualname__            # ... under a name of its own
        assert copy.__qualname__.startswith(orig.__qualname__)   # (readable in profiles and errors)
