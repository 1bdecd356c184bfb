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

__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "circulant", "companion", "det",
           "eigh", "expm", "expm_frechet", "fiedler", "hadamard", "hankel", "helmert", "hilbert",
           "inv", "leslie", "lu", "lu_factor", "lu_solve", "pascal", "polar", "qr", "solve",
           "solve_banded", "solve_sylvester", "solve_triangular", "sqrtm", "svd", "toeplitz"]


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
          overwrite_b: bool = False, check_finite: bool = True, assume_a: Any = None,
          transposed: bool = False) -> Any:
    """``scipy.linalg.solve``: ``x`` with ``a x = b`` (``a.T x = b`` when ``transposed``).
    ``assume_a``: None/"general" (LU), "symmetric" (only the ``lower`` or upper triangle is
    read), "positive definite" (Cholesky of that triangle), "lower triangular", "upper
    triangular", "diagonal", or LAPACK's short names ("gen", "sym", "her", "pos").

    >>> import jitgrad as jg
    >>> a = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> jg.jit(lambda a, b: solve(a, b, assume_a="pos"))(a, np.array([5.0, 4.0]))
    array([1., 1.])
    """
    kind = {None: "gen", "general": "gen", "gen": "gen", "symmetric": "sym", "sym": "sym",
            "hermitian": "sym", "her": "sym", "positive definite": "pos", "pos": "pos",
            "lower triangular": "lower", "upper triangular": "upper",
            "diagonal": "diagonal"}.get(assume_a)
    if kind is None:
        raise UnsupportedError(f"jitgrad.scipy.linalg.solve(assume_a={assume_a!r}): use None, "
                               f"'general', 'symmetric', 'positive definite', 'lower "
                               f"triangular', 'upper triangular' or 'diagonal'")
    a = _matrix("solve", a)
    if kind in ("lower", "upper"):
        return solve_triangular(a, b, trans=int(transposed), lower=kind == "lower")
    if kind == "diagonal":
        a, b, vector = _with_rhs("solve", a, b)
        x = b / jnp.diagonal(a, axis1=-2, axis2=-1)[..., :, None]
        return x[..., 0] if vector else x
    if kind in ("sym", "pos"):  # the triangle read, mirrored (a symmetric a: its transpose)
        tri = jnp.tril(a) if lower else jnp.triu(a)
        a = tri + jnp.swapaxes(jnp.tril(a, -1) if lower else jnp.triu(a, 1), -1, -2)
        if kind == "pos":
            return cho_solve(cho_factor(a, lower=lower), b)
    elif transposed:
        a = jnp.swapaxes(a, -1, -2)
    a, b, vector = _with_rhs("solve", a, b)
    x = _nl.solve(a, b)
    return x[..., 0] if vector else x


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> Any:
    """``scipy.linalg.qr``: ``(q, r)`` with ``mode`` "full" (q square) or "economic", or
    ``(r,)`` for "r" (scipy's tuple, r of the full mode's shape); column pivoting is not
    provided.

    >>> import jitgrad as jg
    >>> q, r = jg.jit(lambda a: qr(a, mode="economic"))(np.array([[3.0], [4.0]]))
    >>> q.shape, r
    ((2, 1), array([[-5.]]))
    """
    if pivoting:
        raise UnsupportedError("jitgrad.scipy.linalg.qr(pivoting=True): column pivoting is "
                               "not provided")
    modes = {"full": "complete", "economic": "reduced", "r": "reduced"}
    if mode not in modes:
        raise UnsupportedError(f"jitgrad.scipy.linalg.qr(mode={mode!r}): use 'full', "
                               f"'economic' or 'r'")
    out = tuple(_nl.qr(a, modes[mode]))
    if mode != "r":
        return out
    # scipy's R has the full mode's m rows: the reduced one's, then zeros (unique, so
    # differentiable where the full mode's extra columns of Q are not)
    r = out[1]
    m, k = _aval_of(a).shape[-2], _aval_of(r).shape[-2]
    pad = jnp.zeros(_aval_of(r).shape[:-2] + (m - k, _aval_of(r).shape[-1]), _aval_of(r).dtype)
    return (jnp.concatenate([r, pad], axis=-2),)


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True,
       p_indices: bool = False) -> Any:
    """``scipy.linalg.lu`` of a square matrix: ``(p, l, u)`` with ``a = p @ l @ u`` (``p``
    a permutation matrix, or with ``p_indices`` the rows: ``a = l[p] @ u``), ``(p @ l, u)``
    with ``permute_l``. Differentiable in ``l`` and ``u`` (the derivative of lu_factor).

    >>> import jitgrad as jg
    >>> p, l, u = jg.jit(lu)(np.array([[1.0, 2.0], [4.0, 4.0]]))
    >>> p @ l @ u
    array([[1., 2.],
           [4., 4.]])
    """
    packed, piv = lu_factor(a)
    n = _aval_of(packed).shape[-1]
    eye = np.eye(n, dtype=_aval_of(packed).dtype)
    low, up = jnp.tril(packed, -1) + eye, jnp.triu(packed)
    perm = _permutation(piv)  # a[perm] = l @ u
    p = jnp.swapaxes(L.permutation_matrix(perm, _aval_of(packed).dtype), -1, -2)
    if permute_l:
        return jnp.matmul(p, low), up
    if p_indices:
        return jnp.argsort(perm, axis=-1).astype(_aval_of(piv).dtype), low, up
    return p, low, up


