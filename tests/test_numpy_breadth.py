"""jitgrad.numpy's contractions, shape/assembly and selection functions, table-driven: each row
is one call; every row is checked traced against numpy (values, shapes, dtypes), compiled by
jit (forward and reverse in one program), by check_grads (jvp vs finite differences, vjp vs
jvp, to order 2) and under vmap against a loop; error rows raise numpy's errors as jitgrad's.
Calling a row's function on concrete arrays is numpy's own call: that is the reference."""

import warnings

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.core import eval_ir, is_float
from jitgrad.errors import JitgradTypeError, ShapeError, TracerError, UnsupportedError
from jitgrad.tree_util import tree_leaves

rng = np.random.default_rng(0)


def R(*shape, dtype=np.float64):
    return rng.uniform(0.5, 1.5, shape).astype(dtype)


class Row:
    """One call: ``f`` of the float arrays ``args``; ``grad`` False for piecewise-constant or
    integer results; ``order`` of the derivative check; ``batch`` the positions vmap maps
    over (default: every float argument)."""

    def __init__(self, name, f, *args, grad=True, order=2, batch=None, jit=True):
        self.name, self.f, self.args = name, f, args
        self.grad, self.order, self.jit = grad, order, jit
        self.batch = batch if batch is not None else [
            i for i, a in enumerate(args) if is_float(np.asarray(a).dtype)]

    def __repr__(self):
        return self.name


A23, B34, V3, V4 = R(2, 3), R(3, 4), R(3), R(4)
SQ = R(3, 3)
T234 = R(2, 3, 4)
X32 = R(3, 2, dtype=np.float32)
IDX = np.array([[2, 0], [1, 1]])
ORDER = np.argsort(R(3, 2), axis=0)
INT = np.arange(12).reshape(3, 4)
NANS = np.where(np.arange(12).reshape(3, 4) % 5 == 1, np.nan, R(3, 4))  # a NaN in each row
ALL_NAN_ROW = np.vstack([NANS[:2], np.full((1, 4), np.nan)])

