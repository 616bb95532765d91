r"""A spiking reservoir of leaky integrate-and-fire neurons (a liquid state machine)."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import DTypeLike

from .._custom_types import (
    Args,
    Array,
    ArrayLike,
    Bool,
    Float,
    PRNGKeyArray,
    ScalarLike,
)
from .._validate import (
    check_float,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
    check_unit_shape,
)
from ._base import AbstractReservoir, AbstractSteppedMap, drive


class LIFState(eqx.Module):
    """The state of a :class:`LIFReservoir` at one time step.

    Attributes:
        v: membrane potentials.
        i_syn: synaptic currents (in units of the potential).
        refractory: time left in the refractory period, ms (0: not refractory).
        spikes: 1.0 where a neuron spiked at this step, else 0.0.
    """

    v: Float[Array, " n"]
    i_syn: Float[Array, " n"]
    refractory: Float[Array, " n"]
    spikes: Float[Array, " n"]


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def _random_network(key, n, n_in, n_exc, density, input_density, dtype, scales):
    """Masks and initial weights (one compiled function: fast to build)."""
    w_exc, w_inh, w_in, w_max = scales
    is_exc = jnp.arange(n) < n_exc
    k_mask, k_w, k_in_mask, k_in = jr.split(key, 4)
    mask = jr.bernoulli(k_mask, density, (n, n)) & ~jnp.eye(n, dtype=bool)
    sign = jnp.where(is_exc, 1.0, -1.0).astype(dtype)
    scale = jnp.where(is_exc, w_exc, w_inh)
    mag = jnp.minimum(2 * scale[None, :] * jr.uniform(k_w, (n, n), dtype), w_max)
    W = jnp.where(mask, sign[None, :] * mag, jnp.zeros((), dtype))
    input_mask = jr.bernoulli(k_in_mask, input_density, (n, n_in))
    mag_in = jnp.minimum(2 * w_in * jr.uniform(k_in, (n, n_in), dtype), w_max)
    W_in = jnp.where(input_mask, mag_in, jnp.zeros((), dtype))
    return is_exc, mask, W, input_mask, W_in


class LIFReservoir(AbstractReservoir, AbstractSteppedMap):
    r"""A recurrent network of leaky integrate-and-fire neurons with E/I populations.

    One application is one time step of ``dt`` ms (exact exponential integration
    of $\tau_s \dot I = -I$, $\tau_m \dot v = -v + I + b$ over the step, with the
    jumps of $I$ at spike times):

    $$I_{k+1} = e^{-\Delta t/\tau_s} I_k + W s_k + W_\text{in} u_k,$$
    $$\tilde v = e^{-\Delta t/\tau_m} v_k + (1 - e^{-\Delta t/\tau_m})
    (I_{k+1} + b),$$
    $$s_{k+1} = H(\tilde v - \vartheta)\,[r_k = 0],\qquad
    v_{k+1} = s_{k+1} v_\text{reset} + (1 - s_{k+1})\tilde v,$$

    where $H$ is the Heaviside step ($H(0) = 1$). A neuron that spikes is held at
    $v_\text{reset}$ for the next $\lceil t_\text{ref}/\Delta t\rceil$ steps
    (counter $r$, ms). A spike of weight $w$ raises the current by $w$; the
    potential is in units of the threshold's scale. With $b$ constant and no
    other input, a neuron starting at $v_\text{reset} = 0$ spikes first at step
    $n^* = \lceil \ln(1 - \vartheta/b) / \ln e^{-\Delta t/\tau_m}\rceil$ and then
    every $n^* + \lceil t_\text{ref}/\Delta t\rceil$ steps; it never spikes when
    $b \le \vartheta$ (rheobase).

    **Spikes are not differentiable**: the Heaviside has zero gradient, so
    gradients through the spikes vanish (use plasticity rules such as
    :func:`dynax.train.stdp`, or a readout on spike counts).

    **Connectivity** (NALSM; Ivanov & Michmizos, NeurIPS 2021): the first
    ``round(frac_exc * n)`` neurons are excitatory. Each ordered pair $(i \ne j)$
    is connected with probability ``density`` and each (neuron, input channel)
    pair with probability ``input_density``. Dale's law: weights from excitatory
    neurons lie in $[0, w_\text{max}]$, from inhibitory ones in
    $[-w_\text{max}, 0]$; input weights in $[-w_\text{max}, w_\text{max}]$.
    Initial magnitudes are uniform on $[0, 2 w]$ (clipped at $w_\text{max}$)
    with $w$ = ``w_exc``, ``w_inh``, ``w_in``. ``W[i, j]`` is the synapse from
    $j$ (pre) to $i$ (post); ``mask`` and ``input_mask`` mark existing synapses.

    **Input convention** (as :class:`dynax.models.ESN`): under
    :func:`dynax.simulate`, ``inputs[k]`` drives the step from ``ys[k]`` to
    ``ys[k+1]``; ``ys.spikes`` is the spike raster (``ys.spikes[0]`` is the
    initial state). ``ts`` only indexes steps: the step length is ``dt``.
    Inputs are typically spike trains (0/1 per channel and step).

    Args:
        n_in: number of input channels.
        n: number of neurons.
        frac_exc: fraction of excitatory neurons, in $(0, 1]$.
        density: connection probability between neurons, in $(0, 1]$.
        input_density: connection probability from an input channel, in $(0, 1]$.
        w_exc: mean initial excitatory weight, in $[0, w_\text{max}]$.
        w_inh: mean initial inhibitory weight magnitude, in $[0, w_\text{max}]$.
        w_in: mean initial input weight, in $[0, w_\text{max}]$.
        w_max: weight bound $w_\text{max} > 0$.
        tau_m: membrane time constant $\tau_m > 0$, ms.
        tau_syn: synaptic time constant $\tau_s > 0$, ms.
        threshold: spike threshold $\vartheta > v_\text{reset}$.
        v_reset: reset potential.
        t_ref: refractory period $t_\text{ref} \ge 0$, ms.
        bias: constant current $b$ (scalar or one per neuron).
        dt: time step $\Delta t > 0$, ms.
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key.
    """

    W: Float[Array, "n n"]
    W_in: Float[Array, "n n_in"]
    mask: Bool[Array, "n n"]
    input_mask: Bool[Array, "n n_in"]
    is_exc: Bool[Array, " n"]
    bias: Float[Array, " n"]
    w_max: Float[Array, ""]
    tau_m: Float[Array, ""]
    tau_syn: Float[Array, ""]
    threshold: Float[Array, ""]
    v_reset: Float[Array, ""]
    t_ref: Float[Array, ""]
    dt: Float[Array, ""]
    n_in: int = eqx.field(static=True)
    n: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n: int,
        *,
        frac_exc: float = 0.8,
        density: float = 0.1,
        input_density: float = 0.2,
        w_exc: float = 0.5,
        w_inh: float = 1.0,
        w_in: float = 1.0,
        w_max: float = 2.0,
        tau_m: float = 20.0,
        tau_syn: float = 5.0,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        t_ref: float = 2.0,
        bias: Float[ArrayLike, "*n"] = 0.0,
        dt: float = 1.0,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = check_float_dtype("dtype", dtype)
        check_int("n", n, 1)
        check_int("n_in", n_in, 0)
        check_key("key", key)
        frac_exc, density, input_density = (
            check_float(name, value, low=0.0, high=1.0, low_open=True)
            for name, value in (
                ("frac_exc", frac_exc),
                ("density", density),
                ("input_density", input_density),
            )
        )
        self.w_max = check_positive("w_max", w_max, dtype, strict=True)
        bound = f"a number in [0, w_max] = [0, {w_max}]"
        for name, value in (("w_exc", w_exc), ("w_inh", w_inh), ("w_in", w_in)):
            check_float(name, value, low=0.0, high=float(w_max), what=bound)
        self.tau_m = check_positive("tau_m", tau_m, dtype, strict=True)
        self.tau_syn = check_positive("tau_syn", tau_syn, dtype, strict=True)
        self.t_ref = check_positive("t_ref", t_ref, dtype, strict=False)
        self.dt = check_positive("dt", dt, dtype, strict=True)
        check_float("v_reset", v_reset)
        check_float("threshold", threshold, low=float(v_reset), low_open=True)
        self.threshold = jnp.asarray(threshold, dtype)
        self.v_reset = jnp.asarray(v_reset, dtype)
        check_unit_shape("bias", bias, n, axis="n")
        self.bias = jnp.broadcast_to(jnp.asarray(bias, dtype), (n,))
        n_exc = int(round(frac_exc * n))
        self.is_exc, self.mask, self.W, self.input_mask, self.W_in = _random_network(
            key, n, n_in, n_exc, density, input_density, dtype,
            jnp.asarray([w_exc, w_inh, w_in, w_max], dtype),
        )  # fmt: skip
        self.n_in, self.n = n_in, n

    def step(self, x: LIFState, u: Float[Array, " n_in"]) -> LIFState:
        """Return the state after one step of ``dt`` ms driven by the input ``u``."""
        dtype = x.v.dtype
        decay_syn = jnp.exp(-self.dt / self.tau_syn)
        decay_m = jnp.exp(-self.dt / self.tau_m)
        i_syn = decay_syn * x.i_syn + self.W @ x.spikes + self.W_in @ u.astype(dtype)
        v = decay_m * x.v + (1 - decay_m) * (i_syn + self.bias)
        free = x.refractory <= 0
        v = jnp.where(free, v, self.v_reset)
        fired = free & (v >= self.threshold)
        spikes = jax.lax.stop_gradient(fired.astype(dtype))
        zero = jnp.zeros((), dtype)
        return LIFState(
            v=jnp.where(fired, self.v_reset, v),
            i_syn=i_syn,
            refractory=jnp.where(
                fired, self.t_ref, jnp.maximum(x.refractory - self.dt, zero)
            ),
            spikes=spikes,
        )

    def __call__(self, t: ScalarLike, y: LIFState, args: Args) -> LIFState:
        """Return the next state; the input at ``t`` is ``args.evaluate(t)``."""
        return self.step(y, drive(args, t, self.n_in, y.v.dtype))

    def time_step(self) -> Array:
        """One application is ``dt`` ms: ``simulate`` needs ``ts`` spaced by it."""
        return self.dt

    def init_state(self) -> LIFState:
        """Return the resting state: ``v = v_reset``, no current, no spikes."""
        z = jnp.zeros((self.n,), self.W.dtype)
        v = jnp.broadcast_to(self.v_reset, (self.n,))
        return LIFState(v=v, i_syn=z, refractory=z, spikes=z)
