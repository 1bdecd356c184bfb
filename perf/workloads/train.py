"""mlp, mnist and cnn: milliseconds per SGD training step (forward, backward, update of every
parameter) of a 784-256-256-10 tanh network, of JAX's from-scratch MNIST classifier
(784-1024-1024-10 tanh) and of a two-layer convolutional network, float32."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from perf.child import ROOT
from perf.harness import Context, Timed
from perf.peers import Lib, load, to_numpy, tree_map
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

PEERS = ["jitgrad", "jax", "numpy", "torch", "torch.compile", "autograd"]
NOTES = [
    "jitgrad and jax: jit of a step that calls value_and_grad and returns the updated "
    "parameters; torch and autograd run the same step eagerly; numpy is backpropagation "
    "written out by hand; torch.compile: PyTorch's compiler (inductor) of torch's eager "
    "step, compiled at warm-up (the MLP step: 49 s with a cold inductor cache here, 8 s warm).",
    "every peer trains its own copy from the same initial parameters; the first step of "
    "each is checked against numpy's."]
SEPARATE = ("with more than one thread, each peer runs in a process of its own (`python -m "
            "perf.child step`), one process busy at a time after a 250 ms pause: in one "
            "process, the thread pools of the peer measured before (OpenMP, Eigen, OpenBLAS) "
            "still spin and take cores from the next; OpenBLAS's threads kept spinning for "
            "0.07-0.1 s after a product here.")

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


class Separate(Timed):
    """Samples a peer's step in a child process of its own (``python -m perf.child step``),
    which runs ``number`` calls per sample, calibrated at warm-up as ``Timed`` does."""

    def __init__(self, key: str, peer: str, min_time: float):
        super().__init__(lambda: None, min_time)
        self.key, self.peer = key, peer
        self.proc: subprocess.Popen | None = None

    def _ask(self, line: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"perf.child step {self.key} {self.peer} died")
        return json.loads(reply)

    def _run(self, number: int) -> float:
        time.sleep(0.25)  # the other processes' spinning threads go idle (see SEPARATE)
        reply = self._ask(str(number))
        self.cores.append(reply["cpu"] / reply["wall"])
        return reply["wall"]

    def warmup(self) -> Any:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perf.child", "step", self.key, self.peer], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "first.npz")
            self._ask(path)
            with np.load(path) as first:
                out = [first[f"arr_{i}"] for i in range(len(first.files))]
        self.calibrate()
        return out

    def close(self) -> None:
        if self.proc is not None:
            self.proc.communicate("")


def serve(key: str, peer: str) -> None:
    """The child's side of ``Separate``: the first line read is a path where the first step's
    results go (npz), each further line a number of calls to time; one JSON reply a line."""
    train = trainer(key, peer, None if peer == "numpy" else load(peer.split(".")[0]))
    reply = sys.stdout
    sys.stdout = sys.stderr  # only replies on the pipe
    for i, line in enumerate(sys.stdin):
        if i == 0:
            np.savez(line.strip(), *to_numpy(train()))
            result: dict[str, Any] = {"saved": True}
        else:
            number = int(line)
            cpu, start = time.process_time(), time.perf_counter()
            for _ in range(number):
                train()
            result = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}
        reply.write(json.dumps(result) + "\n")
        reply.flush()


def step_row(ctx: Context, key: str, case: str) -> Row:
    """Every peer's step ``key``, each training its own copy of the parameters: interleaved
    in this process when single-threaded, else each in its own process."""
    peers: dict[str, Lib | None] = {"numpy": None, **ctx.libs}
    if "torch" in ctx.libs:
        peers["torch.compile"] = ctx.libs["torch"]
    samplers: dict[str, Any] = {
        name: Timed(trainer(key, name, lib), ctx.budget.min_time) if ctx.single_thread
        else Separate(key, name, ctx.budget.min_time) for name, lib in peers.items()}
    make, _, step_numpy = STEPS[key]
    value, new = step_numpy(*make())
    try:
        results = ctx.measure(case, samplers, expect=[value, *new], tol=1e-4)
    finally:
        for sampler in samplers.values():
            if isinstance(sampler, Separate):
                sampler.close()
    return Row(case, results, lambda t: f"{t * 1e3:.3g} ms")


def _section(ctx: Context, key: str, title: str, case: str, notes: list[str]) -> Section:
    section = Section(key, title, PEERS)
    section.rows.append(step_row(ctx, key, case))
    section.notes += notes + ([] if ctx.single_thread else [SEPARATE])
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
