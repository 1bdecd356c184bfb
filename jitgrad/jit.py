"""jit: trace once per signature, optimise, compile to Numba kernels and cache; and the
``jit_call`` primitive through which jit composes with every transformation."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import itertools
import logging
import operator
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from jitgrad.api_util import (
    Store,
    argnums_partial,
    flatten_fun,
    normalize_argnums,
    reduce_wrapper,
)
from jitgrad.core import _EVAL as EVAL
from jitgrad.core import (
    IR,
    Inline,
    Primitive,
    Tracer,
    Zero,
    _current,
    aval_of,
    config,
    current_interpreter,
    eval_ir,
    is_float,
    register,
    sub_irs,
    using,
)
from jitgrad.errors import JitgradTypeError, UnsupportedError
from jitgrad.prims import zeros
from jitgrad.prims.structural import batch_size
from jitgrad.subprogram import closure_convert
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.transforms.partial_eval import partial_eval_ir
from jitgrad.transforms.passes import optimize_ir
from jitgrad.transforms.stage import trace, weak_int_casts
from jitgrad.transforms.vjp import vjp_ir
from jitgrad.transforms.vmap import vmap_ir
from jitgrad.tree_util import PyTreeDef, flatten_one_level, tree_flatten, tree_unflatten

__all__ = ["clear_caches", "jit", "show_kernels", "wait_for_compiles"]

log = logging.getLogger("jitgrad")


def _log(msg: str) -> None:
    if config.log_compiles:
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("jitgrad: %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
        log.info(msg)


class _GCPause:
    """Pauses Python's cyclic garbage collector while a program is traced, optimised, planned
    and its kernels compiled: a long program is hundreds of thousands of small objects
    (variables, equations, plan and Numba IR nodes) that every full collection traverses
    again, for no garbage (measured on the 13.5k-equation fluid simulation: 40 % of the CPU
    of its first call). Reference counting still frees what is not in a cycle; the
    collector resumes (if it was running) when the last compile in any thread ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextlib.contextmanager
    def __call__(self) -> Any:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


gc_paused = _GCPause()


def _optimised(ir: IR) -> IR:
    _check_compilable(ir)
    consts = [_as_array(c) for c in ir.consts]
    return optimize_ir(IR(ir.constvars, ir.invars, ir.eqns, ir.outvars, consts))


def _compile(ir: IR) -> Any:
    return compile_optimised(_optimised(ir))


_numba_start = threading.Lock()


def start_numba() -> None:
    """Import and initialise Numba, once (a background compile's thread and the caller's may
    both ask at the same time)."""
    from jitgrad.backend import runtime  # imports Numba
    with _numba_start:
        runtime.start_numba()
        runtime.defer_matmul_kernel = tiered().defer_matmul_kernel


def compile_optimised(ir: IR) -> Any:
    """The compiled program of an optimised IR (kernels loaded or compiled on first call)."""
    from jitgrad.backend.runtime import compile_ir
    start_numba()
    with gc_paused():
        return compile_ir(ir, lambda sub: _compile(sub).fn)


def _check_compilable(ir: IR) -> None:
    """Numba has no float16 arrays: refuse them here, clearly, rather than fail in Numba."""
    # NB: numpy computes float16 ufuncs in float32 and rounds each result; the compiled path
    # would have to emulate that rounding after every operation to give numpy's answers.
    for v in itertools.chain(ir.constvars, ir.invars, *(e.outputs for e in ir.eqns)):
        if v.aval.dtype == np.float16:
            raise UnsupportedError(
                f"jit: float16 is not supported by the compiled path (a value {v.aval} in "
                f"the program); compute in float32 (x.astype(np.float32)), or call the "
                f"function without jit (eager transformations support float16)")
    for sub in itertools.chain.from_iterable(sub_irs(e) for e in ir.eqns):
        _check_compilable(sub)


