"""Helpers around :func:`find_fixed_points`: candidates in, compact lists out."""

from typing import Literal, overload

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Array, ArrayLike, Bool, Float
from ._fixed_points import FixedPoints


def sample_candidates(
    trajectories: Float[ArrayLike, "... n"],
    n: int,
    *,
    noise: float,
    key: jax.Array,
    mask: Bool[ArrayLike, "..."] | None = None,
) -> Float[Array, "{n} n"]:
    """Initial states for :func:`find_fixed_points`: visited states plus noise.

    States are drawn uniformly, with replacement, from every position of
    ``trajectories`` (all leading axes, e.g. trials x time), as FixedPointFinder does,
    and i.i.d. Gaussian noise of standard deviation ``noise`` is added.

    Args:
        trajectories: visited states, shape ``(..., n_state)``, e.g.
            ``simulate(...).ys`` under ``vmap`` over trials. For an ensemble, ``vmap``
            this function over the member axis (and over ``key``).
        n: the number of candidates.
        noise: standard deviation of the added noise (FixedPointFinder's flip-flop
            example uses 0.5; 0 gives visited states exactly).
        key: PRNG key.
        mask: optional boolean array over the leading axes of ``trajectories``;
            only positions where it is true are drawn.

    Returns:
        Candidates of shape ``(n, n_state)``.
    """
    x = jnp.asarray(trajectories)
    if x.ndim < 2:
        raise ValueError(
            "trajectories: expected visited states of shape (..., n_state) with at "
            f"least one leading axis, got shape {x.shape}."
        )
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}.")
    if not noise >= 0:
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise}.")
    flat = x.reshape(-1, x.shape[-1])
    k_index, k_noise = jr.split(key)
    if mask is None:
        index = jr.randint(k_index, (n,), 0, flat.shape[0])
    else:
        mask = jnp.asarray(mask)
        if mask.shape != x.shape[:-1]:
            raise ValueError(
                f"mask: expected shape {x.shape[:-1]} (the leading axes of "
                f"trajectories), got {mask.shape}."
            )
        p = mask.reshape(-1).astype(flat.dtype)
        index = jr.choice(k_index, flat.shape[0], (n,), p=p / jnp.sum(p))
    eps = jr.normal(k_noise, (n, flat.shape[1]), flat.dtype)
    return flat[index] + jnp.asarray(noise, flat.dtype) * eps


@overload
def unique_fixed_points(
    fps: FixedPoints, *, include_slow: bool = False, ensemble: Literal[True]
) -> list[FixedPoints]: ...


@overload
def unique_fixed_points(
    fps: FixedPoints, *, include_slow: bool = False, ensemble: Literal[False]
) -> FixedPoints: ...


@overload
def unique_fixed_points(
    fps: FixedPoints, *, include_slow: bool = False, ensemble: None = None
) -> FixedPoints | list[FixedPoints]: ...


def unique_fixed_points(
    fps: FixedPoints, *, include_slow: bool = False, ensemble: bool | None = None
) -> FixedPoints | list[FixedPoints]:
    """The compact list of unique points, on the host (not jittable).

    Args:
        fps: the result of :func:`find_fixed_points` (one network or an ensemble).
        include_slow: also keep unique slow points (not converged); by default
            only fixed points are returned.
        ensemble: whether ``fps`` holds an ensemble's points (checked). Passing
            ``True`` or ``False`` also tells a type checker which of the two
            results comes back; ``None`` (default) decides from ``fps``.

    Returns:
        A :class:`FixedPoints` whose slots are exactly the unique (converged) points,
        as NumPy arrays; for an ensemble, a list with one per member.
    """
    stacked = np.ndim(fps.n_unique) == 1
    if ensemble is not None and bool(ensemble) != stacked:
        raise ValueError(
            f"ensemble: expected {stacked} for these fixed points (n_unique has "
            f"shape {np.shape(fps.n_unique)}; an ensemble's has one value per "
            f"member), got {ensemble}."
        )
    if stacked:
        n = int(np.shape(fps.n_unique)[0])
        return [_compact(_index(fps, i), include_slow) for i in range(n)]
    return _compact(fps, include_slow)


def _index(fps: FixedPoints, i: int) -> FixedPoints:
    return jax.tree_util.tree_map(lambda a: a[i], fps)


def _compact(fps: FixedPoints, include_slow: bool) -> FixedPoints:
    keep = np.asarray(fps.unique) & (include_slow | np.asarray(fps.converged))
    return jax.tree_util.tree_map(
        lambda a: np.asarray(a)[keep] if np.ndim(a) >= 1 else np.asarray(a), fps
    )