ROWS = [
    # --- einsum: every subscript form ---------------------------------------------------------
    Row("einsum transpose", lambda x: jnp.einsum("ij->ji", x), B34),
    Row("einsum matmul", lambda a, b: jnp.einsum("ij,jk->ik", a, b), A23, B34),
    Row("einsum implicit", lambda a, b: jnp.einsum("ij,jk", a, b), A23, B34),
    Row("einsum implicit sorted", lambda a, b: jnp.einsum("ba,ab", a, b), A23, R(3, 2)),
    Row("einsum batched", lambda a, b: jnp.einsum("bij,bjk->bik", a, b), R(2, 2, 3), R(2, 3, 4)),
    Row("einsum attention scores", lambda q, k: jnp.einsum("bhqd,bhkd->bhqk", q, k),
        R(2, 2, 3, 4), R(2, 2, 5, 4)),
    Row("einsum full contraction", lambda a, b: jnp.einsum("ij,ij->", a, b), A23, R(2, 3)),
    Row("einsum batched dot", lambda a, b: jnp.einsum("bi,bi->b", a, b), A23, R(2, 3)),
    Row("einsum outer", lambda a, b: jnp.einsum("i,j->ij", a, b), V3, V4),
    Row("einsum ellipsis", lambda a, b: jnp.einsum("...ij,...jk->...ik", a, b), A23,
        R(2, 3, 4)),
    Row("einsum ellipsis tail", lambda a, b: jnp.einsum("jk...,lj...->lk...", a, b),
        R(3, 2, 4), R(2, 3, 4)),
    Row("einsum ellipsis center", lambda a, b: jnp.einsum("j...k,lj...->lk...", a, b),
        R(2, 2, 2), R(2, 2, 2)),
    Row("einsum ellipsis implicit", lambda a, b: jnp.einsum("...,...", a, b), R(2), R(3, 1)),
    Row("einsum ellipsis size 0", lambda a, b: jnp.einsum("...ij,...jk->...ik", a, b),
        R(0, 2, 3), R(0, 3, 4)),
    Row("einsum covsum", lambda a, b: jnp.einsum("ijk,lji->lki", a, b), R(3, 4, 4), R(4, 4, 3)),
    Row("einsum three operands", lambda a, b, c: jnp.einsum("ijk,lji,lli->lki", a, b, c),
        R(3, 4, 4), R(4, 4, 3), R(4, 4, 3)),
    Row("einsum chain greedy", lambda a, b, c: jnp.einsum("ij,jk,kl->il", a, b, c,
                                                           optimize=True), A23, B34, R(4, 2)),
    Row("einsum chain path", lambda a, b, c: jnp.einsum(
        "ij,jk,kl->il", a, b, c, optimize=["einsum_path", (1, 2), (0, 1)]), A23, B34, R(4, 2)),
    Row("einsum trace", lambda x: jnp.einsum("ii", x), SQ),
    Row("einsum diagonal", lambda x: jnp.einsum("ii->i", x), SQ),
    Row("einsum diagonal 3", lambda x: jnp.einsum("iij->ji", x), R(2, 2, 3)),
    Row("einsum two diagonals", lambda x: jnp.einsum("iijj->", x), R(2, 2, 3, 3)),
    Row("einsum ellipsis diagonal", lambda x: jnp.einsum("i...i", x), R(3, 4, 3)),
    Row("einsum naked sum", lambda a, b: jnp.einsum("k,nk->", a, b), R(5), R(4, 5)),
    Row("einsum sum out", lambda x: jnp.einsum("abcd->bd", x), R(3, 2, 3, 2)),
    Row("einsum no output indices", lambda a, b: jnp.einsum("ij,k", a, b), A23, V3),
    Row("einsum broadcast size 1", lambda a, b: jnp.einsum("ij,jk->ik", a, b), R(2, 1), B34),
    Row("einsum scalars", lambda a, b: jnp.einsum(",i->i", a, b), R(), V3),
    Row("einsum sublists", lambda a, b: jnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), A23, B34),
    Row("einsum sublists ellipsis", lambda a, b: jnp.einsum(a, [..., 1], b, [1]), A23, V3),
    Row("einsum float32", lambda a, b: jnp.einsum("ij,jk->ik", a, b), X32, R(2, 3,
                                                                          dtype=np.float32)),
    Row("einsum int", lambda a, b: jnp.einsum("ij,jk->ik", a, b), np.arange(6).reshape(2, 3),
        np.arange(12).reshape(3, 4), grad=False),
    Row("einsum bool", lambda a, b: jnp.einsum("ij,jk->ik", a > 1, b > 1), A23, B34,
        grad=False),
    # --- tensordot, dot, inner, vdot, outer, kron, matmul ----------------------------------------
    Row("tensordot 2", lambda a, b: jnp.tensordot(a, b), R(2, 3, 4), R(3, 4, 2)),
    Row("tensordot 1", lambda a, b: jnp.tensordot(a, b, 1), A23, B34),
    Row("tensordot 0", lambda a, b: jnp.tensordot(a, b, 0), V3, R(2, 2)),
    Row("tensordot pairs", lambda a, b: jnp.tensordot(a, b, ([1, 0], [0, 1])), A23, R(3, 2)),
    Row("tensordot negative", lambda a, b: jnp.tensordot(a, b, [[-1], [0]]), R(2, 6), R(6, 3)),
    Row("tensordot scalar", lambda a, b: jnp.tensordot(a, b, 0), V4, R()),
    Row("dot vectors", jnp.dot, V3, R(3)),
    Row("dot matrix vector", jnp.dot, A23, V3),
    Row("dot N-d", jnp.dot, R(2, 3, 4), R(2, 4, 3)),
    Row("dot vector N-d", jnp.dot, V3, R(2, 3, 4)),
    Row("dot scalar", lambda a, b: jnp.dot(a, b), R(), A23),
    Row("dot python scalar", lambda a: jnp.dot(a, 2.0), X32),
    Row("inner", jnp.inner, A23, R(4, 3)),
    Row("inner vectors", jnp.inner, V3, R(3)),
    Row("inner scalar", jnp.inner, R(), V3),
    Row("vdot matrices", jnp.vdot, A23, R(3, 2)),
    Row("outer", jnp.outer, A23, V3),
    Row("kron", jnp.kron, A23, R(2, 2)),
    Row("kron ranks", jnp.kron, V3, A23),
    Row("matmul vector vector", jnp.matmul, V3, R(3)),
    Row("matmul batch vector", jnp.matmul, R(2, 3, 4), V4),
    Row("matmul vector batch", jnp.matmul, V3, R(2, 3, 4)),
    # --- at least N-d and stacking ---------------------------------------------------------------
    Row("atleast_1d", lambda a: jnp.atleast_1d(a), R()),
    Row("atleast_2d", lambda a, b: jnp.atleast_2d(a, b), V3, R()),
    Row("atleast_3d", lambda a, b, c: jnp.atleast_3d(a, b, c), V3, A23, R(2, 4, 3, 5)),
    Row("vstack", lambda a, b: jnp.vstack([a, b]), V3, A23),
    Row("hstack", lambda a, b: jnp.hstack((a, b)), A23, R(2, 2)),
    Row("hstack vectors", lambda a, b: jnp.hstack([a, b]), V3, R()),
    Row("dstack", lambda a, b: jnp.dstack([a, b]), A23, A23 * 2),
    Row("column_stack", lambda a, b: jnp.column_stack([a, b]), V3, R(3, 2)),
    Row("row_stack", lambda a, b: jnp.row_stack([a, b]), V3, A23),
    Row("append flat", lambda a, b: jnp.append(a, b), A23, V3),
    Row("append axis", lambda a, b: jnp.append(a, b, axis=0), A23, R(1, 3)),
    # --- splitting -----------------------------------------------------------------------------
    Row("array_split sections", lambda x: jnp.array_split(x, 3, axis=1), R(2, 5)),
    Row("array_split indices", lambda x: jnp.array_split(x, [1, -1, 7]), R(5)),
    Row("split negative", lambda x: jnp.split(x, [-2, 1]), R(5)),
    Row("vsplit", lambda x: jnp.vsplit(x, 2), R(4, 3)),
    Row("hsplit", lambda x: jnp.hsplit(x, [1]), R(2, 3)),
    Row("hsplit vector", lambda x: jnp.hsplit(x, 2), R(4)),
    Row("dsplit", lambda x: jnp.dsplit(x, 2), R(2, 1, 4)),
    # --- repeat, tile, meshgrid ----------------------------------------------------------------
    Row("repeat scalar", lambda x: jnp.repeat(x, 2, axis=1), A23),
    Row("repeat flat", lambda x: jnp.repeat(x, 3), A23),
    Row("repeat per element", lambda x: jnp.repeat(x, [1, 0, 2], axis=-1), A23),
    Row("repeat many", lambda x: jnp.repeat(x, np.arange(12) % 3), R(12)),
    Row("repeat zero", lambda x: jnp.repeat(x, 0, axis=0), A23),
    Row("tile", lambda x: jnp.tile(x, (2, 3)), R(1, 2)),
    Row("tile more reps", lambda x: jnp.tile(x, (3, 2, 1)), R(1, 2)),
    Row("tile int", lambda x: jnp.tile(x, 2), V3),
    Row("tile fewer reps", lambda x: jnp.tile(x, (1, 4, 1, 2)), R(2, 1, 3, 1)),
    Row("meshgrid xy", lambda x, y: jnp.meshgrid(x, y), V3, R(2)),
    Row("meshgrid ij 3", lambda x, y, z: jnp.meshgrid(x, y, z, indexing="ij"), V3, R(2), R(4)),
    Row("meshgrid sparse", lambda x, y: jnp.meshgrid(x, y, sparse=True), V3, R(2)),
    # --- roll, flip, rot90, rollaxis -------------------------------------------------------------
    Row("roll flat", lambda x: jnp.roll(x, 2), A23),
    Row("roll axis", lambda x: jnp.roll(x, -1, axis=1), A23),
    Row("roll multi-axis", lambda x: jnp.roll(x, (1, 2), axis=(0, -1)), T234),
    Row("roll same axis twice", lambda x: jnp.roll(x, (1, 1), axis=(1, 1)), T234),
    Row("roll size 0", lambda x: jnp.roll(x, 3, axis=0), R(0, 2)),
    Row("flip", lambda x: jnp.flip(x), T234),
    Row("flip axis", lambda x: jnp.flip(x, (0, 2)), T234),
    Row("fliplr", jnp.fliplr, A23),
    Row("flipud", jnp.flipud, A23),
    Row("rot90", lambda x: jnp.rot90(x), A23),
    Row("rot90 k", lambda x: jnp.rot90(x, -1, axes=(2, 0)), T234),
    Row("rot90 2", lambda x: jnp.rot90(x, 2), A23),
    Row("rollaxis", lambda x: jnp.rollaxis(x, 2), T234),
    Row("rollaxis start", lambda x: jnp.rollaxis(x, 0, 3), T234),
    # --- pad -----------------------------------------------------------------------------------
    Row("pad constant", lambda x: jnp.pad(x, 1), A23),
    Row("pad constant values", lambda x: jnp.pad(x, ((1, 0), (2, 1)),
                                                 constant_values=((1, 2), (3, 4))), A23),
    Row("pad traced constant", lambda x, c: jnp.pad(x, (1, 2), constant_values=c), A23, R()),
    Row("pad edge", lambda x: jnp.pad(x, ((2, 1), (0, 3)), mode="edge"), A23),
    Row("pad reflect", lambda x: jnp.pad(x, (5, 4), mode="reflect"), V3),
    Row("pad symmetric", lambda x: jnp.pad(x, ((1, 2), (3, 0)), mode="symmetric"), A23),
    Row("pad wrap", lambda x: jnp.pad(x, (4, 2), mode="wrap"), A23),
    # --- diagonals and triangles ---------------------------------------------------------------
    Row("trace", jnp.trace, SQ),
    Row("trace offset", lambda x: jnp.trace(x, -1), R(4, 5)),
    Row("trace axes", lambda x: jnp.trace(x, 1, 2, 0), R(3, 4, 5)),
    Row("trace int", jnp.trace, np.arange(9, dtype=np.int32).reshape(3, 3), grad=False),
    Row("diagonal", lambda x: jnp.diagonal(x, 1), R(3, 4)),
    Row("diagonal axes", lambda x: jnp.diagonal(x, -1, 2, 0), R(3, 4, 5)),
    Row("diagonal empty", lambda x: jnp.diagonal(x, 5), R(3, 4)),
    Row("diag of matrix", lambda x: jnp.diag(x, -1), SQ),
    Row("diag of vector", lambda x: jnp.diag(x), V3),
    Row("diag of vector k", lambda x: jnp.diag(x, -2), V3),
    Row("diagflat", lambda x: jnp.diagflat(x, 1), R(2, 2)),
    Row("triu", lambda x: jnp.triu(x), R(3, 4)),
    Row("tril k", lambda x: jnp.tril(x, -1), T234),
    Row("tril vector", lambda x: jnp.tril(x, 1), V3),
    # --- take, take_along_axis, put_along_axis -------------------------------------------------
    Row("take flat", lambda x: jnp.take(x, [5, 0, -1]), A23),
    Row("take axis", lambda x: jnp.take(x, IDX, axis=1), A23),
    Row("take scalar index", lambda x: jnp.take(x, 1, axis=0), A23),
    Row("take wrap", lambda x: jnp.take(x, [7, -4], axis=1, mode="wrap"), A23),
    Row("take clip", lambda x: jnp.take(x, [7, -4], axis=1, mode="clip"), A23),
    Row("take traced indices", lambda x, i: jnp.take(x, i, axis=1), A23, np.array([2, -1, 0]),
        batch=[0, 1]),
    Row("take traced wrap", lambda x, i: jnp.take(x, i, axis=1, mode="wrap"), A23,
        np.array([5, -4, 1]), batch=[0, 1]),
    Row("take traced clip", lambda x, i: jnp.take(x, i, axis=0, mode="clip"), A23,
        np.array([[3, -1], [0, 1]])),
    Row("take_along_axis", lambda x: jnp.take_along_axis(x, IDX, axis=1), R(2, 3)),
    Row("take_along_axis broadcast", lambda x: jnp.take_along_axis(
        x, np.array([[0, -1]]), axis=1), R(3, 4)),
    Row("take_along_axis axis 0", lambda x: jnp.take_along_axis(
        x, ORDER, axis=0), R(3, 2)),
    Row("take_along_axis None", lambda x: jnp.take_along_axis(x, np.array([4, 0]), axis=None),
        A23),
    Row("take_along_axis traced", lambda x, i: jnp.take_along_axis(x, i, axis=-1), A23,
        np.array([[2, 0], [-1, 1]]), batch=[0, 1]),
    Row("put_along_axis", lambda x, v: jnp.put_along_axis(x, IDX, v, axis=1, inplace=False),
        R(2, 3), R(2, 2)),
    Row("put_along_axis duplicates", lambda x, v: jnp.put_along_axis(
        x, np.array([[1, 1, 0]]), v, axis=1, inplace=False), R(2, 3), R(2, 3)),
    Row("put_along_axis traced", lambda x, i, v: jnp.put_along_axis(
        x, i, v, axis=1, inplace=False), R(2, 3), np.array([[2, 0], [-1, 2]]), R(2, 2),
        batch=[0, 1, 2]),
    Row("put_along_axis traced None", lambda x, i, v: jnp.put_along_axis(
        x, i, v, axis=None, inplace=False), R(2, 3), np.array([4, -6, 4], np.int32), R(3)),
    Row("put_along_axis scalar", lambda x, v: jnp.put_along_axis(
        x, np.array([[0], [2]]), v, axis=1, inplace=False), R(2, 3), R()),
    # --- diff, gradient, cross -----------------------------------------------------------------
    Row("array methods", lambda x: x.repeat(2, axis=0).take([0, 3], axis=0).trace()
        + x.diagonal(1).sum(), SQ),
    Row("diff", lambda x: jnp.diff(x), A23),
    Row("diff n axis", lambda x: jnp.diff(x, n=2, axis=0), R(5, 3)),
    Row("diff prepend append", lambda x: jnp.diff(x, prepend=0.5, append=x[:, :1]), A23),
    Row("diff int", lambda x: jnp.diff(x, axis=0), np.arange(6).reshape(3, 2) ** 2, grad=False),
    Row("diff bool", lambda x: jnp.diff(x > 1.0), R(6), grad=False),
    Row("diff size 1", lambda x: jnp.diff(x, axis=1), R(3, 1)),
    Row("gradient", lambda x: jnp.gradient(x), R(5, 4)),
    Row("gradient axis spacing", lambda x: jnp.gradient(x, 0.5, axis=-1, edge_order=2), R(5, 4)),
    Row("gradient coordinates", lambda x: jnp.gradient(x, np.array([0.0, 0.5, 1.5, 1.7, 3.0]),
                                                       axis=0), R(5, 4)),
    Row("gradient coordinates 2", lambda x: jnp.gradient(
        x, np.array([0.0, 0.5, 1.5, 1.7, 3.0]), 2.0, edge_order=2), R(5, 4)),
    Row("gradient traced coordinates", lambda x, c: jnp.gradient(x, jnp.cumsum(c)), R(5),
        R(5)),
    Row("gradient float32", lambda x: jnp.gradient(x, axis=(0, 1)), R(3, 3, dtype=np.float32)),
    Row("cross", jnp.cross, R(4, 3), R(3)),
    Row("cross axes", lambda a, b: jnp.cross(a, b, axisa=0, axisb=1, axisc=0), R(3, 2),
        R(2, 3)),
    Row("cross 2 and 3", jnp.cross, R(2, 2), R(2, 3)),
    # --- select, where, nan_to_num, clip -------------------------------------------------------
    Row("select", lambda x, y: jnp.select([x > 1, y > 1], [x, y * 2], 0.5), A23, V3),
    Row("select default array", lambda x, d: jnp.select([x > 1.2], [x], d), A23, R(2, 1)),
    Row("where scalars", lambda x: jnp.where(x > 1, 1.0, 0.0), A23, grad=False),
    Row("where scalar branch", lambda x: jnp.where(x > 1, x, 0.0), X32),
    Row("where broadcast", lambda x, y: jnp.where(x > 1, x, y), A23, R(2, 1)),
    Row("where int condition", lambda x: jnp.where(np.array([1, 0, 2]), x, -x), A23),
    Row("where nested", lambda x: jnp.where(x < 0.8, -x, jnp.where(x > 1.2, x * x, 1.0)), A23),
    Row("nan_to_num", lambda x: jnp.nan_to_num(jnp.log(x - 1.0) / (x - x[0, 0])), A23),
    Row("nan_to_num values", lambda x: jnp.nan_to_num(jnp.log(x - 1.0) / (x - x[0, 0]),
                                                      nan=-1.0, posinf=9.0), X32),
    Row("clip arrays", lambda x, lo, hi: jnp.clip(x, lo, hi), A23, R(3) - 0.2, R(2, 1) + 0.2),
    Row("clip one side", lambda x, hi: jnp.clip(x, None, hi), A23, V3),
    Row("clip min max keywords", lambda x: jnp.clip(x, min=0.8, max=1.2), A23),
    Row("clip int", lambda x: jnp.clip(x, 1, 3), np.arange(5), grad=False),
    # --- dtypes (integers and booleans stay so), size 0, 0-d, negative axes --------------------
    Row("einsum int8 sum", lambda a: jnp.einsum("ij->", a), INT.astype(np.int8), grad=False),
    Row("einsum bool sum", lambda a: jnp.einsum("ij->i", a), INT % 3 == 0, grad=False),
    Row("einsum size 0 broadcast", lambda a, b: jnp.einsum("ij,jk", a, b), R(0, 1), R(3, 2)),
    Row("einsum 0-d ellipsis", lambda a, b: jnp.einsum("...,...", a, b), R(), V3),
    Row("kron int", lambda a: jnp.kron(a, a[:1]), INT, grad=False),
    Row("tile 0-d", lambda a: jnp.tile(a, ()), R()),
    Row("tile zero", lambda a: jnp.tile(a, (0, 2)), X32),
    Row("pad int constant", lambda a: jnp.pad(a, 1, constant_values=1.7), INT, grad=False),
    Row("pad bool edge", lambda a: jnp.pad(a, 1, mode="edge"), INT % 3 == 0, grad=False),
    Row("pad reflect length 1", lambda a: jnp.pad(a, 3, mode="reflect"), R(1)),
    Row("roll int negative", lambda a: jnp.roll(a, (-5, 1), (0, -1)), INT, grad=False),
    Row("roll 0-d", lambda a: jnp.roll(a, 1), R()),
    Row("flip negative axis", lambda a: jnp.flip(a, -1), X32),
    Row("triu bool", lambda a: jnp.triu(a, 1), INT % 3 == 0, grad=False),
    Row("diag empty", lambda a: jnp.diag(a[:0], 2), V3),
    Row("trace bool", jnp.trace, INT % 3 == 0, grad=False),
    Row("take empty", lambda a: jnp.take(a, np.array([], int), axis=-1), X32),
    Row("take_along_axis size 0", lambda a: jnp.take_along_axis(a, np.zeros((3, 0), int), 1),
        X32),
    Row("put_along_axis int", lambda a: jnp.put_along_axis(a, np.array([[0], [1], [2]]), 2.7, 1,
                                                           inplace=False), INT, grad=False),
    Row("put_along_axis None", lambda a, v: jnp.put_along_axis(a, np.array([4, 0, 4]), v, None,
                                                               inplace=False), X32,
        R(3, dtype=np.float32)),
    Row("select int", lambda a: jnp.select([a > 3], [a], 7), INT, grad=False),
    Row("nan_to_num int", jnp.nan_to_num, INT, grad=False),
    Row("gradient int", lambda a: jnp.gradient(a, axis=-2), INT, grad=False),
    Row("cross int", lambda a: jnp.cross(a[:, :3], a[:, 1:]), INT, grad=False),
    Row("hstack mixed dtypes", lambda a: jnp.hstack([a, np.ones((3, 1), np.int32)]), X32),
    Row("append python scalar", lambda a: jnp.append(a, 1.0), X32),
    Row("array_split negative axis", lambda a: jnp.array_split(a, 3, axis=-1), INT * 1.0),
    Row("linspace int dtype", lambda a: jnp.linspace(a, 10.0, 4, dtype=int), R(), grad=False),
    Row("linspace empty", lambda a: jnp.linspace(a, 1.0, 0), R()),
    # --- lists and tuples of traced arrays; linspace -----------------------------------------
    Row("mean of list", lambda a, b: jnp.mean([a, b + 2]), R(), R()),
    Row("std of tuple", lambda a: jnp.std((a, a + 2)), R()),
    Row("sum of tuple axis", lambda a, b: jnp.sum((a, b), axis=0), A23, A23 * 3),
    Row("array of list", lambda x: jnp.array([x, x * 1.0, x + 2.5]), R()),
    Row("array nested", lambda x: jnp.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]), R()),
    Row("max of array list", lambda x: jnp.max(jnp.array([[x, x], [x, 0.5]]), axis=1), R()),
    Row("maximum of lists", lambda x: jnp.maximum([x, x, 0.5], [[x, 0.5, x], [x, x, 0.5]]),
        R()),
    Row("asarray mixed", lambda x: jnp.asarray([x, 1.0]), R(dtype=np.float32)),
    Row("concatenate nested lists", lambda x, y: jnp.concatenate([[x, y], [y]]), R(), R()),
    Row("where of lists", lambda x, y: jnp.where([True, False], [x, y], [y, x]), R(), R()),
    Row("linspace traced", lambda a, b: jnp.linspace(a, b, 5), R(), R() + 1),
    Row("linspace arrays", lambda a, b: jnp.linspace(a, b, 4, endpoint=False, axis=-1), V3,
        R(2, 1)),
    Row("linspace retstep", lambda a: jnp.linspace(0.0, a, 3, retstep=True), R()),
    Row("linspace one", lambda a, b: jnp.linspace(a, b, 1), R(), R()),
    Row("linspace float32", lambda a: jnp.linspace(a, 2.0, 3), R(dtype=np.float32)),
    # --- NumPy 2 / array-API names ---------------------------------------------------------------
    Row("acos asin atan", lambda x: jnp.acos(x - 1.0) + jnp.asin(x - 1.0) * jnp.atan(x), A23),
    Row("acosh asinh atanh", lambda x: jnp.acosh(x + 1.0) + jnp.asinh(x) * jnp.atanh(x - 1.0),
        A23),
    Row("atan2 pow", lambda x, y: jnp.atan2(x, y) + jnp.pow(x, y), A23, V3),
    Row("concat", lambda a, b: jnp.concat([a, b], axis=1), A23, R(2, 2)),
    Row("concat None", lambda a, b: jnp.concat((a, b), axis=None), A23, V3),
    Row("permute_dims", lambda x: jnp.permute_dims(x, (2, 0, 1)), T234),
    Row("matrix_transpose", jnp.matrix_transpose, T234),
    Row("cumulative_sum", lambda x: jnp.cumulative_sum(x), V4),
    Row("cumulative_sum initial", lambda x: jnp.cumulative_sum(x, axis=0, include_initial=True),
        A23),
    Row("cumulative_sum int8", lambda x: jnp.cumulative_sum(x, axis=-1), INT.astype(np.int8),
        grad=False),
    Row("cumulative_prod initial", lambda x: jnp.cumulative_prod(x, axis=1,
                                                                 include_initial=True), A23),
    Row("unstack", lambda x: jnp.unstack(x, axis=1), A23),
    Row("vecdot", jnp.vecdot, A23, V3),
    Row("vecdot axis", lambda a, b: jnp.vecdot(a, b, axis=0), R(3, 2), R(3, 1)),
    Row("vecdot int", jnp.vecdot, INT, INT[0], grad=False),
    Row("vecdot bool", lambda a: jnp.vecdot(a > 4, a % 2 == 0), INT, grad=False),
    Row("matvec", jnp.matvec, R(2, 3, 4), R(2, 4)),
    Row("vecmat", jnp.vecmat, V3, R(2, 3, 4)),
    Row("copy", lambda x: jnp.copy(x) * 2.0, A23),
    Row("empty_like", lambda x: jnp.where(x > 0, x, jnp.empty_like(x, dtype=np.float32)), A23),
    Row("isposinf isneginf", lambda x: (jnp.isposinf(1.0 / (x - x[0, 0])),
                                        jnp.isneginf(-1.0 / (x - x[0, 0]))), A23, grad=False),
    Row("isposinf int", jnp.isposinf, INT, grad=False),
    # --- NaN-ignoring reductions (the NaNs get no gradient) ------------------------------------
    Row("nansum", lambda x: jnp.nansum(x), NANS),
    Row("nansum axis keepdims", lambda x: jnp.nansum(x, axis=0, keepdims=True), NANS),
    Row("nansum all-NaN row", lambda x: jnp.nansum(x, axis=1), ALL_NAN_ROW),
    Row("nansum int", lambda x: jnp.nansum(x, axis=1), INT.astype(np.int8), grad=False),
    Row("nanprod", lambda x: jnp.nanprod(x, axis=1), NANS),
    Row("nanmean", lambda x: jnp.nanmean(x, axis=1), NANS),
    Row("nanmean all-NaN row", lambda x: jnp.nanmean(x, axis=1), ALL_NAN_ROW, grad=False),
    Row("nanmean float32", lambda x: jnp.nanmean(x), NANS.astype(np.float32)),
    Row("nanmean int", jnp.nanmean, INT, grad=False),
    Row("nanvar", lambda x: jnp.nanvar(x, axis=0), NANS),
    Row("nanvar ddof all-NaN", lambda x: jnp.nanvar(x, axis=1, ddof=3, keepdims=True),
        ALL_NAN_ROW, grad=False),
    Row("nanstd", lambda x: jnp.nanstd(x, axis=1, ddof=1), NANS),
    Row("nanmax", lambda x: jnp.nanmax(x, axis=1), NANS),
    Row("nanmin keepdims", lambda x: jnp.nanmin(x, axis=0, keepdims=True), NANS),
    Row("nanmax all-NaN row", lambda x: jnp.nanmax(x, axis=1), ALL_NAN_ROW, grad=False),
    Row("nanmin int", jnp.nanmin, INT, grad=False),
    Row("nanargmax", lambda x: jnp.nanargmax(x, axis=1), NANS, grad=False),
    Row("nanargmin", lambda x: jnp.nanargmin(x), NANS, grad=False),
    Row("nanargmin keepdims", lambda x: jnp.nanargmin(x, axis=0, keepdims=True), NANS,
        grad=False),
    Row("nancumsum", lambda x: jnp.nancumsum(x, axis=1), NANS),
    Row("nancumprod", lambda x: jnp.nancumprod(x), NANS),
    # --- more elementwise functions ------------------------------------------------------------
    Row("cbrt", lambda x: jnp.cbrt(x - 1.0), A23),
    Row("cbrt exact", lambda x: jnp.cbrt(x), np.array([-8.0, 27.0, -0.0, -np.inf, 1e-310]),
        grad=False),
    Row("cbrt float32", jnp.cbrt, X32),
    Row("i0", lambda x: jnp.i0(x * 4.0 - 3.0), A23),
    Row("i0 large", jnp.i0, np.array([-30.0, 0.0, 700.0]), grad=False),
    Row("modf", lambda x: jnp.modf(x * 4.0 - 4.0), A23),
    Row("modf special", jnp.modf, np.array([-3.0, -0.0, np.inf, -np.inf, np.nan]), grad=False),
    Row("ldexp", lambda x: jnp.ldexp(x, np.array([3, -2, 0])), A23),
    Row("ldexp range", jnp.ldexp, np.array([1e-300, 5e-324, 1.5, 1.0, -2.0]),
        np.array([1100, 2000, -1080, 10 ** 6, -10 ** 6]), grad=False),
    Row("ldexp float32", lambda x: jnp.ldexp(x, 2), X32),
    Row("frexp", lambda x: jnp.frexp(x * 40.0 - 41.0), A23),
    Row("frexp special", jnp.frexp, np.array([0.0, -0.0, np.inf, np.nan, 5e-324, 2.0 ** -1022,
                                              np.finfo(np.float64).max, 0.5]), grad=False),
    Row("frexp float32", jnp.frexp, X32),
    Row("nextafter", jnp.nextafter, np.array([0.0, -0.0, 1.0, 1.0, np.inf, 2.0 ** -1022, 0.5]),
        np.array([-1.0, 0.0, 0.0, 2.0, 0.0, 0.0, -np.inf]), grad=False),
    Row("nextafter float32 broadcast", lambda x: jnp.nextafter(x, np.float32(1.0)), X32,
        grad=False),
    Row("spacing", jnp.spacing, np.array([0.0, -0.0, 1.0, -1.0, np.inf, 5e-324, 1e300]),
        grad=False),
    Row("gcd", jnp.gcd, INT - 5, np.int64(6), grad=False),
    Row("gcd int8 extremes", jnp.gcd, np.array([-128, 0, 0, 12, -9], np.int8),
        np.array([0, 0, 7, -8, 6], np.int8), grad=False),
    Row("lcm", jnp.lcm, INT - 5, np.array([4, 0, -6, 9]), grad=False),
    # --- counting and weighting ----------------------------------------------------------------
    Row("count_nonzero", lambda x: jnp.count_nonzero(x > 1.0, axis=1), A23, grad=False),
    Row("count_nonzero all", jnp.count_nonzero, INT - 3, grad=False),
    Row("ptp", lambda x: jnp.ptp(x, axis=0), A23),
    Row("ptp int8 wraps", jnp.ptp, np.array([127, -128, 3], np.int8), grad=False),
    Row("average", jnp.average, A23),
    Row("average weights", lambda x, w: jnp.average(x, weights=w), A23, R(2, 3)),
    Row("average axis weights returned", lambda x, w: jnp.average(
        x, axis=1, weights=w, returned=True, keepdims=True), A23, V3),
    Row("average int", lambda x: jnp.average(x, axis=0, weights=np.arange(3)), INT,
        grad=False),
    Row("bincount", lambda x: jnp.bincount(x, length=5), np.array([0, 2, 2, 4, 1, 2]),
        grad=False, batch=[0]),
    Row("bincount weights minlength", lambda w: jnp.bincount(np.array([3, 0, 3]), w,
                                                             minlength=6), V3),
    Row("bincount traced weights", lambda x, w: jnp.bincount(x, w, length=4),
        np.array([1, 1, 3]), V3, batch=[0, 1]),
    Row("ediff1d", lambda x: jnp.ediff1d(x, to_begin=-9.0, to_end=x[0]), A23),
    Row("ediff1d int", lambda x: jnp.ediff1d(x, to_end=[1, 2]), INT.astype(np.int8), grad=False),
    # --- statistics and 1-d signals ------------------------------------------------------------
    Row("searchsorted", lambda a, v: jnp.searchsorted(a, v), np.array([0.5, 1.0, 1.0, 2.0]),
        np.array([[1.0, 0.2], [np.nan, 3.0]]), grad=False),
    Row("searchsorted right", lambda a, v: jnp.searchsorted(a, v, side="right"),
        np.array([0.5, 1.0, 1.0, np.nan]), np.array([1.0, np.nan, 0.1, 7.0]), grad=False),
    Row("searchsorted sorter", lambda a, v: jnp.searchsorted(a, v, sorter=np.argsort(a)),
        np.array([3.0, 1.0, 2.0]), np.array(1.5), grad=False, batch=[1]),
    Row("searchsorted int", lambda a: jnp.searchsorted(a, np.array([2, 7])), np.arange(0, 10, 3),
        grad=False),
    Row("digitize", lambda x: jnp.digitize(x, np.array([0.0, 0.7, 1.2, 2.0])), A23, grad=False),
    Row("digitize right decreasing", lambda x: jnp.digitize(x, np.array([2.0, 1.0, 0.8]),
                                                            right=True),
        np.array([1.0, 0.8, 3.0, 0.1]), grad=False),
    Row("digitize traced bins", lambda x, b: jnp.digitize(x, b), A23, np.array([0.6, 1.0, 1.3]),
        grad=False),
    Row("interp", lambda x, xp, fp: jnp.interp(x, xp, fp), np.array([0.3, 1.7, 2.2, 3.9]),
        np.array([0.0, 1.0, 2.5, 4.0]), np.array([1.0, -2.0, 0.5, 3.0])),
    Row("interp outside", lambda x, fp: jnp.interp(x, np.array([0.0, 1.0, 1.0, 2.0]), fp,
                                                   left=-7.0, right=fp[1]),
        np.array([-1.0, 0.0, 1.0, 1.5, 2.0, 5.0]), np.array([1.0, -2.0, 4.0, 3.0]), grad=False),
    Row("interp repeated knots", lambda x, fp: jnp.interp(x, np.array([2.0, 2.0, 4.0, 4.0]), fp),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.2, 1.7, 0.6, 0.3]), grad=False),
    Row("interp period", lambda x, xp, fp: jnp.interp(x, xp, fp, period=2.0),
        np.array([-1.2, 0.3, 2.9, 7.7]), np.array([0.1, 1.5, 0.7]), np.array([1.0, 2.0, 0.5])),
    Row("interp float32 one point", lambda x: jnp.interp(x, np.array([1.0]), np.array([2.0])),
        X32, grad=False),
    Row("trapezoid", lambda y: jnp.trapezoid(y), A23),
    Row("trapezoid x", lambda y, x: jnp.trapezoid(y, x, axis=0), R(3, 2),
        np.array([0.0, 0.5, 2.0])),
    Row("trapezoid x N-d dx", lambda y, x: jnp.trapezoid(y, x) + jnp.trapezoid(y, dx=0.3),
        A23, R(2, 3)),
    Row("trapezoid int", lambda y: jnp.trapezoid(y, dx=2), INT, grad=False),
    Row("cov", jnp.cov, R(3, 5)),
    Row("cov columns y", lambda m, y: jnp.cov(m, y, rowvar=False), R(5, 2), R(5)),
    Row("cov bias ddof", lambda m: jnp.cov(m, bias=True) + jnp.cov(m, ddof=2), R(2, 4)),
    Row("cov weights", lambda m: jnp.cov(m, fweights=np.array([1, 2, 0, 3]),
                                         aweights=np.array([0.5, 1.0, 2.0, 0.1])), R(2, 4)),
    Row("cov traced weights", lambda m, a: jnp.cov(m, aweights=a, ddof=0), R(2, 4), R(4)),
    Row("cov fweights ddof", lambda m: jnp.cov(m, fweights=np.array([1, 2, 1, 3]), ddof=3),
        R(2, 4)),
    Row("cov vector float32", jnp.cov, R(4, dtype=np.float32)),
    Row("cov int", jnp.cov, INT, grad=False),
    Row("corrcoef", jnp.corrcoef, R(3, 4)),
    Row("corrcoef y columns", lambda x, y: jnp.corrcoef(x, y, rowvar=False), R(4, 2), R(4, 1)),
    Row("corrcoef scalar", jnp.corrcoef, R(1, 3), grad=False),
    Row("convolve", jnp.convolve, R(5), R(3)),
    Row("convolve same swapped", lambda a, v: jnp.convolve(a, v, "same"), R(2), R(5)),
    Row("convolve valid", lambda a, v: jnp.convolve(a, v, mode="valid"), R(6), R(4)),
    Row("convolve same even", lambda a, v: jnp.convolve(a, v, "same"), R(6), R(4)),
    Row("convolve int", jnp.convolve, np.arange(5), np.array([1, -2, 3]), grad=False),
    Row("convolve int8 wraps", jnp.convolve, np.array([100, 90, -7], np.int8),
        np.array([3, 2], np.int8), grad=False),
    Row("convolve bool", jnp.convolve, np.array([True, False, False, True]),
        np.array([False, True]), grad=False),
    Row("convolve float32 scalar", jnp.convolve, X32[:, 0], R(dtype=np.float32)),
    Row("correlate", jnp.correlate, R(5), R(3)),
    Row("correlate full swapped", lambda a, v: jnp.correlate(a, v, "full"), R(2), R(4)),
    Row("correlate swapped same valid", lambda a, b, v: (
        jnp.correlate(a, v, "same"), jnp.correlate(b, v, "same"), jnp.correlate(a, v)),
        R(2), R(4), R(5)),
    Row("correlate same int", lambda a: jnp.correlate(a, np.array([1, 0, 2, 5]), "same"),
        np.arange(6), grad=False),
    Row("unwrap", jnp.unwrap, np.array([0.0, 2.0, 4.0, 7.0, 3.0, -1.0, -9.0])),
    Row("unwrap axis discont period", lambda p: jnp.unwrap(p, discont=1.0, axis=0, period=3.0),
        R(4, 2) * np.array([[1.0], [3.0], [0.2], [5.0]])),
    Row("unwrap int", lambda p: jnp.unwrap(p, period=6), np.array([0, 2, 5, 9, -4]),
        grad=False),
    # --- polynomials ---------------------------------------------------------------------------
    Row("polyval", jnp.polyval, V4, A23),
    Row("polyval int", lambda p: jnp.polyval(p, 3), np.array([1, -2, 5]), grad=False),
    Row("polyval float32 python x", lambda p: jnp.polyval(p, 0.5), X32[:, 0]),
    Row("polyadd", jnp.polyadd, V3, R(5)),
    Row("polyadd scalar", jnp.polyadd, R(), V3),
    Row("polysub", jnp.polysub, R(5), V3),
    Row("polysub int", lambda a: jnp.polysub(a, np.array([1, 1])), np.arange(4), grad=False),
    Row("polymul", jnp.polymul, V3, R(4)),
    Row("polymul int", lambda a: jnp.polymul(a, np.array([2, -1])), np.arange(1, 4), grad=False),
    Row("polyder", jnp.polyder, R(5)),
    Row("polyder m", lambda p: jnp.polyder(p, 2), R(4, dtype=np.float32)),
    Row("polyder past degree", lambda p: jnp.polyder(p, 4), V3),
    Row("polyint", jnp.polyint, V4),
    Row("polyint m k", lambda p, k: jnp.polyint(p, 2, k), V3, R(2)),
    Row("polyint scalar k", lambda p: jnp.polyint(p, 3, 0.5), V3),
    Row("polydiv", lambda u, v: (lambda q, r: (q, r[-2:]))(*jnp.polydiv(u, v)), R(5) + 1.0,
        R(3) + 1.0),
    Row("polydiv lower degree", lambda u, v: jnp.polydiv(u, v), V3, R(5) + 1.0),
    Row("vander", jnp.vander, V4),
    Row("vander N increasing", lambda x: jnp.vander(x, 5, increasing=True), V3),
    Row("vander N 1 and 0", lambda x: (jnp.vander(x, 1), jnp.vander(x, 0)), V3),
    Row("vander int float32", lambda x, y: (jnp.vander(x), jnp.vander(y, 3)),
        np.arange(3), X32[:, 0], batch=[1]),
    Row("polyfit", lambda x, y: jnp.polyfit(x, y, 2), np.linspace(0.0, 2.0, 6), R(6)),
    Row("polyfit w columns", lambda x, y, w: jnp.polyfit(x, y, 1, w=w),
        np.linspace(-1.0, 2.0, 5), R(5, 2), R(5)),
    Row("poly", jnp.poly, V3),
    Row("poly int", jnp.poly, np.array([1, -2, 3]), grad=False),
    # --- assembling, editing, applying along axes ----------------------------------------------
    Row("broadcast_arrays", jnp.broadcast_arrays, V3, R(2, 1), R()),
    Row("block 2-d", lambda a, b, c: jnp.block([[a, b], [c, c[:, :1]]]), A23, R(2, 1),
        R(3, 3)),
    Row("block vectors", lambda a, b: jnp.block([a, b, 1.5]), V3, V4),
    Row("block mixed ranks", lambda a, b: jnp.block([[a], [b]]), A23, V3),
    Row("apply_along_axis", lambda a: jnp.apply_along_axis(lambda v: jnp.sum(v ** 3), 1, a),
        T234),
    Row("apply_along_axis vector", lambda a: jnp.apply_along_axis(jnp.cumsum, 0, a), A23),
    Row("apply_along_axis matrix args", lambda a: jnp.apply_along_axis(
        lambda v, s: jnp.outer(v, v) * s, -2, a, 2.0), T234),
    Row("apply_over_axes", lambda a: jnp.apply_over_axes(jnp.sum, a, [0, -1]), T234),
    Row("apply_over_axes mean", lambda a: jnp.apply_over_axes(jnp.mean, a, 1), A23),
    Row("piecewise", lambda x: jnp.piecewise(x, [x < 0.8, x > 1.2],
                                             [lambda v: v * 2, lambda v: v ** 2, 1.0]), A23),
    Row("piecewise args overlap", lambda x, y: jnp.piecewise(
        x, [x < 1.0, x < 1.2], [lambda v, s: v * s, lambda v, s: -v], y), A23, R()),
    Row("piecewise int", lambda x: jnp.piecewise(x, [x > 4], [lambda v: v * 1.5 + 0.6]), INT,
        grad=False),
    Row("choose", lambda a, b, c: jnp.choose(np.array([[0, 2, 1], [1, 0, 2]]), [a, b, c]), A23,
        V3, R(2, 1)),
    Row("choose wrap traced", lambda i, a, b: jnp.choose(i, [a, b], mode="wrap"),
        np.array([3, -2, 0]), V3, R(2, 1), batch=[0, 1, 2]),
    Row("choose clip int", lambda i: jnp.choose(i, [np.arange(3), 7, -i], mode="clip"),
        np.array([-1, 1, 4]), grad=False),
    Row("insert scalar axis", lambda a, v: jnp.insert(a, 1, v, axis=1), A23, R(2)),
    Row("insert sequence flat", lambda a: jnp.insert(a, [0, 2, 2, -1], [9.0, 8.0, 7.0, 6.0]),
        A23),
    Row("insert slice traced values", lambda a, v: jnp.insert(a, slice(None, None, 2), v,
                                                              axis=0), R(3, 2), R(2)),
    Row("insert end int", lambda a: jnp.insert(a, 4, 2.7, axis=1), INT, grad=False),
    Row("delete", lambda a: jnp.delete(a, 1, axis=1), A23),
    Row("delete flat list", lambda a: jnp.delete(a, [0, -1, 3]), A23),
    Row("delete slice mask", lambda a: (jnp.delete(a, slice(1, None, 2), 0),
                                        jnp.delete(a, np.array([True, False, True, False]), 1)),
        R(4, 4)),
    Row("resize", lambda a: jnp.resize(a, (2, 4)), V3),
    Row("resize smaller scalar", lambda a: (jnp.resize(a, 4), jnp.resize(a, (0, 2))), A23),
    Row("fill_diagonal", lambda a: jnp.fill_diagonal(a, 2.0, inplace=False), SQ),
    Row("fill_diagonal tall wrap", lambda a, v: jnp.fill_diagonal(a, v, wrap=True,
                                                                  inplace=False), R(7, 2), R(2)),
    Row("fill_diagonal tall 3-d", lambda a: (jnp.fill_diagonal(a[:, :3], 0.5, inplace=False),
                                            jnp.fill_diagonal(jnp.ones((2, 2, 2)) * a[0, 0],
                                                              1.0, inplace=False)), R(5, 3)),
    Row("fill_diagonal int", lambda a: jnp.fill_diagonal(a, 7.9, inplace=False), INT,
        grad=False),
    Row("diag_indices_from", lambda a: a[jnp.diag_indices_from(a)], SQ),
    Row("isin", lambda a, b: jnp.isin(a, b), np.array([[1.0, 2.0], [np.nan, 4.0]]),
        np.array([4.0, np.nan, 1.0]), grad=False),
    Row("isin invert int", lambda a: jnp.isin(a, [2, 5, 11], invert=True), INT, grad=False),
    Row("vectorize", lambda a, b: jnp.vectorize(lambda x, y: x * jnp.sin(y))(a, b), A23, V3),
    Row("vectorize signature", lambda a, b: jnp.vectorize(
        lambda x, y: jnp.dot(x, y), signature="(n),(n)->()")(a, b), T234, V4),
    Row("vectorize excluded", lambda a, b: jnp.vectorize(
        lambda x, p: x * p[0] + p[1], excluded={1})(a, b), A23, R(2)),
    Row("vectorize keyword", lambda a, b: jnp.vectorize(lambda x, y=1.0: x - y)(a, y=b),
        A23, R(2, 1)),
    # --- data-dependent shapes: JAX's size= and fill_value= under tracing -----------------------
    Row("nonzero size", lambda a: jnp.nonzero(a > 1.0, size=4), A23, grad=False),
    Row("nonzero fill per axis", lambda a: jnp.nonzero(a % 3, size=10, fill_value=(-1, -2)),
        INT, grad=False),
    Row("argwhere size", lambda a: jnp.argwhere(a > 1.0, size=3, fill_value=9), T234,
        grad=False),
    Row("where one argument size", lambda a: jnp.where(a > 1.0, size=4, fill_value=-1), A23,
        grad=False),
    Row("flatnonzero size", lambda a: jnp.flatnonzero(a > 1.0, size=7, fill_value=-1), A23,
        grad=False),
    Row("unique size", lambda a: jnp.unique(a, size=4), R(6)),
    Row("unique padded", lambda a: jnp.unique(jnp.round(a * 2), size=9, fill_value=-1.0),
        R(3, 3), grad=False),
    Row("unique nan", lambda a: jnp.unique(a, size=6),
        np.array([3.0, np.nan, 1.0, 3.0, np.nan, 2.0]), grad=False),
    Row("unique everything", lambda a: jnp.unique(a, True, True, True, size=5), INT % 4 * 3,
        grad=False),
    Row("unique_values counts", lambda a: (jnp.unique_values(a, size=4),
                                           tuple(jnp.unique_counts(a, size=4))), INT // 3,
        grad=False),
    Row("unique_inverse all", lambda a: (tuple(jnp.unique_inverse(a, size=3)),
                                         tuple(jnp.unique_all(a, size=5))),
        np.array([[2.0, 1.0], [2.0, 0.5]]), grad=False),
    Row("union1d", lambda a, b: jnp.union1d(a, b, size=8), INT % 5, np.array([7, 1, 9]),
        grad=False),
    Row("intersect1d", lambda a, b: jnp.intersect1d(a, b, size=3, fill_value=-1), INT % 5,
        np.array([7, 1, 4, 4]), grad=False),
    Row("setdiff1d", lambda a, b: jnp.setdiff1d(a, b, size=4), np.array([3.0, 1.0, 1.0, 5.0]),
        np.array([[5.0], [2.0]]), grad=False),
    Row("setxor1d", lambda a, b: jnp.setxor1d(a, b, size=5), np.array([3, 1, 1, 5, 8]),
        np.array([5, 2, 9, 2]), grad=False),
    Row("compress static", lambda a: jnp.compress([True, False, True], a, axis=1), A23),
    Row("compress static flat", lambda a: jnp.compress(np.array([0, 1, 1, 0, 1]), a), A23),
    Row("compress traced", lambda c, a: jnp.compress(c > 1.0, a, axis=0, size=2,
                                                     fill_value=-1.0), V3, R(3, 2)),
    Row("extract", lambda a: jnp.extract(a > 1.0, a, size=6), A23),
    Row("extract static", lambda a: jnp.extract(np.eye(2, 3), a), A23),
    # --- windows, lexsort -----------------------------------------------------------------------
    Row("windows", lambda a: (a * jnp.bartlett(4), a * jnp.blackman(4), a * jnp.hamming(4),
                              a * jnp.hanning(4), a * jnp.kaiser(4, 3.0)), V4),
    Row("kaiser traced beta", lambda b: jnp.kaiser(5, b) + jnp.kaiser(1, b), R() * 4),
    Row("lexsort", lambda a, b: jnp.lexsort((a, b)), np.array([3.0, 1.0, 2.0, 1.0, np.nan]),
        np.array([1.0, 0.0, 1.0, 0.0, 0.0]), grad=False),
    Row("lexsort 2-d keys axis", lambda k: jnp.lexsort(k, axis=0),
        np.array([[[1, 0], [1, 1], [0, 1]], [[2, 2], [1, 1], [2, 1]]]), grad=False),
    # --- put, place, array_equiv, einsum_path ---------------------------------------------------
    Row("put", lambda a, v: jnp.put(a, [0, -1, 3], v, inplace=False), A23, R(2)),
    Row("put wrap clip", lambda a: (jnp.put(a, [7, -8], 0.5, mode="wrap", inplace=False),
                                    jnp.put(a, [7, -8], 0.5, mode="clip", inplace=False)), A23),
    Row("put traced indices", lambda a, i: jnp.put(a, i, 2.0, mode="wrap", inplace=False), V4,
        np.array([5, 1])),
    Row("put int", lambda a: jnp.put(a, 2, 9.7, inplace=False), INT, grad=False),
    Row("place", lambda a, v: jnp.place(a, a > 1.0, v, inplace=False), A23, R(2)),
    Row("place int", lambda a: jnp.place(a, a % 3 == 0, [-1, -2], inplace=False), INT,
        grad=False),
    Row("array_equiv", lambda a: (jnp.array_equiv(a, a[:1]), jnp.array_equiv(a, a[:, :2]),
                                  jnp.array_equiv(a[:1], a[1:])),
        np.array([[1.0, 2.0], [1.0, 2.0]]), grad=False),
    Row("einsum with einsum_path", lambda a, b, c: jnp.einsum(
        "ij,jk,kl->il", a, b, c, optimize=jnp.einsum_path("ij,jk,kl->il", a, b, c)[0]), A23, B34,
        R(4, 2)),
]


