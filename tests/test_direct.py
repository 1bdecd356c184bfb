"""Loop kernels compiled directly (jitgrad.backend.direct): the same results as the Numba
kernels of the same source, the generated kernels of common programs all lowered directly,
every argument the wrapper does not take handed to the Numba kernel, and the object-code
cache trusted only when intact. (The rest of the suite runs through this path too: it is the
default.)"""

import inspect
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from numba.core.errors import TypingError

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.backend import cache, direct
from jitgrad.core import config


@pytest.fixture
def numba_kernels(monkeypatch):
    monkeypatch.setattr(config, "kernel_compiler", "numba")


def programs():
    """Programs whose kernels exercise each kind of scalar code the generator writes: float
    arithmetic and vectorised math in both float types, casts, comparisons and selects,
    integer arithmetic of several widths, row-wise and local reductions of each monoid,
    broadcasts, transposes and reversed axes."""
    rng = np.random.default_rng(0)
    x64, y64 = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    x32, y32 = x64.astype(np.float32), y64.astype(np.float32)
    i8 = rng.integers(-100, 100, (5, 7), dtype=np.int8)
    i64 = rng.integers(-1000, 1000, (5, 7))
    u16 = rng.integers(0, 60000, (5, 7), dtype=np.uint16)
    return [
        ("tanh-exp", lambda x, y: jnp.tanh(x) * y + jnp.exp(-x * x) / (1 + y * y), (x64, y64)),
        ("tanh-exp f32", lambda x, y: jnp.tanh(x) * y + jnp.exp(-x * x) / (1 + y * y),
         (x32, y32)),
        ("log-softmax", lambda x, y: jnp.sum(y * jg.nn.log_softmax(x, axis=-1), axis=-1),
         (x32, y32)),
        ("grad", jg.grad(lambda x, y: jnp.sum(jnp.sin(x) * jnp.log1p(y * y))), (x64, y64)),
        ("where-max", lambda x, y: jnp.where(x > y, jnp.maximum(x, 0.5), jnp.abs(y)), (x64, y64)),
        ("reductions", lambda x, y: (jnp.max(x, axis=0), jnp.min(y, axis=1), jnp.prod(x, axis=1),
                                     jnp.sum(x * y)), (x64, y64)),
        ("f32 sum", lambda x, y: jnp.sum(x * y, axis=0) + jnp.mean(x), (x32, y32)),
        # float32 sums in blocks: a float64 scratch row (more than 64 rows), and a rank-1
        # kernel's chunk function (more than 2048 terms)
        ("f32 blocked sums", lambda x, y: (jnp.sum(x * x, axis=0), jnp.sum(y), jnp.max(y)),
         (rng.standard_normal((70, 3)).astype(np.float32),
          rng.standard_normal(3000).astype(np.float32))),
        ("casts", lambda x, y: (x.astype(np.int32) + y.astype(np.int16), (x > 0).astype(x.dtype),
                                jnp.floor(x) - jnp.round(y)), (x64, y64)),
        ("int8 wraps", lambda a, b: (a * b + a, a // (b % 7 + 1), -a), (i8, i8[::-1])),
        ("int64", lambda a, b: (a // 7 - b % 13, jnp.maximum(a, b), a & b, a ^ ~b), (i64, i64.T.T)),
        ("uint16", lambda a, b: (a + b, a // (b + 1), a > b), (u16, u16[:, ::-1])),
        ("broadcast-transpose", lambda x, y: x.T[:, :5] * y[:5, 0] + y.T[::-1, :1].T.sum(),
         (x64, y64)),
    ]


def run_each(mode):
    """Each program's results with ``kernel_compiler = mode``, jitted anew."""
    old = config.kernel_compiler
    config.kernel_compiler = mode
    try:
        return {name: jg.tree_util.tree_map(np.asarray, jg.jit(f)(*args))
                for name, f, args in programs()}
    finally:
        config.kernel_compiler = old


def test_direct_kernels_give_the_numba_kernels_results():
    before = dict(direct.stats)
    ours, numbas = run_each("direct"), run_each("numba")
    for name, got in ours.items():
        want = numbas[name]
        for g, w in zip(jg.tree_util.tree_leaves(got), jg.tree_util.tree_leaves(want),
                        strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape, name
            if g.dtype.kind == "f":  # (sums may be vectorised into other partial sums)
                np.testing.assert_allclose(g, w, rtol=1e-6 if g.dtype == np.float32 else 1e-13,
                                           atol=0, err_msg=name)
            else:
                np.testing.assert_array_equal(g, w, err_msg=name)
    assert direct.stats["compiled"] + direct.stats["loaded"] > before["compiled"] + \
        before["loaded"]


def test_common_programs_lower_every_kernel_directly():
    """Nothing these programs' generator writes is left to Numba."""
    before = direct.stats["numba"]
    run_each("direct")
    assert direct.stats["numba"] == before


def written_parameters(source):
    """The parameters of ``source``'s kernel function that some function of it stores into
    (its outputs: every function of a kernel module names the arrays as the kernel does)."""
    import ast
    tree = ast.parse(source)
    stored = {t.value.id for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AugAssign)
              for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
              if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)}
    kernel = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "kernel")
    return [k for k, a in enumerate(kernel.args.args) if a.arg in stored]


def test_kernel_outputs_share_memory_with_no_other_argument(monkeypatch):
    """What the kernels' ``noalias`` data pointers rely on (``direct._data_arguments``): at
    every kernel call the arrays a kernel writes share no memory with any other argument,
    in every program here, their gradients, loop bodies and split kernels."""
    calls = []
    bind = direct.bind

    def checked(source, glob, name):
        kernel = bind(source, glob, name)
        written = written_parameters(source)

        def call(*args):
            arrays = [(k, a) for k, a in enumerate(args) if isinstance(a, np.ndarray)]
            assert written and all(k < len(args) for k in written)
            for k in written:
                for j, other in arrays:
                    assert j == k or not np.may_share_memory(args[k], other), (source, k, j)
            calls.append(name)
            return kernel(*args)
        return call

    monkeypatch.setattr(direct, "bind", checked)
    x = np.random.default_rng(1).standard_normal((6, 5))
    extra = [
        ("scan", lambda x, y: jg.lax.fori_loop(0, 3, lambda i, c: jnp.tanh(c) * y + c, x)),
        ("gradient of a loop", jg.grad(lambda x, y: jnp.sum(jg.lax.scan(
            lambda c, r: (jnp.sin(c) * r, c * c), x[0], y)[1]))),
        ("split", lambda x, y: jnp.tanh(x) * y),
    ]
    split = np.random.default_rng(2).standard_normal((2, 200_000))
    cases = [(name, f, args) for name, f, args in programs()] + \
        [(name, f, (x, x + 1) if name != "split" else (split, split[::-1]))
         for name, f in extra]
    monkeypatch.setattr(config, "threads", 2)
    for name, f, args in cases:
        before = len(calls)
        jg.jit(f)(*args)
        assert len(calls) > before, name


def test_builtin_runs_directly_and_hands_other_arguments_to_numba():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    f = jg.jit(lambda x, y: jnp.tanh(x) * y + 1.0)
    want = np.tanh(x) * y + 1.0
    np.testing.assert_allclose(f(x, y), want, rtol=1e-14)

    class Sub(np.ndarray):
        pass

    misaligned = np.frombuffer(b"\0" + x.tobytes(), np.float64, offset=1).reshape(x.shape)
    assert not misaligned.flags.aligned
    for xa in (np.asfortranarray(x), x.view(Sub), misaligned, x.astype(">f8")):
        np.testing.assert_allclose(np.asarray(f(xa, y)), want, rtol=1e-14)


def kernel_source(body):
    return cache.module_source(body, "import math\n\nimport numpy as np\nfrom numba import njit")


AXPY = kernel_source(textwrap.dedent("""
    @njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
    def kernel(in0, in1, out0, n1):
        n0 = out0.shape[0]
        for i0 in range(n0):
            for i1 in range(n1):
                out0[i0, i1] = in0[i0, i1] * 2.0 + in1[i1]
"""))


def test_wrapper_checks_each_argument_at_every_call():
    glob = {}
    glob["K"] = direct.bind(AXPY, glob, "K")
    a, b = np.arange(12.0).reshape(3, 4), np.arange(4.0)
    out = np.empty((3, 4))
    glob["K"](a, b, out, 4)
    np.testing.assert_array_equal(out, a * 2 + b)
    fn = glob["K"]
    assert type(fn).__name__ == "builtin_function_or_method"  # rebound to the builtin
    for args in [(a.astype(np.float32), b, out, 4), (a[:, ::-1], b, out, 4),
                 (a, b, out, np.int64(4))]:
        out[:] = -1
        fn(*args)  # whatever the Numba kernel does with them
        np.testing.assert_array_equal(out, np.asarray(args[0], np.float64) * 2 + b)
    for args in [(a, b, out), (a, b, out, "4")]:  # Numba's errors, not a crash
        with pytest.raises((TypeError, TypingError)):
            fn(*args)


def test_kernels_release_the_gil():
    glob = {}
    glob["K"] = direct.bind(AXPY, glob, "K")
    a, b = np.ones((2000, 1000)), np.ones(1000)
    outs = [np.empty((2000, 1000)) for _ in range(4)]
    glob["K"](a, b, outs[0], 1000)
    threads = [threading.Thread(target=glob["K"], args=(a, b, o, 1000)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in outs:
        np.testing.assert_array_equal(o, 3.0)


def test_unsupported_constructs_compile_with_numba_once(tmp_path, monkeypatch):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    source = kernel_source(textwrap.dedent("""
        @njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
        def kernel(in0, out0):
            i = 0
            while i < in0.shape[0]:
                out0[i] = in0[i] + 1.0
                i += 1
    """))
    before = direct.stats["numba"]
    glob = {}
    glob["K"] = direct.bind(source, glob, "K")
    out = np.empty(3)
    glob["K"](np.arange(3.0), out)
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    assert direct.stats["numba"] == before + 1
    assert glob["K"] is cache.load(source).kernel
    assert list(tmp_path.glob("jitgrad_d_*.numba"))


def test_kernel_compiler_numba_uses_numba_dispatchers(numba_kernels):
    glob = {}
    assert direct.bind(AXPY, glob, "K") is cache.load(AXPY).kernel
    config.kernel_compiler = "llvm"
    with pytest.raises(ValueError, match="kernel_compiler must be one of"):
        direct.bind(AXPY, glob, "K")


INDEXING = kernel_source(textwrap.dedent("""
    @njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
    def kernel(in0, in1, out0, out1, n0, n1):
        acc = 0.0
        for i0 in range(n0):
            for i1 in range(n1):
                # negative indices, int32 and uint16 indices, a strided 3-d array
                v = in0[i0 - n0, -1 - i1] + in1[np.int32(i0), np.uint16(i1), i1 % 2]
                out0[np.int32(-1 - i0), i1] = v  # (a float32 array: the value is cast)
                acc += v
        out1[()] = acc
"""))


def test_element_access_lowers_as_numbas_indexing():
    """Elements of the kernel's array parameters (read and written by integers of any kind,
    negative ones counted from the end) are addressed from fields unpacked once: the
    results of Numba's own indexing, for every layout."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5))
    b = rng.standard_normal((4, 6, 2, 3))[:, ::-1, :, 1]  # not contiguous: layout 'A'

    def run_kernel(fn):
        outs = np.zeros((4, 5), np.float32), np.zeros(())
        fn(a, b, *outs, 4, 5)
        return outs

    before = dict(direct.stats)
    glob = {}
    glob["K"] = direct.bind(INDEXING, glob, "K")
    ours = run_kernel(glob["K"])
    assert direct.stats["compiled"] + direct.stats["loaded"] > before["compiled"] + \
        before["loaded"] and direct.stats["numba"] == before["numba"]
    numbas = run_kernel(cache.load(INDEXING).kernel)
    for got, want in zip(ours, numbas, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ours[0][::-1], (a[:, ::-1] + b[:, :5, 0] * [1, 0, 1, 0, 1]
                                                  + b[:, :5, 1] * [0, 1, 0, 1, 0]
                                                  ).astype(np.float32))


RANKS = kernel_source(textwrap.dedent("""
    @njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
    def kernel(in0, n, in1, out0, in2):
        for i0 in range(in0.shape[0]):
            for i1 in range(in0.shape[1]):
                for i2 in range(in0.shape[2]):
                    for i3 in range(in0.shape[3]):
                        acc = in1[()] * n
                        for i4 in range(in0.shape[4]):
                            acc += in0[i0, i1, i2, i3, i4] * in2[i4]
                        out0[i0, i1, i2, i3] = acc
"""))


def test_wrapper_fills_arguments_of_every_rank():
    """The one wrapper every kernel shares fills the argument struct from the kernel's table:
    arrays of rank 0 to 5 (strided ones too) among integers, each at its place."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 2, 4, 2, 6))[:, :, ::-1, :, ::2]  # rank 5, not contiguous
    c, v = np.array(0.5), rng.standard_normal(3)
    before = direct.stats["numba"]
    kernel = direct.Kernel(RANKS)
    for out in (np.full((3, 2, 4, 2), np.nan),
                np.full((4, 2, 3, 2), np.nan).transpose(2, 1, 0, 3)):  # layout "A"
        for n in (3, 2):
            args = (a, n, c, out, v)
            fn = kernel.for_args(args)
            assert type(fn).__name__ == "builtin_function_or_method"
            fn(*args)
            np.testing.assert_allclose(out, 0.5 * n + a @ v, rtol=1e-13)
    assert len(kernel.compiled) == 2 and direct.stats["numba"] == before
    assert kernel._module is None  # no call went to the fallback (the Numba kernel)


def test_numba_kernel_is_made_only_when_needed(tmp_path, monkeypatch):
    """A direct kernel's Numba kernel (its module written to the kernel cache and executed,
    Numba's dispatcher made) is its fallback only: made at the first call with arguments of
    another kind."""
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    source = AXPY.replace("* 2.0", "* 3.0")  # a kernel no other test has made
    glob = {}
    glob["K"] = direct.bind(source, glob, "K")
    a, b, out = np.arange(12.0).reshape(3, 4), np.arange(4.0), np.empty((3, 4))
    glob["K"](a, b, out, 4)
    np.testing.assert_array_equal(out, a * 3 + b)
    assert list(tmp_path.glob("jitgrad_d_*.o")) and not list(tmp_path.glob("jitgrad_k_*.py"))
    glob["K"](a.astype(np.float32), b, out, 4)  # another kind: the Numba kernel, made now
    np.testing.assert_array_equal(out, a * 3 + b)
    assert list(tmp_path.glob("jitgrad_k_*.py"))


SCRIPT = textwrap.dedent("""
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend import direct
    f = jg.jit(jg.grad(lambda x: jnp.sum(jnp.tanh(x) * x)))
    x = np.linspace(-1, 1, 9)
    t = np.tanh(x)
    ok = np.allclose(f(x), t + x * (1 - t * t))
    print(f"ok={ok} {direct.stats}")
""")


def run(cache_dir):
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(cache_dir), JITGRAD_COMPILE="blocking")
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


def test_object_code_is_cached_and_a_damaged_file_is_compiled_again(tmp_path):
    first = run(tmp_path)
    assert first.startswith("ok=True") and "'loaded': 0" in first and "'compiled': 0" not in first
    second = run(tmp_path)
    assert second.startswith("ok=True") and "'compiled': 0" in second
    files = list(tmp_path.glob("jitgrad_d_*.o"))
    assert files
    for f in files:  # a flipped byte anywhere: the digest no longer matches, nothing is loaded
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))
    third = run(tmp_path)
    assert third.startswith("ok=True") and "'loaded': 0" in third


def test_builtin_outlives_its_kernel_objects(tmp_path):
    """The builtin's PyMethodDef lives in the compiled code's memory: a builtin still held by
    a caller (or met by the garbage collector at exit) after jitgrad's own objects for it are
    gone reads valid memory. It was a ctypes struct, freed first at exit: a segfault in
    CPython's garbage collector after the last line of a script. Its fallback (an address
    too) lives as long."""
    script = textwrap.dedent(f"""
        import gc
        import numpy as np
        from jitgrad.backend import direct
        glob = {{}}
        glob["K"] = direct.bind({AXPY!r}, glob, "K")
        a, b, out = np.ones((3, 4)), np.arange(4.0), np.empty((3, 4))
        glob["K"](a, b, out, 4)
        direct._kernels.clear()
        direct._wrappers.clear()
        gc.collect()
        reuse = [i + 10 ** 9 for i in range(200000)]  # objects the size of a freed struct
        print(glob["K"].__name__.startswith("jitgrad_"), end=" ")
        glob["K"](a, b, out, 4)
        print(bool((out == 2 + b).all()), end=" ")
        glob["K"](a.astype(np.float32), b, out, 4)  # the fallback, made now
        print(bool((out == 2 + b).all()))
    """)
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "True"]


def vmath_primitives():
    from jitgrad.core import REGISTRY, Elementwise
    return sorted(name for name, p in REGISTRY.items()
                  if isinstance(p.lowering, Elementwise) and p.lowering.vmath)


def new_libraries(before):
    return [c.lib for k in list(direct._kernels.values()) for c in k.compiled
            if id(c) not in before]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", vmath_primitives())
def test_kernels_calling_vmath_vectorise(name, dtype, tmp_path, monkeypatch):
    """Every primitive with a vectorised implementation leaves its kernel's loop vectorised
    (LLVM's vector.body) with the one module pipeline direct kernels run, and float32 never
    widens to float64 but in tanh, which evaluates its rational in float64 on purpose
    (backend/VMATH_NOTES.md)."""
    from jitgrad.core import REGISTRY
    prim = REGISTRY[name]
    x = np.linspace(0.5, 3, 16).astype(dtype)
    before = {id(c) for k in direct._kernels.values() for c in k.compiled}
    arity = getattr(prim.impl, "nin", None) or len(inspect.signature(prim.impl).parameters)
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))  # compiled here, not loaded
    scale = float(np.random.default_rng().uniform(2, 3))  # a kernel no other test compiled
    jg.jit(lambda v: prim.bind(*[v] * arity) * scale)(x)
    (lib,) = new_libraries(before) or [None]
    llvm = lib.get_llvm_str()
    assert "vector.body" in llvm
    if dtype == np.float32:
        assert ("double" in llvm) == (name == "tanh")


