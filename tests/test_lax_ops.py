"""jax.lax's functions on jitgrad.numpy (jitgrad/_lax_ops.py), table-driven: every public name
has a row; each row's value (eager and under jit) is checked against a numpy expression of
lax's semantics (C-style integer division, halves rounded away from zero, dot_general's
dimension order, ...), and differentiable rows by check_grads to order 2."""

import numpy as np
import pytest
import scipy.special as sc

import jitgrad as jg
import jitgrad.lax as lax
from jitgrad import _lax_ops
from jitgrad.errors import JitgradTypeError, ShapeError
from jitgrad.testing import check_grads
from tests.test_jit import assert_same

rng = np.random.default_rng(7)
X, Y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
POS = np.abs(X) + 0.5
UNIT = np.tanh(X) * 0.9
IA, JA = np.array([7, -7, 5, -5, 0, 9], np.int32), np.array([2, 2, -3, -3, 4, 4], np.int32)
HALVES = np.array([0.5, 1.5, -2.5, 2.5, 0.49999999999999994, -0.5, 3.7])


def _trunc(a, b):
    return (np.trunc(a / b)).astype(a.dtype)


def _scan_ref(fn, xs, reverse=False):
    xs = xs[::-1] if reverse else xs
    out, acc = [], None
    for v in xs:
        acc = v if acc is None else fn(acc, v)
        out.append(acc)
    out = np.array(out)
    return out[::-1] if reverse else out


def _recurrence(a, b):
    """The linear recurrence (a[k]*..., b[k-1]*a[k] + b[k]) along axis 1, by a loop."""
    p, q = a.copy(), b.copy()
    for k in range(1, a.shape[1]):
        p[:, k] = p[:, k - 1] * a[:, k]
        q[:, k] = q[:, k - 1] * a[:, k] + b[:, k]
    return p, q


_RECURRENCE = _recurrence(X, Y)
A3, B3 = np.stack([X, Y]), np.stack([Y.T, X.T])


class Row:
    """lax.``name``, called by ``f(lax, *args)``, equals ``expected`` (numpy values);
    ``grad``: whether ``f`` is differentiable in the float ``args``."""

    def __init__(self, name, f, expected, args=(), grad=True):
        self.name, self.f, self.expected, self.args, self.grad = name, f, expected, args, grad

    def __repr__(self):
        return self.name


def _unary(name, fn, x=X, ref=None, grad=True):
    return Row(name, lambda L, v: getattr(L, name)(v), ref(x) if ref else fn(x), (x,), grad)


