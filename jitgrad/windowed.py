"""Convolutions and windowed reductions with JAX's ``jax.lax`` signatures: conv_general_dilated
(and conv, conv_with_general_padding, conv_transpose) on the convolution primitive;
reduce_window as slices and selects, one window axis at a time; and their shape helpers."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import prims as P
from jitgrad.core import Tracer, aval_of
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.prims import broadcast_in_dim, pad, select, slice_
from jitgrad.prims import conv_general_dilated as _conv_p
from jitgrad.prims.conv import ConvDimensionNumbers, conv_output_spatial, dilate_dim

__all__ = ["ConvDimensionNumbers", "conv", "conv_dimension_numbers", "conv_general_dilated",
           "conv_general_shape_tuple", "conv_transpose", "conv_transpose_shape_tuple",
           "conv_with_general_padding", "padtype_to_pads", "reduce_window",
           "reduce_window_shape_tuple"]

Padding = str | Sequence[tuple[int, int]]


# ---------------------------------------------------------------------------------------------
# Parameters


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: Padding) -> list[tuple[int, int]]:
    """(low, high) padding pairs for ``'SAME'`` (an output of ``ceil(n / stride)``, the odd
    element of padding at the end), ``'SAME_LOWER'`` (at the start) or ``'VALID'`` (none);
    pairs pass through.

    >>> padtype_to_pads((5,), (3,), (2,), "SAME")
    [(1, 1)]
    """
    if not isinstance(padding, str):
        return [(int(lo), int(hi)) for lo, hi in padding]
    kind = padding.upper()
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ShapeError(f"padding must be 'SAME', 'SAME_LOWER', 'VALID' or (low, high) pairs, "
                         f"got {padding!r}")
    pads = []
    for n, w, s in zip(in_shape, window_shape, window_strides, strict=True):
        total = max(0, (-(-n // s) - 1) * s + w - n)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if kind == "SAME" else (big, small))
    return pads


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: Any) -> ConvDimensionNumbers:
    """``dimension_numbers`` as axis indices: ``None`` is ('NCH...', 'OIH...', 'NCH...');
    strings name the batch ``N`` and feature ``C`` axes of lhs and output, the ``O``/``I``
    axes of rhs, and spatial axes by letters shared among the three (their order in the rhs
    string orders the spatial dimensions).

    >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise ShapeError(f"convolution: lhs and rhs must have the same rank, got shapes "
                         f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    specs = tuple(dimension_numbers) if isinstance(dimension_numbers, list | tuple) else ()
    if len(specs) != 3 or not all(isinstance(s, str) and len(s) == nd for s in specs):
        raise JitgradTypeError(f"convolution: dimension_numbers must be None, a "
                               f"ConvDimensionNumbers or three strings of length {nd} (the "
                               f"rank), got {dimension_numbers!r}")
    lhs, rhs, out = specs
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for s, pair in zip(specs, pairs, strict=True):
        if len(set(s)) != nd or not all(c in s for c in pair):
            raise JitgradTypeError(f"convolution: dimension_numbers {specs}: {s!r} must hold "
                                   f"{pair[0]!r} and {pair[1]!r} once and no repeated letters")
    spatial = [c for c in rhs if c not in "OI"]
    if any(sorted(c for c in s if c not in pair) != sorted(spatial)
           for s, pair in zip(specs, ("NC", "OI", "NC"), strict=True)):
        raise JitgradTypeError(f"convolution: dimension_numbers {specs} must name the same "
                               f"spatial axes in all three")

    def perm(s: str, pair: tuple[str, str]) -> tuple[int, ...]:
        return (s.index(pair[0]), s.index(pair[1])) + tuple(s.index(c) for c in spatial)

    return ConvDimensionNumbers(*(perm(s, p) for s, p in zip(specs, pairs, strict=True)))


def _spatial(shape: Sequence[int], spec: Sequence[int]) -> tuple[int, ...]:
    return tuple(shape[a] for a in spec[2:])


def _ints(name: str, values: Any, n: int, default: int = 1) -> tuple[int, ...]:
    out = (default,) * n if values is None else tuple(int(v) for v in values)
    if len(out) != n:
        raise ShapeError(f"convolution: {name} {tuple(values)} needs one entry per spatial "
                         f"dimension ({n})")
    return out


# ---------------------------------------------------------------------------------------------
# Convolution


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Padding,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None) -> Any:
    """JAX's general convolution: windows of ``rhs`` (the kernel) slide over ``lhs``, which
    is dilated (``lhs_dilation - 1`` zeros between elements: a transposed convolution) and
    padded (``padding``: 'SAME', 'SAME_LOWER', 'VALID' or (low, high) pairs; negative pairs
    crop), ``window_strides`` apart, the kernel itself dilated by ``rhs_dilation``
    (atrous). Each window is contracted with the kernel over the input features; with
    ``feature_group_count`` g, input and output features split into g groups convolved
    separately (g = the number of input features: depthwise); with ``batch_group_count`` b,
    the lhs batch splits into b groups, each producing its own output features. As in XLA it
    correlates (the kernel is not flipped). Differentiable in both modes to any order (both
    transposes are convolutions), batched by ``vmap``; compiled as im2col into jitgrad's
    matmul.

    ``precision`` is accepted and ignored (NB: computations are always in the operands'
    dtype); ``preferred_element_type`` converts both operands to that dtype first.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_general_dilated(x, np.array([[[1.0, 10.0]]]), (1,), "VALID")
    array([[[10., 21., 32., 43.]]])
    """
    lhs, rhs = _operands("conv_general_dilated", lhs, rhs, preferred_element_type)
    dn = conv_dimension_numbers(aval_of(lhs).shape, aval_of(rhs).shape, dimension_numbers)
    nsp = len(dn.lhs_spec) - 2
    strides = _ints("window_strides", window_strides, nsp)
    lhs_dilation = _ints("lhs_dilation", lhs_dilation, nsp)
    rhs_dilation = _ints("rhs_dilation", rhs_dilation, nsp)
    if isinstance(padding, str):
        if set(lhs_dilation) - {1}:
            raise ShapeError("conv_general_dilated: string padding is not defined with "
                             "lhs_dilation (a transposed convolution): give (low, high) pairs "
                             "or use conv_transpose")
        window = [dilate_dim(k, r) for k, r in
                  zip(_spatial(aval_of(rhs).shape, dn.rhs_spec), rhs_dilation, strict=True)]
        padding = padtype_to_pads(_spatial(aval_of(lhs).shape, dn.lhs_spec), window, strides,
                                  padding)
    else:
        padding = [tuple(p) for p in padding]
        if len(padding) != nsp or any(len(p) != 2 for p in padding):
            raise ShapeError(f"conv_general_dilated: padding {padding} needs one (low, high) "
                             f"pair per spatial dimension ({nsp})")
    return _conv_p(lhs, rhs, strides, padding, lhs_dilation, rhs_dilation, dn,
                   feature_group_count, batch_group_count)


