"""Memory and long runs: sub-programs compiled once, programs released with their jit
function, retained scratch bounded, one compile per signature across threads, clear_caches,
and many distinct programs compiled in one process."""

import gc
import importlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp

jit_module = importlib.import_module("jitgrad.jit")  # ``jitgrad.jit`` is the function


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def count_compiles(monkeypatch) -> list:
    # Every compile, a top-level program's or a derived sub-program's, ends in
    # compile_optimised (looked up in jit's module at call time).
    compiled: list = []
    original = jit_module.compile_optimised
    monkeypatch.setattr(jit_module, "compile_optimised",
                        lambda ir: compiled.append(ir) or original(ir))
    return compiled


def live_programs() -> int:
    from jitgrad.backend.runtime import Compiled
    gc.collect()
    return sum(type(o) is Compiled for o in gc.get_objects())  # (proxies may be dead)


def pools(jitted) -> list:
    return [entry.fn.__globals__["buffers"] for entry in jitted._entries.values()]


def kept_bytes(pools: list) -> int:
    """Bytes of scratch workspaces and recycled outputs these programs' pools hold now."""
    return sum(sum(a.nbytes for ws in pool._free for a in ws) +
               sum(a.nbytes for ring in pool._rings for a in ring) for pool in pools)


def test_kernel_compiles_after_numbas_block_label_counter_has_grown(tmp_path, monkeypatch):
    """Numba numbers inlined blocks from a process-wide counter that doubled with every
    nested inlined helper; after a few hundred programs the block names passed LLVM's 1024
    characters and every compile failed. Here the counter starts where a long run left it.
    (Loop kernels compiled by Numba: see config.kernel_compiler.)"""
    from numba.core import ir_utils
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))  # a new kernel: compiled here
    monkeypatch.setattr(jg.config, "kernel_compiler", "numba")
    x = np.linspace(0.1, 1.0, 5)
    f = jg.jit(lambda v: jnp.sum(jnp.tanh(v * 1.234567891)))
    ir_utils._the_max_label.update(10 ** 1100)
    try:
        np.testing.assert_allclose(f(x), np.sum(np.tanh(x * 1.234567891)), rtol=1e-14)
        assert ir_utils._the_max_label._value < 10 ** 6
    finally:
        ir_utils._the_max_label = type(ir_utils._the_max_label)()


def test_block_labels_stay_bounded_when_scipy_was_imported_first(tmp_path):
    """Numba starts differently when SciPy's linalg is already imported (as in a notebook):
    the label bound must hold there too. A new process, so that this start-up path runs."""
    code = """if True:
        import scipy.linalg
        import numpy as np
        import jitgrad as jg, jitgrad.numpy as jnp
        from numba.core import ir_utils
        jg.jit(lambda v: v + 1.0)(np.ones(2))
        ir_utils._the_max_label.update(10 ** 1100)
        x = np.linspace(0.1, 1.0, 5)
        out = jg.jit(lambda v: jnp.sum(jnp.sin(v * 1.345678912)))(x)
        np.testing.assert_allclose(out, np.sum(np.sin(x * 1.345678912)), rtol=1e-14)
        """
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]


def test_users_own_numba_functions_still_compile_once_jitgrad_started_numba():
    """jitgrad's listener on Numba's compile events (the block-label bound) read the compiled
    function's ``__module__`` as a string; a function made by ``exec`` without ``__name__``
    in its globals has ``__module__`` None, and every compile of one failed with an
    AttributeError from inside jitgrad."""
    import numba

    jg.jit(lambda v: v + 1.0)(np.ones(2))  # Numba started by jitgrad
    ns: dict = {}
    exec("def user(a):\n    return a * 2.0\n", {}, ns)
    assert ns["user"].__module__ is None
    np.testing.assert_array_equal(numba.njit(ns["user"])(np.ones(3)), np.full(3, 2.0))


def test_eager_transformations_of_jit_compile_each_sub_program_once(monkeypatch):
    compiled = count_compiles(monkeypatch)
    f = jg.jit(lambda v: jnp.sum(jnp.sin(v) * v))
    x = np.linspace(0.1, 1.0, 4)
    for _ in range(4):
        np.testing.assert_allclose(jg.grad(f)(x), np.cos(x) * x + np.sin(x), rtol=1e-14)
    assert len(compiled) == 2  # the forward part and the backward part
    xs = np.stack([x, 2 * x])
    for _ in range(3):
        np.testing.assert_allclose(jg.vmap(f)(xs), np.sum(np.sin(xs) * xs, axis=1), rtol=1e-14)
    assert len(compiled) == 3
    for _ in range(3):
        _, t = jg.jvp(f, (x,), (np.ones(4),))
        np.testing.assert_allclose(t, np.sum(np.cos(x) * x + np.sin(x)), rtol=1e-14)
    assert len(compiled) == 4


