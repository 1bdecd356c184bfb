"""``scipy.stats.binom``: the binomial distribution of ``n`` trials with success probability
``p``."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]


def _logpmf(k: Any, n: Any, p: Any) -> Any:
    comb = special.gammaln(n + 1.0) - (special.gammaln(k + 1.0) + special.gammaln(n - k + 1.0))
    return comb + special.xlogy(k, p) + special.xlog1py(n - k, -p)


def _valid(n: Any, p: Any) -> Any:
    return jnp.logical_and(jnp.logical_and(n >= 0, jnp.floor(n) == n),
                           jnp.logical_and(p >= 0, p <= 1))


_BINOM = Distribution("binom", {
    "logpmf": _logpmf,
    "cdf": lambda k, n, p: special.betainc(n - k, k + 1.0, 1.0 - p),
    "sf": lambda k, n, p: special.betainc(k + 1.0, n - k, p),
}, discrete=True, support=lambda n, p: (0.0, n), valid=_valid, safe_shapes=(1.0, 0.5))


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the probability mass function of the binomial distribution.

    >>> logpmf(np.array([0, 3, 10]), 10, 0.3)
    array([ -3.56674944,  -1.32115128, -12.03972804])
    """
    return _BINOM("logpmf", k, (n, p), loc)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The probability mass function of the binomial distribution.

    >>> pmf(np.array([0.0, 3.0, 3.5, 11.0]), 10, 0.3)
    array([0.02824752, 0.26682793, 0.        , 0.        ])
    """
    return _BINOM("pmf", k, (n, p), loc)


def cdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The cumulative distribution function of the binomial distribution.

    >>> cdf(np.array([-1.0, 3.0, 3.5, 10.0]), 10, 0.3)
    array([0.        , 0.64961072, 0.64961072, 1.        ])
    """
    return _BINOM("cdf", k, (n, p), loc)


def logcdf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the cdf of the binomial distribution.

    >>> logcdf(np.array([0, 3, 9]), 10, 0.3)
    array([-3.56674944e+00, -4.31381990e-01, -5.90491743e-06])
    """
    return _BINOM("logcdf", k, (n, p), loc)


def sf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the binomial distribution.

    >>> sf(np.array([-1, 3, 9]), 10, 0.3)
    array([1.00000000e+00, 3.50389282e-01, 5.90490000e-06])
    """
    return _BINOM("sf", k, (n, p), loc)


def logsf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the survival function of the binomial distribution.

    >>> logsf(np.array([0, 3, 9]), 10, 0.3)
    array([ -0.02865416,  -1.04871051, -12.03972804])
    """
    return _BINOM("logsf", k, (n, p), loc)
