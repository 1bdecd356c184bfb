"""Sorting, order statistics, scans and indexed updates (``x.at[idx]``), table-driven: each row
is one call, checked traced against numpy (values, shapes, dtypes; the numpy docs' examples,
size 0, 0-d, negative axes), compiled by jit (value, jvp and vjp in one program), by
check_grads (jvp vs finite differences, vjp vs jvp, to order 2) and under vmap against a
loop. A row's reference is numpy's own call (the row's function on concrete arrays) unless
it names one (updates are numpy's in-place operations on a copy)."""

import warnings

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.core import eval_ir, is_float
from jitgrad.errors import (
    JitgradIndexError,
    JitgradTypeError,
    ShapeError,
    TracerError,
    UnsupportedError,
)
from jitgrad.tree_util import tree_leaves, tree_map

rng = np.random.default_rng(0)


def R(*shape, dtype=np.float64):
    return rng.uniform(0.5, 1.5, shape).astype(dtype)


class Row:
    """One call: ``f`` of ``args``; ``ref`` numpy's result for the same call (default: ``f``
    on the concrete arrays, which is numpy's own function); ``grad`` False for integer or
    piecewise-constant results; ``fd`` False where finite differences do not apply (ties,
    NaNs: only vjp vs jvp is checked); ``batch`` the positions vmap maps over (default:
    every float argument); ``jit`` False for rows whose compiled program only repeats what
    other rows compile (the CI budget: each program costs Numba compilations), which are
    checked uncompiled only."""

    def __init__(self, name, f, *args, ref=None, grad=True, fd=True, batch=None, jit=True):
        self.name, self.f, self.args, self.ref = name, f, args, ref or f
        self.grad, self.fd, self.jit = grad, fd, jit
        self.batch = batch if batch is not None else [
            i for i, a in enumerate(args) if is_float(np.asarray(a).dtype)]

    def __repr__(self):
        return self.name


def updated(np_update):
    """A reference for ``x.at[...]``: ``np_update(y, *rest)`` modifies a copy ``y`` of x."""
    def ref(x, *rest):
        y = np.array(x, copy=True)
        np_update(y, *rest)
        return y
    return ref


def set_in_order(y, idx, v):
    """``y[idx] = v`` one update after another: the last write to a position wins."""
    pos = np.arange(y.size).reshape(y.shape)[idx]
    v = np.broadcast_to(v, pos.shape)
    for p, val in zip(pos.ravel(), v.ravel(), strict=True):
        y.flat[p] = val


INT2 = np.array([[1, 4], [3, 1]])             # numpy.sort's example
DOC = np.array([[10, 7, 4], [3, 2, 1]])       # numpy.median/quantile/percentile's example
TIES = np.array([[2.0, 1.0, 2.0, 0.0], [1.0, 1.0, 3.0, 1.0]])
NANS = np.array([[1.5, np.nan, -1.0, 0.5], [0.5, 2.0, -1.0, 1.5], [np.nan, 1.0, 0.0, 2.5]])
NANS_ALL = np.vstack([NANS, np.full((1, 4), np.nan)])  # a slice of NaNs only
NAND = np.where(np.eye(4, 5, 1, bool) | np.eye(4, 5, -2, bool), np.nan, R(4, 5))  # no ties
X5, M34, T324 = R(5), R(3, 4), R(3, 2, 4)
X32 = R(3, dtype=np.float32)
# float32 rows differentiate with finite differences of step 1e-2: keep elements apart
F32 = np.array([0.7, 2.1, 0.2, 1.3, 2.8, 0.95], np.float32)
MASK = M34 > 1.0
NAN32 = np.array([[0.7, np.nan, 2.1, 0.2], [1.3, 2.8, np.nan, 0.95]], np.float32)

