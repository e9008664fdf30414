"""The one template of the CPU HJ kernels, and the generator of :mod:`solvers._hj_stages_1d`, ``_2d`` and
``_3d`` from it.

The kernels need, per dimension ``d`` and derivative family, a loop nest whose innermost loop reads
its neighbours through 1-D row views with non-negative literal offsets (``r[j + 3]``): that is what
lets LLVM vectorise them with contiguous loads (a generic per-axis stride version, or indexing the
N-d array inside the loop, compiled to gathers and was 1.9x-6.5x slower).  numba cannot specialise
one generic body that cheaply: closures over constants, literal dispatch and typed overloads were
each tried and compiled 10-100x slower (minutes per kernel) or not at all.  So the bodies are
written out, by this generator, from the template below; the result is committed as
``solvers/_hj_stages_{1,2,3}d.py`` (one module per dimension; plain numba functions: cached on disk, readable
tracebacks; what they share is the hand-written :mod:`solvers._hj_stage_base`), and
``tests/solvers/test_hj_generated.py`` checks that it is current.

Regenerate after editing this template, :mod:`solvers._hj_cell`, :mod:`solvers._hj_stage_base`,
:mod:`solvers._hj_march` or
:mod:`solvers.heat` (whose heat kernels the march calls: numba's cache does not notice a changed callee
in another module).  Their source hashes are in the generated header, so the test fails until you do,
and the new file invalidates numba's cache of the old kernels::

    python -m solvers._hj_template          # rewrites solvers/_hj_stages_{1,2,3}d.py
    python solvers/_hj_template.py          # the same, when a generated module is missing or broken

What the template varies (everything else is the same text for every kernel):

* the *axes*: per axis, how the value at stencil offset ``s`` of the current cell is read: across
  rows (``rm1[j + G]`` with ``rm1 = V[i - 1]``) or along the row itself (``r[j + G + s]``);
* the *derivative family*: ``first`` (3 values), ``eno2`` (5) or ``weno5`` (7) one-sided
  derivatives, and the 3-point or 5-point Laplacian;
* serial (``range``, :func:`solvers.jit.njit`) or threaded (``prange``, ``pnjit``) outer loop.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

DERIVS = (("first", 1), ("eno2", 2), ("weno5", 3))  # name, ghost width; the index is the deriv code
#: The generated modules, one per dimension.
TARGETS = {d: Path(__file__).with_name(f"_hj_stages_{d}d.py") for d in (1, 2, 3)}


def _sname(s: int) -> str:
    return "" if s == 0 else (f"m{-s}" if s < 0 else f"p{s}")


def _axes(d: int, G: int, jv: str):
    """Per axis: a function ``s -> source of the value at offset s`` and the row-view definitions."""
    if d == 1:
        return [lambda s: f"v[{jv} + {G + s}]"], []
    if d == 2:
        views = [f"r{_sname(s)} = V[i {'-' if s < 0 else '+'} {abs(s)}]" for s in range(-G, G + 1) if s]
        return [lambda s: f"r{_sname(s)}[{jv} + {G}]", lambda s: f"r[{jv} + {G + s}]"], views
    views = [f"r{_sname(s)} = V[i {'-' if s < 0 else '+'} {abs(s)}, j]" for s in range(-G, G + 1) if s]
    views += [f"q{_sname(s)} = V[i, j {'-' if s < 0 else '+'} {abs(s)}]" for s in range(-G, G + 1) if s]
    return ([lambda s: f"r{_sname(s)}[{jv} + {G}]", lambda s: f"q{_sname(s)}[{jv} + {G}]",
             lambda s: f"r[{jv} + {G + s}]"], views)


def _at(ax, s):
    return "c" if s == 0 else ax(s)


def _pair(deriv: str, ax, k: int) -> str:
    args = {"first": (-1, 0, 1), "eno2": (-2, -1, 0, 1, 2), "weno5": (-3, -2, -1, 0, 1, 2, 3)}[deriv]
    return f"{deriv}({', '.join(_at(ax, s) for s in args)}, ih{k})"


def _lap(deriv: str, ax, k: int) -> str:
    if deriv == "weno5":
        return f"lap4({', '.join(_at(ax, s) for s in (-2, -1, 0, 1, 2))}, q{k})"
    return f"lap2({_at(ax, -1)}, c, {_at(ax, 1)}, q{k})"


def _updr(ax, k: int, jv: str) -> str:
    return f"_updr(c{k}, {jv}, {_at(ax, -1)}, c, {_at(ax, 1)}, ih{k})"


def _unpack(d: int, names: str) -> str:
    """``(ih0,)`` or ``ih0, ih1, ...``: the left side of unpacking a d-tuple."""
    return f"({names}0,)" if d == 1 else ", ".join(f"{names}{k}" for k in range(d))


def _stage_rows(d: int, deriv: str, G: int) -> str:
    """The row function of one (d, deriv): the template proper."""
    jv = "j" if d < 3 else "l"
    axes, views = _axes(d, G, jv)
    fused = deriv == "first"  # first order: slopes fused into the stencil loop (always recorded)
    off = "" if d == 1 else f" + {G}"
    if d == 1:
        head = ["def _rows_1d_{name}(V, W, O, cb, lo, hi, ih, q, nu, ham, a, b, dt, want):",
                "    n = hi - lo",
                f"    v = V[lo - {G}:hi + {G}]",
                "    w = W[lo:hi]",
                "    o = O[lo:hi]",
                f"    c0 = cb[0, 0, lo - {G}:hi - {G}]"]
        ind = "    "
    elif d == 2:
        head = ["def _rows_2d_{name}(V, W, O, cb, blk, i, ih, q, nu, ham, a, b, dt, want):",
                f"    n = V.shape[1] - {2 * G}"] + [f"    {v}" for v in views] + [
                "    r = V[i]", "    w = W[i]", "    o = O[i]", "    c0 = cb[blk, 0]", "    c1 = cb[blk, 1]"]
        ind = "    "
    else:
        head = ["def _rows_3d_{name}(V, W, O, cb, blk, i, ih, q, nu, ham, a, b, dt, want):",
                f"    n = V.shape[2] - {2 * G}",
                "    c0 = cb[blk, 0]", "    c1 = cb[blk, 1]", "    c2 = cb[blk, 2]",
                f"    for j in range({G}, V.shape[1] - {G}):"] + [f"        {v}" for v in views] + [
                "        r = V[i, j]", "        w = W[i, j]", "        o = O[i, j]"]
        ind = "        "
    head = [h.format(name=deriv) for h in head]
    head.insert(1, f"    {_unpack(d, 'ih')} = ih")
    head.insert(2, f"    {_unpack(d, 'q')} = q")
    body = []
    centre = f"{ind}    c = {axes[-1](0)}"
    if not fused:
        body += [f"{ind}if want:", f"{ind}    for {jv} in range(n):", f"    {centre}"]
        body += [f"{ind}        {_updr(ax, k, jv)}" for k, ax in enumerate(axes)]
    body += [f"{ind}for {jv} in range(n):", centre]
    if fused:
        body += [f"{ind}    {_updr(ax, k, jv)}" for k, ax in enumerate(axes)]
    for k, ax in enumerate(axes):
        body += [f"{ind}    pm, pp = {_pair(deriv, ax, k)}", f"{ind}    hs {'=' if k == 0 else '+='} ham2(ham, pm, pp)"]
    lap = " + ".join(_lap(deriv, ax, k) for k, ax in enumerate(axes))
    body += [f"{ind}    r_ = -0.5 * hs",
             f"{ind}    if nu != 0.0:",
             f"{ind}        r_ += nu * ({lap})",
             f"{ind}    val = c + dt * r_",
             f"{ind}    if a != 0.0:",
             f"{ind}        o[{jv}{off}] = a * w[{jv}{off}] + b * val",
             f"{ind}    else:",
             f"{ind}        o[{jv}{off}] = b * val"]
    return "\n".join(['@njit(inline="always")'] + head + body) + "\n"


def _stage_wrappers(d: int, deriv: str, G: int) -> str:
    out = []
    for par in (False, True):
        name = f"stage_{d}d_{deriv}{'_par' if par else ''}"
        rng = "prange" if par else "range"
        lines = ["@pnjit" if par else "@njit", f"def {name}(V, W, O, cb, ih, q, nu, ham, a, b, dt, want):"]
        if d == 1:
            if par:
                lines += [f"    n0 = V.shape[0] - {2 * G}",
                          "    for ch in prange((n0 + _CHUNK - 1) // _CHUNK):",
                          f"        lo = {G} + ch * _CHUNK",
                          f"        hi = min(lo + _CHUNK, {G} + n0)"]
            else:
                lines += [f"    lo, hi = {G}, V.shape[0] - {G}"]
            ind, call = ("        " if par else "    "), f"_rows_1d_{deriv}(V, W, O, cb, lo, hi, ih, q, nu, {{}}, a, b, dt, want)"
        else:
            lines += [f"    for blk in {rng}(cb.shape[0]):",
                      f"        for i in range({G} + blk * _ROWS_PER_BLOCK, "
                      f"min({G} + (blk + 1) * _ROWS_PER_BLOCK, V.shape[0] - {G})):"]
            ind, call = "            ", f"_rows_{d}d_{deriv}(V, W, O, cb, blk, i, ih, q, nu, {{}}, a, b, dt, want)"
        lines += [f"{ind}if ham <= 1:  # Godunov / Rouy-Tourin as a constant: the other fluxes compile out",
                  f"{ind}    {call.format(0)}",
                  f"{ind}else:",
                  f"{ind}    {call.format('ham')}"]
        out.append("\n".join(lines) + "\n")
    return "\n\n".join(out)


def _slopes(d: int, g: int) -> str:
    out = []
    for par in (False, True):
        name = f"slopes_{d}d_g{g}{'_par' if par else ''}"
        lines = ["@pnjit" if par else "@njit", f"def {name}(V, ih, buf):",
                 f"    {_unpack(d, 'ih')} = ih", "    buf[...] = 0.0"]
        if d == 1:
            axes = [lambda s: f"v[j + {1 + s}]"]
            if par:
                lines += [f"    n0 = V.shape[0] - {2 * g}",
                          "    for ch in prange((n0 + _CHUNK - 1) // _CHUNK):",
                          "        lo = ch * _CHUNK",
                          "        hi = min(lo + _CHUNK, n0)",
                          "        c0 = buf[0, 0, lo:hi]",
                          f"        v = V[lo + {g - 1}:hi + {g + 1}]",
                          "        for j in range(hi - lo):"]
                ind = "            "
            else:
                lines += [f"    n = V.shape[0] - {2 * g}", "    c0 = buf[0, 0]", f"    v = V[{g - 1}:V.shape[0] - {g - 1}]",
                          "    for j in range(n):"]
                ind = "        "
            lines += [f"{ind}c = {axes[0](0)}", f"{ind}{_updr(axes[0], 0, 'j')}"]
        else:
            jv = "j" if d == 2 else "l"
            axes = _axes_g(d, g, jv)
            lines += [f"    n0 = V.shape[0] - {2 * g}", f"    n = V.shape[{d - 1}] - {2 * g}",
                      f"    for blk in {'prange' if par else 'range'}(buf.shape[0]):"]
            lines += [f"        c{k} = buf[blk, {k}]" for k in range(d)]
            lines += [f"        for i in range({g} + blk * _ROWS_PER_BLOCK, min({g} + (blk + 1) * _ROWS_PER_BLOCK, {g} + n0)):"]
            ind = "            "
            if d == 3:
                lines += [f"{ind}for j in range({g}, V.shape[1] - {g}):"]
                ind += "    "
                lines += [f"{ind}rm1 = V[i - 1, j]", f"{ind}rp1 = V[i + 1, j]", f"{ind}qm1 = V[i, j - 1]",
                          f"{ind}qp1 = V[i, j + 1]", f"{ind}r = V[i, j]"]
            else:
                lines += [f"{ind}rm1 = V[i - 1]", f"{ind}r = V[i]", f"{ind}rp1 = V[i + 1]"]
            lines += [f"{ind}for {jv} in range(n):", f"{ind}    c = {axes[-1](0)}"]
            lines += [f"{ind}    {_updr(ax, k, jv)}" for k, ax in enumerate(axes)]
        out.append("\n".join(lines) + "\n")
    return "\n\n".join(out)


def _axes_g(d: int, g: int, jv: str):
    """First-order (3-value) axis readers on an array of ghost width ``g``."""
    if d == 2:
        return [lambda s: f"r{_sname(s)}[{jv} + {g}]", lambda s: f"r[{jv} + {g + s}]"]
    return [lambda s: f"r{_sname(s)}[{jv} + {g}]", lambda s: f"q{_sname(s)}[{jv} + {g}]",
            lambda s: f"r[{jv} + {g + s}]"]


def _fill(d: int) -> str:
    """Ghost fill of a padded d-D array, the compiled twin of solvers.boundary.fill_ghosts."""
    lines = ["@njit", f"def fill_ghosts_{d}d(V, g, periodic):"]
    if d == 1:
        lines += ["    _fill_line(V, g, periodic[0])"]
    elif d == 2:
        lines += ["    for j in range(g, V.shape[1] - g):", "        _fill_line(V[:, j], g, periodic[0])",
                  "    for i in range(V.shape[0]):", "        _fill_line(V[i], g, periodic[1])"]
    else:
        lines += ["    for j in range(g, V.shape[1] - g):", "        for l in range(g, V.shape[2] - g):",
                  "            _fill_line(V[:, j, l], g, periodic[0])",
                  "    for i in range(V.shape[0]):", "        for l in range(g, V.shape[2] - g):",
                  "            _fill_line(V[i, :, l], g, periodic[1])",
                  "    for i in range(V.shape[0]):", "        for j in range(V.shape[1]):",
                  "            _fill_line(V[i, j], g, periodic[2])"]
    return "\n".join(lines) + "\n"


def _march(d: int, deriv: str, G: int) -> str:
    out = []
    for par in (False,):  # threaded runs (large grids) drive the kernels from Python: see solvers.hj
        sfx = "_par" if par else ""
        out.append(f"@njit\ndef march_{d}d_{deriv}{sfx}(bufs, order, views, views3, cb, p, heat, clock, counts, alpha,\n"
                   f"{' ' * (len(deriv) + len(sfx) + 15)}t_target, budget, max_steps, t_stop):\n"
                   f"    return _march.march(stage_{d}d_{deriv}{sfx}, slopes_{d}d_g{G}{sfx}, fill_ghosts_{d}d,\n"
                   f"                        bufs, order, views, views3, cb, p, heat, clock, counts, alpha,\n"
                   f"                        t_target, budget, max_steps, t_stop)\n")
    return "\n\n".join(out)


HEADER = '''\
# GENERATED by solvers/_hj_template.py from its one template: do not edit by hand.
# Regenerate with `python -m solvers._hj_template` (tests/solvers/test_hj_generated.py checks it).
# Sources: _hj_template.py {t}, _hj_cell.py {c}, _hj_stage_base.py {b}, _hj_march.py {m}, heat.py {h}
"""Numba CPU kernels of the finite-difference HJ solver in {d} dimension{s}, written out from
:mod:`solvers._hj_template`.

