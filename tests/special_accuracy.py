"""Accuracy sweep of jitgrad.scipy.special against mpmath (50 digits), and of scipy.special
for comparison: max error in ulp per function and dtype (the table in
jitgrad/prims/SPECIAL_NOTES.md). Run: ``python -m tests.special_accuracy [names]`` (minutes)."""

import sys
import warnings

import numpy as np


def _grids(rng):
    def u(lo, hi, n=1500):
        return rng.uniform(lo, hi, n)

    def lg(lo, hi, n=300, sign=1.0):
        return sign * 10 ** rng.uniform(lo, hi, n)

    c = np.concatenate
    return {
        # name: (argument grids, mpmath function, floor below which the error is absolute)
        "erf": ([c([u(-6, 6), lg(-300, 0)])], "erf", 0),
        "erfc": ([c([u(-6, 6), u(6, 26.5)])], "erfc", 0),
        "ndtr": ([c([u(-8, 8), u(-37.5, -8)])], "ncdf", 0),
        "log_ndtr": ([c([u(-40, 10), lg(1, 3, sign=-1)])], "log_ndtr", 0),
        "erfinv": ([c([u(-1, 1), 1 - lg(-15, 0)])], "erfinv", 0),
        "erfcinv": ([c([u(0, 2), lg(-300, 0)])], "erfcinv", 0),
        "ndtri": ([c([u(0, 1), lg(-300, -1)])], "ndtri", 0),
        "gammaln": ([c([u(-20, 30), u(0.9, 1.1), u(1.9, 2.1), lg(-300, 300)])], "gammaln", 0),
        "gamma": ([c([u(-30, 30), u(30, 171.5), u(-170, -30)])], "gamma", 0),
        "digamma": ([c([u(-20, 30), u(1.4, 1.5), lg(-300, 300), u(-3.001, -2.999)])],
                    "digamma", 0),
        "polygamma1": ([c([u(0.05, 30), u(-5.9, -0.1)])], ("psi", 1), 0),
        "polygamma4": ([c([u(0.05, 30), u(-5.9, -0.1)])], ("psi", 4), 0),
        "gammainc": ([u(0.05, 50, 600), None], "gammainc", 0),
        "gammaincc": ([u(0.05, 50, 600), None], "gammaincc", 0),
        "betainc": ([u(0.05, 40, 400), u(0.05, 40, 400), u(0, 1, 400)], "betainc", 0),
        "i0e": ([u(-60, 60)], "i0e", 0),
        "i1e": ([u(-60, 60)], "i1e", 0),
        "ive": ([u(0, 40, 600), u(0, 60, 600)], "ive", 0),
        "j0": ([u(0, 100)], ("besselj", 0), 1),
        "j1": ([u(0, 100)], ("besselj", 1), 1),
        "y0": ([u(0.01, 100)], ("bessely", 0), 1),
        "y1": ([u(0.01, 100)], ("bessely", 1), 1),
        "jn5": ([u(0, 60)], ("besselj", 5), 1),
        "yn5": ([u(0.1, 60)], ("bessely", 5), 1),
    }


def _truth(mp, what):
    if isinstance(what, tuple):
        fn, n = what
        return (lambda x: getattr(mp, fn)(n, x))
    return {
        "erf": mp.erf, "erfc": mp.erfc, "ncdf": mp.ncdf,
        "log_ndtr": lambda x: mp.log(mp.ncdf(x)),
        "erfinv": mp.erfinv,
        "erfcinv": lambda q: mp.erfinv(1 - q) if q > 0.5 else -mp.sqrt(0.5) * _ndtri(mp, q / 2),
        "ndtri": lambda p: _ndtri(mp, p),
        "gammaln": lambda x: mp.log(abs(mp.gamma(x))), "gamma": mp.gamma,
        "digamma": mp.digamma,
        "gammainc": lambda a, x: mp.gammainc(a, 0, x, regularized=True),
        "gammaincc": lambda a, x: mp.gammainc(a, x, mp.inf, regularized=True),
        "betainc": lambda a, b, x: mp.betainc(a, b, 0, x, regularized=True),
        "i0e": lambda x: mp.exp(-abs(x)) * mp.besseli(0, x),
        "i1e": lambda x: mp.exp(-abs(x)) * mp.besseli(1, x),
        "ive": lambda v, x: mp.exp(-abs(x)) * mp.besseli(v, x),
    }[what]


def _nan_at_poles(fn):
    def wrapped(*args):
        try:
            return fn(*args)
        except (ValueError, ZeroDivisionError):
            return float("nan")
    return wrapped


def _ndtri(mp, p):
    return -mp.sqrt(2) * mp.erfinv(1 - 2 * p) if p > 1e-10 else mp.findroot(
        lambda x: mp.log(mp.ncdf(x)) - mp.log(p), -mp.sqrt(-2 * mp.log(p)))


def _call(module, name, args):
    if name[-1].isdigit() and name[:-1] in ("polygamma", "jn", "yn"):
        return getattr(module, name[:-1])(int(name[-1]), *args)
    return getattr(module, name)(*args)


def main(names):
    import mpmath as mp
    import scipy.special as sc

    import jitgrad.scipy.special as jsp

    mp.mp.dps = 50
    rng = np.random.default_rng(0)
    print("| function | f64 max ulp | f32 max ulp | scipy f64 max ulp |")
    print("|---|---:|---:|---:|")
    for name, (grids, what, floor) in _grids(rng).items():
        if names and name not in names:
            continue
        if grids[-1] is None:  # x scaled to a: both the series and the fraction regimes
            grids = [grids[0], grids[0] * rng.uniform(0, 2, grids[0].size)]
        truth = _nan_at_poles(_truth(mp, what))
        ref = np.array([float(truth(*[mp.mpf(float(a[i])) for a in grids]))
                        for i in range(grids[0].size)])
        errs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for module, dtype in ((jsp, np.float64), (jsp, np.float32), (sc, np.float64)):
                args = [a.astype(dtype) for a in grids]
                r = ref if dtype == np.float64 else np.array(
                    [float(truth(*[mp.mpf(float(a[i])) for a in args]))
                     for i in range(grids[0].size)])
                got = np.asarray(_call(module, name, args), np.float64)
                rd = r.astype(dtype)
                ok = np.isfinite(rd) & (np.abs(rd) > np.finfo(dtype).tiny)
                scale = np.spacing(np.maximum(np.abs(rd[ok]), floor).astype(dtype))
                errs.append(np.max(np.abs(got[ok] - r[ok]) / scale) if ok.any() else 0.0)
        print(f"| {name} | {errs[0]:.1f} | {errs[1]:.1f} | {errs[2]:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
