"""Compositions of transformations: higher order, closures, pytrees, has_aux, custom_vjp,
stop_gradient, and the printed IR."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.tree_util import register_pytree_node_class

rng = np.random.default_rng(0)


def f_scalar(x):
    return jnp.sin(x) * x ** 3


def test_grad_of_grad_scalar():
    x = 0.7
    d1 = jg.grad(f_scalar)(x)
    d2 = jg.grad(jg.grad(f_scalar))(x)
    d3 = jg.grad(jg.grad(jg.grad(f_scalar)))(x)
    np.testing.assert_allclose(d1, np.cos(x) * x ** 3 + 3 * x ** 2 * np.sin(x))
    np.testing.assert_allclose(
        d2, -np.sin(x) * x ** 3 + 6 * x ** 2 * np.cos(x) + 6 * x * np.sin(x))
    np.testing.assert_allclose(
        d3, -np.cos(x) * x ** 3 - 9 * x ** 2 * np.sin(x) + 18 * x * np.cos(x) + 6 * np.sin(x))


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_hess(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


def test_hessian_vector_products_jvp_of_grad():
    x = rng.uniform(-1, 1, 5)
    v = rng.standard_normal(5)
    _, hvp = jg.jvp(jg.grad(rosenbrock), (x,), (v,))
    np.testing.assert_allclose(hvp, rosen_hess(x) @ v, rtol=1e-10)
    # and reverse-over-reverse gives the same
    hvp2 = jg.grad(lambda x: jnp.sum(jg.grad(rosenbrock)(x) * v))(x)
    np.testing.assert_allclose(hvp2, rosen_hess(x) @ v, rtol=1e-10)


def test_grad_of_jvp_and_jvp_of_jvp():
    x = 0.4
    d2 = jg.grad(lambda x: jg.jvp(f_scalar, (x,), (1.0,))[1])(x)
    dd = jg.jvp(lambda x: jg.jvp(f_scalar, (x,), (1.0,))[1], (x,), (1.0,))[1]
    np.testing.assert_allclose(d2, jg.grad(jg.grad(f_scalar))(x))
    np.testing.assert_allclose(dd, d2)


def test_closure_over_outer_traced_value_no_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1 (perturbation confusion would give 2)
    f = lambda x: x * jg.grad(lambda y: x + y)(1.0)  # noqa: E731
    np.testing.assert_allclose(jg.grad(f)(3.0), 1.0)
    # d/dx d/dy (x*y)^2 = d/dx 2 x^2 y = 4 x y
    g = lambda x: jg.grad(lambda y: (x * y) ** 2)(2.0)  # noqa: E731
    np.testing.assert_allclose(jg.grad(g)(3.0), 4 * 3.0 * 2.0)
    # the same with forward mode inside reverse mode
    h = lambda x: jg.jvp(lambda y: x * y * y, (2.0,), (1.0,))[1]  # noqa: E731
    np.testing.assert_allclose(jg.grad(h)(3.0), 4.0)


def test_pytrees_argnums_and_has_aux():
    params = {"w": rng.standard_normal((3, 2)), "b": [rng.standard_normal(2), None]}
    x = rng.standard_normal((4, 3))

    def loss(p, x):
        y = jnp.tanh(x @ p["w"] + p["b"][0])
        return jnp.sum(y ** 2), {"y": y}

    (val, aux), g = jg.value_and_grad(loss, has_aux=True)(params, x)
    assert set(g) == {"w", "b"} and g["b"][1] is None
    y = np.tanh(x @ params["w"] + params["b"][0])
    np.testing.assert_allclose(val, np.sum(y ** 2))
    np.testing.assert_allclose(aux["y"], y)
    dy = 2 * y * (1 - y ** 2)
    np.testing.assert_allclose(g["w"], x.T @ dy)
    np.testing.assert_allclose(g["b"][0], dy.sum(0))
    g2, aux2 = jg.grad(loss, argnums=(0, 1), has_aux=True)(params, x)
    np.testing.assert_allclose(g2[1], dy @ params["w"].T)
    np.testing.assert_allclose(aux2["y"], y)


def test_registered_pytree_class():
    @register_pytree_node_class
    class Affine:
        def __init__(self, w, b):
            self.w, self.b = w, b

        def tree_flatten(self):
            return (self.w, self.b), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    m = Affine(np.array([1.0, 2.0]), np.array(0.5))
    g = jg.grad(lambda m, x: jnp.sum(m.w * x + m.b))(m, np.array([3.0, 4.0]))
    assert isinstance(g, Affine)
    np.testing.assert_allclose(g.w, [3.0, 4.0])
    np.testing.assert_allclose(g.b, 2.0)


def test_register_dataclass_data_and_meta_fields():
    """JAX's ``tree_util.register_dataclass``: data fields are children (differentiated,
    traced), meta fields part of the structure (a new value retraces jit)."""
    import dataclasses

    from jitgrad.tree_util import register_dataclass, tree_leaves, tree_structure

    @register_dataclass
    @dataclasses.dataclass
    class Layer:
        w: np.ndarray
        b: float
        act: str = dataclasses.field(default="tanh", metadata=dict(static=True))

    def out(layer, x):
        y = x @ layer.w + layer.b
        return jnp.sum(jnp.tanh(y) if layer.act == "tanh" else y)

    x, w = rng.standard_normal(3), rng.standard_normal((3, 2))
    g = jg.grad(out)(Layer(w, 0.5), x)
    assert isinstance(g, Layer) and g.act == "tanh"
    t = 1 - np.tanh(x @ w + 0.5) ** 2
    np.testing.assert_allclose(g.w, np.outer(x, t), rtol=1e-14)
    np.testing.assert_allclose(g.b, t.sum(), rtol=1e-14)
    f = jg.jit(out)
    assert f(Layer(w, 0.5, "id"), x) == pytest.approx(np.sum(x @ w + 0.5), rel=1e-14)
    f(Layer(w, 0.5), x)
    assert f.trace_count == 2
    assert tree_structure(Layer(w, 1.0)) != tree_structure(Layer(w, 1.0, "id"))

    class Pair:  # not a dataclass: fields named explicitly
        def __init__(self, x, tag):
            self.x, self.tag = x, tag

    register_dataclass(Pair, data_fields=["x"], meta_fields=["tag"])
    assert tree_leaves(Pair(np.ones(2), "t"))[0].shape == (2,)
    assert jg.grad(lambda p: jnp.sum(p.x ** 2))(Pair(np.ones(2), "t")).tag == "t"
    with pytest.raises(TypeError, match="both data_fields and meta_fields"):
        register_dataclass(Pair, data_fields=["x"])


def test_registered_class_with_unhashable_aux_data():
    """JAX's jit guide registers a class whose aux data is a dict: flattening, jit's cache
    (a new flag value retraces, an equal one does not) and grad work."""
    from jitgrad.tree_util import register_pytree_node, tree_flatten, tree_structure

    class Scaled:
        def __init__(self, x, mul):
            self.x, self.mul = x, mul

    register_pytree_node(Scaled, lambda s: ((s.x,), {"mul": s.mul}),
                         lambda aux, children: Scaled(*children, **aux))
    assert tree_structure(Scaled(1.0, True)) == tree_structure(Scaled(2.0, True))
    assert tree_structure(Scaled(1.0, True)) != tree_structure(Scaled(1.0, False))
    assert len({tree_flatten(Scaled(1.0, m))[1] for m in (True, False, True)}) == 2
    f = jg.jit(lambda s, y: s.x * y if s.mul else y)
    assert f(Scaled(2.0, True), 3.0) == 6.0 and f(Scaled(5.0, True), 3.0) == 15.0
    assert f(Scaled(2.0, False), 3.0) == 3.0 and f.trace_count == 2
    assert jg.grad(lambda s: s.x ** 2)(Scaled(3.0, True)).x == 6.0


def test_unused_inputs_get_zeros_of_their_dtype():
    g = jg.grad(lambda x, y: jnp.sum(x), argnums=(0, 1))(np.ones(3, np.float32),
                                                          np.ones((2, 2), np.float32))
    assert g[0].dtype == np.float32 and g[1].dtype == np.float32
    np.testing.assert_array_equal(g[1], np.zeros((2, 2)))
    assert isinstance(g[1], np.ndarray)


def test_vjp_and_jvp_api():
    x = rng.standard_normal((2, 3))
    out, f_vjp = jg.vjp(lambda x: (jnp.sin(x), jnp.sum(x)), x)
    ct = f_vjp((np.ones((2, 3)), 2.0))
    np.testing.assert_allclose(ct[0], np.cos(x) + 2.0)
    out, t = jg.jvp(lambda x, y: x * y, (x, 2.0), (np.ones_like(x), 0.5))
    np.testing.assert_allclose(t, 2.0 + 0.5 * x)
    out, f_vjp, aux = jg.vjp(lambda x: (jnp.sum(x), x.shape), x, has_aux=True)
    assert tuple(int(d) for d in aux) == x.shape


def test_vjp_runs_forward_once_and_backward_many_times():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.exp(x)

    x = rng.standard_normal(3)
    _, f_vjp = jg.vjp(f, x)
    for k in range(3):
        np.testing.assert_allclose(f_vjp(np.full(3, k))[0], k * np.exp(x))
    assert len(calls) == 1


def test_float32_stays_float32():
    x = rng.standard_normal(4).astype(np.float32)
    g = jg.grad(lambda x: jnp.sum(jnp.tanh(x) * 2.0 + x ** 2))(x)
    assert g.dtype == np.float32
    v, g = jg.value_and_grad(lambda x: jnp.mean(x * 0.5))(x)
    assert v.dtype == np.float32 and g.dtype == np.float32


def test_stop_gradient():
    x = 2.0
    np.testing.assert_allclose(jg.grad(lambda x: x * jg.stop_gradient(x))(x), 2.0)
    np.testing.assert_allclose(jg.jvp(lambda x: x * jg.stop_gradient(x), (x,), (1.0,))[1], 2.0)
    np.testing.assert_allclose(jg.grad(jg.grad(lambda x: jg.stop_gradient(x) * x ** 2))(x),
                               4.0)


def test_custom_vjp_replaces_the_rule_and_composes():
    @jg.custom_vjp
    def safe_log1pexp(x):
        return jnp.log(1 + jnp.exp(x))

    def fwd(x):
        return safe_log1pexp(x), x

    def bwd(x, g):
        return (g * jg.nn.sigmoid(x),)

    safe_log1pexp.defvjp(fwd, bwd)
    # The naive rule gives nan at x = 1000 (inf/inf); the custom rule gives 1.
    np.testing.assert_allclose(jg.grad(safe_log1pexp)(1000.0), 1.0)
    x = np.array([-1.0, 0.0, 2.0])
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(jg.grad(lambda x: jnp.sum(safe_log1pexp(x)))(x), s)
    # second order differentiates the user's backward rule
    np.testing.assert_allclose(jg.grad(jg.grad(safe_log1pexp))(0.5),
                               s2 := (1 / (1 + np.exp(-0.5))) * (1 - 1 / (1 + np.exp(-0.5))))
    np.testing.assert_allclose(jg.jvp(jg.grad(safe_log1pexp), (0.5,), (1.0,))[1], s2)
    # eager call is the plain function
    np.testing.assert_allclose(safe_log1pexp(0.0), np.log(2.0))


def test_custom_vjp_closing_over_outer_traced_value():
    def outer(a):
        @jg.custom_vjp
        def scale(x):
            return x * a

        scale.defvjp(lambda x: (x * a, None), lambda _, g: (g * a,))
        return jnp.sum(jg.grad(lambda x: jnp.sum(scale(x)))(np.ones(3)))

    np.testing.assert_allclose(jg.grad(outer)(2.0), 3.0)


def test_make_ir_of_grad_prints_backward_program():
    ir = jg.make_ir(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * x)))(np.ones(3))
    text = str(ir)
    assert "tanh" in text and "mul" in text and text.startswith("{ lambda a:f64[3] .")
    jg.core.typecheck(ir)


README_IR = """\
{ lambda a:f64[3,4] b:f64[4] .
  let c:f64[3,4] = broadcast_in_dim[dims=(1,) shape=(3, 4)] b
      d:f64[3,4] = mul a c
      e:f64[] = reduce_sum[axes=(0, 1)] d
  in ( e ) }"""


def test_golden_make_ir_printout_in_readme():
    ir = jg.make_ir(lambda a, b: jnp.sum(a * b))(np.ones((3, 4)), np.ones(4))
    assert str(ir) == README_IR
    import pathlib
    readme = pathlib.Path(__file__).parent.parent / "README.md"
    assert README_IR in readme.read_text()


def test_constants_are_printed_as_constvars():
    c = rng.standard_normal(3)
    ir = jg.make_ir(lambda x: x * c + 1.0)(np.ones(3))
    assert str(ir).startswith("{ lambda a:f64[3] ; b:f64[3] .")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_typecheck_catches_malformed_ir(dtype):
    ir = jg.make_ir(lambda x: jnp.sin(x) * 2)(np.ones(3, dtype))
    ir.eqns[0].outputs[0].aval = jg.core.ShapedArray((4,), dtype)
    with pytest.raises(jg.core.IRTypeError):
        jg.core.typecheck(ir)


def test_rules_given_python_scalars_of_different_types():
    """pow's derivative rule compares a Python-float exponent with the integer 0: under jit
    the two Python scalars must meet in a common dtype (a ShapeError before)."""
    x, t = np.array([1.0, 2.0]), np.ones(2)
    f = lambda x, t: jg.jvp(lambda x: x ** 3.0, (x,), (t,))  # noqa: E731
    np.testing.assert_allclose(jg.jit(f)(x, t)[1], 3 * x ** 2)
    np.testing.assert_allclose(f(x, t)[1], 3 * x ** 2)
