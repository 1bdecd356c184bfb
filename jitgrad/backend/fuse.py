"""Partition an IR into steps: fused loop kernels (elementwise work with broadcasts,
transposes and slices folded into index arithmetic, plus reductions of it), matmuls (with a
bias + tanh epilogue), zero-copy views, and a few host operations run by numpy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jitgrad.core import (
    IR,
    Affine,
    Atom,
    Elementwise,
    Eqn,
    Host,
    Index,
    Lit,
    Lowering,
    Matmul,
    Reduce,
    Var,
    View,
    config,
)

# ---------------------------------------------------------------------------------------------
# Plan data structures

@dataclass(eq=False)
class SNode:
    """One scalar value in a loop kernel's body."""

    kind: str  # "load" | "lit" | "op"
    dtype: np.dtype
    axes: frozenset[int]  # loop axes the value depends on (for hoisting out of inner loops)
    prim: Any = None
    params: dict = field(default_factory=dict)
    args: list[int] = field(default_factory=list)
    input: int = -1  # kernel input index, for loads
    index: tuple[Affine, ...] = ()
    value: Any = None  # for literals


@dataclass(eq=False)
class KernelOut:
    var: Var
    node: int
    reduce: str | None = None  # "sum" | "max" | "min" | "prod"
    axes: tuple[int, ...] = ()  # reduced loop axes


@dataclass(eq=False)
class LoopKernel:
    shape: tuple[int, ...]
    inputs: list[Atom] = field(default_factory=list)
    nodes: list[SNode] = field(default_factory=list)
    outputs: list[KernelOut] = field(default_factory=list)
    eqns: list[Eqn] = field(default_factory=list)  # the IR equations it computes (for errors)
    # Per argument (inputs, then outputs): the shape it is viewed as for the kernel after
    # loop axes were collapsed, or None when it is passed as it is.
    arg_shapes: list[tuple[int, ...] | None] = field(default_factory=list)


@dataclass(eq=False)
class MatmulStep:
    a: Var | Atom
    b: Var | Atom
    out: Var
    transpose_a: bool
    transpose_b: bool
    a_batch: tuple[int, ...] | None  # broadcast batch shape for a (None: as is)
    b_batch: tuple[int, ...] | None
    bias: Atom | None = None
    eqns: list[Eqn] = field(default_factory=list)


@dataclass(eq=False)
class ViewStep:
    """A zero-copy numpy view: general reshape (copies only for non-contiguous inputs)."""

    eqn: Eqn


@dataclass(eq=False)
class HostStep:
    """An equation executed by its numpy reference (gather, scatter-add, concatenate, ...)."""

    eqn: Eqn


Step = LoopKernel | MatmulStep | ViewStep | HostStep

# ---------------------------------------------------------------------------------------------
# Classification: each equation's lowering, as its primitive declares it


def lowering_of(eqn: Eqn) -> Lowering:
    """How ``eqn`` executes: its primitive's lowering, resolved for these shapes (an ``Index``
    that does not apply falls back to its ``otherwise``) and for ``precise_math`` (an inexact
    elementwise function runs as numpy's own, for bit-identical results)."""
    low = eqn.prim.lowering
    if isinstance(low, Index) and low.applies is not None and not low.applies(
            eqn.inputs[0].aval, eqn.outputs[0].aval, **eqn.params):
        low = low.otherwise
    if isinstance(low, Elementwise) and low.inexact and config.precise_math:
        return Host()
    return low


def _fusible(eqn: Eqn) -> bool:
    return isinstance(lowering_of(eqn), Elementwise | Index)


def _cheap(eqn: Eqn) -> bool:
    """Cheaper to recompute in every kernel that reads it than to store once."""
    low = lowering_of(eqn)
    return isinstance(low, Index) or (isinstance(low, Elementwise) and low.cheap)


# ---------------------------------------------------------------------------------------------
# Partitioning


class _Graph:
    def __init__(self, ir: IR):
        self.ir = ir
        self.producer: dict[Var, Eqn] = {}
        self.users: dict[Var, list[Eqn]] = {}
        for eqn in ir.eqns:
            for v in eqn.outputs:
                self.producer[v] = eqn
            for x in eqn.inputs:
                if isinstance(x, Var):
                    self.users.setdefault(x, []).append(eqn)
        self.outputs = {x for x in ir.outvars if isinstance(x, Var)}
        self.absorbed: set[Eqn] = set()  # epilogue equations computed by matmul steps

    def fusible(self, v: Var) -> bool:
        eqn = self.producer.get(v)
        return eqn is not None and _fusible(eqn) and eqn not in self.absorbed