@dataclass
class _Entry:
    """One signature's program: ``fn`` runs the compiled program, or the reference path
    until a background compile (``job``) swaps the compiled one in."""

    fn: Callable[..., list]
    out_tree: PyTreeDef
    compiled: Any
    job: Any = None  # the background compile, while there is one
    marker: IR | None = None  # the program to record as cached after its first call
    # (leaf index, least, greatest, dtype) of Python int arguments promoted to a narrower
    # integer dtype (see _int_bounds), checked on every call
    int_bounds: tuple = ()

    def run(self, name: str, arrays: Sequence[Any]) -> Any:
        """The program's results for the call's flat ``arrays``, as the function returns them,
        once its Python int arguments are checked (see _int_bounds)."""
        if self.int_bounds:
            _check_ints(name, self.int_bounds, arrays)
        return self.unflatten(self.fn(*arrays))

    def install(self, compiled: Any) -> None:
        """Serve calls with ``compiled`` from now on (one attribute store: atomic); the
        background compile is over."""
        self.compiled = compiled
        self.fn = compiled.fn
        self.job = None

    def __post_init__(self) -> None:
        tree = self.out_tree
        if tree.node_type is None:
            self.unflatten: Callable[[list], Any] = operator.itemgetter(0)
        elif tree.node_type is tuple and all(c.node_type is None for c in tree.children):
            self.unflatten = tuple
        else:
            try:  # (a step's (loss, [parameters]): 0.5 µs, where tree_unflatten took 3.7)
                self.unflatten = eval(f"lambda l: {_rebuilt(tree, itertools.count())}")
            except TypeError:  # other nodes than lists, tuples, dicts and None
                self.unflatten = functools.partial(tree_unflatten, tree)


def _rebuilt(tree: PyTreeDef, leaf: Iterator[int]) -> str:
    """A Python expression that builds ``tree`` from the list ``l`` of its leaves, made of
    lists, tuples, dicts whose keys are strings or integers, and None (TypeError for anything
    else)."""
    t = tree.node_type
    if t is None:
        return f"l[{next(leaf)}]"
    if t is type(None):
        return "None"
    parts = [_rebuilt(c, leaf) for c in tree.children]
    if t is tuple:
        return f"({''.join(p + ', ' for p in parts)})"
    if t is list:
        return f"[{', '.join(parts)}]"
    if t is dict and all(type(k) in (str, int) for k in tree.aux):
        return f"{{{', '.join(f'{k!r}: {p}' for k, p in zip(tree.aux, parts, strict=True))}}}"
    raise TypeError(t)


_SCALARS = (bool, int, float, complex)


def _tree_key(x: Any, leaves: list) -> Any:
    """The fast path's key of ``x`` (a pytree of arguments), and its leaves appended to
    ``leaves`` in tree_flatten's order as the program takes them: numpy arrays in native byte
    order by type, shape and dtype; Python and numpy scalars by type, converted to 0-d
    arrays as the general path converts them; nodes by type, auxiliary data (a dict's
    keys) and children. TypeError for anything else (a non-native byte order, an array
    subclass, a tracer), which takes the general path. Of an array argument, the key is the
    one the call's first fast path builds."""
    t = type(x)
    if t is np.ndarray:
        if not x.dtype.isnative:
            raise TypeError(t)
        leaves.append(x)
        return (t, x.shape, x.dtype)
    if t is tuple or t is list:
        return (t, tuple([_tree_key(c, leaves) for c in x]))
    if t is dict:
        keys = sorted(x)  # (tree_flatten's order; TypeError for keys that do not sort)
        return (t, tuple(keys), tuple([_tree_key(x[k], leaves) for k in keys]))
    if t in _SCALARS or isinstance(x, np.generic):
        leaves.append(_as_argument(x))
        return (t,)  # (the type decides the dtype of every scalar a program can take)
    try:
        children, aux = flatten_one_level(x)
    except ValueError:  # a leaf of another kind
        raise TypeError(t) from None
    return (t, aux, tuple([_tree_key(c, leaves) for c in children]))


def _int_bounds(ir: IR, casts: list) -> tuple:
    """(leaf index, least, greatest, dtype) for each Python int argument (a weakly typed int64
    input of ``ir``) and each narrower integer dtype promotion cast it to while it was traced
    (``casts``: see stage.weak_int_casts); a value computed from one is not followed."""
    index = {v: i for i, v in enumerate(ir.invars)}
    bounds = set()
    for tracer, dtype in casts:
        i = index.get(getattr(tracer, "var", None))
        if i is not None:
            info = np.iinfo(dtype)
            bounds.add((i, int(info.min), int(info.max), np.dtype(dtype).name))
    return tuple(sorted(bounds))


def _check_ints(name: str, bounds: tuple, leaves: Sequence[Any]) -> None:
    """Refuse a Python int argument outside a dtype promotion cast it to (see _int_bounds),
    as numpy does, rather than let the compiled cast wrap it around."""
    for i, lo, hi, dtype in bounds:
        value = int(leaves[i])
        if not lo <= value <= hi:
            raise OverflowError(
                f"jit({name}): Python integer {value} (argument leaf {i}) out of bounds for "
                f"{dtype}, the dtype of the integer array it meets (numpy raises this too); "
                f"pass it as an array of the dtype to compute in")