def _numpy(row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # row_stack, cross of 2-vectors
        return row.f(*row.args)


def _traced(f, *args):
    ir = jg.make_ir(f)(*args)
    return eval_ir(ir, *tree_leaves(args))


def _assert_same(got, expected, rtol=1e-12):
    got, expected = tree_leaves(got), tree_leaves(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        tol = 1e-5 if e.dtype == np.float32 else rtol
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_values_match_numpy(row):
    _assert_same(_traced(row.f, *row.args), _numpy(row))


def _cotangent(out):
    return jg.tree_util.tree_map(lambda y: np.cos(np.arange(np.size(y))).reshape(np.shape(y))
                                 .astype(np.asarray(y).dtype), out)


def _float_args(row):
    diff = [i for i, a in enumerate(row.args) if is_float(np.asarray(a).dtype)]

    def f(*xs):
        full = list(row.args)
        for i, x in zip(diff, xs, strict=True):
            full[i] = x
        return row.f(*full)

    return f, [row.args[i] for i in diff]


@pytest.mark.parametrize("row", [r for r in ROWS if r.jit], ids=repr)
def test_jit_forward_and_reverse(row):
    """One compiled program per row: the value and (where differentiable) its vjp."""
    expected = _numpy(row)
    if not row.grad:
        _assert_same(jg.jit(row.f)(*row.args), expected)
        return
    ct = _cotangent(expected)
    f, args = _float_args(row)

    def value_and_vjp(*args):
        out, f_vjp = jg.vjp(f, *args)
        return out, f_vjp(ct)

    out, grads = jg.jit(value_and_vjp)(*args)
    _assert_same(out, expected)
    _, f_vjp = jg.vjp(f, *args)
    _assert_same(grads, f_vjp(ct), rtol=1e-10)


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad], ids=repr)
def test_derivatives(row):
    f, args = _float_args(row)
    jg.check_grads(f, args, order=row.order)


