"""Reductions over any set of axes: sum, max, min, prod, and (non-differentiable) argmax/argmin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import Host, Primitive, Reduce, RuleFactory, ShapedArray, aval_of, register
from jitgrad.errors import ShapeError
from jitgrad.prims.elementwise import add, convert_element_type, div, eq, mul
from jitgrad.prims.structural import (
    broadcast_in_dim,
    concatenate,
    front_rule,
    reshape,
    slice_,
    transpose,
)
from jitgrad.prims.testcases import draw, view_of


def _reduce_rule(name: str, allow_empty: bool) -> Callable[..., ShapedArray]:
    def rule(x: ShapedArray, *, axes: tuple[int, ...]) -> ShapedArray:
        if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.ndim for a in axes):
            raise ShapeError(f"{name}: axes {axes} invalid for shape {x.shape}")
        if x.dtype == np.bool_:
            raise ShapeError(f"{name}: boolean operand {x}; convert it to a number first")
        if not allow_empty and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"{name}: zero-size axis in {x.shape} has no identity to reduce "
                             f"to (axes={axes})")
        return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)
    return rule


def kept_dims(ndim: int, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def expand(y: Any, x_shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Broadcast a reduced result back over the reduced axes."""
    return broadcast_in_dim(y, x_shape, kept_dims(len(x_shape), axes))


def _reduce_cases(positive: bool = False) -> Callable[..., list]:
    dom = (0.5, 1.5) if positive else (-2, 2)

    def cases(rng: np.random.Generator, dt: Any) -> list:
        return [
            ((draw(rng, (3,), dt, dom),), {"axes": (0,)}),
            ((draw(rng, (2, 3), dt, dom),), {"axes": (1,)}),
            ((draw(rng, (2, 3), dt, dom),), {"axes": (0, 1)}),
            ((draw(rng, (2, 3, 4), dt, dom),), {"axes": (0, 2)}),
            ((draw(rng, (), dt, dom),), {"axes": ()}),
            ((view_of(draw(rng, (2, 3), dt, dom), "strided"),), {"axes": (0,)}),
            ((view_of(draw(rng, (2, 3), dt, dom), "reversed"),), {"axes": (1,)}),
            # integer-valued floats: ties for max/min (not differentiable there: no finite
            # differences, only the vjp-vs-jvp identity), exact zeros for prod
            ((draw(rng, (4, 3), dt, kind="int"),), {"axes": (0,)}, {"fd": False}),
        ]
    return cases


# --- reduce_sum -----------------------------------------------------------------------------

def _shift_axes(b: int, axes: tuple[int, ...]) -> dict:
    return {"axes": tuple(a + 1 for a in axes)}


reduce_sum_p = register(Primitive(
    "reduce_sum", _reduce_rule("reduce_sum", True),
    lambda x, *, axes: np.sum(x, axis=axes, dtype=np.asarray(x).dtype), Reduce("sum"),
    linear=True, batch=front_rule(_shift_axes),
    vjp=lambda cts, ins, outs, *, axes: [expand(cts[0], aval_of(ins[0]).shape, axes)],
    test_cases=lambda rng, dt: _reduce_cases()(rng, dt) + [
        ((draw(rng, (0, 3), dt),), {"axes": (0,)}),
        ((draw(rng, (2, 0), dt),), {"axes": (0,)})]))


def reduce_sum(x: Any, axes: Sequence[int]) -> Any:
    axes = tuple(sorted(int(a) for a in axes))
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)


# --- reduce_max / reduce_min: the cotangent is shared equally among tied extrema ------------


def _argext_share(x: Any, out: Any, axes: tuple[int, ...]) -> Any:
    """1/count at the positions equal to the extremum, 0 elsewhere."""
    shape = aval_of(x).shape
    dtype = aval_of(x).dtype
    mask = eq(x, expand(out, shape, axes))
    fmask = convert_element_type(mask, dtype)
    count = reduce_sum(fmask, axes)
    return div(fmask, expand(count, shape, axes))


@RuleFactory
def _ext_jvp(prim: Primitive) -> Callable[..., tuple[Any, Any]]:
    def jvp(primals: list[Any], tangents: list[Any], *, axes: tuple[int, ...]
            ) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        return out, reduce_sum(mul(t, _argext_share(x, out, axes)), axes)
    return jvp


