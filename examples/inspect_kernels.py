"""What jitgrad does with a program: the traced IR of an MLP loss's gradient (``jg.make_ir``),
then the optimised program, its Python caller and the generated Numba kernels
(``jg.show_kernels``)."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def loss(params, x, y_onehot):
    """A one-hidden-layer tanh network with softmax cross-entropy."""
    (w1, b1), (w2, b2) = params
    logits = jnp.tanh(x @ w1 + b1) @ w2 + b2
    return -jnp.mean(jnp.sum(y_onehot * jg.nn.log_softmax(logits), axis=-1))


def main():
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((4, 8)) / 2, np.zeros(8)),
              (rng.standard_normal((8, 3)) / 3, np.zeros(3))]
    x = rng.standard_normal((16, 4))
    y = np.eye(3)[rng.integers(0, 3, 16)]

    print("=== jg.make_ir(jg.grad(loss)): forward and backward pass, as traced ===")
    print(jg.make_ir(jg.grad(loss))(params, x, y))
    print()
    print("=== jg.show_kernels(jg.grad(loss)): optimised, fused and compiled ===")
    print(jg.show_kernels(jg.grad(loss))(params, x, y))


if __name__ == "__main__":
    main()
