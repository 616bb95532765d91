"""The task interface (:class:`AbstractTask`, :class:`TaskBatch`) and shared helpers.

A task is a pure sampler of single trials. Its time grid is
``ts = dt * arange(n_steps)`` and a trial is run as
``dynax.simulate(model, y0, task.ts, inputs=batch.inputs)``, whose state at index
``k`` has seen ``inputs[0..k-1]`` only. Every task therefore makes
``targets[k]`` (and ``mask[k]``) depend on ``inputs[0..k-1]`` only: an event at input
index ``j`` shows in the targets from index ``j + 1`` on.
"""

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike
from jaxtyping import Array, Float, PRNGKeyArray

from .._validate import fail


def float_dtype() -> DTypeLike:
    """Return JAX's default float dtype (float64 with ``jax_enable_x64``, else 32)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


class TaskBatch(eqx.Module):
    """One trial (or, after ``vmap``, a batch of trials) of a task.

    Attributes:
        inputs: the input sampled on the task's time grid; ``inputs[k]`` drives the
            step from ``ts[k]`` to ``ts[k + 1]``.
        targets: the desired readout at each time index.
        mask: 0/1 weights of the same shape as ``targets``; entries with weight 0
            are left out of losses and scores.
    """

    inputs: Float[Array, "*batch time n_in"]
    targets: Float[Array, "*batch time n_out"]
    mask: Float[Array, "*batch time n_out"]


class AbstractTask(eqx.Module):
    """A generator of single trials ``(inputs, targets, mask)`` on a fixed time grid.

    Concrete tasks hold only static sizes and probabilities (they are not trained) and
    implement :meth:`sample`, :meth:`ood` and :meth:`score`. ``loss_kind`` says which
    loss fits the targets: ``"mse"`` for regression-style targets, ``"cross_entropy"``
    where targets are one-hot classes (outputs are then logits).

    Attributes:
        n_in: number of input channels.
        n_out: number of target channels.
        n_steps: number of time indices in one trial.
        dt: spacing of the time grid.
    """

    n_in: eqx.AbstractVar[int]
    n_out: eqx.AbstractVar[int]
    n_steps: eqx.AbstractVar[int]
    dt: eqx.AbstractVar[float]
    if TYPE_CHECKING:
        loss_kind: ClassVar[str]
    else:
        loss_kind: eqx.AbstractClassVar[str]

    @property
    def ts(self) -> Float[Array, " time"]:
        """The time grid ``dt * arange(n_steps)`` in the default float dtype."""
        return self.dt * jnp.arange(self.n_steps, dtype=float_dtype())

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray) -> TaskBatch:
        """Return one random trial; pure JAX, so it can be jitted and vmapped."""

    @abc.abstractmethod
    def ood(self) -> "AbstractTask":
        """Return the out-of-distribution variant of this task."""

    @abc.abstractmethod
    def score(
        self, outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
    ) -> Float[Array, ""]:
        """Return a performance score (higher is better) of ``outputs`` on ``batch``."""


# --- scores -------------------------------------------------------------------------


def check_outputs(outputs: Array, batch: TaskBatch) -> None:
    """Raise ``ValueError`` unless ``outputs`` has the shape of ``batch.targets``."""
    if outputs.shape != batch.targets.shape:
        what = f"the shape of batch.targets {batch.targets.shape}"
        fail("outputs", what, f"{outputs.shape}")


def sign_accuracy(
    outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
) -> Float[Array, ""]:
    """Fraction of scored entries where ``outputs`` has the sign of ``targets``.

    Scored entries are those with ``mask > 0`` and ``targets != 0``, pooled over every
    batch axis, time and channel; an output of exactly 0 counts as wrong. The result
    is in [0, 1] (NaN if no entry is scored).
    """
    check_outputs(outputs, batch)
    weight = jnp.where(batch.targets != 0, batch.mask, 0.0)
    right = jnp.where(outputs * batch.targets > 0, weight, 0.0)
    return jnp.sum(right) / jnp.sum(weight)


def r_squared(
    outputs: Float[Array, "*batch time n_out"], batch: TaskBatch
) -> Float[Array, ""]:
    r"""Coefficient of determination $1 - \mathrm{SSE}/\mathrm{SST}$ on masked entries.

    $\mathrm{SSE} = \sum w (y - \hat y)^2$ and $\mathrm{SST} = \sum w (y - \bar y_c)^2$
    with $w$ the mask, $y$ the targets, $\hat y$ the outputs and $\bar y_c$ the
    mask-weighted mean of channel $c$ over every batch axis and time. Not floored:
    1 for perfect outputs, 0 for the channel means, negative for worse.
    """
    check_outputs(outputs, batch)
    y, w = batch.targets, batch.mask
    axes = tuple(range(y.ndim - 1))
    total = jnp.sum(w, axis=axes, keepdims=True)
    mean = jnp.sum(w * y, axis=axes, keepdims=True) / total
    sse = jnp.sum(w * (y - outputs) ** 2)
    sst = jnp.sum(w * (y - mean) ** 2)
    return 1.0 - sse / sst


def shift_right(x: Array, by: int, fill: float | int) -> Array:
    """Shift ``x`` by ``by >= 0`` places along axis 0, filling in ``fill`` first."""
    if by == 0:
        return x
    pad = jnp.full((min(by, x.shape[0]),) + x.shape[1:], fill, x.dtype)
    return jnp.concatenate([pad, x[: max(x.shape[0] - by, 0)]], axis=0)
