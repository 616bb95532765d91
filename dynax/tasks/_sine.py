"""The sine-wave generator task (Sussillo & Barak 2013)."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_bool, check_float, check_int
from ._base import (
    AbstractTask,
    TaskBatch,
    float_dtype,
    r_squared,
)


class SineWave(AbstractTask):
    r"""Sine-wave generator: a static input level selects the frequency of the output.

    Follows the sine-wave generator of Sussillo & Barak (2013, Neural Computation
    25:626). A trial draws an index $j$ uniformly from $\{0, \dots, n_f - 1\}$ with
    $n_f$ = ``n_freqs``; the single input channel is the constant level
    $j / n_f + 0.25$ and the target is $\sin(\omega_j t)$ at the grid times ``ts``,
    with the angular frequency (radians per time unit)

    $$\omega_j = \omega_\text{min} + j\,\frac{\omega_\text{max} - \omega_\text{min}}
    {n_f - 1}.$$

    The target at ``ts[0] = 0`` is 0 whatever the input, and later targets depend on
    the (constant) input seen before, so the task is causal. Mask: all ones.

    Args:
        n_freqs: number of training levels $n_f$, >= 2. Default 51.
        freq_min: lowest angular frequency $\omega_\text{min}$, > 0. Default 0.1.
        freq_max: highest angular frequency $\omega_\text{max} > \omega_\text{min}$.
            Default 0.6.
        n_steps: number of time indices per trial, >= 2. Default 400.
        dt: time step, > 0. Default 0.5 (a trial of 200 time units holds about three
            periods of the slowest and nineteen of the fastest wave).
        midpoints: if ``True``, draw $j + 1/2$ with $j \in \{0, \dots, n_f - 2\}$
            instead: the levels and frequencies half-way between training ones.
            Default ``False``.

    ``ood()``: the same task with ``midpoints=True`` (interpolation to frequencies
    never trained on).

    ``score()``: $R^2 = 1 - \mathrm{SSE}/\mathrm{SST}$ over masked entries, pooled
    over trials and time (not floored; 1 is perfect, 0 is the mean).
    """

    n_freqs: int = eqx.field(static=True)
    freq_min: float = eqx.field(static=True)
    freq_max: float = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    midpoints: bool = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        n_freqs: int = 51,
        freq_min: float = 0.1,
        freq_max: float = 0.6,
        n_steps: int = 400,
        dt: float = 0.5,
        midpoints: bool = False,
    ):
        self.n_freqs = check_int("n_freqs", n_freqs, 2)
        self.freq_min = check_float("freq_min", freq_min, low=0.0, low_open=True)
        self.freq_max = check_float(
            "freq_max", freq_max, low=self.freq_min, low_open=True
        )
        self.n_steps = check_int("n_steps", n_steps, 2)
        self.dt = check_float("dt", dt, low=0.0, low_open=True)
        check_bool("midpoints", midpoints)
        self.midpoints = midpoints
        self.n_in = self.n_out = 1

    def level(self, j: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """Return the input level $j / n_f + 0.25$ of (possibly fractional) index j."""
        return j / self.n_freqs + 0.25

    def frequency(self, j: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""Return the angular frequency $\omega_j$ of (possibly fractional) index j."""
        step = (self.freq_max - self.freq_min) / (self.n_freqs - 1)
        return self.freq_min + j * step

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial: a constant level and the sine wave it selects."""
        dtype = float_dtype()
        n_levels = self.n_freqs - 1 if self.midpoints else self.n_freqs
        offset = 0.5 if self.midpoints else 0.0
        j = jr.randint(key, (), 0, n_levels).astype(dtype) + offset
        inputs = jnp.full((self.n_steps, 1), self.level(j), dtype)
        targets = jnp.sin(self.frequency(j) * self.ts).reshape(self.n_steps, 1)
        return TaskBatch(inputs=inputs, targets=targets, mask=jnp.ones_like(targets))

    def ood(self) -> "SineWave":
        """Return the task at the frequencies half-way between the training ones."""
        return SineWave(
            n_freqs=self.n_freqs,
            freq_min=self.freq_min,
            freq_max=self.freq_max,
            n_steps=self.n_steps,
            dt=self.dt,
            midpoints=True,
        )

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """$R^2$ of ``outputs`` against the targets over masked entries."""
        return r_squared(outputs, batch)
