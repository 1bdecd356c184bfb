"""grad, value_and_grad, vjp and jvp on realistic programs, against finite differences."""

import numpy as np

import jitgrad as jg
from tests.workloads import (
    attention,
    init_mlp,
    layer_norm,
    mlp_loss,
    rosenbrock,
    softmax_cross_entropy,
)

rng = np.random.default_rng(0)


def test_mlp_loss():
    params = init_mlp(rng, [5, 4, 4, 3])
    x = rng.standard_normal((6, 5))
    y = np.eye(3)[rng.integers(0, 3, 6)]
    jg.check_grads(lambda p: mlp_loss(p, x, y), (params,), order=2)
    val, g = jg.value_and_grad(mlp_loss)(params, x, y)
    np.testing.assert_allclose(val, mlp_loss(params, x, y))
    assert [tuple(a.shape for a in layer) for layer in g] == \
        [tuple(a.shape for a in layer) for layer in params]


def test_softmax_cross_entropy():
    logits = rng.standard_normal((4, 5))
    labels = np.array([0, 3, 4, 1])
    jg.check_grads(lambda z: softmax_cross_entropy(z, labels), (logits,), order=2)
    g = jg.grad(softmax_cross_entropy)(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    p[np.arange(4), labels] -= 1
    np.testing.assert_allclose(g, p / 4)


def test_attention():
    q, k, v = (rng.standard_normal((2, 3, 4)) for _ in range(3))
    jg.check_grads(attention, (q, k, v), order=2)


def test_layer_norm():
    x = rng.standard_normal((3, 6))
    jg.check_grads(layer_norm, (x, rng.standard_normal(6), rng.standard_normal(6)), order=2)


def test_rosenbrock_gradient():
    x = rng.uniform(-1, 1, 6)
    g = jg.grad(rosenbrock)(x)
    expected = np.zeros_like(x)
    expected[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    expected[1:] += 200 * (x[1:] - x[:-1] ** 2)
    np.testing.assert_allclose(g, expected)
    jg.check_grads(rosenbrock, (x,), order=2)
