"""Spike counts for LangevinFlow: host-side checks and the model's neuron order.

Every entry point that takes spike counts (:func:`dynax.train.langevin_flow_loss`,
:func:`dynax.train.fit_spikes`) checks them here, before anything is traced: whole
counts >= 0 or NaN, ``(trials, time, neurons)``, more bins than the model's
forward window, and held-in/held-out neuron selections that are disjoint and
match the model's sizes.
"""

import jax.numpy as jnp
import numpy as np

from .._custom_types import Array
from .._ensemble import plan
from .._validate import (
    as_array,
    check_counts,
    check_float,
    describe,
    fail,
    is_concrete,
)


def check_real(name: str, x: Array) -> None:
    """Counts are an integer or float array (not bool, not complex)."""
    if not (
        jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
    ):
        fail(name, "spike counts (an integer or float array)", f"dtype {x.dtype}")


def check_weights(beta, dropout) -> tuple[float, float]:
    """The KL weight ``beta >= 0`` and the dropout probability in ``[0, 1)``."""
    beta = check_float("beta", beta, low=0.0)
    dropout = check_float("dropout", dropout, low=0.0, high=1.0, high_open=True)
    return beta, dropout


def prepare_spikes(model, spikes, heldin, heldout, ensemble: bool):
    """Check ``spikes``; return the plan and the counts in the model's neuron order."""
    x = as_array("spikes", spikes)
    how = plan(model, ensemble, (("spikes", x, 3),))
    return how, ordered(model, x, heldin, heldout, how.first(0, x))


def ordered(model, x: Array, heldin, heldout, one: Array | None = None) -> Array:
    """Counts ``x`` (``one``: one member's) checked, in the model's neuron order."""
    one = x if one is None else one
    if one.ndim != 3:
        fail("spikes", "counts of shape (trials, time, neurons)", f"shape {one.shape}")
    if one.shape[1] <= model.n_forward:
        what = f"more bins than model.n_forward = {model.n_forward} (observed first)"
        fail("spikes", what, f"{one.shape[1]} bins")
    check_real("spikes", x)
    check_counts("spikes", x)
    order = _neuron_order(model, one.shape[2], heldin, heldout)
    x = x.astype(model.dtype)
    return x if order is None else x[..., order]


def _indices(name: str, value, n: int) -> np.ndarray | None:
    if value is None:
        return None
    if not is_concrete(value) or isinstance(value, str):
        what = "neuron indices or a bool mask known outside jit"
        fail(name, what, describe(value), error=TypeError)
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n,):
            what = f"a bool mask over the {n} neurons of spikes, or integer indices"
            fail(name, what, f"a bool mask of shape {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        what = "integer neuron indices (1-d) or a bool mask over the neurons"
        fail(name, what, describe(value), error=TypeError)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        fail(name, f"indices in [0, {n}) (the neurons of spikes)", repr(arr.tolist()))
    if np.unique(arr).size != arr.size:
        fail(name, "distinct neuron indices", repr(arr.tolist()))
    return arr


def _neuron_order(model, n: int, heldin, heldout) -> np.ndarray | None:
    """Indices putting the neurons in the model's order (``None``: already are)."""
    hi, ho = _indices("heldin", heldin, n), _indices("heldout", heldout, n)
    if hi is None and ho is None:
        if n != model.n_neurons:
            what = (
                f"{model.n_neurons} neurons (model.n_heldin + model.n_heldout, "
                "held-in first), or heldin=/heldout= to pick them"
            )
            fail("spikes", what, f"{n} neurons")
        return None
    everyone = np.arange(n)
    if hi is None:
        hi = np.setdiff1d(everyone, np.asarray(ho))
    if ho is None:
        ho = np.setdiff1d(everyone, hi)
    both = np.intersect1d(hi, ho)
    if both.size:
        fail("heldout", "neurons disjoint from heldin", f"neuron {both[0]} in both")
    if hi.size != model.n_heldin:
        fail("heldin", f"{model.n_heldin} neurons (model.n_heldin)", f"{hi.size}")
    if ho.size != model.n_heldout:
        fail("heldout", f"{model.n_heldout} neurons (model.n_heldout)", f"{ho.size}")
    return np.concatenate([hi, ho])
