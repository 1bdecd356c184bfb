"""Scalar helpers called by generated kernels (inlined by Numba): numpy's NaN-propagating
maximum and minimum."""

from numba import njit

_opts = {"inline": "always", "error_model": "numpy", "cache": True}


@njit(**_opts)
def max_nan(a, b):
    # numpy.maximum: NaN if either is NaN; on equality the second operand (as numpy).
    return a if (a > b or a != a) else b


@njit(**_opts)
def min_nan(a, b):
    return a if (a < b or a != a) else b