def toeplitz(c: Any, r: Any = None) -> Any:
    """``scipy.linalg.toeplitz``: first column ``c``, first row ``r`` (default ``c``; its
    first entry is ignored).

    >>> toeplitz(np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0]))
    array([[1., 4.],
           [2., 1.],
           [3., 2.]])
    """
    c = jnp.ravel(c)
    r = c if r is None else jnp.ravel(r)
    m, n = _aval_of(c).shape[0], _aval_of(r).shape[0]
    values = jnp.concatenate([jnp.flip(r[1:]), c])  # r[n-1] ... r[1], c[0] ... c[m-1]
    return values[np.arange(m)[:, None] - np.arange(n)[None, :] + n - 1]


def hankel(c: Any, r: Any = None) -> Any:
    """``scipy.linalg.hankel``: first column ``c``, last row ``r`` (default zeros; its first
    entry is ignored).

    >>> hankel(np.array([1.0, 2.0, 3.0]))
    array([[1., 2., 3.],
           [2., 3., 0.],
           [3., 0., 0.]])
    """
    c = jnp.ravel(c)
    r = jnp.zeros_like(c) if r is None else jnp.ravel(r)
    m, n = _aval_of(c).shape[0], _aval_of(r).shape[0]
    values = jnp.concatenate([c, r[1:]])
    return values[np.arange(m)[:, None] + np.arange(n)[None, :]]


def circulant(c: Any) -> Any:
    """``scipy.linalg.circulant``: the matrix whose first column is ``c``, each column the
    previous one rotated down by one.

    >>> circulant(np.array([1.0, 2.0, 3.0]))
    array([[1., 3., 2.],
           [2., 1., 3.],
           [3., 2., 1.]])
    """
    c = jnp.ravel(c)
    n = _aval_of(c).shape[0]
    return c[(np.arange(n)[:, None] - np.arange(n)[None, :]) % max(n, 1)]


def expm_frechet(A: Any, E: Any, method: Any = None, compute_expm: bool = True,  # noqa: N803
                 check_finite: bool = True) -> Any:
    """``scipy.linalg.expm_frechet``: the Frechet derivative of the matrix exponential at
    ``A`` in the direction ``E`` (with ``expm(A)`` first, by default): the upper right block
    of ``expm([[A, E], [0, A]])`` (Higham, Functions of Matrices, SIAM 2008, Theorem 3.6).

    >>> import jitgrad as jg
    >>> jg.jit(expm_frechet)(np.zeros((1, 1)), np.ones((1, 1)))
    (array([[1.]]), array([[1.]]))
    """
    A, E = _matrix("expm_frechet", A), _matrix("expm_frechet", E)
    n = _aval_of(A).shape[-1]
    if _aval_of(E).shape[-2:] != (n, n):
        raise ShapeError(f"jitgrad.scipy.linalg.expm_frechet: A {_aval_of(A).shape} and E "
                         f"{_aval_of(E).shape} must be matrices of one size")
    dtype = jnp.result_type(A, E)
    A, E = jnp.astype(A, dtype), jnp.astype(E, dtype)
    zeros = jnp.zeros_like(A)
    big = jnp.concatenate([jnp.concatenate([A, E], axis=-1),
                           jnp.concatenate([zeros, A], axis=-1)], axis=-2)
    out = expm(big)
    frechet = out[..., :n, n:]
    return (out[..., :n, :n], frechet) if compute_expm else frechet


def polar(a: Any, side: str = "right") -> tuple[Any, Any]:
    """``scipy.linalg.polar``: ``(u, p)`` with ``a = u @ p`` (``side="right"``) or ``a = p @
    u`` ("left"), ``u`` with orthonormal columns (or rows) and ``p`` symmetric positive
    semi-definite, from the SVD.

    >>> import jitgrad as jg
    >>> u, p = jg.jit(polar)(np.array([[2.0, 0.0], [0.0, -3.0]]))
    >>> u, p
    (array([[ 1.,  0.],
           [ 0., -1.]]), array([[2., 0.],
           [0., 3.]]))
    """
    if side not in ("right", "left"):
        raise ValueError(f"polar: side must be 'right' or 'left', got {side!r}")
    w, s, vh = _nl.svd(_matrix("polar", a, square=False), full_matrices=False)
    u = jnp.matmul(w, vh)
    if side == "right":
        p = jnp.matmul(jnp.swapaxes(vh, -1, -2) * s[..., None, :], vh)
    else:
        p = jnp.matmul(w * s[..., None, :], jnp.swapaxes(w, -1, -2))
    return u, p


