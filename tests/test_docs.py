"""Every public function carries a runnable example in its docstring (the doctests run with
the suite, through pytest's --doctest-modules)."""

import inspect

import pytest

import jitgrad
import jitgrad.ad_checkpoint
import jitgrad.debug
import jitgrad.devices
import jitgrad.example_libraries.optimizers
import jitgrad.example_libraries.stax
import jitgrad.flatten_util
import jitgrad.lax
import jitgrad.misc
import jitgrad.misc.optimizers
import jitgrad.nn
import jitgrad.nn.initializers
import jitgrad.numpy as jnp
import jitgrad.random
import jitgrad.scipy.signal
import jitgrad.tree
import jitgrad.tree_util

MODULES = [jitgrad, jnp, jnp.linalg, jitgrad.nn, jitgrad.lax, jitgrad.tree_util,
           jitgrad.flatten_util, jitgrad.example_libraries.optimizers, jitgrad.misc.optimizers,
           jitgrad.scipy.signal, jitgrad.example_libraries.stax, jitgrad.misc,
           jitgrad.random, jitgrad.nn.initializers, jitgrad.tree, jitgrad.debug,
           jitgrad.devices, jitgrad.ad_checkpoint]


def public_functions():
    """Functions of jitgrad's public modules (and the decorator classes used as functions)."""
    for module in MODULES:
        names = getattr(module, "__all__", None) or [n for n in dir(module)
                                                     if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name, None)
            wanted = inspect.isroutine(obj) or name in ("custom_vjp", "custom_jvp")
            if wanted and str(getattr(obj, "__module__", "")).startswith("jitgrad"):
                yield pytest.param(obj, id=f"{module.__name__}.{name}")


@pytest.mark.parametrize("fn", list(public_functions()))
def test_public_function_has_a_runnable_example(fn):
    assert ">>>" in (inspect.getdoc(fn) or ""), f"{fn} has no example in its docstring"


def test_readme_commands_match_ci():
    import pathlib
    root = pathlib.Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    command = "pip install -e '.[test]' && python -m pytest"
    assert command in readme and command in ci
    assert "pip install -e . && python examples/quickstart.py" in readme
