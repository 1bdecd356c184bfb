"""``jax.lax``'s elementwise, structural, reduction, cumulative, contraction and sorting
functions, written on ``jitgrad.numpy`` (so they differentiate, batch and compile as its
functions do); ``jitgrad.lax`` re-exports them. Where lax's semantics differ from numpy's
they are lax's: ``div`` and ``rem`` round toward zero (C's), ``round`` rounds halves away
from zero by default, ``clamp`` takes ``(min, x, max)``, ``dot_general`` orders its result
as batch, lhs free, rhs free dimensions. lax's operands must agree in dtype (JAX raises
otherwise); these accept what ``jitgrad.numpy`` accepts and promote as numpy does."""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.errors import JitgradTypeError, ShapeError
from jitgrad.tree_util import tree_flatten, tree_unflatten

__all__ = [
    "RoundingMethod", "abs", "acos", "acosh", "argmax", "argmin", "asin", "asinh",
    "associative_scan", "atan", "atan2", "atanh", "batch_matmul", "bessel_i0e", "bessel_i1e",
    "betainc", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "broadcast",
    "broadcast_in_dim", "broadcast_to_rank", "broadcasted_iota", "ceil", "clamp", "collapse",
    "concatenate", "cos", "cosh", "cumlogsumexp", "cummax", "cummin", "cumprod", "cumsum",
    "digamma", "div", "dot", "dot_general", "eq", "erf", "erf_inv", "erfc", "exp", "exp2",
    "expand_dims", "expm1", "floor", "full", "full_like", "ge", "gt", "igamma", "igammac",
    "index_in_dim", "integer_pow", "iota", "is_finite", "le", "lgamma", "log", "log1p", "logistic",
    "lt", "max", "min", "mul", "neg", "pad", "polygamma", "pow", "reciprocal", "reduce",
    "reduce_and", "reduce_max", "reduce_min", "reduce_or", "reduce_prod", "reduce_sum", "rem",
    "reshape", "rev", "round", "rsqrt", "select_n", "shift_left", "shift_right_arithmetic", "sign",
    "sin", "sinh", "slice", "slice_in_dim", "sort", "sort_key_val", "split", "sqrt", "square",
    "squeeze", "sub", "tan", "tanh", "tile", "top_k",
]


def _special() -> Any:
    from jitgrad.scipy import special  # (jitgrad.scipy sits above jitgrad.lax's imports)
    return special


# --- elementwise ------------------------------------------------------------------------------

abs = jnp.abs  # noqa: A001 - lax's name
acos, acosh, asin, asinh = jnp.arccos, jnp.arccosh, jnp.arcsin, jnp.arcsinh
atan, atanh, atan2 = jnp.arctan, jnp.arctanh, jnp.arctan2
ceil, floor, cos, cosh, sin, sinh, tan, tanh = (jnp.ceil, jnp.floor, jnp.cos, jnp.cosh, jnp.sin,
                                                jnp.sinh, jnp.tan, jnp.tanh)
exp, exp2, expm1, log, log1p, sqrt, square = (jnp.exp, jnp.exp2, jnp.expm1, jnp.log, jnp.log1p,
                                              jnp.sqrt, jnp.square)
sign, neg, is_finite, reciprocal = jnp.sign, jnp.negative, jnp.isfinite, jnp.reciprocal
eq, ge, gt, le, lt = jnp.equal, jnp.greater_equal, jnp.greater, jnp.less_equal, jnp.less
sub, mul, pow = jnp.subtract, jnp.multiply, jnp.power  # noqa: A001
max, min = jnp.maximum, jnp.minimum  # noqa: A001 - NaN-propagating, as lax's


def _integer(x: Any) -> bool:
    return np.issubdtype(jnp.result_type(x), np.integer)


def _bitwise(name: str, logical: Callable[..., Any]) -> Callable[..., Any]:
    """lax's bitwise op: numpy's on integers, the logical one on booleans."""
    def op(*xs: Any) -> Any:
        if any(_integer(x) for x in xs):
            return getattr(jnp, name)(*xs)
        return logical(*xs)

    op.__name__ = op.__qualname__ = "bitwise_not" if name == "invert" else name
    args = ", ".join(["np.array([True, False])"] * (2 if name != "invert" else 1))
    op.__doc__ = (f"lax's ``{op.__name__}``: numpy's ``{name}`` on integers, the logical "
                  f"operation on booleans.\n\n>>> {op.__name__}({args})\n"
                  f"{logical(*[np.array([True, False])] * (2 if name != 'invert' else 1))!r}")
    return op


