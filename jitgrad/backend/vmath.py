"""Branch-free float32/float64 transcendentals that LLVM vectorises inside Numba loops."""

from collections import namedtuple
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from jitgrad.backend.cache import inline_helper

# 'contract' lets LLVM fuse a*b+c into FMAs; no other fast-math flag is allowed because
# NaN/Inf/signed-zero behaviour must stay exact.  forceinline marks each function 'alwaysinline'
# for LLVM, so the caller's loop body becomes one straight-line block that the loop vectoriser
# accepts; each is compiled once per signature and cached on disk with the bitcode callers
# inline (cache.inline_helper; direct kernels lower them with the kernel's own lowering,
# backend/direct.py).  (Numba's own inline='always' gives the same machine code but
# re-translates and re-types the callee at every call site: several times the compile time,
# COMPILE_NOTES.md.)
_jit = inline_helper(error_model='numpy', fastmath={'contract'})


# --------------------------------------------------------------------------------------------
# LLVM-level primitives (bitcasts and fma are single vector instructions, not libm calls)


@intrinsic
def _as_int(typingctx, x):
    """Reinterpret float32/float64 bits as int32/int64."""
    if x not in (types.float32, types.float64):
        return None
    it = types.int32 if x == types.float32 else types.int64

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(it))

    return it(x), codegen


@intrinsic
def _as_float(typingctx, i, like):
    """Reinterpret the low bits of integer `i` as a float of `like`'s type."""
    if not isinstance(i, types.Integer) or like not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        ft = context.get_value_type(like)
        it = ir.IntType(like.bitwidth)
        v = args[0]
        if i.bitwidth > like.bitwidth:
            v = builder.trunc(v, it)
        elif i.bitwidth < like.bitwidth:
            v = builder.sext(v, it)
        return builder.bitcast(v, ft)

    return like(i, like), codegen


@intrinsic
def _to_float(typingctx, i, like):
    """Convert integer `i` to a float of `like`'s type (so float32 code stays float32)."""
    if not isinstance(i, types.Integer) or like not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        return builder.sitofp(args[0], context.get_value_type(like))

    return like(i, like), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add with a single rounding (llvm.fma)."""
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, sig, args):
        ft = context.get_value_type(a)
        fn = builder.module.declare_intrinsic('llvm.fma', [ft], ir.FunctionType(ft, [ft] * 3))
        return builder.call(fn, args)

    return a(a, b, c), codegen


# --------------------------------------------------------------------------------------------
# Generic helpers: Numba specialises them per dtype, the constants come from _C32 / _C64.


@_jit
def _horner(x, c):
    p = c[-1]
    for i in range(len(c) - 2, -1, -1):
        p = p * x + c[i]
    return p


@_jit
def _clamp(x, lo, hi):
    """min(max(x, lo), hi) that lets NaN through (both comparisons are false for NaN)."""
    x = hi if x > hi else x
    return lo if x < lo else x


@_jit
def _pow2(k, K):
    """2**k for an integer k in the normal exponent range, built from its bit pattern."""
    return _as_float((k + K.bias) << K.mant, K.one)


@_jit
def _ldexp(p, k, K):
    """p * 2**k in two steps, so k may exceed the exponent range by a factor of two.

    Only the last multiplication rounds, which gives gradual underflow into subnormals and a
    correctly placed overflow to inf."""
    k1 = k >> 1
    return p * _pow2(k1, K) * _pow2(k - k1, K)


@_jit
def _exp_reduce(x, K):
    """x = k*ln2 + r + rl with |r| <= ln2/2: Cody-Waite reduction with an fma-exact head.

    k comes from the round-to-nearest shifter trick (x/ln2 + 1.5*2**mant has k in its low
    mantissa bits), so no float->int conversion (undefined for NaN) is needed.  ln2hi carries
    all mantissa bits: fma(-k, ln2hi, x) is exact because the result is a multiple of
    ulp(ln2hi) smaller than 1."""
    t = x * K.log2e + K.shift
    kf = t - K.shift
    k = _as_int(t) - K.shift_bits
    rh = _fma(kf, -K.ln2hi, x)
    r = _fma(kf, -K.ln2lo, rh)
    rl = _fma(kf, -K.ln2lo, rh - r)
    return k, r, rl


@_jit
def _expm1_poly(r, rl, K):
    """e**(r + rl) - 1 - r, accurate relative to e**r - 1 (minimax: 1 + r + r^2 P(r)).

    rl is at most ulp(r)/2, so its first-order effect rl * e**r ~ rl is enough."""
    return rl + r * r * _horner(r, K.exp_p)


@_jit
def _exp(x, K):
    x = _clamp(x, K.exp_lo, K.exp_hi)
    k, r, rl = _exp_reduce(x, K)
    return _ldexp(K.one + (r + _expm1_poly(r, rl, K)), k, K)


@_jit
def _exp_dd_reduced(x, K):
    """e**x = 2**k * (hi + lo), hi + lo an unevaluated sum (relative error ~2**-60 for
    float64) in [sqrt(1/2), sqrt(2)]; x must be in _exp's range."""
    k, r, rl = _exp_reduce(x, K)
    # 1 + r exactly as uh + ul (Fast2Sum), then renormalise so |lo| <= ulp(hi)/2.
    uh = K.one + r
    s = ((K.one - uh) + r) + _expm1_poly(r, rl, K)
    hi = uh + s
    lo = (uh - hi) + s
    return k, hi, lo


