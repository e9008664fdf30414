"""Views of results: ``result.plot(ax=None, ...)`` and ``result.to_xarray()`` for every result class.

One function per result class, looked up by class name along the MRO, so the result classes keep one
delegating method each (:class:`solvers.result.Result`).  Plots use the Okabe-Ito colour-blind-safe
palette and draw on the given matplotlib ``ax`` (a new figure when None); they return the ``ax``.

``to_xarray()`` returns an ``xarray.Dataset``: grid axes as coordinates ``x`` (1-D) or
``x1, x2, x3``, saved times as ``time``, vector fields with a ``component`` axis, and the scalar
settings (``t``, ``beta``, ``scheme``/``method``, ``wall_time``, ...) as attributes with their
meaning (``t`` is a time, a variance; ``beta`` an inverse temperature), so ``.to_netcdf(path)`` and
``.to_dataframe()`` work as in xarray.  xarray and pandas are optional:
``pip install "deeprelax[xarray]"``; without them these methods raise an ``ImportError`` that says so.

This module imports only NumPy here; matplotlib, xarray and pandas are imported when used.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["plot", "to_xarray", "require", "OKABE_ITO", "CYCLE", "pyplot", "save_figure"]

#: Okabe-Ito palette (colour-blind safe).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "skyblue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#999999",
}
CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "skyblue", "yellow")]

#: What the coordinates and attributes mean (copied into the Dataset attributes).
UNITS = {"t": "Hamilton-Jacobi time (a variance; Deep Relaxation convention)",
         "beta": "inverse temperature (inf: non-viscous)",
         "time": "time of the saved state", "wall_time": "seconds of computation (compile time excluded)"}


def require(module: str, what: str):
    """Import an optional dependency or raise an ImportError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{what} needs the optional package {module!r}: pip install \"deeprelax[xarray]\" "
                          f"(installs xarray and pandas).") from e


