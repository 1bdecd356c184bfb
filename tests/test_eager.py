"""Eager transformations carry concrete values: Python control flow on values works under grad,
vjp, jvp, jacfwd, jacrev, hessian and linearize (as in autograd), nests without perturbation
confusion, and the same functions under jit, make_ir and vmap still raise the clear
TracerError at the user's line."""

import gc
import inspect
import sys

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.core import Primitive

rng = np.random.default_rng(0)


def line_of(fn, text):
    """``file:line`` of the first line of ``fn``'s source containing ``text``."""
    lines, first = inspect.getsourcelines(fn)
    k = next(i for i, line in enumerate(lines) if text in line)
    return f"test_eager.py:{first + k}"


# --- autograd's tests/test_logic.py -----------------------------------------------------------


def test_assert_on_values_inside_grad():
    # autograd's test_assert (its issue 43): an assert on the values being differentiated.
    def fun(x):
        assert jnp.max(jnp.abs(x - (x * 3.0) / 3.0)) <= 1e-12 * jnp.max(jnp.abs(x))
        return jnp.sum(jnp.sin(x) * x)

    x = np.array([1.0, 2.0, 3.0])
    jg.check_grads(fun, (x,), order=2)
    np.testing.assert_allclose(jg.grad(fun)(x), np.cos(x) * x + np.sin(x), rtol=1e-13)

    def failing(x):
        assert jnp.sum(x) < 0, "the sum is not negative"
        return jnp.sum(x)

    with pytest.raises(AssertionError, match="not negative"):
        jg.grad(failing)(x)


def test_truthiness_of_traced_values_is_their_values():
    # autograd's test_falseyness: bool() of a differentiated value is the value's truthiness,
    # so `a if cond else b`, `and`/`or` and `not` follow the values, on either branch.
    def fun(x):
        return x ** 2 if x > 3.0 else jnp.sin(x) * (x or 1.0)

    for x, expected in [(2.0, np.cos(2.0) * 2.0 + np.sin(2.0)), (5.0, 10.0)]:
        np.testing.assert_allclose(jg.grad(fun)(x), expected, rtol=1e-14)
        jg.check_grads(fun, (x,), order=2)
    assert jg.grad(lambda x: x * 1.0 if not x else x * 3.0)(0.0) == 1.0  # 0.0 is falsy
    assert jg.grad(lambda x: x * 2.0 if x else x * 3.0)(-1.0) == 2.0


def test_truthiness_of_a_nondifferentiable_predicate_needs_no_derivative():
    # autograd's test_unimplemented_falseyness: branching on a function that has no derivative
    # (here argmax, with an integer result) works; only the branch taken is differentiated.
    def fun(x):
        return jnp.sum(x ** 2) if jnp.argmax(x) == 0 else jnp.sum(x ** 3)

    for x in (np.array([3.0, 1.0]), np.array([1.0, 3.0])):
        expected = 2 * x if x.argmax() == 0 else 3 * x ** 2
        np.testing.assert_allclose(jg.grad(fun)(x), expected)


def test_unimplemented_truthiness_and_derivatives_raise():
    # bool() of an array of several values is ambiguous, as in numpy and autograd; a
    # primitive without a vjp (jvp) rule raises NotImplementedError when differentiated
    # (autograd's test_no_vjp_def / test_no_jvp_def); under jit bool() raises TracerError.
    with pytest.raises(ValueError, match="ambiguous"):
        jg.grad(lambda x: jnp.sum(x) if x > 0 else -jnp.sum(x))(np.ones(2))
    twice = Primitive("twice_without_rules", lambda a: a, lambda a: 2.0 * a,
                      jg.core.Elementwise("2.0 * {0}"))
    with pytest.raises(NotImplementedError, match="twice_without_rules"):
        jg.grad(lambda x: twice.bind(x))(1.0)
    with pytest.raises(NotImplementedError, match="twice_without_rules"):
        jg.jvp(lambda x: twice.bind(x), (1.0,), (1.0,))
    with pytest.raises(jg.TracerError, match="bool"):
        jg.jit(jg.grad(lambda x: x ** 2 if x > 3.0 else x))(2.0)


# --- value-dependent loops --------------------------------------------------------------------


