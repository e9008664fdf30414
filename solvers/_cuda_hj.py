r"""CUDA backend of :func:`solvers.hj.solve_hj`: numba.cuda kernels, state kept on the device.

The step rule (CFL, retries, splitting and its accuracy control) is
:func:`solvers._hj_steppers.advance_python`, the Python twin of the CPU's compiled march,
driving :class:`CudaStepper` through the same calls as the CPU ops, so both backends
take the same sequence of time steps and agree to round-off.

Device state
------------
Three flat (1-D, C order) device arrays hold ghost-padded states of padded shape
``(n_0 + 2g, ..., n_{d-1} + 2g)``; the last axis is contiguous.  Per step only the
``d`` CFL slopes come back to the host (one ``d``-element copy: the one host sync
a step needs, for ``dt``).  The full state is copied to the host only for
``save_at`` snapshots, checkpoints, the final result and the heat substeps of
split diffusion (see below).

Kernels (x runs along the contiguous last axis)
-----------------------------------------------
* ``ghost``: one thread per grid line along axis ``k`` fills the ``g`` ghost cells
  at both ends, exactly as :func:`solvers.boundary.fill_ghosts` (periodic wrap, or
  linear extrapolation ``u[-m] = u[0] + m (u[0] - u[1])``); axes in order, so edge
  and corner ghosts get the same values as on the CPU.
* ``stage``: the fused Runge-Kutta stage ``O = a W + b (V + dt L(V))`` with
  ``L(u) = -H_hat(p^-, p^+) + nu Lap_h u``: one-sided derivatives (first order,
  ENO2 or WENO5), numerical Hamiltonian (Godunov / Rouy-Tourin, local Lax-Friedrichs,
  Engquist-Osher), central Laplacian (3-point, or 5-point for WENO5) and the RK
  combination in one pass.  The per-cell mathematics is the CPU kernels' own source,
  :mod:`solvers._hj_cell`, compiled with ``cuda.jit(device=True)``; this module holds only
  the flat-index stencil reads, the launch geometry and the reductions.  One thread per cell of a 1-, 2- or 3-D block
  (``(256,)``, ``(32, 8)``, ``(32, 8, 1)``); the grid covers every axis but the slowest
  one, which each thread walks in a grid-stride loop, so a launch has about
  :func:`default_target_blocks` blocks (a few waves of the GPU) and each thread
  updates several cells.  With ``want`` every thread keeps the running maximum of
  ``max(|D^- u|, |D^+ u|) / h_k`` per axis over its cells (NaN mapped to ``+inf``,
  so a non-finite state always shows as a non-finite slope) and the block writes
  its maximum to a partials array (shared memory, two barriers).
* ``slopes``: the same per-block slope maxima without a stage (RK3 steps take the
  slopes of the current state before the first stage, as the CPU code does).
* ``reduce``: second pass, one block folds the few thousand partials into a
  ``d``-vector; the host copies those ``d`` numbers (the step's only sync).
* ``gradient``: the result's upwind gradient of the final state (one-sided derivatives of
  the scheme, Godunov selection), so a large 3-D result is not differentiated by NumPy.

Round-off
---------
In float64 the kernels run the CPU kernels' per-cell code in the same order, so in
numba's CUDA simulator (IEEE arithmetic, no FMA) the results are equal bit for bit;
on a GPU the compiler contracts ``a * b + c`` into fused multiply-adds, which
changes the last bits (agreement to ~1e-15 relative per step).

float32 (``dtype=np.float32``)
------------------------------
State, arithmetic and kernel scalars are float32 (constants are typed, so nothing
is promoted): :func:`solvers._hj_cell.make_cell` is called with ``np.float32``, which
also switches WENO5 to its overflow-safe weight normalisation (four divisions instead
of two, eps floor ``1e-30 h^2`` instead of ``1e-99 h^2``; the float64 trick of sharing
divisions overflows float32 near kinks).  ``dt`` is chosen in float64
on the host and rounded to float32 for the kernels.  Expect errors of about
``1e-6 |u|`` per unit time against float64, not round-off agreement.

Limits
------
* Split diffusion (``diffusion="split"``, or ``"auto"`` when diffusion is stiff) runs
  the exact heat substeps on the host (FFT / sine transforms of
  :func:`solvers.heat.heat_semigroup`, the same code as the CPU march): each split step copies the state to the host and
  back twice.  It is correct but transfer-bound; for device-resident viscous runs use
  ``diffusion="explicit"`` (small ``nu dt / h^2``) or ``beta = inf``.
* Kernels are compiled on first use per (dimension, derivative family, dtype)
  (``compile_time`` of the result); not cached across processes.
* Grids up to ``2^31`` padded cells per array (int64 indices, CUDA grid limits).
"""
from __future__ import annotations

