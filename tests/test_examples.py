"""Each example runs as a script, exits 0 and prints what it promises."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in output:\n{text[-2000:]}"
    return float(match.group(1))


def test_mlp_trains():
    out = run_example("mlp.py")
    first = number(r"step\s+0: loss ([\d.]+)", out)
    last = number(r"step\s+600: loss ([\d.]+)", out)
    assert last < first / 10
    assert number(r"final accuracy \(held-out points\): ([\d.]+)", out) > 0.9


def test_newton_hvp_converges():
    out = run_example("newton_hvp.py")
    assert number(r"HVP vs finite differences: relative error ([\d.e+-]+)", out) < 1e-6
    assert "converged to the minimum at all-ones" in out
    assert number(r"max \|x - 1\| = ([\d.e+-]+)", out) < 1e-8


def test_custom_rule_is_stable():
    out = run_example("custom_rule.py")
    assert "naive gradient at x=1000: nan" in out
    assert number(r"custom gradient at x=1000: ([\d.]+)", out) == 1.0
    assert number(r"second derivative at 0: ([\d.]+)", out) == pytest.approx(0.25)
    assert "check_grads (reverse mode, finite differences): ok" in out


def test_inspect_kernels_prints_ir_and_kernels():
    out = run_example("inspect_kernels.py")
    assert "{ lambda" in out and "matmul" in out  # the traced IR
    assert "# caller" in out and "# K0: " in out and "def K0(" in out


def test_quickstart_runs_and_prints_the_backward_program():
    out = run_example("quickstart.py")
    losses = [float(v) for v in re.findall(r"step \d: loss ([\d.]+)", out)]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert "Its backward program" in out and "matmul[transpose_a=True" in out


def test_per_example_gradients_match_a_loop_and_train():
    out = run_example("per_example_grads.py")
    assert "per-example gradients: (256, 8)" in out
    assert "matches a Python loop: True" in out
    assert number(r"step 50: .*accuracy ([\d.]+)", out) > 0.85


def test_ode_fit_through_scan():
    out = run_example("ode_scan.py")
    assert abs(number(r"fitted damping ([\d.]+)", out) - 0.7) < 0.01
    grad = number(r"scan gradient ([-\d.]+)", out)
    fd = number(r"finite difference ([-\d.]+)", out)
    assert grad == pytest.approx(fd, rel=1e-5)


def test_gaussian_process_fits_its_hyper_parameters():
    out = run_example("gaussian_process.py")
    assert number(r"multivariate_normal.logpdf: difference ([\d.e+-]+)", out) < 1e-10
    first = number(r"step\s+0: negative log marginal likelihood ([\d.-]+)", out)
    last = number(r"step\s+300: negative log marginal likelihood ([\d.-]+)", out)
    assert last < first - 50
    assert 0.05 < number(r"noise ([\d.]+)", out) < 0.2  # the samples' noise is 0.1
    assert number(r"posterior mean vs sin: max error ([\d.]+)", out) < 0.3


def test_convnet_trains():
    out = run_example("convnet.py")
    first = number(r"step\s+0: loss ([\d.]+)", out)
    last = number(r"step\s+150: loss ([\d.]+)", out)
    assert last < first / 10
    assert number(r"held-out accuracy: ([\d.]+)", out) > 0.9
