"""Integer and boolean semantics of jitgrad.numpy, traced and compiled, against numpy for every
integer width: wrap-around of arithmetic done in a wider type by Numba, reduction identities of
unsigned types, rounding functions and reciprocals that keep integers integers, bitwise
operations and shifts (amounts outside the width included)."""

import warnings

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.core import eval_ir
from jitgrad.tree_util import tree_leaves

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]

# Each function takes the numpy-like module and two arrays of the dtype under test (for shifts
# the second holds amounts in and outside [0, bits) and negative ones). Integer division by a
# sum that wraps shows whether the sum wrapped before the division read it.
FUNCTIONS = {
    "add wraps": lambda m, a, b: (a + a) // 3,
    "sub wraps": lambda m, a, b: (a - a[::-1]) // 3,
    "mul wraps": lambda m, a, b: (a * a) // 3,
    "neg wraps": lambda m, a, b: (-a) // 3,
    "abs wraps": lambda m, a, b: m.abs(a) // 3,
    "power wraps": lambda m, a, b: (a ** 3) // 3,
    "floordiv by a wrapped sum": lambda m, a, b: a // (a + 8),
    "cumsum wraps": lambda m, a, b: m.cumsum(a, dtype=a.dtype) // 3,
    "sum wraps": lambda m, a, b: m.sum(a, dtype=a.dtype) // 3,
    "prod wraps": lambda m, a, b: m.prod(a[2:], dtype=a.dtype) // 3,
    "max": lambda m, a, b: m.max(a), "min": lambda m, a, b: m.min(a),
    "max axis": lambda m, a, b: m.max(a.reshape(2, 3), axis=1),
    "argmax": lambda m, a, b: m.argmax(a), "argmin": lambda m, a, b: m.argmin(a),
    "cummax": lambda m, a, b: m.maximum.accumulate(a),
    "cummin": lambda m, a, b: m.minimum.accumulate(a),
    "floor": lambda m, a, b: m.floor(a), "ceil": lambda m, a, b: m.ceil(a),
    "trunc": lambda m, a, b: m.trunc(a), "fix": lambda m, a, b: m.fix(a),
    "round": lambda m, a, b: m.round(a), "reciprocal": lambda m, a, b: m.reciprocal(a),
    "and": lambda m, a, b: a & b, "or": lambda m, a, b: m.bitwise_or(a, b),
    "xor": lambda m, a, b: a ^ b, "invert": lambda m, a, b: ~a,
    "bitwise_invert": lambda m, a, b: m.bitwise_invert(a),
    "and python int": lambda m, a, b: 6 & a,
    "left_shift": lambda m, a, b: m.left_shift(a, b),
    "right_shift": lambda m, a, b: m.bitwise_right_shift(a, b),
    "<< 1": lambda m, a, b: a << 1, ">> 1": lambda m, a, b: a >> 1,
    "1 <<": lambda m, a, b: 1 << (b & 7), "bitwise_count": lambda m, a, b: m.bitwise_count(a),
}


def _operands(dtype):
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max - 1, 3, 0, 7], dtype)
    if info.min < 0:
        a[4] = -3
        b = np.array([0, 1, info.bits - 1, info.bits, -1, 2], dtype)
    else:
        b = np.array([0, 1, info.bits - 1, info.bits, info.bits + 9, 2], dtype)
    return a, b


def _all(m, a, b):
    return {name: f(m, a, b) for name, f in FUNCTIONS.items()}


def _check(got, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's reciprocal of 0
        expected = _all(np, a, b)
    for name, want in expected.items():
        g = np.asarray(got[name])
        assert g.dtype == want.dtype and np.array_equal(g, want), (name, a.dtype, g, want)


@pytest.mark.parametrize("dtype", INTS, ids=lambda d: np.dtype(d).name)
def test_integer_functions_match_numpy_compiled(dtype):
    a, b = _operands(dtype)
    _check(jg.jit(lambda a, b: _all(jnp, a, b))(a, b), a, b)


@pytest.mark.parametrize("dtype", INTS, ids=lambda d: np.dtype(d).name)
def test_integer_functions_match_numpy_traced(dtype):
    a, b = _operands(dtype)
    ir = jg.make_ir(lambda a, b: _all(jnp, a, b))(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        leaves = eval_ir(ir, a, b)
    _check(jg.tree_util.tree_unflatten(jg.tree_util.tree_structure(_all(np, a, b)), leaves),
           a, b)


def test_boolean_functions_match_numpy():
    """Booleans: max/min are any/all, bitwise operations logical ones, shifts and bit counts
    compute in int8; floor, ceil, trunc keep booleans; reciprocal gives int8."""
    a, b = np.array([True, False, True, False]), np.array([True, True, False, False])
    fs = {"max": lambda m: m.max(a), "min": lambda m: m.min(a), "argmax": lambda m: m.argmax(a),
          "cummax": lambda m: m.maximum.accumulate(a), "and": lambda m: a & b,
          "xor": lambda m: m.bitwise_xor(a, b), "invert": lambda m: ~a,
          "left_shift": lambda m: m.left_shift(a, b), "count": lambda m: m.bitwise_count(a),
          "floor": lambda m: m.floor(a), "trunc": lambda m: m.trunc(a),
          "reciprocal": lambda m: m.reciprocal(b)}
    got = jg.jit(lambda a, b: {k: f(jnp) for k, f in fs.items()})(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, f in fs.items():
            want = f(np)
            g = np.asarray(got[name])
            assert g.dtype == want.dtype and np.array_equal(g, want), (name, g, want)


def test_bitwise_operations_refuse_floats():
    with pytest.raises(jg.errors.JitgradTypeError, match="left_shift.*float64"):
        jg.make_ir(lambda x: x << 1)(np.ones(3))
    assert tree_leaves(jg.vmap(lambda x: x >> 1)(np.arange(6).reshape(2, 3)))[0].tolist() == \
        [[0, 0, 1], [1, 2, 2]]


def test_numpy_ufuncs_on_traced_arrays_dispatch_here():
    """numpy's own isnan/isinf/isfinite, shifts and NumPy 2's vecdot/matvec/vecmat gufuncs
    called on traced arrays run jitgrad's (isnan raised UnsupportedError before)."""
    x = np.array([1.0, np.nan, np.inf])
    def f(x):
        return (np.isnan(x), np.isinf(x), np.isfinite(x), np.vecdot(x[:1], x[:1]),
                np.matvec(np.eye(2), x[:2] * 0 + 1), np.vecmat(x[:2] * 0 + 1, np.eye(2)))
    for got, want in zip(jg.jit(f)(x), f(x), strict=True):
        np.testing.assert_array_equal(got, want)
    n = np.array([1, 2, 3], np.uint8)
    np.testing.assert_array_equal(jg.jit(lambda a: np.left_shift(a, 2) | np.right_shift(a, 1))(n),
                                  np.left_shift(n, 2) | np.right_shift(n, 1))
