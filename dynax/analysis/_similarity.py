r"""Representational similarity of states: linear CKA, kernel alignment, Procrustes.

All compare two sets of states recorded on the same samples (rows: the same time
points of the same trials; columns: units, whose number may differ), and all are
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
- **Kernel alignment** (Cristianini, Shawe-Taylor, Elisseeff & Kandola 2001): the
  Frobenius cosine of two kernels over the samples,
  $A(K, L) = \langle K, L \rangle_F / (\lVert K \rVert_F \lVert L \rVert_F)$,
  here with the linear kernels $K = XX^\top$, $L = YY^\top$ (or two kernels
  given). With $Y$ the targets, $A(K, yy^\top)$ is the *task alignment* of
  rich-versus-lazy analyses; with $X$, $Y$ the states before and after training,
  the *representation alignment* of Liu et al. (2024, ICLR, "How connectivity
  structure shapes rich and lazy learning in neural circuits"; their code uses the
  uncentred form). Centred ($K \to HKH$, $H = I - \mathbf 1\mathbf 1^\top/s$;
  Cortes, Mohri & Rostamizadeh 2012) on linear kernels it is linear CKA.

The ``*_matrix`` versions compute every pair of an ensemble at once (``vmap`` over
pairs).
"""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float
from .._validate import (
    as_array,
    check_array,
    check_bool,
    check_choice,
    check_finite,
    fail,
    is_concrete,
)


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


def _projector(w: Array, center: bool) -> Array:
    r"""$P$ with $PX$ the kept rows of $X$ (others zero), centred over the kept ones.

    ``w`` holds 1 for a kept sample and 0 otherwise; $P = \mathrm{diag}(w)$, or
    $\mathrm{diag}(w) - w w^\top / \sum w$ when centring (symmetric).
    """
    p = jnp.diag(w)
    return p - jnp.outer(w, w) / jnp.sum(w) if center else p


def _alignment(x: Array, y: Array, w: Array, center: bool) -> Array:
    """Alignment of the linear kernels of ``x`` and ``y`` (no samples x samples)."""
    if center:
        x = x - (w @ x / jnp.sum(w))[None]
        y = y - (w @ y / jnp.sum(w))[None]
    x, y = x * w[:, None], y * w[:, None]  # w is 0/1: <XX^T, YY^T> = |Y^T X|^2
    num = jnp.sum((y.T @ x) ** 2)
    return num / (jnp.linalg.norm(x.T @ x) * jnp.linalg.norm(y.T @ y))


def _kernel_alignment(k: Array, k2: Array, w: Array, center: bool) -> Array:
    p = _projector(w, center)
    k, k2 = p @ k @ p, p @ k2 @ p
    return jnp.sum(k * k2) / (jnp.linalg.norm(k) * jnp.linalg.norm(k2))


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


def _sample_mask(mask, n_samples: int, center: bool, dtype) -> Array:
    """``mask`` as 0/1 weights of shape ``(samples,)`` (nonzero: kept)."""
    if mask is None:
        return jnp.ones((n_samples,), dtype)
    m = as_array("mask", mask)
    if m.size != n_samples:
        fail(
            "mask",
            f"one value per sample ({n_samples} after flattening trials and time)",
            f"shape {m.shape}",
        )
    w = m.reshape(-1).astype(bool).astype(dtype)
    need = 2 if center else 1
    if is_concrete(w) and float(np.sum(np.asarray(w))) < need:
        fail("mask", f"at least {need} kept samples", f"{int(np.sum(w))}")
    return w


def kernel_alignment(
    X: Float[ArrayLike, "*samples n"],
    Y: Float[ArrayLike, "*samples m"],
    *,
    center: bool = False,
    mask: ArrayLike | None = None,
    precomputed: bool = False,
) -> Float[Array, ""]:
    r"""Kernel alignment $A(K, L)$ of two representations (module docstring).

    $$A(K, L) = \frac{\langle K, L\rangle_F}{\lVert K\rVert_F
    \lVert L\rVert_F},\qquad K = XX^\top,\; L = YY^\top,$$

    computed as $\lVert Y^\top X\rVert_F^2 / (\lVert X^\top X\rVert_F
    \lVert Y^\top Y\rVert_F)$ (no samples-by-samples matrix). It lies in
    $[0, 1]$ and is invariant to rotations and scalings of either set; it is NaN
    when either kernel is zero. ``center=True`` centres both kernels over the
    samples first ($HKH$, i.e. subtracts each column's mean from $X$ and $Y$): on
    linear kernels that is linear CKA (:func:`linear_cka`). The default,
    uncentred, is Cristianini et al.'s alignment; the task alignment of a
    representation is ``kernel_alignment(states, targets)``.

    Args:
        X: states ``(samples, n)``; leading axes (trials, time) are flattened.
        Y: states or targets on the same samples, ``(samples, m)``.
        center: centre the kernels over the (kept) samples.
        mask: which samples count, shape of the samples axes (``X.shape[:-1]``;
            nonzero: kept), e.g. the time steps a task scores; default all. The
            mean removed by ``center`` is over the kept samples.
        precomputed: ``X`` and ``Y`` are kernels ``(samples, samples)`` already
            (e.g. neural tangent kernels).

    Returns:
        The alignment, a scalar.
    """
    check_bool("center", center)
    check_bool("precomputed", precomputed)
    if precomputed:
        k = check_array("X", X, ndim=2, what="a kernel of shape (samples, samples)")
        if k.shape[0] != k.shape[1]:
            fail("X", "a square kernel (samples, samples)", f"shape {k.shape}")
        k2 = check_array("Y", Y, shape=k.shape, what=f"a kernel of shape {k.shape}")
    else:
        k, k2 = _states("X", X, 2), _states("Y", Y, 2)
        _same_samples(k, k2)
    check_finite("X", k)
    check_finite("Y", k2)
    dtype = np.promote_types(k.dtype, k2.dtype)
    w = _sample_mask(mask, k.shape[0], center, dtype)
    k, k2 = k.astype(dtype), k2.astype(dtype)
    return _aligned(k, k2, w, center, precomputed)


@eqx.filter_jit
def _aligned(k: Array, k2: Array, w: Array, center: bool, precomputed: bool):
    fn = _kernel_alignment if precomputed else _alignment
    return fn(k, k2, w, center)


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