def _expands(eqn: Eqn) -> bool:
    """An index map that repeats its operand (a broadcast: elements read more than once)."""
    return isinstance(lowering_of(eqn), Index) and \
        eqn.outputs[0].aval.size > eqn.inputs[0].aval.size


def _initial_materialized(g: _Graph) -> set[Var]:
    m: set[Var] = set()
    for eqn in g.ir.eqns:
        for v in eqn.outputs:
            if not g.fusible(v):
                m.add(v)
                continue
            if v in g.outputs:
                m.add(v)
            for user in g.users.get(v, []):
                if isinstance(lowering_of(user), Matmul | Host | View):
                    m.add(v)
                elif (_expands(user) and v.aval.ndim > 0 and
                      isinstance(lowering_of(g.producer[v]), Elementwise)):
                    m.add(v)  # computed values are not recomputed per broadcast copy
    return m


def _identity(shape: tuple[int, ...]) -> tuple[Affine, ...]:
    return tuple((k, 1, 0) for k in range(len(shape)))


class _KernelBuilder:
    """Builds the scalar body of one loop kernel by walking cones of fusible equations."""

    def __init__(self, g: _Graph, materialized: set[Var], shape: tuple[int, ...]):
        self.g = g
        self.m = materialized
        self.k = LoopKernel(shape)
        self.memo: dict[tuple, int] = {}
        self.inputs: dict[int, int] = {}  # id(atom) -> input index
        self.local: dict[Var, int] = {}  # roots computed in this kernel (identity index)
        self.eqns: dict[Eqn, None] = {}

    def _add(self, node: SNode, key: tuple) -> int:
        self.k.nodes.append(node)
        self.memo[key] = len(self.k.nodes) - 1
        return self.memo[key]

    def build(self, x: Atom, index: tuple[Affine, ...], root: bool = False) -> int:
        """The node computing ``x`` at ``index``; ``root`` computes a materialised var here
        instead of loading it."""
        if isinstance(x, Lit):
            key = ("lit", x.val.item(), x.aval.dtype.str)
            if key in self.memo:
                return self.memo[key]
            return self._add(SNode("lit", x.aval.dtype, frozenset(), value=x.val), key)
        key = (x.id, index)
        if key in self.memo:
            return self.memo[key]
        if x in self.local and index == _identity(self.k.shape):
            return self.local[x]
        eqn = self.g.producer.get(x)
        low = lowering_of(eqn) if eqn is not None else None
        if (x in self.m and not root) or not isinstance(low, Elementwise | Index):
            return self._load(x, index, key)
        self.eqns[eqn] = None
        if isinstance(low, Elementwise):
            args = [self.build(a, index if a.aval.shape == x.aval.shape else ())
                    for a in eqn.inputs]
            axes = frozenset().union(*(self.k.nodes[a].axes for a in args))
            return self._add(SNode("op", x.aval.dtype, axes, prim=eqn.prim,
                                   params=eqn.params, args=args), key)
        (src,) = eqn.inputs
        return self.build(src, low.index_map(index, src.aval, x.aval, **eqn.params))

    def _load(self, x: Atom, index: tuple[Affine, ...], key: tuple) -> int:
        slot = self.inputs.get(id(x))
        if slot is None:
            slot = len(self.k.inputs)
            self.inputs[id(x)] = slot
            self.k.inputs.append(x)
        axes = frozenset(a for a, c, _ in index if a is not None and c != 0)
        return self._add(SNode("load", x.aval.dtype, axes, input=slot, index=index), key)


@dataclass(eq=False)
class _Root:
    var: Var
    shape: tuple[int, ...]  # iteration space
    reduce: str | None
    axes: tuple[int, ...]
    operand: Atom  # what is computed (the var itself, or the reduce's operand)
    eqn: Eqn


def _roots(g: _Graph, m: set[Var]) -> list[_Root]:
    roots = []
    for eqn in g.ir.eqns:
        low = lowering_of(eqn)
        v = eqn.outputs[0] if eqn.outputs else None
        if eqn in g.absorbed:
            continue
        if isinstance(low, Elementwise | Index) and v in m:
            roots.append(_Root(v, v.aval.shape, None, (), v, eqn))
        elif isinstance(low, Reduce):
            src = eqn.inputs[0]
            roots.append(_Root(v, src.aval.shape, low.monoid, eqn.params["axes"], src, eqn))
    return roots


