"""Clamp and Patch: units held at values, or at a recorded run, over a time window."""

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int, ScalarLike
from .._validate import check_array, fail, is_concrete
from ._interventions import (
    FLOW,
    MAP,
    AbstractIntervention,
    Units,
    Window,
    active,
    array_state,
    check_units,
    check_window,
    scalar,
    scatter,
    unit_mask,
)


def _override(inner, t, y, args, mask, target, slope, rate, window, kind):
    """Evaluate with the rows in ``mask`` held at ``target`` inside ``window``.

    ``mask``, ``target`` and ``slope`` have the state's shape (Clamp, Patch).
    """
    on = mask * active(window, t).astype(y.dtype)
    y_seen = y + on * (target - y)
    out = inner(t, y_seen, args)
    if kind == MAP:
        return out
    relax = slope - rate * (y - target)
    return out + on * (relax - out)


class Clamp(AbstractIntervention):
    r"""Hold units at fixed values over a time window.

    Inside the window $[t_0, t_1)$, with $S$ the clamped units and $y'$ the state
    with $y'_S = v$:

    $$\dot y_{\bar S} = f(t, y')_{\bar S},\qquad
    \dot y_S = -\rho\,(y_S - v)\qquad\text{(flow)};\qquad
    y_{k+1} = F(t_k, y'_k)\text{ with }(y_{k+1})_S = v\qquad\text{(map)}.$$

    Every other unit, the diffusion and nothing else sees exactly $v$ throughout the
    window. An ODE solver cannot set a state (that needs an event), so a flow's
    clamped units *relax* to $v$ at rate $\rho$ (``rate``); they carry no noise
    while clamped. With ``diffrax.Euler`` and ``rate = 1/dt`` one step lands exactly
    on $v$, the discrete-time hard clamp; an explicit solver needs
    ``rate * dt < 2`` (Euler) to stay stable. A map is set exactly. Outside the
    window the model is untouched.

    Args:
        units: indices into the leading axis of the state.
        values: the clamp values, broadcast to ``(len(units), *state.shape[1:])``.
        window: ``(t0, t1)``, active for ``t0 <= t < t1``.
        rate: the relaxation rate $\rho > 0$ of a flow's clamped units.
    """

    units: Int[Array, " k"]
    values: Float[Array, "..."]
    window: Float[Array, " 2"]
    rate: Float[Array, ""]
    mask: Float[Array, "..."] | None
    target: Float[Array, "..."] | None

    def __init__(
        self,
        units: Units,
        values: Float[ArrayLike, "..."],
        window: Window,
        *,
        rate: ScalarLike = 10.0,
    ):
        self.units = jnp.asarray(units)
        self.values = jnp.asarray(values)
        self.window = jnp.asarray(window)
        self.rate = jnp.asarray(rate)
        self.mask = self.target = None  # state-shaped, set by prepare

    def prepare(self, like, kind) -> "Clamp":
        """Check units, values and window; cast to the state's dtype."""
        array_state(like, kind, "model")
        units = check_units(self.units, like.shape[0])
        shape = (units.shape[0],) + tuple(like.shape[1:])
        values = check_array("values", self.values)
        try:
            values = jnp.broadcast_to(values, shape).astype(like.dtype)
        except ValueError:
            fail(
                "values", f"an array broadcastable to {shape}", f"shape {values.shape}"
            )
        out = Clamp(
            units,
            values,
            check_window(self.window),
            rate=scalar("rate", self.rate, like.dtype, positive=True),
        )
        return eqx.tree_at(
            lambda c: (c.mask, c.target),
            out,
            (unit_mask(units, like) + jnp.zeros(like.shape, like.dtype),
             scatter(units, values, like)),
            is_leaf=lambda x: x is None,
        )  # fmt: skip

    def adds_noise(self) -> bool:
        """Clamping adds no noise."""
        return False

    def drift(self, inner, t, y, args):
        """The drift with the clamped units held (see the class docstring)."""
        mask, target = self._held()
        return _override(
            inner, t, y, args, mask, target, 0, self.rate, self.window, FLOW
        )

    def update(self, inner, t, y, args):
        """The next state, evaluated on and set to the clamp inside the window."""
        mask, target = self._held()
        out = _override(inner, t, y, args, mask, target, 0, 0, self.window, MAP)
        on = mask * active(self.window, t).astype(y.dtype)
        return out + on * (target - out)

    def diffusion(self, inner, t, y, args):
        """The diffusion at the clamped state, zero on clamped units in the window."""
        if inner is None:
            return None
        mask, target = self._held()
        return _held_diffusion(inner, t, y, args, mask, target, self.window)

    def readout(self, inner, y):
        """The model's readout, unchanged."""
        return inner(y)

    def _held(self) -> tuple[Array, Array]:
        if self.mask is None or self.target is None:
            raise ValueError("Clamp: apply it with dx.analysis.intervene.")
        return self.mask, self.target


def _held_diffusion(inner, t, y, args, mask, target, window):
    on = mask * active(window, t).astype(y.dtype)
    g = inner(t, y + on * (target - y), args)
    return g * (1 - on)


