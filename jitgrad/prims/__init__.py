"""Primitive declarations; importing this package registers every primitive.

Its namespace is derived from the declaration modules (every module of this package): each
module's public functions (the wrappers that bind a primitive, ``add``, ``reshape``, ...) and
its primitive objects (``add_p``, ...), so a new declaration module needs no line here."""

import importlib
import pkgutil

from jitgrad.core import Primitive, zeros

__all__ = ["zeros"]


def _export(module_name: str) -> None:
    module = importlib.import_module(f"{__name__}.{module_name}")
    for name, value in vars(module).items():
        declared_here = getattr(value, "__module__", None) == module.__name__
        if name.startswith("_") or name in globals() or not (
                isinstance(value, Primitive) or (callable(value) and declared_here)):
            continue
        globals()[name] = value
        __all__.append(name)


# Declaration order matters (later modules declare in terms of earlier ones); the rest follow.
# (``testcases`` holds the test-input helpers the declarations share, no primitives.)
_FIRST = ("structural", "elementwise", "reduce", "linalg")
for _name in _FIRST + tuple(sorted({m.name for m in pkgutil.iter_modules(__path__)} -
                                   set(_FIRST) - {"testcases"})):
    _export(_name)
