r"""The one record type of the validation suite (:class:`Check`) and the statistics of its verdicts.

Every row of ``deeprelax validate`` is a :class:`Check`: what was measured, against which exact or
independent reference, with which criterion, and whether it held.  A row can fail.

* Deterministic rows (``seeds == ()``): ``passed`` is the criterion itself (e.g. ``|measured -
  reference| <= tol`` with ``tol`` the known discretisation error).
* Stochastic rows are run over several seeds.  Each seed gives a p-value for the null hypothesis
  "the prediction holds" (z-tests against the Monte-Carlo standard error, t-tests of fitted slopes,
  binomial tests of fractions; a Bonferroni minimum over the points of one seed).  The row passes
  when the Holm step-down procedure at family-wise level ``alpha`` over its seeds rejects nothing,
  i.e. when the smallest p-value is at least ``alpha / S`` (Bonferroni's bound is Holm's first step).
  ``n_pass`` counts the seeds whose own p-value is at least ``alpha`` (reported as the fraction
  passing).  :data:`ALPHA` is ``1e-3`` per row, so that the whole report (about 50 stochastic rows)
  has a family-wise false-failure rate below 5 %.
* ``kind="identity"``: algebraic identities (e.g. ``eta Cov(g_B) = 2 beta^-1 D`` to round-off) are
  reported in their own table and must hold, but are not counted as validations.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
from scipy import special

__all__ = ["Check", "Trial", "ALPHA", "deterministic", "identity", "seeded", "z_pvalue", "bonferroni",
           "slope_pvalue", "chi2_sd_pvalue", "fmt"]

#: Family-wise level of one stochastic row (Holm over its seeds).
ALPHA = 1e-3


@dataclass
class Check:
    """One validation row.

    Attributes
    ----------
    id : str
        Stable identifier (``group_name`` style), used by the tests.
    quantity : str
        What is measured (setting, sizes).
    measured : str
        The measured value(s), formatted (per seed for stochastic rows).
    reference : str
        The exact or independent reference it is compared with, and where it comes from.
    criterion : str
        The pass criterion as stated (tolerance and why, or the test and its level).
    passed : bool
    group : str
    kind : {"check", "identity"}
        ``"identity"`` rows are reported apart and not counted (they must still hold).
    seeds : tuple of int
        Seeds run (empty for deterministic rows).
    n_pass : int
        Seeds whose own p-value is ``>= alpha`` (stochastic rows).
    pvalues : tuple of float
        Per-seed p-values (stochastic rows).
    alpha : float
        Family-wise level over the seeds (Holm).
    value, expected : float
        Headline measured and reference numbers (for the JSON; NaN when not a single number).
    notes : str
    wall_time : float, seconds
    data : dict
        Raw numbers (not written to the table).
    """

    id: str
    quantity: str
    measured: str
    reference: str
    criterion: str
    passed: bool
    group: str = ""
    kind: str = "check"
    seeds: tuple = ()
    n_pass: int = 0
    pvalues: tuple = ()
    alpha: float = ALPHA
    value: float = math.nan
    expected: float = math.nan
    notes: str = ""
    wall_time: float = 0.0
    data: dict = field(default_factory=dict)

    @property
    def stochastic(self) -> bool:
        return bool(self.seeds)

    @property
    def pass_fraction(self) -> str:
        """``"k/S"`` seeds passing at level ``alpha`` (``"-"`` for deterministic rows)."""
        return f"{self.n_pass}/{len(self.seeds)}" if self.seeds else "-"

    def row(self) -> str:
        """Markdown table row: id, quantity, measured, reference, criterion, seeds passing, verdict."""
        cells = [self.id, self.quantity, self.measured, self.reference, self.criterion, self.pass_fraction,
                 "PASS" if self.passed else "**FAIL**"]
        return "| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |"

    def to_json(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "data"}
        d["pass_fraction"] = self.pass_fraction
        return d


@dataclass
class Trial:
    """The outcome of one seed of a stochastic row.

    ``pvalue``: p-value of the null "the prediction holds" for this seed; ``value``: headline
    measured number; ``text``: short formatted measurement; ``data``: raw numbers."""

    pvalue: float
    value: float = math.nan
    text: str = ""
    data: dict = field(default_factory=dict)


def fmt(v, p: int = 3) -> str:
    """Compact number formatting for the table."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return ", ".join(fmt(x, p) for x in np.ravel(v))
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{p}g}"


