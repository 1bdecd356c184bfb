"""jitgrad.scipy.stats, table-driven: every distribution x method against scipy.stats (float64
with special points, invalid parameters and points outside the support; float32; integers;
broadcasting, 0-d and size-0), jvp against finite differences and vjp against jvp on every
method, finite derivatives outside the support, vmap against a Python loop, and every method
with its gradient compiled (one program per distribution) against eager; then
multivariate_normal and dirichlet with scipy's argument conventions and input checks."""

import warnings

import numpy as np
import pytest
import scipy.stats as ss

import jitgrad as jg
import jitgrad.numpy as jnp
import jitgrad.scipy.stats as js

rng = np.random.default_rng(0)

CONTINUOUS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")
DISCRETE = ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")
SPECIAL_X = np.array([-np.inf, -1.0, 0.0, 0.5, 1.0, 2.0, np.inf, np.nan])


class Spec:
    """One distribution: the parameter values for the value grid (each broadcast along its own
    axis against the points, invalid values included), the points (random over the support
    and beyond it, plus the special points), the ranges where derivatives are checked, and
    the tolerance against scipy."""

    def __init__(self, shapes, x, grads=(), x_grad=(-2.0, 2.0), discrete=False, rtol=1e-12,
                 rtol32=2e-6, params=()):
        self.shapes, self.x, self.grads, self.x_grad = shapes, x, grads, x_grad
        self.params = params  # typical integer-valued parameters
        self.discrete, self.rtol, self.rtol32 = discrete, rtol, rtol32
        self.methods = DISCRETE if discrete else CONTINUOUS


def ints(lo, hi):
    return np.concatenate([np.arange(lo, hi, dtype=np.float64), [2.5, 0.3]])


SPECS = {
    "norm": Spec([], rng.uniform(-40, 40, 60)),
    # t's cdf for large df is good to ~3e-12 in scipy (its own betainc)
    "t": Spec([[-1.0, 0.0, 0.7, 3.0, 30.0, 1000.0, np.inf, np.nan]], rng.uniform(-30, 30, 60),
              [(1.5, 6.0)], rtol=1e-11, params=(3,)),
    "gamma": Spec([[-1.0, 0.0, 0.5, 1.0, 3.0, 20.0]], rng.uniform(-1, 40, 60), [(0.8, 4.0)],
                  x_grad=(0.5, 3.0), params=(2,)),
    "beta": Spec([[-1.0, 0.0, 0.5, 1.0, 3.0], [0.0, 0.7, 1.0, 5.0]],
                 rng.uniform(-0.2, 1.2, 40), [(0.8, 3.0), (0.8, 3.0)], x_grad=(0.3, 0.7),
                 params=(2, 3)),
    "chi2": Spec([[-1.0, 0.0, 1.0, 2.0, 5.0]], rng.uniform(-1, 30, 60), [(1.5, 5.0)],
                 x_grad=(0.5, 3.0), params=(3,)),
    "expon": Spec([], rng.uniform(-1, 40, 60), x_grad=(0.5, 3.0)),
    "laplace": Spec([], rng.uniform(-40, 40, 60)),
    "logistic": Spec([], rng.uniform(-40, 40, 60)),
    "cauchy": Spec([], rng.uniform(-1e3, 1e3, 60)),
    "uniform": Spec([], rng.uniform(-1, 3, 60), x_grad=(0.2, 0.8)),
    # float32: the log pmf is a difference of terms ~ k log mu, rounded in float32
    "poisson": Spec([[-1.0, 0.0, 0.5, 3.0, 40.0]], ints(-2, 70), [(0.5, 4.0)], discrete=True,
                    params=(3,), rtol32=1e-5),
    "binom": Spec([[-1.0, 0.0, 1.0, 2.5, 5.0, 30.0], [-0.1, 0.0, 0.2, 0.5, 1.0, 1.5]],
                  ints(-2, 33), [(0.2, 0.8)], discrete=True, params=(5, 0.5), rtol32=1e-5),
    "bernoulli": Spec([[-0.1, 0.0, 0.3, 1.0, 1.5]], ints(-1, 3), [(0.2, 0.8)], discrete=True,
                      params=(0.5,)),
}
CASES = [(name, method) for name, spec in SPECS.items() for method in spec.methods]
IDS = [f"{n}.{m}" for n, m in CASES]


