"""More of numpy's elementwise functions (logaddexp, hypot, sinc, copysign, ...), the complex-part
functions of real arrays, and comparisons of whole arrays (isclose, allclose, array_equal,
all, any): composites of the primitives, each with numpy's values at infinities and NaNs and
a derivative that stays finite where the branch it does not take would divide by zero."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.core import aval_of as _aval_of
from jitgrad.core import is_float as _is_float
from jitgrad.errors import JitgradTypeError
from jitgrad.numpy import (
    _axes,
    _binary,
    _bitwise,
    _cast,
    _keep,
    _numpy_when_concrete,
    _promote_broadcast,
    _to_float,
    _unary,
    abs,
    add,
    arctan2,
    ceil,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log1p,
    log2,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    result_type,
    sin,
    sqrt,
    stop_gradient,
    subtract,
    where,
    zeros_like,
)

__all__ = ["all", "allclose", "angle", "any", "array_equal", "array_equiv", "cbrt", "conj",
           "conjugate", "copysign", "deg2rad", "degrees", "fabs", "fix", "float_power", "fmax",
           "fmin", "frexp", "gcd", "heaviside", "hypot", "i0", "imag", "isclose", "iscomplex",
           "iscomplexobj", "isreal", "isrealobj", "lcm", "ldexp", "logaddexp", "logaddexp2",
           "logical_xor", "modf", "nextafter", "positive", "rad2deg", "radians", "real",
           "real_if_close", "signbit", "sinc", "spacing", "trunc"]

ArrayLike = Any


def _composite(np_fn: Callable[..., Any], float_fn: bool = True
               ) -> Callable[[Callable[[Any, Any], Any]], Callable[..., Any]]:
    """The binary numpy function ``np_fn`` from a composite ``fn(x, y)`` of operands of equal
    shapes and dtypes, through jnp's ``_binary`` (numpy's own function on concrete arguments,
    NumPy 2 promotion and broadcasting first on traced ones); ``fn``'s docstring is kept."""

    def deco(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
        wrapper = _binary(fn, np_fn, float_fn=float_fn)
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return deco


def _dtype_const(value: float, x: Any) -> Any:
    """``value`` rounded to ``x``'s float dtype (a float32 constant stays float32)."""
    return np.asarray(value, _aval_of(x).dtype)[()]


# ---------------------------------------------------------------------------------------------
# Logarithms of sums, norms


def _log_sum_exp2(x: Any, y: Any, base2: bool) -> Any:
    """``log(exp(x) + exp(y))`` (base 2 with ``base2``), as ``m + log1p(expm1(a - m) +
    exp(b - m))`` (``2**`` and ``log2(1 + v)`` in base 2) with ``a``, ``b`` the larger and
    smaller operand and ``m = max(x, y)``: numpy's operations (``a - m`` is 0), and, since the
    identity holds for every ``m``, ``m`` is a constant to the derivatives, which are then
    smooth to every order (``exp(x - out)``), also at ``x == y`` where ``max`` and ``|x - y|``
    have kinks. Where the larger operand is +inf or ``x - y`` is NaN (both infinite of one
    sign, or a NaN operand) the result is ``max(x, y)`` (plus ``log 2`` for equal
    infinities); the formula then computes on safe stand-ins, so that no inf or NaN reaches
    its derivative."""
    undefined = isnan(subtract(x, y))
    special = logical_or(undefined, equal(maximum(x, y), np.inf))
    xs, ys = where(special, 0, x), where(special, 0, y)
    first = greater_equal(xs, ys)
    big, small = where(first, xs, ys), where(first, ys, xs)
    m = stop_gradient(big)
    if base2:  # numpy's exp2 and log2(1 + v) = log1p(v) * log2(e)
        two = _dtype_const(2.0, x)
        tail = multiply(log1p(add(subtract(power(two, subtract(big, m)), 1),
                                  power(two, subtract(small, m)))),
                        _dtype_const(1 / np.log(2.0), x))
    else:
        tail = log1p(add(expm1(subtract(big, m)), exp(subtract(small, m))))
    equal_infinities = where(undefined, 1 if base2 else _dtype_const(np.log(2.0), x), 0)
    return where(special, add(maximum(x, y), equal_infinities), add(m, tail))


@_composite(np.logaddexp)
def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.logaddexp``: ``log(exp(x) + exp(y))`` without overflow, with numpy's values
    (infinities and NaNs included) and the derivative ``exp(x - out)`` smooth to every
    order, also at ``x == y``.

    >>> import jitgrad
    >>> jitgrad.jit(logaddexp)(np.array([0.0, 1.0, -np.inf]), np.array([0.0, 1000.0, -np.inf]))
    array([6.93147181e-01, 1.00000000e+03,           -inf])
    >>> jitgrad.grad(jitgrad.grad(logaddexp))(1.0, 1.0)  # sigmoid'(0)
    array(0.25)
    """
    return _log_sum_exp2(x, y, base2=False)


@_composite(np.logaddexp2)
def logaddexp2(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.logaddexp2``: ``log2(2**x + 2**y)`` without overflow, as ``logaddexp``.

    >>> import jitgrad
    >>> jitgrad.jit(logaddexp2)(np.array([0.0, 3.0]), np.array([0.0, 1.0]))
    array([1.        , 3.32192809])
    """
    return _log_sum_exp2(x, y, base2=True)


@_composite(np.hypot)
def hypot(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.hypot``: ``sqrt(x**2 + y**2)`` without overflow or underflow, as
    ``s * sqrt((x/s)**2 + (y/s)**2)`` with ``s = max(|x|, |y|)``; an infinite operand gives
    ``inf`` even with a NaN (C99). The derivative is ``x / out`` (0 at the origin), exact
    for any magnitude: the identity holds for every ``s``, so ``s`` is a constant to it.

    >>> import jitgrad
    >>> jitgrad.jit(hypot)(np.array([3.0, 1e300, 0.0]), np.array([4.0, 1e300, 0.0]))
    array([5.00000000e+000, 1.41421356e+300, 0.00000000e+000])
    """
    ax, ay = abs(x), abs(y)
    infinite = logical_or(equal(ax, np.inf), equal(ay, np.inf))
    big = maximum(ax, ay)
    # Finite and nonzero: elsewhere the scaled branch computes on safe stand-ins (0 and 1),
    # so that no inf or nan reaches its derivative.
    ok = logical_and(logical_not(infinite), greater(big, 0))
    s = stop_gradient(where(ok, big, 1))
    xs, ys = divide(where(ok, x, 0), s), divide(where(ok, y, 0), s)
    scaled = multiply(s, sqrt(where(ok, add(multiply(xs, xs), multiply(ys, ys)), 1)))
    return where(infinite, np.inf, where(ok, scaled, big))


# ---------------------------------------------------------------------------------------------
# NaN-ignoring extrema, magnitudes and signs


def _ignoring_nan(np_fn: Callable[..., Any], extremum: Callable[..., Any]) -> Callable[..., Any]:
    @_composite(np_fn, float_fn=False)
    def fn(x: ArrayLike, y: ArrayLike) -> Any:
        if not _is_float(_aval_of(x).dtype):
            return extremum(x, y)
        return where(isnan(y), x, where(isnan(x), y, extremum(x, y)))
    fn.__name__ = fn.__qualname__ = np_fn.__name__
    fn.__doc__ = (f"``numpy.{np_fn.__name__}``: ``{extremum.__name__}`` ignoring NaNs (NaN "
                  f"only where both are NaN); the gradient is shared as "
                  f"``{extremum.__name__}`` shares it.\n\n"
                  f"    >>> import jitgrad\n"
                  f"    >>> jitgrad.jit({np_fn.__name__})(np.array([1.0, np.nan, np.nan]), "
                  f"np.array([np.nan, 2.0, np.nan]))\n"
                  f"    array([ 1.,  2., nan])\n")
    return fn


fmax = _ignoring_nan(np.fmax, maximum)
fmin = _ignoring_nan(np.fmin, minimum)
fabs = _unary(P.abs_, np.fabs)
fabs.__doc__ = """``numpy.fabs``: the absolute value, in floating point (integers give float64).

    >>> import jitgrad
    >>> jitgrad.jit(fabs)(np.array([-1, 2]))
    array([1., 2.])
    """


def _signbit(x: Any) -> Any:
    """Whether ``x``'s sign bit is set, -0.0 included: ``atan2(x, -1)`` is -pi there."""
    return less(arctan2(x, -1.0), 0)


@_numpy_when_concrete(np.signbit)
def signbit(x: ArrayLike) -> Any:
    """``numpy.signbit``: True where the sign bit is set (negative numbers and -0.0). NB: a
    traced NaN counts as positive whatever its sign bit (jitgrad has no bit casts).

    >>> import jitgrad
    >>> jitgrad.jit(signbit)(np.array([-1.0, -0.0, 0.0, 2.0]))
    array([ True,  True, False, False])
    """
    x = _to_float(x)
    return logical_and(logical_not(isnan(x)), _signbit(x))


@_composite(np.copysign)
def copysign(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.copysign``: ``|x|`` with the sign of ``y`` (-0.0 included). The derivative
    with respect to ``y`` is 0, as in JAX. NB: a traced NaN ``y`` counts as positive.

    >>> import jitgrad
    >>> jitgrad.jit(copysign)(np.array([1.0, 2.0, -3.0]), np.array([-0.0, 1.0, np.inf]))
    array([-1.,  2.,  3.])
    """
    mag = abs(x)
    return where(signbit(y), negative(mag), mag)


@_composite(np.heaviside)
def heaviside(x: ArrayLike, h0: ArrayLike) -> Any:
    """``numpy.heaviside``: 0 for ``x < 0``, ``h0`` at 0, 1 for ``x > 0``, NaN for NaN. The
    derivative is 0 in ``x`` and flows to ``h0`` where ``x == 0``, as in JAX.

    >>> import jitgrad
    >>> jitgrad.jit(heaviside)(np.array([-2.0, 0.0, 3.0]), 0.5)
    array([0. , 0.5, 1. ])
    """
    return where(less(x, 0), 0, where(greater(x, 0), 1, where(equal(x, 0), h0, x)))


# ---------------------------------------------------------------------------------------------
# sinc, angle conversions, rounding toward zero


# sin(u)/u = sum_k (-1)^k u^(2k) / (2k+1)!: through u^8 the series is exact to double precision
# for |u| < 0.1 (the next term is below 3e-18), and as a polynomial its derivatives at 0 are
# exact (the quotient's would be 0/0 there, and inaccurate near it).
_SINC_SERIES = [(-1) ** k / float(np.prod(np.arange(1, 2 * k + 2))) for k in range(5)]
_SINC_SMALL = 0.1


@_numpy_when_concrete(np.sinc)
def sinc(x: ArrayLike) -> Any:
    """``numpy.sinc``: ``sin(pi x) / (pi x)``, 1 at 0, with exact derivatives of every order
    (up to the 8th) at and near 0 (a Taylor polynomial for ``|pi x| < 0.1``).

    >>> import jitgrad
    >>> jitgrad.jit(sinc)(np.array([0.0, 0.5, 1e-9]))
    array([1.        , 0.63661977, 1.        ])
    >>> jitgrad.grad(jitgrad.grad(sinc))(0.0)  # -pi**2 / 3
    array(-3.28986813)
    """
    x = _to_float(x)
    u = multiply(x, _dtype_const(np.pi, x))
    small = less(abs(u), _SINC_SMALL)
    safe = where(small, 1, u)
    w = multiply(u, u)
    series = _dtype_const(_SINC_SERIES[-1], x)
    for c in reversed(_SINC_SERIES[:-1]):
        series = add(multiply(series, w), _dtype_const(c, x))
    return where(small, series, divide(sin(safe), safe))


def _scaled(np_fn: Callable[..., Any], num: float, den: float, example: str
            ) -> Callable[..., Any]:
    """``x * (num / den)`` with the constant rounded as numpy's loop for ``x``'s dtype does."""

    @_numpy_when_concrete(np_fn)
    def fn(x: ArrayLike) -> Any:
        x = _to_float(x)
        return multiply(x, _dtype_const(num, x) / _dtype_const(den, x))

    fn.__name__ = fn.__qualname__ = np_fn.__name__
    fn.__doc__ = f"""``numpy.{np_fn.__name__}``: ``x * ({num:.6g} / {den:.6g})``.

    >>> import jitgrad
    >>> jitgrad.jit({np_fn.__name__}){example}
    """
    return fn


_TO_RADIANS = "(np.array([180.0, 90.0]))\n    array([3.14159265, 1.57079633])"
_TO_DEGREES = "(np.array([np.pi, 1.0]))\n    array([180.        ,  57.29577951])"
deg2rad = _scaled(np.deg2rad, np.pi, 180.0, _TO_RADIANS)
radians = _scaled(np.radians, np.pi, 180.0, _TO_RADIANS)
rad2deg = _scaled(np.rad2deg, 180.0, np.pi, _TO_DEGREES)
degrees = _scaled(np.degrees, 180.0, np.pi, _TO_DEGREES)


@_numpy_when_concrete(np.trunc)
def trunc(x: ArrayLike) -> Any:
    """``numpy.trunc``: rounding toward zero (zero derivative); integers and booleans are
    returned as they are, as numpy does.

    >>> import jitgrad
    >>> jitgrad.jit(trunc)(np.array([-1.7, 1.7, -0.2]))
    array([-1.,  1., -0.])
    """
    if not _is_float(_aval_of(x).dtype):
        return x
    return where(less(x, 0), ceil(x), floor(x))


@_numpy_when_concrete(np.fix)
def fix(x: ArrayLike) -> Any:
    """``numpy.fix``: rounding toward zero, as ``trunc``.

    >>> import jitgrad
    >>> jitgrad.jit(fix)(np.array([-1.7, 1.7]))
    array([-1.,  1.])
    """
    return trunc(x)


@_numpy_when_concrete(np.float_power)
def float_power(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.float_power``: ``x ** y`` computed in float64.

    >>> import jitgrad
    >>> jitgrad.jit(float_power)(np.array([2, 3]), 2)
    array([4., 9.])
    """
    return power(_cast(x, np.dtype(np.float64)), _cast(y, np.dtype(np.float64)))


@_numpy_when_concrete(np.positive)
def positive(x: ArrayLike) -> Any:
    """``numpy.positive``: ``+x``.

    >>> import jitgrad
    >>> jitgrad.jit(positive)(np.array([-1.0, 2.0]))
    array([-1.,  2.])
    """
    return x


# ---------------------------------------------------------------------------------------------
# Complex parts of real arrays (jitgrad computes in real numbers only)


@_numpy_when_concrete(np.real)
def real(x: ArrayLike) -> Any:
    """``numpy.real``: a real array itself.

    >>> import jitgrad
    >>> jitgrad.grad(lambda x: real(x ** 2))(3.0)
    array(6.)
    """
    return x


@_numpy_when_concrete(np.imag)
def imag(x: ArrayLike) -> Any:
    """``numpy.imag``: zeros for a real array.

    >>> import jitgrad
    >>> jitgrad.jit(imag)(np.array([1.0, -np.inf]))
    array([0., 0.])
    """
    return zeros_like(x)


@_numpy_when_concrete(np.conjugate)
def conjugate(x: ArrayLike) -> Any:
    """``numpy.conjugate`` (also ``conj``): a real array itself.

    >>> import jitgrad
    >>> jitgrad.jit(conjugate)(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """
    return x


conj = conjugate


@_numpy_when_concrete(np.real_if_close)
def real_if_close(a: ArrayLike, tol: float = 100) -> Any:
    """``numpy.real_if_close``: a real array itself.

    >>> import jitgrad
    >>> jitgrad.jit(real_if_close)(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """
    return a


@_numpy_when_concrete(np.angle)
def angle(z: ArrayLike, deg: bool = False) -> Any:
    """``numpy.angle`` of a real array: pi where the sign bit is set (-0.0 included), else 0
    (180 and 0 with ``deg``); zero derivative.

    >>> import jitgrad
    >>> jitgrad.jit(angle)(np.array([-2.0, 3.0, -0.0]))
    array([3.14159265, 0.        , 3.14159265])
    """
    z = _to_float(z)
    half_turn = _dtype_const(180.0 if deg else np.pi, z)
    return where(isnan(z), z, where(_signbit(z), half_turn, 0))


def _static_bool(np_fn: Callable[..., Any], value: bool, doc: str) -> Callable[..., Any]:
    """A numpy predicate about complex numbers, which on a traced (real) array is a constant
    of its shape: a concrete answer, so Python ``if`` may test it."""

    @_numpy_when_concrete(np_fn)
    def fn(x: ArrayLike) -> Any:
        shape = _aval_of(x).shape
        return np.full(shape, value)[()] if np_fn in (np.iscomplex, np.isreal) else value

    fn.__name__ = fn.__qualname__ = np_fn.__name__
    fn.__doc__ = doc
    return fn


iscomplex = _static_bool(np.iscomplex, False, """``numpy.iscomplex``: all False for a real
    array (a concrete array, even for a traced argument).

    >>> import jitgrad
    >>> jitgrad.grad(lambda x: x * 2.0 if not iscomplex(x) else x)(1.0)
    array(2.)
    """)
isreal = _static_bool(np.isreal, True, """``numpy.isreal``: all True for a real array (a
    concrete array, even for a traced argument).

    >>> isreal(np.array([1.0, 2.0]))
    array([ True,  True])
    """)
iscomplexobj = _static_bool(np.iscomplexobj, False, """``numpy.iscomplexobj``: False for a
    real array or a traced value.

    >>> iscomplexobj(np.array([1.0]))
    False
    """)
isrealobj = _static_bool(np.isrealobj, True, """``numpy.isrealobj``: True for a real array
    or a traced value.

    >>> isrealobj(np.array([1.0]))
    True
    """)


# ---------------------------------------------------------------------------------------------
# Logic and comparisons of whole arrays


@_numpy_when_concrete(np.logical_xor)
def logical_xor(x: ArrayLike, y: ArrayLike) -> Any:
    """``numpy.logical_xor``.

    >>> import jitgrad
    >>> jitgrad.jit(logical_xor)(np.array([True, True, False]), np.array([True, False, False]))
    array([False,  True, False])
    """
    return not_equal(_cast(x, np.dtype(np.bool_)), _cast(y, np.dtype(np.bool_)))


def _count_false(a: ArrayLike, axis: Any, keepdims: bool, op: str) -> Any:
    """How many elements are false (zero) along ``axis``, as int64."""
    nd = _aval_of(a).ndim
    axes = _axes(axis, nd, op)
    zero = _cast(logical_not(_cast(a, np.dtype(np.bool_))), np.dtype(np.int64))
    return _keep(P.reduce_sum(zero, axes), _aval_of(a).shape, axes, keepdims)


@_numpy_when_concrete(np.all)
def all(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.all``: whether every element along ``axis`` is true (nonzero); True for
    none. A traced result is a traced boolean.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: all(x > 0, axis=0))(np.array([[1.0, -1.0], [2.0, 3.0]]))
    array([ True, False])
    """
    return equal(_count_false(a, axis, keepdims, "all"), 0)


@_numpy_when_concrete(np.any)
def any(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.any``: whether some element along ``axis`` is true (nonzero); False for
    none. A traced result is a traced boolean.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: any(x < 0, axis=1))(np.array([[1.0, -1.0], [2.0, 3.0]]))
    array([ True, False])
    """
    shape = _aval_of(a).shape
    axes = _axes(axis, len(shape), "any")
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    return less(_count_false(a, axis, keepdims, "any"), n)


@_numpy_when_concrete(np.isclose)
def isclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """``numpy.isclose``: ``|a - b| <= atol + rtol * |b|`` elementwise, with infinities
    close only to themselves and NaNs to nothing (to each other with ``equal_nan``). On
    traced arrays the result is a traced boolean array.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: isclose(x, 1.0))(np.array([1.0, 1.0 + 1e-9, 1.1, np.inf]))
    array([ True,  True, False, False])
    """
    dtype = result_type(a, b, 1.0)
    a, b = _promote_broadcast("isclose", a, b, dtype=dtype)
    close = logical_and(less_equal(abs(subtract(a, b)), add(atol, multiply(rtol, abs(b)))),
                        isfinite(b))
    out = logical_or(close, equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


@_numpy_when_concrete(np.allclose)
def allclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Any:
    """``numpy.allclose``: ``all(isclose(a, b, ...))``; a Python bool for concrete arrays,
    a traced boolean for traced ones (as JAX).

    >>> allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
    True
    """
    return all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@_numpy_when_concrete(np.array_equal)
def array_equal(a1: ArrayLike, a2: ArrayLike, equal_nan: bool = False) -> Any:
    """``numpy.array_equal``: the same shape and the same elements (NaNs equal with
    ``equal_nan``); different shapes give False, otherwise a traced boolean for traced
    arrays.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: array_equal(x, x * 1.0))(np.array([1.0, 2.0]))
    array(True)
    """
    if _aval_of(a1).shape != _aval_of(a2).shape:
        return np.False_
    same = equal(a1, a2)
    if equal_nan:
        same = logical_or(same, logical_and(isnan(a1), isnan(a2)))
    return all(same)


cbrt = _unary(P.cbrt, np.cbrt)


@_numpy_when_concrete(np.i0)
def i0(x: ArrayLike) -> Any:
    """``numpy.i0``, the modified Bessel function of order 0: ``i0e(x) * exp(|x|)``. Its
    derivative is ``i1`` (Abramowitz & Stegun 9.6.27), which the product rule through
    ``i0e``'s derivative gives.

    >>> import jitgrad
    >>> float(jitgrad.grad(i0)(1.0))  # i1(1)
    0.5651591039924849
    """
    x = _to_float(x)
    return multiply(P.i0e_p.bind(x), exp(abs(x)))


@_numpy_when_concrete(np.modf)
def modf(x: ArrayLike) -> tuple[Any, Any]:
    """``numpy.modf``: the fractional and integral parts, each with ``x``'s sign (``modf(inf)``
    is ``(0.0, inf)``); the fractional part has derivative 1.

    >>> import jitgrad
    >>> jitgrad.jit(modf)(np.array([-2.5, np.inf]))
    (array([-0.5,  0. ]), array([-2., inf]))
    """
    x = _to_float(x)
    whole = trunc(x)
    return copysign(where(isinf(x), 0.0, subtract(x, whole)), x), whole


@_numpy_when_concrete(np.ldexp)
def ldexp(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``numpy.ldexp``: ``x1 * 2**x2`` rounded once, for an integer ``x2``; linear in ``x1``.

    >>> import jitgrad
    >>> jitgrad.jit(ldexp)(np.array([1.5, 1e-300]), np.array([3, 1100]))
    array([1.20000000e+01, 1.35829853e+31])
    """
    if _aval_of(x2).dtype.kind not in "biu":
        raise JitgradTypeError(f"ldexp: the exponent must be an integer, got "
                               f"{_aval_of(x2).dtype} (numpy refuses it too)")
    x1 = _to_float(x1)
    # Clipped as the primitive does, the exponent is exact in any float dtype.
    n = P.max_(P.min_(_cast(x2, np.dtype(np.int64)), 2200), -2200)
    return P.ldexp_p.bind(*_promote_broadcast("ldexp", x1, n, dtype=_aval_of(x1).dtype))


gcd = _bitwise(P.gcd_p, np.gcd, None)


@_numpy_when_concrete(np.lcm)
def lcm(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``numpy.lcm``: ``|x1 // gcd(x1, x2) * x2|``, 0 where either is 0.

    >>> import jitgrad
    >>> jitgrad.jit(lcm)(np.array([4, 0, -4]), np.array([6, 5, 6]))
    array([12,  0, 12])
    """
    g = gcd(x1, x2)
    a, b = _promote_broadcast("lcm", x1, x2, dtype=_aval_of(g).dtype)
    zero = equal(g, 0)
    return where(zero, np.zeros((), _aval_of(g).dtype),
                 abs(multiply(floor_divide(a, where(zero, np.ones((), _aval_of(g).dtype), g)), b)))


@_numpy_when_concrete(np.frexp)
def frexp(x: ArrayLike) -> tuple[Any, Any]:
    """``numpy.frexp``: ``x = mantissa * 2**exponent`` with ``0.5 <= |mantissa| < 1`` (an
    int32 exponent; zeros, infinities and NaNs are their own mantissa, exponent 0). The
    mantissa's derivative is ``2**-exponent``.

    >>> import jitgrad
    >>> jitgrad.jit(frexp)(np.array([-3.0, 5e-324, np.inf]))
    (array([-0.75,  0.5 ,   inf]), array([    2, -1073,     0], dtype=int32))
    """
    x = _to_float(x)
    special = logical_or(equal(x, 0), logical_not(isfinite(x)))
    safe = where(special, 1.0, x)
    # log2 may be off by one next to a power of two: the exact ldexp below corrects it.
    e = _cast(add(floor(log2(abs(safe))), 1.0), np.dtype(np.int32))
    m = ldexp(safe, negative(e))
    big, small = greater_equal(abs(m), 1.0), less(abs(m), 0.5)
    e = where(big, add(e, 1), where(small, subtract(e, 1), e))
    m = ldexp(safe, negative(e))
    return where(special, x, m), where(special, np.int32(0), e)


def _ulp_exponent(e: Any, dtype: np.dtype, below: Any = False) -> Any:
    """log2 of the gap between floats of ``dtype`` with frexp exponent ``e`` (where ``below``:
    the gap under the binade's lowest value), never below the smallest subnormal's."""
    info = np.finfo(dtype)
    lowest = int(np.log2(info.smallest_subnormal))
    return maximum(subtract(subtract(e, info.nmant + 1), _cast(below, np.dtype(np.int32))),
                   lowest)


@_numpy_when_concrete(np.nextafter)
def nextafter(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``numpy.nextafter``: the next float after ``x1`` toward ``x2``. NB: no derivative (a
    step function of the float grid; JAX defines none either).

    >>> import jitgrad
    >>> jitgrad.jit(nextafter)(np.array([1.0, 0.0, np.inf]), np.array([2.0, -1.0, 0.0]))
    array([ 1.00000000e+000, -4.94065646e-324,  1.79769313e+308])
    """
    dtype = result_type(x1, x2)
    dtype = dtype if _is_float(dtype) else np.dtype(np.float64)
    x, y = (stop_gradient(v) for v in _promote_broadcast("nextafter", x1, x2, dtype=dtype))
    info = np.finfo(dtype)
    m, e = frexp(x)
    one = np.ones((), dtype)
    ax = abs(x)
    away = logical_or(logical_and(greater(y, x), greater(x, 0)),
                      logical_and(less(y, x), less(x, 0)))
    up = add(ax, ldexp(one, _ulp_exponent(e, dtype)))
    bottom = equal(abs(m), 0.5)
    down = subtract(ax, ldexp(one, _ulp_exponent(e, dtype, bottom)))
    mag = where(away, up, down)
    step = where(less(x, 0), negative(mag), mag)
    tiny = np.asarray(info.smallest_subnormal, dtype)
    big = np.asarray(info.max, dtype)
    out = where(equal(x, 0), where(greater(y, x), tiny, negative(tiny)),
                where(isinf(x), where(greater(x, 0), big, negative(big)), step))
    out = where(equal(x, y), y, out)
    return where(logical_or(isnan(x), isnan(y)), add(x, y), out)


@_numpy_when_concrete(np.spacing)
def spacing(x: ArrayLike) -> Any:
    """``numpy.spacing``: the gap from ``x`` to the next float away from zero (signed as
    ``x``; +0 and -0 give the smallest subnormal; NaN for infinities). NB: no derivative.

    >>> import jitgrad
    >>> jitgrad.jit(spacing)(np.array([1.0, -1.0, 0.0]))
    array([ 2.22044605e-016, -2.22044605e-016,  4.94065646e-324])
    """
    x = stop_gradient(_to_float(x))
    inf = np.asarray(np.inf, _aval_of(x).dtype)
    return subtract(nextafter(x, where(less(x, 0), negative(inf), inf)), x)
@_numpy_when_concrete(np.array_equiv)
def array_equiv(a1: ArrayLike, a2: ArrayLike) -> Any:
    """``numpy.array_equiv``: shapes that broadcast together and equal elements there;
    shapes that do not broadcast give False, otherwise a traced boolean for traced arrays.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x: array_equiv(x, x[:1]))(np.array([[1.0, 2.0], [1.0, 2.0]]))
    array(True)
    """
    try:
        np.broadcast_shapes(_aval_of(a1).shape, _aval_of(a2).shape)
    except ValueError:
        return np.False_
    return all(equal(a1, a2))


# Names of numpy ufuncs whose calls on traced arrays (np.hypot(x, y)) dispatch here.
UFUNCS = {f.__name__: f for f in (
    logaddexp, logaddexp2, hypot, fmax, fmin, fabs, signbit, copysign, heaviside, sinc,
    deg2rad, radians, rad2deg, degrees, trunc, float_power, positive, conjugate, logical_xor,
    cbrt, modf, ldexp, gcd, lcm, frexp, nextafter, spacing)}
UFUNCS["conj"] = conjugate
