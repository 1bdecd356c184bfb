"""Realistic differentiable programs written with jitgrad.numpy, shared by the tests."""

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import nn


def mlp_loss(params, x, y_onehot):
    """Two tanh hidden layers and softmax cross-entropy."""
    h = x
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    return -jnp.mean(jnp.sum(y_onehot * nn.log_softmax(logits), axis=-1))


def softmax_cross_entropy(logits, labels):
    return -jnp.mean(nn.log_softmax(logits)[np.arange(len(labels)), labels])


def attention(q, k, v):
    scores = q @ jnp.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    return jnp.sum(nn.softmax(scores, axis=-1) @ v)


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return jnp.sum(((x - mu) / jnp.sqrt(var + eps) * gamma + beta) ** 2)


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def init_mlp(rng, sizes, dtype=np.float64):
    return [(rng.standard_normal((m, n)).astype(dtype) / np.sqrt(m),
             rng.standard_normal(n).astype(dtype) * 0.1)
            for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
