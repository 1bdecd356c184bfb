"""matmul[transpose_a, transpose_b]: batched, bilinear; its vjp is the seed's four TensorFlow
cases, emitted as matmuls with flags (never a transposed copy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jitgrad.core import Matmul, Primitive, ShapedArray, Zero, aval_of, register
from jitgrad.errors import ShapeError
from jitgrad.prims.elementwise import add, add_p, mul_p, sub_p
from jitgrad.prims.structural import at_front, batch_size, move_front, reshape
from jitgrad.prims.testcases import draw, view_of


def _operand_dims(a: ShapedArray, b: ShapedArray, ta: bool, tb: bool
                  ) -> tuple[int, int, int, int]:
    m, ka = (a.shape[-1], a.shape[-2]) if ta else (a.shape[-2], a.shape[-1])
    kb, n = (b.shape[-1], b.shape[-2]) if tb else (b.shape[-2], b.shape[-1])
    return m, ka, kb, n


def _matmul_rule(a: ShapedArray, b: ShapedArray, *, transpose_a: bool, transpose_b: bool
                 ) -> ShapedArray:
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2] or a.dtype != b.dtype:
        raise ShapeError(f"matmul: operands {a} and {b} must be of equal rank >= 2, with equal "
                         f"batch dimensions and dtypes")
    if a.dtype == np.bool_:
        raise ShapeError(f"matmul: boolean operands {a}, {b}")
    m, ka, kb, n = _operand_dims(a, b, transpose_a, transpose_b)
    if ka != kb:
        raise ShapeError(f"matmul: contraction dimensions differ: {a} and {b} with "
                         f"transpose_a={transpose_a}, transpose_b={transpose_b} ({ka} != {kb})")
    return ShapedArray(a.shape[:-2] + (m, n), a.dtype)


def _matmul_impl(a: Any, b: Any, *, transpose_a: bool, transpose_b: bool) -> np.ndarray:
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return np.matmul(a, b)


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
    """``op(a) @ op(b)`` over equal leading batch dims, ``op`` transposing the last two axes
    when its flag is set."""
    return matmul_p.bind(a, b, transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))


def _matmul_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, transpose_a: bool,
                transpose_b: bool, wrt: Sequence[bool]) -> list[Any]:
    # The seed's TensorFlow _MatMulGrad, case by case (G = dE/dC).
    (g,), (a, b) = cts, ins
    if not transpose_a and not transpose_b:
        cases = (lambda: matmul(g, b, transpose_b=True), lambda: matmul(a, g, transpose_a=True))
    elif not transpose_a and transpose_b:
        cases = (lambda: matmul(g, b), lambda: matmul(g, a, transpose_a=True))
    elif transpose_a and not transpose_b:
        cases = (lambda: matmul(b, g, transpose_b=True), lambda: matmul(a, g))
    else:
        cases = (lambda: matmul(b, g, transpose_a=True, transpose_b=True),
                 lambda: matmul(g, a, transpose_a=True, transpose_b=True))
    return [case() if w else None for case, w in zip(cases, wrt, strict=True)]


def _matmul_jvp(primals: list[Any], tangents: list[Any], *, transpose_a: bool,
                transpose_b: bool) -> tuple[Any, Any]:
    (a, b), (ta, tb) = primals, tangents
    flags = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    out = matmul(a, b, **flags)
    terms = []
    if not isinstance(ta, Zero):
        terms.append(matmul(ta, b, **flags))
    if not isinstance(tb, Zero):
        terms.append(matmul(a, tb, **flags))
    return out, terms[0] if len(terms) == 1 else add(*terms)


def _matmul_cases(rng: np.random.Generator, dt: Any) -> list:
    cases = []
    for ta in (False, True):
        for tb in (False, True):
            a = draw(rng, (3, 2) if ta else (2, 3), dt)
            b = draw(rng, (4, 3) if tb else (3, 4), dt)
            cases.append(((a, b), {"transpose_a": ta, "transpose_b": tb}))
    flags = {"transpose_a": False, "transpose_b": False}
    cases += [
        ((draw(rng, (2, 1, 3), dt), draw(rng, (2, 3, 2), dt)), flags),
        ((draw(rng, (0, 3), dt), draw(rng, (3, 2), dt)), flags),
        ((draw(rng, (2, 0), dt), draw(rng, (0, 2), dt)), flags),
        ((view_of(draw(rng, (2, 3), dt), "strided"), view_of(draw(rng, (3, 2), dt), "reversed")),
         flags),
    ]
    return cases


def _matmul_batch(args: list[Any], dims: list[int | None], /, *, transpose_a: bool,
                  transpose_b: bool) -> tuple[Any, int]:
    (a, b), (da, db) = args, dims
    flags = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    if db is None and not transpose_a and aval_of(b).ndim == 2:
        # A batch of row blocks times one matrix is one larger matmul: (B*m, k) @ (k, n).
        a = move_front(a, da)
        shape = aval_of(a).shape
        out = matmul(reshape(a, (shape[0] * shape[1], shape[2])), b, **flags)
        return reshape(out, shape[:2] + aval_of(out).shape[-1:]), 0
    size = batch_size(args, dims)
    return matmul(at_front(a, da, size), at_front(b, db, size), **flags), 0


matmul_p = register(Primitive(
    "matmul", _matmul_rule, _matmul_impl,
    Matmul(bias_add=add_p, scale=mul_p, update_add=add_p, update_sub=sub_p),
    jvp=_matmul_jvp, vjp=_matmul_vjp, vjp_wrt=True, batch=_matmul_batch, test_cases=_matmul_cases))
