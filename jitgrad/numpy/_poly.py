"""numpy's polynomial functions on coefficient arrays (highest degree first), as composites:
Horner's rule, padded sums, convolutions, long division and least squares."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.errors import ShapeError, TracerError, UnsupportedError
from jitgrad.numpy import _aval_of, _numpy_when_concrete

__all__ = ["poly", "polyadd", "polyder", "polydiv", "polyfit", "polyint", "polymul", "polysub",
           "polyval", "roots", "vander"]


def _len(x: Any) -> int:
    return _aval_of(x).shape[0]


def _coefficients(p: Any, op: str) -> Any:
    p = jnp.atleast_1d(p)
    if _aval_of(p).ndim != 1:
        raise ShapeError(f"{op}: coefficients must be a 1-d array, got shape {_aval_of(p).shape}")
    return p


def _np_polyval(p: Any, x: Any, *, unroll: int = 16) -> Any:
    return np.polyval(p, x)


@_numpy_when_concrete(_np_polyval)
def polyval(p: Any, x: Any, *, unroll: int = 16) -> Any:
    """``numpy.polyval``: ``p[0] * x**(n-1) + ... + p[n-1]`` by Horner's rule, as numpy
    evaluates it. JAX's ``unroll`` is accepted (the loop is always unrolled here).

    >>> import jitgrad
    >>> jitgrad.jit(polyval)(np.array([1.0, -2.0, 3.0]), np.array([0.0, 2.0]))
    array([3., 3.])
    """
    p = jnp.asarray(p)
    y = jnp.zeros_like(x)
    for i in range(_len(p)):
        y = y * x + p[i]
    return y


def _padded_pair(a1: Any, a2: Any, op: str) -> tuple[Any, Any]:
    """The two coefficient arrays, the shorter one with leading zeros to the other's length."""
    a1, a2 = _coefficients(a1, op), _coefficients(a2, op)
    n1, n2 = _len(a1), _len(a2)
    return jnp.pad(a1, (max(n2 - n1, 0), 0)), jnp.pad(a2, (max(n1 - n2, 0), 0))


@_numpy_when_concrete(np.polyadd)
def polyadd(a1: Any, a2: Any) -> Any:
    """``numpy.polyadd``: the sum of two polynomials.

    >>> import jitgrad
    >>> jitgrad.jit(polyadd)(np.array([1.0, 2.0]), np.array([3.0, 0.0, 1.0]))
    array([3., 1., 3.])
    """
    a1, a2 = _padded_pair(a1, a2, "polyadd")
    return a1 + a2


@_numpy_when_concrete(np.polysub)
def polysub(a1: Any, a2: Any) -> Any:
    """``numpy.polysub``: the difference of two polynomials.

    >>> import jitgrad
    >>> jitgrad.jit(polysub)(np.array([1.0, 2.0]), np.array([3.0, 0.0, 1.0]))
    array([-3.,  1.,  1.])
    """
    a1, a2 = _padded_pair(a1, a2, "polysub")
    return a1 - a2


def _trim_refused(trim_leading_zeros: bool, op: str) -> None:
    if trim_leading_zeros:
        raise TracerError(f"{op}: trim_leading_zeros=True on traced coefficients: the result's "
                          f"length would depend on their values; trim outside the "
                          f"transformation")


def _np_polymul(a1: Any, a2: Any, *, trim_leading_zeros: bool = False) -> Any:
    if trim_leading_zeros:
        a1, a2 = np.trim_zeros(np.atleast_1d(a1), "f"), np.trim_zeros(np.atleast_1d(a2), "f")
    return np.polymul(a1, a2)


@_numpy_when_concrete(_np_polymul)
def polymul(a1: Any, a2: Any, *, trim_leading_zeros: bool = False) -> Any:
    """``numpy.polymul``: the product of two polynomials (a convolution of their
    coefficients); JAX's ``trim_leading_zeros`` on concrete arrays only.

    NB: numpy drops leading zero coefficients of the operands first (the result is shorter by
    as many); traced operands keep them, as in JAX, since the length would depend on values.

    >>> import jitgrad
    >>> jitgrad.jit(polymul)(np.array([1.0, 2.0]), np.array([1.0, -1.0]))
    array([ 1.,  1., -2.])
    """
    _trim_refused(trim_leading_zeros, "polymul")
    return jnp.convolve(_coefficients(a1, "polymul"), _coefficients(a2, "polymul"))


