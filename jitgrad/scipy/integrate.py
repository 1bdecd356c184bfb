"""jitgrad.scipy.integrate: ``odeint``, adaptive Dormand–Prince integration of ODEs,
differentiable in reverse mode (adjoint equation) and forward mode (variational equation),
under ``jit`` and ``vmap``.

The solver is the explicit Runge–Kutta pair of Dormand & Prince (1980), 5th order with a 4th
order error estimate, local extrapolation and FSAL, with Hairer's step-size controller and
initial step (Hairer, Nørsett & Wanner, *Solving ODEs I*, II.4 and II.5) and its dense output
(ibid. II.6) to read the solution at the requested times between steps. Its loop is a
``lax.while_loop`` (one per output interval, in a ``lax.scan``), so ``jit`` compiles a step.

Derivatives are not those of the discrete solver but of the ODE solution, each computed by
integrating another ODE with the same tolerances (so they agree with finite differences and
with each other to about the tolerances):
* reverse mode (``custom_vjp``): the adjoint equation integrated backwards from output to output
  (Pontryagin; Chen et al. 2018, "Neural ordinary differential equations"), with ``y``
  reconstructed backwards from each stored output;
* forward mode: the variational (tangent) equation integrated alongside ``y``
  (Hairer et al. I.14).
Both integrate through ``odeint`` itself, so derivatives of any order and in any mode
combination work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jitgrad.numpy as jnp
from jitgrad import lax
from jitgrad.api import vjp, vmap
from jitgrad.core import IR, Tracer, Zero, aval_of, eval_ir, is_float
from jitgrad.custom_derivatives import custom_jvp, custom_vjp
from jitgrad.errors import JitgradTypeError, ShapeError, TracerError, UnsupportedError
from jitgrad.subprogram import trace_closed
from jitgrad.transforms.jvp import jvp_flat
from jitgrad.tree_util import tree_flatten, tree_unflatten

__all__ = ["odeint"]

# Dormand–Prince 5(4): nodes, stages, 5th-order weights, error weights (5th minus 4th order)
# and the dense-output weights of Hairer's DOPRI5 code.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_A = ((),
      (1 / 5,),
      (3 / 40, 9 / 40),
      (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656))
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
_D = (-12715105075 / 11282082432, 0.0, 87487479700 / 32700410799,
      -10690763975 / 1880347072, 701980252875 / 199316789632, -1453857185 / 822651844,
      69997945 / 29380423)

_SCIPY_TOL = 1.49012e-8  # scipy.integrate.odeint's default rtol and atol
_SCIPY_MXSTEP = 500  # scipy's default: steps per output interval


class _Problem:
    """The right-hand side as a closed IR ``(consts..., y..., t, params...) -> dy...`` and the
    solver's options: the static part of one ``odeint`` call."""

    def __init__(self, ir: IR, n_consts: int, n_state: int, rtol: Any, atol: Any,
                 mxstep: int, h0: float, hmax: float):
        self.ir, self.n_consts, self.n_state = ir, n_consts, n_state
        self.rtol, self.atol, self.mxstep, self.h0, self.hmax = rtol, atol, mxstep, h0, hmax

    def rhs(self, y: Sequence[Any], t: Any, params: Sequence[Any]) -> tuple[Any, ...]:
        nc = self.n_consts
        return tuple(eval_ir(self.ir, *params[:nc], *y, t, *params[nc:]))

    def options(self) -> tuple:
        return self.rtol, self.atol, self.mxstep, self.h0, self.hmax


def _lincomb(y: Sequence[Any], h: Any, coeffs: Sequence[float], ks: Sequence[Sequence[Any]]
             ) -> tuple[Any, ...]:
    """``y + h * sum_j coeffs[j] * ks[j]`` per state leaf, in the leaf's dtype."""
    out = []
    for i, yi in enumerate(y):
        acc = None
        for c, k in zip(coeffs, ks, strict=False):
            if c != 0.0:
                acc = c * k[i] if acc is None else acc + c * k[i]
        step = yi if acc is None else yi + h * acc
        out.append(jnp.astype(step, aval_of(yi).dtype))
    return tuple(out)


