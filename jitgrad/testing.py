"""Gradient checking: forward mode against central finite differences, reverse mode against
forward mode by the dot-product identity <u, J v> = <J^T u, v>, recursively to any order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.api import jvp, vjp
from jitgrad.core import aval_of, is_float
from jitgrad.tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["check_grads", "check_jvp", "check_vjp"]

_DEFAULT_EPS = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2}
_DEFAULT_TOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 3e-2}


def _dtype_of(tree: Any) -> np.dtype:
    leaves = [aval_of(x).dtype for x in tree_flatten(tree)[0]]
    return np.dtype(np.float32) if np.dtype(np.float32) in leaves else np.dtype(np.float64)


def _random_like(rng: np.random.Generator, tree: Any) -> Any:
    def draw(x: Any) -> Any:
        aval = aval_of(x)
        if not is_float(aval.dtype):
            return np.zeros(aval.shape, aval.dtype)
        return rng.standard_normal(aval.shape).astype(aval.dtype)
    return tree_map(draw, tree)


def _float_leaves(tree: Any) -> tuple[tuple, Callable[[Sequence[Any]], Any]]:
    """The float leaves of ``tree`` (to differentiate in) and a function rebuilding ``tree``
    from new ones, its other leaves (integer tangents and cotangents) held as they are."""
    leaves, treedef = tree_flatten(tree)
    where = [i for i, x in enumerate(leaves) if is_float(aval_of(x).dtype)]

    def rebuild(new: Sequence[Any]) -> Any:
        out = list(leaves)
        for i, x in zip(where, new, strict=True):
            out[i] = x
        return tree_unflatten(treedef, out)
    return tuple(leaves[i] for i in where), rebuild


def _inner(a: Any, b: Any) -> float:
    la, lb = tree_flatten(a)[0], tree_flatten(b)[0]
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(la, lb, strict=True) if is_float(aval_of(x).dtype)))


def _close(name: str, x: Any, y: Any, atol: float, rtol: float) -> None:
    for a, b in zip(tree_flatten(x)[0], tree_flatten(y)[0], strict=True):
        if not is_float(np.asarray(a).dtype):
            continue  # integer outputs have no tangent
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise AssertionError(f"{name}: shapes differ: {a.shape} vs {b.shape}")
        if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
            err = np.max(np.abs(a - b)) if a.size else 0.0
            raise AssertionError(f"{name}: mismatch (max abs error {err:.3g}, atol={atol}, "
                                 f"rtol={rtol})\n  got      {a}\n  expected {b}")


def _perturb(args: Sequence[Any], v: Sequence[Any], eps: float) -> tuple:
    return tuple(tree_map(lambda x, t: np.asarray(x + eps * t, aval_of(x).dtype)
                          if is_float(aval_of(x).dtype) else x, a, d)
                 for a, d in zip(args, v, strict=True))


def check_jvp(f: Callable[..., Any], args: Sequence[Any], eps: float | None = None,
              atol: float | None = None, rtol: float | None = None,
              rng: np.random.Generator | None = None) -> None:
    """Forward mode against central finite differences along a random direction."""
    rng = rng or np.random.default_rng(0)
    v = _random_like(rng, tuple(args))
    out, t_out = jvp(f, tuple(args), v)
    dtype = _dtype_of((args, out))
    eps = eps or _DEFAULT_EPS[dtype]
    tol = _DEFAULT_TOL[dtype]
    fd = tree_map(lambda hi, lo: (np.asarray(hi, np.float64) - np.asarray(lo, np.float64))
                  / (2 * eps), f(*_perturb(args, v, eps)), f(*_perturb(args, v, -eps)))
    _close("jvp vs finite differences", t_out, fd, atol or tol, rtol or tol)


def check_vjp(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
              rtol: float | None = None, rng: np.random.Generator | None = None) -> None:
    """Reverse mode against forward mode: <u, J v> == <J^T u, v>."""
    rng = rng or np.random.default_rng(1)
    v = _random_like(rng, tuple(args))
    out, t_out = jvp(f, tuple(args), v)
    dtype = _dtype_of((args, out))
    tol = 1e-10 if dtype == np.float64 else _DEFAULT_TOL[dtype] * 0.1
    _, f_vjp = vjp(f, *args)
    u = _random_like(rng, out)
    ct = f_vjp(u)
    lhs, rhs = _inner(u, t_out), _inner(ct, v)
    scale = max(1.0, _inner(u, u) ** 0.5 * _inner(t_out, t_out) ** 0.5)
    if abs(lhs - rhs) > (atol or tol) * scale + (rtol or tol) * abs(lhs):
        raise AssertionError(f"vjp vs jvp: <u, J v> = {lhs!r} but <J^T u, v> = {rhs!r} "
                             f"(reverse-mode rule disagrees with forward mode)")


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), eps: float | None = None,
                atol: float | None = None, rtol: float | None = None) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``: "fwd" compares jvp with finite
    differences, "rev" compares vjp with jvp (dot-product identity). Raises AssertionError.

    >>> import jitgrad.numpy as jnp
    >>> check_grads(lambda x: jnp.sum(jnp.tanh(x) * x), (np.array([0.3, -1.2]),), order=2)
    """
    args = tuple(args)
    n = len(args)
    rng = np.random.default_rng(0)
    # Higher orders differentiate the jvp (vjp) in its primals and its tangent (cotangent)
    # together, as autograd's check_grads does: with the cotangent held fixed, a vjp rule whose
    # dependence on the cotangent differentiates wrongly (a custom bwd calling a function with
    # a wrong rule) passed, yet grad(grad(.)) of a program whose cotangent depends on x used it.
    if "fwd" in modes:
        check_jvp(f, args, eps, atol, rtol, rng)
        if order > 1:
            v, v_tree = _float_leaves(_random_like(rng, args))
            check_grads(lambda *xs: jvp(f, xs[:n], v_tree(xs[n:]))[1], args + v, order - 1,
                        ("fwd",), eps, atol, rtol)
    if "rev" in modes:
        check_vjp(f, args, atol, rtol, rng)
        if order > 1:
            u, u_tree = _float_leaves(_random_like(rng, f(*args)))
            check_grads(lambda *xs: vjp(f, *xs[:n])[1](u_tree(xs[n:])), args + u, order - 1,
                        modes, eps, atol, rtol)
