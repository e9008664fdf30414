"""Small exact results of the papers that have no solver of their own (issue 16 §4).

* :mod:`.control` -- the stochastic-control value function of SGD plus a control (DR's
  "modified algorithm beats SGD in expectation", paper-spec §2.5, §7 item 15), by a linear PDE.
* :mod:`.ou` -- the antisymmetric ``Q`` of ``grad f = (D + Q) grad Phi - beta^-1 div(D + Q)`` for a
  linear (Ornstein-Uhlenbeck) SDE with non-normal drift, in closed form (SGD-VI Lemma 20, Thm 22).
* :mod:`.smoothing` -- convexity kept by the smoothing, the curvature bounds ``m/(1+tm) <= u'' <=
  M/(1+tM)`` and the harmonic-mean identity of the Hopf-Lax Hessian.
* :mod:`.relative_entropy` -- ``beta^-1 KL(rho_t || rho_ss)`` along the Itô Fokker-Planck flow with a
  non-isotropic, state-dependent ``D(x)`` (SGD-VI Thm 5) and its dissipation identity.

The underdamped (momentum) Langevin dynamics live in :mod:`deeprelax.underdamped`.  The checks are the
``theory`` group of :mod:`deeprelax.validation`.
"""
