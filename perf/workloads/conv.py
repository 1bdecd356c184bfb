"""conv: milliseconds per forward + backward of a small CNN layer (batch 32, 3 -> 32 channels,
32x32 images, 3x3 kernel, 'SAME' padding, NCHW, float32)."""

from __future__ import annotations

from typing import Any

import numpy as np

from perf.harness import Context
from perf.programs import bind, conv, windows
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]
BATCH, C_IN, C_OUT, SIZE, K = 32, 3, 32, 32, 3


def layer(lib: Any, x: Any, w: Any, g: Any) -> Any:
    """sum(conv(x, w) * g): its gradients are the layer's vector-Jacobian product."""
    return lib.np.sum(conv(lib, x, w) * g)


def layer_numpy(x: np.ndarray, w: np.ndarray, g: np.ndarray, wrt_x: bool = True
                ) -> tuple[np.ndarray, ...]:
    """im2col by hand: the value from the patches and the kernel; dW contracts the patches
    with g; dx is g correlated with the flipped, transposed kernel."""
    patches = windows(x, K)
    value = np.sum(np.tensordot(patches, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
                   * g)
    dw = np.tensordot(g, patches, axes=([0, 2, 3], [0, 2, 3]))
    if not wrt_x:
        return value, dw
    wt = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    dx = np.tensordot(windows(g, K), wt, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    return value, dx, dw


def run(ctx: Context) -> Section:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, C_IN, SIZE, SIZE)).astype(np.float32)
    w = (rng.standard_normal((C_OUT, C_IN, K, K)) / np.sqrt(C_IN * K * K)).astype(np.float32)
    g = rng.standard_normal((BATCH, C_OUT, SIZE, SIZE)).astype(np.float32)
    section = Section("conv", "ms per forward + backward of a convolution layer", PEERS)
    shape = f"x f32[{BATCH},{C_IN},{SIZE},{SIZE}], w f32[{C_OUT},{C_IN},{K},{K}], 'SAME'"
    for case, argnums in ((f"{shape}, value and grads w.r.t. x and w", (0, 1)),
                          (f"{shape}, value and grad w.r.t. w (a first layer)", 1)):
        wrt_x = argnums == (0, 1)
        expect = layer_numpy(*(a.astype(np.float64) for a in (x, w, g)), wrt_x=wrt_x)
        samplers = {"numpy": ctx.timed(lambda wx=wrt_x: layer_numpy(x, w, g, wrt_x=wx))}
        for name, lib in ctx.libs.items():
            # value_and_grad: the forward pass is computed (grad alone of this linear loss
            # would let jitgrad and JAX drop it as dead code).
            fn = lib.jit(lib.value_and_grad(bind(layer, lib), argnums))
            native = [lib.put(a) for a in (x, w, g)]
            samplers[name] = ctx.timed(lambda f=fn, a=native, b=lib.block: b(f(*a)))
        results = ctx.measure(case, samplers, expect=list(expect), tol=1e-4)
        section.rows.append(Row(case, results, lambda t: f"{t * 1e3:.3g} ms"))
    section.notes += [
        "jitgrad and jax: jit(value_and_grad) of the loss sum(conv(x, w) * g) for a fixed "
        "random g; torch and autograd run the same eagerly (torch's conv2d, autograd's "
        "scipy.signal.convolve with a flipped kernel on a padded input); numpy is im2col "
        "(sliding windows and tensordot) by hand.",
        "jitgrad's convolution: an im2col copy into jitgrad's matmul for the forward pass "
        "and the kernel gradient, matmul then col2im for the input gradient."]
    return section
