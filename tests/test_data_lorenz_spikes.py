"""lorenz_spikes: determinism, shapes, Poisson statistics, latents vs scipy."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from typecheck import unchecked

import dynax as dx

SIZES = dict(n_conditions=6, n_trials=10, n_neurons=12, n_bins=40, n_forward=8)


@pytest.fixture(scope="module")
def data():
    return dx.data.lorenz_spikes(jr.key(0), **SIZES)


def test_shapes_splits_and_determinism(data):
    n_trials, n_time = 60, 48
    assert data.spikes.shape == data.rates.shape == (n_trials, n_time, 12)
    assert data.latents.shape == (n_trials, n_time, 3)
    assert data.condition.shape == (n_trials,) and data.readout.shape == (12, 3)
    assert data.n_forward == 8 and data.bin_size == 0.02
    # 20% of each condition's 10 trials are validation; 12 / 4 = 3 held out
    for c in range(6):
        assert int(jnp.sum(~data.train[data.condition == c])) == 2
    assert int(jnp.sum(data.heldout)) == 3
    train, val = data.split("train"), data.split("val")
    assert train.heldin.shape == (48, 40, 9) and train.heldout.shape == (48, 40, 3)
    assert val.heldin_forward.shape == (12, 8, 9)
    assert val.heldout_forward.shape == (12, 8, 3)
    assert set(np.asarray(train.trial_ids)).isdisjoint(np.asarray(val.trial_ids))
    held = np.flatnonzero(np.asarray(data.heldout))
    k = int(val.trial_ids[0])
    np.testing.assert_array_equal(val.heldout[0], data.spikes[k, :40][:, held])
    np.testing.assert_array_equal(
        data.split("val", of="rates").heldout_forward[0], data.rates[k, 40:][:, held]
    )
    assert val.behavior is None
    with unchecked(), pytest.raises(ValueError, match="^which:"):
        data.split("test")
    with unchecked(), pytest.raises(ValueError, match="^of:"):
        data.split("val", of="latents")
    np.testing.assert_array_equal(val.condition, data.condition[val.trial_ids])
    # trials of one condition share latents and rates, not spikes
    same = np.flatnonzero(np.asarray(data.condition) == 2)
    np.testing.assert_array_equal(data.rates[same[0]], data.rates[same[1]])
    assert not np.array_equal(data.spikes[same[0]], data.spikes[same[1]])
    # whole, non-negative counts
    s = np.asarray(data.spikes)
    assert np.all(s == np.round(s)) and s.min() >= 0
    # the same key gives the same data; another key other data
    again = dx.data.lorenz_spikes(jr.key(0), **SIZES)
    np.testing.assert_array_equal(again.spikes, data.spikes)
    np.testing.assert_array_equal(again.train, data.train)
    other = dx.data.lorenz_spikes(jr.key(1), **SIZES)
    assert not np.array_equal(other.spikes, data.spikes)


def test_base_rate_and_standardised_latents(data):
    """The mean log-rate is log(base_rate * bin_size) exactly (standardised
    latents have zero mean over conditions and bins, each condition counted once)."""
    one_per_condition = np.asarray(data.rates)[:: SIZES["n_trials"]]
    np.testing.assert_allclose(np.mean(np.log(one_per_condition)), np.log(10 * 0.02),
                               rtol=1e-12)  # fmt: skip
    z = np.asarray(data.latents)[:: SIZES["n_trials"]]
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1.0, rtol=1e-12)


def test_spike_counts_match_rates(data):
    """Per neuron, the total count over all trials and bins is Poisson with mean
    sum(rates): z = (S - R) / sqrt(R) is ~N(0, 1); |z| < 4.5 for all 12 neurons
    fails by chance with probability ~1e-4. The dispersion sum (s - r)^2 / sum r
    has mean 1 (Poisson variance = mean) and, over 2,880 bins per neuron with
    rates ~0.2-0.5, a standard deviation below 0.05 per neuron; pooled over 12
    neurons below 0.015, so 0.1 is > 6 SE."""
    s, r = np.asarray(data.spikes), np.asarray(data.rates)
    total_s, total_r = s.sum(axis=(0, 1)), r.sum(axis=(0, 1))
    z = (total_s - total_r) / np.sqrt(total_r)
    assert np.all(np.abs(z) < 4.5), z
    dispersion = np.sum((s - r) ** 2) / np.sum(r)
    assert abs(dispersion - 1.0) < 0.1, dispersion
    assert float(dx.analysis.bits_per_spike(r, s)) > 0.1  # the truth beats the mean


def test_latents_match_scipy_solve_ivp(data):
    """The raw Lorenz state of each condition against scipy's DOP853 (rtol =
    atol = 1e-12) from the same first recorded state over the 48 bins (1.2 time
    units). Measured largest difference 1.7e-7 (fixed-step Tsit5, 5 steps per
    bin, error grown by the largest exponent ~0.9); states span ~10-40, and
    1e-5 is 60x the measured error."""
    x = np.asarray(data.latents) * np.asarray(data.latent_std)
    x = x + np.asarray(data.latent_mean)

    def lorenz(t, y):
        return [
            10 * (y[1] - y[0]),
            y[0] * (28 - y[2]) - y[1],
            y[0] * y[1] - 8 / 3 * y[2],
        ]

    ts = np.arange(48) * 0.025
    for k in range(0, 60, 10):
        ref = solve_ivp(lorenz, (0.0, ts[-1]), x[k, 0], method="DOP853", t_eval=ts,
                        rtol=1e-12, atol=1e-12).y.T  # fmt: skip
        assert np.ptp(ref, axis=0).min() > 5.0
        np.testing.assert_allclose(x[k], ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_heldout=12), "n_heldout"),
        (dict(n_heldout=-1), "n_heldout"),
        (dict(val_fraction=1.0), "val_fraction"),
        (dict(base_rate=0.0), "base_rate"),
        (dict(n_bins=0), "n_bins"),
        (dict(n_forward=-1), "n_forward"),
        (dict(gain=-1.0), "gain"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, name):
    args = dict(SIZES, **kwargs)
    with unchecked(), pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        dx.data.lorenz_spikes(jr.key(0), **args)
