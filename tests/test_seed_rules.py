"""Every rule of the user's seed document (shared/seed/tensor-gradients.md), one test each.
Section names below are the seed's."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.prims import matmul

rng = np.random.default_rng(42)
A = rng.uniform(0.5, 2.0, (3, 4))
B = rng.uniform(0.5, 2.0, (3, 4))
G = rng.standard_normal((3, 4))  # an incoming dE/d(result)


def grads(f):
    """Both cotangents of f(A, B) for the cotangent G."""
    _, f_vjp = jg.vjp(f, A, B)
    return f_vjp(G)


# --- "Matrix Operations": AB_jk = sum_i a_ji b_ik ------------------------------------------


def test_matrix_operations_partials():
    """dAB/dA_ji = sum_k b_ik and dAB/dB_ik = sum_j a_ji (derivative of the sum of AB)."""
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 5))
    ga, gb = jg.grad(lambda a, b: jnp.sum(a @ b), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(b.sum(axis=1), (2, 3)))
    np.testing.assert_allclose(gb, np.broadcast_to(a.sum(axis=0)[:, None], (3, 5)))


# --- "Tensor Operations" gradients ---------------------------------------------------------


def test_add_gradients_are_ones():
    """d(A+B)/dA = 1^e, d(A+B)/dB = 1^e."""
    ga, gb = grads(lambda a, b: a + b)
    np.testing.assert_array_equal(ga, G)
    np.testing.assert_array_equal(gb, G)


def test_sub_gradients_are_plus_minus_ones():
    """d(A-B)/dA = 1^e, d(A-B)/dB = -1^e."""
    ga, gb = grads(lambda a, b: a - b)
    np.testing.assert_array_equal(ga, G)
    np.testing.assert_array_equal(gb, -G)


def test_elementwise_product_gradients():
    """d(A (x) B)/dA = B, d(A (x) B)/dB = A."""
    ga, gb = grads(lambda a, b: a * b)
    np.testing.assert_allclose(ga, G * B)
    np.testing.assert_allclose(gb, G * A)


def test_division_gradients():
    """d(A/B)/dA = 1^e / B, d(A/B)/dB = -A / B^2."""
    ga, gb = grads(lambda a, b: a / b)
    np.testing.assert_allclose(ga, G / B)
    np.testing.assert_allclose(gb, G * (-A / B ** 2))


@pytest.mark.parametrize("F,dF", [
    (jnp.exp, np.exp), (jnp.log, lambda x: 1 / x), (jnp.sin, np.cos),
    (jnp.cos, lambda x: -np.sin(x)), (jnp.tan, lambda x: 1 / np.cos(x) ** 2),
    (jnp.tanh, lambda x: 1 - np.tanh(x) ** 2), (jnp.sqrt, lambda x: 0.5 / np.sqrt(x)),
    (jnp.log1p, lambda x: 1 / (1 + x)), (jnp.expm1, np.exp), (jnp.abs, np.sign),
    (jg.nn.sigmoid, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (jnp.square, lambda x: 2 * x), (jnp.negative, lambda x: -np.ones_like(x)),
])
def test_function_gradient_is_its_derivative(F, dF):
    """dF(A)/dA = F'(A), elementwise."""
    x = rng.uniform(0.3, 1.2, (2, 3))
    g = rng.standard_normal((2, 3))
    _, f_vjp = jg.vjp(F, x)
    np.testing.assert_allclose(f_vjp(g)[0], g * dF(x), rtol=1e-12)


# --- "Tensor Rules": conversions (broadcasting) --------------------------------------------

CONVERSIONS = [
    # 1. [1] * [1, 2, 3, 4] -> [1, 1, 1, 1] * [1, 2, 3, 4]
    ([1.0], [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]),
    # 2. [[1], [2]] * [[1, 2, 3, 4], [2, 3, 4, 5]] -> [[1, 1, 1, 1], [2, 2, 2, 2]] * ...
    ([[1.0], [2.0]], [[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]],
     [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]),
    # 3. [[[[2, 4, 6, 8]]]] * [[[2, 4, 6, 8], [3, 5, 7, 9]]]
    #    -> [[[[2, 4, 6, 8], [2, 4, 6, 8]]]] * ...
    ([[[[2.0, 4.0, 6.0, 8.0]]]], [[[2.0, 4.0, 6.0, 8.0], [3.0, 5.0, 7.0, 9.0]]],
     [[[[2.0, 4.0, 6.0, 8.0], [2.0, 4.0, 6.0, 8.0]]]]),
]


