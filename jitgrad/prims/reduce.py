"""Reductions over any set of axes: sum, max, min, prod, and (non-differentiable) argmax/argmin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import Primitive, ShapedArray, aval_of, register
from jitgrad.errors import ShapeError
from jitgrad.prims.elementwise import (
    and_,
    convert_element_type,
    div,
    eq,
    mul,
    select,
)
from jitgrad.prims.structural import broadcast_in_dim, linear_jvp
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
            # integer-valued floats: ties for max/min, exact zeros for prod
            ((draw(rng, (4, 3), dt, kind="int"),), {"axes": (0,)}),
        ]
    return cases


# --- reduce_sum -----------------------------------------------------------------------------

reduce_sum_p = register(Primitive(
    "reduce_sum", _reduce_rule("reduce_sum", True),
    lambda x, *, axes: np.sum(x, axis=axes, dtype=np.asarray(x).dtype),
    vjp=lambda cts, ins, outs, *, axes: [expand(cts[0], aval_of(ins[0]).shape, axes)],
    test_cases=lambda rng, dt: _reduce_cases()(rng, dt) + [
        ((draw(rng, (0, 3), dt),), {"axes": (0,)}),
        ((draw(rng, (2, 0), dt),), {"axes": (0,)})],
    extra={"linear": True, "reduction": "sum"}))
reduce_sum_p.jvp = linear_jvp(lambda x, **p: reduce_sum_p.bind(x, **p))


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


def _ext_jvp(prim_fn: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    def jvp(primals: list[Any], tangents: list[Any], *, axes: tuple[int, ...]
            ) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim_fn(x, axes=axes)
        return out, reduce_sum(mul(t, _argext_share(x, out, axes)), axes)
    return jvp


def _ext_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axes: tuple[int, ...]
             ) -> list[Any]:
    x, = ins
    return [mul(expand(cts[0], aval_of(x).shape, axes), _argext_share(x, outs[0], axes))]


reduce_max_p = register(Primitive(
    "reduce_max", _reduce_rule("reduce_max", False), lambda x, *, axes: np.max(x, axis=axes),
    vjp=_ext_vjp, test_cases=_reduce_cases(), extra={"reduction": "max"}))
reduce_max_p.jvp = _ext_jvp(reduce_max_p.bind)
reduce_min_p = register(Primitive(
    "reduce_min", _reduce_rule("reduce_min", False), lambda x, *, axes: np.min(x, axis=axes),
    vjp=_ext_vjp, test_cases=_reduce_cases(), extra={"reduction": "min"}))
reduce_min_p.jvp = _ext_jvp(reduce_min_p.bind)


def reduce_max(x: Any, axes: Sequence[int]) -> Any:
    return reduce_max_p.bind(x, axes=tuple(sorted(int(a) for a in axes)))


def reduce_min(x: Any, axes: Sequence[int]) -> Any:
    return reduce_min_p.bind(x, axes=tuple(sorted(int(a) for a in axes)))


# --- reduce_prod: exact at zeros (the product of the other elements) ------------------------


def _prod_partial(x: Any, axes: tuple[int, ...]) -> Any:
    """d prod / d x_i = product of the other elements: with no zero it is prod/x_i, with one
    zero only the zero's position gets the product of the rest, with two or more it is 0."""
    shape, dtype = aval_of(x).shape, aval_of(x).dtype
    is_zero = eq(x, 0)
    n_zeros = reduce_sum(convert_element_type(is_zero, dtype), axes)
    nonzero = select(is_zero, 1, x)
    p_nonzero = expand(reduce_prod(nonzero, axes), shape, axes)
    n_zeros = expand(n_zeros, shape, axes)
    only_this_zero = and_(is_zero, eq(n_zeros, 1))
    return select(eq(n_zeros, 0), div(p_nonzero, nonzero),
                  select(only_this_zero, p_nonzero, 0))


def _prod_jvp(primals: list[Any], tangents: list[Any], *, axes: tuple[int, ...]
              ) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return reduce_prod(x, axes), reduce_sum(mul(t, _prod_partial(x, axes)), axes)


reduce_prod_p = register(Primitive(
    "reduce_prod", _reduce_rule("reduce_prod", True),
    lambda x, *, axes: np.prod(x, axis=axes, dtype=np.asarray(x).dtype), jvp=_prod_jvp,
    vjp=lambda cts, ins, outs, *, axes: [
        mul(expand(cts[0], aval_of(ins[0]).shape, axes), _prod_partial(ins[0], axes))],
    test_cases=lambda rng, dt: _reduce_cases(positive=True)(rng, dt) + [
        ((np.array([[0.0, 2.0], [0.0, 0.0], [1.5, 0.5]], dt),), {"axes": (1,)})],
    extra={"reduction": "prod"}))


def reduce_prod(x: Any, axes: Sequence[int]) -> Any:
    axes = tuple(sorted(int(a) for a in axes))
    if not axes:
        return x
    return reduce_prod_p.bind(x, axes=axes)


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
    differentiable=False, test_cases=_arg_cases))
argmin_p = register(Primitive(
    "argmin", _arg_rule("argmin"), lambda x, *, axis: np.argmin(x, axis=axis).astype(np.int64),
    differentiable=False, test_cases=_arg_cases))
