"""Compiled float32 sums stay accurate at any size (blocked partial sums added in float64),
for every reduction layout: full, last, first (row-wise), middle and several axes, keepdims,
fused with producers, inside gradients and split over threads; reductions the kernel now
initialises itself (max, min, prod, integers, empty axes) keep numpy's results."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp

# Constant terms make float32 rounding errors add up instead of cancelling: the worst case.
# Blocked sums keep them below 1e-6 relative (≈ 6e-7 measured); a float32 accumulator drifts
# linearly in the number of terms (1.5e-3 at 1e7).
TOL = 1e-6
THIRD = np.float32(1 / 3)


def rel_error(got, exact):
    got, exact = np.asarray(got, np.float64), np.asarray(exact, np.float64)
    return float(np.max(np.abs(got - exact) / np.abs(exact)))


def test_float32_sum_of_ten_million_terms():
    """The issue's reproducer: numpy gives 1000000.1, an unblocked float32 sum 998501.4."""
    x = np.full(10**7, 0.1, np.float32)
    got = jg.jit(jnp.sum)(x)
    assert got.dtype == np.float32
    assert rel_error(got, x.astype(np.float64).sum()) < TOL


LAYOUTS = {  # shape, the reduction, the same in float64 numpy
    "full": ((400, 1000), lambda a: jnp.sum(a), lambda a: a.sum()),
    "last axis": ((4, 100000), lambda a: jnp.sum(a, axis=1), lambda a: a.sum(1)),
    "first axis": ((20000, 24), lambda a: jnp.sum(a, axis=0), lambda a: a.sum(0)),
    "middle axis": ((3, 20000, 8), lambda a: jnp.sum(a, axis=1), lambda a: a.sum(1)),
    "outer axes": ((100, 6, 100, 4), lambda a: jnp.sum(a, axis=(0, 2)),
                   lambda a: a.sum((0, 2))),
    "outer and last axes": ((2000, 3, 10, 40), lambda a: jnp.sum(a, axis=(0, 2, 3)),
                            lambda a: a.sum((0, 2, 3))),
    "keepdims": ((20000, 24), lambda a: jnp.sum(a, axis=0, keepdims=True),
                 lambda a: a.sum(0, keepdims=True)),
    "mean": ((20000, 24), lambda a: jnp.mean(a, axis=0), lambda a: a.mean(0)),
    "fused producer": ((400, 1000), lambda a: jnp.sum(a * a + 1), lambda a: (a * a + 1).sum()),
    "two layouts in one kernel": ((20000, 24),
                                  lambda a: (jnp.sum(a, axis=0), jnp.sum(a * 2, axis=1)),
                                  lambda a: (a.sum(0), (a * 2).sum(1))),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_float32_sums_accurate_in_every_layout(layout):
    shape, f, exact = LAYOUTS[layout]
    x = np.full(shape, THIRD)
    got, want = jg.jit(f)(x), exact(x.astype(np.float64))
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want)), strict=True):
        assert g.dtype == np.float32 and g.shape == w.shape
        assert rel_error(g, w) < TOL, layout


def test_float32_sum_that_does_not_vectorise():
    """A strided innermost loop (a sum of a transpose) runs without SIMD partial sums: a
    block is one float32 chain of 2048 terms, ≈ 2e-5 relative in the worst case."""
    x = np.full((3000, 700), 0.1, np.float32)
    assert rel_error(jg.jit(lambda a: jnp.sum(a.T))(x), x.astype(np.float64).sum()) < 3e-5


def test_float32_variance_of_data_far_from_zero():
    x = (1000 + np.random.default_rng(0).standard_normal((20000, 8))).astype(np.float32)
    got = jg.jit(lambda a: jnp.var(a, axis=0))(x)
    assert rel_error(got, x.astype(np.float64).var(0)) < TOL


