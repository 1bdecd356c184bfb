"""jitgrad's thread pool on two threads: the cost of a hand-off (a pair of blocks split against
the same blocks run serially), products called after pauses (the pool's worker asleep), and
each step of the mlp and mnist training steps with 1 and 2 threads, the best of many calls per
step (``python perf/bench_threads.py [--only handoff,pauses,steps]``). Run it on an idle
machine: another process on the second core makes every split look like overhead."""

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import jitgrad as jg
from jitgrad.backend import parallel
from jitgrad.tree_util import tree_leaves


def _cpu() -> tuple[float, float]:
    """CPU seconds used so far by other processes (Linux /proc/stat, all cores; 0 elsewhere),
    and wall seconds."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        v = [0] * 5
    busy = (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    return busy - time.process_time(), time.perf_counter()


def handoff(block_us: float, seconds: float) -> None:
    """Median time of two blocks of ``block_us`` each: serial, and split over the pool."""
    from numba import njit

    @njit(nogil=True)
    def work(a, n):
        x = 0.0
        for _ in range(n):
            for i in range(a.shape[0]):
                x += a[i] * 1.0000001
        a[0] = x * 0.0 + 1.0

    a, b = np.ones(512), np.ones(512)
    work(a, 1)
    start = time.perf_counter()
    work(a, 1000)
    n = max(1, int(block_us * 1e-6 / ((time.perf_counter() - start) / 1000)))
    pool = parallel._executor(2)
    runs = {"serial": lambda: (work(a, n), work(b, n)),
            "pool": lambda: pool.run([lambda: work(a, n), lambda: work(b, n)])}
    times: dict[str, list[float]] = {name: [] for name in runs}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(20):
                run()
            times[name].append((time.perf_counter() - start) / 20)
    serial, split = (np.median(times[k]) * 1e6 for k in runs)
    print(f"two blocks of {block_us:g} us: serial {serial:.1f} us, split {split:.1f} us "
          f"(hand-off cost {split - serial / 2:.1f} us)")


def pauses(n: int, dtype: type, pause: float, calls: int) -> None:
    """Median time of an n³ product called after ``pause`` seconds idle, as between the steps
    of a loop doing other work: jitgrad on one and on two threads, interleaved call by call;
    then numpy's BLAS (its default threads) in a phase of its own, since its threads spin for
    a while after each product and would take the second core from jitgrad's worker."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    f = jg.jit(lambda a, b: a @ b)
    f(a, b)
    jg.wait_for_compiles()
    times: dict[str, list[float]] = {"jitgrad, 1 thread": [], "jitgrad, 2 threads": []}

    def timed(fn: Callable[[], Any]) -> float:
        time.sleep(pause)
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    for _ in range(calls):
        for threads, name in enumerate(times, 1):
            jg.config.threads = threads
            times[name].append(timed(lambda: f(a, b)))
    jg.config.threads = 2
    times["numpy"] = [timed(lambda: a @ b) for _ in range(calls)]
    print(f"{n}³ {np.dtype(dtype).name} after {pause * 1e3:g} ms pauses, median of {calls}: " +
          ", ".join(f"{name} {np.median(t) * 1e3:.2f} ms" for name, t in times.items()))


def steps(key: str, calls: int) -> None:
    """Per-step minimum over ``calls`` profiled calls of the training step, 1 and 2 threads
    interleaved call by call."""
    from perf.peers import load
    from perf.programs import MNIST_SIZES, mlp_data, mlp_loss, mlp_step

    rng = np.random.default_rng(0)
    args = mlp_data(rng) if key == "mlp" else mlp_data(rng, sizes=MNIST_SIZES)
    step = mlp_step(load("jitgrad"), mlp_loss)
    step(*args)
    profiler = step.lower(*args).profiler
    leaves = tree_leaves(args)
    best: dict[int, list[float]] = {}
    totals: dict[int, list[float]] = {1: [], 2: []}
    labels: list[str] = []
    others = _cpu()
    for _ in range(calls):
        for threads in (1, 2):
            jg.config.threads = threads
            _, prof = profiler.profile(*leaves)
            totals[threads].append(prof.total)
            rows = [t for t, _, _ in prof.rows]
            labels = [label for _, label, _ in prof.rows]
            best[threads] = [min(x, y) for x, y in zip(best.get(threads, rows), rows,
                                                       strict=True)]
    used, elapsed = (x - y for x, y in zip(_cpu(), others, strict=True))
    print(f"\n{key}: total per call, median (min) of {calls}: 1 thread "
          f"{np.median(totals[1]) * 1e3:.3f} ({min(totals[1]) * 1e3:.3f}) ms, 2 threads "
          f"{np.median(totals[2]) * 1e3:.3f} ({min(totals[2]) * 1e3:.3f}) ms; other processes "
          f"kept {used / elapsed:.2f} cores busy meanwhile")
    print(f"{'1 thread':>9} {'2 threads':>9}  step (min over the calls, us)")
    for i, label in enumerate(labels):
        if max(best[1][i], best[2][i]) >= 5e-6:
            print(f"{best[1][i] * 1e6:9.1f} {best[2][i] * 1e6:9.1f}  {label[:100]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="profiled calls per step")
    parser.add_argument("--only", default="handoff,pauses,steps",
                        help="comma-separated parts among handoff, pauses, steps")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    jg.config.threads = 2
    if "handoff" in parts:
        for block_us in (5, 20, 100):
            handoff(block_us, 2.0)
    if "pauses" in parts:
        pauses(512, np.float64, 0.05, 40)
        pauses(256, np.float32, 0.05, 40)
    if "steps" in parts:
        steps("mlp", args.calls)
        steps("mnist", max(10, args.calls // 5))


if __name__ == "__main__":
    main()