def _cone_eqns(g: _Graph, m: set[Var], x: Atom, acc: dict[Eqn, None]) -> None:
    if not isinstance(x, Var):
        return
    eqn = g.producer.get(x)
    if eqn is None or not g.fusible(x) or eqn in acc:
        return
    acc[eqn] = None
    for a in eqn.inputs:
        if isinstance(a, Var) and a not in m:
            _cone_eqns(g, m, a, acc)


def partition(ir: IR) -> list[Step]:
    """Split ``ir`` into steps in an executable order."""
    g = _Graph(ir)
    matmuls = {}
    for eqn in ir.eqns:
        if isinstance(lowering_of(eqn), Matmul):
            matmuls[eqn], eaten = _matmul_step(g, eqn)
            g.absorbed |= eaten
    m = _initial_materialized(g) | {s.out for s in matmuls.values()}
    while True:
        groups = _group_roots(g, m, _roots(g, m), matmuls)
        # An expensive value needed by two kernels is computed once and stored.
        owners: dict[Eqn, int] = {}
        shared: set[Var] = set()
        for gi, group in enumerate(groups):
            cone: dict[Eqn, None] = {}
            for r in group:
                if r.reduce is None:
                    _cone_eqns_from_root(g, m, r, cone)
                else:
                    _cone_eqns(g, m, r.operand, cone)
            for eqn in cone:
                if eqn in owners and owners[eqn] != gi and not _cheap(eqn):
                    shared.add(eqn.outputs[0])
                owners.setdefault(eqn, gi)
        if not shared - m:
            break
        m |= shared
    return _schedule(g, m, groups, matmuls)


def _cone_eqns_from_root(g: _Graph, m: set[Var], r: _Root, acc: dict[Eqn, None]) -> None:
    eqn = g.producer[r.var]
    acc[eqn] = None
    for a in eqn.inputs:
        if isinstance(a, Var) and a not in m:
            _cone_eqns(g, m, a, acc)


def _reads(g: _Graph, m: set[Var], r: _Root) -> dict[Var, bool]:
    """The stored values a root's cone reads, each with whether every read is at the root's
    own loop position (identity index over the same iteration space)."""
    out: dict[Var, bool] = {}
    seen: set[tuple[int, bool]] = set()

    def walk(x: Atom, same: bool) -> None:
        if not isinstance(x, Var) or (x.id, same) in seen:
            return
        seen.add((x.id, same))
        eqn = g.producer.get(x)
        if x in m or eqn is None or not g.fusible(x):
            out[x] = out.get(x, True) and same and x.aval.shape == r.shape
            return
        if isinstance(lowering_of(eqn), Elementwise):
            for a in eqn.inputs:
                walk(a, same and a.aval.shape == x.aval.shape)
        else:
            walk(eqn.inputs[0], False)

    if r.reduce is None:
        eqn = g.producer[r.var]
        for a in eqn.inputs:
            walk(a, isinstance(lowering_of(eqn), Elementwise) and
                 a.aval.shape == r.var.aval.shape)
    else:
        walk(r.operand, True)
    return out


def _group_roots(g: _Graph, m: set[Var], roots: list[_Root],
                 matmuls: dict[Eqn, MatmulStep]) -> list[list[_Root]]:
    """Merge roots with the same iteration space into one kernel unless that would make the
    kernel depend on itself through another step. Reading another root of the kernel at the
    same loop position is fine (it is computed earlier in the same loop body); at any other
    position it is not (it may not have been computed yet)."""
    groups: list[list[_Root]] = []
    group_of: dict[Var, int] = {}
    edges: dict[Any, set] = {}
    step_of = {s.out: ("e", id(e)) for e, s in matmuls.items()}
    step_inputs_of = {("e", id(e)): [x for x in (s.a, s.b, s.bias) if isinstance(x, Var)]
                      for e, s in matmuls.items()}

    def node_of(v: Var) -> Any:
        if v in group_of:
            return ("g", group_of[v])
        if v in step_of:
            return step_of[v]
        eqn = g.producer.get(v)
        if eqn is None:
            return None
        node = ("e", id(eqn))
        step_inputs_of.setdefault(node, [x for x in eqn.inputs if isinstance(x, Var)])
        return node

    def successors(node: Any) -> set:
        if node[0] == "g":
            return edges.get(node, set())
        return {n for n in map(node_of, step_inputs_of.get(node, ())) if n is not None}

    def reaches(start: Any, goal: Any) -> bool:
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node in seen:
                continue
            seen.add(node)
            stack.extend(successors(node))
        return False

    for r in roots:
        reads = _reads(g, m, r)
        target, deps = None, set()
        for gi, group in enumerate(groups):
            if group[0].shape != r.shape:
                continue
            mine = {x.var for x in group}
            if any(v in mine and not same for v, same in reads.items()):
                continue
            deps = {node_of(v) for v in reads if v not in mine} - {None}
            if not any(reaches(d, ("g", gi)) for d in deps):
                target = gi
                break
        if target is None:
            groups.append([])
            target = len(groups) - 1
            deps = {node_of(v) for v in reads} - {None}
        groups[target].append(r)
        group_of[r.var] = target
        edges.setdefault(("g", target), set()).update(deps - {("g", target)})
    return groups


