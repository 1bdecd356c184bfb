"""jitgrad.random, table-driven: every sampler's shape and dtype (JAX's, with jax_enable_x64),
bits identical eagerly, under jit and under vmap over keys, the same in a new process, JAX's
bits where JAX is installed, derivatives in the parameters, errors; and statistical tests.

Statistical tests (fixed keys, so each is deterministic: a failure is reproducible and means
the sampler, or the bits it draws, changed):
* Kolmogorov-Smirnov against the scipy.stats distribution (continuous samplers) and Pearson's
  chi-square against the probability mass function (discrete ones), on N = 20000 draws: the
  p-value must be at least P_MIN = 1e-4. A correct sampler fails with probability 1e-4 per
  key; a wrong CDF (a scale off by 1%, a mass moved by 0.01) fails at this N.
* Moments: the sample mean and variance within Z_MAX = 6 standard errors of the
  distribution's (standard errors sigma/sqrt(N) and sqrt((mu4 - sigma^4)/N)), where the
  distribution has them (parameters are chosen so that mu4 is finite, except Cauchy's, which
  has no mean: its KS test stands alone).
"""

import hashlib
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import scipy.stats as st

import jitgrad as jg
import jitgrad.random as jr
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError

N = 20000
P_MIN = 1e-4
Z_MAX = 6.0
KEY = jr.key(2024)
KEYS = jr.split(jr.key(7), 3)


@dataclass
class Case:
    """A sampler call ``draw(key, n)`` with ``n`` draws in its output, what JAX returns for
    the same call (``jax``: the function of ``(jax.random, key, n)``, or None), the output's
    dtype and shape (a function of ``n``), and its distribution: ``dist`` (a frozen
    scipy.stats distribution) or ``pmf`` (probabilities of 0..k-1), of ``transform(draws)``;
    ``exact``: whether compiled and vmapped values equal eager ones bit for bit (integers,
    booleans, bits, unit-range uniforms, permutations; otherwise they agree within a few
    units of roundoff)."""

    name: str
    draw: Callable[[Any, int], Any]
    dtype: Any
    shape: Callable[[int], tuple]
    dist: Any = None
    pmf: Any = None
    jax: Callable[..., Any] | None = None
    exact: bool = False
    transform: Callable[[Any], Any] = field(default=lambda x: x)


LOGITS = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
MEAN = np.array([1.0, -2.0])
COV = np.array([[2.0, 0.6], [0.6, 0.5]])
ALPHA = np.array([0.5, 1.0, 2.5])


def whiten(x):
    """Samples of N(MEAN, COV) as standard normal ones, all coordinates."""
    return np.linalg.solve(np.linalg.cholesky(COV), (x - MEAN).reshape(-1, 2).T).ravel()


def whiten_centred(x):
    return whiten(x + MEAN)

