"""Generated loop kernels compiled to machine code without Numba's per-function pipeline.

A loop kernel's source (``codegen.render_kernel``) is a small subset of Python: ``for`` loops
over ``range``, assignments of scalars, array elements read and written at index expressions,
and calls of operators, ``math``/numpy functions and the helper modules' functions. Numba
spends ≈ 0.2 s CPU compiling each such function (bytecode analysis, its own IR, SSA, type
inference over the whole function, lowering, a CPython wrapper; COMPILE_NOTES.md), most of it
fixed cost. Here the kernel's syntax tree is walked once and each operation is typed and
lowered by Numba's own typing and lowering registries (``resolve_function_type`` and
``get_function``: the same implementations, casts and error model Numba would use, helpers
linked and inlined the same way), into one LLVM module that Numba's code generator optimises
and finalises. A small wrapper, compiled once per argument spec and shared by the kernels of
that spec, reads their arguments straight from the array objects (checking type, dtype, rank,
alignment and, where the kernel was specialised for it, C-contiguity) and releases the GIL
around the loops; a kernel is a builtin function, so a call costs less than a dispatcher's.
Anything else (another construct, or an argument of another kind or layout) goes to the
Numba-compiled kernel of the same source, so a kernel is never less general than Numba's.

Compiled code is cached on disk beside the kernel modules (object code, not a pickle), keyed
by source, argument types, this module and the machine."""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import copy
import ctypes
import functools
import hashlib
import importlib.abc
import importlib.util
import json
import logging
import operator
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jitgrad.backend import cache, scalar
from jitgrad.core import config

log = logging.getLogger("jitgrad")


class Unsupported(Exception):
    """A construct or operation this lowering leaves to Numba."""


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
           ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_INPLACE = {ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
            ast.Div: operator.itruediv}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
          ast.Invert: operator.invert}

# CPython's object header and numpy's array and dtype structs (numpy/ndarraytypes.h, the same
# in numpy 1.x and 2.x), checked against live objects before first use (``_layout_ok``).
_OB_TYPE = 8
_AR_DATA, _AR_ND, _AR_DIMS, _AR_STRIDES, _AR_DESCR, _AR_FLAGS = 16, 24, 32, 40, 56, 64
_DESCR_BYTEORDER, _DESCR_TYPE_NUM = 26, 28
_C_CONTIGUOUS, _ALIGNED = 0x1, 0x100
_METH_FASTCALL = 0x80


_MAGIC = b"jitgrad direct kernel 1\n"


@functools.cache
def _layout_ok() -> bool:
    """Whether the offsets above hold in this process (they do in every CPython and numpy
    jitgrad supports; a build where they do not, e.g. a free-threaded CPython, uses Numba)."""
    def word(addr: int) -> int:
        return ctypes.c_void_p.from_address(addr).value or 0

    def i32(addr: int) -> int:
        return ctypes.c_int.from_address(addr).value

    samples = [np.zeros((2, 3)), np.zeros((4, 6), np.float32)[:, ::2], np.zeros(5, ">f8"),
               np.zeros((), np.int8), np.zeros((3, 1), np.bool_).T]
    for a in samples:
        at = id(a)
        ok = (word(at + _OB_TYPE) == id(np.ndarray)
              and word(at + _AR_DATA) == a.__array_interface__["data"][0]
              and i32(at + _AR_ND) == a.ndim
              and all(ctypes.c_ssize_t.from_address(word(at + _AR_DIMS) + 8 * d).value == n
                      for d, n in enumerate(a.shape))
              and all(ctypes.c_ssize_t.from_address(word(at + _AR_STRIDES) + 8 * d).value == s
                      for d, s in enumerate(a.strides))
              and word(at + _AR_DESCR) == id(a.dtype)
              and i32(word(at + _AR_DESCR) + _DESCR_TYPE_NUM) == a.dtype.num
              and ctypes.c_char.from_address(word(at + _AR_DESCR) + _DESCR_BYTEORDER).value
              == a.dtype.byteorder.encode()
              and bool(i32(at + _AR_FLAGS) & _C_CONTIGUOUS) == a.flags.c_contiguous
              and bool(i32(at + _AR_FLAGS) & _ALIGNED) == a.flags.aligned)
        if not ok:
            return False
    return ctypes.sizeof(ctypes.c_ssize_t) == 8 and sys.byteorder == "little"


COMPILERS = ("direct", "numba")


def enabled() -> bool:
    if config.kernel_compiler not in COMPILERS:
        raise ValueError(f"jitgrad.config.kernel_compiler must be one of {COMPILERS}, got "
                         f"{config.kernel_compiler!r}")
    return config.kernel_compiler == "direct" and _layout_ok()


# ---------------------------------------------------------------------------------------------
# Argument specs: what a specialisation is compiled for and its wrapper checks at every call


def spec_of(args: tuple) -> tuple | None:
    """The argument types of a kernel call (per argument: ("a", dtype, ndim, layout) for an
    aligned, native-order ndarray, ("i",) for a Python int), or None if some argument is of
    another kind (the Numba kernel takes those)."""
    spec = []
    for a in args:
        if type(a) is np.ndarray:
            if not a.flags.aligned or not a.dtype.isnative:
                return None
            spec.append(("a", a.dtype, a.ndim, "C" if a.flags.c_contiguous else "A"))
        elif type(a) is int:
            spec.append(("i",))
        else:
            return None
    return tuple(spec)


# ---------------------------------------------------------------------------------------------
# Numba's start-up

