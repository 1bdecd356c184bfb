"""Tiered execution (``config.compile = "background"``): a new program's first call returns
from the numpy reference path before its kernels are compiled and agrees with the compiled
result; the compiled program takes over; 8 threads share one compile; a killed worker is
survived; warm caches, blocking mode and an unshareable cache start no worker; no worker
outlives its caller. Workers are processes, so those tests run scripts in subprocesses with
their own caches; the rule choosing between the tiers is tested in this process."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import lax, tiered
from jitgrad.core import REGISTRY
from jitgrad.jit import _optimised, compile_optimised
from tests.test_jit import assert_same
from tests.test_prims import _cases, _get

ROOT = Path(__file__).resolve().parents[1]

# Shared by every script: a program's result on the reference tier (first call) and compiled.
PRELUDE = """
import json, os, signal, sys, threading, time, warnings
import numpy as np
import jitgrad as jg, jitgrad.numpy as jnp
from jitgrad import tiered
from jitgrad.core import REGISTRY
warnings.simplefilter("always")
out = {}

def loss(W, x, c):
    return jnp.sum((x @ W) ** 2 * c + W.mean())

W = np.linspace(-1, 1, 12).reshape(4, 3)
x = np.linspace(0, 2, 20).reshape(5, 4)
expected = 2 * 1.5 * x.T @ (x @ W) + 15 / 12  # mean(W) is added to 15 elements

def worker_pids():
    return [p.pid for p in tiered._pool._procs]

def wait_for_worker():
    deadline = time.monotonic() + 60  # only a bound on a hang: no worker was started
    while not worker_pids():
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.01)
    return worker_pids()[0]
