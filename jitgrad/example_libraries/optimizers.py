"""Functional optimizers with JAX's ``example_libraries.optimizers`` interface: each
``opt_init, opt_update, get_params = adam(step_size)`` works on any pytree of parameters, and
its state is a pytree, so ``jit(opt_update)`` compiles one step.

    opt_init, opt_update, get_params = adam(1e-3)
    state = opt_init(params)
    for i in range(steps):
        state = opt_update(i, grad(loss)(get_params(state)), state)

Step sizes are numbers or schedules (functions of the step number, which may be traced)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.errors import JitgradTypeError
from jitgrad.tree_util import (
    PyTreeDef,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_unflatten,
)

__all__ = ["Optimizer", "OptimizerState", "adagrad", "adam", "adamax", "clip_grads", "constant",
           "exponential_decay", "inverse_time_decay", "l2_norm", "make_schedule", "momentum",
           "nesterov", "optimizer", "piecewise_constant", "polynomial_decay", "rmsprop",
           "rmsprop_momentum", "sgd"]

Schedule = Callable[[Any], Any]


class OptimizerState(NamedTuple):
    """An optimizer's state: one tuple of arrays per parameter leaf (``states``), and the
    parameters' structure (``tree``). A pytree whose leaves are those arrays."""

    states: list[tuple]
    tree: PyTreeDef


register_pytree_node(OptimizerState, lambda s: ((s.states,), s.tree),
                     lambda tree, children: OptimizerState(children[0], tree))


class Optimizer(NamedTuple):
    """``(init_fun, update_fun, params_fn)``: ``init_fun(params) -> state``,
    ``update_fun(step, grads, state) -> state``, ``params_fn(state) -> params``."""

    init_fun: Callable[[Any], OptimizerState]
    update_fun: Callable[[Any, Any, OptimizerState], OptimizerState]
    params_fn: Callable[[OptimizerState], Any]


def optimizer(opt_maker: Callable[..., tuple[Callable, Callable, Callable]]
              ) -> Callable[..., Optimizer]:
    """Turn ``opt_maker(*args) -> (init, update, get_params)``, whose functions handle one
    array (``init(x) -> state tuple``, ``update(step, g, state) -> state tuple``,
    ``get_params(state) -> x``), into a maker of an ``Optimizer`` over pytrees.

    >>> @optimizer
    ... def halve():
    ...     return (lambda x: (x,), lambda i, g, s: (s[0] / 2,), lambda s: s[0])
    >>> init, update, get_params = halve()
    >>> get_params(update(0, {"a": 0.0}, init({"a": np.array([4.0])})))
    {'a': array([2.])}
    """

    @functools.wraps(opt_maker)
    def make(*args: Any, **kwargs: Any) -> Optimizer:
        init, update, get_params = opt_maker(*args, **kwargs)

        def tree_init(params: Any) -> OptimizerState:
            leaves, tree = tree_flatten(params)
            return OptimizerState([tuple(init(_array(x))) for x in leaves], tree)

        def tree_update(step: Any, grads: Any, state: OptimizerState) -> OptimizerState:
            leaves, tree = tree_flatten(grads)
            if tree != state.tree:
                raise JitgradTypeError(f"{opt_maker.__name__} update: the gradients' structure "
                                       f"{tree} differs from the parameters' {state.tree}")
            return OptimizerState([tuple(update(step, g, s))
                                   for g, s in zip(leaves, state.states, strict=True)],
                                  state.tree)

        def tree_params(state: OptimizerState) -> Any:
            return tree_unflatten(state.tree, [get_params(s) for s in state.states])

        return Optimizer(tree_init, tree_update, tree_params)

    return make


def _array(x: Any) -> Any:
    """A parameter leaf as an array (Python numbers become 0-d float64 arrays)."""
    return jnp.asarray(x)


def _rate(step_size: Schedule, i: Any, x: Any) -> Any:
    """The schedule's step size at step ``i``, in ``x``'s dtype (so float32 parameters stay
    float32 whatever the schedule computes in)."""
    return jnp.astype(step_size(i), jnp.result_type(x))


def _bias_power(b: float, i: Any, x: Any) -> Any:
    """``b ** (i + 1)`` in ``x``'s dtype (Adam's bias correction at step ``i``)."""
    return jnp.power(jnp.astype(b, jnp.result_type(x)), jnp.astype(i + 1, jnp.result_type(x)))


# ---------------------------------------------------------------------------------------------
# Optimizers


@optimizer
def sgd(step_size: float | Schedule) -> tuple[Callable, Callable, Callable]:
    """Gradient descent: ``x - step_size * g``.

    >>> init, update, get_params = sgd(0.1)
    >>> get_params(update(0, np.array([1.0, -2.0]), init(np.zeros(2))))
    array([-0.1,  0.2])
    """
    rate = make_schedule(step_size)
    return ((lambda x: (x,)), (lambda i, g, s: (s[0] - _rate(rate, i, s[0]) * g,)),
            (lambda s: s[0]))


