r"""Dynamical Similarity Analysis (Ostrow, Eisen, Kozachkov & Fiete, NeurIPS 2023).

DSA compares two systems by the linear operators that advance their delay-embedded
states, up to an orthogonal change of coordinates. For each system:

1. **Hankel delay embedding** of each trial (trials are never concatenated): row $t$
   is $[x_t, x_{t-\tau}, \dots, x_{t-(d-1)\tau}]$ for $t = (d-1)\tau, \dots, T-1$
   (``n_delays`` $= d$, ``delay_interval`` $= \tau$).
2. **SVD** of the stacked rows, $H^\top = U S V^\top$; the rows of $V$ are the
   whitened eigen-time-delay (HAVOK) coordinates, of which the first $r$ are kept
   (``rank``, ``rank_thresh`` or ``rank_explained_variance``).
3. **Ridge regression** of each step on the previous one inside each trial,
   $A = \big[(V_-^\top V_- + \lambda I)^{-1} V_-^\top V_+\big]^\top$ (``lamb``
   $= \lambda$), an $r \times r$ matrix. This step runs in float64.
4. **Comparison** of $A_X$ and $A_Y$:

   - ``"angular"`` and ``"euclidean"``: Procrustes analysis over vector fields,
     $\min_{C \in O(r)} \lVert \hat A_X - C \hat A_Y C^\top \rVert_F$ with
     $\hat A = A / \lVert A \rVert_F$. The angular score is
     $\arccos \operatorname{tr}(\hat A_X^\top C \hat A_Y C^\top)$ in $[0, \pi]$
     (clipped, never NaN), the euclidean score the minimum itself.
   - ``"wasserstein"``: the eigenvalues of $A_X$ and $A_Y$ as point clouds in
     $\mathbb R^2$ with uniform weights, and the exact optimal-transport cost with
     squared Euclidean ground cost (the squared 2-Wasserstein distance, not its
     square root); a shorter list is padded with zeros.

**What is matched.** Steps 1-3 and the Wasserstein score are those of PyPI
``dsa-metric`` 2.0.2 (``DSA(X, Y, n_delays=, rank=, score_method=...)`` with its
``DefaultDMD``), with the same defaults (``n_delays=1``, ``delay_interval=1``,
``rank=None``, ``lamb=0``), except the default score: dsa-metric's default became
``"wasserstein"`` on 2026-03-02, ours is the paper's ``"angular"``. Pass ``score``
explicitly when comparing with other numbers.

**The minimiser** of the Procrustes problem, where dsa-metric stops short, is in
``_procrustes.py`` (:func:`vector_field_procrustes`).
"""

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray
from .._validate import (
    check_choice,
    check_float,
    check_int,
    check_key,
    fail,
)
from ._procrustes import Procrustes, _check_solver, check_real, procrustes_pairs

Score = Literal["angular", "euclidean", "wasserstein"]
SCORES = ("angular", "euclidean", "wasserstein")


# --- steps 1-3: delay embedding, SVD, ridge DMD ------------------------------------


def hankel(
    x: Float[ArrayLike, "*trials time n"], n_delays: int = 1, delay_interval: int = 1
) -> Float[Array, "*trials rows n_embed"]:
    r"""Delay-embed each trial: row $t$ is $[x_t, x_{t-\tau}, \dots, x_{t-(d-1)\tau}]$.

    Args:
        x: trajectories ``(time, n)`` or ``(trials, time, n)``.
        n_delays: number of delays $d \ge 1$ (1: no embedding).
        delay_interval: steps $\tau \ge 1$ between delays.

    Returns:
        ``(..., time - (d - 1) tau, n d)``: block 0 holds the current time, block $k$
        the lag $k\tau$ (dsa-metric's ``embed_signal_torch``).
    """
    x = _check_trajectories("x", x, (2, 3))
    n_delays = check_int("n_delays", n_delays, 1)
    delay_interval = check_int("delay_interval", delay_interval, 1)
    return _hankel(x, n_delays, delay_interval)


def _hankel(x: Array, n_delays: int, delay_interval: int) -> Array:
    t = x.shape[-2]
    rows = t - (n_delays - 1) * delay_interval
    if rows < 1:
        fail(
            "n_delays",
            f"(n_delays - 1) * delay_interval < time = {t}",
            f"n_delays={n_delays}, delay_interval={delay_interval}",
        )
    blocks = [
        x[..., (n_delays - 1 - k) * delay_interval : t - k * delay_interval, :]
        for k in range(n_delays)
    ]
    out = jnp.concatenate(blocks, axis=-1)
    assert out.shape[-2] == rows
    return out


