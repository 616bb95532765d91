r"""Where a training step's trials come from: a task's sampler or a fixed data set.

:func:`dynax.train.fit` and :func:`dynax.train.evaluate` take either a
:mod:`dynax.tasks` task (fresh trials drawn every step) or a :class:`Dataset` of
recorded or precomputed trials (minibatches drawn from it). Both go through
:func:`step_batch`, so the training loop is one and the same.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Array, Float, PRNGKeyArray
from .._validate import ArgumentTypeError
from ..tasks import TaskBatch
from ..tasks._base import r_squared


class Dataset(eqx.Module):
    r"""A fixed set of trials on one time grid, to train and evaluate on.

    Use it for recorded data, or for trials made elsewhere; it plays the part of a
    task in :func:`fit` and :func:`evaluate`. Each training step takes a minibatch
    of ``batch_size`` trials: with ``shuffle`` (default) the trials are visited in a
    fresh random order every epoch (drawn from ``fit``'s key; every trial once per
    epoch), otherwise in their stored order, wrapping around. ``evaluate`` uses
    every trial.

    Attributes:
        ts: the time grid of one trial, shape ``(time,)``.
        inputs: ``(trials, time, n_in)``; ``inputs[:, k]`` drives the step from
            ``ts[k]`` to ``ts[k + 1]`` (see :func:`dynax.simulate`).
        targets: ``(trials, time, n_out)``: what the readout should give at ``ts``.
        mask: weights of the same shape as ``targets`` (default all ones).
        loss_kind: ``"mse"`` or ``"cross_entropy"`` (one-hot targets; outputs are
            logits): the default loss of ``fit``.
        shuffle: visit the trials in a random order each epoch.
    """

    ts: Float[Array, " time"]
    inputs: Float[Array, "trials time n_in"]
    targets: Float[Array, "trials time n_out"]
    mask: Float[Array, "trials time n_out"]
    loss_kind: str = eqx.field(static=True)
    shuffle: bool = eqx.field(static=True)

    def __init__(
        self,
        ts,
        inputs,
        targets,
        mask=None,
        *,
        loss_kind: str = "mse",
        shuffle: bool = True,
    ):
        ts, inputs, targets = (jnp.asarray(x) for x in (ts, inputs, targets))
        if ts.ndim != 1 or ts.shape[0] < 2:
            raise ValueError(
                f"ts: expected a 1-d time grid of at least 2 times, got shape "
                f"{ts.shape}."
            )
        shape = (None, ts.shape[0])
        for name, x in (("inputs", inputs), ("targets", targets)):
            if x.ndim != 3 or x.shape[1] != ts.shape[0]:
                raise ValueError(
                    f"{name}: expected shape (trials, time, channels) with time = "
                    f"len(ts) = {shape[1]}, got {x.shape}."
                )
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"targets: expected {inputs.shape[0]} trials (as inputs), got "
                f"{targets.shape[0]}."
            )
        mask = jnp.ones_like(targets) if mask is None else jnp.asarray(mask)
        if mask.shape != targets.shape:
            raise ValueError(
                f"mask: expected the shape of targets {targets.shape}, got "
                f"{mask.shape}."
            )
        if loss_kind not in ("mse", "cross_entropy"):
            raise ValueError(
                f"loss_kind: expected 'mse' or 'cross_entropy', got {loss_kind!r}."
            )
        if not isinstance(shuffle, bool):
            raise ArgumentTypeError(
                f"shuffle: expected a bool, got {type(shuffle).__name__}."
            )
        self.ts, self.inputs, self.targets = ts, inputs, targets
        self.mask, self.loss_kind, self.shuffle = mask, loss_kind, shuffle

    @property
    def n_trials(self) -> int:
        """The number of trials."""
        return self.inputs.shape[0]

    @property
    def n_in(self) -> int:
        """Input channels."""
        return self.inputs.shape[2]

    @property
    def n_out(self) -> int:
        """Target channels."""
        return self.targets.shape[2]

    def trials(self, index: Array) -> TaskBatch:
        """The trials at ``index`` (a 1-d integer array) as a batch."""
        return TaskBatch(self.inputs[index], self.targets[index], self.mask[index])

    def all(self) -> TaskBatch:
        """Every trial, as one batch."""
        return TaskBatch(self.inputs, self.targets, self.mask)

    def score(self, outputs: Array, batch: TaskBatch) -> Array:
        """$R^2$ for ``"mse"``; the fraction of correct classes for cross-entropy."""
        if self.loss_kind == "mse":
            return r_squared(outputs, batch)
        right = jnp.argmax(outputs, -1) == jnp.argmax(batch.targets, -1)
        weight = batch.mask[..., 0]
        return jnp.sum(jnp.where(right, weight, 0.0)) / jnp.sum(weight)


def is_dataset(source) -> bool:
    """Whether ``fit``/``evaluate`` were given a :class:`Dataset`."""
    return isinstance(source, Dataset)


def check_source(source, batch_size: int | None = None) -> None:
    """A task (``.sample``, ``.ts``) or a :class:`Dataset` large enough."""
    if is_dataset(source):
        if batch_size is not None and batch_size > source.n_trials:
            raise ValueError(
                f"batch_size: expected at most the data set's {source.n_trials} "
                f"trials, got {batch_size}."
            )
        return
    for attr in ("sample", "ts"):
        if not hasattr(source, attr):
            raise ArgumentTypeError(
                "task: expected a dynax task with .sample(key) and .ts (e.g. "
                "dx.tasks.FlipFlop()) or a dx.train.Dataset, got "
                f"{type(source).__name__} without .{attr}."
            )


def _minibatch_index(n: int, batch_size: int, step, key, shuffle: bool) -> Array:
    """Indices of step ``step``'s minibatch.

    Positions ``step * batch_size + j`` of an endless sequence of epochs, each a
    permutation of the trials (or the identity).
    """
    step = jnp.asarray(step)
    pos = step * batch_size + jnp.arange(batch_size, dtype=step.dtype)
    epoch, within = pos // n, pos % n
    if not shuffle:
        return within
    first = step * batch_size // n  # a minibatch spans at most two epochs
    perms = jax.vmap(lambda e: jr.permutation(jr.fold_in(key, e), n))(
        jnp.stack([first, first + 1])
    )
    return jnp.where(epoch == first, perms[0][within], perms[1][within])


_DATA_STREAM = 2**31 - 1  # fold_in(key, step) for steps; this one for shuffling


def step_batch(
    source, key: PRNGKeyArray, step, batch_size: int, n_independent: int | None = None
) -> TaskBatch:
    """The trials of training step ``step`` (inside ``jit``).

    A task samples ``batch_size`` trials from the first half of
    ``split(fold_in(key, step))``; a :class:`Dataset` takes that step's minibatch
    (each epoch's order from ``fold_in(key, 2**31 - 1)``). With ``n_independent``,
    one batch per member (a leading member axis): members' own task keys, or their
    own orders of the data set.
    """
    if is_dataset(source):
        data_key = jr.fold_in(key, _DATA_STREAM)

        def take(k):
            index = _minibatch_index(
                source.n_trials, batch_size, step, k, source.shuffle
            )
            return source.trials(index)

        if n_independent is None:
            return take(data_key)
        keys = jax.vmap(lambda i: jr.fold_in(data_key, i))(jnp.arange(n_independent))
        return jax.vmap(take)(keys)
    k_batch = jr.split(jr.fold_in(key, step))[0]
    sample = jax.vmap(source.sample)
    if n_independent is None:
        return sample(jr.split(k_batch, batch_size))
    member_keys = jr.split(k_batch, n_independent)
    return jax.vmap(lambda k: sample(jr.split(k, batch_size)))(member_keys)


def source_ts(source) -> Array:
    """The time grid of the source's trials."""
    return source.ts


def eval_batch(source, key: PRNGKeyArray, n_trials: int) -> TaskBatch:
    """Held-out trials: ``n_trials`` fresh task trials, or every trial of a data set."""
    if is_dataset(source):
        return source.all()
    return jax.vmap(source.sample)(jr.split(key, n_trials))


def n_batch_trials(source, n_trials: int) -> int:
    """How many trials :func:`eval_batch` returns."""
    return source.n_trials if is_dataset(source) else int(np.asarray(n_trials))
