"""einsum: two-operand contractions (batched matmul, attention scores, full and batched dot
products), compiled, against numpy's einsum(optimize=True) and the peers' einsum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perf.harness import Context
from perf.peers import tree_map
from perf.report import Row, Section

PEERS = ["jitgrad", "numpy", "jax", "torch"]
CASES = [  # (subscripts, operand shapes, dtype)
    ("bij,bjk->bik", [(64, 64, 64), (64, 64, 64)], np.float32),
    ("bij,bjk->bik", [(8, 256, 256), (8, 256, 256)], np.float64),
    ("bhqd,bhkd->bhqk", [(8, 8, 128, 64), (8, 8, 128, 64)], np.float32),
    ("ij,ij->", [(1000, 1000), (1000, 1000)], np.float64),
    ("ij,ij->", [(1000, 1000), (1000, 1000)], np.float32),
    ("bi,bi->b", [(4096, 64), (4096, 64)], np.float32),
    ("ij,jk,kl->il", [(256, 64), (64, 256), (256, 32)], np.float64),
]
QUICK = CASES[:1] + CASES[3:4]


def contraction(spec: str, lib_np: Any) -> Callable:
    def f(*operands: Any) -> Any:
        return lib_np.einsum(spec, *operands)

    return f


def samplers(ctx: Context, spec: str, ops: list[np.ndarray]) -> dict:
    import jitgrad as jg
    import jitgrad.numpy as jnp

    compiled = jg.jit(contraction(spec, jnp))
    out = {"jitgrad": ctx.timed(lambda: compiled(*ops)),
           "numpy": ctx.timed(lambda: np.einsum(spec, *ops, optimize=True))}
    for name in ("jax", "torch"):
        if name in ctx.libs:
            lib = ctx.libs[name]
            fn, native = lib.jit(contraction(spec, lib.np)), tree_map(lib.put, ops)
            out[name] = ctx.timed(lambda f=fn, a=native, b=lib.block: b(f(*a)))
    return out


def run(ctx: Context) -> Section:
    section = Section("einsum", "time per contraction (forward)", PEERS)
    rng = np.random.default_rng(0)
    for spec, shapes, dtype in QUICK if ctx.quick else CASES:
        ops = [rng.standard_normal(s).astype(dtype) for s in shapes]
        expect = np.einsum(spec, *[o.astype(np.float64) for o in ops], optimize=True)
        shape_text = ", ".join("×".join(map(str, s)) for s in shapes)
        case = f"{spec} {shape_text} {np.dtype(dtype).name}"
        results = ctx.measure(case, samplers(ctx, spec, ops), expect=[expect],
                              tol=1e-4 if dtype == np.float32 else 1e-10)
        section.rows.append(Row(case, results, lambda t: f"{t * 1e6:.4g} µs",
                                {"spec": spec, "dtype": np.dtype(dtype).name}))
    section.notes += [
        "jitgrad: jit(lambda *xs: jnp.einsum(spec, *xs)): each pair of operands is one batched "
        "matmul (transposes folded into its flags), or a fused product and sum when neither "
        "operand keeps a free axis (dot products).",
        "numpy: np.einsum(spec, *xs, optimize=True); jax: jax.jit of jnp.einsum on device "
        "arrays; torch: torch.einsum on tensors."]
    return section
