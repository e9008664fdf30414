r"""Data sets for the learning models, every one generated from a seed or shipped (nothing is downloaded).

* :func:`random_patterns`: ``P = alpha N`` patterns ``xi in {-1, +1}^N`` with random labels (the storage
  problem; no test set, since random labels cannot be generalised).
* :func:`~deeprelax.models.teacher.teacher_student` (in :mod:`deeprelax.models.teacher`, above the
  models it builds): inputs labelled by a random teacher of the student's architecture.
* :func:`gaussian_mixture`: ``n_classes`` isotropic Gaussian clouds with random means; exact Bayes error
  for two classes, ``Phi(-|mu_1 - mu_0| / 2)``.
* :func:`digits`: scikit-learn's 8x8 handwritten digits (1797 images shipped inside the package,
  ``sklearn.datasets.load_digits``), a seeded stratified train/test split, pixels standardised with the
  training mean and standard deviation.  Needs the ``data`` extra (``pip install 'deeprelax[data]'``).

Labels are integer classes ``0 .. n_classes - 1`` (binary models read class 1 as ``+1``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from solvers.errors import check_count, check_nonnegative, check_positive

__all__ = ["Dataset", "random_patterns", "gaussian_mixture", "digits"]


@dataclass(frozen=True, repr=False)
class Dataset:
    """A classification data set.

    Attributes
    ----------
    X, y : ndarray, shapes (P, n_inputs) float64 and (P,) int64
        Training inputs and class labels.
    X_test, y_test : ndarray, shapes (P_test, n_inputs) and (P_test,)
        Test set (``P_test = 0`` when there is none).
    n_classes : int
    name : str
    params : dict
        How it was made (seed included).
    teacher : ndarray (d,) or None
        The teacher's parameters (:func:`teacher_student`).
    bayes_error : float
        Error of the best possible classifier (NaN when unknown).
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str
    params: dict = field(default_factory=dict)
    teacher: Optional[np.ndarray] = None
    bayes_error: float = float("nan")

    def __post_init__(self):
        for nm in ("X", "X_test"):
            a = np.ascontiguousarray(getattr(self, nm), dtype=np.float64)
            if a.ndim != 2:
                raise ValueError(f"`{nm}` must have shape (P, n_inputs); got {a.shape}.")
            object.__setattr__(self, nm, a)
        for nm, xn in (("y", "X"), ("y_test", "X_test")):
            a = np.ascontiguousarray(getattr(self, nm), dtype=np.int64)
            if a.shape != (getattr(self, xn).shape[0],):
                raise ValueError(f"`{nm}` must have shape ({getattr(self, xn).shape[0]},); got {a.shape}.")
            if a.size and (a.min() < 0 or a.max() >= self.n_classes):
                raise ValueError(f"`{nm}` must hold classes 0..{self.n_classes - 1}; got range [{a.min()}, {a.max()}].")
            object.__setattr__(self, nm, a)
        if self.X_test.shape[1] != self.X.shape[1]:
            raise ValueError(f"`X_test` must have {self.X.shape[1]} columns like `X`; got {self.X_test.shape[1]}.")
        if not (np.all(np.isfinite(self.X)) and np.all(np.isfinite(self.X_test))):
            raise ValueError("inputs `X` and `X_test` must be finite.")

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, n_samples={self.n_samples}, n_test={self.n_test}, "
                f"n_inputs={self.n_inputs}, n_classes={self.n_classes})")




def random_patterns(n_inputs: int, alpha: float, *, seed: int = 0) -> Dataset:
    """``P = round(alpha N)`` random patterns ``xi in {-1,+1}^N`` with random labels (storage problem).

    Parameters
    ----------
    n_inputs : int
        ``N``.
    alpha : float > 0
        Load ``P / N``.
    seed : int
    """
    N = check_count("n_inputs", n_inputs, minimum=1)
    alpha = check_positive("alpha", alpha, hint="alpha = P/N")
    P = max(1, int(round(alpha * N)))
    rng = np.random.default_rng(seed)
    X = rng.choice(np.array([-1.0, 1.0]), size=(P, N))
    y = rng.integers(0, 2, size=P)
    return Dataset(X, y, np.zeros((0, N)), np.zeros(0, np.int64), 2, "random-patterns",
                   {"n_inputs": N, "alpha": alpha, "n_samples": P, "seed": seed}, bayes_error=0.5)


