r"""Linear couplings between the nodes of a network: the matrix $C$, three layouts.

A coupling is the ``(n, n)`` matrix $C$ of a network, row = receiver $i$, column =
sender $j$. Every layout computes the same quantities, each in its own cost:

- :meth:`AbstractCoupling.aggregate`, $\sum_j C_{ij} x_j$ for every receiver;
- :meth:`AbstractCoupling.diffusive`, $\sum_j C_{ij} (x_j - x_i)$ (Stuart-Landau,
  Laplacian coupling: $-(L x)_i$ with $L = D - C$);
- :meth:`AbstractCoupling.phase_interaction`,
  $\sum_j C_{ij} \sin(\phi_j - \theta_i - \alpha)$ (Kuramoto);
- :meth:`AbstractCoupling.connection_sum`, $\sum_j C_{ij} g_{ij}$ for any
  per-connection term $g$ (e.g. per-connection delays).

The layouts are :class:`MeanField` (all-to-all, $C_{ij} = K_i / N$, through the
$O(N)$ mean field: the $N \times N$ matrix never exists), :class:`DenseCoupling` (a
weight matrix, $O(N^2)$) and :class:`SparseCoupling` (an edge list, $O(E)$). Weights
and strengths are array leaves, so a sweep over them is a ``vmap``, not a recompile.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.typing import DTypeLike

from .._custom_types import Array, ArrayLike, Float, Int, ScalarLike
from .._validate import (
    as_array,
    check_array,
    check_float_dtype,
    check_int,
    check_positive,
    check_unit_shape,
    describe,
    fail,
    is_concrete,
)
from ._graphs import edges_from_adjacency

#: ``g(senders, receivers)``: one term per connection, from index arrays that
#: broadcast to :attr:`AbstractCoupling.connection_shape`.
ConnectionTerm = Callable[[Int[Array, "..."], Int[Array, "..."]], Float[Array, "..."]]


class AbstractCoupling(eqx.Module):
    r"""A linear coupling $C$ between ``n`` nodes (row = receiver, column = sender).

    Subclasses say how $\sum_j C_{ij} x_j$ is computed (:meth:`aggregate`), how a
    per-connection term is summed (:meth:`connection_sum`) and what their
    connections are (:attr:`connection_shape`); the model-facing terms
    (:meth:`diffusive`, :meth:`phase_interaction`, :meth:`laplacian`) are written
    once here on top of them.
    """

    n: eqx.AbstractVar[int]

    @abc.abstractmethod
    def aggregate(self, x: Float[Array, "n k"]) -> Float[Array, "n k"]:
        r"""Return $\sum_j C_{ij} x_j$ for every receiver $i$ (``x[j]``: node $j$)."""

    @abc.abstractmethod
    def connection_sum(self, term: ConnectionTerm) -> Float[Array, " n"]:
        r"""Return $\sum_j C_{ij}\, g_{ij}$ for every receiver $i$.

        Args:
            term: ``g(senders, receivers)``, evaluated once on index arrays that
                broadcast to :attr:`connection_shape` (entry $c$ is the connection
                from ``senders[c]`` to ``receivers[c]``).
        """

    @property
    @abc.abstractmethod
    def connection_shape(self) -> tuple[int, ...]:
        """The shape of one value per connection: ``(n, n)`` or ``(edges,)``."""

    @abc.abstractmethod
    def matrix(self) -> Float[Array, "n n"]:
        """Return the dense ``(n, n)`` matrix $C$ (for checks and small graphs)."""

    def diffusive(self, x: Float[Array, "n k"]) -> Float[Array, "n k"]:
        r"""Return $\sum_j C_{ij}(x_j - x_i) = -(L x)_i$ for every receiver $i$.

        $L = \mathrm{diag}(C\mathbf 1) - C$ is the Laplacian. One :meth:`aggregate`
        of ``x`` with a column of ones appended (the row sums).
        """
        ones = jnp.ones((x.shape[0], 1), x.dtype)
        summed = self.aggregate(jnp.concatenate([x, ones], axis=1))
        k = x.shape[1]
        return summed[:, :k] - summed[:, k:] * x

    def phase_interaction(
        self,
        theta: Float[Array, " n"],
        source: Float[Array, " n"],
        lag: ScalarLike,
    ) -> Float[Array, " n"]:
        r"""Return $\sum_j C_{ij} \sin(\phi_j - \theta_i - \alpha)$ for sources $\phi$.

        Through $Z_i = \sum_j C_{ij} e^{i\phi_j}$ (one :meth:`aggregate` of the
        cosines and sines), rotated by $-\alpha$ and then by $-\theta_i$: two sines
        per oscillator and evaluation, none per pair. Pass ``source = theta`` (the
        same array) for the undelayed term; its sines are then reused.
        """
        cos_src, sin_src = jnp.cos(source), jnp.sin(source)
        if source is theta:
            cos_th, sin_th = cos_src, sin_src
        else:
            cos_th, sin_th = jnp.cos(theta), jnp.sin(theta)
        z = self.aggregate(jnp.stack([cos_src, sin_src], axis=1))
        cos_lag, sin_lag = jnp.cos(lag), jnp.sin(lag)
        re = cos_lag * z[:, 0] + sin_lag * z[:, 1]
        im = cos_lag * z[:, 1] - sin_lag * z[:, 0]
        return cos_th * im - sin_th * re

    def laplacian(self) -> Float[Array, "n n"]:
        r"""Return the dense Laplacian $L = \mathrm{diag}(C\mathbf 1) - C$."""
        c = self.matrix()
        return jnp.diag(jnp.sum(c, axis=1)) - c


class MeanField(AbstractCoupling):
    r"""All-to-all coupling with the $1/N$ normalisation, $C_{ij} = K_i / N$.

    $\sum_j C_{ij} x_j = \frac{K_i}{N}\sum_j x_j$: the sum is taken once and shared
    by every receiver, so an evaluation costs $O(N)$ and no $N \times N$ array is
    formed (except by :meth:`connection_sum` and :meth:`matrix`, which are dense).
    With $K$ above $K_c = 2\gamma$ a Kuramoto population with a Lorentzian
    frequency density of half-width $\gamma$ synchronises (Kuramoto 1975).

    Args:
        strength: the coupling strength $K$, a scalar, or one per receiver $K_i$
            (shape ``(n,)``). Negative values (repulsion) are allowed.
        n: the number of nodes $N$.
        dtype: float dtype of ``strength`` (default: its own if it is a float
            array, else JAX's default float).
    """

    strength: Float[Array, "*n"]
    n: int = eqx.field(static=True)

    def __init__(
        self,
        strength: Float[ArrayLike, "*n"],
        n: int,
        *,
        dtype: DTypeLike | None = None,
    ):
        check_int("n", n, 1)
        strength = jnp.asarray(strength, float_dtype(strength, dtype))
        if strength.shape not in ((), (n,)):
            raise ValueError(
                f"strength: expected a scalar or shape (n,) = ({n},), got shape "
                f"{strength.shape}."
            )
        self.strength, self.n = strength, n

    def aggregate(self, x: Float[Array, "n k"]) -> Float[Array, "n k"]:
        r"""Return $\frac{K_i}{N} \sum_j x_j$ for every receiver, in $O(N)$."""
        column = self.strength.reshape((-1, 1)) / self.n
        return jnp.broadcast_to(column * jnp.sum(x, axis=0, keepdims=True), x.shape)

    def connection_sum(self, term: ConnectionTerm) -> Float[Array, " n"]:
        r"""Return $\sum_j \frac{K_i}{N} g_{ij}$ (dense: $O(N^2)$)."""
        nodes = jnp.arange(self.n)
        g = jnp.broadcast_to(
            term(nodes.reshape(1, -1), nodes.reshape(-1, 1)), (self.n,) * 2
        )
        return jnp.sum(self.matrix() * g, axis=1)

    @property
    def connection_shape(self) -> tuple[int, ...]:
        """``(n, n)``: every ordered pair is a connection."""
        return (self.n, self.n)

    def matrix(self) -> Float[Array, "n n"]:
        """Return $C_{ij} = K_i / N$."""
        column = self.strength.reshape((-1, 1)) / self.n
        return jnp.broadcast_to(column, (self.n, self.n))


class DenseCoupling(AbstractCoupling):
    r"""A dense weight matrix, $C_{ij}$ = the weight of the edge from $j$ to $i$.

    No normalisation is applied (for the textbook $\frac{K}{N} A_{ij}$ pass
    ``K / N * A``). An evaluation is a matrix product, $O(N^2)$.

    Args:
        weights: the ``(n, n)`` matrix $C$ (row = receiver, column = sender).
        dtype: float dtype of ``weights`` (default: its own if it is a float array,
            else JAX's default float).
    """

    weights: Float[Array, "n n"]
    n: int = eqx.field(static=True)

    def __init__(
        self, weights: Float[ArrayLike, "n n"], *, dtype: DTypeLike | None = None
    ):
        weights = jnp.asarray(weights, float_dtype(weights, dtype))
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(
                f"weights: expected a square (n, n) matrix, got shape {weights.shape}."
            )
        self.weights, self.n = weights, weights.shape[0]

    def aggregate(self, x: Float[Array, "n k"]) -> Float[Array, "n k"]:
        r"""Return $C x$."""
        return self.weights @ x

    def connection_sum(self, term: ConnectionTerm) -> Float[Array, " n"]:
        r"""Return $\sum_j C_{ij} g_{ij}$."""
        nodes = jnp.arange(self.n)
        g = term(nodes.reshape(1, -1), nodes.reshape(-1, 1))
        return jnp.sum(self.weights * g, axis=1)

    @property
    def connection_shape(self) -> tuple[int, ...]:
        """``(n, n)``: entry ``[i, j]`` is the connection from ``j`` to ``i``."""
        return (self.n, self.n)

    def matrix(self) -> Float[Array, "n n"]:
        """Return ``weights``."""
        return self.weights


class SparseCoupling(AbstractCoupling):
    r"""An edge list: edge $e$ carries node $s_e$'s value to node $r_e$, weight $w_e$.

    $\sum_j C_{ij} x_j = \sum_{e:\, r_e = i} w_e\, x_{s_e}$ by
    ``jax.ops.segment_sum``, $O(E)$; repeated edges add up. No normalisation.
    Build one from a dense adjacency with :meth:`from_adjacency`.

    Args:
        senders: integer node indices $s_e$ in ``[0, n)``, shape ``(edges,)``.
        receivers: integer node indices $r_e$ in ``[0, n)``, shape ``(edges,)``.
        weights: a scalar (the same weight on every edge) or one per edge.
        n: the number of nodes.
        dtype: float dtype of ``weights`` (default: its own if it is a float array,
            else JAX's default float).
    """

    senders: Int[Array, " edges"]
    receivers: Int[Array, " edges"]
    weights: Float[Array, "*edges"]
    n: int = eqx.field(static=True)

    def __init__(
        self,
        senders: Int[ArrayLike, " edges"],
        receivers: Int[ArrayLike, " edges"],
        weights: Float[ArrayLike, "*edges"],
        n: int,
        *,
        dtype: DTypeLike | None = None,
    ):
        check_int("n", n, 1)
        self.senders, self.receivers = check_edges(
            senders, receivers, n, ("senders", "receivers")
        )
        weights = jnp.asarray(weights, float_dtype(weights, dtype))
        n_edges = self.senders.shape[0]
        if weights.shape not in ((), (n_edges,)):
            raise ValueError(
                "weights: expected a scalar or one weight per edge, shape "
                f"({n_edges},), got shape {weights.shape}."
            )
        self.weights, self.n = weights, n

    @classmethod
    def from_adjacency(
        cls, A: Float[ArrayLike, "n n"], *, dtype: DTypeLike | None = None
    ) -> "SparseCoupling":
        r"""Return the edges of the non-zero entries of a concrete ``(n, n)`` matrix.

        Entry $A_{ij} \ne 0$ becomes the edge from $j$ to $i$ with weight $A_{ij}$,
        so the result computes what ``DenseCoupling(A)`` does, in $O(E)$.
        """
        senders, receivers, weights = edges_from_adjacency(A)
        return cls(senders, receivers, weights, jnp.shape(A)[0], dtype=dtype)

    def aggregate(self, x: Float[Array, "n k"]) -> Float[Array, "n k"]:
        r"""Return $\sum_{e: r_e = i} w_e x_{s_e}$ for every receiver $i$."""
        w = self.weights.reshape((-1, 1))
        return jax.ops.segment_sum(
            w * x[self.senders], self.receivers, num_segments=self.n
        )

    def connection_sum(self, term: ConnectionTerm) -> Float[Array, " n"]:
        r"""Return $\sum_{e: r_e = i} w_e g_e$."""
        g = term(self.senders, self.receivers)
        w = jnp.broadcast_to(self.weights, self.senders.shape)
        return jax.ops.segment_sum(w * g, self.receivers, num_segments=self.n)

    @property
    def connection_shape(self) -> tuple[int, ...]:
        """``(edges,)``: one connection per edge."""
        return self.senders.shape

    def matrix(self) -> Float[Array, "n n"]:
        """Return the dense matrix (repeated edges summed)."""
        w = jnp.broadcast_to(self.weights, self.senders.shape)
        zeros = jnp.zeros((self.n, self.n), self.weights.dtype)
        return zeros.at[self.receivers, self.senders].add(w)


def float_dtype(value, dtype: DTypeLike | None) -> jnp.dtype:
    """``dtype``, else ``value``'s dtype if it is a float array, else the default."""
    if (
        dtype is None
        and hasattr(value, "dtype")
        and jnp.issubdtype(value.dtype, jnp.floating)
    ):
        return jnp.dtype(value.dtype)
    return check_float_dtype("dtype", dtype)


def check_edges(
    senders: ArrayLike, receivers: ArrayLike, n: int, names: tuple[str, str]
) -> tuple[Int[Array, " edges"], Int[Array, " edges"]]:
    """Return ``senders, receivers`` as ``int32`` after checking them (``names``)."""
    s, r = as_array(names[0], senders), as_array(names[1], receivers)
    both = names[0] if names[0] == names[1] else f"{names[0]}, {names[1]}"
    if not (
        jnp.issubdtype(s.dtype, jnp.integer) and jnp.issubdtype(r.dtype, jnp.integer)
    ):
        fail(both, "integer index arrays", f"dtypes {s.dtype} and {r.dtype}")
    if s.ndim != 1 or s.shape != r.shape:
        what = "senders and receivers as 1-d arrays of equal length"
        fail(both, what, f"shapes {s.shape} and {r.shape}")
    if is_concrete(s) and is_concrete(r) and s.size:
        lo, hi = min(int(s.min()), int(r.min())), max(int(s.max()), int(r.max()))
        if lo < 0 or hi >= n:
            fail(both, f"node indices in [0, {n})", f"indices in [{lo}, {hi}]")
    return s.astype(jnp.int32), r.astype(jnp.int32)


def as_coupling(
    coupling: "AbstractCoupling | Float[ArrayLike, '...']",
    n: int,
    edges: tuple[ArrayLike, ArrayLike] | None,
    dtype,
) -> AbstractCoupling:
    """Return the coupling a model was given: an object, or arrays to convert.

    A scalar or ``(n,)`` is a :class:`MeanField`, an ``(n, n)`` array a
    :class:`DenseCoupling`, and with ``edges=(senders, receivers)`` the weights of
    a :class:`SparseCoupling`. An :class:`AbstractCoupling` must have ``n`` nodes;
    its float leaves are cast to ``dtype``.
    """
    if isinstance(coupling, AbstractCoupling):
        if edges is not None:
            what = "None when coupling is a coupling object (it holds its own edges)"
            fail("edges", what, describe(edges))
        if coupling.n != n:
            what = f"a coupling of n = len(omega) = {n} nodes"
            fail("coupling", what, f"a {type(coupling).__name__} of {coupling.n}")
        return cast_floats(coupling, dtype)
    weights = as_array("coupling", coupling, dtype)
    if edges is not None:
        return _sparse_from_edges(weights, edges, n)
    if weights.ndim == 2:
        if weights.shape[0] != weights.shape[1]:
            fail("coupling", "a square (n, n) weight matrix", f"shape {weights.shape}")
        if weights.shape[0] != n:
            what = f"an (n, n) matrix with n = len(omega) = {n}"
            fail("coupling", what, f"shape {weights.shape}")
        return DenseCoupling(weights)
    if weights.shape not in ((), (n,)):
        fail(
            "coupling",
            "a scalar or shape (n,) (all-to-all), or an (n, n) matrix, with n = "
            f"len(omega) = {n}",
            f"shape {weights.shape}",
        )
    return MeanField(weights, n)


def _sparse_from_edges(weights: Array, edges, n: int) -> SparseCoupling:
    if not isinstance(edges, tuple | list) or len(edges) != 2:
        what = "a tuple (senders, receivers) of two integer arrays"
        fail("edges", what, describe(edges), error=TypeError)
    senders, receivers = check_edges(edges[0], edges[1], n, ("edges", "edges"))
    if weights.shape not in ((), senders.shape):
        what = f"a scalar or one weight per edge, shape {senders.shape}, with edges"
        fail("coupling", what, f"shape {weights.shape}")
    return SparseCoupling(senders, receivers, weights, n)


def cast_floats(tree, dtype):
    """Cast every floating array leaf of ``tree`` to ``dtype`` (indices untouched)."""
    return jtu.tree_map(
        lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree
    )


def check_frequencies(omega: ArrayLike, dtype) -> Float[Array, " n"]:
    """Return ``omega`` as a 1-d float array of at least one oscillator."""
    what = "a 1-d array of natural frequencies, one per oscillator"
    omega = check_array("omega", omega, ndim=1, dtype=dtype, what=what)
    if omega.shape[0] < 1:
        fail("omega", what, f"shape {omega.shape}")
    return omega


def check_nonnegative(name: str, value: ArrayLike, dtype) -> Float[Array, "..."]:
    """Return ``value`` as an array after checking every element is ``>= 0``.

    A concrete failure raises ``ValueError`` at once; a traced value (swept with
    ``vmap``) is checked with ``eqx.error_if`` when the computation runs.
    """
    return check_positive(name, value, dtype, strict=False)


def check_scalar(name: str, value: ScalarLike, dtype) -> Float[Array, ""]:
    """Return ``value`` as a 0-d array of ``dtype``."""
    return check_array(name, value, ndim=0, dtype=dtype, what="a scalar")


def check_per_unit(name: str, value: ArrayLike, n: int, dtype) -> Float[Array, "..."]:
    """Return ``value`` as an array of shape ``()`` or ``(n,)``."""
    check_unit_shape(name, value, n, axis="n")
    return as_array(name, value, dtype)
