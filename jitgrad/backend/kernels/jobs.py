"""Matmul kernel calls as native jobs, which a thread pool worker runs without the GIL.

A split product's second half used to start 20-40 us after the first on the project's
(virtual) two-core machine: the worker saw the post in its spin but needed the GIL to run
Python, the caller held it until its own half's kernel began, and a thread that waits for the
GIL sleeps (its CPU halts, and waking it costs a round trip through the hypervisor). Here a
kernel call is described by one row of int64 words (the compiled entry's address, each array's
data pointer, shape and strides, the flags) written by the caller, and the worker's wait for
work (``serve``, native code) runs it in place: no Python, no GIL (MATMUL_NOTES.md, round 13).
"""

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from jitgrad.backend.cache import compile_exclusively, disk_cache
from jitgrad.backend.spin import _READS, _claim, _load_acquire, _store_release, _yield_core
from jitgrad.backend.vmath import _as_float, _as_int

# A job row: what to call (KIND: PYTHON for a block the worker runs with the GIL), the entry's
# address, the dtype (0 float32, 1 float64), the flags, alpha's float64 bits, the columns a
# pack job packs, the job's outcome (STATUS: 0 ran, 1 raised: the caller runs the block again
# to raise it), then the arrays: 3-D ones as data, shape (3), strides (3) in bytes; 1-D ones
# as data, length, stride.
PYTHON, PRODUCT, SHARED_PRODUCT, PACK = -1, 0, 1, 2
KIND, ADDRESS, DTYPE, TRANSPOSE_A, TRANSPOSE_B, HAS_BIAS, HAS_C0, ALPHA, LO, HI, STATUS = \
    range(11)
A, B, OUT, C0 = 11, 18, 25, 32
BIAS, SHARED = 39, 42
WORDS = 45


def _viewer(aryty):
    """An intrinsic ``view(row, at)``: the array of type aryty described at row[at:]."""

    @intrinsic
    def view(typingctx, row, at):
        def codegen(context, builder, sig, args):
            rowty = sig.args[0]
            r = context.make_array(rowty)(context, builder, args[0])

            def word(j):
                at = builder.add(args[1], context.get_constant(types.intp, j))
                ptr = cgutils.get_item_pointer(context, builder, rowty, r, [at],
                                               wraparound=False)
                return builder.load(ptr)

            nd = aryty.ndim
            ary = context.make_array(aryty)(context, builder)
            datatype = context.get_data_type(aryty.dtype)
            populate_array(ary, data=builder.inttoptr(word(0), datatype.as_pointer()),
                           shape=[word(1 + d) for d in range(nd)],
                           strides=[word(1 + nd + d) for d in range(nd)],
                           itemsize=context.get_constant(types.intp,
                                                         context.get_abi_sizeof(datatype)),
                           meminfo=None)
            return ary._getvalue()

        return aryty(row, at), codegen

    return view


@intrinsic
def _call(typingctx, address, args):
    """Call the Numba-compiled function (returning None) at ``address`` with the tuple
    ``args``, through Numba's calling convention (return slot, exception slot, then the
    arguments' fields): whether it returned without raising."""
    if not isinstance(args, types.BaseTuple):
        return None

    def codegen(context, builder, sig, llargs):
        argtys = list(sig.args[1])
        values = [builder.extract_value(llargs[1], i) for i in range(len(argtys))]
        conv = context.call_conv
        fnty = conv.get_function_type(types.none, argtys)
        fn = builder.inttoptr(llargs[0], fnty.as_pointer())
        ret = cgutils.alloca_once(builder, fnty.args[0].pointee)
        builder.store(cgutils.get_null_value(fnty.args[0].pointee), ret)
        exc = cgutils.alloca_once(builder, fnty.args[1].pointee)
        code = builder.call(fn, [ret, exc] + list(
            conv._get_arg_packer(argtys).as_arguments(builder, values)))
        return conv._get_return_status(builder, code, builder.load(exc)).is_ok

    return types.boolean(address, args), codegen


def signature(kind, nb):
    """The one signature matmul's entry ``kind`` (matmul._ENTRIES) is compiled for, dtype nb:
    defined here, where a job's arguments are rebuilt with exactly these types."""
    ro3 = types.Array(nb, 3, "A", readonly=True)
    if kind == "pack":
        return (ro3, types.boolean, types.Array(nb, 1, "C"), types.intp, types.intp)
    head = (ro3, ro3) + ((types.Array(nb, 1, "C", readonly=True),) if kind == "shared" else ())
    return head + (types.Array(nb, 3, "C"), types.boolean, types.boolean,
                   types.Array(nb, 1, "A", readonly=True), types.boolean,
                   types.Array(nb, 3, "A", readonly=True), types.float64, types.boolean)


