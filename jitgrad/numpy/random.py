"""jitgrad.numpy.random: numpy's own ``numpy.random`` (the same global generator), for concrete
use, so that ``import jitgrad.numpy.random as npr`` replaces autograd's ``autograd.numpy.random``.
Its functions draw concrete numbers; called with traced arguments they say where traced random
numbers come from."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy.random as _npr

from jitgrad.core import Tracer
from jitgrad.errors import TracerError
from jitgrad.tree_util import tree_leaves

__all__ = list(_npr.__all__)


def _concrete_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for x in tree_leaves((args, kwargs)):
            if isinstance(x, Tracer):
                raise TracerError(
                    f"numpy.random.{fn.__name__} was called with a traced value {x.aval}: "
                    f"numpy's random numbers are concrete. Inside a transformed function, use "
                    f"jitgrad.random (explicit keys, as jax.random), or draw the numbers "
                    f"outside it and pass them in as an argument.")
        return fn(*args, **kwargs)
    return wrapper


def _export() -> None:
    for name in _npr.__all__:
        obj = getattr(_npr, name)
        globals()[name] = obj if isinstance(obj, type) else _concrete_only(obj)


_export()