@_jit
def _exp_dd(x, K):
    """e**x as an unevaluated sum hi + lo (relative error ~2**-60 for float64)."""
    k, hi, lo = _exp_dd_reduced(_clamp(x, K.exp_lo, K.exp_hi), K)
    return _ldexp(hi, k, K), _ldexp(lo, k, K)


@_jit
def _expm1(x, K):
    xc = _clamp(x, K.em1_lo, K.exp_hi)
    k, r, rl = _exp_reduce(xc, K)
    t = _expm1_poly(r, rl, K)
    # 2**k * (1 + r + t) - 1 with 2**k - 1 exact: one rounding in the fma, one in the sum.
    s = _pow2(min(k, K.max_k), K)
    small = _fma(s, r, s - K.one) + s * t
    big = _ldexp(K.one + (r + t), k, K)
    res = big if xc > K.em1_big else small
    return x if x == K.zero else res


@_jit
def _tanh(x, K, T):
    a = abs(x)
    # |x| >= b: 1 - 2/(e**2a + 1) with the quotient refined by one fma-residual step.
    # 0 <= 2a <= 2 clamp keeps 2**k normal: one power of two scales both words (the clamps
    # and two-step scaling of _exp_dd cost the float32 version of this 12 % of its time).
    k, eh, el = _exp_dd_reduced(K.two * min(a, T.clamp), K)
    scale = _pow2(k, K)
    eh, el = eh * scale, el * scale
    dh = eh + K.one
    dl = ((eh - dh) + K.one) + el
    q = K.two / dh
    ql = q * K.half * (_fma(-q, dh, K.two) - q * dl)
    # 1 - q is exact (Sterbenz) while q >= 1/2, i.e. for |x| <= atanh(1/2); below that the
    # double-word q keeps the cancellation harmless down to |x| = b.
    big = (K.one - q) - ql
    # |x| < b: odd minimax polynomial x + x^3 T(x^2).
    z = a * a
    small = a + a * z * _horner(z, T.p)
    res = small if a < T.b else big
    return np.copysign(res, x)


@_jit
def _horner_monic(x, c):
    """x**n + c[n-1] x**(n-1) + ... + c[0], n = len(c).

    The leading 1 makes the first step an addition: an fma overwrites one of its operands
    on x86, so fma(c[n], x, c[n-1]) first copies the constant c[n] to a spare register."""
    p = x + c[-1]
    for i in range(len(c) - 2, -1, -1):
        p = p * x + c[i]
    return p


