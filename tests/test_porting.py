"""What porting a numpy/autograd/JAX program needs besides the big functions, table-driven:
the extra elementwise functions and whole-array comparisons (traced values against numpy,
incl. 0-d, size 0, float32, integers and special values; compiled forward and reverse; jvp
against finite differences and vjp against jvp to order 2; vmap against a loop), autograd's
names of the transformations, lax's dynamic slices, switch and map, ravel_pytree, the
optimizers, jitgrad.numpy.random, the re-exported numpy helpers, r_/c_, traced indices into
constant arrays, and the derivative rules the autograd suite exposed (std, 0**x)."""

import warnings

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import lax
from jitgrad.core import eval_ir, is_float
from jitgrad.errors import JitgradTypeError, ShapeError, TracerError
from jitgrad.example_libraries import optimizers
from jitgrad.flatten_util import ravel_pytree
from jitgrad.tree_util import tree_leaves, tree_map

rng = np.random.default_rng(0)
INF, NAN = np.inf, np.nan


def R(*shape, lo=0.5, hi=1.5, dtype=np.float64):
    return rng.uniform(lo, hi, shape).astype(dtype)


def signed(*shape, dtype=np.float64):
    """Values of either sign, away from 0 (where several functions here have a kink)."""
    return (R(*shape, dtype=dtype) * rng.choice([-1, 1], shape)).astype(dtype)


class Row:
    """One call: ``f`` of ``args``; ``grad`` False where the result is piecewise constant or
    not float; ``batch`` the positions vmap maps over (default: every float argument)."""

    def __init__(self, name, f, *args, grad=True, batch=None, rtol=1e-12):
        self.name, self.f, self.args, self.grad, self.rtol = name, f, args, grad, rtol
        self.batch = batch if batch is not None else [
            i for i, a in enumerate(args) if is_float(np.asarray(a).dtype)]

    def __repr__(self):
        return self.name


SPECIAL_X = np.array([0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, NAN, INF, -INF, 1e308, 5e-324, 3.0])
SPECIAL_Y = np.array([0.0, 0.0, -0.0, INF, INF, -INF, 1.0, NAN, -INF, 2.0, 1e308, 5e-324, 3.0])
X23, Y3 = signed(2, 3), signed(3)
F32 = signed(2, 3, dtype=np.float32)
INTS = np.array([[-3, 0, 2], [5, -1, 7]])


def unary(name, x=X23, **kw):
    return Row(name, getattr(jnp, name), x, **kw)


def binary(name, x=X23, y=Y3, **kw):
    return Row(name, getattr(jnp, name), x, y, **kw)


ELEMENTWISE = [
    *(binary(n) for n in ("logaddexp", "logaddexp2", "hypot", "fmax", "fmin")),
    *(binary(n, R(), R(0)) for n in ("logaddexp", "hypot")),  # 0-d with size 0
    *(binary(n, F32, 0.5, rtol=1e-6) for n in ("logaddexp", "logaddexp2", "hypot", "fmax")),
    *(binary(n, INTS, INTS.T[:1, :].T, grad=False) for n in ("logaddexp", "hypot", "fmax")),
    *(binary(n, SPECIAL_X, SPECIAL_Y, grad=False) for n in (
        "logaddexp", "logaddexp2", "hypot", "fmax", "fmin", "copysign", "heaviside")),
    binary("copysign", X23, signed(2, 3)),
    binary("copysign", F32, -0.0, rtol=0, grad=False),
    binary("heaviside", X23, 0.5),
    binary("heaviside", np.array([-1.0, 0.0, 2.0]), Y3, grad=False),
    binary("float_power", R(2, 3), Y3),
    Row("logical_xor", lambda x, y: jnp.logical_xor(x > 0, y > 0), X23, Y3, grad=False),
    *(unary(n) for n in ("fabs", "deg2rad", "rad2deg", "degrees", "radians", "positive",
                         "real", "conj", "conjugate", "real_if_close")),
    *(unary(n, F32, rtol=1e-6) for n in ("fabs", "deg2rad", "rad2deg", "sinc")),
    *(unary(n, INTS, grad=False) for n in ("fabs", "deg2rad", "rad2deg", "sinc", "angle",
                                           "trunc", "signbit")),
    *(unary(n, SPECIAL_X, grad=False) for n in (
        "fabs", "sinc", "deg2rad", "angle", "trunc", "fix", "signbit", "imag")),
    unary("sinc", np.array([0.0, 1e-9, -0.03, 0.031, 0.5, -1.7, 2.0, 40.25])),
    unary("sinc", R(0)),
    unary("sinc", np.array(0.2)),
    *(unary(n, grad=False) for n in ("trunc", "fix", "angle", "signbit", "imag")),
    Row("angle deg", lambda x: jnp.angle(x, deg=True), X23, grad=False),
    Row("isclose", lambda x, y: jnp.isclose(x, y * 1.0000001), X23, X23, grad=False),
    Row("isclose special", jnp.isclose, SPECIAL_X, SPECIAL_Y, grad=False),
    Row("isclose equal_nan", lambda x, y: jnp.isclose(x, y, equal_nan=True), SPECIAL_X,
        SPECIAL_Y, grad=False),
    Row("isclose tolerances", lambda x, y: jnp.isclose(x, y, rtol=0.0, atol=0.3), X23, Y3,
        grad=False),
    Row("allclose", lambda x: jnp.allclose(x, x + 1e-9), X23, grad=False),
    Row("array_equal", lambda x, y: jnp.array_equal(x, y * 1.0), X23, X23, grad=False),
    Row("array_equal nan", lambda x: jnp.array_equal(x, x, equal_nan=True), SPECIAL_X,
        grad=False),
    *(Row(f"{n} axis={a} keepdims={k}", lambda x, n=n, a=a, k=k: getattr(jnp, n)(
        x > 0, axis=a, keepdims=k), signed(2, 3, 4), grad=False)
      for n in ("all", "any") for a in (None, 0, -1, (0, 2), (-3, -2, -1)) for k in (False, True)),
    *(Row(f"{n} size 0", lambda x, n=n: getattr(jnp, n)(x, axis=1), R(2, 0), grad=False)
      for n in ("all", "any")),
    *(Row(f"{n} 0-d", lambda x, n=n: getattr(jnp, n)(x > 1.0), R(), grad=False)
      for n in ("all", "any")),
    # numpy.convolve and numpy.correlate (1-d, every mode, the shorter operand first too,
    # integers rounded back, float32 kept)
    *(Row(f"{n} {m} {len(a)}x{len(v)}", lambda a, v, n=n, m=m: getattr(jnp, n)(a, v, m), a, v)
      for n in ("convolve", "correlate") for m in ("full", "same", "valid")
      for a, v in ((signed(5), signed(3)), (signed(2), signed(4)), (signed(1), signed(1)))),
    *(Row(f"{n} ints", lambda a, v, n=n: getattr(jnp, n)(a, v, "full"), INTS[0], INTS[1],
          grad=False) for n in ("convolve", "correlate")),
    *(Row(f"{n} float32", getattr(jnp, n), signed(4, dtype=np.float32), 0.5 * F32[0],
          rtol=1e-6) for n in ("convolve", "correlate")),
]


def _traced(f, *args):
    ir = jg.make_ir(f)(*args)
    return eval_ir(ir, *tree_leaves(args))


def _numpy(row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return row.f(*row.args)  # concrete arguments: numpy's own call


def _assert_same(got, expected, rtol=1e-12):
    got, expected = tree_leaves(got), tree_leaves(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=0)
        if e.dtype.kind == "f":  # signed zeros as numpy's
            zero = e == 0
            np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(e[zero]))


