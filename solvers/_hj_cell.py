r"""Per-cell mathematics of the finite-difference HJ schemes: one source for the CPU and CUDA kernels.

:func:`make_cell` compiles the functions below with a given decorator: ``numba.njit(inline="always")``
for the CPU kernels of :mod:`solvers._hj_kernels`, ``numba.cuda.jit(device=True, inline=True)`` for
the device kernels of :mod:`solvers._cuda_hj`.  Every function is a leaf (scalars in, scalars out; it
calls only ``abs``), so the same Python source compiles for both targets and runs as plain Python in
numba's CUDA simulator.  Maxima are written ``b if b > a else a``, which is exactly what numba's
CPU ``max(a, b)`` compiles to (the CUDA target has no two-argument ``max`` of floats).  In float64
both backends therefore do the same operations in the same order (bit for bit in the simulator; the
NumPy twins in :mod:`solvers.schemes` agree to a few ulps).

float32 (CUDA only): ``make_cell(jit, np.float32)`` types every constant as float32 (nothing is
promoted to float64) and switches :func:`weno5` to its overflow-safe weight normalisation, the only
place where the two precisions differ (see its docstring).

Functions (``ih = 1/h``, ``q = 1/h^2``; ``um1, c, up1`` are ``u_{i-1}, u_i, u_{i+1}`` along one axis):

* ``ham2(ham, pm, pp)``: twice the per-axis numerical Hamiltonian ``h(p^-, p^+)`` for
  ``H(p) = p^2/2``; ``ham`` is 0 Godunov / 1 Rouy-Tourin / 2 local Lax-Friedrichs / 3 Engquist-Osher;
* ``first``, ``eno2``, ``weno5``: the one-sided derivatives ``(p^-, p^+)`` from 3, 5 or 7 values;
* ``lap2``, ``lap4``: the 3-point and 5-point central second differences;
* ``slope``: ``max(|c - um1|, |up1 - c|) / h``, the CFL slope of the cell;
* ``upwind``: the Godunov-selected derivative (the result's gradient).
"""
from __future__ import annotations

import numpy as np

#: Ghost width (cells per side) of each derivative family, by code: first order, ENO2, WENO5.
GHOST = (1, 2, 3)


