"""Sorting and scans: sort (its derivatives route through the sorting permutation), the stable
argsort, and the cumulative product, maximum and minimum along an axis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.core import Host, Primitive, RuleFactory, ShapedArray, aval_of, register
from jitgrad.errors import ShapeError
from jitgrad.prims.elementwise import (
    add,
    convert_element_type,
    div,
    eq,
    max_,
    mul,
    ne,
    select,
    sub,
)
from jitgrad.prims.reduce import cumsum
from jitgrad.prims.structural import broadcast_in_dim, concatenate, front_rule, slice_
from jitgrad.prims.testcases import draw, view_of
from jitgrad.prims.updates import _shift, _unshift, add_along, take_along


def _axis_rule(name: str, numeric: bool = False, out_dtype: Any = None
               ) -> Callable[..., ShapedArray]:
    def rule(x: ShapedArray, *, axis: int) -> ShapedArray:
        if not 0 <= axis < x.ndim:
            raise ShapeError(f"{name}: axis {axis} is out of range for {x}")
        if numeric and x.dtype == np.bool_:
            raise ShapeError(f"{name}: boolean operand {x}; convert it to a number first")
        return ShapedArray(x.shape, x.dtype if out_dtype is None else out_dtype)
    return rule


_shift_axis = front_rule(lambda b, axis: {"axis": axis + 1})


def _sort_cases(rng: np.random.Generator, dt: Any) -> list:
    return [
        ((draw(rng, (5,), dt),), {"axis": 0}),
        ((draw(rng, (3, 4), dt),), {"axis": 1}),
        ((draw(rng, (3, 4), dt),), {"axis": 0}),
        ((view_of(draw(rng, (2, 3, 2), dt), "reversed"),), {"axis": 1}),
        ((view_of(draw(rng, (3, 4), dt), "strided"),), {"axis": 1}),
        ((draw(rng, (0, 3), dt),), {"axis": 0}),
        ((draw(rng, (2, 0), dt),), {"axis": 0}),
        ((np.array([[1.5, np.nan, -1.0, np.nan, 0.0, -0.0]], dt),), {"axis": 1},
         {"fd": False}),
        # ties: not differentiable there (no finite differences), but the permutation routes
        # each derivative to one of the tied elements consistently in both modes
        ((draw(rng, (4, 3), dt, kind="int"),), {"axis": 0}, {"fd": False}),
    ]


# --- argsort --------------------------------------------------------------------------------

argsort_p = register(Primitive(
    "argsort", _axis_rule("argsort", out_dtype=np.int64),
    lambda x, *, axis: np.argsort(x, axis=axis, kind="stable").astype(np.int64), Host(),
    differentiable=False, batch=_shift_axis, test_cases=_sort_cases))


def argsort(x: Any, axis: int) -> Any:
    """The stable sorting permutation along ``axis`` (ties keep their order; NaNs last)."""
    return argsort_p.bind(x, axis=int(axis))


# --- sort -----------------------------------------------------------------------------------
# Values come from numpy's sort (faster than its stable argsort); derivatives gather the
# tangent with the stable permutation (reverse mode scatters the cotangent back with it).


def _sort_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return sort(x, axis), take_along(t, argsort(x, axis), axis)


def _sort_fwd(ins: list[Any], *, axis: int) -> tuple[list[Any], Any]:
    (x,) = ins
    return [sort(x, axis)], argsort(x, axis)


sort_p = register(Primitive(
    "sort", _axis_rule("sort"), lambda x, *, axis: np.sort(x, axis=axis), Host(),
    jvp=_sort_jvp, vjp_fwd=_sort_fwd,
    vjp_bwd=lambda perm, cts, *, axis: [add_along(cts[0], perm, axis)],
    batch=_shift_axis, test_cases=_sort_cases))


def sort(x: Any, axis: int) -> Any:
    """``x`` sorted along ``axis`` (NaNs last)."""
    return sort_p.bind(x, axis=int(axis))


# --- cumulative product: derivatives through a log-step scan of multiplications -------------
# The values are numpy's (a sequential product). Derivatives differentiate the log-step
# (Hillis & Steele 1986) form y <- y * shift(y, d) for d = 1, 2, 4, ...: multiplications
# only, so they are exact where elements are zero (prod/x would divide by zero), to any
# order -- the same idea as reduce_prod's product tree.


def _levels(x: Any, axis: int) -> list[tuple[Any, int]]:
    """Each level's input and shift of the log-step scan along ``axis``."""
    n = aval_of(x).shape[axis]
    levels, y, d = [], x, 1
    while d < n:
        levels.append((y, d))
        y = mul(y, _shift(y, d, axis, 1))
        d *= 2
    return levels


def _cumprod_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    for y, d in _levels(x, axis):
        t = add(mul(t, _shift(y, d, axis, 1)), mul(y, _shift(t, d, axis, 0)))
    return cumprod(x, axis), t


def _cumprod_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axis: int) -> list[Any]:
    ct = cts[0]
    for y, d in reversed(_levels(ins[0], axis)):
        ct = add(mul(ct, _shift(y, d, axis, 1)), _unshift(mul(ct, y), d, axis))
    return [ct]


