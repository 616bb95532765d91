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


def _cholesky_inverse_small(A: Array, floor) -> tuple[Array, Array]:
    n = A.shape[0]
    idx = jnp.arange(n)

    def column(j, LM):
        L, M = LM
        row = jnp.where(idx < j, L[j], 0)  # L[j, :j], final by now
        pivot = A[j, j] - _dot(row, row)
        d = jnp.sqrt(pivot if floor is None else jnp.maximum(pivot, floor))
        col = (A[:, j] - _dot(L, row)) / d
        L = L.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0)))
        # row j of L^-1 by forward substitution: (e_j - L[j, :j] M[:j]) / d
        return L, M.at[j].set(((idx == j).astype(A.dtype) - _dot(row, M)) / d)

    return jax.lax.fori_loop(0, n, column, (jnp.zeros_like(A), jnp.zeros_like(A)))


def cholesky_inverse(
    A: Array, block: int | None = None, *, floor=None
) -> tuple[Array, Array]:
    """``(L, L^-1)`` for the lower Cholesky factor ``L`` of ``A``.

    ``floor`` as in :func:`cholesky`. Blocked like :func:`cholesky`, but every
    off-diagonal block is a matrix product (``L21 = A21 L11^-T``, ``(L^-1)21 =
    -L22^-1 L21 L11^-1``), so the only loops are the column loops of the diagonal
    blocks: a third of the loops of :func:`cholesky` followed by
    :func:`solve_lower` with the identity, and about half the compile time.
    """
    n = A.shape[0]
    block = _block(n, block)
    if n <= block:
        return _cholesky_inverse_small(A, floor)
    h = n // 2
    L11, M11 = cholesky_inverse(A[:h, :h], block, floor=floor)
    L21 = _dot(A[h:, :h], M11.T)
    L22, M22 = cholesky_inverse(A[h:, h:] - _dot(L21, L21.T), block, floor=floor)
    M21 = -_dot(M22, _dot(L21, M11))
    zeros = jnp.zeros((h, n - h), A.dtype)
    L = jnp.concatenate(
        [jnp.concatenate([L11, zeros], 1), jnp.concatenate([L21, L22], 1)]
    )
    M = jnp.concatenate(
        [jnp.concatenate([M11, zeros], 1), jnp.concatenate([M21, M22], 1)]
    )
    return L, M


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


def pivoted_cholesky(A: Array, tol) -> tuple[Array, Array, Array]:
    """Cholesky factorisation with diagonal pivoting of a positive semi-definite ``A``.

    Left-looking, unblocked (LAPACK's ``pstrf`` without blocks): each step takes the
    largest remaining pivot and stops accepting pivots once it is ``<= tol``.
    Returns ``(L, perm, mask)``: ``A[perm][:, perm] ~= L L^T`` with ``L`` lower
    triangular, ``mask[k]`` whether pivot ``k`` was accepted (the first ``rank``),
    and the columns of rejected pivots zero. ``n`` steps of ``n^2`` operations.
    """
    n = A.shape[0]
    idx = jnp.arange(n)

    def step(k, carry):
        L, d, perm, used = carry  # L: rows in the original order, column k = step k
        j = jnp.argmax(jnp.where(used, -jnp.inf, d))
        ok = d[j] > tol
        piv = jnp.sqrt(jnp.where(ok, d[j], 1))
        col = jnp.where(used, 0, (A[:, j] - _dot(L, L[j])) / piv)
        col = jnp.where(ok, jnp.where(idx == j, piv, col), 0)
        used = used.at[j].set(True)
        d = jnp.where(used, 0, d - col**2)
        return L.at[:, k].set(col), d, perm.at[k].set(j), used

    init = (jnp.zeros_like(A), jnp.diag(A), idx, jnp.zeros(n, bool))
    L, _, perm, _ = jax.lax.fori_loop(0, n, step, init)
    L = L[perm]
    return L, perm, jnp.diag(L) > 0


