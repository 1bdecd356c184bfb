"""Shape and assembly functions (stacking, splitting, repeating, tiling, rolling, flipping,
padding, meshgrid) as compositions of the structural primitives."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.errors import ShapeError, TracerError, UnsupportedError
from jitgrad.numpy import (
    _aval_of,
    _axes,
    _axis,
    _cast,
    _examples,
    _has_tracer,
    _numpy_when_concrete,
    _Tracer,
    concatenate,
    ravel,
)

__all__ = [
    "append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "dsplit",
    "dstack", "flip", "fliplr", "flipud", "hsplit", "hstack", "meshgrid", "pad", "repeat",
    "roll", "rollaxis", "rot90", "row_stack", "split", "tile", "vsplit", "vstack",
]


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _concrete(value: Any, what: str) -> Any:
    if _has_tracer((value,)):
        raise TracerError(f"{what} determines the result's shape, so it must be concrete "
                          f"(Python numbers or numpy arrays), not a traced value")
    return value


def _slice_axis(x: Any, axis: int, start: int, size: int, step: int = 1) -> Any:
    shape = _shape(x)
    return P.slice_(x, [start if a == axis else 0 for a in range(len(shape))],
                    [size if a == axis else d for a, d in enumerate(shape)],
                    [step if a == axis else 1 for a in range(len(shape))])


# Beyond this many runs, an index map is one gather rather than a concatenation of slices.
_MAX_RUNS = 8


def take_static(x: Any, idx: np.ndarray, axis: int) -> Any:
    """``x`` indexed along ``axis`` by the concrete, in-range integer vector ``idx``. Index
    vectors made of a few arithmetic runs (a flip, a roll, reflect/wrap/edge padding) become
    strided slices (and broadcasts, for repeated elements), which compiled kernels read in
    place; others become one gather."""
    idx = np.asarray(idx, np.int64)
    runs, i = [], 0
    while i < len(idx):
        step = int(idx[i + 1] - idx[i]) if i + 1 < len(idx) else 1
        j = i + 1
        while j < len(idx) and idx[j] - idx[j - 1] == step:
            j += 1
        runs.append((int(idx[i]), j - i, step))
        i = j
    if len(runs) > _MAX_RUNS:
        return P.gather(x, idx, axis)
    pieces = []
    for start, count, step in runs:
        if step == 0:
            one = _slice_axis(x, axis, start, 1)
            shape = list(_shape(one))
            shape[axis] = count
            pieces.append(P.broadcast_in_dim(one, shape, range(len(shape))))
        else:
            pieces.append(_slice_axis(x, axis, start, count, step))
    return P.concatenate(pieces, axis) if pieces else _slice_axis(x, axis, 0, 0)


# ---------------------------------------------------------------------------------------------
# At least N dimensions; stacking


def _atleast(arys: tuple[Any, ...], shape_of: Any) -> Any:
    out = tuple(P.reshape(a, shape_of(_shape(a))) for a in arys)
    return out[0] if len(out) == 1 else out


@_numpy_when_concrete(np.atleast_1d)
def atleast_1d(*arys: Any) -> Any:
    """``numpy.atleast_1d``: scalars become arrays of shape (1,)."""
    return _atleast(arys, lambda s: s or (1,))


@_numpy_when_concrete(np.atleast_2d)
def atleast_2d(*arys: Any) -> Any:
    """``numpy.atleast_2d``: a vector of shape (N,) becomes (1, N)."""
    return _atleast(arys, lambda s: (1,) * (2 - len(s)) + s if len(s) < 2 else s)


@_numpy_when_concrete(np.atleast_3d)
def atleast_3d(*arys: Any) -> Any:
    """``numpy.atleast_3d``: (N,) becomes (1, N, 1) and (M, N) becomes (M, N, 1)."""
    return _atleast(arys, lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(
        len(s), s))


def _one(result: Any) -> tuple[Any, ...]:
    return result if isinstance(result, tuple) else (result,)


@_numpy_when_concrete(np.vstack, sequences=1)
def vstack(tup: Sequence[Any]) -> Any:
    """``numpy.vstack``: concatenation along the first axis of at-least-2-d arrays."""
    return concatenate(_one(atleast_2d(*tup)), axis=0)


def _row_stack(tup: Sequence[Any]) -> Any:
    return np.vstack(tup)


@_numpy_when_concrete(_row_stack, sequences=1)
def row_stack(tup: Sequence[Any]) -> Any:
    """``numpy.row_stack``, numpy's deprecated alias of ``vstack``."""
    return vstack(tup)


