"""Elementwise primitives: each declared once with its derivative, numpy reference and kernel.

A derivative rule ``d(g, out, *args)`` maps an incoming tangent/cotangent ``g`` to the
contribution through one argument. Elementwise Jacobians are diagonal, so the same rule serves
forward mode (``t_out = sum_i d_i(t_i, ...)``) and reverse mode (``ct_i = d_i(ct, ...)``): it
is the seed's table (d(A+B)/dA = 1, d(A*B)/dA = B, d(A/B)/dB = -A/B^2, dF(A)/dA = F'(A))
written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import (
    REGISTRY,
    Elementwise,
    Eqn,
    Primitive,
    RuleFactory,
    ShapedArray,
    Tracer,
    Zero,
    is_float,
    is_python_scalar,
    register,
)
from jitgrad.core import aval_of as _aval
from jitgrad.errors import ShapeError
from jitgrad.prims.structural import batch_size, broadcast_in_dim, move_front
from jitgrad.prims.testcases import elementwise_cases

DerivRule = Callable[..., Any]


def coerce(args: Sequence[Any]) -> Sequence[Any]:
    """Give Python scalars the dtype of the array arguments (rules write ``sub(1, out)``). A
    scalar whose own dtype already is that dtype stays a Python scalar: staged, it becomes a
    weakly typed literal, as it would be outside the IR."""
    ref = None
    scalars = False
    for a in args:
        if type(a) is np.ndarray or isinstance(a, Tracer):
            if ref is None:
                ref = a
        elif is_python_scalar(a):
            scalars = True
        elif ref is None:
            ref = a
    if not scalars:
        return args
    if ref is None:  # Python scalars only: their common type (3.0 and 0 are both float64)
        dtype = np.result_type(*args)
    else:
        dtype = ref.dtype if isinstance(ref, (Tracer, np.ndarray)) else np.asarray(ref).dtype
    return [dtype.type(a) if is_python_scalar(a) and _scalar_dtype(a) != dtype else a
            for a in args]


_PY_DTYPES = {bool: np.dtype(np.bool_), int: np.dtype(np.int64), float: np.dtype(np.float64)}


def _scalar_dtype(a: Any) -> np.dtype:
    """numpy's default dtype for a Python scalar (as ``aval_of``)."""
    dtype = _PY_DTYPES.get(type(a))
    return _aval(a).dtype if dtype is None else dtype


def elementwise_rule(name: str, float_only: bool = False, out_dtype: Any = None,
                     n_pred: int = 0, allow_bool: bool = True) -> Callable[..., ShapedArray]:
    """Shape rule: equal shapes, except that rank-0 operands broadcast; equal dtypes.
    The first ``n_pred`` operands are boolean predicates (``select``). The result is weakly
    typed when every value operand is (``lr * 2.0`` of Python-scalar origin stays weak)."""

    def rule(*avals: ShapedArray) -> ShapedArray:
        shapes = {a.shape for a in avals if a.shape != ()}
        if len(shapes) > 1:
            raise ShapeError(f"{name}: operands must have equal shapes, got "
                             f"{' and '.join(str(a.shape) for a in avals)}")
        shape = shapes.pop() if shapes else ()
        for a in avals[:n_pred]:
            if a.dtype != np.bool_:
                raise ShapeError(f"{name}: predicate must be bool, got {a}")
        dtypes = {a.dtype for a in avals[n_pred:]}
        if len(dtypes) > 1:
            raise ShapeError(f"{name}: operands must have equal dtypes, got "
                             f"{' and '.join(str(a) for a in avals)}")
        dtype = dtypes.pop()
        if float_only and not is_float(dtype):
            raise ShapeError(f"{name}: needs floating-point operands, got {dtype.name}")
        if not allow_bool and dtype == np.bool_:
            raise ShapeError(f"{name}: needs numeric operands, got bool (numpy computes it "
                             f"in int8)")
        if out_dtype is not None:
            return ShapedArray(shape, out_dtype)
        return ShapedArray(shape, dtype, weak=all(a.weak for a in avals[n_pred:]))

    return rule


