"""Control flow (cond, scan, fori_loop, while_loop): primitives holding sub-programs,
differentiated and batched by transforming those sub-programs; switch and map on top of them;
slices at traced positions (dynamic_slice and its relatives); and lax's names of jitgrad's
functions that JAX programs import from ``jax.lax`` (convolutions and reduce_window are in
``jitgrad.windowed``)."""

from __future__ import annotations

import builtins  # (lax's max, min, slice, ... below shadow Python's)
import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.api_util import as_output
from jitgrad.core import (
    IR,
    Host,
    Primitive,
    ShapedArray,
    Tracer,
    aval_of,
    eval_ir,
    register,
)
from jitgrad.custom_derivatives import checkpoint, custom_jvp, remat
from jitgrad.errors import JitgradTypeError, ShapeError
from jitgrad.numpy import stop_gradient
from jitgrad.prims import (
    add,
    broadcast_in_dim,
    convert_element_type,
    gather,
    ne,
    reduce_max,
    select,
    transpose,
    zeros,
)
from jitgrad.prims.structural import at_front, batch_size, move_front
from jitgrad.subprogram import (
    instantiate_zeros,
    jvp_ir,
    split_vjp,
    trace_closed,
    trace_fun,
)
from jitgrad.transforms.vmap import vmap_ir
from jitgrad.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten
from jitgrad.windowed import (
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_shape_tuple,
    conv_transpose,
    conv_transpose_shape_tuple,
    conv_with_general_padding,
    padtype_to_pads,
    reduce_window,
    reduce_window_shape_tuple,
)

__all__ = ["ConvDimensionNumbers", "Precision", "checkpoint", "cond", "conv",
           "conv_dimension_numbers", "conv_general_dilated", "conv_general_shape_tuple",
           "conv_transpose", "conv_transpose_shape_tuple", "conv_with_general_padding",
           "custom_jvp", "dynamic_index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_update_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
           "fori_loop", "map", "padtype_to_pads", "reduce_window", "reduce_window_shape_tuple",
           "remat", "scan", "stop_gradient", "switch", "while_loop"]


# ---------------------------------------------------------------------------------------------
# cond


def _cond_rule(pred: ShapedArray, *avals: ShapedArray, branches: tuple[IR, ...]
               ) -> list[ShapedArray]:
    if pred.shape != () or pred.dtype != np.bool_:
        raise ShapeError(f"cond: the predicate must be a boolean scalar, got {pred}")
    return list(branches[0].out_avals)


def _cond_impl(pred: Any, *args: Any, branches: tuple[IR, ...]) -> list[Any]:
    return eval_ir(branches[int(bool(pred))], *args)


def _cond_compiled(compile: Callable[[IR], Callable[..., list]], *, branches: tuple[IR, ...]
                   ) -> Callable[..., list]:
    fns = [compile(b) for b in branches]
    return lambda pred, *args: fns[int(bool(pred))](*args)


def _cond_jvp(primals: list[Any], tangents: list[Any], *, branches: tuple[IR, ...]
              ) -> tuple[list[Any], list[Any]]:
    pred, args = primals[0], primals[1:]
    ts = instantiate_zeros(tangents[1:], args)
    res = cond_p.bind(pred, *args, *ts, branches=tuple(jvp_ir(b) for b in branches))
    k = len(branches[0].outvars)
    return res[:k], res[k:]


def _cond_fwd(ins: list[Any], *, branches: tuple[IR, ...]) -> tuple[list[Any], Any]:
    splits = [split_vjp(b) for b in branches]
    k = len(branches[0].outvars)
    res_avals = [list(known.out_avals[k:]) for known, _, _, _ in splits]
    # Each forward branch outputs every branch's residual slots (zeros for the others').
    fwds = []
    for bi, (known, _, _, _) in enumerate(splits):
        def run(*xs: Any, known: IR = known, bi: int = bi) -> list[Any]:
            outs = eval_ir(known, *xs)
            slots = []
            for bj, avals in enumerate(res_avals):
                slots += outs[k:] if bj == bi else [zeros(a) for a in avals]
            return outs[:k] + slots
        fwds.append(trace_closed(run, branches[bi].in_avals)[0])
    res = cond_p.bind(ins[0], *ins[1:], branches=tuple(fwds))
    return res[:k], (ins[0], res[k:], splits, res_avals)


def _cond_bwd(saved: Any, cts: list[Any], *, branches: tuple[IR, ...]) -> list[Any]:
    pred, res, splits, res_avals = saved
    _, _, wrt, has_ct = splits[0]
    cts = [c for c, h in zip(instantiate_zeros(cts, branches[0].out_avals),
                             has_ct, strict=True) if h]
    bwds = []
    starts = np.cumsum([0] + [len(a) for a in res_avals])
    all_res = [a for avals in res_avals for a in avals]
    for bi, (_, unknown, _, _) in enumerate(splits):
        def run(*xs: Any, unknown: IR = unknown, bi: int = bi) -> list[Any]:
            mine = list(xs[starts[bi]:starts[bi + 1]])
            return eval_ir(unknown, *mine, *xs[len(all_res):])
        bwds.append(trace_closed(run, all_res + [aval_of(c) for c in cts])[0])
    grads = iter(cond_p.bind(pred, *res, *cts, branches=tuple(bwds)))
    return [None] + [next(grads) if w else None for w in wrt]


def _cond_batch(args: list[Any], dims: list[Any], /, *, branches: tuple[IR, ...]
                ) -> tuple[list[Any], list[int]]:
    size = batch_size(args, dims)
    pred, dp = args[0], dims[0]
    ops = [at_front(a, d, size) for a, d in zip(args[1:], dims[1:], strict=True)]
    batched = tuple(vmap_ir(b, [0] * len(ops), size)[0] for b in branches)
    if dp is None:
        outs = cond_p.bind(pred, *ops, branches=batched)
        return outs, [0] * len(outs)
    # A batched predicate: both branches run, each example selects its own result.
    results = [eval_ir(b, *ops) for b in batched]
    pred = move_front(pred, dp)
    outs = []
    for t, f in zip(results[1], results[0], strict=True):
        shape = aval_of(t).shape
        outs.append(select(broadcast_in_dim(pred, shape, (0,)), t, f))
    return outs, [0] * len(outs)