@_numpy_when_concrete(np.hstack, sequences=1)
def hstack(tup: Sequence[Any]) -> Any:
    """``numpy.hstack``: along the second axis (the first, for vectors)."""
    arrs = _one(atleast_1d(*tup))
    return concatenate(arrs, axis=0 if arrs and _aval_of(arrs[0]).ndim == 1 else 1)


@_numpy_when_concrete(np.dstack, sequences=1)
def dstack(tup: Sequence[Any]) -> Any:
    """``numpy.dstack``: along the third axis of at-least-3-d arrays."""
    return concatenate(_one(atleast_3d(*tup)), axis=2)


@_numpy_when_concrete(np.column_stack, sequences=1)
def column_stack(tup: Sequence[Any]) -> Any:
    """``numpy.column_stack``: vectors become columns, then along the second axis."""
    cols = [P.reshape(a, _shape(a) + (1,)) if _aval_of(a).ndim < 2 else a for a in tup]
    return concatenate(_one(atleast_2d(*cols)), axis=1)


def _append_operand(x: Any) -> Any:
    return x if isinstance(x, _Tracer) else np.asarray(x)


@_numpy_when_concrete(np.append)
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``numpy.append``: flattened unless ``axis`` is given."""
    arr, values = _append_operand(arr), _append_operand(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


# ---------------------------------------------------------------------------------------------
# Splitting


def _pieces(ary: Any, bounds: list[int], axis: int) -> list[Any]:
    """``ary[b[i]:b[i+1]]`` along ``axis`` with Python's slice semantics (negative bounds
    count from the end; a reversed pair is empty)."""
    n = _shape(ary)[axis]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        start, stop, _ = slice(lo, hi).indices(n)
        out.append(_slice_axis(ary, axis, start if stop > start else 0, max(stop - start, 0)))
    return out


@_numpy_when_concrete(np.array_split)
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``numpy.array_split``: N sections of (nearly) equal size (the first ones one longer),
    or splits at the given indices."""
    _concrete(indices_or_sections, "array_split: indices_or_sections")
    ax = _axis(axis, _aval_of(ary).ndim, "array_split")
    n = _shape(ary)[ax]
    if np.ndim(indices_or_sections) == 0:
        k = operator.index(indices_or_sections)
        if k <= 0:
            raise ShapeError("array_split: number sections must be larger than 0")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        return _pieces(ary, [0] + list(np.cumsum(sizes)), ax)
    return _pieces(ary, [None] + [int(i) for i in indices_or_sections] + [None], ax)


