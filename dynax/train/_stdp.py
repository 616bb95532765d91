r"""Spike-timing-dependent plasticity of a spiking reservoir, with NALSM's astrocyte."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float
from .._validate import (
    check_array,
    check_bool,
    check_ensemble,
    check_instance,
    check_positive,
    fail,
)
from ..models._lif import LIFReservoir
from ..models._online import run_online


class STDP(eqx.Module):
    r"""Trace-based pair STDP (Song, Miller & Abbott 2000; Morrison et al. 2008).

    Each neuron and input channel keeps a presynaptic trace $x$ (time constant
    $\tau_+$) and each neuron a postsynaptic trace $y$ ($\tau_-$), both counting
    strictly earlier spikes, $x(t) = \sum_{t_j < t} e^{-(t - t_j)/\tau_+}$. At every
    step $t$, for a synapse $j \to i$ from an excitatory neuron or an input

    $$\Delta w_{ij} = A_+\, x_j(t)\, s_i(t) - A_-\, y_i(t)\, s_j(t),$$

    so a pre spike at $t_0$ and a post spike at $t_0 + \Delta$ change $w$ by
    $A_+ e^{-\Delta/\tau_+}$, the reverse order by $-A_- e^{-\Delta/\tau_-}$, and
    simultaneous spikes not at all. From an inhibitory neuron the roles of the
    rates are mirrored as in NALSM: $\Delta w_{ij} = -A_-\, x_j s_i + A_+\, y_i s_j$
    (causal pairs strengthen inhibition at the depression rate).

    Defaults: NALSM's (Ivanov & Michmizos 2021) learning rate 0.15 times its trace
    increment 0.1 per spike, i.e. $A_\pm = 0.015$ per unit trace, and
    $\tau_\pm = 10$ ms. Weights change in the reservoir's units, so scale $A_\pm$
    with ``w_max`` (NALSM's weight scale is not documented).

    Args:
        a_plus: potentiation rate $A_+ \ge 0$.
        a_minus: depression rate $A_- \ge 0$ (default: $A_+$); replaced by the
            astrocyte's rate $A(t)$ when :func:`stdp` is given an astrocyte.
        tau_plus: presynaptic trace time constant $\tau_+ > 0$, ms.
        tau_minus: postsynaptic trace time constant $\tau_- > 0$, ms.
    """

    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]

    def __init__(
        self,
        a_plus: float | ArrayLike = 0.015,
        a_minus: float | ArrayLike | None = None,
        tau_plus: float | ArrayLike = 10.0,
        tau_minus: float | ArrayLike = 10.0,
    ):
        dtype = jnp.result_type(float)
        self.a_plus = check_positive("a_plus", a_plus, dtype, strict=False)
        a_minus = a_plus if a_minus is None else a_minus
        self.a_minus = check_positive("a_minus", a_minus, dtype, strict=False)
        self.tau_plus = check_positive("tau_plus", tau_plus, dtype, strict=True)
        self.tau_minus = check_positive("tau_minus", tau_minus, dtype, strict=True)


class Astrocyte(eqx.Module):
    r"""NALSM's astrocyte: one global unit that sets the STDP depression rate.

    $$A(t + \Delta t) = A(t) + \frac{\Delta t}{\tau_A}\Big[w_A\Big(\sum_{i \in
    \text{liquid}} s_i(t) - \sum_{j \in \text{input}} s_j(t)\Big) + b_A - A(t)
    \Big],$$

    with $A(0) = A_0$. $A(t)$ replaces $A_-$ in :class:`STDP`: liquid activity in
    excess of the input's strengthens depression and drives the network towards
    critical branching (Ivanov & Michmizos, NeurIPS 2021).

    Defaults: NALSM's values ($\tau_A = 100$ ms, $w_A = 0.015$ for a 1000-neuron
    liquid, $b_A = A_0 = A_+ = 0.15$) times its trace increment 0.1, matching
    :class:`STDP`'s default $A_+ = 0.015$. NALSM sets $b_A = A_+(1 + $ an offset
    $)$ and uses $w_A = 0.0075$ for 8000 neurons: scale $w_A$ inversely with size.

    Args:
        tau: time constant $\tau_A > 0$, ms.
        weight: $w_A \ge 0$.
        bias: $b_A \ge 0$.
        initial: $A_0 \ge 0$.
    """

    tau: Float[Array, ""]
    weight: Float[Array, ""]
    bias: Float[Array, ""]
    initial: Float[Array, ""]

    def __init__(
        self,
        tau: float | ArrayLike = 100.0,
        weight: float | ArrayLike = 0.0015,
        bias: float | ArrayLike = 0.015,
        initial: float | ArrayLike = 0.015,
    ):
        dtype = jnp.result_type(float)
        self.tau = check_positive("tau", tau, dtype, strict=True)
        self.weight = check_positive("weight", weight, dtype, strict=False)
        self.bias = check_positive("bias", bias, dtype, strict=False)
        self.initial = check_positive("initial", initial, dtype, strict=False)


class STDPHistory(eqx.Module):
    """What :func:`stdp` records (leading axes ``(samples, time)`` or ``(time,)``).

    Attributes:
        rate: the depression rate used at each step ($A(t)$, or $A_-$).
        n_liquid: number of liquid spikes at each step.
        n_input: summed input (number of input spikes) at each step.
        w_exc: mean weight of the existing excitatory synapses after each sample.
        w_inh: mean weight of the existing inhibitory synapses after each sample.
        w_in: mean weight of the existing input synapses after each sample.
    """

    rate: Float[Array, "*samples time"]
    n_liquid: Float[Array, "*samples time"]
    n_input: Float[Array, "*samples time"]
    w_exc: Float[Array, "*samples"]
    w_inh: Float[Array, "*samples"]
    w_in: Float[Array, "*samples"]


def stdp(
    model: LIFReservoir,
    inputs: Float[ArrayLike, "*samples time n_in"],
    *,
    rule: STDP | None = None,
    astrocyte: Astrocyte | None = None,
    reset: bool = True,
) -> tuple[LIFReservoir, STDPHistory]:
    r"""Train a :class:`dynax.models.LIFReservoir` online with (astrocyte-)STDP.

    The network runs on ``inputs`` (spike trains, ``inputs[k]`` drives step
    $k \to k+1$ as in :func:`dynax.simulate`; input spikes at step $k$ count as
    presynaptic spikes at time $k$, liquid spikes as produced by the step into
    $k$). At every step the :class:`STDP` rule updates the recurrent weights
    ``W`` and the input weights ``W_in``; only existing synapses change, and
    weights stay within the reservoir's bounds and signs (excitatory
    $[0, w_\text{max}]$, inhibitory $[-w_\text{max}, 0]$, input
    $[-w_\text{max}, w_\text{max}]$). With an :class:`Astrocyte`, its rate
    $A(t)$ is the depression rate (mirrored for inhibitory presynaptic
    neurons); without one, ``rule.a_minus`` is. Everything is one ``lax.scan``
    (nested over samples for 3-d ``inputs``), jit-compiled; vmap it over an
    ensemble with ``eqx.filter_vmap``.

    Args:
        model: the reservoir to train.
        inputs: spike trains, shape ``(time, n_in)`` or ``(samples, time, n_in)``
            (samples presented one after another).
        rule: the STDP parameters (default ``STDP()``).
        astrocyte: NALSM's astrocyte, or ``None`` for plain STDP.
        reset: reset the neurons and traces at the start of every sample (the
            astrocyte carries over).

    Returns:
        ``(trained_model, history)``, see :class:`STDPHistory`.
    """
    check_instance("model", model, LIFReservoir, "a dynax.models.LIFReservoir")
    check_ensemble(model, False, flag=None)
    check_instance("rule", rule, STDP, "None or a dx.train.STDP", optional=True)
    what = "None or a dx.train.Astrocyte"
    check_instance("astrocyte", astrocyte, Astrocyte, what, optional=True)
    check_bool("reset", reset)
    rule = STDP() if rule is None else rule
    dtype = model.W.dtype
    inputs = check_array("inputs", inputs, dtype=dtype)
    if inputs.ndim not in (2, 3) or inputs.shape[-1] != model.n_in:
        what = f"shape (time, n_in) or (samples, time, n_in) with n_in = {model.n_in}"
        fail("inputs", what, f"shape {inputs.shape}")
    single = inputs.ndim == 2
    batch = inputs[None] if single else inputs
    model, history = _stdp(model, batch, rule, astrocyte, reset)
    if single:
        history = jax.tree_util.tree_map(lambda x: x[0], history)
    return model, history


def _clip(model: LIFReservoir, W, W_in):
    w_max = model.w_max
    lo = jnp.where(model.is_exc, 0.0, -w_max)[None, :]
    hi = jnp.where(model.is_exc, w_max, 0.0)[None, :]
    W = jnp.where(model.mask, jnp.clip(W, lo, hi), 0.0)
    W_in = jnp.where(model.input_mask, jnp.clip(W_in, -w_max, w_max), 0.0)
    return W.astype(model.W.dtype), W_in.astype(model.W.dtype)


def _plasticity(model, traces, s, u, rate, rule):
    """Apply one step of pair STDP with depression rate ``rate``; new weights."""
    x, y, x_in = traces
    sign = jnp.where(model.is_exc, 1.0, -1.0)
    causal = jnp.where(model.is_exc, rule.a_plus, rate)
    acausal = jnp.where(model.is_exc, rate, rule.a_plus)
    dW = sign[None, :] * (
        causal[None, :] * jnp.outer(s, x) - acausal[None, :] * jnp.outer(y, s)
    )
    dW_in = rule.a_plus * jnp.outer(s, x_in) - rate * jnp.outer(y, u)
    return _clip(model, model.W + dW, model.W_in + dW_in)


def _mean_over(W, mask):
    count = jnp.sum(mask).astype(W.dtype)
    return jnp.sum(jnp.where(mask, W, 0.0)) / jnp.maximum(count, 1.0)


@eqx.filter_jit
def _stdp(model, inputs, rule, astrocyte, reset):
    dtype = model.W.dtype
    rule, astrocyte = jax.tree_util.tree_map(
        lambda a: a.astype(dtype), (rule, astrocyte)
    )
    a_p = jnp.exp(-model.dt / rule.tau_plus).astype(dtype)
    a_m = jnp.exp(-model.dt / rule.tau_minus).astype(dtype)
    zeros = (jnp.zeros(model.n, dtype), jnp.zeros(model.n, dtype))
    zero_traces = (*zeros, jnp.zeros(model.n_in, dtype))

    def before(state, u, carry):
        weights, traces, rate, _ = carry
        net = eqx.tree_at(lambda m: (m.W, m.W_in), model, weights)
        s = state.spikes
        used = rate if astrocyte is not None else rule.a_minus
        weights = _plasticity(net, traces, s, u, used, rule)
        x, y, x_in = traces
        traces = (a_p * (x + s), a_m * (y + s), a_p * (x_in + u))
        n_liq, n_in = jnp.sum(s), jnp.sum(u)
        if astrocyte is not None:
            drive = astrocyte.weight * (n_liq - n_in) + astrocyte.bias - rate
            rate = (rate + model.dt / astrocyte.tau * drive).astype(dtype)
        net = eqx.tree_at(lambda m: (m.W, m.W_in), model, weights)
        record = jnp.stack([used, n_liq, n_in])
        return net, u, None, (weights, traces, rate, record)

    def after(state, state_next, u, carry):
        return carry, carry[3]

    def one_sample(carry, u_seq):
        weights, state, traces, rate = carry
        if reset:
            state, traces = model.init_state(), zero_traces
        rec0 = jnp.zeros(3, dtype)
        state, (weights, traces, rate, _), rec = run_online(
            state, u_seq, (weights, traces, rate, rec0), before, after
        )
        W, W_in = weights
        w_stats = jnp.stack([
            _mean_over(W, model.mask & model.is_exc[None, :]),
            _mean_over(W, model.mask & ~model.is_exc[None, :]),
            _mean_over(W_in, model.input_mask),
        ])  # fmt: skip
        return (weights, state, traces, rate), (rec, w_stats)

    rate0 = jnp.asarray(0.0 if astrocyte is None else astrocyte.initial, dtype)
    carry0 = ((model.W, model.W_in), model.init_state(), zero_traces, rate0)
    (weights, *_), (rec, w_stats) = jax.lax.scan(one_sample, carry0, inputs)
    trained = eqx.tree_at(lambda m: (m.W, m.W_in), model, weights)
    history = STDPHistory(
        rate=rec[..., 0], n_liquid=rec[..., 1], n_input=rec[..., 2],
        w_exc=w_stats[:, 0], w_inh=w_stats[:, 1], w_in=w_stats[:, 2],
    )  # fmt: skip
    return trained, history
