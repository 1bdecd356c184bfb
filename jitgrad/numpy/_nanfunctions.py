"""numpy's NaN-ignoring reductions and scans (nansum, nanmean, nanmax, nanargmax, nancumsum,
...): the reduction of the array with its NaNs replaced by the operation's identity, so the
NaNs receive no gradient; a slice of NaNs only gives numpy's value (NaN, or 0 for sums),
without numpy's warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.numpy import (
    _aval_of,
    _axes,
    _cast,
    _is_float,
    _keep,
    _numpy_when_concrete,
    argmax,
    argmin,
    cumsum,
    divide,
    equal,
    isnan,
    logical_not,
    max,
    mean,
    min,
    multiply,
    prod,
    sqrt,
    subtract,
    sum,
    where,
)
from jitgrad.numpy._sorting import cumprod
from jitgrad.numpy._ufuncs import all

__all__ = ["nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmin",
           "nanprod", "nanstd", "nansum", "nanvar"]

ArrayLike = Any


def _replaced(a: Any, value: float) -> Any:
    """``a`` with its NaNs replaced by ``value`` (integer and boolean arrays have none)."""
    if not _is_float(_aval_of(a).dtype):
        return a
    return where(isnan(a), np.asarray(value, _aval_of(a).dtype), a)


def _nan(a: Any) -> np.generic:
    return np.asarray(np.nan, _aval_of(a).dtype)[()]


@_numpy_when_concrete(np.nansum)
def nansum(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """``numpy.nansum``: NaNs count as 0 (a slice of NaNs sums to 0).

    >>> import jitgrad
    >>> jitgrad.grad(nansum)(np.array([1.0, np.nan]))
    array([1., 0.])
    """
    return sum(_replaced(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims)


@_numpy_when_concrete(np.nanprod)
def nanprod(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """``numpy.nanprod``: NaNs count as 1."""
    return prod(_replaced(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims)


def _count(a: Any, axis: Any, keepdims: bool) -> Any:
    """The number of non-NaN elements over ``axis``, as a float64 array."""
    return sum(_cast(logical_not(isnan(a)), np.dtype(np.float64)), axis=axis, keepdims=keepdims)


@_numpy_when_concrete(np.nanmean)
def nanmean(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """``numpy.nanmean``: the mean of the non-NaN values (NaN for a slice of NaNs).

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: nanmean(x, axis=1))(np.array([[np.nan, np.nan], [1.0, np.nan]]))
    array([nan,  1.])
    """
    if not _is_float(_aval_of(a).dtype):
        return mean(a, axis=axis, dtype=dtype, keepdims=keepdims)
    if dtype is not None:
        a = _cast(a, np.dtype(dtype))
    n = _cast(_count(a, axis, keepdims), _aval_of(a).dtype)
    total = nansum(a, axis=axis, keepdims=keepdims)
    none = equal(n, 0)
    return where(none, _nan(a), divide(total, where(none, 1, n)))


@_numpy_when_concrete(np.nanvar)
def nanvar(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """``numpy.nanvar``: the variance of the non-NaN values, NaN where they number ``ddof``
    or fewer."""
    if not _is_float(_aval_of(a).dtype) or dtype is not None:
        a = _cast(a, np.dtype(dtype or np.float64))
    centered = where(isnan(a), 0, subtract(a, nanmean(a, axis=axis, keepdims=True)))
    squares = sum(multiply(centered, centered), axis=axis, keepdims=keepdims)
    dof = subtract(_cast(_count(a, axis, keepdims), _aval_of(a).dtype), ddof)
    bad = dof <= 0
    return where(bad, _nan(a), divide(squares, where(bad, 1, dof)))


@_numpy_when_concrete(np.nanstd)
def nanstd(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """``numpy.nanstd``: ``sqrt(nanvar)``, with ``std``'s derivative 0 where the variance is
    0."""
    v = nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    zero = equal(v, 0)
    return where(zero, 0, sqrt(where(zero, 1, v)))


def _extremum(name: str, reduce: Callable[..., Any], fill: float) -> Callable[..., Any]:
    np_fn = getattr(np, name)

    @_numpy_when_concrete(np_fn)
    def fn(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
        if not _is_float(_aval_of(a).dtype):
            return reduce(a, axis=axis, keepdims=keepdims)
        out = reduce(_replaced(a, fill), axis=axis, keepdims=keepdims)
        return where(all(isnan(a), axis=axis, keepdims=keepdims), _nan(a), out)

    fn.__name__ = name
    fn.__doc__ = (f"``numpy.{name}``: the {name[3:]}imum of the non-NaN values (NaN for a "
                  f"slice of NaNs); the gradient is shared among ties, none goes to NaNs.")
    return fn


nanmax = _extremum("nanmax", max, -np.inf)
nanmin = _extremum("nanmin", min, np.inf)


def _arg(name: str, arg: Callable[..., Any], fill: float) -> Callable[..., Any]:
    np_fn = getattr(np, name)

    @_numpy_when_concrete(np_fn)
    def fn(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
        if not _is_float(_aval_of(a).dtype):
            out = arg(a, axis=axis)
        else:
            # NB: a slice of NaNs gives -1 (as JAX): numpy raises ValueError, which a traced
            # value cannot decide.
            out = where(all(isnan(a), axis=axis), np.intp(-1), arg(_replaced(a, fill), axis))
        if not keepdims:
            return out
        shape = _aval_of(a).shape
        axes = _axes(axis, len(shape), name)
        return _keep(out, shape, axes, True)

    fn.__name__ = name
    fn.__doc__ = (f"``numpy.{name}`` ignoring NaNs (NaNs count as {fill}, as numpy's); -1 "
                  f"for a slice of NaNs, where numpy raises.")
    return fn


nanargmax = _arg("nanargmax", argmax, -np.inf)
nanargmin = _arg("nanargmin", argmin, np.inf)


@_numpy_when_concrete(np.nancumsum)
def nancumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    """``numpy.nancumsum``: NaNs count as 0."""
    return cumsum(_replaced(a, 0.0), axis=axis, dtype=dtype)


@_numpy_when_concrete(np.nancumprod)
def nancumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    """``numpy.nancumprod``: NaNs count as 1."""
    return cumprod(_replaced(a, 1.0), axis=axis, dtype=dtype)