CASES = [
    Case("bits_u32", lambda k, n: jr.bits(k, (n,), np.uint32), np.uint32, lambda n: (n,),
         dist=st.uniform(0, 2.0 ** 32), exact=True,
         jax=lambda r, k, n: r.bits(k, (n,), np.uint32)),
    Case("bits_u64", lambda k, n: jr.bits(k, (n,)), np.uint64, lambda n: (n,),
         dist=st.uniform(0, 2.0 ** 64), exact=True, jax=lambda r, k, n: r.bits(k, (n,))),
    Case("bits_u8", lambda k, n: jr.bits(k, (n,), np.uint8), np.uint8, lambda n: (n,),
         pmf=np.full(256, 1 / 256), exact=True,
         jax=lambda r, k, n: r.bits(k, (n,), np.uint8)),
    Case("uniform", lambda k, n: jr.uniform(k, (n,)), np.float64, lambda n: (n,),
         dist=st.uniform(), exact=True, jax=lambda r, k, n: r.uniform(k, (n,))),
    Case("uniform_f32_2d", lambda k, n: jr.uniform(k, (n // 4, 4), np.float32), np.float32,
         lambda n: (n // 4, 4), dist=st.uniform(), exact=True,
         jax=lambda r, k, n: r.uniform(k, (n // 4, 4), np.float32)),
    Case("uniform_range", lambda k, n: jr.uniform(k, (n,), minval=-2.0, maxval=3.0),
         np.float64, lambda n: (n,), dist=st.uniform(-2, 5),
         jax=lambda r, k, n: r.uniform(k, (n,), minval=-2.0, maxval=3.0)),
    Case("exponential", lambda k, n: jr.exponential(k, (n,)), np.float64, lambda n: (n,),
         dist=st.expon(), jax=lambda r, k, n: r.exponential(k, (n,))),
    Case("gumbel", lambda k, n: jr.gumbel(k, (n,), np.float32), np.float32, lambda n: (n,),
         dist=st.gumbel_r(), jax=lambda r, k, n: r.gumbel(k, (n,), np.float32)),
    Case("gumbel_high", lambda k, n: jr.gumbel(k, (n,), mode="high"), np.float64,
         lambda n: (n,), dist=st.gumbel_r(), jax=lambda r, k, n: r.gumbel(k, (n,), mode="high")),
    Case("normal", lambda k, n: jr.normal(k, (n,)), np.float64, lambda n: (n,),
         dist=st.norm(), jax=lambda r, k, n: r.normal(k, (n,))),
    Case("normal_f32_2d", lambda k, n: jr.normal(k, (2, n // 2), np.float32), np.float32,
         lambda n: (2, n // 2), dist=st.norm(),
         jax=lambda r, k, n: r.normal(k, (2, n // 2), np.float32)),
    Case("truncated_normal", lambda k, n: jr.truncated_normal(k, -1.0, 2.5, (n,)), np.float64,
         lambda n: (n,), dist=st.truncnorm(-1.0, 2.5),
         jax=lambda r, k, n: r.truncated_normal(k, -1.0, 2.5, (n,))),
    Case("truncated_normal_f32", lambda k, n: jr.truncated_normal(
        k, np.float32(0.5), np.array([1.0, 3.0], np.float32), (n // 2, 2), np.float32),
         np.float32, lambda n: (n // 2, 2), dist=st.truncnorm(0.5, 3.0),
         transform=lambda x: x[:, 1],
         jax=lambda r, k, n: r.truncated_normal(k, np.float32(0.5), np.array([1.0, 3.0],
                                                                           np.float32),
                                                (n // 2, 2), np.float32)),
    Case("multivariate_normal", lambda k, n: jr.multivariate_normal(k, MEAN, COV, (n // 2,)),
         np.float64, lambda n: (n // 2, 2), dist=st.norm(), transform=whiten,
         jax=lambda r, k, n: r.multivariate_normal(k, MEAN, COV, (n // 2,))),
    Case("multivariate_normal_svd_batched", lambda k, n: jr.multivariate_normal(
        k, np.zeros((2, 1, 2)), COV, (2, n // 4), method="svd"),
         np.float64, lambda n: (2, n // 4, 2), dist=st.norm(), transform=whiten_centred,
         jax=lambda r, k, n: r.multivariate_normal(k, np.zeros((2, 1, 2)), COV, (2, n // 4),
                                                   method="svd")),
    Case("multivariate_normal_eigh_f32", lambda k, n: jr.multivariate_normal(
        k, MEAN.astype(np.float32), COV.astype(np.float32), (n // 2,), method="eigh"),
         np.float32, lambda n: (n // 2, 2), dist=st.norm(), transform=whiten),
    Case("gamma_small", lambda k, n: jr.gamma(k, 0.3, (n,)), np.float64, lambda n: (n,),
         dist=st.gamma(0.3), jax=lambda r, k, n: r.gamma(k, 0.3, (n,))),
    Case("gamma", lambda k, n: jr.gamma(k, np.array([[1.0], [4.5]]), (2, n // 2)), np.float64,
         lambda n: (2, n // 2), dist=st.gamma(4.5), transform=lambda x: x[1],
         jax=lambda r, k, n: r.gamma(k, np.array([[1.0], [4.5]]), (2, n // 2))),
    Case("gamma_f32", lambda k, n: jr.gamma(k, np.float32(2.0), (n,), np.float32), np.float32,
         lambda n: (n,), dist=st.gamma(2.0),
         jax=lambda r, k, n: r.gamma(k, np.float32(2.0), (n,), np.float32)),
    Case("loggamma", lambda k, n: jr.loggamma(k, 0.05, (n,)), np.float64, lambda n: (n,),
         dist=st.loggamma(0.05), jax=lambda r, k, n: r.loggamma(k, 0.05, (n,))),
    Case("beta", lambda k, n: jr.beta(k, 2.0, 5.0, (n,)), np.float64, lambda n: (n,),
         dist=st.beta(2.0, 5.0), jax=lambda r, k, n: r.beta(k, 2.0, 5.0, (n,))),
    Case("beta_small", lambda k, n: jr.beta(k, np.float32(0.3), np.float32(0.4), (n,),
                                             np.float32),
         np.float32, lambda n: (n,), dist=st.beta(0.3, 0.4),
         jax=lambda r, k, n: r.beta(k, np.float32(0.3), np.float32(0.4), (n,), np.float32)),
    Case("dirichlet", lambda k, n: jr.dirichlet(k, ALPHA, (n,)), np.float64,
         lambda n: (n, 3), dist=st.beta(ALPHA[2], ALPHA.sum() - ALPHA[2]),
         transform=lambda x: x[:, 2], jax=lambda r, k, n: r.dirichlet(k, ALPHA, (n,))),
    Case("cauchy", lambda k, n: jr.cauchy(k, (n,)), np.float64, lambda n: (n,),
         dist=st.cauchy(), jax=lambda r, k, n: r.cauchy(k, (n,))),
    Case("laplace_f32", lambda k, n: jr.laplace(k, (n,), np.float32), np.float32,
         lambda n: (n,), dist=st.laplace(), jax=lambda r, k, n: r.laplace(k, (n,), np.float32)),
    Case("logistic", lambda k, n: jr.logistic(k, (n,)), np.float64, lambda n: (n,),
         dist=st.logistic(), jax=lambda r, k, n: r.logistic(k, (n,))),
    Case("lognormal", lambda k, n: jr.lognormal(k, np.array([0.5, 1.0]), (n // 2, 2)),
         np.float64, lambda n: (n // 2, 2), dist=st.lognorm(0.5), transform=lambda x: x[:, 0],
         jax=lambda r, k, n: r.lognormal(k, np.array([0.5, 1.0]), (n // 2, 2))),
    Case("pareto", lambda k, n: jr.pareto(k, 5.0, (n,)), np.float64, lambda n: (n,),
         dist=st.pareto(5.0), jax=lambda r, k, n: r.pareto(k, 5.0, (n,))),
    Case("t", lambda k, n: jr.t(k, 5.0, (n,)), np.float64, lambda n: (n,), dist=st.t(5.0),
         jax=lambda r, k, n: r.t(k, 5.0, (n,))),
    Case("chisquare_f32", lambda k, n: jr.chisquare(k, np.float32(3.0), (n,), np.float32),
         np.float32, lambda n: (n,), dist=st.chi2(3.0),
         jax=lambda r, k, n: r.chisquare(k, np.float32(3.0), (n,), np.float32)),
    Case("f", lambda k, n: jr.f(k, 5.0, 12.0, (n,)), np.float64, lambda n: (n,),
         dist=st.f(5.0, 12.0), jax=lambda r, k, n: r.f(k, 5.0, 12.0, (n,))),
    Case("rademacher", lambda k, n: jr.rademacher(k, (n,)), np.int64, lambda n: (n,),
         pmf=np.array([0.5, 0.5]), exact=True, transform=lambda x: (x + 1) // 2,
         jax=lambda r, k, n: r.rademacher(k, (n,))),
    Case("bernoulli", lambda k, n: jr.bernoulli(k, 0.3, (n,)), np.bool_, lambda n: (n,),
         pmf=np.array([0.7, 0.3]), exact=True, jax=lambda r, k, n: r.bernoulli(k, 0.3, (n,))),
    Case("bernoulli_high_f32", lambda k, n: jr.bernoulli(k, np.float32(0.3), (n,), "high"),
         np.bool_, lambda n: (n,), pmf=np.array([0.7, 0.3]), exact=True,
         jax=lambda r, k, n: r.bernoulli(k, np.float32(0.3), (n,), "high")),
    Case("randint", lambda k, n: jr.randint(k, (n,), -3, 7), np.int64, lambda n: (n,),
         pmf=np.full(10, 0.1), exact=True, transform=lambda x: x + 3,
         jax=lambda r, k, n: r.randint(k, (n,), -3, 7)),
    Case("randint_i32", lambda k, n: jr.randint(k, (n,), 0, 6, np.int32), np.int32,
         lambda n: (n,), pmf=np.full(6, 1 / 6), exact=True,
         jax=lambda r, k, n: r.randint(k, (n,), 0, 6, np.int32)),
    Case("randint_u8", lambda k, n: jr.randint(k, (n,), 0, 256, np.uint8), np.uint8,
         lambda n: (n,), pmf=np.full(256, 1 / 256), exact=True,
         jax=lambda r, k, n: r.randint(k, (n,), 0, 256, np.uint8)),
    Case("categorical", lambda k, n: jr.categorical(k, LOGITS, shape=(n,)), np.int64,
         lambda n: (n,), pmf=np.exp(LOGITS), exact=True,
         jax=lambda r, k, n: r.categorical(k, LOGITS, shape=(n,))),
    Case("categorical_axis0", lambda k, n: jr.categorical(k, np.stack([LOGITS] * 2, 1), 0,
                                                          (n // 2, 2)),
         np.int64, lambda n: (n // 2, 2), pmf=np.exp(LOGITS), exact=True,
         jax=lambda r, k, n: r.categorical(k, np.stack([LOGITS] * 2, 1), 0, (n // 2, 2))),
]
PROBS = np.array([0.1, 0.2, 0.3, 0.4])
PERMS4 = np.array(sorted(__import__("itertools").permutations(range(4))))


def perm_index(x):
    """Each row (a permutation of 0..3) as its index among the 24 in lexicographic order."""
    weights = 4 ** np.arange(3, -1, -1)  # lexicographic order is the order of these codes
    return np.searchsorted(PERMS4 @ weights, x.reshape(-1, 4) @ weights)


def pairs(k):
    """The pmf of the ordered pairs (first * k + second) drawn without replacement with
    probabilities PROBS[:k] renormalised (zero on the diagonal)."""
    p = PROBS[:k] / PROBS[:k].sum()
    return (np.outer(p, p) / (1 - p)[:, None] * (1 - np.eye(k))).ravel()


def plackett_luce(p):
    """The pmf of the orders (PERMS4) in which all four categories are drawn without
    replacement with probabilities p."""
    return np.array([np.prod([p[s[i]] / (1 - p[list(s[:i])].sum()) for i in range(4)])
                     for s in PERMS4])


def in_pairs(draw):
    """``n // 2`` independent two-element draws without replacement, from split keys."""
    return lambda k, n: jg.vmap(draw)(jr.split(k, n // 2))


CASES += [
    Case("permutation", lambda k, n: jr.permutation(k, n), np.int64, lambda n: (n,),
         pmf=np.array([0.5, 0.5]), exact=True, transform=lambda x: x[0::2] < x[1::2],
         jax=lambda r, k, n: r.permutation(k, n)),
    Case("permutation_rows", lambda k, n: jr.permutation(
        k, np.tile(np.arange(4), (n // 4, 1)), 1, independent=True), np.int64,
         lambda n: (n // 4, 4), pmf=np.full(24, 1 / 24), exact=True, transform=perm_index,
         jax=lambda r, k, n: r.permutation(k, np.tile(np.arange(4), (n // 4, 1)), 1, True)),
    Case("permutation_axis1_f32", lambda k, n: jr.permutation(
        k, np.arange(n, dtype=np.float32).reshape(2, n // 2), 1), np.float32,
         lambda n: (2, n // 2), pmf=np.array([0.5, 0.5]), exact=True,
         transform=lambda x: x[0, 0::2] < x[0, 1::2],
         jax=lambda r, k, n: r.permutation(
             k, np.arange(n, dtype=np.float32).reshape(2, n // 2), 1)),
    Case("categorical_no_replace", in_pairs(lambda k: jr.categorical(k, LOGITS, shape=(2,),
                                                                    replace=False)),
         np.int64, lambda n: (n // 2, 2), pmf=pairs(4), exact=True,
         transform=lambda x: x[:, 0] * 4 + x[:, 1],
         jax=lambda r, k, n: __import__("jax").vmap(lambda kk: r.categorical(
             kk, LOGITS, shape=(2,), replace=False))(r.split(k, n // 2)).astype(np.int64)),
    Case("categorical_no_replace_axis0", lambda k, n: jr.categorical(
        k, np.tile(LOGITS[:, None], (1, n // 4)), 0, (4, n // 4), replace=False), np.int64,
         lambda n: (4, n // 4), pmf=plackett_luce(PROBS), exact=True,
         transform=lambda x: perm_index(x.T),
         jax=lambda r, k, n: r.categorical(k, np.tile(LOGITS[:, None], (1, n // 4)), 0,
                                           (4, n // 4), replace=False).astype(np.int64)),
    Case("choice", lambda k, n: jr.choice(k, 6, (n,)), np.int64, lambda n: (n,),
         pmf=np.full(6, 1 / 6), exact=True, jax=lambda r, k, n: r.choice(k, 6, (n,))),
    Case("choice_p", lambda k, n: jr.choice(k, 4, (n // 2, 2), p=PROBS), np.int64,
         lambda n: (n // 2, 2), pmf=PROBS, exact=True,
         jax=lambda r, k, n: r.choice(k, 4, (n // 2, 2), p=PROBS)),
    Case("choice_axis1_f32_p", lambda k, n: jr.choice(
        k, np.arange(8, dtype=np.float32).reshape(2, 4), (n // 2,), p=PROBS.astype(np.float32),
        axis=1), np.float32, lambda n: (2, n // 2), pmf=PROBS, exact=True,
         transform=lambda x: x[1] - 4,
         jax=lambda r, k, n: r.choice(k, np.arange(8, dtype=np.float32).reshape(2, 4),
                                      (n // 2,), p=PROBS.astype(np.float32), axis=1)),
    Case("choice_no_replace", in_pairs(lambda k: jr.choice(k, 5, (2,), replace=False)),
         np.int64, lambda n: (n // 2, 2), pmf=(1 - np.eye(5)).ravel() / 20, exact=True,
         transform=lambda x: x[:, 0] * 5 + x[:, 1],
         jax=lambda r, k, n: __import__("jax").vmap(
             lambda kk: r.choice(kk, 5, (2,), replace=False))(r.split(k, n // 2))),
    Case("choice_no_replace_p", in_pairs(lambda k: jr.choice(k, 4, (2,), False, PROBS)),
         np.int64, lambda n: (n // 2, 2), pmf=pairs(4), exact=True,
         transform=lambda x: x[:, 0] * 4 + x[:, 1],
         jax=lambda r, k, n: __import__("jax").vmap(
             lambda kk: r.choice(kk, 4, (2,), False, PROBS))(r.split(k, n // 2))),
]
GEOMETRIC_P = 0.3
GEOMETRIC_PMF = np.array([0.0] + [GEOMETRIC_P * (1 - GEOMETRIC_P) ** (k - 1) for k in range(1, 15)]
                         + [(1 - GEOMETRIC_P) ** 14])  # 0, 1..14, then 15 and above
CASES += [
    Case("maxwell", lambda k, n: jr.maxwell(k, (n,)), np.float64, lambda n: (n,),
         dist=st.maxwell(), jax=lambda r, k, n: r.maxwell(k, (n,))),
    Case("double_sided_maxwell", lambda k, n: jr.double_sided_maxwell(k, 0.5, 2.0, (n,)),
         np.float64, lambda n: (n,), dist=st.maxwell(), transform=lambda x: abs(x - 0.5) / 2,
         jax=lambda r, k, n: r.double_sided_maxwell(k, 0.5, 2.0, (n,))),
    Case("weibull_min", lambda k, n: jr.weibull_min(k, 2.0, 1.5, (n,)), np.float64,
         lambda n: (n,), dist=st.weibull_min(1.5, scale=2.0),
         jax=lambda r, k, n: r.weibull_min(k, 2.0, 1.5, (n,))),
    Case("generalized_normal", lambda k, n: jr.generalized_normal(k, 1.5, (n,)), np.float64,
         lambda n: (n,), dist=st.gennorm(1.5),
         jax=lambda r, k, n: r.generalized_normal(k, 1.5, (n,))),
    Case("ball", lambda k, n: jr.ball(k, 3, 2, (n,)), np.float64, lambda n: (n, 3),
         dist=st.uniform(), transform=lambda x: np.linalg.norm(x, axis=-1) ** 3,
         jax=lambda r, k, n: r.ball(k, 3, 2, (n,))),
    Case("rayleigh_f32", lambda k, n: jr.rayleigh(k, np.float32(2.0), (n,), np.float32),
         np.float32, lambda n: (n,), dist=st.rayleigh(scale=2.0),
         jax=lambda r, k, n: r.rayleigh(k, np.float32(2.0), (n,), np.float32)),
    Case("wald", lambda k, n: jr.wald(k, 1.5, (n,)), np.float64, lambda n: (n,),
         dist=st.invgauss(1.5), jax=lambda r, k, n: r.wald(k, 1.5, (n,))),
    Case("geometric", lambda k, n: jr.geometric(k, GEOMETRIC_P, (n,)), np.int64,
         lambda n: (n,), pmf=GEOMETRIC_PMF, exact=True, transform=lambda x: np.minimum(x, 15),
         jax=lambda r, k, n: r.geometric(k, GEOMETRIC_P, (n,))),
    Case("triangular", lambda k, n: jr.triangular(k, 0.0, 0.5, 2.0, (n,)), np.float64,
         lambda n: (n,), dist=st.triang(0.25, scale=2.0),
         jax=lambda r, k, n: r.triangular(k, 0.0, 0.5, 2.0, (n,))),
]
IDS = [c.name for c in CASES]


def assert_same(got, expected, exact=True):
    """Equal bits; or, not ``exact``, within 32 units of roundoff of ``max(1, |expected|)``
    (samples are O(1): their errors are absolute near 0)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        eps = np.finfo(expected.dtype).eps
        bound = 32 * eps * np.maximum(1, np.abs(expected))
        assert (np.abs(got - expected) <= bound).all(), np.max(np.abs(got - expected) / bound)


# ---------------------------------------------------------------------------------------------
# Keys


# The Random123 known-answer vectors of Threefry-2x32-20 (Salmon et al. 2011): key, counter,
# hash words.
KNOWN = [((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
         ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0x1CB996FC, 0xBB002BE7)),
         ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0))]
KNOWN_WORDS = tuple(np.array([v[i][j] for v in KNOWN], np.uint32)
                    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
KNOWN_HASHES = np.array([(y0 << 32) | y1 for _, _, (y0, y1) in KNOWN], np.uint64)


def test_threefry_known_answers(compiled):
    """Eagerly and compiled."""
    from jitgrad.prims import threefry2x32
    np.testing.assert_array_equal(threefry2x32(*KNOWN_WORDS, width=64), KNOWN_HASHES)
    np.testing.assert_array_equal(compiled["known_answers"], KNOWN_HASHES)


@pytest.mark.parametrize("seed,expected", [
    (0, [0, 0]), (42, [0, 42]), (2 ** 32 - 1, [0, 2 ** 32 - 1]), (2 ** 32, [1, 0]),
    (2 ** 40 + 5, [256, 5]), (-1, [2 ** 32 - 1, 2 ** 32 - 1]), (2 ** 63 - 1, [2 ** 31 - 1,
                                                                           2 ** 32 - 1]),
    (np.int32(-1), [0, 2 ** 32 - 1]), (np.int8(-2), [0, 2 ** 32 - 2]),
    (np.uint64(2 ** 64 - 1), [2 ** 32 - 1, 2 ** 32 - 1]), (np.array(7), [0, 7])])
def test_key_from_seed(seed, expected):
    """JAX's PRNGKey with jax_enable_x64: a seed's 64 bits (32 for 32-bit dtypes), high word
    first; also traced, under jit and vmap."""
    np.testing.assert_array_equal(jr.key(seed), np.array(expected, np.uint32))
    assert jr.key(seed).dtype == np.uint32 and jr.PRNGKey is jr.key
    if not isinstance(seed, int):
        np.testing.assert_array_equal(jg.jit(jr.key)(seed), np.array(expected, np.uint32))
        np.testing.assert_array_equal(jg.vmap(jr.key)(np.stack([seed, seed])),
                                      np.array([expected] * 2, np.uint32))


def test_split_and_fold_in_compiled(compiled):
    """fold_in with traced data and split, under jit, give the eager keys."""
    keys = jr.split(KEYS[0], 5)
    np.testing.assert_array_equal(compiled["split"], keys)
    np.testing.assert_array_equal(compiled["fold_in"], keys[3])


def test_split_and_fold_in():
    keys = jr.split(KEY, 5)
    assert keys.shape == (5, 2) and keys.dtype == np.uint32
    assert len({tuple(k) for k in keys.tolist()}) == 5
    assert jr.split(KEY, (2, 3)).shape == (2, 3, 2)
    np.testing.assert_array_equal(jr.split(KEY, (2, 3)).reshape(6, 2), jr.split(KEY, 6))
    assert jr.split(KEY, 0).shape == (0, 2)
    # JAX's partitionable split is fold_in of the index.
    for i in range(5):
        np.testing.assert_array_equal(jr.fold_in(KEY, i), keys[i])
    # numpy integers wrap to 32 bits, as JAX's; fold_in takes traced data.
    np.testing.assert_array_equal(jr.fold_in(KEY, np.int64(2 ** 32 + 3)), keys[3])
    np.testing.assert_array_equal(jr.fold_in(KEY, np.int64(-1)), jr.fold_in(KEY, 2 ** 32 - 1))
    np.testing.assert_array_equal(jg.vmap(jr.fold_in, (None, 0))(KEY, np.arange(5)), keys)
    np.testing.assert_array_equal(jg.vmap(jr.split)(KEYS), np.stack([jr.split(k) for k in KEYS]))
    np.testing.assert_array_equal(jr.key_data(KEY), KEY)
    np.testing.assert_array_equal(jr.wrap_key_data(keys), keys)


# ---------------------------------------------------------------------------------------------
# Every sampler: shapes, dtypes, modes, processes, JAX


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shape_and_dtype(case):
    out = case.draw(KEY, 12)
    assert np.asarray(out).dtype == case.dtype and np.shape(out) == case.shape(12)
    empty = case.draw(KEY, 0)
    assert np.asarray(empty).dtype == case.dtype and np.shape(empty) == case.shape(0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_eager_and_vmap_over_keys_agree(case):
    """Vmapped over keys, each key draws what it draws alone: identical bits for exact cases,
    otherwise within a few units of roundoff (batched matrix products sum in another order)."""
    eager = np.stack([case.draw(k, 8) for k in KEYS])
    assert_same(jg.vmap(lambda kk: case.draw(kk, 8))(KEYS), eager, case.exact)


# Compiled, a representative subset: the bits kernel with one key and with a key per element,
# float conversions, erfinv, the Gumbel argmax, the sort of a permutation, the cumulative-sum
# search of choice; one program draws them all (one compilation for every case: compiling is
# what this file's time goes to). Every case was checked compiled, in both forms, when written
# (gamma's while_loop and randint's modular arithmetic included); the suite keeps this subset.
JIT_CASES = {"bits_u64": "both", "uniform_f32_2d": "vmap", "normal": "one",
             "categorical_axis0": "vmap", "permutation_rows": "one", "choice_p": "vmap"}


def _jit_draws(case, k, ks):
    form = JIT_CASES[case.name]
    one = case.draw(k, 8) if form != "vmap" else None
    many = jg.vmap(lambda kk: case.draw(kk, 8))(ks) if form != "one" else None
    return one, many


@pytest.fixture(scope="module")
def compiled():
    """One compiled program computes every compiled value the tests check: the known-answer
    hashes, split and fold_in (with traced data), and the JIT_CASES draws."""
    from jitgrad.prims import threefry2x32
    cases = [c for c in CASES if c.name in JIT_CASES]

    def program(words, k, data, ks):
        return {"known_answers": threefry2x32(*words, width=64), "split": jr.split(k, 5),
                "fold_in": jr.fold_in(k, data),
                "draws": [_jit_draws(c, k, ks) for c in cases]}

    out = jg.jit(program)(KNOWN_WORDS, KEYS[0], np.int32(3), KEYS)
    out.update(zip([c.name for c in cases], out.pop("draws"), strict=True))
    return out


@pytest.mark.parametrize("case", [c for c in CASES if c.name in JIT_CASES],
                         ids=[c.name for c in CASES if c.name in JIT_CASES])
def test_jit_agrees(case, compiled):
    """Under jit, with one key or vmapped over keys, the eager values: identical bits for
    exact cases, otherwise within a few units of roundoff (contracted multiply-adds,
    vectorised math)."""
    one, many = compiled[case.name]
    if one is not None:
        assert_same(one, case.draw(KEYS[0], 8), case.exact)
    if many is not None:
        assert_same(many, np.stack([case.draw(k, 8) for k in KEYS]), case.exact)


def _digest(draws) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(d).tobytes() for d in draws)).hexdigest()


def test_reproducible_across_processes():
    """A new interpreter draws the same bits from the same key (no hidden state)."""
    script = ("import sys; sys.path.insert(0, '.'); from tests.test_random import CASES, KEY, "
              "_digest; print(_digest([c.draw(KEY, 16) for c in CASES]))")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parent.parent))
    assert res.stdout.strip() == _digest([c.draw(KEY, 16) for c in CASES])


JAX_CASES = [c for c in CASES if c.jax]


@pytest.fixture(scope="module")
def jax_draws():
    """JAX's draws (jax_enable_x64) for every case that has them, from one jax.jit program
    (one XLA compilation, not one per case)."""
    jax = pytest.importorskip("jax")
    random = pytest.importorskip("jax.random")
    with jax.enable_x64(True):
        out = jax.jit(lambda k: [c.jax(random, k, 64) for c in JAX_CASES])(random.PRNGKey(2024))
        return {c.name: np.asarray(x) for c, x in zip(JAX_CASES, out, strict=True)}


@pytest.mark.parametrize("case", JAX_CASES, ids=[c.name for c in JAX_CASES])
def test_matches_jax(case, jax_draws):
    """JAX (with jax_enable_x64) draws the same numbers from the same key: the same bits where
    the computation is exact; elsewhere JAX's transcendental functions (XLA's) differ from
    numpy's by up to a few hundred ulp (XLA's float64 log1p: 110 ulp), and its compiled
    multiply-adds are contracted."""
    got, expected = case.draw(KEY, 64), jax_draws[case.name]
    if case.exact:
        assert_same(got, expected)
    else:
        assert got.dtype == expected.dtype and got.shape == expected.shape
        tol = 1e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_float32_bits_match_jax_default_mode():
    """Without jax_enable_x64, JAX's default float32 uniforms are jitgrad's float32 ones."""
    jax = pytest.importorskip("jax")
    random = pytest.importorskip("jax.random")
    with jax.enable_x64(False):
        expected = np.asarray(random.uniform(random.PRNGKey(2024), (50,)))
    assert_same(jr.uniform(KEY, (50,), np.float32), expected)


# ---------------------------------------------------------------------------------------------
# Statistics


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # scipy's Gumbel, far out
def test_distribution(case):
    x = np.asarray(case.transform(case.draw(KEY, N))).ravel()
    if case.pmf is not None:
        counts = np.bincount(x.astype(np.int64), minlength=len(case.pmf))
        assert len(counts) == len(case.pmf), f"values outside 0..{len(case.pmf) - 1}"
        possible = case.pmf > 0
        assert not counts[~possible].any(), f"{case.name}: impossible values drawn"
        p = st.chisquare(counts[possible], case.pmf[possible] * x.size).pvalue
        mean, var = (np.arange(len(case.pmf)) * case.pmf).sum(), None
    else:
        p = st.kstest(x.astype(np.float64), case.dist.cdf).pvalue
        mean, var = case.dist.mean(), case.dist.var()
    assert p >= P_MIN, f"{case.name}: p-value {p:.2e}"
    if not np.isfinite(mean):  # Cauchy: no moments
        return
    x = x.astype(np.float64)
    if var is None:
        var = (((np.arange(len(case.pmf)) - mean) ** 2) * case.pmf).sum()
    se_mean = np.sqrt(var / x.size)
    assert abs(x.mean() - mean) <= Z_MAX * se_mean, f"{case.name}: mean {x.mean()} vs {mean}"
    if case.dist is not None:
        mu4 = case.dist.expect(lambda v: (v - mean) ** 4)
        se_var = np.sqrt((mu4 - var ** 2) / x.size)
        assert abs(x.var() - var) <= Z_MAX * se_var, f"{case.name}: var {x.var()} vs {var}"


def test_randint_bounds():
    """Every value in range, both ends reached, the full int32 and uint8 ranges, array bounds
    broadcast, maxval <= minval gives minval (as JAX)."""
    x = jr.randint(KEY, (4000,), -2, 3)
    assert x.min() == -2 and x.max() == 2
    x = jr.randint(KEY, (4000,), -2 ** 31, 2 ** 31 - 1, np.int32)
    assert x.dtype == np.int32 and x.min() < -2 ** 30 and x.max() > 2 ** 30
    x = jr.randint(KEY, (2000,), 0, 256, np.uint8)
    assert x.min() == 0 and x.max() == 255
    x = jr.randint(KEY, (2, 3), np.array([0, 10, 100]), np.array([[200], [1000]]))
    assert ((x >= [0, 10, 100]) & (x < [[200], [1000]])).all()
    np.testing.assert_array_equal(jr.randint(KEY, (5,), 4, 4), np.full(5, 4))
    np.testing.assert_array_equal(jr.randint(KEY, (5,), 4, -1), np.full(5, 4))
    big = jr.randint(KEY, (100,), -2 ** 62, 2 ** 62)
    assert big.min() < -2 ** 61 and big.max() > 2 ** 61


def test_uniform_bounds_and_float16():
    x = jr.uniform(KEY, (1000,), np.float32, -3.0, 10.0)
    assert x.dtype == np.float32 and (x >= -3.0).all() and (x < 10.0).all()
    x = jr.uniform(KEY, (1000,), np.float16)
    assert x.dtype == np.float16 and 0 <= x.min() and x.max() < 1
    lo, hi = np.array([0.0, 10.0]), np.array([[15.0], [20.0]])
    x = jr.uniform(KEY, (2, 2), minval=lo, maxval=hi)
    assert ((x >= lo) & (x < hi)).all()


# ---------------------------------------------------------------------------------------------
# Derivatives


def test_uniform_is_differentiable_in_its_bounds():
    u = jr.uniform(KEY, (5,))

    def f(lo, hi):
        return jg.numpy.sum(jr.uniform(KEY, (5,), minval=lo, maxval=hi) ** 2)

    g_lo, g_hi = jg.grad(f, (0, 1))(-1.0, 2.0)
    x = -1.0 + 3.0 * u
    np.testing.assert_allclose(g_lo, np.sum(2 * x * (1 - u)))
    np.testing.assert_allclose(g_hi, np.sum(2 * x * u))
    jg.check_grads(f, (-1.0, 2.0), order=2)
    np.testing.assert_allclose(jg.jit(jg.grad(f, (0, 1)))(-1.0, 2.0), (g_lo, g_hi))


def test_discrete_samplers_have_zero_tangents():
    """Bits, integers and booleans carry no derivative: differentiating through them gives
    zero, never an error."""
    def f(p):
        return jg.numpy.sum(jr.bernoulli(KEY, p, (10,)) * p)

    np.testing.assert_allclose(jg.grad(f)(0.4), np.sum(jr.bernoulli(KEY, 0.4, (10,))))


def test_normal_location_and_scale_derivatives():
    z = jr.normal(KEY, (5,))

    def f(mu, sigma):
        return jg.numpy.sum(jg.numpy.sin(mu + sigma * jr.normal(KEY, (5,))))

    g_mu, g_sigma = jg.grad(f, (0, 1))(0.3, 1.5)
    np.testing.assert_allclose(g_mu, np.sum(np.cos(0.3 + 1.5 * z)))
    np.testing.assert_allclose(g_sigma, np.sum(np.cos(0.3 + 1.5 * z) * z))


def test_truncated_and_multivariate_normal_derivatives():
    """Derivatives in the bounds, the mean and the covariance against finite differences."""
    jg.check_grads(lambda lo, hi: jr.truncated_normal(KEY, lo, hi, (4,)), (-0.5, 1.2), order=1)
    jg.check_grads(lambda m, c: jr.multivariate_normal(KEY, m, c, (3,)), (MEAN, COV), order=1)


@pytest.mark.parametrize("log_space", [False, True])
def test_gamma_derivative_is_the_implicit_one(log_space):
    """d sample / da at a fixed CDF value (implicit reparameterisation, as JAX): scipy's
    inverse CDF at the sample's CDF value, differentiated by central differences."""
    a = np.array([0.05, 0.3, 1.0, 4.5, 30.0])
    sampler = jr.loggamma if log_space else jr.gamma
    got = jg.grad(lambda a: jg.numpy.sum(sampler(KEY, a)))(a)
    x = np.exp(jr.loggamma(KEY, a)) if log_space else jr.gamma(KEY, a)
    u, h = st.gamma.cdf(x, a), 1e-6 * a
    expected = (st.gamma.ppf(u, a + h) - st.gamma.ppf(u, a - h)) / (2 * h)
    np.testing.assert_allclose(got, expected / x if log_space else expected, rtol=1e-5)


def test_lognormal_pareto_and_chisquare_derivatives():
    """lognormal and pareto by the chain rule (finite differences); chisquare's is gamma's
    implicit derivative (scipy's inverse CDF at the sample's CDF value, central
    differences)."""
    jg.check_grads(lambda s: jr.lognormal(KEY, s, (3,)), (0.7,), order=1)
    jg.check_grads(lambda b: jr.pareto(KEY, b, (3,)), (2.5,), order=1)
    df = np.array([0.5, 3.0, 20.0])
    got = jg.grad(lambda df: jg.numpy.sum(jr.chisquare(KEY, df)))(df)
    x, h = jr.chisquare(KEY, df), 1e-6 * df
    u = st.chi2.cdf(x, df)
    expected = (st.chi2.ppf(u, df + h) - st.chi2.ppf(u, df - h)) / (2 * h)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("which", ["beta", "dirichlet"])
def test_beta_and_dirichlet_derivatives_are_unbiased(which):
    """The mean of the per-sample derivatives of the first coordinate is the derivative of
    its mean (reparameterisation gradients are unbiased): within Z_MAX standard errors, for
    beta(2, 5) (d/da a/(a+b) = b/(a+b)**2) and dirichlet(ALPHA)
    (d/d alpha_j alpha_0/S = (S [j == 0] - alpha_0)/S**2)."""
    if which == "beta":
        a, b = np.full(N, 2.0), np.full(N, 5.0)
        grads = np.stack(jg.grad(lambda a, b: jg.numpy.sum(jr.beta(KEY, a, b)), (0, 1))(a, b), 1)
        expected = np.array([5.0, -2.0]) / 49
    else:
        alpha = np.tile(ALPHA, (N // 4, 1))
        grads = jg.grad(lambda al: jg.numpy.sum(jr.dirichlet(KEY, al)[:, 0]))(alpha)
        total = ALPHA.sum()
        expected = (total * (np.arange(3) == 0) - ALPHA[0]) / total ** 2
    se = grads.std(0) / np.sqrt(len(grads))
    assert (np.abs(grads.mean(0) - expected) <= Z_MAX * se).all(), (grads.mean(0), expected)


def test_choice_and_permutation_differentiate_in_the_population():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    order = jr.permutation(KEY, 5)
    g = jg.grad(lambda x: jg.numpy.sum(jr.permutation(KEY, x) * np.arange(5.0)))(x)
    np.testing.assert_array_equal(g[order], np.arange(5.0))
    picks = jr.choice(KEY, 5, (7,), p=PROBS[[0, 1, 2, 3, 3]] / PROBS[[0, 1, 2, 3, 3]].sum())
    g = jg.grad(lambda x: jg.numpy.sum(jr.choice(KEY, x, (7,), p=PROBS[[0, 1, 2, 3, 3]] /
                                                  PROBS[[0, 1, 2, 3, 3]].sum())))(x)
    np.testing.assert_array_equal(g, np.bincount(picks, minlength=5))


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("call,error,match", [
    (lambda: jr.uniform(np.zeros(2, np.int64)), JitgradTypeError, "uint32 array of shape"),
    (lambda: jr.uniform(np.zeros(3, np.uint32)), JitgradTypeError, "uint32 array of shape"),
    (lambda: jr.uniform(KEYS), ShapeError, "use jitgrad.vmap"),
    (lambda: jr.uniform(KEY, (2,), np.int32), JitgradTypeError, "floating-point dtype"),
    (lambda: jr.randint(KEY, (2,), 0, 5, np.float32), JitgradTypeError, "integer dtype"),
    (lambda: jr.bits(KEY, (2,), np.int32), JitgradTypeError, "unsigned integer dtype"),
    (lambda: jr.uniform(KEY, (2, -1)), ShapeError, "negative"),
    (lambda: jr.uniform(KEY, (2.5,)), JitgradTypeError, "shape must be"),
    (lambda: jr.uniform(KEY, (3,), minval=np.zeros(2)), ShapeError, "broadcast"),
    (lambda: jr.bernoulli(KEY, np.array([1, 0]), (2,)), JitgradTypeError, "floating-point"),
    (lambda: jr.bernoulli(KEY, 0.5, (2,), "medium"), ShapeError, "mode"),
    (lambda: jr.gumbel(KEY, (2,), mode="highest"), UnsupportedError, "mode"),
    (lambda: jr.key(2.5), JitgradTypeError, "scalar integer"),
    (lambda: jr.key(np.arange(2)), JitgradTypeError, "scalar integer"),
    (lambda: jr.key(True), JitgradTypeError, "scalar integer"),
    (lambda: jr.key(2 ** 64), JitgradTypeError, "64 bits"),
    (lambda: jr.fold_in(KEY, -1), JitgradTypeError, "out of bounds"),
    (lambda: jr.fold_in(KEY, np.arange(2)), ShapeError, "scalar"),
    (lambda: jr.fold_in(KEY, 1.5), JitgradTypeError, "integer"),
    (lambda: jr.categorical(KEY, LOGITS, axis=1), ShapeError, "out of bounds"),
    (lambda: jr.categorical(KEY, np.stack([LOGITS] * 2), shape=(3,)), ShapeError,
     "broadcast"),
    (lambda: jr.bits(KEY, (2 ** 16, 2 ** 16)), UnsupportedError, "2\\*\\*32"),
    (lambda: jr.categorical(KEY, LOGITS, shape=(5,), replace=False), ShapeError,
     "without replacement"),
    (lambda: jr.permutation(KEY, 2.5), JitgradTypeError, "concrete integer"),
    (lambda: jr.permutation(KEY, np.arange(3), axis=1), ShapeError, "out of bounds"),
    (lambda: jr.choice(KEY, 3, (4,), replace=False), ShapeError, "without replacement"),
    (lambda: jr.choice(KEY, 0, (2,)), ShapeError, "empty"),
    (lambda: jr.choice(KEY, 3, (2,), p=np.full(4, 0.25)), ShapeError, "p must be"),
    (lambda: jr.choice(KEY, np.ones((2, 3)), (2,), axis=2), ShapeError, "out of bounds"),
    (lambda: jr.multivariate_normal(KEY, MEAN, COV, method="qr"), ShapeError, "method"),
    (lambda: jr.multivariate_normal(KEY, MEAN, np.eye(3)), ShapeError, "\\(\\.\\.\\., n, n\\)"),
    (lambda: jr.dirichlet(KEY, 1.0), ShapeError, "alpha must have shape"),
    (lambda: jr.gamma(KEY, np.ones(3), (2,)), ShapeError, "broadcast"),
    (lambda: jr.normal(KEY, (2,), np.int64), JitgradTypeError, "floating-point dtype"),
    (lambda: jr.rademacher(KEY, (2,), np.float32), JitgradTypeError, "integer dtype"),
    (lambda: jr.f(KEY, np.ones(2), np.ones(3)), ShapeError, "do not broadcast"),
    (lambda: jr.truncated_normal(KEY, np.ones(2), np.ones(3)), ShapeError, "do not broadcast"),
    (lambda: jr.multivariate_normal(KEY, np.zeros((2, 2)), np.stack([COV] * 3)), ShapeError,
     "do not broadcast"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_traced_shape_is_refused():
    with pytest.raises(JitgradTypeError, match="concrete"):
        jg.jit(lambda n: jr.uniform(KEY, (n,)))(3)
    with pytest.raises(JitgradTypeError, match="concrete integer"):
        jg.jit(lambda n: jr.permutation(KEY, n))(3)


def test_gamma_of_invalid_shape_is_nan():
    x = jr.gamma(KEY, np.array([-1.0, 0.0, np.nan, 2.0]))
    assert np.isnan(x[:3]).all() and np.isfinite(x[3])


def test_choice_of_nothing():
    """No draws: an empty result of the population's dtype (NB: with an array population,
    its other axes are kept; JAX returns shape ``shape``)."""
    assert jr.choice(KEY, 3, (0,)).shape == (0,)
    out = jr.choice(KEY, np.ones((2, 3), np.float32), (0,), axis=1)
    assert out.shape == (2, 0) and out.dtype == np.float32
