"""The public transformations: grad, value_and_grad, vjp, jvp, linearize, vmap, jacfwd, jacrev,
hessian, make_ir, eval_shape (JAX's names and semantics); autograd's names for the same
operations (make_vjp, elementwise_grad, jacobian, ...); the tracer predicate."""

from __future__ import annotations

import contextlib
import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad import numpy as jnp
from jitgrad.api_util import (
    Store,
    Transformed,
    argnums_partial,
    as_output,
    check_float_inputs,
    distinct_argnums,
    flatten_args,
    flatten_fun,
    flatten_fun_nokwargs,
    normalize_argnums,
)
from jitgrad.core import IR, ShapedArray, Tracer, Zero, aval_of, eval_ir, is_float, zeros
from jitgrad.eager import is_eager, specialize, vjp_flat
from jitgrad.errors import BatchError, JitgradTypeError
from jitgrad.prims import reshape
from jitgrad.subprogram import instantiate_zeros
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.transforms.vmap import batch_eval, check_sizes, move_axis
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = ["Tracer", "deriv", "elementwise_grad", "eval_shape", "grad", "grad_and_aux",
           "grad_named", "hessian", "hessian_tensor_product", "hessian_vector_product",
           "is_tracer", "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "make_ggnvp",
           "make_hvp", "make_ir", "make_jvp", "make_vjp", "multigrad_dict",
           "tensor_jacobian_product", "typeof", "value_and_grad", "vector_jacobian_product",
           "vjp", "vmap"]


# ---------------------------------------------------------------------------------------------
# Reverse mode


def _split_aux(tree: PyTreeDef, n: int, has_aux: bool, name: str
               ) -> tuple[PyTreeDef, int, PyTreeDef | None]:
    """The structure and number of leaves of the differentiated output (the first ``n_out`` of
    the function's ``n`` output leaves), and the aux structure (None without ``has_aux``)."""
    if not has_aux:
        return tree, n, None
    if tree is None or tree.node_type not in (tuple, list) or len(tree.children) != 2:
        raise JitgradTypeError(f"{name}(has_aux=True) requires the function to return a "
                               f"pair (output, aux), got structure {tree}")
    out_part, aux_tree = tree.children
    return out_part, out_part.num_leaves, aux_tree