@RuleFactory
def elementwise_batch(prim: Primitive) -> Callable[..., tuple[Any, int]]:
    """vmap rule shared by elementwise primitives: batch axes go first; a batched per-example
    scalar is broadcast to the per-example shape, an unbatched array along the batch."""

    def rule(args: list[Any], dims: list[int | None], /, **params: Any) -> tuple[Any, int]:
        size = batch_size(args, dims)
        shapes = [_aval(a).shape[:d] + _aval(a).shape[d + 1:] if d is not None else _aval(a).shape
                  for a, d in zip(args, dims, strict=True)]
        full = max(shapes, key=len)
        new = []
        for a, d, s in zip(args, dims, shapes, strict=True):
            if d is not None:
                a = move_front(a, d)
                if s != full:
                    a = broadcast_in_dim(a, (size,) + full, (0,))
            elif s != ():
                a = broadcast_in_dim(a, (size,) + full, tuple(range(1, len(full) + 1)))
            new.append(a)
        return prim.bind(*new, **params), 0

    return rule


def _match_shape(ct: Any, x: Any, out: Any) -> Any:
    """A rank-0 operand ``x`` broadcast by the primitive itself receives the sum of the
    cotangent of ``out``."""
    shape = out.shape if isinstance(out, (np.ndarray, Tracer)) else _aval(out).shape
    if (x.shape if isinstance(x, (np.ndarray, Tracer)) else _aval(x).shape) == shape:
        return ct
    # Looked up at call time: reductions are declared after (and in terms of) elementwise ops.
    return REGISTRY["reduce_sum"].bind(ct, axes=tuple(range(len(shape))))


Domain = tuple[float, float]


def is_const(val: Any, k: float) -> bool:
    """For ``simplify`` identities: whether a constant operand value (None: not constant) is
    exactly ``k`` (a +0 for ``k == 0``: ``x + -0.0`` is not always ``x``)."""
    return val is not None and not isinstance(val, np.bool_) and val == k and \
        not (k == 0 and np.signbit(val))


def same_aval(eqn: Eqn) -> Any:
    """For ``simplify``: the operand itself when the equation leaves its aval unchanged (a
    conversion to its own dtype, a reshape to its own shape, an identity transpose)."""
    x, out = eqn.inputs[0], eqn.outputs[0]
    return x if x.aval == out.aval else None


def defelementwise(name: str, impl: Callable[..., Any], derivs: Sequence[DerivRule | None],
                   kernel: str | Callable[..., str], domain: Sequence[Domain] | Domain = (-2, 2),
                   float_only: bool = True, vmath: str | None = None,
                   inexact: bool = False, cheap: bool = False,
                   simplify: Callable[..., Any] | None = None,
                   special_values: Sequence[float] = (), allow_bool: bool = True,
                   linear: bool = False) -> Primitive:
    """Declare a differentiable elementwise primitive; ``None`` in ``derivs`` means the operand's
    derivative is identically zero. ``kernel``, ``vmath``, ``inexact`` and ``cheap`` make its
    ``Elementwise`` lowering (most such primitives are transcendental: not cheap unless
    declared so); ``simplify`` states its identities, ``special_values`` its domain edges;
    ``linear``: the primitive is linear (its derivatives read only the cotangent)."""
    nargs = len(derivs)
    domains = [domain] * nargs if isinstance(domain[0], int | float) else list(domain)

    def jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
        out = prim.bind(*primals)
        t_out = None
        for d, t in zip(derivs, tangents, strict=True):
            if d is None or isinstance(t, Zero):
                continue
            term = _match_to(d(t, out, *primals), out)
            t_out = term if t_out is None else add(t_out, term)
        return out, Zero(_aval(out)) if t_out is None else t_out

    def vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, wrt: Sequence[Any]
            ) -> list[Any]:
        (ct,), (out,) = cts, outs
        if nargs == 1:  # (the output has the operand's shape; the operand needs its cotangent)
            return [None if derivs[0] is None else derivs[0](ct, out, *ins)]
        return [None if d is None or not w else _match_shape(d(ct, out, *ins), x, out)
                for d, x, w in zip(derivs, ins, wrt, strict=True)]

    prim = register(Primitive(
        name, elementwise_rule(name, float_only=float_only, allow_bool=allow_bool), impl,
        Elementwise(kernel, vmath=vmath, inexact=inexact, cheap=cheap), jvp=jvp, vjp=vjp,
        vjp_wrt=True,
        batch=elementwise_batch, test_cases=elementwise_cases(domains), simplify=simplify,
        special_values=tuple(special_values), linear=linear))
    return prim


def _match_to(term: Any, out: Any) -> Any:
    """A tangent of a rank-0 operand contributes to every element of the output."""
    shape = _aval(out).shape
    if _aval(term).shape == shape:
        return term
    return broadcast_in_dim(term, shape=shape, dims=())


