r"""Neural Latents Benchmark metrics, as ``nlb_tools.evaluation`` defines them.

Pure JAX (no pandas, scikit-learn or nlb_tools needed): :func:`bits_per_spike`
(population, as nlb_tools, or per neuron), :func:`co_bps`, :func:`fp_bps`,
:func:`psth_r2` and :func:`velocity_r2` (ridge regression with nlb_tools' 5-fold
grid search over $\alpha$). Each equals nlb_tools 0.0.4 on the same arrays (to
rounding; ``tests/test_analysis_nlb.py``). Arrays are ``(trials, time, neurons)``
with rates and spike counts per bin (not per second).

Reference: F. Pei et al. (2021), "Neural Latents Benchmark '21", NeurIPS Datasets
and Benchmarks; code ``neurallatents/nlb_tools``, ``evaluation.py``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Float, Int
from .._validate import as_array, check_counts, fail, is_concrete

#: nlb_tools' grid of ridge penalties: ``np.logspace(-4, 0, 9)``.
NLB_ALPHAS = tuple(float(a) for a in np.logspace(-4, 0, 9))
_LN2 = float(np.log(2.0))


def _floats(name: str, value, dtype=None) -> Array:
    arr = as_array(name, value)
    if dtype is None:
        dtype = arr.dtype if jnp.issubdtype(arr.dtype, jnp.floating) else float
        dtype = jnp.result_type(dtype)
    return arr.astype(dtype)


def _check_rates(name: str, rates: Array, spikes: Array, zero_rate) -> None:
    """Rates: finite, >= 0, and > 0 unless ``zero_rate`` replaces zeros."""
    if not (is_concrete(rates) and is_concrete(spikes)):
        return
    r = np.asarray(rates, np.float64)[~np.isnan(np.asarray(spikes, np.float64))]
    floor = "> 0" if zero_rate is None else ">= 0"
    bad = ~np.isfinite(r) | (r < 0) | ((r == 0) & (zero_rate is None))
    if np.any(bad):
        hint = None
        if zero_rate is None and np.all(r[bad] == 0):
            hint = "nlb_tools replaces zero rates by 1e-9: pass zero_rate=1e-9."
        what = f"finite rates {floor} wherever spikes are not NaN"
        fail(name, what, f"the value {r[np.argmax(bad)]!r}", hint=hint)


def bits_per_spike(
    rates: Float[ArrayLike, "*batch neurons"],
    spikes: Float[ArrayLike, "*batch neurons"] | Int[ArrayLike, "*batch neurons"],
    *,
    per_neuron: bool = False,
    zero_rate: float | None = None,
) -> Float[Array, "*neurons"]:
    r"""Return the Poisson likelihood gain over the neuron-mean model in bits/spike.

    $$\text{bps} = \frac{\mathrm{NLL}(\bar s) - \mathrm{NLL}(r)}{\ln 2
    \sum s}, \qquad \mathrm{NLL}(r) = \sum \big(r - s \log r + \log s!\big),$$

    summed over every trial, bin and neuron (``per_neuron=False``, nlb_tools'
    population value), where the null model $\bar s$ predicts each neuron's mean
    count over all trials and bins of ``spikes`` (zero means become 1e-9, as in
    nlb_tools). Bins where ``spikes`` is NaN are left out of every sum (nlb_tools
    marks bins outside a trial so). ``per_neuron=True`` returns one value per
    neuron, each sum taken over that neuron's bins only (NaN for a neuron with no
    spikes). The neuron-mean prediction scores exactly 0; better predictions score
    above 0.

    Args:
        rates: predicted rates, spikes per bin, ``(..., neurons)``; > 0 wherever
            ``spikes`` is not NaN.
        spikes: spike counts of the same shape: whole numbers >= 0, or NaN.
        per_neuron: return one value per neuron instead of the population value.
        zero_rate: ``None`` (default): a zero rate is an error (its score depends
            on an arbitrary floor). A number (nlb_tools uses ``1e-9``) replaces
            zero rates by it, as nlb_tools does.

    Returns:
        A scalar, or shape ``(neurons,)`` with ``per_neuron=True``.
    """
    if not isinstance(per_neuron, bool):
        fail("per_neuron", "a bool", repr(per_neuron), error=TypeError)
    if zero_rate is not None and not (
        isinstance(zero_rate, float | int) and zero_rate > 0
    ):
        fail("zero_rate", "None or a number > 0", repr(zero_rate))
    rates = _floats("rates", rates)
    spikes = _floats("spikes", spikes, rates.dtype)
    if rates.ndim < 1 or rates.shape != spikes.shape:
        got = f"rates of shape {rates.shape} and spikes of shape {spikes.shape}"
        fail("rates", "rates and spikes of one shape (..., neurons)", got)
    check_counts("spikes", spikes)
    _check_rates("rates", rates, spikes, zero_rate)
    return _bits_per_spike(rates, spikes, per_neuron, zero_rate)


@eqx.filter_jit
def _bits_per_spike(rates, spikes, per_neuron, zero_rate):
    seen = ~jnp.isnan(spikes)
    s = jnp.where(seen, spikes, 0.0)
    r = jnp.where(seen, rates, 1.0)
    if zero_rate is not None:
        r = jnp.where(r == 0, jnp.asarray(zero_rate, r.dtype), r)
    axes = tuple(range(spikes.ndim - 1))
    count = jnp.sum(seen, axis=axes, keepdims=True).astype(s.dtype)
    null = jnp.sum(s, axis=axes, keepdims=True) / count
    null = jnp.where(null == 0, jnp.asarray(1e-9, s.dtype), null)
    # NLL(null) - NLL(r) term by term; the log s! terms cancel.
    gain = jnp.where(seen, (null - r) - s * (jnp.log(null) - jnp.log(r)), 0.0)
    if per_neuron:
        return jnp.sum(gain, axis=axes) / jnp.sum(s, axis=axes) / _LN2
    return jnp.sum(gain) / jnp.sum(s) / _LN2


def co_bps(
    rates_heldout: Float[ArrayLike, "trials time heldout"],
    spikes_heldout: Float[ArrayLike, "trials time heldout"]
    | Int[ArrayLike, "trials time heldout"],
    **kwargs,
) -> Float[Array, "*neurons"]:
    """Return co-smoothing bits/spike: :func:`bits_per_spike` on held-out neurons.

    NLB's main score: rates predicted for neurons the model never saw in the
    evaluation trials, scored against their spikes. ``kwargs`` go to
    :func:`bits_per_spike` (``per_neuron``, ``zero_rate``).
    """
    return bits_per_spike(rates_heldout, spikes_heldout, **kwargs)


def fp_bps(
    rates_forward: Float[ArrayLike, "trials forward neurons"],
    spikes_forward: Float[ArrayLike, "trials forward neurons"]
    | Int[ArrayLike, "trials forward neurons"],
    **kwargs,
) -> Float[Array, "*neurons"]:
    """Return forward-prediction bits/spike on the bins after the trial window.

    As nlb_tools: :func:`bits_per_spike` on the forward bins of every neuron,
    held-in and held-out together (concatenate them along the last axis, e.g.
    ``jnp.concatenate([heldin_forward, heldout_forward], axis=-1)``, nlb_tools'
    ``np.dstack``). ``kwargs`` go to :func:`bits_per_spike`.
    """
    return bits_per_spike(rates_forward, spikes_forward, **kwargs)


def _condition_ids(conditions, n_trials: int, n_cond: int) -> Array:
    """Per-trial condition ids (-1: none) from ids or nlb_tools' index lists."""
    if isinstance(conditions, list | tuple):
        ids = np.full(n_trials, -1)
        for c, idx in enumerate(conditions):
            idx = np.asarray(idx, int).reshape(-1)
            if np.any((idx < 0) | (idx >= n_trials)) or np.any(ids[idx] >= 0):
                what = f"index arrays of distinct trials in [0, {n_trials})"
                fail("conditions", what, f"condition {c} with indices {idx}")
            ids[idx] = c
        if len(conditions) != n_cond:
            what = f"one index array per PSTH condition ({n_cond})"
            fail("conditions", what, f"{len(conditions)} arrays")
        return jnp.asarray(ids)
    ids = as_array("conditions", conditions)
    if ids.shape != (n_trials,) or not jnp.issubdtype(ids.dtype, jnp.integer):
        what = f"integer condition ids of shape (trials,) = ({n_trials},)"
        fail("conditions", what, f"shape {ids.shape} and dtype {ids.dtype}")
    if is_concrete(ids) and np.any(
        (np.asarray(ids) < -1) | (np.asarray(ids) >= n_cond)
    ):
        fail("conditions", f"ids in [-1, {n_cond})", repr(np.asarray(ids)))
    return ids


