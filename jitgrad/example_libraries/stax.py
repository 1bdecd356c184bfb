"""Stax: JAX's small functional neural-network library (``jax.example_libraries.stax``).

A layer is a pair ``(init_fun, apply_fun)``: ``init_fun(rng, input_shape)`` returns
``(output_shape, params)`` and ``apply_fun(params, inputs, **kwargs)`` the outputs; the
combinators ``serial``, ``parallel`` and ``shape_dependent`` build layers from layers, so a
network is one pair whose ``apply_fun`` can be differentiated, jitted and vmapped.

    >>> init_fun, apply_fun = serial(Dense(8), Relu, Dense(3), LogSoftmax)
    >>> out_shape, params = init_fun(0, (-1, 4))
    >>> out_shape, apply_fun(params, np.ones((2, 4), np.float32)).shape
    ((-1, 3), (2, 3))

``rng`` is a ``jitgrad.random`` key, split among the layers as JAX's stax splits it, so a
network gets JAX's initial parameters from the same key (the initialisers are
``jitgrad.nn.initializers``'). NB: an integer seed (as ``key(seed)``) or a numpy
``Generator`` (the key of a seed drawn from it) is accepted too. Parameters are float32, as
JAX makes them."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import nn, random
from jitgrad.core import Tracer
from jitgrad.errors import JitgradTypeError
from jitgrad.nn import initializers
from jitgrad.windowed import (
    conv_general_dilated,
    conv_general_shape_tuple,
    conv_transpose,
    conv_transpose_shape_tuple,
    padtype_to_pads,
    reduce_window,
    reduce_window_shape_tuple,
)

__all__ = ["AvgPool", "BatchNorm", "Conv", "Conv1DTranspose", "ConvTranspose", "Dense",
           "Dropout", "Elu", "Exp", "FanInConcat", "FanInSum", "FanOut", "Flatten", "GeneralConv",
           "GeneralConvTranspose", "Identity", "LeakyRelu", "LogSoftmax", "MaxPool", "Relu",
           "Selu", "Sigmoid", "Softmax", "Softplus", "SumPool", "Tanh", "elementwise",
           "glorot", "glorot_normal", "logsoftmax", "normal", "ones", "parallel", "randn",
           "serial", "shape_dependent", "zeros"]

Layer = tuple[Callable[..., Any], Callable[..., Any]]


# ---------------------------------------------------------------------------------------------
# Random generators and initialisers


def _key(rng: Any) -> Any:
    """``rng`` as a ``jitgrad.random`` key: a key as it is; an integer seed as ``key(seed)``;
    a numpy ``Generator`` as the key of a seed drawn from it."""
    if isinstance(rng, np.random.Generator):
        return random.key(int(rng.integers(2 ** 63)))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return random.key(int(rng))
    if isinstance(rng, Tracer) or (isinstance(rng, np.ndarray) and rng.shape == (2,)
                                   and rng.dtype == np.uint32):
        return rng
    raise JitgradTypeError(f"stax: rng must be a jitgrad.random key, an integer seed or a "
                           f"numpy Generator, got {type(rng).__name__}")


def _split(rng: Any, n: int = 2) -> Any:
    return random.split(_key(rng), n)


def _seeded(init: Callable[..., Any], dtype: Any) -> Callable[..., Any]:
    """``init(key, shape, dtype)`` of ``jitgrad.nn.initializers`` taking any ``rng`` stax
    takes, and ``dtype`` (float32) by default."""
    def seeded(rng: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        return init(_key(rng), tuple(shape), dtype)
    return seeded


def normal(stddev: float = 1e-2, dtype: Any = np.float32) -> Callable[..., Any]:
    """``jitgrad.nn.initializers.normal`` (float32 by default): a normal distribution of mean
    0 and ``stddev``.

    >>> normal(0.5)(0, (2, 3)).shape
    (2, 3)
    """
    return _seeded(initializers.normal(stddev), dtype)


def glorot_normal(in_axis: int = -2, out_axis: int = -1, batch_axis: Any = (),
                  dtype: Any = np.float32) -> Callable[..., Any]:
    """``jitgrad.nn.initializers.glorot_normal`` (float32 by default): a normal truncated at
    two standard deviations, of variance 2 / (fan_in + fan_out), the fans counted along
    ``in_axis``/``out_axis`` times the receptive field (the other axes), as JAX's.

    >>> w = glorot_normal()(0, (300, 200))
    >>> bound = np.sqrt(1 / 250) * 2 / 0.87962566103423978  # two truncated deviations
    >>> round(float(w.std() * np.sqrt(250)), 2), bool(np.abs(w).max() <= bound)
    (1.0, True)
    """
    return _seeded(initializers.glorot_normal(in_axis, out_axis, batch_axis), dtype)


def zeros(rng: Any, shape: Sequence[int], dtype: Any = np.float32) -> Any:
    """An initialiser of zeros.

    >>> zeros(0, (2,))
    array([0., 0.], dtype=float32)
    """
    return initializers.zeros(rng, shape, dtype)


def ones(rng: Any, shape: Sequence[int], dtype: Any = np.float32) -> Any:
    """An initialiser of ones.

    >>> ones(0, (2,))
    array([1., 1.], dtype=float32)
    """
    return initializers.ones(rng, shape, dtype)


glorot = glorot_normal
randn = normal


# ---------------------------------------------------------------------------------------------
# Layers with parameters


def Dense(out_dim: int, W_init: Callable[..., Any] = glorot_normal(),  # noqa: B008
          b_init: Callable[..., Any] = normal()) -> Layer:  # noqa: B008
    """A fully connected layer ``inputs @ W + b`` of ``out_dim`` outputs.

    >>> init_fun, apply_fun = Dense(3)
    >>> shape, (W, b) = init_fun(0, (5, 2))
    >>> shape, W.shape, apply_fun((W, b), np.ones((5, 2), np.float32)).shape
    ((5, 3), (2, 3), (5, 3))
    """
    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        k1, k2 = _split(rng)
        return tuple(input_shape[:-1]) + (out_dim,), (W_init(k1, (input_shape[-1], out_dim)),
                                                      b_init(k2, (out_dim,)))

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        W, b = params
        return jnp.dot(inputs, W) + b

    return init_fun, apply_fun


def _kernel_shape(rhs_spec: str, lhs_spec: str, out_chan: int, filter_shape: Sequence[int],
                  input_shape: Sequence[int]) -> list[int]:
    sizes = iter(filter_shape)
    return [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I" else
            next(sizes) for c in rhs_spec]


def _conv_layer(dimension_numbers: tuple[str, str, str], out_chan: int,
                filter_shape: Sequence[int], strides: Sequence[int] | None, padding: Any,
                W_init: Callable[..., Any] | None, b_init: Callable[..., Any],
                out_shape_of: Callable[..., tuple], conv: Callable[..., Any]) -> Layer:
    """A convolution layer (weights and a per-channel bias) of ``conv(inputs, W, strides,
    padding)``, whose output shape ``out_shape_of(input_shape, kernel, strides, padding,
    dimension_numbers)`` gives."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    strides = tuple(strides) if strides else (1,) * len(filter_shape)
    W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        kernel = _kernel_shape(rhs_spec, lhs_spec, out_chan, filter_shape, input_shape)
        out_shape = out_shape_of(input_shape, kernel, strides, padding, dimension_numbers)
        k1, k2 = _split(rng)
        bias = [out_chan if c == "C" else 1 for c in out_spec]
        return out_shape, (W_init(k1, kernel), b_init(k2, bias))

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        W, b = params
        return conv(inputs, W, strides, padding) + b

    return init_fun, apply_fun


