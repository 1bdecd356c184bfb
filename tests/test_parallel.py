"""The thread pool behind split kernels and matmuls (jitgrad/backend/parallel.py): every block
runs once, blocks no worker took run in the caller, workers kept off the caller's CPU,
splitting pauses while no worker helps, errors reach the caller, concurrent callers, a resized
pool and a forked child; matmul calls run by a worker as native jobs (kernels/jobs.py)."""

import contextlib
import functools
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import jitgrad as jg
from jitgrad.backend import parallel

rng = np.random.default_rng(0)


def _hold_the_gil(seconds):
    """Run Python for ``seconds`` (with a long switch interval, no other thread gets the GIL)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@contextlib.contextmanager
def _own_pool():
    """A pool of one worker of its own, while Python's switch interval is 10 s (a thread that
    holds the GIL keeps it, unless it waits)."""
    pool = parallel._Pool(1)
    interval = sys.getswitchinterval()
    try:
        sys.setswitchinterval(10.0)
        time.sleep(0.01)  # (a worker already waiting for the GIL waits out the old interval)
        yield pool
    finally:
        sys.setswitchinterval(interval)
        pool.close()


@pytest.fixture
def threads(monkeypatch):
    # Thresholds lowered so that these small arrays split (the measured ones are larger).
    monkeypatch.setattr(parallel, "MIN_ELEMENTS_TRANSCENDENTAL", 1 << 16)

    def use(n):
        monkeypatch.setattr(jg.config, "threads", n)
        return parallel._executor(n)

    return use


@pytest.mark.parametrize("n", [2, 3])
def test_every_block_runs_once_and_workers_take_them(threads, n):
    pool = threads(n)
    helped = 0
    for k in range(40):  # posts that find the workers spinning, and some that find them asleep
        if k % 10 == 0:
            time.sleep(0.005)
        seen = []
        pool.run([lambda i=i, s=seen: (time.sleep(0.002 * (i == 0)),
                                        s.append((i, threading.get_ident())))
                  for i in range(n)])
        assert sorted(i for i, _ in seen) == list(range(n))
        assert dict(seen)[0] == threading.get_ident()
        helped += any(t != threading.get_ident() for _, t in seen)
    assert helped > 0


def test_the_caller_runs_the_blocks_no_worker_took(threads):
    """A worker that cannot run (here: the caller keeps the GIL) is not waited for."""
    import sys
    pool = threads(2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    time.sleep(0.01)  # a worker already waiting for the GIL waits out the old interval first
    try:
        seen = []
        pool.run([functools.partial(_hold_the_gil, 0.02),
                  lambda: seen.append(threading.get_ident())])
    finally:
        sys.setswitchinterval(interval)
    assert seen == [threading.get_ident()]
    later = []
    pool.run([lambda: time.sleep(0.01), lambda: later.append(1)])  # the worker is still there
    assert later == [1]


two_cpus = pytest.mark.skipif(len(parallel._cpus()) < 2 or parallel._getcpu() < 0,
                              reason="one CPU to run on, or no sched_getcpu")


@two_cpus
def test_workers_are_kept_off_the_callers_cpu(threads, monkeypatch):
    """Each post moves the workers off the CPU the caller runs on (the scheduler would often
    wake them onto it, where the blocks take turns), and only when the caller is on one of
    theirs."""
    pool = threads(3)
    while not all(pool.tids):  # (a new pool's workers are starting)
        time.sleep(0.001)
    pool.masks = [None] * pool.workers  # (as a new pool's: earlier tests' posts moved them)
    cpus = sorted(parallel._cpus())
    calls = []
    monkeypatch.setattr(parallel.os, "sched_setaffinity",
                        lambda tid, mask: calls.append((tid, set(mask))))
    for cpu in (cpus[0], cpus[0], cpus[-1]):
        monkeypatch.setattr(parallel, "_getcpu", lambda c=cpu: c)
        pool.run([lambda: time.sleep(0.001)] * 3)
    first = [(tid, set(cpus) - {cpus[0]}) for tid in pool.tids]
    second = [(tid, set(cpus) - {cpus[-1]}) for tid in pool.tids]
    assert calls == first + second  # (nothing on the second post: already off that CPU)


@two_cpus
def test_worker_affinity_takes_effect(threads):
    """The mask is the worker thread's own (by its native id), the caller's is left alone."""
    pool = threads(2)
    while not all(pool.tids):
        time.sleep(0.001)
    mine = parallel.os.sched_getaffinity(0)
    cpu = parallel._getcpu()
    pool.run([lambda: None, lambda: None])
    assert parallel.os.sched_getaffinity(0) == mine
    assert pool.masks[0] is not None and pool.masks[0] == \
        parallel.os.sched_getaffinity(pool.tids[0])
    assert cpu not in pool.masks[0] or parallel._getcpu() != cpu


def test_splitting_stops_while_no_worker_helps_and_resumes_when_one_does(threads):
    import sys
    pool = threads(2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    time.sleep(0.01)  # (as above)

    hold_the_gil = functools.partial(_hold_the_gil, 0.005)

    try:
        for _ in range(parallel.UNHELPED):
            pool.run([hold_the_gil, lambda: None])
    finally:
        sys.setswitchinterval(interval)
    # The probe (the PROBE-th call), and before it the try that follows a run which had to
    # wake the worker, if the last run here found it asleep (see _Pool._count).
    follow = pool.follow
    pool.asked = 0
    tries = [parallel.helpful(2) for _ in range(parallel.PROBE)]
    assert tries == [follow] + [False] * (parallel.PROBE - 2) + [True]
    taken = threading.Event()
    pool.run([lambda: taken.wait(10), taken.set])  # a worker takes the second block
    assert taken.is_set() and parallel.helpful(2)


def test_a_run_that_had_to_wake_a_worker_is_followed_by_another_try():
    """Splitting has stopped (no worker helped lately) and the PROBE-th call finds the worker
    asleep: woken, it comes too late for that run's block, which says nothing of whether it
    can help, so the next call tries again, and the worker, spinning now, takes its block.
    (Counted as a plain unhelped run, every probe of back-to-back short products found the
    worker asleep again: a 128^3 float32 product never split again, and took 0.85x its
    one-thread time with two threads.)"""
    with _own_pool() as pool:
        pool.unhelped = parallel.UNHELPED
        while not pool.sleeping[0]:  # its spin after the last job ran out
            time.sleep(0.001)
        pool.run([functools.partial(_hold_the_gil, 0.005), lambda: None])
        assert pool.unhelped == parallel.UNHELPED + 1
        pool.asked = 0  # (the next call is not a PROBE-th one)
        assert pool.helps()
        taken = threading.Event()
        pool.run([lambda: taken.wait(10), taken.set])
        assert taken.is_set() and pool.unhelped == 0 and pool.helps()


def test_blocks_cover_the_range_once():
    for n in (1, 2, 7, 1000):
        for parts in (1, 2, 3):
            hits = np.zeros(n, int)
            cut = parallel.blocks(n, parts)
            for lo, hi in cut:
                hits[lo:hi] += 1
            np.testing.assert_array_equal(hits, 1)
            assert len(cut) == min(n, parts)


@pytest.mark.parametrize("failing", [0, 1], ids=["caller", "worker"])
def test_an_error_in_a_block_reaches_the_caller_after_the_blocks_taken(threads, failing):
    pool = threads(2)
    taken = threading.Event()
    finished = []

    def block(i):
        if i == 1:
            taken.set()
        else:
            assert taken.wait(10)  # the worker has the other block
        if i == failing:
            raise ZeroDivisionError(f"block {i}")
        time.sleep(0.01 * i)
        finished.append(i)

    with pytest.raises(ZeroDivisionError, match=f"block {failing}"):
        pool.run([lambda: block(0), lambda: block(1)])
    assert finished == [1 - failing]
    seen = []
    pool.run([lambda: seen.append(0), lambda: seen.append(1)])  # the pool still works
    assert sorted(seen) == [0, 1]


def test_concurrent_callers_and_a_resized_pool(threads):
    """Callers that find the pool taken run their blocks themselves; a new thread count
    replaces the pool and ends the old workers."""
    old = threads(3)
    x = rng.standard_normal((400, 300))
    f = jg.jit(lambda x: jg.numpy.sin(x) * 2.0)
    assert "run_split" in f.lower(x).caller_source
    results = [None] * 6

    def call(i):
        results[i] = f(x + i)

    callers = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    for i, r in enumerate(results):
        np.testing.assert_allclose(r, np.sin(x + i) * 2.0, rtol=1e-14)
    new = threads(2)
    assert new is not old and new.workers == 1
    np.testing.assert_allclose(f(x), np.sin(x) * 2.0, rtol=1e-14)
    for t in old.threads:
        t.join(10)
        assert not t.is_alive()


def _child_sum(queue):
    jg.config.threads = 2
    blocks = [0, 0]

    def block(i):
        blocks[i] += 1

    parallel._executor(2).run([lambda: block(0), lambda: block(1)])
    queue.put(blocks)


def test_a_forked_child_starts_its_own_pool(threads):
    threads(2).run([lambda: None, lambda: None])  # the parent's workers exist
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_sum, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=1) == [1, 1]


def test_products_split_by_their_estimated_time_on_one_thread(monkeypatch):
    """Which products are split: before any timing, from MIN_MATMUL_FLOPS_UNTIMED flops; once
    the kernel was timed, those that would take MIN_MATMUL_SECONDS on one thread at the
    fastest rate seen (a split run counts as a lower bound of one thread's rate); never below
    MIN_MATMUL_FLOPS."""
    monkeypatch.setattr(parallel, "_matmul_rates", {})
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    untimed = parallel.MIN_MATMUL_FLOPS_UNTIMED
    assert parallel.split_matmul(f32, untimed) and not parallel.split_matmul(f32, untimed - 1)
    parallel.timed_matmul(f32, 10**9, 0.01, 1)  # 1e11 flops per second on one thread
    at = round(1e11 * parallel.MIN_MATMUL_SECONDS)
    assert at > parallel.MIN_MATMUL_FLOPS
    assert parallel.split_matmul(f32, at) and not parallel.split_matmul(f32, at - 1)
    assert parallel.split_matmul(f64, untimed)  # rates are per dtype
    parallel.timed_matmul(f32, 10**9, 0.01, 2)  # split over two: at least 5e10 on one thread
    parallel.timed_matmul(f32, 10**9, 0.02, 1)  # an interrupted call: slower than the kernel
    assert parallel.split_matmul(f32, at) and not parallel.split_matmul(f32, at - 1)
    parallel.timed_matmul(f32, 10**9, 0.002, 1)  # faster: later products are split later
    assert not parallel.split_matmul(f32, at) and parallel.split_matmul(f32, 5 * at)
    monkeypatch.setattr(parallel, "_matmul_rates", {f32: 1.0})  # a kernel timed while compiling
    assert not parallel.split_matmul(f32, parallel.MIN_MATMUL_FLOPS - 1)
    assert parallel.split_matmul(f32, parallel.MIN_MATMUL_FLOPS)


def test_a_128_cubed_float32_product_splits_natively_at_the_fastest_rate_timed(monkeypatch):
    """A native row split pays from about 44 us of one-thread time on the AVX2 EPYC (round 16
    of MATMUL_NOTES.md: 128^3 float32 1.23x faster split); 128^3 float32 took 48-50 us there
    in the fastest minutes (86-88 GFLOP/s). Once that rate was timed, the bound of 0.05 ms
    stopped the product splitting for the rest of the process: it must stay below it."""
    f32 = np.dtype(np.float32)
    monkeypatch.setattr(parallel, "_matmul_rates", {})
    parallel.timed_matmul(f32, 2 * 128**3, 2 * 128**3 / 88e9, 1)
    assert parallel.split_matmul(f32, 2 * 128**3, parallel.MIN_NATIVE_SPLIT_SECONDS)
    assert not parallel.split_matmul(f32, 2 * 64 * 128 * 128, parallel.MIN_NATIVE_SPLIT_SECONDS)


def test_two_thread_products_time_themselves(monkeypatch):
    """With two threads run_matmul times each product it runs on jitgrad's kernel (split or
    not) for the split policy; with one thread it times nothing."""
    from jitgrad.backend.runtime import run_matmul
    monkeypatch.setattr(parallel, "_matmul_rates", {})
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    a, b = rng.standard_normal((128, 128)), rng.standard_normal((128, 128))
    out = np.empty((128, 128))
    monkeypatch.setattr(jg.config, "threads", 1)
    run_matmul(a, b, False, False, None, None, None, out)
    assert parallel._matmul_rates == {}
    monkeypatch.setattr(jg.config, "threads", 2)
    run_matmul(a, b, False, False, None, None, None, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
    assert parallel._matmul_rates[np.dtype(np.float64)] > 0


def _product_job(a, b, out, bias=None, c0=None, alpha=1.0):
    from jitgrad.backend.kernels import matmul as mm
    return mm.Job(mm.matmul, a[None], b[None], out[None], False, False, bias,
                  c0=None if c0 is None else c0[None], alpha=alpha)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_worker_runs_a_matmul_call_as_a_native_job(monkeypatch, dtype):
    """A matmul call handed to a worker is run by it without the GIL, from its description
    (the entry's address and the arrays' pointers, shapes and strides): same bits as the call
    made here, with a bias and an update too, while the caller holds the GIL."""
    from jitgrad.backend.kernels import jobs
    a = rng.standard_normal((37, 29)).astype(dtype)
    b = rng.standard_normal((29, 45)).astype(dtype)[:, 3:]  # columns strided
    bias = rng.standard_normal(42).astype(dtype)
    c0 = rng.standard_normal((37, 42)).astype(dtype)
    want = np.empty((37, 42), dtype)
    _product_job(a, b, want, bias=bias, c0=c0, alpha=-0.5)()

    # (long enough for the scheduler to run a worker that shares the caller's core)
    hold_the_gil = functools.partial(_hold_the_gil, 0.02)

    # A pool of its own whose worker spins long after each job, so that the post finds it
    # spinning, not asleep (waking would take the GIL)
    monkeypatch.setattr(parallel, "SPINS", 1 << 16)
    with _own_pool() as pool:
        for _ in range(20):
            got = np.full((37, 42), np.nan, dtype)
            pool.run([lambda: time.sleep(0.001), _product_job(a, b, got, bias=bias, c0=c0,
                                                               alpha=-0.5)])
            np.testing.assert_array_equal(got, want)
            got[...] = np.nan
            pool.run([hold_the_gil, _product_job(a, b, got, bias=bias, c0=c0, alpha=-0.5)])
            np.testing.assert_array_equal(got, want)
            row = pool.jobs[0].copy()
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0  # the worker ran it, though it could not have run Python
    assert row[jobs.KIND] == jobs.PRODUCT and row[jobs.STATUS] == 0


def test_a_worker_goes_on_spinning_after_a_native_job():
    """After a native job a worker waits for the next in its native spin (about 0.2 ms), not
    in Python: splits back to back (a program's products) find it there, and it takes the
    next job even while the caller holds the GIL, also when it had slept before the first."""
    a, b = rng.standard_normal((37, 29)), rng.standard_normal((29, 42))
    want = a @ b

    # (long enough for the scheduler to run a worker that shares the caller's core)
    hold_the_gil = functools.partial(_hold_the_gil, 0.02)

    with _own_pool() as pool:
        for _ in range(20):
            time.sleep(0.002)  # the worker's spin ends: it sleeps
            got = np.empty((37, 42))

            def until_the_worker_is_done():  # (releasing the GIL for the woken worker)
                while pool.done[0] < pool.work[0]:
                    time.sleep(0)

            pool.run([until_the_worker_is_done, _product_job(a, b, got)])  # wakes it
            _hold_the_gil(5e-5)
            pool.run([hold_the_gil, _product_job(a, b, got)])  # finds it spinning
            np.testing.assert_allclose(got, want, rtol=1e-12)
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0


def test_a_native_job_keeps_the_copies_it_points_into(monkeypatch):
    """matmul() copies a c0 whose rows are not contiguous; a native job that points into that
    copy keeps it until the worker is done (freed, a large copy's pages are unmapped: the
    worker read freed memory)."""
    monkeypatch.setattr(parallel, "SPINS", 1 << 16)  # (as above)
    a, b = rng.standard_normal((300, 20)), rng.standard_normal((20, 300))
    c0 = np.asfortranarray(rng.standard_normal((300, 300)))  # 720 KB, columns contiguous
    want = c0 - 0.5 * (a @ b)
    with _own_pool() as pool:
        for _ in range(20):
            got = np.full((300, 300), np.nan)
            block = _product_job(a, b, got, c0=c0, alpha=-0.5)
            pool.run([lambda: time.sleep(0.002), block])
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0
    assert block.kept[4].ctypes.data != c0.ctypes.data  # it ran on a copy


def test_a_native_job_that_raises_raises_in_the_caller(monkeypatch):
    """A kernel call that fails in a worker (its shapes disagree) is run again by the caller,
    which raises the kernel's own error."""
    monkeypatch.setattr(parallel, "SPINS", 1 << 16)  # (as above)
    a, b = np.ones((8, 5)), np.ones((6, 7))
    with _own_pool() as pool:
        for _ in range(20):  # until the worker, not the caller, took it
            with pytest.raises(ValueError, match="matmul"):
                pool.run([lambda: time.sleep(0.002), _product_job(a, b, np.empty((8, 7)))])
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0


def test_a_call_without_a_native_description_runs_in_python(threads):
    """A block that cannot be described as a native job (here: operands of two dtypes, which
    the entry does not take) is called by the worker with the GIL, as any other block: its
    error reaches the caller."""
    from jitgrad.backend.kernels import jobs
    pool = threads(2)
    block = _product_job(np.ones((6, 5), np.float32), np.ones((5, 4)), np.empty((6, 4)))
    assert not block.describe(pool.jobs[0])
    with pytest.raises(TypeError, match="one dtype"):
        pool.run([lambda: time.sleep(0.01), block])
    assert pool.jobs[0, jobs.KIND] == jobs.PYTHON


def _row_split(run, bounds, a, b, out, ta, tb, key, bias=None, c0=None, alpha=1.0):
    """matmul.static_split's split of this product, handed to run (a pool's split_rows)."""
    from jitgrad.backend.kernels import matmul as mm
    return mm.static_split(key, ta, tb, bounds)(run, a, b, out, bias, c0, alpha)


def _row_split_args(dtype, ta=False, tb=False, m=70, k=33, n=45, bias=False, c0=False):
    """Operands of a product for _row_split (3-D, a batch of one), its expected
    result (the same kernel, unsplit) and the output to fill."""
    from jitgrad.backend.kernels import matmul as mm
    a = rng.standard_normal((1, k, m) if ta else (1, m, k)).astype(dtype)
    b = rng.standard_normal((1, n, k) if tb else (1, k, n)).astype(dtype)
    kw = dict(bias=rng.standard_normal(n).astype(dtype) if bias else None,
              c0=rng.standard_normal((1, m, n)).astype(dtype) if c0 else None, alpha=-0.5)
    want = np.empty((1, m, n), dtype)
    mm.matmul(a, b, want, ta, tb, **kw)
    return (a, b, np.full((1, m, n), np.nan, dtype), ta, tb), kw, want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("extra", ["", "bias", "bias+c0"])
def test_a_row_split_runs_every_block_from_one_native_call(monkeypatch, dtype, ta, tb, extra):
    """matmul.static_split: the caller's block and the workers' (as native jobs) from one native
    call: the same bits as the product unsplit, the bias and an update included; the worker
    takes its block while the caller runs its own."""
    from jitgrad.backend.kernels import jobs
    from jitgrad.backend.kernels import matmul as mm
    args, kw, want = _row_split_args(dtype, ta, tb, m=150, k=130, n=120, bias="bias" in extra,
                                     c0="c0" in extra)
    key = mm.static_entry(np.dtype(dtype), 75, 120, 130)
    mm.load(key)
    bounds = np.array([0, 75, 150], np.int64)
    monkeypatch.setattr(parallel, "SPINS", 1 << 16)  # (the worker spins between the tries)
    with _own_pool() as pool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the worker, not the caller, ran its block
            args[2][...] = np.nan
            assert _row_split(pool.split_rows, bounds, *args, key=key, **kw)
            np.testing.assert_array_equal(args[2], want)
            row = pool.jobs[0].copy()
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0
    assert row[jobs.KIND] == jobs.PRODUCT and row[jobs.STATUS] == 0


def test_a_row_split_wakes_a_sleeping_worker(monkeypatch):
    """A worker asleep (its spin after the last job ran out) is woken by a row split, whose
    native post alone would not wake it: the caller runs the block the worker missed, and the
    worker, spinning again, takes the next split's."""
    from jitgrad.backend.kernels import matmul as mm
    args, kw, want = _row_split_args(np.float64, m=150, k=130, n=120)
    key = mm.static_entry(np.dtype(np.float64), 75, 120, 130)
    mm.load(key)
    bounds = np.array([0, 75, 150], np.int64)
    with _own_pool() as pool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            monkeypatch.setattr(parallel, "SPINS", 400)
            while not pool.sleeping[0]:  # the worker's spin ends: it sleeps
                time.sleep(0.001)
            monkeypatch.setattr(parallel, "SPINS", 1 << 16)  # (its next spin, once woken)
            assert _row_split(pool.split_rows, bounds, *args, key=key, **kw)
            np.testing.assert_array_equal(args[2], want)
            while pool.sleeping[0]:  # (woken: it needs the GIL to leave its Python wait)
                time.sleep(0.001)
            args[2][...] = np.nan
            assert _row_split(pool.split_rows, bounds, *args, key=key, **kw)
            np.testing.assert_array_equal(args[2], want)
            if pool.unhelped == 0:
                break
    assert pool.unhelped == 0


def test_a_row_split_whose_kernel_raises_raises_in_the_caller(monkeypatch):
    """A block's kernel that raises (the operands' shapes disagree) makes the caller run the
    whole product again through matmul(), which raises its error."""
    from jitgrad.backend.kernels import matmul as mm
    a, b, out = np.ones((1, 8, 5)), np.ones((1, 6, 7)), np.empty((1, 8, 7))
    key = mm.static_entry(np.dtype(np.float64), 4, 7, 5)
    mm.load(key)
    with _own_pool() as pool, pytest.raises(ValueError, match="matmul"):
        _row_split(pool.split_rows, np.array([0, 4, 8], np.int64), a, b, out, False, False,
                   key=key)


def test_a_row_split_leaves_what_matmul_must_check_to_matmul(threads):
    """Operands the entry does not take as they are (a c0 whose rows are not contiguous, which
    matmul() copies; operands of two dtypes, which Numba refuses) are not split natively."""
    from jitgrad.backend.kernels import matmul as mm
    pool = threads(2)
    args, kw, _ = _row_split_args(np.float64, c0=True)
    key = mm.static_entry(np.dtype(np.float64), 35, 45, 33)
    mm.load(key)
    bounds = np.array([0, 35, 70], np.int64)
    kw["c0"] = np.asfortranarray(kw["c0"][0])[None]
    assert not _row_split(parallel.split_rows, bounds, *args, key=key, **kw)
    assert not _row_split(parallel.split_rows, bounds, args[0].astype(np.float32), *args[1:],
                          key=key)
    assert pool.busy.acquire(blocking=False)  # and the pool was left free
    pool.busy.release()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_products_split_natively_with_threads(threads, monkeypatch, native_splits,
                                                        dtype):
    """A program's product whose B each block can pack runs as a native row split with
    threads (the forward product with its bias, the weight gradient with its SGD update), and
    gives the one-thread program's bits."""
    monkeypatch.setattr(parallel, "_matmul_rates", {np.dtype(dtype): 1.0})  # split them all
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    ran = native_splits
    w, b = rng.standard_normal((130, 120)).astype(dtype), rng.standard_normal(120).astype(dtype)
    x = rng.standard_normal((100, 130)).astype(dtype)

    def step(w, b, x):
        def loss(w, b):
            return jg.numpy.sum(jg.numpy.tanh(x @ w + b) ** 2)
        gw, gb = jg.grad(loss, argnums=(0, 1))(w, b)
        return w - 0.1 * gw, b - 0.1 * gb

    f = jg.jit(step)
    threads(1)
    want = f(w, b, x)
    assert not ran
    threads(2)
    got = f(w, b, x)
    assert ran and all(ran)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, r)


