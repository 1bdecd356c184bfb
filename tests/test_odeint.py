"""jitgrad.scipy.integrate.odeint: solutions against closed forms and scipy (forward and
backward in time, float32), derivatives with respect to y0, t, args and closed-over values
against closed forms, finite differences and a fixed-step RK4 differentiated directly (both
modes, second order), jit against eager, vmap over initial conditions against a loop, and
the errors."""

import numpy as np
import pytest
import scipy.integrate as si

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.errors import ShapeError, TracerError, UnsupportedError
from jitgrad.scipy.integrate import odeint

TOL = dict(rtol=1e-10, atol=1e-10)
T = np.array([0.0, 0.5, 1.3, 2.0])


def decay(y, t, k):
    return -k * y


def oscillator(y, t, w):
    return jnp.stack([y[1], -w * w * y[0]])


def lotka_volterra(y, t, a, b, c, d):
    return jnp.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


LV_ARGS = (1.1, 0.4, 0.4, 0.1)
LV_Y0 = np.array([1.0, 0.5])
LV_T = np.linspace(0.0, 4.0, 5)


def test_exponential_decay_closed_form_both_directions_and_float32():
    y0 = np.array([1.0, -2.0, 0.5])
    got = odeint(decay, y0, T, (0.7,), **TOL)
    np.testing.assert_allclose(got, y0 * np.exp(-0.7 * T[:, None]), rtol=1e-9, atol=1e-12)
    back = odeint(decay, y0, -T, (0.7,), **TOL)  # t decreasing: integrates backwards
    np.testing.assert_allclose(back, y0 * np.exp(0.7 * T[:, None]), rtol=1e-9)
    # default tolerances are scipy's (1.49e-8)
    np.testing.assert_allclose(odeint(decay, y0, T, (0.7,)), got, rtol=1e-7)
    got32 = odeint(decay, y0.astype(np.float32), T.astype(np.float32), (np.float32(0.7),),
                   rtol=1e-6, atol=1e-6)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, y0 * np.exp(-0.7 * T[:, None]), rtol=1e-5, atol=1e-6)
    ints = odeint(lambda y, t: -y, np.array([1, 2]), np.array([0, 1]))  # integers: float64
    assert ints.dtype == np.float64
    np.testing.assert_allclose(ints[1], [np.exp(-1), 2 * np.exp(-1)], rtol=1e-7)


def test_harmonic_oscillator_and_tfirst():
    w = 2.0
    t = np.linspace(0.0, 10.0, 7)
    got = odeint(oscillator, np.array([1.0, 0.0]), t, (w,), **TOL)
    np.testing.assert_allclose(got, np.stack([np.cos(w * t), -w * np.sin(w * t)], 1),
                               atol=5e-9)
    flipped = odeint(lambda s, y, w: oscillator(y, s, w), np.array([1.0, 0.0]), t, (w,),
                     tfirst=True, **TOL)
    np.testing.assert_array_equal(flipped, got)


def test_parameterised_system_matches_scipy():
    got = odeint(lotka_volterra, LV_Y0, LV_T, LV_ARGS, **TOL)
    ref = si.odeint(lambda y, t, *a: np.asarray(lotka_volterra(y, t, *a)), LV_Y0, LV_T, LV_ARGS,
                    rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-8)
    # a time-dependent right-hand side, one output time equal to the start; NB: a 0-d y0
    # gives one value per time (scipy's has a trailing axis of 1: it flattens y0)
    forced = odeint(lambda y, t: jnp.cos(t) - y, 0.0, np.array([0.0, 0.0, 1.0, 3.0]), **TOL)
    ref = si.odeint(lambda y, t: np.cos(t) - y, 0.0, [0.0, 0.0, 1.0, 3.0], rtol=1e-12,
                    atol=1e-12)
    np.testing.assert_allclose(forced, ref[:, 0], rtol=1e-8, atol=1e-12)


def test_decay_derivatives_closed_form():
    """y(t) = y0 exp(-k (t - t0)): d/dy0, d/dk, d/dt (each output time) and d/dt0."""
    y0, k = 1.5, 0.7

    def last(y0, t, k):
        return odeint(decay, y0, t, (k,), **TOL)[-1]

    g_y0, g_t, g_k = jg.grad(last, argnums=(0, 1, 2))(y0, T, k)
    end = y0 * np.exp(-k * T[-1])
    np.testing.assert_allclose(g_y0, np.exp(-k * T[-1]), rtol=1e-8)
    np.testing.assert_allclose(g_k, -T[-1] * end, rtol=1e-8)
    np.testing.assert_allclose(g_t, [k * end, 0.0, 0.0, -k * end], rtol=1e-8, atol=1e-12)
    # forward mode agrees
    _, t_k = jg.jvp(lambda k: last(y0, T, k), (k,), (1.0,))
    np.testing.assert_allclose(t_k, -T[-1] * end, rtol=1e-8)
    # a closed-over traced value is differentiated like an argument
    g_c = jg.grad(lambda k: odeint(lambda y, t: -k * y, y0, T, **TOL)[-1])(k)
    np.testing.assert_allclose(g_c, -T[-1] * end, rtol=1e-8)