@optimizer
def momentum(step_size: float | Schedule, mass: float) -> tuple[Callable, Callable, Callable]:
    """Gradient descent with momentum: ``v = mass * v + g; x -= step_size * v``.

    >>> init, update, get_params = momentum(0.1, mass=0.9)
    >>> s = init(np.zeros(1))
    >>> s = update(0, np.ones(1), s); s = update(1, np.ones(1), s)
    >>> get_params(s)
    array([-0.29])
    """
    rate = make_schedule(step_size)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, v = s
        v = mass * v + g
        return x - _rate(rate, i, x) * v, v

    return (lambda x: (x, jnp.zeros_like(x))), update, (lambda s: s[0])


@optimizer
def nesterov(step_size: float | Schedule, mass: float) -> tuple[Callable, Callable, Callable]:
    """Nesterov's accelerated gradient: ``v = mass * v + g; x -= step_size * (mass * v +
    g)``.

    >>> init, update, get_params = nesterov(0.1, mass=0.9)
    >>> get_params(update(0, np.ones(1), init(np.zeros(1))))
    array([-0.19])
    """
    rate = make_schedule(step_size)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, v = s
        v = mass * v + g
        return x - _rate(rate, i, x) * (mass * v + g), v

    return (lambda x: (x, jnp.zeros_like(x))), update, (lambda s: s[0])


@optimizer
def adagrad(step_size: float | Schedule, momentum: float = 0.9
            ) -> tuple[Callable, Callable, Callable]:
    """Adagrad (Duchi et al., 2011) with momentum: the step is scaled by the inverse root
    of the summed squared gradients (0 where they are all 0).

    >>> init, update, get_params = adagrad(0.1)
    >>> get_params(update(0, np.array([2.0, 0.0]), init(np.zeros(2))))
    array([-0.01,  0.  ])
    """
    rate = make_schedule(step_size)

    def init(x: Any) -> tuple:
        return x, jnp.zeros_like(x), jnp.zeros_like(x)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, g_sq, m = s
        g_sq = g_sq + jnp.square(g)
        zero = g_sq == 0
        scale = jnp.where(zero, 0, 1 / jnp.sqrt(jnp.where(zero, 1, g_sq)))
        m = (1 - momentum) * (g * scale) + momentum * m
        return x - _rate(rate, i, x) * m, g_sq, m

    return init, update, (lambda s: s[0])


@optimizer
def rmsprop(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8
            ) -> tuple[Callable, Callable, Callable]:
    """RMSProp (Tieleman and Hinton, 2012): the step is scaled by the inverse root of a
    running average of squared gradients.

    >>> init, update, get_params = rmsprop(0.1)
    >>> get_params(update(0, np.array([1.0]), init(np.zeros(1))))
    array([-0.31622775])
    """
    rate = make_schedule(step_size)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, avg_sq = s
        avg_sq = avg_sq * gamma + jnp.square(g) * (1 - gamma)
        return x - _rate(rate, i, x) * g / jnp.sqrt(avg_sq + eps), avg_sq

    return (lambda x: (x, jnp.zeros_like(x))), update, (lambda s: s[0])


@optimizer
def rmsprop_momentum(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8,
                     momentum: float = 0.9) -> tuple[Callable, Callable, Callable]:
    """RMSProp with momentum on the scaled step.

    >>> init, update, get_params = rmsprop_momentum(0.1)
    >>> get_params(update(0, np.array([1.0]), init(np.zeros(1))))
    array([-0.31622775])
    """
    rate = make_schedule(step_size)

    def init(x: Any) -> tuple:
        return x, jnp.zeros_like(x), jnp.zeros_like(x)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, avg_sq, mom = s
        avg_sq = avg_sq * gamma + jnp.square(g) * (1 - gamma)
        mom = momentum * mom + _rate(rate, i, x) * g / jnp.sqrt(avg_sq + eps)
        return x - mom, avg_sq, mom

    return init, update, (lambda s: s[0])


@optimizer
def adam(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
         ) -> tuple[Callable, Callable, Callable]:
    """Adam (Kingma and Ba, 2015): bias-corrected running averages of the gradient and its
    square; the step is ``step_size * m_hat / (sqrt(v_hat) + eps)``.

    >>> init, update, get_params = adam(0.1)
    >>> get_params(update(0, np.array([3.0, -1.0]), init(np.zeros(2))))
    array([-0.1,  0.1])
    """
    rate = make_schedule(step_size)

    def init(x: Any) -> tuple:
        return x, jnp.zeros_like(x), jnp.zeros_like(x)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, m, v = s
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * jnp.square(g) + b2 * v
        m_hat = m / (1 - _bias_power(b1, i, x))
        v_hat = v / (1 - _bias_power(b2, i, x))
        return x - _rate(rate, i, x) * m_hat / (jnp.sqrt(v_hat) + eps), m, v

    return init, update, (lambda s: s[0])


