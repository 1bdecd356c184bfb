"""Train a small MLP on a 2-D spiral with ``jg.jit(jg.value_and_grad(loss))``: the loss falls,
and the accuracy on held-out points shows what was learnt."""

import time

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def spiral(rng, per_class=150, classes=3):
    """Points on ``classes`` interleaved noisy spiral arms, and their labels."""
    r = np.tile(np.linspace(0.05, 1.0, per_class), classes)
    labels = np.repeat(np.arange(classes), per_class)
    theta = 4.0 * r + labels * 2 * np.pi / classes + rng.normal(0.0, 0.4, r.size)
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return x, labels


def init(rng, sizes):
    return [(rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n))
            for m, n in zip(sizes[:-1], sizes[1:], strict=True)]


def predict(params, x):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def loss(params, x, y_onehot):
    """Softmax cross-entropy of the network's logits."""
    return -jnp.mean(jnp.sum(y_onehot * jg.nn.log_softmax(predict(params, x)), axis=-1))


def main():
    rng = np.random.default_rng(0)
    x_all, labels_all = spiral(rng)
    order = rng.permutation(len(x_all))
    train, test = order[:360], order[360:]
    x, labels = x_all[train], labels_all[train]
    y = np.eye(3)[labels]
    params = init(rng, [2, 32, 32, 3])
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    step = jg.jit(jg.value_and_grad(loss))

    start = time.perf_counter()
    for it in range(601):
        value, grads = step(params, x, y)
        if it == 0:
            print(f"first step (trace + compile): {time.perf_counter() - start:.2f} s")
        if it % 100 == 0:
            print(f"step {it:4d}: loss {value:.4f}")
        velocity = [(0.9 * vw - 0.2 * gw, 0.9 * vb - 0.2 * gb)
                    for (vw, vb), (gw, gb) in zip(velocity, grads, strict=True)]
        params = [(w + vw, b + vb) for (w, b), (vw, vb) in zip(params, velocity, strict=True)]
    print(f"600 steps in {time.perf_counter() - start:.2f} s")

    def accuracy(idx):
        return np.mean(np.argmax(predict(params, x_all[idx]), axis=1) == labels_all[idx])

    print(f"train accuracy: {accuracy(train):.3f}")
    print(f"final accuracy (held-out points): {accuracy(test):.3f}")


if __name__ == "__main__":
    main()
