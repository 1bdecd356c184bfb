"""The machine: CPU model, memory, and stream bandwidth and FMA peak measured in this run."""

from __future__ import annotations

import os
import platform
import time
from functools import cache
from pathlib import Path

import numpy as np

from perf.harness import Context

STREAM_BYTES = 1 << 27  # 128 MiB per array: far beyond any cache
values: dict[str, float] = {}  # what this run measured: "bandwidth" B/s, "peak <dtype>" GFLOP/s


def _proc(name: str) -> str:
    path = Path("/proc") / name
    return path.read_text() if path.exists() else ""


def describe() -> dict[str, str]:
    cpuinfo, meminfo = _proc("cpuinfo"), _proc("meminfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    isa = "AVX-512" if "avx512f" in cpuinfo else "AVX2" if "avx2" in cpuinfo else "no AVX2 seen"
    kib = next((int(line.split()[1]) for line in meminfo.splitlines()
                if line.startswith("MemTotal")), 0)
    return {"cpu": f"{model} ({isa})", "cores": str(os.cpu_count()),
            "memory": f"{kib / 2**20:.0f} GiB" if kib else "unknown memory"}


def summary() -> dict[str, str]:
    """The measured figures, as the report prints them."""
    out = {}
    if "bandwidth" in values:
        out["stream bandwidth"] = (f"{values['bandwidth'] / 1e9:.1f} GB/s "
                                   "(numpy copy of 128 MiB, read + write)")
    for key in sorted(values):
        if key.startswith("peak"):
            out[f"FMA {key}"] = f"{values[key]:.1f} GFLOP/s (Horner FMA probe, one core)"
    return out


def stream_bandwidth(ctx: Context) -> float:
    """Bytes per second of a large numpy copy (read + write), timed by the suite's harness."""
    if "bandwidth" not in values:
        src = np.ones(STREAM_BYTES // 8)
        dst = np.zeros_like(src)
        result = ctx.measure("stream copy", {"numpy copy": ctx.timed(lambda: np.copyto(dst, src))})
        values["bandwidth"] = 2 * STREAM_BYTES / result["numpy copy"].value
    return values["bandwidth"]


@cache
def _horner(dtype: type):
    """A degree-16 Horner loop over an L1-resident array: 16 FMAs per element loaded, each
    element's chain independent, vectorised by LLVM; out-of-order execution overlaps the
    chains and keeps both FMA pipes busy."""
    from numba import njit

    a, b = dtype(0.5), dtype(0.25)  # constants of the array's type: no float64 promotion

    @njit(error_model="numpy", fastmath={"contract"})
    def horner(x, out, reps):
        for _ in range(reps):
            for i in range(x.size):
                v = x[i]
                p = v * a + b
                for _ in range(15):
                    p = p * v + b
                out[i] = p

    return horner


def fma_peak(dtype: type) -> float:
    """Peak GFLOP/s of one core: the best of 200 runs of the Horner probe, each ≈ 1 ms, short
    enough that some fit between the time slices of anything else sharing the core."""
    key = f"peak {np.dtype(dtype).name}"
    if key not in values:
        horner = _horner(dtype)
        x = np.random.default_rng(0).random(2048).astype(dtype)
        out = np.empty_like(x)
        horner(x, out, 1)
        reps = 1
        while (elapsed := _seconds(horner, x, out, reps)) < 1e-3:
            reps *= 2
        best = min(_seconds(horner, x, out, reps) for _ in range(200))
        values[key] = 32 * x.size * reps / min(best, elapsed) / 1e9
    return values[key]


def _seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start
