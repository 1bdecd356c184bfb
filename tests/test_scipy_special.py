"""jitgrad.scipy.special, table-driven: every function against scipy.special (float64 and
float32, batched, broadcast, 0-d, size-0, special values, wide grids with the tails), jvp
against finite differences and vjp against jvp to order 2, jit against eager and vmap against
a Python loop; plus the derivative formulas, JAX's zero conventions, the static-order errors
and the vectorisation of the hot kernels."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.special as sc

import jitgrad as jg
import jitgrad.numpy as jnp
import jitgrad.scipy.special as jsp
from jitgrad.errors import JitgradTypeError, TracerError, UnsupportedError

rng = np.random.default_rng(0)


# Value grids draw from the generator each test passes in (value_args: a fresh one per test),
# so a test's points do not depend on which tests ran before it in the same process: drawn
# from the shared one, digamma's grid sometimes landed next to a negative zero, where both
# scipy and jitgrad are ~2e-11 off in relative terms, and the test failed in some orders.
def U(lo, hi, n=300):
    return lambda r: r.uniform(lo, hi, n)


def L(lo, hi, n=100, sign=1.0):
    """Log-uniform magnitudes 10**lo .. 10**hi."""
    return lambda r: sign * 10 ** r.uniform(lo, hi, n)


def cat(*parts):
    return lambda r: np.concatenate([p(r) for p in parts])


def fixed(n, f):
    """A function of x with a static first argument n (polygamma, jn, ...)."""
    return lambda *xs: f(n, *xs)


class Spec:
    """One function: jitgrad's and scipy's, the value grid per argument (wide, with the tails),
    the small grid where derivatives are checked, and the tolerances against scipy.

    ``rtol``/``atol`` (float64) reflect scipy's own error where it is the larger one (its
    ndtr tail, its gammaln next to the zeros at 1 and 2, its digamma next to the poles);
    ``rtol32`` is for float32, where composites round in float32."""

    def __init__(self, fn, ref, values, grads, rtol=4e-15, atol=0.0, rtol32=3e-7,
                 grad_args=None, order=2):
        self.fn, self.ref, self.values, self.grads = fn, ref, values, grads
        self.rtol, self.atol, self.rtol32 = rtol, atol, rtol32
        self.grad_args = grad_args
        self.order = order


POS = (0.5, 3.0)
SPECS = {
    "erf": Spec(jsp.erf, sc.erf, [cat(U(-6, 6), L(-300, 0), L(-300, 0, sign=-1))], [(-2, 2)]),
    "erfc": Spec(jsp.erfc, sc.erfc, [cat(U(-6, 6), U(6, 26.5))], [(-2, 2)], rtol=1e-13),
    "ndtr": Spec(jsp.ndtr, sc.ndtr, [cat(U(-8, 8), U(-37.5, -8))], [(-3, 3)], rtol=5e-13),
    "log_ndtr": Spec(jsp.log_ndtr, sc.log_ndtr, [cat(U(-40, 10), L(1, 3, sign=-1))],
                     [(-30, 5)], rtol=5e-14),
    "erfinv": Spec(jsp.erfinv, sc.erfinv, [cat(U(-1, 1), L(-300, -1))], [(-0.9, 0.9)]),
    "erfcinv": Spec(jsp.erfcinv, sc.erfcinv, [cat(U(0, 2), L(-300, 0))], [(0.1, 1.9)]),
    "ndtri": Spec(jsp.ndtri, sc.ndtri, [cat(U(0, 1), L(-300, -1))], [(0.02, 0.98)]),
    "expit": Spec(jsp.expit, sc.expit, [U(-50, 50)], [(-5, 5)], rtol32=5e-7),
    "logit": Spec(jsp.logit, sc.logit, [cat(U(0, 1), L(-300, -1))], [(0.05, 0.95)],
                  rtol32=1e-6),
    "gammaln": Spec(jsp.gammaln, sc.gammaln,
                    [cat(U(-20, 30), U(0.9, 1.1), U(1.9, 2.1), L(-300, 300), U(-10.9, -10.1))],
                    [POS], atol=5e-16),
    "gamma": Spec(jsp.gamma, sc.gamma, [cat(U(-30, 30), U(30, 171.5), U(-180, -34))], [POS],
                  rtol=6e-15),
    "rgamma": Spec(jsp.rgamma, sc.rgamma, [cat(U(-30, 30), U(30, 180))], [POS], rtol=6e-15,
                   atol=1e-300, rtol32=1e-6),
    "gammasgn": Spec(jsp.gammasgn, sc.gammasgn, [U(-10, 10)], [POS], rtol=0.0, rtol32=0.0),
    "digamma": Spec(jsp.digamma, sc.digamma,
                    [cat(U(-20, 30), U(1.4, 1.5), L(-300, 300), U(-3.001, -2.999))], [POS],
                    rtol=5e-12, atol=1e-15),
    "psi": Spec(jsp.psi, sc.psi, [U(0.1, 20)], [POS]),
    **{f"polygamma{n}": Spec(fixed(n, jsp.polygamma), fixed(n, sc.polygamma),
                             [cat(U(0.05, 30), U(-5.9, -0.1))], [POS], rtol=5e-14)
       for n in (1, 2, 3, 4)},
    "multigammaln": Spec(lambda a: jsp.multigammaln(a, 3), lambda a: sc.multigammaln(a, 3),
                         [U(1.01, 30)], [(1.5, 4)], rtol=1e-14, rtol32=2e-6),
    "beta": Spec(jsp.beta, sc.beta, [U(0.1, 40), U(0.1, 200)], [POS, POS], rtol=5e-13),
    "betaln": Spec(jsp.betaln, sc.betaln, [U(0.1, 50), U(0.1, 50)], [POS, POS], rtol=2e-12,
                   atol=1e-13),
    "gammainc": Spec(jsp.gammainc, sc.gammainc, [cat(U(0.05, 50), L(2, 3)), cat(U(0, 60),
                     L(2, 3))], [POS, POS], rtol=3e-12, atol=1e-300),
    "gammaincc": Spec(jsp.gammaincc, sc.gammaincc, [cat(U(0.05, 50), L(2, 3)),
                      cat(U(0, 60), L(2, 3))], [POS, POS], rtol=3e-12, atol=1e-300),
    "betainc": Spec(jsp.betainc, sc.betainc, [U(0.05, 40), U(0.05, 40), U(0, 1)],
                    [POS, POS, (0.1, 0.9)], rtol=1e-12, atol=1e-300),
    "xlogy": Spec(jsp.xlogy, sc.xlogy, [U(-2, 2), U(0, 5)], [(-2, 2), POS], rtol32=1e-6),
    "xlog1py": Spec(jsp.xlog1py, sc.xlog1py, [U(-2, 2), U(-1, 5)], [(-2, 2), POS],
                    rtol32=1e-6),
    "entr": Spec(jsp.entr, sc.entr, [U(-1, 3)], [POS], rtol32=1e-6),
    "rel_entr": Spec(jsp.rel_entr, sc.rel_entr, [U(-0.5, 3), U(-0.5, 3)], [POS, POS],
                     rtol=1e-14, atol=1e-15, rtol32=1e-5),  # float32: atol 1e-7 (x ~ y)
    "i0e": Spec(jsp.i0e, sc.i0e, [U(-60, 60)], [(-3, 3)]),
    "i1e": Spec(jsp.i1e, sc.i1e, [U(-60, 60)], [(-3, 3)]),
    "i0": Spec(jsp.i0, sc.i0, [U(-700, 700)], [(-3, 3)], rtol32=1e-5),
    "i1": Spec(jsp.i1, sc.i1, [U(-700, 700)], [(-3, 3)], rtol32=1e-5),
    "ive": Spec(jsp.ive, sc.ive, [U(0, 40), cat(U(0, 60), U(0, 1))], [POS, POS], rtol=1e-13),
    "iv": Spec(jsp.iv, sc.iv, [U(-0.9, 30), U(0, 30)], [POS, POS], rtol=1e-13, rtol32=1e-5),
    "kl_div": Spec(jsp.kl_div, sc.kl_div, [U(-0.5, 3), U(-0.5, 3)], [POS, POS], rtol=1e-14,
                   atol=1e-15, rtol32=1e-5),
    "boxcox": Spec(jsp.boxcox, sc.boxcox, [U(0, 10), U(-3, 3)], [POS, (-1, 1)], rtol=1e-14,
                   rtol32=2e-6),
    "boxcox1p": Spec(jsp.boxcox1p, sc.boxcox1p, [U(-1, 10), U(-3, 3)], [POS, (-1, 1)],
                     rtol=1e-14, rtol32=2e-6),
    "poch": Spec(jsp.poch, sc.poch, [U(-6, 6), U(-3, 3)], [POS, POS], rtol=5e-14,
                 rtol32=2e-5),
    "comb": Spec(jsp.comb, sc.comb, [U(0, 30), U(0, 30)], [(5, 8), (1, 3)], rtol=5e-13,
                 rtol32=2e-5),
    # (float32: n + 1 rounds, and gamma's condition number n psi(n) magnifies it)
    "factorial": Spec(jsp.factorial, sc.factorial, [U(-2, 170)], [POS], rtol=6e-15,
                      rtol32=2e-5),
    # J and Y have zeros: the error there is absolute (as scipy's)
    "j0": Spec(jsp.j0, sc.j0, [U(0, 100)], [(-3, 3)], rtol=1e-13, atol=2e-15),
    "j1": Spec(jsp.j1, sc.j1, [U(-100, 100)], [(-3, 3)], rtol=1e-13, atol=2e-15),
    "y0": Spec(jsp.y0, sc.y0, [cat(U(0, 100), L(-10, 0))], [POS], rtol=1e-13, atol=2e-15),
    "y1": Spec(jsp.y1, sc.y1, [cat(U(0, 100), L(-10, 0))], [POS], rtol=1e-13, atol=5e-15),
    **{f"jn{n}": Spec(fixed(n, jsp.jn), fixed(n, sc.jn), [U(-60, 60)], [(-3, 3)], rtol=1e-13,
                      atol=2e-15) for n in (2, 5, 20)},
    **{f"yn{n}": Spec(fixed(n, jsp.yn), fixed(n, sc.yn), [U(0.1, 60)], [POS], rtol=1e-13,
                      atol=5e-15) for n in (2, 5)},
}


def value_args(spec, dtype):
    r = np.random.default_rng(0)
    args = [v(r) for v in spec.values]
    n = min(len(a) for a in args)
    return [a[:n].astype(dtype) for a in args]


def small_args(spec, shape=(3,), seed=1):
    r = np.random.default_rng(seed)
    return [r.uniform(lo, hi, shape) for lo, hi in spec.grads]


def assert_close(got, ref, rtol, atol=0.0):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", list(SPECS))
def test_values_float64_match_scipy(name):
    spec = SPECS[name]
    args = value_args(spec, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = spec.ref(*args)
        got = spec.fn(*args)
    assert np.asarray(got).dtype == np.float64
    # scipy flushes erfc/ndtr to zero before the double range ends; below 1e-300 compare
    # absolutely (jitgrad keeps the subnormal values).
    assert_close(got, ref, spec.rtol, max(spec.atol, 1e-300 if name in ("erfc", "ndtr") else 0))


@pytest.mark.parametrize("name", list(SPECS))
def test_values_float32_are_float64_rounded(name):
    """float32 in, float32 out: within a few float32 ulp of scipy's float64 value of the same
    float32 inputs (composites round in float32 and get rtol32)."""
    spec = SPECS[name]
    args = value_args(spec, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = spec.ref(*[a.astype(np.float64) for a in args])
        got = spec.fn(*args)
    assert np.asarray(got).dtype == np.float32
    ref32 = np.asarray(ref).astype(np.float32)
    finite = np.isfinite(ref32) & (np.abs(ref32) > np.finfo(np.float32).tiny)
    assert_close(np.asarray(got)[finite], ref32[finite], spec.rtol32 or 1e-30, spec.atol * 1e8)
    np.testing.assert_array_equal(np.isnan(got)[~finite], np.isnan(ref32)[~finite])


SPECIAL_VALUES = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.5, 0.5, np.inf, -np.inf, np.nan])


# Documented departures (README): beta/betaln are inf at every non-positive integer argument
# (scipy has finite limits at some) and take limits at an infinite argument only for a
# positive partner; ive takes iv's values at x = 0 and for infinite v (scipy's ive is nan
# there).
DEPARTS = {
    "beta": lambda a, b: _pole(a) | _pole(b) | np.isinf(a) | np.isinf(b),
    "betaln": lambda a, b: _pole(a) | _pole(b) | np.isinf(a) | np.isinf(b),
    "ive": lambda v, x: ((x == 0) & (v < 0) & (np.floor(v) != v)) | np.isinf(v),
    # poch at an infinite argument: scipy's limits are its own (poch(1, -inf) is nan,
    # poch(-1, -inf) is 0); jitgrad's follow from its gammaln (except m == 0: 1)
    "poch": lambda z, m: (np.isinf(z) | np.isinf(m)) & (m != 0),
}


def _pole(a):
    return (a <= 0) & (np.floor(a) == a)


@pytest.mark.parametrize("name", list(SPECS))
def test_special_values_match_scipy(name):
    spec = SPECS[name]
    grids = np.meshgrid(*[SPECIAL_VALUES] * len(spec.values))
    args = [g.ravel() for g in grids]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = np.asarray(spec.ref(*args), np.float64)
        except ValueError:  # scipy checks the domain (multigammaln): so does jitgrad
            with pytest.raises(ValueError):
                spec.fn(*args)
            return
        got = np.asarray(spec.fn(*args), np.float64)
    keep = ~DEPARTS[name](*args) if name in DEPARTS else np.ones(ref.shape, bool)
    assert_close(got[keep], ref[keep], max(spec.rtol, 1e-15), spec.atol)


@pytest.mark.parametrize("name", list(SPECS))
def test_shapes_dtypes_broadcasting(name):
    """0-d in, 0-d out; size-0; integer inputs compute in float64; operands broadcast."""
    spec = SPECS[name]
    args = [a.reshape(2, 3) for a in small_args(spec, (6,))]
    full = spec.fn(*args)
    assert np.shape(full) == (2, 3)
    zero_d = spec.fn(*[a[0, 0] for a in args])
    assert np.ndim(zero_d) == 0
    assert_close(zero_d, np.asarray(full)[0, 0], 1e-15)
    empty = spec.fn(*[np.zeros((0, 3)) + a[0, 0] for a in args])
    assert np.shape(empty) == (0, 3) and np.asarray(empty).dtype == np.float64
    if len(args) > 1:  # the first operand broadcast along rows
        bcast = spec.fn(args[0][0], *args[1:])
        assert_close(bcast, spec.fn(np.broadcast_to(args[0][0], (2, 3)), *args[1:]), 1e-15)
    if name in ("i0", "i0e", "gammasgn", "j0", "jn2", "expit"):
        assert np.asarray(spec.fn(np.arange(3))).dtype == np.float64


@pytest.mark.parametrize("name", list(SPECS))
def test_derivatives_fwd_and_rev_to_order_2(name):
    spec = SPECS[name]
    if name == "gammasgn":  # piecewise constant: zero derivative
        assert not np.any(jg.grad(lambda x: jnp.sum(jsp.gammasgn(x)))(np.array([0.5, -1.5])))
        return
    jg.check_grads(spec.fn, small_args(spec), order=spec.order, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", list(SPECS))
def test_jit_value_and_grad_match_eager(name):
    """One compiled program per function: values and gradients equal the eager (reference)
    ones. (Float32 kernels of every primitive are compiled by the registry tests; special
    kernels compile slowly, so this file compiles float64 only, and float32 for one
    composite that rounds in float32.)"""
    spec = SPECS[name]
    nargs = len(spec.grads)
    dtypes = ((np.float64, 1e-12), (np.float32, 2e-5)) if name == "logit" else (
        (np.float64, 1e-12),)
    for dtype, tol in dtypes:
        args = [a.astype(dtype) for a in small_args(spec, (2, 3))]
        f = jg.value_and_grad(lambda *xs: jnp.sum(spec.fn(*xs)), argnums=tuple(range(nargs)))
        val, grads = jg.jit(f)(*args)
        ref_val, ref_grads = f(*args)
        assert np.asarray(val).dtype == dtype
        assert_close(val, ref_val, tol)
        for g, r in zip(grads, ref_grads, strict=True):
            assert_close(g, r, tol, tol)


@pytest.mark.parametrize("name", list(SPECS))
def test_vmap_matches_loop(name):
    spec = SPECS[name]
    args = small_args(spec, (4, 3))
    got = jg.vmap(spec.fn)(*args)
    expected = np.stack([spec.fn(*[a[i] for a in args]) for i in range(4)])
    assert_close(got, expected, 1e-15)
    if len(args) > 1:  # an unbatched first operand
        got = jg.vmap(spec.fn, in_axes=(None,) + (0,) * (len(args) - 1))(args[0][0], *args[1:])
        expected = np.stack([spec.fn(args[0][0], *[a[i] for a in args[1:]]) for i in range(4)])
        assert_close(got, expected, 1e-15)


# --- derivative formulas -----------------------------------------------------------------------

X = np.array([0.3, 1.2, 2.5, 7.0])


def _grad(f, *args, argnum=0):
    return jg.grad(lambda *xs: jnp.sum(f(*xs)), argnums=argnum)(*args)


def test_derivative_formulas_against_scipy():
    assert_close(_grad(jsp.gammaln, X), sc.digamma(X), 1e-15)
    assert_close(_grad(jsp.digamma, X), sc.polygamma(1, X), 1e-14)
    assert_close(_grad(jsp.gamma, X), sc.gamma(X) * sc.digamma(X), 1e-14)
    assert_close(_grad(lambda x: jsp.polygamma(3, x), X), sc.polygamma(4, X), 1e-13)
    assert_close(_grad(jsp.erf, X), 2 / np.sqrt(np.pi) * np.exp(-X ** 2), 1e-15)
    assert_close(_grad(jsp.erfinv, X / 8), np.sqrt(np.pi) / 2 * np.exp(sc.erfinv(X / 8) ** 2),
                 1e-15)
    assert_close(_grad(jsp.ndtri, X / 8), 1 / (np.exp(-sc.ndtri(X / 8) ** 2 / 2)
                                                / np.sqrt(2 * np.pi)), 1e-14)
    # log_ndtr' = ndtr'/ndtr without cancellation far in the tail (where it is ~ -x)
    x = np.array([-1000.0, -40.0, -5.0, 0.0, 3.0])
    # The reference as phi(x)/Phi(x) = sqrt(2/pi)/erfcx(-x/sqrt2): exp(-x^2/2 - log_ndtr(x))
    # cancels 5e5 against 5e5 at x = -1000 and is itself only good to ~1e-10 there.
    mills = np.sqrt(2 / np.pi) / sc.erfcx(-x / np.sqrt(2))
    assert_close(_grad(jsp.log_ndtr, x), mills, 1e-12)
    assert_close(_grad(jsp.i0, X), sc.i1(X), 1e-14)
    assert_close(_grad(jsp.i1, X), sc.i0(X) - sc.i1(X) / X, 1e-14)
    assert_close(_grad(jsp.i1e, np.array([0.0])), [0.5], 1e-15)
    assert_close(_grad(jsp.ive, 1.5, X, argnum=1),
                 (sc.ive(0.5, X) + sc.ive(2.5, X)) / 2 - sc.ive(1.5, X), 1e-13)
    for n in (0, 1, 4):
        assert_close(_grad(lambda x, n=n: jsp.jn(n, x), X), sc.jvp(n, X), 1e-13, 1e-15)
        assert_close(_grad(lambda x, n=n: jsp.yn(n, x), X), sc.yvp(n, X), 1e-13, 1e-15)


@pytest.mark.parametrize("a", [0.4, 2.0, 30.0])
def test_incomplete_gamma_derivatives(a):
    """d/dx is the density; d/da (from the series/continued fraction) agrees with central
    differences of scipy's own function, in both regimes (x < a+1 and x > a+1)."""
    x = np.array([0.05, a * 0.5, a + 0.5, a * 2 + 3])
    pdf = np.exp((a - 1) * np.log(x) - x - sc.gammaln(a))
    assert_close(_grad(jsp.gammainc, a, x, argnum=1), pdf, 1e-13)
    assert_close(_grad(jsp.gammaincc, a, x, argnum=1), -pdf, 1e-13)
    h = 1e-6 * a
    fd = (sc.gammainc(a + h, x) - sc.gammainc(a - h, x)) / (2 * h)
    da = jg.vmap(jg.grad(jsp.gammainc), in_axes=(None, 0))(a, x)
    assert_close(da, fd, 1e-7, 1e-12)
    assert_close(jg.vmap(jg.grad(jsp.gammaincc), in_axes=(None, 0))(a, x), -fd, 1e-7, 1e-12)