def grid(spec):
    """The points on the last axis, each parameter on an axis of its own before it."""
    x = np.concatenate([SPECIAL_X, spec.x])
    n = len(spec.shapes)
    shapes = [np.reshape(s, (-1,) + (1,) * (n - i)) for i, s in enumerate(spec.shapes)]
    return x, shapes


def scipy_value(name, method, *args, **kw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return getattr(getattr(ss, name), method)(*args, **kw)


def ours(name, method, *args, **kw):
    return getattr(getattr(js, name), method)(*args, **kw)


def assert_close(got, ref, rtol, atol=0.0):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


def invalid(name, shapes):
    """Where the parameters are invalid (scipy's nan), broadcast over the grid."""
    checks = {"t": lambda df: ~(df > 0), "poisson": lambda mu: ~(mu >= 0),
              "binom": lambda n, p: ~((n >= 0) & (np.floor(n) == n) & (p >= 0) & (p <= 1)),
              "bernoulli": lambda p: ~((p >= 0) & (p <= 1))}
    check = checks.get(name, lambda *s: ~np.all([v > 0 for v in s], axis=0))
    return check(*shapes) if shapes else np.zeros((), bool)


@pytest.mark.parametrize("name,method", CASES, ids=IDS)
def test_values_float64_match_scipy(name, method):
    """Random and special points, valid and invalid parameters, default and given loc/scale
    (an invalid scale too): scipy's values, nan where it gives nan, +-inf where it does."""
    spec = SPECS[name]
    x, shapes = grid(spec)
    locs = [{}, {"loc": 0.5}] + ([] if spec.discrete else [
        {"loc": np.array([[-0.5], [0.5]])[(...,) + (None,) * len(shapes)], "scale": 2.0},
        {"loc": 0.5, "scale": np.array([-1.0, 0.0, np.nan])[(...,) + (None,) * (len(shapes) + 1)]}])
    for kw in locs:
        ref = scipy_value(name, method, x, *shapes, **kw)
        got = ours(name, method, x, *shapes, **kw)
        assert np.asarray(got).dtype == np.float64
        if spec.discrete and method == "logcdf":
            # NB: scipy's rv_discrete.logcdf gives 0 past the upper end even for invalid
            # parameters (its cdf gives nan there, as jitgrad's logcdf does).
            bad = np.broadcast_to(invalid(name, shapes), np.shape(ref))
            np.testing.assert_array_equal(np.isnan(np.asarray(got)[bad]), True)
            got, ref = np.asarray(got)[~bad], np.asarray(ref)[~bad]
        assert_close(got, ref, spec.rtol, 1e-300)


@pytest.mark.parametrize("name,method", CASES, ids=IDS)
def test_values_float32_stay_float32(name, method):
    """float32 in, float32 out, within a few float32 ulp (relative) of scipy's float64 value of
    the same inputs wherever that is a normal float32; integer points compute in float64."""
    spec = SPECS[name]
    x, shapes = grid(spec)
    if name == "t":  # NB: float32 t loses ~df eps (gammaln and betainc arguments): df <= 30
        shapes = [s[s[:, 0] != 1000.0] for s in shapes]
    x32, shapes32 = x.astype(np.float32), [s.astype(np.float32) for s in shapes]
    got = ours(name, method, x32, *shapes32)
    assert np.asarray(got).dtype == np.float32
    ref = np.asarray(scipy_value(name, method, x32.astype(np.float64),
                                 *[s.astype(np.float64) for s in shapes32]))
    if spec.discrete and method == "logcdf":  # scipy's quirk, as above
        ref = np.where(invalid(name, shapes32), np.nan, ref)
    ref32 = ref.astype(np.float32)
    normal = np.isfinite(ref32) & (np.abs(ref32) >= np.finfo(np.float32).tiny)
    got_n, ref_n = np.asarray(got, np.float64)[normal], ref32[normal].astype(np.float64)
    # Rounding the standardised point costs relative error ~ eps |log p| in a probability
    # (exp(-z^2/2) at z = 10 loses 50 ulp): log values are compared absolutely, probabilities
    # relative to that.
    if method.startswith("log"):
        bound = spec.rtol32 * np.maximum(1.0, np.abs(ref_n))
        # NB: discrete log cdf/sf are logs of the probability (as scipy's): below float32's
        # normal range they have a subnormal's precision, -inf where it underflows
        if spec.discrete:
            ulp = np.float64(np.finfo(np.float32).smallest_subnormal)
            bound = np.where((got_n == -np.inf) & (ref_n < np.log(ulp)), np.inf,
                             np.maximum(bound, ulp / np.exp(ref_n)))
    else:
        bound = spec.rtol32 * np.abs(ref_n) * np.maximum(1.0, np.abs(np.log(ref_n)))
    bad = ~(np.abs(got_n - ref_n) <= bound)
    assert not bad.any(), (got_n[bad], ref_n[bad])
    special = ~normal & (np.abs(ref) < np.finfo(np.float32).tiny * 0.5) | ~np.isfinite(ref32)
    assert_close(np.asarray(got)[special], ref32[special], 0.0, 1e-37)
    args = [np.arange(-1, 4)] + [np.full(5, v) for v in spec.params]
    assert np.asarray(ours(name, method, *args)).dtype == np.float64
    assert_close(ours(name, method, *args), scipy_value(name, method, *args), spec.rtol, 1e-300)


@pytest.mark.parametrize("name", list(SPECS))
def test_shapes_and_broadcasting(name):
    """0-d in, 0-d out; size-0 points; points broadcast against parameter, loc and scale
    arrays into scipy's result shape."""
    spec = SPECS[name]
    params = spec.params
    method = spec.methods[1]
    point = 1.0 if spec.discrete else float(np.mean(spec.x_grad))
    zero_d = ours(name, method, point, *params)
    assert np.ndim(zero_d) == 0
    assert_close(zero_d, scipy_value(name, method, point, *params), spec.rtol)
    empty = ours(name, method, np.zeros((0, 3)), *params)
    assert np.shape(empty) == (0, 3) and np.asarray(empty).dtype == np.float64
    x = np.array([0.0, 1.0, 2.0])[:, None] + (0.0 if spec.discrete else spec.x_grad[0])
    locs = np.array([0.0, 0.25, -1.0, 1.0])
    kw = {"loc": locs} if spec.discrete else {"loc": locs, "scale": np.array([[1.0], [2.0],
                                                                               [0.5]])}
    for method in spec.methods:
        got = ours(name, method, x, *params, **kw)
        ref = scipy_value(name, method, x, *params, **kw)
        assert np.shape(got) == np.shape(ref) == (3, 4)
        assert_close(got, ref, spec.rtol, 1e-300)


def grad_args(name, seed=1):
    """Points well inside the support, parameters inside their ranges (and loc, scale for the
    continuous distributions): the differentiable arguments, in call order."""
    spec = SPECS[name]
    r = np.random.default_rng(seed)
    shapes = [r.uniform(lo, hi, 3) for lo, hi in spec.grads]
    if spec.discrete:
        k = np.minimum([0.0, 1.0, 3.0], 1.0 if name == "bernoulli" else 3.0)
        n = [np.array([5.0, 6.0, 8.0])] if len(spec.shapes) == 2 else []
        return [k, *n, *shapes], len(n) + 1
    loc, scale = r.uniform(-0.1, 0.1, 3), r.uniform(0.9, 1.1, 3)
    x = loc + scale * r.uniform(*spec.x_grad, 3)
    return [x, *shapes, loc, scale], 0


@pytest.mark.parametrize("name,method", CASES, ids=IDS)
def test_derivatives_fwd_and_rev(name, method):
    """jvp against central differences and vjp against jvp with respect to every continuous
    argument (points, shapes, loc, scale; the discrete ones' probability parameters), to
    order 2 for the log densities."""
    args, fixed = grad_args(name)
    head = args[:fixed]

    def f(*xs):
        return ours(name, method, *head, *xs)

    if name == "bernoulli" and method.endswith("sf"):
        head = [np.zeros(3)]  # sf is 0 at k = 1
    order = 2 if method.startswith("logp") else 1
    jg.check_grads(f, args[fixed:], order=order, modes=("fwd", "rev"), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name,method", CASES, ids=IDS)
def test_derivatives_finite_wherever_the_value_is(name, method):
    """Over the value grid (invalid parameters included): where the value is finite, its
    derivative with respect to each continuous argument (points, shapes, loc, scale; the
    probability parameter of a discrete distribution) is finite too -- the branches not
    taken (outside the support, the tails, invalid parameters) never leak nan or inf."""
    spec = SPECS[name]
    x, shapes = grid(spec)
    args = [x[np.isfinite(x)], *shapes] + ([] if spec.discrete else [0.25, 1.5])
    args = [np.asarray(a, np.float64) for a in args]
    wrt = [len(shapes)] if spec.discrete else range(len(args))
    value = ours(name, method, *args)
    finite = np.isfinite(value)
    if method == "pmf":
        # NB: a zero probability at a parameter on its boundary (poisson's mu = 0, binom's
        # p = 0 or 1) is exp(-inf): its derivative is nan (the one-sided limit is not taken)
        finite &= value != 0
    for i in wrt:
        tangents = [np.ones_like(a) if j == i else np.zeros_like(a) for j, a in enumerate(args)]
        _, t = jg.jvp(lambda *a: ours(name, method, *a), args, tangents)
        np.testing.assert_array_equal(np.isfinite(np.asarray(t))[finite], True, err_msg=str(i))


def jit_matches_eager(fn, args, argnums):
    """``fn``'s values and the gradient of their total with respect to ``argnums``, computed by
    one compiled program, equal the eager ones."""
    def values_and_grads(*a):
        def total(*b):
            return sum(jnp.sum(v) for v in fn(*b))
        return fn(*a), jg.grad(total, argnums=argnums)(*a)

    got, ref = jg.jit(values_and_grads)(*args), values_and_grads(*args)
    for g, r in zip(jg.tree_util.tree_leaves(got), jg.tree_util.tree_leaves(ref), strict=True):
        assert_close(g, r, 1e-12, 1e-14)


@pytest.mark.parametrize("name", list(SPECS))
def test_jit_matches_eager(name):
    """Every method of the distribution and the gradient of their sum with respect to every
    continuous argument, compiled as one program (one per distribution, so each compiles
    once), at points inside and outside the support."""
    spec = SPECS[name]
    args, fixed = grad_args(name)
    args = [np.concatenate([args[0], [-0.5, 1e3]])] + \
        [np.concatenate([a, a[:2]]) for a in args[1:]]  # a point below, one above the support

    def all_methods(*a):
        return tuple(ours(name, method, *a) for method in spec.methods)

    jit_matches_eager(all_methods, args, tuple(range(fixed, len(args))))


@pytest.mark.parametrize("name", list(SPECS))
def test_vmap_matches_loop(name):
    """The density and the cdf mapped over a batch of parameters (and of points with the
    parameters unbatched) equal a Python loop."""
    spec = SPECS[name]
    args, _ = grad_args(name)
    rows = [np.stack([a, a * 1.01]) for a in args]
    for method in (spec.methods[1], "cdf"):
        fn = getattr(getattr(js, name), method)
        got = jg.vmap(fn)(*rows)
        expected = np.stack([fn(*[r[i] for r in rows]) for i in range(2)])
        assert_close(got, expected, 1e-15)
        got = jg.vmap(fn, in_axes=(0,) + (None,) * (len(args) - 1))(rows[0], *args[1:])
        expected = np.stack([fn(rows[0][i], *args[1:]) for i in range(2)])
        assert_close(got, expected, 1e-15)


# --- multivariate_normal -----------------------------------------------------------------------

MVN_COV = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, -0.3], [0.1, -0.3, 1.5]])
MVN_MEAN = np.array([0.5, -0.2, 0.1])
MVN_X = rng.standard_normal((4, 3))
SINGULAR = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # rank 2

