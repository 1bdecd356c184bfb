"""A bounded busy-wait on a flag written by another thread, run without the GIL and yielding
the core between reads, and the atomic flag operations of the thread pool's hand-off
(parallel.py, kernels/jobs.py)."""

import sys

import llvmlite.ir as llvmir
import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from jitgrad.backend.cache import disk_cache

# Reads of the flag between two yields: a read takes about 0.5 ns, a yield 0.3-0.5 us.
_READS = 256


@intrinsic
def _load_acquire(typingctx, arr, i):
    """arr[i] read with an atomic acquire load: a plain load in a loop that writes nothing
    would be hoisted out of it by LLVM and read once."""
    if not _int64_flags(arr):
        return None

    def codegen(context, builder, sig, args):
        ptr = _flag_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, i), codegen


def _flag_pointer(context, builder, arrty, arr, i):
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [i], wraparound=False)


def _int64_flags(arr):
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


@intrinsic
def _store_release(typingctx, arr, i, value):
    """arr[i] = value with an atomic release store: what this thread wrote before (a job's
    description) is seen by a thread that reads the flag with an acquire load."""
    if not _int64_flags(arr) or not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ptr = _flag_pointer(context, builder, sig.args[0], args[0], args[1])
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(value, ptr, "release", 8)
        return context.get_dummy_value()

    return types.none(arr, i, value), codegen


@intrinsic
def _compare_exchange(typingctx, arr, i, expected, new):
    """Atomically: if arr[i] == expected, arr[i] = new; whether it did."""
    if not _int64_flags(arr):
        return None

    def codegen(context, builder, sig, args):
        ptr = _flag_pointer(context, builder, sig.args[0], args[0], args[1])
        old, value = (context.cast(builder, v, t, types.int64)
                      for v, t in zip(args[2:], sig.args[2:], strict=True))
        result = builder.cmpxchg(ptr, old, value, "acq_rel", "acquire")
        return builder.extract_value(result, 1)

    return types.boolean(arr, i, expected, new), codegen


@intrinsic
def _yield_core(typingctx):
    """Let another runnable thread on this core run (sched_yield; SwitchToThread on Windows):
    when another process holds the other core, a spinning worker shares one core with the
    thread it waits for, and would otherwise take half of that thread's time."""

    def codegen(context, builder, sig, args):
        name = "SwitchToThread" if sys.platform == "win32" else "sched_yield"
        fnty = llvmir.FunctionType(llvmir.IntType(32), [])
        builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), [])
        return context.get_dummy_value()

    return types.none(), codegen


@disk_cache
@numba.njit(nogil=True, error_model="numpy")
def spin_until(flags, i, value, rounds):
    """Whether flags[i] reached ``value`` within ``rounds`` rounds of reads and a yield."""
    for _ in range(rounds):
        for _ in range(_READS):
            if _load_acquire(flags, i) >= value:
                return True
        _yield_core()
    return False


@numba.njit(nogil=True, error_model="numpy", inline="always")
def _claim(flags, i, value):
    while True:
        old = _load_acquire(flags, i)
        if old >= value:
            return False
        if _compare_exchange(flags, i, old, value):
            return True


@disk_cache
@numba.njit(error_model="numpy")
def claim(flags, i, value):
    """Raise flags[i] to ``value`` if it is below: whether this thread did (of threads racing
    to take the same posted job, exactly one does). Called from Python it keeps the GIL: a
    worker waiting for the GIL to claim a Python block would otherwise get it here and could
    take the block from the caller that had just finished its own."""
    return _claim(flags, i, value)


@disk_cache
@numba.njit(error_model="numpy")
def publish(flags, i, value):
    """flags[i] = value, seen by an acquire load only after this thread's earlier writes."""
    _store_release(flags, i, value)
