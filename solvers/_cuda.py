"""Former name of :mod:`solvers.backend`; ``import solvers._cuda`` gives that very module (one policy, one state)."""
import sys

from . import backend

sys.modules[__name__] = backend
