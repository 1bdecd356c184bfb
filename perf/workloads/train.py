"""mlp, mnist and cnn: milliseconds per SGD training step (forward, backward, update of every
parameter) of a 784-256-256-10 tanh network, of JAX's from-scratch MNIST classifier
(784-1024-1024-10 tanh) and of a two-layer convolutional network, float32."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf.harness import Context, Timed
from perf.peers import Lib, load, tree_map
from perf.programs import (
    CNN_BATCH,
    CNN_CHANNELS,
    CNN_K,
    CNN_SIZE,
    MLP_BATCH,
    MLP_SIZES,
    MNIST_SIZES,
    cnn_data,
    cnn_loss,
    cnn_step_numpy,
    mlp_data,
    mlp_loss,
    mlp_step,
    mlp_step_numpy,
)
from perf.report import Row, Section
from perf.separate import NOTE as SEPARATE_NOTE
from perf.separate import Separate, Server

PEERS = ["jitgrad", "jax", "numpy", "torch", "torch.compile", "autograd"]
NOTES = [
    "jitgrad and jax: jit of a step that calls value_and_grad and returns the updated "
    "parameters; torch and autograd run the same step eagerly; numpy is backpropagation "
    "written out by hand; torch.compile: PyTorch's compiler (inductor) of torch's eager "
    "step, compiled at warm-up (the MLP step: 49 s with a cold inductor cache here, 8 s warm).",
    "every peer trains its own copy from the same initial parameters; the first step of "
    "each is checked against numpy's."]

# each step's data (parameters, inputs, labels), loss and numpy-by-hand step
STEPS: dict[str, tuple[Callable[[], tuple[list, Any, Any]], Callable, Callable]] = {
    "mlp": (lambda: mlp_data(np.random.default_rng(0)), mlp_loss, mlp_step_numpy),
    "mnist": (lambda: mlp_data(np.random.default_rng(0), sizes=MNIST_SIZES), mlp_loss,
              mlp_step_numpy),
    "cnn": (lambda: cnn_data(np.random.default_rng(0)), cnn_loss, cnn_step_numpy),
}


def trainer(key: str, peer: str, lib: Lib | None) -> Callable[[], Any]:
    """A zero-argument call of ``peer``'s step ``key`` (``lib``: the peer's library, None
    for numpy), training its own copy of the parameters; it returns (loss, parameters)."""
    make, loss, step_numpy = STEPS[key]
    params, x, y = make()
    if lib is None:
        step, put, block = step_numpy, (lambda a: a), (lambda out: out)
    else:
        step, put, block = mlp_step(lib, loss), lib.put, lib.block
        if peer == "torch.compile":
            import torch
            step = torch.compile(step)
    state = {"params": tree_map(put, params)}
    batch = (put(x), put(y))

    def train() -> Any:
        value, state["params"] = block(step(state["params"], *batch))
        return value, state["params"]

    return train


def served(peer: str, key: str) -> Callable[[], Any]:
    """``peer``'s step ``key`` in a child process of its own (see ``perf.separate``)."""
    return trainer(key, peer, None if peer == "numpy" else load(peer.split(".")[0]))


def step_row(ctx: Context, key: str, case: str) -> Row:
    """Every peer's step ``key``, each training its own copy of the parameters: interleaved
    in this process when single-threaded, else each in its own process."""
    peers: dict[str, Lib | None] = {"numpy": None, **ctx.libs}
    if "torch" in ctx.libs:
        peers["torch.compile"] = ctx.libs["torch"]
    servers = {} if ctx.single_thread else {name: Server("train", name) for name in peers}
    samplers: dict[str, Any] = {
        name: Separate(servers[name], key, ctx.budget.min_time) if servers
        else Timed(trainer(key, name, lib), ctx.budget.min_time) for name, lib in peers.items()}
    make, _, step_numpy = STEPS[key]
    value, new = step_numpy(*make())
    try:
        results = ctx.measure(case, samplers, expect=[value, *new], tol=1e-4)
    finally:
        for server in servers.values():
            server.close()
    return Row(case, results, lambda t: f"{t * 1e3:.3g} ms")


def _section(ctx: Context, key: str, title: str, case: str, notes: list[str]) -> Section:
    section = Section(key, title, PEERS)
    section.rows.append(step_row(ctx, key, case))
    section.notes += notes + ([] if ctx.single_thread else [SEPARATE_NOTE])
    return section


def mlp(ctx: Context) -> Section:
    return _section(ctx, "mlp", "ms per training step (forward, backward, SGD update of every "
                    "parameter)", f"{'-'.join(map(str, MLP_SIZES))} tanh, batch {MLP_BATCH}, "
                    "float32", NOTES)


def mnist(ctx: Context) -> Section:
    return _section(
        ctx, "mnist", "ms per training step of JAX's examples/mnist_classifier_fromscratch.py "
        "network (forward, backward, SGD)",
        f"{'-'.join(map(str, MNIST_SIZES))} tanh, batch {MLP_BATCH}, float32", NOTES + [
            "the network, batch and loss of JAX's example (log-softmax cross-entropy; its "
            "logits - logsumexp is log_softmax), on random inputs; its SGD step size 0.001 "
            "is 0.01 here, as in the mlp workload."])


def cnn(ctx: Context) -> Section:
    c0, c1, c2 = CNN_CHANNELS
    return _section(
        ctx, "cnn", "ms per training step of a two-layer convolutional network (forward, "
        "backward, SGD)",
        f"x f32[{CNN_BATCH},{c0},{CNN_SIZE},{CNN_SIZE}]: conv {c0}->{c1}, tanh, conv "
        f"{c1}->{c2}, tanh ({CNN_K}x{CNN_K}, 'SAME'), dense -> 10, log-softmax", NOTES[:1] + [
            "convolutions: jitgrad and JAX lax.conv_general_dilated, PyTorch conv2d, autograd "
            "scipy.signal.convolve (flipped kernel, padded input); numpy by hand: im2col with "
            "tensordot, the input's gradient a correlation with the flipped, transposed "
            "kernel.", NOTES[1]])
