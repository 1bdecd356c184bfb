"""Where a kernel's compile time goes: `python -m perf.compile_breakdown [CASE ...]`.

Runs each case's first ``jit`` call with empty kernel and Numba caches (temporary directories
unless JITGRAD_CACHE_DIR / NUMBA_CACHE_DIR are set: set them to measure warm loads) and splits
every Numba compile it triggers, from Numba's event API, into its compiler passes (typing,
lowering, ...) and the LLVM work (optimisation and machine code, under Numba's LLVM lock),
each in CPU seconds, exclusive of nested compiles (a kernel compiles the special functions it
calls first).
"""

import os
import sys
import tempfile
import time
from collections import defaultdict

for var in ("JITGRAD_CACHE_DIR", "NUMBA_CACHE_DIR"):
    os.environ.setdefault(var, tempfile.mkdtemp(prefix="compile_breakdown_"))

import numpy as np  # noqa: E402
from numba.core import event  # noqa: E402

import jitgrad as jg  # noqa: E402
import jitgrad.numpy as jnp  # noqa: E402
import jitgrad.scipy.special as jsp  # noqa: E402
import jitgrad.scipy.stats as js  # noqa: E402


class Breakdown(event.Listener):
    """Exclusive time per (compiled function, phase): phases are Numba's compiler passes and
    ``llvm`` (time under the LLVM lock not inside a pass of a nested compile)."""

    def __init__(self):
        self.stack = []  # [function, phase, start, time spent in nested entries]
        self.times = defaultdict(float)
        self.totals = defaultdict(float)

    def on_start(self, ev):
        if ev.kind == "numba:compile":
            disp = ev.data["dispatcher"]
            fn = f"{str(disp.py_func.__module__).split('.')[-1][:18]}.{disp.py_func.__name__}"
            self.stack.append([fn, "other", time.process_time(), 0.0])
            return
        fn = next((e[0] for e in reversed(self.stack) if e[1] == "other"), "?")
        phase = "llvm" if ev.kind == "numba:llvm_lock" else ev.data["name"]
        self.stack.append([fn, phase, time.process_time(), 0.0])

    def on_end(self, ev):
        fn, phase, start, nested = self.stack.pop()
        total = time.process_time() - start
        self.times[fn, phase] += total - nested
        if phase == "other":
            self.totals[fn] += total - nested
        if self.stack:
            self.stack[-1][3] += total

    def report(self):
        by_fn = defaultdict(dict)
        for (fn, phase), t in self.times.items():
            by_fn[fn][phase] = t
        lines = []
        for fn, phases in sorted(by_fn.items(), key=lambda kv: -sum(kv[1].values())):
            total = sum(phases.values())
            top = sorted(phases.items(), key=lambda kv: -kv[1])[:5]
            lines.append(f"  {fn:40s} {total:7.2f} s  " +
                         ", ".join(f"{p} {t:.2f}" for p, t in top))
        return "\n".join(lines)


def _args(*shapes_seeds):
    return [np.random.default_rng(s).uniform(0.5, 2.0, n) for n, s in shapes_seeds]


def elementwise():
    return jg.jit(lambda x, y: jnp.tanh(x) * y + jnp.exp(-x)), _args((8, 0), (8, 1))


def special():
    return (jg.jit(lambda a, b, x: jsp.betainc(a, b, x / 3) + jsp.gammainc(a, x)
                   + jsp.digamma(b)), _args((8, 0), (8, 1), (8, 2)))


def elementwise_again():
    """Another small kernel of the same functions: what each further kernel costs."""
    return jg.jit(lambda x, y: jnp.exp(x) - jnp.tanh(y) * x), _args((8, 0), (8, 1))


def gammaln():
    return jg.jit(lambda x: jsp.gammaln(x) * x), _args((8, 0))


def t_cdf_grad():
    f = jg.value_and_grad(lambda x, df: jnp.sum(js.t.cdf(x, df)), argnums=(0, 1))
    return jg.jit(f), _args((8, 0), (8, 1))


CASES = {"elementwise": elementwise, "elementwise_again": elementwise_again, "gammaln": gammaln,
         "special": special, "t_cdf_grad": t_cdf_grad}


def main(names):
    for name in names or CASES:
        fn, args = CASES[name]()
        rec = Breakdown()
        event.register("numba:compile", rec)
        event.register("numba:run_pass", rec)
        event.register("numba:llvm_lock", rec)
        t0, c0 = time.perf_counter(), time.process_time()
        fn(*args)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        for kind in ("numba:compile", "numba:run_pass", "numba:llvm_lock"):
            event.unregister(kind, rec)
        phases = defaultdict(float)
        for (_, phase), t in rec.times.items():
            phases[phase.split(" [")[0]] += t
        top = sorted(phases.items(), key=lambda kv: -kv[1])[:6]
        print(f"{name}: first call {wall:.2f} s wall, {cpu:.2f} s CPU; Numba "
              f"{sum(phases.values()):.2f} s: " + ", ".join(f"{p} {t:.2f}" for p, t in top))
        print(rec.report())


if __name__ == "__main__":
    main(sys.argv[1:])