def test_eager_grad_of_jit_does_not_grow_memory():
    g = jg.grad(jg.jit(lambda v: jnp.sum(jnp.tanh(v) * v)))
    x = np.linspace(0.1, 1.0, 5)
    for _ in range(200):  # compile, and let the allocator's pools settle
        g(x)
    gc.collect()
    before = rss_mb()
    for _ in range(2000):
        g(x)
    gc.collect()
    assert rss_mb() - before <= 1.0
    t = np.tanh(x)
    np.testing.assert_allclose(g(x), t + x * (1 - t * t), rtol=1e-14)


def test_dropping_a_jit_function_releases_its_programs():
    x = np.linspace(0.1, 1.0, 6)
    before = live_programs()
    f = jg.jit(lambda v: jnp.sum(jnp.sin(v) * v))
    f(x)
    jg.grad(f)(x)
    jg.vmap(f)(np.stack([x, x]))
    assert live_programs() == before + 4  # f, its forward and backward parts, its batch
    del f
    assert live_programs() == before


def test_retained_scratch_is_bounded(monkeypatch):
    monkeypatch.setattr(jg.config, "scratch_mb", 2)
    f = jg.jit(lambda a, b: jnp.sum(jnp.tanh(a @ b), axis=1))  # a @ b is scratch
    rng = np.random.default_rng(0)
    b = rng.standard_normal((16, 256))
    shapes = range(256, 528, 16)  # each program's scratch is 0.5-1 MiB
    for n in shapes:
        a = rng.standard_normal((n, 16))
        for _ in range(2):
            np.testing.assert_allclose(f(a, b), np.sum(np.tanh(a @ b), axis=1), rtol=1e-12,
                                       atol=1e-12)
    assert len(f._entries) == len(shapes)
    assert kept_bytes(pools(f)) <= 2 * 2 ** 20 + 528 * 256 * 8  # the bound, plus the newest program
    a = rng.standard_normal((256, 16))  # a released program allocates again, and keeps it
    for _ in range(2):
        np.testing.assert_allclose(f(a, b), np.sum(np.tanh(a @ b), axis=1), rtol=1e-12,
                                       atol=1e-12)
    entry = f._entries[next(k for k in f._entries if k[2][0][0] == (256, 16))]
    assert kept_bytes(pools(f)) <= 2 * 2 ** 20 + 528 * 256 * 8
    assert len(entry.fn.__globals__["buffers"]._free) == 1


def test_threads_making_the_first_call_compile_once(monkeypatch):
    compiled = count_compiles(monkeypatch)
    f = jg.jit(lambda v: jnp.sum(jnp.cos(v) * 1.5))
    g = jg.grad(jg.jit(lambda v: jnp.sum(jnp.sin(v) * 2.5)))
    x = np.linspace(0.1, 1.0, 7)
    barrier = threading.Barrier(8)
    results: list = [None] * 8

    def call(i: int) -> None:
        barrier.wait()
        results[i] = (f(x), g(x))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert f.trace_count == 1
    assert len(compiled) == 3  # f; g's forward and backward parts
    for value, grad in results:
        np.testing.assert_allclose(value, np.sum(np.cos(x) * 1.5), rtol=1e-14)
        np.testing.assert_allclose(grad, np.cos(x) * 2.5, rtol=1e-14)


def test_clear_caches_forgets_programs_and_releases_scratch():
    from jitgrad.backend import runtime
    f = jg.jit(lambda a, b: jnp.sum(jnp.exp(a @ b)))
    a, b = np.full((64, 8), 0.1), np.full((8, 64), 0.1)
    x = np.linspace(0.1, 1.0, 3)
    np.testing.assert_allclose(f(a, b), np.sum(np.exp(a @ b)), rtol=1e-13)
    np.testing.assert_allclose(jg.grad(jg.jit(jnp.sin))(x[0]), np.cos(x[0]), rtol=1e-14)
    kept = pools(f)
    assert kept_bytes(kept) > 0
    before = live_programs()
    jg.clear_caches()
    assert kept_bytes(kept) == 0 and runtime._retained.nbytes == 0
    assert live_programs() < before
    np.testing.assert_allclose(f(a, b), np.sum(np.exp(a @ b)), rtol=1e-13)
    assert f.trace_count == 2


@pytest.mark.slow  # ~3 CPU minutes: outside the default run (CI's 20 minutes); README
def test_many_distinct_programs_compile_in_one_process(tmp_path):
    """tests/long_run.py: 500 random programs, each value and gradient against numpy, RSS
    bounded, with an empty kernel cache (a new process, so nothing is loaded already)."""
    script = Path(__file__).with_name("long_run.py")
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path), JITGRAD_CHECK_IR="1")
    run = subprocess.run([sys.executable, str(script), "--programs", "500"], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]

