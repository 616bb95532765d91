"""The plain-XLA Cholesky and triangular solves against numpy/scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from dynax._linalg import cho_solve, cholesky, solve_lower


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
