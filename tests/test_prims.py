"""Registry-driven checks: every registered primitive, on the test cases it declares, in float32
and float64: shape rule vs numpy reference, jvp vs finite differences, vjp vs jvp (dot-product
identity), the same at order 2, and float32 agreeing with float64."""

import numpy as np
import pytest

import jitgrad as jg
from jitgrad.core import REGISTRY, Lowering, aval_of, is_float

DTYPES = (np.float64, np.float32)


def _cases():
    out = []
    for name in sorted(REGISTRY):
        prim = REGISTRY[name]
        for dt in DTYPES:
            cases = prim.test_cases(np.random.default_rng(0), dt) if prim.test_cases else []
            for i in range(len(cases)):
                out.append(pytest.param(name, dt, i, id=f"{name}-{np.dtype(dt).name}-{i}"))
    return out


def _get(name, dt, i):
    prim = REGISTRY[name]
    case = prim.test_cases(np.random.default_rng(0), dt)[i]
    args, params = case[0], case[1]
    opts = case[2] if len(case) > 2 else {}
    return prim, args, params, opts


def _split(args):
    """Float arguments are differentiated; the others (indices, predicates) are closed over."""
    diff = [i for i, a in enumerate(args) if is_float(aval_of(a).dtype)]
    def build(f_args):
        full = list(args)
        for i, a in zip(diff, f_args, strict=True):
            full[i] = a
        return full
    return [args[i] for i in diff], build


def test_every_primitive_is_tested():
    """A primitive without test cases (or without derivative rules) fails the suite."""
    for name, prim in REGISTRY.items():
        for dt in DTYPES:
            assert prim.test_cases is not None and prim.test_cases(
                np.random.default_rng(0), dt), f"primitive {name} declares no test cases"
        assert prim.batch is not None, f"{name} has no batching (vmap) rule"
        assert isinstance(prim.lowering, Lowering), f"{name} declares no lowering"
        if prim.differentiable:
            assert prim.jvp is not None, f"{name} has no jvp rule"
            assert prim.vjp is not None or prim.vjp_bwd is not None, f"{name} has no vjp rule"


@pytest.mark.parametrize("name,dt,i", _cases())
def test_shape_rule_matches_reference(name, dt, i):
    prim, args, params, _ = _get(name, dt, i)
    expected = prim.out_avals([aval_of(a) for a in args], params)
    out = prim.impl(*args, **params)
    outs = list(out) if prim.multiple_results else [out]
    assert [aval_of(np.asarray(o)) for o in outs] == expected


@pytest.mark.parametrize("name,dt,i", [c for c in _cases() if c.values[1] is np.float64])
def test_derivatives_f64(name, dt, i):
    prim, args, params, opts = _get(name, dt, i)
    diff_args, build = _split(args)
    f = lambda *xs: prim.bind(*build(xs), **params)  # noqa: E731
    if not prim.differentiable:
        if diff_args:
            _, t = jg.jvp(f, tuple(diff_args), tuple(np.ones_like(a) for a in diff_args))
            for leaf in jg.tree_util.tree_leaves(t):
                assert not np.any(leaf), f"{name}: non-differentiable primitive has a tangent"
        return
    assert diff_args, f"{name}: differentiable primitive declared a case with no float operand"
    modes = ("fwd", "rev") if opts.get("fd", True) else ("rev",)
    if not prim.reverse_mode:  # forward mode only (while_loop): reverse mode must refuse
        with pytest.raises(TypeError, match="not supported"):
            jg.vjp(f, *diff_args)
        modes = ("fwd",)
    jg.check_grads(f, diff_args, order=2, modes=modes)


