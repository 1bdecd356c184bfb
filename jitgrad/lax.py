"""Control flow (cond, scan, fori_loop, while_loop), checkpoint and custom_jvp: primitives
holding sub-programs, differentiated and batched by transforming those sub-programs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.api import _as_output, closure_convert
from jitgrad.core import (
    IR,
    Host,
    Inline,
    Primitive,
    ShapedArray,
    Tracer,
    Zero,
    aval_of,
    eval_ir,
    is_float,
    register,
)
from jitgrad.errors import JitgradTypeError, ShapeError
from jitgrad.prims import (
    add,
    broadcast_in_dim,
    convert_element_type,
    ne,
    reduce_max,
    select,
    transpose,
    zeros,
)
from jitgrad.prims.structural import at_front, batch_size, move_front
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.transforms.vmap import vmap_ir
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_leaves, tree_unflatten

__all__ = ["checkpoint", "cond", "custom_jvp", "fori_loop", "remat", "scan", "while_loop"]


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _trace_fun(f: Callable[..., Any], in_tree: PyTreeDef, avals: Sequence[ShapedArray]
               ) -> tuple[IR, list[Any], PyTreeDef]:
    """Trace ``f`` on leaves of ``in_tree`` with ``avals``; constants become leading inputs."""
    out_tree: list[PyTreeDef | None] = [None]

    def flat(*xs: Any) -> list[Any]:
        outs, out_tree[0] = tree_flatten(f(*tree_unflatten(in_tree, xs)))
        return outs

    ir, consts = closure_convert(trace(flat, avals))
    return ir, consts, out_tree[0]


def _instantiate(ts: Sequence[Any], xs: Sequence[Any]) -> list[Any]:
    """Symbolic zero tangents/cotangents as arrays (of the avals of ``xs``)."""
    return [zeros(x if isinstance(x, ShapedArray) else aval_of(x)) if isinstance(t, Zero)
            else t for t, x in zip(ts, xs, strict=True)]


def _floats(avals: Sequence[ShapedArray]) -> list[bool]:
    return [is_float(a.dtype) for a in avals]


def _jvp_ir(fun: IR) -> IR:
    """``(xs..., ts...) -> (outs..., t_outs...)`` with every tangent an explicit input/output."""
    n = len(fun.invars)

    def run(*a: Any) -> list[Any]:
        outs, ts = jvp_flat(lambda *x: eval_ir(fun, *x), list(a[:n]), list(a[n:]))
        return outs + _instantiate(ts, outs)

    avals = [v.aval for v in fun.invars]
    return closure_convert(trace(run, avals + avals))[0]


def _split_vjp(fun: IR) -> tuple[IR, IR, list[bool], list[bool]]:
    """Forward part ``ins -> outs + residuals`` and backward part ``residuals + cts -> cts of
    the float inputs`` of ``fun``'s reverse mode."""
    wrt = _floats(fun.in_avals)
    has_ct = _floats(fun.out_avals)
    joint = vjp_ir(fun, wrt, has_ct)
    n_in, n_out = len(fun.invars), len(fun.outvars)
    known, unknown, _ = partial_eval_ir(joint, [False] * n_in + [True] * sum(has_ct),
                                        [False] * n_out + [True] * sum(wrt))
    return closure_convert(known)[0], closure_convert(unknown)[0], wrt, has_ct


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
    ts = _instantiate(tangents[1:], args)
    res = cond_p.bind(pred, *args, *ts, branches=tuple(_jvp_ir(b) for b in branches))
    k = len(branches[0].outvars)
    return res[:k], res[k:]


def _cond_fwd(ins: list[Any], *, branches: tuple[IR, ...]) -> tuple[list[Any], Any]:
    splits = [_split_vjp(b) for b in branches]
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
        fwds.append(closure_convert(trace(run, branches[bi].in_avals))[0])
    res = cond_p.bind(ins[0], *ins[1:], branches=tuple(fwds))
    return res[:k], (ins[0], res[k:], splits, res_avals)


