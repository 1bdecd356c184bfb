"""attention and layernorm: gradients of two network layers (float32) w.r.t. all inputs."""

from __future__ import annotations

import numpy as np

from perf import programs
from perf.harness import Context
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]
NOTE = ("the loss is sum(layer(inputs) * g) for a fixed random g, so each gradient is the "
        "layer's vector-Jacobian product; numpy is the backward pass written out by hand; "
        "inputs are given in each peer's own array type.")


def _section(ctx: Context, name: str, title: str, case: str, program, hand,
             args: list[np.ndarray]) -> Section:
    wrt = (0, 1, 2)
    expect = hand(*[a.astype(np.float64) for a in args])
    results = ctx.measure(case, ctx.gradients(program, hand, args, wrt), expect=list(expect),
                          tol=1e-4)
    section = Section(name, title, PEERS, notes=[NOTE])
    section.rows.append(Row(case, results, lambda t: f"{t * 1e3:.3g} ms"))
    return section


def attention(ctx: Context) -> Section:
    rng = np.random.default_rng(0)
    batch, seq, dim = 8, 128, 64
    q, k, v, g = (rng.standard_normal((batch, seq, dim)).astype(np.float32) for _ in range(4))
    return _section(ctx, "attention", "ms per forward + backward of softmax attention",
                    f"softmax(q kᵀ/√d) v, q k v f32[{batch},{seq},{dim}], grads w.r.t. q, k, v",
                    programs.attention, programs.attention_grad_numpy, [q, k, v, g])


def layernorm(ctx: Context) -> Section:
    rng = np.random.default_rng(0)
    rows, cols = 256, 1024
    x, g = (rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(2))
    gamma = (1 + 0.1 * rng.standard_normal(cols)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(cols)).astype(np.float32)
    return _section(ctx, "layernorm", "ms per forward + backward of layer normalisation",
                    f"(x-μ)/√(σ²+ε)·γ+β over the last axis, x f32[{rows},{cols}], grads w.r.t. "
                    "x, γ, β", programs.layernorm, programs.layernorm_grad_numpy,
                    [x, gamma, beta, g])
