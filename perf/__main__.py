"""Command line of the suite; pins thread counts in the environment before any numeric import."""

import argparse
import os

from perf.workloads import NAMES

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
               "JITGRAD_NUM_THREADS")
XLA_SINGLE = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m perf",
        description="Benchmark jitgrad against numpy, JAX, PyTorch and autograd "
                    "(those that are importable).")
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and rounds; does not write perf/RESULTS*.md")
    parser.add_argument("--only", metavar="NAMES",
                        help=f"comma-separated workloads among: {', '.join(NAMES)}")
    parser.add_argument("--threads", choices=("1", "all"), default="1",
                        help="1 (default): every library single-threaded; all: library defaults")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    args.only = args.only.split(",") if args.only else list(NAMES)
    unknown = [n for n in args.only if n not in NAMES]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose among {list(NAMES)}")
    return args


def main() -> None:
    args = parse_args()
    if args.threads == "1":  # before numpy, numba, jax or torch is imported (here or in children)
        os.environ.update({var: "1" for var in THREAD_VARS})
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_SINGLE}".strip()
        # XLA's CPU runtime still splits large dots over a thread pool sized by the CPUs it may
        # run on: pinning the process (and the children it spawns) to one CPU is what holds.
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    else:  # jitgrad's own default is one thread: give it the cores the other libraries take
        os.environ.setdefault("JITGRAD_NUM_THREADS", str(os.cpu_count()))
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from perf.suite import run_suite

    run_suite(args)


if __name__ == "__main__":
    main()
