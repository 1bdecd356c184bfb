"""The compiled path agrees with the numpy reference: every primitive (its declared cases in
float32 and float64, 0-d, size-0, non-contiguous and reversed inputs), broadcasting pairs,
compositions of jit with grad/jvp/vjp in both orders, NaN/Inf propagation, no re-tracing."""

import functools
import pickle

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.core import REGISTRY, aval_of, is_float
from jitgrad.tree_util import tree_leaves
from tests.test_prims import _cases, _get, _split

rng = np.random.default_rng(0)


def assert_same(got, expected, dtype=None):
    got, expected = tree_leaves(got), tree_leaves(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        tol = 2e-6 if e.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,dt,i", _cases())
def test_primitive_compiled_matches_reference(name, dt, i):
    prim, args, params, _ = _get(name, dt, i)
    f = jg.jit(lambda *a: prim.bind(*a, **params))
    expected = prim.impl(*args, **params)
    assert_same(f(*args), expected)


def _float32_runs_float64_code(name: str) -> bool:
    """Whether the primitive's float32 kernel converts its operands to float64, calls the
    float64 scalar function and rounds once (the special functions): its float32 derivative
    programs then run code the float64 ones test, and each takes minutes to compile. Read off
    the declared template itself."""
    prim = REGISTRY[name]
    template = getattr(prim.lowering, "template", None)
    if not callable(template):
        return False
    args, params = prim.test_cases(np.random.default_rng(0), np.float32)[0][:2]
    ops = [f"x{i}" for i in range(len(args))]
    return all(f"np.float64({o})" in template(ops, "np.float32", **params) for o in ops)


def _first_cases():
    seen, out = set(), []
    for p in _cases():
        name, dt, _ = p.values
        if (name, dt) in seen or not REGISTRY[name].differentiable:
            continue
        if dt == np.float32 and _float32_runs_float64_code(name):
            continue
        seen.add((name, dt))
        out.append(p)
    return out


@pytest.mark.parametrize("name,dt,i", _first_cases())
def test_primitive_compiled_derivatives(name, dt, i):
    """jit(vjp) and jit(jvp) of each primitive equal the uncompiled transforms."""
    prim, args, params, _ = _get(name, dt, i)
    diff_args, build = _split(args)
    f = lambda *xs: prim.bind(*build(xs), **params)  # noqa: E731
    out = f(*diff_args)
    cts = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
           for o in tree_leaves(out)]
    ct = cts if prim.multiple_results else cts[0]
    if prim.reverse_mode:
        vjp_ref = jg.vjp(f, *diff_args)[1](ct)
        vjp_jit = jg.jit(lambda xs, c: jg.vjp(f, *xs)[1](c))(diff_args, ct)
        assert_same(vjp_jit, vjp_ref)
    ts = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype) for a in diff_args)
    assert_same(jg.jit(lambda xs, t: jg.jvp(f, xs, t))(tuple(diff_args), ts),
                jg.jvp(f, tuple(diff_args), ts))


BROADCAST_PAIRS = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((4, 1, 3), (2, 1)),
                   ((0, 3), (3,)), ((3,), ()), ((2, 3, 4), (3, 1))]


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_broadcasting_chain_and_gradients(sa, sb, dtype):
    a = rng.uniform(0.5, 1.5, sa).astype(dtype)
    b = rng.uniform(0.5, 1.5, sb).astype(dtype)

    def f(a, b):
        return jnp.sum(jnp.sin(a) * b + jnp.exp(-a * a) / (1 + b * b))

    assert_same(jg.jit(f)(a, b), f(a, b))
    vg = jg.value_and_grad(f, argnums=(0, 1))
    assert_same(jg.jit(vg)(a, b), vg(a, b))


