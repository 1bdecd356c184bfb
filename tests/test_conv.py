"""Convolutions, windowed reductions and the layers built on them, table-driven: values against
direct-definition loops (and scipy.signal), in float32 and float64; jvp against finite
differences and vjp against jvp; compiled (im2col / col2im kernel) against eager; vmap against
a loop; stax layers, nn pooling and activations, fixed_point; errors. (The registry tests
cover the conv_general_dilated primitive's own declared cases.)"""

import threading

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitgrad as jg
import jitgrad.numpy as jnp
import jitgrad.scipy.signal as jss
from jitgrad import lax, nn
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.example_libraries import stax
from jitgrad.misc import fixed_point
from jitgrad.tree_util import tree_leaves

DTYPES = [np.float64, np.float32]


def close(got, expected, dtype=np.float64):
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


# --- definitions, written as loops ---------------------------------------------------------

def dilate(n, r):
    return 0 if n == 0 else 1 + r * (n - 1)


def conv_by_definition(lhs, rhs, strides, padding, lhs_dil, rhs_dil, dn, groups=1,
                       batch_groups=1):
    """XLA's convolution element by element: output (n, o, p) sums lhs x rhs over the input
    features of o's group and the kernel positions whose dilated, padded input coordinate
    p*s + k*r - lo lands on an input element (a multiple of the lhs dilation)."""
    x = np.transpose(lhs, dn.lhs_spec)
    w = np.transpose(rhs, dn.rhs_spec)
    n_in, o_out, i_in = x.shape[0], w.shape[0], w.shape[1]
    out_sp = [max(0, (dilate(n, ld) + lo + hi - dilate(k, rd)) // s + 1)
              for n, k, s, (lo, hi), ld, rd in zip(x.shape[2:], w.shape[2:], strides, padding,
                                                   lhs_dil, rhs_dil, strict=True)]
    out = np.zeros([n_in // batch_groups, o_out] + out_sp)
    per_group = o_out // max(groups, batch_groups)
    for idx in np.ndindex(*out.shape):
        n, o, p = idx[0], idx[1], idx[2:]
        j = o // per_group
        src_n = j * (n_in // batch_groups) + n if batch_groups > 1 else n
        acc = 0.0
        for i in range(i_in):
            c = j * i_in + i if groups > 1 else i
            for k in np.ndindex(*w.shape[2:]):
                pos = []
                for pp, kk, s, (lo, _), ld, rd, size in zip(p, k, strides, padding, lhs_dil,
                                                            rhs_dil, x.shape[2:], strict=True):
                    q = pp * s + kk * rd - lo
                    if q < 0 or q % ld or q // ld >= size:
                        break
                    pos.append(q // ld)
                else:
                    acc += x[(src_n, c) + tuple(pos)] * w[(o, i) + k]
        out[idx] = acc
    return np.transpose(out, np.argsort(dn.out_spec)).astype(lhs.dtype)


def window_by_definition(x, init, op, window, strides, pads, base, wdil):
    """reduce_window element by element: init combined with every operand element inside the
    window (padding and dilation holes take no part)."""
    fn = {"add": np.add, "max": np.maximum, "min": np.minimum, "mul": np.multiply}[op]
    out_shape = [max(0, (dilate(n, b) + lo + hi - dilate(w, d)) // s + 1) for n, w, s,
                 (lo, hi), b, d in zip(x.shape, window, strides, pads, base, wdil, strict=True)]
    out = np.empty(out_shape, x.dtype)
    for idx in np.ndindex(*out_shape):
        acc = np.asarray(init, x.dtype)
        for k in np.ndindex(*window):
            pos = []
            for p, kk, s, (lo, _), b, d, n in zip(idx, k, strides, pads, base, wdil, x.shape,
                                                  strict=True):
                q = p * s + kk * d - lo
                if q < 0 or q % b or q // b >= n:
                    break
                pos.append(q // b)
            else:
                acc = fn(acc, x[tuple(pos)])
        out[idx] = acc
    return out


# --- conv_general_dilated: random configurations, eager and compiled -------------------------

@st.composite
def conv_configs(draw):
    nsp = draw(st.integers(0, 4))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    batch_groups = draw(st.sampled_from([1, 2])) if groups == 1 else 1
    n = draw(st.integers(1, 2)) * batch_groups
    i = draw(st.integers(1, 3))
    o = draw(st.integers(1, 2)) * groups * batch_groups
    sizes = [draw(st.integers(1, 5)) for _ in range(nsp)]
    kernel = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    lhs_dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    rhs_dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    pads = [(draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nsp)]
    perms = [tuple(draw(st.permutations(range(nsp + 2)))) for _ in range(3)]
    dn = lax.ConvDimensionNumbers(*perms)
    lhs_shape, rhs_shape = [0] * (nsp + 2), [0] * (nsp + 2)
    for k, a in enumerate(dn.lhs_spec):
        lhs_shape[a] = ([n, i * groups] + sizes)[k]
    for k, a in enumerate(dn.rhs_spec):
        rhs_shape[a] = ([o, i] + kernel)[k]
    seed = draw(st.integers(0, 2**16))
    return lhs_shape, rhs_shape, strides, pads, lhs_dil, rhs_dil, dn, groups, batch_groups, seed


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(conv_configs())
def test_conv_matches_its_definition_eager_and_compiled(config):
    lhs_shape, rhs_shape, strides, pads, lhs_dil, rhs_dil, dn, groups, batch_groups, seed = config
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.standard_normal(lhs_shape), rng.standard_normal(rhs_shape)
    padded = [dilate(n, ld) + lo + hi for n, ld, (lo, hi) in
              zip(np.take(lhs_shape, dn.lhs_spec[2:]), lhs_dil, pads, strict=True)]
    if min(padded, default=0) < 0:
        with pytest.raises(ShapeError, match="negative padding"):
            lax.conv_general_dilated(lhs, rhs, strides, pads, lhs_dil, rhs_dil, dn, groups,
                                     batch_groups)
        return
    expected = conv_by_definition(lhs, rhs, strides, pads, lhs_dil, rhs_dil, dn, groups,
                                  batch_groups)

    def f(a, b):
        return lax.conv_general_dilated(a, b, strides, pads, lhs_dil, rhs_dil, dn, groups,
                                        batch_groups)

    close(f(lhs, rhs), expected)
    compiled = jg.jit(f)
    close(compiled(lhs, rhs), expected)
    close(compiled(lhs, rhs), expected)  # scratch buffers reused by the second call


def test_compiled_paths():
    """Each path of the compiled kernel against the definition: patches with long output rows
    and with long kernel rows, scattered products (a transposed convolution), feature groups
    and batch groups (written through a temporary), channels-last output, more than three
    spatial axes (taken one at a time), and padding that shifts without resizing."""
    dn2 = lax.ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))
    nhwc = lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), ("NHWC", "HWIO", "NHWC"))
    cases = [
        ((2, 3, 9, 8), (4, 3, 3, 3), (1, 2), [(1, 1), (0, 1)], (1, 1), (1, 1), dn2, 1, 1),
        ((2, 3, 4, 9), (2, 3, 3, 7), (1, 1), [(0, 0), (1, 1)], (1, 1), (1, 1), dn2, 1, 1),
        ((2, 6, 5, 5), (2, 6, 3, 3), (1, 1), [(2, 2), (2, 2)], (2, 1), (1, 1), dn2, 1, 1),
        ((2, 6, 5, 5), (4, 3, 2, 2), (1, 1), [(0, 0), (1, 0)], (1, 1), (1, 2), dn2, 2, 1),
        ((4, 3, 5, 5), (4, 3, 2, 2), (2, 1), [(1, 0), (0, 0)], (1, 1), (1, 1), dn2, 1, 2),
        ((2, 5, 5, 3), (3, 3, 3, 4), (1, 1), [(1, 1), (1, 1)], (1, 1), (1, 1), nhwc, 1, 1),
        ((1, 2, 3, 3, 3, 3), (2, 2, 2, 2, 2, 2), (1,) * 4, [(1, 0), (0, 0), (0, 1), (0, 0)],
         (1, 2, 1, 1), (1, 1, 1, 2),
         lax.ConvDimensionNumbers(*[tuple(range(6))] * 3), 1, 1),
        ((1, 1, 6), (1, 1, 1), (3,), [(1, -1)], (1,), (1,),
         lax.ConvDimensionNumbers((2, 1, 0), (0, 1, 2), (1, 2, 0)), 1, 1),
    ]
    rng = np.random.default_rng(0)
    for lhs_shape, rhs_shape, strides, pads, ld, rd, dn, g, b in cases:
        for dt in DTYPES:
            lhs = rng.standard_normal(lhs_shape).astype(dt)
            rhs = rng.standard_normal(rhs_shape).astype(dt)
            expected = conv_by_definition(lhs, rhs, strides, pads, ld, rd, dn, g, b)
            got = jg.jit(lambda a, w, s=strides, p=pads, ld=ld, rd=rd, dn=dn, g=g, b=b:
                         lax.conv_general_dilated(a, w, s, p, ld, rd, dn, g, b))(lhs, rhs)
            assert got.dtype == dt
            close(got, expected, dt)


def test_compiled_results_are_not_overwritten_by_later_calls():
    """The kernel reuses its scratch and the runtime recycles large outputs: a result kept
    by the caller must survive the next call (and calls from two threads)."""
    f = jg.jit(lambda x, w: lax.conv(x, w, (1, 1), "SAME"))
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 3, 3, 3))
    xs = [rng.standard_normal((4, 3, 32, 32)) for _ in range(4)]  # outputs of 256 KiB
    expected = [f(x, w).copy() for x in xs]
    kept = [f(x, w) for x in xs]
    for k, e in zip(kept, expected, strict=True):
        np.testing.assert_array_equal(k, e)
    results = {}

    def worker(i):
        results[i] = [f(xs[i], w) for _ in range(3)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        for r in results[i]:
            np.testing.assert_array_equal(r, expected[i])


def test_compiled_scratch_is_bounded_and_released(monkeypatch):
    """The kernel's scratch (padded input, patch matrix) counts in the memory compiled
    programs keep between calls: past ``config.scratch_mb`` the pools that allocated longest
    ago are released, and ``release_scratch`` (so ``clear_caches``) drops it all."""
    from jitgrad.backend import runtime
    from jitgrad.backend.kernels.conv import Step
    monkeypatch.setattr(jg.config, "scratch_mb", 1)
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3, 3, 3))
    fs, xs, steps = [], [], []
    for size in (40, 48):  # patch matrices of 1.3 and 1.9 MiB
        f = jg.jit(lambda x: lax.conv(x, w, (1, 1), "SAME"))
        x = rng.standard_normal((4, 3, size, size))
        close(f(x), np.asarray(lax.conv(x, w, (1, 1), "SAME")))
        [step] = [v for e in f._entries.values() for v in e.fn.__globals__.values()
                  if isinstance(v, Step)]
        assert len(step._free) == 1 and runtime._retained.nbytes >= 4 * 27 * size ** 2 * 8
        fs.append(f), xs.append(x), steps.append(step)
    assert steps[0]._free == [] and len(steps[1]._free) == 1
    runtime.release_scratch()
    assert steps[1]._free == [] and runtime._retained.nbytes == 0
    close(fs[1](xs[1]), np.asarray(lax.conv(xs[1], w, (1, 1), "SAME")))


