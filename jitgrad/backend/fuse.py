"""Partition an IR into steps: fused loop kernels (elementwise work with broadcasts,
transposes and slices folded into index arithmetic, plus reductions of it), matmuls (with a
bias-row epilogue), zero-copy views, and a few host operations run by numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
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
    var: Var | None = None  # the IR variable whose element at the loop position it holds


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
    # Per input: the index the kernel reads it at along each axis that it reads at one fixed
    # index (None for the other axes), or None if there is no such axis. The caller passes
    # that numpy view, so the kernel's source does not depend on the position (each step of
    # an unrolled loop reading its own x[t] compiles to the same kernel).
    in_views: list[tuple[int | None, ...] | None] = field(default_factory=list)
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
    # The update epilogue (see Matmul): out = c0 + alpha * (op(a) @ op(b) + bias), alpha =
    # scale (a 0-d atom, or 1 when None), negated when negate.
    c0: Var | None = None
    scale: Atom | None = None
    negate: bool = False
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


def _cheap(low: Lowering) -> bool:
    """Cheaper to recompute in every kernel that reads it than to store once."""
    return isinstance(low, Index) or (isinstance(low, Elementwise) and low.cheap)


# ---------------------------------------------------------------------------------------------
# Partitioning
#
# Planning is linear in the number of equations (up to bitset words): one pass in program order
# decides what is stored and which loop kernel computes each stored value, and reachability
# between kernels is kept as bitsets of kernel indices instead of being searched for.

# A kernel recomputes the cheap values another kernel computes (instead of loading them) only
# while that takes at most RECOMPUTE_EQNS equations reading at most RECOMPUTE_READS arrays of
# its own size: a longer recomputation is stored once (so an unrolled recurrence, an RNN's cell
# state, is not recomputed from the first step in every step).
RECOMPUTE_EQNS = 8
RECOMPUTE_READS = 2
# Bounds on planning work and kernel bodies: a value read by several equations is stored once
# recomputing it would take more than MAX_SHARED_CONE equations, and no value is computed from
# more than MAX_CONE fusible equations in one kernel.
MAX_SHARED_CONE = 32
MAX_CONE = 128
# A root is tried against at most MAX_TRIES kernels; joining one that other steps already read
# updates what runs after it, through at most MAX_UPDATES steps.
MAX_TRIES = 16
MAX_UPDATES = 64


class _Graph:
    def __init__(self, ir: IR):
        self.ir = ir
        self.producer: dict[Var, Eqn] = {}
        self.users: dict[Var, list[Eqn]] = {}
        self.low: dict[Eqn, Lowering] = {}  # each equation's lowering, resolved once
        self.pos: dict[Eqn, int] = {}
        for i, eqn in enumerate(ir.eqns):
            self.low[eqn] = lowering_of(eqn)
            self.pos[eqn] = i
            for v in eqn.outputs:
                self.producer[v] = eqn
            for x in eqn.inputs:
                if isinstance(x, Var):
                    self.users.setdefault(x, []).append(eqn)
        self.outputs = {x for x in ir.outvars if isinstance(x, Var)}
        self.absorbed: set[Eqn] = set()  # epilogue equations computed by matmul steps

    def fusible(self, v: Var) -> bool:
        eqn = self.producer.get(v)
        return eqn is not None and isinstance(self.low[eqn], Elementwise | Index) and \
            eqn not in self.absorbed

    def expands(self, eqn: Eqn) -> bool:
        """An index map that repeats its operand (a broadcast: elements read more than once)."""
        return isinstance(self.low[eqn], Index) and \
            eqn.outputs[0].aval.size > eqn.inputs[0].aval.size


def _materialized(g: _Graph, matmuls: dict[Eqn, MatmulStep]) -> set[Var]:
    """The values stored before fusion decides anything: program outputs, results of non-loop
    steps, what those steps read (the operands a matmul step actually reads, after folding
    broadcasts and its bias), and computed values read through a broadcast."""
    m: set[Var] = set(g.outputs)
    for eqn in g.ir.eqns:
        low = g.low[eqn]
        if eqn in g.absorbed:
            continue
        if isinstance(low, Matmul):
            s = matmuls[eqn]
            m.add(s.out)
            m.update(x for x in step_inputs(s) if isinstance(x, Var))
        elif not isinstance(low, Elementwise | Index):
            m.update(eqn.outputs)
            if isinstance(low, Host | View):
                m.update(x for x in eqn.inputs if isinstance(x, Var))
        elif g.expands(eqn):
            (src,) = eqn.inputs
            if isinstance(src, Var) and src.aval.ndim > 0 and g.fusible(src) and \
                    isinstance(g.low[g.producer[src]], Elementwise):
                m.add(src)  # computed values are not recomputed per broadcast copy
    return m


def _identity(shape: tuple[int, ...]) -> tuple[Affine, ...]:
    return tuple((k, 1, 0) for k in range(len(shape)))


@dataclass(eq=False)
class _Root:
    var: Var
    shape: tuple[int, ...]  # iteration space
    reduce: str | None
    axes: tuple[int, ...]
    operand: Atom  # what is computed (the var itself, or the reduce's operand)
    eqn: Eqn


def _value_root(v: Var, eqn: Eqn) -> _Root:
    return _Root(v, v.aval.shape, None, (), v, eqn)


@dataclass(eq=False)
class _Group:
    """The roots of one loop kernel."""

    shape: tuple[int, ...]
    roots: list[_Root]
    node: int
    # The stored values this kernel loads: exactly those the planner made it read (and so
    # ordered it after). A value stored only after a root of this kernel was planned
    # computing it goes on being computed here, unless ``_Planner._share`` made this kernel
    # read it instead.
    loads: set[Var] = field(default_factory=set)


class _Planner:
    """Assigns every root (a stored fusible value or a reduction) to a loop kernel, in program
    order (see ``_choose``); an expensive value that a second kernel would recompute, or a long
    run of cheap ones, is stored instead, by the kernel that computes it first (``_share``).

    Cycles between steps are ruled out with bitsets instead of graph searches: every step (a
    kernel or any other step) knows the set of kernels it transitively runs after, kept exact
    as kernels grow (``_stale``)."""

    def __init__(self, g: _Graph, m: set[Var], matmuls: dict[Eqn, MatmulStep]):
        self.g, self.m = g, m
        self.groups: list[_Group] = []
        # The step graph: per node (group or other step), the bitset of groups it runs after,
        # its own group bit (0 for other steps) and the nodes reading it.
        self.anc: list[int] = []
        self.bit: list[int] = []
        self.readers: list[set[int]] = []
        self.node_of: dict[Var, int] = {}  # stored value -> the node computing it
        self.by_shape: dict[tuple[int, ...], int] = {}  # iteration space -> bitset of groups
        # stored value, or (program input, view) kernel argument -> groups reading it
        self.read_by: dict[Var | tuple, int] = {}
        self.reduced: set[Var] = set()  # reduction roots: never read in their own kernel
        self.owner: dict[Eqn, int] = {}  # fusible equation -> the first group computing it
        self.ident: dict[Eqn, bool] = {}  # ...whether only at that group's own loop position
        self.step_at = {g.producer[s.out]: s for s in matmuls.values()}
        self.size: dict[Var, int] = {}  # fusible value -> bound on equations computing it

    def run(self) -> list[_Group]:
        g = self.g
        for eqn in g.ir.eqns:
            low = g.low[eqn]
            if eqn in self.step_at:
                s = self.step_at[eqn]
                self._step(step_inputs(s), [s.out])
            elif eqn in g.absorbed or isinstance(low, Matmul):
                continue
            elif isinstance(low, View | Host):
                self._step(eqn.inputs, eqn.outputs)
            elif isinstance(low, Reduce):
                src = eqn.inputs[0]
                self._place(_Root(eqn.outputs[0], src.aval.shape, low.monoid,
                                  eqn.params["axes"], src, eqn))
            elif isinstance(low, Elementwise | Index):
                v = eqn.outputs[0]
                if v in self.m or self._too_long(v):
                    self.m.add(v)
                    self._place(_value_root(v, eqn))
        return self.groups

    def _too_long(self, v: Var) -> bool:
        """Whether computing ``v`` where it is read would take too many equations (given what
        is stored by now). A bound (the equations counted once per path) is kept per value;
        only when it exceeds the limit are the distinct equations counted, and recorded."""
        g, m = self.g, self.m
        limit = MAX_SHARED_CONE if len(set(map(id, g.users.get(v, ())))) > 1 else MAX_CONE
        eqn = g.producer[v]
        bound = 1 + sum(self.size.get(x, 0) for x in eqn.inputs
                        if isinstance(x, Var) and x not in m)
        if bound > limit:
            seen, stack = {v}, list(eqn.inputs)
            while stack:
                x = stack.pop()
                if isinstance(x, Var) and x not in seen and x not in m and g.fusible(x):
                    seen.add(x)
                    if len(seen) > limit:
                        return True
                    stack.extend(g.producer[x].inputs)
            bound = len(seen)
        self.size[v] = bound
        return False

    def _node(self, anc: int, bit: int) -> int:
        self.anc.append(anc)
        self.bit.append(bit)
        self.readers.append(set())
        return len(self.anc) - 1

    def _read(self, sources: Iterable[int], node: int) -> None:
        for src in sources:
            if src != node:
                self.readers[src].add(node)

    def _step(self, inputs: Iterable[Atom | None], outputs: list[Var]) -> None:
        srcs = {self.node_of[x] for x in inputs if isinstance(x, Var) and x in self.node_of}
        anc = 0
        for src in srcs:
            anc |= self.anc[src] | self.bit[src]
        node = self._node(anc, 0)
        self._read(srcs, node)
        for v in outputs:
            self.node_of[v] = node

    def _walk(self, r: _Root) -> tuple[dict[Var, bool], dict[Var, bool], set[tuple]]:
        """The stored values ``r`` reads and the fusible values it computes on the way, each
        with whether only at the root's own loop position (identity index over the same
        iteration space); and the program inputs it reads, as (input, view) kernel arguments
        (see ``LoopKernel.in_views``)."""
        g, m = self.g, self.m
        reads: dict[Var, bool] = {}
        cone: dict[Var, bool] = {}
        args: set[tuple] = set()
        seen: set[tuple] = set()
        stack = self._start(r)
        while stack:
            item = stack.pop()
            x, index, same = item
            if not isinstance(x, Var) or item in seen:
                continue
            seen.add(item)
            here = same and x.aval.shape == r.shape
            if x in m or not g.fusible(x):
                reads[x] = reads.get(x, True) and here
                if x not in g.producer:
                    args.add((x, _view(x, index)[0]))
                continue
            cone[x] = cone.get(x, True) and here
            eqn = g.producer[x]
            low = g.low[eqn]
            if isinstance(low, Elementwise):
                stack.extend((a, index, same) if a.aval.shape == x.aval.shape else (a, (), False)
                             for a in eqn.inputs)
            else:
                src = eqn.inputs[0]
                stack.append((src, low.index_map(index, src.aval, x.aval, **eqn.params), False))
        return reads, cone, args

    def _start(self, r: _Root) -> list[tuple[Atom, tuple[Affine, ...], bool]]:
        ident = _identity(r.shape)
        if r.reduce is not None:
            return [(r.operand, ident, True)]
        low = self.g.low[r.eqn]
        if isinstance(low, Elementwise):
            return [(a, ident, True) if a.aval.shape == r.shape else (a, (), False)
                    for a in r.eqn.inputs]
        src = r.eqn.inputs[0]
        return [(src, low.index_map(ident, src.aval, r.var.aval, **r.eqn.params), False)]

    def _to_store(self, r: _Root, gi: int | None, reads: dict[Var, bool],
                  cone: dict[Var, bool]) -> list[Var]:
        """What ``r`` in group ``gi`` would recompute of other groups' work and should load
        instead: their expensive values; and where it enters a group's cheap work that is too
        long to recompute (judged group by group, so that each step of an unrolled loop decides
        alike)."""
        g = self.g
        theirs: dict[Var, int] = {}
        for x in cone:
            owner = self.owner.get(g.producer[x], gi)
            if owner != gi:
                theirs[x] = owner
        costly = [x for x in theirs if not _cheap(g.low[g.producer[x]])]
        if costly or not theirs:
            return costly
        size = math.prod(r.shape)
        work: dict[int, list[Var]] = {}
        for x, owner in theirs.items():
            work.setdefault(owner, []).append(x)
        too_long = set()
        for owner, xs in work.items():
            big = {u for x in xs for u in g.producer[x].inputs
                   if isinstance(u, Var) and u in reads and u.aval.size == size}
            if len(xs) > RECOMPUTE_EQNS or len(big) > RECOMPUTE_READS:
                too_long.add(owner)
        entries, seen = [], set()
        stack = [x for x, _, _ in self._start(r)]
        while too_long and stack:
            x = stack.pop()
            if not isinstance(x, Var) or x in seen or x not in cone:
                continue
            seen.add(x)
            if theirs.get(x) in too_long:
                entries.append(x)
            else:
                stack.extend(g.producer[x].inputs)
        return entries

    def _choose(self, r: _Root, reads: dict[Var, bool], cone: dict[Var, bool],
                args: set[tuple]) -> tuple[int | None, int, list[int]]:
        """The group ``r`` joins (None: a new one), the groups it must run after, and the
        steps whose ancestors joining adds to (see ``_stale``).

        That is the first group of its iteration space that it can join without a cycle
        between steps, among those related to it by data: computing what ``r`` reads or would
        recompute, or reading what it reads (a program input: as the same kernel argument).
        Reading another root of that group is fine at the same loop position (it is computed
        earlier in the same loop body), at any other position it is not (it may not have been
        computed yet). Merging unrelated work would tie together distant parts of the program
        (each step of an unrolled loop would join the first step's kernels, instead of
        getting its own, identical from step to step); except for a root that reads only
        program inputs, at its own loop position: it is the same wherever it is, and joins
        the first group it can."""
        bad = need = related = 0
        for v, same in reads.items():
            src = self.node_of.get(v)
            if src is None:  # a program input
                continue
            a, bit = self.anc[src], self.bit[src]
            bad, need = bad | a, need | a | bit
            related |= bit | self.read_by.get(v, 0)
            if bit and (not same or v in self.reduced):
                bad |= bit
        for arg in args:
            related |= self.read_by.get(arg, 0)
        for x in cone:
            owner = self.owner.get(self.g.producer[x])
            if owner is not None:
                related |= 1 << owner
        cands = self.by_shape.get(r.shape, 0) & ~bad
        if not need and all(reads.values()):
            cands &= -cands  # the first, related or not
        else:
            cands &= related
        for _ in range(MAX_TRIES):
            if not cands:
                break
            low = cands & -cands
            stale = self._stale(self.groups[low.bit_length() - 1].node, need & ~low)
            if stale is not None:
                return low.bit_length() - 1, need, stale
            cands ^= low
        return None, need, []

    def _stale(self, node: int, need: int) -> list[int] | None:
        """The steps whose ancestors lack some of ``need`` once ``node`` runs after it: the
        node and every step reading it, directly or not; None if there are too many."""
        todo, stale = [node], []
        seen = {node}
        while todo:
            n = todo.pop()
            if not need & ~self.anc[n]:
                continue  # nor any step after it (the sets are transitive)
            stale.append(n)
            if len(stale) > MAX_UPDATES:
                return None
            for nxt in self.readers[n]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return stale

    def _place(self, r: _Root, share: bool = True) -> None:
        while True:
            reads, cone, args = self._walk(r)
            gi, need, stale = self._choose(r, reads, cone, args)
            store = self._to_store(r, gi, reads, cone) if share else []
            if not store:
                break
            for x in store:
                self._share(self.g.producer[x])
        if gi is None:
            gi = len(self.groups)
            self.groups.append(_Group(r.shape, [], self._node(need, 1 << gi)))
            self.by_shape[r.shape] = self.by_shape.get(r.shape, 0) | (1 << gi)
        for n in stale:
            self.anc[n] |= need & ~(1 << gi)
        grp = self.groups[gi]
        grp.roots.append(r)
        self.node_of[r.var] = grp.node
        self._read({self.node_of[v] for v in reads if v in self.node_of}, grp.node)
        grp.loads.update(reads)
        for key in [v for v in reads if v in self.node_of] + list(args):
            self.read_by[key] = self.read_by.get(key, 0) | (1 << gi)
        if r.reduce is not None:
            self.reduced.add(r.var)
        for x, here in cone.items():
            e = self.g.producer[x]
            self.owner.setdefault(e, gi)
            self.ident[e] = self.ident.get(e, True) and here

    def _share(self, e: Eqn) -> None:
        """Store the value of equation ``e``, which group ``owner[e]`` computes. If
        that group computes it only at its own loop position, it also stores it (which adds it
        no reads). Otherwise the value becomes a root of its own, which the owner then loads
        if that keeps the steps acyclic, and else goes on computing itself."""
        v = e.outputs[0]
        gi = self.owner[e]
        grp = self.groups[gi]
        self.m.add(v)
        if self.ident[e] and v.aval.shape == grp.shape:
            grp.roots.append(_value_root(v, e))
            self.node_of[v] = grp.node
            return
        self._place(_value_root(v, e), share=False)
        src = self.node_of[v]
        before = self.anc[src] | self.bit[src]
        stale = None if before & (1 << gi) else self._stale(grp.node, before)
        if stale is None:
            return
        for n in stale:
            self.anc[n] |= before
        self._read([src], grp.node)
        grp.loads.add(v)


def partition(ir: IR) -> list[Step]:
    """Split ``ir`` into steps in an executable order."""
    g = _Graph(ir)
    matmuls = {}
    for eqn in ir.eqns:
        if isinstance(g.low[eqn], Matmul):
            matmuls[eqn], eaten = _matmul_step(g, eqn)
            g.absorbed |= eaten
    m = _materialized(g, matmuls)
    groups = _Planner(g, m, matmuls).run()
    return _schedule(g, groups, matmuls)


class _KernelBuilder:
    """Builds the scalar body of one loop kernel by walking cones of fusible equations."""

    def __init__(self, g: _Graph, grp: _Group):
        self.g = g
        self.loads = grp.loads
        # Its own values: read at its own loop position once computed, else recomputed (a
        # kernel never loads what it stores, which may not be computed yet at that position).
        self.own = {r.var for r in grp.roots}
        self.k = LoopKernel(grp.shape)
        self.ident = _identity(grp.shape)
        self.memo: dict[tuple, int] = {}
        self.inputs: dict[tuple, int] = {}  # (id(atom), view) -> input index
        self.local: dict[Var, int] = {}  # roots computed in this kernel (identity index)
        self.eqns: dict[Eqn, None] = {}

    def _add(self, node: SNode, key: tuple) -> int:
        self.k.nodes.append(node)
        self.memo[key] = len(self.k.nodes) - 1
        return self.memo[key]

    def build(self, x: Atom, index: tuple[Affine, ...]) -> int:
        """The node computing (or loading) ``x`` at ``index``."""
        if isinstance(x, Lit):
            key = ("lit", x.val.item(), x.aval.dtype.str)
            if key in self.memo:
                return self.memo[key]
            return self._add(SNode("lit", x.aval.dtype, frozenset(), value=x.val), key)
        key = (x.id, index)
        if key in self.memo:
            return self.memo[key]
        if x in self.local and index == self.ident:
            return self.local[x]
        eqn = self.g.producer.get(x)
        low = self.g.low[eqn] if eqn is not None else None
        if not self.g.fusible(x) or (x in self.loads and x not in self.own):
            return self._load(x, index, key)
        self.eqns[eqn] = None
        if isinstance(low, Elementwise):
            args = [self.build(a, index if a.aval.shape == x.aval.shape else ())
                    for a in eqn.inputs]
            axes = frozenset().union(*(self.k.nodes[a].axes for a in args))
            return self._add(SNode("op", x.aval.dtype, axes, prim=eqn.prim,
                                   params=eqn.params, args=args, var=x), key)
        (src,) = eqn.inputs
        node = self.build(src, low.index_map(index, src.aval, x.aval, **eqn.params))
        if index == self.ident and self.k.nodes[node].kind == "load":
            self.k.nodes[node].var = x  # what it is at the loop position (for show_kernels)
        return node

    def _load(self, x: Atom, index: tuple[Affine, ...], key: tuple) -> int:
        view, index = _view(x, index)
        slot = self.inputs.get((id(x), view))
        if slot is None:
            slot = len(self.k.inputs)
            self.inputs[(id(x), view)] = slot
            self.k.inputs.append(x)
            self.k.in_views.append(view)
        axes = frozenset(a for a, c, _ in index if a is not None and c != 0)
        return self._add(SNode("load", x.aval.dtype, axes, input=slot, index=index,
                               var=x if isinstance(x, Var) else None), key)


def _view(x: Atom, index: tuple[Affine, ...]
          ) -> tuple[tuple[int | None, ...] | None, tuple[Affine, ...]]:
    """The view of ``x`` a kernel reads at ``index`` (see ``LoopKernel.in_views``), and the
    index into that view."""
    fixed = [a is None or c == 0 for a, c, _ in index]
    if not any(f and n > 1 for f, n in zip(fixed, x.aval.shape, strict=True)):
        return None, index
    return (tuple(o if f else None for (_, _, o), f in zip(index, fixed, strict=True)),
            tuple(t for t, f in zip(index, fixed, strict=True) if not f))


def _kernel(g: _Graph, grp: _Group) -> LoopKernel:
    b = _KernelBuilder(g, grp)
    # In program order: a root stored for another kernel comes before the roots reading it.
    for r in sorted(grp.roots, key=lambda r: g.pos[r.eqn]):
        if r.reduce is None:
            node = b.build(r.var, b.ident)
            b.local[r.var] = node
            b.k.outputs.append(KernelOut(r.var, node))
        else:
            node = b.build(r.operand, b.ident)
            b.eqns[r.eqn] = None
            # Reducing over no axes is a copy.
            b.k.outputs.append(KernelOut(r.var, node, r.reduce if r.axes else None, r.axes))
    b.k.eqns = list(b.eqns)
    return _collapse(b.k)


def _collapse(k: LoopKernel) -> LoopKernel:
    """Merge adjacent loop axes that every array walks together, contiguously and in full
    (a (1000, 3) elementwise loop becomes one loop of 3000, which vectorises)."""
    in_shapes = [list(_view_shape(x.aval.shape, v)) for x, v in zip(k.inputs, k.in_views,
                                                                      strict=True)]
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
                if n.input in merge_at:  # its only index
                    index_of[n.input] = n.index
            n.axes = frozenset(axis_map(a) for a in n.axes)
        for j, p in merge_at.items():
            in_shapes[j][p:p + 2] = [in_shapes[j][p] * in_shapes[j][p + 1]]
        for j, o in enumerate(k.outputs):
            if o.reduce is None or d not in o.axes:  # both loop axes are output axes
                pos = d if o.reduce is None else [a for a in range(len(shape))
                                                   if a not in o.axes].index(d)
                out_shapes[j][pos:pos + 2] = [out_shapes[j][pos] * out_shapes[j][pos + 1]]
            o.axes = tuple(sorted({axis_map(a) for a in o.axes}))
        shape[d:d + 2] = [shape[d] * shape[d + 1]]
    k.shape = tuple(shape)
    k.arg_shapes = [None if tuple(s) == _view_shape(x.aval.shape, v) else tuple(s)
                    for s, x, v in zip(in_shapes, k.inputs, k.in_views, strict=True)] + \
        [None if tuple(s) == o.var.aval.shape else tuple(s)
         for s, o in zip(out_shapes, k.outputs, strict=True)]
    return k


def _view_shape(shape: tuple[int, ...], view: tuple[int | None, ...] | None
                ) -> tuple[int, ...]:
    if view is None:
        return shape
    return tuple(n for n, i in zip(shape, view, strict=True) if i is None)


def _stretched_from(g: _Graph, x: Atom) -> tuple[Atom, tuple[Affine, ...]] | None:
    """If ``x`` is an index map of another value (and not a program output), that value and
    where ``x``'s element at the identity index reads it."""
    eqn = g.producer.get(x) if isinstance(x, Var) else None
    if eqn is None or x in g.outputs:
        return None
    low = g.low[eqn]
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
    update = _update_epilogue(g, step.out, eqn.prim.lowering)
    if update is not None:
        step.c0, step.scale, step.negate, step.out, eaten = update
        absorbed |= eaten
    step.eqns += list(absorbed)
    return step, absorbed


