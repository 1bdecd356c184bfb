"""The benchmarked programs, written once for every peer's numpy-like namespace, and their
gradients written out by hand in numpy (the "numpy" peer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf.peers import Lib

LR = 0.01  # SGD step of the MLP workload
MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
MNIST_SIZES = (784, 1024, 1024, 10)  # JAX's examples/mnist_classifier_fromscratch.py


def bind(program: Callable, lib: Lib) -> Callable:
    """``program`` with its first argument (the peer) fixed, keeping its name."""

    def bound(*args: Any) -> Any:
        return program(lib, *args)

    bound.__name__ = bound.__qualname__ = program.__name__
    return bound


# -- dispatch: a tiny function, where per-call overhead is everything -------------------------

def small(lib: Lib, x: Any) -> Any:
    xp = lib.np
    return xp.sum(xp.tanh(x) * x + x**2)


def small_grad_numpy(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return t + x * (1 - t * t) + 2 * x


# -- chain: an elementwise chain, bound by memory bandwidth and transcendental throughput -----

def chain(lib: Lib, x: Any, y: Any) -> Any:
    xp = lib.np
    return xp.sum(xp.sin(x) * y + xp.exp(-x * x) / (1 + y * y))


def chain_grad_numpy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = 1 / (1 + y * y)
    e2 = -2 * np.exp(-x * x) * r
    return np.cos(x) * y + e2 * x, np.sin(x) + e2 * r * y


# -- mlp: one SGD step of a 784-256-256-10 tanh network with softmax cross-entropy ------------

def mlp_data(rng: np.random.Generator, dtype: Any = np.float32, sizes: tuple = MLP_SIZES
             ) -> tuple[list, Any, Any]:
    """Parameters ``[W1, b1, W2, b2, W3, b3]``, a batch of inputs and one-hot labels."""
    params = []
    for m, n in zip(sizes[:-1], sizes[1:], strict=True):
        params += [(rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype), np.zeros(n, dtype)]
    x = rng.standard_normal((MLP_BATCH, sizes[0])).astype(dtype)
    y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], MLP_BATCH)]
    return params, x, y


def mlp_loss(lib: Lib, params: list, x: Any, y: Any) -> Any:
    xp = lib.np
    h = x
    for i in range(0, len(params) - 2, 2):
        h = xp.tanh(h @ params[i] + params[i + 1])
    logits = h @ params[-2] + params[-1]
    return -xp.mean(xp.sum(y * lib.log_softmax(logits, axis=-1), axis=-1))


def mlp_step(lib: Lib, loss: Callable = mlp_loss) -> Callable:
    """The peer's compiled ``step(params, x, y) -> (loss, params - LR * grad)`` of ``loss``."""
    loss_and_grad = lib.value_and_grad(bind(loss, lib))

    def step(params: list, x: Any, y: Any) -> tuple[Any, list]:
        loss, grads = loss_and_grad(params, x, y)
        return loss, [p - LR * g for p, g in zip(params, grads, strict=True)]

    return lib.jit(step)


