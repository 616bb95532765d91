r"""Memory tasks on a stream of random bits: N-parity and N-delayed match-to-sample.

Both follow the N-parity / N-DMS tasks and their single-head and multi-head curricula
in Khajehabdollahi, Zeraati, Giannakakis, Schäfer, Martius & Levina, "Emergent
mechanisms for long timescales depend on training curriculum and affect performance
in memory tasks" (arXiv:2309.12927), with bits coded as $\pm 1$ instead of 0/1.
"""

import abc
from collections.abc import Callable
from typing import ClassVar, TypeVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import check_choice, check_float, check_int
from ._base import (
    AbstractTask,
    TaskBatch,
    float_dtype,
    shift_right,
    sign_accuracy,
)

_HEADS = ("single", "multi")


class AbstractBitStreamTask(AbstractTask):
    r"""A stream of random $\pm 1$ bits with targets computed from the recent bits.

    Bit $b_i$ (uniform on $\{-1, +1\}$) is held on the single input channel for
    ``bit_steps`` indices, ``[i * bit_steps, (i + 1) * bit_steps)``. The targets for
    bit $i$ (a function of $b_0, \dots, b_i$) are shown one index later, on
    ``[i * bit_steps + 1, (i + 1) * bit_steps]``, so they depend on past inputs
    only; index 0 has target 0 and mask 0. Head $h$ is masked (target 0, mask 0)
    until enough bits have been seen to define it, and so are the first
    ``settle_steps`` indices of every bit's target period.

    Subclasses implement :meth:`bit_targets` and :meth:`history`; ``n_out`` is 1 for
    ``heads="single"`` and ``n`` for ``heads="multi"``.
    """

    n: eqx.AbstractVar[int]
    heads: eqx.AbstractVar[str]
    bit_steps: eqx.AbstractVar[int]
    settle_steps: eqx.AbstractVar[int]

    @abc.abstractmethod
    def bit_targets(
        self, bits: Float[Array, " n_bits"]
    ) -> Float[Array, "n_bits n_out"]:
        """Return the ±1 target of every head for every bit index $i$."""

    @abc.abstractmethod
    def history(self) -> tuple[int, ...]:
        """Return, per head, the first bit index at which its target is defined."""

    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one trial: a random bit stream and the targets it calls for."""
        n_bits = -(-self.n_steps // self.bit_steps)
        bits = jr.rademacher(key, (n_bits,), dtype=float_dtype())
        inputs = jnp.repeat(bits, self.bit_steps)[: self.n_steps]
        return self.label(inputs.reshape(self.n_steps, 1))

    def label(self, inputs: Float[Array, "time 1"]) -> TaskBatch:
        """Return the batch (targets, mask) that an input stream calls for.

        Bit $i$ is read as the sign of ``inputs[i * bit_steps]``. ``sample(key)``
        equals ``label`` of a random stream; this pure, causal map is exposed for
        tests and hand-built trials.
        """
        if inputs.shape != (self.n_steps, 1):
            raise ValueError(
                f"inputs: expected shape {(self.n_steps, 1)}, got {inputs.shape}."
            )
        per_bit = self.bit_targets(jnp.sign(inputs[:: self.bit_steps, 0]))
        k = jnp.arange(self.n_steps) - 1  # target index k shows bit (k - 1) // bs
        bit = k // self.bit_steps
        settled = (k % self.bit_steps >= self.settle_steps).reshape(-1, 1)
        need = jnp.asarray(self.history(), dtype=bit.dtype).reshape(1, -1)
        valid = bit.reshape(-1, 1) >= need
        targets = jnp.where(valid, per_bit[jnp.maximum(bit, 0)], 0.0)
        mask = jnp.where(valid & settled, 1.0, 0.0).astype(inputs.dtype)
        return TaskBatch(inputs=inputs, targets=targets, mask=mask)

    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """Sign accuracy over masked entries, pooled over heads."""
        return sign_accuracy(outputs, batch)


def _validate(
    n: int, heads: str, dt: float, bit_steps: int, settle_steps: int
) -> tuple[int, str, float, int, int]:
    """Validate the arguments shared by the bit-stream tasks."""
    n = check_int("n", n, 1)
    heads = check_choice("heads", heads, _HEADS)
    dt = check_float("dt", dt, low=0.0, low_open=True)
    bit_steps = check_int("bit_steps", bit_steps, 1)
    settle_steps = check_int("settle_steps", settle_steps, 0)
    if settle_steps >= bit_steps:
        raise ValueError(
            f"settle_steps: expected an integer < bit_steps = {bit_steps}, "
            f"got {settle_steps}."
        )
    return n, heads, dt, bit_steps, settle_steps


def _check_n_steps(task: AbstractBitStreamTask, n_steps: int) -> int:
    """Validate ``n_steps`` against the longest history a head needs."""
    first = max(task.history()) * task.bit_steps + 1 + task.settle_steps
    return check_int("n_steps", n_steps, first + 1)


class NParity(AbstractBitStreamTask):
    r"""N-parity: output the parity of the last ``n`` bits of a ±1 stream.

    The parity of bits $b_{i-m+1}, \dots, b_i$ is their product ($+1$ for an even
    number of $-1$ bits). ``heads="single"``: one output, $m = n$, defined from bit
    $n - 1$ on. ``heads="multi"``: ``n`` outputs, head $h$ giving the parity of the
    last $h + 1$ bits, defined from bit $h$ on. Stream, timing and masking:
    :class:`AbstractBitStreamTask`. Source: Khajehabdollahi et al.
    (arXiv:2309.12927); build the curricula with :func:`curriculum`.

    Args:
        n: number of bits in the parity, >= 1. Default 3.
        heads: ``"single"`` or ``"multi"``. Default ``"single"``.
        n_steps: number of time indices per trial; at least
            ``(longest history) * bit_steps + settle_steps + 2`` so that every head
            is scored somewhere. Default 100.
        dt: time step, > 0. Default 1.0.
        bit_steps: indices each bit is held, >= 1. Default 1.
        settle_steps: indices masked at the start of each bit's target period,
            ``0 <= settle_steps < bit_steps``. Default 0.

    ``ood()``: streams 4x longer (``4 * n_steps``).

    ``score()``: sign accuracy over masked entries, pooled over heads.
    """

    n: int = eqx.field(static=True)
    heads: str = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    bit_steps: int = eqx.field(static=True)
    settle_steps: int = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        n: int = 3,
        heads: str = "single",
        n_steps: int = 100,
        dt: float = 1.0,
        bit_steps: int = 1,
        settle_steps: int = 0,
    ):
        self.n, self.heads, self.dt, self.bit_steps, self.settle_steps = _validate(
            n, heads, dt, bit_steps, settle_steps
        )
        self.n_in, self.n_out = 1, (self.n if self.heads == "multi" else 1)
        self.n_steps = _check_n_steps(self, n_steps)

    def history(self) -> tuple[int, ...]:
        """Head $h$ (parity of $h + 1$ bits) is defined from bit $h$ on."""
        return tuple(range(self.n)) if self.heads == "multi" else (self.n - 1,)

    def bit_targets(
        self, bits: Float[Array, " n_bits"]
    ) -> Float[Array, "n_bits n_out"]:
        """Return the parity of the last 1..n bits (multi) or of the last n (single)."""
        running, parities = bits, [bits]
        for lag in range(1, self.n):
            running = running * shift_right(bits, lag, 1.0)
            parities.append(running)
        if self.heads == "single":
            parities = parities[-1:]
        return jnp.stack(parities, axis=1)

    def ood(self) -> "NParity":
        """Return the task with 4x longer streams."""
        return NParity(
            n=self.n,
            heads=self.heads,
            n_steps=4 * self.n_steps,
            dt=self.dt,
            bit_steps=self.bit_steps,
            settle_steps=self.settle_steps,
        )


class NDelayedMatch(AbstractBitStreamTask):
    r"""N-delayed match-to-sample (N-DMS) on a ±1 stream.

    The target for bit $i$ and lag $L$ is $+1$ if $b_i = b_{i-L}$ and $-1$ otherwise,
    i.e. $b_i b_{i-L}$. ``heads="single"``: one output, lag $L = n$, defined from
    bit $n$ on. ``heads="multi"``: ``n`` outputs, head $h$ with lag $h + 1$, defined
    from bit $h + 1$ on. Stream, timing and masking: :class:`AbstractBitStreamTask`.
    Source: Khajehabdollahi et al. (arXiv:2309.12927); build the curricula with
    :func:`curriculum`.

    Args:
        n: the lag, >= 1. Default 3.
        heads: ``"single"`` or ``"multi"``. Default ``"single"``.
        n_steps: number of time indices per trial; at least
            ``n * bit_steps + settle_steps + 2``. Default 100.
        dt: time step, > 0. Default 1.0.
        bit_steps: indices each bit is held, >= 1. Default 1.
        settle_steps: indices masked at the start of each bit's target period,
            ``0 <= settle_steps < bit_steps``. Default 0.

    ``ood()``: streams 4x longer (``4 * n_steps``).

    ``score()``: sign accuracy over masked entries, pooled over heads.
    """

    n: int = eqx.field(static=True)
    heads: str = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    bit_steps: int = eqx.field(static=True)
    settle_steps: int = eqx.field(static=True)
    n_in: int = eqx.field(static=True)
    n_out: int = eqx.field(static=True)
    loss_kind: ClassVar[str] = "mse"

    def __init__(
        self,
        n: int = 3,
        heads: str = "single",
        n_steps: int = 100,
        dt: float = 1.0,
        bit_steps: int = 1,
        settle_steps: int = 0,
    ):
        self.n, self.heads, self.dt, self.bit_steps, self.settle_steps = _validate(
            n, heads, dt, bit_steps, settle_steps
        )
        self.n_in, self.n_out = 1, (self.n if self.heads == "multi" else 1)
        self.n_steps = _check_n_steps(self, n_steps)

    def history(self) -> tuple[int, ...]:
        """Head with lag $L$ is defined from bit $L$ on."""
        return tuple(range(1, self.n + 1)) if self.heads == "multi" else (self.n,)

    def bit_targets(
        self, bits: Float[Array, " n_bits"]
    ) -> Float[Array, "n_bits n_out"]:
        """Return $b_i b_{i-L}$ for lags 1..n (multi) or lag n (single)."""
        lags = range(1, self.n + 1) if self.heads == "multi" else (self.n,)
        return jnp.stack([bits * shift_right(bits, lag, 1.0) for lag in lags], axis=1)

    def ood(self) -> "NDelayedMatch":
        """Return the task with 4x longer streams."""
        return NDelayedMatch(
            n=self.n,
            heads=self.heads,
            n_steps=4 * self.n_steps,
            dt=self.dt,
            bit_steps=self.bit_steps,
            settle_steps=self.settle_steps,
        )


_Task = TypeVar("_Task", bound=AbstractBitStreamTask)


def curriculum(
    task_cls: Callable[..., _Task], n_max: int, *, n_min: int = 1, **kwargs
) -> list[_Task]:
    """Return the tasks ``task_cls(n=m, **kwargs)`` for ``m = n_min, ..., n_max``.

    With ``heads="single"`` (the default) this is the single-head curriculum of
    Khajehabdollahi et al. (arXiv:2309.12927): one output, trained on N = n_min,
    then n_min + 1, ... With ``heads="multi"`` it is their multi-head curriculum:
    stage m trains heads 1..m together, so ``n_out`` grows by one per stage and the
    readout must grow with it. Training on the list, in order, is up to the caller.

    Args:
        task_cls: :class:`NParity` or :class:`NDelayedMatch` (or any callable taking
            ``n=`` and returning such a task).
        n_max: the last (hardest) ``n``, >= ``n_min``.
        n_min: the first ``n``, >= 1. Default 1.
        **kwargs: passed to every task (``heads``, ``n_steps``, ``bit_steps``, ...).

    Returns:
        A list of ``n_max - n_min + 1`` tasks of increasing ``n``.

    Example:
        >>> stages = curriculum(NParity, 5, n_min=2, n_steps=60)
        >>> [task.n for task in stages]
        [2, 3, 4, 5]
    """
    n_min = check_int("n_min", n_min, 1)
    n_max = check_int("n_max", n_max, n_min)
    return [task_cls(n=m, **kwargs) for m in range(n_min, n_max + 1)]