ROWS = [
    _unary("abs", None, ref=np.abs), _unary("acos", None, UNIT, np.arccos),
    _unary("acosh", None, POS + 1, np.arccosh), _unary("asin", None, UNIT, np.arcsin),
    _unary("asinh", None, ref=np.arcsinh), _unary("atan", None, ref=np.arctan),
    _unary("atanh", None, UNIT, np.arctanh), _unary("ceil", None, ref=np.ceil, grad=False),
    _unary("floor", None, ref=np.floor, grad=False), _unary("cos", None, ref=np.cos),
    _unary("cosh", None, ref=np.cosh), _unary("sin", None, ref=np.sin),
    _unary("sinh", None, ref=np.sinh), _unary("tan", None, UNIT, np.tan),
    _unary("tanh", None, ref=np.tanh), _unary("exp", None, ref=np.exp),
    _unary("exp2", None, ref=np.exp2), _unary("expm1", None, ref=np.expm1),
    _unary("log", None, POS, np.log), _unary("log1p", None, POS, np.log1p),
    _unary("sqrt", None, POS, np.sqrt), _unary("square", None, ref=np.square),
    _unary("rsqrt", None, POS, lambda v: 1 / np.sqrt(v)),
    _unary("sign", None, ref=np.sign, grad=False), _unary("neg", None, ref=np.negative),
    _unary("reciprocal", None, POS, np.reciprocal),
    _unary("is_finite", None, np.array([1.0, np.inf, np.nan]), np.isfinite, grad=False),
    _unary("logistic", None, ref=sc.expit), _unary("erf", None, ref=sc.erf),
    _unary("erfc", None, ref=sc.erfc), _unary("erf_inv", None, UNIT, sc.erfinv),
    _unary("lgamma", None, POS, sc.gammaln), _unary("digamma", None, POS, sc.digamma),
    _unary("bessel_i0e", None, ref=sc.i0e), _unary("bessel_i1e", None, ref=sc.i1e),
    Row("atan2", lambda L, a, b: L.atan2(a, b), np.arctan2(X, POS), (X, POS)),
    Row("sub", lambda L, a, b: L.sub(a, b), X - Y, (X, Y)),
    Row("mul", lambda L, a, b: L.mul(a, b), X * Y, (X, Y)),
    Row("pow", lambda L, a, b: L.pow(a, b), POS ** Y, (POS, Y)),
    Row("max", lambda L, a, b: L.max(a, b), np.maximum(X, Y), (X, Y)),
    Row("min", lambda L, a, b: L.min(a, b), np.minimum(X, Y), (X, Y)),
    Row("eq", lambda L: L.eq(IA, JA), IA == JA, grad=False),
    Row("ge", lambda L: L.ge(IA, JA), IA >= JA, grad=False),
    Row("gt", lambda L: L.gt(IA, JA), IA > JA, grad=False),
    Row("le", lambda L: L.le(IA, JA), IA <= JA, grad=False),
    Row("lt", lambda L: L.lt(IA, JA), IA < JA, grad=False),
    Row("igamma", lambda L, a, x: L.igamma(a, x), sc.gammainc(POS, X * X), (POS, X * X),
        grad=False),
    Row("igammac", lambda L, a, x: L.igammac(a, x), sc.gammaincc(POS, X * X), (POS, X * X),
        grad=False),
    Row("betainc", lambda L, x: L.betainc(2.0, 3.0, x), sc.betainc(2.0, 3.0, np.abs(UNIT)),
        (np.abs(UNIT),), grad=False),
    Row("polygamma", lambda L, x: L.polygamma(1, x), sc.polygamma(1, POS), (POS,)),
    Row("div", lambda L: L.div(IA, JA), _trunc(IA, JA), grad=False),
    Row("rem", lambda L: L.rem(IA, JA), IA - JA * _trunc(IA, JA), grad=False),
    Row("div", lambda L, a, b: L.div(a, b), X / POS, (X, POS)),
    Row("rem", lambda L, a: L.rem(a, 0.7), np.fmod(X, 0.7), (X,)),
    Row("round", lambda L: L.round(HALVES), np.array([1, 2, -3, 3, 0, -1, 4.0]), grad=False),
    Row("round", lambda L: L.round(HALVES, L.RoundingMethod.TO_NEAREST_EVEN),
        np.rint(HALVES), grad=False),
    Row("RoundingMethod", lambda L: L.round(1.5, L.RoundingMethod(0)), np.float64(2.0),
        grad=False),
    Row("integer_pow", lambda L, a: L.integer_pow(a, 3), X ** 3, (X,)),
    Row("clamp", lambda L, a: L.clamp(-0.5, a, 0.5), np.clip(X, -0.5, 0.5), (X,)),
    Row("select_n", lambda L, a, b: L.select_n(X > 0, a, b), np.where(X > 0, Y, X), (X, Y)),
    Row("select_n", lambda L, a, b: L.select_n(np.array([0, 2, 1, 2]), a[0], b[0], a[1]),
        np.array([X[0, 0], X[1, 1], Y[0, 2], X[1, 3]]), (X, Y)),
    Row("bitwise_and", lambda L: L.bitwise_and(X > 0, Y > 0), (X > 0) & (Y > 0), grad=False),
    Row("bitwise_or", lambda L: L.bitwise_or(X > 0, Y > 0), (X > 0) | (Y > 0), grad=False),
    Row("bitwise_xor", lambda L: L.bitwise_xor(X > 0, Y > 0), (X > 0) ^ (Y > 0), grad=False),
    Row("bitwise_not", lambda L: L.bitwise_not(X > 0), ~(X > 0), grad=False),
    Row("broadcast", lambda L, a: L.broadcast(a, (2,)), np.broadcast_to(X, (2, 3, 4)), (X,)),
    Row("broadcast_in_dim", lambda L, a: L.broadcast_in_dim(a[:, :1], (2, 3, 4), (1, 2)),
        np.broadcast_to(X[:, :1], (2, 3, 4)), (X,)),
    Row("broadcast_to_rank", lambda L, a: L.broadcast_to_rank(a, 4), X[None, None], (X,)),
    Row("iota", lambda L: L.iota(np.int32, 5), np.arange(5, dtype=np.int32), grad=False),
    Row("broadcasted_iota", lambda L: L.broadcasted_iota(np.float32, (2, 3), 0),
        np.array([[0, 0, 0], [1, 1, 1]], np.float32), grad=False),
    Row("collapse", lambda L, a: L.collapse(a[None], 1), X.reshape(1, 12), (X,)),
    Row("concatenate", lambda L, a, b: L.concatenate([a, b], 1), np.concatenate([X, Y], 1),
        (X, Y)),
    Row("expand_dims", lambda L, a: L.expand_dims(a, (0, 2)), X[None, :, None], (X,)),
    Row("full", lambda L: L.full((2, 2), 3.0, np.float32), np.full((2, 2), 3.0, np.float32),
        grad=False),
    Row("full_like", lambda L: L.full_like(IA, 2), np.full_like(IA, 2), grad=False),
    Row("index_in_dim", lambda L, a: L.index_in_dim(a, -1, 1, False), X[:, -1], (X,)),
    Row("index_in_dim", lambda L, a: L.index_in_dim(a, 1), X[1:2], (X,)),
    Row("slice_in_dim", lambda L, a: L.slice_in_dim(a, 1, None, 2, 1), X[:, 1::2], (X,)),
    Row("slice", lambda L, a: L.slice(a, (0, 1), (3, 4), (2, 2)), X[0:3:2, 1:4:2], (X,)),
    Row("pad", lambda L, a: L.pad(a, -1.0, [(1, -1, 1), (-2, 2, 0)]),
        np.array([[-1] * 4] + [list(X[0, 2:]) + [-1, -1], [-1] * 4, list(X[1, 2:]) + [-1, -1],
                               [-1] * 4]), (X,)),
    Row("pad", lambda L, a, v: L.pad(a[0], v[0, 0], [(0, 1, 2)]),
        np.array([X[0, 0], Y[0, 0], Y[0, 0], X[0, 1], Y[0, 0], Y[0, 0], X[0, 2], Y[0, 0],
                  Y[0, 0], X[0, 3], Y[0, 0]]), (X, Y)),
    Row("reshape", lambda L, a: L.reshape(a, (4, 3), (1, 0)), X.T.reshape(4, 3), (X,)),
    Row("rev", lambda L, a: L.rev(a, (0, 1)), X[::-1, ::-1], (X,)),
    Row("squeeze", lambda L, a: L.squeeze(a[:1], (0,)), X[0], (X,)),
    Row("tile", lambda L, a: L.tile(a, (2, 1)), np.tile(X, (2, 1)), (X,)),
    Row("split", lambda L, a: L.split(a, (1, 3), 1), [X[:, :1], X[:, 1:]], (X,)),
    Row("reduce_sum", lambda L, a: L.reduce_sum(a, (1,)), X.sum(1), (X,)),
    Row("reduce_prod", lambda L, a: L.reduce_prod(a, (0, 1)), X.prod(), (X,)),
    Row("reduce_max", lambda L, a: L.reduce_max(a, (0,)), X.max(0), (X,)),
    Row("reduce_min", lambda L, a: L.reduce_min(a, (0,)), X.min(0), (X,)),
    Row("reduce_and", lambda L: L.reduce_and(X > -1, (1,)), (X > -1).all(1), grad=False),
    Row("reduce_or", lambda L: L.reduce_or(X > 1, (1,)), (X > 1).any(1), grad=False),
    Row("argmax", lambda L: L.argmax(X, 1, np.int32), X.argmax(1).astype(np.int32),
        grad=False),
    Row("argmin", lambda L: L.argmin(X, 0, np.int64), X.argmin(0), grad=False),
    Row("reduce", lambda L, a: L.reduce(a, -np.inf, L.max, (1,)), X.max(1), (X,)),
    Row("reduce", lambda L, a, b: L.reduce((a, b), (0.0, 1.0), lambda p, q: (p[0] + q[0],
                                                                          p[1] * q[1]), (0,)),
        (X.sum(0), Y.prod(0)), (X, Y)),
    Row("cumsum", lambda L, a: L.cumsum(a, 1, reverse=True), X[:, ::-1].cumsum(1)[:, ::-1],
        (X,)),
    Row("cumprod", lambda L, a: L.cumprod(a, 0), X.cumprod(0), (X,)),
    Row("cummax", lambda L, a: L.cummax(a, 1), np.maximum.accumulate(X, 1), (X,)),
    Row("cummin", lambda L, a: L.cummin(a, 0, reverse=True),
        np.minimum.accumulate(X[::-1], 0)[::-1], (X,)),
    Row("cumlogsumexp", lambda L: L.cumlogsumexp(np.array([-1000.0, -1001.0, 5.0, 1000.0])),
        np.array([-1000.0, -1000 + np.log1p(np.exp(-1.0)), 5.0, 1000.0]), grad=False),
    Row("cumlogsumexp", lambda L, a: L.cumlogsumexp(a, 1),
        np.logaddexp.accumulate(X, 1), (X,)),
    Row("associative_scan", lambda L, a: L.associative_scan(lambda p, q: p * q, 1 + 0.2 * a[0]),
        _scan_ref(lambda p, q: p * q, 1 + 0.2 * X[0]), (X,)),
    Row("associative_scan", lambda L, a: L.associative_scan(L.max, a[1], reverse=True),
        _scan_ref(np.maximum, X[1], reverse=True), (X,)),
    Row("associative_scan", lambda L, a, b: L.associative_scan(
        lambda p, q: (p[0] * q[0], p[1] * q[0] + q[1]), (a, b), axis=1), _RECURRENCE, (X, Y)),
    Row("dot", lambda L, a, b: L.dot(a, b.T), X @ Y.T, (X, Y)),
    Row("dot_general", lambda L, a, b: L.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
        np.einsum("bij,bjk->bik", A3, B3), (A3, B3)),
    Row("dot_general", lambda L, a, b: L.dot_general(a, b, (((0,), (0,)), ((), ()))),
        X.T @ Y, (X, Y)),
    Row("batch_matmul", lambda L, a, b: L.batch_matmul(a[None], b.T[None]), (X @ Y.T)[None],
        (X, Y)),
    Row("sort", lambda L, a: L.sort(a, 0), np.sort(X, 0), (X,)),
    Row("sort", lambda L: L.sort((np.array([2, 1, 2, 1]), np.array([5, 3, 1, 3]),
                                  np.arange(4.0)), num_keys=2),
        (np.array([1, 1, 2, 2]), np.array([3, 3, 1, 5]), np.array([1.0, 3.0, 2.0, 0.0])),
        grad=False),
    Row("sort_key_val", lambda L, a, b: L.sort_key_val(a[0], b[0]),
        (np.sort(X[0]), Y[0][np.argsort(X[0], kind="stable")]), (X, Y)),
    Row("top_k", lambda L: L.top_k(np.array([[1.0, 3.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]]), 3),
        (np.array([[3.0, 3.0, 2.0], [5.0, 5.0, 0.0]]),
         np.array([[1, 2, 3], [2, 3, 0]], np.int32)), grad=False),
    Row("top_k", lambda L, a: L.top_k(a, 2)[0], -np.sort(-X, 1)[:, :2], (X,)),
    Row("shift_left", lambda L: L.shift_left(IA[:4], np.int32(2)), IA[:4] << 2, grad=False),
    Row("shift_right_arithmetic", lambda L: L.shift_right_arithmetic(IA[:4], np.int32(1)),
        IA[:4] >> 1, grad=False),
]