def GeneralConv(dimension_numbers: tuple[str, str, str], out_chan: int,
                filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                padding: Any = "VALID", W_init: Callable[..., Any] | None = None,
                b_init: Callable[..., Any] = normal(1e-6)) -> Layer:  # noqa: B008
    """A convolution layer in the layout ``dimension_numbers`` (lhs, rhs, out strings), with
    ``out_chan`` output features, a kernel of ``filter_shape`` and a bias per feature.

    >>> init_fun, apply_fun = GeneralConv(("NCHW", "OIHW", "NCHW"), 4, (3, 3), padding="SAME")
    >>> shape, params = init_fun(0, (2, 3, 8, 8))
    >>> shape, apply_fun(params, np.ones((2, 3, 8, 8), np.float32)).shape
    ((2, 4, 8, 8), (2, 4, 8, 8))
    """
    one = (1,) * len(filter_shape)
    return _conv_layer(
        dimension_numbers, out_chan, filter_shape, strides, padding, W_init, b_init,
        conv_general_shape_tuple,
        lambda x, W, strides, padding: conv_general_dilated(
            x, W, strides, padding, one, one, dimension_numbers=dimension_numbers))


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv.__doc__ = """``GeneralConv`` in TensorFlow's layout: (N, H, W, C) inputs, (H, W, I, O) kernels.

    >>> init_fun, apply_fun = Conv(4, (3, 3), strides=(2, 2), padding="SAME")
    >>> init_fun(0, (2, 8, 8, 3))[0]
    (2, 4, 4, 4)
    """