MVN_CASES = {  # (x, mean, cov, allow_singular)
    "matrix": (MVN_X, MVN_MEAN, MVN_COV, False),
    "one point": (MVN_X[0], MVN_MEAN, MVN_COV, False),
    "batch axes": (rng.standard_normal((2, 5, 3)), MVN_MEAN, MVN_COV, False),
    "variances": (MVN_X, MVN_MEAN, np.array([1.0, 2.0, 0.5]), False),
    "scalar cov": (MVN_X, MVN_MEAN, 2.0, False),
    "1-d": (np.array([-1.0, 0.0, 2.0]), 0.5, 2.0, False),
    "integers": (np.array([[1, 2, 0]]), np.array([0, 1, 0]), np.array([2, 1, 3]), False),
    "singular": (np.array([[1.0, 1.0, 0.5], [1.0, 0.0, 0.0], [-2.0, -2.0, 3.0]]), None,
                 SINGULAR, True),
    "definite, allow_singular": (MVN_X, MVN_MEAN, MVN_COV, True),
}


@pytest.mark.parametrize("case", list(MVN_CASES))
def test_multivariate_normal_matches_scipy(case):
    x, mean, cov, allow = MVN_CASES[case]
    for method in ("logpdf", "pdf"):
        got = getattr(js.multivariate_normal, method)(x, mean, cov, allow_singular=allow)
        ref = getattr(ss.multivariate_normal, method)(x, mean, cov, allow_singular=allow)
        assert np.shape(got) == np.shape(ref) and np.asarray(got).dtype == np.float64
        assert_close(got, ref, 1e-12)
    assert_close(js.multivariate_normal.entropy(mean, cov),
                 ss.multivariate_normal.entropy(mean, cov), 1e-12)