def psth_r2(
    rates: Float[ArrayLike, "trials time neurons"],
    psths: Float[ArrayLike, "conditions time neurons"],
    conditions,
    *,
    jitter: Int[ArrayLike, " trials"] | None = None,
) -> Float[Array, ""]:
    r"""Return the $R^2$ of condition-averaged predicted rates against true PSTHs.

    As nlb_tools' ``eval_psth``: each trial's rates are shifted by its ``jitter``
    (bins, later for positive; NaN-filled), averaged over the trials of each
    condition, and compared with ``psths`` over every (condition, bin) whose
    ``psths[c, t, 0]`` is not NaN; conditions without trials are skipped. The
    score is scikit-learn's ``r2_score`` with one output per neuron, averaged over
    neurons (a neuron with a constant PSTH scores 1 if matched exactly, else 0).
    NaN predictions inside the compared bins give NaN.

    Args:
        rates: predicted rates ``(trials, time, neurons)``.
        psths: true PSTHs ``(conditions, time, neurons)``, NaN where undefined.
        conditions: the condition of each trial, integer ids of shape
            ``(trials,)`` (``-1``: in no condition); or nlb_tools'
            ``eval_cond_idx``, a list with one array of trial indices per
            condition.
        jitter: integer shift of each trial in bins (default none).

    Returns:
        The mean $R^2$ over neurons (a scalar).
    """
    rates = _floats("rates", rates)
    psths = _floats("psths", psths, rates.dtype)
    if rates.ndim != 3 or psths.ndim != 3 or psths.shape[1:] != rates.shape[1:]:
        what = "rates (trials, time, neurons) and psths (conditions, time, neurons)"
        fail("psths", what, f"shapes {rates.shape} and {psths.shape}")
    ids = _condition_ids(conditions, rates.shape[0], psths.shape[0])
    if jitter is None:
        jitter = jnp.zeros(rates.shape[0], int)
    jitter = as_array("jitter", jitter)
    if jitter.shape != (rates.shape[0],) or not jnp.issubdtype(
        jitter.dtype, jnp.integer
    ):
        what = f"integer shifts of shape (trials,) = ({rates.shape[0]},)"
        fail("jitter", what, f"shape {jitter.shape} and dtype {jitter.dtype}")
    return _psth_r2(rates, psths, ids, jitter)


