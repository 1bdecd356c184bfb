"""Single-threaded GFLOP/s of jitgrad's Numba matmul kernel against numpy's `@` (OpenBLAS):
square sizes, a dense layer's and the einsum workload's products, small and narrow shapes."""

# BLAS threads are pinned through environment variables set before numpy is first imported
# (threadpoolctl is not a dependency); a value already in the environment is respected.
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

# Per-core FMA peak of this machine (AMD Zen 5), perf.machine.fma_peak on 2026-12-02.
PEAK = {"float64": 94.0, "float32": 191.0}
CASES = ((False, False), (False, True), (True, False), (True, True))
# Small and narrow products, where packing overhead and call overhead matter (A and B row-major).
SMALL_SHAPES = ((4, 4, 4), (16, 16, 16), (64, 64, 64), (1, 256, 256), (256, 1, 256),
                (4, 512, 128), (8, 512, 64), (512, 8, 64), (256, 16, 256))
# (label, batch, m, n, k, transpose_a, transpose_b): a 784-1024 dense layer's three products at
# batch 128, the einsum workload's small batched products, and a convolution's patch product.
LAYER_SHAPES = (
    ("X·W 128×784·784×1024", 1, 128, 1024, 784, False, False),
    ("Xᵀ·G 784×128·128×1024", 1, 784, 1024, 128, True, False),
    ("G·Wᵀ 128×1024·1024×784", 1, 128, 784, 1024, False, True),
    ("bij,bjk->bik 64×64³", 64, 64, 64, 64, False, False),
    ("bhqd,bhkd->bhqk 64×128×128×64", 64, 128, 128, 64, False, True),
    ("patches 4096×27·27×64", 1, 4096, 64, 27, False, False),
)


def operands(n, dtype, ta, tb, rng):
    """a, b stored so that op(a), op(b) are n x n; transposed operands are genuine views."""
    a = rng.standard_normal((1, n, n)).astype(dtype)
    b = rng.standard_normal((1, n, n)).astype(dtype)
    return a, b, (a.swapaxes(1, 2) if ta else a)[0], (b.swapaxes(1, 2) if tb else b)[0]


def time_call(fn, min_seconds):
    """CPU seconds per call, averaged over enough calls to take min_seconds. Both sides run on
    this one thread, so its CPU time is their cost; unlike wall time it leaves out the slices in
    which other processes ran (this machine is shared)."""
    calls = 0
    start = time.process_time()
    while True:
        fn()
        calls += 1
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def bench_size(mm, n, dtype, ta, tb, repeats, rng):
    a, b, opa, opb = operands(n, dtype, ta, tb, rng)
    out = np.empty((1, n, n), dtype)
    ref = np.empty((n, n), dtype)

    def ours():
        mm.matmul(a, b, out, ta, tb)

    def theirs():
        np.matmul(opa, opb, out=ref)

    ours()
    theirs()
    tol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(out[0], ref, rtol=tol, atol=tol * np.sqrt(n))
    min_seconds = 0.05
    t_ours, t_np = [], []
    for _ in range(repeats):  # interleaved so load changes hit both sides alike
        t_ours.append(time_call(ours, min_seconds))
        t_np.append(time_call(theirs, min_seconds))
    flops = 2.0 * n**3
    # The ratio is the median over adjacent (ours, numpy) pairs: on a shared machine that is
    # steadier than a ratio of medians taken at different moments.
    ratio = statistics.median(tn / to for to, tn in zip(t_ours, t_np, strict=True))
    return flops / statistics.median(t_ours) / 1e9, flops / statistics.median(t_np) / 1e9, ratio