@_jit
def _tanh_rational(x, T):
    """tanh of a float32 x as x P(x^2) / Q(x^2) in float64, rounded to float32 once.

    The fit's relative error, 2**-29.7, and float64's rounding errors leave the result
    within 0.5 + 2**-5.6 ulp.  In float32 the same accuracy took _tanh's double-word e**2x
    and refined division: 62 instructions per 8 elements in an AVX2 loop, against 42 here
    with the vector width halved.  P(0) = Q(0) exactly, so +-0 and subnormals come back
    unchanged.  Above atanh(1 - 2**-25) ~ 9.0109 tanh rounds to +-1; the fit is >= tanh up
    to the clamp, so every x beyond (and +-inf) gives exactly +-1.  NaN passes the clamp."""
    xd = np.float64(_clamp(x, -T.clamp, T.clamp))
    z = xd * xd
    return np.float32(xd * _horner(z, T.p) / _horner_monic(z, T.q))


@_jit
def _logistic(x, K):
    # 1/(1 + e**-|x|) with e**-|x| in double-word form, refined like _tanh; for x < 0 the
    # result is e**x/(1 + e**x) so it underflows gradually instead of via 1 - (1 - tiny).
    eh, el = _exp_dd(-abs(x), K)
    dh = K.one + eh
    dl = ((K.one - dh) + eh) + el
    q = K.one / dh
    ql = q * (_fma(-q, dh, K.one) - q * dl)
    pos = q + ql
    neg = _fma(eh, q, eh * ql + el * q)
    return neg if x < K.zero else pos


@_jit
def _log_split(u, K):
    """u = 2**e * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); u must be positive normal."""
    iu = _as_int(u)
    e = (iu - K.sqrt_half_bits) >> K.mant
    f = _as_float(iu - (e << K.mant), u) - K.one
    return _to_float(e, u), f


@_jit
def _log1p_reduced(f, K):
    """log(1 + f) - f + f*f/2 written as s*(f*f/2 + R(s*s)) - f*f/2, s = f/(2 + f).

    log(1 + f) = 2 atanh(s) = f - f*f/2 + s*(f*f/2 + R) with R(z) = z*(2/3 + 2z/5 + ...),
    a minimax polynomial on |s| <= 3 - 2 sqrt(2); the large terms f and f*f/2 are exact or
    rounded once."""
    s = f / (K.two + f)
    z = s * s
    hfsq = K.half * f * f
    return hfsq, s * (hfsq + z * _horner(z, K.log_p))


@_jit
def _log(x, K):
    sub = x < K.min_normal
    e, f = _log_split(x * K.sub_scale if sub else x, K)
    e = e - K.sub_e if sub else e
    hfsq, t = _log1p_reduced(f, K)
    res = e * K.ln2hi_e + (f - (hfsq - (t + e * K.ln2lo_e)))
    res = -K.inf if x == K.zero else res
    res = K.nan if x < K.zero else res
    return res if x < K.inf else x


@_jit
def _log1p(x, K):
    u = K.one + x
    # c is the exact rounding error of u (Fast2Sum ordered by magnitude); log(u + c) is
    # log(u) + c/u to within (c/u)**2.
    c = ((K.one - u) + x) if abs(x) < K.one else ((x - u) + K.one)
    e, f = _log_split(u, K)
    hfsq, t = _log1p_reduced(f, K)
    res = e * K.ln2hi_e + (f - (hfsq - (t + (e * K.ln2lo_e + c / u))))
    res = -K.inf if x == -K.one else res
    res = K.nan if x < -K.one else res
    res = x if x == K.zero else res
    return res if x < K.inf else x


@_jit
def _two_prod(a, b):
    p = a * b
    return p, _fma(a, b, -p)


