"""Benchmark vmath kernels vs numpy ufuncs vs Numba loops over math.*: `[--quick]`."""

import argparse
import math
import time

import numba
import numpy as np

from jitgrad.backend import vmath as vm

RANGES = {
    'exp': (-50, 50), 'expm1': (-5, 5), 'log': (1e-3, 1e6), 'log1p': (-0.9, 1e3),
    'sin': (-1e4, 1e4), 'cos': (-1e4, 1e4), 'tan': (-1e4, 1e4), 'tanh': (-10, 10),
    'logistic': (-20, 20), 'pow': (0.1, 10),
}
MATH = {
    'exp': math.exp, 'expm1': math.expm1, 'log': math.log, 'log1p': math.log1p,
    'sin': math.sin, 'cos': math.cos, 'tan': math.tan, 'tanh': math.tanh,
}


def _numpy(name):
    if name == 'logistic':
        return lambda x, out: np.divide(1, 1 + np.exp(-x), out=out)
    if name == 'pow':
        return lambda x, y, out: np.power(x, y, out=out)
    f = getattr(np, name)
    return lambda x, out: f(x, out=out)


def _unary_loop(f):
    @numba.njit(error_model='numpy', fastmath={'contract'})
    def loop(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return loop


def _binary_loop(f):
    @numba.njit(error_model='numpy', fastmath={'contract'})
    def loop(x, y, out):
        for i in range(x.size):
            out[i] = f(x[i], y[i])
    return loop


@numba.njit(error_model='numpy', fastmath={'contract'})
def _math_logistic(x):
    return 1 / (1 + math.exp(-x))


@numba.njit(error_model='numpy', fastmath={'contract'})
def _math_pow(x, y):
    return x**y


def _time(fn, args, n):
    """Median ns/element over enough repeats for ~0.3 s (at least 5)."""
    fn(*args)
    t0 = time.perf_counter()
    fn(*args)
    once = time.perf_counter() - t0
    reps = max(5, min(200, int(0.3 / max(once, 1e-6))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(*args)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) / n * 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--quick', action='store_true', help='n = 1e6 only')
    ap.add_argument('--functions', default=','.join(RANGES), help='comma-separated names')
    args = ap.parse_args()
    sizes = [10**6] if args.quick else [10**5, 10**6, 10**7]
    rng = np.random.default_rng(0)
    print('| function | dtype | n | vmath ns/el | numpy ns/el | numba math ns/el '
          '| numpy / vmath | math / vmath |')
    print('|---|---|---:|---:|---:|---:|---:|---:|')
    for name in args.functions.split(','):
        for dtype in (np.float32, np.float64):
            f = getattr(vm, f"{name}_{'f32' if dtype == np.float32 else 'f64'}")
            if name == 'pow':
                ours, ref = _binary_loop(f), _binary_loop(_math_pow)
            elif name == 'logistic':
                ours, ref = _unary_loop(f), _unary_loop(_math_logistic)
            else:
                ours, ref = _unary_loop(f), _unary_loop(MATH[name])
            for n in sizes:
                x = rng.uniform(*RANGES[name], n).astype(dtype)
                ins = (x, rng.uniform(-20, 20, n).astype(dtype)) if name == 'pow' else (x,)
                out = np.empty_like(x)
                with np.errstate(all='ignore'):
                    t_ours = _time(ours, ins + (out,), n)
                    t_np = _time(_numpy(name), ins + (out,), n)
                    t_math = _time(ref, ins + (out,), n)
                print(f'| {name} | {np.dtype(dtype).name} | {n:.0e} | {t_ours:.2f} | {t_np:.2f} '
                      f'| {t_math:.2f} | {t_np / t_ours:.2f} | {t_math / t_ours:.2f} |',
                      flush=True)


if __name__ == '__main__':
    main()
