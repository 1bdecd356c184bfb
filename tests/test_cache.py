"""The persistent kernel cache, in fresh processes: reuse without compiling, corruption,
unusable directories, concurrent writers; and that importing jitgrad compiles nothing."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import warnings
    import numpy as np
    import jitgrad as jg, jitgrad.numpy as jnp
    from jitgrad.backend import cache
    warnings.simplefilter("always")
    f = jg.jit(jg.grad(lambda x, b: jnp.sum(jnp.tanh(x + b) * x)))
    x, b = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(0, 1, 4)
    t = np.tanh(x + b)
    ok = np.allclose(f(x, b), (1 - t ** 2) * x + t)
    s = cache.numba_stats()
    print(f"ok={ok} hits={s['hits']} misses={s['misses']}")
""")


def run(cache_dir, script=SCRIPT):
    env = dict(os.environ, JITGRAD_CACHE_DIR=str(cache_dir))
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1], res.stderr


def test_second_process_loads_machine_code_without_compiling(tmp_path):
    out, _ = run(tmp_path)
    assert out.startswith("ok=True") and "misses=0" not in out
    out, _ = run(tmp_path)
    assert out.startswith("ok=True") and out.endswith("misses=0") and "hits=0" not in out


def test_cache_dir_is_created_private(tmp_path):
    d = tmp_path / "new" / "jitgrad"
    run(d)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


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
    assert err.count("problem with the kernel cache") <= 1
    out, _ = run(tmp_path)  # repaired: machine code reused again
    assert out.startswith("ok=True") and out.endswith("misses=0")


def test_unusable_cache_directory_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out, err = run(blocker / "cache")
    assert out.startswith("ok=True")
    assert err.count("problem with the kernel cache") == 1


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
    assert run_read_only(other).count("problem with the kernel cache") == 1


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
