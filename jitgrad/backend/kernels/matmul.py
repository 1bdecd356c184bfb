"""Batched GEMM kernel in Numba: out[i] = op(a[i]) @ op(b[i]) + bias, or c0[i] + alpha * that
(an update stored in place of the product), blocked and packed."""

import contextlib

import llvmlite.ir as llvmir
import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import load_item, populate_array

from jitgrad.backend.cache import compile_exclusively, disk_cache
from jitgrad.backend.kernels import jobs

__all__ = ["Job", "entry", "load", "matmul", "njit_matmul", "pack_shared_b", "ready",
           "shared_b_size", "small_b", "split_columns", "static_call", "static_entry",
           "static_split"]


# Register tile: _MR rows by NR columns, NR * itemsize = _ROW_BYTES. With AVX-512 (128 bytes)
# every tile row is two 512-bit vectors, so the tile is 16 of the 32 zmm registers (8x16 f64,
# 8x32 f32) and each k step is 16 FMAs fed by 2 vector loads and 8 broadcasts.
def _register_tile():
    """(rows, bytes per row) of the register tile for this CPU: with AVX-512, 8 rows of two
    zmm vectors (16 of its 32 registers); otherwise (AVX2's 16 ymm registers) 6 rows of two
    ymm vectors, 12 accumulators beside the B vectors and the broadcast A value. The AVX-512
    tile spills on an AVX2 machine: 1024^2 f32 products ran at 0.56x OpenBLAS's GFLOP/s with
    it and at 0.99x with this one (2026-12-02, an AVX2 EPYC; MATMUL_NOTES.md)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return (8, 128) if features.get("avx512f", False) else (6, 64)


_MR, _ROW_BYTES = _register_tile()

# Cache blocking: kc k steps per block; A blocks of _MC_BYTES and B panels of _NC_BYTES, so both
# dtypes fill the caches alike. A B sliver (kc x NR, kc * _ROW_BYTES bytes) stays in L1 while
# every A sliver of an mc x kc block (L2) passes it; the B panel (kc x nc) lives in L2/L3.
# kc is keyed on the register tile: with AVX-512, 256 (a 32 KiB sliver; 128-384 swept flat on
# Zen 4); with AVX2's half-width rows, 384 (24 KiB). On the AVX2 EPYC (2026-12-02, sweeps of
# 256, 384 and 512, MATMUL_NOTES.md round 6) 384 ran 128x1024 @ (1024x1024)^T f64 3-5% faster
# than 256 and was within the noise elsewhere; 512 (the same 32 KiB sliver as AVX-512's) was
# as fast on that product but 2-6% slower on 128x784 @ 784x1024. No rule derived from the
# sliver bytes fits both optima, so these are the two measured values. MC and NC sweeps were
# flat within the noise on both machines (except NC = 8 MiB on Zen 4, 4 MiB here: slower).
_KC = 256 if _ROW_BYTES == 128 else 384
_MC_BYTES = 128 * 1024
_NC_BYTES = 2 * 1024 * 1024

# Where the micro-kernel reads op(a) in place rather than packed (see _gemm_packed): up to
# _DIRECT_A_BYTES when its rows are contiguous (each sliver row is then read front to back),
# up to _DIRECT_A_T_BYTES otherwise, or with contiguous rows at most _DIRECT_A_ROW_BYTES apart;
# op(b) with contiguous rows up to _DIRECT_B_BYTES. On the AVX-512 hosts op(a) up to 512 KiB
# (half their L2) in place was 3-14% faster up to n = 256, either layout. On the AVX2 EPYC a
# transposed op(a) (columns contiguous: a sliver's k steps each on another row of storage,
# 4 KiB apart at n = 1024) of 256-512 KiB ran at 0.65-0.90x OpenBLAS in place and 0.95-1.05x
# packed (1024x128^T @ 128x1024 f32, 256^2 A^T.B f64); up to 128 KiB in place still won, and
# so did row-major ones up to 512 KiB (256^2 A.B f32 0.99x in place, 0.91x packed)
# (MATMUL_NOTES.md round 6). That bound is the cores' caches, keyed on the same CPU test.
_DIRECT_A_BYTES = 512 * 1024
_DIRECT_A_T_BYTES = (512 if _ROW_BYTES == 128 else 128) * 1024
_DIRECT_A_ROW_BYTES = 256
_DIRECT_B_BYTES = 32 * 1024

# k steps per chunk of a transposing pack copy (a 64-byte line of f64).
_KSTEP = 8

# When to skip packing (measured crossovers in MATMUL_NOTES.md): up to _TINY_MACS multiply-adds,
# or when m or n is at most _DIRECT_MN and a unit-stride loop of at least _DIRECT_MIN_VECTOR
# elements is available for an unpacked loop order.
_TINY_MACS = 8 * 8 * 8
_DIRECT_MN = 4
_DIRECT_MIN_VECTOR = 32
# _gemm_direct loop orders.
_PACKED, _SCALAR, _ROW_AXPY, _DOT, _COL_AXPY, _DOT_COPY_A, _DOT_COPY_B = range(7)

# Functions compiled on their own are cached on disk through jitgrad's @disk_cache (only in a
# directory no other user can write); the inlined helpers need no cache of their own.
_JIT = dict(nogil=True, error_model="numpy", boundscheck=False, fastmath={"contract"})
# Numba compiles every called njit function as a library of its own and optimises it again inside
# each caller; inlining the helpers into their caller at the Numba IR level cut the cold compile
# time by about a fifth with no change in speed. (_micro and _dot cannot be inlined: they need
# other compiler settings than their callers.)
_JIT_INLINE = dict(_JIT, inline="always")


@intrinsic
def _tile_buffer(typingctx, like):
    """Stack storage for one register tile of like.dtype; constant indices let LLVM keep it in
    registers (a heap array would be opaque to SROA)."""
    dtype = like.dtype
    size = _MR * _ROW_BYTES // (dtype.bitwidth // 8)

    def codegen(context, builder, sig, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=size)

    return types.CPointer(dtype)(like), codegen


@intrinsic
def _nr(typingctx, like):
    """Tile width for like.dtype as an IR constant, so the tile loops have constant trip counts
    and unroll completely (``ary.itemsize`` is loaded from the array struct at run time)."""
    nr = _ROW_BYTES // (like.dtype.bitwidth // 8)

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, nr)

    return types.intp(like), codegen


@intrinsic
def _zero(typingctx, like):
    """0 of like.dtype (a literal 0 would type as int64 and promote float32 arithmetic)."""

    def codegen(context, builder, sig, args):
        return context.get_constant(like.dtype, 0)

    return like.dtype(like), codegen


def _prefetcher(write):
    """An intrinsic ``prefetch(arr, i, j)``: prefetch the cache line holding arr[i, j] for
    writing or for reading (no bounds or wraparound)."""

    @intrinsic
    def prefetch(typingctx, arr, i, j):
        def codegen(context, builder, sig, args):
            arrty = sig.args[0]
            ary = context.make_array(arrty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, arrty, ary, args[1:],
                                           wraparound=False)
            i8p = llvmir.IntType(8).as_pointer()
            i32 = llvmir.IntType(32)
            fnty = llvmir.FunctionType(llvmir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            # rw, locality=3 (keep in all levels), cache type 1 (data)
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(int(write)), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.none(arr, i, j), codegen

    return prefetch


_prefetch = _prefetcher(True)
_prefetch_read = _prefetcher(False)


@intrinsic
def _at(typingctx, arr, i, j):
    """arr[i, j] for any strides, without the negative-index wraparound code: that select on
    offsets LLVM cannot prove non-negative defeats vectorisation of the micro-kernel."""
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, args[1:], wraparound=False)
        return load_item(context, builder, arrty, ptr)

    return arr.dtype(arr, i, j), codegen


@intrinsic
def _at_row(typingctx, arr, i, j):
    """arr[i, j] for an array whose rows the caller knows to be contiguous: the column stride
    is the constant itemsize, so loads of consecutive j are seen to be adjacent (vectorisable)."""
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        row_stride = cgutils.unpack_tuple(builder, ary.strides, 2)[0]
        unit = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(arrty.dtype)))
        shape = cgutils.unpack_tuple(builder, ary.shape, 2)
        ptr = cgutils.get_item_pointer2(context, builder, ary.data, shape, [row_stride, unit],
                                        "A", args[1:], wraparound=False)
        return load_item(context, builder, arrty, ptr)

    return arr.dtype(arr, i, j), codegen


@intrinsic
def _update_row(typingctx, c, c0, i, j, t, off, alpha, accumulate):
    """c[i, j:j+NR] = c0[i, j:j+NR] + alpha[0] * (c[i, j:j+NR] + t[off:off+NR]) if accumulate,
    else c0[i, j:j+NR] + alpha[0] * t[off:off+NR]: the last k block's store of a product fused
    with an update (see matmul's c0), as vector loads and stores; c0's rows must be contiguous.
    Written element by element, LLVM cannot rule out that c and c0 overlap, and the loads of c0
    stayed scalar: fused, the weight-gradient product with its SGD update lost 0-37 % against
    the two run apart; as vectors it won 3-10 % (MATMUL_NOTES.md round 11). The multiply and
    the add may contract into an FMA, as they may in a loop kernel (both carry "contract")."""
    if not (isinstance(c, types.Array) and isinstance(c0, types.Array) and c.ndim == c0.ndim == 2
            and isinstance(t, types.Array) and isinstance(alpha, types.Array)
            and c.dtype == c0.dtype == t.dtype == alpha.dtype):
        return None
    size = c.dtype.bitwidth // 8
    nr = _ROW_BYTES // size

    def codegen(context, builder, sig, args):
        vec = llvmir.VectorType(context.get_data_type(c.dtype), nr)
        arr_c = context.make_array(sig.args[0])(context, builder, args[0])
        arr_0 = context.make_array(sig.args[1])(context, builder, args[1])
        arr_t = context.make_array(sig.args[4])(context, builder, args[4])
        pc = cgutils.get_item_pointer(context, builder, sig.args[0], arr_c, args[2:4],
                                      wraparound=False)
        row_stride = cgutils.unpack_tuple(builder, arr_0.strides, 2)[0]
        unit = context.get_constant(types.intp, size)
        p0 = cgutils.get_item_pointer2(context, builder, arr_0.data,
                                       cgutils.unpack_tuple(builder, arr_0.shape, 2),
                                       [row_stride, unit], "A", args[2:4], wraparound=False)
        pt = builder.gep(arr_t.data, [args[5]])
        tile = builder.load(builder.bitcast(pt, vec.as_pointer()), align=size)
        pc_vec = builder.bitcast(pc, vec.as_pointer())
        start = builder.basic_block
        with builder.if_then(args[7]):
            summed = builder.fadd(builder.load(pc_vec, align=size), tile)
            added = builder.basic_block
        total = builder.phi(vec)
        total.add_incoming(tile, start)
        total.add_incoming(summed, added)
        base = builder.load(builder.bitcast(p0, vec.as_pointer()), align=size)
        factor = builder.load(context.make_array(sig.args[6])(context, builder, args[6]).data)
        scaled = builder.fmul(_splat(builder, factor, nr), total, flags=("contract",))
        builder.store(builder.fadd(base, scaled, flags=("contract",)), pc_vec, align=size)
        return context.get_dummy_value()

    return types.none(c, c0, i, j, t, off, alpha, accumulate), codegen


def _splat(builder, value, n):
    """An n-element vector of value."""
    vec = llvmir.VectorType(value.type, n)
    one = builder.insert_element(llvmir.Constant(vec, llvmir.Undefined), value,
                                 llvmir.IntType(32)(0))
    return builder.shuffle_vector(one, llvmir.Constant(vec, llvmir.Undefined),
                                  llvmir.Constant(llvmir.VectorType(llvmir.IntType(32), n),
                                                  [0] * n))


@numba.njit(**_JIT_INLINE)
def _epilogue(c, bias):
    """Add bias to the rows of c in place (the paths that do not run the micro-kernel)."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            c[i, j] += bias[j]


@numba.njit(**_JIT_INLINE)
def _update(c, c0, alpha):
    """c = c0 + alpha * c in place (the paths that do not run the micro-kernel)."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            c[i, j] = c0[i, j] + alpha * c[i, j]


@numba.njit(**_JIT_INLINE)
def _tiles(ablk, bblk, kc, c, i0, j0, mr, nr, accumulate, edge, bias, add_bias, c0, alpha,
           update, rows):
    """_micro's work for tiles of `rows` rows (a constant where it is inlined, so every tile
    loop has a constant trip count and unrolls completely)."""
    nrt = _nr(c)
    t = numba.carray(_tile_buffer(c), (_MR * nrt,))
    for r in range(ablk.shape[0]):
        a1 = ablk[r]
        i1 = i0 + r * rows
        mr1 = min(rows, mr - r * rows)
        # The C tile is read (or written) only after the k loop; its rows are far apart in
        # memory and would miss cache then. Fetching them now overlaps that latency with the FMAs.
        for i in range(mr1):
            _prefetch(c, i1 + i, j0)
            _prefetch(c, i1 + i, j0 + nr - 1)
        # Starting from the bias costs nothing; adding it after the k loop, in a pass over the
        # stored tile, cost a dense layer's forward product 5-10%.
        if add_bias:
            for i in range(rows):
                for j in range(nrt):
                    t[i * nrt + j] = bias[j0 + j]
        else:
            for q in range(rows * nrt):
                t[q] = 0
        for p in range(kc):
            for i in range(rows):
                ai = _at(a1, i, p)
                for j in range(nrt):
                    t[i * nrt + j] += ai * _at_row(bblk, p, j)
        if mr1 == rows and nr == nrt:
            if update:
                for i in range(rows):
                    _update_row(c, c0, i1 + i, j0, t, i * nrt, alpha, accumulate)
                    # c0 (a weight matrix) comes from memory: fetch the next tile's rows while
                    # it computes. (Prefetching each tile's own, as for c, cost products
                    # without an update 1-3 %.)
                    _prefetch_read(c0, i1 + rows + i, j0)
                    _prefetch_read(c0, i1 + rows + i, j0 + nrt - 1)
            else:
                for i in range(rows):
                    row = c[i1 + i][j0:]
                    if accumulate:
                        for j in range(nrt):
                            row[j] += t[i * nrt + j]
                    else:
                        for j in range(nrt):
                            row[j] = t[i * nrt + j]
        else:
            # Variable bounds on t would force it out of registers: spill it whole, then copy.
            for i in range(rows):
                for j in range(nrt):
                    edge[i * nrt + j] = t[i * nrt + j]
            for i in range(mr1):
                row = c[i1 + i][j0:]
                for j in range(nr):
                    v = edge[i * nrt + j]
                    if accumulate:
                        v += row[j]
                    if update:
                        v = c0[i1 + i, j0 + j] + alpha[0] * v
                    row[j] = v


@disk_cache
@numba.njit(**_JIT)
def _micro(ablk, bblk, kc, c, i0, j0, mr, nr, accumulate, edge, bias, add_bias, c0, alpha,
           update, short):
    """c[i0:i0+mr, j0:j0+nr] (+)= (slivers of ablk) @ bblk (+ bias), one register tile per sliver.

    With add_bias, the tile starts from bias[j0:j0+NR] rather than 0 (bias is zero-padded to
    whole tiles), so the caller sets it for the first k block only. With update (the last k
    block of a product with c0), what is stored is c0 + alpha[0] * (what would have been):
    alpha is an array so that it is read after the k loop, rather than held in a vector
    register through it (which left one register fewer to the loop, and products without an
    update ran 1-2 % slower).

    ablk (s x rows x kc) holds s A slivers of rows = _MR (or _MR - 1 if short) rows for the mr
    rows from i0 on (the last one may be partly padding), with any strides (packed slivers or
    rows of op(a) itself); bblk (kc x NR) must have contiguous rows (a packed sliver or rows of
    op(b)). Short tiles let a block of rows that is no multiple of _MR be cut exactly (see
    _short_slivers). Looping over the slivers here rather than in the driver amortises the call and
    its argument set-up over several tiles (it matters for short k). Compiled only inside
    _vectorising_config(): the fully unrolled tile loops become scalar accumulator chains that
    the SLP vectoriser packs into vector FMAs; the loop vectoriser must be off or it vectorises
    the k loop with gathers.
    """
    if short:
        _tiles(ablk, bblk, kc, c, i0, j0, mr, nr, accumulate, edge, bias, add_bias, c0, alpha,
               update, _MR - 1)
    else:
        _tiles(ablk, bblk, kc, c, i0, j0, mr, nr, accumulate, edge, bias, add_bias, c0, alpha,
               update, _MR)


@intrinsic
def _unit(typingctx, vec):
    """Retype a 1-D view whose stride the caller has checked to be one element as C-contiguous:
    Numba then addresses it without the stride, so copies through it vectorise."""
    if not isinstance(vec, types.Array) or vec.ndim != 1:
        return None

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])

    return vec.copy(layout="C")(vec), codegen


def _vector_copy(count):
    """An intrinsic ``copy(dst, d0, src, s0)``: dst[d0:d0 + n] = src[s0:s0 + n] for two
    unit-stride 1-D arrays, n = count(dtype) elements, as one vector load and one vector store.
    Written element by element, LLVM cannot rule out that the two overlap, and the f32 copy of
    a B sliver row stayed scalar (96 scalar moves per row): packing B ran at a third of a
    plain copy's speed, 10 % of a 128 x 784 @ 784 x 256 product (MATMUL_NOTES.md round 9)."""

    @intrinsic
    def copy(typingctx, dst, d0, src, s0):
        if not (isinstance(dst, types.Array) and isinstance(src, types.Array) and
                dst.ndim == src.ndim == 1 and dst.dtype == src.dtype):
            return None
        size = dst.dtype.bitwidth // 8

        def codegen(context, builder, sig, args):
            vec = llvmir.VectorType(context.get_data_type(dst.dtype), count(size)).as_pointer()
            d = context.make_array(sig.args[0])(context, builder, args[0])
            s = context.make_array(sig.args[2])(context, builder, args[2])
            value = builder.load(builder.bitcast(builder.gep(s.data, [args[3]]), vec),
                                 align=size)
            builder.store(value, builder.bitcast(builder.gep(d.data, [args[1]]), vec),
                          align=size)
            return context.get_dummy_value()

        return types.none(dst, d0, src, s0), codegen

    return copy


