"""unrolled: first-call latency of long unrolled programs (an LSTM of 30 steps, a 20-step fluid
simulation) in fresh processes, against JAX: compile work that grows with the program."""

from __future__ import annotations

import tempfile
from pathlib import Path

from perf import programs
from perf.harness import Context
from perf.report import Row, Section
from perf.workloads.startup import cache_states, probe

PEERS = ["jitgrad", "jax"]
PROGRAMS = {
    "lstm": f"LSTM of {programs.LSTM_STEPS} steps (autograd's examples/lstm.py), "
            f"jit(grad) w.r.t. its parameters",
    "fluid": f"fluid simulation of 20 steps on a {programs.FLUID_SIZE}² grid (autograd's "
             f"examples/fluidsim), jit(grad) w.r.t. the initial x velocity",
}


def run(ctx: Context) -> Section:
    section = Section("unrolled", "seconds to the first gradient of a long unrolled program in "
                      "a fresh process", PEERS)
    with tempfile.TemporaryDirectory(prefix="jitgrad-perf-") as tmp:
        for program in ("lstm",) if ctx.quick else ("lstm", "fluid"):
            states = cache_states(Path(tmp), program)
            # NB: JAX is timed on the LSTM only: its compile of the fluid program took over 7
            # CPU minutes and 5.9 GB per sample here (issue 14's goal for it is absolute).
            first = {"jax": probe("jax", program, "compiled")} \
                if "jax" in ctx.libs and program == "lstm" else {}
            name = PROGRAMS[program]
            for state in ("new program (built-in kernels cached)", "caches warm"):
                case = f"{name}: compiled code serves calls, {state}"
                samplers = {"jitgrad": probe("jitgrad", program, "compiled", *states[state]),
                            **first}
                results = ctx.measure(case, samplers, rounds=1 if ctx.quick else 3)
                section.rows.append(Row(case, results, lambda t: f"{t:.2f} s",
                                        {"program": program}))
    section.notes += [
        "each sample is a fresh `python -m perf.child` process, as in the compile workload; "
        "\"compiled code serves calls\" covers tracing, compiling (or loading) and running "
        "the gradient until compiled code serves it (jitgrad: its first result may come from "
        "the reference tier while its kernels compile (pinned to one CPU, as with "
        "--threads 1: on a background thread of the caller), then Jitted.wait(); jax: "
        "jax.jit(jax.grad(f)), its persistent compilation cache off, so it always compiles "
        "before its first result).",
        "new program: a new JITGRAD_CACHE_DIR with a warm NUMBA_CACHE_DIR (every generated "
        "kernel compiles; identical kernels, e.g. one per loop step, compile once); caches "
        "warm: both directories after one earlier process.",
        "the fluid simulation is timed for jitgrad only (its goal: jit under 10 s): JAX's "
        "compile of it took over 7 CPU minutes and 5.9 GB per sample on this machine."]
    return section
