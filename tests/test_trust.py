"""Silent wrong answers and raw tracebacks at the front end (issue 9): each reproducer gives
numpy's (or JAX's) answer, or a clear jitgrad error naming the user's line, eagerly, traced
(numpy reference), under jit, grad and vmap."""

import itertools
import warnings

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import prims as P
from jitgrad.core import eval_ir
from jitgrad.tree_util import tree_leaves

X = np.arange(12.0).reshape(3, 4)
HERE = "test_trust.py"  # every jitgrad error must point at the user's line, in this file


def traced(f):
    """``f`` staged to IR and run by the primitives' numpy references."""
    def run(*args):
        outs = eval_ir(jg.make_ir(f)(*args), *tree_leaves(args))
        return outs[0] if len(outs) == 1 else tuple(outs)
    return run


def vmapped(f):
    """``f`` over two stacked copies of its arguments (the second reversed), row by row."""
    def run(*args):
        stacked = [np.stack([np.asarray(a), np.asarray(a)[::-1].reshape(np.shape(a))])
                   for a in args]
        outs = jg.vmap(f)(*stacked)
        return [o[0] for o in outs] if isinstance(outs, tuple) else outs[0]
    return run


MODES = {"eager": lambda f: f, "traced": traced, "jit": jg.jit, "vmap": vmapped}


