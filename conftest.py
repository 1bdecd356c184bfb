"""Test-suite set-up: typecheck every IR after every transform; numpy in every doctest."""

import numpy as np
import pytest

import jitgrad as jg

jg.config.check_ir = True


@pytest.fixture(autouse=True)
def _doctest_numpy(doctest_namespace):
    doctest_namespace["np"] = np