def _operands(name: str, lhs: Any, rhs: Any, preferred_element_type: Any) -> tuple[Any, Any]:
    lhs, rhs = jnp.asarray(lhs), jnp.asarray(rhs)
    if preferred_element_type is not None:
        lhs = jnp.astype(lhs, preferred_element_type)
        rhs = jnp.astype(rhs, preferred_element_type)
    a, b = aval_of(lhs), aval_of(rhs)
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise JitgradTypeError(f"{name}: lhs and rhs must be floating point of one dtype "
                               f"(as in JAX, lax does not promote), got {a} and {b}")
    return lhs, rhs


def conv(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: str,
         precision: Any = None, preferred_element_type: Any = None) -> Any:
    """``conv_general_dilated`` in the (N, C, spatial...) / (O, I, spatial...) layout.

    >>> conv(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), (1, 1), "SAME")[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]])
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Any, rhs: Any, window_strides: Sequence[int],
                              padding: Padding, lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None, precision: Any = None,
                              preferred_element_type: Any = None) -> Any:
    """``conv_general_dilated`` in the (N, C, spatial...) / (O, I, spatial...) layout. Here
    [1, 2, 3] dilated by 2 and padded by 1 is [0, 1, 0, 2, 0, 3, 0]:

    >>> x, k = np.array([[[1.0, 2.0, 3.0]]]), np.array([[[1.0, 10.0]]])
    >>> conv_with_general_padding(x, k, (1,), [(1, 1)], (2,), None)
    array([[[10.,  1., 20.,  2., 30.,  3.]]])
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _transpose_padding(k: int, s: int, padding: Any) -> tuple[int, int]:
    """Padding of the transposed convolution that a forward convolution with kernel size k,
    stride s and this padding inverts in shape (JAX's ``_conv_transpose_padding``)."""
    if padding == "SAME":
        total = k + s - 2
        before = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total, before = k + s - 2 + max(k - s, 0), k - 1
    elif isinstance(padding, tuple | list) and len(padding) == 2:
        before, after = k - padding[0] - 1, k - padding[1] - 1
        total = before + after
    else:
        raise ShapeError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                         f"pairs, got {padding!r}")
    return before, total - before


