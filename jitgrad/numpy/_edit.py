"""Assembling and editing arrays at concrete positions (block, insert, delete, resize,
fill_diagonal, choose, piecewise, isin, broadcast_arrays) and applying functions along axes
(apply_along_axis, apply_over_axes, vectorize): composites of jitgrad.numpy's functions."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.errors import JitgradIndexError, ShapeError, TracerError, UnsupportedError
from jitgrad.numpy import _aval_of, _axis, _has_tracer, _numpy_when_concrete, _Tracer
from jitgrad.numpy._shape import take_static

__all__ = ["apply_along_axis", "apply_over_axes", "block", "broadcast_arrays", "choose",
           "delete", "diag_indices_from", "fill_diagonal", "insert", "isin", "piecewise", "place",
           "put", "resize", "vectorize"]


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _concrete(value: Any, op: str, what: str) -> Any:
    if _has_tracer((value,)):
        raise TracerError(f"{op}: {what} must be concrete (the result's shape depends on it); "
                          f"got a traced value")
    return value


@_numpy_when_concrete(np.broadcast_arrays)
def broadcast_arrays(*args: Any) -> tuple[Any, ...]:
    """``numpy.broadcast_arrays``: every argument broadcast to their common shape.

    >>> import jitgrad
    >>> jitgrad.jit(broadcast_arrays)(np.array([1.0, 2.0]), np.array([[3.0], [4.0]]))[0]
    array([[1., 2.],
           [1., 2.]])
    """
    shape = jnp._broadcast_shapes("broadcast_arrays", *args)
    return tuple(jnp.broadcast_to(a, shape) for a in args)


def _block_depth(arrays: Any, op: str) -> int:
    """The nesting depth of ``block``'s lists, checked to be the same for every leaf."""
    if isinstance(arrays, tuple):
        raise JitgradIndexError(f"{op}: arrays is a tuple; only lists can be used to arrange "
                                f"blocks")
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ShapeError(f"{op}: lists cannot be empty")
    depths = {_block_depth(a, op) for a in arrays}
    if len(depths) != 1:
        raise ShapeError(f"{op}: list depths are mismatched ({sorted(depths)})")
    return depths.pop() + 1


def block(arrays: Any) -> Any:
    """``numpy.block``: an array assembled from nested lists of blocks, the innermost lists
    joined along the last axis, the next ones along the one before, and so on (blocks with
    fewer dimensions get leading ones).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: block([[a, b], [b, a]]))(np.eye(1), np.zeros((1, 1)))
    array([[1., 0.],
           [0., 1.]])
    """
    if not jnp._contains_tracer([arrays]):
        return np.block(arrays)
    depth = _block_depth(arrays, "block")
    leaves: list[Any] = []

    def collect(x: Any) -> None:
        if isinstance(x, list):
            for e in x:
                collect(e)
        else:
            leaves.append(x)

    collect(arrays)
    nd = max([depth] + [len(_shape(x)) for x in leaves])

    def join(x: Any, level: int) -> Any:
        if not isinstance(x, list):
            x = jnp.asarray(x)
            return jnp.reshape(x, (1,) * (nd - len(_shape(x))) + _shape(x))
        return jnp.concatenate([join(e, level + 1) for e in x], axis=level - depth)

    return join(arrays, 0)


def _vmap() -> Callable[..., Any]:
    # vmap is a transformation above this module's layer; only called, never imported early
    from jitgrad.api import vmap
    return vmap


def _np_apply_along_axis(func1d: Callable[..., Any], axis: int, arr: Any, *args: Any,
                         **kwargs: Any) -> Any:
    return np.apply_along_axis(func1d, axis, arr, *args, **kwargs)


