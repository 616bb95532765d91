"""LangevinFlow (the VAE) and its ELBO, rates and fit_spikes, against references.

Sizes are tiny and every compiled program is built once per module (the fixtures
below); the whole file's fast tests compile about a dozen programs.
"""

import sys
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
import scipy.ndimage
import scipy.stats
from typecheck import unchecked

import dynax as dx
from dynax.models import LangevinFlow
from dynax.train import _langevin_flow as lf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the smoothing + GLM baseline is the experiment's (one copy)
from experiments.langevin_lorenz import poisson_glm  # noqa: E402

N_IN, N_OUT, T, F, TRIALS = 4, 2, 10, 3, 6
SIZES: dict[str, Any] = dict(n_forward=F, n_latents=2, n_inputs=2, hidden=8)


def make(key, **kw):
    return LangevinFlow(N_IN, N_OUT, **(SIZES | kw), key=key)


@pytest.fixture(scope="module")
def model():
    return make(jr.key(0))


@pytest.fixture(scope="module")
def spikes():
    rng = np.random.default_rng(1)
    rates = rng.uniform(0.2, 2.0, (TRIALS, T + F, N_IN + N_OUT))
    return rng.poisson(rates).astype(np.float64)


@pytest.fixture(scope="module")
def encoded(model, spikes):
    """``model.encode`` of every trial (one compiled program), as NumPy."""
    run = eqx.filter_jit(lambda m, x: jax.vmap(m.encode)(x))
    enc = run(model, jnp.asarray(spikes[:, :T, :N_IN]))
    return tuple(np.asarray(x) for x in enc)


@pytest.fixture(scope="module")
def terms(model, spikes):
    """Deterministic ELBO terms (posterior mean, no noise, no dropout)."""
    out = lf.langevin_flow_loss(model, spikes, beta=0.7, terms=True)
    assert isinstance(out, lf.LangevinFlowELBO)
    return out


@pytest.fixture(scope="module")
def rates(model, spikes):
    return np.asarray(dx.train.langevin_flow_rates(model, spikes[:, :T, :N_IN]))


# --- the ELBO against closed forms and scipy -----------------------------------------


def test_rates_are_positive_finite_with_every_neuron_and_bin(rates):
    assert rates.shape == (TRIALS, T + F, N_IN + N_OUT)
    assert np.all(np.isfinite(rates)) and np.all(rates > 0)
    bound = np.exp(8.0)  # the log-rate clamp
    assert np.all(rates <= bound * (1 + 1e-12)) and np.all(rates >= 1 / bound)


def test_poisson_nll_equals_scipy(terms, rates, spikes):
    """key=None: the loss's rates are langevin_flow_rates' (posterior mean)."""
    nll = -scipy.stats.poisson.logpmf(spikes, rates).sum() / TRIALS
    np.testing.assert_allclose(float(terms.nll), nll, rtol=1e-10)


def test_nan_bins_are_left_out_of_the_likelihood(model, terms, rates, spikes):
    """NaN counts of held-out neurons or forward bins (not encoder input) drop out."""
    holes = spikes.copy()
    holes[0, 2, N_IN] = holes[3, T + 1, 0] = holes[5, T:, -1] = np.nan
    with_nan = lf.langevin_flow_loss(model, holes, beta=0.7, terms=True)
    assert isinstance(with_nan, lf.LangevinFlowELBO)
    seen = ~np.isnan(holes)
    nll = -scipy.stats.poisson.logpmf(holes[seen], rates[seen]).sum() / TRIALS
    np.testing.assert_allclose(float(with_nan.nll), nll, rtol=1e-10)
    np.testing.assert_allclose(float(with_nan.kl_initial), float(terms.kl_initial))