ROWS = [
    # --- sort -----------------------------------------------------------------------------
    Row("sort doc", jnp.sort, INT2, grad=False),
    Row("sort doc axis None", lambda a: jnp.sort(a, axis=None), INT2, grad=False),
    Row("sort doc axis 0", lambda a: jnp.sort(a, axis=0), INT2, grad=False),
    Row("sort", jnp.sort, M34),
    Row("sort axis -2", lambda a: jnp.sort(a, axis=-2), M34),
    Row("sort axis None", lambda a: jnp.sort(a, axis=None), R(2, 3)),
    Row("sort 3-d axis 1", lambda a: jnp.sort(a, axis=1), T324),
    Row("sort descending", lambda a: jnp.sort(a, descending=True), M34,
        ref=lambda a: np.sort(a)[:, ::-1]),
    Row("sort float32", jnp.sort, F32),
    Row("sort kind stable", lambda a: jnp.sort(a, kind="stable"), X5),
    Row("sort size 0", jnp.sort, R(0, 3)),
    Row("sort size 0 axis 0", lambda a: jnp.sort(a, axis=0), R(0, 3)),
    Row("sort 0-d", lambda a: jnp.sort(a, axis=None), R()),
    Row("sort ties", lambda a: jnp.sort(a, axis=-1), TIES, fd=False),
    Row("sort nans", lambda a: jnp.sort(a, axis=1), NANS, fd=False),
    Row("sort bool", lambda a: jnp.sort(a > 1.0), X5, grad=False),
    Row("sort int32", jnp.sort, np.array([3, -1, 2], np.int32), grad=False),
    Row("sort method", lambda a: a.sort(axis=0), M34, ref=lambda a: np.sort(a, axis=0)),
    Row("numpy's own sort, median, quantile", lambda a: (
        np.sort(a, axis=0), np.median(a, axis=1), np.quantile(a, [0.3, 0.9]),
        np.percentile(a, 40, axis=0), np.cumprod(a, axis=1), np.argsort(a, axis=0)), M34,
        ref=lambda a: (np.sort(a, axis=0), np.median(a, axis=1), np.quantile(a, [0.3, 0.9]),
                       np.percentile(a, 40, axis=0), np.cumprod(a, axis=1),
                       np.argsort(a, axis=0, kind="stable")), jit=False),
    # --- argsort ----------------------------------------------------------------------------
    Row("argsort doc", jnp.argsort, np.array([3, 1, 2]), grad=False),
    Row("argsort doc axis 0", lambda a: jnp.argsort(a, axis=0), np.array([[0, 3], [2, 2]]),
        grad=False),
    Row("argsort doc axis 1", lambda a: jnp.argsort(a, axis=1), np.array([[0, 3], [2, 2]]),
        grad=False),
    Row("argsort ties stable", lambda a: jnp.argsort(a, axis=-1), TIES, grad=False,
        ref=lambda a: np.argsort(a, axis=-1, kind="stable")),
    Row("argsort descending ties", lambda a: jnp.argsort(a, descending=True), TIES, grad=False,
        ref=lambda a: np.argsort(-a, kind="stable")),
    Row("argsort axis None", lambda a: jnp.argsort(a, axis=None), TIES, grad=False),
    Row("argsort nans", lambda a: jnp.argsort(a, axis=0), NANS, grad=False),
    Row("argsort size 0", jnp.argsort, R(2, 0), grad=False),
    Row("argsort method", lambda a: a.argsort(axis=0), M34, grad=False,
        ref=lambda a: np.argsort(a, axis=0, kind="stable")),
    # --- partition, argpartition: sorted (a valid partition; see test_partition_contract) ---
    Row("partition", lambda a: jnp.partition(a, 2), M34, ref=lambda a: np.sort(a)),
    Row("partition kth list axis 0", lambda a: jnp.partition(a, [0, -1], axis=0), M34,
        ref=lambda a: np.sort(a, axis=0)),
    Row("argpartition", lambda a: jnp.argpartition(a, 1), TIES, grad=False,
        ref=lambda a: np.argsort(a, kind="stable")),
    # --- median -----------------------------------------------------------------------------
    Row("median doc", jnp.median, DOC, grad=False),
    Row("median doc axis 0", lambda a: jnp.median(a, axis=0), DOC, grad=False),
    Row("median doc axis 1", lambda a: jnp.median(a, axis=1), DOC, grad=False),
    Row("median doc keepdims", lambda a: jnp.median(a, axis=1, keepdims=True), DOC,
        grad=False),
    Row("median", jnp.median, M34),
    Row("median odd axis -1", lambda a: jnp.median(a, axis=-1), R(2, 5)),
    Row("median axes tuple", lambda a: jnp.median(a, axis=(0, 2)), T324),
    Row("median keepdims None", lambda a: jnp.median(a, keepdims=True), M34),
    Row("median float32", jnp.median, F32[:4]),
    Row("median bool", lambda a: jnp.median(a > 1.0), X5, grad=False),
    Row("median 0-d", jnp.median, R()),
    Row("median nans", lambda a: jnp.median(a, axis=0), NANS, fd=False),
    Row("median ties", lambda a: jnp.median(a, axis=1), TIES, fd=False),
    Row("median size 0 axis", lambda a: jnp.median(a, axis=1), R(3, 0), grad=False),
    Row("median size 0 other axis", lambda a: jnp.median(a, axis=0), R(3, 0)),
    # --- quantile, percentile ---------------------------------------------------------------
    Row("quantile doc", lambda a: jnp.quantile(a, 0.5), DOC, grad=False),
    Row("quantile doc axis 0", lambda a: jnp.quantile(a, 0.5, axis=0), DOC, grad=False),
    Row("quantile doc axis 1 keepdims",
        lambda a: jnp.quantile(a, 0.5, axis=1, keepdims=True), DOC, grad=False),
    Row("quantile q list", lambda a: jnp.quantile(a, [0.1, 0.5, 0.9, 1.0], axis=1), M34, jit=False),
    Row("quantile q 2-d", lambda a: jnp.quantile(a, np.array([[0.0, 0.3], [0.75, 1.0]]),
                                                 axis=0), R(4, 2)),
    Row("quantile float32 python q", lambda a: jnp.quantile(a, 0.3), F32),
    Row("quantile float32 array q", lambda a: jnp.quantile(a, np.array([0.3, 0.8])),
        F32),
    Row("quantile float32 q float32", lambda a: jnp.quantile(a, np.float32(0.6)),
        F32),
    Row("quantile integer q", lambda a: jnp.quantile(a, [0, 1], axis=0), DOC, grad=False),
    Row("quantile integers", lambda a: jnp.quantile(a, [0.25, 0.5], axis=1), DOC, grad=False),
    Row("quantile axes tuple", lambda a: jnp.quantile(a, [0.2, 0.7], axis=(0, 2),
                                                      keepdims=True), T324),
    Row("quantile negative axis", lambda a: jnp.quantile(a, 0.4, axis=-2), T324, jit=False),
    Row("quantile traced q", lambda a, q: jnp.quantile(a, q, axis=0), R(5, 2),
        np.array([0.2, 0.65]), batch=[0]),
    Row("quantile nans", lambda a: jnp.quantile(a, [0.5, 1.0], axis=0), NANS, fd=False),
    Row("quantile ties", lambda a: jnp.quantile(a, 0.35, axis=1), TIES, fd=False),
    Row("quantile 0-d", lambda a: jnp.quantile(a, 0.5), R()),
    Row("quantile size 0 other axis", lambda a: jnp.quantile(a, 0.5, axis=0), R(3, 0)),
    Row("percentile doc", lambda a: jnp.percentile(a, 50), DOC, grad=False),
    Row("percentile doc axis 0", lambda a: jnp.percentile(a, 50, axis=0), DOC, grad=False),
    Row("percentile q list", lambda a: jnp.percentile(a, [25, 50, 100], axis=-1), R(2, 5),
        jit=False),
    Row("percentile float32", lambda a: jnp.percentile(a, 30.0), F32),
    Row("percentile traced q", lambda a, q: jnp.percentile(a, q), R(6), np.array(37.5),
        batch=[0], jit=False),
    # --- nanmedian, nanquantile, nanpercentile: NaNs dropped per slice ----------------------
    Row("nanmedian doc", jnp.nanmedian, np.array([[10.0, np.nan, 4], [3, 2, 1]]), grad=False),
    Row("nanmedian axis 0", lambda a: jnp.nanmedian(a, axis=0), NAND),
    Row("nanmedian axis 1 keepdims", lambda a: jnp.nanmedian(a, axis=1, keepdims=True), NAND,
        jit=False),
    Row("nanmedian ties and a slice of NaNs", lambda a: jnp.nanmedian(a, axis=1), NANS_ALL,
        fd=False, jit=False),
    Row("nanmedian float32", lambda a: jnp.nanmedian(a, axis=1), NAN32, jit=False),
    Row("nanmedian no nans", lambda a: jnp.nanmedian(a, axis=(0, 2)), T324, jit=False),
    Row("nanmedian int", lambda a: jnp.nanmedian(a, axis=1), DOC, grad=False),
    Row("nanquantile", lambda a: jnp.nanquantile(a, [0.0, 0.3, 0.5, 0.9, 1.0], axis=1), NAND),
    Row("nanquantile ties and a slice of NaNs", lambda a: jnp.nanquantile(
        a, [0.0, 0.3, 0.5, 1.0], axis=0), NANS_ALL.T, fd=False, jit=False),
    Row("nanquantile axis None", lambda a: jnp.nanquantile(a, 0.3), NAND, jit=False),
    Row("nanquantile float32 python q", lambda a: jnp.nanquantile(a, 0.3, axis=1), NAN32,
        jit=False),
    Row("nanquantile float32 q float32", lambda a: jnp.nanquantile(
        a, np.array([0.3, 0.7], np.float32), axis=0, keepdims=True), NAN32, jit=False),
    Row("nanquantile integer q", lambda a: jnp.nanquantile(a, [0, 1], axis=1), NAND,
        jit=False),
    Row("nanquantile traced q", lambda a, q: jnp.nanquantile(a, q, axis=0), NAND,
        np.array([0.2, 0.65]), batch=[0], jit=False),
    Row("nanquantile int", lambda a: jnp.nanquantile(a, 0.25, axis=0), DOC, grad=False),
    Row("nanpercentile", lambda a: jnp.nanpercentile(a, [25, 50, 100], axis=0), NAND,
        jit=False),
    Row("nanpercentile float32", lambda a: jnp.nanpercentile(a, 37), NAN32, jit=False),
    # --- cumprod, cumsum, ufunc.accumulate --------------------------------------------------
    Row("cumprod doc", jnp.cumprod, np.array([1, 2, 3]), grad=False),
    Row("cumprod doc dtype float", lambda a: jnp.cumprod(a, dtype=float),
        np.array([[1, 2, 3], [4, 5, 6]]), grad=False),
    Row("cumprod doc axis 0", lambda a: jnp.cumprod(a, axis=0), np.array([[1, 2, 3], [4, 5, 6]]),
        grad=False),
    Row("cumprod", lambda a: jnp.cumprod(a, axis=1), M34),
    Row("cumprod axis None", jnp.cumprod, R(2, 3), jit=False),
    Row("cumprod axis -2", lambda a: jnp.cumprod(a, axis=-2), T324),
    Row("cumprod zeros", jnp.cumprod, np.array([1.5, 0.0, 2.0, 0.0, 3.0, 0.5])),
    Row("cumprod float32", jnp.cumprod, R(4, dtype=np.float32)),
    Row("cumprod float32 dtype float64", lambda a: jnp.cumprod(a, dtype=np.float64),
        R(4, dtype=np.float32), jit=False),
    Row("cumprod int32", jnp.cumprod, np.array([3, -2, 5], np.int32), grad=False),
    Row("cumprod bool", lambda a: jnp.cumprod(a > 0.7), X5, grad=False),
    Row("cumprod size 0", lambda a: jnp.cumprod(a, axis=0), R(0, 2)),
    Row("cumprod 0-d", jnp.cumprod, R()),
    Row("cumprod method", lambda a: a.cumprod(axis=0), M34,
        ref=lambda a: np.cumprod(a, axis=0), jit=False),
    Row("cumsum doc dtype float", lambda a: jnp.cumsum(a, dtype=float),
        np.array([[1, 2, 3], [4, 5, 6]]), grad=False),
    Row("cumsum dtype float32", lambda a: jnp.cumsum(a, axis=-1, dtype=np.float32), M34),
    Row("cumsum int8", jnp.cumsum, np.array([100, 100, -3], np.int8), grad=False),
    Row("cumsum method", lambda a: a.cumsum(axis=1), M34, ref=lambda a: np.cumsum(a, axis=1)),
    Row("maximum.accumulate", lambda a: jnp.maximum.accumulate(a), R(6), jit=False),
    Row("maximum.accumulate axis 1", lambda a: jnp.maximum.accumulate(a, axis=1), M34),
    Row("numpy maximum.accumulate", lambda a: np.maximum.accumulate(a, axis=-1), M34),
    Row("minimum.accumulate", lambda a: jnp.minimum.accumulate(a), M34),
    Row("maximum.accumulate ties", lambda a: jnp.maximum.accumulate(a, axis=1), TIES,
        fd=False),
    Row("minimum.accumulate nans", lambda a: jnp.minimum.accumulate(a), NANS, fd=False),
    Row("maximum.accumulate int", lambda a: jnp.maximum.accumulate(a), DOC, grad=False),
    Row("add.accumulate", lambda a: jnp.add.accumulate(a, axis=1), M34),
    Row("multiply.accumulate", lambda a: jnp.multiply.accumulate(a), M34),
    # --- x.at[idx] updates --------------------------------------------------------------------
    Row("at set int", lambda x: x.at[2].set(7.0), X5,
        ref=updated(lambda y: y.__setitem__(2, 7.0))),
    Row("at set negative int", lambda x, v: x.at[-1].set(v), X5, R(),
        ref=updated(lambda y, v: y.__setitem__(-1, v))),
    Row("at set slice", lambda x, v: x.at[1:4].set(v), X5, R(3),
        ref=updated(lambda y, v: y.__setitem__(slice(1, 4), v))),
    Row("at set reversed slice", lambda x, v: x.at[::-2].set(v), X5, R(3),
        ref=updated(lambda y, v: y.__setitem__(slice(None, None, -2), v))),
    Row("at set repeated: last wins", lambda x, v: x.at[np.array([1, 3, 1, 1])].set(v), X5,
        R(4), ref=updated(lambda y, v: set_in_order(y, np.array([1, 3, 1, 1]), v))),
    Row("at set 2-d repeated", lambda m, v: m.at[np.array([[0, 2], [0, 2]]), 1].set(v), M34,
        R(2, 2), ref=updated(lambda y, v: set_in_order(y, (np.array([[0, 2], [0, 2]]), 1), v))),
    Row("at set advanced and slice", lambda m, v: m.at[np.array([0, 2]), 1:3].set(v), M34,
        R(2, 2), ref=updated(lambda y, v: y.__setitem__((np.array([0, 2]), slice(1, 3)), v))),
    Row("at add non-adjacent arrays", lambda t, v: t.at[np.array([0, 2]), :, [1, 3]].add(v),
        T324, R(2, 2), ref=updated(lambda y, v: np.add.at(
            y, (np.array([0, 2]), slice(None), np.array([1, 3])), v))),
    Row("at set ellipsis", lambda t, v: t.at[..., 1].set(v), T324, R(3, 2),
        ref=updated(lambda y, v: y.__setitem__((Ellipsis, 1), v))),
    Row("at set newaxis", lambda m, v: m.at[None, 1].set(v), M34, R(1, 4),
        ref=updated(lambda y, v: y.__setitem__((None, 1), v))),
    Row("at set boolean mask", lambda m: m.at[MASK].set(0.0), M34,
        ref=updated(lambda y: y.__setitem__(MASK, 0.0))),
    Row("at set scalar broadcast", lambda m: m.at[:, 1].set(-1.0), M34,
        ref=updated(lambda y: y.__setitem__((slice(None), 1), -1.0))),
    Row("at set values with a leading 1", lambda x, v: x.at[1:3].set(v), X5, R(1, 2),
        ref=updated(lambda y, v: y.__setitem__(slice(1, 3), v)), jit=False),
    Row("at add repeated", lambda x, v: x.at[np.array([0, 2, 2, 4, 2])].add(v), X5, R(5),
        ref=updated(lambda y, v: np.add.at(y, np.array([0, 2, 2, 4, 2]), v))),
    Row("at add list index", lambda x, v: x.at[[4, 4]].add(v), X5, R(2),
        ref=updated(lambda y, v: np.add.at(y, [4, 4], v))),
    Row("at subtract", lambda x, v: x.at[np.array([1, 1])].subtract(v), X5, R(2),
        ref=updated(lambda y, v: np.subtract.at(y, np.array([1, 1]), v))),
    Row("at multiply repeated with zeros", lambda x, v: x.at[np.array([1, 1, 3, 1])].multiply(v),
        X5, np.array([0.0, 2.0, 1.5, 0.0]),
        ref=updated(lambda y, v: np.multiply.at(y, np.array([1, 1, 3, 1]), v))),
    Row("at multiply one zero", lambda x, v: x.at[np.array([2, 2, 2])].mul(v), X5,
        np.array([0.5, 0.0, 1.5]),
        ref=updated(lambda y, v: np.multiply.at(y, np.array([2, 2, 2]), v)), jit=False),
    Row("at divide", lambda x, v: x.at[np.array([1, 1, 3])].divide(v), X5, R(3),
        ref=updated(lambda y, v: np.divide.at(y, np.array([1, 1, 3]), v))),
    Row("at power", lambda x, v: x.at[np.array([0, 3])].power(v), X5, R(2),
        ref=updated(lambda y, v: np.power.at(y, np.array([0, 3]), v)), jit=False),
    Row("at min", lambda x, v: x.at[np.array([0, 0, 4])].min(v), X5, R(3) - 0.3,
        ref=updated(lambda y, v: np.minimum.at(y, np.array([0, 0, 4]), v))),
    Row("at max", lambda m, v: m.at[1].max(v), M34, R(4),
        ref=updated(lambda y, v: np.maximum.at(y, 1, v)), jit=False),
    Row("at max ties", lambda x, v: x.at[np.array([0, 0, 2])].max(v), TIES[0],
        np.array([2.0, 2.0, 1.0]), fd=False,
        ref=updated(lambda y, v: np.maximum.at(y, np.array([0, 0, 2]), v))),
    Row("at get", lambda m: m.at[np.array([2, 0]), 1].get(), M34,
        ref=lambda m: m[np.array([2, 0]), 1]),
    Row("at get fill", lambda x: x.at[np.array([1, 7, -9, -5])].get(mode="fill",
                                                                    fill_value=0.5), X5,
        ref=lambda x: np.array([x[1], 0.5, 0.5, x[0]])),
    Row("at get clip", lambda m: m.at[np.array([1, 7, -9]), -1].get(mode="clip"), M34,
        ref=lambda m: m[[1, 2, 0], -1]),
    Row("at add drop mode", lambda x, v: x.at[np.array([1, 7, -6])].add(v, mode="drop"), X5,
        R(3), ref=lambda x, v: x + np.array([0, v[0], 0, 0, 0])),
    Row("at set clip mode", lambda x, v: x.at[np.array([7, 1])].set(v, mode="clip"), X5,
        R(2), ref=updated(lambda y, v: set_in_order(y, np.array([4, 1]), v))),
    Row("at traced indices", lambda x, i, v: x.at[i].add(v), X5, np.array([0, 2, 2, -1]),
        R(4), ref=updated(lambda y, i, v: np.add.at(y, i, v)), batch=[0, 1, 2]),
    Row("at traced indices out of range dropped", lambda x, i, v: x.at[i].set(v), X5,
        np.array([1, 9, -2, -7]), R(4),
        ref=lambda x, i, v: updated(lambda y: set_in_order(y, i[[0, 2]], v[[0, 2]]))(x)),
    Row("at traced 2-d indices", lambda m, i, j, v: m.at[i, j].add(v), M34,
        np.array([[0, 2], [2, 2]]), np.array([1, 3]), R(2, 2),
        ref=updated(lambda y, i, j, v: np.add.at(y, (i, j), v)), batch=[0, 1, 2, 3]),
    Row("at traced index and slice", lambda m, i, v: m.at[1:, i].max(v), M34,
        np.array([3, 0]), R(2, 2), ref=updated(
            lambda y, i, v: np.maximum.at(y, (slice(1, None), i), v))),
    Row("at traced indices multiply", lambda x, i, v: x.at[i].multiply(v), X5,
        np.array([1, 1, 3, 1, 0]), np.array([0.0, 2.0, 1.5, 0.0, 0.5]), batch=[0, 1, 2],
        ref=updated(lambda y, i, v: np.multiply.at(y, i, v))),
    Row("at unique_indices", lambda x, v: x.at[np.array([3, 1])].multiply(
        v, unique_indices=True), X5, R(2),
        ref=updated(lambda y, v: np.multiply.at(y, np.array([3, 1]), v))),
    Row("at traced scalar index", lambda x: x.at[jnp.argmax(x)].set(0.0), X5,
        ref=lambda x: updated(lambda y: y.__setitem__(np.argmax(x), 0.0))(x)),
    Row("at set a list of traced values", lambda x: x.at[1:3].set([x[0] * 2, x[3]]), X5,
        ref=updated(lambda y: y.__setitem__(slice(1, 3), [y[0] * 2, y[3]]))),
    Row("at float32", lambda x, v: x.at[0].add(v), X32, R(dtype=np.float32),
        ref=updated(lambda y, v: np.add.at(y, 0, v))),
    Row("at python float into float32", lambda x: x.at[np.array([0, 0])].add(0.1), X32,
        ref=updated(lambda y: np.add.at(y, np.array([0, 0]), 0.1))),
    Row("at int", lambda x: x.at[np.array([0, 0, 3])].add(3), np.arange(4), grad=False,
        ref=updated(lambda y: np.add.at(y, np.array([0, 0, 3]), 3))),
    Row("at set float into int", lambda x: x.at[1].set(2.7), np.arange(4), grad=False,
        ref=updated(lambda y: y.__setitem__(1, 2.7))),
    Row("at set bool", lambda x: (x > 1.0).at[np.array([0, 1])].set(True), X5, grad=False,
        ref=lambda x: updated(lambda y: y.__setitem__(np.array([0, 1]), True))(x > 1.0)),
    Row("at no updates", lambda x, v: x.at[np.array([], np.int64)].add(v), X5, R(0),
        ref=lambda x, v: x),
    Row("at 0-d", lambda x, v: x.at[()].set(v), R(), R(),
        ref=updated(lambda y, v: y.__setitem__((), v))),
    Row("at size 0", lambda x, v: x.at[:, 1].multiply(v), R(0, 3), R(0),
        ref=lambda x, v: x),
    Row("ufunc at", lambda x, v: jnp.add.at(x, np.array([0, 0, 3]), v, inplace=False), X5,
        R(3), ref=updated(lambda y, v: np.add.at(y, np.array([0, 0, 3]), v))),
    Row("ufunc maximum at", lambda m, v: jnp.maximum.at(m, (0, np.array([1, 1])), v,
                                                        inplace=False), M34, R(2),
        ref=updated(lambda y, v: np.maximum.at(y, (0, np.array([1, 1])), v))),
    Row("jnp.at", lambda x, v: jnp.at(x)[np.array([3, 0])].set(v), X5, R(2),
        ref=updated(lambda y, v: y.__setitem__(np.array([3, 0]), v))),
]


