"""Neural-network functions, written stably: logsumexp, softmax, log_softmax, relu, sigmoid,
softplus, elu, leaky_relu, selu, standardize; and pooling over windows (flax's max_pool,
min_pool, avg_pool)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad import prims as P
from jitgrad.errors import ShapeError
from jitgrad.windowed import reduce_window

__all__ = ["avg_pool", "elu", "leaky_relu", "log_softmax", "logsumexp", "max_pool", "min_pool",
           "relu", "selu", "sigmoid", "softmax", "softplus", "standardize"]


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


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow or loss of precision; its derivative is
    ``sigmoid(x)`` everywhere (each branch sees only the inputs it is selected for).

    >>> softplus(np.array([-1.0, 0.0, 100.0]))
    array([  0.31326169,   0.69314718, 100.        ])
    >>> float(softplus(-50.0))  # exp(-50), not 0
    1.9287498479639178e-22
    """
    pos = x > 0
    above, below = jnp.where(pos, x, 0), jnp.where(pos, 0, x)
    return jnp.where(pos, above + jnp.log1p(jnp.exp(-above)), jnp.log1p(jnp.exp(below)))


def elu(x: Any, alpha: float = 1.0) -> Any:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``.

    >>> elu(np.array([-1.0, 2.0]))
    array([-0.63212056,  2.        ])
    """
    pos = x > 0
    return jnp.where(pos, x, alpha * jnp.expm1(jnp.where(pos, 0, x)))


def leaky_relu(x: Any, negative_slope: float = 1e-2) -> Any:
    """``x`` where non-negative, else ``negative_slope * x``.

    >>> leaky_relu(np.array([-2.0, 3.0]))
    array([-0.02,  3.  ])
    """
    return jnp.where(x >= 0, x, negative_slope * x)


def selu(x: Any) -> Any:
    """The self-normalising ``scale * elu(x, alpha)`` of Klambauer et al. (2017).

    >>> selu(np.array([0.0, 1.0]))
    array([0.        , 1.05070099])
    """
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def standardize(x: Any, axis: Any = -1, mean: Any = None, variance: Any = None,
                epsilon: float = 1e-5) -> Any:
    """``(x - mean) / sqrt(variance + epsilon)``, the mean and variance over ``axis`` unless
    given.

    >>> standardize(np.array([1.0, 3.0]), epsilon=0.0)
    array([-1.,  1.])
    """
    if mean is None:
        mean = jnp.mean(x, axis=axis, keepdims=True)
    if variance is None:
        variance = jnp.var(x, axis=axis, keepdims=True)
    return (x - mean) / jnp.sqrt(variance + epsilon)


def _pool(inputs: Any, init: Any, computation: Any, window_shape: Any, strides: Any,
          padding: Any) -> Any:
    """reduce_window over the window axes of ``inputs`` (batch axes..., window axes...,
    features), as flax's ``pool``: the batch axes (any number, none included) and the feature
    axis are not pooled."""
    x = jnp.asarray(inputs)
    window = tuple(int(w) for w in window_shape)
    strides = tuple(int(s) for s in strides) if strides is not None else (1,) * len(window)
    n_batch = jnp.ndim(x) - len(window) - 1
    if n_batch < 0 or len(strides) != len(window):
        raise ShapeError(f"pooling: window_shape {window} and strides {strides} must name "
                         f"the axes between the batch axes and the feature axis of inputs of "
                         f"shape {jnp.shape(x)}")
    if not isinstance(padding, str):
        padding = ((0, 0),) * n_batch + tuple(tuple(p) for p in padding) + ((0, 0),)
    return reduce_window(x, init, computation, (1,) * n_batch + window + (1,),
                         (1,) * n_batch + strides + (1,), padding)


def max_pool(inputs: Any, window_shape: Any, strides: Any = None, padding: Any = "VALID"
             ) -> Any:
    """The maximum over windows of ``window_shape`` (``strides`` apart, default 1; padding
    'VALID', 'SAME' or (low, high) pairs, padding never the maximum) of ``inputs`` laid out
    as (batch..., spatial..., features), as ``flax.linen.max_pool``. Its derivative flows to
    the first maximal element of each window (row-major order), as in JAX.

    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> max_pool(x, (2, 2), strides=(2, 2))[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool(inputs, -np.inf, jnp.maximum, window_shape, strides, padding)


def min_pool(inputs: Any, window_shape: Any, strides: Any = None, padding: Any = "VALID"
             ) -> Any:
    """The minimum over windows, as ``max_pool`` (``flax.linen.min_pool``).

    >>> min_pool(np.arange(6.0).reshape(1, 6, 1), (3,), strides=(3,))[0, :, 0]
    array([0., 3.])
    """
    return _pool(inputs, np.inf, jnp.minimum, window_shape, strides, padding)


def avg_pool(inputs: Any, window_shape: Any, strides: Any = None, padding: Any = "VALID",
             count_include_pad: bool = True) -> Any:
    """The mean over windows, as ``max_pool`` (``flax.linen.avg_pool``): with
    ``count_include_pad`` (flax's default) a window's sum is divided by the window size, else
    by the number of input elements in it (``jitgrad.example_libraries.stax.AvgPool``'s, as
    JAX's stax).

    >>> x = np.ones((1, 3, 1))
    >>> avg_pool(x, (2,), padding="SAME")[0, :, 0]
    array([1. , 1. , 0.5])
    >>> avg_pool(x, (2,), padding="SAME", count_include_pad=False)[0, :, 0]
    array([1., 1., 1.])
    """
    total = _pool(inputs, 0.0, jnp.add, window_shape, strides, padding)
    if count_include_pad:
        return total / np.prod(window_shape, dtype=np.int64)
    shape = jnp.shape(inputs)[-len(window_shape) - 1:-1] + (1,)
    counts = _pool(np.ones(shape, jnp.result_type(total)), 0.0, jnp.add, window_shape,
                   strides, padding)
    return total / counts
