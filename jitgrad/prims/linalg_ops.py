"""Matrix decompositions and solves over the last two axes (any leading batch), run as host
steps over numpy's LAPACK, one call per batch: inv, solve, triangular_solve, det, slogdet,
cholesky, lu, eigh, svd, qr. Their derivative rules are built from these primitives and
matmul, so they differentiate again to any order.

References cited at each rule: Giles 2008, "An extended collection of matrix derivative
results for forward and reverse mode AD"; Murray 2016, "Differentiation of the Cholesky
decomposition"; Townsend 2016, "Differentiating the singular value decomposition"; Seeger et al.
2017, "Auto-differentiating linear algebra"; Walter & Lehmann 2018, "Algorithmic
differentiation of linear algebra functions with application in optimum experimental design";
Liao et al. 2019, "Differentiable programming tensor networks" (QR of wide matrices)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.core import (
    Host,
    Primitive,
    RuleFactory,
    ShapedArray,
    Zero,
    aval_of,
    is_float,
    register,
)
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.prims.elementwise import add, convert_element_type, div, eq, mul, neg, select, sub
from jitgrad.prims.linalg import matmul
from jitgrad.prims.reduce import reduce_sum
from jitgrad.prims.structural import (
    at_front,
    batch_size,
    broadcast_in_dim,
    concatenate,
    reshape,
    slice_,
    transpose,
)

# ---------------------------------------------------------------------------------------------
# Matrix helpers on primitives (the last two axes are the matrix; leading axes are a batch)


def _shape(x: Any) -> tuple[int, ...]:
    return aval_of(x).shape


def mT(x: Any) -> Any:  # noqa: N802 - numpy's name for the matrix transpose
    """Swap the last two axes."""
    nd = len(_shape(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _mask(x: Any, mask: np.ndarray) -> Any:
    """``x`` where the constant matrix ``mask`` is set, else 0."""
    shape = _shape(x)
    return select(broadcast_in_dim(mask, shape, (len(shape) - 2, len(shape) - 1)), x, 0)


def tril(x: Any, k: int = 0) -> Any:
    """numpy's ``tril`` over the last two axes."""
    n, m = _shape(x)[-2:]
    return _mask(x, np.tri(n, m, k, dtype=bool))


def triu(x: Any, k: int = 0) -> Any:
    """numpy's ``triu`` over the last two axes."""
    n, m = _shape(x)[-2:]
    return _mask(x, ~np.tri(n, m, k - 1, dtype=bool))


def rows(v: Any, m: int) -> Any:
    """``v`` (..., n) repeated as the m rows of a (..., m, n) matrix: ``M * rows(v)`` scales
    column j by ``v[j]``."""
    shape = _shape(v)
    return broadcast_in_dim(v, shape[:-1] + (m, shape[-1]),
                            tuple(range(len(shape) - 1)) + (len(shape),))


def cols(v: Any, n: int) -> Any:
    """``v`` (..., m) repeated as the n columns of a (..., m, n) matrix: scales row i."""
    shape = _shape(v)
    return broadcast_in_dim(v, shape + (n,), tuple(range(len(shape))))


def diagonal(x: Any) -> Any:
    """The diagonal of square matrices (..., n, n) -> (..., n)."""
    n = _shape(x)[-1]
    return reduce_sum(_mask(x, np.eye(n, dtype=bool)), (len(_shape(x)) - 1,))


def diag_matrix(v: Any) -> Any:
    """Square matrices with diagonal ``v`` (..., n)."""
    n = _shape(v)[-1]
    return _mask(rows(v, n), np.eye(n, dtype=bool))


def trace(x: Any) -> Any:
    return reduce_sum(diagonal(x), (len(_shape(x)) - 2,))


def per_matrix(c: Any, like: Any) -> Any:
    """A per-matrix scalar (shape = batch) broadcast over the matrices of ``like``."""
    return broadcast_in_dim(c, _shape(like), tuple(range(len(_shape(c)))))


def _sum_terms(terms: list[Any]) -> Any:
    out = terms[0]
    for t in terms[1:]:
        out = add(out, t)
    return out


def sym_from_lower(x: Any, lower: bool = True) -> Any:
    """The symmetric matrix a routine reading only the lower (or upper) triangle of ``x``
    sees."""
    return add(tril(x), mT(tril(x, -1))) if lower else add(triu(x), mT(triu(x, 1)))


def lower_read_ct(s: Any, lower: bool = True) -> Any:
    """Transpose of ``sym_from_lower``: the cotangent of the matrix read through its lower
    (or upper) triangle, given the cotangent ``s`` of the symmetric matrix it stands for."""
    return add(tril(s), tril(mT(s), -1)) if lower else add(triu(s), triu(mT(s), 1))


def _spectral_gap_inverse(w: Any) -> Any:
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (the eigen/singular-vector
    derivatives' coupling matrix; finite where the values are distinct)."""
    n = _shape(w)[-1]
    eye = broadcast_in_dim(np.eye(n, dtype=bool), _shape(w) + (n,),
                           (len(_shape(w)) - 1, len(_shape(w))))
    gap = sub(rows(w, n), cols(w, n))
    return select(eye, 0, div(1, select(eye, 1, gap)))


def _instantiate(t: Any, like: Any) -> Any:
    """A tangent (maybe symbolic Zero) as an array."""
    if isinstance(t, Zero):
        return broadcast_in_dim(np.zeros((), aval_of(like).dtype)[()], _shape(like), ())
    return t


# ---------------------------------------------------------------------------------------------
# Shape rules and batching


def _check_float(name: str, *avals: ShapedArray) -> None:
    if any(not is_float(a.dtype) for a in avals) or len({a.dtype for a in avals}) > 1:
        raise JitgradTypeError(f"{name}: operands must be floating point of one dtype, got "
                               f"{', '.join(map(str, avals))}")


def check_real(name: str, a: ShapedArray) -> None:
    """Complex matrices are refused before any cast could drop their imaginary parts."""
    if a.dtype.kind == "c":
        raise UnsupportedError(f"{name}: complex matrices ({a}) are not supported")


def check_square(name: str, a: ShapedArray) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{name}: expected a square matrix (or a stack of them) in the last "
                         f"two axes, got shape {a.shape}")


