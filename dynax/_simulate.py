"""``simulate``: the one integration entry point of dynax (diffrax underneath)."""

from typing import Any

import diffrax
import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
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
from ._custom_types import StateLike
from ._ensemble import plan, run
from ._fixed_step import explicit_tableau, flow_stepper, scan_intervals
from ._inputs import ConstantInput, PiecewiseConstantInput
from ._save import Save
from ._terms import brownian_increments, is_stochastic, make_terms, virtual_brownian
from ._validate import (
    as_array,
    check_bool,
    check_float,
    check_instance,
    check_int,
    check_key,
    describe,
    fail,
    is_concrete,
)
from .models._base import AbstractMap, AbstractSteppedMap

_TRACED_TS = (
    "ts: expected finite, strictly increasing times, got a traced ts with a NaN, an "
    "infinity or a step <= 0."
)


class Trajectory(eqx.Module):
    """The result of :func:`dynax.simulate`.

    Printing a trajectory names its result (``result=RESULTS.successful``; for an
    ensemble, how many members ended with each result).

    Attributes:
        ts: the save times, shape ``(time,)`` (the kept times with ``save=``).
        ys: the states at ``ts`` (leading time axis; ``ys[0] = y0``), ``fn(t, y)``
            with ``save=dx.Save(fn=...)``, or ``None`` when states are not kept.
        outputs: ``model.readout`` applied to every state, or ``None`` for models
            without a readout (and when outputs are not kept).
        result: a ``diffrax.RESULTS`` item; ``RESULTS.successful`` unless the solve
            failed (``RESULTS.nonfinite``: the state became NaN/inf and was frozen at
            its last finite value; ``RESULTS.max_steps_reached``: an adaptive solve
            ran out of steps). Compare it with ``traj.result ==
            diffrax.RESULTS.successful``, or use ``ok``.
        stats: solver statistics (``num_steps``; adaptive solves also give
            ``num_accepted_steps`` and ``num_rejected_steps``).
        ok: (property) boolean array, ``True`` where the solve succeeded: a scalar
            for one network, one flag per member for an ensemble
            (``result == diffrax.RESULTS.successful``).
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

    def __repr__(self) -> str:
        shown = _NamedResult.of(self.result)
        if shown is None:  # traced: no values to name
            return eqx.tree_pformat(self)
        return eqx.tree_pformat(eqx.tree_at(lambda t: t.result, self, shown))


class _NamedResult:
    """A ``diffrax.RESULTS`` item shown by name in :meth:`Trajectory.__repr__`."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    @classmethod
    def of(cls, result) -> "_NamedResult | None":
        value = getattr(result, "_value", None)
        if value is None or result.is_traced():
            return None
        enum = getattr(result, "_enumeration", diffrax.RESULTS)
        names = {
            int(item._value): name
            for name, item in getattr(enum, "_name_to_item", {}).items()
        }
        codes, counts = np.unique(np.asarray(value), return_counts=True)
        words = [f"RESULTS.{names.get(int(c), int(c))}" for c in codes]
        if np.ndim(value) == 0:
            return cls(words[0])
        parts = [f"{w} x {int(n)}" for w, n in zip(words, counts, strict=True)]
        return cls("[" + ", ".join(parts) + "]")