def _rms(xs: Sequence[Any]) -> Any:
    total = sum(int(np.prod(aval_of(x).shape)) for x in xs)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in xs) / max(total, 1))


def _scaled(v: Sequence[Any], y: Sequence[Any], y1: Sequence[Any], rtol: Any, atol: Any
            ) -> list[Any]:
    """``v / (atol + rtol * max(|y|, |y1|))`` per leaf (Hairer's error scale)."""
    return [vi / (atol + rtol * jnp.maximum(jnp.abs(yi), jnp.abs(y1i)))
            for vi, yi, y1i in zip(v, y, y1, strict=True)]


def _initial_step(f: Callable, y0: Sequence[Any], t0: Any, f0: Sequence[Any], rtol: Any,
                  atol: Any) -> Any:
    """Hairer's starting step size (Solving ODEs I, II.4): a step whose explicit Euler error
    would be about the tolerance."""
    d0 = _rms(_scaled(y0, y0, y0, rtol, atol))
    d1 = _rms(_scaled(f0, y0, y0, rtol, atol))
    small = jnp.logical_or(d0 < 1e-5, d1 < 1e-5)
    h = jnp.where(small, 1e-6, 0.01 * d0 / jnp.where(d1 > 0, d1, 1.0))
    y1 = _lincomb(y0, h, (1.0,), (f0,))
    f1 = f(y1, t0 + h)
    d2 = _rms(_scaled([a - b for a, b in zip(f1, f0, strict=True)], y0, y0, rtol, atol)) / h
    big = jnp.maximum(d1, d2)
    h1 = jnp.where(big <= 1e-15, jnp.maximum(1e-6, h * 1e-3),
                   (0.01 / jnp.where(big > 0, big, 1.0)) ** 0.2)
    return jnp.minimum(100 * h, h1)


def _step(f: Callable, y: tuple, fy: tuple, t: Any, h: Any, rtol: Any, atol: Any
          ) -> tuple[tuple, tuple, Any, tuple]:
    """One Dormand–Prince step: the new state and its derivative (FSAL), the scaled RMS error
    and the dense-output coefficients of the step."""
    ks = [fy]
    for s in range(1, 6):
        ks.append(f(_lincomb(y, h, _A[s], ks), t + _C[s] * h))
    y1 = _lincomb(y, h, _B, ks)
    ks.append(f(y1, t + h))
    err = _lincomb([jnp.zeros_like(k) for k in fy], h, _E, ks)
    ratio = _rms(_scaled(err, y, y1, rtol, atol))
    # Hairer's DOPRI5 dense output: y(t + th h) = r0 + th (r1 + (1-th)(r2 + th (r3 + (1-th) r4)))
    dense = []
    for i, (y0i, y1i) in enumerate(zip(y, y1, strict=True)):
        diff = y1i - y0i
        bspl = h * ks[0][i] - diff
        r4 = h * sum(d * k[i] for d, k in zip(_D, ks, strict=True) if d != 0.0)
        dense.append((y0i, diff, bspl, diff - h * ks[6][i] - bspl, r4))
    return y1, tuple(ks[6]), ratio, tuple(dense)


def _interpolate(dense: tuple, theta: Any) -> tuple[Any, ...]:
    one_m = 1 - theta
    return tuple(jnp.astype(r0 + theta * (r1 + one_m * (r2 + theta * (r3 + one_m * r4))),
                            aval_of(r0).dtype)
                 for r0, r1, r2, r3, r4 in dense)


