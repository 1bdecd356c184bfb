"""jitgrad.distributed on a real Dask cluster (one LocalCluster of 2 single-threaded worker
processes for the module): the example's SGD steps equal the single-process ones, weighted
means over unequal shards and dask.array shards, a worker's jitgrad error raised on the
client, and lost workers: data recomputed (same answer), or a task that keeps killing its
worker reported as KilledWorker, never a hang (every wait is bounded)."""

import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from distributed.scheduler import KilledWorker

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.distributed import persist_shards, value_and_grad_sum
from jitgrad.errors import ShapeError

TIMEOUT = 240  # seconds: generous for a loaded 2-core machine, but never a hang

# The workers import the example (and this module) by name: they start with this process's
# sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import distributed_sgd as example  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # One retry instead of Dask's three: the killed-worker test then restarts 2 workers, not 4
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0",
                               local_directory=str(tmp_path_factory.mktemp("dask")))
    with cluster, Client(cluster, timeout=TIMEOUT) as c:
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


def test_three_sgd_steps_match_single_process(client):
    # the example's own sizes: its script (test below) then loads these kernels from the cache
    steps, lr = 3, 0.5
    params, losses = example.train_distributed(client, steps, lr)
    ref_params, ref_losses = example.train_single(steps, lr)
    assert len(losses) == steps and losses[-1] < losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for p, r in zip(params, ref_params, strict=True):
        assert p.dtype == r.dtype == np.float32 and p.shape == r.shape
        np.testing.assert_allclose(p, r, rtol=1e-5, atol=1e-7)


def squared_error(w, xy):
    x, y = xy
    return jnp.mean((x @ w - y) ** 2)


def test_weighted_mean_and_dask_array_shards(client):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    y = rng.standard_normal(7).astype(np.float32)
    w = np.array([0.5, -1.0, 0.25], np.float32)
    shards = persist_shards(client, da.from_array(x, chunks=(4, 3)), da.from_array(y, 4))
    assert [s.result(timeout=TIMEOUT)[0].shape for s in shards] == [(4, 3), (3, 3)]

    value, grad = value_and_grad_sum(client, squared_error, w, shards, mean=True,
                                     timeout=TIMEOUT)
    ref_value, ref_grad = jg.value_and_grad(squared_error)(w, (x, y))
    assert value.dtype == grad.dtype == np.float32
    assert isinstance(value, np.ndarray) and value.shape == ()
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5)

    # without mean: the plain sum of the shards' terms (here, of their means)
    value, grad = value_and_grad_sum(client, squared_error, w, shards, timeout=TIMEOUT)
    parts = [jg.value_and_grad(squared_error)(w, (x[i:j], y[i:j])) for i, j in ((0, 4), (4, 7))]
    np.testing.assert_allclose(value, parts[0][0] + parts[1][0], rtol=1e-6)
    np.testing.assert_allclose(grad, parts[0][1] + parts[1][1], rtol=1e-5)


def scaled_error(w, xy, scale):
    return scale * squared_error(w, xy)


def test_extra_arguments_and_argnums(client):
    """``*args`` travel with each task; ``argnums`` counts f's positions (params 0, the shard
    1, the extra arguments from 2), and each gradient is summed over the shards."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal(6)
    w, scale = np.array([0.5, -1.0, 0.25]), np.array(1.5)
    shards = [client.scatter((x[:4], y[:4])), client.scatter((x[4:], y[4:]))]
    value, (gw, gscale) = value_and_grad_sum(client, scaled_error, w, shards, scale,
                                             argnums=(0, 2), timeout=TIMEOUT)
    parts = [jg.value_and_grad(scaled_error, argnums=(0, 2))(w, (x[i:j], y[i:j]), scale)
             for i, j in ((0, 4), (4, 6))]
    np.testing.assert_allclose(value, parts[0][0] + parts[1][0], rtol=1e-12)
    np.testing.assert_allclose(gw, parts[0][1][0] + parts[1][1][0], rtol=1e-12)
    np.testing.assert_allclose(gscale, parts[0][1][1] + parts[1][1][1], rtol=1e-12)


def test_persist_shards_rejects_misaligned_chunks(client):
    x = da.zeros((6, 2), chunks=(3, 1))
    with pytest.raises(ValueError, match="one chunk along the others"):
        persist_shards(client, x)
    with pytest.raises(ValueError, match="share their chunks along axis 0"):
        persist_shards(client, da.zeros(6, chunks=3), da.zeros(6, chunks=2))


def test_worker_error_surfaces_with_jitgrad_message_and_worker_traceback(client):
    shards = client.scatter([(np.ones((2, 3), np.float32), np.ones(2, np.float32))])
    with pytest.raises(ShapeError, match=r"matmul.*\(2, 3\).*\(4,\)") as info:
        value_and_grad_sum(client, squared_error, np.ones(4, np.float32), shards,
                           timeout=TIMEOUT)
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "_shard_task" in frames  # the worker's side of the story


def test_lost_worker_data_is_recomputed(client):
    shards = [client.submit(example.make_shard, seed, n) for seed, n in enumerate((30, 20))]
    params = example.init_params()
    before = value_and_grad_sum(client, example.loss, params, shards, mean=True,
                                timeout=TIMEOUT)
    holder, = client.who_has(shards[0])[shards[0].key]
    os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT  # wait until the scheduler has seen it go
    while holder in client.scheduler_info()["workers"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder not in client.scheduler_info()["workers"]
    after = value_and_grad_sum(client, example.loss, params, shards, mean=True,
                               timeout=TIMEOUT)
    for a, b in zip(jg.tree_util.tree_leaves(after), jg.tree_util.tree_leaves(before),
                    strict=True):
        np.testing.assert_array_equal(a, b)  # the same shards, recomputed from their seeds
    assert holder not in client.who_has(shards[0])[shards[0].key]
    client.wait_for_workers(2, timeout=TIMEOUT)


def kills_its_worker(params, shard):
    os._exit(1)


def test_task_killing_its_worker_raises_killed_worker(client):
    shards = [client.submit(np.ones, 2, np.float32)]
    with pytest.raises(KilledWorker):
        value_and_grad_sum(client, kills_its_worker, np.ones(2, np.float32), shards,
                           timeout=TIMEOUT)
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_example_script_runs():
    """The example as a user runs it (its own LocalCluster): losses equal the single-process
    ones, and they decrease."""
    script = Path(example.__file__)
    proc = subprocess.run([sys.executable, str(script), "--steps", "3"], capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "workers: 2" in proc.stdout
    losses = [float(v) for v in re.findall(r"step +\d+: loss ([\d.]+)", proc.stdout)]
    assert len(losses) == 3 and losses[2] < losses[0]
    diff = re.search(r"relative difference from the single-process losses: (\S+)", proc.stdout)
    assert diff and float(diff.group(1)) < 1e-5
