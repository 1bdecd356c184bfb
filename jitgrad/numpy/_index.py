"""Selecting elements: take, take_along_axis, put_along_axis, diagonals and triangles, select
and nan_to_num, as gathers, scatters, strided slices and selects."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.numpy import (
    _aval_of,
    _axis,
    _broadcast_shapes,
    _broadcast_to_shape,
    _cast,
    _examples,
    _index_array,
    _numpy_when_concrete,
    _Tracer,
    expand_dims,
    ravel,
    result_type,
    where,
)
from jitgrad.numpy import sum as _sum
from jitgrad.numpy._shape import take_static

__all__ = ["diag", "diagflat", "diagonal", "make_diagonal", "nan_to_num", "put_along_axis",
           "select", "take", "take_along_axis", "trace", "tril", "triu"]


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _check_int(idx: Any, op: str) -> None:
    if not np.issubdtype(_aval_of(idx).dtype, np.integer):
        raise JitgradTypeError(f"{op}: indices must be integers, got {_aval_of(idx)}")


# ---------------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis


@_numpy_when_concrete(np.take)
def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str | None = None) -> Any:
    """``numpy.take`` with ``mode`` 'raise' (concrete indices are checked; traced ones wrap
    negatives and are clamped, NB: as in JAX), 'wrap' or 'clip'."""
    if out is not None:
        raise UnsupportedError("take: out= on traced arrays (results are new arrays)")
    if axis is None:
        a, axis = ravel(a), 0
    ax = _axis(axis, _aval_of(a).ndim, "take")
    n = _shape(a)[ax]
    mode = mode or "raise"
    if mode not in ("raise", "wrap", "clip"):
        raise ShapeError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if not isinstance(indices, _Tracer):
        indices = np.asarray(indices)
    _check_int(indices, "take")
    if n == 0 and _aval_of(indices).size:
        raise IndexError("take: cannot do a non-empty take from an empty axis")
    if isinstance(indices, _Tracer):
        if mode == "wrap":
            idx = P.mod(_cast(indices, np.dtype(np.int64)), np.int64(n))
        elif mode == "clip":
            idx = P.max_(indices, np.zeros((), indices.dtype)[()])
        else:
            idx = _index_array(indices, n, ax, _aval_of(a))
        return P.gather(a, idx, ax)
    if mode == "wrap":
        idx = indices % n if n else indices
    elif mode == "clip":
        idx = np.clip(indices, 0, max(n - 1, 0))
    else:
        idx = _index_array(indices, n, ax, _aval_of(a))
    idx = np.asarray(idx, np.int64)
    return take_static(a, idx, ax) if idx.ndim == 1 else P.gather(a, idx, ax)


def _positions(arr: Any, indices: Any, axis: Any, op: str) -> tuple[Any, Any]:
    """(arr flattened, the flat positions ``arr[..., indices, ...]`` reads along ``axis``),
    ``indices`` broadcast against ``arr`` off ``axis``. Concrete indices give concrete
    positions; traced ones wrap negatives and are clamped along ``axis`` (as indexing)."""
    if not isinstance(indices, _Tracer):
        indices = np.asarray(indices)
    _check_int(indices, op)
    if axis is None:
        if _aval_of(indices).ndim != 1:
            raise ShapeError(f"{op}: when axis=None, `indices` must have a single dimension")
        arr, axis = ravel(arr), 0
    sa, si = _shape(arr), _shape(indices)
    if len(sa) != len(si):
        raise ShapeError(f"{op}: `indices` {si} and `arr` {sa} must have the same number of "
                         f"dimensions")
    ax = _axis(axis, len(sa), op)
    off = [1 if d == ax else n for d, n in enumerate(sa)]
    full = list(_broadcast_shapes(op, np.empty(off), np.empty(
        [1 if d == ax else n for d, n in enumerate(si)])))
    full[ax] = si[ax]
    strides = [int(np.prod(sa[d + 1:], dtype=np.int64)) for d in range(len(sa))]
    offsets = np.zeros(off, np.int64)
    for d, n in enumerate(sa):
        if d != ax:
            offsets = offsets + np.arange(n).reshape(
                [n if e == d else 1 for e in range(len(off))]) * strides[d]
    n = sa[ax]
    if isinstance(indices, _Tracer):
        idx = _index_array(P.broadcast_in_dim(indices, full, range(len(si))), n, ax,
                           _aval_of(arr))
        flat = P.add(P.mul(idx, np.int64(strides[ax])),
                     P.broadcast_in_dim(offsets, full, range(len(full))))
    else:
        flat = _index_array(np.broadcast_to(indices, full), n, ax, _aval_of(arr)) * \
            strides[ax] + offsets
    return P.reshape(arr, (_aval_of(arr).size,)), flat


@_numpy_when_concrete(np.take_along_axis)
def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    """``numpy.take_along_axis``: one gather at flat positions (``arr`` and ``indices``
    broadcast against each other off ``axis``)."""
    flat_arr, flat = _positions(arr, indices, axis, "take_along_axis")
    return P.gather(flat_arr, flat, 0)


def _put_along_axis(arr: Any, indices: Any, values: Any, axis: Any, inplace: bool = True
                    ) -> Any:
    """numpy's in-place put_along_axis, or on a copy that is returned (inplace=False)."""
    if not inplace:
        arr = np.array(arr, copy=True)
    np.put_along_axis(arr, indices, values, axis)
    return None if inplace else arr