@_numpy_when_concrete(_np_apply_along_axis)
def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: Any, *args: Any,
                     **kwargs: Any) -> Any:
    """``numpy.apply_along_axis``: ``func1d`` of every 1-d slice along ``axis``, its result's
    axes in that axis's place; on traced arrays ``func1d`` is vmapped (as in JAX), so it
    is traced once.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: apply_along_axis(jnp.diff, 0, a))(np.array([[1.0, 2.0],
    ...                                                                 [4.0, 8.0]]))
    array([[3., 6.]])
    """
    nd = len(_shape(arr))
    ax = _axis(axis, nd, "apply_along_axis")
    def f(x: Any) -> Any:
        return func1d(x, *args, **kwargs)

    for _ in range(nd - 1):
        f = _vmap()(f)
    out = jnp.asarray(f(jnp.moveaxis(arr, ax, -1)))
    k = len(_shape(out)) - (nd - 1)
    lead = list(range(ax))
    return jnp.transpose(out, lead + list(range(nd - 1, nd - 1 + k)) +
                         list(range(ax, nd - 1)))


def apply_over_axes(func: Callable[[Any, int], Any], a: Any, axes: Any) -> Any:
    """``numpy.apply_over_axes``: ``func(a, axis)`` for each of ``axes`` in turn, a reduced
    axis put back as length 1.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: apply_over_axes(jnp.sum, a, [0, 1]))(np.ones((2, 3)))
    array([[6.]])
    """
    val = jnp.asarray(a)
    nd = len(_shape(val))
    for axis in np.atleast_1d(axes):
        axis = int(axis) % nd if nd else int(axis)
        res = jnp.asarray(func(val, axis))
        if len(_shape(res)) != len(_shape(val)):
            res = jnp.expand_dims(res, axis)
            if len(_shape(res)) != len(_shape(val)):
                raise ShapeError("apply_over_axes: function is not returning an array of the "
                                 "correct shape")
        val = res
    return val


def _np_piecewise(x: Any, condlist: Any, funclist: Any, *args: Any, **kw: Any) -> Any:
    return np.piecewise(x, condlist, funclist, *args, **kw)


@_numpy_when_concrete(_np_piecewise)
def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Any:
    """``numpy.piecewise``: where ``condlist[i]`` holds, ``funclist[i](x, *args, **kw)`` (or the
    constant ``funclist[i]``); one extra function is the value where no condition holds;
    later conditions win. The result has ``x``'s dtype.

    NB: on traced arrays each function is evaluated on all of ``x`` and the values selected
    (as in JAX): a function undefined outside its piece (``sqrt`` of negatives) gives NaN
    derivatives there unless it is given safe inputs.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: piecewise(x, [x < 0], [lambda v: -v, lambda v: v * v]))(
    ...     np.array([-2.0, 3.0]))
    array([2., 9.])
    """
    x = jnp.asarray(x)
    if np.isscalar(condlist) or isinstance(condlist, bool) or (len(_shape(x)) != 0 and not (
            isinstance(condlist[0], list) or len(_shape(condlist[0])) >= 1)):
        condlist = [condlist]  # numpy's rule: one condition, not a list of them
    conds = [jnp.astype(c, np.bool_) for c in condlist]
    if len(funclist) == len(conds) + 1:
        none = jnp.logical_not(jnp.any(jnp.stack([jnp.broadcast_to(c, _shape(x)) for c in conds]),
                                       axis=0))
        conds.append(none)
    elif len(funclist) != len(conds):
        raise ShapeError(f"piecewise: with {len(conds)} condition(s), either {len(conds)} or "
                         f"{len(conds) + 1} functions are expected, got {len(funclist)}")
    dtype = _aval_of(x).dtype
    y = jnp.zeros(_shape(x), dtype)
    for cond, fn in zip(conds, funclist, strict=True):
        val = fn(x, *args, **kw) if callable(fn) else fn
        y = jnp.where(cond, jnp.astype(val, dtype), y)
    return y


def _np_choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    return np.choose(a, choices, out=out, mode=mode)


