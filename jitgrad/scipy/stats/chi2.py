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
    OUT
    """
    return _CHI2("logpdf", x, (df,), loc, scale)


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the chi-squared distribution.

    >>> pdf(np.array([0.0, 1.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    OUT
    """
    return _CHI2("pdf", x, (df,), loc, scale)


def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the chi-squared distribution.

    >>> cdf(np.array([-1.0, 1.0, 4.0]), 3.0)
    OUT
    """
    return _CHI2("cdf", x, (df,), loc, scale)


def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the chi-squared distribution.

    >>> logcdf(np.array([1e-3, 1.0, 4.0]), 3.0)
    OUT
    """
    return _CHI2("logcdf", x, (df,), loc, scale)


def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the chi-squared distribution.

    >>> sf(np.array([-1.0, 1.0, 40.0]), 3.0)
    OUT
    """
    return _CHI2("sf", x, (df,), loc, scale)


def logsf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the chi-squared distribution.

    >>> logsf(np.array([1.0, 4.0, 100.0]), 3.0)
    OUT
    """
    return _CHI2("logsf", x, (df,), loc, scale)
