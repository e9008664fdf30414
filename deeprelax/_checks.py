"""Argument checks shared by the science layer (the engine's live in :mod:`solvers.errors`)."""
from __future__ import annotations


def check_loss(loss, name: str = "loss"):
    """Raise ``TypeError`` unless ``loss`` is a deeprelax loss (has ``dim``, ``value`` and ``grad``).

    A plain function ``f(x)`` is not a loss: the methods need its dimension and gradient.
    """
    if isinstance(loss, type) or not all(hasattr(loss, a) for a in ("dim", "value", "grad")):
        what = "a plain function" if callable(loss) else f"a {type(loss).__name__}"
        raise TypeError(
            f"`{name}` must be a deeprelax loss (an object with .dim, .value and .grad, e.g. "
            f"dr.losses.get('double-well') or a registered custom loss); got {what}. To use a function f(x), "
            f"register it as a loss with its dimension and gradient (see deeprelax.losses).")
    return loss