def _vjp_staged(flat_f: Callable[..., list], leaves: list[Any], has_aux: bool, store: Store,
                name: str) -> tuple[IR, PyTreeDef, int, PyTreeDef | None]:
    """Trace and transform: the joint IR ``(leaves..., cts) -> (outs..., aux..., grads...)``,
    the structure and number of the differentiated outputs, and the aux structure."""
    ir = trace(flat_f, [aval_of(x) for x in leaves])
    out_tree, n_out, aux_tree = _split_aux(store.val, len(ir.outvars), has_aux, name)
    has_ct = [i < n_out and is_float(v.aval.dtype) for i, v in enumerate(ir.outvars)]
    return vjp_ir(ir, [True] * len(leaves), has_ct), out_tree, n_out, aux_tree


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``(out, vjp_fn)`` or ``(out, vjp_fn, aux)``; ``vjp_fn(ct)`` returns a
    tuple with one cotangent per primal. The forward pass runs once, now (outside ``jit`` on
    a tape of concrete values, so Python control flow on values works).

    >>> import jitgrad.numpy as jnp
    >>> out, f_vjp = vjp(lambda x, y: x * y, 2.0, 3.0)
    >>> out, f_vjp(1.0)
    (array(6.), (array(3.), array(2.)))
    """
    leaves, in_tree = flatten_args(primals, "vjp")
    flat_f, store = flatten_fun_nokwargs(f, in_tree)
    check_float_inputs(leaves, "vjp")
    if is_eager():
        outs, backward = vjp_flat(flat_f, leaves)
        out_tree, n_out, aux_tree = _split_aux(store.val, len(outs), has_aux, "vjp")
        diff_out = [i for i in range(n_out) if is_float(aval_of(outs[i]).dtype)]

        def pull(cts: list[Any]) -> list[Any]:
            full: list[Any] = [None] * len(outs)
            for i, c in zip(diff_out, cts, strict=True):
                full[i] = c
            return backward(full)
    else:
        joint, out_tree, n_out, aux_tree = _vjp_staged(flat_f, leaves, has_aux, store, "vjp")
        n_in = len(leaves)
        n_fwd = len(joint.outvars) - n_in
        n_ct = len(joint.invars) - n_in
        known, unknown, n_res = partial_eval_ir(
            joint, [False] * n_in + [True] * n_ct, [False] * n_fwd + [True] * n_in)
        fwd = eval_ir(known, *leaves)
        outs, res = fwd[:n_fwd], fwd[n_fwd:]
        diff_out = [i for i in range(n_out) if is_float(aval_of(outs[i]).dtype)]

        def pull(cts: list[Any]) -> list[Any]:
            return eval_ir(unknown, *res, *cts)

    ct_avals = [aval_of(outs[i]) for i in diff_out]

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_tree = flatten_args(ct, "vjp_fn")
        if ct_tree != out_tree:
            raise JitgradTypeError(f"vjp_fn: cotangent structure {ct_tree} does not match the "
                                   f"output structure {out_tree}")
        ct_leaves = [ct_leaves[i] for i in diff_out]
        for c, aval in zip(ct_leaves, ct_avals, strict=True):
            if aval_of(c).shape != aval.shape:
                raise JitgradTypeError(f"vjp_fn: cotangent of shape {aval_of(c).shape} for an "
                                       f"output of shape {aval.shape}")
        ct_leaves = [c if isinstance(c, Tracer) else np.asarray(c, aval.dtype)
                     for c, aval in zip(ct_leaves, ct_avals, strict=True)]
        return tuple(tree_unflatten(in_tree, [as_output(g) for g in pull(ct_leaves)]))

    out = tree_unflatten(out_tree, [as_output(o) for o in outs[:n_out]])
    if has_aux:
        return out, vjp_fn, tree_unflatten(aux_tree, [as_output(o) for o in outs[n_out:]])
    return out, vjp_fn


def _value_and_grad(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnums: Any,
                    has_aux: bool) -> Any:
    nums, where = distinct_argnums(normalize_argnums(argnums, len(args), "grad"))
    partial, dyn = argnums_partial(f, args, nums)
    leaves, in_tree = flatten_args(dyn, "grad")
    flat_f, store = flatten_fun_nokwargs(lambda *d: partial(*d, **kwargs), in_tree)
    check_float_inputs(leaves, "grad")
    if is_eager():
        outs, backward = vjp_flat(flat_f, leaves)
        out_tree, n_out, aux_tree = _split_aux(store.val, len(outs), has_aux, "grad")
        out_aval = aval_of(outs[0]) if n_out == 1 else None
        _check_scalar_output(out_tree, out_aval)
        grads = backward([np.ones(out_aval.shape, out_aval.dtype)] + [None] * (len(outs) - 1))
        aux = outs[1:]
    else:
        joint, out_tree, n_out, aux_tree = _vjp_staged(flat_f, leaves, has_aux, store, "grad")
        out_aval = joint.outvars[0].aval if n_out == 1 else None
        _check_scalar_output(out_tree, out_aval)
        outs = eval_ir(joint, *leaves, np.ones(out_aval.shape, out_aval.dtype))
        n_fwd = len(joint.outvars) - len(leaves)
        grads, aux = outs[n_fwd:], outs[1:n_fwd]
    per_arg = tree_unflatten(in_tree, [as_output(g) for g in grads])
    grads = per_arg[where[0]] if _single(argnums) else tuple([per_arg[k] for k in where])
    value = as_output(outs[0])
    if has_aux:
        return (value, tree_unflatten(aux_tree, [as_output(o) for o in aux])), grads
    return value, grads


def _check_scalar_output(out_tree: PyTreeDef, out_aval: ShapedArray | None) -> None:
    # NB: an output with one element of any shape ((1,), (1, 1)) is accepted, as autograd
    # does (JAX requires shape ()); the value is returned with its shape.
    if out_aval is None or out_aval.size != 1 or not is_float(out_aval.dtype):
        shown = out_tree if out_aval is None else out_aval
        raise JitgradTypeError(
            f"grad requires a scalar floating-point output (one element), but the function "
            f"returned {shown}. Reduce it first (e.g. jnp.sum), or use jg.vjp / jg.jacrev "
            f"for non-scalar outputs.")


def _single(argnums: Any) -> bool:
    """Whether one derivative is returned bare (``argnums=0``) rather than in a tuple."""
    return isinstance(argnums, (int, np.integer))


def _either(argnums: Any, argnum: Any, name: str, holomorphic: bool = False) -> Any:
    """``argnums``, or autograd's spelling of it, ``argnum`` (an int, tuple or list).
    JAX's ``holomorphic=True`` needs complex inputs, which jitgrad does not take."""
    if holomorphic:
        raise JitgradTypeError(f"{name}: holomorphic=True differentiates complex functions; "
                               f"jitgrad does not support complex numbers (yet): carry the real "
                               f"and imaginary parts as two float arrays")
    if argnum is None:
        return argnums
    if argnums != 0:
        raise JitgradTypeError(f"{name}: pass argnums (or autograd's spelling argnum), not both")
    return argnum


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, holomorphic: bool = False, *,
                   argnum: Any = None) -> Callable[..., Any]:
    """``(f(*args), grad)`` in one pass; with ``has_aux`` ``((f, aux), grad)``. ``argnum``
    is autograd's spelling of ``argnums``.

    >>> import jitgrad.numpy as jnp
    >>> value_and_grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0]))
    (array(5.), array([2., 4.]))
    """
    return Transformed(_value_and_grad, f,
                       argnums=_either(argnums, argnum, "value_and_grad", holomorphic),
                       has_aux=has_aux)


