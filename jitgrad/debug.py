"""``jax.debug.print``: printing values from inside functions that jitgrad transforms."""

from __future__ import annotations

import builtins
from typing import Any

from jitgrad.core import ShapedArray, Tracer
from jitgrad.errors import TracerError
from jitgrad.tree_util import tree_map

__all__ = ["print"]


class _Traced:
    """How an abstract (traced, valueless) array prints: ``Traced<f64[3]>``, whatever the
    format spec."""

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __format__(self, spec: str) -> str:
        return f"Traced<{self.aval}>"

    def __str__(self) -> str:
        return self.__format__("")

    __repr__ = __str__


def _printable(x: Any) -> Any:
    if not isinstance(x, Tracer):
        return x
    try:
        return x._concrete("jitgrad.debug.print")
    except TracerError:
        return _Traced(x.aval)


def print(fmt: str, *args: Any, ordered: bool = False, **kwargs: Any) -> None:  # noqa: A001
    """Print ``fmt.format(*args, **kwargs)`` (arguments may be pytrees), as
    ``jax.debug.print``. Eagerly, and under eager ``grad``/``vjp``/``jvp`` (whose values are
    concrete), it prints the values each time it runs, as JAX does.

    NB: under ``jit``, ``make_ir``, ``vmap`` and in ``lax`` control-flow bodies, jitgrad traces
    abstract values and compiles no print: the line is printed once, when the function is
    traced, with each traced array shown as ``Traced<dtype[shape]>`` (JAX prints the runtime
    values at every call). To see the values there, run under ``jitgrad.disable_jit()``.
    ``ordered`` is accepted and has no effect (jitgrad runs in program order).

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> print("x = {}, y = {y:.2f}", np.array([1.0, 2.0]), y=np.float64(3.0))
    x = [1. 2.], y = 3.00
    >>> jg.grad(lambda x: (print("x is {}", x), x ** 2)[1])(3.0)
    x is 3.0
    array(6.)
    >>> jg.eval_shape(lambda x: (print("x is {}", x), x + 1)[1], np.ones(3, np.float32))
    x is Traced<f32[3]>
    f32[3]
    """
    del ordered
    args, kwargs = tree_map(_printable, (args, kwargs))
    builtins.print(fmt.format(*args, **kwargs))
