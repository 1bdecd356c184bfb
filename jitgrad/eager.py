"""Eager transformations: a tape that evaluates each primitive on concrete values as it is bound,
records it, and runs the primitives' own vjp rules backwards over the record.

Outside ``jit``, ``grad`` and ``vjp`` run the function on a tape instead of tracing it to an IR:
every value carries its concrete value, so Python control flow on values (``if x > 0``,
``while err > tol``, ``float(x)``) works, as in autograd, and each call costs the primitives'
numpy implementations plus a little bookkeeping. The rules are the same ones the IR transforms
use (``vjp_fwd``/``vjp_bwd``), bound on the enclosing interpreter, so the backward pass of one
tape is recorded by an enclosing one (``grad(grad(f))``), control-flow primitives and custom
rules work unchanged, and ``grad(jit(f))`` still runs the compiled program. A tape can also
be read back as an IR (``specialize``): the function on the control path these values took,
for the transforms that need a program (``jacfwd``, ``linearize``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.api_util import flatten_args, flatten_fun_nokwargs
from jitgrad.core import (
    _EVAL,
    IR,
    Interpreter,
    Primitive,
    ShapedArray,
    Tracer,
    Zero,
    aval_of,
    current_interpreter,
    eval_ir,
    is_python_scalar,
    unsupported_dtype_error,
    using,
)
from jitgrad.prims import add, add_p, zeros
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_bwd
from jitgrad.tree_util import tree_flatten, tree_unflatten

__all__ = ["Tape", "TapeTracer", "is_eager", "specialize", "vjp_flat"]


def is_eager() -> bool:
    """Whether transformations called now see concrete values: at top level, or inside eager
    transformations only (not while ``jit``, ``make_ir``, ``vmap`` or a ``lax`` body traces).

    >>> import jitgrad as jg
    >>> is_eager(), bool(jg.jit(lambda x: x * is_eager())(1.0))
    (True, False)
    """
    return current_interpreter().concrete


class TapeTracer(Tracer):
    """A float value on a tape: its value (a numpy array, or a value of the enclosing
    interpreter) and its node number. ``weak`` marks a value of Python-scalar origin."""

    __slots__ = ("value", "node", "weak")

    def __init__(self, interp: Tape, value: Any, node: int, weak: bool = False):
        self.interp = interp
        self.value = value
        self.node = node
        self.weak = weak

    @property
    def aval(self) -> ShapedArray:
        a = aval_of(self.value)
        return a if a.weak == self.weak else ShapedArray(a.shape, a.dtype, self.weak)

    # Read from the value itself: the front end asks for these on every operation.
    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def primal_value(self) -> Any:
        return self.value


class Tape(Interpreter):
    """Evaluates every primitive at once on the enclosing interpreter and records those that
    read a value of this tape, with the residuals their backward rule needs (``reverse``) or
    just their operands (to read the tape back as an IR). Values of enclosing interpreters
    are constants here, so nested tapes never confuse each other's values."""

    concrete = True

    def __init__(self, parent: Interpreter, reverse: bool = True):
        self.parent = parent
        self.reverse = reverse
        # (prim, params, the operands' nodes or None, the outputs' nodes or None, residuals,
        # the outputs or their avals); the residuals are ``(operands, outputs)`` unless the
        # primitive has its own ``vjp_fwd``.
        self.entries: list[tuple] = []
        self.nodes = 1  # the next node number (never 0: see ``backward``)

    def new_input(self, x: Any) -> TapeTracer:
        """A tape value for an input (a float array, Python float or enclosing value)."""
        weak = aval_of(x).weak
        if is_python_scalar(x):
            x = np.float64(x)
        tracer = TapeTracer(self, x, self.nodes, weak)
        self.nodes += 1
        return tracer

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        in_nodes: list[int | None] | None = None
        weak = foreign = False
        for i, a in enumerate(args):
            if type(a) is TapeTracer and a.interp is self:
                if in_nodes is None:
                    in_nodes, ins = [None] * len(args), list(args)
                in_nodes[i] = a.node
                ins[i] = a.value
                weak = weak or a.weak
            elif isinstance(a, Tracer):
                foreign = True
        if in_nodes is None:
            return self.parent.process(prim, args, params)
        if not prim.differentiable:
            return self.parent.process(prim, ins, params)
        if self.reverse and prim.vjp_fwd is not None:
            with using(self.parent):
                outs, res = prim.vjp_fwd(ins, **params)
            kept = [aval_of(o) for o in outs]
        else:
            if self.parent is _EVAL and not foreign:  # no tracer to look for: numpy at once
                outs = _EVAL.run(prim, ins, params)
            else:
                outs = self.parent.process(prim, ins, params)
            if self.reverse and prim.linear and outs[0].size >= _KEEP_AVALS:
                # Its rule reads the float values' avals only: large arrays need not stay
                # alive (for small ones, building the avals costs more than keeping them).
                res = ([aval_of(x) if _is_float(x) else x for x in ins],
                       [aval_of(o) for o in outs])
            else:
                res = (ins, outs)
            kept = res[1]
        if len(outs) == 1 and not weak and getattr(outs[0], "dtype", None) is not None \
                and outs[0].dtype.kind == "f":  # the common case, directly
            node = self.nodes
            self.nodes += 1
            self.entries.append((prim, params, in_nodes, (node,), res, kept))
            return [TapeTracer(self, outs[0], node)]
        # A weak (Python-scalar) result needs the shape rule; every other result is as strong
        # as the arrays it came from.
        weaks = ([a.weak for a in prim.out_avals([aval_of(a) for a in args], params)]
                 if weak else [False] * len(outs))
        wrapped, out_nodes = [], []
        for o, w in zip(outs, weaks, strict=True):
            if not hasattr(o, "dtype"):  # a Python scalar, from a user's custom rule
                o, w = np.asarray(o), w or is_python_scalar(o)
            kind = o.dtype.kind
            if kind == "f":
                wrapped.append(TapeTracer(self, o, self.nodes, w))
                out_nodes.append(self.nodes)
                self.nodes += 1
            elif kind in "cO":
                raise unsupported_dtype_error(o.dtype, o.shape)
            else:
                wrapped.append(o)
                out_nodes.append(None)
        self.entries.append((prim, params, in_nodes, out_nodes, res, kept))
        return wrapped

    def backward(self, cts: dict[int, Any]) -> dict[int, Any]:
        """Cotangents of every node, given those of some (``cts``, consumed), by the vjp rules
        bound on the current interpreter (where the residuals live)."""
        for prim, params, in_nodes, out_nodes, res, kept in reversed(self.entries):
            if len(out_nodes) == 1:
                ct = cts.pop(out_nodes[0], None)
                if ct is None:
                    continue
                ct_out = [ct]
            else:
                ct_out = [cts.pop(n, None) for n in out_nodes]
                if all(c is None for c in ct_out):
                    continue
                ct_out = [Zero(aval_of(o)) if c is None else c
                          for c, o in zip(ct_out, kept, strict=True)]
            # Node numbers start at 1: the operands' nodes say which need a cotangent.
            ct_in = vjp_bwd(prim, res, ct_out, params, in_nodes)
            for n, c in zip(in_nodes, ct_in, strict=True):
                if n is None or c is None or type(c) is Zero:
                    continue
                prev = cts.get(n)
                # Both are cotangents of one value: one shape, one dtype.
                cts[n] = c if prev is None else add_p.bind(prev, c)
        return cts

    def run(self, f: Callable[..., Sequence[Any]], leaves: Sequence[Any]
            ) -> tuple[list[TapeTracer], list[Any]]:
        """Run flat ``f`` on tape inputs for ``leaves``: the inputs and ``f``'s outputs."""
        inputs = [self.new_input(x) for x in leaves]
        with using(self):
            outs = list(f(*inputs))
        return inputs, outs

    def owns(self, x: Any) -> bool:
        return type(x) is TapeTracer and x.interp is self


