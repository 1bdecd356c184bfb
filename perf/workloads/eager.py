"""eager: gradients without jit, per call, on small programs in the style of autograd's examples,
against autograd, PyTorch (eager autograd) and JAX (jax.grad without jit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf.harness import Context
from perf.peers import Lib, tree_map
from perf.programs import bind, small
from perf.report import Row, Section

PEERS = ["jitgrad", "autograd", "torch", "jax"]

RNN_STEPS = 20


def logistic(lib: Lib, w: Any, inputs: Any, targets: Any) -> Any:
    """autograd's examples/logistic_regression.py: negative log-likelihood of a logistic
    model (its sigmoid written with tanh)."""
    xp = lib.np
    preds = 0.5 * (xp.tanh((inputs @ w) / 2.0) + 1.0)
    probs = preds * targets + (1.0 - preds) * (1.0 - targets)
    return -xp.sum(xp.log(probs))


def mlp2(lib: Lib, params: list, x: Any, y: Any) -> Any:
    """A 2-layer tanh network with softmax cross-entropy (one-hot ``y``)."""
    w1, b1, w2, b2 = params
    h = lib.np.tanh(x @ w1 + b1)
    return -lib.np.mean(lib.np.sum(y * lib.log_softmax(h @ w2 + b2, axis=-1), axis=-1))


def rosenbrock(lib: Lib, x: Any) -> Any:
    xp = lib.np
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rnn(lib: Lib, params: list, xs: Any, ys: Any) -> Any:
    """A tanh RNN unrolled over the leading axis of ``xs`` by a Python loop, with a squared
    error on a linear read-out at every step."""
    wx, wh, b, wo = params
    xp = lib.np
    h = xp.tanh(xs[0] @ wx + b)
    loss = xp.sum((h @ wo - ys[0]) ** 2)
    for t in range(1, xs.shape[0]):
        h = xp.tanh(xs[t] @ wx + h @ wh + b)
        loss = loss + xp.sum((h @ wo - ys[t]) ** 2)
    return loss


def cases(rng: np.random.Generator) -> list[tuple[str, Callable, list, int]]:
    """(case, program, arguments, argnum differentiated), every array float64."""
    n, d = 256, 16
    inputs = rng.standard_normal((n, d))
    targets = (rng.uniform(size=n) > 0.5).astype(np.float64)
    batch, din, hidden, classes = 128, 64, 128, 10
    mlp_params = [rng.standard_normal((din, hidden)) / np.sqrt(din), np.zeros(hidden),
                  rng.standard_normal((hidden, classes)) / np.sqrt(hidden), np.zeros(classes)]
    onehot = np.eye(classes)[rng.integers(0, classes, batch)]
    rb, rd, rh = 16, 8, 32
    rnn_params = [rng.standard_normal((rd, rh)) * 0.3, rng.standard_normal((rh, rh)) * 0.2,
                  np.zeros(rh), rng.standard_normal((rh, 1)) * 0.3]
    return [
        ("sum(tanh(x)·x + x²), x f64[16] (the dispatch row)", small,
         [rng.standard_normal(16)], 0),
        (f"logistic regression, {n}×{d} inputs", logistic,
         [rng.standard_normal(d) * 0.1, inputs, targets], 0),
        (f"2-layer tanh MLP {din}-{hidden}-{classes}, batch {batch}", mlp2,
         [mlp_params, rng.standard_normal((batch, din)), onehot], 0),
        ("Rosenbrock, x f64[100]", rosenbrock, [rng.uniform(-1, 1, 100)], 0),
        (f"tanh RNN, {RNN_STEPS} steps, batch {rb}, {rd}→{rh}", rnn,
         [rnn_params, rng.standard_normal((RNN_STEPS, rb, rd)),
          rng.standard_normal((RNN_STEPS, rb, 1))], 0),
    ]


def samplers(ctx: Context, program: Callable, args: list, argnum: int) -> dict:
    """Every peer's eager ``grad(program, argnum)`` on ``args`` in its own array type."""
    out = {}
    for name, lib in ctx.libs.items():
        fn = lib.grad(bind(program, lib), argnum)
        native = tree_map(lib.put, args)
        out[name] = ctx.timed(lambda f=fn, a=native, b=lib.block: b(f(*a)))
    return out


def reference(ctx: Context, program: Callable, args: list, argnum: int) -> list[np.ndarray]:
    """The gradient by jitgrad's other route: traced to an IR, transformed (``vjp_ir``) and
    evaluated on numpy, as ``make_ir`` shows it."""
    import jitgrad as jg
    from jitgrad.core import eval_ir

    ir = jg.make_ir(jg.grad(bind(program, ctx.libs["jitgrad"]), argnum))(*args)
    return [np.asarray(g) for g in eval_ir(ir, *jg.tree_util.tree_leaves(args))]


def run(ctx: Context) -> Section:
    section = Section("eager", "µs per call of a gradient without jit", PEERS)
    for case, program, args, argnum in cases(np.random.default_rng(0)):
        results = ctx.measure(case, samplers(ctx, program, args, argnum),
                              expect=reference(ctx, program, args, argnum), tol=1e-10)
        section.rows.append(Row(case, results, lambda t: f"{t * 1e6:.0f} µs"))
    section.notes += [
        "every peer differentiates eagerly: jitgrad's grad and autograd's grad on numpy arrays, "
        "torch.autograd.grad on tensors from torch.from_numpy, jax.grad without jit on "
        "device arrays; float64 throughout.",
        "the programs follow autograd's examples (logistic regression, neural net, RNN) and "
        "the Rosenbrock function; each peer's gradient is checked against jitgrad's staged "
        "one (the IR transform, evaluated on numpy)."]
    return section
