"""``scipy.stats.cauchy``: the Cauchy (Lorentz) distribution."""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _logpdf(z: Any) -> Any:
    # -log(pi) - log1p(z^2) inside [-1, 1]; outside, -log(pi) - 2 log|z| - log1p(1/z^2),
    # which does not overflow (scipy's split).
    small = jnp.abs(z) < 1
    zs, zl = jnp.where(small, z, 0.0), jnp.where(small, 1.0, z)
    return -math.log(math.pi) - jnp.where(
        small, jnp.log1p(zs * zs), 2 * jnp.log(jnp.abs(zl)) + jnp.log1p(jnp.square(1 / zl)))


_CAUCHY = Distribution("cauchy", {
    "logpdf": _logpdf,
    "pdf": lambda z: 1 / math.pi / (1 + z * z),
    "cdf": lambda z: jnp.arctan2(1.0, -z) / math.pi,
    "sf": lambda z: jnp.arctan2(1.0, z) / math.pi,
})


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the Cauchy distribution.

    >>> logpdf(np.array([-1.0, 0.0, 1e200]))
    array([  -1.83787707,   -1.14472989, -922.17876708])
    """
    return _CAUCHY("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the Cauchy distribution.

    >>> pdf(np.array([-1.0, 0.0, 2.0]), scale=2.0)
    array([0.12732395, 0.15915494, 0.07957747])
    """
    return _CAUCHY("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the Cauchy distribution.

    >>> cdf(np.array([-1.0, 0.0, 2.0]))
    array([0.25      , 0.5       , 0.85241638])
    """
    return _CAUCHY("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the Cauchy distribution.

    >>> logcdf(np.array([-1e10, 0.0, 2.0]))
    array([-24.17058082,  -0.69314718,  -0.15968016])
    """
    return _CAUCHY("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the Cauchy distribution.

    >>> sf(np.array([-1.0, 0.0, 2.0]), loc=1.0)
    array([0.85241638, 0.75      , 0.25      ])
    """
    return _CAUCHY("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the Cauchy distribution.

    >>> logsf(np.array([-2.0, 0.0, 1e10]))
    array([ -0.15968016,  -0.69314718, -24.17058082])
    """
    return _CAUCHY("logsf", x, (), loc, scale)
