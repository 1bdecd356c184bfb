"""JITGRAD_PRECISE_MATH / config.precise_math: compiled results identical to numpy's."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp


@pytest.fixture
def precise():
    jg.config.precise_math = True
    try:
        yield
    finally:
        jg.config.precise_math = False


rng = np.random.default_rng(0)
VALUES = np.concatenate([rng.uniform(-30, 30, 200), rng.uniform(-1, 1, 100),
                         [0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, 1e-310, 700.0, -745.5]])
FUNCS = ["exp", "log", "sin", "cos", "tan", "tanh", "log1p", "expm1"]
PRECISE_ONLY = ["arcsin", "arctan", "arcsinh", "arctanh", "sqrt"]


@pytest.mark.parametrize("name", FUNCS + PRECISE_ONLY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precise_functions_are_numpy_identical(precise, name, dtype):
    x = VALUES.astype(dtype)
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(x)
        got = jg.jit(lambda x: getattr(jnp, name)(x) * 1.5 + x)(x)
        ref = expected * dtype(1.5) + x
    np.testing.assert_array_equal(got, ref)


def test_precise_binary_functions_are_numpy_identical(precise):
    x, y = VALUES, VALUES[::-1]
    for f in (jnp.arctan2, jnp.mod, jnp.power, jnp.divide):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(jg.jit(f)(x, y), f(x, y))


def test_precise_gradient_is_bit_identical_to_reference(precise):
    def f(x, y):
        return jnp.sum(jnp.sin(x) * y + jnp.exp(-x * x) / (1 + y * y))

    x, y = rng.standard_normal(1000), rng.standard_normal(1000)
    g = jg.grad(f, argnums=(0, 1))
    for a, b in zip(jg.jit(g)(x, y), g(x, y), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "math." not in jg.show_kernels(g)(x, y)  # transcendentals are numpy's own


def test_default_math_within_one_ulp_of_numpy():
    x = rng.uniform(-20, 20, 4000)
    for name in FUNCS:
        with np.errstate(all="ignore"):
            expected = getattr(np, name)(x)
        got = jg.jit(getattr(jnp, name))(x)
        ok = np.isfinite(expected)
        ulp = np.abs(got[ok] - expected[ok]) / np.spacing(np.abs(expected[ok]))
        assert ulp.max() <= 1.0, name
