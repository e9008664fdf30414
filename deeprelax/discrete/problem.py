r"""The binary perceptron: random patterns, labels, and the error-count energy.

Weights :math:`W \in \{-1,+1\}^N` (``N`` odd, so that :math:`W\cdot\xi` is never zero), patterns
:math:`\xi^\mu \in \{-1,+1\}^N`, labels :math:`\sigma^\mu = \pm 1`, :math:`\mu = 1..P`, load
:math:`\alpha = P/N`.  The energy is the number of misclassified patterns

.. math:: E(W) = \sum_\mu \Theta(-\sigma^\mu\, \mathrm{sign}(W\cdot\xi^\mu)),

and the integer fields (unnormalised stabilities) are :math:`h^\mu = \sigma^\mu\, W\cdot\xi^\mu`
(odd integers).  Two data models: random labels (storage; capacity :math:`\alpha_c \approx 0.833`,
Krauth-Mezard 1989) and teacher-student (labels :math:`\sigma^\mu = \mathrm{sign}(W^*\cdot\xi^\mu)`
from a random teacher :math:`W^*`, itself a typical solution).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from solvers.errors import check_count

__all__ = ["BinaryPerceptron", "ENERGIES", "check_weights", "check_n", "check_alpha"]

#: Energies the Monte Carlo methods can anneal: ``"errors"`` = number of misclassified patterns;
#: ``"hinge"`` = stability-weighted error count sum_mu (1 - h^mu)/2 Theta(-h^mu) (1 for h = -1, 2 for
#: h = -3, ...): zero exactly at the solutions, but it tells how far each error is from being fixed.
ENERGIES = {"errors": 0, "hinge": 1}


def check_n(n, name: str = "n") -> int:
    """``n`` as a positive odd int, else ValueError naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 or n % 2 == 0:
        msg = f"`{name}` must be a positive odd integer (so that W . xi is never zero); got {n!r}."
        raise ValueError(msg)
    return int(n)


def check_alpha(alpha, name: str = "alpha") -> float:
    a = float(alpha) if isinstance(alpha, (int, float, np.integer, np.floating)) else math.nan
    if not (math.isfinite(a) and a > 0):
        msg = f"`{name}` (the load P/N) must be a finite number > 0; got {alpha!r}."
        raise ValueError(msg)
    return a


def check_weights(W, n: int, name: str = "W") -> np.ndarray:
    """``W`` (shape ``(n,)`` or ``(m, n)``) of +-1 values as int8, else ValueError naming ``name``."""
    arr = np.asarray(W)
    if arr.dtype.kind not in "iufb" or arr.dtype.kind == "c":
        msg = f"`{name}` must be a real array of +-1 values; got dtype {arr.dtype}."
        raise ValueError(msg)
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        msg = f"`{name}` must have shape ({n},) or (m, {n}) for this problem (n={n}); got shape {arr.shape}."
        raise ValueError(msg)
    bad = ~((arr == 1) | (arr == -1))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        msg = (f"`{name}` must contain only -1 and +1 (binary weights); got {arr[idx]!r} at index {idx} "
               f"({int(bad.sum())} bad entries).")
        raise ValueError(msg)
    return np.ascontiguousarray(arr, dtype=np.int8)


