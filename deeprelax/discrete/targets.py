r"""The five reproduction targets of the discrete issue, as functions returning result objects.

1. :func:`success_curves`: success probability vs alpha at one N, every method at the same total
   sweep budget (counting all replicas), random labels; :func:`algorithmic_threshold`.
2./4. :func:`teacher_student_solutions`: solutions of teacher-student instances by every method,
   their robustness to random flips (vs the teacher, a typical isolated solution) and their test
   errors (vs the replica-symmetric Gibbs error of a typical solution,
   :func:`~deeprelax.discrete.theory.gibbs_generalisation`).
3. :func:`local_entropy_profiles`: S(d) around the teacher and around found solutions (exact at
   small N, annealed importance sampling at large N).
5. :func:`enumeration_statistics`: number of solutions, of clusters and the largest cluster vs alpha.
   :func:`small_n_generalisation`: typical vs dense solutions at small N from the full enumeration.

The method settings in :data:`METHODS` were chosen by a small grid search per method at N = 201,
budget 2000 sweeps, alpha in {0.55 .. 0.72} (same number of tried settings for the baselines and
the replicated methods); they are fixed for every N.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from solvers.result import Result, register_result

from . import annealing as _an
from . import enumeration as _en
from . import belief_propagation as _fbp
from . import local_entropy as _le
from . import relaxation as _rx
from . import flatness as _rb
from .problem import BinaryPerceptron

__all__ = ["METHODS", "run_method", "instances", "success_curves", "SuccessCurves", "algorithmic_threshold",
           "teacher_student_solutions", "TeacherStudentSolutions", "local_entropy_profiles",
           "LocalEntropyProfiles", "enumeration_statistics", "EnumerationStatistics", "small_n_generalisation"]


@dataclass(frozen=True)
class Method:
    label: str
    fn: object
    kwargs: dict
    energy: str
    iterations: int | None = None  # fBP: its own iteration budget instead of sweeps


#: name -> settings of every method compared in the targets (see the module docstring).
METHODS = {
    "anneal_errors": Method("SA, error count", _an.anneal, dict(energy="errors", beta0=2.0, beta1=12.0),
                            "number of errors"),
    "anneal_hinge": Method("SA, hinge", _an.anneal, dict(energy="hinge", beta0=1.0, beta1=3.0),
                           "stability-weighted errors"),
    "replicated_anneal": Method("replicated SA (y=3)", _an.replicated_anneal,
                                dict(y=3, energy="hinge", beta0=0.5, beta1=4.0, gamma0=0.5, gamma1=2.0),
                                "stability-weighted errors"),
    "replicated_sgd": Method("replicated SGD (y=3)", _rx.replicated_sgd,
                             dict(y=3, forward="sign", lr=0.003, gamma0=0.05, gamma1=5.0, kappa=0.3, beta=1.0),
                             "squared hinge at sign(w), kappa=0.3"),
    "entropy_sgd": Method("Entropy-SGD", _rx.entropy_sgd,
                          dict(forward="sign", lr_in=0.02, gamma0=0.03, gamma1=30.0, kappa=0.5, L=20),
                          "squared hinge at sign(w), kappa=0.5"),
    "focusing_bp": Method("focusing BP", _fbp.focusing_bp, dict(), "BP marginals", iterations=300),
}


def run_method(name: str, problems, budget: int, seed: int = 0):
    """Run method ``name`` of :data:`METHODS` on a list of same-size instances with ``budget`` sweeps."""
    if name not in METHODS:
        raise ValueError(f"`name` must be one of {sorted(METHODS)}; got {name!r}.")
    m = METHODS[name]
    kw = dict(m.kwargs)
    if name in ("replicated_sgd", "entropy_sgd"):
        kw["batch_size"] = max(1, problems[0].p // 10)
    if m.iterations is not None:
        return m.fn(problems, max_iters=m.iterations, seed=seed, **kw)
    return m.fn(problems, max_sweeps=int(budget), seed=seed, **kw)


def instances(n: int, alpha: float, count: int, *, teacher: bool = False, seed0: int = 0):
    """``count`` instances with seeds ``seed0 + 1000 n + round(1000 alpha) * 7919 + i`` (disjoint per (n, alpha))."""
    base = seed0 + 1000 * n + int(round(1000 * alpha)) * 7919
    return [BinaryPerceptron.random(n, alpha, seed=base + i, teacher=teacher) for i in range(count)]


# ----------------------------------------------------------------------------- target 1
@register_result
@dataclass(frozen=True, repr=False)
class SuccessCurves(Result):
    """Target 1 at one N: outcome of every (method, alpha, instance) at one sweep budget.

    ``solved``, ``sweeps``, ``energy``: shape (M, A, I); ``wall``: (M, A) seconds.
    """

    n: int
    alphas: np.ndarray
    methods: list
    solved: np.ndarray
    sweeps: np.ndarray
    energy: np.ndarray
    wall: np.ndarray
    budget: int
    params: dict = field(default_factory=dict)


def success_curves(n: int, alphas, *, n_instances: int, budget: int, methods=None, seed0: int = 0,
                   progress: bool = False) -> SuccessCurves:
    """Run every method on ``n_instances`` random-label instances per alpha (target 1)."""
    methods = list(methods or METHODS)
    alphas = np.asarray(alphas, float)
    M, A, I = len(methods), alphas.size, int(n_instances)
    solved = np.zeros((M, A, I), bool)
    sweeps = np.zeros((M, A, I))
    energy = np.zeros((M, A, I), np.int64)
    wall = np.zeros((M, A))
    for a, alpha in enumerate(alphas):
        probs = instances(n, alpha, I, seed0=seed0)
        for m, name in enumerate(methods):
            t0 = time.perf_counter()
            res = run_method(name, probs, budget)
            wall[m, a] = time.perf_counter() - t0
            solved[m, a] = [r.solved for r in res]
            sweeps[m, a] = [r.sweeps for r in res]
            energy[m, a] = [r.energy for r in res]
            if progress:
                print(f"  N={n} alpha={alpha:.3f} {name}: {solved[m, a].sum()}/{I} solved, {wall[m, a]:.1f} s",
                      flush=True)
    return SuccessCurves(n=n, alphas=alphas, methods=methods, solved=solved, sweeps=sweeps, energy=energy, wall=wall,
                         budget=int(budget), params={"n_instances": I, "seed0": seed0,
                                                     "fbp_iterations": METHODS["focusing_bp"].iterations})


def _decreasing_fit(frac):
    """Pool-adjacent-violators: the closest non-increasing sequence (least squares, equal weights)."""
    blocks = [[float(v), 1] for v in frac]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] < blocks[i + 1][0]:
            v = (blocks[i][0] * blocks[i][1] + blocks[i + 1][0] * blocks[i + 1][1]) / (blocks[i][1] + blocks[i + 1][1])
            blocks[i] = [v, blocks[i][1] + blocks[i + 1][1]]
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([[v] * w for v, w in blocks])


def _crossing(alphas, frac):
    f = _decreasing_fit(frac)
    if f[0] < 0.5:
        return -np.inf
    if f[-1] >= 0.5:
        return np.inf
    k = int(np.flatnonzero(f < 0.5)[0])
    a0, a1, f0, f1 = alphas[k - 1], alphas[k], f[k - 1], f[k]
    return float(a0 + (f0 - 0.5) / (f0 - f1) * (a1 - a0))


def algorithmic_threshold(alphas, solved, *, n_boot: int = 500, seed: int = 0):
    r"""Load where the success probability falls through 1/2, with a bootstrap standard error.

    ``solved`` has shape (A, I).  The success fractions are made non-increasing in alpha (isotonic
    fit) and interpolated linearly; instances are resampled per alpha for the error.  Returns
    ``(alpha_c, stderr, bound)``: ``bound`` is "" for a crossing inside the grid, "<" (below the first
    alpha) or ">" (above the last), in which case ``alpha_c`` is the grid end.
    """
    alphas = np.asarray(alphas, float)
    solved = np.asarray(solved, bool)
    c = _crossing(alphas, solved.mean(1))
    if np.isinf(c):
        return (alphas[0], np.nan, "<") if c < 0 else (alphas[-1], np.nan, ">")
    rng = np.random.default_rng(seed)
    A, I = solved.shape
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, I, size=(A, I))
        boots.append(_crossing(alphas, np.take_along_axis(solved, idx, 1).mean(1)))
    boots = np.clip(np.array(boots), alphas[0], alphas[-1])
    return c, float(np.std(boots, ddof=1)), ""


# ----------------------------------------------------------------------------- targets 2 and 4
@register_result
@dataclass(frozen=True, repr=False)
class TeacherStudentSolutions(Result):
    """Teacher-student instances at one (N, alpha) solved by every method.

    ``W``: (M, I, N) int8 answers; ``solved``: (M, I); ``teacher``: (I, N);
    ``robust_mean``/``robust_se``: (M + 1, I, F) mean training errors after flipping
    ``fractions`` of the weights (row M = the teacher); ``test_error``/``test_se``: (M + 1, I) on
    ``n_test`` fresh patterns; ``overlap``: (M, I) overlap with the teacher.
    """

    n: int
    alpha: float
    methods: list
    W: np.ndarray
    solved: np.ndarray
    teacher: np.ndarray
    fractions: np.ndarray
    robust_mean: np.ndarray
    robust_se: np.ndarray
    test_error: np.ndarray
    test_se: np.ndarray
    overlap: np.ndarray
    budget: int
    params: dict = field(default_factory=dict)


def teacher_student_solutions(n: int, alpha: float, *, n_instances: int, budget: int, methods=None,
                              fractions=(0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1), n_samples: int = 200,
                              n_test: int = 10000, seed0: int = 0, progress: bool = False) -> TeacherStudentSolutions:
    """Solve teacher-student instances with every method; robustness and test error of each answer."""
    methods = list(methods or METHODS)
    probs = instances(n, alpha, n_instances, teacher=True, seed0=seed0)
    M, I, F = len(methods), len(probs), len(fractions)
    W = np.zeros((M, I, n), np.int8)
    solved = np.zeros((M, I), bool)
    for m, name in enumerate(methods):
        t0 = time.perf_counter()
        for i, r in enumerate(run_method(name, probs, budget)):
            W[m, i], solved[m, i] = r.W, r.solved
        if progress:
            print(f"  teacher-student N={n} alpha={alpha}: {name} solved {solved[m].sum()}/{I} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
    rmean = np.full((M + 1, I, F), np.nan)
    rse = np.full((M + 1, I, F), np.nan)
    terr = np.full((M + 1, I), np.nan)
    tse = np.full((M + 1, I), np.nan)
    ov = np.full((M, I), np.nan)
    for i, pr in enumerate(probs):
        rows = np.vstack([W[:, i], pr.teacher[None]])
        rb = _rb.robustness(pr, rows, fractions, n_samples=n_samples, seed=i)
        te, se = pr.test_error(rows, n_test, seed=i)
        keep = np.append(solved[:, i], True)
        rmean[keep, i], rse[keep, i] = rb.mean[keep], rb.stderr[keep]
        terr[keep, i], tse[keep, i] = te[keep], se[keep]
        ov[solved[:, i], i] = pr.overlap_with_teacher(W[solved[:, i], i])
    return TeacherStudentSolutions(n=n, alpha=float(alpha), methods=methods, W=W, solved=solved,
                                   teacher=np.stack([p.teacher for p in probs]), fractions=np.asarray(fractions, float),
                                   robust_mean=rmean, robust_se=rse, test_error=terr, test_se=tse, overlap=ov,
                                   budget=int(budget), params={"n_samples": n_samples, "n_test": n_test,
                                                               "seed0": seed0, "n_instances": I})


# ----------------------------------------------------------------------------- target 3
@register_result
@dataclass(frozen=True, repr=False)
class LocalEntropyProfiles(Result):
    """S(d) around the teacher (row 0) and around each method's solution (rows 1..M) of one instance.

    ``S``, ``S_se``: (R, K) with NaN for a reference that is not a solution; ``exact``: (R, K).
    """

    n: int
    alpha: float
    labels: list
    d: np.ndarray
    S: np.ndarray
    S_se: np.ndarray
    exact: np.ndarray
    seed: int
    params: dict = field(default_factory=dict)


def local_entropy_profiles(n: int, alpha: float, d, *, budget: int, methods=None, seed0: int = 0, index: int = 0,
                           method: str = "auto", n_chains: int = 64, progress: bool = False) -> LocalEntropyProfiles:
    """Local entropy around the teacher and the methods' solutions of one teacher-student instance."""
    methods = list(methods or METHODS)
    pr = instances(n, alpha, index + 1, teacher=True, seed0=seed0)[index]
    refs, labels = [pr.teacher], ["teacher"]
    for name in methods:
        r = run_method(name, [pr], budget)[0]
        refs.append(r.W if r.solved else None)
        labels.append(METHODS[name].label)
    d = np.asarray(d, np.int64)
    S = np.full((len(refs), d.size), np.nan)
    se = np.full((len(refs), d.size), np.nan)
    ex = np.zeros((len(refs), d.size), bool)
    for k, W in enumerate(refs):
        if W is None:
            continue
        t0 = time.perf_counter()
        le = _le.local_entropy_count(pr, W, d, method=method, n_chains=n_chains, seed=k)
        S[k], se[k], ex[k] = le.S, le.S_stderr, le.exact
        if progress:
            print(f"  S(d) around {labels[k]} (N={n}): {time.perf_counter() - t0:.1f} s", flush=True)
    return LocalEntropyProfiles(n=n, alpha=float(alpha), labels=labels, d=d, S=S, S_se=se, exact=ex,
                                seed=int(pr.seed), params={"budget": int(budget), "method": method,
                                                           "n_chains": n_chains})


