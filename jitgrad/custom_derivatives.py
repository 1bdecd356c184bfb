"""User-defined derivative rules and rematerialisation: custom_vjp, custom_jvp, checkpoint.
Each is a primitive holding the user's function as a sub-program, with the user's rule as its
derivative."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.api import vmap
from jitgrad.api_util import argnums_partial, flatten_args, normalize_argnums, reduce_wrapper
from jitgrad.core import (
    IR,
    Inline,
    Primitive,
    ShapedArray,
    Tracer,
    Zero,
    aval_of,
    eval_ir,
    register,
    zeros,
)
from jitgrad.eager import is_eager, specialize
from jitgrad.errors import JitgradTypeError, TracerError, UnsupportedError
from jitgrad.prims import cos, mul, sin
from jitgrad.prims.structural import at_front, batch_size
from jitgrad.subprogram import (
    closure_convert,
    floats,
    instantiate_zeros,
    trace_closed,
    trace_fun,
)
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.stage import trace
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.transforms.vmap import vmap_ir
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "custom_jvp", "custom_vjp",
           "remat"]


# ---------------------------------------------------------------------------------------------
# arguments of custom_jvp and custom_vjp functions


def _positional(name: str, fun: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """The call's arguments as positional ones, bound by ``fun``'s signature with its
    defaults filled in, as JAX does: the rules see every argument in its place."""
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):  # a callable without a signature: as given
        sig = None
    if sig is None or (not kwargs and len(args) == len(sig.parameters)):
        if kwargs:
            raise JitgradTypeError(f"{name}: keyword arguments need a function with a "
                                   f"signature")
        return args
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise JitgradTypeError(f"{name}: {e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise JitgradTypeError(f"{name}: keyword-only arguments {sorted(bound.kwargs)} are "
                               f"not supported; make them positional")
    return bound.args


def _nondiff_split(name: str, nondiff_argnums: tuple[int, ...], args: tuple
                   ) -> tuple[Callable[[Callable[..., Any]], Callable[..., Any]], tuple, tuple]:
    """For a call with ``nondiff_argnums``: a function turning a function of all the arguments
    into one of the differentiable arguments only (the others fixed to this call's values),
    the differentiable arguments, and the others (in the order of ``nondiff_argnums``), which
    the rules receive first. Those are Python values fixed for the call: functions, flags."""
    nums = normalize_argnums(nondiff_argnums, len(args), name, "nondiff_argnums")
    for i in nums:
        if any(isinstance(x, Tracer) for x in tree_leaves(args[i])):
            # NB: JAX lets custom_jvp take traced non-differentiable arguments; here they
            # would be closed over by the rule, outside the trace that made them.
            raise JitgradTypeError(
                f"{name}: argument {i} is in nondiff_argnums but holds a traced array; "
                f"nondiff_argnums are for values that are not arrays (functions, flags): pass "
                f"arrays as ordinary arguments (wrapped in stop_gradient if they must not be "
                f"differentiated)")
    dyn = tuple(i for i in range(len(args)) if i not in nums)
    return (lambda f: argnums_partial(f, args, dyn)[0], tuple(args[i] for i in dyn),
            tuple(args[i] for i in nums))


def _trace_or_specialize(trace_with: Callable[[Callable[..., Any]], Any],
                         f: Callable[..., Any], args: tuple) -> Any:
    """``trace_with(f)``: ``f`` traced on abstract values, a program valid for any
    values; where that fails on Python control flow (``if x > 0``) and ``args`` are concrete
    (eager transformations), ``f`` as it runs on them, which JAX's custom_jvp allows outside
    ``jit``: the function and its rule then take the branches of these values."""
    try:
        return trace_with(f)
    except TracerError:
        if not is_eager():
            raise
        return trace_with(specialize(f, args))



# ---------------------------------------------------------------------------------------------
# custom_vjp


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
    ir = trace_fun(f, tree_flatten((x, y))[1], [aval_of(x), aval_of(y)])[0]
    return [((x, y), {"fun": ir, "fwd": cf.fwd, "bwd": cf.bwd, "n_consts": 0,
                      "in_tree": tree_flatten((x, y))[1], "out_tree": tree_flatten(x)[1]})]


def _custom_vjp_batch(args: list[Any], dims: list[Any], /, *, fun: IR, fwd: Callable,
                      bwd: Callable, n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef
                      ) -> tuple[list[Any], list[int]]:
    # Every operand batched first; the user's fwd and bwd are vmapped the same way.
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

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> @custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, g: (jnp.clip(g, -1.0, 1.0),))
    >>> jg.grad(lambda x: 5.0 * clip_grad(x))(2.0)
    array(1.)

    With ``nondiff_argnums`` (JAX's), the arguments at those positions are Python values
    (functions, flags) rather than arrays: ``fwd`` takes every argument in its place, and
    ``bwd(*nondiff_args, residuals, ct)`` returns cotangents for the other arguments only.

    >>> from functools import partial
    >>> @partial(custom_vjp, nondiff_argnums=(0,))
    ... def apply(f, x):
    ...     return f(x)
    >>> apply.defvjp(lambda f, x: (f(x), x), lambda f, x, g: (5.0 * g,))
    >>> jg.grad(apply, 1)(jnp.sin, 1.0)
    array(5.)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = nondiff_argnums
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """``fwd(*args) -> (out, residuals)``; ``bwd(residuals, ct) -> tuple of cotangents``
        (one per argument, ``None`` for zero)."""
        self.fwd, self.bwd = fwd, bwd

    def __reduce__(self) -> str | tuple:
        return reduce_wrapper(self, _rebuild_custom_vjp, self.fun, self.fwd, self.bwd,
                              self.nondiff_argnums)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = f"custom_vjp {getattr(self.fun, '__name__', '')}"
        if self.fwd is None or self.bwd is None:
            raise JitgradTypeError(f"{name}: call defvjp(fwd, bwd) before using it")
        args = _positional(name, self.fun, args, kwargs)
        fun, fwd, bwd = self.fun, self.fwd, self.bwd
        if self.nondiff_argnums:
            on_dyn, args, static = _nondiff_split(name, self.nondiff_argnums, args)
            fun, fwd, bwd = on_dyn(fun), on_dyn(fwd), functools.partial(bwd, *static)
        leaves, in_tree = flatten_args(args, "custom_vjp")
        if not any(isinstance(x, Tracer) for x in leaves):
            return fun(*args)
        ir, consts, out_tree = _trace_or_specialize(
            lambda f: trace_fun(f, in_tree, [aval_of(x) for x in leaves]), fun, args)
        outs = custom_vjp_call_p.bind(
            *consts, *leaves, fun=ir, fwd=fwd, bwd=bwd, n_consts=len(consts),
            in_tree=in_tree, out_tree=out_tree)
        return tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------------------------
# checkpoint


def _ckpt_fwd(ins: list[Any], *, fun: IR) -> tuple[list[Any], Any]:
    # Only the inputs are saved; the backward pass recomputes everything else.
    return checkpoint_p.bind(*ins, fun=fun), ins


def _ckpt_bwd(ins: Any, cts: list[Any], *, fun: IR) -> list[Any]:
    wrt, has_ct = floats(fun.in_avals), floats(fun.out_avals)
    joint = vjp_ir(fun, wrt, has_ct)
    cts = [c for c, h in zip(instantiate_zeros(cts, fun.out_avals), has_ct, strict=True) if h]
    n_out = len(fun.outvars)
    # The recomputation and the backward pass are one checkpoint call: splitting the program
    # into what is known before and after the cotangents then cannot hoist the recomputed
    # values into the forward pass (which would store them again).
    bwd = trace_closed(lambda *a: eval_ir(joint, *a)[n_out:],
                       [aval_of(x) for x in list(ins) + cts])[0]
    grads = iter(checkpoint_p.bind(*ins, *cts, fun=bwd))
    return [next(grads) if w else None for w in wrt]


def _ckpt_jvp(primals: list[Any], tangents: list[Any], *, fun: IR) -> tuple[list, list]:
    outs, ts = jvp_flat(lambda *x: eval_ir(fun, *x), primals, tangents)
    return outs, instantiate_zeros(ts, outs)


def _ckpt_batch(args: list[Any], dims: list[Any], /, *, fun: IR) -> tuple[list[Any], list]:
    size = batch_size(args, dims)
    batched, odims = vmap_ir(fun, dims, size, out_front=False)
    return checkpoint_p.bind(*args, fun=batched), odims


def _ckpt_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    x = rng.uniform(-1, 1, (2, 3)).astype(dtype)
    ir, _, _ = trace_fun(lambda x: jnp.sin(jnp.tanh(x) * x), tree_flatten((x,))[1],
                          [aval_of(x)])
    return [((x,), {"fun": ir})]


checkpoint_p = register(Primitive(
    "checkpoint", lambda *avals, fun: list(fun.out_avals), lambda *xs, fun: eval_ir(fun, *xs),
    Inline(),
    jvp=_ckpt_jvp, vjp_fwd=_ckpt_fwd, vjp_bwd=_ckpt_bwd, batch=_ckpt_batch,
    multiple_results=True, test_cases=_ckpt_cases))


def _nothing_saveable(*_: Any, **__: Any) -> bool:
    """JAX's policy saving no intermediate value (jitgrad's checkpoint always does this)."""
    return False


def _everything_saveable(*_: Any, **__: Any) -> bool:
    """JAX's policy saving every intermediate value: no rematerialisation at all."""
    return True