@dataclass(frozen=True, eq=False)
class BinaryPerceptron:
    r"""One instance of the binary perceptron learning problem.

    Attributes
    ----------
    xi : ndarray, shape (P, N), int8
        Patterns :math:`\xi^\mu \in \{-1, +1\}^N`.
    sigma : ndarray, shape (P,), int8
        Labels :math:`\sigma^\mu`.
    teacher : ndarray, shape (N,), int8, or None
        The teacher :math:`W^*` of a teacher-student instance (labels ``sign(xi @ teacher)``).
    seed : int or None
        The seed the instance was drawn with (None for user arrays).
    """

    xi: np.ndarray
    sigma: np.ndarray
    teacher: np.ndarray | None = None
    seed: int | None = None
    _xsT: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        xi = np.asarray(self.xi)
        if xi.ndim != 2:
            msg = f"`xi` must have shape (P, N); got shape {xi.shape}."
            raise ValueError(msg)
        p, n = xi.shape
        check_n(n, "n (the number of columns of xi)")
        if p < 1:
            raise ValueError("`xi` must hold at least one pattern (P >= 1); got P=0.")
        xi = check_weights(xi, n, "xi")
        sigma = np.asarray(self.sigma).reshape(-1)
        if sigma.shape != (p,):
            msg = f"`sigma` must have shape ({p},) (one label per pattern); got shape {np.shape(self.sigma)}."
            raise ValueError(msg)
        sigma = check_weights(sigma[None, :], p, "sigma")[0]
        teacher = None if self.teacher is None else check_weights(self.teacher, n, "teacher")
        if teacher is not None and teacher.ndim != 1:
            raise ValueError(f"`teacher` must have shape ({n},); got shape {teacher.shape}.")
        if teacher is not None and np.any(np.sign(xi.astype(np.int64) @ teacher) != sigma):
            raise ValueError("`teacher` does not classify the patterns as `sigma` says (not a teacher).")
        object.__setattr__(self, "xi", xi)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "teacher", teacher)
        # sigma^mu xi^mu_j stored by column j (shape (N, P)): one flip of W_j touches a contiguous row
        object.__setattr__(self, "_xsT", np.ascontiguousarray((xi * sigma[:, None]).T))

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(cls, n: int, alpha: float, *, seed: int, teacher: bool = False) -> "BinaryPerceptron":
        r"""Draw an instance with ``P = round(alpha n)`` patterns.

        Parameters
        ----------
        n : int
            Number of weights N (odd).
        alpha : float
            Load ``P / N`` (> 0); ``P = max(1, round(alpha n))``.
        seed : int
            Seed of ``numpy.random.default_rng``.
        teacher : bool
            False: random labels (storage problem).  True: labels from a random teacher ``W*``
            (teacher-student), stored as :attr:`teacher`.
        """
        n = check_n(n)
        alpha = check_alpha(alpha)
        p = max(1, int(round(alpha * n)))
        rng = np.random.default_rng(seed)
        xi = (2 * rng.integers(0, 2, size=(p, n), dtype=np.int8) - 1).astype(np.int8)
        if teacher:
            wt = (2 * rng.integers(0, 2, size=n, dtype=np.int8) - 1).astype(np.int8)
            sigma = np.sign(xi.astype(np.int32) @ wt).astype(np.int8)
        else:
            wt = None
            sigma = (2 * rng.integers(0, 2, size=p, dtype=np.int8) - 1).astype(np.int8)
        return cls(xi, sigma, wt, seed=int(seed))

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Number of weights N."""
        return self.xi.shape[1]

    @property
    def p(self) -> int:
        """Number of patterns P."""
        return self.xi.shape[0]

    @property
    def alpha(self) -> float:
        """Load P / N."""
        return self.p / self.n

    # ------------------------------------------------------------------ energies
    def fields(self, W) -> np.ndarray:
        r"""Integer stabilities :math:`h^\mu = \sigma^\mu W\cdot\xi^\mu`; shape ``(P,)`` or ``(m, P)``."""
        w = check_weights(W, self.n)
        return w.astype(np.int32) @ self._xsT.astype(np.int32)

    def energy(self, W, kind: str = "errors"):
        r"""Energy of ``W`` (shape ``(N,)`` -> int, ``(m, N)`` -> ``(m,)`` int64), vectorised over rows.

        ``kind="errors"``: the number of misclassified patterns (the problem's energy);
        ``kind="hinge"``: :math:`\sum_\mu (1 - h^\mu)/2\, \Theta(-h^\mu)` (see :data:`ENERGIES`).
        """
        if kind not in ENERGIES:
            msg = f"`kind` must be one of {sorted(ENERGIES)}; got {kind!r}."
            raise ValueError(msg)
        h = self.fields(W)
        e = (h < 0).sum(-1) if kind == "errors" else (np.where(h < 0, (1 - h) // 2, 0)).sum(-1)
        return int(e) if np.ndim(e) == 0 else e.astype(np.int64)

    def is_solution(self, W):
        """True where ``energy(W) == 0`` (bool or bool array over rows)."""
        e = self.energy(W)
        return e == 0

    # ------------------------------------------------------------------ teacher-student
    def overlap_with_teacher(self, W):
        """``q = W . W* / N`` (float or ``(m,)`` array); needs a teacher-student instance."""
        wt = self._need_teacher("overlap_with_teacher")
        w = check_weights(W, self.n)
        return (w.astype(np.int64) @ wt.astype(np.int64)) / self.n

    def generalisation_error(self, W):
        r"""Large-N test error :math:`\varepsilon = \arccos(q)/\pi`, ``q`` the overlap with the teacher.

        Exact for Gaussian test patterns; for +-1 patterns it is the N -> infinity limit (see
        :meth:`test_error` for a Monte Carlo estimate on fresh +-1 patterns).
        """
        q = np.clip(self.overlap_with_teacher(W), -1.0, 1.0)
        return np.arccos(q) / np.pi

    def test_error(self, W, n_test: int = 10000, *, seed: int = 0):
        """Fraction of ``n_test`` fresh +-1 patterns (teacher labels) that ``W`` misclassifies.

        Returns ``(error, stderr)`` (floats, or ``(m,)`` arrays for ``W`` of shape ``(m, N)``); the
        same fresh patterns are used for every row, so rows can be compared pairwise.
        """
        wt = self._need_teacher("test_error")
        w = check_weights(W, self.n)
        n_test = check_count("n_test", n_test, minimum=1)
        rng = np.random.default_rng([int(seed), 0x7E57])
        w2 = w.reshape(-1, self.n)
        wrong = np.zeros(w2.shape[0], dtype=np.int64)
        done = 0
        while done < n_test:  # blocks of at most 4096 patterns x rows: <= 2^24 products (128 MB) at a time
            k = min(4096, n_test - done)
            x = (2 * rng.integers(0, 2, size=(k, self.n), dtype=np.int8) - 1).astype(np.float64)
            lab = np.sign(x @ wt.astype(np.float64))
            step = max(1, (1 << 24) // k)
            for r0 in range(0, w2.shape[0], step):
                # float products are exact here (|sums| <= N < 2^53) and use BLAS
                out = np.sign(x @ w2[r0:r0 + step].astype(np.float64).T)  # (k, rows)
                wrong[r0:r0 + step] += (out != lab[:, None]).sum(0)
            done += k
        wrong = wrong.reshape(w.shape[:-1])
        err = wrong / n_test
        return err, np.sqrt(err * (1 - err) / n_test)

    def _need_teacher(self, what: str) -> np.ndarray:
        if self.teacher is None:
            msg = (f"{what} needs a teacher-student instance (BinaryPerceptron.random(..., teacher=True)); "
                   "this one has random labels.")
            raise ValueError(msg)
        return self.teacher

    def __repr__(self) -> str:
        kind = "teacher-student" if self.teacher is not None else "random labels"
        return f"BinaryPerceptron(n={self.n}, p={self.p}, alpha={self.alpha:.4g}, {kind}, seed={self.seed})"


def stack_problems(problems) -> tuple[list, np.ndarray]:
    """A list of instances of one size -> (list, xsT stacked ``(I, N, P)`` int8) for the batched kernels."""
    if isinstance(problems, BinaryPerceptron):
        problems = [problems]
    problems = list(problems)
    if not problems or not all(isinstance(p, BinaryPerceptron) for p in problems):
        raise TypeError("`problem` must be a BinaryPerceptron or a non-empty sequence of them.")
    n, p = problems[0].n, problems[0].p
    for k, pr in enumerate(problems):
        if (pr.n, pr.p) != (n, p):
            msg = (f"all instances in `problem` must have the same (n, p) to run as one batch; instance 0 "
                   f"has ({n}, {p}), instance {k} has ({pr.n}, {pr.p}).")
            raise ValueError(msg)
    return problems, np.ascontiguousarray(np.stack([pr._xsT for pr in problems]))
