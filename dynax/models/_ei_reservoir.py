r"""A reservoir of E and I rate units with per-unit inhibitory gains."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.typing import DTypeLike

from .._custom_types import Args, Array, ArrayLike, Float, PRNGKeyArray, ScalarLike
from .._validate import (
    check_elements,
    check_float,
    check_float_dtype,
    check_int,
    check_key,
    check_positive,
    check_unit_shape,
)
from . import _init
from ._base import AbstractReservoir, drive
from ._reservoir import _check_leak
from ._reservoir_init import sparse_matrix


def _check_rates(name: str, rates: ArrayLike, n: int, dtype, axis="n_hidden") -> Array:
    """Check that every rate lies in (0, 1); return them broadcast to ``(n,)``."""
    check_unit_shape(name, rates, n, axis)
    bad = lambda a: ~((a > 0) & (a < 1))  # noqa: E731
    arr = check_elements(name, rates, dtype, bad, "in (0, 1)")
    return jnp.broadcast_to(arr, (n,))


def _dale_block(
    key: PRNGKeyArray, n_rows: int, n_cols: int, offset: int, k: int, scale, dtype
) -> Float[Array, "n_rows n_cols"]:
    r"""Non-negative weights: ``k`` inputs per row, expected row sum ``scale``.

    Row $i$ draws ``k`` distinct columns (never column ``i - offset``, the unit
    itself) with magnitudes $|z|$, $z \sim \mathcal N(0, 1)$.
    """
    k_val, k_pick = jr.split(key)
    rows, cols = jnp.arange(n_rows)[:, None], jnp.arange(n_cols)[None, :]
    priority = jr.uniform(k_pick, (n_rows, n_cols), dtype)
    priority = jnp.where(cols == rows - offset, jnp.inf, priority)
    rank = jnp.argsort(jnp.argsort(priority, axis=1), axis=1)
    mag = jnp.where(rank < k, jnp.abs(jr.normal(k_val, (n_rows, n_cols), dtype)), 0)
    return mag * (scale / (k * jnp.sqrt(jnp.asarray(2 / jnp.pi, dtype))))


def _in_degree(density: float, n_cols: int) -> int:
    check_float("density", density, low=0.0, high=1.0, low_open=True)
    return min(max(1, round(density * n_cols)), n_cols - 1)


class EIAdaptiveReservoir(AbstractReservoir):
    r"""A leaky sigmoid reservoir with E and I units and per-unit inhibitory gains.

    $$x_{k+1} = (1 - a)\,x_k + a\,\sigma\!\big(W_E\, x^E_k - g \odot (W_I\, x^I_k)
    + W_\text{in} u_k + b\big),$$

    $\sigma$ the logistic function, so $x \in (0, 1)^N$ reads as the units' firing
    rates; $x^E$ are the first $n_E$ = ``round(frac_exc * n_hidden)`` units
    (excitatory), $x^I$ the others (inhibitory). Dale's law: $W_E \ge 0$ (shape
    ``(n_hidden, n_E)``) and $W_I \ge 0$ (``(n_hidden, n_I)``) carry the sign in the
    equation. $g_i \ge 0$ scales all inhibition onto unit $i$: its E/I balance. A
    local rule (:func:`dynax.train.adapt_inhibition`) moves each $g_i$ until the
    unit's mean rate equals its target ``target_rate[i]`` (Srinivasan, Plenz &
    Girvan 2025, arXiv 2504.12480). One application is one (dimensionless) time
    step; the input convention is :class:`dynax.models.ESN`'s: under
    :func:`dynax.simulate`, ``inputs[k]`` drives ``ys[k]`` to ``ys[k+1]``, so
    :func:`dynax.train.ridge_readout` and :func:`dynax.analysis.memory_capacity`
    apply unchanged.

    **Our choices, not from the paper** (its update equation, weight statistics and
    sizes were not available to us): the leaky sigmoid map above; 80 % E units;
    sparse weights with a fixed in-degree (each unit receives
    $K_E = \max(1, \mathrm{round}(\text{density}\cdot n_E))$ E and $K_I$ I inputs
    from distinct other units, so every unit's gain acts on some inhibition),
    magnitudes $|z|$, $z \sim \mathcal N(0, 1)$, normalised so that the *expected
    total* E (I) weight onto a unit is ``exc_scaling`` (``inh_scaling``); with
    $g = 1$ and equal E and I rates the mean drive is balanced when the two
    scalings are equal. A globally tuned reservoir is a choice of one scalar
    ``inhibitory_gain`` (or of ``inh_scaling``) for all units. $W_\text{in}$ and $b$
    are dense $\mathcal U(-1, 1)$ times ``input_scaling`` and ``bias_scaling`` (as
    in the ESN; input weights are not sign-constrained).

    **The gain** $g$ is stored as is, not as a logarithm: the adaptation's projection
    $\max(0, \cdot)$ reaches 0 exactly, which $\log g$ cannot represent. The map uses
    $\max(g, 0)$, so a gradient step that makes $g_i$ negative acts as $g_i = 0$.

    Args:
        n_in: number of input channels (0 for an autonomous network).
        n_hidden: number of units $N$.
        frac_exc: fraction of excitatory units, in $(0, 1)$ (both populations must
            be non-empty).
        exc_scaling: expected total excitatory weight onto a unit, $\ge 0$.
        inh_scaling: expected total inhibitory weight onto a unit (before $g$),
            $\ge 0$.
        inhibitory_gain: the initial $g$, $\ge 0$: a scalar or one per unit.
        target_rate: the target rates $\rho \in (0, 1)$ used by the adaptation: a
            scalar (homogeneous) or one per unit (heterogeneous, e.g. from
            :func:`lognormal_rates`).
        leak: leak rate $a \in (0, 1]$ (scalar or one per unit).
        input_scaling: scale $\ge 0$ of $W_\text{in}$.
        bias_scaling: scale $\ge 0$ of $b$.
        density: fraction in $(0, 1]$ of each population a unit receives input
            from (at least one presynaptic unit, never itself).
        dtype: float dtype of every parameter (default: JAX's default float).
        key: PRNG key.
    """

    W_E: Float[Array, "n_hidden n_exc"]
    W_I: Float[Array, "n_hidden n_inh"]
    W_in: Float[Array, "n_hidden n_in"]
    b: Float[Array, " n_hidden"]
    g: Float[Array, " n_hidden"]
    target_rate: Float[Array, " n_hidden"]
    leak: Float[Array, "*leak"]
    n_in: int = eqx.field(static=True)
    n_hidden: int = eqx.field(static=True)
    n_exc: int = eqx.field(static=True)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        *,
        frac_exc: float = 0.8,
        exc_scaling: ScalarLike = 4.0,
        inh_scaling: ScalarLike = 4.0,
        inhibitory_gain: Float[ArrayLike, "*n_gain"] = 1.0,
        target_rate: Float[ArrayLike, "*n_rate"] = 0.2,
        leak: Float[ArrayLike, "*leak"] = 1.0,
        input_scaling: ScalarLike = 1.0,
        bias_scaling: ScalarLike = 0.0,
        density: float = 0.3,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        dtype = check_float_dtype("dtype", dtype)
        check_int("n_hidden", n_hidden, 2)
        check_int("n_in", n_in, 0)
        check_key("key", key)
        n_exc = _init.excitatory_count(frac_exc, n_hidden)
        s_e = check_positive("exc_scaling", exc_scaling, dtype, strict=False)
        s_i = check_positive("inh_scaling", inh_scaling, dtype, strict=False)
        s_in = check_positive("input_scaling", input_scaling, dtype, strict=False)
        s_b = check_positive("bias_scaling", bias_scaling, dtype, strict=False)
        check_unit_shape("inhibitory_gain", inhibitory_gain, n_hidden)
        g = check_positive("inhibitory_gain", inhibitory_gain, dtype, strict=False)
        check_unit_shape("leak", leak, n_hidden)
        self.leak = _check_leak(leak, dtype)
        self.target_rate = _check_rates("target_rate", target_rate, n_hidden, dtype)
        self.g = jnp.broadcast_to(g, (n_hidden,))
        k_e, k_i, k_in, k_b = jr.split(key, 4)
        n_inh = n_hidden - n_exc
        k_exc, k_inh = _in_degree(density, n_exc), _in_degree(density, n_inh)
        self.W_E = _dale_block(k_e, n_hidden, n_exc, 0, k_exc, s_e, dtype)
        self.W_I = _dale_block(k_i, n_hidden, n_inh, n_exc, k_inh, s_i, dtype)
        self.W_in = s_in * sparse_matrix(
            k_in, (n_hidden, n_in), distribution="uniform", dtype=dtype
        )
        self.b = s_b * jr.uniform(k_b, (n_hidden,), dtype, minval=-1.0, maxval=1.0)
        self.n_in, self.n_hidden, self.n_exc = n_in, n_hidden, n_exc

    def step(
        self, x: Float[Array, " n_hidden"], u: Float[Array, " n_in"]
    ) -> Float[Array, " n_hidden"]:
        r"""Return $x_{k+1}$ given $x_k$ and $u_k$ (gains: the field ``g``)."""
        g = jnp.maximum(self.g, 0)
        exc = self.W_E @ x[: self.n_exc]
        inh = self.W_I @ x[self.n_exc :]
        pre = exc - g * inh + self.W_in @ u + self.b
        return (1 - self.leak) * x + self.leak * jax.nn.sigmoid(pre)

    def __call__(
        self, t: ScalarLike, x: Float[Array, " n_hidden"], args: Args
    ) -> Float[Array, " n_hidden"]:
        """Return the next state $x_{k+1}$."""
        return self.step(x, drive(args, t, self.n_in, x.dtype))

    def init_state(self) -> Float[Array, " n_hidden"]:
        """Return the zero state (all units silent)."""
        return jnp.zeros((self.n_hidden,), self.W_E.dtype)

    def with_gain(self, g: Float[ArrayLike, "*n"]) -> "EIAdaptiveReservoir":
        """Return a copy with inhibitory gains ``g`` (a scalar or one per unit)."""
        check_unit_shape("g", g, self.n_hidden)
        dtype = self.W_E.dtype
        g = check_positive("g", g, dtype, strict=False)
        return eqx.tree_at(lambda m: m.g, self, jnp.broadcast_to(g, (self.n_hidden,)))

    def with_target_rate(self, rates: Float[ArrayLike, "*n"]) -> "EIAdaptiveReservoir":
        """Return a copy with target rates ``rates`` in (0, 1) (scalar or per unit)."""
        rates = _check_rates("target_rate", rates, self.n_hidden, self.W_E.dtype)
        return eqx.tree_at(lambda m: m.target_rate, self, rates)


def lognormal_rates(
    key: PRNGKeyArray,
    n: int,
    *,
    mean: ScalarLike = 0.2,
    sigma: ScalarLike = 0.5,
    clip: float = 0.01,
    dtype: DTypeLike | None = None,
) -> Float[Array, " n"]:
    r"""Draw heterogeneous target rates: lognormal, clipped into $(0, 1)$.

    $\rho_i = \mu\, e^{\sigma z_i - \sigma^2/2}$, $z_i \sim \mathcal N(0, 1)$ (so
    $\mathbb E\rho_i = \mu$ before clipping), clipped to
    $[\text{clip}, 1 - \text{clip}]$. Cortical firing rates are roughly lognormal
    (Buzsáki & Mizuseki 2014); the parameters are our choice, not from the paper.

    Args:
        key: PRNG key.
        n: number of rates.
        mean: $\mu$, in $(0, 1)$.
        sigma: $\sigma \ge 0$, the standard deviation of $\log\rho$.
        clip: distance kept from 0 and 1, in $(0, 0.5)$.
        dtype: float dtype (default: JAX's default float).

    Returns:
        The rates, shape ``(n,)``.
    """
    dtype = check_float_dtype("dtype", dtype)
    check_int("n", n, 1)
    check_key("key", key)
    check_float("clip", clip, low=0.0, high=0.5, low_open=True, high_open=True)
    mu = _check_rates("mean", mean, 1, dtype, axis="1")[0]
    s = check_positive("sigma", sigma, dtype, strict=False)
    rates = mu * jnp.exp(s * jr.normal(key, (n,), dtype) - s**2 / 2)
    return jnp.clip(rates, clip, 1 - clip)
