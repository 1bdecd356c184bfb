"""scipy.stats' handling of a univariate distribution's arguments around its formulas: promotion
and broadcasting, ``loc``/``scale``, invalid parameters (nan), the support (``-inf`` log
density outside, ``cdf`` 0 or 1, ``pmf`` 0 off the integers), with safe operands in every
branch that is not taken so that derivatives stay finite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad.scipy.special import _promote

Formula = Callable[..., Any]


def _log(f: Formula) -> Formula:
    return lambda *a: jnp.log(f(*a))


def _exp(f: Formula) -> Formula:
    return lambda *a: jnp.exp(f(*a))


def _log_smaller(p: Formula, q: Formula) -> Formula:
    """``log(p)`` where ``p < 1/2``, else ``log1p(-q)`` (``q = 1 - p`` computed on its own), each
    branch on safe operands."""

    def log_p(*a: Any) -> Any:
        pv, qv = p(*a), q(*a)
        small = pv < 0.5
        return jnp.where(small, jnp.log(jnp.where(small, pv, 0.5)),
                         jnp.log1p(-jnp.where(small, 0.5, qv)))

    return log_p


def _positive(*shapes: Any) -> Any:
    """scipy's default parameter check: every shape parameter is positive."""
    ok = True
    for s in shapes:
        ok = jnp.logical_and(ok, s > 0)
    return ok


def _fill(method: str, z: Any, lo: Any, hi: Any, discrete: bool) -> Any:
    """Each method's value outside where its formula applies (scipy's conventions): densities
    vanish, cdf is 1 past the upper end, sf is 1 below the lower end (at it, for a continuous
    distribution)."""
    low = z < lo if discrete else z <= lo
    zero = jnp.zeros_like(z)
    one = jnp.ones_like(z)
    fills = {
        "pdf": lambda: zero, "pmf": lambda: zero,
        "logpdf": lambda: zero - jnp.inf, "logpmf": lambda: zero - jnp.inf,
        "cdf": lambda: jnp.where(z >= hi, one, zero),
        "logcdf": lambda: jnp.where(z >= hi, zero, zero - jnp.inf),
        "sf": lambda: jnp.where(low, one, zero),
        "logsf": lambda: jnp.where(low, zero, zero - jnp.inf),
    }
    return fills[method]()


class Distribution:
    """One univariate distribution: its formulas on the standardised variable
    ``z = (x - loc) / scale`` (continuous) or ``k - loc`` (discrete, floored for the cdf
    family), given as ``name -> f(z, *shapes)``; the parameter check; the support ``(lo,
    hi)`` (numbers or a function of the shapes); and a point inside it, where the formulas
    are evaluated instead of outside."""

    def __init__(self, name: str, formulas: dict[str, Formula], *, discrete: bool = False,
                 support: Any = (-np.inf, np.inf), valid: Formula = _positive,
                 inside: float = 0.0, safe_shapes: tuple[float, ...] = ()):
        self.name, self.discrete = name, discrete
        self.support, self.valid, self.inside = support, valid, inside
        self.safe_shapes = safe_shapes
        f = dict(formulas)
        density = "pmf" if discrete else "pdf"
        f.setdefault(density, _exp(f[f"log{density}"]))
        if discrete:  # scipy's rv_discrete: the log of the cdf or sf
            f.setdefault("logcdf", _log(f["cdf"]))
            f.setdefault("logsf", _log(f["sf"]))
        else:  # scipy's rv_continuous: the log of the smaller of cdf and sf, else log1p
            f.setdefault("logcdf", _log_smaller(f["cdf"], f["sf"]))
            f.setdefault("logsf", _log_smaller(f["sf"], f["cdf"]))
        self.formulas = f

    def __call__(self, method: str, x: Any, shapes: tuple, loc: Any, scale: Any = 1) -> Any:
        # Concrete arguments compute in numpy: infinities and nans are results here (log 0 at
        # the end of the support, nan for invalid parameters), not warnings (as in scipy).
        with np.errstate(all="ignore"):
            return self._evaluate(method, x, shapes, loc, scale)

    def _evaluate(self, method: str, x: Any, shapes: tuple, loc: Any, scale: Any) -> Any:
        name = f"{self.name}.{method}"
        x, loc, scale, *shapes = _promote(name, x, loc, scale, *shapes)
        ok = jnp.logical_and(self.valid(*shapes), scale > 0)
        safe = [jnp.where(ok, s, v) for s, v in zip(shapes, self.safe_shapes or
                                                      (1.0,) * len(shapes), strict=True)]
        lo, hi = self.support(*safe) if callable(self.support) else self.support
        z = x - loc if self.discrete else (x - loc) / scale
        density = method in ("pdf", "logpdf", "pmf", "logpmf")
        if self.discrete and not density:
            z = jnp.floor(z)
        if density:  # the closed support (and the integers)
            applies = jnp.logical_and(z >= lo, z <= hi)
            if self.discrete:
                applies = jnp.logical_and(applies, jnp.floor(z) == z)
        elif self.discrete:
            applies = jnp.logical_and(z >= lo, z < hi)
        else:
            applies = jnp.logical_and(z > lo, z < hi)
        applies = jnp.logical_and(applies, ok)
        value = self.formulas[method](jnp.where(applies, z, self.inside), *safe)
        if not self.discrete:
            sc = jnp.where(ok, scale, 1.0)
            if method == "pdf":
                value = value / sc
            elif method == "logpdf":
                value = value - jnp.log(sc)
        out = jnp.where(applies, value, _fill(method, z, lo, hi, self.discrete))
        return jnp.where(jnp.logical_and(ok, z == z), out, jnp.nan)
