"""gp: the gradient of a Gaussian process's negative log marginal likelihood (Cholesky
factorisation, two triangular solves, log-determinant) with respect to its three kernel
hyper-parameters, n = 500 points, float64."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from perf.harness import Context
from perf.peers import Lib
from perf.report import Row, Section

PEERS = ["jitgrad", "jax", "numpy", "torch", "autograd"]


def _solve_lower(lib: Lib, chol: Any, b: Any, transpose: bool) -> Any:
    """``chol^-1 b`` (``chol^-T b`` when transposed) for a lower-triangular ``chol``."""
    if lib.name == "torch":
        import torch

        a = chol.T if transpose else chol
        return torch.linalg.solve_triangular(a, b[:, None], upper=transpose)[:, 0]
    if lib.name == "jax":
        from jax.scipy.linalg import solve_triangular
    elif lib.name == "autograd":
        from autograd.scipy.linalg import solve_triangular
    else:
        from jitgrad.scipy.linalg import solve_triangular
    return solve_triangular(chol, b, trans=1 if transpose else 0, lower=True)


def gp_nll(lib: Lib, params: Any, x: Any, y: Any, eye: Any) -> Any:
    """-log N(y | 0, s^2 exp(-|xi - xj|^2 / (2 l^2)) + noise^2 I), params = log (l, s, noise)."""
    xp = lib.np
    d2 = xp.square(x[:, None] - x[None, :])
    k = xp.exp(2 * params[1]) * xp.exp(-0.5 * d2 / xp.exp(2 * params[0])) + xp.exp(
        2 * params[2]) * eye
    chol = xp.linalg.cholesky(k)
    white = _solve_lower(lib, chol, y, False)
    # the diagonal as a masked row sum: one spelling for every peer (autograd's diagonal
    # differentiates only its last two axes, torch names them dim1/dim2)
    log_det = 2 * xp.sum(xp.log(xp.sum(chol * eye, 1)))
    return 0.5 * xp.sum(white * white) + 0.5 * log_det + 0.5 * y.shape[0] * math.log(2 * math.pi)


def gp_grad_numpy(params: np.ndarray, x: np.ndarray, y: np.ndarray, eye: np.ndarray
                  ) -> np.ndarray:
    """The gradient by hand: 0.5 tr((K^-1 - a a^T) dK/dtheta) with a = K^-1 y."""
    d2 = np.square(x[:, None] - x[None, :])
    rbf = np.exp(2 * params[1]) * np.exp(-0.5 * d2 / np.exp(2 * params[0]))
    k = rbf + np.exp(2 * params[2]) * eye
    chol_inv = np.linalg.inv(np.linalg.cholesky(k))
    k_inv = chol_inv.T @ chol_inv
    a = k_inv @ y
    inner = k_inv - np.outer(a, a)
    d_scale = rbf * d2 / np.exp(2 * params[0])
    return 0.5 * np.array([np.sum(inner * d_scale), np.sum(inner * 2 * rbf),
                           np.trace(inner) * 2 * np.exp(2 * params[2])])


def run(ctx: Context) -> Section:
    section = Section("gp", "gradient of a Gaussian process's negative log marginal likelihood "
                      "w.r.t. its 3 hyper-parameters (Cholesky based)", PEERS)
    rng = np.random.default_rng(0)
    for n in (500,):
        x = np.sort(rng.uniform(-5, 5, n))
        y = np.sin(x) + 0.1 * rng.standard_normal(n)
        params = np.array([math.log(1.5), math.log(0.8), math.log(0.2)])
        args = [params, x, y, np.eye(n)]
        expect = gp_grad_numpy(*args)
        results = ctx.measure(f"n={n} float64", ctx.gradients(gp_nll, gp_grad_numpy, args, 0),
                              expect=[expect], tol=1e-8)
        section.rows.append(Row(f"n={n} float64", results, lambda t: f"{t * 1e3:.3g} ms",
                                {"n": n, "dtype": "float64"}))
    section.notes += [
        "every peer: the kernel matrix, cholesky, one lower-triangular solve and the "
        "log-determinant, differentiated in reverse mode and compiled where the peer compiles "
        "(jitgrad.jit, jax.jit); torch.linalg and autograd.scipy.linalg for the solve.",
        "numpy: the gradient by hand, 0.5 tr((K^-1 - a a^T) dK/dθ) with K^-1 from the Cholesky "
        "factor."]
    return section
