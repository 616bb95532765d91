"""Cholesky factorisation and triangular solves in plain XLA operations.

Used by the ridge solves (:func:`dynax.train.ridge_readout`,
:func:`dynax.analysis.memory_capacity`) instead of ``jnp.linalg.cholesky`` and
``lax.linalg.triangular_solve``. On CPU those call jaxlib's LAPACK kernels, and under
``vmap`` the batched kernels (jaxlib 0.10) spread the batch over XLA's intra-op thread
pool and wait for it. Two of them scheduled at the same time, e.g. two ridge fits in
one vmapped program, can take every thread of a small pool and wait for each other
forever: we saw a vmapped validation + test memory capacity hang on 2 cores, with
every thread idle. The routines here are loops and matrix products that XLA compiles
itself, so they batch under ``vmap`` like any other operation, never block, and are
differentiable.

Blocked recursively (2 x 2 blocks; off-diagonal work as matrix products), with
column-by-column loops for blocks of at most ``block`` rows. The default block,
``max(64, n // 4)``, keeps the recursion at most about three levels deep: measured
on 2 CPU cores (float32), n = 500 compiles in ~1-2 s and solves in ~7 ms (LAPACK:
~0.5 s, 4 ms), and 256 vmapped n = 100 solves take ~60 ms (LAPACK: 24 ms).
"""

import jax
import jax.numpy as jnp

from ._custom_types import Array


def _block(n: int, block: int | None) -> int:
    return max(64, n // 4) if block is None else block


def _cholesky_small(A: Array) -> Array:
    n = A.shape[0]
    idx = jnp.arange(n)

    def column(j, L):
        row = jnp.where(idx < j, L[j], 0)  # L[j, :j]
        d = jnp.sqrt(A[j, j] - row @ row)
        col = (A[:, j] - L @ row) / d
        return L.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0)))

    return jax.lax.fori_loop(0, n, column, jnp.zeros_like(A))


def cholesky(A: Array, block: int | None = None) -> Array:
    """Lower Cholesky factor ``L`` of a symmetric positive definite ``A``."""
    n = A.shape[0]
    block = _block(n, block)
    if n <= block:
        return _cholesky_small(A)
    h = n // 2
    L11 = cholesky(A[:h, :h], block)
    L21 = solve_lower(L11, A[h:, :h].T, block=block).T  # A21 L11^-T
    L22 = cholesky(A[h:, h:] - L21 @ L21.T, block)
    top = jnp.concatenate([L11, jnp.zeros((h, n - h), A.dtype)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([L21, L22], axis=1)], axis=0)


def _solve_small(L: Array, B: Array, transpose: bool) -> Array:
    n = L.shape[0]

    def row(k, X):
        # X holds the rows solved so far and zeros elsewhere.
        i = n - 1 - k if transpose else k
        coeffs = L[:, i] if transpose else L[i]
        return X.at[i].set((B[i] - coeffs @ X) / L[i, i])

    return jax.lax.fori_loop(0, n, row, jnp.zeros_like(B))


def solve_lower(
    L: Array, B: Array, *, transpose: bool = False, block: int | None = None
) -> Array:
    """Solve ``L X = B`` (or ``L^T X = B``) for a lower triangular ``L``."""
    n = L.shape[0]
    block = _block(n, block)
    if n <= block:
        return _solve_small(L, B, transpose)
    h = n // 2
    L11, L21, L22 = L[:h, :h], L[h:, :h], L[h:, h:]
    if transpose:
        X2 = solve_lower(L22, B[h:], transpose=True, block=block)
        X1 = solve_lower(L11, B[:h] - L21.T @ X2, transpose=True, block=block)
    else:
        X1 = solve_lower(L11, B[:h], block=block)
        X2 = solve_lower(L22, B[h:] - L21 @ X1, block=block)
    return jnp.concatenate([X1, X2], axis=0)


def cho_solve(A: Array, B: Array) -> Array:
    """Solve ``A X = B`` for a symmetric positive definite ``A`` (``B``: 2-d)."""
    L = cholesky(A)
    return solve_lower(L, solve_lower(L, B), transpose=True)