def test_reductions_inside_gradients():
    """The loss sum of value_and_grad, and a gradient's sum over a broadcast (a bias over 1e5
    rows), fused with the elementwise work around them."""
    X = np.full((100000, 4), 0.1, np.float32)
    b = np.zeros(4, np.float32)
    three = np.float32(0.3)
    loss, g = jg.jit(jg.value_and_grad(lambda b, X: jnp.sum((X + b) * three)))(b, X)
    assert rel_error(loss, ((X + b) * three).astype(np.float64).sum()) < TOL
    assert rel_error(g, np.full(4, np.float64(three) * len(X))) < TOL
    g = jg.jit(jg.grad(lambda b, X: jnp.sum(jnp.tanh(X + b) * X)))(b, X)
    x64 = X.astype(np.float64)
    assert rel_error(g, ((1 - np.tanh(x64) ** 2) * x64).sum(0)) < 1e-5


def test_layernorm_gradient_over_many_rows():
    """γ's gradient sums the normalised rows (here nearly equal, so errors add up)."""
    rng = np.random.default_rng(1)
    x = (np.linspace(0, 1, 32) + 1e-3 * rng.standard_normal((20000, 32))).astype(np.float32)
    gamma = np.ones(32, np.float32)

    def loss(x, gamma):
        xc = x - jnp.mean(x, axis=-1, keepdims=True)
        return jnp.sum(xc / jnp.sqrt(jnp.mean(xc * xc, axis=-1, keepdims=True) + 1e-5) * gamma)

    dgamma = jg.jit(jg.grad(loss, argnums=1))(x, gamma)
    xc = x.astype(np.float64) - x.mean(-1, keepdims=True, dtype=np.float64)
    xhat = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5)
    assert rel_error(dgamma, xhat.sum(0)) < TOL


def test_float32_sums_split_over_threads(monkeypatch):
    """A kernel split along its outer loop reduces each block's inner axes on its own."""
    from jitgrad.backend import parallel
    # Lowered so that this small array splits (the measured threshold is 2^23 elements).
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1 << 18)
    x = np.full((4, 3000, 40), THIRD)
    f = jg.jit(lambda a: (jnp.sum(a, axis=2), jnp.sum(a, axis=1), jnp.sum(a, axis=(1, 2))))
    jg.config.threads = 2
    try:
        assert "run_split" in f.lower(x).caller_source
        got = f(x)
    finally:
        jg.config.threads = 1
    x64 = x.astype(np.float64)
    for g, w in zip(got, (x64.sum(2), x64.sum(1), x64.sum((1, 2))), strict=True):
        assert rel_error(g, w) < TOL


def test_other_reductions_in_a_kernel_with_a_blocked_sum():
    """In a one-loop kernel every reduction is accumulated per block, then combined."""
    x = np.random.default_rng(3).uniform(0.999, 1.001, 50000).astype(np.float32)
    f = jg.jit(lambda a: (jnp.sum(a), jnp.max(a), jnp.min(a), jnp.prod(a),
                          jnp.sum(a.astype(np.int32) * 3), jnp.sum(a.astype(np.float64)), a * 2))
    got = f(x)
    x64 = x.astype(np.float64)
    assert rel_error(got[0], x64.sum()) < TOL
    assert got[1] == x.max() and got[2] == x.min()
    assert rel_error(got[3], np.prod(x64)) < 1e-4
    ints = np.sum(x.astype(np.int32) * 3)
    assert got[4] == ints and got[4].dtype == ints.dtype
    assert rel_error(got[5], x64.sum()) < 1e-12
    np.testing.assert_array_equal(got[6], x * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_row_wise_reductions_start_from_their_identity(dtype):
    """Outputs reduced over outer axes are filled with the identity by the kernel itself."""
    x = np.random.default_rng(2).integers(-3, 4, (70, 3, 5)).astype(dtype)
    ops = ["sum", "prod", "max", "min"]
    got = jg.jit(lambda a: [getattr(jnp, op)(a, axis=axes) for op in ops
                            for axes in (0, (0, 2))])(x)
    want = [getattr(np, op)(x, axis=axes) for op in ops for axes in (0, (0, 2))]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("op", ["sum", "prod"])
def test_reductions_over_empty_axes(op):
    x = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(jg.jit(lambda a: getattr(jnp, op)(a, axis=0))(x),
                                  getattr(np, op)(x, axis=0))
