"""Turn a partitioned IR into a callable: kernels are compiled (through the disk cache) and a
thin generated Python caller allocates buffers and calls them in order, doing no per-call work
proportional to the number of IR equations."""

from __future__ import annotations

import builtins
import functools
import importlib
import keyword
import logging
import math
import re
import statistics
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jitgrad.backend import cache, direct, parallel
from jitgrad.backend.codegen import (
    display_kernel,
    dt_name,
    kernel_flags,
    loop_extents,
    rename_names,
    render_kernel,
)
from jitgrad.backend.fuse import (
    HostStep,
    LoopKernel,
    MatmulStep,
    Step,
    ViewStep,
    lowering_of,
    partition,
    step_inputs,
)
from jitgrad.core import IR, Lit, Var, config, pp_eqn_short, pp_ir, var_names
from jitgrad.errors import CompileError

log = logging.getLogger("jitgrad")

@functools.cache
def _helper_functions(module_name: str) -> frozenset[str]:
    """The functions a kernel template may call from one helper module (``max_nan``,
    ``tanh_f32``, ...): the public functions it defines."""
    module = importlib.import_module(module_name)
    return frozenset(name for name, value in vars(module).items()
                     if not name.startswith("_") and callable(value)
                     and not isinstance(value, type)
                     and getattr(value, "__module__", None) == module_name)


def kernel_imports(body: str) -> str:
    """The import block of a kernel module: numpy, math, njit, and exactly the helper
    functions ``body`` calls (derived from the helper modules, not listed by hand). A helper
    module is imported only while some called name is still unresolved (the special
    functions' module costs every process that compiles ≈ 30 ms, and few kernels call it)."""
    wanted = set(re.findall(r"(?<![\w.])(\w+)\(", body)) - vars(builtins).keys() - \
        set(re.findall(r"^def (\w+)\(", body, re.MULTILINE)) - {"njit"}
    used: dict[str, list[str]] = {}
    for module_name in cache.HELPER_MODULES:
        if not wanted:
            break
        found = wanted & _helper_functions(module_name)
        if found:
            used[module_name] = sorted(found)
            wanted -= found
    lines = ["import math", "", "import numpy as np", "from numba import njit"]
    if used:
        lines.append("")
    for module_name, names in sorted(used.items()):
        lines.append(f"from {module_name} import {', '.join(names)}")
    return "\n".join(lines)


@dataclass
class Compiled:
    """A compiled program: ``fn(*args)`` returns the list of outputs."""

    fn: Callable[..., list]
    caller_source: str
    kernel_sources: list[str]  # the modules compiled (positional names, shared by programs)
    kernels: list[tuple[Step, str]]  # each's step and functions (without the preamble)
    steps: list[Step]
    ir: IR
    profiler: _Profiler | None = None

    def describe(self) -> str:
        """The program, its caller, then the kernels' shared imports once and each kernel
        under a header naming the equations it computes and its loop space, all named after
        the IR's variables (see ``display_kernel``)."""
        names = var_names(self.ir)
        pos = {e: i for i, e in enumerate(self.ir.eqns)}
        parts = ["# program", pp_ir(self.ir), "", "# caller", self.caller_source]
        if self.kernels:
            parts += ["# kernels", kernel_imports("".join(body for _, body in self.kernels))]
        for i, (k, body) in enumerate(self.kernels):
            if isinstance(k, LoopKernel):
                eqns = sorted(k.eqns, key=pos.__getitem__)
                space, body = f"loop {k.shape}", display_kernel(k, body, f"K{i}", names)
            else:  # a host step's hand-written kernel
                eqns, space = [k.eqn], "host kernel"
                body = rename_names(body, {"kernel": f"K{i}"})
            parts += ["", f"# K{i}: {'; '.join(pp_eqn_short(e, names) for e in eqns)}   {space}",
                      body.rstrip("\n")]
        return "\n".join(parts) + "\n"


def kernel_body(k: LoopKernel) -> str:
    """A kernel's decorated functions (positional names: see ``display_kernel``)."""
    return f"@njit({kernel_flags()})\n{render_kernel(k, [o.var.aval.dtype for o in k.outputs])}"


@functools.lru_cache(maxsize=1024)
def kernel_module_source(body: str) -> str:
    # (cached: an unrolled loop's steps render the same body many times)
    return cache.module_source(body, kernel_imports(body))


# Names the caller uses besides the program's variables; a variable named so (or after a
# keyword or builtin) is renamed with a trailing underscore.
_CALLER_WORDS = {"np", "ws", "res", "exc", "buffers", "owned", "run", "run_split",
                 "compile_error"}


def _caller_name(name: str) -> str:
    taken = name in _CALLER_WORDS or keyword.iskeyword(name) or hasattr(builtins, name)
    return name + "_" if taken else name


@functools.cache
def start_numba() -> None:
    """Initialise Numba's CPU target (``direct.start_numba``: lean at first, without SciPy) and
    keep Numba's block labels bounded (``_bound_block_labels``)."""
    direct.start_numba()
    _bound_block_labels()