# ----------------------------------------------------------------------------- target 5 and small-N generalisation
@register_result
@dataclass(frozen=True, repr=False)
class EnumerationStatistics(Result):
    """Target 5: per (alpha, instance) the number of solutions, of clusters, of isolated solutions
    (single-solution clusters) and the largest cluster; each (A, I)."""

    n: int
    alphas: np.ndarray
    n_solutions: np.ndarray
    n_clusters: np.ndarray
    largest: np.ndarray
    n_isolated: np.ndarray
    wall: float
    params: dict = field(default_factory=dict)


def enumeration_statistics(n: int, ps, *, n_instances: int, teacher: bool = False, seed0: int = 0) -> EnumerationStatistics:
    """Enumerate ``n_instances`` instances for each number of patterns in ``ps``."""
    ps = np.asarray(ps, int)
    A, I = ps.size, int(n_instances)
    ns, nc, lg, iso = (np.zeros((A, I), np.int64) for _ in range(4))
    t0 = time.perf_counter()
    for a, p in enumerate(ps):
        for i, pr in enumerate(instances(n, p / n, I, teacher=teacher, seed0=seed0)):
            r = _en.enumerate_solutions(pr)
            ns[a, i], nc[a, i], lg[a, i] = r.n_solutions, r.n_clusters, r.largest_cluster
            iso[a, i] = int(np.sum(r.cluster_sizes == 1))
    return EnumerationStatistics(n=n, alphas=ps / n, n_solutions=ns, n_clusters=nc, largest=lg, n_isolated=iso,
                                 wall=time.perf_counter() - t0, params={"teacher": teacher, "seed0": seed0})