bitwise_and = _bitwise("bitwise_and", jnp.logical_and)
bitwise_or = _bitwise("bitwise_or", jnp.logical_or)
bitwise_xor = _bitwise("bitwise_xor", jnp.logical_xor)
bitwise_not = _bitwise("invert", jnp.logical_not)


def shift_left(x: Any, y: Any) -> Any:
    """``x << y`` (integers).

    >>> shift_left(np.array([1, 3]), 2)
    array([ 4, 12])
    """
    return jnp.left_shift(x, y)


def shift_right_arithmetic(x: Any, y: Any) -> Any:
    """``x >> y`` keeping the sign (numpy's ``right_shift`` on signed integers).

    >>> shift_right_arithmetic(np.array([-8, 8]), 2)
    array([-2,  2])
    """
    return jnp.right_shift(x, y)


def rsqrt(x: Any) -> Any:
    """``1 / sqrt(x)``.

    >>> rsqrt(np.array([4.0, 0.25]))
    array([0.5, 2. ])
    """
    return 1.0 / jnp.sqrt(x)


def logistic(x: Any) -> Any:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, without overflow.

    >>> logistic(np.array([0.0]))
    array([0.5])
    """
    return _special().expit(x)


def erf(x: Any) -> Any:
    """The error function.

    >>> erf(np.array([0.0]))
    array([0.])
    """
    return _special().erf(x)


def erfc(x: Any) -> Any:
    """The complementary error function, ``1 - erf(x)``.

    >>> erfc(np.array([0.0]))
    array([1.])
    """
    return _special().erfc(x)


def erf_inv(x: Any) -> Any:
    """The inverse of the error function.

    >>> erf_inv(np.array([0.0]))
    array([0.])
    """
    return _special().erfinv(x)


def lgamma(x: Any) -> Any:
    """``log|Gamma(x)|``.

    >>> lgamma(np.array([1.0, 3.0]))
    array([0.        , 0.69314718])
    """
    return _special().gammaln(x)


def digamma(x: Any) -> Any:
    """The digamma function, d/dx log Gamma(x).

    >>> digamma(np.array([1.0]))
    array([-0.57721566])
    """
    return _special().digamma(x)


def igamma(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function P(a, x).

    >>> igamma(1.0, np.array([0.0]))
    array([0.])
    """
    return _special().gammainc(a, x)