# --- conv_general_dilated through the lax API: derivatives, vmap, layouts --------------------

LAX_CASES = {
    "nchw-same": (lambda x, w: lax.conv(x, w, (1, 1), "SAME"), (2, 3, 5, 5), (4, 3, 3, 3)),
    "nhwc-strided": (lambda x, w: lax.conv_general_dilated(
        x, w, (2, 1), "SAME_LOWER", dimension_numbers=("NHWC", "HWIO", "NHWC")),
        (2, 5, 4, 3), (2, 3, 3, 2)),
    "transposed": (lambda x, w: lax.conv_general_dilated(
        x, w, (1,), [(1, 2)], lhs_dilation=(2,), rhs_dilation=(2,)), (1, 2, 4), (3, 2, 2)),
    "depthwise": (lambda x, w: lax.conv_general_dilated(
        x, w, (1,), "VALID", feature_group_count=3), (2, 3, 6), (6, 1, 3)),
    "conv_transpose": (lambda x, w: lax.conv_transpose(x, w, (2, 2), "SAME"),
                       (1, 3, 3, 2), (2, 2, 2, 3)),
}


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(LAX_CASES))
def test_lax_convolutions_derivatives_jit_vmap(name, dt):
    f, xs, ws = LAX_CASES[name]
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(xs).astype(dt), rng.standard_normal(ws).astype(dt)
    jg.check_grads(f, (x, w), order=2 if dt == np.float64 else 1)
    close(jg.jit(f)(x, w), f(x, w), dt)
    g = rng.standard_normal(np.shape(f(x, w))).astype(dt)
    vjp = jg.grad(lambda x, w: jnp.sum(f(x, w) * g), argnums=(0, 1))
    for a, b in zip(jg.jit(vjp)(x, w), vjp(x, w), strict=True):
        close(a, b, dt)
    # vmap over a batch of inputs, and over a batch of kernels
    xb = rng.standard_normal((3,) + xs).astype(dt)
    close(jg.vmap(f, (0, None))(xb, w), np.stack([f(xi, w) for xi in xb]), dt)
    wb = rng.standard_normal((2,) + ws).astype(dt)
    close(jg.vmap(f, (None, 0))(x, wb), np.stack([f(x, wi) for wi in wb]), dt)
    close(jg.jit(jg.vmap(f))(xb[:2], wb),
          np.stack([f(a, b) for a, b in zip(xb[:2], wb, strict=True)]), dt)