def _bound_block_labels() -> None:
    """Start each compile of a jitgrad kernel with Numba's block-label counter at zero, as
    in a fresh process.

    Numba numbers the basic blocks of an ``inline='always'`` callee by adding a process-wide
    counter (``ir_utils._the_max_label``) to the callee's own labels, then raises the counter
    to the largest label. A callee that itself inlined a helper already carries labels near
    the counter, so each nested inline (``tanh_f64`` → ``_tanh`` → ``exp_dd`` → ...) doubles
    it. The counter never resets: measured here, its decimal length grew by ≈1.3 digits per
    compiled program until block names ``B<label>`` passed LLVM's 1024-character limit and
    every further compile in the process failed ("name is too long"). Labels only need to
    be unique within the function being compiled, which a fresh start guarantees exactly as
    it does for a process's first compile; nested compiles (depth > 0) keep the counter."""
    from numba.core import event, ir_utils

    if not hasattr(getattr(ir_utils, "_the_max_label", None), "update"):
        return  # a Numba without this counter: nothing to bound

    class ResetLabels(event.Listener):
        depth = 0  # compiles nest (a callee is compiled while typing its caller)

        def on_start(self, ev: Any) -> None:
            fn = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
            # (a function made by exec() without __name__ in its globals has __module__ None)
            module = getattr(fn, "__module__", None) or ""
            if self.depth == 0 and module.startswith("jitgrad"):
                ir_utils._the_max_label = type(ir_utils._the_max_label)()
            self.depth += 1

        def on_end(self, ev: Any) -> None:
            self.depth -= 1

    event.register("numba:compile", ResetLabels())


def compile_ir(ir: IR, compile_sub: Callable[[IR], Callable[..., list]]) -> Compiled:
    """Partition, generate and load the kernels of an (optimised) IR, and build its caller.
    ``compile_sub(ir)`` compiles the sub-programs of host steps (loop bodies, branches)."""
    start_numba()
    steps = partition(ir)
    # The caller's variables are the program's (as ``pp_ir`` prints them).
    ir_names = var_names(ir)
    names = {v: _caller_name(n) for v, n in ir_names.items()}
    glob: dict[str, Any] = {"np": np, "run_split": parallel.run_split}
    for v, c in zip(ir.constvars, ir.consts, strict=True):
        glob[names[v]] = np.asarray(c)
    body: list[str] = []
    # the profile's rows: (index in body after the row's lines, label, kind: a string, or a
    # matmul's step, whose kernel, BLAS or jitgrad's, is chosen when it runs)
    rows: list[tuple[int, str, Any]] = []
    sources: list[str] = []
    kernels: list[tuple[Step, str]] = []
    lits = iter(range(1 << 30))
    hosts = iter(range(1 << 30))
    products = iter(range(1 << 30))
    pairs = iter(range(1 << 30))

    def atom(x: Any) -> str:
        if isinstance(x, Lit):
            key = f"L{next(lits)}"
            glob[key] = np.asarray(x.val)
            return key
        return names[x]

    def row(label: str, kind: Any) -> None:
        """The body lines since the previous row are one step of the profile."""
        rows.append((len(body), label, kind))

    buffers = Buffers(ir, steps)
    glob["buffers"] = buffers
    order = {e: i for i, e in enumerate(ir.eqns)}
    # Scratch buffers come from a free list (each concurrent call gets its own set) and go
    # back only after a successful call.
    give = ["buffers.give(ws)"] if buffers.n_slots else []
    if buffers.n_slots:
        body.append("ws = buffers.take()")
        row(f"alloc workspace ({buffers.n_slots} buffers)", "allocation")

    def allocate(v: Var) -> None:
        """The line creating ``v``'s buffer: reused scratch, a recycled output, or fresh (kernels
        write every element of their outputs). Fresh and recycled buffers are a profile row of
        their own; taking a workspace slot counts with the step."""
        slot, out = buffers.slot(v), buffers.output_slot(v)
        if slot is not None:
            body.append(f"{names[v]} = ws[{slot}]")
            return
        body.append(f"{names[v]} = buffers.output({out})" if out is not None else
                    f"{names[v]} = np.empty({v.aval.shape}, {dt_name(v.aval.dtype)})")
        row(f"alloc {names[v]}:{_aval_str(v)}" + (" (recycled output)" if out is not None
                                                  else ""), "allocation")

    def product(step: MatmulStep) -> tuple[str, str, str]:
        """A product's runner (named in the caller), its arguments and its label."""
        allocate(step.out)
        mname = f"M{next(products)}"  # (the program's variables are lower case)
        glob[mname] = matmul_runner(step)
        update = "" if step.c0 is None else f", {names[step.c0]}, {_alpha(step, atom)}"
        return mname, (f"{atom(step.a)}, {atom(step.b)}, "
                       f"{atom(step.bias) if step.bias is not None else None}, "
                       f"{names[step.out]}{update}"), _matmul_label(step, names)

    paired = _paired_products(steps)
    seconds = {id(s) for s in paired.values()}
    for step in steps:
        if id(step) in seconds:
            continue  # run by the pair its predecessor began
        if isinstance(step, MatmulStep) and step in paired:
            second = paired[step]
            (m1, args1, label1), (m2, args2, label2) = product(step), product(second)
            pname = f"P{next(pairs)}"
            glob[pname] = pair_runner(glob[m1], glob[m2])
            label = f"{label1} ∥ {label2}"
            body.append(f"{pname}(({args1}), ({args2}))  # {label}")
            row(label, step)
        elif isinstance(step, LoopKernel):
            kernels.append((step, kernel_body(step)))
            src = kernel_module_source(kernels[-1][1])
            kname = f"K{len(sources)}"
            sources.append(src)
            glob[kname] = direct.bind(src, glob, kname)
            outs = []
            for o in step.outputs:
                allocate(o.var)
                outs.append(names[o.var])
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
            eqns = sorted(step.eqns, key=order.__getitem__)
            row(f"{kname} loop {step.shape}: " + "; ".join(pp_eqn_short(e, names) for e in eqns),
                "loop kernels")
        elif isinstance(step, MatmulStep):
            mname, args, label = product(step)
            body.append(f"{mname}({args})  # {label}")
            row(label, step)
        elif isinstance(step, ViewStep):
            src = step.eqn.inputs[0]
            body.append(f"{names[step.eqn.outputs[0]]} = np.reshape({atom(src)}, "
                        f"{step.eqn.params['shape']})")
            row(f"view {pp_eqn_short(step.eqn, names)}", "views")
        else:
            low = lowering_of(step.eqn)
            hname = f"K{len(sources)}" if low.module is None and low.kernel is not None else \
                f"H{next(hosts)}"  # a hand-written kernel is named as show_kernels lists it
            if low.module is not None:  # a kernel of ours: it writes into our buffers
                module = importlib.import_module(f"jitgrad.backend.kernels.{low.module}")
                glob[hname] = module.build(**step.eqn.params)
                for v in step.eqn.outputs:
                    allocate(v)
                args = [atom(x) for x in step.eqn.inputs] + [names[v] for v in step.eqn.outputs]
                body.append(f"{hname}({', '.join(args)})")
                row(f"{hname} host: {pp_eqn_short(step.eqn, names)}", "host steps")
                continue
            if low.kernel is not None:
                kernels.append((step, f"@njit({kernel_flags()})\n{low.kernel(**step.eqn.params)}"))
                sources.append(kernel_module_source(kernels[-1][1]))
                glob[hname] = cache.load(sources[-1]).kernel
            elif low.compiled is not None:
                glob[hname] = low.compiled(compile_sub, **step.eqn.params)
            else:
                glob[hname] = functools.partial(step.eqn.prim.impl, **step.eqn.params)
            res = f"{hname}({', '.join(atom(x) for x in step.eqn.inputs)})"
            outs = step.eqn.outputs
            if len(outs) == 1 and not step.eqn.prim.multiple_results:
                body.append(f"{names[outs[0]]} = np.asarray({res})")
            else:
                body.append(f"{', '.join(names[v] for v in outs)}, = {res}")
            row(f"{hname} host: {pp_eqn_short(step.eqn, names)}", "host steps")
    args = [names[v] for v in ir.invars]
    results = _results(ir, steps, [atom(x) for x in ir.outvars],
                       args + [names[v] for v in ir.constvars])
    glob["owned"] = _owned
    body.append(f"res = [{', '.join(results)}]")
    row("results (copies of aliased results)", "results")
    glob["compile_error"] = functools.partial(_compile_error, ir=ir, sources=sources)
    caller = _caller(args, body + give)
    exec(compile(caller, "<jitgrad program>", "exec"), glob)
    compiled = Compiled(glob["run"], caller, sources, kernels, steps, ir)
    compiled.profiler = _Profiler(args, body, give, rows, glob, ir, ir_names)
    if config.profile:
        compiled.fn = compiled.profiler.wrap(compiled.fn)
    return compiled