@eqx.filter_jit
def _psth_r2(rates, psths, ids, jitter):
    n_cond, n_time = psths.shape[0], psths.shape[1]
    t = jnp.arange(n_time)
    src = t[None, :] - jitter[:, None]  # shifted[k, t] = rates[k, t - jitter_k]
    inside = (src >= 0) & (src < n_time)
    shifted = jnp.take_along_axis(rates, jnp.clip(src, 0, n_time - 1)[..., None], 1)
    shifted = jnp.where(inside[..., None], shifted, jnp.nan)
    bucket = jnp.where(ids < 0, n_cond, ids)
    total = jax.ops.segment_sum(shifted, bucket, num_segments=n_cond + 1)[:n_cond]
    count = jax.ops.segment_sum(jnp.ones_like(ids), bucket, n_cond + 1)[:n_cond]
    pred = total / jnp.maximum(count, 1).astype(rates.dtype)[:, None, None]
    rows = (~jnp.isnan(psths[:, :, 0]) & (count > 0)[:, None]).reshape(-1)
    y = psths.reshape(-1, psths.shape[2])
    return jnp.mean(_r2(y, pred.reshape(y.shape), rows))


def _r2(y: Array, pred: Array, rows: Array) -> Array:
    """scikit-learn's ``r2_score`` per output over the ``rows`` (force_finite)."""
    w = rows.astype(y.dtype)[:, None]
    y = jnp.where(rows[:, None], y, 0.0)
    pred = jnp.where(rows[:, None], pred, 0.0)
    mean = jnp.sum(w * y, axis=0, keepdims=True) / jnp.sum(w)
    ss_res = jnp.sum(w * (y - pred) ** 2, axis=0)
    ss_tot = jnp.sum(w * (y - mean) ** 2, axis=0)  # (outputs,)
    safe = jnp.where(ss_tot == 0, 1.0, ss_tot)
    return jnp.where(ss_tot == 0, jnp.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / safe)