def test_multivariate_normal_float32_checks_and_departures():
    x32, m32, c32 = (a.astype(np.float32) for a in (MVN_X, MVN_MEAN, MVN_COV))
    got = js.multivariate_normal.logpdf(x32, m32, c32)
    assert np.asarray(got).dtype == np.float32
    assert_close(got, ss.multivariate_normal.logpdf(x32, m32, c32), 2e-6)
    with pytest.raises(np.linalg.LinAlgError, match="allow_singular"):
        js.multivariate_normal.logpdf(MVN_X, None, SINGULAR)
    with pytest.raises(ValueError, match="positive semidefinite"):
        js.multivariate_normal.logpdf(MVN_X, None, np.diag([1.0, -1.0, 1.0]))
    with pytest.raises(jg.errors.ShapeError, match="does not fit"):
        js.multivariate_normal.logpdf(MVN_X, np.zeros(2), MVN_COV)
    # NB: batched means (beyond scipy) broadcast against the points' batch axes
    means = np.stack([MVN_MEAN, -MVN_MEAN])
    got = js.multivariate_normal.logpdf(MVN_X[:, None, :], means, MVN_COV)
    ref = np.stack([ss.multivariate_normal.logpdf(MVN_X, m, MVN_COV) for m in means], axis=1)
    assert_close(got, ref, 1e-12)


