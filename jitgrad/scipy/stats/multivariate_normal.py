"""``scipy.stats.multivariate_normal``: the multivariate normal distribution's ``logpdf``,
``pdf`` and ``entropy``, singular covariances included (``allow_singular``), with scipy's
argument conventions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad.core import Tracer
from jitgrad.core import aval_of as _aval_of
from jitgrad.core import is_float as _is_float
from jitgrad.errors import ShapeError
from jitgrad.numpy import linalg as _nl
from jitgrad.scipy import linalg as _sl

__all__ = ["entropy", "logpdf", "pdf"]

_LOG_2PI = math.log(2 * math.pi)


def _shape(x: Any) -> tuple[int, ...]:
    return _aval_of(x).shape


def _parameters(name: str, mean: Any, cov: Any, *others: Any) -> tuple[int, Any, Any, Any]:
    """scipy's ``_process_parameters``: the dimension, ``mean`` as a vector and ``cov`` as a
    matrix (a scalar is a multiple of the identity, a vector the diagonal), all in the common
    float dtype (integers in float64). NB: beyond scipy, ``mean`` may have leading batch axes
    (``(..., d)``) and so may ``cov`` (``(..., d, d)``); they broadcast against ``x``'s."""
    given = [a for a in (mean, cov) + others if a is not None]
    dtype = jnp.result_type(*given)
    dtype = dtype if _is_float(dtype) else np.dtype(np.float64)
    cov = jnp.astype(jnp.asarray(1.0 if cov is None else cov), dtype)
    if mean is None:
        dim = 1 if len(_shape(cov)) < 2 else _shape(cov)[-1]
        mean = jnp.zeros((dim,), dtype)
    mean = jnp.astype(jnp.asarray(mean), dtype)
    dim = _shape(mean)[-1] if len(_shape(mean)) else 1
    if len(_shape(mean)) == 0:
        mean = jnp.reshape(mean, (1,))
    if len(_shape(cov)) == 0:
        cov = cov * jnp.eye(dim, dtype=dtype)
    elif len(_shape(cov)) == 1:
        if _shape(cov) != (dim,):
            raise ShapeError(f"multivariate_normal.{name}: a 1-D cov holds the variances: it "
                             f"must have length {dim}, got shape {_shape(cov)}")
        cov = jnp.eye(dim, dtype=dtype) * cov
    if _shape(cov)[-2:] != (dim, dim):
        raise ShapeError(f"multivariate_normal.{name}: cov of shape {_shape(cov)} does not fit "
                         f"a mean of length {dim} (it must be ({dim}, {dim}))")
    return dim, mean, cov, dtype


def _psd_check(cov: Any, dtype: np.dtype, allow_singular: bool) -> None:
    """scipy's checks of a concrete covariance (eigenvalues of its lower triangle, relative
    cutoff 1e6 eps in float64 and 1e3 eps in float32): not positive semidefinite is a
    ValueError, singular without ``allow_singular`` a LinAlgError."""
    if isinstance(cov, Tracer):
        return  # NB: traced covariances are not checked (cholesky raises if not definite)
    s = np.linalg.eigvalsh(np.asarray(cov, dtype))
    eps = _cutoff(dtype) * np.max(np.abs(s), axis=-1, keepdims=True)
    if np.any(np.min(s, axis=-1, keepdims=True) < -eps):
        raise ValueError("The input matrix must be symmetric positive semidefinite.")
    if not allow_singular and np.any(s <= eps):
        raise np.linalg.LinAlgError("When `allow_singular is False`, the input matrix must be "
                                    "symmetric positive definite.")


def _cutoff(dtype: np.dtype) -> float:
    return (1e3 if np.dtype(dtype) == np.float32 else 1e6) * float(np.finfo(dtype).eps)


def _null_space(cov: Any, dtype: np.dtype) -> tuple[Any, Any, Any]:
    """The projector N onto the eigenvectors of ``cov`` at or below scipy's cutoff, the rank
    and the cutoff, all without derivatives. ``cov + N`` is definite, with determinant the
    pseudo-determinant of ``cov`` and inverse its pseudo-inverse plus N, so the density on
    the support is a Cholesky computation whose derivatives are exact along the
    perturbations that keep the rank (the only ones along which it is continuous)."""
    s, u = _nl.eigh(jnp.stop_gradient(cov))
    eps = _cutoff(dtype) * jnp.max(jnp.abs(s), axis=-1, keepdims=True)
    null = s <= eps
    proj = jnp.matmul(u * jnp.astype(null, dtype)[..., None, :], jnp.swapaxes(u, -1, -2))
    rank = jnp.sum(jnp.logical_not(null), axis=-1)
    return proj, rank, eps[..., 0]