# -- inline helpers (vmath, special_math's hot functions, ...) lowered like kernels

# The public inline helpers that stay Numba's, and why; every other one must lower directly.
NUMBA_HELPERS = {
    "gcd_int": "a while loop",
    "scratch_f64": "returns an array (kernels allocate their scratch themselves)",
}


# Helper modules whose functions kernels call with integers (the random-bits hash's key and
# counter words); the others take floats.
HELPER_ARGS = {"jitgrad.backend.bits": np.uint32}


def inline_helpers():
    """Every public inline helper of the helper modules (``cache.inline_helper``)."""
    import importlib
    return [(mod, name) for mod in cache.HELPER_MODULES
            for name, fn in sorted(vars(importlib.import_module(mod)).items())
            if getattr(fn, cache.INLINE, False) and not name.startswith("_")]


def helper_inputs(dtype, n):
    """Special values (zeros, subnormals, the overflow edges, infinities, NaN) and random
    ones of ``dtype``, shuffled into ``n`` arguments."""
    rng = np.random.default_rng(3)
    if np.dtype(dtype).kind == "f":
        fi = np.finfo(dtype)
        special = [0.0, -0.0, fi.smallest_subnormal, fi.smallest_normal, fi.eps, 0.5, 1.0,
                   2.0, 3.5, 20.0, 88.7, 709.8, 1e10, float(fi.max), np.inf, np.nan]
        values = np.concatenate([special, np.negative(special),
                                 rng.standard_normal(64) * 10.0 ** rng.integers(-8, 4, 64)])
        values = values.astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(max(info.min, -(2 ** 40)), min(info.max, 2 ** 40), 96,
                              dtype=dtype, endpoint=True)
    return [values] + [rng.permutation(values) for _ in range(n - 1)]


