"""matmul: GFLOP/s of square products in the four transpose cases and of a dense layer's three
products, against the FMA peak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf import machine
from perf.harness import Context
from perf.peers import tree_map
from perf.report import Row, Section

PEERS = ["jitgrad", "jitgrad auto", "numpy", "jax", "torch"]
OPS = {"A@B": (False, False), "A.T@B": (True, False), "A@B.T": (False, True),
       "A.T@B.T": (True, True)}
# A 784-1024 dense layer at batch 128 (the mnist example's first layer): (case, op, m, n, k):
# the forward X·W, the weight gradient Xᵀ·G (X stored 128×784, so op(a) is a transposed view)
# and the input gradient G·Wᵀ (W stored 784×1024).
LAYER = [("X@W 128×784 @ 784×1024", "A@B", 128, 1024, 784),
         ("X.T@G 784×128 @ 128×1024", "A.T@B", 784, 1024, 128),
         ("G@W.T 128×1024 @ 1024×784", "A@B.T", 128, 784, 1024)]


def product(ta: bool, tb: bool) -> Callable:
    def matmul(a: Any, b: Any) -> Any:
        return (a.T if ta else a) @ (b.T if tb else b)

    return matmul


def run(ctx: Context) -> Section:
    import jitgrad as jg

    sizes = (128, 512) if ctx.quick else (128, 256, 512, 1024, 2048)
    section = Section("matmul", "GFLOP/s of matrix products (2mnk flops per product)",
                      PEERS, extra=["FMA peak"])
    rng = np.random.default_rng(0)
    saved = jg.config.matmul
    peaks = {dtype: machine.fma_peak(dtype) for dtype in (np.float32, np.float64)}  # before load

    def in_mode(mode: str, fn: Callable) -> Callable:
        def call(a: Any, b: Any) -> Any:
            jg.config.matmul = mode
            return fn(a, b)

        return call

    try:
        for dtype in (np.float32, np.float64):
            cases = [(f"{op} n={n}", op, n, n, n) for n in sizes for op in OPS] + LAYER
            for label, op, m, n, k in cases:
                ta, tb = OPS[op]
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)

                def timed(fn: Callable, args: list, block: Callable = lambda r: r):
                    return ctx.timed(lambda: block(fn(*args)))

                samplers = {
                    "jitgrad": timed(in_mode("jitgrad", jg.jit(product(ta, tb))), [a, b]),
                    "jitgrad auto": timed(in_mode("auto", jg.jit(product(ta, tb))), [a, b]),
                    "numpy": timed(product(ta, tb), [a, b])}
                for name in ("jax", "torch"):
                    if name in ctx.libs:
                        lib = ctx.libs[name]
                        samplers[name] = timed(lib.jit(product(ta, tb)),
                                               tree_map(lib.put, [a, b]), lib.block)
                case = f"{label} {np.dtype(dtype).name}"
                expect = product(ta, tb)(a.astype(np.float64), b.astype(np.float64))
                results = ctx.measure(case, samplers, expect=[expect],
                                      tol=1e-4 if dtype == np.float32 else 1e-10)
                flops = 2 * m * n * k
                section.rows.append(Row(
                    case, results, lambda t, f=flops: f"{f / t / 1e9:.1f} GFLOP/s",
                    {"m": m, "n": n, "k": k, "dtype": np.dtype(dtype).name, "op": op},
                    {"FMA peak": f"{peaks[dtype]:.0f}"}))
    finally:
        jg.config.matmul = saved
    section.notes += [
        "jitgrad: jit(lambda a, b: a.T @ b) etc. (transposes folded into the matmul's flags), "
        "with jitgrad.config.matmul = \"jitgrad\" (its own Numba kernel) and \"auto\".",
        "Square rows n×n @ n×n; layer rows: the forward product and both gradient products of a "
        "784→1024 dense layer at batch 128 (X 128×784, W 784×1024, G 128×1024), with the "
        "transposed operand a view of the stored array, as in the gradient program.",
        "numpy: `a.T @ b` on views (OpenBLAS); jax: jax.jit of the same function on device "
        "arrays; torch: the same on tensors.",
        "FMA peak: GFLOP/s of one core measured at the start of this workload by a "
        "Horner-polynomial FMA probe (≈ 95 f64, ≈ 190 f32 on the project's Zen 5 machine; "
        "≈ 58 and ≈ 116 on the Zen 4 one of ANCHORS.md).",
        "(×) compares times, so for GFLOP/s it is the peer's GFLOP/s ÷ jitgrad's."]
    return section
