"""The IR (avals, Var, Lit, Eqn, IR), its printer and typechecker, primitives, and interpreters."""

from __future__ import annotations

import contextvars
import functools
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jitgrad.errors import (
    JitgradError,
    JitgradTypeError,
    ShapeError,
    TracerError,
    UnsupportedError,
)

# ---------------------------------------------------------------------------------------------
# Abstract values


_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32",
          "int16": "i16", "int8": "i8", "uint8": "u8", "uint16": "u16", "uint32": "u32",
          "uint64": "u64", "bool": "bool", "complex128": "c128", "complex64": "c64"}


@functools.cache
def short_dtype(dtype: np.dtype) -> str:
    # (cached: numpy's dtype.name is slow, and printing a long program asks once per value)
    return _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)


def is_float(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind == "f"


class ShapedArray:
    """The abstract value of an array: its shape and dtype. Every IR variable carries one.

    ``weak`` marks a value that came from a Python scalar: like a Python scalar, it takes
    the dtype of the arrays it meets (NumPy 2 promotion), so ``x_f32 * lr`` stays float32
    when ``lr`` is a Python float passed as an argument. It does not affect equality."""

    __slots__ = ("shape", "dtype", "weak")
    shape: tuple[int, ...]
    dtype: np.dtype
    weak: bool

    def __init__(self, shape: Sequence[int], dtype: Any, weak: bool = False):
        # Frozen: an aval is shared by every value and equation that refers to it.
        setattr_ = object.__setattr__
        setattr_(self, "shape", tuple(map(int, shape)))
        dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        if dt.kind in "cO":
            raise unsupported_dtype_error(dt, self.shape)
        # Byte order is storage, not type: a big-endian input computes as the native dtype
        # (numpy's ufuncs return native arrays too).
        setattr_(self, "dtype", dt if dt.isnative else dt.newbyteorder("="))
        setattr_(self, "weak", bool(weak))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ShapedArray is immutable")

    def __reduce__(self) -> tuple:
        return ShapedArray, (self.shape, self.dtype, self.weak)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def __str__(self) -> str:
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"

    __repr__ = __str__


def unsupported_dtype_error(dtype: np.dtype, shape: tuple[int, ...]) -> JitgradTypeError:
    """Every aval passes through ShapedArray, so complex and object values (inputs, closed-over
    constants, cotangents, Python complex scalars) are refused there, never silently cast.
    (Other non-numeric values, a string in ``has_aux`` output say, only pass through.)"""
    if dtype.kind == "c":
        fix = ("complex numbers are not supported (yet): carry the real and imaginary parts as "
               "two float arrays")
    else:
        fix = "convert it first, e.g. np.asarray(x, dtype=np.float64)"
    return JitgradTypeError(
        f"jitgrad computes with bool, integer and floating-point arrays, but got a value of "
        f"dtype {dtype.name} (shape {shape}); {fix}")


_PY_SCALAR_TYPES = frozenset({bool, int, float, complex})


def is_python_scalar(x: Any) -> bool:
    """A Python bool/int/float/complex (numpy scalars subclass some of these: they are not)."""
    t = type(x)
    if t in _PY_SCALAR_TYPES:
        return True
    if t is np.ndarray or isinstance(x, (Tracer, np.generic)):
        return False
    return isinstance(x, (bool, int, float, complex))


# The avals of concrete arrays, by (shape, dtype): eager transformations ask for them on every
# operation, and building one costs more than the operation on a small array.
_array_avals: dict[tuple[tuple[int, ...], np.dtype], ShapedArray] = {}


def aval_of(x: Any) -> ShapedArray:
    """The aval of a concrete value or a tracer. Python scalars get numpy's default dtypes."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (np.ndarray, np.generic)):
        key = (x.shape, x.dtype)
        aval = _array_avals.get(key)
        if aval is None:
            aval = ShapedArray(x.shape, x.dtype)
            if len(_array_avals) >= 4096:  # a program that sees ever new shapes
                _array_avals.clear()
            _array_avals[key] = aval
        return aval
    if isinstance(x, bool):
        return ShapedArray((), np.bool_, weak=True)
    if isinstance(x, int):
        return ShapedArray((), np.int64, weak=True)
    if isinstance(x, float):
        return ShapedArray((), np.float64, weak=True)
    if isinstance(x, ShapedArray):  # a value kept only as its aval (a linear rule's residual)
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TracerError(f"jitgrad cannot use a value of type {type(x).__name__} as an array")
    return ShapedArray(arr.shape, arr.dtype)


# ---------------------------------------------------------------------------------------------
# The IR

_var_ids = itertools.count()


class Var:
    """A single-assignment IR variable."""

    __slots__ = ("aval", "id")

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.id = next(_var_ids)

    def __repr__(self) -> str:
        return f"Var#{self.id}:{self.aval}"

    def __reduce__(self) -> tuple:
        # Ids are this process's counter: an unpickled Var takes a fresh one, so it never
        # collides with the Vars made here (passes key on ids). Pickle's memo keeps each Var
        # one object, so the program's sharing survives.
        return Var, (self.aval,)


class Lit:
    """A rank-0 literal constant inside the IR."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, dtype: Any = None):
        arr = np.asarray(val, dtype=dtype)
        if arr.ndim != 0:
            raise ValueError("literals are rank-0")
        self.val = arr[()]
        # A Python scalar stays weakly typed inside the IR, as it is outside.
        self.aval = ShapedArray((), arr.dtype, weak=dtype is None and is_python_scalar(val))

    def __repr__(self) -> str:
        return _format_lit(self)


Atom = Var | Lit


@dataclass(eq=False)
class Eqn:
    prim: Primitive
    inputs: list[Atom]
    outputs: list[Var]
    params: dict[str, Any]


@dataclass(eq=False, repr=False)
class IR:
    """A program: ``constvars`` are bound to ``consts`` (closed-over values), ``invars`` are the
    arguments. Single assignment; every var carries its aval."""

    constvars: list[Var]
    invars: list[Var]
    eqns: list[Eqn]
    outvars: list[Atom]
    consts: list[Any] = field(default_factory=list)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pp_ir(self)

    # The printed program is also what an interactive session or a notebook shows for
    # ``make_ir(f)(x)``, as JAX's jaxprs do (a dataclass field dump is unreadable).
    __repr__ = __str__

    def __getstate__(self) -> dict:
        # What jit derived from this program (compiled kernels, split programs) stays behind:
        # the process that unpickles it derives its own.
        return {k: v for k, v in vars(self).items() if k != "_derived"}


# ---------------------------------------------------------------------------------------------
# Printing (jaxpr style)


def _format_lit(lit: Lit) -> str:
    v = lit.val.item()
    return repr(v) if lit.aval.dtype in (np.float64, np.int64, np.bool_) else \
        f"{v!r}:{short_dtype(lit.aval.dtype)}"


def _var_names() -> Iterator[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            yield "".join(combo)


class _Namer:
    def __init__(self) -> None:
        self.names: dict[Var, str] = {}
        self.gen = _var_names()

    def __call__(self, x: Atom) -> str:
        if isinstance(x, Lit):
            return _format_lit(x)
        if x not in self.names:
            self.names[x] = next(self.gen)
        return self.names[x]

    def decl(self, v: Var) -> str:
        return f"{self(v)}:{v.aval}"


def _format_param(v: Any, namer: _Namer, indent: int) -> str:
    if isinstance(v, IR):
        return "\n" + _pp(v, namer, indent + 4)
    if isinstance(v, tuple) and v and all(isinstance(x, IR) for x in v):
        return "(" + "".join("\n" + _pp(x, namer, indent + 4) for x in v) + ")"
    if isinstance(v, np.dtype | type):
        return np.dtype(v).name
    if callable(v):
        return getattr(v, "__name__", repr(v))
    return repr(v)


def _pp(ir: IR, namer: _Namer, indent: int) -> str:
    pad = " " * indent
    consts = " ".join(namer.decl(v) for v in ir.constvars)
    args = " ".join(namer.decl(v) for v in ir.invars)
    head = f"{pad}{{ lambda {consts + ' ; ' if consts else ''}{args} ."
    lines = [head]
    for i, eqn in enumerate(ir.eqns):
        outs = " ".join(namer.decl(v) for v in eqn.outputs)
        params = " ".join(f"{k}={_format_param(eqn.params[k], namer, indent)}"
                          for k in sorted(eqn.params))
        ins = " ".join(namer(x) for x in eqn.inputs)
        lead = "  let " if i == 0 else "      "
        lines.append(f"{pad}{lead}{outs} = {eqn.prim.name}{f'[{params}]' if params else ''} {ins}")
    if not ir.eqns:
        lines.append(f"{pad}  let")
    lines.append(f"{pad}  in ( {' '.join(namer(x) for x in ir.outvars)} ) }}")
    return "\n".join(lines)


def pp_ir(ir: IR) -> str:
    """Render an IR as text, jaxpr style."""
    return _pp(ir, _Namer(), 0)


def var_names(ir: IR) -> dict[Var, str]:
    """The name ``pp_ir`` prints for each variable of ``ir`` (and of its sub-programs)."""
    namer = _Namer()
    _pp(ir, namer, 0)
    return namer.names


def pp_eqn_short(eqn: Eqn, names: dict[Var, str]) -> str:
    """One equation as ``outputs = primitive inputs`` (without params), with ``names``."""
    def atom(x: Atom) -> str:
        return _format_lit(x) if isinstance(x, Lit) else names[x]
    ins = "".join(f" {atom(x)}" for x in eqn.inputs)
    return f"{' '.join(names[v] for v in eqn.outputs)} = {eqn.prim.name}{ins}"


# ---------------------------------------------------------------------------------------------
# Primitives


class Zero:
    """A symbolic zero tangent/cotangent: no array is ever built for it."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval})"


def zeros(aval: ShapedArray) -> Any:
    """A zero array of ``aval``: a broadcast literal, which the backend never materialises
    until it is needed. (The broadcast primitive is declared in ``prims``, in terms of this
    module, so it is found in the registry.)"""
    return REGISTRY["broadcast_in_dim"].bind(np.zeros((), aval.dtype)[()], shape=aval.shape,
                                             dims=())


# ---------------------------------------------------------------------------------------------
# Lowerings: how the backend executes a primitive. Every primitive declares exactly one, and
# the backend dispatches on its type (there are no name tables anywhere else).

Affine = tuple[int | None, int, int]  # an index term: (loop axis or None, coefficient, offset)


@dataclass(frozen=True)
class Elementwise:
    """A scalar expression per element, fused into loop kernels. ``template`` is a format
    string over the operands ``{0}, {1}, ...``, the output dtype's numpy constructor ``{dt}``
    (literals keep float32 float32), its short name ``{sfx}`` and the params; or a function
    ``(operands, dt, **params) -> expression``. ``vmath`` names the vectorisable
    implementation in ``jitgrad.backend.vmath`` that float kernels call instead. ``inexact``:
    the kernel's result may differ from numpy's in the last bit (with ``precise_math`` such a
    primitive runs as numpy's own function instead). ``cheap``: recomputing it in every kernel
    that reads it costs less than storing it once."""

    template: str | Callable[..., str]
    vmath: str | None = None
    inexact: bool = False
    cheap: bool = True


@dataclass(frozen=True)
class Index:
    """Each output element is one input element at an affine index: loop kernels fold it into
    their index arithmetic and nothing is materialised. ``index_map(index, src, out,
    **params)`` maps the output's index (one ``Affine`` per output axis) to the operand's.
    ``applies(src, out, **params)`` (default: always) says whether these shapes make it an
    index map; where it does not, the primitive lowers as ``otherwise``."""

    index_map: Callable[..., tuple[Affine, ...]]
    applies: Callable[..., bool] | None = None
    otherwise: Lowering | None = None


@dataclass(frozen=True)
class Reduce:
    """A reduction over ``params["axes"]`` with ``monoid`` (sum, max, min, prod), fused with
    the elementwise work that produces its operand."""

    monoid: str


@dataclass(frozen=True)
class Matmul:
    """jitgrad's blocked matmul kernel (or BLAS), with broadcast batches, and an epilogue: a
    bias row added when the product's only use is the elementwise primitive ``bias_add``; then
    an update ``c0 + s * product`` stored in place of the product when its only use is
    ``scale`` by a scalar s whose only use is ``update_add`` or ``update_sub`` (``c0 - s *
    product``) with a stored array c0 (not a broadcast) of its shape and dtype, or (s = 1)
    when its only use is one of those two: an SGD step's ``W - lr * (X.T @ G)`` is one
    kernel."""

    bias_add: Any = None
    scale: Any = None
    update_add: Any = None
    update_sub: Any = None


@dataclass(frozen=True)
class View:
    """A numpy view of the operand (a general reshape): no copy for contiguous inputs."""


@dataclass(frozen=True)
class Host:
    """A step run outside the loop kernels: the numpy reference ``impl``; or the callable
    ``compiled(compile, **params)`` builds, where ``compile(ir)`` returns a compiled function
    of a sub-program (the backend passes its compiler in, so no primitive imports it); or,
    given ``kernel(**params)``, the source of a function ``kernel(*operands)`` returning the
    outputs (a hand-written loop, such as a scatter), which the backend compiles with Numba
    and its kernel flags and caches on disk, as it does its generated kernels; or, given
    ``module``, the function ``build(**params)`` of ``jitgrad.backend.kernels.<module>``
    (one of jitgrad's hand-written kernels, named here as ``Elementwise.vmath`` names a
    function, so that no primitive imports the backend) returns, called with the operands and
    then the output buffers, which it fills like a loop kernel."""

    compiled: Callable[..., Callable[..., Any]] | None = None
    kernel: Callable[..., str] | None = None
    module: str | None = None


@dataclass(frozen=True)
class Inline:
    """A call of the sub-program in ``params["fun"]`` (jit, custom rules, checkpoint): once
    compiling, its rules are no longer needed, and its equations are inlined."""


Lowering = Elementwise | Index | Reduce | Matmul | View | Host | Inline


class RuleFactory:
    """A rule built from the primitive it is declared on, at registration (one batching rule
    serves every elementwise primitive, one jvp every max-like reduction): a declaration
    passes ``RuleFactory(make)`` and ``make(prim)`` returns the rule."""

    def __init__(self, make: Callable[[Primitive], Callable[..., Any]]):
        self.make = make


@dataclass(eq=False)
class Primitive:
    """Everything about one operation, declared in one place and read by every consumer.

    ``shape_rule(*avals, **params) -> aval | list[aval]`` (it also decides weak types);
    ``impl(*arrays, **params)`` is the numpy reference (the oracle for every other path).
    ``jvp(primals, tangents, **params) -> (out, t_out)``, tangents may be ``Zero``; a
    ``linear`` primitive needs none (its tangent is the primitive applied to the tangents of
    its float operands), and its vjp reads its float operands and outputs only through their
    avals (eager reverse mode keeps just those). ``vjp(cts, ins, outs, **params) -> list`` of
    input cotangents (``None`` for zero); ``cts`` entries may be ``Zero``; with ``vjp_wrt`` it
    also takes ``wrt``, which operands need a cotangent (its truthy entries), and computes only
    those (reverse mode passes it: a matmul by a constant then costs one product, not two).
    ``vjp_fwd``/``vjp_bwd`` override how residuals are saved (default: the inputs and
    outputs); ``reverse_mode=False`` marks a primitive that refuses reverse mode (its
    ``vjp_fwd`` raises the explanation). ``batch(args, dims, **params) -> (out, out_dim)`` is
    the vmap rule (``dims``: each operand's batch axis or None). ``lowering`` says how the
    backend executes it. ``simplify(eqn, consts) -> atom | None`` states identities (``x*1 =
    x``): given the equation and its operands' constant values (None where not constant), the
    atom its output equals. ``test_cases(rng, dtype)`` yields ``(args, params[, options])``
    for the registry-driven tests; ``special_values`` are an elementwise primitive's domain
    edges, checked with NaN, ±Inf, ±0, subnormals and extremes, in values and derivatives, by
    the special-values test. Rules given as a ``RuleFactory`` are built from the primitive at
    registration.
    """

    name: str
    shape_rule: Callable[..., Any]
    impl: Callable[..., Any]
    lowering: Lowering
    jvp: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    batch: Callable[..., Any] | None = None
    test_cases: Callable[..., Any] | None = None
    special_values: tuple[float, ...] = ()
    linear: bool = False
    simplify: Callable[..., Any] | None = None
    multiple_results: bool = False
    differentiable: bool = True
    reverse_mode: bool = True
    vjp_fwd: Callable[..., Any] | None = None
    vjp_bwd: Callable[..., Any] | None = None
    vjp_wrt: bool = False

    def __post_init__(self) -> None:
        for name in ("jvp", "vjp", "batch", "vjp_fwd", "vjp_bwd", "simplify"):
            rule = getattr(self, name)
            if isinstance(rule, RuleFactory):
                setattr(self, name, rule.make(self))
        if self.linear and self.jvp is None:
            self.jvp = _linear_jvp(self)

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple:
        # A primitive is the registered singleton of its name (rules compare by identity).
        return _registered, (self.name,)

    def bind(self, *args: Any, **params: Any) -> Any:
        outs = (_current.get() or _EVAL).process(self, args, params)
        return outs if self.multiple_results else outs[0]

    def out_avals(self, avals: Sequence[ShapedArray], params: dict) -> list[ShapedArray]:
        out = self.shape_rule(*avals, **params)
        return list(out) if self.multiple_results else [out]


def _linear_jvp(prim: Primitive) -> Callable[..., tuple[Any, Any]]:
    """The jvp of a primitive linear in its float operands: the primitive applied to their
    tangents (symbolic zeros become zero arrays), the other operands (indices) passed as they
    are."""

    def jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
        out = prim.bind(*primals, **params)
        targs = [p if not is_float(aval_of(p).dtype) else
                 zeros(t.aval) if isinstance(t, Zero) else t
                 for p, t in zip(primals, tangents, strict=True)]
        return out, prim.bind(*targs, **params)

    return jvp


REGISTRY: dict[str, Primitive] = {}


def _registered(name: str) -> Primitive:
    # Unpickling imports jitgrad.core, hence the package, which registers every primitive.
    if name not in REGISTRY:
        raise UnsupportedError(f"unpickling an IR: no primitive {name!r} in this process's "
                               f"jitgrad (a different jitgrad version pickled it?)")
    return REGISTRY[name]


def register(prim: Primitive) -> Primitive:
    if not isinstance(prim.lowering, Lowering):
        raise TypeError(f"primitive {prim.name!r} declares no lowering (got {prim.lowering!r})")
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} registered twice")
    REGISTRY[prim.name] = prim
    return prim


# ---------------------------------------------------------------------------------------------
# Typechecking


def sub_irs(eqn: Eqn) -> list[IR]:
    """The sub-programs an equation's params hold (calls, branches, loop bodies)."""
    out: list[IR] = []
    for v in eqn.params.values():
        if isinstance(v, IR):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(x for x in v if isinstance(x, IR))
    return out


class IRTypeError(JitgradError, AssertionError):
    """The IR is malformed: a jitgrad bug in a transform, never the user's fault."""


def typecheck(ir: IR) -> None:
    """Re-infer every aval from the primitives' shape rules and check single assignment."""
    env: set[Var] = set()

    def define(v: Var) -> None:
        if not isinstance(v, Var):
            raise IRTypeError(f"binder {v!r} is not a Var")
        if v in env:
            raise IRTypeError(f"variable {v!r} assigned twice")
        env.add(v)

    def read(x: Atom) -> ShapedArray:
        if isinstance(x, Lit):
            return x.aval
        if x not in env:
            raise IRTypeError(f"variable {x!r} used before it is defined")
        return x.aval

    if len(ir.consts) != len(ir.constvars):
        raise IRTypeError("consts and constvars differ in number")
    for v in ir.constvars + ir.invars:
        define(v)
    for eqn in ir.eqns:
        in_avals = [read(x) for x in eqn.inputs]
        try:
            out_avals = eqn.prim.out_avals(in_avals, eqn.params)
        except ShapeError as e:
            raise IRTypeError(f"{eqn.prim.name}: shape rule failed in IR: {e}") from e
        if [v.aval for v in eqn.outputs] != out_avals:
            raise IRTypeError(f"{eqn.prim.name}: outputs {[v.aval for v in eqn.outputs]} but "
                              f"the shape rule infers {out_avals}")
        for sub in sub_irs(eqn):
            typecheck(sub)
        for v in eqn.outputs:
            define(v)
    for x in ir.outvars:
        read(x)


def _env_flag(name: str) -> bool:
    import os
    return os.environ.get(name, "") not in ("", "0")


# The largest narrow product (an output side or the contraction under a register tile's
# width) that config.use_blas leaves on jitgrad's kernel; see there.
_NARROW_KERNEL_MACS = 2 ** 21


class _Config:
    """Run-time switches (``jitgrad.config``); environment variables give the defaults.

    ``check_ir``: typecheck every IR after every transform (JITGRAD_CHECK_IR).
    ``threads``: large compiled loops and matmuls are split over this many threads
    (JITGRAD_NUM_THREADS, default 1: serial).
    ``reuse_buffers``: compiled programs keep their scratch arrays, and recycle large outputs
    the caller has dropped, instead of allocating them every call (JITGRAD_REUSE_BUFFERS,
    default on).
    ``scratch_mb``: the most memory, in MiB, that all compiled programs together keep between
    calls (scratch workspaces and recycled outputs); past it, the programs that allocated
    longest ago release theirs (JITGRAD_SCRATCH_MB, default 256).
    ``disable_jit``: ``jit`` runs the numpy reference instead of compiling (JITGRAD_DISABLE_JIT).
    ``compile``: "background" (default) or "blocking" (JITGRAD_COMPILE). In background mode
    the first calls of a new program run its optimised IR on the numpy reference path (the
    oracle the compiled code is tested against; results agree to the suite's tolerances, not
    bitwise) while a worker process compiles its kernels into the disk cache; the compiled
    program takes over between calls. ``Jitted.wait()`` and ``jitgrad.wait_for_compiles()``
    block until it does (a program in the disk cache is loaded by a thread instead). A first
    call waits for compiled code when the cache cannot be shared between processes, when
    Numba already runs and the program is in the disk cache, when its reference
    execution is estimated slower than compiling (long ``scan`` loops, very large arrays;
    every ``while_loop``), and under ``precise_math``, whose users want the same results from
    the first call on. Only top-level calls are tiered: a ``jit`` function called inside
    another transformation, or ``grad(jit(f))``, compiles before it runs. In background mode
    with ``matmul == "auto"``, jitgrad's matmul kernel (seconds to compile per dtype on a
    fresh install, then cached) is compiled in the background too: compiled programs run
    their products on numpy's BLAS until it is loaded.
    ``log_compiles``: log every trace and compile with its reason (JITGRAD_LOG_COMPILES).
    ``matmul``: "auto" (jitgrad's kernel, or numpy's BLAS where measured faster), "jitgrad"
    or "blas" (JITGRAD_MATMUL).
    ``kernel_compiler``: "direct" (default: loop kernels are lowered to LLVM by jitgrad through
    Numba's typing and lowering registries, about twice as fast to compile; any kernel or
    argument it does not handle goes to Numba) or "numba" (every kernel compiled by Numba's
    own pipeline) (JITGRAD_KERNEL_COMPILER).
    ``profile``: each program compiled while it is on prints, to stderr, the median time of
    each step over warm calls (kernels, matmuls, host steps, allocations, the Python between
    them) on its first call; off (the default), no timing code runs (JITGRAD_PROFILE).
    ``precise_math``: transcendental functions are numpy's own (computed outside the fused
    kernels) and kernels do not contract a*b+c into FMAs, so elementwise results are identical
    to numpy's; by default kernels use jitgrad's vectorised math, within 1 ulp of numpy
    (JITGRAD_PRECISE_MATH).
    """

    def __init__(self) -> None:
        import os
        self.check_ir = _env_flag("JITGRAD_CHECK_IR")
        self.disable_jit = _env_flag("JITGRAD_DISABLE_JIT")
        self.compile = os.environ.get("JITGRAD_COMPILE") or "background"
        self.log_compiles = _env_flag("JITGRAD_LOG_COMPILES")
        self.matmul = os.environ.get("JITGRAD_MATMUL", "auto")
        self.kernel_compiler = os.environ.get("JITGRAD_KERNEL_COMPILER") or "direct"
        self.precise_math = _env_flag("JITGRAD_PRECISE_MATH")
        self.profile = _env_flag("JITGRAD_PROFILE")
        self.threads = max(1, int(os.environ.get("JITGRAD_NUM_THREADS", "1") or 1))
        self.reuse_buffers = os.environ.get("JITGRAD_REUSE_BUFFERS", "1") != "0"
        self.scratch_mb = float(os.environ.get("JITGRAD_SCRATCH_MB", "256") or 256)

    def use_blas(self, dtype: np.dtype, m: int, n: int, k: int, batch: int = 1) -> bool:
        """Whether a matmul of this dtype and size (``batch`` products of m x k by k x n) runs
        on numpy's BLAS instead of jitgrad's own kernel (which handles float32 and float64)."""
        if dtype not in (np.float32, np.float64) or self.matmul == "blas":
            return True
        if self.matmul == "jitgrad" or self.threads > 1:
            # NB: with jitgrad's own threads, never numpy's OpenBLAS: its threads spin ~0.1 s
            # after each call and took the core jitgrad's pool runs on (JITGRAD_NUM_THREADS=2,
            # OpenBLAS's default threads, 2 cores: the mnist step 10.1 ms with the narrow
            # products on BLAS, 7.0 ms with OpenBLAS limited to one thread).
            return False
        # "auto", measured on this project's machine (AMD Zen 5, single-threaded, interleaved
        # against numpy's OpenBLAS, see the matmul notes): the kernel took 0.5-0.7x BLAS's
        # time from 96^3 up and about the same at 48^3-64^3 (numpy runs a batch as one BLAS
        # call per product, so batches of 32^3 already favour the kernel); its 8 x 16/32
        # register tile lost with an output side of 16 (f32) or 8 (f64) or less, and with a
        # contraction of 16 (f32) or 32 (f64) or less (4096x27 @ 27x64: 0.8x in f32, 1.1x f64).
        # Those narrow products stay on the kernel up to _NARROW_KERNEL_MACS multiply-adds,
        # though: alone BLAS is as fast or faster there, but inside a program, between
        # jitgrad's kernels, its first call ran at 0.4x the speed of the call repeated (MLP
        # step, 128x256 @ 256x10 f32: 41.6 against 17.3 us), and the steps whose width-10
        # products (128 x 256-1024 x 10) moved to the kernel ran 1.7-2.6 % faster; the CNN
        # step's (32 x 12544 x 10) took twice as long on the kernel (matmul notes, round 14).
        f32 = dtype == np.float32
        narrow = min(m, n) <= (16 if f32 else 8) or k <= (16 if f32 else 32)
        return (narrow and batch * m * n * k > _NARROW_KERNEL_MACS
                or m * n * k < (64 if batch == 1 else 32) ** 3)

    def update(self, name: str, value: Any) -> None:
        """JAX's ``config.update(name, value)``, for ported programs: jitgrad's own switches
        by name, and the JAX options that mean something here. ``jax_enable_x64=True`` is
        what jitgrad always does (numpy's dtypes: float64 stays float64); ``False`` (JAX's
        default, computing in float32) cannot be had and raises, as does any other unknown
        name.

        >>> config.update("jax_enable_x64", True)
        >>> config.update("jax_log_compiles", False); config.log_compiles
        False
        """
        import warnings
        # jitgrad's log of compiles says why each trace happened: JAX's cache-miss explanations
        jax_names = {"jax_disable_jit": "disable_jit", "jax_log_compiles": "log_compiles",
                     "jax_explain_cache_misses": "log_compiles"}
        if name in jax_names or (not name.startswith("_") and name in vars(self)):
            setattr(self, jax_names.get(name, name), value)
        elif name == "jax_enable_x64" and value:
            return
        elif name in ("jax_platform_name", "jax_platforms") and value in ("cpu", "", None):
            return
        elif name in ("jax_default_matmul_precision", "jax_numpy_rank_promotion",
                      "jax_debug_nans", "jax_debug_infs"):
            warnings.warn(f"jitgrad ignores {name}={value!r} (matmuls are exact to their dtype; "
                          f"broadcasting follows numpy; NaNs and infinities are not checked)",
                          stacklevel=2)
        else:
            from jitgrad.errors import UnsupportedError
            raise UnsupportedError(
                f"config.update({name!r}, {value!r}): no such option in jitgrad (its switches: "
                f"{', '.join(sorted(k for k in vars(self) if not k.startswith('_')))}; "
                f"jax_enable_x64 can only be True: jitgrad keeps numpy's dtypes)")


config = _Config()


def check_ir(ir: IR) -> IR:
    """Typecheck ``ir`` when checks are on (always in the test suite); returns it."""
    if config.check_ir:
        typecheck(ir)
    return ir


# ---------------------------------------------------------------------------------------------
# Tracers and interpreters


class Tracer:
    """A value being transformed by an interpreter. Operators and methods come from
    ``jitgrad.numpy`` (installed there, since core may not import upward)."""

    __slots__ = ("interp",)
    __array_priority__ = 1000
    interp: Interpreter

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def weak(self) -> bool:
        return self.aval.weak

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    def primal_value(self) -> Any:
        """The value this tracer carries for its interpreter's parent (a concrete-valued
        interpreter's tracers override this)."""
        raise NotImplementedError

    def _concrete(self, what: str) -> Any:
        """The concrete value under eager transformations (whose tracers carry one), or the
        clear error while ``jit``, ``make_ir``, ``vmap`` or a ``lax`` body traces."""
        x: Any = self
        while isinstance(x, Tracer):
            if not x.interp.concrete:
                raise self._concrete_error(what)
            x = x.primal_value()
        return x

    def _concrete_error(self, what: str) -> TracerError:
        return TracerError(
            f"{what} needs a concrete value, but got a traced array {self.aval} inside jit, "
            f"make_ir, vmap or a lax control-flow body, which trace abstract values. Python "
            f"control flow there cannot depend on traced values: use jnp.where(cond, x, y) "
            f"(or jnp.maximum/minimum/clip, lax.cond, lax.while_loop) instead of if/else, keep "
            f"the values you branch on outside the function or as static arguments, or call "
            f"the transformation outside jit (eager grad/jvp carry concrete values).")

    def __bool__(self) -> bool:
        return bool(self._concrete("bool() (an `if`, `while`, `and`/`or` or assert)"))

    def __float__(self) -> float:
        return float(self._concrete("float()"))

    def __int__(self) -> int:
        return int(self._concrete("int()"))

    def __complex__(self) -> complex:
        return complex(self._concrete("complex()"))

    def __index__(self) -> int:
        return operator.index(self._concrete("using it as an index (__index__)"))

    def item(self, *args: Any) -> Any:
        """The element as a Python scalar (concrete values only), as ``numpy.ndarray.item``."""
        return np.asarray(self._concrete(".item()")).item(*args)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TracerError(
            f"cannot convert a traced array {self.aval} to a numpy array. Inside a function "
            f"transformed by jitgrad, use jitgrad.numpy (jnp) functions instead of numpy's, "
            f"and do not call np.asarray/float()/.item() on traced values. (To index a numpy "
            f"array with a traced index, write jnp.asarray(table)[i]: numpy's own indexing "
            f"cannot take traced values.)")

    def __hash__(self) -> int:
        raise TypeError(f"traced array {self.aval} is unhashable")

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        try:
            value = self._concrete("repr")
        except TracerError:
            return f"Traced<{self.aval}>"
        return f"Traced<{self.aval}> with value {np.asarray(value)!r}"


class Interpreter:
    """Gives meaning to bound primitives. ``concrete``: its values carry concrete values
    (Python control flow on them works), as at top level and under eager transformations."""

    parent: Interpreter | None = None
    concrete: bool = False

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        raise NotImplementedError

    def ancestors(self) -> Iterator[Interpreter]:
        it = self.parent
        while it is not None:
            yield it
            it = it.parent


class EvalInterpreter(Interpreter):
    """Runs every primitive's numpy reference implementation on concrete arrays."""

    concrete = True

    def process(self, prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        for a in args:
            if isinstance(a, Tracer):
                raise leaked_tracer_error(a)
        return self.run(prim, args, params)

    @staticmethod
    def run(prim: Primitive, args: Sequence[Any], params: dict) -> list[Any]:
        """The numpy reference on operands that hold no tracer."""
        out = prim.impl(*args, **params)
        return list(out) if prim.multiple_results else [out]


def leaked_tracer_error(t: Tracer) -> TracerError:
    return TracerError(
        f"a traced value {t.aval} was used outside the transformation that created it (it "
        f"escaped, e.g. through a global, a list mutated in place, or a returned closure). "
        f"Return values from the transformed function instead of storing them.")


_EVAL = EvalInterpreter()
_current: contextvars.ContextVar[Interpreter | None] = contextvars.ContextVar(
    "jitgrad_interpreter", default=None)


def current_interpreter() -> Interpreter:
    return _current.get() or _EVAL


class using:  # noqa: N801 - used as a function: ``with using(interp):``
    """Make ``interp`` the current interpreter inside the block. (A class, not a generator
    context manager: eager transformations enter one per operation.)"""

    __slots__ = ("interp", "token")

    def __init__(self, interp: Interpreter):
        self.interp = interp

    def __enter__(self) -> Interpreter:
        self.token = _current.set(self.interp)
        return self.interp

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)


def eval_ir(ir: IR, *args: Any) -> list[Any]:
    """Evaluate ``ir`` by binding its primitives under the current interpreter (so evaluating
    an IR inside another transformation transforms it)."""
    env: dict[Var, Any] = {}
    for v, x in zip(ir.constvars, ir.consts, strict=True):
        env[v] = x
    for v, x in zip(ir.invars, args, strict=True):
        env[v] = x

    def read(x: Atom) -> Any:
        return x.val if isinstance(x, Lit) else env[x]

    interp = current_interpreter()
    for eqn in ir.eqns:
        outs = interp.process(eqn.prim, [read(x) for x in eqn.inputs], eqn.params)
        for v, o in zip(eqn.outputs, outs, strict=True):
            env[v] = o
    return [read(x) for x in ir.outvars]