@pytest.mark.parametrize("a,b", [(0.5, 3.0), (2.0, 2.0), (20.0, 15.0)])
def test_incomplete_beta_derivatives(a, b):
    x = np.array([0.02, 0.3, 0.6, 0.97])
    pdf = x ** (a - 1) * (1 - x) ** (b - 1) / sc.beta(a, b)
    assert_close(_grad(jsp.betainc, a, b, x, argnum=2), pdf, 1e-12)
    for argnum in (0, 1):
        h = 1e-6 * (a, b)[argnum]
        hi, lo = [a, b], [a, b]
        hi[argnum] += h
        lo[argnum] -= h
        fd = (sc.betainc(*hi, x) - sc.betainc(*lo, x)) / (2 * h)
        got = np.array([_grad(jsp.betainc, a, b, xi, argnum=argnum) for xi in x])
        assert_close(got, fd, 1e-7, 1e-9)  # central differences of scipy: ~eps/h absolute


# --- conventions, composites, errors ----------------------------------------------------------


def test_xlogy_xlog1py_zero_convention():
    """0 where x == 0, and so are the derivatives in y; d/dx is log(y) (JAX's xlogy)."""
    for f, y0 in ((jsp.xlogy, 0.0), (jsp.xlog1py, -1.0)):
        x, y = np.array([0.0, 0.0, 2.0]), np.array([y0, 3.0, 3.0])
        np.testing.assert_array_equal(f(x, y)[:2], [0.0, 0.0])
        gx, gy = jg.grad(lambda x, y, f=f: jnp.sum(f(x, y)), argnums=(0, 1))(x, y)
        log = np.log if f is jsp.xlogy else np.log1p
        assert_close(gx[1:], log(y[1:]), 1e-15)
        assert gy[0] == 0 and gy[1] == 0
    assert np.isnan(jsp.xlogy(0.0, np.nan))
    assert jsp.entr(0.0) == 0 and _grad(jsp.entr, np.array([0.0]))[0] == 0