def _solve(prob: _Problem, y0: tuple, t: Any, params: tuple) -> tuple[Any, ...]:
    """The solution at each time of ``t`` (monotonic, either direction): one array per state
    leaf, stacked over ``t``; NaN from where the solver failed (more than ``mxstep`` steps in
    one interval, a step size below rounding, or ``t`` not monotonic)."""
    rtol, atol, mxstep, h0, hmax = prob.options()
    # Integrate in tau = sign * t, forward in tau whichever way t runs.
    sign = jnp.where(t[-1] >= t[0], 1.0, -1.0).astype(t.dtype)
    tau = sign * t

    def f(y: Sequence[Any], s: Any) -> tuple[Any, ...]:
        return tuple(jnp.astype(sign * d, aval_of(yi).dtype)
                     for d, yi in zip(prob.rhs(y, sign * s, params), y, strict=True))

    f0 = f(y0, tau[0])
    h = _initial_step(f, y0, tau[0], f0, rtol, atol) if h0 <= 0 else jnp.asarray(h0, t.dtype)
    h = jnp.astype(h, t.dtype)
    if hmax > 0:
        h = jnp.minimum(h, hmax)
    zero = tuple(jnp.zeros_like(yi) for yi in y0)
    dense = tuple((yi, z, z, z, z) for yi, z in zip(y0, zero, strict=True))
    ok = jnp.sum(tau[1:] < tau[:-1]) == 0
    tiny = 16 * np.finfo(aval_of(t).dtype).eps

    def interval(carry: tuple, target: Any) -> tuple[tuple, tuple]:
        def going(c: tuple) -> Any:
            n, _, _, s, _, _, _, fine = c
            return jnp.logical_and(jnp.logical_and(s < target, n < mxstep), fine)

        def attempt(c: tuple) -> tuple:
            n, y, fy, s, s_prev, h, dense, fine = c
            y1, f1, ratio, new_dense = _step(f, y, fy, s, h, rtol, atol)
            accept = ratio <= 1.0
            # Hairer's controller: h * clip(0.9 err^(-1/5), 0.2, 10), no growth after a
            # rejection; a non-finite error rejects and shrinks the step.
            finite = ratio == ratio
            safe = jnp.where(jnp.logical_and(finite, ratio > 0), ratio, 1.0)
            factor = jnp.where(ratio > 0, jnp.clip(0.9 * safe ** -0.2, 0.2, 10.0), 10.0)
            factor = jnp.where(finite, jnp.where(accept, factor, jnp.minimum(factor, 1.0)),
                               0.2)
            h_new = h * factor
            if hmax > 0:
                h_new = jnp.minimum(h_new, hmax)
            fine = jnp.logical_and(fine, h_new > tiny * jnp.maximum(jnp.abs(s), 1.0))

            def pick(new: Any, old: Any) -> Any:
                return jnp.where(accept, new, old)

            y = tuple(map(pick, y1, y))
            fy = tuple(map(pick, f1, fy))
            dense = tuple(tuple(map(pick, nd, od)) for nd, od in zip(new_dense, dense,
                                                                      strict=True))
            s_prev = jnp.where(accept, s, s_prev)
            s = jnp.where(accept, s + h, s)
            return n + 1, y, fy, s, s_prev, jnp.astype(h_new, aval_of(h).dtype), dense, fine

        n, y, fy, s, s_prev, h, dense, fine = lax.while_loop(
            going, attempt, (np.int64(0),) + carry)
        fine = jnp.logical_and(fine, s >= target)
        span = s - s_prev
        theta = jnp.where(span > 0, (target - s_prev) / jnp.where(span > 0, span, 1.0), 1.0)
        out = tuple(jnp.where(fine, v, jnp.nan) for v in _interpolate(dense, theta))
        return (y, fy, s, s_prev, h, dense, fine), out

    init = (y0, f0, tau[0], tau[0], h, dense, ok)
    _, ys = lax.scan(interval, init, tau[1:])
    return tuple(jnp.concatenate([y[None], yt]) for y, yt in zip(y0, ys, strict=True))


def _integrate(f: Callable[..., tuple], y0: tuple, t: Any, params: tuple, options: tuple
               ) -> tuple[Any, ...]:
    """Solve ``dy/dt = f(y, t, *params)`` (``y`` a tuple of arrays) at the times ``t``, with
    derivatives in both modes: ``f`` becomes a closed IR whose captured traced values join
    ``params``, so that they are differentiated like the explicit parameters."""
    n = len(y0)
    avals = [aval_of(y) for y in y0] + [aval_of(t[0])] + [aval_of(p) for p in params]

    def flat(*a: Any) -> list[Any]:
        return list(f(tuple(a[:n]), a[n], *a[n + 1:]))

    ir, consts = trace_closed(flat, avals)
    prob = _Problem(ir, len(consts), n, *options)
    return _solver(prob)(tuple(y0), t, tuple(consts) + tuple(params))


