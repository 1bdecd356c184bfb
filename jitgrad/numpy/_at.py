"""Indexed updates, JAX style: ``x.at[idx].set(v)``, ``.add``, ``.multiply``, ``.min``, ...,
and ``ufunc.at``, as one scatter at flat positions computed from numpy's indexing rules."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.core import aval_of as _aval_of_any
from jitgrad.errors import JitgradIndexError, JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.numpy import (
    _aval_of,
    _cast,
    _expand_index,
    _index_array,
    _index_item,
    _is_float,
    _slice_params,
    _Tracer,
    add,
    asarray,
    broadcast_to,
    divide,
    getitem,
    logical_and,
    multiply,
    power,
    result_type,
    where,
)

__all__ = ["at"]

_MODES = (None, "drop", "fill", "clip", "promise_in_bounds")


def _strides(shape: tuple[int, ...]) -> list[int]:
    return [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]


def _placed(v: Any, at: int, ndim: int) -> Any:
    """``v`` with its axes at ``at, at + 1, ...`` of an ``ndim``-axis array (size 1 elsewhere),
    for broadcasting."""
    shape = (1,) * at + _aval_of(v).shape
    shape += (1,) * (ndim - len(shape))
    return P.reshape(v, shape) if isinstance(v, _Tracer) else np.reshape(v, shape)


def _axis_index(idx: Any, n: int, axis: int, aval: Any, mode: str | None) -> tuple[Any, Any]:
    """An index array along an axis of length ``n``, wrapped (negative from the end) and
    checked: (in-range index, validity or None when all are valid). Out-of-range entries
    raise (concrete, default mode), are dropped (traced default, 'drop', 'fill') or clamped
    ('clip', 'promise_in_bounds')."""
    if not isinstance(idx, _Tracer):
        idx = np.asarray(idx)
    if mode in ("clip", "promise_in_bounds"):
        if isinstance(idx, _Tracer):
            return _index_array(idx, n, axis, aval), None
        return np.clip(np.where(idx < 0, idx + n, idx), 0, builtins.max(n - 1, 0)), None
    if mode is None and not isinstance(idx, _Tracer):
        return _index_array(idx, n, axis, aval), None
    if isinstance(idx, _Tracer):
        idx = _cast(idx, np.dtype(np.int64))
    valid = logical_and(idx >= -n, idx < n)
    return where(idx < 0, add(idx, n), idx), valid


def positions(aval: Any, index: Any, mode: str | None) -> Any:
    """The flat (C order) position of each element of ``x[index]`` in ``x`` (an array of
    ``x[index]``'s shape: concrete for concrete indices, else traced), -1 for the elements
    an out-of-range index drops. Indices are read as ``x[index]`` reads them (the front end's
    rules: integers, slices, None, Ellipsis, integer arrays, concrete boolean masks, numpy's
    placement of advanced indices)."""
    if mode not in _MODES:
        raise ShapeError(f"indexed update: mode must be one of {_MODES[1:]}, got {mode!r}")
    items = _expand_index([_index_item(it, aval) for it in (
        index if isinstance(index, tuple) else (index,))], aval)
    adv = [i for i, it in enumerate(items) if it is not None and not isinstance(it, slice)]
    advanced = any(isinstance(it, _Tracer | np.ndarray) for it in items)
    if advanced and any(it is None for it in items):
        raise UnsupportedError("indexing that mixes None/newaxis with integer arrays; index "
                               "first, then use jnp.expand_dims")
    strides = _strides(aval.shape)
    slices, terms, valid = [], [], None
    dim = 0
    for it in items:
        if it is None:
            slices.append((1, None))
            continue
        n = aval.shape[dim]
        if isinstance(it, slice):
            st, k, stp = _slice_params(it, n, dim, aval)
            slices.append((k, (st + stp * np.arange(k, dtype=np.int64)) * strides[dim]))
        else:
            idx, ok = _axis_index(it, n, dim, aval, mode)
            terms.append(idx if strides[dim] == 1 else multiply(idx, np.int64(strides[dim])))
            if ok is not None:
                valid = ok if valid is None else logical_and(valid, ok)
        dim += 1
    try:
        idx_shape = tuple(np.broadcast_shapes(*[_aval_of(t).shape for t in terms]))
    except ValueError:
        raise JitgradIndexError(
            f"indexing {aval}: shape mismatch: indexing arrays could not be broadcast together "
            f"with shapes {' '.join(str(_aval_of(t).shape) for t in terms)}") from None
    # numpy's placement: adjacent advanced indices keep their place, others go first (plain
    # integers are advanced indices only beside arrays; alone, they just remove their axis).
    at = 0
    if advanced and adv == list(range(adv[0], adv[-1] + 1)):
        at = builtins.sum(1 for it in items[:adv[0]] if it is None or isinstance(it, slice))
    shape = tuple(k for k, _ in slices[:at]) + idx_shape + tuple(k for k, _ in slices[at:])
    placed = [_placed(term, i if i < at else i + len(idx_shape), len(shape))
              for i, (_, term) in enumerate(slices) if term is not None]
    placed += [_placed(t, at + len(idx_shape) - _aval_of(t).ndim, len(shape)) for t in terms]
    flat = broadcast_to(functools.reduce(add, placed) if placed else np.int64(0), shape)
    if valid is not None:
        valid = _placed(valid, at + len(idx_shape) - _aval_of(valid).ndim, len(shape))
        flat = where(valid, flat, np.int64(-1))
    return flat


def _values(values: Any, shape: tuple[int, ...], x_aval: Any, op: str) -> Any:
    """The updates as numpy assigns them to ``x[idx]``: cast to ``x``'s dtype (``set`` casts
    as assignment does; the arithmetic updates need numpy's 'same_kind' in-place casting)
    and broadcast to the indexed shape (leading axes of length 1 dropped)."""
    if not isinstance(values, _Tracer):
        values = values if type(values) in (bool, int, float) else asarray(values)
    dtype = x_aval.dtype
    if op != "set" and not np.can_cast(result_type(values, np.empty(0, dtype)), dtype,
                                       "same_kind"):
        raise JitgradTypeError(
            f"x.at[...].{op}: cannot update a {dtype.name} array with "
            f"{_aval_of_any(values).dtype.name} values in place (numpy's same_kind rule, as "
            f"for x[idx] {'+' if op == 'add' else '*'}= v); cast the values first")
    values = _cast(values, dtype)
    vs = _aval_of(values).shape
    while len(vs) > len(shape) and vs[0] == 1:
        vs = vs[1:]
    try:
        if np.broadcast_shapes(vs, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"x.at[...].{op}: could not broadcast values of shape "
                         f"{_aval_of(values).shape} into the indexed shape {shape}") from None
    values = P.reshape(values, vs) if isinstance(values, _Tracer) else np.reshape(values, vs)
    return P.broadcast_in_dim(values, shape, range(len(shape) - len(vs), len(shape)))


def _unique(flat: Any) -> bool:
    """Whether concrete positions are known to name no element twice."""
    if isinstance(flat, _Tracer):
        return False
    kept = flat[flat >= 0]
    return np.unique(kept).size == kept.size


def _scatter(x: Any, index: Any, values: Any, op: str, mode: str | None,
             unique_indices: bool) -> Any:
    x = x if isinstance(x, _Tracer) else np.asarray(x)
    aval = _aval_of(x)
    name = {"mul": "multiply"}.get(op, op)
    if op != "set" and aval.dtype == np.bool_:
        raise JitgradTypeError(f"x.at[...].{name}: boolean arrays have no arithmetic updates; "
                               f"use .set, or convert to a number type first")
    flat = positions(aval, index, mode)
    u = _values(values, _aval_of(flat).shape, aval, name)
    unique = _unique(flat)
    if unique_indices and not unique and not isinstance(flat, _Tracer):
        raise JitgradIndexError(f"x.at[...].{name}: unique_indices=True, but the indices name "
                                f"some element more than once")
    return P.scatter(x, flat, u, op, unique_indices or unique)


class _IndexUpdateRef:
    """``x.at[index]``: the methods return updated copies of ``x`` (JAX's ``_IndexUpdateRef``).

    Out-of-range indices: updates with traced indices drop them (JAX's default); concrete
    out-of-range indices raise ``JitgradIndexError`` as ``x[index]`` does (NB: JAX drops
    them too). ``mode='drop'`` (or 'fill') drops, ``mode='clip'`` (or 'promise_in_bounds')
    clamps each axis's index. Repeated indices: ``add``, ``multiply``, ``min``, ``max`` apply
    every update; ``set`` keeps the last one, as numpy's ``x[index] = v`` does in practice
    (numpy does not promise it, and JAX leaves it unspecified). ``indices_are_sorted`` is
    accepted and unused; ``unique_indices=True`` promises that no position repeats (it only
    spares the work that repeats need in derivatives)."""

    __slots__ = ("array", "index")

    def __init__(self, array: Any, index: Any):
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, mode: str | None = None, fill_value: Any = None,
            indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
        """``x[index]``; with ``mode='fill'`` (or 'drop') out-of-range indices give
        ``fill_value`` (default: NaN for floats, the smallest integer, True), with 'clip'
        they are clamped."""
        if mode is None:
            return getitem(self.array, self.index)
        x = self.array if isinstance(self.array, _Tracer) else np.asarray(self.array)
        dtype = _aval_of(x).dtype
        flat = positions(_aval_of(x), self.index, mode)
        if fill_value is None:  # JAX's defaults
            fill_value = np.nan if _is_float(dtype) else True if dtype == np.bool_ else \
                np.iinfo(dtype).max if dtype.kind == "u" else np.iinfo(dtype).min
        return P.gather_flat(x, flat, fill_value)

    def set(self, values: Any, *, mode: str | None = None, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Any:
        """``x[index] = values``, returning the new array."""
        return _scatter(self.array, self.index, values, "set", mode, unique_indices)

    def add(self, values: Any, *, mode: str | None = None, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Any:
        """``x[index] += values``, every repeated index adding."""
        return _scatter(self.array, self.index, values, "add", mode, unique_indices)

    def subtract(self, values: Any, *, mode: str | None = None,
                 indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
        """``x[index] -= values``."""
        if not isinstance(values, _Tracer) and type(values) not in (bool, int, float):
            values = np.asarray(values)
        return self.add(multiply(values, -1), mode=mode, unique_indices=unique_indices)

    def multiply(self, values: Any, *, mode: str | None = None,
                 indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
        """``x[index] *= values``, repeated indices multiplying; the derivatives are exact
        where values are zero."""
        return _scatter(self.array, self.index, values, "mul", mode, unique_indices)

    mul = multiply

    def _scaled(self, values: Any, mode: str | None, unique_indices: bool, name: str) -> Any:
        """``x``'s factors: ``values`` multiplied into ones at ``index`` (JAX's form of
        ``divide`` and ``power``). NB: with repeated indices numpy applies the updates one
        after another, ``(x ** v1) ** v2``, which differs from ``x ** (v1 * v2)`` where ``x``
        is negative (``x = -2``, ``v = 2, 0.5``: numpy 2, JAX and jitgrad -2); ``divide``
        differs only in rounding."""
        x = self.array if isinstance(self.array, _Tracer) else np.asarray(self.array)
        if not _is_float(_aval_of(x).dtype):
            raise JitgradTypeError(f"x.at[...].{name}: needs a floating-point array, got "
                                   f"{_aval_of(x)} (numpy's in-place {name} fails too)")
        ones = P.broadcast_in_dim(np.ones((), _aval_of(x).dtype)[()], _aval_of(x).shape, ())
        return x, _scatter(ones, self.index, values, "mul", mode, unique_indices)

    def divide(self, values: Any, *, mode: str | None = None,
               indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
        """``x[index] /= values``: ``x`` divided by the product of its updates."""
        x, scale = self._scaled(values, mode, unique_indices, "divide")
        return divide(x, scale)

    def power(self, values: Any, *, mode: str | None = None,
              indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
        """``x[index] **= values``: ``x`` to the product of its updates."""
        x, scale = self._scaled(values, mode, unique_indices, "power")
        return power(x, scale)

    def min(self, values: Any, *, mode: str | None = None, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Any:
        """``x[index] = minimum(x[index], values)`` with every repeated index applied; the
        derivative is shared equally among tied values (as ``minimum`` shares it)."""
        return _scatter(self.array, self.index, values, "min", mode, unique_indices)

    def max(self, values: Any, *, mode: str | None = None, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Any:
        """``x[index] = maximum(x[index], values)`` with every repeated index applied; the
        derivative is shared equally among tied values (as ``maximum`` shares it)."""
        return _scatter(self.array, self.index, values, "max", mode, unique_indices)


class _IndexUpdateHelper:
    """``x.at``: index it to get the update methods, ``x.at[index].set(v)``."""

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array

    def __getitem__(self, index: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


def at(x: Any) -> _IndexUpdateHelper:
    """``x.at`` for any array: traced arrays have the ``.at`` property (as JAX arrays do);
    numpy arrays, which cannot, use ``jnp.at(x)[index].set(v)``. The updates return new
    arrays and never modify ``x``.

    >>> import jitgrad, jitgrad.numpy as jnp
    >>> jnp.at(np.zeros(4))[[0, 2, 2]].add(1.0)
    array([1., 0., 2., 0.])
    >>> jitgrad.jit(lambda x: x.at[1:, 0].set(-1.0))(np.ones((3, 2)))
    array([[ 1.,  1.],
           [-1.,  1.],
           [-1.,  1.]])
    >>> jitgrad.grad(lambda v: jnp.sum(jnp.at(np.ones(3))[[0, 0]].multiply(v) ** 2))(
    ...     np.array([2.0, 3.0]))
    array([36., 24.])
    """
    return _IndexUpdateHelper(x)


def ufunc_at(method: str) -> Callable[..., Any]:
    """``jnp.<ufunc>.at(a, indices, b, inplace=False)`` (JAX's form of ``numpy.<ufunc>.at``,
    which updates ``a`` in place and returns None): the updated copy of ``a``."""
    def ufunc_method(a: Any, indices: Any, b: Any, *, inplace: bool = True) -> Any:
        if inplace:
            raise UnsupportedError(
                f"jnp ufunc .at cannot update arrays in place: pass inplace=False and use the "
                f"returned array (or x.at[indices].{method}(b))")
        return getattr(at(a)[indices], method)(b)
    ufunc_method.__name__ = ufunc_method.__qualname__ = "at"
    ufunc_method.__doc__ = (
        f"``numpy.ufunc.at(a, indices, b)`` as ``a.at[indices].{method}(b)``, returning the "
        f"updated copy (``inplace=False`` is required, as in JAX).")
    return ufunc_method
