"""Reverse mode as an IR -> IR transform: the backward pass is staged from per-primitive rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jitgrad.core import (
    IR,
    Eqn,
    Lit,
    Primitive,
    Var,
    Zero,
    check_ir,
    current_interpreter,
    is_float,
    using,
)
from jitgrad.prims import add, zeros
from jitgrad.transforms.stage import StageInterpreter, StageTracer


def vjp_fwd(prim: Primitive, ins: list[Any], params: dict) -> tuple[list[Any], Any]:
    """Bind ``prim`` and return its outputs with the residuals its backward rule needs."""
    if prim.vjp_fwd is not None:
        return prim.vjp_fwd(ins, **params)
    outs = prim.bind(*ins, **params)
    outs = list(outs) if prim.multiple_results else [outs]
    return outs, (ins, outs)


def vjp_bwd(prim: Primitive, res: Any, cts: list[Any], params: dict, wrt: Sequence[Any]
            ) -> list[Any]:
    """The cotangents of ``prim``'s operands (at least those whose entry in ``wrt`` is truthy)
    from its residuals ``res`` and the cotangents ``cts`` of its outputs."""
    if prim.vjp_bwd is not None:
        return prim.vjp_bwd(res, cts, **params)
    if prim.vjp is None:
        raise NotImplementedError(f"no vjp rule for primitive {prim.name}")
    ins, outs = res
    if prim.vjp_wrt:
        return prim.vjp(cts, ins, outs, wrt=wrt, **params)
    return prim.vjp(cts, ins, outs, **params)


def add_cts(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return add(a, b)


def vjp_ir(ir: IR, wrt: Sequence[bool], has_ct: Sequence[bool]) -> IR:
    """From ``ir: (ins) -> (outs)`` build ``(ins..., cts of the outs with has_ct) ->
    (outs..., cotangents of the ins with wrt)``. The forward equations are replayed (so the
    result is one program whose backward equations read forward variables as residuals);
    cotangents of a variable used several times are summed; only variables that depend on a
    ``wrt`` input get cotangents, and unused inputs get a broadcast literal zero."""
    st = StageInterpreter(current_interpreter())
    env: dict[Var, Any] = {}
    with using(st):
        for v, c in zip(ir.constvars, ir.consts, strict=True):
            st.constvars.append(nv := Var(v.aval))
            st.consts.append(c)
            env[v] = StageTracer(st, nv)
        for v in ir.invars:
            env[v] = st.new_arg(v.aval)
        ct_in = [st.new_arg(x.aval) for x, h in zip(ir.outvars, has_ct, strict=True) if h]

        def read(x: Any) -> Any:
            return x.val if isinstance(x, Lit) else env[x]

        active = {v for v, w in zip(ir.invars, wrt, strict=True) if w and is_float(v.aval.dtype)}
        tape: list[tuple[Eqn, Any]] = []
        for eqn in ir.eqns:
            ins = [read(x) for x in eqn.inputs]
            if eqn.prim.differentiable and any(
                    isinstance(x, Var) and x in active for x in eqn.inputs):
                outs, res = vjp_fwd(eqn.prim, ins, eqn.params)
                tape.append((eqn, res))
                active.update(v for v in eqn.outputs if is_float(v.aval.dtype))
            else:
                outs = st.process(eqn.prim, ins, eqn.params)
            for v, o in zip(eqn.outputs, outs, strict=True):
                env[v] = o

        ct_env: dict[Var, Any] = {}
        it = iter(ct_in)
        for x, h in zip(ir.outvars, has_ct, strict=True):
            ct = next(it) if h else None
            if ct is not None and isinstance(x, Var) and x in active:
                ct_env[x] = add_cts(ct_env.get(x), ct)

        for eqn, res in reversed(tape):
            cts = [ct_env.pop(v, None) for v in eqn.outputs]
            if all(c is None for c in cts):
                continue
            cts = [Zero(v.aval) if c is None else c for c, v in zip(cts, eqn.outputs, strict=True)]
            need = [isinstance(x, Var) and x in active for x in eqn.inputs]
            cts_in = vjp_bwd(eqn.prim, res, cts, eqn.params, need)
            for x, ct in zip(eqn.inputs, cts_in, strict=True):
                if ct is not None and not isinstance(ct, Zero) and isinstance(x, Var) \
                        and x in active:
                    ct_env[x] = add_cts(ct_env.get(x), ct)

        outs = [read(x) for x in ir.outvars]
        grads = [ct_env[v] if v in ct_env else zeros(v.aval)
                 for v, w in zip(ir.invars, wrt, strict=True) if w]
    return check_ir(st.finish(outs + grads))
