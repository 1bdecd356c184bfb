"""Multi-threaded execution without a Numba threading layer: kernels release the GIL, so a
large loop kernel (or matmul) is split along its outermost loop into blocks that a small pool
of Python threads runs at once. Between blocks a worker reads a flag without the GIL for up to
about 0.2 ms (the next split kernel of a program usually comes sooner), yielding its core
between reads, then sleeps; a matmul call it is handed runs right there, as a native job
without the GIL (kernels/jobs.py; a product split by rows is posted, run and waited for from
one native call, jobs.split_rows); the caller runs the blocks no worker has taken in time.
Workers are kept off the CPU their caller runs on (their affinity), which the scheduler would
otherwise often wake them onto. Any number of Python threads may call compiled programs
concurrently."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.backend.fuse import LoopKernel
from jitgrad.core import config

# Work below which splitting does not pay: a hand-off to the pool costs 5-30 us (waking the
# worker, the GIL passing between the threads), more when the worker slept. Measured on the
# project's machine (2 cores, idle; one thread against a forced split over two, medians):
# a loop of cheap arithmetic is memory-bound and gained nothing from a second thread at any
# size (a - 0.01*b over 2^18, 2^20, 2^22 float32: 34 / 37, 110 / 113, 851 / 972 us), so it
# is split only beyond any cache; tanh lost up to 2^18 elements (63 / 96 us at 2^17, 125 /
# 147 at 2^18) and gained at 2^20 (502 / 288).
MIN_ELEMENTS = 1 << 23
MIN_ELEMENTS_TRANSCENDENTAL = 1 << 19
# A product is split when one thread would take MIN_MATMUL_SECONDS or more: what pays is a
# time, not a size, since the kernel's speed differs ~6x between machines. Measured, one
# thread against a split over two (medians): on an AVX-512 Zen 5, 87 us on one thread lost
# (87 / 94 us, 2*128*256*256 flops) and 287 us gained (287 / 228, 2*128*784*256); on an AVX2
# EPYC at 2 GHz, 142 us lost (142 / 216, 128^3 f32), 267 us broke even (267 / 281, 128^3
# f64) and 507 us gained (507 / 385, 128x256x256 f32). Since a worker runs its half as a
# native job (kernels/jobs.py), on a Zen 3 EPYC (one thread ÷ two, interleaved in one process):
# 57 us lost (0.66-0.75, 128^3 f32), 110 us lost (0.88-0.94, 128x256x128), 230 us gained
# (1.15-1.23, 128x256x256, all three transpose cases of the MLP's products). A product's
# one-thread time is estimated from the fastest rate this process has timed it at, where a
# program's product runner has timed it, or else the fastest rate of any product of that dtype
# (``timed_matmul``); before the first timing, products of MIN_MATMUL_FLOPS_UNTIMED flops and
# up are split. Never below MIN_MATMUL_FLOPS, whatever the rate.
MIN_MATMUL_SECONDS = 1.5e-4
# A row split run from one native call (matmul.static_split, each row block packing all of B)
# costs less: 128^3 float32, ≈ 60-100 us on one thread, ran 1.24-1.28x faster split
# (0.71-0.74x by the general path), 80 x 128 x 128 (60 us) 0.96x and 64 x 128 x 128 (46 us)
# 0.87x (Zen 3 EPYC, interleaved in one process, MATMUL_NOTES.md round 14). Since a run that
# woke a worker is followed by another try (round 15): 64 x 128 x 128 f32 (32 us) 0.92x,
# 96 x 128 x 128 (44 us) 1.02x, 112 x 128 x 128 (49 us) 1.18x, 128^3 (54 us) 1.23x; and
# 128^3 float32, 48-50 us on one thread in this machine's fast minutes, must not fall below
# the bound then (at 0.05 ms, once the fastest rate was timed it never split again: round 16).
MIN_NATIVE_SPLIT_SECONDS = 4.5e-5
MIN_MATMUL_FLOPS = 1 << 21
MIN_MATMUL_FLOPS_UNTIMED = 2 * 128 * 512 * 256
_matmul_rates: dict[np.dtype, float] = {}  # dtype -> flops per second (a lower bound)

# Rounds of reads of a flag and a yield of the core (spin.spin_until; 0.5 us each on the Zen 5,
# 2.6-3.8 us on the Zen 3 EPYC, where the yield's system call costs more) before a waiting
# thread sleeps: waking a sleeping thread took 15-90 us on the project's (virtual) machine.
# (A first product after a pause runs up to 1.6x slower there whether the worker slept or
# spun through the pause, 1 ms, 73 ms or 0.76 s: OpenBLAS's too; MATMUL_NOTES round 17.)
# GRACE: see _Pool._wait.
SPINS = 400
GRACE = 8
# See _Pool.helps: a split costs 5-15 % even when the caller ends up running every block.
UNHELPED = 4
PROBE = 16


class _Pool:
    """``workers`` threads that take blocks of the caller's work; the caller runs the first
    block itself, then every block no worker has taken yet (so a worker without a core of its
    own, on a busy machine, costs a hand-off rather than the wait for it), then waits for the
    blocks taken. Flags are sequence numbers in int64 arrays: ``posted`` (the last work posted
    to a worker), ``claims`` (the last taken from it, by it or by the caller: an atomic
    compare-and-swap, so exactly one of them runs a block) and ``done`` (the last it
    finished). A worker waits in native code (jobs.serve), and a block that can be described
    as a native job (a matmul kernel call, matmul.Job) runs there too, without the GIL; any
    other block is returned to the worker's Python loop, which calls it."""

    def __init__(self, workers: int):
        from jitgrad.backend import spin
        from jitgrad.backend.kernels import jobs
        self.spin_until, self.claim, self.serve = spin.spin_until, spin.claim, jobs.serve
        self.publish = spin.publish
        self.python, self.kind, self.status = jobs.PYTHON, jobs.KIND, jobs.STATUS
        self.helped_bit = jobs.HELPED
        self.workers = workers
        self.posted = np.zeros(workers, np.int64)
        self.claims = np.zeros(workers, np.int64)
        self.done = np.zeros(workers, np.int64)
        self.jobs = np.zeros((workers, jobs.WORDS), np.int64)
        self.mine = np.zeros(jobs.WORDS, np.int64)  # the caller's block of split_rows
        self.never = np.zeros(1, np.int64)  # a flag that stays 0
        # compiled (or loaded) before a worker needs them
        self.spin_until(self.never, 0, 0, 0)
        self.claim(self.never, 0, 0)
        self.publish(self.never, 0, 0)
        if workers:
            self.serve(self.posted, self.claims, self.done, self.jobs, 0, 0, 0)
        # (sequence number, the blocks of workers 0, 1, ..., errors); blocks None: stop
        self.work: tuple[int, Sequence[Callable[[], None]] | None, list[BaseException]] = \
            (0, (), [])
        self.sleeping = [False] * workers
        self.caller_sleeping = False
        self.wake = threading.Condition()
        self.busy = threading.Lock()  # one caller at a time; the others run serially
        self.unhelped = 0  # runs in a row in which the caller ran every block itself
        self.asked = 0  # calls of helps()
        self.follow = False  # the last run woke a worker too late to help: try the next too
        self.tids = [0] * workers  # each worker's native thread id
        self.masks: list[set[int] | None] = [None] * workers  # the CPUs each may run on
        self.cpus = _cpus()
        self.threads = [threading.Thread(target=self._work, args=(w,), name=f"jitgrad-{w}",
                                         daemon=True) for w in range(workers)]
        for t in self.threads:
            t.start()

    def _wait(self, flags: np.ndarray, w: int, seq: int, spins: int,
              sleeping: Callable[[bool], None]) -> None:
        """Until flags[w] >= seq: spin ``spins`` rounds, then sleep on ``wake``. (Every flag
        write and every ``sleeping`` read by a thread that may wake this one is Python code
        under the GIL, so a waiter either sees the flag or is seen sleeping and notified.)"""
        if self.spin_until(flags, w, seq, spins):
            # The thread that set the flag holds the GIL for a microsecond or two more (until
            # its kernel, or its own wait, releases it); asking for the GIL now would sleep
            # (Python's GIL waits on a condition variable) and wake up 10-15 us later.
            self.spin_until(self.never, 0, 1, GRACE)
            return
        with self.wake:
            sleeping(True)
            while flags[w] < seq:
                self.wake.wait()
            sleeping(False)

    def _work(self, w: int) -> None:
        self.tids[w] = threading.get_native_id()
        seen = 0

        def sleeping(on: bool) -> None:
            self.sleeping[w] = on

        while True:
            # SPINS rounds after the last job, each ending in a yield of the core (a worker
            # sharing its core with another process gives it up). Spinning 4 times less after
            # each spin that ended in sleep, as this pool once did for such a worker, was within
            # the noise with native jobs (two-thread steps alternated in one process: MLP
            # 1.04x slower, mnist 1.02x faster) and kept a worker asleep through back-to-back
            # splits once it had slept.
            seq = self.serve(self.posted, self.claims, self.done, self.jobs, w, seen, SPINS)
            if seq < 0:  # nothing posted in the spin: sleep until a post
                seen = -1 - seq
                self._wait(self.posted, w, seen + 1, 0, sleeping)
                continue
            seen, blocks, errors = seq, self.work[1], self.work[2]
            if blocks is None:  # the pool was replaced
                return
            if not self.claim(self.claims, w, seq):  # the caller ran it
                continue
            try:
                blocks[w]()
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                errors.append(e)
            self.done[w] = seq
            if self.caller_sleeping:
                with self.wake:
                    self.wake.notify_all()

    def _post(self, work: tuple, count: int) -> None:
        """Hand ``work`` to the first ``count`` workers (their job rows written already)."""
        self._off_callers_cpu(count)
        self.work = work
        for w in range(count):
            self.publish(self.posted, w, work[0])
        if any(self.sleeping[:count]):
            with self.wake:
                self.wake.notify_all()

    def _off_callers_cpu(self, count: int) -> None:
        """Keep the first ``count`` workers off the CPU the caller runs on now (a system call
        only when the caller has moved onto a CPU a worker may use). A worker woken from sleep
        was often placed on the waking thread's CPU by the scheduler, where the two blocks
        took turns: products with pauses between them (50 ms, 512³ float64, two threads) took
        8.4-9.5 ms, as long as on one thread (8.3-9.2 ms), and 5.4-6.2 ms with this
        (MATMUL_NOTES.md, round 10)."""
        cpu = _getcpu()
        if cpu < 0 or len(self.cpus) < 2:
            return
        for w in range(count):
            mask = self.masks[w]
            if self.tids[w] and (mask is None or cpu in mask):
                mask = self.cpus - {cpu}
                try:
                    os.sched_setaffinity(self.tids[w], mask)
                except OSError:
                    continue
                self.masks[w] = mask

    def run(self, blocks: Sequence[Callable[[], None]]) -> None:
        """Call every block, ``blocks[0]`` in this thread, the others on the workers if they
        come in time (all here if another caller has the pool)."""
        if len(blocks) > self.workers + 1 or not self.busy.acquire(blocking=False):
            for block in blocks:
                block()
            return
        try:
            seq = self.work[0] + 1
            rest = blocks[1:]
            native = []
            for w, block in enumerate(rest):
                describe = getattr(block, "describe", None)
                native.append(describe is not None and describe(self.jobs[w]))
                if not native[-1]:
                    self.jobs[w, self.kind] = self.python
            errors: list[BaseException] = []
            woke = any(self.sleeping[:len(rest)])
            self._post((seq, rest, errors), len(rest))
            failed: BaseException | None = None
            try:
                blocks[0]()
            except BaseException as e:  # noqa: BLE001 - re-raised once the workers are done
                failed = e
            helped = False
            for w, block in enumerate(rest):
                if self.claim(self.claims, w, seq):  # no worker took it: run it here
                    if failed is None and not errors:
                        try:
                            block()
                        except BaseException as e:  # noqa: BLE001
                            errors.append(e)
                    continue
                helped = True
                if not native[w]:
                    self._wait(self.done, w, seq, SPINS, self._caller_sleeping)
                    continue
                # A native job ends without the GIL or a word to this thread, which spins
                # (yielding its core) until it does.
                self.spin_until(self.done, w, seq, 1 << 62)
                if self.jobs[w, self.status] and failed is None and not errors:
                    try:  # the kernel raised: raise it here (a product is written whole)
                        block()
                    except BaseException as e:  # noqa: BLE001
                        errors.append(e)
            self._count(helped, woke)
            if failed is not None:
                raise failed
            if errors:
                raise errors[0]
        finally:
            self.busy.release()

    def split_rows(self, split: Callable[..., int], bounds: np.ndarray, args: tuple) -> int | None:
        """``split(jobs, mine, posted, claims, done, seq, bounds, *args)`` (jobs.split_rows:
        it posts the native jobs itself, runs the caller's block and those no worker took,
        and waits for the rest) and its result, or None (nothing run) while another caller
        has the pool."""
        workers = len(bounds) - 2
        if workers > self.workers or not self.busy.acquire(blocking=False):
            return None
        try:
            self._off_callers_cpu(workers)
            woke = any(self.sleeping[:workers])
            if woke:
                # Posted from native code, a job would not wake a sleeping worker: wake it
                # with a Python job that nobody waits for (it will likely miss this split's
                # block, which the caller then runs, but be spinning for the next). That job
                # is claimed here at once (this thread holds the GIL, which a worker needs to
                # claim a Python job): split() rewrites the worker's row for its own job, and
                # a worker that saw the wake-up's post with the new row's kind half written
                # must not run the row.
                wake = self.work[0] + 1
                self.jobs[:workers, self.kind] = self.python
                self._post((wake, [_nothing] * workers, []), workers)
                for w in range(workers):
                    self.claim(self.claims, w, wake)
            seq = self.work[0] + 1
            self.work = (seq, (), [])  # (read by a worker's Python loop only for PYTHON jobs)
            result = split(self.jobs, self.mine, self.posted, self.claims, self.done, seq,
                           bounds, *args)
            self._count(result & self.helped_bit, woke)
            return result
        finally:
            self.busy.release()

    def _count(self, helped: bool, woke: bool) -> None:
        """Keep the count of runs in a row that no worker helped (see helps). A run that had
        to wake a sleeping worker says little: the worker spins now, so the next call tries
        again (where the count would stop calls of short products from splitting for good:
        every PROBE-th call found the worker asleep again and missed it while it woke)."""
        self.unhelped = 0 if helped else self.unhelped + 1
        self.follow = woke and not helped

    def helps(self) -> bool:
        """Whether splitting work pays: not after UNHELPED runs in a row in which no worker
        took a block in time (no free core, or blocks shorter than a worker's wake-up), except
        for every PROBE-th call, which tries again, and the call after a run that woke a
        worker (see _count)."""
        self.asked += 1
        if self.follow:
            self.follow = False
            return True
        return self.unhelped < UNHELPED or self.asked % PROBE == 0

    def _caller_sleeping(self, on: bool) -> None:
        self.caller_sleeping = on

    def close(self) -> None:
        """End the workers (after the current caller, if any, is done)."""
        with self.busy:
            self.jobs[:, self.kind] = self.python
            self._post((self.work[0] + 1, None, []), self.workers)