def _caller(params: list[str], body: list[str], ret: str = "res") -> str:
    """The source of a caller ``run(params)`` running ``body`` and returning ``ret``; a
    Numba failure inside becomes a ``CompileError``."""
    lines = [f"def run({', '.join(params)}):", "    try:"] + [f"        {b}" for b in body] + \
        [f"        return {ret}",
         "    except Exception as exc:",
         "        raise compile_error(exc) from exc"]
    return "\n".join(lines) + "\n"


def _aval_str(v: Var) -> str:
    return f"{dt_name(v.aval.dtype).removeprefix('np.').replace('float', 'f')}" \
        f"{list(v.aval.shape)}".replace(" ", "")


def _alpha(step: MatmulStep, atom: Callable[[Any], str]) -> str:
    """The caller's expression for the factor of a product's update (see MatmulStep)."""
    sign = "-" if step.negate else ""
    if step.scale is None:
        return f"{sign}1.0"
    if isinstance(step.scale, Lit):
        return repr(float(-step.scale.val if step.negate else step.scale.val))
    return f"{sign}float({atom(step.scale)})"


def _matmul_label(step: MatmulStep, names: dict[Var, str]) -> str:
    """``matmul e = c @ a + b  f32[128,784]@[784,256]``: the product as the caller computes
    it (``.T`` marks a transposed operand) and its operands' shapes; with an update,
    ``matmul w = v - 0.01 * (c.T @ a)  ...``."""
    def side(x: Any, t: bool) -> str:
        return (names[x] if isinstance(x, Var) else "lit") + (".T" if t else "")
    bias = f" + {names[step.bias]}" if isinstance(step.bias, Var) else \
        " + bias" if step.bias is not None else ""
    product = f"{side(step.a, step.transpose_a)} @ {side(step.b, step.transpose_b)}{bias}"
    if step.c0 is not None:
        scale = "" if step.scale is None else \
            f"{names[step.scale]} * " if isinstance(step.scale, Var) else \
            f"{float(step.scale.val):g} * "
        product = f"{names[step.c0]} {'-' if step.negate else '+'} {scale}({product})"
    shapes = "@".join(str(list(x.aval.shape)).replace(" ", "") for x in (step.a, step.b))
    return f"matmul {names[step.out]} = {product}  {_aval_str(step.out).split('[')[0]}{shapes}"