class _CheckpointPolicies:
    """``jax.checkpoint_policies``, as far as jitgrad follows them: a policy
    ``policy(prim, *avals, **params) -> bool`` says which intermediate values reverse mode
    may save. jitgrad's checkpoint saves the inputs only (``nothing_saveable``) or, with
    ``everything_saveable``, is no checkpoint."""

    nothing_saveable = staticmethod(_nothing_saveable)
    everything_saveable = staticmethod(_everything_saveable)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"checkpoint_policies.{name} is not provided: jitgrad's checkpoint "
                             f"saves its inputs only (nothing_saveable), or everything "
                             f"(everything_saveable, no rematerialisation)")


checkpoint_policies = _CheckpointPolicies()


def checkpoint(f: Callable[..., Any], *, prevent_cse: bool = True, policy: Any = None,
               static_argnums: int | tuple[int, ...] = ()) -> Callable[..., Any]:
    """Rematerialisation: reverse mode saves only ``f``'s inputs and recomputes its
    intermediate values in the backward pass (less memory, more compute). JAX's keywords:
    ``static_argnums`` are arguments that are Python values (flags, functions), fixed per
    call; ``policy`` may be ``checkpoint_policies.nothing_saveable`` (the default) or
    ``everything_saveable`` (no rematerialisation); ``prevent_cse`` changes nothing here.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> jg.grad(checkpoint(lambda x: jnp.sin(jnp.sin(x))))(0.0)
    array(1.)
    >>> jg.grad(checkpoint(lambda x, n: x ** n, static_argnums=1), 0)(2.0, 3)
    array(12.)
    """
    if policy is _everything_saveable:
        return f
    if policy not in (None, _nothing_saveable):
        raise UnsupportedError(f"checkpoint: policy {getattr(policy, '__name__', policy)!r} "
                               f"is not supported; jitgrad's checkpoint saves its inputs only "
                               f"(policy=None or checkpoint_policies.nothing_saveable) or "
                               f"everything (checkpoint_policies.everything_saveable)")

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        fun = f
        if static_argnums != ():
            nums = normalize_argnums(static_argnums, len(args), "checkpoint", "static_argnums")
            dyn = tuple(i for i in range(len(args)) if i not in nums)
            fun, args = argnums_partial(f, args, dyn)
        leaves, in_tree = tree_flatten(args)
        if not any(isinstance(x, Tracer) for x in leaves):
            return fun(*args)
        ir, consts, out_tree = trace_fun(fun, in_tree, [aval_of(x) for x in leaves])
        return tree_unflatten(out_tree, checkpoint_p.bind(*consts, *leaves, fun=ir))

    return wrapped


