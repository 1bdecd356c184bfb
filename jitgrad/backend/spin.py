"""A bounded busy-wait on a flag written by another thread, run without the GIL and yielding
the core between reads (the thread pool's hand-off in parallel.py)."""

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
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]],
                                       wraparound=False)
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, i), codegen


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
