"""Test-suite set-up: typecheck every IR after every transform; compile before the first call
returns (the numpy reference is the oracle the compiled code is compared with, so a test of
jit against eager must run compiled code; tests/test_tiered.py tests background compiles in
subprocesses, which set JITGRAD_COMPILE themselves); numpy in every doctest."""

import os

import numpy as np
import pytest

import jitgrad as jg

os.environ["JITGRAD_COMPILE"] = "blocking"  # and in the suite's subprocesses

jg.config.check_ir = True
jg.config.compile = "blocking"


@pytest.fixture(autouse=True)
def _doctest_numpy(doctest_namespace):
    doctest_namespace["np"] = np


class NativeSplits(list):
    """The results of the native row splits run (the list), and ``made``: the transpose
    flags of each split made (by matmul.static_split, as a program's product runner makes
    them)."""

    def __init__(self):
        super().__init__()
        self.made = []


@pytest.fixture
def native_splits(monkeypatch):
    """A NativeSplits of every native row split made and run from now on."""
    from jitgrad.backend.kernels import matmul as mm
    splits = NativeSplits()
    real = mm.static_split

    def spy(*made):
        splits.made.append(made[1:3])
        split = real(*made)
        return lambda *args, **kw: splits.append(split(*args, **kw)) or splits[-1]

    monkeypatch.setattr(mm, "static_split", spy)
    return splits