"""


def run(script: str, cache: Path, **env: str) -> tuple[dict, str]:
    """Run PRELUDE + ``script`` in a fresh interpreter with kernel caches under ``cache``
    and compile logging on; its ``out`` dict (printed as JSON) and its stderr."""
    code = PRELUDE + textwrap.dedent(script) + "\nprint(json.dumps(out))\n"
    full = {**os.environ, "PYTHONPATH": str(ROOT), "JITGRAD_CACHE_DIR": str(cache / "jitgrad"),
            "NUMBA_CACHE_DIR": str(cache / "numba"), "JITGRAD_COMPILE": "background",
            "JITGRAD_LOG_COMPILES": "1", **env}
    full.pop("JITGRAD_PRECISE_MATH", None)
    proc = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def gone(pid: int) -> bool:
    """Whether process ``pid`` no longer runs (absent, or a zombie of a parent not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 30  # a generous bound for a loaded machine, not a timing
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("tiered-cache")


@pytest.fixture(scope="module")
def first_run(cache):
    """A cold process: one new program called once, switched, called again; 8 threads on
    another new program. Fills ``cache``."""
    return run("""
        f = jg.jit(jg.grad(loss))
        r1 = f(W, x, 1.5)
        out["after_first"] = f.serving(W, x, 1.5)
        out["numba_loaded"] = "numba" in sys.modules
        f.wait()
        out["after_wait"] = f.serving(W, x, 1.5)
        r2 = f(W, x, 1.5)
        out["r1"], out["r2"], out["dtypes"] = r1.tolist(), r2.tolist(), [r1.dtype.str, r2.dtype.str]

        g = jg.jit(lambda v: jnp.cumsum(v * 3.0 - 1.0))
        v = np.arange(6.0)
        barrier, results = threading.Barrier(8), []
        def call():
            barrier.wait()
            results.append(g(v))
        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        jg.wait_for_compiles()
        out["g_serving"] = g.serving(v)
        out["g_traces"] = g.trace_count
        out["g_results"] = [r.tolist() for r in results] + [g(v).tolist()]
        out["workers"] = tiered.stats()["workers_started"]
        out["pids"] = worker_pids()
    """, cache)


def test_first_call_runs_reference_then_compiled_takes_over(first_run):
    out, err = first_run
    assert out["after_first"] == "reference"  # returned before the kernels were compiled
    assert not out["numba_loaded"]  # the caller did not even import Numba for it
    assert out["after_wait"] == "compiled"
    r1, r2 = np.array(out["r1"]), np.array(out["r2"])
    assert out["dtypes"] == ["<f8", "<f8"]
    assert_same(r1, r2)
    assert "tier switch: loss now runs compiled code after" in err
    assert "(compiled in a worker in" in err


def test_results_match_numpy(first_run):
    out, _ = first_run
    x = np.linspace(0, 2, 20).reshape(5, 4)
    W = np.linspace(-1, 1, 12).reshape(4, 3)
    np.testing.assert_allclose(out["r2"], 2 * 1.5 * x.T @ (x @ W) + 15 / 12, rtol=1e-12)


def test_eight_threads_share_one_compile(first_run):
    out, err = first_run
    assert out["g_traces"] == 1
    assert err.count("tier switch: <lambda>") == 1
    assert out["g_serving"] == "compiled"
    expected = np.cumsum(np.arange(6.0) * 3.0 - 1.0).tolist()
    assert out["g_results"] == [expected] * 9
    assert out["workers"] == 1  # the second program reused the worker


def test_no_worker_outlives_its_caller(first_run):
    out, _ = first_run
    assert out["pids"]
    for pid in out["pids"]:
        assert wait_gone(pid), pid


def test_warm_cache_starts_no_worker(first_run, cache):
    out, err = run("""
        f = jg.jit(jg.grad(loss))
        r1 = f(W, x, 1.5)
        out["first"] = f.serving(W, x, 1.5)  # while a thread loads Numba and the kernels
        f.wait()
        out["close"] = bool(np.allclose(f(W, x, 1.5), expected, rtol=1e-12))
        out["waited"] = f.serving(W, x, 1.5)
        f2 = jg.jit(jg.grad(loss))  # the same program: Numba is running, so it just loads
        f2(W, x, 1.5)
        out["second"] = f2.serving(W, x, 1.5)
        h = jg.jit(lambda v: jnp.sum(v * 7.0 + 2.0))
        jg.config.compile = "blocking"
        h(np.arange(3.0))
        out["blocking"] = h.serving(np.arange(3.0))
        out["workers"] = tiered.stats()["workers_started"]
    """, cache)
    assert out == {"first": "reference", "close": True, "waited": "compiled",
                   "second": "compiled", "blocking": "compiled", "workers": 0}
    assert "(its kernels were in the disk cache;" in err
    assert "waited because it is in the disk cache and Numba is running" in err
    assert "waited because config.compile is 'blocking'" in err


def test_killed_worker_is_survived(first_run, cache):
    out, err = run("""
        f = jg.jit(jg.grad(lambda W, x, c: loss(W, x, c) * 3.0))  # a new program
        r1 = f(W, x, 1.5)
        os.kill(wait_for_worker(), signal.SIGKILL)
        f.wait()
        out["serving"] = f.serving(W, x, 1.5)
        out["close"] = bool(np.allclose(f(W, x, 1.5), r1, rtol=1e-13))
        g = jg.jit(lambda v: jnp.cumsum(v * 5.0 - 1.0))  # the next program: a new worker
        g(np.arange(4.0))
        g.wait()
        out["g"] = g.serving(np.arange(4.0))
        out["workers"] = tiered.stats()["workers_started"]
    """, cache)
    assert out == {"serving": "compiled", "close": True, "g": "compiled", "workers": 2}
    assert err.count("RuntimeWarning: jitgrad: a background compile worker was lost") == 1
    assert "its worker was lost: compiled in the caller" in err


def test_exit_during_a_compile_leaves_no_worker(cache):
    out, _ = run("""
        f = jg.jit(lambda v: jnp.sum(v * 11.0 + 1.0))
        f(np.arange(3.0))
        out["pid"] = wait_for_worker()
    """, cache / "exit")
    assert wait_gone(out["pid"])


def test_eager_numba_import_while_numba_starts_in_the_background(tmp_path):
    """The caller's eager special functions import Numba while tiered execution starts it on
    a background thread: the two imports must not deadlock (Python's detector failed one of
    them: "module 'numba' has no attribute 'core'" in the caller, three runs in three)."""
    out, err = run("""
        import jitgrad.scipy.special as jsp
        v = np.linspace(-3, 3, 20)
        for name in ["expit", "erf", "erfc", "gammaln", "digamma"]:
            f = getattr(jsp, name)
            f(v), jg.jit(f)(v)
        jg.wait_for_compiles()
        out["ok"] = True
    """, tmp_path)
    assert out["ok"] and "Error" not in err and "Traceback" not in err, err[-3000:]


def test_killed_caller_leaves_no_worker(cache):
    """No atexit runs: the worker notices that its parent is gone and exits."""
    code = PRELUDE + textwrap.dedent("""
        f = jg.jit(lambda v: jnp.sum(v * 13.0 + 1.0))
        f(np.arange(3.0))
        out["pid"] = wait_for_worker()
        print(json.dumps(out), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JITGRAD_CACHE_DIR": str(cache / "kill/j"),
           "NUMBA_CACHE_DIR": str(cache / "kill/n"), "JITGRAD_COMPILE": "background"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert wait_gone(json.loads(proc.stdout.strip().splitlines()[-1])["pid"])


def test_one_cpu_compiles_on_the_callers_thread(first_run, cache):
    """Pinned to one CPU, a worker could only take turns with the caller: the caller's
    background thread compiles, and the first call still returns from the reference."""
    out, err = run("""
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        f = jg.jit(lambda v: jnp.sum(jnp.sin(v) * 19.0 + 2.0))
        r = f(np.arange(3.0))
        out["first"] = f.serving(np.arange(3.0))
        f.wait()
        out["waited"] = f.serving(np.arange(3.0))
        out["close"] = bool(np.isclose(f(np.arange(3.0)), r, rtol=1e-13))
        out["workers"] = tiered.stats()["workers_started"]
    """, cache)
    assert out == {"first": "reference", "waited": "compiled", "close": True, "workers": 0}
    assert "(compiled by a thread of the caller (it may use one CPU only);" in err


def test_products_run_on_blas_until_the_matmul_kernel_is_loaded(cache):
    """A new program does not wait for jitgrad's matmul kernel (seconds per dtype to compile
    on a fresh install): it switches to compiled code with its products on numpy's BLAS, the
    kernel is compiled (here: loaded from Numba's cache) in the background, and
    wait_for_compiles() waits for it too."""
    out, err = run("""
        f = jg.jit(lambda a, b: jnp.tanh(a @ b))
        A = np.linspace(-1, 1, 72 * 80).reshape(72, 80)
        B = np.linspace(-1, 1, 80 * 96).reshape(80, 96)
        results = [f(A, B)]
        f.wait()
        results.append(f(A, B))
        jg.wait_for_compiles()
        from jitgrad.backend.kernels import matmul as mm
        out["ready"] = mm.ready((np.dtype(np.float64), False))
        results.append(f(A, B))
        out["close"] = [bool(np.allclose(r, np.tanh(A @ B), rtol=1e-13)) for r in results]
    """, cache, NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", ""))
    assert out == {"ready": True, "close": [True, True, True]}
    deferred = err.index("jitgrad's float64 matmul kernel is not compiled yet: products run "
                         "on numpy's BLAS until it is")
    program = err.index("tier switch: <lambda> now runs compiled code after")
    kernel = err.index("tier switch: jitgrad's float64 matmul kernel serves products after")
    assert deferred < program < kernel


def test_unshareable_cache_compiles_before_returning(tmp_path):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)  # writable by others: kernels compile in memory, per process
    out, err = run("""
        f = jg.jit(lambda v: jnp.sum(v * 17.0))
        r = f(np.arange(3.0))
        out["serving"] = f.serving(np.arange(3.0))
        out["value"] = float(r)
        out["workers"] = tiered.stats()["workers_started"]
    """, open_dir)
    assert out == {"serving": "compiled", "value": 51.0, "workers": 0}
    assert "cannot be shared with a worker" in err


# ---------------------------------------------------------------------------------------------
# In this process: the rule, and the reference tier against the compiled one


def _opt(f, *args):
    return _optimised(jg.make_ir(f)(*args))


def test_rule_waits_for_long_loops_and_large_arrays(monkeypatch, tmp_path):
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(jg.config, "compile", "background")
    monkeypatch.setattr(jg.config, "precise_math", False)
    small = _opt(lambda v: jnp.sin(v) * 2.0, np.ones(10))
    assert tiered.decide(small) is None

    def scan(v, n):
        return lax.scan(lambda c, _: (jnp.sin(c) * 0.5 + c, None), v, None, length=n)[0]

    assert tiered.decide(_opt(lambda v: scan(v, 10), np.ones(10))) is None
    long = _opt(lambda v: scan(v, 1_000_000), np.ones(10))
    assert "slower than compiling" in tiered.decide(long)
    large = _opt(lambda v: jnp.sin(v) * 2.0 + jnp.cos(v), np.ones(50_000_000, np.float32))
    assert "slower than compiling" in tiered.decide(large)
    loop = _opt(lambda v: lax.while_loop(lambda c: c[0] < 3.0, lambda c: c + 1.0, v),
                np.zeros(2))
    assert tiered.reference_seconds(loop) == float("inf")
    assert tiered.reference_seconds(long) > 100 * tiered.reference_seconds(
        _opt(lambda v: scan(v, 10), np.ones(10)))
    monkeypatch.setattr(jg.config, "precise_math", True)
    assert "precise_math" in tiered.decide(small)
    monkeypatch.setattr(jg.config, "compile", "eager")
    with pytest.raises(ValueError, match="config.compile must be one of"):
        tiered.decide(small)


CASES = [
    ("f32 reduction", lambda a, b: jnp.sum(jnp.tanh(a) * b, axis=0),
     [np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3), np.float32(0.5)]),
    ("scalar and aliasing", lambda a, b: (a, jnp.sum(a * b), a * 1.0),
     [np.linspace(-1, 1, 6), np.linspace(0, 1, 6)]),
    ("grad", jg.grad(lambda a, b: jnp.sum(jnp.exp(a) @ b)),
     [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0, 1, 6).reshape(3, 2)]),
    ("inf and nan, silently", lambda a, b: (a / b, jnp.log(b)),
     [np.ones(3), np.array([0, -1.0, 2])]),
]


@pytest.mark.parametrize("name,f,args", CASES, ids=[c[0] for c in CASES])
def test_reference_tier_agrees_with_compiled(name, f, args):
    arrays = [np.asarray(a) for a in args]
    opt = _opt(f, *arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = tiered.reference(opt)(*arrays)
    got = compile_optimised(opt).fn(*arrays)
    assert_same(ref, got)
    for r in ref:  # as compiled results: fresh arrays, never an argument or each other
        assert type(r) is np.ndarray
        assert not any(np.shares_memory(r, a) for a in arrays)
        assert sum(r is s for s in ref) == 1


def _first_cases():
    """Each primitive's first declared case per dtype, except the special functions, whose
    implementation is the Numba code that the eager path runs too (compiling it here would
    take most of a minute)."""
    seen, out = set(), []
    for p in _cases():
        name, dt, _ = p.values
        if (name, dt) not in seen and REGISTRY[name].impl.__module__ != "jitgrad.prims.special":
            seen.add((name, dt))
            out.append(p)
    return out


@pytest.mark.parametrize("name,dt,i", _first_cases())
def test_reference_tier_matches_every_primitive(name, dt, i):
    """The reference tier runs the optimised program on numpy: for each primitive it gives
    the primitive's own results (values and dtypes), as the compiled path does
    (tests/test_jit.py), so the two tiers agree to the same tolerance. No compiles."""
    prim, args, params, _ = _get(name, dt, i)
    arrays = [np.asarray(a) for a in args]
    opt = _opt(lambda *a: prim.bind(*a, **params), *arrays)
    got = tiered.reference(opt)(*arrays)
    expected = prim.impl(*args, **params)
    assert_same(got if prim.multiple_results else got[0], expected)
