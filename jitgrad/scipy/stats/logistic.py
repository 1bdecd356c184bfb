"""``scipy.stats.logistic``: the logistic distribution."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy import special
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _log_expit(z: Any) -> Any:
    """``log(expit(z)) = -log1p(exp(-z))``, one smooth branch on each side of 0 (no abs, so
    derivatives of every order are exact at 0 too)."""
    up = z > 0
    zu, zd = jnp.where(up, z, 0.0), jnp.where(up, 0.0, z)
    return jnp.where(up, -jnp.log1p(jnp.exp(-zu)), zd - jnp.log1p(jnp.exp(zd)))


_LOGISTIC = Distribution("logistic", {
    "logpdf": lambda z: _log_expit(z) + _log_expit(-z),
    "cdf": special.expit,
    "sf": lambda z: special.expit(-z),
    "logcdf": _log_expit,
    "logsf": lambda z: _log_expit(-z),
})


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the logistic distribution.

    >>> logpdf(np.array([-1.0, 0.0, 800.0]))
    array([  -1.62652338,   -1.38629436, -800.        ])
    """
    return _LOGISTIC("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the logistic distribution.

    >>> pdf(np.array([-1.0, 0.0, 2.0]), scale=2.0)
    array([0.11750186, 0.125     , 0.09830597])
    """
    return _LOGISTIC("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the logistic distribution.

    >>> cdf(np.array([-1.0, 0.0, 2.0]))
    array([0.26894142, 0.5       , 0.88079708])
    """
    return _LOGISTIC("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the logistic distribution.

    >>> logcdf(np.array([-800.0, 0.0, 2.0]))
    array([-8.00000000e+02, -6.93147181e-01, -1.26928011e-01])
    """
    return _LOGISTIC("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the logistic distribution.

    >>> sf(np.array([-1.0, 0.0, 2.0]), loc=1.0)
    array([0.88079708, 0.73105858, 0.26894142])
    """
    return _LOGISTIC("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the logistic distribution.

    >>> logsf(np.array([-2.0, 0.0, 800.0]))
    array([-1.26928011e-01, -6.93147181e-01, -8.00000000e+02])
    """
    return _LOGISTIC("logsf", x, (), loc, scale)
