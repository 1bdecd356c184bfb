"""The persistent kernel cache, in fresh processes: reuse without compiling, corruption,
unusable directories, concurrent writers, full disks, no home directory, directories other
users can write (planted files never run); and that importing jitgrad compiles nothing."""

import importlib
import importlib.util
import os
import pickle
import py_compile
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import pytest
from numba.core.caching import NullCache

import jitgrad
from jitgrad.backend import cache

SCRIPT = textwrap.dedent("""
    import warnings
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend import direct
    warnings.simplefilter("always")
    f = jg.jit(jg.grad(lambda x, b: jnp.sum(jnp.tanh(x + b) * x)))
    x, b = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(0, 1, 4)
    t = np.tanh(x + b)
    ok = np.allclose(f(x, b), (1 - t ** 2) * x + t)
    s = direct.cache_stats()
    print(f"ok={ok} helpers={direct.stats['helpers loaded']} hits={s['hits']} "
          f"misses={s['misses']}")
""")


WARNING = "RuntimeWarning: jitgrad:"


def run(cache_dir, script=SCRIPT, cwd=None, **env):
    """Run ``script`` in a fresh process with ``cache_dir`` as the cache and ``env`` set (None
    unsets a variable); its last line of output, and its stderr."""
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(cache_dir), **env)
    env = {k: v for k, v in env.items() if v is not None}
    res = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1], res.stderr


def test_second_process_loads_machine_code_without_compiling(tmp_path):
    out, _ = run(tmp_path)
    assert out.startswith("ok=True") and "misses=0" not in out
    out, _ = run(tmp_path)
    assert out.startswith("ok=True") and out.endswith("misses=0") and "hits=0" not in out


def test_cache_is_created_owner_only(tmp_path):
    d = tmp_path / "new" / "jitgrad"
    run(d)
    paths = [d, *d.rglob("*")]
    assert any(p.suffix == ".o" for p in paths)  # direct kernels' object code
    assert (d / "__pycache__").is_dir()
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p


