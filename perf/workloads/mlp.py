"""mlp: milliseconds per SGD training step of a 784-256-256-10 tanh network, float32."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf.harness import Context
from perf.peers import tree_map
from perf.programs import MLP_BATCH, mlp_data, mlp_loss, mlp_step, mlp_step_numpy
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]
NOTES = [
    "jitgrad and jax: jit of a step that calls value_and_grad and returns the updated "
    "parameters; torch and autograd run the same step eagerly; numpy is backpropagation "
    "written out by hand.",
    "every peer trains its own copy from the same initial parameters; the first step of "
    "each is checked against numpy's."]


def step_row(ctx: Context, case: str, data: tuple[list, Any, Any], loss: Callable,
             step_numpy: Callable) -> Row:
    """Every peer's SGD step of ``loss`` (numpy's: ``step_numpy``) on ``data`` (parameters,
    inputs, labels), each training its own copy of the parameters."""
    params, x, y = data
    steps = {"numpy": (step_numpy, lambda a: a, lambda out: out)}
    for name, lib in ctx.libs.items():
        steps[name] = (mlp_step(lib, loss), lib.put, lib.block)
    samplers = {}
    for name, (step, put, block) in steps.items():
        state = {"params": tree_map(put, params)}
        batch = (put(x), put(y))

        def train(step=step, block=block, state=state, batch=batch):
            loss, state["params"] = block(step(state["params"], *batch))
            return loss, state["params"]

        samplers[name] = ctx.timed(train)
    value, new = step_numpy(params, x, y)
    results = ctx.measure(case, samplers, expect=[value, *new], tol=1e-4)
    return Row(case, results, lambda t: f"{t * 1e3:.3g} ms")


def run(ctx: Context) -> Section:
    section = Section("mlp", "ms per training step (forward, backward, SGD update of every "
                      "parameter)", PEERS)
    section.rows.append(step_row(ctx, f"784-256-256-10 tanh, batch {MLP_BATCH}, float32",
                                 mlp_data(np.random.default_rng(0)), mlp_loss, mlp_step_numpy))
    section.notes += NOTES
    return section
