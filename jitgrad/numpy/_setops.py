"""Functions whose output shape depends on values (nonzero, argwhere, unique, the set
operations, compress, extract, trim_zeros): numpy's own on concrete arrays; on traced ones,
JAX's ``size=``/``fill_value=`` fix the shape (the first ``size`` results, padded)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.errors import ShapeError, TracerError, UnsupportedError
from jitgrad.numpy import _aval_of, _axis, _Tracer

__all__ = ["argwhere", "compress", "extract", "flatnonzero", "intersect1d", "nonzero",
           "setdiff1d", "setxor1d", "trim_zeros", "union1d", "unique", "unique_all",
           "unique_counts", "unique_inverse", "unique_values"]


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _traced(*args: Any) -> bool:
    return jnp._has_tracer(args)


def _need_size(size: Any, op: str) -> int:
    if size is None:
        raise TracerError(f"{op}: the output shape depends on the values of a traced array; "
                          f"give its length with size= (and the padding with fill_value=), as "
                          f"in JAX, or call {op} on concrete arrays outside the transformation")
    size = int(size)
    if size < 0:
        raise ShapeError(f"{op}: size must be non-negative, got {size}")
    return size


def _padded(r: Any, size: int | None, fill_value: Any, default: Any = 0) -> Any:
    """A concrete 1-d result cut or padded to ``size`` (JAX's rule for concrete inputs too)."""
    r = np.asarray(r)
    if size is None:
        return r
    if len(r) >= size:
        return r[:size]
    fill = default if fill_value is None else fill_value
    return np.concatenate([r, np.full((size - len(r),) + r.shape[1:], fill, r.dtype)])


def _first_where(mask: Any, values: Any, size: int, fill_value: Any, axis: int = 0
                 ) -> tuple[Any, Any]:
    """The first ``size`` slices of ``values`` along ``axis`` where the 1-d ``mask`` holds (in
    order), the rest ``fill_value``; and how many there are. A stable sort of ``not mask``
    moves the selected positions first."""
    n = _aval_of(mask).shape[0]
    order = jnp.argsort(jnp.astype(jnp.logical_not(mask), np.int8))
    if size > n:
        order = jnp.concatenate([order, jnp.zeros(size - n, _aval_of(order).dtype)])
    count = jnp.sum(mask)
    taken = jnp.take(values, order[:size], axis=axis) if n else \
        jnp.zeros(_aval_of(values).shape[:axis] + (size,) + _aval_of(values).shape[axis + 1:],
                  _aval_of(values).dtype)
    shape = [1] * len(_aval_of(taken).shape)
    shape[axis] = size
    valid = jnp.reshape(jnp.arange(size) < count, tuple(shape))
    if fill_value is None:  # the smallest of a sorted result
        fill_value = jnp.where(count > 0, taken[:1], jnp.zeros_like(taken[:1])) if size else 0
    return jnp.where(valid, taken, jnp.astype(fill_value, _aval_of(taken).dtype)), count


# ---------------------------------------------------------------------------------------------
# Positions of nonzero elements


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple[Any, ...]:
    """``numpy.nonzero``: the indices of the nonzero elements, one array per axis; traced
    arrays need JAX's ``size=`` (results padded with ``fill_value``, default 0, one value or
    one per axis).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: nonzero(a, size=3))(np.array([0.0, 2.0, 3.0, 0.0]))
    (array([1, 2, 0]),)
    """
    if not _traced(a):
        out = np.nonzero(a)
        fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * len(out)
        return tuple(_padded(o, size, f) for o, f in zip(out, fills, strict=True))
    size = _need_size(size, "nonzero")
    shape = _aval_of(a).shape
    if not shape:
        raise ShapeError("nonzero: calling nonzero on 0d arrays is not allowed; use "
                         "jnp.atleast_1d(a).nonzero() (numpy raises too)")
    flat = jnp.not_equal(jnp.ravel(a), 0)
    pos, count = _first_where(flat, jnp.arange(flat.shape[0]), size, 0)
    valid = jnp.arange(size) < count
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * len(shape)
    if len(fills) != len(shape):
        raise ShapeError(f"nonzero: fill_value must be a scalar or a tuple of length "
                         f"{len(shape)}, got {fill_value!r}")
    out = []
    stride = int(np.prod(shape, dtype=np.int64))
    for d, f in zip(shape, fills, strict=True):
        stride //= d
        idx = (pos // stride) % d
        out.append(idx if f is None else jnp.where(valid, idx, jnp.astype(f, np.int64)))
    return tuple(out)


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.argwhere``: one row of indices per nonzero element (traced: JAX's ``size=``,
    ``fill_value=``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: argwhere(a, size=2))(np.array([[0.0, 1.0], [2.0, 0.0]]))
    array([[0, 1],
           [1, 0]])
    """
    if not _traced(a):
        out = np.argwhere(a)
        if size is None:
            return out
        return np.stack([_padded(c, size, fill_value) for c in out.T], axis=-1) if \
            out.shape[1] else np.zeros((size, 0), out.dtype)
    if _aval_of(a).ndim == 0:
        return jnp.zeros((_need_size(size, "argwhere"), 0), np.int64)
    return jnp.stack(nonzero(a, size=size, fill_value=fill_value), axis=-1)


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.flatnonzero``: indices of the nonzero elements of the flattened array (traced:
    JAX's ``size=``, ``fill_value=``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: flatnonzero(a, size=3, fill_value=-1))(np.array([[0, 5], [7, 0]]))
    array([ 1,  2, -1])
    """
    if not _traced(a):
        return _padded(np.flatnonzero(a), size, fill_value)
    return nonzero(jnp.ravel(a), size=size, fill_value=fill_value)[0]


# ---------------------------------------------------------------------------------------------
# Selections


def compress(condition: Any, a: Any, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0, out: Any = None) -> Any:
    """``numpy.compress``: the slices of ``a`` along ``axis`` (None: the flattened array) where
    ``condition`` holds. Concrete conditions are static selections (differentiable in ``a``);
    traced ones need JAX's ``size=`` (padded with ``fill_value``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: compress([True, False, True], a))(np.array([1.0, 2.0, 3.0]))
    array([1., 3.])
    """
    if out is not None:
        raise UnsupportedError("compress: out= on traced arrays (results are new arrays)")
    if not _traced(condition, a):
        r = np.compress(condition, a, axis)
        if size is None:
            return r
        return np.moveaxis(_padded(np.moveaxis(r, 0 if axis is None else axis, 0), size,
                                   fill_value), 0, 0 if axis is None else axis)
    if axis is None:
        a, ax = jnp.ravel(a), 0
    else:
        ax = _axis(axis, _aval_of(a).ndim, "compress")
    n = _aval_of(a).shape[ax]
    cond = jnp.ravel(condition)
    m = _aval_of(cond).shape[0]
    if not isinstance(condition, _Tracer) and size is None:
        cond = np.asarray(cond, bool)
        if m > n and cond[n:].any():
            raise ShapeError(f"compress: condition selects index {int(np.argmax(cond[n:])) + n}"
                             f" beyond axis {ax} of length {n}")
        return jnp.take(a, np.flatnonzero(cond[:n]), axis=ax)
    size = _need_size(size, "compress")
    if m > n:
        cond = cond[:n]  # NB: a traced condition's selections beyond the axis are dropped
    elif m < n:
        cond = jnp.concatenate([cond, jnp.zeros(n - m, bool)])
    return _first_where(jnp.astype(cond, bool), a, size, fill_value, ax)[0]


def extract(condition: Any, arr: Any, *, size: int | None = None, fill_value: Any = 0) -> Any:
    """``numpy.extract``: the elements of ``arr`` where ``condition`` is nonzero (both
    flattened); traced conditions need JAX's ``size=`` (padded with ``fill_value``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: extract(a > 1.0, a, size=3))(np.array([1.0, 2.0, 3.0]))
    array([2., 3., 0.])
    """
    if not _traced(condition, arr):
        return _padded(np.extract(condition, arr), size, fill_value)
    if not isinstance(condition, _Tracer):  # a static selection
        return compress(np.ravel(condition) != 0, jnp.ravel(arr), size=size,
                        fill_value=fill_value)
    cond = jnp.not_equal(jnp.ravel(condition), 0)
    return compress(cond, jnp.ravel(arr), size=_need_size(size, "extract"),
                    fill_value=fill_value)


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """``numpy.trim_zeros`` on concrete arrays (numpy's own). A traced array is refused: how
    many zeros are trimmed depends on its values.

    >>> trim_zeros(np.array([0.0, 1.0, 0.0, 2.0, 0.0]))
    array([1., 0., 2.])
    """
    if _traced(filt):
        raise TracerError("trim_zeros: the output shape depends on the values of a traced "
                          "array; trim concrete arrays outside the transformation")
    return np.trim_zeros(filt, trim, axis)


# ---------------------------------------------------------------------------------------------
# unique and the set operations: sorted, then the first of each run of equal values


def _runs(s: Any, equal_nan: bool) -> Any:
    """Where a sorted 1-d array starts a new run of equal values (NaNs one run with
    ``equal_nan``, as numpy's)."""
    new = jnp.not_equal(s[1:], s[:-1])
    if equal_nan and _aval_of(s).dtype.kind == "f":
        new = jnp.logical_and(new, jnp.logical_not(jnp.isnan(s[1:]) & jnp.isnan(s[:-1])))
    return jnp.concatenate([jnp.ones(min(_aval_of(s).shape[0], 1), bool), new])


def _np_unique(ar: Any, return_index: bool, return_inverse: bool, return_counts: bool,
               axis: Any, equal_nan: bool, size: int | None, fill_value: Any) -> Any:
    out = np.unique(ar, return_index, return_inverse, return_counts, axis, equal_nan=equal_nan)
    if size is None:
        return out
    if axis is not None:
        raise UnsupportedError("unique: size= with axis= (as in JAX, unsupported)")
    out = list(out) if isinstance(out, tuple) else [out]
    values = out[0]
    out[0] = _padded(values, size, fill_value, values[0] if values.size else 0)
    k = 1
    if return_index:
        out[k] = _padded(out[k], size, 0)
        k += 1
    if return_inverse:
        k += 1
    if return_counts:
        out[k] = _padded(out[k], size, 0)
    return out[0] if len(out) == 1 else tuple(out)


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True) -> Any:  # noqa: A002
    """``numpy.unique`` of the flattened array, with the first indices, the inverse (shaped
    like ``ar``) and the counts on request; traced arrays need JAX's ``size=`` (values padded
    with ``fill_value``, default the smallest; indices and counts with 0). The values are
    differentiable.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: unique(a, size=4))(np.array([3.0, 1.0, 3.0]))
    array([1., 3., 1., 1.])
    """
    if not _traced(ar):
        return _np_unique(ar, return_index, return_inverse, return_counts, axis, equal_nan,
                          size, fill_value)
    size = _need_size(size, "unique")
    if axis is not None:
        raise UnsupportedError("unique: axis= on traced arrays (as in JAX's size= form, only "
                               "the flattened array)")
    flat = jnp.ravel(ar)
    n = _aval_of(flat).shape[0]
    perm = jnp.argsort(flat)
    s = jnp.take(flat, perm)
    start = _runs(s, equal_nan)
    values, count = _first_where(start, s, size, fill_value)
    out = [values]
    valid = jnp.arange(size) < count
    if return_index:
        out.append(_first_where(start, perm, size, 0)[0])
    if return_inverse:
        run = jnp.cumsum(start) - 1
        inv = jnp.at(jnp.zeros(n, np.int64))[perm].set(run)
        out.append(jnp.reshape(inv, _aval_of(ar).shape))
    if return_counts:
        begins = _first_where(start, jnp.arange(n), size, n)[0]
        ends = jnp.concatenate([begins[1:], jnp.full(min(size, 1), n)])
        out.append(jnp.where(valid, ends - begins, 0))
    return out[0] if len(out) == 1 else tuple(out)


def unique_values(x: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.unique_values`` (the array API's): the distinct values.

    NB: sorted, as JAX's and ``numpy.unique``'s (NumPy 2.3+ may return them in any order).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: unique_values(a, size=2))(np.array([2, 1, 2]))
    array([1, 2])
    """
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x: Any, *, size: int | None = None, fill_value: Any = None
                  ) -> UniqueCountsResult:
    """``numpy.unique_counts``: the distinct values and how often each occurs.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: unique_counts(a, size=2))(np.array([2, 1, 2])).counts
    array([1, 2])
    """
    return UniqueCountsResult(*unique(x, return_counts=True, size=size, fill_value=fill_value))


def unique_inverse(x: Any, *, size: int | None = None, fill_value: Any = None
                   ) -> UniqueInverseResult:
    """``numpy.unique_inverse``: the distinct values and, for each element of ``x``, the index
    of its value among them.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: unique_inverse(a, size=2))(np.array([2, 1, 2])).inverse_indices
    array([1, 0, 1])
    """
    return UniqueInverseResult(*unique(x, return_inverse=True, size=size,
                                       fill_value=fill_value))


def unique_all(x: Any, *, size: int | None = None, fill_value: Any = None) -> UniqueAllResult:
    """``numpy.unique_all``: distinct values, first indices, inverse indices and counts.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: unique_all(a, size=2))(np.array([2, 1, 2])).indices
    array([1, 0])
    """
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True,
                                   return_counts=True, size=size, fill_value=fill_value))


def _sorted_both(ar1: Any, ar2: Any) -> tuple[Any, Any]:
    """Both arrays flattened and sorted, in their common dtype."""
    dtype = jnp.result_type(ar1, ar2)
    return tuple(jnp.sort(jnp.astype(jnp.ravel(a), dtype)) for a in (ar1, ar2))


def union1d(ar1: Any, ar2: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.union1d``: the sorted distinct values of either array (traced: JAX's
    ``size=``, ``fill_value=``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: union1d(a, b, size=4))(np.array([1, 3]), np.array([3, 2]))
    array([1, 2, 3, 1])
    """
    if not _traced(ar1, ar2):
        r = np.union1d(ar1, ar2)
        return _padded(r, size, fill_value, r[0] if r.size else 0)
    return unique(jnp.concatenate([jnp.ravel(ar1), jnp.ravel(ar2)]),
                  size=_need_size(size, "union1d"), fill_value=fill_value)


