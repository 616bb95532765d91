"""Small models and inputs shared by the tests (independent of dynax's models)."""

import equinox as eqx
import jax
import jax.numpy as jnp

import dynax as dx


class Linear(dx.models.AbstractDynamics):
    """dy/dt = A y + B u."""

    A: jax.Array
    B: jax.Array

    def __call__(self, t, y, args):
        u = jnp.zeros(self.B.shape[1], y.dtype) if args is None else args.evaluate(t)
        return self.A @ y + self.B @ u

    def init_state(self):
        return jnp.zeros(self.A.shape[0], self.A.dtype)

    def readout(self, y):
        return y[:1]


class OU(dx.models.AbstractStochasticDynamics):
    """dy = -theta y dt + s dW (diagonal)."""

    theta: jax.Array
    s: jax.Array

    def __call__(self, t, y, args):
        return -self.theta * y

    def diffusion(self, t, y, args):
        return jnp.broadcast_to(self.s, y.shape)

    def init_state(self):
        return jnp.zeros(4)


class Logistic(dx.models.AbstractMap):
    r: jax.Array

    def __call__(self, t, y, args):
        u = jnp.zeros_like(y) if args is None else args.evaluate(t)[:1]
        return self.r * y * (1 - y) + u

    def init_state(self):
        return jnp.full((1,), 0.2)


class Integrator(eqx.Module):
    """A plain callable f(t, y, args) = u(t) (no dynax base class)."""

    def __call__(self, t, y, args):
        return args.evaluate(t)
