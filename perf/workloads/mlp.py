"""mlp: milliseconds per SGD training step of a 784-256-256-10 tanh network, float32."""

from __future__ import annotations

import numpy as np

from perf.harness import Context
from perf.peers import tree_map
from perf.programs import MLP_BATCH, mlp_data, mlp_step, mlp_step_numpy
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]


def run(ctx: Context) -> Section:
    params, x, y = mlp_data(np.random.default_rng(0))
    steps = {"numpy": (mlp_step_numpy, lambda a: a, lambda out: out)}
    for name, lib in ctx.libs.items():
        steps[name] = (mlp_step(lib), lib.put, lib.block)
    samplers = {}
    for name, (step, put, block) in steps.items():
        state = {"params": tree_map(put, params)}
        data = (put(x), put(y))

        def train(step=step, block=block, state=state, data=data):
            loss, state["params"] = block(step(state["params"], *data))
            return loss, state["params"]

        samplers[name] = ctx.timed(train)
    loss, new = mlp_step_numpy(params, x, y)
    case = f"784-256-256-10 tanh, batch {MLP_BATCH}, float32"
    results = ctx.measure(case, samplers, expect=[loss, *new], tol=1e-4)
    section = Section("mlp", "ms per training step (forward, backward, SGD update of every "
                      "parameter)", PEERS)
    section.rows.append(Row(case, results, lambda t: f"{t * 1e3:.3g} ms"))
    section.notes += [
        "jitgrad and jax: jit of a step that calls value_and_grad and returns the updated "
        "parameters; torch and autograd run the same step eagerly; numpy is backpropagation "
        "written out by hand.",
        "every peer trains its own copy from the same initial parameters; the first step of "
        "each is checked against numpy's."]
    return section
