"""Compiled matmul (jitgrad's own kernel, and the BLAS switch) against numpy.matmul: all
transpose flags, batch broadcasting, odd sizes, float32/float64, epilogues, gradients."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp

rng = np.random.default_rng(0)

SIZES = [(1, 1, 1), (7, 33, 1), (33, 7, 130), (130, 33, 7), (1, 130, 33)]
OPS = {
    "A@B": lambda a, b: a @ b,
    "A.T@B": lambda a, b: a.T @ b,
    "A@B.T": lambda a, b: a @ b.T,
    "A.T@B.T": lambda a, b: a.T @ b.T,
}


def operands(op, m, k, n, dtype, batch=()):
    ta, tb = op.startswith("A.T"), op.endswith("B.T")
    a = rng.standard_normal(batch + ((k, m) if ta else (m, k))).astype(dtype)
    b = rng.standard_normal(batch + ((n, k) if tb else (k, n))).astype(dtype)
    return a, b


def tol(dtype, k):
    return (3e-5 if dtype == np.float32 else 1e-12) * max(1, k) ** 0.5


@pytest.fixture(params=["jitgrad", "blas"])
def backend(request):
    old = jg.config.matmul
    jg.config.matmul = request.param
    yield request.param
    jg.config.matmul = old


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("m,k,n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_flags_and_odd_sizes(backend, op, m, k, n, dtype):
    a, b = operands(op, m, k, n, dtype)
    f = jg.jit(OPS[op])
    got = f(a, b)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, OPS[op](a, b), rtol=tol(dtype, k), atol=tol(dtype, k))
    ir = jg.make_ir(OPS[op])(a, b)
    assert [e.prim.name for e in ir.eqns] == ["matmul"]  # transposes folded into flags


@pytest.mark.parametrize("sa,sb", [((3, 4, 5), (3, 5, 2)), ((2, 1, 4, 5), (3, 5, 6)),
                                   ((4, 5), (2, 3, 5, 6)), ((5,), (2, 5, 3)), ((2, 4, 5), (5,)),
                                   ((0, 4, 5), (5, 2)), ((2, 0, 5), (5, 3))])
def test_batch_broadcasting(backend, sa, sb):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_allclose(jg.jit(jnp.matmul)(a, b), np.matmul(a, b), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("layout", ["strided", "reversed", "fortran"])
def test_non_contiguous_operands(backend, layout):
    a, b = rng.standard_normal((6, 8)), rng.standard_normal((8, 5))
    view = {"strided": lambda x: np.repeat(x, 2, axis=1)[:, ::2],
            "reversed": lambda x: np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1],
            "fortran": np.asfortranarray}[layout]
    np.testing.assert_allclose(jg.jit(jnp.matmul)(view(a), view(b)), a @ b, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_tanh_epilogue_and_gradients(backend, dtype):
    x = rng.standard_normal((9, 7)).astype(dtype)
    w = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)

    def layer(w, b, x):
        return jnp.sum(jnp.tanh(x @ w + b) ** 2)

    lowered = jg.jit(layer).lower(w, b, x)
    from jitgrad.backend.fuse import MatmulStep
    mm = [s for s in lowered.steps if isinstance(s, MatmulStep)]
    assert mm and mm[0].bias is not None
    t = tol(dtype, 7) * 10
    np.testing.assert_allclose(jg.jit(layer)(w, b, x), layer(w, b, x), rtol=t)
    for g, r in zip(jg.jit(jg.grad(layer, argnums=(0, 1, 2)))(w, b, x),
                    jg.grad(layer, argnums=(0, 1, 2))(w, b, x), strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, rtol=t, atol=t)


def test_auto_policy_keeps_off_openblas_with_jitgrad_threads(monkeypatch):
    """Large narrow products go to numpy's BLAS single-threaded, but not while jitgrad's own
    pool runs: OpenBLAS's threads spin after each call and took the pool's core (the mnist
    step's 2-thread time 9.2 ms with them, 5.3-6.9 ms without)."""
    from jitgrad.core import config
    narrow = (np.dtype(np.float32), 32, 10, 12544)  # a CNN's dense head
    monkeypatch.setattr(config, "matmul", "auto")
    monkeypatch.setattr(config, "threads", 1)
    assert config.use_blas(*narrow)
    monkeypatch.setattr(config, "threads", 2)
    assert not config.use_blas(*narrow)
    assert config.use_blas(np.dtype(np.int64), 128, 10, 256)  # integers: numpy always


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auto_policy_keeps_a_layers_small_narrow_products_on_the_kernel(monkeypatch, dtype):
    """A network's width-10 output layer (its product and both gradient products) runs on
    jitgrad's kernel: inside a program BLAS's first call of such a product ran at 0.4x the
    speed of the call repeated, and the steps with them on the kernel were 2 % faster. Tiny
    products and large narrow ones stay on BLAS."""
    from jitgrad.core import config
    dtype = np.dtype(dtype)
    monkeypatch.setattr(config, "matmul", "auto")
    monkeypatch.setattr(config, "threads", 1)
    for hidden in (256, 1024):  # (m, n, k) of h @ W, g @ W.T and h.T @ g
        for m, n, k in ((128, 10, hidden), (128, hidden, 10), (hidden, 10, 128)):
            assert not config.use_blas(dtype, m, n, k)
    assert config.use_blas(dtype, 32, 8, 12544)  # narrow in both dtypes
    assert config.use_blas(dtype, 12544, 8, 32)
    assert config.use_blas(dtype, 16, 16, 16)
    assert config.use_blas(dtype, 8, 8, 8, batch=4)


def test_products_run_on_blas_while_the_matmul_kernel_is_deferred(monkeypatch):
    """In a process where jitgrad's matmul kernel is not loaded yet and its compile has gone
    to the background (tiered execution), a compiled program's product is numpy's own, and
    jitgrad's kernel takes over once it is loaded, with no new trace or compile."""
    from jitgrad.backend import runtime
    from jitgrad.backend.kernels import matmul as mm

    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((72, 80)), rng.standard_normal((80, 96))
    f = jg.jit(lambda a, b: (a @ b) * 2.0)
    expected = (a @ b) * 2.0
    np.testing.assert_allclose(f(a, b), expected, rtol=1e-13)  # compiled, kernel loaded
    key = mm.entry(a[None], b[None], np.empty((1, 72, 96)), False)
    asked = []
    monkeypatch.setattr(runtime, "defer_matmul_kernel", lambda k: asked.append(k) or True)
    monkeypatch.setattr(mm, "_kernels", {})  # as in a process that has not loaded it yet
    np.testing.assert_array_equal(f(a, b), np.matmul(a, b) * 2.0)  # BLAS's, bit for bit
    assert asked == [key]
    mm.load(key)  # what the background compile does when it is done
    asked.clear()
    np.testing.assert_allclose(f(a, b), expected, rtol=1e-13)
    assert asked == [] and mm.ready(key) and f.trace_count == 1


def test_a_compiled_product_follows_the_configuration_between_calls(monkeypatch):
    """A program's product works out BLAS or jitgrad's kernel once per configuration, not once
    per program: switching config.matmul between calls of one compiled program switches it
    (bit for bit each one's product), and an argument the kernel's signature refuses (a
    misaligned view) still gets jitgrad's product, from aligned copies."""
    from jitgrad.backend.kernels import matmul as mm

    rng = np.random.default_rng(5)
    a = rng.standard_normal((64, 300)).astype(np.float32)
    b = rng.standard_normal((300, 48)).astype(np.float32)
    bias = rng.standard_normal(48).astype(np.float32)
    ours = np.empty((1, 64, 48), np.float32)
    mm.matmul(a[None], b[None], ours, False, False, bias)
    blas = np.matmul(a, b) + bias
    assert not np.array_equal(ours[0], blas)  # the two round differently here
    f = jg.jit(lambda a, b, c: a @ b + c)
    for mode, want in [("jitgrad", ours[0]), ("blas", blas), ("jitgrad", ours[0])]:
        monkeypatch.setattr(jg.config, "matmul", mode)
        np.testing.assert_array_equal(f(a, b, bias), want)
    misaligned = np.empty(a.nbytes + 1, np.uint8)[1:].view(np.float32).reshape(a.shape)
    misaligned[...] = a
    assert not misaligned.flags.aligned
    np.testing.assert_array_equal(f(misaligned, b, bias), ours[0])
    assert f.trace_count == 1


@pytest.mark.parametrize("op", list(OPS))
def test_a_product_of_matrices_calls_its_kernel_entry_directly(monkeypatch, op):
    """A product of 2-D operands runs through matmul.static_call, made once per program's
    product when its entry is loaded: bit for bit matmul()'s result with each transpose flag,
    with and without a bias, and with an update whose c0 is C- or Fortran-ordered (rows not
    contiguous: matmul() copies it)."""
    from jitgrad.backend.kernels import matmul as mm

    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    made = []
    static_call = mm.static_call
    monkeypatch.setattr(mm, "static_call", lambda *args: made.append(args) or static_call(*args))
    ta, tb = op.startswith("A.T"), op.endswith("B.T")
    a, b = operands(op, 40, 70, 24, np.float32)
    bias = rng.standard_normal(24).astype(np.float32)
    w = rng.standard_normal((40, 24)).astype(np.float32)
    mm.load(mm.static_entry(np.float32, 40, 24, 70))
    cases = [(OPS[op], (a, b), {}),
             (lambda a, b, c: OPS[op](a, b) + c, (a, b, bias), {"bias": bias}),
             (lambda a, b, w: w - 0.5 * OPS[op](a, b), (a, b, w),
              {"c0": w[None], "alpha": -0.5}),
             (lambda a, b, w: w - 0.5 * OPS[op](a, b), (a, b, np.asfortranarray(w)),
              {"c0": w[None], "alpha": -0.5})]
    for fn, args, kw in cases:
        want = np.empty((1, 40, 24), np.float32)
        mm.matmul(a[None], b[None], want, ta, tb, **kw)
        f = jg.jit(fn)
        made.clear()
        for _ in range(2):
            np.testing.assert_array_equal(f(*args), want[0])
        assert [args[1:] for args in made] == [(ta, tb)]
        assert [e.prim.name for e in jg.make_ir(fn)(*args).eqns][0] == "matmul"


def test_integer_matmul_uses_numpy():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(jg.jit(jnp.matmul)(a, b), a @ b)


@pytest.fixture
def split_extents(monkeypatch):
    """Two threads, jitgrad's kernel; the extents that run_matmul and a native row split
    ask parallel.blocks to split (split loop kernels ask too)."""
    import sys

    from jitgrad.backend import parallel
    extents = []
    blocks = parallel.blocks

    def spy(n, parts):
        if sys._getframe(1).f_code.co_name in ("run_matmul", "split_plan"):
            extents.append(n)
        return blocks(n, parts)

    monkeypatch.setattr(parallel, "blocks", spy)
    monkeypatch.setattr(parallel, "helpful", lambda threads: threads > 1)  # split every time,
    monkeypatch.setattr(parallel, "split_matmul", lambda *product: True)  # every product
    monkeypatch.setattr(jg.config, "threads", 2)
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    return extents


@pytest.mark.parametrize("b_batch", [(3,), ()], ids=["batched_b", "shared_b"])
def test_two_threads_split_batches_into_whole_products(split_extents, b_batch):
    """With two threads a batch of large products is split into whole products (so no B is
    packed on both threads); a B shared by the batch is folded within each thread's part."""
    a = rng.standard_normal((3, 180, 170))
    b = rng.standard_normal(b_batch + (170, 190))
    c = rng.standard_normal(190)
    got = jg.jit(lambda a, b, c: a @ b + c)(a, b, c)
    assert split_extents == [3]
    np.testing.assert_allclose(got, a @ b + c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["A@B", "A@B.T"])
def test_two_threads_split_wide_products_by_columns(split_extents, op):
    """A product whose B is much larger than its A and too few rows for each of two row
    blocks to pack all of B is split into column blocks, each computed into a buffer of its
    own with its part of the bias."""
    from jitgrad.backend.kernels import matmul as mm
    m, k, n = 40, 300, 1100
    assert mm.split_columns(m, n, k, 8, 2) and not mm.rows_each_packing_b(m, n, k, 8, 2)
    a, b = operands(op, m, k, n, np.float64)
    c = rng.standard_normal(n)
    got = jg.jit(lambda a, b, c: OPS[op](a, b) + c)(a, b, c)
    assert split_extents == [n]
    np.testing.assert_allclose(got, OPS[op](a, b) + c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["A@B", "A.T@B", "A@B.T", "A.T@B.T"])
def test_two_threads_split_tall_products_by_rows_sharing_one_packed_b(split_extents,
                                                                      monkeypatch, op):
    """A product split by rows outside the native split (run_matmul: here because the native
    split is refused, as while another caller holds the pool) packs op(b) once, each thread a
    block of its tile columns, and both row blocks read that pack: the result is bit for bit
    the one-thread kernel's."""
    from jitgrad.backend.kernels import matmul as mm
    monkeypatch.setattr(mm, "static_split", lambda *made: lambda *a, **kw: False)
    m, k, n = 400, 150, 300
    assert not mm.split_columns(m, n, k, 8, 2) and not mm.small_b(k, n, 8)
    a, b = operands(op, m, k, n, np.float64)
    c = rng.standard_normal(n)
    f = jg.jit(lambda a, b, c: OPS[op](a, b) + c)
    got = f(a, b, c)
    assert split_extents[-2:] == [mm.shared_b_size(k, n, np.float64)[1], m]
    np.testing.assert_allclose(got, OPS[op](a, b) + c, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(jg.config, "threads", 1)
    np.testing.assert_array_equal(got, f(a, b, c))


@pytest.mark.parametrize("op", ["A@B", "A@B.T"])
def test_two_threads_split_products_with_a_small_b_by_rows_each_packing_all_of_it(
        split_extents, monkeypatch, op):
    """When op(b) is small, each row block packs all of it (no pack shared between the
    threads, which would take a hand-off of its own), even where column blocks would read
    less of B: they would be computed aside and copied."""
    import jitgrad.tiered
    from jitgrad.backend import runtime
    from jitgrad.backend.kernels import matmul as mm
    m, k, n = 128, 128, 128
    assert mm.small_b(k, n, 8) and mm.split_columns(m, n, k, 8, 2)
    # The product's own entry loaded (the test alone, or first in its process, found it not
    # loaded and asked for it to be deferred: only the shared-B entries are in question).
    mm.load(mm.static_entry(np.float64, m, n, k))
    ready = mm.ready
    monkeypatch.setattr(mm, "ready", lambda key: key[1] in (True, False) and ready(key))
    asked = []
    for module in (runtime, jitgrad.tiered):  # (as in the test below)
        monkeypatch.setattr(module, "defer_matmul_kernel", lambda key: asked.append(key))
    a, b = operands(op, m, k, n, np.float64)
    f = jg.jit(lambda a, b: OPS[op](a, b))
    got = f(a, b)
    assert split_extents == [m]
    assert asked == []  # the shared-B entries are not needed, nor compiled
    np.testing.assert_allclose(got, OPS[op](a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["A@B", "A.T@B.T"])
def test_two_threads_split_products_with_enough_rows_natively_each_block_packing_b(
        split_extents, monkeypatch, native_splits, op):
    """A product with a large B but enough rows for each block (a layer's forward product at
    batch 400) is split by rows from one native call, each block packing all of B (faster
    than sharing one pack or splitting the columns, MATMUL_NOTES round 14): bit for bit the
    one-thread kernel's."""
    from jitgrad.backend.kernels import matmul as mm
    ran = native_splits
    m, k, n = 400, 150, 300
    assert not mm.small_b(k, n, 8) and mm.rows_each_packing_b(m, n, k, 8, 2)
    a, b = operands(op, m, k, n, np.float64)
    f = jg.jit(lambda a, b: OPS[op](a, b))
    f(a, b)  # (a kernel entry not loaded yet is loaded by run_matmul)
    split_extents.clear(), ran.clear()
    got = f(a, b)
    assert split_extents == [] and ran == [True]  # (the row bounds were worked out before)
    monkeypatch.setattr(jg.config, "threads", 1)
    np.testing.assert_array_equal(got, f(a, b))


@pytest.mark.parametrize("op", ["A@B", "A.T@B.T"])
def test_a_native_row_split_is_made_once_per_thread_count(split_extents, monkeypatch,
                                                          native_splits, op):
    """A program's product split natively by rows makes its split (matmul.static_split: the
    blocks' entry, its address, the flags, the row bounds) once per thread count, not per
    call; every call then runs it: bit for bit the one-thread kernel's, with a bias and with
    an update. A c0 whose rows are not contiguous is refused there (matmul() copies it) and
    the product runs another way, with the same bits."""
    from jitgrad.backend.kernels import matmul as mm
    m, k, n = 96, 40, 50
    assert mm.small_b(k, n, 4)
    a, b = operands(op, m, k, n, np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    w = rng.standard_normal((m, n)).astype(np.float32)
    ta, tb = op.startswith("A.T"), op.endswith("B.T")
    cases = [(lambda a, b, c: OPS[op](a, b) + c, (a, b, bias), True),
             (lambda a, b, w: w - 0.5 * OPS[op](a, b), (a, b, w), True),
             (lambda a, b, w: w - 0.5 * OPS[op](a, b), (a, b, np.asfortranarray(w)), False)]
    for fn, args, native in cases:
        f = jg.jit(fn)
        monkeypatch.setattr(jg.config, "threads", 1)
        want = f(*args)
        monkeypatch.setattr(jg.config, "threads", 2)
        native_splits.made.clear(), native_splits.clear()
        for _ in range(3):
            np.testing.assert_array_equal(f(*args), want)
        assert native_splits.made == [(ta, tb)] and native_splits == [native] * 3


def test_two_threads_split_by_rows_while_the_shared_b_kernels_compile(split_extents,
                                                                        monkeypatch):
    """While the shared-B kernel entries are compiling in the background (deferred), a row
    split outside the native split (refused here) packs B on each thread: same bits, and no
    compile waited for."""
    from jitgrad.backend import runtime
    from jitgrad.backend.kernels import matmul as mm
    monkeypatch.setattr(mm, "ready", lambda key: key[1] in (True, False))
    monkeypatch.setattr(mm, "static_split", lambda *made: lambda *a, **kw: False)
    asked = []
    import jitgrad.tiered

    def defer(key):
        asked.append(key)
        return True

    # (jit points runtime's at tiered's when it compiles)
    for module in (runtime, jitgrad.tiered):
        monkeypatch.setattr(module, "defer_matmul_kernel", defer)
    m, k, n = 400, 150, 300
    a, b = operands("A@B", m, k, n, np.float64)
    f = jg.jit(lambda a, b: a @ b)
    got = f(a, b)
    assert split_extents[-1] == m
    assert sorted(key[1] for key in asked) == ["pack", "shared"]
    monkeypatch.setattr(jg.config, "threads", 1)
    np.testing.assert_array_equal(got, f(a, b))


def _updates(f, *args):
    """The update epilogues (c0, scale, negate) of f's compiled products."""
    from jitgrad.backend.fuse import MatmulStep
    return [(s.c0, s.scale, s.negate) for s in jg.jit(f).lower(*args).steps
            if isinstance(s, MatmulStep) and s.c0 is not None]


UPDATES = {  # name: (f(w, x, g, lr, c), fused)
    "w - 0.01 * (x.T @ g)": (lambda w, x, g, lr, c: w - 0.01 * (x.T @ g), True),
    "w + (x.T @ g) * 0.5": (lambda w, x, g, lr, c: w + (x.T @ g) * 0.5, True),
    "w - x.T @ g": (lambda w, x, g, lr, c: w - x.T @ g, True),
    "x.T @ g + w": (lambda w, x, g, lr, c: x.T @ g + w, True),
    "w - lr * (x.T @ g), lr traced": (lambda w, x, g, lr, c: w - lr * (x.T @ g), True),
    "w - 0.1 * (x.T @ g + c)": (lambda w, x, g, lr, c: w - 0.1 * (x.T @ g + c), True),
    "x.T @ g - w": (lambda w, x, g, lr, c: x.T @ g - w, False),
    "w - c * (x.T @ g), c a row": (lambda w, x, g, lr, c: w - c * (x.T @ g), False),
    "c - 0.01 * (x.T @ g), c broadcast": (lambda w, x, g, lr, c: c - 0.01 * (x.T @ g), False),
    "gradient returned too": (lambda w, x, g, lr, c: (w - 0.01 * (x.T @ g), x.T @ g), False),
    "product read twice": (lambda w, x, g, lr, c: (w - 0.01 * (p := x.T @ g)) * p, False),
    "momentum's 0.9 * w + x.T @ g": (lambda w, x, g, lr, c: 0.9 * w + x.T @ g, False),
    "c0 returned too": (lambda w, x, g, lr, c: ((v := 2.0 * w) - 0.01 * (x.T @ g), v), True),
}


@pytest.mark.parametrize("name", list(UPDATES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_update_of_a_product_is_its_epilogue(backend, name, dtype):
    """``w - lr * (x.T @ g)`` (an SGD step) and its kin are computed by the product's kernel,
    which stores the update in place of the product, when nothing else reads the product; the
    other forms are not (each case says which), and every one computes numpy's values."""
    f, fused = UPDATES[name]
    w = rng.standard_normal((40, 30)).astype(dtype)
    x = rng.standard_normal((50, 40)).astype(dtype)
    g = rng.standard_normal((50, 30)).astype(dtype)
    lr, c = np.asarray(0.05, dtype), rng.standard_normal(30).astype(dtype)
    args = (w, x, g, lr, c)
    assert bool(_updates(f, *args)) == fused
    t = tol(dtype, 50) * 10
    for got, want in zip(jg.tree_util.tree_leaves(jg.jit(f)(*args)),
                         jg.tree_util.tree_leaves(f(*args)), strict=True):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=t, atol=t)


def test_no_update_epilogue_under_precise_math_or_for_integers(monkeypatch):
    """Under precise_math the update stays a loop kernel (whose arithmetic that setting
    governs); integer products are numpy's."""
    f = UPDATES["w - 0.01 * (x.T @ g)"][0]
    ints = [np.arange(12).reshape(4, 3), np.arange(8).reshape(2, 4), np.arange(6).reshape(2, 3)]
    assert not _updates(lambda w, x, g: w - 2 * (x.T @ g), *ints)
    np.testing.assert_array_equal(jg.jit(lambda w, x, g: w - 2 * (x.T @ g))(*ints),
                                  ints[0] - 2 * (ints[1].T @ ints[2]))
    args = (rng.standard_normal((4, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 3)),
            None, None)
    assert _updates(f, *args)
    monkeypatch.setattr(jg.config, "precise_math", True)
    assert not _updates(f, *args)


def test_sgd_step_fuses_every_weight_update(backend):
    """A training step of a dense network: each weight's update is its gradient product's
    epilogue (the biases' updates are loop kernels), and the step matches numpy's."""
    sizes = [12, 20, 9, 4]
    ws = [rng.standard_normal((m, n)) * 0.3 for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.standard_normal(n) * 0.1 for n in sizes[1:]]
    x, y = rng.standard_normal((16, 12)), rng.standard_normal((16, 4))

    def loss(params, x, y):
        for w, b in params[:-1]:
            x = jnp.tanh(x @ w + b)
        w, b = params[-1]
        return jnp.mean((x @ w + b - y) ** 2)

    def step(params, x, y):
        grads = jg.grad(loss)(params, x, y)
        return [(w - 0.1 * gw, b - 0.1 * gb)
                for (w, b), (gw, gb) in zip(params, grads, strict=True)]

    params = list(zip(ws, bs, strict=True))
    from jitgrad.backend.fuse import MatmulStep
    lowered = jg.jit(step).lower(params, x, y)
    updated = {s.c0 for s in lowered.steps if isinstance(s, MatmulStep) and s.c0 is not None}
    assert updated == set(lowered.ir.invars[0:6:2])  # the weights, not the biases
    for got, want in zip(jg.tree_util.tree_leaves(jg.jit(step)(params, x, y)),
                         jg.tree_util.tree_leaves(step(params, x, y)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", ["rows", "columns", "batch"])
def test_two_threads_split_a_product_with_its_update(split_extents, shape):
    """Each thread's block of a split product applies the update to its part (rows, columns
    or whole products of a batch), reading its part of c0."""
    m, k, n = {"rows": (400, 150, 100), "columns": (40, 300, 1100), "batch": (60, 70, 80)}[shape]
    batch = (3,) if shape == "batch" else ()
    a, b = operands("A@B", m, k, n, np.float64, batch)
    w = rng.standard_normal(batch + (m, n))
    f = jg.jit(lambda w, a, b: w - 0.25 * (a @ b))
    assert _updates(lambda w, a, b: w - 0.25 * (a @ b), w, a, b)
    np.testing.assert_allclose(f(w, a, b), w - 0.25 * (a @ b), rtol=1e-12, atol=1e-12)
    assert split_extents[-1] == {"rows": m, "columns": n, "batch": 3}[shape]


def test_independent_products_run_side_by_side(monkeypatch):
    """Two products in a row, neither reading the other's result (a layer's gradient
    products), run at once on two threads, each whole, when neither is split by itself and
    neither is on BLAS: each result bit for bit the one-thread kernel's. A product that reads
    the other's result, or products too small for a hand-off, are not paired."""
    from jitgrad.backend import parallel
    x, w, g = (rng.standard_normal(s).astype(np.float32)
               for s in ((64, 128), (128, 128), (64, 128)))

    def grads(x, w, g):
        return g @ w.T, w - 0.5 * (x.T @ g)

    f = jg.jit(grads)
    assert "P0((" in f.lower(x, w, g).caller_source
    assert "P0((" not in jg.jit(lambda x, w, g: (x @ w) @ w).lower(x, w, g).caller_source
    small = [a[:16, :16] for a in (x, w, g)]
    assert "P0((" not in jg.jit(grads).lower(*small).caller_source
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    want = f(x, w, g)
    runs = []

    def spy(calls):
        runs.append(len(calls))
        for call in calls:
            call()

    monkeypatch.setattr(parallel, "run_blocks", spy)
    monkeypatch.setattr(parallel, "helpful", lambda threads: threads > 1)
    monkeypatch.setattr(parallel, "split_matmul", lambda *product: False)
    monkeypatch.setattr(jg.config, "threads", 2)
    for got, ref in zip(f(x, w, g), want, strict=True):
        np.testing.assert_array_equal(got, ref)
    assert runs == [2]
    monkeypatch.setattr(jg.config, "matmul", "blas")  # BLAS threads its own products
    f(x, w, g)
    assert runs == [2]


def test_a_product_not_split_with_two_threads_is_timed_and_unchanged(monkeypatch):
    """With two threads, a product too small to split runs the kernel as with one thread (bit
    for bit) and is timed for the split decisions (its rate bounds later products' times)."""
    from jitgrad.backend import parallel
    a = rng.standard_normal((64, 300)).astype(np.float32)
    b = rng.standard_normal((300, 48)).astype(np.float32)
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    f = jg.jit(lambda a, b: a @ b)
    want = f(a, b)
    timed = []
    monkeypatch.setattr(parallel, "timed_matmul", lambda *args: timed.append(args) or 1e9)
    monkeypatch.setattr(parallel, "split_matmul", lambda *product: False)
    monkeypatch.setattr(jg.config, "threads", 2)
    np.testing.assert_array_equal(f(a, b), want)
    assert timed == [(np.dtype(np.float32), 2 * 64 * 300 * 48, timed[0][2], 1)]