def defnondiff(name: str, impl: Callable[..., Any], kernel: str, nargs: int,
               out_dtype: Any = np.bool_, kinds: str = "float",
               domain: tuple[float, float] = (-2, 2)) -> Primitive:
    """Declare a cheap elementwise primitive with zero derivative (comparisons, logic)."""
    return register(Primitive(
        name, elementwise_rule(name, out_dtype=out_dtype), impl, Elementwise(kernel),
        differentiable=False, batch=elementwise_batch,
        test_cases=elementwise_cases([domain] * nargs, kinds=kinds)))


def _bind(prim: Primitive) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        return prim.bind(*coerce(args)) if len(args) > 1 else prim.bind(*args)
    wrapper.__name__ = prim.name
    wrapper.__doc__ = f"Bind the ``{prim.name}`` primitive (operands of equal shape and dtype)."
    wrapper.primitive = prim  # type: ignore[attr-defined]
    return wrapper


# --- kernel templates that need more than a format string (see ``Elementwise``) -------------


def _sign_kernel(ops: list[str], dt: str) -> str:
    x = ops[0]
    # numpy.sign: 1, -1, +0 for either zero, NaN for NaN.
    return f"{dt}(1) if {x} > 0 else ({dt}(-1) if {x} < 0 else ({x} if {x} != {x} else {dt}(0)))"


def _ipow_kernel(ops: list[str], dt: str, *, y: int) -> str:
    if y == 0:
        return f"{dt}(1)"
    prod = " * ".join([ops[0]] * abs(y)) if abs(y) <= 4 else f"{ops[0]} ** {abs(y)}"
    return f"({prod})" if y > 0 else f"{dt}(1) / ({prod})"


def _convert_kernel(ops: list[str], dt: str, *, new_dtype: np.dtype) -> str:
    return f"{ops[0]} != 0" if new_dtype == np.bool_ else f"{dt}({ops[0]})"


# --- numpy references that need care --------------------------------------------------------


def _logistic(x: Any) -> Any:
    # Stable for both signs: never exponentiates a large positive number.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x))[()]


def _pow(x: Any, y: Any) -> Any:
    return np.power(x, y)


def _max(x: Any, y: Any) -> Any:
    return np.maximum(x, y)


def _min(x: Any, y: Any) -> Any:
    return np.minimum(x, y)


# --- unary: d(g, out, x) = g * F'(x) --------------------------------------------------------

neg_p = defelementwise("neg", np.negative, [lambda g, out, x: neg(g)], "-{0}",
                       float_only=False, cheap=True, linear=True)
exp_p = defelementwise("exp", np.exp, [lambda g, out, x: mul(g, out)], "math.exp({0})",
                       vmath="exp", inexact=True,
                       special_values=(709.78, 88.72, -87.33, -103.97, -745.2))
log_p = defelementwise("log", np.log, [lambda g, out, x: div(g, x)], "math.log({0})",
                       vmath="log", inexact=True, domain=(0.2, 3.0),
                       special_values=(1e-300, 1.0 - 2.0 ** -53, 1.0 + 2.0 ** -52))
sin_p = defelementwise("sin", np.sin, [lambda g, out, x: mul(g, cos(x))], "math.sin({0})",
                       vmath="sin", inexact=True, special_values=(np.pi, 1e22, 1e-300))
cos_p = defelementwise("cos", np.cos, [lambda g, out, x: neg(mul(g, sin(x)))],
                       "math.cos({0})", vmath="cos", inexact=True,
                       special_values=(np.pi / 2, 1e22))
tan_p = defelementwise("tan", np.tan, [lambda g, out, x: mul(g, add(1, mul(out, out)))],
                       "math.tan({0})", vmath="tan", inexact=True, domain=(-1.2, 1.2),
                       special_values=(np.pi / 2, -np.pi / 2, 1e22))
tanh_p = defelementwise("tanh", np.tanh, [lambda g, out, x: mul(g, sub(1, mul(out, out)))],
                        "math.tanh({0})", vmath="tanh", inexact=True,
                        special_values=(20.0, -20.0, 1e-300))
sqrt_p = defelementwise("sqrt", np.sqrt, [lambda g, out, x: div(g, mul(2, out))],
                        "math.sqrt({0})", domain=(0.2, 3.0),
                        special_values=(1e-310, 4.0))
