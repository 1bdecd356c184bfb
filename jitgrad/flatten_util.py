"""A pytree of arrays as one flat vector and back (JAX's ``ravel_pytree``, autograd's
``flatten``): for optimizers and solvers that work on vectors, inside transformations too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad.core import Tracer
from jitgrad.errors import ShapeError
from jitgrad.tree_util import tree_flatten, tree_unflatten

__all__ = ["flatten", "flatten_func", "ravel_pytree"]


def _dtype(x: Any) -> np.dtype:
    return x.dtype if isinstance(x, Tracer) else np.result_type(x)


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(flat, unravel)``: every leaf of ``pytree`` raveled and concatenated (dict entries in
    sorted key order) into one 1-D array of the leaves' promoted dtype, and the function
    that splits such a vector back into the pytree, each leaf with its shape and dtype.
    Traced leaves (and traced vectors given to ``unravel``) stay traced, so both directions
    are differentiable.

    >>> flat, unravel = ravel_pytree({"w": np.ones((2, 2)), "b": np.array([5.0])})
    >>> flat
    array([5., 1., 1., 1., 1.])
    >>> unravel(flat * 2)
    {'b': array([10.]), 'w': array([[2., 2.],
           [2., 2.]])}
    """
    leaves, tree = tree_flatten(pytree)
    shapes = [jnp.shape(x) for x in leaves]
    dtypes = [_dtype(x) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    dtype = jnp.result_type(*leaves) if leaves else np.dtype(np.float64)
    flat = jnp.concatenate([jnp.ravel(jnp.astype(x, dtype)) for x in leaves]) if leaves \
        else np.zeros(0, dtype)
    total = sum(sizes)

    def unravel(vector: Any) -> Any:
        if jnp.shape(vector) != (total,):
            raise ShapeError(f"unravel: expected a vector of shape ({total},) for this pytree, "
                             f"got shape {jnp.shape(vector)}")
        out, start = [], 0
        for shape, dt, k in zip(shapes, dtypes, sizes, strict=True):
            out.append(jnp.astype(jnp.reshape(vector[start:start + k], shape), dt))
            start += k
        return tree_unflatten(tree, out)

    return flat, unravel


def flatten(value: Any) -> tuple[Any, Callable[[Any], Any]]:
    """autograd's ``flatten`` (``autograd.misc.flatten``): ``ravel_pytree``.

    >>> flatten((1.0, [np.array([2.0, 3.0])]))[0]
    array([1., 2., 3.])
    """
    return ravel_pytree(value)


def flatten_func(func: Callable[..., Any], example: Any
                 ) -> tuple[Callable[..., Any], Callable[[Any], Any], Any]:
    """autograd's ``flatten_func``: ``func`` of a pytree (shaped as ``example``) as a function
    of one flat vector whose result is flattened too; returns it, the ``unflatten`` for
    ``example``'s structure, and ``example`` flattened. Further arguments pass through.

    >>> f, unflatten, x0 = flatten_func(lambda p, s: {"y": p["a"] * s}, {"a": np.ones(2)})
    >>> f(x0 + 1.0, 3.0), unflatten(x0)["a"]
    (array([6., 6.]), array([1., 1.]))
    """
    flat_example, unflatten = ravel_pytree(example)

    def flat_func(flat: Any, *args: Any, **kwargs: Any) -> Any:
        return ravel_pytree(func(unflatten(flat), *args, **kwargs))[0]
    return flat_func, unflatten, flat_example
