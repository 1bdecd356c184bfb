"""Sorting, order statistics and scans: sort, argsort, partition, argpartition, median,
quantile, percentile, cumprod and the running maximum/minimum (``maximum.accumulate``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.errors import JitgradIndexError, JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.numpy import (
    _aval_of,
    _axes,
    _axis,
    _cast,
    _examples,
    _is_float,
    _numpy_when_concrete,
    _sum_dtype,
    _Tracer,
    add,
    divide,
    floor,
    isnan,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    ravel,
    subtract,
    sum,
    where,
)
from jitgrad.numpy._index import take, take_along_axis
from jitgrad.numpy._shape import flip

__all__ = ["argpartition", "argsort", "cumprod", "lexsort", "median", "nanmedian",
           "nanpercentile", "nanquantile", "partition", "percentile", "quantile", "sort"]


def _sort_axis(a: Any, axis: Any, op: str) -> tuple[Any, int]:
    """The array and the axis to sort along (None: the flattened array)."""
    if axis is None:
        return ravel(a), 0
    return a, _axis(axis, _aval_of(a).ndim, op)


def _no_order(order: Any, op: str) -> None:
    if order is not None:
        raise UnsupportedError(f"{op}: order= (sorting structured arrays by field)")


# ---------------------------------------------------------------------------------------------
# sort, argsort, partition, argpartition


def _np_sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
             stable: bool = True, descending: bool = False) -> Any:
    out = np.sort(a, axis=axis, kind=kind, order=order)
    return np.flip(out, -1 if axis is None else axis) if descending else out


@_numpy_when_concrete(_np_sort)
def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: bool = True,
         descending: bool = False) -> Any:
    """``numpy.sort`` along ``axis`` (None: the flattened array), NaNs last, with JAX's
    ``descending`` (the ascending result reversed: NaNs first). ``kind`` and ``stable`` do
    not change sorted values. The derivative routes each tangent through the sorting
    permutation (ties: see ``argsort``)."""
    _no_order(order, "sort")
    a, ax = _sort_axis(a, axis, "sort")
    out = P.sort(a, ax)
    return flip(out, ax) if descending else out


def _np_argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
                stable: bool = True, descending: bool = False) -> Any:
    if kind is None and stable:
        kind = "stable"
    if not descending:
        return np.argsort(a, axis=axis, kind=kind, order=order)
    a = np.ravel(a) if axis is None else np.asarray(a)
    ax = -1 if axis is None else axis
    flipped = np.argsort(np.flip(a, ax), axis=ax, kind=kind, order=order)
    return np.flip(a.shape[ax] - 1 - flipped, ax)


@_numpy_when_concrete(_np_argsort)
def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
            stable: bool = True, descending: bool = False) -> Any:
    """``numpy.argsort`` (int64 indices, no gradient), stable as in JAX: tied elements keep
    their order, NaNs go last. NB: numpy's default ``kind`` (quicksort) is not stable; this
    always returns the stable order, which is also a valid quicksort result. ``descending``
    (JAX's) keeps tied elements in their order too."""
    _no_order(order, "argsort")
    a, ax = _sort_axis(a, axis, "argsort")
    if not descending:
        return P.argsort(a, ax)
    n = _aval_of(a).shape[ax]
    return flip(subtract(np.int64(n - 1), P.argsort(flip(a, ax), ax)), ax)


@_numpy_when_concrete(np.lexsort, sequences=1)
def lexsort(keys: Any, axis: int = -1) -> Any:
    """``numpy.lexsort``: the indices that sort by the last key, ties broken by the one before
    it, and so on (stable argsorts, least significant key first; NaNs last). Integer
    results, no gradient.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: lexsort([a, b]))(np.array([2.0, 1.0, 0.0]),
    ...                                          np.array([1.0, 0.0, 1.0]))
    array([1, 2, 0])
    """
    keys = list(keys)
    if not keys:
        raise ShapeError("lexsort: need sequence of keys with len > 0")
    shapes = {_aval_of(k).shape for k in keys}
    if len(shapes) != 1:
        raise ShapeError(f"lexsort: all keys need to be the same shape, got {sorted(shapes)}")
    perm = argsort(keys[0], axis)
    for k in keys[1:]:
        perm = take_along_axis(perm, argsort(take_along_axis(k, perm, axis), axis), axis)
    return perm


def _check_kth(kth: Any, n: int, op: str) -> None:
    """numpy's checks of ``kth`` (concrete integers within the axis)."""
    if isinstance(kth, _Tracer):
        raise JitgradTypeError(f"{op}: kth must be concrete integers, not a traced value")
    kth = np.asarray(kth)
    if not np.issubdtype(kth.dtype, np.integer) or kth.ndim > 1:
        raise JitgradTypeError(f"{op}: kth must be an integer or a sequence of integers, got "
                               f"{kth!r}")
    bad = kth[(kth < -n) | (kth >= n)]
    if bad.size:
        raise ShapeError(f"{op}: kth(={int(bad[0])}) out of bounds ({n})")


@_numpy_when_concrete(np.partition)
def partition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect", order: Any = None
              ) -> Any:
    """``numpy.partition``: each ``kth`` element in its sorted place, smaller ones before it
    and larger ones after. NB: numpy leaves the order within each side unspecified; here the
    array is sorted (a valid partition for every ``kth``), so the sides may be ordered
    differently from numpy's."""
    _no_order(order, "partition")
    a, ax = _sort_axis(a, axis, "partition")
    _check_kth(kth, _aval_of(a).shape[ax], "partition")
    return P.sort(a, ax)


