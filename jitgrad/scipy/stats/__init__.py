"""jitgrad.scipy.stats: scipy.stats' distributions as modules of functions (``norm.logpdf(x, loc,
scale)``, as in ``jax.scipy.stats``), on traced or concrete arrays, differentiable in both
modes, under ``jit`` and ``vmap``.

Arguments broadcast and promote as in scipy (float32 stays float32, integers compute in
float64); invalid parameters give nan, points outside the support ``-inf`` log densities and
0 or 1 cumulative probabilities, as scipy's do.
"""

from jitgrad.scipy.stats import (
    bernoulli,
    beta,
    binom,
    cauchy,
    chi2,
    dirichlet,
    expon,
    gamma,
    laplace,
    logistic,
    multivariate_normal,
    norm,
    poisson,
    t,
    uniform,
)

__all__ = ["bernoulli", "beta", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma",
           "laplace", "logistic", "multivariate_normal", "norm", "poisson", "t", "uniform"]