@_numpy_when_concrete(_np_choose, sequences=2)
def choose(a: Any, choices: Sequence[Any], out: Any = None, mode: str = "raise") -> Any:
    """``numpy.choose``: ``choices[a[i]][i]``, everything broadcast together; ``mode`` 'raise'
    (concrete ``a`` only, as in JAX), 'wrap' or 'clip'. Differentiable in the choices.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: choose(np.array([0, 1, 1]), [a, b]))(np.zeros(3), np.ones(3))
    array([0., 1., 1.])
    """
    if out is not None:
        raise UnsupportedError("choose: out= on traced arrays (results are new arrays)")
    n = len(choices)
    if mode == "raise":
        a = np.asarray(_concrete(a, "choose", "a with mode='raise' (use mode='wrap' or 'clip')"))
        if a.size and (a.min() < 0 or a.max() >= n):
            raise JitgradIndexError(f"choose: invalid entry in choice array (indices from "
                                    f"{a.min()} to {a.max()} for {n} choices)")
    elif mode == "wrap":
        a = jnp.remainder(a, n)
    elif mode == "clip":
        a = jnp.clip(a, 0, n - 1)
    else:
        raise ShapeError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    dtype = jnp.result_type(*choices)
    shape = jnp._broadcast_shapes("choose", a, *choices)
    y = jnp.broadcast_to(jnp.astype(choices[0], dtype), shape)
    for k in range(1, n):
        y = jnp.where(jnp.equal(a, k), jnp.astype(choices[k], dtype), y)
    return y


def _flat_axis(arr: Any, axis: Any, op: str) -> tuple[Any, int]:
    if axis is None:
        return jnp.ravel(arr), 0
    return arr, _axis(axis, len(_shape(arr)), op)


def _np_insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Any:
    return np.insert(arr, obj, values, axis)


@_numpy_when_concrete(_np_insert)
def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """``numpy.insert``: ``values`` inserted before the (concrete) positions ``obj`` (an
    integer, a slice or integers) along ``axis`` (None: of the flattened array), cast to
    ``arr``'s dtype; one concatenation and one static reordering.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: insert(a, [1, 3], -1.0))(np.array([1.0, 2.0, 3.0]))
    array([ 1., -1.,  2.,  3., -1.])
    """
    obj = _concrete(obj, "insert", "obj")
    arr, ax = _flat_axis(jnp.asarray(arr), axis, "insert")
    shape, dtype = _shape(arr), _aval_of(arr).dtype
    n = shape[ax]
    values = jnp.astype(values, dtype)
    idx = np.arange(*obj.indices(n)) if isinstance(obj, slice) else np.asarray(obj)
    if idx.dtype.kind not in "iu" and idx.size:
        raise JitgradIndexError(f"insert: index arrays must be integers, got {idx.dtype}")
    idx = idx.astype(np.int64)
    if idx.ndim == 0:
        if not -n <= int(idx) <= n:
            raise JitgradIndexError(f"insert: index {int(idx)} is out of bounds for axis {ax} "
                                    f"with size {n}")
        values = jnp.moveaxis(jnp.reshape(values, (1,) * (len(shape) - len(_shape(values))) +
                                          _shape(values)), 0, ax)
        k = _shape(values)[ax]
        idx = np.full(k, int(idx) + n if idx < 0 else int(idx))
    else:
        if np.any((idx < -n) | (idx > n)):
            raise JitgradIndexError(f"insert: index {idx} is out of bounds for axis {ax} with "
                                    f"size {n}")
        idx = np.where(idx < 0, idx + n, idx)
        k = len(idx)
    slot = shape[:ax] + (k,) + shape[ax + 1:]
    values = jnp.broadcast_to(values, slot)
    # new positions of the inserted items (numpy's: a stable sort, each shifted by its rank)
    order = np.argsort(idx, kind="stable")
    pos = idx.copy()
    pos[order] += np.arange(k)
    src = np.empty(n + k, np.int64)
    old = np.ones(n + k, bool)
    old[pos] = False
    src[old] = np.arange(n)
    src[pos] = n + np.arange(k)
    return take_static(jnp.concatenate([arr, values], axis=ax), src, ax)


def _np_delete(arr: Any, obj: Any, axis: Any = None, *,
               assume_unique_indices: bool = False) -> Any:
    return np.delete(arr, obj, axis)


@_numpy_when_concrete(_np_delete)
def delete(arr: Any, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False) -> Any:
    """``numpy.delete``: ``arr`` without the (concrete) positions ``obj`` (an integer, a slice,
    integers or a boolean mask) along ``axis`` (None: of the flattened array).

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: delete(a, 1))(np.array([1.0, 2.0, 3.0]))
    array([1., 3.])
    """
    obj = _concrete(obj, "delete", "obj")
    arr, ax = _flat_axis(jnp.asarray(arr), axis, "delete")
    n = _shape(arr)[ax]
    try:
        keep = np.delete(np.arange(n), obj)
    except IndexError as e:
        raise JitgradIndexError(f"delete: {e}") from None
    return take_static(arr, keep, ax)


