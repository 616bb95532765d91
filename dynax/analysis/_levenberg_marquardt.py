"""Levenberg-Marquardt on F(x) = 0 for a batch of starting points at once.

``optimistix.LevenbergMarquardt`` solves the same problem; under ``vmap`` over 1,024
starting points of a 64-unit RNN on 2 CPU cores it took 3.7 s (with a Cholesky
normal-equation solver; 6.4 s with its default QR), this loop 2.2 s, because it forms
the Jacobian once per iteration as a matrix and solves the damped normal equations
with one Cholesky factorisation, where the operator-based solve re-evaluates Jacobian
products column by column. The iteration is the textbook one (Nocedal & Wright,
Numerical Optimization, 2nd ed., section 10.3), with the damping scaled by the mean
diagonal of $J^T J$ so that it does not depend on the units of F.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from .._custom_types import Array


class LMResult(NamedTuple):
    """Final iterates of a batch of Levenberg-Marquardt solves."""

    x: Array  # (m, n) final points
    q: Array  # (m,) 1/2 |F(x)|^2 there
    n_steps: Array  # () iterations taken by the batch (the slowest member)
    stalled: Array  # (m,) stopped without reaching tol (a slow point or no progress)


def _half_sq(r: Array) -> Array:
    q = 0.5 * jnp.sum(r * r)
    return jnp.where(jnp.isfinite(q), q, jnp.inf)


def batched_levenberg_marquardt(
    F: Callable[[Array], Array],
    x0: Array,
    *,
    tol: float,
    max_steps: int,
    ftol: float,
    lam0: float = 1e-3,
    lam_max: float = 1e8,
) -> LMResult:
    """Minimise ``q(x) = |F(x)|^2 / 2`` from every row of ``x0`` at once.

    A member stops when ``q <= tol`` (converged), when an accepted step lowers ``q``
    by less than a fraction ``ftol`` of itself or the damping exceeds ``lam_max``
    (stalled: a local minimum of ``q`` above ``tol``, i.e. a slow point), or at
    ``max_steps``. Stopped members are held while the others go on.
    """
    n = x0.shape[-1]
    eye = jnp.eye(n, dtype=x0.dtype)

    def step(x, r, q, lam):
        J = jax.jacfwd(F)(x)
        H = J.T @ J
        g = J.T @ r
        mu = jnp.trace(H) / n
        chol = jnp.linalg.cholesky(H + (lam * mu) * eye)
        d = -jsl.cho_solve((chol, True), g)
        x_new = x + d
        r_new = F(x_new)
        q_new = _half_sq(r_new)
        accept = jnp.all(jnp.isfinite(d)) & (q_new < q)
        small = accept & (q - q_new <= ftol * q)
        x = jnp.where(accept, x_new, x)
        r = jnp.where(accept, r_new, r)
        q = jnp.where(accept, q_new, q)
        lam = jnp.where(accept, jnp.maximum(lam * 0.3, 1e-12), lam * 10.0)
        return x, r, q, lam, small | (lam > lam_max)

    batched = jax.vmap(step)

    def body(carry):
        i, x, r, q, lam, done, stalled = carry
        x1, r1, q1, lam1, stall1 = batched(x, r, q, lam)
        hold = done[:, None]
        x, r = jnp.where(hold, x, x1), jnp.where(hold, r, r1)
        q, lam = jnp.where(done, q, q1), jnp.where(done, lam, lam1)
        stalled = stalled | (~done & stall1 & (q > tol))
        done = done | (q <= tol) | stalled
        return i + 1, x, r, q, lam, done, stalled

    def cond(carry):
        return (carry[0] < max_steps) & ~jnp.all(carry[5])

    r0 = jax.vmap(F)(x0)
    q0 = jax.vmap(_half_sq)(r0)
    m = x0.shape[0]
    done0 = q0 <= tol
    lam_init = jnp.full((m,), lam0, x0.dtype)
    carry = (jnp.asarray(0), x0, r0, q0, lam_init, done0, jnp.zeros((m,), bool))
    i, x, _, q, _, done, stalled = jax.lax.while_loop(cond, body, carry)
    return LMResult(x, q, i, stalled | ~done)