def _order(m: Any, op: str) -> int:
    m = operator.index(m)
    if m < 0:
        raise ShapeError(f"{op}: order of derivative or integral must be positive (got {m})")
    return m


@_numpy_when_concrete(np.polyder)
def polyder(p: Any, m: int = 1) -> Any:
    """``numpy.polyder``: the ``m``-th derivative of a polynomial.

    >>> import jitgrad
    >>> jitgrad.jit(polyder)(np.array([1.0, 2.0, 3.0, 4.0]))
    array([3., 4., 3.])
    """
    m = _order(m, "polyder")
    p = jnp.asarray(p)
    for _ in range(m):
        n = _len(p) - 1
        p = p[:-1] * np.arange(n, 0, -1)
    return p


@_numpy_when_concrete(np.polyint)
def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """``numpy.polyint``: the ``m``-th antiderivative of a polynomial, with integration
    constants ``k`` (one per integration, or one for all; default zeros).

    >>> import jitgrad
    >>> jitgrad.jit(polyint)(np.array([3.0, 2.0, 1.0]))
    array([1., 1., 1., 0.])
    """
    m = _order(m, "polyint")
    k = np.zeros(m) if k is None else jnp.atleast_1d(k)
    if _len(k) == 1 and m > 1:
        k = jnp.broadcast_to(k, (m,))
    if _len(k) < m:
        raise ShapeError(f"polyint: k must be a scalar or a rank-1 array of length 1 or >= m "
                         f"({m}), got length {_len(k)}")
    p = jnp.asarray(p)
    for i in range(m):
        p = jnp.concatenate([p / np.arange(_len(p), 0, -1), k[i:i + 1]])
    return p


def _np_polydiv(u: Any, v: Any, *, trim_leading_zeros: bool = False) -> Any:
    return np.polydiv(u, v)


@_numpy_when_concrete(_np_polydiv)
def polydiv(u: Any, v: Any, *, trim_leading_zeros: bool = False) -> tuple[Any, Any]:
    """``numpy.polydiv``: quotient and remainder of polynomial long division.

    NB: on traced arrays the remainder keeps ``len(u)`` coefficients (its leading ones are
    zero up to rounding), as JAX's does: numpy drops the leading (near-)zeros, a length that
    depends on the values (JAX's ``trim_leading_zeros=True`` is refused under tracing).

    >>> import jitgrad
    >>> q, r = jitgrad.jit(polydiv)(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0]))
    >>> q, r[-1:]
    (array([1., 1.]), array([2.]))
    """
    _trim_refused(trim_leading_zeros, "polydiv")
    u, v = _coefficients(u, "polydiv"), _coefficients(v, "polydiv")
    dtype = np.promote_types(jnp.result_type(u, v), np.float64)
    u, v = jnp.astype(u, dtype), jnp.astype(v, dtype)
    m, n = _len(u) - 1, _len(v) - 1
    scale = 1.0 / v[0]
    q, r = [], u
    for k in range(m - n + 1):
        d = scale * r[k]
        q.append(d)
        r = jnp.concatenate([r[:k], r[k:k + n + 1] - d * v, r[k + n + 1:]])
    return (jnp.stack(q) if q else jnp.zeros(1, dtype)), r


def _np_vander(x: Any, N: Any = None, increasing: bool = False) -> Any:  # noqa: N803
    return np.vander(x, N, increasing)


@_numpy_when_concrete(_np_vander)
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """``numpy.vander``: the columns are powers of ``x`` (decreasing, or ``increasing``), each
    the previous one times ``x`` as numpy computes them.

    >>> import jitgrad
    >>> jitgrad.jit(vander)(np.array([2.0, 3.0]))
    array([[2., 1.],
           [3., 1.]])
    """
    if _aval_of(x).ndim != 1:
        raise ShapeError(f"vander: x must be a one-dimensional array or sequence, got shape "
                         f"{_aval_of(x).shape}")
    n = _len(x) if N is None else operator.index(N)
    if n < 0:
        raise ShapeError(f"vander: N must be non-negative, got {n}")
    x = jnp.astype(x, np.promote_types(_aval_of(x).dtype, np.int64))
    cols = [jnp.ones_like(x)] if n else []
    for _ in range(n - 1):
        cols.append(cols[-1] * x if len(cols) > 1 else x)
    if not cols:
        return jnp.zeros((_len(x), 0), _aval_of(x).dtype)
    out = jnp.stack(cols, axis=1)
    return out if increasing else jnp.flip(out, axis=1)


