"""Parametric working memory: delayed discrimination of two stimulus amplitudes."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_float, check_int
from ._base import (
    AbstractTask,
    TaskBatch,
    float_dtype,
    sign_accuracy,
)


class DelayedDiscrimination(AbstractTask):
    r"""Compare the amplitude of two pulses separated by a variable delay.

    After Romo et al. (1999, Nature 399:470), in the rate-network form of Yang et al.
    (2019, Nat. Neurosci. 22:297). Two input channels: channel 0 is a fixation cue,
    channel 1 carries the stimuli. A trial is laid out in time indices as

    * ``[0, pre_steps)``: fixation only;
    * ``stim_steps`` indices of $f_1$ on channel 1, starting at ``pre_steps``;
    * a delay of $D$ indices, $D$ uniform on ``{delay_min, ..., delay_max}``;
    * ``stim_steps`` indices of $f_2$, ending at index $g$ (exclusive);
    * the fixation cue is 1 on ``[0, g)`` and 0 from the go index $g$ on;
    * the response window ``[g + 1, g + response_steps]``, starting one index after
      the go cue so that it has been seen (causality), where the single target
      channel is $\operatorname{sign}(f_1 - f_2)$;
    * anything after the window (when ``n_steps`` is larger than needed) is blank.

    $f_1$ is uniform on $[f_\text{min}, f_\text{max}]$ and $f_2$ uniform on the part
    of that interval at distance $\ge$ ``min_gap`` from $f_1$, so $f_1 \ne f_2$.
    Targets are 0 and the mask is 0 outside the response window; the mask is 1
    inside it.

    Args:
        f_min: lowest amplitude, > 0 (so a stimulus is never blank). Default 0.2.
        f_max: highest amplitude. Default 1.0.
        min_gap: smallest $|f_1 - f_2|$, > 0 and < ``(f_max - f_min) / 2``.
            Default 0.1.
        pre_steps: fixation indices before $f_1$, >= 0. Default 5.
        stim_steps: duration of each stimulus, >= 1. Default 5.
        delay_min: shortest delay, >= 0. Default 10.
        delay_max: longest delay, >= ``delay_min``. Default 20.
        response_steps: length of the response window, >= 1. Default 10.
        n_steps: indices per trial; ``None`` (default) gives the minimum
            ``pre_steps + 2 stim_steps + delay_max + 1 + response_steps``, and a
            smaller value is an error.
        dt: time step, > 0. Default 0.2.

    ``ood()``: delays beyond the training range, uniform on
    ``{delay_max + 1, ..., 2 delay_max}`` (``{1}`` if ``delay_max = 0``), with
    ``n_steps`` grown by as much as the longest delay.

    ``score()``: sign accuracy in the response window (mask > 0).
    """

    f_min: float = eqx.field(static=True)
    f_max: float = eqx.field(static=True)
    min_gap: float = eqx.field(static=True)
    pre_steps: int = eqx.field(static=True)
    stim_steps: int = eqx.field(static=True)
    delay_min: int = eqx.field(static=True)
    delay_max: int = eqx.field(static=True)
    response_steps: int = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        f_min: float = 0.2,
        f_max: float = 1.0,
        min_gap: float = 0.1,
        pre_steps: int = 5,
        stim_steps: int = 5,
        delay_min: int = 10,
        delay_max: int = 20,
        response_steps: int = 10,
        n_steps: int | None = None,
        dt: float = 0.2,
    ):
        self.f_min = check_float("f_min", f_min, low=0.0, low_open=True)
        self.f_max = check_float("f_max", f_max, low=self.f_min, low_open=True)
        half = (self.f_max - self.f_min) / 2
        self.min_gap = check_float("min_gap", min_gap, low=0.0, low_open=True)
        if not self.min_gap < half:
            raise ValueError(
                f"min_gap: expected a number < (f_max - f_min) / 2 = {half}, "
                f"got {min_gap!r}."
            )
        self.pre_steps = check_int("pre_steps", pre_steps, 0)
        self.stim_steps = check_int("stim_steps", stim_steps, 1)
        self.delay_min = check_int("delay_min", delay_min, 0)
        self.delay_max = check_int("delay_max", delay_max, self.delay_min)
        self.response_steps = check_int("response_steps", response_steps, 1)
        needed = (
            self.pre_steps + 2 * self.stim_steps + self.delay_max + 1
        ) + self.response_steps
        if n_steps is not None:
            needed = check_int("n_steps", n_steps, needed)
        self.n_steps = needed
        self.dt = check_float("dt", dt, low=0.0, low_open=True)
        self.n_in, self.n_out = 2, 1

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial with random amplitudes and delay."""
        dtype = float_dtype()
        u = jr.uniform(key, (3,), dtype)
        f1 = self.f_min + (self.f_max - self.f_min) * u[0]
        # f2 uniform on [f_min, f1 - gap) U [f1 + gap, f_max].
        left = jnp.maximum(f1 - self.min_gap - self.f_min, 0.0)
        right = jnp.maximum(self.f_max - f1 - self.min_gap, 0.0)
        x = u[1] * (left + right)
        f2 = jnp.where(x < left, self.f_min + x, f1 + self.min_gap + (x - left))
        n_delays = self.delay_max - self.delay_min + 1
        offset = jnp.minimum(jnp.floor(u[2] * n_delays), n_delays - 1)
        delay = self.delay_min + offset.astype(jnp.arange(1).dtype)

        idx = jnp.arange(self.n_steps)
        t1 = self.pre_steps
        t2 = t1 + self.stim_steps + delay
        go = t2 + self.stim_steps
        s1 = (idx >= t1) & (idx < t1 + self.stim_steps)
        s2 = (idx >= t2) & (idx < go)
        stim = jnp.where(s1, f1, 0.0) + jnp.where(s2, f2, 0.0)
        fixation = jnp.where(idx < go, 1.0, 0.0).astype(dtype)
        inputs = jnp.stack([fixation, stim], axis=1)
        window = (idx > go) & (idx <= go + self.response_steps)
        targets = jnp.where(window, jnp.sign(f1 - f2), 0.0).reshape(-1, 1)
        mask = jnp.where(window, 1.0, 0.0).astype(dtype).reshape(-1, 1)
        return TaskBatch(inputs=inputs, targets=targets, mask=mask)

    def ood(self) -> "DelayedDiscrimination":
        """Return the task with delays on ``{delay_max + 1, ..., 2 delay_max}``."""
        longest = max(2 * self.delay_max, self.delay_max + 1)
        return DelayedDiscrimination(
            f_min=self.f_min,
            f_max=self.f_max,
            min_gap=self.min_gap,
            pre_steps=self.pre_steps,
            stim_steps=self.stim_steps,
            delay_min=self.delay_max + 1,
            delay_max=longest,
            response_steps=self.response_steps,
            n_steps=self.n_steps + longest - self.delay_max,
            dt=self.dt,
        )

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """Sign accuracy in the response window."""
        return sign_accuracy(outputs, batch)