@_numpy_when_concrete(np.split)
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``numpy.split``: like ``array_split``, but N sections must divide the axis equally."""
    if np.ndim(_concrete(indices_or_sections, "split: indices_or_sections")) == 0:
        n = _shape(ary)[_axis(axis, _aval_of(ary).ndim, "split")]
        k = operator.index(indices_or_sections)
        if k <= 0 or n % k:
            raise ShapeError(f"split: array split does not result in an equal division "
                             f"({n} into {k})")
    return array_split(ary, indices_or_sections, axis)


def _split_along(name: str, axis: int, min_ndim: int) -> Any:
    np_fn = getattr(np, name)

    @_numpy_when_concrete(np_fn)
    def fn(ary: Any, indices_or_sections: Any) -> list[Any]:
        nd = _aval_of(ary).ndim
        if nd < min_ndim:
            raise ShapeError(f"{name} only works on arrays of {min_ndim} or more dimensions "
                             f"(got shape {_shape(ary)})")
        return split(ary, indices_or_sections, axis=axis if nd > 1 else 0)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``numpy.{name}``: ``split`` along axis {axis}."
    return fn


vsplit = _split_along("vsplit", 0, 2)
hsplit = _split_along("hsplit", 1, 1)
dsplit = _split_along("dsplit", 2, 3)


# ---------------------------------------------------------------------------------------------
# Repeating and tiling (broadcasts and reshapes: nothing is gathered)


@_numpy_when_concrete(np.repeat)
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """``numpy.repeat``: one count for every element (a broadcast), or one count per
    element (a gather with concrete indices)."""
    repeats = np.asarray(_concrete(repeats, "repeat: repeats"))
    if not np.issubdtype(repeats.dtype, np.integer) or (repeats < 0).any():
        raise ShapeError(f"repeat: repeats must be non-negative integers, got {repeats}")
    if axis is None:
        a, axis = ravel(a), 0
    shape = _shape(a)
    ax = _axis(axis, len(shape), "repeat")
    n = shape[ax]
    if repeats.size == 1:
        r = int(repeats.reshape(()))
        wide = shape[:ax + 1] + (r,) + shape[ax + 1:]
        x = P.broadcast_in_dim(a, wide, [i for i in range(len(wide)) if i != ax + 1])
        return P.reshape(x, shape[:ax] + (n * r,) + shape[ax + 1:])
    if repeats.shape != (n,):
        raise ShapeError(f"repeat: {repeats.size} repeats for an axis of length {n}")
    return take_static(a, np.repeat(np.arange(n), repeats), ax)


@_numpy_when_concrete(np.tile)
def tile(A: Any, reps: Any) -> Any:
    """``numpy.tile``: ``reps`` copies along each axis."""
    reps = (tuple(int(r) for r in _concrete(reps, "tile: reps")) if np.ndim(reps)
            else (operator.index(reps),))
    shape = _shape(A)
    nd = max(len(shape), len(reps))
    shape, reps = (1,) * (nd - len(shape)) + shape, (1,) * (nd - len(reps)) + reps
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: negative repetitions {reps}")
    wide = tuple(d for pair in zip(reps, shape, strict=True) for d in pair)
    x = P.broadcast_in_dim(P.reshape(A, shape), wide, range(1, 2 * nd, 2))
    return P.reshape(x, [r * d for r, d in zip(reps, shape, strict=True)])


# ---------------------------------------------------------------------------------------------
# Rearranging: roll, flip, rot90, rollaxis


def _axis_tuple(axis: Any, nd: int, op: str) -> tuple[int, ...]:
    """Normalised axes, in the order given (repeats allowed where numpy allows them)."""
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -nd <= a < nd:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of dimension {nd}")
        out.append(a % nd)
    return tuple(out)


@_numpy_when_concrete(np.roll)
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """``numpy.roll``: elements shifted cyclically along one or several axes (two slices
    and a concatenation per axis)."""
    shift = _concrete(shift, "roll: shift")
    if axis is None:
        return P.reshape(roll(ravel(a), shift, 0), _shape(a))
    shape = _shape(a)
    axes = _axis_tuple(axis, len(shape), "roll")
    shifts, axes_b = np.broadcast_arrays(np.asarray(shift), np.asarray(axes))
    if shifts.ndim > 1:
        raise ShapeError("roll: 'shift' and 'axis' should be scalars or 1D sequences")
    total = dict.fromkeys(range(len(shape)), 0)
    for s, ax in zip(shifts.ravel(), axes_b.ravel(), strict=True):
        total[int(ax)] += int(s)
    for ax, s in total.items():
        n = shape[ax]
        if n and s % n:
            a = take_static(a, (np.arange(n) - s) % n, ax)
    return a


@_numpy_when_concrete(np.flip)
def flip(m: Any, axis: Any = None) -> Any:
    """``numpy.flip``: one slice with step -1 on each flipped axis (an index map)."""
    shape = _shape(m)
    axes = range(len(shape)) if axis is None else _axes(axis, len(shape), "flip")
    starts = [d - 1 if a in axes and d else 0 for a, d in enumerate(shape)]
    steps = [-1 if a in axes and d else 1 for a, d in enumerate(shape)]
    return P.slice_(m, starts, shape, steps)


@_numpy_when_concrete(np.fliplr)
def fliplr(m: Any) -> Any:
    """``numpy.fliplr``: flip the second axis."""
    if _aval_of(m).ndim < 2:
        raise ShapeError(f"fliplr: input must be >= 2-d (got shape {_shape(m)})")
    return flip(m, 1)


@_numpy_when_concrete(np.flipud)
def flipud(m: Any) -> Any:
    """``numpy.flipud``: flip the first axis."""
    if _aval_of(m).ndim < 1:
        raise ShapeError("flipud: input must be >= 1-d")
    return flip(m, 0)


@_numpy_when_concrete(np.rot90)
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """``numpy.rot90``: rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    nd = _aval_of(m).ndim
    if len(axes) != 2:
        raise ShapeError("rot90: len(axes) must be 2")
    a0, a1 = _axis_tuple(axes, nd, "rot90") if nd >= 2 else (None, None)
    if a0 is None or a0 == a1:
        raise ShapeError(f"rot90: axes {tuple(axes)} must be two different axes of an array of "
                         f"at least 2 dimensions (got shape {_shape(m)})")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (a0, a1))
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return P.transpose(flip(m, a1), perm)
    return flip(P.transpose(m, perm), a1)


@_numpy_when_concrete(np.rollaxis)
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """``numpy.rollaxis``: move ``axis`` to before position ``start``."""
    nd = _aval_of(a).ndim
    ax = _axis(axis, nd, "rollaxis")
    start = operator.index(start)
    if not -nd <= start <= nd:
        raise ShapeError(f"rollaxis: start {start} must be in [{-nd}, {nd}]")
    if start < 0:
        start += nd
    if ax < start:
        start -= 1
    order = [i for i in range(nd) if i != ax]
    order.insert(start, ax)
    return P.transpose(a, order)


