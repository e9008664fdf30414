"""The loss registry: ``register(name, factory)``, ``get(name, **params)``, ``names()``."""
from __future__ import annotations

import inspect
from typing import Callable, Optional

__all__ = ["register", "get", "names", "resolve"]

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


def resolve(spec: str, **params):
    """The loss named by ``spec``: a registered name, or ``module:attr`` / ``path/to/file.py:attr``.

    The attribute may be a loss (an instance: no ``params``), a :class:`~deeprelax.losses.Loss` subclass or a
    factory (called with ``params``), or a loss function ``f(x)`` on points ``(..., d)`` (a callable with a
    required positional argument: give ``dim``, and optionally ``bounds``, in ``params``; wrapped with
    :func:`~deeprelax.losses.from_functions`).  This is what the command line's ``--loss`` takes.
    """
    if spec in _REGISTRY:
        return get(spec, **params)
    if ":" not in spec:
        raise ValueError(f"unknown loss {spec!r}; valid names are: {', '.join(names())}; or give MODULE:ATTR or "
                         f"path/to/file.py:ATTR for a loss of your own.")
    where, attr = spec.rsplit(":", 1)
    mod = _import(where)
    if not hasattr(mod, attr):
        raise ValueError(f"{where!r} has no attribute {attr!r} (from --loss {spec!r}).")
    obj = getattr(mod, attr)
    from .functions import from_functions

    if hasattr(obj, "dim") and not isinstance(obj, type):
        if params:
            raise TypeError(f"{spec!r} is a loss object; it takes no parameters (got {sorted(params)}).")
        return obj
    if not callable(obj):
        raise TypeError(f"{spec!r} must be a loss, a Loss subclass, a factory or a function f(x); got "
                        f"{type(obj).__name__}.")
    if isinstance(obj, type):
        return obj(**params)
    if _is_loss_function(obj):
        if "dim" not in params:
            raise TypeError(f"{spec!r} is a loss function f(x): give its dimension (--param dim=D).")
        kw = dict(params)
        dim, bounds = kw.pop("dim"), kw.pop("bounds", None)
        if kw:
            raise TypeError(f"a loss function takes only `dim` and `bounds`; got {sorted(kw)}.")
        return from_functions(obj, dim=dim, bounds=bounds, name=attr)
    loss = obj(**params)
    if not hasattr(loss, "dim"):
        raise TypeError(f"{spec!r} returned {type(loss).__name__}, not a loss (an object with `dim`).")
    return loss


def _is_loss_function(fn) -> bool:
    """A callable with a required positional argument (``f(x)``), as opposed to a factory of keywords."""
    target = getattr(fn, "py_func", fn)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in sig.parameters.values())


def _import(where: str):
    import importlib
    import importlib.util
    import os
    import sys

    if where.endswith(".py") or os.sep in where:
        path = os.path.abspath(where)
        if not os.path.isfile(path):
            raise ValueError(f"no such file {where!r} (from --loss).")
        name = "deeprelax_user_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError:
        if os.getcwd() in sys.path:
            raise
        sys.path.insert(0, os.getcwd())
        try:
            return importlib.import_module(where)
        except ModuleNotFoundError:
            raise ValueError(f"cannot import module {where!r} (from --loss); is it on the path?") from None