def z_pvalue(z) -> np.ndarray:
    """Two-sided normal p-values ``P(|Z| >= |z|)``."""
    return special.erfc(np.abs(np.asarray(z, dtype=float)) / math.sqrt(2.0))


def bonferroni(p) -> float:
    """Bonferroni-combined p-value of several tests: ``min(1, m min p)``."""
    p = np.asarray(p, dtype=float).ravel()
    return float(min(1.0, p.size * p.min())) if p.size else 1.0


def slope_pvalue(slope: float, se: float, predicted: float, dof: int, tol: float = 0.0) -> float:
    """Two-sided t-test p-value of a fitted slope against ``predicted`` (``|slope - predicted| <= tol``
    counts as agreement: the excess over ``tol`` is tested)."""
    if not se > 0:
        return 1.0 if abs(slope - predicted) <= tol else 0.0
    from scipy import stats as sps                # here, not at import: scipy.stats costs 0.4 s to import

    t = max(abs(slope - predicted) - tol, 0.0) / se
    return float(2.0 * sps.t.sf(t, max(int(dof), 1)))


def chi2_sd_pvalue(z) -> float:
    """Two-sided p-value that ``z`` are standard normal in spread: ``sum z^2 ~ chi^2_n``."""
    from scipy import stats as sps

    z = np.asarray(z, dtype=float).ravel()
    q = float(np.sum(z ** 2))
    n = z.size
    return float(min(1.0, 2.0 * min(sps.chi2.cdf(q, n), sps.chi2.sf(q, n))))


def _holm(p: Sequence[float], alpha: float) -> bool:
    """True when Holm's step-down procedure at level ``alpha`` rejects none of the nulls."""
    p = np.sort(np.asarray(p, dtype=float))
    m = p.size
    return bool(m == 0 or p[0] >= alpha / m)


def deterministic(id, quantity, measured, reference, criterion, passed, *, value=math.nan, expected=math.nan,
                  notes="", data=None, kind="check") -> Check:
    """A row whose verdict does not depend on random numbers."""
    return Check(id=id, quantity=quantity, measured=measured, reference=reference, criterion=criterion,
                 passed=bool(passed), kind=kind, value=float(value), expected=float(expected), notes=notes,
                 data=data or {})


def identity(id, quantity, measured_value, tol, notes="") -> Check:
    """An algebraic identity (reported apart, not counted): ``|measured| <= tol``."""
    return deterministic(id, quantity, fmt(measured_value), "0 (identity)", f"|.| <= {fmt(tol)} (round-off)",
                         abs(measured_value) <= tol, value=measured_value, expected=0.0, notes=notes, kind="identity")


def seeded(id, quantity, fn: Callable[[int], Trial], seeds, *, reference: str, criterion: str, alpha: float = ALPHA,
           expected=math.nan, notes: str = "", summary: Optional[Callable] = None) -> Check:
    """Run ``fn(seed) -> Trial`` for every seed and combine with Holm at level ``alpha``.

    ``criterion`` describes the per-seed test; the row's verdict is Holm's over the seeds.
    ``summary(trials) -> str`` may replace the default "measured" text (per-seed values)."""
    seeds = tuple(int(s) for s in seeds)
    t0 = time.perf_counter()
    trials = [fn(s) for s in seeds]
    p = [float(tr.pvalue) for tr in trials]
    ok = _holm(p, alpha)
    n_pass = int(sum(pi >= alpha for pi in p))
    measured = summary(trials) if summary else "; ".join(tr.text for tr in trials)
    vals = np.array([tr.value for tr in trials], dtype=float)
    val = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else math.nan
    crit = (f"{criterion}; Holm over {len(seeds)} seeds at {alpha:g}: min p = {fmt(min(p), 2)} "
            f"{'>=' if ok else '<'} {fmt(alpha / len(seeds), 2)}")
    return Check(id=id, quantity=quantity, measured=measured, reference=reference, criterion=crit, passed=ok,
                 seeds=seeds, n_pass=n_pass, pvalues=tuple(p), alpha=alpha, value=val, expected=float(expected),
                 notes=notes, wall_time=time.perf_counter() - t0, data={"trials": [tr.data for tr in trials]})
