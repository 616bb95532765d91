r"""Geometry of trajectories: speed, slow regions and fast transitions, closed orbits.

The speed $q(x) = \tfrac12\lVert f(t, x)\rVert^2$ of Sussillo & Barak (2013),
evaluated along trajectories rather than minimised, separates slow regions (where
noise or input moves the state) from fast deterministic transitions, the picture
of Torre et al. (2025, "Mechanistic interpretability of RNNs emulating hidden
Markov models"): noise-sustained orbits made of slow clusters joined by fast
"kick zones". :func:`closed_orbit` finds an orbit's period and phase from returns
to a Poincaré section.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Args, Array, ArrayLike, Bool, Float, Int
from .._inputs import ConstantInput
from .._validate import check_array, check_float, check_int, fail
from ._fixed_point_solve import residual
from ._linearise import Kind, check_f, resolve_kind


def speed(
    f: Callable,
    ys: Float[ArrayLike, "*batch n"],
    *,
    ts: Float[ArrayLike, "*batch"] | None = None,
    inputs: Float[ArrayLike, "*batch n_in"] | None = None,
    args: Args = None,
    kind: Kind | None = None,
) -> Float[Array, "*batch"]:
    r"""The speed $q = \tfrac12\lVert F(t, y)\rVert^2$ at every state of ``ys``.

    $F = f$ for a flow and $F = f(t, y) - y$ for a map (the step it takes), as in
    :func:`~dynax.analysis.find_fixed_points`; a trajectory's slow stretches are
    where $q$ is small.

    Args:
        f: a dynax model or ``f(t, y, args)``.
        ys: states with any leading axes, e.g. ``traj.ys`` ``(time, n)``.
        ts: the time of each state (broadcast against the leading axes), e.g.
            ``traj.ts``; default 0.
        inputs: the input in force at each state, leading axes as ``ys`` (the
            input array given to :func:`dynax.simulate`: sample ``k`` drives the
            step from ``ts[k]``), handed to ``f`` as ``dx.ConstantInput``.
        args: handed to ``f`` unchanged (instead of ``inputs``).
        kind: ``"flow"`` or ``"map"`` (default from ``f``'s type).

    Returns:
        $q$, shape ``ys.shape[:-1]``.
    """
    check_f(f)
    kind = resolve_kind(f, kind)
    ys = check_array("ys", ys, min_ndim=1)
    lead = ys.shape[:-1]
    t = jnp.zeros(lead, ys.dtype) if ts is None else jnp.asarray(ts)
    try:
        t = jnp.broadcast_to(t, lead)
    except ValueError:
        fail("ts", f"times broadcastable to {lead}", f"shape {t.shape}")
    if inputs is not None:
        if args is not None:
            fail("inputs", "None when args is given", "both")
        u = check_array("inputs", inputs)
        if u.shape[:-1] != lead:
            fail("inputs", f"leading axes {lead} (those of ys)", f"shape {u.shape}")
    return _speed(f, ys, t, inputs, args, kind)


def residuals(f, ys: Array, t: Array, inputs, args, kind) -> Array:
    """$F$ ($f$ for a flow, $f(y) - y$ for a map) at each state, shape ``(k, n)``.

    ``ys`` ``(k, n)`` at times ``t`` ``(k,)``, with the input in force at each
    (``(k, n_in)``, handed to ``f`` as ``dx.ConstantInput``) or ``args``.
    """

    def one(y, s, u):
        a = args if u is None else ConstantInput(u)
        return residual((f, s, a), kind)(y)

    if inputs is None:
        return jax.vmap(lambda y, s: one(y, s, None))(ys, t)
    return jax.vmap(one)(ys, t, inputs.reshape(ys.shape[0], -1))


@eqx.filter_jit
def _speed(f, ys, t, inputs, args, kind):
    n = ys.shape[-1]
    r = residuals(f, ys.reshape(-1, n), t.reshape(-1), inputs, args, kind)
    return (0.5 * jnp.sum(r**2, axis=-1)).reshape(ys.shape[:-1])


class SpeedSegments(eqx.Module):
    r"""Slow regions and fast transitions of one trajectory, from its speed.

    ``label[k]`` is ``1`` where $q \le$ ``slow_threshold`` (slow), ``-1`` where
    $q \ge$ ``fast_threshold`` (fast), ``0`` in between. A segment is a maximal
    run of one nonzero label. Segment arrays have one slot per time (fixed size
    under ``jit``); the first ``n_segments`` hold the segments in time order, the
    rest hold ``start = end = time`` and ``kind = 0``.

    Attributes:
        label: per time, ``(time,)``.
        slow_threshold: the ``slow_quantile`` of $q$.
        fast_threshold: the ``fast_quantile`` of $q$.
        start: the first index of each segment.
        end: one past its last index.
        kind: ``1`` (slow) or ``-1`` (fast).
        n_segments: how many segments there are.
    """

    label: Int[Array, " time"]
    slow_threshold: Float[Array, ""]
    fast_threshold: Float[Array, ""]
    start: Int[Array, " time"]
    end: Int[Array, " time"]
    kind: Int[Array, " time"]
    n_segments: Int[Array, ""]


def speed_segments(
    q: Float[ArrayLike, " time"],
    *,
    slow_quantile: float = 0.25,
    fast_quantile: float = 0.75,
) -> SpeedSegments:
    r"""Split a trajectory into slow regions and fast transitions by its speed.

    The thresholds are quantiles of the trajectory's own speed (``jnp.quantile``,
    linear interpolation as in NumPy): the slowest ``slow_quantile`` of the time
    is slow, the fastest ``1 - fast_quantile`` is fast (equal quantiles split the
    time in two). Use ``jax.vmap`` over trials.

    Args:
        q: the speed along one trajectory (:func:`speed`), ``(time,)``.
        slow_quantile: in ``[0, 1]``.
        fast_quantile: in ``[slow_quantile, 1]``.

    Returns:
        A :class:`SpeedSegments`.
    """
    q = check_array("q", q, ndim=1, what="the speed along one trajectory, (time,)")
    lo = check_float("slow_quantile", slow_quantile, low=0.0, high=1.0)
    hi = check_float("fast_quantile", fast_quantile, low=lo, high=1.0)
    return _segments(q, lo, hi)


@eqx.filter_jit
def _segments(q, lo, hi) -> SpeedSegments:
    n = q.shape[0]
    slow_t = jnp.quantile(q, jnp.asarray(lo, q.dtype))
    fast_t = jnp.quantile(q, jnp.asarray(hi, q.dtype))
    label = jnp.where(q <= slow_t, 1, jnp.where(q >= fast_t, -1, 0))
    prev = jnp.concatenate([jnp.zeros((1,), label.dtype), label[:-1]])
    nxt = jnp.concatenate([label[1:], jnp.zeros((1,), label.dtype)])
    first = (label != 0) & (label != prev)
    last = (label != 0) & (label != nxt)
    (start,) = jnp.nonzero(first, size=n, fill_value=n)
    (stop,) = jnp.nonzero(last, size=n, fill_value=n - 1)
    count = jnp.sum(first)
    used = jnp.arange(n) < count
    end = jnp.where(used, stop + 1, n)
    kind = jnp.where(used, label[jnp.minimum(start, n - 1)], 0)
    return SpeedSegments(label, slow_t, fast_t, start, end, kind, count)


class ClosedOrbit(eqx.Module):
    r"""Returns of a trajectory to a Poincaré section: period and phase.

    The section is the hyperplane through the reference state $y_0$ =
    ``ys[start]`` normal to the velocity there; a return is an upward crossing
    of it within ``tol`` (relative to the trajectory's largest distance from
    $y_0$) of $y_0$.

    Attributes:
        period: the mean return time, $(c_N - c_0)/N$ over the $N$ returns
            ($c_0$ = ``ts[start]``); ``nan`` without returns.
        period_std: the standard deviation of successive return times.
        n_returns: $N$.
        crossings: $c_0, c_1, \dots$ (linear interpolation of the section
            coordinate between samples), padded with ``nan`` to ``(time,)``.
        return_distance: the largest relative distance from $y_0$ at a return.
        closed: at least 2 returns, all within ``tol``.
        phase: $2\pi (t - c_j)/(c_{j+1} - c_j)$ for $c_j \le t < c_{j+1}$ (the
            fraction of the current cycle), extrapolated with ``period`` outside
            $[c_0, c_N]$, in $[0, 2\pi)$, ``(time,)``.
    """

    period: Float[Array, ""]
    period_std: Float[Array, ""]
    n_returns: Int[Array, ""]
    crossings: Float[Array, " time"]
    return_distance: Float[Array, ""]
    closed: Bool[Array, ""]
    phase: Float[Array, " time"]


def closed_orbit(
    ys: Float[ArrayLike, "time n"],
    ts: Float[ArrayLike, " time"],
    *,
    start: int = 0,
    tol: float = 1e-2,
) -> ClosedOrbit:
    r"""Detect a closed orbit and its period and phase from returns to a section.

    Start after any transient (``start``). For a limit cycle sampled every
    $\Delta t$ the crossing times are accurate to $O(\Delta t^3)$ (the section
    coordinate has an inflection at $y_0$), so the period's error falls as
    $1/N$ with the number of returns. Use ``jax.vmap`` over trials.

    Args:
        ys: states ``(time, n)`` (flatten multi-axis states first).
        ts: their times.
        start: index of the reference state $y_0$, ``0 <= start < time - 1``.
        tol: the largest distance from $y_0$ at a return, relative to the
            trajectory's largest distance from $y_0$.

    Returns:
        A :class:`ClosedOrbit`.
    """
    ys = check_array("ys", ys, ndim=2, what="states (time, n)")
    ts = check_array("ts", ts, shape=(ys.shape[0],), what=f"shape ({ys.shape[0]},)")
    check_int("start", start, 0, ys.shape[0] - 2)
    check_float("tol", tol, low=0.0, low_open=True)
    return _orbit(ys, ts.astype(ys.dtype), start, jnp.asarray(tol, ys.dtype))


@eqx.filter_jit
def _orbit(ys, ts, start: int, tol) -> ClosedOrbit:
    T = ys.shape[0]
    y0, t0 = ys[start], ts[start]
    i0, i1 = max(start - 1, 0), start + 1
    v = (ys[i1] - ys[i0]) / (ts[i1] - ts[i0])
    v = v / jnp.linalg.norm(v)
    s = (ys - y0[None]) @ v
    k = jnp.arange(T - 1)
    up = (k >= start) & (s[:-1] < 0) & (s[1:] >= 0)
    w = -s[:-1] / jnp.where(up, s[1:] - s[:-1], 1)
    tc = ts[:-1] + w * (ts[1:] - ts[:-1])
    yc = ys[:-1] + w[:, None] * (ys[1:] - ys[:-1])
    scale = jnp.max(jnp.linalg.norm(ys[start:] - y0[None], axis=1))
    dist = jnp.linalg.norm(yc - y0[None], axis=1) / jnp.where(scale > 0, scale, 1)
    near = up & (dist <= tol)
    (idx,) = jnp.nonzero(near, size=T - 1, fill_value=T - 2)
    n = jnp.sum(near)
    nf = n.astype(ys.dtype)
    used = jnp.arange(T - 1) < n
    returns = jnp.where(used, tc[idx], jnp.nan)
    crossings = jnp.concatenate([t0[None], returns])
    last = crossings[n]
    period = jnp.where(n > 0, (last - t0) / jnp.maximum(nf, 1), jnp.nan)
    gaps = jnp.diff(crossings)
    gap_ok = jnp.arange(T - 1) < n
    mean_gap = jnp.sum(jnp.where(gap_ok, gaps, 0)) / jnp.maximum(nf, 1)
    var = jnp.sum(jnp.where(gap_ok, (gaps - mean_gap) ** 2, 0)) / jnp.maximum(nf - 1, 1)
    far = jnp.max(jnp.where(up, dist, 0))
    phase = _phase(ts, crossings, n, period)
    return ClosedOrbit(
        period, jnp.sqrt(var), n, crossings, far, (n >= 2) & (far <= tol), phase
    )


def _phase(ts, crossings, n, period):
    """Phase in [0, 2 pi): cycle fraction between crossings, extrapolated outside."""
    c0, cn = crossings[0], crossings[n]
    filled = jnp.where(jnp.isnan(crossings), jnp.inf, crossings)
    idx = jnp.searchsorted(filled, ts, side="right")
    j = jnp.clip(idx - 1, 0, jnp.maximum(n - 1, 0).astype(idx.dtype))
    inside = (ts >= c0) & (ts < cn)
    span = filled[j + 1] - filled[j]
    local = (ts - filled[j]) / jnp.where(inside, span, 1)
    outside = (ts - c0) / jnp.where(jnp.isfinite(period), period, 1)
    frac = jnp.where(inside, local, outside)
    phase = 2 * jnp.pi * (frac - jnp.floor(frac))
    return jnp.where(jnp.isfinite(period), phase, jnp.nan)
