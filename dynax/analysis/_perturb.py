"""``perturb_response``: the response to kicks, from linear to nonlinear amplitudes."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._simulate import simulate
from .._validate import check_array, fail, is_concrete
from ._intervened import intervene
from ._kick import Kick


class PerturbResponse(eqx.Module):
    r"""The response of a model to kicks of several amplitudes along one direction.

    Attributes:
        amplitudes: the kick amplitudes $a_i$, shape ``(m,)``.
        ts: the save times.
        baseline: the unkicked trajectory's states, ``(time, *state)``.
        delta: the kicked minus the unkicked states, ``(m, time, *state)``
            (same noise for both when a ``key`` is given).
        gain: $\lVert\delta_i\rVert / |a_i|$, the root-mean-square response over
            time and state per unit amplitude, ``(m,)``; constant in $a$ while the
            response is linear.
        nonlinearity: $\lVert \delta_i/a_i - \delta_0/a_0\rVert /
            \lVert\delta_0/a_0\rVert$ with $a_0$ the smallest $|a|$: the relative
            departure from the smallest kick's response scaled linearly, ``(m,)``
            (0 for that kick, and for every kick of a linear system).
    """

    amplitudes: Float[Array, " m"]
    ts: Float[Array, " time"]
    baseline: Float[Array, "time ..."]
    delta: Float[Array, "m time ..."]
    gain: Float[Array, " m"]
    nonlinearity: Float[Array, " m"]


def perturb_response(
    model,
    y0: Float[ArrayLike, "..."],
    direction: Float[ArrayLike, "..."],
    amplitudes: Float[ArrayLike, " m"],
    *,
    ts: Float[ArrayLike, " time"],
    time: ScalarLike | None = None,
    width: ScalarLike | None = None,
    shape: str = "box",
    inputs: Any = None,
    key: PRNGKeyArray | None = None,
    solver: diffrax.AbstractSolver | None = None,
    dt: float | None = None,
) -> PerturbResponse:
    r"""Simulate ``model`` kicked along ``direction`` with every amplitude at once.

    Each amplitude gives one :class:`Kick` (onset ``time``, duration ``width``,
    pulse ``shape``) on top of the model; all of them run in one ``jax.vmap`` of
    :func:`dynax.simulate` with the same ``y0``, ``inputs`` and ``key`` as the
    unkicked baseline, so ``delta`` is the effect of the kick alone. Small
    amplitudes probe the linearisation (for a linear system ``delta`` is exactly
    proportional to the amplitude), large ones the nonlinear response.

    Args:
        model: a dynax flow or map whose state is one array.
        y0: the initial state.
        direction: the kick direction, the state's shape (e.g. an eigenvector of a
            fixed point's Jacobian; see :func:`~dynax.analysis.find_fixed_points`).
        amplitudes: the amplitudes, shape ``(m,)``, nonzero.
        ts: the save times.
        time: the kick's onset (default ``ts[0]``).
        width: the pulse duration (default ``ts[1] - ts[0]``: with the default
            Euler solver and one step per interval, an instantaneous kick).
        shape: the pulse shape, ``"box"`` or ``"cosine"`` (:class:`Kick`).
        inputs: :func:`dynax.simulate`'s ``inputs``.
        key: the Brownian motion of a stochastic model (shared by every run).
        solver: :func:`dynax.simulate`'s ``solver``.
        dt: :func:`dynax.simulate`'s ``dt``.

    Returns:
        A :class:`PerturbResponse`.
    """
    ts = check_array("ts", ts, ndim=1, what="1-d save times")
    if ts.shape[0] < 2:
        fail("ts", "at least 2 times", f"shape {ts.shape}")
    a = check_array("amplitudes", amplitudes, ndim=1, what="a 1-d array")
    like = eqx.filter_eval_shape(model.init_state)
    a = a.astype(like.dtype)
    if is_concrete(a) and not bool(jnp.all(a != 0)):
        fail("amplitudes", "nonzero amplitudes", f"{a}")
    time = ts[0] if time is None else time
    if is_concrete(ts) and is_concrete(time):
        t0, t1, tk = float(ts[0]), float(ts[-1]), float(jnp.asarray(time))
        if not t0 <= tk < t1:
            fail("time", f"a kick onset inside ts, [{t0}, {t1})", repr(tk))
    width = ts[1] - ts[0] if width is None else width
    # Checks the direction and kick once, on the host, before the vmap.
    kick = Kick(direction, 1.0, time, width, shape=shape)
    intervene(model, kick)
    base = simulate(model, y0, ts, inputs=inputs, key=key, solver=solver, dt=dt)

    def kicked(amp):
        k = Kick(direction, amp, time, width, shape=shape)
        return simulate(
            intervene(model, k), y0, ts, inputs=inputs, key=key, solver=solver, dt=dt
        ).ys

    ys = jax.vmap(kicked)(a)
    delta = ys - base.ys[None]
    return _summarise(a, base.ts, base.ys, delta)


def _summarise(a, ts, baseline, delta) -> PerturbResponse:
    m = a.shape[0]
    flat = delta.reshape(m, -1) / a[:, None]
    gain = jnp.sqrt(jnp.mean(flat**2, axis=1))
    ref = flat[jnp.argmin(jnp.abs(a))]
    norm = jnp.linalg.norm(ref)
    safe = jnp.where(norm > 0, norm, 1)
    nonlinearity = jnp.linalg.norm(flat - ref[None], axis=1) / safe
    return PerturbResponse(a, ts, baseline, delta, gain, nonlinearity)
