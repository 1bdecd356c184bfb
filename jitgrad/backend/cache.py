"""The on-disk kernel cache: each generated kernel is a module named by the hash of its source
(salted with jitgrad's version and the source of every helper module kernels call), written
under a per-user directory, so Numba's ``cache=True`` persists its machine code across
processes. Numba's cache files are pickles (loading one runs code), so a cache directory is
used only if no other user can write to it or to any directory on the way to it; otherwise,
and on any other cache failure, kernels compile in memory, with one warning."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, Any

log = logging.getLogger("jitgrad")

# Helper modules generated kernels call into: their source is part of every kernel's key,
# because Numba's cache keeps inlined copies of them (a changed helper must not be replayed).
HELPER_MODULES = ("jitgrad.backend.scalar", "jitgrad.backend.vmath", "jitgrad.special_math",
                  "jitgrad.backend.bits")

_KERNEL_DIR_ADVICE = ("To cache kernels across processes, set JITGRAD_CACHE_DIR to a directory "
                      "that you alone can write (a new one is created with mode 0700).")
_NUMBA_DIR_ADVICE = ("To cache compiled code across processes, set NUMBA_CACHE_DIR to a directory "
                     "that you alone can write.")


def cache_dir() -> Path:
    return Path(os.environ.get("JITGRAD_CACHE_DIR") or Path.home() / ".cache" / "jitgrad")


def _salt() -> str:
    from jitgrad._version import __version__
    h = hashlib.sha256(f"jitgrad {__version__}".encode())
    for name in HELPER_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:16]


_SALT: str | None = None
_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}
_warned = False


def salt() -> str:
    global _SALT
    if _SALT is None:
        _SALT = _salt()
    return _SALT


def module_source(body: str, imports: str) -> str:
    return f"# jitgrad generated kernel (salt {salt()})\n{imports}\n\n{body}"


def load(source: str) -> ModuleType:
    """The module holding ``source``, compiled through the disk cache when it is usable and
    in memory otherwise; identical sources share one module."""
    name = "jitgrad_k_" + hashlib.sha256(source.encode()).hexdigest()[:24]
    mod = _modules.get(name)
    if mod is not None:
        return mod
    with _lock:  # one module (and one write) per kernel, whichever thread gets here first
        mod = _modules.get(name)
        if mod is None:
            mod = _from_disk(name, source)
            if mod is None:
                # Numba cannot cache code that is not in a file: turn its cache off.
                mod = _exec_module(name, source.replace("cache=True", "cache=False"),
                                   f"<jitgrad {name}>")
            _modules[name] = mod
    return mod


def kernel_cache_problem() -> tuple[Path, str | None]:
    """The kernel cache directory, and why it cannot be used (None if it can)."""
    try:
        d = cache_dir()
    except RuntimeError as e:  # no HOME, nor a home directory in the password database
        return Path("~/.cache/jitgrad"), str(e)
    return d, _kernel_dir_problem(str(d))


def kernel_dir() -> Path | None:
    """The kernel cache directory, or None (after the warning) if it cannot be used."""
    d, problem = kernel_cache_problem()
    if problem is not None:
        _warn_once(f"kernel cache {d} not used: {problem}; compiling in memory. "
                   f"{_KERNEL_DIR_ADVICE}")
        return None
    return d


def _from_disk(name: str, source: str) -> ModuleType | None:
    """``source`` executed as a module backed by ``<cache>/<name>.py``, so that Numba caches
    its machine code in ``<cache>/__pycache__``; None (after the warning) if the cache
    directory cannot be used."""
    d = kernel_dir()
    if d is None:
        return None
    path = d / f"{name}.py"
    try:
        try:
            current = path.read_text()
        except (OSError, UnicodeDecodeError):
            current = None
        if current != source:  # missing, truncated or corrupted: (re)write atomically
            with _atomic_private(str(path)) as f:
                f.write(source.encode())
        # The file exists for Numba (its cache key hashes the file; tracebacks show its
        # lines), but what runs is ``source`` itself: neither the file nor a .pyc of it is
        # ever executed.
        return harden(_exec_module(name, source, str(path)))
    except Exception as e:  # noqa: BLE001 - any cache problem: compile in memory
        _warn_once(f"kernel cache {d} not used ({e!r}); compiling in memory. "
                   f"{_KERNEL_DIR_ADVICE}")
        return None


def _exec_module(name: str, source: str, filename: str) -> ModuleType:
    mod = ModuleType(name)
    mod.__file__ = filename
    # Numba looks the module of each compiled function up by name (importlib.import_module):
    # it must find this one, never a file of that name somewhere on sys.path.
    sys.modules[name] = mod
    try:
        exec(compile(source, filename, "exec"), mod.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


@functools.cache
def _kernel_dir_problem(directory: str) -> str | None:
    """Create the kernel cache ``directory`` and its ``__pycache__`` (mode 0700) if missing,
    and say why they cannot be used, or None. Checked once per process and directory."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        problem = distrust(directory)
        if problem is not None:
            return problem
        os.makedirs(os.path.join(directory, "__pycache__"), mode=0o700, exist_ok=True)
    except OSError as e:
        return f"unusable ({e})"
    return distrust(os.path.join(directory, "__pycache__"))


