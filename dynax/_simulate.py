"""``simulate``: the one integration entry point of dynax (diffrax underneath)."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from ._checks import (
    check_inputs,
    check_model,
    check_solver,
    check_step,
    check_ts,
    check_y0,
    substeps,
)
from ._custom_types import State
from ._ensemble import ensemble_size
from ._fixed_step import explicit_tableau, flow_stepper, scan_intervals
from ._inputs import ConstantInput, PiecewiseConstantInput
from ._terms import brownian_increments, is_stochastic, make_terms, virtual_brownian
from ._validate import (
    check_bool,
    check_ensemble,
    check_float,
    check_instance,
    check_int,
    check_key,
    is_concrete,
)
from .models._base import AbstractMap

_TRACED_TS = (
    "ts: expected finite, strictly increasing times, got a traced ts with a NaN, an "
    "infinity or a step <= 0."
)


class Trajectory(eqx.Module):
    """The result of :func:`dynax.simulate`.

    Attributes:
        ts: the save times, shape ``(time,)``.
        ys: the states at ``ts`` (leading time axis; ``ys[0] = y0``).
        outputs: ``model.readout`` applied to every state, or ``None`` for models
            without a readout.
        result: a ``diffrax.RESULTS`` item; ``RESULTS.successful`` unless the solve
            failed (``RESULTS.nonfinite``: the state became NaN/inf and was frozen at
            its last finite value; ``RESULTS.max_steps_reached``: an adaptive solve
            ran out of steps).
        stats: solver statistics (``num_steps``; adaptive solves also give
            ``num_accepted_steps`` and ``num_rejected_steps``).
    """

    ts: Float[Array, " time"]
    ys: PyTree[Array]
    outputs: PyTree[Array] | None
    result: diffrax.RESULTS
    stats: dict[str, Array]

    @property
    def ok(self) -> Array:
        """``True`` where the solve succeeded (one flag per ensemble member)."""
        return self.result == diffrax.RESULTS.successful


def simulate(
    model,
    y0: State,
    ts: Float[ArrayLike, " time"],
    *,
    inputs: Any = None,
    key: PRNGKeyArray | None = None,
    solver: diffrax.AbstractSolver | None = None,
    dt: float | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
    max_steps: int = 16384,
    throw: bool = False,
    ensemble: bool = False,
    unroll: int = 1,
    remat: bool = False,
    brownian_tol: float | None = None,
) -> Trajectory:
    r"""Integrate a model over the times ``ts`` and return its trajectory.

    Semantics (the API contract): ``len(ys) == len(ts)``; ``ys[0] = y0``; the input
    sample at ``ts[k]`` drives the whole interval from ``ts[k]`` to ``ts[k+1]``, so
    ``ys[k]`` has seen ``inputs[0..k-1]`` only, for flows and maps alike (the last
    input sample is never used). Inside an interval the model's ``args`` is an
    object whose ``.evaluate(t)`` returns that sample (:class:`dynax.ConstantInput`).

    Paths:

    - **Fixed steps** (default; ``stepsize_controller`` ``None`` or
      ``diffrax.ConstantStepSize``): one ``lax.scan`` over the steps. Explicit RK
      solvers (``Euler``, ``Heun``, ``Midpoint``, ``Ralston``, ``Bosh3``, ``Tsit5``,
      ``Dopri5``, ``Dopri8``) evaluate their Butcher tableau directly; results equal
      ``diffrax.diffeqsolve`` with ``ConstantStepSize`` up to rounding, at the cost of
      a hand-written scan. Other solvers run through their own ``solver.step``.
    - **Adaptive steps** (e.g. ``diffrax.PIDController``): ``diffrax.diffeqsolve``
      with ``SaveAt(ts=ts)``; array inputs become a right-continuous piecewise-constant
      path and the controller is told to step exactly onto the sample times.
      Vmapping an adaptive solve over an ensemble makes every member take the slowest
      member's steps.
    - **Maps** (:class:`dynax.models.AbstractMap`): ``ys[k+1] = model(ts[k], ys[k],
      args)``, a ``lax.scan``.

    Noise: a :class:`~dynax.models.AbstractStochasticDynamics` model is integrated as
    an Itô SDE with Brownian motion drawn from ``key`` (Euler-Maruyama by default).
    **Without a key the diffusion is switched off** and the drift alone is integrated,
    so one model runs with or without noise. Deterministic models ignore ``key``.

    Failure is data: a state that becomes NaN/inf is frozen at its last finite value
    and ``result`` says ``nonfinite``; nothing raises unless ``throw=True``. In an
    ensemble each member is flagged and frozen on its own.

    Args:
        model: a dynax model, or any callable ``f(t, y, args)`` returning ``dy/dt``.
        y0: the initial state (``model.init_state()`` gives the default); integer
            leaves become the float dtype of ``model.init_state()`` (of ``ts`` for a
            plain function), as ``diffrax.diffeqsolve`` promotes them.
        ts: finite, strictly increasing save times (at least 2).
        inputs: ``None``; an array sampled on ``ts`` (leading axis ``len(ts)``, then
            ``n_in`` channels for a dynax model), piecewise constant as described
            above; or any object with ``.evaluate(t)`` (e.g. a diffrax path), passed
            to the model as ``args``. **Omitted inputs are zero input**: a model
            with input channels (``n_in > 0``) then sees zeros on every channel.
        key: PRNG key for the Brownian motion of stochastic models.
        solver: a diffrax solver object; default ``diffrax.Euler()``.
        dt: the solver step; default the spacing of ``ts`` (one step per interval,
            any increasing grid). A ``dt`` that divides the (regular) spacing takes
            that many steps per interval. With an adaptive controller it is the
            initial step.
        stepsize_controller: ``None`` (fixed steps) or a diffrax controller.
        adjoint: diffrax adjoint for the adaptive path (default
            ``RecursiveCheckpointAdjoint``); the fixed-step scan is differentiated
            directly.
        max_steps: step budget (>= 1) of the adaptive path.
        throw: raise (inside jit, via ``eqx.error_if``) when a solve fails.
        ensemble: ``model`` is a stacked ensemble (:func:`dynax.make_ensemble`);
            every member is simulated from the same ``y0`` and ``inputs``, with its
            own noise (``key`` is split). For per-member initial states or inputs use
            ``eqx.filter_vmap(dx.simulate, ...)`` directly.
        unroll: ``lax.scan`` unrolling of the fixed-step path.
        remat: rematerialise each save interval in the backward pass of the
            fixed-step path (``jax.checkpoint``): the activations of a step are
            recomputed instead of stored, trading a second forward evaluation for
            memory (meant for long trials and large ensembles, where stored
            activations dominate memory; on 2 CPU cores its effect on speed was
            within run-to-run noise).
        brownian_tol: tolerance of the ``VirtualBrownianTree`` on the adaptive SDE
            path; default ``(ts[-1] - ts[0]) / 2**14``.

    Returns:
        A :class:`Trajectory` (with a leading ensemble axis on every array when
        ``ensemble=True``).
    """
    check_model(model)
    adaptive = stepsize_controller is not None and not isinstance(
        stepsize_controller, diffrax.ConstantStepSize
    )
    check_solver(solver, stepsize_controller, adaptive)
    ts = check_ts(ts)
    if adaptive:
        if dt is not None and is_concrete(dt):
            check_float("dt", dt, low=0.0, low_open=True)
        n_sub, dt0 = 1, None if dt is None else jnp.asarray(dt, ts.dtype)
        if max_steps is not None:
            check_int("max_steps", max_steps, 1)
    else:
        n_sub, dt0 = substeps(ts, dt), None
    _check_options(adjoint, throw, unroll, remat, brownian_tol)
    check_ensemble(model, ensemble)
    n_in = getattr(model, "n_in", None)
    inputs = check_inputs(inputs, ts, n_in if isinstance(n_in, int) else None)
    y0 = check_y0(model, y0, ts, ensemble)
    check_key("key", key, optional=True)
    return _simulate(
        model,
        y0,
        ts,
        inputs,
        key,
        diffrax.Euler() if solver is None else solver,
        stepsize_controller if adaptive else None,
        adjoint,
        dt0,
        None if brownian_tol is None else jnp.asarray(brownian_tol, ts.dtype),
        n_sub=n_sub,
        max_steps=max_steps,
        throw=throw,
        ensemble=ensemble,
        unroll=unroll,
        remat=remat,
        check_ts=not is_concrete(ts),
    )


def _check_options(adjoint, throw, unroll, remat, brownian_tol) -> None:
    what = "None or a diffrax adjoint such as diffrax.RecursiveCheckpointAdjoint()"
    check_instance("adjoint", adjoint, diffrax.AbstractAdjoint, what, optional=True)
    check_bool("throw", throw)
    check_bool("remat", remat)
    if not isinstance(unroll, bool):
        check_int("unroll", unroll, 1)
    if brownian_tol is not None and is_concrete(brownian_tol):
        check_float("brownian_tol", brownian_tol, low=0.0, low_open=True)


@eqx.filter_jit
def _simulate(model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, **kw):
    if kw.pop("check_ts"):  # traced ts; NaN fails ``diff > 0`` as it should
        bad = ~jnp.all(jnp.diff(ts) > 0) | ~jnp.all(jnp.isfinite(ts))
        ts = eqx.error_if(ts, bad, _TRACED_TS)
    throw, ensemble = kw.pop("throw"), kw.pop("ensemble")
    fixed = controller is None or isinstance(model, AbstractMap)
    check_step(model, y0, ts, inputs, ensemble, fixed)  # at trace time only

    def one(m, k):
        return _solve(m, y0, ts, inputs, k, solver, controller, adjoint, dt0, tol, **kw)

    if ensemble:
        keys = None if key is None else jr.split(key, ensemble_size(model))
        traj = eqx.filter_vmap(one)(model, keys)
    else:
        traj = one(model, key)
    if throw:
        traj = traj.result.error_if(traj, traj.result != diffrax.RESULTS.successful)
    return traj


def _solve(model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, **kw):
    readout = getattr(model, "readout", None)
    if isinstance(model, AbstractMap):
        ys, outputs, result, stats = _run_map(model, y0, ts, inputs, readout, **kw)
    elif controller is None:
        ys, outputs, result, stats = _run_fixed(
            model, y0, ts, inputs, key, solver, readout, **kw
        )
    else:
        ys, result, stats = _run_adaptive(
            model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, **kw
        )
        outputs = None if readout is None else jax.vmap(readout)(ys)
    return Trajectory(ts, ys, outputs, result, stats)


def _interval_inputs(inputs):
    """Per-interval input items for the scan and how to turn one into ``args``."""
    if inputs is None:
        return None, lambda u: None
    if hasattr(inputs, "evaluate"):
        return None, lambda u: inputs
    return inputs[:-1], ConstantInput


def _flag(ok):
    return diffrax.RESULTS.where(
        ok,
        diffrax.RESULTS.successful,
        diffrax.RESULTS.nonfinite,  # pyright: ignore[reportArgumentType]
    )


def _run_map(model, y0, ts, inputs, readout, *, n_sub, max_steps, unroll, remat):
    del n_sub, max_steps
    items, make_args = _interval_inputs(inputs)

    def one_step(y, state, t, h, item, j):
        return model(t, y, make_args(item[0])), state

    ys, outs, ok = scan_intervals(
        one_step, y0, None, ts, (items, None), 1, unroll, readout, remat
    )
    return ys, outs, _flag(ok), {"num_steps": jnp.asarray(ts.shape[0] - 1)}


def _run_fixed(model, y0, ts, inputs, key, solver, readout, **kw):
    n_sub, unroll = kw["n_sub"], kw["unroll"]
    items, make_args = _interval_inputs(inputs)
    noisy = is_stochastic(model) and key is not None
    dws = None
    if noisy and key is not None:
        h = jnp.diff(ts) / n_sub
        dws = brownian_increments(key, y0, jnp.repeat(h[:, None], n_sub, axis=1))
    one_step, init = flow_stepper(
        model, solver, explicit_tableau(solver), noisy, make_args
    )
    first = jtu.tree_map(lambda x: x[0], (items, dws))
    state0 = init(y0, ts[0], (ts[1] - ts[0]) / n_sub, first)
    ys, outs, ok = scan_intervals(
        one_step, y0, state0, ts, (items, dws), n_sub, unroll, readout, kw["remat"]
    )
    n_steps = jnp.asarray((ts.shape[0] - 1) * n_sub)
    return ys, outs, _flag(ok), {"num_steps": n_steps}


def _run_adaptive(
    model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, **kw
):
    if is_stochastic(model) and key is not None:
        tol = (ts[-1] - ts[0]) / 2**14 if tol is None else tol
        terms = make_terms(model, virtual_brownian(key, y0, ts[0], ts[-1], tol))
    else:
        terms = make_terms(model)
    args = inputs
    if inputs is not None and not hasattr(inputs, "evaluate"):
        args = PiecewiseConstantInput(ts, inputs)
        if ts.shape[0] > 2 and not isinstance(
            controller, diffrax.ClipStepSizeController
        ):
            controller = diffrax.ClipStepSizeController(controller, jump_ts=ts[1:-1])
    sol = diffrax.diffeqsolve(
        terms,
        solver,
        ts[0],
        ts[-1],
        ts[1] - ts[0] if dt0 is None else dt0,
        y0,
        args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        adjoint=diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
        max_steps=kw["max_steps"],
        throw=False,
    )
    stats = {
        k: jnp.asarray(sol.stats[k])
        for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")
    }
    return sol.ys, sol.result, stats
