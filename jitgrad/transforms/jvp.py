"""Forward mode: an interpreter carrying (primal, tangent) pairs through each primitive's jvp."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jitgrad.core import (
    Interpreter,
    Primitive,
    ShapedArray,
    Tracer,
    Zero,
    aval_of,
    current_interpreter,
    using,
)


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, interp: JVPInterpreter, primal: Any, tangent: Any):
        self.interp = interp
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self) -> ShapedArray:
        return aval_of(self.primal)

    def primal_value(self) -> Any:
        return self.primal


class JVPInterpreter(Interpreter):
    """Dual numbers. Values of other interpreters are primals with a zero tangent, so nested
    jvps never confuse each other's perturbations; rules run under the parent interpreter.
    Its values are concrete when its parent's are."""

    def __init__(self, parent: Interpreter):
        self.parent = parent
        self.concrete = parent.concrete

    def lift(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, JVPTracer) and x.interp is self:
            return x.primal, x.tangent
        return x, Zero(aval_of(x))

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        primals, tangents = zip(*(self.lift(a) for a in args), strict=True) if args else ((), ())
        with using(self.parent):
            if not prim.differentiable or all(isinstance(t, Zero) for t in tangents):
                return self.parent.process(prim, primals, params)
            if prim.jvp is None:
                raise NotImplementedError(f"no jvp rule for primitive {prim.name}")
            out, t_out = prim.jvp(list(primals), list(tangents), **params)
        if prim.multiple_results:
            return [JVPTracer(self, o, t) for o, t in zip(out, t_out, strict=True)]
        return [JVPTracer(self, out, t_out)]


def jvp_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any],
             tangents: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Run flat ``f`` on dual numbers; returns (outputs, output tangents), tangents maybe Zero."""
    interp = JVPInterpreter(current_interpreter())
    with using(interp):
        outs = f(*[JVPTracer(interp, p, t) for p, t in zip(primals, tangents, strict=True)])
    lifted = [interp.lift(o) for o in outs]
    return [p for p, _ in lifted], [t for _, t in lifted]