def _cond_bwd(saved: Any, cts: list[Any], *, branches: tuple[IR, ...]) -> list[Any]:
    pred, res, splits, res_avals = saved
    _, _, wrt, has_ct = splits[0]
    cts = [c for c, h in zip(_instantiate(cts, branches[0].out_avals),
                             has_ct, strict=True) if h]
    bwds = []
    starts = np.cumsum([0] + [len(a) for a in res_avals])
    all_res = [a for avals in res_avals for a in avals]
    for bi, (_, unknown, _, _) in enumerate(splits):
        def run(*xs: Any, unknown: IR = unknown, bi: int = bi) -> list[Any]:
            mine = list(xs[starts[bi]:starts[bi + 1]])
            return eval_ir(unknown, *mine, *xs[len(all_res):])
        bwds.append(closure_convert(trace(run, all_res + [aval_of(c) for c in cts]))[0])
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
    t, _, _ = _trace_fun(lambda x: (jnp.sin(x) * 2.0, jnp.sum(x)), tree, [aval_of(x)])
    f, _, _ = _trace_fun(lambda x: (x * x, jnp.max(x)), tree, [aval_of(x)])
    return [((np.bool_(True), x), {"branches": (f, t)}),
            ((np.bool_(False), x), {"branches": (f, t)})]