def test_conv_transpose_with_transpose_kernel_is_the_gradient_of_conv():
    """conv_transpose(transpose_kernel=True) is the input gradient of the forward strided
    convolution with the same padding (the Keras Conv2DTranspose convention)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 3, 3, 4))
    # sizes the stride divides evenly ('SAME' transposed gives stride * n, 'VALID' n*s + k-s)
    for padding, n in (("VALID", 7), ("SAME", 8)):
        x = rng.standard_normal((2, n, n, 3))

        def fwd(x, padding=padding):
            return lax.conv_general_dilated(x, w, (2, 2), padding,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y, pullback = jg.vjp(fwd, x)
        g = rng.standard_normal(y.shape)
        got = lax.conv_transpose(g, w, (2, 2), padding, transpose_kernel=True)
        close(got, pullback(g)[0])
        swapped = w.shape[:2] + w.shape[:1:-1]  # the kernel transpose_kernel convolves with
        assert lax.conv_transpose_shape_tuple(g.shape, swapped, (2, 2), padding,
                                              ("NHWC", "HWIO", "NHWC")) == x.shape


def test_shape_helpers_agree_with_the_results():
    rng = np.random.default_rng(4)
    dn = ("NHWC", "HWIO", "NHWC")
    for shape, kernel, strides, padding in [((2, 9, 8, 3), (3, 2, 3, 5), (2, 3), "SAME"),
                                            ((2, 9, 8, 3), (3, 2, 3, 5), (1, 2), "VALID"),
                                            ((1, 4, 4, 1), (2, 2, 1, 1), (1, 1), [(1, 0), (2, 2)])]:
        out = lax.conv_general_dilated(rng.standard_normal(shape), rng.standard_normal(kernel),
                                       strides, padding, dimension_numbers=dn)
        assert lax.conv_general_shape_tuple(shape, kernel, strides, padding, dn) == out.shape
    assert lax.padtype_to_pads((5, 6), (3, 2), (2, 4), "SAME") == [(1, 1), (0, 0)]
    assert lax.padtype_to_pads((4,), (4,), (1,), "SAME") == [(1, 2)]
    assert lax.padtype_to_pads((4,), (4,), (1,), "SAME_LOWER") == [(2, 1)]


def test_dimension_numbers():
    assert lax.conv_dimension_numbers((1, 2, 3), (4, 2, 1), None) == \
        lax.ConvDimensionNumbers((0, 1, 2), (0, 1, 2), (0, 1, 2))
    assert lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "OIHW", "NCHW")) == \
        lax.ConvDimensionNumbers((0, 3, 1, 2), (0, 1, 2, 3), (0, 1, 2, 3))
    # the spatial order follows the rhs string
    assert lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NWHC", "HWIO", "NHWC")) == \
        lax.ConvDimensionNumbers((0, 3, 2, 1), (3, 2, 0, 1), (0, 3, 1, 2))


def test_convolution_errors():
    x, w = np.ones((1, 2, 5)), np.ones((3, 2, 2))
    with pytest.raises(JitgradTypeError, match="floating point of one dtype"):
        lax.conv(x.astype(np.float32), w, (1,), "VALID")
    with pytest.raises(JitgradTypeError, match="floating point"):
        lax.conv(np.ones((1, 2, 5), int), np.ones((3, 2, 2), int), (1,), "VALID")
    with pytest.raises(JitgradTypeError, match="dimension_numbers"):
        lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NC", "OI", "NC"))
    with pytest.raises(JitgradTypeError, match="same spatial axes"):
        lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NCH", "OIW", "NCH"))
    with pytest.raises(ShapeError, match="feature_group_count 2"):
        lax.conv_general_dilated(np.ones((1, 3, 5)), np.ones((2, 2, 2)), (1,), "VALID",
                                 feature_group_count=2)
    with pytest.raises(ShapeError, match="batch_group_count 2"):
        lax.conv_general_dilated(np.ones((3, 2, 5)), w, (1,), "VALID", batch_group_count=2)
    with pytest.raises(ShapeError, match="string padding"):
        lax.conv_general_dilated(x, w, (1,), "SAME", lhs_dilation=(2,))
    with pytest.raises(ShapeError, match="window_strides"):
        lax.conv_general_dilated(x, w, (1, 1), "VALID")
    with pytest.raises(ShapeError, match="padding must be"):
        lax.conv(x, w, (1,), "FULL")
    with pytest.raises(ShapeError, match="same rank"):
        lax.conv(x, np.ones((3, 2)), (1,), "VALID")
    with pytest.raises(JitgradTypeError, match="floating point"):  # under jit too
        jg.jit(lambda a, b: lax.conv(a, b, (1,), "VALID"))(x, w.astype(np.float32))


# --- reduce_window, nn pooling ---------------------------------------------------------------

@st.composite
def window_configs(draw):
    nd = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 5)) for _ in range(nd)]
    window = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 2)) for _ in range(nd)]
    base = [draw(st.integers(1, 2)) for _ in range(nd)]
    wdil = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [(draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nd)]
    op = draw(st.sampled_from(["add", "max", "min", "mul"]))
    init = draw(st.sampled_from(["identity", "other"]))
    ties = draw(st.booleans())
    compiled = draw(st.integers(0, 2)) == 0  # each compiles kernels of its own: a third do
    seed = draw(st.integers(0, 2**16))
    return shape, window, strides, pads, base, wdil, op, init, ties, compiled, seed


COMPUTATIONS = {"add": (jnp.add, 0.0, 1.5), "max": (jnp.maximum, -np.inf, 0.2),
                "min": (jnp.minimum, np.inf, -0.2), "mul": (jnp.multiply, 1.0, 2.0)}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(window_configs())
def test_reduce_window_matches_its_definition(config):
    shape, window, strides, pads, base, wdil, op, init, ties, compiled, seed = config
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    fn, identity, other = COMPUTATIONS[op]
    init = identity if init == "identity" else other
    expected = window_by_definition(x, init, op, window, strides, pads, base, wdil)

    def f(x):
        return lax.reduce_window(x, init, fn, window, strides, pads, base, wdil)

    close(f(x), expected)
    if compiled:
        close(jg.jit(f)(x), expected)
    assert lax.reduce_window_shape_tuple(shape, window, strides, pads, base, wdil) == \
        expected.shape


@pytest.mark.parametrize("op", sorted(COMPUTATIONS))
def test_reduce_window_takes_laxs_computations(op):
    """JAX programs pass lax's functions (max pooling is ``lax.reduce_window(x, -inf, lax.max,
    ...)``): the same results and gradients as with jnp's."""
    x = np.random.default_rng(3).standard_normal((1, 4, 4, 2))
    fn, identity, _ = COMPUTATIONS[op]
    lax_fn = {"add": lax.add, "max": lax.max, "min": lax.min, "mul": lax.mul}[op]

    def pool(comp):
        return lambda x: lax.reduce_window(x, identity, comp, (1, 2, 2, 1), (1, 2, 2, 1),
                                           "VALID")

    np.testing.assert_array_equal(pool(lax_fn)(x), pool(fn)(x))
    np.testing.assert_array_equal(jg.grad(lambda x: jnp.sum(pool(lax_fn)(x) ** 2))(x),
                                  jg.grad(lambda x: jnp.sum(pool(fn)(x) ** 2))(x))