# NB: d|x|/dx = sign(x) is 0 at 0 (as autograd and PyTorch; JAX gives 1).
abs_p = defelementwise("abs", np.abs, [lambda g, out, x: mul(g, sign(x))], "abs({0})",
                       domain=(0.1, 2.0), float_only=False, cheap=True)
sign_p = defelementwise("sign", np.sign, [None],
                        _sign_kernel, float_only=False, cheap=True)
log1p_p = defelementwise("log1p", np.log1p, [lambda g, out, x: div(g, add(1, x))],
                         "math.log1p({0})", vmath="log1p", inexact=True,
                         domain=(-0.5, 2.0), special_values=(-1.0 + 2.0 ** -53, 1e-300))
expm1_p = defelementwise("expm1", np.expm1, [lambda g, out, x: mul(g, add(out, 1))],
                         "math.expm1({0})", vmath="expm1", inexact=True,
                         special_values=(709.78, 88.72, -40.0, 1e-300))
logistic_p = defelementwise(
    "logistic", _logistic, [lambda g, out, x: mul(g, mul(out, sub(1, out)))],
    "logistic_{sfx}({0})", domain=(-4, 4), vmath="logistic", inexact=True,
    special_values=(40.0, -40.0, 750.0, -750.0))


def _one_minus_sq(x: Any) -> Any:
    return sub(1, mul(x, x))


asin_p = defelementwise("asin", np.arcsin, [lambda g, out, x: div(g, sqrt(_one_minus_sq(x)))],
                        "math.asin({0})", inexact=True, domain=(-0.8, 0.8),
                        special_values=(1.0 + 2.0 ** -52, -(1.0 + 2.0 ** -52)))
acos_p = defelementwise("acos", np.arccos,
                        [lambda g, out, x: neg(div(g, sqrt(_one_minus_sq(x))))],
                        "math.acos({0})", inexact=True, domain=(-0.8, 0.8),
                        special_values=(1.0 + 2.0 ** -52, -(1.0 + 2.0 ** -52)))
atan_p = defelementwise("atan", np.arctan, [lambda g, out, x: div(g, add(1, mul(x, x)))],
                        "math.atan({0})", inexact=True)
asinh_p = defelementwise("asinh", np.arcsinh,
                         [lambda g, out, x: div(g, sqrt(add(mul(x, x), 1)))], "math.asinh({0})",
                         inexact=True)
acosh_p = defelementwise("acosh", np.arccosh,
                         [lambda g, out, x: div(g, sqrt(sub(mul(x, x), 1)))], "math.acosh({0})",
                         inexact=True, domain=(1.2, 3.0), special_values=(1.0 - 2.0 ** -53,))
atanh_p = defelementwise("atanh", np.arctanh, [lambda g, out, x: div(g, _one_minus_sq(x))],
                         "math.atanh({0})", inexact=True,
                         domain=(-0.8, 0.8), special_values=(1.0 + 2.0 ** -52, 1.0 - 2.0 ** -53))
# d cbrt(x) = 1 / (3 cbrt(x)^2): infinite at 0, as the function's slope. libm's cbrt (numpy's
# and Numba's) is odd exactly: cbrt(-8) is -2.
cbrt_p = defelementwise("cbrt", np.cbrt, [lambda g, out, x: div(g, mul(3, mul(out, out)))],
                        "np.cbrt({0})", domain=(0.2, 3.0), special_values=(1e-310, 8.0))
# Piecewise constant: zero derivative (as in JAX), values as numpy's.
_HALVES = (0.5, -0.5, 1.5, 2.5, -2.5, 2.0 ** 52 + 1, 0.49999999999999994)
floor_p = defelementwise("floor", np.floor, [None], "{dt}(np.floor({0}))",
                         special_values=_HALVES)
ceil_p = defelementwise("ceil", np.ceil, [None], "{dt}(np.ceil({0}))", special_values=_HALVES)
round_p = defelementwise("round", np.rint, [None], "{dt}(np.rint({0}))",  # half to even
                         special_values=_HALVES)

# --- binary: d(g, out, x, y) ----------------------------------------------------------------

add_p = defelementwise("add", np.add, [lambda g, out, x, y: g, lambda g, out, x, y: g],
                       "{0} + {1}", float_only=False, cheap=True, linear=True,
                       simplify=lambda e, c: e.inputs[1] if is_const(c[0], 0) else
                       e.inputs[0] if is_const(c[1], 0) else None)