def sin_taylor(x, counts=None):
    """sin(x) by its Taylor series, summed until a term is negligible (autograd's README)."""
    ans = term = x
    i = 0
    while jnp.abs(term) > 1e-17:
        term = -term * x ** 2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + term
        i += 1
    if counts is not None:
        counts.append(i)
    return ans


def test_taylor_series_with_a_value_dependent_stopping_rule_to_order_two():
    for x in (0.3, 1.7, -2.5):
        np.testing.assert_allclose(jg.grad(sin_taylor)(x), np.cos(x), rtol=1e-13)
        np.testing.assert_allclose(jg.grad(jg.grad(sin_taylor))(x), -np.sin(x), rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(jg.jvp(jg.grad(sin_taylor), (x,), (1.0,))[1], -np.sin(x),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(jg.hessian(sin_taylor)(x), -np.sin(x), rtol=1e-12,
                                   atol=1e-15)
    counts = []
    for x in (0.3, 2.5):
        jg.grad(lambda x: sin_taylor(x, counts))(x)
    assert counts[0] < counts[1]  # the number of terms depends on x


def doubling(x):
    """x * 2**k for the smallest k with x * 2**k >= 10: its derivative is 2**k."""
    while x < 10.0:
        x = x * 2.0
    return x


def newton_sqrt(a):
    x = a
    while jnp.abs(x * x - a) > 1e-14 * a:
        x = 0.5 * (x + a / x)
    return x


@pytest.mark.parametrize("x,k", [(0.3, 6), (1.5, 3), (9.0, 1), (12.0, 0)])
def test_while_loop_with_a_value_dependent_trip_count_under_grad_and_jvp(x, k):
    assert jg.grad(doubling)(x) == 2.0 ** k
    y, t = jg.jvp(doubling, (x,), (1.0,))
    assert y == x * 2.0 ** k and t == 2.0 ** k
    np.testing.assert_allclose(jg.grad(newton_sqrt)(x), 0.5 / np.sqrt(x), rtol=1e-10)
    np.testing.assert_allclose(jg.jvp(newton_sqrt, (x,), (1.0,))[1], 0.5 / np.sqrt(x),
                               rtol=1e-10)
    np.testing.assert_allclose(jg.grad(jg.grad(newton_sqrt))(x), -0.25 * x ** -1.5, rtol=1e-8)


@pytest.mark.parametrize("fn,text", [(doubling, "while x < 10.0"),
                                     (newton_sqrt, "while jnp.abs"),
                                     (sin_taylor, "while jnp.abs(term)")])
@pytest.mark.parametrize("transform,arg", [
    (lambda f: jg.jit(jg.grad(f)), 0.3),
    (lambda f: jg.grad(jg.jit(f)), 0.3),
    (lambda f: jg.make_ir(jg.grad(f)), 0.3),
    (lambda f: jg.jit(lambda x: jg.jvp(f, (x,), (1.0,))), 0.3),
    (lambda f: jg.vmap(jg.grad(f)), np.array([0.3, 1.5])),
    (lambda f: jg.grad(lambda x: jnp.sum(jg.vmap(f)(x))), np.array([0.3, 1.5])),
    (lambda f: jg.grad(lambda x: jg.lax.cond(x > 0, f, lambda y: -y, x)), 0.3),
    (lambda f: lambda x: jg.jvp(lambda y: jg.lax.fori_loop(0, 2, lambda i, c: f(c), y), (x,),
                                (1.0,)), 0.3),
])
def test_the_same_functions_under_jit_raise_tracer_error_at_the_users_line(fn, text,
                                                                             transform, arg):
    # jit and make_ir trace abstract values, and so do vmap and lax bodies (also inside an
    # eager grad or jvp).
    with pytest.raises(jg.TracerError, match="jnp.where") as e:
        transform(fn)(arg)
    assert line_of(fn, text) in str(e.value)


# --- nesting ----------------------------------------------------------------------------------


def test_nested_grads_with_control_flow_on_outer_values_do_not_confuse_perturbations():
    def outer(x):
        def inner(y):  # the branch depends on the outer value and the inner one
            return y * x if x * y > 1.0 else y + x
        return jg.grad(inner)(2.0) * x

    assert jg.grad(outer)(3.0) == 6.0  # inner' = x, outer = x**2
    assert jg.grad(outer)(0.1) == 1.0  # inner' = 1, outer = x
    # d/dx [x * d/dy (x + y)] is 1, not 2, also when a branch reads both
    assert jg.grad(lambda x: x * jg.grad(lambda y: x + y if y > 0 else x - y)(1.0))(3.0) == 1.0
    # forward over reverse and reverse over forward, with the loop inside
    np.testing.assert_allclose(jg.grad(lambda x: jg.jvp(doubling, (x,), (x,))[1])(1.5), 8.0)
    np.testing.assert_allclose(jg.jvp(jg.grad(lambda x: doubling(x) * x), (1.5,), (1.0,))[1],
                               16.0)


def test_jacobians_hessian_and_linearize_of_a_piecewise_function():
    def f(x):
        if jnp.sum(x) > 0:
            return jnp.sin(x) * jnp.sum(x ** 2)
        return jnp.cos(x) * x[0]

    def jac_ref(x):
        if x.sum() > 0:
            return np.diag(np.cos(x)) * np.sum(x ** 2) + np.outer(np.sin(x), 2 * x)
        return -np.diag(np.sin(x)) * x[0] + np.outer(np.cos(x), np.eye(len(x))[0])

    for x in (np.array([0.5, 1.0, -0.2]), np.array([-0.5, 0.2, -1.0])):
        np.testing.assert_allclose(jg.jacfwd(f)(x), jac_ref(x), rtol=1e-13)
        np.testing.assert_allclose(jg.jacrev(f)(x), jac_ref(x), rtol=1e-13)
        y, f_jvp = jg.linearize(f, x)
        np.testing.assert_allclose(f_jvp(np.ones(3)), jac_ref(x).sum(1), rtol=1e-13)
        g = lambda x: jnp.sum(f(x))  # noqa: E731
        np.testing.assert_allclose(jg.hessian(g)(x), jg.jacfwd(jg.jacrev(g))(x), rtol=1e-13)
        np.testing.assert_allclose(jg.hessian(g)(x), jg.jacrev(jg.jacfwd(g))(x), rtol=1e-13)


def test_python_conversions_give_concrete_values_and_constants():
    seen = []

    def f(x):
        seen.append((float(x[0]), int(x[1]), x[2].item(), bool(x[0] > 0), repr(x[0])))
        return jnp.sum(x * float(x[0]))  # float() is a constant: no derivative through it

    x = np.array([2.5, 3.7, -1.0])
    np.testing.assert_array_equal(jg.grad(f)(x), [2.5, 2.5, 2.5])
    assert seen[0][:4] == (2.5, 3, -1.0, True) and "2.5" in seen[0][4]
    assert jg.grad(lambda x: x * x.item())(3.0) == 3.0
    with pytest.raises(jg.TracerError, match="jnp.where"):
        jg.jit(f)(x)
    with pytest.raises(jg.TracerError, match="jitgrad.numpy"):  # np.asarray would drop it
        jg.grad(lambda x: np.sum(np.asarray(x) * x))(x)


# --- eager and jit agree --------------------------------------------------------------------


PROGRAMS = [
    (lambda x, y: jnp.sum(jnp.tanh(x) * y + x ** 2), (np.float32, np.float32)),
    (lambda x, y: jnp.sum(x * 2.0 + y) * 0.5, (np.float32, float)),
    (lambda x, y: jnp.sum(x * y), (float, np.float32)),
    (lambda x, y: jnp.mean(jnp.exp(-x * y)) + y, (np.float64, float)),
    (lambda x, y: jnp.sum(jnp.where(x > 0, x, y * x)), (np.float64, np.float64)),
    (lambda x, y: jnp.sum(x @ jnp.transpose(x) * y), (np.float32, np.float32)),
]


@pytest.mark.parametrize("f,kinds", PROGRAMS)
def test_eager_and_jit_gradients_agree_in_values_and_dtypes(f, kinds):
    def arg(kind, shape):
        return 0.7 if kind is float else rng.uniform(-1, 1, shape).astype(kind)

    args = (arg(kinds[0], (3, 3)), arg(kinds[1], (3, 3)))
    vg = jg.value_and_grad(f, argnums=(0, 1))
    (value, grads), (value_jit, grads_jit) = vg(*args), jg.jit(vg)(*args)
    assert value.dtype == value_jit.dtype
    np.testing.assert_allclose(value, value_jit, rtol=1e-5)
    for g, gj, a in zip(grads, grads_jit, args, strict=True):
        assert isinstance(g, np.ndarray) and g.dtype == np.asarray(a).dtype == gj.dtype
        np.testing.assert_allclose(g, gj, rtol=1e-5, atol=1e-6)


def test_grad_and_jvp_of_jit_keep_running_the_same_compiled_programs(monkeypatch):
    # Each eager call transforms the jit_call anew: its transformed programs must be found
    # again, not compiled again.
    jit_module = sys.modules["jitgrad.jit"]
    compiled = []
    original = jit_module._compile
    monkeypatch.setattr(jit_module, "_compile", lambda ir: compiled.append(ir) or original(ir))
    jf = jg.jit(lambda x: jnp.sum(jnp.tanh(x) * x))
    g = jg.grad(lambda x: jf(x) * 2.0)
    h = lambda x: jg.jvp(jf, (x,), (np.ones_like(x),))[1]  # noqa: E731
    x = rng.standard_normal(5)
    dfdx = np.tanh(x) + x * (1 - np.tanh(x) ** 2)
    for k in range(3):
        np.testing.assert_allclose(g(x), 2 * dfdx, rtol=1e-13)
        np.testing.assert_allclose(h(x), np.sum(dfdx), rtol=1e-13)
        if k == 0:
            first = len(compiled)
    assert len(compiled) == first and jf.trace_count == 1


def test_vjp_runs_the_forward_pass_once_and_pulls_back_many_times():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.sin(x) * 2.0 if jnp.sum(x) > 0 else x

    x = rng.uniform(0.1, 1, 3)
    y, f_vjp = jg.vjp(f, x)
    for ct in (np.ones(3), np.arange(3.0)):
        np.testing.assert_allclose(f_vjp(ct)[0], 2 * np.cos(x) * ct, rtol=1e-14)
    np.testing.assert_allclose(jg.vmap(f_vjp)(np.eye(3))[0], np.diag(2 * np.cos(x)),
                               rtol=1e-14)
    assert len(calls) == 1


def test_hessian_at_a_python_float():
    # Regression: the jvp of x**2 at a Python-float primal multiplied the Python int 2 by it,
    # staging an int64 and a float64 operand into one mul (a ShapeError under jacfwd).
    f = lambda x: x * x ** 2  # noqa: E731
    for h in (jg.hessian(f), jg.jit(jg.hessian(f)), jg.jacfwd(jg.grad(f))):
        np.testing.assert_allclose(h(0.3), 1.8, rtol=1e-15)


def test_custom_vjp_whose_forward_returns_a_python_float():
    @jg.custom_vjp
    def f(x):
        return x * 2.0

    f.defvjp(lambda x: (2.0, None), lambda res, g: (g * 5.0,))  # its own value, its own rule
    for vg in (jg.value_and_grad(lambda x: f(x) * x),
               jg.jit(jg.value_and_grad(lambda x: f(x) * x))):
        value, g = vg(1.0)
        assert value == 2.0 and g == 7.0


def test_an_eager_gradient_leaves_no_reference_cycles():
    # Regression: tree_flatten/tree_unflatten recursed through nested closures, reference
    # cycles that held the leaves (gradients) until the garbage collector ran: with it off, as
    # in a benchmark, memory grew call after call.
    # Only garbage of jitgrad's making counts: other tests' background threads (Dask's event
    # loop) may leave cycles of their own while this runs.
    params = [np.ones((3, 2)), np.ones(2)]
    g = jg.grad(lambda p, x: jnp.sum(jnp.tanh(x @ p[0] + p[1])))
    g(params, np.ones((4, 3)))
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        g(params, np.ones((4, 3)))
        gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, np.ndarray)
                or str(getattr(o, "__module__", "")).startswith("jitgrad")
                or type(o).__module__.startswith("jitgrad")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not ours, ours[:5]


def test_a_value_kept_from_an_earlier_gradient_is_refused():
    saved = []
    jg.grad(lambda x: saved.append(x) or jnp.sum(x))(np.ones(2))
    with pytest.raises(jg.TracerError, match="escaped"):
        jg.grad(lambda y: jnp.sum(y * saved[0]))(np.ones(2))
    with pytest.raises(jg.TracerError, match="escaped"):
        jg.grad(lambda y: jnp.sum(jnp.sin(saved[0]) * y))(np.ones(2))
