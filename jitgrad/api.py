"""The public transformations: grad, value_and_grad, vjp, jvp, make_ir, custom_vjp."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import (
    IR,
    Inline,
    Primitive,
    ShapedArray,
    Tracer,
    Zero,
    aval_of,
    check_ir,
    eval_ir,
    is_float,
    register,
)
from jitgrad.errors import JitgradTypeError
from jitgrad.prims import cos, mul, sin, zeros
from jitgrad.prims.structural import at_front, batch_size
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.transforms.vmap import vmap_ir
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["custom_vjp", "grad", "jvp", "make_ir", "value_and_grad", "vjp"]


# ---------------------------------------------------------------------------------------------
# Helpers shared by the transformations


def _as_output(x: Any) -> Any:
    """Concrete results are plain numpy arrays (0-d arrays, not numpy scalars)."""
    return x if isinstance(x, Tracer) else np.asarray(x)


def _leaf(x: Any, what: str) -> Any:
    if isinstance(x, Tracer | np.ndarray | np.generic | float | int | bool):
        return x
    try:
        aval_of(x)
    except Exception as e:  # noqa: BLE001 - reported as jitgrad's own error below
        raise JitgradTypeError(f"{what}: {type(x).__name__} is not an array or pytree") from e
    return np.asarray(x)


def _flatten(tree: Any, what: str) -> tuple[list[Any], PyTreeDef]:
    leaves, treedef = tree_flatten(tree)
    return [_leaf(x, what) for x in leaves], treedef


def _normalize_argnums(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise JitgradTypeError(f"{name}: argnums {argnums} out of range for {nargs} "
                                   f"positional argument(s)")
    return tuple(i % nargs for i in nums)


def flatten_fun(f: Callable[..., Any], args: tuple, argnums: tuple[int, ...],
                kwargs: dict, what: str) -> tuple[Callable[..., list], list[Any], PyTreeDef,
                                                  list[PyTreeDef | None]]:
    """Flatten the ``argnums`` arguments of ``f(*args, **kwargs)`` into leaves. Returns
    ``(flat_f, leaves, in_tree, out_tree_box)``: ``flat_f(*leaves)`` returns flat outputs and
    records the output structure in ``out_tree_box[0]``."""
    leaves, in_tree = _flatten(tuple(args[i] for i in argnums), what)
    out_tree: list[PyTreeDef | None] = [None]

    def flat_f(*xs: Any) -> list[Any]:
        full = list(args)
        for i, a in zip(argnums, tree_unflatten(in_tree, xs), strict=True):
            full[i] = a
        out_leaves, out_tree[0] = tree_flatten(f(*full, **kwargs))
        return out_leaves

    return flat_f, leaves, in_tree, out_tree


def _check_float_inputs(leaves: Sequence[Any], name: str) -> None:
    for x in leaves:
        aval = aval_of(x)
        if not is_float(aval.dtype):
            raise JitgradTypeError(
                f"{name} requires floating-point inputs to differentiate, but got an input of "
                f"dtype {aval.dtype.name} (shape {aval.shape}). Pass a float array (e.g. "
                f"x.astype(float)), or leave the argument out of argnums.")


# ---------------------------------------------------------------------------------------------
# Reverse mode


def _vjp_core(flat_f: Callable[..., list], leaves: list[Any], has_aux: bool,
              out_tree: list[PyTreeDef | None], name: str
              ) -> tuple[IR, int, PyTreeDef | None]:
    """Trace and transform: returns the joint IR ``(leaves..., cts) -> (outs..., aux...,
    grads...)``, the number of differentiated outputs and the aux tree."""
    ir = trace(flat_f, [aval_of(x) for x in leaves])
    tree = out_tree[0]
    aux_tree = None
    n_out = len(ir.outvars)
    if has_aux:
        if tree is None or tree.node_type not in (tuple, list) or len(tree.children) != 2:
            raise JitgradTypeError(f"{name}(has_aux=True) requires the function to return a "
                                   f"pair (output, aux), got structure {tree}")
        out_part, aux_tree = tree.children
        n_out = out_part.num_leaves
        out_tree[0] = out_part
    has_ct = [i < n_out and is_float(v.aval.dtype) for i, v in enumerate(ir.outvars)]
    return vjp_ir(ir, [True] * len(leaves), has_ct), n_out, aux_tree


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``(out, vjp_fn)`` or ``(out, vjp_fn, aux)``; ``vjp_fn(ct)`` returns a
    tuple with one cotangent per primal. The forward pass runs once, now.

    >>> import jitgrad.numpy as jnp
    >>> out, f_vjp = vjp(lambda x, y: x * y, 2.0, 3.0)
    >>> out, f_vjp(1.0)
    (array(6.), (array(3.), array(2.)))
    """
    flat_f, leaves, in_tree, out_tree = flatten_fun(f, primals, tuple(range(len(primals))), {},
                                                    "vjp")
    _check_float_inputs(leaves, "vjp")
    joint, n_out, aux_tree = _vjp_core(flat_f, leaves, has_aux, out_tree, "vjp")
    n_in = len(leaves)
    n_fwd = len(joint.outvars) - n_in
    n_ct = len(joint.invars) - n_in
    known, unknown, n_res = partial_eval_ir(
        joint, [False] * n_in + [True] * n_ct, [False] * n_fwd + [True] * n_in)
    fwd = eval_ir(known, *leaves)
    outs, res = fwd[:n_fwd], fwd[n_fwd:]
    ct_avals = [v.aval for v in joint.invars[n_in:]]
    diff_out = [i for i in range(n_out) if is_float(aval_of(outs[i]).dtype)]

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_tree = _flatten(ct, "vjp_fn")
        if ct_tree != out_tree[0]:
            raise JitgradTypeError(f"vjp_fn: cotangent structure {ct_tree} does not match the "
                                   f"output structure {out_tree[0]}")
        ct_leaves = [ct_leaves[i] for i in diff_out]
        for c, aval in zip(ct_leaves, ct_avals, strict=True):
            if aval_of(c).shape != aval.shape:
                raise JitgradTypeError(f"vjp_fn: cotangent of shape {aval_of(c).shape} for an "
                                       f"output of shape {aval.shape}")
        ct_leaves = [c if isinstance(c, Tracer) else np.asarray(c, aval.dtype)
                     for c, aval in zip(ct_leaves, ct_avals, strict=True)]
        grads = eval_ir(unknown, *res, *ct_leaves)
        return tuple(tree_unflatten(in_tree, [_as_output(g) for g in grads]))

    out = tree_unflatten(out_tree[0], [_as_output(o) for o in outs[:n_out]])
    if has_aux:
        return out, vjp_fn, tree_unflatten(aux_tree, [_as_output(o) for o in outs[n_out:]])
    return out, vjp_fn


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """``(f(*args), grad)`` in one pass; with ``has_aux`` ``((f, aux), grad)``.

    >>> import jitgrad.numpy as jnp
    >>> value_and_grad(lambda x: jnp.sum(x ** 2))(np.array([1.0, 2.0]))
    (array(5.), array([2., 4.]))
    """

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _normalize_argnums(argnums, len(args), "grad")
        flat_f, leaves, in_tree, out_tree = flatten_fun(f, args, nums, kwargs, "grad")
        _check_float_inputs(leaves, "grad")
        joint, n_out, aux_tree = _vjp_core(flat_f, leaves, has_aux, out_tree, "grad")
        out_aval = joint.outvars[0].aval if n_out else None
        if n_out != 1 or out_aval.shape != () or not is_float(out_aval.dtype):
            shown = out_tree[0] if n_out != 1 else out_aval
            raise JitgradTypeError(
                f"grad requires a scalar floating-point output (shape ()), but the function "
                f"returned {shown}. Reduce it first (e.g. jnp.sum), or use jg.vjp / jg.jacrev "
                f"for non-scalar outputs.")
        outs = eval_ir(joint, *leaves, np.ones((), out_aval.dtype))
        n_fwd = len(joint.outvars) - len(leaves)
        grads = tree_unflatten(in_tree, [_as_output(g) for g in outs[n_fwd:]])
        grads = grads[0] if isinstance(argnums, int) else grads
        value = _as_output(outs[0])
        if has_aux:
            aux = tree_unflatten(aux_tree, [_as_output(o) for o in outs[1:n_fwd]])
            return (value, aux), grads
        return value, grads

    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """Gradient of a scalar-valued ``f`` with respect to the ``argnums`` arguments (pytrees).

    >>> import jitgrad.numpy as jnp
    >>> grad(lambda x: jnp.sum(jnp.sin(x)))(np.array([0.0, np.pi]))
    array([ 1., -1.])
    >>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
    (array(3.), array(2.))
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


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
    p_leaves, p_tree = _flatten(tuple(primals), "jvp primals")
    t_leaves, t_tree = _flatten(tuple(tangents), "jvp tangents")
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
    out_tree: list[PyTreeDef | None] = [None]

    def flat_f(*xs: Any) -> list[Any]:
        leaves, out_tree[0] = tree_flatten(f(*tree_unflatten(p_tree, xs)))
        return leaves

    outs, t_outs = jvp_flat(flat_f, p_leaves, ts)
    t_outs = [zeros_like_value(o) if isinstance(t, Zero) else t
              for o, t in zip(outs, t_outs, strict=True)]
    tree = out_tree[0]
    if has_aux:
        out_part, aux_tree = tree.children
        n = out_part.num_leaves
        return (tree_unflatten(out_part, map(_as_output, outs[:n])),
                tree_unflatten(out_part, map(_as_output, t_outs[:n])),
                tree_unflatten(aux_tree, map(_as_output, outs[n:])))
    return (tree_unflatten(tree, map(_as_output, outs)),
            tree_unflatten(tree, map(_as_output, t_outs)))


def zeros_like_value(x: Any) -> Any:
    aval = aval_of(x)
    return zeros(aval) if isinstance(x, Tracer) else np.zeros(aval.shape, aval.dtype)


# ---------------------------------------------------------------------------------------------
# Inspection


def make_ir(f: Callable[..., Any], static_argnums: Sequence[int] = ()) -> Callable[..., IR]:
    """The IR of ``f`` traced on arguments of the given shapes and dtypes (printable).

    >>> import jitgrad.numpy as jnp
    >>> print(make_ir(lambda a, b: jnp.sum(a * b))(np.ones((3, 4)), np.ones(4)))
    { lambda a:f64[3,4] b:f64[4] .
      let c:f64[3,4] = broadcast_in_dim[dims=(1,) shape=(3, 4)] b
          d:f64[3,4] = mul a c
          e:f64[] = reduce_sum[axes=(0, 1)] d
      in ( e ) }
    """

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> IR:
        nums = tuple(i for i in range(len(args)) if i not in static_argnums)
        flat_f, leaves, _, _ = flatten_fun(f, args, nums, kwargs, "make_ir")
        return trace(flat_f, [aval_of(x) for x in leaves])

    return wrapped


# ---------------------------------------------------------------------------------------------
# custom_vjp


def closure_convert(ir: IR) -> tuple[IR, list[Any]]:
    """Turn ``ir``'s constants into leading inputs, so it can live in an equation's params
    while the constants (possibly values of an enclosing trace) are ordinary operands."""
    return check_ir(IR([], ir.constvars + ir.invars, ir.eqns, ir.outvars)), list(ir.consts)


def _custom_vjp_rule(*avals: ShapedArray, fun: IR, **_: Any) -> list[ShapedArray]:
    return [v.aval for v in fun.outvars]


def _custom_vjp_fwd(ins: list[Any], *, fun: IR, fwd: Callable, bwd: Callable, n_consts: int,
                    in_tree: PyTreeDef, out_tree: PyTreeDef) -> tuple[list[Any], Any]:
    args = tree_unflatten(in_tree, ins[n_consts:])
    out, res = fwd(*args)
    out_leaves, tree = tree_flatten(out)
    if tree != out_tree:
        raise JitgradTypeError(f"custom_vjp: fwd returned output structure {tree}, but the "
                               f"function returns {out_tree}")
    return out_leaves, (res, ins)


def _custom_vjp_bwd(saved: Any, cts: list[Any], *, fun: IR, fwd: Callable, bwd: Callable,
                    n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef) -> list[Any]:
    res, ins = saved
    cts = [zeros(c.aval) if isinstance(c, Zero) else c for c in cts]
    ct_args = bwd(res, tree_unflatten(out_tree, cts))
    args = tree_unflatten(in_tree, ins[n_consts:])
    if not isinstance(ct_args, tuple) or len(ct_args) != len(args):
        raise JitgradTypeError(f"custom_vjp: bwd must return a tuple with one cotangent per "
                               f"argument ({len(args)}), got {type(ct_args).__name__}")
    flat: list[Any] = []
    for a, c in zip(args, ct_args, strict=True):
        a_leaves, a_tree = tree_flatten(a)
        if c is None:
            flat.extend([None] * len(a_leaves))
            continue
        c_leaves, c_tree = tree_flatten(c)
        if c_tree != a_tree:
            raise JitgradTypeError(f"custom_vjp: bwd returned cotangent structure {c_tree} for "
                                   f"an argument of structure {a_tree}")
        flat.extend(c_leaves)
    return [None] * n_consts + flat


def _custom_vjp_jvp(primals: list[Any], tangents: list[Any], *, fun: IR, **_: Any
                    ) -> tuple[list[Any], list[Any]]:
    # NB: forward mode differentiates the original function (the custom rule is reverse-only).
    outs, t_outs = jvp_flat(lambda *xs: eval_ir(fun, *xs), primals, tangents)
    return outs, [zeros(aval_of(o)) if isinstance(t, Zero) else t
                  for o, t in zip(outs, t_outs, strict=True)]


def _custom_vjp_cases(rng: np.random.Generator, dtype: Any) -> list:
    def f(x: Any, y: Any) -> Any:
        return mul(sin(x), y)

    cf = custom_vjp(f)
    cf.defvjp(lambda x, y: (f(x, y), (x, y)),
              lambda res, g: (mul(mul(g, cos(res[0])), res[1]), mul(g, sin(res[0]))))
    x, y = rng.uniform(-2, 2, (2, 3)).astype(dtype), rng.uniform(-2, 2, (2, 3)).astype(dtype)
    ir = make_ir(f)(x, y)
    return [((x, y), {"fun": ir, "fwd": cf.fwd, "bwd": cf.bwd, "n_consts": 0,
                      "in_tree": tree_flatten((x, y))[1], "out_tree": tree_flatten(x)[1]})]


def _custom_vjp_batch(args: list[Any], dims: list[Any], /, *, fun: IR, fwd: Callable,
                      bwd: Callable, n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef
                      ) -> tuple[list[Any], list[int]]:
    # Every operand batched first; the user's fwd and bwd are vmapped the same way.
    from jitgrad.toolkit import vmap
    size = batch_size(args, dims)
    args = [at_front(a, d, size) for a, d in zip(args, dims, strict=True)]
    batched, consts = closure_convert(vmap_ir(fun, [0] * len(args), size)[0])
    outs = custom_vjp_call_p.bind(
        *consts, *args, fun=batched, fwd=vmap(fwd), bwd=vmap(bwd),
        n_consts=len(consts) + n_consts, in_tree=in_tree, out_tree=out_tree)
    return outs, [0] * len(outs)


custom_vjp_call_p = register(Primitive(
    "custom_vjp_call", _custom_vjp_rule, lambda *xs, fun, **_: eval_ir(fun, *xs), Inline(),
    jvp=_custom_vjp_jvp, vjp_fwd=_custom_vjp_fwd, vjp_bwd=_custom_vjp_bwd,
    batch=_custom_vjp_batch, multiple_results=True, test_cases=_custom_vjp_cases))


class custom_vjp:  # noqa: N801 - JAX's name
    """A function with a user-defined reverse-mode rule.

    >>> import jitgrad.numpy as jnp
    >>> @custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, g: (jnp.clip(g, -1.0, 1.0),))
    >>> grad(lambda x: 5.0 * clip_grad(x))(2.0)
    array(1.)
    """

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """``fwd(*args) -> (out, residuals)``; ``bwd(residuals, ct) -> tuple of cotangents``
        (one per argument, ``None`` for zero)."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise JitgradTypeError(f"custom_vjp {self.fun.__name__}: call defvjp(fwd, bwd) "
                                   f"before using it")
        leaves, in_tree = _flatten(args, "custom_vjp")
        if not any(isinstance(x, Tracer) for x in leaves):
            return self.fun(*args)
        out_tree: list[PyTreeDef | None] = [None]

        def flat_f(*xs: Any) -> list[Any]:
            outs, out_tree[0] = tree_flatten(self.fun(*tree_unflatten(in_tree, xs)))
            return outs

        ir, consts = closure_convert(trace(flat_f, [aval_of(x) for x in leaves]))
        outs = custom_vjp_call_p.bind(
            *consts, *leaves, fun=ir, fwd=self.fwd, bwd=self.bwd, n_consts=len(consts),
            in_tree=in_tree, out_tree=out_tree[0])
        return tree_unflatten(out_tree[0], outs)