def GeneralConvTranspose(dimension_numbers: tuple[str, str, str], out_chan: int,
                         filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                         padding: Any = "VALID",
                         W_init: Callable[..., Any] | None = None,
                         b_init: Callable[..., Any] = normal(1e-6)) -> Layer:  # noqa: B008
    """A transposed-convolution layer (``jitgrad.lax.conv_transpose``) in the layout
    ``dimension_numbers``.

    >>> init_fun, apply_fun = GeneralConvTranspose(("NHC", "HIO", "NHC"), 2, (3,), (2,))
    >>> shape, params = init_fun(0, (1, 4, 3))
    >>> shape, apply_fun(params, np.ones((1, 4, 3), np.float32)).shape
    ((1, 9, 2), (1, 9, 2))
    """
    return _conv_layer(
        dimension_numbers, out_chan, filter_shape, strides, padding, W_init, b_init,
        conv_transpose_shape_tuple,
        lambda x, W, strides, padding: conv_transpose(
            x, W, strides, padding, dimension_numbers=dimension_numbers))


Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
Conv1DTranspose.__doc__ = """``GeneralConvTranspose`` in the layout (N, W, C) / (W, I, O).

    >>> Conv1DTranspose(2, (3,))[0](0, (1, 4, 3))[0]
    (1, 6, 2)
    """
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))
ConvTranspose.__doc__ = """``GeneralConvTranspose`` in the layout (N, H, W, C) / (H, W, I, O).

    >>> ConvTranspose(2, (3, 3), (2, 2), "SAME")[0](0, (1, 4, 4, 3))[0]
    (1, 8, 8, 2)
    """


def BatchNorm(axis: Any = (0, 1, 2), epsilon: float = 1e-5, center: bool = True,
              scale: bool = True, beta_init: Callable[..., Any] = zeros,
              gamma_init: Callable[..., Any] = ones) -> Layer:
    """Normalisation over ``axis`` (the batch statistics of every call), then a learnt scale
    ``gamma`` and offset ``beta`` per remaining position.

    >>> init_fun, apply_fun = BatchNorm(axis=(0,))
    >>> shape, params = init_fun(0, (4, 2))
    >>> x = np.array([[1.0, 0.0], [3.0, 0.0], [1.0, 2.0], [3.0, 2.0]], np.float32)
    >>> np.round(apply_fun(params, x), 3)
    array([[-1., -1.],
           [ 1., -1.],
           [-1.,  1.],
           [ 1.,  1.]], dtype=float32)
    """
    axis = (axis,) if isinstance(axis, int) else tuple(axis)

    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = _split(rng)
        return tuple(input_shape), (beta_init(k1, shape) if center else (),
                                    gamma_init(k2, shape) if scale else ())

    def apply_fun(params: Any, x: Any, **kwargs: Any) -> Any:
        beta, gamma = params
        ed = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
        z = nn.standardize(x, axis, epsilon=epsilon)
        if scale:
            z = gamma[ed] * z
        return z + beta[ed] if center else z

    return init_fun, apply_fun


# ---------------------------------------------------------------------------------------------
# Layers without parameters


def Dropout(rate: float, mode: str = "train") -> Layer:
    """Dropout, as JAX's stax: in ``mode="train"`` each input is kept with probability
    ``rate`` (JAX's meaning: the keep rate) and scaled by ``1 / rate``, the others set to 0,
    from the key passed as ``apply_fun(..., rng=key)``; in any other mode, the identity.

    >>> init_fun, apply_fun = Dropout(0.5)
    >>> out = apply_fun((), np.ones(1000), rng=random.key(0))
    >>> sorted(set(out.tolist())), bool(400 < np.count_nonzero(out) < 600)
    ([0.0, 2.0], True)
    """
    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[Any, tuple]:
        return input_shape, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        if mode != "train":
            return inputs
        rng = kwargs.get("rng")
        if rng is None:
            raise JitgradTypeError("stax.Dropout: call apply_fun(params, inputs, rng=key) with "
                                   "a jitgrad.random key in mode='train'")
        keep = random.bernoulli(_key(rng), rate, jnp.shape(inputs))
        return jnp.where(keep, inputs / rate, 0)

    return init_fun, apply_fun



