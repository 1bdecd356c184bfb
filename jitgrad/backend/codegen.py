"""Render loop kernels as plain, readable Python source for Numba: rank-specialised nested
loops, each scalar computed at the shallowest loop level it depends on, broadcasts and
transposes as index arithmetic, reductions accumulated row-wise or in local accumulators
(float32 sums in blocks added up in float64)."""

from __future__ import annotations

import builtins
import functools
import io
import keyword
import math
import tokenize
from dataclasses import dataclass

import numpy as np

from jitgrad.backend.fuse import Affine, KernelOut, LoopKernel, SNode
from jitgrad.core import Var, config


def kernel_flags() -> str:
    # error_model="numpy": no division checks (they block vectorisation); only the "contract"
    # fast-math flag (FMA), never nnan/ninf/reassoc, which change NaN/Inf results.
    fastmath = "False" if config.precise_math else '{"contract"}'
    return f'cache=True, nogil=True, error_model="numpy", fastmath={fastmath}'

_SHORT = {"float64": "f64", "float32": "f32"}


@functools.cache  # (numpy's dtype.name is slow; a long program asks once per argument)
def dt_name(dtype: np.dtype) -> str:
    return "np.bool_" if dtype == np.bool_ else f"np.{np.dtype(dtype).name}"


def _index(index: tuple[Affine, ...]) -> str:
    if not index:
        return "[()]"
    parts = []
    for axis, coef, off in index:
        if axis is None or coef == 0:
            parts.append(str(off))
            continue
        term = f"i{axis}" if coef == 1 else f"{coef} * i{axis}"
        parts.append(term if off == 0 else f"{off} + {term}")
    return "[" + ", ".join(parts) + "]"


def _literal(value: np.generic, dtype: np.dtype) -> str:
    if dtype == np.bool_:
        return "True" if value else "False"
    v = value.item()
    if isinstance(v, float) and not np.isfinite(v):
        v = "np.inf" if v > 0 else "-np.inf" if v < 0 else "np.nan"
        return v if dtype == np.float64 else f"{dt_name(dtype)}({v})"
    # A float constant is a float64 for Numba already; the cast would be one more call to
    # type (t.cdf's value and gradient: 340 of them).
    return repr(v) if dtype == np.float64 else f"{dt_name(dtype)}({v!r})"


def _narrow(expr: str, dtype: np.dtype) -> str:
    """Numba computes integer arithmetic on types narrower than 64 bits in int64 (or uint64):
    the result is cast back, so that it wraps around as numpy's does (``int32.max + 8`` is
    negative) before anything else in the kernel reads it."""
    if dtype.kind in "iu" and dtype.itemsize < 8 and not expr.startswith(f"{dt_name(dtype)}("):
        return f"{dt_name(dtype)}({expr})"
    return expr


def _expr(node: SNode, names: list[str]) -> str:
    ops = [names[a] for a in node.args]
    template = node.prim.lowering.template
    dt = dt_name(node.dtype)
    vm = node.prim.lowering.vmath
    if vm and node.dtype.name in _SHORT and not config.precise_math:
        return f"{vm}_{_SHORT[node.dtype.name]}({', '.join(ops)})"
    if callable(template):
        return _narrow(template(ops, dt, **node.params), node.dtype)
    return _narrow(template.format(*ops, dt=dt, sfx=_SHORT.get(node.dtype.name, ""),
                                   **node.params), node.dtype)


_INIT = {"sum": 0, "prod": 1}


def _identity(op: str, dtype: np.dtype) -> str:
    """The literal a reduction starts from."""
    if op in _INIT:
        value = _INIT[op]
    elif np.issubdtype(dtype, np.floating):
        value = -np.inf if op == "max" else np.inf
    else:  # (an unsigned type's smallest value is 0, not -max)
        value = np.iinfo(dtype).min if op == "max" else np.iinfo(dtype).max
    return _literal(np.asarray(value, dtype)[()], dtype)


def _combine(op: str, a: str, b: str, dtype: np.dtype, local: bool) -> str:
    """One reduction step. Float sums into a local accumulator use the reassociable addition
    (so the loop vectorises into partial sums); float max/min use LLVM's NaN-propagating
    maximum/minimum, which also vectorise."""
    floating = np.issubdtype(dtype, np.floating)
    if op == "sum":
        return f"radd({a}, {b})" if floating and local else _narrow(f"{a} + {b}", dtype)
    if op == "prod":
        return _narrow(f"{a} * {b}", dtype)
    if floating:
        return f"r{op}({a}, {b})"
    return f"{op}_nan({a}, {b})"