def test_every_function_has_a_spec():
    names = set(SPECS) | {n.rstrip("0123456789") for n in SPECS}  # (polygamma1 ...)
    exempt = {"softmax", "log_softmax", "logsumexp", "gammasgn"}  # reductions: own tests
    missing = set(jsp.__all__) - names - exempt
    assert not missing, sorted(missing)


def test_exact_and_repetition_forms_of_comb_and_factorial():
    assert jsp.comb(10, 3, exact=True) == 120 and jsp.comb(3, 5, exact=True) == 0
    assert jsp.comb(5, 2, exact=True, repetition=True) == sc.comb(5, 2, exact=True,
                                                                  repetition=True)
    np.testing.assert_allclose(jsp.comb(np.array([5.0, 4.0]), np.array([2.0, 3.0]),
                                        repetition=True),
                               sc.comb(np.array([5.0, 4.0]), np.array([2.0, 3.0]),
                                       repetition=True))
    assert jsp.factorial(20, exact=True) == math.factorial(20)
    with pytest.raises(UnsupportedError, match="concrete"):
        jg.jit(lambda n: jsp.factorial(n, exact=True))(3.0)


def test_rel_entr_far_apart_and_close_ratios():
    """x log(x/y) where x/y overflows, underflows or is subnormal (it was inf or -inf), and
    where x/y is near 1 (log of the rounded ratio lost 6 digits): SciPy's values, finite
    derivatives log(x/y) + 1 and -x/y, and entr's signed zeros."""
    x = np.array([0.5, 1e-300, 1e300, 1.0, 1.0, 3.0, 1e-5, 1e5])
    y = np.array([1e-310, 1e300, 1e-300, 1 + 1e-10, 1 - 1e-12, 3.0000001, 3e-2, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow inside, either
        got = jsp.rel_entr(x, y)
    assert_close(got, sc.rel_entr(x, y), 2e-16)
    assert_close(jg.jit(jsp.rel_entr)(x, y), sc.rel_entr(x, y), 2e-16)
    gx, gy = jg.grad(lambda x, y: jnp.sum(jsp.rel_entr(x, y)), argnums=(0, 1))(x[3:], y[3:])
    assert_close(gx, np.log(x[3:] / y[3:]) + 1, 1e-9)  # (the reference rounds x/y)
    assert_close(gy, -x[3:] / y[3:], 1e-15)
    gx = jg.grad(lambda x: jnp.sum(jsp.rel_entr(x, y[:3])))(x[:3])
    assert_close(gx, np.log(x[:3]) - np.log(y[:3]) + 1, 1e-15)
    np.testing.assert_array_equal(np.signbit(jsp.entr(np.array([0.0, 1.0]))), [False, True])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy(axis, keepdims):
    a = rng.standard_normal((3, 4)) * 10
    b = rng.uniform(-1, 2, (3, 4))
    b[0, 0] = 0.0
    assert_close(jsp.logsumexp(a, axis=axis, keepdims=keepdims),
                 sc.logsumexp(a, axis=axis, keepdims=keepdims), 1e-14)
    got = jsp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    ref = sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    for g, r in zip(got, ref, strict=True):
        assert_close(g, r, 1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(jsp.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
                     sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims), 1e-13)
    assert_close(jsp.softmax(a, axis=axis), sc.softmax(a, axis=axis), 1e-14)
    assert_close(jsp.log_softmax(a, axis=axis), sc.log_softmax(a, axis=axis), 1e-14)


def test_logsumexp_gradients_and_edges():
    a, b = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))
    jg.check_grads(lambda a, b: jsp.logsumexp(a, axis=1, b=b), (a, b), order=2)
    jg.check_grads(lambda a: jsp.logsumexp(a, axis=0, return_sign=True)[0], (a,), order=2)
    jg.check_grads(lambda a: jsp.softmax(a, axis=1), (a,), order=2)
    assert jsp.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert jsp.logsumexp(np.array([1000.0, 1000.0])) == sc.logsumexp([1000.0, 1000.0])


