"""jitgrad.numpy.linalg and jitgrad.scipy.linalg, table-driven: every function's values against
numpy/scipy (float32 and float64, batched, size-0 batches), jvp against finite differences and
vjp against jvp, compiled against uncompiled, vmap against a loop; the triangle convention of
cholesky/eigh gradients; errors."""

import numpy as np
import pytest
import scipy.linalg as sl

import jitgrad as jg
import jitgrad.numpy as jnp
import jitgrad.scipy.linalg as jsl
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.tree_util import tree_leaves

jla = jnp.linalg


# --- inputs: small and well-conditioned, drawn in float64 and rounded -----------------------

def general(rng, shape):
    return rng.uniform(-1, 1, shape) + 2.0 * np.eye(shape[-1])


def spd(rng, shape):
    b = rng.uniform(-1, 1, shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def sym(rng, shape):
    """Symmetric, eigenvalues well apart."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    return (q * (np.arange(n) * 1.5 - 1.0)[..., None, :]) @ np.swapaxes(q, -1, -2)


def rect(m, n):
    """Matrices with singular values well apart."""
    def make(rng, shape):
        u, _ = np.linalg.qr(rng.standard_normal(shape + (m, m)))
        v, _ = np.linalg.qr(rng.standard_normal(shape + (n, n)))
        s = np.zeros(shape + (m, n))
        k = min(m, n)
        s[..., range(k), range(k)] = np.arange(k, 0, -1) + 0.5
        return u @ s @ v
    return make


def rand(*tail):
    return lambda rng, shape: rng.uniform(-1, 1, shape + tail)


def sq(kind, n=3):
    return lambda rng, shape: kind(rng, shape + (n, n))


def lower_tri(rng, shape):
    return np.tril(general(rng, shape + (3, 3)))


def banded(rng, shape):
    ab = rng.uniform(-1, 1, (3, 4))
    ab[1] += 4.0  # the main diagonal dominates
    return ab


def reference(name, args):
    """The reference applied matrix by matrix over the leading batch axis of a batched entry
    (scipy functions are not all batched)."""
    _, ref, _, batched = TABLE[name]
    if not batched:
        return ref(*args)
    outs = [ref(*[a[i] for a in args]) for i in range(len(args[0]))]
    return jg.tree_util.tree_map(lambda *xs: np.stack(xs), *outs)


# --- the table ------------------------------------------------------------------------------
# name: (jitgrad function, reference, input makers, batched?). Each maker takes (rng, batch
# shape); the function is differentiated with respect to every float input.

TABLE = {
    "inv": (jla.inv, np.linalg.inv, [sq(general)], True),
    "pinv": (jla.pinv, np.linalg.pinv, [rect(3, 2)], True),
    "pinv-wide": (jla.pinv, np.linalg.pinv, [rect(2, 3)], True),
    "solve": (jla.solve, np.linalg.solve, [sq(general), rand(3, 2)], True),
    "solve-vector": (jla.solve, np.linalg.solve, [sq(general), rand(3)], False),
    "det": (jla.det, np.linalg.det, [sq(general)], True),
    "slogdet": (lambda a: tuple(jla.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)),
                [sq(general)], True),
    "cholesky": (jla.cholesky, np.linalg.cholesky, [sq(spd)], True),
    "cholesky-upper": (lambda a: jla.cholesky(a, upper=True),
                       lambda a: np.linalg.cholesky(a, upper=True), [sq(spd)], True),
    "eigh": (lambda a: tuple(jla.eigh(a)), lambda a: tuple(np.linalg.eigh(a)), [sq(sym)], True),
    "eigh-U": (lambda a: tuple(jla.eigh(a, "U")), lambda a: tuple(np.linalg.eigh(a, "U")),
               [sq(sym)], True),
    "eigvalsh": (jla.eigvalsh, np.linalg.eigvalsh, [sq(sym)], True),
    "svd-tall": (lambda a: tuple(jla.svd(a, full_matrices=False)),
                 lambda a: tuple(np.linalg.svd(a, full_matrices=False)), [rect(3, 2)], True),
    "svd-wide": (lambda a: tuple(jla.svd(a, full_matrices=False)),
                 lambda a: tuple(np.linalg.svd(a, full_matrices=False)), [rect(2, 3)], True),
    "svd-square-full": (lambda a: tuple(jla.svd(a)), lambda a: tuple(np.linalg.svd(a)),
                        [rect(3, 3)], True),
    "svd-values": (lambda a: jla.svd(a, compute_uv=False),
                   lambda a: np.linalg.svd(a, compute_uv=False), [rect(2, 3)], True),
    "qr-tall": (lambda a: tuple(jla.qr(a)), lambda a: tuple(np.linalg.qr(a)), [rect(3, 2)],
                True),
    "qr-wide": (lambda a: tuple(jla.qr(a)), lambda a: tuple(np.linalg.qr(a)), [rect(2, 3)],
                True),
    "qr-complete-square": (lambda a: tuple(jla.qr(a, "complete")),
                           lambda a: tuple(np.linalg.qr(a, "complete")), [rect(3, 3)], True),
    "qr-r": (lambda a: jla.qr(a, "r"), lambda a: np.linalg.qr(a, "r"), [rect(3, 2)], True),
    "matrix_power-3": (lambda a: jla.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3),
                       [sq(general)], True),
    "matrix_power-0": (lambda a: jla.matrix_power(a, 0), lambda a: np.linalg.matrix_power(a, 0),
                       [sq(general)], True),
    "matrix_power--2": (lambda a: jla.matrix_power(a, -2),
                        lambda a: np.linalg.matrix_power(a, -2), [sq(general)], True),
    "lstsq": (lambda a, b: jla.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
              [rect(4, 2), rand(4)], False),
    "lstsq-residuals": (lambda a, b: jla.lstsq(a, b)[1], lambda a, b: np.linalg.lstsq(a, b)[1],
                        [rect(4, 2), rand(4, 2)], False),
    "multi_dot": (lambda a, b, c, d: jla.multi_dot([a, b, c, d]),
                  lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
                  [rand(3), rand(3, 5), rand(5, 2), rand(2, 4)], False),
    "tensorinv": (lambda a: jla.tensorinv(a.reshape(2, 3, 6)),
                  lambda a: np.linalg.tensorinv(a.reshape(2, 3, 6)), [sq(general, 6)], False),
    "tensorsolve": (lambda a, b: jla.tensorsolve(a.reshape(6, 2, 3), b),
                    lambda a, b: np.linalg.tensorsolve(a.reshape(6, 2, 3), b),
                    [sq(general, 6), rand(6)], False),
    "vector_norm-axes": (lambda x: jla.vector_norm(x, axis=(0, 2), ord=3),
                         lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3),
                         [rand(2, 3, 4)], False),
    "matrix_norm-nuc": (lambda x: jla.matrix_norm(x, ord="nuc"),
                        lambda x: np.linalg.matrix_norm(x, ord="nuc"), [rect(3, 2)], True),
    # scipy.linalg
    "scipy.solve_triangular": (lambda a, b: jsl.solve_triangular(a, b, lower=True),
                               lambda a, b: sl.solve_triangular(a, b, lower=True),
                               [lower_tri, rand(3, 2)], True),
    "scipy.solve_triangular-T-unit": (
        lambda a, b: jsl.solve_triangular(a, b, trans=1, unit_diagonal=True),
        lambda a, b: sl.solve_triangular(a, b, trans=1, unit_diagonal=True),
        [sq(general), rand(3)], False),
    "scipy.cholesky": (jsl.cholesky, sl.cholesky, [sq(spd)], True),
    "scipy.cholesky-lower": (lambda a: jsl.cholesky(a, lower=True),
                             lambda a: sl.cholesky(a, lower=True), [sq(spd)], True),
    "scipy.cho_factor": (lambda a: jsl.cho_factor(a)[0], lambda a: sl.cho_factor(a)[0],
                         [sq(spd)], False),
    "scipy.cho_solve": (lambda a, b: jsl.cho_solve(jsl.cho_factor(a, lower=True), b),
                        lambda a, b: sl.cho_solve(sl.cho_factor(a, lower=True), b),
                        [sq(spd), rand(3, 2)], True),
    "scipy.lu_factor": (lambda a: jsl.lu_factor(a)[0], lambda a: sl.lu_factor(a)[0],
                        [rand(3, 3)], True),
    "scipy.lu_solve": (lambda a, b: jsl.lu_solve(jsl.lu_factor(a), b),
                       lambda a, b: sl.lu_solve(sl.lu_factor(a), b), [rand(3, 3), rand(3)],
                       False),
    "scipy.lu_solve-T": (lambda a, b: jsl.lu_solve(jsl.lu_factor(a), b, trans=1),
                         lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=1),
                         [rand(3, 3), rand(3, 2)], True),
    "scipy.inv": (jsl.inv, sl.inv, [sq(general)], True),
    "scipy.det": (jsl.det, sl.det, [sq(general)], True),
    "scipy.eigh": (lambda a: jsl.eigh(a, eigvals_only=True),
                   lambda a: sl.eigh(a, eigvals_only=True), [sq(sym)], True),
    "scipy.eigh-generalized": (lambda a, b: jsl.eigh(a, b, eigvals_only=True),
                               lambda a, b: sl.eigh(a, b, eigvals_only=True),
                               [sq(sym), sq(spd)], True),
    "scipy.svd": (lambda a: jsl.svd(a, full_matrices=False),
                  lambda a: sl.svd(a, full_matrices=False), [rect(3, 2)], True),
    "scipy.expm": (jsl.expm, sl.expm, [rand(3, 3)], True),
    "scipy.sqrtm": (jsl.sqrtm, sl.sqrtm, [sq(general)], True),
    "scipy.solve_sylvester": (jsl.solve_sylvester, sl.solve_sylvester,
                              [sq(general), sq(general, 2), rand(3, 2)], True),
    "scipy.solve_banded": (lambda ab, b: jsl.solve_banded((1, 1), ab, b),
                           lambda ab, b: sl.solve_banded((1, 1), ab, b), [banded, rand(4)],
                           False),
    "scipy.block_diag": (jsl.block_diag, sl.block_diag, [rand(2, 2), rand(3), rand(1, 2)],
                         False),
    "svdvals": (jla.svdvals, np.linalg.svdvals, [rect(3, 2)], True),
    "cond": (jla.cond, np.linalg.cond, [sq(general)], True),
    "cond-fro": (lambda a: jla.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"),
                 [sq(general)], True),
    "cond--2": (lambda a: jla.cond(a, -2), lambda a: np.linalg.cond(a, -2), [sq(general)], True),
    "matrix_transpose": (jla.matrix_transpose, np.linalg.matrix_transpose, [rect(3, 2)], True),
    "linalg.diagonal": (lambda a: jla.diagonal(a, offset=1),
                        lambda a: np.linalg.diagonal(a, offset=1), [rand(3, 4)], True),
    "linalg.trace": (jla.trace, np.linalg.trace, [rand(3, 3)], True),
    "linalg.outer": (jla.outer, np.linalg.outer, [rand(3), rand(2)], False),
    "linalg.cross": (jla.cross, np.linalg.cross, [rand(3), rand(3)], True),
    "linalg.tensordot": (lambda a, b: jla.tensordot(a, b, axes=1),
                         lambda a, b: np.linalg.tensordot(a, b, axes=1), [rand(2, 3), rand(3, 2)],
                         False),
    "vecdot": (jla.vecdot, np.linalg.vecdot, [rand(3), rand(3)], True),
    "scipy.solve": (jsl.solve, sl.solve, [sq(general), rand(3, 2)], False),
    "scipy.solve-vector": (jsl.solve, sl.solve, [sq(general), rand(3)], False),
    "scipy.solve-transposed": (lambda a, b: jsl.solve(a, b, transposed=True),
                               lambda a, b: sl.solve(a, b, transposed=True),
                               [sq(general), rand(3)], False),
    "scipy.solve-sym-lower": (lambda a, b: jsl.solve(a, b, assume_a="sym", lower=True),
                              lambda a, b: sl.solve(a, b, assume_a="sym", lower=True),
                              [sq(general), rand(3, 2)], False),
    "scipy.solve-pos": (lambda a, b: jsl.solve(a, b, assume_a="pos"),
                        lambda a, b: sl.solve(a, b, assume_a="pos"), [sq(spd), rand(3)], False),
    "scipy.solve-lower-triangular": (
        lambda a, b: jsl.solve(a, b, assume_a="lower triangular"),
        lambda a, b: sl.solve(a, b, assume_a="lower triangular"), [lower_tri, rand(3)], False),
    "scipy.solve-diagonal": (lambda a, b: jsl.solve(a, b, assume_a="diagonal"),
                             lambda a, b: sl.solve(a, b, assume_a="diagonal"),
                             [sq(general), rand(3, 2)], False),
    "scipy.qr-full": (lambda a: jsl.qr(a), lambda a: sl.qr(a), [rect(3, 3)], False),
    "scipy.qr-economic": (lambda a: jsl.qr(a, mode="economic"),
                          lambda a: sl.qr(a, mode="economic"), [rect(3, 2)], False),
    "scipy.qr-r": (lambda a: jsl.qr(a, mode="r"), lambda a: sl.qr(a, mode="r"), [rect(3, 2)],
                   False),
    "scipy.lu": (lambda a: tuple(jsl.lu(a)), lambda a: tuple(sl.lu(a)), [sq(general)], False),
    "scipy.lu-permute_l": (lambda a: tuple(jsl.lu(a, permute_l=True)),
                           lambda a: tuple(sl.lu(a, permute_l=True)), [rand(3, 3)], False),
    "scipy.toeplitz": (jsl.toeplitz, sl.toeplitz, [rand(3), rand(4)], False),
    "scipy.toeplitz-c": (jsl.toeplitz, sl.toeplitz, [rand(3)], False),
    "scipy.hankel": (jsl.hankel, sl.hankel, [rand(3), rand(4)], False),
    "scipy.hankel-c": (jsl.hankel, sl.hankel, [rand(3)], False),
    "scipy.circulant": (jsl.circulant, sl.circulant, [rand(4)], False),
    "scipy.expm_frechet": (jsl.expm_frechet, sl.expm_frechet, [rand(3, 3), rand(3, 3)], False),
    "scipy.polar": (jsl.polar, sl.polar, [sq(general)], False),
    "scipy.polar-left-wide": (lambda a: jsl.polar(a, "left"), lambda a: sl.polar(a, "left"),
                              [rect(2, 3)], False),
    "scipy.companion": (jsl.companion, sl.companion,
                        [lambda rng, shape: rng.uniform(1, 2, shape + (4,))], False),
    "scipy.fiedler": (jsl.fiedler, sl.fiedler, [rand(4)], False),
    "scipy.leslie": (jsl.leslie, sl.leslie, [rand(3), rand(2)], False),
    "scipy.solve-pos-lower": (lambda a, b: jsl.solve(a, b, lower=True, assume_a="pos"),
                              lambda a, b: sl.solve(a, b, lower=True, assume_a="pos"),
                              [sq(spd), rand(3)], False),
    "scipy.qr": (jsl.qr, sl.qr, [rect(3, 4)], False),  # tall: Q has no derivative
    "scipy.qr-r-wide": (lambda a: jsl.qr(a, mode="r"), lambda a: sl.qr(a, mode="r"),
                        [rect(4, 3)], False),
    "scipy.toeplitz-symmetric": (jsl.toeplitz, sl.toeplitz, [rand(3)], False),
}

NORMS = [(None, None), ("fro", None), ("nuc", None), (1, None), (-1, None), (2, None),
         (-2, None), (np.inf, None), (-np.inf, None), (None, 1), (1, 0), (3, 1), (0.5, 1),
         (np.inf, 1), (-np.inf, 1), (0, 1), (2, (1, 0)), ("nuc", (1, 0))]
for _ord, _axis in NORMS:
    TABLE[f"norm-{_ord}-{_axis}"] = (
        lambda x, o=_ord, ax=_axis: jla.norm(x, o, ax),
        lambda x, o=_ord, ax=_axis: np.linalg.norm(x, o, ax), [rect(3, 4)], False)
TABLE["norm-keepdims"] = (lambda x: jla.norm(x, 2, (0, 1), keepdims=True),
                          lambda x: np.linalg.norm(x, 2, (0, 1), keepdims=True),
                          [rand(3, 2, 4)], False)


def inputs(name, dtype, batch=(2,), seed=0):
    _, _, makers, batched = TABLE[name]
    rng = np.random.default_rng(seed)
    shape = batch if batched else ()
    return [np.asarray(m(rng, shape), np.float64).astype(dtype) for m in makers]


def assert_close(got, expected, dtype):
    got, expected = tree_leaves(got), tree_leaves(expected)
    assert len(got) == len(expected)
    tol = 2e-4 if dtype == np.float32 else 1e-9
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape, (g.shape, e.shape)
        if np.issubdtype(e.dtype, np.floating):
            assert g.dtype == dtype, (g.dtype, dtype)
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(TABLE))
def test_values_match_numpy_and_scipy(name, dtype):
    """Eager (traced through vjp) and compiled values equal numpy's/scipy's."""
    fn = TABLE[name][0]
    args = inputs(name, dtype)
    expected = jg.tree_util.tree_map(lambda x: np.asarray(x).astype(dtype)
                                     if np.issubdtype(np.asarray(x).dtype, np.floating)
                                     else x, reference(name, args))
    assert_close(jg.jit(fn)(*args), expected, dtype)
    assert_close(jg.vjp(fn, *args)[0], expected, dtype)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_derivatives(name):
    """jvp against central finite differences, vjp against jvp (the dot-product identity)."""
    fn, *_ = TABLE[name]
    jg.check_grads(fn, inputs(name, np.float64), order=1)


DERIV2 = ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "svd-tall", "svd-wide",
          "qr-tall", "qr-wide", "pinv", "matrix_norm-nuc", "scipy.expm", "scipy.sqrtm",
          "scipy.lu_solve", "scipy.eigh-generalized"]


@pytest.mark.parametrize("name", DERIV2)
def test_second_derivatives(name):
    fn, *_ = TABLE[name]
    args = inputs(name, np.float64, batch=())
    jg.check_grads(fn, args, order=2)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_compiled_derivatives_match(name):
    """jit(vjp) and jit(jvp) equal the uncompiled transforms."""
    fn, *_ = TABLE[name]
    args = inputs(name, np.float64)
    rng = np.random.default_rng(5)
    out = fn(*args)
    cts = jg.tree_util.tree_map(lambda o: rng.standard_normal(np.shape(o)), out)
    ts = tuple(rng.standard_normal(a.shape) for a in args)
    both = jg.jit(lambda xs, c, t: (jg.vjp(fn, *xs)[1](c), jg.jvp(fn, xs, t)))
    assert_close(both(tuple(args), cts, ts),
                 (jg.vjp(fn, *args)[1](cts), jg.jvp(fn, tuple(args), ts)), np.float64)


@pytest.mark.parametrize("name", sorted(n for n in TABLE if TABLE[n][3]))
def test_vmap_matches_loop(name):
    """vmap over a batch of 3 (on top of the functions' own batch of 2), and of its gradient."""
    fn, *_ = TABLE[name]
    examples = [inputs(name, np.float64, seed=s) for s in range(3)]
    batched = [np.stack(xs) for xs in zip(*examples, strict=True)]
    expected = jg.tree_util.tree_map(lambda *xs: np.stack(xs), *[fn(*ex) for ex in examples])
    assert_close(jg.vmap(fn)(*batched), expected, np.float64)
    assert_close(jg.jit(jg.vmap(fn))(*batched), expected, np.float64)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh", "svd-tall",
                                  "qr-wide", "solve", "scipy.lu_factor", "scipy.expm",
                                  "scipy.sqrtm", "scipy.solve_triangular"])