def hilbert(n: int) -> np.ndarray:
    """``scipy.linalg.hilbert``: ``1 / (i + j + 1)``.

    >>> hilbert(2)
    array([[1.        , 0.5       ],
           [0.5       , 0.33333333]])
    """
    i = np.arange(n)
    return 1.0 / (i[:, None] + i[None, :] + 1.0)


def companion(a: Any) -> Any:
    """``scipy.linalg.companion``: the companion matrix of the polynomial with coefficients
    ``a`` (highest power first): first row ``-a[1:] / a[0]``, ones below the diagonal.

    >>> companion(np.array([1.0, -3.0, 2.0]))
    array([[ 3., -2.],
           [ 1.,  0.]])
    """
    a = jnp.ravel(a)
    n = _aval_of(a).shape[0]
    if n < 2:
        raise ShapeError("jitgrad.scipy.linalg.companion: at least two coefficients")
    first = -a[1:] / a[0]
    below = np.eye(n - 2, n - 1, dtype=_aval_of(first).dtype)
    return jnp.concatenate([first[None, :], below], axis=0)


def fiedler(a: Any) -> Any:
    """``scipy.linalg.fiedler``: ``|a[i] - a[j]|``.

    >>> fiedler(np.array([1.0, 4.0]))
    array([[0., 3.],
           [3., 0.]])
    """
    a = jnp.ravel(a)
    return jnp.abs(a[:, None] - a[None, :])


def hadamard(n: int, dtype: Any = int) -> np.ndarray:
    """``scipy.linalg.hadamard``: Sylvester's Hadamard matrix of order ``n`` (a power of 2).

    >>> hadamard(2)
    array([[ 1,  1],
           [ 1, -1]])
    """
    if n < 1 or n & (n - 1):
        raise ValueError("hadamard: n must be a positive power of 2")
    h = np.ones((1, 1), dtype=dtype)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def helmert(n: int, full: bool = False) -> np.ndarray:
    """``scipy.linalg.helmert``: the orthogonal Helmert matrix (without its first row of
    ``1/sqrt(n)`` unless ``full``).

    >>> helmert(2, full=True)
    array([[ 0.70710678,  0.70710678],
           [ 0.70710678, -0.70710678]])
    """
    h = np.tril(np.ones((n, n)), -1) - np.diag(np.arange(n))
    d = np.arange(n) * np.arange(1, n + 1)
    h[0] = 1
    d[0] = n
    h = h / np.sqrt(d)[:, None]
    return h if full else h[1:]


def leslie(f: Any, s: Any) -> Any:
    """``scipy.linalg.leslie``: fecundities ``f`` in the first row, survival rates ``s`` on
    the subdiagonal.

    >>> leslie(np.array([0.5, 1.0]), np.array([0.8]))
    array([[0.5, 1. ],
           [0.8, 0. ]])
    """
    f, s = jnp.ravel(f), jnp.ravel(s)
    n = _aval_of(f).shape[0]
    if _aval_of(s).shape[0] != n - 1 or n < 2:
        raise ShapeError(f"jitgrad.scipy.linalg.leslie: s needs len(f) - 1 = {n - 1} entries, "
                         f"got {_aval_of(s).shape[0]}")
    dtype = jnp.result_type(f, s)
    below = jnp.concatenate([jnp.diag(jnp.astype(s, dtype)), np.zeros((n - 1, 1), dtype)],
                            axis=1)
    return jnp.concatenate([jnp.astype(f, dtype)[None, :], below], axis=0)


def pascal(n: int, kind: str = "symmetric", exact: bool = True) -> np.ndarray:
    """``scipy.linalg.pascal``: binomial coefficients, "symmetric", "lower" or "upper".

    >>> pascal(3)
    array([[1, 1, 1],
           [1, 2, 3],
           [1, 3, 6]], dtype=uint64)
    """
    if kind not in ("symmetric", "lower", "upper"):
        raise ValueError("pascal: kind must be 'symmetric', 'lower' or 'upper'")
    low = np.zeros((n, n), dtype=np.uint64 if exact else np.float64)
    for i in range(n):
        low[i, 0] = 1
        for j in range(1, i + 1):
            low[i, j] = low[i - 1, j - 1] + low[i - 1, j]
    if kind == "lower":
        return low
    if kind == "upper":
        return low.T.copy()
    return low @ low.T
