"""Indexed updates: a scatter primitive (set, add, multiply, min or max at flat positions),
compiled as a Numba loop, and the gathers and scatters along an axis that the derivatives of
sorts and scans route through."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.core import REGISTRY, Host, Primitive, ShapedArray, Zero, aval_of, register, zeros
from jitgrad.errors import ShapeError
from jitgrad.prims.elementwise import (
    add,
    and_,
    convert_element_type,
    div,
    eq,
    ge,
    lt,
    max_,
    min_,
    mul,
    not_,
    or_,
    select,
)
from jitgrad.prims.structural import (
    at_front,
    batch_size,
    broadcast_in_dim,
    concatenate,
    gather,
    reshape,
    slice_,
)
from jitgrad.prims.testcases import draw, view_of

OPS = ("set", "add", "mul", "min", "max")

# --- scatter --------------------------------------------------------------------------------
# scatter(x, p, u): x with each update u[k] combined into the element at flat position p[k]
# (in C order), in the order of the updates; a position of -1 drops its update. ``set``: the
# last update to a position wins, as in a loop over them (and as numpy's x[i] = v does in
# practice); the others accumulate. ``unique`` promises that no position repeats.


def _scatter_rule(x: ShapedArray, p: ShapedArray, u: ShapedArray, *, op: str, unique: bool
                  ) -> ShapedArray:
    if op not in OPS:
        raise ShapeError(f"scatter: op must be one of {OPS}, got {op!r}")
    if p.dtype != np.int64 or u.shape != p.shape or u.dtype != x.dtype:
        raise ShapeError(f"scatter: positions {p} (int64) and updates {u} must have one shape, "
                         f"and the updates the operand's dtype ({x})")
    if op != "set" and x.dtype == np.bool_:
        raise ShapeError(f"scatter: op {op!r} needs a numeric operand, got {x}")
    return ShapedArray(x.shape, x.dtype)


_UFUNC = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_impl(x: Any, p: Any, u: Any, *, op: str, unique: bool) -> np.ndarray:
    out = np.array(x, copy=True, order="C")
    flat = out.reshape(-1)
    p, u = np.ravel(p), np.ravel(u)
    keep = (p >= 0) & (p < flat.size)
    p, u = p[keep], u[keep]
    if op == "set":
        # Each position's last update (numpy promises no order for repeated x[i] = v).
        order = np.arange(p.size)
        last = np.full(flat.size, -1)
        np.maximum.at(last, p, order)
        won = last[p] == order
        flat[p[won]] = u[won]
    else:
        _UFUNC[op].at(flat, p, u)
    return out


# The update each op makes; min and max propagate NaN as numpy's minimum and maximum do.
_UPDATE = {"set": "u[k]", "add": "flat[j] + u[k]", "mul": "flat[j] * u[k]",
           "min": "min_nan(flat[j], u[k])", "max": "max_nan(flat[j], u[k])"}


def _scatter_kernel(*, op: str, unique: bool) -> str:
    # Measured (1e6 random float64 updates into 1e6 elements, CPU time, best of 21, on this
    # project's shared machine): this loop 1.2 ms (set, add, mul) to 2.8 ms (min, max);
    # numpy 2.4's ufunc.at on a copy 6.4 ms (add) to 10 ms (minimum); x[i] = v 2.4 ms.
    return f"""def kernel(x, p, u):
    out = x.copy()
    flat = out.reshape(out.size)
    p, u = np.ravel(p), np.ravel(u)
    n = flat.size
    for k in range(p.size):
        j = p[k]
        if j >= 0 and j < n:
            flat[j] = {_UPDATE[op]}
    return out