def accumulator_start(out: KernelOut, rank: int) -> int:
    """First loop level of the innermost run of reduced axes (``rank`` if the innermost loop
    is not reduced): from there a local scalar accumulates. Reduced axes outside it accumulate
    row-wise in the output array, which the kernel first fills with the identity."""
    a = rank
    while a > 0 and (a - 1) in out.axes:
        a -= 1
    return a


# Float32 sums are accumulated in blocks whose sums are added in float64, so their rounding
# error does not grow with the number of terms, as numpy's pairwise summation intends.
# A local accumulator restarts every CHUNK iterations of the innermost loop (LLVM further
# splits a chunk into vector lanes of partial sums); a sum accumulated row-wise in the output
# array is moved into a float64 row every ROWS iterations of its innermost outer reduced loop.
# A float32 partial sum then adds at most ROWS terms (rows), CHUNK / 64 (a vectorised chunk:
# 16 lanes × 4 accumulators on AVX-512), or CHUNK (a chunk that does not vectorise, e.g. one
# calling libm): relative errors ≲ 6e-7, 6e-7 and 2e-5 in the worst case (constant terms),
# whatever the size. Shorter chunks would slow vectorised loops down (per-chunk horizontal
# sums); a float64 accumulator throughout would halve their vector width. Sums of fewer terms
# than a block are rendered unblocked. NB: float32 products keep float32 accumulators, as in
# numpy: a product of thousands of float32 factors over- or underflows long before its
# rounding error (≈ n·eps) matters. max and min are exact.
CHUNK = 2048
ROWS = 64


@dataclass
class _Blocking:
    """A kernel's blocked float32 sums: the outputs whose local accumulator is chunked; the
    outputs moved into float64 rows (output -> the loop axes its row spans, and the loop level
    after each block of which it is moved); the loop levels split into blocks (level -> block
    size)."""

    local: set[int]
    rows: dict[int, list[int]]
    flush: dict[int, int]
    levels: dict[int, int]


def _blocking(k: LoopKernel, out_dtypes: list[np.dtype]) -> _Blocking:
    rank = len(k.shape)
    plan = _Blocking(set(), {}, {}, {})
    for j, out in enumerate(k.outputs):
        if out.reduce != "sum" or out_dtypes[j] != np.float32:
            continue
        start = accumulator_start(out, rank)
        if start < rank and math.prod(k.shape[start:]) > CHUNK:
            plan.local.add(j)
            plan.levels[rank - 1] = CHUNK
        outer = [a for a in out.axes if a < start]
        if math.prod(k.shape[a] for a in outer) > ROWS:
            plan.rows[j] = [a for a in _kept(out, rank) if a > outer[0]]
            plan.flush[j] = outer[-1]
            plan.levels[outer[-1]] = ROWS
    return plan