def helper_kernel(mod, name, arity):
    ins = ", ".join(f"in{k}" for k in range(arity))
    reads = ", ".join(f"in{k}[i0]" for k in range(arity))
    return kernel_source(f"from {mod} import {name}\n" + textwrap.dedent(f"""
        @njit(cache=True, nogil=True, error_model="numpy", fastmath={{"contract"}})
        def kernel({ins}, out0, n0):
            for i0 in range(n0):
                out0[i0] = {name}({reads})
    """))


@pytest.mark.parametrize("mod, name", inline_helpers())
def test_inline_helpers_lower_directly_and_give_numbas_results(mod, name):
    """Each helper kernels call is lowered by jitgrad (not compiled by Numba), and a kernel
    calling it gives the Numba kernel's results on special and random values: the same
    bits, or for floats at most one unit in the last place apart (where LLVM contracts
    another product into an fma: the helper is optimised with its callees already inlined)."""
    import importlib

    from numba import from_dtype
    fn = getattr(importlib.import_module(mod), name)
    arity = len(inspect.signature(fn.py_func).parameters)
    if name in NUMBA_HELPERS:
        with pytest.raises(direct.Unsupported):
            direct._helper(fn, (from_dtype(np.dtype(np.float64)),) * arity)
        return
    # The argument type kernels call it with: the hash's words, else the helper's float type.
    dtype = HELPER_ARGS.get(mod, np.float32 if name.endswith("_f32") else np.float64)
    try:
        helper = direct._helper(fn, (from_dtype(np.dtype(dtype)),) * arity)
    except direct.Unsupported as e:
        pytest.fail(f"{name} is not lowered directly: {e}")
    args = helper_inputs(dtype, arity)
    out_dtype = np.dtype(str(helper.restype))
    source = helper_kernel(mod, name, arity)
    glob = {}
    glob["K"] = direct.bind(source, glob, "K")
    got, want = np.empty(len(args[0]), out_dtype), np.empty(len(args[0]), out_dtype)
    glob["K"](*args, got, len(got))
    assert type(glob["K"]).__name__ == "builtin_function_or_method"  # compiled directly
    cache.load(source).kernel(*args, want, len(want))
    if out_dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        finite = ~np.isnan(want)
        np.testing.assert_array_max_ulp(got[finite], want[finite], maxulp=1)
    else:
        np.testing.assert_array_equal(got, want)


