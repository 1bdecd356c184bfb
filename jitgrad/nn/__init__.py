"""Neural-network functions, written stably (JAX's ``jax.nn``: activations, logsumexp,
softmax, one_hot, standardize, the ``initializers`` submodule) and pooling over windows
(flax's max_pool, min_pool, avg_pool)."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad import prims as P
from jitgrad.api_util import lazy_submodules
from jitgrad.errors import ShapeError
from jitgrad.numpy import tanh
from jitgrad.windowed import reduce_window

__all__ = ["avg_pool", "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish",
           "hard_tanh", "identity", "leaky_relu", "log_sigmoid", "log_softmax", "logmeanexp",
           "logsumexp", "max_pool", "min_pool", "mish", "one_hot", "relu", "relu6", "selu",
           "sigmoid", "silu", "soft_sign", "softmax", "softplus", "sparse_plus",
           "sparse_sigmoid", "squareplus", "standardize", "swish", "tanh"]

# jitgrad.nn.initializers draws from jitgrad.random: imported on first access.
__getattr__, __dir__ = lazy_submodules(__name__, ("initializers",))


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
    """``max(x, 0)``, with derivative 0 at 0 (as JAX); NaN stays NaN.

    >>> relu(np.array([-1.0, 0.0, 2.0, np.nan]))
    array([ 0.,  0.,  2., nan])
    """
    # Where x > 0 fails the value is maximum's, which keeps NaN (a 0 there hid NaNs).
    return jnp.where(x > 0, x, jnp.stop_gradient(jnp.maximum(x, 0)))


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


def _floating(x: Any) -> Any:
    """``x`` as an array of a floating dtype: integers and booleans as float64 (NB: JAX's
    default float dtype, float32 without x64; jitgrad's is numpy's)."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else jnp.astype(x, jnp.float64)


def identity(x: Any) -> Any:
    """``x`` itself, as an array.

    >>> identity([1.0, 2.0])
    array([1., 2.])
    """
    return jnp.asarray(x)


def relu6(x: Any) -> Any:
    """``min(max(x, 0), 6)``, with derivative 0 at 0 and at 6 (as JAX); NaN stays NaN.

    >>> relu6(np.array([-1.0, 3.0, 7.0]))
    array([0., 3., 6.])
    """
    # Outside (0, 6) the value is a constant: clip's, which keeps NaN.
    return jnp.where((x > 0) & (x < 6), x, jnp.stop_gradient(jnp.clip(x, 0, 6)))


def hard_tanh(x: Any) -> Any:
    """``x`` clipped to ``[-1, 1]`` (derivative 1 inside the interval, 0 outside).

    >>> hard_tanh(np.array([-2.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x: Any) -> Any:
    """The piecewise-linear sigmoid ``relu6(x + 3) / 6``.

    >>> hard_sigmoid(np.array([-4.0, 0.0, 1.5]))
    array([0.  , 0.5 , 0.75])
    """
    return relu6(x + 3.0) / 6.0


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)`` (also ``hard_swish``).

    >>> hard_silu(np.array([-4.0, 1.5, 4.0]))
    array([-0.   ,  1.125,  4.   ])
    """
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def silu(x: Any) -> Any:
    """The sigmoid-weighted linear unit ``x * sigmoid(x)`` (also ``swish``).

    >>> silu(np.array([0.0, 1.0]))
    array([0.        , 0.73105858])
    """
    return x * sigmoid(x)