def render_kernel(k: LoopKernel, out_dtypes: list[np.dtype]) -> str:
    """The source of ``def kernel(in0.., out0.., n0..)`` (without module header), followed by
    the function running one of its chunks if it has one."""
    rank = len(k.shape)
    names = [f"v{i}" for i in range(len(k.nodes))]
    by_depth: list[list[int]] = [[] for _ in range(rank + 1)]
    for i, node in enumerate(k.nodes):
        if node.kind == "lit":
            names[i] = _literal(node.value, node.dtype)
            continue
        by_depth[max(node.axes) + 1 if node.axes else 0].append(i)
    extents = loop_extents(k)
    args = [f"in{j}" for j in range(len(k.inputs))] + \
        [f"out{j}" for j in range(len(k.outputs))] + \
        [f"n{d}" for d in range(rank) if extents[d] is None]
    lines = [f"def kernel({', '.join(args)}):"]
    # A rank-1 kernel runs its chunks in a function of their own: LLVM interleaves a reduction
    # loop nested in another loop at most twice, so nested, the chunks of a heavy loop body
    # ran ≈ 5% slower than the unblocked loop (a value_and_grad loss); as the outermost loop
    # of ``chunk``, each vectorises as that loop did.
    chunk: list[str] = []
    sink = [lines]
    starts = [accumulator_start(out, rank) for out in k.outputs]
    first = {j: min(out.axes) for j, out in enumerate(k.outputs)  # where row-wise ones start
             if out.reduce is not None and min(out.axes) < starts[j]}
    plan = _blocking(k, out_dtypes)
    split = rank == 1 and bool(plan.local)
    # outputs accumulated per chunk: the blocked sums, and every reduction ``chunk`` computes
    partials = {j for j, out in enumerate(k.outputs) if out.reduce is not None} if split \
        else plan.local

    def stmt(indent: int, text: str) -> None:
        sink[0].append("    " * (indent + 1) + text)

    def loops(indent: int, axes: list[int], body: list[str]) -> None:
        for a in axes:
            stmt(indent, f"for i{a} in range(n{a}):")
            indent += 1
        for text in body:
            stmt(indent, text)

    def target(j: int) -> str:
        return f"out{j}{_loop_index(_kept(k.outputs[j], rank))}"

    def row(j: int) -> str:
        return f"row{j}{_loop_index(plan.rows[j])}"

    for d, src in enumerate(extents):
        if src is not None:
            stmt(0, f"n{d} = {src}")
    for j, axes in plan.rows.items():
        shape = ", ".join(f"n{a}" for a in axes) + ("," if len(axes) == 1 else "")
        stmt(0, f"row{j} = scratch_f64(({shape}))")

    def compute(depth: int, indent: int) -> None:
        for i in by_depth[depth]:
            node = k.nodes[i]
            if node.kind == "load":
                stmt(indent, f"{names[i]} = in{node.input}{_index(node.index)}")
            else:
                stmt(indent, f"{names[i]} = {_expr(node, names)}  # {node.prim.name}")

    def add_parts(indent: int, js: list[int]) -> None:
        for j in js:
            op, dtype = k.outputs[j].reduce, out_dtypes[j]
            stmt(indent, f"acc{j} = acc{j} + np.float64(part{j})" if j in plan.local else
                 f"acc{j} = {_combine(op, f'acc{j}', f'part{j}', dtype, True)}")

    def emit_chunk(size: int) -> None:
        """Level 0 of a rank-1 kernel, chunked: ``chunk`` runs one chunk."""
        parts = [f"part{j}" for j in sorted(partials)]
        arrays = ", ".join(args[:len(k.inputs) + len(k.outputs)])
        stmt(0, f"for c0 in range(0, n0, {size}):")
        stmt(1, f"{', '.join(parts)} = chunk({arrays}, c0, imin({size}, n0 - c0))")
        add_parts(1, sorted(partials))
        sink[0] = chunk
        stmt(-1, f"def chunk({arrays}, c0, m0):")
        compute(0, 0)
        for j in sorted(partials):
            stmt(0, f"part{j} = {_identity(k.outputs[j].reduce, out_dtypes[j])}")
        stmt(0, "for j0 in range(m0):")
        stmt(1, "i0 = nonneg(c0 + j0)")
        emit(1, 1)
        stmt(0, f"return {', '.join(parts)}")
        sink[0] = lines

    def emit(depth: int, indent: int) -> None:
        if depth > 0 or not split:
            compute(depth, indent)
        for j, out in enumerate(k.outputs):
            if out.reduce is not None and starts[j] == depth < rank:
                dtype = np.dtype(np.float64) if j in plan.local else out_dtypes[j]
                stmt(indent, f"acc{j} = {_identity(out.reduce, dtype)}")
            if first.get(j) == depth:
                init = [f"{target(j)} = {_identity(out.reduce, out_dtypes[j])}"]
                loops(indent, [a for a in _kept(out, rank) if a > depth],
                      init + ([f"{row(j)} = 0.0"] if j in plan.rows else []))
        if depth == rank:
            for j, out in enumerate(k.outputs):
                v = names[out.node]
                if out.reduce is None:
                    stmt(indent, f"out{j}{_loop_index(range(rank))} = {v}")
                elif starts[j] < rank:
                    acc = f"part{j}" if j in partials else f"acc{j}"
                    stmt(indent, f"{acc} = {_combine(out.reduce, acc, v, out_dtypes[j], True)}")
                else:
                    stmt(indent, f"{target(j)} = "
                                 f"{_combine(out.reduce, target(j), v, out_dtypes[j], False)}")
            return
        size = plan.levels.get(depth)
        if size is None:
            stmt(indent, f"for i{depth} in range(n{depth}):")
            emit(depth + 1, indent + 1)
        elif split:
            emit_chunk(size)
        else:
            local = sorted(plan.local) if depth == rank - 1 else []
            stmt(indent, f"for c{depth} in range(0, n{depth}, {size}):")
            for j in local:
                stmt(indent + 1, f"part{j} = np.float32(0.0)")
            stmt(indent + 1, f"for j{depth} in range(imin({size}, n{depth} - c{depth})):")
            stmt(indent + 2, f"i{depth} = nonneg(c{depth} + j{depth})")
            emit(depth + 1, indent + 2)
            add_parts(indent + 1, local)
            for j, axes in plan.rows.items():
                if plan.flush[j] == depth:
                    loops(indent + 1, [a for a in axes if a > depth],
                          [f"{row(j)} = {row(j)} + np.float64({target(j)})",
                           f"{target(j)} = np.float32(0.0)"])
        for j, out in enumerate(k.outputs):
            if out.reduce is not None and starts[j] == depth:
                out_at = f"out{j}{_loop_index([a for a in _kept(out, rank) if a < depth])}"
                acc = f"np.float32(acc{j})" if j in plan.local else f"acc{j}"
                value = acc if j not in first else \
                    _combine(out.reduce, out_at, acc, out_dtypes[j], False)
                stmt(indent, f"{out_at} = {value}")
            if j in plan.rows and first[j] == depth:
                loops(indent, plan.rows[j], [f"{target(j)} = np.float32({row(j)})"])

    emit(0, 0)
    if chunk:
        lines += ["", "", f"@njit({kernel_flags()})"] + chunk
    return "\n".join(lines) + "\n"