def _as_argument(x: Any) -> np.ndarray:
    """A call's argument as the program takes it: a Python int is weakly typed int64 (its
    aval), so one beyond int64 is refused (OverflowError, as JAX and numpy refuse it) rather
    than passed as numpy's uint64 or object array: 2**63 was read as -2**63, silently."""
    if type(x) is int:
        return np.asarray(x, np.int64)
    return _as_array(x)


def _as_array(x: Any) -> np.ndarray:
    """A numpy array in native byte order (kernels read native numbers only)."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    return x if x.dtype.isnative else x.astype(x.dtype.newbyteorder("="))


class _Once:
    """Per-key locks: the first thread that needs a missing key computes it while the others
    wait for its result, so several threads making the first call of a function trace and
    compile it once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # reentrant: a function that calls itself while being traced recurses (and fails
        # with RecursionError) instead of waiting for itself
        self._locks: dict[Hashable, threading.RLock] = {}

    def get(self, cache: dict, key: Hashable, make: Callable[[], Any],
            keep: Callable[[Any], bool] = lambda _: True) -> Any:
        """``cache[key]``, made by ``make()`` if missing (and stored if ``keep`` says so)."""
        hit = cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            lock = self._locks.setdefault(key, threading.RLock())
        with lock:
            try:
                hit = cache.get(key)
                if hit is None:
                    hit = make()
                    if keep(hit):
                        cache[key] = hit
            finally:
                with self._lock:
                    self._locks.pop(key, None)
        return hit


_live: weakref.WeakSet[Jitted] = weakref.WeakSet()  # for clear_caches