def igammac(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function Q(a, x).

    >>> igammac(1.0, np.array([0.0]))
    array([1.])
    """
    return _special().gammaincc(a, x)


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function I_x(a, b).

    >>> betainc(2.0, 3.0, np.array([0.0, 1.0]))
    array([0., 1.])
    """
    return _special().betainc(a, b, x)


def polygamma(m: Any, x: Any) -> Any:
    """The polygamma function of integer order ``m`` (one order for all ``x``).

    >>> polygamma(1, np.array([1.0]))
    array([1.64493407])
    """
    return _special().polygamma(m, x)


def bessel_i0e(x: Any) -> Any:
    """Exponentially scaled modified Bessel function of order 0, ``exp(-|x|) I0(x)``.

    >>> bessel_i0e(np.array([0.0]))
    array([1.])
    """
    return _special().i0e(x)


def bessel_i1e(x: Any) -> Any:
    """Exponentially scaled modified Bessel function of order 1, ``exp(-|x|) I1(x)``.

    >>> bessel_i1e(np.array([0.0]))
    array([0.])
    """
    return _special().i1e(x)


def integer_pow(x: Any, y: int) -> Any:
    """``x ** y`` for a Python integer ``y`` (negative ``y``: floating ``x`` only).

    >>> integer_pow(np.array([1.5, -2.0]), 3)
    array([ 3.375, -8.   ])
    """
    if not isinstance(y, int | np.integer):
        raise JitgradTypeError(f"lax.integer_pow: the exponent must be a Python int, got "
                               f"{type(y).__name__}")
    return jnp.power(x, int(y))


def _trunc_div(x: Any, y: Any) -> Any:
    q = jnp.floor_divide(x, y)
    # numpy's floor differs from C's truncation by one where the signs differ and y does
    # not divide x
    inexact = jnp.logical_and(jnp.not_equal(jnp.remainder(x, y), 0),
                              jnp.not_equal(jnp.less(x, 0), jnp.less(y, 0)))
    return jnp.where(inexact, q + 1, q)


def div(x: Any, y: Any) -> Any:
    """``x / y``; integers are divided rounding toward zero (C's rule, lax's), not down.

    >>> div(np.array([7, -7]), np.array([2, 2]))
    array([ 3, -3])
    """
    if _integer(x) and _integer(y):
        return _trunc_div(x, y)
    return jnp.true_divide(x, y)


def rem(x: Any, y: Any) -> Any:
    """The remainder of ``div``: the sign of ``x`` (C's ``fmod``, lax's), not of ``y``.

    >>> rem(np.array([7, -7]), np.array([2, 2]))
    array([ 1, -1])
    """
    if _integer(x) and _integer(y):
        return x - y * _trunc_div(x, y)
    return jnp.fmod(x, y)


class RoundingMethod(enum.IntEnum):
    """lax.round's rule for halves."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x: Any, rounding_method: Any = RoundingMethod.AWAY_FROM_ZERO) -> Any:  # noqa: A001
    """Round to the nearest integer; halves away from zero (lax's default) or to even.

    >>> round(np.array([0.5, 1.5, -2.5, 0.49999999999999994]))
    array([ 1.,  2., -3.,  0.])
    """
    if RoundingMethod(rounding_method) == RoundingMethod.TO_NEAREST_EVEN:
        return jnp.rint(x)
    t = jnp.trunc(x)
    # x - trunc(x) is exact, so halves are recognised exactly (floor(x + 0.5) is not: it
    # rounds 0.49999999999999994 up)
    return jnp.where(jnp.abs(x - t) >= 0.5, t + jnp.sign(x), t)


def clamp(min: Any, x: Any, max: Any) -> Any:  # noqa: A002 - lax's names
    """``x`` clipped to ``[min, max]`` (lax's argument order).

    >>> clamp(0.0, np.array([-1.0, 0.5, 2.0]), 1.0)
    array([0. , 0.5, 1. ])
    """
    return jnp.minimum(jnp.maximum(x, min), max)


def select_n(which: Any, *cases: Any) -> Any:
    """``cases[which]`` elementwise: ``which`` boolean (two cases) or integer.

    >>> select_n(np.array([True, False]), np.zeros(2), np.ones(2))
    array([1., 0.])
    """
    if not cases:
        raise ShapeError("lax.select_n: at least one case is needed")
    if len(cases) == 1:
        return jnp.asarray(cases[0])
    if jnp.result_type(which) == np.bool_:
        if len(cases) != 2:
            raise ShapeError(f"lax.select_n: a boolean selector takes 2 cases, got "
                             f"{len(cases)}")
        return jnp.where(which, cases[1], cases[0])
    out = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        out = jnp.where(jnp.equal(which, i), cases[i], out)
    return out


# --- structural -------------------------------------------------------------------------------


def broadcast(operand: Any, sizes: Sequence[int]) -> Any:
    """``operand`` with new leading dimensions ``sizes``.

    >>> broadcast(np.ones(3), (2,)).shape
    (2, 3)
    """
    x = jnp.asarray(operand)
    return jnp.broadcast_to(x, tuple(sizes) + tuple(x.shape))


def broadcast_in_dim(operand: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]
                     ) -> Any:
    """``operand`` broadcast to ``shape``, its dimension ``i`` becoming dimension
    ``broadcast_dimensions[i]`` (of the same size, or from size 1).

    >>> broadcast_in_dim(np.array([1.0, 2.0]), (3, 2), (1,)).shape
    (3, 2)
    """
    x = jnp.asarray(operand)
    dims = tuple(broadcast_dimensions)
    if len(dims) != x.ndim or sorted(dims) != list(dims) or len(set(dims)) != len(dims) \
            or any(not 0 <= d < len(shape) for d in dims):
        raise ShapeError(f"lax.broadcast_in_dim: broadcast_dimensions {dims} must be "
                         f"increasing positions in {tuple(shape)}, one per dimension of the "
                         f"operand {tuple(x.shape)}")
    placed = [1] * len(shape)
    for i, d in enumerate(dims):
        if x.shape[i] not in (1, shape[d]):
            raise ShapeError(f"lax.broadcast_in_dim: operand dimension {i} of size "
                             f"{x.shape[i]} cannot become dimension {d} of size {shape[d]}")
        placed[d] = x.shape[i]
    return jnp.broadcast_to(jnp.reshape(x, tuple(placed)), tuple(shape))


def broadcast_to_rank(x: Any, rank: int) -> Any:
    """``x`` with leading size-1 dimensions up to ``rank``.

    >>> broadcast_to_rank(np.ones(3), 3).shape
    (1, 1, 3)
    """
    x = jnp.asarray(x)
    return jnp.reshape(x, (1,) * (rank - x.ndim) + tuple(x.shape)) if x.ndim < rank else x


def iota(dtype: Any, size: int) -> Any:
    """``0, 1, ..., size - 1`` in ``dtype``.

    >>> iota(np.int32, 3)
    array([0, 1, 2], dtype=int32)
    """
    return jnp.arange(size, dtype=dtype)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int) -> Any:
    """Indices along ``dimension``, broadcast to ``shape``.

    >>> broadcasted_iota(np.int32, (2, 3), 1)
    array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    shape = tuple(shape)
    return broadcast_in_dim(jnp.arange(shape[dimension], dtype=dtype), shape, (dimension,))


def collapse(operand: Any, start_dimension: int, stop_dimension: int | None = None) -> Any:
    """Dimensions ``start_dimension:stop_dimension`` merged into one.

    >>> collapse(np.ones((2, 3, 4)), 1).shape
    (2, 12)
    """
    x = jnp.asarray(operand)
    stop = x.ndim if stop_dimension is None else stop_dimension
    shape = tuple(x.shape)
    return jnp.reshape(x, shape[:start_dimension] + (-1,) + shape[stop:])


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    """``operands`` joined along ``dimension``.

    >>> concatenate([np.ones(2), np.zeros(1)], 0)
    array([1., 1., 0.])
    """
    return jnp.concatenate(list(operands), axis=dimension)


def expand_dims(array: Any, dimensions: Sequence[int]) -> Any:
    """``array`` with size-1 dimensions inserted at ``dimensions``.

    >>> expand_dims(np.ones(3), (0,)).shape
    (1, 3)
    """
    return jnp.expand_dims(array, tuple(dimensions))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value``.

    >>> full((2,), 3.0)
    array([3., 3.])
    """
    return jnp.full(shape, fill_value, dtype=dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """An array like ``x`` (or of ``shape``) filled with ``fill_value``.

    >>> full_like(np.zeros(2, np.int32), 7)
    array([7, 7], dtype=int32)
    """
    x = jnp.asarray(x)
    return jnp.full(x.shape if shape is None else shape, fill_value,
                    dtype=x.dtype if dtype is None else dtype)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True) -> Any:
    """Entry ``index`` of ``axis`` (kept as a size-1 dimension with ``keepdims``).

    >>> index_in_dim(np.arange(6).reshape(2, 3), 1, axis=1, keepdims=False)
    array([1, 4])
    """
    x = jnp.asarray(operand)
    index = index + x.shape[axis] if index < 0 else index
    out = slice_in_dim(x, index, index + 1, axis=axis)
    return out if keepdims else jnp.squeeze(out, axis)


def slice_in_dim(operand: Any, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0) -> Any:
    """``operand[start:limit:stride]`` along ``axis`` (negative indices count from the end).

    >>> slice_in_dim(np.arange(6), 1, None, 2)
    array([1, 3, 5])
    """
    x = jnp.asarray(operand)
    n = x.shape[axis]
    start = 0 if start_index is None else start_index + n if start_index < 0 else start_index
    limit = n if limit_index is None else limit_index + n if limit_index < 0 else limit_index
    index = [builtins.slice(None)] * x.ndim
    index[axis] = builtins.slice(start, limit, stride)
    return x[tuple(index)]


def slice(operand: Any, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None) -> Any:
    """``operand[start:limit:stride]`` in every dimension.

    >>> slice(np.arange(10), (2,), (8,), (3,))
    array([2, 5])
    """
    x = jnp.asarray(operand)
    strides = (1,) * x.ndim if strides is None else tuple(strides)
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise ShapeError(f"lax.slice: start_indices, limit_indices and strides need one entry "
                         f"per dimension of the operand {tuple(x.shape)}")
    return x[tuple(builtins.slice(a, b, s)
                   for a, b, s in zip(start_indices, limit_indices, strides, strict=True))]


def pad(operand: Any, padding_value: Any, padding_config: Sequence[tuple[int, int, int]]
        ) -> Any:
    """``operand`` with, per dimension, ``(low, high, interior)`` copies of
    ``padding_value`` before, after and between its elements; negative ``low``/``high``
    remove elements instead.

    >>> pad(np.array([1.0, 2.0, 3.0]), 0.0, [(1, -1, 1)])
    array([0., 1., 0., 2., 0.])
    """
    x = jnp.asarray(operand)
    config = [tuple(c) for c in padding_config]
    if len(config) != x.ndim or any(len(c) != 3 or c[2] < 0 for c in config):
        raise ShapeError(f"lax.pad: padding_config needs one (low, high, interior >= 0) per "
                         f"dimension of the operand {tuple(x.shape)}, got {padding_config}")
    value = jnp.asarray(padding_value).astype(x.dtype)
    for axis, (low, high, interior) in enumerate(config):
        n = x.shape[axis]
        if interior and n > 1:
            # each element followed by `interior` fills, as one reshape; the trailing fills
            # are then cut
            fill_shape = x.shape[:axis + 1] + (interior,) + x.shape[axis + 1:]
            grown = jnp.concatenate([jnp.expand_dims(x, axis + 1),
                                     jnp.broadcast_to(value, fill_shape)], axis=axis + 1)
            x = slice_in_dim(jnp.reshape(grown, x.shape[:axis] + (-1,) + x.shape[axis + 1:]),
                             0, n + (n - 1) * interior, axis=axis)
        parts = []
        if low > 0:
            parts.append(jnp.broadcast_to(value, x.shape[:axis] + (low,) + x.shape[axis + 1:]))
        parts.append(slice_in_dim(x, builtins.max(-low, 0),
                                  x.shape[axis] - builtins.max(-high, 0), axis=axis))
        if high > 0:
            parts.append(jnp.broadcast_to(value, x.shape[:axis] + (high,) + x.shape[axis + 1:]))
        x = jnp.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]
    return x


def reshape(operand: Any, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None
            ) -> Any:
    """``operand`` (first transposed by ``dimensions``) in the shape ``new_sizes``.

    >>> reshape(np.arange(6).reshape(2, 3), (3, 2), (1, 0))
    array([[0, 3],
           [1, 4],
           [2, 5]])
    """
    x = jnp.asarray(operand)
    if dimensions is not None:
        x = jnp.transpose(x, tuple(dimensions))
    return jnp.reshape(x, tuple(new_sizes))


def rev(operand: Any, dimensions: Sequence[int]) -> Any:
    """``operand`` reversed along ``dimensions``.

    >>> rev(np.arange(3), (0,))
    array([2, 1, 0])
    """
    return jnp.flip(operand, tuple(dimensions)) if len(dimensions) else jnp.asarray(operand)


def squeeze(array: Any, dimensions: Sequence[int]) -> Any:
    """``array`` without its size-1 ``dimensions``.

    >>> squeeze(np.ones((1, 3)), (0,)).shape
    (3,)
    """
    return jnp.squeeze(array, tuple(dimensions))


def tile(operand: Any, reps: Sequence[int]) -> Any:
    """``operand`` repeated ``reps`` times along each dimension.

    >>> tile(np.array([1, 2]), (2,))
    array([1, 2, 1, 2])
    """
    return jnp.tile(operand, tuple(reps))


def split(operand: Any, sizes: Sequence[int], axis: int = 0) -> list[Any]:
    """``operand`` cut along ``axis`` into pieces of ``sizes`` (summing to its length).

    >>> [p.tolist() for p in split(np.arange(5), (2, 3))]
    [[0, 1], [2, 3, 4]]
    """
    x = jnp.asarray(operand)
    if sum(sizes) != x.shape[axis]:
        raise ShapeError(f"lax.split: sizes {tuple(sizes)} do not add up to dimension {axis} "
                         f"of the operand {tuple(x.shape)}")
    bounds = np.cumsum([0, *sizes])
    return [slice_in_dim(x, int(a), int(b), axis=axis)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# --- reductions -------------------------------------------------------------------------------


def reduce_sum(operand: Any, axes: Sequence[int]) -> Any:
    """Sum over ``axes``.

    >>> reduce_sum(np.array([[2.0, 3.0]]), (0, 1))
    np.float64(5.0)
    """
    return jnp.sum(operand, axis=tuple(axes))


def reduce_prod(operand: Any, axes: Sequence[int]) -> Any:
    """Product over ``axes``.

    >>> reduce_prod(np.array([[2.0, 3.0]]), (1,))
    array([6.])
    """
    return jnp.prod(operand, axis=tuple(axes))


def reduce_max(operand: Any, axes: Sequence[int]) -> Any:
    """Maximum over ``axes``.

    >>> reduce_max(np.array([[1.0, 3.0]]), (1,))
    array([3.])
    """
    return jnp.max(operand, axis=tuple(axes))


def reduce_min(operand: Any, axes: Sequence[int]) -> Any:
    """Minimum over ``axes``.

    >>> reduce_min(np.array([[1.0, 3.0]]), (1,))
    array([1.])
    """
    return jnp.min(operand, axis=tuple(axes))


def reduce_and(operand: Any, axes: Sequence[int]) -> Any:
    """Logical and over ``axes``.

    >>> reduce_and(np.array([[True, False]]), (1,))
    array([False])
    """
    return jnp.all(operand, axis=tuple(axes))


def reduce_or(operand: Any, axes: Sequence[int]) -> Any:
    """Logical or over ``axes``.

    >>> reduce_or(np.array([[True, False]]), (1,))
    array([ True])
    """
    return jnp.any(operand, axis=tuple(axes))


def argmax(operand: Any, axis: int, index_dtype: Any = np.int32) -> Any:
    """Index of the largest entry along ``axis``, as ``index_dtype``.

    >>> argmax(np.array([[1.0, 3.0, 2.0]]), 1)
    array([1], dtype=int32)
    """
    return jnp.argmax(operand, axis=axis).astype(index_dtype)


def argmin(operand: Any, axis: int, index_dtype: Any = np.int32) -> Any:
    """Index of the smallest entry along ``axis``, as ``index_dtype``.

    >>> argmin(np.array([[1.0, 3.0, 0.5]]), 1)
    array([2], dtype=int32)
    """
    return jnp.argmin(operand, axis=axis).astype(index_dtype)


def _tree_fold(computation: Callable[..., Any], xs: list[Any], inits: list[Any],
               tree: Any) -> list[Any]:
    """Fold axis 0 of every array in ``xs`` with ``computation`` (on pytrees shaped like
    ``tree``) in log2(n) rounds of pairwise combination, padding odd lengths with ``inits``;
    the result is combined with ``inits`` last (lax.reduce's contract: an associative
    computation whose identity is the initial value)."""
    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out, _ = tree_flatten(computation(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        return [jnp.asarray(o) for o in out]

    while xs[0].shape[0] > 1:
        if xs[0].shape[0] % 2:
            xs = [jnp.concatenate([x, jnp.broadcast_to(i, (1,) + x.shape[1:]).astype(x.dtype)])
                  for x, i in zip(xs, inits, strict=True)]
        xs = combine([x[0::2] for x in xs], [x[1::2] for x in xs])
    if xs[0].shape[0] == 0:
        return [jnp.broadcast_to(i, x.shape[1:]).astype(x.dtype)
                for x, i in zip(xs, inits, strict=True)]
    return combine([jnp.broadcast_to(i, x.shape[1:]).astype(x.dtype)
                    for x, i in zip(xs, inits, strict=True)], [x[0] for x in xs])


def reduce(operands: Any, init_values: Any, computation: Callable[..., Any],
           dimensions: Sequence[int]) -> Any:
    """Reduce ``operands`` (an array or a pytree of arrays of one shape) over
    ``dimensions`` with ``computation``, an associative function of two such pytrees whose
    identity is ``init_values``.

    >>> reduce(np.arange(6.0).reshape(2, 3), 0.0, max, (1,))
    array([2., 5.])
    """
    xs, tree = tree_flatten(operands)
    inits, init_tree = tree_flatten(init_values)
    if init_tree != tree:
        raise ShapeError(f"lax.reduce: init_values {init_tree} must have the structure of "
                         f"the operands {tree}")
    xs = [jnp.asarray(x) for x in xs]
    dims = sorted({d % xs[0].ndim for d in dimensions})
    if any(x.shape != xs[0].shape for x in xs):
        raise ShapeError(f"lax.reduce: the operands' shapes differ: "
                         f"{[tuple(x.shape) for x in xs]}")
    keep = [d for d in range(xs[0].ndim) if d not in dims]
    kept = tuple(xs[0].shape[d] for d in keep)
    flat = [jnp.reshape(jnp.transpose(x, tuple(dims) + tuple(keep)), (-1,) + kept) for x in xs]
    return tree_unflatten(tree, _tree_fold(computation, flat, inits, tree))


# --- cumulative -------------------------------------------------------------------------------


def _cumulative(fn: Callable[[Any, int], Any], operand: Any, axis: int, reverse: bool) -> Any:
    x = jnp.asarray(operand)
    if reverse:
        return jnp.flip(fn(jnp.flip(x, axis), axis), axis)
    return fn(x, axis)


def cumsum(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Running sum along ``axis`` (from the end with ``reverse``), in the operand's dtype.

    >>> cumsum(np.array([1.0, 2.0, 3.0]), reverse=True)
    array([6., 5., 3.])
    """
    return _cumulative(lambda x, a: jnp.cumsum(x, axis=a, dtype=x.dtype), operand, axis,
                       reverse)


def cumprod(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Running product along ``axis`` (from the end with ``reverse``), in the operand's dtype.

    >>> cumprod(np.array([1, 2, 3]))
    array([1, 2, 6])
    """
    return _cumulative(lambda x, a: jnp.cumprod(x, axis=a, dtype=x.dtype), operand, axis,
                       reverse)


def cummax(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Running maximum along ``axis`` (from the end with ``reverse``).

    >>> cummax(np.array([1.0, 3.0, 2.0]))
    array([1., 3., 3.])
    """
    return _cumulative(lambda x, a: jnp.maximum.accumulate(x, axis=a), operand, axis, reverse)


def cummin(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Running minimum along ``axis`` (from the end with ``reverse``).

    >>> cummin(np.array([1.0, 3.0, 0.0]), reverse=True)
    array([0., 0., 0.])
    """
    return _cumulative(lambda x, a: jnp.minimum.accumulate(x, axis=a), operand, axis, reverse)


def cumlogsumexp(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """``log(cumsum(exp(operand)))`` without overflow or underflow (each prefix is
    combined by ``logaddexp``, not shifted by one maximum for the whole axis).

    >>> cumlogsumexp(np.array([0.0, 0.0]))
    array([0.        , 0.69314718])
    """
    return associative_scan(jnp.logaddexp, jnp.asarray(operand), reverse=reverse, axis=axis)


def associative_scan(fn: Callable[[Any, Any], Any], elems: Any, reverse: bool = False,
                     axis: int = 0) -> Any:
    """All prefix combinations ``fn(...fn(fn(e[0], e[1]), e[2])..., e[i])`` along ``axis``
    of every array in the pytree ``elems``, for an associative ``fn`` of two pytrees, in
    O(log n) rounds of slicing (the odd/even recursion of parallel prefix sums, e.g.
    Blelloch, "Prefix sums and their applications", 1990). ``reverse`` scans from the end
    (JAX's: the scan of the reversed sequence, reversed).

    >>> associative_scan(lambda a, b: a + b, np.arange(1.0, 6.0))
    array([ 1.,  3.,  6., 10., 15.])
    """
    leaves, tree = tree_flatten(elems)
    if not leaves:
        return elems
    leaves = [jnp.moveaxis(jnp.asarray(x), axis, 0) for x in leaves]
    n = leaves[0].shape[0]
    if any(x.shape[0] != n for x in leaves):
        raise ShapeError(f"lax.associative_scan: the arrays' lengths along axis {axis} "
                         f"differ: {[x.shape[0] for x in leaves]}")

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out, _ = tree_flatten(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        return [jnp.asarray(o) for o in out]

    def scan(xs: list[Any]) -> list[Any]:
        n = xs[0].shape[0]
        if n < 2:
            return xs
        odd = scan(combine([x[0:-1:2] for x in xs], [x[1::2] for x in xs]))  # prefixes 1, 3..
        # prefixes 2, 4, ...: the one before it combined with the element
        later = combine([o[:(n - 1) // 2] for o in odd], [x[2::2] for x in xs])
        even = [jnp.concatenate([x[:1], e]) for x, e in zip(xs, later, strict=True)]
        out = []
        for e, o in zip(even, odd, strict=True):
            pairs = jnp.stack([e[:o.shape[0]], o], axis=1)
            merged = jnp.reshape(pairs, (2 * o.shape[0],) + tuple(o.shape[1:]))
            out.append(jnp.concatenate([merged, e[o.shape[0]:]]) if n % 2 else merged)
        return out

    if reverse:
        leaves = [jnp.flip(x, 0) for x in leaves]
    out = scan(leaves)
    if reverse:
        out = [jnp.flip(x, 0) for x in out]
    return tree_unflatten(tree, [jnp.moveaxis(x, 0, axis) for x in out])


# --- contractions -----------------------------------------------------------------------------


def _preferred(x: Any, preferred_element_type: Any) -> Any:
    return x if preferred_element_type is None else x.astype(preferred_element_type)


def dot(lhs: Any, rhs: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Vector-vector, matrix-vector or matrix-matrix product (``precision`` is accepted and
    ignored: products are in their dtype's precision).

    >>> dot(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    lhs, rhs = jnp.asarray(lhs), jnp.asarray(rhs)
    if lhs.ndim not in (1, 2) or rhs.ndim not in (1, 2):
        raise ShapeError(f"lax.dot: operands of rank 1 or 2, got {tuple(lhs.shape)} and "
                         f"{tuple(rhs.shape)} (use lax.dot_general)")
    return _preferred(jnp.dot(lhs, rhs), preferred_element_type)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def dot_general(lhs: Any, rhs: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None, out_sharding: Any = None) -> Any:
    """The contraction ``(((lhs_contracting), (rhs_contracting)), ((lhs_batch),
    (rhs_batch)))``; the result's dimensions are the batch ones, then lhs's free ones, then
    rhs's, each in order.

    >>> dot_general(np.ones((2, 3, 4)), np.ones((2, 4, 5)), (((2,), (1,)), ((0,), (0,)))).shape
    (2, 3, 5)
    """
    lhs, rhs = jnp.asarray(lhs), jnp.asarray(rhs)
    (lc, rc), (lb, rb) = ((tuple(a), tuple(b)) for a, b in dimension_numbers)
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise ShapeError(f"lax.dot_general: dimension_numbers {dimension_numbers} pair "
                         f"unequal numbers of dimensions")
    for a, b in (*zip(lc, rc, strict=True), *zip(lb, rb, strict=True)):
        if lhs.shape[a] != rhs.shape[b]:
            raise ShapeError(f"lax.dot_general: lhs dimension {a} (size {lhs.shape[a]}) is "
                             f"paired with rhs dimension {b} (size {rhs.shape[b]}) in "
                             f"{tuple(lhs.shape)} x {tuple(rhs.shape)}")
    letters = iter(_LETTERS)
    ls = [next(letters) for _ in range(lhs.ndim)]
    rs = [next(letters) for _ in range(rhs.ndim)]
    for a, b in (*zip(lc, rc, strict=True), *zip(lb, rb, strict=True)):
        rs[b] = ls[a]
    out = [ls[d] for d in lb] + [ls[d] for d in range(lhs.ndim) if d not in lc + lb] \
        + [rs[d] for d in range(rhs.ndim) if d not in rc + rb]
    spec = f"{''.join(ls)},{''.join(rs)}->{''.join(out)}"
    return _preferred(jnp.einsum(spec, lhs, rhs), preferred_element_type)


def batch_matmul(lhs: Any, rhs: Any, precision: Any = None) -> Any:
    """Batched matrix product (``precision`` ignored).

    >>> batch_matmul(np.ones((2, 1, 3)), np.ones((2, 3, 1))).shape
    (2, 1, 1)
    """
    return jnp.matmul(lhs, rhs)


# --- sorting ----------------------------------------------------------------------------------


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort along ``dimension``; a tuple of operands is sorted together,
    lexicographically by its first ``num_keys`` (NaNs last, ties in their original order).

    >>> sort((np.array([2, 1, 2, 1]), np.array([0.0, 1.0, 2.0, 3.0])))
    (array([1, 1, 2, 2]), array([1., 3., 0., 2.]))
    """
    if not isinstance(operand, tuple | list):
        return jnp.sort(operand, axis=dimension)
    ops = [jnp.asarray(o) for o in operand]
    if not 1 <= num_keys <= len(ops):
        raise ShapeError(f"lax.sort: num_keys must be 1..{len(ops)}, got {num_keys}")
    order = None
    for key in reversed(ops[:num_keys]):  # stable sorts, least significant key first
        k = key if order is None else jnp.take_along_axis(key, order, axis=dimension)
        step = jnp.argsort(k, axis=dimension, stable=True)
        order = step if order is None else jnp.take_along_axis(order, step, axis=dimension)
    return tuple(jnp.take_along_axis(o, order, axis=dimension) for o in ops)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True
                 ) -> tuple[Any, Any]:
    """``keys`` sorted along ``dimension`` and ``values`` in the same order.

    >>> sort_key_val(np.array([2, 1]), np.array([0.5, 1.5]))
    (array([1, 2]), array([1.5, 0.5]))
    """
    return sort((keys, values), dimension=dimension, num_keys=1)


def top_k(operand: Any, k: int) -> tuple[Any, Any]:
    """The ``k`` largest entries along the last axis, largest first (ties: lower index
    first), and their int32 indices.

    >>> top_k(np.array([1.0, 3.0, 2.0]), 2)
    (array([3., 2.]), array([1, 2], dtype=int32))
    """
    x = jnp.asarray(operand)
    if not 0 <= k <= x.shape[-1]:
        raise ShapeError(f"lax.top_k: k = {k} out of range for a last axis of "
                         f"{x.shape[-1]}")
    idx = jnp.argsort(x, axis=-1, stable=True, descending=True)[..., :k]
    return jnp.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)
