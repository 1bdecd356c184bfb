"""Tiered execution: a new program's first calls run its optimised IR on the numpy reference
path while a worker process compiles its kernels into the disk cache; the compiled program,
loaded from that cache, takes over between calls.

Why processes: Numba's compile is mostly GIL-bound Python, so a compiling thread would slow
the caller down; a worker compiles on another core and shares the machine code through the
disk cache (kernels' object code is cached by their source and argument types). A worker is
given the optimised IR and a copy of the first call's arguments, and compiles by running the
program once (that types every kernel exactly as the caller will call it, including layouts
and the branches and loops the arguments take). The caller then builds the same program
(cheap: planning and code generation) and runs it once, on a thread of its own, with the
saved arguments (loading each kernel from the cache, milliseconds each), before swapping it
in: the caller's own calls never wait for it.

A process that may run on one CPU only (its affinity mask) starts no worker: the worker
would only take turns with the caller on that CPU while repeating its start-up, planning and
code generation, so the caller's background thread compiles the kernels itself (the first
calls still run on the reference meanwhile).

A program already in the disk cache (a marker file is written after its compiled program
first ran) needs no worker: a thread of this process loads it while the reference serves
the first calls, which then do not wait for Numba's start-up (≈0.25 s: its import and its
lean initialisation) either; once Numba runs in this process, such a program is loaded before
its first call returns (milliseconds).

When the first call waits for compiled code instead (``decide``): ``config.compile ==
"blocking"``, ``config.precise_math`` (its users want identical results from the first call
on, and the reference's reductions and matmuls round differently from the kernels'), a
kernel cache that cannot be shared between processes (an insecure or unusable directory:
kernels then compile in memory, per process), and a program whose reference execution is
estimated to cost more than compiling it (``reference_seconds`` vs ``compile_seconds``,
both from measurements on this project's machine; a ``while_loop``, whose trip count is
unknown, always waits)."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jitgrad.core import IR, config, pp_ir, sub_irs

MODES = ("background", "blocking")

# Measured on this project's machine (2-core VM shared with other jobs, Python 3.11, numpy 2):
# through ``reference``, a chain of sin/mul/add costs 6 us per primitive applied plus 9-16 ns
# per element it produces (1 to 10^6 elements; the larger figure is used), a scan step of
# three such primitives 12-19 us (the estimate below is 1.3-1.5x that); numpy's BLAS takes
# 0.08-1.4 ns per multiply-add (float64 64^3 and 256^3, under load: 1 ns is used). Numba
# compiles a generated kernel in 0.2-0.6 s on an idle machine (1.9-3.4 s measured under load
# for tanh/exp/log1p), plus about 1 s to start a worker. A loop's body is counted once per
# step; sub-programs of other primitives (cond branches) once.
REF_PER_EQN = 6e-6
REF_PER_ELEMENT = 1.6e-8
REF_PER_MAC = 1e-9
COMPILE_PER_KERNEL = 0.4
COMPILE_START = 1.0


def reference_seconds(ir: IR) -> float:
    """Estimated seconds of one reference execution of ``ir`` (inf with a ``while_loop``,
    whose trip count is unknown)."""
    total = 0.0
    for e in ir.eqns:
        if e.prim.name == "while_loop":
            return float("inf")
        size = sum(v.aval.size for v in e.outputs)
        total += REF_PER_EQN + REF_PER_ELEMENT * size
        if e.prim.name == "matmul":  # m*n*k from the operands' and result's sizes
            a, b = (x.aval.size for x in e.inputs[:2])
            total += REF_PER_MAC * size * (a * b / max(size, 1)) ** 0.5
        steps = e.params.get("length", 1) if e.prim.name == "scan" else 1
        for sub in sub_irs(e):
            total += steps * reference_seconds(sub)
    return total


def compile_seconds(ir: IR) -> float:
    """Estimated seconds for a worker to compile ``ir``: a new worker's start, and a kernel
    per equation, counting at most 8 (fusion makes few kernels of many equations, and
    identical kernels, e.g. of unrolled steps, compile once)."""
    def eqns(ir: IR) -> int:
        return sum(1 + sum(eqns(s) for s in sub_irs(e)) for e in ir.eqns)

    return COMPILE_START + COMPILE_PER_KERNEL * min(eqns(ir), 8)


def decide(ir: IR) -> str | None:
    """Why the first call of the optimised ``ir`` compiles before returning, or None if it
    runs on the reference path while its kernels are compiled by a worker (or, when they
    are in the disk cache, loaded by a thread of this process)."""
    if config.compile not in MODES:
        raise ValueError(f"jitgrad.config.compile must be one of {MODES}, got "
                         f"{config.compile!r}")
    if config.compile == "blocking":
        return "config.compile is 'blocking'"
    if config.precise_math:
        return "precise_math asks for the compiled results from the first call on"
    problem = _cache_problem()
    if problem is not None:
        return f"the kernel cache cannot be shared with a worker ({problem})"
    if "jitgrad.backend.runtime" in sys.modules and marker_path(ir).exists():
        return "it is in the disk cache and Numba is running (loading takes milliseconds)"
    ref, comp = reference_seconds(ir), compile_seconds(ir)
    if ref > comp:
        return f"its reference execution (≈{ref:.2g} s) would be slower than compiling " \
               f"(≈{comp:.2g} s)"
    return None


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask, where the platform has
    one: a process pinned to one CPU gains nothing from a worker process)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cache_problem() -> str | None:
    from jitgrad.backend import cache
    _, problem = cache.kernel_cache_problem()
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if problem is None and numba_dir:
        try:
            os.makedirs(numba_dir, mode=0o700, exist_ok=True)
        except OSError as e:
            return f"NUMBA_CACHE_DIR unusable ({e})"
        problem = cache.distrust(os.path.abspath(numba_dir))
    return problem


# ---------------------------------------------------------------------------------------------
# Markers: which programs were compiled into the disk cache


def _config_key() -> str:
    return f"{config.precise_math} {config.matmul} {config.threads > 1} {config.kernel_compiler}"


def marker_path(ir: IR) -> Path:
    """The file whose existence says that ``ir``'s kernels are in the disk cache (written
    after a run of its compiled program, by a worker or by the caller)."""
    memo = vars(ir).get("_marker")
    if memo is None:
        memo = vars(ir)["_marker"] = _marker(f"{_config_key()}\n{pp_ir(ir)}")
    return memo


def _marker(text: str) -> Path:
    from jitgrad.backend import cache
    h = hashlib.sha256(f"{cache.salt()} {text}".encode())
    return cache.cache_dir() / "programs" / h.hexdigest()[:32]


def write_marker(ir: IR | Path) -> None:
    """Record ``ir``'s kernels (or those of a marker path) as compiled into the disk cache."""
    from jitgrad.backend import cache
    if _cache_problem() is not None:  # (also: no cache directory at all)
        return
    path = ir if isinstance(ir, Path) else marker_path(ir)
    if path.exists():
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, exist_ok=True)
        with cache._atomic_private(str(path)) as f:
            f.write(b"")