def _quiet(f, *args):
    with warnings.catch_warnings():  # inf - inf and 0/0 in the reference of a composite
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args)


@pytest.mark.parametrize("row", ELEMENTWISE, ids=repr)
def test_values_match_numpy(row):
    _assert_same(_quiet(_traced, row.f, *row.args), _numpy(row), row.rtol)


def _float_args(row):
    diff = [i for i, a in enumerate(row.args) if is_float(np.asarray(a).dtype)]

    def f(*xs):
        full = list(row.args)
        for i, x in zip(diff, xs, strict=True):
            full[i] = x
        return row.f(*full)

    return f, [row.args[i] for i in diff]


@pytest.mark.parametrize("row", ELEMENTWISE, ids=repr)
def test_jit_forward_and_reverse(row):
    """One compiled program per row: its value and (where differentiable) its vjp."""
    expected = _numpy(row)
    if not row.grad:
        _assert_same(jg.jit(row.f)(*row.args), expected, max(row.rtol, 2e-16))
        return
    f, args = _float_args(row)
    ct = tree_map(lambda y: np.cos(np.arange(np.size(y))).reshape(np.shape(y)).astype(
        np.asarray(y).dtype), expected)

    def value_and_vjp(*args):
        out, f_vjp = jg.vjp(f, *args)
        return out, f_vjp(ct)

    out, grads = jg.jit(value_and_vjp)(*args)
    _assert_same(out, expected, max(row.rtol, 4e-16))
    _assert_same(grads, jg.vjp(f, *args)[1](ct), max(row.rtol, 1e-13))


@pytest.mark.parametrize("row", [r for r in ELEMENTWISE if r.grad], ids=repr)
def test_derivatives(row):
    f, args = _float_args(row)
    jg.check_grads(f, args, order=2)


@pytest.mark.parametrize("row", [r for r in ELEMENTWISE if r.batch], ids=repr)
def test_vmap_matches_a_loop(row):
    examples = [[np.asarray(a) * (1 + 0.25 * k) if i in row.batch else a
                 for i, a in enumerate(row.args)] for k in range(3)]
    examples = [[a.astype(np.asarray(b).dtype) if i in row.batch else a
                 for i, (a, b) in enumerate(zip(ex, row.args, strict=True))] for ex in examples]
    in_axes = tuple(0 if i in row.batch else None for i in range(len(row.args)))
    stacked = [np.stack([ex[i] for ex in examples]) if i in row.batch else row.args[i]
               for i in range(len(row.args))]
    got = _quiet(jg.vmap(row.f, in_axes=in_axes), *stacked)
    expected = [np.stack([np.asarray(_quiet(row.f, *ex)) for ex in examples])]
    _assert_same(got, expected, row.rtol)


def test_numpy_ufuncs_on_traced_arrays_dispatch_here():
    x, y = X23, Y3
    for name in ("logaddexp", "logaddexp2", "hypot", "fmax", "fmin", "copysign", "heaviside",
                 "float_power", "logical_xor"):
        _assert_same(_traced(lambda a, b, n=name: getattr(np, n)(a, b), x, y),
                     getattr(np, name)(x, y))
    for name in ("fabs", "sinc", "deg2rad", "rad2deg", "degrees", "radians", "trunc",
                 "positive", "conj", "conjugate", "signbit"):
        _assert_same(_traced(lambda a, n=name: getattr(np, n)(a), x), getattr(np, name)(x))
    for name in ("all", "any", "allclose", "real", "imag", "angle"):  # __array_function__
        _assert_same(_traced(lambda a, n=name: getattr(np, n)(
            a, a) if n == "allclose" else getattr(np, n)(a), x),
            getattr(np, name)(x, x) if name == "allclose" else getattr(np, name)(x))