def test_empty_batch(name):
    """A batch of no matrices gives the shapes of one result with a leading 0."""
    fn, ref, _, _ = TABLE[name]
    one = ref(*inputs(name, np.float64, batch=()))
    out = jg.jit(fn)(*inputs(name, np.float64, batch=(0,)))
    for o, e in zip(tree_leaves(out), tree_leaves(one), strict=True):
        assert np.shape(o) == (0,) + np.shape(e)


@pytest.mark.parametrize("fn,ref", [
    (jla.inv, np.linalg.inv), (jla.det, np.linalg.det), (jla.cholesky, np.linalg.cholesky),
    (jla.eigvalsh, np.linalg.eigvalsh), (jsl.expm, sl.expm), (jsl.lu_factor, sl.lu_factor)])
def test_zero_by_zero_matrices(fn, ref):
    a = np.zeros((0, 0))
    for o, e in zip(tree_leaves(jg.jit(fn)(a)), tree_leaves(ref(a)), strict=True):
        np.testing.assert_array_equal(o, e)


def test_one_host_call_per_batch():
    """A batch of matrices, and vmap over it, is one equation: one numpy call on the stack."""
    a = inputs("inv", np.float64)[0]
    ir = jg.make_ir(jg.vmap(jla.inv))(np.stack([a, a, a]))
    eqns = [e for e in ir.eqns if e.prim.name == "inv"]
    assert len(eqns) == 1 and eqns[0].inputs[0].aval.shape == (3, 2, 3, 3)