sub_p = defelementwise("sub", np.subtract, [lambda g, out, x, y: g,
                                            lambda g, out, x, y: neg(g)],
                       "{0} - {1}", float_only=False, cheap=True, linear=True,
                       simplify=lambda e, c: e.inputs[0] if is_const(c[1], 0) else None)
mul_p = defelementwise("mul", np.multiply, [lambda g, out, x, y: mul(g, y),
                                            lambda g, out, x, y: mul(g, x)],
                       "{0} * {1}", float_only=False, cheap=True,
                       simplify=lambda e, c: e.inputs[1] if is_const(c[0], 1) else
                       e.inputs[0] if is_const(c[1], 1) else None)
div_p = defelementwise("div", np.divide, [lambda g, out, x, y: div(g, y),
                                          lambda g, out, x, y: neg(div(mul(g, x), mul(y, y)))],
                       "{0} / {1}", domain=[(-2, 2), (0.5, 2.0)],
                       simplify=lambda e, c: e.inputs[0] if is_const(c[1], 1) else None)


def _dpow_dx(g: Any, out: Any, x: Any, y: Any) -> Any:
    # y * x**(y-1), defined as 0 where y == 0 (NB: so 0**0.0 has derivative 0; JAX: nan).
    # The branch not taken must stay finite where y == 0, or its derivatives (0 * inf from
    # x**-1 at x = 0) would make higher derivatives nan: there it computes x**0.
    zero = eq(y, 0)
    return mul(g, select(zero, 0, mul(y, pow(x, sub(select(zero, 1, y), 1)))))


def _dpow_dy(g: Any, out: Any, x: Any, y: Any) -> Any:
    # log(x) * x**y, defined as 0 where x == 0 (d/dy 0**y = 0 for y > 0).
    return mul(g, mul(select(eq(x, 0), 0, log(select(eq(x, 0), 1, x))), out))


pow_p = defelementwise("pow", _pow, [_dpow_dx, _dpow_dy], "{0} ** {1}",
                       domain=[(0.5, 2.0), (-2, 2)], vmath="pow", inexact=True)


_LDEXP_RANGE = 2200  # beyond it every ldexp is 0 or inf (or x itself for 0, inf, NaN)


def _ldexp_impl(x: Any, n: Any) -> Any:
    n = np.where(np.isnan(n), 0, np.clip(n, -_LDEXP_RANGE, _LDEXP_RANGE)).astype(np.int32)
    return np.ldexp(x, n).astype(np.result_type(x))[()]


def _ldexp_kernel(ops: list[str], dt: str) -> str:
    x, n = ops
    clipped = f"min(max({n}, {dt}(-{_LDEXP_RANGE})), {dt}({_LDEXP_RANGE}))"
    return f"{dt}(math.ldexp({x}, int(select({n} == {n}, {clipped}, {dt}(0)))))"


# numpy.ldexp(x, n) = x * 2**n rounded once (libm's ldexp; Numba's math.ldexp). The exponent
# arrives as a float of x's dtype (jnp.ldexp takes integers only): truncated, clipped to
# +-2200 (the same results) and, for a NaN, 0, so that every operand has a defined result.
# Linear in x; piecewise constant in n.
ldexp_p = defelementwise("ldexp", _ldexp_impl, [lambda g, out, x, n: ldexp(g, n), None],
                         _ldexp_kernel, domain=[(-2, 2), (-3, 3)])


atan2_p = defelementwise(
    "atan2", np.arctan2,
    [lambda g, out, y, x: div(mul(g, x), add(mul(x, x), mul(y, y))),
     lambda g, out, y, x: neg(div(mul(g, y), add(mul(x, x), mul(y, y))))],
    "math.atan2({0}, {1})", inexact=True, domain=[(-2, 2), (0.5, 2.0)])


# --- integer and floating-point division: numpy's results exactly ---------------------------
# Numba's float // and % follow CPython's float_divmod, which is numpy's npy_divmod (fmod, then
# the quotient snapped to an integer; signed zeros; x / 0 for a zero divisor), and its integer
# // and % with error_model="numpy" give 0 for a zero divisor, as numpy. Two exceptions are
# patched below: int64.min // -1 (numpy wraps to int64.min, Numba gives 0) and np.fmod on
# signed integers (Numba computes an unsigned remainder).


def _floor_divide_kernel(ops: list[str], dt: str) -> str:
    x, y = ops
    if dt.startswith("np.int"):  # x // -1 is -x, which wraps for the most negative value
        return f"{dt}(-{x} if {y} == -1 else {x} // {y})"
    return f"{dt}({x} // {y})"