def _set_result(keep: Any, s: Any, size: int, fill_value: Any) -> Any:
    return _first_where(keep, s, size, fill_value)[0]


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False,
                *, size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.intersect1d``: the sorted distinct values in both arrays (traced: JAX's
    ``size=``, ``fill_value=``; ``return_indices`` concrete only).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: intersect1d(a, b, size=2))(np.array([1, 3, 4]),
    ...                                                      np.array([4, 2, 1]))
    array([1, 4])
    """
    if not _traced(ar1, ar2):
        r = np.intersect1d(ar1, ar2, assume_unique, return_indices)
        if size is None:
            return r
        if return_indices:
            raise UnsupportedError("intersect1d: size= with return_indices=True")
        return _padded(r, size, fill_value, r[0] if r.size else 0)
    size = _need_size(size, "intersect1d")
    if return_indices:
        raise UnsupportedError("intersect1d: return_indices=True on traced arrays; call it on "
                               "concrete arrays")
    s1, s2 = _sorted_both(ar1, ar2)
    keep = _runs(s1, False) & jnp.isin(s1, s2)
    return _set_result(keep, s1, size, fill_value)


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None) -> Any:
    """``numpy.setdiff1d``: the sorted distinct values of ``ar1`` not in ``ar2`` (traced:
    JAX's ``size=``, ``fill_value=``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: setdiff1d(a, b, size=2))(np.array([1, 3, 4]), np.array([3]))
    array([1, 4])
    """
    if not _traced(ar1, ar2):
        r = np.setdiff1d(ar1, ar2, assume_unique)
        return _padded(r, size, fill_value, r[0] if r.size else 0)
    size = _need_size(size, "setdiff1d")
    s1, s2 = _sorted_both(ar1, ar2)
    keep = _runs(s1, True) & jnp.isin(s1, s2, invert=True)
    return _set_result(keep, s1, size, fill_value)


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None) -> Any:
    """``numpy.setxor1d``: the sorted values in exactly one of the arrays (traced: JAX's
    ``size=``, ``fill_value=``).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: setxor1d(a, b, size=3))(np.array([1, 3, 4]),
    ...                                                   np.array([3, 5]))
    array([1, 4, 5])
    """
    if not _traced(ar1, ar2):
        r = np.setxor1d(ar1, ar2, assume_unique)
        return _padded(r, size, fill_value, r[0] if r.size else 0)
    size = _need_size(size, "setxor1d")
    s1, s2 = _sorted_both(ar1, ar2)
    s = jnp.sort(jnp.concatenate([s1, s2]))
    only1 = _runs(s1, True) & jnp.isin(s1, s2, invert=True)
    only2 = _runs(s2, True) & jnp.isin(s2, s1, invert=True)
    keep = jnp.concatenate([only1, only2])
    both = jnp.concatenate([s1, s2])
    # the kept values, in sorted order: sort the candidates with the dropped ones last
    order = jnp.argsort(jnp.where(keep, both, jnp.max(s) if _aval_of(s).shape[0] else 0))
    return _set_result(jnp.take(keep, order), jnp.take(both, order), size, fill_value)
