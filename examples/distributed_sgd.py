"""Logistic regression trained by SGD on a Dask cluster: the data is generated on the workers
and stays there; each step's gradient is computed where the data lives and summed on the
workers. The loss curve is the single-process one, to float32 rounding.

    python examples/distributed_sgd.py                      # a LocalCluster, 2 processes
    python examples/distributed_sgd.py --scheduler tcp://host:8786   # a running cluster
"""

import argparse

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.distributed import value_and_grad_sum
from jitgrad.tree_util import tree_map

FEATURES = 20
SHARD_SIZES = (3000, 2000)  # unequal: the mean loss weights each shard by its size


def make_shard(seed, n):
    """``n`` examples (float32 features, 0/1 labels) of one fixed noisy linear model."""
    w_true = np.random.default_rng(0).standard_normal(FEATURES)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    y = (x @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float32)
    return x, y


def loss(params, shard):
    """Mean logistic loss of a shard's examples."""
    w, b = params
    x, y = shard
    z = x @ w + b
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def init_params():
    return np.zeros(FEATURES, np.float32), np.zeros((), np.float32)


def sgd(value_and_grad_fn, steps, lr):
    """``steps`` SGD steps from zero parameters: the final parameters and the losses."""
    params, losses = init_params(), []
    for _ in range(steps):
        value, grads = value_and_grad_fn(params)
        params = tree_map(lambda p, g: p - np.float32(lr) * g, params, grads)
        losses.append(float(value))
    return params, losses


def train_distributed(client, steps, lr, sizes=SHARD_SIZES):
    # each shard is made on a worker (seeded by its index) and stays there between steps
    shards = [client.submit(make_shard, seed, n) for seed, n in enumerate(sizes)]
    return sgd(lambda p: value_and_grad_sum(client, loss, p, shards, mean=True, timeout=300),
               steps, lr)


def train_single(steps, lr, sizes=SHARD_SIZES):
    """The same training in this process, on the same examples."""
    parts = [make_shard(seed, n) for seed, n in enumerate(sizes)]
    data = tuple(np.concatenate(column) for column in zip(*parts, strict=True))
    step = jg.jit(jg.value_and_grad(loss))
    return sgd(lambda p: step(p, data), steps, lr)


def main():
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="a running scheduler's address (default: start "
                        "a LocalCluster of 2 single-threaded worker processes)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()

    cluster = None if args.scheduler else LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with Client(args.scheduler or cluster) as client:
        print(f"workers: {len(client.scheduler_info()['workers'])}")
        _, losses = train_distributed(client, args.steps, args.lr)
    if cluster is not None:
        cluster.close()
    _, reference = train_single(args.steps, args.lr)
    for i, (a, b) in enumerate(zip(losses, reference, strict=True)):
        print(f"step {i:3d}: loss {a:.6f} (single process {b:.6f})")
    diff = max(abs(a - b) / abs(b) for a, b in zip(losses, reference, strict=True))
    print(f"largest relative difference from the single-process losses: {diff:.2e}")


if __name__ == "__main__":
    main()
