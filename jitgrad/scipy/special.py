"""``scipy.special`` functions on traced or concrete arrays, differentiable in forward and
reverse mode and compiled into fused kernels by ``jit``.

Elementwise functions are primitives of ``jitgrad.prims.special`` (algorithms in
``jitgrad.special_math``) or stable compositions of primitives. Arguments broadcast and
promote as in ``jitgrad.numpy`` (NumPy 2 rules); integer and boolean inputs compute in
float64, float32 stays float32. SciPy is not used at run time.

Deliberate departures from SciPy (marked ``# NB:`` below): orders ``n`` of ``polygamma``,
``jn`` and ``yn`` are concrete integers (a traced or non-integer order is an error, where
SciPy returns nan); float32 inputs of ``polygamma`` stay float32; ``multigammaln`` does not
check its domain for traced arguments; derivatives in the order ``v`` of ``iv``/``ive``, and
second derivatives in the shape parameters of ``gammainc``/``gammaincc``/``betainc``, are
central differences of exact derivatives (relative error ~1e-10 in float64); gradients of
``xlogy``/``xlog1py``/``entr`` at ``x == 0`` follow JAX (zero where SciPy has none).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jitgrad import nn
from jitgrad import numpy as jnp
from jitgrad import prims as P
from jitgrad.core import Tracer, is_float
from jitgrad.errors import JitgradTypeError, TracerError, UnsupportedError
from jitgrad.numpy import _promote_broadcast
from jitgrad.prims import special as S

__all__ = [
    "beta", "betainc", "betaln", "boxcox", "boxcox1p", "comb", "digamma", "entr", "erf", "erfc",
    "erfcinv", "erfinv", "expit", "factorial", "gamma", "gammainc", "gammaincc", "gammaln",
    "gammasgn", "i0", "i0e", "i1", "i1e", "iv", "ive", "j0", "j1", "jn", "kl_div", "log_ndtr",
    "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "poch", "polygamma",
    "psi", "rel_entr", "rgamma", "softmax", "xlog1py", "xlogy", "y0", "y1", "yn",
]

ArrayLike = Any


def _promote(name: str, *xs: ArrayLike) -> list[Any]:
    """Broadcast the operands and promote them to their common float dtype."""
    dtype = jnp.result_type(*xs)
    # NB: integer and boolean inputs compute in float64 (as jnp's float functions).
    dtype = dtype if is_float(dtype) else np.dtype(np.float64)
    return _promote_broadcast(name, *xs, dtype=dtype)


def _apply(name: str, prim_fn: Any, *xs: ArrayLike) -> Any:
    return prim_fn(*_promote(name, *xs))


def _float(x: ArrayLike) -> Any:
    return _promote("astype", x)[0]


def _scalar(x: Any) -> Any:
    """A concrete 0-d result as a numpy scalar, as numpy's reductions return it."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


