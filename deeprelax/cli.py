"""Command-line interface: ``deeprelax <command> ...``.

Commands
--------
smooth        smooth a registered loss with the exact (Hopf-Lax / Cole-Hopf) or PDE solver
demo          the default reproduction run used by ``make demo``
fokker-planck evolve a density under the Fokker-Planck equation of a loss (HDF5 + PNG)
validate      PDE-vs-dynamics and SGD-noise reproduction checks (validation.md/.json; exit 1 on a failure)
sgd-noise     SGD out of equilibrium checks only (sgd_noise_checks.json; exit 1 on a failure)
experiment    the papers' deep-learning experiments on small nets (HDF5 + PNG + markdown summary; resumable)
bench         convergence table (exit 1 on an order regression) and speed benchmarks
losses        list the registered losses
discrete      binary perceptron: solve, enumerate, local-entropy, figures, check (`deeprelax discrete -h`)

User errors (bad options, unwritable ``--out``, too little memory, ...) print one line
``deeprelax <command>: error: ...`` on stderr and exit with status 2, without a
traceback; ``DEEPRELAX_DEBUG=1`` shows the traceback.  Other exceptions (bugs) keep
their traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from solvers.errors import SolverError

#: Exceptions that are the user's to fix: printed as one line (no traceback) unless DEEPRELAX_DEBUG=1.
#: (Every solvers.SolverError counts, CudaUnavailableError included.)
USER_ERRORS = (SolverError, ValueError, TypeError, OSError, MemoryError, FloatingPointError)


def _parse_params(items):
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep or not k.strip():
            raise ValueError(f"`--param` expects KEY=VALUE (VALUE as JSON or a string); got {it!r}.")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _out_dir(out, option: str = "--out") -> Path:
    """Create the output directory (parents too) and check that files can be written in it."""
    import tempfile

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"`{option}` {str(out)!r} exists and is not a directory; give a directory.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"`{option}` {str(out)!r}: a parent of the path is a file, not a "
                                 f"directory.") from None
    except OSError as e:
        raise type(e)(e.errno, f"`{option}` {str(out)!r} cannot be created: {e.strerror}") from None
    try:
        fd, probe = tempfile.mkstemp(dir=out, prefix=".deeprelax-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise type(e)(e.errno, f"`{option}` {str(out)!r} is not writable: {e.strerror}") from None
    return out


def _get_loss(name, params):
    from deeprelax import losses

    try:
        return losses.resolve(name, **(params or {}))
    except (ValueError, TypeError) as e:
        raise type(e)(f"`--param`: {e}" if params and "unknown loss" not in str(e) else str(e)) from None


def _one_line(e: BaseException) -> str:
    msg = str(e)
    if isinstance(e, OSError) and e.strerror and e.filename and msg.startswith("["):
        msg = f"{e.strerror}: {e.filename!r}"
    return " ".join(msg.split()) or type(e).__name__


def _fmt_beta(beta: float) -> str:
    return "inf" if beta == float("inf") else f"{beta:g}"


def _check_shape(shape, loss):
    """``--shape``: one node count for every axis, or one per axis of the loss, each an integer >= 3."""
    n = [shape] if isinstance(shape, (int, float)) else list(shape)
    if len(n) not in (1, loss.dim):
        need = "1 value" if loss.dim == 1 else f"1 or {loss.dim} values"
        raise ValueError(f"`--shape` needs {need} for the {loss.dim}-D loss {loss.name!r}; got {len(n)}.")
    def whole(v):
        try:
            return float(v) == int(v) and int(v) >= 3
        except (TypeError, ValueError, OverflowError):
            return False

    if not all(whole(v) for v in n):
        raise ValueError(f"`--shape` must be integers >= 3 (grid points per axis); got {' '.join(map(str, n))}.")
    return shape


def smooth(loss_name: str, t: float, beta: float = float("inf"), shape=None, out: str | Path = ".",
           method: str = "exact", scheme: str = "weno5", params: dict | None = None,
           plot: bool = True, quiet: bool = False):
    """Smooth a loss (``loss_name``: see :func:`deeprelax.losses.resolve`); write ``.h5`` and ``.png`` to ``out``;
    return (result, summary dict)."""
    import numpy as np

    from deeprelax import io
    from deeprelax.plot import plot_smoothing_1d, plot_smoothing_2d
    from solvers.grid import Grid

    loss = _get_loss(loss_name, params)
    if shape is None:
        shape = getattr(loss, "default_shape", None) or (500 if loss.dim == 1 else 201 if loss.dim == 2 else 65)
    grid = Grid.uniform(loss.bounds, _check_shape(shape, loss))
    out = _out_dir(out)
    t0 = time.perf_counter()
    exact = _exact(loss, grid, t, beta)
    if method == "exact":
        result = exact
    elif method == "pde":
        from solvers.hj import solve_hj

        result = solve_hj(loss, grid, t, beta=beta, scheme=scheme)
    else:
        raise ValueError(f"`--method` must be 'exact' or 'pde'; got {method!r}.")
    wall = time.perf_counter() - t0
    tag = f"smooth_{loss.name}_t{t:g}_beta{_fmt_beta(beta)}_{method}" + (f"_{scheme}" if method == "pde" else "")
    h5 = io.save(result, out / f"{tag}.h5", attrs={"loss": loss.name, "loss_params": dict(loss.params or {})})
    fvals = grid.sample(loss)
    png = out / f"{tag}.png"
    if plot:
        title = (f"{loss.name}: f and u(., t={t:g}), beta={_fmt_beta(beta)} "
                 f"({'exact ' + result.method if method == 'exact' else 'PDE ' + scheme})")
        if grid.dim == 1:
            plot_smoothing_1d(grid.axes[0], fvals, [result], title=title, path=png)
        elif grid.dim == 2:
            plot_smoothing_2d(grid, fvals, [result], path=png)
    u = np.asarray(result.u)
    k = np.unravel_index(np.argmin(u), u.shape)
    kf = np.unravel_index(np.argmin(fvals), fvals.shape)
    xs = grid.mesh()
    summary = {
        "loss": loss.name, "t": t, "beta": beta, "method": method,
        "solver": result.method if method == "exact" else scheme, "shape": list(grid.shape),
        "argmin_f": xs[kf].tolist(), "min_f": float(fvals[kf]),
        "argmin_u": xs[k].tolist(), "min_u": float(u[k]), "wall_s": wall,
        "max_err_vs_exact": float(np.max(np.abs(u - exact.u))) if method == "pde" else 0.0,
        "h5": str(h5), "png": str(png) if plot else None,
    }
    if not quiet:
        err = f" max|u-exact|={summary['max_err_vs_exact']:.3e}" if method == "pde" else ""
        print(f"smooth {loss.name} t={t:g} beta={_fmt_beta(beta)} [{summary['solver']}] grid={tuple(grid.shape)}: "
              f"argmin f={_pt(summary['argmin_f'])} (f={summary['min_f']:.4f}), "
              f"argmin u={_pt(summary['argmin_u'])} (u={summary['min_u']:.4f}){err}, {wall:.2f}s -> {h5}")
    return result, summary


def fokker_planck(loss_name: str, beta: float, t: float, out: str | Path = "out", shape=None,
                  x0=None, sigma0: float | None = None, method: str = "implicit", n_save: int = 8,
                  params: dict | None = None, quiet: bool = False):
    """Evolve rho0 under ``rho_t = div(grad f rho) + beta^-1 Lap rho`` for a registered loss.

    ``rho0`` is a Gaussian at ``x0`` with standard deviation ``sigma0`` when ``x0`` is given,
    else uniform on the loss's box.  Writes ``fp_<loss>_beta<B>_t<T>.h5`` and ``.png``.
    """
    import numpy as np

    from deeprelax import io
    from deeprelax.plot import plot_density_evolution
    from solvers.fokker_planck import gibbs, solve_fokker_planck
    from solvers.grid import Grid

    loss = _get_loss(loss_name, params)
    if shape is None:
        shape = 500 if loss.dim == 1 else 161 if loss.dim == 2 else 49
    grid = Grid.uniform(loss.bounds, _check_shape(shape, loss))
    out = _out_dir(out)
    if sigma0 is not None and not (np.isfinite(sigma0) and sigma0 > 0):
        raise ValueError(f"`--sigma0` must be positive and finite (the standard deviation of rho0); got {sigma0!r}.")
    if x0 is None:
        rho0 = np.ones(grid.shape)
    else:
        x0 = np.asarray(x0, float).reshape(-1)
        if x0.size not in (1, loss.dim):
            need = "1 value" if loss.dim == 1 else f"1 or {loss.dim} values"
            raise ValueError(f"`--x0` needs {need} for the {loss.dim}-D loss {loss.name!r}; got {x0.size}.")
        x0 = np.broadcast_to(x0, (loss.dim,))
        if not all(np.isfinite(v) and lo <= v <= hi for v, (lo, hi) in zip(x0, grid.bounds)):
            raise ValueError(f"`--x0` = {x0.tolist()} lies outside the grid box {grid.bounds} of loss "
                             f"{loss.name!r}; rho0 must start inside it.")
        s0 = sigma0 if sigma0 is not None else 0.05 * min(hi - lo for lo, hi in loss.bounds)
        rho0 = np.exp(-((grid.mesh() - x0) ** 2).sum(-1) / (2 * s0 ** 2))
        if not rho0.sum() > 0:
            raise ValueError(f"`--sigma0` = {s0:g} is too small for the grid spacing {max(grid.spacing):.3g}: "
                             f"rho0 vanishes on every node; use --sigma0 >= {max(grid.spacing):.3g}.")
    rho0 = rho0 / (rho0.sum() * grid.cell_volume)
    res = solve_fokker_planck(rho0, grid, t, potential=loss, beta=beta, method=method, save_at=n_save)
    tag = f"fp_{loss.name}_beta{_fmt_beta(beta)}_t{t:g}"
    h5 = io.save(res, out / f"{tag}.h5", attrs={"loss": loss.name, "loss_params": dict(loss.params or {})})
    png = out / f"{tag}.png"
    g_ss = gibbs(loss, grid, beta)
    plot_density_evolution(res, gibbs_density=g_ss, title=f"Fokker-Planck of {loss.name}: "
                           f"rho_t = div(grad f rho) + (1/beta) Lap rho, beta={beta:g}", path=png)
    summ = {"loss": loss.name, "beta": beta, "t": t, "mass_drift": float(np.max(np.abs(res.mass - 1.0))),
            "min_rho": float(np.min(res.min_rho)), "kl_final": float(res.kl[-1]),
            "wall_s": res.wall_time, "h5": str(h5), "png": str(png)}
    if not quiet:
        print(f"fokker-planck {loss.name} beta={beta:g} t={t:g} [{method}] grid={tuple(grid.shape)}: "
              f"KL(rho_t||Gibbs) {res.kl[0]:.3g} -> {res.kl[-1]:.3g}, max|mass-1|={summ['mass_drift']:.1e}, "
              f"min rho={summ['min_rho']:.1e}, {res.wall_time:.2f}s -> {h5}")
    return res, summ


def experiment(name: str, out, size: str = "quick", executor: str = "serial", workers: int = 2) -> int:
    """``deeprelax experiment NAME``: run one experiment (or ``all``) and print its summary; returns the exit code."""
    from deeprelax.experiments import EXPERIMENTS, run_experiment

    names = list(EXPERIMENTS) if name == "all" else [name]
    if any(n not in EXPERIMENTS for n in names):
        print(f"deeprelax experiment: error: unknown experiment {name!r}; valid names are: "
              f"{', '.join(EXPERIMENTS)}, all.", file=sys.stderr)
        return 2
    if isinstance(workers, bool) or workers < 1:
        print(f"deeprelax experiment: error: --workers must be >= 1; got {workers}.", file=sys.stderr)
        return 2
    pool, client, cluster = None, None, None
    try:
        if executor == "process":
            from concurrent.futures import ProcessPoolExecutor

            pool = ex = ProcessPoolExecutor(max_workers=workers)
        elif executor == "dask":
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            ex = client.get_executor()
        else:
            ex = "serial"
        for n in names:
            t0 = time.perf_counter()
            res = run_experiment(n, out, size=size, executor=ex)
            print("\n".join(res["lines"]))
            print(f"[{n} ({size}): {time.perf_counter() - t0:.1f} s -> {res['summary']}, {res['png']}]", flush=True)
    except (ValueError, TypeError, ImportError) as e:
        print(f"deeprelax experiment: error: {e}", file=sys.stderr)
        return 2
    finally:
        if pool is not None:
            pool.shutdown()
        if client is not None:
            client.close()
            cluster.close()
    return 0


def validate(out, size: str = "full", seed: int = 0, groups=None) -> int:
    """``deeprelax validate``: run the reproduction checks, write the report, print its tables; 0 if all pass, else 1.

    An unknown group is a ``ValueError`` (exit status 2 from the command line).
    """
    from deeprelax.validation import run_validation

    rep = run_validation(out, size=size, seed=seed, groups=groups)
    print(rep.table())
    print()
    print(rep.table("identity"))
    print(f"{rep.summary()}; report in {out}/validation.md")
    return 0 if rep.passed else 1


def sgd_noise(out, size: str = "test", seed: int = 0) -> int:
    """``deeprelax sgd-noise``: run the SGD-noise checks, write ``sgd_noise_checks.json``, print a table; 0 or 1."""
    from deeprelax.validation import sgd_noise as S

    t0 = time.perf_counter()
    checks = S.run_sgd_noise_checks(Path(out), size, seed)
    for c in checks:
        tag = "PASS" if c.passed else "FAIL"
        print(f"{tag}  {c.id} ({c.kind}): {c.quantity}: measured {c.measured}; reference {c.reference}")
    counted = [c for c in checks if c.kind != "identity"]
    print(f"{sum(c.passed for c in counted)}/{len(counted)} passed, "
          f"{sum(c.passed for c in checks if c.kind == 'identity')}/{len(checks) - len(counted)} identities hold "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0 if all(c.passed for c in checks) else 1


def _exact(loss, grid, t, beta):
    import math

    if math.isinf(beta):
        from solvers.hopf_lax import hopf_lax

        return hopf_lax(loss, grid, t)
    from solvers.cole_hopf import cole_hopf

    return cole_hopf(loss, grid, t, beta)


def _pt(x):
    return "(" + ", ".join(f"{v:.3f}" for v in x) + ")"


_LOSS_HELP = ("a registered loss name (see `deeprelax losses`), or MODULE:ATTR / path/to/file.py:ATTR naming a loss, "
              "a Loss subclass or factory (called with the --param values), or a function f(x) on points (..., d) "
              "(give --param dim=D)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="deeprelax", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("smooth", help="smooth a loss: viscous (Cole-Hopf / PDE) or non-viscous (Hopf-Lax / PDE)")
    s.add_argument("--loss", required=True, help=_LOSS_HELP)
    s.add_argument("--t", type=float, required=True, help="smoothing time t (DR convention)")
    s.add_argument("--beta", type=float, default=float("inf"), help="inverse temperature; omit for non-viscous")
    s.add_argument("--shape", type=int, nargs="+", default=None, help="grid points per axis")
    s.add_argument("--method", choices=["exact", "pde"], default="exact")
    s.add_argument("--scheme", default="weno5", help="finite-difference scheme for --method pde")
    s.add_argument("--param", action="append", help="loss parameter KEY=VALUE (JSON values)")
    s.add_argument("--out", default="out", help="output directory")

    sub.add_parser("losses", help="list the registered losses")

    fp = sub.add_parser("fokker-planck", help="evolve a density under the Fokker-Planck equation of a loss")
    fp.add_argument("--loss", required=True, help=_LOSS_HELP)
    fp.add_argument("--beta", type=float, required=True, help="inverse temperature (diffusivity 1/beta)")
    fp.add_argument("--t", type=float, required=True, help="final time")
    fp.add_argument("--shape", type=int, nargs="+", default=None)
    fp.add_argument("--x0", type=float, nargs="+", default=None, help="centre of a Gaussian rho0 (default uniform)")
    fp.add_argument("--sigma0", type=float, default=None)
    fp.add_argument("--method", default="implicit", choices=["implicit", "crank_nicolson", "explicit"])
    fp.add_argument("--param", action="append", help="loss parameter KEY=VALUE (JSON values)")
    fp.add_argument("--out", default="out")

    d = sub.add_parser("demo", help="the default reproduction run (used by `make demo`)")
    d.add_argument("--out", default="figures/out")

    v = sub.add_parser("validate", help="PDE-vs-dynamics reproduction checks (paper-spec §7); exits 1 on a failure")
    v.add_argument("--out", default="validation", help="output directory (validation.md/.json, PNGs)")
    v.add_argument("--size", default="full", choices=["test", "demo", "full"])
    v.add_argument("--seed", type=int, default=0, help="offset of the seeds of the stochastic rows")
    v.add_argument("--groups", nargs="+", default=None,
                   help="subset of: exact sgld dynamics theory sgd_noise discrete (default: all)")

    sn = sub.add_parser("sgd-noise", help="SGD out of equilibrium: D(x), Phi != f, Example 19, Lyapunov, eta/b")
    sn.add_argument("--out", default="sgd_noise", help="output directory (sgd_noise_checks.json)")
    sn.add_argument("--size", default="test", choices=["test", "full"])
    sn.add_argument("--seed", type=int, default=0)

    ex = sub.add_parser("experiment", help="deep-learning experiments on small nets (optimisers, width, sgd-noise, "
                                           "eta-over-S, hessian-spectrum, or all)")
    ex.add_argument("name", help="optimisers | width | sgd-noise | eta-over-S | hessian-spectrum | all")
    ex.add_argument("--size", default="quick", choices=["quick", "full"])
    ex.add_argument("--out", default="experiments", help="output directory (finished grid points are reused)")
    ex.add_argument("--executor", default="serial", choices=["serial", "process", "dask"],
                    help="where the grid points run: in this process, a local process pool, a local Dask cluster")
    ex.add_argument("--workers", type=int, default=2, help="workers of the process pool / Dask cluster")

    b = sub.add_parser("bench", help="convergence table + speed benchmarks (a full run writes benchmarks/results/ "
                       "and the README tables; --quick writes only benchmarks/results-quick/)")
    b.add_argument("--quick", action="store_true", help="smaller sizes; rows say the size that ran; writes "
                   "benchmarks/results-quick/ (or --out), never the committed results or the README")
    b.add_argument("--out", default=None, help="folder for the tables (default benchmarks/results, or "
                   "benchmarks/results-quick with --quick)")
    b.add_argument("--only", nargs="*", help="run only speed benchmarks whose name contains one of these")
    b.add_argument("--convergence-only", action="store_true", help="skip the speed benchmarks")

    dc = sub.add_parser("discrete", help="binary perceptron (local entropy in discrete learning): "
                        "solve | enumerate | local-entropy | figures | check", add_help=False)
    dc.add_argument("rest", nargs=argparse.REMAINDER)

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["discrete"]:  # its own parser (so that `deeprelax discrete -h` reaches it)
        from deeprelax.discrete.cli import main as discrete_main

        def run_discrete():
            rest = argv[1:]
            outs = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--out"]
            outs += [a.split("=", 1)[1] for a in rest if a.startswith("--out=")]
            for out in outs:          # the same one-line --out errors as the other subcommands
                _out_dir(out)
            return discrete_main(rest)

        return _guarded("discrete", run_discrete)
    args = p.parse_args(argv)
    return _guarded(args.cmd, lambda: _dispatch(args))


def _guarded(cmd: str, run) -> int:
    """``run()``; user errors become one line on stderr and exit status 2 (traceback with DEEPRELAX_DEBUG=1)."""
    try:
        return run()
    except KeyboardInterrupt:
        print(f"deeprelax {cmd}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if os.environ.get("DEEPRELAX_DEBUG", "") not in ("", "0"):
            raise
        print(f"deeprelax {cmd}: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    """Run one parsed subcommand; user errors propagate to :func:`main`."""
    if args.cmd == "smooth":
        shape = None if args.shape is None else (args.shape[0] if len(args.shape) == 1 else tuple(args.shape))
        smooth(args.loss, args.t, args.beta, shape, args.out, args.method, args.scheme, _parse_params(args.param))
        return 0
    if args.cmd == "fokker-planck":
        shape = None if args.shape is None else (args.shape[0] if len(args.shape) == 1 else tuple(args.shape))
        fokker_planck(args.loss, args.beta, args.t, args.out, shape, args.x0, args.sigma0, args.method,
                      params=_parse_params(args.param))
        return 0
    if args.cmd == "losses":
        from deeprelax import losses

        for n in losses.names():
            print(n)
        return 0
    if args.cmd == "validate":
        _out_dir(args.out)
        return validate(args.out, args.size, args.seed, args.groups)
    if args.cmd == "sgd-noise":
        _out_dir(args.out)
        return sgd_noise(args.out, args.size, args.seed)
    if args.cmd == "experiment":
        _out_dir(args.out)
        return experiment(args.name, args.out, args.size, args.executor, args.workers)
    if args.cmd == "bench":
        from deeprelax.bench import run_bench

        if args.out is not None:
            _out_dir(args.out)
        return run_bench(args.quick, args.only, args.convergence_only, out=args.out)
    if args.cmd == "demo":
        from deeprelax.demo import run_demo

        _out_dir(args.out)
        return run_demo(args.out)
    return 1


if __name__ == "__main__":
    sys.exit(main())
