"""Scalar helpers called by generated kernels (inlined by Numba): numpy's NaN-propagating
maximum/minimum and a logistic function that never overflows."""

import math

import numpy as np
from numba import njit

_opts = {"inline": "always", "error_model": "numpy", "cache": True}


@njit(**_opts)
def max_nan(a, b):
    # numpy.maximum: NaN if either is NaN; on equality the second operand (as numpy).
    return a if (a > b or a != a) else b


@njit(**_opts)
def min_nan(a, b):
    return a if (a < b or a != a) else b


@njit(**_opts)
def logistic_f64(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)


_ONE32 = np.float32(1.0)
_ZERO32 = np.float32(0.0)


@njit(**_opts)
def logistic_f32(x):
    e = math.exp(-abs(x))
    return _ONE32 / (_ONE32 + e) if x >= _ZERO32 else e / (_ONE32 + e)
