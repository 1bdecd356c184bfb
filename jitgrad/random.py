"""jitgrad.random: JAX's functional random numbers (explicit keys, ``split``, ``fold_in`` and
the samplers) on the counter-based Threefry-2x32 generator, bit for bit JAX's.

A key is a ``uint32`` array of shape ``(2,)``, as JAX's raw (``PRNGKey``) keys; samplers are
pure functions of their key, so they work, with the same bits, eagerly, under ``jit``, under
``vmap`` over a batch of keys, and inside ``grad``. Defaults follow numpy's and JAX's with
``jax_enable_x64``: float64, int64, uint64, and 64-bit seeds."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import prims as P
from jitgrad.core import Tracer, aval_of
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError

__all__ = ["PRNGKey", "bernoulli", "bits", "categorical", "exponential", "fold_in", "gumbel",
           "key", "key_data", "randint", "split", "uniform", "wrap_key_data"]

ArrayLike = Any
Shape = Sequence[int]

# ---------------------------------------------------------------------------------------------
# Argument checks


def _check_key(name: str, key: ArrayLike) -> Any:
    if not isinstance(key, Tracer):
        key = np.asarray(key)
    aval = aval_of(key)
    if aval.dtype != np.uint32 or aval.shape[-1:] != (2,):
        raise JitgradTypeError(
            f"{name}: a key is a uint32 array of shape (2,) (made by jitgrad.random.key, split "
            f"or fold_in), got {aval}")
    if aval.shape != (2,):
        raise ShapeError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{aval.shape}; use jitgrad.vmap to sample with a batch of keys")
    return key


def _shape(name: str, shape: int | Shape) -> tuple[int, ...]:
    # NB: an int is a 1-d shape, as numpy's size=; JAX requires a sequence.
    dims = (shape,) if isinstance(shape, int | np.integer) else shape
    try:
        out = tuple(operator.index(d) for d in dims)
    except TypeError:  # a traced dimension raises a TracerError, a TypeError
        raise JitgradTypeError(f"{name}: shape must be a sequence of concrete non-negative "
                               f"integers, got {shape!r}") from None
    if any(d < 0 for d in out):
        raise ShapeError(f"{name}: shape must not have negative dimensions, got {out}")
    return out


def _dtype(name: str, dtype: Any, kind: str, default: Any) -> np.dtype:
    dt = np.dtype(default if dtype is None else dtype)
    if dt.kind not in kind:
        what = {"f": "a floating-point", "iu": "an integer", "u": "an unsigned integer"}[kind]
        raise JitgradTypeError(f"{name}: dtype must be {what} dtype, got {dt.name}")
    return dt


def _check_shapes(name: str, shape: tuple[int, ...], *param_shapes: tuple[int, ...]) -> None:
    """JAX's rule: each parameter broadcasts to the requested shape, unchanged."""
    try:
        full = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
        full = None
    if full != shape:
        raise ShapeError(f"{name}: parameter shapes {', '.join(map(str, param_shapes))} must "
                         f"broadcast to the requested shape {shape}")


def _uint32_scalar(name: str, x: ArrayLike) -> Any:
    """A scalar integer as uint32: numpy and traced integers wrap (as astype does); a Python
    int must fit."""
    if isinstance(x, int) and not isinstance(x, bool):
        if not 0 <= x < 2 ** 32:
            raise JitgradTypeError(f"{name}: Python integer {x} out of bounds for uint32")
        return np.uint32(x)
    if not isinstance(x, Tracer):
        x = np.asarray(x)
    aval = aval_of(x)
    if aval.dtype.kind not in "iu":
        raise JitgradTypeError(f"{name}: expected an integer, got {aval}")
    if aval.shape != ():
        raise ShapeError(f"{name} accepts a scalar, but was given an array of shape "
                         f"{aval.shape}; use jitgrad.vmap for batching")
    return P.convert_element_type(x, np.uint32) if isinstance(x, Tracer) else \
        x.astype(np.uint32)[()]


# ---------------------------------------------------------------------------------------------
# Keys and bits


