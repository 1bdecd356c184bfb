"""Soak test: compile many distinct random programs in one process with an empty kernel cache
and check each one's value and gradient against the numpy reference, with bounded memory.

    JITGRAD_CACHE_DIR=$(mktemp -d) python tests/long_run.py --programs 3000

Each program is ``jit(value_and_grad(f))`` of a small random composition of broadcasting
elementwise operations, reductions, matmuls, reshapes and slices, with its own random
constants, so every one compiles new kernels. It checks, after every program: the value and
each gradient against the eager (numpy) evaluation; that Numba's block-label counter stays
small (it used to double with every nested inlined helper until compiles failed with
"name is too long"); and at the end, that RSS grew by at most ``--mb-per-kernel`` MiB per
compiled kernel (the machine code Numba cannot unload: 1.15 MiB on average here) plus a fixed
allowance. Exits non-zero on the first failure. ``tests/test_memory.py`` runs it with 500
programs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp

CHEAP = [
    lambda v, c: v * v * c,
    lambda v, c: v / (1.0 + c * v * v),
    lambda v, c: jnp.abs(v) * c,
    lambda v, c: jnp.maximum(v, c - 1.0),
    lambda v, c: c * v + v * v * v,
]
# Transcendental functions inline nested helpers into the kernels (the growth this guards);
# they take ≈3x longer to compile, so only some programs use them.
TRANSCENDENTAL = [
    lambda v, c: jnp.sin(v * c),
    lambda v, c: jnp.tanh(v * c),
    lambda v, c: jnp.exp(-c * v * v),
    lambda v, c: jnp.log1p(c * v * v),
]
P_TRANSCENDENTAL = 0.1


def random_program(rng: np.random.Generator) -> tuple:
    """``f(x, y, w)`` with x (n, m), y (m,), w (m, k), and its arguments."""
    n, m, k = (int(d) for d in rng.integers(1, 5, 3))
    steps = [(int(rng.integers(0, 6)), float(np.round(rng.uniform(0.5, 1.5), 6)),
              int(rng.integers(0, len(CHEAP))), int(rng.integers(0, len(TRANSCENDENTAL))),
              rng.random() < P_TRANSCENDENTAL) for _ in range(int(rng.integers(1, 4)))]

    def f(x, y, w):
        h = x
        for kind, c, cheap, trans, use_trans in steps:
            if kind == 0:
                h = TRANSCENDENTAL[trans](h, c) if use_trans else CHEAP[cheap](h, c)
            elif kind == 1 and jnp.shape(h)[-1] == m:  # broadcast against y
                h = h * y + c if cheap % 2 else h - c * y
            elif kind == 2:
                axis = cheap % 2 - 1
                h = jnp.max(h, axis=axis, keepdims=True) if cheap == 4 else \
                    jnp.sum(h, axis=axis, keepdims=True) * c
            elif kind == 3 and jnp.shape(h)[-1] == m:
                h = jnp.tanh(h @ w) if use_trans else (h @ w) * c
            elif kind == 4:
                h = h.reshape(-1)[::-1].reshape(jnp.shape(h)) * c
            elif kind == 5 and jnp.shape(h)[0] > 1:
                h = h[1:] + c
            else:
                h = CHEAP[cheap](h, c)
        return jnp.sum(h * h)

    args = (rng.uniform(-1.5, 1.5, (n, m)), rng.uniform(-1.5, 1.5, m),
            rng.uniform(-1.5, 1.5, (m, k)))
    return f, args


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def label_digits() -> int:
    """Decimal digits of Numba's block-label counter (0 if this Numba has none)."""
    from numba.core import ir_utils
    labels = getattr(ir_utils, "_the_max_label", None)
    return len(str(getattr(labels, "_value", 0)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mb-per-kernel", type=float, default=2.5)
    p.add_argument("--mb-fixed", type=float, default=150.0)
    a = p.parse_args(argv)
    from jitgrad.backend import cache

    rng = np.random.default_rng(a.seed)
    jg.jit(lambda v: v + 1.0)(np.ones(2))  # start Numba before the first measurement
    kernels0, rss0, t0 = len(cache._modules), rss_mb(), time.time()
    for i in range(a.programs):
        f, args = random_program(rng)
        argnums = (0, 1, 2)
        value, grads = jg.jit(jg.value_and_grad(f, argnums=argnums))(*args)
        ref_value, ref_grads = jg.value_and_grad(f, argnums=argnums)(*args)
        np.testing.assert_allclose(value, ref_value, rtol=1e-10, atol=1e-10,
                                   err_msg=f"program {i}: value")
        for j, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10,
                                       err_msg=f"program {i}: gradient {j}")
        digits = label_digits()
        assert digits < 8, f"program {i}: Numba's block-label counter has {digits} digits"
        if (i + 1) % 100 == 0:
            print(f"{i + 1} programs, {len(cache._modules) - kernels0} kernels, "
                  f"RSS +{rss_mb() - rss0:.0f} MiB, {time.time() - t0:.0f} s", flush=True)
    kernels, grown = len(cache._modules) - kernels0, rss_mb() - rss0
    bound = a.mb_fixed + a.mb_per_kernel * kernels
    print(f"{a.programs} programs, {kernels} kernels compiled, RSS +{grown:.0f} MiB "
          f"(bound {bound:.0f}), {time.time() - t0:.0f} s")
    assert grown <= bound, f"RSS grew by {grown:.0f} MiB, more than {bound:.0f} MiB"
    return 0


if __name__ == "__main__":
    sys.exit(main())