def _fmod_kernel(ops: list[str], dt: str) -> str:
    x, y = ops
    if dt.startswith("np.int"):  # C's truncated remainder from Python's floored one
        r = f"({x} % {y})"
        return f"{dt}({r} - {y} if {r} != 0 and ({x} < 0) != ({y} < 0) else {r})"
    if dt.startswith("np.uint"):
        return f"{dt}({x} % {y})"
    return f"np.fmod({x}, {y})"


def _trunc(x: Any) -> Any:
    return select(lt(x, 0), ceil(x), floor(x))


# Piecewise constant in both operands: zero derivative (as JAX). The domain keeps x/y in
# (0, 1), away from the jumps, for the finite-difference checks.
floor_divide_p = defelementwise(
    "floor_divide", np.floor_divide, [None, None], _floor_divide_kernel,
    domain=[(0.1, 0.9), (1.1, 1.3)], float_only=False, allow_bool=False)
# numpy.remainder: the result takes the divisor's sign (Python's %).
mod_p = defelementwise(
    "mod", np.remainder,
    [lambda g, out, x, y: g, lambda g, out, x, y: neg(mul(g, floor_divide(x, y)))],
    "{dt}({0} % {1})", domain=[(0.1, 3.0), (0.7, 1.3)], float_only=False, allow_bool=False)
# numpy.fmod (C's fmod): the result takes the dividend's sign.
fmod_p = defelementwise(
    "fmod", np.fmod,
    [lambda g, out, x, y: g, lambda g, out, x, y: neg(mul(g, _trunc(div(x, y))))],
    _fmod_kernel, domain=[(-3.0, 3.0), (0.7, 1.3)], float_only=False, allow_bool=False)


def _dmax(first: bool, cmp: Callable[[Any, Any], Any]) -> DerivRule:
    # The larger (smaller) operand receives g; on ties each operand receives g/2, as JAX does.
    def d(g: Any, out: Any, x: Any, y: Any) -> Any:
        a, b = (x, y) if first else (y, x)
        share = add(convert_element_type(cmp(a, b), _aval(g).dtype),
                    mul(0.5, convert_element_type(eq(a, b), _aval(g).dtype)))
        return mul(g, share)
    return d


max_p = defelementwise("max", _max, [_dmax(True, lambda a, b: gt(a, b)),
                                     _dmax(False, lambda a, b: gt(a, b))],
                       "max_nan({0}, {1})", float_only=False, cheap=True)
min_p = defelementwise("min", _min, [_dmax(True, lambda a, b: lt(a, b)),
                                     _dmax(False, lambda a, b: lt(a, b))],
                       "min_nan({0}, {1})", float_only=False, cheap=True)


def _integer_pow_rule(x: ShapedArray, *, y: int) -> ShapedArray:
    return elementwise_rule("integer_pow")(x)


def _integer_pow_deriv(g: Any, out: Any, x: Any, *, y: int) -> Any:
    if y == 0:
        return mul(g, 0)
    if y == 1:
        return g
    return mul(g, mul(y, integer_pow(x, y=y - 1)))


def _ipow_jvp(primals: list[Any], tangents: list[Any], *, y: int) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return integer_pow(x, y=y), _integer_pow_deriv(t, None, x, y=y)


def _ipow_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, y: int) -> list[Any]:
    return [_integer_pow_deriv(cts[0], None, ins[0], y=y)]


integer_pow_p = register(Primitive(
    "integer_pow", _integer_pow_rule, lambda x, *, y: np.power(x, y).astype(np.result_type(x)),
    Elementwise(_ipow_kernel), jvp=_ipow_jvp, vjp=_ipow_vjp, batch=elementwise_batch,
    test_cases=elementwise_cases([(-2, 2)], params=[{"y": 2}, {"y": 3}, {"y": -2}, {"y": 0}])))

# --- comparisons and logic (zero derivative) ------------------------------------------------

lt_p = defnondiff("lt", np.less, "{0} < {1}", 2)
le_p = defnondiff("le", np.less_equal, "{0} <= {1}", 2)
gt_p = defnondiff("gt", np.greater, "{0} > {1}", 2)
ge_p = defnondiff("ge", np.greater_equal, "{0} >= {1}", 2)
eq_p = defnondiff("eq", np.equal, "{0} == {1}", 2, kinds="int")
ne_p = defnondiff("ne", np.not_equal, "{0} != {1}", 2, kinds="int")
and_p = defnondiff("and", np.logical_and, "{0} & {1}", 2, kinds="bool")
or_p = defnondiff("or", np.logical_or, "{0} | {1}", 2, kinds="bool")
not_p = defnondiff("not", np.logical_not, "not {0}", 1, kinds="bool")



