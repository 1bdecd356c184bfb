"""autograd's ``fixed_point``: a fixed-point iteration differentiated by the implicit function
theorem (its reverse rule is a second fixed-point iteration), not through its iterations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jitgrad.numpy as jnp
from jitgrad.api import vjp
from jitgrad.custom_derivatives import custom_vjp
from jitgrad.lax import while_loop
from jitgrad.tree_util import tree_map

__all__ = ["fixed_point"]


def _iterate(step: Callable[[Any], Any], x0: Any, distance: Callable[[Any, Any], Any],
             tol: Any) -> Any:
    """``x = step(x0)``, then ``x = step(x)`` while ``distance(x, previous x) > tol``."""
    def more(carry: tuple[Any, Any]) -> Any:
        return distance(*carry) > tol

    return while_loop(more, lambda carry: (step(carry[0]), carry[0]), (step(x0), x0))[0]


def fixed_point(f: Callable[[Any], Callable[[Any], Any]], a: Any, x0: Any,
                distance: Callable[[Any, Any], Any], tol: Any) -> Any:
    """The fixed point ``x* = f(a)(x*)`` reached by iterating ``f(a)`` from ``x0`` until
    ``distance(x, previous x) <= tol`` (autograd's ``autograd.misc.fixed_points``). The
    iteration runs as a ``while_loop`` (also under ``jit`` and ``vmap``); ``a`` and ``x0`` may
    be pytrees. Reverse mode uses the implicit function theorem: the cotangent ``w`` of
    ``x*`` is the fixed point of ``w = g + (df/dx)^T w`` (iterated with the same ``distance``
    and ``tol``), and ``a``'s is ``(df/da)^T w``, so the cost does not grow with the number
    of forward iterations, and it differentiates again. ``x0`` gets no derivative; forward
    mode differentiates the iterations.

    >>> import jitgrad as jg
    >>> newton = lambda a: lambda x: 0.5 * (x + a / x)
    >>> root = lambda a: fixed_point(newton, a, 1.0, lambda x, y: abs(x - y), 1e-10)
    >>> float(root(2.0)), float(jg.grad(root)(2.0))  # sqrt(2), 1 / (2 sqrt(2))
    (1.414213562373095, 0.35355339059327373)
    """
    @custom_vjp
    def solve(a: Any, x0: Any) -> Any:
        return _iterate(f(a), x0, distance, tol)

    def solve_fwd(a: Any, x0: Any) -> tuple[Any, tuple[Any, Any]]:
        # ``solve`` again, not the loop: an enclosing reverse-mode transformation then
        # differentiates this solution implicitly too (the loop has no reverse mode).
        x_star = solve(a, x0)
        return x_star, (a, x_star)

    def solve_bwd(res: tuple[Any, Any], g: Any) -> tuple[Any, None]:
        a, x_star = res

        def reverse_step(params: tuple[Any, Any, Any]) -> Callable[[Any], Any]:
            a, x_star, g = params
            vjp_x = vjp(f(a), x_star)[1]
            return lambda w: tree_map(jnp.add, vjp_x(w)[0], g)

        w = fixed_point(reverse_step, (a, x_star, g), tree_map(jnp.zeros_like, x_star),
                        distance, tol)
        return vjp(lambda a: f(a)(x_star), a)[1](w)[0], None

    solve.defvjp(solve_fwd, solve_bwd)
    return solve(a, x0)
