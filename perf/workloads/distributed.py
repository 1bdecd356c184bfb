"""distributed: one SGD step of logistic regression in one process and on a Dask LocalCluster
of 2 single-threaded worker processes (jitgrad.distributed), and the cluster's per-step
overhead (a step on tiny shards)."""

from __future__ import annotations

import os

import numpy as np

from perf.harness import Context
from perf.report import Row, Section

PEERS = ["jitgrad", "dask"]
FEATURES = 100
LR = np.float32(0.1)


def make_shard(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 examples of a fixed noisy linear model (made where they are used)."""
    w_true = np.random.default_rng(0).standard_normal(FEATURES).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES), dtype=np.float32)
    y = (x @ w_true + rng.standard_normal(n, dtype=np.float32) > 0).astype(np.float32)
    return x, y


def loss(params, shard):
    import jitgrad.numpy as jnp
    w, b = params
    x, y = shard
    z = x @ w + b
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def _pin(cpu: int) -> None:
    # the suite pins itself to one CPU and workers inherit it: give each worker its own
    os.sched_setaffinity(0, {cpu})


def run(ctx: Context) -> Section:
    from distributed import Client, LocalCluster

    import jitgrad as jg
    from jitgrad.distributed import value_and_grad_sum

    n = 2 * 10**5 if ctx.quick else 2 * 10**6
    tiny = 16
    section = Section("distributed", "one SGD step (value_and_grad + update), one process vs "
                      "2 Dask workers", PEERS)
    step = jg.jit(jg.value_and_grad(loss))
    params = (np.zeros(FEATURES, np.float32), np.zeros((), np.float32))

    def update(p, grads):
        return jg.tree_util.tree_map(lambda a, g: a - LR * g, p, grads)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        if hasattr(os, "sched_setaffinity"):
            cpus = sorted(range(os.cpu_count() or 1))
            for i, worker in enumerate(sorted(client.scheduler_info()["workers"])):
                client.run(_pin, cpus[i % len(cpus)], workers=[worker])
        for label, size in ((f"logistic regression, {n:.0e} examples × {FEATURES} features, "
                             "float32", n),
                            (f"overhead: the same step on 2 shards of {tiny} examples", tiny)):
            sizes = (size // 2, size - size // 2)
            shards = [client.submit(make_shard, seed, m) for seed, m in enumerate(sizes)]
            parts = [make_shard(seed, m) for seed, m in enumerate(sizes)]
            data = tuple(np.concatenate(c) for c in zip(*parts, strict=True))
            del parts
            state = {"single": params, "dask": params}

            def single(state=state, data=data):
                value, grads = step(state["single"], data)
                state["single"] = update(state["single"], grads)
                return value, grads

            def distributed(state=state, shards=shards):
                value, grads = value_and_grad_sum(client, loss, state["dask"], shards,
                                                  mean=True, timeout=600)
                state["dask"] = update(state["dask"], grads)
                return value, grads

            expect = [np.asarray(x, np.float64) for x in jg.tree_util.tree_leaves(
                jg.value_and_grad(loss)(params, data))]
            results = ctx.measure(label, {"jitgrad": ctx.timed(single),
                                          "dask": ctx.timed(distributed)},
                                  expect=expect, tol=1e-4)
            section.rows.append(Row(label, results, lambda t: f"{t * 1e3:.3g} ms",
                                    {"examples": size}))
            del data, shards
    section.notes += [
        "jitgrad: jit(value_and_grad(loss)) on all examples in this process (single-threaded, "
        "pinned to one CPU); dask: jitgrad.distributed.value_and_grad_sum(mean=True) over 2 "
        "shards made on a LocalCluster of 2 single-threaded worker processes (each pinned to "
        "its own CPU), summed on a worker, returned to this process; both then update the "
        "parameters in this process. (×) is the cluster's speed-up (below 1: one process is "
        "faster).",
        "the overhead row is a step whose computation is negligible: its dask time is the "
        "cost of scheduling 3 tasks and moving the parameters and gradients.",
        "each warm-up call checks the first step against eager value_and_grad on all "
        "examples; the first call compiles on each worker."]
    return section