class DMD(eqx.Module):
    r"""The delay-embedded linear model of one system (steps 1-3 of DSA).

    Attributes:
        A: the $r \times r$ operator on the HAVOK coordinates (dsa-metric's ``A_v``).
        singular_values: all singular values of the delay embedding.
        rank: $r$, the number of HAVOK coordinates kept.
    """

    A: Float[Array, "rank rank"]
    singular_values: Float[Array, " k"]
    rank: int = eqx.field(static=True)


def _svd(h: Array) -> tuple[Array, Array]:
    """Singular values and right singular vectors (HAVOK coordinates) of ``H^T``."""
    rows = h.reshape(-1, h.shape[-1]).astype(jnp.float64)
    _, s, vt = jnp.linalg.svd(rows.T, full_matrices=False)
    return s, vt.T  # V: (M, k), unit-norm columns


def _dmd(h: Array, rank: int, lamb: float) -> DMD:
    """Ridge regression of each HAVOK step on the previous one, inside each trial."""
    s, v = _svd(h)
    v = v[:, :rank].reshape(h.shape[:-1] + (rank,))  # (trials, rows, r)
    v_minus = v[:, :-1].reshape(-1, rank)
    v_plus = v[:, 1:].reshape(-1, rank)
    gram = v_minus.T @ v_minus + lamb * jnp.eye(rank, dtype=v.dtype)
    # the normal equations, as dsa-metric; the columns of V are orthonormal, so the
    # Gram matrix of V_- (V without each trial's last row) is well conditioned
    a = jnp.linalg.solve(gram, v_minus.T @ v_plus).T
    return DMD(A=a, singular_values=s, rank=rank)


def _rank_from_values(s: np.ndarray, rank, rank_thresh, rank_explained_variance) -> int:
    """The rank rule of dsa-metric 2.0.2 (``BaseDMD._compute_rank_from_params``)."""
    if rank is not None:
        r = rank
    elif rank_thresh is not None:
        r = max(int(np.sum(s > rank_thresh)), 1)
    elif rank_explained_variance is not None:
        cum = np.cumsum(s**2) / np.sum(s**2)
        r = min(int(np.searchsorted(cum, rank_explained_variance)) + 1, len(s))
    else:
        r = len(s)
    return min(r, len(s))


# --- step 4': Wasserstein distance between eigenvalue clouds ------------------------


