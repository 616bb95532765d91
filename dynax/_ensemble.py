"""Ensembles: one stacked PyTree of networks built with ``vmap`` (no class)."""

from collections.abc import Callable
from typing import TypeVar

import equinox as eqx
import jax
import jax.tree_util as jtu
from jaxtyping import PRNGKeyArray

from ._validate import check_callable, fail

_M = TypeVar("_M")


def make_ensemble(make: Callable[[PRNGKeyArray], _M], keys: PRNGKeyArray) -> _M:
    """Build a stacked ensemble: ``eqx.filter_vmap(make)(keys)``.

    Every array leaf of the result carries a leading ensemble axis of length
    ``len(keys)``; non-array leaves (sizes, activation functions) are shared.

    Args:
        make: a function of one PRNG key returning one network.
        keys: a batch of keys, e.g. ``jax.random.split(key, 512)``.

    Returns:
        The stacked ensemble, one PyTree with the structure of a single network.

    Example:
        ```python
        ens = dx.make_ensemble(lambda k: dx.models.CTRNN(1, 64, 1, key=k),
                               jax.random.split(key, 256))
        ```
    """
    check_callable("make", make, "a function of one PRNG key returning one network")
    shape = getattr(keys, "shape", None)
    typed = shape is not None and jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    if shape is None or len(shape) != (1 if typed else 2):
        what = (
            "a batch of PRNG keys with a leading ensemble axis, e.g. jr.split(key, n)"
        )
        fail("keys", what, f"shape {shape}")
    if shape[0] == 0:
        fail("keys", "at least one key", "an empty batch")
    return eqx.filter_vmap(make)(keys)


def member(ensemble: _M, i: int) -> _M:
    """Return member ``i`` of a stacked ensemble (index every array leaf)."""
    n = ensemble_size(ensemble)
    if not -n <= i < n:
        fail("i", f"an index in [-{n}, {n})", repr(i), error=IndexError)
    return jtu.tree_map(lambda x: x[i] if eqx.is_array(x) else x, ensemble)


def ensemble_size(ensemble) -> int:
    """The length of the leading ensemble axis of a stacked ensemble."""
    leaves = [x for x in jtu.tree_leaves(ensemble) if eqx.is_array(x)]
    if not leaves or leaves[0].ndim == 0:
        what = "a stacked ensemble (array leaves with a leading ensemble axis)"
        fail("ensemble", what, "a PyTree with no batched array leaves")
    return leaves[0].shape[0]