# ---------------------------------------------------------------- ridge regression
#
# Ridge regression is least squares on the augmented matrix X_a = [X; sqrt(a) I].
# Its normal matrix G + a I (G = X^T X) squares the condition number of the data,
# and in float32 the rounding of G alone (about eps tr G) exceeds small ridge
# values: for reservoir states G + a I is then not numerically positive definite and
# a plain Cholesky gives NaN. The solve below never factorises G + a I itself; it
# is one step of shifted Cholesky QR (Fukaya, Kannan, Nakatsukasa, Yamamoto &
# Yanagisawa 2020, SIAM J. Sci. Comput. 42:A477) on X_a:
#
# 1. G + s I = L L^T with the shift s = 2 eps tr G (larger than G's rounding);
# 2. P = L^-1 and the preconditioned data Z = P X^T are formed explicitly, so that
#    K(a) = P (X^T X + a I) P^T = Z Z^T + a P P^T is computed from X itself: its
#    rounding error is ~eps, where that of G + a I is ~eps tr G;
# 3. K(a), whose condition number is ~max(1, s / a) instead of tr G / a, is solved
#    by Cholesky for each ridge value: W^T = P^T K(a)^-1 Z Y. Any invertible P
#    gives the same W in exact arithmetic; P only has to make K(a) well
#    conditioned, so the explicit inverse (products instead of triangular solves
#    with the data: 2x faster) loses nothing measurable.
#
# Steps 1-2 (three products the size of G and an n x n triangular inverse) are
# shared by every ridge value; step 3 costs about n^3 per value. Ridge values
# below a_min = 10 eps s (~20 eps^2 tr G) are fitted with a_min. a = 0 asks for
# the minimum-norm least-squares solution, which no ridge value gives when X is
# rank deficient (rounding leaves large components along its null space): it is
# computed from a pivoted Cholesky factorisation of K(0) = Z Z^T (pivots below
# max(time, n) eps count as zero, i.e. singular values of X below ~eps sqrt(2
# max(time, n) tr G)), then the component along the null space is removed.

_SHIFT = 2.0  # s = _SHIFT eps tr G: 5x the largest rounding error of G measured
_FLOOR = 10.0  # a_min = _FLOOR eps s: K(a_min) stays well inside Cholesky's reach
_POWER_STEPS = 24  # power iterations of the condition number estimate


class RidgeSolution(NamedTuple):
    """Weights, bias and diagnostics of :func:`ridge` (leading axis per ridge value)."""

    weights: Array  # (*alphas, n_out, n)
    bias: Array  # (*alphas, n_out)
    condition: Array  # (*alphas): condition number estimate of X^T X + a I
    residual: Array  # (*alphas, n_out): root-mean-square training residual


class _Shared(NamedTuple):
    """What every ridge value reuses (steps 1-2)."""

    A: Array  # Z Z^T
    B: Array  # P P^T
    c: Array  # Z Y
    P: Array  # L^-1
    shift: Array
    lam_max: Array  # largest eigenvalue of G (estimate)


def _power(matvec, n: int, dtype) -> Array:
    """Largest eigenvalue of a symmetric positive semi-definite operator."""
    x = jnp.sin(1.0 + jnp.arange(n, dtype=dtype))  # fixed, orthogonal to little

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
    P = cholesky_inverse(G + shift * eye, floor=shift)[1]
    Z = _dot(P, X.T)
    lam_max = _power(lambda v: _dot(G, v), n, X.dtype)
    return _Shared(_dot(Z, Z.T), _dot(P, P.T), _dot(Z, Y), P, shift, lam_max)


def _solve_one(sh: _Shared, alpha: Array) -> tuple[Array, Array]:
    """Weights ``(n_out, n)`` and condition number estimate for one ridge value."""
    n, dtype = sh.A.shape[0], sh.A.dtype
    eps = jnp.finfo(dtype).eps
    alpha = jnp.maximum(alpha, _FLOOR * eps * sh.shift)
    K = sh.A + alpha * sh.B
    Kinv_half = cholesky_inverse(K, floor=eps * jnp.trace(K) / n)[1]  # L_K^-1

    def inverse(v):  # (G + a I)^-1 v = P^T K^-1 P v
        return _dot(sh.P.T, _dot(Kinv_half.T, _dot(Kinv_half, _dot(sh.P, v))))

    weights = _dot(sh.P.T, _dot(Kinv_half.T, _dot(Kinv_half, sh.c))).T
    return weights, (sh.lam_max + alpha) * _power(inverse, n, dtype)


