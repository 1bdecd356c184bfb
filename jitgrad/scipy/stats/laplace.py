"""``scipy.stats.laplace``: the Laplace (double exponential) distribution."""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _logcdf(z: Any) -> Any:
    # log(1 - exp(-z)/2) above 0, log(exp(z)/2) below: no underflow in either tail
    # (NB: scipy takes the log of the cdf, -inf below z = -745).
    up = z > 0
    return jnp.where(up, jnp.log1p(-0.5 * jnp.exp(-jnp.where(up, z, 0.0))),
                     jnp.where(up, 0.0, z) - math.log(2.0))


_LAPLACE = Distribution("laplace", {
    "logpdf": lambda z: -math.log(2.0) - jnp.abs(z),
    "cdf": lambda z: jnp.exp(_logcdf(z)),
    "sf": lambda z: jnp.exp(_logcdf(-z)),
    "logcdf": _logcdf,
    "logsf": lambda z: _logcdf(-z),
})


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the Laplace distribution.

    >>> logpdf(np.array([-1.0, 0.0, 2.0]), scale=2.0)
    array([-1.88629436, -1.38629436, -2.38629436])
    """
    return _LAPLACE("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the Laplace distribution.

    >>> pdf(np.array([-1.0, 0.0, 2.0]))
    array([0.18393972, 0.5       , 0.06766764])
    """
    return _LAPLACE("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the Laplace distribution.

    >>> cdf(np.array([-1.0, 0.0, 2.0]), loc=1.0)
    array([0.06766764, 0.18393972, 0.81606028])
    """
    return _LAPLACE("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the Laplace distribution.

    >>> logcdf(np.array([-800.0, 0.0, 2.0]))
    array([-8.00693147e+02, -6.93147181e-01, -7.00659202e-02])
    """
    return _LAPLACE("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the Laplace distribution.

    >>> sf(np.array([-1.0, 0.0, 2.0]))
    array([0.81606028, 0.5       , 0.06766764])
    """
    return _LAPLACE("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the Laplace distribution.

    >>> logsf(np.array([-2.0, 0.0, 800.0]))
    array([-7.00659202e-02, -6.93147181e-01, -8.00693147e+02])
    """
    return _LAPLACE("logsf", x, (), loc, scale)