def checkpoint_name(x: Any, name: str) -> Any:
    """JAX's ``ad_checkpoint.checkpoint_name``: ``x``, named for name-based checkpoint
    policies, which jitgrad does not provide (so the name changes nothing).

    >>> checkpoint_name(2.0, "h")
    2.0
    """
    return x


remat = checkpoint


# ---------------------------------------------------------------------------------------------
# custom_jvp


def _cjvp_jvp(primals: list[Any], tangents: list[Any], *, fun: IR, rule: Callable,
              n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef) -> tuple[list, list]:
    args = tree_unflatten(in_tree, primals[n_consts:])
    ts = tree_unflatten(in_tree, instantiate_zeros(tangents[n_consts:], primals[n_consts:]))
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
    # The rule's constants (arrays it closes over) stay constants of the known part, which
    # computes from them whatever the tangent-linear part needs, as residuals.
    ir = _trace_or_specialize(lambda f: trace(f, avals + avals), joint,
                              (*ins, *[zeros(a) for a in avals]))
    k = len(params["fun"].outvars)
    known, unknown, _ = partial_eval_ir(ir, [False] * n + [True] * n, [False] * k + [True] * k)
    return known, unknown


def _cjvp_fwd(ins: list[Any], **params: Any) -> tuple[list[Any], Any]:
    known, unknown = _cjvp_linear_parts(ins, params)
    k = len(params["fun"].outvars)
    res = eval_ir(known, *ins)
    return res[:k], (res[k:], unknown, [aval_of(x) for x in ins])