def elementwise(fun: Callable[..., Any], **fun_kwargs: Any) -> Layer:
    """A layer applying ``fun(inputs, **fun_kwargs)``.

    >>> init_fun, apply_fun = elementwise(np.square)
    >>> init_fun(0, (3,)), apply_fun((), np.array([1.0, 2.0, 3.0]))
    (((3,), ()), array([1., 4., 9.]))
    """
    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[Any, tuple]:
        return input_shape, ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return fun(inputs, **fun_kwargs)

    return init_fun, apply_fun


Tanh = elementwise(jnp.tanh)
Relu = elementwise(nn.relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(nn.log_softmax, axis=-1)
Softmax = elementwise(nn.softmax, axis=-1)
Softplus = elementwise(nn.softplus)
Sigmoid = elementwise(nn.sigmoid)
Elu = elementwise(nn.elu)
LeakyRelu = elementwise(nn.leaky_relu)
Selu = elementwise(nn.selu)
logsoftmax = nn.log_softmax


def _pooling_layer(reducer: Callable[..., Any], init_val: float,
                   rescale: bool = False) -> Callable[..., Layer]:
    def PoolingLayer(window_shape: Sequence[int], strides: Sequence[int] | None = None,
                     padding: Any = "VALID", spec: str | None = None) -> Layer:
        strides = tuple(strides) if strides else (1,) * len(window_shape)
        window = tuple(window_shape)
        # The window covers the spatial axes: batch and feature axes are not pooled.
        fixed = (0, len(window) + 1) if spec is None else (spec.index("N"), spec.index("C"))
        for i in sorted(fixed):
            window = window[:i] + (1,) + window[i:]
            strides = strides[:i] + (1,) + strides[i:]

        def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
            pads = padtype_to_pads(input_shape, window, strides, padding)
            return reduce_window_shape_tuple(input_shape, window, strides, pads), ()

        def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
            out = reduce_window(inputs, init_val, reducer, window, strides, padding)
            if not rescale:
                return out
            # Divided by the number of input elements in each window (padding excluded).
            shape = [1 if i in fixed else d for i, d in enumerate(jnp.shape(inputs))]
            counts = reduce_window(np.ones(shape, jnp.result_type(out)), 0.0, jnp.add,
                                   window, strides, padding)
            return out / counts

        return init_fun, apply_fun

    return PoolingLayer


MaxPool = _pooling_layer(jnp.maximum, -np.inf)
MaxPool.__doc__ = """The maximum over windows of the spatial axes (inputs (N, H, W, C), or laid
    out as ``spec``); its derivative flows to the first maximal element of each window.

    >>> init_fun, apply_fun = MaxPool((2, 2), strides=(2, 2))
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> init_fun(0, x.shape)[0], apply_fun((), x)[0, :, :, 0]
    ((1, 2, 2, 1), array([[ 5.,  7.],
           [13., 15.]]))
    """
SumPool = _pooling_layer(jnp.add, 0.0)
SumPool.__doc__ = """The sum over windows of the spatial axes.

    >>> SumPool((2,))[1]((), np.arange(4.0).reshape(1, 4, 1))[0, :, 0]
    array([1., 3., 5.])
    """
AvgPool = _pooling_layer(jnp.add, 0.0, rescale=True)
AvgPool.__doc__ = """The mean over windows of the spatial axes, padding not counted (as JAX's
    stax; ``jitgrad.nn.avg_pool`` counts it by default, as flax).

    >>> AvgPool((2,), padding="SAME")[1]((), np.arange(4.0).reshape(1, 4, 1))[0, :, 0]
    array([0.5, 1.5, 2.5, 3. ])
    """


def _flatten() -> Layer:
    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return jnp.reshape(inputs, (jnp.shape(inputs)[0], -1))

    return init_fun, apply_fun


Flatten = _flatten()


def _identity() -> Layer:
    return (lambda rng, input_shape: (input_shape, ()),
            lambda params, inputs, **kwargs: inputs)


Identity = _identity()


def FanOut(num: int) -> Layer:
    """A layer passing its input on as ``num`` copies (for ``parallel``).

    >>> FanOut(2)[0](0, (3,))
    ([(3,), (3,)], ())
    """
    return (lambda rng, input_shape: ([input_shape] * num, ()),
            lambda params, inputs, **kwargs: [inputs] * num)


def _fan_in_sum() -> Layer:
    return (lambda rng, input_shape: (input_shape[0], ()),
            lambda params, inputs, **kwargs: sum(inputs[1:], inputs[0]))


FanInSum = _fan_in_sum()


def FanInConcat(axis: int = -1) -> Layer:
    """A layer concatenating its inputs along ``axis``.

    >>> init_fun, apply_fun = FanInConcat()
    >>> init_fun(0, [(2, 3), (2, 4)])[0], apply_fun((), [np.ones((2, 3)), np.ones((2, 4))]).shape
    ((2, 7), (2, 7))
    """
    def init_fun(rng: Any, input_shape: Sequence[Sequence[int]]) -> tuple[tuple, tuple]:
        ax = axis % len(input_shape[0])
        size = sum(shape[ax] for shape in input_shape)
        first = tuple(input_shape[0])
        return first[:ax] + (size,) + first[ax + 1:], ()

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return jnp.concatenate(inputs, axis)

    return init_fun, apply_fun


# ---------------------------------------------------------------------------------------------
# Combinators


def serial(*layers: Layer) -> Layer:
    """The composition of ``layers``, first to last: ``init_fun`` threads the shape through
    them, ``apply_fun`` the values (passing ``**kwargs`` on, and an ``rng=`` keyword split
    into one generator per layer).

    >>> init_fun, apply_fun = serial(Dense(4), Tanh, Dense(1))
    >>> shape, params = init_fun(0, (2, 3))
    >>> shape, len(params), apply_fun(params, np.zeros((2, 3), np.float32)).shape
    ((2, 1), 3, (2, 1))
    """
    init_funs, apply_funs = zip(*layers, strict=True) if layers else ((), ())

    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, list]:
        params = []
        rng = _key(rng)
        for init in init_funs:
            rng, layer_rng = random.split(rng)  # as JAX's stax, for the same parameters
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        rng = kwargs.pop("rng", None)
        rngs = _split(rng, len(apply_funs)) if rng is not None else [None] * len(apply_funs)
        for fun, param, layer_rng in zip(apply_funs, params, rngs, strict=True):
            inputs = fun(param, inputs, rng=layer_rng, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers: Layer) -> Layer:
    """Layers side by side: the i-th applies to the i-th of a sequence of inputs (with
    ``FanOut`` and ``FanInSum``/``FanInConcat`` around it, a branching network).

    >>> init_fun, apply_fun = serial(FanOut(2), parallel(Dense(3), Identity), FanInConcat())
    >>> shape, params = init_fun(0, (1, 2))
    >>> shape, apply_fun(params, np.ones((1, 2), np.float32)).shape
    ((1, 5), (1, 5))
    """
    init_funs, apply_funs = zip(*layers, strict=True) if layers else ((), ())

    def init_fun(rng: Any, input_shape: Sequence[Any]) -> tuple[list, list]:
        shapes, params = [], []
        for init, layer_rng, shape in zip(init_funs, _split(rng, len(init_funs)),
                                          input_shape, strict=True):
            out_shape, param = init(layer_rng, shape)
            shapes.append(out_shape)
            params.append(param)
        return shapes, params

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> list:
        rng = kwargs.pop("rng", None)
        rngs = _split(rng, len(apply_funs)) if rng is not None else [None] * len(apply_funs)
        return [f(p, x, rng=r, **kwargs)
                for f, p, x, r in zip(apply_funs, params, inputs, rngs, strict=True)]

    return init_fun, apply_fun


def shape_dependent(make_layer: Callable[[Any], Layer]) -> Layer:
    """A layer built by ``make_layer(input_shape)`` once the input shape is known.

    >>> init_fun, apply_fun = shape_dependent(lambda shape: Dense(shape[-1]))
    >>> init_fun(0, (2, 5))[0]
    (2, 5)
    """
    def init_fun(rng: Any, input_shape: Any) -> tuple[Any, Any]:
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return make_layer(jnp.shape(inputs))[1](params, inputs, **kwargs)

    return init_fun, apply_fun