def _np_polyfit(x: Any, y: Any, deg: int, rcond: Any = None, full: bool = False, w: Any = None,
                cov: Any = False) -> Any:
    return np.polyfit(x, y, deg, rcond, full, w, cov)


@_numpy_when_concrete(_np_polyfit)
def polyfit(x: Any, y: Any, deg: int, rcond: Any = None, full: bool = False, w: Any = None,
            cov: Any = False) -> Any:
    """``numpy.polyfit``: least-squares polynomial coefficients of degree ``deg`` (weights
    ``w``; ``y`` one or several columns), by numpy's column-scaled least squares;
    differentiable in ``x``, ``y`` and ``w``. ``full=True`` and ``cov`` are concrete-only.

    >>> import jitgrad
    >>> jitgrad.jit(lambda x, y: polyfit(x, y, 1))(np.array([0.0, 1.0, 2.0]),
    ...                                            np.array([1.0, 3.0, 5.0]))
    array([2., 1.])
    """
    if full or cov:
        raise UnsupportedError("polyfit: full=True and cov= on traced arrays (numpy's "
                               "diagnostics and covariance): fit concrete arrays for those")
    deg = operator.index(deg)
    if deg < 0:
        raise ShapeError(f"polyfit: expected deg >= 0, got {deg}")
    x, y = jnp.asarray(x) + 0.0, jnp.asarray(y) + 0.0
    if _aval_of(x).ndim != 1 or _len(x) == 0 or _aval_of(y).ndim not in (1, 2) \
            or _len(y) != _len(x):
        raise ShapeError(f"polyfit: expected a non-empty 1-d x and a 1-d or 2-d y of the same "
                         f"length, got shapes {_aval_of(x).shape} and {_aval_of(y).shape}")
    if rcond is None:
        rcond = _len(x) * float(np.finfo(_aval_of(x).dtype).eps)
    lhs, rhs = vander(x, deg + 1), y
    if w is not None:
        w = jnp.asarray(w) + 0.0
        if _aval_of(w).shape != (_len(x),):
            raise ShapeError(f"polyfit: expected w of shape ({_len(x)},), got "
                             f"{_aval_of(w).shape}")
        lhs = lhs * w[:, None]
        rhs = rhs * (w if _aval_of(rhs).ndim == 1 else w[:, None])
    scale = jnp.sqrt(jnp.sum(lhs * lhs, axis=0))
    c = jnp.linalg.lstsq(lhs / scale, rhs, rcond)[0]
    return c / (scale if _aval_of(c).ndim == 1 else scale[:, None])


def _np_roots(p: Any, *, strip_zeros: bool = True) -> Any:
    return np.roots(p)


@_numpy_when_concrete(_np_roots)
def roots(p: Any, *, strip_zeros: bool = True) -> Any:
    """``numpy.roots`` on concrete coefficients (numpy's own call). Traced coefficients are
    refused: the roots are the eigenvalues of the companion matrix, and jitgrad has no
    general (non-symmetric) eigensolver.

    >>> roots(np.array([1.0, -3.0, 2.0]))
    array([2., 1.])
    """
    raise UnsupportedError("roots: traced coefficients need the eigenvalues of a "
                           "non-symmetric matrix (linalg.eig), which jitgrad does not provide; "
                           "compute roots on concrete arrays, outside the transformation")


@_numpy_when_concrete(np.poly)
def poly(seq_of_zeros: Any) -> Any:
    """``numpy.poly``: the coefficients of the monic polynomial with the given roots (1-d);
    a square matrix's characteristic polynomial needs its eigenvalues: concrete only.

    >>> import jitgrad
    >>> jitgrad.jit(poly)(np.array([1.0, 2.0]))
    array([ 1., -3.,  2.])
    """
    z = jnp.atleast_1d(seq_of_zeros)
    if _aval_of(z).ndim != 1:
        raise UnsupportedError(f"poly of a traced {_aval_of(z).shape} array: the characteristic "
                               f"polynomial of a matrix needs linalg.eig, which jitgrad does not "
                               f"provide; pass the roots (1-d)")
    dtype = _aval_of(z).dtype
    a = jnp.ones(1, dtype if dtype.kind == "f" else np.float64)
    for i in range(_len(z)):
        a = jnp.convolve(a, jnp.stack([jnp.ones((), _aval_of(a).dtype), -z[i]]))
    return a