def test_modulo_and_floor_division_of_traced_values():
    _assert_same(_traced(lambda a, b: (a % b, a // b, divmod(a, b)), X23 * 3, Y3),
                 (X23 * 3 % Y3, X23 * 3 // Y3, divmod(X23 * 3, Y3)))
    jg.check_grads(lambda a, b: a % b, (X23 * 3, Y3), order=2)


# ---------------------------------------------------------------------------------------------
# Derivatives at special points (the values there are in the rows above)


def _grads(f, *args):
    return jg.grad(f, argnums=tuple(range(len(args))))(*args)


@pytest.mark.parametrize("x,y,expected", [
    (1.0, 1.0, (0.5, 0.5)), (INF, 1.0, (1.0, 0.0)), (-INF, 1.0, (0.0, 1.0)),
    (INF, INF, (0.5, 0.5)), (-INF, -INF, (0.5, 0.5)), (800.0, 1.0, (1.0, np.exp(-799.0))),
    (0.0, np.log(3.0), (0.25, 0.75))])
def test_logaddexp_derivative_is_exp_of_x_minus_out(x, y, expected):
    with warnings.catch_warnings():  # inf - inf in the reference of the composite
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(_grads(jnp.logaddexp, x, y), expected, rtol=1e-14)
        # log2(2**x + 2**y): the same weights with x and y scaled by log 2
        np.testing.assert_allclose(_grads(jnp.logaddexp2, x / np.log(2), y / np.log(2)),
                                   expected, rtol=1e-14)


def test_logaddexp_second_derivatives_are_smooth_at_equal_arguments():
    """``max(x, y) + log1p(exp(-|x - y|))`` has kinks at x == y that cancel in value and first
    derivative but left the second derivative 0 there (autograd's test_logaddexp)."""
    for f, scale in ((jnp.logaddexp, 1.0), (jnp.logaddexp2, np.log(2.0))):
        for x in (0.4, -3.0):
            np.testing.assert_allclose(jg.hessian(f, (0, 1))(x, x),
                                       [[scale / 4, -scale / 4], [-scale / 4, scale / 4]],
                                       rtol=1e-14)
        jg.check_grads(f, (0.4, 0.4), order=3)
        jg.check_grads(f, (X23, X23), order=2)


@pytest.mark.parametrize("x,y,expected", [
    (3.0, 4.0, (0.6, 0.8)), (1e300, 1e300, (0.5 ** 0.5,) * 2), (1e-300, 1e-300, (0.5 ** 0.5,) * 2),
    (-3.0, 0.0, (-1.0, 0.0)), (0.0, 0.0, (0.0, 0.0)), (INF, 1.0, (0.0, 0.0))])
def test_hypot_derivative_is_x_over_out_at_any_magnitude(x, y, expected):
    np.testing.assert_allclose(_grads(jnp.hypot, x, y), expected, rtol=1e-15)


def test_sinc_derivatives_at_and_near_zero():
    """Exact Taylor coefficients at 0 (sinc = 1 - (pi x)^2/6 + (pi x)^4/120 - ...), and
    accurate just off 0, where differentiating sin(u)/u would lose every digit."""
    d, derivs = jnp.sinc, []
    for _ in range(5):
        d = jg.grad(d)
        derivs.append(float(d(0.0)))
    np.testing.assert_allclose(derivs, [0.0, -np.pi ** 2 / 3, 0.0, np.pi ** 4 / 5, 0.0],
                               rtol=1e-15, atol=0)
    second = jg.grad(jg.grad(jnp.sinc))
    for x in (1e-8, 1e-5, 0.0318, 0.0319):  # on both sides of the series' threshold
        u = np.pi * x
        exact = np.pi ** 2 * (-1 / 3 + u ** 2 / 10 - u ** 4 / 168 + u ** 6 / 6480)
        np.testing.assert_allclose(second(x), exact, rtol=1e-12)


def test_copysign_heaviside_and_fmax_derivative_conventions():
    assert _grads(jnp.copysign, 2.0, -1.0) == (-1.0, 0.0)
    assert _grads(jnp.copysign, -2.0, -0.0) == (1.0, 0.0)
    assert _grads(jnp.heaviside, 0.0, 0.5) == (0.0, 1.0)
    assert _grads(jnp.heaviside, 2.0, 0.5) == (0.0, 0.0)
    assert _grads(jnp.fmax, NAN, 1.0) == (0.0, 1.0)
    assert _grads(jnp.fmin, 1.0, NAN) == (1.0, 0.0)
    assert _grads(jnp.fmax, 1.0, 1.0) == (0.5, 0.5)  # ties shared, as maximum


def test_isclose_of_traced_arrays_is_a_traced_bool_array_and_concrete_ones_numpys():
    ir = jg.make_ir(lambda x: jnp.isclose(x, 1.0))(np.ones(3))
    assert str(ir.out_avals[0]) == "bool[3]"
    assert jnp.allclose(np.ones(2), np.ones(2)) is True
    assert jnp.array_equal(np.ones(2), np.ones(3)) is False
    assert not jg.jit(lambda x: jnp.array_equal(x, np.ones(3)))(np.ones(2))
    f = lambda x: jnp.sum(x) if jnp.allclose(x, 1.0) else x[0]  # noqa: E731
    # eager grad branches on the concrete values (as autograd); jit traces and refuses
    np.testing.assert_array_equal(jg.grad(f)(np.ones(2)), [1.0, 1.0])
    np.testing.assert_array_equal(jg.grad(f)(np.array([2.0, 1.0])), [1.0, 0.0])
    with pytest.raises(TracerError):
        jg.jit(jg.grad(f))(np.ones(2))


def test_complex_predicates_of_traced_arrays_are_concrete():
    def f(x):
        assert not jnp.iscomplexobj(x) and jnp.isrealobj(x)
        assert jnp.iscomplex(x).shape == (3,) and not jnp.iscomplex(x).any()
        assert jnp.isreal(x).all()
        return jnp.sum(jnp.real(x) ** 2 + jnp.imag(x))
    np.testing.assert_allclose(jg.grad(f)(np.arange(3.0)), [0.0, 2.0, 4.0])


# ---------------------------------------------------------------------------------------------
# Derivative rules the autograd suite exposed


def test_std_has_derivative_zero_where_the_variance_is_zero():
    """Was nan (sqrt's derivative at 0 times a zero tangent): autograd's test_std."""
    for x in (3.5, np.ones(3), np.full((1, 3), 2.0)):
        assert np.all(jg.grad(lambda x: jnp.sum(jnp.std(x, axis=0 if np.ndim(x) else None)))(
            x) == 0.0)
        assert np.all(jg.jvp(jnp.std, (x,), (np.ones_like(x),))[1] == 0.0)
        assert jg.hessian(jnp.std)(np.asarray(x, float)).sum() == 0.0
    jg.check_grads(lambda x: jnp.std(x, axis=1, ddof=1), (X23,), order=2)
    np.testing.assert_allclose(jg.grad(jnp.std)(np.array([1.0, 2.0])), [-0.5, 0.5])
    assert jg.jit(jnp.std)(np.array([1.0, 2.0, 4.0], np.float32)).dtype == np.float32


def test_power_with_exponent_zero_has_finite_higher_derivatives():
    """d/dx x**0.0 is 0, and so are its derivatives; the second was nan at x = 0 (0 * inf
    from x**-1 in the branch not taken): autograd's test_power_arg0."""
    f = lambda x: jnp.power(x, 0.0)  # noqa: E731
    for x in (0.0, 2.0):
        assert jg.grad(f)(x) == 0.0
        assert jg.grad(jg.grad(f))(x) == 0.0
        assert jg.grad(jg.grad(jg.grad(f)))(x) == 0.0
    assert jg.grad(lambda x: 0.0 ** x)(2.0) == 0.0
    np.testing.assert_allclose(jg.grad(jg.grad(lambda x: x ** 2.5))(2.0), 2.5 * 1.5 * 2 ** 0.5)
    jg.check_grads(lambda x, y: x ** y, (R(3), signed(3)), order=2)


def test_higher_derivatives_at_python_float_arguments():
    """A rule mixing its Python-int constant with a Python-float primal (``2 * x`` in the
    derivative of ``x ** 2``, under forward mode) staged an int64 and a float64 literal: a
    ShapeError in ``hessian(f)(2.0)`` (autograd's tests pass Python floats everywhere)."""
    assert jg.hessian(lambda y: y ** 2)(2.0) == 2.0
    assert jg.jacfwd(jg.grad(lambda y: y ** 3))(2.0) == 12.0
    np.testing.assert_allclose(jg.hessian(lambda y: jnp.sin(y) * y ** 4)(2.0),
                               -np.sin(2.0) * 16 + 64 * np.cos(2.0) + 48 * np.sin(2.0))
    jg.check_grads(lambda y: y ** 3 - 2 * y, (1.5,), order=3)


# ---------------------------------------------------------------------------------------------
# autograd's names


A = R(3, 3)
V = R(3)


def _f(x, y):
    return jnp.tanh(A @ x) * y


def _scalar(x, y):
    return jnp.sum(jnp.sin(x) * y ** 2)


AUTOGRAD_ROWS = [
    # (name, computed, expected)
    ("make_vjp", lambda: jg.make_vjp(_f)(V, 2.0)[0](np.ones(3)),
     lambda: jg.vjp(_f, V, 2.0)[1](np.ones(3))[0]),
    ("make_vjp value", lambda: jg.make_vjp(_f, 1)(V, 2.0)[1], lambda: _f(V, 2.0)),
    ("make_vjp tuple", lambda: jg.make_vjp(_f, (1, 0))(V, 2.0)[0](np.ones(3)),
     lambda: jg.vjp(_f, V, 2.0)[1](np.ones(3))[::-1]),
    ("make_jvp", lambda: jg.make_jvp(_f)(V, 2.0)(np.ones(3)),
     lambda: jg.jvp(lambda x: _f(x, 2.0), (V,), (np.ones(3),))),
    ("elementwise_grad", lambda: jg.elementwise_grad(jnp.sin)(V), lambda: np.cos(V)),
    ("elementwise_grad argnum", lambda: jg.elementwise_grad(_f, 1)(V, 2.0),
     lambda: np.sum(np.tanh(A @ V))),
    ("deriv", lambda: jg.deriv(lambda x: x ** 3)(2.0), lambda: 12.0),
    ("deriv vector", lambda: jg.deriv(jnp.sin)(V), lambda: np.cos(V)),
    ("jacobian", lambda: jg.jacobian(_f)(V, 2.0), lambda: jg.jacfwd(_f)(V, 2.0)),
    ("jacobian argnum", lambda: jg.jacobian(_f, 1)(V, 2.0), lambda: np.tanh(A @ V)),
    ("hessian_tensor_product", lambda: jg.hessian_tensor_product(_scalar)(V, 2.0, V[::-1]),
     lambda: jg.hessian(_scalar)(V, 2.0) @ V[::-1]),
    ("hessian_vector_product argnum",
     lambda: jg.hessian_vector_product(_scalar, 1)(V, 2.0, 3.0),
     lambda: jg.hessian(_scalar, 1)(V, 2.0) * 3.0),
    ("hessian_tensor_product matrix",
     lambda: jg.hessian_tensor_product(lambda a: jnp.sum(jnp.sin(a) ** 2))(A, A.T),
     lambda: np.tensordot(jg.hessian(lambda a: jnp.sum(jnp.sin(a) ** 2))(A), A.T)),
    ("tensor_jacobian_product", lambda: jg.tensor_jacobian_product(_f)(V, 2.0, V[::-1]),
     lambda: V[::-1] @ jg.jacfwd(_f)(V, 2.0)),
    ("tensor_jacobian_product leading axes",
     lambda: jg.vector_jacobian_product(lambda a: jnp.sin(a) * a[0])(A, V),
     lambda: np.tensordot(V, jg.jacfwd(lambda a: jnp.sin(a) * a[0])(A), 1)),
    ("make_hvp", lambda: jg.make_hvp(_scalar)(V, 2.0)[0](V[::-1]),
     lambda: jg.hessian(_scalar)(V, 2.0) @ V[::-1]),
    ("make_hvp gradient", lambda: jg.make_hvp(_scalar)(V, 2.0)[1],
     lambda: jg.grad(_scalar)(V, 2.0)),
    ("make_ggnvp", lambda: jg.make_ggnvp(lambda x: _f(x, 2.0))(V)(V[::-1]),
     lambda: (lambda J: J.T @ J @ V[::-1])(jg.jacfwd(_f)(V, 2.0))),
    ("make_ggnvp g", lambda: jg.make_ggnvp(lambda x: _f(x, 2.0), lambda y: jnp.sum(y ** 4))(V)(
        V[::-1]), lambda: (lambda J, y: J.T @ np.diag(12 * y ** 2) @ J @ V[::-1])(
        jg.jacfwd(_f)(V, 2.0), _f(V, 2.0))),
    ("grad_and_aux", lambda: jg.grad_and_aux(lambda x: (_scalar(x, 2.0), x * 2))(V),
     lambda: (jg.grad(_scalar)(V, 2.0), V * 2)),
    ("grad_named", lambda: jg.grad_named(_scalar, "y")(V, 2.0),
     lambda: jg.grad(_scalar, 1)(V, 2.0)),
    ("grad_named keyword", lambda: jg.grad_named(_scalar, "y")(V, y=2.0),
     lambda: jg.grad(_scalar, 1)(V, 2.0)),
    ("multigrad_dict", lambda: dict(jg.multigrad_dict(_scalar)(V, y=2.0)),
     lambda: dict(zip("xy", jg.grad(_scalar, (0, 1))(V, 2.0), strict=True))),
    ("grad argnum list", lambda: jg.grad(_scalar, argnum=[1, 0])(V, 2.0),
     lambda: jg.grad(_scalar, argnums=(1, 0))(V, 2.0)),
    ("value_and_grad argnum", lambda: jg.value_and_grad(_scalar, argnum=1)(V, 2.0),
     lambda: (_scalar(V, 2.0), jg.grad(_scalar, 1)(V, 2.0))),
    ("jacfwd argnum", lambda: jg.jacfwd(_f, argnum=1)(V, 2.0), lambda: np.tanh(A @ V)),
    ("hessian argnum", lambda: jg.hessian(_scalar, argnum=1)(V, 2.0),
     lambda: 2 * np.sum(np.sin(V))),
]


@pytest.mark.parametrize("name,computed,expected", AUTOGRAD_ROWS, ids=[r[0] for r in AUTOGRAD_ROWS])
def test_autograd_names(name, computed, expected):
    got, want = tree_leaves(computed()), tree_leaves(expected())
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_autograd_names_compose_with_jit_and_each_other():
    hvp = jg.jit(jg.hessian_tensor_product(_scalar))
    np.testing.assert_allclose(hvp(V, 2.0, V), jg.hessian(_scalar)(V, 2.0) @ V, rtol=1e-12)
    np.testing.assert_allclose(jg.elementwise_grad(jg.elementwise_grad(jnp.sin))(V), -np.sin(V))
    np.testing.assert_allclose(jg.jit(jg.elementwise_grad(jnp.tanh))(V), 1 - np.tanh(V) ** 2)


def test_autograd_name_errors():
    with pytest.raises(JitgradTypeError, match="argnum"):
        jg.make_vjp(_f, (0, 0))(V, 2.0)
    with pytest.raises(JitgradTypeError, match="out of range"):
        jg.elementwise_grad(_f, 5)(V, 2.0)
    with pytest.raises(JitgradTypeError, match="not both"):
        jg.grad(_scalar, argnums=1, argnum=0)
    with pytest.raises(JitgradTypeError, match="no parameter"):
        jg.grad_named(_scalar, "z")
    with pytest.raises(JitgradTypeError, match="integer|floating"):
        jg.elementwise_grad(jnp.sin)(np.arange(3))


def test_make_diagonal_is_the_inverse_of_diagonal():
    d = np.random.default_rng(0).standard_normal((3, 4))
    d[0, 1] = np.inf  # off-diagonal entries stay 0, not inf * 0
    expected = np.zeros((3, 4, 4))
    expected[:, np.arange(4), np.arange(4)] = d
    for f in (jnp.make_diagonal, jg.jit(jnp.make_diagonal)):
        np.testing.assert_array_equal(f(d), expected)
    np.testing.assert_array_equal(jg.jit(jnp.make_diagonal)(np.arange(2, dtype=np.int32)),
                                  np.diag(np.arange(2, dtype=np.int32)))
    jg.check_grads(lambda x: jnp.sin(jnp.make_diagonal(x)), (d[1:],), order=2)
    with pytest.raises(jg.UnsupportedError, match="offset=0"):
        jnp.make_diagonal(d, axis1=0, axis2=1)


def test_grad_accepts_an_output_with_one_element_as_autograd():
    x = R(3)
    for f in (lambda x: jnp.sum(x ** 2, keepdims=True), lambda x: (x @ x)[None, None]):
        np.testing.assert_allclose(jg.grad(f)(x), 2 * x)
        value, g = jg.value_and_grad(f)(x)
        assert value.shape == np.shape(f(x)) and np.allclose(g, 2 * x)
    with pytest.raises(JitgradTypeError, match=r"one element.*f64\[2\]"):
        jg.grad(lambda x: x[:2])(x)


def test_is_tracer():
    seen = []

    def f(x):
        seen.append(jg.is_tracer(x))
        return jnp.sum(x ** 2)

    for transform in (jg.grad, jg.jit, jg.vmap, jg.elementwise_grad):
        f(V)
        transform(f)(V if transform is not jg.vmap else A)
    assert seen == [False, True] * 4
    assert jg.Tracer is jg.core.Tracer and not jg.is_tracer(np.ones(2))


# ---------------------------------------------------------------------------------------------
# lax: dynamic slices, switch, map


X45 = np.arange(20.0).reshape(4, 5) / 7.0


def _dynamic_slice_ref(x, starts, sizes):
    idx = []
    for s, n, k in zip(starts, x.shape, sizes, strict=True):
        s = s + n if s < 0 else s
        s = min(max(s, 0), n - k)
        idx.append(slice(s, s + k))
    return tuple(idx)


STARTS = [(0, 0), (1, 2), (3, 4), (-1, -2), (-9, 1), (7, -30), (2, 0)]
SIZES = [(2, 3), (4, 5), (0, 2), (1, 1)]


@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_dynamic_slice_matches_clamped_numpy_slices(sizes):
    starts = STARTS
    f = jg.jit(lambda x, i, j: lax.dynamic_slice(x, (i, j), sizes))
    for i, j in starts:
        expected = X45[_dynamic_slice_ref(X45, (i, j), sizes)]
        for got in (f(X45, i, j), lax.dynamic_slice(X45, (i, j), sizes),
                    _traced(lambda x, i=i, j=j: lax.dynamic_slice(x, (i, j), sizes), X45),
                    lax.dynamic_slice(X45, np.array([i, j]), sizes)):
            _assert_same(got, expected)
    batched = jg.vmap(lambda x, s: lax.dynamic_slice(x, s, sizes))(
        np.stack([X45] * len(starts)), np.array(starts))
    _assert_same(batched, np.stack([X45[_dynamic_slice_ref(X45, s, sizes)] for s in starts]))


@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_dynamic_update_slice_matches_clamped_numpy_assignment(sizes):
    upd = -1.0 - np.arange(int(np.prod(sizes)), dtype=float).reshape(sizes)
    f = jg.jit(lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)))
    for i, j in STARTS:
        expected = X45.copy()
        expected[_dynamic_slice_ref(X45, (i, j), sizes)] = upd
        for got in (f(X45, upd, i, j), lax.dynamic_update_slice(X45, upd, (i, j)),
                    _traced(lambda x, u, i=i, j=j: lax.dynamic_update_slice(x, u, (i, j)),
                            X45, upd)):
            _assert_same(got, expected)
    batched = jg.vmap(lambda s: lax.dynamic_update_slice(X45, upd, s))(np.array(STARTS))
    expected = []
    for s in STARTS:
        e = X45.copy()
        e[_dynamic_slice_ref(X45, s, sizes)] = upd
        expected.append(e)
    _assert_same(batched, np.stack(expected))


def test_dynamic_slices_are_differentiable():
    for i in (0, 2, -1, 9):
        jg.check_grads(lambda x, i=i: lax.dynamic_slice(x, (i, 1), (2, 3)) ** 2, (X45,),
                       order=2)
        jg.check_grads(lambda x, u, i=i: lax.dynamic_update_slice(x, u * u, (1, i)),
                       (X45, R(2, 3)), order=2)
        jg.check_grads(lambda x, i=i: lax.dynamic_index_in_dim(x, i, 1, keepdims=False),
                       (X45,))
        jg.check_grads(lambda x, u, i=i: lax.dynamic_update_index_in_dim(x, u, i, 0),
                       (X45, R(5)))
    g = jg.jit(jg.grad(lambda x, u, i: jnp.sum(lax.dynamic_update_slice(x, u, (i, 1)) ** 2),
                       argnums=(0, 1)))
    gx, gu = g(X45, R(2, 3), 1)
    expected = 2 * X45
    expected[1:3, 1:4] = 0
    _assert_same(gx, expected)


def test_dynamic_slice_variants_and_errors():
    x = R(3, 4, 2)
    _assert_same(lax.dynamic_slice_in_dim(x, -1, 2, axis=1), x[:, 2:4])
    _assert_same(jg.jit(lambda x, i: lax.dynamic_slice_in_dim(x, i, 2, axis=-1))(x, 1),
                 x[:, :, 0:2])
    _assert_same(jg.jit(lambda x, i: lax.dynamic_index_in_dim(x, i, axis=1))(x, 2), x[:, 2:3])
    _assert_same(jg.jit(lambda x, u, i: lax.dynamic_update_slice_in_dim(x, u, i, axis=0))(
        x, np.zeros((1, 4, 2)), 5), np.concatenate([x[:2], np.zeros((1, 4, 2))]))
    _assert_same(jg.jit(lambda x, i: lax.dynamic_slice(
        x, (i, i, i), (1, 1, 1), allow_negative_indices=False))(x, -1), x[:1, :1, :1])
    _assert_same(lax.dynamic_update_slice(np.array(1.0), np.array(2.0), ()), np.array(2.0))
    f32 = R(4, dtype=np.float32)
    assert jg.jit(lambda x, i: lax.dynamic_update_slice(x, x[:2], (i,)))(f32, 1).dtype == \
        np.float32
    with pytest.raises(ShapeError, match="does not fit"):
        lax.dynamic_slice(x, (0, 0, 0), (4, 1, 1))
    with pytest.raises(ShapeError, match="needs 3 start indices"):
        jg.jit(lambda x, i: lax.dynamic_slice(x, (i,), (1,)))(x, 0)
    with pytest.raises(JitgradTypeError, match="integer scalars"):
        jg.jit(lambda x, i: lax.dynamic_slice(x, (i, 0, 0), (1, 1, 1)))(x, 0.5)
    with pytest.raises(ShapeError, match="rank and dtype"):
        lax.dynamic_update_slice(x, np.zeros((1, 1, 1), np.float32), (0, 0, 0))


LX = np.array([[-2.5, -0.5, 0.5, 1.5], [2.5, 0.49999999999999994, -3.0, 7.25]])
LY = np.array([[1.5, -2.0, 0.75, 3.0], [-1.0, 2.0, 2.0, -2.0]])
LA, LB = np.arange(24.0).reshape(2, 3, 4), np.arange(40.0).reshape(2, 4, 5) / 7
LZ = np.array([[1.0, 3.0, 2.0, 3.0, -1.0], [5.0, 5.0, 5.0, 0.0, 1.0]])
XI, YI = np.array([7, -7, 6, -6, 0, 5]), np.array([2, 2, -4, -4, 3, -5])

# (call, numpy's reference): lax's names with lax's semantics where they differ from numpy's
# (C division and remainder, rounding halves away from zero, clamp's argument order,
# dot_general's output layout, top_k's tie order), checked against JAX 0.10 (x64) too.
LAX_CALLS = {
    "exp": (lambda: lax.exp(LX), np.exp(LX)),
    "rsqrt": (lambda: lax.rsqrt(np.abs(LX)), 1 / np.sqrt(np.abs(LX))),
    "max": (lambda: lax.max(LX, LY), np.maximum(LX, LY)),
    "pow": (lambda: lax.pow(np.abs(LX), LY), np.abs(LX) ** LY),
    "integer_pow": (lambda: lax.integer_pow(LX, -2), LX ** -2.0),
    "div int": (lambda: lax.div(XI, YI), np.trunc(XI / YI).astype(int)),
    "rem int": (lambda: lax.rem(XI, YI), np.fmod(XI, YI)),
    "rem": (lambda: lax.rem(LX, LY), np.fmod(LX, LY)),
    "round": (lambda: lax.round(LX), np.array([[-3.0, -1.0, 1.0, 2.0], [3.0, 0.0, -3.0, 7.0]])),
    "round even": (lambda: lax.round(LX, lax.RoundingMethod.TO_NEAREST_EVEN), np.round(LX)),
    "clamp": (lambda: lax.clamp(-1.0, LX, 1.0), np.clip(LX, -1.0, 1.0)),
    "reduce_prod": (lambda: lax.reduce_prod(LX, (0,)), np.prod(LX, 0)),
    "iota": (lambda: lax.iota(np.int32, 4), np.arange(4, dtype=np.int32)),
    "full_like": (lambda: lax.full_like(LX.astype(np.float32), 2),
                  np.full((2, 4), 2, np.float32)),
    "broadcast": (lambda: lax.broadcast(LX, (3,)), np.broadcast_to(LX, (3, 2, 4))),
    "reshape dims": (lambda: lax.reshape(LX, (4, 2), (1, 0)), LX.T.reshape(4, 2)),
    "rev": (lambda: lax.rev(LX, (0, 1)), LX[::-1, ::-1]),
    "slice": (lambda: lax.slice(LX, (0, 1), (2, 4), (1, 2)), LX[0:2, 1:4:2]),
    "slice_in_dim": (lambda: lax.slice_in_dim(LX, -3, None, axis=1), LX[:, -3:]),
    "index_in_dim": (lambda: lax.index_in_dim(LX, -1, axis=0, keepdims=False), LX[-1]),
    "concatenate": (lambda: lax.concatenate([LX, LY], 1), np.concatenate([LX, LY], 1)),
    "dot": (lambda: lax.dot(LX, LY[0]), LX @ LY[0]),
    "dot_general": (lambda: lax.dot_general(LB, LA, (((1,), (2,)), ((0,), (0,)))),
                    np.einsum("bkj,bik->bji", LB, LA)),
    "dot_general no batch": (lambda: lax.dot_general(LA, LA, (((0, 2), (0, 2)), ((), ()))),
                             np.einsum("bik,bjk->ij", LA, LA)),
    "batch_matmul": (lambda: lax.batch_matmul(LA, LB), LA @ LB),
    "cumsum reverse": (lambda: lax.cumsum(LX, 1, reverse=True),
                       np.cumsum(LX[:, ::-1], 1)[:, ::-1]),
    "cumprod reverse": (lambda: lax.cumprod(LX, 0, reverse=True),
                        np.cumprod(LX[::-1], 0)[::-1]),
    "cummax reverse": (lambda: lax.cummax(LX, 1, reverse=True),
                       np.maximum.accumulate(LX[:, ::-1], 1)[:, ::-1]),
    "argmax": (lambda: lax.argmax(LX, 1, np.int32), np.argmax(LX, 1).astype(np.int32)),
    "sort tuple": (lambda: lax.sort((LX[0], LY[0])),
                   (np.sort(LX[0]), LY[0][np.argsort(LX[0])])),
    "top_k": (lambda: lax.top_k(LZ, 3), [np.array([[3.0, 3.0, 2.0], [5.0, 5.0, 5.0]]),
                                         np.array([[1, 3, 2], [0, 1, 2]], np.int32)]),
    "select_n": (lambda: lax.select_n(np.array([[0, 1, 2, 0], [2, 2, 1, 0]]), LX, LY, LX * LY),
                 np.choose(np.array([[0, 1, 2, 0], [2, 2, 1, 0]]), [LX, LY, LX * LY])),
}


@pytest.mark.parametrize("name", list(LAX_CALLS))
def test_lax_names_have_laxs_semantics(name):
    call, expected = LAX_CALLS[name]
    _assert_same(call(), expected, rtol=1e-14)
    _assert_same(jg.jit(call)(), expected, rtol=1e-14)


def test_lax_names_differentiate_and_batch():
    jg.check_grads(lambda x: lax.clamp(-1.0, x, 1.0) * x, (LX * 0.9,), order=2)
    jg.check_grads(lambda a: jnp.sin(lax.dot_general(a, LB, (((2,), (1,)), ((0,), (0,))))),
                   (LA / 10,), order=1)
    jg.check_grads(lambda x: lax.top_k(x, 2)[0] ** 2, (LZ + np.arange(5) * 0.01,), order=1)
    jg.check_grads(lambda x: lax.cummax(x, 1, reverse=True) * lax.rsqrt(x * x + 1), (LX,),
                   order=1)
    np.testing.assert_array_equal(jg.vmap(lambda v: lax.slice_in_dim(v, 1, 3))(LX), LX[:, 1:3])
    np.testing.assert_array_equal(jg.grad(lambda x: jnp.sum(lax.round(x) * x))(LX),
                                  LAX_CALLS["round"][1])


def test_switch_picks_the_clamped_branch_traced_batched_and_differentiated():
    branches = [jnp.sin, jnp.cos, lambda x: x ** 3]
    ref = [np.sin, np.cos, lambda x: x ** 3]
    f = jg.jit(lambda i, x: lax.switch(i, branches, x))
    for i in (-2, 0, 1, 2, 5):
        k = min(max(i, 0), 2)
        _assert_same(f(i, V), ref[k](V))
        _assert_same(lax.switch(i, branches, V), ref[k](V))
        jg.check_grads(lambda x, i=i: lax.switch(i, branches, x), (V,), order=2)
    idx = np.array([0, 2, 1, 7, -1])
    _assert_same(jg.vmap(lambda i, x: lax.switch(i, branches, x))(idx, np.full(5, 0.7)),
                 np.array([ref[min(max(i, 0), 2)](0.7) for i in idx]))
    assert lax.switch(0, [lambda a, b: a + b], 1.0, 2.0) == 3.0
    with pytest.raises(ShapeError, match="different types"):
        lax.switch(0, [lambda x: x, lambda x: x[:1]], V)
    with pytest.raises(JitgradTypeError, match="integer scalar"):
        lax.switch(0.5, branches, V)


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 7])
def test_map_matches_a_loop(batch_size):
    xs = {"a": R(5, 2), "b": R(5)}
    f = lambda d: jnp.sum(d["a"] ** 2) * d["b"]  # noqa: E731
    expected = np.array([f({"a": xs["a"][i], "b": xs["b"][i]}) for i in range(5)])
    _assert_same(lax.map(f, xs, batch_size=batch_size), expected)
    _assert_same(jg.jit(lambda xs: lax.map(f, xs, batch_size=batch_size))(xs), expected)
    jg.check_grads(lambda a: lax.map(lambda r: jnp.sin(r) * r[0], a, batch_size=batch_size),
                   (R(5, 2),), order=1)