@_numpy_when_concrete(np.argpartition)
def argpartition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
                 order: Any = None) -> Any:
    """``numpy.argpartition``, as the stable ``argsort`` (NB: a valid partition, ordered within
    each side, where numpy leaves that order unspecified)."""
    _no_order(order, "argpartition")
    a, ax = _sort_axis(a, axis, "argpartition")
    _check_kth(kth, _aval_of(a).shape[ax], "argpartition")
    return P.argsort(a, ax)


# ---------------------------------------------------------------------------------------------
# median, quantile, percentile: order statistics of the sorted array


def _sorted_first(a: Any, axis: Any, op: str) -> tuple[Any, tuple[int, ...]]:
    """``a`` with the reduced axes moved first, merged into one and sorted along it (as numpy
    reduces over several axes), and the reduced axes."""
    shape = _aval_of(a).shape
    axes = _axes(axis, len(shape), op)
    kept = [d for d in range(len(shape)) if d not in axes]
    n = int(np.prod([shape[d] for d in axes], dtype=np.int64))
    x = P.reshape(P.transpose(a, list(axes) + kept), (n,) + tuple(shape[d] for d in kept))
    return P.sort(x, 0), axes


def _row(s: Any, i: int) -> Any:
    """Row ``i`` of ``s`` (its first axis dropped)."""
    return take(s, i, axis=0)


def _with_nans(s: Any, result: Any) -> Any:
    """numpy's rule: where a slice holds a NaN (sorted last), the result is that NaN."""
    if not _is_float(_aval_of(s).dtype):
        return result
    last = _row(s, _aval_of(s).shape[0] - 1)
    return where(isnan(last), last, result)