def _update_epilogue(g: _Graph, c: Var, low: Matmul) -> \
        tuple[Var, Atom | None, bool, Var, set[Eqn]] | None:
    """When the product ``c`` (bias added) is only read by ``c0 ± s * c`` or ``c0 ± c`` (see
    Matmul), with nothing in between read by anything else and c0 stored anyway (an argument,
    a program output, or what a step other than a loop kernel computes): (c0, s or None,
    whether it is subtracted, the result, the equations computing it from c). The matmul
    kernel stores that result in place of the product, saving a pass over memory (the update's
    loop kernel reading the product); under precise_math the update stays a loop kernel of its
    own (whose arithmetic the configuration governs)."""
    if np.dtype(c.aval.dtype) not in (np.float32, np.float64) or config.precise_math:
        return None

    def only_user(x: Var) -> Eqn | None:
        # (an equation another product absorbed, as in P1 + P2, is that product's update)
        users = g.users.get(x, [])
        if len(users) != 1 or x in g.outputs or users[0] in g.absorbed or \
                users[0].outputs[0].aval != x.aval:
            return None
        return users[0]

    eaten: set[Eqn] = set()
    scale = None
    x = c
    use = only_user(x)
    if use is not None and use.prim is low.scale:
        scale = _scalar(g, use.inputs[1] if use.inputs[0] is x else use.inputs[0])
        if scale is None:
            return None
        eaten.add(use)
        x = use.outputs[0]
        use = only_user(x)
    if use is None:
        return None
    if use.prim is low.update_sub and use.inputs[1] is x:
        negate = True
    elif use.prim is low.update_add:
        negate = False
    else:
        return None
    c0 = use.inputs[1] if use.inputs[0] is x else use.inputs[0]
    if not isinstance(c0, Var) or c0 is x or c0.aval != c.aval:
        return None
    if g.fusible(c0) and c0 not in g.outputs:
        # Elementwise work (a broadcast, momentum's mass * v) that the update's loop kernel
        # would compute as it reads it: the epilogue would store it only to read it back.
        return None
    return c0, scale, negate, use.outputs[0], eaten | {use}


