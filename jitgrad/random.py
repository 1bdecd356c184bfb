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
from jitgrad import lax, nn
from jitgrad import prims as P
from jitgrad.core import Tracer, aval_of
from jitgrad.custom_derivatives import custom_jvp
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.prims import special as S
from jitgrad.scipy import special

__all__ = ["PRNGKey", "ball", "bernoulli", "beta", "bits", "categorical", "cauchy", "chisquare",
           "choice", "clone", "dirichlet", "double_sided_maxwell", "exponential", "f", "fold_in",
           "gamma", "generalized_normal", "geometric", "gumbel", "key", "key_data", "laplace",
           "loggamma", "logistic", "lognormal", "maxwell", "multivariate_normal", "normal",
           "orthogonal", "pareto", "permutation", "rademacher", "randint", "rayleigh", "split",
           "t", "triangular", "truncated_normal", "uniform", "wald", "weibull_min",
           "wrap_key_data"]

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


def _broadcast(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(f"{name}: parameter shapes {', '.join(map(str, shapes))} do not "
                         f"broadcast together") from None


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


def normal(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Standard normal samples: ``sqrt(2) * erfinv(u)`` for ``u`` uniform in (-1, 1), as JAX.
    Location and scale are composites (``mu + sigma * normal(key)``), differentiable in both.

    >>> normal(key(0), (3,))
    array([-0.20584214, -0.78476578,  1.81608667])
    """
    words = _words(_check_key("normal", key))
    dtype = _dtype("normal", dtype, "f", np.float64)
    return _normal(words, _shape("normal", shape), dtype)


def _normal(words: Words, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = _uniform("normal", words, shape, dtype, lo, 1.0)
    return np.asarray(np.sqrt(2), dtype) * special.erfinv(u)


def truncated_normal(key: ArrayLike, lower: ArrayLike, upper: ArrayLike,
                     shape: int | Shape | None = None, dtype: Any = None) -> Any:
    """Standard normal samples truncated to the open interval ``(lower, upper)``: the
    inverse CDF of a uniform between the bounds' CDFs, as JAX (accurate while the bounds'
    CDFs are distinct in ``dtype``: bounds far in one tail give samples clipped to the
    interval). Differentiable in the bounds.

    >>> x = truncated_normal(key(0), -1.0, 2.0, (1000,))
    >>> bool(x.min() > -1.0 and x.max() < 2.0)
    True
    """
    words = _words(_check_key("truncated_normal", key))
    dtype = _dtype("truncated_normal", dtype, "f", np.float64)
    bounds = _broadcast("truncated_normal", jnp.shape(lower), jnp.shape(upper))
    shape = bounds if shape is None else _shape("truncated_normal", shape)
    _check_shapes("truncated_normal", shape, bounds)
    sqrt2 = np.asarray(np.sqrt(2), dtype)
    lower, upper = jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)
    u = _uniform("truncated_normal", words, shape, dtype, special.erf(lower / sqrt2),
                 special.erf(upper / sqrt2))
    out = sqrt2 * special.erfinv(u)
    # Rounding (or u at its lower end) may land on a bound: clip to the open interval.
    inf = np.asarray(np.inf, dtype)
    return jnp.clip(out, P.nextafter(jnp.stop_gradient(lower), inf),
                    P.nextafter(jnp.stop_gradient(upper), -inf))


def orthogonal(key: ArrayLike, n: int, shape: int | Shape = (), dtype: Any = None,
               m: int | None = None) -> Any:
    """Matrices of shape ``(*shape, n, m)`` (``m`` defaults to ``n``) with orthonormal columns
    (or rows, when ``n < m``), uniformly distributed (Haar): the Q of the QR decomposition of
    a normal sample, its columns' signs fixed by R's diagonal, as JAX (same normal draws;
    the QR itself agrees to rounding).

    >>> q = orthogonal(key(0), 3)
    >>> np.allclose(q @ q.T, np.eye(3))
    True
    """
    n, m = operator.index(n), operator.index(n if m is None else m)
    words = _words(_check_key("orthogonal", key))
    dtype = _dtype("orthogonal", dtype, "f", np.float64)
    z = _normal(words, _shape("orthogonal", shape) + (max(n, m), min(n, m)), dtype)
    q, r = jnp.linalg.qr(z)
    x = q * jnp.expand_dims(jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1)), -2)
    return jnp.swapaxes(x, -1, -2) if n < m else x


def multivariate_normal(key: ArrayLike, mean: ArrayLike, cov: ArrayLike,
                        shape: int | Shape | None = None, dtype: Any = None,
                        method: str = "cholesky") -> Any:
    """Samples ``mean + L @ z`` of the normal distribution with covariance ``cov = L @ L.T``
    (``method``: ``"cholesky"``, or ``"svd"``/``"eigh"`` for singular covariances), batched
    over leading axes of ``mean`` (``(..., n)``) and ``cov`` (``(..., n, n)``). ``shape``
    (default: their broadcast batch shape) is the result's shape without its last axis.
    Differentiable in ``mean`` and ``cov``.

    >>> multivariate_normal(key(0), np.zeros(2), np.eye(2), (5,)).shape
    (5, 2)
    """
    words = _words(_check_key("multivariate_normal", key))
    if method not in ("cholesky", "svd", "eigh"):
        raise ShapeError(f"multivariate_normal: method must be 'cholesky', 'svd' or 'eigh', "
                         f"got {method!r}")
    mean, cov = jnp.asarray(mean), jnp.asarray(cov)
    common = jnp.result_type(mean, cov)
    dtype = _dtype("multivariate_normal", dtype, "f",
                   common if common.kind == "f" else np.float64)
    mean, cov = jnp.astype(mean, dtype), jnp.astype(cov, dtype)
    ms, cs = jnp.shape(mean), jnp.shape(cov)
    if len(ms) < 1 or len(cs) < 2 or cs[-2:] != ms[-1:] * 2:
        raise ShapeError(f"multivariate_normal: mean must have shape (..., n) and cov shape "
                         f"(..., n, n), got {ms} and {cs}")
    batch = _broadcast("multivariate_normal", ms[:-1], cs[:-2])
    shape = batch if shape is None else _shape("multivariate_normal", shape)
    _check_shapes("multivariate_normal", shape, ms[:-1], cs[:-2])
    if method == "cholesky":
        factor = jnp.linalg.cholesky(cov)
    elif method == "svd":
        u, s, _ = jnp.linalg.svd(cov)
        factor = u * jnp.sqrt(s)[..., None, :]
    else:
        w, v = jnp.linalg.eigh(cov)
        factor = v * jnp.sqrt(w)[..., None, :]
    z = _normal(words, shape + ms[-1:], dtype)
    return mean + jnp.einsum("...ij,...j->...i", factor, z)


def cauchy(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Standard Cauchy samples, ``tan(pi (u - 1/2))`` for ``u`` uniform in ``[eps, 1)``, as
    JAX.

    >>> cauchy(key(0), (2,)).shape
    (2,)
    """
    words = _words(_check_key("cauchy", key))
    dtype = _dtype("cauchy", dtype, "f", np.float64)
    u = _uniform("cauchy", words, _shape("cauchy", shape), dtype, np.finfo(dtype).eps, 1.0)
    return jnp.tan(np.asarray(np.pi, dtype) * (u - np.asarray(0.5, dtype)))


def laplace(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Standard Laplace samples (density ``exp(-|x|) / 2``), ``sign(u) log1p(-|u|)`` for
    ``u`` uniform in ``(-1, 1)``, as JAX.

    >>> laplace(key(0), (2,)).shape
    (2,)
    """
    words = _words(_check_key("laplace", key))
    dtype = _dtype("laplace", dtype, "f", np.float64)
    lo = np.asarray(-1.0 + np.finfo(dtype).epsneg, dtype)
    u = _uniform("laplace", words, _shape("laplace", shape), dtype, lo, 1.0)
    return jnp.sign(u) * jnp.log1p(jnp.negative(jnp.abs(u)))


def logistic(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Standard logistic samples, ``log(u) - log1p(-u)`` for ``u`` uniform in
    ``[tiny, 1)``, as JAX.

    >>> logistic(key(0), (2,)).shape
    (2,)
    """
    words = _words(_check_key("logistic", key))
    dtype = _dtype("logistic", dtype, "f", np.float64)
    u = _uniform("logistic", words, _shape("logistic", shape), dtype, np.finfo(dtype).tiny, 1.0)
    return jnp.log(u) - jnp.log1p(jnp.negative(u))


def lognormal(key: ArrayLike, sigma: ArrayLike = 1.0, shape: int | Shape | None = None,
              dtype: Any = None) -> Any:
    """Log-normal samples ``exp(sigma z)``, ``z`` standard normal, as JAX. Differentiable in
    ``sigma``.

    >>> bool((lognormal(key(0), 0.5, (3,)) > 0).all())
    True
    """
    words = _words(_check_key("lognormal", key))
    dtype, shape = _dtype_and_shape("lognormal", dtype, shape, sigma)
    return jnp.exp(_normal(words, shape, dtype) * jnp.asarray(sigma, dtype))


def pareto(key: ArrayLike, b: ArrayLike, shape: int | Shape | None = None,
           dtype: Any = None) -> Any:
    """Pareto samples of shape ``b`` (density ``b / x**(b + 1)`` on ``x >= 1``),
    ``exp(e / b)`` for ``e`` standard exponential, as JAX. Differentiable in ``b``.

    >>> bool((pareto(key(0), 3.0, (3,)) >= 1).all())
    True
    """
    words = _words(_check_key("pareto", key))
    dtype, shape = _dtype_and_shape("pareto", dtype, shape, b)
    return jnp.exp(_exponential(words, shape, dtype) / jnp.asarray(b, dtype))


def t(key: ArrayLike, df: ArrayLike, shape: int | Shape | None = None,
      dtype: Any = None) -> Any:
    """Student's t samples with ``df`` degrees of freedom, ``z sqrt((df/2) / g)`` for ``z``
    normal and ``g`` gamma(df/2), as JAX. Differentiable in ``df``.

    >>> t(key(0), 4.0, (2,)).shape
    (2,)
    """
    words = _words(_check_key("t", key))
    dtype, shape = _dtype_and_shape("t", dtype, shape, df)
    normal_words, gamma_words = _split(words, 2)
    half = jnp.broadcast_to(jnp.asarray(df, dtype) / np.asarray(2, dtype), shape)
    return _normal(normal_words, shape, dtype) * jnp.sqrt(half / _gamma[False](*gamma_words,
                                                                               half))


def _chisquare(words: Words, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    half = jnp.broadcast_to(jnp.asarray(df, dtype) / np.asarray(2, dtype), shape)
    return jnp.exp(_gamma[True](*words, half)) * np.asarray(2, dtype)


def chisquare(key: ArrayLike, df: ArrayLike, shape: int | Shape | None = None,
              dtype: Any = None) -> Any:
    """Chi-square samples with ``df`` degrees of freedom, twice a gamma(df/2) sample (drawn in
    log space), as JAX. Differentiable in ``df``.

    >>> chisquare(key(0), 3.0, (2,)).shape
    (2,)
    """
    words = _words(_check_key("chisquare", key))
    dtype, shape = _dtype_and_shape("chisquare", dtype, shape, df)
    return _chisquare(words, df, shape, dtype)


def f(key: ArrayLike, dfnum: ArrayLike, dfden: ArrayLike, shape: int | Shape | None = None,
      dtype: Any = None) -> Any:
    """F samples, ``(c1 / dfnum) / (c2 / dfden)`` for chi-square samples ``c1``, ``c2``, as
    JAX. Differentiable in both degrees of freedom.

    >>> f(key(0), 5.0, 12.0, (2,)).shape
    (2,)
    """
    words = _words(_check_key("f", key))
    dtype, shape = _dtype_and_shape("f", dtype, shape, dfnum, dfden)
    den_words, num_words = _split(words, 2)
    dfnum, dfden = jnp.asarray(dfnum, dtype), jnp.asarray(dfden, dtype)
    return (_chisquare(num_words, dfnum, shape, dtype) / dfnum) / \
        (_chisquare(den_words, dfden, shape, dtype) / dfden)


# ---------------------------------------------------------------------------------------------
# Gamma, beta, Dirichlet


def _dtype_and_shape(name: str, dtype: Any, shape: int | Shape | None,
                     *params: ArrayLike) -> tuple[np.dtype, tuple[int, ...]]:
    dtype = _dtype(name, dtype, "f", np.float64)
    full = _broadcast(name, *(jnp.shape(p) for p in params))
    shape = full if shape is None else _shape(name, shape)
    _check_shapes(name, shape, full)
    return dtype, shape


def gamma(key: ArrayLike, a: ArrayLike, shape: int | Shape | None = None,
          dtype: Any = None) -> Any:
    """Standard gamma samples of shape ``a`` (density ``x**(a-1) exp(-x) / Gamma(a)``; divide
    by a rate or multiply by a scale for the others): Marsaglia and Tsang's method, each
    element redrawn until accepted. Differentiable in ``a`` (implicit reparameterisation, as
    JAX: ``dx/da = -dP(a, x)/da / p(x; a)``). ``a <= 0`` gives NaN.

    >>> gamma(key(0), np.array([0.5, 1.0, 4.0])).shape
    (3,)
    """
    words = _words(_check_key("gamma", key))
    dtype, shape = _dtype_and_shape("gamma", dtype, shape, a)
    return _gamma[False](*words, jnp.broadcast_to(jnp.asarray(a, dtype), shape))


def loggamma(key: ArrayLike, a: ArrayLike, shape: int | Shape | None = None,
             dtype: Any = None) -> Any:
    """The logarithms of standard gamma samples, computed in log space (accurate where the
    samples themselves underflow, for small ``a``): ``exp(loggamma(...))`` is ``gamma(...)``
    up to rounding. Differentiable in ``a``.

    >>> a = np.array([0.5, 2.0])
    >>> bool(np.allclose(np.exp(loggamma(key(0), a)), gamma(key(0), a)))
    True
    """
    words = _words(_check_key("loggamma", key))
    dtype, shape = _dtype_and_shape("loggamma", dtype, shape, a)
    return _gamma[True](*words, jnp.broadcast_to(jnp.asarray(a, dtype), shape))


def _split_each(keys: Words, num: int) -> list[Words]:
    """``split(k, num)`` of every key of an array of keys (as word arrays): the hash of each
    index under each key."""
    return [_halves(_hash(keys, np.uint32(i), 64)) for i in range(num)]


def _marsaglia_tsang(words: Words, a: Any, log_space: bool) -> Any:
    """Gamma(a) samples (G. Marsaglia and W. W. Tsang, "A simple method for generating gamma
    variables", ACM TOMS 26(3), 2000), drawn as JAX draws them, so the values are JAX's: each
    element has its own key (``split(key, a.size)``); it draws a normal ``x`` (redrawn while
    ``v = 1 + c x <= 0``) and a uniform ``u`` from fresh splits of it until the squeeze or the
    log test accepts ``d v**3``; ``a < 1`` samples ``a + 1`` and multiplies by ``w**(1/a)``
    for another uniform ``w``. Each element's loop depends only on its own draws: the values
    are the same eagerly, compiled and vmapped over keys (the loops run until every element
    is done)."""
    shape, dtype = aval_of(a).shape, aval_of(a).dtype
    zero, one = np.asarray(0, dtype), np.asarray(1, dtype)
    valid = a > 0
    a = jnp.where(valid, a, one)  # no warnings from invalid shapes
    boosted = a < one
    d = jnp.where(boosted, a + one, a) - np.asarray(1 / 3, dtype)
    c = np.asarray(1 / 3, dtype) / jnp.sqrt(d)
    keys = _halves(_hash(words, _counters("gamma", shape), 64))
    keys, boost_keys = _split_each(keys, 2)

    def rejected(state: tuple) -> Any:
        _, _, sq, cube, u = state
        return (u >= one - np.asarray(0.0331, dtype) * sq * sq) & \
            (jnp.log(u) >= sq * np.asarray(0.5, dtype) + d * (one - cube + jnp.log(cube)))

    def draw_normal(state: tuple) -> tuple:
        k0, k1, x, v = state
        (n0, n1), sub = _split_each((k0, k1), 2)
        todo = v <= zero
        x = jnp.where(todo, _normal(sub, (), dtype), x)
        return (jnp.where(todo, n0, k0), jnp.where(todo, n1, k1), x,
                jnp.where(todo, one + x * c, v))

    def step(state: tuple) -> tuple:
        todo = rejected(state)
        rest, x_keys, u_keys = _split_each(state[:2], 3)
        start = (*x_keys, jnp.zeros(shape, dtype), jnp.full(shape, -1, dtype))
        _, _, x, v = lax.while_loop(lambda s: jnp.any(s[3] <= zero), draw_normal, start)
        new = (*rest, x * x, v * v * v, _unit_float("gamma", u_keys, (), dtype))
        return tuple(jnp.where(todo, n, o) for n, o in zip(new, state, strict=True))

    # The start state is rejected (u = 2), so every element draws at least once.
    start = (*keys, jnp.zeros(shape, dtype), jnp.ones(shape, dtype), jnp.full(shape, 2, dtype))
    cube = lax.while_loop(lambda s: jnp.any(rejected(s) & valid), step, start)[3]
    if log_space:
        log_w = jnp.log1p(jnp.negative(_unit_float("gamma", boost_keys, (), dtype)))
        boost = jnp.where(boosted & (log_w != zero), log_w / a, zero)
        out = jnp.log(d) + jnp.log(cube) + boost
    else:
        w = one - _unit_float("gamma", boost_keys, (), dtype)
        out = d * cube * jnp.where(boosted, w ** (one / a), one)
    return jnp.where(valid, out, np.asarray(np.nan, dtype))


def _gamma_sampler(log_space: bool) -> custom_jvp:
    """The gamma sampler with JAX's derivative in ``a``: implicit reparameterisation
    (Figurnov, Mohamed & Mnih 2018), ``dx/da = -(dP(a, x)/da) / p(x; a)`` with ``P`` the
    regularised incomplete gamma function (the CDF) and ``p`` the density; in log space
    ``dlog(x)/da = (dx/da) / x``."""

    @custom_jvp
    def sample(k0: Any, k1: Any, a: Any) -> Any:
        return _marsaglia_tsang((k0, k1), a, log_space)

    @sample.defjvp
    def rule(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        k0, k1, a = primals
        out = sample(k0, k1, a)
        dtype = aval_of(a).dtype
        tiny = np.asarray(np.finfo(dtype).tiny, dtype)
        x = jnp.maximum(jnp.exp(out), tiny) if log_space else out
        # p(x; a) (times x in log space), from logarithms: exp(a log x - x - log Gamma(a)).
        log_density = (a if log_space else a - 1) * jnp.log(x) - x - special.gammaln(a)
        grad = jnp.negative(S.gammainc_da_p.bind(a, x)) / jnp.exp(log_density)
        return out, tangents[2] * grad

    return sample


_gamma = {False: _gamma_sampler(False), True: _gamma_sampler(True)}


def beta(key: ArrayLike, a: ArrayLike, b: ArrayLike, shape: int | Shape | None = None,
         dtype: Any = None) -> Any:
    """Beta(a, b) samples, ``Ga / (Ga + Gb)`` from two gamma samples drawn in log space (so
    small ``a``, ``b`` lose no precision), as JAX. Differentiable in ``a`` and ``b``.

    >>> x = beta(key(0), 2.0, 5.0, (1000,))
    >>> bool(0 < x.min() and x.max() < 1)
    True
    """
    words = _words(_check_key("beta", key))
    dtype, shape = _dtype_and_shape("beta", dtype, shape, a, b)
    a_words, b_words = _split(words, 2)
    log_a = _gamma[True](*a_words, jnp.broadcast_to(jnp.asarray(a, dtype), shape))
    log_b = _gamma[True](*b_words, jnp.broadcast_to(jnp.asarray(b, dtype), shape))
    top = jnp.maximum(log_a, log_b)
    ga, gb = jnp.exp(log_a - top), jnp.exp(log_b - top)
    return ga / (ga + gb)


def dirichlet(key: ArrayLike, alpha: ArrayLike, shape: int | Shape | None = None,
              dtype: Any = None) -> Any:
    """Dirichlet samples with concentrations ``alpha`` (shape ``(..., n)``): normalised gamma
    samples, drawn in log space (a softmax of log-gammas), as JAX. ``shape`` (default:
    ``alpha``'s batch shape) is the result's shape without its last axis. Differentiable in
    ``alpha``.

    >>> x = dirichlet(key(0), np.array([1.0, 2.0, 3.0]), (4,))
    >>> x.shape, bool(np.allclose(x.sum(-1), 1))
    ((4, 3), True)
    """
    words = _words(_check_key("dirichlet", key))
    dims = jnp.shape(alpha)
    if len(dims) < 1:
        raise ShapeError(f"dirichlet: alpha must have shape (..., n), got {dims}")
    dtype = _dtype("dirichlet", dtype, "f", np.float64)
    shape = dims[:-1] if shape is None else _shape("dirichlet", shape)
    _check_shapes("dirichlet", shape, dims[:-1])
    alpha = jnp.broadcast_to(jnp.asarray(alpha, dtype), shape + dims[-1:])
    return nn.softmax(_gamma[True](*words, alpha), -1)


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


def rademacher(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Random signs, -1 or 1 with equal probability (default int64), ``2 b - 1`` for ``b``
    Bernoulli(1/2), as JAX.

    >>> rademacher(key(0), (4,))
    array([ 1,  1, -1, -1])
    """
    dtype = _dtype("rademacher", dtype, "iu", np.int64)
    b = bernoulli(key, 0.5, _shape("rademacher", shape))
    return jnp.astype(2 * jnp.astype(b, dtype) - 1, dtype)


def _signs(key: ArrayLike, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """``rademacher`` in a float dtype (as JAX's samplers built on it draw it)."""
    return 2 * jnp.astype(bernoulli(key, 0.5, shape), dtype) - 1


def maxwell(key: ArrayLike, shape: int | Shape = (), dtype: Any = None) -> Any:
    """Maxwell samples: the norm of 3 standard normals, as JAX.

    >>> maxwell(key(0), (2,)).shape
    (2,)
    """
    words = _words(_check_key("maxwell", key))
    dtype = _dtype("maxwell", dtype, "f", np.float64)
    z = _normal(words, _shape("maxwell", shape) + (3,), dtype)
    return jnp.sqrt(jnp.sum(z * z, axis=-1))


def double_sided_maxwell(key: ArrayLike, loc: ArrayLike, scale: ArrayLike,
                         shape: int | Shape = (), dtype: Any = None) -> Any:
    """Double-sided Maxwell samples ``sign * maxwell * scale + loc`` of shape ``shape +``
    the parameters' broadcast shape (``shape`` defaults to it), as JAX. Differentiable in
    ``loc`` and ``scale``.

    >>> double_sided_maxwell(key(0), 0.0, 1.0, (3,)).shape
    (3,)
    """
    _check_key("double_sided_maxwell", key)
    dtype = _dtype("double_sided_maxwell", dtype, "f", np.float64)
    params = _broadcast("double_sided_maxwell", jnp.shape(loc), jnp.shape(scale))
    shape = _shape("double_sided_maxwell", shape) or params
    shape = shape + params
    maxwell_key, sign_key = split(key)
    return (_signs(sign_key, shape, dtype) * maxwell(maxwell_key, shape, dtype)
            * jnp.asarray(scale, dtype) + jnp.asarray(loc, dtype))


def weibull_min(key: ArrayLike, scale: ArrayLike, concentration: ArrayLike,
                shape: int | Shape = (), dtype: Any = None) -> Any:
    """Weibull samples by the inverse CDF, ``(-log1p(-u))**(1/concentration) * scale``, as
    JAX. Differentiable in ``scale`` and ``concentration``.

    >>> bool((weibull_min(key(0), 2.0, 1.5, (3,)) > 0).all())
    True
    """
    words = _words(_check_key("weibull_min", key))
    dtype = _dtype("weibull_min", dtype, "f", np.float64)
    u = _uniform("weibull_min", words, _shape("weibull_min", shape), dtype, 0.0, 1.0)
    return (jnp.power(jnp.negative(jnp.log1p(jnp.negative(u))),
                      1.0 / jnp.asarray(concentration, dtype)) * jnp.asarray(scale, dtype))


def generalized_normal(key: ArrayLike, p: ArrayLike, shape: int | Shape = (),
                       dtype: Any = None) -> Any:
    """Generalized normal samples (density proportional to ``exp(-|x|**p)``): a random sign
    times ``gamma(1/p)**(1/p)``, as JAX. Differentiable in ``p``.

    >>> generalized_normal(key(0), 1.5, (3,)).shape
    (3,)
    """
    _check_key("generalized_normal", key)
    dtype = _dtype("generalized_normal", dtype, "f", np.float64)
    shape = _shape("generalized_normal", shape)
    gamma_key, sign_key = split(key)
    inv = 1 / jnp.asarray(p, dtype)
    return _signs(sign_key, shape, dtype) * gamma(gamma_key, inv, shape, dtype) ** inv


def ball(key: ArrayLike, d: int, p: float = 2, shape: int | Shape = (),
         dtype: Any = None) -> Any:
    """Points uniform in the unit ``p``-norm ball of dimension ``d`` (shape ``shape + (d,)``),
    from generalized normals and an exponential, as JAX.

    >>> bool((np.linalg.norm(ball(key(0), 3, shape=(5,)), axis=-1) <= 1).all())
    True
    """
    _check_key("ball", key)
    dtype = _dtype("ball", dtype, "f", np.float64)
    shape = _shape("ball", shape)
    d = _concrete_int("ball", d)
    normal_key, exp_key = split(key)
    g = generalized_normal(normal_key, p, shape + (d,), dtype)
    e = exponential(exp_key, shape, dtype)
    return g / ((jnp.sum(jnp.abs(g) ** p, axis=-1) + e) ** (1 / p))[..., None]


def rayleigh(key: ArrayLike, scale: ArrayLike, shape: int | Shape | None = None,
             dtype: Any = None) -> Any:
    """Rayleigh samples ``scale * sqrt(-2 log u)``, as JAX. Differentiable in ``scale``.

    >>> bool((rayleigh(key(0), 2.0, (3,)) >= 0).all())
    True
    """
    words = _words(_check_key("rayleigh", key))
    dtype, shape = _dtype_and_shape("rayleigh", dtype, shape, scale)
    u = _unit_float("rayleigh", words, shape, dtype)
    return jnp.broadcast_to(jnp.asarray(scale, dtype), shape) * jnp.sqrt(jnp.log(u) * -2.0)


def wald(key: ArrayLike, mean: ArrayLike, shape: int | Shape | None = None,
         dtype: Any = None) -> Any:
    """Wald (inverse Gaussian, unit shape) samples by Michael, Schucany and Haas' method
    (1976), as JAX. Differentiable in ``mean``.

    >>> bool((wald(key(0), 1.5, (3,)) > 0).all())
    True
    """
    _check_key("wald", key)
    dtype, shape = _dtype_and_shape("wald", dtype, shape, mean)
    normal_key, uniform_key = split(key)
    mean = jnp.broadcast_to(jnp.asarray(mean, dtype), shape)
    v = normal(normal_key, shape, dtype)
    z = uniform(uniform_key, shape, dtype)
    y = v * v
    x = mean + mean * mean * y / 2 - mean / 2 * jnp.sqrt(4 * mean * y + mean * mean * y * y)
    return jnp.where(z <= mean / (mean + x), x, mean * mean / x)


def geometric(key: ArrayLike, p: ArrayLike, shape: int | Shape | None = None,
              dtype: Any = None) -> Any:
    """Geometric samples (trials up to the first success, >= 1): ``floor(log u /
    log1p(-p)) + 1``, as JAX (integers, default int64).

    >>> bool((geometric(key(0), 0.3, (5,)) >= 1).all())
    True
    """
    words = _words(_check_key("geometric", key))
    out = _dtype("geometric", dtype, "iu", np.int64)
    p = jnp.asarray(p)
    pdt = aval_of(p).dtype if aval_of(p).dtype.kind == "f" else np.dtype(np.float64)
    full = _broadcast("geometric", jnp.shape(p))
    shape = full if shape is None else _shape("geometric", shape)
    _check_shapes("geometric", shape, full)
    u = _unit_float("geometric", words, shape, pdt)
    u = jnp.where(u == 0, np.asarray(1, pdt), u)
    log_q = jnp.broadcast_to(jnp.log1p(jnp.negative(jnp.astype(p, pdt))), shape)
    return jnp.astype(jnp.floor(jnp.log(u) / log_q) + 1, out)


def triangular(key: ArrayLike, left: ArrayLike, mode: ArrayLike, right: ArrayLike,
               shape: int | Shape | None = None, dtype: Any = None) -> Any:
    """Triangular samples on ``[left, right]`` peaking at ``mode``, by the inverse CDF, as
    JAX. Differentiable in the three parameters.

    >>> x = triangular(key(0), 0.0, 0.5, 2.0, (100,))
    >>> bool((x >= 0).all() and (x <= 2).all())
    True
    """
    words = _words(_check_key("triangular", key))
    dtype, shape = _dtype_and_shape("triangular", dtype, shape, left, mode, right)
    lo, md, hi = (jnp.broadcast_to(jnp.asarray(v, dtype), shape) for v in (left, mode, right))
    u = _unit_float("triangular", words, shape, dtype)
    rising = lo + jnp.sqrt(u * (hi - lo) * (md - lo))
    falling = hi - jnp.sqrt((1 - u) * (hi - lo) * (hi - md))
    return jnp.where(u < (md - lo) / (hi - lo), rising, falling)


def clone(key: ArrayLike) -> Any:
    """The same key (JAX's ``clone``, for its key-reuse checks, which jitgrad has not).

    >>> bool((clone(key(0)) == key(0)).all())
    True
    """
    return key


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
    prefix = shape[:len(shape) - len(batch_shape)]
    if not replace:
        return _categorical_without_replacement(words, logits, axis, shape, prefix, mode)
    noise_shape = prefix + shape[len(prefix):][:axis] + (jnp.shape(logits)[axis],) + \
        shape[len(prefix) + axis:]
    noise = _gumbel(words, noise_shape, aval_of(logits).dtype, mode)
    lifted = jnp.reshape(logits, (1,) * len(prefix) + jnp.shape(logits))
    return jnp.argmax(noise + lifted, axis=len(prefix) + axis)


# ---------------------------------------------------------------------------------------------
# Permutations and choices


def _concrete_int(name: str, x: Any) -> int:
    """A scalar population size: a concrete integer (an array of rank >= 1 is a population)."""
    x = x if isinstance(x, Tracer) else np.asarray(x)
    try:
        if aval_of(x).dtype.kind not in "iu":
            raise TypeError
        return operator.index(x if isinstance(x, Tracer) else x[()])
    except TypeError:  # a traced value raises a TracerError, a TypeError
        raise JitgradTypeError(f"{name}: a scalar population must be a concrete integer (the "
                               f"size of arange(x)); pass an array of at least one dimension "
                               f"to draw from its elements, got {aval_of(x)}") from None


def _axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{name}: axis {axis} is out of bounds for an array of {ndim} "
                         f"dimensions")
    return axis % ndim


def _shuffle(words: Words, x: Any, axis: int) -> Any:
    """``x`` shuffled along ``axis`` as JAX does it: stable sorts by fresh 32-bit random keys,
    repeated until ties between all elements are improbable (``3 ln(n) / ln(2**32 - 1)``
    rounds, one round below 1626 elements), each round with the second key of a split."""
    shape = jnp.shape(x)
    rounds = math.ceil(3 * math.log(max(1, math.prod(shape))) / math.log(2 ** 32 - 1))
    for _ in range(rounds):
        words, sub = _split(words, 2)
        x = jnp.take_along_axis(x, P.argsort(_bits("permutation", sub, 32, shape), axis),
                                axis)
    return x


def permutation(key: ArrayLike, x: ArrayLike, axis: int = 0, independent: bool = False) -> Any:
    """A random permutation of ``arange(x)`` (``x`` a concrete integer) or of ``x``'s slices
    along ``axis`` (``independent=True``: each 1-d slice along ``axis`` shuffled on its own),
    the same as JAX's. Differentiable in ``x``.

    >>> permutation(key(0), 6)
    array([0, 1, 5, 4, 3, 2])
    """
    words = _words(_check_key("permutation", key))
    if jnp.ndim(x) == 0:
        _axis("permutation", axis, 1)
        return _shuffle(words, np.arange(_concrete_int("permutation", x)), 0)
    axis = _axis("permutation", axis, jnp.ndim(x))
    if independent or jnp.ndim(x) == 1:
        return _shuffle(words, x, axis)
    order = _shuffle(words, np.arange(jnp.shape(x)[axis]), 0)
    return jnp.take(x, order, axis)


def choice(key: ArrayLike, a: ArrayLike, shape: int | Shape = (), replace: bool = True,
           p: ArrayLike | None = None, axis: int = 0, mode: str | None = None) -> Any:
    """Random draws from ``arange(a)`` (``a`` a concrete integer) or from ``a``'s slices along
    ``axis``, with or without replacement, uniform or with probabilities ``p`` (the inverse
    CDF of a uniform; without replacement, the Gumbel top-k trick), as JAX. The result has
    shape ``a.shape[:axis] + shape + a.shape[axis + 1:]``. Differentiable in ``a``, not ``p``.

    >>> choice(key(0), 5, (6,))
    array([0, 1, 0, 2, 3, 0])
    >>> choice(key(0), np.array([10.0, 20.0, 30.0]), (2,), replace=False, p=np.array([.2, .3, .5]))
    array([30., 10.])
    """
    words = _words(_check_key("choice", key))
    shape = _shape("choice", shape)
    arr = a if isinstance(a, Tracer) else np.asarray(a)
    if jnp.ndim(arr) == 0:
        n_inputs = _concrete_int("choice", arr)
        out_shape = shape
    else:
        axis = _axis("choice", axis, jnp.ndim(arr))
        n_inputs = jnp.shape(arr)[axis]
        out_shape = jnp.shape(arr)[:axis] + shape + jnp.shape(arr)[axis + 1:]
    n_draws = math.prod(shape)
    if n_draws == 0:
        # NB: with an array ``a``, the shape keeps a's other axes (JAX's is ``shape``).
        return jnp.zeros(out_shape, aval_of(arr).dtype)
    if n_inputs <= 0:
        raise ShapeError(f"choice: the population must not be empty, got {n_inputs} elements")
    if not replace and n_draws > n_inputs:
        raise ShapeError(f"choice: cannot take {n_draws} samples without replacement from "
                         f"{n_inputs} elements")
    if p is None:
        if replace:
            ind = _randint(words, shape, np.int64(0), np.int64(n_inputs), np.dtype(np.int64))
        else:
            ind = _shuffle(words, np.arange(n_inputs), 0)[:n_draws]
    else:
        p = jnp.asarray(p)
        if aval_of(p).dtype.kind != "f":
            p = jnp.astype(p, np.float64)
        if jnp.shape(p) != (n_inputs,):
            raise ShapeError(f"choice: p must be None or a 1-d array of a.shape[axis] = "
                             f"{n_inputs} probabilities, got shape {jnp.shape(p)}")
        dtype = aval_of(p).dtype
        if replace:
            # The first index whose cumulative probability reaches r (numpy's searchsorted).
            cuml = jnp.cumsum(p)
            r = cuml[-1] * (np.asarray(1, dtype) - _unit_float("choice", words, shape, dtype))
            ind = jnp.sum(jnp.astype(cuml < jnp.expand_dims(r, -1), np.int64), axis=-1)
        else:
            g = _gumbel(words, (n_inputs,), dtype, mode) + jnp.log(p)
            # The n_draws largest, ties to the lower index (lax.top_k's order).
            ind = P.argsort(jnp.negative(g), 0)[:n_draws]
    ind = jnp.reshape(ind, (-1,))
    result = ind if jnp.ndim(arr) == 0 else jnp.take(arr, ind, axis)
    return jnp.reshape(result, out_shape)


def _categorical_without_replacement(words: Words, logits: Any, axis: int,
                                     shape: tuple[int, ...], prefix: tuple[int, ...],
                                     mode: str | None) -> Any:
    """The Gumbel top-k trick (Kool, van Hoof & Welling, ICML 2019), as JAX: the
    ``prod(prefix)`` largest perturbed logits of each distribution, in decreasing order (ties
    to the lower index, lax.top_k's order), along the leading axes of the result."""
    n, draws = jnp.shape(logits)[axis], math.prod(prefix)
    if draws > n:
        raise ShapeError(f"categorical: cannot draw {draws} samples without replacement from "
                         f"{n} categories")
    noisy = logits + _gumbel(words, jnp.shape(logits), aval_of(logits).dtype, mode)
    # NB: int64 indices, as with replacement (JAX's are lax.top_k's int32).
    order = P.argsort(jnp.negative(jnp.moveaxis(noisy, axis, -1)), jnp.ndim(noisy) - 1)
    return jnp.reshape(jnp.moveaxis(order[..., :draws], -1, 0), shape)
