"""vmap, jacfwd/jacrev/hessian, linearize, control flow, checkpoint, custom_jvp, eval_shape;
and the Autodidax-style stress test nesting jit, grad, jvp and vmap in every order."""

import itertools

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import lax
from jitgrad.errors import JitgradTypeError, TracerError

rng = np.random.default_rng(0)


def numerical_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, float)
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


# --- vmap ----------------------------------------------------------------------------------


def test_vmap_in_axes_out_axes_and_pytrees():
    xs, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    f = lambda p, x: {"y": jnp.tanh(x @ p["w"]), "s": jnp.sum(x)}  # noqa: E731
    out = jg.vmap(f, in_axes=({"w": None}, 0))({"w": w}, xs)
    np.testing.assert_allclose(out["y"], np.tanh(xs @ w))
    np.testing.assert_allclose(out["s"], xs.sum(1))
    out = jg.vmap(lambda x: x * 2, in_axes=1, out_axes=1)(xs.T)
    np.testing.assert_allclose(out, xs.T * 2)
    out = jg.vmap(lambda x, y: x * y, in_axes=(0, None), out_axes=-1)(xs, 3.0)
    np.testing.assert_allclose(out, (xs * 3).T)


def test_nested_vmap_and_closures():
    xs, ys = rng.standard_normal(3), rng.standard_normal(4)
    out = jg.vmap(lambda x: jg.vmap(lambda y: jnp.sin(x * y))(ys))(xs)
    np.testing.assert_allclose(out, np.sin(np.outer(xs, ys)))


def test_per_example_gradients():
    w = rng.standard_normal(3)
    xs, ys = rng.standard_normal((5, 3)), rng.standard_normal(5)
    loss = lambda w, x, y: (jnp.dot(x, w) - y) ** 2  # noqa: E731
    g = jg.vmap(jg.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    np.testing.assert_allclose(g, [jg.grad(loss)(w, x, y) for x, y in zip(xs, ys, strict=True)])
    gj = jg.jit(jg.vmap(jg.grad(loss), in_axes=(None, 0, 0)))(w, xs, ys)
    np.testing.assert_allclose(gj, g)


def test_vmap_matmul_is_one_batched_matmul():
    w, xs = rng.standard_normal((3, 2)), rng.standard_normal((5, 3))
    ir = jg.make_ir(jg.vmap(lambda x: x @ w))(xs)
    assert sum(e.prim.name == "matmul" for e in ir.eqns) == 1


def test_vmap_errors_name_axes_and_sizes():
    with pytest.raises(ValueError, match=r"size 3 on axis 0.*size 4 on axis 0"):
        jg.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="out of range"):
        jg.vmap(lambda a: a, in_axes=2)(np.ones((3, 4)))


# --- Jacobians -----------------------------------------------------------------------------


def vec_fn(x):
    return jnp.stack([jnp.sin(x[0]) * x[1], x[0] ** 2 + jnp.exp(x[1] * x[2]), jnp.sum(x)])


def test_jacfwd_equals_jacrev_equals_numerical():
    x = rng.uniform(-1, 1, 3)
    jf, jr = jg.jacfwd(vec_fn)(x), jg.jacrev(vec_fn)(x)
    np.testing.assert_allclose(jf, jr, rtol=1e-12)
    np.testing.assert_allclose(jf, numerical_jacobian(vec_fn, x), rtol=1e-6, atol=1e-8)


