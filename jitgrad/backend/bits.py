"""The Threefry-2x32 hash (Salmon et al., SC 2011; 20 rounds, as JAX's) as scalar helpers that
generated kernels call and LLVM inlines and vectorises: the counter-based generator behind
``jitgrad.random``."""

import numpy as np

from jitgrad.backend.cache import inline_helper

# Inlined into kernels by LLVM (see vmath._jit; Numba's inline='always' doubled the compile
# time of a kernel drawing normal and uniform numbers).
_helper = inline_helper(error_model="numpy")
_u32 = np.uint32

# Numba computes on 32-bit integers in 64 bits (as Python would, without wrapping): every sum,
# shift and rotation is truncated back to 32 bits with _u32(...), which LLVM turns into plain
# 32-bit arithmetic.


@_helper
def _rotl(x, r):
    return _u32((x << _u32(r)) | (x >> _u32(32 - r)))


@_helper
def _four_rounds(a, b, r0, r1, r2, r3):
    a = _u32(a + b)
    b = _u32(_rotl(b, r0) ^ a)
    a = _u32(a + b)
    b = _u32(_rotl(b, r1) ^ a)
    a = _u32(a + b)
    b = _u32(_rotl(b, r2) ^ a)
    a = _u32(a + b)
    b = _u32(_rotl(b, r3) ^ a)
    return a, b


@_helper
def _threefry2x32(k0, k1, x0, x1):
    """The pair (y0, y1) that key (k0, k1) hashes the counter (x0, x1) to."""
    k0, k1 = _u32(k0), _u32(k1)
    k2 = _u32(k0 ^ k1 ^ _u32(0x1BD11BDA))
    a = _u32(x0 + k0)
    b = _u32(x1 + k1)
    a, b = _four_rounds(a, b, 13, 15, 26, 6)
    a = _u32(a + k1)
    b = _u32(b + k2 + _u32(1))
    a, b = _four_rounds(a, b, 17, 29, 16, 24)
    a = _u32(a + k2)
    b = _u32(b + k0 + _u32(2))
    a, b = _four_rounds(a, b, 13, 15, 26, 6)
    a = _u32(a + k0)
    b = _u32(b + k1 + _u32(3))
    a, b = _four_rounds(a, b, 17, 29, 16, 24)
    a = _u32(a + k1)
    b = _u32(b + k2 + _u32(4))
    a, b = _four_rounds(a, b, 13, 15, 26, 6)
    return _u32(a + k2), _u32(b + k0 + _u32(5))


@_helper
def threefry_xor(k0, k1, x0, x1):
    """32 random bits: the two words of the hash xor-ed (JAX's partitionable bits)."""
    y0, y1 = _threefry2x32(k0, k1, x0, x1)
    return _u32(y0 ^ y1)


@_helper
def threefry_cat(k0, k1, x0, x1):
    """64 random bits: the two words of the hash, the first one high."""
    y0, y1 = _threefry2x32(k0, k1, x0, x1)
    return (np.uint64(y0) << np.uint64(32)) | np.uint64(y1)