@functools.cache
def distrust(directory: str) -> str | None:
    """Why code must not be loaded from ``directory``, or None if it may be.

    As ssh treats ``~/.ssh``: the directory must be owned by this user (or root) and writable
    by no one else, and so must every directory passed through to reach it (symbolic links
    followed), except that one of those may be writable by others if it has the sticky bit
    (as /tmp), since they cannot then rename or replace the entry in it, which is ours.
    Otherwise another user could plant a file there, or swap the directory after this check,
    and Numba's index files are pickles: loading one runs code. Checked once per process and
    directory.

    >>> distrust("relative/path")
    'relative/path is a relative path'
    """
    if not os.path.isabs(directory):
        return f"{directory} is a relative path"
    if not hasattr(os, "geteuid"):
        return "file ownership cannot be checked on this platform"
    try:
        return _first_unsafe(directory, os.geteuid())
    except OSError as e:
        return f"{directory} cannot be checked ({e})"


def _first_unsafe(directory: str, uid: int) -> str | None:
    """The walk behind ``distrust``: from / down to ``directory``, component by component,
    following symbolic links as the operating system does."""
    path, st, todo, links = "/", os.stat("/"), list(Path(directory).parts[1:]), 0
    while True:
        if st.st_uid not in (uid, 0):
            return f"{path} is owned by uid {st.st_uid}, neither you (uid {uid}) nor root"
        if not stat.S_ISDIR(st.st_mode):
            return f"{path} is not a directory"
        # Where the files are, even the sticky bit does not keep others from adding some.
        if st.st_mode & 0o022 and (not todo or not st.st_mode & stat.S_ISVTX):
            return f"{path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
        if not todo:
            return None
        name = todo.pop(0)
        if name == "..":
            path = os.path.dirname(path)
            st = os.stat(path)
            continue
        entry = os.path.join(path, name)
        st = os.lstat(entry)
        if not stat.S_ISLNK(st.st_mode):
            path = entry
            continue
        if st.st_uid not in (uid, 0):
            return f"{entry} is a symbolic link owned by uid {st.st_uid}, neither you nor root"
        links += 1
        if links > 40:
            return f"{directory}: too many levels of symbolic links"
        target = Path(os.readlink(entry))
        todo[:0] = target.parts[1:] if target.is_absolute() else target.parts
        path = "/" if target.is_absolute() else path
        st = os.stat(path)


