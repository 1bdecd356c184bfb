"""Data-parallel gradients on Dask: each data shard's value and gradient computed by a jit-ed
function on the worker that holds the shard, summed on the workers, returned as numpy."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jitgrad.api import value_and_grad
from jitgrad.jit import jit
from jitgrad.tree_util import tree_leaves, tree_map

try:
    import cloudpickle
    import dask
    from distributed import Client, Future
except ImportError as e:  # an optional extra: say how to get it
    raise ImportError("jitgrad.distributed needs Dask: pip install 'jitgrad[distributed]'"
                      ) from e

__all__ = ["persist_shards", "value_and_grad_sum"]


@functools.lru_cache(maxsize=16)
def _worker_fn(blob: bytes, argnums: int | tuple[int, ...]) -> Callable[..., Any]:
    """``jit(value_and_grad(f))`` for the pickled ``f``, made once per worker process: each
    task unpickles its function anew, and a new jit function would trace again."""
    return jit(value_and_grad(cloudpickle.loads(blob), argnums=argnums))


def _rows(shard: Any) -> int:
    leaves = tree_leaves(shard)
    if not leaves or np.ndim(leaves[0]) == 0:
        raise ValueError("value_and_grad_sum(mean=True): a shard's first leaf must be an array "
                         "whose leading axis counts its examples")
    return int(np.shape(leaves[0])[0])


def _shard_task(blob: bytes, argnums: int | tuple[int, ...], params: Any, shard: Any,
                args: tuple, mean: bool) -> tuple[Any, Any, int]:
    value, grads = _worker_fn(blob, argnums)(params, shard, *args)
    if not mean:
        return value, grads, 1
    n = _rows(shard)
    return tree_map(lambda x: x * x.dtype.type(n), (value, grads)) + (n,)


def _add(a: tuple, b: tuple) -> tuple:
    return tree_map(operator.add, a[:2], b[:2]) + (a[2] + b[2],)


def value_and_grad_sum(client: Client, f: Callable[..., Any], params: Any,
                       shards: Sequence[Any], *args: Any, argnums: int | tuple[int, ...] = 0,
                       mean: bool = False, timeout: float | None = None) -> tuple[Any, Any]:
    """The value and gradient of ``sum(f(params, shard, *args) for shard in shards)``, each
    term computed by ``jit(value_and_grad(f, argnums))`` on the worker holding its shard and
    the terms summed pairwise on the workers; numpy pytrees on the client.

    ``shards`` are Dask futures (``client.scatter``, ``client.submit`` or
    ``persist_shards``: they stay on the workers between calls) or values (sent with the
    tasks). With ``mean=True``, ``f`` returns a shard's mean loss and the result is the mean
    over all examples: terms weighted by their shard's size (the leading axis of its first
    leaf). ``params`` and ``args`` travel with each task. A worker's exception is raised here
    with the worker's traceback; ``timeout`` (seconds) bounds the wait.

    A worker that dies loses its tasks and data: Dask recomputes what futures can recompute
    (shards made by ``client.submit``, not scattered ones) on the other workers, up to
    ``distributed.scheduler.allowed-failures`` times (3) per task, then raises
    ``distributed.scheduler.KilledWorker`` here.

    >>> import jitgrad.numpy as jnp
    >>> from distributed import Client, LocalCluster
    >>> def loss(w, xy):
    ...     x, y = xy
    ...     return jnp.sum((x @ w - y) ** 2)
    >>> x, y = np.arange(12.0).reshape(6, 2), np.ones(6)
    >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
    ...                   dashboard_address=":0") as cluster, \\
    ...         Client(cluster) as client:
    ...     shards = client.scatter([(x[:4], y[:4]), (x[4:], y[4:])])
    ...     value_and_grad_sum(client, loss, np.zeros(2), shards)
    (array(6.), array([-60., -72.]))
    """
    blob = cloudpickle.dumps(f)
    parts = [client.submit(_shard_task, blob, argnums, params, shard, args, mean, pure=False)
             for shard in shards]
    if not parts:
        raise ValueError("value_and_grad_sum: no shards")
    while len(parts) > 1:
        pairs = [client.submit(_add, a, b, pure=False)
                 for a, b in zip(parts[::2], parts[1::2], strict=False)]
        parts = pairs + parts[len(pairs) * 2:]
    value, grads, n = parts[0].result(timeout=timeout)
    if mean:
        value, grads = tree_map(lambda x: x / x.dtype.type(n), (value, grads))
    return tree_map(np.asarray, (value, grads))


def persist_shards(client: Client, *arrays: Any) -> list[Future]:
    """Futures of ``(block_0, block_1, ...)`` per chunk of ``dask.array`` arrays chunked the
    same way along their first axis (one chunk along the others), kept on the workers.

    >>> import dask.array as da
    >>> from distributed import Client, LocalCluster
    >>> x = da.from_array(np.arange(12.0).reshape(6, 2), chunks=(4, 2))
    >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
    ...                   dashboard_address=":0") as cluster, \\
    ...         Client(cluster) as client:
    ...     [s.result()[0].shape for s in persist_shards(client, x, x[:, 0])]
    [(4, 2), (2, 2)]
    """
    if not arrays:
        raise ValueError("persist_shards: no arrays")
    chunks = arrays[0].chunks[0]
    for a in arrays:
        if a.chunks[0] != chunks or any(len(c) != 1 for c in a.chunks[1:]):
            raise ValueError(f"persist_shards: arrays must share their chunks along axis 0 "
                             f"({chunks}) and have one chunk along the others, got "
                             f"{a.chunks}")
    blocks = [a.to_delayed().reshape(len(chunks)) for a in arrays]
    return client.compute([dask.delayed(tuple)(list(parts)) for parts in zip(*blocks, strict=True)])
