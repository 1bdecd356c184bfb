"""Statistics and 1-d signal functions (cov, corrcoef, convolve, correlate, interp, trapezoid,
searchsorted, digitize, unwrap) as composites of jitgrad.numpy's functions."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import prims as P
from jitgrad.errors import JitgradTypeError, ShapeError, TracerError
from jitgrad.numpy import _aval_of, _axis, _is_float, _numpy_when_concrete, _Tracer
from jitgrad.numpy._shape import _slice_axis
from jitgrad.prims.conv import ConvDimensionNumbers
from jitgrad.prims.special import i0e_p

__all__ = ["bartlett", "blackman", "convolve", "corrcoef", "correlate", "cov", "digitize",
           "hamming", "hanning", "interp", "kaiser", "searchsorted", "trapezoid", "unwrap"]


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _vector(x: Any, op: str, what: str) -> Any:
    if len(_shape(x)) != 1:
        raise ShapeError(f"{op}: {what} must be 1-d, got shape {_shape(x)}")
    return x


# ---------------------------------------------------------------------------------------------
# Sorted search


def _np_searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                     method: str = "scan") -> Any:
    return np.searchsorted(a, v, side=side, sorter=sorter)


@_numpy_when_concrete(_np_searchsorted)
def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "scan") -> Any:
    """``numpy.searchsorted``: where each of ``v`` would be inserted into the sorted 1-d ``a``
    (``side`` 'left': before equal elements, 'right': after them; ``sorter`` the indices that
    sort ``a``), with numpy's order (NaNs last). Integer results (int64), no derivative.

    NB: JAX's ``method=`` is accepted and ignored: every element of ``v`` is compared with
    every element of ``a`` (JAX's 'compare_all'), one fused count, O(len(a)) per element.

    >>> import jitgrad
    >>> jitgrad.jit(searchsorted)(np.array([1.0, 2.0, 3.0]), np.array([2.0, 0.5, np.nan]))
    array([1, 0, 3])
    """
    if side not in ("left", "right"):
        raise ShapeError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a = _vector(a, "searchsorted", "a")
    if sorter is not None:
        a = jnp.take(a, sorter)
    v = jnp.asarray(v)
    dtype = jnp.result_type(a, v)
    a, v = jnp.astype(a, dtype), jnp.expand_dims(jnp.astype(v, dtype), -1)
    before = jnp.less(a, v) if side == "left" else jnp.less_equal(a, v)
    if _is_float(dtype):  # NaN sorts after every number, and equal to NaN
        nan_v = jnp.isnan(v)
        before = jnp.logical_or(before, nan_v if side == "right" else
                                jnp.logical_and(nan_v, jnp.logical_not(jnp.isnan(a))))
    return jnp.sum(before, axis=-1, dtype=np.int64)


def _np_digitize(x: Any, bins: Any, right: bool = False, *, method: str = "scan") -> Any:
    return np.digitize(x, bins, right=right)


@_numpy_when_concrete(_np_digitize)
def digitize(x: Any, bins: Any, right: bool = False, *, method: str = "scan") -> Any:
    """``numpy.digitize``: the index of the bin of ``bins`` (increasing or decreasing) each
    of ``x`` falls in; ``right`` puts the right edge into the bin. Traced ``bins`` are
    taken as increasing when ``bins[-1] >= bins[0]`` (as JAX does; numpy checks that they are
    monotonic).

    >>> import jitgrad
    >>> jitgrad.jit(digitize)(np.array([0.5, 1.0, 2.5]), np.array([1.0, 2.0, 3.0]))
    array([0, 1, 2])
    """
    bins = _vector(bins, "digitize", "bins")
    n = _shape(bins)[0]
    side = "left" if right else "right"
    if n == 0:
        return jnp.zeros(_shape(x), np.int64)
    if not isinstance(bins, _Tracer):
        bins = np.asarray(bins)
        steps = np.diff(bins)
        if not (np.all(steps >= 0) or np.all(steps <= 0)):
            raise ShapeError("digitize: bins must be monotonically increasing or decreasing")
        if np.all(steps >= 0):
            return searchsorted(bins, x, side=side)
        return n - searchsorted(bins[::-1], x, side=side)
    return jnp.where(bins[-1] >= bins[0], searchsorted(bins, x, side=side),
                     n - searchsorted(jnp.flip(bins), x, side=side))


# ---------------------------------------------------------------------------------------------
# Interpolation and integration


def _interp_periodic(x: Any, xp: Any, fp: Any, period: Any) -> tuple[Any, Any, Any]:
    """numpy's reduction of a periodic interpolation to an ordinary one: every coordinate
    modulo ``period``, ``xp`` sorted, one point of each neighbouring period on either side."""
    if period == 0:
        raise ShapeError("interp: period must be a non-zero value")
    period = jnp.abs(period)
    x, xp = jnp.remainder(x, period), jnp.remainder(xp, period)
    order = jnp.argsort(xp)
    xp, fp = jnp.take(xp, order), jnp.take(fp, order)
    xp = jnp.concatenate([xp[-1:] - period, xp, xp[:1] + period])
    fp = jnp.concatenate([fp[-1:], fp, fp[:1]])
    return x, xp, fp


def _np_interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
               period: Any = None) -> Any:
    return np.interp(x, xp, fp, left=left, right=right, period=period)


@_numpy_when_concrete(_np_interp)
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """``numpy.interp``: the piecewise-linear interpolant through ``(xp, fp)`` (``xp``
    increasing) at ``x``; ``left``/``right`` (default ``fp[0]``/``fp[-1]``) outside, or
    ``period`` for periodic coordinates. Float64, as numpy's. Differentiable in ``x``, ``xp``
    and ``fp`` (at a knot, the derivative in ``x`` is the right-hand slope).

    >>> import jitgrad
    >>> jitgrad.jit(interp)(np.array([0.5, 2.0, 9.0]), np.array([0.0, 1.0, 3.0]),
    ...                     np.array([1.0, 3.0, 2.0]))
    array([2. , 2.5, 2. ])
    """
    f64 = np.dtype(np.float64)
    x, xp, fp = (jnp.astype(jnp.asarray(a), f64) for a in (x, xp, fp))
    _vector(xp, "interp", "xp")
    if _shape(fp) != _shape(xp):
        raise ShapeError(f"interp: fp and xp are not of the same length ({_shape(fp)} and "
                         f"{_shape(xp)})")
    if _shape(xp)[0] == 0:
        raise ShapeError("interp: array of sample points is empty")
    if period is not None:
        x, xp, fp = _interp_periodic(x, xp, fp, period)
        left = right = None
    n = _shape(xp)[0]
    left = fp[0] if left is None else left
    right = fp[-1] if right is None else right
    if n == 1:
        inside = fp[0]
    else:
        j = jnp.clip(searchsorted(xp, x, side="right") - 1, 0, n - 2)
        x0, x1 = jnp.take(xp, j), jnp.take(xp, j + 1)
        f0, f1 = jnp.take(fp, j), jnp.take(fp, j + 1)
        dx = x1 - x0
        slope = (f1 - f0) / jnp.where(dx == 0, 1.0, dx)  # a zero interval is never taken
        from_left = slope * (x - x0) + f0
        # numpy's fallbacks where the line through an infinite value is NaN
        from_right = slope * (x - x1) + f1
        retry = jnp.where(jnp.isnan(from_right) & (f0 == f1), f0, from_right)
        # numpy's order: the last knot (of repeated ones, the last value), then a knot
        inside = jnp.where(x == xp[-1], fp[-1], jnp.where(x == x0, f0, jnp.where(
            jnp.isnan(from_left), retry, from_left)))
    return jnp.where(x < xp[0], left, jnp.where(x > xp[-1], right, inside))


def _np_trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    return np.trapezoid(y, x=x, dx=dx, axis=axis)


@_numpy_when_concrete(_np_trapezoid)
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """``numpy.trapezoid``: the trapezoidal rule along ``axis``, with sample points ``x``
    (1-d along ``axis``, or of ``y``'s shape) or spacing ``dx``.

    >>> import jitgrad
    >>> jitgrad.jit(trapezoid)(np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, 3.0]))
    array(7.5)
    """
    nd = len(_shape(y))
    ax = _axis(axis, nd, "trapezoid")
    n = _shape(y)[ax]
    if x is None:
        d = dx
    elif len(_shape(x)) == 1:
        d = jnp.diff(x)
        if _shape(d)[0] != max(n - 1, 0):
            raise ShapeError(f"trapezoid: x of length {_shape(x)[0]} does not match y's axis "
                             f"{ax} of length {n}")
        d = jnp.reshape(d, tuple(-1 if i == ax else 1 for i in range(nd)))
    else:
        d = jnp.diff(x, axis=ax)
    hi, lo = _slice_axis(y, ax, 1, max(n - 1, 0)), _slice_axis(y, ax, 0, max(n - 1, 0))
    return jnp.sum(d * (hi + lo) / 2.0, axis=ax)


# ---------------------------------------------------------------------------------------------
# Covariance


def _rows(m: Any, rowvar: bool, dtype: np.dtype, op: str) -> Any:
    x = jnp.astype(jnp.asarray(m), dtype)
    if len(_shape(x)) > 2:
        raise ShapeError(f"{op}: m has more than 2 dimensions (shape {_shape(x)})")
    x = jnp.reshape(x, (1, -1)) if len(_shape(x)) < 2 else x
    return x if rowvar or _shape(x)[0] == 1 else jnp.transpose(x)


def _np_cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
            fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    return np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)


def _check_weights(w: Any, n: int, what: str) -> None:
    if len(_shape(w)) != 1:
        raise ShapeError(f"cov: cannot handle multidimensional {what} (shape {_shape(w)})")
    if _shape(w)[0] != n:
        raise ShapeError(f"cov: incompatible numbers of samples and {what} ({n} and "
                         f"{_shape(w)[0]})")
    if not isinstance(w, _Tracer) and np.any(np.asarray(w) < 0):
        raise ShapeError(f"cov: {what} cannot be negative")


@_numpy_when_concrete(_np_cov)
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    """``numpy.cov``: the covariance matrix of the variables in ``m``'s rows (``rowvar``
    False: columns) and ``y``'s, normalised by ``N - ddof`` (``bias``: ``N``), with frequency
    and/or analytic weights by numpy's formula. Float64 unless ``dtype`` is given, as numpy.

    >>> import jitgrad
    >>> jitgrad.jit(cov)(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    if dtype is None:
        dtype = np.promote_types(jnp.result_type(m) if y is None else jnp.result_type(m, y),
                                 np.float64)
    dtype = np.dtype(dtype)
    x = _rows(m, rowvar, dtype, "cov")
    if y is not None:
        x = jnp.concatenate([x, _rows(y, rowvar, dtype, "cov")], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = _shape(x)[1]
    w = None
    if fweights is not None:
        if not isinstance(fweights, _Tracer) and np.any(
                np.asarray(fweights) != np.around(fweights)):
            raise JitgradTypeError("cov: fweights must be integer")
        _check_weights(fweights, n, "fweights")
        w = jnp.astype(fweights, np.float64)
    if aweights is not None:
        _check_weights(aweights, n, "aweights")
        aweights = jnp.astype(aweights, np.float64)
        w = aweights if w is None else w * aweights
    if w is None:
        avg = jnp.mean(x, axis=1, keepdims=True)
        fact = n - ddof
    else:
        w_sum = jnp.sum(w)
        avg = jnp.sum(x * w, axis=1, keepdims=True) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * jnp.sum(w * aweights) / w_sum
    fact = jnp.maximum(fact, 0.0)  # numpy warns and divides by zero
    xc = x - avg
    c = jnp.matmul(xc, jnp.transpose(xc if w is None else xc * w))
    return jnp.squeeze(c * jnp.astype(jnp.divide(1.0, fact), dtype))


def _np_corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    return np.corrcoef(x, y, rowvar, dtype=dtype)


@_numpy_when_concrete(_np_corrcoef)
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """``numpy.corrcoef``: Pearson correlation coefficients, ``cov`` scaled by the standard
    deviations and clipped to [-1, 1].

    >>> import jitgrad
    >>> jitgrad.jit(corrcoef)(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if len(_shape(c)) == 0:
        return c / c
    s = jnp.sqrt(jnp.diagonal(c))
    return jnp.clip(c / s[:, None] / s[None, :], -1.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Convolution


def _correlate_full_length(a: Any, v: Any, mode: str, op: str) -> Any:
    """The correlation ``out[k] = sum_j a[k + j - lo] v[j]`` of the longer ``a`` with ``v``,
    padded for ``mode`` as numpy pads: one convolution for floats, a sum of shifted slices for
    integers and booleans (the convolution primitive is floating point only)."""
    n, m = _shape(a)[0], _shape(v)[0]
    pads = {"full": (m - 1, m - 1), "same": (m // 2, m - 1 - m // 2), "valid": (0, 0)}
    if mode not in pads:
        raise ShapeError(f"{op}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    lo, hi = pads[mode]
    if _is_float(_aval_of(a).dtype):
        dn = ConvDimensionNumbers((0, 1, 2), (0, 1, 2), (0, 1, 2))
        out = P.conv_general_dilated(jnp.reshape(a, (1, 1, n)), jnp.reshape(v, (1, 1, m)), (1,),
                                     ((lo, hi),), (1,), (1,), dn)
        return jnp.reshape(out, (-1,))
    ap = jnp.pad(a, (lo, hi))
    size = n + lo + hi - m + 1
    # summed in numpy's accumulator type, then back to the operands' (wrapping as numpy's)
    return jnp.astype(jnp.sum(jnp.stack([_slice_axis(ap, 0, j, size) * v[j] for j in range(m)]),
                              axis=0), _aval_of(a).dtype)


def _np_convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
                 preferred_element_type: Any = None) -> Any:
    return np.convolve(a, v, mode)


def _operands(a: Any, v: Any, op: str, preferred_element_type: Any) -> tuple[Any, Any]:
    dtype = jnp.result_type(a, v) if preferred_element_type is None else \
        np.dtype(preferred_element_type)
    a, v = (jnp.astype(jnp.atleast_1d(x), dtype) for x in (a, v))
    for name, x in (("a", a), ("v", v)):
        _vector(x, op, name)
        if _shape(x)[0] == 0:
            raise ShapeError(f"{op}: {name} cannot be empty")
    return a, v


@_numpy_when_concrete(_np_convolve)
def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """``numpy.convolve`` of two 1-d arrays, ``mode`` 'full', 'same' or 'valid'; floats are
    one convolution (compiled as a matmul), differentiable in both operands. ``precision``
    is accepted and ignored (JAX's keywords).

    >>> import jitgrad
    >>> jitgrad.jit(convolve)(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    a, v = _operands(a, v, "convolve", preferred_element_type)
    if _shape(v)[0] > _shape(a)[0]:
        a, v = v, a
    return _correlate_full_length(a, jnp.flip(v), mode, "convolve")


def _np_correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
                  preferred_element_type: Any = None) -> Any:
    return np.correlate(a, v, mode)


@_numpy_when_concrete(_np_correlate)
def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """``numpy.correlate`` of two 1-d arrays, ``mode`` 'valid' (default), 'same' or 'full'
    (a shorter ``a`` is swapped with ``v`` and the result reversed, as numpy does).

    >>> import jitgrad
    >>> jitgrad.jit(correlate)(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]))
    array([2., 3.])
    """
    a, v = _operands(a, v, "correlate", preferred_element_type)
    if _shape(v)[0] > _shape(a)[0]:  # numpy's: the operands swapped, the result reversed
        return jnp.flip(_correlate_full_length(v, a, mode, "correlate"))
    return _correlate_full_length(a, v, mode, "correlate")


# ---------------------------------------------------------------------------------------------
# Phase unwrapping


def _np_unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: Any = 2 * np.pi) -> Any:
    return np.unwrap(p, discont, axis, period=period)


@_numpy_when_concrete(_np_unwrap)
def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: Any = 2 * np.pi) -> Any:
    """``numpy.unwrap``: ``p`` with multiples of ``period`` added where consecutive values
    jump by more than ``max(discont, period / 2)``. The corrections are piecewise constant:
    the derivative is the identity.

    >>> import jitgrad
    >>> jitgrad.jit(unwrap)(np.array([0.0, 4.0, 8.0]))
    array([ 0.        , -2.28318531, -4.56637061])
    """
    ax = _axis(axis, len(_shape(p)), "unwrap")
    dd = jnp.diff(p, axis=ax)
    if discont is None:
        discont = period / 2
    dtype = jnp.result_type(dd, period)
    if _is_float(dtype):
        high, ambiguous = period / 2, True
    else:
        high, rem = divmod(operator.index(period), 2)
        ambiguous = rem == 0
    low = -high
    ddmod = jnp.remainder(dd - low, period) + low
    if ambiguous:
        ddmod = jnp.where((ddmod == low) & (dd > 0), high, ddmod)
    correct = jnp.where(jnp.abs(dd) < discont, 0, ddmod - dd)
    n = _shape(p)[ax]
    p = jnp.astype(p, dtype)
    if n < 2:
        return p
    return jnp.concatenate([_slice_axis(p, ax, 0, 1), _slice_axis(p, ax, 1, n - 1) +
                            jnp.cumsum(correct, axis=ax)], axis=ax)


# ---------------------------------------------------------------------------------------------
# Window functions: their length is a shape, so concrete; numpy's values


def _window(np_fn: Any) -> Any:
    def fn(M: int) -> Any:  # noqa: N803 - numpy's name
        if isinstance(M, _Tracer):
            raise TracerError(f"{np_fn.__name__}: the window length M is a shape and must be "
                              f"concrete, got a traced value")
        return np_fn(M)

    fn.__name__ = fn.__qualname__ = np_fn.__name__
    fn.__doc__ = (f"``numpy.{np_fn.__name__}``: the window of ``M`` points (numpy's own; "
                  f"float64).\n\n    >>> {np_fn.__name__}(3)\n    {np_fn(3)!r}\n")
    return fn


bartlett = _window(np.bartlett)
blackman = _window(np.blackman)
hamming = _window(np.hamming)
hanning = _window(np.hanning)


@_numpy_when_concrete(np.kaiser)
def kaiser(M: int, beta: Any) -> Any:  # noqa: N803 - numpy's name
    """``numpy.kaiser``: the Kaiser window of ``M`` points (concrete) with shape parameter
    ``beta``, which may be traced (differentiable: ``I0`` ratios computed as scaled ``i0e``
    ratios, which do not overflow for large ``beta``). NB: numpy's window is NaN from
    ``beta`` ~ 713 on, where its ``i0(beta)`` overflows; this one stays finite.

    >>> import jitgrad
    >>> jitgrad.jit(lambda b: kaiser(3, b))(2.0)
    array([0.43867628, 1.        , 0.43867628])
    """
    if isinstance(M, _Tracer):
        raise TracerError("kaiser: the window length M is a shape and must be concrete, got a "
                          "traced value")
    if M < 1:
        return jnp.zeros(0)
    if M == 1:
        return jnp.ones(1)
    beta = jnp.astype(beta, np.float64)
    alpha = (M - 1) / 2.0
    r = (np.arange(M) - alpha) / alpha
    arg = beta * np.sqrt(1.0 - r * r)
    # i0(arg) / i0(beta) = i0e(arg) / i0e(beta) * exp(|arg| - |beta|)
    return i0e_p.bind(arg) / i0e_p.bind(jnp.broadcast_to(beta, (M,))) * \
        jnp.exp(jnp.abs(arg) - jnp.abs(beta))