class SimulateOptions(eqx.Module):
    """How :func:`simulate` integrates, as one object that other entry points pass on.

    ``dx.train.fit`` and ``dx.train.evaluate`` take one of these (``options=``) and
    hand it to every ``simulate`` call unchanged; ``simulate(..., **opts.kwargs())``
    does the same by hand. Every field has :func:`simulate`'s default and meaning.

    Attributes:
        solver: a diffrax solver object (default ``diffrax.Euler()``).
        dt: the solver step (default: the spacing of ``ts``).
        stepsize_controller: ``None`` (fixed steps) or a diffrax controller.
        adjoint: diffrax adjoint of the adaptive path.
        max_steps: step budget of the adaptive path.
        unroll: ``lax.scan`` unrolling of the fixed-step path.
        remat: store only the states for the backward pass (see :func:`simulate`).
    """

    solver: diffrax.AbstractSolver | None = eqx.field(default=None, static=True)
    dt: float | None = eqx.field(default=None, static=True)
    stepsize_controller: diffrax.AbstractStepSizeController | None = eqx.field(
        default=None, static=True
    )
    adjoint: diffrax.AbstractAdjoint | None = eqx.field(default=None, static=True)
    max_steps: int = eqx.field(default=16384, static=True)
    unroll: int = eqx.field(default=1, static=True)
    remat: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        check_solver(self.solver, self.stepsize_controller, True)
        if self.dt is not None:
            if isinstance(self.dt, bool) or not isinstance(self.dt, int | float):
                fail("dt", "a Python float or None", describe(self.dt), error=TypeError)
            if not self.dt > 0:
                fail("dt", "a number > 0 or None", repr(self.dt))
        for name in ("max_steps", "unroll"):
            check_int(name, getattr(self, name), 1)
        check_bool("remat", self.remat)

    def kwargs(self) -> dict[str, Any]:
        """The fields as keyword arguments of :func:`simulate`."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def simulate(
    model,
    y0: StateLike,
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
    trials: bool = False,
    chunk_size: int | None = None,
    unroll: int = 1,
    remat: bool = False,
    brownian_tol: float | None = None,
    save: Save | None = None,
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
        ensemble: ``model`` is a stacked ensemble (:func:`dynax.make_ensemble`).
            ``y0`` and ``inputs`` are shared by all members, or per member with a
            leading member axis (the rule of :mod:`dynax._ensemble`: per-member
            inputs need a model with ``n_in``); every member gets its own noise
            (``key`` is split).
        trials: ``inputs`` carries a leading trials axis, ``(trials, time, n_in)``
            (after the member axis with ``ensemble``), and every trial is simulated:
            a batch of task trials in one call. ``y0`` is one state for every trial,
            or one per trial with a leading trials axis (after the member axis);
            every trial gets its own noise.
        chunk_size: with ``ensemble``, simulate the members in groups of this size
            (one group at a time) to bound memory; same results.
        unroll: ``lax.scan`` unrolling of the fixed-step path.
        remat: what the backward pass of the fixed-step path stores. ``False``
            (default): each step's long matrix products (contraction of 16 or
            more, e.g. the recurrent ``W @ r``) and the states; the elementwise
            work and short products are recomputed from them (``jax.checkpoint``
            with a policy; same gradient, less memory, and on 2 CPU cores 1.2x
            faster at 8 networks x 64 trials x 128 units, 1.5x at 32, than
            storing every intermediate). ``True``: the states only, every product
            recomputed too (least memory, for long trials and large ensembles).
        brownian_tol: tolerance of the ``VirtualBrownianTree`` on the adaptive SDE
            path; default ``(ts[-1] - ts[0]) / 2**14``.
        save: what to keep, a :class:`dynax.Save` (default ``None``: every state
            and its readout at every time of ``ts``). E.g. ``dx.Save(states=False)``
            keeps the outputs only, ``dx.Save(every=10)`` every tenth time,
            ``dx.Save(final=True)`` the last state, ``dx.Save(fn=f)`` ``f(t, y)``.
            What is not kept is never stored; ``Trajectory.ts`` holds the kept
            times and a field not kept is ``None``.

    Returns:
        A :class:`Trajectory`; with ``ensemble`` and ``trials`` every array carries
        leading ``(members, trials)`` axes (members first).

    Example:
        ```python
        batch = jax.vmap(task.sample)(jax.random.split(key, 64))
        out = dx.simulate(ens, ens.init_state(), task.ts, inputs=batch.inputs,
                          ensemble=True, trials=True).outputs  # (E, 64, time, n_out)
        ```
    """
    check_model(model)
    adaptive = stepsize_controller is not None and not isinstance(
        stepsize_controller, diffrax.ConstantStepSize
    )
    check_solver(solver, stepsize_controller, adaptive)
    ts = check_ts(ts)
    check_times = getattr(type(model), "check_times", None)  # intervened models
    if check_times is not None and is_concrete(ts):
        check_times(model, ts)
    if isinstance(model, AbstractMap):
        n_sub, dt0 = _check_map_time(model, ts, dt), None
    elif adaptive:
        if dt is not None and is_concrete(dt):
            check_float("dt", dt, low=0.0, low_open=True)
        n_sub, dt0 = 1, None if dt is None else jnp.asarray(dt, ts.dtype)
        if max_steps is not None:
            check_int("max_steps", max_steps, 1)
    else:
        n_sub, dt0 = substeps(ts, dt), None
    _check_options(adjoint, throw, unroll, remat, brownian_tol)
    check_instance("save", save, Save, "None or a dx.Save", optional=True)
    if save is not None:
        save.check_times(ts.shape[0])
    inputs, y0, how, y0_trial = _batching(
        model, inputs, y0, ts, ensemble, trials, chunk_size
    )
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
        how=how,
        y0_trial=y0_trial,
        trials=trials,
        unroll=unroll,
        remat=remat,
        check_ts=not is_concrete(ts),
        save=save,
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
    throw, how, y0_trial = kw.pop("throw"), kw.pop("how"), kw.pop("y0_trial")
    trials = kw.pop("trials")
    fixed = controller is None or isinstance(model, AbstractMap)

    def one(m, y, u, k):
        check_step(m, y, ts, u, fixed)  # at trace time only
        return _solve(m, y, ts, u, k, solver, controller, adjoint, dt0, tol, **kw)

    def trial_batch(m, y, u, k):
        if not trials:
            return one(m, y, u, k)
        n = jtu.tree_leaves(u)[0].shape[0]
        ks = None if k is None else jr.split(k, n)
        k_axis = None if k is None else 0
        return eqx.filter_vmap(one, in_axes=(None, y0_trial, 0, k_axis))(m, y, u, ks)

    traj = run(trial_batch, model, (y0, inputs), how, key)
    if throw:
        traj = traj.result.error_if(traj, traj.result != diffrax.RESULTS.successful)
    return traj


