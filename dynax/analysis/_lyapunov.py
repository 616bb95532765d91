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
from .._ensemble import plan, run
from .._fixed_step import explicit_tableau, flow_stepper
from .._inputs import ConstantInput
from .._terms import brownian_increments
from .._validate import (
    check_array,
    check_int,
    check_key,
    fail,
    is_concrete,
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
    y0: Float[ArrayLike, "*ens_y n"],
    *,
    dt: Float[ArrayLike, "*ens_dt"],
    n_steps: int,
    n_exponents: int | None = None,
    inputs: Float[ArrayLike, "steps n_in"] | None = None,
    args: Args = None,
    key: jax.Array | None = None,
    kind: Kind | None = None,
    solver: diffrax.AbstractSolver | None = None,
    t0: ScalarLike = 0.0,
    n_transient: int | None = None,
    qr_every: int = 1,
    n_blocks: int = 10,
    ensemble: bool = False,
    chunk_size: int | None = None,
) -> LyapunovSpectrum:
    r"""The ``n_exponents`` largest Lyapunov exponents of ``f`` from ``y0``.

    Args:
        f: a dynax model or any ``f(t, y, args)`` with ``y`` of shape ``(n,)``: a
            flow ($dy/dt$) or, with ``kind="map"`` or an ``AbstractMap``, the next
            state. With ``ensemble=True``, a stacked ensemble.
        y0: the initial state, shape ``(n,)``; for an ensemble shared ``(n,)`` or
            per member ``(members, n)`` (the rule of :mod:`dynax._ensemble`).
            ``jax.vmap`` over ``y0`` for several initial states.
        dt: the step of the flow's solver, or the time between iterations of a map
            (use 1.0 for exponents per iteration); an array leaf, so ``jax.vmap``
            over it (or, for an ensemble, one per member) needs no recompilation.
        n_steps: steps averaged over, after the transient.
        n_exponents: how many exponents (default all ``n``).
        inputs: an input sampled once per step, shape
            ``(n_transient + n_steps, n_in)`` (shared, or per member with a leading
            member axis), handed to a dynax model as ``dx.ConstantInput`` for that
            step (use ``args`` for anything else).
        args: handed to ``f`` unchanged when ``inputs`` is not given.
        key: for an ``AbstractStochasticDynamics``, the Brownian motion of an
            Euler-Maruyama step (the exponents of that noise realisation); without a
            key the noise is off. Only ``solver=None`` or ``diffrax.Euler()``. The
            step is :func:`dynax.simulate`'s fixed-step stepper itself (the same
            noise term; the increments of step ``i`` come from
            ``fold_in(key, i)``, so they are not ``simulate``'s for the same key).
        kind: ``"flow"`` or ``"map"``; default from ``f``'s type.
        solver: an explicit Runge-Kutta diffrax solver for flows, stepped by
            :func:`dynax.simulate`'s fixed-step code (its Butcher tableau); default
            ``diffrax.Tsit5()`` (``diffrax.Euler()`` with a key).
        t0: the initial time.
        n_transient: steps run first and discarded (tangent vectors included);
            default ``n_steps // 10`` (rounded down to a multiple of ``qr_every``).
            The state must reach the attractor and the tangent vectors must align
            with the Lyapunov vectors before averaging starts: without a
            transient, Lorenz from ``(1, 1, 1)`` over 5,000 steps of 0.01 gave
            a largest exponent of 0.70 instead of 0.906.
        qr_every: steps between re-orthonormalisations (1 is safest; more is
            cheaper when the exponents are not too far apart).
        n_blocks: blocks used for ``history`` and ``stderr``.
        ensemble: ``f`` is a stacked ensemble (one call).
        chunk_size: with an ensemble, run this many members at a time.

    Returns:
        A :class:`LyapunovSpectrum`.
    """
    check_f(f)
    kind = resolve_kind(f, kind)
    y0, dt = check_array("y0", y0), check_array("dt", dt)
    u = None if inputs is None else check_array("inputs", inputs)
    how = plan(
        f,
        ensemble,
        (("y0", y0, 1), ("inputs", u, 2), ("dt", dt, 0)),
        chunk_size,
        name="f",
    )
    one_y = how.first(0, y0)
    if one_y.ndim != 1:
        fail("y0", "one state of shape (n,)", f"shape {y0.shape}")
    n = one_y.shape[-1]
    if n_transient is None:  # n_steps // 10, a multiple of qr_every
        ok = _is_int(n_steps) and _is_int(qr_every)
        n_transient = n_steps // 10 // qr_every * qr_every if ok else 0
    _check(dt, n_steps, n_exponents, n, n_transient, qr_every, n_blocks)
    check_key("key", key, optional=True)
    k = n if n_exponents is None else n_exponents
    noisy = isinstance(f, AbstractStochasticDynamics) and key is not None
    if kind == "flow":
        solver = _check_solver(solver, noisy)
    total = n_transient + n_steps
    if u is not None:
        what = f"shape ({total}, n_in) (one sample per step, transient included)"
        check_array("inputs", how.first(1, u), shape=(total, None), what=what)
        if args is not None:
            fail("inputs", "None when args is given (pass either)", "both")
    opts = dict(
        kind=kind,
        k=k,
        n_steps=n_steps,
        n_transient=n_transient,
        qr_every=qr_every,
        n_blocks=n_blocks,
        noisy=noisy,
        how=how,
    )
    return _lyapunov(f, y0, u, dt, args, key, solver, t0, **opts)


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


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _check(dt, n_steps, n_exponents, n, n_transient, qr_every, n_blocks):
    if not (
        jnp.issubdtype(dt.dtype, jnp.floating) or jnp.issubdtype(dt.dtype, jnp.integer)
    ):
        fail("dt", "a number > 0 (or an array of them)", f"dtype {dt.dtype}")
    if is_concrete(dt) and not bool(jnp.all(dt > 0)):
        fail("dt", "a number > 0", f"{dt}")
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
def _lyapunov(f, y0, inputs, dt, args, key, solver, t0, **opts):
    how = opts.pop("how")
    dt = eqx.error_if(dt, ~jnp.all(dt > 0), "dt: expected a number > 0.")

    def one(m, y, u, h, k):
        return _one(m, y, u, h, args, k, solver, t0, **opts)

    return run(one, f, (y0, inputs, dt), how, key)


def _one(f, y0, inputs, dt, args, key, solver, t0, **opts):
    a0 = args if inputs is None else ConstantInput(inputs[0])
    check_evaluable(f, t0, y0, a0, "y0")  # at trace time only
    kind, k, n_blocks = opts["kind"], opts["k"], opts["n_blocks"]
    qr_every, noisy = opts["qr_every"], opts["noisy"]
    h = dt.astype(y0.dtype)
    t0 = jnp.asarray(t0, y0.dtype)
    make_args = (lambda u: args) if inputs is None else ConstantInput
    tab = explicit_tableau(solver) if kind == "flow" else None
    one_step, _ = flow_stepper(f, solver, tab, noisy, make_args)

    def step(y, i):
        t = t0 + i.astype(y0.dtype) * h
        u = None if inputs is None else inputs[i]
        if kind == "map":
            return f(t, y, args if inputs is None else ConstantInput(inputs[i]))
        dw = brownian_increments(jr.fold_in(key, i), y, h[None]) if noisy else None
        return one_step(y, None, t, h, (u, dw), 0)[0]

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
