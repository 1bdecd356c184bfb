"""Turn a partitioned IR into a callable: kernels are compiled (through the disk cache) and a
thin generated Python caller allocates buffers and calls them in order, doing no per-call work
proportional to the number of IR equations."""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import logging
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jitgrad.backend import cache, parallel
from jitgrad.backend.codegen import (
    dt_name,
    kernel_flags,
    loop_extents,
    needs_init,
    reduce_init,
    render_kernel,
)
from jitgrad.backend.fuse import (
    LoopKernel,
    MatmulStep,
    Step,
    ViewStep,
    lowering_of,
    partition,
    step_inputs,
)
from jitgrad.core import IR, Lit, Var, config, pp_ir
from jitgrad.errors import CompileError

log = logging.getLogger("jitgrad")

KERNEL_IMPORTS = """import math

import numpy as np
from numba import njit

from jitgrad.backend.scalar import max_nan, min_nan, radd, rmax, rmin
from jitgrad.backend.vmath import (
    cos_f32, cos_f64, exp_f32, exp_f64, expm1_f32, expm1_f64, log1p_f32, log1p_f64, log_f32,
    log_f64, logistic_f32, logistic_f64, pow_f32, pow_f64, sin_f32, sin_f64, tan_f32, tan_f64,
    tanh_f32, tanh_f64,
)"""


@dataclass
class Compiled:
    """A compiled program: ``fn(*args)`` returns the list of outputs."""

    fn: Callable[..., list]
    caller_source: str
    kernel_sources: list[str]
    steps: list[Step]
    ir: IR

    def describe(self) -> str:
        parts = ["# program", pp_ir(self.ir), "", "# caller", self.caller_source]
        for i, src in enumerate(self.kernel_sources):
            parts += [f"# kernel K{i}", src]
        return "\n".join(parts)


def kernel_module_source(k: LoopKernel) -> str:
    body = render_kernel(k, [o.var.aval.dtype for o in k.outputs])
    return cache.module_source(f"@njit({kernel_flags()})\n{body}", KERNEL_IMPORTS)


