"""``jax.ad_checkpoint``'s names: rematerialisation and its policies (see ``checkpoint``), and
``print_saved_residuals``, which shows what reverse mode keeps for the backward pass."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jitgrad.api import _vjp_staged
from jitgrad.api_util import flatten_args, flatten_fun_nokwargs
from jitgrad.core import Var
from jitgrad.custom_derivatives import checkpoint, checkpoint_name, checkpoint_policies, remat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.tree_util import keystr, tree_flatten_with_path

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "print_saved_residuals",
           "remat", "saved_residuals"]


def saved_residuals(f: Callable[..., Any], *args: Any) -> list[tuple[Any, str]]:
    """The values reverse mode of ``f`` at ``args`` saves for its backward pass (the
    compiled program's, after partial evaluation): ``(aval, where it comes from)`` each.

    >>> import jitgrad.numpy as jnp
    >>> saved_residuals(lambda x: jnp.sin(jnp.sin(x)), 1.0)
    [(f64[], 'output of cos'), (f64[], 'output of cos')]
    """
    leaves, in_tree = flatten_args(args, "saved_residuals")
    flat_f, store = flatten_fun_nokwargs(f, in_tree)
    joint = _vjp_staged(flat_f, leaves, False, store, "saved_residuals")[0]
    n_in = len(leaves)
    n_ct = len(joint.invars) - n_in
    known, _, n_res = partial_eval_ir(joint, [False] * n_in + [True] * n_ct,
                                      [False] * (len(joint.outvars) - n_in) + [True] * n_in)
    names = _argument_names(f, args)
    producer = {id(o): e.prim.name for e in known.eqns for o in e.outputs}
    position = {id(v): i for i, v in enumerate(known.invars)}
    out = []
    for v in known.outvars[len(known.outvars) - n_res:]:
        if not isinstance(v, Var):
            where = "a constant"
        elif id(v) in position:
            where = f"from the argument {names[position[id(v)]]}"
        else:
            where = f"output of {producer.get(id(v), 'a constant')}"
        out.append((v.aval, where))
    return out


def print_saved_residuals(f: Callable[..., Any], *args: Any) -> None:
    """Print ``saved_residuals(f, *args)``, one per line, as JAX's function does.

    >>> import numpy as np, jitgrad.numpy as jnp
    >>> print_saved_residuals(lambda w, x: jnp.tanh(x @ w), np.ones((3, 2)), np.ones((4, 3)))
    f64[3,2] from the argument w
    f64[4,3] from the argument x
    f64[4,2] output of sub
    """
    for aval, where in saved_residuals(f, *args):
        print(f"{aval} {where}")


def _argument_names(f: Callable[..., Any], args: tuple) -> list[str]:
    """A name for each leaf of ``args``: the parameter's name and the leaf's path in it."""
    try:
        params = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"{i}"
        for path, _ in tree_flatten_with_path(a)[0]:
            names.append(base + keystr(path))
    return names