# --- bitwise operations and gcd on integers (zero derivative; booleans: the logical ones) ----


def _int_cases(nargs: int) -> Callable[..., list]:
    """Integer operands for the registry's float32/float64 runs: int8 (whose arithmetic Numba
    widens, so wrap-around is exercised) and int64."""
    base = elementwise_cases([(-2, 2)] * nargs, kinds="int")
    return lambda rng, dtype: base(rng, np.int8 if dtype == np.float32 else np.int64)


def _bits(dt: str) -> int:
    return np.dtype(dt.removeprefix("np.")).itemsize * 8


def _shift_kernel(right: bool) -> Callable[..., str]:
    # numpy's shifts: an amount outside [0, bits) gives 0 (a right shift of a negative
    # number: -1) instead of C's undefined result. The shift itself takes the amount modulo
    # the width, so that the branch not taken is defined too.
    def kernel(ops: list[str], dt: str) -> str:
        x, y = ops
        bits = _bits(dt)
        inside = f"({y} < {dt}({bits}))" if dt.startswith("np.uint") else \
            f"(({y} >= {dt}(0)) & ({y} < {dt}({bits})))"
        shifted = f"({x} {'>>' if right else '<<'} ({y} & {dt}({bits - 1})))"
        outside = f"select({x} < {dt}(0), {dt}(-1), {dt}(0))" \
            if right and dt.startswith("np.int") else f"{dt}(0)"
        return f"select({inside}, {shifted}, {outside})"
    return kernel


def _definteger(name: str, impl: Callable[..., Any], kernel: str | Callable[..., str],
                nargs: int, out_dtype: Any = None) -> Primitive:
    def rule(*avals: ShapedArray) -> ShapedArray:
        if any(a.dtype.kind not in "iu" for a in avals):
            raise ShapeError(f"{name}: needs integer operands, got "
                             f"{' and '.join(str(a) for a in avals)}")
        return elementwise_rule(name, out_dtype=out_dtype)(*avals)
    return register(Primitive(name, rule, impl, Elementwise(kernel), differentiable=False,
                              batch=elementwise_batch, test_cases=_int_cases(nargs)))


bitwise_and_p = _definteger("bitwise_and", np.bitwise_and, "{0} & {1}", 2)
bitwise_or_p = _definteger("bitwise_or", np.bitwise_or, "{0} | {1}", 2)
bitwise_xor_p = _definteger("bitwise_xor", np.bitwise_xor, "{0} ^ {1}", 2)
bitwise_not_p = _definteger("bitwise_not", np.invert, "~{0}", 1)
shift_left_p = _definteger("shift_left", np.left_shift, _shift_kernel(False), 2)
shift_right_p = _definteger("shift_right", np.right_shift, _shift_kernel(True), 2)
# numpy.bitwise_count: the 1 bits of the absolute value, as uint8.
population_count_p = _definteger("population_count", np.bitwise_count, "popcount(abs({0}))",
                                  1, out_dtype=np.uint8)
gcd_p = _definteger("gcd", np.gcd, "gcd_int({0}, {1})", 2)


# --- select ---------------------------------------------------------------------------------


def _select_impl(pred: Any, on_true: Any, on_false: Any) -> Any:
    return np.where(pred, on_true, on_false)[()]


def _select_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    pred, a, b = primals
    _, ta, tb = tangents
    out = select(pred, a, b)
    if isinstance(ta, Zero) and isinstance(tb, Zero):
        return out, Zero(_aval(out))
    ta = 0 if isinstance(ta, Zero) else _match_to(ta, out)
    tb = 0 if isinstance(tb, Zero) else _match_to(tb, out)
    return out, select(pred, ta, tb)


def _select_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, wrt: Sequence[bool]
                ) -> list[Any]:
    (ct,) = cts
    pred, a, b = ins
    out = outs[0]
    return [None, _match_shape(select(pred, ct, 0), a, out) if wrt[1] else None,
            _match_shape(select(pred, 0, ct), b, out) if wrt[2] else None]


