r"""Weight-space distance between rate RNNs, invariant to relabelling hidden units.

Two networks that differ only by the order of their hidden units (and, for an odd
nonlinearity such as tanh, by the sign of some units) compute the same function. The
distance therefore minimises over **signed permutations** $Q = P S$ ($P$ a permutation
matrix, $S$ diagonal with entries $\pm 1$; $S = I$ unless sign flips are allowed),
acting on network $b$ as

$$W^b \to Q W^b Q^\top \;(\text{rows and columns together}),\quad
W_\text{in}^b \to Q W_\text{in}^b,\quad b^b \to Q b^b,\quad
W_\text{out}^b \to W_\text{out}^b Q^\top,\quad \tau^b \to P \tau^b.$$

**Matching.** $Q$ maximises the summed inner products of all hidden-unit weights of
$a$ and of the transformed $b$ (incoming $W_\text{in}$ and bias, recurrent rows and
columns, outgoing $W_\text{out}$ columns, and $\log\tau$): equivalently it minimises
their summed squared differences. The recurrent term is quadratic in $Q$, so it is
solved by iterated Hungarian matching (Ainsworth et al. 2023's weight matching): with
the current $Q_k$ held in the other slot, unit $i$ of $a$ and unit $j$ of $b$ score
$W^a_{i,:}\cdot(W^b Q_k^\top)_{j,:} + W^a_{:,i}\cdot(Q_k W^b)_{:,j}$ plus their
input, bias and output products (taken in absolute value when signs may flip, the
sign then being that of the sum) plus the $\log\tau$ product; a linear assignment
(scipy's ``linear_sum_assignment``, on the host) gives $Q_{k+1}$. The iteration runs
until $Q$ repeats or ``max_iter``, from four starts (the identity; a matching on the
order-free features: input and output weights, bias, $\log\tau$, the self-connection
and the sorted recurrent row and column, in magnitude when signs may flip; and two
random matchings of a fixed seed), and in both directions ($a$ to $b$ and $b$ to
$a$); the best objective wins, so the distance is symmetric. It is a local search:
for five units it matched brute force over all $5!\,2^5$ signed permutations on
noisy relabelled copies (tests), and it recovers the relabelling of 64-unit copies
with 10% weight noise. Units of different type are never
matched (E with E, I with I in an :class:`~dynax.models.EIRNN`, which also never flips
signs).

**Distance.**
$d = \lVert W^a - Q W^b Q^\top \rVert_F / \sqrt{\lVert W^a \rVert_F
\lVert W^b \rVert_F}$ on the effective recurrent matrix $J$ (0 for relabelled copies;
about $\sqrt 2$ for independent random matrices of equal norm). ``parameter_distance``
is the same ratio over all hidden-unit weights listed above. This definition is
dynax's (Huang et al. 2025 do not publish theirs).
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, Bool, Float, Int
from .._ensemble import member
from .._validate import (
    _member_count as member_count,
    check_bool,
    check_ensemble,
    check_int,
    fail,
)

N_RANDOM = 2  # random starting matchings per direction (fixed seed)


class PermutationDistance(eqx.Module):
    """The weight-space distance of two networks (:func:`permutation_distance`).

    Attributes:
        distance: the recurrent-matrix distance (module docstring).
        parameter_distance: the same over all hidden-unit weights.
        permutation: ``permutation[i]`` is the unit of ``net_b`` matched to unit ``i``
            of ``net_a``.
        signs: the sign applied to each matched unit of ``net_b`` (all +1 without
            sign flips).
        n_iter: Hungarian iterations of the winning run.
        converged: whether the winning run stopped because the matching repeated.
    """

    distance: Float[Array, ""]
    parameter_distance: Float[Array, ""]
    permutation: Int[Array, " n"]
    signs: Float[Array, " n"]
    n_iter: int = eqx.field(static=True)
    converged: bool = eqx.field(static=True)


class _Units:
    """A network's hidden-unit weights as float64 NumPy arrays."""

    def __init__(self, net, name: str):
        _check_rate_rnn(name, net, "a rate RNN (dx.models.CTRNN, LowRankRNN or EIRNN)")
        check_ensemble(net, False, name=name, flag=None)  # one network
        j = getattr(net, "W", None)
        j = getattr(net, "J", None) if j is None else j
        j = j() if callable(j) else j
        self.J = np.asarray(j, np.float64)
        self.W_in = np.asarray(net.W_in, np.float64)
        self.b = np.asarray(net.b, np.float64)
        self.W_out = np.asarray(net.W_out, np.float64)
        self.log_tau = np.asarray(net.log_tau, np.float64)
        n = self.J.shape[0]
        n_exc = getattr(net, "n_exc", None)
        self.types = np.zeros(n, int) if n_exc is None else (np.arange(n) >= n_exc)
        self.dale = n_exc is not None
        x = np.linspace(-3.0, 3.0, 13)
        phi = np.asarray(net.activation(jnp.asarray(x)))
        self.odd = bool(np.allclose(phi, -phi[::-1], atol=1e-6))

    def signed(self):
        """Per-unit sign-carrying features (flip with the unit)."""
        return np.concatenate([self.W_in, self.b[:, None], self.W_out.T], axis=1)

    def flat(self, perm: np.ndarray, signs: np.ndarray):
        """All hidden-unit weights relabelled: (Q J Q^T, signed rows, log_tau)."""
        q = signs[:, None] * np.eye(len(perm))[perm]  # (Q x)_i = s_i x_perm(i)
        return (
            q @ self.J @ q.T,
            signs[:, None] * self.signed()[perm],
            self.log_tau[perm],
        )