def _nothing() -> None:
    pass


@functools.cache
def _libc_getcpu() -> Any:
    """glibc's ``sched_getcpu`` (None where there is none), called holding the GIL (PyDLL):
    through CDLL each call released it, and a worker that was waiting for the GIL took it
    then, so posting work cost the caller 3 us more (6 us, of which _off_callers_cpu 3)."""
    import ctypes
    try:
        fn = ctypes.PyDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_int, []
    return fn


def _getcpu() -> int:
    """The CPU this thread runs on (-1: unknown)."""
    fn = _libc_getcpu()
    return -1 if fn is None else fn()


def _cpus() -> set[int]:
    """The CPUs this thread may run on (none known: empty)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set()


_pool: _Pool | None = None
_lock = threading.Lock()


def _executor(threads: int) -> _Pool:
    global _pool
    pool = _pool  # (read once: another thread may replace it; the lock is for replacing)
    if pool is not None and pool.workers == threads - 1:
        return pool
    with _lock:
        if _pool is None or _pool.workers != threads - 1:
            if _pool is not None:
                _pool.close()
            _pool = _Pool(threads - 1)
        return _pool


def _forget_pool() -> None:
    """A forked child has none of the parent's threads: it starts a pool of its own."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def split_axes(k: LoopKernel) -> list[int | None] | None:
    """For each kernel argument (inputs, then outputs), the array axis that loop axis 0 walks
    with unit stride (None: not indexed by it); None if the kernel cannot be split along loop
    axis 0 (a reduction over it, or an input read at another stride or offset along it)."""
    if not k.shape or k.shape[0] < 2:
        return None
    axes: list[int | None] = [None] * len(k.inputs)
    seen: list[bool] = [False] * len(k.inputs)
    for node in k.nodes:
        if node.kind != "load":
            continue
        uses = [p for p, (a, c, _) in enumerate(node.index) if a == 0 and c != 0]
        axis = None
        if uses:
            p = uses[0]
            if len(uses) > 1 or node.index[p][1:] != (1, 0):
                return None
            axis = p
        if seen[node.input] and axes[node.input] != axis:
            return None
        seen[node.input] = True
        axes[node.input] = axis
    for out in k.outputs:
        if out.reduce is not None and 0 in out.axes:
            return None
        axes.append(0)
    return axes


