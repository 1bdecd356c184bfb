"""conv_general_dilated: XLA's general convolution (any layout, window strides, padding, lhs and
rhs dilation, feature and batch groups). Bilinear; both transposes are convolutions again (the
rules of JAX's ``_conv_general_dilated_transpose_lhs/rhs``), so it differentiates to any order
and batches by folding the vmap axis into its batch or feature dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from jitgrad.core import Host, Primitive, ShapedArray, Zero, aval_of, is_float, register, zeros
from jitgrad.errors import JitgradTypeError, ShapeError
from jitgrad.prims.elementwise import add
from jitgrad.prims.structural import reshape, slice_, transpose
from jitgrad.prims.testcases import draw, view_of


class ConvDimensionNumbers(NamedTuple):
    """Where each role sits among an operand's axes: ``lhs_spec`` is (batch, feature,
    spatial...), ``rhs_spec`` (output feature, input feature, spatial...), ``out_spec`` (batch,
    feature, spatial...); the spatial axes of the three correspond in order."""

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def dilate_dim(d: int, dilation: int) -> int:
    """The length of ``d`` elements with ``dilation - 1`` zeros between neighbours."""
    return 0 if d == 0 else 1 + dilation * (d - 1)


def conv_output_spatial(lhs_spatial: Sequence[int], rhs_spatial: Sequence[int],
                        window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                        lhs_dilation: Sequence[int], rhs_dilation: Sequence[int]
                        ) -> tuple[int, ...]:
    """The output's spatial shape: windows of the dilated kernel over the padded, dilated
    input, ``window_strides`` apart (none where the window does not fit)."""
    out = []
    for n, k, s, (lo, hi), ld, rd in zip(lhs_spatial, rhs_spatial, window_strides, padding,
                                         lhs_dilation, rhs_dilation, strict=True):
        padded = dilate_dim(n, ld) + lo + hi
        out.append(max(0, (padded - dilate_dim(k, rd)) // s + 1))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Shape rule and the numpy reference


def _conv_rule(lhs: ShapedArray, rhs: ShapedArray, *, window_strides: tuple, padding: tuple,
               lhs_dilation: tuple, rhs_dilation: tuple,
               dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
               batch_group_count: int) -> ShapedArray:
    name = "conv_general_dilated"
    if not is_float(lhs.dtype) or lhs.dtype != rhs.dtype:
        raise JitgradTypeError(f"{name}: operands must be floating point of one dtype, got "
                               f"{lhs} and {rhs}")
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nd = lhs.ndim
    if rhs.ndim != nd or nd < 2:
        raise ShapeError(f"{name}: lhs and rhs must have the same rank >= 2, got shapes "
                         f"{lhs.shape} and {rhs.shape}")
    if any(sorted(spec) != list(range(nd)) for spec in dimension_numbers):
        raise ShapeError(f"{name}: dimension_numbers {dimension_numbers} are not permutations "
                         f"of the {nd} axes of shapes {lhs.shape} and {rhs.shape}")
    nsp = nd - 2
    for label, vals in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                        ("rhs_dilation", rhs_dilation), ("padding", padding)):
        if len(vals) != nsp:
            raise ShapeError(f"{name}: {label} {vals} needs one entry per spatial dimension "
                             f"({nsp}) of shapes {lhs.shape} and {rhs.shape}")
    if min((*window_strides, *lhs_dilation, *rhs_dilation), default=1) < 1:
        raise ShapeError(f"{name}: window_strides {window_strides}, lhs_dilation "
                         f"{lhs_dilation} and rhs_dilation {rhs_dilation} must be >= 1")
    g, b = feature_group_count, batch_group_count
    n, c = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    o, i = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    problem = None
    if g < 1 or b < 1 or (g > 1 and b > 1):
        problem = (f"feature_group_count {g} and batch_group_count {b} must be >= 1, and at "
                   f"most one of them > 1")
    elif c != i * g or o % g:
        problem = (f"the lhs feature size {c} must be the rhs input feature size {i} times "
                   f"feature_group_count {g}, and the rhs output feature size {o} a multiple "
                   f"of it")
    elif n % b or o % b:
        problem = (f"batch_group_count {b} must divide the lhs batch size {n} and the rhs "
                   f"output feature size {o}")
    if problem:
        raise ShapeError(f"{name}: {problem} (shapes {lhs.shape} and {rhs.shape})")
    lhs_sp = [lhs.shape[a] for a in lhs_spec[2:]]
    rhs_sp = [rhs.shape[a] for a in rhs_spec[2:]]
    for d, ld, (lo, hi) in zip(lhs_sp, lhs_dilation, padding, strict=True):
        if dilate_dim(d, ld) + lo + hi < 0:
            raise ShapeError(f"{name}: negative padding {padding} is larger than the "
                             f"(dilated) lhs spatial shape {tuple(lhs_sp)}")
    canon = (n // b, o) + conv_output_spatial(lhs_sp, rhs_sp, window_strides, padding,
                                              lhs_dilation, rhs_dilation)
    shape = [0] * nd
    for k, a in enumerate(out_spec):
        shape[a] = canon[k]
    return ShapedArray(shape, lhs.dtype)


def _dilate_and_pad(x: np.ndarray, lhs_dilation: tuple, padding: tuple) -> np.ndarray:
    """Canonical ``x`` (N, C, spatial...) with zeros between elements, then padded (cropped
    where negative)."""
    dil = np.zeros(x.shape[:2] + tuple(dilate_dim(d, r) for d, r in
                                       zip(x.shape[2:], lhs_dilation, strict=True)), x.dtype)
    dil[(slice(None),) * 2 + tuple(slice(None, None, r) for r in lhs_dilation)] = x
    grown = np.pad(dil, [(0, 0)] * 2 + [(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in
                 zip(grown.shape[2:], padding, strict=True))
    return grown[(slice(None),) * 2 + crop]


def _conv_impl(lhs: Any, rhs: Any, *, window_strides: tuple, padding: tuple,
               lhs_dilation: tuple, rhs_dilation: tuple,
               dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
               batch_group_count: int) -> np.ndarray:
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    x = _dilate_and_pad(np.transpose(np.asarray(lhs), lhs_spec), lhs_dilation, padding)
    w = np.transpose(np.asarray(rhs), rhs_spec)
    nsp = x.ndim - 2
    kernel = w.shape[2:]
    out_sp = tuple(max(0, (p - dilate_dim(k, r)) // s + 1) for p, k, s, r in
                   zip(x.shape[2:], kernel, window_strides, rhs_dilation, strict=True))
    # Every window as a strided view (N, C, out spatial..., kernel spatial...).
    st = x.strides[2:]
    windows = np.lib.stride_tricks.as_strided(
        x, x.shape[:2] + out_sp + kernel,
        x.strides[:2] + tuple(a * s for a, s in zip(st, window_strides, strict=True)) +
        tuple(a * r for a, r in zip(st, rhs_dilation, strict=True)), writeable=False)
    n, c = x.shape[:2]
    o = w.shape[0]
    g, b = feature_group_count, batch_group_count
    pos, ker = "pqrstuvw"[:nsp], "abdefghi"[:nsp]
    if b > 1:  # lhs batch group j meets the rhs output features of group j
        out = np.einsum(f"jnc{pos}{ker},joc{ker}->njo{pos}",
                        windows.reshape((b, n // b, c) + windows.shape[2:]),
                        w.reshape((b, o // b) + w.shape[1:]), optimize=True)
        out = out.reshape((n // b, o) + out_sp)
    else:  # lhs feature group j meets the rhs output features of group j
        out = np.einsum(f"njc{pos}{ker},joc{ker}->njo{pos}",
                        windows.reshape((n, g, c // g) + windows.shape[2:]),
                        w.reshape((g, o // g) + w.shape[1:]), optimize=True)
        out = out.reshape((n, o) + out_sp)
    return np.transpose(out.astype(x.dtype, copy=False), np.argsort(out_spec))


# ---------------------------------------------------------------------------------------------
# The wrapper on canonical parameters (``jitgrad.lax.conv_general_dilated`` parses JAX's forms)


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int],
                         padding: Sequence[tuple[int, int]], lhs_dilation: Sequence[int],
                         rhs_dilation: Sequence[int], dimension_numbers: ConvDimensionNumbers,
                         feature_group_count: int = 1, batch_group_count: int = 1) -> Any:
    """The convolution primitive on explicit parameters: ``padding`` as (low, high) pairs,
    ``dimension_numbers`` a ``ConvDimensionNumbers`` of axis indices."""
    dn = ConvDimensionNumbers(*(tuple(int(a) for a in spec) for spec in dimension_numbers))
    params = dict(window_strides=tuple(int(s) for s in window_strides),
                  padding=tuple((int(lo), int(hi)) for lo, hi in padding),
                  lhs_dilation=tuple(int(d) for d in lhs_dilation),
                  rhs_dilation=tuple(int(d) for d in rhs_dilation), dimension_numbers=dn,
                  feature_group_count=int(feature_group_count),
                  batch_group_count=int(batch_group_count))
    _conv_rule(aval_of(lhs), aval_of(rhs), **params)  # the same errors eagerly as traced
    return conv_general_dilated_p.bind(lhs, rhs, **params)


# ---------------------------------------------------------------------------------------------
# Derivatives: bilinear, with the two transposes written as convolutions.
#
# Without spatial axes a convolution is a matmul [n, c] x [o, c] -> [n, o] and its transposes
# are matmuls: [n, o] x [o, c] -> [n, c] for the lhs (swap the kernel's two feature axes) and
# [c, n] x [n, o] -> [c, o] for the rhs (the batch axis becomes the contracted feature axis).
# In space the lhs transpose correlates the cotangent with the flipped kernel, stepping as the
# forward dilated the input and dilating it as the forward strode; the rhs transpose
# correlates the input with the cotangent, dilated by the forward's strides. Feature groups
# of the forward are batch groups of the rhs transpose and vice versa.


def _swap_roles(spec: tuple[int, ...]) -> tuple[int, ...]:
    return (spec[1], spec[0]) + spec[2:]


def _merge_axis(x: Any, src: int, dst: int) -> Any:
    """Move axis ``src`` next to axis ``dst`` (numbered without ``src``) and merge the two,
    ``src`` as the outer factor."""
    shape = aval_of(x).shape
    perm = [a for a in range(len(shape)) if a != src]
    perm.insert(dst, src)
    rest = [d for a, d in enumerate(shape) if a != src]
    rest[dst] *= shape[src]
    return reshape(transpose(x, perm), rest)


def _split_axis(x: Any, axis: int, outer: int) -> Any:
    """Split axis ``axis`` into (``outer``, the rest)."""
    shape = list(aval_of(x).shape)
    shape[axis:axis + 1] = [outer, shape[axis] // outer]
    return reshape(x, shape)


def _flip(x: Any, axes: Sequence[int]) -> Any:
    shape = aval_of(x).shape
    flip = [a in axes and shape[a] > 0 for a in range(len(shape))]
    return slice_(x, [n - 1 if f else 0 for n, f in zip(shape, flip, strict=True)], shape,
                  [-1 if f else 1 for f in flip])


def _spatial(shape: tuple[int, ...], spec: tuple[int, ...]) -> list[int]:
    return [shape[a] for a in spec[2:]]


def _transpose_lhs(g: Any, lhs: ShapedArray, rhs: Any, *, window_strides: tuple,
                   padding: tuple, lhs_dilation: tuple, rhs_dilation: tuple,
                   dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
                   batch_group_count: int) -> Any:
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    if aval_of(g).size == 0:
        return zeros(lhs)
    groups = max(feature_group_count, batch_group_count)
    if groups > 1:  # the group moves from the kernel's output features to its input features
        rhs = _merge_axis(_split_axis(rhs, rhs_spec[0], groups), rhs_spec[0], rhs_spec[1])
    lhs_sp = _spatial(lhs.shape, lhs_spec)
    rhs_sp = _spatial(aval_of(rhs).shape, rhs_spec)
    out_sp = _spatial(aval_of(g).shape, out_spec)
    pads = []
    for n, k, o, s, (lo, _), ld, rd in zip(lhs_sp, rhs_sp, out_sp, window_strides, padding,
                                           lhs_dilation, rhs_dilation, strict=True):
        before = dilate_dim(k, rd) - lo - 1
        pads.append((before, dilate_dim(n, ld) + dilate_dim(k, rd) - 1 - dilate_dim(o, s) -
                     before))
    out = conv_general_dilated(
        g, _flip(rhs, rhs_spec[2:]), lhs_dilation, pads, window_strides, rhs_dilation,
        ConvDimensionNumbers(out_spec, _swap_roles(rhs_spec), lhs_spec), groups, 1)
    if batch_group_count > 1:  # the group moves from the features back into the batch
        out = _merge_axis(_split_axis(out, lhs_spec[1], batch_group_count), lhs_spec[1],
                          lhs_spec[0])
    return out


def _transpose_rhs(g: Any, lhs: Any, rhs: ShapedArray, *, window_strides: tuple,
                   padding: tuple, lhs_dilation: tuple, rhs_dilation: tuple,
                   dimension_numbers: ConvDimensionNumbers, feature_group_count: int,
                   batch_group_count: int) -> Any:
    if aval_of(g).size == 0:
        return zeros(rhs)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_sp = _spatial(aval_of(lhs).shape, lhs_spec)
    rhs_sp = _spatial(rhs.shape, rhs_spec)
    out_sp = _spatial(aval_of(g).shape, out_spec)
    pads = []
    for n, k, o, s, (lo, _), ld, rd in zip(lhs_sp, rhs_sp, out_sp, window_strides, padding,
                                           lhs_dilation, rhs_dilation, strict=True):
        pads.append((lo, dilate_dim(o, s) - dilate_dim(n, ld) + dilate_dim(k, rd) - lo - 1))
    return conv_general_dilated(
        lhs, g, rhs_dilation, pads, lhs_dilation, window_strides,
        ConvDimensionNumbers(_swap_roles(lhs_spec), _swap_roles(out_spec),
                             _swap_roles(rhs_spec)),
        batch_group_count, feature_group_count)


def _conv_vjp(cts: list[Any], ins: list[Any], outs: list[Any], **params: Any) -> list[Any]:
    (g,), (lhs, rhs) = cts, ins
    if isinstance(g, Zero):
        return [None, None]
    return [_transpose_lhs(g, aval_of(lhs), rhs, **params),
            _transpose_rhs(g, lhs, aval_of(rhs), **params)]


def _conv_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    terms = []
    if not isinstance(t_lhs, Zero):
        terms.append(conv_general_dilated_p.bind(t_lhs, rhs, **params))
    if not isinstance(t_rhs, Zero):
        terms.append(conv_general_dilated_p.bind(lhs, t_rhs, **params))
    return out, terms[0] if len(terms) == 1 else add(*terms)


def _conv_batch(args: list[Any], dims: list[int | None], /, **params: Any) -> tuple[Any, int]:
    """The vmap axis is folded into the lhs batch (lhs batched), the rhs output features (rhs
    batched) or the feature groups (both batched), and split out of the result again."""
    (lhs, rhs), (dl, dr) = args, dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fg, bg = params["feature_group_count"], params["batch_group_count"]
    size = aval_of(lhs).shape[dl] if dl is not None else aval_of(rhs).shape[dr]
    if size == 0:  # no example: nothing to fold the axis into
        one = [ShapedArray(np.delete(aval_of(x).shape, d) if d is not None else
                           aval_of(x).shape, aval_of(x).dtype) for x, d in zip(args, dims,
                                                                              strict=True)]
        out = _conv_rule(*one, **params)
        return zeros(ShapedArray((0,) + out.shape, out.dtype)), 0
    if dl is not None and dr is not None:
        rhs = _merge_axis(rhs, dr, rhs_spec[0])
        if bg > 1:
            lhs = _merge_axis(lhs, dl, lhs_spec[0])
            params = dict(params, batch_group_count=bg * size)
        else:
            lhs = _merge_axis(lhs, dl, lhs_spec[1])
            params = dict(params, feature_group_count=fg * size)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[1], size), out_spec[1]
    if dl is not None:
        if bg > 1:  # the vmap axis goes inside each batch group
            lhs = _split_axis(lhs, lhs_spec[0] + (dl <= lhs_spec[0]), bg)
            lhs = _merge_axis(lhs, dl + (lhs_spec[0] < dl), lhs_spec[0] + 1)
            lhs = _merge_axis(lhs, lhs_spec[0], lhs_spec[0])
        else:
            lhs = _merge_axis(lhs, dl, lhs_spec[0])
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[0], size), out_spec[0]
    groups = max(fg, bg)
    if groups == 1:
        out = conv_general_dilated_p.bind(lhs, _merge_axis(rhs, dr, rhs_spec[0]), **params)
        return _split_axis(out, out_spec[1], size), out_spec[1]
    # The groups stay outermost in the output features: (group, vmap, features per group).
    rhs = _split_axis(rhs, rhs_spec[0] + (dr <= rhs_spec[0]), groups)
    rhs = _merge_axis(rhs, dr + (rhs_spec[0] < dr), rhs_spec[0] + 1)
    rhs = _merge_axis(rhs, rhs_spec[0], rhs_spec[0])
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    out = _split_axis(_split_axis(out, out_spec[1], groups), out_spec[1] + 1, size)
    return _merge_axis(out, out_spec[1], out_spec[1] + 1), out_spec[1]


# ---------------------------------------------------------------------------------------------
# Test cases: every parameter, layouts, groups, degenerate sizes


def _iota(nd: int) -> ConvDimensionNumbers:
    return ConvDimensionNumbers(*(tuple(range(nd)),) * 3)


def _params(nsp: int, dn: ConvDimensionNumbers | None = None, **kw: Any) -> dict:
    p = {"window_strides": (1,) * nsp, "padding": ((0, 0),) * nsp,
         "lhs_dilation": (1,) * nsp, "rhs_dilation": (1,) * nsp,
         "dimension_numbers": dn or _iota(nsp + 2), "feature_group_count": 1,
         "batch_group_count": 1}
    p.update(kw)
    return p


_NHWC = ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def _conv_cases(rng: np.random.Generator, dt: Any) -> list:
    def d(*shape: int) -> np.ndarray:
        return draw(rng, shape, dt)

    return [
        ((d(2, 3, 5), d(4, 3, 2)), _params(1)),
        ((d(2, 2, 5, 4), d(3, 2, 3, 2)),
         _params(2, window_strides=(2, 1), padding=((1, 0), (0, 2)), rhs_dilation=(1, 2))),
        ((d(2, 4, 5, 3), d(2, 2, 3, 2)), _params(2, _NHWC, padding=((1, 1), (0, 1)))),
        ((d(1, 2, 4, 3), d(2, 2, 2, 2)),
         _params(2, window_strides=(1, 2), padding=((-1, 1), (1, -1)), lhs_dilation=(2, 1))),
        ((d(2, 4, 5), d(6, 2, 3)), _params(1, feature_group_count=2, padding=((1, 1),))),
        ((d(4, 3, 5), d(6, 3, 2)), _params(1, batch_group_count=2, window_strides=(2,))),
        ((d(1, 2, 3, 4, 3), d(2, 2, 2, 2, 2)), _params(3, window_strides=(1, 1, 2))),
        ((view_of(d(2, 2, 4), "strided"), view_of(d(3, 2, 2), "reversed")),
         _params(1, padding=((2, 0),))),
        ((d(1, 3, 5), d(3, 1, 2)), _params(1, feature_group_count=3, lhs_dilation=(2,))),
        ((d(2, 3), d(4, 3)), _params(0)),
        ((d(0, 2, 4), d(3, 2, 2)), _params(1)),
        ((d(1, 1, 2), d(1, 1, 3)), _params(1)),
    ]


conv_general_dilated_p = register(Primitive(
    "conv_general_dilated", _conv_rule, _conv_impl, Host(module="conv"), jvp=_conv_jvp,
    vjp=_conv_vjp, batch=_conv_batch, test_cases=_conv_cases))