class _DeferSciPyLinalg(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "scipy.linalg" or name.startswith("scipy.linalg."):
            raise ModuleNotFoundError(name)


@functools.cache
def start_numba() -> None:
    """Initialise Numba's CPU target without its one eager SciPy import.

    Numba's first compile (or cache load) imports all of its registries; one of them imports
    ``scipy.linalg`` only to record whether BLAS exists for ``np.correlate``. That import is
    about 0.3 s of the ≈0.7 s Numba start-up measured here, and no jitgrad kernel needs it, so
    it is deferred during initialisation and the flag is set from where SciPy would be found
    (without importing it). Numba imports SciPy itself, as before, when code uses BLAS."""
    from numba.core.registry import cpu_target
    if "scipy.linalg" in sys.modules:
        cpu_target.target_context.refresh()
        return
    blocker = _DeferSciPyLinalg()
    sys.meta_path.insert(0, blocker)
    try:
        cpu_target.target_context.refresh()
    finally:
        sys.meta_path.remove(blocker)
    try:
        import numba.np.arraymath as arraymath
        arraymath._HAVE_BLAS = importlib.util.find_spec("scipy.linalg") is not None
    except (ImportError, AttributeError, ValueError):
        pass


def compile_ir(ir: IR, compile_sub: Callable[[IR], Callable[..., list]]) -> Compiled:
    """Partition, generate and load the kernels of an (optimised) IR, and build its caller.
    ``compile_sub(ir)`` compiles the sub-programs of host steps (loop bodies, branches)."""
    start_numba()
    steps = partition(ir)
    names: dict[Var, str] = {}
    glob: dict[str, Any] = {"np": np, "run_matmul": run_matmul,
                            "run_split": parallel.run_split}
    for i, v in enumerate(ir.invars):
        names[v] = f"x{i}"
    for i, (v, c) in enumerate(zip(ir.constvars, ir.consts, strict=True)):
        names[v] = f"c{i}"
        glob[f"c{i}"] = np.asarray(c)
    body: list[str] = []
    sources: list[str] = []
    counter = iter(range(1 << 30))

    def name(v: Var) -> str:
        if v not in names:
            names[v] = f"t{next(counter)}"
        return names[v]

    def atom(x: Any) -> str:
        if isinstance(x, Lit):
            key = f"L{next(counter)}"
            glob[key] = np.asarray(x.val)
            return key
        return name(x)

    buffers = Buffers(ir, steps)
    glob["buffers"] = buffers

    def allocate(v: Var, init: Any = None) -> None:
        """The line creating ``v``'s buffer: reused scratch, a recycled output, or fresh."""
        if init is not None:
            key = f"I{next(counter)}"
            glob[key] = init
        slot, out = buffers.slot(v), buffers.output_slot(v)
        reused = f"ws[{slot}]" if slot is not None else \
            f"buffers.output({out})" if out is not None else None
        if reused is not None:
            body.append(f"{name(v)} = {reused}")
            if init is not None:
                body.append(f"{name(v)}.fill({key})")
            return
        shape, dt = v.aval.shape, dt_name(v.aval.dtype)
        body.append(f"{name(v)} = np.full({shape}, {key}, {dt})" if init is not None
                    else f"{name(v)} = np.empty({shape}, {dt})")

    for step in steps:
        if isinstance(step, LoopKernel):
            src = kernel_module_source(step)
            kname = f"K{len(sources)}"
            sources.append(src)
            glob[kname] = cache.load(src).kernel
            outs = []
            for o in step.outputs:
                init = reduce_init(o, o.var.aval.dtype) if needs_init(o, len(step.shape)) \
                    else None
                allocate(o.var, init)
                outs.append(name(o.var))
            # (a trailing ... keeps a view whose every axis is fixed a 0-d array, not a scalar)
            ins = [atom(x) if view is None else
                   f"{atom(x)}[{''.join(':, ' if i is None else f'{i}, ' for i in view)}...]"
                   for x, view in zip(step.inputs, step.in_views, strict=True)]
            arrays = [a if shape is None else f"{a}.reshape({shape})"
                      for a, shape in zip(ins + outs, step.arg_shapes, strict=True)]
            extents = [str(n) for n, src in zip(step.shape, loop_extents(step), strict=True)
                       if src is None]
            axes = parallel.split_axes(step)
            if axes is not None and parallel.worth_splitting(step):
                body.append(f"run_split({kname}, {step.shape[0]}, ({', '.join(arrays)},), "
                            f"{tuple(axes)}, ({''.join(e + ', ' for e in extents)}))")
            else:
                body.append(f"{kname}({', '.join(arrays + extents)})")
        elif isinstance(step, MatmulStep):
            allocate(step.out)
            body.append(
                f"run_matmul({atom(step.a)}, {atom(step.b)}, {step.transpose_a}, "
                f"{step.transpose_b}, {step.a_batch}, {step.b_batch}, "
                f"{atom(step.bias) if step.bias is not None else None}, {name(step.out)})")
        elif isinstance(step, ViewStep):
            src = step.eqn.inputs[0]
            body.append(f"{name(step.eqn.outputs[0])} = np.reshape({atom(src)}, "
                        f"{step.eqn.params['shape']})")
        else:
            hname = f"H{next(counter)}"
            build = lowering_of(step.eqn).compiled
            glob[hname] = build(compile_sub, **step.eqn.params) if build else \
                functools.partial(step.eqn.prim.impl, **step.eqn.params)
            res = f"{hname}({', '.join(atom(x) for x in step.eqn.inputs)})"
            outs = step.eqn.outputs
            if len(outs) == 1 and not step.eqn.prim.multiple_results:
                body.append(f"{name(outs[0])} = np.asarray({res})")
            else:
                body.append(f"{', '.join(name(v) for v in outs)}, = {res}")
    results = []
    for x in ir.outvars:
        results.append(f"{atom(x)}.copy()" if isinstance(x, Lit) else name(x))
    params = ", ".join(f"x{i}" for i in range(len(ir.invars)))
    # Scratch buffers come from a free list (each concurrent call gets its own set) and go
    # back only after a successful call.
    take, give = (["ws = buffers.take()"], ["buffers.give(ws)"]) if buffers.n_slots else ([], [])
    lines = [f"def run({params}):", "    try:"] + [f"        {b}" for b in take + body] + \
        [f"        res = [{', '.join(results)}]"] + [f"        {b}" for b in give] + \
        ["        return res",
         "    except Exception as e:",
         "        raise compile_error(e) from e"]
    caller = "\n".join(lines) + "\n"
    glob["compile_error"] = functools.partial(_compile_error, ir=ir, sources=sources)
    exec(compile(caller, "<jitgrad program>", "exec"), glob)
    return Compiled(glob["run"], caller, sources, steps, ir)


class Buffers:
    """Memory reused across calls, so that large arrays are not page-faulted in afresh every
    call (a page fault costs microseconds on this project's VM).

    Scratch: values a kernel or matmul writes and only kernels and matmuls read, never seen
    by the caller, live in per-call workspaces taken from a free list. Outputs: a large
    program output is recycled only once nothing but this pool refers to it (the caller
    dropped it, and no view of it exists), checked by its reference count."""

    RECYCLE_BYTES = 1 << 17  # below glibc malloc's mmap threshold: reused without page faults

    def __init__(self, ir: IR, steps: list[Step]):
        kernel_out: set[Var] = set()
        readers_ok: dict[Var, bool] = {}  # False once a view or host step reads the value
        for step in steps:
            if isinstance(step, LoopKernel):
                kernel_out.update(o.var for o in step.outputs)
            elif isinstance(step, MatmulStep):
                kernel_out.add(step.out)
            for x in step_inputs(step):
                if isinstance(x, Var):
                    ok = isinstance(step, LoopKernel | MatmulStep)
                    readers_ok[x] = readers_ok.get(x, True) and ok
        outputs = {x for x in ir.outvars if isinstance(x, Var)}
        self._slots: dict[Var, int] = {}
        self._specs: list[tuple[tuple[int, ...], np.dtype]] = []
        self._outputs: dict[Var, int] = {}
        self._out_specs: list[tuple[tuple[int, ...], np.dtype]] = []
        self._rings: list[list[np.ndarray]] = []
        for v in sorted(kernel_out, key=lambda v: v.id):
            if v in outputs:
                if v.aval.size * v.aval.dtype.itemsize >= self.RECYCLE_BYTES:
                    self._outputs[v] = len(self._rings)
                    self._out_specs.append((v.aval.shape, v.aval.dtype))
                    self._rings.append([])
            elif readers_ok.get(v, True):
                self._slots[v] = len(self._specs)
                self._specs.append((v.aval.shape, v.aval.dtype))
        self._free: list[list[np.ndarray]] = []
        self._lock = threading.Lock()

    @property
    def n_slots(self) -> int:
        return len(self._specs)

    def slot(self, v: Var) -> int | None:
        return self._slots.get(v) if config.reuse_buffers else None

    def output_slot(self, v: Var) -> int | None:
        return self._outputs.get(v) if config.reuse_buffers else None

    def take(self) -> list[np.ndarray]:
        try:
            return self._free.pop()
        except IndexError:
            return [np.empty(shape, dtype) for shape, dtype in self._specs]

    def give(self, ws: list[np.ndarray]) -> None:
        self._free.append(ws)

    def output(self, slot: int) -> np.ndarray:
        """A buffer for output ``slot``: one this pool handed out before if its only
        remaining reference is the pool's own (``getrefcount`` adds its argument's)."""
        ring = self._rings[slot]
        with self._lock:
            for buf in ring:
                if sys.getrefcount(buf) == 3:  # the ring, ``buf`` and getrefcount's argument
                    return buf
            buf = np.empty(*self._out_specs[slot])
            ring.append(buf)
            if len(ring) > 2:  # keep at most two: this call's and the previous one's
                ring.pop(0)
            return buf


def _compile_error(e: Exception, *, ir: IR, sources: list[str]) -> Exception:
    """Numba typing/lowering failures are jitgrad bugs: report them with the IR and source;
    any other exception passes through unchanged."""
    if not type(e).__module__.startswith("numba"):
        return e
    return CompileError(
        f"jitgrad failed to compile a kernel (this is a jitgrad bug; please report it with "
        f"this message):\n{type(e).__name__}: {str(e)[:2000]}\n\nIR:\n{pp_ir(ir)}\n\n"
        f"kernels:\n" + "\n".join(sources))


# ---------------------------------------------------------------------------------------------
# Matmul dispatch


@functools.cache
def _matmul_module() -> Any:
    from jitgrad.backend.kernels import matmul as mm
    return cache.harden(mm)


def run_matmul(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool,
               a_batch: tuple[int, ...] | None, b_batch: tuple[int, ...] | None,
               bias: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """``out[...] = op(a) @ op(b) + bias`` with batch broadcasting by stride-0 views."""
    mm = _matmul_module()

    if a_batch is not None:
        a = np.broadcast_to(a, a_batch)
    if b_batch is not None:
        b = np.broadcast_to(b, b_batch)
    out_shape = out.shape
    m, n = out_shape[-2:]
    k = a.shape[-2] if ta else a.shape[-1]
    if config.use_blas(out.dtype, m, n, k):
        aa = np.swapaxes(a, -1, -2) if ta else a
        bb = np.swapaxes(b, -1, -2) if tb else b
        np.matmul(aa, bb, out=out)
        if bias is not None:
            out += bias
        return out
    batch = math.prod(out_shape[:-2])
    a3 = a.reshape((batch,) + a.shape[-2:]) if a.ndim != 3 else a
    b3 = b.reshape((batch,) + b.shape[-2:]) if b.ndim != 3 else b
    out3 = out.reshape((batch, m, n))
    if config.threads > 1 and 2 * batch * m * n * k >= parallel.MIN_MATMUL_FLOPS and m > 1:
        def rows(lo: int, hi: int) -> None:
            part = a3[:, :, lo:hi] if ta else a3[:, lo:hi, :]
            mm.matmul(part, b3, out3[:, lo:hi, :], ta, tb, bias)
        parallel.split_rows(rows, m)
    else:
        mm.matmul(a3, b3, out3, ta, tb, bias)
    return out