class _DeferSciPyLinalg(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "scipy.linalg" or name.startswith("scipy.linalg."):
            raise ModuleNotFoundError(name)


def _lean_registries(ctx: Any) -> None:
    """The part of Numba's CPU registries that kernels and inline helpers are lowered with:
    operators, casts and constructors of numbers, tuples and ranges, ``math``/``cmath`` and
    numpy's ufuncs on scalars (what ``CPUContext.load_additional_registries`` loads for
    these)."""
    from numba.core import optional  # noqa: F401
    from numba.cpython import (  # noqa: F401
        builtins,
        cmathimpl,
        enumimpl,
        iterators,
        mathimpl,
        numbers,
        rangeobj,
        slicing,
        tupleobj,
    )
    from numba.np import npyimpl
    for registry in (cmathimpl.registry, mathimpl.registry, npyimpl.registry):
        ctx.install_registry(registry)


class _Registries:
    """Which of Numba's CPU registries load when Numba refreshes its contexts: only the lean
    part (``_lean_registries``) while this module lowers code (``lowering``, under Numba's
    compiler lock) and no Numba compile runs inside it (``compiling``, from Numba's compile
    events); the whole, as Numba loads it, at any other refresh (a Numba compile, a load
    from Numba's cache, jitgrad's own or anybody's) and at every refresh once it was."""

    lowering = 0
    compiling = 0
    whole = False


@contextlib.contextmanager
def _lowering() -> Any:
    """Numba's refreshes load only the lean registries meanwhile (see ``_Registries``)."""
    _Registries.lowering += 1
    try:
        yield
    finally:
        _Registries.lowering -= 1


@functools.cache
def start_numba() -> None:
    """Initialise Numba's CPU target as lowering kernels here needs it, and no more: the
    rest of its registries loads when Numba itself first compiles or loads code from its
    cache, without its one eager SciPy import.

    Numba loads every registry before its first compile: arrays, linear algebra, random
    generators, typed containers, jitclasses, strings, its runtime library (compiled) and
    installed extensions. Lowering a kernel here uses the scalar part (``_lean_registries``);
    the rest took 0.07 of the 0.15 s start-up measured here, before a new program's first
    kernel. ``CPUContext.load_additional_registries`` is wrapped to load what
    ``_Registries`` says: Numba refreshes its contexts before each compile and cache load
    and while it lowers (an array's struct looks up an implementation that does not exist,
    which refreshes them), and any of those outside this module's lowering loads the whole.
    A kernel calling a function Numba compiles (``_typed``) loads the whole first.

    One registry imports ``scipy.linalg`` only to record whether BLAS exists for
    ``np.correlate``; that import was about 0.3 s of Numba's start-up, and no jitgrad kernel
    needs it: it is deferred while the registries load, and the flag set from where SciPy
    would be found (without importing it). Numba imports SciPy itself when code uses BLAS."""
    # The package first: a thread that imports a submodule first takes that submodule's
    # import lock, then waits for the package's, which another thread importing Numba holds
    # while it waits for the submodule's. (Tiered execution starts Numba on a background
    # thread while the caller's eager special functions import it: Python's deadlock
    # detector then failed one of the two imports.)
    import numba  # noqa: F401
    from numba.core import event
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target
    ctx = cpu_target.target_context
    whole = ctx.load_additional_registries

    class NumbaCompiles(event.Listener):
        """Counts the Numba compiles running (``_Registries.compiling``)."""

        def on_start(self, event: Any) -> None:
            _Registries.compiling += 1

        def on_end(self, event: Any) -> None:
            _Registries.compiling -= 1

    def load_additional_registries() -> None:
        if not _Registries.whole and _Registries.lowering and not _Registries.compiling:
            _lean_registries(ctx)
            return
        if _Registries.whole:
            whole()
            return
        _Registries.whole = True
        if "scipy.linalg" in sys.modules:
            whole()
            return
        blocker = _DeferSciPyLinalg()
        sys.meta_path.insert(0, blocker)
        try:
            whole()
        finally:
            sys.meta_path.remove(blocker)
        try:
            import numba.np.arraymath as arraymath
            arraymath._HAVE_BLAS = importlib.util.find_spec("scipy.linalg") is not None
        except (ImportError, AttributeError, ValueError):
            pass

    # Under Numba's compiler lock: a compile in another thread (the caller's eager special
    # functions, while this runs on tiered execution's background thread) typed against
    # half-loaded registries ("Unknown attribute 'size' of type array(float64, 1d, C)").
    with global_compiler_lock:
        event.register("numba:compile", NumbaCompiles())
        ctx.load_additional_registries = load_additional_registries
        with _lowering():
            ctx.refresh()


def _load_whole() -> None:
    """Load Numba's whole registries now (see ``start_numba``)."""
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target
    start_numba()
    with global_compiler_lock:
        depth, _Registries.lowering = _Registries.lowering, 0
        try:
            cpu_target.target_context.refresh()
        finally:
            _Registries.lowering = depth


def _contexts() -> tuple[Any, Any]:
    from numba.core.registry import cpu_target
    start_numba()
    return cpu_target.typing_context, cpu_target.target_context


@functools.cache
def _target(error_model: str, fastmath: frozenset | bool) -> Any:
    """Numba's CPU target context as a function compiled with these options gets it."""
    from numba.core import callconv
    from numba.core.cpu_options import FastMathOptions
    _, ctx = _contexts()
    options = {"error_model": callconv.create_error_model(error_model, ctx)}
    if fastmath:
        options["fastmath"] = FastMathOptions(set(fastmath) if fastmath is not True else True)
    target = ctx.subtarget(**options)
    lookup = target.get_function

    def get_function(fn: Any, sig: Any, _firstcall: bool = True) -> Any:
        # Every array struct Numba's implementations build asks for an ``__array__``
        # implementation of its type (an array-like's unwrapping), which Numba's arrays do not
        # have: the failed lookup refreshes every registry first, then fails again (0.2 ms
        # each, several per array access lowered, 527 in the 100 random programs).
        return lookup(fn, sig, _firstcall=_firstcall and fn != "__array__")

    target.get_function = get_function
    return target


@functools.cache
def _array_struct(ty: Any) -> Any:
    """Numba's struct class of array type ``ty`` (``context.make_array`` builds a new class at
    every call: 0.6 ms each, several per kernel)."""
    from numba.np.arrayobj import make_array
    return make_array(ty)


def _numba_type(arg: tuple) -> Any:
    from numba import from_dtype, types
    if arg[0] == "i":
        return types.intp
    return types.Array(from_dtype(arg[1]), arg[2], arg[3])


# ---------------------------------------------------------------------------------------------
# Lowering a kernel function's syntax tree


class _Lowering:
    """Walks one function's statements, typing and lowering each operation through Numba's
    registries. Every local is an alloca in the entry block (LLVM's mem2reg makes them
    registers); a name keeps the type of its first assignment (where Numba would unify two
    types, this leaves the kernel to Numba)."""

    def __init__(self, ctx: Any, builder: Any, namespace: dict, unit: _Unit) -> None:
        self.tctx, _ = _contexts()
        self.ctx, self.builder, self.namespace = ctx, builder, namespace
        self.unit = unit
        self.restype: Any = None  # what the function returns: its first return's type
        self.vars: dict[str, tuple[Any, Any]] = {}
        # parameter arrays never assigned: their data pointer, shape and strides (``unpack``)
        self.arrays: dict[str, tuple[Any, list, list]] = {}
        self.allocated: list[Any] = []  # scratch arrays, freed at the end
        self.depth = 0  # loops around the statement being lowered

    # -- names

    def bind(self, name: str, value: Any, ty: Any) -> None:
        from numba.core import cgutils
        if name not in self.vars:
            slot = cgutils.alloca_once(self.builder, self.ctx.get_value_type(ty), name=name)
            self.vars[name] = (slot, ty)
        slot, known = self.vars[name]
        if known != ty:
            from numba import types
            # Outside loops the statements run in their order, so a name given an integer of
            # another width (``q = q + shift``, int32 plus int64) can be a new slot: Numba
            # would widen both assignments to the unified type, and integer operations widen
            # their operands as that store would. Anything else is left to Numba.
            if self.depth or not (isinstance(known, types.Integer)
                                  and isinstance(ty, types.Integer)):
                raise Unsupported(f"{name} is assigned {known} and {ty}")
            del self.vars[name]
            return self.bind(name, value, ty)
        self.builder.store(value, slot)

    def lookup(self, node: ast.expr) -> Any:
        """The Python object a global name or attribute chain (``np.float32``) stands for."""
        if isinstance(node, ast.Name):
            if node.id in self.namespace:
                return self.namespace[node.id]
            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
            raise Unsupported(f"unknown name {node.id}")
        if isinstance(node, ast.Attribute):
            return getattr(self.lookup(node.value), node.attr)
        raise Unsupported(ast.dump(node))

    # -- statements

    def block(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        from numba import types
        from numba.core import cgutils
        b = self.builder
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            target = s.targets[0]
            value, ty = self.expr(s.value)
            if isinstance(target, ast.Name):
                self.bind(target.id, value, ty)
            elif isinstance(target, ast.Subscript):
                self.setitem(target, (value, ty))
            elif isinstance(target, ast.Tuple) and isinstance(ty, types.BaseTuple) and \
                    len(ty) == len(target.elts) and \
                    all(isinstance(t, ast.Name) for t in target.elts):
                for i, (t, ety) in enumerate(zip(target.elts, ty, strict=True)):
                    self.bind(t.id, b.extract_value(value, i), ety)
            else:
                raise Unsupported(ast.dump(s))
        elif isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name) and \
                type(s.op) in _INPLACE:
            self.bind(s.target.id, *self.call(_INPLACE[type(s.op)],
                                               [self.expr(s.target), self.expr(s.value)]))
        elif isinstance(s, ast.For) and not s.orelse and isinstance(s.target, ast.Name) and \
                isinstance(s.iter, ast.Call) and self.lookup(s.iter.func) is range and \
                1 <= len(s.iter.args) <= 3 and not s.iter.keywords:
            bounds = [self.int_value(a) for a in s.iter.args]
            start, stop = (bounds[0], bounds[1]) if len(bounds) > 1 else \
                (self.ctx.get_constant(types.intp, 0), bounds[0])
            step = 1
            if len(bounds) == 3:
                try:
                    step = ast.literal_eval(s.iter.args[2])  # (-1 is an operation on 1)
                except ValueError:
                    step = None
                if type(step) is not int or step == 0:
                    raise Unsupported("a range step that is not a constant")
            with cgutils.for_range_slice(b, start, stop, self.ctx.get_constant(types.intp, step),
                                         intp=start.type, inc=step > 0) as (i, _):
                self.bind(s.target.id, i, types.intp)
                self.depth += 1
                self.block(s.body)
                self.depth -= 1
        elif isinstance(s, ast.Return) and s.value is not None and not self.depth:
            from numba.core.callconv import RETCODE_OK
            value, ty = self.expr(s.value)
            if self.restype is None:
                self.restype = ty  # (see _Unit._lower)
            if ty != self.restype:
                raise Unsupported(f"returns {ty}, not {self.restype}")
            self.free_scratch()
            # Numba's ``return_value`` into the untyped return pointer of the body.
            b.store(value, b.bitcast(b.function.args[0], value.type.as_pointer()))
            b.ret(RETCODE_OK)
        elif isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and
                                         isinstance(s.value, ast.Constant)):
            pass  # (a docstring)
        else:
            raise Unsupported(ast.dump(s)[:80])

    # -- array elements

    def unpack(self, name: str, value: Any, ty: Any) -> None:
        """Keep parameter array ``name``'s data pointer, shape and strides, unpacked once at
        the function's entry: Numba's indexing copies the whole array struct to the stack at
        every access, a third of a small kernel's IR that LLVM then takes apart again."""
        from numba.core import cgutils
        b, dm = self.builder, self.ctx.data_model_manager[ty]

        def field(f: str) -> Any:
            return b.extract_value(value, dm.get_field_position(f))

        self.arrays[name] = (field("data"), cgutils.unpack_tuple(b, field("shape"), ty.ndim),
                             cgutils.unpack_tuple(b, field("strides"), ty.ndim))

    def indexed(self, node: ast.Subscript, extra: list[tuple[Any, Any]]
                ) -> tuple[Any, Any, list[tuple[Any, Any]]]:
        """``operator.getitem`` (no ``extra``) or ``setitem`` (``extra``: the value) of
        subscript ``node``, typed by Numba: (the pointer to the element, or None, the
        signature, the arguments). The pointer is there when ``node`` takes one element of
        an unpacked parameter array by integers, and is computed as Numba's basic indexing
        computes it (the same casts, negative indices wrapped, no bounds check as kernels
        compile); anything else is left to Numba's implementation."""
        from numba import types
        from numba.core import cgutils
        from numba.cpython.slicing import fix_index
        b, ctx = self.builder, self.ctx
        arr = self.expr(node.value)
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else None
        idx = [self.expr(e) for e in elts] if elts is not None else [self.expr(node.slice)]
        index = self.tuple_of(idx) if elts is not None else idx[0]
        fn = operator.setitem if extra else operator.getitem
        args = [arr, index, *extra]
        sig, _ = _typed(ctx, fn, tuple(t for _, t in args))
        name = node.value.id if isinstance(node.value, ast.Name) else None
        aryty, idxty = arr[1], sig.args[1]
        itys = list(idxty) if isinstance(idxty, types.BaseTuple) else [idxty]
        if name not in self.arrays or len(sig.args) != len(args) or ctx.enable_boundscheck \
                or len(itys) != len(idx) or len(idx) != aryty.ndim or \
                not all(isinstance(t, types.Integer) for t in itys) or \
                (fn is operator.getitem and sig.return_type != aryty.dtype):
            return None, sig, args
        data, shape, strides = self.arrays[name]
        fixed = []
        for (v, t), it, size in zip(idx, itys, shape, strict=True):
            v = ctx.cast(b, v, t, it)  # (the cast of the whole index tuple, element-wise)
            if it.signed:
                fixed.append(fix_index(b, ctx.cast(b, v, it, types.intp), size))
            else:
                fixed.append(ctx.cast(b, v, it, types.uintp))
        ptr = cgutils.get_item_pointer2(ctx, b, data=data, shape=shape, strides=strides,
                                        layout=aryty.layout, inds=fixed, wraparound=False,
                                        boundscheck=False)
        return ptr, sig, args

    def getitem(self, node: ast.Subscript) -> tuple[Any, Any]:
        from numba.np.arrayobj import load_item
        ptr, sig, args = self.indexed(node, [])
        if ptr is None:
            return self.call(operator.getitem, args)
        return load_item(self.ctx, self.builder, args[0][1], ptr), sig.return_type

    def setitem(self, node: ast.Subscript, value: tuple[Any, Any]) -> None:
        from numba.np.arrayobj import store_item
        ptr, sig, args = self.indexed(node, [value])
        if ptr is None:
            self.call(operator.setitem, args)
            return
        b, ctx, aryty = self.builder, self.ctx, args[0][1]
        v = ctx.cast(b, value[0], value[1], sig.args[2])
        store_item(ctx, b, aryty, ctx.cast(b, v, sig.args[2], aryty.dtype), ptr)

    # -- expressions

    def int_value(self, node: ast.expr) -> Any:
        from numba import types
        value, ty = self.expr(node)
        if not isinstance(ty, types.Integer):
            raise Unsupported(f"a loop bound of type {ty}")
        return self.ctx.cast(self.builder, value, ty, types.intp)

    def tuple(self, elts: list[ast.expr]) -> tuple[Any, Any]:
        return self.tuple_of([self.expr(e) for e in elts])

    def tuple_of(self, vals: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        from numba import types
        tys = [t for _, t in vals]
        tty = types.UniTuple(tys[0], len(tys)) if tys and len(set(tys)) == 1 else \
            types.Tuple(tys)
        return self.ctx.make_tuple(self.builder, tty, [v for v, _ in vals]), tty

    def constant(self, value: Any) -> tuple[Any, Any]:
        """A global or literal as Numba freezes it: Python numbers, numpy scalars, tuples and
        named tuples of them (vmath's constant tables) and read-only arrays (stored in the
        module, as Numba stores global arrays)."""
        from numba import typeof, types
        if isinstance(value, bool):
            ty = types.boolean
        elif isinstance(value, int):
            ty = types.intp
        elif isinstance(value, float):
            ty = types.float64
        elif isinstance(value, (np.number, np.bool_, tuple)) or (
                type(value) is np.ndarray and not value.flags.writeable):
            try:
                ty = typeof(value)
            except ValueError:
                ty = None
            if not _constant_type(ty):
                raise Unsupported(f"constant {value!r}")
        else:
            raise Unsupported(f"constant {value!r}")
        return self.ctx.get_constant_generic(self.builder, ty, value), ty

    def expr(self, node: ast.expr) -> tuple[Any, Any]:
        from numba import types
        from numba.core import cgutils
        b = self.builder
        if isinstance(node, ast.Name):
            if node.id in self.vars:
                slot, ty = self.vars[node.id]
                return b.load(slot), ty
            return self.constant(self.lookup(node))
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Tuple):
            return self.tuple(node.elts)
        if isinstance(node, ast.Attribute):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if not (isinstance(base, ast.Name) and base.id not in self.vars):
                return self.attribute(self.expr(node.value), node.attr)
            return self.constant(self.lookup(node))
        if isinstance(node, ast.Subscript):
            v = node.value
            if isinstance(v, ast.Attribute) and v.attr == "shape" and \
                    isinstance(v.value, ast.Name) and isinstance(node.slice, ast.Constant):
                if v.value.id in self.arrays:
                    return self.arrays[v.value.id][1][node.slice.value], types.intp
                arr, ty = self.expr(v.value)
                if not isinstance(ty, types.Array):
                    raise Unsupported("shape of a non-array")
                ary = _array_struct(ty)(self.ctx, b, value=arr)
                return cgutils.unpack_tuple(b, ary.shape)[node.slice.value], types.intp
            return self.getitem(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.call(_BINOPS[type(node.op)], [self.expr(node.left),
                                                       self.expr(node.right)])
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return self.call(_UNARY[type(node.op)], [self.expr(node.operand)])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return self.call(_COMPARE[type(node.ops[0])], [self.expr(node.left),
                                                            self.expr(node.comparators[0])])
        if isinstance(node, ast.BoolOp):
            # ``and``/``or`` of booleans (comparisons): every operand is computed, as for the
            # conditional below, and combined bitwise, which for booleans is the same value.
            vals = [self.expr(v) for v in node.values]
            if any(not isinstance(t, types.Boolean) for _, t in vals):
                raise Unsupported("and/or of non-booleans")
            combine = b.and_ if isinstance(node.op, ast.And) else b.or_
            result = vals[0][0]
            for v, _ in vals[1:]:
                result = combine(result, v)
            return result, types.boolean
        if isinstance(node, ast.IfExp):
            # Both operands are computed and one selected: kernel expressions are pure, and
            # with Numba's numpy error model no operation traps (an integer division by zero
            # gives 0), so this is the value Numba's two branches give.
            cond, cty = self.expr(node.test)
            cond = self.ctx.is_true(b, cty, cond)
            (x, xty), (y, yty) = self.expr(node.body), self.expr(node.orelse)
            ty = self.tctx.unify_pairs(xty, yty)
            if ty is None or not isinstance(ty, (types.Number, types.Boolean)):
                raise Unsupported(f"a conditional of {xty} and {yty}")
            return b.select(cond, self.ctx.cast(b, x, xty, ty),
                            self.ctx.cast(b, y, yty, ty)), ty
        if isinstance(node, ast.Call) and not node.keywords:
            if isinstance(node.func, ast.Name) and node.func.id in self.unit.local:
                # another function of the kernel's module (``chunk``)
                return self.local_call(node.func.id, [self.expr(a) for a in node.args])
            fn = self.lookup(node.func)
            if fn is scalar.scratch_f64:
                return self.scratch(node)
            args = [self.expr(a) for a in node.args]
            if getattr(fn, cache.INLINE, False):
                try:
                    return self.helper_call(fn, args)
                except Unsupported as e:  # Numba compiles (or loads) that helper
                    log.debug("jitgrad: helper %s compiles with Numba: %s", fn.__name__, e)
            return self.call(fn, args)
        raise Unsupported(ast.dump(node)[:80])

    def scratch(self, node: ast.Call) -> tuple[Any, Any]:
        """``scratch_f64(shape)``, a kernel's float64 scratch array (the row sums of float32
        column reductions): Numba's ``np.empty`` needs its runtime; here it is malloc'd at the
        kernel's top level and freed at its end."""
        import llvmlite.ir as ir
        from numba import types
        from numba.core import cgutils
        from numba.np.arrayobj import populate_array
        b, ctx = self.builder, self.ctx
        if self.depth or len(node.args) != 1 or not isinstance(node.args[0], ast.Tuple):
            raise Unsupported("scratch_f64 in a loop or of no literal shape")
        shape = [self.int_value(e) for e in node.args[0].elts]
        ty = types.Array(types.float64, len(shape), "C")
        nbytes = ctx.get_constant(types.intp, 8)
        for n in shape:
            nbytes = b.mul(nbytes, n)
        i64 = ir.IntType(64)
        malloc = cgutils.get_or_insert_function(
            b.module, ir.FunctionType(ir.IntType(8).as_pointer(), [i64]), "malloc")
        data = b.call(malloc, [b.add(nbytes, i64(1))])  # (never malloc(0))
        with b.if_then(cgutils.is_null(b, data), likely=False):
            ctx.call_conv.return_user_exc(b, MemoryError, ("jitgrad: out of memory for a "
                                                           "kernel's scratch row",))
        self.allocated.append(data)
        strides, step = [], ctx.get_constant(types.intp, 8)
        for n in reversed(shape):
            strides.insert(0, step)
            step = b.mul(step, n)
        ary = _array_struct(ty)(ctx, b)
        populate_array(ary, data=b.bitcast(data, ary.data.type),
                       shape=cgutils.pack_array(b, shape, i64),
                       strides=cgutils.pack_array(b, strides, i64),
                       itemsize=ctx.get_constant(types.intp, 8), meminfo=None)
        return ary._getvalue(), ty

    def free_scratch(self) -> None:
        import llvmlite.ir as ir
        from numba.core import cgutils
        free = cgutils.get_or_insert_function(
            self.builder.module,
            ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()]), "free")
        for data in self.allocated:
            self.builder.call(free, [data])

    def attribute(self, value: tuple[Any, Any], attr: str) -> tuple[Any, Any]:
        """``value.attr`` (a named tuple's field, an array's ``shape``) as Numba types and
        lowers it."""
        val, ty = value
        attrty = self.tctx.resolve_getattr(ty, attr)
        if attrty is None or not _constant_type(attrty):
            raise Unsupported(f"{ty}.{attr}")
        return self.ctx.get_getattr(ty, attr)(self.ctx, self.builder, ty, val, attr), attrty

    def helper_call(self, fn: Any, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """A call of an inline helper (``cache.inline_helper``: vmath, special_math's hot
        functions, ...), lowered like a kernel (``_helper``) instead of compiled by Numba,
        declared here and linked into the kernel's module, where LLVM inlines it."""
        from numba.core import cgutils
        h = _helper(fn, tuple(t for _, t in args))
        self.unit.use(h)
        decl = cgutils.get_or_insert_function(
            self.builder.module,
            self.ctx.call_conv.get_function_type(h.restype, [t for _, t in args]), h.name)
        return self.call_lowered(decl, h.restype, args)

    def call_lowered(self, fn: Any, restype: Any, args: list[tuple[Any, Any]]
                     ) -> tuple[Any, Any]:
        """A call of LLVM function ``fn`` under Numba's calling convention (a helper, or a
        function of the kernel's module); an exception it raised returns from this function
        too, as a Numba-compiled call would."""
        from numba.core import cgutils
        b, ctx, restype = self.builder, self.ctx, restype or _none()
        status, value = ctx.call_conv.call_function(b, fn, restype, [t for _, t in args],
                                                    [v for v, _ in args])
        with cgutils.if_unlikely(b, status.is_error):
            ctx.call_conv.return_status_propagate(b, status)
        return value, restype

    def local_call(self, fname: str, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """A call of another function of the kernel's module (``chunk``), lowered into the
        same LLVM module."""
        if fname not in self.unit.functions or fname == "kernel":
            raise Unsupported(f"a call of {fname}")
        return self.call_lowered(*self.unit.function(fname, tuple(t for _, t in args)), args)

    def call(self, fn: Any, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """``fn(*args)`` as Numba types and lowers it (operators, numpy and math functions,
        number constructors, helper functions and intrinsics alike)."""
        from numba import types
        argtys = tuple(t for _, t in args)
        if fn in (min, max) and len(args) > 1 and \
                all(isinstance(t, types.Integer | types.Float) for t in argtys):
            return self.min_max(fn, args)
        sig, impl = _typed(self.ctx, fn, argtys)
        if len(sig.args) == len(args):
            vals = [self.ctx.cast(self.builder, v, t, st)
                    for (v, t), st in zip(args, sig.args, strict=True)]
        else:  # f(*x) (the builtin max and min): the arguments as one tuple
            (tty,) = sig.args
            packed, ptys = self.tuple_of(args)
            vals = [self.ctx.cast(self.builder, packed, ptys, tty)]
        return impl(self.builder, vals), sig.return_type


    def min_max(self, fn: Any, args: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """The builtin ``min``/``max`` of numbers, lowered as Numba's own overload lowers it
        (``do_minmax``: Python's order of comparisons, so NaNs as in Python, in the
        arguments' unified type). Numba compiles the overload's small function for each
        argument signature instead, which is a Numba compile (and the whole of its registries
        loaded, see ``start_numba``) in the middle of a helper's lowering on a new install."""
        from numba.cpython.builtins import do_minmax
        argtys = [t for _, t in args]
        ty = self.tctx.unify_types(*argtys)
        if ty is None:
            raise Unsupported(f"{fn.__name__} of {argtys}")
        value = do_minmax(self.ctx, self.builder, argtys, [v for v, _ in args],
                          operator.lt if fn is min else operator.gt)
        return value, ty


_typings: dict[tuple, tuple[Any, Any] | str] = {}


def _star(sig: Any, n: int) -> bool:
    """Whether ``sig`` takes its ``n`` arguments as one tuple (``def f(*x)``)."""
    import inspect

    from numba import types
    params = list(sig.pysig.parameters.values()) if sig.pysig is not None else []
    return len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL and \
        len(sig.args) == 1 and isinstance(sig.args[0], types.BaseTuple) and \
        len(sig.args[0]) == n


def _typed(ctx: Any, fn: Any, argtys: tuple) -> tuple[Any, Any]:
    """Numba's signature and implementation of ``fn(*argtys)`` in ``ctx`` (a subtarget of
    ``_target``'s), remembered for the process: each costs 0.1-2 ms to resolve, and kernels
    repeat the same few operations."""
    from numba import types
    from numba.core.errors import NumbaError
    key = (ctx, fn, argtys)
    found = _typings.get(key)
    if isinstance(found, str):
        raise Unsupported(found)
    if found is not None:
        return found
    tctx, base = _contexts()
    if hasattr(fn, "py_func") and hasattr(fn, "targetoptions"):
        _load_whole()  # a function Numba compiles (or loads) for this call
    scalar = (types.Number, types.Boolean, types.NoneType)
    for first in (True, False):
        try:
            fnty = tctx.resolve_value_type(fn)
            sig = tctx.resolve_function_type(fnty, argtys, {})
            ret = sig.return_type if sig is not None and (
                len(sig.args) == len(argtys) or _star(sig, len(argtys))) else None
            if ret is None:
                why = f"{fn} of {argtys}: no signature"
            elif not (isinstance(ret, scalar) or (isinstance(ret, types.BaseTuple)
                                                  and all(isinstance(t, scalar) for t in ret))):
                why = f"{fn} returns {ret}"  # e.g. an array: Numba's runtime would own it
                break
            else:
                _typings[key] = found = (sig, ctx.get_function(fnty, sig))
                return found
        except (NumbaError, TypeError, ValueError, KeyError, NotImplementedError) as e:
            why = f"{fn} of {argtys}: {e}"
        if first:
            # Once more with what was registered since Numba's last refresh (an intrinsic of
            # a helper module imported since), as Numba's own lookups retry.
            base.refresh()
    _typings[key] = why
    raise Unsupported(why)


def _constant_type(ty: Any) -> bool:
    """Whether values of Numba type ``ty`` are plain data a kernel may hold: numbers,
    booleans, tuples of them, arrays (no Python objects, nothing Numba's runtime owns)."""
    from numba import types
    if isinstance(ty, (types.Number, types.Boolean)):
        return True
    if isinstance(ty, types.BaseTuple):
        return all(_constant_type(t) for t in ty)
    return isinstance(ty, types.Array)


# ---------------------------------------------------------------------------------------------
# Inline helpers: vmath's and special_math's functions lowered like kernels

class _Helper:
    """An inline helper lowered for one argument signature: the symbol of its function, its
    return type and its module (optimised with every function it calls inlined; a clone is
    linked into each kernel module calling it, where LLVM inlines it)."""

    __slots__ = ("name", "restype", "module")

    def __init__(self, name: str, restype: Any, module: Any):
        self.name, self.restype, self.module = name, restype, module


_helpers: dict[tuple, _Helper | str] = {}
_HELPER_OPTIONS = {"forceinline", "no_cpython_wrapper", "no_cfunc_wrapper", "error_model",
                   "fastmath", "nopython", "boundscheck", "nogil"}
_HELPER_MAGIC = b"jitgrad direct helper 1\n"


def _helper(fn: Any, argtys: tuple) -> _Helper:
    """Inline helper ``fn`` (a Numba dispatcher of ``cache.inline_helper``) for ``argtys``,
    lowered like a kernel and cached on disk as bitcode beside the kernels. Numba would type,
    lower and optimise it and each helper it calls in a pipeline of their own, and compile
    each to machine code that is never run (callers inline the bitcode): ≈ 0.5 s CPU for sin
    or tanh, before the first kernel calling it is ready on a new install."""
    key = (fn, argtys)
    found = _helpers.get(key)
    if found is None:
        _helpers[key] = "calls itself"  # (until lowered: a recursive helper stays Numba's)
        try:
            ctx, symbol = _helper_target(fn, argtys)
            path = _helper_path(fn, symbol)
            found = _load_helper(path, symbol) if path is not None else None
            if found is not None:
                stats["helpers loaded"] += 1
            else:
                found = _lower_helper(fn, argtys, ctx, symbol)
                stats["helpers lowered"] += 1
                if path is not None:
                    _write(path, _HELPER_MAGIC, _encoded(found.restype).encode(),
                           found.module.as_bitcode())
        except Unsupported as e:
            found = str(e)
        except Exception as e:  # noqa: BLE001 - a failure of the lowering: Numba compiles it
            log.warning("jitgrad: helper %s compiles with Numba (direct lowering failed: %r)",
                        fn.__name__, e)
            found = repr(e)
        _helpers[key] = found
    if isinstance(found, str):
        raise Unsupported(found)
    return found


def _helper_path(fn: Any, symbol: str) -> Path | None:
    """Where helper ``fn``'s lowering ``symbol`` is cached: in the directory of Numba's cache
    of ``fn`` (so with the built-in kernels, as Numba cached it), if jitgrad trusts it
    (``cache.disk_cache``), else nowhere."""
    inner = fn._cache
    if not isinstance(inner, cache.SafeCache):
        return None
    digest = hashlib.sha256(repr((symbol, cache.salt(), _own_key())).encode()).hexdigest()
    return Path(inner.cache_path) / f"jitgrad_h_{digest[:32]}.bc"


def _helper_target(fn: Any, argtys: tuple) -> tuple[Any, str]:
    """The target context helper ``fn`` compiles in (its options) and its symbol."""
    options = fn.targetoptions
    if not options.keys() <= _HELPER_OPTIONS or options.get("boundscheck"):
        raise Unsupported(f"options {options}")
    ctx = _target(options.get("error_model", "python"), _fastmath(options.get("fastmath")))
    py = fn.py_func
    return ctx, ctx.mangler(f"jitgrad_h.{py.__module__}.{py.__qualname__}", list(argtys))


def _lower_helper(fn: Any, argtys: tuple, ctx: Any, symbol: str) -> _Helper:
    import llvmlite.binding as ll
    from numba.core import cgutils
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.fastmathpass import rewrite_module
    py = fn.py_func
    node = _helper_tree(py)
    names: Any = py.__globals__
    if py.__closure__:
        names = collections.ChainMap(
            dict(zip(py.__code__.co_freevars, (c.cell_contents for c in py.__closure__),
                     strict=True)), names)
    module = ctx.codegen()._create_empty_module(symbol)
    unit = _Unit(ctx, module, names, {node.name: node}, symbol, symbol=symbol)
    collect = ctx.codegen().create_library(symbol)  # what its calls link (never finalised)
    with global_compiler_lock, _lowering(), ctx.push_code_library(collect):
        _, restype = unit.function(node.name, argtys)
    _encoded(restype)  # (a type the cache can hold)
    if ctx.fastmath:
        rewrite_module(module, ctx.fastmath)
    parsed = ll.parse_assembly(cgutils.normalize_ir_text(str(module)))
    parsed.verify()
    # Optimised once, here, with the helpers it calls and Numba's functions (the builtin
    # ``min`` and ``max``) linked in and inlined, as Numba optimises a helper's library
    # before callers link it: left to each kernel's pipeline, Numba's verbose IR of the
    # helpers more than doubled a kernel's optimisation time.
    for h in unit.helpers.values():
        parsed.link_in(h.module, preserve=True)
    for library in collect._linking_libraries:
        parsed.link_in(library._get_module_for_linking(), preserve=True)
    pm, pb = ctx.codegen()._module_pass_manager()
    pm.run(parsed, pb)
    # Defined in every kernel module that calls it: one definition is kept, inlined (as
    # Numba's forceinline helpers are) and then dropped.
    parsed.get_function(symbol).linkage = ll.Linkage.linkonce_odr
    return _Helper(symbol, restype, parsed)


def _encoded(ty: Any) -> str:
    """Numba type ``ty`` (a number, boolean or tuple of them) as the text ``_decoded``
    reads."""
    from numba import types

    def enc(t: Any) -> Any:
        if isinstance(t, (types.Integer, types.Float, types.Boolean)):
            return str(t)
        if type(t) is types.UniTuple:
            return ["u", t.count, enc(t.dtype)]
        if type(t) is types.Tuple:
            return ["t", [enc(e) for e in t.types]]
        raise Unsupported(f"returns {ty}")

    text = json.dumps(enc(ty))
    if _decoded(text) != ty:
        raise Unsupported(f"returns {ty}")
    return text


def _decoded(text: str) -> Any:
    from numba import types

    def dec(v: Any) -> Any:
        if isinstance(v, str):
            return types.boolean if v == "bool" else getattr(types, v)
        if v[0] == "u":
            return types.UniTuple(dec(v[2]), v[1])
        return types.Tuple([dec(e) for e in v[1]])

    return dec(json.loads(text))


def _load_helper(path: Path, symbol: str) -> _Helper | None:
    import llvmlite.binding as ll
    parts = _read(path, _HELPER_MAGIC)
    if parts is None:
        return None
    restype, bitcode = parts
    module = ll.parse_bitcode(bitcode)
    return _Helper(symbol, _decoded(restype.decode()), module)


def _helper_tree(py: Any) -> ast.FunctionDef:
    """The syntax tree of Python function ``py``: its source file's text (or, for a function
    made by ``exec``, the text it was made of, its attribute ``cache.SOURCE``), used only if
    it compiles to ``py``'s own bytecode, constants and names."""
    import inspect
    import textwrap
    import types as pytypes
    text = getattr(py, cache.SOURCE, None)
    imports: list[ast.stmt] = []
    if text is None:
        try:
            text = textwrap.dedent(inspect.getsource(py))
            # (CPython compiles a method call on an imported module differently)
            imports = [n for n in _module_tree(py.__code__.co_filename).body
                       if isinstance(n, (ast.Import, ast.ImportFrom))]
        except (OSError, TypeError, SyntaxError) as e:
            raise Unsupported(f"no source of {py.__qualname__}: {e}") from None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        raise Unsupported(f"the source found for {py.__qualname__} does not parse") from None
    node = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(node, ast.FunctionDef) or node.name != py.__name__:
        raise Unsupported(f"the source found for {py.__qualname__} is not its own")
    bare = copy.copy(node)
    bare.decorator_list = []
    made = compile(ast.Module([*imports, bare], []), "<helper>", "exec")
    code = next(c for c in made.co_consts if isinstance(c, pytypes.CodeType))
    own = py.__code__
    if (code.co_code, code.co_consts, code.co_names) != (own.co_code, own.co_consts,
                                                         own.co_names):
        raise Unsupported(f"the source found for {py.__qualname__} is not its own")
    return node


@functools.cache
def _module_tree(path: str) -> ast.Module:
    return ast.parse(Path(path).read_text())


def _none() -> Any:
    from numba import types
    return types.none


def _fastmath(value: Any) -> frozenset | bool:
    """An ``njit`` fastmath option as ``_target`` keys it: a set of flags, or on/off."""
    return frozenset(value) if isinstance(value, set) else bool(value)


def _decorator_options(fn: ast.FunctionDef) -> tuple[str, frozenset | bool]:
    """The error model and fastmath flags of the kernel's ``@njit(...)``: the kernel compiles
    with the options Numba would compile it with."""
    if len(fn.decorator_list) != 1:
        raise Unsupported("decorators")
    dec = fn.decorator_list[0]
    if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and
            dec.func.id == "njit" and not dec.args):
        raise Unsupported("not @njit(...)")
    error_model, fastmath = "python", False
    for kw in dec.keywords:
        value = ast.literal_eval(kw.value)
        if kw.arg == "error_model":
            error_model = value
        elif kw.arg == "fastmath":
            fastmath = _fastmath(value)
        elif kw.arg not in ("cache", "nogil"):
            raise Unsupported(f"@njit option {kw.arg}")
    return error_model, fastmath


# ---------------------------------------------------------------------------------------------
# The module: the kernel under Numba's calling convention, and its Python-facing wrapper


def _build(tree: ast.Module, namespace: dict, spec: tuple, name: str) -> Any:
    """Lower the function ``kernel`` of ``tree`` for argument types ``spec`` into a finalised
    Numba code library whose function ``name`` is its entry (see ``_entry``)."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    if "kernel" not in functions:
        raise Unsupported("no kernel function")
    ctx = _target(*_decorator_options(functions["kernel"]))
    argtys = [_numba_type(a) for a in spec]
    _check_wrappable(ctx, spec, argtys)

    def fill(module: Any) -> list:
        unit = _Unit(ctx, module, namespace, functions, name)
        body, _ = unit.function("kernel", tuple(argtys))
        _entry(module, ctx, name, body, argtys)
        return [h.module.clone() for h in unit.helpers.values()]

    return _library(ctx, name, fill)


def _library(ctx: Any, name: str, fill: Callable[[Any], list | None],
             loops: bool = True) -> Any:
    """A finalised Numba code library ``name`` of the LLVM module that ``fill`` writes and
    the parsed modules it returns, if any (its helpers), with ``ctx`` as the active context
    (helpers Numba compiles for it are linked into this library), optimised by
    ``_one_pipeline`` (with the loop vectoriser if ``loops``) and ready to be cached as
    object code."""
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.fastmathpass import rewrite_module
    with global_compiler_lock, _lowering():
        lib = ctx.codegen().create_library(name)
        _one_pipeline(lib, loops)
        module = lib.create_ir_module(name)
        with ctx.push_code_library(lib):
            linked = fill(module)
        if ctx.fastmath:  # (what Numba's post_lowering does, without linking its runtime)
            rewrite_module(module, ctx.fastmath)
        lib.add_ir_module(module)
        for helper in linked or ():
            lib.add_llvm_module(helper)
        lib.enable_object_caching()
        lib.finalize()
    return lib


class _Unit:
    """The functions of one LLVM module, each under Numba's calling convention: a kernel
    module's ``kernel`` and the module's other functions it calls (``chunk``), or one inline
    helper (``symbol``, see ``_helper``); and the helpers they call, to be linked with it."""

    def __init__(self, ctx: Any, module: Any, namespace: Any, functions: dict, name: str,
                 symbol: str | None = None):
        self.ctx, self.module, self.namespace = ctx, module, namespace
        self.functions, self.name, self.symbol = functions, name, symbol
        # functions a call may lower into this module (a helper calls none of its own)
        self.local = {} if symbol else functions
        self.lowered: dict[tuple, tuple[Any, Any]] = {}
        self.helpers: dict[str, _Helper] = {}

    def use(self, helper: _Helper) -> None:
        """Link ``helper`` (which holds the helpers it calls) with this module."""
        self.helpers[helper.name] = helper

    def function(self, fname: str, argtys: tuple) -> tuple[Any, Any]:
        """The LLVM function of ``fname`` for ``argtys``, and its return type."""
        key = (fname, argtys)
        if key not in self.lowered:
            node = self.functions[fname]
            if not self.symbol and \
                    _decorator_options(node) != _decorator_options(self.functions["kernel"]):
                raise Unsupported(f"{fname} compiles with other options")
            self.lowered[key] = self._lower(node, argtys)
        return self.lowered[key]

    def _lower(self, node: ast.FunctionDef, argtys: tuple) -> tuple[Any, Any]:
        """The function of ``node`` for ``argtys`` in this unit's module, and its return type.

        A function that returns a value is lowered once into a body whose return pointer is
        untyped, the type of its first ``return`` (in lowering order; every other must agree)
        deciding what its stores write; the function itself, of that type under Numba's
        calling convention, calls the body, which LLVM inlines into it. (A first lowering just
        to find the type doubled a helper's lowering time.)"""
        import llvmlite.ir as ir
        from numba import types
        params = [a.arg for a in node.args.args]
        if len(params) != len(argtys) or node.args.vararg or node.args.kwonlyargs or \
                node.args.defaults:
            raise Unsupported("parameters")
        ctx, module = self.ctx, self.module
        name = self.symbol or f"{self.name}_{node.name}_{len(self.lowered)}"
        returns = any(isinstance(n, ast.Return) for n in ast.walk(node))
        fnty = ctx.call_conv.get_function_type(types.none, list(argtys))
        body = ir.Function(module, fnty, name=f"{name}.body" if returns else name)
        builder = ir.IRBuilder(body.append_basic_block("entry"))
        lowering = _Lowering(ctx, builder, self.namespace, self)
        assigned = {n.id for n in ast.walk(node)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for p, v, t in zip(params, ctx.call_conv.decode_arguments(builder, list(argtys), body),
                           argtys, strict=True):
            lowering.bind(p, v, t)
            if isinstance(t, types.Array) and p not in assigned:
                lowering.unpack(p, v, t)
        lowering.block(node.body)
        if not builder.block.is_terminated:
            if returns:
                raise Unsupported(f"{node.name} does not end with its return")
            lowering.free_scratch()
            ctx.call_conv.return_value(builder, ctx.get_dummy_value())
        restype = lowering.restype if returns else None
        fn = body
        if returns:
            body.linkage = "internal"
            body.attributes.add("alwaysinline")
            fn = ir.Function(module, ctx.call_conv.get_function_type(restype, list(argtys)),
                             name=name)
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            b.ret(b.call(body, [b.bitcast(fn.args[0], body.args[0].type), *fn.args[1:]]))
        if self.symbol:
            fn.attributes.add("alwaysinline")  # (kept until optimised: see _lower_helper)
        else:
            fn.linkage = "internal"
            if node.name == "kernel":
                # Called once, by the entry: inlined before LLVM simplifies it, not simplified
                # on its own and then again inside the entry (1-6 % of a kernel's compile).
                fn.attributes.add("alwaysinline")
        if node.name != "kernel" and not self.symbol:
            # ``chunk`` runs the innermost loop of a rank-1 kernel as the outermost loop of a
            # function of its own (see codegen.render_kernel): kept so, not inlined.
            fn.attributes.add("noinline")
        if not self.symbol:
            for f in {fn, body}:
                for k in _data_arguments(ctx, argtys):
                    f.args[len(f.args) - k].add_attribute("noalias")
        return fn, restype


def _data_arguments(ctx: Any, argtys: tuple) -> list[int]:
    """Where the data pointers of the array arguments are among the LLVM arguments of a
    function of ``argtys`` under Numba's calling convention, counted from the last (Numba
    passes its own arguments first, then each argument's members flattened).

    A kernel marks them ``noalias``: during one call, the memory an output array is written
    through is reached through no other argument. The caller (``runtime.compile_ir``) makes
    that so: each output of a loop kernel is a buffer of its own (a workspace slot of its
    value, a recycled output nothing else refers to, or a new array), and a kernel never
    reads a value it writes. Without it LLVM versions each loop writing an array with
    run-time overlap checks against every array it reads, a copy of the loop it optimises and
    compiles twice (a tenth of the MLP gradient's kernels' compile time); the checks always
    passed."""
    from numba import types

    def leaves(t: Any) -> int:
        return sum(leaves(m) for m in t) if isinstance(t, tuple) else 1

    found, at = [], 0
    for ty in argtys:
        dm = ctx.data_model_manager[ty]
        if isinstance(ty, types.Array):
            members = dm.get_argument_type()
            found.append(at + leaves(members[:dm.get_field_position("data")]))
        at += leaves(dm.get_argument_type())
    return [at - k for k in found]


def _one_pipeline(lib: Any, loops: bool = True) -> None:
    """Optimise ``lib`` with one run of Numba's module pipeline, at O2 (with the vectorisers
    as Numba's configuration sets them, the loop vectoriser only if ``loops``). Numba also
    runs a function pipeline on each function as it is added (declarations included) and a
    cheaper module pipeline first, to gather its runtime's reference counts for pruning
    (there are none here) and to rotate loops for the vectoriser: every kernel calling a
    vectorised function still vectorises without it (tests/test_direct.py), and the two
    together took a third of a kernel's LLVM time.

    O2, not Numba's O3: on the kernels of the perf suite and 100 random programs, O3's extra
    work only made more versions of loops for edge cases (a loop over an empty axis, with
    its guard unswitched out of the outer loop); the main loops are the same code, and the
    kernels run as fast, for 6 % less LLVM time (COMPILE_NOTES.md, eighth round). The inline
    helpers stay at O3 (``_lower_helper``): optimised once, cached, inlined into kernels."""
    codegen = lib.codegen

    def functions(module: Any) -> None:
        module.data_layout = codegen._data_layout

    def final() -> None:
        pm, pb = codegen._module_pass_manager(opt=2, loop_vectorize=loops)
        pm.run(lib._final_module, pb)

    lib._optimize_functions = functions
    lib._optimize_final_module = final


def _argument_struct(ctx: Any, argtys: list) -> Any:
    """The struct of Numba values (array structs, integers) the wrapper of an argument spec
    fills and a kernel's entry reads."""
    import llvmlite.ir as ir
    return ir.LiteralStructType([ctx.get_value_type(t) for t in argtys])


def _entry(module: Any, ctx: Any, name: str, body: Any, argtys: list) -> None:
    """The kernel's entry ``i32 name(i8* args)``: its arguments from one argument struct,
    the kernel called under Numba's calling convention; 1 if an operation raised, else 0.
    A plain C signature, so that one wrapper serves every kernel of the same argument spec."""
    import llvmlite.ir as ir
    from numba import types
    i32 = ir.IntType(32)
    fn = ir.Function(module, ir.FunctionType(i32, [ir.IntType(8).as_pointer()]), name=name)
    b = ir.IRBuilder(fn.append_basic_block())
    args = b.bitcast(fn.args[0], _argument_struct(ctx, argtys).as_pointer())
    values = [b.load(b.gep(args, [i32(0), i32(k)])) for k in range(len(argtys))]
    status, _ = ctx.call_conv.call_function(b, body, types.none, list(argtys), values)
    b.ret(b.zext(status.is_error, i32))


# The argument struct a kernel's entry reads, as the wrapper fills it: a word per integer,
# and per array Numba's array struct, a word per member (meminfo, parent, nitems, itemsize,
# data, then shape and strides, a word per dimension each). ``_check_wrappable`` checks every
# kernel's struct against it.
_ARRAY_MEMBERS = ("meminfo", "parent", "nitems", "itemsize", "data", "shape", "strides")
_SCALAR_WORDS = _ARRAY_MEMBERS.index("shape")  # an array's words before its shape
_INT, _ARRAY = 0, 1


def _words(spec: tuple) -> int:
    """The words of the argument struct of ``spec``."""
    return sum(1 if a[0] == "i" else _SCALAR_WORDS + 2 * a[2] for a in spec)


def _check_wrappable(ctx: Any, spec: tuple, argtys: list) -> None:
    """That the wrapper can call a kernel of ``spec``: its argument struct is the words the
    wrapper writes, and each array's table entry holds its rank, dtype and item size."""
    from numba import types
    for ty in argtys:
        if isinstance(ty, types.Array) and \
                tuple(ctx.data_model_manager[ty]._fields) != _ARRAY_MEMBERS:
            raise Unsupported(f"Numba's array struct is {ctx.data_model_manager[ty]._fields}")
    if _words(spec) * 8 != ctx.get_abi_sizeof(_argument_struct(ctx, argtys)):
        raise Unsupported("an argument struct the wrapper does not fill")
    if any(a[0] == "a" and not (a[2] < 1 << 8 and a[1].num < 1 << 16 and
                                a[1].itemsize < 1 << 16) for a in spec):
        raise Unsupported(f"an argument the wrapper's table cannot describe: {spec}")


def _table(spec: tuple, entry: int, fallback: Any) -> np.ndarray:
    """The ``self`` of a kernel's builtin: words the wrapper reads (the entry's address, the
    fallback's, the number of arguments and of words in their struct), then a word per
    argument: its kind, and for an array the rank, the flags it needs, dtype number and item
    size, in bytes 1, 2-3, 4-5 and 6-7."""
    def word(a: tuple) -> int:
        if a[0] == "i":
            return _INT
        _, dtype, ndim, layout = a
        need = _ALIGNED | (_C_CONTIGUOUS if layout == "C" else 0)
        return _ARRAY | ndim << 8 | need << 16 | dtype.num << 32 | dtype.itemsize << 48

    return np.array([entry, id(fallback), len(spec), _words(spec), *map(word, spec)], np.uint64)


def _wrapper(module: Any, ctx: Any, name: str) -> None:
    """The METH_FASTCALL function ``name`` of every kernel, and ``name_set``, which stores the
    ndarray and int types into it and returns its PyMethodDef. A builtin made of it has as
    ``self`` its kernel's table (``_table``): the wrapper checks each argument against it,
    fills the argument struct, and calls the entry without the GIL; arguments of any other
    kind go to the fallback (``_check_wrappable`` holds for every kernel).

    One wrapper for every argument spec: a wrapper per spec cost the first kernel of each
    spec ≈ 20 ms more compile time (a new MLP gradient, 8 specs: 0.75 → 0.66 s; the 100
    random programs, 12 specs: -5 %). Reading the table costs 0-6 ns per call (a kernel of
    2 to 7 arguments), and 40 ns on the tiny gradient of the dispatch row (1.60 → 1.65 µs,
    where the wrapper's code is no longer on the kernel's page; COMPILE_NOTES.md, eighth
    round)."""
    import llvmlite.ir as ir
    from numba.core import cgutils

    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    obj = i8.as_pointer()

    def extern(fname: str, ret: Any, args: list) -> Any:
        return cgutils.get_or_insert_function(module, ir.FunctionType(ret, args), fname)

    def global_ptr(gname: str) -> Any:
        g = ir.GlobalVariable(module, obj, gname)
        g.linkage = "internal"
        g.initializer = ir.Constant(obj, None)
        return g

    g_ndarray, g_int = (global_ptr(f"{name}_{g}") for g in ("ndarray", "int"))
    setter = ir.Function(module, ir.FunctionType(obj, [obj, obj]), name=f"{name}_set")
    sb = ir.IRBuilder(setter.append_basic_block())
    for g, a in zip((g_ndarray, g_int), setter.args, strict=True):
        sb.store(a, g)
    # The PyMethodDef, returned by the setter: CPython reads it for as long as a builtin made
    # of it lives (its garbage collector too, at exit), so it lives in the code's own memory,
    # which is never freed, not in a Python object.
    fnty = ir.FunctionType(obj, [obj, obj.as_pointer(), i64])
    label = bytearray(name.encode() + b"\0")
    text = ir.GlobalVariable(module, ir.ArrayType(i8, len(label)), f"{name}_name")
    text.global_constant, text.linkage = True, "internal"
    text.initializer = ir.Constant(ir.ArrayType(i8, len(label)), label)
    method = ir.GlobalVariable(module, ir.LiteralStructType([obj, obj, i32, obj]), f"{name}_def")
    method.linkage = "internal"
    sb.ret(sb.bitcast(method, obj))

    fn = ir.Function(module, fnty, name=name)
    method.initializer = ir.Constant(method.value_type, [
        text.bitcast(obj), fn.bitcast(obj), ir.Constant(i32, _METH_FASTCALL),
        ir.Constant(obj, None)])
    argv, nargs = fn.args[1], fn.args[2]
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def field(base: Any, offset: Any, ty: Any) -> Any:
        return b.load(b.bitcast(b.gep(base, [ir.Constant(i64, offset)]), ty.as_pointer()))

    def at(base: Any, k: Any) -> Any:
        return b.gep(base, [k])

    def bits(w: Any, lo: int, n: int) -> Any:
        return b.and_(b.lshr(w, ir.Constant(i64, lo)), ir.Constant(i64, (1 << n) - 1))

    table = b.bitcast(field(fn.args[0], _AR_DATA, obj), i64.as_pointer())
    entry = b.inttoptr(b.load(table), ir.FunctionType(i32, [obj]).as_pointer())
    fallback = b.inttoptr(b.load(at(table, i64(1))), obj)
    fail = fn.append_basic_block("fallback")
    with b.goto_block(fail):
        vectorcall = extern("PyObject_VectorcallDict", obj, [obj, obj.as_pointer(), i64, obj])
        b.ret(b.call(vectorcall, [fallback, argv, nargs, ir.Constant(obj, None)]))

    def require(ok: Any) -> None:
        then = fn.append_basic_block()
        b.cbranch(ok, then, fail)
        b.position_at_end(then)

    require(b.icmp_signed("==", nargs, b.load(at(table, i64(2)))))
    words = b.load(at(table, i64(3)))
    ndarray, pyint = b.load(g_ndarray), b.load(g_int)
    args = b.alloca(i64, words)
    pos = cgutils.alloca_once_value(b, ir.Constant(i64, 0))  # the next argument's first word
    one = ir.Constant(i64, 1)
    with cgutils.for_range(b, nargs) as loop:
        o = b.load(at(argv, loop.index))
        desc = b.load(at(table, b.add(loop.index, ir.Constant(i64, 4))))
        slot = at(args, b.load(pos))
        is_int = b.icmp_unsigned("==", bits(desc, 0, 8), ir.Constant(i64, _INT))
        with b.if_else(is_int) as (integer, array):
            with integer:
                require(b.icmp_unsigned("==", field(o, _OB_TYPE, obj), pyint))
                v = b.call(extern("PyLong_AsSsize_t", i64, [obj]), [o])
                with b.if_then(b.icmp_signed("==", v, ir.Constant(i64, -1)), likely=False):
                    error = b.call(extern("PyErr_Occurred", obj, []), [])
                    with b.if_then(b.icmp_unsigned("!=", error, ir.Constant(obj, None))):
                        b.ret(ir.Constant(obj, None))
                b.store(v, slot)
                b.store(b.add(b.load(pos), one), pos)
            with array:
                require(b.icmp_unsigned("==", field(o, _OB_TYPE, obj), ndarray))
                descr = field(o, _AR_DESCR, obj)
                ndim = bits(desc, 8, 8)
                need = b.trunc(bits(desc, 16, 16), i32)
                ok = [b.icmp_unsigned("==", b.zext(field(descr, _DESCR_TYPE_NUM, i32), i64),
                                      bits(desc, 32, 16)),
                      b.icmp_unsigned("==", b.zext(field(o, _AR_ND, i32), i64), ndim),
                      b.icmp_unsigned("==", b.and_(field(o, _AR_FLAGS, i32), need), need),
                      b.icmp_unsigned("!=", field(descr, _DESCR_BYTEORDER, i8),
                                      ir.Constant(i8, ord(">")))]
                require(functools.reduce(b.and_, ok))
                dims = field(o, _AR_DIMS, i64.as_pointer())
                strides = field(o, _AR_STRIDES, i64.as_pointer())
                shape_at = at(slot, ir.Constant(i64, _SCALAR_WORDS))
                strides_at = at(shape_at, ndim)
                nitems = cgutils.alloca_once_value(b, one)

                def copy(d: Any) -> None:
                    n = b.load(at(dims, d))
                    b.store(b.mul(b.load(nitems), n, flags=["nsw"]), nitems)
                    b.store(n, at(shape_at, d))
                    b.store(b.load(at(strides, d)), at(strides_at, d))

                # Straight-line copies for ranks up to 3, a loop beyond (the loop alone
                # cost 8-12 ns more per call).
                done = fn.append_basic_block()
                other = fn.append_basic_block()
                switch = b.switch(ndim, other)
                for r in range(4):
                    case = fn.append_basic_block()
                    switch.add_case(ir.Constant(i64, r), case)
                    b.position_at_end(case)
                    for d in range(r):
                        copy(ir.Constant(i64, d))
                    b.branch(done)
                b.position_at_end(other)
                with cgutils.for_range(b, ndim) as d:
                    copy(d.index)
                b.branch(done)
                b.position_at_end(done)
                members = {"meminfo": ir.Constant(i64, 0), "parent": b.ptrtoint(o, i64),
                           "nitems": b.load(nitems), "itemsize": bits(desc, 48, 16),
                           "data": b.ptrtoint(field(o, _AR_DATA, obj), i64)}
                for m, value in members.items():
                    b.store(value, at(slot, ir.Constant(i64, _ARRAY_MEMBERS.index(m))))
                b.store(b.add(b.load(pos), b.add(ir.Constant(i64, _SCALAR_WORDS),
                                                 b.shl(ndim, one))), pos)
    state = b.call(extern("PyEval_SaveThread", obj, []), [])
    raised = b.call(entry, [b.bitcast(args, obj)])
    b.call(extern("PyEval_RestoreThread", ir.VoidType(), [obj]), [state])
    with b.if_then(b.icmp_signed("!=", raised, ir.Constant(i32, 0)), likely=False):
        # No operation of a generated kernel raises under the numpy error model. Should one,
        # say so: running the Numba kernel again could read outputs already written over.
        exc = ir.GlobalVariable(module, obj, "PyExc_RuntimeError")
        message = ctx.insert_const_string(module, "jitgrad: an operation of a kernel raised "
                                          "in compiled code; run with "
                                          "jitgrad.config.kernel_compiler = 'numba' for "
                                          "Numba's message")
        b.call(extern("PyErr_SetString", ir.VoidType(), [obj, obj]), [b.load(exc), message])
        b.ret(ir.Constant(obj, None))
    none = ir.GlobalVariable(module, i8, "_Py_NoneStruct")
    b.call(extern("Py_IncRef", ir.VoidType(), [obj]), [b.bitcast(none, obj)])
    b.ret(b.bitcast(none, obj))


_wrappers: list[tuple[Any, int]] = []  # the wrapper's library and PyMethodDef, once loaded


def _method() -> int:
    """The PyMethodDef of the wrapper every kernel's builtin shares: compiled once per
    process (or loaded from the disk cache). (Called under ``_lock``.)"""
    if not _wrappers:
        digest = hashlib.sha256(repr(("wrapper", _own_key())).encode()).hexdigest()
        name = f"jitgrad_w_{digest[:32]}"
        path = _cache_path(name)
        lib = _load(path, name) if path is not None else None
        if lib is None:
            ctx = _target("numpy", False)
            # (without the loop vectoriser: its vector code for ranks above 3, and the
            # clearing of vector registers before each call it makes, cost ≈ 10 ns per call)
            lib = _library(ctx, name, lambda module: _wrapper(module, ctx, name), loops=False)
            if path is not None:
                _save(path, lib)
        store = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
            lib.get_pointer_to_function(f"{name}_set"))
        _wrappers.append((lib, store(id(np.ndarray), id(int))))
    return _wrappers[0][1]


def _cache_path(name: str) -> Path | None:
    """Where compiled library ``name`` is cached, or None (after the warning) if the kernel
    cache is unusable."""
    d = cache.kernel_dir()
    return None if d is None else d / f"{name}.o"


def _keyed(spec: tuple) -> tuple:
    """``spec`` as a key that differs between every two specs the wrappers tell apart."""
    return tuple((a[0], a[1].str, a[1].num, *a[2:]) if a[0] == "a" else a for a in spec)


# ---------------------------------------------------------------------------------------------
# Specialisations, their disk cache, and the callers' bindings

_lock = threading.RLock()
_kernels: dict[str, Kernel] = {}
stats = {"compiled": 0, "loaded": 0, "numba": 0, "helpers lowered": 0, "helpers loaded": 0}


@functools.cache
def _own_key() -> str:
    """What compiled code depends on besides its source and argument types: this module,
    Numba's and llvmlite's versions, the machine Numba compiles for, CPython and numpy."""
    import llvmlite
    import numba
    _, ctx = _contexts()
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(repr((ctx.codegen().magic_tuple(), numba.__version__, llvmlite.__version__,
                   sys.version, np.__version__)).encode())
    return h.hexdigest()


class _Compiled:
    """One specialisation: its code library and the builtin function calling it (the
    wrapper, with the specialisation's table as ``self``)."""

    def __init__(self, lib: Any, name: str, fallback: Any, spec: tuple):
        self.lib, self.fallback = lib, fallback
        self.table = _table(spec, lib.get_pointer_to_function(name), fallback)
        self.fn = _new_builtin()(_method(), self.table, None)


@functools.cache
def _new_builtin() -> Any:
    """CPython's ``PyCFunction_NewEx(method, self, module)``."""
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.py_object,
                                                   ctypes.py_object]
    return new


class Kernel:
    """A generated kernel's source, its direct specialisations by argument types, and the
    Numba kernel of it: the fallback, for arguments of other kinds and for what this module
    does not lower. The Numba kernel is made (its module written to the kernel cache and
    executed, which makes Numba's dispatchers: ≈ 1 ms) only when first needed, which most
    kernels never are."""

    def __init__(self, source: str):
        self.source = source
        self._module: Any = None
        self.fallback = _Fallback(self)
        _fallbacks.append(self.fallback)
        self.specs: dict[tuple, Any] = {}
        self.compiled: list[_Compiled] = []

    @property
    def numba(self) -> Any:
        if self._module is None:
            self._module = cache.load(self.source)
        return self._module.kernel

    def for_args(self, args: tuple) -> Any:
        spec = spec_of(args)
        if spec is None:
            return self.numba
        fn = self.specs.get(spec)
        if fn is None:
            with _lock:
                fn = self.specs.get(spec)
                if fn is None:
                    fn = self.specs[spec] = self._specialise(spec)
        return fn

    def _specialise(self, spec: tuple) -> Any:
        digest = hashlib.sha256(repr((self.source, _keyed(spec), _own_key())).encode()
                                ).hexdigest()
        name = f"jitgrad_d_{digest[:32]}"
        path = _cache_path(name)
        if path is not None and path.with_suffix(".numba").exists():
            stats["numba"] += 1
            return self.numba
        lib = _load(path, name) if path is not None else None
        if lib is not None:
            stats["loaded"] += 1
        else:
            try:
                tree = ast.parse(self.source)
                lib = _build(tree, _imported(tree), spec, name)
            except Exception as e:  # noqa: BLE001 - Numba compiles what this does not lower
                if isinstance(e, Unsupported):
                    log.debug("jitgrad: kernel %s compiles with Numba: %s", name, e)
                else:  # a failure of the lowering itself: worth seeing
                    log.warning("jitgrad: kernel %s compiles with Numba (direct lowering "
                                "failed: %r)", name, e)
                _mark(path)
                stats["numba"] += 1
                return self.numba
            stats["compiled"] += 1
            if path is not None:
                _save(path, lib)
        compiled = _Compiled(lib, name, self.fallback, spec)
        self.compiled.append(compiled)
        return compiled.fn


class _Fallback:
    """What a kernel's builtin calls with arguments of another kind than its
    specialisation's: the Numba kernel, made on this first call. The builtin holds only its
    address, so it lives as long as the process (``_fallbacks``), as the Numba kernels'
    modules do."""

    __slots__ = ("kernel",)

    def __init__(self, kernel: Kernel):
        self.kernel = kernel

    def __call__(self, *args: Any) -> Any:
        return self.kernel.numba(*args)


_fallbacks: list[_Fallback] = []


def _imported(tree: ast.Module) -> dict:
    """The names a kernel module's functions see: what its imports bind (one namespace per
    import block: kernels share a few)."""
    return _namespace("\n".join(ast.unparse(n) for n in tree.body
                                 if isinstance(n, ast.Import | ast.ImportFrom)))


@functools.cache
def _namespace(imports: str) -> dict:
    names: dict = {}
    exec(compile(imports, "<jitgrad kernel imports>", "exec"), names)
    return names


def _mark(path: Path | None) -> None:
    """Remember that this specialisation compiles with Numba (not tried again)."""
    if path is not None:
        try:
            with cache._atomic_private(str(path.with_suffix(".numba"))):
                pass
        except OSError:
            pass


def _write(path: Path, magic: bytes, first: bytes, second: bytes) -> None:
    """Cache two byte strings at ``path``, with a digest of them."""
    payload = len(first).to_bytes(8, "little") + first + second
    try:
        with cache._atomic_private(str(path)) as f:
            f.write(magic + hashlib.sha256(payload).digest() + payload)
    except OSError as e:
        cache._warn_once(f"could not write to the kernel cache {path.parent} ({e!r}); keeping "
                         f"the compiled code in memory")


def _read(path: Path, magic: bytes) -> tuple[bytes, bytes] | None:
    """The two byte strings ``_write`` cached at ``path``, or None if missing or damaged
    (checked by their digest before any of it is used)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(magic) + 32
    payload = data[head:]
    if not data.startswith(magic) or hashlib.sha256(payload).digest() != data[len(magic):head]:
        return None
    n = int.from_bytes(payload[:8], "little")
    return payload[8:8 + n], payload[8 + n:]


def _save(path: Path, lib: Any) -> None:
    _, _, (obj, bitcode) = lib.serialize_using_object_code()
    _write(path, _MAGIC, obj, bitcode)


def _load(path: Path, name: str) -> Any:
    """The code library cached at ``path``, or None if missing or damaged."""
    from numba.core.compiler_lock import global_compiler_lock
    parts = _read(path, _MAGIC)
    if parts is None:
        return None
    obj, bitcode = parts
    _, ctx = _contexts()
    with global_compiler_lock:
        return ctx.codegen().unserialize_library((name, "object", (obj, bitcode)))


class _Binding:
    """A caller's kernel global (``K0``): its first call picks the specialisation for the
    argument types and rebinds the global to it, so later calls go straight to the builtin
    (whose wrapper hands any other arguments to the Numba kernel)."""

    __slots__ = ("kernel", "glob", "name")

    def __init__(self, kernel: Kernel, glob: dict, name: str):
        self.kernel, self.glob, self.name = kernel, glob, name

    def __call__(self, *args: Any) -> Any:
        fn = self.kernel.for_args(args)
        self.glob[self.name] = fn
        return fn(*args)


def cache_stats() -> dict[str, int]:
    """Disk-cache hits (kernels loaded) and misses (kernels compiled) over every kernel of
    this process, direct or Numba's."""
    numba = cache.numba_stats()
    return {"hits": numba["hits"] + stats["loaded"], "misses": numba["misses"] + stats["compiled"]}


def bind(source: str, glob: dict, name: str) -> Any:
    """What a caller whose globals are ``glob`` calls the loop kernel ``source`` as
    (``glob[name]``): a binding to its direct specialisations, or its Numba kernel when
    ``config.kernel_compiler`` is "numba" or this process's object layouts are not the known
    ones."""
    if not enabled():
        return cache.load(source).kernel
    kernel = _kernels.get(source)
    if kernel is None:
        with _lock:
            kernel = _kernels.get(source)
            if kernel is None:
                kernel = _kernels[source] = Kernel(source)
    return _Binding(kernel, glob, name)