LAYOUTS = {
    "contiguous": lambda x: x,
    "strided": lambda x: np.repeat(x, 2, axis=-1)[..., ::2],
    "reversed": lambda x: np.ascontiguousarray(x[::-1])[::-1],
    "transposed": lambda x: np.ascontiguousarray(x.T).T,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_non_contiguous_inputs(layout):
    x = LAYOUTS[layout](rng.standard_normal((3, 4)))
    y = LAYOUTS[layout](rng.standard_normal((3, 4)))
    f = lambda x, y: (jnp.tanh(x) * y @ y.T + x @ x.T, jnp.max(x * y, axis=0))  # noqa: E731
    assert_same(jg.jit(f)(x, y), f(x, y))
    g = jg.grad(lambda x, y: jnp.sum(f(x, y)[0] ** 2) + jnp.sum(f(x, y)[1]), argnums=(0, 1))
    assert_same(jg.jit(g)(x, y), g(x, y))


def test_zero_d_and_size_zero():
    f = lambda x, y: (x * 2 + jnp.sum(y), jnp.sum(y, axis=0), y * x)  # noqa: E731
    x, y = np.array(1.5), np.zeros((0, 3))
    assert_same(jg.jit(f)(x, y), f(x, y))
    assert_same(jg.jit(jg.grad(lambda x: x ** 3))(np.array(2.0)), np.array(12.0))


def test_numpy_scalars_after_arrays_of_the_same_signature():
    """A numpy scalar has .shape and .dtype like a 0-d array; the compiled code needs an array."""
    f = jg.jit(lambda x: x * 2.0)
    np.testing.assert_array_equal(f(np.array(1.5)), 3.0)
    np.testing.assert_array_equal(f(np.float64(1.5)), 3.0)
    np.testing.assert_array_equal(f(1.5), 3.0)


def test_jit_of_partials_and_callable_objects():
    import functools

    class Scale:
        def __call__(self, x):
            return jnp.sum(x * 3.0)

    f = functools.partial(lambda a, x: jnp.sum(a * x), 2.0)
    np.testing.assert_allclose(jg.jit(f)(np.ones(3)), 6.0)
    np.testing.assert_allclose(jg.jit(Scale())(np.ones(3)), 9.0)
    np.testing.assert_allclose(jg.jit(jg.grad(f))(np.ones(3)), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(jg.grad(jg.jit(Scale()))(np.ones(2)), [3.0, 3.0])


def test_python_scalars_and_pytrees():
    f = jg.jit(lambda p, s: {"out": p["w"] * s, "n": jnp.sum(p["b"][0] + p["b"][1])})
    p = {"w": np.ones(3), "b": [np.ones(2), np.ones(2)]}
    out = f(p, 2.0)
    assert set(out) == {"out", "n"}
    np.testing.assert_array_equal(out["out"], 2 * np.ones(3))


def f_mlp(w, x):
    return jnp.sum(jnp.tanh(x @ w[0] + w[1]) ** 2)


COMPOSITIONS = {
    "jit(f)": lambda f: jg.jit(f),
    "grad(f)": lambda f: jg.grad(f),
    "jit(grad(f))": lambda f: jg.jit(jg.grad(f)),
    "grad(jit(f))": lambda f: jg.grad(jg.jit(f)),
    "jit(grad(jit(f)))": lambda f: jg.jit(jg.grad(jg.jit(f))),
    "jit(value_and_grad(f))": lambda f: jg.jit(jg.value_and_grad(f)),
}


@pytest.mark.parametrize("comp", list(COMPOSITIONS))
def test_compositions_agree(comp):
    w = (rng.standard_normal((4, 3)), rng.standard_normal(3))
    x = rng.standard_normal((5, 4))
    ref = (jg.grad(f_mlp) if "grad" in comp else f_mlp)(w, x)
    if "value" in comp:
        ref = (f_mlp(w, x), ref)
    assert_same(COMPOSITIONS[comp](f_mlp)(w, x), ref)


def test_jvp_of_jit_and_jit_of_jvp_and_hessians():
    x = rng.uniform(-1, 1, 5)
    v = rng.standard_normal(5)

    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    ref = jg.jvp(jg.grad(rosen), (x,), (v,))
    assert_same(jg.jit(lambda x, v: jg.jvp(jg.grad(rosen), (x,), (v,)))(x, v), ref)
    assert_same(jg.jvp(jg.jit(jg.grad(rosen)), (x,), (v,)), ref)
    assert_same(jg.jvp(jg.grad(jg.jit(rosen)), (x,), (v,)), ref)
    assert_same(jg.grad(jg.grad(jg.jit(lambda x: jnp.sin(x) * x)))(0.3),
                jg.grad(jg.grad(lambda x: jnp.sin(x) * x))(0.3))


def test_jit_call_runs_compiled_under_grad():
    """grad(jit(f)) differentiates a staged jit_call: forward and backward are compiled."""
    f = jg.jit(lambda x: jnp.sum(jnp.exp(x) * x))
    ir = jg.make_ir(jg.grad(f))(np.ones(3))
    assert [e.prim.name for e in ir.eqns] == ["jit_call", "jit_call"], str(ir)


def test_no_retrace_for_same_signature():
    calls = []

    def f(x, n):
        calls.append(1)
        return jnp.sum(x ** n)

    g = jg.jit(f, static_argnums=1)
    for _ in range(3):
        g(np.ones(3), 2)
    assert g.trace_count == 1 and len(calls) == 1
    g(np.ones(4), 2)      # new shape
    g(np.ones(3, np.float32), 2)  # new dtype
    g(np.ones(3), 3)      # new static argument
    assert g.trace_count == 4
    g(np.ones(3), 2)
    assert g.trace_count == 4


@pytest.mark.parametrize("arity", [1, 2, 3])
def test_repeated_calls_tell_every_signature_apart(arity):
    """The signature-keyed path repeated calls take (one, two and more arguments, each
    spelled its own way) tells apart shapes, dtypes, byte orders, array subclasses, strides
    and non-arrays: every call computes what numpy does, and a signature seen before is not
    traced again."""
    class Sub(np.ndarray):
        pass

    g = jg.jit(lambda *xs: sum(jnp.sin(x) * (i + 1) for i, x in enumerate(xs)))
    base = np.linspace(-1, 1, 6)
    variants = [base, base.reshape(2, 3), base.astype(np.float32), base.astype(">f8"),
                base.view(Sub), 0.5, np.float32(0.5), base[::2]]
    general = g._call
    slow = []

    def counted(args, kwargs):
        slow.append(type(args[0]).__name__ + str(getattr(args[0], "dtype", "")))
        return general(args, kwargs)

    for round_ in range(2):
        g._call = counted if round_ else general
        for v in variants:
            got = np.asarray(g(*[v] * arity))
            want = np.sin(np.asarray(v)) * (arity * (arity + 1) // 2)
            assert got.shape == want.shape and got.dtype.itemsize == want.dtype.itemsize
            np.testing.assert_allclose(got, want, rtol=1e-6 if got.dtype == np.float32 else 1e-13)
    assert g.trace_count <= len(variants)
    # Seen again, native ndarrays and scalars take the keyed path; the others (a subclass, a
    # non-native byte order) are converted first, by the general path.
    assert slow == ["ndarray>f8", "Subfloat64"]
    for _ in range(2):  # arguments of different dtypes, each key telling them apart
        for second in (base.astype(np.float32), base):
            args = [base] * (arity - 1) + [second]
            got = np.asarray(g(*args))
            assert got.dtype == np.result_type(*args)
            np.testing.assert_allclose(got, sum(np.sin(np.asarray(a, np.float64)) * (i + 1)
                                                for i, a in enumerate(args)), rtol=1e-6)


def test_repeated_calls_with_pytrees_tell_every_structure_apart():
    """Arguments that are pytrees of arrays and scalars (a training step's parameters and
    step size, an optimiser's state) take a keyed path on repeated calls too: it tells apart
    the node types, their auxiliary data (a dict's keys, a registered node's fields), nesting,
    shapes, dtypes and Python against numpy scalars, and leaves the rest (an array subclass,
    a non-native byte order, unhashable auxiliary data) to the general path; every call
    computes what numpy does and returns the argument's own structure."""
    from collections import namedtuple

    from jitgrad.tree_util import register_pytree_node, tree_map, tree_structure

    class Sub(np.ndarray):
        pass

    class Node:  # a registered node whose auxiliary data is its mode
        def __init__(self, mode, *children):
            self.mode, self.children = mode, children

    register_pytree_node(Node, lambda n: (n.children, n.mode), lambda m, c: Node(m, *c))
    Pair = namedtuple("Pair", "u v")
    g = jg.jit(lambda tree, x: tree_map(lambda p: jnp.sin(p) * x, tree))
    a, b = np.linspace(-1, 1, 6), np.linspace(0, 2, 6)
    variants = [[a, b], (a, b), {"u": a, "v": b}, {"u": a, "w": b}, {"v": a, "u": b},
                [a, (b, None)], [(a,), b], [a.reshape(2, 3), b], [a, b.astype(np.float32)],
                [a, b.astype(">f8")], [a, b.view(Sub)], [a, 0.5], [a, 2], [a, np.int32(2)],
                [a, np.float32(0.5)], [a, np.float64(0.5)], Pair(a, b), Pair(b, a),
                Node("x", a, b), Node("y", a, b), Node(["unhashable"], a, b), [a[::2], b]]
    general = g._call
    slow = []

    def counted(args, kwargs):
        slow.append(type(args[0]).__name__)
        return general(args, kwargs)

    def check(got, want):
        assert tree_structure(got) == tree_structure(want), (got, want)
        assert type(got) is type(want)
        for gl, wl in zip(tree_leaves(got), tree_leaves(want), strict=True):
            assert gl.shape == wl.shape and gl.dtype == wl.dtype, (gl, wl)
            np.testing.assert_allclose(gl, wl, rtol=1e-6)
        if isinstance(want, Node):
            assert got.mode == want.mode

    for round_ in range(2):
        g._call = counted if round_ else general
        for v in variants:
            x = np.array(0.5 if round_ else 0.25)
            check(g(v, x), tree_map(lambda p, x=x: np.sin(np.asarray(p)) * x, v))
    assert g.trace_count <= len(variants)
    assert slow == ["list", "list", "Node"]
    # A non-native byte order first seen in a container (no entry of its native signature yet)
    # is converted on every call, not only the first.
    h = jg.jit(lambda ps: ps[0] * ps[1])
    for _ in range(3):
        np.testing.assert_array_equal(h([a.astype(">f8"), b]), a * b)


def test_repeated_calls_with_scalars_keep_their_types():
    """A step size given as a Python number is weakly typed on the keyed path as on the first
    call (a float32 program stays float32), numpy scalars are not, and a Python int beyond
    int64 is refused on every call, not run as another value."""
    f = jg.jit(lambda x, s: x * s)
    x32 = np.ones(3, np.float32)
    for _ in range(2):
        assert f(x32, 0.5).dtype == np.float32
        assert f(x32, 2).dtype == np.float32
        assert f(x32, np.float64(0.5)).dtype == np.float64
        np.testing.assert_array_equal(f(x32, 3), np.full(3, 3, np.float32))
    xi = np.ones(3, np.int64)
    for _ in range(2):
        assert f(xi, 2).dtype == np.int64
        np.testing.assert_array_equal(f(xi, -2 ** 63), np.full(3, -2 ** 63))
        # Beyond int64, refused as numpy refuses it beside an int64 array (2**63 was passed
        # as numpy's uint64 array and read as -2**63; 2**70 failed to compile).
        for big in (2 ** 63, 2 ** 70, -2 ** 63 - 1):
            with pytest.raises(OverflowError):
                f(xi, big)


@pytest.mark.parametrize("dtype,fits,beyond", [(np.int32, -2 ** 31, 2 ** 40), (np.int8, 127, 128),
                                               (np.uint8, 255, 256), (np.uint8, 0, -1),
                                               (np.uint32, 2 ** 32 - 1, 2 ** 32)])
def test_a_python_int_argument_that_does_not_fit_the_array_it_meets_raises(dtype, fits, beyond):
    """NumPy 2 refuses a Python int that does not fit the integer array it meets; under jit
    the int, an argument, is known only at the call, and its promotion was a cast that
    wrapped around (int32 ones * 2**40 gave 0). Every call checks it now, on the first and on
    the keyed path, as numpy, eager jitgrad and a constant inside the function refuse it; a
    value that fits computes as numpy does (uint8 255 + 1 wraps there too), and a cast the
    user writes wraps as numpy's astype does."""
    x = np.ones(3, dtype)
    f = jg.jit(lambda x, n: x + n)
    for _ in range(2):
        got = f(x, fits)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, x + fits)
        with pytest.raises(OverflowError, match=f"{beyond}.*{np.dtype(dtype).name}"):
            f(x, beyond)
        with pytest.raises(OverflowError):
            x + beyond
        np.testing.assert_array_equal(f(x.astype(np.int64), beyond), x.astype(np.int64) + beyond)
    cast = jg.jit(lambda n: jnp.asarray(n).astype(dtype))
    assert cast(beyond) == np.asarray(beyond).astype(dtype)
    with pytest.raises(OverflowError):  # a first call (the general path) checks it too
        jg.jit(lambda x, n: x * n)(x, beyond)


@pytest.mark.parametrize("tree", [
    (1, [2, 3]), [1, {"b": 2, "a": (3, None)}], {1: 1, 2: [2]}, ((), [], {}, None, 1),
    (1,), {(1, 2): 1, (0, 3): 2}, {True: 1}], ids=repr)
def test_compiled_results_are_rebuilt_as_tree_unflatten_would(tree):
    """A program's results are rebuilt into the function's output structure by an expression
    made for that structure where it is made only of lists, tuples, dicts with string or
    integer keys and None (by tree_unflatten otherwise): both give the same tree."""
    from jitgrad.jit import _Entry
    from jitgrad.tree_util import tree_flatten, tree_unflatten

    leaves, treedef = tree_flatten(tree)
    arrays = [np.full(2, x, np.float64) for x in leaves]
    want = tree_unflatten(treedef, arrays)
    got = _Entry(None, treedef, None).unflatten(arrays)
    assert tree_flatten(got)[1] == treedef and type(got) is type(want)
    assert all(g is w for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True))
    out = jg.jit(lambda xs: jg.tree_util.tree_unflatten(treedef, [x * 2 for x in xs]))(arrays)
    assert tree_flatten(out)[1] == treedef


def test_jitted_method_binds_its_instance():
    """``@jit`` on a method binds ``self`` as a function does (JAX's jit too): static as
    argument 0 with ``static_argnums=0``, or a registered pytree."""
    class Scaler:
        def __init__(self, k):
            self.k = k

        @jg.jit(static_argnums=0)
        def calc(self, y):
            return y * self.k if self.k > 1 else y

        __hash__ = object.__hash__

    s = Scaler(3.0)
    assert s.calc(np.array(2.0)) == 6.0 and Scaler(0.5).calc(np.array(2.0)) == 2.0
    assert jg.grad(s.calc)(1.0) == 3.0
    assert Scaler.calc(s, np.array(1.0)) == 3.0  # through the class: a plain function


def test_static_argnames_and_argnums_imply_each_other():
    """JAX's jit signature: a static argument named or numbered may come either way, its
    value is part of the cache key, and keyword-only static arguments work too."""
    def f(x, n, *, scale=1.0):
        return jnp.sum(x ** n) * scale

    x = np.full(3, 2.0)
    by_name = jg.jit(f, static_argnames=("n", "scale"))
    assert by_name.static_argnums == (1,) and by_name.static_argnames == ("n", "scale")
    assert by_name(x, 2) == by_name(x, n=2) == 12.0
    assert by_name(x, n=3, scale=0.5) == 12.0
    assert by_name(x, n=3, scale=0.5) == 12.0 and by_name.trace_count == 3
    by_num = jg.jit(f, static_argnums=1)
    assert by_num.static_argnames == ("n",)
    assert by_num(x, n=3) == by_num(x, 3) == 24.0
    # Python control flow on a static argument, under grad, and through functools.partial
    step = functools.partial(jg.jit, static_argnames="training")(
        lambda w, training: jnp.sum(w * w) * (2.0 if training else 1.0))
    np.testing.assert_allclose(jg.grad(lambda w: step(w, training=True))(x), 4 * x)
    again = pickle.loads(pickle.dumps(jg.jit(_power, static_argnames="n")))
    assert again.static_argnums == (1,) and again(x, n=3)[0] == 8.0


def _power(x, n):
    return x ** n


def test_jit_takes_jax_keywords_with_clear_errors():
    def upd(p, g):
        return p - 0.5 * g

    p = np.ones(3)
    out = jg.jit(upd, donate_argnums=0, keep_unused=True, inline=True, backend="cpu")(p, p)
    np.testing.assert_array_equal(out, 0.5)
    np.testing.assert_array_equal(p, 1.0)  # NB: donated inputs are never overwritten
    assert jg.jit(upd, donate_argnames="p").donate_argnums == (0,)
    for kwargs, message in [
            (dict(static_argnames=1), "static_argnames must be a str"),
            (dict(static_argnums="p"), "static_argnums must be an int"),
            (dict(static_argnums=0, donate_argnums=0), "both static and donated"),
            (dict(device="gpu"), "CPU only")]:
        with pytest.raises(jg.errors.JitgradTypeError, match=message):
            jg.jit(upd, **kwargs)


def test_log_compiles_reports_reasons(caplog):
    import logging
    jg.config.log_compiles = True
    try:
        g = jg.jit(lambda x: x * 2)
        with caplog.at_level(logging.INFO, logger="jitgrad"):
            g(np.ones(2))
            g(np.ones(3))
            g(np.ones(3, np.float32))
    finally:
        jg.config.log_compiles = False
    text = caplog.text
    assert "first call" in text and "new shapes" in text and "new dtypes" in text


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324,
                    710.0, -746.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_in_binary_ops_and_reductions(dtype):
    a = SPECIAL.astype(dtype)
    b = SPECIAL[::-1].astype(dtype)
    fs = [jnp.maximum, jnp.minimum, jnp.add, jnp.multiply, jnp.divide, jnp.power,
          lambda a, b: jnp.max(a * b), lambda a, b: jnp.sum(a) * b, lambda a, b: jnp.min(a)]
    for f in fs:
        with np.errstate(all="ignore"):
            expected = f(a, b)
            got = jg.jit(f)(a, b)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        ok = ~np.isnan(expected)
        np.testing.assert_array_equal(np.asarray(got)[ok], np.asarray(expected)[ok])


def test_exp_overflow_times_zero_is_nan():
    """exp(1000) * 0 is nan, as in numpy: no fastmath flag drops Inf/NaN semantics."""
    with np.errstate(all="ignore"):
        got = jg.jit(lambda x: jnp.exp(x) * 0.0)(np.array([1000.0]))
    assert np.isnan(got[0])


def test_disable_jit_runs_reference():
    jg.config.disable_jit = True
    try:
        g = jg.jit(lambda x: jnp.sin(x))
        np.testing.assert_array_equal(g(np.ones(2)), np.sin(np.ones(2)))
        assert g.trace_count == 0
    finally:
        jg.config.disable_jit = False


def test_show_kernels_prints_plan_and_source():
    text = jg.show_kernels(jg.grad(lambda x, b: jnp.sum(jnp.tanh(x + b) * x)))(
        np.ones((3, 4)), np.ones(4))
    assert "def K0(" in text and "@njit(" in text and "def run(" in text
    code = [line for line in text.split("# caller")[1].splitlines() if not line.startswith("#")]
    assert "# K0: c = broadcast_in_dim b; d = add a c;" in text  # the kernel computes it...
    assert not any("broadcast" in line for line in code)  # ...folded into index arithmetic


def test_float32_kernels_stay_float32():
    x = rng.standard_normal(8).astype(np.float32)
    g = jg.jit(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * 0.5 + x ** 2)))(x)
    assert g.dtype == np.float32
    src = jg.show_kernels(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * 0.5 + x ** 2)))(x)
    assert "np.float64" not in src.split("# kernel")[1]


