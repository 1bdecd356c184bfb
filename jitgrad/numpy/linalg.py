"""jitgrad.numpy.linalg: numpy.linalg's functions on traced arrays, batched over leading axes and
differentiable in both modes (plain numpy calls on concrete arrays)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from jitgrad.core import aval_of as _aval_of
from jitgrad.errors import ShapeError, UnsupportedError
from jitgrad.numpy import (
    _array_like,
    _axes,
    _has_tracer,
    _numpy_when_concrete,
    _to_float,
    broadcast_to,
    expand_dims,
    matmul,
    moveaxis,
    multiply,
    not_equal,
    reshape,
    result_type,
    sqrt,
    transpose,
    where,
)
from jitgrad.numpy import abs as _abs
from jitgrad.numpy import astype as _astype
from jitgrad.numpy import cross as _cross
from jitgrad.numpy import diagonal as _diagonal
from jitgrad.numpy import max as _max
from jitgrad.numpy import min as _min
from jitgrad.numpy import outer as _outer
from jitgrad.numpy import power as _power
from jitgrad.numpy import sum as _sum
from jitgrad.numpy import tensordot as _tensordot
from jitgrad.numpy import trace as _trace
from jitgrad.prims import linalg_ops as L

__all__ = ["EighResult", "QRResult", "SVDResult", "SlogdetResult", "LinAlgError", "cholesky",
           "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "lstsq",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm",
           "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot",
           "tensorinv", "tensorsolve", "trace", "vecdot", "vector_norm"]

LinAlgError = np.linalg.LinAlgError


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any  # noqa: N815 - numpy's field names
    R: Any  # noqa: N815


class SVDResult(NamedTuple):
    U: Any  # noqa: N815
    S: Any  # noqa: N815
    Vh: Any  # noqa: N815


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


def _real(name: str, a: Any) -> Any:
    """``a`` as a float array (integers compute in float64; complex arrays are refused; a list
    of traced values is stacked)."""
    a = _array_like(a)
    L.check_real(name, _aval_of(a))
    return _to_float(a)


def _matrix(name: str, a: Any, square: bool = True) -> Any:
    """``a`` as a float matrix stack, checked at trace time."""
    a = _real(f"jnp.linalg.{name}", a)
    check = L.check_square if square else L.check_matrix
    check(f"jnp.linalg.{name}", _aval_of(a))
    return a


def _mT(x: Any) -> Any:  # noqa: N802
    return L.mT(x)


def _symmetrized(a: Any) -> Any:
    return multiply(a + _mT(a), 0.5)


# ---------------------------------------------------------------------------------------------
# Inverses, solves, determinants


@_numpy_when_concrete(np.linalg.inv)
def inv(a: Any) -> Any:
    """``numpy.linalg.inv``, batched. A singular matrix raises ``LinAlgError`` (also under
    ``jit``: the step runs numpy's LAPACK).

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> jg.jit(inv)(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    >>> jg.grad(lambda a: jnp.sum(inv(a)))(np.array([[2.0]]))
    array([[-0.25]])
    """
    return L.inv_p.bind(_matrix("inv", a))


def _rhs_like_numpy(a: Any, b: Any) -> tuple[Any, Any, bool]:
    """numpy 2's solve: b is a vector only when it is 1-D; batch axes broadcast."""
    L.check_real("solve", _aval_of(b))
    dtype = result_type(a, b)
    dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
    a, b = _astype(a, dtype), _astype(b, dtype)
    vector = _aval_of(b).ndim == 1
    if vector:
        b = expand_dims(b, -1)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if sb[-2] != sa[-1]:
        raise ShapeError(f"jnp.linalg.solve: the right-hand side {sb[:-1] if vector else sb} "
                         f"does not fit the matrix {sa}")
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ShapeError(f"jnp.linalg.solve: batch shapes {sa[:-2]} and {sb[:-2]} do not "
                         f"broadcast") from None
    return broadcast_to(a, batch + sa[-2:]), broadcast_to(b, batch + sb[-2:]), vector


@_numpy_when_concrete(np.linalg.solve)
def solve(a: Any, b: Any) -> Any:
    """``numpy.linalg.solve`` (numpy 2 rules: ``b`` is a vector only when 1-D; batch axes
    broadcast). Gradients: Giles 2008.

    >>> import jitgrad as jg
    >>> a, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([9.0, 8.0])
    >>> jg.jit(solve)(a, b)
    array([2., 3.])
    """
    a = _matrix("solve", a)
    a, b, vector = _rhs_like_numpy(a, b)
    x = L.solve(a, b)
    return x[..., 0] if vector else x


@_numpy_when_concrete(np.linalg.det)
def det(a: Any) -> Any:
    """``numpy.linalg.det``, batched; d det = det tr(A^-1 dA) (Giles 2008), so its derivative
    at an exactly singular matrix raises ``LinAlgError``.

    >>> import jitgrad as jg
    >>> jg.grad(det)(np.array([[2.0, 1.0], [1.0, 3.0]]))
    array([[ 3., -1.],
           [-1.,  2.]])
    """
    return L.det_p.bind(_matrix("det", a))


@_numpy_when_concrete(np.linalg.slogdet)
def slogdet(a: Any) -> SlogdetResult:
    """``numpy.linalg.slogdet``: ``(sign, logabsdet)``; the sign has a zero derivative.

    >>> import jitgrad as jg
    >>> jg.grad(lambda a: slogdet(a).logabsdet)(np.array([[2.0, 0.5], [0.0, -4.0]]))
    array([[ 0.5   , -0.    ],
           [ 0.0625, -0.25  ]])
    """
    return SlogdetResult(*L.slogdet_p.bind(_matrix("slogdet", a)))


def _pinv_cutoff(rcond: Any, rtol: Any, shape: tuple[int, ...], dtype: np.dtype) -> float:
    # numpy 2's rules for the default cut-off of small singular values.
    if rcond is not None and rtol is not _NO_VALUE:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    if rcond is not None:
        return rcond
    if rtol is _NO_VALUE:
        return 1e-15
    return max(shape[-2:]) * float(np.finfo(dtype).eps) if rtol is None else rtol


_NO_VALUE = object()


def _pinv_svd(a: Any, rcond: Any) -> Any:
    u, s, vt = svd(a, full_matrices=False)
    cutoff = multiply(rcond, _max(s, axis=-1, keepdims=True))
    large = s > cutoff
    s_inv = where(large, 1 / where(large, s, 1), 0)
    return matmul(_mT(vt), multiply(s_inv[..., None], _mT(u)))


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NO_VALUE) -> Any:
    """``numpy.linalg.pinv`` (through the SVD, numpy's cut-off). Its derivative is Golub &
    Pereyra's (1973, "The differentiation of pseudo-inverses and nonlinear least squares
    problems", Thm. 4.3), valid wherever the rank is locally constant, also at repeated
    singular values (where the SVD's own derivative is not defined).

    >>> import jitgrad as jg
    >>> jg.jit(pinv)(np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
    array([[1. , 0. , 0. ],
           [0. , 0.5, 0. ]])
    """
    if not _has_tracer((a, rcond, rtol)):
        kwargs = {} if rtol is _NO_VALUE else {"rtol": rtol}
        return np.linalg.pinv(a, rcond, hermitian, **kwargs)
    from jitgrad.custom_derivatives import custom_jvp

    a = _matrix("pinv", a, square=False)
    av = _aval_of(a)
    if 0 in av.shape[-2:]:
        return np.zeros(av.shape[:-2] + av.shape[:-3:-1], av.dtype)
    cutoff = _pinv_cutoff(rcond, rtol, av.shape, av.dtype)
    fn = custom_jvp(lambda x: _pinv_svd(x, cutoff))

    @fn.defjvp
    def _(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        p = fn(x)
        # NB: the projections I - A P and I - P A are expanded, so the rule holds no
        # constant matrices.
        tt = _mT(t)
        ptp, pp = matmul(p, _mT(p)), matmul(_mT(p), p)
        dp = (-matmul(matmul(p, t), p) + matmul(ptp, tt) - matmul(matmul(ptp, tt), matmul(x, p))
              + matmul(tt, pp) - matmul(matmul(p, x), matmul(tt, pp)))
        return p, dp

    return fn(a)


def matrix_power(a: Any, n: int) -> Any:
    """``numpy.linalg.matrix_power`` for a Python integer ``n`` (numpy's order of products;
    negative powers invert first).

    >>> import jitgrad as jg
    >>> jg.grad(lambda a: matrix_power(a, 3)[0, 0])(np.array([[1.0, 1.0], [0.0, 1.0]]))
    array([[3., 0.],
           [3., 0.]])
    """
    if not isinstance(n, int | np.integer):
        raise TypeError("exponent must be an integer")
    if not _has_tracer((a,)):
        return np.linalg.matrix_power(a, n)
    L.check_square("jnp.linalg.matrix_power", _aval_of(a))
    if n < 0:
        a, n = inv(a), -n
    if n == 0:
        av = _aval_of(a)
        return broadcast_to(np.eye(av.shape[-1], dtype=av.dtype), av.shape)
    result, z = None, None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """``numpy.linalg.lstsq``: ``(x, residuals, rank, s)`` for a 2-D ``a``, through the
    pseudo-inverse with numpy's default cut-off ``eps * max(M, N)``.

    NB: on traced arrays the residuals are returned whenever M > N, even when the rank is
    deficient (numpy then returns an empty array: the shape cannot depend on traced values).

    >>> import jitgrad as jg
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> jg.jit(lambda a, b: lstsq(a, b)[0])(a, np.array([1.0, 2.0, 4.0]))
    array([0.83333333, 1.5       ])
    """
    if not _has_tracer((a, b, rcond)):
        return np.linalg.lstsq(a, b, rcond=rcond)
    a = _real("jnp.linalg.lstsq", a)
    b = _astype(_real("jnp.linalg.lstsq", b), result_type(a, b))
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if len(sa) != 2 or len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise ShapeError(f"jnp.linalg.lstsq: expected a 2-D matrix and a right-hand side of "
                         f"matching rows, got shapes {sa} and {sb}")
    m, n = sa
    eps = float(np.finfo(_aval_of(a).dtype).eps)
    cutoff = eps * max(m, n) if rcond is None else rcond
    x = matmul(pinv(a, rcond=cutoff), b)
    s = svd(a, compute_uv=False)
    rank = _sum(s > multiply(cutoff, _max(s)), dtype=np.int32) if s.size else \
        np.int32(0)
    if m > n:
        r = b - matmul(a, x)
        resid = _sum(r * r, axis=0, keepdims=len(sb) == 1)
    else:
        resid = np.zeros((0,), _aval_of(a).dtype)
    return x, resid, rank, s


def _chain_order(dims: list[int]) -> list[list[int]]:
    """numpy's dynamic programme for the cheapest parenthesisation of a matrix chain (ties go
    to the first split, as in numpy)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Any:
    """``numpy.linalg.multi_dot``: the chain in its cheapest order (first and last operands
    may be vectors).

    >>> import jitgrad as jg
    >>> mats = [np.ones((2, 3)), np.ones((3, 4)), np.ones(4)]
    >>> jg.jit(multi_dot)(mats)
    array([12., 12.])
    """
    if out is not None:
        raise UnsupportedError("jnp.linalg.multi_dot: out= is not supported")
    if not _has_tracer(tuple(arrays)):
        return np.linalg.multi_dot(arrays)
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    first_vec, last_vec = _aval_of(arrays[0]).ndim == 1, _aval_of(arrays[-1]).ndim == 1
    if first_vec:
        arrays[0] = expand_dims(arrays[0], 0)
    if last_vec:
        arrays[-1] = expand_dims(arrays[-1], 1)
    for x in arrays:
        if _aval_of(x).ndim != 2:
            raise ShapeError(f"jnp.linalg.multi_dot: operands must be 2-D (the first and last "
                             f"may be 1-D), got shapes {[_aval_of(y).shape for y in arrays]}")
    dims = [_aval_of(arrays[0]).shape[0]] + [_aval_of(x).shape[1] for x in arrays]
    split = _chain_order(dims)

    def product(i: int, j: int) -> Any:
        if i == j:
            return arrays[i]
        return matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    res = product(0, len(arrays) - 1)
    if first_vec:
        res = res[0]
    if last_vec:
        res = res[..., 0]
    return res


def tensorinv(a: Any, ind: int = 2) -> Any:
    """``numpy.linalg.tensorinv``: the inverse of ``a`` reshaped to a square matrix.

    >>> import jitgrad as jg
    >>> jg.jit(tensorinv)(np.eye(4).reshape(2, 2, 2, 2)).shape
    (2, 2, 2, 2)
    """
    if not _has_tracer((a,)):
        return np.linalg.tensorinv(a, ind)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    shape = _aval_of(a).shape
    rows = functools.reduce(operator.mul, shape[:ind], 1)
    if rows * rows != _aval_of(a).size:
        raise ShapeError(f"jnp.linalg.tensorinv: shape {shape} with ind={ind} is not square")
    return reshape(inv(reshape(a, (rows, rows))), shape[ind:] + shape[:ind])


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """``numpy.linalg.tensorsolve``: solve ``tensordot(a, x, x.ndim) = b`` for ``x``.

    >>> import jitgrad as jg
    >>> a = np.eye(6).reshape(6, 2, 3)
    >>> jg.jit(tensorsolve)(a, np.arange(6.0)).shape
    (2, 3)
    """
    if not _has_tracer((a, b)):
        return np.linalg.tensorsolve(a, b, axes)
    nd = _aval_of(a).ndim
    if axes is not None:
        order = [k for k in range(nd) if k not in [ax % nd for ax in axes]]
        a = transpose(a, order + [ax % nd for ax in axes])
    shape = _aval_of(a).shape[-(nd - _aval_of(b).ndim):]
    n = functools.reduce(operator.mul, shape, 1)
    if _aval_of(a).size != n * n:
        raise ShapeError(f"jnp.linalg.tensorsolve: a {_aval_of(a).shape} and b "
                         f"{_aval_of(b).shape} do not make a square system")
    return reshape(solve(reshape(a, (n, n)), reshape(b, (n,))), shape)


# ---------------------------------------------------------------------------------------------
# Decompositions


def cholesky(a: Any, /, *, upper: bool = False, symmetrize_input: bool = False) -> Any:
    """``numpy.linalg.cholesky``: lower ``L`` with ``A = L L^T`` (``upper=True``: ``U`` with
    ``A = U^T U``), reading only that triangle of ``A``, as numpy does; a matrix that is not
    positive definite raises ``LinAlgError``. Derivative: Murray 2016.

    Gradient convention: the derivative is exact for the function numpy computes, so the
    gradient of a function of ``cholesky(A)`` lies in the triangle that is read (the other
    triangle never influences the result). ``symmetrize_input=True`` (JAX's default) first
    replaces ``A`` by ``(A + A^T)/2``, so gradients are symmetric, split between the
    triangles. NB: JAX symmetrises by default; we follow numpy's values by default.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> jg.jit(cholesky)(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    >>> f = lambda a: jnp.sum(cholesky(a))
    >>> jg.grad(f)(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[0.1875, 0.    ],
           [0.25  , 0.25  ]])
    >>> jg.grad(lambda a: jnp.sum(cholesky(a, symmetrize_input=True)))(
    ...     np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[0.1875, 0.125 ],
           [0.125 , 0.25  ]])
    """
    if not _has_tracer((a,)):
        return np.linalg.cholesky(_symmetrized(a) if symmetrize_input else a, upper=upper)
    a = _matrix("cholesky", a)
    if symmetrize_input:
        a = _symmetrized(a)
    if upper:
        return _mT(L.cholesky_p.bind(_mT(a)))
    return L.cholesky_p.bind(a)


def _uplo(a: Any, uplo: str, symmetrize_input: bool) -> Any:
    if uplo not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return _symmetrized(a) if symmetrize_input else a


def eigh(a: Any, UPLO: str = "L", *, symmetrize_input: bool = False) -> EighResult:  # noqa: N803
    """``numpy.linalg.eigh``: ``(eigenvalues, eigenvectors)`` of the symmetric matrix read from
    ``A``'s ``UPLO`` triangle; eigenvalues ascending, each eigenvector's sign as LAPACK returns
    it (numpy's conventions). Derivatives (Giles 2008; Seeger et al. 2017) are defined where
    the eigenvalues are distinct; they follow the same triangle convention as ``cholesky``
    (``symmetrize_input=True`` symmetrises first, as JAX).

    >>> import jitgrad as jg
    >>> w, v = jg.jit(eigh)(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    array([1., 3.])
    >>> jg.grad(lambda a: eigh(a).eigenvalues[1])(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([[0.5, 0. ],
           [1. , 0.5]])
    """
    if not _has_tracer((a,)):
        return np.linalg.eigh(_symmetrized(a) if symmetrize_input else a, UPLO)
    a = _uplo(_matrix("eigh", a), UPLO, symmetrize_input)
    return EighResult(*L.eigh_p.bind(a, eigvals_only=False, lower=UPLO == "L"))


def eigvalsh(a: Any, UPLO: str = "L", *, symmetrize_input: bool = False) -> Any:  # noqa: N803
    """``numpy.linalg.eigvalsh``: the eigenvalues of ``eigh``, ascending.

    >>> import jitgrad as jg
    >>> jg.jit(eigvalsh)(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    """
    if not _has_tracer((a,)):
        return np.linalg.eigvalsh(_symmetrized(a) if symmetrize_input else a, UPLO)
    a = _uplo(_matrix("eigvalsh", a), UPLO, symmetrize_input)
    return L.eigh_p.bind(a, eigvals_only=True, lower=UPLO == "L")[0]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
        ) -> Any:
    """``numpy.linalg.svd``: ``(U, S, Vh)`` (or ``S`` alone), singular values descending,
    signs as LAPACK returns them. Derivatives (Townsend 2016) are defined where the singular
    values are distinct and nonzero; with ``full_matrices=True`` (numpy's default) a
    non-square matrix has extra singular vectors that are not unique, and differentiating
    them raises ``UnsupportedError``: use ``full_matrices=False``.

    >>> import jitgrad as jg
    >>> jg.jit(lambda a: svd(a, compute_uv=False))(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array([4., 3.])
    >>> jg.grad(lambda a: svd(a, compute_uv=False)[0])(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array([[ 0.,  0.],
           [ 0., -1.]])
    """
    if not _has_tracer((a,)):
        return np.linalg.svd(a, full_matrices, compute_uv, hermitian)
    if hermitian:
        raise UnsupportedError("jnp.linalg.svd(hermitian=True) on traced arrays: use "
                               "hermitian=False (the same values, through the general SVD)")
    a = _matrix("svd", a, square=False)
    out = L.svd_p.bind(a, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    return SVDResult(*out) if compute_uv else out[0]


def qr(a: Any, mode: str = "reduced") -> Any:
    """``numpy.linalg.qr`` with ``mode`` "reduced", "complete" or "r" (signs as LAPACK's
    Householder QR, like numpy). Derivatives: Walter & Lehmann 2018 (M >= N) and Liao et al.
    2019 (M < N); the extra columns of "complete" for M > N are not unique and have none.

    >>> import jitgrad as jg
    >>> q, r = jg.jit(qr)(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> r
    array([[-5. , -2.2],
           [ 0. ,  0.4]])
    """
    if not _has_tracer((a,)):
        return np.linalg.qr(a, mode)
    if mode not in ("reduced", "complete", "r"):
        raise UnsupportedError(f"jnp.linalg.qr(mode={mode!r}) on traced arrays: use 'reduced', "
                               f"'complete' or 'r'")
    a = _matrix("qr", a, square=False)
    q, r = L.qr_p.bind(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------------------------------------
# Norms


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return sqrt(_sum(x * x, axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == np.inf:
        return _max(_abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _min(_abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return _sum(_astype(not_equal(x, 0), _aval_of(x).dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    # The exponents are 0-d arrays of x's dtype, not Python floats: staged, a Python-float
    # exponent meets an integer 0 in pow's derivative rule.
    p = np.asarray(ord, _aval_of(x).dtype)
    return _power(_sum(_power(_abs(x), p), axis=axis, keepdims=keepdims), 1 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if ord in (2, -2, "nuc"):
        s = svd(moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        out = {2: _max, -2: _min, "nuc": _sum}[ord](s, axis=-1)
    elif ord in (1, -1):
        out = (_max if ord == 1 else _min)(_sum(_abs(x), axis=row), axis=col - (col > row))
    elif ord in (np.inf, -np.inf):
        out = (_max if ord > 0 else _min)(_sum(_abs(x), axis=col), axis=row - (row > col))
    elif ord in (None, "fro"):
        out = sqrt(_sum(x * x, axis=axes))
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = list(_aval_of(x).shape)
        shape[row] = shape[col] = 1
        out = reshape(out, tuple(shape))
    return out


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """``numpy.linalg.norm``: every vector ``ord`` (p-norms, 0, ±inf) over one axis, every
    matrix ``ord`` (``"fro"``, ``"nuc"``, ±1, ±2, ±inf; the 2-norms and nuclear norm through
    the SVD) over two.

    >>> import jitgrad as jg
    >>> jg.grad(norm)(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    >>> jg.jit(lambda a: norm(a, "nuc"))(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array(7.)
    """
    if not _has_tracer((x, ord, axis)):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    x = _real("jnp.linalg.norm", x)
    nd = _aval_of(x).ndim
    if axis is None:
        if ord is None:
            out = sqrt(_sum(x * x))
            return reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(nd))
    if isinstance(axis, int | np.integer):
        axis = (int(axis),)
    axes = tuple(int(a) % nd if -nd <= a < nd else _axes(a, nd, "norm")[0] for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("Duplicate axes given.")
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """``numpy.linalg.vector_norm``: a vector norm over ``axis`` (all axes when None, any
    tuple of axes flattened together).

    >>> import jitgrad as jg
    >>> jg.jit(lambda x: vector_norm(x, ord=1))(np.array([[1.0, -2.0], [3.0, -4.0]]))
    array(10.)
    """
    if not _has_tracer((x,)):
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    x = _real("jnp.linalg.vector_norm", x)
    shape = _aval_of(x).shape
    axes = _axes(axis, len(shape), "vector_norm")
    rest = [i for i in range(len(shape)) if i not in axes]
    flat = reshape(transpose(x, rest + list(axes)),
                   tuple(shape[i] for i in rest) + (int(np.prod([shape[i] for i in axes])),))
    out = _vector_norm(flat, ord, (len(rest),), False)
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))
    return out


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """``numpy.linalg.matrix_norm``: a matrix norm over the last two axes.

    >>> import jitgrad as jg
    >>> jg.jit(lambda x: matrix_norm(x, ord=2))(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array(4.)
    """
    if not _has_tracer((x,)):
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    x = _matrix("matrix_norm", x, square=False)
    nd = _aval_of(x).ndim
    return _matrix_norm(x, ord, (nd - 2, nd - 1), keepdims)


def svdvals(x: Any, /) -> Any:
    """``numpy.linalg.svdvals``: the singular values, largest first.

    >>> svdvals(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array([4., 3.])
    """
    return svd(x, compute_uv=False)


def cond(x: Any, p: Any = None) -> Any:
    """``numpy.linalg.cond``: the condition number in the norm ``p`` (None and ±2: ratio
    of extreme singular values; else ``norm(x, p) * norm(inv(x), p)``).

    >>> import jitgrad as jg
    >>> jg.jit(cond)(np.array([[2.0, 0.0], [0.0, 0.5]]))
    array(4.)
    """
    if not _has_tracer((x,)):
        return np.linalg.cond(x, p)
    x = _real("jnp.linalg.cond", x)
    if p is None or p in (2, -2):
        s = svd(x, compute_uv=False)
        big, small = s[..., 0], s[..., -1]
        return small / big if p == -2 else big / small
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *,  # noqa: N803
                rtol: Any = None) -> Any:
    """``numpy.linalg.matrix_rank``: the number of singular values above ``tol`` (default
    ``max(s) * max(M, N) * eps``, or ``rtol * max(s)``); an integer, not differentiable.

    >>> import jitgrad as jg
    >>> jg.jit(matrix_rank)(np.array([[1.0, 2.0], [2.0, 4.0]]))
    array(1)
    """
    if not _has_tracer((A, tol, rtol)):
        return np.linalg.matrix_rank(A, tol, hermitian, rtol=rtol)
    A = _real("jnp.linalg.matrix_rank", A)
    shape = _aval_of(A).shape
    if len(shape) < 2:
        return (not_equal(A, 0).any()).astype(np.int64)
    s = svd(A, compute_uv=False)
    top = _max(s, axis=-1, keepdims=True)
    if tol is None:
        scale = max(shape[-2:]) * np.finfo(_aval_of(s).dtype).eps if rtol is None else rtol
        tol = top * scale
    elif _aval_of(tol).ndim:
        tol = expand_dims(tol, -1)
    return _sum(s > tol, axis=-1).astype(np.int64)


def matrix_transpose(x: Any, /) -> Any:
    """``numpy.linalg.matrix_transpose``: the last two axes swapped.

    >>> matrix_transpose(np.ones((2, 3))).shape
    (3, 2)
    """
    return _mT(x)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """``numpy.linalg.diagonal``: the diagonals of the last two axes.

    >>> diagonal(np.arange(4.0).reshape(2, 2))
    array([0., 3.])
    """
    return _diagonal(x, offset, axis1=-2, axis2=-1)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """``numpy.linalg.trace``: the sums of the diagonals of the last two axes.

    >>> trace(np.arange(4.0).reshape(2, 2))
    np.float64(3.0)
    """
    return _trace(x, offset, axis1=-2, axis2=-1, dtype=dtype)


def outer(x1: Any, x2: Any, /) -> Any:
    """``numpy.linalg.outer``: the outer product of two vectors.

    >>> outer(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([[3., 4.],
           [6., 8.]])
    """
    if _aval_of(x1).ndim != 1 or _aval_of(x2).ndim != 1:
        raise ValueError("Input arrays must be one-dimensional")
    return _outer(x1, x2)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``numpy.linalg.cross``: the cross product of 3-vectors along ``axis``.

    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    if _aval_of(x1).shape[axis] != 3 or _aval_of(x2).shape[axis] != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors")
    return _cross(x1, x2, axis=axis)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """``numpy.linalg.tensordot``.

    >>> tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=1)
    array([[3., 3.],
           [3., 3.]])
    """
    return _tensordot(x1, x2, axes=axes)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``numpy.linalg.vecdot``: dot products of (real) vectors along ``axis``, broadcasting.

    >>> vecdot(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))
    array([3., 7.])
    """
    return _sum(multiply(x1, x2), axis=axis)


def __getattr__(name: str) -> Any:
    if hasattr(np.linalg, name):
        raise AttributeError(f"jitgrad.numpy.linalg does not provide numpy.linalg.{name} (yet)")
    raise AttributeError(f"module 'jitgrad.numpy.linalg' has no attribute {name!r}")

