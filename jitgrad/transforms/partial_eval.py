"""Split an IR into the part computable now (known inputs) and the part that must wait."""

from __future__ import annotations

from collections.abc import Sequence

from jitgrad.core import IR, Eqn, Var, check_ir
from jitgrad.transforms.stage import dce_ir


def partial_eval_ir(ir: IR, unknown: Sequence[bool],
                    out_unknown: Sequence[bool] | None = None) -> tuple[IR, IR, int]:
    """Given which invars are unknown, return ``(known_ir, unknown_ir, n_res)``:
    ``known_ir(consts; known ins) -> (outs that need no unknown input..., residuals)`` and
    ``unknown_ir(residuals..., unknown ins) -> (the other outs)``. ``out_unknown`` may force
    outputs to the unknown side (they are passed through as residuals). Equations that read no
    variable at all (e.g. broadcasts of a literal zero) are recomputed on the unknown side
    instead of being saved as residuals."""
    unknown_vars = {v for v, u in zip(ir.invars, unknown, strict=True) if u}
    known_eqns: list[Eqn] = []
    unknown_eqns: list[Eqn] = []
    for eqn in ir.eqns:
        if any(isinstance(x, Var) and x in unknown_vars for x in eqn.inputs):
            unknown_eqns.append(eqn)
            unknown_vars.update(eqn.outputs)
        else:
            known_eqns.append(eqn)
    depends = [isinstance(x, Var) and x in unknown_vars for x in ir.outvars]
    if out_unknown is None:
        out_unknown = depends
    elif any(d and not u for d, u in zip(depends, out_unknown, strict=True)):
        raise ValueError("partial_eval_ir: an output marked known depends on unknown inputs")

    # Constant-only known equations used by the unknown side are recomputed there.
    needed = {x for e in unknown_eqns for x in e.inputs if isinstance(x, Var)}
    needed |= {x for x, u in zip(ir.outvars, out_unknown, strict=True)
               if u and isinstance(x, Var)}
    recompute: list[Eqn] = []
    for eqn in reversed(known_eqns):
        if not any(isinstance(x, Var) for x in eqn.inputs) and any(
                v in needed for v in eqn.outputs):
            recompute.append(eqn)
    recompute.reverse()
    recomputed = {v for e in recompute for v in e.outputs}

    unknown_outs = [x for x, u in zip(ir.outvars, out_unknown, strict=True) if u]
    # Outputs of the unknown side that are actually known must be passed through as residuals.
    res_candidates = needed | {x for x in unknown_outs if isinstance(x, Var)}
    defined_unknown = {v for e in unknown_eqns for v in e.outputs} | {
        v for v, u in zip(ir.invars, unknown, strict=True) if u}
    residuals = [v for v in _ordered(ir, res_candidates)
                 if v not in defined_unknown and v not in recomputed]

    known_ins = [v for v, u in zip(ir.invars, unknown, strict=True) if not u]
    unknown_ins = [v for v, u in zip(ir.invars, unknown, strict=True) if u]
    known_outs = [x for x, u in zip(ir.outvars, out_unknown, strict=True) if not u]
    known_ir = dce_ir(IR(ir.constvars, known_ins, known_eqns, known_outs + residuals, ir.consts))
    unknown_ir = dce_ir(IR([], residuals + unknown_ins, recompute + unknown_eqns, unknown_outs))
    return check_ir(known_ir), check_ir(unknown_ir), len(residuals)


def _ordered(ir: IR, vs: set) -> list[Var]:
    """``vs`` in definition order (deterministic residual order)."""
    order = ir.constvars + ir.invars + [v for e in ir.eqns for v in e.outputs]
    return [v for v in order if v in vs]
