"""Primitives of ``jitgrad.random``: counter-based random bits, the Threefry-2x32 hash as one
elementwise primitive (so random numbers fuse into loop kernels, and vmap over keys as any
elementwise operation does), and ``nextafter`` (the samplers' open intervals)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jitgrad.core import Elementwise, Primitive, ShapedArray, register
from jitgrad.errors import JitgradTypeError
from jitgrad.prims.elementwise import elementwise_batch, elementwise_rule
from jitgrad.prims.testcases import SHAPES, elementwise_cases, view_of

WIDTHS = (8, 16, 32, 64)

# Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy
# as 1, 2, 3", SC 2011), the variant JAX uses: rotation constants per group of four rounds,
# and a key word injected (with the round-group counter) after each group.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA
_BLOCK = 1 << 15


def _threefry_numpy(k0: Any, k1: Any, x0: Any, x1: Any) -> tuple[np.ndarray, np.ndarray]:
    """The numpy reference of ``jitgrad.backend.bits._threefry2x32``: the hash words of the
    broadcast operands, flattened. In place, in blocks that stay in cache, so that eager
    sampling is not a hundred passes over memory; rank-0 keys stay scalars."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (k0, k1, x0, x1)))

    def word(v: Any) -> np.ndarray:
        v = np.asarray(v, np.uint32)
        return v if v.ndim == 0 else np.broadcast_to(v, shape).reshape(-1)

    k0, k1, x0, x1 = map(word, (k0, k1, x0, x1))
    ks = (k0, k1, np.bitwise_xor(np.bitwise_xor(k0, k1), np.uint32(_PARITY)))
    # Ufuncs on arrays wrap integer overflow silently (numpy warns on scalars).
    a, b, t = (np.empty(math.prod(shape), np.uint32) for _ in range(3))
    np.add(x0, ks[0], out=a, casting="unsafe")
    np.add(x1, ks[1], out=b, casting="unsafe")
    for s in range(0, a.size, _BLOCK):
        ab, bb, tb = a[s:s + _BLOCK], b[s:s + _BLOCK], t[s:s + _BLOCK]
        kb = [k if k.ndim == 0 else k[s:s + _BLOCK] for k in ks]
        for group in range(5):
            for r in _ROTATIONS[group % 2]:
                ab += bb
                np.left_shift(bb, np.uint32(r), out=tb)
                bb >>= np.uint32(32 - r)
                bb |= tb
                bb ^= ab
            ab += kb[(group + 1) % 3]
            bb += kb[(group + 2) % 3]
            bb += np.uint32(group + 1)
    return a, b


def _impl(k0: Any, k1: Any, x0: Any, x1: Any, *, width: int) -> Any:
    shape = np.broadcast_shapes(*(np.shape(a) for a in (k0, k1, x0, x1)))
    y0, y1 = _threefry_numpy(k0, k1, x0, x1)
    if width == 64:
        out = (y0.astype(np.uint64) << np.uint64(32)) | y1
    else:
        out = (y0 ^ y1).astype(f"uint{width}")
    return out.reshape(shape)[()]


def _rule(*avals: ShapedArray, width: int) -> ShapedArray:
    if width not in WIDTHS:
        raise JitgradTypeError(f"threefry2x32: width must be one of {WIDTHS}, got {width}")
    if any(a.dtype != np.uint32 for a in avals):
        raise JitgradTypeError(f"threefry2x32: keys and counters must be uint32, got "
                               f"{', '.join(map(str, avals))}")
    return elementwise_rule("threefry2x32", out_dtype=np.dtype(f"uint{width}"))(*avals)


def _kernel(ops: list[str], dt: str, *, width: int) -> str:
    args = ", ".join(ops)
    if width == 64:
        return f"threefry_cat({args})"
    if width == 32:
        return f"threefry_xor({args})"
    return f"{dt}(threefry_xor({args}))"


def _cases(rng: np.random.Generator, dtype: Any) -> list[tuple[tuple, dict]]:
    """Keys and counters of every shape (keys rank-0 beside counter arrays, as the samplers
    bind them, or per-element keys, as vmap over keys makes them), views, every width. Bits
    do not depend on ``dtype``: both dtypes get the same cases."""
    def u32(shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, 2 ** 32, shape, dtype=np.uint32)

    out = []
    for i, shape in enumerate(SHAPES):
        out.append(((u32(()), u32(()), np.uint32(0), u32(shape)), {"width": WIDTHS[-1 - i]}))
        out.append((tuple(u32(shape) for _ in range(4)), {"width": WIDTHS[i]}))
    for kind in ("strided", "reversed"):
        out.append((tuple(view_of(u32((2, 3)), kind) for _ in range(4)), {"width": 32}))
    return out


threefry2x32_p = register(Primitive(
    "threefry2x32", _rule, _impl, Elementwise(_kernel, cheap=False), differentiable=False,
    batch=elementwise_batch, test_cases=_cases))


def threefry2x32(k0: Any, k1: Any, x0: Any, x1: Any, width: int = 32) -> Any:
    """The Threefry-2x32 hash of the counter pair ``(x0, x1)`` under the key ``(k0, k1)``
    (uint32 operands of equal shape, or rank 0), folded to ``width`` random bits as JAX's
    partitionable generator folds them: 32: the two words xor-ed; 64: the first word high,
    the second low; 16 and 8: the low bits of the xor.

    >>> hex(int(threefry2x32(np.uint32(0), np.uint32(0), np.uint32(0), np.uint32(0), 64)))
    '0x6b20015999ba4efe'
    """
    return threefry2x32_p.bind(k0, k1, x0, x1, width=width)


# The next float after x towards y (C's nextafter, as numpy's), with zero derivative (as JAX's
# lax.nextafter): the samplers step their bounds inward with it.
nextafter_p = register(Primitive(
    "nextafter", elementwise_rule("nextafter", float_only=True), np.nextafter,
    Elementwise("np.nextafter({0}, {1})"), differentiable=False, batch=elementwise_batch,
    test_cases=elementwise_cases([(-2, 2), (-2, 2)])))


def nextafter(x: Any, y: Any) -> Any:
    """The next representable float after ``x`` in the direction of ``y`` (operands of equal
    shape and dtype, or rank 0).

    >>> float(nextafter(np.float32(1.0), np.float32(2.0)))
    1.0000001192092896
    """
    return nextafter_p.bind(x, y)