@intrinsic
def _transpose_chunk(typingctx, dst, d0, src, p0):
    """dst[d0 + q * NR + j] = src[p0 + q, j] for q < _KSTEP, j < NR, where src's columns are
    contiguous (its first stride is one element): NR vector loads of a column's _KSTEP
    elements, _KSTEP x _KSTEP blocks transposed in registers by shuffles, and vector stores.
    Element by element, the transposing pack of a B stored transposed stayed scalar: 0.34 ms
    of a 2.6 ms 128 x 1024 @ (784 x 1024)^T f32 product, where a plain copy of the same bytes
    takes 0.09 ms (MATMUL_NOTES.md round 9)."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array) and dst.ndim == 1
            and src.ndim == 2 and dst.dtype == src.dtype):
        return None
    size = dst.dtype.bitwidth // 8
    nr, w = _ROW_BYTES // size, _KSTEP
    if nr % w or w & (w - 1):  # (whole blocks of a power-of-two size: every tile here)
        return None

    def codegen(context, builder, sig, args):
        elt = context.get_data_type(dst.dtype)
        vec = llvmir.VectorType(elt, w)
        i8p, i32 = llvmir.IntType(8).as_pointer(), llvmir.IntType(32)
        d = context.make_array(sig.args[0])(context, builder, args[0])
        s = context.make_array(sig.args[2])(context, builder, args[2])
        col_stride = cgutils.unpack_tuple(builder, s.strides, 2)[1]
        start = builder.bitcast(builder.gep(s.data, [args[3]]), i8p)
        base = builder.gep(d.data, [args[1]])
        for g in range(0, nr, w):
            rows = [builder.load(builder.bitcast(
                builder.gep(start, [builder.mul(col_stride, col_stride.type(g + j))]),
                vec.as_pointer()), align=size) for j in range(w)]
            # Each stage swaps one bit of the row index with that bit of the element index
            # between the rows i and i + k; after log2(w) stages rows[q][j] = column j's q.
            k = 1
            while k < w:
                low = [(w + e - k) if e & k else e for e in range(w)]
                high = [(w + e) if e & k else (e + k) for e in range(w)]
                for i in range(w):
                    if not i & k:
                        a, b = rows[i], rows[i + k]
                        rows[i] = builder.shuffle_vector(a, b, llvmir.Constant(
                            llvmir.VectorType(i32, w), low))
                        rows[i + k] = builder.shuffle_vector(a, b, llvmir.Constant(
                            llvmir.VectorType(i32, w), high))
                k *= 2
            for q in range(w):
                dp = builder.gep(base, [context.get_constant(types.intp, q * nr + g)])
                builder.store(rows[q], builder.bitcast(dp, vec.as_pointer()), align=size)
        return context.get_dummy_value()

    return types.none(dst, d0, src, p0), codegen


_copy_nr = _vector_copy(lambda size: _ROW_BYTES // size)  # a B sliver's row
_copy_mr = _vector_copy(lambda size: _MR)  # an A sliver's column


@intrinsic
def _slivers(typingctx, arr, count, rows, kc, sliver_stride, row_stride, col_stride):
    """A (count, rows, kc) view of arr's data with the given strides in bytes: the A slivers of a
    row block for _micro. (np.lib.stride_tricks.as_strided and a 3-D transpose did the same but
    doubled the driver's cold compile time.)"""
    if not isinstance(arr, types.Array):
        return None
    retty = types.Array(arr.dtype, 3, "A", readonly=not arr.mutable)

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, args[0])
        view = context.make_array(retty)(context, builder)
        populate_array(view, data=src.data,
                       shape=list(args[1:4]), strides=list(args[4:7]), itemsize=src.itemsize,
                       meminfo=src.meminfo, parent=src.parent)
        return impl_ret_borrowed(context, builder, retty, view._getvalue())

    return retty(arr, *(types.intp,) * 6), codegen


