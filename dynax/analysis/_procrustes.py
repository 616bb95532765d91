r"""Procrustes analysis over vector fields (DSA's step 4) and its minimiser.

$\min_{C \in O(r)} \lVert \hat A - C \hat B C^\top \rVert_F$ with
$\hat A = A / \lVert A \rVert_F$; the angular score is
$\arccos \operatorname{tr}(\hat A^\top C \hat B C^\top)$ (clipped, never NaN) and
the euclidean score the minimum itself.

**The minimiser** (where dsa-metric stops short). The Procrustes problem is not convex.
dsa-metric runs Adam on a Cayley parametrisation for a fixed number of steps from the
identity and from one reflection; a rotated copy of a system can score 0.3 rad. Here
each comparison runs Riemannian Adam on O(r) (learning rate 0.02; the gradient pulled
back to the Lie algebra at the current $C$, steps retracted by Newton-Schulz, best
iterate kept) from ``n_starts`` starting points covering both determinants: a
spectral start (the eigenbases of the symmetric parts of $A_X$ and $A_Y$ aligned,
with the per-axis signs chosen by a spectral relaxation and greedy flips: exact for an
orthogonally transformed copy), the identity, a reflection, the spectral start times
the reflection, and random orthogonal matrices of alternating determinant. Each start
stops when 25 iterations lower its angle by less than ``tol`` radians, or after
``max_iter`` iterations; the best start wins, and its iteration count and convergence
are reported. For near-identity operators (slow dynamics sampled finely) the
landscape has many local minima a few percent apart: more starts (``n_starts``) find
lower ones, and no method is the lowest on every pair.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from .._custom_types import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray
from .._validate import (
    check_array,
    check_finite,
    check_float,
    check_int,
    check_key,
    fail,
)


def _check_solver(n_starts, max_iter, tol):
    n_starts = check_int("n_starts", n_starts, 1)
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_float("tol", tol, low=0.0, low_open=True)
    return n_starts, max_iter, tol


def _orthonormalise(c: Array, n: int = 2) -> Array:
    """Newton-Schulz steps towards the polar factor (matrix products only).

    ``c`` is near-orthogonal, and each step squares its distance from O(r).
    """
    for _ in range(n):
        c = 1.5 * c - 0.5 * c @ (c.T @ c)
    return c


def _prepare(a: Array) -> tuple[Array, Array]:
    """One operator, normalised, and the eigenbasis of its symmetric part.

    One unbatched LAPACK call per operator: run under ``lax.map``, never ``vmap``.
    """
    a = a / jnp.linalg.norm(a)
    return a, jnp.linalg.eigh((a + a.T) / 2)[1]


def _leading_vector(w: Array, n_iter: int = 200) -> Array:
    """Leading eigenvector of a symmetric matrix by power iteration on a shift."""
    shifted = w + jnp.linalg.norm(w) * jnp.eye(w.shape[0], dtype=w.dtype)
    x = jnp.sin(1.0 + jnp.arange(w.shape[0], dtype=w.dtype))

    def step(_, x):
        y = shifted @ x
        return y / (jnp.linalg.norm(y) + jnp.finfo(w.dtype).tiny)

    return jax.lax.fori_loop(0, n_iter, step, x / jnp.linalg.norm(x))


def _spectral_start(a: Array, b: Array, va: Array, vb: Array) -> Array:
    """Align the eigenbases of the symmetric parts; choose their signs (see module)."""
    w = (va.T @ a @ va) * (vb.T @ b @ vb)  # objective sum_ij w_ij d_i d_j
    w = (w + w.T) / 2
    w = w - jnp.diag(jnp.diag(w))
    d = jnp.where(_leading_vector(w) >= 0, 1.0, -1.0).astype(a.dtype)

    def sweep(d, _):
        def flip(i, d):
            gain = -4.0 * d[i] * (w[i] @ d)
            return d.at[i].set(jnp.where(gain > 0, -d[i], d[i]))

        return jax.lax.fori_loop(0, d.shape[0], flip, d), None

    d, _ = jax.lax.scan(sweep, d, None, length=a.shape[0])
    return (va * d[None, :]) @ vb.T


def _random_starts(r: int, n: int, key: PRNGKeyArray, dtype) -> Array:
    """``n`` random orthogonal matrices, alternating determinant (shared by pairs)."""
    q = jax.lax.map(lambda z: jnp.linalg.qr(z)[0], jr.normal(key, (n, r, r), dtype))
    flip = jnp.where(jnp.arange(n) % 2 == 1, -1.0, 1.0).astype(dtype)
    return q.at[:, :, 0].multiply(flip[:, None])


def _starts(a, b, va, vb, random: Array) -> Array:
    """The starting points of the minimiser.

    The spectral start, the identity, a reflection, the spectral start times the
    reflection, then the random starts (both determinants among the first two).
    """
    r = a.shape[0]
    eye = jnp.eye(r, dtype=a.dtype)
    swap = eye[jnp.array([1, 0, *range(2, r)])] if r > 1 else -eye
    spectral = _spectral_start(a, b, va, vb)
    return jnp.concatenate([jnp.stack([spectral, eye, swap, spectral @ swap]), random])


CHUNK = 25  # iterations between two convergence checks


def _minimise(a: Array, b: Array, c0: Array, max_iter: int, tol: float, lr: float):
    r"""Riemannian Adam on O(r) from ``c0``: (loss, C, iterations, converged).

    The gradient of $\lVert a - C b C^\top\rVert^2$ is pulled back to the Lie
    algebra at $C$ ($\Omega = C^\top G - G^\top C$, skew), Adam (learning rate
    ``lr``) turns it into a skew step $U$, and $C \leftarrow C\,(I + U + U^2/2)$
    is brought back onto O(r) by Newton-Schulz steps (matrix products only: no
    LAPACK call, which batched under ``vmap`` can deadlock on a small CPU thread
    pool; see ``dynax/_linalg.py``). The determinant never changes along the way.
    The best iterate is kept. Runs in chunks of ``CHUNK`` iterations and stops
    after the first chunk that lowers the angle by less than ``tol`` radians, or at
    ``max_iter``.
    """
    eye = jnp.eye(a.shape[0], dtype=a.dtype)

    def loss_and_omega(c):
        r = a - c @ b @ c.T
        g = -2.0 * (r.T @ c @ b + r @ c @ b.T)
        m = c.T @ g
        return jnp.sum(r * r), m - m.T

    def angle(value):  # normalised a, b: loss = 2 - 2 cos(angle)
        return jnp.arccos(jnp.clip(1.0 - value / 2.0, -1.0, 1.0))

    opt = optax.adam(lr)

    def step(carry, _):
        c, state, best, c_best = carry
        value, omega = loss_and_omega(c)
        better = value < best
        best = jnp.where(better, value, best)
        c_best = jnp.where(better, c, c_best)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int32 and int64
            u, state = opt.update(omega, state)
        u = jnp.asarray(u)
        u = 0.5 * (u - u.T)
        return (_orthonormalise(c @ (eye + u + 0.5 * u @ u)), state, best, c_best), None

    def chunk(carry):
        c, state, best, c_best, _, it = carry
        (c, state, new_best, c_best), _ = jax.lax.scan(
            step, (c, state, best, c_best), None, length=CHUNK
        )
        gain = angle(best) - angle(new_best)
        return c, state, new_best, c_best, gain, it + CHUNK

    def going(carry):
        return (carry[5] < max_iter) & (carry[4] >= tol)

    inf = jnp.asarray(jnp.inf, a.dtype)
    with jax.numpy_dtype_promotion("standard"):
        state0 = opt.init(c0)
    init = (c0, state0, inf, c0, inf, jnp.asarray(0))
    c, _, best, c_best, gain, it = jax.lax.while_loop(going, chunk, init)
    last, _ = loss_and_omega(c)
    c_best = jnp.where(last < best, c, c_best)
    return jnp.minimum(last, best), c_best, it, gain < tol


class Procrustes(eqx.Module):
    r"""The best orthogonal alignment of two DMD operators (normalised).

    Attributes:
        angular: $\arccos \operatorname{tr}(\hat A^\top C \hat B C^\top)$, in
            $[0, \pi]$.
        euclidean: $\lVert \hat A - C \hat B C^\top \rVert_F$.
        C: the minimising orthogonal matrix.
        n_iter: iterations of the winning start.
        converged: whether the winning start stopped on ``tol`` (its last 25
            iterations lowered the angle by less than ``tol``) before ``max_iter``.
        start_losses: the final squared error of every start.
    """

    angular: Float[Array, ""]
    euclidean: Float[Array, ""]
    C: Float[Array, "r r"]
    n_iter: Int[Array, ""]
    converged: Bool[Array, ""]
    start_losses: Float[Array, " starts"]


def _procrustes(a, b, va, vb, random, n_starts, max_iter, tol, lr):
    """Procrustes of two prepared operators on O(r) from several starts (vmappable)."""
    c0 = _starts(a, b, va, vb, random)[:n_starts]
    losses, cs, its, conv = jax.vmap(lambda c: _minimise(a, b, c, max_iter, tol, lr))(
        c0
    )
    best = jnp.argmin(losses)
    c = cs[best]
    cos = jnp.clip(jnp.trace(a.T @ c @ b @ c.T), -1.0, 1.0)
    return Procrustes(
        angular=jnp.arccos(cos),
        euclidean=jnp.sqrt(jnp.maximum(losses[best], 0.0)),
        C=c,
        n_iter=its[best],
        converged=conv[best],
        start_losses=losses,
    )


def procrustes_pairs(ops, i, j, key, n_starts, max_iter, tol) -> Procrustes:
    """Procrustes of the pairs ``(ops[i], ops[j])`` (a fixed key by default)."""
    k = jr.PRNGKey(0) if key is None else key
    return _procrustes_all(
        ops, jnp.asarray(i), jnp.asarray(j), k, n_starts, max_iter, tol
    )


@eqx.filter_jit
def _procrustes_all(
    ops: Array,
    i: Array,
    j: Array,
    key,
    n_starts: int,
    max_iter: int,
    tol: float,
    lr: float = 0.02,
) -> Procrustes:
    """Procrustes of the pairs ``(ops[i], ops[j])``, one compiled program."""
    normed, bases = jax.lax.map(_prepare, ops)
    random = _random_starts(ops.shape[-1], max(n_starts - 4, 0), key, ops.dtype)
    return jax.vmap(
        lambda p, q: _procrustes(
            normed[p],
            normed[q],
            bases[p],
            bases[q],
            random,
            n_starts,
            max_iter,
            tol,
            lr,
        )
    )(i, j)


def check_real(name: str, value, ndim: tuple[int, ...], what: str) -> Array:
    """``value`` as an array of real numbers, finite where concrete, of ``ndim``."""
    arr = check_array(name, value, ndim=ndim, what=what)
    if not (
        jnp.issubdtype(arr.dtype, jnp.floating)
        or jnp.issubdtype(arr.dtype, jnp.integer)
        or arr.dtype == jnp.bool_
    ):
        fail(name, f"real {what}", f"dtype {arr.dtype}", error=TypeError)
    check_finite(name, arr, f"finite {what}")
    return arr


def _check_operator(name: str, a) -> Array:
    arr = check_real(name, a, (2,), "square matrices (r, r)")
    if arr.shape[0] != arr.shape[1]:
        fail(name, "a square matrix (r, r)", f"shape {arr.shape}")
    if not bool(jnp.any(arr != 0)):
        fail(name, "a nonzero matrix (it is normalised)", "all zeros")
    return arr


def vector_field_procrustes(
    A: Float[ArrayLike, "r r"],
    B: Float[ArrayLike, "r r"],
    *,
    n_starts: int = 16,
    max_iter: int = 500,
    tol: float = 1e-6,
    key: PRNGKeyArray | None = None,
) -> Procrustes:
    r"""Procrustes analysis over vector fields of two operators (DSA's step 4).

    $\min_{C \in O(r)} \lVert \hat A - C \hat B C^\top \rVert_F$ with
    $\hat A = A/\lVert A \rVert_F$, by the multi-start minimiser of the module
    docstring; runs in float64.

    Args:
        A: an $r \times r$ operator (e.g. ``DMD.A``).
        B: another, of the same size.
        n_starts: as :func:`dsa`.
        max_iter: as :func:`dsa`.
        tol: as :func:`dsa`.
        key: as :func:`dsa`.

    Returns:
        A :class:`Procrustes` (``.angular``, ``.euclidean``, ``.C``, ``.n_iter``,
        ``.converged``).
    """
    a, b = _check_operator("A", A), _check_operator("B", B)
    if a.shape != b.shape:
        fail("B", f"the shape of A {a.shape}", f"shape {b.shape}")
    n_starts, max_iter, tol = _check_solver(n_starts, max_iter, tol)
    check_key("key", key, optional=True)
    with jax.enable_x64(True):
        ops = jnp.stack([a, b]).astype(jnp.float64)
        p = procrustes_pairs(ops, [0], [1], key, n_starts, max_iter, tol)
    return jax.tree_util.tree_map(lambda v: v[0], p)