@pytest.mark.parametrize("a,b,new_a", CONVERSIONS, ids=["example1", "example2", "example3"])
def test_conversion_examples(a, b, new_a):
    """newA_{e x e_new} = A_{e x 1}; dA = sum over e_new of d(newA op B)/d newA."""
    a, b, new_a = np.array(a), np.array(b), np.array(new_a)
    np.testing.assert_array_equal(jg.jvp(lambda x: x * b, (a,), (np.ones_like(a),))[0],
                                  new_a * b)
    g = np.arange(1.0, 1.0 + (new_a * b).size).reshape((new_a * b).shape)
    _, f_vjp = jg.vjp(lambda x, y: x * y, a, b)
    ga, gb = f_vjp(g)
    # d(newA (x) B)/d newA = B, then summed over the new/stretched axes back to A's shape.
    summed = g * b
    new_axes = tuple(range(summed.ndim - a.ndim))
    summed = summed.sum(axis=new_axes)
    stretched = tuple(i for i, d in enumerate(a.shape) if d == 1 and summed.shape[i] != 1)
    np.testing.assert_allclose(ga, summed.sum(axis=stretched, keepdims=True))
    assert ga.shape == a.shape and gb.shape == b.shape


def test_scalar_op_tensor_gradient():
    """d(scalar op B)/d scalar = sum_e d(scalar^e op B)/d scalar^e."""
    s = np.float64(1.7)
    g = jg.grad(lambda s, b: jnp.sum(s * b), argnums=0)(s, B)
    np.testing.assert_allclose(g, B.sum())
    g = jg.grad(lambda s, b: jnp.sum(b / s), argnums=0)(s, B)
    np.testing.assert_allclose(g, np.sum(-B / s ** 2))


# --- "chain rule" --------------------------------------------------------------------------


def test_chain_rule_for_tensor_operations():
    """dC/dB = dC/dA (x) dA/dB, with C = sin(A) and A = B (x) B."""
    _, f_vjp = jg.vjp(lambda b: jnp.sin(b * b), B)
    np.testing.assert_allclose(f_vjp(G)[0], G * np.cos(B * B) * (2 * B))


def test_chain_rule_for_matrix_multiply():
    """C = AB: dE/dA = dE/dC B^T, dE/dB = A^T dE/dC."""
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    _, f_vjp = jg.vjp(lambda a, b: a @ b, a, b)
    ga, gb = f_vjp(G)
    np.testing.assert_allclose(ga, G @ b.T)
    np.testing.assert_allclose(gb, a.T @ G)


# --- "tensorflow Matrix Multiply Gradients": the four transpose_a / transpose_b cases --------

TF_CASES = {
    # (t_a, t_b): (grad_a, grad_b) as written in the seed, with op(x) = x.T when flagged
    (False, False): (lambda a, b, g: g @ b.T, lambda a, b, g: a.T @ g),
    (False, True): (lambda a, b, g: g @ b, lambda a, b, g: g.T @ a),
    (True, False): (lambda a, b, g: b @ g.T, lambda a, b, g: a @ g),
    (True, True): (lambda a, b, g: b.T @ g.T, lambda a, b, g: g.T @ a.T),
}


@pytest.mark.parametrize("ta,tb", list(TF_CASES))
def test_matmul_transpose_cases(ta, tb):
    m, k, n = 3, 5, 4
    a = rng.standard_normal((k, m) if ta else (m, k))
    b = rng.standard_normal((n, k) if tb else (k, n))
    g = rng.standard_normal((m, n))
    f = lambda a, b: matmul(a, b, transpose_a=ta, transpose_b=tb)  # noqa: E731
    _, f_vjp = jg.vjp(f, a, b)
    ga, gb = f_vjp(g)
    np.testing.assert_allclose(ga, TF_CASES[ta, tb][0](a, b, g))
    np.testing.assert_allclose(gb, TF_CASES[ta, tb][1](a, b, g))
    # The backward program is matmuls with flags only: no transposed copies.
    ir = jg.make_ir(lambda a, b, g: jg.vjp(f, a, b)[1](g))(a, b, g)
    assert {e.prim.name for e in ir.eqns} == {"matmul"}, str(ir)


def test_jnp_folds_transposes_into_matmul_flags():
    """A.T @ B is staged as matmul[transpose_a=True], without a transpose."""
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    ir = jg.make_ir(lambda a, b: a.T @ b)(a, b)
    assert [e.prim.name for e in ir.eqns] == ["matmul"]
    assert ir.eqns[0].params == {"transpose_a": True, "transpose_b": False}
    ir = jg.make_ir(lambda a, b: a @ b.T)(a.T, b.T)
    assert ir.eqns[0].params == {"transpose_a": False, "transpose_b": True}
