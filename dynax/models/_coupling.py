r"""Network coupling shared by the oscillator models: checks and aggregation.

A coupling is given in one of three layouts, chosen by the arguments (and recorded
as a static ``mode`` string on the model):

- ``"mean_field"``: ``coupling`` a scalar $K$ or one strength per oscillator
  $K_i$, shape ``(n,)``; all-to-all with the $1/N$ normalisation,
  $\sum_j C_{ij} x_j = \frac{K_i}{N} \sum_j x_j$, computed in $O(N)$ (the sum is
  taken once and shared by every receiver; the $N \times N$ matrix never exists).
- ``"dense"``: ``coupling`` an ``(n, n)`` weight matrix $C$, row = receiver $i$,
  column = sender $j$; no normalisation, $\sum_j C_{ij} x_j$ is a matrix product.
- ``"sparse"``: ``edges=(senders, receivers)`` two integer arrays of length $E$ and
  ``coupling`` a scalar (the same weight on every edge) or one weight per edge,
  shape ``(E,)``; no normalisation, $\sum_{e: r_e = i} w_e x_{s_e}$ by
  ``jax.ops.segment_sum``, $O(E)$.

These are private helpers of :mod:`dynax.models`, not re-exported.
"""

import jax
import jax.numpy as jnp

from .._concrete import is_concrete
from .._custom_types import Array, ArrayLike, Float, Int
from ._init import check_elements

MEAN_FIELD, DENSE, SPARSE = "mean_field", "dense", "sparse"


def check_frequencies(omega: ArrayLike, dtype) -> Float[Array, " n"]:
    """Return ``omega`` as a 1-d float array of at least one oscillator."""
    omega = jnp.asarray(omega, dtype)
    if omega.ndim != 1 or omega.shape[0] < 1:
        raise ValueError(
            "omega: expected a 1-d array of natural frequencies, one per oscillator, "
            f"got shape {omega.shape}."
        )
    return omega


def check_nonnegative(name: str, value: ArrayLike, dtype) -> Float[Array, "..."]:
    """Return ``value`` as an array after checking every element is ``>= 0``.

    A concrete failure raises ``ValueError`` at once; a traced value (swept with
    ``vmap``) is checked with ``eqx.error_if`` when the computation runs.
    """
    return check_elements(
        value, dtype, lambda a: a < 0, f"{name}: expected values >= 0"
    )


def check_scalar(name: str, value: ArrayLike, dtype) -> Float[Array, ""]:
    """Return ``value`` as a 0-d array of ``dtype``."""
    arr = jnp.asarray(value, dtype)
    if arr.ndim != 0:
        raise ValueError(f"{name}: expected a scalar, got shape {arr.shape}.")
    return arr


def check_per_unit(name: str, value: ArrayLike, n: int, dtype) -> Float[Array, "..."]:
    """Return ``value`` as an array of shape ``()`` or ``(n,)``."""
    arr = jnp.asarray(value, dtype)
    if arr.shape not in ((), (n,)):
        raise ValueError(
            f"{name}: expected a scalar or shape (n,) = ({n},), got shape {arr.shape}."
        )
    return arr


def check_coupling(
    coupling: ArrayLike, n: int, edges, dtype
) -> tuple[
    str, Float[Array, "..."], Int[Array, " edges"] | None, Int[Array, " edges"] | None
]:
    """Validate a coupling specification and return ``(mode, weights, s, r)``."""
    weights = jnp.asarray(coupling, dtype)
    if edges is not None:
        senders, receivers = _check_edges(edges, n)
        n_edges = senders.shape[0]
        if weights.shape not in ((), (n_edges,)):
            raise ValueError(
                "coupling: with edges, expected a scalar or one weight per edge, "
                f"shape ({n_edges},), got shape {weights.shape}."
            )
        return SPARSE, weights, senders, receivers
    if weights.ndim == 2:
        if weights.shape[0] != weights.shape[1]:
            raise ValueError(
                "coupling: expected a square (n, n) weight matrix, got shape "
                f"{weights.shape}."
            )
        if weights.shape[0] != n:
            raise ValueError(
                f"omega: expected shape ({weights.shape[0]},) to match the coupling "
                f"matrix of shape {weights.shape}, got ({n},)."
            )
        return DENSE, weights, None, None
    if weights.shape not in ((), (n,)):
        raise ValueError(
            "coupling: expected a scalar or shape (n,) (all-to-all), or an (n, n) "
            f"matrix, with n = len(omega) = {n}; got shape {weights.shape}."
        )
    return MEAN_FIELD, weights, None, None


def _check_edges(edges, n: int) -> tuple[Int[Array, " edges"], Int[Array, " edges"]]:
    if not isinstance(edges, tuple | list) or len(edges) != 2:
        raise ValueError(
            "edges: expected a tuple (senders, receivers) of two integer arrays, "
            f"got {type(edges).__name__}."
        )
    s, r = (jnp.asarray(e) for e in edges)
    if not (
        jnp.issubdtype(s.dtype, jnp.integer) and jnp.issubdtype(r.dtype, jnp.integer)
    ):
        raise ValueError(
            f"edges: expected integer index arrays, got dtypes {s.dtype} and {r.dtype}."
        )
    if s.ndim != 1 or s.shape != r.shape:
        raise ValueError(
            "edges: expected senders and receivers as 1-d arrays of equal length, "
            f"got shapes {s.shape} and {r.shape}."
        )
    if is_concrete(s) and is_concrete(r) and s.size:
        lo, hi = min(int(s.min()), int(r.min())), max(int(s.max()), int(r.max()))
        if lo < 0 or hi >= n:
            raise ValueError(
                f"edges: expected node indices in [0, {n}) (n = len(omega)), got "
                f"indices in [{lo}, {hi}]."
            )
    return s.astype(jnp.int32), r.astype(jnp.int32)


def aggregate(
    mode: str,
    weights: Float[Array, "..."],
    senders: Int[Array, " edges"] | None,
    receivers: Int[Array, " edges"] | None,
    x: Float[Array, "n k"],
) -> Float[Array, "n k"]:
    r"""Return $\sum_j C_{ij} x_j$ for every receiver $i$ (see the module docstring)."""
    n = x.shape[0]
    if mode == MEAN_FIELD:
        column = weights.reshape((-1, 1)) / n
        return jnp.broadcast_to(column * jnp.sum(x, axis=0, keepdims=True), x.shape)
    if mode == DENSE:
        return weights @ x
    assert senders is not None and receivers is not None
    w = weights.reshape((-1, 1))
    return jax.ops.segment_sum(w * x[senders], receivers, num_segments=n)
