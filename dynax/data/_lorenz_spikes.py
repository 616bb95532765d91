r"""Synthetic spiking populations driven by Lorenz latents (the LFADS benchmark)."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._custom_types import Array, Bool, Float, Int, PRNGKeyArray
from .._simulate import simulate
from .._validate import check_float, check_float_dtype, check_int, check_key, fail
from ..models import Lorenz
from ._tensors import SpikeTensors


class LorenzSpikes(eqx.Module):
    """A Lorenz-driven spiking data set with its ground truth and splits.

    Trial ``k`` belongs to condition ``condition[k]``; trials of one condition
    share their latents and rates and differ only in their Poisson spikes. The
    time axis has ``n_bins`` observed bins followed by ``n_forward``
    forward-prediction bins.

    Attributes:
        spikes: spike counts ``(trials, time, neurons)`` (whole numbers, floats).
        rates: the true rates in spikes per bin, same shape.
        latents: the Lorenz state of each bin, standardised (zero mean, unit
            variance per coordinate over all conditions and bins),
            ``(trials, time, 3)``; the raw state is ``latents * latent_std +
            latent_mean``.
        latent_mean: the raw Lorenz mean removed, shape ``(3,)``.
        latent_std: the raw Lorenz standard deviation divided out, ``(3,)``.
        readout: the weights ``(neurons, 3)`` from latents to log-rates.
        bias: the log-rate offsets ``(neurons,)`` (log spikes per bin).
        condition: condition id of each trial, ``(trials,)``.
        train: ``True`` for training trials, ``False`` for validation ones.
        heldout: ``True`` for held-out neurons.
        bin_size: the bin width in seconds.
        n_forward: the number of forward-prediction bins at the end.
    """

    spikes: Float[Array, "trials time neurons"]
    rates: Float[Array, "trials time neurons"]
    latents: Float[Array, "trials time 3"]
    latent_mean: Float[Array, " 3"]
    latent_std: Float[Array, " 3"]
    readout: Float[Array, "neurons 3"]
    bias: Float[Array, " neurons"]
    condition: Int[Array, " trials"]
    train: Bool[Array, " trials"]
    heldout: Bool[Array, " neurons"]
    bin_size: float = eqx.field(static=True)
    n_forward: int = eqx.field(static=True)

    def split(self, which: str = "train", *, of: str = "spikes") -> SpikeTensors:
        """Return one split in NLB's layout (:class:`SpikeTensors`).

        Args:
            which: ``"train"``, ``"val"`` or ``"all"`` trials.
            of: ``"spikes"`` (the data) or ``"rates"`` (the ground truth, e.g. to
                score the true rates with :func:`dynax.analysis.co_bps`).
        """
        if which not in ("train", "val", "all") or of not in ("spikes", "rates"):
            bad = (
                ("which", which) if which not in ("train", "val", "all") else ("of", of)
            )
            fail(bad[0], "'train', 'val', 'all' / 'spikes', 'rates'", repr(bad[1]))
        train = np.asarray(self.train)
        trials = {"train": train, "val": ~train, "all": np.ones_like(train)}[which]
        idx = np.flatnonzero(trials)
        x = np.asarray(getattr(self, of))[idx]
        held = np.asarray(self.heldout)
        t = x.shape[1] - self.n_forward
        return SpikeTensors(
            jnp.asarray(x[:, :t, ~held]),
            jnp.asarray(x[:, :t, held]),
            jnp.asarray(x[:, t:, ~held]),
            jnp.asarray(x[:, t:, held]),
            None,
            jnp.asarray(np.asarray(self.condition)[idx]),
            jnp.asarray(idx),
        )


def lorenz_spikes(
    key: PRNGKeyArray,
    *,
    n_conditions: int = 65,
    n_trials: int = 20,
    n_neurons: int = 30,
    n_bins: int = 50,
    n_forward: int = 10,
    n_heldout: int | None = None,
    val_fraction: float = 0.2,
    bin_size: float = 0.02,
    base_rate: float = 10.0,
    gain: float = 1.0,
    lorenz_dt: float = 0.025,
    burn_in: float = 5.0,
    substeps: int = 5,
    dtype=None,
) -> LorenzSpikes:
    r"""Sample a Lorenz-latent Poisson population (the LFADS synthetic benchmark).

    1. **Latents.** For each condition, a start $x_0 \sim \mathcal N((0, 0, 25),
       8^2 I)$ is run for ``burn_in`` time units (rounded to whole bins) onto
       the attractor, then the
       classic Lorenz system ($\sigma = 10$, $\rho = 28$, $\beta = 8/3$) is
       recorded every ``lorenz_dt`` time units for ``n_bins + n_forward`` bins
       (:func:`dynax.simulate`, fixed-step ``diffrax.Tsit5`` with ``substeps``
       steps per bin). Each coordinate is standardised over all conditions and
       bins: $\tilde x = (x - \mu)/s$.
    2. **Rates.** $\log \lambda_{kn}(t) = b + \sum_j W_{nj} \tilde x_j(t)$ with
       $W_{nj} \sim \mathcal N(0, g^2/3)$ (so each log-rate has standard
       deviation about $g$ = ``gain``) and one offset
       $b = \log(\text{base\_rate} \cdot \text{bin\_size})$ for every neuron: the
       mean log-rate over the data set is exactly $b$, i.e. a geometric-mean
       rate of ``base_rate`` Hz. (NDT's generator uses a bias of $-10$, which
       makes the rates vanish; LFADS used a few Hz.)
    3. **Spikes.** ``n_trials`` trials per condition, each with independent
       Poisson counts $s \sim \mathrm{Poisson}(\lambda)$ per bin.
    4. **Splits.** In each condition a ``val_fraction`` of the trials (rounded)
       is validation, the rest training; ``n_heldout`` random neurons (default a
       quarter, rounded) are held out; the last ``n_forward`` bins are the
       forward-prediction window (NLB: 200 ms = 10 bins of 20 ms).

    Args:
        key: PRNG key (everything is a function of it).
        n_conditions: number of latent trajectories (conditions).
        n_trials: trials per condition.
        n_neurons: number of neurons.
        n_bins: observed bins per trial.
        n_forward: forward-prediction bins after them (>= 0).
        n_heldout: held-out neurons, ``0 <= n_heldout < n_neurons``.
        val_fraction: fraction of each condition's trials for validation.
        bin_size: bin width in seconds (sets the per-bin rate of ``base_rate``).
        base_rate: geometric-mean firing rate in Hz.
        gain: standard deviation of the log-rates around their mean.
        lorenz_dt: Lorenz time units per bin (0.025: 50 bins span ~1.25 time
            units, one or two turns around a wing).
        burn_in: Lorenz time before recording starts.
        substeps: solver steps per bin.
        dtype: float dtype (default: JAX's default float).

    Returns:
        A :class:`LorenzSpikes`; ``.split("train")`` / ``.split("val")`` give
        NLB-style tensors.

    Example:
        >>> data = dx.data.lorenz_spikes(jax.random.key(0), n_conditions=8)
        >>> train = data.split("train")  # train.heldin: (128, 50, 23)
    """
    check_key("key", key)
    for name, value, low in [
        ("n_conditions", n_conditions, 1), ("n_trials", n_trials, 1),
        ("n_neurons", n_neurons, 1), ("n_bins", n_bins, 1),
        ("n_forward", n_forward, 0), ("substeps", substeps, 1),
    ]:  # fmt: skip
        check_int(name, value, low)
    n_heldout = round(n_neurons / 4) if n_heldout is None else n_heldout
    check_int("n_heldout", n_heldout, 0, n_neurons - 1)
    check_float("val_fraction", val_fraction, low=0.0, high=1.0, high_open=True)
    for name, value in [("bin_size", bin_size), ("base_rate", base_rate),
                        ("lorenz_dt", lorenz_dt)]:  # fmt: skip
        check_float(name, value, low=0.0, low_open=True)
    check_float("gain", gain, low=0.0)
    check_float("burn_in", burn_in, low=0.0)
    dtype = check_float_dtype("dtype", dtype)
    k_x0, k_w, k_val, k_held, k_spk = jr.split(key, 5)
    raw = _lorenz_latents(
        k_x0, n_conditions, n_bins + n_forward, lorenz_dt, burn_in, substeps, dtype
    )
    mean, std = jnp.mean(raw, axis=(0, 1)), jnp.std(raw, axis=(0, 1))
    latents = (raw - mean[None, None]) / std[None, None]
    readout = jr.normal(k_w, (n_neurons, 3), dtype) * (gain / np.sqrt(3.0))
    bias = jnp.full((n_neurons,), np.log(base_rate * bin_size), dtype)
    rates = jnp.exp(
        latents @ readout.T + bias[None, None]
    )  # (conditions, time, neurons)
    condition = jnp.repeat(jnp.arange(n_conditions), n_trials)
    rates, latents = rates[condition], latents[condition]
    spikes = jr.poisson(k_spk, rates).astype(dtype)
    n_val = round(val_fraction * n_trials)
    ranks = jax.vmap(lambda k: jr.permutation(k, n_trials))(
        jr.split(k_val, n_conditions)
    )
    train = ranks.reshape(-1) >= n_val
    heldout = jr.permutation(k_held, n_neurons) < n_heldout
    return LorenzSpikes(
        spikes, rates, latents, mean, std, readout, bias, condition, train, heldout,
        float(bin_size), n_forward,
    )  # fmt: skip


def _lorenz_latents(key, n_conditions, n_time, lorenz_dt, burn_in, substeps, dtype):
    """Raw Lorenz states ``(conditions, time, 3)`` after a burn-in."""
    model = Lorenz(dtype=dtype)
    x0 = jnp.asarray([[0.0, 0.0, 25.0]], dtype) + 8.0 * jr.normal(
        key, (n_conditions, 3), dtype
    )
    n_burn = round(burn_in / lorenz_dt)  # whole bins, recorded then dropped
    ts = jnp.arange(n_burn + max(n_time, 2), dtype=dtype) * lorenz_dt

    def record(x):
        return simulate(model, x, ts, solver=diffrax.Tsit5(), dt=lorenz_dt / substeps)

    return jax.vmap(record)(x0).ys[:, n_burn : n_burn + n_time]