def test_corrupted_and_truncated_cache_files(tmp_path):
    run(tmp_path)
    for root, _, files in os.walk(tmp_path):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                data = fh.read()
            with open(path, "wb") as fh:  # truncate sources, garble Numba's index and data
                fh.write(data[: len(data) // 3] if name.endswith(".py") else b"garbage")
    out, err = run(tmp_path)
    assert out.startswith("ok=True")
    assert err.count(WARNING) <= 1
    out, _ = run(tmp_path)  # repaired: machine code reused again
    assert out.startswith("ok=True") and out.endswith("misses=0")


def test_unusable_cache_directory_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out, err = run(blocker / "cache")
    assert out.startswith("ok=True")
    assert err.count(WARNING) == 1 and str(blocker) in err


def run_read_only(cache_dir):
    """Run SCRIPT with ``cache_dir`` read-only: by permissions for a normal user; for root
    (who ignores them) by a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0:
        os.chmod(cache_dir, 0o500)
        cmd = [sys.executable, "-c", SCRIPT]
    else:
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root without mount namespaces: cannot make a directory "
                        "read-only")
        d = str(cache_dir)
        cmd = ["unshare", "-m", "sh", "-c",
               f"mount --bind {d} {d} && mount -o remount,ro,bind {d} && "
               f"exec {sys.executable} -c \"$0\"", SCRIPT]
    try:
        res = subprocess.run(cmd, env=dict(os.environ, JITGRAD_CACHE_DIR=str(cache_dir)),
                             capture_output=True, text=True, timeout=300)
    finally:
        os.chmod(cache_dir, 0o700)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1].startswith("ok=True")
    return res.stderr


def test_read_only_cache_directory(tmp_path):
    run(tmp_path)  # a warm cache, then read-only: reused, and nothing is written
    run_read_only(tmp_path)
    assert not any(p.suffix == ".tmp" for p in tmp_path.iterdir())
    # and a read-only directory without this program's kernels still gives correct results
    other = tmp_path / "empty"
    other.mkdir()
    assert run_read_only(other).count(WARNING) == 1


def test_two_processes_compiling_the_same_kernel_at_once(tmp_path):
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.strip().splitlines()[-1].startswith("ok=True")
    out, _ = run(tmp_path)
    assert out.startswith("ok=True") and out.endswith("misses=0")


def test_import_jitgrad_does_not_import_numba_or_compile(tmp_path):
    script = ("import sys, jitgrad, jitgrad.numpy\n"
              "print('numba' in sys.modules, 'jitgrad.backend.runtime' in sys.modules)")
    out, _ = run(tmp_path, script)
    assert out == "False False"


def test_salt_covers_helper_sources(tmp_path, monkeypatch):
    """Changing a helper module the kernels inline changes every kernel's module name."""
    from jitgrad.backend import cache
    helper = tmp_path / "jg_fake_helper.py"
    helper.write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cache, "HELPER_MODULES", ("jg_fake_helper",))
    before = cache._salt()
    helper.write_text("x = 2\n")
    assert cache._salt() != before


def test_disk_cached_helpers_are_keyed_by_the_salt(tmp_path, monkeypatch):
    """A Numba function cached through ``disk_cache`` (special_math's inline vmath's, which
    live in another file) is replayed from the disk cache only while the salt, the hash of
    every helper module, is unchanged: Numba's own key (the function's bytecode and its own
    file's time stamp) would replay machine code built from a helper's old source."""
    private = open_dir(tmp_path / "private", 0o700)
    (private / "jg_salted_mod.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(private))
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", "")
    py_func = importlib.import_module("jg_salted_mod").f

    def compiles():
        f = cache.disk_cache(numba.njit(py_func))
        assert f(1) == 2
        return sum(f.stats.cache_misses.values())

    assert compiles() == 1
    assert compiles() == 0  # replayed from the disk cache
    monkeypatch.setattr(cache, "_SALT", "a changed helper")
    assert compiles() == 1
    assert compiles() == 0


def test_numba_start_up_leaves_scipy_and_numba_blas_working(tmp_path):
    """jitgrad initialises Numba without its eager SciPy import; BLAS in the user's own Numba
    code and SciPy itself must still work afterwards."""
    script = textwrap.dedent("""
        import sys
        import numpy as np, numba, jitgrad as jg
        jg.jit(lambda x: x * 2)(np.ones(3))
        deferred = "scipy.linalg" not in sys.modules
        dot = numba.njit(lambda a, b: np.dot(a, b))
        ok = dot(np.eye(3), np.arange(3.0))[2] == 2.0
        import scipy.linalg
        print(deferred, ok, scipy.linalg.norm(np.ones(4)) == 2.0)
    """)
    out, _ = run(tmp_path, script)
    assert out == "True True True"


# ---------------------------------------------------------------------------------------------
# Directories other users can write: nothing planted there ever runs (issue 9)


class RunsCode:
    """Pickles into a pickle whose loading runs ``code``."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


def touch_code(marker):
    return f"open({str(marker)!r}, 'a').close()\n"


def open_dir(path, mode=0o777):
    """A directory with exactly ``mode`` (whatever the umask)."""
    path.mkdir(exist_ok=True)
    os.chmod(path, mode)
    return path


def plant_module(py, marker):
    """A module file ``py`` that creates ``marker``, and a .pyc of it that Python would load
    without looking at the source (PEP 552's unchecked hash)."""
    py.write_text(touch_code(marker))
    open_dir(py.parent / "__pycache__")
    py_compile.compile(str(py), cfile=importlib.util.cache_from_source(str(py)),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """SCRIPT's kernel modules and their Numba cache files (in a NUMBA_CACHE_DIR): the names
    under which planted files would be loaded."""
    root = tmp_path_factory.mktemp("warm")
    out, _ = run(root / "kernels", NUMBA_CACHE_DIR=str(root / "numba"))
    assert out.startswith("ok=True")
    # the kernel modules too (direct kernels write theirs only when Numba's is needed)
    out, _ = run(root / "kernels", NUMBA_CACHE_DIR=str(root / "numba"),
                 JITGRAD_KERNEL_COMPILER="numba")
    assert out.startswith("ok=True")
    assert list((root / "numba").rglob("jitgrad_h_*.bc"))  # (tanh's lowering)
    out, _ = run(root / "more kernels", NUMBA_CACHE_DIR=str(root / "numba"))
    assert "helpers=1 " in out  # loaded from there by a kernel compiled anew
    return root / "kernels", root / "numba"


def planted(numba_dir):
    """The files in ``numba_dir`` whose names would be loaded: Numba's index and data files
    and jitgrad's lowerings of the inline helpers."""
    return [*numba_dir.rglob("*.nb?"), *numba_dir.rglob("jitgrad_h_*.bc")]


def test_world_writable_cache_directory_is_never_loaded_from(tmp_path, warm):
    """A shared cache directory (mode 0777) with a kernel module, its .pyc, Numba's index and
    data files planted under the names SCRIPT loads: jitgrad compiles in memory, and nothing
    planted runs, not even through Numba's module lookup from a working directory there."""
    kernels, numba_dir = warm
    marker = tmp_path / "MARKER"
    shared = open_dir(tmp_path / "shared")
    for src in kernels.glob("jitgrad_k_*.py"):
        plant_module(shared / src.name, marker)
    for f in planted(numba_dir):
        (shared / "__pycache__" / f.name).write_bytes(pickle.dumps(RunsCode(touch_code(marker))))
    for obj in kernels.glob("jitgrad_*.o"):  # direct kernels' object code
        (shared / obj.name).write_bytes(obj.read_bytes())
    out, err = run(shared, cwd=shared, NUMBA_CACHE_DIR=None)
    assert out.startswith("ok=True") and " hits=0 " in out and not marker.exists()
    assert err.count(WARNING) == 1
    assert f"kernel cache {shared} not used: {shared} is writable by other users" in err


def test_numba_cache_directory_others_can_write_is_never_loaded_from(tmp_path, warm):
    """NUMBA_CACHE_DIR (where Numba puts the index of every cached function, kernels too) in a
    shared directory with planted index and data files: they are never loaded."""
    kernels, numba_dir = warm
    marker = tmp_path / "MARKER"
    shared = open_dir(tmp_path / "numba")
    for f in planted(numba_dir):
        d = open_dir(shared / f.parent.relative_to(numba_dir))
        (d / f.name).write_bytes(f.read_bytes() if f.suffix == ".bc" else
                                 pickle.dumps(RunsCode(touch_code(marker))))
    out, err = run(kernels, NUMBA_CACHE_DIR=str(shared))
    assert out.startswith("ok=True helpers=0 ") and not marker.exists()
    assert err.count(WARNING) == 1 and f"{shared} is writable by other users" in err


def someone_elses(path, monkeypatch):
    """Make ``path`` owned by another user: chown it to nobody as root; as a normal user (who
    cannot chown), look at it as another uid."""
    if os.geteuid() == 0:
        os.lchown(path, 65534, 65534)
    else:
        other = os.geteuid() + 1
        monkeypatch.setattr(os, "geteuid", lambda: other)


def layout(tmp_path, monkeypatch, case):
    """Build ``case`` under tmp_path; the directory to check."""
    a = tmp_path / "a"
    if case in ("0700", "0755", "0770", "0777", "1777"):
        return open_dir(a, int(case, 8))
    if case == "owned by another user":
        someone_elses(open_dir(a, 0o700), monkeypatch)
        return a
    if case.startswith("parent"):  # "parent 0777" / "parent 1777"
        return open_dir(open_dir(a, int(case[-4:], 8)) / "b", 0o700)
    if case == "__pycache__ 0777":
        return open_dir(open_dir(a, 0o700) / "__pycache__")
    target = open_dir(tmp_path / "target", 0o700)
    if case == "link to a directory others can write":
        os.chmod(target, 0o777)
    elif case == "link to a private directory, through ..":
        open_dir(target / "sub", 0o700)
        target = target / "sub" / ".."
    link = open_dir(a, 0o1777) / "link"
    link.symlink_to(target)
    if case == "link owned by another user, in a sticky directory":
        someone_elses(link, monkeypatch)
    return link


@pytest.mark.parametrize("case, problem", [
    ("0700", None),
    ("0755", None),
    ("0770", "a is writable by other users (mode 770)"),
    ("0777", "a is writable by other users (mode 777)"),
    ("1777", "a is writable by other users (mode 1777)"),
    ("owned by another user", "is owned by uid"),
    ("parent 0777", "a is writable by other users (mode 777)"),
    ("parent 1777", None),
    ("__pycache__ 0777", "__pycache__ is writable by other users"),
    ("link to a private directory, in a sticky directory", None),
    ("link to a private directory, through ..", None),
    ("link to a directory others can write", "target is writable by other users"),
    ("link owned by another user, in a sticky directory", "owned by uid"),
])
def test_which_directories_are_trusted(tmp_path, monkeypatch, case, problem):
    d = layout(tmp_path, monkeypatch, case)
    found = cache.distrust(str(d))
    assert found is None if problem is None else problem in found, found


def test_file_path_and_missing_directory_are_not_trusted(tmp_path):
    (tmp_path / "f").write_text("")
    assert "is not a directory" in cache.distrust(str(tmp_path / "f"))
    assert "cannot be checked" in cache.distrust(str(tmp_path / "missing"))


def test_numba_cache_next_to_a_source_others_can_write_is_not_used(tmp_path, monkeypatch):
    """A Numba function whose source sits in a shared directory (as jitgrad's own helper
    modules in a group-writable install): its cache there, with a planted index, is never
    read, and the function compiles in memory."""
    marker = tmp_path / "MARKER"
    shared = open_dir(tmp_path / "shared")
    (shared / "jg_shared_mod.py").write_text("def f(x):\n    return x + 1\n")
    index = f"jg_shared_mod.f-1.py{sys.version_info[0]}{sys.version_info[1]}.nbi"
    open_dir(shared / "__pycache__")
    (shared / "__pycache__" / index).write_bytes(pickle.dumps(RunsCode(touch_code(marker))))
    monkeypatch.syspath_prepend(str(shared))
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", "")
    monkeypatch.setattr(cache, "_warned", False)
    with pytest.warns(RuntimeWarning, match=f"{shared} is writable by other users"):
        f = cache.disk_cache(numba.njit(importlib.import_module("jg_shared_mod").f))
    assert isinstance(f._cache, NullCache)
    assert f(1) == 2 and not marker.exists()


def test_a_kernel_module_file_is_never_executed(tmp_path, monkeypatch):
    """Even in a private cache, what runs is the generated source itself: neither a file of
    that name with other content nor a .pyc next to it (the two cannot race either)."""
    marker = tmp_path / "MARKER"
    d = open_dir(tmp_path / "cache", 0o700)
    source = cache.module_source("answer = 42", "")
    name = "jitgrad_k_" + cache.hashlib.sha256(source.encode()).hexdigest()[:24]
    plant_module(d / f"{name}.py", marker)
    os.chmod(d / "__pycache__", 0o700)
    monkeypatch.setenv("JITGRAD_CACHE_DIR", str(d))
    try:
        assert cache.load(source).answer == 42
    finally:
        cache._modules.pop(name, None)
        sys.modules.pop(name, None)
    assert not marker.exists() and (d / f"{name}.py").read_text() == source


NO_HOME = textwrap.dedent("""
    import os, pwd
    if "HOME" not in os.environ:  # a uid without a home has no password entry either
        def getpwuid(uid):
            raise KeyError(f"getpwuid(): uid not found: {uid}")
        pwd.getpwuid = getpwuid
""") + SCRIPT + textwrap.dedent("""
    import jitgrad.backend.kernels.matmul as mm
    print(jg.__file__, type(mm._micro._cache).__name__)
""")


@pytest.mark.parametrize("home", ["unset", "unwritable"])
def test_no_home_directory_and_a_read_only_install(tmp_path, home):
    """No usable home (unset, or /nonexistent for a uid without one), no JITGRAD_CACHE_DIR and
    a read-only package: no directory for any cache, and ``jit`` still works, in memory, with
    one warning. Root ignores permissions, so the home is below a regular file and every
    package directory holds a file named __pycache__: no user can create either."""
    site = tmp_path / "site"
    shutil.copytree(Path(jitgrad.__file__).parent, site / "jitgrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dirs = [site, *(p for p in site.rglob("*") if p.is_dir())]
    for d in dirs:
        (d / "__pycache__").write_text("")
    for p in site.rglob("*"):
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    os.chmod(site, 0o555)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(JITGRAD_CACHE_DIR=None, NUMBA_CACHE_DIR=None, XDG_CACHE_HOME=None,
               PYTHONPATH=str(site), HOME=None if home == "unset" else str(blocker / "home"))
    try:
        res = subprocess.run([sys.executable, "-c", NO_HOME], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300,
                             env={k: v for k, v in dict(os.environ, **env).items()
                                  if v is not None})
    finally:
        for d in dirs:
            os.chmod(d, 0o755)
    assert res.returncode == 0, res.stderr
    *_, ok, last = res.stdout.strip().splitlines()
    assert ok.startswith("ok=True")
    assert last == f"{site / 'jitgrad' / '__init__.py'} NullCache"
    assert res.stderr.count(WARNING) == 1, res.stderr


FULL_DISK = textwrap.dedent("""
    import resource, warnings
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    warnings.simplefilter("always")

    def disk_space(n):  # writes beyond n bytes fail with EFBIG, even for root
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, resource.RLIM_INFINITY))

    disk_space(64)  # the kernel's module file cannot be written
    a = jg.jit(lambda x: jnp.sin(x) * 2)(np.ones(3))
    disk_space(8192)  # its module file can, its machine code cannot
    b = jg.jit(lambda x: jnp.cos(x) * 3)(np.ones(3))
    print(np.allclose(a, np.sin(1) * 2) and np.allclose(b, np.cos(1) * 3))
""")


@pytest.mark.parametrize("compiler", ["direct", "numba"])
def test_failed_writes_leave_no_temporary_files(tmp_path, compiler):
    # (NUMBA_CACHE_DIR unset: Numba's files for the kernel's module are looked for beside it)
    out, err = run(tmp_path, FULL_DISK, JITGRAD_KERNEL_COMPILER=compiler, NUMBA_CACHE_DIR=None)
    assert out == "True"
    assert err.count(WARNING) == 1 and "File too large" in err
    if compiler == "numba":
        assert list(tmp_path.rglob("*.nbi")) and not list(tmp_path.rglob("*.nbc"))
    else:  # (no kernel module: direct kernels need Numba's only as a fallback)
        assert not list(tmp_path.rglob("*.o"))
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


HELPERS = textwrap.dedent("""
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend import vmath
    jg.config.compile = "blocking"
    f = jg.jit(lambda x: jnp.tanh(x) * 2.0 + jnp.exp(x))
    assert np.allclose(f(np.ones(3)), np.tanh(1.0) * 2 + np.exp(1.0))
    stats = [vmath.tanh_f64.stats, vmath.exp_f64.stats]
    print(sum(sum(s.cache_hits.values()) for s in stats),
          sum(sum(s.cache_misses.values()) for s in stats))
""")


def test_inlined_helpers_load_from_the_disk_cache(tmp_path):
    """A process compiling a new Numba kernel (here: with an empty kernel cache) loads the
    vmath functions the kernel inlines from Numba's disk cache instead of typing and lowering
    them again, which was half of the first kernel's compile in every process. (Direct
    kernels lower them themselves and cache that beside: tests/test_direct.py.)"""
    numba_dir = str(tmp_path / "numba")
    env = {"NUMBA_CACHE_DIR": numba_dir, "JITGRAD_KERNEL_COMPILER": "numba"}
    out, _ = run(tmp_path / "first", HELPERS, **env)
    assert out == "0 2"
    out, _ = run(tmp_path / "second", HELPERS, **env)
    assert out == "2 0"


NUMBA_OWN = textwrap.dedent("""
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend.runtime import start_numba
    from numba.core import event
    jg.config.compile = "blocking"
    start_numba()
    compiled = []
    class Seen(event.Listener):
        def on_start(self, ev):
            fn = getattr(ev.data.get("dispatcher"), "py_func", None)
            compiled.append(getattr(fn, "__module__", None) or "")
        def on_end(self, ev):
            pass
    event.register("numba:compile", Seen())
    x = np.linspace(-1.0, 1.0, 3000, dtype=np.float32).reshape(300, 10)
    # a float32 column sum over many rows (a float64 row accumulator, blocked rows) and a
    # float32 total in chunks
    f = jg.jit(lambda a: (jnp.sum(jnp.exp(a), axis=0), jnp.sum(jnp.exp(a.ravel()))))
    cols, total = f(x)
    np.testing.assert_allclose(cols, np.exp(x).sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(total, np.exp(x).sum(), rtol=1e-5)
    print(sorted({m for m in compiled if not m.startswith("jitgrad")}))
""")


def test_kernels_compile_none_of_numbas_own_implementations(tmp_path):
    """Numba's own implementations (``np.empty``, the ``min`` builtin) are not disk-cached:
    a kernel calling them compiled them again in every process (0.25 s CPU, before its own
    compile). Generated kernels call jitgrad's cached helpers instead: a process compiling
    new kernels, its helpers in Numba's cache, compiles nothing but the kernels."""
    numba_dir = str(tmp_path / "numba")
    run(tmp_path / "first", NUMBA_OWN, NUMBA_CACHE_DIR=numba_dir)  # the helpers' caches
    out, _ = run(tmp_path / "second", NUMBA_OWN, NUMBA_CACHE_DIR=numba_dir)
    assert out == "[]"


def test_numba_functions_of_jitgrad_cache_only_through_the_checks():
    """``cache=True`` would let Numba load pickles from wherever its locators point, unchecked
    (and fail at import where none is writable): jitgrad's own Numba functions use
    ``cache.disk_cache``; only generated kernels say ``cache=True``, and ``cache.load`` checks
    them (and turns it off for in-memory compiles)."""
    root = Path(jitgrad.__file__).parent
    declaring = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if re.search(r"""cache["']?\s*[=:]\s*True""", p.read_text()))
    assert declaring == ["backend/cache.py", "backend/codegen.py"]


def test_compiles_from_two_threads_at_once_are_not_refused():
    """compile_exclusively allows compiling, compiles, and refuses implicit compiles again.
    Numba checks that compiling is allowed before it takes its compiler lock, so a thread
    whose call ended in between refused the other's compile ("compilation disabled", raised
    to a user whose Python threads made their first two-thread products at once). A stand-in
    dispatcher with Numba's order of checks, and the interleaving forced: the second thread
    allows compiling while the first compiles, and checks only after the first has refused
    it again."""
    import threading

    from numba.core.compiler_lock import global_compiler_lock

    first_compiling, finish_first, second_allowed, check_second = (threading.Event()
                                                                    for _ in range(4))

    class Dispatcher:
        signatures = [("already",)]
        can_compile = False
        _can_compile = property(lambda self: self.can_compile)

        def _compile_for_args(self, *args):  # (the dispatch path: not taken here)
            raise AssertionError

        def disable_compile(self, val=True):
            self.can_compile = not val
            if not val and threading.current_thread().name == "second":
                second_allowed.set()
                check_second.wait(5)

        def compile(self, sig):
            if not self.can_compile:  # (as Numba: before its lock)
                raise RuntimeError("compilation disabled")
            with global_compiler_lock:
                if threading.current_thread().name == "first":
                    first_compiling.set()
                    finish_first.wait(5)

    d, errors = Dispatcher(), []

    def run(sig):
        try:
            cache.compile_exclusively(d, sig)
        except RuntimeError as e:
            errors.append(e)

    first = threading.Thread(target=run, args=(("a",),), name="first")
    second = threading.Thread(target=run, args=(("b",),), name="second")
    first.start()
    assert first_compiling.wait(5)
    second.start()
    second_allowed.wait(0.5)  # (not reached while the first holds the lock: now the fix)
    finish_first.set()
    first.join(5)
    check_second.set()
    second.join(5)
    assert not first.is_alive() and not second.is_alive()
    assert errors == [] and not d.can_compile


def test_a_call_while_another_thread_compiles_is_dispatched_not_refused():
    """A call whose arguments match no compiled signature exactly, made while another
    thread's compile_exclusively allows compiling, was sent by Numba to compile a new
    specialisation, and raised "compilation disabled" once that thread refused compiles
    again (Numba decides before it takes its compiler lock, checks once it holds it: a
    program's product, called while the background compiler compiled another matmul entry).
    It now runs as with compiling refused: converted to the compiled signature."""
    import threading

    import numpy as np
    from numba import types

    @numba.njit
    def total(x):
        return x.sum()

    ro = types.Array(types.float64, 1, "A", readonly=True)
    cache.compile_exclusively(total, (ro,))
    original = total.compile
    in_compile, finish = threading.Event(), threading.Event()

    def compile(sig):  # the other thread's compile, held open
        if threading.current_thread().name == "compiler":
            in_compile.set()
            finish.wait(5)
        return original(sig)

    total.compile = compile
    results = []

    def call():
        try:
            results.append(total(np.arange(4.0)))  # C-contiguous, writeable: no exact match
        except Exception as e:  # noqa: BLE001
            results.append(e)

    compiler = threading.Thread(target=cache.compile_exclusively,
                                args=(total, (types.Array(types.float32, 1, "A"),)),
                                name="compiler")
    caller = threading.Thread(target=call)
    try:
        compiler.start()
        assert in_compile.wait(5)
        caller.start()
        caller.join(0.3)  # (it waits for the compiler lock)
        finish.set()
        compiler.join(5)
        caller.join(5)
    finally:
        finish.set()
        del total.compile
    assert results == [6.0]
    assert len(total.signatures) == 2  # (no specialisation of its own for the caller)
