"""The benchmark suite runs end to end (quick, one workload) and prints its table, with the
optional peers (JAX, PyTorch, autograd) hidden: no timing is ever asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_perf(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    hidden = tmp_path / "hidden"
    for name in ("jax", "torch", "autograd"):  # importing any of them raises ImportError
        (hidden / name).mkdir(parents=True)
        (hidden / name / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "perf", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_quick_dispatch_prints_a_table(tmp_path):
    out_json = tmp_path / "perf.json"
    results_md = ROOT / "perf" / "RESULTS.md"
    before = results_md.stat().st_mtime_ns if results_md.exists() else None
    proc = run_perf("--quick", "--only", "dispatch", "--json", str(out_json),
                    tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "### dispatch" in proc.stdout
    assert "| case | jitgrad | jitgrad eager | numpy |" in proc.stdout
    for name in ("jax", "torch", "autograd"):
        assert f"{name} skipped: not importable" in proc.stdout
    data = json.loads(out_json.read_text())
    results = data["sections"][0]["rows"][0]["results"]
    assert set(results) == {"jitgrad", "jitgrad eager", "numpy"}
    assert results["numpy"]["ratio"] > 0
    assert (results_md.stat().st_mtime_ns if results_md.exists() else None) == before


def test_unknown_workload_is_an_error(tmp_path):
    proc = run_perf("--only", "nonsense", tmp_path=tmp_path)
    assert proc.returncode == 2 and "unknown workload" in proc.stderr


def test_training_steps_by_hand_are_the_gradients():
    """The numpy-by-hand steps every peer of the mlp, mnist and cnn rows is checked against
    take an SGD step along jitgrad's (eager) gradient, in float64 (the rows' check compares
    updated float32 parameters, where a wrong gradient hides behind the small step)."""
    import numpy as np

    import jitgrad as jg
    from perf import programs
    from perf.peers import load
    lib = load("jitgrad")
    rng = np.random.default_rng(0)
    cases = [(programs.mlp_data(rng, np.float64, sizes=(12, 8, 6, 10)), programs.mlp_loss,
              programs.mlp_step_numpy)]
    params, x, y = programs.cnn_data(rng)
    small = ([p.astype(np.float64) for p in params], x[:4].astype(np.float64),
             y[:4].astype(np.float64))
    cases.append((small, programs.cnn_loss, programs.cnn_step_numpy))
    for (params, x, y), loss, by_hand in cases:
        value, new = by_hand(params, x, y)
        expect_value, grads = jg.value_and_grad(loss, argnums=1)(lib, params, x, y)
        np.testing.assert_allclose(value, expect_value, rtol=1e-12)
        assert len(new) == len(grads) == 6
        for p, n, g in zip(params, new, grads, strict=True):
            np.testing.assert_allclose((p - n) / programs.LR, g, rtol=1e-8, atol=1e-12)
