r"""Redundant noisy gradient systems coupled by a graph Laplacian (Bouvrie-Slotine)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, ScalarLike
from .._validate import (
    check_float_dtype,
    check_int,
    describe,
    fail,
    is_concrete,
)
from ._base import AbstractStochasticDynamics
from ._coupling import (
    AbstractCoupling,
    DenseCoupling,
    cast_floats,
    check_nonnegative,
    check_scalar,
)


class CoupledGradientNetwork(AbstractStochasticDynamics):
    r"""$n$ noisy copies of a gradient system, coupled diffusively on a graph.

    $$dx_i = \Big[-\nabla f(x_i) - k \sum_j L_{ij}\, x_j\Big]\,dt + \sigma\,dW_i,
    \qquad i = 1, \dots, n,\quad x_i \in \mathbb R^d,$$

    i.e. $dX = [-\nabla F(X) - k (L \otimes I_d) X]\,dt + \sigma\,dW$ with the
    state $X$ stored as an ``(n, d)`` array (row $i$ = copy $i$). $L$ is a graph
    Laplacian ($L = D - A$, symmetric, non-negative edge weights, rows summing to
    zero), so the coupling $-k L X = k \sum_j A_{ij}(x_j - x_i)$ pulls the copies
    together and cancels in their centre of mass. The graph $A$ is held as an
    :class:`~dynax.models.AbstractCoupling` (``graph``; the term is its
    :meth:`~dynax.models.AbstractCoupling.diffusive`): a Laplacian array becomes a
    :class:`~dynax.models.DenseCoupling` of $A = \mathrm{diag}(L) - L$, and a
    :class:`~dynax.models.SparseCoupling` costs $O(E)$ per evaluation instead.
    Each copy alone follows the gradient flow of $f$ with its own noise; the
    redundancy and the coupling trade off against the noise. For
    $f(x) = \frac\lambda2 \lVert x - x^*\rVert^2$ the stationary dispersion and
    centre-of-mass error are known in closed form
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
            :func:`dynax.analysis.laplacian`), or the graph's adjacency $A$ as an
            :class:`~dynax.models.AbstractCoupling` (e.g.
            ``SparseCoupling.from_adjacency(A)``). A concrete graph is checked once
            on the host through its dense Laplacian ($O(n^2)$ memory).
        coupling: the coupling strength $k \ge 0$.
        sigma: the noise amplitude $\sigma \ge 0$ (the same on every coordinate).
        dim: the dimension $d$ of each copy's state.
        dtype: float dtype of the parameters (default: that of ``laplacian`` if it
            is a float array, else JAX's default float).

    Attributes:
        graph: the adjacency $A$ as a coupling (``laplacian`` is its Laplacian).
        coupling: the strength $k$, an array leaf (sweep it with ``vmap``).
    """

    f: Callable[[Float[Array, " d"]], Float[Array, ""]]
    graph: AbstractCoupling
    coupling: Float[Array, ""]
    sigma: Float[Array, ""]
    n: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __init__(
        self,
        f: Callable[[Float[Array, " d"]], Float[Array, ""]],
        laplacian: Float[ArrayLike, "n n"] | AbstractCoupling,
        *,
        coupling: ScalarLike,
        sigma: ScalarLike,
        dim: int = 1,
        dtype: DTypeLike | None = None,
    ):
        if not callable(f):
            fail("f", "a callable f(x) -> scalar", describe(f), error=TypeError)
        check_int("dim", dim, 1)
        dtype = check_float_dtype(
            "dtype", dtype if dtype is not None else _dtype(laplacian)
        )
        self.f, self.dim = f, dim
        self.graph = _graph(laplacian, dtype)
        self.n = self.graph.n
        self.coupling = check_nonnegative(
            "coupling", check_scalar("coupling", coupling, dtype), dtype
        )
        self.sigma = check_nonnegative(
            "sigma", check_scalar("sigma", sigma, dtype), dtype
        )

    def __call__(
        self, t: ScalarLike, x: Float[Array, "n d"], args: Args
    ) -> Float[Array, "n d"]:
        r"""Return the drift $-\nabla f(x_i) - k (L X)_i$ for every copy."""
        del t, args
        return -jax.vmap(jax.grad(self.f))(x) + self.coupling * self.graph.diffusive(x)

    def diffusion(
        self, t: ScalarLike, y: Float[Array, "n d"], args: Args
    ) -> Float[Array, "n d"]:
        r"""Return the diagonal noise amplitude $\sigma$."""
        del t, args
        return jnp.broadcast_to(self.sigma, y.shape)

    @property
    def laplacian(self) -> Float[Array, "n n"]:
        """The dense ``(n, n)`` graph Laplacian $L$ of ``graph``."""
        return self.graph.laplacian()

    def readout(self, x: Float[Array, "n d"]) -> Float[Array, " d"]:
        r"""Return the centre of mass $\bar x = \frac1n \sum_i x_i$ (the estimate)."""
        return jnp.mean(x, axis=0)

    def init_state(self) -> Float[Array, "n d"]:
        """Return every copy at the origin."""
        return jnp.zeros((self.n, self.dim), self.sigma.dtype)


def _dtype(laplacian):
    """The float dtype of a Laplacian array or of a coupling's weights, else None."""
    leaves = jax.tree.leaves(eqx.filter(laplacian, eqx.is_array))
    floats = [x.dtype for x in leaves if jnp.issubdtype(x.dtype, jnp.floating)]
    return floats[0] if floats else None


def _graph(laplacian, dtype) -> AbstractCoupling:
    """The adjacency of a checked Laplacian array, or a checked coupling."""
    if isinstance(laplacian, AbstractCoupling):
        graph = cast_floats(laplacian, dtype)
        leaves = jax.tree.leaves(eqx.filter(graph, eqx.is_array))
        if all(is_concrete(leaf) for leaf in leaves):
            _check_laplacian(graph.laplacian())
        return graph
    lap = _check_laplacian(jnp.asarray(laplacian, dtype))
    return DenseCoupling(jnp.diag(jnp.diag(lap)) - lap)


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
