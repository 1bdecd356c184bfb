"""Test inputs declared with each primitive: shapes (), (3,), (2,3), size-0, rank-0 operands,
non-contiguous and negative-stride views, drawn from the primitive's domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Cases = Callable[[np.random.Generator, Any], list[tuple[tuple, dict]]]

SHAPES: list[tuple[int, ...]] = [(), (3,), (2, 3), (0, 3)]


def view_of(arr: np.ndarray, kind: str) -> np.ndarray:
    """A non-contiguous ("strided") or reversed ("reversed") view holding ``arr``'s values."""
    if kind == "strided":
        big = np.empty(tuple(2 * d for d in arr.shape), arr.dtype)
        big[tuple(slice(None, None, 2) for _ in arr.shape)] = arr
        return big[tuple(slice(None, None, 2) for _ in arr.shape)]
    if kind == "reversed":
        rev = np.ascontiguousarray(arr[tuple(slice(None, None, -1) for _ in arr.shape)])
        return rev[tuple(slice(None, None, -1) for _ in arr.shape)]
    raise ValueError(kind)


def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any,
         domain: tuple[float, float] = (-2, 2), kind: str = "float") -> np.ndarray:
    if kind == "bool":
        return rng.random(shape) < 0.5
    if kind == "int":
        # Small integers stored as the float dtype: exercises ties/equality.
        return rng.integers(-2, 3, shape).astype(dtype)
    return rng.uniform(*domain, shape).astype(dtype)


def elementwise_cases(domains: Sequence[tuple[float, float]], kinds: str = "float",
                      params: Sequence[dict] = ({},), pred: bool = False) -> Cases:
    """Cases for an elementwise primitive of ``len(domains)`` operands (plus a leading bool
    predicate when ``pred``)."""

    def cases(rng: np.random.Generator, dtype: Any) -> list[tuple[tuple, dict]]:
        out = []
        shapes = [[s] * len(domains) for s in SHAPES]
        if len(domains) > 1:
            shapes.append([(2, 3)] + [()] * (len(domains) - 1))  # a rank-0 operand
        for ss in shapes:
            args = [draw(rng, s, dtype, d, kinds) for s, d in zip(ss, domains, strict=True)]
            if pred:
                args.insert(0, rng.random(ss[0]) < 0.5)
            out.extend((tuple(args), dict(p)) for p in params)
        for kind in ("strided", "reversed"):
            args = [view_of(draw(rng, (2, 3), dtype, d, kinds), kind) for d in domains]
            if pred:
                args.insert(0, view_of(rng.random((2, 3)) < 0.5, kind))
            out.append((tuple(args), dict(params[0])))
        return out

    return cases