_TRANSPOSE_LAYOUTS = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                      4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs: Any, rhs: Any, strides: Sequence[int], padding: Padding,
                   rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                   transpose_kernel: bool = False, precision: Any = None,
                   preferred_element_type: Any = None,
                   use_consistent_padding: bool = False) -> Any:
    """JAX's transposed ("fractionally strided") convolution: the input dilated by
    ``strides``, padded so that 'SAME'/'VALID' mean the forward convolution's padding (pairs
    are the transposed convolution's own padding unless ``use_consistent_padding``), then
    correlated with ``rhs`` (flipped, with its feature axes swapped, if
    ``transpose_kernel``: the gradient of the forward convolution). Default layout
    TensorFlow's: (N, spatial..., C) and (spatial..., I, O).

    >>> conv_transpose(np.ones((1, 2, 1)), np.ones((3, 1, 1)), (2,), "VALID")[0, :, 0]
    array([1., 1., 2., 1., 1.])
    """
    lhs, rhs = _operands("conv_transpose", lhs, rhs, preferred_element_type)
    nd = aval_of(lhs).ndim
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_LAYOUTS:
            raise ShapeError(f"conv_transpose: no default dimension_numbers for rank {nd}")
        dimension_numbers = _TRANSPOSE_LAYOUTS[nd]
    dn = conv_dimension_numbers(aval_of(lhs).shape, aval_of(rhs).shape, dimension_numbers)
    nsp = nd - 2
    strides = _ints("strides", strides, nsp)
    rhs_dilation = _ints("rhs_dilation", rhs_dilation, nsp)
    kernel = [dilate_dim(k, r) for k, r in
              zip(_spatial(aval_of(rhs).shape, dn.rhs_spec), rhs_dilation, strict=True)]
    if use_consistent_padding or isinstance(padding, str):
        per_dim = [padding] * nsp if isinstance(padding, str) else [tuple(p) for p in padding]
        pads = [_transpose_padding(k, s, p) for k, s, p in
                zip(kernel, strides, per_dim, strict=True)]
    else:
        pads = [tuple(p) for p in padding]
    if transpose_kernel:
        rhs = jnp.flip(rhs, dn.rhs_spec[2:])
        rhs = jnp.swapaxes(rhs, dn.rhs_spec[0], dn.rhs_spec[1])
    return conv_general_dilated(lhs, rhs, (1,) * nsp, pads, strides, rhs_dilation, dn)


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                             window_strides: Sequence[int], padding: Padding,
                             dimension_numbers: Any) -> tuple[int, ...]:
    """The result shape of ``conv_general_dilated`` without dilation.

    >>> conv_general_shape_tuple((8, 28, 28, 1), (3, 3, 1, 16), (2, 2), "SAME",
    ...                          ("NHWC", "HWIO", "NHWC"))
    (8, 14, 14, 16)
    """
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    return _conv_shape(lhs_shape, rhs_shape, window_strides, padding, None, None, dn)


def conv_transpose_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                               window_strides: Sequence[int], padding: Padding,
                               dimension_numbers: Any) -> tuple[int, ...]:
    """The result shape of ``conv_transpose``.

    >>> conv_transpose_shape_tuple((8, 14, 14, 16), (3, 3, 16, 1), (2, 2), "SAME",
    ...                            ("NHWC", "HWIO", "NHWC"))
    (8, 28, 28, 1)
    """
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    nsp = len(lhs_shape) - 2
    strides = _ints("strides", window_strides, nsp)
    kernel = _spatial(rhs_shape, dn.rhs_spec)
    per_dim = [padding] * nsp if isinstance(padding, str) else [tuple(p) for p in padding]
    pads = [_transpose_padding(k, s, p) if isinstance(padding, str) else p
            for k, s, p in zip(kernel, strides, per_dim, strict=True)]
    return _conv_shape(lhs_shape, rhs_shape, (1,) * nsp, pads, strides, None, dn)


