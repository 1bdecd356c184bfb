"""Staging: run a Python function on tracers and record the primitives it binds as an IR."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import (
    IR,
    Atom,
    Eqn,
    Interpreter,
    Lit,
    Primitive,
    ShapedArray,
    Tracer,
    Var,
    aval_of,
    check_ir,
    current_interpreter,
    leaked_tracer_error,
    using,
)

# While jit traces a function: the (tracer, dtype) pairs of weakly typed integers (Python int
# arguments) that promotion cast to another integer dtype. numpy raises OverflowError where
# such a value does not fit that dtype; the compiled cast would wrap around, so jit checks the
# arguments' values against these dtypes on every call (a cast the user writes, astype,
# wraps in numpy too and is not recorded).
weak_int_casts: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "weak_int_casts", default=None)


class StageTracer(Tracer):
    __slots__ = ("var",)

    def __init__(self, interp: StageInterpreter, var: Var):
        self.interp = interp
        self.var = var

    @property
    def aval(self) -> ShapedArray:
        return self.var.aval


class StageInterpreter(Interpreter):
    """Records every bound primitive as an equation. Values from enclosing interpreters (and
    concrete arrays) become constvars; concrete scalars become literals."""

    def __init__(self, parent: Interpreter):
        self.parent = parent
        self.eqns: list[Eqn] = []
        self.invars: list[Var] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, Var] = {}
        self.producers: dict[Var, Eqn] = {}

    def new_arg(self, aval: ShapedArray) -> StageTracer:
        v = Var(aval)
        self.invars.append(v)
        return StageTracer(self, v)

    def lift(self, x: Any) -> Atom:
        if isinstance(x, StageTracer) and x.interp is self:
            return x.var
        if isinstance(x, Tracer):
            if not any(x.interp is a for a in self.ancestors()):
                raise leaked_tracer_error(x)
        elif np.ndim(x) == 0:
            return Lit(x)
        # One constvar per distinct object; the value is kept alive by self.consts.
        v = self._const_ids.get(id(x))
        if v is None:
            v = Var(aval_of(x))
            self._const_ids[id(x)] = v
            self.constvars.append(v)
            self.consts.append(x)
        return v

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        inputs = [self.lift(a) for a in args]
        out_avals = prim.out_avals([x.aval for x in inputs], params)
        outputs = [Var(a) for a in out_avals]
        eqn = Eqn(prim, inputs, outputs, params)
        self.eqns.append(eqn)
        for v in outputs:
            self.producers[v] = eqn
        return [StageTracer(self, v) for v in outputs]

    def finish(self, outs: Sequence[Any]) -> IR:
        outvars = [self.lift(x) for x in outs]
        return dce_ir(IR(self.constvars, self.invars, self.eqns, outvars, self.consts))


def producer(x: Any) -> Eqn | None:
    """The equation that produced staged value ``x`` in the current trace, if any."""
    if isinstance(x, StageTracer) and x.interp is current_interpreter():
        return x.interp.producers.get(x.var)
    return None


def trace(f: Callable[..., Sequence[Any]], avals: Sequence[ShapedArray]) -> IR:
    """Stage ``f`` (taking and returning flat lists of arrays) on inputs of ``avals``."""
    interp = StageInterpreter(current_interpreter())
    with using(interp):
        args = [interp.new_arg(a) for a in avals]
        outs = f(*args)
    return check_ir(interp.finish(outs))


def dce_ir(ir: IR) -> IR:
    """Drop equations whose outputs are never used, and unused constvars."""
    live: set[Var] = {x for x in ir.outvars if isinstance(x, Var)}
    kept: list[Eqn] = []
    for eqn in reversed(ir.eqns):
        if any(v in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    kept.reverse()
    pairs = [(v, c) for v, c in zip(ir.constvars, ir.consts, strict=True) if v in live]
    return IR([v for v, _ in pairs], ir.invars, kept, ir.outvars, [c for _, c in pairs])
