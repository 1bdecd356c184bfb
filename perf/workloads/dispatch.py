"""dispatch: microseconds per call of the gradient of a 16-element function."""

from __future__ import annotations

import numpy as np

from perf.harness import Context
from perf.programs import bind, small, small_grad_numpy
from perf.report import Row, Section

PEERS = ["jitgrad", "jitgrad eager", "jax (numpy in/out)", "jax (jax.Array)", "numpy",
         "torch", "autograd"]


def run(ctx: Context) -> Section:
    x = np.random.default_rng(0).standard_normal(16)
    libs = ctx.libs
    jg = libs["jitgrad"]
    compiled = jg.jit(jg.grad(bind(small, jg)))
    eager = jg.grad(bind(small, jg))
    fns = {"jitgrad": lambda: compiled(x), "jitgrad eager": lambda: eager(x),
           "numpy": lambda: small_grad_numpy(x)}
    if "jax" in libs:
        jax = libs["jax"]
        jf = jax.jit(jax.grad(bind(small, jax)))
        xj = jax.put(x)
        fns["jax (numpy in/out)"] = lambda: np.asarray(jf(x))
        fns["jax (jax.Array)"] = lambda: jf(xj).block_until_ready()
    if "torch" in libs:
        torch = libs["torch"]
        tf = torch.grad(bind(small, torch))
        fns["torch"] = lambda: tf(torch.put(x)).numpy()
    if "autograd" in libs:
        ag = libs["autograd"]
        af = ag.grad(bind(small, ag))
        fns["autograd"] = lambda: af(x)
    case = "grad of sum(tanh(x)*x + x**2), x f64[16]"
    results = ctx.measure(case, {k: ctx.timed(f) for k, f in fns.items()},
                          expect=[small_grad_numpy(x)], tol=1e-12)
    section = Section("dispatch", "µs per call of the gradient of a tiny function", PEERS)
    section.rows.append(Row(case, results, lambda t: f"{t * 1e6:.2f} µs", {"n": 16}))
    jax_ratio = results.get("jax (numpy in/out)")
    if jax_ratio is not None:
        section.notes.append(f"target: jitgrad ≤ 0.4× jax (numpy in/out); measured "
                             f"{jax_ratio.ratio:.2f}×")
    section.notes.append("jitgrad, numpy, autograd and \"jax (numpy in/out)\" take and return "
                         "numpy arrays; torch converts with from_numpy/.numpy(); "
                         "\"jax (jax.Array)\" is given a device array and blocks on its result.")
    return section
