"""``scipy.stats.chi2``: the chi-squared distribution with ``df`` degrees of freedom."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_CHI2 = Distribution("chi2", {
    "logpdf": lambda z, df: (special.xlogy(0.5 * df - 1.0, z) - 0.5 * z
                             - special.gammaln(0.5 * df) - 0.5 * math.log(2.0) * df),
    "cdf": lambda z, df: special.gammainc(0.5 * df, 0.5 * z),
    "sf": lambda z, df: special.gammaincc(0.5 * df, 0.5 * z),
}, support=(0.0, np.inf), inside=1.0)


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the chi-squared distribution.

    >>> logpdf(np.array([0.5, 1.0, 4.0]), 3.0)
    array([-1.51551212, -1.41893853, -2.22579135])
    """
    return _CHI2("logpdf", x, (df,), loc, scale)


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the chi-squared distribution.

    >>> pdf(np.array([0.0, 1.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    array([       inf, 0.30326533, 0.10798193])
    """
    return _CHI2("pdf", x, (df,), loc, scale)


def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the chi-squared distribution.

    >>> cdf(np.array([-1.0, 1.0, 4.0]), 3.0)
    array([0.        , 0.19874804, 0.73853587])
    """
    return _CHI2("cdf", x, (df,), loc, scale)


def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the chi-squared distribution.

    >>> logcdf(np.array([1e-3, 1.0, 4.0]), 3.0)
    array([-11.68633655,  -1.61571737,  -0.30308561])
    """
    return _CHI2("logcdf", x, (df,), loc, scale)


def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the chi-squared distribution.

    >>> sf(np.array([-1.0, 1.0, 40.0]), 3.0)
    array([1.00000000e+00, 8.01251957e-01, 1.06550903e-08])
    """
    return _CHI2("sf", x, (df,), loc, scale)


def logsf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the chi-squared distribution.

    >>> logsf(np.array([1.0, 4.0, 100.0]), 3.0)
    array([ -0.22157983,  -1.34145818, -47.91335211])
    """
    return _CHI2("logsf", x, (df,), loc, scale)
