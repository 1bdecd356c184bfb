"""Contractions (einsum, tensordot, dot, inner, vdot, outer, kron) lowered to transposes,
reshapes, reduce_sum, broadcast products and one batched matmul per pair of operands; 1-d
convolve and correlate on the convolution primitive."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from jitgrad import prims as P
from jitgrad.errors import JitgradTypeError, ShapeError, UnsupportedError
from jitgrad.numpy import (
    _aval_of,
    _cast,
    _examples,
    _ignoring_precision,
    _numpy_when_concrete,
    _Tracer,
    asarray,
    astype,
    not_equal,
    result_type,
)
from jitgrad.numpy import round as _round

__all__ = ["convolve", "correlate", "dot", "einsum", "inner", "kron", "outer", "tensordot",
           "vdot"]

Label = Hashable


def _operand(x: Any) -> Any:
    """Contractions convert Python scalars to arrays before promoting, as numpy does (so
    ``np.dot(x_f32, 2.0)`` is float64)."""
    return x if isinstance(x, _Tracer) else np.asarray(x)


def _common_dtype(xs: Sequence[Any], dtype: Any = None) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return np.result_type(*[_aval_of(x).dtype for x in xs])


# ---------------------------------------------------------------------------------------------
# The contraction engine: operands carry one label per axis


def _size(shape: dict[Label, int], labels: Sequence[Label]) -> int:
    return math.prod(shape[lab] for lab in labels)


def _transpose_to(x: Any, labels: list[Label], order: list[Label]) -> Any:
    return P.transpose(x, [labels.index(lab) for lab in order])


def _diagonals(x: Any, labels: list[Label], op: str, k: int) -> tuple[Any, list[Label]]:
    """Take the diagonal over every label repeated in one operand (``'ii->i'``): its axes are
    moved last and merged, and a strided slice walks the diagonal (no gather)."""
    while len(set(labels)) != len(labels):
        lab = next(lab for lab in labels if labels.count(lab) > 1)
        axes = [i for i, other in enumerate(labels) if other == lab]
        shape = _aval_of(x).shape
        if len({shape[i] for i in axes}) != 1:
            raise ShapeError(f"{op}: dimensions in operand {k} for collapsing index {lab!r} "
                             f"don't match (shape {shape})")
        rest = [i for i in range(len(labels)) if i not in axes]
        n, r = shape[axes[0]], len(axes)
        x = P.reshape(P.transpose(x, rest + axes), [shape[i] for i in rest] + [n ** r])
        step = sum(n ** j for j in range(r))
        starts, sizes, steps = [0] * len(rest), [shape[i] for i in rest], [1] * len(rest)
        x = P.slice_(x, starts + [0], sizes + [n], steps + [step if n else 1])
        labels = [labels[i] for i in rest] + [lab]
    return x, labels


def _sum_out(x: Any, labels: list[Label], needed: set[Label]) -> tuple[Any, list[Label]]:
    axes = tuple(i for i, lab in enumerate(labels) if lab not in needed)
    if not axes:
        return x, labels
    return P.reduce_sum(x, axes), [lab for lab in labels if lab in needed]


def _product(a: Any, la: list[Label], b: Any, lb: list[Label], shape: dict[Label, int]
             ) -> tuple[Any, list[Label]]:
    """A contraction with nothing to sum: a broadcast elementwise product (fused)."""
    out = la + [lab for lab in lb if lab not in la]
    dims = [out.index(lab) for lab in lb]
    b = P.transpose(b, list(np.argsort(dims)))
    full = [shape[lab] for lab in out]
    b = P.broadcast_in_dim(b, full, sorted(dims))
    a = P.broadcast_in_dim(a, full, range(len(la)))
    return P.mul(a, b), out


def _layouts(la: list[Label], lb: list[Label], batch: set[Label], contract: set[Label],
             shape: dict[Label, int], target: list[Label] | None) -> tuple:
    """The cheapest way to lay a pair out for one batched matmul: batch axes first (in either
    operand's order), the contracted axes in either operand's order, either operand on the
    left, and the transpose flags that make a copy unnecessary. Cost: elements copied by
    transposes (of the operands and, for the last pair, of the result)."""
    best = None
    orders = dict.fromkeys(tuple(lab for lab in labels if lab in batch) for labels in (la, lb))
    korders = dict.fromkeys(tuple(lab for lab in labels if lab in contract)
                            for labels in (la, lb))
    for bo, ko, swap in itertools.product(orders, korders, (False, True)):
        (l1, l2) = (lb, la) if swap else (la, lb)
        m = [lab for lab in l1 if lab not in batch and lab not in contract]
        n = [lab for lab in l2 if lab not in batch and lab not in contract]
        cost, plan = 0, []
        for labels, free, left in ((l1, m, True), (l2, n, False)):
            straight = list(bo) + (free + list(ko) if left else list(ko) + free)
            flipped = list(bo) + (list(ko) + free if left else free + list(ko))
            if labels == straight:
                plan.append((straight, False))
            elif labels == flipped:
                plan.append((flipped, True))
            else:
                cost += _size(shape, labels)
                plan.append((straight, False))
        out = list(bo) + m + n
        if target is not None and out != target:
            cost += _size(shape, out)
        if best is None or cost < best[0]:
            best = (cost, swap, plan, list(bo), m, list(ko), n)
    return best[1:]


def _pair(a: Any, la: list[Label], b: Any, lb: list[Label], keep: set[Label],
          shape: dict[Label, int], target: list[Label] | None) -> tuple[Any, list[Label]]:
    """Contract two operands; ``keep``: labels still needed afterwards."""
    a, la = _sum_out(a, la, set(lb) | keep)
    b, lb = _sum_out(b, lb, set(la) | keep)
    shared = set(la) & set(lb)
    batch, contract = shared & keep, shared - keep
    if not contract:
        return _product(a, la, b, lb, shape)
    if set(la) == set(lb):
        # Dot products (no free axis on either side, 'ij,ij->', 'bi,bi->b'): one fused
        # product-and-sum kernel reads each operand once; as a matmul they would be 1 x 1
        # products, one BLAS call per batch element (measured 3-4x slower, perf/ einsum).
        return _sum_out(*_product(a, la, b, lb, shape), keep)
    swap, plan, bo, m, ko, n = _layouts(la, lb, batch, contract, shape, target)
    if swap:
        a, la, b, lb = b, lb, a, la
    ops = []
    for x, labels, (order, flag), free, left in ((a, la, plan[0], m, True),
                                                  (b, lb, plan[1], n, False)):
        x = _transpose_to(x, labels, order)
        inner = [_size(shape, free), _size(shape, ko)]
        if left == flag:  # stored (contracted, free)
            inner.reverse()
        ops.append((P.reshape(x, [shape[lab] for lab in bo] + inner), flag))
    (x, ta), (y, tb) = ops
    out = P.matmul(x, y, ta, tb)
    labels = bo + m + n
    return P.reshape(out, [shape[lab] for lab in labels]), labels


def _pick_pair(specs: list[list[Label]], shape: dict[Label, int], out: list[Label]
               ) -> tuple[int, int]:
    """Greedy order: the pair with the smallest result, pairs sharing a label first."""
    best = None
    for i, j in itertools.combinations(range(len(specs)), 2):
        others = set(out).union(*[specs[k] for k in range(len(specs)) if k not in (i, j)])
        kept = [lab for lab in dict.fromkeys(specs[i] + specs[j]) if lab in others]
        key = (not set(specs[i]) & set(specs[j]), _size(shape, kept))
        if best is None or key < best[0]:
            best = (key, (i, j))
    return best[1]


def _path(optimize: Any) -> list[tuple[int, ...]] | None:
    """An explicit contraction path (``['einsum_path', (0, 1), ...]``: the listed operands are
    contracted and their result appended), or None for the greedy order."""
    if isinstance(optimize, list | tuple) and optimize and optimize[0] == "einsum_path":
        return [tuple(int(i) for i in step) for step in optimize[1:]]
    # NB: optimize=False (numpy's default: no intermediate products) is also contracted
    # pairwise in the greedy order: the same sums, with no large intermediate.
    if optimize in (False, True, None, "greedy", "optimal"):
        return None
    raise UnsupportedError(f"einsum: optimize={optimize!r} (use True, False, 'greedy', "
                           f"'optimal' or an einsum_path list)")


def contract(operands: Sequence[Any], specs: list[list[Label]], out: list[Label],
             op: str, optimize: Any = False, dtype: Any = None, broadcast: bool = True) -> Any:
    """The contraction ``specs -> out`` of ``operands`` (one label per axis). Labels of size 1
    broadcast against the same label elsewhere, as in numpy's einsum."""
    operands = [_operand(x) for x in operands]
    dtype = _common_dtype(operands, dtype)
    # NB: a boolean contraction is computed in integers, then compared with 0 (numpy's
    # boolean einsum is an "or" of "and"s: the same values).
    work = np.dtype(np.int64) if dtype == np.bool_ else dtype
    shape: dict[Label, int] = {}
    for k, (x, labels) in enumerate(zip(operands, specs, strict=True)):
        for lab, d in zip(labels, _aval_of(x).shape, strict=True):
            prev = shape.get(lab)
            if prev is None or (broadcast and prev == 1):
                shape[lab] = d
            elif d != prev and not (broadcast and d == 1):
                raise ShapeError(f"{op}: label {lab!r} has size {d} in operand {k} but {prev} "
                                 f"elsewhere (operand shapes "
                                 f"{', '.join(str(_aval_of(y).shape) for y in operands)})")
    items = []
    for k, (x, labels) in enumerate(zip(operands, specs, strict=True)):
        x, labels = _diagonals(_cast(x, work), list(labels), op, k)
        xs = _aval_of(x).shape
        stretched = [i for i, lab in enumerate(labels) if xs[i] == 1 and shape[lab] != 1]
        if stretched:  # a broadcast label: this operand is constant along it
            x = P.reshape(x, [d for i, d in enumerate(xs) if i not in stretched])
            labels = [lab for i, lab in enumerate(labels) if i not in stretched]
        items.append((x, labels))
    path = _path(optimize)
    while len(items) > 1:
        if path is not None and not path:
            raise ShapeError(f"{op}: the contraction path leaves {len(items)} operands "
                             f"uncontracted")
        step = path.pop(0) if path is not None else _pick_pair([lb for _, lb in items], shape,
                                                                out)
        if any(not 0 <= i < len(items) for i in step):
            raise ShapeError(f"{op}: contraction path step {step} names an operand beyond the "
                             f"{len(items)} left")
        chosen = [items[i] for i in step]
        rest = [it for k, it in enumerate(items) if k not in step]
        acc = chosen[0]
        for k, nxt in enumerate(chosen[1:], 2):
            keep = set(out).union(*[lb for _, lb in rest + chosen[k:]])
            last = not rest and k == len(chosen)
            acc = _pair(*acc, *nxt, keep, shape, out if last else None)
        items = rest + [acc]
    x, labels = items[0]
    x, labels = _sum_out(x, labels, set(out))
    x = _transpose_to(x, labels, out)
    return not_equal(x, 0) if dtype == np.bool_ else x


# ---------------------------------------------------------------------------------------------
# einsum's subscripts


_ELLIPSIS = "..."


def _letters(spec: str, where: str) -> list[Any]:
    """One operand's (or the output's) subscripts: letters, and Ellipsis for ``...``."""
    out: list[Any] = []
    spec = spec.replace(" ", "")
    i = 0
    while i < len(spec):
        if spec.startswith(_ELLIPSIS, i):
            out.append(Ellipsis)
            i += 3
            continue
        c = spec[i]
        if c == ".":
            raise ShapeError(f"einsum: subscripts contain a '.' that is not part of an "
                             f"ellipsis ('...') in {where}")
        if not c.isalpha() or not c.isascii():
            raise ShapeError(f"einsum: invalid subscript {c!r} in {where}; subscripts must be "
                             f"letters")
        out.append(c)
        i += 1
    if out.count(Ellipsis) > 1:
        raise ShapeError(f"einsum: more than one ellipsis in {where}")
    return out


def _parse(args: Sequence[Any]) -> tuple[list[Any], list[list[Any]], list[Any] | None]:
    """Operands, their subscripts and the output's (None: implicit), from either form:
    ``einsum('ij,jk->ik', a, b)`` or ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if isinstance(args[0], str):
        subscripts, operands = args[0], list(args[1:])
        lhs, arrow, rhs = subscripts.partition("->")
        if "->" in rhs or "-" in lhs or ">" in lhs:
            raise ShapeError(f"einsum: invalid subscripts {subscripts!r} (one '->' at most)")
        parts = lhs.split(",")
        if len(parts) != len(operands):
            raise ShapeError(f"einsum: subscripts {subscripts!r} name {len(parts)} operands "
                             f"but {len(operands)} were given")
        specs = [_letters(p, f"operand {k}") for k, p in enumerate(parts)]
        return operands, specs, _letters(rhs, "the output") if arrow else None
    operands, specs = list(args[0::2]), [list(s) for s in args[1::2]]
    out = None
    if len(operands) > len(specs):
        out = list(operands.pop())
    return operands, specs, out


def _expand(specs: list[list[Any]], out: list[Any] | None, operands: list[Any]
            ) -> tuple[list[list[Label]], list[Label]]:
    """Ellipses become labels ``('...', j)``, j counting broadcast axes from the right; the
    implicit output is the ellipsis axes, then the labels used once, sorted."""
    full, depth = [], 0
    for k, (spec, x) in enumerate(zip(specs, operands, strict=True)):
        nd = _aval_of(x).ndim
        named = len(spec) - (Ellipsis in spec)
        if named > nd or (Ellipsis not in spec and named != nd):
            written = "".join("..." if s is Ellipsis else str(s) for s in spec)
            raise ShapeError(f"einsum: operand {k} has shape {_aval_of(x).shape} but "
                             f"subscripts {written!r}")
        if Ellipsis in spec:
            e = spec.index(Ellipsis)
            depth = max(depth, nd - named)
            spec = spec[:e] + [(_ELLIPSIS, j) for j in reversed(range(nd - named))] + \
                spec[e + 1:]
        full.append(spec)
    broadcast = [(_ELLIPSIS, j) for j in reversed(range(depth))]
    if out is None:
        counts = [lab for spec in full for lab in spec if not isinstance(lab, tuple)]
        once = sorted(lab for lab in set(counts) if counts.count(lab) == 1)
        return full, broadcast + once
    if Ellipsis in out:
        e = out.index(Ellipsis)
        out = out[:e] + broadcast + out[e + 1:]
    elif depth:
        raise ShapeError("einsum: the output has no '...' but the operands have broadcast "
                         "axes (ellipsis dimensions); add '...' to the output")
    used = {lab for spec in full for lab in spec}
    for lab in out:
        if out.count(lab) > 1:
            raise ShapeError(f"einsum: output subscript {lab!r} appears more than once")
        if lab not in used:
            raise ShapeError(f"einsum: output subscript {lab!r} never appears in an input")
    return full, out


@_numpy_when_concrete(_ignoring_precision(np.einsum))
def einsum(*operands: Any, out: Any = None, optimize: Any = False, dtype: Any = None,
           casting: str = "safe", precision: Any = None) -> Any:
    """``numpy.einsum``, both calling forms, with ``...`` broadcasting, repeated labels
    (diagonals, traces), size-1 broadcasting and ``optimize`` (an ``einsum_path`` list, or
    anything else numpy accepts: a greedy pairwise order). Each pair of operands becomes one
    batched matmul (transposes folded into its flags where the layout allows), or a broadcast
    product when nothing is summed."""
    if out is not None:
        raise UnsupportedError("einsum: out= on traced arrays (results are new arrays)")
    arrays, specs, out_spec = _parse(operands)
    if len(specs) != len(arrays):
        raise ShapeError(f"einsum: {len(arrays)} operands but {len(specs)} subscript lists")
    arrays = [_operand(x) for x in arrays]
    if dtype is not None:
        for x in arrays:
            if not np.can_cast(_aval_of(x).dtype, dtype, casting):
                raise JitgradTypeError(f"einsum: cannot cast an operand from "
                                       f"{_aval_of(x).dtype} to {np.dtype(dtype)} under "
                                       f"casting={casting!r}")
    full, out_labels = _expand(specs, out_spec, arrays)
    return contract(arrays, full, out_labels, "einsum", optimize, dtype)


# ---------------------------------------------------------------------------------------------
# The named contractions


def _axis_list(axes: Any, nd: int, op: str) -> list[int]:
    axes = [axes] if isinstance(axes, int | np.integer) else list(axes)
    for a in axes:
        if not -nd <= a < nd:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of dimension {nd}")
    return [int(a) % nd for a in axes]


@_numpy_when_concrete(_ignoring_precision(np.tensordot))
def tensordot(a: Any, b: Any, axes: Any = 2, *, precision: Any = None) -> Any:
    """``numpy.tensordot``: ``axes`` an int N (a's last N axes with b's first N) or a pair of
    axis lists."""
    a, b = _operand(a), _operand(b)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if isinstance(axes, int | np.integer):
        if axes < 0 or axes > min(len(sa), len(sb)):
            raise ShapeError(f"tensordot: axes={axes} does not fit shapes {sa} and {sb}")
        xa, xb = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        xa, xb = (_axis_list(ax, nd, "tensordot") for ax, nd in zip(axes, (len(sa), len(sb)),
                                                                     strict=True))
    if len(xa) != len(xb) or any(sa[i] != sb[j] for i, j in zip(xa, xb, strict=False)):
        raise ShapeError(f"tensordot: shape-mismatch for sum: axes {xa} of {sa} and {xb} of "
                         f"{sb}")
    la = [("a", i) for i in range(len(sa))]
    lb = [la[xa[xb.index(j)]] if j in xb else ("b", j) for j in range(len(sb))]
    out = [lab for i, lab in enumerate(la) if i not in xa] + \
        [lab for j, lab in enumerate(lb) if j not in xb]
    return contract([a, b], [la, lb], out, "tensordot", broadcast=False)


@_numpy_when_concrete(_ignoring_precision(np.dot))
def dot(a: Any, b: Any, *, precision: Any = None) -> Any:
    """``numpy.dot``: a product with a scalar, an inner product of vectors, and otherwise a sum
    over a's last axis and b's second-to-last (its last if b is a vector)."""
    a, b = _operand(a), _operand(b)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if not sa or not sb:
        return tensordot(a, b, 0)
    jb = len(sb) - 2 if len(sb) > 1 else 0
    if sa[-1] != sb[jb]:
        raise ShapeError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim "
                         f"{len(sa) - 1}) != {sb[jb]} (dim {jb})")
    return tensordot(a, b, ([len(sa) - 1], [jb]))


@_numpy_when_concrete(_ignoring_precision(np.inner))
def inner(a: Any, b: Any, *, precision: Any = None) -> Any:
    """``numpy.inner``: a sum over the last axes (a product if either is a scalar)."""
    a, b = _operand(a), _operand(b)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    if not sa or not sb:
        return tensordot(a, b, 0)
    if sa[-1] != sb[-1]:
        raise ShapeError(f"inner: shapes {sa} and {sb}: last dimensions differ")
    return tensordot(a, b, ([len(sa) - 1], [len(sb) - 1]))


@_numpy_when_concrete(_ignoring_precision(np.vdot))
def vdot(a: Any, b: Any, *, precision: Any = None) -> Any:
    """``numpy.vdot`` for real arrays: the inner product of the flattened operands."""
    a, b = _operand(a), _operand(b)
    if _aval_of(a).size != _aval_of(b).size:
        raise ShapeError(f"vdot: vectors have different sizes ({_aval_of(a).shape} and "
                         f"{_aval_of(b).shape})")
    return tensordot(P.reshape(a, (_aval_of(a).size,)), P.reshape(b, (_aval_of(b).size,)), 1)


@_numpy_when_concrete(np.outer)
def outer(a: Any, b: Any) -> Any:
    """``numpy.outer``: the flattened operands' outer product."""
    a, b = _operand(a), _operand(b)
    return tensordot(P.reshape(a, (_aval_of(a).size,)), P.reshape(b, (_aval_of(b).size,)), 0)


@_numpy_when_concrete(np.kron)
def kron(a: Any, b: Any) -> Any:
    """``numpy.kron``: the Kronecker product (the shorter shape is padded with leading 1s)."""
    a, b = _operand(a), _operand(b)
    sa, sb = _aval_of(a).shape, _aval_of(b).shape
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    la, lb = [("a", i) for i in range(nd)], [("b", i) for i in range(nd)]
    out = contract([P.reshape(a, sa), P.reshape(b, sb)], [la, lb],
                   [lab for pair in zip(la, lb, strict=True) for lab in pair], "kron",
                   broadcast=False)
    return P.reshape(out, [x * y for x, y in zip(sa, sb, strict=True)])


# Runnable examples: the compiled function and numpy's result for the same call.
_examples.attach(globals(), {
    'einsum': (
        "lambda a, b: jnp.einsum('ij,jk->ik', a, b)",
        'np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[ 7., 10.],\n       [15., 22.]])'),
    'tensordot': (
        'lambda a, b: jnp.tensordot(a, b, axes=([0], [1]))',
        'np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[ 7., 15.],\n       [10., 22.]])'),
    'inner': (
        'jnp.inner',
        'np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])',
        'array([[ 5., 11.],\n       [11., 25.]])'),
    'kron': (
        'jnp.kron',
        'np.array([1.0, 2.0]), np.array([1.0, 10.0, 100.0])',
        'array([  1.,  10., 100.,   2.,  20., 200.])'),
})


def conv_operands(in1: Any, in2: Any) -> tuple[Any, Any, np.dtype]:
    """Both operands of a convolution in the dtype it computes in, and the result's dtype
    (numpy promotion). NB: integer and boolean inputs are convolved in float64 and rounded
    back, exact while every partial sum stays below 2**53 in magnitude."""
    dtype = np.dtype(result_type(in1, in2))
    work = dtype if dtype.kind == "f" else np.dtype(np.float64)
    return astype(asarray(in1), work), astype(asarray(in2), work), dtype


def conv_result(out: Any, dtype: np.dtype) -> Any:
    """A convolution computed by ``conv_operands``'s rule, in the result's dtype."""
    if dtype.kind == "b":
        return not_equal(out, 0)
    if dtype.kind in "iu":
        return astype(_round(out), dtype)
    return out


def same_pads(k: int) -> tuple[int, int]:
    """Padding of a signal that keeps its size, centred as numpy and scipy centre 'same' in
    'full' (for a kernel of size ``k``)."""
    return k - 1 - (k - 1) // 2, (k - 1) // 2


def _convolve_1d(name: str, a: Any, v: Any, mode: str, flip: bool) -> Any:
    a, v, dtype = conv_operands(a, v)
    sa, sv = _aval_of(a).shape, _aval_of(v).shape
    if len(sa) != 1 or len(sv) != 1:
        raise ShapeError(f"{name}: a and v must be 1-d arrays, got shapes {sa} and {sv}")
    if not sa[0] or not sv[0]:
        raise ShapeError(f"{name}: a and v cannot be empty (shapes {sa} and {sv})")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    # numpy slides the shorter operand over the longer: the same sum for a convolution, the
    # reversed sequence for a correlation.
    swap = sv[0] > sa[0]
    if swap:
        a, v = v, a
    n, k = max(sa[0], sv[0]), min(sa[0], sv[0])
    if flip:  # the primitive correlates; a convolution slides the reversed kernel
        v = P.slice_(v, [k - 1], (k,), [-1])
    pads = {"valid": (0, 0), "full": (k - 1, k - 1), "same": same_pads(k)}[mode]
    out = P.conv_general_dilated(P.reshape(a, (1, 1, n)), P.reshape(v, (1, 1, k)), (1,),
                                 [pads], (1,), (1,), P.ConvDimensionNumbers(*[(0, 1, 2)] * 3))
    size = _aval_of(out).shape[-1]
    out = P.reshape(out, (size,))
    if swap and not flip:
        out = P.slice_(out, [size - 1], (size,), [-1])
    return conv_result(out, dtype)


@_numpy_when_concrete(_ignoring_precision(np.convolve))
def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None) -> Any:
    """``numpy.convolve``: the discrete convolution of two 1-d arrays, ``mode`` 'full'
    (every overlap), 'same' (the longer one's length, centred) or 'valid' (complete
    overlaps only); differentiable in both, compiled as one convolution.

    >>> import jitgrad as jg
    >>> jg.jit(convolve)(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _convolve_1d("convolve", a, v, mode, flip=True)


@_numpy_when_concrete(_ignoring_precision(np.correlate))
def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None) -> Any:
    """``numpy.correlate`` of real 1-d arrays: ``c[k] = sum_n a[n + k] * v[n]``, ``mode``
    'valid' (the default, as numpy), 'same' or 'full'.

    >>> import jitgrad as jg
    >>> jg.jit(correlate, static_argnums=2)(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]),
    ...                                     "full")
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    return _convolve_1d("correlate", a, v, mode, flip=False)
