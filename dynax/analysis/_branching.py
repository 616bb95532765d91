r"""The branching factor of a spiking network (NALSM's measure of criticality)."""

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Bool, Float, Scalar
from .._validate import check_array, check_int


class BranchingFactor(eqx.Module):
    """The outcome of :func:`branching_factor`.

    Attributes:
        value: the network's branching factor, the mean of ``per_neuron`` over
            the neurons that spiked (NaN if none did).
        per_neuron: each neuron's mean ratio of descendants to ancestors over
            its spikes (NaN for a neuron without counted spikes).
        n_spikes: the number of counted spikes of each neuron.
    """

    value: Scalar
    per_neuron: Float[Array, " n"]
    n_spikes: Float[Array, " n"]


def _window_counts(cum: Array, start: Array, stop: Array) -> Array:
    """Spikes in ``[start, stop)`` per time row, from ``cum[t] = sum_{tau<t}``."""
    t_max = cum.shape[0] - 1
    return cum[jnp.clip(stop, 0, t_max)] - cum[jnp.clip(start, 0, t_max)]


def branching_factor(
    spikes: Float[ArrayLike, "time n"] | Bool[ArrayLike, "time n"],
    W: Float[ArrayLike, "n n"] | Bool[ArrayLike, "n n"],
    *,
    window: int = 4,
    buffer: int = 25,
) -> BranchingFactor:
    r"""NALSM's branching factor of a spike raster on a network (Ivanov 2021).

    Only spikes at times $t \in [b, T - b)$ count ($b$ = ``buffer``). For each
    neuron $n$ and each time $t \in [b + \delta, T - b - \delta)$ at which $n$
    spikes ($\delta$ = ``window``):

    - descendants $d$ = spikes of $n$'s postsynaptic neurons in
      $[t + 1, t + 1 + \delta)$;
    - ancestors $a$ = spikes of $n$'s presynaptic neurons in $[t - \delta, t)$,
      clipped to $\ge 1$.

    A neuron's factor is the mean of $d/a$ over its spike times, and the network's
    the mean over neurons with at least one such spike. A value near 1 marks a
    critical network, $< 1$ sub- and $> 1$ supercritical. Computed with cumulative
    sums and two matrix products (no loops); vmap it over samples or networks.
    To pool many short trials, weight ``per_neuron`` by ``n_spikes`` (a plain mean
    of ``value`` over trials gives small trials as much weight as large ones).
    (This follows NALSM's ``compute_branching_factor.py``.)

    Args:
        spikes: spike raster, shape ``(time, n)`` (0/1 or bool).
        W: the connectivity, ``W[i, j] != 0`` for a synapse from $j$ to $i$
            (e.g. ``model.W`` of a :class:`dynax.models.LIFReservoir`).
        window: window length $\delta \ge 1$, steps.
        buffer: steps $b \ge 0$ ignored at each end.

    Returns:
        A :class:`BranchingFactor`.
    """
    spikes = check_array("spikes", spikes, ndim=2, what="shape (time, n)")
    n_t, n = spikes.shape
    W = check_array("W", W, shape=(n, n), what=f"shape (n, n) = ({n}, {n})")
    check_int("window", window, 1)
    check_int("buffer", buffer, 0)
    dtype = jnp.result_type(float)
    if jnp.issubdtype(spikes.dtype, jnp.floating):
        dtype = spikes.dtype
    t = jnp.arange(n_t)
    counted = ((t >= buffer) & (t < n_t - buffer))[:, None]
    s = jnp.where(counted, spikes.astype(dtype), jnp.zeros((), dtype))
    cum = jnp.concatenate([jnp.zeros((1, n), dtype), jnp.cumsum(s, axis=0)])
    before = _window_counts(cum, t - window, t)  # [t - window, t) per neuron
    after = _window_counts(cum, t + 1, t + 1 + window)  # [t + 1, t + 1 + window)
    M = (W if W.dtype == jnp.bool_ else W != 0).astype(dtype)
    ancestors = jnp.maximum(before @ M.T, 1.0)  # sum over presynaptic j of n
    descendants = after @ M  # sum over postsynaptic i of n
    events_t = (t >= buffer + window) & (t < n_t - buffer - window)
    events = jnp.where(events_t[:, None], s, jnp.zeros((), dtype))
    n_spikes = jnp.sum(events, axis=0)
    total = jnp.sum(events * descendants / ancestors, axis=0)
    spiked = n_spikes > 0
    per_neuron = jnp.where(spiked, total / jnp.where(spiked, n_spikes, 1.0), jnp.nan)
    value = jnp.sum(jnp.where(spiked, per_neuron, 0.0)) / jnp.sum(spiked.astype(dtype))
    return BranchingFactor(value=value, per_neuron=per_neuron, n_spikes=n_spikes)
