"""autograd's loop-style optimizers (``autograd.misc.optimizers``): ``adam(grad, x0,
callback=None, num_iters=100, step_size=0.001)`` runs the whole optimization and returns the
final parameters, which may be any pytree; ``grad(x, i)`` gives the gradient at step ``i``
and ``callback(x, i, g)`` is called before each step. (JAX-style ``init/update/get_params``
optimizers are in ``jitgrad.example_libraries.optimizers``.)"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from jitgrad.flatten_util import ravel_pytree

__all__ = ["adam", "rmsprop", "sgd"]

Grad = Callable[[Any, int], Any]
Callback = Callable[[Any, int, Any], Any] | None


def _on_vectors(optimize: Callable[..., Any]) -> Callable[..., Any]:
    """``optimize``, written for 1-D parameter vectors, on any pytree of parameters: the
    parameters, gradients and callback arguments are flattened and unflattened around it."""

    @functools.wraps(optimize)
    def run(grad: Grad, x0: Any, callback: Callback = None, *args: Any, **kwargs: Any) -> Any:
        x, unravel = ravel_pytree(x0)

        def flat_grad(v: Any, i: int) -> Any:
            return ravel_pytree(grad(unravel(v), i))[0]

        def flat_callback(v: Any, i: int, g: Any) -> Any:
            return callback(unravel(v), i, unravel(g))

        return unravel(optimize(flat_grad, x, flat_callback if callback else None, *args,
                                **kwargs))

    return run


@_on_vectors
def sgd(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 200,
        step_size: float = 0.1, mass: float = 0.9) -> Any:
    """Stochastic gradient descent with momentum: ``v = mass * v - (1 - mass) * g;
    x += step_size * v``.

    >>> sgd(lambda x, i: 2 * x, np.array([1.0]), num_iters=2, step_size=1.0, mass=0.5)
    array([-0.5])
    """
    velocity = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


@_on_vectors
def rmsprop(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 100,
            step_size: float = 0.1, gamma: float = 0.9, eps: float = 1e-8) -> Any:
    """RMSProp: the step divided by the root of a running average of squared gradients
    (started at 1).

    >>> rmsprop(lambda x, i: {"w": 2 * x["w"]}, {"w": np.array([1.0])}, num_iters=1)
    {'w': array([0.8245884])}
    """
    avg_sq = np.ones(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        avg_sq = avg_sq * gamma + g ** 2 * (1 - gamma)
        x = x - step_size * g / (np.sqrt(avg_sq) + eps)
    return x


@_on_vectors
def adam(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 100,
         step_size: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
         ) -> Any:
    """Adam (Kingma and Ba, 2015), with bias-corrected moment estimates.

    >>> adam(lambda x, i: 2 * x, np.array([1.0]), num_iters=1, step_size=0.1)
    array([0.9])
    """
    m = np.zeros(len(x))
    v = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * g ** 2 + b2 * v
        m_hat = m / (1 - b1 ** (i + 1))
        v_hat = v / (1 - b2 ** (i + 1))
        x = x - step_size * m_hat / (np.sqrt(v_hat) + eps)
    return x
