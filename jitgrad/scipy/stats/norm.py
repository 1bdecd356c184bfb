"""``scipy.stats.norm``: the normal distribution (mean ``loc``, standard deviation ``scale``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_SQRT_2PI = math.sqrt(2 * math.pi)

_NORM = Distribution("norm", {
    "logpdf": lambda z: -0.5 * z * z - math.log(_SQRT_2PI),
    "pdf": lambda z: jnp.exp(-0.5 * z * z) / _SQRT_2PI,
    "cdf": special.ndtr,
    "sf": lambda z: special.ndtr(-z),
    "logcdf": special.log_ndtr,
    "logsf": lambda z: special.log_ndtr(-z),
})


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the normal probability density.

    >>> logpdf(np.array([-1.0, 0.0, 3.0]), loc=1.0, scale=2.0)
    array([-2.11208571, -1.73708571, -2.11208571])
    """
    return _NORM("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The normal probability density.

    >>> pdf(np.array([-1.0, 0.0, 3.0]))
    array([0.24197072, 0.39894228, 0.00443185])
    """
    return _NORM("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The normal cumulative distribution function.

    >>> cdf(np.array([-1.0, 0.0, 3.0]), loc=1.0, scale=2.0)
    array([0.15865525, 0.30853754, 0.84134475])
    """
    return _NORM("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the normal cdf, accurate far into the lower tail.

    >>> logcdf(np.array([-40.0, 0.0, 3.0]))
    array([-8.04608442e+02, -6.93147181e-01, -1.35080996e-03])
    """
    return _NORM("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The normal survival function ``1 - cdf``, accurate in the upper tail.

    >>> sf(np.array([-1.0, 0.0, 10.0]))
    array([8.41344746e-01, 5.00000000e-01, 7.61985302e-24])
    """
    return _NORM("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the normal survival function.

    >>> logsf(np.array([-3.0, 0.0, 40.0]))
    array([-1.35080996e-03, -6.93147181e-01, -8.04608442e+02])
    """
    return _NORM("logsf", x, (), loc, scale)
