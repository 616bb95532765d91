"""Path integration: report the position reached by integrating a velocity input."""

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_float, check_int
from ._base import (
    AbstractTask,
    TaskBatch,
    float_dtype,
    r_squared,
    shift_right,
)


class PathIntegration(AbstractTask):
    r"""Integrate a smooth random velocity into a position (dead reckoning).

    The input is a ``dim``-dimensional velocity $v$, an Ornstein-Uhlenbeck process
    with correlation time $\tau_v$ = ``tau_v`` and stationary standard deviation
    $s$ = ``speed`` per component, sampled exactly on the grid and started from its
    stationary law:

    $$v_0 \sim \mathcal N(0, s^2), \qquad v_{k+1} = a v_k + s\sqrt{1 - a^2}\,\xi_k,
    \qquad a = e^{-\Delta t/\tau_v}.$$

    The target is the position integrated from the origin with the same
    piecewise-constant rule that drives the network, strictly from the past:

    $$x_k = \Delta t \sum_{j < k} v_j, \qquad x_0 = 0.$$

    Mask: all ones. Positions drift like a random walk: their variance grows about
    linearly in time for $t \gg \tau_v$.

    Args:
        dim: number of spatial dimensions (``n_in = n_out = dim``), >= 1. Default 2.
        n_steps: number of time indices per trial, >= 2. Default 100.
        dt: time step, > 0. Default 0.1.
        tau_v: velocity correlation time, > 0. Default 1.0.
        speed: stationary standard deviation of each velocity component, > 0.
            Default 1.0.

    ``ood()``: trials 4x longer (``4 * n_steps``), so positions wander about twice
    as far as in training.

    ``score()``: $R^2 = 1 - \mathrm{SSE}/\mathrm{SST}$ over masked entries, per
    channel mean, pooled over trials, time and channels (not floored).
    """

    dim: int = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    tau_v: float = eqx.field(static=True)
    speed: float = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        dim: int = 2,
        n_steps: int = 100,
        dt: float = 0.1,
        tau_v: float = 1.0,
        speed: float = 1.0,
    ):
        self.dim = check_int("dim", dim, 1)
        self.n_steps = check_int("n_steps", n_steps, 2)
        self.dt = check_float("dt", dt, low=0.0, low_open=True)
        self.tau_v = check_float("tau_v", tau_v, low=0.0, low_open=True)
        self.speed = check_float("speed", speed, low=0.0, low_open=True)
        self.n_in = self.n_out = self.dim

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial: an Ornstein-Uhlenbeck velocity and its integral."""
        xi = jr.normal(key, (self.n_steps, self.dim), float_dtype())
        a = math.exp(-self.dt / self.tau_v)
        scale = math.sqrt(1.0 - a * a)

        def step(v, xi_k):
            v_next = a * v + scale * xi_k
            return v_next, v_next

        _, rest = jax.lax.scan(step, xi[0], xi[1:])
        velocity = self.speed * jnp.concatenate([xi[:1], rest], axis=0)
        return self.label(velocity)

    def label(self, inputs: Float[Array, "time dim"]) -> TaskBatch:
        """Return the batch whose targets integrate the velocity ``inputs``.

        ``targets[k] = dt * sum(inputs[:k])``; the mask is all ones. Exposed as a
        pure, causal map for tests and hand-built trials.
        """
        if inputs.shape != (self.n_steps, self.n_in):
            raise ValueError(
                f"inputs: expected shape {(self.n_steps, self.n_in)}, "
                f"got {inputs.shape}."
            )
        position = shift_right(self.dt * jnp.cumsum(inputs, axis=0), 1, 0.0)
        return TaskBatch(inputs=inputs, targets=position, mask=jnp.ones_like(position))

    def ood(self) -> "PathIntegration":
        """Return the task with 4x longer trials."""
        return PathIntegration(
            dim=self.dim,
            n_steps=4 * self.n_steps,
            dt=self.dt,
            tau_v=self.tau_v,
            speed=self.speed,
        )

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """$R^2$ of ``outputs`` against the positions over masked entries."""
        return r_squared(outputs, batch)
