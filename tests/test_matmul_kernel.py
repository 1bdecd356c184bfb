"""Tests for the Numba GEMM kernel in jitgrad/backend/kernels/matmul.py against numpy.matmul."""

import threading

import numba
import numpy as np
import pytest

from jitgrad.backend.kernels import matmul as mm

DTYPES = (np.float32, np.float64)
FLAGS = ((False, False), (False, True), (True, False), (True, True))
# (m, n, k): edges of the register tile (8 or 6 rows by NR); the direct paths (tiny, or m or
# n <= 4 in each loop order the flags select) and the packed one, with A read in place (small
# A, or a large one with short contiguous rows: 4200 x 32 unless transposed) or packed (A over
# 512 KiB, a transposed one over mm._DIRECT_A_T_BYTES, 512 or 128 KiB by CPU: 520 x 260, and
# 1030 x 130 whose last row block ends in a partial sliver); k split into several cache blocks
# (600 > mm._KC, 256 or 384 by CPU), m into several row blocks; a packed B of whole slivers
# only (n = 64, a multiple of both tile widths) and with a partial one (130).
SHAPES = (
    (0, 7, 33), (7, 0, 33), (1, 1, 1), (3, 3, 3), (7, 33, 130), (33, 130, 7), (130, 7, 1),
    (1, 130, 33), (2, 130, 40), (130, 3, 70), (130, 33, 130), (33, 17, 600), (300, 40, 70),
    (130, 130, 130), (520, 40, 260), (4200, 20, 32), (33, 64, 600),
    (1030, 40, 130),
)


def op(x, flag):
    return x.swapaxes(-1, -2) if flag else x


def operand(rng, dtype, batch, rows, cols, flag):
    """(batch, rows, cols) after op(), stored transposed when flag is set."""
    shape = (batch, cols, rows) if flag else (batch, rows, cols)
    return rng.standard_normal(shape).astype(dtype)


def reference(a, b, ta, tb, bias):
    ref = np.matmul(op(a, ta), op(b, tb))
    return ref if bias is None else ref + bias


