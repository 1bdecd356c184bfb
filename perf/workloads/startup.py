"""compile: in fresh processes, the time to the first result of jit(grad(f)) and until compiled
code serves its calls, with cold and warm caches; ``import`` + first gradient against the
peers; and 100 small random programs each jitted and called 3 times."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from perf.child import spawn
from perf.harness import Context, Probe
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "torch", "autograd"]
PROGRAMS = {"mlp": "mlp_loss (784-256-256-10, f32)", "small": "sum(tanh(x)*x + x**2), f64[16]"}
MANY = 100  # random programs in the "many programs" rows


def caches(root: Path) -> dict[str, str]:
    """The environment pointing jitgrad's kernel cache and Numba's cache under ``root``."""
    return {"JITGRAD_CACHE_DIR": str(root / "jitgrad"), "NUMBA_CACHE_DIR": str(root / "numba")}


def cache_states(tmp: Path, program: str
                 ) -> dict[str, tuple[Callable[[], dict], Callable[[], None] | None]]:
    """The cache states a fresh process of ``program`` can start in, each as (a function
    giving its environment, a preparation to run before timing it): caches empty (the first
    sample fills the warm directories), a new program (a fresh kernel cache, Numba's warm)
    and caches warm, all under ``tmp``."""
    warm = caches(tmp / f"warm-{program}")

    def cold() -> dict[str, str]:
        if not Path(warm["JITGRAD_CACHE_DIR"]).exists():
            return warm
        return caches(Path(tempfile.mkdtemp(dir=tmp)))

    def new_program() -> dict[str, str]:
        return {**caches(Path(tempfile.mkdtemp(dir=tmp))),
                "NUMBA_CACHE_DIR": warm["NUMBA_CACHE_DIR"]}

    def fill() -> None:
        if not Path(warm["JITGRAD_CACHE_DIR"]).exists():
            spawn("startup", "jitgrad", program, env=warm)

    return {"caches empty": (cold, None),
            "new program (built-in kernels cached)": (new_program, fill),
            "caches warm": (lambda: warm, fill)}


def probe(lib: str, program: str, metric: str, env: Callable[[], dict] | None = None,
          prepare: Callable[[], None] | None = None, record: list | None = None) -> Probe:
    """Samples ``metric`` ("first", "compiled" or "import+first") of a fresh process of
    ``lib``; each sample's whole result is appended to ``record`` (see ``replay``)."""

    def sample() -> float:
        result = spawn("startup", lib, program, env=env() if env else None)
        if record is not None:
            record.append(result)
        return sum(result[m] for m in metric.split("+"))

    return Probe(sample, prepare)


def replay(record: list, metric: str) -> Probe:
    """Samples ``metric`` of the processes another probe recorded, in their order (a row
    measured from the same processes as the row before it)."""
    return Probe(lambda: record.pop(0)[metric])


def many(lib: str, env: Callable[[], dict], record: list) -> Probe:
    def sample() -> float:
        result = spawn("many", lib, str(MANY), env=env())
        record.append(result)
        return result["results"]

    return Probe(sample)


def run(ctx: Context) -> Section:
    section = Section("compile", "seconds to the first gradient in a fresh process", PEERS)

    def measure(case: str, samplers: dict[str, Probe], program: str) -> None:
        results = ctx.measure(case, samplers, rounds=1 if ctx.quick else 3)
        section.rows.append(Row(case, results, lambda t: f"{t:.2f} s", {"program": program}))

    with tempfile.TemporaryDirectory(prefix="jitgrad-perf-") as tmp:
        for program in ("mlp",) if ctx.quick else ("mlp", "small"):
            states = cache_states(Path(tmp), program)
            name = PROGRAMS[program]
            for state, (env, prepare) in states.items():
                records: dict[str, list] = {"jitgrad": [], "jax": []}
                first = {"jitgrad": probe("jitgrad", program, "first", env, prepare,
                                          records["jitgrad"])}
                if "jax" in ctx.libs:
                    first["jax"] = probe("jax", program, "first", record=records["jax"])
                measure(f"{name}: first result, {state}", first, program)
                serving = {lib: list(records[lib]) for lib in first}
                measure(f"{name}: compiled code serves calls, {state}",
                        {lib: replay(records[lib], "compiled") for lib in first}, program)
                if program == "mlp":
                    measure(f"{name}: jitgrad's matmul kernel serves products, {state}",
                            {lib: replay(serving[lib], "all") for lib in first}, program)
            measure(f"{name}: import + first call, caches warm",
                    {lib: probe(lib, program, "import+first", *states["caches warm"])
                     for lib in PEERS if lib in ctx.libs}, program)
        if not ctx.quick:
            def fresh() -> dict[str, str]:
                return caches(Path(tempfile.mkdtemp(dir=tmp)))

            records = {"jitgrad": [], "jax": []}
            peers = {lib: many(lib, fresh, records[lib]) for lib in records if lib in ctx.libs}
            measure(f"{MANY} random programs, 3 calls each: all results", peers, "many")
            measure(f"{MANY} random programs, 3 calls each: all compiled",
                    {lib: replay(records[lib], "compiled") for lib in peers}, "many")
    section.notes += [
        "each sample is a fresh `python -m perf.child` process; numpy is imported before the "
        "clock starts; \"first result\" covers tracing, compiling (or loading) and running "
        "jit(grad(f)) (jax: jax.jit(jax.grad(f)); torch and autograd: one eager gradient); "
        "jitgrad's first result comes from its reference tier while a worker process "
        "compiles (config.compile = \"background\", its default) unless the program is in "
        "the disk cache. \"compiled code serves calls\": until then (jitgrad: "
        "Jitted.wait() returned; jax compiles before its first result, so the same "
        "processes' first-call times are its column), from the same processes as the row "
        "above; jitgrad's products run on numpy's BLAS until its own matmul kernel is "
        "compiled (in the background too; seconds per dtype, once per install), \"matmul "
        "kernel serves products\" is until then (wait_for_compiles() returned). With "
        "--threads 1 the suite is pinned to one CPU: jitgrad then starts no "
        "compile worker (it could only share the caller's core) and compiles on a "
        "background thread of the caller.",
        f"{MANY} random programs: {MANY} distinct programs of two (4, 8) float64 arrays "
        f"(6 random elementwise/reduction operations each, perf.programs.random_programs, "
        f"seed 0), each jitted and called 3 times in one fresh process with empty caches; "
        f"\"all results\" is the wall time to the last result, \"all compiled\" until "
        f"every program runs compiled code (jitgrad: wait_for_compiles()).",
        "caches empty: new JITGRAD_CACHE_DIR and NUMBA_CACHE_DIR (so jitgrad's built-in Numba "
        "kernels, e.g. matmul, compile too, as on a fresh install); new program: a new "
        "JITGRAD_CACHE_DIR with a warm NUMBA_CACHE_DIR (the generated kernels compile, the "
        "built-in ones load); warm: both directories after one earlier process.",
        "JAX's persistent compilation cache is off (its default), so its first call always "
        "compiles."]
    return section