def max_pool_gradient_by_definition(x, window, strides):
    """Every output's cotangent (here 1) added to the first maximal element of its window
    (row-major order), as JAX's select_and_scatter_add."""
    g = np.zeros_like(x)
    out_shape = [(n - w) // s + 1 for n, w, s in zip(x.shape, window, strides, strict=True)]
    for idx in np.ndindex(*out_shape):
        best = None
        for k in np.ndindex(*window):
            pos = tuple(i * s + kk for i, s, kk in zip(idx, strides, k, strict=True))
            if best is None or x[pos] > x[best]:
                best = pos
        g[best] += 1
    return g


@pytest.mark.parametrize("window,strides", [((2, 2), (1, 1)), ((2, 3), (2, 1)),
                                            ((3, 3), (1, 2))])
def test_max_derivative_goes_to_the_first_maximum(window, strides):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (5, 6)).astype(float)  # many ties

    def f(x):
        return jnp.sum(lax.reduce_window(x, -np.inf, jnp.maximum, window, strides, "VALID"))

    expected = max_pool_gradient_by_definition(x, window, strides)
    close(jg.grad(f)(x), expected)
    close(jg.jit(jg.grad(f))(x), expected)
    t = rng.standard_normal(x.shape)
    close(jg.jvp(f, (x,), (t,))[1], np.sum(expected * t))


