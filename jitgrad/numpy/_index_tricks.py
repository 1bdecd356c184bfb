"""numpy's index tricks ``r_`` and ``c_`` (concatenation by indexing syntax) for traced arrays;
with concrete items they are numpy's own."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.errors import UnsupportedError
from jitgrad.numpy import _contains_tracer, concatenate, ndim, reshape, shape

__all__ = ["c_", "r_"]


class _Concatenator:
    """``r_[a, b, 1:4]`` concatenates along the first axis (scalars and slices become 1-D
    arrays); ``c_[a, b]`` along the last, 1-D arrays becoming columns.

    >>> import jitgrad
    >>> jitgrad.grad(lambda x: r_[x, 2.0 * x, 0:2].sum())(np.ones(2))
    array([3., 3.])
    """

    def __init__(self, numpy_version: Any, columns: bool):
        self._numpy = numpy_version
        self._columns = columns

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        if not _contains_tracer(items):
            return self._numpy[key]
        pieces = []
        for it in items:
            if isinstance(it, str):
                raise UnsupportedError(f"{self!r}: string directives ({it!r}) with traced "
                                       f"arrays; use jnp.concatenate with axis=")
            if isinstance(it, slice):
                it = np.r_[it]
            elif not _contains_tracer(it):
                it = np.asarray(it)
            if ndim(it) == 0:
                it = reshape(it, (1,))
            if self._columns and ndim(it) == 1:
                it = reshape(it, (shape(it)[0], 1))
            pieces.append(it)
        return concatenate(pieces, axis=-1 if self._columns else 0)

    def __repr__(self) -> str:
        return "jnp.c_" if self._columns else "jnp.r_"


r_ = _Concatenator(np.r_, columns=False)
c_ = _Concatenator(np.c_, columns=True)
