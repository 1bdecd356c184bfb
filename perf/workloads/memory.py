"""memory: peak resident memory of the chain gradient at n = 1e7 float64, per peer, each in a
fresh process."""

from __future__ import annotations

from perf.child import spawn
from perf.harness import Context, Probe
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]
N = 10**7


def run(ctx: Context) -> Section:
    def probe(lib: str) -> Probe:
        def sample() -> float:
            result = spawn("memory", lib, str(N))
            return result["peak"] - result["base"]

        return Probe(sample)

    samplers = {lib: probe(lib) for lib in PEERS if lib in ctx.libs or lib == "numpy"}
    case = f"chain gradient, n={N:.0e} float64"
    results = ctx.measure(case, samplers, rounds=1)
    section = Section("memory", "MB of peak resident memory above the inputs", PEERS,
                      extra=["outputs alone"])
    section.rows.append(Row(case, results, lambda b: f"{b / 1e6:.0f} MB", {"n": N},
                            {"outputs alone": f"{2 * N * 8 / 1e6:.0f} MB"}))
    section.notes += [
        "peak resident size (VmHWM) during one gradient minus the resident size just before "
        "it (ru_maxrss would include the spawning parent's peak, which Linux carries across "
        "fork + exec), with the "
        "inputs created (in the peer's array type) and the program compiled ahead for this "
        "size (jitgrad: Jitted.lower; jax: jit(...).lower(...).compile()), so compiler memory "
        "is not counted.",
        "outputs alone: the two gradients, the least any peer must allocate."]
    return section