def test_max_propagates_nan():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 2.0, np.nan]])
    out = lax.reduce_window(x, -np.inf, jnp.maximum, (2, 2), (1, 1), "VALID")
    assert np.isnan(out).all()
    g = jg.grad(lambda x: jnp.sum(lax.reduce_window(x, -np.inf, jnp.maximum, (2, 3), (1, 1),
                                                    "VALID")))(x)
    np.testing.assert_array_equal(g, [[0, 1, 0], [0, 0, 0]])  # the first NaN


WINDOW_CASES = {
    "max-same": lambda x: lax.reduce_window(x, -np.inf, jnp.maximum, (1, 3, 2), (1, 2, 1),
                                            "SAME"),
    "sum-dilated": lambda x: lax.reduce_window(x, 0.0, jnp.add, (2, 2, 1), (1, 1, 1),
                                               [(0, 1), (1, 0), (0, 0)], (1, 2, 1), (1, 1, 1)),
    "min-window-dilation": lambda x: lax.reduce_window(x, np.inf, jnp.minimum, (1, 2, 2),
                                                       (1, 1, 1), "VALID", None, (1, 2, 1)),
    "max_pool": lambda x: nn.max_pool(x, (2, 2), (1, 1), "SAME"),
    "avg_pool": lambda x: nn.avg_pool(x, (2, 2), padding=[(1, 0), (0, 1)]),
    "avg_pool-exclusive": lambda x: nn.avg_pool(x, (3, 2), (2, 1), "SAME",
                                                count_include_pad=False),
    "min_pool": lambda x: nn.min_pool(x, (2,), (2,)),
}


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(WINDOW_CASES))
def test_windowed_derivatives_jit_vmap(name, dt):
    f = WINDOW_CASES[name]
    rng = np.random.default_rng(6)
    shape = (2, 5, 4, 3) if "pool" in name and "min" not in name else (2, 5, 4)
    # distinct values 0.1 apart: a finite-difference step never crosses a max's tie
    x = (rng.permutation(np.prod(shape)).reshape(shape) * 0.1 - 2.0).astype(dt)
    jg.check_grads(f, (x,), order=2 if dt == np.float64 else 1)
    close(jg.jit(f)(x), f(x), dt)
    t = rng.standard_normal(np.shape(f(x))).astype(dt)
    grad = jg.grad(lambda x: jnp.sum(f(x) * t))
    close(jg.jit(grad)(x), grad(x), dt)
    xb = rng.standard_normal((3,) + x.shape).astype(dt)
    close(jg.vmap(f)(xb), np.stack([f(xi) for xi in xb]), dt)


def test_pools_by_definition():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 6, 3))
    pads = [(0, 0), (0, 1), (1, 1), (0, 0)]
    total = window_by_definition(x, 0.0, "add", (1, 2, 3, 1), (1, 2, 1, 1), pads, [1] * 4,
                                 [1] * 4)
    counts = window_by_definition(np.ones_like(x), 0.0, "add", (1, 2, 3, 1), (1, 2, 1, 1),
                                  pads, [1] * 4, [1] * 4)
    close(nn.avg_pool(x, (2, 3), (2, 1), "SAME"), total / 6)
    close(nn.avg_pool(x, (2, 3), (2, 1), "SAME", count_include_pad=False), total / counts)
    close(nn.max_pool(x, (2, 3), (2, 1), "SAME"),
          window_by_definition(x, -np.inf, "max", (1, 2, 3, 1), (1, 2, 1, 1), pads, [1] * 4,
                               [1] * 4))
    close(nn.max_pool(x[0], (2, 3), (2, 1), "SAME"), nn.max_pool(x, (2, 3), (2, 1), "SAME")[0])


