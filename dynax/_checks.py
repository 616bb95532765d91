"""Argument checks at the public boundary of :func:`dynax.simulate`.

The generic checks and the one message format live in :mod:`dynax._validate`; these
are the ones that know about models, solvers, time grids, inputs and initial states.
Static problems raise ``TypeError``/``ValueError`` naming the argument before
anything is traced.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from diffrax._root_finder import use_stepsize_tol

from ._inputs import ConstantInput
from ._validate import (
    as_array,
    check_finite,
    check_float,
    check_like,
    describe,
    fail,
    is_concrete,
)
from .models._base import AbstractDynamics, AbstractMap


def check_model(model) -> None:
    """A model must be a dynax model or a callable ``f(t, y, args)``."""
    if not (isinstance(model, AbstractDynamics | AbstractMap) or callable(model)):
        fail(
            "model",
            "a dynax model (AbstractDynamics, AbstractMap) or a callable f(t, y, args)",
            describe(model),
            error=TypeError,
        )


def check_solver(solver, controller, adaptive: bool) -> None:
    """Solvers and controllers are diffrax objects, never strings."""
    if solver is not None and not isinstance(solver, diffrax.AbstractSolver):
        what = "a diffrax solver instance such as diffrax.Tsit5()"
        fail("solver", what, describe(solver), error=TypeError)
    if controller is not None and not isinstance(
        controller, diffrax.AbstractStepSizeController
    ):
        what = (
            "a diffrax step-size controller such as diffrax.PIDController(1e-6, 1e-6)"
        )
        fail("stepsize_controller", what, describe(controller), error=TypeError)
    if isinstance(solver, diffrax.AbstractImplicitSolver) and not adaptive:
        finder = solver.root_finder
        if any(getattr(finder, a, None) is use_stepsize_tol for a in ("rtol", "atol")):
            fail(
                "solver",
                "an implicit solver on fixed steps to have root-finder tolerances, "
                "e.g. diffrax.ImplicitEuler(root_finder=diffrax.VeryChord(rtol=1e-8, "
                "atol=1e-8))",
                f"{type(solver).__name__} whose root finder takes the tolerances of "
                "a step-size controller",
                hint="Or pass an adaptive stepsize_controller.",
            )


def check_ts(ts) -> jax.Array:
    """``ts`` is a 1-d, finite, strictly increasing array of at least 2 times."""
    ts = as_array("ts", ts)
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        ts = ts.astype(jnp.result_type(float))
    if ts.ndim != 1 or ts.shape[0] < 2:
        fail("ts", "a 1-d array of at least 2 times", f"shape {ts.shape}")
    if is_concrete(ts):
        check_finite("ts", ts, "finite times")
        steps = np.diff(np.asarray(ts))
        if not np.all(steps > 0):
            bad = int(np.argmax(steps <= 0))
            got = (
                f"ts[{bad}] = {float(ts[bad])} >= ts[{bad + 1}] = {float(ts[bad + 1])}"
            )
            fail("ts", "strictly increasing times", got)
    return ts


def substeps(ts: jax.Array, dt) -> int:
    """The number of solver steps per interval of ``ts`` for a step size ``dt``."""
    if dt is None:
        return 1
    if not is_concrete(dt) or not is_concrete(ts):
        fail(
            "dt",
            "a step size and ts known outside jit (they fix the number of steps per "
            "interval)",
            "a traced dt or ts",
            hint="Call simulate outside jit, or pass dt=None (one step per interval).",
            error=TypeError,
        )
    dt_value = check_float("dt", dt, low=0.0, low_open=True)
    ts_host = np.asarray(ts)
    ratios = np.diff(ts_host.astype(np.float64)) / dt_value
    n_sub = int(np.rint(ratios[0]))
    # ts in float32 carries rounding of ~eps * |t| per time, so the spacings/dt
    # are whole numbers only up to that, relative to dt.
    eps = float(np.finfo(ts_host.dtype).eps) if ts_host.dtype.kind == "f" else 0.0
    slack = 4 * eps * float(np.max(np.abs(ts_host))) / dt_value
    if n_sub < 1 or not np.allclose(ratios, n_sub, rtol=1e-6, atol=slack):
        fail(
            "dt",
            "a step that divides every interval of ts into the same whole number of "
            "steps",
            f"spacings/dt between {ratios.min():.6g} and {ratios.max():.6g}",
        )
    return n_sub


def check_inputs(inputs, ts: jax.Array, n_in: int | None):
    """``inputs`` is ``None``, an array sampled on ``ts`` or an object with evaluate.

    ``n_in`` (the model's input channels, if it declares them) fixes the trailing
    shape of an array.
    """
    if inputs is None or hasattr(inputs, "evaluate"):
        return inputs
    if isinstance(inputs, str) or not (
        hasattr(inputs, "shape") or isinstance(inputs, list | tuple)
    ):
        fail(
            "inputs",
            "an array sampled on ts (leading axis time) or a path with .evaluate(t) "
            "such as a diffrax path",
            describe(inputs),
            error=TypeError,
        )
    inputs = as_array("inputs", inputs)
    if inputs.ndim == 0 or inputs.shape[0] != ts.shape[0]:
        what = f"a leading time axis of length len(ts) = {ts.shape[0]}"
        fail("inputs", what, f"shape {inputs.shape}")
    if n_in and inputs.shape[1:] != (n_in,):
        what = f"shape (len(ts), n_in) = ({ts.shape[0]}, {n_in}) (the model's n_in)"
        fail("inputs", what, f"shape {inputs.shape}")
    return inputs


def check_y0(model, y0, ts: jax.Array):
    """``y0`` must match ``model.init_state()`` in structure and shapes.

    Integer or bool leaves are cast to a float dtype, as ``diffrax.diffeqsolve``
    does: that of ``model.init_state()`` where it is a float, else that of ``ts``.
    """
    y0 = jtu.tree_map(lambda x: as_array("y0", x), y0)
    if not hasattr(model, "init_state"):
        like = jtu.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, ts.dtype), y0)
    else:
        like = eqx.filter_eval_shape(model.init_state)
        check_like("y0", y0, like, "model.init_state()")

    def cast(x, want):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            return x
        return x.astype(want.dtype) if jnp.issubdtype(want.dtype, jnp.floating) else x

    return jtu.tree_map(cast, y0, like)


def check_step(model, y0, ts: jax.Array, inputs, fixed: bool) -> None:
    """One evaluation of the model at ``y0`` (traced only) keeps its shapes and dtype.

    Called while :func:`dynax.simulate`'s jitted core is traced (so once per
    compilation, not per call), before the scan that would fail less clearly.

    The vector field (or map) must return the structure and shapes of ``y0``; on the
    fixed-step and map paths, whose ``lax.scan`` carries the state, also a dtype that
    ``y0`` keeps (a float64 model with a float32 ``y0`` does not).
    """
    if inputs is None or hasattr(inputs, "evaluate"):
        args = inputs
    else:
        args = ConstantInput(inputs[0])
    try:
        out = eqx.filter_eval_shape(lambda m, y: m(ts[0], y, args), model, y0)
    except jax.dtypes.TypePromotionError as err:  # strict promotion, mixed dtypes
        dtypes = sorted({str(y.dtype) for y in jtu.tree_leaves(y0)})
        what = "the model's dtype (that of model.init_state())"
        fail("y0", what, f"dtype {', '.join(dtypes)} ({err})")
    got, want = jtu.tree_leaves(out), jtu.tree_leaves(y0)
    if jtu.tree_structure(out) != jtu.tree_structure(y0) or [o.shape for o in got] != [
        y.shape for y in want
    ]:
        fail(
            "model",
            f"model(t, y0, args) to return the shapes of y0, {[y.shape for y in want]}",
            f"{[o.shape for o in got]}",
            hint="A stacked ensemble needs ensemble=True.",
        )
    if not fixed:
        return
    is_map = isinstance(model, AbstractMap)
    for o, y in zip(got, want, strict=True):
        kept = o.dtype == y.dtype or (
            not is_map and jnp.promote_types(o.dtype, y.dtype) == y.dtype
        )
        if not kept:
            fail(
                "y0",
                f"dtype {o.dtype}, the dtype model(t, y0, args) returns",
                f"dtype {y.dtype}",
                hint="Start from model.init_state() or cast y0 to the model's dtype.",
            )