CONTRACTIONS = [(jnp.matmul, np.matmul), (jnp.dot, np.dot), (jnp.tensordot, np.tensordot),
                (jnp.inner, np.inner), (jnp.vdot, np.vdot),
                (lambda a, b, **k: jnp.einsum("ij,kj->ik", a, b, **k),
                 lambda a, b: np.einsum("ij,kj->ik", a, b))]


@pytest.mark.parametrize("f,ref", CONTRACTIONS, ids=range(len(CONTRACTIONS)))
def test_precision_is_accepted_and_ignored(f, ref):
    for p in (None, lax.Precision.HIGHEST, "highest", "float32", lax.Precision("bfloat16"),
              (lax.Precision.HIGH, lax.Precision.DEFAULT)):
        _assert_same(jg.jit(lambda a, p=p: f(a, a, precision=p))(A), ref(A, A), 1e-14)
        _assert_same(f(A, A, precision=p), ref(A, A))
    assert lax.Precision("HIGHEST") is lax.Precision.HIGHEST


# ---------------------------------------------------------------------------------------------
# ravel_pytree, optimizers


TREES = [
    {"w": R(2, 3), "b": R(3), "s": 2.5},
    (R(2, dtype=np.float32), [R(1, 1, dtype=np.float32), ()]),
    (1.0, np.arange(3), [R(2)]),
    (),
    [R(0), R()],
]