select_p = register(Primitive(
    "select", elementwise_rule("select", n_pred=1), _select_impl,
    Elementwise("select({0}, {1}, {2})"), jvp=_select_jvp, vjp=_select_vjp, vjp_wrt=True,
    batch=elementwise_batch, test_cases=elementwise_cases([(-2, 2)] * 2, pred=True),
    simplify=lambda e, c: e.inputs[1] if e.inputs[1] is e.inputs[2] else None))


# --- stop_gradient and dtype conversion -----------------------------------------------------

stop_gradient_p = register(Primitive(
    "stop_gradient", elementwise_rule("stop_gradient"), lambda x: np.array(x, copy=True)[()],
    Elementwise("{0}"), differentiable=False, batch=elementwise_batch,
    test_cases=elementwise_cases([(-2, 2)]),
    # Simplification runs only when compiling, after every derivative has been taken: there
    # it is the identity, and must not cost a copy.
    simplify=lambda e, c: e.inputs[0]))


def _convert_rule(x: ShapedArray, *, new_dtype: np.dtype) -> ShapedArray:
    return ShapedArray(x.shape, new_dtype)


def _convert_jvp(primals: list[Any], tangents: list[Any], *, new_dtype: np.dtype
                 ) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out = convert_element_type(x, new_dtype)
    if is_float(new_dtype) and is_float(_aval(x).dtype):
        return out, convert_element_type(t, new_dtype)
    return out, Zero(_aval(out))


def _convert_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, new_dtype: np.dtype
                 ) -> list[Any]:
    dtype = _aval(ins[0]).dtype
    if is_float(dtype) and is_float(new_dtype):
        return [convert_element_type(cts[0], dtype)]
    return [None]


def _convert_cases(rng: np.random.Generator, dtype: Any) -> list:
    other = np.float32 if dtype == np.float64 else np.float64
    x = rng.uniform(-2, 2, (2, 3)).astype(dtype)
    return [((x,), {"new_dtype": np.dtype(other)}), ((x[0],), {"new_dtype": np.dtype(dtype)}),
            ((x,), {"new_dtype": np.dtype(np.int64)})]


convert_element_type_p = register(Primitive(
    "convert_element_type", _convert_rule,
    lambda x, *, new_dtype: np.asarray(x).astype(new_dtype)[()], Elementwise(_convert_kernel),
    jvp=_convert_jvp, vjp=_convert_vjp, batch=elementwise_batch, test_cases=_convert_cases,
    simplify=lambda e, c: same_aval(e)))


def convert_element_type(x: Any, new_dtype: Any) -> Any:
    """Cast ``x`` to ``new_dtype`` (a no-op when it already has it)."""
    new_dtype = np.dtype(new_dtype)
    if _aval(x).dtype == new_dtype:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


def integer_pow(x: Any, y: int) -> Any:
    """``x ** y`` for a static Python integer ``y``."""
    if y == 1:
        return x
    return integer_pow_p.bind(x, y=int(y))


asin, acos, atan, asinh, acosh, atanh, floor, ceil, round_, atan2 = map(_bind, (
    asin_p, acos_p, atan_p, asinh_p, acosh_p, atanh_p, floor_p, ceil_p, round_p, atan2_p))
cbrt, ldexp, gcd = map(_bind, (cbrt_p, ldexp_p, gcd_p))
floor_divide, mod, fmod = map(_bind, (floor_divide_p, mod_p, fmod_p))
neg, exp, log, sin, cos, tan, tanh, sqrt, abs_, sign, log1p, expm1, logistic = map(_bind, (
    neg_p, exp_p, log_p, sin_p, cos_p, tan_p, tanh_p, sqrt_p, abs_p, sign_p, log1p_p, expm1_p,
    logistic_p))
add, sub, mul, div, pow, max_, min_ = map(_bind, (add_p, sub_p, mul_p, div_p, pow_p, max_p,
                                                  min_p))
lt, le, gt, ge, eq, ne, and_, or_, not_ = map(_bind, (lt_p, le_p, gt_p, ge_p, eq_p, ne_p, and_p,
                                                      or_p, not_p))
stop_gradient = _bind(stop_gradient_p)
bitwise_and, bitwise_or, bitwise_xor, bitwise_not, shift_left, shift_right, population_count = \
    map(_bind, (bitwise_and_p, bitwise_or_p, bitwise_xor_p, bitwise_not_p, shift_left_p,
                shift_right_p, population_count_p))


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` else ``on_false`` (Python scalars take the branches' dtype)."""
    return select_p.bind(pred, *coerce([on_true, on_false]))