def _assign(sim: np.ndarray, types_a, types_b) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    cost = -sim
    big = np.abs(sim).sum() + 1.0
    cost = cost + big * (types_a[:, None] != types_b[None, :])
    return linear_sum_assignment(cost)[1]


def _objective(a: _Units, b: _Units, perm, signs) -> float:
    j, s, t = b.flat(perm, signs)
    return float(np.sum(a.J * j) + np.sum(a.signed() * s) + np.sum(a.log_tau * t))


def _match(a: _Units, b: _Units, start, flips: bool, max_iter: int):
    """Iterated Hungarian matching from ``start`` (perm, signs): best of the run."""
    perm, signs = start
    sa, sb = a.signed(), b.signed()
    tau = np.outer(a.log_tau, b.log_tau)
    best = (_objective(a, b, perm, signs), perm, signs, 0)
    seen = {(perm.tobytes(), signs.tobytes())}
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        q = signs[:, None] * np.eye(len(perm))[perm]
        # W_b with the current Q on the other side: rows use J_b Q^T, columns Q J_b
        rows = a.J @ (b.J @ q.T).T
        cols = a.J.T @ (q @ b.J)
        lin = rows + cols + sa @ sb.T
        sim = (np.abs(lin) if flips else lin) + tau
        perm = _assign(sim, a.types, b.types)
        lin_p = lin[np.arange(len(perm)), perm]
        signs = np.where(lin_p < 0, -1.0, 1.0) if flips else np.ones(len(perm))
        value = _objective(a, b, perm, signs)
        if value > best[0] + 1e-12 * max(abs(best[0]), 1.0):
            best = (value, perm, signs, it)
        state = (perm.tobytes(), signs.tobytes())
        if state in seen:
            converged = True
            break
        seen.add(state)
    return best, it, converged


def _feature_start(a: _Units, b: _Units, flips: bool):
    """A first matching from order-free features (no recurrent order needed).

    The features: the self-connection, the sorted recurrent row and column
    (magnitudes when signs may flip), and the input, bias and output weights.
    """

    def free(u: _Units):
        j = np.abs(u.J) if flips else u.J
        return np.concatenate(
            [np.diag(u.J)[:, None], np.sort(j, axis=1), np.sort(j, axis=0).T], axis=1
        )

    lin = a.signed() @ b.signed().T
    rest = free(a) @ free(b).T + np.outer(a.log_tau, b.log_tau)
    sim = (np.abs(lin) if flips else lin) + rest
    perm = _assign(sim, a.types, b.types)
    lin_p = lin[np.arange(len(perm)), perm]
    signs = np.where(lin_p < 0, -1.0, 1.0) if flips else np.ones(len(perm))
    return perm, signs


def _one_way(a: _Units, b: _Units, flips: bool, max_iter: int, n_random: int):
    n = a.J.shape[0]
    rng = np.random.default_rng(0)
    starts = [(np.arange(n), np.ones(n)), _feature_start(a, b, flips)]
    for _ in range(n_random):
        perm = _assign(rng.random((n, n)), a.types, b.types)
        signs = np.where(rng.random(n) < 0.5, -1.0, 1.0) if flips else np.ones(n)
        starts.append((perm, signs))
    runs = [_match(a, b, s, flips, max_iter) for s in starts]
    return max(runs, key=lambda r: r[0][0])


def _distance(a: _Units, b: _Units, flips: bool, max_iter: int) -> PermutationDistance:
    (val_ab, perm, signs, _), it_ab, conv_ab = _one_way(a, b, flips, max_iter, N_RANDOM)
    (val_ba, perm_ba, signs_ba, _), it_ba, conv_ba = _one_way(
        b, a, flips, max_iter, N_RANDOM
    )
    n_iter, converged = it_ab, conv_ab
    if val_ba > val_ab:  # invert b -> a: unit perm_ba[i] of a matches unit i of b
        inv = np.empty_like(perm_ba)
        inv[perm_ba] = np.arange(len(perm_ba))
        perm, signs = inv, signs_ba[inv]
        n_iter, converged = it_ba, conv_ba
    j, s, t = b.flat(perm, signs)
    norm = np.sqrt(np.linalg.norm(a.J) * np.linalg.norm(b.J))
    d = np.linalg.norm(a.J - j) / norm
    pa = np.concatenate([a.J.ravel(), a.signed().ravel(), a.log_tau])
    pb = np.concatenate([j.ravel(), s.ravel(), t])
    pd = np.linalg.norm(pa - pb) / np.sqrt(np.linalg.norm(pa) * np.linalg.norm(pb))
    return PermutationDistance(
        distance=jnp.asarray(d),
        parameter_distance=jnp.asarray(pd),
        permutation=jnp.asarray(perm),
        signs=jnp.asarray(signs),
        n_iter=int(n_iter),
        converged=bool(converged),
    )