def test_type_errors_are_trace_time_with_user_line():
    with pytest.raises(jg.ShapeError, match=r"\(3, 4\).*\(3,\)") as e:
        jg.jit(lambda x, b: x + b)(np.ones((3, 4)), np.ones(3))
    assert "test_jit.py" in str(e.value)


def test_eight_threads_call_one_jitted_function():
    from concurrent.futures import ThreadPoolExecutor
    f = jg.jit(jg.grad(lambda x: jnp.sum(jnp.sin(x) * x)))
    xs = [rng.standard_normal(1000) for _ in range(32)]
    f(xs[0])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(f, xs))
    for x, r in zip(xs, results, strict=True):
        np.testing.assert_allclose(r, np.cos(x) * x + np.sin(x), rtol=1e-13)


def test_is_float_helper():
    assert is_float(aval_of(1.0).dtype)


@pytest.fixture
def two_threads():
    jg.config.threads = 2
    try:
        yield
    finally:
        jg.config.threads = 1


def test_threads_split_large_kernels_and_matmuls(two_threads, monkeypatch):
    from jitgrad.backend import parallel
    # Thresholds lowered so that small arrays split (the machine-measured ones are larger).
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_TRANSCENDENTAL", 1 << 16)
    x, y = rng.standard_normal(200_000), rng.standard_normal(200_000)
    f = lambda x, y: jnp.sum(jnp.sin(x) * y + jnp.exp(-x * x) / (1 + y * y))  # noqa: E731
    g = jg.jit(jg.grad(f, argnums=(0, 1)))
    assert "run_split" in g.lower(x, y).caller_source
    serial = jg.grad(f, argnums=(0, 1))(x, y)
    assert_same(g(x, y), serial)
    a, b = rng.standard_normal((300, 400)), rng.standard_normal((400, 350))
    old = jg.config.matmul
    jg.config.matmul = "jitgrad"
    try:
        monkeypatch.setattr(parallel, "split_matmul", lambda *product: True)
        np.testing.assert_allclose(jg.jit(lambda a, b: a.T @ b)(a.T.copy(), b), a @ b,
                                   rtol=1e-12)
    finally:
        jg.config.matmul = old
    # kernels that reduce over the split axis, or read it transposed, stay serial
    h = jg.jit(lambda x: (jnp.sum(x, axis=0), x.T * 2.0))
    x2 = rng.standard_normal((300, 300))
    assert "run_split" not in h.lower(x2).caller_source
    assert_same(h(x2), (x2.sum(0), x2.T * 2.0))