def _order(name: str, n: Any, minimum: int | None = None) -> int:
    """A static integer order (``polygamma``'s n, ``jn``'s n)."""
    # NB: SciPy broadcasts an array of orders and returns nan for a non-integer one; here the
    # order selects the primitive's derivative rule, so it must be a concrete integer.
    if isinstance(n, Tracer):
        raise TracerError(f"{name}: the order n must be a concrete integer, not a traced value; "
                          f"pass it as a Python int (or mark it static in jit)")
    arr = np.asarray(n)
    if arr.ndim and arr.size and np.all(arr == arr.flat[0]):
        arr = arr.flat[0]
    if np.ndim(arr) != 0 or float(arr) != math.floor(float(arr)) or (
            minimum is not None and float(arr) < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise JitgradTypeError(f"{name}: the order n must be one integer{bound}, got {n!r}")
    return int(arr)


# --- error function and normal distribution ---------------------------------------------------


def erf(x: ArrayLike) -> Any:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt``.

    >>> erf(np.array([0.0, 0.5, -2.0]))
    array([ 0.        ,  0.52049988, -0.99532227])
    """
    return _apply("erf", S.erf_p.bind, x)


def erfc(x: ArrayLike) -> Any:
    """The complementary error function ``1 - erf(x)``, accurate in the tail.

    >>> erfc(np.array([0.5, 10.0]))
    array([4.79500122e-01, 2.08848758e-45])
    """
    return _apply("erfc", S.erfc_p.bind, x)


def erfinv(y: ArrayLike) -> Any:
    """The inverse of ``erf`` on (-1, 1).

    >>> erfinv(np.array([0.0, 0.5, -0.999]))
    array([ 0.        ,  0.47693628, -2.32675377])
    """
    return _apply("erfinv", S.erfinv_p.bind, y)


def erfcinv(y: ArrayLike) -> Any:
    """The inverse of ``erfc`` on (0, 2).

    >>> erfcinv(np.array([1.0, 1e-10]))
    array([0.        , 4.57282497])
    """
    return _apply("erfcinv", S.erfcinv_p.bind, y)


def ndtr(x: ArrayLike) -> Any:
    """The standard normal cumulative distribution function.

    >>> ndtr(np.array([0.0, 1.0, -30.0]))
    array([5.00000000e-001, 8.41344746e-001, 4.90671393e-198])
    """
    return _apply("ndtr", S.ndtr_p.bind, x)


def ndtri(p: ArrayLike) -> Any:
    """The inverse of ``ndtr`` (the standard normal quantile function).

    >>> ndtri(np.array([0.5, 0.975, 1e-300]))
    array([  0.        ,   1.95996398, -37.0470963 ])
    """
    return _apply("ndtri", S.ndtri_p.bind, p)


def log_ndtr(x: ArrayLike) -> Any:
    """``log(ndtr(x))``, accurate for large negative and positive ``x``.

    >>> log_ndtr(np.array([0.0, -1000.0, 10.0]))
    array([-6.93147181e-01, -5.00007827e+05, -7.61985302e-24])
    """
    return _apply("log_ndtr", S.log_ndtr_p.bind, x)


# --- gamma function and relatives -------------------------------------------------------------


def gammaln(x: ArrayLike) -> Any:
    """``log(abs(gamma(x)))``.

    >>> gammaln(np.array([0.5, 10.0, -2.5]))
    array([ 0.57236494, 12.80182748, -0.05624372])
    """
    return _apply("gammaln", S.gammaln_p.bind, x)


def gamma(x: ArrayLike) -> Any:
    """The gamma function (``inf``/``-inf`` at ``+0``/``-0``, nan at negative integers).

    >>> gamma(np.array([0.5, 5.0, -1.5]))
    array([ 1.77245385, 24.        ,  2.3632718 ])
    """
    return _apply("gamma", S.gamma_p.bind, x)


def gammasgn(x: ArrayLike) -> Any:
    """The sign of the gamma function (zero derivative).

    >>> gammasgn(np.array([0.5, -0.5, -1.5, -0.0]))
    array([ 1., -1.,  1., -1.])
    """
    x = _float(x)
    fl = jnp.floor(x)
    one = jnp.ones_like(x)
    # Gamma(x) < 0 exactly where floor(x) is odd and negative; -0.0 by its sign bit.
    sgn = jnp.where(jnp.mod(fl, 2) == 1, -one, one)
    sgn = jnp.where(x == 0, jnp.sign(jnp.arctan2(x, -one)), sgn)
    return jnp.where(jnp.isnan(x) | ((x < 0) & (fl == x)), jnp.nan, jnp.where(x > 0, one, sgn))


def rgamma(x: ArrayLike) -> Any:
    """``1 / gamma(x)``, zero at the poles.

    >>> rgamma(np.array([0.5, 5.0, -2.0, 200.0]))
    array([0.56418958, 0.04166667, 0.        , 0.        ])
    """
    x = _float(x)
    pole = _is_pole(x)
    big = x > 171.6  # Gamma overflows beyond: 1/Gamma is subnormal there
    # Safe inputs in the untaken branches keep their derivatives finite (so where's zero
    # cotangent does not meet an infinite one).
    small = 1 / gamma(jnp.where(pole | big, 1.0, x))
    large = jnp.exp(-gammaln(jnp.where(big, x, 200.0)))
    return jnp.where(pole, 0.0, jnp.where(big, large, small))


def digamma(x: ArrayLike) -> Any:
    """The logarithmic derivative of the gamma function.

    >>> digamma(np.array([1.0, 0.5, -0.5]))
    array([-0.57721566, -1.96351003,  0.03648997])
    """
    return _apply("digamma", S.digamma_p.bind, x)


psi = digamma


def polygamma(n: int, x: ArrayLike) -> Any:
    """The ``n``-th derivative of ``digamma`` (``n`` a concrete integer >= 0).

    >>> polygamma(1, np.array([1.0, 0.5]))
    array([1.64493407, 4.9348022 ])
    """
    n = _order("polygamma", n, minimum=0)
    # NB: float32 stays float32 (SciPy's polygamma returns float64).
    return _apply("polygamma", lambda x: S.polygamma(x, n), x)


def multigammaln(a: ArrayLike, d: int) -> Any:
    """The log of the multivariate gamma function of dimension ``d`` (a concrete integer).

    >>> multigammaln(np.array([3.5, 5.0]), 2)
    array([2.46648573, 6.20415534])
    """
    d = _order("multigammaln", d, minimum=1)
    a = _float(a)
    if not isinstance(a, Tracer) and np.any(np.asarray(a) <= (d - 1) / 2):
        raise ValueError(f"multigammaln: condition a > (d-1)/2 = {(d - 1) / 2} not met")
    # NB: traced arguments are not checked against the domain (values are nan outside it).
    total = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(d):
        total = total + gammaln(a - 0.5 * j)
    return total


def _in_float64(fn: Any) -> Any:
    """Evaluate ``fn`` in float64 and round the result to the operands' dtype: for composites
    whose terms cancel (sums of gammaln), float32 arithmetic would lose digits that scipy's
    float32 results (computed in float64) keep."""

    def wrapper(*xs: Any) -> Any:
        xs = _promote(fn.__name__, *xs)
        dtype = jnp.result_type(xs[0])
        out = fn(*[jnp.astype(x, np.float64) for x in xs])
        return jnp.astype(out, dtype)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_in_float64
def betaln(a: ArrayLike, b: ArrayLike) -> Any:
    """``log(abs(beta(a, b)))``.

    >>> betaln(np.array([1.0, 2.5]), 3.0)
    array([-1.09861229, -2.97998392])
    """
    # At a pole of Gamma(a) or Gamma(b) the result is inf (as scipy), whatever the other is.
    # NB: inf at every pole of Gamma(a) or Gamma(b) (scipy has finite limits at some poles);
    # -inf when one argument is +inf (beta -> 0).
    pole = _is_pole(a) | _is_pole(b)
    big = ((a == jnp.inf) & (b > 0)) | ((b == jnp.inf) & (a > 0))
    return jnp.where(pole, jnp.inf,
                     jnp.where(big, -jnp.inf, gammaln(a) + gammaln(b) - gammaln(a + b)))


def _is_pole(x: Any) -> Any:
    return (x <= 0) & (jnp.floor(x) == x)


@_in_float64
def beta(a: ArrayLike, b: ArrayLike) -> Any:
    """The beta function ``gamma(a) gamma(b) / gamma(a + b)``.

    >>> beta(np.array([1.0, 2.5]), 3.0)
    array([0.33333333, 0.05079365])
    """
    # The ratio of gamma functions where none overflows; else sign * exp(betaln) (Cephes
    # beta.c's split). Each branch sees safe inputs where it is not taken.
    ok = (jnp.abs(a) < 170) & (jnp.abs(b) < 170) & (jnp.abs(a + b) < 170)
    a1, b1 = jnp.where(ok, a, 1.0), jnp.where(ok, b, 1.0)
    ratio = gamma(a1) / gamma(a1 + b1) * gamma(b1)
    a2, b2 = jnp.where(ok, 1.0, a), jnp.where(ok, 1.0, b)
    sgn = gammasgn(a2) * gammasgn(b2) * gammasgn(a2 + b2)
    pole = _is_pole(a) | _is_pole(b)  # NB: inf at every pole, as betaln
    out = jnp.where(ok, ratio, sgn * jnp.exp(betaln(a2, b2)))
    return jnp.where(pole, jnp.inf, jnp.where(_is_pole(a + b), 0.0, out))


def gammainc(a: ArrayLike, x: ArrayLike) -> Any:
    """The regularised lower incomplete gamma function ``P(a, x)``; differentiable in ``a``
    and ``x``.

    >>> gammainc(np.array([0.5, 2.0, 30.0]), 2.0)
    array([9.54499736e-01, 5.93994150e-01, 5.85531861e-25])
    """
    return _apply("gammainc", S.gammainc_p.bind, a, x)


def gammaincc(a: ArrayLike, x: ArrayLike) -> Any:
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    >>> gammaincc(np.array([0.5, 2.0]), 30.0)
    array([9.48573757e-15, 2.90086312e-12])
    """
    return _apply("gammaincc", S.gammaincc_p.bind, a, x)


def betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> Any:
    """The regularised incomplete beta function ``I_x(a, b)``; differentiable in ``a``, ``b``
    and ``x``.

    >>> betainc(2.0, 3.0, np.array([0.25, 0.5, 0.99]))
    array([0.26171875, 0.6875    , 0.99999603])
    """
    return _apply("betainc", S.betainc_p.bind, a, b, x)


# --- logistic, logs, entropies -----------------------------------------------------------------


def expit(x: ArrayLike) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``.

    >>> expit(np.array([0.0, 2.0, -800.0]))
    array([0.5       , 0.88079708, 0.        ])
    """
    return _apply("expit", P.logistic, x)


def logit(p: ArrayLike) -> Any:
    """The inverse of ``expit``: ``log(p / (1 - p))``.

    >>> logit(np.array([0.5, 0.9, 1e-10]))
    array([  0.        ,   2.19722458, -23.02585093])
    """
    p = _float(p)
    # Near 1/2, log1p((2p - 1)/(1 - p)) keeps relative accuracy (2p - 1 and 1 - p are exact
    # there); elsewhere log(p / (1 - p)). Each branch sees safe inputs where it is not taken.
    mid = jnp.abs(p - 0.5) < 0.25
    pm = jnp.where(mid, p, 0.5)
    po = jnp.where(mid, 0.25, p)
    return jnp.where(mid, jnp.log1p((2 * pm - 1) / (1 - pm)), jnp.log(po / (1 - po)))


def _x_log(name: str, log_fn: Any, lo: float, x: ArrayLike, y: ArrayLike) -> Any:
    """x * log_fn(y), defined as 0 where x == 0 and y is not nan (even where log_fn(y) is
    -inf, inf or nan), with derivatives that are 0 there as well (JAX's convention)."""
    x, y = _promote(name, x, y)
    # jnp's logical functions, not & and ~: a numpy array on the left of & would hand a
    # traced right operand to numpy's bitwise_and
    mask = jnp.logical_and(jnp.logical_and(x == 0, y == y),
                           jnp.logical_not(jnp.logical_and(y > lo, y < jnp.inf)))
    return x * log_fn(jnp.where(mask, 1.0 if lo == 0 else 0.0, y))


def xlogy(x: ArrayLike, y: ArrayLike) -> Any:
    """``x * log(y)``, 0 where ``x == 0``.

    >>> xlogy(np.array([0.0, 2.0]), np.array([0.0, 3.0]))
    array([0.        , 2.19722458])
    """
    return _x_log("xlogy", jnp.log, 0.0, x, y)


def xlog1py(x: ArrayLike, y: ArrayLike) -> Any:
    """``x * log1p(y)``, 0 where ``x == 0``.

    >>> xlog1py(np.array([0.0, 2.0]), np.array([-1.0, 1e-20]))
    array([0.e+00, 2.e-20])
    """
    return _x_log("xlog1py", jnp.log1p, -1.0, x, y)


def entr(x: ArrayLike) -> Any:
    """Elementwise entropy ``-x log x`` (0 at 0, ``-inf`` for ``x < 0``).

    >>> entr(np.array([0.0, 0.5, -1.0]))
    array([0.        , 0.34657359,       -inf])
    """
    x = _float(x)
    xs = jnp.where(x < 0, 1.0, x)
    # (-0.0 at 1, +0.0 at 0: SciPy's signs)
    return jnp.where(x < 0, -jnp.inf, jnp.where(x == 0, 0.0, -xlogy(xs, xs)))


def rel_entr(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise relative entropy ``x log(x/y)`` (0 where ``x == 0 <= y``, else ``inf``
    outside ``x, y > 0``).

    >>> rel_entr(np.array([0.5, 0.0, 1.0]), np.array([0.25, 1.0, 0.0]))
    array([0.34657359, 0.        ,        inf])
    """
    x, y = _promote("rel_entr", x, y)
    pos = (x > 0) & (y > 0)
    xs, ys = jnp.where(pos, x, 1.0), jnp.where(pos, y, 1.0)
    edge = jnp.where((x == 0) & (y >= 0), jnp.zeros_like(x), jnp.full_like(x, jnp.inf))
    edge = jnp.where(jnp.isnan(x) | jnp.isnan(y), jnp.nan, edge)
    # log(x / y) loses the digits of a ratio near 1 (its rounding error is then most of
    # log's small result): log1p((x - y) / y) keeps them (x - y is exact there). Where x / y
    # would overflow, underflow or be subnormal, log x - log y (finite) is the value. Each
    # branch sees harmless inputs where it is not taken (no overflow, and derivatives that
    # stay finite: 0 times an overflowed derivative would be nan).
    log_gap = jnp.log(xs) - jnp.log(ys)
    near = (xs > 0.5 * ys) & (0.5 * xs < ys)
    far = jnp.abs(log_gap) > 0.99 * -math.log(np.finfo(log_gap.dtype).tiny)
    xn, yn = jnp.where(near, xs, 1.0), jnp.where(near, ys, 1.0)
    mid = jnp.logical_not(near | far)
    xm, ym = jnp.where(mid, xs, 1.0), jnp.where(mid, ys, 1.0)
    value = jnp.where(near, xn * jnp.log1p((xn - yn) / yn),
                      jnp.where(far, xs * log_gap, xm * jnp.log(xm / ym)))
    return jnp.where(pos, value, edge)


def kl_div(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise ``x log(x/y) - x + y`` (``y`` where ``x == 0 <= y``, else ``inf`` outside
    ``x, y > 0``), as SciPy's.

    >>> kl_div(np.array([0.5, 0.0, 1.0]), np.array([0.25, 2.0, -1.0]))
    array([0.09657359, 2.        ,        inf])
    """
    x, y = _promote("kl_div", x, y)
    pos = (x > 0) & (y > 0)
    zero = (x == 0) & (y >= 0)
    # Near x == y the three terms cancel to (x - y)**2 / 2y: there it is y f(d) with d =
    # (x - y) / y and f(d) = (1 + d) log1p(d) - d = sum_k (-d)**k / (k (k - 1)), k >= 2,
    # summed to 14 terms for |d| < 0.1 (the first omitted term is below 1e-16 of the sum).
    d = jnp.where(pos, (x - y) / jnp.where(pos, y, 1.0), 0.0)
    near = jnp.abs(d) < 0.1
    dn = jnp.where(near, d, 0.0)
    poly = 0.0
    for k in range(15, 1, -1):  # Horner: f(d) / d**2 = sum_k c_k d**(k - 2)
        poly = poly * dn + (-1.0) ** k / (k * (k - 1))
    close = jnp.where(pos, y, 0.0) * dn * dn * poly
    r = rel_entr(x, y)
    value = jnp.where(pos | zero, r - x + y, r)
    return jnp.where(near & pos, close, value)


def _boxcox(name: str, log_fn: Any, x: ArrayLike, lmbda: ArrayLike) -> Any:
    x, lmbda = _promote(name, x, lmbda)
    logx = log_fn(x)
    # expm1(l log x) / l keeps its digits for small l; at l == 0 the limit log x (the
    # untaken branch divides by a harmless 1)
    small = jnp.abs(lmbda) < 1e-19
    safe = jnp.where(small, 1.0, lmbda)
    return jnp.where(small, logx, jnp.expm1(safe * logx) / safe)


def boxcox(x: ArrayLike, lmbda: ArrayLike) -> Any:
    """The Box-Cox transform ``(x**lmbda - 1) / lmbda`` (``log x`` at ``lmbda == 0``).

    >>> boxcox(np.array([1.0, np.e]), np.array([0.0, 0.0]))
    array([0., 1.])
    """
    return _boxcox("boxcox", jnp.log, x, lmbda)


def boxcox1p(x: ArrayLike, lmbda: ArrayLike) -> Any:
    """The Box-Cox transform of ``1 + x``, accurate for small ``x``.

    >>> boxcox1p(np.array([1e-20]), 0.5)
    array([1.e-20])
    """
    return _boxcox("boxcox1p", jnp.log1p, x, lmbda)


def poch(z: ArrayLike, m: ArrayLike) -> Any:
    """The Pochhammer symbol (rising factorial) ``Gamma(z + m) / Gamma(z)``.

    >>> poch(np.array([3.0, 0.5]), np.array([2.0, 1.0]))
    array([12. ,  0.5])
    """
    z, m = _promote("poch", z, m)
    # Where z and z + m are both poles (non-positive integers) the ratio is finite: by the
    # reflection formula it is (-1)^m Gamma(1 - z) / Gamma(1 - z - m). Each branch gets
    # harmless inputs where it is not taken.
    # Where only z is a pole, 1 / Gamma(z) makes it 0; where only z + m is, inf (SciPy's).
    z_pole = (z <= 0) & (z == jnp.floor(z))
    zm_pole = (z + m <= 0) & (z + m == jnp.floor(z + m))
    poles = z_pole & zm_pole
    zr, mr = jnp.where(poles, z, 0.5), jnp.where(poles, m, 0.0)
    reflected = (1.0 - 2.0 * jnp.remainder(mr, 2.0)) * jnp.exp(gammaln(1.0 - zr)
                                                             - gammaln(1.0 - zr - mr))
    either = z_pole | zm_pole
    zs, ms = jnp.where(either, 0.5, z), jnp.where(either, 0.0, m)
    direct = gammasgn(zs + ms) * gammasgn(zs) * jnp.exp(gammaln(zs + ms) - gammaln(zs))
    value = jnp.where(poles, reflected, jnp.where(z_pole, 0.0, jnp.where(zm_pole, jnp.inf,
                                                                         direct)))
    return jnp.where(m == 0, 1.0, value)  # the empty product, whatever z (SciPy's)


def comb(N: ArrayLike, k: ArrayLike, *, exact: bool = False,  # noqa: N803 - SciPy's names
         repetition: bool = False) -> Any:
    """The binomial coefficient "N choose k" in floating point (0 where ``k > N``, ``k < 0``
    or ``N < 0``); ``repetition``: "N + k - 1 choose k". ``exact=True`` (Python integers)
    is SciPy's concern, not provided on traced values.

    >>> comb(np.array([5.0, 10.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    array([ 10., 120.,   0.])
    """
    if exact:
        if isinstance(N, Tracer) or isinstance(k, Tracer):
            raise UnsupportedError("comb(exact=True): exact integers need concrete N and k")
        n, kk = int(N), int(k)
        n = n + kk - 1 if repetition else n
        return math.comb(n, kk) if 0 <= kk <= n else 0
    N, k = _promote("comb", N, k)
    if repetition:
        N = N + k - 1
    ok = (k >= 0) & (N >= 0) & (k <= N) & (N < jnp.inf)
    n, kk = jnp.where(ok, N, 1.0), jnp.where(ok, k, 0.0)
    value = jnp.exp(gammaln(n + 1) - gammaln(kk + 1) - gammaln(n - kk + 1))
    # integers stay integers where the float can hold them exactly
    value = jnp.where((value < 2.0 ** 52) & (n == jnp.round(n)) & (kk == jnp.round(kk)),
                      jnp.round(value), value)
    # N = inf: SciPy's limits (inf for whole k > 0, nan for others); NaNs give 0, as SciPy's
    whole = (k == jnp.floor(k)) & (k < jnp.inf)
    infinite = jnp.where(k == 0, 1.0, jnp.where(k < 0, 0.0, jnp.where(whole, jnp.inf, jnp.nan)))
    edge = jnp.where((N == jnp.inf) & ~jnp.isnan(k), infinite, 0.0)
    return jnp.where(ok, value, edge.astype(value.dtype))


def factorial(n: ArrayLike, exact: bool = False) -> Any:
    """``n!`` as ``Gamma(n + 1)`` (0 for ``n < 0``); ``exact=True`` needs a concrete integer.

    >>> factorial(np.array([0.0, 3.0, 4.5, -1.0]))
    array([ 1.        ,  6.        , 52.34277778,  0.        ])
    """
    if exact:
        if isinstance(n, Tracer):
            raise UnsupportedError("factorial(exact=True): exact integers need a concrete n")
        return math.factorial(int(n)) if int(n) >= 0 else 0
    n = _float(n)
    safe = jnp.where(n >= 0, n, 0.0)
    return jnp.where(n >= 0, gamma(safe + 1), jnp.where(jnp.isnan(n), n, jnp.zeros_like(n)))


# --- reductions --------------------------------------------------------------------------------


def logsumexp(a: ArrayLike, axis: Any = None, b: ArrayLike = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """``log(sum(b * exp(a)))`` over ``axis`` without overflow; with ``return_sign`` the pair
    ``(log|s|, sign(s))``, otherwise nan where the sum is negative (as SciPy).

    >>> logsumexp(np.array([1000.0, 1000.0]))
    np.float64(1000.6931471805599)
    >>> logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0]), return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    """
    a = _float(a)
    if b is None and not return_sign:
        return _scalar(nn.logsumexp(a, axis=axis, keepdims=keepdims))
    if b is not None:
        a, b = _promote("logsumexp", a, b)
        m = jnp.max(jnp.where(b != 0, a, -jnp.inf), axis=axis, keepdims=True)
    else:
        m = jnp.max(a, axis=axis, keepdims=True)
    m = jnp.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
    e = jnp.exp(a - m)
    s = jnp.sum(e if b is None else b * e, axis=axis, keepdims=True)
    if return_sign:
        out = jnp.log(jnp.abs(s)) + m
        sgn = jnp.sign(s)
        if not keepdims:
            out, sgn = jnp.squeeze(out, axis=axis), jnp.squeeze(sgn, axis=axis)
        return _scalar(out), _scalar(sgn)
    out = jnp.log(s) + m
    return _scalar(out if keepdims else jnp.squeeze(out, axis=axis))


def softmax(x: ArrayLike, axis: Any = None) -> Any:
    """``exp(x) / sum(exp(x))`` over ``axis`` (all axes by default, as SciPy).

    >>> softmax(np.array([[0.0, np.log(3.0)]]), axis=1)
    array([[0.25, 0.75]])
    """
    return nn.softmax(_float(x), axis=axis)


def log_softmax(x: ArrayLike, axis: Any = None) -> Any:
    """``x - logsumexp(x)`` over ``axis`` (all axes by default, as SciPy).

    >>> log_softmax(np.array([0.0, np.log(3.0)]))
    array([-1.38629436, -0.28768207])
    """
    return nn.log_softmax(_float(x), axis=axis)


# --- Bessel functions --------------------------------------------------------------------------


def i0e(x: ArrayLike) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I0(x)``.

    >>> i0e(np.array([0.0, 1.0, 100.0]))
    array([1.        , 0.46575961, 0.03994438])
    """
    return _apply("i0e", S.i0e_p.bind, x)


def i1e(x: ArrayLike) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I1(x)``.

    >>> i1e(np.array([0.0, 1.0, -100.0]))
    array([ 0.        ,  0.20791042, -0.03974415])
    """
    return _apply("i1e", S.i1e_p.bind, x)


@_in_float64  # exp(|x|) overflows float32 before I(x) does
def i0(x: ArrayLike) -> Any:
    """The modified Bessel function of the first kind, order 0.

    >>> i0(np.array([0.0, 1.0]))
    array([1.        , 1.26606588])
    """
    return i0e(x) * jnp.exp(jnp.abs(x))


@_in_float64  # exp(|x|) overflows float32 before I(x) does
def i1(x: ArrayLike) -> Any:
    """The modified Bessel function of the first kind, order 1.

    >>> i1(np.array([0.0, 1.0]))
    array([0.       , 0.5651591])
    """
    return i1e(x) * jnp.exp(jnp.abs(x))


def ive(v: ArrayLike, x: ArrayLike) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I_v(x)`` of real order.

    >>> ive(np.array([0.5, 2.0]), 3.0)
    array([0.2297585 , 0.11178255])
    """
    return _apply("ive", S.ive_p.bind, v, x)


@_in_float64  # exp(|x|) overflows float32 before I_v(x) does
def iv(v: ArrayLike, x: ArrayLike) -> Any:
    """The modified Bessel function of the first kind of real order ``v``.

    >>> iv(np.array([0.5, 2.0]), 3.0)
    array([4.6148229 , 2.24521244])
    """
    return ive(v, x) * jnp.exp(jnp.abs(x))


def jn(n: int, x: ArrayLike) -> Any:
    """The Bessel function of the first kind of integer order ``n`` (a concrete integer).

    >>> jn(2, np.array([1.0, 10.0]))
    array([0.11490348, 0.25463031])
    """
    n = _order("jn", n)
    return _apply("jn", lambda x: S.jn(x, n), x)


def yn(n: int, x: ArrayLike) -> Any:
    """The Bessel function of the second kind of integer order ``n`` (a concrete integer).

    >>> yn(2, np.array([1.0, 10.0]))
    array([-1.65068261, -0.00586808])
    """
    n = _order("yn", n)
    return _apply("yn", lambda x: S.yn(x, n), x)


def j0(x: ArrayLike) -> Any:
    """The Bessel function of the first kind of order 0.

    >>> j0(np.array([0.0, 1.0, 30.0]))
    array([ 1.        ,  0.76519769, -0.08636798])
    """
    return jn(0, x)


def j1(x: ArrayLike) -> Any:
    """The Bessel function of the first kind of order 1.

    >>> j1(np.array([1.0, 30.0]))
    array([ 0.44005059, -0.11875106])
    """
    return jn(1, x)


def y0(x: ArrayLike) -> Any:
    """The Bessel function of the second kind of order 0.

    >>> y0(np.array([1.0, 30.0]))
    array([ 0.08825696, -0.11729573])
    """
    return yn(0, x)


def y1(x: ArrayLike) -> Any:
    """The Bessel function of the second kind of order 1.

    >>> y1(np.array([1.0, 30.0]))
    array([-0.78121282,  0.08442557])
    """
    return yn(1, x)
