"""A user-defined reverse rule with ``jg.custom_vjp``: softplus, log(1 + exp(x)), whose naive
gradient exp(x) / (1 + exp(x)) is inf / inf = nan at x = 1000, given the stable rule
sigmoid(x)."""

import warnings

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def naive_softplus(x):
    return jnp.log(1.0 + jnp.exp(x))


@jg.custom_vjp
def softplus(x):
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)): no overflow."""
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def softplus_fwd(x):
    return softplus(x), x  # the output, and the residual the backward rule needs


def softplus_bwd(x, g):
    return (g * jg.nn.sigmoid(x),)  # one cotangent per argument


softplus.defvjp(softplus_fwd, softplus_bwd)


def elementwise_grad(f):
    return jg.grad(lambda x: jnp.sum(f(x)))


def main():
    x = np.array([-1000.0, -20.0, 0.0, 20.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp(1000) overflows, as intended
        naive_value, naive_grad = naive_softplus(x), elementwise_grad(naive_softplus)(x)
    stable_grad = jg.jit(elementwise_grad(softplus))(x)
    print("         x   naive value    naive grad  custom value   custom grad")
    for row in zip(x, naive_value, naive_grad, softplus(x), stable_grad, strict=True):
        print("".join(f"{v:14.6g}" for v in row))
    print(f"naive gradient at x=1000: {naive_grad[-1]}")
    print(f"custom gradient at x=1000: {stable_grad[-1]}")

    # The backward rule is itself written with jitgrad.numpy, so it can be differentiated:
    # the second derivative of softplus is sigmoid(x) * (1 - sigmoid(x)), 0.25 at 0.
    second = jg.grad(jg.grad(softplus))(0.0)
    print(f"second derivative at 0: {second} (expected 0.25)")
    jg.check_grads(softplus, (np.linspace(-5.0, 5.0, 7),), order=1, modes=("rev",))
    print("check_grads (reverse mode, finite differences): ok")


if __name__ == "__main__":
    main()