def test_multivariate_normal_derivatives():
    """With respect to the points, the mean and the covariance (through a factor, so that
    every perturbation stays symmetric and definite); a singular covariance along the
    perturbations that keep its rank and its support."""
    fac = np.linalg.cholesky(MVN_COV)

    def f(x, mean, fac):
        return js.multivariate_normal.logpdf(x, mean, fac @ fac.T)

    jg.check_grads(f, (MVN_X[:2], MVN_MEAN, fac), order=2, atol=1e-4, rtol=1e-4)
    basis = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # SINGULAR = B diag(2, 2) B^T / 2

    def g(x, d):
        return js.multivariate_normal.logpdf(x @ basis.T, None, (basis * d) @ basis.T,
                                             allow_singular=True)

    jg.check_grads(g, (np.array([[0.5, 1.0], [-1.0, 0.3]]), np.array([1.0, 2.0])), order=1,
                   atol=1e-4, rtol=1e-4)
    jg.check_grads(lambda fac: js.multivariate_normal.entropy(None, fac @ fac.T), (fac,),
                   order=1, atol=1e-4, rtol=1e-4)


def test_multivariate_normal_jit_and_vmap():
    def methods(x, mean, cov):
        mvn = js.multivariate_normal
        return mvn.logpdf(x, mean, cov), mvn.pdf(x, mean, cov), mvn.entropy(mean, cov)

    jit_matches_eager(methods, (MVN_X, MVN_MEAN, MVN_COV), (0, 1, 2))
    means = np.stack([MVN_MEAN, -MVN_MEAN])
    mapped = jg.vmap(lambda m: js.multivariate_normal.logpdf(MVN_X, m, MVN_COV))(means)
    assert_close(mapped, [ss.multivariate_normal.logpdf(MVN_X, m, MVN_COV) for m in means],
                 1e-12)


# --- dirichlet ---------------------------------------------------------------------------------

ALPHA = np.array([0.8, 2.0, 3.5])
DIR_X = rng.dirichlet(ALPHA, 4).T  # components on the first axis, as scipy


@pytest.mark.parametrize("x", [DIR_X, DIR_X[:, 0], DIR_X[:-1], np.array([0.2, 0.8, 0.0])],
                         ids=["points", "one point", "last implied", "zero with alpha>1"])