def _call(row, *args):
    return row.f(lax, *args)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_values_match_numpy(row):
    assert_same(_call(row, *row.args), row.expected)
    assert_same(jg.jit(lambda *a: _call(row, *a))(*row.args), row.expected)


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad], ids=repr)
def test_derivatives(row):
    check_grads(lambda *a: _call(row, *a), row.args, order=2, rtol=1e-5, atol=1e-5)


def test_every_function_has_a_row():
    names = {r.name for r in ROWS}
    assert set(_lax_ops.__all__) <= names, sorted(set(_lax_ops.__all__) - names)
    assert all(hasattr(lax, n) for n in _lax_ops.__all__)


@pytest.mark.parametrize("call, error, match", [
    (lambda: lax.broadcast_in_dim(np.ones((2, 3)), (4, 3), (0, 1)), ShapeError, "size 2"),
    (lambda: lax.pad(np.ones(3), 0.0, [(1, 1)]), ShapeError, "padding_config"),
    (lambda: lax.integer_pow(np.ones(3), 2.0), JitgradTypeError, "Python int"),
    (lambda: lax.dot_general(np.ones((2, 3)), np.ones((4, 5)), (((1,), (0,)), ((), ()))),
     ShapeError, "paired"),
    (lambda: lax.split(np.ones(5), (2, 2)), ShapeError, "add up"),
    (lambda: lax.top_k(np.ones(3), 4), ShapeError, "out of range"),
    (lambda: lax.dot(np.ones((2, 2, 2)), np.ones(2)), ShapeError, "dot_general"),
])
def test_errors_name_the_function(call, error, match):
    with pytest.raises(error, match=match):
        call()