def gaussian_mixture(n_classes: int = 2, n_inputs: int = 10, *, n_samples: int = 500, n_test: int = 1000,
                     separation: float = 2.0, seed: int = 0) -> Dataset:
    """``n_classes`` unit-variance Gaussian clouds in ``R^n_inputs``, equal weights.

    The means are ``separation / sqrt(2)`` times independent random unit vectors (so two means are
    ``separation`` apart on average in high dimension); for two classes the Bayes error is exactly
    ``Phi(-|mu_1 - mu_0| / 2)``.
    """
    C = check_count("n_classes", n_classes, minimum=2)
    n = check_count("n_inputs", n_inputs, minimum=1)
    P = check_count("n_samples", n_samples, minimum=1)
    Pt = check_count("n_test", n_test, minimum=0)
    sep = check_nonnegative("separation", separation)
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((C, n))
    mu *= sep / math.sqrt(2.0) / np.linalg.norm(mu, axis=1, keepdims=True)
    y = rng.integers(0, C, size=P + Pt)
    X = mu[y] + rng.standard_normal((P + Pt, n))
    from scipy.stats import norm                  # here, not at import: scipy.stats costs 0.4 s to import

    bayes = float(norm.cdf(-np.linalg.norm(mu[1] - mu[0]) / 2.0)) if C == 2 else float("nan")
    prm = {"n_classes": C, "n_inputs": n, "n_samples": P, "n_test": Pt, "separation": sep, "seed": seed,
           "means": mu}
    return Dataset(X[:P], y[:P], X[P:], y[P:], C, "gaussian-mixture", prm, bayes_error=bayes)


def digits(*, seed: int = 0, test_fraction: float = 0.25, classes=None) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (shipped, no download) with a seeded stratified split.

    Parameters
    ----------
    seed : int
        Seed of the split.
    test_fraction : float in (0, 1)
    classes : sequence of int, optional
        Keep only these digits (relabelled ``0..len(classes)-1`` in the given order).

    Returns
    -------
    Dataset (64 inputs standardised with the training mean/std; 1797 images for all ten digits).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - exercised with the extra missing
        raise ImportError("deeprelax.models.digits needs scikit-learn (the 8x8 digits ship inside it): "
                          "pip install 'deeprelax[data]'") from None
    tf = float(test_fraction)
    if not (0.0 < tf < 1.0):
        raise ValueError(f"`test_fraction` must be in (0, 1); got {test_fraction!r}.")
    raw = load_digits()
    X, y = raw.data.astype(np.float64), raw.target.astype(np.int64)
    if classes is not None:
        classes = [int(c) for c in classes]
        if len(classes) < 2 or len(set(classes)) != len(classes) or min(classes) < 0 or max(classes) > 9:
            raise ValueError(f"`classes` must be at least two distinct digits in 0..9; got {classes!r}.")
        keep = np.isin(y, classes)
        X, y = X[keep], np.array([classes.index(int(v)) for v in y[keep]], dtype=np.int64)
    C = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    test = np.zeros(y.size, bool)
    for c in range(C):
        ic = np.flatnonzero(y == c)
        ic = ic[rng.permutation(ic.size)]
        test[ic[:int(round(tf * ic.size))]] = True
    tr = np.flatnonzero(~test)
    te = np.flatnonzero(test)
    tr = tr[rng.permutation(tr.size)]
    mean = X[tr].mean(0)
    std = X[tr].std(0)
    std[std < 1e-8] = 1.0
    Z = (X - mean) / std
    prm = {"seed": seed, "test_fraction": tf, "classes": classes}
    return Dataset(Z[tr], y[tr], Z[te], y[te], C, "digits", prm)
