"""``scipy.stats.gamma``: the gamma distribution with shape ``a`` (and ``scale``, the inverse
rate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_GAMMA = Distribution("gamma", {
    "logpdf": lambda z, a: special.xlogy(a - 1.0, z) - z - special.gammaln(a),
    "cdf": lambda z, a: special.gammainc(a, z),
    "sf": lambda z, a: special.gammaincc(a, z),
}, support=(0.0, np.inf), inside=1.0)


def logpdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the gamma distribution.

    >>> logpdf(np.array([0.5, 1.0, 4.0]), 2.0)
    array([-1.19314718, -1.        , -2.61370564])
    """
    return _GAMMA("logpdf", x, (a,), loc, scale)


def pdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the gamma distribution.

    >>> pdf(np.array([0.0, 1.0, 4.0]), np.array([0.5, 1.0, 2.0]))
    array([       inf, 0.36787944, 0.07326256])
    """
    return _GAMMA("pdf", x, (a,), loc, scale)


def cdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the gamma distribution.

    >>> cdf(np.array([-1.0, 1.0, 4.0]), 2.0, scale=2.0)
    array([0.        , 0.09020401, 0.59399415])
    """
    return _GAMMA("cdf", x, (a,), loc, scale)


def logcdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the gamma distribution.

    >>> logcdf(np.array([1e-3, 1.0, 4.0]), 2.0)
    array([-14.50932438,  -1.33089327,  -0.09604646])
    """
    return _GAMMA("logcdf", x, (a,), loc, scale)


def sf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the gamma distribution.

    >>> sf(np.array([-1.0, 1.0, 40.0]), 2.0)
    array([1.00000000e+00, 7.35758882e-01, 1.74182524e-16])
    """
    return _GAMMA("sf", x, (a,), loc, scale)


def logsf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the gamma distribution.

    >>> logsf(np.array([1.0, 4.0, 100.0]), 2.0)
    array([ -0.30685282,  -2.39056209, -95.38487948])
    """
    return _GAMMA("logsf", x, (a,), loc, scale)