def check_matrix(name: str, a: ShapedArray) -> None:
    if a.ndim < 2:
        raise ShapeError(f"{name}: expected a matrix (or a stack of them) of rank >= 2, got "
                         f"shape {a.shape}")


def _square_rule(name: str) -> Callable[..., ShapedArray]:
    def rule(a: ShapedArray) -> ShapedArray:
        check_square(name, a)
        _check_float(name, a)
        return ShapedArray(a.shape, a.dtype)
    return rule


def _solve_rule(name: str) -> Callable[..., ShapedArray]:
    def rule(a: ShapedArray, b: ShapedArray, **params: Any) -> ShapedArray:
        check_square(name, a)
        _check_float(name, a, b)
        if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != a.shape[-1]:
            raise ShapeError(f"{name}: the right-hand side {b.shape} does not fit the matrix "
                             f"{a.shape} (expected {a.shape[:-1]} + (k,))")
        return ShapedArray(b.shape, b.dtype)
    return rule


def _leading_batch(prim: Primitive) -> Callable[..., Any]:
    """vmap: these primitives take any leading batch, so the batch axis moves first."""

    def rule(args: list[Any], dims: list[int | None], /, **params: Any) -> tuple[Any, Any]:
        size = batch_size(args, dims)
        out = prim.bind(*[at_front(a, d, size) for a, d in zip(args, dims, strict=True)],
                        **params)
        return out, [0] * len(out) if prim.multiple_results else 0
    return rule


def _register(name: str, rule: Callable[..., Any], impl: Callable[..., Any], *,
              jvp: Callable[..., Any], vjp: Callable[..., Any], cases: Callable[..., Any],
              multiple_results: bool = False) -> Primitive:
    return register(Primitive(name, rule, impl, Host(), jvp=jvp, vjp=vjp,
                              batch=RuleFactory(_leading_batch), test_cases=cases,
                              multiple_results=multiple_results))


# ---------------------------------------------------------------------------------------------
# Test inputs: small, well-conditioned, computed in float64 and rounded (so the float32 case is
# the float64 case rounded)


def _general(rng: np.random.Generator, shape: tuple[int, ...], dt: Any) -> np.ndarray:
    """Well-conditioned square matrices: random plus a dominant diagonal."""
    n = shape[-1]
    return (rng.uniform(-1, 1, shape) + 2.0 * np.eye(n)).astype(dt)


