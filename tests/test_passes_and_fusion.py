"""The IR passes (simplify, CSE, DCE, inlining) and the fusion plan: what becomes one kernel,
and that broadcasts are never materialised."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.backend.fuse import LoopKernel, MatmulStep, partition
from jitgrad.core import typecheck
from jitgrad.transforms.passes import cse_ir, dce_ir, inline_calls_ir, optimize_ir, simplify_ir

rng = np.random.default_rng(0)


def names(ir):
    return [e.prim.name for e in ir.eqns]


def test_simplify_removes_multiplications_by_one_and_literal_fills():
    ir = jg.make_ir(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * x)))(np.ones(3))
    assert "broadcast_in_dim" in names(ir)  # the cotangent 1.0, broadcast
    out = simplify_ir(ir)
    typecheck(out)
    assert "broadcast_in_dim" not in names(out)
    assert all(not (e.prim.name == "mul" and any(getattr(x, "val", None) == 1.0
                                                 for x in e.inputs)) for e in out.eqns)
    x = rng.standard_normal(3)
    np.testing.assert_allclose(jg.core.eval_ir(out, x), jg.core.eval_ir(ir, x))


def test_simplify_folds_constants_and_keeps_values():
    ir = jg.make_ir(lambda x: x * (jnp.float64(2.0) * 3.0) + 0.0 - 0.0)(np.ones(2))
    out = simplify_ir(ir)
    assert names(out) == ["mul"]
    assert out.eqns[0].inputs[1].val == 6.0


def test_cse_merges_identical_equations():
    ir = jg.make_ir(lambda x: jnp.sin(x) + jnp.sin(x))(np.ones(2))
    assert names(ir).count("sin") == 2
    out = cse_ir(ir)
    typecheck(out)
    assert names(out).count("sin") == 1


def test_dce_drops_unused_equations():
    def f(x):
        jnp.exp(x)  # unused
        return x * 2

    assert names(jg.make_ir(f)(np.ones(2))) == ["mul"]  # tracing already prunes
    ir = jg.make_ir(lambda x: (x * 2, jnp.exp(x)))(np.ones(2))
    ir.outvars = ir.outvars[:1]
    assert names(dce_ir(ir)) == ["mul"]


def test_inline_calls_flattens_jit_calls():
    inner = jg.jit(lambda x: jnp.sin(x) * 2)
    ir = jg.make_ir(lambda x: inner(x) + 1)(np.ones(2))
    assert "jit_call" in names(ir)
    out = inline_calls_ir(ir)
    typecheck(out)
    assert names(out) == ["sin", "mul", "add"]


def plan(f, *args):
    return partition(optimize_ir(jg.make_ir(f)(*args)))


def test_reduction_with_its_elementwise_producers_is_one_pass():
    x, y = rng.standard_normal(100), rng.standard_normal(100)
    steps = plan(lambda x, y: jnp.sum(jnp.tanh(x) * y), x, y)
    assert len(steps) == 1 and isinstance(steps[0], LoopKernel)
    assert steps[0].outputs[0].reduce == "sum"


def test_broadcast_gradient_reduction_is_fused():
    """The reduce_sum of a broadcast's gradient runs in the same loop as the product."""
    x, b = rng.standard_normal((8, 5)), rng.standard_normal(5)
    steps = plan(jg.grad(lambda x, b: jnp.sum(jnp.sin(x + b)), argnums=(0, 1)), x, b)
    assert len(steps) == 1
    kinds = sorted(str(o.reduce) for o in steps[0].outputs)
    assert kinds == ["None", "sum"]  # dx stored, db accumulated row-wise in the same loop
    source = jg.show_kernels(jg.grad(lambda x, b: jnp.sum(jnp.sin(x + b)), argnums=(0, 1)))(
        x, b)
    assert "broadcast_to" not in source and source.count("def kernel(") == 1


def test_value_and_grad_of_elementwise_loss_is_one_kernel():
    x, y = rng.standard_normal(50), rng.standard_normal(50)

    def f(x, y):
        return jnp.sum(jnp.sin(x) * y + jnp.exp(-x * x) / (1 + y * y))

    steps = plan(jg.value_and_grad(f, argnums=(0, 1)), x, y)
    assert len(steps) == 1 and len(steps[0].outputs) == 3


def test_matmul_bias_epilogue_and_transposes_folded():
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    steps = plan(lambda x, w, b: jnp.tanh(x @ w + b), x, w, b)
    assert [type(s) for s in steps] == [MatmulStep, LoopKernel]  # tanh: vectorised kernel
    assert steps[0].bias is not None
    steps = plan(lambda x, w: x.T @ w.T, x.T, w.T)
    assert isinstance(steps[0], MatmulStep) and steps[0].transpose_a and steps[0].transpose_b


def test_compile_error_shows_ir_and_source(monkeypatch):
    from jitgrad.core import REGISTRY, Elementwise
    monkeypatch.setattr(REGISTRY["neg"], "lowering", Elementwise("undefined_function({0})"))
    with pytest.raises(jg.CompileError) as e:
        jg.jit(lambda x: -x * 3.0)(np.ones(4))
    msg = str(e.value)
    assert "jitgrad bug" in msg and "neg" in msg and "undefined_function" in msg


def test_contiguous_loop_axes_are_collapsed():
    x, y = rng.standard_normal((500, 3)), rng.standard_normal((500, 3))
    (k,) = plan(lambda x, y: jnp.sin(x) * y + 1.0, x, y)
    assert k.shape == (1500,)
    b = rng.standard_normal(3)  # a broadcast along rows keeps the 2-D loop
    (k,) = plan(lambda x, b: jnp.sin(x) * b, x, b)
    assert k.shape == (500, 3)
    x3 = rng.standard_normal((4, 5, 6))
    (k,) = plan(lambda x: jnp.sum(jnp.exp(x), axis=(1, 2)), x3)
    assert k.shape == (4, 30) and k.outputs[0].axes == (1,)
    for f, args in [(lambda x, y: jnp.sin(x) * y + 1.0, (x, y)),
                    (lambda x: jnp.sum(jnp.exp(x), axis=(1, 2)), (x3,)),
                    (lambda x: jnp.sum(jnp.exp(x), axis=(1, 2)), (x3[:, ::-1, ::2],))]:
        np.testing.assert_allclose(jg.jit(f)(*args), f(*args), rtol=1e-13)


def test_stop_gradient_costs_nothing_when_compiled():
    """Once compiling, stop_gradient is the identity: no kernel copies its operand."""
    x, w = rng.standard_normal((4, 4)), rng.standard_normal((8, 3))
    steps = plan(lambda x, w: jnp.stop_gradient(x.reshape(2, 8)) @ w, x, w)
    assert not any(isinstance(s, LoopKernel) for s in steps), steps
    f = jg.jit(jg.value_and_grad(lambda x: jnp.sum(jnp.stop_gradient(x) * x)))
    v, g = f(x)
    np.testing.assert_allclose(g, x)
