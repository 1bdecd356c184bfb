"""Single-threaded GFLOP/s of jitgrad's Numba matmul kernel against numpy's `@` (OpenBLAS)."""

# BLAS threads are pinned through environment variables set before numpy is first imported
# (threadpoolctl is not a dependency); a value already in the environment is respected.
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

PEAK = {"float64": 58.0, "float32": 116.0}  # measured per-core FMA peak of this machine
CASES = ((False, False), (False, True), (True, False), (True, True))
# Small and narrow products, where packing overhead and call overhead matter (A and B row-major).
SMALL_SHAPES = ((4, 4, 4), (16, 16, 16), (64, 64, 64), (1, 256, 256), (256, 1, 256),
                (4, 512, 128), (8, 512, 64), (512, 8, 64), (256, 16, 256))
def operands(n, dtype, ta, tb, rng):
    """a, b stored so that op(a), op(b) are n x n; transposed operands are genuine views."""
    a = rng.standard_normal((1, n, n)).astype(dtype)
    b = rng.standard_normal((1, n, n)).astype(dtype)
    return a, b, (a.swapaxes(1, 2) if ta else a)[0], (b.swapaxes(1, 2) if tb else b)[0]


def time_call(fn, min_seconds):
    """Seconds per call, averaged over enough calls to last min_seconds."""
    calls = 0
    start = time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n in 128, 512 and fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="override the list of n")
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
        for n in sizes:
            for ta, tb in CASES:
                ours, theirs, ratio = bench_size(mm, n, dtype, ta, tb, repeats, rng)
                op = ("A^T" if ta else "A") + "·" + ("B^T" if tb else "B")
                print(f"| {name} | {n} | {op} | {ours:.1f} | {theirs:.1f} | {ratio:.2f} "
                      f"| {PEAK[name]:.0f} |", flush=True)
    print()
    print("| dtype | m, n, k | ours µs/call | numpy µs/call | ours/numpy time |")
    print("|---|---|---:|---:|---:|")
    for dtype in (np.float64, np.float32):
        for shape in SMALL_SHAPES:
            ours, theirs, ratio = bench_shape(mm, shape, dtype, repeats, rng)
            print(f"| {np.dtype(dtype).name} | {shape} | {ours:.2f} | {theirs:.2f} "
                  f"| {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