# --- the triangle convention of cholesky and eigh gradients ---------------------------------

CONVENTION = {
    "cholesky": (lambda a, s: jnp.sum(jnp.sin(jla.cholesky(a, symmetrize_input=s))), spd),
    "eigh": (lambda a, s: jnp.sum(jnp.sin(jla.eigh(a, symmetrize_input=s)[1]) ** 2)
             + jla.eigh(a, symmetrize_input=s)[0][0], sym),
    "eigvalsh": (lambda a, s: jla.eigvalsh(a, symmetrize_input=s)[-1], sym),
}


@pytest.mark.parametrize("name", sorted(CONVENTION))
def test_gradient_lives_in_the_triangle_that_is_read(name):
    """By default (numpy's values) only the lower triangle is read: the gradient is lower
    triangular, and exact for every perturbation, symmetric or not."""
    f, make = CONVENTION[name]
    a = make(np.random.default_rng(0), (3, 3))
    g = jg.grad(lambda a: f(a, False))(a)
    assert not np.any(np.triu(g, 1))
    jg.check_grads(lambda a: f(a, False), (a,), order=1)
    noise = np.triu(np.ones((3, 3)), 1)
    np.testing.assert_allclose(jg.jit(lambda a: f(a, False))(a + noise), f(a, False),
                               rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CONVENTION))
