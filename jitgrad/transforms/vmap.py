"""Batching (vmap) as an IR -> IR transform: each equation is rewritten by its primitive's
batching rule, on values that carry a batch axis (or None when they are not batched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jitgrad.core import IR, Lit, ShapedArray, Var, aval_of, check_ir
from jitgrad.errors import BatchError
from jitgrad.prims.structural import at_front, move_front, transpose
from jitgrad.transforms.stage import trace

__all__ = ["batch_eval", "vmap_ir"]


def batch_eval(ir: IR, args: Sequence[Any], dims: Sequence[int | None]
               ) -> tuple[list[Any], list[int | None]]:
    """Evaluate ``ir`` (written for one example) on batched ``args`` under the current
    interpreter; returns the outputs and their batch axes. Constants are unbatched."""
    env: dict[Var, tuple[Any, int | None]] = {}
    for v, c in zip(ir.constvars, ir.consts, strict=True):
        env[v] = (c, None)
    for v, a, d in zip(ir.invars, args, dims, strict=True):
        env[v] = (a, d)

    def read(x: Any) -> tuple[Any, int | None]:
        return (x.val, None) if isinstance(x, Lit) else env[x]

    for eqn in ir.eqns:
        vals, ds = zip(*(read(x) for x in eqn.inputs), strict=True) if eqn.inputs else ((), ())
        prim = eqn.prim
        if all(d is None for d in ds):
            outs = prim.bind(*vals, **eqn.params)
            outs = list(outs) if prim.multiple_results else [outs]
            odims: list[int | None] = [None] * len(outs)
        else:
            if prim.batch is None:
                raise NotImplementedError(f"vmap: primitive {prim.name} has no batching rule")
            out, od = prim.batch(list(vals), list(ds), **eqn.params)
            outs = list(out) if prim.multiple_results else [out]
            odims = list(od) if prim.multiple_results else [od]
        for v, o, d in zip(eqn.outputs, outs, odims, strict=True):
            env[v] = (o, d)
    res = [read(x) for x in ir.outvars]
    return [r[0] for r in res], [r[1] for r in res]


def vmap_ir(ir: IR, dims: Sequence[int | None], size: int,
            out_front: bool = True) -> tuple[IR, list[int | None]]:
    """The batched program: inputs batched at ``dims`` (batch size ``size``); outputs batched
    first (``out_front``: unbatched outputs are broadcast) or where the rules put them."""
    avals = []
    for v, d in zip(ir.invars, dims, strict=True):
        shape = v.aval.shape
        avals.append(v.aval if d is None else
                     ShapedArray(shape[:d] + (size,) + shape[d:], v.aval.dtype))
    odims: list[int | None] = []

    def run(*xs: Any) -> list[Any]:
        outs, ds = batch_eval(ir, xs, dims)
        if out_front:
            outs = [at_front(o, d, size) for o, d in zip(outs, ds, strict=True)]
            ds = [0] * len(outs)
        odims[:] = ds
        return outs

    return check_ir(trace(run, avals)), odims


def check_sizes(values: Sequence[Any], dims: Sequence[int | None], names: Sequence[str]) -> int:
    """The common batch size; a clear error naming every argument's axis and size if not."""
    sizes = {}
    for x, d, name in zip(values, dims, names, strict=True):
        if d is None:
            continue
        shape = aval_of(x).shape
        if not -len(shape) <= d < len(shape):
            raise BatchError(f"vmap: in_axes {d} is out of range for {name} of shape {shape}")
        sizes[name] = (d % len(shape), shape[d])
    if not sizes:
        raise BatchError("vmap: no argument is batched (every in_axes is None)")
    if len({s for _, s in sizes.values()}) > 1:
        detail = ", ".join(f"{n} has size {s} on axis {a}" for n, (a, s) in sizes.items())
        raise BatchError(f"vmap: batched arguments have different sizes: {detail}")
    return next(iter(sizes.values()))[1]


def move_axis(x: Any, d: int | None, to: int | None, size: int) -> Any:
    """Put the batch axis of ``x`` at ``to`` (None: ``x`` must not be batched)."""
    if to is None:
        if d is not None:
            raise BatchError("vmap: out_axes is None for an output that depends on the batched "
                             "inputs")
        return x
    x = at_front(x, d, size) if d is None else move_front(x, d)
    nd = aval_of(x).ndim
    if not -nd <= to < nd:
        raise BatchError(f"vmap: out_axes {to} is out of range for an output of shape "
                         f"{aval_of(x).shape[1:]} (the batched output has {nd} axes)")
    to = to % nd
    if to == 0:
        return x
    perm = list(range(1, nd))
    perm.insert(to, 0)
    return transpose(x, tuple(perm))