cond_p = register(Primitive(
    "cond", _cond_rule, _cond_impl, Host(_cond_compiled), jvp=_cond_jvp, vjp_fwd=_cond_fwd,
    vjp_bwd=_cond_bwd,
    batch=_cond_batch, multiple_results=True, test_cases=_cond_cases))


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``; under a
    transformation both branches are traced and must return the same shapes and dtypes.

    >>> import jitgrad as jg
    >>> jg.grad(lambda x: cond(x > 0, lambda x: x * x, lambda x: -x, x))(3.0)
    array(6.)
    """
    leaves, in_tree = tree_flatten(operands)
    if not isinstance(pred, Tracer) and not any(isinstance(x, Tracer) for x in leaves):
        return (true_fun if bool(pred) else false_fun)(*operands)
    if aval_of(pred).shape != ():
        raise ShapeError(f"cond: the predicate must be a scalar, got shape {aval_of(pred).shape}")
    if aval_of(pred).dtype != np.bool_:
        pred = ne(pred, 0)
    avals = [aval_of(x) for x in leaves]
    t_ir, t_consts, t_tree = _trace_fun(true_fun, in_tree, avals)
    f_ir, f_consts, f_tree = _trace_fun(false_fun, in_tree, avals)
    if t_tree != f_tree or t_ir.out_avals != f_ir.out_avals:
        raise ShapeError(f"cond: the branches return different types: true_fun returns "
                         f"{tree_unflatten(t_tree, t_ir.out_avals)}, false_fun returns "
                         f"{tree_unflatten(f_tree, f_ir.out_avals)}")
    # Both branches take every branch's constants, then the operands.
    nt, nf = len(t_consts), len(f_consts)
    c_avals = [aval_of(c) for c in t_consts + f_consts]

    def widen(ir: IR, lo: int, n: int) -> IR:
        def run(*xs: Any) -> list[Any]:
            return eval_ir(ir, *xs[lo:lo + n], *xs[nt + nf:])
        return closure_convert(trace(run, c_avals + avals))[0]

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
    ts = _instantiate(tangents, primals)
    jbody = _jvp_ir(body)  # (consts, carry, x, t_consts, t_carry, t_x) -> (carry, y, t_c, t_y)
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
    new_body = closure_convert(trace(reordered, step_avals))[0]
    res = scan_p.bind(*ops, body=new_body, n_consts=2 * nc, n_carry=2 * nk, length=length,
                      reverse=reverse)
    ny = k_out - nk
    carry, t_carry = res[:nk], res[nk:2 * nk]
    y, t_y = res[2 * nk:2 * nk + ny], res[2 * nk + ny:]
    return list(carry) + list(y), list(t_carry) + list(t_y)


def _scan_fwd(ins: list[Any], *, body: IR, n_consts: int, n_carry: int, length: int,
              reverse: bool) -> tuple[list[Any], Any]:
    known, unknown, wrt, has_ct = _split_vjp(body)
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
    cts = _instantiate(cts, out_avals)
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

    bwd_body = closure_convert(trace(step, const_avals + carry_avals + res_avals + y_avals))[0]
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
    ir, _, _ = _trace_fun(lambda w, c, x: (jnp.tanh(c * w + x), jnp.sum(c * x)), tree,
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
    body, consts, out_tree = _trace_fun(lambda c, x: f(c, x), in_tree, c_avals + x_avals)
    if out_tree.node_type not in (tuple, list) or len(out_tree.children) != 2:
        raise JitgradTypeError(f"scan: f must return a pair (carry, y), got {out_tree}")
    carry_tree, y_tree = out_tree.children
    if carry_tree != c_tree or body.out_avals[:len(c_avals)] != c_avals:
        got = tree_unflatten(carry_tree, body.out_avals[:carry_tree.num_leaves])
        raise ShapeError(f"scan: the carry returned by f, {got}, differs from init "
                         f"{tree_unflatten(c_tree, c_avals)} (shapes and dtypes must match)")
    outs = scan_p.bind(*consts, *c_leaves, *x_leaves, body=body, n_consts=len(consts),
                       n_carry=len(c_leaves), length=n, reverse=bool(reverse))
    carry = tree_unflatten(c_tree, [_as_output(o) for o in outs[:len(c_leaves)]])
    ys = tree_unflatten(y_tree, [_as_output(o) for o in outs[len(c_leaves):]])
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

    (_, val), _ = scan(step, (np.int64(lo), init_val), None, length=max(hi - lo, 0))
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
    ts = _instantiate(tangents, primals)
    nv = len(body.outvars)
    jbody = _jvp_ir(body)  # (bc, val, t_bc, t_val) -> (val, t_val)

    def step(*a: Any) -> list[Any]:
        bc, tbc = a[:n_bc], a[n_bc:2 * n_bc]
        val, tval = a[2 * n_bc:2 * n_bc + nv], a[2 * n_bc + nv:]
        return eval_ir(jbody, *bc, *val, *tbc, *tval)

    def cond2(*a: Any) -> list[Any]:
        return eval_ir(cond_ir, *a[:n_cc + nv])

    b_avals = body.in_avals
    v_avals = list(body.out_avals)
    new_body = closure_convert(trace(step, b_avals[:n_bc] + b_avals[:n_bc] + v_avals +
                                     v_avals))[0]
    new_cond = closure_convert(trace(cond2, cond_ir.in_avals + v_avals))[0]
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
                        cond_ir=closure_convert(trace(any_cond, c_avals))[0],
                        body=closure_convert(trace(masked_body, avals))[0],
                        n_cc=n_cc, n_bc=n_cc + n_bc)
    return outs, [0] * nv


def _while_cases(rng: np.random.Generator, dtype: Any) -> list:
    x = rng.uniform(0.5, 1.0, (3,)).astype(dtype)
    tree = tree_flatten((np.int64(0), x))[1]
    avals = [aval_of(np.int64(0)), aval_of(x)]
    c, _, _ = _trace_fun(lambda i, x: i < 3, tree, avals)
    b, _, _ = _trace_fun(lambda i, x: (i + 1, x * 1.5 + 0.25), tree, avals)
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
        return tree_unflatten(tree, [_as_output(x) for x in tree_leaves(val)])
    leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in leaves]
    avals = [aval_of(x) for x in leaves]
    c_ir, c_consts, c_tree = _trace_fun(cond_fun, tree_flatten((init_val,))[1], avals)
    if c_ir.out_avals != [ShapedArray((), np.bool_)]:
        raise ShapeError(f"while_loop: cond_fun must return a boolean scalar, got "
                         f"{c_ir.out_avals}")
    b_ir, b_consts, b_tree = _trace_fun(body_fun, tree_flatten((init_val,))[1], avals)
    if b_tree != tree or b_ir.out_avals != avals:
        raise ShapeError(f"while_loop: body_fun returns {tree_unflatten(b_tree, b_ir.out_avals)}"
                         f", but the loop value is {tree_unflatten(tree, avals)}")
    outs = while_p.bind(*c_consts, *b_consts, *leaves, cond_ir=c_ir, body=b_ir,
                        n_cc=len(c_consts), n_bc=len(b_consts))
    return tree_unflatten(tree, outs)


# ---------------------------------------------------------------------------------------------
# checkpoint


def _ckpt_fwd(ins: list[Any], *, fun: IR) -> tuple[list[Any], Any]:
    # Only the inputs are saved; the backward pass recomputes everything else.
    return checkpoint_p.bind(*ins, fun=fun), ins


def _ckpt_bwd(ins: Any, cts: list[Any], *, fun: IR) -> list[Any]:
    wrt, has_ct = _floats(fun.in_avals), _floats(fun.out_avals)
    joint = vjp_ir(fun, wrt, has_ct)
    cts = [c for c, h in zip(_instantiate(cts, fun.out_avals), has_ct, strict=True) if h]
    n_out = len(fun.outvars)
    # The recomputation and the backward pass are one checkpoint call: splitting the program
    # into what is known before and after the cotangents then cannot hoist the recomputed
    # values into the forward pass (which would store them again).
    bwd = closure_convert(trace(lambda *a: eval_ir(joint, *a)[n_out:],
                                [aval_of(x) for x in list(ins) + cts]))[0]
    grads = iter(checkpoint_p.bind(*ins, *cts, fun=bwd))
    return [next(grads) if w else None for w in wrt]


def _ckpt_jvp(primals: list[Any], tangents: list[Any], *, fun: IR) -> tuple[list, list]:
    outs, ts = jvp_flat(lambda *x: eval_ir(fun, *x), primals, tangents)
    return outs, _instantiate(ts, outs)


def _ckpt_batch(args: list[Any], dims: list[Any], /, *, fun: IR) -> tuple[list[Any], list]:
    size = batch_size(args, dims)
    batched, odims = vmap_ir(fun, dims, size, out_front=False)
    return checkpoint_p.bind(*args, fun=batched), odims


def _ckpt_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    x = rng.uniform(-1, 1, (2, 3)).astype(dtype)
    ir, _, _ = _trace_fun(lambda x: jnp.sin(jnp.tanh(x) * x), tree_flatten((x,))[1],
                          [aval_of(x)])
    return [((x,), {"fun": ir})]


checkpoint_p = register(Primitive(
    "checkpoint", lambda *avals, fun: list(fun.out_avals), lambda *xs, fun: eval_ir(fun, *xs),
    Inline(),
    jvp=_ckpt_jvp, vjp_fwd=_ckpt_fwd, vjp_bwd=_ckpt_bwd, batch=_ckpt_batch,
    multiple_results=True, test_cases=_ckpt_cases))


def checkpoint(f: Callable[..., Any]) -> Callable[..., Any]:
    """Rematerialisation: reverse mode saves only ``f``'s inputs and recomputes its
    intermediate values in the backward pass (less memory, more compute).

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> jg.grad(checkpoint(lambda x: jnp.sin(jnp.sin(x))))(0.0)
    array(1.)
    """

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        leaves, in_tree = tree_flatten(args)
        if not any(isinstance(x, Tracer) for x in leaves):
            return f(*args)
        ir, consts, out_tree = _trace_fun(f, in_tree, [aval_of(x) for x in leaves])
        return tree_unflatten(out_tree, checkpoint_p.bind(*consts, *leaves, fun=ir))

    return wrapped


remat = checkpoint


# ---------------------------------------------------------------------------------------------
# custom_jvp


def _cjvp_jvp(primals: list[Any], tangents: list[Any], *, fun: IR, rule: Callable,
              n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef) -> tuple[list, list]:
    args = tree_unflatten(in_tree, primals[n_consts:])
    ts = tree_unflatten(in_tree, _instantiate(tangents[n_consts:], primals[n_consts:]))
    out, t_out = rule(tuple(args), tuple(ts))
    out_leaves, tree = tree_flatten(out)
    t_leaves, t_tree = tree_flatten(t_out)
    if tree != out_tree or t_tree != out_tree:
        raise JitgradTypeError(f"custom_jvp: the rule returned structures {tree} and {t_tree}; "
                               f"the function returns {out_tree}")
    for o, t, v in zip(out_leaves, t_leaves, fun.outvars, strict=True):
        if aval_of(o) != v.aval or aval_of(t).shape != v.aval.shape:
            raise JitgradTypeError(f"custom_jvp: the rule returned primal {aval_of(o)} / "
                                   f"tangent {aval_of(t)} for an output {v.aval}")
    return out_leaves, t_leaves


def _cjvp_linear_parts(ins: list[Any], params: dict) -> tuple[IR, IR]:
    """The user's jvp rule as a program of (primals, tangents), split into the part that
    needs only primals and the part linear in the tangents."""
    n = len(ins)

    def joint(*xs: Any) -> list[Any]:
        outs, ts = _cjvp_jvp(list(xs[:n]), list(xs[n:]), **params)
        return list(outs) + list(ts)

    avals = [aval_of(x) for x in ins]
    ir = closure_convert(trace(joint, avals + avals))[0]
    k = len(params["fun"].outvars)
    known, unknown, _ = partial_eval_ir(ir, [False] * n + [True] * n, [False] * k + [True] * k)
    return closure_convert(known)[0], closure_convert(unknown)[0]


def _cjvp_fwd(ins: list[Any], **params: Any) -> tuple[list[Any], Any]:
    known, unknown = _cjvp_linear_parts(ins, params)
    k = len(params["fun"].outvars)
    res = eval_ir(known, *ins)
    return res[:k], (res[k:], unknown, [aval_of(x) for x in ins])


def _cjvp_bwd(saved: Any, cts: list[Any], **params: Any) -> list[Any]:
    # Reverse mode through the user's forward rule: transpose its tangent-linear part.
    res, unknown, in_avals = saved
    n_res = len(res)
    wrt = [False] * n_res + _floats(in_avals)
    has_ct = _floats(unknown.out_avals)
    joint = vjp_ir(unknown, wrt, has_ct)
    cts = [c for c, h in zip(_instantiate(cts, unknown.out_avals), has_ct,
                             strict=True) if h]
    t_dummy = [zeros(a) for a in in_avals]
    grads = iter(eval_ir(joint, *res, *t_dummy, *cts)[len(unknown.outvars):])
    return [next(grads) if w else None for w in _floats(in_avals)]


def _cjvp_batch(args: list[Any], dims: list[Any], /, *, fun: IR, rule: Callable,
                n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef
                ) -> tuple[list[Any], list[int]]:
    from jitgrad.toolkit import vmap
    size = batch_size(args, dims)
    args = [at_front(a, d, size) for a, d in zip(args, dims, strict=True)]
    batched = closure_convert(vmap_ir(fun, [0] * len(args), size)[0])[0]
    outs = custom_jvp_call_p.bind(*args, fun=batched, rule=vmap(rule), n_consts=n_consts,
                                  in_tree=in_tree, out_tree=out_tree)
    return outs, [0] * len(outs)


def _cjvp_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    f = custom_jvp(lambda x: jnp.log1p(jnp.exp(x)))
    f.defjvp(lambda p, t: (f(p[0]), t[0] * (1.0 / (1.0 + jnp.exp(-p[0])))))
    x = rng.uniform(-2, 2, (3,)).astype(dtype)
    tree = tree_flatten((x,))[1]
    ir, _, out_tree = _trace_fun(f.fun, tree, [aval_of(x)])
    return [((x,), {"fun": ir, "rule": f.jvp, "n_consts": 0, "in_tree": tree,
                    "out_tree": out_tree})]


custom_jvp_call_p = register(Primitive(
    "custom_jvp_call", lambda *avals, fun, **_: list(fun.out_avals),
    lambda *xs, fun, **_: eval_ir(fun, *xs), Inline(), jvp=_cjvp_jvp, vjp_fwd=_cjvp_fwd,
    vjp_bwd=_cjvp_bwd, batch=_cjvp_batch, multiple_results=True, test_cases=_cjvp_cases))


class custom_jvp:  # noqa: N801 - JAX's name
    """A function with a user-defined forward-mode rule ``jvp(primals, tangents) -> (out,
    t_out)``; reverse mode transposes the rule's tangent-linear part.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> @custom_jvp
    ... def softplus(x):
    ...     return jnp.log1p(jnp.exp(x))
    >>> @softplus.defjvp
    ... def _(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return softplus(x), t * jg.nn.sigmoid(x)
    >>> jg.grad(softplus)(1000.0)
    array(1.)
    """

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.jvp: Callable[..., Any] | None = None

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any) -> Any:
        if self.jvp is None:
            raise JitgradTypeError(f"custom_jvp {self.fun.__name__}: call defjvp(rule) before "
                                   f"using it")
        leaves, in_tree = tree_flatten(args)
        if not any(isinstance(x, Tracer) for x in leaves):
            return self.fun(*args)
        ir, consts, out_tree = _trace_fun(self.fun, in_tree, [aval_of(x) for x in leaves])
        outs = custom_jvp_call_p.bind(*consts, *leaves, fun=ir, rule=self.jvp,
                                      n_consts=len(consts), in_tree=in_tree, out_tree=out_tree)
        return tree_unflatten(out_tree, outs)