def test_symmetrize_input_gives_the_symmetric_gradient(name):
    """symmetrize_input=True (JAX's convention): the gradient is symmetric, equals the
    symmetric part of the default gradient at a symmetric input, and both give the same
    directional derivative along symmetric perturbations."""
    f, make = CONVENTION[name]
    a = make(np.random.default_rng(1), (3, 3))
    g_low = jg.grad(lambda a: f(a, False))(a)
    g_sym = jg.grad(lambda a: f(a, True))(a)
    np.testing.assert_allclose(g_sym, g_sym.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g_sym, (g_low + g_low.T) / 2, rtol=1e-10, atol=1e-12)
    e = np.random.default_rng(2).standard_normal((3, 3))
    e = e + e.T
    eps = 1e-6
    fd = (f(a + eps * e, False) - f(a - eps * e, False)) / (2 * eps)
    for g in (g_low, g_sym):
        np.testing.assert_allclose(np.sum(g * e), fd, rtol=1e-6)
    jg.check_grads(lambda a: f(a, True), (a,), order=1)


def test_scipy_cholesky_reads_its_own_triangle():
    a = spd(np.random.default_rng(3), (3, 3))
    noisy = a + np.tril(np.ones((3, 3)), -1)  # scipy's default reads the upper triangle
    np.testing.assert_allclose(jg.jit(jsl.cholesky)(noisy), sl.cholesky(a), rtol=1e-12)
    g = jg.grad(lambda a: jnp.sum(jsl.cholesky(a)))(noisy)
    assert not np.any(np.tril(g, -1))


