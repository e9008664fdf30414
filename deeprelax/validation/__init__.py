r"""``deeprelax validate``: checks that can fail, tying the PDEs to the dynamics and the papers' claims.

Every row is a :class:`~deeprelax.validation.core.Check` (measured, reference, criterion, verdict,
fraction of seeds passing); stochastic rows run over several seeds with a Holm bound
(:mod:`deeprelax.validation.core`).  Algebraic identities are reported apart (``kind="identity"``)
and not counted.  The report goes to ``validation.md`` / ``validation.json`` with PNG figures.

Groups (paper-spec §7 items in brackets)
----------------------------------------
* ``exact`` (:mod:`.exact`): Cole-Hopf vs FD [1], quadratic [2], Hopf-Lax [3], prox fixed point [4],
  Gibbs mean [5], vanishing viscosity [7], semiconcavity [8], Hopf-Lax inequality [9], wide-valley
  switch [10], auxiliary-SDE KL rate [12];
* ``sgld`` (:mod:`.sgld`) [6]: the default estimator (replica exchange) against Cole-Hopf on convex and
  multimodal local measures at ``beta = 1, 10, 100``, the coverage of its error bars, ``u`` by bridge
  sampling; the plain Algorithm-1 sampler: its N^-1/2 rate, its O(eta') step bias and its bias on
  the issue-16 case;
* ``dynamics`` (:mod:`.dynamics`): homogenization [13], Elastic-SGD replica effect [14], Langevin vs
  Fokker-Planck, wide vs sharp against Langevin at equal temperature and gradient evaluations;
* ``theory`` (:mod:`.theory`): stochastic-control expected improvement [15], Thm 5 with non-isotropic
  state-dependent D [18], antisymmetric Q for a 2-D OU process, convexity and harmonic-mean bound of
  the smoothed Hessian, underdamped Langevin (Gibbs marginal, overdamped limit);
* ``sgd_noise`` (:func:`deeprelax.validation.sgd_noise.run_sgd_noise_checks`) [16-17]: SGD out of equilibrium;
* ``discrete`` (:func:`deeprelax.discrete.checks.run_discrete_checks`): the binary perceptron (issue 17),
  each row run at every seed.

Adding rows
-----------
A group is a function ``fn(cfg, seeds, figs) -> list[Check]``: ``cfg = {"size": "test"|"demo"|"full"}``
(choose your own sizes from it), ``seeds`` the tuple of seeds every stochastic row must run over, and
``figs`` a dict for figure data.  Build rows with the helpers of :mod:`.core`::

    from deeprelax.validation import core, register_group

    def my_rows(cfg, seeds, figs):
        def trial(seed):                      # one seed -> p-value of "the prediction holds"
            m, se = measure(seed)
            return core.Trial(pvalue=float(core.z_pvalue((m - exact) / se)), value=m, text=core.fmt(m))
        return [core.deterministic("my_exact", "what", core.fmt(err), "closed form", "err < 1e-8",
                                   err < 1e-8),
                core.seeded("my_mc", "what", trial, seeds, reference=f"exact {exact}",
                            criterion="two-sided z-test")]

    register_group("mine", my_rows)

``run_validation(..., groups=("mine",))`` then runs only those rows.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from solvers._files import atomic_path
from solvers.jsonable import plain

from .core import ALPHA, Check, Trial  # noqa: F401

__all__ = ["Check", "Trial", "ValidationReport", "run_validation", "register_group", "SIZES", "SEEDS", "GROUPS",
           "group_names"]

SIZES = ("test", "demo", "full")
#: Seeds of every stochastic row, per size (offset by ``run_validation(seed=...)``).
SEEDS = {"test": (0, 1), "demo": (0, 1, 2, 3), "full": tuple(range(8))}

_REGISTRY: dict = {}


def register_group(name: str, fn, *, replace: bool = False) -> None:
    """Add a group of rows: ``fn(cfg, seeds, figs) -> list[Check]`` (module docstring)."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"validation group {name!r} is already registered (pass replace=True).")
    _REGISTRY[name] = fn


def group_names() -> tuple:
    """Names of the registered groups, in run order."""
    _builtin()
    return tuple(_REGISTRY)


def _sgd_noise(cfg, seeds, figs):
    from .sgd_noise import run_sgd_noise_checks

    return run_sgd_noise_checks(None, "full" if cfg["size"] == "full" else "test", seeds=seeds)


def _discrete(cfg, seeds, figs):
    """The binary-perceptron rows of :mod:`deeprelax.discrete.checks` (one seed per call) over all ``seeds``:
    a row passes when it passes at every seed (Holm with 0/1 per-seed verdicts)."""
    from ..discrete.checks import run_discrete_checks
    from .core import Trial, seeded

    per_seed = {s: run_discrete_checks(cfg["size"], s) for s in seeds}
    out = []
    for k, first in enumerate(per_seed[seeds[0]]):
        def trial(s, k=k):
            r = per_seed[s][k]
            return Trial(pvalue=1.0 if r.passed else 0.0, text=r.measured)
        c = seeded(first.id, first.quantity, trial, seeds, reference=first.reference,
                   criterion=f"{first.criterion} (verdict per seed)", notes=first.notes)
        c.wall_time = sum(per_seed[s][k].wall_time for s in seeds)
        out.append(c)
    return out