# ---------------------------------------------------------------------------------------------
# pad


def _pairs(value: Any, nd: int, what: str) -> np.ndarray:
    """numpy.pad's reading of a width or constant spec: one value, one (before, after) pair,
    or one pair per axis."""
    x = np.asarray(value)
    if x.ndim < 3 and x.size == 1:
        x = np.repeat(x.ravel(), 2)
    elif x.ndim < 3 and x.size == 2 and x.shape != (2, 1):
        x = x.ravel()
    try:
        return np.broadcast_to(x, (nd, 2))
    except ValueError:
        raise ShapeError(f"pad: {what} {value!r} does not fit an array of dimension {nd}"
                         ) from None


_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


@_numpy_when_concrete(np.pad)
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """``numpy.pad`` with modes ``constant`` (``constant_values``, which may be traced),
    ``edge``, ``reflect``, ``symmetric`` and ``wrap``, per-axis widths. The index modes are
    index maps along each axis: slices (and broadcasts of an edge), concatenated."""
    shape = _shape(array)
    nd = len(shape)
    widths = _pairs(_concrete(pad_width, "pad: pad_width"), nd, "pad_width")
    if not np.issubdtype(widths.dtype, np.integer):
        raise ShapeError(f"pad: pad_width must be integers, got {pad_width!r}")
    if (widths < 0).any():
        raise ShapeError(f"pad: pad_width can't contain negative values ({pad_width!r})")
    if mode == "constant":
        return _pad_constant(array, widths, kwargs.pop("constant_values", 0), kwargs)
    if mode not in _INDEX_MODES:
        raise UnsupportedError(f"pad: mode {mode!r} on traced arrays (supported: 'constant', "
                               f"{', '.join(repr(m) for m in _INDEX_MODES)})")
    if kwargs.pop("reflect_type", "even") != "even" or kwargs:
        raise UnsupportedError(f"pad: options {kwargs} with mode {mode!r} on traced arrays "
                               f"(reflect_type='odd' is not provided)")
    for ax, (before, after) in enumerate(widths):
        if before or after:
            # numpy's own index arithmetic, applied to positions, gives the index map.
            idx = np.pad(np.arange(shape[ax]), (int(before), int(after)), mode=mode)
            array = take_static(array, idx, ax)
    return array


def _pad_constant(x: Any, widths: np.ndarray, values: Any, kwargs: dict) -> Any:
    if kwargs:
        raise ShapeError(f"pad: unexpected keyword arguments {sorted(kwargs)} for mode "
                         f"'constant'")
    dtype = _aval_of(x).dtype
    shape = _shape(x)
    if not isinstance(values, _Tracer) and not np.any(np.asarray(values)):
        return P.pad(x, [int(b) + d + int(a) for (b, a), d in zip(widths, shape, strict=True)],
                     [int(b) for b, _ in widths], [1] * len(shape))
    # Axis by axis, as numpy: a later axis's constants cover the corners.
    if isinstance(values, _Tracer):
        values = P.reshape(values, (1,) * (2 - values.ndim) + values.shape) \
            if values.ndim < 2 else values
        pairs = [[P.reshape(_slice_pair(values, ax, side, len(shape)), ()) for side in (0, 1)]
                 for ax in range(len(shape))]
    else:
        consts = _pairs(values, len(shape), "constant_values").astype(dtype)
        pairs = [[consts[ax, side] for side in (0, 1)] for ax in range(len(shape))]
    for ax, (before, after) in enumerate(widths):
        parts = []
        for width, value in ((before, pairs[ax][0]), (after, pairs[ax][1])):
            cur = list(_shape(x))
            cur[ax] = int(width)
            parts.append(P.broadcast_in_dim(_cast(value, dtype), cur, ()) if width else None)
        x = P.concatenate([p for p in (parts[0], x, parts[1]) if p is not None], ax)
    return x


def _slice_pair(values: Any, ax: int, side: int, nd: int) -> Any:
    """Element (ax, side) of a traced constant spec broadcast to (nd, 2)."""
    rows, cols = values.shape
    return P.slice_(values, [ax if rows > 1 else 0, side if cols > 1 else 0], [1, 1], [1, 1])


# ---------------------------------------------------------------------------------------------
# meshgrid


