"""Special-function primitives (the elementwise ones of ``jitgrad.scipy.special``): each is
the scalar function ``NAME_f64`` of ``jitgrad.special_math`` in the kernels and, mapped over
arrays, its reference; derivatives are written with other primitives, so they are
differentiable again and compile into the same fused kernels.

Float32 operands compute in float64 and are rounded once (as scipy's float32 loops do)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import Elementwise, Primitive, Zero, register
from jitgrad.core import aval_of as _aval
from jitgrad.prims.elementwise import (
    abs_,
    add,
    defelementwise,
    div,
    elementwise_batch,
    elementwise_rule,
    eq,
    exp,
    log,
    log1p,
    mul,
    neg,
    select,
    sign,
    sub,
)
from jitgrad.prims.testcases import draw, view_of


def _kernel(fname: str, params: Sequence[str] = ()) -> Callable[..., str]:
    """Kernel template: call ``fname_f64``; float32 converts in and rounds out once. Static
    integer params (the order of polygamma, jn, yn) go first, as float64 literals."""

    def template(ops: list[str], dt: str, **p: Any) -> str:
        lits = [f"np.float64({float(p[k])!r})" for k in params]
        if dt == "np.float64":
            return f"{fname}_f64({', '.join(lits + ops)})"
        args = lits + [f"np.float64({o})" for o in ops]
        return f"{dt}({fname}_f64({', '.join(args)}))"

    return template


def _impl(fname: str, params: Sequence[str] = ()) -> Callable[..., Any]:
    """The numpy-level reference: the same scalar function mapped over the arrays."""

    def impl(*args: Any, **p: Any) -> Any:
        from jitgrad import special_math  # imports Numba: only when first evaluated
        dtype = np.result_type(*args)
        out = special_math.evaluate(fname, *[float(p[k]) for k in params], *args)
        return out.astype(dtype)[()]

    impl.__name__ = fname
    return impl


def _cases(domains: Sequence[tuple[float, float]], params: Sequence[dict] = ({},)
           ) -> Callable[..., list]:
    """Registry test cases, fewer than elementwise_cases gives: every special function
    compiles into a kernel of its own per rank, dtype and layout, and these compile slowly.
    Rank 2, rank 0 and size 0 (and a rank-0 operand beside a rank-2 one), and a strided
    view."""

    def cases(rng: np.random.Generator, dtype: Any) -> list:
        out = []
        shapes = [[(2, 3)] * len(domains), [()] * len(domains), [(0, 3)] * len(domains)]
        if len(domains) > 1:
            shapes.append([(2, 3)] + [()] * (len(domains) - 1))
        for ss in shapes:
            args = tuple(draw(rng, sh, dtype, d) for sh, d in zip(ss, domains, strict=True))
            out.extend((args, dict(p)) for p in params)
        out.append((tuple(view_of(draw(rng, (2, 3), dtype, d), "strided") for d in domains),
                    dict(params[0])))
        return out

    return cases


def _special(name: str, derivs: Sequence[Any], domain: Any) -> Primitive:
    prim = defelementwise(name, _impl(name), derivs, _kernel(name), domain=domain,
                          inexact=True)
    prim.test_cases = _cases([domain] * len(derivs) if isinstance(domain[0], int | float)
                             else domain)
    return prim


def _central(prim_fn: Callable[..., Any], args: Sequence[Any], i: int, g: Any,
             positive: bool = True) -> Any:
    """g * d prim_fn / d args[i] by central differences with step cbrt(eps) * |args[i]| (a
    positive shape parameter) or cbrt(eps) * (1 + |args[i]|).

    NB: used only for derivatives in shape parameters beyond the first (and for the order v of
    ive): relative error ~ eps^(2/3), 1e-10 in float64."""
    scale = abs_(args[i]) if positive else add(1, abs_(args[i]))
    h = mul(float(np.finfo(_aval(args[i]).dtype).eps) ** (1 / 3), scale)
    hi = list(args)
    lo = list(args)
    hi[i] = add(args[i], h)
    lo[i] = sub(args[i], h)
    return mul(g, div(sub(prim_fn(*hi), prim_fn(*lo)), mul(2, h)))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_SQRT_2PI = math.sqrt(2 * math.pi)


def _gauss(x: Any) -> Any:
    return exp(neg(mul(x, x)))


# --- error function family (A&S 7.1.19; inverse functions by the inverse function rule) -------

erf_p = _special("erf", [lambda g, out, x: mul(g, mul(_TWO_OVER_SQRT_PI, _gauss(x)))], (-3, 3))
erfc_p = _special("erfc", [lambda g, out, x: neg(mul(g, mul(_TWO_OVER_SQRT_PI, _gauss(x))))],
                  (-3, 3))
erfinv_p = _special("erfinv", [lambda g, out, x: mul(g, mul(_SQRT_PI_OVER_2, exp(mul(out, out))))],
                    (-0.9, 0.9))
erfcinv_p = _special(
    "erfcinv", [lambda g, out, x: neg(mul(g, mul(_SQRT_PI_OVER_2, exp(mul(out, out)))))],
    (0.1, 1.9))
ndtr_p = _special("ndtr", [lambda g, out, x: div(mul(g, exp(mul(-0.5, mul(x, x)))), _SQRT_2PI)],
                  (-3, 3))
ndtri_p = _special("ndtri",
                   [lambda g, out, x: mul(g, mul(_SQRT_2PI, exp(mul(0.5, mul(out, out)))))],
                   (0.05, 0.95))
# d/dx ndtr'(x)/ndtr(x) = -r (x + r) for r = ndtr'/ndtr (the inverse Mills ratio).
inv_mills_p = _special("inv_mills", [lambda g, out, x: neg(mul(g, mul(out, add(x, out))))],
                       (-4, 3))
log_ndtr_p = _special("log_ndtr", [lambda g, out, x: mul(g, inv_mills_p.bind(x))], (-5, 3))

# --- gamma function family (A&S 6.3.1, 6.4.1) -------------------------------------------------


def _polygamma_rule(x: Any, *, n: int) -> Any:
    return elementwise_rule("polygamma")(x)


def polygamma(x: Any, n: int) -> Any:
    """The n-th derivative of digamma (n a static non-negative integer)."""
    return digamma_p.bind(x) if n == 0 else polygamma_p.bind(x, n=int(n))


def _param_prim(name: str, fname: str, param: str,
                deriv: Callable[..., Any], cases: Any) -> Primitive:
    """An elementwise primitive of one operand and one static integer parameter."""

    def rule(x: Any, **p: Any) -> Any:
        return elementwise_rule(name, float_only=True)(x)

    def jvp(primals: list[Any], tangents: list[Any], **p: Any) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **p)
        if isinstance(t, Zero):
            return out, Zero(_aval(out))
        return out, mul(t, deriv(x, p[param]))

    def vjp(cts: list[Any], ins: list[Any], outs: list[Any], **p: Any) -> list[Any]:
        return [mul(cts[0], deriv(ins[0], p[param]))]

    prim = register(Primitive(name, rule, _impl(fname, (param,)),
                              Elementwise(_kernel(fname, (param,)), inexact=True, cheap=False),
                              jvp=jvp, vjp=vjp, batch=elementwise_batch, test_cases=cases))
    return prim


polygamma_p = _param_prim(
    "polygamma", "polygamma", "n", lambda x, n: polygamma(x, n + 1),
    _cases([(0.5, 4)], params=[{"n": 1}, {"n": 2}]))
digamma_p = _special("digamma", [lambda g, out, x: mul(g, polygamma(x, 1))], (0.5, 4))
gammaln_p = _special("gammaln", [lambda g, out, x: mul(g, digamma_p.bind(x))], (0.5, 4))
gamma_p = _special("gamma", [lambda g, out, x: mul(g, mul(out, digamma_p.bind(x)))], (0.5, 4))


def _xlogy_nonzero(a: Any, x: Any) -> Any:
    """a * log(x), taken as 0 where a == 0 (so that the x = 0, a = 0 corner is 0, not nan)."""
    return select(eq(a, 0), 0, mul(a, log(x)))


def _gamma_pdf(a: Any, x: Any) -> Any:
    """d P(a, x)/dx = x^(a-1) e^-x / Gamma(a) (DLMF 8.8.13)."""
    return exp(sub(sub(_xlogy_nonzero(sub(a, 1), x), x), gammaln_p.bind(a)))


def _beta_pdf(a: Any, b: Any, x: Any) -> Any:
    """d I_x(a, b)/dx = x^(a-1) (1-x)^(b-1) / B(a, b) (DLMF 8.17.1)."""
    lbeta = sub(add(gammaln_p.bind(a), gammaln_p.bind(b)), gammaln_p.bind(add(a, b)))
    t = add(_xlogy_nonzero(sub(a, 1), x), select(eq(b, 1), 0, mul(sub(b, 1), log1p(neg(x)))))
    return exp(sub(t, lbeta))


# The derivatives of P and Q in a come from the iteration itself (special_math._igam);
# their own derivatives in a are central differences of that exact one (NB above).
gammainc_da_p = _special("gammainc_da", [
    lambda g, out, a, x: _central(gammainc_da_p.bind, (a, x), 0, g),
    lambda g, out, a, x: mul(g, mul(_gamma_pdf(a, x), sub(log(x), digamma_p.bind(a))))],
    [(0.5, 3), (0.5, 3)])
gammainc_p = _special("gammainc", [
    lambda g, out, a, x: mul(g, gammainc_da_p.bind(a, x)),
    lambda g, out, a, x: mul(g, _gamma_pdf(a, x))], [(0.5, 3), (0.5, 3)])
gammaincc_p = _special("gammaincc", [
    lambda g, out, a, x: neg(mul(g, gammainc_da_p.bind(a, x))),
    lambda g, out, a, x: neg(mul(g, _gamma_pdf(a, x)))], [(0.5, 3), (0.5, 3)])

_BETA_DOMAIN = [(0.5, 3), (0.5, 3), (0.1, 0.9)]


def _betainc_shape_deriv(name: str, log_term: Callable[..., Any]) -> Primitive:
    """d I_x(a, b)/da or /db: exact in x (the derivative of the density's log in the shape
    parameter times the density), central differences in a and b."""
    p = _special(name, [
        lambda g, out, a, b, x: _central(p.bind, (a, b, x), 0, g),
        lambda g, out, a, b, x: _central(p.bind, (a, b, x), 1, g),
        lambda g, out, a, b, x: mul(g, mul(_beta_pdf(a, b, x), log_term(a, b, x)))],
        _BETA_DOMAIN)
    return p


betainc_da_p = _betainc_shape_deriv(
    "betainc_da", lambda a, b, x: add(sub(log(x), digamma_p.bind(a)),
                                      digamma_p.bind(add(a, b))))
betainc_db_p = _betainc_shape_deriv(
    "betainc_db", lambda a, b, x: add(sub(log1p(neg(x)), digamma_p.bind(b)),
                                      digamma_p.bind(add(a, b))))
betainc_p = _special("betainc", [
    lambda g, out, a, b, x: mul(g, betainc_da_p.bind(a, b, x)),
    lambda g, out, a, b, x: mul(g, betainc_db_p.bind(a, b, x)),
    lambda g, out, a, b, x: mul(g, _beta_pdf(a, b, x))], _BETA_DOMAIN)

# --- Bessel functions (A&S 9.1.27, 9.6.26; exponentially scaled: d e^-|x| = -sign(x) e^-|x|) --


def _i1e_deriv(g: Any, out: Any, x: Any) -> Any:
    # I1'(x) = I0(x) - I1(x)/x, with I1(x)/x -> 1/2 at x = 0.
    zero = eq(x, 0)
    ratio = select(zero, 0.5, div(out, select(zero, 1, x)))
    return mul(g, sub(sub(i0e_p.bind(x), ratio), mul(sign(x), out)))


i0e_p = _special("i0e", [lambda g, out, x: mul(g, sub(i1e_p.bind(x), mul(sign(x), out)))],
                 (-3, 3))
i1e_p = _special("i1e", [_i1e_deriv], (-3, 3))
ive_p = _special("ive", [
    lambda g, out, v, x: _central(ive_p.bind, (v, x), 0, g, positive=False),
    lambda g, out, v, x: mul(g, sub(mul(0.5, add(ive_p.bind(sub(v, 1), x),
                                                 ive_p.bind(add(v, 1), x))),
                                    mul(sign(x), out)))],
    [(0.5, 2.5), (0.2, 3)])


def _bessel_deriv(prim_fn: Callable[..., Any]) -> Callable[..., Any]:
    # C_n' = (C_(n-1) - C_(n+1)) / 2 for C = J, Y (A&S 9.1.27).
    return lambda x, n: mul(0.5, sub(prim_fn(x, n - 1), prim_fn(x, n + 1)))


def jn(x: Any, n: int) -> Any:
    """Bessel function of the first kind of static integer order ``n``."""
    return jn_p.bind(x, n=int(n))


def yn(x: Any, n: int) -> Any:
    """Bessel function of the second kind of static integer order ``n``."""
    return yn_p.bind(x, n=int(n))


jn_p = _param_prim("jn", "jn", "n", _bessel_deriv(jn),
                   _cases([(-4, 4)], params=[{"n": 0}, {"n": 1}, {"n": 3}]))
yn_p = _param_prim("yn", "yn", "n", _bessel_deriv(yn),
                   _cases([(0.5, 4)], params=[{"n": 0}, {"n": 1}, {"n": 3}]))
