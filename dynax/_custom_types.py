"""Shared jaxtyping aliases (the single home for types used across dynax)."""

from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree, Real

#: A state: one array or a PyTree of arrays (one network, no batch axis).
State: TypeAlias = PyTree[Array]
#: A state as a user may give it: arrays, NumPy arrays or Python numbers.
StateLike: TypeAlias = PyTree[ArrayLike]
#: Extra arguments handed to a model's ``__call__``; usually an input object with
#: ``.evaluate(t)`` (see :func:`dynax.simulate`), or ``None``.
Args: TypeAlias = Any
#: A scalar time or scalar parameter.
Scalar: TypeAlias = Float[Array, ""]
ScalarLike: TypeAlias = Real[ArrayLike, ""]  # a Python int too
#: Times at which a trajectory is saved.
Times: TypeAlias = Float[Array, " time"]
#: An input sampled on the time grid, leading axis time.
Drive: TypeAlias = Float[Array, "time ..."]

__all__ = [
    "Args",
    "Array",
    "ArrayLike",
    "Bool",
    "Drive",
    "Float",
    "Int",
    "PRNGKeyArray",
    "PyTree",
    "Scalar",
    "ScalarLike",
    "State",
    "StateLike",
    "Times",
]