def eigenvalue_wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Squared-W2 optimal transport cost between the eigenvalues of ``a`` and ``b``.

    Uniform weights and squared Euclidean ground cost on (Re, Im), exact (an
    assignment problem for equal counts, solved with scipy on the host); the
    shorter list is padded with zeros (dsa-metric 2.0.2).
    """
    from scipy.optimize import linear_sum_assignment

    ea, eb = np.linalg.eigvals(np.asarray(a)), np.linalg.eigvals(np.asarray(b))
    n = max(len(ea), len(eb))
    ea = np.concatenate([ea, np.zeros(n - len(ea))])
    eb = np.concatenate([eb, np.zeros(n - len(eb))])
    cost = np.abs(ea[:, None] - eb[None, :]) ** 2
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum() / n)


# --- the public entry points ---------------------------------------------------------


class DSAResult(eqx.Module):
    """DSA between two systems (:func:`dsa`).

    Attributes:
        score: the requested score (``method``).
        method: ``"angular"``, ``"euclidean"`` or ``"wasserstein"``.
        dmd_x: the fitted operator of ``X`` (:class:`DMD`).
        dmd_y: the fitted operator of ``Y``.
        procrustes: the alignment (for the angular and euclidean scores; ``None``
            for the Wasserstein score).
    """

    score: Float[Array, ""]
    method: str = eqx.field(static=True)
    dmd_x: DMD
    dmd_y: DMD
    procrustes: Procrustes | None


class DSAMatrix(eqx.Module):
    """DSA between every pair of systems (:func:`dsa_matrix`).

    Attributes:
        scores: ``(n, n)`` symmetric scores, zero on the diagonal.
        method: the score.
        A: every system's operator, ``(n, r, r)``.
        rank: the common rank $r$.
        n_iter: iterations of each pair's winning start (0 on the diagonal
            and for the Wasserstein score).
        converged: whether each pair's winning start met ``tol`` (``True`` on the
            diagonal and for the Wasserstein score).
    """

    scores: Float[Array, "n n"]
    method: str = eqx.field(static=True)
    A: Float[Array, "n r r"]
    rank: int = eqx.field(static=True)
    n_iter: Int[Array, "n n"]
    converged: Bool[Array, "n n"]


_WHAT: dict[tuple[int, ...], str] = {
    (2, 3): "trajectories of shape (time, n) or (trials, time, n)",
    (3, 4): "trajectories of shape (systems, time, n) or (systems, trials, time, n)",
}


def _check_trajectories(name: str, x, ndim: tuple[int, ...]) -> Array:
    return check_real(name, x, ndim, _WHAT[ndim])


def _check_options(n_delays, delay_interval, lamb, score, n_starts, max_iter, tol):
    n_delays = check_int("n_delays", n_delays, 1)
    delay_interval = check_int("delay_interval", delay_interval, 1)
    lamb = check_float("lamb", lamb, low=0.0)
    check_choice("score", score, SCORES)
    n_starts, max_iter, tol = _check_solver(n_starts, max_iter, tol)
    return n_delays, delay_interval, lamb, n_starts, max_iter, tol


def _check_rank_args(rank, rank_thresh, rank_explained_variance):
    given = [
        n
        for n, v in (
            ("rank", rank),
            ("rank_thresh", rank_thresh),
            ("rank_explained_variance", rank_explained_variance),
        )
        if v is not None
    ]
    if len(given) > 1:
        fail(
            given[1],
            f"None when {given[0]} is given (one rank rule at a time)",
            f"{given[1]}={locals()[given[1]]!r}",
        )
    if rank is not None:
        check_int("rank", rank, 1)
    if rank_thresh is not None:
        check_float("rank_thresh", rank_thresh, low=0.0)
    if rank_explained_variance is not None:
        check_float(
            "rank_explained_variance",
            rank_explained_variance,
            low=0.0,
            high=1.0,
            low_open=True,
        )


def _embedding(name: str, x: Array, n_delays: int, delay_interval: int) -> Array:
    """The Hankel rows of one system's trials, ``(trials, rows, n d)``, checked."""
    t, n = x.shape[-2], x.shape[-1]
    rows = t - (n_delays - 1) * delay_interval
    if rows < 2:
        fail(
            "n_delays",
            f"(n_delays - 1) * delay_interval <= time - 2 = {t - 2} for {name} "
            "(each trial needs two embedded rows for one step)",
            f"n_delays={n_delays}, delay_interval={delay_interval}",
        )
    h = _hankel(x if x.ndim == 3 else x[None], n_delays, delay_interval)
    if h.shape[0] * h.shape[1] < n * n_delays:
        fail(
            "n_delays",
            f"an embedding dimension n * n_delays <= the number of embedded rows "
            f"({h.shape[0] * h.shape[1]}) for {name}",
            f"n * n_delays = {n} * {n_delays} = {n * n_delays}",
            hint="Use fewer delays, or more trials or time steps.",
        )
    return h


def _ranks(hs, rank, rank_thresh, rank_explained_variance) -> list[int]:
    """Each system's rank by the rule (``rank`` itself when given).

    A rank rule needs the singular values on the host before the fit, so their SVD
    runs once for the rule and once more inside the fit (keeping every system's
    right singular vectors between the two would cost more memory than the SVD).
    """
    if rank is not None:
        return [rank] * len(hs)
    return [
        _rank_from_values(
            np.asarray(_svd(h)[0]), None, rank_thresh, rank_explained_variance
        )
        for h in hs
    ]


def _check_rank(rank, hs, names) -> None:
    if rank is not None:
        for h, name in zip(hs, names, strict=True):
            top = min(h.shape[0] * h.shape[1], h.shape[2])
            if rank > top:
                fail(
                    "rank",
                    f"at most the embedding dimension of {name} "
                    f"(min(rows, n * n_delays) = {top})",
                    f"{rank}",
                )


class _Pairs(NamedTuple):
    """Scores of pairs of operators, and the Procrustes results behind them."""

    scores: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    procrustes: Procrustes | None


