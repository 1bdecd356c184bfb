"""Sub-programs: the helpers that every primitive holding an IR in its params shares (jit_call,
cond, scan, while_loop, checkpoint and the custom rules): tracing a function over a pytree into
a closed IR, and that IR's forward-mode and split reverse-mode versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jitgrad.api_util import flatten_fun_nokwargs
from jitgrad.core import IR, ShapedArray, Zero, aval_of, check_ir, eval_ir, is_float, zeros
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.tree_util import PyTreeDef

__all__ = ["closure_convert", "floats", "instantiate_zeros", "jvp_ir", "split_vjp",
           "trace_closed", "trace_fun"]


def closure_convert(ir: IR) -> tuple[IR, list[Any]]:
    """Turn ``ir``'s constants into leading inputs, so it can live in an equation's params
    while the constants (possibly values of an enclosing trace) are ordinary operands."""
    return check_ir(IR([], ir.constvars + ir.invars, ir.eqns, ir.outvars)), list(ir.consts)


def trace_closed(f: Callable[..., Sequence[Any]], avals: Sequence[ShapedArray]
                 ) -> tuple[IR, list[Any]]:
    """Trace flat ``f`` on ``avals``; its constants become leading inputs (closure_convert)."""
    return closure_convert(trace(f, avals))


def trace_fun(f: Callable[..., Any], in_tree: PyTreeDef, avals: Sequence[ShapedArray]
              ) -> tuple[IR, list[Any], PyTreeDef]:
    """Trace ``f`` taking positional pytree arguments of structure ``in_tree`` (leaves of
    ``avals``): the closed IR, its constants, and the output structure."""
    flat_f, store = flatten_fun_nokwargs(f, in_tree)
    ir, consts = trace_closed(flat_f, avals)
    return ir, consts, store.val


def instantiate_zeros(ts: Sequence[Any], like: Sequence[Any]) -> list[Any]:
    """Symbolic zero tangents/cotangents as arrays (of the avals of ``like``: values or
    avals)."""
    return [zeros(x if isinstance(x, ShapedArray) else aval_of(x)) if isinstance(t, Zero)
            else t for t, x in zip(ts, like, strict=True)]


def floats(avals: Sequence[ShapedArray]) -> list[bool]:
    return [is_float(a.dtype) for a in avals]


def jvp_ir(fun: IR) -> IR:
    """``(xs..., ts...) -> (outs..., t_outs...)`` with every tangent an explicit input/output."""
    n = len(fun.invars)

    def run(*a: Any) -> list[Any]:
        outs, ts = jvp_flat(lambda *x: eval_ir(fun, *x), list(a[:n]), list(a[n:]))
        return outs + instantiate_zeros(ts, outs)

    avals = [v.aval for v in fun.invars]
    return trace_closed(run, avals + avals)[0]


def split_vjp(fun: IR, wrt: Sequence[bool] | None = None
              ) -> tuple[IR, IR, list[bool], list[bool]]:
    """Forward part ``ins -> outs + residuals`` and backward part ``residuals + cts -> cts of
    the inputs in wrt`` (default: the float inputs) of ``fun``'s reverse mode, both closed,
    with ``wrt`` and which outputs take a cotangent (the float ones)."""
    wrt = floats(fun.in_avals) if wrt is None else list(wrt)
    has_ct = floats(fun.out_avals)
    joint = vjp_ir(fun, wrt, has_ct)
    n_in, n_out = len(fun.invars), len(fun.outvars)
    known, unknown, _ = partial_eval_ir(joint, [False] * n_in + [True] * sum(has_ct),
                                        [False] * n_out + [True] * sum(wrt))
    return closure_convert(known)[0], closure_convert(unknown)[0], wrt, has_ct