import functools
import time

import numpy as np

from . import backend as _backend
from ._hj_cell import GHOST, make_cell
from .boundary import pad_array
from .heat import heat_semigroup

# A module global (not a local import): the CUDA simulator swaps every global bound to the
# numba.cuda module while a kernel runs.
cuda = _backend.get_cuda()

#: Largest thread block (threads); the shared-memory reduction buffers are sized by it.
MAX_TPB = 256
#: Block shape on large grids, (x, y, z) = (last axis, second-to-last, third-to-last).
BLOCK = {1: (256,), 2: (32, 8), 3: (32, 8, 1)}

def _pow2_ceil(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def block_shape(interior_shape) -> tuple:
    """Thread-block shape (x, y, z order) for an interior of shape ``(n_0, ..., n_{d-1})``.

    ``BLOCK[d]`` on large grids, shrunk to the grid on small ones (the simulator runs
    one Python thread per CUDA thread, so idle threads cost there).
    """
    n = list(interior_shape)[::-1]  # x first
    d = len(n)
    full = BLOCK[d]
    out = []
    left = MAX_TPB
    for k in range(d):
        b = max(1, min(full[k], n[k], left))
        out.append(b)
        left //= b
    return tuple(out)


@functools.lru_cache(maxsize=None)
def default_target_blocks() -> int:
    """Blocks per stage launch: 16 per multiprocessor on a GPU (a few waves), 2 in the simulator."""
    if _backend.simulator_enabled():
        return 2
    try:  # pragma: no cover - real GPU only
        return 16 * int(cuda.get_current_device().MULTIPROCESSOR_COUNT)
    except Exception:  # pragma: no cover
        return 2048


def launch_shape(interior_shape, target_blocks=None):
    """``(block, grid)`` in (x, y, z) order for the stage and slope kernels.

    The grid covers every axis but the slowest, which is cut to keep about
    ``target_blocks`` blocks; threads walk it with a grid-stride loop.
    """
    target = default_target_blocks() if target_blocks is None else max(1, int(target_blocks))
    block = block_shape(interior_shape)
    rev = list(interior_shape)[::-1]
    grid = [(rev[k] + block[k] - 1) // block[k] for k in range(len(rev))]
    other = int(np.prod(grid[:-1])) if len(grid) > 1 else 1
    grid[-1] = max(1, min(grid[-1], target // other))
    return tuple(block), tuple(grid)


@functools.lru_cache(maxsize=None)
def kernels(d: int, deriv: int, dtype_name: str):
    """Compile-on-first-use kernels for ``d`` dimensions, derivative code ``deriv`` and a dtype.

    Returns a dict with ``ghost``, ``stage``, ``slopes`` and ``reduce`` (numba.cuda kernels).
    """
    import numba

    F = np.dtype(dtype_name).type
    NBF = numba.from_dtype(np.dtype(dtype_name))
    D = int(d)
    G = GHOST[deriv]
    DERIV = int(deriv)
    ZERO, HALF, ONE = F(0.0), F(0.5), F(1.0)
    INF = F(np.inf)
    NMAX = MAX_TPB
    dev = functools.partial(cuda.jit, device=True, inline=True)
    cell = make_cell(dev, F)  # the CPU kernels' per-cell mathematics, compiled for the device
    ham2, first, eno2, weno5 = cell["ham2"], cell["first"], cell["eno2"], cell["weno5"]
    lap2, lap4, cslope, upwind = cell["lap2"], cell["lap4"], cell["slope"], cell["upwind"]

    @dev
    def slope(um1, c, up1, ih):
        """The CFL slope of a cell with NaN mapped to +inf (the CPU's NaN-sticky max)."""
        s = cslope(um1, c, up1, ih)
        if s != s:
            s = INF
        return s

    # ---- per axis, at flat index p with stride st along the axis
    if DERIV == 0:
        @dev
        def one_sided(V, p, st, ih):
            return first(V[p - st], V[p], V[p + st], ih)
    elif DERIV == 1:
        @dev
        def one_sided(V, p, st, ih):
            return eno2(V[p - 2 * st], V[p - st], V[p], V[p + st], V[p + 2 * st], ih)
    else:
        @dev
        def one_sided(V, p, st, ih):
            return weno5(V[p - 3 * st], V[p - 2 * st], V[p - st], V[p], V[p + st], V[p + 2 * st],
                         V[p + 3 * st], ih)

    if DERIV == 2:
        @dev
        def lap(V, p, st, q):
            return lap4(V[p - 2 * st], V[p - st], V[p], V[p + st], V[p + 2 * st], q)
    else:
        @dev
        def lap(V, p, st, q):
            return lap2(V[p - st], V[p], V[p + st], q)

    @dev
    def axis_terms(V, p, st, ih, q, ham):
        """(2 H_hat_k, Lap_k, CFL slope_k) of the cell at flat index p along the axis of stride st."""
        pm, pp = one_sided(V, p, st, ih)
        return ham2(ham, pm, pp), lap(V, p, st, q), slope(V[p - st], V[p], V[p + st], ih)

    @cuda.jit(device=True, inline=True)
    def update(V, W, O, p, s0, s1, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt):
        """Stage update of the cell at flat index p; returns its CFL slopes per axis (0 beyond d)."""
        c = V[p]
        t1 = ZERO
        t2 = ZERO
        if D == 1:
            hs, lap, t0 = axis_terms(V, p, 1, ih0, q0, ham)
        elif D == 2:
            hs, lap, t0 = axis_terms(V, p, s0, ih0, q0, ham)
            h2, l2, t1 = axis_terms(V, p, 1, ih1, q1, ham)
            hs += h2
            lap = lap + l2
        else:
            hs, lap, t0 = axis_terms(V, p, s0, ih0, q0, ham)
            h2, l2, t1 = axis_terms(V, p, s1, ih1, q1, ham)
            hs += h2
            lap = lap + l2
            h2, l2, t2 = axis_terms(V, p, 1, ih2, q2, ham)
            hs += h2
            lap = lap + l2
        r_ = -HALF * hs
        if nu != ZERO:
            r_ += nu * lap
        val = c + dt * r_
        if a != ZERO:
            O[p] = a * W[p] + b * val
        else:
            O[p] = b * val
        return t0, t1, t2

    @cuda.jit(device=True, inline=True)
    def cell_slopes(V, p, s0, s1, ih0, ih1, ih2):
        """CFL slopes of the cell at flat index p (first-order differences; 0 beyond d)."""
        c = V[p]
        t1 = ZERO
        t2 = ZERO
        if D == 1:
            t0 = slope(V[p - 1], c, V[p + 1], ih0)
        elif D == 2:
            t0 = slope(V[p - s0], c, V[p + s0], ih0)
            t1 = slope(V[p - 1], c, V[p + 1], ih1)
        else:
            t0 = slope(V[p - s0], c, V[p + s0], ih0)
            t1 = slope(V[p - s1], c, V[p + s1], ih1)
            t2 = slope(V[p - 1], c, V[p + 1], ih2)
        return t0, t1, t2

    @cuda.jit(device=True, inline=True)
    def block_fold(sh, tid, nt, nk):
        """Max over the block of sh[k, :nt] into sh[k, 0] (k < nk), with two barriers.

        Lanes 0..31 fold their residue classes mod 32, then thread 0 folds the 32 lane
        results; enough for a reduction done once per block of thousands of cells.
        """
        cuda.syncthreads()
        if tid < 32 and tid < nt:
            for k in range(nk):
                m = sh[k, tid]
                j = tid + 32
                while j < nt:
                    v = sh[k, j]
                    if v > m:
                        m = v
                    j += 32
                sh[k, tid] = m
        cuda.syncthreads()
        if tid == 0:
            lanes = nt if nt < 32 else 32
            for k in range(nk):
                m = sh[k, 0]
                for j in range(1, lanes):
                    v = sh[k, j]
                    if v > m:
                        m = v
                sh[k, 0] = m

    @cuda.jit(device=True, inline=True)
    def block_partials(sh, m0, m1, m2, part):
        """Write the block maxima of the per-thread slope maxima to part[k, block id]."""
        tid = cuda.threadIdx.x + cuda.blockDim.x * (cuda.threadIdx.y + cuda.blockDim.y * cuda.threadIdx.z)
        nt = cuda.blockDim.x * cuda.blockDim.y * cuda.blockDim.z
        sh[0, tid] = m0
        sh[1, tid] = m1
        sh[2, tid] = m2
        block_fold(sh, tid, nt, D)
        if tid == 0:
            bid = cuda.blockIdx.x + cuda.gridDim.x * (cuda.blockIdx.y + cuda.gridDim.y * cuda.blockIdx.z)
            for k in range(D):
                part[k, bid] = sh[k, 0]

    @cuda.jit
    def stage(V, W, O, part, n0, n1, n2, s0, s1, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt, want):
        """O = a W + b (V + dt L(V)) on the interior; per-block CFL slopes of V when ``want``.

        x indexes the last axis; the slowest axis is walked in a grid-stride loop (each
        thread updates several cells, so the block reduction is amortised).
        """
        x = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        m0 = ZERO
        m1 = ZERO
        m2 = ZERO
        if D == 1:
            i = x
            step = cuda.gridDim.x * cuda.blockDim.x
            while i < n0:
                t0, t1, t2 = update(V, W, O, G + i, s0, s1, ih0, ih1, ih2, q0, q1, q2, nu, ham, a, b, dt)
                if t0 > m0:
                    m0 = t0
                i += step
        elif D == 2:
            i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            step = cuda.gridDim.y * cuda.blockDim.y
            if x < n1:
                while i < n0:
                    t0, t1, t2 = update(V, W, O, (G + i) * s0 + G + x, s0, s1, ih0, ih1, ih2, q0, q1, q2,
                                        nu, ham, a, b, dt)
                    if t0 > m0:
                        m0 = t0
                    if t1 > m1:
                        m1 = t1
                    i += step
        else:
            y = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            i = cuda.blockIdx.z * cuda.blockDim.z + cuda.threadIdx.z
            step = cuda.gridDim.z * cuda.blockDim.z
            if x < n2 and y < n1:
                while i < n0:
                    t0, t1, t2 = update(V, W, O, (G + i) * s0 + (G + y) * s1 + G + x, s0, s1, ih0, ih1, ih2,
                                        q0, q1, q2, nu, ham, a, b, dt)
                    if t0 > m0:
                        m0 = t0
                    if t1 > m1:
                        m1 = t1
                    if t2 > m2:
                        m2 = t2
                    i += step
        if want:
            sh = cuda.shared.array((3, NMAX), NBF)
            block_partials(sh, m0, m1, m2, part)

    @cuda.jit
    def slopes(V, part, n0, n1, n2, s0, s1, ih0, ih1, ih2):
        """Per-block max |D^+- V| / h_k per axis (first-order differences) into ``part``."""
        x = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        m0 = ZERO
        m1 = ZERO
        m2 = ZERO
        if D == 1:
            i = x
            step = cuda.gridDim.x * cuda.blockDim.x
            while i < n0:
                t0, t1, t2 = cell_slopes(V, G + i, s0, s1, ih0, ih1, ih2)
                if t0 > m0:
                    m0 = t0
                i += step
        elif D == 2:
            i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            step = cuda.gridDim.y * cuda.blockDim.y
            if x < n1:
                while i < n0:
                    t0, t1, t2 = cell_slopes(V, (G + i) * s0 + G + x, s0, s1, ih0, ih1, ih2)
                    if t0 > m0:
                        m0 = t0
                    if t1 > m1:
                        m1 = t1
                    i += step
        else:
            y = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            i = cuda.blockIdx.z * cuda.blockDim.z + cuda.threadIdx.z
            step = cuda.gridDim.z * cuda.blockDim.z
            if x < n2 and y < n1:
                while i < n0:
                    t0, t1, t2 = cell_slopes(V, (G + i) * s0 + (G + y) * s1 + G + x, s0, s1, ih0, ih1, ih2)
                    if t0 > m0:
                        m0 = t0
                    if t1 > m1:
                        m1 = t1
                    if t2 > m2:
                        m2 = t2
                    i += step
        sh = cuda.shared.array((3, NMAX), NBF)
        block_partials(sh, m0, m1, m2, part)

    @cuda.jit
    def gradient(V, Gr, n0, n1, n2, s0, s1, ih0, ih1, ih2):
        """Gr[cell * d + k] = upwind-selected one-sided derivative along axis k (cells in C order)."""
        x = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if D == 1:
            i = x
            step = cuda.gridDim.x * cuda.blockDim.x
            while i < n0:
                pm, pp = one_sided(V, G + i, 1, ih0)
                Gr[i] = upwind(pm, pp)
                i += step
        elif D == 2:
            i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            step = cuda.gridDim.y * cuda.blockDim.y
            if x < n1:
                while i < n0:
                    p = (G + i) * s0 + G + x
                    o = (i * n1 + x) * 2
                    pm, pp = one_sided(V, p, s0, ih0)
                    Gr[o] = upwind(pm, pp)
                    pm, pp = one_sided(V, p, 1, ih1)
                    Gr[o + 1] = upwind(pm, pp)
                    i += step
        else:
            y = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
            i = cuda.blockIdx.z * cuda.blockDim.z + cuda.threadIdx.z
            step = cuda.gridDim.z * cuda.blockDim.z
            if x < n2 and y < n1:
                while i < n0:
                    p = (G + i) * s0 + (G + y) * s1 + G + x
                    o = ((i * n1 + y) * n2 + x) * 3
                    pm, pp = one_sided(V, p, s0, ih0)
                    Gr[o] = upwind(pm, pp)
                    pm, pp = one_sided(V, p, s1, ih1)
                    Gr[o + 1] = upwind(pm, pp)
                    pm, pp = one_sided(V, p, 1, ih2)
                    Gr[o + 2] = upwind(pm, pp)
                    i += step

    @cuda.jit
    def reduce(part, nparts, out):
        """out[k] = max_i part[k, i] (one block; launched after the first pass in the same stream)."""
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        sh = cuda.shared.array((3, NMAX), NBF)
        for k in range(D):
            m = ZERO
            i = tid
            while i < nparts:
                v = part[k, i]
                if v > m:
                    m = v
                i += nt
            sh[k, tid] = m
        block_fold(sh, tid, nt, D)
        if tid == 0:
            for k in range(D):
                out[k] = sh[k, 0]

    @cuda.jit
    def ghost(V, P, st, nlines, periodic):
        """Ghost cells of every line along one axis (padded length P, stride st), as fill_ghosts."""
        L = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if L < nlines:
            outer = L // st
            base = outer * (P * st) + (L - outer * st)
            n = P - 2 * G
            if periodic:
                for m in range(G):
                    V[base + m * st] = V[base + (n + m) * st]
                for m in range(G):
                    V[base + (n + G + m) * st] = V[base + (G + m) * st]
            else:
                first = V[base + G * st]
                slope_lo = first - V[base + (G + 1) * st]
                last = V[base + (G + n - 1) * st]
                slope_hi = last - V[base + (G + n - 2) * st]
                fm = ZERO
                for m in range(1, G + 1):
                    fm += ONE
                    V[base + (G - m) * st] = first + fm * slope_lo
                    V[base + (G + n - 1 + m) * st] = last + fm * slope_hi

    return {"ghost": ghost, "stage": stage, "slopes": slopes, "reduce": reduce, "gradient": gradient}


class CudaStepper:
    """Device state and kernel launches for one :func:`solvers.hj.solve_hj` run.

    Parameters
    ----------
    vals : ndarray, interior shape ``(n_0, ..., n_{d-1})``, the initial values
    g : int, ghost width of the scheme
    spacing : tuple of d floats
    periodic : tuple of d bools
    scheme : solvers.schemes.Scheme
    dtype : numpy float64 or float32 dtype
    target_blocks : int, optional
        Upper bound on thread blocks per stage launch (default :func:`default_target_blocks`).

    Attributes
    ----------
    bufs : list of three flat device arrays (``bufs[0]`` holds ``vals``, ghosts unfilled)
    """

    def __init__(self, vals, g, spacing, periodic, scheme, dtype=np.float64, target_blocks=None):
        self.dtype = np.dtype(dtype)
        self.F = self.dtype.type
        self.d = vals.ndim
        self.g = int(g)
        self.sch = scheme
        self.spacing = tuple(float(h) for h in spacing)
        self.periodic = tuple(bool(p) for p in periodic)
        self.n = tuple(int(x) for x in vals.shape)
        self.padded = tuple(x + 2 * self.g for x in self.n)
        self.size = int(np.prod(self.padded))
        st = [1] * self.d
        for k in range(self.d - 2, -1, -1):
            st[k] = st[k + 1] * self.padded[k + 1]
        self.strides = tuple(st)
        self.K = kernels(self.d, scheme.deriv_code, self.dtype.name)
        F = self.F
        # launch geometry: x = last axis; the slowest axis is walked by a grid-stride loop
        self.block, self.grid = launch_shape(self.n, target_blocks)
        self.nblocks = int(np.prod(self.grid))
        self.rblock = min(MAX_TPB, _pow2_ceil(self.nblocks))
        n3 = list(self.n) + [1] * (3 - self.d)
        s2 = list(self.strides[:-1]) + [0] * (3 - self.d)
        self._geom = (n3[0], n3[1], n3[2], int(s2[0]), int(s2[1]))
        ih = [1.0 / h for h in self.spacing] + [1.0] * (3 - self.d)
        q = [1.0 / (h * h) for h in self.spacing] + [1.0] * (3 - self.d)
        self._ih = tuple(F(x) for x in ih)
        self._q = tuple(F(x) for x in q)
        self._ghost_cfg = []
        for k in range(self.d):
            nlines = self.size // self.padded[k]
            tpb = min(MAX_TPB, nlines)
            self._ghost_cfg.append(((nlines + tpb - 1) // tpb, tpb, int(self.padded[k]), int(self.strides[k]),
                                    int(nlines), bool(self.periodic[k])))
        self.part = cuda.device_array((3, self.nblocks), dtype=self.dtype)
        self.out = cuda.device_array(3, dtype=self.dtype)  # reduced slopes
        self._host_out = np.zeros(3, dtype=self.dtype)
        self.bufs = [self.upload(vals), cuda.device_array(self.size, dtype=self.dtype),
                     cuda.device_array(self.size, dtype=self.dtype)]

    # ---- transfers
    def upload(self, vals, dev=None):
        """A flat device array (or ``dev``, overwritten) holding ``vals`` with zero ghosts."""
        host = np.ascontiguousarray(pad_array(np.asarray(vals, dtype=np.float64), self.g).astype(self.dtype))
        if dev is None:
            return cuda.to_device(host.ravel())
        dev.copy_to_device(host.ravel())
        return dev

    def set_interior(self, V, vals):
        """Overwrite the state ``V`` with interior values ``vals`` (ghosts are refilled before use)."""
        self.upload(vals, V)

    def get_interior(self, V):
        """A float64 host copy of the interior of ``V``, shape ``(n_0, ..., n_{d-1})``."""
        host = V.copy_to_host().reshape(self.padded)
        g = self.g
        return np.ascontiguousarray(host[tuple(slice(g, g + n) for n in self.n)], dtype=np.float64)

    # ---- kernels
    def fill_ghosts(self, V):
        """Ghost cells of ``V``, axis by axis (as :func:`solvers.boundary.fill_ghosts`)."""
        ghost = self.K["ghost"]
        for blocks, tpb, P, st, nlines, per in self._ghost_cfg:
            ghost[blocks, tpb](V, P, st, nlines, per)

    def _alpha(self):
        self.K["reduce"][1, self.rblock](self.part, self.nblocks, self.out)
        self.out.copy_to_host(self._host_out)  # the step's one host sync
        alpha = self._host_out[:self.d].astype(np.float64)
        return alpha, bool(np.isfinite(alpha).all())

    def launch_stage(self, V, W, O, nu, a, b, dt, want, ham=None):
        """One stage kernel (ghosts of ``V`` already filled); no reduction, no sync.

        ``ham`` overrides the scheme's Hamiltonian code (kernel tests).
        """
        F = self.F
        ham = self.sch.ham_code if ham is None else ham
        self.K["stage"][self.grid, self.block](
            V, W, O, self.part, *self._geom, *self._ih, *self._q, F(nu), int(ham),
            F(a), F(b), F(dt), bool(want))

    def slopes(self, V):
        """Fill the ghosts of ``V``; return its CFL slopes ``(alpha (d,), finite)`` (host sync)."""
        self.fill_ghosts(V)
        self.K["slopes"][self.grid, self.block](V, self.part, *self._geom, *self._ih)
        return self._alpha()

    def first_stage(self, src, s1, nu, dt):
        """Fill ghosts of ``src``, ``s1 = src + dt L(src)``; return the CFL slopes of ``src``."""
        self.fill_ghosts(src)
        self.launch_stage(src, src, s1, nu, 0.0, 1.0, dt, True)
        return self._alpha()

    def stage_filled(self, src, s1, nu, dt):
        """``s1 = src + dt L(src)`` for a ``src`` whose ghosts are filled; no slopes."""
        self.launch_stage(src, src, s1, nu, 0.0, 1.0, dt, False)

    def other_stages(self, src, s1, s2, nu, dt):
        """TVD-RK3 stages 2 and 3 after :meth:`first_stage`; the buffer holding the new state."""
        if self.sch.integrator == "euler":
            return s1
        self.fill_ghosts(s1)
        self.launch_stage(s1, src, s2, nu, 0.75, 0.25, dt, False)
        self.fill_ghosts(s2)
        self.launch_stage(s2, src, s1, nu, 1.0 / 3.0, 2.0 / 3.0, dt, False)
        return s1

    def gradient(self, V):
        """Upwind (Godunov-selected) gradient of the state ``V`` on the device; float64 host array of
        shape ``interior + (d,)`` (the CPU backend computes the same with the NumPy twins, equal up
        to a few ulps for WENO5)."""
        self.fill_ghosts(V)
        Gr = cuda.device_array(int(np.prod(self.n)) * self.d, dtype=self.dtype)
        self.K["gradient"][self.grid, self.block](V, Gr, *self._geom, *self._ih)
        return Gr.copy_to_host().reshape(self.n + (self.d,)).astype(np.float64, copy=False)

    def heat(self, V_from, V_to, tau):
        """Interior of ``V_to`` = exact heat semigroup of the interior of ``V_from`` (on the host)."""
        u = heat_semigroup(self.get_interior(V_from), self.spacing, self.periodic, tau,
                           self.sch.laplacian_order)
        self.upload(u, V_to)

    def synchronize(self):
        cuda.synchronize()

    def warmup(self) -> float:
        """Compile every kernel this run uses (tiny launches); seconds spent (0 in the simulator)."""
        if _backend.simulator_enabled():
            return 0.0
        t0 = time.perf_counter()
        n = max(2 * self.g, 4)
        tiny = CudaStepper(np.zeros((n,) * self.d), self.g, self.spacing, self.periodic, self.sch, self.dtype)
        V, W, O = tiny.bufs
        tiny.slopes(V)
        tiny.first_stage(V, W, 0.0, 0.0)
        tiny.launch_stage(W, V, O, 0.0, 0.5, 0.5, 0.0, False)
        tiny.gradient(V)
        cuda.synchronize()
        return time.perf_counter() - t0


def device_info() -> dict:
    """``{"device": name, "simulator": bool}`` for result params and benchmarks."""
    return {"device": _backend.device_name(), "simulator": _backend.simulator_enabled()}


__all__ = ["CudaStepper", "kernels", "block_shape", "launch_shape", "default_target_blocks", "device_info",
           "MAX_TPB", "BLOCK"]
