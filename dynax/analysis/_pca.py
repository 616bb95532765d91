"""Principal component analysis of states (fit on trajectories, project anything)."""

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float
from .._validate import check_array, check_finite, check_int


class PCA(eqx.Module):
    """A fitted PCA: ``project(x) = (x - mean) @ components.T``.

    Attributes:
        mean: the mean state, shape ``(n,)``.
        components: the principal axes as rows, shape ``(k, n)``, in decreasing
            order of variance; each row's largest-magnitude entry is positive (a
            fixed sign convention).
        explained_variance: the variance along each axis (``ddof=1``), ``(k,)``.
        explained_variance_ratio: its fraction of the total variance, ``(k,)``.
    """

    mean: Float[Array, " n"]
    components: Float[Array, "k n"]
    explained_variance: Float[Array, " k"]
    explained_variance_ratio: Float[Array, " k"]

    def project(self, x: Float[ArrayLike, "*batch n"]) -> Float[Array, "*batch k"]:
        """Coordinates of states ``x`` (any leading axes) on the components."""
        x = jnp.asarray(x)
        mean = self.mean.reshape((1,) * (x.ndim - 1) + self.mean.shape)
        return (x - mean) @ self.components.T


def pca(x: Float[ArrayLike, "*batch n"], n_components: int | None = None) -> PCA:
    """Fit a PCA to states ``x`` (every leading axis is pooled: trials, time).

    The components are the right singular vectors of the centred data, as in
    ``numpy.linalg.svd`` (and scikit-learn's ``PCA``), with each component's
    largest-magnitude entry made positive.

    Args:
        x: states, shape ``(..., n)`` with at least two samples.
        n_components: how many components to keep (default ``min(samples, n)``).

    Returns:
        A :class:`PCA`.
    """
    x = check_array("x", x, min_ndim=2)
    check_finite("x", x)
    data = x.reshape(-1, x.shape[-1])
    n_samples, n = data.shape
    if n_samples < 2:
        raise ValueError(f"x: expected at least 2 samples, got {n_samples}.")
    k = min(n_samples, n)
    if n_components is not None:
        check_int("n_components", n_components, 1)
        if n_components > k:
            raise ValueError(
                f"n_components: expected at most min(samples, n) = {k}, "
                f"got {n_components}."
            )
        k = n_components
    mean = jnp.mean(data, axis=0)
    _, s, vt = jnp.linalg.svd(data - mean[None], full_matrices=False)
    vt = vt[:k]
    signs = jnp.sign(vt[jnp.arange(k), jnp.argmax(jnp.abs(vt), axis=1)])
    vt = vt * jnp.where(signs == 0, jnp.ones_like(signs), signs)[:, None]
    var = s**2 / (n_samples - 1)
    return PCA(mean, vt, var[:k], var[:k] / jnp.sum(var))