@_numpy_when_concrete(_put_along_axis)
def put_along_axis(arr: Any, indices: Any, values: Any, axis: Any, inplace: bool = True
                   ) -> Any:
    """``numpy.put_along_axis`` as JAX has it: ``inplace=False`` returns the updated array
    (traced arrays cannot be updated in place; concrete ones with ``inplace=True`` are
    numpy's call). Where several indices hit one position, the last value wins, as in
    numpy; traced indices out of range drop their value, as ``x.at[...].set`` does."""
    if inplace:
        raise UnsupportedError("put_along_axis on traced arrays: they cannot be updated in "
                               "place; pass inplace=False and use the returned array")
    flat_arr, flat = _positions(arr, indices, axis, "put_along_axis")
    dtype = _aval_of(arr).dtype
    vals = _cast(values if isinstance(values, _Tracer) else np.asarray(values), dtype)
    shape = _shape(flat)
    if _broadcast_shapes("put_along_axis", vals, flat) != shape:
        raise ShapeError(f"put_along_axis: values of shape {_shape(vals)} do not broadcast to "
                         f"the indexed shape {shape}")
    size = int(np.prod(shape, dtype=np.int64))
    vals = P.reshape(P.broadcast_in_dim(vals, shape, range(
        len(shape) - _aval_of(vals).ndim, len(shape))), (size,))
    if isinstance(indices, _Tracer):
        # NB: positions known only at run time: the scatter primitive's "set" keeps the last
        # write to each position; -1 (an index out of range) drops its value.
        n = _shape(arr)[_axis(axis, len(_shape(arr)), "put_along_axis")] if axis is not None \
            else _aval_of(flat_arr).size
        idx = _cast(indices, np.dtype(np.int64))
        inside = P.broadcast_in_dim(P.and_(P.ge(idx, np.int64(-n)), P.lt(idx, np.int64(n))),
                                    shape, range(len(shape) - _aval_of(indices).ndim,
                                                 len(shape)))
        out = P.scatter(flat_arr, P.reshape(P.select(inside, flat, np.int64(-1)), (size,)),
                        vals, "set")
        return P.reshape(out, _shape(arr))
    # The last write to each position wins: keep each position's last occurrence.
    positions, last = np.unique(flat.ravel()[::-1], return_index=True)
    picked = P.gather(vals, flat.size - 1 - last, 0)
    mask = np.zeros(_aval_of(flat_arr).size, bool)
    mask[positions] = True
    out = P.select(mask, P.scatter_add(picked, positions, 0, mask.size), flat_arr)
    return P.reshape(out, _shape(arr))


# ---------------------------------------------------------------------------------------------
# Diagonals and triangles