@pytest.mark.parametrize("name,dt,i", [c for c in _cases() if c.values[1] is np.float32])
def test_float32_agrees_with_float64(name, dt, i):
    """Case i in float32 is case i in float64 rounded (same random stream): values and
    tangents agree, and results keep the dtypes the shape rule promises."""
    prim, args, params, _ = _get(name, np.float32, i)
    _, args64, params64, _ = _get(name, np.float64, i)
    expected = prim.out_avals([aval_of(a) for a in args], params)
    diff_args, build = _split(args)
    diff64, build64 = _split(args64)
    f32 = lambda *xs: prim.bind(*build(xs), **params)  # noqa: E731
    f64 = lambda *xs: prim.bind(*build64(xs), **params64)  # noqa: E731
    rng = np.random.default_rng(3)
    v = [rng.standard_normal(np.shape(a)) for a in diff_args]
    out32, t32 = jg.jvp(f32, tuple(diff_args), tuple(x.astype(np.float32) for x in v))
    out64, t64 = jg.jvp(f64, tuple(diff64), tuple(v))
    leaves = [jg.tree_util.tree_leaves(t) for t in (out32, out64, t32, t64)]
    for o32, o64, s32, s64, av in zip(*leaves, expected, strict=True):
        assert o32.dtype == av.dtype
        assert not is_float(av.dtype) or s32.dtype == av.dtype
        np.testing.assert_allclose(o32, o64, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(s32, s64, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name,dt,i", [c for c in _cases() if c.values[1] is np.float64])
@pytest.mark.parametrize("axes", ["front", "last-unbatched-first"])
def test_vmap_matches_python_loop(name, dt, i, axes):
    """vmap of the primitive over 3 examples (from 3 seeds) equals a loop over them."""
    prim = REGISTRY[name]
    examples = []
    for seed in range(3):
        case = prim.test_cases(np.random.default_rng(seed), dt)[i]
        examples.append(case[0])
    params = prim.test_cases(np.random.default_rng(0), dt)[i][1]
    f = lambda *xs: prim.bind(*xs, **params)  # noqa: E731
    expected = [f(*ex) for ex in examples]
    n = len(examples[0])
    if axes == "front":
        in_axes = (0,) * n
        batched = [np.stack([np.asarray(ex[j]) for ex in examples]) for j in range(n)]
    else:  # first operand shared (unbatched) when there are several; others batched last
        in_axes = tuple(None if (j == 0 and n > 1) else -1 for j in range(n))
        if n > 1:
            expected = [f(examples[0][0], *ex[1:]) for ex in examples]
        batched = [np.asarray(examples[0][j]) if in_axes[j] is None else
                   np.stack([np.asarray(ex[j]) for ex in examples], axis=-1)
                   for j in range(n)]
    got = jg.vmap(f, in_axes=in_axes)(*batched)
    outs = got if prim.multiple_results else [got]
    exp = [list(e) if prim.multiple_results else [e] for e in expected]
    for k, o in enumerate(outs):
        np.testing.assert_allclose(o, np.stack([np.asarray(e[k]) for e in exp]), rtol=1e-12,
                                   atol=1e-12)


def test_a_primitive_without_a_lowering_cannot_be_registered():
    """The backend never falls into a default: how a primitive executes is declared."""
    from jitgrad.core import Primitive, register
    from jitgrad.prims.elementwise import elementwise_rule

    with pytest.raises(TypeError, match="declares no lowering"):
        register(Primitive("no_lowering", elementwise_rule("no_lowering"), np.sin, None))
    assert "no_lowering" not in REGISTRY


def test_checker_catches_a_wrong_vjp_rule():
    """Register a primitive whose vjp is deliberately wrong: the checker must fail it."""
    from jitgrad.core import Elementwise, Primitive, register
    from jitgrad.prims import cos, mul, sin
    from jitgrad.prims.elementwise import elementwise_rule

    bad = register(Primitive(
        "bad_sin", elementwise_rule("bad_sin"), np.sin, Elementwise("math.sin({0})"),
        jvp=lambda p, t: (sin(p[0]), mul(t[0], cos(p[0]))),
        vjp=lambda cts, ins, outs: [mul(cts[0], sin(ins[0]))]))  # wrong: should be cos
    try:
        x = np.array([0.3, 1.1])
        jg.check_grads(bad.bind, (x,), order=1, modes=("fwd",))  # the jvp rule is right
        with pytest.raises(AssertionError, match="vjp vs jvp"):
            jg.check_grads(bad.bind, (x,), order=1, modes=("rev",))
    finally:
        del REGISTRY["bad_sin"]


def test_checker_catches_a_wrong_rule_on_the_cotangent_path_at_order_2():
    """autograd's test_check_vjp_2nd_order_fail: foo's vjp rule is right to first order but
    calls bar, whose vjp is wrong; grad(grad(.)) of a program whose cotangent into foo depends
    on x uses bar's rule, so check_grads(foo, order=2) must fail (it differentiates the vjp in
    its cotangent too), while order 1 passes."""
    @jg.custom_vjp
    def bar(x):
        return x
    bar.defvjp(lambda x: (x, None), lambda _, g: (g * 1.001,))

    @jg.custom_vjp
    def foo(x):
        return x * 2.0
    foo.defvjp(lambda x: (x * 2.0, None), lambda _, g: (bar(g) * 2.0,))

    x = np.array([0.3, 1.2])
    jg.check_grads(foo, (x,), order=1)
    with pytest.raises(AssertionError, match="vjp vs jvp"):
        jg.check_grads(foo, (x,), order=2, modes=("rev",))


def test_checker_catches_a_wrong_jvp_rule():
    from jitgrad.core import Elementwise, Primitive, register
    from jitgrad.prims import mul, sin
    from jitgrad.prims.elementwise import elementwise_rule

    bad = register(Primitive(
        "bad_sin2", elementwise_rule("bad_sin2"), np.sin, Elementwise("math.sin({0})"),
        jvp=lambda p, t: (sin(p[0]), mul(t[0], sin(p[0]))),
        vjp=lambda cts, ins, outs: [mul(cts[0], sin(ins[0]))]))
    try:
        with pytest.raises(AssertionError, match="finite differences"):
            jg.check_grads(bad.bind, (np.array([0.3, 1.1]),), order=1)
    finally:
        del REGISTRY["bad_sin2"]
