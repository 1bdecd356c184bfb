"""Finite differences (diff, gradient) and the cross product, from slices and arithmetic."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.errors import ShapeError
from jitgrad.numpy import (
    _aval_of,
    _axis,
    _examples,
    _is_float,
    _numpy_when_concrete,
    _Tracer,
    add,
    broadcast_to,
    concatenate,
    divide,
    moveaxis,
    multiply,
    not_equal,
    stack,
    subtract,
)
from jitgrad.numpy._shape import _slice_axis

__all__ = ["cross", "diff", "gradient"]

_NO_VALUE = np._NoValue


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _along(x: Any, axis: int, start: int, stop: int) -> Any:
    """``x[start:stop]`` along ``axis`` (Python slice semantics, step 1)."""
    lo, hi, _ = slice(start, stop).indices(_shape(x)[axis])
    return _slice_axis(x, axis, lo if hi > lo else 0, max(hi - lo, 0))


@_numpy_when_concrete(np.diff)
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NO_VALUE,
         append: Any = _NO_VALUE) -> Any:
    """``numpy.diff``: ``n``-th differences along ``axis`` (booleans: ``!=``), with values
    prepended or appended first (a scalar is broadcast across the other axes)."""
    n = operator.index(n)
    if n < 0:
        raise ShapeError(f"diff: order must be non-negative but got {n}")
    nd = _aval_of(a).ndim
    if nd == 0:
        raise ShapeError("diff requires input that is at least one dimensional")
    ax = _axis(axis, nd, "diff")
    if n == 0:
        return a
    parts = []
    for value in (prepend, append):
        if value is _NO_VALUE:
            parts.append(None)
            continue
        value = value if isinstance(value, _Tracer) else np.asarray(value)
        if _aval_of(value).ndim == 0:
            value = broadcast_to(value, tuple(1 if d == ax else s
                                              for d, s in enumerate(_shape(a))))
        parts.append(value)
    a = concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis=ax)
    step = not_equal if _aval_of(a).dtype == np.bool_ else subtract
    for _ in range(n):
        a = step(_along(a, ax, 1, None), _along(a, ax, 0, -1))
    return a


def _spacings(varargs: tuple, axes: tuple[int, ...], shape: tuple[int, ...]) -> list[Any]:
    """numpy.gradient's spacing arguments: one scalar for every axis, or one per axis, each a
    scalar or a coordinate vector (uniformly spaced concrete coordinates become their step)."""
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return list(varargs) * len(axes)
    if len(varargs) != len(axes):
        raise ShapeError(f"gradient: {len(varargs)} spacing arguments for {len(axes)} axes "
                         f"(give one, or one per axis)")
    out = []
    for h, ax in zip(varargs, axes, strict=True):
        if _aval_of(h).ndim == 0:
            out.append(h)
            continue
        if _aval_of(h).ndim != 1:
            raise ShapeError("gradient: distances must be either scalars or 1d")
        if _shape(h)[0] != shape[ax]:
            raise ShapeError("gradient: when 1d, distances must match the length of the "
                             "corresponding dimension")
        if not isinstance(h, _Tracer):
            h = np.asarray(h)
            dx = np.diff(h.astype(np.float64) if h.dtype.kind in "iub" else h)
            if dx.size and (dx == dx[0]).all():
                out.append(dx[0])
                continue
        out.append(diff(h))
    return out


def _gradient_axis(f: Any, ax: int, h: Any, edge_order: int) -> Any:
    first = lambda k: _along(f, ax, k, k + 1)  # noqa: E731
    last = lambda k: _along(f, ax, -k, None if k == 1 else -k + 1)  # noqa: E731
    if _aval_of(h).ndim == 0:
        interior = divide(subtract(_along(f, ax, 2, None), _along(f, ax, 0, -2)),
                          multiply(2.0, h))
        if edge_order == 1:
            lo = divide(subtract(first(1), first(0)), h)
            hi = divide(subtract(last(1), last(2)), h)
        else:
            lo = add(add(multiply(divide(-1.5, h), first(0)), multiply(divide(2.0, h), first(1))),
                     multiply(divide(-0.5, h), first(2)))
            hi = add(add(multiply(divide(0.5, h), last(3)), multiply(divide(-2.0, h), last(2))),
                     multiply(divide(1.5, h), last(1)))
        return concatenate([lo, interior, hi], axis=ax)
    # Non-uniform coordinates: second-order weights from the neighbouring distances.
    nd = _aval_of(f).ndim

    def along(v: Any) -> Any:  # a vector along `ax`, broadcastable against f
        return P.reshape(v, [_shape(v)[0] if d == ax else 1 for d in range(nd)])

    dx1, dx2 = _along(h, 0, 0, -1), _along(h, 0, 1, None)
    a = along(divide(-dx2, multiply(dx1, add(dx1, dx2))))
    b = along(divide(subtract(dx2, dx1), multiply(dx1, dx2)))
    c = along(divide(dx1, multiply(dx2, add(dx1, dx2))))
    interior = add(add(multiply(a, _along(f, ax, 0, -2)), multiply(b, _along(f, ax, 1, -1))),
                   multiply(c, _along(f, ax, 2, None)))
    d0, d1, dm2, dm1 = (along(_along(h, 0, i, i + 1 if i != -1 else None))
                        for i in (0, 1, -2, -1))
    if edge_order == 1:
        lo = divide(subtract(first(1), first(0)), d0)
        hi = divide(subtract(last(1), last(2)), dm1)
    else:
        lo = add(add(multiply(divide(-(2.0 * d0 + d1), d0 * (d0 + d1)), first(0)),
                     multiply(divide(d0 + d1, d0 * d1), first(1))),
                 multiply(divide(-d0, d1 * (d0 + d1)), first(2)))
        hi = add(add(multiply(divide(dm1, dm2 * (dm2 + dm1)), last(3)),
                     multiply(divide(-(dm1 + dm2), dm2 * dm1), last(2))),
                 multiply(divide(2.0 * dm1 + dm2, dm1 * (dm2 + dm1)), last(1)))
    return concatenate([lo, interior, hi], axis=ax)


@_numpy_when_concrete(np.gradient)
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """``numpy.gradient``: central differences inside, one-sided differences of order
    ``edge_order`` (1 or 2) at the edges, with scalar spacings or coordinate vectors. One
    array per axis (a tuple when there are several)."""
    shape = _shape(f)
    axes = tuple(range(len(shape))) if axis is None else tuple(
        _axis(a, len(shape), "gradient") for a in ((axis,) if np.ndim(axis) == 0 else axis))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"gradient: repeated axis in {axis}")
    if edge_order not in (1, 2):
        raise ShapeError("gradient: 'edge_order' greater than 2 not supported")
    dtype = _aval_of(f).dtype
    # NB: as numpy, integer (and boolean) data is differenced in float64.
    f = P.convert_element_type(f, dtype if _is_float(dtype) else np.float64)
    out = []
    for ax, h in zip(axes, _spacings(varargs, axes, shape), strict=True):
        if shape[ax] < edge_order + 1:
            raise ShapeError("gradient: shape of array too small to calculate a numerical "
                             "gradient, at least (edge_order + 1) elements are required")
        g = _gradient_axis(f, ax, h, edge_order)
        out.append(P.convert_element_type(g, _aval_of(f).dtype))
    return out[0] if len(out) == 1 else tuple(out)


@_numpy_when_concrete(np.cross)
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """``numpy.cross`` of vectors of length 3 (or 2, whose z component is 0: two 2-vectors
    give the scalar z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, _axis(axisa, _aval_of(a).ndim, "cross"), -1)
    b = moveaxis(b, _axis(axisb, _aval_of(b).ndim, "cross"), -1)
    na, nb = _shape(a)[-1], _shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3), got {na} and {nb}")
    ca = [_along(a, -1 % _aval_of(a).ndim, i, i + 1) for i in range(na)]
    cb = [_along(b, -1 % _aval_of(b).ndim, i, i + 1) for i in range(nb)]
    ca, cb = [P.reshape(c, _shape(c)[:-1]) for c in ca], [P.reshape(c, _shape(c)[:-1])
                                                          for c in cb]
    if na == nb == 2:
        return subtract(multiply(ca[0], cb[1]), multiply(ca[1], cb[0]))
    a0, a1, a2 = ca + [None] * (3 - na)
    b0, b1, b2 = cb + [None] * (3 - nb)

    def term(x: Any, y: Any, u: Any, v: Any) -> Any:  # x*y - u*v, absent (zero) parts left out
        left = multiply(x, y) if x is not None and y is not None else None
        right = multiply(u, v) if u is not None and v is not None else None
        if right is None:
            return left
        return subtract(left, right) if left is not None else -right

    cp = [term(a1, b2, a2, b1), term(a2, b0, a0, b2), term(a0, b1, a1, b0)]
    shape = _shape(cp[2])
    cp = [broadcast_to(c, shape) if _shape(c) != shape else c for c in cp]
    return moveaxis(stack(cp, axis=-1), -1, _axis(axisc, len(shape) + 1, "cross"))


# Runnable examples: the compiled function and numpy's result for the same call.
_examples.attach(globals(), {
    'diff': (
        'jnp.diff',
        'np.array([1.0, 4.0, 9.0, 16.0])',
        'array([3., 5., 7.])'),
    'gradient': (
        'jnp.gradient',
        'np.array([1.0, 4.0, 9.0, 16.0])',
        'array([3., 4., 6., 7.])'),
    'cross': (
        'jnp.cross',
        'np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])',
        'array([0., 0., 1.])'),
})