def _grad(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnums: Any, has_aux: bool
          ) -> Any:
    value, g = _value_and_grad(f, args, kwargs, argnums=argnums, has_aux=has_aux)
    return (g, value[1]) if has_aux else g


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False, holomorphic: bool = False, *,
         argnum: Any = None) -> Callable[..., Any]:
    """Gradient of a scalar-valued ``f`` with respect to the ``argnums`` arguments (pytrees;
    ``argnum`` is autograd's spelling: ``grad(f, argnum=[3, 1])`` returns a tuple).

    >>> import jitgrad.numpy as jnp
    >>> grad(lambda x: jnp.sum(jnp.sin(x)))(np.array([0.0, np.pi]))
    array([ 1., -1.])
    >>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
    (array(3.), array(2.))
    """
    return Transformed(_grad, f, argnums=_either(argnums, argnum, "grad", holomorphic),
                       has_aux=has_aux)


# ---------------------------------------------------------------------------------------------
# Forward mode


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:
    """Forward mode: ``(f(*primals), J @ tangents)``.

    >>> import jitgrad.numpy as jnp
    >>> jvp(jnp.sin, (0.0,), (2.0,))
    (array(0.), array(2.))
    """
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise JitgradTypeError("jvp: primals and tangents must be tuples (or lists) of "
                               "arguments")
    p_leaves, p_tree = flatten_args(tuple(primals), "jvp primals")
    t_leaves, t_tree = flatten_args(tuple(tangents), "jvp tangents")
    if p_tree != t_tree:
        raise JitgradTypeError(f"jvp: primal structure {p_tree} and tangent structure {t_tree} "
                               f"differ")
    ts = []
    for p, t in zip(p_leaves, t_leaves, strict=True):
        pa, ta = aval_of(p), aval_of(t)
        if pa.shape != ta.shape or (is_float(pa.dtype) and is_float(ta.dtype)
                                    and pa.dtype != ta.dtype):
            raise JitgradTypeError(f"jvp: tangent {ta} does not match primal {pa} (shapes and "
                                   f"float dtypes must be equal)")
        ts.append(t if is_float(pa.dtype) else Zero(pa))
    flat_f, store = flatten_fun_nokwargs(f, p_tree)
    outs, t_outs = jvp_flat(flat_f, p_leaves, ts)
    t_outs = [zeros_like_value(o) if isinstance(t, Zero) else t
              for o, t in zip(outs, t_outs, strict=True)]
    tree = store.val
    if has_aux:
        out_part, aux_tree = tree.children
        n = out_part.num_leaves
        return (tree_unflatten(out_part, map(as_output, outs[:n])),
                tree_unflatten(out_part, map(as_output, t_outs[:n])),
                tree_unflatten(aux_tree, map(as_output, outs[n:])))
    return (tree_unflatten(tree, map(as_output, outs)),
            tree_unflatten(tree, map(as_output, t_outs)))


