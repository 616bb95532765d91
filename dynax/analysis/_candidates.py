"""Helpers around :func:`find_fixed_points`: candidates in, compact lists out."""

from typing import Literal, overload

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Array, ArrayLike, Bool, Float
from .._validate import (
    check_array,
    check_bool,
    check_float,
    check_instance,
    check_int,
    check_key,
    fail,
)
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
    what = "visited states of shape (..., n_state) with at least one leading axis"
    x = check_array("trajectories", trajectories, min_ndim=2, what=what)
    check_int("n", n, 1)
    check_float("noise", noise, low=0.0)
    check_key("key", key)
    flat = x.reshape(-1, x.shape[-1])
    k_index, k_noise = jr.split(key)
    if mask is None:
        index = jr.randint(k_index, (n,), 0, flat.shape[0])
    else:
        what = f"shape {x.shape[:-1]} (the leading axes of trajectories)"
        mask = check_array("mask", mask, shape=x.shape[:-1], what=what)
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
    what = "the FixedPoints of dx.analysis.find_fixed_points"
    check_instance("fps", fps, FixedPoints, what)
    check_bool("include_slow", include_slow)
    stacked = np.ndim(fps.n_unique) == 1
    if ensemble is not None:
        check_bool("ensemble", ensemble)
        if ensemble != stacked:
            fail(
                "ensemble",
                f"{stacked} for these fixed points (n_unique has shape "
                f"{np.shape(fps.n_unique)}; an ensemble's has one value per member)",
                f"{ensemble}",
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