# ---------------------------------------------------------------------------------------------
# The reference tier


def reference(ir: IR) -> Callable[..., list]:
    """``ir`` run on the numpy reference path (the correctness oracle of the kernels), with
    the compiled program's result conventions: arrays of the outputs' dtypes, none sharing
    memory with an argument or with another result."""
    from jitgrad.core import _EVAL, eval_ir, using
    dtypes = [x.aval.dtype for x in ir.outvars]

    def run(*args: np.ndarray) -> list:
        run.calls += 1
        # NB: numpy's warnings (division by zero, invalid values) are silenced, as the
        # kernels are silent: a program warns neither on its first call nor after it.
        with using(_EVAL), np.errstate(all="ignore"):
            outs = eval_ir(ir, *args)
        res: list[np.ndarray] = []
        for o, dt in zip(outs, dtypes, strict=True):
            a = np.asarray(o, dtype=dt)
            if a.base is not None or any(a is x for x in args) or any(a is r for r in res):
                a = a.copy()
            res.append(a)
        return res

    run.calls = 0
    return run


# ---------------------------------------------------------------------------------------------
# Background compiles


class Job:
    """One program's background compile, and its reference tier (``reference``) meanwhile.
    ``install(compiled)``, set by the caller, is called on a lane's thread once the compiled
    program has run; ``done`` is set after it, or after a failure (``error``)."""

    def __init__(self, name: str, ir: IR, args: list[np.ndarray],
                 compile_fn: Callable[[IR], Any]):
        self.name, self.ir, self.compile_fn = name, ir, compile_fn
        self.cached = marker_path(ir).exists()  # then it is only loaded, here: no worker
        self.reference = reference(ir)
        self.install: Callable[[Any], None] = lambda compiled: None
        self.args = [np.array(a) for a in args]  # the caller may mutate its arrays
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.started = time.perf_counter()

    serves = "now runs compiled code"
    fallback = "it keeps running on the reference path"

    def task(self) -> tuple:
        """What a worker is sent to compile (see ``_work``)."""
        return "program", self.ir, self.args

    def finish(self) -> None:
        """Build the compiled program here, run it once (loading, or compiling, each kernel)
        and install it."""
        compiled = self.compile_fn(self.ir)
        compiled.fn(*self.args)
        write_marker(self.ir)
        self.install(compiled)

    def meanwhile(self) -> str:
        return f"{self.reference.calls} call(s) served by the reference path meanwhile"