def _builtin():
    if _REGISTRY.get("exact"):
        return
    from . import dynamics, exact, sgld, theory

    for name, fn in (("exact", exact.run), ("sgld", sgld.run), ("dynamics", dynamics.run), ("theory", theory.run),
                     ("sgd_noise", _sgd_noise), ("discrete", _discrete)):
        _REGISTRY.setdefault(name, fn)


#: The built-in groups (``group_names()`` also lists groups added with :func:`register_group`).
GROUPS = ("exact", "sgld", "dynamics", "theory", "sgd_noise", "discrete")


@dataclass
class ValidationReport:
    """The rows of a run (``checks``: counted rows and identities)."""

    checks: list
    size: str
    seeds: tuple
    out_dir: str
    wall_time: float = 0.0
    group_times: dict = None

    @property
    def counted(self) -> list:
        return [c for c in self.checks if c.kind != "identity"]

    @property
    def identities(self) -> list:
        return [c for c in self.checks if c.kind == "identity"]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list:
        return [c for c in self.checks if not c.passed]

    def table(self, kind: str = "check") -> str:
        rows = ["| id | quantity | measured | reference | criterion | seeds passing | verdict |",
                "|---|---|---|---|---|---|---|"]
        rows += [c.row() for c in self.checks if (c.kind == "identity") == (kind == "identity")]
        return "\n".join(rows)

    def summary(self) -> str:
        cs, ids = self.counted, self.identities
        st = [c for c in cs if c.stochastic]
        return (f"{'PASS' if self.passed else 'FAIL'}: {sum(c.passed for c in cs)}/{len(cs)} checks "
                f"({len(st)} stochastic, each over {len(self.seeds)} seeds with a Holm bound at {ALPHA:g}); "
                f"{sum(c.passed for c in ids)}/{len(ids)} identities hold; {self.wall_time:.1f} s")


def run_validation(out_dir, size: str = "full", seed: int = 0, groups=None, figures: bool = True) -> ValidationReport:
    """Run the checks; write ``validation.md``, ``validation.json`` and PNG figures into ``out_dir``.

    Parameters
    ----------
    out_dir : path (created if missing)
    size : {"test", "demo", "full"}
        ``"test"`` for the test suite, ``"demo"`` for ``make demo`` (about 2-3 minutes on 2 cores),
        ``"full"`` more points, samples and seeds.
    seed : int
        Offset of the seeds :data:`SEEDS` (every stochastic row runs over all of them).
    groups : sequence of str, optional
        Subset of :func:`group_names` (default: all).
    figures : bool

    Returns
    -------
    ValidationReport (``.passed``, ``.checks``, ``.failed``, ``.table()``, ``.summary()``)
    """
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {SIZES}; got {size!r}.")
    names = group_names()
    groups = tuple(names if groups is None else groups)
    bad = set(groups) - set(names)
    if bad:
        raise ValueError(f"`groups` must be a subset of {names}; got unknown {sorted(bad)}.")
    seeds = tuple(int(seed) + s for s in SEEDS[size])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    figs: dict = {}
    checks, gt = [], {}
    for name in names:
        if name not in groups:
            continue
        tg = time.perf_counter()
        cs = _REGISTRY[name]({"size": size}, seeds, figs)
        gt[name] = time.perf_counter() - tg
        for c in cs:
            c.group = c.group or name
            if not c.wall_time:
                c.wall_time = gt[name] / max(len(cs), 1)
        checks.extend(cs)
    fig_files = []
    if figures:
        from .figures import write_figures

        fig_files = write_figures(out, figs)
    rep = ValidationReport(checks, size, seeds, str(out), time.perf_counter() - t0, gt)
    md = [f"# deeprelax validation ({size}, seeds {list(seeds)})", "", f"**{rep.summary()}**", "",
          "DR convention: u(x,t) = -(1/beta) log(G_{t/beta} * exp(-beta f)), grad u = (x - <y>)/t.  "
          "Stochastic rows: each seed's p-value tests the prediction; a row passes when Holm's procedure over "
          f"its seeds at level {ALPHA:g} rejects nothing; 'seeds passing' counts the seeds with p >= {ALPHA:g}.",
          "", "## Checks", "", rep.table(), "", "## Consistency identities (must hold; not counted)", "",
          rep.table("identity"), "",
          "Group wall times: " + ", ".join(f"{k} {v:.1f} s" for k, v in gt.items()), ""]
    md += [f"![{f}]({f})" for f in fig_files]
    _atomic_write(out / "validation.md", "\n".join(md) + "\n")
    js = {"size": size, "seeds": list(seeds), "passed": rep.passed, "wall_time": rep.wall_time, "group_times": gt,
          "alpha": ALPHA, "figures": fig_files, "checks": [plain(c.to_json()) for c in checks]}
    _atomic_write(out / "validation.json", json.dumps(js, indent=1))
    return rep


def _atomic_write(path: Path, text: str) -> None:
    with atomic_path(path, overwrite=True) as tmp:       # a unique temporary, removed on failure
        tmp.write_text(text)
