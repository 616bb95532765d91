"""The N-bit flip-flop task (Sussillo & Barak 2013)."""

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
    shift_right,
    sign_accuracy,
)


class FlipFlop(AbstractTask):
    r"""N-bit flip-flop: each output channel holds the sign of its last input pulse.

    Follows the 3-bit flip-flop of Sussillo & Barak (2013, "Opening the black box",
    Neural Computation 25:626). At every time index each of the ``n_bits`` input
    channels independently carries a pulse with probability ``p_pulse``, of value +1
    or -1 with equal probability, and 0 otherwise. Target channel $c$ at index $k$ is
    the value of the most recent pulse of channel $c$ at an index $j < k$, and 0
    before the first pulse (so a pulse at $j$ shows from $j + 1$ on; see
    :mod:`dynax.tasks` on causality).

    Mask: 1 everywhere except the ``settle_steps`` indices $j+1, \dots,
    j+\text{settle\_steps}$ after every pulse at $j$ in that channel, which are left
    out because a continuous-time network needs a few steps to flip. The leading
    zeros before a channel's first pulse have mask 1 (the net should output 0).

    Args:
        n_bits: number of independent channels (``n_in = n_out = n_bits``), >= 1.
        p_pulse: pulse probability per channel and time index, in [0, 1]. Default
            0.05.
        n_steps: number of time indices per trial, >= 2. Default 100.
        dt: time step, > 0. Default 0.1.
        settle_steps: number of indices masked after each pulse, >= 0. Default 2.

    ``ood()``: trials 4x longer (``4 * n_steps``) with half the pulse rate
    (``p_pulse / 2``), so states must be held for longer than in training.

    ``score()``: sign accuracy over entries with ``mask > 0`` and ``target != 0``.
    """

    n_bits: int = eqx.field(static=True)
    p_pulse: float = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    settle_steps: int = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        n_bits: int = 3,
        p_pulse: float = 0.05,
        n_steps: int = 100,
        dt: float = 0.1,
        settle_steps: int = 2,
    ):
        self.n_bits = check_int("n_bits", n_bits, 1)
        self.p_pulse = check_float("p_pulse", p_pulse, low=0.0, high=1.0)
        self.n_steps = check_int("n_steps", n_steps, 2)
        self.dt = check_float("dt", dt, low=0.0, low_open=True)
        self.settle_steps = check_int("settle_steps", settle_steps, 0)
        self.n_in = self.n_out = self.n_bits

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial of random pulses and the held targets."""
        # One uniform per entry: +1 below p/2, -1 in [p/2, p), no pulse above.
        u = jr.uniform(key, (self.n_steps, self.n_bits), float_dtype())
        sign = jnp.where(u < self.p_pulse / 2, 1.0, -1.0)
        return self.label(jnp.where(u < self.p_pulse, sign, 0.0).astype(u.dtype))

    def label(self, inputs: Float[Array, "time n_bits"]) -> TaskBatch:
        """Return the batch (targets, mask) that an input sequence calls for.

        Any nonzero entry is a pulse whose sign is held. ``sample(key)`` equals
        ``label`` of random pulses; this pure, causal map is exposed for tests and
        for hand-built trials.
        """
        if inputs.shape != (self.n_steps, self.n_in):
            raise ValueError(
                f"inputs: expected shape {(self.n_steps, self.n_in)}, "
                f"got {inputs.shape}."
            )

        pulse = inputs != 0
        idx = jnp.arange(self.n_steps).reshape(-1, 1)
        last = jax.lax.cummax(jnp.where(pulse, idx, -1), axis=0)  # last pulse <= k
        value = jnp.take_along_axis(inputs, jnp.maximum(last, 0), axis=0)
        held = jnp.where(last >= 0, jnp.sign(value), 0.0)
        targets = shift_right(held, 1, 0.0)  # the last pulse strictly before k
        # Pulses at j in [k - settle_steps, k - 1]: difference of shifted counts.
        counts = jnp.cumsum(pulse.astype(jnp.int32), axis=0)
        before = shift_right(counts, 1, 0)  # pulses at indices < k
        recent = before - shift_right(before, self.settle_steps, 0)
        mask = jnp.where(recent > 0, 0.0, 1.0).astype(inputs.dtype)
        return TaskBatch(inputs=inputs, targets=targets, mask=mask)

    def ood(self) -> "FlipFlop":
        """Return the task with 4x longer trials and half the pulse rate."""
        return FlipFlop(
            n_bits=self.n_bits,
            p_pulse=self.p_pulse / 2,
            n_steps=4 * self.n_steps,
            dt=self.dt,
            settle_steps=self.settle_steps,
        )

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """Sign accuracy over entries with ``mask > 0`` and ``target != 0``."""
        return sign_accuracy(outputs, batch)