def _conv_shape(lhs_shape: Sequence[int], rhs_shape: Sequence[int], strides: Sequence[int],
                padding: Padding, lhs_dilation: Any, rhs_dilation: Any,
                dn: ConvDimensionNumbers) -> tuple[int, ...]:
    nsp = len(lhs_shape) - 2
    lhs_sp, rhs_sp = _spatial(lhs_shape, dn.lhs_spec), _spatial(rhs_shape, dn.rhs_spec)
    strides = _ints("window_strides", strides, nsp)
    if isinstance(padding, str):
        padding = padtype_to_pads(lhs_sp, rhs_sp, strides, padding)
    canon = (lhs_shape[dn.lhs_spec[0]], rhs_shape[dn.rhs_spec[0]]) + conv_output_spatial(
        lhs_sp, rhs_sp, strides, padding, _ints("lhs_dilation", lhs_dilation, nsp),
        _ints("rhs_dilation", rhs_dilation, nsp))
    out = [0] * len(lhs_shape)
    for k, a in enumerate(dn.out_spec):
        out[a] = canon[k]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Windowed reductions


def _first_max(a: Any, b: Any) -> Any:
    """max(a, b) that keeps ``a`` on ties (so its derivative flows to the earlier element)
    and propagates NaN."""
    take = b > a
    if jnp.issubdtype(jnp.result_type(a), jnp.floating):
        take = take | (jnp.isnan(b) & ~jnp.isnan(a))
    return jnp.where(take, b, a)


def _first_min(a: Any, b: Any) -> Any:
    take = b < a
    if jnp.issubdtype(jnp.result_type(a), jnp.floating):
        take = take | (jnp.isnan(b) & ~jnp.isnan(a))
    return jnp.where(take, b, a)


def _monoid(computation: Callable[..., Any], dtype: np.dtype
            ) -> tuple[Callable[[Any, Any], Any], Any]:
    """The combining function reduce_window uses for ``computation``, and its identity."""
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    # jnp's functions, the operators, and lax's (which are the primitives' own wrappers)
    if computation in (jnp.add, operator.add, P.add):
        return jnp.add, 0
    if computation in (jnp.multiply, operator.mul, P.mul):
        return jnp.multiply, 1
    if computation in (jnp.maximum, P.max_):
        return _first_max, -np.inf if info is None else info.min
    if computation in (jnp.minimum, P.min_):
        return _first_min, np.inf if info is None else info.max
    raise UnsupportedError(f"reduce_window: computation {computation!r} is not supported; "
                           f"use lax.add, lax.mul, lax.max or lax.min (or jnp.add, "
                           f"jnp.multiply, jnp.maximum, jnp.minimum)")


