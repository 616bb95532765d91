"""Argument checks at the public boundary of :func:`dynax.simulate`.

Static problems (types, shapes, concrete values) raise ``TypeError``/``ValueError``
naming the argument with expected vs got, before anything is traced.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from diffrax._root_finder import use_stepsize_tol

from ._concrete import is_concrete
from .models._base import AbstractDynamics, AbstractMap


def check_model(model) -> None:
    """A model must be a dynax model or a callable ``f(t, y, args)``."""
    if not (isinstance(model, AbstractDynamics | AbstractMap) or callable(model)):
        raise TypeError(
            "model: expected a dynax model (AbstractDynamics, AbstractMap) or a "
            f"callable f(t, y, args), got {type(model).__name__}."
        )


def check_solver(solver, controller, adaptive: bool) -> None:
    """Solvers and controllers are diffrax objects, never strings."""
    if solver is not None and not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(
            "solver: expected a diffrax solver instance such as diffrax.Tsit5(), "
            f"got {solver!r} ({type(solver).__name__})."
        )
    if controller is not None and not isinstance(
        controller, diffrax.AbstractStepSizeController
    ):
        raise TypeError(
            "stepsize_controller: expected a diffrax step-size controller such as "
            f"diffrax.PIDController(rtol=1e-6, atol=1e-6), got {controller!r}."
        )
    if isinstance(solver, diffrax.AbstractImplicitSolver) and not adaptive:
        finder = solver.root_finder
        if any(getattr(finder, a, None) is use_stepsize_tol for a in ("rtol", "atol")):
            raise ValueError(
                "solver: an implicit solver on fixed steps needs root-finder "
                "tolerances, e.g. diffrax.ImplicitEuler(root_finder="
                "diffrax.VeryChord(rtol=1e-8, atol=1e-8)), or pass an adaptive "
                "stepsize_controller whose tolerances it then uses."
            )


def check_ts(ts) -> jax.Array:
    """``ts`` is a 1-d, strictly increasing, floating array of at least 2 times."""
    ts = jnp.asarray(ts)
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        ts = ts.astype(jnp.result_type(float))
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(
            f"ts: expected a 1-d array of at least 2 times, got shape {ts.shape}."
        )
    if is_concrete(ts):
        steps = np.diff(np.asarray(ts))
        if not np.all(steps > 0):
            bad = int(np.argmax(steps <= 0))
            raise ValueError(
                "ts: expected strictly increasing times, got "
                f"ts[{bad}] = {float(ts[bad])} >= ts[{bad + 1}] = {float(ts[bad + 1])}."
            )
    return ts


def substeps(ts: jax.Array, dt) -> int:
    """The number of solver steps per interval of ``ts`` for a step size ``dt``."""
    if dt is None:
        return 1
    if not is_concrete(dt) or not is_concrete(ts):
        raise ValueError(
            "dt: with a traced dt or ts the number of steps per interval is unknown; "
            "call simulate outside jit, or pass dt=None (one step per interval)."
        )
    dt_value = float(np.asarray(dt))
    if not dt_value > 0:
        raise ValueError(f"dt: expected a positive step size, got {dt_value}.")
    ts_host = np.asarray(ts)
    ratios = np.diff(ts_host.astype(np.float64)) / dt_value
    n_sub = int(np.rint(ratios[0]))
    # ts in float32 carries rounding of ~eps * |t| per time, so the spacings/dt
    # are whole numbers only up to that, relative to dt.
    eps = float(np.finfo(ts_host.dtype).eps) if ts_host.dtype.kind == "f" else 0.0
    slack = 4 * eps * float(np.max(np.abs(ts_host))) / dt_value
    if n_sub < 1 or not np.allclose(ratios, n_sub, rtol=1e-6, atol=slack):
        raise ValueError(
            "dt: must divide every interval of ts into the same whole number of "
            f"steps; got spacings/dt between {ratios.min():.6g} and {ratios.max():.6g}."
        )
    return n_sub


def check_inputs(inputs, ts: jax.Array):
    """``inputs`` is ``None``, an array sampled on ``ts`` or an object with evaluate."""
    if inputs is None or hasattr(inputs, "evaluate"):
        return inputs
    if (
        isinstance(inputs, str)
        or not hasattr(inputs, "shape")
        and not isinstance(inputs, list | tuple)
    ):
        raise TypeError(
            "inputs: expected an array sampled on ts (leading axis time) or a path "
            f"with .evaluate(t) such as a diffrax path, got {type(inputs).__name__}."
        )
    inputs = jnp.asarray(inputs)
    if inputs.ndim == 0 or inputs.shape[0] != ts.shape[0]:
        raise ValueError(
            f"inputs: expected a leading time axis of length len(ts) = {ts.shape[0]}, "
            f"got shape {inputs.shape}."
        )
    return inputs


def check_y0(model, y0):
    """``y0`` must match ``model.init_state()`` in structure and shapes."""
    y0 = jtu.tree_map(jnp.asarray, y0)
    if not hasattr(model, "init_state"):
        return y0
    init = model.init_state
    expected = eqx.filter_eval_shape(init)
    got_struct, want_struct = jtu.tree_structure(y0), jtu.tree_structure(expected)
    if got_struct != want_struct:
        raise ValueError(
            f"y0: expected the structure of model.init_state(), {want_struct}, "
            f"got {got_struct}."
        )
    for got, want in zip(jtu.tree_leaves(y0), jtu.tree_leaves(expected), strict=True):
        if got.shape != want.shape:
            raise ValueError(
                f"y0: expected shape {want.shape} (model.init_state()), got "
                f"{got.shape}."
            )
    return y0