@contextlib.contextmanager
def _atomic_private(path: str) -> Iterator[IO[bytes]]:
    """Write ``path`` atomically, as a new file only its owner can read (mode 0600); the
    temporary file is removed if the write fails (a full disk leaves no orphan)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SafeCache:
    """Wraps a Numba dispatcher's disk cache so that a corrupted, truncated, unreadable or
    unwritable cache file means "compile again" (with one warning), never an error, and
    files it writes are owner-only."""

    def __init__(self, inner: Any):
        self._inner = inner
        inner._cache_file._open_for_write = _atomic_private

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return self._inner.load_overload(sig, target_context)
        except Exception as e:  # noqa: BLE001 - any failure to load: recompile
            _warn_once(f"a file in Numba's cache {self._inner.cache_path} could not be "
                       f"loaded ({e!r}); compiling again")
            try:
                self._inner.flush()  # rewrite the broken index, so the next save repairs it
            except Exception:  # noqa: BLE001, S110 - unwritable: stays in memory
                pass
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            self._inner.save_overload(sig, data)
        except Exception as e:  # noqa: BLE001 - any failure to save: keep it in memory
            _warn_once(f"could not write to Numba's cache {self._inner.cache_path} ({e!r}); "
                       f"keeping the compiled code in memory")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _guard(dispatcher: Any) -> Any:
    """Let ``dispatcher`` (whose disk cache is on) use it only if the directory Numba chose
    for it (next to the source, NUMBA_CACHE_DIR, or ~/.cache/numba) is one that no other
    user can write (see ``distrust``), and survive failures of it."""
    from numba.core.caching import NullCache
    inner = dispatcher._cache
    problem = distrust(inner.cache_path)
    if problem is None:
        dispatcher._cache = SafeCache(inner)
    else:
        dispatcher._cache = NullCache()
        _warn_once(f"Numba's cache {inner.cache_path} not used: {problem}; compiling in "
                   f"memory. {_NUMBA_DIR_ADVICE}")
    return dispatcher


def harden(module: ModuleType) -> ModuleType:
    """Guard every disk-cached Numba function defined in ``module`` (see ``_guard``)."""
    for value in list(vars(module).values()):
        inner = getattr(value, "_cache", None)
        if inner is not None and getattr(inner, "cache_path", None) is not None and \
                not isinstance(inner, SafeCache) and \
                getattr(value, "py_func", None) is not None and \
                value.py_func.__module__ == module.__name__:
            _guard(value)
    return module


def inline_helper(**options: Any) -> Any:
    """Decorator of the functions generated kernels call and LLVM inlines (vmath, scalar,
    bits and special_math's hot functions): ``njit`` with ``forceinline`` and no Python or C
    wrapper of their own, plus ``options``, cached on disk as ``disk_cache`` caches. Numba
    stores a cached function's bitcode for callers to link beside its machine code, so callers
    still inline it (and their loops still vectorise), while a new process loads each helper
    instead of typing and lowering it again: that was half of the first kernel's compile time
    in every process (0.6 of 1.2 s CPU for a tanh/exp/log1p kernel), paid by every compile
    worker, test file and script. (Kernels compiled by ``backend.direct`` lower the helpers
    themselves, marked by ``INLINE``; Numba compiles them for Numba's kernels.)"""
    import numba

    def decorate(fn: Any) -> Any:
        dispatcher = disk_cache(numba.njit(forceinline=True, no_cpython_wrapper=True,
                                           no_cfunc_wrapper=True, **options)(fn))
        setattr(dispatcher, INLINE, True)  # (direct kernels lower it themselves)
        return dispatcher

    return decorate


# The attribute marking ``inline_helper``'s dispatchers, and the one holding the source text of
# a Python function made by ``exec`` (which ``inspect`` cannot find), for backend.direct.
INLINE = "jitgrad_inline"
SOURCE = "jitgrad_source"


def compile_exclusively(dispatcher: Any, sig: tuple) -> None:
    """Compile (or load from cache) one signature, then refuse implicit compiles: calls with
    other layouts convert to an 'A'-layout signature instead of growing new specialisations.

    Under Numba's (re-entrant) compiler lock as a whole: Numba checks that compiling is
    allowed before it takes that lock, so another thread's call ending here could refuse it
    again between this thread's allowing it and its compile, which then raised "compilation
    disabled" (several Python threads making their first two-thread products at once)."""
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        if dispatcher.signatures:
            _dispatch_when_refused(dispatcher)
            dispatcher.disable_compile(False)
        try:
            dispatcher.compile(sig)
        finally:
            if dispatcher.signatures:
                dispatcher.disable_compile()


def _dispatch_when_refused(dispatcher: Any) -> None:
    """Make a call of ``dispatcher`` that found no signature for its arguments while another
    thread's compile_exclusively allowed compiling dispatch them again once that is over (as
    a dispatcher that refuses compiles does: converted to a compiled signature, or a
    TypeError) rather than raise "compilation disabled". Numba's dispatcher decides to compile
    before it takes its compiler lock, and checks again once it holds it: a program's product
    called while the background compiler compiled another matmul entry raised there."""
    if "_compile_for_args" in vars(dispatcher):
        return
    from numba.core.compiler_lock import global_compiler_lock

    compile_for_args = dispatcher._compile_for_args

    def compile_or_dispatch(*args: Any, **kws: Any) -> Any:
        with global_compiler_lock:
            if dispatcher._can_compile:
                return compile_for_args(*args, **kws)
        return dispatcher  # (Numba calls what this returns with the arguments)

    dispatcher._compile_for_args = compile_or_dispatch


def disk_cache(dispatcher: Any) -> Any:
    """Decorator for a Numba dispatcher declared without ``cache=True``: cache its machine
    code on disk where that is safe (see ``_guard``), and compile in memory (with one warning)
    where Numba finds no writable directory for it (e.g. a read-only install and no HOME),
    instead of failing as ``cache=True`` does."""
    try:
        dispatcher.enable_caching()
    except RuntimeError as e:  # "cannot cache function ...: no locator available"
        _warn_once(f"no directory for Numba's cache ({e}); compiling in memory. "
                   f"{_NUMBA_DIR_ADVICE}")
        return dispatcher
    _salt_index(dispatcher._cache)
    return _guard(dispatcher)


def _salt_index(inner: Any) -> None:
    """Key the entries of a Numba function's cache index by the salt too. Numba keys them by
    the function's own bytecode and invalidates them when its own file changes, but the machine
    code also holds every helper it inlines or calls from other modules (special_math's
    functions inline vmath's): without the salt, a changed helper would replay stale code."""
    key = inner._index_key
    inner._index_key = lambda sig, codegen: (*key(sig, codegen), salt())


def _warn_once(message: str) -> None:
    global _warned
    log.debug("jitgrad: %s", message)
    if not _warned:
        _warned = True
        warnings.warn(f"jitgrad: {message}", RuntimeWarning, stacklevel=3)


def numba_stats() -> dict[str, int]:
    """Numba disk-cache hits and misses (compiles) over every loaded kernel."""
    hits = misses = 0
    for mod in _modules.values():
        stats_ = mod.kernel.stats
        hits += sum(stats_.cache_hits.values())
        misses += sum(stats_.cache_misses.values())
    return {"hits": hits, "misses": misses}