def _window_pads(shape: Sequence[int], window: Sequence[int], strides: Sequence[int],
                 padding: Padding) -> list[tuple[int, int]]:
    pads = padtype_to_pads(shape, window, strides, padding)
    if len(pads) != len(shape) or any(len(p) != 2 for p in pads):
        raise ShapeError(f"reduce_window: padding {padding} needs one (low, high) pair per "
                         f"axis of the operand {tuple(shape)}")
    return pads


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int], padding: Padding,
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """The result shape of ``reduce_window``.

    >>> reduce_window_shape_tuple((8, 28, 28, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    (8, 14, 14, 3)
    """
    nd = len(operand_shape)
    pads = _window_pads(operand_shape, window_dimensions, window_strides, padding)
    return tuple(max(0, (dilate_dim(n, bd) + lo + hi - dilate_dim(w, wd)) // s + 1)
                 for n, w, s, (lo, hi), bd, wd in zip(
                     operand_shape, window_dimensions, window_strides, pads,
                     _window_ints("base_dilation", base_dilation, nd),
                     _window_ints("window_dilation", window_dilation, nd), strict=True))


def _window_ints(name: str, values: Any, n: int) -> tuple[int, ...]:
    out = (1,) * n if values is None else tuple(int(v) for v in values)
    if len(out) != n or min(out, default=1) < 1:
        raise ShapeError(f"reduce_window: {name} {values} needs one entry >= 1 per axis ({n})")
    return out


def reduce_window(operand: Any, init_value: Any, computation: Callable[..., Any],
                  window_dimensions: Sequence[int], window_strides: Sequence[int],
                  padding: Padding, base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """JAX's ``lax.reduce_window``: ``computation`` (jnp.add, jnp.multiply, jnp.maximum or
    jnp.minimum) over windows of ``window_dimensions``, ``window_strides`` apart, of the
    operand dilated by ``base_dilation`` and padded; padding and dilation holes take no part,
    and ``init_value`` is combined once into every window (as JAX computes it).

    Built from strided slices and selects, one window axis at a time (a 3x3 window costs
    3 + 3 slices, not 9), so it is differentiable in both modes, batched and fused under
    ``jit``. The derivative of a max (min) flows to the first maximal element of each window
    in row-major order (JAX's ``select_and_scatter_add`` does the same); a NaN is the
    maximum, and the first NaN gets the derivative.

    >>> x = np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 6.0]])
    >>> reduce_window(x, -np.inf, jnp.maximum, (2, 2), (1, 1), "VALID")
    array([[5., 6.]])
    """
    x = jnp.asarray(operand)
    shape, dtype = aval_of(x).shape, aval_of(x).dtype
    nd = len(shape)
    window = tuple(int(w) for w in window_dimensions)
    strides = tuple(int(s) for s in window_strides)
    if len(window) != nd or len(strides) != nd or min(strides, default=1) < 1:
        raise ShapeError(f"reduce_window: window_dimensions {window} and window_strides "
                         f"{strides} need one entry (>= 1 for strides) per axis of the "
                         f"operand {shape}")
    pads = _window_pads(shape, window, strides, padding)
    base = _window_ints("base_dilation", base_dilation, nd)
    wdil = _window_ints("window_dilation", window_dilation, nd)
    combine, identity = _monoid(computation, np.dtype(dtype))
    identity = np.asarray(identity).astype(dtype)[()]
    # The last axis first: then ties between rows go to the first row whose maximum is
    # tied, and within it to the first column, i.e. to the first element in row-major order.
    for d in reversed(range(nd)):
        if window[d] == strides[d] == base[d] == wdil[d] == 1 and pads[d] == (0, 0):
            continue
        x = _dilate_pad(x, d, base[d], pads[d], identity)
        n = aval_of(x).shape[d]
        size = max(0, (n - dilate_dim(window[d], wdil[d])) // strides[d] + 1)
        acc = None
        for j in range(window[d]):
            starts, sizes, steps = [0] * nd, list(aval_of(x).shape), [1] * nd
            starts[d], sizes[d], steps[d] = j * wdil[d] if size else 0, size, strides[d]
            part = slice_(x, starts, sizes, steps)
            acc = part if acc is None else combine(acc, part)
        if acc is None:  # an empty window reduces to the identity
            out_shape = list(aval_of(x).shape)
            out_shape[d] = size
            acc = broadcast_in_dim(identity, out_shape, ())
        x = acc
    if isinstance(init_value, Tracer) or np.asarray(init_value) != identity:
        init = jnp.astype(jnp.asarray(init_value), dtype)
        x = combine(broadcast_in_dim(init, aval_of(x).shape, ()), x)
    return x


def _dilate_pad(x: Any, d: int, dilation: int, pads: tuple[int, int], fill: Any) -> Any:
    """``x`` along axis ``d`` with ``dilation - 1`` holes between elements and padded by
    ``pads`` (cropped where negative), holes and padding set to ``fill``."""
    shape = aval_of(x).shape
    lo, hi = pads
    n = shape[d]
    grown = dilate_dim(n, dilation) + max(lo, 0) + max(hi, 0)
    if grown != n:
        new = list(shape)
        new[d] = grown
        starts, steps = [0] * len(shape), [1] * len(shape)
        starts[d], steps[d] = max(lo, 0), dilation
        x = pad(x, new, starts, steps)
        if fill != 0:
            mask = np.zeros(grown, bool)
            mask[max(lo, 0):max(lo, 0) + dilate_dim(n, dilation):dilation] = True
            x = select(broadcast_in_dim(mask, new, (d,)), x, fill)
    if lo < 0 or hi < 0:
        starts, sizes = [0] * len(shape), list(aval_of(x).shape)
        # Cropping more than there is leaves nothing (and no window), as in JAX.
        starts[d] = max(-lo, 0)
        sizes[d] = max(0, grown - max(-lo, 0) - max(-hi, 0))
        x = slice_(x, starts if sizes[d] else [0] * len(shape), sizes, [1] * len(shape))
    return x
