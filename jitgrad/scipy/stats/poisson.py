"""``scipy.stats.poisson``: the Poisson distribution with mean ``mu``."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]

_POISSON = Distribution("poisson", {
    "logpmf": lambda k, mu: special.xlogy(k, mu) - special.gammaln(k + 1.0) - mu,
    "cdf": lambda k, mu: special.gammaincc(k + 1.0, mu),
    "sf": lambda k, mu: special.gammainc(k + 1.0, mu),
}, discrete=True, support=(0.0, np.inf), valid=lambda mu: mu >= 0)


def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The log of the probability mass function of the Poisson distribution.

    >>> logpmf(np.array([0, 2, 5]), 2.5)
    array([-2.5       , -1.36056572, -2.70603808])
    """
    return _POISSON("logpmf", k, (mu,), loc)


def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The probability mass function of the Poisson distribution.

    >>> pmf(np.array([0.0, 2.0, 2.5, -1.0]), 2.5)
    array([0.082085  , 0.25651562, 0.        , 0.        ])
    """
    return _POISSON("pmf", k, (mu,), loc)


def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The cumulative distribution function of the Poisson distribution.

    >>> cdf(np.array([-1.0, 0.0, 2.5, 10.0]), 2.5)
    array([0.        , 0.082085  , 0.54381312, 0.99993837])
    """
    return _POISSON("cdf", k, (mu,), loc)


def logcdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The log of the cdf of the Poisson distribution.

    >>> logcdf(np.array([0, 2, 50]), 2.5)
    array([-2.5       , -0.60914963,  0.        ])
    """
    return _POISSON("logcdf", k, (mu,), loc)


def sf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the Poisson distribution.

    >>> sf(np.array([-1, 2, 20]), 2.5)
    array([1.00000000e+00, 4.56186884e-01, 4.11855315e-13])
    """
    return _POISSON("sf", k, (mu,), loc)


def logsf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """The log of the survival function of the Poisson distribution.

    >>> logsf(np.array([-1, 2, 50]), 2.5)
    array([   0.        ,   -0.78485272, -108.12954215])
    """
    return _POISSON("logsf", k, (mu,), loc)