def _batching(model, inputs, y0, ts, ensemble: bool, trials: bool, chunk_size):
    """Check ``inputs`` and ``y0``; the member plan and the trial axis of ``y0``.

    Returns ``(inputs, y0, plan, y0_trial)``: ``plan`` applies the ensemble rule to
    ``(y0, inputs)``; ``y0_trial`` is ``0`` when ``y0`` holds one state per trial.
    """
    check_bool("trials", trials)
    array_inputs = inputs is not None and not hasattr(inputs, "evaluate")
    if array_inputs and isinstance(inputs, list | tuple):
        inputs = jnp.asarray(inputs)
    if trials and not (array_inputs and jnp.ndim(inputs) >= 2):  # pyright: ignore
        raise ValueError(
            "inputs: with trials=True, expected an array with a leading trials "
            f"axis, (trials, time, n_in), got {_describe(inputs)}."
        )
    y0 = jtu.tree_map(lambda x: as_array("y0", x), y0)
    core = 2 + trials if getattr(model, "n_in", None) is not None else None
    ranked = inputs if array_inputs and hasattr(inputs, "ndim") else None
    how = plan(
        model, ensemble, (("y0", y0, "state"), ("inputs", ranked, core)), chunk_size
    )
    one_member: Any = how.first(1, inputs)
    if trials and one_member.shape[1] != ts.shape[0]:
        raise ValueError(
            "inputs: with trials=True, expected a leading trials axis before the "
            f"time axis of length len(ts) = {ts.shape[0]}, (trials, time, n_in), "
            f"got shape {jnp.shape(one_member)}."
        )
    one_trial = one_member[0] if trials else one_member
    n_in = getattr(model, "n_in", None)
    if check_inputs(one_trial, ts, n_in if isinstance(n_in, int) else None) is not None:
        inputs = as_array("inputs", inputs) if array_inputs else inputs
    y0_one, y0_trial = how.first(0, y0), None
    if trials:
        y0_trial = _trial_axis(how.one(model), y0_one, one_member.shape[0])
        if y0_trial == 0:
            y0_one = jtu.tree_map(lambda x: x[0], y0_one)
    checked = check_y0(how.one(model), y0_one, ts)  # integer states become floats
    y0 = jtu.tree_map(lambda full, one: full.astype(one.dtype), y0, checked)
    return inputs, y0, how, y0_trial