class Jitted:
    """A function compiled per (pytree structure, shapes, dtypes, static arguments)."""

    def __init__(self, f: Callable[..., Any], static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = (),
                 donate_argnums: int | Sequence[int] = (),
                 donate_argnames: str | Sequence[str] = ()):
        functools.update_wrapper(self, f, updated=())
        # partials and callable objects have no __name__ of their own
        self.__name__ = getattr(f, "__name__", type(f).__name__)
        self.f = f
        self.static_argnums, self.static_argnames = _static_args(
            f, self.__name__, static_argnums, static_argnames)
        # NB: donation is accepted (JAX programs pass it) and changes nothing: donated arrays
        # are not overwritten. Programs already reuse their large outputs' memory across calls
        # (runtime.Buffers), and writing new parameters over the donated ones measured about
        # 1% of a training step.
        self.donate_argnums, self.donate_argnames = _static_args(
            f, self.__name__, donate_argnums, donate_argnames, "donate")
        both = set(self.static_argnums) & set(self.donate_argnums)
        if both:
            raise JitgradTypeError(f"jit({self.__name__}): arguments {sorted(both)} are both "
                                   f"static and donated")
        self._entries: dict[Any, _Entry] = {}
        self._fast: dict[Any, _Entry] = {}
        self._irs: dict[Any, tuple[IR, list, PyTreeDef]] = {}
        self._once = _Once()
        self.trace_count = 0
        _live.add(self)

    def __reduce__(self) -> str | tuple:
        # The function and its static configuration only: the process that unpickles it
        # traces and compiles on its first call (kernels come from its own disk cache).
        return reduce_wrapper(self, Jitted, self.f, self.static_argnums, self.static_argnames,
                              self.donate_argnums, self.donate_argnames)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # A jitted method binds its instance as a function does (as JAX's jit does):
        # ``@jit(static_argnums=0) def calc(self, y)`` then gets ``self`` as argument 0.
        return self if obj is None else functools.partial(self, obj)

    def clear_cache(self) -> None:
        """Forget every traced and compiled signature (the next call traces again)."""
        self._fast.clear()
        self._entries.clear()
        self._irs.clear()

    def _split(self, args: tuple, kwargs: dict) -> tuple[tuple, dict, tuple]:
        """The dynamic positional and keyword arguments, and the static ones as a key:
        ((position, value), ..., (name, value), ...). A static position beyond the call's
        positional arguments is not an error: that argument came by name or has a default."""
        nums = tuple(i for i in self.static_argnums if i < len(args))
        static = set(normalize_argnums(nums, len(args), f"jit({self.__name__})",
                                       "static_argnums")) if nums else set()
        names = [k for k in kwargs if k in self.static_argnames]
        return (tuple(a for i, a in enumerate(args) if i not in static),
                {k: v for k, v in kwargs.items() if k not in self.static_argnames},
                tuple((i, args[i]) for i in sorted(static)) +
                tuple((k, kwargs[k]) for k in sorted(names)))

    def _flat_fun(self, args: tuple, kwargs: dict, in_tree: PyTreeDef
                  ) -> tuple[Callable[..., list], Store]:
        """``self.f`` flattened over its dynamic arguments and keyword arguments (the static
        ones fixed), and the store of its output structure."""
        static = self._split(args, kwargs)[2]
        fixed = {i for i, _ in static if isinstance(i, int)}
        partial, _ = argnums_partial(self.f, args, tuple(i for i in range(len(args))
                                                         if i not in fixed))
        named = {k: v for k, v in static if isinstance(k, str)}
        return flatten_fun(functools.partial(partial, **named) if named else partial, in_tree)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Fast path: positional arrays whose (shape, dtype) signature was compiled, at top
        # level (no transformation active). Anything else takes the general path.
        if not kwargs and _current.get() is None and not config.disable_jit:
            try:
                # (one and two arguments spelled out: the comprehension alone cost 220 ns of a
                # 1.6 µs call of a one-argument gradient)
                if len(args) == 1:
                    a, = args
                    key: tuple = ((type(a), a.shape, a.dtype),)
                elif len(args) == 2:
                    a, b = args
                    key = ((type(a), a.shape, a.dtype), (type(b), b.shape, b.dtype))
                else:
                    key = tuple([(type(a), a.shape, a.dtype) for a in args])
                entry = self._fast[key]
            except (AttributeError, KeyError, TypeError):
                # Pytrees of arrays and scalars (a training step's parameters, its step size):
                # keyed in one walk, 2-3 µs where tree_flatten and the avals took 27 µs of an
                # MLP step's call.
                leaves: list = []
                try:
                    entry = self._fast[tuple([_tree_key(a, leaves) for a in args])]
                except (KeyError, TypeError):
                    pass
                else:
                    return entry.run(self.__name__, leaves)
            else:
                return entry.unflatten(entry.fn(*args))
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        if config.disable_jit:
            return self.f(*args, **kwargs)
        dyn, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn, dyn_kwargs))
        if current_interpreter() is not EVAL or any(isinstance(x, Tracer) for x in leaves):
            return self._call_traced(args, kwargs, leaves, in_tree, static)
        arrays = [_as_argument(x) for x in leaves]
        sig = tuple((a.shape, a.dtype, aval_of(x).weak)
                    for a, x in zip(arrays, leaves, strict=True))
        try:
            key = (in_tree, static, sig)
            hash(key)
        except TypeError:
            raise TypeError(f"jit({self.__name__}): static arguments must be hashable, got "
                            f"{[type(v).__name__ for _, v in static]}") from None
        entry = self._entries.get(key)
        if entry is None:
            with gc_paused():  # the first run of a compiled program compiles its kernels
                entry = self._entry(key, args, kwargs, leaves, in_tree, arrays)
                if not kwargs and not static:
                    try:
                        self._fast[tuple([_tree_key(a, []) for a in args])] = entry
                    except TypeError:  # arguments the fast path leaves to this one
                        pass
                out = entry.run(self.__name__, arrays)
        else:
            out = entry.run(self.__name__, arrays)
        if entry.marker is not None:  # its kernels are now in the disk cache
            tiered().write_marker(entry.marker)
            entry.marker = None
        return out

    def _reason(self, key: Any) -> str:
        if not self._entries:
            return "first call"
        in_tree, static, avals = key
        same_tree = [k for k in self._entries if k[0] == in_tree]
        if not same_tree:
            return f"new argument structure {in_tree}"
        shapes = [a[0] for a in avals]
        if any(k[1] == static and [a[0] for a in k[2]] == shapes for k in same_tree):
            return f"new dtypes {[a[1].name for a in avals]}"
        if any(k[2] == avals for k in same_tree):
            return f"new static arguments {static}"
        return f"new shapes {shapes}"

    def _entry(self, key: Any, args: tuple, kwargs: dict, leaves: list,
               in_tree: PyTreeDef, arrays: list | None = None) -> _Entry:
        """The program for ``key``, traced once even when several threads ask for it at the
        same time: compiled, or (given the first call's ``arrays``, see ``config.compile``)
        running on the reference path while a worker compiles it."""
        def make() -> _Entry:
            flat_f, out_tree = self._flat_fun(args, kwargs, in_tree)
            _log(f"tracing {self.__name__} ({self._reason(key)})")
            self.trace_count += 1
            start = time.perf_counter()
            casts: list = []
            token = weak_int_casts.set(casts)
            try:
                ir = trace(flat_f, [aval_of(x) for x in leaves])
            finally:
                weak_int_casts.reset(token)
            bounds = _int_bounds(ir, casts)
            opt = _optimised(ir)
            tiers = tiered()
            why = "compiling ahead (lower)" if arrays is None else tiers.decide(opt)
            if why is None:
                job = tiers.Job(self.__name__, opt, arrays, compile_optimised)
                entry = _Entry(job.reference, out_tree.val, None, job, int_bounds=bounds)
                job.install = entry.install
                tiers.submit(job)
                _log(f"running {self.__name__} on the reference path while its kernels "
                     f"compile in the background (traced in {time.perf_counter() - start:.2f} s)")
                return entry
            compiled = compile_optimised(opt)
            _log(f"compiled {self.__name__}: {len(compiled.kernel_sources)} kernel(s), "
                 f"{len(compiled.steps)} step(s); waited because {why}")
            return _Entry(compiled.fn, out_tree.val, compiled, marker=opt, int_bounds=bounds)

        return self._once.get(self._entries, key, make)

    def wait(self) -> None:
        """Block until every signature of this function called so far runs compiled code
        (see ``jitgrad.config.compile``); raises the error of a compile that failed. Its
        products may still run on numpy's BLAS while jitgrad's matmul kernel compiles in the
        background (seconds, once per install): ``jitgrad.wait_for_compiles()`` waits for that
        too.

        >>> import jitgrad as jg, jitgrad.numpy as jnp
        >>> f = jg.jit(lambda x: jnp.sin(x) * 2.0)
        >>> _ = f(np.zeros(3)); f.wait(); f.serving(np.zeros(3))
        'compiled'
        """
        jobs = [e.job for e in list(self._entries.values()) if e.job is not None]
        if jobs:
            tiered().wait(jobs)

    def serving(self, *args: Any, **kwargs: Any) -> str | None:
        """Which tier runs calls with these arguments' signature: "compiled", "reference"
        (a background compile is under way), or None (not called with it yet).

        >>> import jitgrad as jg, jitgrad.numpy as jnp
        >>> f = jg.jit(lambda x: x + 1.0)
        >>> print(f.serving(np.zeros(2)))
        None
        """
        entry = self._entries.get(self._key(args, kwargs)[0])
        if entry is None:
            return None
        return "compiled" if entry.compiled is not None else "reference"

    def _call_traced(self, args: tuple, kwargs: dict, leaves: list, in_tree: PyTreeDef,
                     static: tuple) -> Any:
        """Inside another transformation: stage a ``jit_call`` of the traced program, which
        that transformation then differentiates (and which runs compiled)."""
        key = (in_tree, static, tuple((aval_of(x), aval_of(x).weak) for x in leaves))

        def make() -> tuple[IR, list, PyTreeDef]:
            flat_f, out_tree = self._flat_fun(args, kwargs, in_tree)
            self.trace_count += 1
            ir, consts = closure_convert(trace(flat_f, [aval_of(x) for x in leaves]))
            return ir, consts, out_tree.val

        ir, consts, tree = self._once.get(self._irs, key, make, keep=_closed)
        outs = jit_call_p.bind(*consts, *leaves, fun=ir, name=self.__name__)
        return tree_unflatten(tree, outs)

    def _key(self, args: tuple, kwargs: dict) -> tuple[Any, list, PyTreeDef]:
        dyn, dyn_kwargs, static = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn, dyn_kwargs))
        arrays = [_as_argument(x) for x in leaves]
        key = (in_tree, static, tuple((a.shape, a.dtype, aval_of(x).weak)
                                      for a, x in zip(arrays, leaves, strict=True)))
        return key, leaves, in_tree

    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """JAX's ``jit(f).trace(*args)``: the program traced for these arguments (``.jaxpr``,
        printable), its outputs' shapes and dtypes (``.out_info``), and ``.lower()``.

        >>> import jitgrad.numpy as jnp
        >>> traced = jit(lambda x: jnp.sin(x) * 2.0).trace(1.0)
        >>> print(traced.jaxpr), traced.out_info
        { lambda a:f64[] .
          let b:f64[] = sin a
              c:f64[] = mul b 2.0
          in ( c ) }
        (None, f64[])
        """
        dyn, dyn_kwargs, _ = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn, dyn_kwargs))
        flat_f, out_tree = self._flat_fun(args, kwargs, in_tree)
        ir = trace(flat_f, [aval_of(x) for x in leaves])
        return Traced(ir, tree_unflatten(out_tree.val, ir.out_avals),
                      functools.partial(self.lower, *args, **kwargs))

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """The compiled program for these arguments (kernels, caller, plan); waits for a
        background compile of them."""
        key, leaves, in_tree = self._key(args, kwargs)
        with gc_paused():
            entry = self._entry(key, args, kwargs, leaves, in_tree)
        if entry.job is not None:
            tiered().wait([entry.job])
        return entry.compiled


