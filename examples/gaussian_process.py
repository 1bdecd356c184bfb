"""Gaussian-process regression: the log marginal likelihood of noisy samples of a smooth
function, computed with a Cholesky factorisation (``cho_factor``/``cho_solve``), its gradient
with respect to the kernel's hyper-parameters by reverse mode, and the hyper-parameters
fitted by gradient descent (Adam) in one compiled step; then the posterior mean at new
points."""

import math

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad.example_libraries import optimizers
from jitgrad.scipy.linalg import cho_factor, cho_solve
from jitgrad.scipy.stats import multivariate_normal


def kernel(params, a, b):
    """The squared-exponential covariance k(a, b) = s^2 exp(-|a - b|^2 / (2 l^2))."""
    log_scale, log_signal, _ = params
    d2 = jnp.square(a[:, None] - b[None, :])
    return jnp.exp(2 * log_signal) * jnp.exp(-0.5 * d2 / jnp.exp(2 * log_scale))


def covariance(params, x):
    noise = jnp.exp(2 * params[2])
    return kernel(params, x, x) + (noise + 1e-8) * jnp.eye(x.shape[0])


def neg_log_marginal_likelihood(params, x, y):
    """-log N(y | 0, K + noise I) = y^T K^-1 y / 2 + log det K / 2 + n log(2 pi) / 2."""
    factor = cho_factor(covariance(params, x), lower=True)
    alpha = cho_solve(factor, y)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(factor[0])))
    return 0.5 * jnp.dot(y, alpha) + 0.5 * log_det + 0.5 * x.shape[0] * math.log(2 * math.pi)


def posterior_mean(params, x, y, x_new):
    return kernel(params, x_new, x) @ cho_solve(cho_factor(covariance(params, x), lower=True), y)


def main():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-4, 4, 40))
    y = np.sin(x) + 0.1 * rng.standard_normal(40)
    params = np.array([math.log(3.0), math.log(0.3), math.log(0.5)])  # length, signal, noise

    nll = neg_log_marginal_likelihood(params, x, y)
    check = -multivariate_normal.logpdf(y, np.zeros(40), np.asarray(covariance(params, x)))
    print(f"marginal likelihood vs multivariate_normal.logpdf: difference {abs(nll - check):.2e}")

    opt_init, opt_update, get_params = optimizers.adam(0.05)
    loss_and_grad = jg.value_and_grad(neg_log_marginal_likelihood)

    @jg.jit
    def step(i, state):
        loss, g = loss_and_grad(get_params(state), x, y)
        return loss, opt_update(i, g, state)

    state = opt_init(params)
    for i in range(301):
        loss, state = step(i, state)
        if i % 100 == 0:
            print(f"step {i:3d}: negative log marginal likelihood {float(loss):.4f}")
    fitted = np.exp(np.asarray(get_params(state)))
    print(f"fitted length scale {fitted[0]:.3f}, signal {fitted[1]:.3f}, noise {fitted[2]:.3f}")
    x_new = np.linspace(-3.5, 3.5, 50)
    error = np.max(np.abs(posterior_mean(get_params(state), x, y, x_new) - np.sin(x_new)))
    print(f"posterior mean vs sin: max error {error:.3f}")


if __name__ == "__main__":
    main()