def _keepdims(y: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """``y``, whose trailing axes are ``shape``'s kept axes, with the reduced ones as 1s."""
    lead = _aval_of(y).ndim - (len(shape) - len(axes))
    if not keepdims:
        return y
    return P.reshape(y, _aval_of(y).shape[:lead] + tuple(
        1 if i in axes else d for i, d in enumerate(shape)))


@_numpy_when_concrete(np.median)
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """``numpy.median`` over ``axis`` (an int, a tuple, or None for all): the middle element
    of the sorted values, or the mean of the two middle ones; NaN where a slice holds a NaN
    or is empty. Integers give float64. The gradient goes to the middle element(s)."""
    if out is not None:
        raise UnsupportedError("median: out= on traced arrays (results are new arrays)")
    dtype = _aval_of(a).dtype
    a = _cast(a, dtype if _is_float(dtype) else np.dtype(np.float64))
    shape = _aval_of(a).shape
    s, axes = _sorted_first(a, axis, "median")
    n = _aval_of(s).shape[0]
    if n == 0:  # numpy: the mean of an empty slice (with a RuntimeWarning)
        nan = np.asarray(np.nan, _aval_of(a).dtype)[()]
        return _keepdims(P.broadcast_in_dim(nan, _aval_of(s).shape[1:], ()), shape, axes,
                         keepdims)
    lo, hi = _row(s, (n - 1) // 2), _row(s, n // 2)
    mid = lo if n % 2 else divide(add(lo, hi), 2)
    return _keepdims(_with_nans(s, mid), shape, axes, keepdims)


def _valid_order_statistics(a: Any, axis: Any, op: str
                            ) -> tuple[Any, Any, Callable[[Any], Any], tuple[int, ...]]:
    """For the nan-functions: the sorted values (NaNs last), the number of non-NaN values in
    each slice (int64), a function gathering the order statistics at int64 indices of shape
    ``(..., *kept)`` (each slice's own), and the reduced axes."""
    s, axes = _sorted_first(a, axis, op)
    n, rest = _aval_of(s).shape[0], _aval_of(s).shape[1:]
    count = sum(logical_not(isnan(s)), axis=0)
    size = int(np.prod(rest, dtype=np.int64))
    offsets = np.arange(size, dtype=np.int64).reshape(rest)

    def at(i: Any) -> Any:
        i = minimum(maximum(i, np.int64(0)), np.int64(max(n - 1, 0)))
        return P.gather_flat(s, add(multiply(i, np.int64(size)), offsets))
    return s, count, at, axes


@_numpy_when_concrete(np.nanmedian)
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """``numpy.nanmedian``: the median of the non-NaN values over ``axis`` (NaN where a slice
    has none); integers give ``median``'s float64. The gradient goes to the middle
    element(s), nothing to the NaNs."""
    if out is not None:
        raise UnsupportedError("nanmedian: out= on traced arrays (results are new arrays)")
    if not _is_float(_aval_of(a).dtype):
        return median(a, axis=axis, keepdims=keepdims)
    shape = _aval_of(a).shape
    _, count, at, axes = _valid_order_statistics(a, axis, "nanmedian")
    lo, hi = at((count - 1) // 2), at(count // 2)
    nan = np.asarray(np.nan, _aval_of(a).dtype)[()]
    mid = where(count > 0, divide(add(lo, hi), 2), nan)
    return _keepdims(mid, shape, axes, keepdims)


def _quantile(a: Any, q: Any, axis: Any, keepdims: bool, weak_q: bool, op: str) -> Any:
    """numpy's ``_quantile`` for the default 'linear' method (Hyndman & Fan's definition 7):
    the order statistics at floor and ceil of ``(n - 1) q``, interpolated with numpy's
    two-sided formula; ``q``'s axes come first."""
    if _aval_of(a).dtype == np.bool_:
        raise JitgradTypeError(f"{op}: boolean arrays have no quantiles (numpy raises too); "
                               f"convert them to numbers first")
    shape = _aval_of(a).shape
    s, axes = _sorted_first(a, axis, op)
    n = _aval_of(s).shape[0]
    if n == 0:
        raise JitgradIndexError(f"{op}: index -1 is out of bounds for axis 0 with size 0 (no "
                                f"elements to take a quantile of)")
    virtual = multiply(n - 1, q)
    if not _is_float(_aval_of(virtual).dtype):  # integer q: the order statistic itself
        result = take(s, virtual, axis=0, mode="clip")
        return _keepdims(_with_nans(s, result), shape, axes, keepdims)
    # numpy's _get_indexes: above the last element both neighbours are the last (index -1),
    # below the first both are the first, NaN positions read the last; gamma is measured
    # from the (so modified) lower index.
    last = logical_or(virtual >= n - 1, isnan(virtual))
    lower = where(last, -1.0, where(virtual < 0, 0.0, floor(virtual)))
    upper = where(last, -1.0, where(virtual < 0, 0.0, add(floor(virtual), 1.0)))
    gamma = _cast(subtract(virtual, lower), _aval_of(virtual).dtype)
    lo = take(s, _cast(lower, np.dtype(np.int64)), axis=0, mode="wrap")
    hi = take(s, _cast(upper, np.dtype(np.int64)), axis=0, mode="wrap")
    if weak_q:
        gamma = float(gamma)
    else:
        gamma = P.reshape(gamma, _aval_of(gamma).shape + (1,) * (len(shape) - len(axes))) \
            if isinstance(gamma, _Tracer) else np.reshape(
                gamma, np.shape(gamma) + (1,) * (len(shape) - len(axes)))
    diff = subtract(hi, lo)
    from_lo, from_hi = add(lo, multiply(diff, gamma)), subtract(hi, multiply(diff, 1 - gamma))
    if weak_q:
        result = from_hi if gamma >= 0.5 else from_lo
    else:
        result = where(gamma >= 0.5, from_hi, from_lo)
    return _keepdims(_with_nans(s, result), shape, axes, keepdims)


def _nanquantile(a: Any, q: Any, axis: Any, keepdims: bool, weak_q: bool, op: str) -> Any:
    """``_quantile`` of each slice's non-NaN values (numpy's nanquantile: its 'linear' method
    over the count of those), NaN where a slice has none; ``q``'s axes come first."""
    if not _is_float(_aval_of(a).dtype):  # no NaNs (numpy too takes the plain quantile)
        return _quantile(a, q, axis, keepdims, weak_q, op)
    shape, dtype = _aval_of(a).shape, _aval_of(a).dtype
    _, count, at, axes = _valid_order_statistics(a, axis, op)
    extra = (1,) * _aval_of(count).ndim
    q = P.reshape(q, _aval_of(q).shape + extra) if isinstance(q, _Tracer) else \
        np.reshape(q, np.shape(q) + extra)
    nan = np.asarray(np.nan, dtype)
    if not _is_float(_aval_of(q).dtype):  # integer q: the order statistic itself
        return _keepdims(where(count > 0, at(multiply(subtract(count, 1), q)), nan), shape,
                         axes, keepdims)
    # numpy's _get_indexes, per slice: at or above the last valid element both neighbours
    # are the last, below the first both are the first; gamma from the lower index. The
    # indices are computed in q's dtype (a Python q: float64), as numpy computes them.
    qdtype = _aval_of(q).dtype
    top = _cast(subtract(count, 1), qdtype)
    virtual = multiply(top, q)
    last, below = logical_or(virtual >= top, isnan(virtual)), virtual < 0
    lower = where(last, top, where(below, np.asarray(0, qdtype), floor(virtual)))
    upper = where(logical_or(last, below), lower, add(lower, np.asarray(1, qdtype)))
    gamma = subtract(virtual, lower)
    lo, hi = at(_cast(lower, np.dtype(np.int64))), at(_cast(upper, np.dtype(np.int64)))
    t, rest = gamma, subtract(1, gamma)
    if weak_q:  # numpy interpolates with a Python float: rounded to the array's dtype
        t, rest = _cast(t, dtype), _cast(rest, dtype)
    diff = subtract(hi, lo)
    result = where(gamma >= 0.5, subtract(hi, multiply(diff, rest)), add(lo, multiply(diff, t)))
    return _keepdims(where(count > 0, result, nan), shape, axes, keepdims)


def _quantile_front(np_fn: Callable[..., Any], scale: float, name: str) -> Callable[..., Any]:
    @_numpy_when_concrete(np_fn)
    def fn(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           method: str = "linear", keepdims: bool = False, *, weights: Any = None,
           interpolation: Any = None) -> Any:
        if out is not None:
            raise UnsupportedError(f"{name}: out= on traced arrays (results are new arrays)")
        if method != "linear" or weights is not None or interpolation is not None:
            raise UnsupportedError(f"{name}: only numpy's default method='linear' (unweighted) "
                                   f"is supported on traced arrays, got method={method!r}")
        weak_q = type(q) in (int, float)  # numpy: a Python number promotes weakly
        q = q if isinstance(q, _Tracer) else np.asarray(q)
        if _aval_of(q).ndim > 2:
            raise ShapeError(f"{name}: q must be a scalar or 1d")
        if scale != 1:
            q = divide(q, scale)
        if not isinstance(q, _Tracer) and q.size and not (q.min() >= 0 and q.max() <= 1):
            raise ShapeError(f"{name}: {'Percentiles' if scale != 1 else 'Quantiles'} must be "
                             f"in the range [0, {int(scale)}], got {q * scale}")
        return (_nanquantile if name.startswith("nan") else _quantile)(
            a, q, axis, keepdims, weak_q, name)
    fn.__name__ = fn.__qualname__ = name
    return fn


quantile = _quantile_front(np.quantile, 1, "quantile")
quantile.__doc__ = (
    """``numpy.quantile`` with numpy's default 'linear' method: the ``q``-th quantiles over
    ``axis`` (an int, a tuple, or None), ``q``'s axes first; ``q`` may be traced too (its
    derivative is the slope between the neighbouring order statistics). NaN where a slice
    holds a NaN. The result's dtype follows numpy's (float32 stays float32 for a Python
    float ``q``; integer arrays and integer ``q`` give the order statistic itself).""")
percentile = _quantile_front(np.percentile, 100, "percentile")
percentile.__doc__ = """``numpy.percentile``: ``quantile`` of ``q / 100``."""
nanquantile = _quantile_front(np.nanquantile, 1, "nanquantile")
nanquantile.__doc__ = (
    """``numpy.nanquantile``: ``quantile`` of each slice's non-NaN values (NaN where a slice
    has none); the NaNs get no gradient.""")
nanpercentile = _quantile_front(np.nanpercentile, 100, "nanpercentile")
nanpercentile.__doc__ = """``numpy.nanpercentile``: ``nanquantile`` of ``q / 100``."""


# ---------------------------------------------------------------------------------------------
# Scans


@_numpy_when_concrete(np.cumprod)
def cumprod(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """``numpy.cumprod`` (integers accumulate in int64, as ``prod``); its gradient is exact
    where elements are zero (no division)."""
    if axis is None:
        a, axis = ravel(a), 0
    return P.cumprod(_cast(a, _sum_dtype(a, dtype)), _axis(axis, _aval_of(a).ndim, "cumprod"))


def accumulate(name: str, prim_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numpy.<name>.accumulate`` (a running sum, product, maximum or minimum) along an
    axis, in the input's dtype (or ``dtype``), as ``prim_fn(x, axis)`` computes it."""
    np_ufunc = getattr(np, name)

    @_numpy_when_concrete(np_ufunc.accumulate)
    def fn(array: Any, axis: int = 0, dtype: Any = None, out: Any = None) -> Any:
        if out is not None:
            raise UnsupportedError(f"{name}.accumulate: out= on traced arrays (results are new "
                                   f"arrays)")
        x = _cast(array, np.dtype(dtype)) if dtype is not None else array
        if _aval_of(x).dtype == np.bool_ and name in ("add", "multiply"):
            raise UnsupportedError(f"{name}.accumulate of a boolean array (numpy's logical "
                                   f"or/and); convert it to a number type first")
        return prim_fn(x, _axis(axis, _aval_of(x).ndim, f"{name}.accumulate"))
    fn.__name__ = fn.__qualname__ = "accumulate"
    fn.__doc__ = (f"``numpy.{name}.accumulate`` along ``axis`` (default 0), in the input's "
                  f"dtype; derivatives as for cumsum, cumprod and the running extrema (ties "
                  f"share).")
    return fn


_examples.attach(globals(), {
    'sort': (
        'lambda x: jnp.sort(x, axis=0)',
        'np.array([[3.0, 1.0], [2.0, 4.0]])',
        'array([[2., 1.],\n       [3., 4.]])'),
    'argsort': (
        'jnp.argsort',
        'np.array([3.0, 1.0, 2.0])',
        'array([1, 2, 0])'),
    'partition': (
        'lambda x: jnp.partition(x, 1)',
        'np.array([3.0, 1.0, 2.0])',
        'array([1., 2., 3.])'),
    'argpartition': (
        'lambda x: jnp.argpartition(x, 1)',
        'np.array([3.0, 1.0, 2.0])',
        'array([1, 2, 0])'),
    'median': (
        'lambda x: jnp.median(x, axis=1)',
        'np.array([[3.0, 1.0, 2.0], [4.0, 0.5, 1.0]])',
        'array([2., 1.])'),
    'quantile': (
        'lambda x: jnp.quantile(x, [0.25, 0.5])',
        'np.array([3.0, 1.0, 2.0, 4.0])',
        'array([1.75, 2.5 ])'),
    'percentile': (
        'lambda x: jnp.percentile(x, 90)',
        'np.array([3.0, 1.0, 2.0, 4.0])',
        'array(3.7)'),
    'nanmedian': (
        'lambda x: jnp.nanmedian(x, axis=1)',
        'np.array([[3.0, np.nan, 2.0], [4.0, 0.5, 1.0]])',
        'array([2.5, 1. ])'),
    'nanquantile': (
        'lambda x: jnp.nanquantile(x, [0.25, 0.5])',
        'np.array([3.0, np.nan, 1.0, 2.0, 4.0])',
        'array([1.75, 2.5 ])'),
    'nanpercentile': (
        'lambda x: jnp.nanpercentile(x, 90)',
        'np.array([3.0, 1.0, np.nan, 2.0, 4.0])',
        'array(3.7)'),
    'cumprod': (
        'jnp.cumprod',
        'np.array([2.0, 0.0, 3.0])',
        'array([2., 0., 0.])'),
})
