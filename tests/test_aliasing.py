"""A jitted function's results never share memory with its arguments, its constants or each
other (as in JAX, whose results are fresh buffers): mutating one changes nothing else, and
the next call returns the same values."""

import numpy as np
import pytest

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import lax

CONST = np.arange(3.0)

PROGRAMS = {  # every way a result can reach an argument, a constant or another result
    "identity": lambda x: x,
    "pair of one argument": lambda x: (x, x),
    "reshape of an argument": lambda x: x.reshape(6),
    "chain of reshapes": lambda x: x.reshape(3, 2).reshape(6),
    "no-op conversion": lambda x: x.astype(x.dtype),
    "adding zero": lambda x: x + 0,
    "closed-over constant": lambda x: CONST,
    "reshape of a constant": lambda x: CONST.reshape(3, 1),
    "python literal": lambda x: 1.5,
    "one result twice": lambda x: (lambda y: (y, y))(x * 2),
    "a result and its reshape": lambda x: (lambda y: (y, y.reshape(6)))(x * 2),
    "a reshape and its result": lambda x: (lambda y: (y.reshape(6), y))(x * 2),
    "equal expressions": lambda x: (x * 2, x * 2),
    "host step returning its operand": lambda x: lax.while_loop(lambda v: v[0, 0] > 1e9,
                                                                lambda v: v * 2, x),
    "loop body returning its operand": lambda x: lax.fori_loop(0, 3, lambda i, v: v, x),
    "gradient that is a constant": jg.grad(lambda x: jnp.sum(x * CONST)),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_results_never_alias_arguments_constants_or_each_other(name):
    f = jg.jit(PROGRAMS[name])
    x = np.arange(6.0).reshape(2, 3)
    x_before, const_before = x.copy(), CONST.copy()
    first = f(x)
    results = first if isinstance(first, tuple) else (first,)
    expected = [np.array(r) for r in results]
    for i, r in enumerate(results):
        assert isinstance(r, np.ndarray)
        assert not np.shares_memory(r, x) and not np.shares_memory(r, CONST)
        assert not any(np.shares_memory(r, s) for s in results[:i])
        r[...] = -7  # the caller owns its results
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(CONST, const_before)
    again = f(x)
    for r, e in zip(again if isinstance(again, tuple) else (again,), expected, strict=True):
        np.testing.assert_array_equal(r, e)