def _float_mask(xs: Sequence[Any]) -> list[bool]:
    return [is_float(aval_of(x).dtype) for x in xs]


def _along_t(fs: Sequence[Any], ct: Any) -> tuple[Any, ...]:
    """Each stacked leaf (leading axis = time) scaled by the per-time factor ``ct``."""
    return tuple(f * jnp.reshape(ct, aval_of(ct).shape + (1,) * (aval_of(f).ndim - 1))
                 for f in fs)


def _solver(prob: _Problem) -> Callable[..., tuple]:
    """``solve(y0, t, params)`` for one problem: the Dormand–Prince solution, its forward-mode
    rule (the variational equation) and its reverse-mode rule (the adjoint equation)."""
    n = prob.n_state

    def rhs_at(ys: tuple, t: Any, params: tuple) -> tuple:
        """The right-hand side at every output (time axis first)."""
        return vmap(lambda y, s: prob.rhs(y, s, params))(ys, t)

    @custom_jvp
    def solve(y0: tuple, t: Any, params: tuple) -> tuple:
        return _solve(prob, y0, t, params)

    @solve.defjvp
    def solve_jvp(primals: tuple, tangents: tuple) -> tuple:
        # u = dy/d(inputs) . tangents solves u' = J_y f u + J_p f t_p, u(t0) = t_y0 - f0 t_t0;
        # moving an output time t_i adds f(y_i, t_i) t_ti.
        y0, t, params = primals
        t_y0, t_t, t_params = tangents
        fl = _float_mask(params)
        t_fp = tuple(tp for tp, f in zip(t_params, fl, strict=True) if f)
        np_ = len(params)

        def variational(state: tuple, s: Any, *ps: Any) -> tuple:
            y, u = state[:n], state[n:]
            base, t_fp = ps[:np_], iter(ps[np_:])
            t_all = [next(t_fp) if f else Zero(aval_of(p)) for p, f in zip(base, fl,
                                                                            strict=True)]
            dy, du = jvp_flat(lambda *a: list(prob.rhs(a[:n], s, a[n:])),
                              list(y) + list(base), list(u) + t_all)
            du = [jnp.zeros_like(d) if isinstance(t, Zero) else t for d, t in zip(dy, du,
                                                                                 strict=True)]
            return tuple(dy) + tuple(du)

        f0 = prob.rhs(y0, t[0], params)
        u0 = tuple(ty - f * t_t[0] for ty, f in zip(t_y0, f0, strict=True))
        out = _integrate(variational, tuple(y0) + u0, t, tuple(params) + t_fp, prob.options())
        # The tangents take the joint solve; the values are those of the plain one, so that
        # they do not depend on the tangents (the joint solve's steps do). Both are calls of
        # the reverse-differentiable solver, so reverse mode over forward mode works too.
        ys = solver(y0, t, params)
        moved = _along_t(rhs_at(ys, t, params), t_t)
        return ys, tuple(u + m for u, m in zip(out[n:], moved, strict=True))

    def fwd(y0: tuple, t: Any, params: tuple) -> tuple:
        # Through the custom_vjp itself, so that differentiating the forward pass again (a
        # second reverse pass) uses the adjoint rule as well.
        ys = solver(y0, t, params)
        return ys, (ys, t, params)

    def bwd(res: tuple, g: tuple) -> tuple:
        # The adjoint a(t) = dL/dy(t) solves a' = -a J_y f backwards from each output to the
        # previous one (jumping by the output's cotangent there), while the parameters'
        # cotangent accumulates -a J_p f dt and y is integrated backwards alongside.
        ys, t, params = res
        fl = _float_mask(params)
        np_ = len(params)

        def adjoint(state: tuple, s: Any, *ps: Any) -> tuple:
            y, a = state[:n], state[n:2 * n]
            base = list(ps[:np_])
            fp = [p for p, f in zip(base, fl, strict=True) if f]

            def rhs(y: tuple, fp: list) -> tuple:
                it = iter(fp)
                return prob.rhs(y, -s, [next(it) if f else p for p, f in zip(base, fl,
                                                                              strict=True)])

            dy, pull = vjp(rhs, y, fp)
            y_bar, p_bar = pull(a)
            return tuple(-d for d in dy) + tuple(y_bar) + tuple(p_bar)

        fp0 = tuple(jnp.zeros_like(p) for p, f in zip(params, fl, strict=True) if f)

        def back(carry: tuple, x: tuple) -> tuple:
            a, p_bar = carry
            y_i, t_i, t_prev, g_prev = x
            times = jnp.stack([-t_i, -t_prev])
            state = _integrate(adjoint, tuple(y_i) + tuple(a) + tuple(p_bar), times, params,
                               prob.options())
            end = [s[-1] for s in state]
            a = tuple(e + gp for e, gp in zip(end[n:2 * n], g_prev, strict=True))
            return (a, tuple(end[2 * n:])), None

        last = tuple(gi[-1] for gi in g)
        xs = (tuple(y[1:] for y in ys), t[1:], t[:-1], tuple(gi[:-1] for gi in g))
        (a, p_bar), _ = lax.scan(back, (last, fp0), xs, reverse=True)
        fs = rhs_at(ys, t, params)
        t_bar = sum(jnp.sum(jnp.reshape(gi * fi, (aval_of(t).shape[0], -1)), axis=1)
                    for gi, fi in zip(g, fs, strict=True))
        # The start time moves the whole trajectory: dL/dt0 = -a(t0+) . f(y0, t0).
        t0_bar = -sum(jnp.sum((ai - gi[0]) * fi[0]) for ai, gi, fi in zip(a, g, fs,
                                                                          strict=True))
        t_bar = jnp.concatenate([jnp.reshape(t0_bar, (1,)), t_bar[1:]])
        it = iter(p_bar)
        return tuple(a), t_bar, tuple(next(it) if f else None for f in fl)

    solver = custom_vjp(solve)
    solver.defvjp(fwd, bwd)
    return solver


