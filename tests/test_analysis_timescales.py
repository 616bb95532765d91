"""Autocorrelation, its timescale fits and their bias correction; network timescales.

References: a direct O(T^2) NumPy sum; the exact expectation of the mean-subtracted
estimator from the covariance matrix (C G C with C = I - 11^T/T); AR(1) data with
known tau (exact OU sampling); numpy.linalg.eig.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import Linear
from typecheck import unchecked

import dynax as dx
from dynax.analysis import (
    autocorrelation,
    autocorrelation_timescale,
    expected_autocorrelation,
    network_timescales,
)


def ar1(rng, n_trials, n_time, tau, weight=1.0):
    """OU sampled every step (x_{t+1} = rho x_t + sqrt(1 - rho^2) e, stationary
    start), plus white noise of variance 1 - weight; shape (trials, time)."""
    rho = np.exp(-1.0 / tau)
    e = rng.normal(size=(n_trials, n_time)) * np.sqrt(1 - rho**2)
    x = np.empty((n_trials, n_time))
    x[:, 0] = rng.normal(size=n_trials)
    for t in range(1, n_time):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    white = rng.normal(size=x.shape)
    return np.sqrt(weight) * x + np.sqrt(1 - weight) * white


def direct_autocov(x, max_lag, unbiased):
    """(lags, n): the per-trial-mean-subtracted products, summed directly."""
    T = x.shape[-2]
    out = np.zeros((max_lag + 1, x.shape[-1]))
    trials = x.reshape(-1, T, x.shape[-1])
    for tr in trials:
        xc = tr - tr.mean(0)
        for k in range(max_lag + 1):
            out[k] += np.sum(xc[: T - k] * xc[k:], axis=0) / (T - k if unbiased else T)
    return out / len(trials)


@pytest.mark.parametrize("unbiased", [True, False])
def test_autocorrelation_equals_a_direct_sum(unbiased):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 37, 4)).cumsum(axis=2) + rng.normal(size=4)
    want = direct_autocov(x, 20, unbiased)
    got = autocorrelation(x, max_lag=20, unbiased=unbiased, normalize=False)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        autocorrelation(x, max_lag=20, unbiased=unbiased), want / want[0], rtol=1e-12
    )
    pop = autocorrelation(x, max_lag=20, unbiased=unbiased, reduce="population")
    np.testing.assert_allclose(pop, want.sum(1) / want[0].sum(), rtol=1e-12)
    one = autocorrelation(x[0, 0, :, 1])
    w = direct_autocov(x[0, 0, :, 1:], 36, True)[:, 0]
    np.testing.assert_allclose(one, w / w[0], rtol=1e-11)


def test_expected_autocorrelation_equals_the_covariance_matrix_expectation():
    """E[C(k)] from C G C (C = I - 11^T/T, G_ts = w rho^|t-s| + (1 - w) delta)."""
    for T, tau, w, unbiased in [(50, 10.0, 1.0, True), (23, 3.5, 0.6, False)]:
        lag = np.subtract.outer(np.arange(T), np.arange(T))
        G = w * np.exp(-np.abs(lag) / tau) + (1 - w) * np.eye(T)
        C = np.eye(T) - 1.0 / T
        S = C @ G @ C
        E = np.array([np.trace(S, offset=k) for k in range(T - 1)])
        E = E / (T - np.arange(T - 1) if unbiased else T)
        got = expected_autocorrelation(
            tau, n_time=T, max_lag=T - 2, weight=w, unbiased=unbiased
        )
        np.testing.assert_allclose(got, E / E[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("tau", [2.0, 5.0, 10.0])
def test_long_ar1_series_recover_tau_within_5_percent(tau):
    """40 trials x 10,000 steps. Over 12 seeds of 10 trials x 10,000 steps the
    fitted tau had a spread of 2.9 % (tau = 10) and 2.4 % (tau = 5) and no bias
    (means 10.001, 4.999), so with 4x the data the spread is ~1.5 % and 5 % is
    more than three of it. The single exponential is chosen (for tau = 2 the
    double wins AIC narrowly with a 0.3 % component, below min_weight)."""
    x = ar1(np.random.default_rng(int(tau)), 40, 10_000, tau)[..., None]
    for corrected in (False, True):
        res = autocorrelation_timescale(x, dt=1.0, bias_correction=corrected)
        assert abs(float(res.tau) / tau - 1) < 0.05
        assert int(res.model) == 1
    res = autocorrelation_timescale(x, dt=0.5)  # timescales in units of dt
    assert abs(float(res.tau) / (0.5 * tau) - 1) < 0.05


def test_bias_correction_on_noise_free_expectations():
    """Fitting the exact expected autocorrelation of short trials (T = 50, tau = 10
    steps): the corrected fit recovers tau to 1e-6; the plain exponential fit finds
    the estimator's deterministic bias, 3.43 instead of 10."""
    ac = expected_autocorrelation(10.0, n_time=50, max_lag=30)
    fit = dx.analysis._timescales._fit_all
    kw = dict(T=50, unbiased=True)
    good = fit(ac, jnp.asarray(1.0), jnp.asarray(0.05), 256, corrected=True, **kw)
    plain = fit(ac, jnp.asarray(1.0), jnp.asarray(0.05), 256, corrected=False, **kw)
    np.testing.assert_allclose(good.tau_single, 10.0, rtol=1e-6)
    np.testing.assert_allclose(good.weight_single, 1.0, rtol=1e-6)
    assert int(good.model) == 1
    assert float(plain.tau_single) < 0.4 * 10.0  # 3.43: -66 %