One function per derivative family, serial and threaded (``_par``):

* ``stage_{d}d_{{first,eno2,weno5}}[_par](V, W, O, cb, ih, q, nu, ham, a, b, dt, want)``: one
  Runge-Kutta stage ``O = a W + b (V + dt L(V))`` on the interior, with the CFL slopes of ``V``
  recorded per block and column in ``cb`` (see :mod:`solvers._hj_kernels`);
* ``slopes_{d}d_g{{1,2,3}}[_par](V, ih, buf)``: the same slopes alone;
* ``fill_ghosts_{d}d(V, g, periodic)``: the ghost cells (:func:`solvers.boundary.fill_ghosts`);
* ``march_{d}d_{{deriv}}(...)``: :func:`solvers._hj_march.march` with the serial kernel set.

``ih`` and ``q`` are {d}-tuples of ``1/h_k`` and ``1/h_k^2``.  The per-cell functions come from
:mod:`solvers._hj_cell` (the source shared with the CUDA kernels) through :mod:`solvers._hj_stage_base`.
"""
from __future__ import annotations

from . import _hj_march as _march
from ._hj_stage_base import (_CHUNK, _ROWS_PER_BLOCK, _fill_line, _updr, eno2, first, ham2, lap2,  # noqa: F401
                             lap4, njit, pnjit, prange, weno5)
'''


def _hash(module_name: str) -> str:
    path = Path(__file__).with_name(module_name)
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


def render(d: int) -> str:
    """The source text of ``solvers/_hj_stages_{d}d.py``."""
    parts = [HEADER.format(t=_hash("_hj_template.py"), c=_hash("_hj_cell.py"), b=_hash("_hj_stage_base.py"),
                           m=_hash("_hj_march.py"), h=_hash("heat.py"), d=d, s="" if d == 1 else "s")]
    for deriv, G in DERIVS:
        parts.append("\n" + _stage_rows(d, deriv, G) + "\n\n" + _stage_wrappers(d, deriv, G))
    for g in (1, 2, 3):
        parts.append("\n" + _slopes(d, g))
    parts.append("\n" + _fill(d))
    for deriv, G in DERIVS:
        parts.append("\n" + _march(d, deriv, G))
    return "\n".join(parts)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for d, target in TARGETS.items():
        text = render(d)
        if "--check" in argv:
            if not (target.exists() and target.read_text() == text):
                stale.append(target)
            continue
        target.write_text(text)
        print(f"wrote {target} ({text.count(chr(10))} lines)")
    if "--check" in argv:
        print("current" if not stale else f"out of date: {', '.join(map(str, stale))}: run python -m solvers._hj_template")
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
