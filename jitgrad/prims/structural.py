"""Structural primitives (linear, data movement): broadcast, reshape, transpose, slice/pad,
concatenate, gather/scatter-add. Each declares its transpose as its vjp; its jvp is itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import (
    REGISTRY,
    Affine,
    Host,
    Index,
    Primitive,
    RuleFactory,
    ShapedArray,
    View,
    aval_of,
    register,
)
from jitgrad.errors import ShapeError
from jitgrad.prims.testcases import draw, view_of

# --- batching helpers (vmap): a batched value carries its batch axis, or None --------------


def batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    return next(aval_of(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)


def move_front(x: Any, d: int) -> Any:
    """``x`` with axis ``d`` moved first."""
    if d == 0:
        return x
    return transpose(x, (d,) + tuple(i for i in range(aval_of(x).ndim) if i != d))


def at_front(x: Any, d: int | None, size: int) -> Any:
    """``x`` with its batch axis first (an unbatched value is broadcast along a new one)."""
    if d is not None:
        return move_front(x, d)
    shape = aval_of(x).shape
    return broadcast_in_dim_p.bind(x, shape=(size,) + shape,
                                   dims=tuple(range(1, len(shape) + 1)))


def front_rule(shift: Callable[..., dict]) -> RuleFactory:
    """Batching rule of a one-operand primitive: move the batch axis first and apply the
    primitive with ``shift(size, **params)`` (its axis parameters moved by one)."""

    def make(prim: Primitive) -> Callable[..., tuple[Any, int]]:
        def rule(args: list[Any], dims: list[int | None], /, **params: Any) -> tuple[Any, int]:
            x = move_front(args[0], dims[0])
            return prim.bind(x, *args[1:], **shift(aval_of(x).shape[0], **params)), 0
        return rule

    return RuleFactory(make)


# --- broadcast_in_dim -----------------------------------------------------------------------


def _broadcast_rule(x: ShapedArray, *, shape: tuple[int, ...], dims: tuple[int, ...]
                    ) -> ShapedArray:
    ok = len(dims) == x.ndim and all(0 <= d < len(shape) for d in dims) and \
        list(dims) == sorted(set(dims))
    if ok:
        ok = all(x.shape[i] in (1, shape[d]) for i, d in enumerate(dims))
    if not ok:
        raise ShapeError(f"broadcast_in_dim: cannot broadcast shape {x.shape} to {shape} with "
                         f"dims={dims}")
    return ShapedArray(shape, x.dtype)


def _broadcast_impl(x: Any, *, shape: tuple[int, ...], dims: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x)
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = x.shape[i]
    out = np.empty(shape, x.dtype)  # a fresh array, filled: cheaper than broadcast_to + copy
    out[...] = x.reshape(expanded)
    return out


def broadcast_sum_axes(in_shape: tuple[int, ...], shape: tuple[int, ...],
                       dims: tuple[int, ...]) -> tuple[int, ...]:
    """Axes of ``shape`` that a broadcast created or stretched: its gradient sums over them."""
    kept = {d for i, d in enumerate(dims) if in_shape[i] == shape[d]}
    return tuple(a for a in range(len(shape)) if a not in kept)


def _broadcast_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *,
                   shape: tuple[int, ...], dims: tuple[int, ...]) -> list[Any]:
    # The seed's "conversions" rule: A_{e x 1} = sum over e_new of newA. (reduce_sum is
    # declared after this module, in terms of broadcast_in_dim, hence the registry lookup.)
    in_shape = aval_of(ins[0]).shape
    axes = broadcast_sum_axes(in_shape, shape, dims)
    ct = REGISTRY["reduce_sum"].bind(cts[0], axes=axes) if axes else cts[0]
    return [reshape(ct, shape=in_shape)]


def _broadcast_cases(rng: np.random.Generator, dtype: Any) -> list:
    return [
        ((draw(rng, (), dtype),), {"shape": (3,), "dims": ()}),
        ((draw(rng, (3,), dtype),), {"shape": (2, 3), "dims": (1,)}),
        ((draw(rng, (2,), dtype),), {"shape": (2, 3), "dims": (0,)}),
        ((draw(rng, (2, 1), dtype),), {"shape": (2, 3), "dims": (0, 1)}),
        ((draw(rng, (1, 3), dtype),), {"shape": (4, 2, 3), "dims": (1, 2)}),
        ((draw(rng, (3,), dtype),), {"shape": (0, 3), "dims": (1,)}),
        ((view_of(draw(rng, (2, 1), dtype), "strided"),), {"shape": (2, 4), "dims": (0, 1)}),
        ((draw(rng, (), dtype),), {"shape": (), "dims": ()}),
    ]


def _broadcast_index(index: tuple[Affine, ...], src: ShapedArray, out: ShapedArray, *,
                     shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[Affine, ...]:
    # A stretched axis of length 1 is read at 0 wherever the output is.
    return tuple(index[d] if src.shape[j] == out.shape[d] else (None, 0, 0)
                 for j, d in enumerate(dims))


broadcast_in_dim_p = register(Primitive(
    "broadcast_in_dim", _broadcast_rule, _broadcast_impl, Index(_broadcast_index),
    linear=True, vjp=_broadcast_vjp, test_cases=_broadcast_cases,
    batch=front_rule(lambda b, shape, dims: {
        "shape": (b,) + shape, "dims": (0,) + tuple(k + 1 for k in dims)})))


def broadcast_in_dim(x: Any, shape: Sequence[int], dims: Sequence[int]) -> Any:
    """Broadcast ``x`` to ``shape``; operand axis ``i`` becomes axis ``dims[i]``."""
    shape, dims = tuple(int(s) for s in shape), tuple(int(d) for d in dims)
    if aval_of(x).shape == shape and dims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, dims=dims)


# --- reshape --------------------------------------------------------------------------------


def _reshape_rule(x: ShapedArray, *, shape: tuple[int, ...]) -> ShapedArray:
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape array of shape {x.shape} (size {x.size}) "
                         f"into shape {shape}")
    return ShapedArray(shape, x.dtype)


def _is_unit_reshape(src: ShapedArray, out: ShapedArray, *, shape: tuple[int, ...]) -> bool:
    """A reshape that only inserts or removes axes of size 1 is an index map, not a copy."""
    return [d for d in src.shape if d != 1] == [d for d in out.shape if d != 1]


def _unit_reshape_index(index: tuple[Affine, ...], src: ShapedArray, out: ShapedArray, *,
                        shape: tuple[int, ...]) -> tuple[Affine, ...]:
    kept = iter([index[k] for k, d in enumerate(out.shape) if d != 1])
    return tuple((None, 0, 0) if d == 1 else next(kept) for d in src.shape)


reshape_p = register(Primitive(
    "reshape", _reshape_rule, lambda x, *, shape: np.asarray(x).reshape(shape),
    Index(_unit_reshape_index, applies=_is_unit_reshape, otherwise=View()), linear=True,
    simplify=lambda e, c: e.inputs[0] if e.inputs[0].aval == e.outputs[0].aval else None,
    batch=front_rule(lambda b, shape: {"shape": (b,) + shape}),
    vjp=lambda cts, ins, outs, *, shape: [reshape(cts[0], shape=aval_of(ins[0]).shape)],
    test_cases=lambda rng, dt: [
        ((draw(rng, (2, 3), dt),), {"shape": (3, 2)}),
        ((draw(rng, (2, 3), dt),), {"shape": (6,)}),
        ((draw(rng, (), dt),), {"shape": (1, 1)}),
        ((draw(rng, (0, 3), dt),), {"shape": (3, 0)}),
        ((view_of(draw(rng, (2, 3), dt), "strided"),), {"shape": (1, 6)}),
    ]))


def reshape(x: Any, shape: Sequence[int]) -> Any:
    shape = tuple(int(s) for s in shape)
    if aval_of(x).shape == shape:
        return x
    return reshape_p.bind(x, shape=shape)


# --- transpose ------------------------------------------------------------------------------


def _transpose_rule(x: ShapedArray, *, perm: tuple[int, ...]) -> ShapedArray:
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: perm {perm} is not a permutation of the axes of an array "
                         f"of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_index(index: tuple[Affine, ...], src: ShapedArray, out: ShapedArray, *,
                     perm: tuple[int, ...]) -> tuple[Affine, ...]:
    # Output axis k walks operand axis perm[k].
    sub: list[Affine] = [(None, 0, 0)] * len(perm)
    for k, p in enumerate(perm):
        sub[p] = index[k]
    return tuple(sub)


transpose_p = register(Primitive(
    "transpose", _transpose_rule, lambda x, *, perm: np.transpose(x, perm),
    Index(_transpose_index), linear=True,
    simplify=lambda e, c: e.inputs[0] if e.params["perm"] == tuple(sorted(e.params["perm"]))
    else None,
    batch=front_rule(lambda b, perm: {"perm": (0,) + tuple(k + 1 for k in perm)}),
    vjp=lambda cts, ins, outs, *, perm: [transpose(cts[0], tuple(np.argsort(perm)))],
    test_cases=lambda rng, dt: [
        ((draw(rng, (2, 3), dt),), {"perm": (1, 0)}),
        ((draw(rng, (2, 3, 4), dt),), {"perm": (2, 0, 1)}),
        ((draw(rng, (3,), dt),), {"perm": (0,)}),
        ((view_of(draw(rng, (2, 3), dt), "reversed"),), {"perm": (1, 0)}),
        ((draw(rng, (0, 3), dt),), {"perm": (1, 0)}),
    ]))


def transpose(x: Any, perm: Sequence[int]) -> Any:
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(len(perm))):
        return x
    return transpose_p.bind(x, perm=perm)


# --- slice and its transpose, pad -----------------------------------------------------------


def py_slice(start: int, size: int, step: int) -> slice:
    """The Python slice selecting ``start + i*step`` for ``i < size``."""
    if size == 0:
        return slice(0, 0)
    stop = start + (size - 1) * step + (1 if step > 0 else -1)
    return slice(start, None if stop < 0 else stop, step)


def _check_positions(name: str, shape: tuple[int, ...], starts: tuple, sizes: tuple,
                     steps: tuple) -> None:
    ok = len(starts) == len(sizes) == len(steps) == len(shape)
    for n, st, sz, sp in zip(shape, starts, sizes, steps, strict=False):
        last = st + (sz - 1) * sp
        ok = ok and sp != 0 and sz >= 0 and (sz == 0 or (0 <= st < n and 0 <= last < n))
    if not ok:
        raise ShapeError(f"{name}: starts={starts} sizes={sizes} steps={steps} do not fit in an "
                         f"array of shape {shape}")


def _slice_rule(x: ShapedArray, *, starts: tuple, sizes: tuple, steps: tuple) -> ShapedArray:
    _check_positions("slice", x.shape, starts, sizes, steps)
    return ShapedArray(sizes, x.dtype)


def _slice_impl(x: Any, *, starts: tuple, sizes: tuple, steps: tuple) -> np.ndarray:
    return np.asarray(x)[tuple(map(py_slice, starts, sizes, steps))]


def _pad_rule(x: ShapedArray, *, shape: tuple, starts: tuple, steps: tuple) -> ShapedArray:
    _check_positions("pad", shape, starts, x.shape, steps)
    return ShapedArray(shape, x.dtype)


def _pad_impl(x: Any, *, shape: tuple, starts: tuple, steps: tuple) -> np.ndarray:
    x = np.asarray(x)
    out = np.zeros(shape, x.dtype)
    out[tuple(map(py_slice, starts, x.shape, steps))] = x
    return out


def _slice_index(index: tuple[Affine, ...], src: ShapedArray, out: ShapedArray, *,
                 starts: tuple, sizes: tuple, steps: tuple) -> tuple[Affine, ...]:
    return tuple((a, c * step, o * step + start) for (a, c, o), start, step in
                 zip(index, starts, steps, strict=True))


slice_p = register(Primitive(
    "slice", _slice_rule, _slice_impl, Index(_slice_index), linear=True,
    batch=front_rule(lambda b, starts, sizes, steps: {
        "starts": (0,) + starts, "sizes": (b,) + sizes, "steps": (1,) + steps}),
    vjp=lambda cts, ins, outs, *, starts, sizes, steps: [
        pad(cts[0], shape=aval_of(ins[0]).shape, starts=starts, steps=steps)],
    test_cases=lambda rng, dt: [
        ((draw(rng, (5,), dt),), {"starts": (1,), "sizes": (2,), "steps": (2,)}),
        ((draw(rng, (4, 5), dt),), {"starts": (3, 0), "sizes": (2, 3), "steps": (-1, 2)}),
        ((draw(rng, (4, 5), dt),), {"starts": (0, 4), "sizes": (4, 5), "steps": (1, -1)}),
        ((draw(rng, (3,), dt),), {"starts": (0,), "sizes": (0,), "steps": (1,)}),
        ((view_of(draw(rng, (3, 4), dt), "strided"),),
         {"starts": (1, 1), "sizes": (2, 2), "steps": (1, 2)}),
    ]))

pad_p = register(Primitive(
    "pad", _pad_rule, _pad_impl, Host(), linear=True,
    batch=front_rule(lambda b, shape, starts, steps: {
        "shape": (b,) + shape, "starts": (0,) + starts, "steps": (1,) + steps}),
    vjp=lambda cts, ins, outs, *, shape, starts, steps: [
        slice_(cts[0], starts=starts, sizes=aval_of(ins[0]).shape, steps=steps)],
    test_cases=lambda rng, dt: [
        ((draw(rng, (2,), dt),), {"shape": (5,), "starts": (1,), "steps": (2,)}),
        ((draw(rng, (2, 3), dt),), {"shape": (4, 5), "starts": (3, 0), "steps": (-1, 2)}),
        ((draw(rng, (0,), dt),), {"shape": (3,), "starts": (0,), "steps": (1,)}),
    ]))


def slice_(x: Any, starts: Sequence[int], sizes: Sequence[int], steps: Sequence[int]) -> Any:
    starts, sizes, steps = (tuple(int(v) for v in t) for t in (starts, sizes, steps))
    if starts == (0,) * len(starts) and steps == (1,) * len(steps) and \
            sizes == aval_of(x).shape:
        return x
    return slice_p.bind(x, starts=starts, sizes=sizes, steps=steps)


def pad(x: Any, shape: Sequence[int], starts: Sequence[int], steps: Sequence[int]) -> Any:
    return pad_p.bind(x, shape=tuple(shape), starts=tuple(starts), steps=tuple(steps))


# --- concatenate ----------------------------------------------------------------------------


def _concat_rule(*xs: ShapedArray, axis: int) -> ShapedArray:
    if not xs:
        raise ShapeError("concatenate: needs at least one array")
    first = xs[0]
    ok = 0 <= axis < first.ndim and all(
        x.ndim == first.ndim and x.dtype == first.dtype and
        x.shape[:axis] + x.shape[axis + 1:] == first.shape[:axis] + first.shape[axis + 1:]
        for x in xs)
    if not ok:
        raise ShapeError(f"concatenate: along axis {axis}, arrays "
                         f"{', '.join(str(x) for x in xs)} do not fit together")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return ShapedArray(shape, first.dtype)


def _concat_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, axis: int) -> list[Any]:
    ct = cts[0]
    shape = aval_of(ct).shape
    res, offset = [], 0
    for x in ins:
        n = aval_of(x).shape[axis]
        starts = tuple(offset if a == axis else 0 for a in range(len(shape)))
        sizes = tuple(n if a == axis else s for a, s in enumerate(shape))
        res.append(slice_(ct, starts, sizes, (1,) * len(shape)))
        offset += n
    return res


def _concat_batch(args: list[Any], dims: list[int | None], /, *, axis: int) -> tuple[Any, int]:
    b = batch_size(args, dims)
    return concatenate_p.bind(*[at_front(x, d, b) for x, d in zip(args, dims, strict=True)],
                              axis=axis + 1), 0


concatenate_p = register(Primitive(
    "concatenate", _concat_rule, lambda *xs, axis: np.concatenate(xs, axis=axis), Host(),
    linear=True, vjp=_concat_vjp, batch=_concat_batch,
    test_cases=lambda rng, dt: [
        ((draw(rng, (2,), dt), draw(rng, (3,), dt)), {"axis": 0}),
        ((draw(rng, (2, 1), dt), draw(rng, (2, 3), dt), draw(rng, (2, 0), dt)), {"axis": 1}),
        ((view_of(draw(rng, (2, 2), dt), "reversed"), draw(rng, (1, 2), dt)), {"axis": 0}),
    ]))


def concatenate(xs: Sequence[Any], axis: int) -> Any:
    if len(xs) == 1:
        return xs[0]
    return concatenate_p.bind(*xs, axis=int(axis))


# --- gather / scatter_add -------------------------------------------------------------------


def _check_index(name: str, idx: ShapedArray) -> None:
    if not np.issubdtype(idx.dtype, np.integer):
        raise ShapeError(f"{name}: indices must be integers, got {idx}")


def _gather_rule(x: ShapedArray, idx: ShapedArray, *, axis: int) -> ShapedArray:
    _check_index("gather", idx)
    if not 0 <= axis < x.ndim:
        raise ShapeError(f"gather: axis {axis} out of range for shape {x.shape}")
    return ShapedArray(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


def _gather_impl(x: Any, idx: Any, *, axis: int) -> np.ndarray:
    # NB: out-of-range traced indices are clamped (as in JAX); jnp checks concrete ones.
    x = np.asarray(x)
    if x.shape[axis] == 0:
        return np.zeros(x.shape[:axis] + np.shape(idx) + x.shape[axis + 1:], x.dtype)
    return np.take(x, idx, axis=axis, mode="clip")


def _scatter_rule(upd: ShapedArray, idx: ShapedArray, *, axis: int, size: int) -> ShapedArray:
    _check_index("scatter_add", idx)
    k = idx.ndim
    if not (0 <= axis and axis + k <= upd.ndim and upd.shape[axis:axis + k] == idx.shape):
        raise ShapeError(f"scatter_add: updates {upd} do not match indices {idx} at axis {axis}")
    return ShapedArray(upd.shape[:axis] + (size,) + upd.shape[axis + k:], upd.dtype)


def _scatter_impl(upd: Any, idx: Any, *, axis: int, size: int) -> np.ndarray:
    upd, idx = np.asarray(upd), np.asarray(idx)
    out = np.zeros(upd.shape[:axis] + (size,) + upd.shape[axis + idx.ndim:], upd.dtype)
    if size:
        np.add.at(out, (slice(None),) * axis + (np.clip(idx, 0, size - 1),), upd)
    return out


def _index_cases(rng: np.random.Generator, dt: Any) -> list:
    return [
        ((draw(rng, (4,), dt), np.array([0, 3, 3, 1])), {"axis": 0}),
        ((draw(rng, (2, 3), dt), np.array([[2, 0], [2, 2]])), {"axis": 1}),
        ((draw(rng, (3, 2), dt), np.array(1)), {"axis": 0}),
        ((view_of(draw(rng, (3, 2), dt), "reversed"), np.array([], dtype=np.int64)),
         {"axis": 0}),
    ]


def _flat_batch_index(idx: Any, d: int | None, b: int, n: int) -> Any:
    """Per-example indices into ``n`` positions, as indices into ``b * n`` positions (example
    ``e``'s block starts at ``e * n``), batch axis first. Each index is clamped into its own
    example's block first, as gather and scatter_add clamp: an out-of-range index never
    reaches another example."""
    from jitgrad.prims.elementwise import add, max_, min_
    idx = at_front(idx, d, b)
    if n:
        idx = min_(max_(idx, 0), n - 1)
    dtype = aval_of(idx).dtype
    offsets = broadcast_in_dim_p.bind(np.arange(b, dtype=dtype) * n, shape=aval_of(idx).shape,
                                      dims=(0,))
    return add(idx, offsets)


def _gather_batch(args: list[Any], dims: list[int | None], /, *, axis: int) -> tuple[Any, int]:
    (x, idx), (dx, di) = args, dims
    if di is None:  # batched operand: gather on the shifted axis
        return gather_p.bind(move_front(x, dx), idx, axis=axis + 1), 0
    if dx is None:  # batched indices only: the batch axis lands where the indices go
        return gather_p.bind(x, idx, axis=axis), axis + di
    # Both batched: merge the batch axis into the gathered one, with offset indices.
    b = batch_size(args, dims)
    x = move_front(x, dx)
    shape = aval_of(x).shape  # (b, *per-example shape)
    n = shape[axis + 1]
    perm = (0, axis + 1) + tuple(i for i in range(1, len(shape)) if i != axis + 1)
    flat = reshape(transpose(x, perm), (b * n,) + tuple(shape[i] for i in perm[2:]))
    out = gather_p.bind(flat, _flat_batch_index(idx, di, b, n), axis=0)
    # out: (b, *idx, *rest) where rest = per-example axes other than `axis`, in order.
    k = aval_of(idx).ndim - 1
    rest = len(shape) - 2
    order = [0] + [1 + k + r for r in range(axis)] + [1 + j for j in range(k)] + \
        [1 + k + r for r in range(axis, rest)]
    return transpose(out, order), 0


def _scatter_batch(args: list[Any], dims: list[int | None], /, *, axis: int, size: int
                   ) -> tuple[Any, int]:
    (upd, idx), (du, di) = args, dims
    b = batch_size(args, dims)
    upd = at_front(upd, du, b)
    if di is None:
        return scatter_add_p.bind(upd, idx, axis=axis + 1, size=size), 0
    # Batched indices: scatter into b * size positions with offset indices, then split.
    k = aval_of(idx).ndim - 1
    ushape = aval_of(upd).shape  # (b, *pre, *idx, *post)
    pre = ushape[1:1 + axis]
    perm = (0,) + tuple(range(1 + axis, 1 + axis + k)) + tuple(range(1, 1 + axis)) + \
        tuple(range(1 + axis + k, len(ushape)))
    moved = transpose(upd, perm)  # (b, *idx, *pre, *post)
    out = scatter_add_p.bind(moved, _flat_batch_index(idx, di, b, size),
                             axis=0, size=b * size)  # (b*size, *pre, *post)
    out = reshape(out, (b, size) + aval_of(out).shape[1:])
    order = (0,) + tuple(range(2, 2 + len(pre))) + (1,) + tuple(
        range(2 + len(pre), aval_of(out).ndim))
    return transpose(out, order), 0


gather_p = register(Primitive(
    "gather", _gather_rule, _gather_impl, Host(), linear=True, batch=_gather_batch,
    vjp=lambda cts, ins, outs, *, axis: [
        scatter_add(cts[0], ins[1], axis=axis, size=aval_of(ins[0]).shape[axis]), None],
    test_cases=_index_cases))

scatter_add_p = register(Primitive(
    "scatter_add", _scatter_rule, _scatter_impl, Host(), linear=True, batch=_scatter_batch,
    vjp=lambda cts, ins, outs, *, axis, size: [gather(cts[0], ins[1], axis=axis), None],
    test_cases=lambda rng, dt: [
        ((draw(rng, (4,), dt), np.array([0, 3, 3, 1])), {"axis": 0, "size": 5}),
        ((draw(rng, (2, 2, 2), dt), np.array([[2, 0], [2, 2]])), {"axis": 1, "size": 3}),
        ((draw(rng, (0, 2), dt), np.array([], dtype=np.int64)), {"axis": 0, "size": 2}),
    ]))


def gather(x: Any, idx: Any, axis: int) -> Any:
    """``numpy.take(x, idx, axis)`` with in-range integer indices."""
    return gather_p.bind(x, idx, axis=int(axis))


def scatter_add(upd: Any, idx: Any, axis: int, size: int) -> Any:
    """Transpose of ``gather``: zeros of length ``size`` on ``axis`` with ``upd`` added at
    ``idx`` (duplicates accumulate)."""
    return scatter_add_p.bind(upd, idx, axis=int(axis), size=int(size))