def test_threads_with_many_python_threads_on_a_busy_machine(two_threads):
    """Split kernels called from 8 Python threads at once while another process keeps a core
    busy: every result is right (the pool never spins or deadlocks)."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        f = jg.jit(jg.grad(lambda x: jnp.sum(jnp.sin(x) * x)))
        xs = [rng.standard_normal(100_000) for _ in range(16)]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(f, xs))
    finally:
        burner.kill()
    for x, r in zip(xs, results, strict=True):
        np.testing.assert_allclose(r, np.cos(x) * x + np.sin(x), rtol=1e-13, atol=1e-15)


def test_large_outputs_are_recycled_only_when_dropped():
    f = jg.jit(lambda x: jnp.sin(x) * 2.0)
    x = rng.standard_normal(300_000)  # 2.4 MB output
    a = f(x)
    b = f(x + 1)
    assert not np.shares_memory(a, b)  # both held: distinct buffers
    np.testing.assert_allclose(a, np.sin(x) * 2)
    view = b[:10]
    ptr_a = a.__array_interface__["data"][0]
    del a, b
    c = f(x + 2)  # a was dropped: its buffer is reused; b lives on through `view`
    assert c.__array_interface__["data"][0] == ptr_a
    np.testing.assert_allclose(view, np.sin(x[:10] + 1) * 2)
    np.testing.assert_allclose(c, np.sin(x + 2) * 2)


def test_scratch_buffers_are_reused_and_reinitialised():
    x = rng.standard_normal((400, 300))
    f = jg.jit(lambda x: jnp.exp(x - jnp.max(x, axis=0)) / jnp.sum(jnp.exp(x), axis=0))
    lowered = f.lower(x)
    assert "ws = buffers.take()" in lowered.caller_source
    for k in range(3):  # reductions start from their identity again on every call
        xk = x + k
        np.testing.assert_allclose(f(xk), np.exp(xk - xk.max(0)) / np.exp(xk).sum(0),
                                   rtol=1e-12)


def test_scratch_buffers_with_concurrent_calls():
    from concurrent.futures import ThreadPoolExecutor
    f = jg.jit(jg.grad(lambda x: jnp.sum(jg.nn.log_softmax(x, axis=-1) * x)))
    xs = [rng.standard_normal((64, 50)) for _ in range(24)]
    expected = [jg.grad(lambda x: jnp.sum(jg.nn.log_softmax(x, axis=-1) * x))(x) for x in xs]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(f, xs))
    for r, e in zip(results, expected, strict=True):
        np.testing.assert_allclose(r, e, rtol=1e-12, atol=1e-12)


def test_python_scalar_arguments_are_weakly_typed_like_numpy():
    """A Python float argument does not upcast float32 (as in eager numpy and in JAX); a numpy
    float64 scalar does (NumPy 2)."""
    x = np.ones(3, np.float32)

    def step(x, lr):
        return x - lr * x * 2.0

    assert jg.jit(step)(x, 0.1).dtype == np.float32 == step(x, 0.1).dtype
    assert jg.jit(step)(x, np.float64(0.1)).dtype == np.float64 == step(x, np.float64(0.1)).dtype
    assert jg.grad(lambda x, s: jnp.sum(x * s))(x, 2.0).dtype == np.float32
    assert jg.jit(lambda x, n: x * n)(x, 3).dtype == np.float32
    g = jg.jit(jg.grad(lambda x, s: jnp.sum(jnp.tanh(x * s)), argnums=(0, 1)))(x, 0.5)
    assert g[0].dtype == np.float32
