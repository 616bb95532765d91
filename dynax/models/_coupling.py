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

from .._custom_types import Array, ArrayLike, Float, Int
from .._validate import as_array, describe, fail, is_concrete

MEAN_FIELD, DENSE, SPARSE = "mean_field", "dense", "sparse"


def check_coupling(
    coupling: ArrayLike, n: int, edges, dtype
) -> tuple[
    str, Float[Array, "..."], Int[Array, " edges"] | None, Int[Array, " edges"] | None
]:
    """Validate a coupling specification and return ``(mode, weights, s, r)``."""
    weights = as_array("coupling", coupling, dtype)
    if edges is not None:
        senders, receivers = _check_edges(edges, n)
        n_edges = senders.shape[0]
        if weights.shape not in ((), (n_edges,)):
            what = f"a scalar or one weight per edge, shape ({n_edges},), with edges"
            fail("coupling", what, f"shape {weights.shape}")
        return SPARSE, weights, senders, receivers
    if weights.ndim == 2 and weights.shape[0] != weights.shape[1]:
        fail("coupling", "a square (n, n) weight matrix", f"shape {weights.shape}")
    if weights.ndim == 2 and weights.shape[0] != n:
        what = f"an (n, n) matrix with n = len(omega) = {n}"
        fail("coupling", what, f"shape {weights.shape}")
    if weights.shape not in ((), (n,), (n, n)):
        fail(
            "coupling",
            "a scalar or shape (n,) (all-to-all), or an (n, n) matrix, with n = "
            f"len(omega) = {n}",
            f"shape {weights.shape}",
        )
    return (DENSE if weights.ndim == 2 else MEAN_FIELD), weights, None, None


def _check_edges(edges, n: int) -> tuple[Int[Array, " edges"], Int[Array, " edges"]]:
    if not isinstance(edges, tuple | list) or len(edges) != 2:
        what = "a tuple (senders, receivers) of two integer arrays"
        fail("edges", what, describe(edges), error=TypeError)
    s, r = (as_array("edges", e) for e in edges)
    if not (
        jnp.issubdtype(s.dtype, jnp.integer) and jnp.issubdtype(r.dtype, jnp.integer)
    ):
        fail("edges", "integer index arrays", f"dtypes {s.dtype} and {r.dtype}")
    if s.ndim != 1 or s.shape != r.shape:
        what = "senders and receivers as 1-d arrays of equal length"
        fail("edges", what, f"shapes {s.shape} and {r.shape}")
    if is_concrete(s) and is_concrete(r) and s.size:
        lo, hi = min(int(s.min()), int(r.min())), max(int(s.max()), int(r.max()))
        if lo < 0 or hi >= n:
            what = f"node indices in [0, {n}) (n = len(omega))"
            fail("edges", what, f"indices in [{lo}, {hi}]")
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
