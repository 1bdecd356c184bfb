"""The derivative toolkit on top of grad/vjp/jvp: vmap, jacfwd, jacrev, hessian, linearize,
eval_shape (JAX's names and semantics)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.api import (
    _as_output,
    _check_float_inputs,
    _flatten,
    _positions,
    index_tuple,
    jvp,
    normalize_argnums,
    vjp,
)
from jitgrad.core import ShapedArray, Zero, aval_of, eval_ir
from jitgrad.errors import BatchError, JitgradTypeError
from jitgrad.prims import reshape
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vmap import batch_eval, check_sizes, move_axis
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_leaves, tree_unflatten

__all__ = ["eval_shape", "hessian", "jacfwd", "jacrev", "linearize", "vmap"]


# ---------------------------------------------------------------------------------------------
# vmap


def _prefix_leaves(prefix: Any, tree: Any, what: str) -> list[Any]:
    """Expand an axis-spec pytree prefix (ints/None at its leaves) to one entry per leaf of
    ``tree``."""
    if prefix is None or isinstance(prefix, int | np.integer) and not isinstance(prefix, bool):
        return [None if prefix is None else int(prefix)] * len(tree_leaves(tree))
    if not isinstance(prefix, tuple | list | dict):
        raise BatchError(f"vmap: {what} must be an int, None, or a tuple/list/dict of them, "
                         f"got {prefix!r}")
    if isinstance(prefix, tuple | list) and isinstance(tree, tuple | list) and \
            len(prefix) == len(tree):
        return [a for p, t in zip(prefix, tree, strict=True) for a in
                _prefix_leaves(p, t, what)]
    if isinstance(prefix, dict) and isinstance(tree, dict) and set(prefix) == set(tree):
        return [a for k in sorted(tree) for a in _prefix_leaves(prefix[k], tree[k], what)]
    raise BatchError(f"vmap: {what} {prefix!r} does not match the structure of "
                     f"{tree_flatten(tree)[1]}")


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """Vectorise ``f`` over the ``in_axes`` of its arguments (ints, None, or pytrees of them
    matching the arguments; keyword arguments are batched on axis 0).

    >>> import jitgrad.numpy as jnp
    >>> vmap(lambda x, y: jnp.sum(x * y), in_axes=(0, None))(np.ones((3, 2)), np.arange(2.0))
    array([1., 1., 1.])
    """

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, list | tuple) and len(in_axes) != len(args):
            raise BatchError(f"vmap: in_axes has {len(in_axes)} entries for {len(args)} "
                             f"positional arguments")
        spec = in_axes if isinstance(in_axes, list | tuple) else (in_axes,) * len(args)
        dims = _prefix_leaves(tuple(spec), args, "in_axes") + \
            _prefix_leaves(0, kwargs, "in_axes")
        leaves, in_tree = _flatten((args, kwargs), "vmap")
        names = [f"input {i} (shape {aval_of(x).shape})" for i, x in enumerate(leaves)]
        size = check_sizes(leaves, dims, names)
        dims = [None if d is None else d % aval_of(x).ndim for x, d in zip(leaves, dims,
                                                                            strict=True)]
        avals = []
        for x, d in zip(leaves, dims, strict=True):
            a = aval_of(x)
            avals.append(a if d is None else ShapedArray(a.shape[:d] + a.shape[d + 1:], a.dtype))
        out_tree: list[PyTreeDef | None] = [None]

        def flat_f(*xs: Any) -> list[Any]:
            a, kw = tree_unflatten(in_tree, xs)
            outs, out_tree[0] = tree_flatten(f(*a, **kw))
            return outs

        ir = trace(flat_f, avals)
        outs, odims = batch_eval(ir, leaves, dims)
        tree = out_tree[0]
        to = _prefix_leaves(out_axes, tree_unflatten(tree, outs), "out_axes")
        return tree_unflatten(tree, [_as_output(move_axis(o, d, t, size))
                                     for o, d, t in zip(outs, odims, to, strict=True)])

    return wrapped


# ---------------------------------------------------------------------------------------------
# Jacobians


def _split_args(f: Callable[..., Any], args: tuple, requested: tuple[int, ...], name: str
                ) -> tuple[Callable[..., Any], Any, list[int]]:
    """``f`` as a function of the distinct ``requested`` arguments, those arguments, and where
    each requested position is among them."""
    nums, where = _positions(normalize_argnums(requested, len(args), name))

    def partial(*diff: Any) -> Any:
        full = list(args)
        for i, a in zip(nums, diff, strict=True):
            full[i] = a
        return f(*full)

    return partial, tuple(args[i] for i in nums), where


def _split_vector(flat: Any, like: Sequence[Any]) -> list[Any]:
    """Consecutive pieces of a flat vector, shaped and typed like the arrays ``like``."""
    out, start = [], 0
    for x in like:
        a = aval_of(x)
        out.append(reshape(flat[start:start + a.size].astype(a.dtype), a.shape))
        start += a.size
    return out


def _jac_tree(blocks: list[list[Any]], out_tree: PyTreeDef, in_tree: PyTreeDef,
              where: list[int], single: bool) -> Any:
    """Assemble ``blocks[out_leaf][in_leaf]`` into the output structure of input structures
    (as JAX: the Jacobian of each output leaf is a pytree shaped like the inputs), one entry
    per requested argnum."""
    per_out = []
    for row in blocks:
        inner = tree_unflatten(in_tree, row)
        picked = tuple(inner[k] for k in where)
        per_out.append(picked[0] if single else picked)
    return tree_unflatten(out_tree, per_out)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """Jacobian by forward mode: one batched jvp over the input basis.

    >>> import jitgrad.numpy as jnp
    >>> jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """

    requested = index_tuple(argnums, "jacfwd")

    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        partial, diff, where = _split_args(f, args, requested, "jacfwd")
        leaves, in_tree = _flatten(diff, "jacfwd")
        _check_float_inputs(leaves, "jacfwd")
        sizes = [aval_of(x).size for x in leaves]
        n = sum(sizes)
        dtype = np.result_type(*[aval_of(x).dtype for x in leaves])
        basis = np.eye(n, dtype=dtype)

        def push(t_flat: Any) -> Any:
            ts = _split_vector(t_flat, leaves)
            res = jvp(partial, diff, tree_unflatten(in_tree, ts), has_aux=has_aux)
            return (res[1], res[2]) if has_aux else res[1]

        tangents = vmap(push, out_axes=(-1, None) if has_aux else -1)(basis)
        t_out, aux = tangents if has_aux else (tangents, None)
        out_leaves, out_tree = tree_flatten(t_out)
        blocks = []
        for t in out_leaves:  # (*out_shape, n)
            row, start = [], 0
            for x, k in zip(leaves, sizes, strict=True):
                shape = np.shape(t)[:-1] + aval_of(x).shape
                row.append(_as_output(reshape(t[..., start:start + k], shape)))
                start += k
            blocks.append(row)
        out = _jac_tree(blocks, out_tree, in_tree, where, not isinstance(argnums, tuple | list))
        return (out, aux) if has_aux else out

    return jac


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """Jacobian by reverse mode: one batched vjp over the output basis.

    >>> import jitgrad.numpy as jnp
    >>> jacrev(lambda x: jnp.sum(x) * x)(np.array([1.0, 2.0]))
    array([[4., 1.],
           [2., 5.]])
    """

    requested = index_tuple(argnums, "jacrev")

    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        partial, diff, where = _split_args(f, args, requested, "jacrev")
        in_leaves, in_tree = _flatten(diff, "jacrev")
        _check_float_inputs(in_leaves, "jacrev")
        res = vjp(partial, *diff, has_aux=has_aux)
        out, f_vjp = res[0], res[1]
        out_leaves, out_tree = tree_flatten(out)
        sizes = [aval_of(o).size for o in out_leaves]
        m = sum(sizes)
        dtype = np.result_type(*[aval_of(o).dtype for o in out_leaves])

        def pull(c_flat: Any) -> Any:
            return f_vjp(tree_unflatten(out_tree, _split_vector(c_flat, out_leaves)))

        cts = tree_leaves(vmap(pull)(np.eye(m, dtype=dtype)))  # each (m, *in_shape)
        blocks, start = [], 0
        for o, k in zip(out_leaves, sizes, strict=True):
            blocks.append([_as_output(reshape(c[start:start + k], aval_of(o).shape +
                                              aval_of(x).shape))
                           for c, x in zip(cts, in_leaves, strict=True)])
            start += k
        jac_out = _jac_tree(blocks, out_tree, in_tree, where,
                            not isinstance(argnums, tuple | list))
        return (jac_out, res[2]) if has_aux else jac_out

    return jac


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False) -> Callable[..., Any]:
    """``jacfwd(jacrev(f))``: the Hessian of a scalar function.

    >>> import jitgrad.numpy as jnp
    >>> hessian(lambda x: jnp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(f, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


# ---------------------------------------------------------------------------------------------
# linearize and eval_shape


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(f(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the jvp at ``primals``; the
    forward pass runs once, now, and ``f_jvp`` only runs the linear part.

    >>> import jitgrad.numpy as jnp
    >>> y, f_jvp = linearize(jnp.sin, 0.0)
    >>> f_jvp(2.0)
    array(2.)
    """
    leaves, in_tree = _flatten(primals, "linearize")
    _check_float_inputs(leaves, "linearize")
    n = len(leaves)
    out_tree: list[PyTreeDef | None] = [None]

    def joint(*xs: Any) -> list[Any]:
        def flat_f(*ps: Any) -> list[Any]:
            outs, out_tree[0] = tree_flatten(f(*tree_unflatten(in_tree, ps)))
            return outs
        outs, ts = jvp_flat(flat_f, list(xs[:n]), list(xs[n:]))
        return outs + [_zeros_if(t, o) for o, t in zip(outs, ts, strict=True)]

    avals = [aval_of(x) for x in leaves]
    ir = trace(joint, avals + avals)
    k = len(ir.outvars) // 2
    known, unknown, _ = partial_eval_ir(ir, [False] * n + [True] * n, [False] * k + [True] * k)
    fwd = eval_ir(known, *leaves)
    outs, res = fwd[:k], fwd[k:]
    tree = out_tree[0]

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = _flatten(tangents, "linearize tangents")
        if t_tree != in_tree:
            raise JitgradTypeError(f"linearize: tangent structure {t_tree} does not match the "
                                   f"primal structure {in_tree}")
        t_leaves = [np.asarray(t, a.dtype) if not hasattr(t, "aval") else t
                    for t, a in zip(t_leaves, avals, strict=True)]
        return tree_unflatten(tree, [_as_output(t) for t in eval_ir(unknown, *res, *t_leaves)])

    return tree_unflatten(tree, [_as_output(o) for o in outs]), f_jvp


def _zeros_if(t: Any, like: Any) -> Any:
    from jitgrad.prims import zeros
    return zeros(aval_of(like)) if isinstance(t, Zero) else t


def eval_shape(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes ``f`` would return, by tracing only (nothing is computed).
    Arguments may be arrays or anything with ``shape`` and ``dtype``.

    >>> import jitgrad.numpy as jnp
    >>> eval_shape(lambda x: jnp.sum(x, axis=0), ShapedArray((3, 4), np.float32))
    f32[4]
    """
    def as_aval(x: Any) -> ShapedArray:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return ShapedArray(x.shape, x.dtype)
        return aval_of(x)

    leaves, in_tree = tree_flatten((args, kwargs))
    out_tree: list[PyTreeDef | None] = [None]

    def flat_f(*xs: Any) -> list[Any]:
        a, kw = tree_unflatten(in_tree, xs)
        outs, out_tree[0] = tree_flatten(f(*a, **kw))
        return outs

    ir = trace(flat_f, [as_aval(x) for x in leaves])
    return tree_unflatten(out_tree[0], [x.aval for x in ir.outvars])

