"""An ODE integrator written with lax.scan and differentiated end to end: fit the damping of
a pendulum to an observed trajectory by gradient descent through 200 RK4 steps."""

import numpy as np

import jitgrad as jg
import jitgrad.numpy as jnp
from jitgrad import lax

DT, STEPS = 0.05, 200


def pendulum(state, damping):
    theta, omega = state[0], state[1]
    return jnp.stack([omega, -9.81 * jnp.sin(theta) - damping * omega])


def rk4(state, damping):
    k1 = pendulum(state, damping)
    k2 = pendulum(state + 0.5 * DT * k1, damping)
    k3 = pendulum(state + 0.5 * DT * k2, damping)
    k4 = pendulum(state + DT * k3, damping)
    return state + DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def trajectory(damping, state0):
    def step(state, _):
        new = rk4(state, damping)
        return new, new[0]

    _, thetas = lax.scan(step, state0, None, length=STEPS)
    return thetas


def main() -> None:
    state0 = np.array([2.0, 0.0])
    observed = np.asarray(trajectory(0.7, state0))  # "measurements" with the true damping

    def loss(damping):
        return jnp.mean((trajectory(damping, state0) - observed) ** 2)

    value_and_grad = jg.jit(jg.value_and_grad(loss))
    d = np.array(0.2)
    for it in range(100):
        value, g = value_and_grad(d)
        d = d - 0.1 * np.clip(g, -1.0, 1.0)
        if it % 20 == 0:
            print(f"iteration {it:2d}: damping {float(d):.4f}, loss {float(value):.3e}")
    print(f"fitted damping {float(d):.4f} (true 0.7)")
    fd = (loss(0.3 + 1e-6) - loss(0.3 - 1e-6)) / 2e-6
    print(f"d loss/d damping at 0.3: scan gradient {float(jg.grad(loss)(0.3)):.6f}, "
          f"finite difference {float(fd):.6f}")


if __name__ == "__main__":
    main()
