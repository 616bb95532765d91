r"""Statistics of symbol sequences: what an HMM-emulating network must reproduce.

Torre, Viscione, Pompe, Grewe & Mante (NeurIPS 2025) compare an RNN's sampled
emission sequences with an HMM's by per-symbol frequencies, "volatility" (how often
the symbol changes from one step to the next) and the empirical symbol-to-symbol
transition matrix. :class:`dynax.tasks.HMMEmission` gives the same three in closed
form for its HMM (:meth:`~dynax.tasks.HMMEmission.output_transition_matrix`,
:meth:`~dynax.tasks.HMMEmission.volatility`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, Float
from .._validate import check_bool, fail, is_concrete


class EmissionStatistics(eqx.Module):
    r"""Frequencies, volatility and transitions of a set of symbol sequences.

    Attributes:
        frequencies: ``(n_symbols,)``, the fraction of steps showing each symbol
            (over every sequence and step).
        volatility: the fraction of consecutive pairs $(t, t+1)$ whose symbols
            differ.
        transitions: ``(n_symbols, n_symbols)``, row $a$ the empirical law of the
            next symbol after $a$ (pairs $(t, t+1)$ pooled over sequences); a row
            of a symbol never followed by another is NaN-free: all zeros.
        counts: ``(n_symbols, n_symbols)``, the pair counts behind ``transitions``.

    With ``ensemble=True`` every attribute has a leading member axis.
    """

    frequencies: Float[Array, "*members n_symbols"]
    volatility: Float[Array, "*members"]
    transitions: Float[Array, "*members n_symbols n_symbols"]
    counts: Float[Array, "*members n_symbols n_symbols"]


def _statistics(onehot: Array) -> EmissionStatistics:
    seqs = onehot.reshape((-1,) + onehot.shape[-2:])  # (sequences, time, symbols)
    n_steps = seqs.shape[0] * seqs.shape[1]
    frequencies = jnp.sum(seqs, axis=(0, 1)) / n_steps
    counts = jnp.einsum("sta,stb->ab", seqs[:, :-1], seqs[:, 1:])
    n_pairs = jnp.sum(counts)
    volatility = 1.0 - jnp.trace(counts) / jnp.maximum(n_pairs, 1.0)
    rows = jnp.sum(counts, axis=1, keepdims=True)
    transitions = counts / jnp.where(rows > 0, rows, 1.0)
    return EmissionStatistics(frequencies, volatility, transitions, counts)


def emission_statistics(
    sequences: Float[Array, "*batch time n_symbols"],
    *,
    ensemble: bool = False,
) -> EmissionStatistics:
    r"""Per-symbol frequencies, volatility and transition matrix of sequences.

    Args:
        sequences: one-hot symbol sequences, ``(..., time, n_symbols)``: e.g. the
            targets of :class:`dynax.tasks.HMMEmission`, or a network's outputs
            sampled by :func:`dynax.train.gumbel_softmax`; every leading axis is
            pooled (a batch of trials; trials of several conditions). Each step
            must be one-hot (entries 0 or 1 summing to 1 over the symbols), so
            logits or probabilities are refused: sample them first.
        ensemble: the first axis is a member axis: one set of statistics per
            member (vmapped).

    Returns:
        An :class:`EmissionStatistics` (frequencies, volatility, transitions,
        pair counts); with ``ensemble=True``, one per member.
    """
    check_bool("ensemble", ensemble)
    x = jnp.asarray(sequences)
    kind = x.dtype
    if not (jnp.issubdtype(kind, jnp.number) or kind == jnp.bool_):
        fail("sequences", "one-hot arrays (0/1 entries)", f"dtype {kind}",
             error=TypeError)  # fmt: skip
    if not jnp.issubdtype(kind, jnp.floating):
        x = x.astype(jnp.result_type(float))
    min_ndim = 3 if ensemble else 2
    if x.ndim < min_ndim or x.shape[-2] < 2 or x.shape[-1] < 1:
        want = (
            "(members, ..., time, n_symbols)" if ensemble else "(..., time, n_symbols)"
        )
        fail("sequences", f"one-hot sequences {want} with time >= 2",
             f"shape {x.shape}")  # fmt: skip
    if is_concrete(x):
        onehot = bool(jnp.all((x == 0) | (x == 1))) and bool(
            jnp.all(jnp.sum(x, axis=-1) == 1)
        )
        if not onehot:
            fail("sequences", "one-hot steps (0/1 entries summing to 1 over the "
                 "symbols; sample logits with dx.train.gumbel_softmax first)",
                 "other values")  # fmt: skip
    if ensemble:
        return jax.vmap(_statistics)(x)
    return _statistics(x)
