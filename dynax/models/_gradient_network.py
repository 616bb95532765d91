r"""Redundant noisy gradient systems coupled by a graph Laplacian (Bouvrie-Slotine)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, ScalarLike
from .._validate import (
    check_array,
    check_callable,
    check_float_dtype,
    check_int,
    check_positive,
    fail,
    is_concrete,
)
from ._base import AbstractStochasticDynamics


class CoupledGradientNetwork(AbstractStochasticDynamics):
    r"""$n$ noisy copies of a gradient system, coupled diffusively on a graph.

    $$dx_i = \Big[-\nabla f(x_i) - k \sum_j L_{ij}\, x_j\Big]\,dt + \sigma\,dW_i,
    \qquad i = 1, \dots, n,\quad x_i \in \mathbb R^d,$$

    i.e. $dX = [-\nabla F(X) - k (L \otimes I_d) X]\,dt + \sigma\,dW$ with the
    state $X$ stored as an ``(n, d)`` array (row $i$ = copy $i$). $L$ is a graph
    Laplacian ($L = D - A$, symmetric, non-negative edge weights, rows summing to
    zero), so the coupling $-k L X = k \sum_j A_{ij}(x_j - x_i)$ pulls the copies
    together and cancels in their centre of mass. Each copy alone follows the
    gradient flow of $f$ with its own noise; the redundancy and the coupling
    trade off against the noise. For $f(x) = \frac\lambda2 \lVert x - x^*\rVert^2$
    the stationary dispersion and centre-of-mass error are known in closed form
    (:func:`dynax.analysis.consensus_noise`); for $f$ $\lambda$-strongly convex
    they bound the nonlinear case (stochastic contraction).

    Reference: J. Bouvrie & J.-J. Slotine (2011), "Synchronization and redundancy:
    implications for robustness of neural learning and decision making", Neural
    Computation 23(11):2915 (arXiv:1010.4517).

    Args:
        f: the potential $f: \mathbb R^d \to \mathbb R$ of one copy; its gradient is
            taken with ``jax.grad``. A plain function or an ``eqx.Module`` (whose
            arrays are then parameters of the model).
        laplacian: the ``(n, n)`` graph Laplacian $L$ (see
            :func:`dynax.analysis.laplacian`).
        coupling: the coupling strength $k \ge 0$.
        sigma: the noise amplitude $\sigma \ge 0$ (the same on every coordinate).
        dim: the dimension $d$ of each copy's state.
        dtype: float dtype of the parameters (default: that of ``laplacian`` if it
            is a float array, else JAX's default float).
    """

    f: Callable[[Float[Array, " d"]], Float[Array, ""]]
    laplacian: Float[Array, "n n"]
    coupling: Float[Array, ""]
    sigma: Float[Array, ""]
    n: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __init__(
        self,
        f: Callable[[Float[Array, " d"]], Float[Array, ""]],
        laplacian: Float[ArrayLike, "n n"],
        *,
        coupling: ScalarLike,
        sigma: ScalarLike,
        dim: int = 1,
        dtype: DTypeLike | None = None,
    ):
        check_callable("f", f, "a callable f(x) -> scalar")
        check_int("dim", dim, 1)
        if dtype is None and hasattr(laplacian, "dtype"):
            is_float = jnp.issubdtype(laplacian.dtype, jnp.floating)  # pyright: ignore
            dtype = laplacian.dtype if is_float else None  # pyright: ignore
        dtype = check_float_dtype("dtype", dtype)
        self.f, self.dim = f, dim
        self.laplacian = _check_laplacian(
            check_array("laplacian", laplacian, dtype=dtype)
        )
        self.n = self.laplacian.shape[0]
        for name, value in (("coupling", coupling), ("sigma", sigma)):
            check_array(name, value, ndim=0, what="a scalar")
        self.coupling = check_positive("coupling", coupling, dtype, strict=False)
        self.sigma = check_positive("sigma", sigma, dtype, strict=False)

    def __call__(
        self, t: ScalarLike, x: Float[Array, "n d"], args: Args
    ) -> Float[Array, "n d"]:
        r"""Return the drift $-\nabla f(x_i) - k (L X)_i$ for every copy."""
        del t, args
        return -jax.vmap(jax.grad(self.f))(x) - self.coupling * (self.laplacian @ x)

    def diffusion(
        self, t: ScalarLike, y: Float[Array, "n d"], args: Args
    ) -> Float[Array, "n d"]:
        r"""Return the diagonal noise amplitude $\sigma$."""
        del t, args
        return jnp.broadcast_to(self.sigma, y.shape)

    def readout(self, x: Float[Array, "n d"]) -> Float[Array, " d"]:
        r"""Return the centre of mass $\bar x = \frac1n \sum_i x_i$ (the estimate)."""
        return jnp.mean(x, axis=0)

    def init_state(self) -> Float[Array, "n d"]:
        """Return every copy at the origin."""
        return jnp.zeros((self.n, self.dim), self.laplacian.dtype)


def _check_laplacian(lap: Float[Array, "n n"]) -> Float[Array, "n n"]:
    if lap.ndim != 2 or lap.shape[0] != lap.shape[1] or lap.shape[0] < 1:
        fail("laplacian", "a square (n, n) matrix", f"shape {lap.shape}")
    if not is_concrete(lap):
        return lap
    m = np.asarray(lap, np.float64)
    scale = max(float(np.max(np.abs(m))), 1.0)
    tol = 1e-6 * scale if lap.dtype == jnp.float32 else 1e-10 * scale
    off = m - np.diag(np.diag(m))
    problems = []
    if not np.allclose(m, m.T, rtol=0, atol=tol):
        problems.append("it is not symmetric")
    if np.any(off > tol):
        problems.append("an off-diagonal entry is positive (a negative edge weight)")
    if np.any(np.abs(m.sum(axis=1)) > tol * m.shape[0]):
        problems.append("a row does not sum to zero")
    if problems:
        fail(
            "laplacian",
            "a graph Laplacian L = D - A of an undirected graph with non-negative "
            "weights (symmetric, off-diagonal <= 0, rows summing to 0)",
            "a matrix where " + "; ".join(problems),
        )
    return lap
