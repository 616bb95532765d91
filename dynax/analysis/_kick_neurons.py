r"""Kick neurons: each unit's contribution to fast transitions, by ablation."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray
from .._simulate import simulate
from .._validate import check_array, check_float, fail
from ._geometry import residuals
from ._intervened import intervene
from ._interventions import Ablate, Units, unit_mask
from ._linearise import resolve_kind


class KickNeurons(eqx.Module):
    r"""How much ablating each unit removes of a trajectory's fast transitions.

    For unit $i$, with $q_i = \tfrac12\lVert m_i \odot f\rVert^2$ the speed over
    the *other* units ($m_i$ zero on unit $i$), $\theta_i$ the intact
    trajectory's ``fast_quantile`` of $q_i$, and $F$ the fraction of time with
    $q_i \ge \theta_i$:

    $$\text{effect}_i = 1 - F_i^\text{ablated} / F_i^\text{intact}.$$

    1 means the transitions stop without unit $i$ (a kick neuron, Torre et al.
    2025); 0 that nothing downstream changes (a unit without outgoing weights
    scores exactly 0); negative values mean more time in transitions.

    Attributes:
        units: the units tested, ``(k,)``.
        effect: per unit.
        fast_fraction: $F_i^\text{ablated}$.
        fast_fraction_intact: $F_i^\text{intact}$ (about ``1 - fast_quantile``).
        transitions: the number of fast episodes (runs of $q_i \ge \theta_i$)
            with unit $i$ ablated.
        transitions_intact: the same for the intact trajectory.
        diverged: per unit, whether the run with the unit ablated failed
            (:func:`dynax.simulate`'s ``ok`` is False: a network without a ceiling,
            such as a ReLU RNN, can blow up when a unit is removed); such a run
            counts as fast at every time, so the unit's effect is negative, never
            mistaken for stopping the transitions.
        intact_diverged: whether the intact run itself failed; then no score
            means anything (shorten ``ts``).

    For a map (a discrete-time model) the speed is that of the step,
    $\tfrac12\lVert f(x) - x\rVert^2$, as in :func:`speed`.
    """

    units: Int[Array, " k"]
    effect: Float[Array, " k"]
    fast_fraction: Float[Array, " k"]
    fast_fraction_intact: Float[Array, " k"]
    transitions: Int[Array, " k"]
    transitions_intact: Int[Array, " k"]
    diverged: Bool[Array, " k"]
    intact_diverged: Bool[Array, ""]


def kick_neurons(
    model,
    y0: Float[ArrayLike, "..."],
    ts: Float[ArrayLike, " time"],
    *,
    units: Units | None = None,
    inputs: Any = None,
    key: PRNGKeyArray | None = None,
    fast_quantile: float = 0.75,
    solver: diffrax.AbstractSolver | None = None,
    dt: float | None = None,
) -> KickNeurons:
    r"""Rank units by how much ablating each one removes fast transitions.

    The intact model and one :class:`Ablate` per unit run in one ``jax.vmap`` of
    :func:`dynax.simulate` from ``y0`` with the same ``inputs`` and noise (the
    same ``key``: a noise-driven network sees the same noise with and without
    the unit). The speed is that of the drift, the deterministic part, along
    each trajectory; see :class:`KickNeurons` for the score.

    Args:
        model: a dynax flow (or SDE) whose state is one array.
        y0: the initial state.
        ts: the save times (the speed is evaluated there).
        units: the units to test (default all, the leading axis of the state).
        inputs: :func:`dynax.simulate`'s ``inputs``: an array sampled on ``ts``
            or ``None`` (the speed sees the same input).
        key: the Brownian motion of a stochastic model, shared by all runs.
        fast_quantile: the quantile of the intact speed above which the network
            is in a transition.
        solver: :func:`dynax.simulate`'s ``solver``.
        dt: :func:`dynax.simulate`'s ``dt``.

    Returns:
        A :class:`KickNeurons`.
    """
    like = eqx.filter_eval_shape(model.init_state)
    if not isinstance(like, jax.ShapeDtypeStruct) or len(like.shape) == 0:
        fail("model", "a model whose state is one array", f"state {like}")
    n = like.shape[0]
    sel = jnp.arange(n) if units is None else check_array("units", units, ndim=1)
    intervene(model, Ablate(units=sel[:1]))  # checks the units on the host
    intervene(model, Ablate(units=sel))
    check_float("fast_quantile", fast_quantile, low=0.0, high=1.0, high_open=True)
    if inputs is not None and hasattr(inputs, "evaluate"):
        fail("inputs", "an array sampled on ts or None", "a path")
    ts = check_array("ts", ts, ndim=1)
    base = simulate(model, y0, ts, inputs=inputs, key=key, solver=solver, dt=dt)

    def ablated(i):
        m = intervene(model, Ablate(units=i[None]))
        run = simulate(m, y0, ts, inputs=inputs, key=key, solver=solver, dt=dt)
        return run.ys, run.ok, m

    ys_abl, ok_abl, models = eqx.filter_vmap(ablated)(sel)
    q = jnp.asarray(fast_quantile, like.dtype)
    kind = resolve_kind(model, None)
    return _score(
        model, models, base.ys, ys_abl, ok_abl, base.ok, ts, inputs, sel, q, kind
    )


def _drift(f, ys, ts, inputs, kind):
    """The residual along a trajectory: ``f`` for a flow, ``f(y) - y`` for a map."""
    u = None if inputs is None else jnp.asarray(inputs)
    return residuals(f, ys, ts, u, None, kind)


def _runs(fast: Array) -> Array:
    before = jnp.concatenate([jnp.zeros((1,), bool), fast[:-1]])
    return jnp.sum(fast & ~before)


@eqx.filter_jit
def _score(
    model, models, ys, ys_abl, ok_abl, ok, ts, inputs, units, q, kind
) -> KickNeurons:
    f_base = _drift(model, ys, ts, inputs, kind)

    def one(m, y_abl, ok_i, i):
        keep = 1 - unit_mask(i[None], ys[0])
        base_q = 0.5 * jnp.sum(
            (f_base * keep[None]) ** 2, axis=tuple(range(1, ys.ndim))
        )
        f_abl = _drift(m, y_abl, ts, inputs, kind) * keep[None]
        abl_q = 0.5 * jnp.sum(f_abl**2, axis=tuple(range(1, ys.ndim)))
        theta = jnp.quantile(base_q, q)
        # a run that blew up is fast throughout (never "stopped")
        fast0, fast1 = base_q >= theta, (abl_q >= theta) | ~ok_i
        frac0 = jnp.mean(fast0.astype(ys.dtype))
        frac1 = jnp.mean(fast1.astype(ys.dtype))
        out = (1 - frac1 / frac0, frac1, frac0, _runs(fast1), _runs(fast0))
        return out + (~ok_i,)

    out = eqx.filter_vmap(one)(models, ys_abl, ok_abl, units)
    return KickNeurons(units, *out, intact_diverged=~jnp.all(ok))