def bench_shape(mm, shape, dtype, repeats, rng):
    """Microseconds per call of one (m, n, k) product, including both sides' call overhead."""
    m, n, k = shape
    a = rng.standard_normal((1, m, k)).astype(dtype)
    b = rng.standard_normal((1, k, n)).astype(dtype)
    out = np.empty((1, m, n), dtype)
    ref = np.empty((m, n), dtype)
    t_ours, t_np = [], []
    for _ in range(repeats):
        t_ours.append(time_call(lambda: mm.matmul(a, b, out, False, False), 0.02))
        t_np.append(time_call(lambda: np.matmul(a[0], b[0], out=ref), 0.02))
    ratio = statistics.median(to / tn for to, tn in zip(t_ours, t_np, strict=True))
    return statistics.median(t_ours) * 1e6, statistics.median(t_np) * 1e6, ratio


def bench_layer(mm, shape, dtype, repeats, rng):
    """GFLOP/s of one batched product with transposed operands stored as views, and the
    median of the interleaved (numpy time / ours) ratios."""
    _, batch, m, n, k, ta, tb = shape
    a = rng.standard_normal((batch, k, m) if ta else (batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, n, k) if tb else (batch, k, n)).astype(dtype)
    opa, opb = (a.swapaxes(1, 2) if ta else a), (b.swapaxes(1, 2) if tb else b)
    out = np.empty((batch, m, n), dtype)
    ref = np.empty((batch, m, n), dtype)
    t_ours, t_np = [], []
    for _ in range(repeats):
        t_ours.append(time_call(lambda: mm.matmul(a, b, out, ta, tb), 0.05))
        t_np.append(time_call(lambda: np.matmul(opa, opb, out=ref), 0.05))
    flops = 2.0 * batch * m * n * k
    ratio = statistics.median(tn / to for to, tn in zip(t_ours, t_np, strict=True))
    return flops / statistics.median(t_ours) / 1e9, flops / statistics.median(t_np) / 1e9, ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n in 128, 512 and fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="override the list of n")
    parser.add_argument("--parts", nargs="+", choices=("square", "layer", "small"),
                        default=("square", "layer", "small"), help="which tables to measure")
    args = parser.parse_args()
    sizes = args.sizes or ((128, 512) if args.quick else (128, 256, 512, 1024, 2048))
    repeats = 3 if args.quick else 9
    rng = np.random.default_rng(0)
    from jitgrad.backend.kernels import matmul as mm

    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, numpy {np.__version__}")
    for dtype in (np.float64, np.float32):
        start = time.perf_counter()
        mm.njit_matmul(dtype)
        print(f"compile/load {np.dtype(dtype).name}: {time.perf_counter() - start:.2f} s")
    print()
    print("| dtype | n | op | ours GFLOP/s | numpy GFLOP/s | ours/numpy | peak |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        for n in sizes if "square" in args.parts else ():
            for ta, tb in CASES:
                ours, theirs, ratio = bench_size(mm, n, dtype, ta, tb, repeats, rng)
                op = ("A^T" if ta else "A") + "·" + ("B^T" if tb else "B")
                print(f"| {name} | {n} | {op} | {ours:.1f} | {theirs:.1f} | {ratio:.2f} "
                      f"| {PEAK[name]:.0f} |", flush=True)
    print()
    print("| dtype | product | ours GFLOP/s | numpy GFLOP/s | ours/numpy |")
    print("|---|---|---:|---:|---:|")
    for dtype in (np.float64, np.float32):
        for shape in LAYER_SHAPES if "layer" in args.parts else ():
            ours, theirs, ratio = bench_layer(mm, shape, dtype, repeats, rng)
            print(f"| {np.dtype(dtype).name} | {shape[0]} | {ours:.1f} | {theirs:.1f} "
                  f"| {ratio:.2f} |", flush=True)
    print()
    print("| dtype | m, n, k | ours µs/call | numpy µs/call | ours/numpy time |")
    print("|---|---|---:|---:|---:|")
    for dtype in (np.float64, np.float32):
        for shape in SMALL_SHAPES if "small" in args.parts else ():
            ours, theirs, ratio = bench_shape(mm, shape, dtype, repeats, rng)
            print(f"| {np.dtype(dtype).name} | {shape} | {ours:.2f} | {theirs:.2f} "
                  f"| {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
