"""Plumbing shared by every transformation: functions flattened over pytrees (with a store for
their output structure), argnums, input checks, and the wrapper class transformed functions
are made of."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.core import Tracer, aval_of, is_float
from jitgrad.errors import JitgradTypeError
from jitgrad.tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["Store", "argnums_partial", "as_output", "check_float_inputs", "distinct_argnums",
           "flatten_args", "flatten_fun", "flatten_fun_nokwargs", "lazy_submodules",
           "normalize_argnums", "reduce_wrapper", "Transformed"]


def lazy_submodules(package: str, names: Sequence[str]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__`` that import the submodules
    ``names`` on first access, so that ``package.name`` works without ``import package.name``
    (as JAX's ``jax.random``) while importing the package stays cheap.

    >>> getattr_, _ = lazy_submodules("jitgrad", ["random"])
    >>> getattr_("random").__name__
    'jitgrad.random'
    """
    def __getattr__(name: str) -> Any:
        if name in names:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__


class Store:
    """Where a flattened function leaves the structure of its output when it is called (the
    structure is only known once the function has run)."""

    __slots__ = ("val",)

    def __init__(self) -> None:
        self.val: PyTreeDef | None = None


def flatten_fun(f: Callable[..., Any], in_tree: PyTreeDef) -> tuple[Callable[..., list], Store]:
    """``flat_f(*leaves)``: ``f(*args, **kwargs)`` where ``(args, kwargs)`` is
    ``tree_unflatten(in_tree, leaves)``, returning its output's leaves; the output structure
    lands in the returned ``Store``."""
    store = Store()

    def flat_f(*leaves: Any) -> list[Any]:
        args, kwargs = tree_unflatten(in_tree, leaves)
        out, store.val = tree_flatten(f(*args, **kwargs))
        return out

    return flat_f, store


def flatten_fun_nokwargs(f: Callable[..., Any], in_tree: PyTreeDef
                         ) -> tuple[Callable[..., list], Store]:
    """``flatten_fun`` for a tree of positional arguments only."""
    store = Store()

    def flat_f(*leaves: Any) -> list[Any]:
        out, store.val = tree_flatten(f(*tree_unflatten(in_tree, leaves)))
        return out

    return flat_f, store


def normalize_argnums(argnums: Any, nargs: int, name: str, what: str = "argnums"
                      ) -> tuple[int, ...]:
    """``argnums`` (an int or a sequence of ints) as non-negative positions of ``nargs``
    positional arguments (negative ones count from the end, as in JAX), or a clear error:
    out-of-range positions never wrap around."""
    if type(argnums) is int and -nargs <= argnums < nargs:
        return (argnums % nargs,)
    nums = (argnums,) if isinstance(argnums, int | np.integer) else argnums
    if not isinstance(nums, Sequence) or isinstance(nums, str) or not all(
            isinstance(i, int | np.integer) and not isinstance(i, bool) for i in nums):
        raise JitgradTypeError(f"{name}: {what} must be an int or a tuple of ints, got "
                               f"{argnums!r}")
    for i in nums:
        if not -nargs <= i < nargs:
            raise JitgradTypeError(f"{name}: {what} {i} is out of range for a call with "
                                   f"{nargs} positional argument(s)")
    return tuple(int(i) % nargs for i in nums)


def distinct_argnums(nums: tuple[int, ...]) -> tuple[tuple[int, ...], list[int]]:
    """The distinct positions of ``nums``, and where each of ``nums`` is among them: a
    repeated argnum gets the same derivative each time, never a silent zero (NB: JAX 0.10
    fails with a TypeError)."""
    distinct = tuple(dict.fromkeys(nums))
    return distinct, [distinct.index(i) for i in nums]


def reduce_wrapper(obj: Any, rebuild: Callable[..., Any], *args: Any) -> str | tuple:
    """``obj.__reduce__()`` for an object wrapping a user function (``jit``, ``grad``,
    ``custom_vjp``...): its global name when it is what that name holds in an importable
    module (a decorated module-level function: its function's own name leads back to the
    wrapper, so pickle could not save the function by name), else ``rebuild(*args)``. Objects
    of ``__main__`` are rebuilt: cloudpickle (Dask) then ships their functions by value."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if module not in (None, "__main__") and name is not None and "<locals>" not in name:
        found: Any = sys.modules.get(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is obj:
            return name
    return rebuild, args


def argnums_partial(f: Callable[..., Any], args: tuple, nums: tuple[int, ...]
                    ) -> tuple[Callable[..., Any], tuple]:
    """``f`` as a function of the arguments at positions ``nums`` only (the others fixed to
    their values in ``args``), and those arguments."""

    def partial(*dyn: Any, **kwargs: Any) -> Any:
        full = list(args)
        for i, a in zip(nums, dyn, strict=True):
            full[i] = a
        return f(*full, **kwargs)

    return partial, tuple(args[i] for i in nums)


def _leaf(x: Any, what: str) -> Any:
    if type(x) is np.ndarray or isinstance(x, (Tracer, np.ndarray, np.generic, float, int)):
        return x
    try:
        aval_of(x)
    except JitgradTypeError:  # already says what is wrong (a complex scalar, say)
        raise
    except Exception as e:  # noqa: BLE001 - reported as jitgrad's own error below
        raise JitgradTypeError(f"{what}: {type(x).__name__} is not an array or pytree") from e
    return np.asarray(x)


def flatten_args(tree: Any, what: str) -> tuple[list[Any], PyTreeDef]:
    """The leaves of ``tree`` (each an array, tracer or Python scalar) and its structure."""
    leaves, treedef = tree_flatten(tree)
    return [_leaf(x, what) for x in leaves], treedef


def check_float_inputs(leaves: Sequence[Any], name: str) -> None:
    for x in leaves:
        if type(x) is np.ndarray and x.dtype.kind == "f":
            continue
        aval = aval_of(x)
        if not is_float(aval.dtype):
            raise JitgradTypeError(
                f"{name} requires floating-point inputs to differentiate, but got an input of "
                f"dtype {aval.dtype.name} (shape {aval.shape}). Pass a float array (e.g. "
                f"x.astype(float)), or leave the argument out of argnums.")


def as_output(x: Any) -> Any:
    """Concrete results are plain numpy arrays (0-d arrays, not numpy scalars)."""
    return x if isinstance(x, Tracer) else np.asarray(x)


class Transformed:
    """A transformed function (``grad(f)``, ``vmap(f)``, ...): the function, the
    transformation's parameters, and the implementation that runs a call. An object rather
    than a closure, so that it pickles (as its function and parameters) and prints as what it
    is."""

    def __init__(self, impl: Callable[..., Any], f: Callable[..., Any], **params: Any):
        functools.update_wrapper(self, f, updated=())
        self._impl, self.fun, self.params = impl, f, params

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._impl(self.fun, args, kwargs, **self.params)

    def __reduce__(self) -> str | tuple:
        return reduce_wrapper(self, _rebuild_transformed, self._impl, self.fun, self.params)

    def __repr__(self) -> str:
        name = getattr(self.fun, "__name__", repr(self.fun))
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{self._impl.__name__.strip('_')}({name}{args})"


def _rebuild_transformed(impl: Callable[..., Any], f: Callable[..., Any], params: dict
                         ) -> Transformed:
    return Transformed(impl, f, **params)