def _symmetric(rng: np.random.Generator, shape: tuple[int, ...], dt: Any,
               spd: bool = False) -> np.ndarray:
    """Symmetric (in the lower triangle; the strict upper triangle is noise that the routines
    must ignore) with well-separated eigenvalues, positive when ``spd``."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    w = np.arange(1.0, n + 1) * 1.5 - (0 if spd else 0.5 * n)
    a = (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)
    noise = np.triu(rng.uniform(-1, 1, shape), 1)
    return (np.tril(a) + noise).astype(dt)


def _with_values(rng: np.random.Generator, m: int, n: int, batch: tuple[int, ...], dt: Any
                 ) -> np.ndarray:
    """Matrices with well-separated singular values."""
    u, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    v, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    k = min(m, n)
    s = np.zeros(batch + (m, n))
    s[..., range(k), range(k)] = np.arange(k, 0, -1) + 0.5
    return (u @ s @ v).astype(dt)


# ---------------------------------------------------------------------------------------------
# inv (Giles 2008, 2.2.3: dX = -X dA X; Abar = -X^T Xbar X^T)


def _inv_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (t,) = primals, tangents
    x = inv_p.bind(a)
    return x, neg(matmul(matmul(x, t), x))


def _inv_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    x = outs[0]
    return [neg(matmul(matmul(x, cts[0], transpose_a=True), x, transpose_b=True))]


inv_p = _register(
    "inv", _square_rule("inv"), lambda a: np.linalg.inv(a), jvp=_inv_jvp, vjp=_inv_vjp,
    cases=lambda rng, dt: [((_general(rng, (3, 3), dt),), {}),
                           ((_general(rng, (2, 2, 2), dt),), {}),
                           ((_general(rng, (0, 2, 2), dt),), {})])


# ---------------------------------------------------------------------------------------------
# solve (Giles 2008, 2.3.1: X = op(A)^-1 B, dX = op(A)^-1 (dB - op(dA) X),
# Bbar = op(A)^-T Xbar, Abar = -Bbar X^T, transposed when op transposes)


def _solve_impl(a: Any, b: Any, *, transpose_a: bool) -> np.ndarray:
    return np.linalg.solve(np.swapaxes(a, -1, -2) if transpose_a else a, b)


def solve(a: Any, b: Any, transpose_a: bool = False) -> Any:
    return solve_p.bind(a, b, transpose_a=bool(transpose_a))


def _solve_jvp(primals: list[Any], tangents: list[Any], *, transpose_a: bool
               ) -> tuple[Any, Any]:
    (a, b), (ta, tb) = primals, tangents
    x = solve(a, b, transpose_a)
    rhs = [] if isinstance(tb, Zero) else [tb]
    if not isinstance(ta, Zero):
        rhs.append(neg(matmul(ta, x, transpose_a=transpose_a)))
    return x, solve(a, _sum_terms(rhs), transpose_a)


def _solve_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, transpose_a: bool
               ) -> list[Any]:
    (ct,), (a, _), (x,) = cts, ins, outs
    ct_b = solve(a, ct, not transpose_a)
    ct_a = matmul(x, ct_b, transpose_b=True) if transpose_a else \
        matmul(ct_b, x, transpose_b=True)
    return [neg(ct_a), ct_b]


def _solve_cases(rng: np.random.Generator, dt: Any) -> list:
    return [((_general(rng, (3, 3), dt), rng.uniform(-1, 1, (3, 2)).astype(dt)),
             {"transpose_a": False}),
            ((_general(rng, (3, 3), dt), rng.uniform(-1, 1, (3, 1)).astype(dt)),
             {"transpose_a": True}),
            ((_general(rng, (2, 2, 2), dt), rng.uniform(-1, 1, (2, 2, 3)).astype(dt)),
             {"transpose_a": False})]


solve_p = _register("solve", _solve_rule("solve"), _solve_impl, jvp=_solve_jvp,
                    vjp=_solve_vjp, cases=_solve_cases)


# ---------------------------------------------------------------------------------------------
# triangular_solve: op(T) X = B where T is the lower or upper triangle of ``a`` (its diagonal
# taken as ones when ``unit_diagonal``); the other entries of ``a`` are never read. Same rules
# as solve, with the matrix cotangent restricted to the triangle that is read.


def _tri_matrix(a: np.ndarray, lower: bool, unit_diagonal: bool) -> np.ndarray:
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        n = a.shape[-1]
        t = np.where(np.eye(n, dtype=bool), np.ones((), a.dtype), t)
    return t


def _trisolve_impl(a: Any, b: Any, *, lower: bool, transpose_a: bool, unit_diagonal: bool
                   ) -> np.ndarray:
    # NB: numpy has no triangular solve; LAPACK's general solve of the triangle gives the same
    # solution (its partial pivoting keeps it backward stable) at O(n^3) instead of O(n^2 k).
    t = _tri_matrix(np.asarray(a), lower, unit_diagonal)
    return np.linalg.solve(np.swapaxes(t, -1, -2) if transpose_a else t, b)


def triangular_solve(a: Any, b: Any, lower: bool, transpose_a: bool = False,
                     unit_diagonal: bool = False) -> Any:
    return triangular_solve_p.bind(a, b, lower=bool(lower), transpose_a=bool(transpose_a),
                                   unit_diagonal=bool(unit_diagonal))


def _read_triangle(x: Any, lower: bool, unit_diagonal: bool) -> Any:
    k = int(unit_diagonal)
    return tril(x, -k) if lower else triu(x, k)


def _trisolve_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (a, b), (ta, tb) = primals, tangents
    x = triangular_solve_p.bind(a, b, **params)
    rhs = [] if isinstance(tb, Zero) else [tb]
    if not isinstance(ta, Zero):
        dt = _read_triangle(ta, params["lower"], params["unit_diagonal"])
        rhs.append(neg(matmul(dt, x, transpose_a=params["transpose_a"])))
    return x, triangular_solve_p.bind(a, _sum_terms(rhs), **params)


def _trisolve_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, lower: bool,
                  transpose_a: bool, unit_diagonal: bool) -> list[Any]:
    (ct,), (a, _), (x,) = cts, ins, outs
    ct_b = triangular_solve(a, ct, lower, not transpose_a, unit_diagonal)
    ct_a = matmul(x, ct_b, transpose_b=True) if transpose_a else \
        matmul(ct_b, x, transpose_b=True)
    return [neg(_read_triangle(ct_a, lower, unit_diagonal)), ct_b]


def _trisolve_cases(rng: np.random.Generator, dt: Any) -> list:
    out = []
    for lower in (True, False):
        for transpose_a in (False, True):
            for unit in (False, True):
                a = rng.uniform(-1, 1, (3, 3)) + 2.0 * np.eye(3)
                b = rng.uniform(-1, 1, (3, 2))
                out.append(((a.astype(dt), b.astype(dt)), {
                    "lower": lower, "transpose_a": transpose_a, "unit_diagonal": unit}))
    out.append(((_general(rng, (2, 2, 2), dt), rng.uniform(-1, 1, (2, 2, 1)).astype(dt)),
                {"lower": True, "transpose_a": False, "unit_diagonal": False}))
    return out


triangular_solve_p = _register(
    "triangular_solve", _solve_rule("triangular_solve"), _trisolve_impl, jvp=_trisolve_jvp,
    vjp=_trisolve_vjp, cases=_trisolve_cases)


# ---------------------------------------------------------------------------------------------
# det and slogdet (Giles 2008, 2.2.4: d det(A) = det(A) tr(A^-1 dA), Abar = dbar det(A) A^-T).
# NB: their derivatives need A^-1, so they raise numpy's LinAlgError at a singular matrix
# (autograd does the same; the determinant itself is 0 there).


def _det_rule(a: ShapedArray) -> ShapedArray:
    check_square("det", a)
    _check_float("det", a)
    return ShapedArray(a.shape[:-2], a.dtype)


def _dlogdet(a: Any, t: Any) -> Any:
    return trace(solve(a, t))


def _det_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (t,) = primals, tangents
    d = det_p.bind(a)
    return d, mul(d, _dlogdet(a, t))


def _det_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    (ct,), (a,), (d,) = cts, ins, outs
    return [mul(per_matrix(mul(ct, d), a), mT(inv_p.bind(a)))]


def _det_cases(rng: np.random.Generator, dt: Any) -> list:
    flip = np.diag([1.0, -1.0, 1.0])
    return [((_general(rng, (3, 3), dt),), {}),
            ((_general(rng, (2, 2, 2), dt),), {}),
            ((flip.astype(dt) @ _general(rng, (3, 3), dt),), {}),
            ((_general(rng, (0, 0), dt),), {})]


det_p = _register("det", _det_rule, lambda a: np.linalg.det(a), jvp=_det_jvp, vjp=_det_vjp,
                  cases=_det_cases)


def _slogdet_jvp(primals: list[Any], tangents: list[Any]) -> tuple[list, list]:
    (a,), (t,) = primals, tangents
    sign, logdet = slogdet_p.bind(a)
    return [sign, logdet], [Zero(aval_of(sign)), _dlogdet(a, t)]


def _slogdet_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    (_, ct), (a,) = cts, ins
    if isinstance(ct, Zero):
        return [None]
    return [mul(per_matrix(ct, a), mT(inv_p.bind(a)))]


slogdet_p = _register(
    "slogdet", lambda a: [_det_rule(a)] * 2, lambda a: list(np.linalg.slogdet(a)),
    jvp=_slogdet_jvp, vjp=_slogdet_vjp, cases=_det_cases, multiple_results=True)


# ---------------------------------------------------------------------------------------------
# cholesky: A = L L^T, reading the lower triangle of A only (as numpy and LAPACK do), so its
# derivative is exact for every perturbation: dA enters as sym_from_lower(dA).
# Murray 2016, eqs. (9)-(10): dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with the diagonal
# halved; Abar_sym = L^-T Phi(L^T Lbar) L^-1, read back through the lower triangle.


def _phi(x: Any) -> Any:
    n = _shape(x)[-1]
    return add(tril(x, -1), mul(_mask(x, np.eye(n, dtype=bool)), 0.5))


def _right_solve_lower_t(l_: Any, y: Any) -> Any:
    """``y L^-T`` for lower-triangular L: (L^-1 y^T)^T."""
    return mT(triangular_solve(l_, mT(y), lower=True))


def _cholesky_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (t,) = primals, tangents
    l_ = cholesky_p.bind(a)
    inner = _right_solve_lower_t(l_, triangular_solve(l_, sym_from_lower(t), lower=True))
    return l_, matmul(l_, _phi(inner))


def _cholesky_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    (ct,), (l_,) = cts, outs
    p = _phi(matmul(l_, ct, transpose_a=True))
    y = triangular_solve(l_, p, lower=True, transpose_a=True)  # L^-T P
    s = mT(triangular_solve(l_, mT(y), lower=True, transpose_a=True))  # L^-T P L^-1
    return [lower_read_ct(s)]


cholesky_p = _register(
    "cholesky", _square_rule("cholesky"), lambda a: np.linalg.cholesky(a), jvp=_cholesky_jvp,
    vjp=_cholesky_vjp,
    cases=lambda rng, dt: [((_symmetric(rng, (3, 3), dt, spd=True),), {}),
                           ((_symmetric(rng, (2, 2, 2), dt, spd=True),), {}),
                           ((_symmetric(rng, (1, 1), dt, spd=True),), {})])


# ---------------------------------------------------------------------------------------------
# lu: partial pivoting, P A = L U with L unit lower triangular, returned packed (L below the
# diagonal, U on and above it) with LAPACK's row interchanges ``pivots`` (row i was swapped
# with pivots[i] at step i) and the permutation ``perm`` (A[perm] = L U), both int32.
# Derivative (Seeger et al. 2017, sec. 3.3): F = L^-1 P dA U^-1, dL = L tril(F, -1),
# dU = triu(F) U; Abar = P^T L^-T (tril(L^T Lbar, -1) + triu(Ubar U^T)) U^-T.


def _lu_impl(a: Any) -> list[np.ndarray]:
    # NB: numpy exposes no LU: this is LAPACK's getf2 algorithm, vectorised over the batch
    # (one pass per column, every matrix of the batch at once).
    a = np.array(a, copy=True)
    n = a.shape[-1]
    x = a.reshape((int(np.prod(a.shape[:-2])), n, n))
    at = np.arange(x.shape[0])
    pivots = np.zeros(x.shape[:2], np.int32)
    perm = np.tile(np.arange(n, dtype=np.int32), (x.shape[0], 1))
    for k in range(n):
        p = k + np.argmax(np.abs(x[:, k:, k]), axis=1)
        pivots[:, k] = p
        x[at, k], x[at, p] = x[at, p], x[at, k].copy()
        perm[at, k], perm[at, p] = perm[at, p], perm[at, k].copy()
        pivot = x[:, k, k]
        # A zero pivot (a singular matrix) leaves its all-zero column unscaled, as LAPACK does.
        x[:, k + 1:, k] /= np.where(pivot == 0, np.ones((), a.dtype), pivot)[:, None]
        x[:, k + 1:, k + 1:] -= x[:, k + 1:, k, None] * x[:, k, None, k + 1:]
    return [x.reshape(a.shape), pivots.reshape(a.shape[:-1]), perm.reshape(a.shape[:-1])]


def _lu_rule(a: ShapedArray) -> list[ShapedArray]:
    check_square("lu", a)
    _check_float("lu", a)
    idx = ShapedArray(a.shape[:-1], np.int32)
    return [ShapedArray(a.shape, a.dtype), idx, idx]


def permutation_matrix(perm: Any, dtype: Any) -> Any:
    """P with P[i, perm[i]] = 1, so P @ A = A[perm]."""
    shape = _shape(perm)
    n = shape[-1]
    full = shape + (n,)
    cols_ = broadcast_in_dim(np.arange(n, dtype=np.int32), full, (len(shape),))
    return convert_element_type(eq(cols(perm, n), cols_), dtype)


def _unit_lower(lu: Any) -> Any:
    n = _shape(lu)[-1]
    return add(tril(lu, -1), broadcast_in_dim(np.eye(n, dtype=aval_of(lu).dtype), _shape(lu),
                                              (len(_shape(lu)) - 2, len(_shape(lu)) - 1)))


def _lu_jvp(primals: list[Any], tangents: list[Any]) -> tuple[list, list]:
    (a,), (t,) = primals, tangents
    lu, pivots, perm = lu_p.bind(a)
    pt = matmul(permutation_matrix(perm, aval_of(a).dtype), t)
    linv_pt = triangular_solve(lu, pt, lower=True, unit_diagonal=True)
    f = mT(triangular_solve(lu, mT(linv_pt), lower=False, transpose_a=True))  # ... U^-1
    dlu = add(matmul(_unit_lower(lu), tril(f, -1)), matmul(triu(f), triu(lu)))
    return [lu, pivots, perm], [dlu, Zero(aval_of(pivots)), Zero(aval_of(perm))]


def _lu_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    (ct, _, _), (a,), (lu, _, perm) = cts, ins, outs
    m = add(tril(matmul(_unit_lower(lu), tril(ct, -1), transpose_a=True), -1),
            triu(matmul(triu(ct), triu(lu), transpose_b=True)))
    y = triangular_solve(lu, m, lower=True, transpose_a=True, unit_diagonal=True)
    z = mT(triangular_solve(lu, mT(y), lower=False))  # ... U^-T
    return [matmul(permutation_matrix(perm, aval_of(a).dtype), z, transpose_a=True)]


lu_p = _register(
    "lu", _lu_rule, _lu_impl, jvp=_lu_jvp, vjp=_lu_vjp, multiple_results=True,
    cases=lambda rng, dt: [((rng.uniform(-1, 1, (3, 3)).astype(dt),), {}),
                           ((rng.uniform(-1, 1, (2, 3, 3)).astype(dt),), {}),
                           ((_general(rng, (0, 0), dt),), {})])


# ---------------------------------------------------------------------------------------------
# eigh: A = V diag(w) V^T for the symmetric matrix read from A's lower (or upper) triangle
# (numpy's UPLO, passed on to LAPACK, so values and signs are numpy's); eigenvalues
# ascending (numpy's order), each eigenvector's sign as LAPACK returns it.
# Giles 2008, 3.1 / Seeger et al. 2017: C = V^T dA V, dw = diag(C), dV = V (F o C) with
# F[i, j] = 1 / (w[j] - w[i]); Abar_sym = V (diag(wbar) + F o (V^T Vbar)) V^T. Defined where
# the eigenvalues are distinct.


def _eigh_impl(a: Any, *, eigvals_only: bool, lower: bool) -> list[np.ndarray]:
    uplo = "L" if lower else "U"
    if eigvals_only:
        return [np.linalg.eigvalsh(a, uplo)]
    return list(np.linalg.eigh(a, uplo))


def _eigh_rule(a: ShapedArray, *, eigvals_only: bool, lower: bool) -> list[ShapedArray]:
    check_square("eigh", a)
    _check_float("eigh", a)
    w = ShapedArray(a.shape[:-1], a.dtype)
    return [w] if eigvals_only else [w, ShapedArray(a.shape, a.dtype)]


def _eigh_jvp(primals: list[Any], tangents: list[Any], *, eigvals_only: bool, lower: bool
              ) -> tuple[list, list]:
    (a,), (t,) = primals, tangents
    w, v = eigh_p.bind(a, eigvals_only=False, lower=lower)
    c = matmul(matmul(v, sym_from_lower(t, lower), transpose_a=True), v)
    if eigvals_only:
        return [eigh_p.bind(a, eigvals_only=True, lower=lower)[0]], [diagonal(c)]
    return [w, v], [diagonal(c), matmul(v, mul(_spectral_gap_inverse(w), c))]


def _eigh_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, eigvals_only: bool,
              lower: bool) -> list[Any]:
    (a,) = ins
    w, v = eigh_p.bind(a, eigvals_only=False, lower=lower) if eigvals_only else outs
    ct_w, ct_v = cts[0], (Zero(aval_of(v)) if eigvals_only else cts[1])
    terms = [] if isinstance(ct_w, Zero) else [diag_matrix(ct_w)]
    if not isinstance(ct_v, Zero):
        terms.append(mul(_spectral_gap_inverse(w), matmul(v, ct_v, transpose_a=True)))
    if not terms:
        return [None]
    s = matmul(matmul(v, _sum_terms(terms)), v, transpose_b=True)
    return [lower_read_ct(s, lower)]


eigh_p = _register(
    "eigh", _eigh_rule, _eigh_impl, jvp=_eigh_jvp, vjp=_eigh_vjp, multiple_results=True,
    cases=lambda rng, dt: [
        ((_symmetric(rng, (3, 3), dt),), {"eigvals_only": False, "lower": True}),
        ((_symmetric(rng, (2, 2, 2), dt),), {"eigvals_only": False, "lower": True}),
        ((_symmetric(rng, (3, 3), dt),), {"eigvals_only": True, "lower": True}),
        ((np.swapaxes(_symmetric(rng, (3, 3), dt), -1, -2),),
         {"eigvals_only": False, "lower": False})])


# ---------------------------------------------------------------------------------------------
# svd: A = U diag(s) Vt, s descending (numpy's order), signs as LAPACK returns them.
# Townsend 2016 (real case): with P = U^T dA V, ds = diag(P), F[i, j] = 1 / (s[j]^2 - s[i]^2),
# dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1, dV = V (F o (S P + P^T S)) +
# (I - V V^T) dA^T U S^-1; the reverse rule is its transpose (Townsend's eq. for Abar).
# Defined where the singular values are distinct and nonzero; the extra columns of
# full_matrices=True for a non-square matrix are not unique, so they have no derivative.


def _svd_impl(a: Any, *, full_matrices: bool, compute_uv: bool) -> list[np.ndarray]:
    if not compute_uv:
        return [np.linalg.svd(a, compute_uv=False)]
    return list(np.linalg.svd(a, full_matrices=full_matrices))


def _svd_rule(a: ShapedArray, *, full_matrices: bool, compute_uv: bool) -> list[ShapedArray]:
    check_matrix("svd", a)
    _check_float("svd", a)
    m, n = a.shape[-2:]
    k = min(m, n)
    s = ShapedArray(a.shape[:-2] + (k,), a.dtype)
    if not compute_uv:
        return [s]
    mu, nv = (m, n) if full_matrices else (k, k)
    return [ShapedArray(a.shape[:-2] + (m, mu), a.dtype), s,
            ShapedArray(a.shape[:-2] + (nv, n), a.dtype)]


def _svd_parts(a: Any, full_matrices: bool, compute_uv: bool) -> list[Any]:
    m, n = _shape(a)[-2:]
    if full_matrices and compute_uv and m != n:
        raise UnsupportedError(
            f"svd: no derivative with full_matrices=True for a non-square matrix {_shape(a)}: "
            f"the singular vectors beyond min(m, n) are not unique. Use full_matrices=False.")
    return svd_p.bind(a, full_matrices=False, compute_uv=True)


def _svd_jvp(primals: list[Any], tangents: list[Any], *, full_matrices: bool,
             compute_uv: bool) -> tuple[list, list]:
    (a,), (t,) = primals, tangents
    u, s, vt = _svd_parts(a, full_matrices, compute_uv)
    p = matmul(matmul(u, t, transpose_a=True), vt, transpose_b=True)
    ds = diagonal(p)
    if not compute_uv:
        return svd_p.bind(a, full_matrices=full_matrices, compute_uv=False), [ds]
    m, n = _shape(a)[-2:]
    k = min(m, n)
    f = _spectral_gap_inverse(mul(s, s))
    sr, sc = rows(s, k), cols(s, k)
    du = matmul(u, mul(f, add(mul(p, sr), mul(sc, mT(p)))))
    dv = matmul(vt, mul(f, add(mul(sc, p), mul(mT(p), sr))), transpose_a=True)
    if m > n:  # the part of dA V outside the span of U
        dav = matmul(t, vt, transpose_b=True)
        du = add(du, div(sub(dav, matmul(u, matmul(u, dav, transpose_a=True))), rows(s, m)))
    if n > m:
        dau = matmul(t, u, transpose_a=True)
        dv = add(dv, div(sub(dau, matmul(vt, matmul(vt, dau), transpose_a=True)), rows(s, n)))
    return [u, s, vt], [du, ds, mT(dv)]


def _svd_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, full_matrices: bool,
             compute_uv: bool) -> list[Any]:
    (a,) = ins
    u, s, vt = _svd_parts(a, full_matrices, compute_uv)
    ct_u, ct_s, ct_vt = cts if compute_uv else (Zero(aval_of(u)), cts[0], Zero(aval_of(vt)))
    m, n = _shape(a)[-2:]
    k = min(m, n)
    f = _spectral_gap_inverse(mul(s, s))
    sr, sc = rows(s, k), cols(s, k)
    terms = [] if isinstance(ct_s, Zero) else [diag_matrix(ct_s)]  # the cotangent of P
    if not isinstance(ct_u, Zero):
        g = mul(f, matmul(u, ct_u, transpose_a=True))
        terms += [mul(g, sr), mT(mul(sc, g))]
    if not isinstance(ct_vt, Zero):
        h = mul(f, matmul(vt, ct_vt, transpose_b=True))  # F o (V^T Vbar)
        terms += [mul(sc, h), mT(mul(h, sr))]
    out = []
    if terms:
        out.append(matmul(matmul(u, _sum_terms(terms)), vt))
    if m > n and not isinstance(ct_u, Zero):
        proj = sub(ct_u, matmul(u, matmul(u, ct_u, transpose_a=True)))
        out.append(matmul(div(proj, rows(s, m)), vt))
    if n > m and not isinstance(ct_vt, Zero):
        proj = sub(ct_vt, matmul(matmul(ct_vt, vt, transpose_b=True), vt))
        out.append(matmul(div(u, rows(s, m)), proj))
    return [_sum_terms(out)] if out else [None]


def _svd_cases(rng: np.random.Generator, dt: Any) -> list:
    reduced = {"full_matrices": False, "compute_uv": True}
    return [((_with_values(rng, 3, 2, (), dt),), reduced),
            ((_with_values(rng, 2, 3, (), dt),), reduced),
            ((_with_values(rng, 3, 3, (), dt),), {"full_matrices": True, "compute_uv": True}),
            ((_with_values(rng, 3, 2, (2,), dt),), reduced),
            ((_with_values(rng, 2, 3, (), dt),), {"full_matrices": True, "compute_uv": False})]


svd_p = _register("svd", _svd_rule, _svd_impl, jvp=_svd_jvp, vjp=_svd_vjp, cases=_svd_cases,
                  multiple_results=True)


# ---------------------------------------------------------------------------------------------
# qr: A = Q R (numpy's signs: LAPACK's Householder QR). For m >= n, reduced (Walter & Lehmann
# 2018, sec. 3.4): X = dA R^-1, C = Q^T X, O = tril(C, -1) - tril(C, -1)^T, dQ = Q (O - C) + X,
# dR = (C - O) R; Abar = (Qbar + Q copyltu(M)) R^-T with M = R Rbar^T - Qbar^T Q. For m < n,
# A = [X | Y] with X square: X = Q U by the square rule and V = Q^T Y (Liao et al. 2019, sec.
# 3.2). The extra columns of mode="complete" for m > n are not unique: no derivative.


def _qr_rule(a: ShapedArray, *, full_matrices: bool) -> list[ShapedArray]:
    check_matrix("qr", a)
    _check_float("qr", a)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    return [ShapedArray(a.shape[:-2] + (m, k), a.dtype),
            ShapedArray(a.shape[:-2] + (k, n), a.dtype)]


def _qr_impl(a: Any, *, full_matrices: bool) -> list[np.ndarray]:
    return list(np.linalg.qr(a, mode="complete" if full_matrices else "reduced"))


def _right_solve_upper(r: Any, y: Any) -> Any:
    """``y R^-1`` for upper-triangular R: (R^-T y^T)^T."""
    return mT(triangular_solve(r, mT(y), lower=False, transpose_a=True))


def _qr_tall_jvp(q: Any, r: Any, t: Any) -> tuple[Any, Any]:
    x = _right_solve_upper(r, t)
    c = matmul(q, x, transpose_a=True)
    low = tril(c, -1)
    o = sub(low, mT(low))
    return add(matmul(q, sub(o, c)), x), matmul(sub(c, o), r)


def _qr_tall_vjp(q: Any, r: Any, ct_q: Any, ct_r: Any) -> Any:
    m = sub(matmul(r, ct_r, transpose_b=True), matmul(ct_q, q, transpose_a=True))
    y = add(ct_q, matmul(q, sym_from_lower(m)))
    return mT(triangular_solve(r, mT(y), lower=False))  # y R^-T


def _split_wide(x: Any, m: int) -> tuple[Any, Any]:
    shape = _shape(x)
    nd = len(shape)
    zero, one = (0,) * nd, (1,) * nd
    return (slice_(x, zero, shape[:-1] + (m,), one),
            slice_(x, zero[:-1] + (m,), shape[:-1] + (shape[-1] - m,), one))


def _qr_derivative_shape(a: Any, full_matrices: bool) -> None:
    m, n = _shape(a)[-2:]
    if full_matrices and m > n:
        raise UnsupportedError(
            f"qr: no derivative with mode='complete' for a tall matrix {_shape(a)}: the "
            f"columns of Q beyond n are not unique. Use mode='reduced'.")


def _qr_jvp(primals: list[Any], tangents: list[Any], *, full_matrices: bool
            ) -> tuple[list, list]:
    (a,), (t,) = primals, tangents
    _qr_derivative_shape(a, full_matrices)
    q, r = qr_p.bind(a, full_matrices=full_matrices)
    m, n = _shape(a)[-2:]
    if m >= n:
        return [q, r], list(_qr_tall_jvp(q, r, t))
    (tx, ty), (u, _) = _split_wide(t, m), _split_wide(r, m)
    _, y = _split_wide(a, m)
    dq, du = _qr_tall_jvp(q, u, tx)
    dv = add(matmul(dq, y, transpose_a=True), matmul(q, ty, transpose_a=True))
    return [q, r], [dq, concatenate([du, dv], len(_shape(a)) - 1)]


def _qr_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, full_matrices: bool
            ) -> list[Any]:
    (a,), (q, r) = ins, outs
    _qr_derivative_shape(a, full_matrices)
    ct_q, ct_r = _instantiate(cts[0], q), _instantiate(cts[1], r)
    m, n = _shape(a)[-2:]
    if m >= n:
        return [_qr_tall_vjp(q, r, ct_q, ct_r)]
    (ct_u, ct_v), (u, _), (_, y) = _split_wide(ct_r, m), _split_wide(r, m), _split_wide(a, m)
    ct_x = _qr_tall_vjp(q, u, add(ct_q, matmul(y, ct_v, transpose_b=True)), ct_u)
    return [concatenate([ct_x, matmul(q, ct_v)], len(_shape(a)) - 1)]


def _qr_cases(rng: np.random.Generator, dt: Any) -> list:
    def mat(shape: tuple[int, ...]) -> np.ndarray:
        return _with_values(rng, shape[-2], shape[-1], shape[:-2], dt)
    return [((mat((3, 2)),), {"full_matrices": False}),
            ((mat((2, 3)),), {"full_matrices": False}),
            ((mat((3, 3)),), {"full_matrices": True}),
            ((mat((2, 3, 2)),), {"full_matrices": False})]


qr_p = _register("qr", _qr_rule, _qr_impl, jvp=_qr_jvp, vjp=_qr_vjp, cases=_qr_cases,
                 multiple_results=True)


# ---------------------------------------------------------------------------------------------
# Sylvester equations A X + X B = Q, through the Kronecker form (A (x) I + I (x) B^T) vec(X) =
# vec(Q) (row-major vec): a composite of solve, so every derivative comes with it.
# NB: O((mn)^3) work, against Bartels-Stewart's O(m^3 + n^3) (numpy has no Schur form); meant
# for the small matrices of sqrtm's derivative and solve_sylvester.


def sylvester(a: Any, b: Any, q: Any) -> Any:
    """X with ``a @ X + X @ b = q`` for square ``a`` (m, m), ``b`` (n, n), ``q`` (m, n), with
    equal leading batch axes."""
    (m, n), batch = _shape(q)[-2:], _shape(q)[:-2]
    nb = len(batch)
    full = batch + (m, n, m, n)
    eye_m = broadcast_in_dim(np.eye(m, dtype=bool), full, (nb, nb + 2))
    eye_n = broadcast_in_dim(np.eye(n, dtype=bool), full, (nb + 1, nb + 3))
    # K[i, j, k, l] = A[i, k] [j == l] + [i == k] B[l, j]
    k1 = select(eye_n, broadcast_in_dim(a, full, tuple(range(nb)) + (nb, nb + 2)), 0)
    k2 = select(eye_m, broadcast_in_dim(mT(b), full, tuple(range(nb)) + (nb + 1, nb + 3)), 0)
    kron = reshape(add(k1, k2), batch + (m * n, m * n))
    x = solve(kron, reshape(q, batch + (m * n, 1)))
    return reshape(x, batch + (m, n))


# ---------------------------------------------------------------------------------------------
# expm: scaling and squaring with the degree-13 Pade approximant (Higham 2005, "The scaling and
# squaring method for the matrix exponential revisited", Algorithm 2.3), computed in float64.
# Derivative: the Frechet derivative L(A, E) is the upper-right block of expm([[A, E], [0, A]])
# (Najfeld & Havel 1995; Higham 2008, "Functions of Matrices", ch. 3), and its adjoint is
# L(A^T, G) (ibid.).

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_impl(a: Any) -> np.ndarray:
    x = np.asarray(a, np.float64)
    n = x.shape[-1]
    norm1 = np.abs(x).sum(axis=-2).max(axis=-1, initial=0.0)
    finite = np.isfinite(norm1)
    with np.errstate(divide="ignore"):
        s = np.where(finite, np.maximum(0, np.ceil(np.log2(norm1 / _THETA13))), 0)
    s = s.astype(np.int64)
    x = x / (2.0 ** s)[..., None, None]
    b, eye = _PADE13, np.eye(n)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + \
        b[0] * eye
    r = np.linalg.solve(v - u, v + u) if x.size else v
    for k in range(int(s.max(initial=0))):
        r = np.where((k < s)[..., None, None], r @ r, r)
    r = np.where(finite[..., None, None], r, np.nan)
    return r.astype(np.asarray(a).dtype)


def _frechet_expm(a: Any, e: Any) -> Any:
    """L(A, E): the upper-right block of expm([[A, E], [0, A]])."""
    shape = _shape(a)
    nd, n = len(shape), shape[-1]
    zero = broadcast_in_dim(np.zeros((), aval_of(a).dtype)[()], shape, ())
    block = concatenate([concatenate([a, e], nd - 1), concatenate([zero, a], nd - 1)], nd - 2)
    big = expm_p.bind(block)
    return slice_(big, (0,) * (nd - 1) + (n,), shape, (1,) * nd)


expm_p = _register(
    "expm", _square_rule("expm"), _expm_impl,
    jvp=lambda primals, tangents: (expm_p.bind(primals[0]), _frechet_expm(*primals, *tangents)),
    vjp=lambda cts, ins, outs: [_frechet_expm(mT(ins[0]), cts[0])],
    cases=lambda rng, dt: [((rng.uniform(-1, 1, (3, 3)).astype(dt),), {}),
                           ((rng.uniform(-3, 3, (2, 2, 2)).astype(dt),), {}),
                           ((_general(rng, (0, 0), dt),), {})])


# ---------------------------------------------------------------------------------------------
# sqrtm: the principal square root X (X @ X = A, eigenvalues in the open right half-plane) by
# the Denman-Beavers iteration (Denman & Beavers 1976; Higham 2008, "Functions of Matrices",
# ch. 6), computed in float64. NB: the root is a real matrix only when A has no eigenvalues on
# the closed negative real axis; where the iteration does not converge the result is NaN (scipy
# returns a complex root). Derivative: X dX + dX X = dA, a Sylvester equation (Higham 2008,
# ch. 6), and its adjoint X^T Abar + Abar X^T = Xbar.


def _sqrtm_impl(a: Any) -> np.ndarray:
    y = np.asarray(a, np.float64)
    z = np.broadcast_to(np.eye(y.shape[-1]), y.shape)
    converged = np.ones(y.shape[:-2], bool) if y.size == 0 else np.zeros(y.shape[:-2], bool)
    with np.errstate(all="ignore"):
        for _ in range(100):
            if converged.all():
                break
            try:
                y_inv, z_inv = np.linalg.inv(y), np.linalg.inv(z)
            except np.linalg.LinAlgError:
                break
            y_new, z = 0.5 * (y + z_inv), 0.5 * (z + y_inv)
            step = np.linalg.norm(y_new - y, axis=(-2, -1))
            converged = step <= 1e-14 * np.linalg.norm(y_new, axis=(-2, -1))
            y = y_new
    return np.where(converged[..., None, None], y, np.nan).astype(np.asarray(a).dtype)


def _sqrtm_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    x = sqrtm_p.bind(primals[0])
    return x, sylvester(x, x, tangents[0])


def _sqrtm_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    xt = mT(outs[0])
    return [sylvester(xt, xt, cts[0])]


def _sqrtm_cases(rng: np.random.Generator, dt: Any) -> list:
    # Gershgorin: eigenvalues within 1 of 2, far from the negative real axis.
    return [(((rng.uniform(-0.5, 0.5, shape) + 2.0 * np.eye(shape[-1])).astype(dt),), {})
            for shape in ((3, 3), (2, 2, 2))]


sqrtm_p = _register("sqrtm", _square_rule("sqrtm"), _sqrtm_impl, jvp=_sqrtm_jvp,
                    vjp=_sqrtm_vjp, cases=_sqrtm_cases)
