"""``scipy.stats.uniform``: the uniform distribution on [``loc``, ``loc + scale``]."""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the examples use it

from jitgrad import numpy as jnp
from jitgrad.scipy.stats._distribution import Distribution

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_UNIFORM = Distribution("uniform", {
    "logpdf": jnp.zeros_like,
    "pdf": jnp.ones_like,
    "cdf": lambda z: z,
    "sf": lambda z: 1.0 - z,
    "logcdf": jnp.log,
    "logsf": lambda z: jnp.log1p(-z),
}, support=(0.0, 1.0), inside=0.5)


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the probability density of the uniform distribution.

    >>> logpdf(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), scale=4.0)
    array([       -inf, -1.38629436, -1.38629436, -1.38629436, -1.38629436])
    """
    return _UNIFORM("logpdf", x, (), loc, scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The probability density of the uniform distribution.

    >>> pdf(np.array([-1.0, 0.5, 2.0]))
    array([0., 1., 0.])
    """
    return _UNIFORM("pdf", x, (), loc, scale)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The cumulative distribution function of the uniform distribution.

    >>> cdf(np.array([-1.0, 0.25, 2.0]), loc=0.0, scale=0.5)
    array([0. , 0.5, 1. ])
    """
    return _UNIFORM("cdf", x, (), loc, scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the cdf of the uniform distribution.

    >>> logcdf(np.array([-1.0, 0.25, 2.0]))
    array([       -inf, -1.38629436,  0.        ])
    """
    return _UNIFORM("logcdf", x, (), loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function ``1 - cdf`` of the uniform distribution.

    >>> sf(np.array([-1.0, 0.25, 2.0]))
    array([1.  , 0.75, 0.  ])
    """
    return _UNIFORM("sf", x, (), loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The log of the survival function of the uniform distribution.

    >>> logsf(np.array([-1.0, 0.25, 2.0]))
    array([ 0.        , -0.28768207,        -inf])
    """
    return _UNIFORM("logsf", x, (), loc, scale)