def _cjvp_bwd(saved: Any, cts: list[Any], **params: Any) -> list[Any]:
    # Reverse mode through the user's forward rule: transpose its tangent-linear part.
    res, unknown, in_avals = saved
    n_res = len(res)
    wrt = [False] * n_res + floats(in_avals)
    has_ct = floats(unknown.out_avals)
    joint = vjp_ir(unknown, wrt, has_ct)
    cts = [c for c, h in zip(instantiate_zeros(cts, unknown.out_avals), has_ct,
                             strict=True) if h]
    t_dummy = [zeros(a) for a in in_avals]
    grads = iter(eval_ir(joint, *res, *t_dummy, *cts)[len(unknown.outvars):])
    return [next(grads) if w else None for w in floats(in_avals)]


def _cjvp_batch(args: list[Any], dims: list[Any], /, *, fun: IR, rule: Callable,
                n_consts: int, in_tree: PyTreeDef, out_tree: PyTreeDef
                ) -> tuple[list[Any], list[int]]:
    size = batch_size(args, dims)
    args = [at_front(a, d, size) for a, d in zip(args, dims, strict=True)]
    # Batching may introduce constants (e.g. the offsets of a batched gather): they become
    # leading operands, which the rule never sees.
    batched, consts = closure_convert(vmap_ir(fun, [0] * len(args), size)[0])
    outs = custom_jvp_call_p.bind(*consts, *args, fun=batched, rule=vmap(rule),
                                  n_consts=len(consts) + n_consts, in_tree=in_tree,
                                  out_tree=out_tree)
    return outs, [0] * len(outs)


