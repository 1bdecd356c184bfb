"""compile: first-call latency of jit(grad(f)) in fresh processes, cold and warm caches, and
``import`` + first gradient against the peers."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from perf.child import spawn
from perf.harness import Context, Probe
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "torch", "autograd"]
PROGRAMS = {"mlp": "mlp_loss (784-256-256-10, f32)", "small": "sum(tanh(x)*x + x**2), f64[16]"}


def caches(root: Path) -> dict[str, str]:
    """The environment pointing jitgrad's kernel cache and Numba's cache under ``root``."""
    return {"JITGRAD_CACHE_DIR": str(root / "jitgrad"), "NUMBA_CACHE_DIR": str(root / "numba")}


def probe(lib: str, program: str, metric: str, env: Callable[[], dict] | None = None,
          prepare: Callable[[], None] | None = None) -> Probe:
    """Samples ``metric`` ("first", or "import+first") of a fresh process of ``lib``."""

    def sample() -> float:
        result = spawn("startup", lib, program, env=env() if env else None)
        return sum(result[m] for m in metric.split("+"))

    return Probe(sample, prepare)


def run(ctx: Context) -> Section:
    section = Section("compile", "seconds to the first gradient in a fresh process", PEERS)
    with tempfile.TemporaryDirectory(prefix="jitgrad-perf-") as tmp:
        for program in ("mlp",) if ctx.quick else ("mlp", "small"):
            warm = caches(Path(tmp) / f"warm-{program}")

            def cold(warm: dict = warm) -> dict[str, str]:  # the first one fills `warm`
                if not Path(warm["JITGRAD_CACHE_DIR"]).exists():
                    return warm
                return caches(Path(tempfile.mkdtemp(dir=tmp)))

            def new_program(warm: dict = warm) -> dict[str, str]:
                fresh = caches(Path(tempfile.mkdtemp(dir=tmp)))
                return {**fresh, "NUMBA_CACHE_DIR": warm["NUMBA_CACHE_DIR"]}

            def fill(warm: dict = warm, program: str = program) -> None:
                if not Path(warm["JITGRAD_CACHE_DIR"]).exists():
                    spawn("startup", "jitgrad", program, env=warm)

            first = {"jax": probe("jax", program, "first")} if "jax" in ctx.libs else {}
            name = PROGRAMS[program]
            rows = {
                f"{name}: first call, caches empty":
                    {"jitgrad": probe("jitgrad", program, "first", cold), **first},
                f"{name}: first call, new program (built-in kernels cached)":
                    {"jitgrad": probe("jitgrad", program, "first", new_program, fill), **first},
                f"{name}: first call, caches warm":
                    {"jitgrad": probe("jitgrad", program, "first", lambda w=warm: w, fill),
                     **first},
                f"{name}: import + first call, caches warm":
                    {lib: probe(lib, program, "import+first", lambda w=warm: w, fill)
                     for lib in PEERS if lib in ctx.libs},
            }
            for case, samplers in rows.items():
                results = ctx.measure(case, samplers, rounds=1 if ctx.quick else 3)
                section.rows.append(Row(case, results, lambda t: f"{t:.2f} s",
                                        {"program": program}))
    section.notes += [
        "each sample is a fresh `python -m perf.child` process; numpy is imported before the "
        "clock starts; \"first call\" covers tracing, compiling (or loading) and running "
        "jit(grad(f)) (jax: jax.jit(jax.grad(f)); torch and autograd: one eager gradient).",
        "caches empty: new JITGRAD_CACHE_DIR and NUMBA_CACHE_DIR (so jitgrad's built-in Numba "
        "kernels, e.g. matmul, compile too, as on a fresh install); new program: a new "
        "JITGRAD_CACHE_DIR with a warm NUMBA_CACHE_DIR (the generated kernels compile, the "
        "built-in ones load); warm: both directories after one earlier process.",
        "JAX's persistent compilation cache is off (its default), so its first call always "
        "compiles."]
    return section
