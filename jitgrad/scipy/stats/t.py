"""``scipy.stats.t``: Student's t distribution with ``df`` degrees of freedom (the normal one at
``df = inf``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy import special
from jitgrad.scipy.stats import norm
from jitgrad.scipy.stats._distribution import Distribution, _log_smaller

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _finite(df: Any) -> tuple[Any, Any]:
    """Where ``df`` is infinite (the normal limit) and a finite stand-in there."""
    inf = jnp.isinf(df)
    return inf, jnp.where(inf, 1.0, df)


def _log_density_at_0(d: Any) -> Any:
    return special.gammaln(0.5 * d + 0.5) - special.gammaln(0.5 * d) - 0.5 * (
        jnp.log(d) + math.log(math.pi))


def _logpdf(z: Any, df: Any) -> Any:
    inf, d = _finite(df)
    t = _log_density_at_0(d) - 0.5 * (d + 1) * jnp.log1p(z * z / d)
    return jnp.where(inf, norm._NORM.formulas["logpdf"](z), t)


def _cdf(z: Any, df: Any) -> Any:
    """P(T <= z) from the incomplete beta function: P(|T| > |z|) = I_{d/(d+z^2)}(d/2, 1/2)
    where |z| >= 1, and 1 - I_{z^2/(d+z^2)}(1/2, d/2) where |z| < 1. The split is near the
    median of |T| (1 for d = 1, 0.67 for d = inf), so the subtraction never cancels more
    than a factor 3 (splitting at z^2 = d instead lost every digit of the tail for large d:
    cdf(-20, 1000) was 0, not 2e-75), and the first argument is away from 1, where it would
    round, except for large d (relative error ~ d eps / 2). At z = 0 exactly, where the
    derivative of either form is 0 * inf, the tangent line 1/2 + z pdf(0) stands in (exact
    to second order)."""
    inf, d = _finite(df)
    zero = z == 0
    zs = jnp.where(zero, 1.0, z)
    q = jnp.square(zs / jnp.sqrt(d))  # z^2 / d without overflowing for large z
    near = jnp.abs(zs) < 1
    qn = jnp.where(near, q, 0.5)
    r = jnp.square(jnp.sqrt(d) / jnp.where(near, 1.0, zs))  # d / z^2
    two_tail = jnp.where(near, 1.0 - special.betainc(0.5, 0.5 * d, qn / (1 + qn)),
                         special.betainc(0.5 * d, 0.5, r / (1 + r)))
    lower = jnp.where(zs < 0, 0.5 * two_tail, 1.0 - 0.5 * two_tail)
    at_0 = 0.5 + z * jnp.exp(_log_density_at_0(d))
    return jnp.where(inf, special.ndtr(z), jnp.where(zero, at_0, lower))


def _logcdf(z: Any, df: Any) -> Any:
    # the normal limit through log_ndtr: its cdf underflows (float32 below z = -14)
    inf, d = _finite(df)
    finite = _log_smaller(_cdf, lambda z, d: _cdf(-z, d))(z, d)
    return jnp.where(inf, special.log_ndtr(z), finite)


_T = Distribution("t", {
    "logpdf": _logpdf,
    "cdf": _cdf,
    "sf": lambda z, df: _cdf(-z, df),
    "logcdf": _logcdf,
    "logsf": lambda z, df: _logcdf(-z, df),
})


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of Student's t distribution.

    >>> logpdf(np.array([-1.0, 0.0, 3.0]), 3.0)
    array([-1.57625299, -1.00088885, -3.77347757])
    """
    return _T("logpdf", x, (df,), loc, scale)


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of Student's t distribution.

    >>> pdf(np.array([-1.0, 0.0, 3.0]), np.array([1.0, 3.0, np.inf]))
    array([0.15915494, 0.3675526 , 0.00443185])
    """
    return _T("pdf", x, (df,), loc, scale)


def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of Student's t distribution.

    >>> cdf(np.array([-1.0, 0.0, 3.0]), 3.0)
    array([0.19550111, 0.5       , 0.97116556])
    """
    return _T("cdf", x, (df,), loc, scale)


def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of Student's t cdf.

    >>> logcdf(np.array([-100.0, 0.0, 3.0]), 3.0)
    array([-13.71814707,  -0.69314718,  -0.02925832])
    """
    return _T("logcdf", x, (df,), loc, scale)


def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of Student's t distribution.

    >>> sf(np.array([-1.0, 0.0, 100.0]), 3.0)
    array([8.04498891e-01, 5.00000000e-01, 1.10226096e-06])
    """
    return _T("sf", x, (df,), loc, scale)


def logsf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of Student's t survival function.

    >>> logsf(np.array([-3.0, 0.0, 100.0]), 3.0)
    array([ -0.02925832,  -0.69314718, -13.71814707])
    """
    return _T("logsf", x, (df,), loc, scale)
