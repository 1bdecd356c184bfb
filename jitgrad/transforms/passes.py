"""IR -> IR clean-up before code generation: inline calls, simplify the ones and zeros that
reverse mode produces, fold constants, common-subexpression and dead-code elimination."""

from __future__ import annotations

from typing import Any

import numpy as np

from jitgrad.core import IR, Atom, Elementwise, Eqn, Inline, Lit, Var, check_ir
from jitgrad.prims.structural import broadcast_in_dim_p
from jitgrad.transforms.stage import dce_ir

__all__ = ["cse_ir", "dce_ir", "inline_calls_ir", "optimize_ir", "simplify_ir"]


def _subst(env: dict[Var, Atom], x: Atom) -> Atom:
    while isinstance(x, Var) and x in env:
        x = env[x]
    return x


def inline_calls_ir(ir: IR) -> IR:
    """Replace equations that call a sub-program (``Inline`` lowering: jit, custom rules,
    checkpoint) by the sub-program's equations: once compiling, their rules are no longer
    needed."""
    eqns: list[Eqn] = []
    env: dict[Var, Atom] = {}

    def emit(eqn: Eqn, inputs: list[Atom]) -> None:
        if not isinstance(eqn.prim.lowering, Inline):
            eqns.append(Eqn(eqn.prim, inputs, eqn.outputs, eqn.params))
            return
        sub = inline_calls_ir(eqn.params["fun"])
        if sub.constvars:
            raise ValueError("inline_calls_ir: sub-programs must be closure-converted")
        local: dict[Var, Atom] = dict(zip(sub.invars, inputs, strict=True))
        for e in sub.eqns:
            outs = [Var(v.aval) for v in e.outputs]
            local.update(zip(e.outputs, outs, strict=True))
            eqns.append(Eqn(e.prim, [_subst(local, x) if isinstance(x, Var) else x
                                     for x in e.inputs], outs, e.params))
        for v, x in zip(eqn.outputs, sub.outvars, strict=True):
            env[v] = _subst(local, x) if isinstance(x, Var) else x

    for eqn in ir.eqns:
        emit(eqn, [_subst(env, x) for x in eqn.inputs])
    out = IR(ir.constvars, ir.invars, eqns, [_subst(env, x) for x in ir.outvars], ir.consts)
    return check_ir(out)


# ---------------------------------------------------------------------------------------------
# Simplification


def _lit_value(x: Atom, producers: dict[Var, Eqn]) -> Any:
    """The scalar value of a literal, or of a broadcast of a literal (a constant fill)."""
    if isinstance(x, Lit):
        return x.val
    eqn = producers.get(x)
    if eqn is not None and eqn.prim is broadcast_in_dim_p and isinstance(eqn.inputs[0], Lit):
        return eqn.inputs[0].val
    return None


def simplify_ir(ir: IR) -> IR:
    """Each primitive's declared identities (x*1, x+0, select(p, x, x), no-op reshapes, ...),
    constant folding of rank-0 literal expressions, and literal fills used by elementwise
    operations replaced by the literal itself. Never changes a result's value."""
    env: dict[Var, Atom] = {}
    producers: dict[Var, Eqn] = {}
    eqns: list[Eqn] = []
    for eqn in ir.eqns:
        inputs = [_subst(env, x) for x in eqn.inputs]
        eqn = Eqn(eqn.prim, inputs, eqn.outputs, eqn.params)
        out = eqn.outputs[0] if len(eqn.outputs) == 1 else None
        consts = [_lit_value(x, producers) for x in inputs]
        if out is not None and isinstance(eqn.prim.lowering, Elementwise):
            # A constant fill operand of an elementwise op becomes the literal itself.
            lits = [Lit(c, x.aval.dtype) if c is not None and isinstance(x, Var) else x
                    for x, c in zip(inputs, consts, strict=True)]
            # Only while another operand still carries the output's shape.
            if all(isinstance(x, Lit) for x in lits) or any(
                    isinstance(x, Var) and x.aval.shape == out.aval.shape for x in lits):
                inputs = lits
                eqn = Eqn(eqn.prim, inputs, eqn.outputs, eqn.params)
            if all(isinstance(x, Lit) for x in inputs):
                val = np.asarray(eqn.prim.impl(*[x.val for x in inputs], **eqn.params))
                lit = Lit(val.astype(out.aval.dtype))
                if out.aval.shape == ():
                    env[out] = lit
                else:
                    _fill(eqns, producers, lit, out)
                continue
        rule = eqn.prim.simplify
        same = rule(eqn, consts) if rule and out is not None else None
        if same is not None and same.aval == out.aval:
            env[out] = same
            continue
        eqns.append(eqn)
        for v in eqn.outputs:
            producers[v] = eqn
    outvars = [_subst(env, x) for x in ir.outvars]
    return check_ir(dce_ir(IR(ir.constvars, ir.invars, eqns, outvars, ir.consts)))


def _fill(eqns: list[Eqn], producers: dict[Var, Eqn], lit: Lit, out: Var) -> None:
    eqn = Eqn(broadcast_in_dim_p, [lit], [out], {"shape": out.aval.shape, "dims": ()})
    eqns.append(eqn)
    producers[out] = eqn


# ---------------------------------------------------------------------------------------------
# Common subexpressions


def _key(x: Any) -> Any:
    if isinstance(x, Lit):
        return ("lit", x.val.item(), x.aval.dtype.str)
    if isinstance(x, Var):
        return ("var", x.id)
    if isinstance(x, dict):
        return tuple(sorted((k, _key(v)) for k, v in x.items()))
    if isinstance(x, list | tuple):
        return tuple(_key(v) for v in x)
    try:
        hash(x)
        return x
    except TypeError:
        return ("id", id(x))


# Constants up to this many elements are compared by value (larger ones only by identity).
CSE_CONST_SIZE = 4096


def cse_ir(ir: IR) -> IR:
    """Reuse the outputs of an identical earlier equation (same primitive, operands, params).
    Small constants with equal values are one constant (a function that builds the same
    ``np.ones(...)`` in several places gets one, and the equations using it merge)."""
    env: dict[Var, Atom] = {}
    first: dict[tuple, Var] = {}
    for v, c in zip(ir.constvars, ir.consts, strict=True):
        arr = np.asarray(c)
        if arr.size <= CSE_CONST_SIZE:
            same = first.setdefault((arr.dtype.str, arr.shape, arr.tobytes()), v)
            if same is not v:
                env[v] = same
    seen: dict[Any, Eqn] = {}
    eqns: list[Eqn] = []
    for eqn in ir.eqns:
        inputs = [_subst(env, x) for x in eqn.inputs]
        key = (eqn.prim.name, _key(inputs), _key(eqn.params))
        prev = seen.get(key)
        if prev is not None:
            env.update(zip(eqn.outputs, prev.outputs, strict=True))
            continue
        new = Eqn(eqn.prim, inputs, eqn.outputs, eqn.params)
        seen[key] = new
        eqns.append(new)
    return check_ir(IR(ir.constvars, ir.invars, eqns, [_subst(env, x) for x in ir.outvars],
                       ir.consts))


def optimize_ir(ir: IR) -> IR:
    """The pipeline run before code generation."""
    ir = inline_calls_ir(ir)
    for _ in range(2):  # simplification exposes common subexpressions and vice versa
        ir = cse_ir(simplify_ir(ir))
    return dce_ir(ir)
