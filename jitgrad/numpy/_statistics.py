"""Counting and weighting reductions (count_nonzero, ptp, average, bincount) and ediff1d:
composites of the reductions, scatter-adds and slices, with numpy's result dtypes."""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from jitgrad.core import aval_of as _aval_of
from jitgrad.core import is_float as _is_float
from jitgrad.errors import JitgradTypeError, ShapeError, TracerError
from jitgrad.numpy import (
    _axes,
    _cast,
    _count,
    _numpy_when_concrete,
    _Tracer,
    asarray,
    broadcast_to,
    concatenate,
    divide,
    expand_dims,
    logical_or,
    max,
    mean,
    min,
    multiply,
    not_equal,
    ravel,
    result_type,
    subtract,
    sum,
    where,
    zeros,
)
from jitgrad.numpy._at import at

__all__ = ["average", "bincount", "count_nonzero", "ediff1d", "ptp"]

ArrayLike = Any


@_numpy_when_concrete(np.count_nonzero)
def count_nonzero(a: ArrayLike, axis: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.count_nonzero`` (an integer result, no gradient).

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: count_nonzero(x, axis=0))(np.array([[0.0, 1.0], [2.0, 0.0]]))
    array([1, 1])
    """
    return sum(not_equal(a, 0), axis=axis, dtype=np.intp, keepdims=keepdims)


@_numpy_when_concrete(np.ptp)
def ptp(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """``numpy.ptp``: ``max - min`` (integers wrap as numpy's); the gradient goes to the
    extreme elements, shared among ties."""
    if _aval_of(a).dtype == np.bool_:
        raise JitgradTypeError("ptp: boolean arrays cannot be subtracted (numpy raises too); "
                               "convert them to numbers first")
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


@_numpy_when_concrete(np.average)
def average(a: ArrayLike, axis: Any = None, weights: ArrayLike = None, returned: bool = False,
            *, keepdims: bool = False) -> Any:
    """``numpy.average``: ``sum(a * w, axis) / sum(w, axis)``; 1-d weights along a single
    ``axis``; ``returned`` adds the sum of the weights. NB: traced weights summing to 0 give
    inf or NaN, where numpy raises ZeroDivisionError (a traced value cannot decide it).

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: average(x, weights=np.array([1.0, 3.0])))(np.array([1.0, 2.0]))
    array(1.75)
    """
    shape = _aval_of(a).shape
    axes = _axes(axis, len(shape), "average")
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scl = np.asarray(_count(shape, axes), _aval_of(avg).dtype)
    else:
        w = asarray(weights)
        wshape = _aval_of(w).shape
        floats = _is_float(_aval_of(a).dtype)
        dtype = result_type(a, w) if floats else \
            np.result_type(_aval_of(a).dtype, _aval_of(w).dtype, np.float64)
        if wshape != shape:
            if axis is None:
                raise ShapeError(f"average: weights {wshape} differ from the array's shape "
                                 f"{shape}; axis must be given")
            if len(wshape) != len(axes) or wshape != tuple(shape[i] for i in axes):
                raise ShapeError(f"average: weights of shape {wshape} do not match the "
                                 f"array's shape {shape} along axis {axis}")
            w = expand_dims(w, [i for i in range(len(shape)) if i not in axes]) \
                if len(axes) < len(shape) else w
            w = broadcast_to(w, shape)
        w = _cast(w, dtype)
        scl = sum(w, axis=axes, keepdims=keepdims)
        avg = divide(sum(multiply(_cast(a, dtype), w), axis=axes, keepdims=keepdims), scl)
    if not returned:
        return avg
    return avg, broadcast_to(scl, _aval_of(avg).shape)


def _numpy_bincount(x: Any, weights: Any = None, minlength: int = 0, *,
                    length: int | None = None) -> np.ndarray:
    """numpy's bincount, with JAX's ``length=`` (the values in ``[0, length)`` counted)."""
    if length is None:
        return np.bincount(x, weights, minlength)
    x = np.asarray(x)
    keep = (x >= 0) & (x < length)
    w = None if weights is None else np.asarray(weights)[keep]
    return np.bincount(x[keep], w, minlength=length)


@_numpy_when_concrete(_numpy_bincount)
def bincount(x: ArrayLike, weights: ArrayLike = None, minlength: int = 0, *,
             length: int | None = None) -> Any:
    """``numpy.bincount``: how often each value of the non-negative integers ``x`` occurs
    (the sum of their ``weights``, float64). A traced ``x`` needs JAX's ``length=`` (the
    output's length, a shape); values outside ``[0, length)`` are dropped (NB: numpy raises
    for negative values). Differentiable in ``weights``.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: bincount(x, length=4))(np.array([0, 2, 2]))
    array([1, 0, 2, 0])
    """
    if _aval_of(x).dtype.kind not in "biu" or _aval_of(x).ndim != 1:
        raise JitgradTypeError(f"bincount: x must be a 1-d array of non-negative integers, got "
                               f"{_aval_of(x)}")
    minlength = operator.index(minlength)
    if length is None:
        if isinstance(x, _Tracer):
            raise TracerError("bincount: the output's length depends on the traced values of "
                              "x; pass length= (as in JAX)")
        xs = np.asarray(x)
        if xs.size and xs.min() < 0:
            raise ShapeError("bincount: x must be non-negative (numpy raises too)")
        length = builtins.max(int(xs.max()) + 1 if xs.size else 0, minlength)
    length = operator.index(length)
    if weights is None:
        out, values = zeros(length, np.intp), 1
    else:
        if _aval_of(weights).shape != _aval_of(x).shape:
            raise ShapeError(f"bincount: weights {_aval_of(weights).shape} and x "
                             f"{_aval_of(x).shape} differ in shape")
        out, values = zeros(length, np.float64), _cast(weights, np.dtype(np.float64))
    idx = _cast(x, np.dtype(np.intp))
    # Negative values are dropped as well as those past the end (not wrapped around).
    idx = where(logical_or(idx < 0, idx >= length), length, idx)
    return at(out)[idx].add(values, mode="drop")


@_numpy_when_concrete(np.ediff1d)
def ediff1d(ary: ArrayLike, to_end: ArrayLike = None, to_begin: ArrayLike = None) -> Any:
    """``numpy.ediff1d``: the differences of the flattened array, with ``to_begin`` and
    ``to_end`` (cast to its dtype) around them.

    >>> ediff1d(np.array([1, 3, 7]), to_begin=-9)
    array([-9,  2,  4])
    """
    flat = ravel(ary)
    dtype = _aval_of(flat).dtype
    def edge(extra: Any, name: str) -> list[Any]:
        if extra is None:
            return []
        extra = ravel(asarray(extra))
        if not np.can_cast(_aval_of(extra).dtype, dtype, "same_kind"):
            raise JitgradTypeError(f"ediff1d: {name} of dtype {_aval_of(extra).dtype} cannot "
                                   f"be cast to the array's {dtype} (numpy refuses it too)")
        return [_cast(extra, dtype)]

    parts = edge(to_begin, "to_begin") + [subtract(flat[1:], flat[:-1])] + edge(to_end, "to_end")
    return concatenate(parts) if len(parts) > 1 else parts[0]
