"""jitgrad.scipy.linalg: scipy.linalg's solves and decompositions, differentiable in both modes,
batched over leading axes, on traced or concrete arrays (without importing scipy)."""

from __future__ import annotations

from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.core import aval_of as _aval_of
from jitgrad.errors import ShapeError, UnsupportedError
from jitgrad.numpy import linalg as _nl
from jitgrad.prims import linalg_ops as L

__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv",
           "lu", "lu_factor", "lu_solve", "qr", "solve", "solve_banded", "solve_sylvester",
           "solve_triangular", "sqrtm", "svd", "toeplitz"]


def _matrix(name: str, a: Any, square: bool = True) -> Any:
    a = _nl._real(f"jitgrad.scipy.linalg.{name}", a)
    (L.check_square if square else L.check_matrix)(f"jitgrad.scipy.linalg.{name}", _aval_of(a))
    return a


def _with_rhs(name: str, a: Any, b: Any) -> tuple[Any, Any, bool]:
    """``a`` as a float square matrix stack and ``b`` as its right-hand sides: a 1-D ``b`` is
    one vector (for every matrix of a batch); otherwise batch axes broadcast."""
    a = _matrix(name, a)
    try:
        return _nl._rhs_like_numpy(a, b)
    except ShapeError:
        raise ShapeError(f"jitgrad.scipy.linalg.{name}: the right-hand side "
                         f"{_aval_of(b).shape} does not fit the matrix {_aval_of(a).shape}"
                         ) from None


def _transposed(trans: Any) -> bool:
    if trans in (0, "N"):
        return False
    if trans in (1, 2, "T", "C"):  # real arrays: the conjugate transpose is the transpose
        return True
    raise ValueError(f"trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")


