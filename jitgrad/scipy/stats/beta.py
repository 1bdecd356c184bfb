"""``scipy.stats.beta``: the beta distribution with shapes ``a`` and ``b`` on [0, 1]."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_BETA = Distribution("beta", {
    "logpdf": lambda z, a, b: (special.xlog1py(b - 1.0, -z) + special.xlogy(a - 1.0, z)
                               - special.betaln(a, b)),
    "cdf": lambda z, a, b: special.betainc(a, b, z),
    "sf": lambda z, a, b: special.betainc(b, a, 1.0 - z),
}, support=(0.0, 1.0), inside=0.5)


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the beta distribution.

    >>> logpdf(np.array([0.1, 0.5, 0.9]), 2.0, 3.0)
    array([-0.02839947,  0.40546511, -2.22562405])
    """
    return _BETA("logpdf", x, (a, b), loc, scale)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the beta distribution.

    >>> pdf(np.array([0.0, 0.5, 1.0]), np.array([0.5, 2.0, 1.0]), 3.0)
    array([inf, 1.5, 0. ])
    """
    return _BETA("pdf", x, (a, b), loc, scale)


def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the beta distribution.

    >>> cdf(np.array([-1.0, 0.25, 0.5, 2.0]), 2.0, 3.0)
    array([0.        , 0.26171875, 0.6875    , 1.        ])
    """
    return _BETA("cdf", x, (a, b), loc, scale)


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the beta distribution.

    >>> logcdf(np.array([1e-3, 0.5, 0.9]), 2.0, 3.0)
    array([-1.20250848e+01, -3.74693449e-01, -3.70686193e-03])
    """
    return _BETA("logcdf", x, (a, b), loc, scale)


def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the beta distribution.

    >>> sf(np.array([-1.0, 0.25, 0.999]), 2.0, 3.0)
    array([1.0000000e+00, 7.3828125e-01, 3.9970000e-09])
    """
    return _BETA("sf", x, (a, b), loc, scale)


def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the beta distribution.

    >>> logsf(np.array([0.1, 0.5, 0.999]), 2.0, 3.0)
    array([ -0.05371728,  -1.16315081, -19.33772176])
    """
    return _BETA("logsf", x, (a, b), loc, scale)
