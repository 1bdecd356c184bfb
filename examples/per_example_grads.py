"""Per-example gradients with vmap(grad(...)): the gradient norm of every training example of
a logistic-regression model, in one batched (and compiled) program."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def loss(w, x, y):
    """Logistic loss of one example."""
    z = jnp.dot(x, w)
    return jnp.log1p(jnp.exp(-z)) if y > 0 else jnp.log1p(jnp.exp(z))


def loss_where(w, x, y):
    """The same loss without Python control flow on traced values (y is traced under vmap)."""
    z = jnp.dot(x, w)
    return jnp.log1p(jnp.exp(jnp.where(y > 0, -z, z)))


def main() -> None:
    rng = np.random.default_rng(0)
    n, d = 256, 8
    w_true = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    y = (x @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    w = np.zeros(d)

    per_example = jg.jit(jg.vmap(jg.grad(loss_where), in_axes=(None, 0, 0)))
    grads = per_example(w, x, y)  # (n, d): one gradient per example
    print("per-example gradients:", grads.shape)
    loop = np.stack([jg.grad(loss_where)(w, x[i], y[i]) for i in range(n)])
    print("matches a Python loop:", np.allclose(grads, loop))

    # Train with per-example gradient clipping (as in differentially private SGD).
    for step in range(51):
        g = per_example(w, x, y)
        norms = np.linalg.norm(g, axis=1, keepdims=True)
        g = g / np.maximum(1.0, norms)  # clip each example's gradient to norm 1
        w = w - 0.5 * g.mean(axis=0)
        if step % 10 == 0:
            acc = np.mean((x @ w > 0) == (y > 0))
            print(f"step {step:2d}: mean clipped-grad norm {np.linalg.norm(g, axis=1).mean():.3f}"
                  f", accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