def worth_splitting(k: LoopKernel) -> bool:
    size = int(np.prod(k.shape, dtype=np.int64))
    heavy = any(n.kind == "op" and n.prim.lowering.vmath for n in k.nodes)
    return size >= (MIN_ELEMENTS_TRANSCENDENTAL if heavy else MIN_ELEMENTS)


def split_matmul(dtype: np.dtype, flops: int, seconds: float = MIN_MATMUL_SECONDS,
                 rate: float = 0.0) -> bool:
    """Whether a product of ``flops`` floating-point operations is worth splitting: one
    thread would take ``seconds`` or more (MIN_MATMUL_SECONDS, MIN_NATIVE_SPLIT_SECONDS).
    rate: the fastest one-thread rate this product was timed at (see timed_matmul), or 0 if
    it was not: then the fastest of any product of its dtype. Small products run at a lower
    rate than large ones: at a large product's 95 GFLOP/s, a 128^3 float32 product that takes
    50 us on one thread is estimated at 44 us, below MIN_NATIVE_SPLIT_SECONDS, and would
    never split again."""
    if flops < MIN_MATMUL_FLOPS:
        return False
    if not rate:
        rate = _matmul_rates.get(dtype, 0.0)
        if not rate:
            return flops >= MIN_MATMUL_FLOPS_UNTIMED
    return flops >= rate * seconds