def make_cell(jit, F=float):
    """The per-cell functions compiled with ``jit`` for floating type ``F`` (``float``, ``np.float64``
    or ``np.float32``); returns a ``dict`` name -> compiled function."""
    is64 = np.dtype(F) == np.float64
    ZERO, HALF, TWO, THREE, SIX = F(0.0), F(0.5), F(2.0), F(3.0), F(6.0)
    C16, C30, C1_12 = F(16.0), F(30.0), F(1.0 / 12.0)
    C1_3, C7_6, C11_6, C1_6, C5_6 = F(1.0 / 3.0), F(7.0 / 6.0), F(11.0 / 6.0), F(1.0 / 6.0), F(5.0 / 6.0)
    C3_13 = F(3.0 / 13.0)
    ONE = F(1.0)
    # WENO eps = 1e-6 max v^2 + tiny, both scaled by 12/13 with the smoothness indicators; tiny is
    # 1e-99 h^2 floored at 1e-150 in float64, 1e-30 h^2 floored at 1e-37 in float32
    EPS_A = F(1e-6 * (12.0 / 13.0))
    EPS_B = F(1e-99 * (12.0 / 13.0)) if is64 else F(1e-30 * (12.0 / 13.0))
    EPS_FLOOR = F(1e-150) if is64 else F(1e-37)
    SHARED_DIVISIONS = bool(is64)

    @jit
    def ham2(ham, pm, pp):
        """Twice the per-axis numerical Hamiltonian; all candidates are computed and one is selected.

        The factor 1/2 is applied once per cell to the sum over axes (a power of 2: the result is
        bit for bit that of halving each term).  Selecting instead of branching keeps the CPU loop
        branch-free (3x cheaper there); with a constant ``ham`` the compiler drops the unused
        candidates.  Codes 0 (Godunov) and 1 (Rouy-Tourin) share the value: for H = p^2/2,
        ``min(0, min(-p^-, p^+))^2 = max(max(p^-, 0), -min(p^+, 0))^2 = max(A^2, B^2)`` exactly in
        floating point (squaring is monotone on [0, inf)); the literal Rouy-Tourin form is kept in
        the NumPy twin and a test checks the equality.
        """
        a = ZERO if ZERO > pm else pm  # max(pm, 0)
        b = ZERO if ZERO < pp else pp  # min(pp, 0)
        a2 = a * a
        b2 = b * b
        god = b2 if b2 > a2 else a2
        eo = a2 + b2
        apm = abs(pm)
        app = abs(pp)
        alpha = app if app > apm else apm
        s = HALF * (pm + pp)
        lf = s * s - alpha * (pp - pm)
        return god if ham <= 1 else (lf if ham == 2 else eo)

    @jit
    def first(um1, c, up1, ih):
        """First-order one-sided differences ``(p^-, p^+)``."""
        return (c - um1) * ih, (up1 - c) * ih

    @jit
    def eno2(um2, um1, c, up1, up2, ih):
        """ENO2 one-sided derivatives ``(p^-, p^+)`` (the second difference smaller in magnitude)."""
        a = um2 - TWO * um1 + c
        b = um1 - TWO * c + up1
        cc = c - TWO * up1 + up2
        mab = a if abs(a) <= abs(b) else b
        mbc = b if abs(b) <= abs(cc) else cc
        return ((c - um1) + HALF * mab) * ih, ((up1 - c) - HALF * mbc) * ih

    @jit
    def weno5(um3, um2, um1, c, up1, up2, up3, ih):
        """Both WENO5 derivatives ``(p^-, p^+)`` from the seven values ``u_{i-3} .. u_{i+3}``.

        The Jiang-Peng formulas of the NumPy twin :func:`solvers.schemes._weno` (``p^-`` from the
        differences ``d0..d4``, ``p^+`` from ``d5..d1``, ``d_k = u_{i-2+k} - u_{i-3+k}``), rearranged
        for fewer multiplications and 2 divisions instead of 8 (the CPU loop is bound by the
        multiply pipes; constant divisions are written as products, since LLVM keeps ``x / 3.0`` a
        division without fast-math):

        * smoothness indicators from the second differences ``a_k = d_{k+1} - d_k`` (Jiang-Peng's
          form): ``S_1 = 13/12 (a_0 - a_1)^2 + 1/4 (a_0 - 3 a_1)^2`` etc., all scaled by ``12/13``
          together with ``eps`` (the weights depend on ``S_k + eps`` only through ratios);
          ``(a_1 - a_2)^2`` and ``(a_2 - a_3)^2`` serve both sides;
        * ``max v^2 = (max |v|)^2`` (exact: rounding is monotone);
        * ``alpha_k = gamma_k / e_k^2`` (``e_k = S_k + eps``) is replaced by the proportional
          ``gamma'_k prod_{l != k} f_l^2`` with ``f_l = e_l / eps`` and ``gamma' = (1, 6, 3)``;
          since ``S_l <= 33.4 max v^2`` and ``eps >= 1e-6 max v^2 + tiny``, ``1 <= f_l <= 3.4e7``, so
          nothing under- or overflows in float64 (flat data included);
        * float64: ``1/eps^-`` and ``1/eps^+`` come from one division ``1 / (eps^- eps^+)``, and the
          two weight sums share one division ``1 / (D^- D^+)``.  float32: those products overflow
          near kinks, so the four divisions are done separately (and ``tiny`` is ``1e-30 h^2``
          floored at ``1e-37``);
        * two of the three candidate stencils of ``p^+`` are those of ``p^-``;
        * undivided differences: the reconstruction is homogeneous of degree 1 in ``v`` once ``eps``
          is scaled with it (``1e-6 max D^2 + 1e-99 h^2`` for ``D = h v``), so ``1/h`` is applied
          once, at the end (``1e-99 h^2`` is floored at ``1e-150``, which matters only for
          ``h < 1e-25``).

        Results equal the twin's up to a few ulps (not bit for bit).
        """
        d0 = um2 - um3
        d1 = um1 - um2
        d2 = c - um1
        d3 = up1 - c
        d4 = up2 - up1
        d5 = up3 - up2
        ad1 = abs(d1)
        ad2 = abs(d2)
        ad3 = abs(d3)
        ad4 = abs(d4)
        ad0 = abs(d0)
        ad5 = abs(d5)
        v12 = ad2 if ad2 > ad1 else ad1
        v34 = ad4 if ad4 > ad3 else ad3
        vm = v34 if v34 > v12 else v12
        vl = ad0 if ad0 > vm else vm
        vr = ad5 if ad5 > vm else vm
        tiny = EPS_B / (ih * ih)  # loop-invariant (hoisted); floored below
        tiny = EPS_FLOOR if EPS_FLOOR > tiny else tiny
        em = EPS_A * (vl * vl) + tiny
        ep = EPS_A * (vr * vr) + tiny
        # smoothness indicators (times 12/13)
        a0 = d1 - d0
        a1 = d2 - d1
        a2 = d3 - d2
        a3 = d4 - d3
        a4 = d5 - d4
        t = a0 - a1
        u = a0 - THREE * a1
        sm1 = t * t + C3_13 * (u * u)
        t = a1 - a2
        t12 = t * t
        u = a1 + a2
        sm2 = t12 + C3_13 * (u * u)
        t = a2 - a3
        t23 = t * t
        a2x3 = THREE * a2
        u = a2x3 - a3
        sm3 = t23 + C3_13 * (u * u)
        t = a3 - a4
        u = THREE * a3 - a4
        sp1 = t * t + C3_13 * (u * u)
        u = a2 + a3
        sp2 = t23 + C3_13 * (u * u)
        u = a2x3 - a1
        sp3 = t12 + C3_13 * (u * u)
        # candidate stencils; php2 = -d4/6 + 5 d3/6 + d2/3 = phm3 and php3 = d3/3 + 5 d2/6 - d1/6 = phm2
        phm1 = C1_3 * d0 - C7_6 * d1 + C11_6 * d2
        phm2 = -C1_6 * d1 + C5_6 * d2 + C1_3 * d3
        phm3 = C1_3 * d2 + C5_6 * d3 - C1_6 * d4
        php1 = C1_3 * d5 - C7_6 * d4 + C11_6 * d3
        # weights, scaled by eps
        if SHARED_DIVISIONS:
            r = ONE / (em * ep)
            iem = ep * r
            iep = em * r
        else:
            iem = ONE / em
            iep = ONE / ep
        f1 = (sm1 + em) * iem
        f2 = (sm2 + em) * iem
        f3 = (sm3 + em) * iem
        f1 = f1 * f1
        f2 = f2 * f2
        f3 = f3 * f3
        w1 = f2 * f3
        w2 = SIX * (f1 * f3)
        w3 = THREE * (f1 * f2)
        nm = w1 * phm1 + w2 * phm2 + w3 * phm3
        dm = w1 + w2 + w3
        f1 = (sp1 + ep) * iep
        f2 = (sp2 + ep) * iep
        f3 = (sp3 + ep) * iep
        f1 = f1 * f1
        f2 = f2 * f2
        f3 = f3 * f3
        w1 = f2 * f3
        w2 = SIX * (f1 * f3)
        w3 = THREE * (f1 * f2)
        np_ = w1 * php1 + w2 * phm3 + w3 * phm2
        dp = w1 + w2 + w3
        if SHARED_DIVISIONS:
            r = ih / (dm * dp)
            return nm * (dp * r), np_ * (dm * r)
        return (nm / dm) * ih, (np_ / dp) * ih

    @jit
    def lap2(um1, c, up1, q):
        """3-point second difference ``(u_{i-1} - 2 u_i + u_{i+1}) / h^2``."""
        return (um1 - TWO * c + up1) * q

    @jit
    def lap4(um2, um1, c, up1, up2, q):
        """5-point (4th-order) second difference ``(-u_{i-2} + 16 u_{i-1} - 30 u_i + ...) / (12 h^2)``."""
        return (-um2 + C16 * um1 - C30 * c + C16 * up1 - up2) * (q * C1_12)

    @jit
    def slope(um1, c, up1, ih):
        """``max(|c - um1|, |up1 - c|) / h`` (scaling after the max: the same value).

        NaN handling is the caller's: the max drops a NaN in one of the two differences, but a
        non-finite ``c`` makes both non-finite at its own cell.
        """
        dm = abs(c - um1)
        dp = abs(up1 - c)
        return (dm if dm > dp else dp) * ih

    @jit
    def upwind(pm, pp):
        """Godunov-selected derivative (:func:`solvers.schemes.upwind_select`)."""
        a = pm if pm > ZERO else ZERO
        b = pp if pp < ZERO else ZERO
        return a if a * a >= b * b else b

    return {"ham2": ham2, "first": first, "eno2": eno2, "weno5": weno5, "lap2": lap2, "lap4": lap4,
            "slope": slope, "upwind": upwind}
