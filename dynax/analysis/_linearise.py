"""Jacobians and linearisation of a flow or a map at a state."""

from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.core import Tracer

from .._custom_types import Args, Array, ArrayLike, Float, ScalarLike
from .._ensemble import plan, run
from .._inputs import ConstantInput
from .._validate import (
    check_array,
    check_callable,
    check_choice,
    check_ensemble,
    check_float,
    fail,
)
from ..models._base import AbstractMap

Kind = Literal["flow", "map"]


def resolve_kind(f, kind: Kind | None) -> Kind:
    """``kind`` if given, else ``"map"`` for an ``AbstractMap`` and ``"flow"``."""
    if kind is None:
        return "map" if isinstance(f, AbstractMap) else "flow"
    return check_choice("kind", kind, ("flow", "map"))  # pyright: ignore


def resolve_args(args: Args, inputs: ArrayLike | None) -> Args:
    """The ``args`` handed to ``f``: ``args`` itself, or a held ``inputs`` vector."""
    if inputs is None:
        return args
    if args is not None:
        fail(
            "inputs",
            "None when args is given (pass either inputs, a constant input vector "
            "wrapped as dx.ConstantInput, or args, handed to f as is)",
            "both",
        )
    return ConstantInput(inputs)


def check_f(f) -> None:
    """``f`` must be callable as ``f(t, y, args)``."""
    check_callable("f", f, "a dynax model or a callable f(t, y, args)")


def check_state(f, y, name: str, *, lead: int = 0, ensemble: bool = False) -> None:
    """A dynax model's ``init_state()`` fixes the shape of a state.

    ``y`` holds states on its last axes after ``lead`` leading (batch) axes; for an
    ensemble ``f``, member 0's ``init_state()`` is the reference.
    """
    one = jax.tree_util.tree_map(
        lambda leaf: leaf[0] if ensemble and eqx.is_array(leaf) else leaf, f
    )
    init = getattr(one, "init_state", None)
    want = jax.eval_shape(init) if callable(init) else None
    if hasattr(want, "shape") and jnp.shape(y)[lead:] != want.shape:  # pyright: ignore
        what = f"states of shape {want.shape} (model.init_state())"  # pyright: ignore
        fail(name, what, f"shape {jnp.shape(y)}")


def check_evaluable(f, t, y, args, name: str) -> None:
    """``f(t, y, args)`` must trace and return a state of ``y``'s shape.

    Only shapes are traced (``eval_shape``). Models whose ``init_state()`` fixes
    one state shape and models that take any shape (elementwise ones) both pass
    with a state they can be evaluated on; a wrong-sized state is reported here,
    naming ``name``, instead of as a matrix-product error deep in the trace.
    """
    shape = jax.ShapeDtypeStruct(jnp.shape(y), jnp.result_type(y))
    init = getattr(f, "init_state", None)
    what = "a state f can be evaluated on"
    if callable(init):
        what += f" (model.init_state() has shape {jax.eval_shape(init).shape})"
    try:
        out = eqx.filter_eval_shape(lambda g, v: g(t, v, args), f, shape)
    except (TypeError, ValueError) as err:
        got = f"shape {shape.shape}, on which f raised {type(err).__name__}: {err}"
        fail(name, what, got)
    if getattr(out, "shape", None) != shape.shape:
        got = f"shape {shape.shape}, which f maps to {getattr(out, 'shape', out)}"
        fail(name, "a state f maps to a state of the same shape", got)


def _is_tracer(x) -> bool:
    return isinstance(x, Tracer)


def _closes_over_tracer(fn, depth: int = 2) -> bool:
    """Whether a plain function's closure holds a traced array (shallow scan)."""
    cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    cells += list(getattr(fn, "__defaults__", None) or ())
    for value in cells:
        if any(_is_tracer(leaf) for leaf in jax.tree_util.tree_leaves(value)):
            return True
        if depth and callable(value) and not isinstance(value, eqx.Module):
            if _closes_over_tracer(value, depth - 1):
                return True
    return False


def as_pytree(f: Callable, t, y, args) -> Any:
    """``f`` with the traced arrays it closes over made explicit (differentiable).

    A plain function that closes over arrays being traced (e.g. by ``jax.grad``
    around the call) is closure-converted, so that derivatives flow through them;
    models and other equinox modules, and functions closing over concrete values
    only, are returned unchanged (converting costs a new compilation per call).
    """
    if isinstance(f, eqx.Module) or not _closes_over_tracer(f):
        return f
    converted: Callable = eqx.filter_closure_convert(f, t, y, args)
    return converted


def vector_field(f: Callable, t: ScalarLike, args: Args) -> Callable:
    """``y -> f(t, y, args)``: the drift of a flow or the update of a map."""
    return lambda y: f(t, y, args)


def jacobian(
    f: Callable,
    y: Float[ArrayLike, " n"],
    *,
    args: Args = None,
    inputs: Float[ArrayLike, " n_in"] | None = None,
    t: ScalarLike = 0.0,
) -> Float[Array, "n n"]:
    r"""The Jacobian $\partial f(t, y, \text{args}) / \partial y$ at one state.

    For a flow this is the matrix $A$ of the linearisation
    $\dot{\delta y} = A\,\delta y$; for a map (``f`` returns the next state) it is the
    one-step propagator $\delta y_{k+1} = A\,\delta y_k$.

    Args:
        f: a dynax model or any ``f(t, y, args)``.
        y: the state, shape ``(n,)``.
        args: handed to ``f`` unchanged.
        inputs: a constant input vector, handed to a dynax model as
            ``dx.ConstantInput(inputs)`` (use either ``inputs`` or ``args``).
        t: the time at which ``f`` is evaluated.

    Returns:
        The ``(n, n)`` Jacobian, forward-mode (``jax.jacfwd``).
    """
    check_f(f)
    check_ensemble(f, False, name="f", flag=None)
    y = check_array("y", y, ndim=1, what="one state of shape (n,)")
    args = resolve_args(args, inputs)
    check_evaluable(f, t, y, args, "y")
    return jax.jacfwd(vector_field(f, t, args))(y)