# --- semantics and errors -------------------------------------------------------------------

def test_integer_inputs_compute_in_float64():
    a = np.array([[2, 1], [1, 3]])
    assert jg.jit(jla.inv)(a).dtype == np.float64
    np.testing.assert_allclose(jg.jit(jla.det)(a), 5.0)
    np.testing.assert_allclose(jg.jit(jsl.expm)(np.zeros((2, 2), int)), np.eye(2))


def test_numpy_functions_on_traced_arrays_dispatch():
    a = inputs("inv", np.float64, batch=())[0]
    np.testing.assert_allclose(jg.jit(lambda a: np.linalg.inv(a))(a), np.linalg.inv(a))
    np.testing.assert_allclose(jg.grad(lambda a: np.linalg.slogdet(a)[1])(a),
                               np.linalg.inv(a).T)


@pytest.mark.parametrize("fn", [jla.inv, jla.det, jla.cholesky, jla.eigh, jsl.expm, jsl.lu_factor,
                                lambda a: jla.solve(a, np.ones(2))])
def test_non_square_is_a_shape_error(fn):
    with pytest.raises(ShapeError, match="square"):
        jg.jit(fn)(np.ones((2, 3)))


def test_mismatched_right_hand_side_is_a_shape_error():
    with pytest.raises(ShapeError, match="right-hand side"):
        jg.jit(jla.solve)(np.eye(3), np.ones((2, 1)))
    with pytest.raises(ShapeError, match="right-hand side"):
        jg.jit(jsl.solve_triangular)(np.eye(3), np.ones(2))