@_numpy_when_concrete(np.resize)
def resize(a: Any, new_shape: Any) -> Any:
    """``numpy.resize``: ``a``'s elements (flattened) repeated to fill ``new_shape``.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: resize(a, (2, 3)))(np.array([1.0, 2.0]))
    array([[1., 2., 1.],
           [2., 1., 2.]])
    """
    shape = (operator.index(new_shape),) if np.ndim(new_shape) == 0 else \
        tuple(operator.index(d) for d in new_shape)
    if any(d < 0 for d in shape):
        raise ShapeError(f"resize: all elements of new_shape must be non-negative, got {shape}")
    flat = jnp.ravel(a)
    size, new_size = _shape(flat)[0], int(np.prod(shape, dtype=np.int64))
    if size == 0 or new_size == 0:
        return jnp.zeros(shape, _aval_of(flat).dtype)
    reps = -(-new_size // size)
    return jnp.reshape(jnp.tile(flat, reps)[:new_size], shape)


def _diagonal_positions(shape: tuple[int, ...], wrap: bool, op: str) -> np.ndarray:
    """The flat positions numpy's ``fill_diagonal`` writes."""
    if len(shape) < 2:
        raise ShapeError(f"{op}: array must be at least 2-d, got shape {shape}")
    size = int(np.prod(shape, dtype=np.int64))
    if len(shape) == 2:
        step = shape[1] + 1
        end = size if wrap else min(size, shape[1] * shape[1])
    else:
        if len(set(shape)) != 1:
            raise ShapeError(f"{op}: all dimensions of input must be of equal length, got "
                             f"shape {shape}")
        step = 1 + int(np.cumprod(shape[:-1]).sum())
        end = size
    return np.arange(0, end, step)


def _out_of_place(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's in-place ``np_fn`` on concrete arrays: numpy's own call, or with JAX's
    ``inplace=False`` the same call on a copy, which it returns."""
    def call(a: Any, *args: Any, inplace: bool = True, **kwargs: Any) -> Any:
        if inplace:
            return np_fn(a, *args, **kwargs)
        a = np.array(a, copy=True)
        np_fn(a, *args, **kwargs)
        return a

    return call


_np_fill_diagonal = _out_of_place(np.fill_diagonal)


@_numpy_when_concrete(_np_fill_diagonal)
def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True) -> Any:
    """``numpy.fill_diagonal`` as JAX has it: with ``inplace=False``, a copy of ``a`` whose main
    diagonal is ``val`` (repeated cyclically; ``wrap`` continues a tall matrix's diagonal
    below its square part). A traced array cannot be updated in place: ``inplace=True`` on
    one raises.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: fill_diagonal(a, 2.0, inplace=False))(np.zeros((2, 2)))
    array([[2., 0.],
           [0., 2.]])
    """
    if inplace:
        _in_place_refused("fill_diagonal")
    pos = _diagonal_positions(_shape(a), wrap, "fill_diagonal")
    dtype = _aval_of(a).dtype
    vals = resize(jnp.astype(val, dtype), len(pos)) if len(pos) else jnp.zeros(0, dtype)
    return jnp.reshape(jnp.at(jnp.ravel(a))[pos].set(vals), _shape(a))


def _in_place_refused(op: str) -> None:
    raise UnsupportedError(f"{op} updates its argument in place, which a traced array cannot "
                           f"be: use {op}(..., inplace=False), which returns the updated array")


def _np_put(a: Any, ind: Any, v: Any, mode: str | None = None, *, inplace: bool = True) -> Any:
    if inplace:
        return np.put(a, ind, v, mode or "raise")
    a = np.array(a, copy=True)
    np.put(a, ind, v, mode or "raise")
    return a


@_numpy_when_concrete(_np_put)
def put(a: Any, ind: Any, v: Any, mode: str | None = None, *, inplace: bool = True) -> Any:
    """``numpy.put`` as JAX has it: with ``inplace=False``, a copy of ``a`` whose flat
    elements ``ind`` are ``v`` (repeated cyclically; the last of repeated indices wins);
    ``mode`` 'raise' (the default, for concrete ``ind``), 'wrap' or 'clip'. Traced ``ind``
    with the default mode drop out-of-range indices, as ``x.at[...].set`` does.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: put(a, [0, 2], 5.0, inplace=False))(np.zeros(3))
    array([5., 0., 5.])
    """
    if inplace:
        _in_place_refused("put")
    flat = jnp.ravel(a)
    n = _shape(flat)[0]
    ind = jnp.ravel(ind) if isinstance(ind, _Tracer) else np.ravel(np.asarray(ind, np.int64))
    if mode == "wrap":
        ind = jnp.remainder(ind, n)
    elif mode == "clip":
        ind = jnp.clip(ind, 0, n - 1)
    elif mode in (None, "raise") and not isinstance(ind, _Tracer):
        if ind.size and (ind.min() < -n or ind.max() >= n):
            raise JitgradIndexError(f"put: index {ind[(ind < -n) | (ind >= n)][0]} is out of "
                                    f"bounds for size {n}")
    elif mode not in (None, "raise"):
        raise ShapeError(f"put: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    k = _shape(ind)[0]
    vals = jnp.ravel(jnp.astype(v, _aval_of(flat).dtype))
    if k and not _shape(vals)[0]:
        raise ShapeError("put: cannot put an empty array of values")
    vals = resize(vals, k) if k else vals[:0]
    return jnp.reshape(jnp.at(flat)[ind].set(vals), _shape(a))


_np_place = _out_of_place(np.place)


@_numpy_when_concrete(_np_place)
def place(arr: Any, mask: Any, vals: Any, *, inplace: bool = True) -> Any:
    """``numpy.place`` as JAX has it: with ``inplace=False``, a copy of ``arr`` whose elements
    where ``mask`` holds are ``vals`` in turn (repeated cyclically); the mask may be traced.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a: place(a, a > 1.0, [7.0, 8.0], inplace=False))(
    ...     np.array([2.0, 1.0, 3.0, 4.0]))
    array([7., 1., 8., 7.])
    """
    if inplace:
        _in_place_refused("place")
    if _shape(mask) != _shape(arr):
        raise ShapeError(f"place: mask and data must be the same shape, got {_shape(mask)} and "
                         f"{_shape(arr)}")
    vals = jnp.ravel(jnp.astype(vals, _aval_of(arr).dtype))
    m = _shape(vals)[0]
    flat_mask = jnp.ravel(jnp.astype(mask, np.bool_))
    if m == 0:
        if not isinstance(flat_mask, _Tracer) and np.any(flat_mask):
            raise ShapeError("place: cannot insert from an empty array")
        return arr
    k = jnp.remainder(jnp.cumsum(flat_mask) - 1, m)
    return jnp.reshape(jnp.where(flat_mask, jnp.take(vals, k), jnp.ravel(arr)), _shape(arr))


def diag_indices_from(arr: Any) -> tuple[np.ndarray, ...]:
    """``numpy.diag_indices_from``: the indices of the main diagonal of the square
    ``arr`` (concrete: they depend on its shape only).

    >>> diag_indices_from(np.zeros((2, 2)))
    (array([0, 1]), array([0, 1]))
    """
    shape = _shape(arr)
    if len(shape) < 2:
        raise ShapeError(f"diag_indices_from: input array must be at least 2-d, got shape "
                         f"{shape}")
    if len(set(shape)) != 1:
        raise ShapeError(f"diag_indices_from: all dimensions of input must be of equal length, "
                         f"got shape {shape}")
    return np.diag_indices(shape[0], len(shape))


def _np_isin(element: Any, test_elements: Any, assume_unique: bool = False,
             invert: bool = False, *, kind: Any = None) -> Any:
    return np.isin(element, test_elements, assume_unique=assume_unique, invert=invert, kind=kind)


@_numpy_when_concrete(_np_isin)
def isin(element: Any, test_elements: Any, assume_unique: bool = False, invert: bool = False,
         *, kind: Any = None) -> Any:
    """``numpy.isin``: whether each of ``element`` equals one of ``test_elements`` (``invert``:
    does not); every pair is compared (``kind`` is accepted and ignored).

    >>> import jitgrad
    >>> jitgrad.jit(isin)(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0]))
    array([ True, False,  True])
    """
    test = jnp.ravel(test_elements)
    found = jnp.any(jnp.equal(jnp.expand_dims(element, -1), test), axis=-1)
    return jnp.logical_not(found) if invert else found


class vectorize:  # noqa: N801 - numpy's name
    """``numpy.vectorize`` with JAX's semantics: ``pyfunc`` of scalars (or, with
    ``signature`` like ``'(n),(n)->()'``, of core arrays) mapped over the broadcast loop
    dimensions with ``vmap``, so it is traced once; ``excluded`` names positions or keywords
    passed through unmapped.

    >>> import jitgrad
    >>> f = vectorize(lambda a, b: a if a > 0 else b)
    >>> f(np.array([1.0, -1.0]), 5.0)
    array([1., 5.])
    >>> jitgrad.jit(vectorize(lambda a, b: jnp.dot(a, b), signature="(n),(n)->()"))(
    ...     np.ones((2, 3)), np.arange(3.0))
    array([3., 3.])
    """

    def __init__(self, pyfunc: Callable[..., Any], *, excluded: Any = frozenset(),
                 signature: str | None = None) -> None:
        self.pyfunc, self.excluded, self.signature = pyfunc, set(excluded), signature
        functools.update_wrapper(self, pyfunc)
        self.__doc__ = type(self).__doc__ if pyfunc.__doc__ is None else pyfunc.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not jnp._has_tracer(args) and not jnp._has_tracer(tuple(kwargs.values())):
            # concrete arguments: numpy's own (the function may branch on values)
            return np.vectorize(self.pyfunc, excluded=self.excluded,
                                signature=self.signature)(*args, **kwargs)
        fixed = {k: v for k, v in kwargs.items() if k in self.excluded}
        mapped_kw = {k: v for k, v in kwargs.items() if k not in self.excluded}
        names = list(mapped_kw)
        positions = [i for i in range(len(args)) if i not in self.excluded]
        arrays = [jnp.asarray(args[i]) for i in positions] + \
            [jnp.asarray(mapped_kw[k]) for k in names]

        def call(*xs: Any) -> Any:
            full = list(args)
            for i, x in zip(positions, xs, strict=False):
                full[i] = x
            kw = dict(fixed, **dict(zip(names, xs[len(positions):], strict=True)))
            return self.pyfunc(*full, **kw)

        cores = _parse_signature(self.signature, len(arrays))
        loop = jnp._broadcast_shapes(
            "vectorize", *[np.empty(_shape(x)[:len(_shape(x)) - len(c)], bool) if
                           len(_shape(x)) >= len(c) else _too_few(x, c)
                           for x, c in zip(arrays, cores, strict=True)])
        xs = [jnp.broadcast_to(x, loop + _shape(x)[len(_shape(x)) - len(c):])
              for x, c in zip(arrays, cores, strict=True)]
        f = call
        for _ in loop:
            f = _vmap()(f)
        return f(*xs)


def _too_few(x: Any, core: tuple[str, ...]) -> Any:
    raise ShapeError(f"vectorize: an input of shape {_shape(x)} has fewer dimensions than its "
                     f"core dimensions {core}")


def _parse_signature(signature: str | None, n: int) -> list[tuple[str, ...]]:
    """The core dimensions of each of ``n`` inputs: none without a signature."""
    if signature is None:
        return [()] * n
    try:
        ins = signature.replace(" ", "").split("->")[0]
        groups = [g.strip("()") for g in ins.split("),(")]
        cores = [tuple(d for d in g.split(",") if d) for g in groups]
    except (AttributeError, IndexError):
        cores = []
    if len(cores) != n:
        raise ShapeError(f"vectorize: signature {signature!r} describes {len(cores)} input(s), "
                         f"called with {n}")
    return cores