class Linearisation(eqx.Module):
    r"""The linearisation of a flow or a map at a state.

    Eigenvalues are sorted most unstable first: by decreasing real part for a flow,
    by decreasing modulus for a map. With an ensemble every field has a leading
    member axis.

    Attributes:
        jacobian: $A = \partial f/\partial y$, shape ``(n, n)``.
        eigvals: eigenvalues of $A$, complex, shape ``(n,)``.
        eigvecs: the matching right eigenvectors as columns, shape ``(n, n)``.
        time_constants: the e-folding time of each mode, $-1/\operatorname{Re}\lambda$
            for a flow and $-\Delta t/\log|\lambda|$ for a map with time step
            $\Delta t$; positive for decaying modes, negative for growing ones,
            ``inf`` for marginal ones.
        frequencies: the rotation frequency of each mode in cycles per unit time,
            $\operatorname{Im}\lambda / 2\pi$ for a flow and
            $\arg\lambda / (2\pi\Delta t)$ for a map.
        n_unstable: the number of unstable modes ($\operatorname{Re}\lambda > 0$ for
            a flow, $|\lambda| > 1$ for a map).
        stable: whether every mode decays (strictly).
    """

    jacobian: Float[Array, "*ens n n"]
    eigvals: Array
    eigvecs: Array
    time_constants: Float[Array, "*ens n"]
    frequencies: Float[Array, "*ens n"]
    n_unstable: Array
    stable: Array


def growth_rates(eigvals: Array, kind: Kind, dt=1.0) -> Array:
    """Each mode's growth rate (positive is unstable; modes are ordered by it).

    ``Re(lambda)`` for a flow, ``log|lambda| / dt`` for a map.
    """
    if kind == "flow":
        return jnp.real(eigvals)
    return jnp.log(jnp.abs(eigvals)) / dt


def linearise_matrix(a: Float[Array, "n n"], kind: Kind, dt) -> Linearisation:
    """Eigen-decompose one Jacobian (no input checks; used under vmap)."""
    eigvals, eigvecs = jnp.linalg.eig(a)
    growth = growth_rates(eigvals, kind, dt)
    phase = jnp.imag(eigvals) if kind == "flow" else jnp.angle(eigvals) / dt
    order = jnp.argsort(-growth)
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    growth, phase = growth[order], phase[order]
    safe = jnp.where(growth == 0, 1.0, growth)
    tau = jnp.where(growth == 0, jnp.inf, -1.0 / safe)
    n_unstable = jnp.sum(growth > 0)
    return Linearisation(
        a,
        eigvals,
        eigvecs,
        tau,
        phase / (2 * jnp.pi),
        n_unstable,
        jnp.all(growth < 0),
    )


def linearise(
    f: Callable,
    y: Float[ArrayLike, "*ens_y n"],
    *,
    args: Args = None,
    inputs: Float[ArrayLike, "*ens_u n_in"] | None = None,
    t: ScalarLike = 0.0,
    kind: Kind | None = None,
    dt: float = 1.0,
    ensemble: bool = False,
    chunk_size: int | None = None,
) -> Linearisation:
    """Linearise ``f`` at ``y``: Jacobian, eigen-decomposition and mode time scales.

    Args:
        f: a dynax model or any ``f(t, y, args)``; with ``ensemble=True`` a stacked
            ensemble.
        y: the state, shape ``(n,)`` (usually a fixed point); for an ensemble
            shared ``(n,)`` or one per member ``(members, n)``.
        args: handed to ``f`` unchanged.
        inputs: a constant input vector for a dynax model (instead of ``args``);
            for an ensemble shared ``(n_in,)`` or per member ``(members, n_in)``.
        t: the time at which ``f`` is evaluated.
        kind: ``"flow"`` (``f`` is $dy/dt$) or ``"map"`` (``f`` returns the next
            state); default ``"map"`` for an ``AbstractMap`` and ``"flow"`` otherwise.
        dt: for a map, the time between iterations (time constants and frequencies
            are in units of ``dt``); ignored for a flow.
        ensemble: ``f`` is a stacked ensemble (one call; every field gets a
            leading member axis).
        chunk_size: with an ensemble, linearise this many members at a time.

    Returns:
        A :class:`Linearisation`.
    """
    check_f(f)
    kind = resolve_kind(f, kind)
    dt = check_float("dt", dt, low=0.0, low_open=True)
    y = check_array("y", y)
    u = None if inputs is None else check_array("inputs", inputs)
    how = plan(f, ensemble, (("y", y, 1), ("inputs", u, 1)), chunk_size, name="f")
    one_y = how.first(0, y)
    if one_y.ndim != 1:
        fail("y", "one state of shape (n,)", f"shape {y.shape}")
    check_evaluable(how.one(f), t, one_y, resolve_args(args, how.first(1, u)), "y")
    return _linearise(f, y, args, inputs, t, kind, dt, how)


@eqx.filter_jit
def _linearise(f, y, args, inputs, t, kind, dt, how):
    def one(m, y1, u, key):
        del key
        a = jax.jacfwd(vector_field(m, t, resolve_args(args, u)))(y1)
        return linearise_matrix(a, kind, dt)

    return run(one, f, (y, inputs), how)
