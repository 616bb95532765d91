r"""Cholesky factorisation, triangular solves and ridge regression in plain XLA.

Used by the ridge solves (:func:`dynax.train.ridge_readout`,
:func:`dynax.analysis.memory_capacity`, :func:`dynax.train.ridge_classifier`)
instead of ``jnp.linalg.cholesky``/``svd``/``qr`` and ``lax.linalg.triangular_solve``.
On CPU those call jaxlib's LAPACK kernels, and under ``vmap`` the batched kernels
(jaxlib 0.10) spread the batch over XLA's intra-op thread pool and wait for it. Two
of them scheduled at the same time, e.g. two ridge fits in one vmapped program, can
take every thread of a small pool and wait for each other forever: we saw a vmapped
validation + test memory capacity hang on 2 cores, with every thread idle. The
routines here are loops and matrix products that XLA compiles itself, so they batch
under ``vmap`` like any other operation, never block, and are differentiable. Every
product asks for ``Precision.HIGHEST``, so GPUs do not round float32 to TF32.

The Cholesky factorisation is blocked recursively (2 x 2 blocks; off-diagonal work
as matrix products), with column-by-column loops for blocks of at most ``block``
rows. The default block, ``max(64, n // 4)``, keeps the recursion at most about
three levels deep: measured on 2 CPU cores (float32), n = 500 compiles in ~1-2 s and
solves in ~7 ms (LAPACK: ~0.5 s, 4 ms), and 256 vmapped n = 100 solves take ~60 ms
(LAPACK: 24 ms).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._custom_types import Array

_HIGHEST = jax.lax.Precision.HIGHEST


def _dot(a: Array, b: Array) -> Array:
    return jnp.matmul(a, b, precision=_HIGHEST)


def _block(n: int, block: int | None) -> int:
    return max(64, n // 4) if block is None else block


def _cholesky_small(A: Array, floor) -> Array:
    n = A.shape[0]
    idx = jnp.arange(n)

    def column(j, L):
        row = jnp.where(idx < j, L[j], 0)  # L[j, :j]
        pivot = A[j, j] - _dot(row, row)
        d = jnp.sqrt(pivot if floor is None else jnp.maximum(pivot, floor))
        col = (A[:, j] - _dot(L, row)) / d
        return L.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0)))

    return jax.lax.fori_loop(0, n, column, jnp.zeros_like(A))


def cholesky(A: Array, block: int | None = None, *, floor=None) -> Array:
    """Lower Cholesky factor ``L`` of a symmetric positive definite ``A``.

    With ``floor`` (a positive scalar), a pivot below it is replaced by ``floor``
    (a modified Cholesky factorisation: ``L L^T = A + E`` with ``E`` diagonal and
    non-negative), so ``L`` stays finite for a matrix that is only numerically
    positive semi-definite; without it such a matrix gives NaN.
    """
    n = A.shape[0]
    block = _block(n, block)
    if n <= block:
        return _cholesky_small(A, floor)
    h = n // 2
    L11 = cholesky(A[:h, :h], block, floor=floor)
    L21 = solve_lower(L11, A[h:, :h].T, block=block).T  # A21 L11^-T
    L22 = cholesky(A[h:, h:] - _dot(L21, L21.T), block, floor=floor)
    top = jnp.concatenate([L11, jnp.zeros((h, n - h), A.dtype)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([L21, L22], axis=1)], axis=0)


def _solve_small(L: Array, B: Array, transpose: bool) -> Array:
    n = L.shape[0]

    def row(k, X):
        # X holds the rows solved so far and zeros elsewhere.
        i = n - 1 - k if transpose else k
        coeffs = L[:, i] if transpose else L[i]
        return X.at[i].set((B[i] - _dot(coeffs, X)) / L[i, i])

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
        X1 = solve_lower(L11, B[:h] - _dot(L21.T, X2), transpose=True, block=block)
    else:
        X1 = solve_lower(L11, B[:h], block=block)
        X2 = solve_lower(L22, B[h:] - _dot(L21, X1), block=block)
    return jnp.concatenate([X1, X2], axis=0)


def cho_solve(A: Array, B: Array) -> Array:
    """Solve ``A X = B`` for a symmetric positive definite ``A`` (``B``: 2-d)."""
    L = cholesky(A)
    return solve_lower(L, solve_lower(L, B), transpose=True)


# ---------------------------------------------------------------- ridge regression
#
# Ridge regression is least squares on the augmented matrix X_a = [X; sqrt(a) I].
# Its normal matrix G + a I (G = X^T X) squares the condition number of the data, and
# in float32 the rounding of G alone (about eps * tr G) exceeds small ridge values:
# for reservoir states G + a I is then not numerically positive definite and a plain
# Cholesky gives NaN. The solve below never factorises G + a I directly. It is one
# step of shifted Cholesky QR (Fukaya, Kannan, Nakatsukasa, Yamamoto & Yanagisawa
# 2020, SIAM J. Sci. Comput. 42:A477) applied to X_a:
#
# 1. G + s I = L L^T with the shift s = 2 eps tr G (a Cholesky that always succeeds);
# 2. P = L^-1 and the preconditioned data Z = P X^T are formed explicitly, so that
#    K(a) = P (X^T X + a I) P^T = Z Z^T + a P P^T
#    is computed from X itself: its rounding error is ~eps, not eps * tr G / s;
# 3. K(a), whose condition number is ~max(1, s / a) rather than tr G / a, is solved
#    by Cholesky for each ridge value, and W^T = P^T K(a)^-1 Z Y. Any invertible P
#    gives the same W in exact arithmetic; P only needs to make K(a) well
#    conditioned, so the explicit inverse (products instead of triangular solves
#    with the data, 2x faster here) loses nothing measurable.
#
# Steps 1-2 cost three products of the size of X^T X plus an n x n triangular
# inverse and are shared by every ridge value; step 3 costs about n^3 per value. On float32 echo-state states the fitted
# readouts predict as well as a float64 fit (and NumPy's float32 lstsq) for every
# ridge value down to the floor below. Ridge values under a_min = 10 eps s (about
# 20 eps^2 tr G) are raised to a_min: a = 0 gives the minimum-norm least-squares
# solution, with singular values of X under ~sqrt(a_min) counting as zero.

_SHIFT = 2.0  # s = _SHIFT * eps * tr G: twice the largest rounding error of G seen
_FLOOR = 10.0  # a_min = _FLOOR * eps * s: K(a) stays well inside Cholesky's reach
_POWER_STEPS = 24  # power iterations for the condition number estimate


class RidgeSolution(NamedTuple):
    """Weights, bias and diagnostics of :func:`ridge` (leading axis per ridge value)."""

    weights: Array  # (*alphas, n_out, n)
    bias: Array  # (*alphas, n_out)
    condition: Array  # (*alphas): condition number estimate of X_c^T X_c + a I
    residual: Array  # (*alphas, n_out): RMS training residual


class _Shared(NamedTuple):
    """What every ridge value reuses (step 1-2 above)."""

    A: Array  # (L^-1 X^T)(X L^-T)
    B: Array  # P P^T, P = L^-1
    c: Array  # L^-1 X^T Y
    P: Array  # L^-1
    shift: Array
    lam_max: Array  # largest eigenvalue of X^T X (estimate)


def _power(matvec, n: int, dtype) -> Array:
    """Largest eigenvalue of a symmetric positive semi-definite operator."""
    x = jnp.sin(1.0 + jnp.arange(n, dtype=dtype))  # fixed, not orthogonal to much

    def step(_, x):
        y = matvec(x)
        return y / (jnp.linalg.norm(y) + jnp.finfo(dtype).tiny)

    x = jax.lax.fori_loop(0, _POWER_STEPS, step, x / jnp.linalg.norm(x))
    return _dot(x, matvec(x))


def _shared(X: Array, Y: Array) -> _Shared:
    n = X.shape[1]
    eps, tiny = jnp.finfo(X.dtype).eps, jnp.finfo(X.dtype).tiny
    G = _dot(X.T, X)
    eye = jnp.eye(n, dtype=X.dtype)
    shift = _SHIFT * eps * jnp.trace(G) + tiny
    P = solve_lower(cholesky(G + shift * eye, floor=shift), eye)
    Z = _dot(P, X.T)
    lam_max = _power(lambda v: _dot(G, v), n, X.dtype)
    return _Shared(_dot(Z, Z.T), _dot(P, P.T), _dot(Z, Y), P, shift, lam_max)


def _solve_one(sh: _Shared, X: Array, Y: Array, alpha: Array):
    n = sh.A.shape[0]
    eps = jnp.finfo(X.dtype).eps
    alpha = jnp.maximum(alpha, _FLOOR * eps * sh.shift)
    K = sh.A + alpha * sh.B
    L = cholesky(K, floor=eps * jnp.trace(K) / n)
    Linv = solve_lower(L, jnp.eye(n, dtype=X.dtype))
    weights = _dot(sh.P.T, _dot(Linv.T, _dot(Linv, sh.c))).T
    # (X^T X + a I)^-1 = M^T M with M = L_K^-1 P: its largest eigenvalue is 1 / lam_min
    def inverse(v):
        return _dot(sh.P.T, _dot(Linv.T, _dot(Linv, _dot(sh.P, v))))

    inv_max = _power(inverse, n, X.dtype)
    condition = (sh.lam_max + alpha) * inv_max
    residual = jnp.sqrt(jnp.mean((_dot(X, weights.T) - Y) ** 2, axis=0))
    return weights, condition, residual


def ridge(X: Array, Y: Array, alpha: Array, *, bias: bool = True) -> RidgeSolution:
    r"""Ridge regression $\min_{W, c} \lVert X W^\top + c - Y \rVert_F^2 + a
    \lVert W \rVert_F^2$ for a scalar ``alpha`` or each value of a 1-d ``alpha``.

    The bias $c$ is not penalised (states and targets are centred, $c = \bar y - W
    \bar x$); with ``bias=False``, $c = 0$ and nothing is centred. Accurate in
    float32 for ill-conditioned ``X`` (see the notes above); plain XLA operations,
    differentiable and vmappable. ``X``: ``(time, n)``, ``Y``: ``(time, n_out)``.
    """
    if bias:
        x_mean, y_mean = jnp.mean(X, axis=0), jnp.mean(Y, axis=0)
        X, Y = X - x_mean[None, :], Y - y_mean[None, :]
    else:
        x_mean = jnp.zeros(X.shape[1], X.dtype)
        y_mean = jnp.zeros(Y.shape[1], X.dtype)
    sh = _shared(X, Y)
    solve = lambda a: _solve_one(sh, X, Y, a)  # noqa: E731
    if alpha.ndim == 0:
        W, cond, res = solve(alpha)
        return RidgeSolution(W, y_mean - _dot(W, x_mean), cond, res)
    W, cond, res = jax.vmap(solve)(alpha)
    return RidgeSolution(W, y_mean[None, :] - _dot(W, x_mean), cond, res)
