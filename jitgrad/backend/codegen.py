"""Render loop kernels as plain, readable Python source for Numba: rank-specialised nested
loops, each scalar computed at the shallowest loop level it depends on, broadcasts and
transposes as index arithmetic, reductions accumulated row-wise or in local accumulators."""

from __future__ import annotations

import numpy as np

from jitgrad.backend.fuse import Affine, KernelOut, LoopKernel, SNode
from jitgrad.core import config


def kernel_flags() -> str:
    # error_model="numpy": no division checks (they block vectorisation); only the "contract"
    # fast-math flag (FMA), never nnan/ninf/reassoc, which change NaN/Inf results.
    fastmath = "False" if config.precise_math else '{"contract"}'
    return f'cache=True, nogil=True, error_model="numpy", fastmath={fastmath}'

_SHORT = {"float64": "f64", "float32": "f32"}


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
        return f"{dt_name(dtype)}({v})"
    return f"{dt_name(dtype)}({v!r})"


def _expr(node: SNode, names: list[str]) -> str:
    ops = [names[a] for a in node.args]
    template = node.prim.lowering.template
    dt = dt_name(node.dtype)
    vm = node.prim.lowering.vmath
    if vm and node.dtype.name in _SHORT and not config.precise_math:
        return f"{vm}_{_SHORT[node.dtype.name]}({', '.join(ops)})"
    if callable(template):
        return template(ops, dt, **node.params)
    return template.format(*ops, dt=dt, sfx=_SHORT.get(node.dtype.name, ""), **node.params)


_INIT = {"sum": 0, "prod": 1}


def reduce_init(out: KernelOut, dtype: np.dtype) -> object:
    """The identity a reduction output starts from."""
    if out.reduce in _INIT:
        return _INIT[out.reduce]
    big = np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).max
    return -big if out.reduce == "max" else big


def _combine(op: str, a: str, b: str, dtype: np.dtype, local: bool) -> str:
    """One reduction step. Float sums into a local accumulator use the reassociable addition
    (so the loop vectorises into partial sums); float max/min use LLVM's NaN-propagating
    maximum/minimum, which also vectorise."""
    floating = np.issubdtype(dtype, np.floating)
    if op == "sum":
        return f"radd({a}, {b})" if floating and local else f"{a} + {b}"
    if op == "prod":
        return f"{a} * {b}"
    if floating:
        return f"r{op}({a}, {b})"
    return f"{op}_nan({a}, {b})"


def accumulator_start(out: KernelOut, rank: int) -> int:
    """First loop level of the innermost run of reduced axes (``rank`` if the innermost loop
    is not reduced): from there a local scalar accumulates."""
    a = rank
    while a > 0 and (a - 1) in out.axes:
        a -= 1
    return a


def needs_init(out: KernelOut, rank: int) -> bool:
    """Whether the output array must hold the reduction's identity before the kernel runs."""
    return out.reduce is not None and any(ax < accumulator_start(out, rank) for ax in out.axes)


def render_kernel(k: LoopKernel, out_dtypes: list[np.dtype]) -> str:
    """The source of ``def kernel(n0.., in0.., out0..)`` (without module header)."""
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

    def stmt(depth: int, text: str) -> None:
        lines.append("    " * (depth + 1) + text)

    for d, src in enumerate(extents):
        if src is not None:
            stmt(0, f"n{d} = {src}")

    def emit(depth: int) -> None:
        for i in by_depth[depth]:
            node = k.nodes[i]
            if node.kind == "load":
                stmt(depth, f"{names[i]} = in{node.input}{_index(node.index)}")
            else:
                stmt(depth, f"{names[i]} = {_expr(node, names)}  # {node.prim.name}")
        for j, out in enumerate(k.outputs):
            if out.reduce is not None and accumulator_start(out, rank) == depth < rank:
                init = _literal(np.asarray(reduce_init(out, out_dtypes[j]), out_dtypes[j])[()],
                                out_dtypes[j])
                stmt(depth, f"acc{j} = {init}")
        if depth == rank:
            for j, out in enumerate(k.outputs):
                v = names[out.node]
                if out.reduce is None:
                    stmt(depth, f"out{j}{_loop_index(range(rank))} = {v}")
                elif accumulator_start(out, rank) < rank:
                    stmt(depth, f"acc{j} = "
                                f"{_combine(out.reduce, f'acc{j}', v, out_dtypes[j], True)}")
                else:
                    target = f"out{j}{_loop_index(_kept(out, rank))}"
                    stmt(depth, f"{target} = "
                                f"{_combine(out.reduce, target, v, out_dtypes[j], False)}")
            return
        stmt(depth, f"for i{depth} in range(n{depth}):")
        emit(depth + 1)
        for j, out in enumerate(k.outputs):
            if out.reduce is not None and accumulator_start(out, rank) == depth:
                kept = [a for a in _kept(out, rank) if a < depth]
                target = f"out{j}{_loop_index(kept)}"
                value = _combine(out.reduce, target, f"acc{j}", out_dtypes[j], False) \
                    if needs_init(out, rank) else f"acc{j}"
                stmt(depth, f"{target} = {value}")

    emit(0)
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
