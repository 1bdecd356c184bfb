"""Sorting and scans: sort (its derivatives route through the sorting permutation), the stable
argsort, first-order linear recurrences, and the cumulative product, maximum and minimum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.core import (
    Host,
    Primitive,
    RuleFactory,
    ShapedArray,
    Zero,
    aval_of,
    register,
    zeros,
)
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
from jitgrad.prims.structural import (
    at_front,
    batch_size,
    broadcast_in_dim,
    concatenate,
    front_rule,
    slice_,
)
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

def _argsort_impl(x: Any, *, axis: int) -> np.ndarray:
    # numpy's default sort is 3-5x faster than its stable one (measured: 30 vs 146 ms for 1e6
    # float64) and, where no two elements are equal (or both NaN), gives the same (the only)
    # sorting permutation; only inputs with ties need the stable sort.
    x = np.asarray(x)
    perm = np.argsort(x, axis=axis)
    s = np.moveaxis(np.take_along_axis(x, perm, axis), axis, -1)
    a, b = s[..., :-1], s[..., 1:]
    tied = (a == b) | ((a != a) & (b != b))
    return (np.argsort(x, axis=axis, kind="stable") if tied.any() else perm).astype(np.int64)


argsort_p = register(Primitive(
    "argsort", _axis_rule("argsort", out_dtype=np.int64), _argsort_impl, Host(),
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


# --- first-order linear recurrences: y[i] = a[i] * y[i - 1] + b[i] ----------------------------
# (Blelloch 1990, "Prefix sums and their applications", sec. 1.4.) The family is closed under
# differentiation: the tangent of a recurrence is a recurrence with the same coefficients, and
# its transpose runs the other way with the coefficients shifted by one. So cumprod's
# derivatives of every order are O(n) loops of multiplications and additions, exact where
# elements are zero (prod/x would divide by zero there).


def _linear_scan_rule(a: ShapedArray, b: ShapedArray, *, axis: int, reverse: bool
                      ) -> ShapedArray:
    if a.shape != b.shape or a.dtype != b.dtype or not 0 <= axis < b.ndim or \
            b.dtype == np.bool_:
        raise ShapeError(f"linear_scan: coefficients {a} and terms {b} must be numeric, of "
                         f"one shape and dtype, with axis {axis} in range")
    return b


def _linear_scan_impl(a: Any, b: Any, *, axis: int, reverse: bool) -> np.ndarray:
    # numpy reference: the log-step composition of the affine maps y -> a y + b (applying
    # (a1, b1) then (a2, b2) is (a2 a1, a2 b1 + b2)); the kernel runs the loop in order.
    a, b = (np.moveaxis(np.asarray(v), axis, -1) for v in (a, b))
    if reverse:
        a, b = a[..., ::-1], b[..., ::-1]
    a, b = a.copy(), b.copy()
    d, n = 1, b.shape[-1]
    while d < n:
        b[..., d:] = a[..., d:] * b[..., :-d] + b[..., d:]
        a[..., d:] = a[..., d:] * a[..., :-d]
        d *= 2
    return np.moveaxis(b[..., ::-1] if reverse else b, -1, axis)


def _linear_scan_kernel(*, axis: int, reverse: bool) -> str:
    first, prev = ("n - 1", "j + 1") if reverse else ("0", "j - 1")
    return f"""def kernel(a, b):
    shape = b.shape
    pre, post = 1, 1
    for d in range({axis}):
        pre *= shape[d]
    for d in range({axis + 1}, len(shape)):
        post *= shape[d]
    n = shape[{axis}]
    a3 = np.ascontiguousarray(a).reshape((pre, n, post))
    b3 = np.ascontiguousarray(b).reshape((pre, n, post))
    out = np.empty((pre, n, post), b.dtype)
    for i in range(pre):
        for s in range(n):
            j = {"n - 1 - s" if reverse else "s"}
            if j == {first}:
                for k in range(post):
                    out[i, j, k] = b3[i, j, k]
            else:
                for k in range(post):
                    out[i, j, k] = a3[i, j, k] * out[i, {prev}, k] + b3[i, j, k]
    return out.reshape(shape)
