"""Measurements that need a fresh process (``python -m perf.child startup|many|memory ...``, which
prints one JSON line), and the parent's side that spawns it; ``serve`` runs a peer's timings in
a process of its own (``perf.separate``)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def spawn(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m perf.child *args`` (with extra environment ``env``); its JSON result."""
    proc = subprocess.run([sys.executable, "-m", "perf.child", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"perf.child {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _inputs(program: str) -> tuple[Any, list]:
    import numpy as np

    from perf import programs

    rng = np.random.default_rng(0)
    if program == "mlp":
        params, x, y = programs.mlp_data(rng)
        return programs.mlp_loss, [params, x, y]
    if program == "lstm":
        return programs.lstm_loss, list(programs.lstm_data(rng, programs.LSTM_STEPS))
    if program == "fluid":
        n = programs.FLUID_SIZE
        return programs.fluid_loss, [0.3 * rng.standard_normal((n, n)) for _ in range(4)]
    return programs.small, [rng.standard_normal(16)]


def _tiered(lib: Any) -> None:
    """Let jitgrad's first calls run on the reference tier (its default; ``perf.peers`` makes
    benchmarks compile first), unless JITGRAD_COMPILE says otherwise."""
    if lib.name == "jitgrad":
        import jitgrad
        jitgrad.config.compile = os.environ.get("JITGRAD_COMPILE") or "background"


def startup(lib_name: str, program: str) -> dict[str, float]:
    """Seconds to import the library, for the first call of its gradient of ``program``
    (with jit where the library has one), numpy being already imported, and from the import
    until compiled code serves calls (jitgrad's first calls may run on the reference tier
    while a worker compiles; for the others, the first call compiles) and until every
    background compile is done (jitgrad's matmul kernel's included)."""
    from perf.peers import load, tree_map
    from perf.programs import bind

    fn, args = _inputs(program)
    start = time.perf_counter()
    lib = load(lib_name)
    imported = time.perf_counter()
    _tiered(lib)
    grad = lib.jit(lib.grad(bind(fn, lib)))
    lib.block(grad(*tree_map(lib.put, args)))
    first = time.perf_counter()
    if hasattr(grad, "wait"):  # jitgrad: this program's kernels (its products may run on
        grad.wait()            # BLAS while jitgrad's matmul kernel compiles)
    serving = time.perf_counter()
    lib.wait()  # jitgrad: every background compile, the matmul kernel's included
    return {"import": imported - start, "first": first - imported,
            "compiled": serving - imported, "all": time.perf_counter() - imported}


def many(lib_name: str, count: int) -> dict[str, float]:
    """Seconds (after the import) to jit ``count`` distinct small random programs and call
    each 3 times, until the last result, and until every program runs compiled code."""
    import numpy as np

    from perf.peers import load, tree_map
    from perf.programs import bind, random_programs

    rng = np.random.default_rng(0)
    args = [rng.standard_normal((4, 8)), rng.standard_normal((4, 8))]
    lib = load(lib_name)
    _tiered(lib)
    start = time.perf_counter()
    native = tree_map(lib.put, args)
    for program in random_programs(count):
        f = lib.jit(bind(program, lib))
        for _ in range(3):
            lib.block(f(*native))
    results = time.perf_counter()
    lib.wait()
    return {"results": results - start, "compiled": time.perf_counter() - start}


def _status(field: str) -> int:
    """Bytes of a /proc/self/status field: VmRSS (resident now) or VmHWM (peak resident).
    VmHWM, not getrusage's ru_maxrss: Linux carries the spawning parent's high-water mark
    across fork + exec into ru_maxrss, so a child of a large parent would report the parent's."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def memory(lib_name: str, n: int) -> dict[str, int]:
    """Resident bytes before the chain gradient at size ``n`` (float64, inputs created, the
    program already compiled for that size), and the peak resident bytes after it."""
    import numpy as np

    from perf.peers import load, tree_map
    from perf.programs import bind, chain, chain_grad_numpy

    rng = np.random.default_rng(0)
    small = [rng.standard_normal(1000), rng.standard_normal(1000)]
    if lib_name == "numpy":
        fn, put, block = chain_grad_numpy, (lambda a: a), (lambda out: out)
    else:
        lib = load(lib_name)
        fn = lib.jit(lib.grad(bind(chain, lib), (0, 1)))
        put, block = lib.put, lib.block
    block(fn(*tree_map(put, small)))  # lazy initialisation, kernels loaded
    if lib_name != "numpy":
        fn = lib.ahead(fn, ((n,), np.float64), ((n,), np.float64))
    args = tree_map(put, [rng.standard_normal(n), rng.standard_normal(n)])
    base, base_peak = _status("VmRSS"), _status("VmHWM")
    block(fn(*args))
    return {"base": base, "base_peak": base_peak, "peak": _status("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m perf.child")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("startup")
    p.add_argument("lib")
    p.add_argument("program", choices=("small", "mlp", "lstm", "fluid"))
    p = sub.add_parser("many")
    p.add_argument("lib")
    p.add_argument("count", type=int)
    p = sub.add_parser("memory")
    p.add_argument("lib")
    p.add_argument("n", type=int)
    p = sub.add_parser("serve")
    p.add_argument("workload")
    p.add_argument("peer")
    args = parser.parse_args()
    if args.what == "serve":  # a server of timings: see perf.separate
        from perf.separate import serve
        serve(args.workload, args.peer)
        return
    if args.what == "startup":
        result = startup(args.lib, args.program)
    elif args.what == "many":
        result = many(args.lib, args.count)
    else:
        result = memory(args.lib, args.n)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