def _types(nb):
    """The array types of the entries' arguments for dtype nb, read off their signatures."""
    ro3, _, shared, out, _, _, bias = signature("shared", nb)[:7]
    return dict(ro3=ro3, out=out, bias=bias, shared=shared, packed=signature("pack", nb)[2])


def _runner(nb):
    """run() for one dtype: the job's arrays rebuilt with the entries' types for nb."""
    ro3, out, bias, shared, packed = (_viewer(t) for t in _types(nb).values())

    @numba.njit(nogil=True, error_model="numpy")
    def run_typed(row, kind, address, ta, tb, has_bias, has_c0, alpha):
        if kind == PACK:
            return _call(address, (ro3(row, B), tb, packed(row, SHARED), row[LO], row[HI]))
        if kind == SHARED_PRODUCT:
            return _call(address, (ro3(row, A), ro3(row, B), shared(row, SHARED),
                                   out(row, OUT), ta, tb, bias(row, BIAS), has_bias,
                                   ro3(row, C0), alpha, has_c0))
        return _call(address, (ro3(row, A), ro3(row, B), out(row, OUT), ta, tb,
                               bias(row, BIAS), has_bias, ro3(row, C0), alpha, has_c0))

    return run_typed


_run32, _run64 = _runner(types.float32), _runner(types.float64)


@numba.njit(nogil=True, error_model="numpy")
def run(row):
    """Run the job described in row; whether it returned without raising."""
    kind, address, alpha = row[KIND], row[ADDRESS], _as_float(row[ALPHA], 0.0)
    ta, tb = row[TRANSPOSE_A] != 0, row[TRANSPOSE_B] != 0
    has_bias, has_c0 = row[HAS_BIAS] != 0, row[HAS_C0] != 0
    if row[DTYPE] == 0:
        return _run32(row, kind, address, ta, tb, has_bias, has_c0, alpha)
    return _run64(row, kind, address, ta, tb, has_bias, has_c0, alpha)


@disk_cache
@numba.njit(nogil=True, error_model="numpy")
def serve(posted, claims, done, jobs, w, seen, rounds):
    """Worker w's wait for work, without the GIL: reads of posted[w] and a yield of the core,
    for up to ``rounds`` rounds after the last job. A job posted (posted[w] passing seen) is
    claimed (claims[w], which the caller also raises to take back a job no worker started)
    and run here, then marked done, and the wait goes on. Returns the sequence number of a
    PYTHON job, unclaimed (the worker claims it once it holds the GIL, so the caller does not
    wait for a worker that cannot run Python yet), or -1 - the last sequence number seen when
    the rounds passed without a post."""
    r = 0
    while r < rounds:
        seq = seen
        for _ in range(_READS):
            seq = _load_acquire(posted, w)
            if seq > seen:
                break
        if seq <= seen:
            _yield_core()
            r += 1
            continue
        seen = seq
        r = 0
        if jobs[w, KIND] == PYTHON:
            return seq
        if _claim(claims, w, seq):
            jobs[w, STATUS] = 0 if run(jobs[w]) else 1
            _store_release(done, w, seq)
    return -1 - seen


@numba.njit(inline="always")
def _put3(row, at, x):
    row[at] = x.ctypes.data
    for d in range(3):
        row[at + 1 + d] = x.shape[d]
        row[at + 4 + d] = x.strides[d]


@numba.njit(inline="always")
def _put1(row, at, x):
    row[at] = x.ctypes.data
    row[at + 1] = x.shape[0]
    row[at + 2] = x.strides[0]


def _describe_product(row, kind, address, a, b, shared, out, ta, tb, bias, has_bias, c0, alpha,
                      has_c0):
    row[KIND] = kind
    row[ADDRESS] = address
    row[DTYPE] = 0 if out.itemsize == 4 else 1
    row[TRANSPOSE_A], row[TRANSPOSE_B] = ta, tb
    row[HAS_BIAS], row[HAS_C0] = has_bias, has_c0
    row[ALPHA] = _as_int(alpha)
    row[STATUS] = 0
    _put3(row, A, a)
    _put3(row, B, b)
    _put3(row, OUT, out)
    _put3(row, C0, c0)
    _put1(row, BIAS, bias)
    _put1(row, SHARED, shared)