swish = silu


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, accurate for large ``|x|``.

    >>> log_sigmoid(np.array([0.0, -100.0]))
    array([  -0.69314718, -100.        ])
    """
    return -softplus(-x)


def celu(x: Any, alpha: Any = 1.0) -> Any:
    """The continuously differentiable ELU: ``x`` where positive, else
    ``alpha * (exp(x / alpha) - 1)``.

    >>> celu(np.array([-1.0, 2.0]), alpha=2.0)
    array([-0.78693868,  2.        ])
    """
    pos = x > 0
    return jnp.where(pos, x, alpha * jnp.expm1(jnp.where(pos, 0, x) / alpha))


def soft_sign(x: Any) -> Any:
    """``x / (|x| + 1)``.

    >>> soft_sign(np.array([-3.0, 1.0]))
    array([-0.75,  0.5 ])
    """
    return x / (jnp.abs(x) + 1)


def mish(x: Any) -> Any:
    """``x * tanh(softplus(x))``.

    >>> mish(np.array([0.0, 1.0]))
    array([0.        , 0.86509839])
    """
    return x * jnp.tanh(softplus(x))


def squareplus(x: Any, b: Any = 4) -> Any:
    """The smooth ReLU ``(x + sqrt(x**2 + b)) / 2``.

    >>> squareplus(np.array([0.0, 1.5]))
    array([1., 2.])
    """
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def sparse_plus(x: Any) -> Any:
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)**2 / 4`` between.

    >>> sparse_plus(np.array([-2.0, 0.0, 2.0]))
    array([0.  , 0.25, 2.  ])
    """
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x: Any) -> Any:
    """``clip((x + 1) / 2, 0, 1)``, the derivative of ``sparse_plus``.

    >>> sparse_sigmoid(np.array([-2.0, 0.0, 0.5]))
    array([0.  , 0.5 , 0.75])
    """
    return 0.5 * jnp.clip(x + 1.0, 0.0, 2.0)


def gelu(x: Any, approximate: bool = True) -> Any:
    """The Gaussian error linear unit ``x * Phi(x)``: by default JAX's tanh approximation
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``, exact (``x/2 * erfc(-x/sqrt(2))``)
    with ``approximate=False``.

    >>> gelu(np.array([-1.0, 1.0]))
    array([-0.15880801,  0.84119199])
    >>> gelu(np.array([-1.0, 1.0]), approximate=False)
    array([-0.15865525,  0.84134475])
    """
    x = _floating(x)
    if approximate:
        cdf = 0.5 * (1.0 + jnp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        return x * cdf
    from jitgrad.scipy.special import erfc  # jitgrad.scipy imports this module
    return 0.5 * x * erfc(-x * math.sqrt(0.5))


def glu(x: Any, axis: int = -1) -> Any:
    """The gated linear unit: ``x`` split in two halves along ``axis``, the first times the
    sigmoid of the second.

    >>> glu(np.array([2.0, 4.0, 0.0, 100.0]))
    array([1., 4.])
    """
    size = jnp.shape(x)[axis]
    if size % 2:
        raise ShapeError(f"glu: the size of axis {axis} of an input of shape {jnp.shape(x)} "
                         f"must be even, got {size}")
    a, b = jnp.split(x, 2, axis)
    return a * sigmoid(b)


def logmeanexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(mean(exp(x)))``, as ``logsumexp(x) - log(n)`` with ``n`` the number of elements
    reduced.

    >>> float(logmeanexp(np.array([1000.0, 1000.0])))
    1000.0
    """
    shape = jnp.shape(x)
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    count = math.prod(shape[a] for a in axes)
    return logsumexp(x, axis=axis, keepdims=keepdims) - math.log(count)


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Any:
    """Each integer of ``x`` as a vector of ``num_classes`` zeros with a one at that index
    (indices outside ``[0, num_classes)``: all zeros), the new axis at ``axis``.

    NB: the default dtype is float64, numpy's float (JAX's ``jnp.float_``: float32 unless
    x64 is enabled).

    >>> one_hot(np.array([0, 2, 5]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 0., 0.]])
    >>> one_hot(np.array([1, 0]), 2, dtype=np.float32, axis=0)
    array([[0., 1.],
           [1., 0.]], dtype=float32)
    """
    num_classes = operator.index(num_classes)
    x = jnp.asarray(x)
    ndim = jnp.ndim(x) + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"one_hot: axis {axis} is out of range for an output of "
                         f"{ndim} dimensions (input shape {jnp.shape(x)})")
    axis %= ndim
    classes = np.arange(num_classes).reshape((num_classes,) + (1,) * (ndim - 1 - axis))
    hot = jnp.expand_dims(x, axis) == classes
    return jnp.astype(hot, jnp.float64 if dtype is None else dtype)


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