def _kernel(g: _Graph, m: set[Var], group: list[_Root]) -> LoopKernel:
    shape = group[0].shape
    b = _KernelBuilder(g, m, shape)
    ident = _identity(shape)
    for r in group:
        if r.reduce is None:
            node = b.build(r.var, ident, root=True)
            b.local[r.var] = node
            b.k.outputs.append(KernelOut(r.var, node))
        else:
            node = b.build(r.operand, ident)
            b.eqns[r.eqn] = None
            # Reducing over no axes is a copy.
            b.k.outputs.append(KernelOut(r.var, node, r.reduce if r.axes else None, r.axes))
    b.k.eqns = list(b.eqns)
    return _collapse(b.k)


def _collapse(k: LoopKernel) -> LoopKernel:
    """Merge adjacent loop axes that every array walks together, contiguously and in full
    (a (1000, 3) elementwise loop becomes one loop of 3000, which vectorises)."""
    in_shapes = [list(x.aval.shape) for x in k.inputs]
    out_shapes = [list(o.var.aval.shape) for o in k.outputs]
    index_of: dict[int, tuple[Affine, ...]] = {}
    for n in k.nodes:
        if n.kind == "load" and index_of.setdefault(n.input, n.index) != n.index:
            index_of[n.input] = ()  # read at several indices: never reshaped
    shape = list(k.shape)
    for d in range(len(shape) - 2, -1, -1):
        merge_at: dict[int, int] = {}  # input -> array axis where loop axes d, d+1 sit
        ok = True
        for n in k.nodes:
            if n.kind != "load":
                continue
            uses = [p for p, (a, c, _) in enumerate(n.index) if a in (d, d + 1) and c != 0]
            if not uses:
                continue
            p = uses[0]
            ok = index_of[n.input] == n.index and uses == [p, p + 1] and \
                n.index[p] == (d, 1, 0) and n.index[p + 1] == (d + 1, 1, 0) and \
                in_shapes[n.input][p:p + 2] == shape[d:d + 2]
            if not ok:
                break
            merge_at[n.input] = p
        if not ok or any(o.reduce is not None and ((d in o.axes) != (d + 1 in o.axes))
                         for o in k.outputs):
            continue

        def axis_map(a: int | None, d: int = d) -> int | None:
            return a if a is None or a <= d else a - 1

        for n in k.nodes:
            if n.kind == "load":
                index = n.index
                if n.input in merge_at:
                    p = merge_at[n.input]
                    index = index[:p] + ((d, 1, 0),) + index[p + 2:]
                n.index = tuple((axis_map(a), c, o) for a, c, o in index)
            n.axes = frozenset(axis_map(a) for a in n.axes)
        for j, p in merge_at.items():
            in_shapes[j][p:p + 2] = [in_shapes[j][p] * in_shapes[j][p + 1]]
            index_of[j] = next(n.index for n in k.nodes if n.kind == "load" and n.input == j)
        for j, o in enumerate(k.outputs):
            if o.reduce is None or d not in o.axes:  # both loop axes are output axes
                pos = d if o.reduce is None else [a for a in range(len(shape))
                                                   if a not in o.axes].index(d)
                out_shapes[j][pos:pos + 2] = [out_shapes[j][pos] * out_shapes[j][pos + 1]]
            o.axes = tuple(sorted({axis_map(a) for a in o.axes}))
        shape[d:d + 2] = [shape[d] * shape[d + 1]]
    k.shape = tuple(shape)
    k.arg_shapes = [None if tuple(s) == x.aval.shape else tuple(s)
                    for s, x in zip(in_shapes, k.inputs, strict=True)] + \
        [None if tuple(s) == o.var.aval.shape else tuple(s)
         for s, o in zip(out_shapes, k.outputs, strict=True)]
    return k


