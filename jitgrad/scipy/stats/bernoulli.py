"""``scipy.stats.bernoulli``: the Bernoulli distribution with success probability ``p``."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy.stats import binom
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpmf", "logsf", "pmf", "sf"]


def _one_trial(f: Any) -> Any:
    # n = 1 as an array of p's dtype (a Python 1.0 would make gammaln's result float64)
    return lambda k, p: f(k, jnp.ones_like(p), p)


# Bernoulli(p) is Binomial(1, p), as in scipy.
_BERNOULLI = Distribution("bernoulli", {
    name: _one_trial(f) for name, f in binom._BINOM.formulas.items()
}, discrete=True, support=(0.0, 1.0), valid=lambda p: jnp.logical_and(p >= 0, p <= 1),
    safe_shapes=(0.5,))


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the probability mass function of the Bernoulli distribution.

    >>> logpmf(np.array([0, 1, 2]), 0.3)
    array([-0.35667494, -1.2039728 ,        -inf])
    """
    return _BERNOULLI("logpmf", k, (p,), loc)


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The probability mass function of the Bernoulli distribution.

    >>> pmf(np.array([0.0, 0.5, 1.0]), 0.3)
    array([0.7, 0. , 0.3])
    """
    return _BERNOULLI("pmf", k, (p,), loc)


def cdf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The cumulative distribution function of the Bernoulli distribution.

    >>> cdf(np.array([-1.0, 0.0, 0.5, 1.0]), 0.3)
    array([0. , 0.7, 0.7, 1. ])
    """
    return _BERNOULLI("cdf", k, (p,), loc)


def logcdf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the cdf of the Bernoulli distribution.

    >>> logcdf(np.array([-1, 0, 1]), 0.3)
    array([       -inf, -0.35667494,  0.        ])
    """
    return _BERNOULLI("logcdf", k, (p,), loc)


def sf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The survival function ``1 - cdf`` of the Bernoulli distribution.

    >>> sf(np.array([-1, 0, 1]), 0.3)
    array([1. , 0.3, 0. ])
    """
    return _BERNOULLI("sf", k, (p,), loc)


def logsf(k: Any, p: Any, loc: Any = 0) -> Any:
    """The log of the survival function of the Bernoulli distribution.

    >>> logsf(np.array([-1, 0, 1]), 0.3)
    array([ 0.       , -1.2039728,       -inf])
    """
    return _BERNOULLI("logsf", k, (p,), loc)