def test_jacobians_of_pytrees_argnums_and_aux():
    p = {"a": rng.standard_normal(2), "b": rng.standard_normal(())}
    x = rng.standard_normal(2)

    def f(p, x):
        return {"u": p["a"] * x + p["b"], "v": jnp.sum(p["a"] ** 2)}, "aux"

    jf, aux = jg.jacfwd(f, argnums=(0, 1), has_aux=True)(p, x)
    jr, aux2 = jg.jacrev(f, argnums=(0, 1), has_aux=True)(p, x)
    assert aux == aux2 == "aux"
    for out in ("u", "v"):
        for a, b in zip(jg.tree_util.tree_leaves(jf[out]), jg.tree_util.tree_leaves(jr[out]),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(jf["u"][0]["a"], np.diag(x))
    np.testing.assert_allclose(jf["u"][1], np.diag(p["a"]))
    assert jf["v"][0]["b"].shape == ()


def test_hessian_equals_jacfwd_of_jacrev():
    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x = rng.uniform(-1, 1, 4)
    h = jg.hessian(rosen)(x)
    np.testing.assert_allclose(h, jg.jacfwd(jg.jacrev(rosen))(x))
    np.testing.assert_allclose(h, jg.jacrev(jg.jacrev(rosen))(x), rtol=1e-12)
    np.testing.assert_allclose(h, numerical_jacobian(jg.grad(rosen), x), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(jg.jit(jg.hessian(rosen))(x), h)


def test_linearize_runs_forward_once():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.sin(x) * x

    x = rng.standard_normal(3)
    y, f_jvp = jg.linearize(f, x)
    for t in (np.ones(3), np.arange(3.0)):
        np.testing.assert_allclose(f_jvp(t), jg.jvp(f, (x,), (t,))[1])
    np.testing.assert_allclose(y, np.sin(x) * x)
    assert len(calls) == 1 + 2  # linearize traces once; the two jvp references trace once each


def test_eval_shape():
    out = jg.eval_shape(lambda x, y: {"z": x @ y, "s": jnp.sum(x)},
                        np.ones((3, 4), np.float32), np.ones((4, 5), np.float32))
    assert out["z"].shape == (3, 5) and out["z"].dtype == np.float32 and out["s"].shape == ()


# --- control flow --------------------------------------------------------------------------


def rnn(params, xs):
    w, u = params

    def step(h, x):
        h = jnp.tanh(h @ w + x * u)
        return h, jnp.sum(h)

    h, ys = lax.scan(step, jnp.zeros(2), xs)
    return jnp.sum(h) + jnp.sum(ys)


def rnn_unrolled(params, xs):
    w, u = params
    h, total = np.zeros(2), 0.0
    for x in xs:
        h = jnp.tanh(h @ w + x * u)
        total = total + jnp.sum(h)
    return jnp.sum(h) + total


def test_scan_gradients_vs_unrolled_and_finite_differences():
    params = (rng.standard_normal((2, 2)) * 0.5, rng.standard_normal(2))
    xs = rng.standard_normal((5, 1))
    g = jg.grad(rnn)(params, xs)
    g_ref = jg.grad(rnn_unrolled)(params, xs)
    for a, b in zip(jg.tree_util.tree_leaves(g), jg.tree_util.tree_leaves(g_ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    jg.check_grads(lambda w: rnn((w, params[1]), xs), (params[0],), order=2)
    for a, b in zip(jg.tree_util.tree_leaves(jg.jit(jg.grad(rnn))(params, xs)),
                    jg.tree_util.tree_leaves(g), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_scan_reverse_and_xs_pytrees():
    xs = {"a": np.arange(4.0), "b": np.ones((4, 2))}
    c, ys = lax.scan(lambda c, x: (c + x["a"], x["b"] * c), 0.0, xs, reverse=True)
    assert c == 6.0
    np.testing.assert_allclose(ys[:, 0], [6.0, 5.0, 3.0, 0.0])


def test_cond_gradients_and_jit():
    f = lambda x: lax.cond(jnp.sum(x) > 0, lambda x: jnp.sin(x) * x, lambda x: x ** 3, x)  # noqa
    for x in (np.array([0.5, 0.3]), np.array([-0.5, 0.1])):
        jg.check_grads(lambda x: jnp.sum(f(x)), (x,), order=2)
        np.testing.assert_allclose(jg.jit(jg.grad(lambda x: jnp.sum(f(x))))(x),
                                   jg.grad(lambda x: jnp.sum(f(x)))(x))
        np.testing.assert_allclose(jg.vmap(f)(np.stack([x, -x])), np.stack([f(x), f(-x)]))


def test_cond_branches_of_different_types_name_both():
    with pytest.raises(ValueError, match=r"true_fun returns.*f64\[2\].*false_fun returns.*f64"):
        jg.jit(lambda x: lax.cond(x[0] > 0, lambda x: x, lambda x: jnp.sum(x), x))(np.ones(2))


def test_fori_loop_static_is_differentiable_dynamic_is_forward_only():
    body = lambda i, v: jnp.sin(v) + i * 0.1  # noqa: E731
    f = lambda x: lax.fori_loop(0, 4, body, x)  # noqa: E731

    def unrolled(x):
        for i in range(4):
            x = body(i, x)
        return x

    np.testing.assert_allclose(jg.grad(f)(0.3), jg.grad(unrolled)(0.3))
    jg.check_grads(f, (0.3,), order=2)
    dyn = lambda x, n: lax.fori_loop(0, n, body, x)  # noqa: E731
    np.testing.assert_allclose(jg.jit(dyn)(np.array(0.3), np.array(4)), unrolled(0.3))
    np.testing.assert_allclose(jg.jvp(lambda x: dyn(x, np.array(4)), (0.3,), (1.0,))[1],
                               jg.grad(unrolled)(0.3))
    with pytest.raises(TypeError, match="while_loop is not supported"):
        jg.jit(jg.grad(dyn))(np.array(0.3), np.array(4))


def test_while_loop_batched_predicate():
    f = lambda x: lax.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x)  # noqa: E731
    xs = np.array([1.0, 3.0, 11.0])
    np.testing.assert_allclose(jg.vmap(f)(xs), [16.0, 12.0, 11.0])


def test_control_flow_prints_nested_programs():
    text = str(jg.make_ir(rnn)((np.eye(2), np.ones(2)), np.ones((3, 1))))
    assert "scan[" in text and text.count("{ lambda") >= 2


# --- checkpoint and custom_jvp -------------------------------------------------------------


def saved_bytes(f, *args):
    """Bytes reverse mode stores between the forward and the backward pass."""
    from jitgrad.ad_checkpoint import saved_residuals
    return sum(aval.size * aval.dtype.itemsize for aval, _ in saved_residuals(f, *args))


def test_print_saved_residuals_names_arguments_and_producers(capsys):
    """JAX's ``ad_checkpoint.print_saved_residuals``: one line per saved value; under
    checkpoint only the arguments."""
    from jitgrad.ad_checkpoint import print_saved_residuals

    def f(w, x):
        return jnp.sum(jnp.sin(jnp.tanh(x @ w["a"])))

    w, x = {"a": np.ones((3, 2))}, np.ones((4, 3))
    print_saved_residuals(f, w, x)
    lines = capsys.readouterr().out.splitlines()
    assert "f64[4,3] from the argument x" in lines and "f64[4,2] output of cos" in lines
    print_saved_residuals(jg.checkpoint(f), w, x)
    assert capsys.readouterr().out.splitlines() == ["f64[3,2] from the argument w['a']",
                                                    "f64[4,3] from the argument x"]


def test_checkpoint_shrinks_residuals_and_keeps_gradients():
    def block(x):
        for _ in range(4):
            x = jnp.sin(jnp.tanh(x) * 1.1)
        return x

    x = rng.standard_normal(10_000)
    plain = lambda x: jnp.sum(block(x))  # noqa: E731
    remat = lambda x: jnp.sum(jg.checkpoint(block)(x))  # noqa: E731
    np.testing.assert_allclose(jg.grad(remat)(x), jg.grad(plain)(x), rtol=1e-12)
    np.testing.assert_allclose(jg.jit(jg.grad(remat))(x), jg.grad(plain)(x), rtol=1e-12)
    before, after = saved_bytes(plain, x), saved_bytes(remat, x)
    assert after <= before / 4, (before, after)  # only the input is kept


def test_checkpoint_takes_jaxs_keywords():
    """JAX's ``checkpoint(f, prevent_cse=, policy=, static_argnums=)``: static arguments are
    Python values (here a function and an int), nothing_saveable is the default (only the
    inputs are saved), everything_saveable is no checkpoint, other policies raise."""
    from jitgrad.ad_checkpoint import checkpoint_name

    def block(x, act, n):
        for _ in range(n):
            x = act(checkpoint_name(jnp.tanh(x) * 1.1, "h"))
        return x

    x = rng.standard_normal(10_000)
    plain = lambda x: jnp.sum(block(x, jnp.sin, 4))  # noqa: E731
    remat = jg.checkpoint(block, static_argnums=(1, 2), prevent_cse=False,
                          policy=jg.checkpoint_policies.nothing_saveable)
    np.testing.assert_allclose(jg.grad(lambda x: jnp.sum(remat(x, jnp.sin, 4)))(x),
                               jg.grad(plain)(x), rtol=1e-12)
    np.testing.assert_allclose(jg.jit(jg.grad(lambda x: jnp.sum(remat(x, jnp.sin, 4))))(x),
                               jg.grad(plain)(x), rtol=1e-12)
    before = saved_bytes(plain, x)
    assert saved_bytes(lambda x: jnp.sum(remat(x, jnp.sin, 4)), x) <= before / 4
    assert jg.checkpoint(block, policy=jg.checkpoint_policies.everything_saveable) is block
    def my_policy(prim, *avals, **params):
        return True

    with pytest.raises(jg.UnsupportedError, match="policy 'my_policy' is not supported"):
        jg.checkpoint(block, policy=my_policy)
    with pytest.raises(AttributeError, match="dots_saveable is not provided"):
        jg.checkpoint_policies.dots_saveable  # noqa: B018


def test_custom_jvp_forward_and_reverse():
    @jg.custom_jvp
    def f(x, y):
        return jnp.sin(x) * y

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), jnp.cos(x) * y * tx + jnp.sin(x) * ty

    x, y = rng.standard_normal(3), rng.standard_normal(3)
    jg.check_grads(lambda x, y: jnp.sum(f(x, y)), (x, y), order=2)
    np.testing.assert_allclose(jg.jit(jg.grad(lambda x: jnp.sum(f(x, y))))(x),
                               np.cos(x) * y)



def test_custom_jvp_defjvps_sums_one_rule_per_argument():
    """JAX's ``defjvps``: ``jvp_i(t_i, out, *primals)``, None for an argument without one."""
    f = jg.custom_jvp(lambda x, y: jnp.sin(x) * y)
    # deliberately not the true derivative in x (3 * y instead of cos(x) * y): the rule is used
    f.defjvps(lambda t, out, x, y: 3.0 * y * t, lambda t, out, x, y: jnp.sin(x) * t)
    x, y = np.array([0.3, -1.2]), np.array([2.0, 0.5])
    _, t = jg.jvp(f, (x, y), (np.ones(2), np.ones(2)))
    np.testing.assert_allclose(t, 3.0 * y + np.sin(x), rtol=1e-15)
    gx, gy = jg.grad(lambda x, y: jnp.sum(f(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, 3.0 * y)
    np.testing.assert_allclose(gy, np.sin(x))
    np.testing.assert_allclose(jg.jit(jg.grad(lambda x: jnp.sum(f(x, y))))(x), 3.0 * y)
    g = jg.custom_jvp(lambda x, y: x * y)
    g.defjvps(None, lambda t, out, x, y: x * t)
    assert jg.grad(g)(2.0, 5.0) == 0.0 and jg.grad(g, 1)(2.0, 5.0) == 2.0
    with pytest.raises(JitgradTypeError, match="defjvps got 1 rules for a call with 2"):
        h = jg.custom_jvp(lambda x, y: x * y)
        h.defjvps(lambda t, out, x, y: t)
        jg.grad(h)(1.0, 2.0)


def test_custom_jvp_and_vjp_nondiff_argnums():
    """JAX's ``nondiff_argnums``: Python values (here functions) the rules receive first;
    custom_vjp's fwd takes every argument in its place, bwd returns cotangents of the others;
    keyword arguments are bound by the function's signature."""
    from functools import partial

    @partial(jg.custom_jvp, nondiff_argnums=(0, 2))
    def app2(f, x, g):
        return f(g(x))

    @app2.defjvp
    def _(f, g, primals, tangents):
        (x,), (t,) = primals, tangents
        return f(g(x)), 3.0 * t

    cube, five = (lambda x: x ** 3), (lambda y: 5.0 * y)
    assert app2(cube, 3.0, five) == 3375.0
    assert jg.grad(app2, 1)(cube, 3.0, five) == 3.0
    assert jg.jit(jg.grad(lambda x: app2(cube, x, five)))(3.0) == 3.0
    assert jg.grad(lambda x: app2(cube, x, g=five))(3.0) == 3.0

    @partial(jg.custom_vjp, nondiff_argnums=(0,))
    def app(f, x, scale=1.0):
        return f(x) * scale

    app.defvjp(lambda f, x, scale: (app(f, x, scale), x),
               lambda f, x, g: (5.0 * g * x, 7.0 * g))
    assert app(cube, 2.0) == 8.0
    assert jg.grad(app, 1)(cube, 2.0) == 10.0
    assert jg.grad(app, 2)(cube, 2.0, 3.0) == 7.0
    assert jg.grad(lambda x: app(cube, x, scale=3.0))(2.0) == 10.0
    np.testing.assert_allclose(jg.jit(jg.vmap(jg.grad(lambda x: app(cube, x))))(
        np.array([1.0, 2.0])), [5.0, 10.0])
    with pytest.raises(JitgradTypeError, match="argument 0 is in nondiff_argnums but holds"):
        jg.grad(lambda x: app(x, x))(1.0)


def test_custom_rules_with_python_control_flow_outside_jit():
    """As JAX allows outside jit: a custom_jvp/custom_vjp function and its rules branching on
    the values (eager grad, jvp, jacfwd, second order); under jit a clear TracerError."""
    @jg.custom_jvp
    def f(x):
        if x > 0:
            return jnp.sin(x)
        return jnp.cos(x)

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), (2.0 if x > 0 else 3.0) * t

    assert jg.grad(f)(1.0) == 2.0 and jg.grad(f)(-1.0) == 3.0
    assert jg.jvp(f, (-1.0,), (1.0,)) == (np.cos(-1.0), 3.0)
    assert jg.jacfwd(f)(-1.0) == 3.0 and jg.grad(jg.grad(f))(1.0) == 0.0

    @jg.custom_vjp
    def g(x):
        return jnp.sin(x) if x > 0 else jnp.cos(x)

    g.defvjp(lambda x: (g(x), x), lambda x, ct: ((2.0 if x > 0 else 3.0) * ct,))
    assert jg.grad(g)(1.0) == 2.0 and jg.grad(g)(-1.0) == 3.0
    with pytest.raises(TracerError):
        jg.jit(jg.grad(f))(1.0)


def test_custom_vjp_fixed_point_with_nondiff_function_argument():
    """The fixed-point example of JAX's custom derivative tutorial: a custom_vjp whose
    function argument is non-differentiable and whose rules run while_loops (implicit
    differentiation of x = f(a, x)); the gradient of sqrt through Newton's iteration."""
    from functools import partial

    @partial(jg.custom_vjp, nondiff_argnums=(0,))
    def fixed_point(f, a, x_guess):
        def body(carry):
            _, x = carry
            return x, f(a, x)

        def cond(carry):
            x_prev, x = carry
            return jnp.abs(x_prev - x) > 1e-12

        return lax.while_loop(cond, body, (x_guess, f(a, x_guess)))[1]

    def fwd(f, a, x_init):
        x_star = fixed_point(f, a, x_init)
        return x_star, (a, x_star)

    def bwd(f, res, x_star_bar):
        a, x_star = res
        _, vjp_a = jg.vjp(lambda a: f(a, x_star), a)
        _, vjp_x = jg.vjp(lambda x: f(a, x), x_star)
        w = fixed_point(lambda _, u: x_star_bar + vjp_x(u)[0], None, x_star_bar)
        return vjp_a(w)[0], jnp.zeros_like(x_star)

    fixed_point.defvjp(fwd, bwd)

    def newton_sqrt(a):
        return fixed_point(lambda a, z: 0.5 * (z + a / z), a, a)

    assert abs(newton_sqrt(2.0) - np.sqrt(2.0)) < 1e-15
    np.testing.assert_allclose(jg.grad(newton_sqrt)(2.0), 0.5 / np.sqrt(2.0), rtol=1e-12)
    np.testing.assert_allclose(jg.jit(jg.grad(newton_sqrt))(2.0), 0.5 / np.sqrt(2.0),
                               rtol=1e-12)


# --- the stress test: depth-2 nestings of jit, grad, jvp, vmap on a small MLP ---------------

W1, B1 = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1
W2 = rng.standard_normal((4, 1)) * 0.5
XS = rng.standard_normal((5, 3))


def mlp(x):  # one example -> scalar
    return jnp.sum(jnp.tanh(jnp.tanh(x @ W1 + B1) @ W2))


def compose(outer, inner, jit=True):
    """outer(inner(mlp)); grad sums its function's output first (so it also applies after a
    vmap), jvp pushes a ones tangent; without ``jit`` the jits are left out (the reference)."""
    f, batch = mlp, 0
    for t in (inner, outer):
        if t == "grad":
            f = jg.grad(lambda x, f=f: jnp.sum(f(x)))
        elif t == "vmap":
            f, batch = jg.vmap(f), batch + 1
        elif t == "jvp":
            f = lambda x, f=f: jg.jvp(f, (x,), (jnp.ones_like(x),))[1]  # noqa: E731
        elif jit:
            f = jg.jit(f)
    x = [XS[0], XS, np.stack([XS, XS * 0.5])][batch]
    return f, x


@pytest.mark.parametrize("outer,inner", list(itertools.product(
    ["jit", "grad", "jvp", "vmap"], repeat=2)))
def test_stress_nested_transforms(outer, inner):
    f, x = compose(outer, inner)
    ref, _ = compose(outer, inner, jit=False)
    np.testing.assert_allclose(f(x), ref(x), rtol=1e-11, atol=1e-12)
    if "vmap" in (outer, inner) and "grad" not in (outer, inner):
        per_example = compose(inner if outer == "vmap" else outer, "jit", jit=False)[0]
        np.testing.assert_allclose(f(x), [per_example(xi) for xi in x], rtol=1e-11,
                                   atol=1e-12)


def test_custom_jvp_rule_closing_over_arrays_in_reverse_mode():
    """A rule that closes over a numpy array: its constants stay with the known part (reverse
    mode used to fail in partial evaluation)."""
    w = np.array([1.0, 2.0, 3.0])

    @jg.custom_jvp
    def f(x):
        return jnp.sum(jnp.sin(x) * w)

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), jnp.sum(t * jnp.cos(x) * w)

    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(jg.grad(f)(x), np.cos(x) * w)
    np.testing.assert_allclose(jg.jit(jg.grad(f))(x), np.cos(x) * w)


def test_vmap_of_custom_jvp_whose_batching_adds_constants():
    """Batching a gather by batched indices adds a constant (the per-example offsets); the
    batched custom_jvp call must keep it."""
    @jg.custom_jvp
    def pick(x, i):
        return x[i] * 2.0

    @pick.defjvp
    def _(primals, tangents):
        (x, i), (t, _) = primals, tangents
        return pick(x, i), t[i] * 2.0

    xs = np.arange(12.0).reshape(3, 4)
    idx = np.array([3, 0, 2])
    np.testing.assert_allclose(jg.vmap(pick)(xs, idx), xs[np.arange(3), idx] * 2.0)
    g = jg.vmap(jg.grad(lambda x, i: pick(x, i)))(xs, idx)
    np.testing.assert_allclose(g, 2.0 * np.eye(4)[idx])