class MatmulJob:
    """The background compile of one of jitgrad's matmul kernel entries (``key``, see
    ``kernels.matmul.entry``), asked for by a compiled program's product, which runs on
    numpy's BLAS until the kernel is loaded here (``defer_matmul_kernel``)."""

    def __init__(self, key: Any):
        self.key = key
        self.name = f"jitgrad's {np.dtype(key[0]).name} matmul kernel"
        self.marker = _marker(f"matmul {key!r}")
        self.cached = self.marker.exists()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.started = time.perf_counter()

    serves = "serves products"
    fallback = "the next product compiles it"
    meanwhile = staticmethod(lambda: "numpy's BLAS served products meanwhile")

    def task(self) -> tuple:
        return "matmul", self.key

    def finish(self) -> None:
        from jitgrad.backend.kernels import matmul as mm
        mm.load(self.key)
        write_marker(self.marker)


_matmul_jobs: dict[Any, MatmulJob] = {}
_matmul_lock = threading.Lock()
_in_worker = False  # this process is a compile worker


def defer_matmul_kernel(key: Any) -> bool:
    """Whether a product waiting for jitgrad's matmul kernel ``key`` (not compiled or loaded
    in this process) runs on numpy's BLAS meanwhile, the kernel's compile (seconds per dtype,
    on a fresh install) being asked of the background compiles; else the product compiles it.

    Deferred: in background mode with the automatic matmul choice (BLAS is what that choice
    takes for the smallest products anyway) and a shareable kernel cache; and in a compile
    worker, which compiles a program's generated kernels first and the matmul kernel only when
    its caller asks. Not deferred: ``compile == "blocking"``, ``precise_math`` (results the
    same from the first call on), ``matmul == "jitgrad"``."""
    if _in_worker:
        return True
    if config.compile != "background" or config.precise_math or config.matmul != "auto" \
            or _cache_problem() is not None:
        return False
    with _matmul_lock:
        job = _matmul_jobs.get(key)
        new = job is None
        if new:
            job = _matmul_jobs[key] = MatmulJob(key)
    if new:
        _log(f"{job.name} is not compiled yet: products run on numpy's BLAS until it is "
             f"(compiling in the background)")
        _pool.submit(job)
    # NB: a finished job whose kernel is not ready here failed: the product compiles it (and
    # raises what went wrong, if it goes wrong again).
    return not job.done.is_set()


