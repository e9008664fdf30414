"""Teacher-student data: inputs labelled by a random teacher of the same architecture as the student.

``{-1,+1}^N`` inputs for the perceptron and committee machine, Gaussian for the MLP, optionally with
label noise; the Bayes error is the flip rate ``noise``.  It builds a model to label the data, so it
sits above the models (:mod:`deeprelax.models.data` holds the data sets that need none).
"""
from __future__ import annotations

import numpy as np

from solvers.errors import check_count

from .committee import CommitteeMachine
from .data import Dataset
from .mlp import MLP
from .perceptron import Perceptron

__all__ = ["teacher_student"]


def _prob(name, v, hi=1.0):
    v = float(v)
    if not (0.0 <= v < hi):
        raise ValueError(f"`{name}` must be in [0, {hi:g}); got {v!r}.")
    return v


def teacher_student(arch: str = "perceptron", *, n_inputs: int, n_samples: int, n_test: int = 1000,
                    noise: float = 0.0, seed: int = 0, **arch_kw) -> Dataset:
    """Inputs labelled by a random teacher of architecture ``arch``; the student uses the same one.

    Parameters
    ----------
    arch : {"perceptron", "committee", "mlp"}
    n_inputs : int
    n_samples, n_test : int
        Training and test set sizes.
    noise : float in [0, 1/2) (binary) or [0, 1 - 1/C)
        Probability that a label is replaced by a different class (uniformly); the Bayes error.
    seed : int
    **arch_kw
        Architecture of the teacher: ``K``, ``tree`` (committee); ``hidden``, ``activation``,
        ``n_classes`` (MLP, default 2 classes).

    Returns
    -------
    Dataset with ``teacher`` (the teacher's parameter vector for a model built with the same ``arch_kw``).
    """
    N = check_count("n_inputs", n_inputs, minimum=1)
    P = check_count("n_samples", n_samples, minimum=1)
    Pt = check_count("n_test", n_test, minimum=0)
    rng = np.random.default_rng(seed)
    if arch == "mlp":
        C = check_count("n_classes", arch_kw.get("n_classes", 2), minimum=2)
        X = rng.standard_normal((P + Pt, N))
    elif arch in ("perceptron", "committee"):
        C = 2
        X = rng.choice(np.array([-1.0, 1.0]), size=(P + Pt, N))
    else:
        raise ValueError(f"`arch` must be 'perceptron', 'committee' or 'mlp'; got {arch!r}.")
    noise = _prob("noise", noise, 1.0 - 1.0 / C)
    probe = Dataset(X, np.zeros(P + Pt, np.int64), np.zeros((0, N)), np.zeros(0, np.int64), C, "probe")
    kw = {k: v for k, v in arch_kw.items() if k != "n_classes"}
    if arch == "perceptron":
        teacher = Perceptron(probe, **kw)
    elif arch == "committee":
        teacher = CommitteeMachine(probe, **kw)
    else:
        teacher = MLP(probe, **kw)
    w = teacher.init(rng)
    y = teacher.predict(w, X)
    flip = rng.random(P + Pt) < noise
    if flip.any():
        y[flip] = (y[flip] + rng.integers(1, C, size=int(flip.sum()))) % C
    prm = {"arch": arch, "n_inputs": N, "n_samples": P, "n_test": Pt, "noise": noise, "seed": seed, **arch_kw}
    return Dataset(X[:P], y[:P], X[P:], y[P:], C, f"teacher-student-{arch}", prm, teacher=w, bayes_error=noise)
