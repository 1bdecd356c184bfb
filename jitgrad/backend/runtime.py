"""Turn a partitioned IR into a callable: kernels are compiled (through the disk cache) and a
thin generated Python caller allocates buffers and calls them in order, doing no per-call work
proportional to the number of IR equations."""

from __future__ import annotations

import functools
import logging
import math
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
from jitgrad.backend.fuse import LoopKernel, MatmulStep, Step, ViewStep, partition
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


def compile_ir(ir: IR) -> Compiled:
    """Partition, generate and load the kernels of an (optimised) IR, and build its caller."""
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

    for step in steps:
        if isinstance(step, LoopKernel):
            src = kernel_module_source(step)
            kname = f"K{len(sources)}"
            sources.append(src)
            glob[kname] = cache.load(src).kernel
            outs = []
            for o in step.outputs:
                aval = o.var.aval
                if needs_init(o, len(step.shape)):
                    init = f"I{next(counter)}"
                    glob[init] = reduce_init(o, aval.dtype)
                    body.append(f"{name(o.var)} = np.full({aval.shape}, {init}, "
                                f"{dt_name(aval.dtype)})")
                else:
                    body.append(f"{name(o.var)} = np.empty({aval.shape}, "
                                f"{dt_name(aval.dtype)})")
                outs.append(name(o.var))
            arrays = [atom(x) for x in step.inputs] + outs
            extents = [str(n) for n, src in zip(step.shape, loop_extents(step), strict=True)
                       if src is None]
            axes = parallel.split_axes(step)
            if axes is not None and parallel.worth_splitting(step):
                body.append(f"run_split({kname}, {step.shape[0]}, ({', '.join(arrays)},), "
                            f"{tuple(axes)}, ({''.join(e + ', ' for e in extents)}))")
            else:
                body.append(f"{kname}({', '.join(arrays + extents)})")
        elif isinstance(step, MatmulStep):
            body.append(
                f"{name(step.out)} = run_matmul({atom(step.a)}, {atom(step.b)}, "
                f"{step.transpose_a}, {step.transpose_b}, {step.a_batch}, {step.b_batch}, "
                f"{atom(step.bias) if step.bias is not None else None}, "
                f"{step.out.aval.shape})")
        elif isinstance(step, ViewStep):
            src = step.eqn.inputs[0]
            body.append(f"{name(step.eqn.outputs[0])} = np.reshape({atom(src)}, "
                        f"{step.eqn.params['shape']})")
        else:
            hname = f"H{next(counter)}"
            compiled_impl = step.eqn.prim.extra.get("compiled_impl")
            glob[hname] = compiled_impl(**step.eqn.params) if compiled_impl else \
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
    lines = [f"def run({params}):", "    try:"] + [f"        {b}" for b in body] + \
        [f"        return [{', '.join(results)}]",
         "    except Exception as e:",
         "        raise compile_error(e) from e"]
    caller = "\n".join(lines) + "\n"
    glob["compile_error"] = functools.partial(_compile_error, ir=ir, sources=sources)
    exec(compile(caller, "<jitgrad program>", "exec"), glob)
    return Compiled(glob["run"], caller, sources, steps, ir)


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
               bias: np.ndarray | None, out_shape: tuple[int, ...]) -> np.ndarray:
    """``op(a) @ op(b) + bias`` with batch broadcasting by stride-0 views."""
    mm = _matmul_module()

    if a_batch is not None:
        a = np.broadcast_to(a, a_batch)
    if b_batch is not None:
        b = np.broadcast_to(b, b_batch)
    out = np.empty(out_shape, np.result_type(a, b))
    m, n = out_shape[-2:]
    if config.use_blas(out.dtype, m, n, a.shape[-2] if ta else a.shape[-1]):
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
    k = a.shape[-2] if ta else a.shape[-1]
    if config.threads > 1 and 2 * batch * m * n * k >= parallel.MIN_MATMUL_FLOPS and m > 1:
        def rows(lo: int, hi: int) -> None:
            part = a3[:, :, lo:hi] if ta else a3[:, lo:hi, :]
            mm.matmul(part, b3, out3[:, lo:hi, :], ta, tb, bias)
        parallel.split_rows(rows, m)
    else:
        mm.matmul(a3, b3, out3, ta, tb, bias)
    return out

