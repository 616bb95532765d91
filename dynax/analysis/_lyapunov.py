r"""Lyapunov spectra by the QR (Benettin) method, for flows and maps.

Benettin, Galgani, Giorgilli & Strelcyn (1980), Meccanica 15:9; Shimada & Nagashima
(1979), Prog. Theor. Phys. 61:1605. Tangent vectors are carried along the
trajectory by the Jacobian of the one-step map (for a flow: the map of one step of
the chosen explicit Runge-Kutta solver, so the exponents are those of the
discretised flow, which converge to the flow's at the solver's order in ``dt``) and
re-orthonormalised by a QR decomposition; the exponents are the time averages of
$\log\lvert R_{ii}\rvert$.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Args, Array, ArrayLike, Bool, Float, ScalarLike
from .._ensemble import ensemble_size
from .._fixed_step import explicit_tableau, tableau_step
from .._inputs import ConstantInput
from .._validate import (
    check_array,
    check_ensemble,
    check_float,
    check_int,
    check_key,
    fail,
)
from ..models._base import AbstractStochasticDynamics
from ._linearise import Kind, check_evaluable, check_f, resolve_kind


class LyapunovSpectrum(eqx.Module):
    """The Lyapunov exponents of one trajectory, with a convergence estimate.

    With an ensemble every field has a leading member axis.

    Attributes:
        exponents: the ``k`` largest exponents in decreasing order, per unit time.
        stderr: the standard error of each exponent from ``n_blocks`` consecutive
            block estimates (their spread over the square root of their number);
            it says how far the finite-time estimate may still move.
        history: the running estimate at the end of each block, shape
            ``(n_blocks, k)``; a converged run has a flat history.
        final_state: the state after the last step (to continue a run).
        finite: whether the trajectory and tangent vectors stayed finite.
    """

    exponents: Float[Array, "*ens k"]
    stderr: Float[Array, "*ens k"]
    history: Float[Array, "*ens blocks k"]
    final_state: Float[Array, "*ens n"]
    finite: Bool[Array, "*ens"]


def lyapunov_spectrum(
    f: Callable,
    y0: Float[ArrayLike, "*ens n"],
    *,
    dt: float,
    n_steps: int,
    n_exponents: int | None = None,
    inputs: Float[ArrayLike, "steps n_in"] | None = None,
    args: Args = None,
    key: jax.Array | None = None,
    kind: Kind | None = None,
    solver: diffrax.AbstractSolver | None = None,
    t0: ScalarLike = 0.0,
    n_transient: int = 0,
    qr_every: int = 1,
    n_blocks: int = 10,
    ensemble: bool = False,
) -> LyapunovSpectrum:
    r"""The ``n_exponents`` largest Lyapunov exponents of ``f`` from ``y0``.

    Args:
        f: a dynax model or any ``f(t, y, args)`` with ``y`` of shape ``(n,)``: a
            flow ($dy/dt$) or, with ``kind="map"`` or an ``AbstractMap``, the next
            state. With ``ensemble=True``, a stacked ensemble.
        y0: the initial state, shape ``(n,)`` (``(members, n)`` or shared ``(n,)``
            for an ensemble). ``jax.vmap`` over ``y0`` for several initial states.
        dt: the step of the flow's solver, or the time between iterations of a map
            (use 1.0 for exponents per iteration).
        n_steps: steps averaged over, after the transient.
        n_exponents: how many exponents (default all ``n``).
        inputs: an input sampled once per step, shape
            ``(n_transient + n_steps, n_in)``, handed to a dynax model as
            ``dx.ConstantInput`` for that step (use ``args`` for anything else).
        args: handed to ``f`` unchanged when ``inputs`` is not given.
        key: for an ``AbstractStochasticDynamics``, the Brownian motion of an
            Euler-Maruyama step (the exponents of that noise realisation); without a
            key the noise is off. Only ``solver=None`` or ``diffrax.Euler()``.
        kind: ``"flow"`` or ``"map"``; default from ``f``'s type.
        solver: an explicit Runge-Kutta diffrax solver for flows, stepped through
            its Butcher tableau; default ``diffrax.Tsit5()`` (``diffrax.Euler()``
            with a key).
        t0: the initial time.
        n_transient: steps run first and discarded (tangent vectors included).
        qr_every: steps between re-orthonormalisations (1 is safest; more is
            cheaper when the exponents are not too far apart).
        n_blocks: blocks used for ``history`` and ``stderr``.
        ensemble: ``f`` is a stacked ensemble (one call).

    Returns:
        A :class:`LyapunovSpectrum`.
    """
    check_f(f)
    kind = resolve_kind(f, kind)
    n_members = check_ensemble(f, ensemble, name="f")
    y0 = _check_y0(y0, n_members)
    n = y0.shape[-1]
    _check(dt, n_steps, n_exponents, n, n_transient, qr_every, n_blocks)
    check_key("key", key, optional=True)
    k = n if n_exponents is None else n_exponents
    noisy = isinstance(f, AbstractStochasticDynamics) and key is not None
    if kind == "flow":
        solver = _check_solver(solver, noisy)
    total = n_transient + n_steps
    if inputs is not None:
        what = f"shape ({total}, n_in) (one sample per step, transient included)"
        inputs = check_array("inputs", inputs, shape=(total, None), what=what)
        if args is not None:
            fail("inputs", "None when args is given (pass either)", "both")
    opts = dict(
        kind=kind,
        k=k,
        dt=float(dt),
        n_steps=n_steps,
        n_transient=n_transient,
        qr_every=qr_every,
        n_blocks=n_blocks,
        noisy=noisy,
    )
    return _lyapunov(f, y0, inputs, args, key, solver, t0, ensemble, **opts)


def _check_y0(y0, n_members: int | None) -> Array:
    if n_members is None:
        y0 = check_array("y0", y0, ndim=1, what="one state of shape (n,)")
    else:
        what = f"one state (n,) shared by all members, or ({n_members}, n)"
        y0 = check_array("y0", y0, ndim=(1, 2), what=what)
        if y0.ndim == 2 and y0.shape[0] != n_members:
            fail("y0", what, f"shape {y0.shape}")
    return y0


def _check_solver(solver, noisy: bool):
    if solver is None:
        return diffrax.Euler() if noisy else diffrax.Tsit5()
    if noisy and type(solver) is not diffrax.Euler:
        what = "None or diffrax.Euler() (with a key, noise is Euler-Maruyama)"
        fail("solver", what, type(solver).__name__)
    if explicit_tableau(solver) is None:
        what = "an explicit Runge-Kutta diffrax solver (Euler, Heun, Tsit5, ...)"
        fail("solver", what, repr(solver))
    return solver


def _check(dt, n_steps, n_exponents, n, n_transient, qr_every, n_blocks):
    check_float("dt", dt, low=0.0, low_open=True)
    check_int("n_steps", n_steps, 1)
    check_int("qr_every", qr_every, 1)
    check_int("n_transient", n_transient, 0)
    if n_exponents is not None:
        check_int("n_exponents", n_exponents, 1, n)
    if n_steps % qr_every or n_transient % qr_every:
        what = f"a divisor of n_steps ({n_steps}) and n_transient ({n_transient})"
        fail("qr_every", what, f"{qr_every}")
    check_int("n_blocks", n_blocks, 1, n_steps // qr_every)


@eqx.filter_jit
def _lyapunov(f, y0, inputs, args, key, solver, t0, ensemble, **opts):
    if not ensemble:
        return _one(f, y0, inputs, args, key, solver, t0, **opts)
    keys = None if key is None else jr.split(key, ensemble_size(f))
    y_axis = 0 if y0.ndim == 2 else None
    run = lambda m, y, k: _one(m, y, inputs, args, k, solver, t0, **opts)  # noqa: E731
    return eqx.filter_vmap(run, in_axes=(eqx.if_array(0), y_axis, 0))(f, y0, keys)


def _one(f, y0, inputs, args, key, solver, t0, **opts):
    a0 = args if inputs is None else ConstantInput(inputs[0])
    check_evaluable(f, t0, y0, a0, "y0")  # at trace time only
    kind, k, n_blocks = opts["kind"], opts["k"], opts["n_blocks"]
    qr_every, noisy = opts["qr_every"], opts["noisy"]
    h = jnp.asarray(opts["dt"], y0.dtype)
    t0 = jnp.asarray(t0, y0.dtype)
    tab = explicit_tableau(solver) if kind == "flow" else None

    def step(y, i):
        t = t0 + i.astype(y0.dtype) * h
        a = args if inputs is None else ConstantInput(inputs[i])
        if kind == "map":
            return f(t, y, a)
        assert tab is not None  # checked at the public boundary
        y1 = tableau_step(f, tab, t, h, y, a)
        if noisy:
            dw = jnp.sqrt(h) * jr.normal(jr.fold_in(key, i), y.shape, y.dtype)
            y1 = y1 + f.diffusion(t, y, a) * dw
        return y1

    def inner(carry, i):
        y, q = carry
        y1, tangent = jax.linearize(lambda y: step(y, i), y)
        return (y1, jax.vmap(tangent, in_axes=1, out_axes=1)(q)), None

    def outer(carry, j):
        carry, _ = jax.lax.scan(inner, carry, j * qr_every + jnp.arange(qr_every))
        q, r = jnp.linalg.qr(carry[1])
        return (carry[0], q), jnp.log(jnp.abs(jnp.diagonal(r)))

    n_tr, n_out = opts["n_transient"] // qr_every, opts["n_steps"] // qr_every
    carry = (y0, jnp.eye(y0.shape[0], k, dtype=y0.dtype))
    if n_tr:
        carry, _ = jax.lax.scan(outer, carry, jnp.arange(n_tr))
    (y, _), logs = jax.lax.scan(outer, carry, n_tr + jnp.arange(n_out))
    span = qr_every * h
    exponents = jnp.sum(logs, axis=0) / (n_out * span)
    bounds = np.linspace(0, n_out, n_blocks + 1).astype(int)
    blocks = jnp.stack(
        [
            jnp.sum(logs[a:b], axis=0) / (float(b - a) * span)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )
    stderr = (
        jnp.std(blocks, axis=0, ddof=1) / np.sqrt(n_blocks)
        if n_blocks > 1
        else jnp.full((k,), jnp.nan, y0.dtype)
    )
    ends = jnp.asarray(bounds[1:, None], h.dtype)
    running = jnp.cumsum(logs, axis=0)[bounds[1:] - 1] / (ends * span)
    order = jnp.argsort(-exponents)
    finite = jnp.all(jnp.isfinite(logs)) & jnp.all(jnp.isfinite(y))
    return LyapunovSpectrum(
        exponents[order], stderr[order], running[:, order], y, finite
    )