def _static(name: str, value: Any) -> Any:
    if isinstance(value, Tracer):
        raise TracerError(f"odeint: {name} must be concrete (it steers the solver), not a "
                          f"traced value; pass it as a Python number or numpy array")
    return value


def _fits(small: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Whether an array of shape ``small`` broadcasts to ``shape`` (a tolerance to y0's)."""
    try:
        return np.broadcast_shapes(small, shape) == shape
    except ValueError:
        return False


_UNSUPPORTED = {"Dfun": None, "col_deriv": 0, "full_output": 0, "ml": None, "mu": None,
                "tcrit": None, "hmin": 0.0, "ixpr": 0, "mxhnil": 0, "mxordn": 12,
                "mxords": 5, "printmessg": 0}


def odeint(func: Callable[..., Any], y0: Any, t: Any, args: Any = (), Dfun: Any = None,  # noqa: N803
           col_deriv: int = 0, full_output: int = 0, ml: Any = None, mu: Any = None,
           rtol: Any = None, atol: Any = None, tcrit: Any = None, h0: float = 0.0,
           hmax: float = 0.0, hmin: float = 0.0, ixpr: int = 0, mxstep: int = 0,
           mxhnil: int = 0, mxordn: int = 12, mxords: int = 5, printmessg: int = 0,
           tfirst: bool = False) -> Any:
    """``scipy.integrate.odeint``: solve ``dy/dt = func(y, t, *args)`` from ``y(t[0]) = y0``
    and return ``y`` at each time of ``t`` (rows), with an adaptive Dormand–Prince 5(4)
    method (scipy uses LSODA). Differentiable with respect to ``y0``, ``t``, ``args`` and
    any traced value ``func`` closes over, in reverse mode (adjoint equation) and forward
    mode (variational equation); works under ``jit`` and ``vmap``.

    ``rtol``/``atol`` (default 1.49012e-8, as scipy; scalars or arrays like ``y0``) bound the
    local error of each step; ``mxstep`` (default 500) the steps per output interval;
    ``h0`` the first step and ``hmax`` the largest (0: automatic, as scipy); ``tfirst``
    calls ``func(t, y, *args)``. ``t`` must be monotonic (increasing or decreasing). Where
    the solver fails (more than ``mxstep`` steps, a step size below rounding, a ``t`` that
    is not monotonic) the remaining rows are NaN.

    >>> import math, jitgrad as jg
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> odeint(lambda y, t, k: -k * y, np.array([1.0, 2.0]), t, args=(0.5,))
    array([[1.        , 2.        ],
           [0.60653066, 1.21306132],
           [0.36787944, 0.73575889]])
    >>> g = jg.grad(lambda k: odeint(lambda y, t: -k * y, 1.0, t)[-1])(0.5)
    >>> round(float(g), 7), round(-2 * math.exp(-1.0), 7)  # d/dk exp(-2k) at k = 1/2
    (-0.7357589, -0.7357589)
    """
    given = dict(Dfun=Dfun, col_deriv=col_deriv, full_output=full_output, ml=ml, mu=mu,
                 tcrit=tcrit, hmin=hmin, ixpr=ixpr, mxhnil=mxhnil, mxordn=mxordn,
                 mxords=mxords, printmessg=printmessg)
    for name, value in given.items():
        if not (value is _UNSUPPORTED[name] or (_UNSUPPORTED[name] is not None and
                                                 value == _UNSUPPORTED[name])):
            raise UnsupportedError(f"odeint: {name}= is an LSODA option of scipy's solver; "
                                   f"jitgrad's Dormand–Prince solver does not take it")
    if not isinstance(args, tuple):
        args = (args,)
    y0 = jnp.asarray(y0)
    t = jnp.asarray(t)
    dtype = jnp.result_type(y0, t)
    dtype = dtype if is_float(dtype) else np.dtype(np.float64)
    y0, t = jnp.astype(y0, dtype), jnp.astype(t, dtype)
    if aval_of(t).ndim != 1 or aval_of(t).shape[0] == 0:
        raise ShapeError(f"odeint: t must be a non-empty 1-D array of times, got shape "
                         f"{aval_of(t).shape}")
    shape = aval_of(y0).shape
    tols = []
    for name, tol in (("rtol", rtol), ("atol", atol)):
        tol = np.asarray(_SCIPY_TOL if tol is None else _static(name, tol), dtype)
        if tol.ndim and not _fits(tol.shape, shape):
            raise ShapeError(f"odeint: {name} of shape {tol.shape} does not fit y0 of shape "
                             f"{shape}")
        tols.append(tol)
    mxstep = int(_static("mxstep", mxstep)) or _SCIPY_MXSTEP
    options = (*tols, mxstep, float(_static("h0", h0)), float(_static("hmax", hmax)))
    leaves, tree = tree_flatten(args)
    leaves = [x if isinstance(x, Tracer) else np.asarray(x) for x in leaves]

    def f(state: tuple, s: Any, *params: Any) -> tuple:
        a = tree_unflatten(tree, params)
        out = jnp.asarray(func(s, state[0], *a) if tfirst else func(state[0], s, *a))
        if aval_of(out).shape != shape:
            raise ShapeError(f"odeint: func returned an array of shape {aval_of(out).shape} "
                             f"for a state y0 of shape {shape}; it must return dy/dt, shaped "
                             f"like y0")
        if not (is_float(aval_of(out).dtype) or aval_of(out).dtype.kind in "biu"):
            raise JitgradTypeError(f"odeint: func returned dtype {aval_of(out).dtype}")
        return (jnp.astype(out, dtype),)

    return _integrate(f, (y0,), t, tuple(leaves), options)[0]
