r"""``intervene``: a model wrapped in a list of interventions is again a model."""

import functools
import inspect
import types
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Args, Array, ScalarLike
from .._ensemble import check_ensemble
from .._validate import check_bool, describe, fail, is_concrete
from ..models._base import (
    AbstractDynamics,
    AbstractMap,
    AbstractSteppedMap,
    AbstractStochasticDynamics,
)
from ._interventions import AbstractIntervention

# Methods of the wrapped model that would bypass the interventions if forwarded.
_NOT_FORWARDED = "it would bypass the interventions; call it on .model"


class AbstractIntervened(eqx.Module):
    """A model with interventions applied in order (built by :func:`intervene`).

    ``model`` is the wrapped model and ``interventions`` the tuple applied to it,
    first to last: ``intervene(m, [a, b])`` behaves as ``b`` applied to ``a``
    applied to ``m``. The vector field (or map), diffusion and readout are the
    model's as the interventions change them; ``init_state()`` is the model's.
    Other attributes that are data (``n_in``, ``n_out``, weights, ``tau``,
    ``sigma_rec``, ``activation``) are read from the wrapped model, so code that
    inspects a model (``dx.train.fit``, :func:`~dynax.analysis.permutation_distance`)
    sees the same network; its other methods (``step``, ``recurrent``) are not
    forwarded, because they would bypass the interventions.
    """

    model: eqx.AbstractVar[Any]
    interventions: eqx.AbstractVar[tuple[AbstractIntervention, ...]]

    def _drift(self, t: ScalarLike, y: Array, args: Args) -> Array:
        fn = self.model
        for iv in self.interventions:
            fn = functools.partial(iv.drift, fn)
        return fn(t, y, args)

    def _update(self, t: ScalarLike, y: Array, args: Args) -> Array:
        fn = self.model
        for iv in self.interventions:
            fn = functools.partial(iv.update, fn)
        return fn(t, y, args)

    def _diffusion(self, t: ScalarLike, y: Array, args: Args) -> Array:
        fn: Any = getattr(self.model, "diffusion", None)
        for iv in self.interventions:
            fn = functools.partial(iv.diffusion, fn)
        out = fn(t, y, args)
        if out is None:  # unreachable: only the SDE wrapper calls this
            raise TypeError("model: expected a diffusion, got none.")
        return out

    def init_state(self) -> Array:
        """Return the wrapped model's initial state."""
        return self.model.init_state()

    @property
    def readout(self):
        """The intervened readout ``y -> output``, or ``None`` if the model has none."""
        fn = getattr(self.model, "readout", None)
        if fn is None:
            return None
        for iv in self.interventions:
            fn = functools.partial(iv.readout, fn)
        return fn

    def check_times(self, ts) -> None:
        """Refuse an intervention that can never act on a run saved at ``ts``.

        A ``window`` (``Clamp``, ``Patch``) or a pulse ``[time, time + width)``
        (``Kick``) that lies wholly before ``ts[0]`` or from ``ts[-1]`` on would
        leave the run untouched: a ``ValueError`` naming the argument, where the
        times are known (outside ``jit``). :func:`dynax.simulate` calls this.
        """
        t = np.asarray(ts)
        low, high = float(t[0]), float(t[-1])
        for iv in self.interventions:
            window = getattr(iv, "window", None)
            name = "window"
            start, width = getattr(iv, "time", None), getattr(iv, "width", None)
            if window is None and start is not None and width is not None:
                window, name = (start, start + width), "time"
            if window is None or not all(is_concrete(w) for w in window):
                continue
            w = np.asarray(jnp.stack(list(window)) if name == "time" else window)
            t0, t1 = (w[..., 0], w[..., 1]) if name == "window" else (w[0], w[1])
            if np.any((t1 <= low) | (t0 >= high)):
                what = (
                    f"a {type(iv).__name__} window overlapping ts, [{low:g}, {high:g}]"
                )
                fail(name, what, f"[{np.min(t0):g}, {np.max(t1):g})")

    def frozen_fields(self) -> tuple[str, ...]:
        """The wrapped model's frozen fields, and the interventions (never trained)."""
        inner = getattr(self.model, "frozen_fields", lambda: ())()
        return (*inner, "interventions")

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("model", "interventions"):
            raise AttributeError(name)
        model = self.__dict__.get("model")
        if model is None:
            raise AttributeError(name)
        static = inspect.getattr_static(model, name, None)
        if isinstance(static, types.FunctionType):
            raise AttributeError(f"{name}: not forwarded to the wrapped model; "
                                 f"{_NOT_FORWARDED}.")  # fmt: skip
        return getattr(model, name)


class IntervenedFlow(AbstractIntervened, AbstractDynamics):
    """A deterministic flow with interventions (see :class:`AbstractIntervened`)."""

    model: AbstractDynamics
    interventions: tuple[AbstractIntervention, ...]

    def __call__(self, t: ScalarLike, y: Array, args: Args) -> Array:
        """Return the intervened drift."""
        return self._drift(t, y, args)


