"""Compile work grows linearly with the program: planning (IR passes, fusion, kernel source and
caller generation; no Numba compile) takes about as long per equation for programs of 1k, 4k and
16k equations. The programs are unrolled loops, so they also check that nothing recurses once
per step (a 16k-equation program is far deeper than Python's recursion limit)."""

import gc
import time
from types import SimpleNamespace

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.backend import cache, runtime
from jitgrad.transforms.passes import optimize_ir

EQNS_PER_STEP = 47  # of the traced gradient of ``loss``, per loop step


def loss(x, w, h0):
    """Per step: a row of the input (a slice), a concatenation, a matmul, elementwise gates,
    keepdims and plain reductions, slices of the state, and a running scalar sum."""
    h, total = h0, 0.0
    for t in range(x.shape[0]):
        h = jnp.tanh(jnp.concatenate([x[t], h], axis=1) @ w) * 0.5 + h * 0.5
        total = total + jnp.sum(jnp.max(h, axis=1, keepdims=True) - h[:, 1:] * h[:, :-1])
    return total


def program(eqns):
    steps = round(eqns / EQNS_PER_STEP)
    r = np.random.default_rng(0)
    args = (r.standard_normal((steps, 3, 4)), r.standard_normal((9, 5)),
            r.standard_normal((3, 5)))
    return jg.make_ir(jg.value_and_grad(loss, argnums=(1, 2)))(*args)


def plan_seconds(ir, repeats):
    """The least CPU time of ``repeats`` plannings of ``ir`` (CPU time of this process: other
    processes on a busy machine barely disturb it)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        compiled = runtime.compile_ir(optimize_ir(ir), lambda sub: None)
        best = min(best, time.process_time() - start)
    return best, compiled


def test_planning_time_per_equation_is_flat(monkeypatch):
    # Planning only: kernels are generated but neither written to the cache nor compiled.
    monkeypatch.setattr(cache, "load", lambda source: SimpleNamespace(kernel=None))
    per_eqn, distinct = {}, {}
    for size, repeats in ((1000, 3), (4000, 2), (16000, 1)):
        ir = program(size)
        assert abs(len(ir.eqns) - size) < 0.05 * size
        seconds, compiled = plan_seconds(ir, repeats)
        per_eqn[size] = seconds / len(ir.eqns)
        distinct[size] = len(set(compiled.kernel_sources))
    # NB: a ratio of two times measured in this test, with generous slack (a quadratic stage
    # would make it 16), never an absolute time.
    assert per_eqn[16000] <= 3 * per_eqn[1000], per_eqn
    assert per_eqn[4000] <= 3 * per_eqn[1000], per_eqn
    # Longer loops run the same kernels more often; they do not need more distinct kernels.
    assert distinct[16000] == distinct[4000] == distinct[1000], distinct


def test_garbage_collector_paused_while_compiling_and_resumed():
    """The cyclic collector is off while a program is traced and compiled (a long program's
    objects would be traversed by every full collection), and back on afterwards, also after
    a failed trace; a collector the user turned off stays off."""
    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return jnp.sin(x) * 23.0

    assert gc.isenabled()
    jg.jit(f)(np.ones(3))
    assert seen == [False] and gc.isenabled()
    with pytest.raises(AttributeError):
        jg.jit(lambda x: x.no_such_attribute)(np.ones(3))
    assert gc.isenabled()
    gc.disable()
    try:
        jg.jit(lambda x: f(x) + 1.0)(np.ones(3))
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()


def test_unrolled_fluid_steps_share_their_kernels(monkeypatch):
    """The per-step kernels of autograd's fluid simulation (rolls made of slices and
    concatenations, bilinear gathers, and their scatter-add gradients) are the same sources in
    every step: 6 steps need no more distinct kernels than 3 (only the first and last steps'
    kernels run once)."""
    from perf.programs import fluid_loss

    monkeypatch.setattr(cache, "load", lambda source: SimpleNamespace(kernel=None))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((6, 6)) for _ in range(4)]
    sources = {}
    for steps in (3, 6):
        ir = jg.make_ir(jg.grad(lambda *a, steps=steps: fluid_loss(
            SimpleNamespace(np=jnp), *a, steps=steps, iters=2)))(*args)
        sources[steps] = runtime.compile_ir(optimize_ir(ir), lambda sub: None).kernel_sources
    short, long = sources[3], sources[6]
    assert len(long) > len(short) and set(long) == set(short)