def _reference(row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: the mean of an empty slice
        return row.ref(*row.args)


def _traced(f, *args):
    ir = jg.make_ir(f)(*args)
    return eval_ir(ir, *tree_leaves(args))


def _assert_same(got, expected, rtol=1e-12):
    got, expected = tree_leaves(got), tree_leaves(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        g, e = np.asarray(g), np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        tol = 1e-6 if e.dtype == np.float32 else rtol
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_values_match_numpy(row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _assert_same(_traced(row.f, *row.args), _reference(row))


def _float_args(row):
    """The row as a function of its float arguments (the others closed over), traced even on
    concrete arrays (finite differences call it so), which have no ``.at``."""
    diff = [i for i, a in enumerate(row.args) if is_float(np.asarray(a).dtype)]

    def f(*xs):
        full = list(row.args)
        for i, x in zip(diff, xs, strict=True):
            full[i] = x
        return _traced(row.f, *full)

    return f, [row.args[i] for i in diff]


def _like(tree, seed):
    r = np.random.default_rng(seed)
    return tree_map(lambda y: r.standard_normal(np.shape(y)).astype(np.asarray(y).dtype), tree)


@pytest.mark.parametrize("row", [r for r in ROWS if r.jit], ids=repr)
def test_jit_value_jvp_and_vjp(row):
    """One compiled program per row: the value, and (where differentiable) a jvp and a vjp,
    equal to the uncompiled transformations."""
    expected = _reference(row)
    if not row.grad:
        _assert_same(jg.jit(row.f)(*row.args), expected)
        return
    f, args = _float_args(row)
    ts, ct = tuple(_like(a, 1) for a in args), _like(tree_leaves(expected), 2)

    def program(args, ts, ct):
        out, f_vjp = jg.vjp(f, *args)
        return out, jg.jvp(f, args, ts)[1], f_vjp(ct)

    out, t_out, grads = jg.jit(program)(tuple(args), ts, ct)
    _assert_same(out, expected)
    _, f_vjp = jg.vjp(f, *args)
    _assert_same(t_out, jg.jvp(f, tuple(args), ts)[1], rtol=1e-10)
    _assert_same(grads, f_vjp(ct), rtol=1e-10)


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad], ids=repr)
def test_derivatives(row):
    f, args = _float_args(row)
    jg.check_grads(f, args, order=2, modes=("fwd", "rev") if row.fd else ("rev",))


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
        warnings.simplefilter("ignore", RuntimeWarning)
        per = [_traced(row.f, *ex) for ex in examples]
    expected = [np.stack(leaves) for leaves in zip(*[tree_leaves(p) for p in per], strict=True)]
    _assert_same(tree_leaves(got), expected)


def test_partition_contract():
    """partition's results satisfy numpy's contract for every kth (and are sorted, a valid
    partition): the kth element as numpy puts it, nothing larger before, nothing smaller
    after; argpartition's indices pick those elements."""
    a = np.array([7, 1, 7, 7, 1, 5, 7, 2, 3, 2, 6, 2, 3, 0], np.float64)  # numpy's example
    for kth in (4, (4, 8), -1, 0):
        p = jg.jit(lambda a, kth=kth: jnp.partition(a, kth))(a)
        i = jg.jit(lambda a, kth=kth: jnp.argpartition(a, kth))(a)
        expected = np.partition(a, kth)
        for k in np.atleast_1d(kth):
            assert p[k] == expected[k] and a[i[k]] == expected[k]
            assert np.all(p[:k] <= p[k]) and np.all(p[k:] >= p[k])
        np.testing.assert_array_equal(a[i], p)


def test_sort_gradient_routes_through_the_stable_permutation():
    """Tied elements: each sorted position's derivative goes to the element the stable sort
    put there, in both modes (a valid derivative: each output is one input)."""
    x = np.array([2.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(jg.jacfwd(jnp.sort)(x), np.eye(4)[[1, 3, 0, 2]])
    np.testing.assert_array_equal(jg.jacrev(jnp.sort)(x), np.eye(4)[[1, 3, 0, 2]])
    np.testing.assert_array_equal(
        jg.grad(lambda x: jnp.sort(x, descending=True)[0])(x), [0.0, 0.0, 1.0, 0.0])


def test_cumprod_derivatives_are_exact_at_zeros():
    """No division: the gradient and Hessian of cumprod at zeros are the exact products."""
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    f = lambda x: jnp.sum(jnp.cumprod(x) * np.arange(1.0, 6.0))  # noqa: E731
    # d/dx_j sum_i w_i prod_{k<=i} x_k: only the terms whose other factors are all nonzero
    # (d/dx_1 = w_1 x_0 + w_2 x_0 x_2 = 2*2 + 3*2*3)
    np.testing.assert_array_equal(jg.grad(f)(x), [1.0, 22.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(jg.jit(jg.grad(f))(x), [1.0, 22.0, 0.0, 0.0, 0.0])
    h = jg.hessian(lambda x: jnp.cumprod(x)[2])(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])


def test_multiply_update_derivatives_are_exact_at_zeros():
    """x.at[i].multiply(v) with repeated positions: d/dv_k is x times the product of the
    other updates to that position, with no division (exact when some are zero)."""
    x, i = np.array([1.0, 2.0, 3.0]), np.array([1, 1, 1, 2])
    v = np.array([0.0, 1.5, 0.0, 2.0])
    j = jg.jacrev(lambda v: jnp.at(x)[i].multiply(v), argnums=0)(v)
    np.testing.assert_array_equal(j, [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 3.0]])
    v = np.array([0.0, 1.5, 0.5, 2.0])
    j = jg.jacfwd(lambda v: jnp.at(x)[i].multiply(v))(v)
    np.testing.assert_array_equal(j[1], [2 * 0.75, 0, 0, 0])
    traced = jg.jit(jg.jacrev(lambda v, i: jnp.at(x)[i].multiply(v)))(v, i)
    np.testing.assert_array_equal(traced, j)


def test_vmap_of_gradients_through_repeated_products():
    """Per-example gradients of a multiply update with per-example (traced, repeated) indices
    equal a loop of single gradients."""
    x = np.array([1.0, 2.0, 3.0])
    g = jg.grad(lambda v, i: jnp.sum(jnp.sin(jnp.at(x)[i].multiply(v))))
    vs = np.array([[0.0, 1.5, 0.5, 2.0], [1.0, 0.0, 0.0, 2.0], [0.5, 1.5, 2.5, 0.0]])
    idx = np.array([[1, 1, 1, 2], [0, 2, 2, 2], [2, 1, 0, 2]])
    expected = np.stack([g(v, i) for v, i in zip(vs, idx, strict=True)])
    np.testing.assert_allclose(jg.vmap(g)(vs, idx), expected, rtol=1e-12)
    np.testing.assert_allclose(jg.jit(jg.vmap(g))(vs, idx), expected, rtol=1e-12)


def test_set_keeps_the_last_update_and_its_derivative():
    x = np.zeros(3)
    f = lambda v: jnp.at(x)[np.array([2, 0, 2])].set(v)  # noqa: E731
    np.testing.assert_array_equal(f(np.array([1.0, 2.0, 3.0])), [2.0, 0.0, 3.0])
    np.testing.assert_array_equal(jg.jacrev(f)(np.ones(3)),
                                  [[0, 1, 0], [0, 0, 0], [0, 0, 1]])


def test_power_update_raises_to_the_product_of_repeated_updates():
    """NB (README): JAX's form, x ** (v1 * v2); numpy's power.at applies them in turn."""
    x, v = np.array([-2.0, 3.0]), np.array([2.0, 0.5])
    np.testing.assert_array_equal(jnp.at(x)[[0, 0]].power(v), [-2.0, 3.0])
    y = x.copy()
    np.power.at(y, [0, 0], v)
    assert y[0] == 2.0  # numpy's
    np.testing.assert_allclose(jnp.at(x)[[1, 1]].power(v), [-2.0, 3.0], rtol=1e-15)


def test_updates_are_one_compiled_scatter_and_leave_the_input_alone():
    x, i, v = np.zeros(6), np.array([0, 5, 5]), np.ones(3)
    f = lambda x, i, v: x.at[i].add(v)  # noqa: E731
    ir = jg.make_ir(f)(x, i, v)
    assert [e.prim.name for e in ir.eqns].count("scatter") == 1
    assert "flat[j] = flat[j] + u[k]" in jg.show_kernels(f)(x, i, v)
    np.testing.assert_array_equal(jg.jit(f)(x, i, v), [1, 0, 0, 0, 0, 2])
    np.testing.assert_array_equal(x, np.zeros(6))
    y = jnp.at(x)[1].set(3.0)
    assert isinstance(y, np.ndarray) and y[1] == 3.0 and x[1] == 0.0


ERRORS = [
    (lambda x, v: jnp.add.at(x, np.array([0]), v), (X5, R(1)), UnsupportedError,
     "inplace=False"),
    (lambda x, v: np.add.at(x, np.array([0]), v), (X5, R(1)), UnsupportedError, "in place"),
    (lambda x: x.astype(np.int64).at[0].add(1.5), (X5,), JitgradTypeError, "same_kind"),
    (lambda x: (x > 1).at[0].add(1), (X5,), JitgradTypeError, "boolean"),
    (lambda x: x.astype(np.int64).at[0].divide(2), (X5,), JitgradTypeError, "floating"),
    (lambda x: x.at[5].set(1.0), (X5,), JitgradIndexError, "out of bounds"),
    (lambda x: x.at[np.array([0, 6])].add(1.0), (X5,), JitgradIndexError, "out of bounds"),
    (lambda x: x.at[1:3].set(np.ones(3)), (X5,), ShapeError, "broadcast"),
    (lambda x: x.at[0].set(1.0, mode="wrap"), (X5,), ShapeError, "mode"),
    (lambda x: x.at[np.array([1, 1])].multiply(2.0, unique_indices=True), (X5,),
     JitgradIndexError, "more than once"),
    (lambda x: x.at[x > 1].set(0.0), (X5,), TracerError, "traced mask"),
    (lambda x: x.at[0, 0].set(0.0), (X5,), JitgradIndexError, "too many indices"),
    (lambda x: x.at[[0, 1], [0, 1, 2]].set(0.0), (M34,), JitgradIndexError, "broadcast"),
    (lambda x: jnp.sort(x), (R(),), ShapeError, "out of bounds"),
    (lambda x: jnp.sort(x, order="f"), (X5,), UnsupportedError, "order"),
    (lambda x: jnp.partition(x, 5), (X5,), ShapeError, "out of bounds"),
    (lambda x: jnp.argpartition(x, 1.5), (X5,), JitgradTypeError, "kth"),
    (lambda x: jnp.quantile(x, 1.5), (X5,), ShapeError, "range"),
    (lambda x: jnp.percentile(x, [50, 101]), (X5,), ShapeError, "range"),
    (lambda x: jnp.quantile(x, 0.5, method="nearest"), (X5,), UnsupportedError, "linear"),
    (lambda x: jnp.quantile(x, 0.5, axis=1), (R(2, 0),), IndexError, "out of bounds"),
    (lambda x: jnp.quantile(x > 1, 0.5), (X5,), JitgradTypeError, "boolean"),
    (lambda x: jnp.median(x, axis=2), (M34,), ShapeError, "out of bounds"),
    (lambda x: jnp.nanmedian(x, axis=2), (M34,), ShapeError, "out of bounds"),
    (lambda x: jnp.nanquantile(x, -0.5), (X5,), ShapeError, "range"),
    (lambda x: jnp.nanpercentile(x, 50, method="lower"), (X5,), UnsupportedError, "linear"),
    (lambda x: jnp.cumprod(x, axis=1), (X5,), ShapeError, "out of bounds"),
    (lambda x: jnp.add.accumulate(x > 1), (X5,), UnsupportedError, "boolean"),
]


@pytest.mark.parametrize("f,args,error,match", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_are_raised_at_trace_time(f, args, error, match):
    with pytest.raises(error, match=match):
        jg.make_ir(f)(*args)