def key(seed: ArrayLike) -> Any:
    """A key made from an integer seed: ``[0, seed]`` for seeds below 2**32, and in general the
    seed's 64 bits as two uint32 words (high, low), as ``jax.random.PRNGKey`` makes them with
    ``jax_enable_x64``; seeds of a dtype of 32 bits or less give ``[0, seed mod 2**32]``.
    jitgrad has no typed key arrays: ``key`` and ``PRNGKey`` are the same function, and
    ``key_data``/``wrap_key_data`` return their argument.

    >>> key(42)
    array([ 0, 42], dtype=uint32)
    >>> key(-1)
    array([4294967295, 4294967295], dtype=uint32)
    """
    # NB: a 64-bit seed keeps all its bits (JAX without jax_enable_x64 truncates it to 32).
    if isinstance(seed, int) and not isinstance(seed, bool):
        if not -2 ** 63 <= seed < 2 ** 64:
            raise JitgradTypeError(f"key: seed {seed} does not fit in 64 bits")
        return _key_words(seed % 2 ** 64)
    if not isinstance(seed, Tracer):
        seed = np.asarray(seed)
    aval = aval_of(seed)
    if aval.dtype.kind not in "iu" or aval.shape != ():
        raise JitgradTypeError(f"key: the seed must be a scalar integer, got {aval}")
    if not isinstance(seed, Tracer):
        return _key_words(int(seed) % 2 ** (64 if aval.dtype.itemsize == 8 else 32))
    lo = P.convert_element_type(seed, np.uint32)
    hi = P.convert_element_type(P.floor_divide(seed, 2 ** 32), np.uint32) \
        if aval.dtype.itemsize == 8 else np.uint32(0)
    return jnp.stack([hi, lo])


PRNGKey = key


def _key_words(value: int) -> np.ndarray:
    return np.array([value >> 32, value & 0xFFFFFFFF], np.uint32)


def key_data(keys: ArrayLike) -> Any:
    """The uint32 words of keys (jitgrad's keys are those words already: returned as given).

    >>> key_data(key(7))
    array([0, 7], dtype=uint32)
    """
    return _check_keys("key_data", keys)


def wrap_key_data(key_bits_array: ArrayLike) -> Any:
    """Keys from their uint32 words (jitgrad's keys are those words: returned as given).

    >>> wrap_key_data(np.array([0, 7], np.uint32))
    array([0, 7], dtype=uint32)
    """
    return _check_keys("wrap_key_data", key_bits_array)


def _check_keys(name: str, keys: ArrayLike) -> Any:
    if not isinstance(keys, Tracer):
        keys = np.asarray(keys)
    aval = aval_of(keys)
    if aval.dtype != np.uint32 or aval.shape[-1:] != (2,):
        raise JitgradTypeError(f"{name}: keys are uint32 arrays of shape (..., 2), got {aval}")
    return keys


def _counters(name: str, shape: tuple[int, ...]) -> Any:
    """Each position's row-major index, as uint32 (the low word of JAX's 64-bit counters; the
    high word is 0 below 2**32 positions): per-axis ``arange``s broadcast and added, which
    loop kernels read as index arithmetic over small constants."""
    if math.prod(shape) >= 2 ** 32:
        raise UnsupportedError(f"{name}: jitgrad draws fewer than 2**32 values per call, asked "
                               f"for shape {shape}; split the key and draw in parts")
    count: Any = np.uint32(0)
    for d, n in enumerate(shape):
        term = np.arange(n, dtype=np.uint32) * np.uint32(math.prod(shape[d + 1:]))
        if len(shape) > 1:
            term = P.broadcast_in_dim(term, shape, (d,))
        count = term if d == 0 else P.add(count, term)
    return count


# Inside the samplers a key is its pair of words (k0, k1): drawing from it needs the words,
# and sub-keys need never be stacked into arrays.
Words = tuple[Any, Any]


def _words(key: Any) -> Words:
    return key[0], key[1]


def _hash(words: Words, count: Any, width: int) -> Any:
    """``width`` random bits per counter: JAX's partitionable Threefry bits, the hash of the
    counter pair (0, count)."""
    return P.threefry2x32(words[0], words[1], np.uint32(0), count, width=width)


def _bits(name: str, words: Words, width: int, shape: tuple[int, ...]) -> Any:
    return _hash(words, _counters(name, shape), width)


def _halves(hashed: Any) -> Words:
    """The two 32-bit words of 64-bit hashes (the first one high): new keys' words."""
    hi = P.convert_element_type(P.floor_divide(hashed, 2 ** 32), np.uint32)
    return hi, P.convert_element_type(hashed, np.uint32)