@disk_cache
@numba.njit(**_JIT)
def _pack_a(blk, apack):
    """Pack blk (mc x kc) as _MR-row slivers, k-major inside a sliver, zero padded.

    When a sliver column is contiguous each k step is one vector copy. Otherwise the copy walks
    _KSTEP k steps of all sliver rows at a time, so every source cache line is used fully
    before it can be evicted; gathering one k step across rows that lie a power-of-two stride
    apart thrashed one L1 set (2-5x slower at ld = 512, 1024), and reading whole rows with
    strided writes was slower still. Indices are loop counters on views: no wraparound code.
    """
    mc, kc = blk.shape
    for s in range(0, mc, _MR):
        rows = min(_MR, mc - s)
        src = blk[s:s + rows]
        dst = apack[s * kc:]
        if rows == _MR and blk.strides[0] == blk.itemsize:
            for p in range(kc):
                _copy_mr(dst, p * _MR, _unit(src[:, p]), 0)
        elif rows == _MR:
            p0 = 0
            while p0 + _KSTEP <= kc:
                chunk = src[:, p0:p0 + _KSTEP]
                d = dst[p0 * _MR:]
                for i in range(_MR):
                    for q in range(_KSTEP):
                        d[q * _MR + i] = chunk[i, q]
                p0 += _KSTEP
            for p in range(p0, kc):
                d = dst[p * _MR:]
                for i in range(_MR):
                    d[i] = src[i, p]
        else:
            for p in range(kc):
                d = dst[p * _MR:]
                for i in range(rows):
                    d[i] = src[i, p]
                for i in range(rows, _MR):
                    d[i] = 0