@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_ravel_pytree_round_trips_and_differentiates(tree):
    flat, unravel = ravel_pytree(tree)
    leaves = tree_leaves(tree)
    assert flat.ndim == 1 and flat.size == sum(np.size(x) for x in leaves)
    assert flat.dtype == (np.result_type(*leaves) if leaves else np.float64)
    if leaves:
        np.testing.assert_array_equal(flat, np.concatenate([np.ravel(x) for x in leaves]))
    back = unravel(flat)
    assert jg.tree_util.tree_structure(back) == jg.tree_util.tree_structure(tree)
    for b, x in zip(tree_leaves(back), leaves, strict=True):
        assert np.shape(b) == np.shape(x) and np.asarray(b).dtype == np.result_type(x)
        np.testing.assert_array_equal(b, x)
    if leaves and all(is_float(np.result_type(x)) for x in leaves):
        g = jg.grad(lambda t: jnp.sum(ravel_pytree(t)[0] ** 2))(tree)
        for gl, x in zip(tree_leaves(g), leaves, strict=True):
            np.testing.assert_allclose(gl, 2 * np.asarray(x), rtol=1e-6)
        _assert_same(jg.jit(lambda v: unravel(v * 2))(flat), tree_map(lambda x: np.asarray(
            x * 2, np.result_type(x)), tree))
    with pytest.raises(ShapeError, match="expected a vector"):
        unravel(np.zeros(flat.size + 1))