def test_static_orders_are_checked():
    with pytest.raises(TracerError, match="polygamma: the order n must be a concrete"):
        jg.jit(lambda n, x: jsp.polygamma(n, x))(1, np.ones(2))
    with pytest.raises(JitgradTypeError, match="polygamma: the order n must be one integer"):
        jsp.polygamma(1.5, np.ones(2))
    with pytest.raises(JitgradTypeError, match=">= 0"):
        jsp.polygamma(-1, np.ones(2))
    with pytest.raises(JitgradTypeError, match="jn"):
        jsp.jn(np.array([1, 2]), np.ones(2))
    assert_close(jsp.jn(np.array([2, 2]), np.ones(2)), sc.jn(2, np.ones(2)), 1e-15)
    with pytest.raises(ValueError, match="multigammaln"):
        jsp.multigammaln(np.array([0.5]), 3)


def test_hot_kernels_vectorise():
    """erf, erfc, ndtr, log_ndtr, gammaln and digamma (and the float32 wrappers the kernels
    use) leave the loop that calls them vectorisable: LLVM emits a vector body."""
    from numba import njit

    from jitgrad import special_math as M

    @njit(error_model="numpy", fastmath={"contract"})
    def loop(x, out):
        for i in range(x.size):
            v = np.float64(x[i])
            out[i] = (M.erf_f64(v) + M.erfc_f64(v) + M.ndtr_f64(v) + M.log_ndtr_f64(v)
                      + M.gammaln_f64(v) + M.digamma_f64(v))

    for dtype in (np.float64, np.float32):
        x = np.linspace(0.5, 3, 16).astype(dtype)
        loop(x, np.empty_like(x))
        assert "vector.body" in loop.inspect_llvm(loop.signatures[-1])


def test_import_does_not_load_numba():
    code = ("import sys, jitgrad, jitgrad.scipy.special as s; "
            "assert 'numba' not in sys.modules; print(s.erf(0.5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # Within an ulp of scipy's: the last bit of libm's exp differs between machines.
    np.testing.assert_allclose(float(out.stdout), sc.erf(0.5), rtol=3e-16, atol=0)