@pytest.mark.parametrize("row", [r for r in ROWS if r.batch], ids=repr)
def test_vmap_matches_a_loop(row):
    examples = [list(row.args) for _ in range(3)]
    for k, ex in enumerate(examples):
        for i in row.batch:
            a = np.asarray(ex[i])
            ex[i] = (a * (1 + 0.25 * k) + 0.1 * k).astype(a.dtype) if is_float(a.dtype) else \
                np.roll(a, k)
    in_axes = tuple(0 if i in row.batch else None for i in range(len(row.args)))
    stacked = [np.stack([ex[i] for ex in examples]) if i in row.batch else row.args[i]
               for i in range(len(row.args))]
    got = jg.vmap(row.f, in_axes=in_axes)(*stacked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        per = [row.f(*ex) for ex in examples]
    expected = [np.stack(leaves) for leaves in zip(*[tree_leaves(p) for p in per], strict=True)]
    _assert_same(tree_leaves(got), expected)


def test_put_along_axis_drops_traced_indices_out_of_range():
    """As x.at[...].set does (JAX's default); in-range duplicates: the last value wins."""
    x, v = np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    i = np.array([[3, 0, -4], [1, 1, -3]])
    expected = np.array([[2.0, 0.0, 0.0], [6.0, 5.0, 0.0]])
    def f(x, i, v):
        return jnp.put_along_axis(x, i, v, 1, inplace=False)
    np.testing.assert_array_equal(jg.jit(f)(x, i, v), expected)
    np.testing.assert_array_equal(_traced(f, x, i, v)[0], expected)


def test_traced_methods_nonzero_compress_searchsorted():
    """JAX's array methods (numpy's ndarray.nonzero takes no size=): as the functions."""
    def methods(a):
        return (a.nonzero(size=3), a.compress(a[0] > 1.0, axis=1, size=2),
                jnp.sort(a[0]).searchsorted(a[1]))

    def functions(a):
        return (jnp.nonzero(a, size=3), jnp.compress(a[0] > 1.0, a, axis=1, size=2),
                jnp.searchsorted(jnp.sort(a[0]), a[1]))

    _assert_same(jg.jit(methods)(A23), functions(A23))


def test_kaiser_is_finite_where_numpy_overflows():
    """NB: numpy's I0(beta) overflows beyond beta ~ 713 (its window is NaN there); the ratio of
    scaled Bessel functions stays finite, and agrees with SciPy's i0e formed the same way."""
    from scipy.special import i0e
    beta = 800.0
    r = (np.arange(6) - 2.5) / 2.5
    arg = beta * np.sqrt(1 - r * r)
    expected = i0e(arg) / i0e(beta) * np.exp(arg - beta)
    got = jg.jit(lambda b: jnp.kaiser(6, b))(beta)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert np.isfinite(jg.grad(lambda b: jnp.sum(jnp.kaiser(6, b)))(beta))


def test_two_operand_einsum_is_one_matmul():
    """A contraction with free axes on both sides reaches the matmul kernel: one matmul
    equation, the transposes folded into its flags where the layout allows."""
    cases = [("ij,jk->ik", A23, B34), ("ij,kj->ik", A23, R(4, 3)), ("ji,jk->ik", R(3, 2), B34),
             ("bij,bjk->bik", R(2, 2, 3), R(2, 3, 4)),
             ("bhqd,bhkd->bhqk", R(2, 2, 3, 4), R(2, 2, 5, 4)), ("ij,jk->ki", A23, B34)]
    for spec, a, b in cases:
        ir = jg.make_ir(lambda a, b, spec=spec: jnp.einsum(spec, a, b))(a, b)
        assert [e.prim.name for e in ir.eqns] == ["matmul"], (spec, str(ir))
    ir = jg.make_ir(lambda a, b: jnp.tensordot(a, b, 2))(R(2, 3, 4), R(3, 4, 5))
    assert [e.prim.name for e in ir.eqns].count("matmul") == 1


def test_structural_functions_need_no_gather():
    """Flips, rolls, reflect/wrap/edge padding, repeats, tiles and diagonals are slices,
    broadcasts and reshapes (index maps in compiled kernels), not gathers."""
    fs = [lambda x: jnp.flip(x), lambda x: jnp.roll(x, 1, 1), lambda x: jnp.rot90(x),
          lambda x: jnp.pad(x, 2, mode="reflect"), lambda x: jnp.pad(x, 1, mode="wrap"),
          lambda x: jnp.pad(x, 1, mode="edge"), lambda x: jnp.repeat(x, 2, 0),
          lambda x: jnp.tile(x, 2), lambda x: jnp.diagonal(x), lambda x: jnp.trace(x),
          lambda x: jnp.diag(x[0]), lambda x: jnp.einsum("ii->i", x)]
    for f in fs:
        names = {e.prim.name for e in jg.make_ir(f)(SQ).eqns}
        assert "gather" not in names and "scatter_add" not in names, names


def test_numpy_functions_on_traced_arrays_dispatch_here():
    """numpy's own functions called on traced arrays run jitgrad's (and an in-place numpy
    update of a traced array is refused, not silently dropped)."""
    def f(a, b):
        c = np.einsum("ij,jk->ik", a, b) + np.kron(np.eye(1), np.tensordot(a, b, 1))
        d = np.pad(np.roll(c, 1, axis=0), 1, mode="reflect")
        return np.sum(np.diff(d, axis=1)) + np.trace(np.tril(c)) + np.sum(np.stack(
            np.meshgrid(a[0], b[0]), axis=0).ravel()[:3])
    _assert_same(_traced(f, A23, B34)[0], f(A23, B34))
    jg.check_grads(f, (A23, B34), order=1)
    with pytest.raises(UnsupportedError, match="inplace=False"):
        jg.grad(lambda x: np.put_along_axis(x, IDX, 0.0, 1))(R(2, 3))


ERRORS = [
    (lambda a, b: jnp.einsum("ij,jk", a, b), (A23, R(4, 4)), ShapeError, "label 'j'"),
    (lambda a, b: jnp.einsum("ij,jk", a, b, optimize=["einsum_path"]), (A23, B34), ShapeError,
     "uncontracted"),
    (lambda a, b: jnp.einsum("ij,jk", a, b, optimize=["einsum_path", (0, 2)]), (A23, B34),
     ShapeError, "beyond"),
    (lambda a: jnp.einsum("ij,jk", a), (A23,), ShapeError, "2 operands"),
    (lambda a: jnp.einsum("ijk", a), (A23,), ShapeError, "subscripts"),
    (lambda a: jnp.einsum("ii", a), (A23,), ShapeError, "label 'i' has size 3"),
    (lambda a: jnp.einsum("i.j", a), (A23,), ShapeError, "ellipsis"),
    (lambda a: jnp.einsum("i1", a), (A23,), ShapeError, "invalid subscript '1'"),
    (lambda a: jnp.einsum("ij->ii", a), (A23,), ShapeError, "more than once"),
    (lambda a: jnp.einsum("ij->k", a), (A23,), ShapeError, "never appears"),
    (lambda a: jnp.einsum("...i->i", a), (A23,), ShapeError, "'...'"),
    (lambda a: jnp.einsum("ij", a, dtype=np.float32), (A23,), JitgradTypeError, "cast"),
    (lambda a, b: jnp.tensordot(a, b, 1), (A23, R(4, 3)), ShapeError, "shape-mismatch"),
    (lambda a, b: jnp.dot(a, b), (A23, R(4, 3)), ShapeError, "not aligned"),
    (lambda a, b: jnp.inner(a, b), (A23, R(3, 2)), ShapeError, "last dimensions"),
    (lambda a, b: jnp.vdot(a, b), (A23, R(5)), ShapeError, "different sizes"),
    (lambda a: jnp.repeat(a, [1, 2], axis=1), (A23,), ShapeError, "2 repeats"),
    (lambda a, r: jnp.repeat(a, r), (A23, np.int64(2)), TracerError, "concrete"),
    (lambda a: jnp.split(a, 2, axis=1), (A23,), ShapeError, "equal division"),
    (lambda a: jnp.array_split(a, 0), (A23,), ShapeError, "larger than 0"),
    (lambda a: jnp.vsplit(a, 1), (V3,), ShapeError, "2 or more dimensions"),
    (lambda a: jnp.pad(a, -1), (A23,), ShapeError, "negative"),
    (lambda a: jnp.pad(a, 1, mode="mean"), (A23,), UnsupportedError, "'mean'"),
    (lambda a: jnp.pad(a, 1, mode="reflect", reflect_type="odd"), (A23,), UnsupportedError,
     "odd"),
    (lambda a: jnp.rot90(a, axes=(0, 0)), (A23,), ShapeError, "different axes"),
    (lambda a: jnp.diagonal(a), (V3,), ShapeError, "two dimensions"),
    (lambda a: jnp.diag(a), (T234,), ShapeError, "1- or 2-d"),
    (lambda a: jnp.take(a, [6]), (A23,), IndexError, "out of bounds"),
    (lambda a: jnp.take_along_axis(a, np.array([[3]]), 1), (A23,), IndexError, "out of bounds"),
    (lambda a: jnp.take_along_axis(a, np.array([1]), 1), (A23,), ShapeError, "dimensions"),
    (lambda a, v: jnp.put_along_axis(a, np.array([[0]]), v, 1), (A23, R()), UnsupportedError,
     "inplace=False"),
    (lambda a: jnp.diff(a, n=-1), (A23,), ShapeError, "non-negative"),
    (lambda a: jnp.gradient(a[:1]), (A23,), ShapeError, "too small"),
    (lambda a: jnp.gradient(a, 1.0, 2.0, 3.0), (A23,), ShapeError, "spacing"),
    (lambda a, b: jnp.cross(a, b), (R(4), R(3)), ShapeError, "dimension must be 2 or 3"),
    (lambda a: jnp.select([a], [a]), (A23,), JitgradTypeError, "boolean"),
    (lambda a: jnp.clip(a, 0.0, a_max=1.0, max=2.0), (A23,), JitgradTypeError, "not both"),
    (lambda a: jnp.linspace(0.0, a, 3.5), (R(),), TypeError, "integer"),
    (lambda a: jnp.arange(a), (R(),), TracerError, "jnp.arange"),
    (lambda a, n: jnp.linspace(0.0, a, n), (R(), np.int64(3)), TracerError, "num"),
    (lambda a: jnp.array([a, np.ones(2)]), (V3,), ShapeError, "same shape"),
    (lambda a: jnp.matrix_transpose(a), (V3,), ShapeError, "at least 2-dimensional"),
    (lambda a: jnp.cumulative_sum(a), (A23,), ShapeError, "axis="),
    (lambda a, b: jnp.vecdot(a, b), (A23, V4), ShapeError, "differ in length"),
    (lambda a: jnp.left_shift(a, 1), (A23,), JitgradTypeError, "integer or boolean"),
    (lambda a: jnp.bincount(a), (np.array([1, 2]),), TracerError, "length="),
    (lambda a: jnp.bincount(a, length=3), (V3,), JitgradTypeError, "non-negative integers"),
    (lambda a: jnp.ldexp(a, 1.5), (V3,), JitgradTypeError, "exponent must be an integer"),
    (lambda a: jnp.gcd(a, 2), (V3,), JitgradTypeError, "integer"),
    (lambda a: jnp.gcd(a > 1, a > 1), (V3,), JitgradTypeError, "booleans"),
    (lambda a: jnp.average(a, weights=np.ones(3)), (A23,), ShapeError, "axis must be given"),
    (lambda a: jnp.average(a, axis=1, weights=np.ones(2)), (A23,), ShapeError, "along axis"),
    (lambda a: jnp.ptp(a > 1), (A23,), JitgradTypeError, "boolean"),
    (lambda a: jnp.ediff1d(a, to_begin=1.5), (INT,), JitgradTypeError, "to_begin"),
    (lambda a: jnp.searchsorted(a, 1.0), (A23,), ShapeError, "a must be 1-d"),
    (lambda a: jnp.digitize(a, np.array([1.0, 0.0, 2.0])), (V3,), ShapeError, "monoton"),
    (lambda a: jnp.interp(a, V3, V4), (V3,), ShapeError, "same length"),
    (lambda a: jnp.trapezoid(a, V4), (A23,), ShapeError, "does not match"),
    (lambda a: jnp.cov(a), (T234,), ShapeError, "more than 2"),
    (lambda a: jnp.cov(a, fweights=np.array([1.5, 1, 1])), (A23,), JitgradTypeError,
     "integer"),
    (lambda a: jnp.cov(a, aweights=np.ones(2)), (A23,), ShapeError, "incompatible"),
    (lambda a: jnp.convolve(a, a[:0]), (V3,), ShapeError, "v cannot be empty"),
    (lambda a: jnp.convolve(a, a, "sam"), (V3,), ShapeError, "mode"),
    (lambda a: jnp.correlate(a, V3), (A23,), ShapeError, "1-d"),
    (lambda a: jnp.polyder(a, -1), (V3,), ShapeError, "positive"),
    (lambda a: jnp.polyint(a, 3, np.ones(2)), (V3,), ShapeError, "length"),
    (lambda a: jnp.polyadd(a, V3), (A23,), ShapeError, "1-d"),
    (lambda a: jnp.polymul(a, V3, trim_leading_zeros=True), (V3,), TracerError, "length"),
    (lambda a: jnp.vander(a), (A23,), ShapeError, "one-dimensional"),
    (lambda a: jnp.polyfit(a, V4, 1), (V3,), ShapeError, "same length"),
    (lambda a: jnp.polyfit(a, V3, 1, full=True), (V3,), UnsupportedError, "full=True"),
    (lambda a: jnp.roots(a), (V3,), UnsupportedError, "linalg.eig"),
    (lambda a: jnp.poly(a), (SQ,), UnsupportedError, "linalg.eig"),
    (lambda a: jnp.block([[a], a]), (V3,), ShapeError, "depths are mismatched"),
    (lambda a: jnp.block((a, a)), (V3,), IndexError, "tuple"),
    (lambda a: jnp.apply_over_axes(lambda v, ax: jnp.sum(v, (0, 1)), a, 0), (T234,), ShapeError,
     "correct shape"),
    (lambda a: jnp.piecewise(a, [a > 1], [1, 2, 3]), (V3,), ShapeError, "functions"),
    (lambda a, i: jnp.choose(i, [a, a]), (V3, np.array([0, 1, 0])), TracerError, "mode='wrap'"),
    (lambda a: jnp.choose(np.array([0, 2]), [a, a]), (R(2),), IndexError, "invalid entry"),
    (lambda a, i: jnp.insert(a, i, 1.0), (V3, np.int64(1)), TracerError, "obj must be concrete"),
    (lambda a: jnp.insert(a, 5, 1.0), (V3,), IndexError, "out of bounds"),
    (lambda a: jnp.delete(a, [7]), (V3,), IndexError, "out of bounds"),
    (lambda a: jnp.resize(a, (-1, 2)), (V3,), ShapeError, "non-negative"),
    (lambda a: jnp.fill_diagonal(a, 1.0), (SQ,), UnsupportedError, "inplace=False"),
    (lambda a: jnp.fill_diagonal(a, 1.0, inplace=False), (T234,), ShapeError, "equal length"),
    (lambda a: jnp.diag_indices_from(a), (V3,), ShapeError, "at least 2-d"),
    (lambda a: jnp.vectorize(jnp.dot, signature="(n),(n)->()")(a, a[0, 0]), (A23,), ShapeError,
     "fewer dimensions"),
    (lambda a: jnp.nonzero(a), (V3,), TracerError, "nonzero: the output shape depends"),
    (lambda a: jnp.where(a > 1), (V3,), TracerError, "size="),
    (lambda a: jnp.where(a > 1, a), (V3,), JitgradTypeError, "both or neither"),
    (lambda a: jnp.argwhere(a), (A23,), TracerError, "size="),
    (lambda a: jnp.unique(a), (V3,), TracerError, "unique"),
    (lambda a: jnp.unique(a, axis=0, size=2), (A23,), UnsupportedError, "axis="),
    (lambda a: jnp.setdiff1d(a, a), (V3,), TracerError, "setdiff1d"),
    (lambda a: jnp.intersect1d(a, a, return_indices=True, size=2), (V3,), UnsupportedError,
     "return_indices"),
    (lambda a: jnp.compress(a > 1, a), (V3,), TracerError, "compress"),
    (lambda a: jnp.compress([0, 0, 0, 1], a), (V3,), ShapeError, "beyond axis"),
    (lambda a: jnp.extract(a > 1, a), (V3,), TracerError, "extract"),
    (lambda a: jnp.trim_zeros(a), (V3,), TracerError, "trim_zeros"),
    (lambda a: jnp.nonzero(a, size=2), (R(),), ShapeError, "0d"),
    (lambda a: jnp.put(a, [0], 1.0), (V3,), UnsupportedError, "inplace=False"),
    (lambda a: jnp.put(a, [3], 1.0, inplace=False), (V3,), IndexError, "out of bounds"),
    (lambda a: jnp.place(a, a > 1, 1.0), (V3,), UnsupportedError, "inplace=False"),
    (lambda a: jnp.place(a, a[:2] > 1, 1.0, inplace=False), (V3,), ShapeError, "same shape"),
    (lambda a: jnp.lexsort([a, a[:2]]), (V3,), ShapeError, "same shape"),
    (lambda m: jnp.hanning(m), (np.int64(3),), TracerError, "concrete"),
    # numpy's re-exported helpers recursed into themselves on traced arrays (RecursionError)
    (lambda a: jnp.histogram(a), (V3,), UnsupportedError, "numpy.histogram works on concrete"),
    (lambda a: np.histogram2d(a, a), (V3,), UnsupportedError, "concrete arrays only"),
    (lambda a: jnp.packbits(a > 1), (V3,), UnsupportedError, "concrete arrays only"),
]


@pytest.mark.parametrize("f,args,error,match", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_are_raised_at_trace_time(f, args, error, match):
    with pytest.raises(error, match=match):
        jg.make_ir(f)(*args)


def test_nan_reductions_give_no_gradient_to_nans_and_minus_one_for_nan_slices():
    g = jg.grad(lambda x: jnp.nanmean(x) + jnp.nanstd(x) + jnp.nanmax(x))(NANS)
    assert np.all(g[np.isnan(NANS)] == 0) and np.all(g[~np.isnan(NANS)] != 0)
    # NB: numpy raises for a slice of NaNs; traced, its index is -1 (as JAX).
    got = jg.jit(lambda x: jnp.nanargmax(x, axis=1))(ALL_NAN_ROW)
    np.testing.assert_array_equal(got, [np.nanargmax(r) for r in ALL_NAN_ROW[:2]] + [-1])