@disk_cache
@numba.njit(**_JIT)
def _pack_b(blk, bpack):
    """Pack blk (kc x nc) as NR-column slivers, k-major inside a sliver, zero padded.

    With contiguous rows, the full slivers are filled row by row: each source row is read
    front to back, so the hardware prefetcher streams it. Filling one sliver at a time instead
    read kc rows a whole row stride apart, each on a page of its own when rows are >= 4 KiB
    (a 784 x 1024 f32 W: 2.5x slower, 12% of the dense layer's X @ W). Other layouts are
    copied as in _pack_a.
    """
    kc, nc = blk.shape
    nrt = _nr(bpack)
    s0 = 0
    if blk.strides[1] == blk.itemsize:
        s0 = nc - nc % nrt
        for p in range(kc):
            row = _unit(blk[p])
            for s in range(0, s0, nrt):
                _copy_nr(bpack, s * kc + p * nrt, row, s)
    for s in range(s0, nc, nrt):
        cols = min(nrt, nc - s)
        src = blk[:, s:s + cols]
        dst = bpack[s * kc:]
        if cols == nrt:
            p0 = 0
            if blk.strides[0] == blk.itemsize:  # columns contiguous (a transposed view)
                while p0 + _KSTEP <= kc:
                    _transpose_chunk(dst, p0 * nrt, src, p0)
                    p0 += _KSTEP
            while p0 + _KSTEP <= kc:
                chunk = src[p0:p0 + _KSTEP]
                d = dst[p0 * nrt:]
                for j in range(nrt):
                    for q in range(_KSTEP):
                        d[q * nrt + j] = chunk[q, j]
                p0 += _KSTEP
            for p in range(p0, kc):
                d = dst[p * nrt:]
                for j in range(nrt):
                    d[j] = src[p, j]
        else:
            for p in range(kc):
                d = dst[p * nrt:]
                for j in range(cols):
                    d[j] = src[p, j]
                for j in range(cols, nrt):
                    d[j] = 0


@numba.njit(**_JIT_INLINE)
def _axpy(alpha, x, y):
    """y += alpha * x over contiguous vectors (the loop vectoriser handles it)."""
    for t in range(y.shape[0]):
        y[t] += alpha * x[t]


@disk_cache
@numba.njit(nogil=True, error_model="numpy", boundscheck=False, fastmath={"contract", "reassoc"})
def _dot(x, y):
    """Dot product of contiguous vectors; reassoc lets the reduction vectorise (BLAS reorders
    sums just the same)."""
    acc = _zero(x)
    for t in range(x.shape[0]):
        acc += x[t] * y[t]
    return acc


@numba.njit(**_JIT_INLINE)
def _direct_mode(a2, b2):
    """How _gemm_direct should run this problem, or _PACKED if the packed path is better.

    Direct loops beat packing when the problem is tiny or when one side is so narrow that
    packing the other operand and padding the tile dominate (matrix-vector shapes) - but only
    with a unit-stride innermost loop that is long enough; see MATMUL_NOTES.md.
    """
    m, k = a2.shape
    n = b2.shape[1]
    unit = a2.itemsize
    tiny = m * n * k <= _TINY_MACS
    if not tiny and min(m, n) > _DIRECT_MN:
        return _PACKED
    # The unit-stride loop available in each loop order, and its length. From m = 3 on, the
    # packed path (which then reads such a B in place) beat the row-axpy order.
    best, length = _SCALAR, 0
    if b2.strides[1] == unit and (m <= 2 or tiny):
        best, length = _ROW_AXPY, n
    if a2.strides[1] == unit and b2.strides[0] == unit and k > length:
        best, length = _DOT, k
    if a2.strides[0] == unit and m > length:
        best, length = _COL_AXPY, m
    if tiny or length >= _DIRECT_MIN_VECTOR:
        return best
    # Otherwise a contiguous copy of the narrow operand (cheap: it is narrow) makes the
    # dot-product order available, e.g. x @ W for a row-major W with 3 columns.
    if k >= _DIRECT_MIN_VECTOR:
        if n <= _DIRECT_MN and a2.strides[1] == unit:
            return _DOT_COPY_B
        if m <= _DIRECT_MN and b2.strides[0] == unit:
            return _DOT_COPY_A
    return _PACKED


@numba.njit(**_JIT_INLINE)
def _gemm_direct(a2, b2, c, mode):
    """c = a2 @ b2 without packing, in the loop order chosen by _direct_mode."""
    m, k = a2.shape
    n = b2.shape[1]
    if mode == _ROW_AXPY:
        for i in range(m):
            crow = c[i]
            crow[:] = 0
            arow = a2[i]
            for p in range(k):
                _axpy(arow[p], _unit(b2[p]), crow)
    elif mode == _DOT or mode == _DOT_COPY_A or mode == _DOT_COPY_B:
        # One variable per operand (typed as the general layout) keeps this to one
        # instantiation of the dot loop.
        at = a2
        bt = b2.T
        if mode == _DOT_COPY_A:
            at = np.ascontiguousarray(a2)
        elif mode == _DOT_COPY_B:
            bt = np.ascontiguousarray(bt)
        for i in range(m):
            arow = _unit(at[i])
            crow = c[i]
            for j in range(n):
                crow[j] = _dot(arow, _unit(bt[j]))
    elif mode == _COL_AXPY:
        col = np.empty(m, c.dtype)
        for j in range(n):
            col[:] = 0
            for p in range(k):
                _axpy(b2[p, j], _unit(a2[:, p]), col)
            for i in range(m):
                c[i, j] = col[i]
    else:
        for i in range(m):
            for j in range(n):
                acc = _zero(c)
                for p in range(k):
                    acc += a2[i, p] * b2[p, j]
                c[i, j] = acc