def test_derivatives_match_finite_differences_both_modes():
    """jvp against central differences and vjp against jvp, with respect to y0, every output
    time and every parameter of a nonlinear system."""

    def f(y0, t, a, b):
        return odeint(lotka_volterra, y0, t, (a, b, 0.4, 0.1), **TOL)

    jg.check_grads(f, (LV_Y0, LV_T[:3], 1.1, 0.4), order=1, atol=1e-5, rtol=1e-5)


def test_second_order_derivatives():
    """The rules integrate through odeint itself, so derivatives of derivatives work: the
    second derivative of the decay in k, reverse over reverse and forward over reverse."""
    k, t1 = 0.7, 1.3

    def end(k):
        return odeint(decay, 1.0, np.array([0.0, t1]), (k,), **TOL)[-1]

    expected = t1 * t1 * np.exp(-k * t1)
    np.testing.assert_allclose(jg.grad(jg.grad(end))(k), expected, rtol=1e-7)
    np.testing.assert_allclose(jg.jvp(jg.grad(end), (k,), (1.0,))[1], expected, rtol=1e-7)


def rk4(func, y0, t, args, steps):
    """A fixed-step RK4 written with jnp: differentiated directly (not by the adjoint)."""
    ys, y = [y0], y0
    for t0, t1 in zip(t[:-1], t[1:], strict=True):
        h = (t1 - t0) / steps
        s = t0
        for _ in range(steps):
            k1 = func(y, s, *args)
            k2 = func(y + h / 2 * k1, s + h / 2, *args)
            k3 = func(y + h / 2 * k2, s + h / 2, *args)
            k4 = func(y + h * k3, s + h, *args)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            s = s + h
        ys.append(y)
    return jnp.stack(ys)


def test_adjoint_gradient_matches_differentiated_rk4():
    w = np.random.default_rng(0).standard_normal((3, 2))  # a weighting of the outputs

    def loss(solver, y0, args):
        return jnp.sum(w * solver(lotka_volterra, y0, LV_T[:3], args))

    adjoint = jg.grad(lambda y0, a: loss(lambda *s: odeint(*s, **TOL), y0, a), argnums=(0, 1))
    direct = jg.grad(lambda y0, a: loss(lambda *s: rk4(*s, steps=25), y0, a), argnums=(0, 1))
    for got, ref in zip(adjoint(LV_Y0, LV_ARGS), direct(LV_Y0, LV_ARGS), strict=True):
        # RK4's own error at h = 0.04 is ~1e-6 relative
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-8)


def test_jit_matches_eager():
    args = (np.array([1.0, 2.0]), T, 0.7)

    def f(y0, t, k):
        return odeint(decay, y0, t, (k,), **TOL)

    np.testing.assert_allclose(jg.jit(f)(*args), f(*args), rtol=1e-13)
    vg = jg.value_and_grad(lambda y0, t, k: jnp.sum(f(y0, t, k)), argnums=(0, 1, 2))
    got, ref = jg.jit(vg)(*args), vg(*args)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-13)
    for g, r in zip(got[1], ref[1], strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


def test_vmap_over_initial_conditions_matches_loop():
    y0s = np.array([[1.0, 0.5], [2.0, 1.0], [0.5, 2.0]])
    got = jg.vmap(lambda y0: odeint(lotka_volterra, y0, LV_T, LV_ARGS, **TOL))(y0s)
    ref = np.stack([odeint(lotka_volterra, y0, LV_T, LV_ARGS, **TOL) for y0 in y0s])
    np.testing.assert_allclose(got, ref, rtol=1e-8)
    # and the gradients of each trajectory's end point (a shorter span)
    def end(y0):
        return jnp.sum(odeint(lotka_volterra, y0, LV_T[:2] / 4, LV_ARGS, **TOL)[-1])

    grads = jg.vmap(jg.grad(end))(y0s[:2])
    np.testing.assert_allclose(grads, np.stack([jg.grad(end)(y0) for y0 in y0s[:2]]),
                               rtol=1e-7)


def test_failure_gives_nan_rows_and_errors_are_clear():
    # too few steps allowed for a stiff problem: the rows from the failure on are nan
    stiff = odeint(lambda y, t: -1e4 * (y - jnp.cos(t)), 1.0, np.array([0.0, 1e-4, 10.0]),
                   mxstep=20)
    assert np.isfinite(stiff[:2]).all() and np.isnan(stiff[2]).all()
    # t not monotonic
    assert np.isnan(odeint(decay, 1.0, np.array([0.0, 2.0, 1.0]), (1.0,))[1:]).all()
    with pytest.raises(UnsupportedError, match="Dfun"):
        odeint(decay, 1.0, T, (1.0,), Dfun=lambda y, t, k: -k)
    with pytest.raises(ShapeError, match="func returned an array of shape"):
        odeint(lambda y, t: jnp.ones(3), np.ones(2), T)
    with pytest.raises(ShapeError, match="non-empty 1-D"):
        odeint(decay, 1.0, np.ones((2, 2)), (1.0,))
    with pytest.raises(ShapeError, match="rtol of shape"):
        odeint(decay, np.ones(2), T, (1.0,), rtol=np.ones(3))
    with pytest.raises(TracerError, match="rtol must be concrete"):
        jg.jit(lambda r: odeint(decay, 1.0, T, (1.0,), rtol=r))(1e-6)
