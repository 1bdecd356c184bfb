"""Test-suite set-up: typecheck every IR after every transform; compile before the first call
returns (the numpy reference is the oracle the compiled code is compared with, so a test of
jit against eager must run compiled code; tests/test_tiered.py tests background compiles in
subprocesses); numpy in every doctest."""

import numpy as np
import pytest

import jitgrad as jg

jg.config.check_ir = True
jg.config.compile = "blocking"


@pytest.fixture(autouse=True)
def _doctest_numpy(doctest_namespace):
    doctest_namespace["np"] = np