def _split(words: Words, num: int) -> list[Words]:
    hi, lo = _halves(_hash(words, np.arange(num, dtype=np.uint32), 64))
    return [(hi[i], lo[i]) for i in range(num)]


def _fold_in(words: Words, data: Any) -> Words:
    return _halves(_hash(words, data, 64))


def split(key: ArrayLike, num: int | Shape = 2) -> Any:
    """``num`` new keys (or an array of keys of shape ``num``) from ``key``: the hash of each
    key's index, as JAX's (partitionable) ``split``.

    >>> split(key(0)).shape
    (2, 2)
    >>> split(key(0), (2, 3)).shape
    (2, 3, 2)
    """
    words = _words(_check_key("split", key))
    return jnp.stack(_halves(_bits("split", words, 64, _shape("split", num))), axis=-1)


def fold_in(key: ArrayLike, data: ArrayLike) -> Any:
    """A new key from ``key`` and a 32-bit integer ``data`` (a step number, a device id): the
    hash of ``data`` under ``key``. ``data`` may be traced.

    >>> fold_in(key(0), 1).tolist() == split(key(0))[1].tolist()
    True
    """
    words = _words(_check_key("fold_in", key))
    return jnp.stack(_fold_in(words, _uint32_scalar("fold_in", data)))


def bits(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Uniform random bits as unsigned integers of ``dtype`` (uint8 to uint64; default uint64,
    as JAX's with ``jax_enable_x64``).

    >>> bits(key(0), (2,), np.uint32).dtype
    dtype('uint32')
    """
    words = _words(_check_key("bits", key))
    dt = _dtype("bits", dtype, "u", np.uint64)
    return _bits("bits", words, 8 * dt.itemsize, _shape("bits", shape))


# ---------------------------------------------------------------------------------------------
# Continuous distributions


def _unit_float(name: str, words: Words, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Uniform floats in [0, 1) with random mantissa bits. JAX sets the exponent of 1.0 above
    the top ``nmant`` bits, bitcasts and subtracts 1; those bits times 2**-nmant are the same
    number exactly, with no bitcast."""
    fi = np.finfo(dtype)
    mantissa = P.floor_divide(_bits(name, words, fi.bits, shape), 2 ** (fi.bits - fi.nmant))
    return P.mul(P.convert_element_type(mantissa, dtype), np.asarray(2.0 ** -fi.nmant, dtype)[()])


def _uniform(name: str, words: Words, shape: tuple[int, ...], dtype: np.dtype,
             minval: ArrayLike, maxval: ArrayLike) -> Any:
    lo, hi = jnp.asarray(minval, dtype), jnp.asarray(maxval, dtype)
    floats = _unit_float(name, words, shape, dtype)
    # As JAX: rounding may not take the result below minval.
    return jnp.maximum(lo, floats * (hi - lo) + lo)


def uniform(key: ArrayLike, shape: int | Shape = (), dtype: Any = None, minval: ArrayLike = 0.0,
            maxval: ArrayLike = 1.0) -> Any:
    """Uniform floats in ``[minval, maxval)`` (default float64; float32 bits are JAX's default
    float32 bits). Differentiable in ``minval`` and ``maxval``.

    >>> uniform(key(0), (3,), np.float32)
    array([0.947667  , 0.9785799 , 0.33229148], dtype=float32)
    """
    words = _words(_check_key("uniform", key))
    dtype = _dtype("uniform", dtype, "f", np.float64)
    shape = _shape("uniform", shape)
    _check_shapes("uniform", shape, jnp.shape(minval), jnp.shape(maxval))
    return _uniform("uniform", words, shape, dtype, minval, maxval)


def exponential(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Standard exponential samples (density ``exp(-x)``), ``-log(1 - u)`` as JAX.

    >>> exponential(key(0), (2,)).shape
    (2,)
    """
    words = _words(_check_key("exponential", key))
    dtype = _dtype("exponential", dtype, "f", np.float64)
    return _exponential(words, _shape("exponential", shape), dtype)


def _exponential(words: Words, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    u = _unit_float("exponential", words, shape, dtype)
    return jnp.negative(jnp.log1p(jnp.negative(u)))


def gumbel(key: ArrayLike, shape: int | Shape = (), dtype: Any = None, mode: str | None = None
           ) -> Any:
    """Standard Gumbel samples (density ``exp(-(x + exp(-x)))``). ``mode="high"`` draws twice
    the bits, so that the largest samples are not limited by the uniform's resolution (about
    16 in float32 with the default ``"low"``).

    >>> gumbel(key(0), (2,), np.float32).dtype
    dtype('float32')
    """
    words = _words(_check_key("gumbel", key))
    dtype = _dtype("gumbel", dtype, "f", np.float64)
    return _gumbel(words, _shape("gumbel", shape), dtype, mode)


def _gumbel(words: Words, shape: tuple[int, ...], dtype: np.dtype, mode: str | None) -> Any:
    fi = np.finfo(dtype)
    if mode in (None, "low"):
        u = _uniform("gumbel", words, shape, dtype, fi.tiny, 1.0)
        return jnp.negative(jnp.log(jnp.negative(jnp.log(u))))
    if mode != "high":
        # NB: JAX's float32 "highest" mode (bit-level tricks) is not provided.
        raise UnsupportedError(f"gumbel: mode must be 'low' or 'high', got {mode!r}")
    both = _unit_float("gumbel", words, (2,) + shape, dtype)
    high, low = both[0], both[1]
    # The second draw fills in bits below the first one's resolution (only below 1/2, where
    # the sum cannot round up to 1).
    x = jnp.where(high >= 0.5, high, high + np.asarray(2.0 ** -fi.nmant, dtype) * low +
                  np.asarray(fi.tiny, dtype))
    return jnp.negative(jnp.log(jnp.negative(jnp.log1p(jnp.negative(x)))))


# ---------------------------------------------------------------------------------------------
# Discrete distributions


def bernoulli(key: ArrayLike, p: ArrayLike = 0.5, shape: int | Shape | None = None,
              mode: str = "low") -> Any:
    """Booleans that are True with probability ``p`` (a float, or floats broadcasting to
    ``shape``): ``uniform < p`` in ``p``'s dtype. ``mode="high"`` draws twice the bits, for
    probabilities below the uniform's resolution (about 1e-7 in float32).

    >>> bernoulli(key(0), 0.5, (4,)).dtype
    dtype('bool')
    """
    words = _words(_check_key("bernoulli", key))
    p = jnp.asarray(p)
    dtype = aval_of(p).dtype
    if dtype.kind != "f":
        raise JitgradTypeError(f"bernoulli: the probability p must be floating-point, got "
                               f"{dtype.name}")
    shape = jnp.shape(p) if shape is None else _shape("bernoulli", shape)
    _check_shapes("bernoulli", shape, jnp.shape(p))
    if mode == "low":
        return _unit_float("bernoulli", words, shape, dtype) < p
    if mode != "high":
        raise ShapeError(f"bernoulli: mode must be 'low' or 'high', got {mode!r}")
    both = _unit_float("bernoulli", words, (2,) + shape, dtype)
    return both[1] * np.asarray(2.0 ** -np.finfo(dtype).nmant, dtype) < p - both[0]


def _clip_to(x: Any, dtype: np.dtype) -> Any:
    """Integers converted to ``dtype``, clipped to its range rather than wrapped."""
    info, own = np.iinfo(dtype), np.iinfo(aval_of(x).dtype)
    return jnp.astype(jnp.clip(x, max(info.min, own.min), min(info.max, own.max)), dtype)


def _int_array(x: ArrayLike) -> Any:
    x = jnp.asarray(x)
    return x if aval_of(x).dtype.kind in "iu" else jnp.astype(x, np.int64)


def randint(key: ArrayLike, shape: int | Shape, minval: ArrayLike, maxval: ArrayLike,
            dtype: Any = None) -> Any:
    """Uniform integers in ``[minval, maxval)`` (default int64), as JAX draws them: twice the
    bits of the dtype reduced modulo the range (a bias below ``range**2 / 2**(2*bits)``);
    ``minval`` is returned where ``maxval <= minval``. 8- and 16-bit dtypes draw 32 bits.

    >>> randint(key(0), (5,), 0, 10)
    array([5, 1, 5, 7, 3])
    """
    words = _words(_check_key("randint", key))
    dtype = _dtype("randint", dtype, "iu", np.int64)
    shape = _shape("randint", shape)
    _check_shapes("randint", shape, jnp.shape(minval), jnp.shape(maxval))
    info = np.iinfo(dtype)
    if info.bits < 32:
        lo = jnp.clip(jnp.astype(_int_array(minval), np.int32), info.min, info.max)
        hi = jnp.clip(jnp.astype(_int_array(maxval), np.int32), info.min, info.max + 1)
        return jnp.astype(_randint(words, shape, lo, hi, np.dtype(np.int32)), dtype)
    return _randint(words, shape, _int_array(minval), _int_array(maxval), dtype)


def _randint(words: Words, shape: tuple[int, ...], minval: Any, maxval: Any, dtype: np.dtype
             ) -> Any:
    nbits = np.iinfo(dtype).bits
    # Computed in uint64 whatever the width: JAX's uint32 arithmetic wraps, which the mods by
    # 2**32 below reproduce (compiled kernels compute narrow integers in 64 bits).
    u64 = np.dtype(np.uint64)

    def wrap(x: Any) -> Any:
        return x if nbits == 64 else P.mod(x, np.uint64(2 ** nbits))

    def rem(x: Any, span: Any) -> Any:
        if not isinstance(span, Tracer) and np.all(span != 0):
            return jnp.remainder(x, span)
        # XLA's remainder by zero is the dividend (numpy's is 0); a span of 2**64 wraps to 0.
        return jnp.where(span == 0, x, jnp.remainder(x, jnp.maximum(span, np.uint64(1))))

    too_big = maxval > _clip_to(np.asarray(np.iinfo(dtype).max, dtype), aval_of(maxval).dtype)
    minval, maxval = _clip_to(minval, dtype), _clip_to(maxval, dtype)
    k1, k2 = _split(words, 2)
    count = _counters("randint", shape)
    higher = jnp.astype(_hash(k1, count, nbits), u64)
    lower = jnp.astype(_hash(k2, count, nbits), u64)
    span = jnp.astype(jnp.astype(jnp.subtract(maxval, minval), f"uint{nbits}"), u64)
    span = jnp.where(maxval <= minval, np.uint64(1), span)
    span = jnp.where(too_big & (maxval > minval), wrap(jnp.add(span, np.uint64(1))), span)
    # (a * b) % n from (a % n) * (b % n), with 2**nbits % n as the square of 2**(nbits/2) % n.
    multiplier = rem(np.uint64(2 ** (nbits // 2)), span)
    multiplier = rem(wrap(jnp.multiply(multiplier, multiplier)), span)
    offset = wrap(jnp.multiply(rem(higher, span), multiplier))
    offset = rem(wrap(jnp.add(offset, rem(lower, span))), span)
    return jnp.astype(wrap(jnp.add(jnp.astype(minval, u64), offset)), dtype)


def categorical(key: ArrayLike, logits: ArrayLike, axis: int = -1,
                shape: int | Shape | None = None, replace: bool = True,
                mode: str | None = None) -> Any:
    """Indices drawn from categorical distributions given by unnormalised log-probabilities
    along ``axis`` of ``logits``: the Gumbel-max trick, as JAX. ``shape`` (default: the
    logits' shape without ``axis``) may add leading axes of independent draws.

    >>> categorical(key(0), np.log(np.array([0.1, 0.2, 0.7])), shape=(6,))
    array([2, 2, 2, 1, 1, 2])
    """
    words = _words(_check_key("categorical", key))
    logits = jnp.asarray(logits)
    if aval_of(logits).dtype.kind != "f":
        logits = jnp.astype(logits, np.float64)
    ndim = jnp.ndim(logits)
    if not -ndim <= axis < ndim:
        raise ShapeError(f"categorical: axis {axis} is out of bounds for logits of shape "
                         f"{jnp.shape(logits)}")
    axis %= ndim
    batch_shape = jnp.shape(logits)[:axis] + jnp.shape(logits)[axis + 1:]
    shape = batch_shape if shape is None else _shape("categorical", shape)
    _check_shapes("categorical", shape, batch_shape)
    if not replace:
        raise UnsupportedError("categorical: replace=False needs a top-k (not provided yet)")
    prefix = shape[:len(shape) - len(batch_shape)]
    noise_shape = prefix + shape[len(prefix):][:axis] + (jnp.shape(logits)[axis],) + \
        shape[len(prefix) + axis:]
    noise = _gumbel(words, noise_shape, aval_of(logits).dtype, mode)
    lifted = jnp.reshape(logits, (1,) * len(prefix) + jnp.shape(logits))
    return jnp.argmax(noise + lifted, axis=len(prefix) + axis)