def _product_sizes(step: MatmulStep) -> tuple[np.dtype, int, int, int, int]:
    """A product step's dtype, m, n, k and batch (the product of its batch axes)."""
    out = step.out.aval.shape
    return (np.dtype(step.out.aval.dtype), *out[-2:],
            step.a.aval.shape[-2 if step.transpose_a else -1], math.prod(out[:-2]))


def _matmul_kind(step: MatmulStep) -> str:
    """Which kernel ``run_matmul`` picks for this step under the current configuration."""
    dtype, m, n, k, batch = _product_sizes(step)
    if config.use_blas(dtype, m, n, k, batch):
        return "BLAS"
    mm = _matmul_module()
    if dtype in _deferred and not any(mm.ready((dtype, d)) for d in (False, True)):
        return "BLAS (jitgrad's matmul kernel is compiling)"
    return "jitgrad matmul"


def _clip(label: str, width: int = 100) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


@dataclass
class Profile:
    """The time of a call of a compiled program, per step of its caller in program order
    (``rows``: (seconds, label, kind)), and of the whole call (``total``); ``glue`` is the rest
    of the call: the caller's Python between steps, argument passing, clock reads. Of one
    call, or (``calls`` > 1) the medians of each step and of the glue over that many."""

    signature: str
    rows: list[tuple[float, str, str]]
    total: float
    calls: int = 1

    @property
    def glue(self) -> float:
        return self.total - sum(t for t, _, _ in self.rows)

    def __str__(self) -> str:
        pct = 100 / self.total if self.total > 0 else 0.0
        of = f" (medians of {self.calls} calls)" if self.calls > 1 else ""
        lines = [f"jitgrad profile of {self.signature}: {self.total * 1e3:.3f} ms{of}",
                 f"{'ms':>9} {'%':>6}  step (program order)"]
        lines += [f"{t * 1e3:9.3f} {t * pct:6.1f}  {_clip(label)}" for t, label, _ in self.rows]
        lines.append(f"{self.glue * 1e3:9.3f} {self.glue * pct:6.1f}  Python glue (the caller "
                     f"between steps)")
        kinds: dict[str, float] = {}
        for t, _, kind in self.rows:
            kinds[kind] = kinds.get(kind, 0.0) + t
        kinds["Python glue"] = self.glue
        lines.append("by kind: " + ", ".join(
            f"{kind} {t * pct:.1f} %" for kind, t in sorted(kinds.items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)


PROFILE_CALLS = 5  # the warm calls a first call's printed profile takes medians over


class _Profiler:
    """A program's caller with a clock read after each step, compiled the first time a
    profile is asked for: the caller programs run by default has no timing code."""

    def __init__(self, params: list[str], body: list[str], give: list[str],
                 rows: list[tuple[int, str, Any]], glob: dict[str, Any], ir: IR,
                 names: dict[Var, str]):
        self._params, self._body, self._give, self._rows = params, body, give, rows
        self._glob = glob
        self.signature = f"run({', '.join(f'{names[v]}:{_aval_str(v)}' for v in ir.invars)})"

    @functools.cached_property
    def _run(self) -> Callable[..., tuple[list, list[float]]]:
        lines, start = ["_t = [_clock()]"], 0
        for end, _, _ in self._rows:
            lines += self._body[start:end] + ["_t.append(_clock())"]
            start = end
        glob = dict(self._glob, _clock=time.perf_counter)
        exec(compile(_caller(self._params, lines + self._give, "res, _t"),
                     "<jitgrad program, profiled>", "exec"), glob)
        return glob["run"]

    def profile(self, *args: Any, calls: int = 1, budget: float = 1.0) -> tuple[list, Profile]:
        """Run the program on ``args`` ``calls`` times in a row, fewer if they have taken
        ``budget`` seconds (one at least): the last call's results, and a profile of each
        step's median time over those calls (and of the glue between them)."""
        run = self._run
        totals, steps = [], []
        while not totals or (len(totals) < calls and sum(totals) < budget):
            start = time.perf_counter()
            res, t = run(*args)
            totals.append(time.perf_counter() - start)
            steps.append([b - a for a, b in zip(t[:-1], t[1:], strict=True)])
        rows = []
        for i, (_, label, kind) in enumerate(self._rows):
            if isinstance(kind, MatmulStep):  # BLAS or jitgrad's kernel, as configured now
                kind = _matmul_kind(kind)
                label = f"{label}  {kind}"
            rows.append((statistics.median(s[i] for s in steps), label, kind))
        # (the medians' sum plus the median glue: a median of the totals could be less than
        # the sum of the steps' medians)
        glue = statistics.median(t - sum(s) for t, s in zip(totals, steps, strict=True))
        return res, Profile(self.signature, rows, sum(t for t, _, _ in rows) + glue,
                            len(totals))

    def wrap(self, fn: Callable[..., list]) -> Callable[..., list]:
        """``fn``, except that its first call prints to stderr the profile of warm calls: the
        program (pure) runs once untimed, so that one-time costs (loading the kernels from the
        disk cache, first-touch page faults of new buffers) stay out of the profile, then up
        to PROFILE_CALLS times profiled (within a second), whose medians it prints: one call
        after a pause ran the MLP step's first product in 1.18 ms against 0.63 ms in a loop
        (its operands not yet in cache). It returns the last call's results."""
        done = []

        def run(*args: Any) -> list:
            if done:
                return fn(*args)
            done.append(True)
            fn(*args)
            res, prof = self.profile(*args, calls=PROFILE_CALLS)
            print(f"{prof}\n", file=sys.stderr)
            return res

        return run


def _fills_buffers(step: Step) -> bool:
    """A host step run by one of jitgrad's kernel modules: like a loop kernel, it writes its
    results into buffers the caller gives it and keeps no reference to its operands."""
    return isinstance(step, HostStep) and lowering_of(step.eqn).module is not None


def _written(step: Step) -> list[Var]:
    """The values ``step`` writes into buffers the caller allocates for it (a loop kernel's
    outputs, a matmul's, a kernel module's); none for other steps."""
    if isinstance(step, LoopKernel):
        return [o.var for o in step.outputs]
    if isinstance(step, MatmulStep):
        return [step.out]
    return list(step.eqn.outputs) if _fills_buffers(step) else []


def _results(ir: IR, steps: list[Step], outs: list[str], args: list[str]) -> list[str]:
    """The caller's expressions for the program's results, given their names. As in JAX, a
    result never shares memory with an argument, a constant or another result (the caller
    may mutate any of them): such results are copied (``args``: the names of the arguments
    and constants). A result is a fresh buffer when a kernel, a matmul or one of jitgrad's
    kernel modules wrote it; a view step's result shares its operand's buffer; what any other
    host step returns is checked when the program runs (it may be an operand or a view of
    one)."""
    fresh: set[Var] = set()
    base: dict[Var, Any] = {}  # a view step's result -> the atom whose buffer it views
    for step in steps:
        fresh.update(_written(step))
        if isinstance(step, ViewStep):
            src = step.eqn.inputs[0]
            base[step.eqn.outputs[0]] = base.get(src, src) if isinstance(src, Var) else src
    seen: set[Var] = set()
    results = []
    for p, (x, out) in enumerate(zip(ir.outvars, outs, strict=True)):
        root = base.get(x, x) if isinstance(x, Var) else x
        if isinstance(root, Lit) or root in seen or root in ir.invars or root in ir.constvars:
            results.append(f"{out}.copy()")
        elif root in fresh:
            results.append(out)
        else:
            others = args + outs[:p] + outs[p + 1:]
            results.append(f"owned({out}, ({''.join(o + ', ' for o in others)}))")
        if isinstance(root, Var):
            seen.add(root)
    return results


def _owned(a: Any, others: tuple) -> np.ndarray:
    """``a`` if it is an array owning its memory and none of ``others``, else a copy."""
    if type(a) is np.ndarray and a.base is None and not any(a is o for o in others):
        return a
    return np.array(a)


class Buffers:
    """Memory reused across calls, so that large arrays are not page-faulted in afresh every
    call (a page fault costs microseconds on this project's VM).

    Scratch: values a kernel or matmul writes and only kernels and matmuls read, never seen
    by the caller, live in per-call workspaces taken from a free list. Outputs: a large
    program output is recycled only once nothing but this pool refers to it (the caller
    dropped it, and no view of it exists), checked by its reference count.

    What every program keeps between calls is bounded by ``config.scratch_mb`` in total
    (see ``_Retained``): a program whose memory was released allocates afresh on its next
    call and keeps that."""

    RECYCLE_BYTES = 1 << 17  # below glibc malloc's mmap threshold: reused without page faults

    def __init__(self, ir: IR, steps: list[Step]):
        kernel_out: set[Var] = set()
        readers_ok: dict[Var, bool] = {}  # False once a view or host step reads the value
        for step in steps:
            kernel_out.update(_written(step))
            for x in step_inputs(step):
                if isinstance(x, Var):
                    ok = isinstance(step, LoopKernel | MatmulStep) or _fills_buffers(step)
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
        self._ws_bytes = sum(math.prod(shape) * dtype.itemsize for shape, dtype in self._specs)
        self._free: list[list[np.ndarray]] = []
        self._sets = 0  # workspace sets allocated since the last release, in use or free
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
            self._sets += 1
            _retained.add(self, self._ws_bytes)
            return [np.empty(shape, dtype) for shape, dtype in self._specs]

    def give(self, ws: list[np.ndarray]) -> None:
        if len(self._free) < self._sets:  # not a set taken before this pool was released
            self._free.append(ws)

    def release(self) -> None:
        """Drop every kept workspace and recycled output (replacing the lists, so that a
        call running in another thread keeps a consistent view of the old ones)."""
        self._sets = 0
        self._free = []
        self._rings = [[] for _ in self._rings]

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
            grown = buf.nbytes
            if len(ring) > 2:  # keep at most two: this call's and the previous one's
                grown -= ring.pop(0).nbytes
        if grown:
            _retained.add(self, grown)  # outside the lock: it may release other pools
        return buf


class _Retained:
    """The memory compiled programs keep between calls, over all programs: at most
    ``config.scratch_mb`` MiB, counted as pools allocate. A pool is a program's ``Buffers``
    or the scratch of a step run by one of jitgrad's kernel modules: anything with a
    ``release()`` method. When a pool allocates past the bound, the pools that allocated
    longest ago are released first (never the one allocating, so a single program larger
    than the bound still keeps its own memory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id(pool) -> (weak reference, bytes counted), oldest allocation first
        self._pools: OrderedDict[int, tuple[weakref.ref[Any], int]] = OrderedDict()
        self.nbytes = 0
        self._purge_at = 64

    def add(self, pool: Any, nbytes: int) -> None:
        with self._lock:
            ref, counted = self._pools.pop(id(pool), (None, 0))
            if ref is None or ref() is not pool:
                ref, counted = weakref.ref(pool), 0
            self._pools[id(pool)] = (ref, counted + nbytes)
            self.nbytes += nbytes
            if len(self._pools) > self._purge_at:  # forget dead pools, amortised
                for key, (r, n) in list(self._pools.items()):
                    if r() is None:
                        del self._pools[key]
                        self.nbytes -= n
                self._purge_at = 2 * len(self._pools) + 64
            limit = config.scratch_mb * (1 << 20)
            while self.nbytes > limit and len(self._pools) > 1:
                key, (r, n) = self._pools.popitem(last=False)
                self.nbytes -= n
                old = r()
                if old is not None:
                    old.release()

    def release_all(self) -> None:
        with self._lock:
            pools = [r() for r, _ in self._pools.values()]
            self._pools.clear()
            self.nbytes = 0
        for pool in pools:
            if pool is not None:
                pool.release()


_retained = _Retained()


def retain(pool: Any, nbytes: int) -> None:
    """Count ``nbytes`` more memory that ``pool`` (an object with ``release()``, which drops
    it) keeps between calls, within ``config.scratch_mb`` over all compiled programs."""
    _retained.add(pool, nbytes)


def release_scratch() -> None:
    """Release the memory every compiled program keeps between calls."""
    _retained.release_all()


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


def _compile_now(key: Any) -> bool:
    return False


# Whether a product whose jitgrad kernel (``key``, see kernels.matmul.entry) is neither compiled
# nor loaded in this process runs on numpy's BLAS meanwhile (True: its compile was handed to
# the background; jitgrad.jit sets this to tiered's rule when it starts Numba) or waits while
# the kernel compiles here (False). The kernel's first compile takes seconds per dtype.
defer_matmul_kernel: Callable[[Any], bool] = _compile_now
_deferred: set[np.dtype] = set()  # dtypes whose products went to BLAS while deferred


@functools.cache
def _matmul_module() -> Any:
    from jitgrad.backend.kernels import matmul as mm
    return mm


def _paired_products(steps: list[Step]) -> dict[MatmulStep, MatmulStep]:
    """Products that run one after the other, neither reading the other's result (a layer's
    two gradient products, G @ W.T and X.T @ G), each large enough that a hand-off to the
    pool costs less than it saves: first -> second (see pair_runner)."""
    def flops(step: MatmulStep) -> int:
        _, m, n, k, batch = _product_sizes(step)
        return 2 * batch * m * n * k

    pairs: dict[MatmulStep, MatmulStep] = {}
    taken: set[int] = set()
    for first, second in zip(steps, steps[1:], strict=False):
        if isinstance(first, MatmulStep) and isinstance(second, MatmulStep) and \
                id(first) not in taken and first.out not in step_inputs(second) and \
                all(flops(s) >= parallel.MIN_MATMUL_FLOPS for s in (first, second)):
            pairs[first] = second
            taken.add(id(second))
    return pairs


def pair_runner(run_first: Any, run_second: Any) -> Callable[..., None]:
    """Two independent products' runners (see _paired_products, matmul_runner): with
    threads, each runs whole on a thread of its own at the same time, when neither is worth
    splitting by itself (each is then split in turn) and neither runs on BLAS; otherwise one
    after the other. A two-thread MLP step's backward products of 128 x 256 @ 256 x 256 take
    0.2 ms each: too little for a split of each (a hand-off per product, B packed by both
    threads), while the two side by side need one hand-off and share nothing."""

    def run(first_args: tuple, second_args: tuple) -> None:
        threads = config.threads
        if threads > 1 and run_first.runs_whole() and run_second.runs_whole() and \
                parallel.helpful(threads):
            parallel.run_blocks([run_first.job(*first_args), run_second.job(*second_args)])
        else:
            run_first(*first_args)
            run_second(*second_args)

    return run


def matmul_runner(step: MatmulStep) -> Callable[..., Any]:
    """``run_matmul`` for one step of a program, ``(a, b, bias, out)``: what the step's static
    shapes decide (BLAS or jitgrad's kernel under the configuration in force, and which kernel
    entry) is worked out once per configuration, so a call of a loaded kernel that is not split
    goes straight to the kernel's matmul(). The general path took ≈ 5 µs more per product,
    8 % of a 128^3 float32 one (MATMUL_NOTES.md round 11); so does a split whose blocks each
    pack all of B (matmul.static_split, from one native call). Anything else (a batch
    broadcast, BLAS, other splits over threads, a kernel not loaded yet) takes run_matmul."""
    mm = _matmul_module()
    ta, tb, a_batch, b_batch = step.transpose_a, step.transpose_b, step.a_batch, step.b_batch
    dtype, m, n, k, batch = _product_sizes(step)
    a3, b3, out3 = ((batch,) + tuple(x.aval.shape[-2:]) for x in (step.a, step.b, step.out))
    key = mm.static_entry(dtype, m, n, k)
    flops = 2 * batch * m * n * k
    direct = a_batch is None and b_batch is None and dtype in (np.float32, np.float64)
    decided: list[Any] = [None, False]  # the configuration decided for, and the decision
    # 2-D operands: mm.static_call, operands viewed as a batch of one by indexing (3 reshapes
    # took 0.6 µs, 0.3 as x[None]).
    flat = direct and all(len(x.aval.shape) == 2 for x in (step.a, step.b, step.out))
    plain: list[Any] = [None]  # the static call, once the entry is loaded
    # A split into row blocks that each pack all of B runs from one native call
    # (matmul.static_split); the others (column blocks, a batch's products) take run_matmul.
    cuts: dict[int, tuple[bool, float, np.ndarray, Any]] = {}  # threads -> see split_plan
    natives: dict[int, Any] = {}  # threads -> (matmul.static_split, blocks), once loaded
    rate = [0.0]  # the fastest one-thread rate this product was timed at (parallel.split_matmul)

    def split_plan(threads: int) -> tuple[bool, float, np.ndarray, Any]:
        """Whether to split by rows natively, from what one-thread time, the row bounds and
        the blocks' entry."""
        if threads not in cuts:
            natively = direct and batch == 1 and \
                mm.rows_each_packing_b(m, n, k, dtype.itemsize, threads)
            blocks = parallel.blocks(m, threads) if natively else []
            cuts[threads] = (
                natively, parallel.MIN_NATIVE_SPLIT_SECONDS if natively else
                parallel.MIN_MATMUL_SECONDS,
                np.array([lo for lo, _ in blocks] + [m], np.int64),
                (dtype, any(mm.static_entry(dtype, hi - lo, n, k)[1] for lo, hi in blocks)))
        return cuts[threads]

    def split_natively(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None,
                       out: np.ndarray, c0: np.ndarray | None, alpha: float,
                       threads: int) -> bool:
        native = natives.get(threads)
        if native is None:
            _, _, bounds, block_key = split_plan(threads)
            if not mm.ready(block_key):
                if defer_matmul_kernel(block_key):
                    return False
                mm.load(block_key)
            native = natives[threads] = (mm.static_split(block_key, ta, tb, bounds),
                                         len(bounds) - 1)
        split, parts = native
        start = time.perf_counter()
        if flat:  # operands viewed as a batch of one by indexing (as for static_call)
            ran = split(parallel.split_rows, a[None], b[None], out[None], bias,
                        None if c0 is None else c0[None], alpha)
        else:
            ran = split(parallel.split_rows, a.reshape(a3), b.reshape(b3), out.reshape(out3),
                        bias, None if c0 is None else c0.reshape(out3), alpha)
        if not ran:
            return False
        rate[0] = max(rate[0], parallel.timed_matmul(dtype, flops, time.perf_counter() - start,
                                                      parts))
        return True

    def run(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None, out: np.ndarray,
            c0: np.ndarray | None = None, alpha: float = 1.0) -> Any:
        now = (config.matmul, config.threads)
        if now != decided[0]:
            decided[:] = [now, direct and not config.use_blas(dtype, m, n, k, batch)]
        if decided[1] and mm.ready(key):
            # With threads, a product too small to split takes this path too (timed, as
            # run_matmul times it, for the split decisions): run_matmul's way cost a 128^3
            # float32 product 13 % (threads 2 against 1, alternated in one process).
            timed = now[1] > 1
            natively, min_seconds = split_plan(now[1])[:2] if timed else (False, 0.0)
            if timed and parallel.split_matmul(dtype, flops, min_seconds, rate[0]):
                helps = natively and parallel.helpful(now[1])
                if helps and split_natively(a, b, bias, out, c0, alpha, now[1]):
                    return out
                if helps or not natively:
                    return run_matmul(a, b, ta, tb, a_batch, b_batch, bias, out, c0, alpha)
                # Not split (no worker helped lately): on this thread, as below (run_matmul,
                # which would decide the same, cost ≈ 5 µs more per product).
            start = time.perf_counter() if timed else 0.0
            if flat:
                if plain[0] is None:
                    plain[0] = mm.static_call(key, ta, tb)
                plain[0](a[None], b[None], out[None], bias,
                         None if c0 is None else c0[None], alpha)
            else:
                mm.matmul(a.reshape(a3), b.reshape(b3), out.reshape(out3), ta, tb, bias,
                          key=key, c0=None if c0 is None else c0.reshape(out3), alpha=alpha)
            if timed:
                rate[0] = max(rate[0], parallel.timed_matmul(
                    dtype, flops, time.perf_counter() - start, 1))
            return out
        return run_matmul(a, b, ta, tb, a_batch, b_batch, bias, out, c0, alpha)

    def runs_whole() -> bool:
        """Whether a call now would run jitgrad's kernel unsplit (see pair_runner)."""
        return dtype in (np.float32, np.float64) and \
            not config.use_blas(dtype, m, n, k, batch) and \
            not parallel.split_matmul(dtype, flops, split_plan(config.threads)[1], rate[0])

    def job(a: np.ndarray, b: np.ndarray, bias: np.ndarray | None, out: np.ndarray,
            c0: np.ndarray | None = None, alpha: float = 1.0) -> Any:
        """The call run() makes when runs_whole(), as a block for the pool (matmul.Job)."""
        return mm.Job(mm.matmul, a.reshape(a3), b.reshape(b3), out.reshape(out3), ta, tb, bias,
                      key=key, c0=None if c0 is None else c0.reshape(out3), alpha=alpha)

    run.runs_whole = runs_whole  # type: ignore[attr-defined]
    run.job = job  # type: ignore[attr-defined]
    return run


def run_matmul(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool,
               a_batch: tuple[int, ...] | None, b_batch: tuple[int, ...] | None,
               bias: np.ndarray | None, out: np.ndarray, c0: np.ndarray | None = None,
               alpha: float = 1.0) -> np.ndarray:
    """``out[...] = op(a) @ op(b) + bias`` with batch broadcasting by stride-0 views; with
    c0 (of out's shape), ``out[...] = c0 + alpha * (op(a) @ op(b) + bias)``."""
    mm = _matmul_module()

    if a_batch is not None:
        a = np.broadcast_to(a, a_batch)
    if b_batch is not None:
        b = np.broadcast_to(b, b_batch)
    out_shape = out.shape
    m, n = out_shape[-2:]
    k = a.shape[-2] if ta else a.shape[-1]
    batch = math.prod(out_shape[:-2])
    blas = config.use_blas(out.dtype, m, n, k, batch)
    if not blas:
        a3 = a.reshape((batch,) + a.shape[-2:]) if a.ndim != 3 else a
        b3 = b.reshape((batch,) + b.shape[-2:]) if b.ndim != 3 else b
        out3 = out.reshape((batch, m, n))
        key = mm.entry(a3, b3, out3, ta)
        blas = not mm.ready(key) and defer_matmul_kernel(key)
        if blas:
            _deferred.add(out.dtype)
        elif not mm.ready(key):
            # Loaded here even when the product is split below (on other entries): a program's
            # runner takes its own path, native splits included, only once it is loaded.
            mm.load(key)
    if blas:
        aa = np.swapaxes(a, -1, -2) if ta else a
        bb = np.swapaxes(b, -1, -2) if tb else b
        np.matmul(aa, bb, out=out)
        if bias is not None:
            out += bias
        if c0 is not None:
            out *= out.dtype.type(alpha)
            out += c0
        return out
    threads = config.threads
    flops = 2 * batch * m * n * k
    c3 = None if c0 is None else c0.reshape(out3.shape)
    if threads < 2:
        mm.matmul(a3, b3, out3, ta, tb, bias, c0=c3, alpha=alpha)
        return out
    start = time.perf_counter()
    if not parallel.split_matmul(out.dtype, flops) or not parallel.helpful(threads):
        mm.matmul(a3, b3, out3, ta, tb, bias, c0=c3, alpha=alpha)
        parallel.timed_matmul(out.dtype, flops, time.perf_counter() - start, 1)
        return out
    # Each block's operands are sliced (and column blocks' buffers allocated) before the
    # blocks are handed over, so that a worker needs the GIL only to call the kernel.
    calls = []
    small_b = mm.small_b(k, n, out.itemsize)
    if batch > 1:
        # Whole products per thread: a split of the rows would pack every B on every thread.
        for lo, hi in parallel.blocks(batch, threads):
            calls.append((a3[lo:hi], b3[lo:hi], out3[lo:hi], bias, None, None,
                          None if c3 is None else c3[lo:hi]))
    elif mm.split_columns(m, n, k, out.itemsize, threads) and not small_b:
        for lo, hi in parallel.blocks(n, threads):
            calls.append((a3, b3[:, lo:hi, :] if tb else b3[:, :, lo:hi],
                          np.empty((1, m, hi - lo), out.dtype),
                          None if bias is None else bias[lo:hi], out3[:, :, lo:hi], None,
                          None if c3 is None else c3[:, :, lo:hi]))
    else:
        # Row blocks read all of B: unless it is small, the threads first pack it once
        # between them, each a block of its tile columns, rather than each packing all of it
        # (unless those kernel entries are still compiling in the background: then each
        # packs all of it).
        waiting = [] if small_b else [
            key for key in ((out.dtype, "pack"), (out.dtype, "shared"))
            if not mm.ready(key) and defer_matmul_kernel(key)]
        shared = None
        if not waiting and not small_b:
            size, columns = mm.shared_b_size(k, n, out.dtype)
            shared = np.empty(size, out.dtype)
            parallel.run_blocks([mm.Job(mm.pack_shared_b, b3, tb, shared, lo, hi)
                                 for lo, hi in parallel.blocks(columns, threads)])
        for lo, hi in parallel.blocks(m, threads):
            calls.append((a3[:, :, lo:hi] if ta else a3[:, lo:hi, :], b3, out3[:, lo:hi, :],
                          bias, None, shared, None if c3 is None else c3[:, lo:hi, :]))

    parallel.run_blocks([mm.Job(mm.matmul, a, b, part, ta, tb, bias, shared, c0=c0, alpha=alpha)
                         for a, b, part, bias, _, shared, c0 in calls])
    for _, _, part, _, into, _, _ in calls:
        if into is not None:  # a column block of out is not C-contiguous: computed aside
            into[...] = part
    parallel.timed_matmul(out.dtype, flops, time.perf_counter() - start, len(calls))
    return out

