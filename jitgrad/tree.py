"""``jax.tree``: the pytree functions of ``jitgrad.tree_util`` under JAX's short names."""

from __future__ import annotations

from jitgrad import tree_util

__all__ = ["all", "broadcast", "flatten", "flatten_with_path", "leaves", "leaves_with_path",
           "map", "map_with_path", "reduce", "structure", "transpose", "unflatten"]

# The short names are bound to tree_util's functions (one implementation each).
flatten = tree_util.tree_flatten
unflatten = tree_util.tree_unflatten
leaves = tree_util.tree_leaves
structure = tree_util.tree_structure
map = tree_util.tree_map  # noqa: A001
reduce = tree_util.tree_reduce
all = tree_util.tree_all  # noqa: A001
transpose = tree_util.tree_transpose
flatten_with_path = tree_util.tree_flatten_with_path
leaves_with_path = tree_util.tree_leaves_with_path
map_with_path = tree_util.tree_map_with_path
broadcast = tree_util.tree_broadcast