def _reference_steps(name, x, grads):
    """Each optimizer's update rule, written out in numpy."""
    v, m, s = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for i, g in enumerate(grads):
        if name == "sgd":
            x = x - 0.1 * g
        elif name == "momentum":
            v = 0.9 * v + g
            x = x - 0.1 * v
        elif name == "nesterov":
            v = 0.9 * v + g
            x = x - 0.1 * (0.9 * v + g)
        elif name == "adagrad":
            s = s + g ** 2
            m = 0.1 * np.where(s > 0, g / np.sqrt(np.where(s > 0, s, 1)), 0) + 0.9 * m
            x = x - 0.1 * m
        elif name == "rmsprop":
            s = 0.9 * s + 0.1 * g ** 2
            x = x - 0.1 * g / np.sqrt(s + 1e-8)
        elif name == "rmsprop_momentum":
            s = 0.9 * s + 0.1 * g ** 2
            m = 0.9 * m + 0.1 * g / np.sqrt(s + 1e-8)
            x = x - m
        elif name == "adam":
            m = 0.1 * g + 0.9 * m
            s = 0.001 * g ** 2 + 0.999 * s
            x = x - 0.1 * (m / (1 - 0.9 ** (i + 1))) / (np.sqrt(s / (1 - 0.999 ** (i + 1)))
                                                         + 1e-8)
        elif name == "adamax":
            m = 0.1 * g + 0.9 * m
            s = np.maximum(0.999 * s, np.abs(g))
            x = x - (0.1 / (1 - 0.9 ** (i + 1))) * m / (s + 1e-8)
    return x