def check(a, b, ta, tb, bias=None, out_shape=None):
    """Run the kernel into a NaN-filled out and compare with numpy."""
    ref = reference(a, b, ta, tb, bias)
    out = np.full(ref.shape if out_shape is None else out_shape, np.nan, ref.dtype)
    mm.matmul(a, b, out, ta, tb, bias)
    k = op(a, ta).shape[-1]
    if a.dtype == np.float32:
        rtol, atol = 1e-5, 2e-6 * (k + 1)
    else:
        rtol, atol = 1e-12, 1e-14 * (k + 1)
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ta,tb", FLAGS)
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_shapes_and_flags(dtype, ta, tb, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a = operand(rng, dtype, 2, m, k, ta)
    b = operand(rng, dtype, 2, k, n, tb)
    check(a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("batch", (0, 1, 3))
@pytest.mark.parametrize("m,n,k", ((7, 33, 130), (130, 33, 130)))
def test_batch_sizes(dtype, batch, m, n, k):
    rng = np.random.default_rng(batch)
    check(operand(rng, dtype, batch, m, k, False), operand(rng, dtype, batch, k, n, True),
          False, True)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ta", (False, True))
@pytest.mark.parametrize("which", ("a", "b", "both"))
@pytest.mark.parametrize("m,n,k", ((7, 33, 13), (130, 33, 130)))
def test_broadcast_batch(dtype, ta, which, m, n, k):
    """Stride-0 batch axes from np.broadcast_to (read-only views), incl. the folded path."""
    rng = np.random.default_rng(7)
    batch = 3
    a = operand(rng, dtype, batch, m, k, ta)
    b = operand(rng, dtype, batch, k, n, False)
    if which in ("a", "both"):
        a = np.broadcast_to(a[:1], a.shape)
    if which in ("b", "both"):
        b = np.broadcast_to(b[:1], b.shape)
    check(a, b, ta, False)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ta,tb", FLAGS)
@pytest.mark.parametrize("m,n,k", ((3, 5, 4), (7, 33, 13), (130, 33, 130)))
def test_strided_and_reversed(dtype, ta, tb, m, n, k):
    rng = np.random.default_rng(11)
    big_a = operand(rng, dtype, 6, 2 * m, 2 * k, ta)
    big_b = operand(rng, dtype, 3, 2 * k, 2 * n, tb)
    # Step-2 slices on every axis of a; negative strides on every axis of b.
    a = big_a[::2, ::2, ::2]
    b = big_b[::-1, ::-1, ::-1][:, ::2, ::2]
    check(a, b, ta, tb)
    # Negative batch stride combined with a Fortran-ordered operand.
    check(a[::-1], np.asfortranarray(b), ta, tb)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("has_bias", (False, True))
@pytest.mark.parametrize("m,n,k", ((7, 33, 13), (130, 33, 300)))
def test_bias(dtype, has_bias, m, n, k):
    rng = np.random.default_rng(1)
    a = operand(rng, dtype, 2, m, k, True)
    b = operand(rng, dtype, 2, k, n, False)
    bias = rng.standard_normal(2 * n).astype(dtype)[::2] if has_bias else None
    check(a, b, True, False, bias)


def test_short_slivers_cut_every_block_exactly():
    """A block of rows is _MR-row slivers then `short` slivers of one row fewer, exactly,
    whenever that is possible (from (_MR - 1) * (_MR - 2) rows on, every length is: the
    Frobenius number of _MR and _MR - 1 is one less)."""
    r = mm._MR
    for mc in range(1, 4 * r * r):
        short = mm._short_slivers(mc)
        tall = mc - short * (r - 1)
        assert 0 <= short < r and tall >= 0
        if short or mc % r == 0:
            assert tall % r == 0
        else:  # no exact cut: the last tall sliver is padded, as before short slivers
            assert all((mc - s * (r - 1)) % r for s in range(1, r) if s * (r - 1) <= mc)
        if mc >= (r - 1) * (r - 2):
            assert short or mc % r == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("packed", (False, True))
def test_every_row_count(dtype, packed):
    """Row counts with every remainder modulo both tile heights, so the row blocks end in
    short slivers, a padded sliver or neither: with op(a) read in place (small, row-major) and
    packed (transposed, over mm._DIRECT_A_T_BYTES, with n over one tile so it is not read in
    place for that reason), into a NaN-filled out with a bias (written by every tile)."""
    rng = np.random.default_rng(3)
    n = 20
    for m in range(1, 3 * mm._MR * (mm._MR - 1)):
        k = -(-mm._DIRECT_A_T_BYTES // (m * np.dtype(dtype).itemsize)) + 1 if packed else 33
        a = operand(rng, dtype, 1, m, k, packed)
        b = operand(rng, dtype, 1, k, n, False)
        check(a, b, packed, False, rng.standard_normal(n).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("batch", (1, 5))
def test_small_b_read_in_place(dtype, batch):
    """A B small enough to be read in place (no packing) with m over one tile: rows farther
    apart than n (a column slice), n not a multiple of the tile width, with a bias."""
    rng = np.random.default_rng(batch)
    m, n, k = 45, 40, 20
    a = operand(rng, dtype, batch, m, k, False)
    b = operand(rng, dtype, batch, k, 2 * n + 3, False)[:, :, 3:n + 3]
    assert b.strides[1] != n * b.itemsize
    check(a, b, False, False, rng.standard_normal(n).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("has_bias", (False, True))
def test_empty_k(dtype, has_bias):
    """k == 0: out = bias or 0, and out is still written."""
    a = np.empty((2, 5, 0), dtype)
    b = np.empty((2, 0, 3), dtype)
    bias = np.array([-1.0, 0.5, 2.0], dtype) if has_bias else None
    out = check(a, b, False, False, bias)
    assert not np.isnan(out).any()


def check_update(a, b, ta, tb, bias, c0, alpha):
    """matmul(..., c0=c0, alpha=alpha) into a NaN-filled out is c0 + alpha * the product the
    kernel computes without the update, to within one rounding of the update (it may be one
    FMA, or a multiply and an add, as in a loop kernel)."""
    g = np.full(np.broadcast_shapes(op(a, ta).shape[:-1] + (1,), op(b, tb).shape[:-2] +
                                    (1, op(b, tb).shape[-1])), np.nan, c0.dtype)
    mm.matmul(a, b, g, ta, tb, bias)
    out = np.full_like(g, np.nan)
    mm.matmul(a, b, out, ta, tb, bias, c0=c0, alpha=alpha)
    scaled = np.longdouble(c0.dtype.type(alpha)) * g.astype(np.longdouble)
    exact = c0.astype(np.longdouble) + scaled
    bound = np.finfo(c0.dtype).eps * (np.abs(c0) + np.abs(scaled))
    assert not np.isnan(out).any()
    assert np.all(np.abs(out - exact) <= bound), np.max(np.abs(out - exact) - bound)


# (m, n, k): the direct paths (tiny; m, n <= 4), packed with edge tiles, short slivers and a
# padded sliver, several k blocks (k > mm._KC), k == 0.
UPDATE_SHAPES = ((3, 3, 3), (2, 40, 9), (40, 3, 30), (37, 50, 30), (13, 70, 2 * mm._KC + 5),
                 (128, 64, 128), (20, 17, 0))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("m,n,k", UPDATE_SHAPES)
def test_update_epilogue(dtype, m, n, k):
    """out = c0 + alpha * (op(a) @ op(b) + bias) on every path and transpose case, with and
    without a bias, and c0 contiguous, with rows apart (a column slice) or reversed columns
    (copied: the kernel reads its rows as vectors)."""
    rng = np.random.default_rng(m * n + k)
    wide = rng.standard_normal((1, m, 2 * n + 1)).astype(dtype)
    layouts = (rng.standard_normal((1, m, n)).astype(dtype), wide[:, :, 1:n + 1],
               np.ascontiguousarray(wide[:, :, :n][:, :, ::-1])[:, :, ::-1])
    for (ta, tb), bias, c0 in zip(FLAGS * 2, (None,) * 4 + (rng.standard_normal(n),) * 4,
                                  layouts * 3, strict=False):
        a = operand(rng, dtype, 1, m, k, ta)
        b = operand(rng, dtype, 1, k, n, tb)
        check_update(a, b, ta, tb, None if bias is None else bias.astype(dtype), c0, -0.01)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_update_epilogue_with_a_b_shared_by_the_batch(dtype):
    """A B broadcast over the batch is folded into one product (see _fold_shared_b); c0 is
    folded with out."""
    rng = np.random.default_rng(8)
    a = operand(rng, dtype, 3, 20, 30, False)
    b = np.broadcast_to(operand(rng, dtype, 1, 30, 40, False), (3, 30, 40))
    check_update(a, b, False, False, None, rng.standard_normal((3, 20, 40)).astype(dtype), 2.5)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_misaligned_inputs(dtype):
    """Views at an odd byte offset (np.frombuffer) are copied rather than rejected."""
    rng = np.random.default_rng(5)
    m, n, k = 9, 17, 40

    def misaligned(x):
        raw = np.zeros(x.nbytes + 1, np.uint8)
        view = np.frombuffer(raw.data, x.dtype, x.size, offset=1).reshape(x.shape)
        view[...] = x
        return view

    a = misaligned(operand(rng, dtype, 2, m, k, False))
    b = misaligned(operand(rng, dtype, 2, k, n, False))
    bias = misaligned(rng.standard_normal(n).astype(dtype))
    assert not (a.flags.aligned or b.flags.aligned or bias.flags.aligned)
    check(a, b, False, False, bias)


def test_rejects_bad_arguments():
    a = np.ones((1, 2, 3))
    b = np.ones((1, 3, 4))
    with pytest.raises(TypeError):
        mm.matmul(a.astype(np.float32), b, np.empty((1, 2, 4)), False, False)
    with pytest.raises(ValueError):
        mm.matmul(a, b, np.empty((1, 2, 5)), False, False)
    with pytest.raises(ValueError):
        mm.matmul(a, b, np.empty((1, 4, 2)).swapaxes(1, 2), False, False)
    with pytest.raises(ValueError):
        mm.matmul(a, b, np.empty((1, 2, 4)), False, False, np.ones(3))
    with pytest.raises(TypeError):
        mm.matmul(a.astype(np.int64), b.astype(np.int64), np.empty((1, 2, 4), np.int64),
                  False, False)


def test_callable_from_njit():
    kernel = mm.njit_matmul(np.float64)

    @numba.njit
    def caller(a, b, out):
        kernel(a, b, out, False, True, out[0, 0], False, out, out[0, 0, 0], False)

    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 40, 50))
    b = rng.standard_normal((2, 60, 50))
    out = np.full((2, 40, 60), np.nan)
    caller(a, b, out)
    np.testing.assert_allclose(out, a @ b.swapaxes(1, 2), rtol=1e-12, atol=1e-12)


def test_vectoriser_settings_do_not_leak():
    """Compiling the kernels flips numba's vectoriser config only for their own compile."""
    from numba.core import config

    before = config.SLP_VECTORIZE, config.LOOP_VECTORIZE
    for dtype in DTYPES:
        mm.njit_matmul(dtype)
    assert (config.SLP_VECTORIZE, config.LOOP_VECTORIZE) == before

    seen = []

    def compile_elsewhere():
        numba.njit(lambda x: x + 1)(1)
        seen.append((config.SLP_VECTORIZE, config.LOOP_VECTORIZE))

    # A compile in another thread waits on the compiler lock until the settings are restored.
    with mm._vectorising_config():
        thread = threading.Thread(target=compile_elsewhere)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()
    thread.join()
    assert seen == [before]
    assert (config.SLP_VECTORIZE, config.LOOP_VECTORIZE) == before


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ta,tb", FLAGS)
@pytest.mark.parametrize("m,n,k", [(37, 45, 600), (9, 1100, 256), (70, 64, 33)])
def test_a_shared_packed_b_gives_the_same_bits(dtype, ta, tb, m, n, k):
    """Row blocks of a product that read op(b) packed once by pack_shared_b (in parts, as the
    threads of a row split do) give exactly the bits of the whole product in one call: the
    k blocks, hence the order of every sum, are the same. Shapes: a partial tile column and k
    in several blocks (600 > mm._KC); B wider than one panel (1100 > 1024 f64 columns at
    k = 256) read in place by a single call (m <= 8) and from the shared pack here; whole tile
    columns only."""
    rng = np.random.default_rng(m + n + k)
    a = operand(rng, dtype, 1, m, k, ta)
    b = operand(rng, dtype, 1, k, n, tb)
    bias = rng.standard_normal(n).astype(dtype)
    whole = np.empty((1, m, n), dtype)
    mm.matmul(a, b, whole, ta, tb, bias)
    size, columns = mm.shared_b_size(k, n, dtype)
    shared = np.full(size, np.nan, dtype)
    for lo, hi in ((0, columns // 2), (columns // 2, columns)):
        mm.pack_shared_b(b, tb, shared, lo, hi)
    out = np.full((1, m, n), np.nan, dtype)
    for lo, hi in ((0, m // 3), (m // 3, m)):
        mm.matmul(a[:, :, lo:hi] if ta else a[:, lo:hi], b, out[:, lo:hi], ta, tb, bias, shared)
    np.testing.assert_array_equal(out, whole)


def test_a_shared_packed_b_of_another_shape_is_refused():
    a, b = np.ones((1, 5, 6)), np.ones((1, 6, 40))
    size, columns = mm.shared_b_size(6, 40, np.float64)
    with pytest.raises(ValueError, match="shared packed B"):
        mm.pack_shared_b(b, False, np.empty(size - 1), 0, columns)
    with pytest.raises(ValueError, match="shared packed B"):
        mm.pack_shared_b(b, False, np.empty(size), 0, columns + 1)
    shared = np.empty(size)
    mm.pack_shared_b(b, False, shared, 0, columns)
    with pytest.raises(ValueError, match="shared packed B"):
        mm.matmul(a, b, np.empty((1, 5, 40)), False, False, None, shared[:-16])