def _scalar(g: _Graph, x: Atom) -> Atom | None:
    """``x`` itself if it is 0-d, or the 0-d value it broadcasts; otherwise None."""
    if not x.aval.shape:
        return x
    found = _stretched_from(g, x)
    if found is not None and not found[0].aval.shape:
        return found[0]
    return None


def _schedule(g: _Graph, groups: list[_Group],
              matmuls: dict[Eqn, MatmulStep]) -> list[Step]:
    """Build the steps and order them so every step runs after what it reads."""
    steps: list[Step] = []
    produces: dict[Var, int] = {}
    for eqn in g.ir.eqns:
        if eqn in g.absorbed:
            continue
        low = g.low[eqn]
        if isinstance(low, Matmul):
            steps.append(matmuls[eqn])
        elif isinstance(low, View):
            steps.append(ViewStep(eqn))
        elif isinstance(low, Host):
            steps.append(HostStep(eqn))
    for grp in groups:
        steps.append(_kernel(g, grp))
    for i, s in enumerate(steps):
        for v in step_outputs(s):
            produces[v] = i
    order = _toposort(steps, produces)
    return [steps[i] for i in order]


def step_inputs(s: Step) -> list[Atom]:
    if isinstance(s, LoopKernel):
        return list(s.inputs)
    if isinstance(s, MatmulStep):
        return [x for x in (s.a, s.b, s.bias, s.c0, s.scale) if x is not None]
    return list(s.eqn.inputs)


def step_outputs(s: Step) -> Iterable[Var]:
    if isinstance(s, LoopKernel):
        return [o.var for o in s.outputs]
    if isinstance(s, MatmulStep):
        return [s.out]
    return s.eqn.outputs


def _toposort(steps: list[Step], produces: dict[Var, int]) -> list[int]:
    """Depth-first post-order from each step in turn (an explicit stack: programs are longer
    than Python's recursion limit)."""
    order: list[int] = []
    state: dict[int, int] = {}  # 1: on the stack, 2: placed

    def deps(i: int) -> Iterator[int]:
        for x in step_inputs(steps[i]):
            if isinstance(x, Var) and x in produces and produces[x] != i:
                yield produces[x]

    for start in range(len(steps)):
        if start in state:
            continue
        state[start] = 1
        stack = [(start, deps(start))]
        while stack:
            i, it = stack[-1]
            for j in it:
                if state.get(j) == 1:
                    raise AssertionError("fusion produced a cycle between kernels (jitgrad bug)")
                if j not in state:
                    state[j] = 1
                    stack.append((j, deps(j)))
                    break
            else:
                stack.pop()
                state[i] = 2
                order.append(i)
    return order