class Traced(NamedTuple):
    """What ``jit(f).trace(*args)`` returns: the traced program, the outputs' shapes and
    dtypes (a pytree of ``ShapedArray``), and the compiled program (``lower()``)."""

    jaxpr: IR
    out_info: Any
    lower: Callable[[], Any]


def _static_args(f: Callable[..., Any], name: str, argnums: Any, argnames: Any,
                 what: str = "static") -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``{what}_argnums`` and ``{what}_argnames`` checked, each completed from the other by
    ``f``'s signature when only one is given (as JAX does): a positional-or-keyword argument
    may then be passed either way."""
    def as_tuple(x: Any, one: type | tuple[type, ...]) -> tuple:
        if x is None:
            return ()
        if isinstance(x, one):
            return (x,)
        return tuple(x) if isinstance(x, Iterable) else (x,)

    nums = as_tuple(argnums, (int, np.integer))
    names = as_tuple(argnames, str)
    if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in nums):
        raise JitgradTypeError(f"jit({name}): {what}_argnums must be an int or a tuple of "
                               f"ints, got {argnums!r}")
    if not all(isinstance(k, str) for k in names):
        raise JitgradTypeError(f"jit({name}): {what}_argnames must be a str or a tuple of "
                               f"str, got {argnames!r}")
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # builtins and some callables have none
        return tuple(int(i) for i in nums), names
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if not any(p.kind is p.VAR_POSITIONAL for p in params):
        bad = [i for i in nums if not -len(positional) <= i < len(positional)]
        if bad:
            raise JitgradTypeError(f"jit({name}): {what}_argnums {bad[0]} is out of range for "
                                   f"a function of {len(positional)} positional argument(s)")
        nums = tuple(i % len(positional) for i in nums)
    both = bool(nums) and bool(names)
    if not both:
        nums += tuple(i for i, p in enumerate(positional)
                      if p.name in names and p.kind is keyword)
        names += tuple(positional[i].name for i in nums if 0 <= i < len(positional)
                       and positional[i].kind is keyword
                       and positional[i].name not in names)
    return tuple(sorted({int(i) for i in nums})), names


def tiered() -> Any:
    from jitgrad import tiered as module  # imports neither Numba nor the runtime
    return module


def wait_for_compiles() -> None:
    """Block until every background compile started so far has finished and its program
    serves calls, including jitgrad's matmul kernel when products wait for it on numpy's
    BLAS (see ``jitgrad.config.compile``); benchmarks call it before timing.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> f = jg.jit(lambda x: jnp.cos(x))
    >>> _ = f(np.zeros(3)); jg.wait_for_compiles(); f.serving(np.zeros(3))
    'compiled'
    """
    tiered().wait()


def jit(f: Callable[..., Any] | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        donate_argnames: str | Sequence[str] = (), keep_unused: bool = False,
        device: Any = None, backend: str | None = None, inline: bool = False) -> Any:
    """Compile ``f`` to Numba kernels, once per argument signature (and value of its static
    arguments, which must be hashable).

    JAX's signature: ``static_argnames`` and ``static_argnums`` each imply the other where
    ``f``'s signature names a positional argument (when only one of them is given); donation
    is accepted and has no effect (jitgrad never overwrites its inputs); ``keep_unused`` and
    ``inline`` change nothing here; ``device``/``backend`` may only name the CPU.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> step = jg.jit(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * x)))
    >>> step(np.zeros(3))
    array([0., 0., 0.])
    >>> power = jg.jit(lambda x, n: x ** n, static_argnames="n")
    >>> power(np.full(2, 3.0), n=2)
    array([9., 9.])
    """
    if backend not in (None, "cpu") or (device is not None and
                                        getattr(device, "platform", device) != "cpu"):
        raise JitgradTypeError(f"jit: jitgrad runs on the CPU only, got device={device!r}, "
                               f"backend={backend!r}")

    def make(g: Callable[..., Any]) -> Jitted:
        return Jitted(g, static_argnums, static_argnames, donate_argnums, donate_argnames)

    return make if f is None else make(f)


def show_kernels(f: Callable[..., Any], static_argnums: int | Sequence[int] = ()
                 ) -> Callable[..., str]:
    """The optimised IR, the plan's Python caller and every generated kernel's source, for
    these arguments (also compiles them), named after the IR's variables: the caller's arrays
    as the IR prints them, a kernel's array parameters in upper case and the scalars it
    computes (elements of those variables) in lower case. The kernels' shared imports come
    once, then each kernel under a header naming the equations it computes and its loop
    space. (The modules compiled use positional names, so that identical kernels of
    different programs compile once.)

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> text = jg.show_kernels(jg.grad(lambda x: jnp.sum(jnp.sin(x))))(np.ones(3))
    >>> print(text[text.index("# caller"):text.index("# kernels")].strip())
    # caller
    def run(a):
        try:
            b = np.empty((3,), np.float64)
            K0(a, b)
            res = [b]
            return res
        except Exception as exc:
            raise compile_error(exc) from exc
    >>> print(text[text.index("# K0"):].splitlines()[0])
    # K0: b = cos a   loop (3,)
    >>> print(text[text.index("def K0"):].strip())
    def K0(A, B):
        n0 = B.shape[0]
        for i0 in range(n0):
            a = A[i0]
            b = cos_f64(a)  # cos
            B[i0] = b
    """
    jitted = f if isinstance(f, Jitted) else jit(f, static_argnums=static_argnums)

    def show(*args: Any, **kwargs: Any) -> str:
        return jitted.lower(*args, **kwargs).describe()

    return show


def clear_caches() -> None:
    """Forget every traced and compiled program, as ``jax.clear_caches`` does: each jit
    function's signatures, what was derived from its sub-programs (the programs eager
    ``grad(jit(f))`` runs), and the memory compiled programs keep between calls (scratch
    workspaces, recycled outputs). The next call traces and builds its program again.

    Compiled kernels stay loaded and are reused (an identical kernel is not compiled twice):
    Numba cannot unload machine code. The on-disk kernel cache is not touched.

    >>> import jitgrad as jg, jitgrad.numpy as jnp
    >>> f = jg.jit(lambda x: jnp.sin(x) * 2.0)
    >>> _ = f(np.zeros(3)); f.trace_count
    1
    >>> jg.clear_caches()
    >>> _ = f(np.zeros(3)); f.trace_count
    2
    """
    for f in list(_live):
        f.clear_cache()
    for fun in list(_with_derived):
        vars(fun).pop("_derived", None)
    _with_derived.clear()
    runtime = sys.modules.get("jitgrad.backend.runtime")  # nothing to release if not loaded
    if runtime is not None:
        runtime.release_scratch()


# ---------------------------------------------------------------------------------------------
# jit_call: a staged call of a compiled sub-program

# A sub-program (the IR in a jit_call's params) is shared by every call staged from one
# Jitted signature. What is derived from it (its compiled program, its forward/backward split,
# its jvp and batched programs) is made once and kept on the IR object itself, so it lives
# exactly as long as the sub-program: eager ``grad(jit(f))`` neither recompiles nor grows
# per call, and dropping the Jitted releases it all.
_with_derived: weakref.WeakSet[IR] = weakref.WeakSet()  # for clear_caches
_sub_once = _Once()


def _derived(fun: IR, kind: Hashable, make: Callable[[], Any],
             keep: Callable[[Any], bool] = lambda _: True) -> Any:
    cache = vars(fun).get("_derived")
    if cache is None:
        cache = vars(fun).setdefault("_derived", {})
        _with_derived.add(fun)
    return _sub_once.get(cache, (id(fun), kind), make, keep)


def _closed(derived: tuple) -> bool:
    """Whether a traced (IR, consts, ...) may be cached: none of its constants is a value of
    an enclosing transformation (those differ from call to call)."""
    return not any(isinstance(c, Tracer) for part in derived if isinstance(part, list)
                   for c in part)


def _run(fun: IR, *args: Any) -> list:
    compiled = _derived(fun, "compiled", lambda: _compile(fun))
    return compiled.fn(*[_as_array(a) for a in args])


def _jit_call_impl(*args: Any, fun: IR, name: str) -> list:
    if config.disable_jit:
        with using(EVAL):
            return eval_ir(fun, *args)
    return _run(fun, *args)


def _jit_call_jvp(primals: list, tangents: list, *, fun: IR, name: str) -> tuple[list, list]:
    n = len(primals)
    nz = [not isinstance(t, Zero) for t in tangents]
    live = [t for t in tangents if not isinstance(t, Zero)]
    avals = tuple((aval_of(x), aval_of(x).weak) for x in primals + live)

    def f_jvp(*xs: Any) -> list:
        it = iter(xs[n:])
        ts = [next(it) if z else Zero(aval_of(p)) for p, z in zip(xs[:n], nz, strict=True)]
        outs, t_outs = jvp_flat(lambda *a: eval_ir(fun, *a), list(xs[:n]), ts)
        return outs + [zeros(aval_of(o)) if isinstance(t, Zero) else t
                       for o, t in zip(outs, t_outs, strict=True)]

    ir, consts = _derived(
        fun, ("jvp", tuple(nz), avals),
        lambda: closure_convert(trace(f_jvp, [aval_of(x) for x in primals + live])), _closed)
    res = jit_call_p.bind(*consts, *primals, *live, fun=ir, name=f"jvp({name})")
    k = len(fun.outvars)
    return res[:k], res[k:]


def _vjp_split(fun: IR) -> tuple[IR, list, IR, list, list[bool], list[bool]]:
    """``fun``'s reverse mode as two closed programs: the forward part (outputs and
    residuals from the inputs) and the backward part (gradients from residuals and
    cotangents), with their constants and which inputs/outputs are differentiable."""
    wrt = [is_float(v.aval.dtype) for v in fun.invars]
    has_ct = [is_float(x.aval.dtype) for x in fun.outvars]
    joint = vjp_ir(fun, wrt, has_ct)
    n_in, n_out, n_ct = len(fun.invars), len(fun.outvars), sum(has_ct)
    known, unknown, _ = partial_eval_ir(
        joint, [False] * n_in + [True] * n_ct, [False] * n_out + [True] * sum(wrt))
    known, kconsts = closure_convert(known)
    unknown, uconsts = closure_convert(unknown)
    return known, kconsts, unknown, uconsts, wrt, has_ct


def _jit_call_fwd(ins: list, *, fun: IR, name: str) -> tuple[list, Any]:
    known, kconsts, unknown, uconsts, wrt, has_ct = _derived(
        fun, "vjp", lambda: _vjp_split(fun), _closed)
    n_out = len(fun.outvars)
    res = jit_call_p.bind(*kconsts, *ins, fun=known, name=f"fwd({name})")
    return res[:n_out], (res[n_out:], unknown, uconsts, wrt, has_ct)


def _jit_call_bwd(saved: Any, cts: list, *, fun: IR, name: str) -> list:
    res, unknown, uconsts, wrt, has_ct = saved
    cts = [zeros(c.aval) if isinstance(c, Zero) else c
           for c, h in zip(cts, has_ct, strict=True) if h]
    grads = iter(jit_call_p.bind(*uconsts, *res, *cts, fun=unknown, name=f"bwd({name})"))
    return [next(grads) if w else None for w in wrt]


def _jit_call_cases(rng: np.random.Generator, dtype: Any) -> list:
    import jitgrad.numpy as jnp
    x = rng.uniform(-2, 2, (2, 3)).astype(dtype)
    y = rng.uniform(-2, 2, (3,)).astype(dtype)
    ir, _ = closure_convert(trace(lambda a, b: [jnp.sum(jnp.sin(a) * b, axis=0), a * 2.0],
                                  [aval_of(x), aval_of(y)]))
    return [((x, y), {"fun": ir, "name": "case"})]


def _jit_call_batch(args: list, dims: list, /, *, fun: IR, name: str) -> tuple[list, list]:
    size = batch_size(args, dims)

    def make() -> tuple[IR, list, list]:
        batched, odims = vmap_ir(fun, dims, size, out_front=False)
        return (*closure_convert(batched), odims)

    batched, consts, odims = _derived(fun, ("vmap", tuple(dims), size), make, _closed)
    return jit_call_p.bind(*consts, *args, fun=batched, name=f"vmap({name})"), odims


jit_call_p = register(Primitive(
    "jit_call", lambda *avals, fun, name: [v.aval for v in fun.outvars], _jit_call_impl, Inline(),
    jvp=_jit_call_jvp, vjp_fwd=_jit_call_fwd, vjp_bwd=_jit_call_bwd, batch=_jit_call_batch,
    multiple_results=True, test_cases=_jit_call_cases))
