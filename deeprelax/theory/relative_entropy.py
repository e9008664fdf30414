r"""SGD-VI Thm 5 with a non-isotropic, state-dependent diffusion matrix.

Along the Itô Fokker-Planck flow :math:`\rho_t = \nabla\cdot(\nabla f\,\rho + \beta^{-1}\nabla\cdot(D(x)\rho))`
with steady state :math:`\rho_{ss} = e^{-\beta\Phi}/Z` (``Phi != f`` when ``D`` is not isotropic), the free
energy :math:`F(\rho) = \beta^{-1}\mathrm{KL}(\rho\,\|\,\rho_{ss})` decreases monotonically to 0, at the rate

.. math:: \frac{dF}{dt} = -\beta^{-2}\int \rho\,(\nabla h)^\top D\,(\nabla h)\,dx \le 0,
          \qquad h = \log\frac{\rho}{\rho_{ss}}

(the relative-entropy dissipation of a diffusion with generator :math:`-\nabla f\cdot\nabla +
\beta^{-1} D:\nabla\nabla`; no detailed balance is needed).  :func:`free_energy_path` integrates the
finite-volume operator of :mod:`deeprelax.sgd_noise` (implicit Euler, which keeps the discrete
relative entropy non-increasing when the discrete generator is a Markov generator) and returns ``F``
and the right-hand side of the identity at the same times.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse as sp
from scipy.sparse import linalg as spla

__all__ = ["free_energy_path", "example_field"]


def example_field():
    """A 2-D test case: ``f = x1^4/4 - x1^2/2 + 0.3 x1 + x2^2/2 + 0.2 x1 x2`` and a full, state-dependent,
    anisotropic ``D(x)`` (eigenvalues between about 0.4 and 1.7).  Returns ``(grad_f, D)``."""

    def grad_f(p):
        x, y = p[..., 0], p[..., 1]
        return np.stack([x ** 3 - x + 0.3 + 0.2 * y, y + 0.2 * x], axis=-1)

    def D(p):
        a = 1.0 + 0.5 * np.sin(p[..., 0])
        c = 0.6 + 0.3 * p[..., 1] ** 2 / (1 + p[..., 1] ** 2)
        o = 0.25 * np.cos(p[..., 0] + p[..., 1])
        return np.stack([np.stack([a, o], -1), np.stack([o, c], -1)], -2)

    return grad_f, D


def free_energy_path(grid, grad_f, D, beta: float, rho0, T: float, n_steps: int) -> dict:
    """``F(t) = beta^-1 KL(rho_t || rho_ss)`` and ``-beta^-2 int rho grad h . D grad h`` along the flow.

    Returns ``{"t": (n_steps+1,), "F": (n_steps+1,), "dissipation": (n_steps+1,), "rho_ss": grid.shape,
    "rho_T": grid.shape, "min_rho": float}``."""
    from ..sgd_noise import ito_steady_state

    rho_ss, A = ito_steady_state(grid, force=grad_f, D=D, beta=beta, return_operator=True)
    vol = grid.cell_volume
    rho = np.asarray(rho0, dtype=np.float64).ravel()
    rho = rho / (rho.sum() * vol)
    dt = T / n_steps
    lu = spla.splu((sp.identity(A.shape[0], format="csc") - dt * A).tocsc())
    Dn = D(grid.mesh())
    ss = rho_ss.ravel()

    ss_pos = np.maximum(rho_ss, 1e-300)      # the mixed D_12 terms make round-off-size negative values far out

    def stats(r):
        r2 = np.maximum(r, 1e-300).reshape(grid.shape)
        h = np.log(r2 / ss_pos)
        F = float(np.sum(r2 * h) * vol) / beta
        gh = np.stack(np.gradient(h, *grid.spacing, edge_order=2), axis=-1)
        q = np.einsum("...k,...kl,...l->...", gh, Dn, gh)
        return F, -float(np.sum(r2 * q) * vol) / beta ** 2

    Fs, Ds, mins = [], [], []
    for k in range(n_steps + 1):
        F, dis = stats(rho)
        Fs.append(F)
        Ds.append(dis)
        mins.append(float(rho.min()))
        if k < n_steps:
            rho = lu.solve(rho)
    return {"t": np.linspace(0.0, T, n_steps + 1), "F": np.array(Fs), "dissipation": np.array(Ds),
            "rho_ss": rho_ss, "rho_T": rho.reshape(grid.shape), "min_rho": min(mins), "ss_min": float(ss.min())}