def pyplot():
    """matplotlib.pyplot, on the Agg backend when there is no display."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template") \
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, **savefig_kw):
    """Write ``fig`` to ``path`` atomically: a unique temporary file in the same directory, then a rename.

    A reader never sees a half-written image and an interrupted or failed write leaves the previous file
    (if any) in place and no temporary behind.  The format comes from the suffix of ``path`` (``.png``,
    ``.pdf``, ``.svg``, ...) unless ``format=`` is given; other keywords go to ``Figure.savefig``.
    An existing image at ``path`` is replaced (figures are regenerated outputs); the parent directory is
    created.  Returns ``path`` as a ``Path``.
    """
    from pathlib import Path

    from ._files import atomic_path

    path = Path(path)
    fmt = savefig_kw.pop("format", None) or path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kw)
    return path


def _ax(ax, figsize=(6.4, 4.0)):
    if ax is None:
        _, ax = pyplot().subplots(figsize=figsize, constrained_layout=True)
    return ax


def _lookup(table: dict, result, what: str):
    for cls in type(result).__mro__:
        if cls.__name__ in table:
            return table[cls.__name__]
    raise NotImplementedError(f"{type(result).__name__} has no {what}; classes with one: {sorted(table)}.")


def plot(result, ax=None, **kw):
    """Draw ``result`` on ``ax`` (the class's natural picture); returns the axes."""
    return _lookup(_PLOTS, result, ".plot()")(result, ax, **kw)


def to_xarray(result):
    """``xarray.Dataset`` of ``result`` (module docstring)."""
    xr = require("xarray", f"{type(result).__name__}.to_xarray()")
    return _lookup(_XARRAY, result, ".to_xarray()")(result, xr)


# ----------------------------------------------------------------------------- fields on a grid
def _tag(result) -> str:
    beta = float(getattr(result, "beta", np.inf))
    method = getattr(result, "scheme", None) or getattr(result, "method", "")
    b = "beta=inf" if not np.isfinite(beta) else f"beta={beta:g}"
    return f"t={result.t:g}, {b} [{method}]"


def _field(ax, grid, z, *, label=None, color=None, cmap="viridis", **kw):
    """1-D: a line; 2-D: filled contours with a colour bar; 3-D: the middle x3-slice."""
    z = np.asarray(z)
    if grid.dim == 1:
        ax.plot(grid.axes[0], z, color=color, label=label, **kw)
        ax.set_xlabel("x")
        return ax
    if grid.dim == 3:
        z = z[:, :, grid.shape[2] // 2]
    X, Y = np.meshgrid(grid.axes[0], grid.axes[1], indexing="ij")
    cs = ax.contourf(X, Y, z, levels=kw.pop("levels", 30), cmap=cmap, **kw)
    ax.figure.colorbar(cs, ax=ax, shrink=0.85, label=label)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2" + (" (x3 = middle slice)" if grid.dim == 3 else ""))
    ax.set_aspect("equal")
    return ax


def _snapshots(ax, grid, ts, zs, name, final):
    """1-D: one curve per saved time (viridis, early = dark); 2-D/3-D: the final field."""
    if grid.dim == 1 and len(ts) > 1:
        cmap = pyplot().get_cmap("viridis")
        for i, (t, z) in enumerate(zip(ts, zs)):
            ax.plot(grid.axes[0], z, color=cmap(i / max(len(ts) - 1, 1)), lw=1.4, label=f"{name}, t={t:.3g}")
        ax.set_xlabel("x")
        ax.legend(fontsize=7, ncol=2)
        return ax
    return _field(ax, grid, final, label=name, color=CYCLE[0], lw=2)


def _plot_hj(r, ax, **kw):
    ax = _ax(ax)
    _snapshots(ax, r.grid, np.asarray(r.ts), np.asarray(r.us), "u", r.u)
    ax.set_title(kw.get("title") or f"solve_hj: u(x, t), {_tag(r)}", fontsize=9)
    if r.grid.dim == 1:
        ax.set_ylabel("u(x, t)")
        ax.grid(alpha=0.3)
    return ax


def _plot_exact(r, ax, **kw):
    ax = _ax(ax)
    kind = "Hopf-Lax" if not np.isfinite(getattr(r, "beta", np.inf)) else "Cole-Hopf"
    _field(ax, r.grid, r.u, label=kw.get("label") or f"u, {_tag(r)}", color=kw.get("color", CYCLE[0]), lw=2)
    ax.set_title(kw.get("title") or f"{kind}: u(x, t), {_tag(r)}", fontsize=9)
    if r.grid.dim == 1:
        ax.set_ylabel("u(x, t)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return ax


def _plot_fp(r, ax, **kw):
    ax = _ax(ax)
    _snapshots(ax, r.grid, np.asarray(r.ts), np.asarray(r.rhos), "rho", r.rho)
    ax.set_title(kw.get("title") or f"Fokker-Planck density, beta={r.beta:g} [{r.method}]", fontsize=9)
    if r.grid.dim == 1:
        ax.set_ylabel("rho(x, t)")
        ax.grid(alpha=0.3)
    return ax


def _plot_trajectory(r, ax, n_paths: int = 20, **kw):
    """d = 1: median and 10-90 % band of the chains against flow time, a few paths; d >= 2: paths in (x1, x2)."""
    ax = _ax(ax)
    xs, ts = np.asarray(r.xs), np.asarray(r.ts)
    m = min(n_paths, xs.shape[1])
    if r.dim == 1:
        lo, med, hi = np.quantile(xs[:, :, 0], [0.1, 0.5, 0.9], axis=1)
        for j in range(m):
            ax.plot(ts, xs[:, j, 0], color=OKABE_ITO["grey"], lw=0.6, alpha=0.6)
        ax.fill_between(ts, lo, hi, color=CYCLE[0], alpha=0.25, lw=0, label="10-90 % of chains")
        ax.plot(ts, med, color=CYCLE[0], lw=2, label=f"median of {xs.shape[1]} chains")
        ax.set_xlabel("flow time")
        ax.set_ylabel("x")
    else:
        for j in range(m):
            ax.plot(xs[:, j, 0], xs[:, j, 1], color=OKABE_ITO["grey"], lw=0.6, alpha=0.7)
        ax.scatter(xs[0, :, 0], xs[0, :, 1], s=6, color=OKABE_ITO["black"], label="start", zorder=3)
        ax.scatter(r.x[:, 0], r.x[:, 1], s=6, color=CYCLE[1], label="end", zorder=3)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    ax.set_title(kw.get("title") or f"{r.algorithm}: {xs.shape[1]} chains, {int(r.steps[-1])} steps", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def _plot_local_entropy(r, ax, what: str | None = None, component: int = 0, **kw):
    """Against the first coordinate of the points: ``grad`` (with 2-stderr bars) or ``u``."""
    ax = _ax(ax)
    x = np.asarray(r.x).reshape(-1, np.shape(r.x)[-1])
    u = np.asarray(r.u).ravel()
    what = what or ("u" if np.isfinite(u).any() else "grad")
    if what not in ("u", "grad"):
        raise ValueError(f"`what` must be 'u' or 'grad'; got {what!r}.")
    o = np.argsort(x[:, 0])
    if what == "u":
        ax.plot(x[o, 0], u[o], "o-", color=CYCLE[0], label=f"u(x, t) [{r.method}]")
    else:
        g = np.asarray(r.grad).reshape(len(x), -1)[o, component]
        se = np.asarray(r.stderr).reshape(len(x), -1)[o, component]
        ax.errorbar(x[o, 0], g, yerr=2 * se if np.any(se > 0) else None, fmt="o-", color=CYCLE[0], capsize=3,
                    label=f"grad u, component {component} [{r.method}]" + (" +- 2 stderr" if np.any(se > 0) else ""))
    ax.set_xlabel("x1" if x.shape[1] > 1 else "x")
    ax.set_ylabel(what)
    ax.set_title(kw.get("title") or f"local entropy, {_tag(r)}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def _plot_convergence(r, ax, **kw):
    """log-log error against h, one colour per scheme, the fitted line ``C h^p`` dashed."""
    ax = _ax(ax)
    h = np.asarray(r.h)
    markers = "osD^vP*X"
    for i, s in enumerate(r.schemes):
        c = CYCLE[i % len(CYCLE)]
        e = np.asarray(r.errors[i])
        p, C = float(r.orders[i]), float(r.constants[i])
        lab = f"{s}: order {p:.2f}" if np.isfinite(p) else f"{s}: at round-off"
        ax.loglog(h, e, marker=markers[i % len(markers)], color=c, lw=1.5, label=lab)
        if np.isfinite(p):
            ax.loglog(h, C * h ** p, color=c, lw=0.9, ls="--")
    ax.set_xlabel("grid spacing h")
    ax.set_ylabel(f"{r.norm}-norm error")
    ax.set_title(kw.get("title") or f"{r.problem}, t={r.t:g}, beta={r.beta:g}\nreference: {r.reference}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def _plot_sweep(r, ax, x: str | None = None, y: str = "value", hue: str | None = None, **kw):
    """``y`` (the value, or a scalar field of dict values) against the parameter ``x``; one line per ``hue``."""
    ax = _ax(ax)
    tasks = [t for t in r.tasks if t.ok]
    if not tasks:
        raise ValueError("no successful task to plot.")
    keys = list(tasks[0].params)
    x = x or keys[0]

    def get(t, k):
        if k in t.params:
            return t.params[k]
        v = t.value
        return v if k == "value" else (v[k] if isinstance(v, dict) else getattr(v, k))

    groups: dict = {}
    for t in tasks:
        groups.setdefault(t.params.get(hue) if hue else None, []).append((get(t, x), float(get(t, y))))
    for i, (h, pts) in enumerate(groups.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=CYCLE[i % len(CYCLE)],
                label=None if hue is None else f"{hue}={h}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if kw.get("logx"):
        ax.set_xscale("log")
    if kw.get("logy"):
        ax.set_yscale("log")
    if hue is not None:
        ax.legend(fontsize=8)
    ax.set_title(kw.get("title") or f"sweep: {y} against {x} ({len(tasks)} tasks)", fontsize=9)
    ax.grid(alpha=0.3)
    return ax


_PLOTS = {"HJResult": _plot_hj, "HopfLaxResult": _plot_exact, "ColeHopfResult": _plot_exact,
          "FPResult": _plot_fp, "Trajectory": _plot_trajectory, "LocalEntropyResult": _plot_local_entropy,
          "ConvergenceResult": _plot_convergence, "SweepResults": _plot_sweep}


# ----------------------------------------------------------------------------- xarray
def _attrs(r, names) -> dict:
    """Scalar attributes that netCDF can store (bools as ints, inf kept), plus their meaning."""
    out = {}
    for n in names:
        v = getattr(r, n, None)
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        if isinstance(v, (int, float, str, np.integer, np.floating)):
            out[n] = v.item() if hasattr(v, "item") else v
            if n in UNITS:
                out[f"{n}_meaning"] = UNITS[n]
    params = getattr(r, "params", None) or {}
    for k, v in params.items():
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        if isinstance(v, (int, float, str, np.integer, np.floating)):
            out[f"param_{k}"] = v.item() if hasattr(v, "item") else v
    out["result_class"] = type(r).__name__
    return out


def _space(grid):
    names = ["x"] if grid.dim == 1 else [f"x{k + 1}" for k in range(grid.dim)]
    return names, {n: (n, np.asarray(a)) for n, a in zip(names, grid.axes)}


def _grid_dataset(r, xr, scalars: dict, vectors: dict, series: dict, timed: dict, attrs):
    dims, coords = _space(r.grid)
    data = {k: (dims, np.asarray(v)) for k, v in scalars.items()}
    data.update({k: (dims + ["component"], np.asarray(v)) for k, v in vectors.items() if v is not None})
    if timed or series:
        coords["time"] = ("time", np.asarray(r.ts))
    data.update({k: (["time"] + dims, np.asarray(v)) for k, v in timed.items()})
    data.update({k: (["time"], np.asarray(v)) for k, v in series.items()})
    if vectors:
        coords["component"] = ("component", np.arange(r.grid.dim))
    return xr.Dataset(data, coords=coords, attrs=_attrs(r, attrs))


def _xr_hj(r, xr):
    return _grid_dataset(r, xr, {"u": r.u}, {"grad": r.grad}, {}, {"us": r.us},
                         ["t", "beta", "scheme", "order", "cfl", "n_steps", "dt_min", "dt_max", "status",
                          "wall_time", "compile_time"])


def _xr_hopf_lax(r, xr):
    return _grid_dataset(r, xr, {"u": r.u}, {"prox": r.prox, "grad": r.grad}, {}, {},
                         ["t", "beta", "method", "wall_time", "compile_time"])


def _xr_cole_hopf(r, xr):
    return _grid_dataset(r, xr, {"u": r.u}, {"grad": r.grad, "mean": r.mean}, {}, {},
                         ["t", "beta", "method", "wall_time", "compile_time"])


def _xr_fp(r, xr):
    return _grid_dataset(r, xr, {"rho": r.rho}, {},
                         {"mass": r.mass, "min_rho": r.min_rho, "free_energy": r.free_energy, "kl": r.kl},
                         {"rhos": r.rhos},
                         ["t", "beta", "method", "n_steps", "dt", "status", "wall_time", "compile_time"])


def _xr_trajectory(r, xr):
    d = {"xs": (["time", "chain", "component"], np.asarray(r.xs)), "x": (["chain", "component"], np.asarray(r.x))}
    if r.mus is not None:
        d["mus"] = (["time", "chain", "component"], np.asarray(r.mus))
    coords = {"time": ("time", np.asarray(r.ts)), "step": ("time", np.asarray(r.steps)),
              "chain": ("chain", np.arange(r.n_chains)), "component": ("component", np.arange(r.dim))}
    return xr.Dataset(d, coords=coords, attrs=_attrs(r, ["algorithm", "wall_time", "compile_time"]))


def _xr_local_entropy(r, xr):
    x = np.asarray(r.x)
    dd = x.shape[-1]
    n = x.size // dd
    d = {"x": (["point", "component"], x.reshape(n, dd)), "u": (["point"], np.asarray(r.u).reshape(n)),
         "rhat": (["point"], np.broadcast_to(np.asarray(r.rhat), x.shape[:-1]).reshape(n))}
    for k in ("grad", "mean", "stderr", "tau"):
        d[k] = (["point", "component"], np.asarray(getattr(r, k)).reshape(n, dd))
    coords = {"point": ("point", np.arange(n)), "component": ("component", np.arange(dd))}
    return xr.Dataset(d, coords=coords, attrs=_attrs(r, ["t", "beta", "method", "n_samples", "wall_time"]))


def _xr_convergence(r, xr):
    d = {"errors": (["scheme", "n"], np.asarray(r.errors)), "wall_times": (["scheme", "n"], np.asarray(r.wall_times)),
         "local_orders": (["scheme", "interval"], np.asarray(r.local_orders)),
         "orders": (["scheme"], np.asarray(r.orders)), "constants": (["scheme"], np.asarray(r.constants)),
         "declared": (["scheme"], np.asarray(r.declared))}
    coords = {"scheme": ("scheme", list(r.schemes)), "n": ("n", np.asarray(r.sizes)), "h": ("n", np.asarray(r.h))}
    return xr.Dataset(d, coords=coords, attrs=_attrs(r, ["problem", "reference", "norm", "t", "beta", "wall_time"]))


_XARRAY = {"HJResult": _xr_hj, "HopfLaxResult": _xr_hopf_lax, "ColeHopfResult": _xr_cole_hopf, "FPResult": _xr_fp,
           "Trajectory": _xr_trajectory, "LocalEntropyResult": _xr_local_entropy,
           "ConvergenceResult": _xr_convergence}