class Patch(AbstractIntervention):
    r"""Activation patching: units follow a recorded trajectory over a time window.

    The source $v(t)$ is the recorded states of ``units``, linearly interpolated
    between the source's times (slope $\dot v$ on each interval). Inside the window,
    with $y'$ the state whose patched units are replaced by $v(t)$:

    $$\dot y_{\bar S} = f(t, y')_{\bar S},\qquad
    \dot y_S = \dot v(t) - \rho\,(y_S - v(t))\quad\text{(flow)};\qquad
    y_{k+1} = F(t_k, y'_k)\quad\text{(map)}.$$

    The rest of the network (and the diffusion) sees the source exactly; the patched
    units track it (exactly, if they start on it) and relax onto it at rate $\rho$
    otherwise. Patching a run with its own trajectory is the identity: on the save
    grid $v(t_k)$ is the run's own state, so every evaluation is unchanged (exactly
    for one Euler step per save interval, to the interpolation error otherwise).

    Args:
        source: a :class:`dynax.Trajectory` of one run (states kept), or a tuple
            ``(ts, ys)`` of its times and states.
        units: indices into the leading axis of the state.
        window: ``(t0, t1)`` inside the source's time span.
        rate: the relaxation rate $\rho > 0$ of a flow's patched units.
    """

    source_ts: Float[Array, " time"]
    source_values: Float[Array, "time k ..."]
    units: Int[Array, " k"]
    window: Float[Array, " 2"]
    rate: Float[Array, ""]
    n_source: int = eqx.field(static=True)

    def __init__(
        self,
        source,
        units: Units,
        window: Window,
        *,
        rate: ScalarLike = 10.0,
    ):
        ts, ys = source if isinstance(source, tuple) else (source.ts, source.ys)
        if ys is None:
            fail("source", "a trajectory with its states kept", "ys = None")
        self.source_ts = check_array("source", ts, ndim=1, what="1-d source times")
        self.units = check_array("units", units, ndim=1, what="1-d unit indices")
        ys = check_array("source", ys, min_ndim=2, what="states with a time axis")
        if ys.shape[0] != self.source_ts.shape[0]:
            what = f"states on its {self.source_ts.shape[0]} times"
            fail("source", what, f"shape {ys.shape}")
        self.n_source = ys.shape[1]
        self.source_values = ys[:, self.units]  # indices are checked in prepare
        self.window = jnp.asarray(window)
        self.rate = jnp.asarray(rate)

    def prepare(self, like, kind) -> "Patch":
        """Check the source against the state and the window against its times."""
        array_state(like, kind, "model")
        units = check_units(self.units, like.shape[0])
        ts = self.source_ts
        shape = (self.n_source,) + tuple(self.source_values.shape[2:])
        if shape != tuple(like.shape):
            what = f"one run's states, each of the model's shape {tuple(like.shape)}"
            fail("source", what, f"states of shape {shape}")
        if ts.shape[0] < 2:
            fail("source", "at least 2 recorded times", f"{ts.shape[0]}")
        low = float(ts[0]) if is_concrete(ts) else None
        high = float(ts[-1]) if is_concrete(ts) else None
        return eqx.tree_at(
            lambda p: (p.source_values, p.units, p.window, p.rate),
            self,
            (
                self.source_values.astype(like.dtype),
                units,
                check_window(self.window, low, high),
                scalar("rate", self.rate, like.dtype, positive=True),
            ),
        )

    def adds_noise(self) -> bool:
        """Patching adds no noise."""
        return False

    def source(self, t) -> tuple[Array, Array]:
        r"""$(v(t), \dot v(t))$ for the patched units."""
        ts, vs = self.source_ts, self.source_values
        t = jnp.asarray(t).astype(ts.dtype)
        i = jnp.clip(jnp.searchsorted(ts, t, side="right") - 1, 0, ts.shape[0] - 2)
        span = (ts[i + 1] - ts[i]).astype(vs.dtype)
        w = ((t - ts[i]) / (ts[i + 1] - ts[i])).astype(vs.dtype)
        step = vs[i + 1] - vs[i]
        return vs[i] + w * step, step / span

    def drift(self, inner, t, y, args):
        """The drift with the patched units following the source."""
        value, slope = self.source(t)
        mask = unit_mask(self.units, y) + jnp.zeros_like(y)
        value, slope = scatter(self.units, value, y), scatter(self.units, slope, y)
        return _override(
            inner, t, y, args, mask, value, slope, self.rate, self.window, FLOW
        )

    def update(self, inner, t, y, args):
        """The next state from the patched state."""
        value, _ = self.source(t)
        mask = unit_mask(self.units, y) + jnp.zeros_like(y)
        value = scatter(self.units, value, y)
        return _override(inner, t, y, args, mask, value, 0, 0, self.window, MAP)

    def diffusion(self, inner, t, y, args):
        """The diffusion at the patched state, zero on patched units in the window."""
        if inner is None:
            return None
        value, _ = self.source(t)
        mask = unit_mask(self.units, y) + jnp.zeros_like(y)
        value = scatter(self.units, value, y)
        return _held_diffusion(inner, t, y, args, mask, value, self.window)

    def readout(self, inner, y):
        """The model's readout, unchanged."""
        return inner(y)