class _Pool:
    """Lanes, each a thread owning one lazily started worker process, taking jobs from one
    queue; at most ``max(1, os.cpu_count() - 1)`` lanes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue()
        self._lanes = 0
        self._idle = 0
        self._pending: set[Job] = set()
        self._procs: set[subprocess.Popen] = set()
        self.workers_started = 0
        self._warned = False
        self._closing = False  # interpreter exit: lanes stop quietly

    def limit(self) -> int:
        return max(1, (os.cpu_count() or 2) - 1)

    def submit(self, job: Job) -> None:
        with self._lock:
            self._pending.add(job)
            if self._idle == 0 and self._lanes < self.limit():
                self._lanes += 1
                threading.Thread(target=self._lane, name="jitgrad-compile", daemon=True).start()
        self._queue.put(job)

    def wait(self, jobs: list[Job] | None = None) -> None:
        """Block until ``jobs`` (default: every job submitted so far) are done; raise the
        first one's error."""
        todo = jobs
        if jobs is None:
            # NB: a job may submit another (a program's first compiled run asks for the matmul
            # kernel it lacks) before it is done: wait until none is pending.
            todo = []
            while True:
                with self._lock:
                    more = [j for j in self._pending if j not in todo]
                if not more:
                    break
                for job in more:
                    job.done.wait()
                todo += more
        for job in todo:
            job.done.wait()
        for job in todo:
            if job.error is not None:
                raise job.error

    def _lane(self) -> None:
        proc: subprocess.Popen | None = None
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
            try:
                proc = self._run(job, proc)
            finally:
                job.done.set()
                with self._lock:
                    self._pending.discard(job)

    def _run(self, job: Job, proc: subprocess.Popen | None) -> subprocess.Popen | None:
        """Have a worker compile ``job`` (unless its kernels are cached), then load and
        install its program here; the lane's worker afterwards (None if it was lost)."""
        how = "its kernels were in the disk cache"
        if not job.cached and usable_cpus() < 2:
            # NB: a worker could only take turns with the caller on its one CPU, and would
            # repeat the caller's work (Python and Numba start-up, planning, code
            # generation): this thread compiles instead, as the caller would.
            how = "compiled by a thread of the caller (it may use one CPU only)"
        elif not job.cached:
            proc, how = self._compile_in_worker(job, proc)
            if self._closing:
                return None
        try:
            loaded = time.perf_counter()
            with _gc_paused():
                job.finish()
            now = time.perf_counter()
            _log(f"tier switch: {job.name} {job.serves} after {now - job.started:.2f} s "
                 f"({how}; loaded in {now - loaded:.2f} s; {job.meanwhile()})")
        except BaseException as e:  # noqa: BLE001 - reported by wait(); the reference serves
            job.error = e
            _log(f"compiling {job.name} failed ({e!r}); {job.fallback}")
        return proc

    def _compile_in_worker(self, job: Job, proc: subprocess.Popen | None
                           ) -> tuple[subprocess.Popen | None, str]:
        try:
            request = pickle.dumps((_config_snapshot(), job.task()),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - e.g. a host callback's closure
            return proc, f"it cannot be sent to a worker ({e!r}): compiled in the caller"
        try:
            if proc is None or proc.poll() is not None:
                proc = self._start()
            _write(proc.stdin, request)
            _start_numba()  # here, while the worker compiles (it answers through the pipe)
            status, detail = _recv(proc.stdout)
        except (OSError, EOFError, struct.error, pickle.PickleError, ValueError) as e:
            if self._closing:
                job.error = e
            else:
                self._lost(proc, e)
            return None, "its worker was lost: compiled in the caller"
        if status == "ok":
            return proc, f"compiled in a worker in {time.perf_counter() - job.started:.2f} s"
        return proc, f"the worker failed ({detail}): compiled in the caller"

    def _start(self) -> subprocess.Popen:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "JITGRAD_COMPILE": "blocking",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH"))
                                             if p)}
        from jitgrad.backend import cache
        env["JITGRAD_CACHE_DIR"] = str(cache.cache_dir())
        proc = subprocess.Popen(
            [sys.executable, "-m", "jitgrad.tiered", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=False)
        with self._lock:
            self._procs.add(proc)
            self.workers_started += 1
        _log(f"started compile worker (pid {proc.pid})")
        return proc

    def _lost(self, proc: subprocess.Popen | None, e: BaseException) -> None:
        if proc is not None:
            _stop(proc)
            with self._lock:
                self._procs.discard(proc)
        if not self._warned:
            self._warned = True
            warnings.warn(f"jitgrad: a background compile worker was lost ({e!r}); compiling "
                          f"in this process instead", RuntimeWarning, stacklevel=2)

    def shutdown(self) -> None:
        self._closing = True
        with self._lock:
            procs = list(self._procs)
            self._procs.clear()
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Close ``proc``'s pipes (a worker exits at end of input), kill it if it does not exit
    promptly, and reap it."""
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            pipe.close()
    try:
        proc.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_pool = _Pool()
atexit.register(_pool.shutdown)


def submit(job: Job) -> None:
    _pool.submit(job)


def wait(jobs: list[Job] | None = None) -> None:
    _pool.wait(jobs)


def stats() -> dict[str, int]:
    """How many worker processes this process started."""
    return {"workers_started": _pool.workers_started}


def _start_numba() -> None:
    from jitgrad.jit import start_numba
    start_numba()


def _gc_paused() -> Any:
    from jitgrad.jit import gc_paused
    return gc_paused()


def _log(msg: str) -> None:
    from jitgrad.jit import _log as log_compile
    log_compile(msg)


# ---------------------------------------------------------------------------------------------
# The wire: length-prefixed pickles over the worker's stdin and stdout


def _write(f: Any, data: bytes) -> None:
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def _send(f: Any, obj: Any) -> None:
    _write(f, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(f: Any) -> Any:
    head = f.read(8)
    if len(head) < 8:
        raise EOFError("worker closed its pipe")
    (n,) = struct.unpack("<Q", head)
    data = f.read(n)
    if len(data) < n:
        raise EOFError("worker closed its pipe")
    return pickle.loads(data)  # noqa: S301 - our own worker, over our own pipe


_CONFIG_FIELDS = ("precise_math", "matmul", "threads", "reuse_buffers", "kernel_compiler")


def _config_snapshot() -> dict[str, Any]:
    return {k: getattr(config, k) for k in _CONFIG_FIELDS}


def _watch_parent(parent: int) -> None:
    """Exit as soon as the process that started this worker is gone (it is reparented),
    even in the middle of a compile: no orphan outlives its caller by more than 0.2 s."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def _work(task: tuple) -> None:
    """A worker's compile of ``task``: ("program", optimised IR, arguments) builds and runs
    the program (its kernels compile into the disk cache; its products run on BLAS, see
    ``defer_matmul_kernel``); ("matmul", key) compiles that matmul kernel entry."""
    from jitgrad.jit import compile_optimised, start_numba
    if task[0] == "matmul":
        start_numba()
        MatmulJob(task[1]).finish()  # compiles into the disk cache here
        return
    _, ir, args = task
    compile_optimised(ir).fn(*args)
    write_marker(ir)


def worker_main(parent: int) -> None:
    """A compile worker: read (config, task) requests from stdin until it closes; for each,
    compile the task (``_work``) and answer ("ok", seconds) or ("error", message)."""
    global _in_worker
    from jitgrad.jit import gc_paused
    _in_worker = True
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
    while True:
        try:
            cfg, task = _recv(inp)
        except EOFError:
            return
        for k, v in cfg.items():
            setattr(config, k, v)
        start = time.perf_counter()
        try:
            with gc_paused():
                _work(task)
            answer: tuple[str, Any] = ("ok", time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001 - the caller compiles it itself and reports it
            answer = ("error", f"{type(e).__name__}: {str(e)[:500]}")
        try:
            _send(out, answer)
        except BrokenPipeError:
            # The caller exited while this compile ran: leave without a traceback (and without
            # flushing the answer again at exit, which would raise once more).
            os._exit(0)


if __name__ == "__main__":
    # NB: through the package's module, not this __main__ copy of it: the worker's state
    # (_in_worker) must be what jitgrad.jit and the runtime see.
    from jitgrad.tiered import worker_main as _main
    _main(int(sys.argv[1]))