# The size from which a linear primitive's residuals are kept as avals only (measured on
# the eager workloads: a 128x128 float64 sum kept alive costs more than its aval).
_KEEP_AVALS = 4096


def _is_float(x: Any) -> bool:
    return getattr(x, "dtype", None) is not None and x.dtype.kind == "f"


def _zeros_like(x: Any) -> Any:
    aval = aval_of(x)
    return zeros(aval) if isinstance(x, Tracer) else np.zeros(aval.shape, aval.dtype)


def vjp_flat(f: Callable[..., Sequence[Any]], leaves: Sequence[Any]
             ) -> tuple[list[Any], Callable[[Sequence[Any]], list[Any]]]:
    """Run flat ``f`` on a tape now: its outputs, and ``backward(cts)`` (one cotangent per
    output, None for none) returning one cotangent per input (zeros where none flows),
    computed on the interpreter current when it is called.

    >>> outs, backward = vjp_flat(lambda x, y: [x * y if x > 0 else y], [2.0, 3.0])
    >>> outs, backward([1.0])
    ([np.float64(6.0)], [np.float64(3.0), np.float64(2.0)])
    """
    tape = Tape(current_interpreter())
    inputs, outs = tape.run(f, leaves)
    owned = [tape.owns(o) for o in outs]

    def backward(cts: Sequence[Any]) -> list[Any]:
        seeds: dict[int, Any] = {}
        for o, own, c in zip(outs, owned, cts, strict=True):
            if own and c is not None:
                prev = seeds.get(o.node)
                seeds[o.node] = c if prev is None else add(prev, c)
        got = tape.backward(seeds)
        return [_zeros_like(x) if got.get(t.node) is None else got[t.node]
                for t, x in zip(inputs, leaves, strict=True)]

    return [o.value if own else o for o, own in zip(outs, owned, strict=True)], backward


