"""JAX's ``jax.nn.initializers``: functions ``init(key, shape, dtype)`` drawing a layer's
initial weights from ``jitgrad.random``, the same numbers as JAX's from the same key.

NB: the default dtype is float64, numpy's float (JAX's default float is float32 unless
x64 is enabled; with x64 the draws are the same as here). Complex dtypes and shardings
(``out_sharding``) are not supported."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad import random
from jitgrad.errors import JitgradTypeError, UnsupportedError

__all__ = ["Initializer", "constant", "glorot_normal", "glorot_uniform", "he_normal",
           "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform",
           "normal", "ones", "orthogonal", "truncated_normal", "uniform", "variance_scaling",
           "xavier_normal", "xavier_uniform", "zeros"]

Initializer = Callable[..., Any]
Axes = int | Sequence[int]

# The standard deviation of a standard normal truncated to (-2, 2).
_TRUNCATED_STD = 0.87962566103423978


def _float_dtype(name: str, dtype: Any, out_sharding: Any) -> np.dtype:
    if out_sharding is not None:
        raise UnsupportedError(f"nn.initializers.{name}: out_sharding is not supported "
                               f"(jitgrad has one device)")
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if dt.kind != "f":
        raise JitgradTypeError(f"nn.initializers.{name}: dtype must be a float dtype, got "
                               f"{dt.name}")
    return dt


def zeros(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """An array of zeros (``key`` is ignored).

    >>> zeros(random.key(42), (2, 3), np.float32)
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    return jnp.zeros(tuple(shape), _float_dtype("zeros", dtype, out_sharding))