"""


def _previous(y: Any, axis: int, reverse: bool) -> Any:
    """The element each one follows in the recurrence (0 for the first)."""
    return _unshift(y, 1, axis) if reverse else _shift(y, 1, axis, 0)


def _linear_scan_jvp(primals: list[Any], tangents: list[Any], *, axis: int, reverse: bool
                     ) -> tuple[Any, Any]:
    (a, b), (ta, tb) = primals, tangents
    y = linear_scan(a, b, axis, reverse)
    if aval_of(b).size == 0:
        return y, zeros(aval_of(b))
    terms = [t for t in (None if isinstance(ta, Zero) else mul(ta, _previous(y, axis, reverse)),
                         None if isinstance(tb, Zero) else tb) if t is not None]
    return y, linear_scan(a, terms[0] if len(terms) == 1 else add(*terms), axis, reverse)


def _linear_scan_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axis: int,
                     reverse: bool) -> list[Any]:
    (ct,), (a, _), (y,) = cts, ins, outs
    if aval_of(y).size == 0:
        return [ct, ct]
    # y = M b with M[i, j] the product of a over (j, i]: M^T runs the other way, each step
    # multiplying by the coefficient of the step it undoes.
    a_back = _shift(a, 1, axis, 0) if reverse else _unshift(a, 1, axis)
    ct_b = linear_scan(a_back, ct, axis, not reverse)
    return [mul(_previous(y, axis, reverse), ct_b), ct_b]


def _linear_scan_batch(args: list[Any], dims: list[int | None], /, *, axis: int,
                       reverse: bool) -> tuple[Any, int]:
    size = batch_size(args, dims)
    a, b = (at_front(x, d, size) for x, d in zip(args, dims, strict=True))
    return linear_scan(a, b, axis + 1, reverse), 0


def _linear_scan_cases(rng: np.random.Generator, dt: Any) -> list:
    return [
        ((draw(rng, (5,), dt), draw(rng, (5,), dt)), {"axis": 0, "reverse": False}),
        ((draw(rng, (3, 4), dt), draw(rng, (3, 4), dt)), {"axis": 1, "reverse": True}),
        ((view_of(draw(rng, (4, 3), dt), "reversed"), draw(rng, (4, 3), dt)),
         {"axis": 0, "reverse": False}),
        ((np.array([0.5, 0.0, 2.0, 0.0, -1.5], dt), draw(rng, (5,), dt)),
         {"axis": 0, "reverse": True}),
        ((draw(rng, (2, 3, 2), dt), view_of(draw(rng, (2, 3, 2), dt), "strided")),
         {"axis": 1, "reverse": False}),
        ((draw(rng, (0, 3), dt), draw(rng, (0, 3), dt)), {"axis": 0, "reverse": False}),
        ((draw(rng, (2, 1), dt), draw(rng, (2, 1), dt)), {"axis": 1, "reverse": True}),
    ]


linear_scan_p = register(Primitive(
    "linear_scan", _linear_scan_rule, _linear_scan_impl, Host(kernel=_linear_scan_kernel),
    jvp=_linear_scan_jvp, vjp=_linear_scan_vjp, batch=_linear_scan_batch,
    test_cases=_linear_scan_cases))


def linear_scan(a: Any, b: Any, axis: int, reverse: bool = False) -> Any:
    """The first-order linear recurrence ``y[i] = a[i] * y[i - 1] + b[i]`` along ``axis``
    (``y[i + 1]`` when ``reverse``), from ``y = b`` at the first element."""
    return linear_scan_p.bind(a, b, axis=int(axis), reverse=bool(reverse))


# --- cumulative product ---------------------------------------------------------------------
# The values are numpy's. y[i] = x[i] * y[i - 1], so dy = linear_scan(x, dx * y[i - 1]) and the
# cotangent is y[i - 1] times the reverse recurrence of the cotangent with coefficients x[i + 1].


def _cumprod_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    y = cumprod(x, axis)
    if aval_of(x).size == 0:
        return y, t
    return y, linear_scan(x, mul(t, _shift(y, 1, axis, 1)), axis)


def _cumprod_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axis: int) -> list[Any]:
    (ct,), (x,), (y,) = cts, ins, outs
    if aval_of(x).size == 0:
        return [ct]
    return [mul(_shift(y, 1, axis, 1), linear_scan(_unshift(x, 1, axis), ct, axis, True))]


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