def test_window_errors():
    x = np.ones((3, 4))
    with pytest.raises(UnsupportedError, match="computation"):
        lax.reduce_window(x, 0.0, lambda a, b: a + b, (2, 2), (1, 1), "VALID")
    with pytest.raises(ShapeError, match="one entry"):
        lax.reduce_window(x, 0.0, jnp.add, (2,), (1, 1), "VALID")
    with pytest.raises(ShapeError, match="padding"):
        lax.reduce_window(x, 0.0, jnp.add, (2, 2), (1, 1), [(0, 0)])
    with pytest.raises(ShapeError, match="pooling"):
        nn.max_pool(np.ones((4, 4)), (2, 2))


# --- scipy.signal -----------------------------------------------------------------------------

SHAPES = [((7,), (3,)), ((3,), (6,)), ((5, 6), (2, 3)), ((4, 2), (3, 5)), ((2, 3, 4), (2, 2, 3)),
          ((1,), (1,))]
INPUTS = {"f64": (np.float64, np.float64), "f32": (np.float32, np.float32),
          "int": (np.int64, np.int64), "f32-int": (np.float32, np.int32)}


def draw(rng, shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-4, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("fn", ["convolve", "correlate"])
def test_signal_convolve_correlate_match_scipy(fn, kind):
    rng = np.random.default_rng(8)
    for k, (s1, s2) in enumerate(SHAPES):
        a, b = draw(rng, s1, INPUTS[kind][0]), draw(rng, s2, INPUTS[kind][1])
        for m, mode in enumerate(("full", "same", "valid")):
            try:
                expected = getattr(ss, fn)(a, b, mode, method="direct")
            except ValueError:  # valid mode: neither fits inside the other
                with pytest.raises(ValueError, match="at least as large"):
                    getattr(jss, fn)(a, b, mode)
                continue
            got = getattr(jss, fn)(a, b, mode)
            assert got.dtype == expected.dtype, (fn, mode, got.dtype, expected.dtype)
            close(got, expected, np.float32 if "f32" in kind else np.float64)
            if (k + m) % 3:  # each shape compiled in one mode, each mode for a third of them
                continue
            jitted = jg.jit(lambda a, b, mode=mode: getattr(jss, fn)(a, b, mode))(a, b)
            assert jitted.dtype == expected.dtype
            close(jitted, expected, np.float32 if "f32" in kind else np.float64)


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("fn", ["convolve2d", "correlate2d"])
def test_signal_2d_match_scipy(fn, boundary):
    rng = np.random.default_rng(9)
    for s1, s2 in [((5, 6), (2, 3)), ((4, 4), (3, 3)), ((3, 2), (4, 5)), ((2, 3), (1, 1))]:
        a, b = rng.standard_normal(s1), rng.standard_normal(s2)
        for mode in ("full", "same", "valid"):
            for fill in (0.0, 1.5):
                try:
                    expected = getattr(ss, fn)(a, b, mode, boundary, fill)
                except ValueError:
                    continue
                close(getattr(jss, fn)(a, b, mode, boundary, fill), expected)


def convolve_by_einsum(a, b, axes, dot_axes, mode):
    """autograd's convolve in full mode by its definition (every pair of positions), then
    cropped to 'same' or 'valid'."""
    ac, bc = axes
    ad, bd = dot_axes
    a_rest = [i for i in range(a.ndim) if i not in ac and i not in ad]
    b_rest = [i for i in range(b.ndim) if i not in bc and i not in bd]
    na, nb = [a.shape[i] for i in ac], [b.shape[i] for i in bc]
    full = [p + q - 1 for p, q in zip(na, nb, strict=True)]
    at = np.transpose(a, a_rest + list(ad) + list(ac))
    bt = np.transpose(b, b_rest + list(bd) + list(bc))
    nd = len(ad)
    out = np.zeros(at.shape[:len(a_rest)] + bt.shape[:len(b_rest)] + tuple(full))
    ra, rb = len(a_rest), len(b_rest)
    for i in np.ndindex(*na):
        for j in np.ndindex(*nb):
            term = np.tensordot(at[(Ellipsis,) + i], bt[(Ellipsis,) + j],
                                axes=(list(range(ra, ra + nd)), list(range(rb, rb + nd))))
            out[(Ellipsis,) + tuple(p + q for p, q in zip(i, j, strict=True))] += term
    lead = (slice(None),) * (ra + rb)
    sizes = list(zip(na, nb, strict=True))
    if mode == "same":
        return out[lead + tuple(slice((q - 1) // 2, (q - 1) // 2 + p) for p, q in sizes)]
    if mode == "valid":
        return out[lead + tuple(slice(min(p, q) - 1, max(p, q)) for p, q in sizes)]
    return out


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_autograd_style_convolve(mode):
    rng = np.random.default_rng(10)
    cases = [((2, 5, 3), (4, 3, 2), ([1], [0]), ([2], [1])),
             ((3, 4, 6), (3, 2, 3), ([1, 2], [1, 2]), ([0], [0])),
             ((6, 2), (3, 4), ([0], [0]), ([], [])),
             ((2, 3, 5), (2, 3, 7), ([2], [2]), ([0, 1], [0, 1]))]
    for sa, sb, axes, dot_axes in cases:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        expected = convolve_by_einsum(a, b, axes, dot_axes, mode)
        got = jss.convolve(a, b, mode, axes=axes, dot_axes=dot_axes)
        close(got, expected)
        jg.check_grads(lambda a, b, axes=axes, dot_axes=dot_axes:
                       jss.convolve(a, b, mode, axes=axes, dot_axes=dot_axes), (a, b), order=1)


SIGNAL_CASES = {
    "convolve-full": lambda a, b: jss.convolve(a, b),
    "convolve-same-bigger-kernel": lambda a, b: jss.convolve(a[:2], b, "same"),
    "correlate-valid": lambda a, b: jss.correlate(a, b[:2, :2], "valid"),
    "convolve2d-symm": lambda a, b: jss.convolve2d(a, b, "same", "symm"),
    "correlate2d-wrap": lambda a, b: jss.correlate2d(a, b, "full", "wrap"),
}


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(SIGNAL_CASES))
def test_signal_derivatives_jit_vmap(name, dt):
    f = SIGNAL_CASES[name]
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((4, 5)).astype(dt), rng.standard_normal((3, 3)).astype(dt)
    jg.check_grads(f, (a, b), order=2 if dt == np.float64 else 1)
    close(jg.jit(f)(a, b), f(a, b), dt)
    ab = rng.standard_normal((2, 4, 5)).astype(dt)
    close(jg.vmap(f, (0, None))(ab, b), np.stack([f(x, b) for x in ab]), dt)
    close(jg.jit(jg.vmap(f, (0, None)))(ab, b), np.stack([f(x, b) for x in ab]), dt)


def test_signal_edge_cases():
    assert jss.convolve(np.array(2.0), np.array(3.0)) == 6.0
    np.testing.assert_array_equal(
        jss.convolve(np.array([True, False]), np.array([True, True])),
        [True, True, False])
    with pytest.raises(ValueError, match="mode"):
        jss.convolve(np.ones(3), np.ones(2), "fill")
    with pytest.raises(ValueError, match="method"):
        jss.correlate(np.ones(3), np.ones(2), method="magic")
    with pytest.raises(ValueError, match="dimensionality"):
        jss.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        jss.convolve2d(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="boundary"):
        jss.convolve2d(np.ones((3, 3)), np.ones((2, 2)), boundary="reflect")
    with pytest.raises(ShapeError, match="empty"):
        jss.convolve(np.ones(0), np.ones(2))
    with pytest.raises(ValueError, match="keywords"):
        jss.convolve(np.ones((2, 3)), np.ones((2, 3)), ([1], [1]))


# --- nn activations ---------------------------------------------------------------------------

ACTIVATIONS = {
    "softplus": (nn.softplus, lambda x: np.logaddexp(x, 0)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "selu": (nn.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))),
    "standardize": (lambda x: nn.standardize(x, axis=0),
                    lambda x: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)),
}


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations(name, dt):
    f, ref = ACTIVATIONS[name]
    x = np.array([[-30.0, -1.5, -0.2], [0.3, 2.0, 40.0]], dt)
    close(f(x), ref(x.astype(np.float64)), dt)
    close(jg.jit(f)(x), ref(x.astype(np.float64)), dt)
    jg.check_grads(f, (np.array([[-1.3, -0.2, 0.4], [0.7, 1.1, 2.0]], dt),),
                   order=2 if dt == np.float64 else 1)


def test_activation_derivatives_at_zero_and_far_out():
    assert jg.grad(nn.softplus)(0.0) == 0.5 and jg.grad(jg.grad(nn.softplus))(0.0) == 0.25
    assert jg.grad(nn.softplus)(1000.0) == 1.0 and jg.grad(nn.softplus)(-1000.0) == 0.0
    assert float(nn.softplus(-50.0)) == pytest.approx(np.exp(-50.0), rel=1e-15)
    assert jg.grad(nn.elu)(0.0) == 1.0 and jg.grad(nn.leaky_relu)(0.0) == 1.0


# --- stax -------------------------------------------------------------------------------------

LAYERS = {
    "Dense": (stax.Dense(4), (3, 5)),
    "Conv": (stax.Conv(4, (3, 2), (2, 1), "SAME"), (2, 6, 5, 3)),
    "GeneralConv": (stax.GeneralConv(("NCHW", "OIHW", "NCHW"), 3, (2, 2)), (2, 2, 5, 4)),
    "ConvTranspose": (stax.ConvTranspose(2, (3, 3), (2, 2), "SAME"), (1, 3, 4, 2)),
    "Conv1DTranspose": (stax.Conv1DTranspose(2, (3,), (2,)), (2, 4, 3)),
    "BatchNorm": (stax.BatchNorm(), (4, 3, 3, 2)),
    "MaxPool": (stax.MaxPool((2, 2), (2, 1), "SAME"), (2, 5, 4, 3)),
    "AvgPool": (stax.AvgPool((3, 2), padding="SAME"), (2, 5, 4, 3)),
    "SumPool-NCHW": (stax.SumPool((2, 2), spec="NCHW"), (2, 3, 5, 4)),
    "Flatten": (stax.Flatten, (2, 3, 4)),
    "Tanh": (stax.Tanh, (3, 2)), "Relu": (stax.Relu, (3, 2)), "Elu": (stax.Elu, (3, 2)),
    "Softplus": (stax.Softplus, (3, 2)), "Sigmoid": (stax.Sigmoid, (3, 2)),
    "LogSoftmax": (stax.LogSoftmax, (3, 2)), "Softmax": (stax.Softmax, (3, 2)),
    "Exp": (stax.Exp, (3, 2)), "LeakyRelu": (stax.LeakyRelu, (3, 2)),
    "Selu": (stax.Selu, (3, 2)), "Identity": (stax.Identity, (3, 2)),
    "serial": (stax.serial(stax.Conv(3, (2, 2)), stax.Relu, stax.MaxPool((2, 2)),
                           stax.Flatten, stax.Dense(2), stax.LogSoftmax), (2, 5, 5, 1)),
    "parallel": (stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Identity),
                             stax.FanInConcat(), stax.FanOut(2),
                             stax.parallel(stax.Dense(5), stax.Tanh), stax.FanInSum), (2, 2)),
    "shape_dependent": (stax.shape_dependent(lambda s: stax.Dense(s[-1])), (2, 3)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_stax_layer_shapes_gradients_and_jit(name):
    (init_fun, apply_fun), shape = LAYERS[name]
    out_shape, params = init_fun(0, shape)
    x = np.random.default_rng(12).standard_normal(shape).astype(np.float32)
    out = apply_fun(params, x)
    assert tuple(out_shape) == np.shape(out) and np.asarray(out).dtype == np.float32
    assert all(np.asarray(p).dtype == np.float32 for p in tree_leaves(params))
    close(jg.jit(apply_fun)(params, x), out, np.float32)
    x64 = x.astype(np.float64)
    params64 = jg.tree_util.tree_map(lambda p: np.asarray(p, np.float64), params)
    jg.check_grads(lambda p, x: apply_fun(p, x), (params64, x64), order=1)


def test_stax_network_trains_under_jit_and_vmaps():
    init_fun, apply_fun = stax.serial(stax.Conv(4, (3, 3), padding="SAME"), stax.Relu,
                                      stax.AvgPool((2, 2), (2, 2)), stax.Flatten,
                                      stax.Dense(2), stax.LogSoftmax)
    _, params = init_fun(np.random.default_rng(0), (-1, 6, 6, 1))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6, 6, 1)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)]

    def loss(p, x, y):
        return -jnp.mean(jnp.sum(apply_fun(p, x) * y, axis=-1))

    step = jg.jit(jg.value_and_grad(loss))
    value, grads = step(params, x, y)
    ref_value, ref_grads = jg.value_and_grad(loss)(params, x, y)
    close(value, ref_value, np.float32)
    for a, b in zip(tree_leaves(grads), tree_leaves(ref_grads), strict=True):
        close(a, b, np.float32)
    per_example = jg.vmap(lambda x: apply_fun(params, x[None])[0])(x)
    close(per_example, apply_fun(params, x), np.float32)