def test_gradient_equals_central_differences(model, spikes):
    """The loss's derivative along a random direction in parameter space.

    Every parameter moves (encoder, latent gamma, sigma, potential, B, decoder):
    the derivative flows through the GRU scans, simulate's Euler steps, the
    attention layer and the path KL. Central differences in float64, h = 1e-5.
    """
    params, rest = eqx.partition(model, eqx.is_inexact_array)
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jr.split(jr.key(11), len(leaves))
    direction = jax.tree_util.tree_unflatten(
        tree,
        [jr.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)],
    )

    def loss(p) -> Any:
        return lf.langevin_flow_loss(eqx.combine(p, rest), spikes, beta=0.7)

    def shifted(h):
        return jax.tree_util.tree_map(lambda p, d: p + h * d, params, direction)

    grads = jax.grad(loss)(params)
    exact = sum(
        float(jnp.sum(g * d))
        for g, d in zip(
            jax.tree_util.tree_leaves(grads),
            jax.tree_util.tree_leaves(direction),
            strict=True,
        )
    )
    h = 1e-5
    numeric = (float(loss(shifted(h))) - float(loss(shifted(-h)))) / (2 * h)
    assert abs(exact) > 1e-3
    np.testing.assert_allclose(exact, numeric, rtol=1e-5)


def test_initial_kl_equals_gaussian_closed_form(terms, encoded):
    """KL(N(mu, S) || N(0, I)) with full matrices: tr S + mu'mu - k - log det S."""
    mean, log_var = encoded[0], encoded[1]
    kls = []
    for mu, lv in zip(mean, log_var, strict=True):
        cov = np.diag(np.exp(lv))
        _, logdet = np.linalg.slogdet(cov)
        kls.append(0.5 * (np.trace(cov) + mu @ mu - mu.size - logdet))
    np.testing.assert_allclose(float(terms.kl_initial), np.mean(kls), rtol=1e-10)
    assert float(terms.kl_initial) > 0


def test_loss_combines_terms_per_entry(terms):
    entries = (T + F) * (N_IN + N_OUT)
    total = float(terms.nll) + 0.7 * (float(terms.kl_initial) + float(terms.kl_path))
    np.testing.assert_allclose(float(terms.loss), total / entries, rtol=1e-12)
    assert bool(terms.ok)


def test_path_kl_is_the_girsanov_term_of_the_euler_maruyama_chains(
    model, terms, encoded
):
    """Monte Carlo: E_q log(q/p) over paths of the posterior chain.

    NumPy simulates the posterior Euler-Maruyama chain (drift with B u, the
    model's n_substeps per bin) and sums, per path, the log ratio of its Gaussian
    velocity transitions under the posterior and the prior drift (u = 0); the
    positions move identically under both. The mean over paths estimates
    KL(q || p); the per-path standard deviation is sqrt(2 KL) (the Girsanov
    martingale), so 5 standard errors bound the check.
    """
    latent = model.latent
    gamma, sigma = np.asarray(latent.gamma), np.asarray(latent.sigma)
    kappa, B = np.asarray(latent.potential.stiffness), np.asarray(latent.B)
    u = encoded[3]  # (trials, T, n_inputs)
    n_sub, h = model.n_substeps, model.bin_size / model.n_substeps
    rng = np.random.default_rng(2)
    n_paths, kls, mcs, ses = 4000, [], [], []
    for trial in range(2):
        y0 = encoded[0][trial]
        z = np.tile(y0[:2], (n_paths, 1))
        v = np.tile(y0[2:], (n_paths, 1))
        log_ratio = np.zeros(n_paths)
        for k in range((T + F) * n_sub):
            bin_ = k // n_sub
            delta = B @ u[trial, bin_] if bin_ < T else np.zeros(2)
            prior = -gamma * v - kappa * z
            v_new = (
                v + h * (prior + delta) + sigma * np.sqrt(h) * rng.normal(size=v.shape)
            )
            res_q = v_new - v - h * (prior + delta)
            res_p = v_new - v - h * prior
            log_ratio += np.sum((res_p**2 - res_q**2) / (2 * sigma**2 * h), axis=1)
            z, v = z + h * v, v_new
        kl = 0.5 * model.bin_size * np.sum((u[trial] @ B.T / sigma) ** 2)
        kls.append(kl)
        mcs.append(log_ratio.mean())
        ses.append(np.sqrt(2 * kl / n_paths))
    for kl, mc, se in zip(kls, mcs, ses, strict=True):
        assert kl > 0.01
        assert abs(mc - kl) < 5 * se, (mc, kl, se)
    # the loss's kl_path is the mean over trials of the same closed form
    every = 0.5 * model.bin_size * np.sum((u @ B.T / sigma) ** 2, axis=(1, 2))
    np.testing.assert_allclose(float(terms.kl_path), every.mean(), rtol=1e-10)
    np.testing.assert_allclose(every[:2], kls, rtol=1e-12)