def mlp_step_numpy(params: list, x: np.ndarray, y: np.ndarray) -> tuple[Any, list]:
    """The same step with backpropagation written out (rows of ``y`` are one-hot)."""
    hs = [x]
    for i in range(0, len(params) - 2, 2):
        hs.append(np.tanh(hs[-1] @ params[i] + params[i + 1]))
    logits = hs[-1] @ params[-2] + params[-1]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = -(y * log_p).sum(axis=-1).mean()
    delta = (np.exp(log_p) - y) / len(x)
    grads = []
    for i in range(len(params) - 2, -1, -2):
        grads += [delta.sum(axis=0), hs[i // 2].T @ delta]
        if i:
            delta = (delta @ params[i].T) * (1 - hs[i // 2] ** 2)
    return loss, [p - LR * g for p, g in zip(params, grads[::-1], strict=True)]


# -- cnn: a two-layer convolutional network's SGD step ----------------------------------------

CNN_BATCH, CNN_SIZE, CNN_CHANNELS, CNN_K = 32, 28, (1, 8, 16), 3


def cnn_data(rng: np.random.Generator) -> tuple[list, Any, Any]:
    """Parameters ``[W1, b1, W2, b2, Wd, bd]`` (OIHW kernels, a dense head over the flattened
    second layer), a batch of NCHW images and one-hot labels, float32."""
    params = []
    for c_in, c_out in zip(CNN_CHANNELS[:-1], CNN_CHANNELS[1:], strict=True):
        scale = 1 / np.sqrt(c_in * CNN_K * CNN_K)
        params += [rng.standard_normal((c_out, c_in, CNN_K, CNN_K)) * scale, np.zeros(c_out)]
    flat = CNN_CHANNELS[-1] * CNN_SIZE * CNN_SIZE
    params += [rng.standard_normal((flat, 10)) / np.sqrt(flat), np.zeros(10)]
    x = rng.standard_normal((CNN_BATCH, CNN_CHANNELS[0], CNN_SIZE, CNN_SIZE))
    y = np.eye(10)[rng.integers(0, 10, CNN_BATCH)]
    return [p.astype(np.float32) for p in params], x.astype(np.float32), y.astype(np.float32)


def conv(lib: Lib, x: Any, w: Any) -> Any:
    """Each peer's own 2-d cross-correlation, stride 1, zero padding keeping the size
    ('SAME'), NCHW images and OIHW kernels."""
    if lib.name in ("jitgrad", "jax"):
        lax = __import__(f"{lib.name}.lax", fromlist=["lax"])
        return lax.conv_general_dilated(x, w, (1, 1), "SAME")
    if lib.name == "torch":
        import torch
        return torch.nn.functional.conv2d(x, w, padding=w.shape[-1] // 2)
    # autograd: its convolve flips the kernel, and has no padding of its own.
    from autograd.scipy.signal import convolve
    p = w.shape[-1] // 2
    xp = lib.np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")
    return convolve(xp, w[:, :, ::-1, ::-1], axes=([2, 3], [2, 3]), dot_axes=([1], [1]),
                    mode="valid")


def cnn_loss(lib: Lib, params: list, x: Any, y: Any) -> Any:
    xp = lib.np
    h = x
    for i in range(0, len(params) - 2, 2):
        h = xp.tanh(conv(lib, h, params[i]) + params[i + 1][:, None, None])
    logits = h.reshape((h.shape[0], -1)) @ params[-2] + params[-1]
    return -xp.mean(xp.sum(y * lib.log_softmax(logits, axis=-1), axis=-1))


def windows(x: np.ndarray, k: int) -> np.ndarray:
    """(N, C, H, W, k, k) patches of ``x`` zero-padded by k // 2."""
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))


def conv_numpy(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """'SAME' cross-correlation by im2col: the patches contracted with the kernel."""
    return np.tensordot(windows(x, w.shape[-1]), w, axes=([1, 4, 5], [1, 2, 3])
                        ).transpose(0, 3, 1, 2)


def cnn_step_numpy(params: list, x: np.ndarray, y: np.ndarray) -> tuple[Any, list]:
    """The CNN step with backpropagation written out: a kernel's gradient contracts the
    cotangent with the layer input's patches; the input's gradient correlates the cotangent
    with the flipped, transposed kernel (not needed for the first layer)."""
    hs = [x]
    for i in range(0, len(params) - 2, 2):
        hs.append(np.tanh(conv_numpy(hs[-1], params[i]) + params[i + 1][:, None, None]))
    flat = hs[-1].reshape(len(x), -1)
    logits = flat @ params[-2] + params[-1]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = -(y * log_p).sum(axis=-1).mean()
    delta = (np.exp(log_p) - y) / len(x)
    grads = [delta.sum(axis=0), flat.T @ delta]
    g = (delta @ params[-2].T).reshape(hs[-1].shape)
    for i in range(len(params) - 4, -1, -2):
        g = g * (1 - hs[i // 2 + 1] ** 2)
        w = params[i]
        grads += [g.sum(axis=(0, 2, 3)),
                  np.tensordot(g, windows(hs[i // 2], w.shape[-1]), axes=([0, 2, 3], [0, 2, 3]))]
        if i:
            g = conv_numpy(g, np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)))
    return loss, [p - LR * d for p, d in zip(params, grads[::-1], strict=True)]


# -- attention: softmax attention forward and backward (a fixed random cotangent g) -----------

def attention(lib: Lib, q: Any, k: Any, v: Any, g: Any) -> Any:
    xp = lib.np
    scores = q @ xp.swapaxes(k, -1, -2) * q.shape[-1] ** -0.5
    return xp.sum((lib.softmax(scores, axis=-1) @ v) * g)


def attention_grad_numpy(q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = q.shape[-1] ** -0.5
    s = q @ k.swapaxes(-1, -2) * scale
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, p.swapaxes(-1, -2) @ g


# -- layernorm: normalisation over the last axis with scale and shift --------------------------

EPS = 1e-5


def layernorm(lib: Lib, x: Any, gamma: Any, beta: Any, g: Any) -> Any:
    xp = lib.np
    xc = x - xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(xc * xc, axis=-1, keepdims=True)
    return xp.sum((xc / xp.sqrt(var + EPS) * gamma + beta) * g)


def layernorm_grad_numpy(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, g: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xc = x - x.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + EPS)
    xhat = xc * rstd
    dxhat = g * gamma
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


# -- lstm: an unrolled LSTM character model, as autograd's examples/lstm.py ------------------

LSTM_SIZES = (32, 24, 32)  # input (alphabet), state, output
LSTM_BATCH = 8
LSTM_STEPS = 30  # the unrolled length the compile workload measures


def lstm_data(rng: np.random.Generator, steps: int, dtype: Any = np.float64
              ) -> tuple[dict, np.ndarray]:
    """Parameters (a dict, as in autograd's example) and one-hot inputs of ``steps`` steps."""
    n_in, n_state, n_out = LSTM_SIZES

    def rp(*shape: int) -> np.ndarray:
        return (0.1 * rng.standard_normal(shape)).astype(dtype)

    params = {"init cells": rp(1, n_state), "init hiddens": rp(1, n_state),
              **{gate: rp(n_in + n_state + 1, n_state)
                 for gate in ("change", "forget", "ingate", "outgate")},
              "predict": rp(n_state + 1, n_out)}
    inputs = np.eye(n_in, dtype=dtype)[rng.integers(0, n_in, (steps, LSTM_BATCH))]
    return params, inputs


def lstm_loss(lib: Lib, params: dict, inputs: Any) -> Any:
    """Negative log-likelihood of predicting each step's input from the previous steps; the
    loop over time steps is unrolled by tracing."""
    xp = lib.np
    batch = inputs.shape[1]

    def sigmoid(x: Any) -> Any:
        return 0.5 * (xp.tanh(x) + 1.0)

    def concat_and_multiply(weights: Any, *args: Any) -> Any:
        ones = xp.ones((args[0].shape[0], 1), dtype=weights.dtype)
        return xp.concatenate(args + (ones,), axis=1) @ weights

    def log_probs(hiddens: Any) -> Any:
        out = concat_and_multiply(params["predict"], hiddens)
        top = xp.max(out, axis=1, keepdims=True)
        return out - (top + xp.log(xp.sum(xp.exp(out - top), axis=1, keepdims=True)))

    hiddens = xp.broadcast_to(params["init hiddens"], (batch, LSTM_SIZES[1]))
    cells = xp.broadcast_to(params["init cells"], (batch, LSTM_SIZES[1]))
    loglik = xp.sum(log_probs(hiddens) * inputs[0])
    for t in range(inputs.shape[0] - 1):
        x = inputs[t]
        change = xp.tanh(concat_and_multiply(params["change"], x, hiddens))
        forget = sigmoid(concat_and_multiply(params["forget"], x, hiddens))
        ingate = sigmoid(concat_and_multiply(params["ingate"], x, hiddens))
        outgate = sigmoid(concat_and_multiply(params["outgate"], x, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * xp.tanh(cells)
        loglik = loglik + xp.sum(log_probs(hiddens) * inputs[t + 1])
    return -loglik / (inputs.shape[0] * batch)


# -- fluid: a smoke simulation unrolled over time steps, as autograd's examples/fluidsim ------

def _roll(xp: Any, x: Any, shift: int, axis: int) -> Any:
    """``numpy.roll`` by a constant, from slices and a concatenation."""
    n = x.shape[axis]
    k = shift % n
    head = [slice(None)] * x.ndim
    tail = [slice(None)] * x.ndim
    head[axis], tail[axis] = slice(n - k, None), slice(None, n - k)
    return xp.concatenate([x[tuple(head)], x[tuple(tail)]], axis=axis)


def _project(xp: Any, vx: Any, vy: Any, iters: int) -> tuple[Any, Any]:
    """Make the velocity field approximately mass-conserving (Gauss-Seidel iterations)."""
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (_roll(xp, vx, -1, 0) - _roll(xp, vx, 1, 0)
                      + _roll(xp, vy, -1, 1) - _roll(xp, vy, 1, 1))
    p = xp.zeros(vx.shape, dtype=vx.dtype)
    for _ in range(iters):
        p = (div + _roll(xp, p, 1, 0) + _roll(xp, p, -1, 0)
             + _roll(xp, p, 1, 1) + _roll(xp, p, -1, 1)) / 4.0
    vx = vx - 0.5 * (_roll(xp, p, -1, 0) - _roll(xp, p, 1, 0)) / h
    vy = vy - 0.5 * (_roll(xp, p, -1, 1) - _roll(xp, p, 1, 1)) / h
    return vx, vy


def _advect(xp: Any, f: Any, vx: Any, vy: Any) -> Any:
    """Move ``f`` along the velocity field (implicit Euler, bilinear interpolation)."""
    rows, cols = f.shape
    cell_xs = xp.broadcast_to(xp.arange(cols, dtype=f.dtype)[:, None], (rows, cols))
    cell_ys = xp.broadcast_to(xp.arange(rows, dtype=f.dtype)[None, :], (rows, cols))
    center_xs = xp.reshape(cell_xs - vx, (-1,))
    center_ys = xp.reshape(cell_ys - vy, (-1,))
    left = xp.floor(center_xs)
    top = xp.floor(center_ys)
    rw, bw = center_xs - left, center_ys - top
    # Wrap around the edges (in floating point: exact for these integral values).
    left, right = (xp.mod(i, rows).astype(np.int64) for i in (left, left + 1))
    top, bottom = (xp.mod(i, cols).astype(np.int64) for i in (top, top + 1))
    flat = (1 - rw) * ((1 - bw) * f[left, top] + bw * f[left, bottom]) \
        + rw * ((1 - bw) * f[right, top] + bw * f[right, bottom])
    return xp.reshape(flat, (rows, cols))


FLUID_SIZE = 16  # grid side


def fluid_loss(lib: Lib, vx: Any, vy: Any, smoke: Any, target: Any, steps: int = 20,
               iters: int = 10) -> Any:
    """Distance to a target image after ``steps`` steps of the simulation."""
    xp = lib.np
    for _ in range(steps):
        vx_new, vy_new = _advect(xp, vx, vx, vy), _advect(xp, vy, vx, vy)
        vx, vy = _project(xp, vx_new, vy_new, iters)
        smoke = _advect(xp, smoke, vx, vy)
    return xp.mean((target - smoke) ** 2)


# -- many: small random programs, each new to the compiler --------------------------------------

RANDOM_OPS: dict[str, Callable] = {  # (namespace, a, b) -> value
    "sin": lambda xp, a, b: xp.sin(a),
    "tanh": lambda xp, a, b: xp.tanh(a),
    "gauss": lambda xp, a, b: xp.exp(-a * a),
    "square": lambda xp, a, b: a * a,
    "add": lambda xp, a, b: a + b,
    "sub": lambda xp, a, b: a - b,
    "mul": lambda xp, a, b: a * b,
    "max": lambda xp, a, b: xp.maximum(a, b),
    "sum": lambda xp, a, b: a + xp.sum(b, axis=-1, keepdims=True),
}


def random_programs(count: int, seed: int = 0, length: int = 6) -> list[Callable]:
    """``count`` distinct random programs of two (4, 8) arrays to a scalar: ``length``
    operations from ``RANDOM_OPS``, each reading earlier values, drawn by a fixed generator."""
    rng = np.random.default_rng(seed)
    names = sorted(RANDOM_OPS)
    seen: set[tuple] = set()
    out = []
    while len(out) < count:
        ops = tuple((names[rng.integers(len(names))], int(rng.integers(100)),
                     int(rng.integers(100))) for _ in range(length))
        if ops not in seen:
            seen.add(ops)
            out.append(_random_program(ops))
    return out


def _random_program(ops: tuple) -> Callable:
    def program(lib: Lib, x: Any, y: Any) -> Any:
        vals = [x, y]
        for name, i, j in ops:
            vals.append(RANDOM_OPS[name](lib.np, vals[i % len(vals)], vals[j % len(vals)]))
        return lib.np.sum(vals[-1])

    return program