def ones(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """An array of ones (``key`` is ignored).

    >>> ones(random.key(42), (3,))
    array([1., 1., 1.])
    """
    return jnp.ones(tuple(shape), _float_dtype("ones", dtype, out_sharding))


def constant(value: Any, dtype: Any = None) -> Initializer:
    """An initializer of arrays full of ``value``.

    >>> constant(-7)(random.key(42), (2,), np.float32)
    array([-7., -7.], dtype=float32)
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        return jnp.full(tuple(shape), value, _float_dtype("constant", dtype, out_sharding))
    return init


def uniform(scale: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer of uniform draws in ``[0, scale)``.

    >>> x = uniform(10.0)(random.key(42), (1000,))
    >>> bool(x.min() >= 0 and x.max() < 10)
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        dtype = _float_dtype("uniform", dtype, out_sharding)
        return random.uniform(key, shape, dtype) * np.asarray(scale, dtype)
    return init


def normal(stddev: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer of normal draws of mean 0 and standard deviation ``stddev``.

    >>> normal(5.0)(random.key(0), (3,))
    array([-1.0292107 , -3.92382888,  9.08043336])
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        dtype = _float_dtype("normal", dtype, out_sharding)
        return random.normal(key, shape, dtype) * np.asarray(stddev, dtype)
    return init


def truncated_normal(stddev: Any = 1e-2, dtype: Any = None, lower: Any = -2.0,
                     upper: Any = 2.0) -> Initializer:
    """An initializer of normal draws truncated to ``(lower, upper)``, then scaled by
    ``stddev`` (the standard deviation before truncation).

    >>> x = truncated_normal(1.0)(random.key(0), (1000,))
    >>> bool(x.min() > -2 and x.max() < 2)
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        dtype = _float_dtype("truncated_normal", dtype, out_sharding)
        return random.truncated_normal(key, lower, upper, shape, dtype) * np.asarray(stddev,
                                                                                     dtype)
    return init


def _size(shape: tuple[int, ...], axes: Axes) -> int:
    return shape[axes] if isinstance(axes, int) else math.prod(shape[a] for a in axes)


def _fans(shape: tuple[int, ...], in_axis: Axes, out_axis: Axes, batch_axis: Axes
          ) -> tuple[float, float]:
    """Fan-in and fan-out: the input and output sizes times the receptive field (the axes
    that are neither input, output nor batch), as JAX computes them."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"nn.initializers: cannot tell the input and output sizes of a "
                         f"weights array of shape {shape} with the default in_axis: it must "
                         f"be at least 2-D, or give in_axis")
    n_in, n_out = _size(shape, in_axis), _size(shape, out_axis)
    field = math.prod(shape) / n_in / n_out / _size(shape, batch_axis)
    return n_in * field, n_out * field


def variance_scaling(scale: Any, mode: str, distribution: str, in_axis: Axes = -2,
                     out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None
                     ) -> Initializer:
    """An initializer whose draws have variance ``scale / n``, ``n`` the fan-in
    (``mode="fan_in"``), fan-out, their mean (``"fan_avg"``) or geometric mean
    (``"fan_geo_avg"``); ``distribution`` "truncated_normal" (at two standard deviations,
    rescaled to that variance), "normal" or "uniform". Axes other than ``in_axis``,
    ``out_axis`` and ``batch_axis`` are a convolution's receptive field.

    >>> w = variance_scaling(2.0, "fan_in", "normal")(random.key(0), (400, 300))
    >>> round(float(w.var() * 400 / 2.0), 1)
    1.0
    """
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"invalid distribution for variance scaling initializer: "
                         f"{distribution}")

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        shape = tuple(int(d) for d in shape)
        dtype = _float_dtype("variance_scaling", dtype, out_sharding)
        fan_in, fan_out = _fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        # Computed in the weights' dtype, as JAX does, for the same rounding.
        variance = np.asarray(scale / n, dtype)
        if distribution == "truncated_normal":
            stddev = np.sqrt(variance) / np.asarray(_TRUNCATED_STD, dtype)
            return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dtype) * np.sqrt(variance)
        return random.uniform(key, shape, dtype, -1) * np.sqrt(3 * variance)
    return init


def glorot_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                   dtype: Any = None) -> Initializer:
    """Glorot (Xavier) uniform: ``variance_scaling(1.0, "fan_avg", "uniform")``.

    >>> bool(abs(glorot_uniform()(random.key(0), (3, 5))).max() <= np.sqrt(6 / 8))
    True
    """
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                  dtype: Any = None) -> Initializer:
    """Glorot (Xavier) normal: ``variance_scaling(1.0, "fan_avg", "truncated_normal")``.

    >>> glorot_normal()(random.key(0), (2, 2)).shape
    (2, 2)
    """
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis,
                            dtype)


def lecun_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                  dtype: Any = None) -> Initializer:
    """LeCun uniform: ``variance_scaling(1.0, "fan_in", "uniform")``.

    >>> bool(abs(lecun_uniform()(random.key(0), (3, 5))).max() <= 1.0)
    True
    """
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                 dtype: Any = None) -> Initializer:
    """LeCun normal: ``variance_scaling(1.0, "fan_in", "truncated_normal")``.

    >>> lecun_normal()(random.key(0), (4, 2), np.float32).dtype
    dtype('float32')
    """
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis,
                            dtype)


def he_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
               dtype: Any = None) -> Initializer:
    """He (Kaiming) uniform: ``variance_scaling(2.0, "fan_in", "uniform")``.

    >>> bool(abs(he_uniform()(random.key(0), (6, 5))).max() <= 1.0)
    True
    """
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
              dtype: Any = None) -> Initializer:
    """He (Kaiming) normal: ``variance_scaling(2.0, "fan_in", "truncated_normal")``.

    >>> he_normal()(random.key(0), (3, 3, 4, 8)).shape
    (3, 3, 4, 8)
    """
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis,
                            dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale: Any = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """An initializer of (scaled) orthogonal matrices: the shape flattened to
    (other axes, ``column_axis``) is ``random.orthogonal``'s matrix, whose rows or columns,
    whichever are fewer, are orthonormal.

    >>> w = orthogonal()(random.key(0), (3, 3))
    >>> np.allclose(w.T @ w, np.eye(3))
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype, out_sharding: Any = None
             ) -> Any:
        shape = tuple(int(d) for d in shape)
        dtype = _float_dtype("orthogonal", dtype, out_sharding)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        if 0 in shape:
            return jnp.zeros(shape, dtype)
        n_cols = shape[column_axis]
        q = random.orthogonal(key, math.prod(shape) // n_cols, (), dtype, n_cols)
        rest = shape[:column_axis % len(shape)] + shape[column_axis % len(shape) + 1:]
        q = jnp.moveaxis(jnp.reshape(q, rest + (n_cols,)), -1, column_axis)
        return np.asarray(scale, dtype) * q
    return init