def zeros_like_value(x: Any) -> Any:
    aval = aval_of(x)
    return zeros(aval) if isinstance(x, Tracer) else np.zeros(aval.shape, aval.dtype)


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(f(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the jvp at ``primals``; the
    forward pass runs once, now, and ``f_jvp`` only runs the linear part.

    >>> import jitgrad.numpy as jnp
    >>> y, f_jvp = linearize(jnp.sin, 0.0)
    >>> f_jvp(2.0)
    array(2.)
    """
    leaves, in_tree = flatten_args(primals, "linearize")
    check_float_inputs(leaves, "linearize")
    n = len(leaves)
    flat_f, store = flatten_fun_nokwargs(f, in_tree)
    if is_eager():  # the function on the control path these values take
        flat_f = specialize(flat_f, tuple(leaves))

    def joint(*xs: Any) -> list[Any]:
        outs, ts = jvp_flat(flat_f, list(xs[:n]), list(xs[n:]))
        return outs + instantiate_zeros(ts, outs)

    avals = [aval_of(x) for x in leaves]
    ir = trace(joint, avals + avals)
    k = len(ir.outvars) // 2
    known, unknown, _ = partial_eval_ir(ir, [False] * n + [True] * n, [False] * k + [True] * k)
    fwd = eval_ir(known, *leaves)
    outs, res = fwd[:k], fwd[k:]
    tree = store.val

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = flatten_args(tangents, "linearize tangents")
        if t_tree != in_tree:
            raise JitgradTypeError(f"linearize: tangent structure {t_tree} does not match the "
                                   f"primal structure {in_tree}")
        t_leaves = [t if isinstance(t, Tracer) else np.asarray(t, a.dtype)
                    for t, a in zip(t_leaves, avals, strict=True)]
        return tree_unflatten(tree, [as_output(t) for t in eval_ir(unknown, *res, *t_leaves)])

    return tree_unflatten(tree, [as_output(o) for o in outs]), f_jvp


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


def _vmap(f: Callable[..., Any], args: tuple, kwargs: dict, *, in_axes: Any, out_axes: Any
          ) -> Any:
    if isinstance(in_axes, list | tuple) and len(in_axes) != len(args):
        raise BatchError(f"vmap: in_axes has {len(in_axes)} entries for {len(args)} "
                         f"positional arguments")
    spec = in_axes if isinstance(in_axes, list | tuple) else (in_axes,) * len(args)
    dims = _prefix_leaves(tuple(spec), args, "in_axes") + _prefix_leaves(0, kwargs, "in_axes")
    leaves, in_tree = flatten_args((args, kwargs), "vmap")
    names = [f"input {i} (shape {aval_of(x).shape})" for i, x in enumerate(leaves)]
    size = check_sizes(leaves, dims, names)
    dims = [None if d is None else d % aval_of(x).ndim for x, d in zip(leaves, dims,
                                                                        strict=True)]
    avals = []
    for x, d in zip(leaves, dims, strict=True):
        a = aval_of(x)
        avals.append(a if d is None else ShapedArray(a.shape[:d] + a.shape[d + 1:], a.dtype))
    flat_f, store = flatten_fun(f, in_tree)
    ir = trace(flat_f, avals)
    outs, odims = batch_eval(ir, leaves, dims)
    tree = store.val
    to = _prefix_leaves(out_axes, tree_unflatten(tree, outs), "out_axes")
    return tree_unflatten(tree, [as_output(move_axis(o, d, t, size))
                                 for o, d, t in zip(outs, odims, to, strict=True)])


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """Vectorise ``f`` over the ``in_axes`` of its arguments (ints, None, or pytrees of them
    matching the arguments; keyword arguments are batched on axis 0).

    >>> import jitgrad.numpy as jnp
    >>> vmap(lambda x, y: jnp.sum(x * y), in_axes=(0, None))(np.ones((3, 2)), np.arange(2.0))
    array([1., 1., 1.])
    """
    return Transformed(_vmap, f, in_axes=in_axes, out_axes=out_axes)


# ---------------------------------------------------------------------------------------------
# Jacobians


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
    per requested argnum (``where``: its position among the distinct ones)."""
    per_out = []
    for row in blocks:
        inner = tree_unflatten(in_tree, row)
        picked = tuple(inner[k] for k in where)
        per_out.append(picked[0] if single else picked)
    return tree_unflatten(out_tree, per_out)


def _jacfwd(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnums: Any, has_aux: bool
            ) -> Any:
    nums, where = distinct_argnums(normalize_argnums(argnums, len(args), "jacfwd"))
    partial, diff = argnums_partial(f, args, nums)
    leaves, in_tree = flatten_args(diff, "jacfwd")
    check_float_inputs(leaves, "jacfwd")
    sizes = [aval_of(x).size for x in leaves]
    n = sum(sizes)
    dtype = np.result_type(*[aval_of(x).dtype for x in leaves])
    fun = lambda *d: partial(*d, **kwargs)  # noqa: E731
    if is_eager():  # the function on the control path these values take, batched below
        fun = specialize(fun, diff)

    def push(t_flat: Any) -> Any:
        ts = _split_vector(t_flat, leaves)
        res = jvp(fun, diff, tree_unflatten(in_tree, ts), has_aux=has_aux)
        return (res[1], res[2]) if has_aux else res[1]

    tangents = vmap(push, out_axes=(-1, None) if has_aux else -1)(np.eye(n, dtype=dtype))
    t_out, aux = tangents if has_aux else (tangents, None)
    out_leaves, out_tree = tree_flatten(t_out)
    blocks = []
    for t in out_leaves:  # (*out_shape, n)
        row, start = [], 0
        for x, k in zip(leaves, sizes, strict=True):
            shape = np.shape(t)[:-1] + aval_of(x).shape
            row.append(as_output(reshape(t[..., start:start + k], shape)))
            start += k
        blocks.append(row)
    out = _jac_tree(blocks, out_tree, in_tree, where, _single(argnums))
    return (out, aux) if has_aux else out


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, holomorphic: bool = False, *,
           argnum: Any = None) -> Callable[..., Any]:
    """Jacobian by forward mode: one batched jvp over the input basis.

    >>> import jitgrad.numpy as jnp
    >>> jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    return Transformed(_jacfwd, f, argnums=_either(argnums, argnum, "jacfwd", holomorphic),
                       has_aux=has_aux)


def _jacrev(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnums: Any, has_aux: bool
            ) -> Any:
    nums, where = distinct_argnums(normalize_argnums(argnums, len(args), "jacrev"))
    partial, diff = argnums_partial(f, args, nums)
    in_leaves, in_tree = flatten_args(diff, "jacrev")
    check_float_inputs(in_leaves, "jacrev")
    res = vjp(lambda *d: partial(*d, **kwargs), *diff, has_aux=has_aux)
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
        blocks.append([as_output(reshape(c[start:start + k], aval_of(o).shape +
                                         aval_of(x).shape))
                       for c, x in zip(cts, in_leaves, strict=True)])
        start += k
    jac_out = _jac_tree(blocks, out_tree, in_tree, where, _single(argnums))
    return (jac_out, res[2]) if has_aux else jac_out


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, holomorphic: bool = False, *,
           argnum: Any = None) -> Callable[..., Any]:
    """Jacobian by reverse mode: one batched vjp over the output basis.

    >>> import jitgrad.numpy as jnp
    >>> jacrev(lambda x: jnp.sum(x) * x)(np.array([1.0, 2.0]))
    array([[4., 1.],
           [2., 5.]])
    """
    return Transformed(_jacrev, f, argnums=_either(argnums, argnum, "jacrev", holomorphic),
                       has_aux=has_aux)


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False, holomorphic: bool = False, *,
            argnum: Any = None) -> Callable[..., Any]:
    """``jacfwd(jacrev(f))``: the Hessian of a scalar function.

    >>> import jitgrad.numpy as jnp
    >>> hessian(lambda x: jnp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    argnums = _either(argnums, argnum, "hessian", holomorphic)
    return jacfwd(jacrev(f, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


# ---------------------------------------------------------------------------------------------
# autograd's names: each is one of the transformations above, with autograd's signature
# (``argnum`` an int, or a tuple/list meaning a tuple of arguments) and return conventions, so
# that porting an autograd program is one import line.


def _unary(f: Callable[..., Any], args: tuple, kwargs: dict, argnum: Any, name: str
           ) -> tuple[Callable[[Any], Any], Any]:
    """``f`` as a function of one value ``x`` (the argument at ``argnum``, or the tuple of
    the arguments at a tuple/list of argnums), the others fixed, and that ``x``."""
    nums = normalize_argnums(argnum, len(args), name, "argnum")
    if len(set(nums)) != len(nums):
        raise JitgradTypeError(f"{name}: argnum {argnum!r} names an argument twice")
    partial, dyn = argnums_partial(f, args, nums)
    if _single(argnum):
        return (lambda x: partial(x, **kwargs)), dyn[0]
    return (lambda x: partial(*x, **kwargs)), tuple(dyn)


def _make_vjp(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any) -> tuple:
    fun, x = _unary(f, args, kwargs, argnum, "make_vjp")
    check_float_inputs(tree_leaves(x), "make_vjp")
    ans, f_vjp = vjp(fun, x)
    return (lambda g: f_vjp(g)[0]), ans


def make_vjp(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., tuple]:
    """autograd's ``make_vjp``: ``make_vjp(f, argnum)(*args)`` is ``(vjp_fn, f(*args))``
    (in that order), where ``vjp_fn(g)`` is the cotangent of the ``argnum`` argument. The
    forward pass runs once; ``jitgrad.vjp`` is JAX's spelling.

    >>> import jitgrad.numpy as jnp
    >>> f_vjp, ans = make_vjp(lambda x, y: x * y, 1)(2.0, 3.0)
    >>> ans, f_vjp(1.0)
    (array(6.), array(2.))
    """
    return Transformed(_make_vjp, f, argnum=argnum)


def _make_jvp(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any
              ) -> Callable[[Any], tuple]:
    fun, x = _unary(f, args, kwargs, argnum, "make_jvp")
    check_float_inputs(tree_leaves(x), "make_jvp")
    ans, f_jvp = linearize(fun, x)
    return lambda v: (ans, f_jvp(v))


def make_jvp(f: Callable[..., Any], argnum: int | Sequence[int] = 0
             ) -> Callable[..., Callable[[Any], tuple]]:
    """autograd's ``make_jvp``: ``make_jvp(f, argnum)(*args)`` is a function of a tangent
    ``v`` of the ``argnum`` argument returning ``(f(*args), J v)``. The forward pass runs
    once, here (as ``linearize``); each call then runs only the linear part.

    >>> import jitgrad.numpy as jnp
    >>> make_jvp(jnp.sin)(0.0)(2.0)
    (array(0.), array(2.))
    """
    return Transformed(_make_jvp, f, argnum=argnum)


def _ones_like(x: Any) -> Any:
    aval = aval_of(x)
    return np.ones(aval.shape, aval.dtype)


def _elementwise_grad(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any) -> Any:
    f_vjp, ans = _make_vjp(f, args, kwargs, argnum=argnum)
    return f_vjp(tree_map(_ones_like, ans))


def elementwise_grad(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                     ) -> Callable[..., Any]:
    """autograd's ``elementwise_grad``: the vjp of ``f`` with a cotangent of ones, i.e. the
    sum of the Jacobian's rows; for an elementwise ``f``, its derivative at every element.

    >>> import jitgrad.numpy as jnp
    >>> elementwise_grad(jnp.sin)(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """
    return Transformed(_elementwise_grad, f, argnum=argnum)


def _deriv(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any) -> Any:
    fun, x = _unary(f, args, kwargs, argnum, "deriv")
    check_float_inputs(tree_leaves(x), "deriv")
    return jvp(fun, (x,), (tree_map(_ones_like, x),))[1]


def deriv(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's ``deriv``: the jvp of ``f`` with a tangent of ones (forward mode); for a
    function of one scalar, its derivative.

    >>> import jitgrad.numpy as jnp
    >>> deriv(lambda x: x ** 3)(2.0)
    array(12.)
    """
    return Transformed(_deriv, f, argnum=argnum)


def jacobian(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's ``jacobian``: ``jacrev`` with respect to the ``argnum`` argument; for an
    output of shape ``(m...)`` and an input of shape ``(n...)`` the result has shape
    ``(m..., n...)``.

    >>> import jitgrad.numpy as jnp
    >>> jacobian(lambda x: x[::-1] * 2.0)(np.array([1.0, 2.0]))
    array([[0., 2.],
           [2., 0.]])
    """
    return jacrev(f, argnum)


def _hessian_tensor_product(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any
                            ) -> Any:
    if not args:
        raise JitgradTypeError("hessian_tensor_product: call it as hvp(*args, tensor)")
    *args, v = args
    fun, x = _unary(f, tuple(args), kwargs, argnum, "hessian_tensor_product")
    check_float_inputs(tree_leaves(x), "hessian_tensor_product")
    # Forward over reverse: the derivative of the gradient along v is H v (H is symmetric).
    return jvp(grad(fun), (x,), (v,))[1]


def hessian_tensor_product(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                           ) -> Callable[..., Any]:
    """autograd's ``hessian_tensor_product`` (also ``hessian_vector_product``):
    ``hvp(*args, v)`` is the Hessian of scalar ``f`` with respect to the ``argnum``
    argument, contracted with ``v`` of that argument's shape; by forward-over-reverse mode,
    without forming the Hessian.

    >>> import jitgrad.numpy as jnp
    >>> hvp = hessian_tensor_product(lambda x: jnp.sum(x ** 3))
    >>> hvp(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    return Transformed(_hessian_tensor_product, f, argnum=argnum)


hessian_vector_product = hessian_tensor_product


def _contract_leading(t: Any, y: Any) -> Any:
    """``tensordot(t, y, t.ndim)``: ``t`` contracted with the leading axes of ``y``."""
    k, ys = np.ndim(t), aval_of(y).shape
    if ys[:k] != np.shape(t):
        raise JitgradTypeError(f"tensor_jacobian_product: a tensor of shape {np.shape(t)} does "
                               f"not match the leading axes of the output's shape {ys}")
    return jnp.sum(jnp.reshape(t, np.shape(t) + (1,) * (len(ys) - k)) * y,
                   axis=tuple(range(k)))


def _tensor_jacobian_product(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any
                             ) -> Any:
    if not args:
        raise JitgradTypeError("tensor_jacobian_product: call it as vjp(*args, tensor)")
    *args, t = args
    fun, x = _unary(f, tuple(args), kwargs, argnum, "tensor_jacobian_product")
    return jacrev(lambda x: _contract_leading(t, fun(x)))(x)


def tensor_jacobian_product(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                            ) -> Callable[..., Any]:
    """autograd's ``tensor_jacobian_product`` (also ``vector_jacobian_product``):
    ``tjp(*args, t)`` contracts ``t`` with the leading axes of the Jacobian of ``f`` with
    respect to the ``argnum`` argument (``tensordot(t, J, t.ndim)``); when ``t`` has the
    output's shape, this is the vjp.

    >>> import jitgrad.numpy as jnp
    >>> tjp = tensor_jacobian_product(lambda x: x[::-1] * 2.0)
    >>> tjp(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([0., 2.])
    """
    return Transformed(_tensor_jacobian_product, f, argnum=argnum)


vector_jacobian_product = tensor_jacobian_product


def _make_hvp(f: Callable[..., Any], args: tuple, kwargs: dict, *, argnum: Any) -> tuple:
    fun, x = _unary(f, args, kwargs, argnum, "make_hvp")
    check_float_inputs(tree_leaves(x), "make_hvp")
    g, f_jvp = linearize(grad(fun), x)
    return f_jvp, g


def make_hvp(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., tuple]:
    """autograd's ``make_hvp``: ``make_hvp(f, argnum)(*args)`` is ``(hvp_fn, gradient)``,
    where ``hvp_fn(v)`` is the Hessian-vector product at ``args``; the gradient is computed
    once, and each call runs only the linear part (forward over reverse).

    >>> import jitgrad.numpy as jnp
    >>> hvp, g = make_hvp(lambda x: jnp.sum(x ** 3))(np.array([1.0, 2.0]))
    >>> g, hvp(np.array([1.0, 0.0]))
    (array([ 3., 12.]), array([6., 0.]))
    """
    return Transformed(_make_hvp, f, argnum=argnum)


def _half_sum_squares(y: Any) -> Any:
    return 0.5 * jnp.sum(y ** 2, axis=-1)


def make_ggnvp(f: Callable[..., Any], g: Callable[[Any], Any] = _half_sum_squares,
               f_argnum: int = 0) -> Callable[..., Callable[[Any], Any]]:
    """autograd's ``make_ggnvp``: ``make_ggnvp(f, g)(*args)`` is ``v -> J^T H J v``, the
    generalised Gauss-Newton matrix of ``g(f(x))`` (``J`` the Jacobian of ``f`` at ``x``,
    the ``f_argnum`` argument, ``H`` the Hessian of ``g`` at ``f(x)``) times ``v``;
    ``g`` defaults to half the sum of squares over the last axis.

    >>> import jitgrad.numpy as jnp
    >>> ggnvp = make_ggnvp(lambda x: 2.0 * x)(np.array([1.0, 2.0]))
    >>> ggnvp(np.array([1.0, 0.0]))
    array([4., 0.])
    """
    return Transformed(_make_ggnvp, f, g=g, f_argnum=f_argnum)


def _make_ggnvp(f: Callable[..., Any], args: tuple, kwargs: dict, *, g: Callable[[Any], Any],
                f_argnum: int) -> Callable[[Any], Any]:
    fun, x = _unary(f, args, kwargs, f_argnum, "make_ggnvp")
    check_float_inputs(tree_leaves(x), "make_ggnvp")
    y, f_jvp = linearize(fun, x)
    _, f_vjp = vjp(fun, x)
    _, g_hvp = linearize(grad(g), y)
    return lambda v: f_vjp(g_hvp(f_jvp(v)))[0]


def grad_and_aux(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's ``grad_and_aux``: for ``f`` returning ``(value, aux)``, ``(gradient of
    value, aux)``; ``grad(f, has_aux=True)`` in JAX's spelling.

    >>> import jitgrad.numpy as jnp
    >>> grad_and_aux(lambda x: (x ** 2, x + 1.0))(3.0)
    (array(6.), array(4.))
    """
    return grad(f, argnum, has_aux=True)


def grad_named(f: Callable[..., Any], argname: str) -> Callable[..., Any]:
    """autograd's ``grad_named``: the gradient with respect to the parameter named
    ``argname`` (passed positionally or by keyword: keyword arguments are bound to their
    positions first).

    >>> grad_named(lambda x, y: x * y, "y")(2.0, 3.0)
    array(2.)
    """
    params = list(inspect.signature(f).parameters)
    if argname not in params:
        raise JitgradTypeError(f"grad_named: {getattr(f, '__name__', f)} has no parameter "
                               f"{argname!r} (its parameters: {params})")
    sig = inspect.signature(f)

    def bound(*args: Any, **kwargs: Any) -> Any:
        ba = sig.bind(*args, **kwargs)
        ba.apply_defaults()
        return grad(f, params.index(argname))(*ba.args, **ba.kwargs)

    return bound


def multigrad_dict(f: Callable[..., Any]) -> Callable[..., OrderedDict]:
    """autograd's ``multigrad_dict``: the gradient with respect to every argument at once,
    as an ordered dict from parameter name to gradient (defaults included).

    >>> dict(multigrad_dict(lambda x, y=2.0: x * y)(3.0))
    {'x': array(2.), 'y': array(3.)}
    """
    sig = inspect.signature(f)

    def gradfun(*args: Any, **kwargs: Any) -> OrderedDict:
        ba = sig.bind(*args, **kwargs)
        ba.apply_defaults()
        values = dict(ba.arguments)

        def of_dict(d: dict) -> Any:
            b = inspect.BoundArguments(sig, OrderedDict((k, d[k]) for k in values))
            return f(*b.args, **b.kwargs)

        grads = grad(of_dict)(values)
        return OrderedDict((k, grads[k]) for k in values)

    return gradfun


# ---------------------------------------------------------------------------------------------
# Inspection


def is_tracer(x: Any) -> bool:
    """Whether ``x`` is a value being traced or differentiated by a jitgrad transformation
    (a ``jitgrad.Tracer``, as JAX's ``jax.core.Tracer``), rather than a concrete array: so
    that code wrapping jitgrad can branch on it, as autograd's ``isbox``.

    >>> is_tracer(np.ones(2))
    False
    >>> grad(lambda x: x * 3.0 if is_tracer(x) else x)(2.0)
    array(3.)
    """
    return isinstance(x, Tracer)



def _make_ir(f: Callable[..., Any], args: tuple, kwargs: dict, *, static_argnums: Any) -> IR:
    static = set(normalize_argnums(static_argnums, len(args), "make_ir", "static_argnums"))
    partial, dyn = argnums_partial(f, args, tuple(i for i in range(len(args))
                                                  if i not in static))
    leaves, in_tree = flatten_args(dyn, "make_ir")
    flat_f, _ = flatten_fun_nokwargs(lambda *d: partial(*d, **kwargs), in_tree)
    return trace(flat_f, [aval_of(x) for x in leaves])


def make_ir(f: Callable[..., Any], static_argnums: int | Sequence[int] = ()
            ) -> Callable[..., IR]:
    """The IR of ``f`` traced on arguments of the given shapes and dtypes (printable).

    >>> import jitgrad.numpy as jnp
    >>> print(make_ir(lambda a, b: jnp.sum(a * b))(np.ones((3, 4)), np.ones(4)))
    { lambda a:f64[3,4] b:f64[4] .
      let c:f64[3,4] = broadcast_in_dim[dims=(1,) shape=(3, 4)] b
          d:f64[3,4] = mul a c
          e:f64[] = reduce_sum[axes=(0, 1)] d
      in ( e ) }
    """
    return Transformed(_make_ir, f, static_argnums=static_argnums)


make_jaxpr = make_ir  # JAX's name for it


def typeof(x: Any) -> ShapedArray:
    """JAX's ``jax.typeof``: the shape and dtype of an array, scalar or traced value (a
    Python scalar's is weakly typed), e.g. to print inside ``jit`` or ``vmap``.

    >>> typeof(np.ones((2, 3), np.float32)), typeof(1.0)
    (f32[2,3], f64[])
    """
    return aval_of(x)


def eval_shape(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes ``f`` would return, by tracing only (nothing is computed).
    Arguments may be arrays or anything with ``shape`` and ``dtype`` (``ShapeDtypeStruct``);
    the results are ``ShapeDtypeStruct`` s (``ShapedArray``).

    >>> import jitgrad.numpy as jnp
    >>> eval_shape(lambda x: jnp.sum(x, axis=0), ShapedArray((3, 4), np.float32))
    f32[4]
    """
    def as_aval(x: Any) -> ShapedArray:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return ShapedArray(x.shape, x.dtype)
        return aval_of(x)

    leaves, in_tree = tree_flatten((args, kwargs))
    flat_f, store = flatten_fun(f, in_tree)
    ir = trace(flat_f, [as_aval(x) for x in leaves])
    return tree_unflatten(store.val, [x.aval for x in ir.outvars])


ShapeDtypeStruct = ShapedArray  # JAX's name for an abstract array: ShapedArray(shape, dtype)


class _ArrayType(type):
    def __instancecheck__(cls, x: Any) -> bool:
        return isinstance(x, np.ndarray | np.generic | Tracer)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, np.ndarray | np.generic | Tracer)


class Array(metaclass=_ArrayType):
    """The type of jitgrad's arrays, for annotations and ``isinstance(x, jitgrad.Array)``
    (JAX's ``jax.Array``): numpy arrays and scalars, and the traced values of transformations.

    NB: true for numpy arrays and scalars, since they are jitgrad's arrays (in JAX a numpy
    array is not a ``jax.Array``); false for Python scalars and lists, as in JAX.

    >>> import jitgrad as jg
    >>> isinstance(np.ones(2), Array), isinstance(2.0, Array)
    (True, False)
    >>> jg.grad(lambda x: x * isinstance(x, Array))(1.0)
    array(1.)
    """


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Any:
    """Within the block, ``jit`` runs functions as plain Python on their arguments instead of
    tracing and compiling them (``config.disable_jit``), so ``print``, ``float(x)`` and
    debuggers see concrete values; the previous setting is restored afterwards.

    >>> import jitgrad as jg
    >>> with disable_jit():
    ...     jg.jit(lambda x: (print(type(x).__name__), x + 1)[1])(np.ones(2))
    ndarray
    array([2., 2.])
    """
    from jitgrad.core import config
    before = config.disable_jit
    config.disable_jit = bool(disable)
    try:
        yield
    finally:
        config.disable_jit = before


@contextlib.contextmanager
def ensure_compile_time_eval() -> Any:
    """JAX's block of eagerly computed values inside ``jit``: already how jitgrad works, where
    operations on concrete (non-traced) arrays always run at once in numpy, in and out of
    transformations, so this has nothing to change.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> def f(x):
    ...     with ensure_compile_time_eval():
    ...         table = jnp.sin(jnp.arange(3.0))  # a numpy array: computed now
    ...     return x + table[2]
    >>> print(jg.make_ir(f)(1.0))
    { lambda a:f64[] .
      let b:f64[] = add a 0.9092974268256817
      in ( b ) }
    """
    yield


def named_call(fun: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
    """``fun`` itself: JAX names the call in its IR and profiles; jitgrad's IR keeps no call
    names, so there is nothing to attach it to.

    >>> named_call(abs, name="magnitude")(-2)
    2
    """
    return fun


@contextlib.contextmanager
def named_scope(name: str) -> Any:
    """A block named for JAX's profiles; jitgrad keeps no names, so it has no effect.

    >>> with named_scope("layer1"):
    ...     print("inside")
    inside
    """
    if not isinstance(name, str):
        raise JitgradTypeError(f"named_scope: the name must be a string, got {name!r}")
    yield
