"""Pytrees: nested containers of leaves, flattened to lists and rebuilt (JAX's tree_util API)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "Partial",
    "PyTreeDef",
    "all_leaves",
    "flatten_one_level",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_broadcast",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
    "SequenceKey",
    "keystr",
    "tree_all",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
]


class _NodeType(NamedTuple):
    to_iterable: Callable[[Any], tuple[list[Any], Hashable]]
    from_iterable: Callable[[Hashable, list[Any]], Any]
    # the key path entries of a node's children (registered with keys); None: derived
    keys: Callable[[Any], list] | None = None


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
        try:
            aux_hash = hash(aux)
        except TypeError:
            # JAX accepts unhashable aux data too (its guides register a dict of flags): such
            # a node hashes by its type and children, and compares its aux data with ==.
            aux_hash = -1
        self._hash = hash((node_type, aux_hash, children))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PyTreeDef)
            and self.node_type is other.node_type
            and self.aux == other.aux
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return self._hash

    @property
    def num_nodes(self) -> int:
        """Nodes and leaves, counted together (JAX's ``num_nodes``)."""
        return 1 + sum(c.num_nodes for c in self.children)

    def unflatten(self, leaves: Any) -> Any:
        """``tree_unflatten(self, leaves)``."""
        return tree_unflatten(self, leaves)

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


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of a pytree, in flattening order (``is_leaf(x)`` true stops at ``x``).

    >>> tree_leaves([1, {"x": 2}, (None, 3)])
    [1, 2, 3]
    >>> tree_leaves([(1, 2), (3,)], is_leaf=lambda x: isinstance(x, tuple))
    [(1, 2), (3,)]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The structure of a pytree.

    >>> tree_structure({"w": 1, "b": (2, 3)})
    PyTreeDef(dict[PyTreeDef(tuple[*, *]), *])
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leaf-wise; ``rest`` are trees of ``tree``'s structure, or deeper (as in
    JAX, ``f`` then gets their subtrees at ``tree``'s leaves); ``is_leaf`` as in
    ``tree_flatten``, applied to ``tree``.

    >>> tree_map(lambda a, b: a + b, (1, [2]), (10, [20]))
    (11, [22])
    >>> tree_map(sum, {"a": (1, 2), "b": (3,)}, is_leaf=lambda x: isinstance(x, tuple))
    {'a': 3, 'b': 3}
    >>> tree_map(lambda n, xs: n * len(xs), [1, 2], [(0,), (0, 0)])
    [1, 4]
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [_subtrees(treedef, r, "tree_map") for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def _subtrees(treedef: PyTreeDef, tree: Any, op: str) -> list:
    """The subtrees of ``tree`` at the leaves of ``treedef``, which must be a prefix of its
    structure."""
    out: list = []
    _flatten_up_to(treedef, tree, out, op)
    return out


_NO_INITIALIZER = object()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any,
                initializer: Any = _NO_INITIALIZER,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``functools.reduce`` over the leaves of ``tree``.

    >>> tree_reduce(lambda a, b: a + b, {"x": 1, "y": (2, 3)}, 10)
    16
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every leaf of ``tree`` is true (``all`` of the leaves; a traced leaf needs a
    concrete value, as ``bool()`` of it does).

    >>> tree_all([True, {"a": 1}]), tree_all((True, 0))
    (True, False)
    """
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """A tree of structure ``outer(inner)`` as one of structure ``inner(outer)``;
    ``inner_treedef=None`` takes the structure of the subtree at ``outer``'s first leaf
    (as ``jax.tree.transpose``).

    >>> outer, inner = tree_structure([0, 0]), tree_structure((0, 0))
    >>> tree_transpose(outer, inner, [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    >>> tree_transpose(outer, None, [{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    {'a': [1, 3], 'b': [2, 4]}
    """
    if inner_treedef is None:
        inner_treedef = tree_structure(_subtrees(outer_treedef, pytree_to_transpose,
                                                 "tree_transpose")[0])
    leaves, treedef = tree_flatten(pytree_to_transpose)
    n_inner, n_outer = inner_treedef.num_leaves, outer_treedef.num_leaves
    if len(leaves) != n_inner * n_outer or treedef != _compose(outer_treedef, inner_treedef):
        raise ValueError(f"tree_transpose: expected a tree of structure {outer_treedef} of "
                         f"{inner_treedef}, got {treedef}")
    columns = [tree_unflatten(outer_treedef, leaves[i::n_inner]) for i in range(n_inner)]
    return tree_unflatten(inner_treedef, columns)


def _flatten_up_to(td: PyTreeDef, x: Any, out: list, op: str) -> None:
    """Append the subtrees of ``x`` at the leaves of ``td`` (a prefix of ``x``'s structure)."""
    if td.node_type is None:
        out.append(x)
        return
    node = _node_of(x)
    children, aux = node.to_iterable(x) if node is not None else (None, None)
    if type(x) is not td.node_type or aux != td.aux or len(children) != len(td.children):
        raise ValueError(f"{op}: structures differ: expected {td}, got {tree_structure(x)}")
    for c_td, c in zip(td.children, children, strict=True):
        _flatten_up_to(c_td, c, out, op)


def _compose(outer: PyTreeDef, inner: PyTreeDef) -> PyTreeDef:
    """``outer`` with every leaf replaced by ``inner``."""
    if outer.node_type is None:
        return inner
    return PyTreeDef(outer.node_type, outer.aux, tuple(_compose(c, inner) for c in outer.children))


class Partial(functools.partial):
    """``functools.partial`` as a pytree: the bound arguments are its leaves and the function
    its static structure, so a ``Partial`` can be passed to and returned from transformed
    functions (JAX's ``tree_util.Partial``).

    >>> add = Partial(lambda a, b: a + b, 1.0)
    >>> tree_leaves(add), tree_map(lambda x: x * 10, add)(2.0)
    ([1.0], 12.0)
    """


register_pytree_node(Partial, lambda p: ((p.args, p.keywords), p.func),
                     lambda func, c: Partial(func, *c[0], **c[1]))


# ---------------------------------------------------------------------------------------------
# Key paths: where each leaf sits


@dataclasses.dataclass(frozen=True)
class DictKey:
    """The entry of a dict under ``key`` (prints as ``['key']``)."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """The entry of a tuple or list at ``idx`` (prints as ``[0]``)."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The field ``name`` of a namedtuple (prints as ``.name``)."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """The ``key``-th child of a registered node (prints as ``[<flat index 0>]``)."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def _child_keys(x: Any, n: int) -> list:
    node = _registry.get(type(x))
    if node is not None and node.keys is not None:
        return node.keys(x)
    if isinstance(x, dict):
        return [DictKey(k) for k in sorted(x)]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return [GetAttrKey(f) for f in x._fields]
    if type(x) in (tuple, list):
        return [SequenceKey(i) for i in range(n)]
    return [FlattenedIndexKey(i) for i in range(n)]


def _flatten_with_path(x: Any, is_leaf: Callable[[Any], bool] | None, path: tuple,
                       out: list) -> None:
    node = None if (is_leaf is not None and is_leaf(x)) else _node_of(x)
    if node is None:
        out.append((path, x))
        return
    children = node.to_iterable(x)[0]
    for key, child in zip(_child_keys(x, len(children)), children, strict=True):
        _flatten_with_path(child, is_leaf, path + (key,), out)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[tuple, Any]], PyTreeDef]:
    """``tree_flatten`` with each leaf's key path: ``([(path, leaf), ...], treedef)``, a path
    being a tuple of ``DictKey``, ``SequenceKey``, ``GetAttrKey`` (namedtuple fields) and
    ``FlattenedIndexKey`` (other registered nodes) entries.

    >>> pairs, _ = tree_flatten_with_path({"w": [1, 2], "b": 3})
    >>> [(keystr(path), leaf) for path, leaf in pairs]
    [("['b']", 3), ("['w'][0]", 1), ("['w'][1]", 2)]
    """
    out: list = []
    _flatten_with_path(tree, is_leaf, (), out)
    return out, tree_structure(tree, is_leaf)


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                          ) -> list[tuple[tuple, Any]]:
    """The ``(path, leaf)`` pairs of ``tree_flatten_with_path``.

    >>> tree_leaves_with_path((5, None, [6]))
    [((SequenceKey(idx=0),), 5), ((SequenceKey(idx=2), SequenceKey(idx=0)), 6)]
    """
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``tree_map`` whose ``f`` also gets each leaf's key path first: ``f(path, leaf, *rest)``.

    >>> tree_map_with_path(lambda p, x: keystr(p) if x is None else x * 2, {"a": 1, "b": [0]})
    {'a': 2, 'b': [0]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [_subtrees(treedef, r, "tree_map_with_path") for r in rest]
    return tree_unflatten(treedef, [f(path, x, *xs) for (path, x), *xs in
                                    zip(pairs, *others, strict=True)])


def keystr(keys: tuple, *, simple: bool = False, separator: str = "") -> str:
    """A key path as a string: its entries printed and joined by ``separator``; ``simple``
    prints each entry's bare key (``w/0`` rather than ``['w'][0]``).

    >>> path = tree_leaves_with_path({"w": [7]})[0][0]
    >>> keystr(path), keystr(path, simple=True, separator="/")
    ("['w'][0]", 'w/0')
    """
    def entry(k: Any) -> str:
        if not simple:
            return str(k)
        return str(next(iter(dataclasses.astuple(k)))) if dataclasses.is_dataclass(k) else str(k)
    return separator.join(map(entry, keys))


def register_pytree_with_keys(nodetype: type,
                              flatten_with_keys: Callable[[Any], tuple[Any, Hashable]],
                              unflatten_func: Callable[[Hashable, Any], Any],
                              flatten_func: Callable[[Any], tuple[Any, Hashable]] | None = None
                              ) -> None:
    """Register a container type whose children have key paths:
    ``flatten_with_keys(x) -> (((key, child), ...), aux)``; ``flatten_func`` (optional) is the
    same without keys.

    >>> class Named:
    ...     def __init__(self, w): self.w = w
    >>> register_pytree_with_keys(Named, lambda n: (((GetAttrKey("w"), n.w),), None),
    ...                           lambda _, c: Named(*c))
    >>> keystr(tree_leaves_with_path(Named(3))[0][0])
    '.w'
    """
    def to_iterable(x: Any) -> tuple[list[Any], Hashable]:
        if flatten_func is not None:
            children, aux = flatten_func(x)
            return list(children), aux
        pairs, aux = flatten_with_keys(x)
        return [c for _, c in pairs], aux

    _registry[nodetype] = _NodeType(to_iterable, unflatten_func,
                                    lambda x: [k for k, _ in flatten_with_keys(x)[0]])


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: the class provides ``tree_flatten_with_keys()`` and
    ``tree_unflatten(aux, children)`` (and optionally ``tree_flatten()``).

    >>> @register_pytree_with_keys_class
    ... class Box:
    ...     def __init__(self, v): self.v = v
    ...     def tree_flatten_with_keys(self): return ((GetAttrKey("v"), self.v),), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> tree_map(lambda x: x + 1, Box(41)).v
    42
    """
    flat = getattr(cls, "tree_flatten", None)
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              None if flat is None else lambda x: x.tree_flatten())
    return cls


def register_dataclass(nodetype: type, data_fields: Any = None, meta_fields: Any = None,
                       drop_fields: Any = ()) -> type:
    """Register a dataclass: ``data_fields`` are children (leaves or subtrees),
    ``meta_fields`` part of the structure (hashable; a change makes a new ``jit`` trace).
    Without them, fields declared with ``field(metadata=dict(static=True))`` are meta and
    the others data. Usable as a class decorator.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: Any
    ...     name: str = dataclasses.field(default="p", metadata=dict(static=True))
    >>> tree_leaves(Params(w=[1, 2]))
    [1, 2]
    """
    if (data_fields is None) != (meta_fields is None):
        raise TypeError("register_dataclass: give both data_fields and meta_fields, or neither "
                        "(for a dataclass), as JAX")
    if data_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass: {nodetype.__name__} is not a dataclass; "
                            f"pass data_fields and meta_fields")
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if f.name not in meta_fields]
    data, meta = tuple(data_fields), tuple(meta_fields)

    def unflatten(aux: tuple, children: Any) -> Any:
        return nodetype(**dict(zip(meta, aux, strict=True)),
                        **dict(zip(data, children, strict=True)))

    register_pytree_with_keys(
        nodetype, lambda x: (tuple((GetAttrKey(f), getattr(x, f)) for f in data),
                             tuple(getattr(x, f) for f in meta)),
        unflatten, lambda x: (tuple(getattr(x, f) for f in data),
                              tuple(getattr(x, f) for f in meta)))
    return nodetype


def register_static(cls: type) -> type:
    """Register a type whose instances are part of a tree's structure, with no leaves (they
    must be hashable and comparable). Usable as a class decorator.

    >>> @register_static
    ... class Mode:
    ...     def __hash__(self): return 0
    ...     def __eq__(self, other): return isinstance(other, Mode)
    >>> tree_leaves([Mode(), 1])
    [1]
    """
    register_pytree_node(cls, lambda x: ((), x), lambda aux, _: aux)
    return cls


def tree_broadcast(prefix_tree: Any, full_tree: Any,
                   is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``prefix_tree`` (a prefix of ``full_tree``'s structure) with each of its leaves
    repeated over the subtree of ``full_tree`` at its place.

    >>> tree_broadcast([1, 2], [(3, 4), {"a": 5}])
    [(1, 1), {'a': 2}]
    """
    treedef = tree_structure(prefix_tree, is_leaf)
    subtrees = _subtrees(treedef, full_tree, "tree_broadcast")
    return tree_unflatten(treedef, [tree_map(lambda _, p=p: p, sub, is_leaf=is_leaf)
                                    for p, sub in zip(tree_leaves(prefix_tree, is_leaf),
                                                      subtrees, strict=True)])


def all_leaves(iterable: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every element of ``iterable`` is a leaf.

    >>> all_leaves([1, 2.0]), all_leaves([1, (2,)])
    (True, False)
    """
    return all(tree_structure(x, is_leaf).node_type is None for x in iterable)


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The structures of a node's children.

    >>> treedef_children(tree_structure((1, [2, 3])))
    [*, PyTreeDef(list[*, *])]
    """
    return list(treedef.children)


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether the structure is a single leaf.

    >>> treedef_is_leaf(tree_structure(1.0)), treedef_is_leaf(tree_structure([1.0]))
    (True, False)
    """
    return treedef.node_type is None


def treedef_tuple(treedefs: Any) -> PyTreeDef:
    """The structure of a tuple of the given structures.

    >>> treedef_tuple([tree_structure(1), tree_structure([1, 2])])
    PyTreeDef(tuple[*, PyTreeDef(list[*, *])])
    """
    return PyTreeDef(tuple, None, tuple(treedefs))


def flatten_one_level(tree: Any) -> tuple[tuple, Hashable]:
    """A node's children (a tuple) and its auxiliary data (a leaf raises ``ValueError``).

    >>> flatten_one_level({"b": 1, "a": [2]})
    (([2], 1), ('a', 'b'))
    """
    node = _node_of(tree)
    if node is None:
        raise ValueError(f"flatten_one_level: {type(tree).__name__} is a leaf, not a node")
    children, aux = node.to_iterable(tree)
    return tuple(children), aux
