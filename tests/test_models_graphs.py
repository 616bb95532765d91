"""Graph generators (dynax.models): deterministic and random graphs, edge lists."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from typecheck import unchecked

from dynax.analysis import algebraic_connectivity
from dynax.models import (
    complete_graph,
    edges_from_adjacency,
    erdos_renyi_graph,
    path_graph,
    ring_graph,
    watts_strogatz_graph,
)


def random_symmetric_graph(seed, n=8, p=0.6):
    """Symmetric weights in [0.5, 2] on a random support (NumPy, no JAX)."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.uniform(size=(n, n)) < p, k=1) * rng.uniform(0.5, 2.0, (n, n))
    return upper + upper.T


# ----------------------------------------------------------------------------------
# Graph generators


def test_deterministic_graphs():
    np.testing.assert_array_equal(ring_graph(5).sum(axis=1), 2.0)
    np.testing.assert_array_equal(path_graph(5).sum(axis=1), [1, 2, 2, 2, 1])
    np.testing.assert_array_equal(complete_graph(4), 1 - np.eye(4))
    assert ring_graph(5, dtype=jnp.float32).dtype == jnp.float32


def test_erdos_renyi(getkey):
    n, p = 200, 0.1
    key = getkey()
    A = np.asarray(erdos_renyi_graph(n, p, key=key))
    np.testing.assert_array_equal(A, A.T)
    np.testing.assert_array_equal(np.diag(A), 0.0)
    n_pairs = n * (n - 1) / 2
    n_edges = A.sum() / 2
    assert abs(n_edges - p * n_pairs) < 4 * np.sqrt(n_pairs * p * (1 - p))
    np.testing.assert_array_equal(A, erdos_renyi_graph(n, p, key=key))
    batch = jax.vmap(lambda k, q: erdos_renyi_graph(20, q, key=k))(
        jr.split(getkey(), 3), jnp.array([0.0, 0.5, 1.0])
    )
    np.testing.assert_array_equal(batch[0], 0.0)
    np.testing.assert_array_equal(batch[2], complete_graph(20))


def test_watts_strogatz(getkey):
    n, k = 30, 4
    lattice = np.asarray(watts_strogatz_graph(n, k, 0.0, key=getkey()))
    i = np.arange(n)
    dist = np.abs(i[:, None] - i[None, :])
    np.testing.assert_array_equal(
        lattice, (np.minimum(dist, n - dist) <= 2) & (dist > 0)
    )
    for p in (0.2, 1.0):
        A = np.asarray(watts_strogatz_graph(n, k, p, key=getkey()))
        np.testing.assert_array_equal(A, A.T)
        np.testing.assert_array_equal(np.diag(A), 0.0)
        assert set(np.unique(A)) <= {0.0, 1.0}
        assert A.sum() / 2 == n * k / 2  # rewiring preserves the number of edges
        assert np.abs(A - lattice).sum() > 0
        assert algebraic_connectivity(A) > algebraic_connectivity(lattice)
    a, b = (watts_strogatz_graph(n, k, 0.3, key=kk) for kk in jr.split(getkey()))
    assert not np.array_equal(a, b)


def test_edges_from_adjacency_round_trip():
    A = random_symmetric_graph(2)
    A[0, 3], A[3, 0] = 0.7, 0.0  # one directed edge 3 -> 0
    s, r, w = edges_from_adjacency(A)
    rebuilt = np.zeros_like(A)
    rebuilt[np.asarray(r), np.asarray(s)] = np.asarray(w)
    np.testing.assert_array_equal(rebuilt, A)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ring_graph(2), "n: expected an integer >= 3"),
        (
            lambda: erdos_renyi_graph(5, 1.5, key=jr.PRNGKey(0)),
            r"p: expected a number in \[0, 1\]",
        ),
        (
            lambda: watts_strogatz_graph(10, 3, 0.1, key=jr.PRNGKey(0)),
            "k: expected an even",
        ),
        (
            lambda: watts_strogatz_graph(4, 4, 0.1, key=jr.PRNGKey(0)),
            "k: expected an even",
        ),
        (lambda: edges_from_adjacency(np.ones(3)), r"A: expected a square"),
    ],
)
def test_errors(call, match):
    with unchecked(), pytest.raises(ValueError, match=match):
        call()
