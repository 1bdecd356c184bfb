"""Pytrees: nested containers of leaves, flattened to lists and rebuilt (JAX's tree_util API)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "register_pytree_node_class",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]


class _NodeType(NamedTuple):
    to_iterable: Callable[[Any], tuple[list[Any], Hashable]]
    from_iterable: Callable[[Hashable, list[Any]], Any]


_registry: dict[type, _NodeType] = {}


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Any, Hashable]],
    unflatten_func: Callable[[Hashable, Any], Any],
) -> None:
    """Register a container type: ``flatten_func(x) -> (children, aux)``,
    ``unflatten_func(aux, children) -> x``; ``aux`` must be hashable.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    >>> tree_leaves(Pair(1, (2, 3)))
    [1, 2, 3]
    """
    def to_iterable(x: Any) -> tuple[list[Any], Hashable]:
        children, aux = flatten_func(x)
        return list(children), aux

    _registry[nodetype] = _NodeType(to_iterable, unflatten_func)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: the class provides ``tree_flatten()`` and ``tree_unflatten(aux, children)``.

    >>> @register_pytree_node_class
    ... class Box:
    ...     def __init__(self, v): self.v = v
    ...     def tree_flatten(self): return (self.v,), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> tree_map(lambda x: x * 2, Box(21)).v
    42
    """
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda t: (t, None), lambda _, c: list(c))
register_pytree_node(type(None), lambda _: ((), None), lambda _, c: None)
# Dict keys are sorted, as in JAX, so that {"a":..,"b":..} flattens the same in any insertion order.
def _flatten_dict(d: dict) -> tuple[tuple, tuple]:
    keys = tuple(sorted(d))
    return tuple(d[k] for k in keys), keys


register_pytree_node(dict, _flatten_dict, lambda keys, c: dict(zip(keys, c, strict=True)))


class PyTreeDef:
    """The structure of a pytree with its leaves removed; hashable, so usable as a cache key."""

    __slots__ = ("node_type", "aux", "children", "num_leaves", "_hash")

    def __init__(self, node_type: type | None, aux: Hashable, children: tuple[PyTreeDef, ...]):
        self.node_type = node_type  # None marks a leaf
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)
        self._hash = hash((node_type, aux, children))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PyTreeDef)
            and self.node_type is other.node_type
            and self.aux == other.aux
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.node_type is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        return f"PyTreeDef({self.node_type.__name__}[{inner}])"


_LEAF = PyTreeDef(None, None, ())


_FLAT_TUPLES: dict[int, PyTreeDef] = {}


def _flat_tuple(n: int) -> PyTreeDef:
    """The structure of a tuple of ``n`` leaves (one shared object per ``n``)."""
    treedef = _FLAT_TUPLES.get(n)
    if treedef is None:
        treedef = _FLAT_TUPLES[n] = PyTreeDef(tuple, None, (_LEAF,) * n)
    return treedef


def _node_of(x: Any) -> _NodeType | None:
    node = _registry.get(type(x))
    if node is None and isinstance(x, tuple) and hasattr(x, "_fields"):
        # namedtuples are pytrees, rebuilt with their own class
        cls = type(x)
        node = _NodeType(lambda t: (list(t), None), lambda _, c, cls=cls: cls(*c))
        _registry[cls] = node
    return node


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """Flatten a pytree into its leaves and its structure.

    >>> leaves, treedef = tree_flatten({"b": (1, 2), "a": [3, None]})
    >>> leaves
    [3, 1, 2]
    >>> tree_unflatten(treedef, [30, 10, 20])
    {'a': [30, None], 'b': (10, 20)}
    """
    if is_leaf is None:
        # Fast paths: one leaf (a function's result), a tuple of leaves (its arguments).
        if _node_of(tree) is None:
            return [tree], _LEAF
        if type(tree) is tuple and all(_node_of(x) is None for x in tree):
            return list(tree), _flat_tuple(len(tree))
    leaves: list = []
    return leaves, _flatten(tree, is_leaf, leaves)


# (Module-level recursions: a nested recursive function is a reference cycle, which would keep
# the leaves alive until the garbage collector runs.)
def _flatten(x: Any, is_leaf: Callable[[Any], bool] | None, leaves: list) -> PyTreeDef:
    node = None if (is_leaf is not None and is_leaf(x)) else _node_of(x)
    if node is None:
        leaves.append(x)
        return _LEAF
    children, aux = node.to_iterable(x)
    return PyTreeDef(type(x), aux, tuple([_flatten(c, is_leaf, leaves) for c in children]))


def tree_unflatten(treedef: PyTreeDef, leaves: Any) -> Any:
    """Rebuild a pytree of structure ``treedef`` from an iterable of leaves.

    >>> tree_unflatten(tree_structure((1, [2])), ["a", "b"])
    ('a', ['b'])
    """
    if _FLAT_TUPLES.get(len(treedef.children)) is treedef:
        out = tuple(leaves)
        if len(out) != len(treedef.children):
            raise ValueError(f"{len(out)} leaves for tree structure {treedef}")
        return out
    it = iter(leaves)
    out = _unflatten(treedef, it)
    if next(it, _LEAF) is not _LEAF:
        raise ValueError(f"too many leaves for tree structure {treedef}")
    return out


def _unflatten(td: PyTreeDef, it: Iterator[Any]) -> Any:
    if td.node_type is None:
        return next(it)
    return _registry[td.node_type].from_iterable(td.aux, [_unflatten(c, it) for c in td.children])


def tree_leaves(tree: Any) -> list:
    """The leaves of a pytree, in flattening order.

    >>> tree_leaves([1, {"x": 2}, (None, 3)])
    [1, 2, 3]
    """
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> PyTreeDef:
    """The structure of a pytree.

    >>> tree_structure({"w": 1, "b": (2, 3)})
    PyTreeDef(dict[PyTreeDef(tuple[*, *]), *])
    """
    return tree_flatten(tree)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leaf-wise; ``rest`` are trees of the same structure.

    >>> tree_map(lambda a, b: a + b, (1, [2]), (10, [20]))
    (11, [22])
    """
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef} and {r_def}")
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])