def _score_pairs(ops, score, key, n_starts, max_iter, tol, i=(0,), j=(1,)) -> _Pairs:
    """Score the pairs ``(ops[i], ops[j])`` (call inside ``enable_x64``).

    ``ops`` is a list (operators may differ in size for the Wasserstein score) or
    a stacked array; Wasserstein assignments run on the host, Procrustes problems
    in one compiled program.
    """
    i, j = np.asarray(i), np.asarray(j)
    if score == "wasserstein":
        a = [np.asarray(op) for op in ops]
        vals = [eigenvalue_wasserstein(a[p], a[q]) for p, q in zip(i, j, strict=True)]
        n = len(i)
        return _Pairs(np.asarray(vals), np.zeros(n, np.int32), np.ones(n, bool), None)
    stacked = jnp.stack(list(ops)) if isinstance(ops, list) else ops
    p = procrustes_pairs(stacked, i, j, key, n_starts, max_iter, tol)
    value = p.angular if score == "angular" else p.euclidean
    return _Pairs(np.asarray(value), np.asarray(p.n_iter), np.asarray(p.converged), p)


def dsa(
    X: Float[ArrayLike, "*trials time n"],
    Y: Float[ArrayLike, "*trials time m"],
    *,
    n_delays: int = 1,
    delay_interval: int = 1,
    rank: int | None = None,
    rank_thresh: float | None = None,
    rank_explained_variance: float | None = None,
    lamb: float = 0.0,
    score: Score = "angular",
    n_starts: int = 16,
    max_iter: int = 500,
    tol: float = 1e-6,
    key: PRNGKeyArray | None = None,
) -> DSAResult:
    r"""Dynamical Similarity Analysis between two systems (the module docstring).

    Args:
        X: trajectories of the first system, ``(time, n)`` or ``(trials, time, n)``.
        Y: trajectories of the second, ``(time, m)`` or ``(trials, time, m)``; ``m``
            may differ from ``n`` and the trial counts and lengths may differ too.
        n_delays: delays of the Hankel embedding (1: none).
        delay_interval: steps between delays.
        rank: number of HAVOK coordinates kept (default: all). At most one of
            ``rank``, ``rank_thresh`` (singular values above it, at least 1) and
            ``rank_explained_variance`` (smallest rank whose cumulative explained
            variance reaches it) may be given. The Procrustes scores need one rank
            for both systems: when the rule gives two, the larger is used for both.
        rank_thresh: see ``rank``.
        rank_explained_variance: see ``rank``; in $(0, 1]$.
        lamb: ridge penalty $\lambda \ge 0$ of the regression.
        score: ``"angular"`` (radians in $[0, \pi]$, the paper's), ``"euclidean"``
            or ``"wasserstein"`` (dsa-metric 2.0.2's default).
        n_starts: starting points of the Procrustes minimiser (at least 4 includes
            the spectral start, the identity and both reflections).
        max_iter: iterations per start at most (checked every 25).
        tol: a start stops when 25 iterations lower its angle by less than
            ``tol`` radians.
        key: PRNG key of the random starts (default: a fixed key; the spectral,
            identity and reflection starts need none).

    Returns:
        A :class:`DSAResult`; ``result.score`` is the number.

    Example:
        >>> result = dx.analysis.dsa(xs, ys, n_delays=10, rank=20)
        >>> float(result.score), bool(result.procrustes.converged)
    """
    opts = _check_options(
        n_delays, delay_interval, lamb, score, n_starts, max_iter, tol
    )
    n_delays, delay_interval, lamb, n_starts, max_iter, tol = opts
    _check_rank_args(rank, rank_thresh, rank_explained_variance)
    check_key("key", key, optional=True)
    xs = [_check_trajectories(n, v, (2, 3)) for n, v in (("X", X), ("Y", Y))]
    hs = [
        _embedding(name, x, n_delays, delay_interval)
        for name, x in zip(("X", "Y"), xs, strict=True)
    ]
    _check_rank(rank, hs, ("X", "Y"))
    with jax.enable_x64(True):
        ranks = _ranks(hs, rank, rank_thresh, rank_explained_variance)
        if score != "wasserstein":
            ranks = [max(ranks)] * 2
            for r, h, name in zip(ranks, hs, ("X", "Y"), strict=True):
                top = min(h.shape[0] * h.shape[1], h.shape[2])
                if r > top:
                    fail(
                        "rank",
                        f"one rank <= {top} for both systems (the embedding dimension "
                        f"of {name}); the Procrustes scores need equal ranks",
                        f"ranks {ranks} from the rank rule",
                        hint="Pass rank= explicitly, or use score='wasserstein'.",
                    )
        dmd_x, dmd_y = (_fit(h, r, lamb) for h, r in zip(hs, ranks, strict=True))
        pairs = _score_pairs([dmd_x.A, dmd_y.A], score, key, n_starts, max_iter, tol)
        value = jnp.asarray(pairs.scores[0])  # float64, as the operators
    p = pairs.procrustes
    return DSAResult(
        score=value,
        method=score,
        dmd_x=dmd_x,
        dmd_y=dmd_y,
        procrustes=None if p is None else jax.tree_util.tree_map(lambda v: v[0], p),
    )