def _cond_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    x = rng.uniform(-2, 2, (3,)).astype(dtype)
    tree = tree_flatten((x,))[1]
    t, _, _ = trace_fun(lambda x: (jnp.sin(x) * 2.0, jnp.sum(x)), tree, [aval_of(x)])
    f, _, _ = trace_fun(lambda x: (x * x, jnp.max(x)), tree, [aval_of(x)])
    return [((np.bool_(True), x), {"branches": (f, t)}),
            ((np.bool_(False), x), {"branches": (f, t)})]


cond_p = register(Primitive(
    "cond", _cond_rule, _cond_impl, Host(_cond_compiled), jvp=_cond_jvp, vjp_fwd=_cond_fwd,
    vjp_bwd=_cond_bwd,
    batch=_cond_batch, multiple_results=True, test_cases=_cond_cases))


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``. Both branches are
    traced (also on concrete values, where only the chosen one then runs) and must return the
    same shapes and dtypes, so a program behaves the same with and without ``jit``.

    >>> import jitgrad as jg
    >>> jg.grad(lambda x: cond(x > 0, lambda x: x * x, lambda x: -x, x))(3.0)
    array(6.)
    """
    leaves, in_tree = tree_flatten(operands)
    if aval_of(pred).shape != ():
        raise ShapeError(f"cond: the predicate must be a scalar, got shape {aval_of(pred).shape}")
    avals = [aval_of(x) for x in leaves]
    t_ir, t_consts, t_tree = trace_fun(true_fun, in_tree, avals)
    f_ir, f_consts, f_tree = trace_fun(false_fun, in_tree, avals)
    if t_tree != f_tree or t_ir.out_avals != f_ir.out_avals:
        raise ShapeError(f"cond: the branches return different types: true_fun returns "
                         f"{tree_unflatten(t_tree, t_ir.out_avals)}, false_fun returns "
                         f"{tree_unflatten(f_tree, f_ir.out_avals)}")
    if not isinstance(pred, Tracer) and not any(isinstance(x, Tracer) for x in leaves):
        return (true_fun if bool(pred) else false_fun)(*operands)
    if aval_of(pred).dtype != np.bool_:
        pred = ne(pred, 0)
    # Both branches take every branch's constants, then the operands.
    nt, nf = len(t_consts), len(f_consts)
    c_avals = [aval_of(c) for c in t_consts + f_consts]

    def widen(ir: IR, lo: int, n: int) -> IR:
        def run(*xs: Any) -> list[Any]:
            return eval_ir(ir, *xs[lo:lo + n], *xs[nt + nf:])
        return trace_closed(run, c_avals + avals)[0]

    branches = (widen(f_ir, nt, nf), widen(t_ir, 0, nt))
    outs = cond_p.bind(pred, *t_consts, *f_consts, *leaves, branches=branches)
    return tree_unflatten(t_tree, outs)


# ---------------------------------------------------------------------------------------------
# scan


def _scan_rule(*avals: ShapedArray, body: IR, n_consts: int, n_carry: int, length: int,
               reverse: bool) -> list[ShapedArray]:
    carry = body.out_avals[:n_carry]
    ys = [ShapedArray((length,) + a.shape, a.dtype) for a in body.out_avals[n_carry:]]
    return list(carry) + ys


def _scan_loop(step: Callable[..., list], args: Sequence[Any], n_consts: int, n_carry: int,
               length: int, reverse: bool, y_avals: Sequence[ShapedArray]) -> list[Any]:
    consts, carry = list(args[:n_consts]), list(args[n_consts:n_consts + n_carry])
    xs = args[n_consts + n_carry:]
    ys: list[list[Any]] = []
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = step(*consts, *carry, *[x[i, ...] for x in xs])  # 0-d views, not scalars
        carry, y = outs[:n_carry], outs[n_carry:]
        ys.append(y)
    if reverse:
        ys.reverse()
    stacked = [np.stack([np.asarray(y[j]) for y in ys]) if ys else np.zeros((0,) + a.shape,
                                                                            a.dtype)
               for j, a in enumerate(y_avals)]
    return [np.asarray(c) for c in carry] + stacked


def _scan_impl(*args: Any, body: IR, n_consts: int, n_carry: int, length: int, reverse: bool
               ) -> list[Any]:
    return _scan_loop(lambda *a: eval_ir(body, *a), args, n_consts, n_carry, length, reverse,
                      body.out_avals[n_carry:])


def _scan_compiled(compile: Callable[[IR], Callable[..., list]], *, body: IR, n_consts: int,
                   n_carry: int, length: int, reverse: bool) -> Callable[..., list]:
    step = compile(body)
    y_avals = body.out_avals[n_carry:]
    return lambda *args: _scan_loop(step, args, n_consts, n_carry, length, reverse, y_avals)


def _scan_jvp(primals: list[Any], tangents: list[Any], *, body: IR, n_consts: int,
              n_carry: int, length: int, reverse: bool) -> tuple[list[Any], list[Any]]:
    ts = instantiate_zeros(tangents, primals)
    jbody = jvp_ir(body)  # (consts, carry, x, t_consts, t_carry, t_x) -> (carry, y, t_c, t_y)
    nc, nk = n_consts, n_carry
    k_out = len(body.outvars)

    def reordered(*a: Any) -> list[Any]:
        # operands: consts, t_consts, carry, t_carry, xs, t_xs
        c, tc = a[:nc], a[nc:2 * nc]
        k, tk = a[2 * nc:2 * nc + nk], a[2 * nc + nk:2 * nc + 2 * nk]
        rest = a[2 * nc + 2 * nk:]
        nx = len(rest) // 2
        x, tx = rest[:nx], rest[nx:]
        outs = eval_ir(jbody, *c, *k, *x, *tc, *tk, *tx)
        carry, y = outs[:nk], outs[nk:k_out]
        t_carry, t_y = outs[k_out:k_out + nk], outs[k_out + nk:]
        return list(carry) + list(t_carry) + list(y) + list(t_y)

    xs, txs = primals[nc + nk:], ts[nc + nk:]
    ops = list(primals[:nc]) + ts[:nc] + list(primals[nc:nc + nk]) + ts[nc:nc + nk] + \
        list(xs) + txs
    avals = [v.aval for v in body.invars]
    step_avals = avals[:nc] + avals[:nc] + avals[nc:nc + nk] + avals[nc:nc + nk] + \
        avals[nc + nk:] + avals[nc + nk:]
    new_body = trace_closed(reordered, step_avals)[0]
    res = scan_p.bind(*ops, body=new_body, n_consts=2 * nc, n_carry=2 * nk, length=length,
                      reverse=reverse)
    ny = k_out - nk
    carry, t_carry = res[:nk], res[nk:2 * nk]
    y, t_y = res[2 * nk:2 * nk + ny], res[2 * nk + ny:]
    return list(carry) + list(y), list(t_carry) + list(t_y)


def _scan_fwd(ins: list[Any], *, body: IR, n_consts: int, n_carry: int, length: int,
              reverse: bool) -> tuple[list[Any], Any]:
    known, unknown, wrt, has_ct = split_vjp(body)
    k_out = len(body.outvars)
    # Forward: the step also emits its residuals, stacked over the steps as extra outputs.
    res = scan_p.bind(*ins, body=known, n_consts=n_consts, n_carry=n_carry, length=length,
                      reverse=reverse)
    return res[:k_out], (res[k_out:], unknown, wrt, has_ct, ins)


def _scan_bwd(saved: Any, cts: list[Any], *, body: IR, n_consts: int, n_carry: int,
              length: int, reverse: bool) -> list[Any]:
    res, unknown, wrt, has_ct, ins = saved
    nc, nk = n_consts, n_carry
    out_avals = _scan_rule(*[aval_of(x) for x in ins], body=body, n_consts=nc, n_carry=nk,
                           length=length, reverse=reverse)
    cts = instantiate_zeros(cts, out_avals)
    ct_carry = [c for c, h in zip(cts[:nk], has_ct[:nk], strict=True) if h]
    ct_ys = [c for c, h in zip(cts[nk:], has_ct[nk:], strict=True) if h]
    w_consts, w_carry, w_xs = wrt[:nc], wrt[nc:nc + nk], wrt[nc + nk:]
    const_avals = [v.aval for v, w in zip(body.invars[:nc], w_consts, strict=True) if w]
    n_res = len(res)
    res_avals = [ShapedArray(aval_of(r).shape[1:], aval_of(r).dtype) for r in res]
    carry_avals = [aval_of(c) for c in ct_carry]
    y_avals = [ShapedArray(aval_of(c).shape[1:], aval_of(c).dtype) for c in ct_ys]

    def step(*a: Any) -> list[Any]:
        # carry: (accumulated const cts, ct of the carry); xs: (residuals, ct of y)
        acc, ct_c = a[:len(const_avals)], a[len(const_avals):len(const_avals) + len(carry_avals)]
        r = a[len(const_avals) + len(carry_avals):][:n_res]
        ct_y = a[len(const_avals) + len(carry_avals) + n_res:]
        grads = eval_ir(unknown, *r, *ct_c, *ct_y)
        it = iter(grads)
        g_consts = [next(it) for w in w_consts if w]
        g_carry = [next(it) for w in w_carry if w]
        g_xs = [next(it) for w in w_xs if w]
        acc = [add(x, g) for x, g in zip(acc, g_consts, strict=True)]
        return acc + g_carry + g_xs

    bwd_body = trace_closed(step, const_avals + carry_avals + res_avals + y_avals)[0]
    init_acc = [zeros(a) for a in const_avals]
    outs = scan_p.bind(*init_acc, *ct_carry, *res, *ct_ys, body=bwd_body, n_consts=0,
                       n_carry=len(const_avals) + len(carry_avals), length=length,
                       reverse=not reverse)
    it_c = iter(outs[:len(const_avals)])
    it_k = iter(outs[len(const_avals):len(const_avals) + len(carry_avals)])
    it_x = iter(outs[len(const_avals) + len(carry_avals):])
    return ([next(it_c) if w else None for w in w_consts] +
            [next(it_k) if w else None for w in w_carry] +
            [next(it_x) if w else None for w in w_xs])


def _scan_batch(args: list[Any], dims: list[Any], /, *, body: IR, n_consts: int, n_carry: int,
                length: int, reverse: bool) -> tuple[list[Any], list[int]]:
    size = batch_size(args, dims)
    nc, nk = n_consts, n_carry
    consts = args[:nc]
    carry = [at_front(a, d, size) for a, d in zip(args[nc:nc + nk], dims[nc:nc + nk],
                                                   strict=True)]
    xs, xdims = [], []
    for a, d in zip(args[nc + nk:], dims[nc + nk:], strict=True):
        if d is None:
            xs.append(a)
            xdims.append(None)
        else:  # scan axis first, batch axis second: each step sees the batch first
            a = move_front(a, d)
            perm = (1, 0) + tuple(range(2, aval_of(a).ndim))
            xs.append(transpose(a, perm))
            xdims.append(0)
    step_dims = list(dims[:nc]) + [0] * nk + xdims
    new_body = vmap_ir(body, step_dims, size)[0]
    outs = scan_p.bind(*consts, *carry, *xs, body=new_body, n_consts=nc, n_carry=nk,
                       length=length, reverse=reverse)
    return outs, [0] * nk + [1] * (len(outs) - nk)


def _scan_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    w = rng.uniform(-1, 1, (2,)).astype(dtype)
    c0 = rng.uniform(-1, 1, (2,)).astype(dtype)
    xs = rng.uniform(-1, 1, (4, 2)).astype(dtype)
    tree = tree_flatten((w, c0, xs[0]))[1]
    ir, _, _ = trace_fun(lambda w, c, x: (jnp.tanh(c * w + x), jnp.sum(c * x)), tree,
                          [aval_of(w), aval_of(c0), aval_of(xs[0])])
    params = {"body": ir, "n_consts": 1, "n_carry": 1, "length": 4}
    return [((w, c0, xs), dict(params, reverse=False)), ((w, c0, xs), dict(params, reverse=True))]


scan_p = register(Primitive(
    "scan", _scan_rule, _scan_impl, Host(_scan_compiled), jvp=_scan_jvp, vjp_fwd=_scan_fwd,
    vjp_bwd=_scan_bwd,
    batch=_scan_batch, multiple_results=True, test_cases=_scan_cases))


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final carry
    and the stacked ``y``s (JAX's ``lax.scan``). The reverse pass stores each step's
    residuals.

    >>> import jitgrad.numpy as jnp
    >>> scan(lambda c, x: (c + x, c * x), 0.0, np.arange(1.0, 4.0))
    (array(6.), array([0., 2., 9.]))
    """
    x_leaves, x_tree = tree_flatten(xs)
    lengths = {aval_of(x).shape[0] if aval_of(x).ndim else None for x in x_leaves}
    if None in lengths:
        raise ShapeError("scan: every leaf of xs must have a leading axis to scan over")
    if length is not None:
        lengths.add(int(length))
    if not lengths:
        raise ShapeError("scan: with no xs to scan over, pass length=")
    if len(lengths) != 1:
        raise ShapeError(f"scan: xs leaves and length disagree on the number of steps: "
                         f"{sorted(lengths)}")
    n = lengths.pop()
    c_leaves, c_tree = tree_flatten(init)
    c_leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in c_leaves]
    x_avals = [ShapedArray(aval_of(x).shape[1:], aval_of(x).dtype) for x in x_leaves]
    c_avals = [aval_of(x) for x in c_leaves]
    in_tree = tree_flatten((init, xs))[1]
    body, consts, out_tree = trace_fun(lambda c, x: f(c, x), in_tree, c_avals + x_avals)
    if out_tree.node_type not in (tuple, list) or len(out_tree.children) != 2:
        raise JitgradTypeError(f"scan: f must return a pair (carry, y), got {out_tree}")
    carry_tree, y_tree = out_tree.children
    if carry_tree != c_tree or body.out_avals[:len(c_avals)] != c_avals:
        got = tree_unflatten(carry_tree, body.out_avals[:carry_tree.num_leaves])
        raise ShapeError(f"scan: the carry returned by f, {got}, differs from init "
                         f"{tree_unflatten(c_tree, c_avals)} (shapes and dtypes must match)")
    outs = scan_p.bind(*consts, *c_leaves, *x_leaves, body=body, n_consts=len(consts),
                       n_carry=len(c_leaves), length=n, reverse=bool(reverse))
    carry = tree_unflatten(c_tree, [as_output(o) for o in outs[:len(c_leaves)]])
    ys = tree_unflatten(y_tree, [as_output(o) for o in outs[len(c_leaves):]])
    return carry, ys


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any
              ) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``. With Python-int bounds it is
    a scan (differentiable both ways); with traced bounds a while_loop (forward mode only).

    >>> fori_loop(0, 4, lambda i, v: v * 2.0, 1.0)
    array(16.)
    """
    if isinstance(lower, Tracer) or isinstance(upper, Tracer):
        def body(c: Any) -> Any:
            return (c[0] + 1, body_fun(c[0], c[1]))
        return while_loop(lambda c: c[0] < upper, body, (lower, init_val))[1]
    lo, hi = int(lower), int(upper)

    def step(c: Any, _: Any) -> tuple[Any, None]:
        i, v = c
        return (i + 1, body_fun(i, v)), None

    (_, val), _ = scan(step, (np.int64(lo), init_val), None, length=builtins.max(hi - lo, 0))
    return val


# ---------------------------------------------------------------------------------------------
# while_loop


def _while_rule(*avals: ShapedArray, cond_ir: IR, body: IR, n_cc: int, n_bc: int
                ) -> list[ShapedArray]:
    return list(body.out_avals)


def _while_loop(cond_fn: Callable[..., list], body_fn: Callable[..., list], args: Sequence[Any],
                n_cc: int, n_bc: int) -> list[Any]:
    cc, bc, val = args[:n_cc], args[n_cc:n_cc + n_bc], list(args[n_cc + n_bc:])
    while bool(cond_fn(*cc, *val)[0]):
        val = body_fn(*bc, *val)
    return [np.asarray(v) for v in val]


def _while_impl(*args: Any, cond_ir: IR, body: IR, n_cc: int, n_bc: int) -> list[Any]:
    return _while_loop(lambda *a: eval_ir(cond_ir, *a), lambda *a: eval_ir(body, *a), args,
                       n_cc, n_bc)


def _while_compiled(compile: Callable[[IR], Callable[..., list]], *, cond_ir: IR, body: IR,
                    n_cc: int, n_bc: int) -> Callable[..., list]:
    c, b = compile(cond_ir), compile(body)
    return lambda *args: _while_loop(c, b, args, n_cc, n_bc)


def _while_jvp(primals: list[Any], tangents: list[Any], *, cond_ir: IR, body: IR, n_cc: int,
               n_bc: int) -> tuple[list[Any], list[Any]]:
    ts = instantiate_zeros(tangents, primals)
    nv = len(body.outvars)
    jbody = jvp_ir(body)  # (bc, val, t_bc, t_val) -> (val, t_val)

    def step(*a: Any) -> list[Any]:
        bc, tbc = a[:n_bc], a[n_bc:2 * n_bc]
        val, tval = a[2 * n_bc:2 * n_bc + nv], a[2 * n_bc + nv:]
        return eval_ir(jbody, *bc, *val, *tbc, *tval)

    def cond2(*a: Any) -> list[Any]:
        return eval_ir(cond_ir, *a[:n_cc + nv])

    b_avals = body.in_avals
    v_avals = list(body.out_avals)
    new_body = trace_closed(step, b_avals[:n_bc] + b_avals[:n_bc] + v_avals +
                                     v_avals)[0]
    new_cond = trace_closed(cond2, cond_ir.in_avals + v_avals)[0]
    bc, val = primals[n_cc:n_cc + n_bc], primals[n_cc + n_bc:]
    outs = while_p.bind(*primals[:n_cc], *bc, *ts[n_cc:n_cc + n_bc], *val,
                        *ts[n_cc + n_bc:], cond_ir=new_cond, body=new_body, n_cc=n_cc,
                        n_bc=2 * n_bc)
    return outs[:nv], outs[nv:]


def _while_no_vjp(ins: list[Any], **_: Any) -> Any:
    raise JitgradTypeError(
        "Reverse-mode differentiation (grad/vjp) of while_loop is not supported: its number of "
        "steps is only known at run time, so the residuals of each step cannot be stored. Use "
        "fori_loop with Python-int bounds or scan (both differentiable), or forward mode "
        "(jvp/jacfwd).")


def _while_batch(args: list[Any], dims: list[Any], /, *, cond_ir: IR, body: IR, n_cc: int,
                 n_bc: int) -> tuple[list[Any], list[int]]:
    size = batch_size(args, dims)
    nv = len(body.outvars)
    val = [at_front(a, d, size) for a, d in zip(args[n_cc + n_bc:], dims[n_cc + n_bc:],
                                                strict=True)]
    cdims = list(dims[:n_cc]) + [0] * nv
    bdims = list(dims[n_cc:n_cc + n_bc]) + [0] * nv
    bcond = vmap_ir(cond_ir, cdims, size)[0]  # per-example predicates (size,)
    bbody = vmap_ir(body, bdims, size)[0]

    # Run while any example continues; the others keep their values.
    def any_cond(*a: Any) -> list[Any]:
        pred = eval_ir(bcond, *a)[0]
        return [ne(reduce_max(convert_element_type(pred, np.int64), (0,)), 0)]

    def masked_body(*a: Any) -> list[Any]:
        cc, bc, v = a[:n_cc], a[n_cc:n_cc + n_bc], a[n_cc + n_bc:]
        pred = eval_ir(bcond, *cc, *v)[0]
        new = eval_ir(bbody, *bc, *v)
        return [select(broadcast_in_dim(pred, aval_of(n).shape, (0,)), n, o)
                for n, o in zip(new, v, strict=True)]

    cc, bc = args[:n_cc], args[n_cc:n_cc + n_bc]
    avals = [aval_of(x) for x in list(cc) + list(bc) + val]
    c_avals = [aval_of(x) for x in list(cc) + val]
    outs = while_p.bind(*cc, *cc, *bc, *val,
                        cond_ir=trace_closed(any_cond, c_avals)[0],
                        body=trace_closed(masked_body, avals)[0],
                        n_cc=n_cc, n_bc=n_cc + n_bc)
    return outs, [0] * nv


def _while_cases(rng: np.random.Generator, dtype: Any) -> list:
    x = rng.uniform(0.5, 1.0, (3,)).astype(dtype)
    tree = tree_flatten((np.int64(0), x))[1]
    avals = [aval_of(np.int64(0)), aval_of(x)]
    c, _, _ = trace_fun(lambda i, x: i < 3, tree, avals)
    b, _, _ = trace_fun(lambda i, x: (i + 1, x * 1.5 + 0.25), tree, avals)
    return [((np.int64(0), x), {"cond_ir": c, "body": b, "n_cc": 0, "n_bc": 0})]


while_p = register(Primitive(
    "while_loop", _while_rule, _while_impl, Host(_while_compiled), jvp=_while_jvp,
    vjp_fwd=_while_no_vjp,
    vjp_bwd=_while_no_vjp, batch=_while_batch, multiple_results=True,
    test_cases=_while_cases, reverse_mode=False))


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
               ) -> Any:
    """``while cond_fun(val): val = body_fun(val)``. Differentiable in forward mode only.

    >>> while_loop(lambda v: v < 10.0, lambda v: v * 2.0, 1.0)
    array(16.)
    """
    leaves, tree = tree_flatten(init_val)
    if not any(isinstance(x, Tracer) for x in leaves):
        val = init_val
        while bool(cond_fun(val)):
            val = body_fun(val)
        return tree_unflatten(tree, [as_output(x) for x in tree_leaves(val)])
    leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in leaves]
    avals = [aval_of(x) for x in leaves]
    c_ir, c_consts, c_tree = trace_fun(cond_fun, tree_flatten((init_val,))[1], avals)
    if c_ir.out_avals != [ShapedArray((), np.bool_)]:
        raise ShapeError(f"while_loop: cond_fun must return a boolean scalar, got "
                         f"{c_ir.out_avals}")
    b_ir, b_consts, b_tree = trace_fun(body_fun, tree_flatten((init_val,))[1], avals)
    if b_tree != tree or b_ir.out_avals != avals:
        raise ShapeError(f"while_loop: body_fun returns {tree_unflatten(b_tree, b_ir.out_avals)}"
                         f", but the loop value is {tree_unflatten(tree, avals)}")
    outs = while_p.bind(*c_consts, *b_consts, *leaves, cond_ir=c_ir, body=b_ir,
                        n_cc=len(c_consts), n_bc=len(b_consts))
    return tree_unflatten(tree, outs)


# ---------------------------------------------------------------------------------------------
# switch and map: control flow built on cond and scan


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)``, ``index`` clamped to the branches (JAX's
    ``lax.switch``): a balanced tree of ``cond``s, so every branch is traced and must return
    the same shapes and dtypes, and the result is differentiable and batchable.

    >>> switch(5, [lambda x: x + 1.0, lambda x: x * 10.0], np.array(2.0))
    array(20.)
    """
    branches = list(branches)
    if not branches:
        raise JitgradTypeError("switch: needs at least one branch")
    if aval_of(index).shape != () or not np.issubdtype(aval_of(index).dtype, np.integer):
        raise JitgradTypeError(f"switch: the index must be an integer scalar, got "
                               f"{aval_of(index)}")
    n = len(branches)
    if isinstance(index, Tracer):
        index = jnp.clip(index, 0, n - 1)
    else:
        index = builtins.min(builtins.max(int(index), 0), n - 1)

    def pick(lo: int, hi: int) -> Callable[..., Any]:
        if hi - lo == 1:
            return branches[lo]
        mid = (lo + hi) // 2
        return lambda *ops: cond(index < mid, pick(lo, mid), pick(mid, hi), *ops)

    return tree_map(as_output, pick(0, n)(*operands))