def _cumprod_cases(rng: np.random.Generator, dt: Any) -> list:
    return [
        ((draw(rng, (5,), dt),), {"axis": 0}),
        ((draw(rng, (3, 4), dt),), {"axis": 1}),
        ((view_of(draw(rng, (4, 3), dt), "reversed"),), {"axis": 0}),
        ((np.array([[0.5, 0.0, 2.0, 0.0, -1.5], [0.0, 1.5, 3.0, 0.5, 2.0]], dt),), {"axis": 1}),
        ((np.array([2.0, 0.0, 0.0], dt),), {"axis": 0}),
        ((draw(rng, (0, 3), dt),), {"axis": 0}),
        ((draw(rng, (1, 3), dt),), {"axis": 0}),
    ]


cumprod_p = register(Primitive(
    "cumprod", _axis_rule("cumprod", numeric=True),
    lambda x, *, axis: np.cumprod(x, axis=axis, dtype=np.asarray(x).dtype), Host(),
    jvp=_cumprod_jvp, vjp=_cumprod_vjp, batch=_shift_axis, test_cases=_cumprod_cases))


def cumprod(x: Any, axis: int) -> Any:
    """The cumulative product along ``axis``, in ``x``'s dtype."""
    return cumprod_p.bind(x, axis=int(axis))


# --- cumulative maximum and minimum ---------------------------------------------------------
# out[i] = max(x[:i+1]). Its derivative is shared equally among the elements tied for the
# running extremum, as reduce_max shares it: in a run of equal outputs (from the element that
# set the extremum, at r[i], to i), the tied elements are those equal to the output.


def _run_shares(x: Any, out: Any, axis: int) -> tuple[Any, Any, Any]:
    """(mask of the elements equal to the running extremum, the start r[i] of each element's
    run of equal outputs, the number of tied elements in it up to i)."""
    shape, dtype = aval_of(x).shape, aval_of(x).dtype
    n, nd = shape[axis], len(shape)
    mask = convert_element_type(eq(x, out), dtype)
    rest = shape[:axis] + (n - 1,) + shape[axis + 1:]
    changed = ne(slice_(out, (0,) * axis + (1,) + (0,) * (nd - axis - 1), rest, (1,) * nd),
                 slice_(out, (0,) * nd, rest, (1,) * nd))
    first = broadcast_in_dim(np.bool_(True), shape[:axis] + (1,) + shape[axis + 1:], ())
    starts = concatenate([first, changed], axis)
    iota = broadcast_in_dim(np.arange(n, dtype=np.int64), shape, (axis,))
    run = cummax(select(starts, iota, np.int64(0)), axis)
    tied = cumsum(mask, axis)
    count = sub(tied, take_along(sub(tied, mask), run, axis))
    return mask, run, max_(count, np.asarray(1, dtype)[()])


@RuleFactory
def _cumext_jvp(prim: Primitive) -> Callable[..., tuple[Any, Any]]:
    def jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis)
        if aval_of(x).size == 0:
            return out, t
        mask, run, count = _run_shares(x, out, axis)
        mt = mul(mask, t)
        s = cumsum(mt, axis)
        return out, div(sub(s, take_along(sub(s, mt), run, axis)), count)
    return jvp


def _cumext_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axis: int) -> list[Any]:
    if aval_of(ins[0]).size == 0:
        return [cts[0]]
    mask, run, count = _run_shares(ins[0], outs[0], axis)
    w = div(cts[0], count)
    back = add_along(w, run, axis)
    return [mul(mask, add(cumsum(sub(w, back), axis, reverse=True), back))]


def _cumext_cases(rng: np.random.Generator, dt: Any) -> list:
    return [
        ((draw(rng, (6,), dt),), {"axis": 0}),
        ((draw(rng, (3, 4), dt),), {"axis": 1}),
        ((view_of(draw(rng, (4, 3), dt), "strided"),), {"axis": 0}),
        ((draw(rng, (0, 2), dt),), {"axis": 0}),
        ((np.array([0.5, np.nan, 2.0, -1.0], dt),), {"axis": 0}, {"fd": False}),
        ((draw(rng, (5, 3), dt, kind="int"),), {"axis": 0}, {"fd": False}),
    ]


cummax_p = register(Primitive(
    "cummax", _axis_rule("cummax"), lambda x, *, axis: np.maximum.accumulate(x, axis=axis),
    Host(), jvp=_cumext_jvp, vjp=_cumext_vjp, batch=_shift_axis, test_cases=_cumext_cases))
cummin_p = register(Primitive(
    "cummin", _axis_rule("cummin"), lambda x, *, axis: np.minimum.accumulate(x, axis=axis),
    Host(), jvp=_cumext_jvp, vjp=_cumext_vjp, batch=_shift_axis, test_cases=_cumext_cases))


def cummax(x: Any, axis: int) -> Any:
    """The running maximum along ``axis`` (``numpy.maximum.accumulate``)."""
    return cummax_p.bind(x, axis=int(axis))


def cummin(x: Any, axis: int) -> Any:
    """The running minimum along ``axis`` (``numpy.minimum.accumulate``)."""
    return cummin_p.bind(x, axis=int(axis))