_fit = eqx.filter_jit(_dmd)


def dsa_matrix(
    trajectories: Float[ArrayLike, "systems *trials time n"],
    *,
    n_delays: int = 1,
    delay_interval: int = 1,
    rank: int | None = None,
    rank_thresh: float | None = None,
    rank_explained_variance: float | None = None,
    lamb: float = 0.0,
    score: Score = "angular",
    n_starts: int = 16,
    max_iter: int = 500,
    tol: float = 1e-6,
    key: PRNGKeyArray | None = None,
) -> DSAMatrix:
    r"""DSA between every pair of an ensemble's trajectories.

    The operators of all systems are fitted in one compiled program (``vmap`` over
    systems) and all $n(n-1)/2$ Procrustes problems in another (``vmap`` over
    pairs); the Wasserstein score's assignment problems are solved on the host.
    Every system is compared at one rank: ``rank``, or the largest that the rank
    rule gives any system.

    Args:
        trajectories: ``(systems, time, n)`` or ``(systems, trials, time, n)``, e.g.
            the hidden states of an ensemble on a shared batch of trials.
        n_delays: as :func:`dsa`.
        delay_interval: as :func:`dsa`.
        rank: as :func:`dsa`.
        rank_thresh: as :func:`dsa`.
        rank_explained_variance: as :func:`dsa`.
        lamb: as :func:`dsa`.
        score: as :func:`dsa`.
        n_starts: as :func:`dsa`.
        max_iter: as :func:`dsa`.
        tol: as :func:`dsa`.
        key: as :func:`dsa` (the random starts, shared by all pairs).

    Returns:
        A :class:`DSAMatrix`; ``.scores[i, j]`` equals ``dsa(X_i, X_j).score`` up to
        the minimiser's tolerance.
    """
    opts = _check_options(
        n_delays, delay_interval, lamb, score, n_starts, max_iter, tol
    )
    n_delays, delay_interval, lamb, n_starts, max_iter, tol = opts
    _check_rank_args(rank, rank_thresh, rank_explained_variance)
    check_key("key", key, optional=True)
    x = _check_trajectories("trajectories", trajectories, (3, 4))
    if x.shape[0] < 2:
        fail("trajectories", "at least 2 systems on the leading axis", f"{x.shape[0]}")
    x = x if x.ndim == 4 else x[:, None]
    h = _embedding("each system", x[0], n_delays, delay_interval)
    hs = jax.vmap(lambda xi: _hankel(xi, n_delays, delay_interval))(x)
    top = min(h.shape[0] * h.shape[1], h.shape[2])
    _check_rank(rank, [h], ("each system",))
    with jax.enable_x64(True):
        r = min(max(_ranks(list(hs), rank, rank_thresh, rank_explained_variance)), top)
        # one system at a time inside one program: LAPACK calls stay unbatched
        dmds = jax.jit(lambda h: jax.lax.map(lambda hi: _dmd(hi, r, lamb), h))(hs)
        n = x.shape[0]
        i, j = np.triu_indices(n, 1)
        pairs = _score_pairs(dmds.A, score, key, n_starts, max_iter, tol, i, j)
    scores = np.zeros((n, n))
    n_iter = np.zeros((n, n), np.int32)
    converged = np.ones((n, n), bool)
    scores[i, j] = scores[j, i] = pairs.scores
    n_iter[i, j] = n_iter[j, i] = pairs.n_iter
    converged[i, j] = converged[j, i] = pairs.converged
    return DSAMatrix(
        scores=jnp.asarray(scores),
        method=score,
        A=dmds.A,
        rank=r,
        n_iter=jnp.asarray(n_iter),
        converged=jnp.asarray(converged),
    )