# --- decoder, time discretisation ----------------------------------------------------


def test_causal_decoder_sees_only_the_past():
    """Changing bin k's latent state changes bins >= k only (causal=True)."""
    key = jr.key(3)
    states = jr.normal(jr.key(4), (T + F, 4))
    features = jr.normal(jr.key(5), (T, 16))
    k = 6
    bumped = states.at[k].add(1.0)
    for causal in (True, False):
        m = make(key, causal=causal)
        a, b = m.decode(states, features), m.decode(bumped, features)
        changed = np.asarray(jnp.max(jnp.abs(a - b), axis=1) > 1e-9)
        if causal:
            assert not changed[:k].any() and changed[k:].all()
        else:
            assert changed.all()


def test_rates_converge_as_the_step_is_halved(spikes):
    """Deterministic rates with 2, 4, 8, 16 Euler steps per bin: errors halve.

    Euler has global order 1, so d(h) = max |r_h - r_{h/2}| halves with h (ratio
    ~2); a model whose answer depended on the step would not converge. The noisy
    latent's strong order (1, same Brownian path) is tested in
    test_models_langevin.py. ``time_grid`` keeps the bin edges at every step.
    """
    x = spikes[:, :T, :N_IN]
    out = [
        np.asarray(dx.train.langevin_flow_rates(make(jr.key(0), n_substeps=s), x))
        for s in (2, 4, 8, 16)
    ]
    d = [np.max(np.abs(a - b)) for a, b in zip(out[:-1], out[1:], strict=True)]
    assert 1.6 < d[0] / d[1] < 2.5 and 1.6 < d[1] / d[2] < 2.5, d
    assert d[2] < 0.05 * np.max(np.abs(out[-1] - out[-1].mean()))


# --- ensembles, compile counts --------------------------------------------------------


def test_rates_of_an_ensemble_equal_each_member(spikes):
    ens = dx.make_ensemble(make, jr.split(jr.key(6), 2))
    x = spikes[:, :T, :N_IN]
    both = dx.train.langevin_flow_rates(ens, x, ensemble=True)
    for i in range(2):
        one = dx.train.langevin_flow_rates(dx.member(ens, i), x)
        np.testing.assert_allclose(both[i], one, rtol=1e-12)


def test_float32_model_gives_float32_rates(spikes):
    m = make(jr.key(0), dtype=jnp.float32)
    out = dx.train.langevin_flow_rates(m, spikes[:, :T, :N_IN].astype(np.float32))
    assert out.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(out)))


def test_sampled_rates_shrink_to_the_mean_without_spread(model, spikes, rates):
    """With a key: y0 from the posterior and one Brownian path per sample.

    With the posterior variance and the noise made negligible (log-variance and
    log sigma at -40), the samples are the deterministic prediction; with the
    model's own spread they differ from it. One program serves both models.
    """
    x = spikes[:, :T, :N_IN]
    sampled = np.asarray(
        dx.train.langevin_flow_rates(model, x, key=jr.key(12), n_samples=2)
    )
    assert np.all(sampled > 0) and np.max(np.abs(np.log(sampled / rates))) > 1e-2
    n2 = 2 * model.n_latents
    tight = eqx.tree_at(
        lambda m: (m.initial_head.weight, m.initial_head.bias, m.latent.log_sigma),
        model,
        (
            model.initial_head.weight.at[n2:].set(0.0),
            model.initial_head.bias.at[n2:].set(-40.0),
            jnp.full_like(model.latent.log_sigma, -40.0),
        ),
    )
    exact = np.asarray(dx.train.langevin_flow_rates(tight, x))
    near = np.asarray(
        dx.train.langevin_flow_rates(tight, x, key=jr.key(12), n_samples=2)
    )
    np.testing.assert_allclose(near, exact, rtol=1e-6)


