"""Train a small convolutional network, written with stax layers, on tiny synthetic images: each
12x12 image holds a horizontal or a vertical bar at a random place, in noise, and the class is
the bar's direction. One ``jg.jit``-compiled step computes ``value_and_grad`` of the loss and
a momentum-SGD update; the loss falls, and the held-out accuracy shows what was learnt."""

import time

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.example_libraries import stax
from jitgrad.tree_util import tree_map


def bars(rng, n, size=12):
    """``n`` noisy images (n, size, size, 1) with one bar each, and labels (1: vertical)."""
    labels = rng.integers(0, 2, n)
    x = 0.5 * rng.standard_normal((n, size, size, 1))
    where = rng.integers(1, size - 1, n)
    for i in range(n):
        if labels[i]:
            x[i, :, where[i]] += 1.0
        else:
            x[i, where[i], :] += 1.0
    return x.astype(np.float32), labels


init_net, apply_net = stax.serial(
    stax.Conv(8, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), strides=(2, 2)),
    stax.Conv(16, (3, 3), padding="SAME"), stax.Relu, stax.MaxPool((2, 2), strides=(2, 2)),
    stax.Flatten, stax.Dense(2), stax.LogSoftmax)


def loss(params, x, y_onehot):
    """Cross-entropy of the network's log-probabilities."""
    return -jnp.mean(jnp.sum(y_onehot * apply_net(params, x), axis=-1))


@jg.jit
def train_step(params, velocity, x, y_onehot):
    value, grads = jg.value_and_grad(loss)(params, x, y_onehot)
    velocity = tree_map(lambda v, g: 0.9 * v - 0.05 * g, velocity, grads)
    return value, tree_map(jnp.add, params, velocity), velocity


def main():
    rng = np.random.default_rng(0)
    x_train, y_train = bars(rng, 1024)
    x_test, y_test = bars(rng, 256)
    _, params = init_net(jg.random.key(0), (-1, 12, 12, 1))
    velocity = tree_map(np.zeros_like, params)
    onehot = np.eye(2, dtype=np.float32)

    start = time.perf_counter()
    for it in range(151):
        batch = rng.integers(0, len(x_train), 64)
        value, params, velocity = train_step(params, velocity, x_train[batch],
                                             onehot[y_train[batch]])
        if it == 0:
            print(f"first step (trace + compile): {time.perf_counter() - start:.2f} s")
        if it % 50 == 0:
            print(f"step {it:3d}: loss {value:.4f}")
    print(f"150 steps in {time.perf_counter() - start:.2f} s")

    predict = jg.jit(apply_net)
    accuracy = np.mean(np.argmax(predict(params, x_test), axis=1) == y_test)
    print(f"held-out accuracy: {accuracy:.3f}")


if __name__ == "__main__":
    main()