@_jit
def _two_sum(a, b):
    """Knuth's TwoSum: s + err == a + b exactly, for any ordering of |a|, |b|."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_jit
def _trig_reduce(x, K, T):
    """x = q * pi/2 + rh + rl with |rh| <~ pi/4, for every finite x.

    Payne-Hanek style, vectorisable: with x = M * 2**e (M integer), every bit of 2/pi with
    weight >= 2**(2-e) contributes a multiple of 4 to x*2/pi, so only the bits below it
    matter.  Row j = e - 2 of T holds those bits, scaled by 2**j, as four non-overlapping
    floats; x * 2**-j times the row is summed exactly enough with TwoProd/TwoSum.  Small
    |x| uses row 0, i.e. plain 2/pi."""
    be = (_as_int(x) >> K.mant) & K.exp_mask
    j = min(max(be - K.trig_e0, 0), T.shape[0] - 1)
    xs = x * _pow2(-j, K)
    p1, e1 = _two_prod(xs, T[j, 0])
    p2, e2 = _two_prod(xs, T[j, 1])
    p3, e3 = _two_prod(xs, T[j, 2])
    p4 = xs * T[j, 3]
    n1 = p1 - K.four * np.rint(p1 * K.quarter)
    a, a1 = _two_sum(n1, p2)
    b, b1 = _two_sum(a, e1)
    t = b + K.shift
    kf = t - K.shift
    # The tails a1, b1, e2, p3 are ~2**-mant in size; they are added exactly (TwoSum), as
    # any rounding there would be large relative to a reduced argument near a zero.
    s, s1 = _two_sum(a1, b1)
    u, u1 = _two_sum(e2, p3)
    s, s2 = _two_sum(s, u)
    fh, fl = _two_sum(b - kf, s)
    fl = fl + (((s1 + u1) + s2) + (e3 + p4))
    rh = fh * K.pio2hi
    rl = _fma(fh, K.pio2hi, -rh) + (fh * K.pio2lo + fl * K.pio2hi)
    return _as_int(t), rh, rl


@_jit
def _sincos_poly(rh, rl, K):
    """sin and cos of rh + rl (|rh| <= pi/4) as head + tail pairs.

    sin r = r + r^3 S(r^2), cos r = 1 - r^2/2 + r^4 C(r^2), minimax on |r| <= 1.001 pi/4;
    the tails carry rl and the rounding errors of r^2 and 1 - r^2/2."""
    z = rh * rh
    zl = _fma(rh, rh, -z)
    hz = K.half * z
    sl = rh * z * _horner(z, K.sin_p) + (rl - hz * rl)
    w = K.one - hz
    cl = ((K.one - w) - hz) + (z * z * _horner(z, K.cos_p) - (rh * rl + K.half * zl))
    return rh, sl, w, cl


@_jit
def _sin(x, K, T, shift):
    q, rh, rl = _trig_reduce(x, K, T)
    q = q + shift
    sh, sl, ch, cl = _sincos_poly(rh, rl, K)
    res = (ch + cl) if q & 1 else (sh + sl)
    res = -res if q & 2 else res
    # sin x = x below the tiny bound (also keeps the sign of zero and subnormals exact).
    return x if (shift == 0) & (abs(x) < K.sin_tiny) else res


@_jit
def _tan(x, K, T):
    q, rh, rl = _trig_reduce(x, K, T)
    sh, sl, ch, cl = _sincos_poly(rh, rl, K)
    odd = (q & 1) != 0
    # tan = s/c or -c/s; renormalise both double-words, then one Newton-style correction of
    # the quotient from its exact fma residual.
    nh = -ch if odd else sh
    nl = -cl if odd else sl
    dh = sh if odd else ch
    dl = sl if odd else cl
    n = nh + nl
    nl = (nh - n) + nl
    d = dh + dl
    dl = (dh - d) + dl
    q0 = n / d
    res = q0 + (_fma(-q0, d, n) + (nl - q0 * dl)) / d
    return x if abs(x) < K.tan_tiny else res


@_jit
def _log_dd(x, K):
    """log(x) as hi + lo for positive finite x, relative error ~2**-66 (float64).

    Same 2 atanh(s) reduction as _log, but s and the leading 2/3 s^3 term are carried as
    double-words; only z^2 R2(z), z = s^2, is evaluated in working precision."""
    sub = x < K.min_normal
    e, f = _log_split(x * K.sub_scale if sub else x, K)
    e = e - K.sub_e if sub else e
    dh = K.two + f
    dl = (K.two - dh) + f
    sh = f / dh
    sl = (_fma(-sh, dh, f) - sh * dl) / dh
    zh, zl = _two_prod(sh, sh)
    zl = zl + K.two * sh * sl
    th, tl = _two_prod(K.c23hi, zh)
    tl = tl + (K.c23hi * zl + K.c23lo * zh) + zh * zh * _horner(zh, K.pow_p)
    uh, ul = _two_prod(sh, th)
    ul = ul + (sh * tl + sl * th)
    hi, lo = _two_sum(e * K.ln2hi_e, K.two * sh)
    hi, lo2 = _two_sum(hi, uh)
    lo = lo + lo2 + (K.two * sl + ul + e * K.ln2lo_e)
    h = hi + lo
    return h, (hi - h) + lo


@_jit
def _pow(x, y, K):
    ax = abs(x)
    lh, ll = _log_dd(ax if (ax > K.zero) & (ax < K.inf) else K.one, K)
    yh, yl = _two_prod(y, lh)
    # Beyond pow_big the result over/underflows anyway; dropping the tail avoids inf - inf.
    yl = (yl + y * ll) if abs(yh) < K.pow_big else K.zero
    yc = _clamp(yh, K.exp_lo, K.exp_hi)
    k, r, rl = _exp_reduce(yc, K)
    # Fold the tail of y*log|x| into r (Fast2Sum) so the tail stays below ulp(r)/2.
    rh = r + (rl + yl)
    rl = (r - rh) + (rl + yl)
    res = _ldexp(K.one + (rh + _expm1_poly(rh, rl, K)), k, K)
    # C99 Annex F special cases (what numpy.power follows), lowest priority first.
    yint = np.floor(y) == y
    yodd = yint & (np.floor(y * K.half) != y * K.half)
    edge = K.inf if (ax == K.inf) == (y > K.zero) else K.zero
    res = edge if (ax == K.zero) | (ax == K.inf) else res
    edge = K.inf if (ax > K.one) == (y > K.zero) else K.zero
    edge = K.one if ax == K.one else edge
    res = edge if abs(y) == K.inf else res
    res = -res if (_as_int(x) < 0) & yodd else res
    res = K.nan if (x < K.zero) & (ax < K.inf) & ~yint else res
    res = x + y if (x != x) | (y != y) else res
    return K.one if (y == K.zero) | (x == K.one) else res


# --------------------------------------------------------------------------------------------
# Per-dtype constants.  Polynomial coefficients were fitted with a Remez exchange in extended
# precision, rounding low-order coefficients first and refitting the rest.

_Consts = namedtuple('_Consts', [
    'zero', 'one', 'half', 'two', 'inf', 'nan', 'min_normal', 'mant', 'bias', 'max_k',
    'log2e', 'ln2hi', 'ln2lo', 'shift', 'shift_bits', 'exp_lo', 'exp_hi', 'exp_p',
    'em1_lo', 'em1_big',
    'sqrt_half_bits', 'sub_scale', 'sub_e', 'ln2hi_e', 'ln2lo_e', 'log_p',
    'exp_mask', 'trig_e0', 'four', 'quarter', 'pio2hi', 'pio2lo', 'sin_p', 'cos_p', 'sin_tiny',
    'tan_tiny', 'c23hi', 'c23lo', 'pow_big', 'pow_p',
])


def _consts(ft, it, **kw):
    """Common constants of float type `ft` (integer type `it`) plus the given fields."""
    mant = np.finfo(ft).nmant
    common = dict(
        zero=ft(0), one=ft(1), half=ft(0.5), two=ft(2), inf=ft(np.inf), nan=ft(np.nan),
        min_normal=np.finfo(ft).smallest_normal, mant=it(mant),
        bias=it(np.finfo(ft).maxexp - 1), max_k=it(np.finfo(ft).maxexp - 1),
        shift=ft(1.5 * 2.0**mant), shift_bits=ft(1.5 * 2.0**mant).view(it),
        sqrt_half_bits=ft(np.sqrt(0.5)).view(it),
        exp_mask=it(2 * np.finfo(ft).maxexp - 1), trig_e0=it(np.finfo(ft).maxexp + mant + 1),
        four=ft(4), quarter=ft(0.25), c23hi=ft(2 / 3),
        c23lo=ft(float(Fraction(2, 3) - Fraction(float(ft(2 / 3))))),
    )
    common.update({k: (tuple(ft(c) for c in v) if isinstance(v, tuple) else ft(v))
                   for k, v in kw.items()})
    return _Consts(**common)


def _h(s):
    return float.fromhex(s)


_C64 = _consts(
    np.float64, np.int64,
    log2e=_h('0x1.71547652b82fep+0'),
    # ln2 = ln2hi + ln2lo; the _e pair has a 42-bit head so e * ln2hi_e is exact for any e.
    ln2hi=_h('0x1.62e42fefa39efp-1'), ln2lo=_h('0x1.abc9e3b39803fp-56'),
    ln2hi_e=_h('0x1.62e42fefa3800p-1'), ln2lo_e=_h('0x1.ef35793c76730p-45'),
    pio2hi=_h('0x1.921fb54442d18p+0'), pio2lo=_h('0x1.1a62633145c07p-54'),
    exp_lo=-760.0, exp_hi=720.0, em1_lo=-60.0, em1_big=700.0,
    sin_tiny=2.0**-26, tan_tiny=2.0**-27, pow_big=2048.0,
    # R2(z) = 2/5 + 2z/7 + ... (log_dd tail): degree 7 on z <= (3 - 2 sqrt 2)^2, 2**-65.6.
    pow_p=tuple(_h(c) for c in (
        '0x1.999999999999ap-2', '0x1.24924924919ccp-2', '0x1.c71c71c9b9a92p-3',
        '0x1.745d157044023p-3', '0x1.3b144c86cf314p-3', '0x1.10f788c586061p-3',
        '0x1.e58e2b56acb92p-4', '0x1.a7fcaee07973fp-4')),
    sub_scale=2.0**54, sub_e=54.0,
    # P(r), e**r = 1 + r + r^2 P(r): degree 10 on |r| <= 1.0001 ln2/2, 2**-58.6 rel. to e**r-1.
    exp_p=tuple(_h(c) for c in (
        '0x1.0000000000000p-1', '0x1.5555555555557p-3', '0x1.5555555555565p-5',
        '0x1.111111110ff2ap-7', '0x1.6c16c16c0f916p-10', '0x1.a01a01ae26097p-13',
        '0x1.a01a01eef7d10p-16', '0x1.71ddf8eb3f1fep-19', '0x1.27e3ca4d19df0p-22',
        '0x1.af6338015fcd6p-26', '0x1.21dc5e68aa827p-29')),
    # R(z)/z = 2/3 + 2z/5 + ...: degree 6 on z <= (3 - 2 sqrt 2)^2, 2**-57.7 rel. to log.
    log_p=tuple(_h(c) for c in (
        '0x1.5555555555556p-1', '0x1.9999999995fb8p-2', '0x1.2492492d7452dp-2',
        '0x1.c71c630d8e81cp-3', '0x1.7462b8c9356bcp-3', '0x1.39fcd8db0ea8dp-3',
        '0x1.2b7177186e2b3p-3')),
    # degree 6 on |r| <= 1.001 pi/4: 2**-58.6 (sin), 2**-60.2 (cos) relative.
    sin_p=tuple(_h(c) for c in (
        '-0x1.5555555555555p-3', '0x1.1111111110cc8p-7', '-0x1.a01a019f0e5f5p-13',
        '0x1.71de38cd58d67p-19', '-0x1.ae623c4118ec8p-26', '0x1.5fc5e421009d4p-33',
        '-0x1.fd32a20b65703p-42')),
    cos_p=tuple(_h(c) for c in (
        '0x1.5555555555555p-5', '-0x1.6c16c16c16385p-10', '0x1.a01a019dd40b3p-16',
        '-0x1.27e4f7f01c71ap-22', '0x1.1ee8828206243p-29', '-0x1.8cd1ac9ed8e70p-37',
        '-0x1.c5e3575f5e33ep-45')),
)

_C32 = _consts(
    np.float32, np.int32,
    log2e=_h('0x1.715476p+0'),
    ln2hi=_h('0x1.62e430p-1'), ln2lo=_h('-0x1.05c610p-29'),
    ln2hi_e=_h('0x1.62e4p-1'), ln2lo_e=_h('0x1.7f7d1cp-20'),
    pio2hi=_h('0x1.921fb6p+0'), pio2lo=_h('-0x1.777a5cp-25'),
    exp_lo=-110.0, exp_hi=95.0, em1_lo=-30.0, em1_big=80.0,
    sin_tiny=2.0**-12, tan_tiny=2.0**-13, pow_big=256.0,
    # degree 3, 2**-38.8.
    pow_p=tuple(_h(c) for c in ('0x1.99999ap-2', '0x1.2491aap-2', '0x1.c730d4p-3',
                                '0x1.80656cp-3')),
    sub_scale=2.0**25, sub_e=25.0,
    # degree 5, 2**-30.9 relative to e**r - 1.
    exp_p=tuple(_h(c) for c in (
        '0x1.000000p-1', '0x1.555556p-3', '0x1.5554f2p-5', '0x1.111004p-7', '0x1.6d418ep-10',
        '0x1.a24318p-13')),
    # degree 2, 2**-28.7 relative to log.
    log_p=tuple(_h(c) for c in ('0x1.55555ap-1', '0x1.997c44p-2', '0x1.2eff54p-2')),
    # degree 3 on |r| <= 1.001 pi/4: 2**-29.4 (sin), 2**-32.7 (cos) relative.
    sin_p=tuple(_h(c) for c in ('-0x1.555556p-3', '0x1.11121cp-7', '-0x1.a11568p-13',
                                '0x1.adbb70p-19')),
    cos_p=tuple(_h(c) for c in ('0x1.555556p-5', '-0x1.6c18dcp-10', '0x1.a1d330p-16',
                                '-0x1.867790p-22')),
)

# tanh's constants of its own.  float64 (_tanh): below b the odd polynomial x + x^3 T(x^2),
# T of degree 5 on |x| <= 0.126, 2**-63 relative.
_Tanh = namedtuple('_Tanh', ['b', 'clamp', 'p'])
_TANH64 = _Tanh(b=0.125, clamp=20.0, p=tuple(_h(c) for c in (
    '-0x1.5555555555555p-2', '0x1.1111111110104p-3', '-0x1.ba1ba1b102806p-5',
    '0x1.664f38c99fba4p-6', '-0x1.226165c0eebccp-7', '0x1.cce36f77b76fep-9')))

_TanhRational = namedtuple('_TanhRational', ['clamp', 'p', 'q'])


def _monic(p, q):
    """Coefficients of P and Q divided by Q's leading one, which becomes 1 and is dropped."""
    return tuple(c / q[-1] for c in p), tuple(c / q[-1] for c in q[:-1])