def loop_extents(k: LoopKernel) -> list[str | None]:
    """For each loop axis, an output array dimension it can be read from (outputs always span
    their loop axes fully), or None where it must be passed as an argument."""
    rank = len(k.shape)
    found: list[str | None] = [None] * rank
    for j, out in enumerate(k.outputs):
        kept = _kept(out, rank) if out.reduce is not None else list(range(rank))
        for pos, axis in enumerate(kept):
            if found[axis] is None:
                found[axis] = f"out{j}.shape[{pos}]"
    return found


def _kept(out: KernelOut, rank: int) -> list[int]:
    return [a for a in range(rank) if a not in out.axes]


def _loop_index(axes: object) -> str:
    axes = list(axes)  # type: ignore[call-overload]
    return "[" + ", ".join(f"i{a}" for a in axes) + "]" if axes else "[()]"


def display_kernel(k: LoopKernel, source: str, label: str, names: dict[Var, str]) -> str:
    """``source``, a kernel rendered by ``render_kernel``, as ``show_kernels`` prints it: named
    after the IR variables it holds. The compiled source keeps positional names (``in0``,
    ``out0``, ``v3``), so that identical kernels of different programs are one module (the
    disk cache is keyed by source). Here an array parameter is the upper-case name of the IR
    variable it holds, a scalar the lower-case name of the variable it is an element of
    (``G[i0]`` is ``g``); ``kernel`` is ``label``; the accumulator of output ``s`` is
    ``acc_s``. A variable read at several positions (or passed as several views) gets
    ``_1``, ``_2``..., a name the module uses (``np``, ``min``, a keyword) a trailing ``_``."""
    canonical = [f"in{j}" for j in range(len(k.inputs))] + \
        [f"out{j}" for j in range(len(k.outputs))]
    arrays = list(k.inputs) + [o.var for o in k.outputs]
    held = {f"v{i}": n.var for i, n in enumerate(k.nodes) if n.kind != "lit"}
    words = {t.string for t in _tokens(source) if t.type == tokenize.NAME}
    reserved = (words - set(canonical) - held.keys() - {"kernel", "chunk"}) | \
        {"np", "math", "njit"} | set(keyword.kwlist) | set(dir(builtins))
    taken: set[str] = set()
    unnamed = iter(range(len(k.nodes)))

    def fresh(base: str) -> str:
        base = base + "_" if base in reserved else base
        name, n = base, 0
        while name in taken:
            n += 1
            name = f"{base}{n}" if base.endswith("_") else f"{base}_{n}"
        taken.add(name)
        return name

    mapping = {"kernel": label, "chunk": f"{label}_chunk"}
    for c, x in zip(canonical, arrays, strict=True):
        mapping[c] = fresh(names[x].upper()) if x in names else c
    for c, v in held.items():
        mapping[c] = fresh(names[v]) if v in names else fresh(f"v{next(unnamed)}")
    for j, o in enumerate(k.outputs):  # output j's accumulator, partial sum and float64 row
        if o.var in names:
            mapping.update({f"{w}{j}": f"{w}_{names[o.var]}" for w in ("acc", "part", "row")})
    return rename_names(source, mapping)


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def rename_names(source: str, mapping: dict[str, str]) -> str:
    """``source`` with every name token in ``mapping`` replaced (never inside a string
    literal or a comment)."""
    lines = source.splitlines(keepends=True)
    for t in reversed(_tokens(source)):
        if t.type == tokenize.NAME and t.string in mapping:
            (row, col), (_, end) = t.start, t.end
            lines[row - 1] = lines[row - 1][:col] + mapping[t.string] + lines[row - 1][end:]
    return "".join(lines)
