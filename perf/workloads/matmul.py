"""matmul: GFLOP/s of square products in the four transpose cases and of a dense layer's three
products, against the FMA peak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf import machine
from perf.harness import Context, Timed
from perf.peers import Lib, load, tree_map
from perf.report import Row, Section
from perf.separate import NOTE as SEPARATE_NOTE
from perf.separate import Separate, Server

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


def operands(op: str, m: int, n: int, k: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored a and b of a case (op(a) m×k, op(b) k×n), the same in every process."""
    ta, tb = OPS[op]
    rng = np.random.default_rng([m, n, k, list(OPS).index(op), np.dtype(dtype).itemsize])
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def call(peer: str, lib: Lib | None, op: str, a: np.ndarray, b: np.ndarray
         ) -> Callable[[], Any]:
    """A zero-argument call of ``peer``'s product ``op`` of a and b: jitgrad (config.matmul
    "jitgrad" or, for "jitgrad auto", "auto"), numpy, or ``lib``'s jit."""
    fn = product(*OPS[op])
    if lib is None:
        return lambda: fn(a, b)
    if lib.name == "jitgrad":
        import jitgrad as jg

        mode, jitted = ("auto" if peer == "jitgrad auto" else "jitgrad"), lib.jit(fn)

        def in_mode() -> Any:  # the peers share config.matmul when they share a process
            jg.config.matmul = mode
            return jitted(a, b)

        return in_mode
    jitted, args = lib.jit(fn), tree_map(lib.put, [a, b])
    return lambda: lib.block(jitted(*args))


def served(peer: str, case: str) -> Callable[[], Any]:
    """``peer``'s product for ``case`` ("op m n k dtype") in a child process of its own (see
    ``perf.separate``)."""
    op, m, n, k, dtype = case.split()
    lib = None if peer == "numpy" else load(peer.split()[0])
    return call(peer, lib, op, *operands(op, int(m), int(n), int(k), dtype))


def run(ctx: Context) -> Section:
    import jitgrad as jg

    sizes = (128, 512) if ctx.quick else (128, 256, 512, 1024, 2048)
    section = Section("matmul", "GFLOP/s of matrix products (2mnk flops per product)",
                      PEERS, extra=["FMA peak"])
    saved = jg.config.matmul
    peaks = {dtype: machine.fma_peak(dtype) for dtype in (np.float32, np.float64)}  # before load
    libs: dict[str, Lib | None] = {"jitgrad": ctx.libs["jitgrad"],
                                   "jitgrad auto": ctx.libs["jitgrad"], "numpy": None}
    libs.update((name, ctx.libs[name]) for name in ("jax", "torch") if name in ctx.libs)
    servers = {} if ctx.single_thread else {name: Server("matmul", name) for name in libs}
    # A sample in a process of its own waits for the one before to go idle (≈ 0.03-0.16 s):
    # a fixed number of rounds keeps the run to minutes.
    rounds = None if ctx.single_thread else 2 * ctx.budget.min_rounds - 1
    try:
        for dtype in ("float32", "float64"):
            cases = [(f"{op} n={n}", op, n, n, n) for n in sizes for op in OPS] + LAYER
            for label, op, m, n, k in cases:
                key = f"{op} {m} {n} {k} {dtype}"
                a, b = operands(op, m, n, k, dtype)
                samplers: dict[str, Timed] = {
                    name: Separate(servers[name], key, ctx.budget.min_time) if servers
                    else ctx.timed(call(name, lib, op, a, b)) for name, lib in libs.items()}
                case = f"{label} {dtype}"
                expect = product(*OPS[op])(a.astype(np.float64), b.astype(np.float64))
                results = ctx.measure(case, samplers, expect=[expect], rounds=rounds,
                                      tol=1e-4 if dtype == "float32" else 1e-10)
                flops = 2 * m * n * k
                section.rows.append(Row(
                    case, results, lambda t, f=flops: f"{f / t / 1e9:.1f} GFLOP/s",
                    {"m": m, "n": n, "k": k, "dtype": dtype, "op": op},
                    {"FMA peak": f"{peaks[np.dtype(dtype).type]:.0f}"}))
    finally:
        jg.config.matmul = saved
        for server in servers.values():
            server.close()
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
    if not ctx.single_thread:
        section.notes.append(f"{SEPARATE_NOTE} Here each peer's process serves every case in "
                             f"turn, {rounds} rounds per case.")
    return section