# float32 (_tanh_rational): tanh x ~ x P(x^2)/Q(x^2), P of degree 4 and Q of degree 5 with
# P(0) = Q(0) = 1, relative error 2**-29.67 on [0, clamp] and x P/Q >= tanh x on
# [atanh(1 - 2**-25), clamp], the clamp a float32 just above atanh(1 - 2**-25).  Fitted in
# float64 on 4300 points, dense at both ends, with tanh from mpmath: a Lawson-weighted
# Sanathanan-Koerner iteration (least squares on (P - tanh(x)/x Q) / Q_previous), then 150
# linear programs on that error linearised around the current coefficients, which also
# impose the inequality (scipy's HiGHS; the steps are scaled to the error so its tolerances
# stay well below it).  P(0)/Q(0) stays exactly 1 after _monic: both are the same double.
_TANH32 = _TanhRational(np.float32(9.03125), *_monic(
    tuple(_h(c) for c in ('0x1.0000000000000p+0', '0x1.1a59cf7a5c4f6p-3', '0x1.06ce1217f509fp-8',
                          '0x1.093ba222ec487p-15', '0x1.b4a940917b23fp-25')),
    tuple(_h(c) for c in ('0x1.0000000000000p+0', '0x1.e2823cdc9834ap-2', '0x1.c68c49a61b132p-6',
                          '0x1.b975a3bc2f9e9p-12', '0x1.b2b6f0a8927adp-20',
                          '0x1.9600ede5e1814p-31'))))


