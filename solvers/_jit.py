"""Former name of :mod:`solvers.jit`; ``import solvers._jit`` gives that very module (one policy, one state)."""
import sys

from . import jit

sys.modules[__name__] = jit