def _log_det_and_maha(cov: Any, dev: Any) -> tuple[Any, Any]:
    """``log det cov`` and ``dev^T cov^-1 dev`` (over the last axis of ``dev``) by Cholesky."""
    chol = _nl.cholesky(cov)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    dim = _shape(cov)[-1]
    if len(_shape(cov)) == 2:  # one matrix: all the points are right-hand sides of one solve
        batch = _shape(dev)[:-1]
        cols = jnp.transpose(jnp.reshape(dev, (-1, dim)))
        white = _sl.solve_triangular(chol, cols, lower=True)
        maha = jnp.reshape(jnp.sum(white * white, axis=0), batch)
    else:
        white = _sl.solve_triangular(chol, dev[..., None], lower=True)[..., 0]
        maha = jnp.sum(white * white, axis=-1)
    return log_det, maha


def _quantiles(name: str, x: Any, dim: int, dtype: np.dtype) -> Any:
    """scipy's ``_process_quantiles``: a scalar is one point; a vector is one point, or many
    in one dimension; otherwise the last axis holds the coordinates."""
    x = jnp.astype(jnp.asarray(x), dtype)
    if len(_shape(x)) == 0:
        x = jnp.reshape(x, (1,))
    elif len(_shape(x)) == 1:
        x = x[:, None] if dim == 1 else x[None, :]
    if _shape(x)[-1] != dim:
        raise ShapeError(f"multivariate_normal.{name}: x of shape {_shape(x)} does not have "
                         f"the dimension {dim} of the distribution on its last axis")
    return x


def _squeeze(out: Any) -> Any:
    """scipy's ``_squeeze_output``: every length-1 axis goes."""
    out = jnp.squeeze(out)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


def _logpdf(name: str, x: Any, mean: Any, cov: Any, allow_singular: bool) -> Any:
    dim, mean, cov, dtype = _parameters(name, mean, cov, x)
    x = _quantiles(name, x, dim, dtype)
    _psd_check(cov, dtype, allow_singular)
    dev = x - mean
    if not allow_singular:
        log_det, maha = _log_det_and_maha(cov, dev)
        return -0.5 * (dim * _LOG_2PI + log_det + maha)
    proj, rank, eps = _null_space(cov, dtype)
    log_det, maha = _log_det_and_maha(cov + proj, dev)
    out = -0.5 * (rank * _LOG_2PI + log_det + maha)
    # scipy's support test: the component of x - mean in the null space is below 1e3 times
    # the cutoff (compared squared: no derivative flows through it).
    residual = jnp.sum(dev * jnp.squeeze(jnp.matmul(proj, dev[..., None]), axis=-1), axis=-1)
    inside = residual < jnp.square(1e3 * eps)
    return jnp.where(inside, out, -jnp.inf)


def logpdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """The log of the multivariate normal density at the points ``x`` (coordinates on the last
    axis; a 1-D ``x`` is one point, or many for a one-dimensional distribution), with scipy's
    conventions: ``cov`` a matrix, a vector of variances or a scalar; length-1 axes of the
    result squeezed. A singular ``cov`` needs ``allow_singular=True``: the density is then
    with respect to the measure on its support (pseudo-determinant, pseudo-inverse) and
    ``-inf`` off it.

    >>> cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> logpdf(np.array([[0.0, 0.0], [1.0, -1.0]]), np.array([0.5, 0.0]), cov)
    array([-2.18911353, -2.90339925])
    >>> logpdf(np.array([[1.0, 1.0], [1.0, 0.0]]), cov=np.ones((2, 2)), allow_singular=True)
    array([-1.76551212,        -inf])
    """
    return _squeeze(_logpdf("logpdf", x, mean, cov, allow_singular))


def pdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """The multivariate normal density (``exp(logpdf)``, with ``logpdf``'s conventions).

    >>> pdf(np.array([-1.0, 0.0, 1.0]), 0.0, 2.0)
    array([0.21969564, 0.28209479, 0.21969564])
    """
    return _squeeze(jnp.exp(_logpdf("pdf", x, mean, cov, allow_singular)))


def entropy(mean: Any = None, cov: Any = 1) -> Any:
    """The differential entropy ``(rank (log(2 pi) + 1) + log pdet(cov)) / 2`` (a singular
    ``cov`` is allowed, as in scipy).

    >>> entropy(cov=np.array([[2.0, 0.5], [0.5, 1.0]]))
    np.float64(3.1176849603770567)
    """
    dim, mean, cov, dtype = _parameters("entropy", mean, cov)
    _psd_check(cov, dtype, allow_singular=True)
    proj, rank, _ = _null_space(cov, dtype)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(_nl.cholesky(cov + proj), axis1=-2, axis2=-1)),
                          axis=-1)
    out = 0.5 * (rank * (_LOG_2PI + 1) + log_det)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out