def assert_bits(got, expected):
    """Same dtype and shape, and the same bits (signed zeros; NaN where numpy has NaN)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, \
        (got.dtype, got.shape, expected.dtype, expected.shape)
    if expected.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        keep = ~np.isnan(expected)
        np.testing.assert_array_equal(np.signbit(got[keep]), np.signbit(expected[keep]))
    np.testing.assert_array_equal(got, expected)


def quiet(f, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f(*args)


def all_pairs(values, dtype):
    a, b = zip(*itertools.product(values, values), strict=True)
    return np.array(a, dtype), np.array(b, dtype)


# ---------------------------------------------------------------------------------------------
# 1. Integer floor_divide / remainder / fmod / divmod stay integer, with numpy's results


def division_ops(x, y):
    return jnp.floor_divide(x, y), jnp.remainder(x, y), jnp.fmod(x, y), *jnp.divmod(x, y)


def numpy_division(x, y):
    return quiet(lambda: (np.floor_divide(x, y), np.remainder(x, y), np.fmod(x, y),
                          *np.divmod(x, y)))


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def int_values(dtype):
    info = np.iinfo(dtype)
    vals = [0, 1, 2, 3, 7, info.max, info.max - 1, info.min, info.min + 1, 2 ** 60 + 1]
    vals += [-1, -2, -3, -7] if info.min else []
    return [v for v in vals if info.min <= v <= info.max]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_division_is_numpy_for_every_sign_zero_and_extreme(dtype, mode):
    # every sign combination, x // 0 and x % 0 (numpy: 0), int.min // -1 (numpy: int.min)
    x, y = all_pairs(int_values(dtype), dtype)
    got = quiet(MODES[mode](division_ops), x, y)
    for g, e in zip(got, numpy_division(x, y), strict=True):
        assert_bits(g, e)


@pytest.mark.parametrize("mode", list(MODES))
def test_boolean_division_computes_in_int8_as_numpy(mode):
    x, y = all_pairs([False, True], np.bool_)
    got = quiet(MODES[mode](division_ops), x, y)
    for g, e in zip(got, numpy_division(x, y), strict=True):
        assert_bits(g, e)  # int8, 0 for a zero divisor


def test_issue_reproducers_integer_division():
    big = np.array([2 ** 60 + 1, 7, np.iinfo(np.int64).min], np.int64)
    div = np.array([1, 0, -1], np.int64)
    got = jg.jit(lambda a, b: a // b)(big, div)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [2 ** 60 + 1, 0, np.iinfo(np.int64).min])
    np.testing.assert_array_equal(jg.jit(lambda a, b: a % b)(big, div), [0, 0, 0])


def test_operators_and_reflected_forms_on_traced_arrays():
    x, y = np.array([7, -7, 5, -5]), np.array([2, 3, -2, 0])

    def ops(a, b):
        return (a // b, a % b, *divmod(a, b), 13 // a, 13 % a, *divmod(13, a),
                a // 3, a % 3, *divmod(a, 3), np.fmod(a, b), *np.divmod(a, b),
                np.floor_divide(a, b), np.remainder(a, b))

    expected = quiet(lambda: ops(x, y))
    for mode in MODES:
        for g, e in zip(quiet(MODES[mode](ops), x, y), expected, strict=True):
            assert_bits(g, e)


def test_integer_weak_scalars_and_mixed_promotion():
    x = np.array([7, -7, 100], np.int8)
    for g, e in zip(jg.jit(lambda a: (a // 3, a % 3, jnp.fmod(a, 3), a // 2.5))(x),
                    (x // 3, x % 3, np.fmod(x, 3), x // 2.5), strict=True):
        assert_bits(g, e)  # int8 stays int8 with a Python int; a Python float gives float64


# ---------------------------------------------------------------------------------------------
# 2. Float floor_divide / remainder / fmod: numpy's npy_divmod, bit for bit


def float_values(dtype):
    fi = np.finfo(dtype)
    special = [0.0, -0.0, 1.0, -1.0, 0.1, -0.1, 3.0, -3.0, 7.5, -7.5, 1e17, -1e17, 2.0 ** 60,
               fi.max, -fi.max, fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal,
               np.inf, -np.inf, np.nan]
    rng = np.random.default_rng(0)
    scaled = rng.standard_normal(12) * 10.0 ** rng.integers(-6, 18, 12)
    return np.array(special + list(scaled), dtype)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_float_division_is_numpy_bit_for_bit(dtype, mode):
    x, y = all_pairs(float_values(dtype), dtype)
    got = quiet(MODES[mode](division_ops), x, y)
    for g, e in zip(got, numpy_division(x, y), strict=True):
        assert_bits(g, e)


def test_issue_reproducers_float_division():
    np.testing.assert_array_equal(jg.jit(jnp.mod)(np.array(1e17), np.array(3.0)), 1.0)
    np.testing.assert_array_equal(jg.jit(jnp.floor_divide)(np.array(1.0), np.array(0.1)), 9.0)
    f32 = jg.jit(lambda a, b: a % b)(np.float32([1e17, -5.5]), np.float32([3.0, 2.0]))
    assert_bits(f32, np.float32([1e17, -5.5]) % np.float32([3.0, 2.0]))


def test_division_derivatives_are_jax_rules():
    x, y = np.array([7.5, -7.5, 5.0, -0.3]), np.array([2.0, 2.0, -3.0, 0.7])
    cases = [  # (function, d/dx, d/dy)
        (jnp.mod, np.ones_like(x), -np.floor_divide(x, y)),
        (jnp.remainder, np.ones_like(x), -np.floor_divide(x, y)),
        (jnp.fmod, np.ones_like(x), -np.trunc(x / y)),
        (jnp.floor_divide, np.zeros_like(x), np.zeros_like(x)),
        (lambda a, b: a % b, np.ones_like(x), -np.floor_divide(x, y)),
        (lambda a, b: a // b, np.zeros_like(x), np.zeros_like(x)),
        (lambda a, b: jnp.divmod(a, b)[1], np.ones_like(x), -np.floor_divide(x, y)),
    ]
    for f, dx, dy in cases:
        g = jg.grad(lambda a, b, f=f: jnp.sum(f(a, b)), argnums=(0, 1))
        for got in (g(x, y), jg.jit(g)(x, y)):
            np.testing.assert_array_equal(got[0], dx)
            np.testing.assert_array_equal(got[1], dy)
        per_example = jg.vmap(jg.grad(lambda a, b, f=f: f(a, b), argnums=(0, 1)))(x, y)
        np.testing.assert_array_equal(per_example[0], dx)
        np.testing.assert_array_equal(per_example[1], dy)


def test_division_derivatives_pass_the_checker_away_from_jumps():
    x, y = np.array([0.7, 2.3, -1.4]), np.array([1.1, 0.9, 1.3])
    for f in (jnp.mod, jnp.fmod, jnp.floor_divide):
        jg.check_grads(f, (x, y), order=2)


# ---------------------------------------------------------------------------------------------
# 3. Out-of-range traced indices are clamped per axis (JAX), never into another row/example


def clamp(i, n):
    i = np.asarray(i)
    return np.clip(np.where(i < 0, i + n, i), 0, n - 1)


def test_two_traced_indices_clamp_per_axis():
    i, j = np.array([0, -1, 9, -9, 2]), np.array([5, -9, 1, -1, 4])
    expected = X[clamp(i, 3), clamp(j, 4)]  # the issue's X[0, 5] is X[0, 3], not X[1, 1]
    f = lambda X, i, j: X[i, j]  # noqa: E731
    for run in (traced(f), jg.jit(f)):
        np.testing.assert_array_equal(run(X, i, j), expected)
    np.testing.assert_array_equal(jg.jit(f)(X, np.array([0]), np.array([5])), [3.0])
    # the scatter-add vjp puts each cotangent where the value was read
    g = jg.grad(lambda X, i, j: jnp.sum(X[i, j] * np.arange(1.0, 6.0)))
    expected_grad = np.zeros_like(X)
    np.add.at(expected_grad, (clamp(i, 3), clamp(j, 4)), np.arange(1.0, 6.0))
    np.testing.assert_array_equal(jg.jit(g)(X, i, j), expected_grad)
    with pytest.raises(jg.JitgradIndexError, match="index 9 is out of bounds for axis 0"):
        g(X, i, j)  # eager grad: the indices are concrete, so numpy's bounds check applies


def test_vmap_of_traced_index_never_reads_another_example():
    k = np.array([9, -9, 1])
    expected = X[np.arange(3), clamp(k, 4)]  # [3, 4, 9]; the issue got [9, 0, 9]
    f = jg.vmap(lambda x, k: x[k])
    for run in (f, jg.jit(f)):
        np.testing.assert_array_equal(run(X, k), expected)
    g = jg.vmap(jg.grad(lambda x, k: x[k] * 2.0))
    expected_grad = np.zeros_like(X)
    expected_grad[np.arange(3), clamp(k, 4)] = 2.0
    for run in (g, jg.jit(g)):
        np.testing.assert_array_equal(run(X, k), expected_grad)


def test_gather_and_scatter_batching_rules_clamp_within_each_example():
    """The primitives themselves (not only jnp) clamp per example when both the operand and
    the indices are batched."""
    k = np.array([[5, -2], [1, 7], [-9, 3]])
    expected = np.stack([np.take(X[e], k[e], mode="clip") for e in range(3)])
    gather = jg.vmap(lambda x, i: P.gather(x, i, axis=0))
    for run in (gather, jg.jit(gather)):
        np.testing.assert_array_equal(run(X, k), expected)
    scatter = jg.vmap(lambda u, i: P.scatter_add(u, i, axis=0, size=4))
    expected = np.zeros((3, 4))
    for e in range(3):
        np.add.at(expected[e], np.clip(k[e], 0, 3), [1.0, 2.0])
    for run in (scatter, jg.jit(scatter)):
        np.testing.assert_array_equal(run(np.tile([1.0, 2.0], (3, 1)), k), expected)


# ---------------------------------------------------------------------------------------------
# 4. Repeated argnums: the same derivative each time, never a silent zero


def f3(x, y):
    return jnp.sum(x * x * y)


def test_repeated_argnums_give_the_same_gradient_each_time():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    gx, gy = 2 * x * y, x * x
    g = jg.grad(f3, argnums=(0, 0))
    for run in (g, jg.jit(g)):
        a, b = run(x, y)
        np.testing.assert_array_equal(a, gx)
        np.testing.assert_array_equal(b, gx)
    v, (a, b, c) = jg.value_and_grad(f3, argnums=(1, 0, 1))(x, y)
    for got, want in ((a, gy), (b, gx), (c, gy)):
        np.testing.assert_array_equal(got, want)
    for jac in (jg.jacfwd, jg.jacrev):
        a, b = jac(lambda x, y: x * y, argnums=(0, 0))(x, y)
        np.testing.assert_array_equal(a, np.diag(y))
        np.testing.assert_array_equal(b, np.diag(y))
    (h00, h01), (h10, h11) = jg.hessian(f3, argnums=(0, 0))(x, y)
    for h in (h00, h01, h10, h11):
        np.testing.assert_array_equal(h, np.diag(2 * y))


# ---------------------------------------------------------------------------------------------
# 5. Complex numbers are refused by every transformation, never silently cast

Z = np.array([1.0 + 1.0j, 2.0j])


@pytest.mark.parametrize("call", [
    lambda: jg.vmap(lambda x: jnp.sin(x) * x)(Z),
    lambda: jg.jit(lambda x: jnp.sin(x) * x)(Z),
    lambda: jg.grad(lambda x: jnp.sum(x))(Z),
    lambda: jg.vjp(lambda x: x * 2.0, Z),
    lambda: jg.vjp(lambda x: x * 2.0, np.ones(2))[1](np.array([1 + 1j, 1.0])),
    lambda: jg.vjp(lambda x: x * 2.0, 1.0)[1](1 + 1j),
    lambda: jg.jvp(lambda x: x * 2.0, (np.ones(2),), (Z,)),
    lambda: jg.jvp(lambda x: x * 2.0, (Z,), (Z,)),
    lambda: jg.jacfwd(lambda x: x * 2.0)(Z),
    lambda: jg.jacrev(lambda x: x * 2.0)(Z),
    lambda: jg.linearize(lambda x: x * 2.0, Z),
    lambda: jg.make_ir(lambda x: x * 2.0)(Z),
    lambda: jg.jit(lambda x: x * 2.0)(1j),
    lambda: jg.jit(lambda x: x * Z)(np.ones(2)),
    lambda: jg.jit(lambda x: x * 1j)(np.ones(2)),
    lambda: jg.grad(lambda x: jnp.sum(x * 1j))(np.ones(2)),
    lambda: jg.vmap(lambda x: x * 1j)(np.ones(2)),
    lambda: jg.jit(lambda x: jnp.astype(x, np.complex64))(np.ones(2)),
])
def test_complex_values_raise_a_clear_error(call):
    with pytest.raises(jg.JitgradTypeError, match="complex") as e:
        call()
    assert HERE in str(e.value)


def test_object_arrays_raise_a_clear_error():
    with pytest.raises(jg.JitgradTypeError, match="dtype object") as e:
        jg.jit(lambda x: x + 1)(np.array([1, 2], dtype=object))
    assert HERE in str(e.value)


def test_eager_numpy_calls_on_complex_arrays_stay_numpy():
    np.testing.assert_array_equal(jnp.sin(Z), np.sin(Z))
    assert jnp.shape(Z) == (2,) and jnp.ndim(Z) == 1 and jnp.size(Z) == 2


# ---------------------------------------------------------------------------------------------
# 6. Invalid axes and argnums raise; they never wrap around


def outer(x):
    return jnp.outer(x, x)


def test_vmap_out_axes_and_in_axes_are_checked():
    for axis in (0, 1, 2, -1, -3):
        np.testing.assert_array_equal(jg.vmap(outer, out_axes=axis)(X),
                                      np.moveaxis(np.einsum("bi,bj->bij", X, X), 0, axis))
    for axis in (3, -4):
        with pytest.raises(jg.BatchError, match=f"out_axes {axis} is out of range") as e:
            jg.vmap(outer, out_axes=axis)(X)
        assert HERE in str(e.value)
    np.testing.assert_array_equal(jg.vmap(jnp.sum, in_axes=-1)(X), X.sum(0))
    for axes in (2, -3, (2,)):
        with pytest.raises(jg.BatchError, match="in_axes 2|in_axes -3"):
            jg.vmap(jnp.sum, in_axes=axes)(X)
    for bad in ("0", 1.0, ("0",), True):
        with pytest.raises(jg.BatchError, match="must be an int, None"):
            jg.vmap(jnp.sum, in_axes=bad)(X)
    with pytest.raises(jg.BatchError, match="out_axes"):
        jg.vmap(jnp.sum, out_axes="0")(X)


def add2(a, b):
    return a + 2.0 * b


@pytest.mark.parametrize("make", [
    lambda nums: jg.grad(add2, argnums=nums),
    lambda nums: jg.value_and_grad(add2, argnums=nums),
    lambda nums: jg.jacfwd(add2, argnums=nums),
    lambda nums: jg.jacrev(add2, argnums=nums),
    lambda nums: jg.hessian(add2, argnums=nums),
    lambda nums: jg.jit(add2, static_argnums=nums),
    lambda nums: jg.make_ir(add2, static_argnums=nums),
    lambda nums: jg.show_kernels(add2, static_argnums=nums),
])
def test_argnums_out_of_range_or_not_ints_raise(make):
    for nums in (5, -3, (0, 2)):
        with pytest.raises(jg.JitgradTypeError, match="out of range") as e:
            make(nums)(1.0, 2.0)
        assert HERE in str(e.value)
    for nums in ("0", 1.5, (0, "1")):
        with pytest.raises(jg.JitgradTypeError, match="must be an int or a tuple of ints"):
            make(nums)(1.0, 2.0)


def test_negative_argnums_count_from_the_end():
    assert jg.grad(add2, argnums=-1)(1.0, 2.0) == 2.0
    assert jg.jit(lambda a, n: a * n, static_argnums=-1)(np.ones(2), 3)[0] == 3.0
    assert jg.jit(lambda a, n: a * n, static_argnums=-1).trace_count == 0


@pytest.mark.parametrize("call,error", [
    (lambda x: jnp.transpose(x, (0, 5)), jg.ShapeError),
    (lambda x: jnp.transpose(x, (1, 1)), jg.ShapeError),
    (lambda x: jnp.moveaxis(x, 5, 0), jg.ShapeError),
    (lambda x: jnp.moveaxis(x, 0, -3), jg.ShapeError),
    (lambda x: jnp.sum(x, axis=2), jg.ShapeError),
    (lambda x: jnp.sum(x, axis="0"), jg.JitgradTypeError),
    (lambda x: jnp.swapaxes(x, 0, 2), jg.ShapeError),
])
def test_jnp_axes_out_of_range_raise(call, error):
    with pytest.raises(error) as e:
        jg.jit(call)(X)
    assert HERE in str(e.value)
    np.testing.assert_array_equal(jg.jit(lambda x: jnp.moveaxis(x, -1, 0))(X), X.T)


# ---------------------------------------------------------------------------------------------
# Byte order and float16 under jit


def test_big_endian_inputs_and_constants_compute_as_native():
    x = np.arange(6.0).reshape(2, 3).astype(">f8")
    c = np.array([1.0, 2.0, 3.0], ">f8")
    f = lambda x: jnp.sin(x) * 2.0 + c  # noqa: E731
    expected = np.sin(x) * 2.0 + c
    for run in (jg.jit(f), traced(f), jg.vmap(f), jg.jit(jg.vmap(f))):
        got = run(x)
        assert got.dtype == np.float64 and got.dtype.isnative
        np.testing.assert_allclose(got, expected, rtol=1e-15)
    g = jg.grad(lambda x: jnp.sum(f(x)))
    np.testing.assert_allclose(jg.jit(g)(x), 2 * np.cos(x.astype(float)), rtol=1e-15)


def test_float16_under_jit_is_a_clear_error_and_eager_transforms_work():
    x = np.arange(3.0).astype(np.float16)
    for f in (lambda x: jnp.sin(x) * 2, jg.grad(lambda x: jnp.sum(x * x))):
        with pytest.raises(jg.UnsupportedError, match="float16") as e:
            jg.jit(f)(x)
        assert HERE in str(e.value)
    g = jg.grad(lambda x: jnp.sum(x * x))(x)
    assert g.dtype == np.float16
    np.testing.assert_array_equal(g, 2 * x)


# ---------------------------------------------------------------------------------------------
# round / around with decimals


@pytest.mark.parametrize("decimals", [-3, -1, 0, 1, 2, 5, 12, 25])
def test_round_decimals_is_numpy_in_every_mode(decimals):
    rng = np.random.default_rng(1)
    values = [rng.standard_normal(6) * 1e3, np.array([2.675, -2.5, 0.5, 1250.0, -0.0, np.inf])]
    inputs = [v.astype(dt) for v in values for dt in (np.float64, np.float32)]
    inputs.append(np.array([1234, -5678, 15, 25, -25, 0], np.int16))
    def f(x):
        return jnp.round(x, decimals), jnp.around(x, decimals=decimals), x.round(decimals)

    for x in inputs:
        expected = np.round(x, decimals)
        for run in (f, traced(f), jg.jit(f)):
            for got in quiet(run, x):
                assert_bits(got, expected)
        assert_bits(quiet(jg.vmap(lambda r: jnp.round(r, decimals)), x[None])[0], expected)


def test_round_has_zero_derivative():
    x = np.array([0.123, 4.567])
    for g in (jg.grad(lambda x: jnp.sum(jnp.round(x, 1))),
              jg.jit(jg.grad(lambda x: jnp.sum(jnp.around(x, -1) + x)))):
        assert set(np.unique(g(x))) <= {0.0, 1.0}
    np.testing.assert_array_equal(jg.grad(lambda x: jnp.sum(jnp.round(x, 2)))(x), [0.0, 0.0])


def test_round_of_booleans_to_decimals_is_refused_as_numpy_refuses():
    with pytest.raises(jg.JitgradTypeError, match="boolean"):
        jg.jit(lambda x: jnp.round(x, 1))(np.array([True, False]))


# ---------------------------------------------------------------------------------------------
# Indexing errors: jitgrad errors naming the op, the shapes and the user's line


@pytest.mark.parametrize("index,error,pattern", [
    (5, jg.JitgradIndexError, r"f64\[3,4\]: index 5 is out of bounds for axis 0 with size 3"),
    ((0, -5), jg.JitgradIndexError, "index -5 is out of bounds for axis 1 with size 4"),
    (np.array([0, 3]), jg.JitgradIndexError, "index 3 is out of bounds for axis 0"),
    (slice(None, None, 0), jg.ShapeError, "slice step cannot be zero"),
    ((0, 0, 0), jg.JitgradIndexError, "too many indices"),
    ((Ellipsis, 0, Ellipsis), jg.JitgradIndexError, "single ellipsis"),
    (np.array([True, False, True, True]), jg.JitgradIndexError,
     "boolean index did not match indexed array along axis 0; size of axis is 3 but size of "
     "corresponding boolean axis is 4"),
    ((slice(None), np.array([True, False])), jg.JitgradIndexError,
     "along axis 1; size of axis is 4 but size of corresponding boolean axis is 2"),
    ((Ellipsis, np.ones(3, bool)), jg.JitgradIndexError, "along axis 1; size of axis is 4"),
    (1.5, jg.JitgradIndexError, "only integers, slices"),
    (np.array([0.0, 1.0]), jg.JitgradIndexError, "must be of integer"),
    ((np.array([0, 1]), np.array([0, 1, 2])), jg.JitgradIndexError, "could not be broadcast"),
    (slice(0.5, None), jg.JitgradTypeError, "slice indices must be integers"),
    (True, jg.UnsupportedError, "boolean scalar"),
])
def test_bad_concrete_indices_under_every_transformation(index, error, pattern):
    base = IndexError if error is jg.JitgradIndexError else \
        ValueError if error is jg.ShapeError else Exception
    for transform in (jg.jit, jg.grad, jg.vmap):
        f = (lambda x: jnp.sum(x[index])) if transform is jg.grad else (lambda x: x[index])
        arg = X if transform is not jg.vmap else X[None]
        with pytest.raises(error, match=pattern) as e:
            transform(f)(arg)
        assert isinstance(e.value, base) and HERE in str(e.value)
    # the right masks and indices work (numpy's results)
    np.testing.assert_array_equal(jg.jit(lambda x: x[..., np.array([1, 0, 0, 1], bool)])(X),
                                  X[..., [0, 3]])


def test_batched_matmul_mismatch_shows_full_shapes():
    with pytest.raises(jg.ShapeError, match=r"matmul.*\(2, 3, 4\) and \(5, 4, 2\)") as e:
        jg.jit(lambda a, b: a @ b)(np.ones((2, 3, 4)), np.ones((5, 4, 2)))
    assert HERE in str(e.value)


# ---------------------------------------------------------------------------------------------
# Deliberate departures, decided and documented in the README


def test_cond_branches_of_different_types_raise_eagerly_as_under_jit():
    def f(x):
        return jg.lax.cond(True, lambda x: x, lambda x: x[0], x)

    for run in (f, jg.jit(f)):
        with pytest.raises(jg.ShapeError, match=r"f64\[3,4\].*f64\[4\]") as e:
            run(X)
        assert HERE in str(e.value)
    with pytest.raises(jg.ShapeError, match="scalar"):
        jg.lax.cond(np.array([True, False]), lambda x: x, lambda x: x, X)
    assert jg.lax.cond(False, lambda x: x * 2.0, lambda x: x + 1.0, 3.0) == 4.0


def test_derivative_of_abs_and_of_x_to_the_zero_at_zero():
    # NB (documented departure): d|x|/dx at 0 is 0 (JAX: 1); d(x**0)/dx is 0 everywhere,
    # also for a float exponent 0.0 (JAX: nan at x = 0).
    for g in (jg.grad(jnp.abs), jg.jit(jg.grad(jnp.abs))):
        assert g(0.0) == 0.0 and g(-2.0) == -1.0
    for f in (lambda x: x ** 0, lambda x: x ** 0.0, lambda x: jnp.power(x, np.zeros(()))):
        assert jg.grad(f)(0.0) == 0.0 and jg.jit(jg.grad(f))(0.0) == 0.0


# ---------------------------------------------------------------------------------------------
# Bitwise operators on traced arrays (they were logical_and/or/not whatever the dtype)


BITWISE = [lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b, lambda a, b: ~a,
           lambda a, b: True & a, lambda a, b: b | False, lambda a, b: np.bitwise_xor(a, b),
           lambda a, b: jnp.invert(b)]


@pytest.mark.parametrize("i", range(len(BITWISE)))
def test_bitwise_operators_on_booleans_and_integers_are_numpys(i):
    f = BITWISE[i]
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    np.testing.assert_array_equal(jg.jit(f)(p, q), f(p, q))
    np.testing.assert_array_equal(jg.vmap(f)(p, q), f(p, q))
    # ~3 is -4 and 3 & 5 is 1; a logical result (False, True) would be silently wrong
    m, n = np.array([3, 4]), np.array([5, 6])
    got = jg.jit(f)(m, n)
    assert got.dtype == f(m, n).dtype
    np.testing.assert_array_equal(got, f(m, n))
    np.testing.assert_array_equal(jg.vmap(f)(m, n), f(m, n))