"""


def _valid(p: Any, size: int) -> Any:
    return and_(ge(p, np.int64(0)), lt(p, np.int64(size)))


def gather_flat(c: Any, p: Any, fill: Any = 0) -> Any:
    """The elements of ``c`` at flat positions ``p`` (``fill`` where ``p`` drops)."""
    av = aval_of(c)
    fill = np.asarray(fill, av.dtype)[()]
    if av.size == 0:
        return broadcast_in_dim(fill, aval_of(p).shape, ())
    g = gather(reshape(c, (av.size,)), min_(max_(p, np.int64(0)), np.int64(av.size - 1)), 0)
    return select(_valid(p, av.size), g, fill)


def _last_writes(p: Any, size: int) -> Any:
    """Whether each update is the last one to its position (the one ``set`` keeps)."""
    shape = aval_of(p).shape
    order = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    winner = scatter(broadcast_in_dim(np.int64(-1), (size,), ()), p, order, "set")
    return eq(gather_flat(winner, p, -1), order)


def _shift(v: Any, d: int, axis: int, fill: Any) -> Any:
    """``v`` moved ``d`` places up along ``axis``: element i is v[i - d], ``fill`` below d."""
    shape = aval_of(v).shape
    n, nd = shape[axis], len(shape)
    head = broadcast_in_dim(np.asarray(fill, aval_of(v).dtype)[()],
                            shape[:axis] + (d,) + shape[axis + 1:], ())
    body = slice_(v, (0,) * nd, shape[:axis] + (n - d,) + shape[axis + 1:], (1,) * nd)
    return concatenate([head, body], axis)


def _unshift(w: Any, d: int, axis: int) -> Any:
    """The transpose of ``_shift`` with fill 0: element j is w[j + d], 0 from n - d on."""
    shape = aval_of(w).shape
    n, nd = shape[axis], len(shape)
    body = slice_(w, tuple(d if a == axis else 0 for a in range(nd)),
                  shape[:axis] + (n - d,) + shape[axis + 1:], (1,) * nd)
    tail = zeros(ShapedArray(shape[:axis] + (d,) + shape[axis + 1:], aval_of(w).dtype))
    return concatenate([body, tail], axis)


def _reverse(v: Any) -> Any:
    (n,) = aval_of(v).shape
    return slice_(v, (n - 1,), (n,), (-1,))


def _segment_products_before(v: Any, same: Any) -> Any:
    """For a 1-d ``v`` cut into segments (``same[i]``: element i + 1 continues element i's
    segment), the product of the elements before each one in its segment. A log-step
    (Hillis-Steele) scan with segment flags, of multiplications only: exact where elements
    are zero, and its derivatives are those of ``mul``."""
    (n,) = aval_of(v).shape
    starts = concatenate([np.ones(1, bool), not_(same)], 0)
    acc = select(starts, np.asarray(1, aval_of(v).dtype)[()], _shift(v, 1, 0, 1))
    d = 1
    while d < n:
        acc = select(starts, acc, mul(acc, _shift(acc, d, 0, 1)))
        starts = or_(starts, _shift(starts, d, 0, False))
        d *= 2
    return acc


def others_product(p: Any, u: Any, unique: bool) -> Any:
    """For each update, the product of the other updates to its position (1 if it has none):
    the updates are sorted by position, and the products before and after each one in its
    run of equal positions are segmented scans, so no division is involved."""
    shape, dtype = aval_of(u).shape, aval_of(u).dtype
    k = int(np.prod(shape, dtype=np.int64))
    if unique or k <= 1:
        return broadcast_in_dim(np.ones((), dtype)[()], shape, ())
    pf, uf = reshape(p, (k,)), reshape(u, (k,))
    order = REGISTRY["argsort"].bind(pf, axis=0)
    ps, us = gather(pf, order, 0), gather(uf, order, 0)
    same = eq(slice_(ps, (1,), (k - 1,), (1,)), slice_(ps, (0,), (k - 1,), (1,)))
    before = _segment_products_before(us, same)
    after = _reverse(_segment_products_before(_reverse(us), _reverse(same)))
    sorted_products = mul(before, after)
    return reshape(scatter(zeros(ShapedArray((k,), dtype)), order, sorted_products, "set",
                           unique=True), shape)


def _extremum_shares(x: Any, p: Any, u: Any, out: Any) -> tuple[Any, Any, Any]:
    """Masks of the operand elements and updates equal to the result at their position, and
    how many share each position's result: ties share the derivative equally (as
    ``maximum`` does for two)."""
    dtype = aval_of(x).dtype
    mx = convert_element_type(eq(x, out), dtype)
    size = aval_of(x).size
    mu = convert_element_type(and_(_valid(p, size), eq(u, gather_flat(out, p))), dtype)
    count = add(mx, scatter(zeros(aval_of(x)), p, mu, "add"))
    return mx, mu, max_(count, np.asarray(1, dtype)[()])


def _instantiate(t: Any, like: Any) -> Any:
    return zeros(aval_of(like)) if isinstance(t, Zero) else t


def _scatter_jvp(primals: list[Any], tangents: list[Any], *, op: str, unique: bool
                 ) -> tuple[Any, Any]:
    x, p, u = primals
    tx, _, tu = tangents
    out = scatter(x, p, u, op, unique)
    if op in ("set", "add"):
        return out, scatter(_instantiate(tx, x), p, _instantiate(tu, u), op, unique)
    if op == "mul":
        terms = [] if isinstance(tx, Zero) else [scatter(tx, p, u, "mul", unique)]
        if not isinstance(tu, Zero):
            du = mul(tu, others_product(p, u, unique))
            terms.append(mul(x, scatter(zeros(aval_of(x)), p, du, "add", unique)))
        return out, terms[0] if len(terms) == 1 else add(*terms)
    mx, mu, count = _extremum_shares(x, p, u, out)
    t = mul(mx, _instantiate(tx, x))
    if not isinstance(tu, Zero):
        t = add(t, scatter(zeros(aval_of(x)), p, mul(mu, tu), "add", unique))
    return out, div(t, count)


def _scatter_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, op: str, unique: bool
                 ) -> list[Any]:
    (ct,), (x, p, u), (out,) = cts, ins, outs
    if op == "add":
        return [ct, None, gather_flat(ct, p)]
    if op == "set":
        ct_u = gather_flat(ct, p)
        if not unique:
            ct_u = select(_last_writes(p, aval_of(x).size), ct_u,
                          np.zeros((), aval_of(ct).dtype)[()])
        return [scatter(ct, p, zeros(aval_of(u)), "set", unique), None, ct_u]
    if op == "mul":
        return [scatter(ct, p, u, "mul", unique), None,
                mul(gather_flat(mul(ct, x), p), others_product(p, u, unique))]
    mx, mu, count = _extremum_shares(x, p, u, out)
    w = div(ct, count)
    return [mul(mx, w), None, mul(mu, gather_flat(w, p))]


def _scatter_batch(args: list[Any], dims: list[int | None], /, *, op: str, unique: bool
                   ) -> tuple[Any, int]:
    # Each example's operand is a block of the flattened batch: its positions are offset to
    # its block (dropped ones stay dropped), so one scatter serves the whole batch.
    b = batch_size(args, dims)
    x, p, u = (at_front(a, d, b) for a, d in zip(args, dims, strict=True))
    shape = aval_of(x).shape[1:]
    size = int(np.prod(shape, dtype=np.int64))
    offsets = broadcast_in_dim(np.arange(b, dtype=np.int64) * size, aval_of(p).shape, (0,))
    p = select(_valid(p, size), add(p, offsets), np.int64(-1))
    out = scatter(reshape(x, (b * size,)), p, u, op, unique)
    return reshape(out, (b,) + shape), 0


def _scatter_cases(rng: np.random.Generator, dt: Any) -> list:
    dup = np.array([0, 3, 3, 1, -1])  # a repeated position and a dropped update
    cases = [((draw(rng, (5,), dt), dup, draw(rng, (5,), dt)), {"op": op, "unique": False})
             for op in OPS]
    ties = draw(rng, (4,), dt, kind="int")
    cases += [
        # unique positions into a non-contiguous 2-d operand, from 2-d positions
        ((view_of(draw(rng, (2, 3), dt), "strided"), np.array([[5, 0], [2, 4]]),
          draw(rng, (2, 2), dt)), {"op": "mul", "unique": True}),
        ((draw(rng, (2, 3), dt), np.array([[5, 0], [5, 5]]), draw(rng, (2, 2), dt)),
         {"op": "set", "unique": False}),
        # products with zeros among repeated positions: derivatives exact there
        ((draw(rng, (3,), dt), np.array([1, 1, 1, 2, 2, 0]),
          np.array([0.0, 1.5, 0.0, 0.5, -2.0, 0.0], dt)), {"op": "mul", "unique": False}),
        ((draw(rng, (3,), dt), np.array([2, 2, 2]), np.array([0.5, 0.0, -1.5], dt)),
         {"op": "mul", "unique": False}),
        # ties between the operand and the updates share the derivative
        ((ties, np.array([0, 0, 2, 3, 3]), np.concatenate([ties[[0, 0, 2]] - [0, 0, 1],
                                                            ties[[3, 3]]]).astype(dt)),
         {"op": "max", "unique": False}, {"fd": False}),
        ((ties, np.array([1, 1, 2]), np.concatenate([ties[[1, 1]], ties[[2]] + 1]).astype(dt)),
         {"op": "min", "unique": False}, {"fd": False}),
        ((draw(rng, (), dt), np.array([0, 0]), draw(rng, (2,), dt)),
         {"op": "add", "unique": False}),
        ((draw(rng, (3,), dt), np.zeros(0, np.int64), draw(rng, (0,), dt)),
         {"op": "set", "unique": False}),
        ((draw(rng, (0, 2), dt), np.array([-1]), draw(rng, (1,), dt)),
         {"op": "max", "unique": False}),
    ]
    return cases


scatter_p = register(Primitive(
    "scatter", _scatter_rule, _scatter_impl, Host(kernel=_scatter_kernel), jvp=_scatter_jvp,
    vjp=_scatter_vjp, batch=_scatter_batch, test_cases=_scatter_cases))


def scatter(x: Any, p: Any, u: Any, op: str, unique: bool = False) -> Any:
    """``x`` with the updates ``u`` combined (``op``) into its elements at the flat (C order)
    positions ``p`` (-1: dropped), in order; ``unique`` promises no position repeats."""
    return scatter_p.bind(x, p, u, op=op, unique=bool(unique))


# --- gathers and scatters along an axis -----------------------------------------------------


def _along_positions(idx: Any, axis: int) -> Any:
    """Flat positions of the elements ``x[..., idx[..., i, ...], ...]`` along ``axis``, for an
    ``idx`` of ``x``'s shape whose entries are in range."""
    shape = aval_of(idx).shape
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    pos = idx if strides[axis] == 1 else mul(idx, np.int64(strides[axis]))
    for d, n in enumerate(shape):
        if d != axis:  # broadcasts: index maps in compiled kernels, never materialised
            pos = add(pos, broadcast_in_dim(np.arange(n, dtype=np.int64) * strides[d], shape,
                                            (d,)))
    return pos


def take_along(x: Any, idx: Any, axis: int) -> Any:
    """``numpy.take_along_axis(x, idx, axis)`` for in-range ``idx`` of ``x``'s shape."""
    size = aval_of(x).size
    if size == 0:
        return x
    return gather(reshape(x, (size,)), _along_positions(idx, axis), 0)


def add_along(ct: Any, idx: Any, axis: int) -> Any:
    """The transpose of ``take_along``: ``ct`` added into zeros at the positions it read."""
    av = aval_of(ct)
    if av.size == 0:
        return ct
    flat = scatter(zeros(ShapedArray((av.size,), av.dtype)), reshape(
        _along_positions(idx, axis), (av.size,)), reshape(ct, (av.size,)), "add")
    return reshape(flat, av.shape)