def _neighbour_counts(codes, n, radius):
    """For each solution code, the number of solutions within Hamming distance ``radius`` (itself excluded)."""
    masks = [1 << j for j in range(n)]
    if radius >= 2:
        masks += [(1 << i) | (1 << j) for i in range(n) for j in range(i + 1, n)]
    cnt = np.zeros(codes.size, np.int64)
    for m in masks:
        nb = codes ^ m
        pos = np.searchsorted(codes, nb)
        cnt += (pos < codes.size) & (codes[np.minimum(pos, codes.size - 1)] == nb)
    return cnt


def small_n_generalisation(n: int, alpha: float, *, n_instances: int, budget: int, methods=None, radius: int = 2,
                           n_test: int = 20000, seed0: int = 0) -> dict:
    """Typical vs dense solutions at small N from the full enumeration (teacher-student).

    For each instance: the mean test error over all solutions (= a typical, uniformly drawn
    solution), the test error of the densest solution(s) (most solutions within Hamming distance
    ``radius``), and of each method's answer.  Returns a dict of arrays (instances along axis 0).
    """
    methods = list(methods or METHODS)
    probs = instances(n, alpha, n_instances, teacher=True, seed0=seed0)
    typ, dense, n_sol = [], [], []
    algo = {m: [] for m in methods}
    for i, pr in enumerate(probs):
        en = _en.enumerate_solutions(pr)
        sols = en.solutions
        te, _ = pr.test_error(sols, n_test, seed=i)
        cnt = _neighbour_counts(en.codes, n, radius)
        typ.append(te.mean())
        dense.append(te[cnt == cnt.max()].mean())
        n_sol.append(en.n_solutions)
        for m in methods:
            r = run_method(m, [pr], budget)[0]
            algo[m].append(pr.test_error(r.W, n_test, seed=i)[0] if r.solved else np.nan)
    return {"typical": np.array(typ), "dense": np.array(dense), "n_solutions": np.array(n_sol),
            **{f"method:{m}": np.array(v) for m, v in algo.items()}, "n": n, "alpha": alpha, "radius": radius}