def _ext_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axes: tuple[int, ...]
             ) -> list[Any]:
    x, = ins
    return [mul(expand(cts[0], aval_of(x).shape, axes), _argext_share(x, outs[0], axes))]


reduce_max_p = register(Primitive(
    "reduce_max", _reduce_rule("reduce_max", False), lambda x, *, axes: np.max(x, axis=axes),
    Reduce("max"), jvp=_ext_jvp, vjp=_ext_vjp, batch=front_rule(_shift_axes),
    test_cases=_reduce_cases()))
reduce_min_p = register(Primitive(
    "reduce_min", _reduce_rule("reduce_min", False), lambda x, *, axes: np.min(x, axis=axes),
    Reduce("min"), jvp=_ext_jvp, vjp=_ext_vjp, batch=front_rule(_shift_axes),
    test_cases=_reduce_cases()))


def reduce_max(x: Any, axes: Sequence[int]) -> Any:
    return reduce_max_p.bind(x, axes=tuple(sorted(int(a) for a in axes)))


def reduce_min(x: Any, axes: Sequence[int]) -> Any:
    return reduce_min_p.bind(x, axes=tuple(sorted(int(a) for a in axes)))


# --- reduce_prod: derivatives through a tree of pairwise products ---------------------------
# Writing prod as log2(n) levels of elementwise multiplications makes its derivatives (of any
# order) those of mul: exact where elements are zero, where prod/x would divide by zero.


