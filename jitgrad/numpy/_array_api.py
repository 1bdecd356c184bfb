"""NumPy 2's array-API names (concat, permute_dims, cumulative_sum, vecdot, ...) and small
array helpers (copy, empty_like, isposinf, isneginf): each a composite of the functions
numpy's own definition names, so values, dtypes and derivatives are theirs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import aval_of as _aval_of
from jitgrad.errors import ShapeError
from jitgrad.numpy import (
    _axis,
    _numpy_when_concrete,
    asarray,
    concatenate,
    cumsum,
    isinf,
    logical_and,
    logical_not,
    matmul,
    multiply,
    signbit,
    sum,
    swapaxes,
    transpose,
    zeros_like,
)
from jitgrad.numpy._shape import pad
from jitgrad.numpy._sorting import cumprod
from jitgrad.numpy._ufuncs import any

__all__ = ["concat", "copy", "cumulative_prod", "cumulative_sum", "empty_like", "isneginf",
           "isposinf", "matrix_transpose", "matvec", "permute_dims", "unstack", "vecdot",
           "vecmat"]

ArrayLike = Any


@_numpy_when_concrete(np.concat, sequences=1)
def concat(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """``numpy.concat``: ``concatenate``."""
    return concatenate(arrays, axis=axis)


@_numpy_when_concrete(np.permute_dims)
def permute_dims(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """``numpy.permute_dims``: ``transpose``."""
    return transpose(a, axes)


@_numpy_when_concrete(np.matrix_transpose)
def matrix_transpose(x: ArrayLike) -> Any:
    """``numpy.matrix_transpose``: the last two axes swapped.

    >>> import jitgrad
    >>> jitgrad.jit(matrix_transpose)(np.arange(6.0).reshape(1, 2, 3)).shape
    (1, 3, 2)
    """
    ndim = _aval_of(x).ndim
    if ndim < 2:
        raise ShapeError(f"matrix_transpose: the input must be at least 2-dimensional, got "
                         f"{_aval_of(x)}")
    return swapaxes(x, -1, -2)


def _cumulative(name: str, scan: Callable[..., Any], initial: int) -> Callable[..., Any]:
    np_fn = getattr(np, name)

    @_numpy_when_concrete(np_fn)
    def fn(x: ArrayLike, /, *, axis: int | None = None, dtype: Any = None,
           include_initial: bool = False) -> Any:
        ndim = _aval_of(x).ndim
        if axis is None:
            if ndim > 1:
                raise ShapeError(f"{name}: an input of more than one dimension "
                                 f"({_aval_of(x)}) needs axis=")
            axis = 0
        if ndim == 0:
            raise ShapeError(f"{name}: needs an input of at least one dimension")
        axis = _axis(axis, ndim, name)
        out = scan(x, axis=axis, dtype=dtype)
        if not include_initial:
            return out
        widths = [(0, 0)] * ndim
        widths[axis] = (1, 0)
        return pad(out, widths, constant_values=initial)

    fn.__name__ = name
    fn.__doc__ = (f"``numpy.{name}``: the running {'sum' if initial == 0 else 'product'} "
                  f"along ``axis`` (required above one dimension), starting with {initial} "
                  f"when ``include_initial``.")
    return fn


cumulative_sum = _cumulative("cumulative_sum", cumsum, 0)
cumulative_prod = _cumulative("cumulative_prod", cumprod, 1)


@_numpy_when_concrete(np.unstack)
def unstack(x: ArrayLike, /, *, axis: int = 0) -> tuple[Any, ...]:
    """``numpy.unstack``: the slices along ``axis``, as a tuple.

    >>> import jitgrad
    >>> jitgrad.jit(unstack)(np.arange(4.0).reshape(2, 2))
    (array([0., 1.]), array([2., 3.]))
    """
    shape = _aval_of(x).shape
    if not shape:
        raise ShapeError("unstack: needs an input of at least one dimension")
    axis = _axis(axis, len(shape), "unstack")
    return tuple(asarray(x)[(slice(None),) * axis + (i,)] for i in range(shape[axis]))


def _core(name: str, a: Any, b: Any, need: tuple[int, int]) -> None:
    na, nb = _aval_of(a).ndim, _aval_of(b).ndim
    if na < need[0] or nb < need[1]:
        raise ShapeError(f"{name}: operands of at least {need[0]} and {need[1]} dimensions "
                         f"needed, got {_aval_of(a)} and {_aval_of(b)}")


@_numpy_when_concrete(np.vecdot)
def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Any:
    """``numpy.vecdot``: ``sum(x1 * x2, axis)`` with broadcasting (real arrays: no
    conjugate), integers staying integers.

    >>> vecdot(np.array([[1, 2], [3, 4]]), np.array([1, 1]))
    array([3, 7])
    """
    _core("vecdot", x1, x2, (1, 1))
    n1, n2 = _aval_of(x1).shape[axis], _aval_of(x2).shape[axis]
    if n1 != n2:
        raise ShapeError(f"vecdot: the vectors along axis {axis} differ in length: "
                         f"{_aval_of(x1)} and {_aval_of(x2)}")
    prod = multiply(x1, x2)
    if _aval_of(prod).dtype == np.bool_:  # (numpy's boolean dot product: any of the ands)
        return any(prod, axis=axis)
    return sum(prod, axis=axis, dtype=_aval_of(prod).dtype)


@_numpy_when_concrete(np.matvec)
def matvec(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """``numpy.matvec``: matrices ``(..., m, n)`` times vectors ``(..., n)``, broadcast.

    >>> matvec(np.eye(2) * 2, np.array([1.0, 3.0]))
    array([2., 6.])
    """
    _core("matvec", x1, x2, (2, 1))
    return matmul(x1, asarray(x2)[..., None])[..., 0]


@_numpy_when_concrete(np.vecmat)
def vecmat(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """``numpy.vecmat``: vectors ``(..., n)`` times matrices ``(..., n, m)``, broadcast.

    >>> vecmat(np.array([1.0, 3.0]), np.eye(2) * 2)
    array([2., 6.])
    """
    _core("vecmat", x1, x2, (1, 2))
    return matmul(asarray(x1)[..., None, :], x2)[..., 0, :]


@_numpy_when_concrete(np.copy)
def copy(a: ArrayLike, order: str = "K", subok: bool = False) -> Any:
    """``numpy.copy``: a traced array is a value, so its copy is itself (gradient 1).

    >>> import jitgrad
    >>> jitgrad.jit(copy)(np.array([0.5, 0.25]))
    array([0.5 , 0.25])
    """
    return asarray(a)


@_numpy_when_concrete(np.empty_like)
def empty_like(prototype: ArrayLike, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None) -> Any:
    """``numpy.empty_like``; NB: zero-filled, as ``empty`` (and JAX's)."""
    return zeros_like(prototype, dtype=dtype, shape=shape)


def _infinity(name: str, negative: bool) -> Callable[..., Any]:
    np_fn = getattr(np, name)

    @_numpy_when_concrete(np_fn)
    def fn(x: ArrayLike) -> Any:
        sign = signbit(x)
        return logical_and(isinf(x), sign if negative else logical_not(sign))

    fn.__name__ = name
    fn.__doc__ = f"``numpy.{name}`` (a boolean result, no gradient)."
    return fn


isposinf = _infinity("isposinf", False)
isneginf = _infinity("isneginf", True)