def test_entry_points_compile_once_per_shape(model, spikes, terms, rates):
    x = spikes[:, :T, :N_IN]
    cores: list[Any] = [lf._loss, lf._rates]  # eqx.filter_jit wrappers
    # warm up here: the suite may have cleared JAX's caches since the fixtures ran
    # (tests/conftest.py frees compiled programs past a memory-mapping budget)
    lf.langevin_flow_loss(model, spikes, beta=0.5)
    dx.train.langevin_flow_rates(model, x)
    before = [core._cached._cache_size() for core in cores]
    assert all(size >= 1 for size in before)
    for shift in (1.0, 2.0):  # new values and beta, same shapes: no new program
        lf.langevin_flow_loss(model, spikes + shift, beta=0.7 * shift)
        dx.train.langevin_flow_rates(model, x + shift)
    assert [core._cached._cache_size() for core in cores] == before


def test_fit_spikes_ensemble_equals_members_and_freezes_a_divergent_one(spikes):
    """Two members vmapped; member 1's learning rate makes it diverge.

    Member 0 trains exactly as alone with its own key; member 1 is flagged at the
    step its loss turns non-finite and keeps its last finite parameters.
    """
    ens = dx.make_ensemble(make, jr.split(jr.key(7), 2))
    keys = jr.split(jr.key(8), 2)
    kw: dict[str, Any] = dict(
        optimizer=optax.adam, n_steps=6, batch_size=4, progress=False
    )
    lrs = jnp.array([1e-2, 1e6])
    trained, hist = dx.train.fit_spikes(
        ens, spikes, ensemble=True, key=keys, hyperparams={"learning_rate": lrs}, **kw
    )
    assert hist.loss.shape == (6, 2)
    assert np.asarray(hist.failed).tolist() == [False, True]
    assert int(hist.failed_step[0]) == -1 and int(hist.failed_step[1]) >= 1
    leaves = jax.tree_util.tree_leaves(eqx.filter(trained, eqx.is_inexact_array))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
    one, one_hist = dx.train.fit_spikes(
        dx.member(ens, 0), spikes, key=keys[0],
        hyperparams={"learning_rate": 1e-2}, **kw,
    )  # fmt: skip
    np.testing.assert_allclose(hist.loss[:, 0], one_hist.loss, rtol=1e-9)
    assert float(one_hist.loss[-1]) < float(one_hist.loss[0])
    for a, b in zip(
        jax.tree_util.tree_leaves(eqx.filter(dx.member(trained, 0), eqx.is_array)),
        jax.tree_util.tree_leaves(eqx.filter(one, eqx.is_array)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


# --- bad input ------------------------------------------------------------------------


def test_heldout_overlapping_heldin_is_named(model, spikes):
    with unchecked(), pytest.raises(ValueError, match="heldout: expected neurons"):
        dx.train.langevin_flow_loss(model, spikes, heldin=[0, 1, 2, 3], heldout=[3, 4])


# --- training on Lorenz spikes: above the smoothing + Poisson GLM baseline ---------

# A small Lorenz population (tests/README.md: these settings pass for seeds 0-4 with
# margin; tests/margins.py prints the margins). DATA goes to dx.data.lorenz_spikes.
# Measured margins (co-bps minus the baseline's), seeds 0-4: 0.038, 0.236, 0.061,
# 0.197, 0.314 (the true rates score 0.049, 0.292, 0.091, 0.244, 0.402 above the
# baseline); the same on one CPU thread and without fast math, and seed 3 gives 0.200
# when compiled at LLVM level 0. A learning rate of 1e-2, or 1000 steps, overfits
# seed 0 (margin 0.02, -0.02): keep these settings.
DATA: dict[str, Any] = dict(n_conditions=16, n_trials=10, n_neurons=20, n_bins=25,
                            n_forward=5, n_heldout=5, base_rate=10.0)  # fmt: skip
FLOW: dict[str, Any] = dict(n_latents=4, hidden=16, n_substeps=2)
FIT: dict[str, Any] = dict(n_steps=500, batch_size=32, beta=1.0, dropout=0.3)
LEARNING_RATE = 5e-3


def test_poisson_glm_baseline_equals_scikit_learn():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(9)
    x = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(0.3 + x @ np.array([0.5, -0.4, 0.2]))).astype(float)
    ours = poisson_glm(x, y, 1e-2)(x[:20])
    xs = (x - x.mean(0)) / x.std(0)
    ref = PoissonRegressor(alpha=1e-2, tol=1e-12, max_iter=1000).fit(xs, y)
    np.testing.assert_allclose(ours, ref.predict(xs[:20]), rtol=1e-6)


def smoothing_glm_co_bps(train, val) -> float:
    """NLB's spike-smoothing baseline: Gaussian-smoothed held-in counts, then one
    Poisson GLM per held-out neuron fitted on the training trials. The kernel
    width (1, 2, 3 bins) and penalty (1e-3, 1e-2, 1e-1) are the best on the
    validation trials themselves, an optimistic (stronger) baseline.
    """
    y = np.asarray(train.heldout).reshape(-1, train.heldout.shape[-1])
    best = -np.inf
    for width in (1.0, 2.0, 3.0):
        x_tr, x_va = (
            scipy.ndimage.gaussian_filter1d(np.asarray(a.heldin), width, axis=1)
            for a in (train, val)
        )
        x_tr, x_va = (a.reshape(-1, a.shape[-1]) for a in (x_tr, x_va))
        for alpha in (1e-3, 1e-2, 1e-1):
            fits = [poisson_glm(x_tr, y[:, j], alpha) for j in range(y.shape[1])]
            pred = np.stack([f(x_va) for f in fits], -1).reshape(val.heldout.shape)
            best = max(best, float(dx.analysis.co_bps(pred, val.heldout)))
    return best


def measure_langevin_flow(seed: int) -> dict:
    """co-bps on validation trials of a trained LangevinFlow minus the baseline's.

    The bound: above the smoothing + GLM baseline (tests/margins.py).
    """
    k_data, k_model, k_fit = jr.split(jr.key(seed), 3)
    data = dx.data.lorenz_spikes(k_data, **DATA)
    train, val = data.split("train"), data.split("val")
    n_in, n_out, n_bins = train.heldin.shape[2], train.heldout.shape[2], DATA["n_bins"]
    model = LangevinFlow(n_in, n_out, n_forward=DATA["n_forward"], **FLOW, key=k_model)
    trained, hist = dx.train.fit_spikes(
        model, data.spikes[np.asarray(data.train)], heldout=data.heldout,
        optimizer=optax.adam(LEARNING_RATE), key=k_fit, progress=False, **FIT,
    )  # fmt: skip
    rates = dx.train.langevin_flow_rates(trained, val.heldin)
    value = float(dx.analysis.co_bps(rates[:, :n_bins, n_in:], val.heldout))
    base = smoothing_glm_co_bps(train, val)
    return dict(value=value, baseline=base, margin=value - base, hist=hist,
                rates=rates, n_in=n_in)  # fmt: skip


@pytest.mark.training
def test_training_beats_the_smoothing_glm_baseline(optimized):
    """co-bps of the trained model exceeds NLB's smoothing baseline (seed 0)."""
    out = measure_langevin_flow(0)
    hist = out["hist"]
    assert not bool(hist.failed) and hist.steps_done == FIT["n_steps"]
    assert float(np.mean(hist.loss[-50:])) < float(np.mean(hist.loss[:50]))
    assert np.all(np.isfinite(out["rates"])) and np.all(out["rates"] > 0)
    assert out["value"] > out["baseline"], out
