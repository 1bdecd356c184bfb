"""``scipy.stats.expon``: the exponential distribution (``scale`` is the mean)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_EXPON = Distribution("expon", {
    "logpdf": lambda z: -z,
    "cdf": lambda z: -jnp.expm1(-z),
    "sf": lambda z: jnp.exp(-z),
    "logsf": lambda z: -z,
}, support=(0.0, np.inf), inside=1.0)


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the exponential distribution.

    >>> logpdf(np.array([-1.0, 0.0, 2.0]), scale=2.0)
    array([       -inf, -0.69314718, -1.69314718])
    """
    return _EXPON("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the exponential distribution.

    >>> pdf(np.array([-1.0, 0.0, 2.0]))
    array([0.        , 1.        , 0.13533528])
    """
    return _EXPON("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the exponential distribution.

    >>> cdf(np.array([-1.0, 1e-20, 2.0]))
    array([0.00000000e+00, 1.00000000e-20, 8.64664717e-01])
    """
    return _EXPON("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the exponential distribution.

    >>> logcdf(np.array([1e-20, 1.0, 40.0]))
    array([-4.60517019e+01, -4.58675145e-01, -4.24835426e-18])
    """
    return _EXPON("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the exponential distribution.

    >>> sf(np.array([-1.0, 0.0, 2.0]), loc=1.0)
    array([1.        , 1.        , 0.36787944])
    """
    return _EXPON("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the exponential distribution.

    >>> logsf(np.array([-1.0, 0.0, 800.0]))
    array([   0.,    0., -800.])
    """
    return _EXPON("logsf", x, (), loc, scale)
