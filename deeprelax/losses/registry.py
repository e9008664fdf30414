"""The loss registry: ``register(name, factory)``, ``get(name, **params)``, ``names()``."""
from __future__ import annotations

import inspect
from typing import Callable, Optional

__all__ = ["register", "get", "names"]

_REGISTRY: dict = {}


def register(name: str, factory: Optional[Callable] = None):
    """Make ``factory`` available as ``get(name, **params)``.

    Parameters
    ----------
    name : str
        Registry name (unique; ``ValueError`` if taken).
    factory : callable, optional
        A :class:`~deeprelax.losses.Loss` subclass, or any callable taking keyword parameters and
        returning a loss (for example ``lambda dim=2: from_functions(f, g, dim=dim)``).  The loss it
        returns must follow the subclass contract of :mod:`deeprelax.losses.base`.  Omitted: ``register``
        returns a class decorator (``@register("my-loss") class MyLoss(Loss): ...``).

    Returns
    -------
    ``factory`` (or the decorator).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string; got {name!r}.")

    def add(fac):
        if not callable(fac):
            raise TypeError(f"`factory` must be callable (a Loss subclass or a function returning a loss); "
                            f"got {fac!r}.")
        if name in _REGISTRY:
            old = getattr(_REGISTRY[name], "__name__", _REGISTRY[name])
            raise ValueError(f"a loss named {name!r} is already registered ({old}).")
        if isinstance(fac, type):
            fac.name = name
        _REGISTRY[name] = fac
        return fac

    return add if factory is None else add(factory)


def names() -> list:
    """Sorted names of the registered losses."""
    return sorted(_REGISTRY)


def get(name: str, **params):
    """Build the loss registered as ``name`` with keyword ``params``.

    Raises ``ValueError`` for an unknown name (listing the valid ones) and ``TypeError`` for unknown
    parameters (naming them and the valid ones).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown loss {name!r}; valid names are: {', '.join(names())}.")
    fac = _REGISTRY[name]
    sig = inspect.signature(fac)
    ps = [p for p in sig.parameters.values() if p.name != "self"]
    if not any(p.kind == p.VAR_KEYWORD for p in ps):
        valid = [p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise TypeError(f"loss {name!r} got unknown parameter(s) {unknown}; valid parameters are {valid}.")
    loss = fac(**params)
    if not isinstance(fac, type):
        try:
            loss.name = name                         # a loss built by name carries that name
        except AttributeError:  # pragma: no cover - read-only name
            pass
    return loss
