"""One source per built-in loss kind: the generated dispatch is current and covers every kind.

The other forms are tied to the bodies elsewhere: rows vs per-point bit for bit in test_dyn_blocks.py, the
CUDA device functions (the bodies re-targeted by _nbloss.retarget) vs the CPU in test_cuda_dynamics.py, the
NumPy batch forms vs independent formulas in test_losses.py."""
import numpy as np
import pytest

import deeprelax as dr
from deeprelax import _nbloss as NB
from deeprelax import _kernel_loss as KL


def test_generated_dispatch_is_current():
    """The dispatchers between the markers of _nbloss.py are what generate() writes from KINDS
    (after adding a kind, run `python -m deeprelax._nbloss`)."""
    text = open(NB.__file__).read()
    section = text.split(NB.BEGIN, 1)[1].split(NB.END, 1)[0]
    assert section == NB.generate()
    for code, k in NB.KINDS.items():
        assert f"kind == {code}:  # {k.name}" in section
        assert k.name in dr.losses.names()


def test_every_kind_has_a_body_for_value_and_grad():
    for code, k in NB.KINDS.items():
        assert k.value.py_func.__name__ in NB.BODIES and k.grad.py_func.__name__ in NB.BODIES
    assert NB.is_known_kind(NB.KIND_PYTHON) and not NB.is_known_kind(42)
    with pytest.raises(ValueError, match="unknown loss kind"):
        NB.nb_grad(42, np.zeros(3), np.zeros(2), np.zeros(2))


def test_python_callback_kind_round_trip():
    NB.register_callbacks(987, grad_rows=lambda X: 3.0 * X, value_rows=lambda X: X.sum(-1))
    try:
        params = np.array([0.0, 987.0])
        X = np.arange(6.0).reshape(3, 2)
        np.testing.assert_array_equal(NB.nb_grad_batch(NB.KIND_PYTHON, params, X), 3.0 * X)
        np.testing.assert_array_equal(NB.nb_value_batch(NB.KIND_PYTHON, params, X), X.sum(-1))
    finally:
        NB.drop_callbacks(987)


def test_kernel_family_is_found_from_the_providers():
    import importlib

    from deeprelax import _dyn_kernels as K

    fam = KL.family(vars(K))
    for name in ("_sgd_block", "_sgd_ser", "_sgd_par", "_batch_grads", "_esgd_block", "_elastic_chain",
                 "_parle_par", "grad_dispatch"):
        assert name in fam
    assert "znormal" not in fam and "fill_batch" not in fam
    le = importlib.import_module("deeprelax._sgld_plain")   # the plain SGLD kernels
    assert set(KL.family(vars(le))) == {"_sgld_group", "_sgld_ser", "_sgld_par"}
