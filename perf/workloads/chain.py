"""chain: gradient of an elementwise chain w.r.t. both inputs, against the bandwidth bound."""

from __future__ import annotations

import numpy as np

from perf import machine
from perf.harness import Context
from perf.programs import chain, chain_grad_numpy
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]


def run(ctx: Context) -> Section:
    bw = machine.stream_bandwidth(ctx)
    sizes = (10**5, 10**6) if ctx.quick else (10**5, 10**6, 10**7)
    section = Section("chain", "gradient of sum(sin(x)*y + exp(-x*x)/(1+y*y)) w.r.t. x and y",
                      PEERS, extra=["bandwidth bound"])
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in sizes:
            x = rng.uniform(-3, 3, n).astype(dtype)
            y = rng.uniform(-3, 3, n).astype(dtype)
            case = f"n={n:.0e} {np.dtype(dtype).name}"
            expect = chain_grad_numpy(x.astype(np.float64), y.astype(np.float64))
            results = ctx.measure(case, ctx.gradients(chain, chain_grad_numpy, [x, y], (0, 1)),
                                  expect=list(expect), tol=1e-4 if dtype == np.float32 else 1e-10)
            bound = 4 * x.nbytes / bw  # read x and y, write both gradients
            section.rows.append(Row(case, results, lambda t: f"{t * 1e3:.3g} ms",
                                    {"n": n, "dtype": np.dtype(dtype).name, "bound_s": bound},
                                    {"bandwidth bound": f"{bound * 1e3:.3g} ms"}))
    section.notes += [
        f"bandwidth bound: bytes moved (2 inputs read + 2 gradients written) ÷ the stream "
        f"bandwidth measured in this run, {bw / 1e9:.1f} GB/s.",
        "inputs are given to each peer in its own array type (jax.device_put / "
        "torch.from_numpy beforehand); JAX results are waited for (block_until_ready).",
        "numpy: the gradient written out by hand (cos(x)*y - 2x·e/(1+y²), sin(x) - 2y·e/(1+y²)²)."]
    return section