def _check_flips(sign_flips, a: _Units, name: str) -> bool:
    if sign_flips is None:
        return a.odd and not a.dale
    check_bool("sign_flips", sign_flips)
    if sign_flips and not a.odd:
        fail(
            "sign_flips",
            "False or None for a non-odd activation (flipping a unit's sign changes "
            f"what {name} computes)",
            "True",
        )
    if sign_flips and a.dale:
        fail("sign_flips", "False or None for an EIRNN (Dale's law)", "True")
    return bool(sign_flips)


def _check_pair(a: _Units, b: _Units, names=("net_a", "net_b")) -> None:
    for attr in ("J", "W_in", "W_out"):
        sa, sb = getattr(a, attr).shape, getattr(b, attr).shape
        if sa != sb:
            fail(
                names[1],
                f"a network of the same sizes as {names[0]} ({attr} of shape {sa})",
                f"{attr} of shape {sb}",
            )
    if a.dale != b.dale or not np.array_equal(a.types, b.types):
        fail(names[1], f"the same unit types as {names[0]}", "different E/I sizes")
    if a.odd != b.odd:
        fail(names[1], f"the same activation as {names[0]}", "a different one")


def permutation_distance(
    net_a, net_b, *, sign_flips: bool | None = None, max_iter: int = 100
) -> PermutationDistance:
    """Weight-space distance up to relabelling of hidden units (module docstring).

    Runs on the host (NumPy and scipy's Hungarian algorithm); not jittable.

    Args:
        net_a: a rate RNN (``dx.models.CTRNN``, ``LowRankRNN`` or ``EIRNN``).
        net_b: a rate RNN of the same class sizes.
        sign_flips: allow per-unit sign flips. Default (``None``): when the
            activation is odd (e.g. tanh) and the network is not an ``EIRNN``.
        max_iter: Hungarian iterations per run at most.

    Returns:
        A :class:`PermutationDistance` (``.distance`` is the number).
    """
    a, b = _Units(net_a, "net_a"), _Units(net_b, "net_b")
    _check_pair(a, b)
    flips = _check_flips(sign_flips, a, "net_a")
    max_iter = check_int("max_iter", max_iter, 1)
    return _distance(a, b, flips, max_iter)


class PermutationDistanceMatrix(eqx.Module):
    """Weight-space distances between every pair of an ensemble.

    Attributes:
        distance: ``(n, n)`` recurrent-matrix distances (zero diagonal, symmetric).
        parameter_distance: ``(n, n)`` distances over all hidden-unit weights.
        converged: whether each pair's winning run converged.
    """

    distance: Float[Array, "n n"]
    parameter_distance: Float[Array, "n n"]
    converged: Bool[Array, "n n"]


def permutation_distance_matrix(
    ensemble, *, sign_flips: bool | None = None, max_iter: int = 100
) -> PermutationDistanceMatrix:
    """:func:`permutation_distance` between every pair of a stacked ensemble.

    The matching runs on the host, one pair after the other (each iteration is a
    linear assignment problem).

    Args:
        ensemble: a stacked ensemble of rate RNNs (``dx.make_ensemble``).
        sign_flips: as :func:`permutation_distance`.
        max_iter: as :func:`permutation_distance`.
    """
    n = _ensemble_members("ensemble", ensemble)
    units = [_Units(member(ensemble, i), "ensemble") for i in range(n)]
    flips = _check_flips(sign_flips, units[0], "ensemble")
    max_iter = check_int("max_iter", max_iter, 1)
    d = np.zeros((n, n))
    pd = np.zeros((n, n))
    conv = np.ones((n, n), bool)
    for i in range(n):
        for j in range(i + 1, n):
            r = _distance(units[i], units[j], flips, max_iter)
            d[i, j] = d[j, i] = float(r.distance)
            pd[i, j] = pd[j, i] = float(r.parameter_distance)
            conv[i, j] = conv[j, i] = r.converged
    return PermutationDistanceMatrix(
        distance=jnp.asarray(d),
        parameter_distance=jnp.asarray(pd),
        converged=jnp.asarray(conv),
    )


def _ensemble_members(name: str, ensemble) -> int:
    """The member count of a stacked ensemble of rate RNNs (checked)."""
    _check_rate_rnn(
        name,
        ensemble,
        "a stacked ensemble of rate RNNs (dx.make_ensemble of CTRNN, LowRankRNN or "
        "EIRNN)",
    )
    n = member_count(ensemble, name)
    if n is None:
        fail(name, "a stacked ensemble (dx.make_ensemble)", "one network")
    if n < 2:
        fail(name, "at least 2 members", f"{n}")
    return n


def _check_rate_rnn(name: str, net, what: str) -> None:
    from ..models._rnn import AbstractRateRNN

    if not isinstance(net, AbstractRateRNN):
        fail(name, what, f"a {type(net).__name__}", error=TypeError)
