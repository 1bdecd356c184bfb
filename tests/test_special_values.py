"""Special values, for every registered elementwise primitive (derived from the registry): NaN,
±Inf, ±0, subnormals, the largest finite numbers and each primitive's declared domain edges,
alone and in every pair, give the same results compiled as in the numpy reference — in values
and in forward-mode derivatives. Equal NaN patterns, equal infinities, equal signs of zero;
finite results equal (within a few ulp where the kernel's math is declared inexact)."""

import numpy as np
import pytest

import jitgrad as jg
from jitgrad.core import REGISTRY, Elementwise, aval_of, is_float

DTYPES = (np.float64, np.float32)


def special_values(dtype, prim) -> np.ndarray:
    fi = np.finfo(dtype)
    base = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, np.inf, -np.inf, np.nan, fi.max, -fi.max,
            fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal]
    edges = [v for e in prim.special_values for v in (e, -e)]
    with np.errstate(over="ignore"):
        vals = np.array(base + edges, np.float64).astype(dtype)
    return np.unique(vals[~np.isnan(vals)]).tolist() + [np.nan]


def elementwise_float_prims():
    out = []
    for name in sorted(REGISTRY):
        prim = REGISTRY[name]
        if not isinstance(prim.lowering, Elementwise):
            continue
        for dt in DTYPES:
            args, params = prim.test_cases(np.random.default_rng(0), dt)[0][:2]
            if any(is_float(aval_of(a).dtype) for a in args):
                out.append(pytest.param(name, dt, id=f"{name}-{np.dtype(dt).name}"))
    return out


def grid(prim, dt):
    """Every combination of special values for the float operands; other operands (boolean
    predicates) alternate."""
    args, params = prim.test_cases(np.random.default_rng(0), dt)[0][:2]
    floats = [i for i, a in enumerate(args) if is_float(aval_of(a).dtype)]
    vals = np.array(special_values(dt, prim), dt)
    mesh = np.meshgrid(*[vals] * len(floats), indexing="ij")
    size = mesh[0].size
    full = []
    for i, a in enumerate(args):
        if i in floats:
            full.append(mesh[floats.index(i)].ravel())
        else:
            full.append(np.resize(np.asarray(a).ravel(), size).astype(aval_of(a).dtype))
    return full, floats, params


def assert_special_equal(got, expected, ulps, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    if not is_float(expected.dtype):
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    nan_e, nan_g = np.isnan(expected), np.isnan(got)
    bad = nan_e != nan_g
    inf = np.isinf(expected) | np.isinf(got)
    bad |= inf & (got != expected) & ~nan_e
    zero = (expected == 0) & ~nan_g
    bad |= zero & (np.signbit(got) != np.signbit(expected))
    finite = np.isfinite(expected) & np.isfinite(got)
    with np.errstate(all="ignore"):
        diff = np.abs(got[finite] - expected[finite])
        tol = ulps * np.spacing(np.abs(expected[finite])) if ulps else 0
    bad[finite] |= diff > tol
    if bad.any():
        raise AssertionError(f"{what}: {bad.sum()} mismatches, e.g. got {got[bad][:6]} "
                             f"expected {expected[bad][:6]} at positions {np.nonzero(bad)[0][:6]}")


@pytest.mark.parametrize("name,dt", elementwise_float_prims())
def test_special_values_compiled_match_reference(name, dt):
    prim = REGISTRY[name]
    args, floats, params = grid(prim, dt)
    f = lambda *a: prim.bind(*a, **params)  # noqa: E731
    with np.errstate(all="ignore"):
        expected = prim.impl(*args, **params)
        got = jg.jit(f)(*args)
    where = [f"{prim.name}({', '.join(str(a[i]) for a in args)})" for i in range(3)]
    # Inexact kernels (vectorised math) are within a few ulp of numpy; the others exact.
    ulps = 4 if prim.lowering.inexact else 0
    assert_special_equal(got, expected, ulps, f"values, e.g. {where}")


@pytest.mark.parametrize("name,dt", [p for p in elementwise_float_prims()
                                     if REGISTRY[p.values[0]].differentiable])
def test_special_values_derivatives_compiled_match_reference(name, dt):
    """The derivative rules, evaluated at the special values, give the same results compiled
    as evaluated by numpy (the rules are elementwise programs too)."""
    prim = REGISTRY[name]
    args, floats, params = grid(prim, dt)

    def f(*xs):
        full = list(args)
        for i, x in zip(floats, xs, strict=True):
            full[i] = x
        return prim.bind(*full, **params)

    primals = tuple(args[i] for i in floats)
    tangents = tuple(np.ones_like(p) for p in primals)
    # With precise math the transcendental functions are numpy's own and nothing is contracted
    # into FMAs: what is left to differ is how kernels handle the special values. (Otherwise a
    # one-ulp difference in, say, tanh(3) becomes a hundred in 1 - tanh(3)**2.)
    jg.config.precise_math = True
    try:
        with np.errstate(all="ignore"):
            expected = jg.jvp(f, primals, tangents)[1]
            got = jg.jit(lambda p, t: jg.jvp(f, p, t)[1])(primals, tangents)
    finally:
        jg.config.precise_math = False
    # integer_pow's kernel multiplies (x*x*x) where numpy calls pow: a rounding or two apart.
    assert_special_equal(got, expected, 2, "derivatives")