def test_dirichlet_matches_scipy(x):
    alpha = ALPHA if x[-1].all() else np.array([0.8, 2.0, 1.0])
    for method in ("logpdf", "pdf"):
        got = getattr(js.dirichlet, method)(x, alpha)
        ref = getattr(ss.dirichlet, method)(x, alpha)
        assert np.shape(got) == np.shape(ref)
        assert_close(got, ref, 1e-12)
    assert_close(js.dirichlet.entropy(alpha), ss.dirichlet.entropy(alpha), 1e-12)
    got32 = js.dirichlet.logpdf(x.astype(np.float32), alpha.astype(np.float32))
    assert np.asarray(got32).dtype == np.float32
    assert_close(got32, ss.dirichlet.logpdf(x.astype(np.float32), alpha.astype(np.float32)),
                 1e-5)


@pytest.mark.parametrize("x,alpha", [
    (np.array([0.5, 0.6, -0.1]), ALPHA), (np.array([0.5, 0.6, 0.1]), ALPHA),
    (np.array([0.5, 0.5, 0.0]), np.array([1.0, 1.0, 0.5])), (np.array([0.5, 0.5]), -ALPHA),
    (np.array([0.5, 0.5]), ALPHA[None]), (np.array([0.5, 0.2, 0.2, 0.1]), ALPHA),
], ids=["negative", "off the simplex", "zero with alpha<1", "alpha<=0", "alpha 2-d",
        "too long"])
def test_dirichlet_input_checks_as_scipy(x, alpha):
    with pytest.raises(ValueError) as ref:
        ss.dirichlet.logpdf(x, alpha)
    with pytest.raises(ValueError) as got:  # jitgrad's ShapeError is a ValueError too
        js.dirichlet.logpdf(x, alpha)
    assert str(got.value).split(",")[0].split(" but")[0] == str(ref.value).split(",")[0].split(
        " but")[0]


def test_dirichlet_jit_matches_eager():
    def methods(x, alpha):
        return js.dirichlet.logpdf(x, alpha), js.dirichlet.pdf(x, alpha), \
            js.dirichlet.entropy(alpha)

    jit_matches_eager(methods, (DIR_X, ALPHA), (0, 1))


@pytest.mark.parametrize("random_state", [None, 3, "generator", "randomstate"])
def test_dirichlet_rvs_draws_scipys_samples(random_state):
    """autograd's dirichlet.rvs: scipy's samples from the same generator and seed."""
    def state():
        return {"generator": np.random.default_rng(5), "randomstate": np.random.RandomState(5)
                }.get(random_state, random_state)
    np.random.seed(11)
    got = js.dirichlet.rvs(ALPHA, size=(2, 4), random_state=state())
    np.random.seed(11)
    ref = ss.dirichlet.rvs(ALPHA, size=(2, 4), random_state=state())
    assert got.shape == (2, 4, 3) and np.array_equal(got, ref)
    np.random.seed(11)
    from_list = js.dirichlet.rvs(list(ALPHA))
    np.random.seed(11)
    assert np.array_equal(from_list, ss.dirichlet.rvs(ALPHA))
    with pytest.raises(ValueError, match="greater than 0"):
        js.dirichlet.rvs(-ALPHA)
    with pytest.raises(jg.TracerError, match="jitgrad.random.dirichlet"):
        jg.grad(lambda a: jnp.sum(js.dirichlet.rvs(a)))(ALPHA)


def test_dirichlet_derivatives_and_vmap():
    jg.check_grads(js.dirichlet.logpdf, (DIR_X[:-1], ALPHA), order=1, atol=1e-4, rtol=1e-4)
    jg.check_grads(js.dirichlet.entropy, (ALPHA,), order=1, atol=1e-4, rtol=1e-4)
    alphas = np.stack([ALPHA, ALPHA * 2])
    assert_close(jg.vmap(lambda a: js.dirichlet.logpdf(DIR_X, a))(alphas),
                 [ss.dirichlet.logpdf(DIR_X, a) for a in alphas], 1e-12)
    # NB: a traced point off the simplex cannot raise: its log density is -inf
    points = np.array([[0.5, 0.6, 0.1], DIR_X[:, 0]])
    got = jg.vmap(lambda x: js.dirichlet.logpdf(x, ALPHA))(points)
    assert_close(got, [-np.inf, ss.dirichlet.logpdf(DIR_X[:, 0], ALPHA)], 1e-12)
