"""jitgrad.numpy.linalg: numpy.linalg's functions on traced arrays (so far the norms)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.core import Tracer
from jitgrad.core import aval_of as _aval_of
from jitgrad.errors import UnsupportedError
from jitgrad.numpy import _has_tracer, multiply, sqrt
from jitgrad.numpy import abs as _abs
from jitgrad.numpy import max as _max
from jitgrad.numpy import sum as _sum

__all__ = ["norm"]


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``numpy.linalg.norm`` for the Euclidean/Frobenius norm (``ord`` None, 2 for vectors,
    "fro" for matrices), 1 and inf for vectors.

    >>> import jitgrad as jg
    >>> jg.grad(norm)(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    """
    if not isinstance(x, Tracer) and not _has_tracer((ord, axis)):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    nd = _aval_of(x).ndim
    vector = (axis is None and nd == 1) or isinstance(axis, int) or (
        isinstance(axis, tuple) and len(axis) == 1)
    if ord in (None, "fro") or (ord == 2 and vector):
        return sqrt(_sum(multiply(x, x), axis=axis, keepdims=keepdims))
    if vector and ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    if vector and ord == np.inf:
        return _max(_abs(x), axis=axis, keepdims=keepdims)
    raise UnsupportedError(f"jnp.linalg.norm with ord={ord!r} (axis={axis!r}) on a traced "
                           f"array: only None/2/'fro', 1 and inf (vectors) are provided")


def __getattr__(name: str) -> Any:
    if hasattr(np.linalg, name):
        raise AttributeError(f"jitgrad.numpy.linalg does not provide numpy.linalg.{name} (yet)")
    raise AttributeError(f"module 'jitgrad.numpy.linalg' has no attribute {name!r}")