class IntervenedSDE(AbstractIntervened, AbstractStochasticDynamics):
    """A stochastic flow with interventions (see :class:`AbstractIntervened`)."""

    model: AbstractDynamics
    interventions: tuple[AbstractIntervention, ...]

    def __call__(self, t: ScalarLike, y: Array, args: Args) -> Array:
        """Return the intervened drift."""
        return self._drift(t, y, args)

    def diffusion(self, t: ScalarLike, y: Array, args: Args) -> Array:
        """Return the intervened diagonal diffusion."""
        return self._diffusion(t, y, args)


class IntervenedMap(AbstractIntervened, AbstractMap):
    """A discrete-time map with interventions (see :class:`AbstractIntervened`)."""

    model: AbstractMap
    interventions: tuple[AbstractIntervention, ...]

    def __call__(self, t: ScalarLike, y: Array, args: Args) -> Array:
        """Return the intervened next state."""
        return self._update(t, y, args)


class IntervenedSteppedMap(AbstractIntervened, AbstractSteppedMap):
    """A map with a physical step, with interventions (:class:`AbstractIntervened`)."""

    model: AbstractSteppedMap
    interventions: tuple[AbstractIntervention, ...]

    def __call__(self, t: ScalarLike, y: Array, args: Args) -> Array:
        """Return the intervened next state."""
        return self._update(t, y, args)

    def time_step(self) -> Array:
        """The wrapped model's step."""
        return self.model.time_step()


def intervene(
    model: AbstractDynamics | AbstractMap,
    interventions: AbstractIntervention | Sequence[AbstractIntervention],
    *,
    ensemble: bool = False,
) -> AbstractIntervened:
    r"""Wrap a model in interventions; the result is a model of the same kind.

    The interventions apply in order: the first changes the model, the second
    changes the result, and so on (``intervene(m, [Ablate(...), Kick(...)])`` kicks
    the ablated network; the reverse order would also ablate the kick's component
    along the ablated units). The wrapper is a flow, an SDE (when the model is one,
    or an :class:`AddNoise` is applied) or a map, like the model, so
    :func:`dynax.simulate`, ``dx.train.fit`` (which leaves the interventions
    untrained), :func:`~dynax.analysis.find_fixed_points`,
    :func:`~dynax.analysis.linearise` and :func:`~dynax.analysis.lyapunov_spectrum`
    run on it unchanged.

    Intervention parameters are array leaves: ``jax.vmap`` over a function that
    builds the intervened model from an amplitude (or units, or a value) simulates
    every trial in one call. For a stacked ensemble, ``ensemble=True`` gives every
    member the same interventions; for per-member parameters build the wrapper
    inside ``eqx.filter_vmap`` yourself.

    Args:
        model: a dynax model whose state is one array (``init_state()``); with
            ``ensemble=True`` a stacked ensemble.
        interventions: one :class:`AbstractIntervention` or a sequence of them.
        ensemble: ``model`` is a stacked ensemble.

    Returns:
        The intervened model (an :class:`AbstractIntervened`).

    Example:
        ```python
        lesioned = dx.analysis.intervene(net, dx.analysis.Ablate(units=[3, 7]))
        traj = dx.simulate(lesioned, net.init_state(), ts, inputs=u)
        kicks = jax.vmap(lambda a: dx.simulate(
            dx.analysis.intervene(net, dx.analysis.Kick(v, a, time=5.0, width=0.1)),
            y0, ts).ys)(amplitudes)
        ```
    """
    if not isinstance(model, AbstractDynamics | AbstractMap):
        what = "a dynax model (AbstractDynamics or AbstractMap)"
        fail("model", what, describe(model), error=TypeError)
    ivs = _as_tuple(interventions)
    check_bool("ensemble", ensemble)
    check_ensemble(model, ensemble)
    if ensemble:
        return eqx.filter_vmap(lambda m: _build(m, ivs))(model)
    return _build(model, ivs)


def _as_tuple(interventions) -> tuple[AbstractIntervention, ...]:
    what = "an intervention (e.g. dx.analysis.Ablate(...)) or a sequence of them"
    if isinstance(interventions, AbstractIntervention):
        return (interventions,)
    if not isinstance(interventions, list | tuple) or not interventions:
        fail("interventions", what, describe(interventions), error=TypeError)
    for i, iv in enumerate(interventions):
        if not isinstance(iv, AbstractIntervention):
            fail(f"interventions[{i}]", what, describe(iv), error=TypeError)
    return tuple(interventions)


def _build(model, ivs: tuple[AbstractIntervention, ...]) -> AbstractIntervened:
    like = eqx.filter_eval_shape(model.init_state)
    if not isinstance(like, jax.ShapeDtypeStruct):
        fail(
            "model",
            "a model whose state (init_state()) is one array",
            f"a state of type {type(like).__name__}",
        )
    kind = "map" if isinstance(model, AbstractMap) else "flow"
    ivs = tuple(iv.prepare(like, kind) for iv in ivs)
    if isinstance(model, AbstractSteppedMap):
        return IntervenedSteppedMap(model, ivs)
    if isinstance(model, AbstractMap):
        return IntervenedMap(model, ivs)
    noisy = isinstance(model, AbstractStochasticDynamics)
    if noisy or any(iv.adds_noise() for iv in ivs):
        return IntervenedSDE(model, ivs)
    return IntervenedFlow(model, ivs)
