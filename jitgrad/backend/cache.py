"""The on-disk kernel cache: each generated kernel is a module named by the hash of its source
(salted with jitgrad's version and the source of every helper module kernels call), written
under a per-user directory and imported, so Numba's ``cache=True`` persists its machine code
across processes. Any cache failure falls back to an in-memory compile, with one warning."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("jitgrad")

# Helper modules generated kernels call into: their source is part of every kernel's key,
# because Numba's cache keeps inlined copies of them (a changed helper must not be replayed).
HELPER_MODULES = ("jitgrad.backend.scalar", "jitgrad.backend.vmath", "jitgrad.special_math")


def cache_dir() -> Path:
    return Path(os.environ.get("JITGRAD_CACHE_DIR") or Path.home() / ".cache" / "jitgrad")


def _salt() -> str:
    from jitgrad import __version__
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
    """Import (writing it first if needed) the module holding ``source``; identical sources
    share one module."""
    name = "jitgrad_k_" + hashlib.sha256(source.encode()).hexdigest()[:24]
    mod = _modules.get(name)
    if mod is not None:
        return mod
    with _lock:  # one import (and one write) per kernel, whichever thread gets here first
        mod = _modules.get(name)
        if mod is None:
            try:
                mod = harden(_import_from_disk(name, source))
            except Exception as e:  # noqa: BLE001 - any cache problem: compile in memory
                _warn_once(e)
                mod = _in_memory(name, source)
            _modules[name] = mod
    return mod


def _import_from_disk(name: str, source: str) -> ModuleType:
    d = cache_dir()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = d / f"{name}.py"
    try:
        current = path.read_text()
    except (OSError, UnicodeDecodeError):
        current = None
    if current != source:  # missing, truncated or corrupted: (re)write atomically
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


class _SafeCache:
    """Wraps a Numba dispatcher's disk cache so that a corrupted, truncated, unreadable or
    unwritable cache file means "compile again" (with one warning), never an error."""

    def __init__(self, inner: Any):
        self._inner = inner

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return self._inner.load_overload(sig, target_context)
        except Exception as e:  # noqa: BLE001 - any failure to load: recompile
            _warn_once(e)
            try:
                self._inner.flush()  # rewrite the broken index, so the next save repairs it
            except Exception:  # noqa: BLE001, S110 - unwritable: stays in memory
                pass
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            self._inner.save_overload(sig, data)
        except Exception as e:  # noqa: BLE001 - any failure to save: keep it in memory
            _warn_once(e)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def harden(module: ModuleType) -> ModuleType:
    """Make every cached Numba function of ``module`` survive cache failures."""
    for value in list(vars(module).values()):
        inner = getattr(value, "_cache", None)
        if inner is not None and hasattr(inner, "load_overload") and \
                not isinstance(inner, _SafeCache) and getattr(value, "py_func", None) is not None \
                and value.py_func.__module__ == module.__name__:
            value._cache = _SafeCache(inner)
    return module


def _in_memory(name: str, source: str) -> ModuleType:
    """Compile without Numba's disk cache (it cannot cache code that is not in a file)."""
    mod = ModuleType(name)
    exec(compile(source.replace("cache=True", "cache=False"), f"<jitgrad {name}>", "exec"),
         mod.__dict__)
    return mod


def _warn_once(e: BaseException) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"jitgrad: problem with the kernel cache at {cache_dir()} ({e!r}); "
                      f"compiling without it (set JITGRAD_CACHE_DIR to a writable directory to "
                      f"cache kernels across processes)", RuntimeWarning, stacklevel=3)


def numba_stats() -> dict[str, int]:
    """Numba disk-cache hits and misses (compiles) over every loaded kernel."""
    hits = misses = 0
    for mod in _modules.values():
        stats_ = mod.kernel.stats
        hits += sum(stats_.cache_hits.values())
        misses += sum(stats_.cache_misses.values())
    return {"hits": hits, "misses": misses}
