"""Branching factor: a plain loop reference and a branching process of known m."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typecheck import unchecked

from dynax.analysis import BranchingFactor, branching_factor


def loop_branching_factor(spikes, W, window, buffer):
    """NALSM's compute_branching_factor.py, written as plain loops."""
    n_t, n = spikes.shape
    times = [np.flatnonzero(spikes[:, i]) for i in range(n)]
    times = [t[(t >= buffer) & (t < n_t - buffer)] for t in times]
    pre = [np.flatnonzero(W[i, :] != 0) for i in range(n)]
    post = [np.flatnonzero(W[:, i] != 0) for i in range(n)]

    def count(neurons, lo, hi):
        return sum(int(np.sum((times[j] >= lo) & (times[j] < hi))) for j in neurons)

    per_neuron = []
    for i in range(n):
        ratios = []
        for t in times[i]:
            if not buffer + window <= t < n_t - buffer - window:
                continue
            ancestors = max(count(pre[i], t - window, t), 1)
            ratios.append(count(post[i], t + 1, t + 1 + window) / ancestors)
        per_neuron.append(np.mean(ratios) if ratios else np.nan)
    per_neuron = np.array(per_neuron)
    return np.nanmean(per_neuron), per_neuron


@pytest.mark.parametrize(
    ("window", "buffer", "p"), [(4, 25, 0.05), (1, 0, 0.1), (3, 5, 0.2)]
)
def test_matches_loop_reference(window, buffer, p):
    rng = np.random.default_rng(window + buffer)
    spikes = (rng.random((120, 40)) < p).astype(float)
    W = rng.normal(size=(40, 40)) * (rng.random((40, 40)) < 0.2)
    value, per_neuron = loop_branching_factor(spikes, W, window, buffer)
    result = branching_factor(spikes, W, window=window, buffer=buffer)
    assert isinstance(result, BranchingFactor)
    np.testing.assert_allclose(float(result.value), value, rtol=1e-12)
    np.testing.assert_allclose(result.per_neuron, per_neuron, rtol=1e-12)
    assert np.isfinite(value)


def branching_process(m, rng, *, n=2000, k=5, n_trials=100, n_steps=8, seeds=5):
    """Trials of a branching process: each spike makes each of its k targets
    spike at the next step with probability m / k (mean offspring m)."""
    scores = rng.random((n, n))
    np.fill_diagonal(scores, np.inf)  # no self-connections
    targets = np.argpartition(scores, k, axis=1)[:, :k]  # k distinct per neuron
    W = np.zeros((n, n))
    W[targets.ravel(), np.repeat(np.arange(n), k)] = 1.0  # W[post, pre]
    rasters = np.zeros((n_trials, n_steps, n))
    for trial in range(n_trials):
        active = rng.choice(n, seeds, replace=False)
        for t in range(n_steps):
            rasters[trial, t, active] = 1.0
            hit = targets[active][rng.random((active.size, k)) < m / k]
            active = np.unique(hit)
    return rasters, W


@pytest.mark.parametrize("m", [0.8, 1.0, 1.3])
def test_branching_process_gives_mean_offspring(m):
    rasters, W = branching_process(m, np.random.default_rng(int(10 * m)))
    res = jax.vmap(lambda s: branching_factor(s, W, window=1, buffer=0))(
        jnp.asarray(rasters)
    )
    # pooled over the trials' spikes (a plain mean over trials would weight the
    # small, early-extinct trials as much as the large ones)
    events = res.n_spikes
    pooled = float(jnp.nansum(res.per_neuron * events) / jnp.sum(events))
    assert abs(pooled - m) < 0.06, (m, pooled)
    assert float(jnp.sum(events)) > 1000


def test_vmap_no_retrace_and_errors():
    rng = np.random.default_rng(0)
    spikes = jnp.asarray((rng.random((5, 60, 20)) < 0.2).astype(float))
    W = jnp.asarray(rng.random((20, 20)) < 0.3)
    traced = eqx.debug.assert_max_traces(
        jax.vmap(lambda s: branching_factor(s, W, window=2, buffer=3)), max_traces=1
    )
    fn = eqx.filter_jit(traced)
    batched = fn(spikes)
    for i in range(5):
        one = branching_factor(spikes[i], W, window=2, buffer=3)
        np.testing.assert_allclose(batched.value[i], one.value, rtol=1e-12)
    fn(spikes + 0.0)  # same shapes: no second trace
    with unchecked(), pytest.raises(ValueError, match="spikes"):
        branching_factor(spikes, W)
    with unchecked(), pytest.raises(ValueError, match="W"):
        branching_factor(spikes[0], W[:5])
    with unchecked(), pytest.raises(ValueError, match="window"):
        branching_factor(spikes[0], W, window=0)
    with unchecked(), pytest.raises(ValueError, match="buffer"):
        branching_factor(spikes[0], W, buffer=-1)
    silent = branching_factor(jnp.zeros((60, 20)), W)
    assert np.isnan(float(silent.value)) and np.isnan(silent.per_neuron).all()