def _two_over_pi(nbits):
    """floor(2/pi * 2**nbits): pi from Machin's formula in integer arithmetic (64 guard bits)."""
    n = nbits + 64
    one = 1 << n

    def atan_inv(m):
        total, term, k, sign = 0, one // m, 1, 1
        while term:
            total += sign * (term // k)
            term //= m * m
            k += 2
            sign = -sign
        return total

    pi = 4 * (4 * atan_inv(5) - atan_inv(239))
    return ((2 << (2 * n)) // pi) >> 64


def _trig_table(ft):
    """Row j: the bits of 2/pi below 2**-j, times 2**j, as four non-overlapping floats."""
    fi = np.finfo(ft)
    rows = 2 * fi.maxexp - 1 - (fi.maxexp + fi.nmant + 1)
    nbits = rows + 4 * (fi.nmant + 1) + 64
    v = _two_over_pi(nbits)
    table = np.empty((rows, 4), ft)
    # In integers (Fraction's normalisation made this 30 ms of every process's start):
    # the rest is num / 2**s, and int / int rounds correctly, as float(Fraction) does.
    for j in range(rows):
        s = nbits - j
        num = v % (1 << s)
        for i in range(4):
            table[j, i] = ft(num / (1 << s))
            p, q = float(table[j, i]).as_integer_ratio()
            e = q.bit_length() - 1  # q = 2**e
            if e > s:
                num, s = num << (e - s), e
            num -= p << (s - e)
    table.flags.writeable = False
    return table


_T32 = _trig_table(np.float32)
_T64 = _trig_table(np.float64)


# --------------------------------------------------------------------------------------------
# Public scalar functions.


@_jit
def exp_f32(x):
    return _exp(x, _C32)


@_jit
def exp_f64(x):
    return _exp(x, _C64)


@_jit
def expm1_f32(x):
    return _expm1(x, _C32)


@_jit
def expm1_f64(x):
    return _expm1(x, _C64)


@_jit
def log_f32(x):
    return _log(x, _C32)


@_jit
def log_f64(x):
    return _log(x, _C64)


@_jit
def log1p_f32(x):
    return _log1p(x, _C32)


@_jit
def log1p_f64(x):
    return _log1p(x, _C64)


@_jit
def tanh_f32(x):
    return _tanh_rational(x, _TANH32)


@_jit
def tanh_f64(x):
    return _tanh(x, _C64, _TANH64)


@_jit
def logistic_f32(x):
    return _logistic(x, _C32)


@_jit
def logistic_f64(x):
    return _logistic(x, _C64)


@_jit
def sin_f32(x):
    return _sin(x, _C32, _T32, 0)


@_jit
def sin_f64(x):
    return _sin(x, _C64, _T64, 0)


@_jit
def cos_f32(x):
    return _sin(x, _C32, _T32, 1)


@_jit
def cos_f64(x):
    return _sin(x, _C64, _T64, 1)


@_jit
def tan_f32(x):
    return _tan(x, _C32, _T32)


@_jit
def tan_f64(x):
    return _tan(x, _C64, _T64)


@_jit
def pow_f32(x, y):
    return _pow(x, y, _C32)


@_jit
def pow_f64(x, y):
    return _pow(x, y, _C64)