OPTIMIZERS = {"sgd": optimizers.sgd(0.1), "momentum": optimizers.momentum(0.1, 0.9),
              "nesterov": optimizers.nesterov(0.1, 0.9), "adagrad": optimizers.adagrad(0.1),
              "rmsprop": optimizers.rmsprop(0.1), "rmsprop_momentum":
              optimizers.rmsprop_momentum(0.1), "adam": optimizers.adam(0.1),
              "adamax": optimizers.adamax(0.1)}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_follow_their_update_rules_eager_and_jitted(name):
    init, update, get_params = OPTIMIZERS[name]
    params = {"w": R(2, 2), "b": np.float32(0.5)}
    grads = [{"w": signed(2, 2), "b": np.float32(k - 1.5)} for k in range(4)]
    step = jg.jit(update)
    eager, jitted = init(params), init(params)
    for i, g in enumerate(grads):
        eager, jitted = update(i, g, eager), step(i, g, jitted)
    for state in (eager, jitted):
        out = get_params(state)
        np.testing.assert_allclose(out["w"], _reference_steps(
            name, params["w"], [g["w"] for g in grads]), rtol=1e-12)
        assert np.asarray(out["b"]).dtype == np.float32  # float32 parameters stay float32
        np.testing.assert_allclose(out["b"], _reference_steps(
            name, np.float64(0.5), [np.float64(g["b"]) for g in grads]), rtol=1e-5)
    with pytest.raises(JitgradTypeError, match="structure"):
        update(0, {"w": np.zeros((2, 2))}, eager)


def test_schedules_and_gradient_utilities():
    sched = [optimizers.constant(0.5), optimizers.exponential_decay(1.0, 10, 0.5),
             optimizers.inverse_time_decay(1.0, 10, 1.0), optimizers.inverse_time_decay(
                 1.0, 10, 1.0, staircase=True), optimizers.polynomial_decay(1.0, 10, 0.1, 2.0),
             optimizers.piecewise_constant([3, 6], [1.0, 0.5, 0.25])]
    ref = [lambda i: 0.5, lambda i: 0.5 ** (i / 10), lambda i: 1 / (1 + i / 10),
           lambda i: 1 / (1 + i // 10), lambda i: 0.9 * (1 - min(i, 10) / 10) ** 2 + 0.1,
           lambda i: [1.0, 0.5, 0.25][(i > 3) + (i > 6)]]
    for s, r in zip(sched, ref, strict=True):
        for i in (0, 3, 4, 7, 15):
            np.testing.assert_allclose(s(i), r(i), rtol=1e-12)
            np.testing.assert_allclose(jg.jit(s)(i), r(i), rtol=1e-12)
    tree = {"a": np.array([3.0]), "b": [np.array([4.0])]}
    np.testing.assert_allclose(optimizers.l2_norm(tree), 5.0)
    np.testing.assert_allclose(tree_leaves(optimizers.clip_grads(tree, 1.0)), [[0.6], [0.8]])
    np.testing.assert_allclose(tree_leaves(optimizers.clip_grads(tree, 10.0)), [[3.0], [4.0]])
    init, update, get_params = optimizers.sgd(optimizers.exponential_decay(0.1, 1, 0.5))
    state = jg.jit(update)(3, np.array([1.0]), init(np.zeros(1)))
    np.testing.assert_allclose(get_params(state), [-0.1 * 0.5 ** 3])
    with pytest.raises(JitgradTypeError, match="one more value"):
        optimizers.piecewise_constant([1, 2], [1.0])


def test_flatten_func_is_autograds_and_differentiable():
    from jitgrad.misc import flatten
    from jitgrad.misc.flatten import flatten_func
    example = {"w": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": (np.array([0.5]), 2.0)}

    def f(p, scale):
        return {"out": scale * jnp.tanh(p["w"] @ p["b"][0].repeat(2)), "c": p["b"][1] ** 2}

    flat_f, unflatten, x0 = flat = flatten_func(f, example)
    assert len(flat) == 3
    np.testing.assert_array_equal(x0, flatten(example)[0])
    np.testing.assert_allclose(flat_f(x0, 3.0), flatten(f(example, 3.0))[0])
    np.testing.assert_array_equal(unflatten(x0)["w"], example["w"])
    jg.check_grads(lambda x: flat_f(x, 3.0), (x0,), order=2)
    np.testing.assert_allclose(jg.jit(flat_f)(x0, 3.0), flat_f(x0, 3.0))


def test_autograd_style_optimizers_run_on_pytrees():
    from jitgrad.misc import flatten
    from jitgrad.misc.optimizers import adam, rmsprop, sgd
    target = {"a": np.array([1.0, -2.0]), "b": 3.0}
    loss = lambda p: (jnp.sum((p["a"] - target["a"]) ** 2)  # noqa: E731
                      + (p["b"] - target["b"]) ** 2)
    seen = []
    for opt, kw in ((adam, dict(step_size=0.1, num_iters=500)), (sgd, dict(num_iters=500)),
                    (rmsprop, dict(step_size=0.01, num_iters=800))):
        out = opt(lambda p, i: jg.grad(loss)(p), {"a": np.zeros(2), "b": 0.0},
                  callback=lambda p, i, g: seen.append(i), **kw)
        np.testing.assert_allclose(flatten(out)[0], flatten(target)[0], atol=2e-2)
    assert seen[:3] == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# What jitgrad.numpy re-exports, random numbers, r_/c_, constant tables


def test_concrete_numpy_helpers_are_numpys_own():
    for name in ("seterr", "geterr", "errstate", "set_printoptions", "printoptions", "save",
                 "load", "savez", "loadtxt", "savetxt", "mgrid", "ogrid", "s_", "index_exp",
                 "ndindex", "ndenumerate", "unravel_index", "ravel_multi_index", "indices",
                 "tril_indices", "triu_indices", "tri", "logspace", "geomspace", "histogram",
                 "isscalar", "iterable", "promote_types", "can_cast", "broadcast_shapes",
                 "testing", "__version__", "number", "inexact"):
        assert getattr(jnp, name) is getattr(np, name), name
    with jnp.errstate(divide="ignore"):
        assert np.isinf(np.float64(1.0) / np.float64(0.0))


@pytest.mark.parametrize("name", ["bool", "bool_", "int_", "uint", "int8", "int64", "uint8",
                                  "float16", "float32", "float64", "single", "double",
                                  "complex128"])
def test_scalar_types_are_numpys_and_cast_traced_values(name):
    t, nt = getattr(jnp, name), getattr(np, name)
    assert t == nt and hash(t) == hash(nt) and np.dtype(t) == np.dtype(nt)
    assert issubclass(t, nt) and isinstance(nt(1), t) and type(t(1)) is nt
    assert np.zeros(2, t).dtype == nt and np.asarray(np.arange(3), t).dtype == nt
    if name.startswith("complex"):
        return  # traced complex values do not exist
    # np.int64(x) inside a differentiated function (autograd) or jnp.float32(x) (JAX) casts.
    x = np.array([0.0, 1.5, 2.5])  # not negative: casting those to unsigned is undefined
    for transform in [jg.vmap] + ([jg.jit] if name != "float16" else []):  # (no float16 jit)
        got = transform(lambda v: t(v))(x)
        assert got.dtype == np.dtype(nt)
        np.testing.assert_array_equal(got, x.astype(nt))


def test_scalar_type_cast_inside_grad():
    # autograd's test_cast_to_int: an index cast from the differentiated array itself.
    def f(w):
        return jnp.sum(w[:, :-1][jnp.int64(w[:, -1])])
    w = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]])
    np.testing.assert_array_equal(jg.grad(f)(w), [[1, 1, 0], [1, 1, 0]])
    with jnp.errstate(divide="ignore"):
        assert np.isinf(np.float64(1.0) / np.float64(0.0))