def _min_norm(sh: _Shared, n_rows: int) -> Array:
    """Minimum-norm least-squares weights ``(n_out, n)`` (``alpha = 0``).

    With ``v = P^-T w``: the least-squares solutions solve ``A v = c``; a pivoted
    Cholesky factor ``[L11 0; L21 0]`` of ``A`` gives the basic one ``v_b`` and the
    null space ``N = [-L11^-T L21^T; I]``; ``t`` minimises ``|P^T (v_b + N t)|``.
    """
    n, dtype = sh.A.shape[0], sh.A.dtype
    tol = max(n, n_rows) * jnp.finfo(dtype).eps * jnp.max(jnp.diag(sh.A))
    L, perm, keep = pivoted_cholesky(sh.A, tol + jnp.finfo(dtype).tiny)
    drop = jnp.diag(1.0 - keep.astype(dtype))
    # Three loops (unblocked: a rarely used path, compile time matters most), the
    # rest products: M = [L11 0; L21 I]^-1, so v_b = M^T [L11^-1 c_1; 0], N = M^T drop
    M = solve_lower(L + drop, jnp.eye(n, dtype=dtype), block=n)
    v_basic = _dot(M.T, jnp.where(keep[:, None], _dot(M, sh.c[perm]), 0))
    null = _dot(M.T, drop)  # N; zero columns for kept pivots
    BN = _dot(sh.B[perm][:, perm], null)
    S = _dot(null.T, BN) + jnp.diag(keep.astype(dtype))
    S_inv_half = cholesky_inverse(S, block=n)[1]
    t = -_dot(S_inv_half.T, _dot(S_inv_half, _dot(BN.T, v_basic)))
    v = (v_basic + _dot(null, t))[jnp.argsort(perm)]  # back to the original order
    return _dot(sh.P.T, v).T


def min_norm_lstsq(X: Array, Y: Array) -> Array:
    """The minimum-norm least-squares solution ``W`` of ``X W = Y`` (``Y``: 2-d).

    Singular values of ``X`` below about ``eps sqrt(2 max(rows, n) tr(X^T X))``
    count as zero (see the notes above ``ridge``); a singular or rank-deficient
    ``X`` gives finite values. Plain XLA operations, vmappable.
    """
    return _min_norm(_shared(X, Y), X.shape[0]).T


def ridge(
    X: Array, Y: Array, alpha: Array, *, bias: bool = True, min_norm: bool = True
) -> RidgeSolution:
    r"""Ridge regression for a scalar ``alpha`` or each value of a 1-d ``alpha``.

    Solves $\min_{W, c} \lVert X W^\top + c - Y \rVert_F^2 + \alpha \lVert W
    \rVert_F^2$ with an unpenalised bias (states and targets centred, $c = \bar y -
    W \bar x$), or $c = 0$ and nothing centred with ``bias=False``; ``alpha = 0``
    gives the minimum-norm least-squares solution. Accurate in float32 for
    ill-conditioned ``X`` (see the notes above); plain XLA operations,
    differentiable and vmappable. ``X``: ``(time, n)``, ``Y``: ``(time, n_out)``.
    ``min_norm=False`` (when every ``alpha`` is known to be positive) leaves the
    ``alpha = 0`` path out of the program: less to compile.
    """
    if bias:
        x_mean, y_mean = jnp.mean(X, axis=0), jnp.mean(Y, axis=0)
        X, Y = X - x_mean[None, :], Y - y_mean[None, :]
    else:
        x_mean = jnp.zeros(X.shape[1], X.dtype)
        y_mean = jnp.zeros(Y.shape[1], X.dtype)
    sh = _shared(X, Y)
    if alpha.ndim:
        W, cond = jax.vmap(lambda a: _solve_one(sh, a))(alpha)
    else:  # not vmapped over a batch of one: less to compile
        W, cond = jax.tree.map(lambda a: a[None], _solve_one(sh, alpha))
    if min_norm:
        zero = jnp.atleast_1d(alpha) == 0
        # a real branch unless alpha itself is vmapped: the work only for alpha = 0
        W0 = jax.lax.cond(
            jnp.any(zero),
            lambda: _min_norm(sh, X.shape[0]),
            lambda: jnp.zeros(W.shape[1:], W.dtype),
        )
        W = jnp.where(zero[:, None, None], W0[None], W)
    residual = jax.vmap(lambda w: jnp.sqrt(jnp.mean((_dot(X, w.T) - Y) ** 2, axis=0)))
    fit = RidgeSolution(W, y_mean[None] - _dot(W, x_mean), cond, residual(W))
    return fit if alpha.ndim else jax.tree.map(lambda a: a[0], fit)
