"""The plain-XLA Cholesky factorisations and triangular solves against numpy/scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from dynax._linalg import (
    cho_solve,
    cholesky,
    cholesky_inverse,
    pivoted_cholesky,
    solve_lower,
)


def spd(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 10, n))
    return X.T @ X + 0.1 * np.eye(n), rng.normal(size=(n, 3))


@pytest.mark.parametrize("n", [1, 7, 64, 65, 150, 300])
def test_factor_and_solves_equal_numpy(n):
    A, B = spd(n)
    L = np.asarray(cholesky(jnp.asarray(A)))
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-10, atol=1e-12)
    for transpose in (False, True):
        ours = solve_lower(jnp.asarray(L), jnp.asarray(B), transpose=transpose)
        ref = scipy.linalg.solve_triangular(L, B, lower=True, trans=int(transpose))
        np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-9, atol=1e-12)
    x = np.asarray(cho_solve(jnp.asarray(A), jnp.asarray(B)))
    np.testing.assert_allclose(x, np.linalg.solve(A, B), rtol=1e-8, atol=1e-12)


def test_vmap_and_gradient():
    As, Bs = zip(*(spd(70, s) for s in range(3)), strict=True)
    As, Bs = jnp.asarray(np.stack(As)), jnp.asarray(np.stack(Bs))
    batched = jax.jit(jax.vmap(cho_solve))(As, Bs)
    for i in range(3):
        ref = np.linalg.solve(np.asarray(As[i]), np.asarray(Bs[i]))
        np.testing.assert_allclose(np.asarray(batched[i]), ref, rtol=1e-9)
    # d/dB sum(A^-1 B) = A^-T 1 (A symmetric)
    A, B = As[0], Bs[0]
    g = jax.grad(lambda b: jnp.sum(cho_solve(A, b)))(B)
    ref = np.linalg.solve(np.asarray(A), np.ones((70, 3)))
    np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-8)


@pytest.mark.parametrize("n", [7, 150])
def test_cholesky_inverse_equals_numpy(n):
    A, _ = spd(n)
    L, M = cholesky_inverse(jnp.asarray(A))
    np.testing.assert_allclose(
        np.asarray(L), np.linalg.cholesky(A), rtol=1e-10, atol=1e-12
    )
    ref = scipy.linalg.solve_triangular(np.linalg.cholesky(A), np.eye(n), lower=True)
    np.testing.assert_allclose(np.asarray(M), ref, rtol=1e-9, atol=1e-12)


def test_floor_keeps_a_semidefinite_factor_finite():
    """A rank-deficient Gram matrix: NaN without a floor, a finite factor of A + E
    (E diagonal, non-negative, zero where the pivots were fine) with one."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 100))
    A = jnp.asarray(X.T @ X)  # rank 40 of 100 (blocked path)
    assert not np.all(np.isfinite(np.asarray(cholesky(A))))
    for L in (cholesky(A, floor=1e-6), cholesky_inverse(A, floor=1e-6)[0]):
        L = np.asarray(L)
        assert np.all(np.isfinite(L))
        E = L @ L.T - np.asarray(A)
        np.testing.assert_allclose(E - np.diag(np.diag(E)), 0, atol=1e-8)
        assert np.all(np.diag(E) > -1e-8) and np.all(np.diag(E) < 1e-6 + 1e-8)


def test_pivoted_cholesky_reveals_rank():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 9))
    A = X.T @ X  # rank 6
    L, perm, keep = pivoted_cholesky(jnp.asarray(A), 1e-10)
    L, perm = np.asarray(L), np.asarray(perm)
    assert int(np.sum(keep)) == 6 and np.all(np.asarray(keep)[:6])
    np.testing.assert_allclose(L @ L.T, A[perm][:, perm], atol=1e-10)
    assert np.all(L[:, 6:] == 0) and np.all(np.triu(L, 1) == 0)
    d = np.diag(L)[:6]
    assert np.all(d[:-1] >= d[1:])  # pivots in decreasing order
