"""Test configuration: float64, strict promotion, warnings as errors, keys."""

import itertools

import jax
import jax.random as jr
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """Return a function giving a fresh, deterministic PRNG key on every call."""
    counter = itertools.count()
    base = jr.PRNGKey(0)
    return lambda: jr.fold_in(base, next(counter))
