r"""Local entropy in discrete learning: the binary perceptron (``dr.discrete``).

The third line of work behind the local-entropy papers (Baldassi, Ingrosso, Lucibello, Saglietti,
Zecchina, PRL 115, 128101 (2015); PNAS 113, E7655 (2016)): learning random patterns with binary
weights, where typical solutions are isolated but rare dense regions exist, are found by
out-of-equilibrium algorithms and generalise.

Problem and measures
    :class:`BinaryPerceptron` (``.random(n, alpha, *, seed, teacher=False)``, ``energy(W)``),
    :func:`enumerate_solutions` (all solutions and single-flip clusters, N <= 27),
    :func:`local_entropy_count` (exact; annealed importance sampling at large N),
    :func:`robustness` (errors after random flips).
Algorithms (each returns :class:`DiscreteResult` with ``W``, ``energy``, ``solved``, ``sweeps``,
``trajectory``)
    :func:`anneal` (simulated annealing, the baseline), :func:`replicated_anneal` (robust ensemble),
    :func:`replicated_sgd` and :func:`entropy_sgd` (continuous relaxation), :func:`focusing_bp`.

Everything is compiled with Numba (``cache=True``) and runs one chain per instance in parallel
when given a list of same-size instances.
"""
from .annealing import anneal, replicated_anneal
from .enumeration import EnumerationResult, decode, encode, enumerate_solutions
from .belief_propagation import focusing_bp
from .local_entropy import LocalEntropyCount, local_entropy_count
from .problem import ENERGIES, BinaryPerceptron
from .relaxation import entropy_sgd, replicated_sgd
from .results import DiscreteResult
from .flatness import RobustnessResult, robustness
from . import checks, targets, theory  # noqa: E402  (registers the targets' result classes for io.load)

__all__ = ["BinaryPerceptron", "ENERGIES", "enumerate_solutions", "EnumerationResult", "encode", "decode",
           "local_entropy_count", "LocalEntropyCount", "robustness", "RobustnessResult", "anneal",
           "replicated_anneal", "replicated_sgd", "entropy_sgd", "focusing_bp", "DiscreteResult", "targets",
           "theory", "checks"]