def timed_matmul(dtype: np.dtype, flops: int, seconds: float, threads: int) -> float:
    """Record a product's time on ``threads`` threads, and return flops / (seconds *
    threads): a lower bound on one thread's rate for this product (a split is at best
    ``threads`` times faster, and an interrupted call only slower), or 0 for no timing. The
    largest bound of each dtype is kept, for products not timed themselves."""
    if seconds > 0 and flops >= MIN_MATMUL_FLOPS:
        rate = flops / (seconds * threads)
        if rate > _matmul_rates.get(dtype, 0.0):
            _matmul_rates[dtype] = rate
        return rate
    return 0.0


def blocks(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into at most ``parts`` contiguous, non-empty (lo, hi) blocks."""
    edges = [n * i // parts for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def _take(a: np.ndarray, axis: int | None, lo: int, hi: int) -> np.ndarray:
    if axis is None:
        return a
    index = [slice(None)] * a.ndim
    index[axis] = slice(lo, hi)
    return a[tuple(index)]


def helpful(threads: int) -> bool:
    """Whether to split work over ``threads`` threads now (see _Pool.helps)."""
    return threads > 1 and _executor(threads).helps()


def run_blocks(calls: Sequence[Callable[[], None]]) -> None:
    """Call each of ``calls`` (at most ``config.threads`` of them), the first in this thread,
    the others on the pool's threads at the same time."""
    _executor(config.threads).run(calls)


def split_rows(split: Callable[..., int], bounds: np.ndarray, args: tuple) -> int | None:
    """A product's row blocks run natively by the pool (see _Pool.split_rows)."""
    return _executor(config.threads).split_rows(split, bounds, args)


def run_split(kernel: Callable[..., Any], n0: int, args: Sequence[np.ndarray],
              axes: Sequence[int | None], extra: Sequence[int]) -> None:
    """``kernel(*args, *extra)`` with loop axis 0 (extent ``n0``) split over the threads."""
    threads = config.threads
    if not helpful(threads):
        kernel(*args, *extra)
        return
    # Every block's arguments are sliced here, so a worker needs the GIL only to call.
    calls = [[_take(a, ax, lo, hi) for a, ax in zip(args, axes, strict=True)]
             for lo, hi in blocks(n0, threads)]
    _executor(threads).run([functools.partial(kernel, *c, *extra) for c in calls])