HELPER_SCRIPT = textwrap.dedent("""
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend import direct
    x = np.linspace(-3, 3, 9)
    y = jg.jit(lambda x: jnp.sin(x) + jnp.tanh(x))(x)
    print(bool(np.allclose(y, np.sin(x) + np.tanh(x))), direct.stats["helpers lowered"],
          direct.stats["helpers loaded"])
""")


def test_inline_helpers_are_cached_with_numbas_cache(tmp_path):
    """A helper is lowered once per install: the next process loads its bitcode from the
    directory of Numba's cache of it, and a damaged file is lowered again."""
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path / "k"), JITGRAD_COMPILE="blocking",
               NUMBA_CACHE_DIR=str(tmp_path / "n"))

    def run_script(cache_dir):
        env["JITGRAD_CACHE_DIR"] = str(tmp_path / cache_dir)
        res = subprocess.run([sys.executable, "-c", HELPER_SCRIPT], env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        ok, lowered, loaded = res.stdout.split()
        assert ok == "True"
        return int(lowered), int(loaded)

    lowered, loaded = run_script("k1")
    assert lowered > 0 and loaded == 0
    files = sorted((tmp_path / "n").rglob("jitgrad_h_*.bc"))
    assert len(files) == lowered
    assert run_script("k2") == (0, 2)  # (sin and tanh; the helpers they call are inside)
    for damaged in files:
        damaged.write_bytes(damaged.read_bytes()[:-5] + b"xxxxx")
        assert direct._read(damaged, direct._HELPER_MAGIC) is None
    assert run_script("k3") == (lowered, 0)
    assert all(direct._read(f, direct._HELPER_MAGIC) is not None for f in files)


LEAN_SCRIPT = textwrap.dedent("""
    import importlib, json, sys
    import numpy as np
    from numba import from_dtype
    import jitgrad as jg
    from jitgrad.backend import direct
    if sys.argv[1] == "whole":
        direct._load_whole()
    sys.path.insert(0, sys.argv[2])
    from test_direct import HELPER_ARGS, NUMBA_HELPERS, inline_helpers, programs
    texts = {}
    for mod, name in inline_helpers():
        if name not in NUMBA_HELPERS:
            fn = getattr(importlib.import_module(mod), name)
            dtype = HELPER_ARGS.get(mod, np.float32 if name.endswith("_f32") else np.float64)
            arity = fn.py_func.__code__.co_argcount
            module = direct._helper(fn, (from_dtype(np.dtype(dtype)),) * arity).module
            texts[name] = str(module).partition("source_filename")[2]  # (not its ModuleID)
    jg.config.compile = "blocking"
    for name, f, args in programs():
        jg.jit(f)(*args)
    for kernel in direct._kernels.values():
        for compiled in kernel.compiled:
            texts[kernel.source + str(compiled.table[4:].tolist())] = compiled.lib.get_llvm_str()
    failed = sorted(fn.__name__ for (fn, _), found in direct._helpers.items()
                    if isinstance(found, str) and fn.__name__ not in NUMBA_HELPERS)
    print(json.dumps({"whole": direct._Registries.whole, "stats": direct.stats, "texts": texts,
                      "failed": failed}))
""")


def test_lean_numba_start_lowers_the_same_code_as_the_whole(tmp_path):
    """Kernels and helpers are lowered with Numba's lean registries (``direct.start_numba``):
    the optimised code of every helper and of the kernels of ``programs()`` is the same as
    with the whole registries loaded first, and lowering them, on a new install or with the
    helpers in the cache, never loads the whole."""
    import json

    def run(mode, kernels, numba):
        env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path / kernels),
                   NUMBA_CACHE_DIR=str(tmp_path / numba))
        res = subprocess.run([sys.executable, "-c", LEAN_SCRIPT, mode, os.path.dirname(__file__)],
                             env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    whole = run("whole", "k0", "n0")
    new_install = run("lean", "k1", "n1")
    helpers_cached = run("lean", "k2", "n1")
    assert whole["whole"] and not new_install["whole"] and not helpers_cached["whole"]
    assert helpers_cached["stats"]["helpers lowered"] == 0
    assert len(whole["texts"]) > 40
    for lean in (new_install, helpers_cached):
        assert lean["failed"] == whole["failed"] == []  # (no helper left to Numba)
        assert lean["stats"]["numba"] == whole["stats"]["numba"] == 0
        assert lean["texts"].keys() == whole["texts"].keys()
        for key, text in lean["texts"].items():
            # (a helper loaded from its bitcode prints its intrinsics' attributes otherwise)
            if lean is new_install or "\n" in key:
                assert text == whole["texts"][key], key


NRT_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from numba import njit
    @njit(cache=True)
    def ones(n):
        return np.ones(n) * 2.0
    if sys.argv[1] == "compile":
        print(ones(3).sum())
    else:
        import jitgrad as jg, jitgrad.numpy as jnp
        jg.config.compile = "blocking"
        jg.jit(lambda x: jnp.tanh(x) * 2)(np.ones(4))
        print(ones(3).sum())  # loaded from Numba's cache after jitgrad's lean start
""")


def test_numba_code_loaded_after_the_lean_start_runs(tmp_path):
    """A cached Numba function that allocates (Numba's runtime) loads and runs in a process
    where jitgrad started Numba lean: loading it loads the whole registries, runtime
    included."""
    script = tmp_path / "user_code.py"
    script.write_text(NRT_SCRIPT)
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path / "k"),
               NUMBA_CACHE_DIR=str(tmp_path / "n"))
    for step in ("compile", "load"):
        res = subprocess.run([sys.executable, str(script), step], env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split()[-1] == "6.0"