def _prod_tree(x: Any, axes: tuple[int, ...]) -> tuple[list[Any], int, int]:
    """Move the reduced axes first and flatten to ``(n, m)``; return the padded inputs of each
    level of pairwise products (``2h`` rows each), with ``n`` and ``m``."""
    shape = aval_of(x).shape
    kept = kept_dims(len(shape), axes)
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    m = int(np.prod([shape[a] for a in kept], dtype=np.int64))
    p = reshape(transpose(x, axes + kept), (n, m))
    levels = []
    while n > 1:
        if n % 2:
            p = concatenate([p, broadcast_in_dim(np.ones((), aval_of(x).dtype)[()], (1, m), ())],
                            0)
            n += 1
        levels.append(p)
        p = mul(_rows(p, 0, n // 2), _rows(p, n // 2, n // 2))
        n //= 2
    return levels, int(np.prod([shape[a] for a in axes], dtype=np.int64)), m


def _rows(p: Any, start: int, count: int) -> Any:
    m = aval_of(p).shape[1]
    return slice_(p, (start, 0), (count, m), (1, 1))


def _unflatten(y: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Inverse of the transpose+reshape in _prod_tree, for an ``(n, m)`` array."""
    kept = kept_dims(len(shape), axes)
    perm = axes + kept
    y = reshape(y, tuple(shape[a] for a in perm))
    return transpose(y, tuple(int(i) for i in np.argsort(perm)))


def _prod_jvp(primals: list[Any], tangents: list[Any], *, axes: tuple[int, ...]
              ) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out = reduce_prod(x, axes)
    out_shape = aval_of(out).shape
    levels, n, m = _prod_tree(x, axes)
    if n == 0:
        return out, broadcast_in_dim(np.zeros((), aval_of(x).dtype)[()], out_shape, ())
    tl = reshape(transpose(t, axes + kept_dims(aval_of(x).ndim, axes)), (n, m))
    for q in levels:
        h = aval_of(q).shape[0] // 2
        if aval_of(tl).shape[0] < 2 * h:
            tl = concatenate([tl, broadcast_in_dim(np.zeros((), aval_of(x).dtype)[()], (1, m),
                                                   ())], 0)
        tl = add(mul(_rows(tl, 0, h), _rows(q, h, h)), mul(_rows(q, 0, h), _rows(tl, h, h)))
    return out, reshape(tl, out_shape)


def _prod_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axes: tuple[int, ...]
              ) -> list[Any]:
    (x,) = ins
    shape = aval_of(x).shape
    levels, n, m = _prod_tree(x, axes)
    if n == 0:
        return [broadcast_in_dim(np.zeros((), aval_of(x).dtype)[()], shape, ())]
    ct = reshape(cts[0], (1, m))
    sizes = [aval_of(q).shape[0] for q in levels]
    unpadded = ([n] + [s // 2 for s in sizes])[:len(levels)]
    for q, rows in zip(reversed(levels), reversed(unpadded), strict=True):
        h = aval_of(q).shape[0] // 2
        ct = concatenate([mul(ct, _rows(q, h, h)), mul(ct, _rows(q, 0, h))], 0)
        ct = _rows(ct, 0, rows)
    return [_unflatten(ct, shape, axes)]


reduce_prod_p = register(Primitive(
    "reduce_prod", _reduce_rule("reduce_prod", True),
    lambda x, *, axes: np.prod(x, axis=axes, dtype=np.asarray(x).dtype), Reduce("prod"),
    jvp=_prod_jvp, vjp=_prod_vjp, batch=front_rule(_shift_axes),
    test_cases=lambda rng, dt: _reduce_cases(positive=True)(rng, dt) + [
        ((np.array([[0.0, 2.0], [0.0, 0.0], [1.5, 0.5]], dt),), {"axes": (1,)}),
        ((np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.0]], dt),), {"axes": (0, 1)}),
        ((draw(rng, (0, 2), dt),), {"axes": (0,)})]))


def reduce_prod(x: Any, axes: Sequence[int]) -> Any:
    axes = tuple(sorted(int(a) for a in axes))
    if not axes:
        return x
    return reduce_prod_p.bind(x, axes=axes)


# --- cumulative sum (linear: its transpose is the cumulative sum in the other direction) -----


def _cumsum_rule(x: ShapedArray, *, axis: int, reverse: bool) -> ShapedArray:
    if not 0 <= axis < x.ndim or x.dtype == np.bool_:
        raise ShapeError(f"cumsum: axis {axis} invalid for {x}")
    return x


def _cumsum_impl(x: Any, *, axis: int, reverse: bool) -> np.ndarray:
    x = np.asarray(x)
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


cumsum_p = register(Primitive(
    "cumsum", _cumsum_rule, _cumsum_impl, Host(), linear=True,
    batch=front_rule(lambda b, axis, reverse: {"axis": axis + 1, "reverse": reverse}),
    vjp=lambda cts, ins, outs, *, axis, reverse: [cumsum(cts[0], axis, not reverse)],
    test_cases=lambda rng, dt: [
        ((draw(rng, (4,), dt),), {"axis": 0, "reverse": False}),
        ((draw(rng, (2, 3), dt),), {"axis": 1, "reverse": True}),
        ((view_of(draw(rng, (3, 2), dt), "reversed"),), {"axis": 0, "reverse": False}),
        ((draw(rng, (0, 2), dt),), {"axis": 0, "reverse": False}),
    ]))


def cumsum(x: Any, axis: int, reverse: bool = False) -> Any:
    return cumsum_p.bind(x, axis=int(axis), reverse=bool(reverse))


# --- argmax / argmin ------------------------------------------------------------------------


def _arg_rule(name: str) -> Callable[..., ShapedArray]:
    def rule(x: ShapedArray, *, axis: int) -> ShapedArray:
        if not 0 <= axis < x.ndim or x.shape[axis] == 0:
            raise ShapeError(f"{name}: axis {axis} invalid or empty for shape {x.shape}")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], np.int64)
    return rule


def _arg_cases(rng: np.random.Generator, dt: Any) -> list:
    return [((draw(rng, (2, 3), dt),), {"axis": 1}),
            ((draw(rng, (4, 3), dt, kind="int"),), {"axis": 0})]


argmax_p = register(Primitive(
    "argmax", _arg_rule("argmax"), lambda x, *, axis: np.argmax(x, axis=axis).astype(np.int64),
    Host(), differentiable=False, test_cases=_arg_cases,
    batch=front_rule(lambda b, axis: {"axis": axis + 1})))
argmin_p = register(Primitive(
    "argmin", _arg_rule("argmin"), lambda x, *, axis: np.argmin(x, axis=axis).astype(np.int64),
    Host(), differentiable=False, test_cases=_arg_cases,
    batch=front_rule(lambda b, axis: {"axis": axis + 1})))
