r"""LangevinFlow: a sequential VAE of spiking populations with a Langevin latent.

Song, Keller, Yue, Perona & Welling (CCN 2025), "Langevin Flows for Modeling Neural
Latent Dynamics" (arXiv 2507.11531; code KingJamesSong/LangevinFlow_CCN), rewritten
with a continuous-time latent. This module holds the network (encoder, latent SDE,
decoder); the ELBO, inference rates and training are in :mod:`dynax.train`
(:func:`~dynax.train.langevin_flow_loss`, :func:`~dynax.train.langevin_flow_rates`,
:func:`~dynax.train.fit_spikes`), which integrate the latent with
:func:`dynax.simulate`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import DTypeLike

from .._custom_types import Array, ArrayLike, Float, PRNGKeyArray
from .._validate import (
    check_bool,
    check_choice,
    check_float,
    check_float_dtype,
    check_instance,
    check_int,
    check_key,
    fail,
)
from ._langevin import UnderdampedLangevin
from ._potentials import AbstractPotential, CoupledOscillatorPotential

DECODER_INPUTS = ("latent_and_encoder", "latent", "encoder")


class LangevinFlow(eqx.Module):
    r"""A VAE whose latent is an underdamped Langevin SDE (LangevinFlow).

    One trial has $T$ observed bins of the ``n_heldin`` held-in neurons and
    ``n_forward`` bins after them; the model predicts the log-rates of all
    ``n_heldin + n_heldout`` neurons (held-in first, then held-out: NLB's order) in
    all $T + F$ bins. Bins have a duration ``bin_size`` (the time unit of $\gamma$,
    $\sigma$ and the potential; with the default 1, time is counted in bins).

    1. **Encoder.** Two ``eqx.nn.GRUCell`` (forward and backward in time,
       ``lax.scan``) read the held-in counts $x_{1..T}$; $h_k = [h^\to_k,
       h^\leftarrow_k]$ ($2H$ features per bin). A linear head on
       $[h^\to_T, h^\leftarrow_1]$ gives the diagonal Gaussian posterior
       $q(y_0) = \mathcal N(\mu, \operatorname{diag} e^{\ell})$ over the initial
       state $y_0 = (z_0, v_0)$; the prior is $\mathcal N(0, I)$. With
       ``n_inputs > 0`` a linear head gives inferred inputs $u_k = W_u h_k$ for
       every observed bin (zero in the forward bins, where no spikes are seen).
    2. **Latent** (``latent``, an :class:`~dynax.models.UnderdampedLangevin`):
       $$dz = v\,dt, \qquad dv = \big(-\gamma \odot v - \nabla U(z) + B\,u(t)\big)
       \,dt + \sigma \odot dW,$$
       with $u(t) = u_k$ on bin $k$, $t \in [k\Delta, (k+1)\Delta)$. It is
       integrated by :func:`dynax.simulate` with ``n_substeps`` Euler-Maruyama
       steps per bin (:meth:`time_grid`); the result converges as the step is
       refined (strong order 1: the noise is additive), so ``n_substeps`` is a
       numerical choice, not part of the model. The prior process is the
       same SDE with $u = 0$. The rate of bin $k$ is read from the state at the end
       of the bin, $y((k+1)\Delta)$ (it has integrated the inputs of bins
       $0..k$).
    3. **Decoder.** Per bin a token, chosen by ``decoder_input``:

       - ``"latent_and_encoder"`` (default; the published architecture):
         $[z, v, h_k]$;
       - ``"latent"``: $[z, v]$ only, so every prediction must pass through the
         Langevin latent;
       - ``"encoder"``: $h_k$ only (the ablation without the latent; $h_k = 0$ in
         the forward bins).

       The tokens are embedded linearly (width ``d_model``) and pass one
       pre-norm Transformer encoder layer, $x \leftarrow x +
       \mathrm{MHA}(\mathrm{LN}(x))$, $x \leftarrow x + \mathrm{MLP}(\mathrm{LN}
       (x))$ (``eqx.nn.MultiheadAttention``, ``eqx.nn.LayerNorm``, a GELU MLP),
       causal (bin $k$ attends to bins $\le k$) with ``causal=True``; a linear
       readout gives log-rates, clamped to $[-m, m]$ (``max_log_rate``; rates are
       spikes per bin).

    With the latent and encoder both in the decoder, a good fit does not show that
    the Langevin latent carries it (the published code's $z$ moves about
    $0.01 v$ per bin): compare with ``decoder_input="encoder"``. Measured on the
    small Lorenz set of tests/test_models_langevin_flow.py (500 Adam steps, seeds
    0-4), co-bps minus the smoothing + Poisson GLM baseline's was 0.038 to 0.31
    with ``"latent_and_encoder"``, 0.005 to 0.27 with ``"latent"`` (its worst
    seed at a knife edge) and 0.036 to 0.30 with ``"encoder"``: on co-smoothing
    the encoder alone did as well. The latent showed in forward prediction,
    where the encoder sees nothing: fp-bps (seeds 0-2) 0.93, 0.71, 1.24 with
    ``"latent_and_encoder"``, 0.91, 0.69, 1.17 with ``"latent"``, 0.85, 0.69,
    1.05 with ``"encoder"`` (true rates: 0.99, 0.77, 1.30).

    Differences from the published code: the latent is a continuous-time SDE (the
    published one is a fixed discrete map, $\Delta = 0.01$, $\gamma = 0.55$ per
    step); $\gamma$ and $\sigma$ are learned; the potential is
    :class:`~dynax.models.CoupledOscillatorPotential` (any
    :class:`~dynax.models.AbstractPotential` may be passed); the encoder is
    bidirectional and reads bin $k$ for bin $k$ (the published one lags one bin);
    the decoder is pre-norm without dropout or T-Fixup initialisation.

    Args:
        n_heldin: held-in neurons (the encoder's input).
        n_heldout: held-out neurons (predicted, never seen).
        n_forward: forward-prediction bins after the observed ones.
        n_latents: latent dimension $n$ (the state has $2n$ entries).
        n_inputs: inferred input channels (0: none, an autonomous latent).
        hidden: GRU width $H$ per direction.
        d_model: decoder width (default ``2 * hidden``); a multiple of
            ``n_heads``.
        n_heads: attention heads.
        d_ff: width of the decoder's MLP (default ``2 * d_model``).
        decoder_input: ``"latent_and_encoder"``, ``"latent"`` or ``"encoder"``.
        causal: causal attention in the decoder.
        bin_size: the duration of a bin, in the latent's time unit (a static
            float, like ``simulate``'s ``dt``: it sets the solver's time grid).
        n_substeps: Euler-Maruyama steps per bin.
        potential: the potential $U$ (default: uncoupled harmonic wells on a
            ring, periods from 10 to 40 bins, coupling 0, all learnable).
        gamma: friction $\gamma$, a scalar or one per latent (default:
            $1/(20\,\Delta)$).
        sigma: noise amplitude $\sigma$, a scalar or one per latent (default:
            $0.1\,\Delta^{-3/2}$, a velocity spread of 0.1 per bin per bin).
        max_log_rate: the log-rate clamp $m > 0$.
        dtype: float dtype of the parameters.
        key: PRNG key for the weights.

    Example:
        ```python
        model = dx.models.LangevinFlow(23, 7, n_forward=10, key=jr.key(0))
        model, hist = dx.train.fit_spikes(model, spikes, heldout=heldout, ...)
        rates = dx.train.langevin_flow_rates(model, val_heldin)
        ```
    """

    encoder_forward: eqx.nn.GRUCell
    encoder_backward: eqx.nn.GRUCell
    initial_head: eqx.nn.Linear
    input_head: eqx.nn.Linear | None
    latent: UnderdampedLangevin
    embed: eqx.nn.Linear
    attention_norm: eqx.nn.LayerNorm
    attention: eqx.nn.MultiheadAttention
    mlp_norm: eqx.nn.LayerNorm
    mlp: eqx.nn.MLP
    readout: eqx.nn.Linear
    n_heldin: int = eqx.field(static=True)
    n_heldout: int = eqx.field(static=True)
    n_forward: int = eqx.field(static=True)
    n_latents: int = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    decoder_input: str = eqx.field(static=True)
    causal: bool = eqx.field(static=True)
    bin_size: float = eqx.field(static=True)
    n_substeps: int = eqx.field(static=True)
    max_log_rate: float = eqx.field(static=True)

    def __init__(
        self,
        n_heldin: int,
        n_heldout: int,
        *,
        n_forward: int = 0,
        n_latents: int = 4,
        n_inputs: int = 0,
        hidden: int = 16,
        d_model: int | None = None,
        n_heads: int = 2,
        d_ff: int | None = None,
        decoder_input: str = "latent_and_encoder",
        causal: bool = False,
        bin_size: float = 1.0,
        n_substeps: int = 2,
        potential: AbstractPotential | None = None,
        gamma: Float[ArrayLike, "..."] | None = None,
        sigma: Float[ArrayLike, "..."] | None = None,
        max_log_rate: float = 8.0,
        dtype: DTypeLike | None = None,
        key: PRNGKeyArray,
    ):
        sizes = [("n_heldin", n_heldin, 1), ("n_heldout", n_heldout, 0),
                 ("n_forward", n_forward, 0), ("n_latents", n_latents, 1),
                 ("n_inputs", n_inputs, 0), ("hidden", hidden, 1),
                 ("n_heads", n_heads, 1), ("n_substeps", n_substeps, 1)]  # fmt: skip
        for name, value, low in sizes:
            check_int(name, value, low)
        d_model = 2 * hidden if d_model is None else check_int("d_model", d_model, 1)
        if d_model % n_heads:
            fail("d_model", f"a multiple of n_heads = {n_heads}", repr(d_model))
        d_ff = 2 * d_model if d_ff is None else check_int("d_ff", d_ff, 1)
        self.decoder_input = check_choice(
            "decoder_input", decoder_input, DECODER_INPUTS
        )
        check_bool("causal", causal)
        self.bin_size = check_float("bin_size", bin_size, low=0.0, low_open=True)
        self.max_log_rate = check_float(
            "max_log_rate", max_log_rate, low=0.0, low_open=True
        )
        check_key("key", key)
        dtype = check_float_dtype("dtype", dtype)
        self.n_heldin, self.n_heldout, self.n_forward = n_heldin, n_heldout, n_forward
        self.n_latents, self.n_inputs, self.hidden = n_latents, n_inputs, hidden
        self.causal, self.n_substeps = bool(causal), n_substeps
        keys = jr.split(key, 9)
        self.latent = _default_latent(
            potential, gamma, sigma, n_latents, n_inputs, bin_size, dtype, keys[8]
        )
        h2 = 2 * hidden
        self.encoder_forward = eqx.nn.GRUCell(
            n_heldin, hidden, dtype=dtype, key=keys[0]
        )
        self.encoder_backward = eqx.nn.GRUCell(
            n_heldin, hidden, dtype=dtype, key=keys[1]
        )
        self.initial_head = eqx.nn.Linear(h2, 4 * n_latents, dtype=dtype, key=keys[2])
        self.input_head = (
            eqx.nn.Linear(h2, n_inputs, dtype=dtype, key=keys[3]) if n_inputs else None
        )
        n_token = {"latent_and_encoder": 2 * n_latents + h2, "latent": 2 * n_latents,
                   "encoder": h2}[self.decoder_input]  # fmt: skip
        self.embed = eqx.nn.Linear(n_token, d_model, dtype=dtype, key=keys[4])
        self.attention_norm = eqx.nn.LayerNorm(d_model, dtype=dtype)
        self.attention = eqx.nn.MultiheadAttention(
            n_heads, d_model, use_query_bias=True, use_key_bias=True,
            use_value_bias=True, use_output_bias=True, dtype=dtype, key=keys[5],
        )  # fmt: skip
        self.mlp_norm = eqx.nn.LayerNorm(d_model, dtype=dtype)
        self.mlp = eqx.nn.MLP(
            d_model, d_model, d_ff, 1, activation=jax.nn.gelu, dtype=dtype, key=keys[6]
        )
        self.readout = eqx.nn.Linear(
            d_model, n_heldin + n_heldout, dtype=dtype, key=keys[7]
        )

    @property
    def n_neurons(self) -> int:
        """All predicted neurons: ``n_heldin + n_heldout``."""
        return self.n_heldin + self.n_heldout

    @property
    def dtype(self) -> np.dtype:
        """The float dtype of the parameters."""
        return np.dtype(self.latent.log_gamma.dtype)

    def encode(
        self, heldin: Float[Array, "time heldin"]
    ) -> tuple[
        Float[Array, " state"],
        Float[Array, " state"],
        Float[Array, "time features"],
        Float[Array, "time n_inputs"],
    ]:
        r"""Read the held-in counts of one trial with the bidirectional GRU.

        Args:
            heldin: held-in spike counts ``(T, n_heldin)`` (after any dropout).

        Returns:
            ``(mean, log_var, features, inputs)``: the posterior mean and log
            variance of $y_0 = (z_0, v_0)$ (length $2n$ each), the encoder
            features $h_k$ ``(T, 2 * hidden)`` and the inferred inputs $u_k$
            ``(T, n_inputs)`` (zero-width without inputs).
        """
        x = heldin.astype(self.dtype)
        h0 = jnp.zeros((self.hidden,), self.dtype)

        def forward(h, xk):
            h = self.encoder_forward(xk, h)
            return h, h

        def backward(h, xk):
            h = self.encoder_backward(xk, h)
            return h, h

        h_last, hs_fwd = jax.lax.scan(forward, h0, x)
        h_first, hs_bwd = jax.lax.scan(backward, h0, x, reverse=True)
        features = jnp.concatenate([hs_fwd, hs_bwd], axis=1)
        head = self.initial_head(jnp.concatenate([h_last, h_first]))
        mean, log_var = head[: 2 * self.n_latents], head[2 * self.n_latents :]
        if self.input_head is None:
            inputs = jnp.zeros((x.shape[0], 0), self.dtype)
        else:
            inputs = jax.vmap(self.input_head)(features)
        return mean, log_var, features, inputs

    def time_grid(self, n_bins: int) -> np.ndarray:
        r"""The solver's time grid for a trial of ``n_bins`` observed bins.

        Returns:
            The times $j\,\Delta / s$, $j = 0, \dots, (T + F)\,s$, with $s$ =
            ``n_substeps`` (a host array): :func:`dynax.simulate` takes one
            Euler-Maruyama step per interval and keeps every $s$-th time
            (``dx.Save(every=n_substeps)``), the bin edges $k\Delta$.
        """
        n = (n_bins + self.n_forward) * self.n_substeps
        h = np.asarray(self.bin_size / self.n_substeps, self.dtype)
        return np.arange(n + 1, dtype=self.dtype) * h

    def latent_inputs(
        self, inputs: Float[Array, "time n_inputs"]
    ) -> Float[Array, "steps n_inputs"]:
        """Inferred inputs on the grid of :meth:`time_grid` (zero after bin ``T``).

        ``simulate``'s input sample at a time drives the step that starts there:
        bin $k$'s input on its ``n_substeps`` steps, zero on the forward bins (and
        on the last, unused, time).
        """
        steps = jnp.repeat(inputs, self.n_substeps, axis=0)
        pad = jnp.zeros(
            (self.n_forward * self.n_substeps + 1, inputs.shape[1]), inputs.dtype
        )
        return jnp.concatenate([steps, pad])

    def decode(
        self,
        states: Float[Array, "bins state"],
        features: Float[Array, "time features"],
    ) -> Float[Array, "bins neurons"]:
        r"""Return the clamped log-rates ``(T + F, n_neurons)`` of one trial.

        Args:
            states: the latent state $y = (z, v)$ at the end of every bin,
                ``(T + F, 2 * n_latents)``.
            features: the encoder features ``(T, 2 * hidden)``; zero in the
                forward bins.
        """
        n_bins = states.shape[0]
        pad = jnp.zeros((n_bins - features.shape[0], features.shape[1]), self.dtype)
        h = jnp.concatenate([features.astype(self.dtype), pad])
        tokens = {
            "latent_and_encoder": lambda: jnp.concatenate([states, h], axis=1),
            "latent": lambda: states,
            "encoder": lambda: h,
        }[self.decoder_input]()
        x = jax.vmap(self.embed)(tokens)
        mask = jnp.tril(jnp.ones((n_bins, n_bins), bool)) if self.causal else None
        a = jax.vmap(self.attention_norm)(x)
        x = x + self.attention(a, a, a, mask=mask)
        x = x + jax.vmap(self.mlp)(jax.vmap(self.mlp_norm)(x))
        log_rates = jax.vmap(self.readout)(x)
        return jnp.clip(log_rates, -self.max_log_rate, self.max_log_rate)


def _default_latent(potential, gamma, sigma, n, n_inputs, bin_size, dtype, key):
    """The Langevin latent; defaults scaled to the bin (time unit ``bin_size``)."""
    if potential is None:
        periods = np.geomspace(10.0, 40.0, n) * bin_size
        potential = CoupledOscillatorPotential(
            n, stiffness=(2 * np.pi / periods) ** 2, dtype=dtype
        )
    check_instance(
        "potential", potential, AbstractPotential,
        "None or a dx.models.AbstractPotential (e.g. CoupledOscillatorPotential)",
    )  # fmt: skip
    if potential.n != n:
        fail("potential", f"a potential of n = n_latents = {n}", f"n = {potential.n}")
    gamma = 1.0 / (20.0 * bin_size) if gamma is None else gamma
    sigma = 0.1 * bin_size**-1.5 if sigma is None else sigma
    return UnderdampedLangevin(
        potential, gamma=gamma, sigma=sigma, n_in=n_inputs, dtype=dtype,
        key=key if n_inputs else None,
    )  # fmt: skip
