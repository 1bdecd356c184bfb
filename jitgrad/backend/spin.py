"""A bounded busy-wait on a flag written by another thread, run without the GIL (the thread
pool's hand-off in parallel.py)."""

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from jitgrad.backend.cache import disk_cache


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


@disk_cache
@numba.njit(nogil=True, error_model="numpy")
def spin_until(flags, i, value, spins):
    """Whether flags[i] reached ``value`` within ``spins`` reads of it."""
    for _ in range(spins):
        if _load_acquire(flags, i) >= value:
            return True
    return False