def _check_map_time(model, ts, dt) -> int:
    """A map takes one application per interval of ``ts``; ``dt`` may only repeat it.

    A stepped map (:class:`~dynax.models.AbstractSteppedMap`) needs ``ts`` spaced
    by its own step. Returns 1 (no substeps).
    """
    step = None
    if isinstance(model, AbstractSteppedMap):
        step = np.asarray(model.time_step()) if is_concrete(model.time_step()) else None
    spacing = np.diff(np.asarray(ts, np.float64)) if is_concrete(ts) else None
    # float32 times carry rounding of ~eps * |t| each (as in substeps)
    slack = 0.0
    if spacing is not None:
        host = np.asarray(ts)
        slack = 4 * float(np.finfo(host.dtype).eps) * float(np.max(np.abs(host)))
    if step is not None and spacing is not None:
        step_f = np.ravel(step).astype(np.float64)
        if not np.allclose(spacing[:, None], step_f[None], rtol=1e-6, atol=slack):
            raise ValueError(
                f"ts: {type(model).__name__} advances {np.ravel(step)[0]:.6g} per "
                "application (time_step()); expected ts spaced by exactly that, got "
                f"spacings between {spacing.min():.6g} and {spacing.max():.6g}."
            )
    if dt is None:
        return 1
    if not is_concrete(dt):
        raise ValueError("dt: expected None or a concrete number for a map.")
    own = np.ravel(step)[0] if step is not None else None
    if own is None and spacing is not None:
        if np.allclose(spacing, spacing[0], rtol=1e-6, atol=slack):
            own = spacing[0]
    if own is None or not np.isclose(float(dt), own, rtol=1e-6, atol=slack):
        what = "its time_step()" if step is not None else "the spacing of ts"
        raise ValueError(
            f"dt: a map takes one application per interval of ts; expected None or "
            f"{what} ({own}), got {float(dt)}."
        )
    return 1


def _trial_axis(model, y0, n_trials) -> int | None:
    """Per-trial initial states have one more leading axis than a state."""
    init = getattr(model, "init_state", None)
    if init is None:
        return None
    ref = eqx.filter_eval_shape(init)
    if jtu.tree_structure(ref) != jtu.tree_structure(y0):
        return None  # check_y0 reports it
    extra = {
        jnp.ndim(v) - r.ndim
        for v, r in zip(jtu.tree_leaves(y0), jtu.tree_leaves(ref), strict=True)
    }
    if extra == {0}:
        return None
    leading = {jnp.shape(v)[0] for v in jtu.tree_leaves(y0)}
    if extra == {1} and leading == {n_trials}:
        return 0
    raise ValueError(
        f"y0: expected one state (shapes of model.init_state()) or one per trial "
        f"with a leading trials axis of {n_trials}, got shapes "
        f"{[jnp.shape(v) for v in jtu.tree_leaves(y0)]}."
    )


def _describe(x) -> str:
    if x is None:
        return "None"
    return f"shape {jnp.shape(x)}" if hasattr(x, "shape") else type(x).__name__


def _solve(model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, **kw):
    readout = getattr(model, "readout", None)
    if isinstance(model, AbstractMap):
        ts, ys, outputs, result, stats = _run_map(model, y0, ts, inputs, readout, **kw)
    elif controller is None:
        ts, ys, outputs, result, stats = _run_fixed(
            model, y0, ts, inputs, key, solver, readout, **kw
        )
    else:
        ts, ys, outputs, result, stats = _run_adaptive(
            model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol,
            readout, **kw
        )  # fmt: skip
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


def _run_map(model, y0, ts, inputs, readout, *, n_sub, max_steps, unroll, remat, save):
    del n_sub, max_steps
    items, make_args = _interval_inputs(inputs)

    def one_step(y, state, t, h, item, j):
        return model(t, y, make_args(item[0])), state

    n_steps = jnp.asarray(ts.shape[0] - 1)
    ts, ys, outs, ok = scan_intervals(
        one_step, y0, None, ts, (items, None), 1, unroll, readout, remat, save
    )
    return ts, ys, outs, _flag(ok), {"num_steps": n_steps}


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
    n_steps = jnp.asarray((ts.shape[0] - 1) * n_sub)
    ts, ys, outs, ok = scan_intervals(
        one_step, y0, state0, ts, (items, dws), n_sub, unroll, readout, kw["remat"],
        kw["save"],
    )  # fmt: skip
    return ts, ys, outs, _flag(ok), {"num_steps": n_steps}


def _run_adaptive(
    model, y0, ts, inputs, key, solver, controller, adjoint, dt0, tol, readout, **kw
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
    save = Save() if kw["save"] is None else kw["save"]
    t_kept = ts[-1:] if save.final else ts[:: save.every]
    saveat = diffrax.SaveAt(ts=t_kept, fn=lambda t, y, args: save.kept(t, y, readout))
    sol = diffrax.diffeqsolve(
        terms,
        solver,
        ts[0],
        ts[-1],
        ts[1] - ts[0] if dt0 is None else dt0,
        y0,
        args,
        saveat=saveat,
        stepsize_controller=controller,
        adjoint=diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
        max_steps=kw["max_steps"],
        throw=False,
    )
    stats = {
        k: jnp.asarray(sol.stats[k])
        for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")
    }
    kept: Any = sol.ys
    return t_kept, kept.get("ys"), kept.get("outputs"), sol.result, stats
