"""Multi-threaded execution without a Numba threading layer: kernels release the GIL, so a
large loop kernel (or matmul) is split along its outermost loop into blocks that a small pool
of Python threads runs at once. Nothing spins while waiting, and any number of Python threads
may call compiled programs concurrently."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from jitgrad.backend.fuse import LoopKernel
from jitgrad.core import config

# Work (elements of the iteration space) below which splitting does not pay: measured on this
# project's 2-core machine, for loops of cheap arithmetic and for loops that evaluate
# transcendental functions (several ns per element).
MIN_ELEMENTS = 1 << 16
MIN_ELEMENTS_TRANSCENDENTAL = 1 << 13
MIN_MATMUL_FLOPS = 2 * 256 ** 3

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != threads - 1:
            _pool = ThreadPoolExecutor(max_workers=threads - 1,
                                       thread_name_prefix="jitgrad")
            _pool_size = threads - 1
        return _pool


def split_axes(k: LoopKernel) -> list[int | None] | None:
    """For each kernel argument (inputs, then outputs), the array axis that loop axis 0 walks
    with unit stride (None: not indexed by it); None if the kernel cannot be split along loop
    axis 0 (a reduction over it, or an input read at another stride or offset along it)."""
    if not k.shape or k.shape[0] < 2:
        return None
    axes: list[int | None] = [None] * len(k.inputs)
    seen: list[bool] = [False] * len(k.inputs)
    for node in k.nodes:
        if node.kind != "load":
            continue
        uses = [p for p, (a, c, _) in enumerate(node.index) if a == 0 and c != 0]
        axis = None
        if uses:
            p = uses[0]
            if len(uses) > 1 or node.index[p][1:] != (1, 0):
                return None
            axis = p
        if seen[node.input] and axes[node.input] != axis:
            return None
        seen[node.input] = True
        axes[node.input] = axis
    for out in k.outputs:
        if out.reduce is not None and 0 in out.axes:
            return None
        axes.append(0)
    return axes


def worth_splitting(k: LoopKernel) -> bool:
    size = int(np.prod(k.shape, dtype=np.int64))
    heavy = any(n.kind == "op" and n.prim.lowering.vmath for n in k.nodes)
    return size >= (MIN_ELEMENTS_TRANSCENDENTAL if heavy else MIN_ELEMENTS)


def _blocks(n: int, parts: int) -> list[tuple[int, int]]:
    edges = [n * i // parts for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def _take(a: np.ndarray, axis: int | None, lo: int, hi: int) -> np.ndarray:
    if axis is None:
        return a
    index = [slice(None)] * a.ndim
    index[axis] = slice(lo, hi)
    return a[tuple(index)]


def run_split(kernel: Callable[..., Any], n0: int, args: Sequence[np.ndarray],
              axes: Sequence[int | None], extra: Sequence[int]) -> None:
    """``kernel(*args, *extra)`` with loop axis 0 (extent ``n0``) split over the threads."""
    threads = config.threads
    if threads <= 1:
        kernel(*args, *extra)
        return
    blocks = _blocks(n0, threads)
    pool = _executor(threads)

    def call(lo: int, hi: int) -> None:
        kernel(*[_take(a, ax, lo, hi) for a, ax in zip(args, axes, strict=True)], *extra)

    futures = [pool.submit(call, lo, hi) for lo, hi in blocks[1:]]
    call(*blocks[0])
    for f in futures:
        f.result()


def split_rows(fn: Callable[[int, int], None], m: int) -> None:
    """Run ``fn(lo, hi)`` over row blocks of ``range(m)`` on the threads."""
    blocks = _blocks(m, config.threads)
    pool = _executor(config.threads)
    futures = [pool.submit(fn, lo, hi) for lo, hi in blocks[1:]]
    fn(*blocks[0])
    for f in futures:
        f.result()