def test_stax_rng():
    """rng: a jitgrad.random key, an integer seed (its key) or a numpy Generator (reproducible
    from the Generator's seed)."""
    init_fun, _ = stax.serial(stax.Dense(3), stax.Dense(2))
    a = tree_leaves(init_fun(7, (1, 4))[1])
    b = tree_leaves(init_fun(jg.random.key(7), (1, 4))[1])
    c = tree_leaves(init_fun(8, (1, 4))[1])
    d, e = (tree_leaves(init_fun(np.random.default_rng(7), (1, 4))[1]) for _ in range(2))
    for p, q, r, s in zip(a, b, d, e, strict=True):
        np.testing.assert_array_equal(p, q)
        np.testing.assert_array_equal(r, s)
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(JitgradTypeError, match="rng"):
        init_fun("seed", (1, 4))


# --- fixed_point --------------------------------------------------------------------------------

def test_fixed_point_scalar():
    newton = lambda a: lambda x: 0.5 * (x + a / x)  # noqa: E731
    root = lambda a: fixed_point(newton, a, 1.0, lambda x, y: jnp.abs(x - y), 1e-12)  # noqa: E731
    assert float(root(2.0)) == pytest.approx(np.sqrt(2.0), rel=1e-14)
    for g in (jg.grad(root), jg.jit(jg.grad(root))):
        assert float(g(2.0)) == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)
    assert float(jg.grad(jg.grad(root))(2.0)) == pytest.approx(-0.25 * 2.0 ** -1.5, rel=1e-10)
    np.testing.assert_allclose(jg.vmap(jg.grad(root))(np.array([4.0, 9.0])), [0.25, 1 / 6])


def test_fixed_point_vector_pytree():
    w = np.array([[0.3, -0.2], [0.1, 0.4]])

    def layer(params):
        a, scale = params
        return lambda x: jnp.tanh(scale * (w @ x) + a)

    def solve(a, scale):
        return fixed_point(layer, (a, scale), np.zeros(2),
                           lambda x, y: jnp.sqrt(jnp.sum((x - y) ** 2)), 1e-13)

    a, scale = np.array([0.5, -0.3]), np.array(0.8)
    x = solve(a, scale)
    np.testing.assert_allclose(x, np.tanh(0.8 * (w @ x) + a), atol=1e-12)
    jg.check_grads(solve, (a, scale), order=2, modes=("rev",))
    jg.check_grads(solve, (a, scale), order=1, modes=("fwd",))
    np.testing.assert_allclose(jg.jit(jg.jacrev(solve))(a, scale), jg.jacfwd(solve)(a, scale),
                               atol=1e-10)