def _cjvp_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    f = custom_jvp(lambda x: jnp.log1p(jnp.exp(x)))
    f.defjvp(lambda p, t: (f(p[0]), t[0] * (1.0 / (1.0 + jnp.exp(-p[0])))))
    x = rng.uniform(-2, 2, (3,)).astype(dtype)
    tree = tree_flatten((x,))[1]
    ir, _, out_tree = trace_fun(f.fun, tree, [aval_of(x)])
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

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = nondiff_argnums
        self.jvp: Callable[..., Any] | None = None

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """``jvp(primals, tangents) -> (out, t_out)``; with ``nondiff_argnums``,
        ``jvp(*nondiff_args, primals, tangents)`` (primals and tangents of the others)."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One rule per (differentiable) argument, ``jvp_i(t_i, out, *primals)``: the
        tangent of the output due to argument ``i``'s tangent ``t_i`` (``None``: none); the
        output's tangent is their sum.

        >>> import jitgrad as jg, jitgrad.numpy as jnp
        >>> f = custom_jvp(lambda x, y: jnp.sin(x) * y)
        >>> f.defjvps(lambda t, out, x, y: jnp.cos(x) * y * t,
        ...           lambda t, out, x, y: jnp.sin(x) * t)
        >>> jg.grad(f, argnums=(0, 1))(0.0, 2.0)
        (array(2.), array(0.))
        """

        name = f"custom_jvp {getattr(self.fun, '__name__', '')}"
        if self.nondiff_argnums:
            raise JitgradTypeError(f"{name}: defjvps cannot be used with nondiff_argnums "
                                   f"(as in JAX); use defjvp")

        def rule(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
            if len(jvps) != len(primals):
                raise JitgradTypeError(f"{name}: defjvps got {len(jvps)} rules for a call "
                                       f"with {len(primals)} arguments")
            out = self(*primals)
            parts = [jvp(t, out, *primals) for jvp, t in zip(jvps, tangents, strict=True)
                     if jvp is not None]
            if not parts:
                return out, tree_map(lambda o: zeros(aval_of(o)), out)
            return out, tree_map(lambda *ts: functools.reduce(lambda a, b: a + b, ts), *parts)

        self.jvp = rule

    def __reduce__(self) -> str | tuple:
        return reduce_wrapper(self, _rebuild_custom_jvp, self.fun, self.jvp,
                              self.nondiff_argnums)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = f"custom_jvp {getattr(self.fun, '__name__', '')}"
        if self.jvp is None:
            raise JitgradTypeError(f"{name}: call defjvp(rule) before using it")
        args = _positional(name, self.fun, args, kwargs)
        fun, rule = self.fun, self.jvp
        if self.nondiff_argnums:
            on_dyn, args, static = _nondiff_split(name, self.nondiff_argnums, args)
            fun, rule = on_dyn(fun), functools.partial(rule, *static)
        leaves, in_tree = tree_flatten(args)
        if not any(isinstance(x, Tracer) for x in leaves):
            return fun(*args)
        ir, consts, out_tree = _trace_or_specialize(
            lambda f: trace_fun(f, in_tree, [aval_of(x) for x in leaves]), fun, args)
        outs = custom_jvp_call_p.bind(*consts, *leaves, fun=ir, rule=rule,
                                      n_consts=len(consts), in_tree=in_tree, out_tree=out_tree)
        return tree_unflatten(out_tree, outs)


def _rebuild_custom_vjp(fun: Callable[..., Any], fwd: Callable[..., Any] | None,
                        bwd: Callable[..., Any] | None, nondiff_argnums: tuple[int, ...] = ()
                        ) -> custom_vjp:
    f = custom_vjp(fun, nondiff_argnums)
    f.fwd, f.bwd = fwd, bwd
    return f


def _rebuild_custom_jvp(fun: Callable[..., Any], jvp: Callable[..., Any] | None,
                        nondiff_argnums: tuple[int, ...] = ()) -> custom_jvp:
    f = custom_jvp(fun, nondiff_argnums)
    f.jvp = jvp
    return f
