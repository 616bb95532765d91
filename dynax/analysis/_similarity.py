r"""Representational similarity of states: linear CKA and the Procrustes shape metric.

Both compare two sets of states recorded on the same samples (rows: the same time
points of the same trials; columns: units, whose number may differ), and both are
invariant to rotations of either set, so they see geometry, not dynamics (compare
:func:`dynax.analysis.dsa`).

- **Linear CKA** (Kornblith et al. 2019): with column-centred $X$, $Y$,
  $\mathrm{CKA} = \lVert Y^\top X \rVert_F^2 / (\lVert X^\top X \rVert_F
  \lVert Y^\top Y \rVert_F)$, a similarity in $[0, 1]$.
- **Procrustes shape distance**, angular (Williams et al. 2021; netrep's
  ``LinearMetric(alpha=1, center_columns=True, score_method="angular")``): the
  narrower set is zero-padded to the wider one's columns, and
  $d = \arccos\big(\lVert X^\top Y \rVert_* / (\lVert X \rVert_F
  \lVert Y \rVert_F)\big)$, the angle left after the best rotation, in
  $[0, \pi/2]$; a metric on shapes. ``score="euclidean"`` gives
  $\min_Q \lVert \tilde X - \tilde Y Q \rVert_F$ on Frobenius-normalised sets instead.

The ``*_matrix`` versions compute every pair of an ensemble at once (``vmap`` over
pairs).
"""

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float
from .._validate import check_choice, fail


def _states(name: str, x, ndim: int) -> Array:
    what = (
        "states of shape (samples, units) or (..., samples, units)"
        if ndim == 2
        else "an ensemble's states of shape (members, samples, units) or "
        "(members, ..., samples, units)"
    )
    try:
        arr = jnp.asarray(x)
    except (TypeError, ValueError):
        fail(name, what, f"a {type(x).__name__}", error=TypeError)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        if jnp.issubdtype(arr.dtype, jnp.integer) or arr.dtype == jnp.bool_:
            arr = arr.astype(jnp.result_type(float))
        else:
            fail(name, f"real {what}", f"dtype {arr.dtype}", error=TypeError)
    if arr.ndim < ndim:
        fail(name, what, f"shape {arr.shape}")
    # trials and time are both samples: flatten every axis but the last
    lead = arr.shape[:1] if ndim == 3 else ()
    return arr.reshape(lead + (-1, arr.shape[-1]))


def _same_samples(x: Array, y: Array, names=("X", "Y")) -> None:
    if x.shape[-2] != y.shape[-2]:
        fail(
            names[1],
            f"the same number of samples as {names[0]} ({x.shape[-2]} rows after "
            "flattening trials and time)",
            f"{y.shape[-2]}",
        )
    if x.shape[-2] < 2:
        fail(names[0], "at least 2 samples", f"{x.shape[-2]}")


def _cka(x: Array, y: Array) -> Array:
    x = x - x.mean(0, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    num = jnp.sum((y.T @ x) ** 2)
    den = jnp.linalg.norm(x.T @ x) * jnp.linalg.norm(y.T @ y)
    return num / den


def _pad(x: Array, n: int) -> Array:
    return jnp.pad(x, ((0, 0), (0, n - x.shape[-1])))


def _procrustes(x: Array, y: Array, score: str) -> Array:
    n = max(x.shape[-1], y.shape[-1])
    x = _pad(x - x.mean(0, keepdims=True), n)
    y = _pad(y - y.mean(0, keepdims=True), n)
    nuc = jnp.sum(jnp.linalg.svd(x.T @ y, compute_uv=False))
    cos = nuc / (jnp.linalg.norm(x) * jnp.linalg.norm(y))
    if score == "angular":
        return jnp.arccos(jnp.clip(cos, -1.0, 1.0))
    return jnp.sqrt(jnp.maximum(2.0 - 2.0 * cos, 0.0))


def linear_cka(
    X: Float[ArrayLike, "*samples n"], Y: Float[ArrayLike, "*samples m"]
) -> Float[Array, ""]:
    """Linear centred kernel alignment of two sets of states (module docstring).

    Args:
        X: states ``(samples, n)``; leading axes (trials, time) are flattened.
        Y: states on the same samples, ``(samples, m)``.

    Returns:
        CKA in $[0, 1]$ (1: the same up to rotation and scale).
    """
    x, y = _states("X", X, 2), _states("Y", Y, 2)
    _same_samples(x, y)
    return _cka(x, y)


def procrustes_distance(
    X: Float[ArrayLike, "*samples n"],
    Y: Float[ArrayLike, "*samples m"],
    *,
    score: Literal["angular", "euclidean"] = "angular",
) -> Float[Array, ""]:
    """The Procrustes shape distance between two sets of states (module docstring).

    Args:
        X: states ``(samples, n)``; leading axes (trials, time) are flattened.
        Y: states on the same samples, ``(samples, m)``.
        score: ``"angular"`` (radians, netrep's default) or ``"euclidean"``.

    Returns:
        The distance (0: the same up to translation, rotation and scale).
    """
    check_choice("score", score, ("angular", "euclidean"))
    x, y = _states("X", X, 2), _states("Y", Y, 2)
    _same_samples(x, y)
    return _procrustes(x, y, score)


def _pairwise(fn, x: Array, diagonal: float) -> Array:
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    vals = jax.jit(jax.vmap(fn))(x[i], x[j])
    out = jnp.full((n, n), diagonal, vals.dtype)
    out = out.at[i, j].set(vals)
    return out.at[j, i].set(vals)


def linear_cka_matrix(
    states: Float[ArrayLike, "members *samples n"],
) -> Float[Array, "members members"]:
    """Linear CKA between every pair of an ensemble's states (ones on the diagonal).

    Args:
        states: ``(members, samples, n)``; axes between the first and the last
            (trials, time) are flattened into samples.
    """
    x = _states("states", states, 3)
    _same_samples(x[0], x[0], ("states", "states"))
    return _pairwise(_cka, x, 1.0)


def procrustes_matrix(
    states: Float[ArrayLike, "members *samples n"],
    *,
    score: Literal["angular", "euclidean"] = "angular",
) -> Float[Array, "members members"]:
    """The Procrustes distance between every pair of an ensemble's states.

    Args:
        states: ``(members, samples, n)``; axes between the first and the last
            (trials, time) are flattened into samples.
        score: as :func:`procrustes_distance`.
    """
    check_choice("score", score, ("angular", "euclidean"))
    x = _states("states", states, 3)
    _same_samples(x[0], x[0], ("states", "states"))
    return _pairwise(lambda a, b: _procrustes(a, b, score), x, 0.0)