@_numpy_when_concrete(np.diagonal)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``numpy.diagonal``: the two axes merged, then one strided slice (no gather); the
    diagonal is the last axis."""
    shape = _shape(a)
    if len(shape) < 2:
        raise ShapeError(f"diagonal requires an array of at least two dimensions (got shape "
                         f"{shape})")
    a1, a2 = _axis(axis1, len(shape), "diagonal"), _axis(axis2, len(shape), "diagonal")
    if a1 == a2:
        raise ShapeError("diagonal: axis1 and axis2 cannot be the same")
    offset = operator.index(offset)
    others = [d for d in range(len(shape)) if d not in (a1, a2)]
    n1, n2 = shape[a1], shape[a2]
    size = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = (offset if offset >= 0 else -offset * n2) if size else 0
    lead = [shape[d] for d in others]
    x = P.reshape(P.transpose(a, others + [a1, a2]), lead + [n1 * n2])
    return P.slice_(x, [0] * len(lead) + [start], lead + [size],
                    [1] * len(lead) + [n2 + 1 if size else 1])


@_numpy_when_concrete(np.trace)
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    """``numpy.trace``: the sum of a diagonal (integer sums widen as ``sum``'s do)."""
    if out is not None:
        raise UnsupportedError("trace: out= on traced arrays (results are new arrays)")
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


@_numpy_when_concrete(np.diag)
def diag(v: Any, k: int = 0) -> Any:
    """``numpy.diag``: a 2-d array's ``k``-th diagonal, or a square array with a vector on
    its ``k``-th diagonal (a strided pad: no scatter)."""
    shape = _shape(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ShapeError(f"diag: input must be 1- or 2-d (got shape {shape})")
    k = operator.index(k)
    n = shape[0] + abs(k)
    start = k if k >= 0 else -k * n
    flat = P.pad(v, (n * n,), (start if shape[0] else 0,), (n + 1 if shape[0] else 1,))
    return P.reshape(flat, (n, n))


@_numpy_when_concrete(np.diagflat)
def diagflat(v: Any, k: int = 0) -> Any:
    """``numpy.diagflat``: ``diag`` of the flattened input."""
    return diag(ravel(v), k)


def make_diagonal(D: Any, offset: int = 0, axis1: int = -1, axis2: int = -2) -> Any:
    """autograd's ``numpy.make_diagonal``, the inverse of ``diagonal(x, 0, -1, -2)``: a stack
    of square matrices with ``D``'s last axis on their diagonals (shape ``D.shape + (n,)``);
    like autograd's, only for ``offset=0, axis1=-1, axis2=-2``."""
    if (offset, axis1, axis2) != (0, -1, -2):
        raise UnsupportedError(f"make_diagonal: only offset=0, axis1=-1, axis2=-2 are supported "
                               f"(as in autograd), got offset={offset}, axis1={axis1}, "
                               f"axis2={axis2}")
    shape = _shape(D)
    if not shape:
        raise ShapeError("make_diagonal: D must have at least one dimension, got a scalar")
    on = np.eye(shape[-1], dtype=bool)
    return where(on, expand_dims(D, -1), np.zeros((), _aval_of(D).dtype))


def _triangle(m: Any, keep: np.ndarray) -> Any:
    return where(keep, m, np.zeros((), _aval_of(m).dtype))


@_numpy_when_concrete(np.tril)
def tril(m: Any, k: int = 0) -> Any:
    """``numpy.tril``: zeros above the ``k``-th diagonal of the last two axes."""
    shape = _shape(m)
    if not shape:
        raise ShapeError("tril: input must be at least 1-d")
    return _triangle(m, np.tri(*shape[-2:], k=operator.index(k), dtype=bool))


@_numpy_when_concrete(np.triu)
def triu(m: Any, k: int = 0) -> Any:
    """``numpy.triu``: zeros below the ``k``-th diagonal of the last two axes."""
    shape = _shape(m)
    if not shape:
        raise ShapeError("triu: input must be at least 1-d")
    return _triangle(m, ~np.tri(*shape[-2:], k=operator.index(k) - 1, dtype=bool))


# ---------------------------------------------------------------------------------------------
# select, nan_to_num


@_numpy_when_concrete(np.select, sequences=2)
def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """``numpy.select``: where the first true condition says, its choice; else ``default``."""
    condlist = list(condlist)
    choicelist = [x if isinstance(x, _Tracer) or type(x) in (int, float, complex)
                  else np.asarray(x) for x in choicelist]
    if len(condlist) != len(choicelist):
        raise ShapeError("select: list of cases must be same length as list of conditions")
    if not condlist:
        raise ShapeError("select with an empty condition list is not possible")
    for i, c in enumerate(condlist):
        if _aval_of(c).dtype != np.bool_:
            raise JitgradTypeError(f"select: invalid entry {i} in condlist: should be boolean "
                                   f"(got {_aval_of(c)})")
    dtype = result_type(*choicelist, default)
    shape = _broadcast_shapes("select", *condlist, *choicelist, default)
    default = _cast(default, dtype)
    out = P.broadcast_in_dim(default, shape, range(len(shape) - _aval_of(default).ndim,
                                                   len(shape)))
    for cond, choice in reversed(list(zip(condlist, choicelist, strict=True))):
        out = P.select(_broadcast_to_shape(cond, shape),
                       _broadcast_to_shape(_cast(choice, dtype), shape), out)
    return out


@_numpy_when_concrete(np.nan_to_num)
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    """``numpy.nan_to_num``: NaN, +inf and -inf replaced (by default with 0 and the dtype's
    largest and smallest values); the derivative is 1 where ``x`` is finite, else 0."""
    dtype = _aval_of(x).dtype
    if not np.issubdtype(dtype, np.floating):
        return x
    info = np.finfo(dtype)
    subs = [(P.ne(x, x), nan),
            (P.eq(x, np.asarray(np.inf, dtype)[()]), info.max if posinf is None else posinf),
            (P.eq(x, np.asarray(-np.inf, dtype)[()]), info.min if neginf is None else neginf)]
    for pred, value in subs:
        value = _cast(value, dtype) if isinstance(value, _Tracer) else \
            np.asarray(value).astype(dtype)[()]
        x = P.select(pred, P.broadcast_in_dim(value, _shape(x), range(_aval_of(value).ndim)),
                     x)
    return x


# Runnable examples: the compiled function and numpy's result for the same call.
_examples.attach(globals(), {
    'take': (
        'lambda x: jnp.take(x, [2, 0, 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([3., 1., 3.])'),
    'take_along_axis': (
        'lambda x: jnp.take_along_axis(x, np.array([[1], [0]]), axis=1)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[2.],\n       [3.]])'),
    'put_along_axis': (
        'lambda x: jnp.put_along_axis(x, np.array([[1], [0]]), 0.0, axis=1, inplace=False)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 0.],\n       [0., 4.]])'),
    'diagonal': (
        'jnp.diagonal',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([1., 4.])'),
    'trace': (
        'jnp.trace',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array(5.)'),
    'diag': (
        'jnp.diag',
        'np.array([1.0, 2.0])',
        'array([[1., 0.],\n       [0., 2.]])'),
    'make_diagonal': (
        'jnp.make_diagonal',
        'np.array([1.0, 2.0])',
        'array([[1., 0.],\n       [0., 2.]])'),
    'diagflat': (
        'lambda x: jnp.diagflat(x, 1)',
        'np.array([1.0, 2.0])',
        'array([[0., 1., 0.],\n       [0., 0., 2.],\n       [0., 0., 0.]])'),
    'tril': (
        'jnp.tril',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 0.],\n       [3., 4.]])'),
    'triu': (
        'jnp.triu',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 2.],\n       [0., 4.]])'),
    'select': (
        'lambda x: jnp.select([x < 1.5, x > 2.5], [-x, x * 10], 0.0)',
        'np.array([1.0, 2.0, 3.0])',
        'array([-1.,  0., 30.])'),
    'nan_to_num': (
        'lambda x: jnp.nan_to_num(x / (x - 2.0), posinf=9.0)',
        'np.array([1.0, 2.0, 3.0])',
        'array([-1.,  9.,  3.])'),
})
