"""jitgrad.numpy: numpy-named functions that work on traced arrays (and are plain numpy calls on
concrete ones). Broadcasting and NumPy 2 type promotion happen here, explicitly, so the
primitives below only ever see equal shapes and dtypes."""

from __future__ import annotations

import builtins
import functools
import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Re-exported numpy names: dtypes, type queries and constants behave as in numpy (the scalar
# types are wrapped below so that calling one casts a traced value).
from numpy import (  # noqa: F401  (re-exports)
    __version__,
    can_cast,
    complexfloating,
    e,
    euler_gamma,
    finfo,
    floating,
    generic,
    iinfo,
    inexact,
    inf,
    integer,
    isdtype,
    isscalar,
    issubdtype,
    iterable,
    nan,
    ndarray,
    newaxis,
    number,
    pi,
    promote_types,
    signedinteger,
    unsignedinteger,
)

from jitgrad import prims as P
from jitgrad.core import EvalInterpreter as _EvalInterpreter
from jitgrad.core import Lit as _Lit
from jitgrad.core import Tracer as _Tracer
from jitgrad.core import aval_of as _aval_of
from jitgrad.core import current_interpreter as _current_interpreter
from jitgrad.core import is_float as _is_float
from jitgrad.core import is_python_scalar as _is_python_scalar
from jitgrad.errors import (
    JitgradIndexError,
    JitgradTypeError,
    ShapeError,
    TracerError,
    UnsupportedError,
)
from jitgrad.transforms.stage import StageTracer as _StageTracer
from jitgrad.transforms.stage import producer as _producer
from jitgrad.transforms.stage import weak_int_casts as _weak_int_casts

ArrayLike = Any


class _ScalarType(type):
    """The scalar types (``jnp.float32``, ``jnp.int64``, ...) are numpy's, except that calling
    one on a traced value casts it, as ``jnp.float32(x)`` does in JAX and ``np.int64(x)`` in
    autograd (numpy's own would try to convert the tracer). Each is a subclass of numpy's type
    that compares and hashes equal to it, so ``np.dtype(jnp.float32)``, ``x.dtype ==
    jnp.float32`` and ``isinstance(np.float32(1), jnp.float32)`` behave as in numpy."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args and _contains_tracer(args[0]):
            return asarray(args[0], dtype=cls.__base__)
        return cls.__base__(*args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.__base__)

    def __eq__(cls, other: Any) -> bool:
        return cls is other or cls.__base__ is other

    def __hash__(cls) -> int:
        return hash(cls.__base__)


def _scalar_type(t: type) -> type:
    return _ScalarType(t.__name__, (t,), {"__module__": __name__, "__doc__": t.__doc__})


# Every concrete numpy scalar type under each of numpy's names for it (float32, single, int_,
# ...); ``bool`` is served by __getattr__, since the module itself uses Python's bool.
_SCALAR_TYPES = {t: _scalar_type(t) for t in set(np.sctypeDict.values())
                 if issubclass(t, np.number | np.bool_) and not issubclass(t, np.timedelta64)}
globals().update({name: _SCALAR_TYPES[t] for name, t in vars(np).items()
                  if isinstance(t, type) and t in _SCALAR_TYPES and name != "bool"})

# ---------------------------------------------------------------------------------------------
# Plumbing: eager fallback, promotion, broadcasting


def _contains_tracer(a: Any) -> bool:
    if isinstance(a, _Tracer):
        return True
    return isinstance(a, (list, tuple)) and builtins.any(_contains_tracer(x) for x in a)


def _has_sequence(args: Any) -> bool:
    """Whether a list or tuple is among ``args`` (the common traced call has none: nothing
    to stack)."""
    for a in args:
        if isinstance(a, (list, tuple)):
            return True
    return False


def _has_tracer(args: Sequence[Any]) -> bool:
    for a in args:
        if isinstance(a, _Tracer) or (isinstance(a, (list, tuple)) and _contains_tracer(a)):
            return True
    return False


def _array_like(a: Any) -> Any:
    """A list or tuple holding traced arrays is one array, stacked as numpy would."""
    return asarray(a) if isinstance(a, list | tuple) and _contains_tracer(a) else a


def _numpy_when_concrete(np_fn: Callable[..., Any], sequences: int = 0
                         ) -> Callable[[Callable], Callable]:
    """Concrete arguments take the numpy function itself: eager calls cost what numpy costs.
    With traced ones, lists and tuples of arrays among the arguments are stacked into one
    array (``jnp.mean([a, b])``), except the first ``sequences`` parameters (concatenate's
    ``arrays``, select's ``condlist`` and ``choicelist``): those are sequences whose
    elements are each one array."""

    def deco(traced_fn: Callable[..., Any]) -> Callable[..., Any]:
        names = list(inspect.signature(traced_fn).parameters)[:sequences]

        def each(a: Any) -> list[Any]:
            return [_array_like(x) for x in a]

        @functools.wraps(traced_fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not (_has_tracer(args) or _has_tracer(tuple(kwargs.values()))):
                return np_fn(*args, **kwargs)
            if _has_sequence(args) or _has_sequence(kwargs.values()):
                args = tuple(each(a) if i < sequences else _array_like(a)
                             for i, a in enumerate(args))
                kwargs = {k: each(v) if k in names else _array_like(v)
                          for k, v in kwargs.items()}
            return traced_fn(*args, **kwargs)
        return wrapper

    return deco


_WEAK_STAND_IN = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def _dtype_arg(x: Any) -> Any:
    """What np.result_type should see: Python scalars stay weak (NumPy 2 / NEP 50), and so do
    traced values that came from Python scalars."""
    if isinstance(x, _Tracer):
        if x.aval.weak:
            return _WEAK_STAND_IN.get(x.dtype.kind, x.dtype)
        return x.dtype
    if _is_python_scalar(x):
        return x
    return np.asarray(x).dtype


def result_type(*xs: Any) -> np.dtype:
    """NumPy 2 promotion over arrays, tracers and (weak) Python scalars.

    >>> result_type(np.float32(1.0), 2.0)
    dtype('float32')
    """
    return np.result_type(*[_dtype_arg(x) for x in xs])


def _cast(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, _Tracer):
        return P.convert_element_type(x, dtype)
    if _is_python_scalar(x) and _aval_of(x).dtype == dtype:
        return x  # stays weakly typed
    arr = np.asarray(x, dtype=dtype)
    return arr[()] if arr.ndim == 0 else arr


def _broadcast_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    xs = _aval_of(x).shape
    if xs == shape:
        return x
    if not isinstance(x, _Tracer) and xs == ():
        return x  # a rank-0 constant becomes a literal; elementwise primitives accept it
    return P.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(xs), len(shape))))


def _broadcast_shapes(op: str, *xs: Any) -> tuple[int, ...]:
    shapes = [_aval_of(x).shape for x in xs]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"{op}: operands could not be broadcast together with shapes "
                         f"{' and '.join(map(str, shapes))}. Align them by reshaping, e.g. "
                         f"x[:, None] or jnp.expand_dims.") from None


def _promote_broadcast(op: str, *xs: Any, dtype: Any = None) -> list[Any]:
    dtype = result_type(*xs) if dtype is None else np.dtype(dtype)
    shape = _broadcast_shapes(op, *xs)
    casts = _weak_int_casts.get()
    if casts is not None and dtype.kind in "iu":
        casts.extend((x, dtype) for x in xs if isinstance(x, _Tracer) and x.aval.weak
                     and x.dtype.kind == "i" and x.dtype != dtype)
    return [_broadcast_to_shape(_cast(x, dtype), shape) for x in xs]


def _to_float(x: Any) -> Any:
    """Float functions of integer or boolean arrays compute in float64."""
    # NB: numpy gives float16 for bool, int8 and uint8 inputs, float32 for int16 and uint16
    # and float64 for wider ints; traced values use float64 for all (concrete ones: numpy's).
    if isinstance(x, (_Tracer, np.ndarray)) and x.dtype.kind == "f":
        return x
    if _is_float(_aval_of(x).dtype):
        return x
    return _cast(x, np.float64)


def _binder(prim_fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``bind`` of the primitive behind a ``jitgrad.prims`` wrapper (whose coercion of
    Python scalars the functions here have done already), or the function itself."""
    prim = getattr(prim_fn, "primitive", None)
    return prim_fn if prim is None else prim.bind


def _named(fn: Callable[..., Any], np_fn: Callable[..., Any], doc: str) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = np_fn.__name__
    fn.__doc__ = doc
    return fn


def _unary(prim_fn: Callable[[Any], Any], np_fn: Callable[..., Any], float_fn: bool = True
           ) -> Callable[[ArrayLike], Any]:
    bind = _binder(prim_fn)

    @_numpy_when_concrete(np_fn)
    def general(x: ArrayLike) -> Any:
        return bind(_to_float(x) if float_fn else x)

    def fn(x: ArrayLike, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, _Tracer) and not args and not kwargs:  # the traced case, directly
            return bind(_to_float(x) if float_fn else x)
        return general(x, *args, **kwargs)

    return _named(fn, np_fn, f"``numpy.{np_fn.__name__}`` on traced or concrete arrays.")


_PY_NUMBER = (float, int)
_F64 = np.dtype(np.float64)


def _strong_float(x: Any) -> np.dtype | None:
    """The dtype of a float array or traced array that is not weakly typed, else None."""
    if type(x) is np.ndarray or (isinstance(x, _Tracer) and not x.weak):
        dtype = x.dtype
        return dtype if dtype.kind == "f" else None
    return None


def _same_float(x: Any, y: Any) -> tuple[Any, Any] | None:
    """The common case of a binary function, with nothing to promote or broadcast: two float
    (traced) arrays of one dtype and shape, or one and a Python float or int (which takes its
    dtype, as ``_promote_broadcast`` would give it). None for every other case."""
    dx, dy = _strong_float(x), _strong_float(y)
    if dx is not None and dy is not None:
        return (x, y) if dx == dy and x.shape == y.shape else None
    if dx is not None and type(y) in _PY_NUMBER:
        return x, y if type(y) is float and dx == _F64 else dx.type(y)
    if dy is not None and type(x) in _PY_NUMBER:
        return x if type(x) is float and dy == _F64 else dy.type(x), y
    return None


def _binary(prim_fn: Callable[[Any, Any], Any], np_fn: Callable[..., Any],
            float_fn: bool = False, loop: bool = False) -> Callable[[ArrayLike, ArrayLike], Any]:
    """A binary function with broadcasting and promotion. ``float_fn``: integer operands
    compute in float64; ``loop``: in the dtype of numpy's own loop for the promoted type
    (integers stay integers, booleans compute in int8)."""
    bind = _binder(prim_fn)

    @_numpy_when_concrete(np_fn)
    def general(x: ArrayLike, y: ArrayLike) -> Any:
        same = _same_float(x, y)
        if same is not None:
            return bind(*same)
        dtype = result_type(x, y)
        if float_fn and not _is_float(dtype):
            dtype = np.dtype(np.float64)
        if loop:
            dtype = np_fn.resolve_dtypes((dtype, dtype, None))[2]
        return bind(*_promote_broadcast(np_fn.__name__, x, y, dtype=dtype))

    def fn(x: ArrayLike, y: ArrayLike, *args: Any, **kwargs: Any) -> Any:
        if (isinstance(x, _Tracer) or isinstance(y, _Tracer)) and not args and not kwargs:
            same = _same_float(x, y)
            if same is not None:  # the common traced case, directly
                return bind(*same)
        return general(x, y, *args, **kwargs)

    return _named(fn, np_fn, f"``numpy.{np_fn.__name__}`` with broadcasting and NumPy 2 "
                             f"promotion.")


# ---------------------------------------------------------------------------------------------
# Elementwise functions

exp = _unary(P.exp, np.exp)
log = _unary(P.log, np.log)
sin = _unary(P.sin, np.sin)
cos = _unary(P.cos, np.cos)
tan = _unary(P.tan, np.tan)
tanh = _unary(P.tanh, np.tanh)
sqrt = _unary(P.sqrt, np.sqrt)
log1p = _unary(P.log1p, np.log1p)
expm1 = _unary(P.expm1, np.expm1)
negative = _unary(P.neg, np.negative, float_fn=False)
abs = absolute = _unary(P.abs_, np.abs, float_fn=False)  # noqa: A001 - numpy's name
sign = _unary(P.sign, np.sign, float_fn=False)

arcsin = _unary(P.asin, np.arcsin)
arccos = _unary(P.acos, np.arccos)
arctan = _unary(P.atan, np.arctan)
arcsinh = _unary(P.asinh, np.arcsinh)
arccosh = _unary(P.acosh, np.arccosh)
arctanh = _unary(P.atanh, np.arctanh)


def _to_integer(prim_fn: Callable[[Any], Any], np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Rounding to an integer: integers and booleans are returned as they are (NumPy 2)."""
    unary = _unary(prim_fn, np_fn)

    def fn(x: ArrayLike, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, _Tracer) and not args and not kwargs and not _is_float(x.dtype):
            return x
        return unary(x, *args, **kwargs)

    return _named(fn, np_fn, f"``numpy.{np_fn.__name__}``; integers and booleans are "
                             f"returned as they are, as NumPy 2 does.")


floor = _to_integer(P.floor, np.floor)
ceil = _to_integer(P.ceil, np.ceil)
rint = _unary(P.round_, np.rint)


def _power_of_ten(n: int) -> float:
    """numpy's scale factor for rounding to ``n`` decimals: exact powers up to 1e9, then
    repeated multiplication by ten (so large ``n`` rounds exactly as numpy's does)."""
    scale = 10.0 ** builtins.min(n, 9)
    for _ in range(n - 9):
        scale *= 10.0
    return scale


@_numpy_when_concrete(np.round)
def round(a: ArrayLike, decimals: int = 0) -> Any:  # noqa: A001 - numpy's name
    """``numpy.round`` (half to even) to ``decimals`` places, by numpy's algorithm: scale by
    ``10**decimals``, ``rint``, scale back (negative ``decimals`` round to tens, hundreds...).
    The derivative is zero.

    >>> round(np.array([2.675, 1250.0]), -2)
    array([   0., 1200.])
    """
    decimals = operator.index(decimals)
    dtype = _aval_of(a).dtype
    if dtype == np.bool_ and decimals != 0:
        raise JitgradTypeError(f"round: boolean arrays cannot be rounded to {decimals} "
                               f"decimals (numpy raises too); cast them to a number type first")
    if decimals == 0 or (decimals > 0 and not _is_float(dtype)):
        return rint(a) if _is_float(dtype) or dtype == np.bool_ else a
    if not _is_float(dtype):  # numpy rounds integers to tens, hundreds... in float64
        return _cast(round(_cast(a, np.dtype(np.float64)), decimals), dtype)
    scale = _power_of_ten(builtins.abs(decimals))
    if decimals > 0:
        return divide(rint(multiply(a, scale)), scale)
    return multiply(rint(divide(a, scale)), scale)


around = round

add = _binary(P.add, np.add)
subtract = _binary(P.sub, np.subtract)
multiply = _binary(P.mul, np.multiply)
divide = true_divide = _binary(P.div, np.true_divide, float_fn=True)
maximum = _binary(P.max_, np.maximum)
minimum = _binary(P.min_, np.minimum)
less = _binary(P.lt, np.less)
less_equal = _binary(P.le, np.less_equal)
greater = _binary(P.gt, np.greater)
greater_equal = _binary(P.ge, np.greater_equal)
equal = _binary(P.eq, np.equal)
not_equal = _binary(P.ne, np.not_equal)
arctan2 = _binary(P.atan2, np.arctan2, float_fn=True)
floor_divide = _binary(P.floor_divide, np.floor_divide, loop=True)
mod = remainder = _binary(P.mod, np.remainder, loop=True)
fmod = _binary(P.fmod, np.fmod, loop=True)


@_numpy_when_concrete(np.divmod)
def divmod(x: ArrayLike, y: ArrayLike) -> tuple[Any, Any]:  # noqa: A001 - numpy's name
    """``numpy.divmod``: ``(floor_divide(x, y), remainder(x, y))``.

    >>> divmod(np.array([7, -7]), 2)
    (array([ 3, -4]), array([1, 1]))
    """
    return floor_divide(x, y), remainder(x, y)


def _logical(prim_fn: Callable[..., Any], np_fn: Callable[..., Any]) -> Callable[..., Any]:
    @_numpy_when_concrete(np_fn)
    def fn(x: ArrayLike, y: ArrayLike) -> Any:
        return prim_fn(*_promote_broadcast(np_fn.__name__, x, y, dtype=np.bool_))
    fn.__name__ = np_fn.__name__
    return fn


logical_and = _logical(P.and_, np.logical_and)
logical_or = _logical(P.or_, np.logical_or)


@_numpy_when_concrete(np.logical_not)
def logical_not(x: ArrayLike) -> Any:
    """``numpy.logical_not``."""
    return P.not_(_cast(x, np.dtype(np.bool_)))


def _bitwise(prim: Any, np_fn: Callable[..., Any], logical: Callable[..., Any] | None
             ) -> Callable[..., Any]:
    """numpy's bitwise ``np_fn`` on integers (the primitive ``prim``) with broadcasting and
    promotion; on booleans it is ``logical`` (as in numpy), and numpy refuses floats."""
    @_numpy_when_concrete(np_fn)
    def fn(*xs: ArrayLike) -> Any:
        dtype = result_type(*xs)
        if dtype == np.bool_ and logical is not None:
            return logical(*xs)
        if dtype.kind not in "biu":
            raise JitgradTypeError(
                f"{np_fn.__name__}: needs integer or boolean operands, got "
                f"{', '.join(str(_aval_of(x).dtype) for x in xs)} (numpy refuses them too)")
        if dtype == np.bool_:  # (numpy's shifts and bit counts of booleans compute in int8)
            try:
                dtype = np_fn.resolve_dtypes((dtype,) * np_fn.nin + (None,))[0]
            except TypeError:
                raise JitgradTypeError(f"{np_fn.__name__}: needs integer operands, got "
                                       f"booleans (numpy refuses them too)") from None
        return prim.bind(*_promote_broadcast(np_fn.__name__, *xs, dtype=dtype))
    fn.__name__ = np_fn.__name__
    args = [np.array([True, False]), np.array([6, -3], np.int8)] if np_fn.nin == 2 else \
        [np.array([6, -3], np.int8)]
    fn.__doc__ = (f"``numpy.{np_fn.__name__}`` of integers and booleans (compiled too)."
                  f"\n\n    >>> import jitgrad\n    >>> jitgrad.jit({np_fn.__name__})("
                  f"{', '.join(repr(a).replace('array', 'np.array') for a in args)})\n"
                  f"    {np_fn(*args)!r}\n")
    return fn


bitwise_and = _bitwise(P.bitwise_and_p, np.bitwise_and, logical_and)
bitwise_or = _bitwise(P.bitwise_or_p, np.bitwise_or, logical_or)
bitwise_xor = _bitwise(P.bitwise_xor_p, np.bitwise_xor, not_equal)
invert = bitwise_not = bitwise_invert = _bitwise(P.bitwise_not_p, np.invert, logical_not)
left_shift = bitwise_left_shift = _bitwise(P.shift_left_p, np.left_shift, None)
right_shift = bitwise_right_shift = _bitwise(P.shift_right_p, np.right_shift, None)
bitwise_count = _bitwise(P.population_count_p, np.bitwise_count, None)


@_numpy_when_concrete(np.power)
def power(x: ArrayLike, y: ArrayLike) -> Any:
    """``x ** y``; a Python integer exponent uses exact repeated multiplication."""
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool) and not isinstance(x, int):
        if not isinstance(x, _Tracer):
            x = np.asarray(x)
        if not _is_float(_aval_of(x).dtype) and y < 0:
            raise JitgradTypeError("power: integers to negative integer powers are not allowed")
        return P.integer_pow(x, int(y))
    return _binary(P.pow, np.power)(x, y)


@_numpy_when_concrete(np.square)
def square(x: ArrayLike) -> Any:
    """``x * x``."""
    return P.integer_pow(x, 2)


@_numpy_when_concrete(np.reciprocal)
def reciprocal(x: ArrayLike) -> Any:
    """``1 / x``; of integers an integer, as numpy's: 1 / x truncated toward zero (booleans
    compute in int8).

    >>> import jitgrad
    >>> jitgrad.jit(reciprocal)(np.array([1, -1, 2, -3], np.int32))
    array([ 1, -1,  0,  0], dtype=int32)
    """
    dtype = _aval_of(x).dtype
    if _is_float(dtype):
        return divide(1.0, x)
    if dtype == np.bool_:
        x, dtype = _cast(x, np.int8), np.dtype(np.int8)
    # numpy divides in float64 and converts, so 1 / 0 converts an infinity: its value is
    # the platform's conversion, which numpy's own call on a zero gives.
    with np.errstate(divide="ignore", invalid="ignore"):
        at_zero = np.reciprocal(np.zeros((), dtype))
    out = where(equal(x, 1), np.ones((), dtype), where(equal(x, 0), at_zero, np.zeros((), dtype)))
    if dtype.kind == "i":
        out = where(equal(x, -1), np.asarray(-1, dtype), out)
    return out


@_numpy_when_concrete(np.log2)
def log2(x: ArrayLike) -> Any:
    """``numpy.log2``."""
    return log(x) / np.log(2.0)


@_numpy_when_concrete(np.log10)
def log10(x: ArrayLike) -> Any:
    """``numpy.log10``."""
    return log(x) / np.log(10.0)


@_numpy_when_concrete(np.exp2)
def exp2(x: ArrayLike) -> Any:
    """``numpy.exp2``: 2 ** x (exp(x ln 2) rounded x ln 2 first: 300 ulp off at x = 1000,
    and 2 ** 100 was not exact)."""
    return power(2.0, x)


# Beyond |x| = 20, e**-|x| is below half an ulp of e**|x| (float64 too), so sinh and cosh are
# e**|x| / 2, computed as (e**(|x|/2) / 2) * e**(|x|/2): finite up to where the result itself
# overflows (e**|x| alone is inf from 709.78 on, while sinh(710) is 1.1e308). Near 0, sinh is
# (expm1(x) - expm1(-x)) / 2, which does not cancel (e**x - e**-x lost every digit below
# 1e-8: sinh(1e-12) was 3e-5 off in relative terms) and keeps -0. Each branch reads its input
# clipped to its own range, so the branch not taken stays finite.
_HYPERBOLIC_SPLIT = 20.0


def _half_exp_squared(a: Any) -> Any:
    h = exp(0.5 * a)
    return (0.5 * h) * h


def _sinh_value(x: Any) -> Any:
    c = _HYPERBOLIC_SPLIT
    xs = clip(x, -c, c)
    small = (expm1(xs) - expm1(-xs)) * 0.5
    return where(x > c, _half_exp_squared(maximum(x, c)),
                 where(x < -c, -_half_exp_squared(-minimum(x, -c)), small))


def _cosh_value(x: Any) -> Any:
    c = _HYPERBOLIC_SPLIT
    xs = clip(x, -c, c)
    return where(abs(x) > c, _half_exp_squared(maximum(abs(x), c)), (exp(xs) + exp(-xs)) * 0.5)


@functools.cache
def _hyperbolic() -> tuple[Any, Any]:
    """sinh and cosh with each other as derivative (d sinh = cosh dx, d cosh = sinh dx),
    rather than the derivatives of their formulas' branches, which halve at the clip
    boundaries and overflow before the function does."""
    from jitgrad.custom_derivatives import custom_jvp
    sinh_, cosh_ = custom_jvp(_sinh_value), custom_jvp(_cosh_value)

    @sinh_.defjvp
    def _(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        return sinh_(x), cosh_(x) * t

    @cosh_.defjvp
    def _(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        return cosh_(x), sinh_(x) * t

    return sinh_, cosh_


@_numpy_when_concrete(np.sinh)
def sinh(x: ArrayLike) -> Any:
    """``numpy.sinh``."""
    return _hyperbolic()[0](_to_float(x))


@_numpy_when_concrete(np.cosh)
def cosh(x: ArrayLike) -> Any:
    """``numpy.cosh``."""
    return _hyperbolic()[1](_to_float(x))


@_numpy_when_concrete(np.isnan)
def isnan(x: ArrayLike) -> Any:
    """``numpy.isnan`` (NaN is the only value unequal to itself)."""
    return not_equal(x, x)


@_numpy_when_concrete(np.isinf)
def isinf(x: ArrayLike) -> Any:
    """``numpy.isinf``."""
    return logical_or(equal(x, np.inf), equal(x, -np.inf))


@_numpy_when_concrete(np.isfinite)
def isfinite(x: ArrayLike) -> Any:
    """``numpy.isfinite`` (``x - x`` is 0 exactly for finite ``x``, NaN otherwise)."""
    return equal(subtract(x, x), 0)


def _numpy_where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None, *,
                 size: int | None = None, fill_value: Any = None) -> Any:
    # numpy's where takes its arguments positionally only; JAX and autograd accept keywords
    if x is None and y is None and size is not None:
        return nonzero(condition, size=size, fill_value=fill_value)
    return np.where(condition, *[a for a in (x, y) if a is not None])


@_numpy_when_concrete(_numpy_where)
def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None, *,
          size: int | None = None, fill_value: Any = None) -> Any:
    """``numpy.where(condition, x, y)``, also with keywords. The one-argument form is
    ``nonzero(condition)``, whose shape depends on values: traced conditions need JAX's
    ``size=`` (and ``fill_value=``)."""
    if x is None and y is None:
        if size is None and isinstance(condition, _Tracer):
            raise TracerError("jnp.where(condition) with one argument: the output shape "
                              "depends on the values of a traced array; give its length with "
                              "size= (and fill_value=), as in JAX, or use jnp.where(condition, "
                              "x, y)")
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise JitgradTypeError("jnp.where: either both or neither of x and y should be given")
    if _aval_of(condition).dtype != np.bool_:
        condition = not_equal(condition, 0)
    dtype = result_type(x, y)
    shape = _broadcast_shapes("where", condition, x, y)
    pred = _broadcast_to_shape(condition, shape)
    return P.select(pred, _broadcast_to_shape(_cast(x, dtype), shape),
                    _broadcast_to_shape(_cast(y, dtype), shape))


@_numpy_when_concrete(np.clip)
def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None, out: Any = None, *,
         min: ArrayLike = None, max: ArrayLike = None) -> Any:  # noqa: A002 - numpy's names
    """``numpy.clip`` with scalar or array bounds (broadcast, either may be None; ``min=`` and
    ``max=`` as in NumPy 2); at a bound the gradient is shared as ``maximum``/``minimum``
    share it."""
    if out is not None:
        raise UnsupportedError("clip: out= on traced arrays (results are new arrays)")
    if (a_min is not None and min is not None) or (a_max is not None and max is not None):
        raise JitgradTypeError("clip: give a_min/a_max or min/max, not both")
    lo, hi = min if a_min is None else a_min, max if a_max is None else a_max
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a


@_numpy_when_concrete(lambda x: np.array(x, copy=True))
def stop_gradient(x: ArrayLike) -> Any:
    """The identity, with a zero derivative."""
    return P.stop_gradient(x)


# ---------------------------------------------------------------------------------------------
# Reductions


def _axes(axis: int | Sequence[int] | None, ndim: int, op: str, sort: bool = True
          ) -> tuple[int, ...]:
    """Axes in ``range(ndim)``: negative ones count from the end; out-of-range, repeated and
    non-integer ones raise."""
    if axis is None:
        return tuple(range(ndim))
    try:
        axes = (operator.index(axis),) if not isinstance(axis, (tuple, list)) else \
            tuple(operator.index(a) for a in axis)
    except TypeError:
        raise JitgradTypeError(f"{op}: axis must be an integer or a tuple of integers, got "
                               f"{axis!r}") from None
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if sort else tuple(out)


def _axis(axis: int, ndim: int, op: str) -> int:
    """One axis in ``range(ndim)``, for functions that take a single axis (as numpy's do)."""
    if isinstance(axis, (tuple, list)):
        raise JitgradTypeError(f"{op}: axis must be a single integer, got {axis!r}")
    (ax,) = _axes(axis, ndim, op)
    return ax


def _keep(y: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return y
    return P.reshape(y, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _sum_dtype(x: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    dt = _aval_of(x).dtype
    if dt.kind == "f":
        return dt
    if dt == np.bool_ or (np.issubdtype(dt, np.integer) and dt.itemsize < 8):
        return np.dtype(np.int64 if np.issubdtype(dt, np.signedinteger) or dt == np.bool_
                        else np.uint64)
    return dt


@_numpy_when_concrete(np.sum)
def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.sum``."""
    axes = _axes(axis, _aval_of(a).ndim, "sum")
    x = _cast(a, _sum_dtype(a, dtype))
    return _keep(P.reduce_sum(x, axes), _aval_of(a).shape, axes, keepdims)


@_numpy_when_concrete(np.prod)
def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """``numpy.prod`` (its gradient is exact where elements are zero)."""
    axes = _axes(axis, _aval_of(a).ndim, "prod")
    x = _cast(a, _sum_dtype(a, dtype))
    return _keep(P.reduce_prod(x, axes), _aval_of(a).shape, axes, keepdims)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@_numpy_when_concrete(np.mean)
def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """``numpy.mean``."""
    shape = _aval_of(a).shape
    axes = _axes(axis, len(shape), "mean")
    dtype = dtype or (_aval_of(a).dtype if _is_float(_aval_of(a).dtype) else np.float64)
    return divide(sum(_cast(a, np.dtype(dtype)), axis=axes, keepdims=keepdims),
                  float(_count(shape, axes)))


@_numpy_when_concrete(np.var)
def var(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    """``numpy.var``."""
    shape = _aval_of(a).shape
    axes = _axes(axis, len(shape), "var")
    centered = a - mean(a, axis=axes, dtype=dtype, keepdims=True)
    return divide(sum(centered * centered, axis=axes, keepdims=keepdims),
                  float(_count(shape, axes) - ddof))


@_numpy_when_concrete(np.std)
def std(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    """``numpy.std``. Its derivative is 0 where the variance is 0 (NB: the square root is not
    differentiable there; autograd and JAX give nan, except autograd for one element, where
    std is identically 0), as ``d|x|/dx`` is 0 at 0.

    >>> import jitgrad
    >>> jitgrad.grad(std)(np.array([2.0, 2.0]))
    array([0., 0.])
    """
    v = var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    zero = equal(v, 0)
    # The branch not taken stays finite, so that no 0 * inf reaches the derivative.
    return where(zero, 0, sqrt(where(zero, 1, v)))


@_numpy_when_concrete(np.cumsum)
def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    """``numpy.cumsum``."""
    if axis is None:
        a, axis = ravel(a), 0
    ax = _axis(axis, _aval_of(a).ndim, "cumsum")
    return P.cumsum(_cast(a, _sum_dtype(a, dtype)), ax)


def _extremum(prim_fn: Callable[..., Any], np_fn: Callable[..., Any], name: str
              ) -> Callable[..., Any]:
    @_numpy_when_concrete(np_fn)
    def fn(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
        shape = _aval_of(a).shape
        axes = _axes(axis, len(shape), name)
        if builtins.any(shape[i] == 0 for i in axes):
            raise ShapeError(f"{name}: zero-size array {_aval_of(a)} has no {name} along axes "
                             f"{axes}")
        if _aval_of(a).dtype == np.bool_:  # (the reductions take numbers: any/all as numpy)
            return _cast(_keep(prim_fn(_cast(a, np.uint8), axes), shape, axes, keepdims),
                         np.bool_)
        return _keep(prim_fn(a, axes), shape, axes, keepdims)
    fn.__name__ = name
    fn.__doc__ = f"``numpy.{name}``; the gradient is shared equally among tied elements."
    return fn


max = amax = _extremum(P.reduce_max, np.max, "max")  # noqa: A001
min = amin = _extremum(P.reduce_min, np.min, "min")  # noqa: A001


def _arg(prim: Any, np_fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    @_numpy_when_concrete(np_fn)
    def fn(a: ArrayLike, axis: int | None = None) -> Any:
        if axis is None:
            a, axis = ravel(a), 0
        ax = _axis(axis, _aval_of(a).ndim, name)
        return prim.bind(a, axis=ax)
    fn.__name__ = name
    fn.__doc__ = f"``numpy.{name}`` (integer result, no gradient)."
    return fn


argmax = _arg(P.argmax_p, np.argmax, "argmax")
argmin = _arg(P.argmin_p, np.argmin, "argmin")


# ---------------------------------------------------------------------------------------------
# Shapes


def _reshape_target(shape: Any, size: int, old: tuple[int, ...]) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape array of shape {old} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ShapeError(f"reshape: cannot reshape array of shape {old} (size {size}) into "
                         f"shape {shape}")
    return shape


@_numpy_when_concrete(np.reshape)
def reshape(a: ArrayLike, shape: Any, order: str = "C") -> Any:
    """``numpy.reshape`` (C order)."""
    if order != "C":
        raise UnsupportedError("reshape: only order='C' is supported")
    av = _aval_of(a)
    return P.reshape(a, _reshape_target(shape, av.size, av.shape))


@_numpy_when_concrete(np.ravel)
def ravel(a: ArrayLike) -> Any:
    """``numpy.ravel``."""
    return P.reshape(a, (_aval_of(a).size,))


@_numpy_when_concrete(np.expand_dims)
def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Any:
    """``numpy.expand_dims``."""
    shape = list(_aval_of(a).shape)
    axes = _axes(axis, len(shape) + (1 if isinstance(axis, int) else len(axis)), "expand_dims")
    for ax in axes:
        shape.insert(ax, 1)
    return P.reshape(a, tuple(shape))


@_numpy_when_concrete(np.squeeze)
def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    """``numpy.squeeze``."""
    shape = _aval_of(a).shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = _axes(axis, len(shape), "squeeze")
        for i in axes:
            if shape[i] != 1:
                raise ShapeError(f"squeeze: cannot select an axis to squeeze out which has size "
                                 f"not equal to one (axis {i} of shape {shape})")
    return P.reshape(a, tuple(d for i, d in enumerate(shape) if i not in axes))


@_numpy_when_concrete(np.transpose)
def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    """``numpy.transpose``."""
    nd = _aval_of(a).ndim
    perm = tuple(reversed(range(nd))) if axes is None else _axes(axes, nd, "transpose",
                                                                 sort=False)
    if len(perm) != nd:
        raise ShapeError(f"transpose: axes {axes} don't match array of shape {_aval_of(a).shape}")
    return P.transpose(a, perm)


@_numpy_when_concrete(np.swapaxes)
def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    """``numpy.swapaxes``."""
    nd = _aval_of(a).ndim
    i, j = _axis(axis1, nd, "swapaxes"), _axis(axis2, nd, "swapaxes")
    perm = list(range(nd))
    perm[i], perm[j] = perm[j], perm[i]
    return P.transpose(a, perm)


@_numpy_when_concrete(np.moveaxis)
def moveaxis(a: ArrayLike, source: int | Sequence[int], destination: int | Sequence[int]
             ) -> Any:
    """``numpy.moveaxis``."""
    nd = _aval_of(a).ndim
    src = _axes(source, nd, "moveaxis", sort=False)
    dst = _axes(destination, nd, "moveaxis", sort=False)
    if len(src) != len(dst):
        raise ShapeError("moveaxis: source and destination must have the same number of "
                         "elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return P.transpose(a, order)


@_numpy_when_concrete(np.broadcast_to)
def broadcast_to(array: ArrayLike, shape: Any) -> Any:
    """``numpy.broadcast_to`` (the result is never materialised by the compiled path)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    src = _aval_of(array).shape
    try:
        if np.broadcast_shapes(src, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {src} to {shape}") from None
    return P.broadcast_in_dim(array, shape, tuple(range(len(shape) - len(src), len(shape))))


@_numpy_when_concrete(np.concatenate, sequences=1)
def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """``numpy.concatenate``."""
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    dtype = result_type(*arrays)
    arrays = [_cast(a, dtype) for a in arrays]
    avals = [_aval_of(a) for a in arrays]
    if not avals or avals[0].ndim == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    ax = _axis(axis, avals[0].ndim, "concatenate")
    ref = avals[0].shape[:ax] + avals[0].shape[ax + 1:]
    for av in avals:
        if av.ndim != avals[0].ndim or av.shape[:ax] + av.shape[ax + 1:] != ref:
            raise ShapeError(f"concatenate: along axis {ax}, shapes "
                             f"{', '.join(str(v.shape) for v in avals)} do not match")
    return P.concatenate([a if isinstance(a, _Tracer) else np.asarray(a) for a in arrays], ax)


@_numpy_when_concrete(np.stack, sequences=1)
def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Any:
    """``numpy.stack``."""
    arrays = list(arrays)
    shapes = {_aval_of(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all input arrays must have the same shape, got "
                         f"{', '.join(str(_aval_of(a).shape) for a in arrays)}")
    nd = _aval_of(arrays[0]).ndim + 1
    ax = _axis(axis, nd, "stack")
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax)


# ---------------------------------------------------------------------------------------------
# Linear algebra


def _peel_transpose(x: Any) -> tuple[Any, bool]:
    """If ``x`` was staged as a transpose of its last two axes, return its operand and True:
    ``A.T @ B`` becomes ``matmul[transpose_a=True] A B`` with no transpose."""
    eqn = _producer(x)
    if eqn is None or eqn.prim.name != "transpose":
        return x, False
    nd = len(eqn.params["perm"])
    if eqn.params["perm"] != tuple(range(nd - 2)) + (nd - 1, nd - 2):
        return x, False
    src = eqn.inputs[0]
    if isinstance(src, _Lit):
        return x, False
    return _StageTracer(x.interp, src), True


def _ignoring_precision(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``np_fn`` accepting JAX's ``precision=`` (a ``lax.Precision``, a string or a pair):
    ignored, since numpy and jitgrad compute contractions in the operands' own dtype on the
    CPU (``HIGHEST``)."""
    @functools.wraps(np_fn)
    def fn(*args: Any, precision: Any = None, **kwargs: Any) -> Any:
        return np_fn(*args, **kwargs)
    return fn


@_numpy_when_concrete(_ignoring_precision(np.matmul))
def matmul(a: ArrayLike, b: ArrayLike, *, precision: Any = None) -> Any:
    """``numpy.matmul``: batched, with broadcast batch dimensions; transposes of the operands
    are folded into the primitive's flags. ``precision`` (JAX's) is accepted and ignored:
    contractions compute in the operands' dtype (``lax.Precision.HIGHEST``)."""
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if not sa or not sb:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {sa} and {sb}; "
                         f"use * for scalars")
    dtype = _strong_float(a)
    if dtype is None or dtype != _strong_float(b):  # else nothing to promote
        dtype = result_type(a, b)
        if dtype == np.bool_:
            dtype = np.dtype(np.int64)
        a, b = _cast(a, dtype), _cast(b, dtype)
    if len(sa) == 1:
        a = P.reshape(a, (1,) + sa)
    if len(sb) == 1:
        b = P.reshape(b, sb + (1,))
    ka, kb = _aval_of(a).shape[-1], _aval_of(b).shape[-2]
    if ka != kb:
        raise ShapeError(f"matmul: contraction dimensions do not match: shapes {sa} and {sb} "
                         f"({ka} != {kb})")
    a, ta = _peel_transpose(a)
    b, tb = _peel_transpose(b)
    (*ba, ra, ca), (*bb, rb, cb) = _aval_of(a).shape, _aval_of(b).shape
    ba, bb = tuple(ba), tuple(bb)
    try:
        batch = ba if ba == bb else tuple(np.broadcast_shapes(ba, bb))
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions do not broadcast: shapes {sa} and {sb} "
                         f"(batch dimensions {ba} and {bb})") from None
    a = a if ba == batch else _broadcast_to_shape(a, batch + (ra, ca))
    b = b if bb == batch else _broadcast_to_shape(b, batch + (rb, cb))
    out = P.matmul(a, b, ta, tb)
    shape = batch + (ca if ta else ra, rb if tb else cb)
    if len(sa) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(sb) == 1:
        shape = shape[:-1]
    return P.reshape(out, shape)


# ---------------------------------------------------------------------------------------------
# Creation (shapes are static: these build concrete arrays, except *_like of traced arrays)


def _fill_like(a: Any, value: Any, dtype: Any, shape: Any) -> Any:
    av = _aval_of(a)
    dtype = np.dtype(dtype) if dtype is not None else av.dtype
    shape = av.shape if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
    if isinstance(value, _Tracer):
        return P.broadcast_in_dim(_cast(value, dtype), shape,
                                  tuple(range(len(shape) - value.ndim, len(shape))))
    return P.broadcast_in_dim(np.asarray(value, dtype)[()], shape, ())


@_numpy_when_concrete(np.zeros_like)
def zeros_like(a: ArrayLike, dtype: Any = None, shape: Any = None) -> Any:
    """``numpy.zeros_like``."""
    return _fill_like(a, 0, dtype, shape)


@_numpy_when_concrete(np.ones_like)
def ones_like(a: ArrayLike, dtype: Any = None, shape: Any = None) -> Any:
    """``numpy.ones_like``."""
    return _fill_like(a, 1, dtype, shape)


@_numpy_when_concrete(np.full_like)
def full_like(a: ArrayLike, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """``numpy.full_like``."""
    return _fill_like(a, fill_value, dtype, shape)


@_numpy_when_concrete(np.full)
def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``numpy.full``; a traced fill value is broadcast."""
    dtype = dtype or _aval_of(fill_value).dtype
    return _fill_like(np.empty(0, dtype), fill_value, dtype, shape)


def _static(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(np_fn)
    def fn(*args: Any, **kwargs: Any) -> Any:
        if _has_tracer(args) or _has_tracer(tuple(kwargs.values())):
            raise TracerError(f"jnp.{np_fn.__name__}: its arguments determine a shape, so they "
                              f"must be concrete (Python numbers), not traced values")
        return np_fn(*args, **kwargs)
    return fn


zeros = _static(np.zeros)
ones = _static(np.ones)
empty = _static(np.zeros)  # NB: zero-filled, so results never depend on stale memory.
eye = _static(np.eye)
identity = _static(np.identity)


def arange(*args: Any, **kwargs: Any) -> Any:
    """``numpy.arange`` (its length depends on its arguments' values, so they must be
    concrete; with traced bounds write ``start + step * jnp.arange(n)``).

    >>> arange(1, 7, 2)
    array([1, 3, 5])
    """
    if _has_tracer(args) or _has_tracer(tuple(kwargs.values())):
        raise TracerError("jnp.arange: the length of the result depends on start/stop/step, "
                          "so they must be concrete (Python numbers), not traced values; "
                          "with traced bounds and a concrete count n, write "
                          "start + step * jnp.arange(n) or use jnp.linspace")
    return np.arange(*args, **kwargs)


@_numpy_when_concrete(np.linspace)
def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """``numpy.linspace``; ``start`` and ``stop`` may be traced (scalars or arrays, which
    broadcast), ``num`` is a shape and must be concrete.

    >>> import jitgrad
    >>> jitgrad.jit(lambda a, b: linspace(a, b, 3))(0.0, np.float64(1.0))
    array([0. , 0.5, 1. ])
    """
    if isinstance(num, _Tracer):
        raise TracerError("jnp.linspace: num is the length of the result, so it must be "
                          "concrete (a Python int), not a traced value")
    num = operator.index(num)
    if num < 0:
        raise ShapeError(f"linspace: number of samples, {num}, must be non-negative")
    div = num - 1 if endpoint else num
    dt = result_type(start, stop)
    if not _is_float(dt):
        dt = np.dtype(np.float64)
    start, stop = _cast(start, dt), _cast(stop, dt)
    delta = subtract(stop, start)
    shape = _aval_of(delta).shape
    steps = np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(shape))
    # NB: numpy divides by `div` separately where the step underflows to 0; here the step is
    # traced, so this is only a difference for subnormal steps.
    step = divide(delta, div) if div > 0 else multiply(delta, np.nan)
    y = add(multiply(steps, step if div > 0 else delta), start)
    if endpoint and num > 1:
        y = concatenate([y[:-1], reshape(broadcast_to(stop, shape), (1,) + shape)])
    y = moveaxis(y, 0, axis) if axis else y
    if dtype is not None:
        if np.issubdtype(np.dtype(dtype), np.integer):
            y = floor(y)
        y = _cast(y, np.dtype(dtype))
    return (y, step) if retstep else y


class _Constant(np.ndarray):
    """A concrete array made by ``jnp.asarray``/``jnp.array`` inside a transformation:
    numpy's array in every respect, except that an index holding traced values goes through
    ``jnp.getitem`` (numpy's own indexing cannot take them), so ``jnp.asarray(table)[i]``
    works with a traced ``i``, as in JAX."""

    def __getitem__(self, index: Any) -> Any:
        if _contains_tracer(index if isinstance(index, tuple) else (index,)):
            return getitem(self.view(np.ndarray), index)
        return np.ndarray.__getitem__(self, index)

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))


def _constant(arr: np.ndarray) -> np.ndarray:
    """``arr`` as a ``_Constant`` inside a transformation (where traced indices can occur);
    outside, eager results stay plain numpy arrays."""
    if arr.ndim and not isinstance(_current_interpreter(), _EvalInterpreter):
        return arr.view(_Constant)
    return arr


def asarray(a: Any, dtype: Any = None) -> Any:
    """``numpy.asarray``; traced arrays (and lists of them) stay traced, and a concrete array
    made inside a transformation can be indexed by traced values."""
    if isinstance(a, _Tracer):
        return a if dtype is None else _cast(a, np.dtype(dtype))
    if isinstance(a, list | tuple) and _contains_tracer(a):
        return stack([asarray(x, dtype) for x in a])
    return _constant(np.asarray(a, dtype=dtype))


def array(a: Any, dtype: Any = None, copy: bool = True) -> Any:
    """``numpy.array``; traced arrays (and lists of them) stay traced, and a concrete array
    made inside a transformation can be indexed by traced values."""
    if isinstance(a, _Tracer) or (isinstance(a, list | tuple) and _contains_tracer(a)):
        return asarray(a, dtype)
    return _constant(np.array(a, dtype=dtype, copy=copy))


def astype(x: ArrayLike, dtype: Any) -> Any:
    """``x.astype(dtype)``."""
    if isinstance(x, _Tracer):
        return _cast(x, np.dtype(dtype))
    return np.asarray(x).astype(dtype)


def shape(a: ArrayLike) -> tuple[int, ...]:
    """``numpy.shape`` (static even for traced arrays).

    >>> shape(np.ones((2, 3)))
    (2, 3)
    """
    return a.shape if isinstance(a, _Tracer) else np.shape(a)


def ndim(a: ArrayLike) -> int:
    """``numpy.ndim``.

    >>> ndim(np.ones((2, 3)))
    2
    """
    return a.ndim if isinstance(a, _Tracer) else np.ndim(a)


def size(a: ArrayLike) -> int:
    """``numpy.size``.

    >>> size(np.ones((2, 3)))
    6
    """
    return a.size if isinstance(a, _Tracer) else np.size(a)


# ---------------------------------------------------------------------------------------------
# Indexing


def _normalize_index(i: int, n: int, axis: int, aval: Any) -> int:
    if not -n <= i < n:
        raise JitgradIndexError(f"indexing {aval}: index {i} is out of bounds for axis {axis} "
                                f"with size {n}")
    return i % n


def _index_array(idx: Any, n: int, axis: int, aval: Any) -> Any:
    """Concrete index arrays are bounds-checked and wrapped now; traced ones wrap negatives
    and are clamped to the axis, each axis on its own (NB: as in JAX; numpy would raise)."""
    if isinstance(idx, _Tracer):
        idx = _cast(idx, np.dtype(np.int64))
        if n == 0:
            return idx
        return P.min_(P.max_(P.select(P.lt(idx, 0), P.add(idx, n), idx), 0), n - 1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        raise JitgradIndexError(f"indexing {aval}: index {bad} is out of bounds for axis "
                                f"{axis} with size {n}")
    return np.where(idx < 0, idx + n, idx).astype(np.int64)


_INDEX_KINDS = ("only integers, slices (`:`), ellipsis (`...`), None (`newaxis`) and integer "
                "or boolean arrays are valid indices")


def _index_item(it: Any, aval: Any) -> Any:
    """One entry of an index, checked: None, Ellipsis, a slice, a Python int, a traced
    integer array, or a concrete integer or boolean numpy array."""
    if it is None or it is Ellipsis or isinstance(it, slice):
        return it
    if isinstance(it, bool | np.bool_):
        raise UnsupportedError(f"indexing {aval} with a boolean scalar (x[True]) is not "
                               f"supported; use x[None] (True) or an empty slice (False)")
    if isinstance(it, int | np.integer):
        return operator.index(it)
    if isinstance(it, list | tuple) and _contains_tracer(it):
        it = asarray(it)
    if isinstance(it, _Tracer):
        if it.dtype == np.bool_:
            raise TracerError("boolean mask indexing with a traced mask has a data-dependent "
                              "shape; use jnp.where(mask, x, 0) instead")
        if not np.issubdtype(it.dtype, np.integer):
            raise JitgradIndexError(f"indexing {aval}: arrays used as indices must be of "
                                    f"integer (or boolean) type, got a traced {it.aval}")
        return it
    if not isinstance(it, np.ndarray | list | tuple):
        raise JitgradIndexError(f"indexing {aval}: {_INDEX_KINDS}, got {type(it).__name__} "
                                f"{it!r}")
    arr = np.asarray(it)
    if arr.dtype == np.bool_ and arr.ndim == 0:
        return _index_item(arr[()], aval)
    if arr.size == 0 and arr.dtype != np.bool_:  # numpy: an empty list selects nothing
        arr = arr.astype(np.int64)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise JitgradIndexError(f"indexing {aval}: arrays used as indices must be of integer "
                                f"(or boolean) type, got {arr.dtype.name}")
    return arr


def _is_mask(it: Any) -> bool:
    return isinstance(it, np.ndarray) and it.dtype == np.bool_


def _expand_index(items: list[Any], aval: Any) -> list[Any]:
    """One entry per axis (plus the Nones): boolean masks become the index arrays of their
    True elements, after checking their shape; the ellipsis (or the missing trailing axes)
    becomes full slices."""
    shape = aval.shape
    n_used = builtins.sum(it.ndim if _is_mask(it) else 1 for it in items
                          if it is not None and it is not Ellipsis)
    if n_used > len(shape):
        raise JitgradIndexError(f"indexing {aval}: too many indices for array: array is "
                                f"{len(shape)}-dimensional, but {n_used} were indexed")
    if builtins.sum(1 for it in items if it is Ellipsis) > 1:  # identity: arrays never match
        raise JitgradIndexError(f"indexing {aval}: an index can only have a single ellipsis "
                                f"('...')")
    if not builtins.any(it is Ellipsis for it in items):
        items = items + [Ellipsis]
    out: list[Any] = []
    dim = 0
    for it in items:
        if it is Ellipsis:
            fill = len(shape) - n_used
            out += [slice(None)] * fill
            dim += fill
        elif _is_mask(it):
            for j, (m, n) in enumerate(zip(it.shape, shape[dim:], strict=False)):
                if m != n:
                    raise JitgradIndexError(
                        f"indexing {aval}: boolean index did not match indexed array along "
                        f"axis {dim + j}; size of axis is {n} but size of corresponding "
                        f"boolean axis is {m}")
            out += np.nonzero(it)
            dim += it.ndim
        else:
            out.append(it)
            dim += it is not None
    return out


def getitem(x: ArrayLike, index: Any) -> Any:
    """``x[index]``: integers, slices (any step), None, Ellipsis, integer arrays (traced or
    concrete) and concrete boolean masks, with numpy's placement rules."""
    if not isinstance(x, _Tracer) and not _contains_tracer(
            index if isinstance(index, tuple) else (index,)):
        return np.asarray(x)[index]
    aval = _aval_of(x)
    items = _expand_index([_index_item(it, aval) for it in (
        index if isinstance(index, tuple) else (index,))], aval)
    if builtins.any(isinstance(it, _Tracer | np.ndarray) for it in items):
        if builtins.any(it is None for it in items):
            raise UnsupportedError("indexing that mixes None/newaxis with integer arrays; "
                                   "index first, then use jnp.expand_dims")
        return _advanced_getitem(x, items)

    starts, sizes, steps, out_shape = [], [], [], []
    dim = 0
    for it in items:
        if it is None:
            out_shape.append(1)
            continue
        n = aval.shape[dim]
        if isinstance(it, slice):
            st, k, stp = _slice_params(it, n, dim, aval)
            starts.append(st)
            sizes.append(k)
            steps.append(stp)
            out_shape.append(k)
        else:
            starts.append(_normalize_index(it, n, dim, aval))
            sizes.append(1)
            steps.append(1)
        dim += 1
    y = P.slice_(x, starts, sizes, steps)
    return P.reshape(y, tuple(out_shape))


def _slice_params(it: slice, n: int, axis: int, aval: Any) -> tuple[int, int, int]:
    """A Python slice of an axis of length ``n`` as the slice primitive's (start, size,
    step); an empty selection is (0, 0, 1)."""
    try:
        st, sp, stp = it.indices(n)
    except ValueError:
        raise ShapeError(f"indexing {aval}: slice step cannot be zero (axis {axis})") from None
    except TracerError:
        raise
    except TypeError:
        raise JitgradTypeError(f"indexing {aval}: slice indices must be integers or None, got "
                               f"{it} on axis {axis}") from None
    k = len(range(st, sp, stp))
    return (st, k, stp) if k else (0, 0, 1)


def _advanced_getitem(x: Any, items: list[Any]) -> Any:
    aval = _aval_of(x)
    # Slices first (integers become length-1 slices), then one gather over the advanced axes.
    starts, sizes, steps, adv_axes, adv_idx = [], [], [], [], []
    for dim, it in enumerate(items):
        n = aval.shape[dim]
        if isinstance(it, slice):
            st, k, stp = _slice_params(it, n, dim, aval)
            starts.append(st)
            sizes.append(k)
            steps.append(stp)
            continue
        starts.append(0)
        sizes.append(n)
        steps.append(1)
        adv_axes.append(dim)
        adv_idx.append(_index_array(it if isinstance(it, _Tracer) else np.asarray(it), n, dim,
                                    aval))
    y = P.slice_(x, starts, sizes, steps)
    ys = _aval_of(y).shape
    try:
        idx_shape = np.broadcast_shapes(*[_aval_of(i).shape for i in adv_idx])
    except ValueError:
        raise JitgradIndexError(
            f"indexing {aval}: shape mismatch: indexing arrays could not be broadcast together "
            f"with shapes {' '.join(str(_aval_of(i).shape) for i in adv_idx)}") from None
    # Numpy's rule: adjacent advanced axes keep their place, otherwise they move to the front.
    contiguous = adv_axes == list(range(adv_axes[0], adv_axes[0] + len(adv_axes)))
    pos = adv_axes[0] if contiguous else 0
    rest = [d for d in range(len(ys)) if d not in adv_axes]
    perm = rest[:pos] + adv_axes + rest[pos:]
    y = P.transpose(y, perm)
    merged = int(np.prod([ys[d] for d in adv_axes], dtype=np.int64))
    yt = _aval_of(y).shape
    y = P.reshape(y, yt[:pos] + (merged,) + yt[pos + len(adv_axes):])
    # Every index is within its own axis now, so the flat index is the element's position.
    flat = None
    for d, idx in zip(adv_axes, adv_idx, strict=True):
        idx = _broadcast_to_shape(idx, idx_shape) if isinstance(idx, _Tracer) else \
            np.broadcast_to(idx, idx_shape)
        flat = idx if flat is None else add(multiply(flat, ys[d]), idx)
    if not isinstance(flat, _Tracer):
        flat = np.ascontiguousarray(flat, dtype=np.int64)
    return P.gather(y, flat, pos)


# ---------------------------------------------------------------------------------------------
# Submodules: their functions use the ones above, and the methods below use theirs

from jitgrad.numpy import _at, _sorting  # noqa: E402  (ufunc methods, below)
from jitgrad.numpy._at import at  # noqa: E402, F401  (re-exports)
from jitgrad.numpy._calculus import cross, diff, gradient  # noqa: E402, F401  (re-exports)
from jitgrad.numpy._contract import (  # noqa: E402, F401  (re-exports)
    dot,
    einsum,
    einsum_path,
    inner,
    kron,
    outer,
    tensordot,
    vdot,
)
from jitgrad.numpy._edit import (  # noqa: E402, F401  (re-exports)
    apply_along_axis,
    apply_over_axes,
    block,
    broadcast_arrays,
    choose,
    delete,
    diag_indices_from,
    fill_diagonal,
    insert,
    isin,
    piecewise,
    place,
    put,
    resize,
    vectorize,
)
from jitgrad.numpy._index import (  # noqa: E402, F401  (re-exports)
    diag,
    diagflat,
    diagonal,
    make_diagonal,
    nan_to_num,
    put_along_axis,
    select,
    take,
    take_along_axis,
    trace,
    tril,
    triu,
)
from jitgrad.numpy._poly import (  # noqa: E402, F401  (re-exports)
    poly,
    polyadd,
    polyder,
    polydiv,
    polyfit,
    polyint,
    polymul,
    polysub,
    polyval,
    roots,
    vander,
)
from jitgrad.numpy._setops import (  # noqa: E402, F401  (re-exports)
    argwhere,
    compress,
    extract,
    flatnonzero,
    intersect1d,
    nonzero,
    setdiff1d,
    setxor1d,
    trim_zeros,
    union1d,
    unique,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
)
from jitgrad.numpy._shape import (  # noqa: E402, F401  (re-exports)
    append,
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    column_stack,
    dsplit,
    dstack,
    flip,
    fliplr,
    flipud,
    hsplit,
    hstack,
    meshgrid,
    pad,
    repeat,
    roll,
    rollaxis,
    rot90,
    row_stack,
    split,
    tile,
    vsplit,
    vstack,
)
from jitgrad.numpy._signal import (  # noqa: E402, F401  (re-exports)
    bartlett,
    blackman,
    convolve,
    corrcoef,
    correlate,
    cov,
    digitize,
    hamming,
    hanning,
    interp,
    kaiser,
    searchsorted,
    trapezoid,
    unwrap,
)
from jitgrad.numpy._sorting import (  # noqa: E402, F401  (re-exports)
    argpartition,
    argsort,
    cumprod,
    lexsort,
    median,
    nanmedian,
    nanpercentile,
    nanquantile,
    partition,
    percentile,
    quantile,
    sort,
)

# ---------------------------------------------------------------------------------------------
# Array methods and operators on traced values


def _swap(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda self, other: fn(other, self)


def _method_sum(self: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    return sum(self, axis=axis, dtype=dtype, keepdims=keepdims)


_UFUNCS = {
    "add": add, "subtract": subtract, "multiply": multiply, "true_divide": divide, "divide": divide,
    "power": power, "negative": negative, "exp": exp, "log": log, "sin": sin, "cos": cos,
    "tan": tan, "tanh": tanh, "sqrt": sqrt, "absolute": abs, "sign": sign, "log1p": log1p,
    "expm1": expm1, "maximum": maximum, "minimum": minimum, "less": less, "less_equal": less_equal,
    "greater": greater, "greater_equal": greater_equal, "equal": equal, "not_equal": not_equal,
    "square": square, "reciprocal": reciprocal, "matmul": matmul, "logical_and": logical_and,
    "logical_or": logical_or, "logical_not": logical_not, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "invert": invert, "log2": log2,
    "left_shift": left_shift, "right_shift": right_shift, "bitwise_count": bitwise_count,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "log10": log10, "exp2": exp2, "sinh": sinh, "cosh": cosh, "arcsin": arcsin, "arccos": arccos,
    "arctan": arctan, "arcsinh": arcsinh, "arccosh": arccosh, "arctanh": arctanh, "floor": floor,
    "ceil": ceil, "rint": rint, "arctan2": arctan2, "remainder": remainder,
    "floor_divide": floor_divide, "fmod": fmod, "divmod": divmod,
}


def _array_ufunc(self: Any, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    fn = _UFUNCS.get(ufunc.__name__)
    if method == "at":  # numpy's in-place update would be lost silently on a traced array
        raise UnsupportedError(
            f"numpy.{ufunc.__name__}.at updates its argument in place, which a traced array "
            f"cannot be: use x.at[indices] (x.at[i].add(v)) or jnp.{ufunc.__name__}.at(x, i, v, "
            f"inplace=False), which return the updated array")
    if method == "accumulate" and hasattr(fn, "accumulate"):
        return fn.accumulate(*inputs, **kwargs)
    if method != "__call__" or fn is None or kwargs:
        raise UnsupportedError(
            f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} is not "
            f"supported on traced arrays (jitgrad.numpy has no equivalent for this call); use "
            f"jitgrad.numpy functions inside transformed functions")
    return fn(*inputs)


def _array_function(self: Any, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    # numpy.linalg.X -> jitgrad.numpy.linalg.X, numpy.sum -> jitgrad.numpy.sum
    in_linalg = (getattr(func, "__module__", "") or "").endswith("linalg")
    name = func.__name__
    fn = getattr(linalg, name, None) if in_linalg else globals().get(name)
    if fn is func:  # re-exported from numpy: calling it again would come straight back here
        raise UnsupportedError(
            f"numpy.{name} works on concrete arrays only (jitgrad.numpy re-exports numpy's "
            f"own); it was called on a traced array. Call it outside the transformed function.")
    if fn is None or not callable(fn) or name.startswith("_"):
        raise UnsupportedError(
            f"numpy.{'linalg.' if in_linalg else ''}{name} is not supported by jitgrad.numpy; "
            f"it was called on a traced array. See the README for the supported functions.")
    return fn(*args, **kwargs)


def _install_tracer_methods() -> None:
    methods: dict[str, Any] = {
        "__add__": add, "__radd__": _swap(add), "__sub__": subtract,
        "__rsub__": _swap(subtract), "__mul__": multiply, "__rmul__": _swap(multiply),
        "__truediv__": divide, "__rtruediv__": _swap(divide), "__pow__": power,
        "__rpow__": _swap(power), "__matmul__": matmul, "__rmatmul__": _swap(matmul),
        "__floordiv__": floor_divide, "__rfloordiv__": _swap(floor_divide),
        "__mod__": remainder, "__rmod__": _swap(remainder), "__divmod__": divmod,
        "__rdivmod__": _swap(divmod),
        "__neg__": negative, "__pos__": lambda self: self, "__abs__": abs,
        "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
        "__eq__": equal, "__ne__": not_equal, "__and__": bitwise_and,
        "__rand__": _swap(bitwise_and), "__or__": bitwise_or, "__ror__": _swap(bitwise_or),
        "__xor__": bitwise_xor, "__rxor__": _swap(bitwise_xor), "__invert__": invert,
        "__lshift__": left_shift, "__rlshift__": _swap(left_shift), "__rshift__": right_shift,
        "__rrshift__": _swap(right_shift),
        "__getitem__": getitem,
        "__array_ufunc__": _array_ufunc, "__array_function__": _array_function,
        "reshape": lambda self, *shape, order="C": reshape(
            self, shape[0] if len(shape) == 1 else shape, order),
        "sum": _method_sum, "mean": mean, "max": max, "min": min, "prod": prod, "var": var,
        "std": std, "astype": astype, "ravel": ravel, "flatten": ravel, "squeeze": squeeze,
        "swapaxes": swapaxes, "argmax": argmax, "argmin": argmin, "clip": clip, "dot": dot,
        "round": round, "repeat": repeat, "take": take, "diagonal": diagonal, "trace": trace,
        "transpose": lambda self, *axes: transpose(
            self, None if not axes else axes[0] if len(axes) == 1 and not isinstance(
                axes[0], int) else axes),
        "T": property(lambda self: transpose(self)),
        "mT": property(lambda self: swapaxes(self, -1, -2)),
        # JAX's array methods: .sort returns the sorted array (numpy's sorts in place)
        "at": property(at), "sort": sort, "argsort": argsort, "cumsum": cumsum,
        "cumprod": cumprod, "searchsorted": searchsorted,
        "nonzero": lambda self, *, size=None, fill_value=None: nonzero(
            self, size=size, fill_value=fill_value),
        "compress": lambda self, condition, axis=None, **kw: compress(condition, self, axis,
                                                                      **kw),
    }
    for name, fn in methods.items():
        setattr(_Tracer, name, fn)


def _install_ufunc_methods() -> None:
    """JAX's ufunc methods on jnp's ufuncs: ``.at`` (an updated copy) and ``.accumulate``."""
    for fn, method in ((add, "add"), (subtract, "subtract"), (multiply, "multiply"),
                       (divide, "divide"), (power, "power"), (minimum, "min"),
                       (maximum, "max")):
        fn.at = _at.ufunc_at(method)
    for fn, prim_fn in ((add, P.cumsum), (multiply, P.cumprod), (maximum, P.cummax),
                        (minimum, P.cummin)):
        fn.accumulate = _sorting.accumulate(fn.__name__, prim_fn)


_install_tracer_methods()
_install_ufunc_methods()


# numpy's helpers for concrete values, which programs call around their computations (error
# handling, printing, files, index and shape arithmetic, concrete creation): numpy's own, so
# that `import jitgrad.numpy as np` replaces `import numpy as np` (or autograd.numpy).
from numpy import (  # noqa: E402, F401  (re-exports)
    array2string,
    array_repr,
    array_str,
    broadcast_shapes,
    diag_indices,
    errstate,
    frombuffer,
    fromfile,
    fromfunction,
    fromiter,
    frompyfunc,
    fromstring,
    genfromtxt,
    geomspace,
    get_printoptions,
    geterr,
    geterrcall,
    histogram,
    histogram2d,
    histogram_bin_edges,
    histogramdd,
    index_exp,
    indices,
    ix_,
    load,
    loadtxt,
    logspace,
    mask_indices,
    mgrid,
    ndenumerate,
    ndindex,
    ogrid,
    packbits,
    printoptions,
    ravel_multi_index,
    s_,
    save,
    savetxt,
    savez,
    savez_compressed,
    set_printoptions,
    seterr,
    seterrcall,
    testing,
    tri,
    tril_indices,
    tril_indices_from,
    triu_indices,
    triu_indices_from,
    unpackbits,
    unravel_index,
)

from jitgrad.numpy import _examples, linalg, random  # noqa: E402, F401  (they use the above)
from jitgrad.numpy._index_tricks import c_, r_  # noqa: E402, F401  (re-exports)
from jitgrad.numpy._nanfunctions import (  # noqa: E402, F401  (re-exports)
    nanargmax,
    nanargmin,
    nancumprod,
    nancumsum,
    nanmax,
    nanmean,
    nanmin,
    nanprod,
    nanstd,
    nansum,
    nanvar,
)
from jitgrad.numpy._statistics import (  # noqa: E402, F401  (re-exports)
    average,
    bincount,
    count_nonzero,
    ediff1d,
    ptp,
)
from jitgrad.numpy._ufuncs import (  # noqa: E402, F401  (re-exports)
    UFUNCS as _MORE_UFUNCS,
)
from jitgrad.numpy._ufuncs import (  # noqa: E402, F401  (re-exports)
    all,
    allclose,
    angle,
    any,
    array_equal,
    array_equiv,
    cbrt,
    conj,
    conjugate,
    copysign,
    deg2rad,
    degrees,
    fabs,
    fix,
    float_power,
    fmax,
    fmin,
    frexp,
    gcd,
    heaviside,
    hypot,
    i0,
    imag,
    isclose,
    iscomplex,
    iscomplexobj,
    isreal,
    isrealobj,
    lcm,
    ldexp,
    logaddexp,
    logaddexp2,
    logical_xor,
    modf,
    nextafter,
    positive,
    rad2deg,
    radians,
    real,
    real_if_close,
    signbit,
    sinc,
    spacing,
    trunc,
)

_UFUNCS.update(_MORE_UFUNCS)
from jitgrad.numpy import _array_api  # noqa: E402  (it uses the above)
from jitgrad.numpy._array_api import (  # noqa: E402, F401  (re-exports)
    concat,
    cumulative_prod,
    cumulative_sum,
    empty_like,
    isneginf,
    isposinf,
    matrix_transpose,
    matvec,
    permute_dims,
    unstack,
    vecdot,
    vecmat,
)

_UFUNCS.update(matvec=matvec, vecdot=vecdot, vecmat=vecmat)  # (gufuncs in NumPy 2)

# NumPy 2's array-API names of ufuncs (numpy's own are the same objects: np.acos is np.arccos).
acos, acosh, asin, asinh, atan, atanh = arccos, arccosh, arcsin, arcsinh, arctan, arctanh
atan2, pow = arctan2, power  # noqa: A001
_examples.attach(globals())

dtype = np.dtype  # numpy's dtype constructor, re-exported (bound last: parameters use the name)
copy = _array_api.copy  # (bound last too)


def __getattr__(name: str) -> Any:
    if name == "bool":  # numpy's bool type, not a global here: the module uses Python's bool
        return _SCALAR_TYPES[np.bool_]
    if hasattr(np, name):
        raise AttributeError(
            f"jitgrad.numpy does not provide numpy.{name} (yet). Compute it with the supported "
            f"functions, or outside the transformed function on concrete arrays.")
    raise AttributeError(f"module 'jitgrad.numpy' has no attribute {name!r}")