def test_bias_correction_removes_most_of_the_bias_on_short_trials():
    """20 repetitions of 500 OU trials of 50 steps, tau = 10 steps (the trial is 5
    tau long). The plain fit is biased by about -60 % (the noise-free value, 3.43, of
    the test above); the corrected one is unbiased within its standard error
    (measured spread ~0.9 per repetition, so the mean of 20 has SE ~0.2 = 2 %).
    Asserted: plain bias below -40 %; corrected bias within 3 standard errors and
    below 5 %; and the corrected bias at most a tenth of the plain one."""
    rng = np.random.default_rng(42)
    plain, corrected = [], []
    for _ in range(20):
        x = ar1(rng, 500, 50, 10.0)[..., None]
        plain.append(
            float(
                autocorrelation_timescale(x, dt=1.0, bias_correction=False).tau_single
            )
        )
        corrected.append(float(autocorrelation_timescale(x, dt=1.0).tau_single))
    plain, corrected = np.array(plain), np.array(corrected)
    bias_plain = plain.mean() / 10 - 1
    bias_corr = corrected.mean() / 10 - 1
    se = corrected.std(ddof=1) / np.sqrt(20)
    assert bias_plain < -0.40
    assert abs(corrected.mean() - 10) < 3 * se and abs(bias_corr) < 0.05
    assert abs(bias_corr) < abs(bias_plain) / 10


def test_two_timescales_are_chosen_by_aic():
    """Half the variance at tau = 2, half at tau = 40 steps (long trials): the
    double exponential wins by AIC and recovers both within 10 % (the slow one's
    relative standard error over 2e5 samples is about sqrt(2*40/2e5) = 2 %)."""
    rng = np.random.default_rng(5)
    x = (ar1(rng, 20, 10_000, 2.0) + ar1(rng, 20, 10_000, 40.0)) / np.sqrt(2)
    res = autocorrelation_timescale(x[..., None], dt=1.0, max_lag=120)
    assert int(res.model) == 2
    np.testing.assert_allclose(res.tau_double, [2.0, 40.0], rtol=0.1)
    np.testing.assert_allclose(res.weights_double, [0.5, 0.5], atol=0.05)
    np.testing.assert_allclose(res.tau, res.tau_double[1])
    assert float(res.aic[1]) < float(res.aic[0]) - 10