def specialize(f: Callable[..., Any], args: tuple) -> Callable[..., Any]:
    """``f`` as it runs on ``args``: traced on their concrete values (so Python control flow on
    them is resolved), read back as an IR, and returned as a function of arguments like
    ``args`` that runs that IR (under any interpreter, so every IR transform applies).

    >>> import jitgrad as jg
    >>> f = specialize(lambda x: x * x if x > 0 else -x, (3.0,))
    >>> print(jg.make_ir(f)(-1.0))  # the branch taken at 3.0
    { lambda a:f64[] .
      let b:f64[] = mul a a
      in ( b ) }
    """
    leaves, in_tree = flatten_args(args, "specialize")
    flat_f, store = flatten_fun_nokwargs(f, in_tree)
    tape = Tape(current_interpreter(), reverse=False)
    inputs, outs = tape.run(flat_f, leaves)
    ir, out_tree = _read_back(tape, inputs, outs), store.val

    def specialized(*a: Any) -> Any:
        return tree_unflatten(out_tree, eval_ir(ir, *tree_flatten(a)[0]))

    return specialized


def _read_back(tape: Tape, inputs: list[TapeTracer], outs: list[Any]) -> IR:
    """The tape's equations as an IR from its inputs to ``outs`` (values that are not the
    tape's are constants of the program)."""

    def replay(*xs: Any) -> list[Any]:
        env = {t.node: x for t, x in zip(inputs, xs, strict=True)}
        for prim, params, in_nodes, out_nodes, (ins, _), _ in tape.entries:
            vals = [x if n is None else env[n] for x, n in zip(ins, in_nodes, strict=True)]
            res = prim.bind(*vals, **params)
            for n, r in zip(out_nodes, res if prim.multiple_results else [res], strict=True):
                if n is not None:
                    env[n] = r
        return [env[o.node] if tape.owns(o) else o for o in outs]

    return trace(replay, [t.aval for t in inputs])
