"""A 30-second tour: grad, value_and_grad, jvp, and the printed forward and backward IR."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def loss(W, b, X, y):
    logits = jnp.tanh(X @ W + b)  # b broadcasts over the rows of X @ W
    return jnp.mean((logits - y) ** 2)


def main() -> None:
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 2)), np.zeros(2)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))

    g_W, g_b = jg.grad(loss, argnums=(0, 1))(W, b, X, y)
    print("dL/dW =\n", g_W)
    print("dL/db =", g_b)

    value, grads = jg.value_and_grad(loss, argnums=(0, 1))(W, b, X, y)
    print("loss =", value)

    # Forward mode over reverse mode: a Hessian-vector product.
    v = rng.standard_normal((3, 2))
    _, hvp = jg.jvp(lambda W: jg.grad(loss)(W, b, X, y), (W,), (v,))
    print("H @ v =\n", hvp)

    # A few steps of gradient descent.
    for step in range(5):
        value, (g_W, g_b) = jg.value_and_grad(loss, argnums=(0, 1))(W, b, X, y)
        W, b = W - 0.5 * g_W, b - 0.5 * g_b
        print(f"step {step}: loss {value:.4f}")

    print("\nThe traced forward program:")
    print(jg.make_ir(loss)(W, b, X, y))
    print("\nIts backward program (grad is an IR -> IR transform):")
    print(jg.make_ir(jg.grad(loss, argnums=(0, 1)))(W, b, X, y))


if __name__ == "__main__":
    main()
