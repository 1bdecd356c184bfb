"""Random programs (hypothesis): random DAGs of operations over broadcastable shapes, compiled
vs the numpy reference, and their gradients vs finite differences and vs the compiled grad."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitgrad as jg
import jitgrad.numpy as jnp

SHAPES = [(2, 3), (3,), (2, 1), (1, 3), ()]

UNARY = {
    "sin": jnp.sin,
    "tanh": jnp.tanh,
    "gauss": lambda x: jnp.exp(-x * x),
    "log1p_sq": lambda x: jnp.log1p(x * x),
    "square": jnp.square,
    "neg": lambda x: -x,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.0 + b * b),
    "max": jnp.maximum,
    "where": lambda a, b: jnp.where(a > b, a * 2.0, b),
}
REDUCE = {
    "sum0": lambda x: jnp.sum(x, axis=0, keepdims=True) if jnp.ndim(x) else x,
    "sum-1": lambda x: jnp.sum(x, axis=-1, keepdims=True) if jnp.ndim(x) else x,
    "max-1": lambda x: jnp.max(x, axis=-1, keepdims=True) if jnp.ndim(x) else x,
    "mean": lambda x: jnp.mean(x, keepdims=True) if jnp.ndim(x) else x,
    "T": lambda x: x.T,
}

op = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 99)),
    st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), st.integers(0, 99),
              st.integers(0, 99)),
    st.tuples(st.just("r"), st.sampled_from(sorted(REDUCE)), st.integers(0, 99)),
)
program = st.tuples(
    st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3),
    st.lists(op, min_size=1, max_size=7),
    st.integers(0, 2 ** 31 - 1),
)


def build(ops):
    """A function of the inputs running ``ops``; each op reads earlier values by index."""
    def f(*xs):
        vals = list(xs)
        for o in ops:
            if o[0] == "u":
                vals.append(UNARY[o[1]](vals[o[2] % len(vals)]))
            elif o[0] == "b":
                a, b = vals[o[2] % len(vals)], vals[o[3] % len(vals)]
                if jnp.ndim(a) == 2 and jnp.ndim(b) == 2 and jnp.shape(a) != jnp.shape(b) \
                        and 1 not in jnp.shape(a) + jnp.shape(b):
                    b = b.T  # (2, 3) with (3, 2): transpose to broadcast
                vals.append(BINARY[o[1]](a, b))
            else:
                vals.append(REDUCE[o[1]](vals[o[2] % len(vals)]))
        return vals[-1]
    return f


def scalar(f):
    return lambda *xs: jnp.sum(f(*xs) ** 2)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_program_compiled_and_differentiated(prog):
    shapes, ops, seed = prog
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    f = build(ops)
    expected = np.asarray(f(*args))
    np.testing.assert_allclose(jg.jit(f)(*args), expected, rtol=1e-12, atol=1e-12)
    loss = scalar(f)
    argnums = tuple(range(len(args)))
    g_ref = jg.grad(loss, argnums=argnums)(*args)
    g_jit = jg.jit(jg.grad(loss, argnums=argnums))(*args)
    for a, b in zip(g_jit, g_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    jg.check_grads(loss, args, order=1)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_program_float32(prog):
    shapes, ops, seed = prog
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-1.5, 1.5, s).astype(np.float32) for s in shapes]
    f = build(ops)
    out = jg.jit(f)(*args)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(f(*args)), rtol=2e-5, atol=2e-5)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_program_vmap_equals_loop(prog):
    shapes, ops, seed = prog
    rng = np.random.default_rng(seed)
    batch = [rng.uniform(-1.5, 1.5, (3,) + s) for s in shapes]
    f = build(ops)
    expected = np.stack([np.asarray(f(*[b[i] for b in batch])) for i in range(3)])
    np.testing.assert_allclose(jg.vmap(f)(*batch), expected, rtol=1e-12, atol=1e-12)
    g = jg.grad(scalar(f))
    expected = np.stack([g(*[b[i] for b in batch]) for i in range(3)])
    np.testing.assert_allclose(jg.jit(jg.vmap(g))(*batch), expected, rtol=1e-11, atol=1e-11)
