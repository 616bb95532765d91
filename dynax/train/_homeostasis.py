r"""Homeostatic E/I balance: a local online rule for per-unit inhibitory gains."""

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ScalarLike
from .._validate import (
    check_array,
    check_elements,
    check_ensemble,
    check_instance,
    check_int,
    check_positive,
    fail,
)
from ..models._ei_reservoir import EIAdaptiveReservoir
from ..models._online import run_online


class Adaptation(eqx.Module):
    r"""The record of :func:`adapt_inhibition`.

    Record ``j`` is taken after step ``(j + 1) * record_every``.

    Attributes:
        rates: the running rate estimates $\bar r$, shape ``(n_records, n_hidden)``.
        gains: the inhibitory gains $g$, shape ``(n_records, n_hidden)``.
        state: the reservoir state after the last step (to continue from).
    """

    rates: Float[Array, "n_records n_hidden"]
    gains: Float[Array, "n_records n_hidden"]
    state: Float[Array, " n_hidden"]


def _check_scalar(name: str, value: ScalarLike, dtype, minimum: float = 0.0):
    """A scalar ``> 0`` (``minimum = 0``) or ``>= minimum``; traced: error_if."""
    check_array(name, value, ndim=0, what="a scalar")
    if minimum == 0:
        return check_positive(name, value, dtype, strict=True)
    bad = lambda a: ~(a >= minimum)  # noqa: E731
    return check_elements(name, value, dtype, bad, f">= {minimum:g}")


def adapt_inhibition(
    model,
    inputs: Float[ArrayLike, "time n_in"],
    *,
    eta: ScalarLike,
    tau_rate: ScalarLike = 50.0,
    record_every: int = 1,
    y0: Float[ArrayLike, " n_hidden"] | None = None,
):
    r"""Adapt each unit's inhibitory gain towards its target rate (a local rule).

    While the reservoir runs on ``inputs``, every unit $i$ keeps a running
    (exponential) estimate of its own rate and moves its inhibitory gain by how far
    that estimate is from its target $\rho_i$:

    $$x_{k+1} = F(x_k, u_k; g_k),\qquad \bar r_{k+1} = \bar r_k + (x_{k+1} -
    \bar r_k)/\tau_r,\qquad g_{k+1} = \max\!\big(0,\; g_k + \eta\,(\bar r_{k+1} -
    \rho)\big),$$

    from $x_0$ = ``y0`` (default ``model.init_state()``), $\bar r_0 = \rho$ and $g_0$
    = ``model.g``. A unit firing above its target gets more inhibition, one below
    less; the update uses only quantities local to the unit (a homeostatic rule in
    the spirit of Srinivasan, Plenz & Girvan 2025, arXiv 2504.12480; its exact form
    is our choice). A unit whose rate stays below target with $g_i = 0$ cannot
    reach it. Run it on task-like inputs during an adaptation phase, then freeze
    the returned model and fit a readout (e.g. :func:`ridge_readout`).

    One scan over time (the online runner, ``record_every`` steps per record), jitted;
    it works under ``eqx.filter_vmap`` over an ensemble of reservoirs and over
    ``eta``/``tau_rate`` (array leaves).

    Args:
        model: a :class:`dynax.models.EIAdaptiveReservoir`.
        inputs: $u_k$, shape ``(time, n_in)``; ``time`` must be a multiple of
            ``record_every``.
        eta: the learning rate $\eta > 0$ (gain change per step per unit rate
            error).
        tau_rate: the time constant $\tau_r \ge 1$ (steps) of the rate estimate.
        record_every: steps between records of the history (a Python int).
        y0: the initial state.

    Returns:
        ``(adapted_model, history)``: the model with the final gains $g$, and an
        :class:`Adaptation` record.
    """
    what = "a dynax.models.EIAdaptiveReservoir (per-unit inhibitory gains g)"
    check_instance("model", model, EIAdaptiveReservoir, what)
    check_ensemble(model, False, flag=None)
    dtype = model.g.dtype
    inputs = check_array("inputs", inputs, dtype=dtype)
    n_in = model.n_in
    if inputs.ndim != 2 or inputs.shape[1] != n_in or inputs.shape[0] < 1:
        what = f"shape (time, n_in) with n_in = {n_in} and time >= 1"
        fail("inputs", what, f"shape {inputs.shape}")
    n_t = inputs.shape[0]
    check_int("record_every", record_every, 1)
    if n_t % record_every:
        what = f"an integer >= 1 dividing len(inputs) = {n_t}"
        fail("record_every", what, repr(record_every))
    eta = _check_scalar("eta", eta, dtype)
    tau_rate = _check_scalar("tau_rate", tau_rate, dtype, minimum=1.0)
    y0 = model.init_state() if y0 is None else check_array("y0", y0, dtype=dtype)
    if y0.shape != model.g.shape:
        fail("y0", f"shape {model.g.shape} (model.init_state())", f"shape {y0.shape}")
    return _adapt(model, inputs, eta, tau_rate, y0, record_every)


@eqx.filter_jit
def _adapt(model, inputs, eta, tau_rate, y0, record_every):
    rho = model.target_rate

    def before(x, u, carry):
        net = eqx.tree_at(lambda m: m.g, model, carry[1])  # this step's gains
        return net, u, None, carry

    def after(x, x_next, u, carry):
        r_bar, g = carry
        r_bar = r_bar + (x_next - r_bar) / tau_rate
        g = jnp.maximum(g + eta * (r_bar - rho), 0)
        return (r_bar, g), (r_bar, g)

    x, (_, g), (rates, gains) = run_online(
        y0, inputs, (rho, jnp.maximum(model.g, 0)), before, after,
        record_every=record_every,
    )  # fmt: skip
    adapted = eqx.tree_at(lambda m: m.g, model, g)
    return adapted, Adaptation(rates, gains, x)
