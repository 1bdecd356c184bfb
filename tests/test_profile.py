"""The per-step profiler (config.profile, JITGRAD_PROFILE): one row per kernel, matmul, host
step and allocation of the caller, in program order; nothing timed when it is off."""

import re

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.backend import runtime
from jitgrad.backend.fuse import HostStep, LoopKernel, MatmulStep, ViewStep
from jitgrad.core import _Config, config


def program(W, b, X, order):
    """A loop kernel, a bias matmul, a transposed matmul (through the gradient), a host
    gather and a reshape view."""
    h = jnp.tanh(X @ W + b)
    return jnp.sum(h[order].reshape(-1) ** 2)


R = np.random.default_rng(0)
ARGS = (R.standard_normal((4, 3)), R.standard_normal(3), R.standard_normal((5, 4)),
        np.array([4, 0, 2, 2, 1]))


@pytest.fixture(scope="module")
def lowered():
    return jg.jit(jg.value_and_grad(program)).lower(*ARGS)


def test_rows_name_every_step_in_program_order(lowered):
    """Each kernel show_kernels lists (K0, K1, ...) and each matmul, host step and view is a
    row, in the caller's order; times are non-negative and sum to at most the call's."""
    kinds = {LoopKernel, MatmulStep, HostStep, ViewStep}
    assert kinds <= {type(s) for s in lowered.steps}  # the program exercises every kind
    res, prof = lowered.profiler.profile(*ARGS)
    expect = lowered.fn(*ARGS)
    assert len(res) == len(expect)
    for r, e in zip(res, expect, strict=True):
        np.testing.assert_array_equal(r, e)
    shown = set(re.findall(r"^# (K\d+):", lowered.describe(), re.M))
    profiled = [re.match(r"(K\d+|H\d+|matmul|view|alloc|results)\b", label).group(1)
                for _, label, _ in prof.rows]
    assert shown and shown == {p for p in profiled if p.startswith("K")}
    steps = [s for s in lowered.steps]
    named = [p for p in profiled if p not in ("alloc", "results")]
    assert len(named) == len(steps)
    for p, s in zip(named, steps, strict=True):
        assert {LoopKernel: p.startswith("K"), MatmulStep: p == "matmul",
                ViewStep: p == "view", HostStep: p[0] in "KH"}[type(s)], (p, s)
    # a row's caller code and its label agree: the caller calls the kernels in this order
    calls = re.findall(r"\b(?:run_split\()?(K\d+|H\d+|M\d+|np\.reshape)\b",
                       lowered.caller_source)
    word = {"np.reshape": "view"}
    assert [word.get(c, "matmul" if c[0] == "M" else c) for c in calls] == named
    assert all(t >= 0 for t, _, _ in prof.rows) and prof.glue >= 0
    assert sum(t for t, _, _ in prof.rows) <= prof.total
    text = str(prof)
    assert text.splitlines()[0].startswith("jitgrad profile of run(a:f64[4,3], b:f64[3]")
    assert all(label[:90] in text for _, label, _ in prof.rows)
    assert "Python glue" in text and "by kind: " in text


def test_matmul_rows_say_which_kernel_runs(lowered, monkeypatch):
    """A matmul row names the operands as the caller passes them, their shapes, and BLAS or
    jitgrad's kernel as configured when the profile is taken."""
    monkeypatch.setattr(config, "matmul", "auto")
    monkeypatch.setattr(config, "threads", 1)  # (with more, "auto" never picks BLAS)
    _, prof = lowered.profiler.profile(*ARGS)  # "auto": these tiny products are BLAS's
    labels = [label for _, label, _ in prof.rows]
    assert "matmul g = c @ a + b  f64[5,4]@[4,3]  BLAS" in labels
    assert any(re.fullmatch(r"matmul \w+ = c\.T @ \w+  f64\[5,4\]@\[5,3\]  BLAS", label)
               for label in labels), labels
    matmuls = [s for s in lowered.steps if isinstance(s, MatmulStep)]
    assert len(matmuls) == 2
    for blas, word in ((True, "BLAS"), (False, "jitgrad matmul")):
        monkeypatch.setattr(config, "use_blas", lambda *shape, b=blas: b)
        assert [runtime._matmul_kind(s) for s in matmuls] == [word, word]


def test_off_by_default(monkeypatch, capsys):
    """Without JITGRAD_PROFILE the switch is off, the caller run has no timing code and a
    call prints nothing."""
    monkeypatch.delenv("JITGRAD_PROFILE", raising=False)
    assert not _Config().profile
    monkeypatch.setenv("JITGRAD_PROFILE", "1")
    assert _Config().profile
    assert not config.profile
    f = jg.jit(lambda x: jnp.sin(x) * 2.0)
    f(np.ones(3))
    compiled = f.lower(np.ones(3))
    assert "_clock" not in compiled.caller_source
    assert compiled.fn.__code__.co_filename == "<jitgrad program>"
    assert capsys.readouterr().err == ""


def test_medians_over_several_calls(lowered):
    """``calls`` profiled calls in a row (within ``budget`` seconds): each step's median, the
    glue's median, and the number of calls in the header."""
    _, one = lowered.profiler.profile(*ARGS)
    res, prof = lowered.profiler.profile(*ARGS, calls=3)
    assert prof.calls == 3 and "(medians of 3 calls)" in str(prof) and one.calls == 1
    assert [label for _, label, _ in prof.rows] == [label for _, label, _ in one.rows]
    assert prof.glue >= 0  # (the median of the calls' glues, each a whole call less its steps)
    assert lowered.profiler.profile(*ARGS, calls=3, budget=0.0)[1].calls == 1
    np.testing.assert_array_equal(res[0], lowered.fn(*ARGS)[0])


def test_on_prints_one_warm_call(monkeypatch, capsys):
    """Switched on before a program compiles: its first call prints one profile (medians of
    warm runs of the pure program after an untimed one) and returns the same values; later
    calls print nothing."""
    monkeypatch.setattr(config, "profile", True)
    f = jg.jit(jg.value_and_grad(program))
    first = f(*ARGS)
    err = capsys.readouterr().err
    assert err.count("jitgrad profile of run(") == 1 and re.search(r"^ +[\d.]+ +[\d.]+  K0 ", err,
                                                                   re.M)
    second = f(*ARGS)
    assert capsys.readouterr().err == ""
    expect = jg.value_and_grad(program)(*ARGS)
    np.testing.assert_allclose(first[0], expect[0], rtol=1e-12)
    np.testing.assert_allclose(first[1], expect[1], rtol=1e-12)
    np.testing.assert_array_equal(second[1], first[1])