def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True) -> Any:
    """``scipy.linalg.solve_triangular``: solve ``op(T) x = b`` reading only the ``lower``
    (or upper) triangle of ``a`` (its diagonal taken as ones when ``unit_diagonal``).

    >>> import jitgrad as jg
    >>> a = np.array([[2.0, 0.0], [1.0, 4.0]])
    >>> jg.jit(lambda a, b: solve_triangular(a, b, lower=True))(a, np.array([2.0, 9.0]))
    array([1., 2.])
    """
    a, b, vector = _with_rhs("solve_triangular", a, b)
    x = L.triangular_solve(a, b, lower, _transposed(trans), unit_diagonal)
    return x[..., 0] if vector else x


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True
             ) -> Any:
    """``scipy.linalg.cholesky``: upper ``U`` with ``A = U^T U`` (``lower=True``: lower ``L``
    with ``A = L L^T``), reading only that triangle of ``A``; gradients follow the triangle
    convention of ``jitgrad.numpy.linalg.cholesky``.

    >>> import jitgrad as jg
    >>> jg.jit(cholesky)(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    a = _matrix("cholesky", a)
    return L.cholesky_p.bind(a) if lower else L.mT(L.cholesky_p.bind(L.mT(a)))


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """``scipy.linalg.cho_factor``: ``(c, lower)``, the factor in one triangle of ``c`` and
    ``a``'s own entries in the other (as scipy leaves them), for ``cho_solve``.

    >>> import jitgrad as jg
    >>> jg.jit(lambda a: cho_factor(a)[0])(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [2., 2.]])
    """
    a = _matrix("cho_factor", a)
    c = cholesky(a, lower)
    return c + (L.triu(a, 1) if lower else L.tril(a, -1)), lower


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """``scipy.linalg.cho_solve``: solve ``A x = b`` from ``cho_factor``'s ``(c, lower)``
    (two triangular solves).

    >>> import jitgrad as jg
    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> jg.jit(lambda a, b: cho_solve(cho_factor(a), b))(a, np.array([8.0, 12.0]))
    array([1., 2.])
    """
    c, lower = c_and_lower
    c, b, vector = _with_rhs("cho_solve", c, b)
    y = L.triangular_solve(c, b, lower, transpose_a=not lower)
    x = L.triangular_solve(c, y, lower, transpose_a=lower)
    return x[..., 0] if vector else x


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True
              ) -> tuple[Any, Any]:
    """``scipy.linalg.lu_factor``: ``(lu, piv)``, L (unit diagonal) and U packed in ``lu``,
    row ``i`` interchanged with row ``piv[i]`` (int32, 0-based), as LAPACK's getrf.

    >>> import jitgrad as jg
    >>> lu, piv = jg.jit(lu_factor)(np.array([[1.0, 2.0], [4.0, 4.0]]))
    >>> lu, piv
    (array([[4.  , 4.  ],
           [0.25, 1.  ]]), array([1, 1], dtype=int32))
    """
    lu, piv, _ = L.lu_p.bind(_matrix("lu_factor", a))
    return lu, piv


def _permutation(piv: Any) -> Any:
    """The row order ``perm`` (``A[perm] = L U``) that LAPACK's interchanges ``piv`` make."""
    n = _aval_of(piv).shape[-1]
    idx = np.arange(n, dtype=_aval_of(piv).dtype)
    perm = jnp.broadcast_to(idx, _aval_of(piv).shape)
    for k in range(n):
        p = piv[..., k:k + 1]
        hit = jnp.equal(idx, p)
        at_p = jnp.sum(jnp.where(hit, perm, 0), axis=-1, keepdims=True, dtype=idx.dtype)
        perm = jnp.where(idx == k, at_p, jnp.where(hit, perm[..., k:k + 1], perm))
    return perm


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: Any = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """``scipy.linalg.lu_solve``: solve ``op(A) x = b`` from ``lu_factor``'s ``(lu, piv)``.

    >>> import jitgrad as jg
    >>> a = np.array([[1.0, 2.0], [4.0, 4.0]])
    >>> jg.jit(lambda a, b: lu_solve(lu_factor(a), b))(a, np.array([5.0, 12.0]))
    array([1., 2.])
    """
    lu, piv = lu_and_piv
    lu, b, vector = _with_rhs("lu_solve", lu, b)
    p = L.permutation_matrix(_permutation(piv), _aval_of(lu).dtype)
    if _transposed(trans):  # A^T = U^T L^T P
        y = L.triangular_solve(lu, b, lower=False, transpose_a=True)
        y = L.triangular_solve(lu, y, lower=True, transpose_a=True, unit_diagonal=True)
        x = L.matmul(p, y, transpose_a=True)
    else:
        y = L.triangular_solve(lu, L.matmul(p, b), lower=True, unit_diagonal=True)
        x = L.triangular_solve(lu, y, lower=False)
    return x[..., 0] if vector else x


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True, *, assume_a: Any = None,
        lower: bool = False) -> Any:
    """``scipy.linalg.inv`` (general matrices; a singular one raises ``LinAlgError``).

    >>> import jitgrad as jg
    >>> jg.jit(inv)(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    if assume_a not in (None, "general", "gen"):
        raise UnsupportedError(f"jitgrad.scipy.linalg.inv(assume_a={assume_a!r}): only general "
                               f"matrices (assume_a=None)")
    return L.inv_p.bind(_matrix("inv", a))


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """``scipy.linalg.det``, batched (numpy's LAPACK; see ``jitgrad.numpy.linalg.det``).

    >>> import jitgrad as jg
    >>> jg.grad(det)(np.array([[2.0, 1.0], [1.0, 3.0]]))
    array([[ 3., -1.],
           [-1.,  2.]])
    """
    return L.det_p.bind(_matrix("det", a))


def eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,  # noqa: A002
         check_finite: bool = True, subset_by_index: Any = None, subset_by_value: Any = None,
         driver: Any = None) -> Any:
    """``scipy.linalg.eigh``: eigenvalues (ascending) and eigenvectors of the symmetric matrix
    read from the ``lower`` (or upper) triangle of ``a``; with ``b`` (symmetric positive
    definite, same triangle) the generalized problem ``a v = w b v``, reduced through
    ``b``'s Cholesky factor as LAPACK's sygv does (``v^T b v = I``).

    >>> import jitgrad as jg
    >>> jg.jit(lambda a: eigh(a, eigvals_only=True))(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    >>> jg.jit(lambda a, b: eigh(a, b, eigvals_only=True))(np.eye(2), 2.0 * np.eye(2))
    array([0.5, 0.5])
    """
    if type != 1 or subset_by_index is not None or subset_by_value is not None:
        raise UnsupportedError("jitgrad.scipy.linalg.eigh: only type=1, all eigenvalues")
    a = _matrix("eigh", a)
    if b is not None:
        b = _matrix("eigh", jnp.astype(b, jnp.result_type(a, b)))
        a = jnp.astype(a, _aval_of(b).dtype)
        chol = L.cholesky_p.bind(b if lower else L.mT(b))
        half = L.triangular_solve(chol, L.sym_from_lower(a, lower), lower=True)  # L^-1 A
        a = L.mT(L.triangular_solve(chol, L.mT(half), lower=True))  # L^-1 A L^-T
    out = L.eigh_p.bind(a, eigvals_only=eigvals_only, lower=lower or b is not None)
    if eigvals_only:
        return out[0]
    w, v = out
    if b is not None:
        v = L.triangular_solve(chol, v, lower=True, transpose_a=True)  # L^-T y
    return w, v


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:
    """``scipy.linalg.svd``: ``(U, s, Vh)`` or ``s`` (see ``jitgrad.numpy.linalg.svd`` for the
    derivatives and ``full_matrices``).

    >>> import jitgrad as jg
    >>> jg.jit(lambda a: svd(a, compute_uv=False))(np.array([[3.0, 0.0], [0.0, -4.0]]))
    array([4., 3.])
    """
    a = _matrix("svd", a, square=False)
    out = L.svd_p.bind(a, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    return tuple(out) if compute_uv else out[0]


def expm(A: Any) -> Any:  # noqa: N803 - scipy's name
    """``scipy.linalg.expm``: the matrix exponential (Pade 13 with scaling and squaring,
    Higham 2005), batched; its derivative is the exact Frechet derivative.

    >>> import jitgrad as jg
    >>> jg.jit(expm)(np.array([[0.0, 1.0], [0.0, 0.0]]))
    array([[1., 1.],
           [0., 1.]])
    """
    return L.expm_p.bind(_matrix("expm", A))


def sqrtm(A: Any, disp: Any = True, blocksize: Any = 64) -> Any:  # noqa: N803
    """``scipy.linalg.sqrtm``: the principal square root of a matrix without eigenvalues on the
    closed negative real axis (Denman-Beavers iteration). NB: where no real principal root
    exists, the result is NaN (scipy returns a complex matrix).

    >>> import jitgrad as jg
    >>> jg.jit(sqrtm)(np.array([[4.0, 0.0], [0.0, 9.0]]))
    array([[2., 0.],
           [0., 3.]])
    """
    return L.sqrtm_p.bind(_matrix("sqrtm", A))


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """``scipy.linalg.solve_sylvester``: ``X`` with ``a X + X b = q`` (through the Kronecker
    form: NB, O((mn)^3) work, meant for small matrices).

    >>> import jitgrad as jg
    >>> jg.jit(solve_sylvester)(np.eye(2), np.eye(2), np.array([[2.0, 4.0], [6.0, 8.0]]))
    array([[1., 2.],
           [3., 4.]])
    """
    a, b, q = (_nl._real("jitgrad.scipy.linalg.solve_sylvester", x) for x in (a, b, q))
    dtype = jnp.result_type(a, b, q)
    dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
    a, b, q = (jnp.astype(x, dtype) for x in (a, b, q))
    for x in (a, b):
        L.check_square("jitgrad.scipy.linalg.solve_sylvester", _aval_of(x))
    sa, sb, sq = (_aval_of(x).shape for x in (a, b, q))
    if len(sq) != len(sa) or sq[-2:] != (sa[-1], sb[-1]) or not sa[:-2] == sb[:-2] == sq[:-2]:
        raise ShapeError(f"jitgrad.scipy.linalg.solve_sylvester: shapes {sa}, {sb}, {sq} do "
                         f"not fit a (m, m), b (n, n), q (m, n)")
    return L.sylvester(a, b, q)


def solve_banded(l_and_u: tuple[int, int], ab: Any, b: Any, overwrite_ab: bool = False,
                 overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """``scipy.linalg.solve_banded``: solve ``A x = b`` for the banded ``A`` stored in ``ab``
    (``A[i, j] = ab[u + i - j, j]``). NB: the band is expanded to a dense matrix and solved
    by LU (O(n^3), not O(n (l + u)^2)).

    >>> import jitgrad as jg
    >>> ab = np.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0], [1.0, 1.0, 0.0]])
    >>> jg.jit(lambda ab, b: solve_banded((1, 1), ab, b))(ab, np.array([5.0, 6.0, 5.0]))
    array([1., 1., 1.])
    """
    lo, up = (int(x) for x in l_and_u)
    ab = _nl._real("jitgrad.scipy.linalg.solve_banded", ab)
    shape = _aval_of(ab).shape
    if len(shape) != 2 or shape[0] != lo + up + 1:
        raise ShapeError(f"jitgrad.scipy.linalg.solve_banded: ab of shape {shape} does not "
                         f"hold {lo} + {up} + 1 diagonals")
    n = shape[1]
    rows, cols = np.indices((n, n))
    dense = None
    for k in range(lo + up + 1):  # row k of ab holds the diagonal j - i = u - k
        term = jnp.where(up + rows - cols == k, jnp.broadcast_to(ab[k], (n, n)), 0.0)
        dense = term if dense is None else dense + term
    return _nl.solve(dense, b)


def block_diag(*arrs: Any) -> Any:
    """``scipy.linalg.block_diag``: the arrays (0-D and 1-D ones as rows) on the diagonal of
    one matrix.

    >>> import jitgrad as jg
    >>> jg.jit(lambda a, b: block_diag(a, b))(np.ones((1, 2)), np.array([[2.0], [3.0]]))
    array([[1., 1., 0.],
           [0., 0., 2.],
           [0., 0., 3.]])
    """
    if not arrs:
        return np.zeros((1, 0))
    blocks = [x if _aval_of(x).ndim == 2 else jnp.reshape(x, (1, -1)) for x in arrs]
    for x, y in zip(arrs, blocks, strict=True):
        if _aval_of(x).ndim > 2:
            raise ShapeError(f"jitgrad.scipy.linalg.block_diag: arguments must have at most 2 "
                             f"dimensions, got shape {_aval_of(y).shape}")
    dtype = jnp.result_type(*blocks)
    widths = [_aval_of(x).shape[1] for x in blocks]
    total = sum(widths)
    rows: list[Any] = []
    before = 0
    for x, w in zip(blocks, widths, strict=True):
        h = _aval_of(x).shape[0]
        rows.append(jnp.concatenate([np.zeros((h, before), dtype), jnp.astype(x, dtype),
                                     np.zeros((h, total - before - w), dtype)], axis=1))
        before += w
    return jnp.concatenate(rows, axis=0)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, check_finite: bool = True, assume_a: str = "gen") -> Any:
    """``scipy.linalg.solve``: ``x`` with ``a x = b`` (``b`` a vector or a matrix of right-hand
    sides); ``assume_a='pos'`` solves by Cholesky (of the ``lower`` or upper triangle), the
    other kinds ('gen', 'sym', 'her') by LU.

    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> solve(a, np.array([8.0, 12.0])), solve(a, np.array([8.0, 12.0]), assume_a="pos")
    (array([1., 2.]), array([1., 2.]))
    """
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: assume_a must be 'gen', 'sym', 'her' or 'pos', got "
                         f"{assume_a!r}")
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower), b)
    a, b, vector = _with_rhs("solve", a, b)
    x = _nl.solve(a, b)
    return x[..., 0] if vector else x


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True
       ) -> tuple[Any, ...]:
    """``scipy.linalg.lu`` of a square matrix (stack): ``(p, l, u)`` with ``a = p @ l @ u``
    (``p`` a permutation matrix, ``l`` unit lower triangular); ``permute_l`` gives
    ``(p @ l, u)``.

    >>> p, l, u = lu(np.array([[1.0, 2.0], [4.0, 4.0]]))
    >>> p, l, u
    (array([[0., 1.],
           [1., 0.]]), array([[1.  , 0.  ],
           [0.25, 1.  ]]), array([[4., 4.],
           [0., 1.]]))
    """
    packed, piv = lu_factor(a)
    n = _aval_of(packed).shape[-1]
    eye = np.eye(n, dtype=_aval_of(packed).dtype)
    lower = jnp.tril(packed, -1) + eye
    upper = jnp.triu(packed)
    # a[perm] = l @ u, so a = p @ l @ u with p[perm[i], i] = 1
    p = jnp.astype(jnp.equal(jnp.expand_dims(_permutation(piv), -1),
                             np.arange(n)), _aval_of(packed).dtype)
    p = jnp.swapaxes(p, -1, -2)
    return (p @ lower, upper) if permute_l else (p, lower, upper)


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> tuple[Any, ...]:
    """``scipy.linalg.qr``: ``(q, r)`` with ``mode`` 'full' (``q`` square) or 'economic'
    (``q`` with ``min(m, n)`` columns), or ``(r,)`` with ``mode='r'`` (``r`` of ``a``'s
    shape, as 'full' makes it).

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]]), np.allclose(q.T @ q, np.eye(2))
    (True, True)
    """
    if pivoting:
        raise UnsupportedError("jitgrad.scipy.linalg.qr: pivoting=True is not supported")
    modes = {"full": "complete", "economic": "reduced", "r": "r"}
    if mode not in modes:
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r}")
    a = _matrix("qr", a, square=False)
    out = _nl.qr(a, modes[mode])
    if mode != "r":
        return tuple(out)
    # scipy's r has a's shape (numpy's min(m, n) rows): zero rows below
    m, n = _aval_of(a).shape[-2:]
    pads = [(0, 0)] * (_aval_of(a).ndim - 2) + [(0, m - min(m, n)), (0, 0)]
    return (jnp.pad(out, pads),)


def toeplitz(c: Any, r: Any = None) -> Any:
    """``scipy.linalg.toeplitz``: the matrix with first column ``c`` and first row ``r``
    (``c`` when not given; ``r[0]`` is not used), constant along its diagonals; leading axes
    of ``c`` and ``r`` are batch axes, as in JAX.

    >>> toeplitz(np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0]))
    array([[1., 5.],
           [2., 1.],
           [3., 2.]])
    """
    c = jnp.asarray(c)
    r = c if r is None else jnp.asarray(r)
    m, n = _aval_of(c).shape[-1], _aval_of(r).shape[-1]
    values = jnp.concatenate([jnp.flip(r[..., 1:], -1), c], axis=-1)
    # entry (i, j) is c[i - j] below the diagonal and r[j - i] above it
    index = (n - 1) + np.arange(m)[:, None] - np.arange(n)[None, :]
    return values[..., index]
