"""``scipy.stats.dirichlet``: the Dirichlet distribution's ``logpdf``, ``pdf`` and ``entropy``,
with scipy's conventions (components on the first axis of ``x``) and input checks, and ``rvs``
(concrete samples, as autograd's ``autograd.scipy.stats.dirichlet.rvs``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad.core import Tracer
from jitgrad.core import aval_of as _aval_of
from jitgrad.core import is_float as _is_float
from jitgrad.errors import ShapeError, TracerError
from jitgrad.scipy import special

__all__ = ["entropy", "logpdf", "pdf", "rvs"]


def _alpha(alpha: Any, *others: Any) -> tuple[Any, np.dtype]:
    dtype = jnp.result_type(alpha, *others)
    dtype = dtype if _is_float(dtype) else np.dtype(np.float64)
    alpha = jnp.astype(jnp.asarray(alpha), dtype)
    if len(_aval_of(alpha).shape) != 1:
        raise ValueError(f"Parameter vector 'a' must be one dimensional, but a.shape = "
                         f"{_aval_of(alpha).shape}.")
    if not isinstance(alpha, Tracer) and np.min(alpha) <= 0:
        raise ValueError("All parameters must be greater than 0")
    return alpha, dtype


def _log_beta(alpha: Any) -> Any:
    return jnp.sum(special.gammaln(alpha)) - special.gammaln(jnp.sum(alpha))


def _points(x: Any, alpha: Any, dtype: np.dtype) -> Any:
    """scipy's ``_dirichlet_check_input``: ``x`` holds K components (or K - 1, the last being
    one minus their sum) on its first axis. Concrete points are checked as scipy checks
    them; traced ones cannot raise, and points off the simplex get a ``-inf`` log density."""
    x = jnp.astype(jnp.asarray(x), dtype)
    k = _aval_of(alpha).shape[0]
    shape = _aval_of(x).shape
    if not shape or shape[0] not in (k, k - 1):
        raise ShapeError(f"Vector 'x' must have either the same number of entries as, or one "
                         f"entry fewer than, parameter vector 'a', but alpha.shape = ({k},) "
                         f"and x.shape = {shape}.")
    if shape[0] == k - 1:
        x = jnp.concatenate([x, 1 - jnp.sum(x, axis=0, keepdims=True)], axis=0)
    if isinstance(x, Tracer) or isinstance(alpha, Tracer):
        return x
    a = np.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    if np.min(x) < 0:
        raise ValueError("Each entry in 'x' must be greater than or equal to zero.")
    if np.max(x) > 1:
        raise ValueError("Each entry in 'x' must be smaller or equal one.")
    if np.any((x == 0) & (a < 1)):
        raise ValueError("Each entry in 'x' must be greater than zero if its alpha is less "
                         "than one.")
    if np.any(np.abs(np.sum(x, 0) - 1.0) > 10e-10):
        raise ValueError(f"The input vector 'x' must lie within the normal simplex. but "
                         f"np.sum(x, 0) = {np.sum(x, 0)}.")
    return x


def _logpdf(x: Any, alpha: Any) -> Any:
    alpha, dtype = _alpha(alpha, x)
    x = _points(x, alpha, dtype)
    a = jnp.reshape(alpha, _aval_of(alpha).shape + (1,) * (len(_aval_of(x).shape) - 1))
    out = jnp.sum(special.xlogy(a - 1, x), axis=0) - _log_beta(alpha)
    # NB: traced points off the simplex (scipy raises) have a -inf log density, traced
    # non-positive alpha (scipy raises) a nan one.
    simplex = jnp.logical_and(jnp.min(x, axis=0) >= 0, jnp.abs(jnp.sum(x, axis=0) - 1) <= 1e-9)
    out = jnp.where(simplex, out, -jnp.inf)
    return jnp.where(jnp.min(alpha) > 0, out, jnp.nan)


def _squeeze(out: Any) -> Any:
    out = jnp.squeeze(out)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


def logpdf(x: Any, alpha: Any) -> Any:
    """The log of the Dirichlet density of the concentrations ``alpha`` (a vector of K) at
    ``x`` (K components, or K - 1 with the last implied, on the first axis; further axes are
    points); length-1 axes of the result squeezed, as in scipy.

    >>> logpdf(np.array([0.2, 0.3, 0.5]), np.array([1.0, 2.0, 3.0]))
    np.float64(1.5040773967762737)
    >>> logpdf(np.array([[0.2, 0.6], [0.3, 0.1]]), np.array([1.0, 2.0, 3.0]))
    array([ 1.5040774 , -0.61618614])
    """
    return _squeeze(_logpdf(x, alpha))


def pdf(x: Any, alpha: Any) -> Any:
    """The Dirichlet density (``exp(logpdf)``, with ``logpdf``'s conventions).

    >>> pdf(np.array([0.2, 0.3, 0.5]), np.array([1.0, 2.0, 3.0]))
    np.float64(4.499999999999998)
    """
    return _squeeze(jnp.exp(_logpdf(x, alpha)))


def entropy(alpha: Any) -> Any:
    """The differential entropy of the Dirichlet distribution.

    >>> entropy(np.array([1.0, 2.0, 3.0]))
    np.float64(-1.2443445622221008)
    """
    alpha, _ = _alpha(alpha)
    a0 = jnp.sum(alpha)
    k = _aval_of(alpha).shape[0]
    out = (_log_beta(alpha) + (a0 - k) * special.digamma(a0)
           - jnp.sum((alpha - 1) * special.digamma(alpha)))
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


def rvs(alpha: Any, size: Any = 1, random_state: Any = None) -> np.ndarray:
    """Concrete samples (``size`` of them, each a vector of K), drawn as scipy draws them:
    from numpy's global generator (``random_state=None``, so ``np.random.seed`` fixes them),
    a new ``RandomState(seed)`` for an int, or the given ``Generator``/``RandomState``.
    Traced ``alpha`` has no concrete samples: ``jitgrad.random.dirichlet`` draws traced ones.

    >>> np.random.seed(0); rvs(np.array([1.0, 2.0, 3.0])).round(3)
    array([[0.082, 0.29 , 0.628]])
    """
    if isinstance(alpha, Tracer):
        raise TracerError(f"dirichlet.rvs was called with a traced alpha {alpha.aval}: its "
                          f"samples are concrete numpy numbers. Inside a transformed function "
                          f"use jitgrad.random.dirichlet(key, alpha, shape) (explicit keys), or "
                          f"draw the samples outside it and pass them in.")
    alpha, _ = _alpha(alpha)
    if random_state is None:
        random_state = np.random.mtrand._rand  # numpy's global generator, as scipy's default
    elif isinstance(random_state, (int, np.integer)):
        random_state = np.random.RandomState(random_state)
    return random_state.dirichlet(alpha, size=size)