def test_singular_matrices():
    """numpy raises LinAlgError for a singular inverse or solve, and so does every jitgrad
    path (eager, traced, compiled); the determinant itself is 0."""
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    for run in (jla.inv, jg.jit(jla.inv), lambda a: jg.grad(lambda a: jnp.sum(jla.inv(a)))(a)):
        with pytest.raises(np.linalg.LinAlgError):
            run(a)
    assert jg.jit(jla.det)(a) == 0.0
    with pytest.raises(np.linalg.LinAlgError):
        jg.grad(jla.det)(a)
    with pytest.raises(np.linalg.LinAlgError):
        jg.jit(jla.cholesky)(-np.eye(2))


def test_non_unique_factors_have_no_derivative():
    with pytest.raises(UnsupportedError, match="full_matrices"):
        jg.grad(lambda a: jnp.sum(jla.svd(a)[0]))(np.ones((3, 2)))
    with pytest.raises(UnsupportedError, match="complete"):
        jg.grad(lambda a: jnp.sum(jla.qr(a, "complete")[0]))(rect(3, 2)(
            np.random.default_rng(0), ()))
    with pytest.raises(UnsupportedError, match="raw"):
        jg.jit(lambda a: jla.qr(a, "raw"))(np.eye(2))


def test_full_matrices_values_of_non_square_svd():
    """Values of full_matrices=True are numpy's even where they have no derivative."""
    a = rect(3, 2)(np.random.default_rng(0), ())
    for o, e in zip(jg.jit(jla.svd)(a), np.linalg.svd(a), strict=True):
        np.testing.assert_allclose(o, e, rtol=1e-12, atol=1e-12)


