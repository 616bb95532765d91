r"""Readouts of spiking reservoirs: spike-count features and a ridge classifier."""

import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int
from .._simulate import simulate
from .._validate import check_int, fail
from ._readout import Readout, ridge_readout


def spike_counts(
    model,
    inputs: Float[ArrayLike, "*samples time n_in"],
    *,
    batch_size: int | None = None,
) -> Float[Array, "*samples n"]:
    r"""Return each neuron's number of spikes while a spiking reservoir sees ``inputs``.

    Each sample starts from ``model.init_state()`` and runs through
    :func:`dynax.simulate` for ``time`` steps (every input row drives one step);
    the spikes of the states after those steps are summed. Samples are processed
    with ``lax.map`` in batches of ``batch_size`` (vmapped inside a batch), so
    memory stays bounded for large data sets. Works under ``eqx.filter_vmap`` over
    an ensemble of reservoirs.

    Args:
        model: a spiking reservoir whose state has a ``spikes`` field, e.g. a
            :class:`dynax.models.LIFReservoir`.
        inputs: input trains, shape ``(time, n_in)`` or ``(samples, time, n_in)``.
        batch_size: samples per vmapped batch (default: all at once).

    Returns:
        Spike counts, shape ``(n,)`` or ``(samples, n)``.
    """
    dtype = model.init_state().spikes.dtype
    inputs = jnp.asarray(inputs, dtype)
    if inputs.ndim not in (2, 3):
        what = "shape (time, n_in) or (samples, time, n_in)"
        fail("inputs", what, f"shape {inputs.shape}")
    if batch_size is not None:
        check_int("batch_size", batch_size, 1)
    n_t = inputs.shape[-2]
    ts = jnp.arange(n_t + 1, dtype=dtype)

    def one(u: Array) -> Array:
        u = jnp.concatenate([u, jnp.zeros_like(u[:1])])  # the last row drives nothing
        ys = simulate(model, model.init_state(), ts, inputs=u).ys
        return jnp.sum(ys.spikes[1:], axis=0)

    if inputs.ndim == 2:
        return one(inputs)
    return jax.lax.map(one, inputs, batch_size=batch_size)


def ridge_classifier(
    features: Float[ArrayLike, "samples n_features"],
    labels: Int[ArrayLike, " samples"],
    *,
    n_classes: int,
    alpha: float | ArrayLike = 1.0,
) -> Readout:
    r"""Fit a linear classifier by ridge regression on one-hot targets.

    A :func:`ridge_readout` from ``features`` to the one-hot code of ``labels``
    (unpenalised bias); classify with :func:`predict_labels` (arg-max of the
    outputs). For spike-count features of a liquid state machine, e.g. from
    :func:`spike_counts`.

    Args:
        features: one row per sample.
        labels: integer class labels in ``[0, n_classes)``.
        n_classes: number of classes.
        alpha: ridge value $\alpha \ge 0$ (0: the minimum-norm least-squares fit,
            e.g. with silent or duplicated neurons).

    Returns:
        The :class:`Readout` (``n_out = n_classes``).
    """
    labels = jnp.asarray(labels)
    features = jnp.asarray(features)
    if labels.ndim != 1 or not jnp.issubdtype(labels.dtype, jnp.integer):
        got = f"shape {labels.shape} and dtype {labels.dtype}"
        fail("labels", "a 1-d integer array", got)
    check_int("n_classes", n_classes, 2)
    targets = jax.nn.one_hot(labels, n_classes, dtype=features.dtype)
    return ridge_readout(features, targets, alpha=alpha)


def predict_labels(
    readout: Readout, features: Float[ArrayLike, "samples n_features"]
) -> Int[Array, " samples"]:
    """Return the arg-max class of a :func:`ridge_classifier` for each sample."""
    return jnp.argmax(readout.predict(jnp.asarray(features)), axis=-1)
