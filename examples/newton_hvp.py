"""Newton-CG on the 10-dimensional Rosenbrock function, with Hessian-vector products from
forward-over-reverse differentiation, ``jg.jvp(jg.grad(f), (x,), (v,))``: the Hessian is never
formed."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


value_and_grad = jg.jit(jg.value_and_grad(rosenbrock))
hvp = jg.jit(lambda x, v: jg.jvp(jg.grad(rosenbrock), (x,), (v,))[1])


def newton_direction(x, g, max_iter=50):
    """Approximately solve H p = -g by conjugate gradients on Hessian-vector products,
    stopping early at negative curvature (truncated Newton)."""
    p, r = np.zeros_like(g), -g
    d = r.copy()
    tol = min(0.5, np.sqrt(np.linalg.norm(g))) * np.linalg.norm(g)
    for _ in range(max_iter):
        hd = hvp(x, d)
        curvature = d @ hd
        if curvature <= 0:
            return p if p.any() else -g
        alpha = (r @ r) / curvature
        p = p + alpha * d
        r_new = r - alpha * hd
        if np.linalg.norm(r_new) < tol:
            break
        d = r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return p


def check_hvp(x, v, eps=1e-6):
    """The HVP against a central difference of the gradient along v."""
    fd = (value_and_grad(x + eps * v)[1] - value_and_grad(x - eps * v)[1]) / (2 * eps)
    return np.max(np.abs(hvp(x, v) - fd)) / np.max(np.abs(fd))


def main():
    rng = np.random.default_rng(0)
    print(f"HVP vs finite differences: relative error "
          f"{check_hvp(rng.uniform(-1, 1, 10), rng.standard_normal(10)):.1e}")
    x = np.zeros(10)
    for it in range(100):
        f, g = value_and_grad(x)
        print(f"iter {it:2d}: f = {f:.3e}  |grad| = {np.linalg.norm(g):.3e}")
        if np.linalg.norm(g) < 1e-10:
            break
        p, t = newton_direction(x, g), 1.0
        while value_and_grad(x + t * p)[0] > f + 1e-4 * t * (g @ p):  # backtracking (Armijo)
            t *= 0.5
        x = x + t * p
    print("x =", np.array2string(x, precision=10))
    error = np.max(np.abs(x - 1.0))
    print(f"max |x - 1| = {error:.1e}")
    print("converged to the minimum at all-ones" if error < 1e-8 else "did not converge")


if __name__ == "__main__":
    main()
