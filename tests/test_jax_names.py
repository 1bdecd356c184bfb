"""JAX's top-level names, so that a JAX program ports by changing its import lines: the public
submodules as attributes of ``jitgrad``, the device/inspection helpers, ``jax.tree``, the
tree_util additions, ``jax.debug.print``, ``jax.nn``'s activations (against their formulas)
and ``one_hot``, and ``jax.nn.initializers`` and stax's initialisation (the same numbers as
JAX's from the same key, computed by JAX in one XLA program)."""

import collections
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import nn, random
from jitgrad.nn import initializers
from jitgrad.tree_util import Partial, tree_all, tree_leaves, tree_map, tree_reduce

# ---------------------------------------------------------------------------------------------
# Submodules as attributes, imported on first access


def test_import_jitgrad_leaves_the_submodules_for_first_access():
    script = textwrap.dedent("""
        import sys
        import jitgrad as jax
        lazy = ("jitgrad.random", "jitgrad.scipy", "jitgrad.nn.initializers", "numba", "scipy")
        print(sorted(m for m in lazy if m in sys.modules), jax.random.key(3).tolist())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[] [0, 3]"


def test_submodules_are_attributes():
    assert float(jg.scipy.special.logsumexp(np.zeros(2))) == np.log(2)
    assert jg.example_libraries.stax.Dense and jg.example_libraries.optimizers.adam
    assert jg.flatten_util.ravel_pytree and jg.misc.flatten and jg.distributed
    assert jg.tree.map is jg.tree_util.tree_map and jg.debug.print
    assert jg.nn.initializers.glorot_normal is initializers.glorot_normal
    assert {"random", "scipy", "tree", "debug", "example_libraries"} <= set(dir(jg))
    assert "initializers" in dir(jg.nn) and "stax" in dir(jg.example_libraries)
    for module in (jg, jg.nn, jg.example_libraries):
        with pytest.raises(AttributeError, match=f"module '{module.__name__}' has no "
                                                 f"attribute 'no_such_name'"):
            module.no_such_name  # noqa: B018


# ---------------------------------------------------------------------------------------------
# Devices, arrays and inspection


def test_one_cpu_device():
    (device,) = jg.devices()
    assert jg.local_devices() == [device] and jg.devices("cpu") == [device]
    assert (device.platform, device.id) == ("cpu", 0)
    assert jg.device_count() == jg.local_device_count() == 1
    assert jg.default_backend() == "cpu"
    with pytest.raises(jg.UnsupportedError, match="CPU only"):
        jg.devices("gpu")


def test_device_put_get_and_block_until_ready_on_pytrees():
    tree = {"a": [1.0, np.float32(2.0)], "b": np.arange(3)}
    put = jg.device_put(tree, jg.devices()[0])
    assert all(isinstance(x, np.ndarray) for x in tree_leaves(put))
    assert put["a"][1].dtype == np.float32 and put["b"] is tree["b"]
    assert jg.device_get(put) == put and jg.block_until_ready(put) is put
    assert jg.block_until_ready(np.ones(2)).shape == (2,)
    # Inside a transformation: device_put keeps the tracer (differentiable), device_get raises.
    assert float(jg.grad(lambda x: jg.device_put(x) * 3.0)(1.0)) == 3.0
    with pytest.raises(jg.TracerError, match="device_get"):
        jg.grad(lambda x: jg.device_get(x) * 3.0)(1.0)
    with pytest.raises(jg.UnsupportedError, match="one device"):
        jg.device_put(1.0, "gpu")


def test_array_type_covers_numpy_arrays_scalars_and_tracers():
    assert isinstance(np.ones(2), jg.Array) and isinstance(np.float32(1.0), jg.Array)
    assert isinstance(jnp.asarray(np.ones(2)), jg.Array)
    assert not isinstance(1.0, jg.Array) and not isinstance([1.0], jg.Array)
    assert issubclass(np.ndarray, jg.Array) and not issubclass(float, jg.Array)
    seen = []

    def f(x):
        seen.append(isinstance(x, jg.Array))
        return x * 2.0

    jg.grad(f)(1.0)
    jg.vmap(f)(np.ones(2))
    jg.make_jaxpr(f)(1.0)
    assert seen == [True, True, True]


def test_typeof_and_jit_trace():
    """``jax.typeof`` and ``jit(f).trace(*args)`` (``.jaxpr``, ``.out_info``, ``.lower()``),
    as JAX's tutorials use them to show what a transformation sees."""
    seen = []
    jg.vmap(lambda x: seen.append(jg.typeof(x)) or x * 2)(np.arange(3.0))
    assert seen == [jg.ShapeDtypeStruct((), np.float64)]
    assert jg.typeof(np.ones((2, 3), np.float32)) == jg.ShapeDtypeStruct((2, 3), np.float32)
    assert jg.typeof(1.0).weak
    f = jg.jit(lambda x, n: {"y": jnp.sin(x) * n}, static_argnums=1)
    traced = f.trace(np.ones(3, np.float32), 2)
    assert "sin a" in str(traced.jaxpr) and f.trace_count == 0
    assert traced.out_info == {"y": jg.ShapeDtypeStruct((3,), np.float32)}
    assert traced.lower().fn(np.zeros(3, np.float32))[0].shape == (3,)


@pytest.mark.parametrize("name", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
def test_holomorphic_is_jaxs_keyword_with_a_clear_error_for_true(name):
    """JAX's ``holomorphic=`` keyword: False is the default; True needs complex numbers,
    which jitgrad refuses with its own error (not a TypeError about an unknown keyword)."""
    transform = getattr(jg, name)
    assert np.all(np.asarray(jg.tree_util.tree_leaves(
        transform(lambda x: x * x, holomorphic=False)(3.0))) > 0)
    with pytest.raises(jg.JitgradTypeError, match="holomorphic=True.*complex"):
        transform(jnp.sin, holomorphic=True)


def test_make_jaxpr_and_shape_dtype_struct():
    assert jg.make_jaxpr is jg.make_ir
    # what a notebook or an interactive session shows for make_jaxpr(f)(x) is the program
    ir = jg.make_jaxpr(lambda x: jnp.sin(x) * 2.0)(1.0)
    assert repr(ir) == str(ir) and "sin a" in repr(ir)
    spec = jg.ShapeDtypeStruct((3, 4), jnp.float32)
    assert (spec.shape, spec.dtype, spec.ndim, spec.size) == ((3, 4), np.float32, 2, 12)
    out = jg.eval_shape(lambda x: {"s": jnp.sum(x, axis=0), "m": x @ x.T}, spec)
    assert out["s"] == jg.ShapeDtypeStruct((4,), np.float32)
    assert (out["m"].shape, out["m"].dtype) == ((3, 3), np.float32)


def test_disable_jit_runs_python_and_restores_the_setting():
    seen = []
    f = jg.jit(lambda x: (seen.append(type(x)), x + 1)[1])
    before = jg.config.disable_jit
    with jg.disable_jit():
        assert jg.config.disable_jit
        np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    assert seen == [np.ndarray] and jg.config.disable_jit == before
    with pytest.raises(RuntimeError), jg.disable_jit():
        raise RuntimeError("the setting is restored on the way out")
    assert jg.config.disable_jit == before
    with jg.disable_jit(False):
        assert not jg.config.disable_jit


def test_ensure_compile_time_eval_named_call_and_named_scope():
    def f(x):
        with jg.ensure_compile_time_eval(), jg.named_scope("table"):
            table = jnp.cos(jnp.arange(4.0))
        assert type(table) is np.ndarray  # computed at once, not staged
        return jg.named_call(lambda y: y * table[3], name="scale")(x)

    assert "cos" not in str(jg.make_jaxpr(f)(1.0))
    assert float(jg.grad(f)(2.0)) == np.cos(3.0)
    with pytest.raises(jg.JitgradTypeError, match="string"), jg.named_scope(3):
        pass


# ---------------------------------------------------------------------------------------------
# Pytrees: jax.tree and the tree_util additions


def test_jax_tree_names():
    tree = {"b": (1, 2), "a": [3, None]}
    leaves, treedef = jg.tree.flatten(tree)
    assert leaves == jg.tree.leaves(tree) == [3, 1, 2]
    assert jg.tree.unflatten(treedef, [30, 10, 20]) == {"a": [30, None], "b": (10, 20)}
    assert jg.tree.structure(tree) == treedef
    assert jg.tree.map(lambda x, y: x + y, tree, tree) == {"a": [6, None], "b": (2, 4)}
    assert jg.tree.reduce(max, tree) == 3 and jg.tree.reduce(max, tree, 7) == 7
    assert jg.tree.all([True, {"x": 1}]) and not jg.tree.all((1, 0))
    assert jg.tree.transpose(jg.tree.structure([0, 0, 0]), None,
                             [(1, 2), (3, 4), (5, 6)]) == ([1, 3, 5], [2, 4, 6])


def test_is_leaf_and_reduce():
    tree = {"x": (1, 2), "y": [(3,), 4]}
    tup = lambda v: isinstance(v, tuple)  # noqa: E731
    assert tree_leaves(tree, is_leaf=tup) == [(1, 2), (3,), 4]
    assert jg.tree_util.tree_structure(tree, is_leaf=tup).num_leaves == 3
    assert tree_map(len, {"x": (1, 2), "y": [(3,)]}, is_leaf=tup) == {"x": 2, "y": [1]}
    assert tree_map(lambda a, b: a + b, {"x": (1, 2)}, {"x": (10, 20)},
                    is_leaf=tup) == {"x": (1, 2, 10, 20)}
    assert tree_reduce(lambda a, b: a * b, tree) == 24
    assert tree_reduce(lambda a, b: a + b, tree, 100) == 110
    with pytest.raises(TypeError):
        tree_reduce(max, [])
    assert tree_reduce(max, [], 5) == 5
    assert tree_all([]) and tree_all({"a": np.array(True)})
    assert not tree_all([True, np.array(False)], is_leaf=None)


def test_tree_map_takes_deeper_trees_after_the_first():
    """As JAX: the other trees may have subtrees where the first has leaves."""
    assert tree_map(lambda n, xs: n * len(xs), [1, {"a": 2}], [(0,), {"a": [0, 0]}]) == [
        1, {"a": 4}]
    with pytest.raises(ValueError, match="tree_map: structures differ"):
        tree_map(lambda a, b: a, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="tree_map: structures differ"):
        tree_map(lambda a, b: a, {"a": 1}, {"b": 1})
    with pytest.raises(ValueError, match="tree_map: structures differ"):
        tree_map(lambda a, b: a, [(1,)], [5])


def test_key_paths():
    Point = collections.namedtuple("Point", ["x", "y"])
    tree = {"w": [1, Point(2, None)], "b": (3,), "p": Partial(max, 4)}
    pairs, treedef = jg.tree_util.tree_flatten_with_path(tree)
    assert [leaf for _, leaf in pairs] == tree_leaves(tree)
    assert treedef == jg.tree_util.tree_structure(tree)
    assert [jg.tree_util.keystr(p) for p, _ in pairs] == [
        "['b'][0]", "['p'][<flat index 0>][0]", "['w'][0]", "['w'][1].x"]
    assert [jg.tree_util.keystr(p, simple=True, separator="/") for p, _ in pairs] == [
        "b/0", "p/0/0", "w/0", "w/1/x"]
    assert pairs[3][0] == (jg.tree_util.DictKey("w"), jg.tree_util.SequenceKey(1),
                           jg.tree_util.GetAttrKey("x"))
    assert jg.tree.leaves_with_path(tree) == pairs
    doubled = jg.tree.map_with_path(lambda p, x, y: (len(p), x + y), tree, tree)
    assert doubled["w"][1].x == (3, 4) and doubled["b"] == ((2, 6),)
    tup = lambda v: isinstance(v, tuple)  # noqa: E731
    assert jg.tree.flatten_with_path(tree, is_leaf=tup)[0][0] == ((jg.tree_util.DictKey("b"),),
                                                                  (3,))


def test_dataclasses_keyed_and_static_nodes_through_jit_and_grad():
    """register_dataclass (data and static fields), register_pytree_with_keys(_class),
    register_static: leaves, key paths, structure (a static field is part of jit's cache
    key), and gradients with the same structure; tree_broadcast and the treedef helpers."""
    import dataclasses

    tu = jg.tree_util

    @tu.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class Layer:
        w: object
        b: object
        act: str = dataclasses.field(default="tanh", metadata=dict(static=True))

    layer = Layer(np.array([1.0, 2.0]), np.array(0.5))
    assert [jg.tree_util.keystr(p) for p, _ in tu.tree_leaves_with_path(layer)] == [".w", ".b"]

    def loss(layer, x):
        return jnp.sum(getattr(jnp, layer.act)(layer.w * x + layer.b))

    f = jg.jit(jg.grad(loss))
    g = f(layer, np.array([0.3, -0.1]))
    assert isinstance(g, Layer) and g.act == "tanh"
    x = np.array([0.3, -0.1])
    np.testing.assert_allclose(g.w, x * (1 - np.tanh(layer.w * x + 0.5) ** 2), rtol=1e-13)
    f(dataclasses.replace(layer, act="sin"), x)
    f(dataclasses.replace(layer, w=np.array([3.0, 4.0])), x)
    assert f.trace_count == 2  # a new static field traces again, new leaf values do not

    @tu.register_static
    class Mode:
        def __hash__(self):
            return 1

        def __eq__(self, other):
            return isinstance(other, Mode)

    assert tu.tree_leaves({"m": Mode(), "v": 2}) == [2]

    @tu.register_pytree_with_keys_class
    class Box:
        def __init__(self, v):
            self.v = v

        def tree_flatten_with_keys(self):
            return ((tu.GetAttrKey("v"), self.v),), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert tu.keystr(tu.tree_leaves_with_path(Box([1]))[0][0]) == ".v[0]"
    assert jg.grad(lambda b: jnp.sum(b.v ** 2))(Box(np.array([1.0, 2.0]))).v.tolist() == [2, 4]

    assert tu.tree_broadcast((1, [2]), ({"a": 3, "b": 4}, [(5, 6)])) == ({"a": 1, "b": 1},
                                                                       [(2, 2)])
    assert jg.tree.broadcast is tu.tree_broadcast
    td = tu.tree_structure((1, [2, 3]))
    assert tu.treedef_children(td)[1] == tu.tree_structure([0, 0])
    assert tu.treedef_tuple(tu.treedef_children(td)) == td
    assert tu.treedef_is_leaf(tu.tree_structure(None)) is False
    assert td.num_nodes == 5 and td.unflatten([4, 5, 6]) == (4, [5, 6])
    assert tu.all_leaves([1, np.ones(2)]) and not tu.all_leaves([[1]])
    assert tu.flatten_one_level((1, (2,))) == ((1, (2,)), None)
    with pytest.raises(ValueError, match="leaf"):
        tu.flatten_one_level(1.0)


def test_tree_transpose_checks_structures():
    outer, inner = jg.tree_util.tree_structure([0, 0]), jg.tree_util.tree_structure((0, 0))
    out = jg.tree_util.tree_transpose(outer, inner, [(1, 2), (3, 4)])
    assert out == ([1, 3], [2, 4])
    with pytest.raises(ValueError, match="tree_transpose"):
        jg.tree_util.tree_transpose(outer, inner, [(1, 2), (3, 4, 5)])


def test_partial_is_a_pytree_through_transformations():
    scale = Partial(jnp.multiply, np.array([1.0, 2.0]))
    assert tree_leaves(scale)[0] is scale.args[0]
    doubled = tree_map(lambda v: v * 2, scale)
    assert isinstance(doubled, Partial) and doubled.func is jnp.multiply
    np.testing.assert_array_equal(doubled(1.0), [2.0, 4.0])
    apply = lambda f, x: jnp.sum(f(x))  # noqa: E731
    x = np.array([3.0, 5.0])
    np.testing.assert_array_equal(jg.vmap(apply, in_axes=(None, 0))(scale, x[:, None]),
                                  [9.0, 15.0])
    g = jg.grad(apply)(scale, x)  # the gradient with respect to the bound argument
    assert isinstance(g, Partial) and g.func is jnp.multiply
    np.testing.assert_array_equal(g.args[0], x)
    kw = Partial(jnp.sum, axis=0)
    assert tree_leaves(kw) == [0] and float(kw(np.ones((2, 2)))[0]) == 2.0


# ---------------------------------------------------------------------------------------------
# jax.debug.print


def test_debug_print_values_eagerly_and_under_eager_transformations(capsys):
    def f(x):
        jg.debug.print("x={x} s={} t={t:.1f}", jnp.sum(x), x=x, t={"a": x[0]}["a"])
        return jnp.sum(x ** 2)

    x = np.array([1.0, 2.0])
    f(x)
    jg.grad(f)(x)
    jg.jvp(f, (x,), (x,))
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["x=[1. 2.] s=3.0 t=1.0"] * 3


def _activations(x):
    return nn.gelu(x) + nn.relu6(x) * nn.silu(x)


def _printing_activations(x):
    jg.debug.print("x={:.3f} n={}", x, 3)
    return _activations(x)


def test_debug_print_under_jit_prints_the_abstract_values_once(capsys):
    """NB: jit traces abstract values and compiles no print: the line comes once, at trace
    time; disable_jit shows the values."""
    f = jg.jit(_printing_activations)
    x = np.ones(14, np.float32)
    f(x)
    f(x)
    jg.vmap(lambda v: (jg.debug.print("v={}", v), v)[1])(np.ones(2))
    with jg.disable_jit():
        f(np.array(0.5))
    assert capsys.readouterr().out.splitlines() == [
        "x=Traced<f32[14]> n=3", "v=Traced<f64[]>", "x=0.500 n=3"]


# ---------------------------------------------------------------------------------------------
# jax.nn: activations against their formulas (in float64 numpy)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _lme(x):
    m = x.max()
    return m + np.log(np.mean(np.exp(x - m)))


ACTIVATIONS = {  # name: (jitgrad's, reference)
    "gelu": (nn.gelu, lambda x: x / 2 * (1 + np.tanh(np.sqrt(2 / np.pi) *
                                                     (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: x / 2 * np.vectorize(math.erfc)(-x / np.sqrt(2))),
    "silu": (nn.silu, lambda x: x * _sig(x)), "swish": (nn.swish, lambda x: x * _sig(x)),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hard_swish": (nn.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "celu": (lambda x: nn.celu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "mish": (nn.mish, lambda x: x * np.tanh(np.logaddexp(0, x))),
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2),
    "sparse_plus": (nn.sparse_plus,
                    lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (nn.sparse_sigmoid, lambda x: np.clip((x + 1) / 2, 0, 1)),
    "identity": (nn.identity, lambda x: x), "tanh": (nn.tanh, np.tanh),
    "glu": (nn.glu, lambda x: x[:7] * _sig(x[7:])),
    "logmeanexp": (lambda x: nn.logmeanexp(x, axis=0), _lme),
}
# Kinks (0, +-1, +-3, 6), tails (+-40) and smooth points.
X = np.array([-40.0, -6.5, -3.0, -1.7, -1.0, -0.3, 0.0, 0.4, 1.0, 2.2, 3.0, 6.0, 7.5, 40.0])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_values(name):
    f, reference = ACTIVATIONS[name]
    expected = reference(X)
    for dtype in (np.float32, np.float64) if name != "gelu_exact" else (np.float64,):
        got = np.asarray(f(X.astype(dtype)))
        assert got.dtype == dtype and got.shape == expected.shape
        tol = 1e-14 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


SMOOTH_X = np.array([-2.3, -0.6, 0.45, 1.3, 4.1, 6.8])


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n not in ("swish", "hard_swish")])
def test_activation_derivatives(name):
    """Second-order derivatives, forward and reverse, away from the kinks."""
    jg.check_grads(ACTIVATIONS[name][0], (SMOOTH_X,), order=2)


KINKS = np.array([-3.0, -1.0, 0.0, 1.0, 3.0, 6.0])
KINK_DERIVATIVES = {  # JAX's (checked against jax.vmap(jax.grad(jax.nn.*)) at these points)
    "relu": [0, 0, 0, 1, 1, 1],
    "relu6": [0, 0, 0, 1, 1, 0],
    "hard_tanh": [0, 1, 1, 1, 0, 0],
    "hard_sigmoid": [0, 1 / 6, 1 / 6, 1 / 6, 0, 0],
    "sparse_plus": [0, 0, 0.5, 1, 1, 1],
    "sparse_sigmoid": [0, 0.25, 0.5, 0.25, 0, 0],
    "celu": [math.exp(-2), math.exp(-1 / 1.5), 1, 1, 1, 1],
}


@pytest.mark.parametrize("name", list(KINK_DERIVATIVES))
def test_activation_derivatives_at_kinks_are_jaxs(name):
    np.testing.assert_allclose(jg.elementwise_grad(ACTIVATIONS[name][0])(KINKS),
                               KINK_DERIVATIVES[name], rtol=1e-15)


def test_activations_jit():
    """One fused program of several activations; float32 stays float32."""
    x = X.astype(np.float32)
    got = jg.jit(_activations)(x)  # the kernels of the debug.print test's program
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _activations(x), rtol=2e-6, atol=2e-6)


def test_activations_keep_nan_and_take_integers():
    nan = np.array([np.nan])
    for name in ("relu", "relu6", "hard_tanh", "hard_sigmoid", "gelu", "silu", "celu",
                 "soft_sign"):
        assert np.isnan(ACTIVATIONS[name][0](nan)).all(), name
        assert np.isnan(jg.jit(ACTIVATIONS[name][0])(nan)).all(), name
    np.testing.assert_allclose(nn.gelu(np.array([1, 2])), nn.gelu(np.array([1.0, 2.0])))
    assert nn.relu6(np.array([7, -1, 3])).tolist() == [6, 0, 3]


def test_glu_needs_an_even_axis():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(nn.glu(x, axis=0), x[:1] * (1 / (1 + np.exp(-x[1:]))))
    with pytest.raises(jg.ShapeError, match="glu: the size of axis -1 .* must be even"):
        nn.glu(x)


def test_one_hot():
    x = np.array([[0, 3], [-1, 2]])
    expected = np.stack([np.stack([np.arange(4) == i for i in row]) for row in x])
    got = nn.one_hot(x, 4)
    assert got.dtype == np.float64 and got.shape == (2, 2, 4)  # NB: numpy's float
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(nn.one_hot(x, 4, axis=0), np.moveaxis(expected, -1, 0))
    np.testing.assert_array_equal(nn.one_hot(x, 4, axis=1), np.moveaxis(expected, -1, 1))
    assert nn.one_hot(x, 4, dtype=np.float32).dtype == np.float32
    traced = jg.vmap(lambda i: nn.one_hot(i, 4, dtype=jnp.int32))(x[0])
    np.testing.assert_array_equal(traced, expected[0].astype(np.int32))
    ir = str(jg.make_ir(lambda i: nn.one_hot(i, 4))(x))
    assert "f64[2,2,4]" in ir
    with pytest.raises(jg.ShapeError, match="one_hot: axis 3"):
        nn.one_hot(x, 4, axis=3)


# ---------------------------------------------------------------------------------------------
# jax.nn.initializers against JAX

INITS = {  # name: (initializer of a module of initializers, shape, dtype)
    "normal": (lambda m: m.normal(0.5), (5, 3), np.float64),
    "uniform": (lambda m: m.uniform(3.0), (5, 3), np.float32),
    "glorot_normal": (lambda m: m.glorot_normal(), (5, 3), np.float64),
}
INIT_KEY = np.array([17, 2024], np.uint32)


def _stax_net(stax):
    """A stax network in float64 (so that JAX, with x64, draws in the same dtype)."""
    f64 = {"W_init": stax.glorot_normal(dtype=np.float64), "b_init": stax.normal(dtype=np.float64)}
    return stax.serial(stax.Dense(4, **f64), stax.Relu, stax.serial(stax.Dense(2, **f64)))


@pytest.fixture(scope="module")
def jax_draws():
    """JAX's initializers, stax's parameters and a dropout mask, with jax_enable_x64."""
    jax = pytest.importorskip("jax")
    jinit = pytest.importorskip("jax.nn.initializers")
    jstax = pytest.importorskip("jax.example_libraries.stax")
    with jax.enable_x64(True):
        def all_of(key):
            inits = {n: make(jinit)(key, shape, dt) for n, (make, shape, dt) in INITS.items()}
            params = _stax_net(jstax)[0](key, (-1, 5))[1]
            mask = jstax.Dropout(0.7)[1]((), DROPOUT_X, rng=key)
            return inits, params, mask
        return jax.tree_util.tree_map(np.asarray, jax.jit(all_of)(INIT_KEY))


DROPOUT_X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


@pytest.mark.parametrize("name", list(INITS))
def test_initializers_draw_jaxs_numbers(name, jax_draws):
    make, shape, dtype = INITS[name]
    got, expected = make(initializers)(INIT_KEY, shape, dtype), jax_draws[0][name]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if dtype == np.float32:  # uniforms: the same bits
        np.testing.assert_array_equal(got, expected)
    else:  # erfinv and QR are computed by different libraries: a few units of roundoff
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


VARIANCE_SCALING = [  # initializer, shape, variance, distribution
    (initializers.glorot_uniform(), (5, 3), 1 / 4, "uniform"),
    (initializers.xavier_uniform(), (5, 3), 1 / 4, "uniform"),
    (initializers.lecun_normal(), (5, 3), 1 / 5, "truncated_normal"),
    (initializers.lecun_uniform(), (5, 3), 1 / 5, "uniform"),
    (initializers.he_normal(), (2, 5, 3), 2 / 10, "truncated_normal"),
    (initializers.kaiming_normal(), (5, 3), 2 / 5, "truncated_normal"),
    (initializers.he_uniform(in_axis=2, out_axis=3), (3, 3, 4, 8), 2 / 36, "uniform"),
    (initializers.kaiming_uniform(), (5, 3), 2 / 5, "uniform"),
    (initializers.xavier_normal(), (5, 3), 1 / 4, "truncated_normal"),
    (initializers.variance_scaling(3.0, "fan_out", "normal"), (2, 5, 3), 3 / 6, "normal"),
    (initializers.variance_scaling(1.0, "fan_in", "normal", in_axis=(0, 1), out_axis=2),
     (2, 5, 3), 1 / 10, "normal"),
    (initializers.truncated_normal(2.0), (5, 3), 4.0 * 0.87962566103423978 ** 2,
     "truncated_normal"),
    (initializers.variance_scaling(0.5, "fan_geo_avg", "uniform", batch_axis=0), (2, 5, 3),
     0.5 / 15 ** 0.5, "uniform"),
]


@pytest.mark.parametrize("case", range(len(VARIANCE_SCALING)))
def test_variance_scaling_fans_and_distributions(case):
    """JAX's definitions: fans over the receptive field, draws of jitgrad.random (whose bits
    are JAX's: tests/test_random.py) scaled to the variance."""
    init, shape, variance, distribution = VARIANCE_SCALING[case]
    std = np.sqrt(variance)
    expected = {"uniform": lambda: random.uniform(INIT_KEY, shape, minval=-1) * np.sqrt(3) * std,
                "normal": lambda: random.normal(INIT_KEY, shape) * std,
                "truncated_normal": lambda: random.truncated_normal(INIT_KEY, -2, 2, shape) *
                std / 0.87962566103423978}[distribution]()
    np.testing.assert_allclose(init(INIT_KEY, shape), expected, rtol=1e-15)


def test_orthogonal_is_the_sign_fixed_q_of_a_normal_draw():
    """JAX's definition: the Q of a normal sample's QR, each column's sign that of R's
    diagonal (unique, so any QR gives it); wide matrices are the transposes of tall ones."""
    z = random.normal(INIT_KEY, (2, 6, 4))
    q, r = np.linalg.qr(z)
    expected = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    np.testing.assert_allclose(random.orthogonal(INIT_KEY, 6, (2,), m=4), expected,
                               rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(random.orthogonal(INIT_KEY, 4, (2,), m=6),
                               np.swapaxes(expected, -1, -2), rtol=1e-13, atol=1e-14)
    wide = initializers.orthogonal(2.0, column_axis=0)(INIT_KEY, (4, 6))
    np.testing.assert_allclose(wide, 2 * random.orthogonal(INIT_KEY, 6, (), m=4).T,
                               rtol=1e-15)


def test_initializer_defaults_and_errors():
    assert initializers.zeros(INIT_KEY, (2,), np.float32).dtype == np.float32
    np.testing.assert_array_equal(initializers.constant(-0.25)(INIT_KEY, (2, 3), np.float32),
                                  np.full((2, 3), -0.25, np.float32))
    bounded = initializers.truncated_normal(2.0, lower=-1.0, upper=1.5)(INIT_KEY, (50,))
    np.testing.assert_array_equal(bounded, random.truncated_normal(INIT_KEY, -1.0, 1.5, (50,))
                                  * 2.0)
    assert initializers.ones(None, (2,)).dtype == np.float64  # NB: numpy's float
    assert initializers.uniform(dtype=np.float32)(INIT_KEY, (2,)).dtype == np.float32
    w = initializers.orthogonal()(INIT_KEY, (3, 2, 5))
    flat = w.reshape(6, 5)
    np.testing.assert_allclose(flat.T @ flat, np.eye(5), atol=1e-13)
    with pytest.raises(ValueError, match="at least 2-D"):
        initializers.glorot_normal()(INIT_KEY, (4,))
    with pytest.raises(ValueError, match="invalid mode"):
        initializers.variance_scaling(1.0, "fan_max", "normal")
    with pytest.raises(jg.JitgradTypeError, match="float dtype"):
        initializers.uniform()(INIT_KEY, (2,), np.int32)
    with pytest.raises(jg.UnsupportedError, match="out_sharding"):
        initializers.zeros(INIT_KEY, (2,), out_sharding="x")
    # Keys may be traced: initialisation vmapped over keys.
    keys = random.split(INIT_KEY, 3)
    batch = jg.vmap(lambda k: initializers.he_uniform()(k, (4, 2)))(keys)
    for k, w in zip(keys, batch, strict=True):
        np.testing.assert_array_equal(w, initializers.he_uniform()(k, (4, 2)))


def test_stax_gets_jaxs_parameters_and_dropout_masks(jax_draws):
    """stax splits its key as JAX's stax does: the same parameters and dropout mask from the
    same key; its parameters are float32 by default."""
    from jitgrad.example_libraries import stax
    got = _stax_net(stax)[0](INIT_KEY, (-1, 5))[1]
    for a, b in zip(tree_leaves(got), tree_leaves(jax_draws[1]), strict=True):
        assert a.dtype == b.dtype == np.float64 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(stax.Dropout(0.7)[1]((), DROPOUT_X, rng=INIT_KEY),
                                  jax_draws[2])
    np.testing.assert_array_equal(stax.Dropout(0.7, mode="test")[1]((), DROPOUT_X), DROPOUT_X)
    with pytest.raises(jg.JitgradTypeError, match="rng=key"):
        stax.Dropout(0.7)[1]((), DROPOUT_X)
    params = stax.serial(stax.Dense(2), stax.BatchNorm(axis=(0,)))[0](INIT_KEY, (-1, 3))[1]
    assert all(p.dtype == np.float32 for p in tree_leaves(params))
