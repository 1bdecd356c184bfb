"""Neural-network functions, written stably: logsumexp, softmax, log_softmax, relu, sigmoid."""

from __future__ import annotations

from typing import Any

from jitgrad import numpy as jnp
from jitgrad import prims as P

__all__ = ["log_softmax", "logsumexp", "relu", "sigmoid", "softmax"]


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` without overflow: the maximum is factored out (and held constant
    for differentiation, which leaves the gradient, softmax(x), unchanged).

    >>> float(logsumexp(np.array([1000.0, 1000.0])))
    1000.6931471805599
    """
    m = jnp.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)  # all -inf: log(0) = -inf, not nan
    out = jnp.log(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else jnp.squeeze(out, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - logsumexp(x)`` along ``axis``.

    >>> np.round(log_softmax(np.array([0.0, np.log(3.0)])), 4)
    array([-1.3863, -0.2877])
    """
    shifted = x - jnp.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed from the shifted logits.

    >>> softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """
    e = jnp.exp(x - jnp.stop_gradient(jnp.max(x, axis=axis, keepdims=True)))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def relu(x: Any) -> Any:
    """``max(x, 0)``, with derivative 0 at 0 (as JAX).

    >>> relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    return jnp.where(x > 0, x, 0)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    >>> sigmoid(np.array([0.0]))
    array([0.5])
    """
    return P.logistic(jnp.asarray(x) if jnp.ndim(x) == 0 and not hasattr(x, "dtype") else
                      x if jnp.issubdtype(jnp.result_type(x), jnp.floating) else
                      jnp.astype(x, jnp.float64))