def test_numpy_random_is_numpys_generator_and_refuses_traced_values():
    import jitgrad.numpy.random as npr
    assert jnp.random is npr
    npr.seed(3)
    a = npr.randn(4)
    np.random.seed(3)
    np.testing.assert_array_equal(a, np.random.randn(4))
    assert isinstance(npr.RandomState(0), np.random.RandomState)
    assert set(npr.__all__) == set(np.random.__all__)
    np.testing.assert_allclose(jg.grad(lambda x: x * npr.RandomState(0).randn())(1.0),
                               np.random.RandomState(0).randn())
    with pytest.raises(TracerError, match="jitgrad.random"):
        jg.grad(lambda x: npr.normal(x, 1.0))(0.5)
    with pytest.raises(TracerError, match="jitgrad.random"):
        jg.jit(lambda x: npr.choice(x))(np.ones(3))


def test_r_and_c_concatenate_traced_arrays_as_numpy():
    c = R(2)
    cases = [lambda x: jnp.r_[x], lambda x: jnp.r_[x, c, 1:4], lambda x: jnp.r_[x, 2.0, x],
             lambda x: jnp.c_[x, c, x], lambda x: jnp.c_[x * 2, c]]
    for f in cases:
        _assert_same(_traced(f, V[:2]), f(V[:2]))
        jg.check_grads(f, (V[:2],), order=1)
    m = R(2, 2)
    _assert_same(_traced(lambda x: jnp.r_[x, m], m), np.r_[m, m])
    _assert_same(_traced(lambda x: jnp.c_[x, m], m), np.c_[m, m])
    assert type(jnp.r_[1:3]) is np.ndarray
    with pytest.raises(jg.UnsupportedError, match="string"):
        jg.jit(lambda x: jnp.r_["0,2", x])(V)


def test_where_takes_keywords_as_jax_and_autograd():
    c, x, y = np.array([True, False]), R(2), R(2)
    _assert_same(jnp.where(condition=c, x=x, y=y), np.where(c, x, y))
    _assert_same(jg.jit(lambda x, y: jnp.where(c, x=x, y=y))(x, y), np.where(c, x, y))
    _assert_same(jnp.where(c), np.where(c))
    with pytest.raises(ValueError, match="both or neither"):
        jnp.where(c, x)


def test_constant_arrays_made_by_jnp_are_indexable_by_traced_values():
    table = np.arange(12.0).reshape(3, 4)
    for make in (jnp.asarray, jnp.array):
        f = jg.jit(lambda i, j, make=make: make(table)[i, j] + make([1.0, 2.0])[j % 2])
        assert f(2, 3) == table[2, 3] + 2.0
        assert f(-1, 0) == table[-1, 0] + 1.0
        np.testing.assert_array_equal(
            jg.vmap(lambda i, make=make: make(table)[i])(np.array([2, 0])), table[[2, 0]])
        np.testing.assert_allclose(
            jg.grad(lambda x, i, make=make: x * make(table)[i, 1])(2.0, 1), 5.0)
    assert type(jnp.asarray(table)) is np.ndarray  # outside transformations: plain numpy
    assert jg.grad(lambda x: x * float(jnp.asarray([3.0, 4.0])[1]))(1.0) == 4.0
    assert repr(jg.jit(lambda x: x)(jnp.asarray(table))).startswith("array(")
    with pytest.raises(TracerError, match=r"jnp.asarray\(table\)\[i\]"):
        jg.jit(lambda i: table[i])(1)


def test_config_update_takes_jitgrads_switches_and_jaxs_meaningful_options():
    saved = vars(jg.config).copy()
    try:
        jg.config.update("jax_enable_x64", True)  # what jitgrad always does
        jg.config.update("jax_platform_name", "cpu")
        jg.config.update("jax_disable_jit", True)
        assert jg.config.disable_jit
        jg.config.update("jax_explain_cache_misses", True)  # the compile log gives reasons
        assert jg.config.log_compiles
        jg.config.update("matmul", "blas")
        assert jg.config.matmul == "blas"
        with pytest.warns(UserWarning, match="ignores"):
            jg.config.update("jax_default_matmul_precision", "highest")
        with pytest.raises(jg.UnsupportedError, match="jax_enable_x64 can only be True"):
            jg.config.update("jax_enable_x64", False)
        with pytest.warns(UserWarning, match="not checked"):
            jg.config.update("jax_debug_nans", True)
        with pytest.raises(jg.UnsupportedError, match="no such option"):
            jg.config.update("jax_no_such_option", True)
    finally:
        vars(jg.config).update(saved)