def map(f: Callable[[Any], Any], xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001
    """``f`` applied to each slice of ``xs`` along its leading axis (a pytree), the results
    stacked: a ``scan`` (JAX's ``lax.map``). With ``batch_size``, ``batch_size`` slices at a
    time go through ``vmap(f)``.

    >>> import jitgrad.numpy as jnp
    >>> map(lambda x: jnp.sum(x ** 2), np.arange(6.0).reshape(3, 2))
    array([ 1., 13., 41.])
    """
    from jitgrad.api import vmap
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    k = int(batch_size)
    if k < 1:
        raise JitgradTypeError(f"map: batch_size must be a positive integer, got {batch_size}")
    leaves, tree = tree_flatten(xs)
    n = aval_of(leaves[0]).shape[0] if leaves else 0
    full = n // k * k

    def chunks(x: Any) -> Any:
        return jnp.reshape(x[:full], (n // k, k) + aval_of(x).shape[1:])

    parts = []
    if full:
        body = scan(lambda _, c: ((), vmap(f)(c)), (),
                    tree_unflatten(tree, [chunks(x) for x in leaves]))[1]
        parts.append(tree_map(lambda y: jnp.reshape(y, (full,) + aval_of(y).shape[2:]), body))
    if full < n:
        parts.append(vmap(f)(tree_unflatten(tree, [x[full:] for x in leaves])))
    if len(parts) == 1:
        return parts[0]
    return tree_map(lambda a, b: jnp.concatenate([a, b]), *parts)


# ---------------------------------------------------------------------------------------------
# Slices at traced positions: two primitives run as numpy slicing (Host), with start positions
# as integer scalar operands, clamped so that the window fits (as XLA's dynamic slices).


def _window(starts: Sequence[Any], shape: tuple[int, ...], sizes: tuple[int, ...]
            ) -> tuple[builtins.slice, ...]:
    """The clamped window of ``sizes`` at ``starts`` in an array of ``shape``."""
    out = []
    for s, n, k in zip(starts, shape, sizes, strict=True):
        c = builtins.min(builtins.max(int(s), 0), n - k)
        out.append(builtins.slice(c, c + k))
    return tuple(out)


def _check_window(name: str, x: ShapedArray, starts: Sequence[ShapedArray],
                  sizes: tuple[int, ...]) -> None:
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ShapeError(f"{name}: an operand {x} needs {x.ndim} start indices and sizes, got "
                         f"{len(starts)} and {len(sizes)}")
    for s in starts:
        if s.shape != () or not np.issubdtype(s.dtype, np.integer):
            raise JitgradTypeError(f"{name}: start indices must be integer scalars, got {s}")
    for d, (n, k) in enumerate(zip(x.shape, sizes, strict=True)):
        if not 0 <= k <= n:
            raise ShapeError(f"{name}: slice size {k} does not fit axis {d} of an operand "
                             f"{x}")


def _ds_rule(x: ShapedArray, *starts: ShapedArray, sizes: tuple[int, ...]) -> ShapedArray:
    _check_window("dynamic_slice", x, starts, sizes)
    return ShapedArray(sizes, x.dtype)


def _ds_impl(x: Any, *starts: Any, sizes: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x)
    return np.array(x[_window(starts, x.shape, sizes)])


def _ds_vjp(cts: list[Any], ins: list[Any], outs: list[Any], *, sizes: tuple[int, ...]
            ) -> list[Any]:
    x, *starts = ins
    ct = instantiate_zeros(cts, outs)[0]
    return [dynamic_update_slice_p.bind(zeros(aval_of(x)), ct, *starts)] + [None] * len(starts)


def _clamped_starts(starts: Sequence[Any], shape: tuple[int, ...], sizes: Sequence[int]
                    ) -> list[Any]:
    return [jnp.clip(s, 0, n - k) for s, n, k in zip(starts, shape, sizes, strict=True)]


def _per_example_positions(starts: list[Any], sizes: Sequence[int], shape: tuple[int, ...],
                           b: int) -> Any:
    """Flat positions, in ``b`` examples of ``shape`` laid end to end, of each example's
    window of ``sizes`` at its (clamped, shape ``(b,)``) ``starts``: shape ``(b, *sizes)``."""
    nd = len(shape)
    n = int(np.prod(shape, dtype=np.int64))
    flat = jnp.reshape(np.arange(b, dtype=np.int64) * n, (b,) + (1,) * nd)
    stride = n
    for d, (s, k, m) in enumerate(zip(starts, sizes, shape, strict=True)):
        stride //= builtins.max(m, 1)
        pos = jnp.reshape(s, (b,) + (1,) * nd) + jnp.reshape(
            np.arange(k, dtype=np.int64), (1,) * (d + 1) + (k,) + (1,) * (nd - d - 1))
        flat = flat + pos * stride
    return flat


def _ds_batch(args: list[Any], dims: list[Any], /, *, sizes: tuple[int, ...]
              ) -> tuple[Any, int]:
    b = batch_size(args, dims)
    x = at_front(args[0], dims[0], b)
    if all(d is None for d in dims[1:]):  # one window for every example
        return dynamic_slice_p.bind(x, np.int64(0), *args[1:], sizes=(b,) + sizes), 0
    # A window per example: one gather of their flat positions.
    shape = aval_of(x).shape[1:]
    starts = _clamped_starts([at_front(s, d, b) for s, d in zip(args[1:], dims[1:],
                                                                  strict=True)], shape, sizes)
    flat = jnp.reshape(x, (aval_of(x).size,))
    return gather(flat, _per_example_positions(starts, sizes, shape, b), 0), 0


def _window_cases(rng: np.random.Generator, dtype: Any) -> list:
    def starts(n: int) -> list[np.int64]:
        return [np.int64(v) for v in rng.integers(-2, 6, n)]

    x45, x6, x234 = (rng.uniform(-2, 2, s).astype(dtype) for s in ((4, 5), (6,), (2, 3, 4)))
    return [((x45, *starts(2)), {"sizes": (2, 3)}), ((x6, *starts(1)), {"sizes": (3,)}),
            ((x234, *starts(3)), {"sizes": (1, 3, 2)}), ((x45, *starts(2)), {"sizes": (0, 5)})]


dynamic_slice_p = register(Primitive(
    "dynamic_slice", _ds_rule, _ds_impl, Host(), linear=True, vjp=_ds_vjp, batch=_ds_batch,
    test_cases=_window_cases))


def _dus_rule(x: ShapedArray, u: ShapedArray, *starts: ShapedArray) -> ShapedArray:
    if u.ndim != x.ndim or u.dtype != x.dtype:
        raise ShapeError(f"dynamic_update_slice: the update {u} must have the rank and dtype "
                         f"of the operand {x}")
    _check_window("dynamic_update_slice", x, starts, u.shape)
    return x


def _dus_impl(x: Any, u: Any, *starts: Any) -> np.ndarray:
    out = np.array(x, copy=True)
    out[_window(starts, out.shape, np.shape(u))] = u
    return out


def _dus_vjp(cts: list[Any], ins: list[Any], outs: list[Any]) -> list[Any]:
    _, u, *starts = ins
    ct = instantiate_zeros(cts, outs)[0]
    return [dynamic_update_slice_p.bind(ct, zeros(aval_of(u)), *starts),
            dynamic_slice_p.bind(ct, *starts, sizes=aval_of(u).shape)] + [None] * len(starts)


def _dus_batch(args: list[Any], dims: list[Any], /) -> tuple[Any, int]:
    b = batch_size(args, dims)
    x, u = at_front(args[0], dims[0], b), at_front(args[1], dims[1], b)
    if all(d is None for d in dims[2:]):
        return dynamic_update_slice_p.bind(x, u, np.int64(0), *args[2:]), 0
    # A window per example: where(inside it, the update gathered to the operand's shape, x).
    shape, sizes = aval_of(x).shape[1:], aval_of(u).shape[1:]
    nd = len(shape)
    starts = _clamped_starts([at_front(s, d, b) for s, d in zip(args[2:], dims[2:],
                                                                  strict=True)], shape, sizes)
    inside = None
    offsets = []  # where each position falls in the update (clamped into it)
    for d, (s, n, k) in enumerate(zip(starts, shape, sizes, strict=True)):
        pos = jnp.reshape(np.arange(n, dtype=np.int64), (1,) * (d + 1) + (n,) +
                          (1,) * (nd - d - 1)) - jnp.reshape(s, (b,) + (1,) * nd)
        hit = jnp.logical_and(pos >= 0, pos < k)
        inside = hit if inside is None else jnp.logical_and(inside, hit)
        offsets.append(jnp.clip(pos, 0, builtins.max(k - 1, 0)))
    flat = jnp.reshape(np.arange(b, dtype=np.int64) * int(np.prod(sizes, dtype=np.int64)),
                       (b,) + (1,) * nd)
    stride = int(np.prod(sizes, dtype=np.int64))
    for off, k in zip(offsets, sizes, strict=True):
        stride //= builtins.max(k, 1)
        flat = flat + off * stride
    placed = gather(jnp.reshape(u, (aval_of(u).size,)), jnp.broadcast_to(flat, (b,) + shape), 0)
    return jnp.where(inside, placed, x), 0


def _dus_cases(rng: np.random.Generator, dtype: Any) -> list:
    cases = []
    for (args, params) in _window_cases(rng, dtype):
        x, *starts = args
        u = rng.uniform(-2, 2, params["sizes"]).astype(dtype)
        cases.append(((x, u, *starts), {}))
    return cases


dynamic_update_slice_p = register(Primitive(
    "dynamic_update_slice", _dus_rule, _dus_impl, Host(), linear=True, vjp=_dus_vjp,
    batch=_dus_batch, test_cases=_dus_cases))


def _start(s: Any, n: int, size: int, allow_negative: bool, name: str) -> Any:
    """A start position: a Python int clamped so that ``size`` elements from it fit in ``n``
    if ``s`` is concrete, else an int64 scalar tracer (the primitives clamp it); a negative
    start first counts from the end with ``allow_negative`` (as JAX)."""
    if aval_of(s).shape != () or not np.issubdtype(aval_of(s).dtype, np.integer):
        raise JitgradTypeError(f"{name}: start indices must be integer scalars, got "
                               f"{aval_of(s)}")
    if not isinstance(s, Tracer):
        s = int(s)
        if allow_negative and s < 0:
            s += n
        return builtins.min(builtins.max(s, 0), n - size)
    s = jnp.astype(s, np.int64)
    return jnp.where(s < 0, s + n, s) if allow_negative else s


def _starts(operand: Any, start_indices: Any, sizes: Sequence[int], allow_negative: Any,
            name: str) -> list[Any]:
    shape = aval_of(operand).shape
    if isinstance(start_indices, Tracer | np.ndarray):
        if aval_of(start_indices).ndim != 1:
            raise ShapeError(f"{name}: start_indices must be a sequence of scalars or a 1-D "
                             f"array, got {aval_of(start_indices)}")
        start_indices = [start_indices[i] for i in range(aval_of(start_indices).shape[0])]
    starts = list(start_indices)
    _check_window(name, aval_of(operand), [aval_of(s) for s in starts], tuple(sizes))
    neg = allow_negative if isinstance(allow_negative, Sequence) else \
        [allow_negative] * len(shape)
    return [_start(s, n, k, bool(a), name)
            for s, n, k, a in zip(starts, shape, sizes, neg, strict=True)]


def dynamic_slice(operand: Any, start_indices: Any, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """The slice of ``slice_sizes`` at ``start_indices`` (JAX's ``lax.dynamic_slice``): the
    starts may be traced; each is clamped so that the slice fits (after counting a negative
    start from the end). Concrete starts make a static slice; traced ones a ``dynamic_slice``
    step (numpy slicing), differentiable (its transpose writes into zeros) and batchable.

    >>> import jitgrad as jg
    >>> jg.jit(lambda x, i: dynamic_slice(x, (i,), (2,)))(np.arange(5.0), 4)
    array([3., 4.])
    """
    sizes = tuple(int(k) for k in slice_sizes)
    starts = _starts(operand, start_indices, sizes, allow_negative_indices, "dynamic_slice")
    if any(isinstance(s, Tracer) for s in starts):
        return dynamic_slice_p.bind(operand, *[s if isinstance(s, Tracer) else np.int64(s)
                                               for s in starts], sizes=sizes)
    window = tuple(builtins.slice(s, s + k) for s, k in zip(starts, sizes, strict=True))
    return operand[window] if isinstance(operand, Tracer) else np.array(operand[window])


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True) -> Any:
    """``dynamic_slice`` along one axis (the others whole).

    >>> dynamic_slice_in_dim(np.arange(6.0).reshape(2, 3), 2, 2, axis=1)
    array([[1., 2.],
           [4., 5.]])
    """
    shape = aval_of(operand).shape
    axis = _axis(axis, len(shape), "dynamic_slice_in_dim")
    starts = [0] * len(shape)
    sizes = list(shape)
    starts[axis], sizes[axis] = start_index, slice_size
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True) -> Any:
    """The element ``index`` along ``axis`` (clamped), keeping that axis with length 1 if
    ``keepdims``.

    >>> dynamic_index_in_dim(np.arange(6.0).reshape(2, 3), 1, axis=1, keepdims=False)
    array([1., 4.])
    """
    axis = _axis(axis, aval_of(operand).ndim, "dynamic_index_in_dim")
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else jnp.squeeze(out, axis)


def dynamic_update_slice(operand: Any, update: Any, start_indices: Any, *,
                         allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """``operand`` with the block ``update`` written at ``start_indices`` (JAX's
    ``lax.dynamic_update_slice``), the starts clamped as in ``dynamic_slice``; ``update``
    must have ``operand``'s rank and dtype. A ``dynamic_update_slice`` step (a numpy copy and
    assignment), differentiable in both and batchable.

    >>> import jitgrad as jg
    >>> jg.jit(lambda x, i: dynamic_update_slice(x, np.ones(2), (i,)))(np.zeros(4), 3)
    array([0., 0., 1., 1.])
    """
    oa, ua = aval_of(operand), aval_of(update)
    if oa.ndim != ua.ndim or oa.dtype != ua.dtype:
        raise ShapeError(f"dynamic_update_slice: the update {ua} must have the rank and dtype "
                         f"of the operand {oa}")
    starts = _starts(operand, start_indices, ua.shape, allow_negative_indices,
                     "dynamic_update_slice")
    return dynamic_update_slice_p.bind(operand, update, *[
        s if isinstance(s, Tracer) else np.int64(s) for s in starts])


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """``dynamic_update_slice`` along one axis (``update`` spans the others).

    >>> dynamic_update_slice_in_dim(np.zeros((2, 3)), np.ones((2, 1)), 1, axis=1)
    array([[0., 1., 0.],
           [0., 1., 0.]])
    """
    nd = aval_of(operand).ndim
    axis = _axis(axis, nd, "dynamic_update_slice_in_dim")
    starts = [0] * nd
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts,
                                allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand: Any, update: Any, index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """``update`` (of rank one less than ``operand``, or with a length-1 ``axis``) written at
    position ``index`` along ``axis``.

    >>> dynamic_update_index_in_dim(np.zeros((2, 3)), np.ones(2), 2, axis=1)
    array([[0., 0., 1.],
           [0., 0., 1.]])
    """
    nd = aval_of(operand).ndim
    axis = _axis(axis, nd, "dynamic_update_index_in_dim")
    if aval_of(update).ndim == nd - 1:
        update = jnp.expand_dims(update, axis)
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


def _axis(axis: int, nd: int, name: str) -> int:
    if not -nd <= axis < nd:
        raise ShapeError(f"{name}: axis {axis} is out of bounds for an operand of rank {nd}")
    return axis % nd


# ---------------------------------------------------------------------------------------------
# Precision


class Precision(enum.Enum):
    """JAX's ``lax.Precision`` for contractions (``jnp.dot(..., precision=...)``). Accepted
    and ignored: jitgrad computes float32 and float64 contractions in their own precision on
    the CPU, which is ``HIGHEST``.

    >>> Precision("highest")
    <Precision.HIGHEST: 2>
    """

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> Precision | None:
        names = {"default": cls.DEFAULT, "fastest": cls.DEFAULT, "bfloat16": cls.DEFAULT,
                 "high": cls.HIGH, "tensorfloat32": cls.HIGH, "bfloat16_3x": cls.HIGH,
                 "highest": cls.HIGHEST, "float32": cls.HIGHEST}
        return names.get(value.lower()) if isinstance(value, str) else None


# jax.lax's elementwise, structural, reduction, cumulative, contraction and sorting functions
# (after the primitives imported above for this module's own use: the public names are
# lax's functions, whose signatures are JAX's)
from jitgrad._lax_ops import *  # noqa: E402,F403
from jitgrad._lax_ops import __all__ as _ops_all  # noqa: E402

__all__ += _ops_all