def test_invalid_norm_orders():
    with pytest.raises(ValueError, match="Invalid norm order"):
        jg.jit(lambda x: jla.norm(x, "fro", 0))(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Invalid norm order"):
        jg.jit(lambda x: jla.norm(x, 3))(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        jg.jit(lambda x: jla.norm(x, 2))(np.ones((2, 2, 2)))


def test_linalg_of_a_list_of_traced_values_stacks_it():
    # norm([x, x + 2]) raised TracerError: the list reached the dtype check unstacked.
    for o in (None, 1, np.inf):
        assert jg.grad(lambda x, o=o: jla.norm([x, x + 2.0], o))(0.0) == 1.0
        assert jg.grad(lambda x, o=o: jla.norm((x, x + 2.0), o))(0.0) == 1.0
    np.testing.assert_allclose(jg.grad(lambda x: jla.det([[x, 1.0], [2.0, x]]))(3.0), 6.0)


def test_pinv_derivative_at_repeated_singular_values():
    """Golub-Pereyra's rule is defined where the SVD's derivative is not (an orthogonal
    matrix: every singular value is 1)."""
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    jg.check_grads(jla.pinv, (q,), order=1)


def test_lstsq_rank_and_singular_values():
    a, b = inputs("lstsq", np.float64)
    x, resid, rank, s = jg.jit(jla.lstsq)(a, b)
    ex, eresid, erank, es = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(x, ex, rtol=1e-12)
    np.testing.assert_allclose(resid, eresid, rtol=1e-10)
    assert rank == erank
    np.testing.assert_allclose(s, es, rtol=1e-12)


def test_sqrtm_without_a_real_root_is_nan():
    assert np.all(np.isnan(jg.jit(jsl.sqrtm)(np.array([[-1.0, 0.0], [0.0, 1.0]]))))


def test_generalized_eigenvectors_are_b_orthonormal():
    a, b = inputs("scipy.eigh-generalized", np.float64, batch=())
    w, v = jg.jit(lambda a, b: jsl.eigh(a, b))(a, b)
    np.testing.assert_allclose(v.T @ b @ v, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(a @ v, b @ v * w, atol=1e-12)


@pytest.mark.parametrize("fn", [jla.inv, jla.norm, jla.svd, jsl.expm,
                                lambda a: jla.solve(np.eye(2), a[0]),
                                lambda a: jsl.solve_sylvester(np.eye(2), np.eye(2), a)])
def test_complex_matrices_are_refused(fn):
    """Never cast away an imaginary part: complex input is an error when traced, whether the
    complex array is an argument or a constant of the traced function."""
    a = np.eye(2) + 1j * np.ones((2, 2))
    with pytest.raises((UnsupportedError, JitgradTypeError), match="complex"):
        jg.jit(fn)(a)
    with pytest.raises((UnsupportedError, JitgradTypeError), match="complex"):
        jg.jit(lambda x: fn(a + x))(np.zeros((2, 2)))


def test_integer_results_and_constant_matrices():
    """matrix_rank (an integer, also traced), lu's row indices, and scipy's constant
    matrices."""
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    for m in (a, a[:2], np.eye(3), np.zeros((2, 2)), np.stack([a, np.eye(3)])):
        assert np.array_equal(jg.jit(jla.matrix_rank)(m), np.linalg.matrix_rank(m))
    assert jg.jit(lambda m: jla.matrix_rank(m, tol=2.5))(np.diag([3.0, 2.0])) == 1
    m = general(np.random.default_rng(1), (4, 4))
    p, lo, up = jg.jit(lambda m: jsl.lu(m, p_indices=True))(m)
    sp, slo, sup = sl.lu(m, p_indices=True)
    assert np.array_equal(p, sp) and np.allclose(lo[p] @ up, m)
    for n in (1, 3, 5):
        np.testing.assert_allclose(jsl.hilbert(n), sl.hilbert(n))
        np.testing.assert_allclose(jsl.helmert(n), sl.helmert(n), atol=1e-15)
        np.testing.assert_allclose(jsl.helmert(n, full=True), sl.helmert(n, full=True),
                                   atol=1e-15)
        for kind in ("symmetric", "lower", "upper"):
            assert np.array_equal(jsl.pascal(n, kind), sl.pascal(n, kind))
    for n in (1, 2, 8):
        assert np.array_equal(jsl.hadamard(n), sl.hadamard(n))


def test_every_table_function_is_public():
    """Every public function of both modules has a row (or the test above)."""
    import inspect
    covered = {"matrix_rank", "hilbert", "helmert", "pascal", "hadamard"}
    for module, prefix in ((jla, ""), (jsl, "scipy.")):
        for name in module.__all__:
            if not inspect.isfunction(getattr(module, name)) or name in covered:
                continue
            rows = [k for k in TABLE if k.split("-")[0] in (prefix + name, "linalg." + name)]
            assert rows, f"{module.__name__}.{name} has no row in TABLE"


@pytest.mark.parametrize("module", [jla, jsl])
def test_every_public_function_has_an_example(module):
    import inspect
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            assert ">>>" in (obj.__doc__ or ""), f"{module.__name__}.{name} has no example"
