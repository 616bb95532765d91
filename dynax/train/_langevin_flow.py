r"""LangevinFlow: its ELBO, its inference rates, and ``fit_spikes`` to train it.

The network is :class:`dynax.models.LangevinFlow`; this module integrates its
latent with :func:`dynax.simulate` (models never integrate) and trains it with the
machinery of :func:`dynax.train.fit` (:func:`dynax.train._fit.run_training`).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import gammaln

from .._custom_types import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray
from .._ensemble import plan, run
from .._save import Save
from .._simulate import simulate
from .._validate import (
    as_array,
    check_counts,
    check_instance,
    check_int,
    check_key,
    describe,
    fail,
)
from ..models._langevin_flow import LangevinFlow
from ._data import Dataset, check_source
from ._fit import History, run_training
from ._spike_data import check_real, check_weights, ordered, prepare_spikes

_MODEL = "a dx.models.LangevinFlow"


class LangevinFlowELBO(eqx.Module):
    r"""The terms of :func:`langevin_flow_loss` (``terms=True``), means over trials.

    Attributes:
        loss: the loss, ``(nll + beta * (kl_initial + kl_path)) / entries``.
        nll: the Poisson negative log-likelihood of one trial (summed over bins
            and neurons; with coordinated dropout the estimate described there).
        kl_initial: the KL divergence of the initial state's posterior from
            $\mathcal N(0, I)$.
        kl_path: the path KL of the inferred inputs (Girsanov).
        ok: whether every trial's latent solve stayed finite.
    """

    loss: Float[Array, "*members"]
    nll: Float[Array, "*members"]
    kl_initial: Float[Array, "*members"]
    kl_path: Float[Array, "*members"]
    ok: Bool[Array, "*members"]


def langevin_flow_loss(
    model: LangevinFlow,
    spikes: Float[ArrayLike, "... trials time neurons"]
    | Int[ArrayLike, "... trials time neurons"],
    *,
    key: PRNGKeyArray | None = None,
    beta: float = 1.0,
    dropout: float = 0.0,
    heldin=None,
    heldout=None,
    terms: bool = False,
    ensemble: bool = False,
) -> Float[Array, "*members"] | LangevinFlowELBO:
    r"""Return the negative ELBO of LangevinFlow per entry (the training loss).

    For one trial with counts $s_{kn}$ ($T$ observed and $F$ forward bins, $N$
    neurons; the model sees the held-in counts of the observed bins):

    $$\mathcal L = \frac{1}{(T + F) N}\Big(\mathrm{NLL} + \beta\,
    \big[\mathrm{KL}_0 + \mathrm{KL}_\text{path}\big]\Big),\qquad
    \mathrm{NLL} = \sum_{k,n} w_{kn}\big(r_{kn} - s_{kn}\log r_{kn}
    + \log s_{kn}!\big),$$

    averaged over trials, with $\log r$ the decoder's clamped log-rates for a
    sample of the posterior ($y_0 \sim q(y_0)$ by reparameterisation and one
    Brownian path of the latent SDE). Bins where ``spikes`` is NaN have $w = 0$.

    **Coordinated dropout** (Keshtkaran & Pandarinath 2019; ``dropout`` $= p$):
    every held-in observed entry is dropped from the encoder's input with
    probability $p$ (kept ones are scaled by $1/(1-p)$), and those entries count in
    the NLL only where they were dropped, with weight $w = 1/p$ (an unbiased
    estimate of their full NLL); held-out neurons and forward bins always count
    ($w = 1$). The model cannot lower the loss by copying its input to its output.

    **KL, derived.** The generative model is $y_0 \sim \mathcal N(0, I)$ and the
    latent SDE with $u = 0$; the posterior is $q(y_0) = \mathcal N(\mu,
    \operatorname{diag} e^{\ell})$ and the same SDE driven by the inferred inputs,
    drift $f_q = f_p + (0, B u(t))$, with the **same** diffusion $(0, \sigma)$. By
    the chain rule of KL divergence,
    $\mathrm{KL}(q \Vert p) = \mathrm{KL}(q(y_0) \Vert p(y_0)) +
    \mathbb E_{q(y_0)} \mathrm{KL}(q(\text{path} \mid y_0) \Vert p(\text{path}
    \mid y_0))$.

    - $\mathrm{KL}_0 = \frac12 \sum_i \big(e^{\ell_i} + \mu_i^2 - 1 -
      \ell_i\big)$ (two diagonal Gaussians).
    - Girsanov's theorem for two diffusions with one diffusion coefficient: the
      log density ratio of the paths is $\int \sigma^{-1}\delta\cdot dW +
      \frac12 \int |\sigma^{-1} \delta|^2 dt$ under $q$, with $\delta = f_q - f_p$
      the drift difference. Only the velocities carry noise, and $\delta$ lives on
      them alone (the positions are the same functional of the velocity path under
      both), so the ratio is taken on $v$, where $\sigma$ is invertible. The
      stochastic integral has mean zero, so $\mathrm{KL}_\text{path} = \frac12
      \mathbb E_q \int_0^{(T+F)\Delta} |\sigma^{-1} B u(t)|^2 dt = \frac12 \sum_k
      \Delta\, |\sigma^{-1} B u_k|^2$ for inputs constant on each bin of duration
      $\Delta$ (zero in the forward bins). It does not depend on the path: $u$
      comes from the encoder, not from the latent. The same value is the exact KL
      of the Euler-Maruyama chains at any step, step by step
      ($\frac12 h |\sigma^{-1} B u|^2$ for Gaussian transitions of covariance
      $\sigma^2 h$), so it does not change with ``n_substeps``.

    The published code's per-step KL (``kl_gauss(v, 2 * gamma, var2=0.1)``)
    passes the **sampled velocity** as a mean and $2\gamma$ as a **log**-variance
    against $\mathcal N(0, 0.1)$; that is not the KL of its transitions. Its prior
    over $y_0$ (standard normal, diagonal) is what is used here.

    Args:
        model: a :class:`dynax.models.LangevinFlow` (or an ensemble of them with
            ``ensemble=True``).
        spikes: counts ``(trials, T + F, neurons)``: whole numbers >= 0 or NaN
            (missing). Without ``heldin``/``heldout`` the neurons are in the
            model's order (held-in first, then held-out).
        key: PRNG key for the posterior sample, the Brownian path and the dropout
            mask. ``None``: the posterior mean, no noise (the drift alone) and no
            dropout: a deterministic evaluation.
        beta: weight $\beta \ge 0$ of the KL.
        dropout: coordinated-dropout probability $p \in [0, 1)$ (needs ``key``).
        heldin: the held-in neurons: integer indices or a bool mask over the
            neurons of ``spikes`` (default: the neurons not in ``heldout``).
        heldout: the held-out neurons, likewise (default: those not in
            ``heldin``). Both ``None``: the model's order.
        terms: return a :class:`LangevinFlowELBO` with every term.
        ensemble: ``model`` is a stacked ensemble (``spikes`` shared, or per
            member with a leading member axis; ``key`` is split per member).

    Returns:
        The scalar loss (one per member), or the :class:`LangevinFlowELBO`.
    """
    check_instance("model", model, LangevinFlow, _MODEL)
    how, spikes = prepare_spikes(model, spikes, heldin, heldout, ensemble)
    beta, dropout = check_weights(beta, dropout)
    check_key("key", key, optional=True)
    if key is None and dropout > 0:
        fail("key", "a PRNG key when dropout > 0 (the dropout mask is random)", "None")
    if not isinstance(terms, bool):
        fail("terms", "a bool", describe(terms), error=TypeError)
    out = _loss(model, spikes, key, jnp.asarray(beta, model.dtype), dropout, how)
    return out if terms else out.loss


def langevin_flow_rates(
    model: LangevinFlow,
    heldin: Float[ArrayLike, "... trials time heldin"]
    | Int[ArrayLike, "... trials time heldin"],
    *,
    key: PRNGKeyArray | None = None,
    n_samples: int = 1,
    ensemble: bool = False,
) -> Float[Array, "*members trials bins neurons"]:
    """Return the inferred rates of every neuron in every bin, spikes per bin.

    The model reads the held-in counts of the observed bins and predicts the rates
    of all neurons (held-in first, then held-out) in those bins and the
    ``model.n_forward`` bins after them: ``rates[:, :T, n_heldin:]`` are the
    co-smoothing predictions (:func:`dynax.analysis.co_bps`) and
    ``rates[:, T:]`` the forward predictions (:func:`dynax.analysis.fp_bps`).

    Args:
        model: a trained :class:`dynax.models.LangevinFlow`.
        heldin: held-in counts ``(trials, T, n_heldin)`` (NaN reads as 0).
        key: ``None`` (default): the posterior mean of the initial state and the
            latent's drift without noise, a deterministic prediction. A key: the
            mean rate over ``n_samples`` posterior samples (initial state and
            Brownian path).
        n_samples: posterior samples per trial when ``key`` is given.
        ensemble: ``model`` is a stacked ensemble (``heldin`` shared or per
            member; results get a leading member axis).

    Returns:
        Rates ``(trials, T + n_forward, n_heldin + n_heldout)``.
    """
    check_instance("model", model, LangevinFlow, _MODEL)
    x = as_array("heldin", heldin)
    how = plan(model, ensemble, (("heldin", x, 3),))
    one = how.first(0, x)
    if one.ndim != 3 or one.shape[2] != model.n_heldin or one.shape[1] < 1:
        what = f"counts (trials, time, n_heldin) = (_, _, {model.n_heldin})"
        fail("heldin", what, f"shape {one.shape}")
    check_real("heldin", x)
    check_counts("heldin", x)
    check_key("key", key, optional=True)
    check_int("n_samples", n_samples, 1)
    return _rates(model, x.astype(model.dtype), key, n_samples, how)


def fit_spikes(
    model: LangevinFlow,
    spikes: Float[ArrayLike, "trials time neurons"]
    | Int[ArrayLike, "trials time neurons"],
    *,
    optimizer,
    n_steps: int,
    batch_size: int,
    key: PRNGKeyArray | Array,
    heldin=None,
    heldout=None,
    beta: float = 1.0,
    dropout: float = 0.3,
    filter_spec=None,
    ensemble: bool = False,
    hyperparams: dict | None = None,
    independent_batches: bool = False,
    chunk_size: int | None = None,
    log_every: int | None = None,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    max_to_keep: int = 2,
    progress: bool | None = None,
    callback: Callable[[int, History], None] | None = None,
) -> tuple[Any, History]:
    r"""Train a LangevinFlow (or an ensemble of them at once) on spike counts.

    The sibling of :func:`dynax.train.fit` for data that are spike arrays rather
    than a task: every step takes a minibatch of ``batch_size`` trials (a fresh
    random order each epoch) and one optimiser step on
    :func:`langevin_flow_loss` with a fresh posterior sample, Brownian path and
    dropout mask per trial. It runs on ``fit``'s own loop, so everything ``fit``
    documents holds here with the same arguments: an ensemble is one compiled
    program (members vmapped, no Python loop; ``key`` may be one key per member,
    and then member ``i`` trains exactly as it would alone with ``key[i]``); a
    member whose loss, gradients, parameters or latent solve turn non-finite is
    flagged in ``history.failed`` and frozen at its last good parameters while the
    others go on; ``hyperparams`` sets per-member optimiser settings; chunks,
    checkpoints (resumed from ``checkpoint_dir``), progress and callback are
    ``fit``'s.

    Args:
        model: a :class:`dynax.models.LangevinFlow`, or a stacked ensemble
            (``ensemble=True``).
        spikes: training counts ``(trials, T + F, neurons)``, the observed bins
            followed by the model's ``n_forward`` forward bins; whole numbers >= 0
            or NaN (missing, left out of the loss).
        optimizer: an optax transformation (or, with ``hyperparams``, a function
            such as ``optax.adam``), as in ``fit``.
        n_steps: optimiser steps.
        batch_size: trials per step.
        key: PRNG key (or one per member), as in ``fit``.
        heldin: held-in neurons (indices or a bool mask over ``spikes``'
            neurons); see :func:`langevin_flow_loss`.
        heldout: held-out neurons, likewise (e.g. ``LorenzSpikes.heldout``).
        beta: KL weight $\beta$.
        dropout: coordinated-dropout probability in ``[0, 1)``.
        filter_spec: which leaves to train (default: every float array).
        ensemble: ``model`` is a stacked ensemble.
        hyperparams: per-member optimiser hyper-parameters (``fit``).
        independent_batches: every member draws its own minibatches.
        chunk_size: train the members in groups of this size.
        log_every: steps per compiled chunk (``fit``).
        checkpoint_dir: folder for orbax checkpoints (``fit``).
        checkpoint_every: steps between checkpoints.
        max_to_keep: checkpoints kept.
        progress: progress reports on stderr (``fit``).
        callback: ``callback(step, history)`` after every chunk.

    Returns:
        ``(model, history)`` as :func:`dynax.train.fit`.

    Example:
        ```python
        data = dx.data.lorenz_spikes(jr.key(0), n_forward=10)
        train = np.asarray(data.train)
        model = dx.models.LangevinFlow(23, 7, n_forward=10, key=jr.key(1))
        model, hist = dx.train.fit_spikes(
            model, data.spikes[train], heldout=data.heldout,
            optimizer=optax.adam(3e-3), n_steps=1000, batch_size=32, key=jr.key(2))
        rates = dx.train.langevin_flow_rates(model, data.split("val").heldin)
        ```
    """
    check_instance("model", model, LangevinFlow, _MODEL)
    spikes = ordered(model, as_array("spikes", spikes), heldin, heldout)
    beta, dropout = check_weights(beta, dropout)
    n_time = spikes.shape[1]
    data = Dataset(
        np.arange(n_time, dtype=model.dtype) * model.bin_size,
        jnp.zeros((spikes.shape[0], n_time, 0), model.dtype),
        jnp.nan_to_num(spikes),
        (~jnp.isnan(spikes)).astype(model.dtype),
    )
    check_source(data, batch_size)
    return run_training(
        model,
        data,
        objective=_ELBOObjective(beta, dropout),
        check_model=lambda one: None,
        optimizer=optimizer,
        n_steps=n_steps,
        batch_size=batch_size,
        key=key,
        filter_spec=filter_spec,
        ensemble=ensemble,
        hyperparams=hyperparams,
        loss=None,
        regularizer=None,
        noise=True,
        options=None,
        independent_batches=independent_batches,
        chunk_size=chunk_size,
        log_every=log_every,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        max_to_keep=max_to_keep,
        progress=progress,
        callback=callback,
    )


# --- the computation (one network; ensembles through the ensemble helper) -----------


def _forward(model: LangevinFlow, x: Array, key):
    """Log-rates of one trial from its (dropped-out) held-in counts ``x``."""
    mean, log_var, features, inputs = model.encode(x)
    if key is None:
        y0, k_sde = mean, None
    else:
        k0, k_sde = jr.split(key)
        noise = jr.normal(k0, mean.shape, mean.dtype)
        y0 = mean + jnp.exp(0.5 * log_var) * noise
    ts = model.time_grid(x.shape[0])
    u = model.latent_inputs(inputs) if model.n_inputs else None
    save = Save(every=model.n_substeps)  # the bin edges
    traj = simulate(model.latent, y0, ts, inputs=u, key=k_sde, save=save)
    log_rates = model.decode(traj.ys[1:], features)
    return log_rates, mean, log_var, inputs, traj.ok


def _kl_initial(mean: Array, log_var: Array) -> Array:
    return 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var)


def _kl_path(model: LangevinFlow, inputs: Array) -> Array:
    """Girsanov: ``0.5 * bin_size * sum_k |B u_k / sigma|^2``."""
    if model.n_inputs == 0:
        return jnp.zeros((), model.dtype)
    drift = inputs @ model.latent.B.T
    return 0.5 * model.bin_size * jnp.sum((drift / model.latent.sigma[None]) ** 2)


def _trial_terms(model: LangevinFlow, s: Array, seen: Array, key, dropout: float):
    """``(nll, kl_initial, kl_path, ok)`` of one trial (``s``: NaN already 0)."""
    n_obs, n_in = s.shape[0] - model.n_forward, model.n_heldin
    x = s[:n_obs, :n_in]
    weight = seen.astype(s.dtype)
    k_drop, k_fwd = (None, None) if key is None else tuple(jr.split(key))
    if dropout > 0:
        keep = jr.bernoulli(k_drop, 1.0 - dropout, x.shape)  # pyright: ignore
        x = jnp.where(keep, x / (1.0 - dropout), 0.0)
        w_in = jnp.where(keep, 0.0, 1.0 / dropout).astype(s.dtype)
        weight = weight.at[:n_obs, :n_in].multiply(w_in)
    log_r, mean, log_var, inputs, ok = _forward(model, x, k_fwd)
    nll = jnp.sum(weight * (jnp.exp(log_r) - s * log_r + gammaln(s + 1.0)))
    return nll, _kl_initial(mean, log_var), _kl_path(model, inputs), ok


def _batch_terms(model, spikes, seen, key, beta, dropout: float) -> LangevinFlowELBO:
    keys = None if key is None else jr.split(key, spikes.shape[0])

    def one(s, m, k):
        return _trial_terms(model, s, m, k, dropout)

    nll, kl0, klp, ok = jax.vmap(one, in_axes=(0, 0, None if keys is None else 0))(
        spikes, seen, keys
    )
    entries = spikes.shape[1] * spikes.shape[2]
    loss = jnp.mean(nll + beta * (kl0 + klp)) / entries
    return LangevinFlowELBO(
        loss, jnp.mean(nll), jnp.mean(kl0), jnp.mean(klp), jnp.all(ok)
    )


@eqx.filter_jit
def _loss(model, spikes, key, beta, dropout, how):
    def one(m, s, k):
        seen = ~jnp.isnan(s)
        return _batch_terms(m, jnp.where(seen, s, 0.0), seen, k, beta, dropout)

    return run(one, model, (spikes,), how, key)


@eqx.filter_jit
def _rates(model, heldin, key, n_samples: int, how):
    def one(m, x, k):
        x = jnp.nan_to_num(x)
        if k is None:
            return jax.vmap(lambda xi: jnp.exp(_forward(m, xi, None)[0]))(x)
        keys = jr.split(k, (n_samples, x.shape[0]))

        def sample(ks):
            return jax.vmap(lambda xi, ki: jnp.exp(_forward(m, xi, ki)[0]))(x, ks)

        return jnp.mean(jax.vmap(sample)(keys), axis=0)

    return run(one, model, (heldin,), how, key)


class _ELBOObjective(eqx.Module):
    """The per-member objective of :func:`fit_spikes` (a ``StepSpec.objective``)."""

    beta: float = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __call__(self, params, frozen, batch, ts, key, spec, loss_key=None):
        del ts, spec, loss_key
        model = eqx.combine(params, frozen)
        spikes = batch.targets.astype(model.dtype)
        terms = _batch_terms(
            model, spikes, batch.mask > 0, key, self.beta, self.dropout
        )
        return terms.loss, terms.ok
