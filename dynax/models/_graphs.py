r"""Graph generators: dense adjacency matrices, random ones as pure functions of a key.

Every generator returns a symmetric ``(n, n)`` float adjacency matrix with zero
diagonal and unit weights (an undirected simple graph), ready for
:func:`dynax.analysis.laplacian`, :class:`DenseCoupling`, or
:meth:`SparseCoupling.from_adjacency` (:func:`edges_from_adjacency`) for an edge
list. The random generators are jit- and vmap-friendly (``vmap`` over keys gives an
ensemble of graphs).
"""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import DTypeLike
from jaxtyping import Shaped

from .._custom_types import Array, ArrayLike, Float, Int, PRNGKeyArray, ScalarLike
from .._validate import (
    check_array,
    check_float,
    check_int,
    check_key,
    fail,
    is_concrete,
)


def _dtype(dtype: DTypeLike | None):
    return jnp.dtype(jnp.result_type(float) if dtype is None else dtype)


def _circulant(n: int, half_width: int, dtype) -> Shaped[Array, "n n"]:
    i = np.arange(n)
    dist = np.abs(i[:, None] - i[None, :])
    dist = np.minimum(dist, n - dist)
    return jnp.asarray((dist >= 1) & (dist <= half_width), dtype)


def ring_graph(n: int, *, dtype: DTypeLike | None = None) -> Float[Array, "n n"]:
    r"""Return the cycle $C_n$: node $i$ linked to $i \pm 1 \pmod n$ ($n \ge 3$)."""
    check_int("n", n, 3)
    return _circulant(n, 1, _dtype(dtype))


def path_graph(n: int, *, dtype: DTypeLike | None = None) -> Float[Array, "n n"]:
    r"""Return the path $P_n$: node $i$ linked to $i \pm 1$ (no wrap-around)."""
    check_int("n", n, 1)
    i = np.arange(n)
    return jnp.asarray(np.abs(i[:, None] - i[None, :]) == 1, _dtype(dtype))


def complete_graph(n: int, *, dtype: DTypeLike | None = None) -> Float[Array, "n n"]:
    r"""Return the complete graph $K_n$ (every pair linked, no self-loops)."""
    check_int("n", n, 1)
    return jnp.asarray(1.0 - np.eye(n), _dtype(dtype))


def _check_probability(p: ScalarLike) -> None:
    if is_concrete(p):  # a traced p (vmapped) is not read
        check_float("p", p, low=0.0, high=1.0)


def erdos_renyi_graph(
    n: int, p: ScalarLike, *, key: PRNGKeyArray, dtype: DTypeLike | None = None
) -> Float[Array, "n n"]:
    r"""Return an Erdős-Rényi $G(n, p)$ graph: each pair linked independently.

    Reference: P. Erdős & A. Rényi (1959), Publ. Math. Debrecen 6:290;
    E. N. Gilbert (1959), Ann. Math. Stat. 30:1141.

    Args:
        n: number of nodes.
        p: edge probability in $[0, 1]$ (may be traced, e.g. vmapped).
        key: PRNG key.
        dtype: float dtype of the result.
    """
    check_int("n", n, 1)
    _check_probability(p)
    check_key("key", key)
    return _erdos_renyi(n, jnp.asarray(p), key).astype(_dtype(dtype))


@functools.partial(jax.jit, static_argnums=0)
def _erdos_renyi(n: int, p, key) -> Array:
    upper = jnp.triu(jr.uniform(key, (n, n)) < p, k=1)
    return upper | upper.T


def watts_strogatz_graph(
    n: int,
    k: int,
    p: ScalarLike,
    *,
    key: PRNGKeyArray,
    dtype: DTypeLike | None = None,
) -> Float[Array, "n n"]:
    r"""Return a Watts-Strogatz small-world graph.

    Start from a ring lattice where each node is linked to its $k/2$ nearest
    neighbours on each side; then, as in Watts & Strogatz (1998, Nature 393:440)
    and networkx's ``watts_strogatz_graph``, visit the lattice edges $(u, u + j)$
    for $j = 1, \dots, k/2$ and every $u$, and with probability $p$ replace each by
    an edge $(u, w)$ to a node $w$ drawn uniformly among those not yet linked to
    $u$ (no self-loops or duplicates; skipped if $u$ is linked to every node). The
    number of edges, $nk/2$, is preserved. $p = 0$ gives the lattice, $p = 1$ a
    random graph. One ``lax.fori_loop`` over the $nk/2$ edges, $O(n^2 k)$ work.

    Args:
        n: number of nodes.
        k: even number of lattice neighbours per node, $2 \le k < n$.
        p: rewiring probability in $[0, 1]$ (may be traced).
        key: PRNG key.
        dtype: float dtype of the result.
    """
    check_int("n", n, 3)
    if check_int("k", k) % 2 or not 2 <= k < n:
        fail("k", f"an even integer with 2 <= k < n = {n}", repr(k))
    _check_probability(p)
    check_key("key", key)
    return _watts_strogatz(n, k // 2, jnp.asarray(p), key).astype(_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _watts_strogatz(n: int, half: int, p, key) -> Array:
    nodes = jnp.arange(n)

    def rewire(step, A):
        j, u = step // n + 1, step % n
        v = (u + j) % n
        k_coin, k_pick = jr.split(jr.fold_in(key, step))
        allowed = ~A[u] & (nodes != u)
        scores = jnp.where(allowed, jr.gumbel(k_pick, (n,)), -jnp.inf)
        w = jnp.argmax(scores)
        do = (jr.uniform(k_coin) < p) & A[u, v] & jnp.any(allowed)
        removed = A.at[u, v].set(False).at[v, u].set(False)
        added = removed.at[u, w].set(True).at[w, u].set(True)
        return jnp.where(do, added, A)

    return jax.lax.fori_loop(0, n * half, rewire, _circulant(n, half, bool))


def edges_from_adjacency(
    A: Float[ArrayLike, "n n"],
) -> tuple[Int[Array, " edges"], Int[Array, " edges"], Float[Array, " edges"]]:
    r"""Return ``(senders, receivers, weights)`` of the non-zero entries of ``A``.

    Entry $A_{ij} \ne 0$ becomes an edge from $j$ (sender) to $i$ (receiver) with
    weight $A_{ij}$ (row = receiver, as everywhere in dynax), so
    ``SparseCoupling(senders, receivers, weights, n)`` computes what
    ``DenseCoupling(A)`` does (see :meth:`SparseCoupling.from_adjacency`). Not
    jittable: the number of edges sets the shapes, so ``A`` must be concrete.
    """
    a = np.asarray(check_array("A", A))
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        fail("A", "a square (n, n) matrix", f"shape {a.shape}")
    receivers, senders = np.nonzero(a)
    return (
        jnp.asarray(senders, jnp.int32),
        jnp.asarray(receivers, jnp.int32),
        jnp.asarray(a[receivers, senders]),
    )