@numba.njit(**_JIT_INLINE)
def _gemm_packed(a2, b2, c, apack, bpack, edge, kcb, mcb, ncb, bias, has_bias, shared, c0,
                 factor, has_c0):
    """c = a2 @ b2 + bias (c = c0 + factor[0] * (a2 @ b2 + bias) with has_c0) through packed
    panels and the register-tile micro-kernel.

    shared: empty, or all of b2 packed already (see pack_shared_b), as threads that split a
    product by rows share it; then b2 is not read."""
    m, k = a2.shape
    n = b2.shape[1]
    nrt = _nr(c)
    # Operands are read in place (only partial slivers, which need zero padding, are packed)
    # where packing would not pay: with a single B sliver (n <= NR) every A sliver is read
    # once, with a single A sliver (m <= _MR) every B sliver is (if its rows are contiguous, as
    # the micro-kernel needs), an A that fits in L2 serves its broadcasts from cache anyway
    # (3-14% faster up to n = 256; for large A, packing was as fast or faster; a transposed A
    # only up to a smaller size on AVX2, see _DIRECT_A_T_BYTES), as does an A
    # whose rows are contiguous and short (k <= 32 f64, 64 f32: convolution patches), so that
    # an A sliver is one block of at most 2 KiB, as compact as a packed one (1.2-1.4x faster
    # for 4096 x 27 and 8192 x 32 f64 A); and so does a B with contiguous rows that fits in L1
    # (small batched products: packing it was a fifth of the time of a batch of 64^3 f32).
    a_bytes = m * k * a2.itemsize
    a_rows = a2.strides[1] == a2.itemsize
    direct_a = (n <= nrt or a_bytes <= _DIRECT_A_T_BYTES
                or (a_rows and a_bytes <= _DIRECT_A_BYTES)
                or (a_rows and 0 <= a2.strides[0] <= _DIRECT_A_ROW_BYTES))
    direct_b = b2.strides[1] == b2.itemsize and (m <= _MR or k * n * b2.itemsize <= _DIRECT_B_BYTES)
    prepacked = shared.shape[0] > 0
    if prepacked:
        direct_b = False
    for jc in range(0, n, ncb):
        nc = min(ncb, n - jc)
        nc_full = nc - nc % nrt if direct_b else 0
        for pc in range(0, k, kcb):
            kc = min(kcb, k - pc)
            if not prepacked:
                _pack_b(b2[pc:pc + kc, jc + nc_full:jc + nc], bpack)
            for ic in range(0, m, mcb):
                mc = min(mcb, m - ic)
                # The block's rows: `tall` in _MR-row slivers (the last one partial if short is
                # 0), then `short` slivers of _MR - 1 rows. Those read in place are whole.
                short = _short_slivers(mc)
                tall = mc - short * (_MR - 1)
                in_place = tall - tall % _MR if direct_a else 0
                _pack_a(a2[ic + in_place:ic + tall, pc:pc + kc], apack)
                packed = -(-(tall - in_place) // _MR) * _MR * kc
                for s in range(short if not direct_a else 0):
                    r0 = ic + tall + s * (_MR - 1)
                    _pack_a(a2[r0:r0 + _MR - 1, pc:pc + kc], apack[packed + s * _MR * kc:])
                # The block's A slivers as _micro reads them: in place, packed, and short
                # (views with no slivers where there are none).
                blk = a2[ic:, pc:]
                rs, cs = blk.strides
                unit = apack.itemsize
                a_in_place = _slivers(blk, in_place // _MR, _MR, kc, _MR * rs, rs, cs)
                a_packed = _slivers(apack, packed // (_MR * kc), _MR, kc, kc * _MR * unit, unit,
                                    _MR * unit)
                if direct_a:
                    a_short = _slivers(blk[tall:], short, _MR - 1, kc, (_MR - 1) * rs, rs, cs)
                else:
                    a_short = _slivers(apack[packed:], short, _MR - 1, kc, kc * _MR * unit,
                                       unit, _MR * unit)
                for jr in range(0, nc, nrt):
                    nr = min(nrt, nc - jr)
                    if jr < nc_full:
                        bblk = b2[pc:pc + kc, jc + jr:jc + jr + nrt]
                    elif prepacked:
                        q = (jc + jr) * k + pc * nrt
                        bblk = shared[q:q + kc * nrt].reshape(kc, nrt)
                    else:
                        q = (jr - nc_full) * kc
                        bblk = bpack[q:q + kc * nrt].reshape(kc, nrt)
                    add_bias = pc == 0 and has_bias
                    update = has_c0 and pc + kc == k
                    if in_place > 0:
                        _micro(a_in_place, bblk, kc, c, ic, jc + jr, in_place, nr, pc > 0, edge,
                               bias, add_bias, c0, factor, update, False)
                    if tall > in_place:
                        _micro(a_packed, bblk, kc, c, ic + in_place, jc + jr, tall - in_place, nr,
                               pc > 0, edge, bias, add_bias, c0, factor, update, False)
                    if short > 0:
                        _micro(a_short, bblk, kc, c, ic + tall, jc + jr, short * (_MR - 1), nr,
                               pc > 0, edge, bias, add_bias, c0, factor, update, True)


@numba.njit(**_JIT_INLINE)
def _short_slivers(mc):
    """How many slivers of _MR - 1 rows end a block of mc rows so that it is cut exactly
    (mc = _MR * tall slivers + (_MR - 1) * short), or 0 if it cannot be (the last _MR-row
    sliver is then zero padded). With 6-row tiles, m = 128 is 18 x 6 + 4 x 5 rather than
    22 x 6 with 4 rows of padding: 3 % of the work of every product of a batch of 128."""
    short = (_MR - mc % _MR) % _MR
    return short if short * (_MR - 1) <= mc else 0


@numba.njit(**_JIT_INLINE)
def _split(total, block, align):
    """Block size close to `block` that cuts `total` into equal parts, a multiple of align
    (k = 300 becomes 2 x 150 rather than 256 + 44)."""
    parts = max(1, -(-total // block))
    size = -(-total // parts)
    return -(-size // align) * align


@numba.njit(**_JIT_INLINE)
def _op(x, transpose):
    return x.T if transpose else x


@numba.njit(**_JIT_INLINE)
def _checked_k(a, b, out, transpose_a, transpose_b, bias, has_bias, c0):
    """The contraction length of a call, after checking that a, b, bias and c0 fit out."""
    batch, m, n = out.shape
    k = a.shape[1] if transpose_a else a.shape[2]
    am = a.shape[2] if transpose_a else a.shape[1]
    bk = b.shape[2] if transpose_b else b.shape[1]
    bn = b.shape[1] if transpose_b else b.shape[2]
    if a.shape[0] != batch or b.shape[0] != batch or am != m or bk != k or bn != n:
        raise ValueError("matmul: operand shapes do not match out")
    if has_bias and bias.shape[0] != n:
        raise ValueError("matmul: bias length must equal n")
    if c0.shape != out.shape or (c0.size > 0 and n > 1 and c0.strides[2] != c0.itemsize):
        raise ValueError("matmul: c0 must have out's shape and contiguous rows")
    return k


@numba.njit(**_JIT_INLINE)
def _factor(alpha, like):
    """alpha rounded to like's dtype, in a 1-element array (_micro reads it by reference)."""
    factor = np.empty(1, like.dtype)
    factor[0] = alpha
    return factor


@numba.njit(**_JIT_INLINE)
def _packed_batch(a, b, out, transpose_a, transpose_b, bias, has_bias, k, shared, c0, alpha,
                  has_c0):
    """Every batch item through the packed path (out = bias or 0 when k == 0, then the update
    with c0 and alpha); shared: see _gemm_packed (for a batch of one)."""
    batch, m, n = out.shape
    factor = _factor(alpha, out)
    if k == 0:
        for bi in range(batch):
            out[bi][:] = 0
            if has_bias:
                _epilogue(out[bi], bias)
            if has_c0:
                _update(out[bi], c0[bi], factor[0])
        return
    nrt = _nr(out)
    kcb = _split(k, _KC, 1)
    mcb = _split(m, max(_MR, _MC_BYTES // (kcb * out.itemsize)), _MR)
    ncb = _split(n, max(nrt, _NC_BYTES // (kcb * out.itemsize)), nrt)
    apack = np.empty((mcb + _MR) * kcb, out.dtype)  # + the short slivers' padding
    bpack = np.empty(0 if shared.shape[0] else ncb * kcb, out.dtype)
    edge = np.empty(_MR * nrt, out.dtype)
    # Contiguous and zero-padded to whole tiles, for _micro's vector loads.
    bias_c = np.zeros(-(-n // nrt) * nrt if has_bias else 0, out.dtype)
    # An element loop, not ``bias_c[:n] = bias``: Numba's array slice assignment carries a
    # formatted shape-mismatch error whose string code took 3.4 s of this function's 10.7 s
    # first compile (per dtype, caches empty).
    for j in range(n if has_bias else 0):
        bias_c[j] = bias[j]
    for bi in range(batch):
        _gemm_packed(_op(a[bi], transpose_a), _op(b[bi], transpose_b), out[bi], apack, bpack,
                     edge, kcb, mcb, ncb, bias_c, has_bias, shared, c0[bi], factor, has_c0)


def _matmul_nb(a, b, out, transpose_a, transpose_b, bias, has_bias, c0, alpha, has_c0):
    """njit entry: out[i] = op(a[i]) @ op(b[i]) + bias, or c0[i] + alpha * that with has_c0;
    see matmul() for the contract.

    bias must be a 1-D array of out's dtype even when has_bias is False (any length then), c0 a
    3-D array of out's dtype and shape whose rows are contiguous even when has_c0 is False (out
    itself, say: it is not read then) and alpha a float (a Python float is typed faster than a
    numpy scalar: the call costs less; it is rounded to out's dtype).
    """
    k = _checked_k(a, b, out, transpose_a, transpose_b, bias, has_bias, c0)
    batch, m, n = out.shape
    if batch == 0 or m == 0 or n == 0:
        return
    # Batch items differ only in their base address, so one choice of path serves them all.
    mode = _PACKED if k == 0 else _direct_mode(_op(a[0], transpose_a), _op(b[0], transpose_b))
    if mode == _PACKED:
        _packed_batch(a, b, out, transpose_a, transpose_b, bias, has_bias, k,
                      np.empty(0, out.dtype), c0, alpha, has_c0)
        return
    factor = _factor(alpha, out)
    for bi in range(batch):
        c = out[bi]
        _gemm_direct(_op(a[bi], transpose_a), _op(b[bi], transpose_b), c, mode)
        if has_bias:
            _epilogue(c, bias)
        if has_c0:
            _update(c, c0[bi], factor[0])


def _matmul_packed_nb(a, b, out, transpose_a, transpose_b, bias, has_bias, c0, alpha, has_c0):
    """_matmul_nb without the direct paths, for the calls that cannot take one
    (_may_go_direct): it compiles in about 60% of the time (the direct loops' typing and
    lowering are the rest), and a program whose products are all larger never needs more."""
    k = _checked_k(a, b, out, transpose_a, transpose_b, bias, has_bias, c0)
    batch, m, n = out.shape
    if batch == 0 or m == 0 or n == 0:
        return
    _packed_batch(a, b, out, transpose_a, transpose_b, bias, has_bias, k, np.empty(0, out.dtype),
                  c0, alpha, has_c0)


def _matmul_shared_nb(a, b, shared, out, transpose_a, transpose_b, bias, has_bias, c0, alpha,
                      has_c0):
    """_matmul_packed_nb for one product whose op(b) is packed in shared already (see
    pack_shared_b); b is only checked against out."""
    k = _checked_k(a, b, out, transpose_a, transpose_b, bias, has_bias, c0)
    batch, m, n = out.shape
    if batch != 1 or shared.shape[0] != k * _shared_width(n, out):
        raise ValueError("matmul: a shared packed B is for one product, of k x padded n")
    if m == 0 or n == 0:
        return
    _packed_batch(a, b, out, transpose_a, transpose_b, bias, has_bias, k, shared, c0, alpha,
                  has_c0)


@numba.njit(**_JIT_INLINE)
def _shared_width(n, like):
    """n rounded up to whole tile columns: the width of a shared packed B."""
    nrt = _nr(like)
    return -(-n // nrt) * nrt


def _pack_shared_nb(b, transpose_b, shared, lo, hi):
    """Pack the tile columns [lo, hi) of op(b[0]) (a k x n matrix) into shared: tile column s
    (op(b)'s columns s*NR to s*NR+NR, zero padded) at shared[s*NR*k:], k-major, so that a k
    block of it is one contiguous sliver for _micro."""
    b2 = _op(b[0], transpose_b)
    k, n = b2.shape
    nrt = _nr(shared)
    if shared.shape[0] != k * _shared_width(n, shared) or not 0 <= lo <= hi <= -(-n // nrt):
        raise ValueError("matmul: shared packed B does not fit op(b)")
    if k > 0 and hi > lo:
        _pack_b(b2[:, lo * nrt:min(n, hi * nrt)], shared[lo * nrt * k:])


_DTYPES = (np.float32, np.float64)
# True: every path; False: without the direct paths (see _matmul_packed_nb); "shared": with
# op(b) packed by pack_shared_b; "pack": pack_shared_b's.
_ENTRIES = {True: _matmul_nb, False: _matmul_packed_nb, "shared": _matmul_shared_nb,
            "pack": _pack_shared_nb}
_drivers = {}
_ready = set()


@contextlib.contextmanager
def _vectorising_config():
    """Turn the SLP vectoriser on and the loop vectoriser off for compiles inside the block.

    Numba reads config.SLP_VECTORIZE and config.LOOP_VECTORIZE each time it builds an LLVM pass
    pipeline (CPUCodegen._pass_builder), i.e. per function while lowering and again when a
    library is finalised, not once at codegen start-up; so flipping them around one compile
    affects that compile only. The global compiler lock keeps other threads from compiling while
    they are flipped, and reloading the config first stops the compiler's own reload_config()
    (which re-reads NUMBA_* variables when the environment changed) from undoing them.
    """
    from numba.core import config
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    with global_compiler_lock:
        # The first compile in a process also builds Numba's runtime (NRT) library; do that now
        # so it is not built with these settings.
        cpu_target.target_context.refresh()
        config.reload_config()
        saved = config.SLP_VECTORIZE, config.LOOP_VECTORIZE
        config.SLP_VECTORIZE, config.LOOP_VECTORIZE = 1, 0
        try:
            yield
        finally:
            config.SLP_VECTORIZE, config.LOOP_VECTORIZE = saved


def njit_matmul(dtype):
    """Return the njit entry point, compiled for dtype (float32 or float64).

    The returned dispatcher has the signature
    ``(a, b, out, transpose_a, transpose_b, bias, has_bias, c0, alpha, has_c0) -> None`` with
    the semantics of matmul(); from njit code pass a 1-D array of out's dtype as bias and
    has_bias=False when there is no bias, and out as c0, any float alpha and has_c0=False
    when there is no update. It is the same dispatcher for both dtypes, but each
    dtype must have been requested here (from Python) before njit code calling it with that dtype
    is compiled: implicit compilation is disabled so the micro-kernel can never be built without
    its vectoriser settings.
    """
    return _compiled(dtype, True)


def _compiled(dtype, kind):
    """The entry ``kind`` of _ENTRIES, compiled (or loaded from the disk cache) for dtype."""
    dtype = np.dtype(dtype).type
    if (dtype, kind) in _ready:
        return _drivers[kind]
    if dtype not in _DTYPES:
        raise TypeError(f"matmul: unsupported dtype {np.dtype(dtype)}")
    from numba.core.compiler_lock import global_compiler_lock

    # Numba's (re-entrant) compiler lock rather than a lock of our own: the build takes that
    # lock anyway, and a second lock taken in the other order by a thread that calls this from
    # inside a compile could deadlock.
    with global_compiler_lock:
        if (dtype, kind) in _ready:
            return _drivers[kind]
        nb = numba.from_dtype(dtype)
        ro2 = types.Array(nb, 2, "A", readonly=True)
        micro_sig = (types.Array(nb, 3, "A", readonly=True), ro2, types.intp,
                     types.Array(nb, 2, "C"), types.intp, types.intp, types.intp, types.intp,
                     types.boolean, types.Array(nb, 1, "C"), types.Array(nb, 1, "C"),
                     types.boolean, types.Array(nb, 2, "A", readonly=True),
                     types.Array(nb, 1, "C"), types.boolean, types.boolean)
        with _vectorising_config():
            compile_exclusively(_micro, micro_sig)
        if kind not in _drivers:
            _drivers[kind] = disk_cache(numba.njit(**_JIT)(_ENTRIES[kind]))
        compile_exclusively(_drivers[kind], jobs.signature(kind, nb))
        _ready.add((dtype, kind))
    return _drivers[kind]


_EMPTY = {np.dtype(t): np.empty(0, t) for t in _DTYPES}  # no bias, no shared packed B
_kernels = {}
_addresses = {}


def _address(dtype, kind):
    """The address of the compiled entry ``kind`` for dtype, for a native job (jobs.py)."""
    address = _addresses.get((dtype, kind))
    if address is None:
        cres = _kernel(dtype, kind).overloads[jobs.signature(kind, numba.from_dtype(dtype))]
        address = _addresses[dtype, kind] = cres.library.get_pointer_to_function(
            cres.fndesc.llvm_func_name)
    return address


class Job:
    """matmul(*args, **kw) or pack_shared_b(*args) as a block of parallel.run_blocks: called,
    it runs in this thread; ``describe(row)`` writes it as a native job, which a pool worker
    runs without the GIL (jobs.py), or returns False where it cannot (the worker then calls
    it, with the GIL). The arrays a description points into are kept with the Job (a copy
    made for it would otherwise be freed before the worker reads it)."""

    __slots__ = ("fn", "args", "kw", "kept")

    def __init__(self, fn, *args, **kw):
        self.fn, self.args, self.kw, self.kept = fn, args, kw, None

    def __call__(self):
        self.fn(*self.args, **self.kw)

    def describe(self, row):
        self.kept = self.fn(*self.args, row=row, **self.kw)
        return self.kept is not None


def matmul(a, b, out, transpose_a, transpose_b, bias=None, shared=None, key=None, c0=None,
           alpha=1.0, row=None):
    """out[i] = op(a[i]) @ op(b[i]) + bias  for each batch index i; with c0,
    out[i] = c0[i] + alpha * (op(a[i]) @ op(b[i]) + bias) (the update may be one FMA).

    a: 3-D array (batch, m, k) if not transpose_a else (batch, k, m); any strides, including
       negative strides and stride 0 on the batch axis (from np.broadcast_to).
    b: 3-D array (batch, k, n) if not transpose_b else (batch, n, k); same freedom of strides.
    out: 3-D C-contiguous array (batch, m, n), same dtype as a and b, written (not accumulated).
    op(x) = x.swapaxes(-1, -2) when the flag is set.
    bias: None or 1-D array of length n (added to every row), same dtype.
    dtypes: float32 or float64 for all arrays; accumulation is in that dtype. k == 0 gives
    out = bias or 0.
    shared: None, or for a batch of one, op(b[0]) packed whole by pack_shared_b (threads that
    split a product by rows pack B once between them); b is then only checked against out.
    key: None, or entry(a, b, out, transpose_a) from a caller that knows it in advance
    (static_entry), which saves working it out per call unless a B shared by the batch is
    folded.
    c0: None, or an array of out's shape and dtype (any strides; it must not overlap out);
    alpha: a number (cast to out's dtype). Fusing the update into the product's store saves a
    pass over out: an SGD step's W - lr * (X.T @ G) as one kernel.
    row: None, or an int64 row of jobs.WORDS: the call is not made but written there as a
    native job for a pool worker (see Job); returned are the arrays it reads and writes, which
    the caller keeps until the job is done (c0 may be a copy made here), or None if the call
    cannot be written.
    """
    transpose_a, transpose_b = bool(transpose_a), bool(transpose_b)
    has_c0 = c0 is not None
    if has_c0 and _rows_apart(c0):
        c0 = np.ascontiguousarray(c0)  # the kernel reads its rows as vectors
    if shared is None:
        if key is None or (b.strides[0] == 0 and out.shape[0] > 1):
            batch = out.shape[0] if out.ndim == 3 else 0
            a, b, out, transpose_a, key = _prepared(a, b, out, transpose_a)
            if has_c0 and out.ndim == 3 and out.shape[0] != batch:  # a B shared was folded
                c0 = c0.reshape(out.shape)
        kernel, packed = _kernel(*key), ()
    else:  # the "shared" entry takes the packed B after b
        kernel, packed = _kernel(out.dtype, "shared"), (shared,)
    has_bias = bias is not None
    if not has_bias:
        bias = _EMPTY[out.dtype]
    if not has_c0:
        c0 = out  # (not read)
    alpha = float(alpha)
    if row is not None:
        kind = "shared" if packed else key[1]
        try:
            jobs.describers(out.dtype)[0](
                row, jobs.SHARED_PRODUCT if packed else jobs.PRODUCT, _address(out.dtype, kind),
                a, b, *(packed or (_EMPTY[out.dtype],)), out, transpose_a, transpose_b,
                bias, has_bias, c0, alpha, has_c0)
        except TypeError:  # arguments the entry takes only after matmul()'s checks
            return None
        return (a, b, out, bias, c0) + packed
    try:
        kernel(a, b, *packed, out, transpose_a, transpose_b, bias, has_bias, c0, alpha, has_c0)
    except TypeError:
        # Numba refused the argument types: explain why, or retry with aligned copies.
        a, b, bias, c0 = _checked(a, b, out, bias, c0)
        kernel(a, b, *packed, out, transpose_a, transpose_b, bias, has_bias, c0, alpha, has_c0)


def _rows_apart(c0):
    """Whether c0 (3-D) has rows whose elements are not contiguous, which the kernel, reading
    c0's rows as vectors, cannot take: matmul() copies such a c0, its shortcuts defer to it."""
    return c0.ndim == 3 and c0.size > 0 and c0.shape[2] > 1 and c0.strides[2] != c0.itemsize


def static_call(key, transpose_a, transpose_b):
    """``call(a, b, out, bias, c0=None, alpha=1.0)``: matmul(a, b, out, transpose_a,
    transpose_b, bias, key=key, c0=c0, alpha=alpha) for a batch of one, with what matmul()
    works out per call worked out once (the entry, the flags, the empty bias): a program's
    product runner makes one per product once the entry is loaded. matmul()'s Python took
    1.2 µs of a 128^3 float32 product's 56 through jit (MATMUL_NOTES.md round 16). A c0 whose
    rows are not contiguous, and a call Numba refuses, go through matmul(), which copies c0,
    explains the refusal or retries with aligned copies."""
    kernel = _kernel(*key)
    empty = _EMPTY[key[0]]
    transpose_a, transpose_b = bool(transpose_a), bool(transpose_b)

    def call(a, b, out, bias, c0=None, alpha=1.0):
        has_c0 = c0 is not None
        if not has_c0 or not _rows_apart(c0):
            try:
                kernel(a, b, out, transpose_a, transpose_b, empty if bias is None else bias,
                       bias is not None, c0 if has_c0 else out, float(alpha), has_c0)
                return
            except TypeError:
                pass
        matmul(a, b, out, transpose_a, transpose_b, bias, key=key, c0=c0, alpha=alpha)

    return call


def static_split(key, transpose_a, transpose_b, bounds):
    """``split(run, a, b, out, bias, c0=None, alpha=1.0)``: matmul(a, b, out, transpose_a,
    transpose_b, bias, key=key, c0=c0, alpha=alpha) for a batch of one with out's rows cut at
    ``bounds`` (an int64 array from 0 to m), each block packing all of op(b) (so where
    rows_each_packing_b), handed to ``run(fn, bounds, args)`` (parallel.split_rows), which
    runs jobs.split_rows: every block from one native call. key: static_entry of the blocks'
    sizes, loaded. What it works out per call (the entry's address, the splitter, the flags,
    the empty bias) is worked out once, as in static_call: a program's product runner makes
    one per thread count. split() returns whether it ran: not where matmul() itself must first
    check or copy the operands, or the pool cannot take it now."""
    address = _address(*key)
    splitter = jobs.splitter(key[0])
    empty = _EMPTY[key[0]]
    transpose_a, transpose_b = bool(transpose_a), bool(transpose_b)

    def split(run, a, b, out, bias, c0=None, alpha=1.0):
        has_c0 = c0 is not None
        if has_c0 and _rows_apart(c0):
            return False
        args = (address, a, b, out, transpose_a, transpose_b, empty if bias is None else bias,
                bias is not None, c0 if has_c0 else out, float(alpha), has_c0)
        try:
            result = run(splitter, bounds, args)
        except TypeError:  # arguments the entry takes only after matmul()'s checks
            return False
        if result is None:
            return False
        if result & jobs.FAILED:  # a block's kernel raised: the whole product again, to raise it
            matmul(a, b, out, transpose_a, transpose_b, bias, key=key, c0=c0, alpha=alpha)
        return True

    return split


def entry(a, b, out, transpose_a):
    """The key of the compiled entry that matmul() runs these operands with, for ready() and
    load()."""
    return _prepared(a, b, out, bool(transpose_a))[-1]


def _prepared(a, b, out, transpose_a):
    """The operands as matmul() passes them (a B shared by the batch folded, see
    _fold_shared_b) and the key of the entry it runs them with."""
    if a.ndim == b.ndim == out.ndim == 3 and b.strides[0] == 0:
        a, b, out, transpose_a = _fold_shared_b(a, b, out, transpose_a)
    return a, b, out, transpose_a, (out.dtype, _may_go_direct(a, out, transpose_a))


def ready(key):
    """Whether the entry ``key`` is compiled or loaded in this process (matmul() with operands
    of that key then runs at once instead of compiling for seconds)."""
    return key in _kernels


def load(key):
    """Compile the entry ``key`` (or load it from the disk cache) for this process."""
    kernel = _kernels[key] = _compiled(*key)
    return kernel


def _kernel(dtype, kind):
    kernel = _kernels.get((dtype, kind))
    return load((dtype, kind)) if kernel is None else kernel


def shared_b_size(k, n, dtype):
    """The length of a buffer for pack_shared_b (k by n rounded up to whole tiles), and the
    number of tile columns to pack."""
    nrt = _ROW_BYTES // np.dtype(dtype).itemsize
    columns = -(-n // nrt)
    return k * columns * nrt, columns


def pack_shared_b(b, transpose_b, shared, lo, hi, row=None):
    """Pack tile columns [lo, hi) of op(b[0]) into shared (of shared_b_size's length and
    b's dtype): the threads of a row split each pack a part, then every thread's matmul(...,
    shared=shared) reads the packed B rather than packing all of it again. row: as matmul's."""
    if row is None:
        _kernel(shared.dtype, "pack")(b, bool(transpose_b), shared, lo, hi)
        return None
    try:
        jobs.describers(shared.dtype)[1](row, _address(shared.dtype, "pack"), b,
                                         bool(transpose_b), shared, lo, hi)
    except TypeError:
        return None
    return b, shared


_SMALL_B_BYTES = 256 * 1024


def small_b(k, n, itemsize):
    """Whether op(b) is small enough for each thread of a row split to pack all of it: at
    most 256 KiB, where packing it twice costs less than the hand-off of packing it once
    between the threads (MATMUL_NOTES.md, round 13)."""
    return k * n * itemsize <= _SMALL_B_BYTES


# Rows per block from which a native row split (static_split, each block packing all of op(b))
# beat the other splits even for a large B (two threads, interleaved in one process, MATMUL_NOTES
# round 14): 1.04-1.34x faster than rows sharing one pack or column blocks from 56 x 300 x 1100
# f64 up to 2048^3, 0.96x at 64 x 2048 x 2048, 0.74-0.85x at 32 x 1024 x 2048, 0.59x at
# 16 x 4096 x 4096 (every block packs a B that a few rows then use).
_NATIVE_ROWS_PER_BLOCK = 24


def rows_each_packing_b(m, n, k, itemsize, parts):
    """Whether `parts` threads should split one m x k by k x n product into row blocks that
    each pack all of op(b) (static_split): where B is small or each block has enough rows."""
    return small_b(k, n, itemsize) or m >= _NATIVE_ROWS_PER_BLOCK * parts


def split_columns(m, n, k, itemsize, parts):
    """Whether `parts` threads computing one m x k by k x n product should each take a block of
    out's columns (into a buffer of their own, then copied) rather than a block of its rows.

    A row block reads all of B on every thread (each packed all of it, until the threads
    shared one pack: pack_shared_b); a column block reads only its part of B but copies its
    part of out, and packs all of A unless A is read in place. Summed CPU time over both
    threads (interleaved, 2026-12-02) followed this count: columns took 0.80-0.86x the rows'
    CPU time for the dense layer's X @ W, 0.84-0.98x for G @ W.T; rows were cheaper for
    X.T @ G and 512^2 squares (1.06-1.34x and 1.05-1.22x with columns). With the shared pack
    the choice held (MATMUL_NOTES.md, round 4)."""
    a_packed = m * k * itemsize > _DIRECT_A_BYTES
    return m * n // parts + (m * k if a_packed else 0) < k * n


def _may_go_direct(a, out, transpose_a):
    """Whether _direct_mode may choose a direct path for this call (tiny, or an output side of
    at most _DIRECT_MN); arrays that are not 3-D go to the full entry too, which rejects them."""
    if a.ndim != 3 or out.ndim != 3:
        return True
    m, n = out.shape[1:]
    return _direct_possible(m, n, a.shape[1] if transpose_a else a.shape[2])


def _direct_possible(m, n, k):
    """_may_go_direct from the sizes alone."""
    return min(m, n) <= _DIRECT_MN or m * n * k <= _TINY_MACS


def static_entry(dtype, m, n, k):
    """entry() of 3-D operands of these sizes whose batch matmul() does not fold, for callers
    that know the sizes in advance (matmul(..., key=))."""
    return np.dtype(dtype), _direct_possible(m, n, k)


def _fold_shared_b(a, b, out, transpose_a):
    """When b is one matrix broadcast over the batch and op(a)'s rows are evenly spaced across
    the batch, view op(a) as a single (batch*m, k) matrix so B is packed once, not per item."""
    batch, m = out.shape[:2]
    av = a.swapaxes(1, 2) if transpose_a else a
    if (batch > 1 and m > 0 and a.shape[0] == b.shape[0] == batch and av.shape[1] == m
            and av.strides[0] == m * av.strides[1] and out.flags.c_contiguous):
        a = np.lib.stride_tricks.as_strided(
            av, (1, batch * m, av.shape[2]), (0, av.strides[1], av.strides[2]))
        return a, b[:1], out.reshape(1, batch * m, out.shape[2]), False
    return a, b, out, transpose_a


def _checked(a, b, out, bias, c0):
    """Explain a rejected call, or return aligned copies of misaligned inputs to retry with."""
    dtype = out.dtype
    if a.dtype != dtype or b.dtype != dtype or bias.dtype != dtype or c0.dtype != dtype:
        raise TypeError("matmul: a, b, out, bias and c0 must share one dtype")
    if a.ndim != 3 or b.ndim != 3 or out.ndim != 3 or bias.ndim != 1 or c0.ndim != 3:
        raise ValueError("matmul: a, b, out and c0 must be 3-D and bias 1-D")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("matmul: out must be C-contiguous and writeable")
    # Numba's signatures take aligned arrays only; misaligned views are rare, so copy them.
    if not out.flags.aligned:
        raise ValueError("matmul: out must be aligned")
    if not (a.flags.aligned and b.flags.aligned and bias.flags.aligned and c0.flags.aligned):
        return a.copy(), b.copy(), bias.copy(), c0.copy()
    raise TypeError("matmul: unsupported argument types")