@optimizer
def adamax(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
           ) -> tuple[Callable, Callable, Callable]:
    """AdaMax (Kingma and Ba, 2015): Adam with the infinity norm of past gradients.

    >>> init, update, get_params = adamax(0.1)
    >>> get_params(update(0, np.array([3.0, -1.0]), init(np.zeros(2))))
    array([-0.1,  0.1])
    """
    rate = make_schedule(step_size)

    def init(x: Any) -> tuple:
        return x, jnp.zeros_like(x), jnp.zeros_like(x)

    def update(i: Any, g: Any, s: tuple) -> tuple:
        x, m, u = s
        m = (1 - b1) * g + b1 * m
        u = jnp.maximum(b2 * u, jnp.abs(g))
        return x - (_rate(rate, i, x) / (1 - _bias_power(b1, i, x))) * m / (u + eps), m, u

    return init, update, (lambda s: s[0])


# ---------------------------------------------------------------------------------------------
# Step-size schedules: functions of the step number (a Python int, or traced under jit)


def constant(step_size: float) -> Schedule:
    """The same step size at every step.

    >>> constant(0.1)(7)
    0.1
    """
    return lambda i: step_size


def exponential_decay(step_size: float, decay_steps: float, decay_rate: float) -> Schedule:
    """``step_size * decay_rate ** (i / decay_steps)``.

    >>> float(exponential_decay(1.0, 10, 0.5)(20))
    0.25
    """
    return lambda i: step_size * jnp.power(decay_rate, jnp.divide(i, decay_steps))


def inverse_time_decay(step_size: float, decay_steps: float, decay_rate: float,
                       staircase: bool = False) -> Schedule:
    """``step_size / (1 + decay_rate * i / decay_steps)`` (the quotient floored with
    ``staircase``).

    >>> float(inverse_time_decay(1.0, 10, 1.0, staircase=True)(15))
    0.5
    """
    def schedule(i: Any) -> Any:
        t = jnp.divide(i, decay_steps)
        return step_size / (1 + decay_rate * (jnp.floor(t) if staircase else t))
    return schedule


def polynomial_decay(step_size: float, decay_steps: int, final_step_size: float,
                     power: float = 1.0) -> Schedule:
    """From ``step_size`` to ``final_step_size`` in ``decay_steps`` steps along
    ``(1 - i / decay_steps) ** power``, then constant.

    >>> float(polynomial_decay(1.0, 10, 0.0)(5)), float(polynomial_decay(1.0, 10, 0.0)(50))
    (0.5, 0.0)
    """
    def schedule(i: Any) -> Any:
        frac = 1 - jnp.divide(jnp.minimum(i, decay_steps), decay_steps)
        return (step_size - final_step_size) * jnp.power(frac, power) + final_step_size
    return schedule


def piecewise_constant(boundaries: Sequence[int], values: Sequence[float]) -> Schedule:
    """``values[k]`` for steps ``i`` with ``boundaries[k-1] < i <= boundaries[k]`` (one more
    value than boundaries).

    >>> float(piecewise_constant([10, 20], [1.0, 0.5, 0.1])(15))
    0.5
    """
    boundaries, values = np.asarray(boundaries), np.asarray(values)
    if values.ndim != 1 or boundaries.ndim != 1 or len(values) != len(boundaries) + 1:
        raise JitgradTypeError(f"piecewise_constant: needs one more value than boundaries, got "
                               f"{len(boundaries)} boundaries and {len(values)} values")

    def schedule(i: Any) -> Any:
        k = jnp.sum(jnp.greater(i, boundaries))
        return jnp.getitem(values, k) if len(boundaries) else jnp.asarray(values[0])
    return schedule


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    """A schedule: a callable as it is, a number as a ``constant`` schedule.

    >>> make_schedule(0.1)(3)
    0.1
    """
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if np.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise JitgradTypeError(f"a step size must be a number or a schedule (a function of the "
                           f"step), got {type(scalar_or_schedule).__name__}")


# ---------------------------------------------------------------------------------------------
# Gradient utilities


def l2_norm(tree: Any) -> Any:
    """The Euclidean norm of all the leaves of a pytree together.

    >>> float(l2_norm({"a": np.array([3.0]), "b": 4.0}))
    5.0
    """
    leaves = tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves)) if leaves else np.asarray(0.0)


def clip_grads(grad_tree: Any, max_norm: float) -> Any:
    """The gradients scaled down so that their ``l2_norm`` is at most ``max_norm``.

    >>> clip_grads([np.array([3.0, 4.0])], 1.0)
    [array([0.6, 0.8])]
    """
    norm = l2_norm(grad_tree)
    scale = jnp.where(norm < max_norm, 1, jnp.divide(max_norm, norm))
    return tree_map(lambda g: g * jnp.astype(scale, jnp.result_type(g)), grad_tree)