def _stretched_from(g: _Graph, x: Atom) -> tuple[Atom, tuple[Affine, ...]] | None:
    """If ``x`` is an index map of another value (and not a program output), that value and
    where ``x``'s element at the identity index reads it."""
    eqn = g.producer.get(x) if isinstance(x, Var) else None
    if eqn is None or x in g.outputs:
        return None
    low = lowering_of(eqn)
    if not isinstance(low, Index):
        return None
    src = eqn.inputs[0]
    return src, low.index_map(_identity(x.aval.shape), src.aval, x.aval, **eqn.params)


def _matmul_step(g: _Graph, eqn: Eqn) -> tuple[MatmulStep, set[Eqn]]:
    a, b = eqn.inputs
    batches = []
    operands = []
    for x in (a, b):
        # Operands broadcast along batch axes only are read with stride 0 by the kernel's
        # batch loop (numpy's broadcast_to of the source reproduces them).
        found = _stretched_from(g, x)
        nd = x.aval.ndim
        if found is not None and found[0].aval.ndim == nd and \
                found[0].aval.shape[-2:] == x.aval.shape[-2:] and \
                all(t == (k, 1, 0) or (t == (None, 0, 0) and found[0].aval.shape[k] == 1)
                    for k, t in enumerate(found[1])):
            operands.append(found[0])
            batches.append(x.aval.shape)
        else:
            operands.append(x)
            batches.append(None)
    step = MatmulStep(operands[0], operands[1], eqn.outputs[0], eqn.params["transpose_a"],
                      eqn.params["transpose_b"], batches[0], batches[1], eqns=[eqn])
    absorbed: set[Eqn] = set()
    # Epilogue: out = matmul + bias row (a vector read along the columns), when nothing else
    # reads the product. The primitive that adds it is the one the Matmul lowering names.
    c = eqn.outputs[0]
    users = g.users.get(c, [])
    epilogue = eqn.prim.lowering.bias_add
    if c.aval.ndim == 2 and len(users) == 1 and users[0].prim is epilogue and \
            c not in g.outputs and users[0].outputs[0].aval == c.aval:
        add = users[0]
        other = add.inputs[1] if add.inputs[0] is c else add.inputs[0]
        found = _stretched_from(g, other)
        if found is not None and isinstance(found[0], Var) and \
                found[0].aval.shape == (c.aval.shape[1],) and found[1] == ((1, 1, 0),):
            step.bias = found[0]
            step.out = add.outputs[0]
            absorbed = {add}
            # NB: an activation stays in the consuming loop kernel, which computes it with
            # the vectorised math functions (the matmul kernel's own tanh is libm's).
    step.eqns += list(absorbed)
    return step, absorbed


def _schedule(g: _Graph, m: set[Var], groups: list[list[_Root]],
              matmuls: dict[Eqn, MatmulStep]) -> list[Step]:
    """Build the steps and order them so every step runs after what it reads."""
    steps: list[Step] = []
    produces: dict[Var, int] = {}
    for eqn in g.ir.eqns:
        if eqn in g.absorbed:
            continue
        low = lowering_of(eqn)
        if isinstance(low, Matmul):
            steps.append(matmuls[eqn])
        elif isinstance(low, View):
            steps.append(ViewStep(eqn))
        elif isinstance(low, Host):
            steps.append(HostStep(eqn))
    for grp in groups:
        steps.append(_kernel(g, m, grp))
    for i, s in enumerate(steps):
        for v in _step_outputs(s):
            produces[v] = i
    order = _toposort(steps, produces)
    return [steps[i] for i in order]


def step_inputs(s: Step) -> list[Atom]:
    if isinstance(s, LoopKernel):
        return list(s.inputs)
    if isinstance(s, MatmulStep):
        return [x for x in (s.a, s.b, s.bias) if x is not None]
    return list(s.eqn.inputs)


def _step_outputs(s: Step) -> Iterable[Var]:
    if isinstance(s, LoopKernel):
        return [o.var for o in s.outputs]
    if isinstance(s, MatmulStep):
        return [s.out]
    return s.eqn.outputs


def _toposort(steps: list[Step], produces: dict[Var, int]) -> list[int]:
    order: list[int] = []
    state: dict[int, int] = {}

    def visit(i: int) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            raise AssertionError("fusion produced a cycle between kernels (jitgrad bug)")
        state[i] = 1
        for x in step_inputs(steps[i]):
            if isinstance(x, Var) and x in produces and produces[x] != i:
                visit(produces[x])
        state[i] = 2
        order.append(i)

    for i in range(len(steps)):
        visit(i)
    return order
