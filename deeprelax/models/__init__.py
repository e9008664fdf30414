"""Learning problems as finite-sum losses: perceptron, committee machine, MLP, and their data.

>>> import deeprelax as dr
>>> data = dr.models.gaussian_mixture(3, 4, n_samples=60, n_test=30, seed=0)
>>> net = dr.models.MLP(data, hidden=(8,))
>>> x = net.init(0)
>>> net.dim, net.grad_batch(x, [0, 5, 7]).shape
(67, (67,))

Every model is a :class:`deeprelax.finite_sum.FiniteSum`: ``value``/``grad`` (full data, points
``(..., d)``), ``grad_batch(x, idx)`` (minibatches, leading axes broadcast), ``grad_samples``,
exact ``hvp`` and ``hessian``, ``error``/``train_error``/``test_error``; the compiled per-sample
functions are in :mod:`deeprelax.models._kernels`.  Hessian spectra: :mod:`deeprelax.models.spectrum`.
"""
from .base import Model
from .committee import CommitteeMachine
from .data import Dataset, digits, gaussian_mixture, random_patterns
from .mlp import MLP
from .perceptron import Perceptron
from .spectrum import hessian_eigs, hessian_spectrum, hessian_trace
from .teacher import teacher_student

__all__ = ["Model", "Perceptron", "CommitteeMachine", "MLP", "Dataset", "random_patterns", "teacher_student",
           "gaussian_mixture", "digits", "hessian_eigs", "hessian_spectrum", "hessian_trace"]
