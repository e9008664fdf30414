r"""SGD out of equilibrium (paper-spec §4.3, §6, §7 items 16-17): anisotropic diffusion, Phi != f, limit cycles.

Conventions (SGD-VI, paper-spec §6)
-----------------------------------
* Diffusion matrix of a finite-sum loss :math:`f = \frac1N\sum_k f_k` at ``x``
  (with replacement): :math:`D(x) = \frac1N\sum_k \nabla f_k\nabla f_k^\top - \nabla f\nabla f^\top`,
  so that the minibatch gradient of batch ``b`` has covariance ``D/b``.  Without replacement the
  paper uses :math:`D' = \frac{N}{N-1} D` and multiplies the temperature by ``1 - b/N``; the product
  ``beta'^{-1} D'`` equals ``(eta/2b) (N-b)/(N-1) D``, the exact minibatch covariance times ``eta/2``.
* Temperature: :math:`\beta^{-1} = \eta/(2b)` (times ``1 - b/N`` without replacement), :func:`temperature`.
* Continuous-time SGD :math:`dx = -\nabla f\,dt + \sqrt{2\beta^{-1}D(x)}\,dW`, Fokker-Planck in Itô form

  .. math:: \rho_t = \nabla\cdot\big(\nabla f\,\rho + \beta^{-1}\nabla\cdot(D\rho)\big),

  (divergence of a matrix taken column-wise).  Potential :math:`\Phi = -\beta^{-1}\log\rho^{ss}`,
  non-equilibrium force :math:`j = -\nabla f + D\nabla\Phi - \beta^{-1}\nabla\cdot D`, with
  :math:`j\rho^{ss} = J^{ss}` (the stationary probability current), hence :math:`\nabla\cdot(j\rho^{ss}) = 0`.

Itô-form finite volumes
-----------------------
The operator of ``rho_t = div(g rho + beta^{-1} div(D(x) rho))`` (Scharfetter-Gummel in ``w = D_kk rho``
plus central mixed terms, no-flux walls) and its steady state live in :mod:`solvers.ito_fokker_planck`;
:func:`ito_operator`, :func:`ito_current` and :func:`ito_steady_state` are re-exported here.

Modules (one idea each; everything is re-exported here)
-------------------------------------------------------
``diffusion``      temperature, D(x) from per-sample gradients, its spectrum and fields on a grid
``steady_state``   the stationary density on a grid, Phi != f, the non-equilibrium force j
``example19``      Example 19: a limit cycle with known Phi and force (compiled EM chains)
``covariance``     near a minimum: Lyapunov (OU) covariance vs exact discrete and sampled SGD
``widths``         endpoint widths against eta/b on a two-well finite sum

Their checks (``deeprelax sgd-noise``, the validation group ``sgd_noise``) are
:func:`deeprelax.validation.sgd_noise.run_sgd_noise_checks`.
"""
from solvers.ito_fokker_planck import ito_operator, ito_current, ito_steady_state

from .diffusion import (temperature, diffusion_matrix, diffusion_from_gradients, diffusion_field,
                        spectrum_stats, DiffusionMatrix)
from .steady_state import SGDSteadyState, sgd_steady_state, nonequilibrium_force
from .example19 import (example19_phi, example19_force, example19_j, example19_critical_points, example19_ode,
                        example19_em_histogram, example19_bin_probs)
from .covariance import (lsq_exact_covariance, lyapunov_covariance, sgd_covariance, symmetric_lsq,
                         sgd_histogram, logistic_2d)
from .widths import TwoWellFiniteSum, sgd_endpoint_width

__all__ = [
    "temperature", "diffusion_matrix", "diffusion_from_gradients", "diffusion_field", "spectrum_stats", "DiffusionMatrix",
    "ito_operator", "ito_current", "ito_steady_state", "SGDSteadyState", "sgd_steady_state", "nonequilibrium_force",
    "example19_phi", "example19_force", "example19_j", "example19_critical_points", "example19_ode", "example19_em_histogram",
    "example19_bin_probs", "lsq_exact_covariance", "lyapunov_covariance", "sgd_covariance", "symmetric_lsq", "sgd_histogram",
    "logistic_2d", "TwoWellFiniteSum", "sgd_endpoint_width",
]