@_numpy_when_concrete(np.meshgrid)
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy"
             ) -> tuple[Any, ...]:
    """``numpy.meshgrid``: coordinate arrays broadcast over the grid (never materialised by
    the compiled path); ``indexing='xy'`` swaps the first two axes."""
    if indexing not in ("xy", "ij"):
        raise ShapeError("meshgrid: valid values for `indexing` are 'xy' and 'ij'")
    n = len(xi)
    vecs = [ravel(x) for x in xi]
    sizes = [_aval_of(v).size for v in vecs]
    axis_of = list(range(n))
    if indexing == "xy" and n > 1:
        axis_of[0], axis_of[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for v, ax in zip(vecs, axis_of, strict=True):
        if sparse:
            out.append(P.reshape(v, [_aval_of(v).size if i == ax else 1 for i in range(n)]))
        else:
            out.append(P.broadcast_in_dim(v, sizes, (ax,)))
    return tuple(out)


# Runnable examples: the compiled function and numpy's result for the same call.
_examples.attach(globals(), {
    'atleast_1d': (
        'jnp.atleast_1d',
        'np.float64(2.0)',
        'array([2.])'),
    'atleast_2d': (
        'jnp.atleast_2d',
        'np.array([1.0, 2.0, 3.0])',
        'array([[1., 2., 3.]])'),
    'atleast_3d': (
        'jnp.atleast_3d',
        'np.array([1.0, 2.0, 3.0])',
        'array([[[1.],\n        [2.],\n        [3.]]])'),
    'vstack': (
        'lambda x: jnp.vstack([x, x * 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([[1., 2., 3.],\n       [2., 4., 6.]])'),
    'row_stack': (
        'lambda x: jnp.row_stack([x, x * 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([[1., 2., 3.],\n       [2., 4., 6.]])'),
    'hstack': (
        'lambda x: jnp.hstack([x, x * 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([1., 2., 3., 2., 4., 6.])'),
    'dstack': (
        'lambda x: jnp.dstack([x, x * 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([[[1., 2.],\n        [2., 4.],\n        [3., 6.]]])'),
    'column_stack': (
        'lambda x: jnp.column_stack([x, x * 2])',
        'np.array([1.0, 2.0, 3.0])',
        'array([[1., 2.],\n       [2., 4.],\n       [3., 6.]])'),
    'append': (
        'lambda x: jnp.append(x, x[:1])',
        'np.array([1.0, 2.0, 3.0])',
        'array([1., 2., 3., 1.])'),
    'array_split': (
        'lambda x: jnp.array_split(x, 2)',
        'np.array([1.0, 2.0, 3.0])',
        '[array([1., 2.]), array([3.])]'),
    'vsplit': (
        'lambda x: jnp.vsplit(x, 2)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        '[array([[1., 2.]]), array([[3., 4.]])]'),
    'hsplit': (
        'lambda x: jnp.hsplit(x, 2)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        '[array([[1.],\n       [3.]]), array([[2.],\n       [4.]])]'),
    'dsplit': (
        'lambda x: jnp.dsplit(x[None], 2)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        '[array([[[1.],\n        [3.]]]), array([[[2.],\n        [4.]]])]'),
    'repeat': (
        'lambda x: jnp.repeat(x, [2, 0, 1])',
        'np.array([1.0, 2.0, 3.0])',
        'array([1., 1., 3.])'),
    'tile': (
        'lambda x: jnp.tile(x, 2)',
        'np.array([1.0, 2.0, 3.0])',
        'array([1., 2., 3., 1., 2., 3.])'),
    'roll': (
        'lambda x: jnp.roll(x, 1)',
        'np.array([1.0, 2.0, 3.0])',
        'array([3., 1., 2.])'),
    'flip': (
        'jnp.flip',
        'np.array([1.0, 2.0, 3.0])',
        'array([3., 2., 1.])'),
    'fliplr': (
        'jnp.fliplr',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[2., 1.],\n       [4., 3.]])'),
    'flipud': (
        'jnp.flipud',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[3., 4.],\n       [1., 2.]])'),
    'rot90': (
        'jnp.rot90',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[2., 4.],\n       [1., 3.]])'),
    'rollaxis': (
        'lambda x: jnp.rollaxis(x, 1)',
        'np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[1., 3.],\n       [2., 4.]])'),
    'pad': (
        "lambda x: jnp.pad(x, (2, 1), mode='reflect')",
        'np.array([1.0, 2.0, 3.0])',
        'array([3., 2., 1., 2., 3., 2.])'),
    'meshgrid': (
        'lambda x: jnp.meshgrid(x, x[:2])',
        'np.array([1.0, 2.0, 3.0])',
        '(array([[1., 2., 3.],\n       [1., 2., 3.]]), '
        'array([[1., 1., 1.],\n       [2., 2., 2.]]))'),
})
