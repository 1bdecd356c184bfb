"""Scalar helpers called by generated kernels (inlined): a branch-free select, numpy's
NaN-propagating maximum and minimum, a population count, integer gcd, the reassociable
addition that lets reductions vectorise, a promise that a loop index is not negative, the
smaller of two integers and a float64 scratch array."""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from jitgrad.backend.cache import inline_helper

# Inlined into kernels by LLVM (see vmath._jit).
_helper = inline_helper(error_model="numpy")


@intrinsic
def select(typingctx, c, a, b):
    """``a if c else b`` as one LLVM ``select`` of two values already computed. A conditional
    expression is two basic blocks for Numba, whose SSA reconstruction grows with blocks times
    variables: a kernel of 190 selects (t.cdf's value and gradient) took 20 s to compile."""
    ty = typingctx.unify_pairs(types.unliteral(a), types.unliteral(b))
    if not isinstance(types.unliteral(c), types.Boolean) or ty is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.select(args[0], args[1], args[2])

    return ty(types.boolean, ty, ty), codegen


@_helper
def max_nan(a, b):
    # numpy.maximum: NaN if either is NaN; on equality the second operand (as numpy).
    return select((a > b) | (a != a), a, b)


@_helper
def min_nan(a, b):
    return select((a < b) | (a != a), a, b)


@intrinsic
def imin(typingctx, a, b):
    """The smaller of two integers (a loop's last block). Numba's ``min`` builtin is compiled
    in every process that types it (0.04 s CPU); this is one compare and select."""
    if not (isinstance(a, types.Integer) and isinstance(b, types.Integer)):
        return None
    ty = typingctx.unify_pairs(types.unliteral(a), types.unliteral(b))
    if not isinstance(ty, types.Integer):  # (int64 with uint64 unifies to float64)
        return None

    def codegen(context, builder, signature, args):
        x, y = (context.cast(builder, v, t, ty) for v, t in zip(args, signature.args, strict=True))
        less = builder.icmp_signed("<", x, y) if ty.signed else builder.icmp_unsigned("<", x, y)
        return builder.select(less, x, y)

    return ty(a, b), codegen


@intrinsic
def radd(typingctx, a, b):
    """``a + b`` with LLVM's ``reassoc`` flag on this one addition: an accumulation written
    with it may be reordered (vectorised into partial sums), and nothing else in the loop
    is. NaN and Inf propagate as usual (no nnan/ninf)."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc", "contract"))

    return a(a, b), codegen


@intrinsic
def nonneg(typingctx, i):
    """``i``, promising LLVM that it is not negative. Numba wraps negative indices around; for
    an index LLVM cannot bound below (``c + j`` in a blocked loop) that check stays in the
    loop and turns its vector loads into gathers."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        assume = builder.module.declare_intrinsic(
            "llvm.assume", fnty=ir.FunctionType(ir.VoidType(), [ir.IntType(1)]))
        builder.call(assume, [builder.icmp_signed(">=", args[0], args[0].type(0))])
        return args[0]

    return i(i), codegen


@_helper
def scratch_f64(shape):
    # A kernel's own float64 scratch (the row sums of float32 column reductions). Through
    # this cached helper, not ``np.empty`` in the kernel: Numba compiles np.empty's
    # implementation in every process that types it (0.2 s CPU here, once per process, plus
    # more lowering per kernel), while a helper brings it along compiled.
    return np.empty(shape, np.float64)


@_helper
def gcd_int(a, b):
    # Euclid's algorithm on the absolute values (numpy.gcd; gcd(0, 0) is 0).
    a, b = abs(a), abs(b)
    while b != 0:
        a, b = b, a % b
    return a


@intrinsic
def popcount(typingctx, a):
    """The number of 1 bits of an integer (LLVM's ``ctpop``), as a uint8."""
    if not isinstance(a, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        n = builder.ctpop(args[0])
        return builder.trunc(n, ir.IntType(8)) if a.bitwidth > 8 else n

    return types.uint8(a), codegen


def _nan_propagating(name: str):
    """``llvm.maximum``/``llvm.minimum``: numpy's NaN-propagating max/min, which LLVM can
    vectorise as a reduction (a compare-and-select chain it cannot)."""

    @intrinsic
    def extremum(typingctx, a, b):
        if not (isinstance(a, types.Float) and a == b):
            return None

        def codegen(context, builder, signature, args):
            ty = args[0].type
            fn = builder.module.declare_intrinsic(f"llvm.{name}", [ty],
                                                  fnty=ir.FunctionType(ty, [ty, ty]))
            return builder.call(fn, args)

        return a(a, b), codegen

    return extremum


rmax = _nan_propagating("maximum")
rmin = _nan_propagating("minimum")