def test_a_product_that_is_not_split_calls_the_kernel_itself(threads, monkeypatch):
    """With threads, a product the pool would split natively but may not now (no worker
    helped lately) runs on the caller's thread straight from its runner, not through
    run_matmul's general path (which cost ≈ 5 µs more per product), with the one-thread
    bits."""
    from jitgrad.backend import runtime
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    monkeypatch.setattr(parallel, "_matmul_rates", {np.dtype(np.float32): 1.0})  # split all
    a, b = (rng.standard_normal((m, 96)).astype(np.float32) for m in (128, 100))
    bias = rng.standard_normal(100).astype(np.float32)
    f = jg.jit(lambda a, b, bias: a @ b.T + bias)
    threads(1)
    want = f(a, b, bias)
    threads(2)
    monkeypatch.setattr(parallel, "helpful", lambda threads: False)
    general = []
    real = runtime.run_matmul
    monkeypatch.setattr(runtime, "run_matmul", lambda *a: general.append(1) or real(*a))
    np.testing.assert_array_equal(f(a, b, bias), want)
    assert not general


def test_the_row_splitter_compiles_after_the_describers(tmp_path):
    """In a process with empty caches the describers (compiled for the entries' argument types
    only, then closed to other types) may come first; the row splitter, which describes slices
    and placeholders of other layouts, still compiles (it did not: a TypingError, which a
    two-thread program raised as a jitgrad bug when its first split came after a general one)."""
    script = ("import numpy as np\n"
              "from jitgrad.backend.kernels import jobs\n"
              "for dtype in (np.float32, np.float64):\n"
              "    jobs.describers(np.dtype(dtype))\n"
              "    jobs.splitter(np.dtype(dtype))\n")
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def test_a_product_splits_by_its_own_timed_rate(threads, monkeypatch, native_splits):
    """A program's product is split or not from its own one-thread time once it was timed,
    not from the fastest rate any product of its dtype was timed at (an impossible one here;
    a large product's, for a small one that runs at a lower rate, kept it whole for good)."""
    monkeypatch.setattr(jg.config, "matmul", "jitgrad")
    monkeypatch.setattr(parallel, "_matmul_rates", {np.dtype(np.float64): 1e15})
    monkeypatch.setattr(parallel, "helpful", lambda threads: threads > 1)
    a, b = rng.standard_normal((200, 150)), rng.standard_normal((150, 120))
    f = jg.jit(lambda a, b: a @ b)
    threads(1)
    want = f(a, b)
    threads(2)
    for _ in range(3):  # (loaded, timed whole, then split)
        np.testing.assert_array_equal(f(a, b), want)
    assert native_splits and all(native_splits)