def test_per_unit_fits_and_no_retracing(monkeypatch):
    rng = np.random.default_rng(3)
    x = np.stack([ar1(rng, 50, 200, t) for t in (2.0, 8.0)], axis=-1)
    res = autocorrelation_timescale(x, dt=1.0, reduce="unit")
    assert res.tau.shape == (2,) and res.ac.shape == (31, 2)
    # One fit per unit equals the population fit of that unit alone, up to the
    # rounding of two compiled programs that Levenberg-Marquardt (stopping at a
    # relative change of 1e-10) carries to ~1e-8.
    for i in range(2):
        alone = autocorrelation_timescale(x[..., i : i + 1], dt=1.0)
        for field in ("tau", "tau_single", "tau_double", "aic", "model"):
            np.testing.assert_allclose(
                getattr(res, field)[i], getattr(alone, field), rtol=1e-6
            )
        np.testing.assert_allclose(res.fitted[:, i], alone.fitted, rtol=1e-6)
    traces = []
    inner = dx.analysis._timescales._curves

    def counting(*a, **k):
        traces.append(1)  # runs at trace time only
        return inner(*a, **k)

    monkeypatch.setattr(dx.analysis._timescales, "_curves", counting)
    # New data of the shapes fitted above reuse that program: no trace at all.
    for seed in range(2):
        y = np.random.default_rng(seed).normal(size=x.shape)
        autocorrelation_timescale(y, dt=1.0, reduce="unit")
    assert len(traces) == 0
    new_shape = jax.ShapeDtypeStruct((4, 60, 2), x.dtype)  # traced, not compiled
    jax.eval_shape(lambda y: autocorrelation_timescale(y, dt=1.0), new_shape)
    assert len(traces) == 1  # the counter sees a trace when there is one


def test_autocorrelation_vmaps_over_members():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 5, 40, 2)))
    batched = jax.vmap(lambda v: autocorrelation(v, max_lag=10))(x)
    for i in range(3):
        np.testing.assert_allclose(
            batched[i], autocorrelation(x[i], max_lag=10), rtol=1e-13
        )


def test_network_timescales_of_a_linear_system_and_a_ctrnn():
    A = np.array([[-1.0, 0.5, 0.0], [-0.3, -0.2, 0.1], [0.0, 0.2, -2.0]])
    res = network_timescales(Linear(jnp.asarray(A), jnp.zeros((3, 1))), jnp.zeros(3))
    lam = np.linalg.eigvals(A)
    want = -1 / np.sort(lam.real)[::-1]  # by growth rate: slowest decay first
    np.testing.assert_allclose(res.tau, want, rtol=1e-12)
    np.testing.assert_allclose(res.tau_max, want[0], rtol=1e-12)
    assert np.all(want > 0)
    assert res.tau_neurons is None and bool(res.stable)
    # a tanh CTRNN at its fixed point 0: J = (W - I) / tau_i (tanh'(0) = 1)
    net = dx.models.CTRNN(0, 5, 1, g=0.9, tau=jnp.linspace(1.0, 3.0, 5), key=jr.key(0))
    res = network_timescales(net, jnp.zeros(5))
    J = (np.asarray(net.W) - np.eye(5)) / np.asarray(net.tau)[:, None]
    want = -1 / np.sort(np.linalg.eigvals(J).real)[::-1]  # unstable modes first
    np.testing.assert_allclose(res.tau, want, rtol=1e-10)
    np.testing.assert_allclose(res.tau_max, want[want > 0].max(), rtol=1e-10)
    np.testing.assert_allclose(res.tau_neurons, np.linspace(1.0, 3.0, 5))
    # recurrence slows a unit: tau dx/dt = -x + g x has tau / (1 - g)
    slow = Linear(jnp.array([[-(1 - 0.9) / 2.0]]), jnp.zeros((1, 1)))
    np.testing.assert_allclose(network_timescales(slow, jnp.zeros(1)).tau_max, 20.0)


def test_bad_input_raises_naming_the_argument():
    with unchecked():
        with pytest.raises(ValueError, match="max_lag"):
            autocorrelation(np.ones((10, 2)), max_lag=10)
        with pytest.raises(ValueError, match="reduce"):
            autocorrelation(np.ones((10, 2)), reduce="mean")
        with pytest.raises(ValueError, match="dt: expected a number > 0"):
            autocorrelation_timescale(np.ones((40, 2)), dt=0.0)
        with pytest.raises(ValueError, match="x: expected at least 3 time samples"):
            autocorrelation_timescale(np.ones((2, 2)), dt=1.0)
        with pytest.raises(ValueError, match="max_lag"):
            autocorrelation_timescale(np.ones((20, 2)), dt=1.0, max_lag=20)