def _describe_pack(row, address, b, tb, shared, lo, hi):
    row[KIND] = PACK
    row[ADDRESS] = address
    row[DTYPE] = 0 if shared.itemsize == 4 else 1
    row[TRANSPOSE_B] = tb
    row[LO], row[HI] = lo, hi
    row[STATUS] = 0
    _put3(row, B, b)
    _put1(row, SHARED, shared)


describe_product = disk_cache(numba.njit(nogil=True, error_model="numpy")(_describe_product))
describe_pack = disk_cache(numba.njit(nogil=True, error_model="numpy")(_describe_pack))
_described = set()
# split_rows' own copy: describe_product takes only the entries' argument types once
# describers() compiled it, and split_rows passes slices and placeholders of other layouts.
_describe_into = numba.njit(inline="always")(_describe_product)

# split_rows' result: bit HELPED when a worker ran a block, bit FAILED when a block's kernel
# raised (the caller then runs the whole product again to raise the error).
HELPED, FAILED = 1, 2


@numba.njit(inline="always")
def _describe_rows(row, address, a, b, out, ta, tb, bias, has_bias, c0, alpha, has_c0,
                   lo, hi):
    """Describe the product's rows [lo, hi) of op(a) and out (bias stands in for the shared
    B a PRODUCT job does not read; c0 is out when not has_c0, as matmul() passes it)."""
    part = a[:, :, lo:hi] if ta else a[:, lo:hi, :]
    _describe_into(row, PRODUCT, address, part, b, bias, out[:, lo:hi, :], ta, tb, bias,
                   has_bias, c0[:, lo:hi, :], alpha, has_c0)


def _split_rows(jobs, mine, posted, claims, done, seq, bounds, address, a, b, out, ta, tb,
                bias, has_bias, c0, alpha, has_c0):
    """One product (a batch of one, each block packing its own B) with out's rows cut at
    bounds: block 0 here, block w + 1 posted to worker w as job ``seq``, all from one native
    call. A split described and handed over from Python (a job row per block through
    matmul(row=), the post, the caller's own matmul() call, the claims) cost a 128^3 float32
    product ≈ 35 us more than its blocks' kernels, as much as half the product itself
    (MATMUL_NOTES.md, round 14). Blocks no worker took are run here, as in parallel._Pool.
    Returns HELPED and FAILED bits."""
    workers = bounds.shape[0] - 2
    for w in range(workers):
        _describe_rows(jobs[w], address, a, b, out, ta, tb, bias, has_bias, c0, alpha, has_c0,
                       bounds[w + 1], bounds[w + 2])
        _store_release(posted, w, seq)
    _describe_rows(mine, address, a, b, out, ta, tb, bias, has_bias, c0, alpha, has_c0,
                   bounds[0], bounds[1])
    result = 0 if run(mine) else FAILED
    for w in range(workers):
        if _claim(claims, w, seq):  # not taken yet: run it here
            if not run(jobs[w]):
                result |= FAILED
            continue
        result |= HELPED
        while _load_acquire(done, w) < seq:
            _yield_core()
        if jobs[w, STATUS] != 0:
            result |= FAILED
    return result


split_rows = disk_cache(numba.njit(nogil=True, error_model="numpy")(_split_rows))
_splitters = set()


def splitter(dtype):
    """split_rows, compiled (or loaded) for dtype's entry argument types (signature)."""
    if dtype not in _splitters:
        nb = numba.from_dtype(dtype)
        flags = types.Array(types.int64, 1, "C")
        ro3, _, out, ta, tb, bias, has_bias, c0, alpha, has_c0 = signature(False, nb)
        compile_exclusively(split_rows, (
            types.Array(types.int64, 2, "C"), flags, flags, flags, flags, types.int64, flags,
            types.int64, ro3, ro3, out, ta, tb, bias, has_bias, c0, alpha, has_c0))
        _splitters.add(dtype)
    return split_rows


def describers(dtype):
    """(describe_product, describe_pack), compiled (or loaded) for dtype's argument types,
    those of the entries (signature): a call converts its arrays as the entry's call
    would, and no other signature is ever compiled."""
    if dtype not in _described:
        nb = numba.from_dtype(dtype)
        row = types.Array(types.int64, 1, "C")
        compile_exclusively(describe_product,
                            (row, types.int64, types.int64) + signature("shared", nb))
        compile_exclusively(describe_pack, (row, types.int64) + signature("pack", nb))
        _described.add(dtype)
    return describe_product, describe_pack
